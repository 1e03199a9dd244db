"""Settings, account status, the delegated administrator, tags, keywords, services in scope."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from support import walk


def test_settings_round_trip_every_attribute(admin, server):
    owner = server.identity("process-owner")
    settings = admin.update_settings(
        snsTopic="arn:aws:sns:us-east-1:111122223333:audit",
        defaultAssessmentReportsDestination={"destinationType": "S3", "destination": "s3://reports/prefix"},
        defaultProcessOwners=[{"roleType": "PROCESS_OWNER", "roleArn": owner.arn}],
        kmsKey="arn:aws:kms:us-east-1:111122223333:key/abc",
        evidenceFinderEnabled=True,
        deregistrationPolicy={"deleteResources": "DEFAULT"},
        defaultExportDestination={"destinationType": "S3", "destination": "s3://exports/x"},
    )["settings"]
    assert settings["evidenceFinderEnablement"]["enablementStatus"] in ("ENABLE_IN_PROGRESS",
                                                                        "ENABLED")
    server.services.finder.wait()
    full = admin.get_settings(attribute="ALL")["settings"]
    assert {**full, "evidenceFinderEnablement": None} == {**settings, "evidenceFinderEnablement": None}
    assert full["snsTopic"] == "arn:aws:sns:us-east-1:111122223333:audit"
    assert full["defaultProcessOwners"] == [{"roleType": "PROCESS_OWNER", "roleArn": owner.arn}]
    assert full["evidenceFinderEnablement"]["enablementStatus"] == "ENABLED"
    assert admin.get_settings(attribute="DEFAULT_EXPORT_DESTINATION")["settings"] == {
        "defaultExportDestination": {"destinationType": "S3", "destination": "s3://exports/x"}}
    assert admin.get_settings(attribute="IS_AWS_ORG_ENABLED")["settings"] == {"isAwsOrgEnabled": False}
    admin.update_settings(snsTopic="NONE")
    assert "snsTopic" not in admin.get_settings(attribute="ALL")["settings"]


def test_default_process_owner_must_be_a_principal_of_the_instance(admin):
    before = admin.get_settings(attribute="ALL")["settings"]
    with pytest.raises(ClientError) as caught:
        admin.update_settings(defaultProcessOwners=[
            {"roleType": "PROCESS_OWNER", "roleArn": "arn:aws:iam::111122223333:role/nobody"}],
            kmsKey="DEFAULT")
    assert caught.value.response["fields"][0]["name"] == "defaultProcessOwners[0].roleArn"
    assert admin.get_settings(attribute="ALL")["settings"] == before


def test_account_registration_cycle(admin, server):
    assert admin.get_account_status()["status"] == "ACTIVE"
    assert admin.deregister_account()["status"] == "INACTIVE"
    assert admin.get_account_status()["status"] == "INACTIVE"
    with pytest.raises(ClientError) as caught:
        admin.list_controls(controlType="Custom")
    assert caught.value.response["Error"]["Code"] == "AccessDeniedException"
    assert admin.register_account(kmsKey="DEFAULT")["status"] == "ACTIVE"
    admin.list_controls(controlType="Custom")


def test_deregister_with_delete_all_removes_custom_content(admin, server):
    """ALL deletes "all of the Audit Manager resources that you created, including assessments,
    custom controls, and custom frameworks" (API reference, DeregistrationPolicy)."""
    control = admin.create_control(name="doomed", controlMappingSources=[
        {"sourceName": "m", "sourceType": "MANUAL"}])["control"]
    framework = admin.create_assessment_framework(name="doomed fw", controlSets=[
        {"name": "s", "controls": [{"id": control["id"]}]}])["framework"]
    assessment = admin.create_assessment(
        name="doomed audit", frameworkId=framework["id"],
        scope={"awsAccounts": [{"id": "111122223333"}]},
        roles=[{"roleType": "PROCESS_OWNER", "roleArn": server.admin.arn}],
        assessmentReportsDestination={})["assessment"]
    admin.update_settings(deregistrationPolicy={"deleteResources": "ALL"})
    admin.deregister_account()
    admin.register_account()
    assert admin.list_controls(controlType="Custom")["controlMetadataList"] == []
    assert admin.list_assessment_frameworks(frameworkType="Custom")["frameworkMetadataList"] == []
    assert admin.list_assessments()["assessmentMetadata"] == []
    with pytest.raises(ClientError) as caught:
        admin.get_assessment(assessmentId=assessment["metadata"]["id"])
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    admin.update_settings(deregistrationPolicy={"deleteResources": "DEFAULT"})


def test_tags_on_custom_resources(admin):
    control = admin.create_control(name="tagged", controlMappingSources=[
        {"sourceName": "m", "sourceType": "MANUAL"}], tags={"a": "1"})["control"]
    admin.tag_resource(resourceArn=control["arn"], tags={"b": "2", "a": "3"})
    assert admin.list_tags_for_resource(resourceArn=control["arn"])["tags"] == {"a": "3", "b": "2"}
    admin.untag_resource(resourceArn=control["arn"], tagKeys=["a"])
    assert admin.list_tags_for_resource(resourceArn=control["arn"])["tags"] == {"b": "2"}
    assert admin.get_control(controlId=control["id"])["control"]["tags"] == {"b": "2"}
    # The ARN as another region writes it names the same resource.
    other = control["arn"].replace("us-east-1", "eu-west-1")
    assert admin.list_tags_for_resource(resourceArn=other)["tags"] == {"b": "2"}
    with pytest.raises(ClientError) as caught:
        admin.tag_resource(resourceArn=control["arn"], tags={f"k{i}": "v" for i in range(50)})
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert admin.list_tags_for_resource(resourceArn=control["arn"])["tags"] == {"b": "2"}


def test_tags_errors(admin, server):
    missing = f"arn:aws:auditmanager:us-east-1:{server.services.account_id}:control/00000000-0000-4000-8000-000000000000"
    with pytest.raises(ClientError) as caught:
        admin.list_tags_for_resource(resourceArn=missing)
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as caught:
        admin.tag_resource(resourceArn="arn:aws:auditmanager:us-east-1:111122223333:widget/x", tags={"a": "b"})
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    standard = admin.list_controls(controlType="Standard", maxResults=1)["controlMetadataList"]
    if standard:
        with pytest.raises(ClientError) as caught:
            admin.tag_resource(resourceArn=standard[0]["arn"], tags={"a": "b"})
        assert caught.value.response["Error"]["Code"] == "ValidationException"


@pytest.mark.parametrize("source, example", [
    ("AWS_API_Call", "iam_ListUsers"), ("AWS_Cloudtrail", "signin_ConsoleLogin"),
    ("AWS_Config", "IAM_PASSWORD_POLICY"), ("AWS_Security_Hub", "IAM.1"),
])
def test_keywords_are_listed_and_paged(admin, source, example):
    from assay.library import keywords

    first = admin.list_keywords_for_data_source(source=source, maxResults=1000)
    assert len(first["keywords"]) == min(1000, len(keywords.keywords(source)))
    if source in ("AWS_Config", "AWS_Security_Hub"):
        everything = walk(admin.list_keywords_for_data_source, "keywords", 1000, source=source)
        assert example in everything and len(everything) == len(set(everything))
    assert admin.list_keywords_for_data_source(source="MANUAL")["keywords"] == []


def test_services_in_scope(admin):
    services = admin.get_services_in_scope()["serviceMetadata"]
    names = {s["name"] for s in services}
    assert {"iam", "s3", "ec2", "cloudtrail", "config", "securityhub"} <= names
    assert all(s["displayName"] and s["category"] and s["description"] for s in services)
