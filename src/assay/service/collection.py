"""Collection bookkeeping: what an assessment asks to collect, runs, per-source state and
failures. The runner (``collect/runner.py``) does the AWS work; this is where its results are
recorded and shown (`assay collect`, `assay status`, the console), never silently dropped."""

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
from .instance import get_document, put_document
from .ledger import AppendResult, EvidenceDraft, Ledger


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
        goes on in the background and shows up in the runs like any other."""
        with self.store.read() as conn:
            access = assessment_access(conn, caller, assessment_id)
            access.require_owner()
            access.require_active()
        if self.launcher is None:
            raise ValidationError.field("assessmentId", "Collection is not available here.")
        self.launcher(caller, assessment_id)

    # -- planning -------------------------------------------------------------------------

    def plan(self, caller: Caller, assessment_id: str) -> CollectionPlan:
        with self.store.read() as conn:
            access = assessment_access(conn, caller, assessment_id)
            row = access.assessment
            if row.status != "ACTIVE":
                raise ValidationError.field("assessmentId",
                                            f"Assessment {assessment_id} is INACTIVE: it collects no more.")
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
                   keyword: str, *, ran_at: float, succeeded: bool, cursor: str | None = None) -> None:
        s = tables.collection_state
        key = dict(assessment_id=assessment_id, account_id=account, region=region,
                   source_type=source_type, keyword=keyword)
        values: dict[str, Any] = {"last_run_at": ran_at}
        if succeeded:
            values["last_success_at"] = ran_at
        if cursor is not None:
            values["cursor"] = cursor
        with self.store.write() as conn:
            updated = conn.execute(s.update().where(*[s.c[k] == v for k, v in key.items()])
                                   .values(**values))
            if updated.rowcount == 0:
                conn.execute(s.insert().values(**key, **values))

    def is_due(self, assessment_id: str, account: str, region: str, request: SourceRequest,
               now: float) -> bool:
        """Scheduled runs: API calls by their frequency, CloudTrail always (it continues from
        where it stopped), Config and Security Hub at least every 12 hours."""
        if request.source_type == "AWS_Cloudtrail":
            return True
        row = self.state(assessment_id, account, region, request.source_type, request.keyword)
        if row is None or row.last_success_at is None:
            return True
        window = (_WINDOWS[request.frequency] if request.source_type == "AWS_API_Call"
                  else 12 * 3600)
        return now - row.last_success_at >= window - 600  # ten minutes of slack for the tick

    # -- runs -----------------------------------------------------------------------------

    def start_run(self, assessment_id: str, trigger: str) -> str:
        run_id = str(uuid.uuid4())
        with self.store.write() as conn:
            conn.execute(tables.collection_runs.insert().values(
                id=run_id, assessment_id=assessment_id, trigger=trigger, status="RUNNING",
                started_at=time.time(), added=0, duplicates=0, errors=0))
        return run_id

    def append(self, drafts: list[EvidenceDraft]) -> AppendResult:
        """File collected evidence: one batch, prepared outside the write transaction (see
        ``Ledger.append_batch``), landing whole or not at all."""
        return self.ledger.append_batch(drafts, author="Assay collection")

    def record_failures(self, run_id: str, assessment_id: str, failures: Iterable[dict]) -> None:
        rows = [{"run_id": run_id, "assessment_id": assessment_id, "occurred_at": time.time(), **f}
                for f in failures]
        if rows:
            with self.store.write() as conn:
                conn.execute(tables.collection_failures.insert(), rows)

    def finish_run(self, run_id: str, plan: CollectionPlan, summary: list[dict]) -> None:
        added = sum(r["added"] for r in summary)
        duplicates = sum(r["duplicates"] for r in summary)
        errors = sum(r["errors"] for r in summary)
        pending = []
        with self.store.write() as conn:
            conn.execute(tables.collection_runs.update().where(tables.collection_runs.c.id == run_id)
                         .values(status="COMPLETE", finished_at=time.time(), added=added,
                                 duplicates=duplicates, errors=errors, summary=summary))
            if errors:
                assessment = conn.execute(sa.select(tables.assessments).where(
                    tables.assessments.c.id == plan.assessment_id)).one()
                owners = self.assessments.process_owners(conn, plan.assessment_id)
                failing = sorted({r["control_name"] for r in summary if r["errors"]})
                pending = self.notifier.record(
                    conn, owners, assessment,
                    f"Evidence collection had {errors} failure(s) in {len(failing)} control(s): "
                    f"{', '.join(failing[:5])}{' ...' if len(failing) > 5 else ''}. "
                    "Run `assay status` for the AWS errors.", source="Assay collection")
        self.notifier.publish(pending)

    def acquire_schedule(self, holder: str, seconds: float) -> bool:
        """A lease on the collection schedule, so that of several servers sharing the database
        one runs each tick. True when ``holder`` has it for the next ``seconds``."""
        now = time.time()
        try:
            with self.store.write() as conn:
                conn.execute(tables.instance.select().where(tables.instance.c.name == _LEASE)
                             .with_for_update())
                lease = get_document(conn, _LEASE) or {}
                if lease.get("holder") not in (None, holder) and lease.get("until", 0) > now:
                    return False
                put_document(conn, _LEASE, {"holder": holder, "until": now + seconds})
                return True
        except sa.exc.IntegrityError:
            return False  # another server created the lease at the same moment: it holds it

    # -- status ---------------------------------------------------------------------------

    def status(self, caller: Caller, assessment_id: str, failures_limit: int = 200) -> dict:
        """The latest runs and the failures of the latest run, for `assay status` and the console."""
        caller.require(READ_ASSESSMENT)
        r, f = tables.collection_runs, tables.collection_failures
        with self.store.read() as conn:
            assessment_access(conn, caller, assessment_id)
            runs = conn.execute(sa.select(r).where(r.c.assessment_id == assessment_id)
                                .order_by(r.c.started_at.desc()).limit(10)).all()
            failures = []
            if runs:
                failures = conn.execute(sa.select(f).where(f.c.run_id == runs[0].id)
                                        .order_by(f.c.id).limit(failures_limit)).all()
        return {
            "runs": [dict(run._mapping) for run in runs],
            "failures": [dict(failure._mapping) for failure in failures],
        }

    # -- progress (the console polls it; the jobs work may replace how it is computed) -----

    def progress(self, caller: Caller, assessment_id: str) -> dict:
        """Where the latest collection run of the assessment stands, by shard (one account,
        region and source of the plan): ``{"total", "queued", "running", "done", "failed"}``
        (counts) and ``"errors"`` (the run's failures so far, newest last, at most 20:
        ``{"account", "region", "source_type", "keyword", "error_code", "message"}``).
        Computed from the run and the per-source state rows it has written since it started."""
        plan = self.plan(caller, assessment_id)
        total = len(plan.accounts) * len(plan.regions) * len(plan.sources)
        r, s, f = tables.collection_runs, tables.collection_state, tables.collection_failures
        with self.store.read() as conn:
            run = conn.execute(sa.select(r).where(r.c.assessment_id == assessment_id)
                               .order_by(r.c.started_at.desc()).limit(1)).first()
            if run is None:
                return {"total": total, "queued": 0, "running": 0, "done": 0, "failed": 0,
                        "errors": []}
            states = conn.execute(sa.select(s.c.last_run_at, s.c.last_success_at).where(
                s.c.assessment_id == assessment_id, s.c.last_run_at >= run.started_at)).all()
            failures = conn.execute(sa.select(f).where(f.c.run_id == run.id)
                                    .order_by(f.c.id.desc()).limit(20)).all()
        done = sum(1 for st in states if (st.last_success_at or 0) >= run.started_at)
        failed = len(states) - done
        left = max(0, total - done - failed) if run.status == "RUNNING" else 0
        running = min(left, 1) if run.status == "RUNNING" else 0
        return {"total": total, "queued": left - running, "running": running, "done": done,
                "failed": failed,
                "errors": [{"account": x.account_id, "region": x.region,
                            "source_type": x.source_type, "keyword": x.keyword,
                            "error_code": x.error_code, "message": x.message}
                           for x in reversed(failures)]}


_LEASE = "collection_lease"
_WINDOWS = {"DAILY": 24 * 3600, "WEEKLY": 7 * 24 * 3600, "MONTHLY": 30 * 24 * 3600}


def summarise(plan: CollectionPlan, counts: dict, failures: list[dict]) -> list[dict]:
    """One row per control and data source: items added, duplicates skipped, errors, and why a
    control that collected nothing has nothing."""
    reasons = defaultdict(list)
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
            elif added + duplicates == 0:
                why = "AWS returned nothing for this source in any account and region in scope"
            rows.append({"control_set_id": ref.control_set_id, "control_id": ref.control_id,
                         "control_name": ref.name, "data_source": request.data_source,
                         "source_type": request.source_type, "added": added,
                         "duplicates": duplicates, "errors": len(errors), "why": why})
    return rows
