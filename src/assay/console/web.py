"""The console's plumbing: sessions on every request, CSRF on every POST, one worker-thread hop
per request into the service layer, templates, flash messages and security headers.

Pages are plain functions ``(ctx) -> Response`` (GET) and ``(ctx, form) -> Response`` (POST),
run in a worker thread with an authenticated ``Context``; a ``ServiceError`` they raise becomes
an error page with its status (403, 404, 400), exactly as the API would refuse the same call.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import json
import logging
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ..api import bodies
from ..model.evidence import compliance_bucket
from ..service.auth import Caller
from ..service.errors import (AccessDeniedError, NotFoundError, ServiceError, StoreBusy,
                              ValidationError)
from ..service.keys import AccessKey
from ..service.sso import Principal, caller_for
from .sessions import COOKIE, IDLE_SECONDS, Session, Sessions

log = logging.getLogger("assay.console")
HERE = Path(__file__).parent
PREFIX = "/console"
FLASH_COOKIE = "assay_console_flash"
MAX_FORM_BYTES = 256 * 1024
SESSION_GONE = ("This session has ended (signed out, or its access key is no longer active). "
                "Sign in again.")
SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'self'; img-src 'self' data:; style-src 'self'; "
                                "script-src 'self'; connect-src 'self'; font-src 'self'; "
                                "object-src 'none'; base-uri 'none'; form-action 'self'; "
                                "frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class CsrfRefused(Exception):
    pass


@dataclass
class Context:
    """One authenticated console request."""

    console: "Console"
    request: Request
    session: Session
    key: AccessKey | None  # None when signed in with single sign-on
    caller: Caller
    csrf: str
    flashes: list[tuple[str, str]] = field(default_factory=list)

    @property
    def services(self):
        return self.console.services

    def arg(self, name: str, default: str | None = None) -> str | None:
        return self.request.query_params.get(name, default)

    def path(self, name: str) -> str:
        return self.request.path_params[name]

    def render(self, template: str, code: int = 200, **values: Any) -> HTMLResponse:
        return self.console.render(template, code, ctx=self, **values)

    def redirect(self, url: str, message: str | None = None, kind: str = "ok") -> Response:
        response = RedirectResponse(url, status_code=303)
        if message:
            set_flash(response, self.request, kind, message)
        return response


def set_flash(response: Response, request: Request, kind: str, message: str) -> None:
    value = quote(json.dumps([kind, message[:600]]), safe="")
    response.set_cookie(FLASH_COOKIE, value, max_age=120, path=PREFIX, httponly=True,
                        samesite="lax", secure=is_https(request))


def read_flash(request: Request) -> list[tuple[str, str]]:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return []
    try:
        kind, message = json.loads(unquote(raw))
        if kind in ("ok", "error") and isinstance(message, str):
            return [(kind, message)]
    except (ValueError, TypeError):
        pass
    return []


FORWARDED_HTTPS = "assay.forwarded_https"


def is_https(request: Request) -> bool:
    """Reached over HTTPS: directly, or through a trusted proxy that says so in
    X-Forwarded-Proto (``TrustedProxies`` marks the request)."""
    return request.url.scheme == "https" or bool(request.scope.get(FORWARDED_HTTPS))


class TrustedProxies:
    """ASGI wrapper of the console: a request from a trusted proxy (settings.trusted_proxies)
    whose X-Forwarded-Proto is https counts as HTTPS (so cookies are Secure). From anyone
    else the header means nothing."""

    def __init__(self, app, networks: tuple):
        self.app = app
        self.networks = networks

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and self.networks:
            peer = (scope.get("client") or ("",))[0]
            proto = dict(scope.get("headers") or []).get(b"x-forwarded-proto", b"")
            if _within(peer, self.networks) and \
                    proto.decode("latin-1").split(",")[-1].strip().lower() == "https":
                scope = {**scope, FORWARDED_HTTPS: True}
        await self.app(scope, receive, send)


def safe_next(target: str | None) -> str:
    """Only a console path (never another site) is a place to return to after sign-in."""
    if target and target.startswith(PREFIX + "/") and not target.startswith("//") \
            and "\\" not in target and "://" not in target:
        return target
    return PREFIX + "/assessments"


async def read_form(request: Request) -> dict[str, list[str]]:
    """An application/x-www-form-urlencoded body (the console's forms), bounded in size (a
    declared Content-Length over it is refused before anything is read)."""
    raw = await bodies.read(request, MAX_FORM_BYTES, "The form")  # PayloadTooLarge: 413
    form = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
    # As the API's wire layer does: no text column stores NUL (U+0000), so none gets in.
    for name, values in form.items():
        if "\x00" in name or any("\x00" in v for v in values):
            raise ValidationError.field(name.replace("\x00", ""),
                                        "Member must not contain NUL (U+0000) characters.")
    return form


def one(form: dict[str, list[str]], name: str, default: str = "") -> str:
    values = form.get(name)
    return values[0].strip() if values else default


# -- template helpers ---------------------------------------------------------------------

def url(*parts: str, **query: Any) -> str:
    path = PREFIX + "".join("/" + quote(str(p), safe="") for p in parts)
    query = {k: v for k, v in query.items() if v not in (None, "")}
    return path + ("?" + urlencode(query) if query else "")


def assessment_url(assessment_id: str, *more: str, **query: Any) -> str:
    return url("assessments", assessment_id, *more, **query)


def control_url(assessment_id: str, control_set_id: str, control_id: str, *more: str,
                **query: Any) -> str:
    return url("assessments", assessment_id, "controls", control_id, *more,
               set=control_set_id, **query)


def when(epoch: float | None, with_time: bool = True) -> str:
    if epoch is None or epoch == "":
        return "—"
    moment = dt.datetime.fromtimestamp(float(epoch), dt.timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M UTC" if with_time else "%Y-%m-%d")


def key_name(arn: str | None) -> str:
    """The short name of a principal ARN (``arn:aws:iam::<account>:role/<name>``): its last
    path segment, which is the key name for keys created without a principal."""
    return (arn or "").rsplit("/", 1)[-1] or "—"


def result_class(result: str | None) -> str:
    return {"compliant": "pass", "noncompliant": "fail", "inconclusive": "other"}[
        compliance_bucket(result)]


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


def domain_table(domains: list[dict]) -> list[list]:
    return [[d["name"], d["compliant"], d["noncompliant"], d["inconclusive"], d["controls"]]
            for d in domains]


def state_table(groups: list[dict]) -> list[list]:
    return [[g["name"], g["passing"], g["failing"], g["accepted"], g["source_failed"],
             g["pending"], g["manual_due"], g["total"]] for g in groups]


def score_table(points: list[dict]) -> list[list]:
    return [[p["day"], p["checked"], p["passing"],
             "—" if p["passingShare"] is None else p["passingShare"],
             "—" if p["evidenceShare"] is None else p["evidenceShare"]]
            for p in points if p["checked"]]


def trend_table(days: list[tuple[str, int, int]]) -> list[list]:
    return [[day, passed, failed] for day, passed, failed in days if passed or failed]


def plural(count: int, word: str, many: str | None = None) -> str:
    return f"{count} {word if count == 1 else (many or word + 's')}"


STATUS_CLASSES = {
    "ACTIVE": "info", "INACTIVE": "muted", "UNDER_REVIEW": "warn", "REVIEWED": "ok",
    "IN_PROGRESS": "info", "COMPLETE": "ok", "FAILED": "bad", "RUNNING": "info",
}


def status_class(status: str | None) -> str:
    return STATUS_CLASSES.get(status or "", "muted")


def human(status: str | None) -> str:
    return (status or "").replace("_", " ").capitalize()


class Console:
    """The console application's state: services, sessions, templates."""

    def __init__(self, services):
        self.services = services
        self.sessions = Sessions(services.signer, services.sessions)
        self.env = Environment(loader=FileSystemLoader(HERE / "templates"),
                               autoescape=select_autoescape(["html"]), trim_blocks=True,
                               lstrip_blocks=True)
        self.env.globals.update(url=url, assessment_url=assessment_url, control_url=control_url,
                                static=self.static_url, prefix=PREFIX)
        self.env.filters.update(when=when, key_name=key_name, result_class=result_class,
                                pretty_json=pretty_json, plural=plural, status_class=status_class,
                                human=human, svg=Markup, domain_table=domain_table,
                                trend_table=trend_table, state_table=state_table,
                                score_table=score_table)
        self._static_version = self._fingerprint()
        self.trusted_proxies = parse_networks(services.settings.trusted_proxies)

    # -- rendering ----------------------------------------------------------------------

    def _fingerprint(self) -> str:
        digest = hashlib.sha256()
        for path in sorted((HERE / "static").iterdir()):
            digest.update(path.read_bytes())
        return digest.hexdigest()[:10]

    def static_url(self, name: str) -> str:
        return f"{PREFIX}/static/{name}?v={self._static_version}"

    def render(self, template: str, code: int = 200, ctx: Context | None = None,
               **values: Any) -> HTMLResponse:
        html = self.env.get_template(template).render(ctx=ctx, caller=ctx.caller if ctx else None,
                                                      csrf=ctx.csrf if ctx else "", **values)
        return HTMLResponse(html, status_code=code)

    # -- the request wrappers -------------------------------------------------------------

    def view(self, page: Callable[[Context], Response], *, needs_active_account: bool = True):
        async def endpoint(request: Request) -> Response:
            return await self._serve(request, page, None, needs_active_account)
        return endpoint

    def action(self, handler: Callable[[Context, dict], Response], *,
               needs_active_account: bool = True):
        async def endpoint(request: Request) -> Response:
            if self.sessions.decode(request.cookies.get(COOKIE)) is None:
                # Without a session nothing changes: send the person to sign in, unread.
                return self._to_sign_in(request, None)
            try:
                form = await read_form(request)
            except ServiceError as error:
                return self._plain_error(request, error.status, error.message)
            return await self._serve(request, handler, form, needs_active_account)
        return endpoint

    def raw_action(self, handler: Callable[..., Response]):
        """A POST whose body is not a form (file uploads): CSRF comes in X-CSRF-Token and the
        handler receives the request to stream the body itself. It runs on the event loop and
        calls the services in worker threads."""
        async def endpoint(request: Request) -> Response:
            session = self.sessions.decode(request.cookies.get(COOKIE))
            if session is None:
                return _json_error(401, "Sign in again: the session has ended.")
            if not self.sessions.csrf_ok(session, request.headers.get("x-csrf-token")):
                return _json_error(403, "The request is missing its CSRF token.")
            try:
                ctx = await run_in_threadpool(self._context, request, session, True)
            except ServiceError as error:
                return _json_error(error.status, error.message)
            if ctx is None:
                return _json_error(401, SESSION_GONE)
            try:
                return await handler(ctx)
            except ServiceError as error:
                return _json_error(error.status, error.message)
        return endpoint

    def raw_view(self, handler: Callable[..., Response]):
        """A GET that streams (downloads): the handler runs on the event loop and calls the
        services in worker threads; a refusal is an error page like any other."""
        async def endpoint(request: Request) -> Response:
            session = self.sessions.decode(request.cookies.get(COOKIE))
            if session is None:
                return self._to_sign_in(request, None)
            ctx = None
            try:
                ctx = await run_in_threadpool(self._context, request, session, True)
                if ctx is None:
                    return self._to_sign_in(request, SESSION_GONE, clear=True)
                return await handler(ctx)
            except ServiceError as error:
                return secure(await run_in_threadpool(self.error_page, ctx, request,
                                                      error.status, error.message))
        return endpoint

    async def _serve(self, request: Request, page, form, needs_active_account: bool) -> Response:
        session = self.sessions.decode(request.cookies.get(COOKIE))
        if session is None:
            # Also for a POST: without a session it changes nothing; send the person to sign in.
            return self._to_sign_in(request, None)
        if form is not None and not self.sessions.csrf_ok(session, one(form, "csrf")):
            return self._plain_error(request, 403,
                                     "This form was sent without its security token (CSRF). "
                                     "Reload the page and try again.")
        try:
            response = await run_in_threadpool(self._run, request, session, page, form,
                                               needs_active_account)
        except Exception:
            request_id = str(uuid.uuid4())
            log.exception("console %s %s failed (request %s)", request.method, request.url.path,
                          request_id)
            return self._plain_error(request, 500,
                                     f"Something went wrong on the server; quote request id "
                                     f"{request_id}.")
        if response is None:
            return self._to_sign_in(request, SESSION_GONE, clear=True)
        if session.stale(self.sessions.clock()) and f"{COOKIE}=" not in _set_cookies(response):
            self.set_session_cookie(response, request, self.sessions.touched(session))
        if request.cookies.get(FLASH_COOKIE) and f"{FLASH_COOKIE}=" not in _set_cookies(response):
            response.delete_cookie(FLASH_COOKIE, path=PREFIX)
        return secure(response)

    def _context(self, request: Request, session: Session, needs_active_account: bool):
        if self.sessions.is_ended(session):
            return None
        region = self.services.settings.default_region
        if session.principal is not None:  # single sign-on: the principal the IdP vouched for
            if not self.services.settings.oidc_issuer:
                return None  # SSO was turned off: its sessions end with it
            key, caller = None, caller_for(Principal(*session.principal), region)
        else:
            found = self.services.keys.authenticate(session.key_id)
            if found is None:
                return None
            key = found[1]
            caller = self.services.keys.caller(key, region)
        if needs_active_account:
            self.services.account.require_active()
        return Context(self, request, session, key, caller, self.sessions.csrf_token(session),
                       read_flash(request))

    def _run(self, request, session, page, form, needs_active_account):
        try:
            with self.services.store.request():
                return self._run_page(request, session, page, form, needs_active_account)
        except StoreBusy as busy:  # the database's connection limit: try again, not a bug
            return self._plain_error(request, 429, f"{busy}.")

    def _run_page(self, request, session, page, form, needs_active_account):
        try:
            ctx = self._context(request, session, needs_active_account)
        except ServiceError as error:
            return self.error_page(None, request, error.status, error.message)
        if ctx is None:
            return None
        try:
            return page(ctx) if form is None else page(ctx, form)
        except ValidationError as error:
            if form is not None:
                back = safe_next(one(form, "back") or _referer_path(request))
                return ctx.redirect(back, error.message, "error")
            return self.error_page(ctx, request, error.status, error.message)
        except (AccessDeniedError, NotFoundError, ServiceError) as error:
            return self.error_page(ctx, request, error.status, error.message)

    def error_page(self, ctx: Context | None, request: Request, status: int, message: str):
        titles = {403: "Not allowed", 404: "Not found", 400: "Not possible",
                  413: "Too large", 500: "Server error"}
        if ctx is None:
            return self._plain_error(request, status, message)
        return ctx.render("error.html", code=status, title=titles.get(status, "Error"),
                          message=message, status_code=status)

    def _plain_error(self, request: Request, status: int, message: str) -> Response:
        titles = {403: "Not allowed", 413: "Too large", 429: "Busy", 500: "Server error"}
        response = self.render("error.html", code=status, title=titles.get(status, "Error"),
                               message=message, status_code=status)
        return secure(response)

    def _to_sign_in(self, request: Request, message: str | None, clear: bool = False) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        back = target if request.method == "GET" else None
        response = RedirectResponse(url("sign-in", next=back), status_code=303)
        if message:
            set_flash(response, request, "error", message)
        if clear:
            response.delete_cookie(COOKIE, path=PREFIX)
        return secure(response)

    def client_address(self, request: Request) -> str:
        """The client's address: the TCP peer's, unless the peer is a trusted proxy
        (``trusted_proxies``); then the nearest address in X-Forwarded-For that is not itself a
        trusted proxy (addresses further left were written by whoever the client was)."""
        peer = request.client.host if request.client else "unknown"
        if not self.trusted_proxies or not _within(peer, self.trusted_proxies):
            return peer
        hops = [h.strip() for v in request.headers.getlist("x-forwarded-for") for h in v.split(",")]
        for hop in reversed(hops):
            try:
                ipaddress.ip_address(hop)
            except ValueError:
                return peer  # a malformed chain: believe only the proxy itself
            if not _within(hop, self.trusted_proxies):
                return hop
        return peer

    def set_session_cookie(self, response: Response, request: Request, session: Session) -> None:
        response.set_cookie(COOKIE, self.sessions.encode(session), max_age=IDLE_SECONDS,
                            path=PREFIX, httponly=True, samesite="lax", secure=is_https(request))


def parse_networks(text: str) -> tuple:
    """``"10.0.0.5, 10.1.0.0/16"`` -> ip networks. A bad entry is a configuration error
    (ValueError naming it), never silently ignored."""
    networks = []
    for entry in (e.strip() for e in (text or "").split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"trusted_proxies: {entry!r} is not an IP address or network") from None
    return tuple(networks)


def _within(address: str, networks: tuple) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def _referer_path(request: Request) -> str:
    parts = urlsplit(request.headers.get("referer", ""))
    if parts.netloc and parts.netloc != request.url.netloc:
        return ""
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _set_cookies(response: Response) -> str:
    return " ".join(v.decode("latin-1") for k, v in response.raw_headers if k == b"set-cookie")


def secure(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def _json_error(status: int, message: str) -> Response:
    return secure(Response(json.dumps({"message": message}), status_code=status,
                           media_type="application/json"))
