"""Manual evidence edge cases: expired and altered upload URLs, the size limit, S3 objects as
evidence, and blobs on S3 with real presigned upload URLs (moto)."""

from __future__ import annotations

import time

import boto3
import httpx
import pytest
from botocore.exceptions import ClientError
from support import AssayServer, backends, moto_aws, small_assessment


@pytest.fixture(scope="module")
def moto():
    with moto_aws(S3=True) as url:
        yield url


def s3(moto):
    return boto3.client("s3", endpoint_url=moto, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def make_assessment(server):
    made = small_assessment(server, "me")
    return made["assessment"]["metadata"]["id"], made["control"]["id"]


def evidence_items(admin, aid, control_id):
    folders = admin.get_evidence_folders_by_assessment_control(
        assessmentId=aid, controlSetId="Set", controlId=control_id)["evidenceFolders"]
    return [e for f in folders for e in admin.get_evidence_by_evidence_folder(
        assessmentId=aid, controlSetId="Set", evidenceFolderId=f["id"])["evidence"]]


def test_expired_and_altered_upload_urls_are_refused(server):
    admin = server.client()
    upload = admin.get_evidence_file_upload_url(fileName="a.txt")
    name = upload["evidenceFileName"]
    past = int(time.time()) - 10
    expired = (f"{server.url}/_assay/uploads/{name}?expires={past}"
               f"&signature={server.services.signer.link_signature('upload', name, past)}")
    response = httpx.put(expired, content=b"x")
    assert response.status_code == 403 and "expired" in response.json()["message"]
    later = upload["uploadUrl"].replace("expires=", "expires=9")
    assert httpx.put(later, content=b"x").status_code == 403
    altered = ("1" if name[0] == "0" else "0") + name[1:]  # another upload's name
    other = upload["uploadUrl"].replace(name, altered)
    assert httpx.put(other, content=b"x").status_code in (403, 404)
    # Nothing was stored: importing the file name finds no upload.
    aid, control_id = make_assessment(server)
    errors = admin.batch_import_evidence_to_assessment_control(
        assessmentId=aid, controlSetId="Set", controlId=control_id,
        manualEvidence=[{"evidenceFileName": name}])["errors"]
    assert "Nothing was uploaded" in errors[0]["errorMessage"]


def test_files_over_the_limit_are_refused(server, monkeypatch):
    import assay.api.uploads as uploads
    import assay.service.evidence as evidence

    monkeypatch.setattr(uploads, "MAX_FILE_BYTES", 1024 * 1024)
    monkeypatch.setattr(evidence, "MAX_FILE_BYTES", 1024 * 1024)
    upload = server.client().get_evidence_file_upload_url(fileName="big.bin")
    response = httpx.put(upload["uploadUrl"], content=b"x" * (2 * 1024 * 1024))
    assert response.status_code == 413


def test_batch_rules(server):
    admin = server.client(validate=False)
    aid, control_id = make_assessment(server)
    errors = admin.batch_import_evidence_to_assessment_control(
        assessmentId=aid, controlSetId="Set", controlId=control_id,
        manualEvidence=[{"textResponse": "a", "s3ResourcePath": "s3://b/k"}, {}])["errors"]
    assert len(errors) == 2 and all("exactly one" in e["errorMessage"] for e in errors)
    with pytest.raises(ClientError) as caught:
        admin.batch_import_evidence_to_assessment_control(
            assessmentId=aid, controlSetId="Set", controlId=control_id,
            manualEvidence=[{"textResponse": str(i)} for i in range(51)])
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    admin.update_assessment_control(assessmentId=aid, controlSetId="Set", controlId=control_id,
                                    controlStatus="INACTIVE")
    with pytest.raises(ClientError) as caught:
        admin.batch_import_evidence_to_assessment_control(
            assessmentId=aid, controlSetId="Set", controlId=control_id,
            manualEvidence=[{"textResponse": "late"}])
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert evidence_items(admin, aid, control_id) == []


def test_s3_objects_become_evidence(server, moto):
    client = s3(moto)
    client.create_bucket(Bucket="audit-uploads")
    client.put_object(Bucket="audit-uploads", Key="2026/network-diagram.png", Body=b"\x89PNG diagram")
    admin = server.client()
    aid, control_id = make_assessment(server)
    errors = admin.batch_import_evidence_to_assessment_control(
        assessmentId=aid, controlSetId="Set", controlId=control_id,
        manualEvidence=[{"s3ResourcePath": "s3://audit-uploads/2026/network-diagram.png"},
                        {"s3ResourcePath": "s3://no-such-bucket/x.png"}])["errors"]
    assert len(errors) == 1 and errors[0]["manualEvidence"]["s3ResourcePath"].startswith("s3://no-such")
    items = evidence_items(admin, aid, control_id)
    assert [e["attributes"]["fileName"] for e in items] == ["network-diagram.png"]
    assert list(server.services.ledger.verify()) == []


def test_s3_reads_on_a_callers_behalf_only_from_allowed_buckets(server, moto):
    """Issue 18, confused deputy: a delegate names an object in a bucket no admin allowed;
    Assay's own credentials could read it, but Assay does not, and the answer is the same
    whether the object, the bucket, or neither exists."""
    client = s3(moto)
    client.create_bucket(Bucket="hr-private")
    client.put_object(Bucket="hr-private", Key="2026/salaries.csv", Body=b"name,salary\n")
    client.create_bucket(Bucket="audit-uploads")
    aid, control_id = make_assessment(server)
    delegate_identity = server.identity("delegate")
    admin = server.client()
    admin.batch_create_delegation_by_assessment(assessmentId=aid, createDelegationRequests=[
        {"controlSetId": "Set", "roleArn": delegate_identity.arn, "roleType": "RESOURCE_OWNER"}])
    delegate = server.client(delegate_identity)
    paths = ["s3://hr-private/2026/salaries.csv", "s3://hr-private/2026/missing.csv",
             "s3://no-such-bucket-anywhere/x.csv"]
    errors = delegate.batch_import_evidence_to_assessment_control(
        assessmentId=aid, controlSetId="Set", controlId=control_id,
        manualEvidence=[{"s3ResourcePath": p} for p in paths])["errors"]
    assert [e["manualEvidence"]["s3ResourcePath"] for e in errors] == paths
    messages = {e["errorMessage"].replace(e["manualEvidence"]["s3ResourcePath"], "<path>")
                .replace("hr-private", "<bucket>").replace("no-such-bucket-anywhere", "<bucket>")
                for e in errors}
    assert len(messages) == 1, messages  # the same answer whatever exists
    assert "salary" not in str(errors)
    # In an allowed bucket, a missing object and an unreadable one answer alike too.
    errors = delegate.batch_import_evidence_to_assessment_control(
        assessmentId=aid, controlSetId="Set", controlId=control_id,
        manualEvidence=[{"s3ResourcePath": "s3://audit-uploads/none.csv"}])["errors"]
    assert "NoSuchKey" not in errors[0]["errorMessage"]
    assert "no such object, or Assay may not read it" in errors[0]["errorMessage"]
    assert evidence_items(admin, aid, control_id) == []
    # Report destinations: only allowed buckets.
    with pytest.raises(ClientError) as caught:
        admin.update_assessment(assessmentId=aid, scope={"awsAccounts": [{"id": "111122223333"}]},
                                assessmentReportsDestination={"destinationType": "S3",
                                                              "destination": "s3://hr-private/x"})
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert "hr-private" in caught.value.response["Error"]["Message"]
    # An admin allows a bucket through the settings' default destination: then it is used.
    admin.update_settings(defaultAssessmentReportsDestination={
        "destinationType": "S3", "destination": "s3://hr-private/reports"})
    try:
        delegate.batch_import_evidence_to_assessment_control(
            assessmentId=aid, controlSetId="Set", controlId=control_id,
            manualEvidence=[{"s3ResourcePath": "s3://hr-private/2026/salaries.csv"}])
        assert [e["attributes"]["fileName"] for e in evidence_items(admin, aid, control_id)] \
            == ["salaries.csv"]
    finally:
        admin.update_settings(defaultAssessmentReportsDestination={})


@pytest.fixture(scope="module", params=backends())
def s3_blob_server(request, tmp_path_factory, moto):
    s3(moto).create_bucket(Bucket="assay-blobs")
    server = AssayServer.start(tmp_path_factory.mktemp("s3blobs"), request.param,
                               blob_url="s3://assay-blobs/evidence")
    yield server
    server.stop()


def test_blobs_on_s3_use_presigned_upload_urls(s3_blob_server, moto):
    server = s3_blob_server
    admin = server.client()
    upload = admin.get_evidence_file_upload_url(fileName="policy.pdf")
    assert upload["uploadUrl"].startswith(moto) and "Signature" in upload["uploadUrl"]
    assert httpx.put(upload["uploadUrl"], content=b"%PDF policy").status_code == 200
    aid, control_id = make_assessment(server)
    assert admin.batch_import_evidence_to_assessment_control(
        assessmentId=aid, controlSetId="Set", controlId=control_id,
        manualEvidence=[{"evidenceFileName": upload["evidenceFileName"]}])["errors"] == []
    items = evidence_items(admin, aid, control_id)
    digest = items[0]["attributes"]["sha256"]
    stored = s3(moto).get_object(Bucket="assay-blobs", Key=f"evidence/{digest[:2]}/{digest}")
    assert stored["Body"].read() == b"%PDF policy"
    assert list(server.services.ledger.verify()) == []
