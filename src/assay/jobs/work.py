"""What the jobs of a collection do, whoever dispatches them (``inline`` threads on the embedded
default, ``queue`` workers on PostgreSQL).

A run is planned once, then collected shard by shard:

- ``Collection.plan(run_id)`` checks the credentials chain once and assumes the member role
  once per account before fanning out. Each setup problem is one failure, with its fix, and the
  accounts it concerns get no shards. Every other (account, region, source type) becomes a
  shard; API calls split further by AWS service, and CloudTrail trail files by day: one shard
  per account, region and day of the trail's log files (``trail-files/YYYY-MM-DD``), each
  continuing from a cursor of its own, from the assessment's start (or the first day not read
  completely yet) to today.
- ``Collection.collect(run_id, shard)`` collects one shard: it files the observations of the
  collectors in the ledger in batches and records the shard's counts and failures in one
  transaction. Any exception from a source, whatever its class, is a failure of that source,
  account and region; the shard and the run go on. The job that finishes the last shard
  finishes the run.

Evidence ids are deterministic (UUIDv5 of source, account, keyword, identity and day), so a
shard that runs again after its worker died adds nothing twice.
"""

from __future__ import annotations

import datetime as dt
import gc
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError

from ..collect import COLLECTORS
from ..collect.api_call import global_region, is_global_service
from ..collect.base import partition_of
from ..collect.cloudtrail import GRACE_SECONDS, TrailLogReader
from ..collect.config import list_rules
from ..collect.sessions import RETRIES, THROTTLING_CODES, AwsSessions, SetupProblem, describe
from ..model.evidence import Observation, SourceUnavailable
from ..service import Services
from ..service.collection import SETUP, CollectionPlan, SourceRequest
from ..service.ledger import EvidenceDraft, day_of, draft_id_prefix

BATCH = 2000  # drafts per ledger append: one transaction, one seal
# A little overlap when continuing CloudTrail lookups: events can arrive late.
CLOUDTRAIL_OVERLAP = 3600
TRAIL_FILES = "*trail-files*"  # state keyword: a day's cursor is TRAIL_FILES + "YYYY-MM-DD"
TRAIL_PART = "trail-files"  # shard part of a day of trail files: "trail-files/YYYY-MM-DD"
# A shard whose failures are all transient (throttling after botocore's own retries, a lost
# connection) is tried this many times in all, with backoff, before its failures are recorded.
SHARD_ATTEMPTS = 4
_TRANSIENT_ERRORS = (BotoConnectionError, ConnectTimeoutError, ReadTimeoutError)
# The AWS service each source type calls (API calls name theirs in the keyword).
SOURCE_SERVICES = {"AWS_Config": "config", "AWS_Security_Hub": "securityhub",
                   "AWS_Cloudtrail": "cloudtrail"}

Progress = Callable[[str, int], None]  # (description, shards done) -> None


_settled = threading.Event()


def settle_heap() -> None:
    """Once per process: collect, then move everything alive (modules, botocore's service
    models, SQLAlchemy's tables, the services) where the garbage collector no longer walks it
    (``gc.freeze``). Filing a trail's log files allocates containers by the hundred thousand (the
    parsed events held until their batch is appended), which sets off full collections; each one
    walked the whole heap of the process again: about a quarter of a worker's CPU per event."""
    if _settled.is_set():
        return
    _settled.set()
    gc.collect()
    gc.freeze()


class TransientShardError(Exception):
    """Every failure of the shard was throttling or a lost connection: try it again later."""


@dataclass(frozen=True)
class Shard:
    """(account, region, source type, part): the unit one job collects. ``part`` is the AWS
    service for API calls, "trail-files/YYYY-MM-DD" (one day of the trail's log files) or
    "lookup" for CloudTrail, "" otherwise."""

    account: str
    region: str
    source_type: str
    part: str
    keywords: tuple[str, ...]

    @property
    def key(self) -> str:
        return f"{self.account}/{self.region}/{self.source_type}/{self.part}"

    @property
    def lock(self) -> str:
        """Jobs with the same lock never run at once, on any worker: AWS limits requests per
        account, region and service, so that is what the lock bounds."""
        service = self.part if self.source_type == "AWS_API_Call" else \
            SOURCE_SERVICES[self.source_type]
        if self.trail_day:
            # Reading log files is S3 GETs, which S3 does not limit per account the way
            # CloudTrail's API is: the days of one trail are collected side by side.
            return f"aws/{self.account}/{self.region}/s3-trail/{self.trail_day}"
        region = "global" if self.is_global else self.region
        return f"aws/{self.account}/{region}/{service}"

    @property
    def is_global(self) -> bool:
        """API calls to a global AWS service (IAM, Organizations, Route 53...: see
        ``is_global_service``), which answer the same in every region of the account."""
        return self.source_type == "AWS_API_Call" and is_global_service(
            self.part, partition_of(self.region))

    @property
    def trail_day(self) -> str | None:
        """"YYYY-MM-DD" for a day of trail log files, else None."""
        if self.source_type == "AWS_Cloudtrail" and self.part.startswith(TRAIL_PART + "/"):
            return self.part[len(TRAIL_PART) + 1:]
        return None

    def as_row(self) -> dict[str, Any]:
        return {"shard": self.key, "account_id": self.account, "region": self.region,
                "source_type": self.source_type, "part": self.part,
                "keywords": list(self.keywords)}

    @classmethod
    def from_row(cls, row) -> "Shard":
        return cls(row.account_id, row.region, row.source_type, row.part, tuple(row.keywords))


def lock_of(shard_key: str) -> str:
    """The lock of a shard from its key alone (what the dispatcher has)."""
    account, region, source_type, part = shard_key.split("/", 3)
    return Shard(account, region, source_type, part, ()).lock


@dataclass
class _Tally:
    counts: dict
    failures: list
    states: list
    added: int = 0
    duplicates: int = 0
    # Drafts not appended yet (fewer than BATCH): they land with the shard's result.
    pending: list = field(default_factory=list)
    owners: dict = field(default_factory=dict)  # evidence id -> (control set, control, source)

    def count(self, drafts: Iterable[EvidenceDraft], added: set[str]) -> None:
        """Count ``drafts`` as added (their id in ``added``, taken from it: a repeated id is
        added once) or duplicates."""
        for draft in drafts:
            evidence_id = draft.evidence_id
            slot = self.counts.setdefault(self.owners[evidence_id], [0, 0])
            if evidence_id in added:
                added.discard(evidence_id)
                slot[0] += 1
                self.added += 1
            else:
                slot[1] += 1
                self.duplicates += 1


class _Commit:
    """One shard's last drafts and the write of its result, waiting for a group commit."""

    __slots__ = ("drafts", "tally", "record", "finished", "error")

    def __init__(self, drafts: list[EvidenceDraft], tally: _Tally,
                 record: Callable[[Any], None]):
        self.drafts = drafts
        self.tally = tally
        self.record = record  # (conn) -> None: writes the shard's result in that transaction
        self.finished = False
        self.error: BaseException | None = None


class GroupCommit:
    """Shards that finish at about the same time in one process land in one write
    transaction: one ledger batch (one link of the chain, one seal, one update per folder)
    for all their last drafts, then each shard's result. A thread that finds a commit under
    way queues its shard and waits; when that commit ends, one waiting thread commits every
    shard queued meanwhile (so a group grows with the load, and nobody waits for more than
    the commit before its own). If a group's transaction fails, each of its shards is tried
    in a transaction of its own, so one shard's error is that shard's alone."""

    def __init__(self, services: Services):
        self.services = services
        self._cond = threading.Condition()
        self._queued: list[_Commit] = []
        self._busy = False

    def commit(self, drafts: list[EvidenceDraft], tally: _Tally,
               record: Callable[[Any], None]) -> None:
        """Append ``drafts`` (counted into ``tally``) and run ``record(conn)`` in the same
        transaction, grouped with other threads' shards. Raises what that write raised."""
        item = _Commit(drafts, tally, record)
        with self._cond:
            self._queued.append(item)
            while self._busy and not item.finished:
                self._cond.wait()
            if not item.finished:
                self._busy = True
                group, self._queued = self._queued, []
        if not item.finished:
            try:
                self._write(group)
            finally:
                with self._cond:
                    for member in group:
                        member.finished = True
                    self._busy = False
                    self._cond.notify_all()
        if item.error is not None:
            raise item.error

    def _write(self, group: list[_Commit]) -> None:
        # ``record`` may run more than once (a transaction done again, a group that failed):
        # each time from the tallies as they were before this commit.
        before = {id(m): (m.tally.added, m.tally.duplicates,
                          {key: list(pair) for key, pair in m.tally.counts.items()})
                  for m in group}
        try:
            self._transaction(group, before)
        except Exception as error:  # noqa: BLE001 - alone, or each shard on its own
            if len(group) == 1:
                group[0].error = error
                return
            for member in group:
                try:
                    self._transaction([member], before)
                except Exception as own:  # noqa: BLE001 - that shard's error
                    member.error = own

    def _transaction(self, group: list[_Commit], before: dict) -> None:
        def record(conn, result) -> None:
            added = set(result.added)
            for member in group:
                was_added, was_duplicates, counts = before[id(member)]
                member.tally.added, member.tally.duplicates = was_added, was_duplicates
                member.tally.counts = {key: list(pair) for key, pair in counts.items()}
                member.tally.count(member.drafts, added)
                member.record(conn)

        self.services.collection.append_and_record(
            [draft for member in group for draft in member.drafts], record)


class Collection:
    """The work of collection jobs for one process: ``services`` for the store and ledger,
    ``sessions`` for AWS. Thread-safe; the dispatcher decides where each call runs."""

    def __init__(self, services: Services, sessions: AwsSessions | None = None,
                 now: Callable[[], float] = time.time):
        self.services = services
        self.settings = services.settings
        self.sessions = sessions or AwsSessions(services.settings)
        self.now = now
        self._plans: dict[str, CollectionPlan] = {}
        self._lock = threading.Lock()
        self._commits = GroupCommit(services)
        settle_heap()

    # -- planning -------------------------------------------------------------------------

    def start(self, assessment_id: str, trigger: str, dispatcher: str) -> str:
        return self.services.collection.start_run(assessment_id, trigger, dispatcher)

    def plan(self, run_id: str, due_only: bool = False) -> tuple[list[str], str | None]:
        """Check the setup, make the run's shards and record them (once). Returns the keys
        of the shards left to collect and the AWS Organization id (None outside one)."""
        collection = self.services.collection
        plan = self._plan(run_id)
        setup: list[dict] = []
        try:
            self.sessions.check_credentials()
            organization, outsiders = self._organization_check(plan, setup)
            reachable = []
            for account in plan.accounts:
                if account in outsiders:
                    continue
                try:
                    self.sessions.check_account(account, plan.regions[0])
                    reachable.append(account)
                except SetupProblem as problem:
                    setup.append(_setup_failure(problem, account))
        except SetupProblem as problem:
            setup.append(_setup_failure(problem, ""))
            organization, reachable = None, []
        trail_files = any(self._part(r) == TRAIL_PART for r in plan.sources)
        states = collection.states(plan.assessment_id) if due_only or trail_files else {}
        now = self.now()
        shards = []
        for account in reachable:
            for region in plan.regions:
                parts: dict[tuple[str, str], list[str]] = {}
                for request in plan.sources:
                    part = self._part(request)
                    if (Shard(account, region, request.source_type, part, ()).is_global
                            and region != _home_region(part, plan.regions, region)):
                        continue
                    key = (account, region, request.source_type, request.keyword)
                    if due_only and not collection.is_due(plan.assessment_id, account, region,
                                                          request, now, states.get(key)):
                        continue
                    parts.setdefault((request.source_type, part), []).append(request.keyword)
                for (source_type, part), keywords in parts.items():
                    if part == TRAIL_PART:
                        shards += [Shard(account, region, source_type, f"{TRAIL_PART}/{day}",
                                         tuple(keywords))
                                   for day in trail_days(plan.created_at, now, account, region,
                                                         states)]
                    else:
                        shards.append(Shard(account, region, source_type, part, tuple(keywords)))
        keys = collection.add_shards(run_id, plan.assessment_id, [s.as_row() for s in shards],
                                     setup)
        if not keys:
            collection.finish_if_complete(run_id, plan, planned=True)
        return keys, organization

    def _part(self, request: SourceRequest) -> str:
        if request.source_type == "AWS_API_Call":
            return request.keyword.split("_", 1)[0]
        if request.source_type == "AWS_Cloudtrail":
            return TRAIL_PART if self.settings.cloudtrail_s3_uri else "lookup"
        return ""

    def _plan(self, run_id: str) -> CollectionPlan:
        """The plan of a run, read once per process and run."""
        with self._lock:
            plan = self._plans.get(run_id)
        if plan is None:
            run = self.services.collection.run(run_id)
            plan = self.services.collection.plan_of_run(run.assessment_id)
            with self._lock:
                if len(self._plans) > 64:  # a worker sees many runs: keep the recent ones
                    self._plans.pop(next(iter(self._plans)))
                self._plans[run_id] = plan
        return plan

    def _organization_check(self, plan: CollectionPlan,
                            setup: list[dict]) -> tuple[str | None, set[str]]:
        """With a delegated administrator registered, the scope may name any member account of
        the organization, and only those: others are setup failures, not collected."""
        services = self.services
        admin = services.account.get_admin(services.system())
        if not admin.get("adminAccountId"):
            return None, set()
        session, _ = self.sessions.own()
        try:
            organizations = session.client("organizations", config=RETRIES)
            organization = organizations.describe_organization()["Organization"]["Id"]
            members = {a["Id"] for page in organizations.get_paginator("list_accounts").paginate()
                       for a in page["Accounts"] if a.get("Status", "ACTIVE") == "ACTIVE"}
        except Exception as error:  # noqa: BLE001 - any failure is recorded with its cause
            code, message = describe(error)
            raise SetupProblem(code, f"cannot list the organization's accounts: {message}; the "
                                     "delegated administrator needs organizations:ListAccounts "
                                     "(see docs/iam)") from None
        outsiders = {a for a in plan.accounts if a not in members}
        for account in sorted(outsiders):
            setup.append(_setup_failure(SetupProblem(
                "AccountNotInOrganization",
                f"account {account} is not an active member of organization {organization}: "
                "remove it from the assessment's scope"), account))
        return organization, outsiders

    # -- one shard ------------------------------------------------------------------------

    def collect(self, run_id: str, shard_key: str, organization: str | None = None,
                final_attempt: bool = False) -> bool:
        """Collect one shard and record its result; True when this call finished the run.

        Raises TransientShardError (nothing recorded) when every failure was throttling or a
        lost connection and the shard has attempts left; ``final_attempt`` records them
        instead. Any other exception is recorded as the failure of its source."""
        collection = self.services.collection
        row = collection.begin_shard(run_id, shard_key)
        if row is None:  # finished by an earlier attempt
            return collection.finish_if_complete(run_id)
        plan = self._plan(run_id)
        shard = Shard.from_row(row)
        by_keyword = {r.keyword: r for r in plan.sources if r.source_type == shard.source_type}
        requests = [by_keyword[k] for k in shard.keywords if k in by_keyword]
        tally = _Tally(counts={}, failures=[], states=[])
        failed: set[str] = set()
        transient = True
        throttled = 0
        now = self.now()
        with self.sessions.counting() as throttles:
            try:
                target = self.sessions.target(shard.account, shard.region)
            except Exception as error:  # noqa: BLE001 - recorded against every source
                for request in requests:
                    self._fail(tally, request, shard, error)
                failed = {r.keyword for r in requests}
                transient = _is_transient(error)
            else:
                if shard.trail_day:
                    outcomes = self._trail_files(plan, shard, target, requests, tally,
                                                 organization, now)
                else:
                    outcomes = self._sources(plan, shard, target, requests, tally, organization,
                                             now, throttles)
                for keyword, error, throttled_here in outcomes:
                    if error is None:
                        throttled += throttled_here
                        continue
                    failed.add(keyword)
                    transient = transient and _is_transient(error)
        if failed and transient and not final_attempt and row.attempts < SHARD_ATTEMPTS:
            raise TransientShardError(f"{shard_key}: {len(failed)} source(s) throttled or "
                                      "unreachable; trying again")

        def record(conn) -> None:
            counts = [[*key, added, duplicates]
                      for key, (added, duplicates) in tally.counts.items()]
            collection.end_shard(run_id, plan.assessment_id, shard_key,
                                 failed=bool(requests) and len(failed) == len(requests),
                                 added=tally.added, duplicates=tally.duplicates,
                                 throttled=throttled, counts=counts, failures=tally.failures,
                                 states=tally.states, conn=conn)

        # The shard's last drafts and its result, in one transaction (with other shards of
        # this process finishing at the same time).
        self._commits.commit(tally.pending, tally, record)
        # Counted after the commit: two last shards finishing at once each see the other's.
        return collection.finish_if_complete(run_id, plan)

    def give_up(self, run_id: str, shard_key: str, error: Exception) -> bool:
        """The shard's job failed for good (its dispatcher's attempts are spent): record the
        error against every source of the shard, so the run can finish and show it."""
        collection = self.services.collection
        row = collection.shard(run_id, shard_key)
        if row is None or row.status in ("DONE", "FAILED"):
            return collection.finish_if_complete(run_id)
        plan = self._plan(run_id)
        shard = Shard.from_row(row)
        tally = _Tally(counts={}, failures=[], states=[])
        for request in plan.sources:
            if request.source_type == shard.source_type and request.keyword in shard.keywords:
                self._fail(tally, request, shard, error)
        collection.end_shard(run_id, plan.assessment_id, shard_key, failed=True, added=0,
                             duplicates=0, throttled=0, counts=[], failures=tally.failures)
        return collection.finish_if_complete(run_id, plan)

    def _sources(self, plan, shard: Shard, target, requests, tally, organization, now,
                 throttles) -> list[tuple[str, Exception | None, int]]:
        """Each source of the shard in turn: (keyword, error or None, throttled responses)."""
        collection = self.services.collection
        outcomes = []
        config_rules: Any = None
        for request in requests:
            before = throttles.responses
            try:
                options: dict[str, Any] = {}
                if request.source_type == "AWS_Config":
                    if config_rules is None:
                        try:
                            config_rules = list(list_rules(target))
                        except Exception as error:  # noqa: BLE001 - recorded per source
                            config_rules = error
                    if isinstance(config_rules, Exception):
                        raise config_rules
                    options["rules"] = config_rules
                # Only CloudTrail lookups continue from the last success.
                state = collection.state(plan.assessment_id, shard.account, shard.region,
                                         request.source_type, request.keyword) \
                    if request.source_type == "AWS_Cloudtrail" else None
                observations = COLLECTORS[request.source_type](
                    target, request.keyword, since=self._since(plan, state, request), now=now,
                    **options)
                self._file(plan, ((request, obs) for obs in observations), tally, organization,
                           now)
                self._save(tally, shard, request.source_type, request.keyword, now, True)
                outcomes.append((request.keyword, None, throttles.responses - before))
            except Exception as error:  # noqa: BLE001 - any error is this source's failure
                self._fail(tally, request, shard, error)
                self._save(tally, shard, request.source_type, request.keyword, now, False)
                outcomes.append((request.keyword, error, 0))
        return outcomes

    def _trail_files(self, plan, shard: Shard, target, requests, tally, organization,
                     now) -> list[tuple[str, Exception | None, int]]:
        """One pass over one day of the trail's log files for every CloudTrail keyword of the
        shard, continuing from that day's cursor (or, for a day no shard has read yet, the
        cursor of the whole trail that collections before per-day shards saved)."""
        collection = self.services.collection
        by_keyword = {r.keyword: r for r in requests}
        day = shard.trail_day
        state = collection.state(plan.assessment_id, shard.account, shard.region,
                                 "AWS_Cloudtrail", TRAIL_FILES + day) or \
            collection.state(plan.assessment_id, shard.account, shard.region,
                             "AWS_Cloudtrail", TRAIL_FILES)
        # The days of one trail run side by side: only today's shard records where each
        # keyword stands (one writer per row).
        keyword_states = day == day_of(now)
        try:
            # The reader finds the trail's layout itself (account or organization folders).
            reader = TrailLogReader(target, set(by_keyword), s3_uri=self.settings.cloudtrail_s3_uri,
                                    since=plan.created_at, now=now,
                                    cursor=state.cursor if state else None, day=day)
            self._file(plan, ((by_keyword[k], obs) for k, obs in reader), tally, organization, now)
            self._save(tally, shard, "AWS_Cloudtrail", TRAIL_FILES + day, now, True, reader.cursor)
            for request in requests if keyword_states else ():
                self._save(tally, shard, request.source_type, request.keyword, now, True)
            return [(r.keyword, None, 0) for r in requests]
        except Exception as error:  # noqa: BLE001 - recorded against every keyword
            for request in requests:
                self._fail(tally, request, shard, error)
                if keyword_states:
                    self._save(tally, shard, request.source_type, request.keyword, now, False)
            return [(r.keyword, error, 0) for r in requests]

    # -- filing ---------------------------------------------------------------------------

    def _file(self, plan: CollectionPlan, pairs: Iterable[tuple[SourceRequest, Observation]],
              tally: _Tally, organization: str | None, now: float) -> None:
        """Turn observations into evidence for every control that asked, appending every
        BATCH drafts; the rest (``tally.pending``, across the shard's sources) lands with the
        shard's result. One record per observation (its drafts share it); what is the same for
        every observation of a request (its controls' id prefixes, its counters' key) is made
        once."""
        day = day_of(now)
        own_account = self.sessions.own()[1]
        assessment_id = plan.assessment_id
        targets: dict[int, tuple[str, list[tuple]]] = {}  # id(request) -> its controls
        for request, observation in pairs:
            target = targets.get(id(request))
            if target is None:
                target = targets[id(request)] = (
                    f"{request.source_type}|{request.keyword}|",
                    [(ref.control_set_id, ref.control_id,
                      draft_id_prefix(assessment_id, ref.control_set_id, ref.control_id,
                                      request.data_source, day),
                      (ref.control_set_id, ref.control_id, request.source_type))
                     for ref in request.controls])
            record = _record(request, observation, organization, own_account)
            identity = f"{target[0]}{observation.account_id}|{observation.identity}"
            for control_set_id, control_id, prefix, owner in target[1]:
                draft = EvidenceDraft.under(prefix, assessment_id, control_set_id, control_id,
                                            day, identity, record)
                tally.owners[draft.evidence_id] = owner
                tally.pending.append(draft)
            if len(tally.pending) >= BATCH:
                self._append(tally.pending, tally)
                tally.pending = []

    def _append(self, batch: list[EvidenceDraft], tally: _Tally) -> None:
        result = self.services.collection.append(batch)
        tally.count(batch, set(result.added))

    def _since(self, plan: CollectionPlan, state, request: SourceRequest) -> float:
        """Only events after the assessment started; CloudTrail lookups continue where the
        last successful run stopped (less an hour for late events)."""
        since = plan.created_at
        if request.source_type == "AWS_Cloudtrail" and state is not None and state.last_success_at:
            since = max(since, state.last_success_at - CLOUDTRAIL_OVERLAP)
        return since

    @staticmethod
    def _save(tally: _Tally, shard: Shard, source_type: str, keyword: str, now: float,
              succeeded: bool, cursor: str | None = None) -> None:
        """Where a source stands, saved with the shard's result (a cursor is only ever saved
        after the evidence it passed over is in the ledger)."""
        tally.states.append({"account": shard.account, "region": shard.region,
                             "source_type": source_type, "keyword": keyword, "ran_at": now,
                             "succeeded": succeeded, "cursor": cursor})

    def _fail(self, tally: _Tally, request: SourceRequest, shard: Shard, error: Exception) -> None:
        code, message = describe(error)
        for ref in request.controls:
            tally.failures.append({
                "control_set_id": ref.control_set_id, "control_id": ref.control_id,
                "account_id": shard.account, "region": shard.region,
                "source_type": request.source_type, "keyword": request.keyword,
                "error_code": code[:128], "message": message,
            })


def _record(request: SourceRequest, observation: Observation, organization: str | None,
            own_account: str | None) -> dict[str, Any]:
    """The ledger record of an observation (before the ledger adds its ids). ``attributes``
    only when the observation has some: CloudTrail's are derived from the payload where they
    are read (``model.evidence.evidence_attributes``), so the event is stored once."""
    record = {
        "dataSource": request.data_source, "sourceType": request.source_type,
        "keyword": request.keyword, "region": observation.region,
        "eventSource": observation.event_source, "eventName": observation.event_name,
        "evidenceByType": observation.evidence_by_type, "iamId": observation.iam_id,
        "awsAccountId": own_account or observation.account_id,
        "evidenceAwsAccountId": observation.account_id, "awsOrganization": organization,
        "time": observation.time,
        "resourcesIncluded": [dict(r) for r in observation.resources] if observation.resources
        else [],
        "complianceCheck": observation.compliance_check,
        "identity": observation.identity, "payload": observation.payload,
    }
    if observation.attributes:
        record["attributes"] = dict(observation.attributes)
    return record


def trail_days(since: float, now: float, account: str, region: str,
               states: dict[tuple[str, str, str, str], Any]) -> list[str]:
    """The days ("YYYY-MM-DD", UTC) of a trail's log files to read for one account and region:
    from the day of ``since`` to the day of ``now``, less the days read completely already.

    A day is read completely once a collection that read it (its own cursor, or the whole
    trail's cursor of the collections before per-day shards) succeeded at least
    ``GRACE_SECONDS`` after the day ended: CloudTrail delivers a file within minutes of its
    events, and files named later than that are not waited for (as ``TrailLogReader`` does).
    ``states`` are the assessment's source states by (account, region, source type, keyword)."""
    def succeeded(keyword: str) -> float:
        row = states.get((account, region, "AWS_Cloudtrail", keyword))
        return (row.last_success_at or 0.0) if row is not None else 0.0

    whole_trail = succeeded(TRAIL_FILES)
    days = []
    day = dt.datetime.fromtimestamp(since, dt.timezone.utc).date()
    last = dt.datetime.fromtimestamp(now, dt.timezone.utc).date()
    while day <= last:
        name = day.isoformat()
        ends = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(),
                                   dt.timezone.utc).timestamp()
        if max(whole_trail, succeeded(TRAIL_FILES + name)) < ends + GRACE_SECONDS:
            days.append(name)
        day += dt.timedelta(days=1)
    return days


def _home_region(service: str, regions: list[str], region: str) -> str:
    """The one region of the assessment's ``regions`` (sorted) where a global service is
    collected, in the partition of ``region``: the region botocore signs its requests for
    (us-east-1 for IAM in "aws") when in scope, else the first in scope. Its evidence ids name
    no region, so they are those of collecting it in every region."""
    partition = partition_of(region)
    signing = global_region(service, partition)
    same = [r for r in regions if partition_of(r) == partition]
    return signing if signing in same else same[0]


def _setup_failure(problem: SetupProblem, account: str) -> dict:
    return {"control_set_id": "", "control_id": "", "account_id": account, "region": "",
            "source_type": SETUP, "keyword": "", "error_code": problem.code[:128],
            "message": problem.message}


def _is_transient(error: Exception) -> bool:
    if isinstance(error, SourceUnavailable):
        return False
    if isinstance(error, _TRANSIENT_ERRORS):
        return True
    return describe(error)[0] in THROTTLING_CODES
