"""A whole audit through boto3: assessment, delegation, review, manual evidence through the
upload URL and as text, report selection, INACTIVE; every step in the change log and the
notifications, every role restriction tested both ways."""

from __future__ import annotations

import httpx
import pytest
from botocore.exceptions import ClientError
from support import walk

MANUAL = [{"sourceName": "Policy document", "sourceType": "MANUAL",
           "sourceDescription": "Upload the approved policy"}]


def code(call, *args, **kwargs) -> str:
    with pytest.raises(ClientError) as caught:
        call(*args, **kwargs)
    return caught.value.response["Error"]["Code"]


@pytest.fixture(scope="module")
def cast(server):
    """The people of the audit and a two-set framework of custom controls."""
    admin = server.client()
    owner = server.identity("process-owner", "olivia")
    delegate = server.identity("delegate", "dan")
    other_delegate = server.identity("delegate", "erin")
    auditor = server.identity("auditor", "ava")
    controls = [admin.create_control(name=f"walk control {i}", controlMappingSources=MANUAL)["control"]
                for i in range(3)]
    framework = admin.create_assessment_framework(name="walk framework", controlSets=[
        {"name": "Access", "controls": [{"id": controls[0]["id"]}, {"id": controls[1]["id"]}]},
        {"name": "Logging", "controls": [{"id": controls[2]["id"]}]},
    ])["framework"]
    return {"owner": owner, "delegate": delegate, "other": other_delegate, "auditor": auditor,
            "controls": controls, "framework": framework}


def test_whole_audit(server, cast, tmp_path):
    owner = server.client(cast["owner"])
    delegate = server.client(cast["delegate"])
    other = server.client(cast["other"])
    auditor = server.client(cast["auditor"])
    c0, c1, c2 = (c["id"] for c in cast["controls"])

    # The owner creates the assessment from the framework; the snapshot is taken now.
    assessment = owner.create_assessment(
        name="FY26 audit", description="Yearly", frameworkId=cast["framework"]["id"],
        scope={"awsAccounts": [{"id": "111122223333"}, {"id": "444455556666"}]},
        roles=[{"roleType": "PROCESS_OWNER", "roleArn": cast["owner"].arn}],
        assessmentReportsDestination={}, tags={"year": "2026"},
    )["assessment"]
    aid = assessment["metadata"]["id"]
    assert assessment["metadata"]["status"] == "ACTIVE"
    assert [s["id"] for s in assessment["framework"]["controlSets"]] == ["Access", "Logging"]
    first = assessment["framework"]["controlSets"][0]["controls"][0]
    assert first["status"] == "UNDER_REVIEW" and first["evidenceSources"] == ["Manual"]
    assert "assessmentReportsDestination" not in assessment["metadata"]  # Assay's own store

    # Editing the framework afterwards does not change the assessment (a snapshot).
    server.client().update_control(controlId=c0, name="renamed later", controlMappingSources=MANUAL)
    got = owner.get_assessment(assessmentId=aid)
    assert got["assessment"]["framework"]["controlSets"][0]["controls"][0]["name"] == "walk control 0"
    assert got["userRole"] == {"roleType": "PROCESS_OWNER", "roleArn": cast["owner"].arn}

    # Only owners delegate; the delegate then sees just its control set.
    assert code(delegate.get_assessment, assessmentId=aid) == "AccessDeniedException"
    assert code(auditor.batch_create_delegation_by_assessment, assessmentId=aid,
                createDelegationRequests=[{"controlSetId": "Access", "roleArn": cast["delegate"].arn,
                                           "roleType": "RESOURCE_OWNER"}]) == "AccessDeniedException"
    result = owner.batch_create_delegation_by_assessment(assessmentId=aid, createDelegationRequests=[
        {"controlSetId": "Access", "roleArn": cast["delegate"].arn, "roleType": "RESOURCE_OWNER",
         "comment": "please review access"},
        {"controlSetId": "Nope", "roleArn": cast["delegate"].arn, "roleType": "RESOURCE_OWNER"},
        {"controlSetId": "Logging", "roleArn": cast["other"].arn, "roleType": "RESOURCE_OWNER"},
    ])
    assert [d["controlSetId"] for d in result["delegations"]] == ["Access", "Logging"]
    assert result["errors"][0]["createDelegationRequest"]["controlSetId"] == "Nope"
    assert result["errors"][0]["errorCode"] == "404"
    view = delegate.get_assessment(assessmentId=aid)
    assert [s["id"] for s in view["assessment"]["framework"]["controlSets"]] == ["Access"]
    assert view["userRole"]["roleType"] == "RESOURCE_OWNER"
    assert [d["controlSetName"] for d in delegate.get_delegations()["delegations"]] == ["Access"]
    notes = delegate.list_notifications()["notifications"]
    assert any("delegated control set 'Access'" in n["description"] for n in notes)

    # The delegate works on its set only.
    assert code(delegate.update_assessment_control, assessmentId=aid, controlSetId="Logging",
                controlId=c2, commentBody="not mine") == "AccessDeniedException"
    control = delegate.update_assessment_control(
        assessmentId=aid, controlSetId="Access", controlId=c0, commentBody="Looks right")["control"]
    assert control["comments"][0]["authorName"] == "dan"
    assert control["comments"][0]["commentBody"] == "Looks right"

    # Manual evidence: a file through the upload URL, and a text response.
    upload = delegate.get_evidence_file_upload_url(fileName="policy.pdf")
    content = b"%PDF-1.4 access policy " * 1000
    put = httpx.put(upload["uploadUrl"], content=content)
    assert put.status_code == 200, put.text
    assert httpx.put(upload["uploadUrl"], content=b"again").status_code == 400  # single use
    tampered = upload["uploadUrl"].replace("signature=", "signature=x")
    assert httpx.put(tampered, content=b"x").status_code == 403
    errors = delegate.batch_import_evidence_to_assessment_control(
        assessmentId=aid, controlSetId="Access", controlId=c0,
        manualEvidence=[{"evidenceFileName": upload["evidenceFileName"]},
                        {"textResponse": "MFA is enforced for all users."},
                        {"evidenceFileName": "no-such-upload"}])["errors"]
    assert len(errors) == 1 and errors[0]["manualEvidence"] == {"evidenceFileName": "no-such-upload"}
    assert code(other.batch_import_evidence_to_assessment_control, assessmentId=aid,
                controlSetId="Access", controlId=c0,
                manualEvidence=[{"textResponse": "sneaky"}]) == "AccessDeniedException"

    folders = delegate.get_evidence_folders_by_assessment_control(
        assessmentId=aid, controlSetId="Access", controlId=c0)["evidenceFolders"]
    assert len(folders) == 1
    folder = folders[0]
    assert folder["dataSource"] == "Manual" and folder["totalEvidence"] == 2
    assert folder["evidenceByTypeManualCount"] == 2 and folder["author"] == "dan"
    evidence = delegate.get_evidence_by_evidence_folder(
        assessmentId=aid, controlSetId="Access", evidenceFolderId=folder["id"])["evidence"]
    assert {e["evidenceByType"] for e in evidence} == {"Manual"}
    assert {e["assessmentReportSelection"] for e in evidence} == {"No"}
    file_item = next(e for e in evidence if "fileName" in e["attributes"])
    assert file_item["attributes"]["fileName"] == "policy.pdf"
    single = auditor.get_evidence(assessmentId=aid, controlSetId="Access",
                                  evidenceFolderId=folder["id"], evidenceId=file_item["id"])
    assert single["evidence"] == file_item
    assert code(other.get_evidence_by_evidence_folder, assessmentId=aid, controlSetId="Access",
                evidenceFolderId=folder["id"]) == "AccessDeniedException"

    # The delegate marks the controls and submits the set; the owner completes the review.
    delegate.update_assessment_control(assessmentId=aid, controlSetId="Access", controlId=c1,
                                       controlStatus="REVIEWED")
    assert code(delegate.update_assessment_control, assessmentId=aid, controlSetId="Access",
                controlId=c1, controlStatus="UNDER_REVIEW") == "ValidationException"  # final
    assert code(delegate.update_assessment_control_set_status, assessmentId=aid,
                controlSetId="Access", status="REVIEWED", comment="x") == "AccessDeniedException"
    submitted = delegate.update_assessment_control_set_status(
        assessmentId=aid, controlSetId="Access", status="UNDER_REVIEW", comment="done")["controlSet"]
    assert submitted["status"] == "UNDER_REVIEW"
    assert submitted["delegations"][0]["status"] == "UNDER_REVIEW"
    assert any("submitted for review" in n["description"]
               for n in owner.list_notifications()["notifications"])
    completed = owner.update_assessment_control_set_status(
        assessmentId=aid, controlSetId="Access", status="REVIEWED", comment="approved")["controlSet"]
    assert completed["status"] == "REVIEWED"
    assert completed["delegations"][0]["status"] == "COMPLETE"
    assert {c["status"] for c in completed["controls"]} == {"REVIEWED"}

    # Evidence is selected for the report.
    assert code(auditor.batch_associate_assessment_report_evidence, assessmentId=aid,
                evidenceFolderId=folder["id"], evidenceIds=[file_item["id"]]) == "AccessDeniedException"
    selected = owner.batch_associate_assessment_report_evidence(
        assessmentId=aid, evidenceFolderId=folder["id"],
        evidenceIds=[file_item["id"], "00000000-0000-4000-8000-000000000000"])
    assert selected["evidenceIds"] == [file_item["id"]] and len(selected["errors"]) == 1
    again = owner.get_evidence_folder(assessmentId=aid, controlSetId="Access",
                                      evidenceFolderId=folder["id"])["evidenceFolder"]
    assert again["assessmentReportSelectionCount"] == 1
    owner.associate_assessment_report_evidence_folder(assessmentId=aid, evidenceFolderId=folder["id"])
    read = owner.get_assessment(assessmentId=aid)["assessment"]
    access_set = read["framework"]["controlSets"][0]
    assert access_set["manualEvidenceCount"] == 2
    assert access_set["controls"][0]["assessmentReportEvidenceCount"] == 2
    owner.disassociate_assessment_report_evidence_folder(assessmentId=aid, evidenceFolderId=folder["id"])
    assert owner.get_evidence_folder(assessmentId=aid, controlSetId="Access",
                                     evidenceFolderId=folder["id"])["evidenceFolder"][
        "assessmentReportSelectionCount"] == 0
    owner.batch_associate_assessment_report_evidence(assessmentId=aid, evidenceFolderId=folder["id"],
                                                     evidenceIds=[file_item["id"]])

    # The auditor reads everything and changes nothing.
    assert auditor.get_assessment(assessmentId=aid)["assessment"]["metadata"]["id"] == aid
    assert code(auditor.update_assessment_control, assessmentId=aid, controlSetId="Access",
                controlId=c0, commentBody="x") == "AccessDeniedException"
    assert code(auditor.update_assessment_status, assessmentId=aid,
                status="INACTIVE") == "AccessDeniedException"

    # The owner closes the assessment: INACTIVE is final and read-only.
    closed = owner.update_assessment_status(assessmentId=aid, status="INACTIVE")["assessment"]
    assert closed["metadata"]["status"] == "INACTIVE"
    assert {s["status"] for s in closed["framework"]["controlSets"]} == {"REVIEWED"}
    assert code(owner.update_assessment_status, assessmentId=aid, status="ACTIVE") == "ValidationException"
    assert code(delegate.batch_import_evidence_to_assessment_control, assessmentId=aid,
                controlSetId="Access", controlId=c0,
                manualEvidence=[{"textResponse": "late"}]) == "ValidationException"
    assert code(owner.update_assessment, assessmentId=aid,
                scope={"awsAccounts": [{"id": "111122223333"}]}) == "ValidationException"

    # Every step is in the change log.
    logs = walk(owner.get_change_logs, "changeLogs", assessmentId=aid)
    actions = [(entry["objectType"], entry["action"]) for entry in logs]
    for expected in [("ASSESSMENT", "CREATE"), ("DELEGATION", "CREATE"),
                     ("CONTROL", "UPDATE_METADATA"), ("CONTROL", "IMPORT_EVIDENCE"),
                     ("CONTROL", "REVIEWED"), ("CONTROL_SET", "UNDER_REVIEW"),
                     ("CONTROL_SET", "REVIEWED"), ("ASSESSMENT", "INACTIVE")]:
        assert expected in actions, expected
    assert {entry["createdBy"] for entry in logs} >= {cast["owner"].arn, cast["delegate"].arn}
    scoped = walk(delegate.get_change_logs, "changeLogs", assessmentId=aid, controlSetId="Access")
    assert scoped and all(e["objectType"] != "ASSESSMENT" for e in scoped)

    listed = owner.list_assessments(status="INACTIVE")["assessmentMetadata"]
    assert aid in [a["id"] for a in listed]

    # And the ledger holding the evidence verifies clean.
    assert list(server.services.ledger.verify()) == []


def test_create_assessment_validation(server, cast):
    owner = server.client(cast["owner"], validate=False)
    base = dict(name="bad", frameworkId=cast["framework"]["id"],
                scope={"awsAccounts": [{"id": "111122223333"}]},
                roles=[{"roleType": "PROCESS_OWNER", "roleArn": cast["owner"].arn}],
                assessmentReportsDestination={})
    before = walk(owner.list_assessments, "assessmentMetadata")
    for change, expected in [
        ({"frameworkId": "00000000-0000-4000-8000-000000000000"}, "ResourceNotFoundException"),
        ({"roles": [{"roleType": "PROCESS_OWNER", "roleArn": "arn:aws:iam::1:role/ghost"}]}, "ValidationException"),
        ({"scope": {"awsAccounts": []}}, "ValidationException"),
        ({"scope": {"awsAccounts": [{"id": "12"}]}}, "ValidationException"),
    ]:
        assert code(owner.create_assessment, **{**base, **change}) == expected
    assert code(server.client(cast["auditor"]).create_assessment, **base) == "AccessDeniedException"
    assert walk(owner.list_assessments, "assessmentMetadata") == before


def test_default_process_owners_and_destination_from_settings(server, cast):
    admin = server.client()
    admin.update_settings(defaultProcessOwners=[{"roleType": "PROCESS_OWNER", "roleArn": cast["owner"].arn}],
                          defaultAssessmentReportsDestination={"destinationType": "S3",
                                                               "destination": "s3://audit-reports/fy26"})
    try:
        created = admin.create_assessment(
            name="defaults", frameworkId=cast["framework"]["id"],
            scope={"awsAccounts": [{"id": "111122223333"}]},
            roles=[{"roleType": "PROCESS_OWNER", "roleArn": server.admin.arn}],
            assessmentReportsDestination={})["assessment"]
        roles = {r["roleArn"] for r in created["metadata"]["roles"]}
        assert roles == {server.admin.arn, cast["owner"].arn}
        assert created["metadata"]["assessmentReportsDestination"]["destination"] == "s3://audit-reports/fy26"
        admin.delete_assessment(assessmentId=created["metadata"]["id"])
        assert code(admin.get_assessment, assessmentId=created["metadata"]["id"]) == "ResourceNotFoundException"
    finally:
        admin.update_settings(defaultProcessOwners=[],
                              defaultAssessmentReportsDestination={})


def test_process_owner_not_listed_cannot_change(server, cast):
    stranger = server.client(server.identity("process-owner"))
    admin = server.client()
    created = admin.create_assessment(
        name="not yours", frameworkId=cast["framework"]["id"],
        scope={"awsAccounts": [{"id": "111122223333"}]},
        roles=[{"roleType": "PROCESS_OWNER", "roleArn": cast["owner"].arn}],
        assessmentReportsDestination={})["assessment"]
    aid = created["metadata"]["id"]
    assert stranger.get_assessment(assessmentId=aid)["assessment"]["metadata"]["name"] == "not yours"
    assert code(stranger.update_assessment_status, assessmentId=aid, status="INACTIVE") == "AccessDeniedException"
    assert code(stranger.delete_assessment, assessmentId=aid) == "AccessDeniedException"
    owner = server.client(cast["owner"])
    updated = owner.update_assessment(assessmentId=aid, assessmentName="now named",
                                      scope={"awsAccounts": [{"id": "999988887777"}]})["assessment"]
    assert updated["metadata"]["name"] == "now named"
    assert updated["metadata"]["scope"]["awsAccounts"] == [{"id": "999988887777"}]


def test_insights_agree_with_folders(server, cast):
    owner = server.client(cast["owner"])
    created = owner.create_assessment(
        name="insights", frameworkId=cast["framework"]["id"],
        scope={"awsAccounts": [{"id": "111122223333"}]},
        roles=[{"roleType": "PROCESS_OWNER", "roleArn": cast["owner"].arn}],
        assessmentReportsDestination={})["assessment"]
    aid = created["metadata"]["id"]
    control_id = created["framework"]["controlSets"][0]["controls"][0]["id"]
    owner.batch_import_evidence_to_assessment_control(
        assessmentId=aid, controlSetId="Access", controlId=control_id,
        manualEvidence=[{"textResponse": "one"}, {"textResponse": "two"}])
    by_assessment = owner.get_insights_by_assessment(assessmentId=aid)["insights"]
    folders = walk(owner.get_evidence_folders_by_assessment, "evidenceFolders", assessmentId=aid)
    total = sum(f["totalEvidence"] for f in folders)
    assert total == 2
    assert (by_assessment["compliantEvidenceCount"] + by_assessment["noncompliantEvidenceCount"]
            + by_assessment["inconclusiveEvidenceCount"]) == total
    assert by_assessment["totalAssessmentControlsCount"] == 3
    everything = owner.get_insights()["insights"]
    assert everything["activeAssessmentsCount"] >= 1
    domains = owner.list_control_domain_insights_by_assessment(assessmentId=aid)["controlDomainInsights"]
    assert [d["id"] for d in domains] == ["UNCATEGORIZED"]
    assert domains[0]["totalControlsCount"] == 3
    per_control = owner.list_assessment_control_insights_by_control_domain(
        controlDomainId="UNCATEGORIZED", assessmentId=aid)["controlInsightsByAssessment"]
    assert len(per_control) == 3
    assert sum(c["evidenceInsights"]["inconclusiveEvidenceCount"] for c in per_control) == 2
    across = owner.list_control_insights_by_control_domain(controlDomainId="UNCATEGORIZED")
    assert {c["id"] for c in across["controlInsightsMetadata"]} >= {c["id"] for c in per_control}
    assert owner.list_control_domain_insights()["controlDomainInsights"]


def test_delete_delegations(server, cast):
    owner = server.client(cast["owner"])
    created = owner.create_assessment(
        name="delegations", frameworkId=cast["framework"]["id"],
        scope={"awsAccounts": [{"id": "111122223333"}]},
        roles=[{"roleType": "PROCESS_OWNER", "roleArn": cast["owner"].arn}],
        assessmentReportsDestination={})["assessment"]
    aid = created["metadata"]["id"]
    made = owner.batch_create_delegation_by_assessment(assessmentId=aid, createDelegationRequests=[
        {"controlSetId": "Logging", "roleArn": cast["delegate"].arn, "roleType": "RESOURCE_OWNER"}])
    delegation_id = made["delegations"][0]["id"]
    errors = owner.batch_delete_delegation_by_assessment(
        assessmentId=aid, delegationIds=[delegation_id, "00000000-0000-4000-8000-000000000000"])["errors"]
    assert [e["delegationId"] for e in errors] == ["00000000-0000-4000-8000-000000000000"]
    assert owner.get_assessment(assessmentId=aid)["assessment"]["metadata"]["delegations"] == []
