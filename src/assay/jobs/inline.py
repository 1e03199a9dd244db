"""The embedded default: collection jobs run in this process, on threads.

`assay collect` and `assay serve` on SQLite (and `assay collect` anywhere) dispatch the same
job functions as the workers (``work.Collection``): plan a run, collect its shards, the last
shard finishes the run. Only the dispatch differs: a thread pool here, procrastinate workers in
``queue``. A run a crashed process left RUNNING is found by ``recover`` (its process is gone),
marked INTERRUPTED and run again.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

import boto3
import sqlalchemy as sa

from ..collect.sessions import AwsSessions
from ..service import Services
from ..service.auth import Caller
from ..service.collection import CollectionPlan, group_failures
from ..store import tables
from .work import SHARD_ATTEMPTS, Collection, Progress, TransientShardError, lock_of

log = logging.getLogger("assay.jobs")
# Backoff between attempts of a shard AWS throttled: 2, 4, 8 s (the queue uses the same).
BACKOFF_BASE = 2.0


def dispatcher_id() -> str:
    """Who runs a run's shards in this process: "inline:<host>:<pid>"."""
    return f"inline:{socket.gethostname()}:{os.getpid()}"


@dataclass
class RunResult:
    """A finished run: ``summary`` per control and data source, every failure, the failures
    grouped by source and error kind, and shard counts."""

    run_id: str
    plan: CollectionPlan
    status: str
    summary: list[dict]
    failures: list[dict]
    groups: list[dict]
    shards: int
    failed_shards: int
    throttled: int

    @property
    def added(self) -> int:
        return sum(r["added"] for r in self.summary)

    @property
    def duplicates(self) -> int:
        return sum(r["duplicates"] for r in self.summary)

    @property
    def errors(self) -> int:
        return len(self.failures)

    @property
    def nothing_collected(self) -> bool:
        """Failures, and no shard that collected anything: `assay collect` exits 1."""
        return bool(self.failures) and self.shards == self.failed_shards


class InlineRunner:
    """Runs collections in this process. ``session_factory`` makes boto3 sessions."""

    def __init__(self, services: Services, session_factory: Callable[..., boto3.Session] = boto3.Session,
                 now: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep):
        self.services = services
        self.work = Collection(services, AwsSessions(services.settings, session_factory), now)
        self.sleep = sleep
        # The same bound as the queue's locks: one job per account, region and AWS service.
        self._locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()

    def run(self, caller: Caller, assessment_id: str, *, trigger: str = "manual",
            due_only: bool = False, progress: Progress | None = None) -> RunResult:
        """Collect an assessment now; the caller must be able to read it and it must be
        ACTIVE (ServiceError otherwise)."""
        self.services.collection.plan(caller, assessment_id)  # rights and status, up front
        run_id = self.work.start(assessment_id, trigger, dispatcher_id())
        return self.resume(run_id, due_only=due_only, progress=progress)

    def resume(self, run_id: str, *, due_only: bool = False,
               progress: Progress | None = None) -> RunResult:
        keys, organization = self.work.plan(run_id, due_only)
        workers = max(1, self.services.settings.collect_workers)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="assay-shard") as pool:
            for key in pool.map(lambda k: self._shard(run_id, k, organization), keys):
                if progress:
                    progress(key, 1)
        self.services.collection.finish_if_complete(run_id, planned=True)
        return result_of(self.services, run_id)

    def _shard(self, run_id: str, key: str, organization: str | None) -> str:
        with self._locks_lock:
            lock = self._locks.setdefault(lock_of(key), threading.Lock())
        with lock:
            return self._attempts(run_id, key, organization)

    def _attempts(self, run_id: str, key: str, organization: str | None) -> str:
        for attempt in range(1, SHARD_ATTEMPTS + 1):
            try:
                self.work.collect(run_id, key, organization,
                                  final_attempt=attempt == SHARD_ATTEMPTS)
                return key
            except TransientShardError:
                self.sleep(BACKOFF_BASE ** attempt)
            except Exception as error:  # noqa: BLE001 - the shard's failure, recorded
                log.exception("shard %s of run %s failed", key, run_id)
                self.work.give_up(run_id, key, error)
                return key
        return key

    def run_due(self) -> list[RunResult]:
        """The schedule's round: every active assessment, only what is due."""
        caller = self.services.system()
        return [self.run(caller, assessment_id, trigger="schedule", due_only=True)
                for assessment_id in self.services.collection.active_assessments()]

    def recover(self) -> list[RunResult]:
        """Runs of this host's embedded dispatchers left RUNNING by a process that is gone:
        mark each INTERRUPTED and collect its assessment again."""
        host = socket.gethostname()
        results = []
        for run in self.services.collection.running(f"inline:{host}:"):
            pid = int(run.dispatcher.rsplit(":", 1)[1])
            if pid == os.getpid() or _alive(pid):
                continue
            if self.services.collection.interrupt(run.id):
                log.warning("run %s of %s was interrupted (process %d died): running it again",
                            run.id, run.assessment_id, pid)
                try:
                    results.append(self.run(self.services.system(), run.assessment_id,
                                            trigger="recovery"))
                except Exception:  # noqa: BLE001 - e.g. the assessment is INACTIVE now
                    log.exception("could not collect %s again", run.assessment_id)
        return results


def result_of(services: Services, run_id: str) -> RunResult:
    """A run as `assay collect` shows it."""
    with services.store.read() as conn:
        run = conn.execute(sa.select(tables.collection_runs)
                           .where(tables.collection_runs.c.id == run_id)).one()
        failures = [dict(f._mapping) for f in conn.execute(
            sa.select(tables.collection_failures)
            .where(tables.collection_failures.c.run_id == run_id)
            .order_by(tables.collection_failures.c.id))]
        sh = tables.collection_shards
        failed = conn.execute(sa.select(sa.func.count()).select_from(sh).where(
            sh.c.run_id == run_id, sh.c.status == "FAILED")).scalar_one()
    for failure in failures:
        failure.pop("id", None)
    plan = services.collection.plan_of_run(run.assessment_id)
    return RunResult(run_id, plan, run.status, run.summary or [], failures,
                     group_failures(failures), run.shards, failed, run.throttled)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class InlineSchedule:
    """`assay serve` on the embedded default: every ``interval`` seconds, collect what is due,
    deliver again framework shares a crash left half-sent and prune old runs' detail. One
    process owns an embedded instance, so nothing else is needed; scaled out, procrastinate's
    periodic tasks do this (``queue``)."""

    def __init__(self, services: Services, interval: float, runner: InlineRunner | None = None):
        self.services = services
        self.interval = interval
        self.runner = runner or InlineRunner(services)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="assay-schedule", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        try:
            self.runner.recover()
        except Exception:  # noqa: BLE001 - logged; the schedule goes on
            log.exception("recovering interrupted runs failed")
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - one bad round must not end the schedule
                log.exception("scheduled collection failed")
            self._stop.wait(self.interval)

    def tick(self) -> int:
        """One round; returns how many assessments ran."""
        retried = self.services.sharing.redeliver_stale()
        if retried:
            log.info("re-delivered %d framework share(s) left replicating", retried)
        expired = self.services.worklist.expire_due()  # logged in the change log when due
        if expired:
            log.info("%d risk exception(s) expired", expired)
        try:
            pruned = self.services.collection.prune(
                self.services.settings.collect_retention_days)
            if pruned["runs"]:
                log.info("pruned the shards and failures of %d old run(s)", pruned["runs"])
        except Exception:  # noqa: BLE001 - logged; pruning failing must not stop collection
            log.exception("pruning old collection runs failed")
        results = self.runner.run_due()
        for result in results:
            log.info("collected %s: %d added, %d duplicates, %d errors", result.plan.assessment_id,
                     result.added, result.duplicates, result.errors)
        return len(results)


def launch_in_background(services: Services, caller: Caller, assessment_id: str) -> None:
    """Collect now, on a thread (the console's button on the embedded default)."""
    def run() -> None:
        try:
            InlineRunner(services).run(caller, assessment_id, trigger="manual")
        except Exception:  # noqa: BLE001 - the run records its own failures; this is a crash
            log.exception("collection of %s failed", assessment_id)

    threading.Thread(target=run, name=f"collect-{assessment_id[:8]}", daemon=True).start()
