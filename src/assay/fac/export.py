"""Writing a target's custom controls and frameworks as library files.

One file per control (``controls/<name>.yaml``) and per framework (``frameworks/<name>.yaml``):
reviews and merges then touch only what changed. Output is a function of the content alone
(canonical documents, fixed key order, files by name), so export -> apply elsewhere -> export
gives the same bytes."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import yaml

from .targets import TargetState

FOLDERS = ("controls", "frameworks")


class _Dumper(yaml.SafeDumper):
    """Block style, keys in the canonical order, multi-line text as literal blocks, lists
    indented under their key (as people write them)."""

    def increase_indent(self, flow: bool = False, indentless: bool = False):
        return super().increase_indent(flow, False)


def _text(dumper: yaml.SafeDumper, value: str):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def dump(document: dict[str, Any]) -> str:
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                     default_flow_style=False, width=100)


def slug(name: str) -> str:
    """A file name for a resource name. Two names with the same slug keep apart by a short
    hash of the name, which depends on the name alone (not on what else is exported)."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:80] or "unnamed"


def file_names(names: list[str]) -> dict[str, str]:
    slugs = [slug(n) for n in names]
    return {name: (s if slugs.count(s) == 1 else
                   f"{s}-{hashlib.sha256(name.encode()).hexdigest()[:8]}") + ".yaml"
            for name, s in zip(names, slugs)}


def _reference(ref: dict[str, str], state: TargetState) -> Any:
    # A bare name unless the target has a custom and a standard control of that name.
    ambiguous = ref["name"] in state.controls and ref["name"] in state.standard
    return dict(ref) if ambiguous else ref["name"]


def library_documents(state: TargetState) -> dict[str, str]:
    """Relative file path -> file content for everything custom on the target."""
    out: dict[str, str] = {}
    names = file_names(sorted(state.controls))
    for name in sorted(state.controls):
        out[f"controls/{names[name]}"] = dump({"controls": [state.controls[name].document]})
    names = file_names(sorted(state.frameworks))
    for name in sorted(state.frameworks):
        document = dict(state.frameworks[name].document)
        document["controlSets"] = [
            {"name": s["name"], "controls": [_reference(c, state) for c in s["controls"]]}
            for s in document["controlSets"]]
        out[f"frameworks/{names[name]}"] = dump({"frameworks": [document]})
    return out


def write_library(documents: dict[str, str], out: Path) -> list[Path]:
    """Write the files ``library_documents`` made; remove library files left in ``controls/``
    and ``frameworks/`` by an earlier export, which would otherwise bring deleted content back
    on the next apply. The documents are made first, apart, because making them may list the
    target's standard library (see ``TargetState``): a failure to read belongs with reading."""
    written = []
    for folder in FOLDERS:
        (out / folder).mkdir(parents=True, exist_ok=True)
        for stale in (out / folder).glob("*.yaml"):
            if f"{folder}/{stale.name}" not in documents:
                stale.unlink()
    for relative, content in documents.items():
        path = out / relative
        path.write_text(content, encoding="utf-8")
        written.append(path)
    return written
