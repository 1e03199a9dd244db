"""Evidence search: filter and sort all evidence the signed-in principal may read (failed checks
first), see the evidence finder query each filter set stands for, and export what is shown as
CSV or XLSX. The control page's evidence table uses the same filters (``control_search``).

Every search is a finder query run by ``FinderService.run`` with the caller's rights, exactly
as `assay evidence query` runs it."""

from __future__ import annotations

import tempfile
from typing import Any, Iterator

from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from ..finder import export
from ..finder.filters import DEFAULT_SORT, SORTS, Filters, to_sql
from ..finder.schema import RESULTS, result_of
from ..service.errors import ValidationError
from .web import Console, Context, one, secure, url

PAGE = 50
DATA_SOURCES = ("AWS Config", "AWS Security Hub", "AWS CloudTrail", "AWS API calls", "Manual")


def _wanted(ctx: Context, get=None, **fixed: str) -> tuple[Filters, str, int]:
    """Filters, sort and page from the query string (or ``get``: a form's fields)."""
    get = get or ctx.arg
    filters = Filters.from_query(get)
    if fixed:
        filters = Filters(**{**filters.__dict__, **fixed})
    problems = filters.problems()
    if problems:
        raise ValidationError.for_fields([{"name": n, "message": m} for n, m in problems])
    sort = get("sort") or DEFAULT_SORT
    if sort not in SORTS:
        raise ValidationError.field("sort", f"sort must be one of {', '.join(SORTS)}.")
    try:
        page = max(1, int(get("page") or 1))
    except ValueError:
        raise ValidationError.field("page", "page must be a whole number.")
    return filters, sort, page


def search(ctx: Context, filters: Filters, sort: str, page: int) -> dict[str, Any]:
    """One page of a filtered search: {"sql", "rows" (dicts by header, with "result"),
    "more", "page", "error"}. A finder that cannot run (disabled) is an ``error`` to show,
    not a failed page."""
    sql = to_sql(filters, sort, PAGE + 1, (page - 1) * PAGE)
    shown_sql = to_sql(filters, sort)
    try:
        result = ctx.services.finder.run(ctx.caller, sql, field="search")
        rows = [dict(zip(result.columns, row)) for row in result.rows]
    except ValidationError as error:
        return {"sql": shown_sql, "rows": [], "more": False, "page": page,
                "error": error.fields[0]["message"] if error.fields else error.message}
    for row in rows:
        row["result"] = result_of(row["complianceCheck"])
    return {"sql": shown_sql, "rows": rows[:PAGE], "more": len(rows) > PAGE, "page": page,
            "error": None}


def search_page(ctx: Context) -> Response:
    filters, sort, page = _wanted(ctx)
    found = search(ctx, filters, sort, page)
    from .reports import _owned_assessments  # reports -> assessments -> this module

    owned = _owned_assessments(ctx) if found["rows"] else []
    return ctx.render("evidence_search.html", nav="evidence", filters=filters, sort=sort,
                      found=found, query=_query(filters, sort), owned=owned, **_choices())


def report_from_search(ctx: Context, form: dict) -> Response:
    """CreateAssessmentReport with the search's query as ``queryStatement``: a report of
    exactly the evidence of the chosen assessment these filters find."""
    filters, sort, _ = _wanted(ctx, lambda name: one(form, name))
    aid, name = one(form, "assessment"), one(form, "name")
    if not aid:
        raise ValidationError.field("assessmentId", "Pick the assessment to report on.")
    if not name or len(name) > 300:
        raise ValidationError.field("name", "A report needs a name of 1-300 characters.")
    report = ctx.services.reports.create(ctx.caller, {
        "assessmentId": aid, "name": name, "queryStatement": to_sql(filters, sort)})
    return ctx.redirect(url("reports", aid, report["id"]),
                        f"Report {name} is being built from the evidence these filters find.")


def control_search(ctx: Context, assessment_id: str, control_set_id: str,
                   control_id: str) -> dict[str, Any]:
    """The control page's evidence table: the search, narrowed to one assessment control."""
    filters, sort, page = _wanted(ctx, assessment=assessment_id, control_set=control_set_id,
                                  control=control_id)
    found = search(ctx, filters, sort, page)
    return {"filters": filters, "sort": sort, "found": found,
            "query": _query(filters, sort, fixed=True),
            **_choices()}


def _choices() -> dict[str, Any]:
    return {"sorts": {k: label for k, (label, _) in SORTS.items()}, "results": RESULTS,
            "data_sources": DATA_SOURCES}


def _query(filters: Filters, sort: str, fixed: bool = False) -> dict[str, str]:
    """The current filters as query parameters (for paging and export links)."""
    skip = {"assessment", "control_set", "control"} if fixed else set()
    out = {k: v for k, v in filters.__dict__.items() if v and k not in skip}
    out["sort"] = sort
    return out


async def export_view(ctx: Context) -> Response:
    """All rows of the current filters and sort, as CSV (streamed) or XLSX."""
    fmt = ctx.arg("format") or "csv"
    if fmt not in ("csv", "xlsx"):
        raise ValidationError.field("format", "format must be csv or xlsx.")
    filters, sort, _ = await run_in_threadpool(_wanted, ctx)
    result = await run_in_threadpool(ctx.services.finder.run, ctx.caller, to_sql(filters, sort),
                                     "search")
    name = f"evidence.{fmt}"
    headers = {"content-disposition": f'attachment; filename="{name}"'}

    def rows() -> Iterator[tuple]:
        yield from result.rows
        if result.truncated:  # said in the file itself, never silently cut
            yield (f"Stopped at {result.max_rows} rows, the evidence finder's row limit: "
                   "narrow the filters.",)

    if fmt == "csv":
        return secure(StreamingResponse(iterate_in_threadpool(
            export.csv_chunks(result.columns, rows())), media_type=export.MEDIA_TYPES["csv"],
            headers=headers))
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
    await run_in_threadpool(export.write_xlsx, result.columns, rows(), spool)
    spool.seek(0)

    def chunks() -> Iterator[bytes]:
        with spool:
            while block := spool.read(256 * 1024):
                yield block

    return secure(StreamingResponse(iterate_in_threadpool(chunks()),
                                    media_type=export.MEDIA_TYPES["xlsx"], headers=headers))


def routes(console: Console) -> list[Route]:
    return [
        Route("/evidence", console.view(search_page)),
        Route("/evidence/export", console.raw_view(export_view)),
        Route("/evidence/report", console.action(report_from_search), methods=["POST"]),
    ]

