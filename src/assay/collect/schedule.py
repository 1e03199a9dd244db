"""Collection on a schedule, inside `assay serve`.

Every ``collect_interval`` seconds the scheduler collects what is due for every active
assessment (API calls by their frequency, Config and Security Hub every 12 hours, CloudTrail
continuously), and delivers again framework shares a crash left half-sent. Several servers may share one database: a lease in the database lets only one
of them run a tick, so the work is not done twice.
"""

from __future__ import annotations

import logging
import threading
import uuid

from ..service import Services
from .runner import Runner

log = logging.getLogger("assay.schedule")


class Scheduler:
    def __init__(self, services: Services, interval: float, runner: Runner | None = None):
        self.services = services
        self.interval = interval
        self.runner = runner or Runner(services)
        self.holder = str(uuid.uuid4())
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="assay-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # one bad tick must not end the schedule; it is logged
                log.exception("scheduled collection failed")
            self._stop.wait(self.interval)

    def tick(self) -> int:
        """Run one round if this server holds the lease; return how many assessments ran."""
        if not self.acquire_lease():
            return 0
        retried = self.services.sharing.redeliver_stale()
        if retried:
            log.info("re-delivered %d framework share(s) left replicating", retried)
        expired = self.services.worklist.expire_due()  # logged in the change log when due
        if expired:
            log.info("%d risk exception(s) expired", expired)
        results = self.runner.run_due()
        for result in results:
            log.info("collected %s: %d added, %d duplicates, %d errors", result.plan.assessment_id,
                     result.added, result.duplicates, result.errors)
        return len(results)

    def acquire_lease(self) -> bool:
        """Take (or renew) the schedule for a little longer than one interval."""
        return self.services.collection.acquire_schedule(self.holder, self.interval * 2 + 60)
