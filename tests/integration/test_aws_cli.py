"""The Audit Manager blog's custom-framework flow, typed as a user types it, with the real
`aws` command against Assay."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

AWS = str(Path(sys.executable).with_name("aws"))


def aws(server, identity, *args, cwd: Path) -> dict:
    env = {
        "PATH": os.environ.get("PATH", ""), "HOME": str(cwd),
        "AWS_ACCESS_KEY_ID": identity.key_id, "AWS_SECRET_ACCESS_KEY": identity.secret,
        "AWS_DEFAULT_REGION": "us-west-2", "AWS_CONFIG_FILE": str(cwd / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(cwd / "none"),
    }
    done = subprocess.run([AWS, "--endpoint-url", server.url, "--output", "json", "auditmanager", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else {}


def test_blog_flow_custom_control_and_framework(server, tmp_path):
    admin = server.admin
    (tmp_path / "controlmapping.json").write_text(json.dumps([{
        "sourceName": "ConsoleLogin",
        "sourceSetUpOption": "System_Controls_Mapping",
        "sourceType": "AWS_Cloudtrail",
        "sourceKeyword": {"keywordInputType": "SELECT_FROM_LIST", "keywordValue": "signin_ConsoleLogin"},
    }]))
    created = aws(server, admin, "create-control", "--name", "Console sign-in activity",
                  "--description", "Evidence of console logins",
                  "--control-mapping-sources", "file://controlmapping.json", cwd=tmp_path)["control"]
    assert created["controlSources"] == "AWS CloudTrail"
    assert created["arn"].startswith("arn:aws:auditmanager:us-west-2:")

    custom_ids = aws(server, admin, "list-controls", "--control-type", "Custom",
                     "--query", "controlMetadataList[?name=='Console sign-in activity'].id",
                     cwd=tmp_path)
    assert custom_ids == [created["id"]]
    standard_ids = aws(server, admin, "list-controls", "--control-type", "Standard",
                       "--max-results", "2", "--query", "controlMetadataList[].id", cwd=tmp_path)
    assert len(standard_ids) == 2

    (tmp_path / "control-sets.json").write_text(json.dumps([
        {"name": "Custom", "controls": [{"id": created["id"]}]},
        {"name": "Standard", "controls": [{"id": i} for i in standard_ids]},
    ]))
    framework = aws(server, admin, "create-assessment-framework", "--name", "Blog framework",
                    "--description", "A console-login control and two standard controls",
                    "--control-sets", "file://control-sets.json", cwd=tmp_path)["framework"]

    read = aws(server, admin, "get-assessment-framework", "--framework-id", framework["id"],
               cwd=tmp_path)["framework"]
    assert [s["name"] for s in read["controlSets"]] == ["Custom", "Standard"]
    assert [c["id"] for c in read["controlSets"][1]["controls"]] == standard_ids
    listed = aws(server, admin, "list-assessment-frameworks", "--framework-type", "Custom",
                 "--query", "frameworkMetadataList[?name=='Blog framework'].controlsCount", cwd=tmp_path)
    assert listed == [3]


def test_cli_reports_aws_errors(server, tmp_path):
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path),
           "AWS_ACCESS_KEY_ID": server.admin.key_id, "AWS_SECRET_ACCESS_KEY": server.admin.secret,
           "AWS_DEFAULT_REGION": "us-east-1"}
    done = subprocess.run([AWS, "--endpoint-url", server.url, "auditmanager", "get-control",
                           "--control-id", "00000000-0000-4000-8000-000000000000"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "ResourceNotFoundException" in done.stderr
