"""Regression tests of issue 18's hostile probe, through boto3 against a real server on both
backends: malformed-but-signed input is refused by name (never a 500, never stored)."""

from __future__ import annotations

import json
import re
import time
from urllib.parse import quote

import httpx
import pytest
from botocore.exceptions import ClientError

from support import MANUAL_SOURCE as MANUAL, signed_request, small_assessment

def refused(call, **kwargs) -> dict:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    error = caught.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400, error
    assert error["Error"]["Code"] == "ValidationException"
    return error


@pytest.fixture(scope="module")
def setup(server):
    return small_assessment(server, "h")


def _raw(server, method, path, document):
    answer = signed_request(server.url, server.admin, method, path, json.dumps(document).encode())
    return answer.status_code, answer.json() if answer.content else {}


def test_null_list_elements_are_refused_and_nothing_is_stored(server, setup):
    admin = server.client()
    before = {a["id"] for a in admin.list_assessments()["assessmentMetadata"]}
    status, error = _raw(server, "POST", "/assessments", {
        "name": "nulls", "frameworkId": setup["framework"]["id"],
        "scope": {"awsAccounts": [{"id": "111122223333"}], "awsServices": [None]},
        "roles": [{"roleType": "PROCESS_OWNER", "roleArn": server.admin.arn}],
        "assessmentReportsDestination": {}})
    assert status == 400, error
    assert "scope.awsServices[0]" in {f["name"] for f in error["fields"]}
    after = {a["id"] for a in admin.list_assessments()["assessmentMetadata"]}
    assert after == before
    # The same kind elsewhere: a null in a list of structures, a null map value, a null id.
    for method, path, document, field in [
            ("POST", "/assessmentFrameworks", {"name": "nulls-f", "controlSets": [None]},
             "controlSets[0]"),
            ("POST", "/tags/" + quote(setup["control"]["arn"], safe=""), {"tags": {"k": None}},
             "tags.k"),
            ("PUT", f"/assessments/{setup['assessment']['metadata']['id']}/delegations",
             {"delegationIds": [None]}, "delegationIds[0]"),
            ("POST", "/controls", {"name": "nulls-c", "controlMappingSources": [MANUAL[0], None]},
             "controlMappingSources[1]")]:
        status, error = _raw(server, method, path, document)
        assert status == 400, (path, error)
        assert field in {f["name"] for f in error["fields"]}, (path, error)


def test_a_write_whose_answer_cannot_be_serialized_commits_nothing(server, setup, monkeypatch):
    """Finding 6's second half, as a kind: whatever a write's answer holds that its output shape
    cannot carry (a bug), the 500 leaves nothing written and notifies no one; later reads
    still work. The bug is planted by wrapping the services the handlers call."""
    admin = server.client()
    services = server.services
    for service, method, call in [
            (services.controls, "create", lambda name: admin.create_control(
                name=name, controlMappingSources=MANUAL)),
            (services.assessments, "update", lambda name: admin.update_assessment(
                assessmentId=setup["assessment"]["metadata"]["id"],
                assessmentName=name, scope=setup["assessment"]["metadata"]["scope"]))]:
        real = getattr(service, method)

        def planted(*args, _real=real, _method=method, **kwargs):
            answer = _real(*args, **kwargs)
            if _method == "create":  # ControlService.create answers the control itself
                return {**answer, "name": ["not", "a", "string"]}
            return {**answer, "assessment": {**answer["assessment"], "name": ["not", "a"]}}

        monkeypatch.setattr(service, method, planted)
        name = f"unserializable-{method}-{time.time_ns()}"
        with pytest.raises(ClientError) as caught:
            call(name)
        monkeypatch.setattr(service, method, real)
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
        controls = admin.list_controls(controlType="Custom", maxResults=100)["controlMetadataList"]
        assert name not in {c["name"] for c in controls}
        assessment = admin.get_assessment(assessmentId=setup["assessment"]["metadata"]["id"])
        assert assessment["assessment"]["metadata"]["name"] != name
        logs = admin.get_change_logs(assessmentId=setup["assessment"]["metadata"]["id"])
        assert all(entry.get("objectName") != name for entry in logs["changeLogs"])


def test_null_members_are_absent_members(server, setup):
    loose = server.client(validate=False)
    control = loose.create_control(name=f"nm-{time.time_ns()}", description=None,
                                   controlMappingSources=MANUAL, tags=None)["control"]
    assert "description" not in control or control["description"] in (None, "")
    assert server.client().get_control(controlId=control["id"])["control"]["id"] == control["id"]


@pytest.mark.parametrize("field", ["name", "description", "tag-key", "tag-value"])
def test_nul_bytes_are_refused_by_name(server, field):
    loose = server.client(validate=False)
    name = f"nul-{time.time_ns()}"
    kwargs = {"name": name, "controlMappingSources": MANUAL}
    if field == "name":
        kwargs["name"] = name + "\x00x"
    elif field == "description":
        kwargs["description"] = "a\x00b"
    elif field == "tag-key":
        kwargs["tags"] = {"k\x00": "v"}
    else:
        kwargs["tags"] = {"k": "v\x00"}
    error = refused(loose.create_control, **kwargs)
    assert "NUL" in error["Error"]["Message"]
    names = {c["name"] for c in server.client().list_controls(
        controlType="Custom")["controlMetadataList"]}
    assert not any(n.startswith(name) for n in names)


def test_a_repeated_evidence_id_is_associated_once(server, setup):
    admin = server.client()
    aid = setup["assessment"]["metadata"]["id"]
    cid = setup["control"]["id"]
    admin.batch_import_evidence_to_assessment_control(
        assessmentId=aid, controlSetId="Set", controlId=cid,
        manualEvidence=[{"textResponse": "repeated"}])
    folder = admin.get_evidence_folders_by_assessment_control(
        assessmentId=aid, controlSetId="Set", controlId=cid)["evidenceFolders"][0]
    evidence = admin.get_evidence_by_evidence_folder(
        assessmentId=aid, controlSetId="Set", evidenceFolderId=folder["id"])["evidence"][0]["id"]
    answer = admin.batch_associate_assessment_report_evidence(
        assessmentId=aid, evidenceFolderId=folder["id"], evidenceIds=[evidence, evidence])
    assert answer["evidenceIds"] == [evidence] and not answer.get("errors")
    again = admin.batch_disassociate_assessment_report_evidence(
        assessmentId=aid, evidenceFolderId=folder["id"], evidenceIds=[evidence, evidence])
    assert again["evidenceIds"] == [evidence]


def test_integers_past_the_model_types_are_refused(server):
    loose = server.client(validate=False)
    refused(loose.list_controls, controlType="Custom", maxResults=2 ** 40)


def _denied(call, **kwargs) -> str:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response["Error"]["Code"]


def test_tag_rights_follow_the_assessment_and_tag_changes_are_logged(server, setup):
    owner_identity = server.identity("process-owner")
    owner = server.client(owner_identity)
    stranger = server.client(server.identity("process-owner"))
    idle_delegate = server.client(server.identity("delegate"))
    assessment = small_assessment(server, "tags", owner_identity.arn)["assessment"]
    arn, aid = assessment["arn"], assessment["metadata"]["id"]

    owner.tag_resource(resourceArn=arn, tags={"team": "audit"})
    logs = owner.get_change_logs(assessmentId=aid)["changeLogs"]
    assert any("tagged team" in entry["objectName"] and entry["createdBy"] == owner_identity.arn
               for entry in logs), logs

    # A process owner who does not own it: no tagging, no untagging.
    assert _denied(stranger.tag_resource, resourceArn=arn, tags={"x": "y"}) == "AccessDeniedException"
    assert _denied(stranger.untag_resource, resourceArn=arn, tagKeys=["team"]) == "AccessDeniedException"
    # A delegate with nothing delegated reads no tags (as it reads no assessment).
    assert _denied(idle_delegate.list_tags_for_resource, resourceArn=arn) == "AccessDeniedException"
    assert owner.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "audit"}

    owner.untag_resource(resourceArn=arn, tagKeys=["team"])
    assert any("untagged team" in entry["objectName"]
               for entry in owner.get_change_logs(assessmentId=aid)["changeLogs"])
    # Closed: no more tag changes, by anyone.
    owner.update_assessment_status(assessmentId=aid, status="INACTIVE")
    assert _denied(owner.tag_resource, resourceArn=arn, tags={"x": "y"}) == "ValidationException"
    assert _denied(server.client().untag_resource, resourceArn=arn,
                   tagKeys=["x"]) == "ValidationException"
    assert owner.list_tags_for_resource(resourceArn=arn)["tags"] == {}


def test_console_forms_refuse_nul_bytes(server, setup):
    """The console's forms reach the same services: NUL is refused there too (400, never a
    PostgreSQL error), and nothing is stored."""
    aid = setup["assessment"]["metadata"]["id"]
    cid = setup["control"]["id"]
    with httpx.Client(base_url=server.url) as browser:
        form = browser.get("/console/sign-in")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)[1]
        signed_in = browser.post("/console/sign-in", data={
            "csrf": token, "access_key_id": server.admin.key_id,
            "secret_access_key": server.admin.secret})
        assert signed_in.status_code == 303, signed_in.text
        page = browser.get(f"/console/assessments/{aid}/controls/{cid}", params={"set": "Set"})
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)[1]
        answer = browser.post(f"/console/assessments/{aid}/controls/{cid}/comment",
                              params={"set": "Set"},
                              data={"csrf": csrf, "comment": "looks fine\x00<script>"})
        assert answer.status_code == 400, answer.text
        assert "NUL" in answer.text
    assessment = server.client().get_assessment(assessmentId=aid)["assessment"]
    assert "looks fine" not in str(assessment["framework"]["controlSets"])
