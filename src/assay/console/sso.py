"""Signing in with OpenID Connect (authorization code flow with PKCE and a nonce), with
Authlib's OAuth 2 client and joserfc (Authlib's JOSE library) for the ID token.

1. ``/console/sso/start`` reads the issuer's discovery document, and sends the browser to its
   authorization endpoint with a fresh state, nonce and PKCE verifier, kept in a short-lived
   cookie signed with the instance's key.
2. ``/console/sso/callback`` checks the state against that cookie, exchanges the code, checks
   the ID token (signature from the issuer's JWKS, issuer, audience, nonce, expiry), maps its
   claims to a principal (``service.sso``) and starts a console session like a key sign-in.

Failures are throttled like key sign-ins, per principal and per address.
"""

from __future__ import annotations

import base64
import logging
import secrets
import time
from typing import TYPE_CHECKING
from urllib.parse import quote

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ..service.errors import AccessDeniedError
from ..service.sso import principal_from_claims
from .signin import SignInThrottle
from .web import PREFIX, Console, is_https, safe_next, secure, set_flash, url

# The OIDC client libraries (authlib, httpx, joserfc: ~0.2 s of imports) load only when an
# issuer is configured, not in every server that serves the console.
if TYPE_CHECKING:
    from authlib.integrations.httpx_client import OAuth2Client
    from joserfc.jwk import KeySet

log = logging.getLogger("assay.console.sso")
FLOW_COOKIE = "assay_console_sso"
FLOW_SECONDS = 600
_FLOW_PREFIX = b"assay-console-sso/v1|"
DISCOVERY_TTL = 3600.0


class Provider:
    """The issuer's discovery document and keys, fetched on first use and every hour."""

    def __init__(self, issuer: str):
        self.issuer = issuer.rstrip("/")
        self._document: dict | None = None
        self._keys: KeySet | None = None
        self._fetched = 0.0

    def document(self) -> dict:
        if self._document is None or time.monotonic() - self._fetched > DISCOVERY_TTL:
            import httpx
            from joserfc.jwk import KeySet

            answer = httpx.get(f"{self.issuer}/.well-known/openid-configuration", timeout=10)
            answer.raise_for_status()
            document = answer.json()
            if document.get("issuer", "").rstrip("/") != self.issuer:
                raise ValueError(f"the discovery document names issuer {document.get('issuer')!r}")
            jwks = httpx.get(document["jwks_uri"], timeout=10)
            jwks.raise_for_status()
            self._document, self._keys = document, KeySet.import_key_set(jwks.json())
            self._fetched = time.monotonic()
        return self._document

    def keys(self) -> KeySet:
        self.document()
        return self._keys


def routes(console: Console, throttle: SignInThrottle | None = None) -> list[Route]:
    settings = console.services.settings
    if not settings.oidc_issuer:
        return []
    import httpx
    from authlib.integrations.httpx_client import OAuth2Client
    from joserfc.errors import JoseError

    provider = Provider(settings.oidc_issuer)
    throttle = throttle or getattr(console, "throttle", None) or SignInThrottle()

    def client(request: Request) -> OAuth2Client:
        return OAuth2Client(settings.oidc_client_id, settings.oidc_client_secret,
                            scope=settings.oidc_scopes, redirect_uri=callback_url(request),
                            code_challenge_method="S256")

    def callback_url(request: Request) -> str:
        base = settings.public_url.rstrip("/") if settings.public_url else \
            f"{request.url.scheme}://{request.url.netloc}"
        return base + url("sso", "callback")

    def refuse(request: Request, message: str) -> Response:
        response = RedirectResponse(url("sign-in"), status_code=303)
        set_flash(response, request, "error", message)
        response.delete_cookie(FLOW_COOKIE, path=PREFIX)
        return secure(response)

    async def start(request: Request) -> Response:
        try:
            document = await run_in_threadpool(provider.document)
        except (httpx.HTTPError, ValueError, KeyError) as error:
            log.warning("OIDC discovery at %s failed: %s", provider.issuer, error)
            return refuse(request, f"The identity provider {provider.issuer} cannot be reached "
                                   "right now; try again, or ask an administrator.")
        state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        verifier = secrets.token_urlsafe(48)
        target, _ = client(request).create_authorization_url(
            document["authorization_endpoint"], state=state, code_verifier=verifier,
            nonce=nonce)
        flow = [state, nonce, verifier, safe_next(request.query_params.get("next")),
                int(time.time())]
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(FLOW_COOKIE, _seal(console, flow), max_age=FLOW_SECONDS,
                            path=PREFIX, httponly=True, samesite="lax",
                            secure=is_https(request))
        return secure(response)

    async def callback(request: Request) -> Response:
        flow = _open(console, request.cookies.get(FLOW_COOKIE))
        params = request.query_params
        if flow is None or not secrets.compare_digest(params.get("state", ""), flow[0]):
            return refuse(request, "The single sign-on answer did not match a sign-in started "
                                   "here (or took over ten minutes). Sign in again.")
        if params.get("error"):
            return refuse(request, f"The identity provider refused the sign-in: "
                                   f"{params.get('error_description') or params['error']}"[:300])
        address = console.client_address(request)
        try:
            claims = await run_in_threadpool(_claims, provider, client(request), settings,
                                             params.get("code", ""), flow)
        except (httpx.HTTPError, JoseError, ValueError, KeyError) as error:
            throttle.failed(address, "sso")
            log.warning("OIDC sign-in failed: %s", error)
            return refuse(request, "The identity provider's answer could not be verified; sign "
                                   "in again.")
        subject = str(claims.get("sub", ""))
        wait = throttle.wait_for(address, "sso:" + subject)
        if wait:
            return refuse(request, f"Too many failed sign-ins: try again in {wait} seconds.")
        try:
            principal = principal_from_claims(claims, settings, console.services.keys.arn_for)
            problem = console.services.keys.principal_problem(principal.arn)
            if problem:  # an IAM ARN sent by the provider must be one of this instance's
                raise AccessDeniedError(problem)
        except AccessDeniedError as error:
            throttle.failed(address, "sso:" + subject)
            return refuse(request, error.message)
        throttle.succeeded(address, "sso:" + subject)
        session = console.sessions.new("", (principal.arn, principal.name, principal.role))
        response = RedirectResponse(flow[3], status_code=303)
        console.set_session_cookie(response, request, session)
        response.delete_cookie(FLOW_COOKIE, path=PREFIX)
        return secure(response)

    return [Route("/sso/start", start, methods=["GET"]),
            Route("/sso/callback", callback, methods=["GET"])]


def _claims(provider: Provider, oauth: OAuth2Client, settings, code: str, flow: list) -> dict:
    """Exchange the code and check the ID token; its claims, with userinfo's for the groups
    when the token carries none."""
    from joserfc import jwt

    document = provider.document()
    with oauth:
        token = oauth.fetch_token(document["token_endpoint"], code=code, code_verifier=flow[2],
                                  grant_type="authorization_code")
        decoded = jwt.decode(token["id_token"], provider.keys(),
                             algorithms=document.get("id_token_signing_alg_values_supported")
                             or ["RS256"])
        jwt.JWTClaimsRegistry(
            leeway=60, iss={"essential": True, "value": provider.issuer},
            aud={"essential": True, "value": settings.oidc_client_id},
            nonce={"essential": True, "value": flow[1]},
            exp={"essential": True}, sub={"essential": True}).validate(decoded.claims)
        claims = dict(decoded.claims)
        if settings.oidc_groups_claim not in claims and document.get("userinfo_endpoint"):
            info = oauth.get(document["userinfo_endpoint"]).json()
            if info.get("sub") == claims["sub"]:
                claims = {**info, **claims}
    return claims


def _seal(console: Console, flow: list) -> str:
    payload = base64.urlsafe_b64encode(orjson.dumps(flow)).decode()
    signature = console.sessions.signer.sign(_FLOW_PREFIX + payload.encode())
    return f"{payload}.{quote(signature, safe='')}"


def _open(console: Console, value: str | None) -> list | None:
    if not value or value.count(".") != 1 or len(value) > 2048:
        return None
    payload, signature = value.split(".")
    from urllib.parse import unquote

    if not console.sessions.signer.verify(unquote(signature), _FLOW_PREFIX + payload.encode()):
        return None
    try:
        flow = orjson.loads(base64.urlsafe_b64decode(payload))
    except ValueError:
        return None
    if not isinstance(flow, list) or len(flow) != 5 or time.time() - flow[4] > FLOW_SECONDS:
        return None
    return flow
