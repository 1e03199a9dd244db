"""botocore's static data (service models, endpoint data) is read without the AWS profile: an
AWS_PROFILE naming a profile this host does not have (a user's shell, a deploy environment
meant for another tool) must not break the API's wire protocol, the keyword checks or `assay
apply`'s file checks. Each case runs in a fresh interpreter: the models are cached per process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[2] / "src")


def run_python(code: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    environment.update({
        "PYTHONPATH": SRC,
        "AWS_CONFIG_FILE": str(tmp_path / "config"),  # absent unless a test writes it
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
        "AWS_PROFILE": "no-such-profile",
        **env,
    })
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=environment,
                          capture_output=True, text=True, timeout=120)


def test_wire_model_and_keyword_data_do_not_read_the_profile(tmp_path):
    done = run_python("""
        from assay.api import wire
        from assay.collect import api_call
        assert wire.service_model().service_name == "auditmanager"
        assert api_call.iam_action("iam_ListUsers") == "iam:ListUsers"
        assert api_call.global_region("iam") == "us-east-1"
        print("ok")
    """, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_library_files_are_checked_whatever_the_profile(tmp_path):
    library = tmp_path / "lib.yaml"
    library.write_text(textwrap.dedent("""
        controls:
          - name: Users
            controlMappingSources:
              - sourceName: users
                sourceType: AWS_API_Call
                sourceKeyword: {keywordValue: iam_ListUsers}
    """))
    done = run_python(f"""
        from assay.fac import load
        definitions = load([{str(library)!r}])
        print(sorted(definitions.controls))
    """, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['Users']"


@pytest.mark.parametrize("where", ["environment", "profile"])
def test_a_data_path_still_extends_the_models(tmp_path, where):
    """A data path (a folder of extra or newer models) keeps working as it did, from
    AWS_DATA_PATH (also when AWS_PROFILE names no profile) or from the profile's ``data_path``."""
    model = tmp_path / "models" / "auditmanager" / "2017-07-25" / "service-2.json"
    model.parent.mkdir(parents=True)
    model.write_text('{"version": "2.0", "metadata": {"apiVersion": "2017-07-25", '
                     '"protocol": "rest-json", "serviceId": "Marker", '
                     '"endpointPrefix": "auditmanager"}, "operations": {}, "shapes": {}}')
    code = """
        from assay.api import wire
        print(wire.service_model().metadata["serviceId"])
    """
    if where == "environment":
        done = run_python(code, tmp_path, AWS_DATA_PATH=str(tmp_path / "models"))
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "Marker"
    else:
        (tmp_path / "config").write_text(f"[profile p]\ndata_path = {tmp_path / 'models'}\n")
        done = run_python(code, tmp_path, AWS_PROFILE="p")
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "Marker"
