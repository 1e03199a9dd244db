"""Build src/assay/library/data/gdpr.json from gdpr.py.

    .venv/bin/python tools/library/extra/build_gdpr.py
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import extra_common  # noqa: E402
import gdpr as content  # noqa: E402

OUTPUT = "gdpr.json"


def main(out_dir=None) -> Path:
    return extra_common.build(content, OUTPUT, out_dir)


if __name__ == "__main__":
    main()
