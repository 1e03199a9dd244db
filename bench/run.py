"""Run every benchmark in bench/ and print their results (record them in bench/README.md)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).parent
BENCHMARKS = ["api", "cloudtrail", "library", "org_scale", "report"]


def main(names: list[str]) -> None:
    for name in names or BENCHMARKS:
        spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        print(f"== {name}")
        module.main()


if __name__ == "__main__":
    main(sys.argv[1:])
