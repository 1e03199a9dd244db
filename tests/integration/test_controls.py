"""Controls through boto3: shapes, validation, keyword checks, paging, read-only standard content."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from botocore.exceptions import ClientError
from support import walk

CONFIG_SOURCE = {
    "sourceName": "Root MFA", "sourceSetUpOption": "System_Controls_Mapping",
    "sourceType": "AWS_Config",
    "sourceKeyword": {"keywordInputType": "SELECT_FROM_LIST", "keywordValue": "ROOT_ACCOUNT_MFA_ENABLED"},
}
API_SOURCE = {
    "sourceName": "Users", "sourceType": "AWS_API_Call",
    "sourceKeyword": {"keywordInputType": "SELECT_FROM_LIST", "keywordValue": "iam_ListUsers"},
    "sourceFrequency": "WEEKLY",
}
MANUAL_SOURCE = {"sourceName": "Policy", "sourceSetUpOption": "Procedural_Controls_Mapping",
                 "sourceType": "MANUAL", "sourceDescription": "Upload the access policy."}


def custom_names(client):
    return [c["name"] for c in client.list_controls(controlType="Custom")["controlMetadataList"]]


def validation_fields(call, **kwargs):
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    error = caught.value.response
    assert error["Error"]["Code"] == "ValidationException", error
    return {f["name"]: f["message"] for f in error.get("fields", [])}, error


def test_create_get_update_delete(admin):
    created = admin.create_control(
        name="Root MFA", description="Root has MFA", testingInformation="Check it",
        actionPlanTitle="Enable MFA", actionPlanInstructions="Turn it on",
        controlMappingSources=[CONFIG_SOURCE, API_SOURCE, MANUAL_SOURCE], tags={"team": "sec"},
    )["control"]
    assert created["type"] == "Custom" and created["state"] == "ACTIVE"
    assert created["controlSources"] == "AWS Config, AWS API calls, Manual"
    assert created["tags"] == {"team": "sec"}
    assert all(s["sourceId"] for s in created["controlMappingSources"])
    assert created["controlMappingSources"][1]["sourceFrequency"] == "WEEKLY"
    assert created["createdBy"] == "admin"

    fetched = admin.get_control(controlId=created["id"])["control"]
    assert fetched == created

    sources = fetched["controlMappingSources"][:1] + [MANUAL_SOURCE]
    updated = admin.update_control(controlId=created["id"], name="Root MFA v2",
                                   description="changed", controlMappingSources=sources)["control"]
    assert updated["name"] == "Root MFA v2" and updated["description"] == "changed"
    assert updated["controlMappingSources"][0]["sourceId"] == sources[0]["sourceId"]
    assert updated["lastUpdatedAt"] >= created["lastUpdatedAt"]

    admin.delete_control(controlId=created["id"])
    with pytest.raises(ClientError) as caught:
        admin.get_control(controlId=created["id"])
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert caught.value.response["resourceId"] == created["id"]


def test_bad_keyword_is_rejected_with_suggestions_and_nothing_changes(admin):
    before = custom_names(admin)
    bad = dict(API_SOURCE, sourceKeyword={"keywordInputType": "SELECT_FROM_LIST",
                                          "keywordValue": "iam_ListUser"})
    fields, error = validation_fields(admin.create_control, name="typo",
                                      controlMappingSources=[MANUAL_SOURCE, bad])
    message = fields["controlMappingSources[1].sourceKeyword.keywordValue"]
    assert "iam_ListUsers" in message
    assert custom_names(admin) == before


@pytest.mark.parametrize("source, field", [
    (dict(CONFIG_SOURCE, sourceSetUpOption="Procedural_Controls_Mapping"), "sourceSetUpOption"),
    (dict(MANUAL_SOURCE, sourceSetUpOption="System_Controls_Mapping"), "sourceSetUpOption"),
    ({"sourceName": "x", "sourceType": "AWS_Security_Hub"}, "sourceKeyword.keywordValue"),
    (dict(CONFIG_SOURCE, sourceKeyword={"keywordInputType": "INPUT_TEXT",
                                        "keywordValue": "ROOT_ACCOUNT_MFA_ENABLED"}),
     "sourceKeyword.keywordInputType"),
    (dict(MANUAL_SOURCE, sourceKeyword={"keywordInputType": "SELECT_FROM_LIST"}),
     "sourceKeyword.keywordInputType"),
    ({"sourceName": "x", "sourceType": "AWS_Security_Hub",
      "sourceKeyword": {"keywordValue": "NOPE.99"}}, "sourceKeyword.keywordValue"),
    ({"sourceName": "x", "sourceType": "Common_Control",
      "sourceKeyword": {"keywordValue": "abc"}}, "sourceType"),
    (dict(CONFIG_SOURCE, sourceFrequency="DAILY"), "sourceFrequency"),
])
def test_source_rules(admin, source, field):
    fields, _ = validation_fields(admin.create_control, name="rules",
                                  controlMappingSources=[source])
    assert f"controlMappingSources[0].{field}" in fields


def test_custom_config_rules_and_security_hub_ids_are_accepted(admin):
    control = admin.create_control(name="custom rule", controlMappingSources=[
        {"sourceName": "c", "sourceType": "AWS_Config",
         "sourceKeyword": {"keywordInputType": "SELECT_FROM_LIST", "keywordValue": "Custom_my-rule"}},
        {"sourceName": "s", "sourceType": "AWS_Security_Hub",
         "sourceKeyword": {"keywordInputType": "SELECT_FROM_LIST", "keywordValue": "IAM.1"}},
        {"sourceName": "t", "sourceType": "AWS_Cloudtrail",
         "sourceKeyword": {"keywordInputType": "SELECT_FROM_LIST", "keywordValue": "signin_ConsoleLogin"}},
    ])["control"]
    assert control["controlSources"] == "AWS Config, AWS Security Hub, AWS CloudTrail"


def test_duplicate_name_and_missing_fields(admin):
    admin.create_control(name="dup", controlMappingSources=[MANUAL_SOURCE])
    fields, _ = validation_fields(admin.create_control, name="dup",
                                  controlMappingSources=[MANUAL_SOURCE])
    assert "name" in fields


def test_not_found(admin):
    missing = "00000000-0000-4000-8000-000000000000"
    for call, kwargs in [(admin.get_control, {}), (admin.delete_control, {}),
                         (admin.update_control, {"name": "x",
                                                 "controlMappingSources": [MANUAL_SOURCE]})]:
        with pytest.raises(ClientError) as caught:
            call(controlId=missing, **kwargs)
        assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_paging_walks_every_custom_control_once(admin):
    for i in range(7):
        admin.create_control(name=f"page-{i}", controlMappingSources=[MANUAL_SOURCE])
    seen, token = [], None
    while True:
        kwargs = {"controlType": "Custom", "maxResults": 3}
        if token:
            kwargs["nextToken"] = token
        page = admin.list_controls(**kwargs)
        assert len(page["controlMetadataList"]) <= 3
        seen += [c["name"] for c in page["controlMetadataList"]]
        token = page.get("nextToken")
        if not token:
            break
    assert seen == custom_names(admin) and len(seen) == len(set(seen))
    paginated = [c["name"] for c in walk(admin.list_controls, "controlMetadataList", 2,
                                         controlType="Custom")]
    assert paginated == seen


def test_invalid_token_is_a_validation_error(admin):
    fields, _ = validation_fields(admin.list_controls, controlType="Custom", nextToken="Zm9vOmJhcg==")
    assert "nextToken" in fields


def test_standard_controls_are_listed_and_read_only(admin):
    standard = admin.list_controls(controlType="Standard", maxResults=5)["controlMetadataList"]
    assert standard, "the library ships standard controls"
    control = admin.get_control(controlId=standard[0]["id"])["control"]
    assert control["type"] == "Standard" and control["controlMappingSources"]
    fields, _ = validation_fields(admin.update_control, controlId=control["id"], name="hijack",
                                  controlMappingSources=[MANUAL_SOURCE])
    assert "controlId" in fields
    fields, _ = validation_fields(admin.delete_control, controlId=control["id"])
    assert "controlId" in fields
    assert admin.get_control(controlId=control["id"])["control"] == control


def test_control_catalog_filter(admin, server):
    library = server.services.library
    domain = max(library.domains.values(), key=lambda d: len(library.controls_in_domain(d.id)))
    listed = [c["id"] for c in walk(admin.list_controls, "controlMetadataList",
                                    controlType="Standard", controlCatalogId=domain.id)]
    assert listed and set(listed) == {c.id for c in library.controls_in_domain(domain.id)}
    custom = admin.list_controls(controlType="Custom", controlCatalogId="UNCATEGORIZED")
    assert custom["controlMetadataList"] == admin.list_controls(controlType="Custom")["controlMetadataList"]
    assert admin.list_controls(controlType="Custom", controlCatalogId=domain.id)["controlMetadataList"] == []


def test_get_control_lists_equivalent_controls_in_a_member_sdks_skip(admin, server, tmp_path):
    """GetControl's crosswalk is Assay's own response member (``equivalentControls``): boto3 and
    the aws CLI parse the response as before and do not show it; the raw body carries it."""
    library = server.services.library
    cis = library.control_by_key("CIS-AWS-v3.0/1.5")  # root MFA: IAM.9 tests it
    bodies = []
    admin.meta.events.register("after-call.auditmanager.GetControl",
                               lambda http_response, **_: bodies.append(http_response.content))
    parsed = admin.get_control(controlId=cis.id)
    assert set(parsed) - {"ResponseMetadata"} == {"control"}  # botocore skipped the member
    assert parsed["control"]["id"] == cis.id and parsed["control"]["controlMappingSources"]
    raw = orjson.loads(bodies[-1])
    assert raw["control"]["id"] == cis.id
    by_key = {library.controls[e["id"]].key: e for e in raw["equivalentControls"]}
    assert set(by_key) == {e.control.key for e in library.equivalents(cis.id)}
    fsbp = by_key["AWS-FSBP/IAM.9"]
    assert fsbp["arn"].endswith(":control/" + fsbp["id"])
    assert fsbp["frameworks"] == [{"id": library.framework_by_key("aws-fsbp").id,
                                   "name": "AWS Foundational Security Best Practices"}]
    assert {"sourceType": "AWS_Security_Hub", "keywordValue": "IAM.9"} in fsbp["sharedSources"]
    assert not any(k.startswith("CIS-AWS-v3.0/") for k in by_key)

    # No tests source, no crosswalk: the member is left out, as empty members are.
    lone = library.control_by_key("CIS-AWS-v3.0/4.1")
    admin.get_control(controlId=lone.id)
    assert "equivalentControls" not in orjson.loads(bodies[-1])
    custom = admin.create_control(name="crosswalk custom", controlMappingSources=[CONFIG_SOURCE])
    admin.get_control(controlId=custom["control"]["id"])
    assert "equivalentControls" not in orjson.loads(bodies[-1])
    with pytest.raises(ClientError) as caught:
        admin.get_control(controlId="11111111-2222-3333-4444-555555555555")
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"

    # The aws CLI (botocore underneath) prints the control and nothing else.
    identity = server.admin
    done = subprocess.run(
        [str(Path(sys.executable).with_name("aws")), "--endpoint-url", server.url, "--output",
         "json", "auditmanager", "get-control", "--control-id", cis.id],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path),
             "AWS_ACCESS_KEY_ID": identity.key_id, "AWS_SECRET_ACCESS_KEY": identity.secret,
             "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": str(tmp_path / "none"),
             "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")})
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert list(printed) == ["control"] and printed["control"]["id"] == cis.id
