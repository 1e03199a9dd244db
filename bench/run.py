"""Run benchmarks in bench/ and print their results (record them in bench/README.md).

    python bench/run.py                          every benchmark, with its defaults
    python bench/run.py cloudtrail report        those benchmarks
    python bench/run.py cloudtrail -- --workers 2   options after -- go to each benchmark named
"""

from __future__ import annotations

import importlib
import inspect
import sys
from pathlib import Path

HERE = Path(__file__).parent
BENCHMARKS = ["api", "cloudtrail", "cloudtrail_stages", "library", "org_scale", "report",
              "evidence_query"]


def main(argv: list[str]) -> None:
    names, options = argv, []
    if "--" in argv:
        at = argv.index("--")
        names, options = argv[:at], argv[at + 1:]
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        raise SystemExit(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    # Imported as modules of bench/ (not run as scripts), so worker processes they spawn can
    # import them again by name.
    sys.path.insert(0, str(HERE))
    for name in names or BENCHMARKS:
        module = importlib.import_module(name)
        print(f"== {name}", flush=True)
        # A benchmark's own argument parser must never see run.py's arguments: it gets the
        # options after "--", as its parameter or as its sys.argv.
        ours, sys.argv = sys.argv, [str(HERE / f"{name}.py"), *options]
        try:
            if inspect.signature(module.main).parameters:
                module.main(options)
            else:
                module.main()
        finally:
            sys.argv = ours


if __name__ == "__main__":
    main(sys.argv[1:])
