"""Signing in with an Assay access key pair, and signing out."""

from __future__ import annotations

import secrets
import threading
import time
from collections import defaultdict, deque

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ..service.errors import ServiceError
from .sessions import COOKIE, SIGN_IN_COOKIE, same_secret
from .web import (PREFIX, Console, is_https, one, read_flash, read_form, safe_next, secure,
                  set_flash, url)

MAX_FAILURES = 10        # failed sign-ins from one address ...
FAILURE_WINDOW = 300.0   # ... within this many seconds, then it waits
SIGN_IN_FAILED = ("That access key id and secret access key do not match an active Assay key. "
                  "Check both (the secret is shown once, when the key is created).")


class SignInThrottle:
    """Failed sign-ins per client address in a sliding window. Secrets are 40 random characters,
    so guessing is hopeless anyway; this keeps a script from hammering the server trying."""

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.failures: dict[str, deque[float]] = defaultdict(deque)
        self.lock = threading.Lock()

    def _recent(self, address: str) -> deque[float]:
        failures, cutoff = self.failures[address], self.clock() - FAILURE_WINDOW
        while failures and failures[0] < cutoff:
            failures.popleft()
        return failures

    def wait_for(self, address: str) -> int:
        """Seconds this address must wait before it may try again (0: it may)."""
        with self.lock:
            failures = self._recent(address)
            if len(failures) < MAX_FAILURES:
                return 0
            return max(1, int(failures[0] + FAILURE_WINDOW - self.clock()) + 1)

    def failed(self, address: str) -> None:
        with self.lock:
            self._recent(address).append(self.clock())

    def succeeded(self, address: str) -> None:
        with self.lock:
            self.failures.pop(address, None)


def routes(console: Console, throttle: SignInThrottle | None = None) -> list[Route]:
    throttle = throttle or SignInThrottle()

    async def sign_in_form(request: Request) -> Response:
        session = console.sessions.decode(request.cookies.get(COOKIE))
        if session is not None:
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
        address = request.client.host if request.client else "unknown"
        wait = throttle.wait_for(address)
        if wait:
            response = _form(console, request, status=429, key_id="", flashes=[],
                             next_url=one(form, "next"),
                             message=f"Too many failed sign-ins from your address: try again in "
                                     f"{wait} seconds.")
            response.headers["Retry-After"] = str(wait)
            return response
        key_id = one(form, "access_key_id")
        secret = form.get("secret_access_key", [""])[0]
        found = await run_in_threadpool(console.services.keys.authenticate, key_id) \
            if key_id else None
        # Compare even when the key is unknown, so the answer takes the same time either way.
        stored = found[0] if found else secrets.token_urlsafe(30)
        if not (same_secret(secret, stored) and found is not None):
            throttle.failed(address)
            return _form(console, request, status=401, message=SIGN_IN_FAILED, key_id=key_id,
                         flashes=[], next_url=one(form, "next"))
        throttle.succeeded(address)
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
            console.sessions.end(session)
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
                              sign_in_token=token, flashes=flashes, next=safe_next(next_url))
    response.set_cookie(SIGN_IN_COOKIE, token, max_age=3600, path=PREFIX, httponly=True,
                        samesite="strict", secure=is_https(request))
    if flashes:
        response.delete_cookie("assay_console_flash", path=PREFIX)
    return secure(response)
