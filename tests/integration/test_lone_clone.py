"""The repository stands alone: a clone with nothing beside it rebuilds the
standard library to the committed bytes and passes the unit suite.

Runs on the committed state (HEAD), as CI sees it.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run(args: list[str], cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


def test_clone_builds_the_library_and_passes_the_unit_suite(tmp_path):
    clone = tmp_path / "assay"
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(REPO), str(clone)], check=True,
                   capture_output=True, timeout=300)
    assert [p.name for p in tmp_path.iterdir()] == ["assay"]  # nothing beside the clone
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASSAY_", "PYTEST_"))}
    env["PYTHONPATH"] = str(clone / "src")
    env["ASSAY_TEST_BACKENDS"] = "sqlite"

    built = run([sys.executable, "tools/library/build_all.py"], clone, env)
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    assert "loaded <Library" in built.stdout
    changed = run(["git", "status", "--porcelain"], clone, env).stdout
    assert changed == "", f"the builders' output differs from the committed data:\n{changed}"

    unit = run([sys.executable, "-m", "pytest", "tests/unit", "-q", "-x", "-p", "no:cacheprovider"],
               clone, env)
    assert unit.returncode == 0, unit.stdout[-3000:] + unit.stderr[-2000:]
    # Imports came from the clone, not from this checkout.
    probe = run([sys.executable, "-c", "import assay; print(assay.__file__)"], clone, env)
    assert probe.stdout.strip().startswith(str(clone))
