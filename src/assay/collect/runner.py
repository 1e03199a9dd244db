"""The collection runner: for an active assessment, every automated source of its controls x every
account in scope x its regions.

It owns what the collectors do not: boto3 sessions (the credentials chain for Assay's own
account, sts:AssumeRole into ``ASSAY_MEMBER_ROLE`` for the others), adaptive retries, bounded
concurrency, filing observations under the controls that asked for them, and recording every
failure. Evidence ids are deterministic, so a re-run, or a run after a crash, adds nothing twice.
"""

from __future__ import annotations

import re
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ..model.evidence import Observation, SourceUnavailable
from ..service import Services
from ..service.auth import Caller
from ..service.collection import CollectionPlan, SourceRequest, summarise
from ..service.ledger import EvidenceDraft, day_of
from . import COLLECTORS, Target
from .base import partition_of
from .cloudtrail import TrailLogReader
from .config import list_rules

BATCH = 2000  # drafts per ledger append: one transaction, one seal
# A little overlap when continuing CloudTrail lookups: events can arrive late.
CLOUDTRAIL_OVERLAP = 3600
RETRIES = Config(retries={"mode": "adaptive", "max_attempts": 8}, connect_timeout=10,
                 read_timeout=60)

Progress = Callable[[str, int], None]  # (description, units done) -> None


@dataclass
class RunResult:
    run_id: str
    plan: CollectionPlan
    summary: list[dict]
    failures: list[dict]

    @property
    def added(self) -> int:
        return sum(r["added"] for r in self.summary)

    @property
    def duplicates(self) -> int:
        return sum(r["duplicates"] for r in self.summary)

    @property
    def errors(self) -> int:
        return len(self.failures)


@dataclass
class _Tally:
    """Counts per (control set, control, source type), shared by the worker threads."""

    counts: dict = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    failures: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Runner:
    def __init__(self, services: Services, session_factory: Callable[..., boto3.Session] = boto3.Session,
                 now: Callable[[], float] = time.time):
        self.services = services
        self.settings = services.settings
        self.session_factory = session_factory
        self.now = now
        self._own_session: boto3.Session | None = None
        self._own_account: str | None = None
        self._member_sessions: dict[str, boto3.Session] = {}
        self._lock = threading.Lock()

    # -- the run --------------------------------------------------------------------------

    def run(self, caller: Caller, assessment_id: str, *, trigger: str = "manual",
            due_only: bool = False, progress: Progress | None = None) -> RunResult:
        collection = self.services.collection
        plan = collection.plan(caller, assessment_id)
        run_id = collection.start_run(assessment_id, trigger)
        tally = _Tally()
        units = [(account, region) for account in plan.accounts for region in plan.regions]
        organization, outsiders = self._organization_check(plan.accounts, tally, plan)
        work = [(account, region) for account, region in units if account not in outsiders]
        with ThreadPoolExecutor(max_workers=max(1, self.settings.collect_workers)) as pool:
            list(pool.map(lambda unit: self._collect_unit(plan, run_id, unit[0], unit[1], tally,
                                                          due_only, organization, progress), work))
        collection.record_failures(run_id, assessment_id, tally.failures)
        counts = {key: tuple(value) for key, value in tally.counts.items()}
        summary = summarise(plan, counts, tally.failures)
        collection.finish_run(run_id, plan, summary)
        return RunResult(run_id, plan, summary, tally.failures)

    def run_due(self) -> list[RunResult]:
        """The schedule's tick: every active assessment, only what is due."""
        results = []
        caller = self.services.system()
        for assessment_id in self.services.collection.active_assessments():
            results.append(self.run(caller, assessment_id, trigger="schedule", due_only=True))
        return results

    def _collect_unit(self, plan: CollectionPlan, run_id: str, account: str, region: str,
                      tally: _Tally, due_only: bool, organization: str | None,
                      progress: Progress | None) -> None:
        now = self.now()
        requests = [r for r in plan.sources
                    if not due_only or self.services.collection.is_due(
                        plan.assessment_id, account, region, r, now)]
        try:
            target = self._target(account, region)
        except (ClientError, BotoCoreError) as error:
            for request in requests:
                self._fail(tally, request, account, region, error)
            if progress:
                progress(f"{account}/{region}: could not get credentials", len(requests))
            return
        trail_reader_requests = [r for r in requests if r.source_type == "AWS_Cloudtrail"] \
            if self.settings.cloudtrail_s3_uri else []
        if trail_reader_requests:
            self._collect_trail_files(plan, account, region, target, trail_reader_requests, tally,
                                      organization, now, progress)
        config_rules = None
        for request in requests:
            if request in trail_reader_requests:
                continue
            state = self.services.collection.state(plan.assessment_id, account, region,
                                                   request.source_type, request.keyword)
            options: dict[str, Any] = {}
            if request.source_type == "AWS_Config":
                if config_rules is None:
                    try:
                        config_rules = list(list_rules(target))
                    except (ClientError, BotoCoreError) as error:
                        config_rules = error
                if isinstance(config_rules, Exception):
                    self._fail(tally, request, account, region, config_rules)
                    self._save(plan, account, region, request, now, False)
                    continue
                options["rules"] = config_rules
            since = self._since(plan, state, request)
            try:
                observations = COLLECTORS[request.source_type](
                    target, request.keyword, since=since, now=now, **options)
                self._file(plan, [(request, obs) for obs in observations], tally, organization, now)
                self._save(plan, account, region, request, now, True)
            except SourceUnavailable as error:
                self._fail(tally, request, account, region, error)
                self._save(plan, account, region, request, now, False)
            except (ClientError, BotoCoreError) as error:
                self._fail(tally, request, account, region, error)
                self._save(plan, account, region, request, now, False)
            if progress:
                progress(f"{account}/{region} {request.keyword}", 1)

    def _collect_trail_files(self, plan, account, region, target, requests, tally,
                             organization, now, progress) -> None:
        """One pass over the trail's log files for every CloudTrail keyword of this account and
        region, continuing from the cursor the last run saved."""
        by_keyword = {r.keyword: r for r in requests}
        anchor = requests[0]
        state = self.services.collection.state(plan.assessment_id, account, region,
                                               anchor.source_type, "*trail-files*")
        try:
            # The reader finds the trail's layout itself (account or organization folders).
            reader = TrailLogReader(target, set(by_keyword), s3_uri=self.settings.cloudtrail_s3_uri,
                                    since=plan.created_at, now=now,
                                    cursor=state.cursor if state else None)
            self._file(plan, ((by_keyword[k], obs) for k, obs in reader), tally, organization, now)
            self.services.collection.save_state(plan.assessment_id, account, region,
                                                anchor.source_type, "*trail-files*", ran_at=now,
                                                succeeded=True, cursor=reader.cursor)
            for request in requests:
                self._save(plan, account, region, request, now, True)
        except (SourceUnavailable, ClientError, BotoCoreError) as error:
            for request in requests:
                self._fail(tally, request, account, region, error)
                self._save(plan, account, region, request, now, False)
        if progress:
            progress(f"{account}/{region} CloudTrail log files", len(requests))

    # -- filing ---------------------------------------------------------------------------

    def _file(self, plan: CollectionPlan, pairs: Iterable[tuple[SourceRequest, Observation]],
              tally: _Tally, organization: str | None, now: float) -> None:
        """Turn observations into evidence for every control that asked, appending in batches."""
        day = day_of(now)
        batch: list[EvidenceDraft] = []
        owners: dict[str, tuple] = {}
        for request, observation in pairs:
            record = self._record(request, observation, organization)
            for ref in request.controls:
                draft = EvidenceDraft(plan.assessment_id, ref.control_set_id, ref.control_id, day,
                                      f"{request.source_type}|{request.keyword}|{observation.account_id}|"
                                      f"{observation.identity}", record)
                owners[draft.evidence_id] = (ref.control_set_id, ref.control_id, request.source_type)
                batch.append(draft)
            if len(batch) >= BATCH:
                self._append(batch, owners, tally)
                batch, owners = [], {}
        if batch:
            self._append(batch, owners, tally)

    def _append(self, batch: list[EvidenceDraft], owners: dict, tally: _Tally) -> None:
        result = self.services.collection.append(batch)
        with tally.lock:
            for evidence_id in result.added:
                tally.counts[owners[evidence_id]][0] += 1
            for evidence_id in result.duplicates:
                tally.counts[owners[evidence_id]][1] += 1

    def _record(self, request: SourceRequest, observation: Observation,
                organization: str | None) -> dict[str, Any]:
        return {
            "dataSource": request.data_source, "sourceType": request.source_type,
            "keyword": request.keyword, "region": observation.region,
            "eventSource": observation.event_source, "eventName": observation.event_name,
            "evidenceByType": observation.evidence_by_type, "iamId": observation.iam_id,
            "awsAccountId": self._own_account or observation.account_id,
            "evidenceAwsAccountId": observation.account_id, "awsOrganization": organization,
            "time": observation.time, "resourcesIncluded": [dict(r) for r in observation.resources],
            "attributes": dict(observation.attributes),
            "complianceCheck": observation.compliance_check,
            "identity": observation.identity, "payload": observation.payload,
        }

    def _since(self, plan: CollectionPlan, state, request: SourceRequest) -> float:
        """Only events after the assessment started; CloudTrail lookups continue where the
        last successful run stopped (less an hour for late events)."""
        since = plan.created_at
        if request.source_type == "AWS_Cloudtrail" and state is not None and state.last_success_at:
            since = max(since, state.last_success_at - CLOUDTRAIL_OVERLAP)
        return since

    def _save(self, plan, account, region, request, now, succeeded) -> None:
        self.services.collection.save_state(plan.assessment_id, account, region,
                                            request.source_type, request.keyword, ran_at=now,
                                            succeeded=succeeded)

    def _fail(self, tally: _Tally, request: SourceRequest, account: str, region: str,
              error: Exception) -> None:
        code, message = _describe(error)
        with tally.lock:
            for ref in request.controls:
                tally.failures.append({
                    "control_set_id": ref.control_set_id, "control_id": ref.control_id,
                    "account_id": account, "region": region, "source_type": request.source_type,
                    "keyword": request.keyword, "error_code": code[:128], "message": message,
                })

    # -- sessions -------------------------------------------------------------------------

    def _own(self) -> tuple[boto3.Session, str]:
        with self._lock:
            if self._own_session is None:
                session = self.session_factory(region_name=self.settings.default_region)
                identity = session.client("sts", config=RETRIES).get_caller_identity()
                self._own_session, self._own_account = session, identity["Account"]
            return self._own_session, self._own_account

    def _session_for(self, account: str, region: str) -> boto3.Session:
        own, own_account = self._own()
        if account == own_account:
            return own
        with self._lock:
            cached = self._member_sessions.get(account)
        if cached is not None:
            return cached
        role_arn = f"arn:{partition_of(region)}:iam::{account}:role/{self.settings.member_role}"
        kwargs = {"RoleArn": role_arn, "RoleSessionName": "assay-collection"}
        if self.settings.member_external_id:
            kwargs["ExternalId"] = self.settings.member_external_id
        credentials = own.client("sts", region_name=region, config=RETRIES).assume_role(**kwargs)[
            "Credentials"]
        session = self.session_factory(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"], region_name=region)
        with self._lock:
            self._member_sessions[account] = session
        return session

    def _target(self, account: str, region: str) -> Target:
        session = self._session_for(account, region)
        clients: dict[str, Any] = {}
        lock = threading.Lock()

        def client(service_name: str):
            with lock:
                if service_name not in clients:
                    clients[service_name] = session.client(service_name, region_name=region,
                                                           config=RETRIES)
                return clients[service_name]

        return Target(account, region, client)

    def _organization_check(self, accounts: list[str], tally: _Tally,
                            plan: CollectionPlan) -> tuple[str | None, set[str]]:
        """With a delegated administrator registered, the scope may name any member account of
        the organization, and only those: others are recorded as failures, not collected."""
        admin = self.services.account.get_admin(self.services.system())
        if not admin.get("adminAccountId"):
            return None, set()
        try:
            session, _ = self._own()
            organizations = session.client("organizations", config=RETRIES)
            organization = organizations.describe_organization()["Organization"]["Id"]
            members = {a["Id"] for page in organizations.get_paginator("list_accounts").paginate()
                       for a in page["Accounts"] if a.get("Status", "ACTIVE") == "ACTIVE"}
        except (ClientError, BotoCoreError) as error:
            for account in accounts:
                for region in plan.regions:
                    for request in plan.sources:
                        self._fail(tally, request, account, region, error)
            return None, set(accounts)
        outsiders = {a for a in accounts if a not in members}
        for account in outsiders:
            for region in plan.regions:
                for request in plan.sources:
                    self._fail(tally, request, account, region, SourceUnavailable(
                        "AccountNotInOrganization",
                        f"account {account} is not an active member of organization {organization}"))
        return organization, outsiders


def _describe(error: Exception) -> tuple[str, str]:
    """The AWS error code and a one-line message (some endpoints answer with an HTML page)."""
    if isinstance(error, SourceUnavailable):
        code, message = error.code, error.message
    elif isinstance(error, ClientError):
        details = error.response.get("Error", {})
        code, message = details.get("Code", "ClientError"), details.get("Message", str(error))
    else:
        code, message = type(error).__name__, str(error)
    message = " ".join(re.sub(r"<[^>]+>", " ", message).split())
    return code, message[:500]
