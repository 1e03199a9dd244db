"""How evidence resources read to people (reports, console): never raw JSON."""

from __future__ import annotations

import json

from assay.model.evidence import describe_resource


def test_config_evaluation_value_reads_as_type_and_id():
    value = json.dumps({"complianceResourceId": "demo-logs", "complianceResourceType":
                        "AWS::S3::Bucket", "complianceType": "NON_COMPLIANT"})
    assert describe_resource({"arn": "arn:aws:s3:::demo-logs", "value": value}) == \
        "AWS::S3::Bucket demo-logs"


def test_older_and_security_hub_shapes():
    assert describe_resource({"value": '{"resourceId": "123456789012", "resourceType": '
                                       '"AWS::::Account"}'}) == "AWS::::Account 123456789012"
    assert describe_resource({"value": {"Type": "AwsIamUser", "Id": "arn:aws:iam::1:user/a"}}) == \
        "AwsIamUser arn:aws:iam::1:user/a"


def test_arn_then_text_when_the_value_names_nothing():
    assert describe_resource({"arn": "arn:aws:iam::1:user/a", "value": '{"x": 1}'}) == \
        "arn:aws:iam::1:user/a"
    assert describe_resource({"value": "MFA is enforced"}) == "MFA is enforced"
    assert describe_resource({"value": "{not json"}) == "{not json"
    assert describe_resource({}) == ""
