"""Rewrite the sha256 column of MANIFEST.tsv from the files in this folder.

    python tools/library/sources/manifest.py

Run it after replacing a source file with a newer public version (and update that row's
origin, date and licence by hand). The hash is of the uncompressed bytes.
"""
from __future__ import annotations

import csv
import gzip
import hashlib
from pathlib import Path

HERE = Path(__file__).resolve().parent


def digest(stored: str) -> str:
    raw = (HERE / stored).read_bytes()
    return hashlib.sha256(gzip.decompress(raw) if stored.endswith(".gz") else raw).hexdigest()


def main() -> None:
    path = HERE / "MANIFEST.tsv"
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    for row in rows:
        row["sha256"] = digest(row["stored_as"])
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), delimiter="\t", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    main()
