"""Scaled out: the jobs on procrastinate (PostgreSQL), run by `assay worker` processes on any
number of machines.

Tasks (all run the code of ``work``; only the dispatch is here):

- ``assay.schedule`` (periodic, every ``collect_interval``): a run per active assessment that
  has none running, and its planner job. Procrastinate defers each periodic tick once across
  all workers, and the task's lock keeps two ticks from overlapping: no lease of our own.
- ``assay.plan_run``: fans a run out into one ``assay.collect_shard`` job per shard. A shard's
  queueing lock ("<run>/<shard>") keeps it from waiting in the queue twice; its lock
  ("aws/<account>/<region>/<service>") keeps two jobs from calling the same AWS service of the
  same account and region at once, on any worker (AWS throttles per account and region).
- ``assay.collect_shard``: retried with exponential backoff when AWS throttled it or the
  connection dropped; after its last attempt the error is recorded against its sources.
- ``assay.recover`` (periodic, every 10 s): jobs of a worker that stopped sending heartbeats
  (killed, its machine gone) are set to run again (procrastinate's stalled-job recovery), and a
  run whose shards all finished is finished.
- ``assay.redeliver_shares`` (periodic) and ``assay.build_report``: framework-share redelivery
  and report builds.
- ``assay.expire_exceptions`` (periodic, every minute): risk exceptions past their expiry end.
- ``assay.prune_runs`` (periodic, hourly): the shards and failures of runs older than
  ``collect_retention_days`` go (``CollectionService.prune``).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import procrastinate
from procrastinate.exceptions import AlreadyEnqueued
from procrastinate.schema import SchemaManager

from ..service import Services
from ..service.auth import Caller
from .work import SHARD_ATTEMPTS, Collection, TransientShardError, lock_of

log = logging.getLogger("assay.jobs")

QUEUE_PLAN = "assay-plan"
QUEUE_COLLECT = "assay-collect"
QUEUE_REPORTS = "assay-reports"
QUEUE_MAINTENANCE = "assay-maintenance"
QUEUES = (QUEUE_PLAN, QUEUE_COLLECT, QUEUE_REPORTS, QUEUE_MAINTENANCE)
# procrastinate waits exponential_wait ** (attempts + 1) seconds between attempts: 2, 4, 8 s.
SHARD_RETRY = procrastinate.RetryStrategy(max_attempts=SHARD_ATTEMPTS - 1, exponential_wait=2,
                                          retry_exceptions={TransientShardError})
RETRY = procrastinate.RetryStrategy(max_attempts=5, exponential_wait=2)
DEFER_BATCH = 1000  # shard jobs a planner defers in one statement
# A planner that deferred at least this many jobs has the queue table analyzed (see
# ``analyze_queue``).
ANALYZE_AFTER = 500
_SCHEMA_LOCK = 0x61737361  # "assa": one process applies procrastinate's schema at a time


@dataclass
class _Runtime:
    services: Services
    work: Collection


_runtime: _Runtime | None = None
_runtime_lock = threading.Lock()


def conninfo(database_url: str) -> str:
    """The libpq URL of an SQLAlchemy PostgreSQL URL (procrastinate speaks psycopg directly)."""
    for prefix in ("postgresql+psycopg://", "postgres://"):
        if database_url.startswith(prefix):
            return "postgresql://" + database_url[len(prefix):]
    return database_url


def is_queue_backend(services: Services) -> bool:
    """Jobs go on procrastinate when the database is PostgreSQL."""
    return not services.store.is_sqlite


def ensure_schema(services: Services) -> None:
    """Create procrastinate's tables once (idempotent; serialized across processes)."""
    import sqlalchemy as sa

    with services.store.write() as conn:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK})
        if conn.execute(sa.text("SELECT to_regclass('procrastinate_jobs')")).scalar() is None:
            # Several statements and literal "%": psycopg runs it as is when given no parameters.
            conn.connection.driver_connection.execute(SchemaManager.get_schema())


def analyze_queue(services: Services) -> None:
    """Refresh PostgreSQL's statistics of procrastinate's job table. A worker's fetch takes the
    first job in (priority, id) order whose lock is free: with statistics that say the table
    is (nearly) empty, as they do when a planner has just filled it, PostgreSQL plans that as
    "check every waiting job, then sort", so each fetch costs time in proportion to the queue
    (40 ms with 700 jobs waiting, measured by bench/org_scale.py) until autovacuum analyzes
    the table, up to minutes later. With fresh statistics it walks the (priority, id) index
    and stops at the first free job (well under a millisecond)."""
    import sqlalchemy as sa

    with services.store.write() as conn:
        conn.execute(sa.text("ANALYZE procrastinate_jobs"))


def _cron(seconds: int) -> str:
    """A cron expression for "every ``seconds``" (procrastinate's 6th column is seconds)."""
    if seconds < 60:
        return f"* * * * * */{max(1, seconds)}"
    minutes = max(1, seconds // 60)
    return f"*/{minutes} * * * *" if minutes < 60 else f"0 */{max(1, minutes // 60)} * * *"


def make_app(services: Services, work: Collection | None = None,
             pool: dict[str, int] | None = None) -> procrastinate.App:
    """The procrastinate app of this instance, its tasks bound to ``services``. API servers
    use it to defer jobs; `assay worker` runs it. ``pool``: psycopg_pool's ``min_size`` and
    ``max_size`` for its connections (psycopg_pool's defaults, 4 held open, when None)."""
    global _runtime
    with _runtime_lock:
        _runtime = _Runtime(services, work or Collection(services))
    settings = services.settings
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(
        conninfo=conninfo(services.store.url), **(pool or {})))

    @app.task(name="assay.plan_run", queue=QUEUE_PLAN, retry=RETRY)
    def plan_run(run_id: str, due_only: bool = False) -> int:
        keys, organization = _runtime.work.plan(run_id, due_only)
        jobs = [collect_shard.configure(lock=lock_of(key), queueing_lock=f"{run_id}/{key}")
                .make_new_job(run_id=run_id, shard=key, organization=organization)
                for key in keys]
        # procrastinate's batch defer: one statement per DEFER_BATCH jobs instead of one each.
        manager = app.job_manager
        for start in range(0, len(jobs), DEFER_BATCH):
            batch = jobs[start:start + DEFER_BATCH]
            try:
                manager.batch_defer_jobs(batch)
            except AlreadyEnqueued:
                # A planner that ran again: some shards are already waiting (the batch was
                # refused whole), so the batch goes one job at a time.
                for job in batch:
                    try:
                        manager.defer_job(job)
                    except AlreadyEnqueued:
                        pass
        if len(jobs) >= ANALYZE_AFTER:
            analyze_queue(_runtime.services)
        return len(keys)

    @app.task(name="assay.collect_shard", queue=QUEUE_COLLECT, retry=SHARD_RETRY,
              pass_context=True)
    def collect_shard(context, run_id: str, shard: str, organization: str | None = None) -> None:
        final = context.job.attempts + 1 >= SHARD_ATTEMPTS
        try:
            _runtime.work.collect(run_id, shard, organization, final_attempt=final)
        except TransientShardError:
            raise
        except Exception as error:  # noqa: BLE001 - recorded, the run goes on
            log.exception("shard %s of run %s failed", shard, run_id)
            _runtime.work.give_up(run_id, shard, error)

    @app.task(name="assay.schedule", queue=QUEUE_PLAN, lock="assay-schedule")
    def schedule(timestamp: int) -> int:
        return start_due(_runtime.services, plan_run)

    if settings.collect_interval > 0:  # ASSAY_COLLECT_INTERVAL=0: collection on demand only
        app.periodic(cron=_cron(settings.collect_interval), periodic_id="schedule")(schedule)

    @app.periodic(cron="* * * * * */10", periodic_id="recover")
    @app.task(name="assay.recover", queue=QUEUE_MAINTENANCE, lock="assay-recover",
              pass_context=True)
    def recover(context, timestamp: int) -> int:
        return recover_stalled(context.app, _runtime.services,
                               stalled_after=3 * settings.worker_heartbeat)

    @app.periodic(cron=_cron(max(60, settings.collect_interval)), periodic_id="shares")
    @app.task(name="assay.redeliver_shares", queue=QUEUE_MAINTENANCE, lock="assay-shares")
    def redeliver_shares(timestamp: int) -> int:
        return _runtime.services.sharing.redeliver_stale()

    @app.periodic(cron="* * * * *", periodic_id="exceptions")
    @app.task(name="assay.expire_exceptions", queue=QUEUE_MAINTENANCE, lock="assay-exceptions")
    def expire_exceptions(timestamp: int) -> int:
        # Risk exceptions past their expiry end (each in the change log), also when no
        # console page happens to read them.
        return _runtime.services.worklist.expire_due()

    @app.periodic(cron="17 * * * *", periodic_id="prune")
    @app.task(name="assay.prune_runs", queue=QUEUE_MAINTENANCE, lock="assay-prune")
    def prune_runs(timestamp: int) -> int:
        return _runtime.services.collection.prune(settings.collect_retention_days)["runs"]

    @app.task(name="assay.build_report", queue=QUEUE_REPORTS, retry=RETRY)
    def build_report(report_id: str) -> None:
        _runtime.services.reports.build(report_id)

    # The evidence finder's index build (idempotent, resumable): one at a time, retried.
    @app.task(name="assay.build_finder_index", queue=QUEUE_MAINTENANCE,
              queueing_lock="assay-finder-index", lock="assay-finder-index", retry=RETRY)
    def build_finder_index_task() -> None:
        from ..service.finder import build_finder_index

        build_finder_index(_runtime.services)

    app.assay_tasks = {"plan_run": plan_run, "collect_shard": collect_shard,  # type: ignore[attr-defined]
                       "build_report": build_report, "prune_runs": prune_runs,
                       "build_finder_index": build_finder_index_task}
    return app


def start_due(services: Services, plan_run) -> int:
    """A scheduled run for every active assessment with none running; returns how many."""
    collection = services.collection
    busy = {run.assessment_id for run in collection.running("queue")}
    started = 0
    for assessment_id in collection.active_assessments():
        if assessment_id in busy:
            continue
        run_id = collection.start_run(assessment_id, "schedule", "queue")
        plan_run.defer(run_id=run_id, due_only=True)
        started += 1
    return started


def recover_stalled(app: procrastinate.App, services: Services, stalled_after: float) -> int:
    """Run again the jobs of workers that stopped sending heartbeats, and finish runs whose
    shards have all finished. Returns how many jobs were retried."""
    from procrastinate import utils

    async def retry() -> int:
        stalled = list(await app.job_manager.get_stalled_jobs(
            seconds_since_heartbeat=stalled_after))
        for job in stalled:
            log.warning("job %s (%s) of a stalled worker: running it again", job.id,
                        job.task_name)
            await app.job_manager.retry_job(job)
        return len(stalled)

    retried = utils.async_to_sync(retry)
    for run in services.collection.running("queue"):
        services.collection.finish_if_complete(run.id)
    return retried


def defer_run(app: procrastinate.App, services: Services, caller: Caller, assessment_id: str,
              trigger: str = "manual", due_only: bool = False) -> str:
    """Start a run on the workers (the caller's rights checked); returns its id."""
    services.collection.plan(caller, assessment_id)  # rights and status, up front
    run_id = services.collection.start_run(assessment_id, trigger, "queue")
    app.assay_tasks["plan_run"].defer(run_id=run_id, due_only=due_only)  # type: ignore[attr-defined]
    return run_id


def run_worker(services: Services, *, concurrency: int, queues: list[str] | None,
               name: str | None = None, install_signal_handlers: bool = True,
               stop: threading.Event | None = None) -> None:
    """Run a procrastinate worker until stopped (SIGINT/SIGTERM, or ``stop``)."""
    import asyncio

    ensure_schema(services)
    app = make_app(services)
    heartbeat = services.settings.worker_heartbeat
    options: dict[str, Any] = dict(
        concurrency=concurrency, queues=queues or None, name=name, wait=True,
        update_heartbeat_interval=heartbeat, stalled_worker_timeout=3 * heartbeat,
        delete_jobs="successful", install_signal_handlers=install_signal_handlers,
        fetch_job_polling_interval=1.0)

    async def main() -> None:
        async with app.open_async():
            task = asyncio.create_task(app.run_worker_async(**options))
            if stop is None:
                await task
                return
            while not task.done() and not stop.is_set():
                await asyncio.sleep(0.5)
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    asyncio.run(main())


class Deferrer:
    """An API server's handle on the queue: opens the app once (synchronously) to defer jobs
    from request handlers."""

    def __init__(self, services: Services):
        ensure_schema(services)
        self.services = services
        # It defers one job at a time (``_lock``): one connection, not four held open out of
        # the database's connection limit by every API server.
        self.app = make_app(services, pool={"min_size": 1, "max_size": 2})
        self.app.open()
        self._lock = threading.Lock()

    def collect(self, caller: Caller, assessment_id: str) -> str:
        with self._lock:
            return defer_run(self.app, self.services, caller, assessment_id)

    def build_report(self, report_id: str) -> None:
        with self._lock:
            self.app.assay_tasks["build_report"].defer(report_id=report_id)  # type: ignore[attr-defined]

    def build_finder_index(self) -> None:
        """Queue the evidence finder's index build (a second request while one waits is
        already covered: the task's queueing lock keeps one in the queue)."""
        with self._lock:
            try:
                self.app.assay_tasks["build_finder_index"].defer()  # type: ignore[attr-defined]
            except AlreadyEnqueued:
                pass

    def close(self) -> None:
        self.app.close()
