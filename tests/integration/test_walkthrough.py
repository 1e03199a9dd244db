"""README's "The first hour", run verbatim: the demo in one shell, the documented block in a
second shell that has only the export line the demo printed."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from test_demo import clean_env, start_demo, stop

README = Path(__file__).parents[2] / "README.md"
MARKER = "<!-- walkthrough:"


def walkthrough_block() -> str:
    text = README.read_text()
    start = text.index(MARKER)
    block = re.search(r"```sh\n(.*?)```", text[start:], re.S)
    assert block, "README's walkthrough block is missing"
    return block.group(1)


def test_readme_walkthrough_runs_verbatim(tmp_path):
    home, work = tmp_path / "demo", tmp_path / "shell-2"
    work.mkdir()
    process, port, output = start_demo(home)
    try:
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
    finally:
        stop(process)
