"""The evidence finder's schema: Audit Manager's evidence record fields, as CloudTrail Lake
exposes them, and the columns of Assay's ``evidence_finder`` table that hold them.

Source: AWS CloudTrail User Guide, "Supported SQL schemas for event data stores", section
"Supported schema for AWS Audit Manager evidence record fields": top-level ``eventversion``,
``eventcategory``, ``eventtype``, ``eventid``, ``eventtime``, ``awsregion``,
``recipientaccountid`` and the struct ``eventdata`` (attributes, awsaccountid, ...,
resourcecompliancecheck). As in CloudTrail Lake, an evidence item that includes several
resources is one row per resource (``resourceArn``, ``resourceType``,
``resourceComplianceCheck``), and at least one row when it includes none.

Identifiers are case-insensitive (Trino): ``eventData.controlId`` and ``EVENTDATA.CONTROLID``
name the same field.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from ..model.evidence import COMPLIANT_RESULTS, NONCOMPLIANT_RESULTS

# Top-level fields: lower-case name -> (display name, column, SQL type for the checker).
TOP_LEVEL = {
    "eventversion": ("eventVersion", "event_version", "VARCHAR"),
    "eventcategory": ("eventCategory", "event_category", "VARCHAR"),
    "eventtype": ("eventType", "event_type", "VARCHAR"),
    "eventid": ("eventID", "event_id", "VARCHAR"),
    "eventtime": ("eventTime", "event_time", "TIMESTAMP"),
    "awsregion": ("awsRegion", "aws_region", "VARCHAR"),
    "recipientaccountid": ("recipientAccountId", "recipient_account_id", "VARCHAR"),
}

# eventData's fields: lower-case name -> (display name, column, SQL type). ``attributes`` (a
# map) is left out: Assay keeps attributes in the ledger record, not in the finder's table.
EVENT_DATA = {
    "awsaccountid": ("awsAccountId", "aws_account_id", "VARCHAR"),
    "awsorganization": ("awsOrganization", "aws_organization", "VARCHAR"),
    "compliancecheck": ("complianceCheck", "compliance_check", "VARCHAR"),
    "datasource": ("dataSource", "data_source", "VARCHAR"),
    "eventname": ("eventName", "event_name", "VARCHAR"),
    "eventsource": ("eventSource", "event_source", "VARCHAR"),
    "evidenceawsaccountid": ("evidenceAwsAccountId", "evidence_aws_account_id", "VARCHAR"),
    "evidencebytype": ("evidenceByType", "evidence_by_type", "VARCHAR"),
    "iamid": ("iamId", "iam_id", "VARCHAR"),
    "evidenceid": ("evidenceId", "evidence_id", "VARCHAR"),
    "time": ("time", "evidence_time", "TIMESTAMP"),
    "assessmentid": ("assessmentId", "assessment_id", "VARCHAR"),
    "controlsetid": ("controlSetId", "control_set_id", "VARCHAR"),
    "controlid": ("controlId", "control_id", "VARCHAR"),
    "controlname": ("controlName", "control_name", "VARCHAR"),
    "controldomainname": ("controlDomainName", "control_domain_name", "VARCHAR"),
    "frameworkname": ("frameworkName", "framework_name", "VARCHAR"),
    "frameworkid": ("frameworkId", "framework_id", "VARCHAR"),
    "service": ("service", "service", "VARCHAR"),
    "servicecategory": ("serviceCategory", "service_category", "VARCHAR"),
    "resourcearn": ("resourceArn", "resource_arn", "VARCHAR"),
    "resourcetype": ("resourceType", "resource_type", "VARCHAR"),
    "evidencefolderid": ("evidenceFolderId", "evidence_folder_id", "VARCHAR"),
    "description": ("description", "description", "VARCHAR"),
    "manualevidences3resourcepath": ("manualEvidenceS3ResourcePath",
                                     "manual_evidence_s3_resource_path", "VARCHAR"),
    "evidencefoldername": ("evidenceFolderName", "evidence_folder_name", "VARCHAR"),
    "resourcecompliancecheck": ("resourceComplianceCheck", "resource_compliance_check", "VARCHAR"),
}

# Column -> the name a result shows for it.
DISPLAY = {column: name for name, column, _ in (*TOP_LEVEL.values(), *EVENT_DATA.values())}
COLUMN_TYPES = {column: kind for _, column, kind in (*TOP_LEVEL.values(), *EVENT_DATA.values())}

# The short name the store answers to besides its ARN and id.
STORE_ALIAS = "evidence"
EVENT_CATEGORY = "Evidence"   # CloudTrail Lake's eventcategory for Audit Manager evidence
EVENT_TYPE = "AwsAuditManagerEvidence"
EVENT_VERSION = "1.0"

# The console's "result" filter and ``result_of``: Audit Manager's three compliance outcomes.
FAILED, PASSED, INCONCLUSIVE = "failed", "passed", "inconclusive"
RESULTS = (FAILED, PASSED, INCONCLUSIVE)


def result_of(compliance_check: str | None) -> str:
    """failed | passed | inconclusive. A missing check and NOT_APPLICABLE (and WARNING,
    NOT_AVAILABLE) are inconclusive, as EvidenceInsights counts them."""
    if compliance_check in NONCOMPLIANT_RESULTS:
        return FAILED
    if compliance_check in COMPLIANT_RESULTS:
        return PASSED
    return INCONCLUSIVE


def rank_expression() -> str:
    """The query-language ORDER BY term that puts failed checks first, then inconclusive,
    then passed (0, 1, 2). The compiler answers it from the indexed ``result_rank`` column."""
    return (f"CASE WHEN {result_condition(FAILED)} THEN 0 "
            f"WHEN {result_condition(PASSED)} THEN 2 ELSE 1 END")


# ``result_rank``: descending order is failed first (2), inconclusive (1), passed (0), so the
# index (result_rank, event_time) read backwards gives "failed first, newest first".
RESULT_RANK = {FAILED: 2, INCONCLUSIVE: 1, PASSED: 0}


def result_condition(result: str) -> str:
    """The query-language condition that selects one result (what the console shows)."""
    failed = ", ".join(f"'{v}'" for v in sorted(NONCOMPLIANT_RESULTS))
    passed = ", ".join(f"'{v}'" for v in sorted(COMPLIANT_RESULTS))
    if result == FAILED:
        return f"eventData.complianceCheck IN ({failed})"
    if result == PASSED:
        return f"eventData.complianceCheck IN ({passed})"
    return (f"(eventData.complianceCheck IS NULL OR eventData.complianceCheck NOT IN "
            f"({failed}, {passed}))")


def _timestamp(epoch: float | None) -> datetime | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(float(epoch), timezone.utc).replace(tzinfo=None)


def finder_rows(seq: int, record: dict[str, Any], control: dict[str, Any] | None,
                region: str) -> list[dict[str, Any]]:
    """The ``evidence_finder`` rows of one ledger record: one per included resource (at least
    one). ``control`` carries the assessment control's name, control domain name and framework
    (``controlName``, ``controlDomainName``, ``frameworkId``, ``frameworkName``), which the
    record itself does not hold; ``region`` is where the evidence was collected when the record
    does not say."""
    control = control or {}
    resources = [r for r in record.get("resourcesIncluded") or [] if isinstance(r, dict)] or [{}]
    file = record.get("file") or {}
    source = file.get("source")
    # Never NULL (sorts read it off indexes): the collection day when a record has no time.
    when = _timestamp(record.get("time")) or datetime.strptime(
        record.get("collectionDay") or "1970-01-01", "%Y-%m-%d")
    base = {
        "seq": seq, "event_version": EVENT_VERSION, "event_category": EVENT_CATEGORY,
        "event_type": EVENT_TYPE, "event_time": when,
        "aws_region": record.get("region") or region,
        "recipient_account_id": record.get("awsAccountId"),
        "aws_account_id": record.get("awsAccountId"),
        "aws_organization": record.get("awsOrganization"),
        "compliance_check": record.get("complianceCheck"),
        "data_source": record.get("dataSource"), "event_name": record.get("eventName"),
        "event_source": record.get("eventSource"),
        "evidence_aws_account_id": record.get("evidenceAwsAccountId"),
        "evidence_by_type": record.get("evidenceByType"), "iam_id": record.get("iamId"),
        "evidence_id": record["id"], "evidence_time": when,
        "assessment_id": record["assessmentId"], "control_set_id": record["controlSetId"],
        "control_id": record["controlId"], "control_name": control.get("controlName"),
        "control_domain_name": control.get("controlDomainName"),
        "framework_name": control.get("frameworkName"),
        "framework_id": control.get("frameworkId"),
        "service": (record.get("eventSource") or "").split(".", 1)[0] or None,
        "service_category": record.get("sourceType"),
        "evidence_folder_id": record.get("evidenceFolderId"),
        "description": (record.get("textResponse") or "")[:1000] or None,
        "manual_evidence_s3_resource_path": source if source and source != "upload" else None,
        "evidence_folder_name": record.get("collectionDay"),
        "result_rank": RESULT_RANK[result_of(record.get("complianceCheck"))],
    }
    rows = []
    for part, resource in enumerate(resources):
        arn = resource.get("arn")
        rows.append({**base, "part": part, "event_id": f"{record['id']}:{part}",
                     "resource_arn": arn, "resource_type": _resource_type(arn),
                     "resource_compliance_check": resource.get("complianceCheck")})
    return rows


def _resource_type(arn: str | None) -> str | None:
    """``AWS::<Service>::<resource>``-like type from an ARN: service and resource kind."""
    if not arn or not arn.startswith("arn:"):
        return None
    parts = arn.split(":", 5)
    if len(parts) < 6:
        return None
    kind = parts[5].split("/", 1)[0].split(":", 1)[0]
    return f"{parts[2]}:{kind}" if kind else parts[2]
