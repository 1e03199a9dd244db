"""Access keys: the identities that sign requests. Secrets are needed in clear to verify SigV4,
so they are stored encrypted (Fernet) under the instance's secret key, never in plain text."""

from __future__ import annotations

import os
import secrets
import string
import time
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken

from ..store import Store, tables
from .access_cache import AccessCache
from .auth import MANAGE_ASSESSMENT, MANAGE_KEYS, ROLES, Caller
from .errors import NotFoundError, ValidationError, refuse_duplicate

_ID_ALPHABET = string.ascii_uppercase + "234567"
_SECRET_ALPHABET = string.ascii_letters + string.digits + "+/"
KEY_ID_PREFIX = "AKAS"  # Assay-issued; 20 characters like AWS's own access key ids
_BY_ID = sa.select(tables.access_keys).where(
    tables.access_keys.c.access_key_id == sa.bindparam("key_id"))


@dataclass(frozen=True)
class AccessKey:
    access_key_id: str
    name: str
    role: str
    arn: str
    created_at: float
    revoked_at: float | None


@dataclass(frozen=True)
class NewKey:
    key: AccessKey
    secret_access_key: str


def load_cipher(secret_key: str, home: Path) -> Fernet:
    """The Fernet cipher for secrets: ASSAY_SECRET_KEY, or ``<home>/secret.key`` (created 0600)."""
    if secret_key:
        return Fernet(secret_key.encode())
    path = home / "secret.key"
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(Fernet.generate_key())
    return Fernet(path.read_bytes().strip())


class KeyService:
    def __init__(self, store: Store, cipher: Fernet, account_id: str, cache: AccessCache):
        self.store = store
        self.cipher = cipher
        self.account_id = account_id
        # Active keys with their clear secret (Fernet costs an HMAC and AES per decryption),
        # valid until any key changes anywhere: see AccessCache.
        self.cache = cache

    def arn_for(self, name: str) -> str:
        return f"arn:aws:iam::{self.account_id}:role/{name}"

    def create(self, name: str, role: str, caller: Caller | None = None) -> NewKey:
        """Create a key. ``caller`` is who asks (the console's admins); None is the operator
        on the host, who manages keys with direct access to the database."""
        if caller is not None:
            caller.require(MANAGE_KEYS)
        if role not in ROLES:
            raise ValidationError.field("role", f"Role must be one of {', '.join(ROLES)}.")
        if not name or len(name) > 64 or not all(c.isalnum() or c in "+=,.@_-" for c in name):
            raise ValidationError.field(
                "name", "A key name is 1-64 letters, digits and +=,.@_- (it becomes a role ARN)."
            )
        key_id = KEY_ID_PREFIX + "".join(secrets.choice(_ID_ALPHABET) for _ in range(16))
        secret = "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40))
        now = time.time()
        taken = f"A key named '{name}' already exists."
        with refuse_duplicate(tables.access_keys.c.name, "name", taken), \
                self.store.write() as conn:
            if conn.execute(sa.select(tables.access_keys.c.access_key_id)
                            .where(tables.access_keys.c.name == name)).first():
                raise ValidationError.field("name", taken)
            conn.execute(tables.access_keys.insert().values(
                access_key_id=key_id, name=name, role=role, created_at=now,
                secret_encrypted=self.cipher.encrypt(secret.encode()).decode(),
            ))
            self.cache.changed(conn)
        return NewKey(AccessKey(key_id, name, role, self.arn_for(name), now, None), secret)

    def list(self, caller: Caller | None = None) -> list[AccessKey]:
        if caller is not None:
            caller.require(MANAGE_KEYS)
        with self.store.read() as conn:
            rows = conn.execute(
                sa.select(tables.access_keys).order_by(tables.access_keys.c.created_at)
            ).all()
        return [self._key(row) for row in rows]

    def delegates(self, caller: Caller) -> list[AccessKey]:
        """The active delegate keys an assessment owner may delegate control sets to."""
        caller.require(MANAGE_ASSESSMENT)
        return [k for k in self.list() if k.role == "delegate" and k.revoked_at is None]

    def revoke(self, key_id: str, caller: Caller | None = None) -> AccessKey:
        if caller is not None:
            caller.require(MANAGE_KEYS)
        with self.store.write() as conn:
            row = self._row(conn, key_id)
            if row.revoked_at is None:
                conn.execute(tables.access_keys.update()
                             .where(tables.access_keys.c.access_key_id == key_id)
                             .values(revoked_at=time.time()))
                self.cache.changed(conn)
            row = self._row(conn, key_id)
        return self._key(row)

    def any_active(self) -> bool:
        with self.store.read() as conn:
            return conn.execute(
                sa.select(tables.access_keys.c.access_key_id)
                .where(tables.access_keys.c.revoked_at.is_(None)).limit(1)
            ).first() is not None

    def by_arn(self, conn: sa.Connection, arn: str) -> AccessKey | None:
        name = arn.rsplit("/", 1)[-1]
        if arn != self.arn_for(name):
            return None
        row = conn.execute(
            sa.select(tables.access_keys).where(tables.access_keys.c.name == name)
        ).first()
        return self._key(row) if row and row.revoked_at is None else None

    def authenticate(self, key_id: str) -> tuple[str, AccessKey] | None:
        """Secret and key for an active access key id, or None. Cached, but checked against
        the access version on every call, so a key that is created or revoked takes effect
        at once on every server sharing the database."""
        with self.store.read() as conn:
            return self.cache.get(conn, ("key", key_id), lambda c: self._active(c, key_id))

    def _active(self, conn: sa.Connection, key_id: str) -> tuple[str, AccessKey] | None:
        row = conn.execute(_BY_ID, {"key_id": key_id}).first()
        if row is None or row.revoked_at is not None:
            return None
        try:
            secret = self.cipher.decrypt(row.secret_encrypted.encode()).decode()
        except InvalidToken:
            return None  # encrypted under another instance key: unusable, never a match
        return secret, self._key(row)

    def caller(self, key: AccessKey, region: str) -> Caller:
        return Caller(key_id=key.access_key_id, name=key.name, role=key.role, arn=key.arn,
                      region=region)

    def _row(self, conn: sa.Connection, key_id: str):
        row = conn.execute(
            sa.select(tables.access_keys).where(tables.access_keys.c.access_key_id == key_id)
        ).first()
        if row is None:
            raise NotFoundError("access key", key_id)
        return row

    def _key(self, row) -> AccessKey:
        return AccessKey(row.access_key_id, row.name, row.role, self.arn_for(row.name),
                         row.created_at, row.revoked_at)

