"""Console sessions and CSRF tokens.

A session is a cookie the server signed with the instance's Ed25519 key (the one that seals the
ledger, under its own message prefix): ``<payload>.<signature>``, the payload naming a random
session id, the access key and two times. Nothing is stored server side, so any server sharing
the database and signing key accepts it, and a restart signs nobody out. What keeps it honest:

- the key is checked on every request (``keys.authenticate``, cached behind a change counter
  read each time): revoking a key ends its sessions at once, on every server;
- it expires after ``IDLE_SECONDS`` without a request and ``ABSOLUTE_SECONDS`` after sign-in;
- signing out forgets the session id on this server (and clears the cookie in the browser).

The CSRF token of a session is derived from its id with the same key, so it needs no storage
either, and every POST must carry it (a form field or the ``X-CSRF-Token`` header).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass, replace

import orjson

from ..service.signing import Signer

COOKIE = "assay_console"
SIGN_IN_COOKIE = "assay_console_signin"  # double-submit token of the sign-in form
IDLE_SECONDS = 8 * 3600
ABSOLUTE_SECONDS = 24 * 3600
REFRESH_AFTER = 300  # re-issue the cookie (sliding idle expiry) at most every 5 minutes
_SESSION_PREFIX = b"assay-console-session/v1|"
_CSRF_PREFIX = b"assay-console-csrf/v1|"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Session:
    sid: str
    key_id: str
    issued: int
    seen: int

    def stale(self, now: float) -> bool:
        """Time to re-issue the cookie with a fresh ``seen``."""
        return now - self.seen > REFRESH_AFTER


class Sessions:
    def __init__(self, signer: Signer, clock=time.time):
        self.signer = signer
        self.clock = clock
        self._ended: dict[str, float] = {}  # signed-out session id -> when it would expire
        self._lock = threading.Lock()

    # -- sessions ---------------------------------------------------------------------------

    def new(self, key_id: str) -> Session:
        now = int(self.clock())
        return Session(secrets.token_urlsafe(18), key_id, now, now)

    def touched(self, session: Session) -> Session:
        return replace(session, seen=int(self.clock()))

    def encode(self, session: Session) -> str:
        payload = _b64(orjson.dumps([1, session.sid, session.key_id, session.issued, session.seen]))
        signature = base64.b64decode(self.signer.sign(_SESSION_PREFIX + payload.encode()))
        return f"{payload}.{_b64(signature)}"

    def decode(self, value: str | None) -> Session | None:
        """The session a cookie carries, or None when it is forged, expired or signed out."""
        if not value or value.count(".") != 1 or len(value) > 1024:
            return None
        payload, signature = value.split(".")
        try:
            signature_b64 = base64.b64encode(_unb64(signature)).decode()
        except ValueError:
            return None
        if not self.signer.verify(signature_b64, _SESSION_PREFIX + payload.encode()):
            return None
        try:
            version, sid, key_id, issued, seen = orjson.loads(_unb64(payload))
        except (ValueError, TypeError):
            return None
        if version != 1:
            return None
        now = self.clock()
        if now - seen > IDLE_SECONDS or now - issued > ABSOLUTE_SECONDS:
            return None
        with self._lock:
            if sid in self._ended:
                return None
        return Session(sid, key_id, int(issued), int(seen))

    def end(self, session: Session) -> None:
        """Sign out: this session id is refused from now on (on this server)."""
        now = self.clock()
        with self._lock:
            for sid in [s for s, until in self._ended.items() if until < now]:
                del self._ended[sid]
            self._ended[session.sid] = session.issued + ABSOLUTE_SECONDS

    # -- CSRF -----------------------------------------------------------------------------

    def csrf_token(self, session: Session) -> str:
        # Ed25519 signatures are deterministic, so the token is stable for the session.
        signature = self.signer.sign(_CSRF_PREFIX + session.sid.encode())
        return _b64(hashlib.sha256(signature.encode()).digest())

    def csrf_ok(self, session: Session, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf_token(session).encode(),
                                                   token.encode())


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison of a typed secret with the stored one."""
    return hmac.compare_digest(given.encode(), expected.encode())
