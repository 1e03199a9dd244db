"""Build src/assay/library/data/hipaa-security.json from hipaa_security.py.

    .venv/bin/python tools/library/extra/build_hipaa.py
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import extra_common  # noqa: E402
import hipaa_security as content  # noqa: E402

OUTPUT = "hipaa-security.json"


def main(out_dir=None) -> Path:
    return extra_common.build(content, OUTPUT, out_dir)


if __name__ == "__main__":
    main()
