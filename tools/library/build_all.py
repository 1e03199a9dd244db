"""Rebuild every data file of the standard library, then load and check the result.

    .venv/bin/python tools/library/build_all.py

Runs the builders in dependency order (keyword catalogue and domains first, because the loader
checks controls against them), then every tools/library/extra/build_*.py module's main(), then
loads the library with assay.library.load_library and prints per-framework statistics.
Output is deterministic: running this twice gives byte-identical files.
"""
from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import build_fedramp  # noqa: E402
import build_fsbp  # noqa: E402
import build_keywords  # noqa: E402
import build_nist  # noqa: E402
import common  # noqa: E402
import domains  # noqa: E402


def extra_builders() -> list[Path]:
    folder = HERE / "extra"
    return sorted(folder.glob("build_*.py")) if folder.is_dir() else []


def run_extra(path: Path) -> None:
    name = f"assay_library_extra_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
        module.main()
    except Exception as e:
        raise SystemExit(f"{path.relative_to(common.REPO)} failed: {type(e).__name__}: {e}") from e


def main() -> None:
    build_keywords.main()
    domains.main()
    build_fsbp.main()
    build_nist.main()
    build_fedramp.main()
    for path in extra_builders():
        run_extra(path)

    sys.path.insert(0, str(common.REPO / "src"))
    from assay.library import load_library

    start = time.perf_counter()
    library = load_library(common.DATA_DIR)
    elapsed = time.perf_counter() - start
    print(f"loaded {library!r} in {elapsed * 1000:.0f} ms")
    for row in library.stats():
        print(
            f"  {row['key']:<32} {row['controls']:>5} controls {row['control_sets']:>3} sets "
            f"{row['automated']:>5} automated ({row['automated_share']:.0%})"
        )


if __name__ == "__main__":
    main()
