"""The compliance manager's pages: what is missing (every control's evidence state, with the
errors and fixes), failed checks by account and resource with their remediation, owners
(assignments), risk exceptions, score and trend, and exports of every table.

Each page is one or a few service calls with the signed-in caller (``service.posture``,
``service.worklist``), so it shows and allows exactly what the API's rules allow.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..service.errors import ValidationError
from ..service.posture import STATE_NAMES, STATES
from .assessments import FOLDERS_PER_PAGE, _control_target, all_pages, is_owner
from .exports import FORMATS, day, export
from .web import Console, Context, assessment_url, control_url, one, safe_next, secure, url

TREND_DAYS = 30


def parse_day(text: str, field: str) -> float:
    """``YYYY-MM-DD`` -> the end of that day, UTC, in epoch seconds."""
    try:
        moment = dt.datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=dt.timezone.utc)
    except ValueError:
        raise ValidationError.field(field, "Give a date as YYYY-MM-DD.") from None
    return (moment + dt.timedelta(days=1)).timestamp() - 1


# -- the tables (shared by pages and exports) ---------------------------------------------

def controls_table(states: dict) -> tuple[list[str], list[list[Any]]]:
    headers = ["Control set", "Control", "Domain", "State", "Passed checks", "Failed checks",
               "Accepted checks", "Evidence items", "Newest evidence", "Age (days)",
               "Review status", "Collection error", "Fix"]
    rows = []
    for c in states["controls"]:
        failure = c["failures"][0] if c["failures"] else None
        rows.append([c["controlSetId"], c["name"], c["domainName"], c["stateName"],
                     c["compliant"], c["noncompliant"], c["accepted"], c["evidence"],
                     day(c["newestEvidenceAt"]), c["ageDays"], c["reviewStatus"],
                     f"{failure['errorCode']}: {failure['message']}" if failure else "",
                     failure["fix"] if failure else ""])
    return headers, rows


def checks_table(checks: list[dict]) -> tuple[list[str], list[list[Any]]]:
    headers = ["Time", "Control set", "Control", "Account", "Region", "Source", "Check",
               "Resources", "Result", "Remediation", "Accepted (exception id)", "Evidence id"]
    return headers, [[day(c["time"]), c["controlSetId"], c["controlName"], c["account"],
                      c["region"], c["source"], c["check"], c["resources"],
                      c["complianceCheck"], c["remediationUrl"] or "", c["acceptedBy"] or "",
                      c["evidenceId"]] for c in checks]


def exceptions_table(items: list[dict]) -> tuple[list[str], list[list[Any]]]:
    headers = ["Control set", "Control", "Resource", "Status", "Justification", "Requested by",
               "Approver", "Expires", "Decided", "Id"]
    return headers, [[x["controlSetId"], x["controlName"], x["resource"] or "(whole control)",
                      x["status"], x["justification"], x["requestedBy"], x["approverArn"],
                      day(x["expiresAt"]), day(x["decidedAt"]), x["id"]] for x in items]


def assignments_table(items: list[dict]) -> tuple[list[str], list[list[Any]]]:
    headers = ["Assessment", "Control set", "Control", "Assignee", "Due", "Status", "Overdue",
               "Note", "Assigned by", "Id"]
    return headers, [[a["assessmentName"], a["controlSetId"], a["controlName"],
                      a["assigneeArn"], day(a["dueAt"]), a["status"],
                      "yes" if a["overdue"] else "no", a["note"] or "", a["createdBy"], a["id"]]
                     for a in items]


def failures_table(failures: list[dict], names: dict) -> tuple[list[str], list[list[Any]]]:
    from ..model.fixes import fix_for

    headers = ["Time", "Control set", "Control", "Account", "Region", "Source", "Keyword",
               "Error", "Message", "Fix"]
    return headers, [[day(f["occurred_at"]), f["control_set_id"],
                      names.get((f["control_set_id"], f["control_id"]), f["control_id"]),
                      f["account_id"], f["region"], f["source_type"], f["keyword"],
                      f["error_code"], f["message"],
                      fix_for(f["error_code"], f["keyword"], f["account_id"], f["region"])]
                     for f in failures]


def evidence_table(ctx: Context, aid: str, set_id: str, cid: str):
    services, caller = ctx.services, ctx.caller
    folders = all_pages(lambda token: services.evidence.folders_by_control(
        caller, aid, set_id, cid, token, FOLDERS_PER_PAGE))
    headers = ["Time", "Account", "Region", "Data source", "Event", "Type", "Result",
               "Resources", "Summary", "In report", "Evidence id"]
    rows = []
    from .assessments import evidence_summary

    for folder in folders:
        items = all_pages(lambda token, f=folder["id"]: services.evidence.evidence_in_folder(
            caller, aid, set_id, f, token, 1000), limit=100_000)
        regions = services.posture.evidence_regions(caller, aid, set_id, [i["id"] for i in items])
        for item in items:
            rows.append([day(item["time"]), item.get("evidenceAwsAccountId") or "",
                         regions.get(item["id"], ""), item.get("dataSource") or "",
                         item.get("eventName") or "", item.get("evidenceByType") or "",
                         item.get("complianceCheck") or "",
                         [r.get("arn") or r.get("value") for r in item.get("resourcesIncluded")
                          or []], evidence_summary(item), item["assessmentReportSelection"],
                         item["id"]])
    return headers, rows


def _names(ctx: Context, aid: str) -> dict:
    assessment = ctx.services.assessments.get(ctx.caller, aid)["assessment"]
    return {(s["id"], c["id"]): c["name"]
            for s in assessment["framework"]["controlSets"] for c in s["controls"]}


def _table(ctx: Context, aid: str, name: str):
    services, caller = ctx.services, ctx.caller
    if name == "controls":
        return controls_table(services.posture.control_states(caller, aid))
    if name == "failed-checks":
        return checks_table(services.posture.failed_checks(
            caller, aid, account=ctx.arg("account") or None, control_set_id=ctx.arg("set") or None,
            control_id=ctx.arg("control") or None))
    if name == "exceptions":
        return exceptions_table(services.worklist.exceptions(caller, aid))
    if name == "assignments":
        return assignments_table(services.worklist.assignments(caller, aid, status=None))
    if name == "collection-failures":
        status = services.collection.status(caller, aid, failures_limit=100_000)
        names = _names(ctx, aid)
        visible = {s for s, _ in names}
        return failures_table([f for f in status["failures"] if f["control_set_id"] in visible],
                              names)
    if name == "evidence":
        set_id, cid = ctx.arg("set") or "", ctx.arg("control") or ""
        if not set_id or not cid:
            raise ValidationError.field("control", "Which control's evidence? (set= and control=)")
        return evidence_table(ctx, aid, set_id, cid)
    raise ValidationError.field("table", f"There is no table '{name}' to export.")


EXPORTS = ("controls", "failed-checks", "evidence", "collection-failures", "exceptions",
           "assignments")


def export_view(ctx: Context) -> Response:
    aid, name, fmt = ctx.path("aid"), ctx.path("table"), ctx.path("fmt")
    if fmt not in FORMATS:
        raise ValidationError.field("format", "Export as csv or xlsx.")
    headers, rows = _table(ctx, aid, name)
    return export(f"{name}-{aid[:8]}", fmt, headers, rows)


# -- pages --------------------------------------------------------------------------------

def missing_page(ctx: Context) -> Response:
    """What is missing: the controls that would leave an auditor unsatisfied today, by state,
    each with why and what to do; ``?state=`` narrows to one state (any of STATES)."""
    services, caller = ctx.services, ctx.caller
    aid = ctx.path("aid")
    assessment = services.assessments.get(caller, aid)["assessment"]
    states = services.posture.control_states(caller, aid)
    wanted = ctx.arg("state") or ""
    if wanted and wanted not in STATES:
        raise ValidationError.field("state", f"Pick one of {', '.join(STATES)}.")
    shown = [c for c in states["controls"]
             if (c["state"] == wanted if wanted else c["state"] not in ("passing", "accepted"))]
    return ctx.render("missing.html", nav="assessments", assessment=assessment, states=states,
                      shown=shown, wanted=wanted, state_names=STATE_NAMES, state_order=STATES)


def checks_page(ctx: Context) -> Response:
    services, caller = ctx.services, ctx.caller
    aid = ctx.path("aid")
    assessment = services.assessments.get(caller, aid)["assessment"]
    account = ctx.arg("account") or None
    checks = services.posture.failed_checks(caller, aid, account=account,
                                            control_set_id=ctx.arg("set") or None,
                                            control_id=ctx.arg("control") or None,
                                            resource=ctx.arg("resource") or None)
    accounts = [a["id"] for a in assessment["metadata"]["scope"].get("awsAccounts", [])]
    limit = 200
    return ctx.render("failed_checks.html", nav="assessments", assessment=assessment,
                      checks=checks[:limit], total=len(checks), limit=limit, account=account,
                      accounts=accounts, filters={k: ctx.arg(k) for k in
                                                  ("account", "set", "control", "resource")
                                                  if ctx.arg(k)})


def accounts_page(ctx: Context) -> Response:
    services, caller = ctx.services, ctx.caller
    aid = ctx.path("aid")
    assessment = services.assessments.get(caller, aid)["assessment"]
    return ctx.render("accounts.html", nav="assessments", assessment=assessment,
                      accounts=services.posture.accounts(caller, aid))


def resource_page(ctx: Context) -> Response:
    resource = ctx.arg("arn") or ""
    rows = ctx.services.posture.resource(ctx.caller, resource) if resource else []
    from ..service.posture import resource_details

    return ctx.render("resource.html", nav="assessments", resource=resource, rows=rows,
                      details=resource_details(resource) if resource else None)


def exceptions_page(ctx: Context) -> Response:
    services, caller = ctx.services, ctx.caller
    aid = ctx.path("aid")
    assessment = services.assessments.get(caller, aid)["assessment"]
    items = services.worklist.exceptions(caller, aid)
    return ctx.render("exceptions.html", nav="assessments", assessment=assessment, entries=items,
                      owner=is_owner(ctx, assessment["metadata"]))


def assignments_page(ctx: Context) -> Response:
    services, caller = ctx.services, ctx.caller
    aid = ctx.path("aid")
    assessment = services.assessments.get(caller, aid)["assessment"]
    items = services.worklist.assignments(caller, aid, status=None)
    return ctx.render("assignments.html", nav="assessments", assessment=assessment, entries=items,
                      owner=is_owner(ctx, assessment["metadata"]))


def progress_json(ctx: Context) -> Response:
    """The running collection's progress for the collection page's poller."""
    progress = ctx.services.collection.progress(ctx.caller, ctx.path("aid"))
    # The latest run's first failures, to name what went wrong while it runs.
    status = ctx.services.collection.status(ctx.caller, ctx.path("aid"), failures_limit=5)
    latest = status["runs"][0] if status["runs"] else None
    errors = [{"account": f["account_id"], "region": f["region"], "keyword": f["keyword"],
               "error_code": f["error_code"], "message": f["message"]}
              for f in status["failures"]]
    return secure(JSONResponse({
        **{k: progress.get(k, 0) for k in ("total", "queued", "running", "done", "failed")},
        "errors": errors, "errorCount": int(progress.get("errors") or 0),
        "status": latest["status"] if latest else None}))


# -- actions ------------------------------------------------------------------------------

def _back(form: dict, default: str) -> str:
    """Where a form asked to return to: a console page, else ``default``."""
    back = one(form, "back")
    return safe_next(back) if back else default


def assign(ctx: Context, form: dict) -> Response:
    aid, set_id, cid = _control_target(ctx)
    assignee = one(form, "assignee")
    if not assignee:
        raise ValidationError.field("assigneeArn", "Pick who fixes it.")
    due = parse_day(one(form, "due"), "dueDate")
    made = ctx.services.worklist.assign(ctx.caller, aid, set_id, cid, assignee, due,
                                        one(form, "note"))
    return ctx.redirect(control_url(aid, set_id, cid) + "#owners",
                        f"Assigned to {assignee.rsplit('/', 1)[-1]}, due "
                        f"{day(made['dueAt'])[:10]}.")


def close_assignment(ctx: Context, form: dict) -> Response:
    done = ctx.services.worklist.close_assignment(ctx.caller, ctx.path("id"), one(form, "status"))
    target = _back(form, assessment_url(done["assessmentId"]))
    return ctx.redirect(target, f"Assignment of {done['controlName']} is "
                                f"{done['status'].lower()}.")


def request_exception(ctx: Context, form: dict) -> Response:
    aid, set_id, cid = _control_target(ctx)
    approver = one(form, "approver")
    if not approver:
        raise ValidationError.field("approverArn", "Pick the approver.")
    made = ctx.services.worklist.request_exception(
        ctx.caller, aid, set_id, cid, one(form, "resource") or None, one(form, "justification"),
        approver, parse_day(one(form, "expires"), "expiresAt"))
    return ctx.redirect(control_url(aid, set_id, cid) + "#exceptions",
                        f"Risk acceptance requested; {approver.rsplit('/', 1)[-1]} decides. "
                        f"(Id {made['id'][:8]})")


def decide_exception(ctx: Context, form: dict) -> Response:
    decided = ctx.services.worklist.decide_exception(ctx.caller, ctx.path("id"),
                                                     one(form, "decision"))
    target = _back(form, assessment_url(decided["assessmentId"], "exceptions"))
    return ctx.redirect(target, f"Risk acceptance of {decided['controlName']} is "
                                f"{decided['status'].lower()}.")


def evidence_expiry(ctx: Context, form: dict) -> Response:
    aid, set_id, cid = _control_target(ctx)
    text = one(form, "expires")
    expires = parse_day(text, "expiresAt") if text else None
    ctx.services.posture.set_evidence_expiry(ctx.caller, aid, set_id, cid, one(form, "evidence"),
                                             expires)
    return ctx.redirect(control_url(aid, set_id, cid) + "#evidence",
                        f"The evidence is valid until {text}." if text else
                        "The evidence no longer expires.")


def routes(console: Console) -> list[Route]:
    view, action = console.view, console.action
    return [
        Route("/assessments/{aid}/missing", view(missing_page)),
        Route("/assessments/{aid}/failed-checks", view(checks_page)),
        Route("/assessments/{aid}/accounts", view(accounts_page)),
        Route("/assessments/{aid}/exceptions", view(exceptions_page)),
        Route("/assessments/{aid}/assignments", view(assignments_page)),
        Route("/assessments/{aid}/progress", view(progress_json)),
        Route("/assessments/{aid}/export/{table}.{fmt}", view(export_view)),
        Route("/resources", view(resource_page)),
        Route("/assessments/{aid}/controls/{cid}/assign", action(assign), methods=["POST"]),
        Route("/assessments/{aid}/controls/{cid}/exceptions", action(request_exception),
              methods=["POST"]),
        Route("/assessments/{aid}/controls/{cid}/evidence-expiry", action(evidence_expiry),
              methods=["POST"]),
        Route("/assignments/{id}/close", action(close_assignment), methods=["POST"]),
        Route("/exceptions/{id}/decide", action(decide_exception), methods=["POST"]),
    ]


def export_links(aid: str, table: str, **query: str) -> list[tuple[str, str]]:
    return [(fmt.upper(), url("assessments", aid, "export", f"{table}.{fmt}", **query))
            for fmt in FORMATS]
