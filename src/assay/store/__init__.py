"""Storage: one SQLAlchemy engine over SQLite (embedded default) or PostgreSQL.

Every service call runs in one transaction (``Store.read`` / ``Store.write``), so a rejected
call changes nothing. On SQLite, writes take the lock up front (``BEGIN IMMEDIATE``): two writers
then queue on the busy timeout instead of failing when a reader tries to become a writer.
Inside ``Store.request()`` every read of one request shares one transaction. Inside
``Store.atomic()`` every write joins one transaction that commits only when the whole use case
(for the API: the handler and the serialization of its answer) has succeeded.
"""

from __future__ import annotations

import collections
import contextlib
import contextvars
import os
import threading
import time
from pathlib import Path
from typing import Iterator

import orjson
import sqlalchemy as sa

from . import tables
from .migrations.versions import HEAD

MIGRATIONS = Path(__file__).parent / "migrations"


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
            self.conn = self.store.connect()
            self.transaction = _begin(self.conn, "BEGIN")
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


class StoreBusy(Exception):
    """PostgreSQL refused new connections for ``CONNECT_PATIENCE`` seconds because it was at
    its ``max_connections`` (SQLSTATE 53300). Nothing was read or written; the work may be
    retried (the API answers ThrottlingException, which SDKs retry)."""


# How long a new PostgreSQL connection is retried while the server is at its connection
# limit: processes sharing one server (API servers, workers, the CLI) each grow and shrink
# their pools, so a refusal is usually over within milliseconds.
CONNECT_PATIENCE = 15.0
# Connections one process keeps to PostgreSQL at most (pool_size + max_overflow): the API's
# threads (app.API_THREADS_POSTGRESQL), one more so that a thread needing a second connection
# always finds one, and the event loop's. PostgreSQL allows 100 by default, shared by every
# server, worker and command: two API servers and a few workers fit.
PG_POOL_SIZE, PG_MAX_OVERFLOW = 10, 8


class WouldBlock(Exception):
    """A write was asked for inside ``Store.nonblocking()``: nothing was written (the caller
    runs the work again where it may wait, on a thread)."""


# Set inside ``Store.nonblocking()``: work running on an event loop, which must not wait for
# SQLite's write lock (the busy timeout would hold up every request of the loop).
_NONBLOCKING: contextvars.ContextVar[bool] = contextvars.ContextVar("assay_nonblocking",
                                                                     default=False)
_REQUEST: contextvars.ContextVar[_RequestReads | None] = contextvars.ContextVar(
    "assay_request_reads", default=None)
# The connection of the write transaction this thread is in, if any.
_WRITING: contextvars.ContextVar[sa.Connection | None] = contextvars.ContextVar(
    "assay_writing", default=None)
# The held transaction of ``Store.atomic`` (its connection, and what runs after its commit).
_HELD: contextvars.ContextVar[tuple[sa.Connection, list] | None] = contextvars.ContextVar(
    "assay_held", default=None)


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
            # BEGIN through the dialect's own hook rather than a "begin" event: any engine
            # event listener makes SQLAlchemy dispatch its execution events around every
            # statement (about a fifth of a primary-key read's cost, bench/README.md "api").
            self.engine.dialect.do_begin = _sqlite_do_begin
        else:
            # No pool_pre_ping: it costs a round trip on every checkout. A connection that
            # died (server restart) fails its one statement, SQLAlchemy then invalidates the
            # pool, and connections older than pool_recycle are replaced before use.
            # A connection refused because the server is at its limit is waited for
            # (``connect``), never a failed request.
            self.engine = sa.create_engine(self.url, pool_size=PG_POOL_SIZE,
                                           max_overflow=PG_MAX_OVERFLOW,
                                           pool_recycle=3600, json_deserializer=orjson.loads,
                                           hide_parameters=True)
        # A pooled connection (``sa.Connection``); on PostgreSQL one that waits out the
        # server's connection limit.
        self.connect = self.engine.connect if self.is_sqlite else self._connect_patiently
        self._migrated = False
        self._lock = threading.Lock()

    def _connect_patiently(self) -> sa.Connection:
        """A pooled PostgreSQL connection. While the server refuses new connections for being
        at its connection limit (SQLSTATE 53300), tried again with backoff (10 ms doubling to
        100 ms): each try first takes a connection another thread has returned to the pool,
        so a pool larger than the server allows waits rather than fails. After
        ``CONNECT_PATIENCE`` seconds, ``StoreBusy``; any other failure at once."""
        delay, deadline = 0.01, None
        while True:
            try:
                return self.engine.connect()
            except sa.exc.OperationalError as error:
                if not _at_connection_limit(error.orig):
                    raise
                deadline = deadline or time.monotonic() + CONNECT_PATIENCE
                if time.monotonic() >= deadline:
                    raise StoreBusy("PostgreSQL is at its connection limit "
                                    "(max_connections); retry, or raise max_connections") \
                        from None
                time.sleep(delay)
                delay = min(delay * 2, 0.1)

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

    @contextlib.contextmanager
    def nonblocking(self) -> Iterator[None]:
        """Scope of work that must not wait on a lock: reads only; ``write`` raises
        ``WouldBlock`` before it takes a connection."""
        token = _NONBLOCKING.set(True)
        try:
            yield
        finally:
            _NONBLOCKING.reset(token)

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
        with self.connect() as conn:
            with _begin(conn, "BEGIN"):
                yield conn

    @contextlib.contextmanager
    def read_one(self) -> Iterator[sa.Connection]:
        """For a single SELECT: no explicit transaction (one statement is atomic by itself),
        which saves the BEGIN/COMMIT round trip; inside a request, its shared transaction."""
        if self._request_reads() is not None or _WRITING.get() is not None:
            with self.read() as conn:
                yield conn
            return
        with self.connect() as conn:
            token = _BEGIN.set("")  # the statement's own autobegin issues no BEGIN
            try:
                yield conn
            finally:
                _BEGIN.reset(token)

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
    def atomic(self) -> Iterator[None]:
        """One write transaction for a whole use case: every ``write()`` inside joins it, and
        it commits only when the block ends without an exception (an error anywhere, e.g. an
        answer that does not fit its output shape, leaves nothing written). Work that must
        follow the commit (notifications, background jobs) goes through ``after_commit``.
        On SQLite the write lock is taken when the block starts."""
        if self._held() is not None:
            yield
            return
        callbacks: list = []
        with self.write() as conn:
            token = _HELD.set((conn, callbacks))
            try:
                yield
            finally:
                _HELD.reset(token)
        for callback in callbacks:
            callback()

    def after_commit(self, callback) -> None:
        """Run ``callback()`` once the enclosing ``atomic()`` transaction has committed, or now
        when there is none (a plain ``write()`` has already committed when its block ends).
        A rolled-back transaction drops its callbacks."""
        held = self._held()
        if held is None:
            callback()
        else:
            held[1].append(callback)

    def _held(self) -> tuple[sa.Connection, list] | None:
        held = _HELD.get()
        return held if held is not None and held[0].engine is self.engine else None

    @contextlib.contextmanager
    def write(self) -> Iterator[sa.Connection]:
        held = self._held()
        if held is not None:  # inside atomic(): one transaction for the whole use case
            yield held[0]
            return
        if _NONBLOCKING.get():
            raise WouldBlock("a write inside Store.nonblocking()")
        reads = self._request_reads()
        if reads is not None and reads.depth == 0:
            reads.close()  # read-only so far: nothing to keep, and no lock to upgrade
        with self.connect() as conn:
            with _begin(conn, "BEGIN IMMEDIATE"):
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
            if self.revision() != HEAD:
                self.upgrade("head")
            self._migrated = True

    def revision(self) -> str | None:
        """The schema's Alembic revision id, or None before the first migration. Read with
        one SELECT: Alembic is imported only when there is something to apply."""
        with self.connect() as conn:
            if not sa.inspect(conn).has_table("alembic_version"):
                return None
            found = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars()
            # Alembic keeps a row per head; Assay's chain has one, so this is just its id.
            return ",".join(sorted(found)) or None

    def upgrade(self, revision: str) -> None:
        """Apply the migrations up to ``revision`` (an Alembic revision id, or "head") in one
        transaction; an older revision is how upgrade tests build yesterday's schema."""
        from alembic import command

        with self.engine.begin() as conn:
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config():
    """Alembic's configuration for Assay's migrations (imports Alembic: call it only when
    migrating or inspecting the revision graph)."""
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


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


_UNKNOWN = object()  # Query: result processors not yet known


class Query:
    """A SELECT that runs on the DB-API cursor of the caller's connection: SQLAlchemy compiles
    it once per dialect (so one definition serves SQLite's ``?`` and psycopg's ``%(name)s``
    parameters) and its columns keep their types' result processing (JSON text parsed on
    SQLite; psycopg parses it itself), so rows equal those of ``conn.execute(statement)``.
    What it saves is SQLAlchemy's per-execution work: about 40 µs a statement against 7 on
    the cursor (bench/README.md, "api").

    ``statement``: a ``sa.Select`` whose parameters are plain ``sa.bindparam`` (no expanding
    IN lists). Rows are named tuples of the selected columns (``row.id``, ``row[0]``).
    A driver error is raised as SQLAlchemy's wrapper (``sa.exc.DBAPIError`` and subclasses,
    parameters hidden), and a lost connection is invalidated, as ``conn.execute`` does."""

    def __init__(self, statement: sa.Select):
        self.statement = statement
        self.row = collections.namedtuple(
            "Row", [c.key for c in statement.selected_columns], rename=True)
        self._compiled: dict[str, list] = {}  # dialect name -> ``_prepared``

    def all(self, conn: sa.Connection, **params) -> list:
        """Every row, as named tuples."""
        return self._run(conn, params, False)

    def first(self, conn: sa.Connection, **params):
        """The first row (a named tuple), or None."""
        rows = self._run(conn, params, True)
        return rows[0] if rows else None

    def _prepared(self, dialect) -> list:
        """[SQL, positional?, parameter names in order, default values, processors]."""
        prepared = self._compiled.get(dialect.name)
        if prepared is None:
            compiled = self.statement.compile(dialect=dialect)
            for bind in compiled.binds.values():
                if bind.expanding or bind.type.dialect_impl(dialect).bind_processor(dialect):
                    raise ValueError(f"Query: parameter {bind.key!r} needs SQLAlchemy's "
                                     "per-execution processing")
            # The parameters by their names in the SQL (an anonymous bind of a literal
            # value, e.g. ``id == 1``, is named there ``id_1`` and keeps its value). The
            # columns' result processors come with the first result (_UNKNOWN until then):
            # they may depend on the driver's type codes, as in SQLAlchemy. Keyed by dialect
            # name: every Store's engine of one dialect is configured alike (orjson).
            named = compiled.bind_names
            prepared = [compiled.string, compiled.positional,
                        list(compiled.positiontup if compiled.positional else named.values()),
                        {named[bind]: compiled.params[named[bind]]
                         for bind in named if not bind.required}, _UNKNOWN]
            self._compiled[dialect.name] = prepared
        return prepared

    def _processors(self, dialect, description) -> list | None:
        """(index, processor) of the columns whose values the type converts; None if none."""
        processors = [(index, process) for index, process in enumerate(
            column.type.dialect_impl(dialect).result_processor(dialect, described[1])
            for column, described in zip(self.statement.selected_columns, description))
            if process is not None]
        return processors or None

    def _run(self, conn: sa.Connection, params: dict, one: bool) -> list:
        dialect = conn.dialect
        prepared = self._prepared(dialect)
        sql, positional, names, defaults, processors = prepared
        given = {**defaults, **params} if defaults else params
        # A missing parameter is a KeyError on both drivers' paramstyles.
        values = (tuple([given[name] for name in names]) if positional
                  else {name: given[name] for name in names})
        if not conn.in_transaction():
            conn.begin()  # as conn.execute would (autobegin); ended by the caller's close
        cursor = conn.connection.cursor()
        try:
            cursor.execute(sql, values)
            rows = [cursor.fetchone()] if one else cursor.fetchall()
            if processors is _UNKNOWN:
                processors = prepared[4] = self._processors(dialect, cursor.description)
        except dialect.loaded_dbapi.Error as error:
            if dialect.is_disconnect(error, conn.connection.dbapi_connection, cursor):
                conn.invalidate(error)
            raise sa.exc.DBAPIError.instance(sql, values, error, dialect.loaded_dbapi.Error,
                                             hide_parameters=True, dialect=dialect) from error
        finally:
            cursor.close()
        if one and rows[0] is None:
            return []
        # tuple.__new__ is what the named tuple's ``_make`` calls, without its two calls.
        new, cls = tuple.__new__, self.row
        if processors is None:
            return [new(cls, row) for row in rows]
        out = []
        for row in rows:
            row = list(row)
            for index, process in processors:
                row[index] = process(row[index])
            out.append(new(cls, row))
        return out


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
    # 16 KiB pages, not 4 KiB, for a database this connection creates (before WAL mode, which
    # fixes the page size; an existing database keeps its own). Writes cost SQLite a system call
    # or two per page, in the WAL and again at the checkpoint: a ledger batch of 2,000 records
    # of 1.2 KB touched about 700 table pages and most of the id index's, and those calls were
    # half its CPU per record (bench/README.md, "cloudtrail").
    cursor.execute("PRAGMA page_size=16384")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # 16 MiB of pages per connection, not SQLite's 2 MiB (allocated as pages are used): a ledger
    # batch inserts 2,000 random evidence ids into the unique index, and with the small cache
    # each touched index page was read back from the OS again (bench/README.md, "cloudtrail").
    cursor.execute("PRAGMA cache_size=-16384")
    cursor.close()


# The statement that starts SQLite's next transaction in this thread or task: "BEGIN" for a
# read (deferred), "BEGIN IMMEDIATE" for a write (the lock up front), "" for a single
# statement (no transaction). PostgreSQL's driver begins by itself and ignores it.
_BEGIN: contextvars.ContextVar[str] = contextvars.ContextVar("assay_sqlite_begin",
                                                            default="BEGIN")


def _begin(conn: sa.Connection, statement: str) -> sa.RootTransaction:
    """``conn.begin()``, starting with ``statement`` on SQLite."""
    token = _BEGIN.set(statement)
    try:
        return conn.begin()
    finally:
        _BEGIN.reset(token)


def _sqlite_do_begin(connection) -> None:
    """The SQLite dialect's ``do_begin`` (pysqlite's own is lazy, and its connections here
    are in autocommit mode, ``_sqlite_connect``): straight to the driver."""
    statement = _BEGIN.get()
    if statement:
        connection.dbapi_connection.execute(statement)


def _at_connection_limit(error: Exception) -> bool:
    # SQLSTATE 53300 (too_many_connections): the server's limit, or a role's or database's
    # CONNECTION LIMIT. A refusal during start-up reaches psycopg as libpq's text, without a
    # sqlstate, so the server's messages count too.
    text = str(error)
    return (getattr(error, "sqlstate", None) == "53300"
            or any(m in text for m in ("too many clients", "too many connections",
                                       "remaining connection slots are reserved")))


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


__all__ = ["Query", "Store", "StoreBusy", "WouldBlock", "alembic_config", "is_unique_violation",
           "request_memo", "schema_present", "tables"]
