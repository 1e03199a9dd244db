"""Build src/assay/library/data/pci-dss-v4.json from pci_dss_v4.py.

    .venv/bin/python tools/library/extra/build_pci.py
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import extra_common  # noqa: E402
import pci_dss_v4 as content  # noqa: E402

OUTPUT = "pci-dss-v4.json"


def main(out_dir=None) -> Path:
    return extra_common.build(content, OUTPUT, out_dir)


if __name__ == "__main__":
    main()
