"""`assay demo` (what `make demo` runs): a sandbox AWS, an assessment of a standard framework
over two accounts, evidence collected, the API serving it. Embedded default only (SQLite)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
from botocore.config import Config
from support import wait_for_port

ASSAY = str(Path(sys.executable).with_name("assay"))


def test_demo_collects_and_serves(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ASSAY_"))}
    env["ASSAY_COLLECT_INTERVAL"] = "0"
    process = subprocess.Popen([ASSAY, "demo", "--home", str(tmp_path), "--port", str(port)],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        deadline = time.time() + 300
        while time.time() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "listening on" in line:
                break
        output = "".join(lines)
        assert "listening on" in output, output
        assert "evidence items collected" in output and "Traceback" not in output
        wait_for_port(port)
        credentials = (tmp_path / "credentials").read_text().split()
        key = credentials[credentials.index("aws_access_key_id") + 2]
        secret = credentials[credentials.index("aws_secret_access_key") + 2]
        client = boto3.client("auditmanager", endpoint_url=f"http://127.0.0.1:{port}",
                              region_name="us-east-1", aws_access_key_id=key,
                              aws_secret_access_key=secret,
                              config=Config(retries={"total_max_attempts": 1}))
        assessments = client.list_assessments()["assessmentMetadata"]
        assert [a["name"] for a in assessments] == ["Demo: CIS AWS Foundations Benchmark v3.0.0"]
        assessment = client.get_assessment(assessmentId=assessments[0]["id"])["assessment"]
        assert len(assessment["metadata"]["scope"]["awsAccounts"]) == 2
        insights = client.get_insights_by_assessment(assessmentId=assessments[0]["id"])["insights"]
        # A realistic mix: both passing and failing checks were collected.
        assert insights["compliantEvidenceCount"] > 0 and insights["noncompliantEvidenceCount"] > 0
        # CIS 2.1.2 (MFA Delete) is tested by S3.20: the versioned bucket without MFA Delete fails.
        assessment_id = assessments[0]["id"]
        control_set, control = next(
            (cs, c) for cs in assessment["framework"]["controlSets"] for c in cs["controls"]
            if c["name"].startswith("CIS AWS v3.0.0 2.1.2 "))
        evidence = []
        for folder in client.get_evidence_folders_by_assessment_control(
                assessmentId=assessment_id, controlSetId=control_set["id"],
                controlId=control["id"])["evidenceFolders"]:
            evidence += client.get_evidence_by_evidence_folder(
                assessmentId=assessment_id, controlSetId=control_set["id"],
                evidenceFolderId=folder["id"], maxResults=1000)["evidence"]
        failed = {r.get("arn") for e in evidence if e.get("complianceCheck") == "FAILED"
                  for r in e.get("resourcesIncluded", []) if e.get("eventName") == "S3.20"}
        assert any(arn and arn.endswith("-backups") for arn in failed), evidence[:3]
        assert not any(e.get("eventName") == "S3.14" for e in evidence)
    finally:
        process.terminate()
        process.wait(timeout=60)
