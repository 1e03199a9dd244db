"""Who signed a request: SigV4 verified against the keys in the database (cached, behind a
change counter read on every request, so a revoked key stops at once on every server; see
service/access_cache.py). Used by the API and Assay's internal endpoints.

Two steps, so that a body is only read for a plausible caller: ``credential`` checks the
Authorization header (scope, clock, an active key) before anything of the body is read, and
``authenticate`` checks the signature over the body once it has been read against its cap."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from ..service import Services
from ..service.auth import Caller
from . import sigv4


def _lookup(services: Services, found: dict[str, Any]):
    def lookup(key_id: str) -> str | None:
        match = services.keys.authenticate(key_id)
        if match is None:
            return None
        found["key"] = match[1]
        return match[0]
    return lookup


def credential(services: Services, request: Request,
               service_name: str = sigv4.SERVICE) -> tuple[sigv4.Credential, Any]:
    """The request's claimed credential and its access key, or ``AuthError``; reads headers
    only (call before reading the body). ``service_name``: the scope's signing name."""
    found: dict[str, Any] = {}
    claimed = sigv4.check_credential(request.headers.items(),
                                     request.scope.get("query_string", b"").decode("latin-1"),
                                     _lookup(services, found), service_name=service_name)
    return claimed, found["key"]


def authenticate(services: Services, request: Request, raw_path: str, body: bytes,
                 claimed: tuple[sigv4.Credential, Any] | None = None) -> Caller:
    """The caller whose signature covers this request and ``body``, or ``AuthError``.
    ``claimed`` is ``credential``'s answer when it was asked before reading the body."""
    if claimed is None:
        claimed = credential(services, request)
    found: dict[str, Any] = {"key": claimed[1]}
    host = request.headers.get("host", "")
    signed = sigv4.verify(request.method, f"http://{host}{raw_path.split('?', 1)[0]}",
                          request.scope.get("query_string", b"").decode("latin-1"),
                          request.headers.items(), body, _lookup(services, found),
                          credential=claimed[0])
    return services.keys.caller(found["key"], signed.region)
