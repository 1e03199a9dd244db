"""tools/library/sources: every input of the library builders is in the repository, unchanged
from its public origin (sha256 per file in MANIFEST.tsv), with origin, date and licence."""
from __future__ import annotations

import csv
import gzip
import hashlib
import re
from pathlib import Path

SOURCES = Path(__file__).resolve().parents[2] / "tools" / "library" / "sources"


def manifest() -> list[dict]:
    with open(SOURCES / "MANIFEST.tsv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def test_every_source_matches_its_manifest_row():
    rows = manifest()
    assert rows
    for row in rows:
        raw = (SOURCES / row["stored_as"]).read_bytes()
        if row["stored_as"].endswith(".gz"):
            raw = gzip.decompress(raw)
        assert hashlib.sha256(raw).hexdigest() == row["sha256"], row["path"]
        assert row["origin"] and row["date"] and row["licence"], row["path"]


def test_every_file_in_the_folder_is_listed_or_documentation():
    listed = {row["stored_as"] for row in manifest()}
    present = {str(p.relative_to(SOURCES)) for p in SOURCES.rglob("*") if p.is_file()}
    assert present - listed == {"MANIFEST.tsv", "README.md", "PROVENANCE.md", "manifest.py"}
    readme = (SOURCES / "README.md").read_text()
    for row in manifest():
        assert f"`{row['path'].split('/')[0]}" in readme or row["path"] in readme, row["path"]


def test_no_builder_or_test_reads_outside_the_repository():
    """The repository stands alone: no builder, test or module names the content folder that
    used to sit beside the checkout (in any spelling of a path to it)."""
    repo = SOURCES.parents[2]
    outside = re.compile(r"shared[\\/\"' ]+content")
    offenders = [str(path.relative_to(repo)) for folder in ("tools", "tests", "src")
                 for path in (repo / folder).rglob("*.py")
                 if outside.search(path.read_text(encoding="utf-8"))]
    assert offenders == [], offenders
