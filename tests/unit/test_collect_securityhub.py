"""AWS_Security_Hub collector: findings in moto (BatchImportFindings, GetFindings with real
paging; moto ignores GetFindings filters, so the collector's own filtering is what is tested
there); the filters sent and the error paths through Stubber."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from assay.collect import securityhub
from assay.model.evidence import COMPLIANCE_CHECK, SourceUnavailable, compliance_bucket
from collect_fixtures.aws import (  # noqa: F401  (fixtures)
    ACCOUNT,
    REGION,
    collect,
    moto,
    moto_endpoint,
    moto_target,
    offline_client,
    stub_target,
    stubbed,
)

OTHER_ACCOUNT = "210987654321"
PRODUCT = f"arn:aws:securityhub:{REGION}::product/aws/securityhub"


def finding(number: int, control: str = "IAM.1", status: str = "FAILED", *,
            account: str = ACCOUNT, region: str = REGION, workflow: str = "NEW",
            record_state: str = "ACTIVE", updated: str = "2026-01-01T08:00:00.000Z") -> dict:
    arn = f"arn:aws:iam::{account}:policy/policy-{number}"
    return {
        "SchemaVersion": "2018-10-08",
        "Id": f"arn:aws:securityhub:{region}:{account}:security-control/{control}/finding/{number:04d}",
        "ProductArn": PRODUCT,
        "ProductName": "Security Hub",
        "GeneratorId": f"security-control/{control}",
        "AwsAccountId": account,
        "Region": region,
        "Types": ["Software and Configuration Checks/Industry and Regulatory Standards"],
        "CreatedAt": "2026-01-01T00:00:00.000Z",
        "UpdatedAt": updated,
        "Severity": {"Label": "HIGH", "Original": "HIGH"},
        "Title": "IAM policies should not allow full administrative privileges",
        "Description": "Checks whether customer managed IAM policies allow *:*.",
        "Resources": [{"Type": "AwsIamPolicy", "Id": arn, "Partition": "aws", "Region": region}],
        "Compliance": {"Status": status, "SecurityControlId": control},
        "Workflow": {"Status": workflow},
        "RecordState": record_state,
    }


def test_findings_of_one_control_one_observation_each(moto):
    target = moto_target(moto)
    hub = target.client("securityhub")
    hub.enable_security_hub()
    wanted = [
        finding(1, status="PASSED"),
        finding(2, status="FAILED"),
        finding(3, status="FAILED", workflow="SUPPRESSED"),
        finding(4, status="WARNING"),
        finding(5, status="NOT_AVAILABLE"),
    ]
    noise = [
        finding(6, control="IAM.2"),
        finding(7, account=OTHER_ACCOUNT),
        finding(8, region="eu-west-1"),
        finding(9, record_state="ARCHIVED"),
    ]
    result = hub.batch_import_findings(Findings=wanted + noise)
    assert result["FailedCount"] == 0
    calls: list[int] = []
    hub.meta.events.register("before-call.*.GetFindings", lambda **_: calls.append(1))

    observations = collect(securityhub.observe, target, "IAM.1", page_size=2)

    assert len(calls) == 5  # 9 findings, 2 a page
    assert [o.payload["Id"] for o in observations] == [f["Id"] for f in wanted]
    passed, failed, suppressed, warning, unavailable = observations
    assert [o.compliance_check for o in observations] == [
        "PASSED", "FAILED", "FAILED", "WARNING", "NOT_APPLICABLE"]
    assert [compliance_bucket(o.compliance_check) for o in observations] == [
        "compliant", "noncompliant", "noncompliant", "inconclusive", "inconclusive"]
    assert suppressed.attributes["workflowStatus"] == "SUPPRESSED"
    assert failed.attributes["workflowStatus"] == "NEW"
    assert unavailable.attributes["complianceStatus"] == "NOT_AVAILABLE"
    assert failed.source_type == "AWS_Security_Hub" and failed.keyword == "IAM.1"
    assert failed.evidence_by_type == COMPLIANCE_CHECK
    assert failed.event_source == "securityhub.amazonaws.com" and failed.event_name == "IAM.1"
    assert failed.identity == f"{wanted[1]['Id']}|2026-01-01T08:00:00.000Z"
    assert failed.time == 1767254400.0
    assert (failed.account_id, failed.region) == (ACCOUNT, REGION)
    resource_arn = f"arn:aws:iam::{ACCOUNT}:policy/policy-2"
    assert failed.resources[0]["arn"] == resource_arn
    assert failed.resources[0]["complianceCheck"] == "FAILED"
    assert '"Type":"AwsIamPolicy"' in failed.resources[0]["value"]
    assert failed.attributes["severity"] == "HIGH"


def test_an_updated_finding_is_a_new_identity(moto):
    target = moto_target(moto)
    hub = target.client("securityhub")
    hub.batch_import_findings(Findings=[finding(1)])
    [before] = collect(securityhub.observe, target, "IAM.1")
    hub.batch_import_findings(Findings=[finding(1, status="PASSED", updated="2026-01-02T08:00:00.000Z")])
    [after] = collect(securityhub.observe, target, "IAM.1")
    assert before.identity != after.identity
    assert (before.compliance_check, after.compliance_check) == ("FAILED", "PASSED")


def test_filters_sent_to_security_hub():
    client, stubber = stubbed(offline_client("securityhub"))
    expected = {
        "Filters": {
            "ComplianceSecurityControlId": [{"Value": "S3.1", "Comparison": "EQUALS"}],
            "RecordState": [{"Value": "ACTIVE", "Comparison": "EQUALS"}],
            "AwsAccountId": [{"Value": ACCOUNT, "Comparison": "EQUALS"}],
            "Region": [{"Value": REGION, "Comparison": "EQUALS"}],
        },
        "MaxResults": 100,
    }
    stubber.add_response("get_findings", {"Findings": [finding(1, control="S3.1")]}, expected)
    observations = collect(securityhub.observe, stub_target({"securityhub": client}), "S3.1")
    stubber.assert_no_pending_responses()
    assert len(observations) == 1


def test_security_hub_not_enabled_is_source_unavailable():
    client, stubber = stubbed(offline_client("securityhub"))
    stubber.add_client_error(
        "get_findings", service_error_code="InvalidAccessException", http_status_code=401,
        service_message=f"Account {ACCOUNT} is not subscribed to AWS Security Hub")
    with pytest.raises(SourceUnavailable) as caught:
        collect(securityhub.observe, stub_target({"securityhub": client}), "IAM.1")
    assert caught.value.code == "SecurityHubNotEnabled"
    assert ACCOUNT in caught.value.message and REGION in caught.value.message


def test_access_denied_propagates_unchanged():
    client, stubber = stubbed(offline_client("securityhub"))
    stubber.add_client_error("get_findings", service_error_code="AccessDeniedException",
                             http_status_code=403, service_message="not authorized")
    with pytest.raises(ClientError) as caught:
        collect(securityhub.observe, stub_target({"securityhub": client}), "IAM.1")
    assert caught.value.response["Error"]["Code"] == "AccessDeniedException"
