"""Reports on an S3 destination (moto): written with boto3's standard configuration, downloaded
through an S3 presigned URL, validated in place; a missing bucket ends the build FAILED with
its reason, and nothing is left marked COMPLETE."""

from __future__ import annotations

import io
import time
import zipfile

import boto3
import httpx
import pytest
from botocore.exceptions import ClientError
from support import moto_aws, one_control_assessment, walk

from assay.reports.verify import verify_report

MANUAL = [{"sourceName": "m", "sourceType": "MANUAL"}]


@pytest.fixture(scope="module")
def moto():
    with moto_aws(S3=True) as url:
        yield url


def s3(moto):
    return boto3.client("s3", endpoint_url=moto, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def assessment_with_evidence(server, destination: str) -> str:
    admin = server.client()
    suffix = str(time.time_ns())
    aid, control_id = one_control_assessment(
        server, f"s3 report {suffix}", MANUAL,
        {"destinationType": "S3", "destination": destination}, f"s3 audit {suffix}")
    upload = admin.get_evidence_file_upload_url(fileName="diagram.png")
    assert httpx.put(upload["uploadUrl"], content=b"\x89PNG network diagram").status_code == 200
    assert admin.batch_import_evidence_to_assessment_control(
        assessmentId=aid, controlSetId="Set", controlId=control_id,
        manualEvidence=[{"evidenceFileName": upload["evidenceFileName"]},
                        {"textResponse": "The network is segmented."}])["errors"] == []
    for folder in walk(admin.get_evidence_folders_by_assessment, "evidenceFolders",
                       assessmentId=aid):
        admin.associate_assessment_report_evidence_folder(assessmentId=aid,
                                                          evidenceFolderId=folder["id"])
    return aid


def wait_for(client, report_id: str, timeout: float = 120) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        for report in walk(client.list_assessment_reports, "assessmentReports"):
            if report["id"] == report_id and report["status"] != "IN_PROGRESS":
                return report
        time.sleep(0.1)
    raise AssertionError(f"report {report_id} still IN_PROGRESS")


def test_report_on_s3_round_trip(server, moto, tmp_path):
    bucket = s3(moto)
    bucket.create_bucket(Bucket="audit-reports")
    admin = server.client()
    aid = assessment_with_evidence(server, "s3://audit-reports/fy26/")
    report = admin.create_assessment_report(assessmentId=aid, name="s3-report")["assessmentReport"]
    assert wait_for(admin, report["id"])["status"] == "COMPLETE"
    record = next(r for r in server.services.reports.records() if r["id"] == report["id"])
    path = record["s3RelativePath"]
    assert path.startswith("s3://audit-reports/fy26/s3_audit_") and path.endswith(
        f"/s3-report-{report['id']}.zip")
    key = path[len("s3://audit-reports/"):]
    stored = bucket.get_object(Bucket="audit-reports", Key=key)["Body"].read()

    url = admin.get_assessment_report_url(assessmentId=aid, assessmentReportId=report["id"])[
        "preSignedUrl"]
    assert url["link"].startswith(moto) and "Signature" in url["link"]
    response = httpx.get(url["link"])
    assert response.status_code == 200 and response.content == stored
    zipped = tmp_path / url["hyperlinkName"]
    zipped.write_bytes(response.content)
    assert verify_report(zipped, server.services.signer.public_key).valid
    with zipfile.ZipFile(zipped) as archive:
        assert any(n.endswith("_diagram.png") for n in archive.namelist())

    result = admin.validate_assessment_report_integrity(s3RelativePath=path)
    assert result["signatureValid"] is True and result["validationErrors"] == []

    # Altered in the bucket: one evidence file changed.
    altered = io.BytesIO()
    with zipfile.ZipFile(zipped) as src, zipfile.ZipFile(altered, "w") as out:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename.endswith("_diagram.png"):
                data = data.replace(b"network", b"netw0rk")
                changed = info.filename.split("/", 2)[2]
            out.writestr(info.filename, data)
    bucket.put_object(Bucket="audit-reports", Key=key, Body=altered.getvalue())
    result = admin.validate_assessment_report_integrity(s3RelativePath=path)
    assert result["signatureValid"] is True
    assert result["validationErrors"] == [e for e in result["validationErrors"]
                                          if e.startswith(f"altered: {changed}")] != []

    # Gone from the bucket.
    bucket.delete_object(Bucket="audit-reports", Key=key)
    result = admin.validate_assessment_report_integrity(s3RelativePath=path)
    assert result["signatureValid"] is False and result["validationErrors"][0].startswith("missing:")

    # Deleting the report deletes its object.
    bucket.put_object(Bucket="audit-reports", Key=key, Body=stored)
    admin.delete_assessment_report(assessmentId=aid, assessmentReportId=report["id"])
    with pytest.raises(ClientError):
        bucket.head_object(Bucket="audit-reports", Key=key)


def test_missing_bucket_ends_failed_with_its_reason(server, moto):
    admin = server.client()
    aid = assessment_with_evidence(server, "s3://no-such-report-bucket/reports")
    report = admin.create_assessment_report(assessmentId=aid, name="doomed")["assessmentReport"]
    done = wait_for(admin, report["id"])
    assert done["status"] == "FAILED"
    with pytest.raises(ClientError) as caught:
        admin.get_assessment_report_url(assessmentId=aid, assessmentReportId=report["id"])
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert "FAILED" in error["Message"] and "NoSuchBucket" in error["Message"]
    assert "s3://no-such-report-bucket/reports/" in error["Message"]
    notes = admin.list_notifications()["notifications"]
    assert any("doomed FAILED" in n["description"] and "NoSuchBucket" in n["description"]
               for n in notes)
    record = next(r for r in server.services.reports.records() if r["id"] == report["id"])
    assert "NoSuchBucket" in record["failureReason"] and record["size"] is None
    assert not [r for r in walk(admin.list_assessment_reports, "assessmentReports")
                if r["id"] == report["id"] and r["status"] == "COMPLETE"]
    with pytest.raises(ClientError) as caught:
        admin.validate_assessment_report_integrity(s3RelativePath=record["s3RelativePath"])
    assert "NoSuchBucket" in caught.value.response["Error"]["Message"]
    # A FAILED report can be deleted.
    admin.delete_assessment_report(assessmentId=aid, assessmentReportId=report["id"])


def test_settings_kms_key_encrypts_reports_written_to_s3(server, moto):
    """kmsKey is Audit Manager's customer managed key for the data it keeps ("The KMS key
    details", Settings.kmsKey, API reference). Assay uses it for what it writes to a customer's
    S3: the report zips, with SSE-KMS (S3 PutObject ServerSideEncryption=aws:kms,
    SSEKMSKeyId)."""
    bucket = s3(moto)
    bucket.create_bucket(Bucket="encrypted-reports")
    kms = boto3.client("kms", endpoint_url=moto, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    key_arn = kms.create_key(Description="audit reports")["KeyMetadata"]["Arn"]
    admin = server.client()
    # A value S3 could not use is refused before it is kept.
    with pytest.raises(ClientError) as caught:
        admin.update_settings(kmsKey="arn:aws:kms:us-east-1:111122223333:not-a-key")
    assert caught.value.response["fields"][0]["name"] == "kmsKey"
    admin.update_settings(kmsKey=key_arn)
    try:
        head = report_object(server, bucket, "fy26")
        assert head["ServerSideEncryption"] == "aws:kms"
        assert head["SSEKMSKeyId"] == key_arn
    finally:
        admin.update_settings(kmsKey="DEFAULT")
    # DEFAULT leaves encryption to the bucket's own default.
    assert report_object(server, bucket, "fy27").get("ServerSideEncryption") != "aws:kms"


def report_object(server, bucket, prefix: str) -> dict:
    """HeadObject of a report built to s3://encrypted-reports/<prefix>."""
    admin = server.client()
    aid = assessment_with_evidence(server, f"s3://encrypted-reports/{prefix}")
    report = admin.create_assessment_report(assessmentId=aid, name=prefix)["assessmentReport"]
    assert wait_for(admin, report["id"])["status"] == "COMPLETE"
    record = next(r for r in server.services.reports.records() if r["id"] == report["id"])
    return bucket.head_object(Bucket="encrypted-reports",
                              Key=record["s3RelativePath"][len("s3://encrypted-reports/"):])
