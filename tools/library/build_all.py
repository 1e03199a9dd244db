"""Rebuild every data file of the standard library, then load and check the result.

    .venv/bin/python tools/library/build_all.py

Runs the builders in dependency order (keyword catalogue and domains first, because the loader
checks controls against them), then build_frameworks (every tools/library/frameworks/*.yaml),
then loads the library with assay.library.load_library and prints per-framework statistics.
Output is deterministic: running this twice gives byte-identical files. A retired or unknown
Security Hub control or Config rule anywhere fails the build, naming it.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import build_fedramp  # noqa: E402
import build_frameworks  # noqa: E402
import build_fsbp  # noqa: E402
import build_keywords  # noqa: E402
import build_nist  # noqa: E402
import build_nist_xml  # noqa: E402
import common  # noqa: E402
import domains  # noqa: E402


def main() -> None:
    build_keywords.main()
    domains.main()
    build_fsbp.main()
    build_nist.main()
    build_fedramp.main()
    try:
        build_frameworks.main([])
        build_nist_xml.main()
    except build_frameworks.BuildError as e:
        raise SystemExit(f"library build failed:\n{e}") from e

    sys.path.insert(0, str(common.REPO / "src"))
    from assay.library import load_library

    start = time.perf_counter()
    library = load_library(common.DATA_DIR)
    elapsed = time.perf_counter() - start
    print(f"loaded {library!r} in {elapsed * 1000:.0f} ms")
    for row in library.stats():
        print(
            f"  {row['key']:<32} {row['controls']:>5} controls {row['control_sets']:>3} sets "
            f"{row['automated']:>5} tested ({row['automated_share']:.0%}) "
            f"{row['with_evidence']:>5} with automated evidence ({row['with_evidence_share']:.0%})"
        )


if __name__ == "__main__":
    main()
