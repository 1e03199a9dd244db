"""Collection bookkeeping: what an assessment asks to collect, runs and their shards, per-source
state and failures. The jobs (``assay.jobs``) do the AWS work through ``collect/``; this is
where their results are recorded and shown (`assay collect`, `assay status`, `assay jobs`, the
console), never silently dropped."""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import sqlalchemy as sa

from ..model.controls import SOURCE_DISPLAY_NAMES, is_automated
from ..store import Store, tables
from .access import assessment_access
from .activity import Notifier
from .assessments import AssessmentService
from .auth import READ_ASSESSMENT, Caller
from .errors import ValidationError
from .ledger import AppendResult, EvidenceDraft, Ledger


_UNREAD = object()


class _Mispredicted(Exception):
    """Another appender filed some of a batch's ids between its preparation and its append."""

COLLECTION_AUTHOR = "Assay collection"
# Rows ``CollectionService.prune`` deletes per transaction.
PRUNE_CHUNK = 5000


@dataclass(frozen=True)
class ControlRef:
    control_set_id: str
    control_id: str
    name: str


@dataclass
class SourceRequest:
    """One keyword of one source type, and every control of the assessment that asks for it."""

    source_type: str
    keyword: str
    frequency: str = "DAILY"
    controls: list[ControlRef] = field(default_factory=list)

    @property
    def data_source(self) -> str:
        return SOURCE_DISPLAY_NAMES[self.source_type]


@dataclass
class CollectionPlan:
    assessment_id: str
    assessment_name: str
    created_at: float
    accounts: list[str]
    regions: list[str]
    sources: list[SourceRequest]


class CollectionService:
    def __init__(self, store: Store, ledger: Ledger, notifier: Notifier,
                 assessments: AssessmentService):
        self.store = store
        self.ledger = ledger
        self.notifier = notifier
        self.assessments = assessments
        # Starts a collection run in the background: set where services are wired (the runner
        # lives in collect/, which builds on this layer).
        self.launcher: Callable[[Caller, str], None] | None = None

    def request_run(self, caller: Caller, assessment_id: str) -> None:
        """Collect now (the console's button): an owner of an active assessment asks; the run
        goes on in the background (in this process on the embedded default, on the workers
        when scaled) and shows up in the runs like any other."""
        with self.store.read() as conn:
            access = assessment_access(conn, caller, assessment_id)
            access.require_owner()
            access.require_active()
        if self.launcher is None:
            raise ValidationError.field("assessmentId", "Collection is not available here.")
        self.launcher(caller, assessment_id)

    # -- planning -------------------------------------------------------------------------

    def plan(self, caller: Caller, assessment_id: str) -> CollectionPlan:
        """What ``assessment_id`` collects. Raises NotFound/AccessDenied for the caller, and
        ValidationError when the assessment is INACTIVE."""
        with self.store.read() as conn:
            access = assessment_access(conn, caller, assessment_id)
            if access.assessment.status != "ACTIVE":
                raise ValidationError.field("assessmentId",
                                            f"Assessment {assessment_id} is INACTIVE: it collects no more.")
            return self._plan(conn, access.assessment)

    def plan_of_run(self, assessment_id: str) -> CollectionPlan:
        """The plan as the jobs of a run see it (the instance itself; no status check: a run
        started while the assessment was active finishes)."""
        with self.store.read() as conn:
            row = conn.execute(sa.select(tables.assessments).where(
                tables.assessments.c.id == assessment_id)).one()
            return self._plan(conn, row)

    def _plan(self, conn: sa.Connection, row: sa.Row) -> CollectionPlan:
        assessment_id = row.id
        controls = conn.execute(
            sa.select(tables.assessment_controls)
            .where(tables.assessment_controls.c.assessment_id == assessment_id,
                   tables.assessment_controls.c.status != "INACTIVE")
            .order_by(tables.assessment_controls.c.control_set_id,
                      tables.assessment_controls.c.position)).all()
        requests: dict[tuple[str, str], SourceRequest] = {}
        for control in controls:
            ref = ControlRef(control.control_set_id, control.control_id, control.name)
            for source in control.mapping_sources:
                if not is_automated(source):
                    continue
                keyword = (source.get("sourceKeyword") or {}).get("keywordValue")
                if not keyword:
                    continue
                request = requests.setdefault(
                    (source["sourceType"], keyword),
                    SourceRequest(source["sourceType"], keyword, source.get("sourceFrequency") or "DAILY"))
                # The most frequent wish wins when controls disagree.
                if _WINDOWS[source.get("sourceFrequency") or "DAILY"] < _WINDOWS[request.frequency]:
                    request.frequency = source["sourceFrequency"]
                if ref not in request.controls:
                    request.controls.append(ref)
        accounts = [a["id"] for a in row.scope.get("awsAccounts", [])]
        return CollectionPlan(assessment_id, row.name, row.created_at, accounts,
                              list(row.collection_regions or [row.region]), list(requests.values()))

    def active_assessments(self) -> list[str]:
        with self.store.read() as conn:
            return list(conn.execute(sa.select(tables.assessments.c.id).where(
                tables.assessments.c.status == "ACTIVE",
                tables.assessments.c.deleted_at.is_(None))).scalars())

    # -- state ----------------------------------------------------------------------------

    def state(self, assessment_id: str, account: str, region: str, source_type: str,
              keyword: str):
        s = tables.collection_state
        with self.store.read() as conn:
            return conn.execute(sa.select(s).where(
                s.c.assessment_id == assessment_id, s.c.account_id == account,
                s.c.region == region, s.c.source_type == source_type,
                s.c.keyword == keyword)).first()

    def save_state(self, assessment_id: str, account: str, region: str, source_type: str,
                   keyword: str, *, ran_at: float, succeeded: bool, cursor: str | None = None,
                   conn: sa.Connection | None = None) -> None:
        s = tables.collection_state
        key = dict(assessment_id=assessment_id, account_id=account, region=region,
                   source_type=source_type, keyword=keyword)
        values: dict[str, Any] = {"last_run_at": ran_at}
        if succeeded:
            values["last_success_at"] = ran_at
        if cursor is not None:
            values["cursor"] = cursor
        with self.store.write_in(conn) as conn:
            updated = conn.execute(s.update().where(*[s.c[k] == v for k, v in key.items()])
                                   .values(**values))
            if updated.rowcount == 0:
                conn.execute(s.insert().values(**key, **values))

    def states(self, assessment_id: str) -> dict[tuple[str, str, str, str], Any]:
        """Every state row of an assessment, by (account, region, source type, keyword): the
        planner reads them once instead of once per source."""
        s = tables.collection_state
        with self.store.read() as conn:
            rows = conn.execute(sa.select(s).where(s.c.assessment_id == assessment_id)).all()
        return {(r.account_id, r.region, r.source_type, r.keyword): r for r in rows}

    def is_due(self, assessment_id: str, account: str, region: str, request: SourceRequest,
               now: float, row: Any = _UNREAD) -> bool:
        """Scheduled runs: API calls by their frequency, CloudTrail always (it continues from
        where it stopped), Config and Security Hub at least every 12 hours. ``row`` is the
        source's state when the caller already read it (``states``)."""
        if request.source_type == "AWS_Cloudtrail":
            return True
        if row is _UNREAD:
            row = self.state(assessment_id, account, region, request.source_type, request.keyword)
        if row is None or row.last_success_at is None:
            return True
        window = (_WINDOWS[request.frequency] if request.source_type == "AWS_API_Call"
                  else 12 * 3600)
        return now - row.last_success_at >= window - 600  # ten minutes of slack for the tick

    # -- runs -----------------------------------------------------------------------------

    def start_run(self, assessment_id: str, trigger: str, dispatcher: str = "queue") -> str:
        """A new RUNNING run; ``dispatcher`` says who runs its shards ("queue" or
        "inline:<host>:<pid>")."""
        run_id = str(uuid.uuid4())
        with self.store.write() as conn:
            conn.execute(tables.collection_runs.insert().values(
                id=run_id, assessment_id=assessment_id, trigger=trigger, status="RUNNING",
                started_at=time.time(), added=0, duplicates=0, errors=0, shards=0, throttled=0,
                dispatcher=dispatcher))
        return run_id

    def run(self, run_id: str) -> sa.Row | None:
        with self.store.read_one() as conn:
            return conn.execute(sa.select(tables.collection_runs).where(
                tables.collection_runs.c.id == run_id)).first()

    def running(self, dispatcher_prefix: str | None = None) -> list[sa.Row]:
        """Runs still RUNNING (optionally only those of dispatchers starting with the prefix)."""
        r = tables.collection_runs
        query = sa.select(r).where(r.c.status == "RUNNING")
        if dispatcher_prefix is not None:
            query = query.where(r.c.dispatcher.startswith(dispatcher_prefix))
        with self.store.read() as conn:
            return conn.execute(query).all()

    def append(self, drafts: list[EvidenceDraft]) -> AppendResult:
        """File collected evidence: one batch, prepared outside the write transaction (see
        ``Ledger.append_batch``), landing whole or not at all."""
        return self.ledger.append_batch(drafts, author=COLLECTION_AUTHOR)

    def append_and_record(self, drafts: list[EvidenceDraft],
                          record: Callable[[sa.Connection, AppendResult], None]) -> AppendResult:
        """File collected evidence and what ``record(conn, result)`` writes about it (shard
        results: ``end_shard(..., conn=conn)``) in one write transaction: both land or
        neither. ``record`` may be called twice (it must start from scratch each time).

        The drafts are prepared (duplicate check, canonical JSON, hashes) before the
        transaction begins, as in ``append``. ``record`` runs first, with the result the
        preparation predicts, and the ledger append last: the rows every appender shares
        (evidence folders, the chain head) are then locked only from the append to the
        commit. If another appender filed some of the same ids meanwhile (the prediction was
        wrong), the transaction is rolled back and done again in the other order.

        On PostgreSQL the commit does not wait for its WAL flush (``synchronous_commit`` off
        for this transaction), so those shared rows are not held through an fsync. Nothing is
        lost by that: a job's own completion is committed after this transaction, durably,
        and WAL is flushed in order, so a crash can only drop this transaction together with
        the job's completion, and the job then runs again (shards are idempotent)."""
        batch = self.ledger.prepare(drafts)
        predicted = AppendResult(added=[r.evidence_id for r in batch.records],
                                 duplicates=list(batch.duplicates))
        try:
            with self.store.write() as conn:
                self._relaxed_commit(conn)
                record(conn, predicted)
                result = self.ledger.append(conn, batch, COLLECTION_AUTHOR)
                if len(result.added) != len(predicted.added):
                    raise _Mispredicted()
            return result
        except _Mispredicted:
            with self.store.write() as conn:
                self._relaxed_commit(conn)
                result = self.ledger.append(conn, self.ledger.prepare(drafts, conn),
                                            COLLECTION_AUTHOR)
                record(conn, result)
            return result

    @staticmethod
    def _relaxed_commit(conn: sa.Connection) -> None:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SET LOCAL synchronous_commit TO OFF"))

    def record_failures(self, run_id: str, assessment_id: str, failures: Iterable[dict],
                        conn: sa.Connection | None = None) -> None:
        rows = [{"run_id": run_id, "assessment_id": assessment_id, "occurred_at": time.time(), **f}
                for f in failures]
        if rows:
            with self.store.write_in(conn) as conn:
                conn.execute(tables.collection_failures.insert(), rows)

    # -- shards: what the jobs of a run record ---------------------------------------------

    def add_shards(self, run_id: str, assessment_id: str, shards: list[dict],
                   setup_failures: list[dict]) -> list[str]:
        """Record the planner's shards (QUEUED) and the setup problems it found, once: a
        planner job that runs again (its worker died) adds nothing twice. Returns the keys of
        the shards not finished yet, for the dispatcher."""
        sh = tables.collection_shards
        with self.store.write() as conn:
            existing = {row.shard: row.status for row in conn.execute(
                sa.select(sh.c.shard, sh.c.status).where(sh.c.run_id == run_id))}
            if not existing:
                rows = [{"run_id": run_id, "assessment_id": assessment_id, "status": "QUEUED",
                         "attempts": 0, "added": 0, "duplicates": 0, "throttled": 0, "errors": 0,
                         **shard} for shard in shards]
                for chunk in range(0, len(rows), 1000):
                    conn.execute(sh.insert(), rows[chunk:chunk + 1000])
                self.record_failures(run_id, assessment_id, setup_failures, conn)
                conn.execute(tables.collection_runs.update()
                             .where(tables.collection_runs.c.id == run_id)
                             .values(shards=len(rows)))
                return [shard["shard"] for shard in shards]
        return [key for key, status in existing.items() if status not in _FINISHED]

    def shard(self, run_id: str, shard: str) -> sa.Row | None:
        sh = tables.collection_shards
        with self.store.read_one() as conn:
            return conn.execute(sa.select(sh).where(sh.c.run_id == run_id,
                                                    sh.c.shard == shard)).first()

    def begin_shard(self, run_id: str, shard: str) -> sa.Row | None:
        """Mark a shard RUNNING (one more attempt) and return it; None when it already
        finished (a job that ran again after its result was committed)."""
        sh = tables.collection_shards
        where = (sh.c.run_id == run_id, sh.c.shard == shard, sh.c.status.notin_(_FINISHED))
        with self.store.write() as conn:
            return conn.execute(sh.update().where(*where).values(
                status="RUNNING", attempts=sh.c.attempts + 1, started_at=time.time())
                .returning(*sh.c)).first()

    def end_shard(self, run_id: str, assessment_id: str, shard: str, *, failed: bool,
                  added: int, duplicates: int, throttled: int, counts: list,
                  failures: list[dict], states: list[dict] = (),
                  conn: sa.Connection | None = None) -> None:
        """A shard's result, its failures and where its sources stand (``states``: dicts of
        account, region, source_type, keyword, ran_at, succeeded, cursor), in one
        transaction (the caller's ``conn``, else one of its own): all are recorded or, if the
        process dies first, the shard runs again."""
        sh = tables.collection_shards
        with self.store.write_in(conn) as conn:
            updated = conn.execute(sh.update().where(
                sh.c.run_id == run_id, sh.c.shard == shard, sh.c.status.notin_(_FINISHED)).values(
                status="FAILED" if failed else "DONE", added=added, duplicates=duplicates,
                throttled=throttled, errors=len(failures), counts=counts,
                finished_at=time.time()))
            if updated.rowcount:
                self.record_failures(run_id, assessment_id, failures, conn)
                for state in states:
                    self.save_state(assessment_id, state["account"], state["region"],
                                    state["source_type"], state["keyword"],
                                    ran_at=state["ran_at"], succeeded=state["succeeded"],
                                    cursor=state["cursor"], conn=conn)

    def finish_if_complete(self, run_id: str, plan: CollectionPlan | None = None,
                           planned: bool = False) -> bool:
        """Finish the run when none of its shards is left: totals, the summary per control,
        and one notification of its failures. Whichever job gets here first after the last
        shard finishes it; the others find it finished. A run with no shard yet is still
        being planned, unless ``planned`` (the planner found nothing to collect). True when
        this call finished it."""
        sh, r = tables.collection_shards, tables.collection_runs
        # One indexed probe for a shard left (run_id, status), not a count of the run's
        # shards: every shard's job asks, and a run has up to millions of them.
        left = sa.exists().where(sh.c.run_id == run_id, sh.c.status.in_(_UNFINISHED))
        with self.store.read_one() as conn:
            run = conn.execute(sa.select(r.c.status, r.c.shards, r.c.assessment_id,
                                         left.label("left")).where(r.c.id == run_id)).first()
        if run is None or run.status != "RUNNING":
            return False
        # ``shards`` is set with the shards' rows: 0 while the planner has not recorded them.
        if run.left or (run.shards == 0 and not planned):
            return False
        plan = plan or self.plan_of_run(run.assessment_id)
        pending = []
        with self.store.write() as conn:
            claimed = conn.execute(r.update().where(r.c.id == run_id, r.c.status == "RUNNING")
                                   .values(status="COMPLETE", finished_at=time.time()))
            if not claimed.rowcount:
                return False
            counts: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
            throttled = 0
            for row in conn.execute(sa.select(sh.c.counts, sh.c.throttled)
                                    .where(sh.c.run_id == run_id)):
                throttled += row.throttled
                for control_set_id, control_id, source_type, added, duplicates in row.counts or []:
                    key = (control_set_id, control_id, source_type)
                    counts[key][0] += added
                    counts[key][1] += duplicates
            failures = [dict(f._mapping) for f in conn.execute(
                sa.select(tables.collection_failures)
                .where(tables.collection_failures.c.run_id == run_id))]
            summary = summarise(plan, {k: tuple(v) for k, v in counts.items()}, failures)
            added = sum(row["added"] for row in summary)
            duplicates = sum(row["duplicates"] for row in summary)
            conn.execute(r.update().where(r.c.id == run_id).values(
                added=added, duplicates=duplicates, errors=len(failures), throttled=throttled,
                summary=summary))
            if failures:
                assessment = conn.execute(sa.select(tables.assessments).where(
                    tables.assessments.c.id == plan.assessment_id)).one()
                owners = self.assessments.process_owners(conn, plan.assessment_id)
                groups = group_failures(failures)
                pending = self.notifier.record(
                    conn, owners, assessment,
                    f"Evidence collection had {len(failures)} failure(s) of "
                    f"{len(groups)} kind(s): "
                    + "; ".join(f"{g['count']} x {g['source']} {g['error_code']}"
                                for g in groups[:3])
                    + (" ..." if len(groups) > 3 else "")
                    + ". Run `assay status` for the AWS errors and their fixes.",
                    source="Assay collection")
        self.notifier.publish(pending)
        return True

    def interrupt(self, run_id: str) -> bool:
        """Mark a run its process left RUNNING (it died) as INTERRUPTED. True if it was."""
        r = tables.collection_runs
        with self.store.write() as conn:
            return bool(conn.execute(r.update().where(r.c.id == run_id, r.c.status == "RUNNING")
                                     .values(status="INTERRUPTED", finished_at=time.time()))
                        .rowcount)

    def progress(self, caller: Caller, assessment_id: str) -> dict:
        """Where the latest run of an assessment stands, cheap enough to poll: one indexed
        query over its shards. Keys: ``run_id`` (None if never collected), ``status``,
        ``total`` shards, ``queued``, ``running``, ``done``, ``failed`` (shards whose every
        source failed), ``errors`` (failures recorded, setup problems included) and
        ``throttled`` (requests AWS throttled that then succeeded)."""
        r, sh = tables.collection_runs, tables.collection_shards
        with self.store.read() as conn:
            assessment_access(conn, caller, assessment_id)
            run = conn.execute(sa.select(r.c.id, r.c.status, r.c.errors, r.c.throttled)
                               .where(r.c.assessment_id == assessment_id)
                               .order_by(r.c.started_at.desc()).limit(1)).first()
            result = {"run_id": None, "status": None, "total": 0, "queued": 0, "running": 0,
                      "done": 0, "failed": 0, "errors": 0, "throttled": 0}
            if run is None:
                return result
            result.update(run_id=run.id, status=run.status)
            errors = throttled = 0
            for status, number, shard_errors, shard_throttled in conn.execute(
                    sa.select(sh.c.status, sa.func.count(), sa.func.sum(sh.c.errors),
                              sa.func.sum(sh.c.throttled))
                    .where(sh.c.run_id == run.id).group_by(sh.c.status)):
                result[status.lower()] = number
                result["total"] += number
                errors += shard_errors or 0
                throttled += shard_throttled or 0
            if run.status == "RUNNING":
                setup = conn.execute(sa.select(sa.func.count()).select_from(
                    tables.collection_failures).where(
                    tables.collection_failures.c.run_id == run.id,
                    tables.collection_failures.c.source_type == SETUP)).scalar_one()
                result.update(errors=errors + setup, throttled=throttled)
            else:
                result.update(errors=run.errors, throttled=run.throttled)
        return result

    # -- retention ------------------------------------------------------------------------

    def prune(self, retention_days: float, now: float | None = None,
              chunk: int = PRUNE_CHUNK) -> dict[str, int]:
        """Delete the per-run detail of old runs: the ``collection_shards`` rows and
        ``collection_failures`` of every run that finished (COMPLETE or INTERRUPTED) more than
        ``retention_days`` days before ``now`` (epoch seconds, default the clock), except each
        assessment's latest run, which `assay status`, `assay jobs`, the console and the
        posture read. The run rows stay, with their totals and per-control summary. Rows go
        ``chunk`` at a time, each chunk its own transaction, so a large run never holds one
        long delete. Returns ``{"runs": n, "shards": n, "failures": n}`` deleted; raises
        ValueError for a negative retention."""
        if retention_days < 0:
            raise ValueError("retention_days must be >= 0")
        r, sh, f = tables.collection_runs, tables.collection_shards, tables.collection_failures
        cutoff = (time.time() if now is None else now) - retention_days * 86400
        newer = r.alias("newer")
        with self.store.read() as conn:
            old = list(conn.execute(sa.select(r.c.id).where(
                r.c.status != "RUNNING", r.c.finished_at < cutoff,
                # Not its assessment's latest run ...
                sa.exists().where(newer.c.assessment_id == r.c.assessment_id,
                                  newer.c.started_at > r.c.started_at),
                # ... and with detail left to delete (pruned runs are not visited again).
                sa.or_(sa.exists().where(sh.c.run_id == r.c.id),
                       sa.exists().where(f.c.run_id == r.c.id)))).scalars())
        totals = {"runs": 0, "shards": 0, "failures": 0}
        for run_id in old:
            shards = self._delete_chunked(sh, sh.c.shard, run_id, chunk)
            failures = self._delete_chunked(f, f.c.id, run_id, chunk)
            totals["shards"] += shards
            totals["failures"] += failures
            totals["runs"] += bool(shards or failures)
        return totals

    def _delete_chunked(self, table: sa.Table, key: sa.Column, run_id: str, chunk: int) -> int:
        deleted = 0
        while True:
            with self.store.write() as conn:
                keys = list(conn.execute(sa.select(key).where(table.c.run_id == run_id)
                                         .limit(chunk)).scalars())
                if keys:
                    conn.execute(table.delete().where(table.c.run_id == run_id,
                                                      key.in_(keys)))
            deleted += len(keys)
            if len(keys) < chunk:
                return deleted

    # -- status ---------------------------------------------------------------------------

    def status(self, caller: Caller, assessment_id: str, failures_limit: int = 200) -> dict:
        """The latest runs, the failures of the latest run (at most ``failures_limit``, with
        ``failures_total`` so a reader can say it truncated) and those failures grouped by
        source and error kind, for `assay status` and the console."""
        caller.require(READ_ASSESSMENT)
        r, f = tables.collection_runs, tables.collection_failures
        with self.store.read() as conn:
            assessment_access(conn, caller, assessment_id)
            runs = conn.execute(sa.select(r).where(r.c.assessment_id == assessment_id)
                                .order_by(r.c.started_at.desc()).limit(10)).all()
            failures, total, groups = [], 0, []
            if runs:
                failures = conn.execute(sa.select(f).where(f.c.run_id == runs[0].id)
                                        .order_by(f.c.id).limit(failures_limit)).all()
                total = conn.execute(sa.select(sa.func.count()).select_from(f)
                                     .where(f.c.run_id == runs[0].id)).scalar_one()
                groups = self.failure_groups(conn, runs[0].id)
        return {
            "runs": [dict(run._mapping) for run in runs],
            "failures": [dict(failure._mapping) for failure in failures],
            "failures_total": total,
            "failure_groups": groups,
        }

    def failure_groups(self, conn: sa.Connection, run_id: str) -> list[dict]:
        """The failures of a run grouped by source and error kind (see ``group_failures``),
        counted in the database."""
        f = tables.collection_failures
        rows = conn.execute(
            sa.select(f.c.source_type, f.c.keyword, f.c.error_code, sa.func.count(),
                      sa.func.count(sa.distinct(f.c.account_id)), sa.func.min(f.c.message))
            .where(f.c.run_id == run_id)
            .group_by(f.c.source_type, f.c.keyword, f.c.error_code)).all()
        return _ordered_groups([{"source": _source_name(t, k), "source_type": t, "keyword": k,
                                 "error_code": code, "count": n, "accounts": accounts,
                                 "message": message}
                                for t, k, code, n, accounts, message in rows])


_FINISHED = ("DONE", "FAILED")
_UNFINISHED = ("QUEUED", "RUNNING")
# The source type of a failure that stopped a whole account (or the run) before fanning out.
SETUP = "SETUP"
_WINDOWS = {"DAILY": 24 * 3600, "WEEKLY": 7 * 24 * 3600, "MONTHLY": 30 * 24 * 3600}


def group_failures(failures: Iterable[dict]) -> list[dict]:
    """Failures grouped by source (source type and keyword) and error kind, most frequent
    first: ``[{source, source_type, keyword, error_code, count, accounts, message}]`` where
    ``accounts`` counts the accounts affected and ``message`` is one example (with its fix)."""
    groups: dict[tuple[str, str, str], dict] = {}
    for failure in failures:
        key = (failure["source_type"], failure["keyword"], failure["error_code"])
        group = groups.setdefault(key, {
            "source": _source_name(key[0], key[1]), "source_type": key[0], "keyword": key[1],
            "error_code": key[2], "count": 0, "accounts": set(), "message": failure["message"]})
        group["count"] += 1
        group["accounts"].add(failure["account_id"])
    return _ordered_groups([{**g, "accounts": len(g["accounts"])} for g in groups.values()])


def _ordered_groups(groups: list[dict]) -> list[dict]:
    return sorted(groups, key=lambda g: (g["source_type"] != SETUP, -g["count"], g["source"],
                                         g["error_code"]))


def _source_name(source_type: str, keyword: str) -> str:
    return "setup" if source_type == SETUP else f"{source_type} {keyword}"


def summarise(plan: CollectionPlan, counts: dict, failures: list[dict]) -> list[dict]:
    """One row per control and data source: items added, duplicates skipped, errors, and why a
    control that collected nothing has nothing (a setup problem, such as a member role that
    cannot be assumed, is the reason for every control it kept from collecting)."""
    reasons = defaultdict(list)
    setup = any(f["source_type"] == SETUP for f in failures)
    for failure in failures:
        reasons[(failure["control_set_id"], failure["control_id"], failure["source_type"])].append(
            f"{failure['error_code']} in {failure['account_id']}/{failure['region']} "
            f"({failure['keyword']}): {failure['message']}")
    rows = []
    seen = set()
    for request in plan.sources:
        for ref in request.controls:
            key = (ref.control_set_id, ref.control_id, request.source_type)
            if key in seen:
                continue
            seen.add(key)
            added, duplicates = counts.get(key, (0, 0))
            errors = reasons.get(key, [])
            why = None
            if errors:
                why = errors[0]
            elif added + duplicates == 0 and setup:
                why = "stopped by a setup problem (listed once with the failures)"
            elif added + duplicates == 0:
                why = "AWS returned nothing for this source in any account and region in scope"
            rows.append({"control_set_id": ref.control_set_id, "control_id": ref.control_id,
                         "control_name": ref.name, "data_source": request.data_source,
                         "source_type": request.source_type, "added": added,
                         "duplicates": duplicates, "errors": len(errors), "why": why})
    return rows
