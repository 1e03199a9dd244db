"""Console sessions and CSRF tokens.

A session is a cookie the server signed with the instance's Ed25519 key (the one that seals the
ledger, under its own message prefix): ``<payload>.<signature>``, the payload naming a random
session id, the access key and two times. Nothing is stored server side, so any server sharing
the database and signing key accepts it, and a restart signs nobody out. What keeps it honest:

- the key is checked on every request (``keys.authenticate``, cached behind a change counter
  read each time): revoking a key ends its sessions at once, on every server;
- it expires after ``IDLE_SECONDS`` without a request and ``ABSOLUTE_SECONDS`` after sign-in;
- signing out records the session id in the database (``service.sessions``) until the cookie
  would have expired: every server sharing the database refuses it, also after a restart.

The CSRF token of a session is derived from its id with the same key, so it needs no storage
either, and every POST must carry it (a form field or the ``X-CSRF-Token`` header).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, replace

import orjson

from ..service.sessions import SessionService
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
    key_id: str   # the access key signed in with; "" for a single sign-on session
    issued: int
    seen: int
    # A single sign-on session's principal (arn, name, role), as the identity provider's claims
    # mapped it at sign-in (service.sso); None for an access key session.
    principal: tuple[str, str, str] | None = None

    def stale(self, now: float) -> bool:
        """Time to re-issue the cookie with a fresh ``seen``."""
        return now - self.seen > REFRESH_AFTER


class Sessions:
    def __init__(self, signer: Signer, ended: SessionService, clock=time.time):
        self.signer = signer
        self.ended = ended
        self.clock = clock

    # -- sessions ---------------------------------------------------------------------------

    def new(self, key_id: str, principal: tuple[str, str, str] | None = None) -> Session:
        now = int(self.clock())
        return Session(secrets.token_urlsafe(18), key_id, now, now, principal)

    def touched(self, session: Session) -> Session:
        return replace(session, seen=int(self.clock()))

    def encode(self, session: Session) -> str:
        fields = [1, session.sid, session.key_id, session.issued, session.seen]
        if session.principal:
            fields = [2, *fields[1:], list(session.principal)]
        payload = _b64(orjson.dumps(fields))
        signature = base64.b64decode(self.signer.sign(_SESSION_PREFIX + payload.encode()))
        return f"{payload}.{_b64(signature)}"

    def decode(self, value: str | None) -> Session | None:
        """The session a cookie carries, or None when it is forged or expired. Cheap (no
        database): whether it was signed out is ``is_ended``, asked in a worker thread."""
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
            version, sid, key_id, issued, seen, *rest = orjson.loads(_unb64(payload))
            principal = tuple(str(p) for p in rest[0]) if version == 2 else None
        except (ValueError, TypeError, IndexError):
            return None
        if version not in (1, 2) or (principal is not None and len(principal) != 3):
            return None
        now = self.clock()
        if now - seen > IDLE_SECONDS or now - issued > ABSOLUTE_SECONDS:
            return None
        return Session(sid, key_id, int(issued), int(seen), principal)

    def is_ended(self, session: Session) -> bool:
        """Signed out (on any server sharing the database). Blocking: call from a worker thread."""
        return self.ended.is_ended(session.sid)

    def end(self, session: Session, principal_arn: str) -> None:
        """Sign out: this session id is refused from now on, on every server. Blocking."""
        self.ended.end(session.sid, principal_arn, session.issued + ABSOLUTE_SECONDS)

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
