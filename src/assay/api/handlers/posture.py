"""Assay's extension of the insights: ``GET /_assay/insights/assessments/{assessmentId}``,
signed with SigV4 like every API call, answers what Audit Manager's insights shapes have no
member for: controls counted by evidence state, the shares passing and with sufficient
evidence, and failed checks counted apart from those a risk exception accepts. The numbers are
the console's (``service.posture``); ``GetInsightsByAssessment`` agrees with them (its
noncompliant count excludes accepted checks).

Answer: ``{"assessmentId", "controls": {<state>: n, "total", "passingShare",
"sufficientShare", "missing"}, "evidence": {"failed", "accepted"}, "lastRun"}``; errors in
Audit Manager's format (403 AccessDeniedException, 404 ResourceNotFoundException)."""

from __future__ import annotations

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ..authn import authenticate
from ..responses import answer


def posture_routes(services) -> list[BaseRoute]:
    def counts(caller, assessment_id: str) -> dict:
        states = services.posture.control_states(caller, assessment_id)
        checks = services.posture.failed_checks(caller, assessment_id)
        accepted = sum(1 for c in checks if c["acceptedBy"])
        return {"assessmentId": assessment_id, "controls": states["counts"],
                "evidence": {"failed": len(checks) - accepted, "accepted": accepted},
                "lastRun": states["lastRun"]}

    async def insights(request: Request) -> Response:
        async def produce() -> tuple[int, bytes]:
            raw_path = request.scope.get("raw_path", request.url.path.encode()).decode("latin-1")
            caller = await run_in_threadpool(authenticate, services, request, raw_path, b"")
            return 200, orjson.dumps(await run_in_threadpool(
                counts, caller, request.path_params["assessment_id"]))
        return await answer(request, produce)

    return [Route("/_assay/insights/assessments/{assessment_id}", insights, methods=["GET"])]
