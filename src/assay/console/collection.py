"""Collection status: what each assessment asks AWS for, the latest runs, and every failure of
the latest run with its AWS error, per control, account and region (never silent)."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from ..model.controls import SOURCE_DISPLAY_NAMES
from ..service.errors import ServiceError
from .web import Console, Context

PAGE = 20


def _collection(ctx: Context):
    return getattr(ctx.services, "collection", None)


def overview_page(ctx: Context) -> Response:
    services, caller = ctx.services, ctx.caller
    collection = _collection(ctx)
    items, next_token = services.assessments.list(caller, "ACTIVE", ctx.arg("next"), PAGE)
    rows = []
    for item in items:
        status = collection.status(caller, item["id"], failures_limit=1) if collection else None
        latest = status["runs"][0] if status and status["runs"] else None
        rows.append({"id": item["id"], "name": item["name"], "latest": latest,
                     "runs": len(status["runs"]) if status else 0})
    return ctx.render("collection.html", nav="collection", rows=rows, next_token=next_token,
                      first=not ctx.arg("next"), available=collection is not None)


def assessment_page(ctx: Context) -> Response:
    services, caller = ctx.services, ctx.caller
    aid = ctx.path("aid")
    assessment = services.assessments.get(caller, aid)["assessment"]
    collection = _collection(ctx)
    plan, plan_error, status = None, None, {"runs": [], "failures": []}
    if collection is not None:
        status = collection.status(caller, aid)
        try:
            plan = collection.plan(caller, aid)
        except ServiceError as error:
            plan_error = error.message
    latest = status["runs"][0] if status["runs"] else None
    # A delegate's assessment holds only its control sets: show failures of those only.
    visible = {s["id"] for s in assessment["framework"]["controlSets"]}
    summary = [r for r in (latest or {}).get("summary") or [] if r["control_set_id"] in visible]
    problems = [row for row in summary if row.get("why")]
    failures = [f for f in status["failures"] if f["control_set_id"] in visible]
    # Evidence as filed so far, newest day first: the ledger's side of the same story.
    folders, _ = services.evidence.folders_by_assessment(caller, aid, None, 200)
    by_source: dict[str, dict] = {}
    for folder in folders:
        entry = by_source.setdefault(folder["dataSource"], {"latest": folder["name"], "items": 0,
                                                            "days": set()})
        entry["items"] += folder["totalEvidence"]
        entry["days"].add(folder["name"])
    control_names = {(s["id"], c["id"]): c["name"]
                     for s in assessment["framework"]["controlSets"] for c in s["controls"]}
    return ctx.render("collection_assessment.html", nav="collection", assessment=assessment,
                      control_names=control_names, sources=SOURCE_DISPLAY_NAMES,
                      plan=plan, plan_error=plan_error, runs=status["runs"], latest=latest,
                      failures=failures, problems=problems, summary=summary,
                      by_source=by_source, available=collection is not None)


def routes(console: Console) -> list[Route]:
    return [
        Route("/collection", console.view(overview_page)),
        Route("/assessments/{aid}/collection", console.view(assessment_page)),
    ]
