"""Build src/assay/library/data/soc2.json from soc2_tsc.py.

    .venv/bin/python tools/library/extra/build_soc2.py
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import extra_common  # noqa: E402
import soc2_tsc as content  # noqa: E402

OUTPUT = "soc2.json"


def main(out_dir=None) -> Path:
    return extra_common.build(content, OUTPUT, out_dir)


if __name__ == "__main__":
    main()
