"""Signing in with an Assay access key pair, and signing out."""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict, deque

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ..service.errors import ServiceError
from .sessions import COOKIE, SIGN_IN_COOKIE, same_secret
from .web import (PREFIX, Console, is_https, one, read_flash, read_form, safe_next, secure,
                  set_flash, url)

FAILURE_WINDOW = 300.0   # failures count for this many seconds
MAX_FAILURES = 10        # failed sign-ins naming one principal (from any address) in the window
MAX_ADDRESS_FAILURES = 50  # failed sign-ins from one client address (any principal) in the window
MAX_TRACKED = 10_000     # addresses, principals and known pairs remembered: memory stays bounded
KEYS_ONLY_FOR_ADMINS = ("This Assay signs people in with single sign-on: use \"Sign in with "
                        "SSO\". Access keys sign in here only for admins (the API takes every "
                        "key).")
SIGN_IN_FAILED = ("That access key id and secret access key do not match an active Assay key. "
                  "Check both (the secret is shown once, when the key is created).")


class _Windows:
    """Failure times per key in a sliding window, for at most ``MAX_TRACKED`` keys (the least
    recently failed key is forgotten first)."""

    def __init__(self, clock, limit: int):
        self.clock = clock
        self.limit = limit
        self.items: OrderedDict[str, deque[float]] = OrderedDict()

    def recent(self, key: str) -> deque[float]:
        failures = self.items.get(key) or deque()
        cutoff = self.clock() - FAILURE_WINDOW
        while failures and failures[0] < cutoff:
            failures.popleft()
        return failures

    def wait_for(self, key: str) -> int:
        failures = self.recent(key)
        if len(failures) < self.limit:
            return 0
        return max(1, int(failures[-self.limit] + FAILURE_WINDOW - self.clock()) + 1)

    def add(self, key: str) -> None:
        failures = self.recent(key)
        failures.append(self.clock())
        while len(failures) > self.limit:  # older ones no longer decide anything
            failures.popleft()
        self.items[key] = failures
        self.items.move_to_end(key)
        while len(self.items) > MAX_TRACKED:
            self.items.popitem(last=False)

    def forget(self, key: str) -> None:
        self.items.pop(key, None)


class SignInThrottle:
    """Failed sign-ins, per principal (the access key id or identity named) and per client
    address. Secrets are 40 random characters, so guessing is hopeless anyway; this keeps a
    script from hammering the server trying.

    - A principal with ``MAX_FAILURES`` recent failures waits, from whatever address it is
      tried: rotating addresses (or a forged X-Forwarded-For) gains nothing.
    - An address with ``MAX_ADDRESS_FAILURES`` recent failures waits, except for principals that
      signed in successfully from it lately: one shared proxy address under attack keeps its
      known people signed in instead of locking everyone out.
    - Every table holds at most ``MAX_TRACKED`` entries."""

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.principals = _Windows(clock, MAX_FAILURES)
        self.addresses = _Windows(clock, MAX_ADDRESS_FAILURES)
        self.known: OrderedDict[tuple[str, str], float] = OrderedDict()  # (address, principal)
        self.lock = threading.Lock()

    def wait_for(self, address: str, principal: str) -> int:
        """Seconds before ``principal`` may try again from ``address`` (0: it may now)."""
        with self.lock:
            wait = self.principals.wait_for(principal)
            seen = self.known.get((address, principal))
            if seen is None or self.clock() - seen > FAILURE_WINDOW * 288:  # one day
                wait = max(wait, self.addresses.wait_for(address))
            return wait

    def failed(self, address: str, principal: str) -> None:
        with self.lock:
            self.principals.add(principal)
            self.addresses.add(address)

    def succeeded(self, address: str, principal: str) -> None:
        with self.lock:
            self.principals.forget(principal)
            self.known[(address, principal)] = self.clock()
            self.known.move_to_end((address, principal))
            while len(self.known) > MAX_TRACKED:
                self.known.popitem(last=False)


def routes(console: Console, throttle: SignInThrottle | None = None) -> list[Route]:
    # One throttle for every way of signing in (keys here, single sign-on in sso.py).
    throttle = console.throttle = throttle or SignInThrottle()

    async def sign_in_form(request: Request) -> Response:
        session = console.sessions.decode(request.cookies.get(COOKIE))
        if session is not None and not await run_in_threadpool(console.sessions.is_ended, session):
            return secure(RedirectResponse(safe_next(request.query_params.get("next")), 303))
        return _form(console, request, status=200, message=None, key_id="",
                     flashes=read_flash(request), next_url=request.query_params.get("next"))

    async def sign_in(request: Request) -> Response:
        try:
            form = await read_form(request)
        except ServiceError as error:
            return console._plain_error(request, error.status, error.message)
        expected = request.cookies.get(SIGN_IN_COOKIE, "")
        given = one(form, "csrf")
        if not expected or not given or not same_secret(given, expected):
            return _form(console, request, status=403, key_id="", flashes=[],
                         next_url=one(form, "next"),
                         message="The sign-in form was sent without its security token (CSRF) "
                                 "or has expired. Please sign in again.")
        address = console.client_address(request)
        key_id = one(form, "access_key_id")[:128]
        wait = throttle.wait_for(address, key_id)
        if wait:
            response = _form(console, request, status=429, key_id="", flashes=[],
                             next_url=one(form, "next"),
                             message=f"Too many failed sign-ins: try again in {wait} seconds.")
            response.headers["Retry-After"] = str(wait)
            return response
        secret = form.get("secret_access_key", [""])[0]
        found = await run_in_threadpool(console.services.keys.authenticate, key_id) \
            if key_id else None
        # Compare even when the key is unknown, so the answer takes the same time either way.
        stored = found[0] if found else secrets.token_urlsafe(30)
        if not (same_secret(secret, stored) and found is not None):
            throttle.failed(address, key_id)
            return _form(console, request, status=401, message=SIGN_IN_FAILED, key_id=key_id,
                         flashes=[], next_url=one(form, "next"))
        throttle.succeeded(address, key_id)
        if console.services.settings.oidc_issuer and found[1].role != "admin":
            return _form(console, request, status=403, key_id=key_id, flashes=[],
                         next_url=one(form, "next"), message=KEYS_ONLY_FOR_ADMINS)
        session = console.sessions.new(found[1].access_key_id)
        response = RedirectResponse(safe_next(one(form, "next")), status_code=303)
        console.set_session_cookie(response, request, session)
        response.delete_cookie(SIGN_IN_COOKIE, path=PREFIX)
        return secure(response)

    async def sign_out(request: Request) -> Response:
        session = console.sessions.decode(request.cookies.get(COOKIE))
        if session is not None:
            try:
                form = await read_form(request)
            except ServiceError as error:
                return console._plain_error(request, error.status, error.message)
            if not console.sessions.csrf_ok(session, one(form, "csrf")):
                return console._plain_error(request, 403, "This form was sent without its "
                                                          "security token (CSRF).")
            if session.principal is not None:
                principal = session.principal[0]
            else:
                found = await run_in_threadpool(console.services.keys.authenticate,
                                                session.key_id)
                principal = found[1].arn if found else session.key_id
            await run_in_threadpool(console.sessions.end, session, principal)
        response = RedirectResponse(url("sign-in"), status_code=303)
        response.delete_cookie(COOKIE, path=PREFIX)
        set_flash(response, request, "ok", "You are signed out.")
        return secure(response)

    return [
        Route("/sign-in", sign_in_form, methods=["GET"]),
        Route("/sign-in", sign_in, methods=["POST"]),
        Route("/sign-out", sign_out, methods=["POST"]),
    ]


def _form(console: Console, request: Request, status: int, message: str | None, key_id: str,
          flashes, next_url: str | None) -> Response:
    token = secrets.token_urlsafe(24)
    response = console.render("sign_in.html", code=status, message=message, key_id=key_id,
                              sign_in_token=token, flashes=flashes, next=safe_next(next_url),
                              sso=bool(console.services.settings.oidc_issuer))
    response.set_cookie(SIGN_IN_COOKIE, token, max_age=3600, path=PREFIX, httponly=True,
                        samesite="strict", secure=is_https(request))
    if flashes:
        response.delete_cookie("assay_console_flash", path=PREFIX)
    return secure(response)
