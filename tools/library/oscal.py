"""Reading the NIST SP 800-53 Rev. 5 OSCAL catalog and the OSCAL baseline profiles.

Control ids appear in two spellings: OSCAL's ("ac-2", "ac-2.1") and NIST's display labels
("AC-2", "AC-2(1)"). `display_id` / `oscal_id` convert between them.
"""
from __future__ import annotations

import functools
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
import orjson  # noqa: E402

CATALOG_FILE = "nist-sp800-53-r5/NIST_SP-800-53_rev5_catalog-min.json"
NIST_PROFILES = {
    b: f"nist-sp800-53-r5/NIST_SP-800-53_rev5_{b}-baseline_profile-min.json"
    for b in ("LOW", "MODERATE", "HIGH", "PRIVACY")
}
FEDRAMP_PROFILES = {
    b: f"fedramp-rev5/FedRAMP_rev5_{b}-baseline_profile-min.json" for b in ("LOW", "MODERATE", "HIGH")
}

_INSERT = re.compile(r"\{\{\s*insert:\s*param,\s*([A-Za-z0-9_.\-]+)\s*\}\}")
_DISPLAY = re.compile(r"^([A-Za-z]{2})-0*(\d+)(?:\((\d+)\)|\.0*(\d+))?$")


def display_id(any_id: str) -> str:
    """'ac-2.1' / 'AC-2(1)' / 'ac-02.01' -> 'AC-2(1)'."""
    m = _DISPLAY.match(any_id.strip())
    if not m:
        raise ValueError(f"not a NIST SP 800-53 control id: {any_id!r}")
    fam, num, enh1, enh2 = m.groups()
    enh = enh1 or enh2
    return f"{fam.upper()}-{int(num)}" + (f"({int(enh)})" if enh else "")


def oscal_id(any_id: str) -> str:
    """'AC-2(1)' -> 'ac-2.1'."""
    d = display_id(any_id)
    m = _DISPLAY.match(d)
    fam, num, enh, _ = m.groups()
    return f"{fam.lower()}-{num}" + (f".{enh}" if enh else "")


def base_id(any_id: str) -> str:
    return display_id(any_id).split("(")[0]


@dataclass
class CatalogControl:
    oscal_id: str
    id: str  # display id, e.g. AC-2(1)
    title: str
    family: str  # e.g. "AC"
    family_title: str
    withdrawn: bool
    statement: str  # rendered, full length
    guidance: str
    params: list[dict] = field(default_factory=list)
    sort_index: int = 0


@dataclass
class Catalog:
    title: str
    version: str
    last_modified: str
    families: dict[str, str]  # "AC" -> "Access Control", in catalog order
    controls: dict[str, CatalogControl]  # display id -> control, in catalog order
    params: dict[str, dict]  # param id -> param

    def active(self) -> list[CatalogControl]:
        return [c for c in self.controls.values() if not c.withdrawn]


def _prop(obj: dict, name: str) -> str | None:
    for p in obj.get("props", []):
        if p.get("name") == name:
            return p.get("value")
    return None


@functools.cache
def catalog() -> Catalog:
    raw = orjson.loads(common.read_source(CATALOG_FILE))["catalog"]
    params: dict[str, dict] = {}

    def collect(ctls):
        for c in ctls:
            for p in c.get("params", []):
                params[p["id"]] = p
            collect(c.get("controls", []))

    for g in raw["groups"]:
        collect(g.get("controls", []))

    families: dict[str, str] = {}
    controls: dict[str, CatalogControl] = {}

    def walk(ctls, fam, fam_title):
        for c in ctls:
            label = _prop(c, "label") or display_id(c["id"])
            withdrawn = _prop(c, "status") == "withdrawn"
            statement = ""
            guidance = ""
            for part in c.get("parts", []):
                if part["name"] == "statement":
                    statement = render_statement(part, params)
                elif part["name"] == "guidance":
                    guidance = common.squash(part.get("prose", ""))
            controls[label] = CatalogControl(
                oscal_id=c["id"],
                id=label,
                title=c["title"],
                family=fam,
                family_title=fam_title,
                withdrawn=withdrawn,
                statement=statement,
                guidance=guidance,
                params=c.get("params", []),
                sort_index=len(controls),
            )
            walk(c.get("controls", []), fam, fam_title)

    for g in raw["groups"]:
        fam = g["id"].upper()
        families[fam] = g["title"]
        walk(g.get("controls", []), fam, g["title"])
    md = raw["metadata"]
    return Catalog(
        title=md["title"],
        version=md.get("version", ""),
        last_modified=md.get("last-modified", ""),
        families=families,
        controls=controls,
        params=params,
    )


def render_param(pid: str, params: dict[str, dict], depth: int = 0) -> str:
    p = params.get(pid)
    if p is None or depth > 5:
        return "[Assignment: organization-defined value]"
    sel = p.get("select")
    if sel:
        choices = [render_text(ch, params, depth + 1) for ch in sel.get("choice", [])]
        how = " (one or more)" if sel.get("how-many") == "one-or-more" else ""
        return f"[Selection{how}: {'; '.join(choices)}]"
    label = p.get("label") or "organization-defined value"
    return f"[Assignment: {common.squash(label)}]"


def render_text(text: str, params: dict[str, dict], depth: int = 0) -> str:
    return common.squash(_INSERT.sub(lambda m: render_param(m.group(1), params, depth), text))


def render_statement(part: dict, params: dict[str, dict]) -> str:
    """Render an OSCAL statement part as plain text, one labelled item per line."""
    lines: list[str] = []

    def walk(p: dict):
        text = render_text(p.get("prose", ""), params)
        label = _prop(p, "label")
        if text or label:
            lines.append(f"{label} {text}".strip() if label else text)
        for sub in p.get("parts", []):
            if sub.get("name") == "item":
                walk(sub)

    walk(part)
    return "\n".join(line for line in lines if line)


@functools.cache
def profile(path: str) -> dict:
    return orjson.loads(common.read_source(path))["profile"]


def profile_ids(path: str) -> list[str]:
    """Display ids the profile includes, in the profile's order (include-controls with-ids)."""
    prof = profile(path)
    out: list[str] = []
    for imp in prof.get("imports", []):
        for inc in imp.get("include-controls", []):
            for cid in inc.get("with-ids", []):
                d = display_id(cid)
                if d not in out:
                    out.append(d)
    return out


def sort_by_catalog(ids: list[str]) -> list[str]:
    cat = catalog()
    return sorted(ids, key=lambda i: cat.controls[i].sort_index)
