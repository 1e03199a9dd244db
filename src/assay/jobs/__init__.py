"""Collection, report builds and framework-share redelivery as jobs.

This layer sits above ``collect/`` (AWS sessions and collectors, which return records) and
``service/`` (the store, the ledger, roles): it imports both, neither imports it.

- ``work``: what each job does (plan a run, collect a shard), whoever dispatches it;
- ``inline``: the embedded default, the jobs on threads of this process;
- ``queue``: scaled out, the jobs on procrastinate over PostgreSQL, run by `assay worker`.
"""

from __future__ import annotations

from ..service import Services
from .inline import InlineRunner, InlineSchedule, RunResult, launch_in_background
from .work import Collection, Shard


def attach(services: Services, deferrer=None) -> None:
    """Wire "collect now" (and report builds, the finder's index build) to a dispatcher: the
    queue when ``deferrer``
    (a ``queue.Deferrer``) is given, else threads of this process."""
    if deferrer is not None:
        services.collection.launcher = lambda caller, assessment_id: deferrer.collect(
            caller, assessment_id)
        services.reports.dispatch = deferrer.build_report
        services.finder.launcher = deferrer.build_finder_index
    else:
        services.collection.launcher = lambda caller, assessment_id: launch_in_background(
            services, caller, assessment_id)


__all__ = ["Collection", "InlineRunner", "InlineSchedule", "RunResult", "Shard", "attach"]
