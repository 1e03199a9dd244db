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


def test_evidence_attributes_as_stored_or_derived_from_a_cloudtrail_payload():
    from assay.model.evidence import cloudtrail_attributes, evidence_attributes

    event = {"eventTime": "2026-01-10T13:00:00Z", "sourceIPAddress": "203.0.113.10",
             "readOnly": False, "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::1:user/a"},
             "errorMessage": "x" * 300}
    derived = cloudtrail_attributes(event)
    assert derived["readOnly"] == "false" and derived["userIdentity.type"] == "IAMUser"
    assert len(derived["errorMessage"]) == 200 and derived["errorMessage"].endswith("\u2026")
    assert "userAgent" not in derived
    # CloudTrail records stored once (no attributes): derived from the payload.
    assert evidence_attributes({"sourceType": "AWS_Cloudtrail", "payload": event}) == derived
    # Records filed with attributes (older CloudTrail records, every other source) keep theirs.
    stored = {"sourceIPAddress": "198.51.100.1"}
    assert evidence_attributes({"sourceType": "AWS_Cloudtrail", "payload": event,
                                "attributes": stored}) == stored
    assert evidence_attributes({"sourceType": "AWS_Config", "payload": event}) == {}
    assert evidence_attributes({"sourceType": "AWS_Cloudtrail", "payload": "not an event"}) == {}
