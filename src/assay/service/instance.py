"""The instance's own identity and documents (account id, Audit Manager settings, account
status), stored as JSON documents in the ``instance`` table."""

from __future__ import annotations

import secrets
from typing import Any

import sqlalchemy as sa

from ..store import tables


def get_document(conn: sa.Connection, name: str, default: Any = None) -> Any:
    row = conn.execute(
        sa.select(tables.instance.c.value).where(tables.instance.c.name == name)
    ).first()
    return default if row is None else row.value


def put_document(conn: sa.Connection, name: str, value: Any) -> None:
    updated = conn.execute(
        tables.instance.update().where(tables.instance.c.name == name).values(value=value)
    )
    if updated.rowcount == 0:
        conn.execute(tables.instance.insert().values(name=name, value=value))


def ensure_account_id(conn: sa.Connection, configured: str) -> str:
    """The 12-digit account id in every ARN: configured, or generated once and kept."""
    if configured:
        return configured
    identity = get_document(conn, "identity") or {}
    if "account_id" not in identity:
        identity["account_id"] = "".join(secrets.choice("0123456789") for _ in range(12))
        put_document(conn, "identity", identity)
    return identity["account_id"]
