"""An assessment's evidence and review as OSCAL assessment-results.

The input is what the Audit Manager API returns: GetAssessment's ``assessment``, the evidence
folders of GetEvidenceFoldersByAssessment and, per folder id, the evidence of
GetEvidenceByEvidenceFolder. The output has one result with

- an observation per evidence item: methods TEST (a compliance check) or EXAMINE (configuration
  snapshots, user activity, manual evidence), the resources it covers as subjects, and the
  evidence itself (ids, source, account, time) as relevant-evidence;
- a finding per active control, targeting the control's statement in the framework's catalog
  (the ids that ``assay oscal export framework`` writes), satisfied or not-satisfied:
    * any failed compliance check (evidence or resource: NON_COMPLIANT, FAILED) -> not-satisfied
      (reason ``fail``): a reviewer's sign-off does not hide a failing check;
    * else a control a reviewer marked REVIEWED, or one with passing compliance checks ->
      satisfied (reason ``pass``);
    * else (no verdict yet) -> not-satisfied (reason ``other``), and the description says so.
"""

from __future__ import annotations

from typing import Any, Iterable

import orjson

from .common import (
    compact,
    control_tokens,
    digest,
    iso,
    latest,
    metadata,
    one_line,
    prop,
    props,
    stable_uuid,
    to_datetime,
)

PASS_VALUES = frozenset({"COMPLIANT", "PASSED", "PASS", "SUCCESS"})
FAIL_VALUES = frozenset({"NON_COMPLIANT", "NONCOMPLIANT", "NON-COMPLIANT", "FAILED", "FAIL",
                         "FAILURE"})


def check_state(value: Any) -> str | None:
    """``pass``, ``fail`` or None (no verdict) for a complianceCheck value."""
    if not isinstance(value, str):
        return None
    text = value.strip().upper().replace(" ", "_")
    if text in PASS_VALUES:
        return "pass"
    if text in FAIL_VALUES:
        return "fail"
    return None


def evidence_state(evidence: dict) -> str | None:
    """The evidence's own verdict, else the verdict of the resources it covers."""
    own = check_state(evidence.get("complianceCheck"))
    if own:
        return own
    states = [check_state(r.get("complianceCheck")) for r in evidence.get("resourcesIncluded") or ()]
    if "fail" in states:
        return "fail"
    if "pass" in states:
        return "pass"
    return None


def is_compliance_check(evidence: dict) -> bool:
    by_type = (evidence.get("evidenceByType") or "").lower()
    return "compliance" in by_type or bool(check_state(evidence.get("complianceCheck")))


def assessment_results(assessment: dict, folders: Iterable[dict],
                       evidence_by_folder: dict[str, list[dict]]) -> dict:
    meta = assessment.get("metadata") or {}
    framework = assessment.get("framework") or {}
    assessment_id = meta.get("id") or ""
    control_sets = framework.get("controlSets") or []
    tokens = control_tokens((c["id"], c["name"]) for s in control_sets
                            for c in s.get("controls") or ())
    names = {c["id"]: c["name"] for s in control_sets for c in s.get("controls") or ()}

    folders = list(folders)
    resources: dict[str, dict] = {}
    observations: list[dict] = []
    by_control: dict[tuple[str, str], list[tuple[dict, str]]] = {}
    times: list[Any] = []
    for folder in folders:
        for evidence in evidence_by_folder.get(folder.get("id"), ()):
            observation = _observation(assessment_id, folder, evidence, names, resources)
            observations.append(observation)
            times.append(observation["collected"])
            key = (folder.get("controlSetId") or "", folder.get("controlId") or "")
            by_control.setdefault(key, []).append((evidence, observation["uuid"]))

    findings = []
    reviewed: list[str] = []
    for control_set in control_sets:
        for control in control_set.get("controls") or ():
            if control.get("status") == "INACTIVE":
                continue
            token = tokens[control["id"]]
            if token not in reviewed:
                reviewed.append(token)
            items = by_control.get((control_set.get("id") or "", control["id"]), [])
            findings.append(_finding(assessment_id, control_set, control, token, items))

    assessment_resource = stable_uuid("assessment", assessment_id)
    back_matter = [compact({
        "uuid": assessment_resource,
        "title": one_line(f"Audit Manager assessment {meta.get('name') or assessment_id}"),
        "description": meta.get("description") or None,
        "props": props(prop("assessment-id", assessment_id), prop("assessment-arn", assessment.get("arn")),
                       prop("framework-id", framework.get("id")),
                       prop("framework-name", (framework.get("metadata") or {}).get("name"))),
    })] + list(resources.values())

    start = to_datetime(meta.get("creationTime")) or latest(*times)
    end = latest(meta.get("lastUpdated"), *times)
    result = compact({
        "title": one_line(f"Evidence and review of {meta.get('name') or assessment_id}"),
        "description": (
            f"Evidence collected for the assessment '{meta.get('name') or assessment_id}' "
            f"({len(observations)} evidence item(s)) and the review status of its "
            f"{len(findings)} active control(s)."),
        "start": iso(start),
        "end": iso(max(end, start)),
        "props": props(prop("assessment-status", meta.get("status")),
                       prop("compliance-type", meta.get("complianceType"))),
        "reviewed-controls": {"control-selections": [
            {"include-controls": [{"control-id": t} for t in reviewed]} if reviewed
            else {"include-all": {}}]},
        "observations": observations or None,
        "findings": findings or None,
    })
    result = {"uuid": stable_uuid("result", assessment_id, digest(result)), **result}
    body = compact({
        "metadata": metadata(
            f"Assessment results: {meta.get('name') or assessment_id}", end,
            props_=props(prop("assessment-id", assessment_id),
                         prop("assessment-arn", assessment.get("arn"))),
            remarks=meta.get("description")),
        # There is no OSCAL assessment plan for an Audit Manager assessment: the import points
        # at the back-matter resource that describes the assessment.
        "import-ap": {"href": f"#{assessment_resource}"},
        "results": [result],
        "back-matter": {"resources": back_matter},
    })
    body = {"uuid": stable_uuid("assessment-results", assessment_id, digest(body)), **body}
    return {"assessment-results": body}


def _observation(assessment_id: str, folder: dict, evidence: dict, names: dict[str, str],
                 resources: dict[str, dict]) -> dict:
    evidence_id = evidence.get("id") or stable_uuid("evidence", digest(evidence))
    control_name = folder.get("controlName") or names.get(folder.get("controlId"), "")
    source = evidence.get("dataSource") or folder.get("dataSource") or "Audit Manager"
    what = " ".join(x for x in (evidence.get("eventSource"), evidence.get("eventName")) if x)
    check = evidence.get("complianceCheck")
    subjects = []
    for resource in evidence.get("resourcesIncluded") or ():
        ident = resource.get("arn") or resource.get("value")
        if not ident:
            continue
        subject_uuid = stable_uuid("resource", ident)
        resources.setdefault(subject_uuid, compact({
            "uuid": subject_uuid,
            "title": one_line(ident),
            "props": props(prop("resource-arn", resource.get("arn")),
                           prop("resource-value", resource.get("value")
                                if resource.get("value") != resource.get("arn") else None)),
        }))
        subjects.append(compact({
            "subject-uuid": subject_uuid,
            "type": "resource",
            "title": one_line(ident),
            "props": props(prop("compliance-check", resource.get("complianceCheck"))),
        }))
    kind = evidence.get("evidenceByType") or ""
    origin = "" if source.lower() == kind.lower() else f" from {source}"
    description = " ".join(filter(None, [
        f"{kind + ' evidence' if kind else 'Evidence'}{origin}"
        + (f" ({what})" if what else "")
        + (f" in account {evidence.get('evidenceAwsAccountId') or evidence.get('awsAccountId')}"
           if evidence.get("evidenceAwsAccountId") or evidence.get("awsAccountId") else "")
        + (f" for control '{control_name}'." if control_name else "."),
        f"Compliance check: {check}." if check else None,
        f"{len(subjects)} resource(s) included." if subjects else None,
    ]))
    attributes = evidence.get("attributes") or {}
    return compact({
        "uuid": stable_uuid("observation", assessment_id, folder.get("id"), evidence_id),
        "title": one_line(f"{what or source}: {control_name}" if control_name else what or source),
        "description": description,
        "props": props(
            prop("evidence-id", evidence_id),
            prop("evidence-folder-id", folder.get("id")),
            prop("control-id", folder.get("controlId")),
            prop("control-set-id", folder.get("controlSetId")),
            prop("data-source", evidence.get("dataSource")),
            prop("evidence-by-type", evidence.get("evidenceByType")),
            prop("compliance-check", check),
        ),
        "methods": ["TEST" if is_compliance_check(evidence) else "EXAMINE"],
        "subjects": subjects or None,
        "relevant-evidence": [compact({
            "description": one_line(
                f"Audit Manager evidence {evidence_id} in evidence folder "
                f"{folder.get('name') or folder.get('id')}"),
            "props": props(
                prop("evidence-id", evidence_id),
                prop("event-source", evidence.get("eventSource")),
                prop("event-name", evidence.get("eventName")),
                prop("aws-account-id", evidence.get("awsAccountId")),
                prop("evidence-aws-account-id", evidence.get("evidenceAwsAccountId")),
                prop("iam-id", evidence.get("iamId")),
                prop("aws-organization", evidence.get("awsOrganization")),
                prop("assessment-report-selection", evidence.get("assessmentReportSelection")),
            ),
            "remarks": orjson.dumps(attributes, option=orjson.OPT_SORT_KEYS).decode()
            if attributes else None,
        })],
        "collected": iso(evidence.get("time") or folder.get("date")),
    })


def _finding(assessment_id: str, control_set: dict, control: dict, token: str,
             items: list[tuple[dict, str]]) -> dict:
    states = [evidence_state(e) for e, _ in items]
    failed, passed = states.count("fail"), states.count("pass")
    review = control.get("status") or "UNDER_REVIEW"
    if failed:
        state, reason = "not-satisfied", "fail"
        verdict = f"{failed} evidence item(s) failed their compliance check."
    elif review == "REVIEWED":
        state, reason = "satisfied", "pass"
        verdict = "A reviewer marked the control as reviewed" + (
            f"; {passed} compliance check(s) passed." if passed else ".")
    elif passed:
        state, reason = "satisfied", "pass"
        verdict = f"{passed} compliance check(s) passed and none failed."
    else:
        state, reason = "not-satisfied", "other"
        verdict = ("Not determined yet: no compliance check has a result and the control has "
                   "not been reviewed.")
    comments = [c for c in control.get("comments") or () if c.get("commentBody")]
    remarks = "\n".join(
        f"{c.get('authorName') or 'reviewer'} ({iso(c['postedDate']) if c.get('postedDate') else 'undated'}): "
        f"{c['commentBody']}" for c in comments) or None
    return compact({
        "uuid": stable_uuid("finding", assessment_id, control_set.get("id"), control["id"]),
        "title": one_line(control.get("name") or token),
        "description": (f"{control.get('name') or token} in control set "
                        f"'{control_set.get('id')}': {len(items)} evidence item(s). {verdict}"),
        "props": props(
            prop("control-id", control["id"]),
            prop("control-set-id", control_set.get("id")),
            prop("review-status", review),
            prop("response", control.get("response")),
            prop("evidence-count", len(items)),
            prop("compliance-checks-passed", passed),
            prop("compliance-checks-failed", failed),
        ),
        "target": {
            "type": "statement-id",
            "target-id": f"{token}_smt",
            "title": one_line(control.get("name") or token),
            "status": {"state": state, "reason": reason},
        },
        "related-observations": [{"observation-uuid": u} for _, u in items] or None,
        "remarks": remarks,
    })
