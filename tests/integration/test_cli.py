"""The `assay` command as users type it: serve's first start, keys, --home and ASSAY_HOME."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support import free_port, run, wait_for_port

BIN = Path(sys.executable).parent
ASSAY, AWS = str(BIN / "assay"), str(BIN / "aws")


@pytest.fixture
def served(tmp_path):
    home, port = tmp_path / "home", free_port()
    process = subprocess.Popen([ASSAY, "serve", "--home", str(home), "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    deadline = time.time() + 60
    while time.time() < deadline:
        line = process.stdout.readline()
        lines.append(line)
        if "listening on" in line:
            break
    wait_for_port(port)
    yield home, f"http://127.0.0.1:{port}", "".join(lines)
    process.terminate()
    process.wait(timeout=30)


def new_instance(home: Path) -> str:
    """An instance made the way `assay serve` makes one, without serving."""
    from assay.config import load_settings
    from assay.service import open_services

    open_services(load_settings(home)).close()
    return str(home)


def aws_env(home: Path, tmp: Path) -> dict:
    return {"AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"),
            "AWS_CONFIG_FILE": str(tmp / "no-config"), "HOME": str(tmp)}


def test_first_start_writes_credentials_and_prints_the_aws_line(served, tmp_path):
    home, url, output = served
    credentials = home / "credentials"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert "[assay]" in credentials.read_text()
    assert f"aws --profile assay --endpoint-url {url} auditmanager" in output
    listed = run(AWS, "--profile", "assay", "--endpoint-url", url, "auditmanager",
                 "list-assessment-frameworks", "--framework-type", "Standard",
                 env=aws_env(home, tmp_path))
    names = [f["name"] for f in json.loads(listed.stdout)["frameworkMetadataList"]]
    assert any("Foundational Security" in n for n in names)


def test_keys_take_effect_at_once_while_serving(served, tmp_path):
    home, url, _ = served
    created = json.loads(run(ASSAY, "keys", "create", "--name", "carol", "--role", "auditor",
                             "--json", env={"ASSAY_HOME": str(home)}).stdout)
    assert set(created) == {"AccessKeyId", "SecretAccessKey", "Arn", "Role"}
    assert created["Arn"].endswith(":role/carol") and created["Role"] == "auditor"
    env = {"AWS_ACCESS_KEY_ID": created["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": created["SecretAccessKey"],
           "AWS_DEFAULT_REGION": "eu-west-1", "AWS_CONFIG_FILE": str(tmp_path / "none"),
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}
    run(AWS, "--endpoint-url", url, "auditmanager", "list-controls", "--control-type", "Custom", env=env)
    denied = run(AWS, "--endpoint-url", url, "auditmanager", "create-control", "--name", "x",
                 "--control-mapping-sources", '[{"sourceName":"m","sourceType":"MANUAL"}]',
                 env=env, check=False)
    assert denied.returncode != 0 and "AccessDeniedException" in denied.stderr

    listing = run(ASSAY, "keys", "list", "--json", "--home", str(home)).stdout
    assert {k["Name"] for k in json.loads(listing)} == {"admin", "carol"}
    assert created["SecretAccessKey"] not in listing
    run(ASSAY, "keys", "revoke", created["AccessKeyId"], "--home", str(home))
    refused = run(AWS, "--endpoint-url", url, "auditmanager", "list-controls", "--control-type",
                  "Custom", env=env, check=False)
    assert refused.returncode != 0 and "UnrecognizedClientException" in refused.stderr


def test_keys_refuse_bad_input(tmp_path):
    home = new_instance(tmp_path / "h")
    bad_role = run(ASSAY, "keys", "create", "--name", "x", "--role", "root", "--home", home, check=False)
    assert bad_role.returncode == 1 and "Role must be one of" in bad_role.stderr
    run(ASSAY, "keys", "create", "--name", "dup", "--role", "admin", "--home", home)
    again = run(ASSAY, "keys", "create", "--name", "dup", "--role", "admin", "--home", home, check=False)
    assert again.returncode == 1 and "already exists" in again.stderr
    missing = run(ASSAY, "keys", "revoke", "AKASNOPE", "--home", home, check=False)
    assert missing.returncode == 1


def test_secrets_are_encrypted_at_rest(tmp_path):
    home = tmp_path / "h"
    new_instance(home)
    created = json.loads(run(ASSAY, "keys", "create", "--name", "enc", "--role", "admin", "--json",
                             "--home", str(home)).stdout)
    database = b"".join(p.read_bytes() for p in home.glob("assay.db*"))  # with the WAL
    assert created["AccessKeyId"].encode() in database
    assert created["SecretAccessKey"].encode() not in database


def test_public_key_and_library_stats(tmp_path):
    home = new_instance(tmp_path / "h")
    pem = run(ASSAY, "keys", "public", "--home", home).stdout
    assert pem.startswith("-----BEGIN PUBLIC KEY-----")
    stats = json.loads(run(ASSAY, "library", "stats", "--json").stdout)
    assert all(0 <= row["automated_share"] <= 1 for row in stats) and stats


# Every command that works on an instance, with arguments that would otherwise be valid.
INSTANCE_COMMANDS = [
    ["keys", "create", "--name", "x", "--role", "admin"], ["keys", "list"],
    ["keys", "revoke", "AKASNOPE"], ["keys", "public"], ["ledger", "verify"],
    ["status"], ["collect", "--assessment", "00000000-0000-0000-0000-000000000000"],
    ["assessment", "regions", "00000000-0000-0000-0000-000000000000"],
    ["report", "list"], ["peers", "list"],
]


@pytest.mark.parametrize("command", INSTANCE_COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_no_command_but_serve_and_demo_creates_an_instance(tmp_path, command):
    home = tmp_path / "nothing-here"
    done = run(ASSAY, *command, "--home", str(home), check=False)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert f"No Assay instance here (home {home}" in done.stderr
    assert "--home" in done.stderr and "ASSAY_HOME" in done.stderr
    assert not home.exists()  # nothing was created in looking
    by_env = run(ASSAY, *command, env={"ASSAY_HOME": str(home)}, check=False)
    assert by_env.returncode == 2 and not home.exists()


def test_info_names_the_instance_a_command_uses(tmp_path):
    home = tmp_path / "h"
    missing = run(ASSAY, "info", "--json", "--home", str(home), check=False)
    assert missing.returncode == 2
    assert json.loads(missing.stdout)["instance"] is False and not home.exists()
    new_instance(home)
    facts = json.loads(run(ASSAY, "info", "--json", env={"ASSAY_HOME": str(home)}).stdout)
    assert facts["home"] == str(home) and facts["homeFrom"] == "ASSAY_HOME"
    assert facts["instance"] is True and facts["database"] == f"sqlite:///{home / 'assay.db'}"
