"""The one loader of the hand-written tables in tools/library/tables/*.yaml: the control
domains, our Security Hub titles and service names, and the NIST SP 800-53 r5 evidence map
(API snapshots, CloudTrail events, extra checks, conformance pack rules, manual uploads).

A table file is YAML with ``rows``: a list of mappings, each with the table's key field, its
other fields and a ``source`` saying where the row comes from (see tables/README.md). `rows`
checks every row (required fields present, no unknown field, strings non-empty, lists of
strings, keys unique, a source on each) and raises TableError naming the file, the row and
the field; a change to a mapping is then a one-line diff in a reviewed file.
"""
from __future__ import annotations

import functools
from pathlib import Path

import common

TABLES_DIR = Path(__file__).resolve().parent / "tables"


class TableError(ValueError):
    """A table file is invalid; the message names the file, the row and the field."""


@functools.cache
def document(name: str) -> dict:
    """The whole YAML document of ``tables/<name>`` (a mapping)."""
    path = TABLES_DIR / name
    with path.open(encoding="utf-8") as f:
        data = common.load_yaml(f)
    if not isinstance(data, dict):
        raise TableError(f"{name}: the top level must be a mapping")
    return data


def rows(name: str, key: str, fields: dict[str, type], optional: tuple[str, ...] = ()) -> list[dict]:
    """The checked rows of ``tables/<name>``, in file order.

    ``fields`` maps every field but ``source`` to its type (``str`` or ``list``, a list of
    strings); ``key`` is the field that must be unique; fields in ``optional`` may be absent.
    Raises TableError for a missing, unknown, empty or mistyped field, a duplicate key or a row
    without its source."""
    found = document(name).get("rows")
    if not isinstance(found, list) or not found:
        raise TableError(f"{name}: rows must be a non-empty list")
    allowed = {**fields, "source": str}
    seen: set[str] = set()
    for index, row in enumerate(found):
        at = f"{name}: row {index + 1}"
        if not isinstance(row, dict):
            raise TableError(f"{at}: must be a mapping")
        at = f"{name}: {row.get(key)!r}" if isinstance(row.get(key), str) else at
        unknown = set(row) - set(allowed)
        if unknown:
            raise TableError(f"{at}: unknown field(s) {sorted(unknown)}")
        for field, kind in allowed.items():
            if field not in row:
                if field in optional:
                    continue
                raise TableError(f"{at}: {field} is required")
            value = row[field]
            if kind is str and not (isinstance(value, str) and value.strip()):
                raise TableError(f"{at}: {field} must be a non-empty string")
            if kind is list and not (isinstance(value, list)
                                     and all(isinstance(v, str) and v for v in value)):
                raise TableError(f"{at}: {field} must be a list of strings")
        if row[key] in seen:
            raise TableError(f"{at}: duplicate {key}")
        seen.add(row[key])
    return found
