"""Loading the standard library at start-up: its cost against the whole server start (open the
store, migrate, load the library, build the app), each measured cold in fresh processes in the
same run. Run: `python bench/library.py` or `make bench`."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile

RUNS = 5
LOAD = """
import time
t = time.perf_counter()
from assay.library import load_library
library = load_library()
print(time.perf_counter() - t)
"""
START = """
import sys, time
t = time.perf_counter()
from assay.api.app import create_app
from assay.config import load_settings
from assay.service import open_services
create_app(open_services(load_settings(sys.argv[1])))
print(time.perf_counter() - t)
"""


def timed(code: str, *args: str) -> float:
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          check=True)
    return float(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> dict:
    home = tempfile.mkdtemp(prefix="assay-bench-lib-")
    timed(START, home)  # first start creates the database; later starts are the usual case
    load = [timed(LOAD) for _ in range(RUNS)]
    start = [timed(START, home) for _ in range(RUNS)]
    report = {"library_load_seconds": round(statistics.median(load), 3),
              "server_start_seconds": round(statistics.median(start), 3),
              "library_share_of_start": round(statistics.median(load) / statistics.median(start), 3)}
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
