"""AWS_API_Call collector: moto (IAM, EC2, S3, CloudTrail) and Stubber (manual paging, errors)."""

from __future__ import annotations

import json

import orjson
import pytest
from botocore.exceptions import ClientError

from assay.collect import COLLECTORS, api_call
from assay.model.evidence import CONFIGURATION_DATA, SourceUnavailable
from collect_fixtures.aws import (  # noqa: F401  (fixtures)
    ACCOUNT,
    NOW,
    REGION,
    collect,
    moto,
    moto_endpoint,
    moto_target,
    offline_client,
    stub_target,
    stubbed,
)

TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


def count_calls(client, operation: str) -> list[int]:
    calls: list[int] = []
    client.meta.events.register(f"before-call.*.{operation}", lambda **_: calls.append(1))
    return calls


def test_registry_maps_every_automated_source_type():
    assert COLLECTORS["AWS_API_Call"] is api_call.observe
    assert set(COLLECTORS) == {"AWS_API_Call", "AWS_Config", "AWS_Security_Hub", "AWS_Cloudtrail"}


def test_iam_list_users_one_observation_per_user(moto):
    target = moto_target(moto)
    iam = target.client("iam")
    for name in ("alice", "bob", "carol"):
        iam.create_user(UserName=name, Tags=[{"Key": "team", "Value": "audit"}])

    observations = collect(api_call.observe, target, "iam_ListUsers")

    assert len(observations) == 3
    by_name = {o.payload["UserName"]: o for o in observations}
    assert set(by_name) == {"alice", "bob", "carol"}
    alice = by_name["alice"]
    arn = f"arn:aws:iam::{ACCOUNT}:user/alice"
    assert alice.identity == f"iam_ListUsers:{arn}"
    assert alice.source_type == "AWS_API_Call" and alice.keyword == "iam_ListUsers"
    assert (alice.account_id, alice.region) == (ACCOUNT, REGION)
    assert alice.evidence_by_type == CONFIGURATION_DATA
    assert alice.event_source == "iam.amazonaws.com" and alice.event_name == "ListUsers"
    assert alice.time == NOW and alice.compliance_check == "NOT_APPLICABLE"
    assert alice.resources[0]["arn"] == arn
    assert json.loads(alice.resources[0]["value"])["UserName"] == "alice"
    assert alice.attributes["UserName"] == "alice" and alice.attributes["Arn"] == arn
    # The payload is JSON as stored: datetimes became ISO strings.
    assert isinstance(alice.payload["CreateDate"], str) and alice.payload["CreateDate"].endswith("Z")
    orjson.dumps(alice.payload)
    assert len({o.identity for o in observations}) == 3


def test_iam_list_roles_reads_every_page(moto):
    target = moto_target(moto)
    iam = target.client("iam")
    for i in range(5):
        iam.create_role(RoleName=f"role-{i}", AssumeRolePolicyDocument=TRUST)
    calls = count_calls(iam, "ListRoles")

    observations = collect(api_call.observe, target, "iam_ListRoles", page_size=2)

    assert len(calls) == 3  # 2 + 2 + 1
    assert sorted(o.payload["RoleName"] for o in observations) == [f"role-{i}" for i in range(5)]
    assert all(o.resources[0]["arn"].startswith(f"arn:aws:iam::{ACCOUNT}:role/") for o in observations)


def test_ec2_security_groups_one_observation_per_group(moto):
    target = moto_target(moto)
    ec2 = target.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    created = {ec2.create_security_group(GroupName=f"web-{i}", Description="web", VpcId=vpc)["GroupId"]
               for i in range(3)}
    every = {g["GroupId"] for g in ec2.describe_security_groups()["SecurityGroups"]}

    observations = collect(api_call.observe, target, "ec2_DescribeSecurityGroups", page_size=5)

    assert {o.payload["GroupId"] for o in observations} == every
    assert created <= every and len(observations) == len(every)
    web = next(o for o in observations if o.payload["GroupName"] == "web-0")
    assert web.event_source == "ec2.amazonaws.com"
    assert web.identity in (f"ec2_DescribeSecurityGroups:{web.payload.get('SecurityGroupArn')}",
                            f"ec2_DescribeSecurityGroups:{web.payload['GroupId']}")
    assert web.attributes["GroupName"] == "web-0"


def test_ec2_instances_one_observation_per_instance_not_per_reservation(moto):
    target = moto_target(moto)
    ec2 = target.client("ec2")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    launched = {i["InstanceId"] for i in ec2.run_instances(
        ImageId=image, MinCount=2, MaxCount=2, InstanceType="t3.micro")["Instances"]}
    launched |= {i["InstanceId"] for i in ec2.run_instances(
        ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro")["Instances"]}

    observations = collect(api_call.observe, target, "ec2_DescribeInstances")

    assert {o.payload["InstanceId"] for o in observations} == launched
    assert {o.identity for o in observations} == {f"ec2_DescribeInstances:{i}" for i in launched}


def test_s3_list_buckets_one_observation_per_bucket(moto):
    target = moto_target(moto)
    s3 = target.client("s3")
    for name in ("assay-logs", "assay-data"):
        s3.create_bucket(Bucket=name)

    observations = collect(api_call.observe, target, "s3_ListBuckets")

    assert sorted(o.payload["Name"] for o in observations) == ["assay-data", "assay-logs"]
    assert {o.event_source for o in observations} == {"s3.amazonaws.com"}
    assert {o.identity for o in observations} == {"s3_ListBuckets:assay-data", "s3_ListBuckets:assay-logs"}


def test_cloudtrail_describe_trails_keys_on_trail_arn(moto):
    target = moto_target(moto)
    target.client("s3").create_bucket(Bucket="trail-bucket")
    trail = target.client("cloudtrail").create_trail(Name="org-trail", S3BucketName="trail-bucket")

    [observation] = collect(api_call.observe, target, "cloudtrail_DescribeTrails")

    assert observation.identity == f"cloudtrail_DescribeTrails:{trail['TrailARN']}"
    assert observation.resources[0]["arn"] == trail["TrailARN"]
    assert observation.attributes["S3BucketName"] == "trail-bucket"


def test_response_without_list_is_one_observation(moto):
    target = moto_target(moto)
    target.client("iam").update_account_password_policy(MinimumPasswordLength=14, RequireSymbols=True)

    [observation] = collect(api_call.observe, target, "iam_GetAccountPasswordPolicy")

    assert observation.identity == f"iam_GetAccountPasswordPolicy:{ACCOUNT}:{REGION}"
    assert observation.payload["PasswordPolicy"]["MinimumPasswordLength"] == 14
    assert observation.attributes["PasswordPolicy.MinimumPasswordLength"] == "14"
    assert observation.attributes["PasswordPolicy.RequireSymbols"] == "true"
    assert "ResponseMetadata" not in observation.payload
    assert "arn" not in observation.resources[0]


def test_list_of_names_is_one_observation_per_name(moto):
    target = moto_target(moto)
    target.client("iam").create_account_alias(AccountAlias="assay-prod")

    [observation] = collect(api_call.observe, target, "iam_ListAccountAliases")

    assert observation.identity == "iam_ListAccountAliases:assay-prod"
    assert observation.payload == {"AccountAliases": "assay-prod"}
    assert observation.resources[0]["value"] == "assay-prod"


def test_nothing_there_is_source_unavailable(moto):
    target = moto_target(moto)
    with pytest.raises(SourceUnavailable) as caught:
        collect(api_call.observe, target, "iam_GetAccountPasswordPolicy")
    assert caught.value.code == "NoSuchEntity"
    assert ACCOUNT in caught.value.message


def test_manual_paging_follows_next_token():
    client, stubber = stubbed(offline_client("cloudtrail"))
    assert not client.can_paginate("list_event_data_stores")
    store = "arn:aws:cloudtrail:us-east-1:123456789012:eventdatastore/{}"
    stubber.add_response("list_event_data_stores",
                         {"EventDataStores": [{"EventDataStoreArn": store.format("a"), "Name": "store-a"}],
                          "NextToken": "page-2"}, {})
    stubber.add_response("list_event_data_stores",
                         {"EventDataStores": [{"EventDataStoreArn": store.format("b"), "Name": "store-b"}]},
                         {"NextToken": "page-2"})

    observations = collect(api_call.observe, stub_target({"cloudtrail": client}),
                           "cloudtrail_ListEventDataStores")

    stubber.assert_no_pending_responses()
    assert [o.payload["Name"] for o in observations] == ["store-a", "store-b"]
    assert observations[0].identity == f"cloudtrail_ListEventDataStores:{store.format('a')}"


def test_access_denied_propagates_unchanged():
    client, stubber = stubbed(offline_client("iam"))
    stubber.add_client_error("list_users", service_error_code="AccessDenied",
                             service_message="not authorized to perform: iam:ListUsers",
                             http_status_code=403)
    with pytest.raises(ClientError) as caught:
        collect(api_call.observe, stub_target({"iam": client}), "iam_ListUsers")
    assert caught.value.response["Error"]["Code"] == "AccessDenied"


def test_unknown_keyword_is_source_unavailable():
    target = stub_target({})
    with pytest.raises(SourceUnavailable) as caught:
        collect(api_call.observe, target, "iam_ListUnicorns")
    assert caught.value.code == "UnknownOperation"


def test_operation_that_needs_parameters_is_refused():
    target = stub_target({"iam": offline_client("iam")})
    with pytest.raises(SourceUnavailable) as caught:
        collect(api_call.observe, target, "iam_GetRole")
    assert caught.value.code == "OperationNeedsParameters" and "RoleName" in caught.value.message


def test_only_read_operations_are_called(monkeypatch):
    monkeypatch.setattr(api_call, "api_call_target", lambda keyword: ("iam", "CreateUser"))
    with pytest.raises(SourceUnavailable) as caught:
        collect(api_call.observe, stub_target({}), "iam_CreateUser")
    assert caught.value.code == "OperationNotReadOnly"
    monkeypatch.setattr(api_call, "api_call_target", lambda keyword: ("sts", "GetSessionToken"))
    with pytest.raises(SourceUnavailable) as caught:
        collect(api_call.observe, stub_target({}), "sts_GetSessionToken")
    assert caught.value.code == "OperationNotAllowed"


@pytest.mark.parametrize("item, shape, expected", [
    ({"TrailARN": "arn:aws:cloudtrail:us-east-1:1:trail/t", "KmsKeyId": "k", "Name": "t",
      "SnsTopicARN": "arn:aws:sns:us-east-1:1:topic"}, "Trail", "arn:aws:cloudtrail:us-east-1:1:trail/t"),
    ({"OwnerId": "1", "VpcId": "vpc-1", "GroupId": "sg-1", "GroupName": "web"}, "SecurityGroup", "sg-1"),
    ({"Name": "bucket", "CreationDate": "x"}, "Bucket", "bucket"),
    ({"UserName": "u", "AccessKeyId": "AKIA1", "Status": "Active"}, "AccessKeyMetadata", "AKIA1"),
    ({"Foo": "bar", "OwnerId": "1"}, "Thing", None),
])
def test_resource_key_prefers_the_items_own_identifier(item, shape, expected):
    assert api_call.resource_key(item, shape)[0] == expected


def test_resource_key_prefers_the_most_specific_field():
    rule = {"GroupId": "sg-1", "SecurityGroupRuleId": "sgr-1", "CidrIpv4": "0.0.0.0/0"}
    assert api_call.resource_key(rule, "SecurityGroupRule") == ("sgr-1", None)
    baseline = {"BaselineId": "pb-1", "BaselineName": "default", "OperatingSystem": "WINDOWS"}
    assert api_call.resource_key(baseline, "PatchBaselineIdentity") == ("pb-1", None)
    info = {"InstanceId": "i-1", "PingStatus": "Online"}
    assert api_call.resource_key(info, "InstanceInformation") == ("i-1", None)


def test_credential_report_content_is_kept_as_text(moto):
    target = moto_target(moto)
    iam = target.client("iam")
    iam.create_user(UserName="alice")
    iam.generate_credential_report()

    [observation] = collect(api_call.observe, target, "iam_GetCredentialReport")

    assert observation.payload["Content"].startswith("user,arn,user_creation_time")
    assert "alice" in observation.payload["Content"]
    assert observation.payload["ReportFormat"] == "text/csv"


def test_credential_report_not_generated_is_source_unavailable():
    client, stubber = stubbed(offline_client("iam"))
    stubber.add_client_error("get_credential_report", service_error_code="ReportNotPresent",
                             service_message="Credential report not present", http_status_code=410)
    with pytest.raises(SourceUnavailable) as caught:
        collect(api_call.observe, stub_target({"iam": client}), "iam_GetCredentialReport")
    assert caught.value.code == "ReportNotPresent"
