"""What admits a request (its access key, the account status), cached per server process.

Every change to access keys or to the account status increments the one-row counter
``access_version`` in the same transaction (``AccessCache.changed``). Every lookup reads that
counter, one primary-key row, in the reader's transaction: while it is unchanged the cached
values stand; once it moves, the cache starts empty. So a key revoked through any server (or
`assay keys revoke` on the host) is refused by every server sharing the database on its next
request, while a request costs one small read instead of a key row, a secret decryption and
the account document.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Hashable

import sqlalchemy as sa

from ..store import Query, request_memo, tables

# On the DB-API cursor of the reader's transaction (``Query``): the hottest read there is.
_VERSION = Query(sa.select(tables.access_version.c.version)
                 .where(tables.access_version.c.id == 1))
_BUMP = (tables.access_version.update().where(tables.access_version.c.id == 1)
         .values(version=tables.access_version.c.version + 1))


class AccessCache:
    """Values loaded from the database, valid while ``access_version`` stays the same."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version: int | None = None
        self._entries: dict[Hashable, Any] = {}

    def get(self, conn: sa.Connection, key: Hashable, load: Callable[[sa.Connection], Any]) -> Any:
        """The value of ``key``: cached when the counter is unchanged, else ``load(conn)``
        (in the caller's transaction, after the counter was read, so what is cached is never
        older than the version it is filed under). None is never cached: lookups of unknown
        ids must not grow the cache."""
        entries = self._entries_at(self._version_in(conn))
        if entries is not None and key in entries:
            return entries[key]
        value = load(conn)
        if entries is not None and value is not None:
            entries[key] = value
        return value

    @staticmethod
    def _version_in(conn: sa.Connection) -> int:
        """The counter as ``conn``'s transaction sees it: read once per request (its key and
        its account status are two lookups), once per call outside a request."""
        memo = request_memo(conn)
        if memo is not None and "access_version" in memo:
            return memo["access_version"]
        version = _VERSION.first(conn).version
        if memo is not None:
            memo["access_version"] = version
        return version

    def changed(self, conn: sa.Connection) -> None:
        """Record, in the writer's transaction, that keys or the account status changed."""
        conn.execute(_BUMP)

    def _entries_at(self, version: int) -> dict[Hashable, Any] | None:
        """The entries valid at ``version``; None for a reader whose snapshot is older than
        what the cache already holds (it loads without caching)."""
        with self._lock:
            if self._version is None or version > self._version:
                self._version, self._entries = version, {}
            return self._entries if version == self._version else None
