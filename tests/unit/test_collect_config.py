"""AWS_Config collector: rules live in moto (PutConfigRule/DescribeConfigRules); moto does not
implement GetComplianceDetailsByConfigRule, so a Stubber answers that one call with responses
the service model validates."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile

import pytest
from botocore.exceptions import ClientError

from assay.collect import config
from assay.model.evidence import COMPLIANCE_CHECK, SourceUnavailable
from collect_fixtures.aws import (  # noqa: F401  (fixtures)
    ACCOUNT,
    REGION,
    SplitClient,
    aws_client,
    collect,
    moto,
    moto_endpoint,
    moto_target,
    offline_client,
    stub_target,
    stubbed,
)

DETAILS = "get_compliance_details_by_config_rule"
T0 = dt.datetime(2026, 1, 1, 6, 0, tzinfo=dt.timezone.utc)


def managed_rule(client, name: str, identifier: str) -> None:
    client.put_config_rule(ConfigRule={"ConfigRuleName": name,
                                       "Source": {"Owner": "AWS", "SourceIdentifier": identifier}})


def evaluation(rule: str, resource_type: str, resource_id: str, compliance: str,
               minutes: int = 0, annotation: str | None = None) -> dict:
    recorded = T0 + dt.timedelta(minutes=minutes)
    result = {
        "EvaluationResultIdentifier": {
            "EvaluationResultQualifier": {"ConfigRuleName": rule, "ResourceType": resource_type,
                                          "ResourceId": resource_id, "EvaluationMode": "DETECTIVE"},
            "OrderingTimestamp": recorded,
        },
        "ComplianceType": compliance,
        "ResultRecordedTime": recorded,
        "ConfigRuleInvokedTime": recorded - dt.timedelta(seconds=30),
    }
    if annotation:
        result["Annotation"] = annotation
    return result


def split_target(endpoint: str):
    """Config rules from moto, compliance details from a Stubber."""
    stub_client, stubber = stubbed(offline_client("config"))
    client = SplitClient(aws_client(endpoint, "config"), stub_client, {DETAILS})
    return moto_target(endpoint, overrides={"config": client}), client, stubber


def test_managed_rule_evaluations_one_observation_each(moto):
    target, client, stubber = split_target(moto)
    managed_rule(client, "s3-bucket-versioning-enabled", "S3_BUCKET_VERSIONING_ENABLED")
    # Conformance packs and Security Hub deploy the same managed rule under suffixed names.
    managed_rule(client, "s3-bucket-versioning-enabled-conformance-pack-x1y2z3",
                 "S3_BUCKET_VERSIONING_ENABLED")
    # More rules than one DescribeConfigRules page (moto pages by 25), none of them matching.
    for i in range(26):
        managed_rule(client, f"filler-{i:02d}", "S3_BUCKET_PUBLIC_READ_PROHIBITED")

    rule, pack_rule = "s3-bucket-versioning-enabled", "s3-bucket-versioning-enabled-conformance-pack-x1y2z3"
    types = ["COMPLIANT", "NON_COMPLIANT"]
    stubber.add_response(DETAILS, {
        "EvaluationResults": [evaluation(rule, "AWS::S3::Bucket", "logs-bucket", "COMPLIANT")],
        "NextToken": "next"}, {"ConfigRuleName": rule, "ComplianceTypes": types})
    stubber.add_response(DETAILS, {
        "EvaluationResults": [evaluation(rule, "AWS::S3::Bucket", "data-bucket", "NON_COMPLIANT", 5,
                                         annotation="Versioning is suspended")]},
        {"ConfigRuleName": rule, "ComplianceTypes": types, "NextToken": "next"})
    stubber.add_response(DETAILS, {
        "EvaluationResults": [evaluation(pack_rule, "AWS::S3::Bucket", "logs-bucket", "COMPLIANT", 1)]},
        {"ConfigRuleName": pack_rule, "ComplianceTypes": types})

    observations = collect(config.observe, target, "S3_BUCKET_VERSIONING_ENABLED")

    stubber.assert_no_pending_responses()
    assert len(observations) == 3
    assert [o.compliance_check for o in observations] == ["COMPLIANT", "NON_COMPLIANT", "COMPLIANT"]
    data = observations[1]
    assert data.source_type == "AWS_Config" and data.keyword == "S3_BUCKET_VERSIONING_ENABLED"
    assert data.evidence_by_type == COMPLIANCE_CHECK
    assert (data.account_id, data.region) == (ACCOUNT, REGION)
    assert data.event_source == "config.amazonaws.com" and data.event_name == rule
    recorded = T0 + dt.timedelta(minutes=5)
    assert data.time == recorded.timestamp()
    assert data.identity == f"{rule}|AWS::S3::Bucket|data-bucket|2026-01-01T06:05:00Z"
    # The value carries the evaluation as AWS Config's Evaluation names its members
    # (https://docs.aws.amazon.com/config/latest/APIReference/API_Evaluation.html).
    assert data.resources[0]["arn"] == "arn:aws:s3:::data-bucket"
    assert data.resources[0]["complianceCheck"] == "NON_COMPLIANT"
    assert json.loads(data.resources[0]["value"]) == {
        "complianceResourceType": "AWS::S3::Bucket", "complianceResourceId": "data-bucket",
        "complianceType": "NON_COMPLIANT", "annotation": "Versioning is suspended",
        "orderingTimestamp": "2026-01-01T06:05:00Z", "configRuleName": rule}
    assert data.attributes["annotation"] == "Versioning is suspended"
    assert data.attributes["resourceType"] == "AWS::S3::Bucket"
    assert data.attributes["configRuleArn"].startswith(f"arn:aws:config:{REGION}:{ACCOUNT}:config-rule/")
    assert data.payload["evaluationResult"]["ResultRecordedTime"] == "2026-01-01T06:05:00Z"
    assert data.payload["configRule"]["Source"]["SourceIdentifier"] == "S3_BUCKET_VERSIONING_ENABLED"
    assert observations[2].attributes["configRuleName"] == pack_rule
    assert len({o.identity for o in observations}) == 3


def test_custom_rule_by_name_and_not_applicable_on_request(moto):
    target, client, stubber = split_target(moto)
    iam = target.client("iam")
    role = iam.create_role(RoleName="config-lambda", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"Service": "lambda.amazonaws.com"}}]}))
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("rule.py", "def handler(event, context):\n    return None\n")
    function = target.client("lambda").create_function(
        FunctionName="required-tags", Runtime="python3.12", Role=role["Role"]["Arn"],
        Handler="rule.handler", Code={"ZipFile": code.getvalue()})["FunctionArn"]
    client.put_config_rule(ConfigRule={"ConfigRuleName": "required-tags", "Source": {
        "Owner": "CUSTOM_LAMBDA", "SourceIdentifier": function,
        "SourceDetails": [{"EventSource": "aws.config",
                           "MessageType": "ConfigurationItemChangeNotification"}]}})
    managed_rule(client, "required-tags-v2", "S3_BUCKET_PUBLIC_READ_PROHIBITED")  # a prefix, not it
    types = ["COMPLIANT", "NON_COMPLIANT", "NOT_APPLICABLE"]
    stubber.add_response(DETAILS, {"EvaluationResults": [
        evaluation("required-tags", "AWS::EC2::Instance", "i-0abc", "NON_COMPLIANT"),
        evaluation("required-tags", "AWS::IAM::User", "AIDAEXAMPLE", "NOT_APPLICABLE"),
    ]}, {"ConfigRuleName": "required-tags", "ComplianceTypes": types})

    observations = collect(config.observe, target, "Custom_required-tags", compliance_types=types)

    stubber.assert_no_pending_responses()
    instance, user = observations
    assert instance.resources[0]["arn"] == f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/i-0abc"
    assert instance.compliance_check == "NON_COMPLIANT"
    # NOT_APPLICABLE is inconclusive; an IAM resource id (AIDA...) gives no ARN.
    assert user.compliance_check == "NOT_APPLICABLE" and "arn" not in user.resources[0]
    assert user.resources[0]["complianceCheck"] == "NOT_APPLICABLE"


def test_rules_listed_once_can_be_reused(moto):
    target, client, stubber = split_target(moto)
    managed_rule(client, "iam-password-policy", "IAM_PASSWORD_POLICY")
    rules = config.list_rules(target)
    assert [r["ConfigRuleName"] for r in config.matching_rules("IAM_PASSWORD_POLICY", rules)] == [
        "iam-password-policy"]
    stubber.add_response(DETAILS, {"EvaluationResults": [
        evaluation("iam-password-policy", "AWS::::Account", ACCOUNT, "COMPLIANT")]})
    [observation] = collect(config.observe, target, "IAM_PASSWORD_POLICY", rules=rules)
    assert observation.identity.startswith(f"iam-password-policy|AWS::::Account|{ACCOUNT}|")


def test_rule_not_deployed_is_source_unavailable(moto):
    target, client, _ = split_target(moto)
    managed_rule(client, "something-else", "S3_BUCKET_PUBLIC_READ_PROHIBITED")
    with pytest.raises(SourceUnavailable) as caught:
        collect(config.observe, target, "IAM_PASSWORD_POLICY")
    assert caught.value.code == "ConfigRuleNotFound"
    assert caught.value.message == (f"no AWS Config rule uses IAM_PASSWORD_POLICY in account "
                                    f"{ACCOUNT} region {REGION}")
    with pytest.raises(SourceUnavailable):
        collect(config.observe, target, "Custom_missing-rule")


def test_rules_being_deleted_are_skipped():
    rules = [{"ConfigRuleName": "a", "ConfigRuleState": "DELETING",
              "Source": {"Owner": "AWS", "SourceIdentifier": "IAM_PASSWORD_POLICY"}},
             {"ConfigRuleName": "b", "ConfigRuleState": "ACTIVE",
              "Source": {"Owner": "CUSTOM_LAMBDA", "SourceIdentifier": "IAM_PASSWORD_POLICY"}}]
    assert config.matching_rules("IAM_PASSWORD_POLICY", rules) == []


def test_access_denied_propagates_unchanged():
    client, stubber = stubbed(offline_client("config"))
    stubber.add_client_error("describe_config_rules", service_error_code="AccessDeniedException",
                             service_message="not authorized", http_status_code=400)
    with pytest.raises(ClientError) as caught:
        collect(config.observe, stub_target({"config": client}), "IAM_PASSWORD_POLICY")
    assert caught.value.response["Error"]["Code"] == "AccessDeniedException"


def test_evaluation_access_denied_propagates_unchanged(moto):
    target, client, stubber = split_target(moto)
    managed_rule(client, "iam-password-policy", "IAM_PASSWORD_POLICY")
    stubber.add_client_error(DETAILS, service_error_code="AccessDeniedException",
                             service_message="not authorized", http_status_code=400)
    with pytest.raises(ClientError):
        collect(config.observe, target, "IAM_PASSWORD_POLICY")


@pytest.mark.parametrize("resource_type, resource_id, expected", [
    ("AWS::S3::Bucket", "b", "arn:aws:s3:::b"),
    ("AWS::EC2::SecurityGroup", "sg-1", f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/sg-1"),
    ("AWS::Lambda::Function", "fn", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:fn"),
    ("AWS::SNS::Topic", f"arn:aws:sns:{REGION}:{ACCOUNT}:t", f"arn:aws:sns:{REGION}:{ACCOUNT}:t"),
    ("AWS::IAM::Role", "AROAEXAMPLE", None),
    ("AWS::::Account", ACCOUNT, None),
])
def test_resource_arn(resource_type, resource_id, expected):
    target = stub_target({})
    assert config.resource_arn(target, resource_type, resource_id) == expected
