"""Control domains of the standard library (written by us, in tables/domains.yaml) ->
data/domains.json.

A domain groups controls by the security area they address, whatever framework they come
from. Its id is the control-catalog style ARN `arn:aws:controlcatalog:::domain/<key>`.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
import tables  # noqa: E402

# key -> (name, description), from tables/domains.yaml (each row with its source).
DOMAINS: dict[str, tuple[str, str]] = {
    r["key"]: (r["name"], r["description"])
    for r in tables.rows("domains.yaml", "key", {"key": str, "name": str, "description": str})}


def main() -> Path:
    payload = {
        "provenance": "Written for Assay by its authors (tools/library/domains.py).",
        "domains": [{"key": k, "name": n, "description": d} for k, (n, d) in DOMAINS.items()],
    }
    path = common.write_data("domains", payload, force_gzip=False)
    print(f"wrote {path.relative_to(common.REPO)}")
    return path


if __name__ == "__main__":
    main()
