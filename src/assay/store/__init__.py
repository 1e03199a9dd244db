"""Storage: one SQLAlchemy engine over SQLite (embedded default) or PostgreSQL.

Every service call runs in one transaction (``Store.read`` / ``Store.write``), so a rejected
call changes nothing. On SQLite, writes take the lock up front (``BEGIN IMMEDIATE``): two writers
then queue on the busy timeout instead of failing when a reader tries to become a writer.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path
from typing import Iterator

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from . import tables

MIGRATIONS = Path(__file__).parent / "migrations"
_WRITE = "assay_write"
_SINGLE = "assay_single_statement"


def _normalise_url(url: str) -> str:
    # People write postgresql:// or postgres://; we always drive PostgreSQL with psycopg 3.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


class Store:
    def __init__(self, url: str):
        self.url = _normalise_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        if self.is_sqlite:
            path = self.url.split("///", 1)[-1]
            if path and path != ":memory:":
                _private_database(Path(path))
            # hide_parameters: a failing statement's parameters (user content: evidence,
            # comments) stay out of exception texts and so out of logs.
            self.engine = sa.create_engine(
                self.url, connect_args={"check_same_thread": False, "timeout": 30},
                hide_parameters=True)
            sa.event.listen(self.engine, "connect", _sqlite_connect)
            sa.event.listen(self.engine, "begin", _sqlite_begin)
        else:
            self.engine = sa.create_engine(self.url, pool_size=10, max_overflow=20,
                                           pool_pre_ping=True, hide_parameters=True)
        self._migrated = False
        self._lock = threading.Lock()

    # -- transactions -------------------------------------------------------------------

    @contextlib.contextmanager
    def read(self) -> Iterator[sa.Connection]:
        with self.engine.connect() as conn:
            with conn.begin():
                yield conn

    @contextlib.contextmanager
    def read_one(self) -> Iterator[sa.Connection]:
        """For a single SELECT: no explicit transaction (one statement is atomic by itself),
        which saves the BEGIN/COMMIT round trip on the hot path of every request."""
        with self.engine.connect() as conn:
            yield conn.execution_options(**{_SINGLE: True})

    @contextlib.contextmanager
    def write_in(self, conn: sa.Connection | None) -> Iterator[sa.Connection]:
        """The caller's open transaction when it has one (use cases composed into one
        transaction), else a new write transaction."""
        if conn is not None:
            yield conn
        else:
            with self.write() as fresh:
                yield fresh

    @contextlib.contextmanager
    def write(self) -> Iterator[sa.Connection]:
        with self.engine.connect() as conn:
            conn = conn.execution_options(**{_WRITE: True})
            with conn.begin():
                yield conn

    # -- schema -------------------------------------------------------------------------

    def migrate(self) -> None:
        """Bring the schema to the newest revision (idempotent, quick when current)."""
        with self._lock:
            if self._migrated:
                return
            head = ScriptDirectory.from_config(self._alembic_config()).get_current_head()
            with self.engine.connect() as conn:
                current = MigrationContext.configure(conn).get_current_revision()
            if current != head:
                with self.engine.begin() as conn:
                    cfg = self._alembic_config()
                    cfg.attributes["connection"] = conn
                    command.upgrade(cfg, "head")
            self._migrated = True

    def _alembic_config(self) -> AlembicConfig:
        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        return cfg

    def dispose(self) -> None:
        self.engine.dispose()


def _private_database(path: Path) -> None:
    """Create the SQLite file 0600 (its folder 0700 when created here) whatever the umask, and
    tighten an existing one: it holds evidence and change logs. SQLite gives the -wal and -shm
    files the database file's mode; ones left by an older version are tightened too."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    for companion in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if companion.exists() and companion.stat().st_mode & 0o077:
            companion.chmod(0o600)


def _sqlite_connect(dbapi_connection, _record) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own handling is lazy).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(conn: sa.Connection) -> None:
    options = conn.get_execution_options()
    if options.get(_SINGLE):
        return
    conn.exec_driver_sql("BEGIN IMMEDIATE" if options.get(_WRITE) else "BEGIN")


def schema_present(url: str) -> bool:
    """Whether the database at ``url`` already holds an Assay schema (Alembic's version table),
    found without creating anything: a missing SQLite file is no instance.

    Raises ``sqlalchemy.exc.OperationalError`` when a server database cannot be reached."""
    url = _normalise_url(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if not path or path == ":memory:" or not Path(path).is_file():
            return False
        # Read-only URI: looking must not create or migrate the file.
        url = f"sqlite:///file:{path}?mode=ro&uri=true"
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return sa.inspect(conn).has_table("alembic_version")
    finally:
        engine.dispose()


__all__ = ["Store", "schema_present", "tables"]
