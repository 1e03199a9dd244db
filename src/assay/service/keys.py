"""Principals and their access keys.

The identity is a principal: an IAM-style role or user ARN of the instance's account
(``arn:aws:iam::<account>:role/AuditOwner``, ``...:user/alice``), as Audit Manager's assessment
roles, delegations and ``defaultProcessOwners`` name it. Any well-formed principal of the
account may be named there, with or without keys. An access key is issued to a principal
(several keys per principal, all with the principal's role); whoever signs with it acts as
that principal. A key created without a principal gets its own, ``role/<key name>``.

Secrets are needed in clear to verify SigV4, so they are stored encrypted (Fernet) under the
instance's secret key, never in plain text."""

from __future__ import annotations

import os
import re
import secrets
import string
import time
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken

from ..store import Store, tables
from .access_cache import AccessCache
from .auth import MANAGE_ASSESSMENT, MANAGE_KEYS, ROLES, Caller, principal_caller
from .errors import NotFoundError, ValidationError, refuse_duplicate

_ID_ALPHABET = string.ascii_uppercase + "234567"
_SECRET_ALPHABET = string.ascii_letters + string.digits + "+/"
KEY_ID_PREFIX = "AKAS"  # Assay-issued; 20 characters like AWS's own access key ids
# An IAM role or user ARN: arn:<partition>:iam::<12 digits>:role|user/[path/]name. Names and
# path segments use IAM's characters (IAM API reference: RoleName/UserName [\w+=,.@-]+, 1-64).
_PRINCIPAL = re.compile(
    r"^arn:aws[a-z-]*:iam::(?P<account>\d{12}):(?P<kind>role|user)/"
    r"(?:[\w+=,.@-]+/)*(?P<name>[\w+=,.@-]{1,64})$")
_BY_ID = sa.select(tables.access_keys).where(
    tables.access_keys.c.access_key_id == sa.bindparam("key_id"))


@dataclass(frozen=True)
class AccessKey:
    access_key_id: str
    name: str
    role: str
    arn: str            # the principal the key is issued to
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
        """The principal of a key created without one: ``role/<key name>``."""
        return f"arn:aws:iam::{self.account_id}:role/{name}"

    def principal_problem(self, arn: str) -> str | None:
        """Why ``arn`` cannot be named as a principal (in assessment roles, delegations,
        defaultProcessOwners, ``keys create --arn``), or None when it can: a well-formed IAM
        role or user ARN of the instance's account."""
        found = _PRINCIPAL.match(arn or "")
        if not found:
            return (f"{arn} is not an IAM role or user ARN "
                    f"(arn:aws:iam::{self.account_id}:role/NAME or ...:user/NAME).")
        if found["account"] != self.account_id:
            return (f"{arn} belongs to account {found['account']}; this Assay instance is "
                    f"account {self.account_id}.")
        return None

    def is_principal(self, arn: str) -> bool:
        return self.principal_problem(arn) is None

    def create(self, name: str | None, role: str, caller: Caller | None = None,
               arn: str | None = None) -> NewKey:
        """Create a key for principal ``arn`` (several keys per principal, all with its role),
        or, without ``arn``, for the principal ``role/<name>``. ``name`` defaults to the
        principal's name and the key id's last characters. ``caller`` is who asks (the
        console's admins); None is the operator on the host, who manages keys with direct
        access to the database. Raises ValidationError naming ``role``, ``name`` or ``arn``."""
        if caller is not None:
            caller.require(MANAGE_KEYS)
        if role not in ROLES:
            raise ValidationError.field("role", f"Role must be one of {', '.join(ROLES)}.")
        key_id = KEY_ID_PREFIX + "".join(secrets.choice(_ID_ALPHABET) for _ in range(16))
        if arn is not None:
            problem = self.principal_problem(arn)
            if problem:
                raise ValidationError.field("arn", problem)
            name = name or f"{arn.rsplit('/', 1)[-1][:56]}-{key_id[-6:].lower()}"
        if not name or len(name) > 64 or not all(c.isalnum() or c in "+=,.@_-" for c in name):
            raise ValidationError.field(
                "name", "A key name is 1-64 letters, digits and +=,.@_- (it becomes a role ARN)."
            )
        principal = arn or self.arn_for(name)
        secret = "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40))
        now = time.time()
        k = tables.access_keys
        taken_message = f"A key named '{name}' already exists."
        with refuse_duplicate(k.c.name, "name", taken_message), self.store.write() as conn:
            taken = conn.execute(sa.select(k.c.access_key_id).where(k.c.name == name)).first()
            if taken:
                raise ValidationError.field("name", taken_message)
            # A principal has one role, whichever of its keys signs.
            other = conn.execute(sa.select(k.c.role).where(
                k.c.principal_arn == principal, k.c.revoked_at.is_(None))).first()
            if other and other.role != role:
                raise ValidationError.field(
                    "role", f"{principal} has role {other.role} (its other keys); a principal's "
                            "keys all act with the same role.")
            conn.execute(k.insert().values(
                access_key_id=key_id, name=name, role=role, created_at=now, principal_arn=principal,
                secret_encrypted=self.cipher.encrypt(secret.encode()).decode(),
            ))
            self.cache.changed(conn)
        return NewKey(AccessKey(key_id, name, role, principal, now, None), secret)

    def adopt_legacy_keys(self) -> int:
        """Keys made before principals existed act as ``role/<key name>``: record that
        principal on each (once, at start, when the instance's account id is known)."""
        k = tables.access_keys
        with self.store.write() as conn:
            names = conn.execute(sa.select(k.c.name).where(k.c.principal_arn.is_(None))).scalars().all()
            for name in names:
                conn.execute(k.update().where(k.c.name == name)
                             .values(principal_arn=self.arn_for(name)))
            if names:
                self.cache.changed(conn)
        return len(names)

    def list(self, caller: Caller | None = None) -> list[AccessKey]:
        if caller is not None:
            caller.require(MANAGE_KEYS)
        with self.store.read() as conn:
            rows = conn.execute(
                sa.select(tables.access_keys).order_by(tables.access_keys.c.created_at)
            ).all()
        return [self._key(row) for row in rows]

    def delegates(self, caller: Caller) -> list[AccessKey]:
        """One active key per delegate principal: whom an assessment owner picks in the console
        to delegate control sets to (the API takes any principal ARN)."""
        caller.require(MANAGE_ASSESSMENT)
        found: dict[str, AccessKey] = {}
        for key in self.list():
            if key.role == "delegate" and key.revoked_at is None:
                found.setdefault(key.arn, key)
        return list(found.values())

    def principals(self, caller: Caller) -> list[AccessKey]:
        """Every active principal an assessment owner may assign work to or ask for approval
        (auditors excluded: they read)."""
        caller.require(MANAGE_ASSESSMENT)
        return [k for k in self.list() if k.role != "auditor" and k.revoked_at is None]

    def principal(self, principal_arn: str, region: str) -> Caller:
        """The Caller of a principal that has an active key, acting with its keys' role (the
        host's operator running a command "as" someone). Raises NotFoundError otherwise."""
        with self.store.read() as conn:
            role = self.role_of(conn, principal_arn)
        if role is None:
            raise NotFoundError("principal", principal_arn,
                                f"No active Assay key has the principal {principal_arn}.")
        return principal_caller(principal_arn, role, region)

    @staticmethod
    def role_of(conn: sa.Connection, principal_arn: str) -> str | None:
        """The role of a principal that has an active key (all of a principal's keys share
        one role), or None: whom work can be assigned to or an approval asked of."""
        k = tables.access_keys
        return conn.execute(sa.select(k.c.role).where(
            k.c.principal_arn == principal_arn, k.c.revoked_at.is_(None)).limit(1)).scalar()

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
        """Whoever signs with ``key`` acts as its principal, with the principal's role."""
        return principal_caller(key.arn, key.role, region, name=key.name, key_id=key.access_key_id)

    def _row(self, conn: sa.Connection, key_id: str):
        row = conn.execute(
            sa.select(tables.access_keys).where(tables.access_keys.c.access_key_id == key_id)
        ).first()
        if row is None:
            raise NotFoundError("access key", key_id)
        return row

    def _key(self, row) -> AccessKey:
        return AccessKey(row.access_key_id, row.name, row.role,
                         row.principal_arn or self.arn_for(row.name), row.created_at, row.revoked_at)

