"""What every OSCAL document Assay reads or writes shares: the version, Assay's namespace for its
own properties, deterministic uuids, identifiers (OSCAL tokens), text and time helpers.

Documents are plain dicts written with orjson; nothing here imports an OSCAL library (tests
validate the output with compliance-trestle's models).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import datetime, timezone
from typing import Any, Iterable

import orjson

# The OSCAL release the documents are written against (compliance-trestle 5.x models it).
OSCAL_VERSION = "1.2.1"
# Namespace of the props and parts Assay adds: Audit Manager ids, source types, keywords...
ASSAY_NS = "https://assay.dev/ns/oscal"
# uuid5 namespace: the same input always gives the same uuid, so re-exporting an unchanged
# framework or assessment writes the same bytes.
UUID_NS = uuid.UUID("2f1d7c0a-8a6e-5b3f-9c41-7d2e0b6a4f15")

NAME_MAX = 300  # control, framework and control set names
TEXT_MAX = 1000  # description, testingInformation, actionPlanInstructions, sourceDescription
FRAMEWORK_DESCRIPTION_MAX = 1000
COMPLIANCE_TYPE_MAX = 100
ELLIPSIS = "\u2026"


class OscalError(ValueError):
    """A document cannot be read, or an import or export cannot be done. The message says why
    and, where it can, what to do."""


# ------------------------------------------------------------------------------- ids


def stable_uuid(*parts: Any) -> str:
    """A uuid5 of the parts: stable across runs and machines."""
    return str(uuid.uuid5(UUID_NS, "\x1f".join(str(p) for p in parts)))


def digest(document: Any) -> str:
    """SHA-256 of a JSON-able value, canonical (sorted keys): a document's content fingerprint."""
    return hashlib.sha256(orjson.dumps(document, option=orjson.OPT_SORT_KEYS,
                                       default=_json_default)).hexdigest()


def _json_default(value):
    if isinstance(value, datetime):
        return iso(value)
    raise TypeError(f"not JSON-serializable: {type(value).__name__}")


_TOKEN = re.compile(r"^[_A-Za-z][_A-Za-z0-9.\-]*$")
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.()\-/:]*$")
_PAREN = re.compile(r"\(([A-Za-z0-9]+)\)")
_NOT_TOKEN = re.compile(r"[^a-z0-9._-]+")


def is_token(value: str) -> bool:
    return bool(_TOKEN.match(value))


def split_label(name: str) -> tuple[str | None, str]:
    """Split a control name like ``AC-2(1) Automated System Account Management`` or
    ``164.308(a)(1)(i) Security management process`` into its label and title. A label is a
    first word with a digit in it; names without one have no label."""
    words = name.strip().split(None, 1)
    if len(words) == 2:
        first = words[0].rstrip(":")
        if first and _LABEL.match(first) and any(ch.isdigit() for ch in first):
            return first, words[1].strip()
    return None, name.strip()


def token_from(text: str, max_length: int = 64) -> str:
    """An OSCAL token (a catalog id) from a label or name: ``AC-2(1)`` -> ``ac-2.1``,
    ``Console sign-in activity`` -> ``console-sign-in-activity``."""
    text = _PAREN.sub(r".\1", text.strip().lower())
    text = _NOT_TOKEN.sub("-", text)
    text = re.sub(r"-{2,}", "-", text).strip("-.")
    text = re.sub(r"\.{2,}", ".", text)
    if len(text) > max_length:
        text = text[:max_length]
        if "-" in text[max_length // 2:]:
            text = text[: text.rfind("-")]
        text = text.rstrip("-.")
    if not text or not (text[0].isalpha() or text[0] == "_"):
        text = "c-" + text if text else "control"
    return text


class TokenAllocator:
    """Hands out unique tokens: the second ``ac-2`` becomes ``ac-2-2``."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def take(self, wanted: str) -> str:
        token, n = wanted, 1
        while token in self.used:
            n += 1
            token = f"{wanted}-{n}"
        self.used.add(token)
        return token


def control_tokens(controls: Iterable[tuple[str, str]]) -> dict[str, str]:
    """OSCAL control ids for ``(control id, control name)`` pairs in framework order. A framework
    export and an assessment-results export compute the same ids, so findings point into the
    framework's catalog."""
    allocator = TokenAllocator()
    tokens: dict[str, str] = {}
    for control_id, name in controls:
        if control_id in tokens:
            continue
        label, _title = split_label(name)
        tokens[control_id] = allocator.take(token_from(label or name))
    return tokens


# ------------------------------------------------------------------------------ text


def one_line(text: Any) -> str:
    """Collapse whitespace: OSCAL titles and property values are a single line."""
    return " ".join(str(text).split())


def truncate(text: str, limit: int) -> str:
    """Cut text to ``limit`` characters at a word boundary, ending with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = max(cut.rfind(" "), cut.rfind("\n"))
    if space >= limit // 2:
        cut = cut[:space]
    return cut.rstrip(" \n\t,;:-") + ELLIPSIS


def clean_name(text: str, limit: int = NAME_MAX) -> str:
    """A name Audit Manager accepts: one line, no backslash, at most ``limit`` characters."""
    return truncate(one_line(text.replace("\\", "/")), limit)


def prop(name: str, value: Any, *, ns: str | None = ASSAY_NS, group: str | None = None,
         cls: str | None = None) -> dict | None:
    """An OSCAL property, or None when the value is empty (OSCAL values are never blank)."""
    if value is None:
        return None
    text = one_line(value)
    if not text:
        return None
    out: dict[str, Any] = {"name": name}
    if ns:
        out["ns"] = ns
    out["value"] = text
    if cls:
        out["class"] = cls
    if group:
        out["group"] = group
    return out


def props(*items: dict | None) -> list[dict]:
    return [p for p in items if p]


def find_prop(obj: dict, name: str, ns: str | None = None) -> str | None:
    """The value of the first property with this name (and namespace, when given)."""
    for p in obj.get("props") or ():
        if p.get("name") == name and (ns is None or p.get("ns") == ns):
            return p.get("value")
    return None


def compact(obj: dict) -> dict:
    """Drop members that are None or empty lists: OSCAL arrays have at least one item."""
    return {k: v for k, v in obj.items() if v is not None and v != [] and v != ""}


# ------------------------------------------------------------------------------ time


def to_datetime(value: Any) -> datetime | None:
    """A timestamp as boto3 returns it (datetime), epoch seconds, or ISO 8601 text -> UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, tz=timezone.utc)
    if isinstance(value, str):
        text = value.strip()
        try:
            return to_datetime(float(text))
        except ValueError:
            pass
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    return None


def iso(value: Any) -> str:
    """OSCAL date-time-with-timezone text, in UTC."""
    moment = to_datetime(value) or datetime.fromtimestamp(0, tz=timezone.utc)
    moment = moment.astimezone(timezone.utc)
    spec = "microseconds" if moment.microsecond else "seconds"
    return moment.isoformat(timespec=spec).replace("+00:00", "Z")


def latest(*values: Any) -> datetime:
    moments = [m for m in (to_datetime(v) for v in values) if m is not None]
    return max(moments) if moments else datetime.fromtimestamp(0, tz=timezone.utc)


def metadata(title: str, last_modified: Any, *, version: str | None = None,
             props_: list[dict] | None = None, remarks: str | None = None) -> dict:
    modified = iso(last_modified)
    return compact({
        "title": one_line(title) or "Untitled",
        "last-modified": modified,
        "version": version or modified,
        "oscal-version": OSCAL_VERSION,
        "props": props_ or None,
        "remarks": remarks or None,
    })


def dumps(document: dict) -> bytes:
    return orjson.dumps(document, option=orjson.OPT_INDENT_2, default=_json_default) + b"\n"
