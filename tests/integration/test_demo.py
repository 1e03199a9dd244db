"""`assay demo` (what `make demo` runs): a sandbox AWS, an assessment of a standard framework
over two accounts, evidence collected, the API serving it. Embedded default only (SQLite).

The first demo, on a fresh home, serves README's "The first hour" run verbatim from a second
shell; a second demo on the same home must then show the same data (a re-run adds nothing)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from support import wait_for_port

ASSAY = str(Path(sys.executable).with_name("assay"))
README = Path(__file__).parents[2] / "README.md"
MARKER = "<!-- walkthrough:"


def clean_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ASSAY_"))}
    env["ASSAY_COLLECT_INTERVAL"] = "0"
    return env


def start_demo(home: Path):
    """`assay demo` in its own process, until it listens: (process, port, what it printed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen([ASSAY, "demo", "--home", str(home), "--port", str(port)],
                               env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
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
    return process, port, output


def stop(process) -> None:
    if process.poll() is None:
        process.terminate()
    process.wait(timeout=60)


def demo_client(home: Path, port: int):
    credentials = (home / "credentials").read_text().split()
    key = credentials[credentials.index("aws_access_key_id") + 2]
    secret = credentials[credentials.index("aws_secret_access_key") + 2]
    return boto3.client("auditmanager", endpoint_url=f"http://127.0.0.1:{port}",
                        region_name="us-east-1", aws_access_key_id=key,
                        aws_secret_access_key=secret,
                        config=Config(retries={"total_max_attempts": 1}))


def snapshot(client) -> dict:
    """What a person would compare between two demos: the assessment, its scope, its counts."""
    (assessment,) = client.list_assessments()["assessmentMetadata"]
    full = client.get_assessment(assessmentId=assessment["id"])["assessment"]
    insights = client.get_insights_by_assessment(assessmentId=assessment["id"])["insights"]
    return {"id": assessment["id"], "name": assessment["name"],
            "accounts": sorted(a["id"] for a in full["metadata"]["scope"]["awsAccounts"]),
            "counts": {k: v for k, v in insights.items() if k.endswith("Count")}}


@pytest.fixture(scope="module")
def first_demo(tmp_path_factory):
    """`make demo` on a fresh home, running: {"home", "port", "output", "process", "snapshot"}."""
    home = tmp_path_factory.mktemp("demo") / "home"
    process, port, output = start_demo(home)
    try:
        yield {"home": home, "port": port, "output": output, "process": process,
               "snapshot": snapshot(demo_client(home, port))}
    finally:
        stop(process)


def walkthrough_block() -> str:
    text = README.read_text()
    start = text.index(MARKER)
    block = re.search(r"```sh\n(.*?)```", text[start:], re.S)
    assert block, "README's walkthrough block is missing"
    return block.group(1)


def test_readme_walkthrough_runs_verbatim(first_demo, tmp_path):
    """README's "The first hour": the demo in one shell, the documented block in a second shell
    that has only the export line the demo printed."""
    home, port, output = first_demo["home"], first_demo["port"], first_demo["output"]
    work = tmp_path / "shell-2"
    work.mkdir()
    exports = next(line.strip() for line in output.splitlines()
                   if line.strip().startswith("export ") and "ASSAY_HOME=" in line)
    # Only the port differs from the README's: the test cannot take 8765 for itself.
    block = walkthrough_block().replace("127.0.0.1:8765", f"127.0.0.1:{port}")
    env = clean_env()
    env["PATH"] = os.defpath  # a fresh shell: the virtual environment comes from the export
    env["HOME"] = str(tmp_path)
    env.pop("ASSAY_COLLECT_INTERVAL")
    done = subprocess.run(["bash", "-e", "-x", "-c", f"{exports}\n{block}"], cwd=work, env=env,
                          capture_output=True, text=True, timeout=600)
    transcript = done.stdout + done.stderr
    assert done.returncode == 0, transcript
    assert "Traceback" not in transcript
    assert "report OK" in done.stdout, transcript
    assert (work / "first-look.zip").stat().st_size > 0
    assert str(home) in done.stdout  # assay info named the demo's home


def test_demo_is_repeatable_and_reachable_from_a_second_shell(first_demo):
    home, first = first_demo["home"], first_demo["snapshot"]
    stop(first_demo["process"])
    assert first["name"] == "Demo: CIS AWS Foundations Benchmark v3.0.0"
    assert first["accounts"] == ["123456789012", "210987654321"]
    # A realistic mix: both passing and failing checks were collected.
    assert first["counts"]["compliantEvidenceCount"] > 0
    assert first["counts"]["noncompliantEvidenceCount"] > 0

    process, port, output = start_demo(home)  # make demo again: the same data, nothing new
    try:
        client = demo_client(home, port)
        assert snapshot(client) == first
        # CIS 2.1.2 (MFA Delete) is tested by S3.20: the versioned bucket without MFA Delete fails.
        assessment = client.get_assessment(assessmentId=first["id"])["assessment"]
        control_set, control = next(
            (cs, c) for cs in assessment["framework"]["controlSets"] for c in cs["controls"]
            if c["name"].startswith("CIS AWS v3.0.0 2.1.2 "))
        evidence = []
        for folder in client.get_evidence_folders_by_assessment_control(
                assessmentId=first["id"], controlSetId=control_set["id"],
                controlId=control["id"])["evidenceFolders"]:
            evidence += client.get_evidence_by_evidence_folder(
                assessmentId=first["id"], controlSetId=control_set["id"],
                evidenceFolderId=folder["id"], maxResults=1000)["evidence"]
        failed = {r.get("arn") for e in evidence if e.get("complianceCheck") == "FAILED"
                  for r in e.get("resourcesIncluded", []) if e.get("eventName") == "S3.20"}
        assert any(arn and arn.endswith("-backups") for arn in failed), evidence[:3]
        assert not any(e.get("eventName") == "S3.14" for e in evidence)
        # The second shell: exactly the lines the demo printed, in a shell with nothing set.
        exports = next(line.strip() for line in output.splitlines()
                       if line.strip().startswith("export ") and "ASSAY_HOME=" in line)
        collect = next(line.strip() for line in output.splitlines()
                       if " collect --assessment " in line)
        done = subprocess.run(["bash", "-c", f"{exports}\n{collect}"], env=clean_env(),
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "NoCredentialsError" not in done.stdout + done.stderr
        assert snapshot(client) == first
        status = subprocess.run(["bash", "-c", f"{exports}\n{ASSAY} status"], env=clean_env(),
                                capture_output=True, text=True, timeout=120)
        assert status.returncode == 0 and first["id"] in status.stdout, status.stdout
        # Seeded checks are plausible: a Config rule on S3 buckets evaluated only buckets.
        evidence = []
        for control_set in client.get_assessment(assessmentId=first["id"])["assessment"][
                "framework"]["controlSets"]:
            folders = client.get_evidence_folders_by_assessment_control(
                assessmentId=first["id"], controlSetId=control_set["id"],
                controlId=control_set["controls"][0]["id"])["evidenceFolders"]
            for folder in folders:
                evidence += client.get_evidence_by_evidence_folder(
                    assessmentId=first["id"], controlSetId=control_set["id"],
                    evidenceFolderId=folder["id"], maxResults=1000)["evidence"]
        s3_checks = [e for e in evidence if e.get("eventName", "").startswith("S3_BUCKET")]
        for item in s3_checks:
            assert all(r.get("arn", "").startswith("arn:aws:s3:::")
                       for r in item.get("resourcesIncluded", [])), item
    finally:
        stop(process)
