"""Read an OSCAL catalog or profile and plan the custom framework it becomes.

A catalog gives one control set per group (nested groups are flattened, their titles joined)
or one set when it has no groups, and every control and enhancement that is not withdrawn.
A profile selects controls of its catalog(s): ``include-all`` or ``include-controls``
(``with-ids``, ``matching``, ``with-child-controls``), minus ``exclude-controls``; its
``modify.set-parameters`` values are written into the rendered statements. The catalog comes
from ``--catalog`` or the import's href (relative to the profile, or a back-matter resource's
rlinks). A profile may import another profile.

Each control is planned as Audit Manager needs it: name ``<label or id> <title>``, description
from the statement, testing information from the assessment objective (or the guidance), and
one MANUAL evidence source. When the catalog is NIST SP 800-53 Rev. 5, each control also names
the standard library control (``NIST-800-53-r5/AC-2(1)``) to reuse instead of a custom one.

Pure: reads files, never the API. ``client.apply_import`` carries the plan out.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import orjson

from .common import (
    ASSAY_NS,
    COMPLIANCE_TYPE_MAX,
    FRAMEWORK_DESCRIPTION_MAX,
    NAME_MAX,
    TEXT_MAX,
    OscalError,
    clean_name,
    find_prop,
    one_line,
    truncate,
)

NIST_KEY_PREFIX = "NIST-800-53-r5/"
MANUAL_SOURCE_NAME = "Manual evidence"
_INSERT = re.compile(r"\{\{\s*insert:\s*([a-z-]+)\s*,\s*([^\s}]+)\s*\}\}")
_MAX_PARAM_DEPTH = 5


@dataclass
class PlannedControl:
    oscal_id: str
    label: str | None
    title: str
    name: str
    description: str | None
    testing_information: str | None
    action_plan_title: str | None
    action_plan_instructions: str | None
    source_description: str
    # Reuse a standard control instead of creating one: the library key (NIST) and/or the
    # control id an Assay export recorded.
    standard_key: str | None = None
    standard_id: str | None = None

    def create_control_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {
            "name": self.name,
            "controlMappingSources": [self.manual_source()],
        }
        for member, value in (("description", self.description),
                              ("testingInformation", self.testing_information),
                              ("actionPlanTitle", self.action_plan_title),
                              ("actionPlanInstructions", self.action_plan_instructions)):
            if value:
                params[member] = value
        return params

    def manual_source(self) -> dict[str, Any]:
        return {
            "sourceName": MANUAL_SOURCE_NAME,
            "sourceDescription": self.source_description,
            "sourceSetUpOption": "Procedural_Controls_Mapping",
            "sourceType": "MANUAL",
        }


@dataclass
class PlannedSet:
    name: str
    controls: list[PlannedControl]


@dataclass
class ImportPlan:
    kind: str  # "catalog" or "profile"
    source: Path
    title: str
    framework_name: str
    description: str
    compliance_type: str | None
    control_sets: list[PlannedSet]
    warnings: list[str] = field(default_factory=list)

    @property
    def controls(self) -> list[PlannedControl]:
        return [c for s in self.control_sets for c in s.controls]


# ------------------------------------------------------------------------- documents


def load_document(path: Path) -> dict:
    """A JSON (or YAML) OSCAL document as a dict, with a clear error for anything else."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise OscalError(f"{path}: no such file") from None
    except OSError as exc:
        raise OscalError(f"{path}: cannot read: {exc.strerror or exc}") from None
    text = raw.lstrip()
    if text.startswith(b"<"):
        raise OscalError(f"{path}: OSCAL XML is not supported; use the JSON (or YAML) form")
    document: Any
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            try:
                document = yaml.safe_load(raw)
            except yaml.YAMLError as yexc:
                raise OscalError(f"{path}: not valid YAML: {yexc}") from None
        else:
            raise OscalError(f"{path}: not an OSCAL document (not valid JSON: {exc})") from None
    if not isinstance(document, dict):
        raise OscalError(f"{path}: not an OSCAL document (the top level is not an object)")
    return document


def document_kind(document: dict, path: Path) -> str:
    known = ("catalog", "profile", "component-definition", "system-security-plan",
             "assessment-plan", "assessment-results", "plan-of-action-and-milestones",
             "mapping-collection")
    for kind in known:
        if isinstance(document.get(kind), dict):
            return kind
    keys = ", ".join(sorted(document)[:5]) or "nothing"
    raise OscalError(f"{path}: not an OSCAL document: expected a top-level 'catalog' or "
                     f"'profile' object, found {keys}")


# ------------------------------------------------------------------------- catalogs


@dataclass
class Entry:
    """One control (or enhancement) of a catalog, where it sits, and who its children are."""

    control: dict
    catalog: "Catalog"
    groups: tuple[str, ...]
    parent: str | None
    order: int
    children: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.control["id"]

    @property
    def withdrawn(self) -> bool:
        status = (find_prop(self.control, "status") or "").lower()
        return status in ("withdrawn", "moved") or self.control.get("class") == "withdrawn"


class Catalog:
    def __init__(self, document: dict, path: Path):
        body = document.get("catalog")
        if not isinstance(body, dict):
            raise OscalError(f"{path}: not an OSCAL catalog")
        self.path = path
        self.body = body
        meta = body.get("metadata")
        if not isinstance(meta, dict) or not meta.get("title"):
            raise OscalError(f"{path}: catalog.metadata.title is required")
        self.metadata = meta
        self.title = one_line(meta["title"])
        self.params: dict[str, dict] = {}
        self.entries: dict[str, Entry] = {}
        self._collect_params(body, "catalog")
        self._walk_controls(body.get("controls"), (), None, "catalog")
        for index, group in enumerate(_list(body.get("groups"), f"{path}: catalog.groups")):
            self._walk_group(group, (), f"catalog.groups[{index}]")
        if not self.entries:
            raise OscalError(f"{path}: the catalog has no controls")

    def _collect_params(self, owner: dict, where: str) -> None:
        for param in _list(owner.get("params"), f"{self.path}: {where}.params"):
            if isinstance(param, dict) and param.get("id"):
                self.params[param["id"]] = param

    def _walk_group(self, group: Any, path: tuple[str, ...], where: str) -> None:
        if not isinstance(group, dict):
            raise OscalError(f"{self.path}: {where} is not an object")
        title = one_line(group.get("title") or group.get("id") or "Group")
        here = path + (title,)
        self._collect_params(group, where)
        self._walk_controls(group.get("controls"), here, None, where)
        for index, sub in enumerate(_list(group.get("groups"), f"{self.path}: {where}.groups")):
            self._walk_group(sub, here, f"{where}.groups[{index}]")

    def _walk_controls(self, controls: Any, groups: tuple[str, ...], parent: str | None,
                       where: str) -> None:
        for index, control in enumerate(_list(controls, f"{self.path}: {where}.controls")):
            at = f"{where}.controls[{index}]"
            if not isinstance(control, dict) or not isinstance(control.get("id"), str):
                raise OscalError(f"{self.path}: {at}: a control needs an id")
            if not isinstance(control.get("title"), str) or not control["title"].strip():
                raise OscalError(f"{self.path}: {at} ({control['id']}): a control needs a title")
            if control["id"] in self.entries:
                raise OscalError(f"{self.path}: {at}: duplicate control id {control['id']!r}")
            self._collect_params(control, at)
            self.entries[control["id"]] = Entry(control, self, groups, parent, len(self.entries))
            if parent:
                self.entries[parent].children.append(control["id"])
            self._walk_controls(control.get("controls"), groups, control["id"], at)

    def descendants(self, control_id: str) -> list[str]:
        out = []
        for child in self.entries[control_id].children:
            out.append(child)
            out.extend(self.descendants(child))
        return out

    @property
    def is_nist_800_53_r5(self) -> bool:
        title = self.title.lower()
        version = str(self.metadata.get("version") or "")
        return "800-53" in title and (
            bool(re.search(r"rev(ision|\.)?\s*5", title)) or version.startswith("5"))


def _list(value: Any, where: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise OscalError(f"{where} must be a list")
    return value


# -------------------------------------------------------------------------- profiles


@dataclass
class Selection:
    entries: list[Entry]
    set_parameters: dict[str, dict]
    warnings: list[str]


def _resolve_href(href: str, body: dict, path: Path) -> Path:
    """The local file an import's href names, trying back-matter rlinks and, for hrefs that do
    not exist, the same file name beside the profile (also as the ``-min`` variant NIST ships)."""
    candidates: list[str] = []
    if href.startswith("#"):
        wanted = href[1:]
        for resource in (body.get("back-matter") or {}).get("resources") or ():
            if resource.get("uuid") == wanted:
                rlinks = resource.get("rlinks") or []
                rlinks = sorted(rlinks, key=lambda r: 0 if "json" in (r.get("media-type") or "")
                                else 1 if "yaml" in (r.get("media-type") or "") else 2)
                candidates = [r["href"] for r in rlinks if r.get("href")]
                break
        else:
            raise OscalError(f"{path}: import href {href!r} names no back-matter resource")
    else:
        candidates = [href]
    tried = []
    for candidate in candidates:
        parsed = urlparse(candidate)
        if parsed.scheme in ("http", "https"):
            tried.append(candidate)
            continue
        local = Path(unquote(parsed.path)) if parsed.scheme == "file" else Path(candidate)
        if not local.is_absolute():
            local = path.parent / local
        options = [local, path.parent / local.name]
        if local.suffix:
            options.append(path.parent / f"{local.stem}-min{local.suffix}")
        for option in options:
            if option.is_file():
                return option
        tried.append(str(local))
    raise OscalError(
        f"{path}: cannot find the catalog the profile imports ({href}; tried "
        f"{', '.join(tried) or 'nothing'}). Pass it with --catalog FILE.")


def _select_ids(spec: dict, universe: dict[str, Entry], where: str,
                unknown: list[str]) -> list[str]:
    ids: list[str] = []
    for with_id in spec.get("with-ids") or ():
        if with_id in universe:
            ids.append(with_id)
        else:
            unknown.append(with_id)
    for matching in spec.get("matching") or ():
        pattern = matching.get("pattern") if isinstance(matching, dict) else None
        if pattern:
            ids.extend(i for i in universe if fnmatch.fnmatchcase(i, pattern))
    if spec.get("with-child-controls") == "yes":
        more = []
        for control_id in ids:
            entry = universe[control_id]
            more.extend(d for d in entry.catalog.descendants(control_id) if d in universe)
        ids.extend(more)
    return ids


def _resolve_profile(document: dict, path: Path, catalog_path: Path | None,
                     seen: tuple[Path, ...] = ()) -> Selection:
    body = document["profile"]
    if path.resolve() in seen:
        raise OscalError(f"{path}: profiles import each other in a loop")
    seen = seen + (path.resolve(),)
    imports = body.get("imports")
    if not isinstance(imports, list) or not imports:
        raise OscalError(f"{path}: profile.imports must list at least one catalog or profile")
    warnings: list[str] = []
    chosen: dict[str, Entry] = {}
    set_parameters: dict[str, dict] = {}
    for index, imp in enumerate(imports):
        if not isinstance(imp, dict) or not isinstance(imp.get("href"), str):
            raise OscalError(f"{path}: profile.imports[{index}] needs an href")
        target = catalog_path or _resolve_href(imp["href"], body, path)
        imported = load_document(target)
        kind = document_kind(imported, target)
        if kind == "catalog":
            catalog = Catalog(imported, target)
            universe = dict(catalog.entries)
        elif kind == "profile":
            inner = _resolve_profile(imported, target, None, seen)
            universe = {e.id: e for e in inner.entries}
            set_parameters.update(inner.set_parameters)
            warnings.extend(inner.warnings)
        else:
            raise OscalError(f"{target}: a profile imports catalogs or profiles, not a {kind}")
        unknown: list[str] = []
        if "include-controls" in imp:
            ids = []
            for spec in _list(imp["include-controls"], f"{path}: imports[{index}].include-controls"):
                ids.extend(_select_ids(spec, universe, path, unknown))
        else:  # include-all, or nothing said: everything
            ids = [i for i, e in universe.items() if not e.withdrawn]
        excluded: set[str] = set()
        for spec in _list(imp.get("exclude-controls"), f"{path}: imports[{index}].exclude-controls"):
            excluded.update(_select_ids(spec, universe, path, []))
        if unknown:
            shown = ", ".join(unknown[:10]) + (f" and {len(unknown) - 10} more" if len(unknown) > 10 else "")
            title = universe[next(iter(universe))].catalog.title if universe else str(target)
            raise OscalError(f"{path}: the profile selects {len(unknown)} control id(s) that "
                             f"'{title}' ({target.name}) does not have: {shown}")
        for control_id in ids:
            if control_id in excluded or control_id in chosen:
                continue
            entry = universe[control_id]
            if entry.withdrawn:
                warnings.append(f"{control_id} is withdrawn in its catalog; not imported")
                continue
            chosen[control_id] = entry
    modify = body.get("modify") or {}
    for setting in modify.get("set-parameters") or ():
        if isinstance(setting, dict) and setting.get("param-id"):
            merged = dict(set_parameters.get(setting["param-id"], {}))
            merged.update({k: v for k, v in setting.items() if k != "param-id"})
            set_parameters[setting["param-id"]] = merged
    if modify.get("alters"):
        warnings.append("the profile's modify.alters (added or removed parts) are not applied")
    catalogs: dict[int, int] = {}
    for entry in chosen.values():
        catalogs.setdefault(id(entry.catalog), len(catalogs))
    entries = sorted(chosen.values(), key=lambda e: (catalogs[id(e.catalog)], e.order))
    if not entries:
        raise OscalError(f"{path}: the profile selects no controls")
    return Selection(entries, set_parameters, warnings)


# -------------------------------------------------------------------------- rendering


class Renderer:
    """Prose with ``{{ insert: param, id }}`` replaced by values (profile set-parameters first),
    else ``[Assignment: label]`` / ``[Selection: a; b]``."""

    def __init__(self, catalog: Catalog, set_parameters: dict[str, dict]):
        self.catalog = catalog
        self.set_parameters = set_parameters

    def param(self, param_id: str, depth: int = 0) -> str:
        base = self.catalog.params.get(param_id, {})
        override = self.set_parameters.get(param_id, {})
        param = {**base, **override}
        if not param:
            return f"[Assignment: {param_id}]"
        values = [str(v) for v in param.get("values") or () if str(v).strip()]
        if values:
            return ", ".join(self.text(v, depth + 1) for v in values)
        select = param.get("select")
        if isinstance(select, dict) and select.get("choice"):
            choices = "; ".join(self.text(str(c), depth + 1) for c in select["choice"])
            many = " (one or more)" if select.get("how-many") == "one-or-more" else ""
            return f"[Selection{many}: {choices}]"
        label = self.text(str(param.get("label") or param_id), depth + 1)
        constraints = [c.get("description") for c in override.get("constraints") or ()
                       if isinstance(c, dict) and c.get("description")]
        if constraints:
            return f"[Assignment: {label}: {'; '.join(one_line(c) for c in constraints)}]"
        return f"[Assignment: {label}]"

    def text(self, prose: str, depth: int = 0) -> str:
        if depth > _MAX_PARAM_DEPTH:
            return prose

        def insert(match: re.Match) -> str:
            kind, ident = match.group(1), match.group(2)
            return self.param(ident, depth) if kind == "param" else ident

        return _INSERT.sub(insert, prose)

    def part(self, part: dict, depth: int = 0) -> str:
        lines = []
        label = find_prop(part, "label")
        prose = self.text(part.get("prose") or "").strip()
        head = " ".join(x for x in (label, prose) if x)
        if head:
            lines.append("  " * depth + head)
        for sub in part.get("parts") or ():
            if isinstance(sub, dict):
                rendered = self.part(sub, depth + 1 if head else depth)
                if rendered:
                    lines.append(rendered)
        return "\n".join(lines)


def _parts(control: dict, *names: str) -> list[dict]:
    return [p for p in control.get("parts") or () if isinstance(p, dict) and p.get("name") in names]


def _label(control: dict) -> str | None:
    labels = [p for p in control.get("props") or ()
              if p.get("name") == "label" and p.get("ns") in (None, "http://csrc.nist.gov/ns/oscal")]
    plain = [p for p in labels if not p.get("class")]
    chosen = (plain or labels or [None])[0]
    return one_line(chosen["value"]) if chosen and chosen.get("value") else None


def nist_display_id(control_id: str) -> str:
    """``ac-2.1`` -> ``AC-2(1)``."""
    base, *enhancements = control_id.split(".")
    return base.upper() + "".join(f"({e.lstrip('0') or '0'})" for e in enhancements)


def _plan_control(entry: Entry, renderer: Renderer) -> PlannedControl:
    control = entry.control
    label = _label(control)
    title = one_line(control["title"])
    name = find_prop(control, "control-name", ASSAY_NS) or f"{label or control['id']} {title}"
    statement = "\n".join(filter(None, (renderer.part(p) for p in _parts(control, "statement"))))
    objectives = "\n".join(filter(None, (renderer.part(p) for p in
                                         _parts(control, "assessment-objective", "objective"))))
    action_plan = [p for p in _parts(control, "guidance") if find_prop(p, "action-plan", ASSAY_NS)]
    guidance = [p for p in _parts(control, "guidance") if p not in action_plan]
    testing = objectives or "\n".join(filter(None, (renderer.part(p) for p in guidance)))
    plan_title = one_line(action_plan[0].get("title") or "") if action_plan else ""
    plan_text = "\n".join(filter(None, (renderer.part(p) for p in action_plan)))
    who = f"{label or control['id']} ({title})"
    standard_key = None
    if entry.catalog.is_nist_800_53_r5:
        standard_key = NIST_KEY_PREFIX + (label or nist_display_id(control["id"]))
    standard_id = (find_prop(control, "control-id", ASSAY_NS)
                   if find_prop(control, "control-type", ASSAY_NS) == "Standard" else None)
    return PlannedControl(
        oscal_id=control["id"],
        label=label,
        title=title,
        name=clean_name(name, NAME_MAX),
        description=truncate(statement, TEXT_MAX) or None,
        testing_information=truncate(testing, TEXT_MAX) or None,
        action_plan_title=truncate(plan_title, NAME_MAX) or None,
        action_plan_instructions=truncate(plan_text, TEXT_MAX) or None,
        source_description=truncate(
            f"Upload what shows that {who} is in place: the approved policy or procedure, and "
            "records of it working, such as configuration exports, screenshots, tickets, "
            "sign-offs or review minutes. Say which system and period each file covers.",
            TEXT_MAX),
        standard_key=standard_key,
        standard_id=standard_id,
    )


def _set_name(groups: tuple[str, ...], fallback: str) -> str:
    text = " - ".join(groups) if groups else fallback
    return clean_name(text.replace("_", "-"), NAME_MAX) or "Controls"


# ---------------------------------------------------------------------------- planning


def plan_import(path: Path, *, catalog_path: Path | None = None,
                name: str | None = None) -> ImportPlan:
    """Read ``path`` (a catalog or a profile) and plan the framework. Raises OscalError."""
    path = Path(path)
    document = load_document(path)
    kind = document_kind(document, path)
    if kind == "catalog":
        if catalog_path is not None:
            raise OscalError(f"{path} is a catalog: --catalog is only for profiles")
        catalog = Catalog(document, path)
        entries = [e for e in catalog.entries.values() if not e.withdrawn]
        selection = Selection(entries, {}, [])
        meta = catalog.metadata
    elif kind == "profile":
        body = document["profile"]
        meta = body.get("metadata")
        if not isinstance(meta, dict) or not meta.get("title"):
            raise OscalError(f"{path}: profile.metadata.title is required")
        selection = _resolve_profile(document, path, Path(catalog_path) if catalog_path else None)
    else:
        raise OscalError(f"{path} is an OSCAL {kind}; `assay oscal import` takes a catalog or "
                         "a profile")
    if not selection.entries:
        raise OscalError(f"{path}: no controls to import (every control is withdrawn)")

    title = one_line(meta["title"])
    sets: dict[str, PlannedSet] = {}
    renderers: dict[int, Renderer] = {}
    used_names: dict[str, int] = {}
    for entry in selection.entries:
        renderer = renderers.setdefault(
            id(entry.catalog), Renderer(entry.catalog, selection.set_parameters))
        planned = _plan_control(entry, renderer)
        if planned.name in used_names:  # two controls with one label and title
            planned.name = clean_name(f"{planned.name} [{planned.oscal_id}]", NAME_MAX)
        used_names[planned.name] = 1
        set_name = _set_name(entry.groups, entry.catalog.title)
        sets.setdefault(set_name, PlannedSet(set_name, [])).controls.append(planned)

    known = {p for e in selection.entries for p in e.catalog.params}
    ignored = sorted(set(selection.set_parameters) - known)
    warnings = list(selection.warnings)
    if ignored:
        warnings.append(f"{len(ignored)} set-parameter(s) name no parameter of the catalog "
                        f"(e.g. {', '.join(ignored[:3])}); ignored")

    framework_name = clean_name(name if name else title, NAME_MAX)
    if not framework_name:
        raise OscalError("the framework name is empty; pass --name")
    version = meta.get("version")
    description = meta.get("remarks") or (
        f"Imported from the OSCAL {kind} '{title}'"
        + (f", version {version}" if version else "")
        + (f" (OSCAL {meta['oscal-version']})" if meta.get("oscal-version") else "")
        + f": {len(selection.entries)} controls.")
    compliance = find_prop(meta, "compliance-type", ASSAY_NS)
    if compliance is None and any(e.catalog.is_nist_800_53_r5 for e in selection.entries):
        compliance = "NIST SP 800-53"
    return ImportPlan(
        kind=kind,
        source=path,
        title=title,
        framework_name=framework_name,
        description=truncate(description.strip(), FRAMEWORK_DESCRIPTION_MAX),
        compliance_type=truncate(compliance, COMPLIANCE_TYPE_MAX) if compliance else None,
        control_sets=list(sets.values()),
        warnings=warnings,
    )
