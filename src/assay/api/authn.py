"""Who signed a request: SigV4 verified against the keys in the database (cached, behind a
change counter read on every request, so a revoked key stops at once on every server; see
service/access_cache.py). Used by the API and Assay's internal endpoints."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from ..service import Services
from ..service.auth import Caller
from . import sigv4


def authenticate(services: Services, request: Request, raw_path: str, body: bytes) -> Caller:
    found: dict[str, Any] = {}

    def lookup(key_id: str) -> str | None:
        match = services.keys.authenticate(key_id)
        if match is None:
            return None
        found["key"] = match[1]
        return match[0]

    host = request.headers.get("host", "")
    signed = sigv4.verify(request.method, f"http://{host}{raw_path.split('?', 1)[0]}",
                          request.scope.get("query_string", b"").decode("latin-1"),
                          request.headers.items(), body, lookup)
    return services.keys.caller(found["key"], signed.region)
