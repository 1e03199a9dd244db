"""Assessments, their controls and evidence: the review work itself.

Every read and every change is one service call with the signed-in caller, so the console shows
and allows exactly what the API would: a delegate reaches only its delegated control sets, an
auditor reads, a process owner changes only the assessments it owns.
"""

from __future__ import annotations

import tempfile
import threading
import urllib.request
from collections import OrderedDict
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..api import bodies
from ..api.responses import PayloadTooLarge
from ..model.evidence import compliance_bucket
from ..service.auth import IMPORT_EVIDENCE, REVIEW_ASSESSMENT
from ..service.errors import AccessDeniedError, NotFoundError, ValidationError
from ..service.evidence import MAX_FILE_BYTES
from ..store.blobs import read_chunks
from . import charts, evidence_search
from .web import Console, Context, assessment_url, control_url, one, secure

PAGE = 20
FOLDERS_PER_PAGE = 8
ITEMS_PER_FOLDER = 25
ITEMS_PER_PAGE = 50
CHECKS_ON_CONTROL = 50
TREND_DAYS = 30
CONTROL_STATUSES = ("UNDER_REVIEW", "REVIEWED", "INACTIVE")


# -- what the caller may do here (the services decide; this only hides what they would refuse)

def is_owner(ctx: Context, metadata: dict) -> bool:
    caller = ctx.caller
    return caller.role == "admin" or (caller.role == "process-owner" and any(
        r["roleType"] == "PROCESS_OWNER" and r["roleArn"] == caller.arn
        for r in metadata.get("roles") or []))


def can_review(ctx: Context, metadata: dict) -> bool:
    """Change controls and evidence of the visible control sets (a delegate sees only its own)."""
    if metadata["status"] != "ACTIVE" or not ctx.caller.can(REVIEW_ASSESSMENT):
        return False
    return ctx.caller.role == "delegate" or is_owner(ctx, metadata)


# -- data helpers -------------------------------------------------------------------------------

def control_set_of(assessment: dict, control_set_id: str) -> dict:
    for control_set in assessment["framework"]["controlSets"]:
        if control_set["id"] == control_set_id:
            return control_set
    raise NotFoundError("controlSet", control_set_id)


def control_of(control_set: dict, control_id: str) -> dict:
    for control in control_set["controls"]:
        if control["id"] == control_id:
            return control
    raise NotFoundError("control", control_id)


def domain_rows(items: list[dict]) -> list[dict]:
    return [{"name": d["name"], "id": d["id"],
             "compliant": d["evidenceInsights"]["compliantEvidenceCount"],
             "noncompliant": d["evidenceInsights"]["noncompliantEvidenceCount"],
             "inconclusive": d["evidenceInsights"]["inconclusiveEvidenceCount"],
             "controls": d["totalControlsCount"],
             "failing_controls": d["controlsCountByNoncompliantEvidence"]} for d in items]


def all_pages(fetch, limit: int = 5000) -> list:
    out, token = [], None
    while True:
        page, token = fetch(token)
        out += page
        if not token or len(out) >= limit:
            return out


# -- pages ----------------------------------------------------------------------------------------

class _Outlines:
    """Framework, accounts and review progress of assessments, by (assessment, lastUpdated,
    caller, delegations): the listing asks the service for an assessment again only when it
    changed (every review change moves lastUpdated). Only what the caller was shown is kept,
    per caller; the listing itself is always asked for, so access is always checked."""

    def __init__(self, size: int = 512):
        self.size = size
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, ctx: Context, item: dict) -> dict:
        # Delegations change what a delegate sees without moving lastUpdated.
        key = (item["id"], item["lastUpdated"], ctx.caller.arn,
               tuple(d["id"] for d in item["delegations"]))
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        assessment = ctx.services.assessments.get(ctx.caller, item["id"])["assessment"]
        controls = [c for s in assessment["framework"]["controlSets"] for c in s["controls"]]
        outline = {
            "framework": assessment["framework"]["metadata"]["name"],
            "accounts": [a.get("name") or a["id"]
                         for a in assessment["metadata"]["scope"].get("awsAccounts", [])],
            "controls": len(controls),
            "reviewed": sum(1 for c in controls if c["status"] == "REVIEWED"),
        }
        with self._lock:
            self._items[key] = outline
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return outline


OUTLINES = _Outlines()


def assessment_list(ctx: Context) -> Response:
    services, caller = ctx.services, ctx.caller
    status = ctx.arg("status") if ctx.arg("status") in ("ACTIVE", "INACTIVE") else None
    items, next_token = services.assessments.list(caller, status, ctx.arg("next"), PAGE)
    rows = []
    for item in items:
        insight = (services.insights.insights_by_assessment(caller, item["id"])
                   if item["status"] == "ACTIVE" else None)
        rows.append({
            "id": item["id"], "name": item["name"], "status": item["status"],
            **OUTLINES.get(ctx, item), "insight": insight, "updated": item["lastUpdated"],
            "delegations": item["delegations"],
        })
    overall = services.insights.insights(caller)
    domains, _ = services.insights.domains(caller, None, None, 100)
    notifications, _ = services.notifier.list_for(caller, None, 6)
    return ctx.render("assessments.html", notifications=notifications, nav="assessments",
                      rows=rows, status=status,
                      next_token=next_token, first=not ctx.arg("next"), overall=overall,
                      domain_chart=charts.domain_bars(domain_rows(domains), "all-domains"),
                      domains=domain_rows(domains), ratio_bar=charts.ratio_bar,
                      can_create=caller.can("assessment:create"))


def assessment_page(ctx: Context) -> Response:
    services, caller = ctx.services, ctx.caller
    aid = ctx.path("aid")
    described = services.assessments.get(caller, aid)
    assessment = described["assessment"]
    metadata = assessment["metadata"]
    owner = is_owner(ctx, metadata)
    review = can_review(ctx, metadata)
    active = metadata["status"] == "ACTIVE"

    failed: dict[tuple[str, str], int] = {}
    domains: list[dict] = []
    if active:
        items, _ = services.insights.domains(caller, aid, None, 100)
        domains = domain_rows(items)
        for domain in domains:
            if not domain["noncompliant"]:
                continue
            controls = all_pages(lambda token, d=domain["id"]: services.insights.controls_in_domain(
                caller, d, aid, token, 1000))
            for c in controls:
                failed[(c["controlSetName"], c["id"])] = \
                    c["evidenceInsights"]["noncompliantEvidenceCount"]
    since = charts.daily_window({}, TREND_DAYS)[0][0]
    trend = charts.daily_window(services.evidence.daily_results(caller, aid, since), TREND_DAYS)

    control_sets = assessment["framework"]["controlSets"]
    total_controls = sum(len(s["controls"]) for s in control_sets)
    for control_set in control_sets:
        control_set["failed"] = 0
        for control in control_set["controls"]:
            control["failed"] = failed.get((control_set["id"], control["id"]), 0)
            control_set["failed"] += control["failed"]
    delegates = []
    if owner and active:
        delegates = services.keys.delegates(caller)
    states = services.posture.control_states(caller, aid)
    state_of = {(c["controlSetId"], c["controlId"]): c for c in states["controls"]}
    for control_set in control_sets:
        for control in control_set["controls"]:
            control["state"] = state_of.get((control_set["id"], control["id"]))
    score = services.posture.trend(caller, aid, TREND_DAYS)["groups"]
    by_set = services.posture.trend(caller, aid, TREND_DAYS, "set")["groups"]
    by_domain = services.posture.trend(caller, aid, TREND_DAYS, "domain")["groups"]
    summary = {
        "controls": total_controls,
        "reviewed": sum(1 for s in control_sets for c in s["controls"]
                        if c["status"] == "REVIEWED"),
        "evidence": sum(c["evidenceCount"] for s in control_sets for c in s["controls"]),
        "selected": sum(c["assessmentReportEvidenceCount"] for s in control_sets
                        for c in s["controls"]),
        "failed": sum(failed.values()),
        "failing_controls": sum(1 for v in failed.values() if v),
    }
    return ctx.render(
        "assessment.html", nav="assessments", assessment=assessment, metadata=metadata,
        framework=assessment["framework"], control_sets=control_sets, user_role=described.get(
            "userRole"), owner=owner, review=review, active=active, summary=summary,
        domains=domains, domain_chart=charts.domain_bars(domains, "domains") if active else "",
        trend=trend, trend_chart=charts.daily_checks(trend, "trend"), delegates=delegates,
        collapse=total_controls > 120, states=states,
        state_chart=charts.state_bars(states["domains"], "domain-states"),
        score=score[0] if score else None, by_set={g["name"]: g for g in by_set},
        by_domain=by_domain,
        score_chart=charts.score_line(score[0]["points"], "score") if score else "")


def history_page(ctx: Context) -> Response:
    services, caller = ctx.services, ctx.caller
    aid = ctx.path("aid")
    control_set_id = ctx.arg("set") or None
    assessment = services.assessments.get(caller, aid)["assessment"]
    if caller.role == "delegate" and not control_set_id:
        control_set_id = assessment["framework"]["controlSets"][0]["id"]
    entries, next_token = services.review.change_logs(caller, aid, control_set_id, None,
                                                     ctx.arg("next"), 50)
    return ctx.render("history.html", nav="assessments", assessment=assessment,
                      entries=entries, next_token=next_token, control_set_id=control_set_id,
                      first=not ctx.arg("next"))


def control_page(ctx: Context) -> Response:
    services, caller = ctx.services, ctx.caller
    aid, cid = ctx.path("aid"), ctx.path("cid")
    set_id = ctx.arg("set") or ""
    # The folder listing checks the control set is visible to the caller (403 otherwise)
    # before anything about it is shown.
    folders, next_token = services.evidence.folders_by_control(
        caller, aid, set_id, cid, ctx.arg("next"), FOLDERS_PER_PAGE)
    described = services.assessments.get(caller, aid)
    assessment = described["assessment"]
    metadata = assessment["metadata"]
    control_set = control_set_of(assessment, set_id)
    control = control_of(control_set, cid)
    for folder in folders:
        items, more = services.evidence.evidence_in_folder(caller, aid, set_id, folder["id"], None,
                                                           ITEMS_PER_FOLDER)
        folder["items"], folder["more"] = items, more
        folder["regions"] = services.posture.evidence_regions(caller, aid, set_id,
                                                              [i["id"] for i in items])
    since = charts.daily_window({}, TREND_DAYS)[0][0]
    trend = charts.daily_window(services.evidence.daily_results(caller, aid, since, set_id, cid),
                                TREND_DAYS)
    failed = sum(f for _, _, f in trend)
    history, _ = services.review.change_logs(caller, aid, set_id, cid, None, 100)
    library_control = None
    try:
        library_control = services.controls.get(caller, cid)
    except (NotFoundError, AccessDeniedError):
        pass  # a custom control deleted since the assessment's snapshot was taken
    review = can_review(ctx, metadata)
    states = services.posture.control_states(caller, aid)
    state = next(c for c in states["controls"]
                 if (c["controlSetId"], c["controlId"]) == (set_id, cid))
    checks = services.posture.failed_checks(caller, aid, control_set_id=set_id, control_id=cid)
    owner = is_owner(ctx, metadata)
    active = metadata["status"] == "ACTIVE"
    principals = services.keys.principals(caller) if owner and active else []
    finder = evidence_search.control_search(ctx, aid, set_id, cid)
    return ctx.render(
        "control.html", state=state, checks=checks[:CHECKS_ON_CONTROL], owner=owner,
        active=active, assignments=[a for a in services.worklist.assignments(caller, aid, status=None)
                                    if (a["controlSetId"], a["controlId"]) == (set_id, cid)],
        exceptions=[x for x in services.worklist.exceptions(caller, aid)
                    if (x["controlSetId"], x["controlId"]) == (set_id, cid)],
        principals=principals,
        approvers=[p for p in principals if p.role in ("admin", "process-owner")
                   and p.arn != caller.arn],
        check_resources=sorted({r for c in checks for r in c["resources"]}),
        expiry=services.posture.evidence_expiry(caller, aid, set_id, cid), hide_control=True,
        nav="assessments", assessment=assessment, metadata=metadata, finder=finder,
        control_set=control_set, control=control, folders=folders, next_token=next_token,
        first=not ctx.arg("next"), trend_chart=charts.daily_checks(
            trend, "control-trend", "Compliance checks per day for this control"),
        trend=trend, failed_recent=failed, history=history, review=review,
        statuses=CONTROL_STATUSES, library_control=library_control,
        related=services.evidence.equivalent_evidence(caller, aid, set_id, cid),
        can_upload=review and caller.can(IMPORT_EVIDENCE) and control["status"] != "INACTIVE",
        max_file_mb=MAX_FILE_BYTES // (1024 * 1024))


def folder_page(ctx: Context) -> Response:
    services, caller = ctx.services, ctx.caller
    aid, fid = ctx.path("aid"), ctx.path("fid")
    set_id = ctx.arg("set") or ""
    folder = services.evidence.folder(caller, aid, set_id, fid)
    items, next_token = services.evidence.evidence_in_folder(caller, aid, set_id, fid,
                                                             ctx.arg("next"), ITEMS_PER_PAGE)
    folder["items"], folder["more"] = items, None
    folder["regions"] = services.posture.evidence_regions(caller, aid, set_id,
                                                          [i["id"] for i in items])
    assessment = services.assessments.get(caller, aid)["assessment"]
    control_set = control_set_of(assessment, set_id)
    control = control_of(control_set, folder["controlId"])
    return ctx.render("folder.html", nav="assessments", assessment=assessment,
                      metadata=assessment["metadata"], control_set=control_set, control=control,
                      folder=folder, next_token=next_token, first=not ctx.arg("next"),
                      review=can_review(ctx, assessment["metadata"]))


# -- actions ------------------------------------------------------------------------------------

def _control_target(ctx: Context) -> tuple[str, str, str]:
    set_id = ctx.arg("set")
    if not set_id:
        raise ValidationError.field("controlSetId", "Which control set? (set= is missing)")
    return ctx.path("aid"), set_id, ctx.path("cid")


def add_comment(ctx: Context, form: dict) -> Response:
    aid, set_id, cid = _control_target(ctx)
    body = one(form, "comment")
    if not body:
        raise ValidationError.field("comment", "Write a comment first.")
    if len(body) > 500:
        raise ValidationError.field("comment", "A comment is at most 500 characters.")
    ctx.services.review.update_control(ctx.caller, aid, set_id, cid, None, body)
    return ctx.redirect(control_url(aid, set_id, cid) + "#comments", "Comment added.")


def change_status(ctx: Context, form: dict) -> Response:
    aid, set_id, cid = _control_target(ctx)
    status = one(form, "status")
    if status not in CONTROL_STATUSES:
        raise ValidationError.field("controlStatus", f"Pick one of {', '.join(CONTROL_STATUSES)}.")
    control = ctx.services.review.update_control(ctx.caller, aid, set_id, cid, status, None)
    return ctx.redirect(control_url(aid, set_id, cid),
                        f"Status is now {control['status'].replace('_', ' ').lower()}.")


def add_text(ctx: Context, form: dict) -> Response:
    aid, set_id, cid = _control_target(ctx)
    text = one(form, "text")
    if not text:
        raise ValidationError.field("textResponse", "Write the response first.")
    errors = ctx.services.evidence.import_manual(ctx.caller, aid, set_id, cid,
                                                 [{"textResponse": text}])
    if errors:
        raise ValidationError(errors[0]["errorMessage"])
    return ctx.redirect(control_url(aid, set_id, cid) + "#evidence", "Text response added.")


def save_selection(ctx: Context, form: dict) -> Response:
    aid, fid = ctx.path("aid"), ctx.path("fid")
    set_id = ctx.arg("set") or ""
    services, caller = ctx.services, ctx.caller
    folder = services.evidence.folder(caller, aid, set_id, fid)
    operation = one(form, "op", "save")
    if operation == "all":
        done, errors = services.evidence.select_for_report(caller, aid, fid, None, True)
        message = f"Every item of the folder is in the report ({folder['totalEvidence']})."
    elif operation == "none":
        done, errors = services.evidence.select_for_report(caller, aid, fid, None, False)
        message = "No item of the folder is in the report."
    else:
        shown = set(form.get("shown", []))
        chosen = set(form.get("evidence", [])) & shown
        errors = []
        if chosen:
            errors += services.evidence.select_for_report(caller, aid, fid, sorted(chosen), True)[1]
        if shown - chosen:
            errors += services.evidence.select_for_report(caller, aid, fid,
                                                          sorted(shown - chosen), False)[1]
        message = f"Report selection saved: {len(chosen)} of {len(shown)} shown item(s) selected."
    if errors:
        raise ValidationError(errors[0]["errorMessage"])
    back = one(form, "back") or control_url(aid, set_id, folder["controlId"])
    if not back.startswith("/console/"):
        back = control_url(aid, set_id, folder["controlId"])
    return ctx.redirect(back + f"#folder-{fid}", message)


def create_delegation(ctx: Context, form: dict) -> Response:
    aid = ctx.path("aid")
    request = {"controlSetId": one(form, "control_set"), "roleArn": one(form, "role_arn"),
               "roleType": "RESOURCE_OWNER"}
    if one(form, "comment"):
        request["comment"] = one(form, "comment")[:350]
    created, errors = ctx.services.review.create_delegations(ctx.caller, aid, [request])
    if errors:
        raise ValidationError(errors[0]["errorMessage"])
    return ctx.redirect(assessment_url(aid) + "#delegations",
                        f"Control set '{request['controlSetId']}' delegated.")


def remove_delegation(ctx: Context, form: dict) -> Response:
    aid = ctx.path("aid")
    errors = ctx.services.review.delete_delegations(ctx.caller, aid, [one(form, "delegation")])
    if errors:
        raise ValidationError(errors[0]["errorMessage"])
    return ctx.redirect(assessment_url(aid) + "#delegations", "Delegation removed.")


def set_status(ctx: Context, form: dict) -> Response:
    aid = ctx.path("aid")
    set_id = ctx.arg("set") or one(form, "control_set")
    status = one(form, "status")
    comment = one(form, "comment")
    if status not in ("UNDER_REVIEW", "REVIEWED", "ACTIVE"):
        raise ValidationError.field("status", "Unknown control set status.")
    if not comment:
        raise ValidationError.field("comment", "Say a word about it: the comment goes to the "
                                               "other side.")
    ctx.services.review.update_control_set_status(ctx.caller, aid, set_id, status, comment[:350])
    words = {"UNDER_REVIEW": "submitted for review", "REVIEWED": "reviewed",
             "ACTIVE": "sent back for more work"}
    back = one(form, "back")
    target = back if back.startswith("/console/") else assessment_url(aid)
    return ctx.redirect(target, f"Control set '{set_id}' {words[status]}.")


def set_assessment_status(ctx: Context, form: dict) -> Response:
    aid = ctx.path("aid")
    if one(form, "status") != "INACTIVE" or one(form, "confirm") != "yes":
        raise ValidationError.field("status", "Tick the box to confirm: INACTIVE is final.")
    ctx.services.assessments.update_status(ctx.caller, aid, "INACTIVE")
    return ctx.redirect(assessment_url(aid), "The assessment is now inactive (final, read-only).")


async def upload(ctx: Context) -> Response:
    """A file dropped on a control: streamed to disk as it arrives, then into the blob store
    through the same upload-URL flow the API uses, then imported as manual evidence."""
    request = ctx.request
    aid, set_id, cid = _control_target(ctx)
    name = unquote(request.headers.get("x-file-name", "")).replace("\x00", "").strip()[:250]
    if not name:
        raise ValidationError.field("fileName", "The file has no name.")
    if not ctx.caller.can(IMPORT_EVIDENCE):
        raise AccessDeniedError(f"{ctx.caller.arn} (role {ctx.caller.role}) cannot add evidence.")
    # Refuse early (before reading a large body) when the control set is not visible.
    await run_in_threadpool(ctx.services.evidence.folders_by_control, ctx.caller, aid, set_id,
                            cid, None, 1)
    with tempfile.SpooledTemporaryFile(max_size=4 * 1024 * 1024) as spool:
        try:
            size = await bodies.spool(request, MAX_FILE_BYTES, spool)
        except PayloadTooLarge:
            return _too_large()
        spool.seek(0)
        await run_in_threadpool(_import_file, ctx, aid, set_id, cid, name, spool, size)
    return secure(JSONResponse({"message": f"{name} added ({size} bytes).",
                                "location": control_url(aid, set_id, cid) + "#evidence"}))


def _too_large() -> Response:
    return secure(JSONResponse({"message": f"Evidence files are limited to "
                                           f"{MAX_FILE_BYTES // (1024 * 1024)} MB."}, 413))


def _import_file(ctx: Context, aid: str, set_id: str, cid: str, name: str, spool, size: int):
    evidence = ctx.services.evidence
    link = evidence.upload_url(ctx.caller, name)
    parts = urlsplit(link["uploadUrl"])
    if "/_assay/uploads/" in parts.path:
        query = parse_qs(parts.query)
        evidence.receive_upload(link["evidenceFileName"], query.get("expires", [""])[0],
                                query.get("signature", [""])[0], read_chunks(spool))
    else:  # an S3 presigned URL: the server puts the file there, as a client would
        put = urllib.request.Request(link["uploadUrl"], data=spool, method="PUT",
                                     headers={"content-length": str(size)})
        with urllib.request.urlopen(put, timeout=300) as response:
            response.read()
    errors = evidence.import_manual(ctx.caller, aid, set_id, cid,
                                    [{"evidenceFileName": link["evidenceFileName"]}])
    if errors:
        raise ValidationError(errors[0]["errorMessage"])


def routes(console: Console) -> list[Route]:
    view, action = console.view, console.action
    return [
        Route("/assessments", view(assessment_list)),
        Route("/assessments/{aid}", view(assessment_page)),
        Route("/assessments/{aid}/history", view(history_page)),
        Route("/assessments/{aid}/status", action(set_assessment_status), methods=["POST"]),
        Route("/assessments/{aid}/delegations", action(create_delegation), methods=["POST"]),
        Route("/assessments/{aid}/delegations/remove", action(remove_delegation),
              methods=["POST"]),
        Route("/assessments/{aid}/set-status", action(set_status), methods=["POST"]),
        Route("/assessments/{aid}/controls/{cid}", view(control_page)),
        Route("/assessments/{aid}/controls/{cid}/comment", action(add_comment), methods=["POST"]),
        Route("/assessments/{aid}/controls/{cid}/status", action(change_status), methods=["POST"]),
        Route("/assessments/{aid}/controls/{cid}/text", action(add_text), methods=["POST"]),
        Route("/assessments/{aid}/controls/{cid}/upload", console.raw_action(upload),
              methods=["POST"]),
        Route("/assessments/{aid}/folders/{fid}", view(folder_page)),
        Route("/assessments/{aid}/folders/{fid}/selection", action(save_selection),
              methods=["POST"]),
    ]


def evidence_summary(item: dict[str, Any]) -> str:
    attributes = item.get("attributes") or {}
    for key in ("textResponse", "fileName"):
        if attributes.get(key):
            return attributes[key]
    resources = [r.get("value") or r.get("arn") for r in item.get("resourcesIncluded") or []]
    return ", ".join(r for r in resources if r)[:200]


def bucket(item: dict[str, Any]) -> str:
    return compliance_bucket(item.get("complianceCheck"))
