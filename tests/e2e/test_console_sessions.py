"""Console sessions and CSRF tokens without a browser: signed cookies, idle and absolute
expiry, signing out, forgery."""

from __future__ import annotations

import tempfile

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from assay.console.sessions import ABSOLUTE_SECONDS, IDLE_SECONDS, Sessions
from assay.console.web import safe_next
from assay.service.sessions import SessionService
from assay.service.signing import Signer
from assay.store import Store


class Clock:
    def __init__(self):
        self.now = 1_800_000_000.0

    def __call__(self):
        return self.now


_ENDED = None


def ended_store():
    """One migrated SQLite store for the module's ended sessions."""
    global _ENDED
    if _ENDED is None:
        store = Store(f"sqlite:///{tempfile.mkdtemp()}/sessions.db")
        store.migrate()
        _ENDED = SessionService(store)
    return _ENDED


def sessions(clock=None, key=None):
    return Sessions(Signer(key or Ed25519PrivateKey.generate()), ended_store(), clock or Clock())


def test_a_session_round_trips_and_expires_when_idle():
    clock = Clock()
    store = sessions(clock)
    session = store.new("AKASEXAMPLE")
    cookie = store.encode(session)
    assert store.decode(cookie) == session
    clock.now += IDLE_SECONDS - 1
    assert store.decode(cookie) == session
    clock.now += 2
    assert store.decode(cookie) is None
    # A request within the idle window re-issues the cookie: the session slides on...
    clock.now = session.issued + IDLE_SECONDS - 1
    fresher = store.encode(store.touched(session))
    clock.now += IDLE_SECONDS - 1
    assert store.decode(fresher) is not None
    # ...but never past the absolute limit.
    clock.now = session.issued + ABSOLUTE_SECONDS + 1
    assert store.decode(store.encode(store.touched(session))) is None


def test_forged_and_foreign_cookies_are_refused():
    store = sessions()
    cookie = store.encode(store.new("AKASEXAMPLE"))
    payload, signature = cookie.split(".")
    assert store.decode(payload + "." + signature[::-1]) is None
    assert store.decode(payload[:-2] + "AA." + signature) is None
    assert store.decode("nonsense") is None
    assert store.decode("") is None
    assert sessions().decode(cookie) is None  # signed by another instance's key


def test_signing_out_ends_the_session_and_csrf_tokens_are_per_session():
    store = sessions()
    one, two = store.new("AKASONE"), store.new("AKASONE")
    assert store.csrf_token(one) == store.csrf_token(one)
    assert store.csrf_token(one) != store.csrf_token(two)
    assert store.csrf_ok(one, store.csrf_token(one))
    assert not store.csrf_ok(one, store.csrf_token(two))
    assert not store.csrf_ok(one, None) and not store.csrf_ok(one, "")
    cookie = store.encode(one)
    store.end(one, "arn:aws:iam::111122223333:role/one")
    assert store.is_ended(store.decode(cookie))
    assert not store.is_ended(store.decode(store.encode(two)))
    # Another server (another Sessions over the same database and key) refuses it too.
    other = Sessions(store.signer, SessionService(store.ended.store), store.clock)
    assert other.is_ended(other.decode(cookie))


def test_sign_in_returns_only_to_console_pages():
    assert safe_next("/console/assessments/x?set=A") == "/console/assessments/x?set=A"
    for target in ("https://evil.example/", "//evil.example/console/", "/api", None, "",
                   "/console\\..\\evil", "/console/x?u=https://evil"):
        assert safe_next(target) == "/console/assessments"


def test_sign_in_attempts_are_throttled_per_principal_and_per_address():
    from assay.console.signin import (FAILURE_WINDOW, MAX_ADDRESS_FAILURES, MAX_FAILURES,
                                      SignInThrottle)

    clock = Clock()
    throttle = SignInThrottle(clock)
    # One principal, tried from ever new addresses: its own budget stops it.
    for n in range(MAX_FAILURES):
        assert throttle.wait_for(f"198.51.100.{n}", "AKASTARGET") == 0
        throttle.failed(f"198.51.100.{n}", "AKASTARGET")
    assert throttle.wait_for("203.0.113.99", "AKASTARGET") > 0
    assert throttle.wait_for("203.0.113.99", "AKASOTHER") == 0  # others are not held back
    clock.now += FAILURE_WINDOW + 1
    assert throttle.wait_for("203.0.113.99", "AKASTARGET") == 0

    # A shared proxy address sprayed with many principals: it waits for new principals, but
    # someone who signed in from it lately is not locked out.
    throttle.succeeded("192.0.2.1", "AKASKNOWN")
    for n in range(MAX_ADDRESS_FAILURES):
        throttle.failed("192.0.2.1", f"AKASGUESS{n}")
    assert throttle.wait_for("192.0.2.1", "AKASNEWCOMER") > 0
    assert throttle.wait_for("192.0.2.1", "AKASKNOWN") == 0
    assert throttle.wait_for("192.0.2.2", "AKASNEWCOMER") == 0


def test_the_throttle_memory_is_bounded():
    from assay.console.signin import MAX_TRACKED, SignInThrottle

    throttle = SignInThrottle(Clock())
    for n in range(MAX_TRACKED + 500):
        throttle.failed(f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}", f"AKAS{n}")
        throttle.succeeded("10.255.255.255", f"AKASOK{n}")
    assert len(throttle.principals.items) <= MAX_TRACKED
    assert len(throttle.addresses.items) <= MAX_TRACKED
    assert len(throttle.known) <= MAX_TRACKED


def test_x_forwarded_for_is_believed_only_from_trusted_proxies():
    from types import SimpleNamespace

    from starlette.requests import Request

    from assay.console.web import Console

    def request(peer: str, forwarded: str | None) -> Request:
        headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
        return Request({"type": "http", "method": "POST", "path": "/", "headers": headers,
                        "client": (peer, 5000), "query_string": b""})

    def console(trusted: str) -> Console:
        settings = SimpleNamespace(trusted_proxies=trusted)
        return Console(SimpleNamespace(settings=settings, signer=None, sessions=None))

    untrusting = console("")
    assert untrusting.client_address(request("127.0.0.1", "203.0.113.7")) == "127.0.0.1"
    trusting = console("10.0.0.5, 10.1.0.0/16")
    assert trusting.client_address(request("10.0.0.5", "203.0.113.7")) == "203.0.113.7"
    # The client may write anything left of what the proxies add: only the nearest counts.
    assert trusting.client_address(request("10.0.0.5", "1.2.3.4, 203.0.113.7, 10.1.2.3")) \
        == "203.0.113.7"
    assert trusting.client_address(request("198.51.100.9", "203.0.113.7")) == "198.51.100.9"
    assert trusting.client_address(request("10.0.0.5", "not-an-ip")) == "10.0.0.5"
    with pytest.raises(ValueError, match="trusted_proxies"):
        console("10.0.0.300")


def test_x_forwarded_proto_counts_only_from_trusted_proxies():
    from assay.console.web import FORWARDED_HTTPS, TrustedProxies, parse_networks

    def seen(peer: str, proto: str, trusted: str) -> bool:
        scopes = []

        async def app(scope, receive, send):
            scopes.append(scope)

        wrapped = TrustedProxies(app, parse_networks(trusted))
        # Nothing in it waits, so one step runs it (Playwright's loop may be running here).
        step = wrapped({"type": "http", "client": (peer, 1), "headers": [
            (b"x-forwarded-proto", proto.encode())]}, None, None)
        try:
            step.send(None)
        except StopIteration:
            pass
        return bool(scopes[0].get(FORWARDED_HTTPS))

    assert seen("10.0.0.5", "https", "10.0.0.0/8")
    assert not seen("203.0.113.9", "https", "10.0.0.0/8")
    assert not seen("10.0.0.5", "https", "")
    assert not seen("10.0.0.5", "http", "10.0.0.0/8")
