"""Collection status: what each assessment asks AWS for, the latest runs, and every failure of
the latest run with its AWS error, per control, account and region (never silent)."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from ..model.controls import SOURCE_DISPLAY_NAMES
from ..service.collection import SETUP
from ..service.errors import ServiceError
from .assessments import is_owner
from .web import Console, Context, one, url

PAGE = 20


def overview_page(ctx: Context) -> Response:
    services, caller = ctx.services, ctx.caller
    items, next_token = services.assessments.list(caller, "ACTIVE", ctx.arg("next"), PAGE)
    rows = []
    for item in items:
        status = services.collection.status(caller, item["id"], failures_limit=1)
        latest = status["runs"][0] if status["runs"] else None
        rows.append({"id": item["id"], "name": item["name"], "latest": latest,
                     "runs": len(status["runs"])})
    return ctx.render("collection.html", nav="collection", rows=rows, next_token=next_token,
                      first=not ctx.arg("next"))


def assessment_page(ctx: Context) -> Response:
    services, caller = ctx.services, ctx.caller
    aid = ctx.path("aid")
    assessment = services.assessments.get(caller, aid)["assessment"]
    plan, plan_error = None, None
    status = services.collection.status(caller, aid)
    try:
        plan = services.collection.plan(caller, aid)
    except ServiceError as error:  # an INACTIVE assessment collects no more: say so
        plan_error = error.message
    latest = status["runs"][0] if status["runs"] else None
    # A delegate's assessment holds only its control sets: show failures of those only.
    visible = {s["id"] for s in assessment["framework"]["controlSets"]}
    summary = [r for r in (latest or {}).get("summary") or [] if r["control_set_id"] in visible]
    problems = [row for row in summary if row.get("why")]
    # Setup problems (credentials, a member role) stop every control of an account: shown to all.
    failures = [f for f in status["failures"]
                if f["control_set_id"] in visible or f["source_type"] == SETUP]
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
    manage = is_owner(ctx, assessment["metadata"]) and assessment["metadata"]["status"] == "ACTIVE"
    return ctx.render("collection_assessment.html", nav="collection", assessment=assessment,
                      manage=manage,
                      control_names=control_names, sources=SOURCE_DISPLAY_NAMES,
                      plan=plan, plan_error=plan_error, runs=status["runs"], latest=latest,
                      failures=failures, problems=problems, summary=summary,
                      by_source=by_source)


def collect_now(ctx: Context, form: dict) -> Response:
    aid = ctx.path("aid")
    ctx.services.collection.request_run(ctx.caller, aid)
    return ctx.redirect(url("assessments", aid, "collection"),
                        "Collection started: it runs in the background and appears under "
                        "Recent runs when it is done.")


def set_regions(ctx: Context, form: dict) -> Response:
    aid = ctx.path("aid")
    regions = one(form, "regions").replace(",", " ").split()
    current = ctx.services.assessments.set_regions(ctx.caller, aid, regions)
    return ctx.redirect(url("assessments", aid, "collection"),
                        f"This assessment now collects in {', '.join(current)}.")


def routes(console: Console) -> list[Route]:
    return [
        Route("/collection", console.view(overview_page)),
        Route("/assessments/{aid}/collection", console.view(assessment_page)),
        Route("/assessments/{aid}/collection/run", console.action(collect_now), methods=["POST"]),
        Route("/assessments/{aid}/collection/regions", console.action(set_regions),
              methods=["POST"]),
    ]
