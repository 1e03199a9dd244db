"""The evidence finder: SQL over all evidence, with the caller's rights.

Settings drive it as Audit Manager's do (UpdateSettings ``evidenceFinderEnabled``):

- enabling sets ``evidenceFinderEnablement`` to ENABLE_IN_PROGRESS with ``backfillStatus``
  NOT_STARTED and names the store (``eventDataStoreArn``); ``build_finder_index`` (a plain
  function, started by ``FinderService.launcher``: a thread today, a job where jobs run) fills
  the ``evidence_finder`` table from the ledger (IN_PROGRESS, with progress) and finishes with
  ENABLED / COMPLETED. Meanwhile, and afterwards, every ledger append indexes its own records.
- disabling empties the table and answers DISABLED.

Queries are CloudTrail Lake SQL (``finder.query``) run with a row limit and a statement time
limit; ``run`` streams rows (bounded memory for any result size). Reports from a query
(CreateAssessmentReport ``queryStatement``) take their evidence ids from the same compiler.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import orjson
import sqlalchemy as sa

from ..finder.types import Compiled, Limits, QueryError, Rights
from ..finder.schema import COLUMN_TYPES, finder_rows
from ..store import tables
from .auth import READ_ASSESSMENT, Caller
from .errors import NotFoundError, ValidationError
from .instance import get_document, put_document

log = logging.getLogger("assay.finder")

ENABLED, DISABLED = "ENABLED", "DISABLED"
ENABLE_IN_PROGRESS = "ENABLE_IN_PROGRESS"
NOT_STARTED, IN_PROGRESS, COMPLETED = "NOT_STARTED", "IN_PROGRESS", "COMPLETED"
SETTING = "evidenceFinderEnablement"
BATCH = 2000               # ledger records per backfill transaction
STALE_AFTER = 120          # seconds without progress: the build died with its process
_STATE = "evidence_finder"  # instance document: the build's mark and progress
_QUERY = "finder_query:"     # instance documents of started queries (StartQuery), by id
TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"  # how results show eventTime (SQLite stores this text)


@dataclass
class QueryResult:
    """Result headers and a one-pass stream of rows (tuples of str | int | float | None).
    ``truncated`` turns True when the stream stopped at the row limit with rows left."""

    columns: list[str]
    rows: Iterator[tuple]
    max_rows: int
    truncated: bool = False


class FinderService:
    def __init__(self, services):
        self.services = services
        self.store = services.store
        self.limits = Limits(max_rows=services.settings.finder_max_rows,
                             seconds=services.settings.finder_seconds)
        # Starts build_finder_index in the background; replaced where jobs run elsewhere.
        self.launcher: Callable[[], None] = self._build_in_thread
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # -- the store's name ---------------------------------------------------------------

    def store_arn(self) -> str:
        """The event data store ARN GetSettings reports: stable for the instance."""
        store_id = uuid.uuid5(uuid.NAMESPACE_URL, f"assay:{self.services.account_id}:evidence")
        return (f"arn:aws:cloudtrail:{self.services.settings.default_region}:"
                f"{self.services.account_id}:eventdatastore/{store_id}")

    # -- settings -----------------------------------------------------------------------

    def switch(self, conn: sa.Connection, enabled: bool, current: dict[str, Any]) -> dict:
        """UpdateSettings' evidenceFinderEnabled, inside its transaction: the new
        ``evidenceFinderEnablement``. Call ``after_switch`` once the transaction commits."""
        status = current.get("enablementStatus", DISABLED)
        if enabled:
            if status in (ENABLED, ENABLE_IN_PROGRESS):
                return current
            # The backfill covers what is in the ledger now; appends from here on are indexed
            # as they land (Ledger.on_append). Positions are reserved in blocks, so the mark is
            # the highest one stored, not a head counter.
            mark = conn.execute(sa.select(sa.func.max(tables.evidence.c.seq))).scalar() or 0
            put_document(conn, _STATE, {"mark": int(mark), "done": 0, "indexed": 0,
                                        "updatedAt": time.time()})
            return {"eventDataStoreArn": self.store_arn(), "enablementStatus": ENABLE_IN_PROGRESS,
                    "backfillStatus": NOT_STARTED}
        if status == DISABLED:
            return current
        conn.execute(tables.evidence_finder.delete())
        put_document(conn, _STATE, {})
        return {"eventDataStoreArn": self.store_arn(), "enablementStatus": DISABLED}

    def after_switch(self, enablement: dict) -> None:
        """Start the index build when the switch enabled the finder."""
        if enablement.get("enablementStatus") == ENABLE_IN_PROGRESS:
            self.launcher()

    def enablement(self, conn: sa.Connection) -> dict[str, Any]:
        """The settings' ``evidenceFinderEnablement`` (DISABLED when never set)."""
        settings = get_document(conn, "settings") or {}
        return settings.get(SETTING) or {"enablementStatus": DISABLED}

    def progress(self) -> dict[str, Any]:
        """Where the build stands: {"mark": last ledger seq to index, "done": seq reached,
        "indexed": rows written, "updatedAt": epoch seconds, "error"?}."""
        with self.store.read_one() as conn:
            return get_document(conn, _STATE) or {}

    def resume_if_stalled(self) -> None:
        """A build whose process stopped (no progress for STALE_AFTER s) starts again; the
        build is idempotent, so nothing is indexed twice."""
        with self.store.read_one() as conn:
            status = self.enablement(conn).get("enablementStatus")
            state = get_document(conn, _STATE) or {}
        if status != ENABLE_IN_PROGRESS:
            return
        with self._lock:
            running = self._thread is not None and self._thread.is_alive()
        if not running and time.time() - state.get("updatedAt", 0) > STALE_AFTER:
            self.launcher()

    def _build_in_thread(self) -> None:
        def run() -> None:
            try:
                build_finder_index(self.services)
            except Exception:  # recorded in the settings' error by the build itself
                log.exception("evidence finder build failed")

        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=run, name="assay-finder-build", daemon=True)
            self._thread.start()

    def wait(self, timeout: float | None = None) -> None:
        """Wait for this process's build (tests, benchmarks, shutdown)."""
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    # -- indexing -----------------------------------------------------------------------

    def index_appended(self, conn: sa.Connection, appended: list[tuple[int, dict]]) -> None:
        """Ledger hook, inside the append's transaction: index [(seq, record)] as they are
        appended while the finder is ENABLED or being enabled (the build covers the rest)."""
        status = self.enablement(conn).get("enablementStatus")
        if status not in (ENABLED, ENABLE_IN_PROGRESS) or not appended:
            return
        write_rows(conn, appended, self.services.library)

    # -- queries ------------------------------------------------------------------------

    def compile(self, caller: Caller, sql: str, assessment_id: str | None = None,
                field: str = "queryStatement") -> Compiled:
        """Check and compile a query for this caller. Raises ValidationError naming ``field``
        and the problem's line and column; a disabled finder names the setting."""
        caller.require(READ_ASSESSMENT)
        with self.store.read_one() as conn:
            enablement = self.enablement(conn)
        status = enablement.get("enablementStatus", DISABLED)
        if status != ENABLED:
            if status == ENABLE_IN_PROGRESS:
                self.resume_if_stalled()
                state = self.progress()
                raise ValidationError.field(
                    field, "The evidence finder is still being enabled "
                    f"(evidenceFinderEnablement.backfillStatus "
                    f"{enablement.get('backfillStatus')}: {state.get('done', 0)} of "
                    f"{state.get('mark', 0)} ledger records indexed); query again once "
                    "enablementStatus is ENABLED.")
            raise ValidationError.field(
                field, "The evidence finder is disabled (settings evidenceFinderEnablement."
                "enablementStatus is DISABLED): enable it with UpdateSettings "
                "evidenceFinderEnabled=true (aws auditmanager update-settings "
                "--evidence-finder-enabled).")
        rights = Rights(delegate_arn=caller.arn if caller.role == "delegate" else None,
                        assessment_id=assessment_id)
        dialect = "sqlite" if self.store.is_sqlite else "postgres"
        # The compiler brings sqlglot (~0.15 s of imports): loaded on the first query, not in
        # every process that opens the services.
        from ..finder.query import compile_query

        try:
            return compile_query(sql, self.store_arn(), rights, dialect, self.limits)
        except QueryError as error:
            raise ValidationError.field(field, error.message)

    def run(self, caller: Caller, sql: str, field: str = "queryStatement") -> QueryResult:
        """Run a query; rows stream from the database as they are read (close the stream or
        read it to the end). Raises ValidationError for a query that cannot run, including one
        past its time limit, and sets ``truncated`` when rows were left past the row limit."""
        compiled = self.compile(caller, sql, field=field)
        result = QueryResult(compiled.columns, iter(()), compiled.max_rows)
        result.rows = self._stream(compiled, result, field)
        return result

    def _stream(self, compiled: Compiled, result: QueryResult, field: str) -> Iterator[tuple]:
        # Timestamps read the same on both databases: SQLite keeps them as this text already.
        stamps = [] if self.store.is_sqlite else [
            i for i, name in enumerate(compiled.names) if COLUMN_TYPES.get(name) == "TIMESTAMP"]
        with self.store.read() as conn:
            with bounded(conn, self.store.is_sqlite, self.limits.seconds, field):
                cursor = conn.execution_options(stream_results=True, yield_per=1000).execute(
                    as_text(compiled.sql))
                for count, row in enumerate(cursor, start=1):
                    if count > compiled.max_rows:
                        result.truncated = True
                        break
                    if stamps:
                        row = list(row)
                        for i in stamps:
                            if row[i] is not None:
                                row[i] = row[i].strftime(TIME_FORMAT)
                    yield tuple(row)
                cursor.close()

    def evidence_ids_query(self, caller: Caller, sql: str, assessment_id: str) -> sa.Select:
        """The evidence ids a report query selects, as a subquery for the report builder:
        the query runs over only this assessment's evidence, and must return
        eventData.evidenceId (``SELECT *`` does)."""
        compiled = self.compile(caller, sql, assessment_id=assessment_id)
        if "evidenceId" not in compiled.columns:
            raise ValidationError.field(
                "queryStatement", "A report query must return eventData.evidenceId (for "
                "example SELECT eventData.evidenceId FROM ... or SELECT * FROM ...): the report "
                "holds the evidence items it returns.")
        name = compiled.names[compiled.columns.index("evidenceId")]
        found = as_text(compiled.sql).columns(sa.column(name)).subquery("finder_query")
        return sa.select(found.c[name])


    # -- CloudTrail Lake's query API (StartQuery, DescribeQuery, GetQueryResults) ------------

    def start_query(self, caller: Caller, sql: str) -> str:
        """Run a query now and keep its result (JSON lines in the blob store) for
        GetQueryResults; returns the query id. A query that cannot run raises ValidationError
        and keeps nothing. The result belongs to the caller's principal."""
        started = time.time()
        result = self.run(caller, sql)

        def lines() -> Iterator[bytes]:
            chunk = []
            for count, row in enumerate(result.rows, start=1):
                chunk.append(orjson.dumps(row))
                if count % 1000 == 0:
                    yield b"\n".join(chunk) + b"\n"
                    chunk = []
            if chunk:
                yield b"\n".join(chunk) + b"\n"

        blob, size = self.services.blobs.put(lines())
        query_id = str(uuid.uuid4())
        count = self._count_lines(blob)
        with self.store.write() as conn:
            put_document(conn, f"{_QUERY}{query_id}", {
                "queryId": query_id, "queryString": sql, "ownerArn": caller.arn,
                "columns": result.columns, "blob": blob, "size": size, "count": count,
                "truncated": result.truncated, "createdAt": started,
                "millis": int((time.time() - started) * 1000)})
        return query_id

    def query_record(self, caller: Caller, query_id: str) -> dict[str, Any]:
        """A started query of this caller's principal; NotFoundError for any other."""
        caller.require(READ_ASSESSMENT)
        with self.store.read_one() as conn:
            record = get_document(conn, f"{_QUERY}{query_id}") if len(query_id) <= 40 else None
        if record is None or record["ownerArn"] != caller.arn:
            raise NotFoundError("query", query_id)
        return record

    def query_page(self, caller: Caller, query_id: str, offset: int, size: int
                   ) -> tuple[dict[str, Any], list[tuple]]:
        """Rows [offset, offset + size) of a started query's result."""
        record = self.query_record(caller, query_id)
        rows = []
        with self.services.blobs.open(record["blob"]) as stream:
            for index, line in enumerate(stream):
                if index >= offset + size:
                    break
                if index >= offset:
                    rows.append(tuple(orjson.loads(line)))
        return record, rows

    def _count_lines(self, blob: str) -> int:
        with self.services.blobs.open(blob) as stream:
            return sum(1 for _ in stream)


def as_text(sql: str) -> sa.TextClause:
    """Compiled finder SQL as a statement SQLAlchemy sends as is: colons in ARNs and string
    literals are not bind parameters."""
    return sa.text(sql.replace(":", r"\:"))


class bounded:
    """One finder query's bounds: a read-only transaction (PostgreSQL's READ ONLY, SQLite's
    query_only), and a statement time limit (PostgreSQL's statement_timeout, SQLite's progress
    handler). Past the limit, a ValidationError naming ``field`` and the limit."""

    def __init__(self, conn: sa.Connection, is_sqlite: bool, seconds: float, field: str):
        self.conn, self.is_sqlite, self.seconds, self.field = conn, is_sqlite, seconds, field

    def __enter__(self):
        if self.is_sqlite:
            deadline = time.monotonic() + self.seconds
            raw = self.conn.connection.driver_connection
            raw.execute("PRAGMA query_only = ON")
            raw.set_progress_handler(lambda: int(time.monotonic() > deadline), 20000)
        else:
            self.conn.exec_driver_sql("SET TRANSACTION READ ONLY")
            self.conn.exec_driver_sql(
                f"SET LOCAL statement_timeout = {int(self.seconds * 1000)}")
        return self

    def __exit__(self, kind, error, _tb) -> None:
        if self.is_sqlite:
            raw = self.conn.connection.driver_connection
            raw.set_progress_handler(None, 0)
            raw.execute("PRAGMA query_only = OFF")  # the pooled connection writes again
        if isinstance(error, sa.exc.OperationalError) and _timed_out(error):
            raise ValidationError.field(
                self.field, f"The query ran past the evidence finder's time limit of "
                f"{self.seconds:g} seconds: narrow it (a date range, an assessment, LIMIT).") \
                from error


def _timed_out(error: sa.exc.OperationalError) -> bool:
    text = str(error.orig).lower()
    return "interrupted" in text or "statement timeout" in text or "canceling statement" in text


# -- the build (a plain function: run it in a thread, a job, or inline) -----------------------

def control_context(conn: sa.Connection, library, keys: set[tuple[str, str, str]]
                    ) -> dict[tuple[str, str, str], dict[str, Any]]:
    """Control name, control domain name and framework of assessment controls, by
    (assessment, control set, control), plus the assessment's region."""
    if not keys:
        return {}
    c, a = tables.assessment_controls, tables.assessments
    assessment_ids = sorted({k[0] for k in keys})
    out = {}
    for row in conn.execute(
            sa.select(c.c.assessment_id, c.c.control_set_id, c.c.control_id, c.c.name,
                      c.c.domain_id, a.c.framework_id, a.c.framework_name, a.c.region)
            .join(a, a.c.id == c.c.assessment_id).where(c.c.assessment_id.in_(assessment_ids))):
        key = (row.assessment_id, row.control_set_id, row.control_id)
        if key in keys:
            domain = library.domains.get(row.domain_id)
            out[key] = {"controlName": row.name, "frameworkId": row.framework_id,
                        "frameworkName": row.framework_name, "region": row.region,
                        "controlDomainName": domain.name if domain else None}
    return out


def write_rows(conn: sa.Connection, appended: list[tuple[int, dict]], library) -> int:
    """Insert the finder rows of ledger records (seq, record); returns rows written."""
    keys = {(r["assessmentId"], r["controlSetId"], r["controlId"]) for _, r in appended}
    context = control_context(conn, library, keys)
    rows = []
    for seq, record in appended:
        control = context.get((record["assessmentId"], record["controlSetId"],
                               record["controlId"]), {})
        rows.extend(finder_rows(seq, record, control, control.get("region") or ""))
    if rows:
        conn.execute(tables.evidence_finder.insert(), rows)
    return len(rows)


def build_finder_index(services, progress: Callable[[int, int], None] | None = None) -> None:
    """Index the ledger's records up to the mark taken when the finder was enabled, BATCH
    records per transaction, then set ENABLED / COMPLETED. Idempotent and resumable: each
    batch replaces its own range, and a restarted build continues from ``done``. Stops
    quietly when the finder is disabled meanwhile. ``progress(done_seq, mark)`` after each
    batch. A failure is recorded in the setting's ``error`` and re-raised."""
    store, e, f = services.store, tables.evidence, tables.evidence_finder
    with store.write() as conn:
        state = get_document(conn, _STATE) or {}
        if not _set_status(conn, ENABLE_IN_PROGRESS, backfill=IN_PROGRESS):
            return
        state["updatedAt"] = time.time()
        put_document(conn, _STATE, state)
    mark, done, indexed = state.get("mark", 0), state.get("done", 0), state.get("indexed", 0)
    try:
        while done < mark:
            with store.read() as conn:
                batch = conn.execute(sa.select(e.c.seq, e.c.record)
                                     .where(e.c.seq > done, e.c.seq <= mark)
                                     .order_by(e.c.seq).limit(BATCH)).all()
            last = batch[-1].seq if batch else mark
            with store.write() as conn:
                if services.finder.enablement(conn).get("enablementStatus") != ENABLE_IN_PROGRESS:
                    return
                conn.execute(f.delete().where(f.c.seq > done, f.c.seq <= last))
                indexed += write_rows(conn, [(r.seq, orjson.loads(r.record)) for r in batch],
                                      services.library)
                done = last
                put_document(conn, _STATE, {"mark": mark, "done": done, "indexed": indexed,
                                            "updatedAt": time.time()})
            if progress:
                progress(done, mark)
        with store.write() as conn:
            _set_status(conn, ENABLED, backfill=COMPLETED)
    except Exception as exc:
        with store.write() as conn:
            _set_status(conn, ENABLE_IN_PROGRESS, backfill=IN_PROGRESS,
                        error=f"Building the evidence finder's index failed: "
                              f"{type(exc).__name__}: {exc}"[:300])
        raise


def _set_status(conn: sa.Connection, status: str, backfill: str, error: str | None = None) -> bool:
    """Move an ENABLE_IN_PROGRESS finder on; False (and no change) when it is not in
    progress any more (disabled meanwhile)."""
    settings = get_document(conn, "settings") or {}
    current = settings.get(SETTING) or {}
    if current.get("enablementStatus") != ENABLE_IN_PROGRESS:
        return False
    updated = {**current, "enablementStatus": status, "backfillStatus": backfill}
    updated.pop("error", None)
    if error:
        updated["error"] = error
    settings[SETTING] = updated
    put_document(conn, "settings", settings)
    return True
