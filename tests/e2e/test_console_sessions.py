"""Console sessions and CSRF tokens without a browser: signed cookies, idle and absolute
expiry, signing out, forgery."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from assay.console.sessions import ABSOLUTE_SECONDS, IDLE_SECONDS, Sessions
from assay.console.web import safe_next
from assay.service.signing import Signer


class Clock:
    def __init__(self):
        self.now = 1_800_000_000.0

    def __call__(self):
        return self.now


def sessions(clock=None, key=None):
    return Sessions(Signer(key or Ed25519PrivateKey.generate()), clock or Clock())


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
    store.end(one)
    assert store.decode(cookie) is None
    assert store.decode(store.encode(two)) == two


def test_sign_in_returns_only_to_console_pages():
    assert safe_next("/console/assessments/x?set=A") == "/console/assessments/x?set=A"
    for target in ("https://evil.example/", "//evil.example/console/", "/api", None, "",
                   "/console\\..\\evil", "/console/x?u=https://evil"):
        assert safe_next(target) == "/console/assessments"


def test_sign_in_attempts_are_throttled_per_address():
    from assay.console.signin import FAILURE_WINDOW, MAX_FAILURES, SignInThrottle

    clock = Clock()
    throttle = SignInThrottle(clock)
    for _ in range(MAX_FAILURES):
        assert throttle.wait_for("198.51.100.1") == 0
        throttle.failed("198.51.100.1")
    assert throttle.wait_for("198.51.100.1") > 0
    assert throttle.wait_for("198.51.100.2") == 0  # another address is not held back
    clock.now += FAILURE_WINDOW + 1
    assert throttle.wait_for("198.51.100.1") == 0
    throttle.failed("198.51.100.3")
    throttle.succeeded("198.51.100.3")
    assert throttle.failures.get("198.51.100.3") is None
