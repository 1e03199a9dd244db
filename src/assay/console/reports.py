"""Assessment reports: create one from the evidence selected for it, follow its build, download
it, and check its integrity (signature and every file's SHA-256), through the report service."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from ..service.auth import WRITE_REPORTS
from ..service.errors import NotFoundError, ValidationError
from .assessments import is_owner
from .web import Console, Context, one, secure, url

PAGE = 20
SCAN_PAGES = 50  # how far a filtered listing or a single report is looked for


def _details(ctx: Context, reports: list[dict]) -> dict[str, dict]:
    """What the API's shape cannot carry (failure reason, path, size, evidence count), for
    reports the caller was already allowed to list."""
    out = {}
    for assessment_id in {r["assessmentId"] for r in reports}:
        for record in ctx.services.reports.records(assessment_id, ctx.caller):
            out[record["id"]] = record
    return out


def _owned_assessments(ctx: Context) -> list[dict]:
    """Assessments where the caller may create reports (its process owner, or admin)."""
    if not ctx.caller.can(WRITE_REPORTS):
        return []
    found, token = [], None
    for _ in range(SCAN_PAGES):
        items, token = ctx.services.assessments.list(ctx.caller, None, token, 100)
        found += [a for a in items if is_owner(ctx, {"roles": a["roles"]})]
        if not token:
            break
    return found


def reports_page(ctx: Context) -> Response:
    services, caller = ctx.services, ctx.caller
    wanted = ctx.arg("assessment") or None
    token = ctx.arg("next")
    reports, next_token = services.reports.list(caller, token, PAGE)
    if wanted:  # one assessment's reports: keep paging until a page is full
        reports = [r for r in reports if r["assessmentId"] == wanted]
        scanned = 1
        while next_token and len(reports) < PAGE and scanned < SCAN_PAGES:
            more, next_token = services.reports.list(caller, next_token, PAGE)
            reports += [r for r in more if r["assessmentId"] == wanted]
            scanned += 1
    details = _details(ctx, reports)
    owned = _owned_assessments(ctx)
    building = any(r["status"] == "IN_PROGRESS" for r in reports)
    return ctx.render("reports.html", nav="reports", reports=reports, details=details,
                      next_token=next_token, first=not token, owned=owned, wanted=wanted,
                      building=building)


def _find(ctx: Context, assessment_id: str, report_id: str) -> dict:
    token = None
    for _ in range(SCAN_PAGES):
        reports, token = ctx.services.reports.list(ctx.caller, token, 100)
        for report in reports:
            if report["id"] == report_id and report["assessmentId"] == assessment_id:
                return report
        if not token:
            break
    raise NotFoundError("assessmentReport", report_id)


def report_page(ctx: Context) -> Response:
    aid, rid = ctx.path("aid"), ctx.path("rid")
    report = _find(ctx, aid, rid)
    detail = _details(ctx, [report]).get(rid, {})
    verification = None
    if ctx.arg("verify") and report["status"] == "COMPLETE":
        verification = ctx.services.reports.validate(ctx.caller, detail["s3RelativePath"])
    owner = False
    if ctx.caller.can(WRITE_REPORTS):
        assessment = ctx.services.assessments.get(ctx.caller, aid)["assessment"]
        owner = is_owner(ctx, assessment["metadata"])
    return ctx.render("report.html", nav="reports", report=report, detail=detail,
                      verification=verification, owner=owner,
                      building=report["status"] == "IN_PROGRESS")


def create_report(ctx: Context, form: dict) -> Response:
    aid = one(form, "assessment")
    name = one(form, "name")
    if not aid:
        raise ValidationError.field("assessmentId", "Pick the assessment to report on.")
    if not name or len(name) > 300:
        raise ValidationError.field("name", "A report needs a name of 1-300 characters.")
    coverage = ctx.services.reports.coverage(ctx.caller, aid)
    if coverage["selected"] == 0 and not one(form, "confirm_empty"):
        # A report with nothing in it would look cleaner than the assessment: ask first.
        raise ValidationError.field(
            "confirm_empty", f"No evidence is selected for this report: it would show none of "
            f"the assessment's {coverage['evidence']} evidence items ({coverage['failed']} "
            "failed checks). Select evidence on the controls' pages, or tick “Create it with "
            "nothing selected”.")
    params = {"assessmentId": aid, "name": name}
    if one(form, "description"):
        params["description"] = one(form, "description")[:1000]
    report = ctx.services.reports.create(ctx.caller, params)
    return ctx.redirect(url("reports", aid, report["id"]),
                        f"Report {name} is being built from the evidence selected for it.")


def delete_report(ctx: Context, form: dict) -> Response:
    aid, rid = ctx.path("aid"), ctx.path("rid")
    ctx.services.reports.delete(ctx.caller, aid, rid)
    return ctx.redirect(url("reports"), "Report deleted.")


def _download_target(ctx: Context, aid: str, rid: str):
    link = ctx.services.reports.url(ctx.caller, aid, rid)
    parts = urlsplit(link["link"])
    if parts.path.startswith("/_assay/reports/"):
        query = parse_qs(parts.query)
        name, size, chunks = ctx.services.reports.open_download(
            rid, query.get("expires", [""])[0], query.get("signature", [""])[0])
        return ("stream", name, size, chunks)
    return ("redirect", link["link"], None, None)


async def download(ctx: Context) -> Response:
    """Stream the zip from Assay's store (so it works whatever URL the console is reached at),
    or send the browser to the S3 presigned URL."""
    aid, rid = ctx.path("aid"), ctx.path("rid")
    kind, name, size, chunks = await run_in_threadpool(_download_target, ctx, aid, rid)
    if kind == "redirect":
        return secure(RedirectResponse(name, status_code=303))
    headers = {"content-disposition": f'attachment; filename="{name}"'}
    if size is not None:
        headers["content-length"] = str(size)
    return secure(StreamingResponse(chunks, media_type="application/zip", headers=headers))


def routes(console: Console) -> list[Route]:
    view, action = console.view, console.action
    return [
        Route("/reports", view(reports_page)),
        Route("/reports", action(create_report), methods=["POST"]),
        Route("/reports/{aid}/{rid}", view(report_page)),
        Route("/reports/{aid}/{rid}/delete", action(delete_report), methods=["POST"]),
        Route("/reports/{aid}/{rid}/download", console.raw_view(download)),
    ]

