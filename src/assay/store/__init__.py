"""Storage: one SQLAlchemy engine over SQLite (embedded default) or PostgreSQL.

Every service call runs in one transaction (``Store.read`` / ``Store.write``), so a rejected
call changes nothing. On SQLite, writes take the lock up front (``BEGIN IMMEDIATE``): two writers
then queue on the busy timeout instead of failing when a reader tries to become a writer.
Inside ``Store.request()`` every read of one request shares one transaction.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import threading
from pathlib import Path
from typing import Iterator

import orjson
import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from . import tables

MIGRATIONS = Path(__file__).parent / "migrations"
_WRITE = "assay_write"
_SINGLE = "assay_single_statement"


class _RequestReads:
    """The read transaction a request's reads share, opened by the first of them."""

    def __init__(self, store: "Store"):
        self.store = store
        self.conn: sa.Connection | None = None
        self.transaction: sa.RootTransaction | None = None
        self.depth = 0  # read() blocks currently using ``conn``
        self.memo: dict = {}  # what the transaction read once for the whole request

    def open(self) -> sa.Connection:
        if self.conn is None:
            self.conn = self.store.engine.connect()
            self.transaction = self.conn.begin()
        return self.conn

    def close(self, failed: bool = False) -> None:
        if self.conn is None:
            return
        conn, transaction, self.conn, self.transaction = self.conn, self.transaction, None, None
        self.memo = {}
        try:
            if failed:
                transaction.rollback()
            else:
                transaction.commit()
        finally:
            conn.close()


_REQUEST: contextvars.ContextVar[_RequestReads | None] = contextvars.ContextVar(
    "assay_request_reads", default=None)
# The connection of the write transaction this thread is in, if any.
_WRITING: contextvars.ContextVar[sa.Connection | None] = contextvars.ContextVar(
    "assay_writing", default=None)


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
            # Room for every API thread (32) and the console's (anyio's, 40): SQLite
            # connections are cheap, and a request should never queue for one.
            # hide_parameters: a failing statement's parameters (user content: evidence,
            # comments) stay out of exception texts and so out of logs.
            self.engine = sa.create_engine(
                self.url, connect_args={"check_same_thread": False, "timeout": 30},
                json_deserializer=orjson.loads, pool_size=10, max_overflow=40,
                hide_parameters=True)
            sa.event.listen(self.engine, "connect", _sqlite_connect)
            sa.event.listen(self.engine, "begin", _sqlite_begin)
        else:
            # No pool_pre_ping: it costs a round trip on every checkout. A connection that
            # died (server restart) fails its one statement, SQLAlchemy then invalidates the
            # pool, and connections older than pool_recycle are replaced before use.
            # As many connections as API threads (32): PostgreSQL's default allows 100.
            self.engine = sa.create_engine(self.url, pool_size=10, max_overflow=22,
                                           pool_recycle=3600, json_deserializer=orjson.loads,
                                           hide_parameters=True)
        self._migrated = False
        self._lock = threading.Lock()

    # -- transactions -------------------------------------------------------------------

    @contextlib.contextmanager
    def request(self) -> Iterator[None]:
        """Scope of one API or console request: its reads (authentication, account status,
        the operation's own reads) share one read transaction on one connection, checked out
        once. A write inside still runs in a transaction of its own (``write``), after the
        shared read transaction ends when no read is using it, so a SQLite writer never has
        to upgrade a read lock."""
        reads = _RequestReads(self)
        token = _REQUEST.set(reads)
        failed = False
        try:
            yield
        except BaseException:
            failed = True
            raise
        finally:
            _REQUEST.reset(token)
            reads.close(failed)

    def _request_reads(self) -> _RequestReads | None:
        reads = _REQUEST.get()
        return reads if reads is not None and reads.store is self else None

    @contextlib.contextmanager
    def read(self) -> Iterator[sa.Connection]:
        """A read transaction. Inside a write transaction, that transaction: a read then sees
        the write's own changes, and a writer never waits for a second pooled connection while
        it holds locks (under load that wait could last until every connection is held by a
        request queued behind those locks). Inside ``request()``, the request's shared one."""
        writing = _WRITING.get()
        if writing is not None and writing.engine is self.engine:
            yield writing
            return
        reads = self._request_reads()
        if reads is not None:
            reads.depth += 1
            try:
                yield reads.open()
            finally:
                reads.depth -= 1
            return
        with self.engine.connect() as conn:
            with conn.begin():
                yield conn

    @contextlib.contextmanager
    def read_one(self) -> Iterator[sa.Connection]:
        """For a single SELECT: no explicit transaction (one statement is atomic by itself),
        which saves the BEGIN/COMMIT round trip; inside a request, its shared transaction."""
        if self._request_reads() is not None or _WRITING.get() is not None:
            with self.read() as conn:
                yield conn
            return
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
        reads = self._request_reads()
        if reads is not None and reads.depth == 0:
            reads.close()  # read-only so far: nothing to keep, and no lock to upgrade
        with self.engine.connect() as conn:
            conn = conn.execution_options(**{_WRITE: True})
            with conn.begin():
                token = _WRITING.set(conn)
                try:
                    yield conn
                finally:
                    _WRITING.reset(token)

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
                self.upgrade("head")
            self._migrated = True

    def upgrade(self, revision: str) -> None:
        """Apply the migrations up to ``revision`` (an Alembic revision id, or "head") in one
        transaction; an older revision is how upgrade tests build yesterday's schema."""
        with self.engine.begin() as conn:
            cfg = self._alembic_config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)

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
    if not path.exists():
        # Only a missing file is opened here: closing any descriptor of a database file drops
        # every POSIX lock this process holds on it, so an open SQLite connection in this
        # process (a second Store on the same file) would lose its locks (SQLite's "disk I/O
        # error"). An existing file is only chmod-ed, by path.
        try:
            os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            pass
    for companion in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if companion.exists() and companion.stat().st_mode & 0o077:
            companion.chmod(0o600)


def request_memo(conn: sa.Connection) -> dict | None:
    """A dict that lives as long as ``conn``'s transaction when ``conn`` is the shared read
    transaction of a request (``Store.request``); None otherwise. For values a request needs
    several times and that its transaction would read the same each time."""
    reads = _REQUEST.get()
    return reads.memo if reads is not None and reads.conn is conn else None


def is_unique_violation(error: sa.exc.IntegrityError, column: sa.Column) -> bool:
    """Whether ``error`` broke the unique constraint of ``column``. On PostgreSQL two writers
    that each found a name free both insert it: the second waits for the first and then fails
    here. (On SQLite whole write transactions queue, so the second's check sees the first.)"""
    table = column.table.name
    diag = getattr(error.orig, "diag", None)
    if diag is not None:  # psycopg; PostgreSQL names a column's UNIQUE <table>_<column>_key
        return diag.constraint_name == f"{table}_{column.name}_key"
    return str(error.orig) == f"UNIQUE constraint failed: {table}.{column.name}"


def _sqlite_connect(dbapi_connection, _record) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own handling is lazy).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # 16 MiB of pages per connection, not SQLite's 2 MiB (allocated as pages are used): a ledger
    # batch inserts 2,000 random evidence ids into the unique index, and with the small cache
    # each touched index page was read back from the OS again (bench/README.md, "cloudtrail").
    cursor.execute("PRAGMA cache_size=-16384")
    cursor.close()


def _sqlite_begin(conn: sa.Connection) -> None:
    options = conn.get_execution_options()
    if options.get(_SINGLE):
        return
    # Straight to the driver: BEGIN returns nothing, and every request starts a transaction.
    conn.connection.dbapi_connection.execute("BEGIN IMMEDIATE" if options.get(_WRITE) else "BEGIN")


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


__all__ = ["Store", "is_unique_violation", "request_memo", "schema_present", "tables"]
