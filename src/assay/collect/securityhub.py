"""AWS_Security_Hub: the findings of one Security Hub control.

Keyword: a security control id, e.g. ``IAM.1`` (consolidated control findings, Security Hub's
default since 2023: ``Compliance.SecurityControlId``). Active findings of the target account and
region are read (GetFindings, all pages) and each is one observation ("Compliance check").
Suppressed findings are kept and say so (attribute ``workflowStatus`` SUPPRESSED): hiding them
would hide a decision an auditor has to see.

A finding's current state is what matters, so ``since`` does not filter; the identity
(finding id + UpdatedAt) makes a finding new evidence only when Security Hub updates it.
The filters are applied again to what GetFindings returns, so a hub (or an emulator) that
ignores one does not leak other controls, accounts or regions into the evidence.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from assay.model.evidence import (COMPLIANCE_CHECK, NOT_APPLICABLE, Observation, SourceUnavailable,
                                  clean_attributes)

from .base import Target, clip_event_name, epoch, json_safe, resource

SOURCE_TYPE = "AWS_Security_Hub"
EVENT_SOURCE = "securityhub.amazonaws.com"
_CHECKS = {"PASSED", "FAILED", "WARNING"}  # NOT_AVAILABLE and no status: NOT_APPLICABLE
_MAX_PAGE = 100


def filters(target: Target, keyword: str) -> dict[str, Any]:
    """GetFindings filters: this control, active, this account and region."""
    def eq(value: str) -> list[dict[str, str]]:
        return [{"Value": value, "Comparison": "EQUALS"}]

    return {
        "ComplianceSecurityControlId": eq(keyword),
        "RecordState": eq("ACTIVE"),
        "AwsAccountId": eq(target.account_id),
        "Region": eq(target.region),
    }


def observe(target: Target, keyword: str, *, since: float | None = None, now: float,
            page_size: int | None = None, **_options: Any) -> Iterator[Observation]:
    """One observation per active finding of control ``keyword`` in the target account/region.

    Raises SourceUnavailable("SecurityHubNotEnabled") when the account is not subscribed to
    Security Hub in that region (AWS answers InvalidAccessException).
    """
    client = target.client("securityhub")
    paging = {"PageSize": min(page_size or _MAX_PAGE, _MAX_PAGE)}
    pages = client.get_paginator("get_findings").paginate(
        Filters=filters(target, keyword), PaginationConfig=paging)
    try:
        for page in pages:
            for finding in page.get("Findings") or ():
                if _matches(target, keyword, finding):
                    yield _observation(target, keyword, finding)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        if error.get("Code") == "InvalidAccessException":
            raise SourceUnavailable(
                "SecurityHubNotEnabled",
                f"Security Hub is not enabled in account {target.account_id} region "
                f"{target.region}: {error.get('Message', '')}".rstrip(": ")) from exc
        raise


def _matches(target: Target, keyword: str, finding: dict[str, Any]) -> bool:
    compliance = finding.get("Compliance") or {}
    return (compliance.get("SecurityControlId") == keyword
            and finding.get("RecordState", "ACTIVE") == "ACTIVE"
            and finding.get("AwsAccountId", target.account_id) == target.account_id
            and finding.get("Region", target.region) == target.region)


def _observation(target: Target, keyword: str, finding: dict[str, Any]) -> Observation:
    compliance = finding.get("Compliance") or {}
    status = compliance.get("Status")
    check = status if status in _CHECKS else NOT_APPLICABLE
    workflow = (finding.get("Workflow") or {}).get("Status") or finding.get("WorkflowState")
    updated = finding.get("UpdatedAt") or finding.get("CreatedAt")
    resources = tuple(
        resource(r.get("Id"), {k: r[k] for k in ("Type", "Id", "Region", "Partition") if k in r},
                 check)
        for r in finding.get("Resources") or ())
    severity = finding.get("Severity") or {}
    return Observation(
        source_type=SOURCE_TYPE,
        keyword=keyword,
        account_id=finding.get("AwsAccountId") or target.account_id,
        region=target.region,
        identity=f"{finding['Id']}|{updated}",
        time=epoch(updated) if updated else 0.0,
        event_source=EVENT_SOURCE,
        event_name=clip_event_name(keyword),
        evidence_by_type=COMPLIANCE_CHECK,
        compliance_check=check,
        resources=resources,
        attributes=clean_attributes([
            ("findingId", finding.get("Id")),
            ("title", finding.get("Title")),
            ("securityControlId", compliance.get("SecurityControlId")),
            ("complianceStatus", status),
            ("workflowStatus", workflow),
            ("recordState", finding.get("RecordState")),
            ("severity", severity.get("Label")),
            ("generatorId", finding.get("GeneratorId")),
            ("productName", finding.get("ProductName")),
            ("updatedAt", updated),
        ]),
        payload=json_safe(finding),
    )
