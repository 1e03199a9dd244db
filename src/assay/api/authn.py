"""Who signed a request: SigV4 verified against the keys in the database (cached, behind a
change counter read on every request, so a revoked key stops at once on every server; see
service/access_cache.py). Used by the API and Assay's internal endpoints.

Two steps, so that a body is only read for a plausible caller: ``credential`` checks the
Authorization header (scope, clock, an active key) before anything of the body is read, and
``authenticate`` checks the signature over the body once it has been read against its cap.
``credential_of`` and ``caller_of`` are the same two steps over a request's raw parts (the
API's own endpoint has no Starlette ``Request``)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from ..service import Services
from ..service.auth import Caller
from . import sigv4

Claimed = tuple[sigv4.Credential, Any]  # the credential and its access key


def _lookup(services: Services, found: dict[str, Any]):
    def lookup(key_id: str) -> str | None:
        match = services.keys.authenticate(key_id)
        if match is None:
            return None
        found["key"] = match[1]
        return match[0]
    return lookup


def credential_of(services: Services, headers: sigv4.Headers, raw_query: str,
                  service_name: str = sigv4.SERVICE) -> Claimed:
    """The claimed credential and its access key, or ``AuthError``. ``headers``: a
    ``sigv4.header_index``; ``raw_query``: the query string as sent."""
    found: dict[str, Any] = {}
    claimed = sigv4.check_credential(headers, raw_query, _lookup(services, found),
                                     service_name=service_name)
    return claimed, found["key"]


def caller_of(services: Services, method: str, raw_path: str, raw_query: str,
              headers: sigv4.Headers, body: bytes, claimed: Claimed | None = None) -> Caller:
    """The caller whose signature covers the request and ``body``, or ``AuthError``.
    ``raw_path``: the path as sent (percent-encoded, without the query)."""
    if claimed is None:
        claimed = credential_of(services, headers, raw_query)
    credential, key = claimed
    host = (headers.get("host") or [""])[0]
    sigv4.verify(method, f"http://{host}{raw_path}", raw_query, headers, body,
                 _lookup(services, {}), credential=credential)
    return services.keys.caller(key, credential.region)


def _raw_query(request: Request) -> str:
    return request.scope.get("query_string", b"").decode("latin-1")


def credential(services: Services, request: Request,
               service_name: str = sigv4.SERVICE) -> Claimed:
    """The request's claimed credential and its access key, or ``AuthError``; reads headers
    only (call before reading the body). ``service_name``: the scope's signing name."""
    return credential_of(services, sigv4.header_index(request.headers.items()),
                         _raw_query(request), service_name)


def authenticate(services: Services, request: Request, raw_path: str, body: bytes,
                 claimed: Claimed | None = None) -> Caller:
    """The caller whose signature covers this request and ``body``, or ``AuthError``.
    ``claimed`` is ``credential``'s answer when it was asked before reading the body."""
    return caller_of(services, request.method, raw_path.split("?", 1)[0], _raw_query(request),
                     sigv4.header_index(request.headers.items()), body, claimed)
