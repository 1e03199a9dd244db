"""Resources as readable fields with console links, remediation pages from the library's
keyword data, and the fix shown for each kind of collection failure."""

from __future__ import annotations

from assay.console.exports import _cell
from assay.library.keywords import remediation_url
from assay.model.fixes import fix_for
from assay.model.resources import console_url, parse_arn
from assay.service.posture import resource_details


def test_arns_split_into_fields():
    assert parse_arn("arn:aws:ec2:eu-west-1:111122223333:instance/i-0abc") == {
        "partition": "aws", "service": "ec2", "region": "eu-west-1",
        "account": "111122223333", "type": "instance", "id": "i-0abc"}
    assert parse_arn("arn:aws:s3:::audit-logs")["type"] == "bucket"
    assert parse_arn("111122223333") is None and parse_arn(None) is None


def test_console_links_where_the_console_has_a_page():
    assert console_url("arn:aws:s3:::audit-logs") == \
        "https://s3.console.aws.amazon.com/s3/buckets/audit-logs"
    assert console_url("arn:aws:iam::111122223333:user/ops/alice") == \
        "https://console.aws.amazon.com/iam/home#/users/details/alice"
    assert console_url("arn:aws:ec2:eu-west-1:111122223333:security-group/sg-1") == \
        "https://console.aws.amazon.com/ec2/home?region=eu-west-1#SecurityGroup:groupId=sg-1"
    assert console_url("arn:aws-us-gov:lambda:us-gov-west-1:1:function:fn:7").startswith(
        "https://console.amazonaws-us-gov.com/lambda/home?region=us-gov-west-1#/functions/fn")
    assert console_url("arn:aws:iam::111122223333:root") is None
    assert console_url("arn:aws:s3:::bucket/key.txt") is None
    details = resource_details("arn:aws:s3:::audit-logs", "us-east-1")
    assert details["fields"]["Name"] == "audit-logs" and details["consoleUrl"]


def test_remediation_pages_come_from_the_keyword_data():
    assert remediation_url("AWS_Security_Hub", "IAM.1") == (
        "https://docs.aws.amazon.com/securityhub/latest/userguide/iam-controls.html#iam-1")
    assert remediation_url("AWS_Config", "IAM_PASSWORD_POLICY") == (
        "https://docs.aws.amazon.com/config/latest/developerguide/iam-password-policy.html")
    assert remediation_url("AWS_Config", "Custom_my-rule") is None
    assert remediation_url("AWS_Security_Hub", "NOT.A.CONTROL") is None
    assert remediation_url("AWS_API_Call", "iam_ListUsers") is None


def test_every_failure_has_a_fix():
    assert "AWS Config rule 'IAM_PASSWORD_POLICY'" in fix_for(
        "ConfigRuleNotFound", "IAM_PASSWORD_POLICY", "111122223333", "eu-west-1")
    assert "assay-member-role.yaml" in fix_for("AccessDeniedException", account="1")
    assert "credentials" in fix_for("ExpiredTokenException")
    assert "throttled" in fix_for("ThrottlingException")
    assert "run the collection again" in fix_for("SomethingNew")


def test_exported_cells_never_run_as_formulas():
    assert _cell("=HYPERLINK(\"http://evil\")") == "'=HYPERLINK(\"http://evil\")"
    assert _cell("-1+1") == "'-1+1"
    assert _cell(["a", "b"]) == "a, b" and _cell(None) == "" and _cell(3) == 3
