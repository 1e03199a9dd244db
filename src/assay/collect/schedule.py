"""Collection on a schedule, inside `assay serve`.

Every ``collect_interval`` seconds the scheduler collects what is due for every active
assessment (API calls by their frequency, Config and Security Hub every 12 hours, CloudTrail
continuously). Several servers may share one database: a lease in the database lets only one
of them run a tick, so the work is not done twice.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid

import sqlalchemy as sa

from ..service import Services
from ..service.instance import get_document, put_document
from ..store import tables
from .runner import Runner

log = logging.getLogger("assay.schedule")
LEASE = "collection_lease"


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
        results = self.runner.run_due()
        for result in results:
            log.info("collected %s: %d added, %d duplicates, %d errors", result.plan.assessment_id,
                     result.added, result.duplicates, result.errors)
        return len(results)

    def acquire_lease(self) -> bool:
        """Take (or renew) the lease for a little longer than one interval."""
        now = time.time()
        try:
            with self.services.store.write() as conn:
                conn.execute(tables.instance.select().where(tables.instance.c.name == LEASE)
                             .with_for_update())
                lease = get_document(conn, LEASE) or {}
                if lease.get("holder") not in (None, self.holder) and lease.get("until", 0) > now:
                    return False
                put_document(conn, LEASE,
                             {"holder": self.holder, "until": now + self.interval * 2 + 60})
                return True
        except sa.exc.IntegrityError:
            return False  # another server created the lease at the same moment: it holds it
