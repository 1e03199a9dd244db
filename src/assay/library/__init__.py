"""The standard library: read-only controls and frameworks shipped as data files.

Every `*.json` / `*.json.gz` file in `data/` (except `domains.json` and `keywords.json.gz`) holds

    {"provenance": "...", "controls": [...], "frameworks": [...]}

where a control is

    {"key": "NIST-800-53-r5/AC-2", "name": ..., "description": ..., "testingInformation": ...,
     "actionPlanTitle": ..., "actionPlanInstructions": ..., "domain": "<domain key>",
     "controlMappingSources": [<Audit Manager ControlMappingSource without sourceId>, ...]}

Every automated source also carries ``"strength": "tests" | "supports"`` and, for
``supports``, a ``"strengthReason"``: ``tests`` means a pass shows the requirement is met for the
resources in scope; ``supports`` means the evidence helps an auditor but does not settle it. A
control counts as automated only when a ``tests`` source covers it. The loader takes both fields
out of the API-shaped source and states them at the start of its ``sourceDescription`` (see
`strength_description`), so GetControl, assessments and reports show them.

and a framework is

    {"key": "nist-800-53-r5-moderate", "name": ..., "description": ..., "complianceType": ...,
     "controlSets": [{"name": "Access Control", "controls": ["NIST-800-53-r5/AC-2", ...]}]}

A framework may use controls defined in any file. Ids are UUIDv5 of the keys, so every Assay
instance gives the same control the same id. `load_library()` checks everything that Audit
Manager's model would reject (lengths, patterns, enums), every keyword against the keyword
catalogue, every reference and every domain, and fails with LibraryError naming file and key.
"""
from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import os
import pickle
import re
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import orjson

from ..model.controls import AUTOMATED_SOURCES as AUTOMATED_TYPES
from ..model.controls import SOURCE_DISPLAY_NAMES as SOURCE_TYPE_LABELS
from . import keywords as _keywords

__all__ = [
    "ASSAY_NS",
    "LIBRARY_TIMESTAMP",
    "DATA_DIR",
    "Domain",
    "Equivalent",
    "Library",
    "LibraryError",
    "StandardControl",
    "StandardControlSet",
    "StandardFramework",
    "control_id",
    "control_set_id",
    "domain_id",
    "framework_id",
    "load_library",
    "source_id",
    "strength_description",
    "strength_of",
    "STRENGTHS",
]

ASSAY_NS = uuid.UUID("6f1c2b1e-3a52-4c7e-9d0b-5a4f3e2d1c0b")
# createdAt / lastUpdatedAt of every standard control and framework: the library's build date
# (2026-11-27T00:00:00Z). Change it when the shipped library changes.
LIBRARY_TIMESTAMP = 1795737600
DATA_DIR = Path(__file__).with_name("data")
DOMAINS_FILE = "domains.json"
RESERVED_FILES = frozenset({DOMAINS_FILE, "keywords.json", "keywords.json.gz"})
DOMAIN_ARN_PREFIX = "arn:aws:controlcatalog:::domain/"

# Limits of the auditmanager service model (botocore), checked by tests/unit/test_library_core.py.
# SOURCE_NAME_MAX is stricter than the model's 300 on purpose: names stay short in the console.
CONTROL_NAME_MAX = 300
TEXT_MAX = 1000  # description, testingInformation, actionPlanInstructions, sourceDescription
ACTION_PLAN_TITLE_MAX = 300
SOURCE_NAME_MAX = 100
TROUBLESHOOTING_MAX = 1000
FRAMEWORK_NAME_MAX = 300
FRAMEWORK_DESCRIPTION_MAX = 1000
COMPLIANCE_TYPE_MAX = 100
CONTROL_SET_NAME_MAX = 300
CONTROL_SOURCES_MAX = 100
KEYWORD_MAX = 100
KEYWORD_PATTERN = re.compile(r"^[a-zA-Z_0-9-\s().:\/]+$")
CONTROL_SOURCES_PATTERN = re.compile(r"^[a-zA-Z_0-9-\s.,]+$")

SOURCE_TYPES = AUTOMATED_TYPES + ("MANUAL",)
FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY")

_CONTROL_FIELDS = frozenset(
    {
        "key", "name", "description", "testingInformation", "actionPlanTitle",
        "actionPlanInstructions", "domain", "controlMappingSources",
    }
)
_REQUIRED_CONTROL_FIELDS = ("key", "name", "domain", "controlMappingSources")
_SOURCE_FIELDS = frozenset(
    {
        "sourceName", "sourceDescription", "sourceSetUpOption", "sourceType", "sourceKeyword",
        "sourceFrequency", "troubleshootingText",
    }
)
_STRENGTH_FIELDS = frozenset({"strength", "strengthReason"})
STRENGTHS = ("tests", "supports")
REASON_MAX = 300
_STRENGTH_LEAD = {
    "tests": "Tests the requirement: a pass shows it is met for the resources in scope.",
    "supports": "Supports the requirement without settling it ({reason}).",
}
_FRAMEWORK_FIELDS = frozenset({"key", "name", "description", "complianceType", "controlSets"})


class LibraryError(ValueError):
    """A standard library data file is invalid. The message names the file and the key."""


# ----------------------------------------------------------------------------- ids

_NS_BYTES = ASSAY_NS.bytes


def _uuid5(name: str) -> str:
    # Same result as str(uuid.uuid5(ASSAY_NS, name)), without building UUID objects: the
    # library computes ~25,000 of these on load.
    h = bytearray(hashlib.sha1(_NS_BYTES + name.encode("utf-8")).digest()[:16])
    h[6] = (h[6] & 0x0F) | 0x50
    h[8] = (h[8] & 0x3F) | 0x80
    x = h.hex()
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"


def control_id(key: str) -> str:
    return _uuid5("control:" + key)


def framework_id(key: str) -> str:
    return _uuid5("framework:" + key)


def control_set_id(framework_key: str, set_name: str) -> str:
    return _uuid5(f"controlset:{framework_key}:{set_name}")


def source_id(control_key: str, index: int) -> str:
    return _uuid5(f"source:{control_key}:{index}")


def domain_id(domain_key: str) -> str:
    return DOMAIN_ARN_PREFIX + domain_key


# ----------------------------------------------------------------------------- model


@dataclass(frozen=True, slots=True)
class Domain:
    id: str
    key: str
    name: str
    description: str


@dataclass(frozen=True, slots=True)
class StandardControl:
    id: str
    key: str
    name: str
    description: str
    testing_information: str
    action_plan_title: str
    action_plan_instructions: str
    control_sources: str
    domain_id: str
    mapping_sources: tuple[dict, ...]

    source_strengths: tuple[str | None, ...] = ()  # per mapping source: tests, supports, None (MANUAL)

    @property
    def automated(self) -> bool:
        """True when a `tests` source covers the control (evidence that settles it)."""
        return "tests" in self.source_strengths

    @property
    def supported(self) -> bool:
        """True when the control has any automated source, `tests` or `supports`."""
        return any(s is not None for s in self.source_strengths)


@dataclass(frozen=True, slots=True)
class StandardControlSet:
    id: str
    name: str
    control_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StandardFramework:
    id: str
    key: str
    name: str
    description: str
    compliance_type: str
    control_sets: tuple[StandardControlSet, ...]
    control_sources: str

    @property
    def control_ids(self) -> tuple[str, ...]:
        """Distinct control ids of the framework, in control set order."""
        return tuple(dict.fromkeys(c for s in self.control_sets for c in s.control_ids))


@dataclass(frozen=True, slots=True)
class Equivalent:
    """A control equivalent to another (see `Library.equivalents`) and the `tests` sources the
    two share, as (sourceType, keywordValue) pairs."""

    control: StandardControl
    shared: tuple[tuple[str, str], ...]


class Library:
    """The loaded standard library. Treat it as read-only: it is shared (cached)."""

    def __init__(
        self,
        controls: dict[str, StandardControl],
        frameworks: dict[str, StandardFramework],
        domains: dict[str, Domain],
        provenance: dict[str, str],
    ):
        self.controls = controls
        self.frameworks = frameworks
        self.domains = domains
        self.provenance = provenance  # data file name -> provenance line
        self._controls_by_key = {c.key: c for c in controls.values()}
        self._frameworks_by_key = {f.key: f for f in frameworks.values()}
        by_domain: dict[str, list[StandardControl]] = {d: [] for d in domains}
        for c in controls.values():
            by_domain[c.domain_id].append(c)
        self._by_domain = by_domain
        # Built on first use.
        self._tests_by_source: dict[tuple[str, str], set[str]] | None = None
        self._frameworks_by_control: dict[str, list[StandardFramework]] | None = None

    def control_by_key(self, key: str) -> StandardControl:
        return self._controls_by_key[key]

    def framework_by_key(self, key: str) -> StandardFramework:
        return self._frameworks_by_key[key]

    def controls_in_domain(self, domain_id: str) -> list[StandardControl]:
        return list(self._by_domain.get(domain_id, ()))

    def frameworks_of(self, control_id: str) -> list[StandardFramework]:
        """The standard frameworks that use a control, in library order."""
        if self._frameworks_by_control is None:
            index: dict[str, list[StandardFramework]] = {}
            for fw in self.frameworks.values():
                for cid in fw.control_ids:
                    index.setdefault(cid, []).append(fw)
            self._frameworks_by_control = index
        return list(self._frameworks_by_control.get(control_id, ()))

    def equivalents(self, control_id: str) -> list[Equivalent]:
        """Crosswalk: the controls of the standard library that are equivalent to a control.

        Definition (from the data, nothing else): control Y is equivalent to control X when Y
        belongs to another family (another key prefix, so another standard: ``CIS-AWS-v3.0/``,
        ``PCI-DSS-v4/``, ``NIST-800-53-r5/``...) and X and Y share at least one `tests` source,
        the same (sourceType, keywordValue): the same Security Hub control or Config rule settles
        part of both requirements, so one pass or failure is evidence for both. `supports`
        sources, API snapshots, CloudTrail events and manual sources never make controls
        equivalent: they carry no verdict. Each Equivalent names the shared sources.
        Sorted by name; empty for an unknown id or a control without `tests` evidence."""
        index = self._tests_index()
        control = self.controls.get(control_id)
        if control is None:
            return []
        family = control.key.split("/", 1)[0]
        shared: dict[str, list[tuple[str, str]]] = {}
        for ident in _tests_sources(control):
            for other in index.get(ident, ()):
                if self.controls[other].key.split("/", 1)[0] != family:
                    shared.setdefault(other, []).append(ident)
        return sorted((Equivalent(self.controls[i], tuple(sorted(set(s))))
                       for i, s in shared.items()),
                      key=lambda e: (_natural_key(e.control.name), e.control.key))

    def _tests_index(self) -> dict[tuple[str, str], set[str]]:
        if self._tests_by_source is None:
            index: dict[tuple[str, str], set[str]] = {}
            for c in self.controls.values():
                for ident in _tests_sources(c):
                    index.setdefault(ident, set()).add(c.id)
            self._tests_by_source = index
        return self._tests_by_source

    def stats(self) -> list[dict]:
        """Per framework: size and how much of it Assay can evidence automatically.

        ``automated``: controls a `tests` source covers (a pass settles the requirement);
        ``with_evidence``: controls with any automated source, `tests` or `supports`. Shares are
        fractions of ``controls`` rounded to 4 places.
        """
        out = []
        for fw in self.frameworks.values():
            ids = fw.control_ids
            automated = sum(1 for i in ids if self.controls[i].automated)
            supported = sum(1 for i in ids if self.controls[i].supported)
            out.append(
                {
                    "key": fw.key,
                    "name": fw.name,
                    "controls": len(ids),
                    "control_sets": len(fw.control_sets),
                    "automated": automated,
                    "automated_share": round(automated / len(ids), 4) if ids else 0.0,
                    "with_evidence": supported,
                    "with_evidence_share": round(supported / len(ids), 4) if ids else 0.0,
                }
            )
        return out

    def __repr__(self) -> str:
        return (
            f"<Library {len(self.frameworks)} frameworks, {len(self.controls)} controls, "
            f"{len(self.domains)} domains>"
        )


def _tests_sources(control: StandardControl) -> list[tuple[str, str]]:
    """(sourceType, keyword) of a control's `tests` sources."""
    return [(s["sourceType"], s["sourceKeyword"]["keywordValue"])
            for s, strength in zip(control.mapping_sources, control.source_strengths)
            if strength == "tests"]


# ----------------------------------------------------------------------------- loading


def load_library(data_dir: Path | None = None) -> Library:
    """Load and check the standard library. The default library is loaded once and cached.

    `data_dir` (used by tests and tools) must hold library files; its `domains.json` is used
    if present, else the packaged one.
    """
    if data_dir is None:
        return _load_default()
    return _load(Path(data_dir))


@functools.cache
def _load_default() -> Library:
    """The packaged library, from the checked cache when one matches (see `_cache_key`)."""
    key = _cache_key(DATA_DIR)
    for folder in _cache_dirs():
        try:
            library = pickle.loads((folder / f"library-{key}.pickle").read_bytes())
        except Exception:  # missing, unreadable or damaged: the cache is only ever a shortcut
            continue
        if isinstance(library, Library):
            return library
    library = _load(DATA_DIR)
    _write_cache(library, key)
    return library


# Checking all 3,522 controls costs every process that opens the services about 0.3 s of CPU;
# reading the checked result back costs about 0.06 s. The cache holds only what `_load`
# returned for exactly these inputs, so it carries the same guarantees: its key covers every
# data file (name and bytes), the code that checks them (this module, the keyword catalogue
# module and the source types of model/controls.py) and the Python version (pickle format).
_CACHE_CODE = (Path(__file__), Path(__file__).with_name("keywords.py"),
               Path(__file__).parent.parent / "model" / "controls.py")


def _cache_key(data_dir: Path) -> str:
    """Hex SHA-256 of the loader's inputs: ~8 MB hashed, a few ms."""
    h = hashlib.sha256(sys.version.encode())
    for path in (*_CACHE_CODE, *sorted(p for p in data_dir.iterdir() if p.is_file())):
        h.update(f"\0{path.name}\0{path.stat().st_size}\0".encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:32]


def _cache_dirs() -> list[Path]:
    """Where the checked library is cached, first choice first: next to the package, like
    Python's own bytecode cache (shared by every user of this install), else the user's cache
    folder ($XDG_CACHE_HOME/assay, default ~/.cache/assay) when the install is read-only."""
    user = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "assay"
    return [DATA_DIR.parent / "__pycache__", user]


def _write_cache(library: Library, key: str) -> None:
    """Store the checked library atomically (a reader sees a whole file or none); older keys'
    files are removed. A folder that cannot be written is skipped: the cache is optional."""
    blob = pickle.dumps(library, protocol=pickle.HIGHEST_PROTOCOL)
    for folder in _cache_dirs():
        tmp = folder / f".library-{key}.{os.getpid()}.tmp"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(blob)
            os.replace(tmp, folder / f"library-{key}.pickle")
        except OSError:
            with contextlib.suppress(OSError):
                tmp.unlink()
            continue
        for old in folder.glob("library-*.pickle"):
            if old.name != f"library-{key}.pickle":
                with contextlib.suppress(OSError):
                    old.unlink()
        return


def _read(path: Path):
    raw = path.read_bytes()
    if path.name.endswith(".gz"):
        raw = gzip.decompress(raw)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise LibraryError(f"{path.name}: not valid JSON: {e}") from None


def _library_files(data_dir: Path) -> list[Path]:
    if not data_dir.is_dir():
        raise LibraryError(f"{data_dir}: library data directory not found")
    files = [
        p
        for p in sorted(data_dir.iterdir())
        if p.is_file()
        and (p.name.endswith(".json") or p.name.endswith(".json.gz"))
        and p.name not in RESERVED_FILES
    ]
    stems = [p.name.removesuffix(".gz") for p in files]
    for s in set(stems):
        if stems.count(s) > 1:
            raise LibraryError(f"{s}: present both plain and gzip-compressed in {data_dir}")
    return files


def _load_domains(data_dir: Path) -> dict[str, Domain]:
    path = data_dir / DOMAINS_FILE
    if not path.exists():
        path = DATA_DIR / DOMAINS_FILE
    data = _read(path)
    domains: dict[str, Domain] = {}
    for d in data.get("domains", []):
        key = d.get("key")
        if not isinstance(key, str) or not key or key in {x.key for x in domains.values()}:
            raise LibraryError(f"{path.name}: domain {key!r}: missing or duplicate key")
        for field in ("name", "description"):
            if not isinstance(d.get(field), str) or not d[field]:
                raise LibraryError(f"{path.name}: domain {key!r}: {field} is required")
        did = domain_id(key)
        domains[did] = Domain(id=did, key=key, name=d["name"], description=d["description"])
    return domains


def _load(data_dir: Path) -> Library:
    domains = _load_domains(data_dir)
    domain_keys = {d.key: d.id for d in domains.values()}
    provenance: dict[str, str] = {}
    controls: list[StandardControl] = []
    control_file: dict[str, str] = {}  # control key -> file name
    raw_frameworks: list[tuple[str, dict]] = []

    for path in _library_files(data_dir):
        data = _read(path)
        where = path.name
        if not isinstance(data, dict):
            raise LibraryError(f"{where}: top level must be an object")
        unknown = set(data) - {"provenance", "controls", "frameworks"}
        if unknown:
            raise LibraryError(f"{where}: unknown top-level field(s) {sorted(unknown)}")
        prov = data.get("provenance")
        if not isinstance(prov, str) or not prov.strip():
            raise LibraryError(f"{where}: provenance is required")
        provenance[where] = prov
        for raw in _as_list(data.get("controls", []), where, "controls"):
            control = _parse_control(raw, where, domain_keys)
            if control.key in control_file:
                raise LibraryError(
                    f"{where}: control {control.key!r}: duplicate key "
                    f"(also defined in {control_file[control.key]})"
                )
            control_file[control.key] = where
            controls.append(control)
        for raw in _as_list(data.get("frameworks", []), where, "frameworks"):
            raw_frameworks.append((where, raw))

    controls.sort(key=lambda c: (_natural_key(c.name), c.key))
    by_key = {c.key: c for c in controls}
    frameworks: list[StandardFramework] = []
    seen: dict[str, str] = {}
    for where, raw in raw_frameworks:
        fw = _parse_framework(raw, where, by_key)
        if fw.key in seen:
            raise LibraryError(
                f"{where}: framework {fw.key!r}: duplicate key (also defined in {seen[fw.key]})"
            )
        seen[fw.key] = where
        frameworks.append(fw)
    frameworks.sort(key=lambda f: (_natural_key(f.name), f.key))
    return Library(
        controls={c.id: c for c in controls},
        frameworks={f.id: f for f in frameworks},
        domains=domains,
        provenance=provenance,
    )


def _as_list(value, where: str, field: str) -> list:
    if not isinstance(value, list):
        raise LibraryError(f"{where}: {field} must be a list")
    return value


_DIGITS = re.compile(r"(\d+)")


def _natural_key(text: str) -> tuple:
    """Sort key that puts AC-2 before AC-10."""
    return tuple(int(t) if t.isdigit() else t.lower() for t in _DIGITS.split(text))


def _text(value, where: str, field: str, limit: int, *, required: bool = False, minimum: int = 0) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise LibraryError(f"{where}: {field} must be a string")
    if len(value) > limit:
        raise LibraryError(f"{where}: {field} is {len(value)} characters, limit {limit}")
    if len(value) < max(minimum, 1 if required else 0):
        raise LibraryError(f"{where}: {field} is required")
    return value


def _parse_control(raw, where: str, domain_keys: dict[str, str]) -> StandardControl:
    if not isinstance(raw, dict):
        raise LibraryError(f"{where}: every control must be an object")
    key = raw.get("key")
    if not isinstance(key, str) or not key.strip():
        raise LibraryError(f"{where}: control without a key")
    at = f"{where}: control {key!r}"
    unknown = set(raw) - _CONTROL_FIELDS
    if unknown:
        raise LibraryError(f"{at}: unknown field(s) {sorted(unknown)}")
    for field in _REQUIRED_CONTROL_FIELDS:
        if field not in raw:
            raise LibraryError(f"{at}: {field} is required")
    name = _text(raw["name"], at, "name", CONTROL_NAME_MAX, required=True)
    if "\\" in name:
        raise LibraryError(f"{at}: name must not contain a backslash")
    description = _text(raw.get("description"), at, "description", TEXT_MAX)
    testing = _text(raw.get("testingInformation"), at, "testingInformation", TEXT_MAX)
    plan_title = _text(raw.get("actionPlanTitle"), at, "actionPlanTitle", ACTION_PLAN_TITLE_MAX)
    plan = _text(raw.get("actionPlanInstructions"), at, "actionPlanInstructions", TEXT_MAX)
    domain = raw["domain"]
    if domain not in domain_keys:
        raise LibraryError(f"{at}: unknown domain {domain!r}")
    sources_raw = raw["controlMappingSources"]
    if not isinstance(sources_raw, list) or not sources_raw:
        raise LibraryError(f"{at}: controlMappingSources must be a non-empty list")
    sources = []
    strengths: list[str | None] = []
    labels: list[str] = []
    seen_sources: set[tuple] = set()
    for index, src in enumerate(sources_raw):
        sat = f"{at}: source {index}"
        if not isinstance(src, dict):
            raise LibraryError(f"{sat}: must be an object")
        src, strength = _take_strength(src, sat)
        strengths.append(strength)
        checked = _check_source(src, sat)
        ident = (checked["sourceType"], checked.get("sourceKeyword", {}).get("keywordValue"), checked["sourceName"])
        if ident in seen_sources:
            raise LibraryError(f"{sat}: duplicate source {ident[0]} {ident[1] or ident[2]!r}")
        seen_sources.add(ident)
        sources.append({"sourceId": source_id(key, index), **checked})
        label = SOURCE_TYPE_LABELS[checked["sourceType"]]
        if label not in labels:
            labels.append(label)
    return StandardControl(
        id=control_id(key),
        key=key,
        name=name,
        description=description,
        testing_information=testing,
        action_plan_title=plan_title,
        action_plan_instructions=plan,
        control_sources=_control_sources(labels, at),
        domain_id=domain_keys[domain],
        mapping_sources=tuple(sources),
        source_strengths=tuple(strengths),
    )


def strength_description(strength: str, reason: str | None, description: str) -> str:
    """A source description led by what its evidence proves: ``tests`` (a pass shows the
    requirement met for the resources in scope) or ``supports`` (helps, does not settle; with
    the reason). Raises ValueError for an unknown strength or a ``supports`` without reason."""
    if strength not in STRENGTHS:
        raise ValueError(f"strength must be one of {', '.join(STRENGTHS)}, not {strength!r}")
    if strength == "supports" and not (reason or "").strip():
        raise ValueError("a supports mapping needs a strengthReason")
    lead = _STRENGTH_LEAD[strength].format(reason=(reason or "").strip().rstrip("."))
    return f"{lead} {description}".strip()


def strength_of(source: dict) -> str | None:
    """``tests`` or ``supports`` for an API-shaped source whose description a standard control
    led with its strength (see `strength_description`); None otherwise (custom or MANUAL)."""
    description = source.get("sourceDescription") or ""
    for strength in STRENGTHS:
        if description.startswith(_STRENGTH_LEAD[strength].split(" ", 3)[0] + " the requirement"):
            return strength
    return None


def _take_strength(src: dict, at: str) -> tuple[dict, str | None]:
    """Split the strength fields off a source; return (API-shaped source, strength or None)."""
    strength = src.get("strength")
    reason = src.get("strengthReason")
    plain = {k: v for k, v in src.items() if k not in _STRENGTH_FIELDS}
    if src.get("sourceType") == "MANUAL":
        if strength is not None or reason is not None:
            raise LibraryError(f"{at}: a MANUAL source has no strength")
        return plain, None
    if strength not in STRENGTHS:
        raise LibraryError(f"{at}: strength must be one of {', '.join(STRENGTHS)} (got {strength!r})")
    if strength == "supports":
        if not isinstance(reason, str) or not reason.strip():
            raise LibraryError(f"{at}: strengthReason is required for a supports source "
                               "(why it does not settle the requirement)")
        _text(reason, at, "strengthReason", REASON_MAX)
    elif reason is not None:
        raise LibraryError(f"{at}: strengthReason is only for supports sources")
    if isinstance(plain.get("sourceDescription"), str):
        plain["sourceDescription"] = strength_description(strength, reason, plain["sourceDescription"])
    return plain, strength


def _control_sources(labels: list[str], at: str) -> str:
    text = ", ".join(labels)
    if len(text) > CONTROL_SOURCES_MAX or not CONTROL_SOURCES_PATTERN.match(text):
        raise LibraryError(f"{at}: controlSources {text!r} is invalid")
    return text


def _check_source(src, at: str) -> dict:
    if not isinstance(src, dict):
        raise LibraryError(f"{at}: must be an object")
    unknown = set(src) - _SOURCE_FIELDS
    if unknown:
        raise LibraryError(f"{at}: unknown field(s) {sorted(unknown)}")
    stype = src.get("sourceType")
    if stype not in SOURCE_TYPES:
        raise LibraryError(f"{at}: sourceType {stype!r} is not one of {', '.join(SOURCE_TYPES)}")
    _text(src.get("sourceName"), at, "sourceName", SOURCE_NAME_MAX, required=True)
    _text(src.get("sourceDescription"), at, "sourceDescription", TEXT_MAX)
    _text(src.get("troubleshootingText"), at, "troubleshootingText", TROUBLESHOOTING_MAX)
    setup = src.get("sourceSetUpOption")
    want = "Procedural_Controls_Mapping" if stype == "MANUAL" else "System_Controls_Mapping"
    if setup != want:
        raise LibraryError(f"{at}: sourceSetUpOption of a {stype} source must be {want}")
    freq = src.get("sourceFrequency")
    if stype == "AWS_API_Call":
        if freq not in FREQUENCIES:
            raise LibraryError(f"{at}: AWS_API_Call needs sourceFrequency in {FREQUENCIES}")
    elif freq is not None:
        raise LibraryError(f"{at}: sourceFrequency is only allowed on AWS_API_Call sources")
    kw = src.get("sourceKeyword")
    if kw is None:
        if stype != "MANUAL":
            raise LibraryError(f"{at}: a {stype} source needs a sourceKeyword")
        return src
    if not isinstance(kw, dict) or set(kw) - {"keywordInputType", "keywordValue"}:
        raise LibraryError(f"{at}: sourceKeyword must have keywordInputType and keywordValue")
    value = kw.get("keywordValue")
    itype = kw.get("keywordInputType")
    if not isinstance(value, str) or not (1 <= len(value) <= KEYWORD_MAX) or not KEYWORD_PATTERN.match(value):
        raise LibraryError(f"{at}: keywordValue {value!r} does not match Audit Manager's pattern")
    if stype == "MANUAL":
        if itype not in ("UPLOAD_FILE", "INPUT_TEXT"):
            raise LibraryError(f"{at}: a MANUAL keyword must be UPLOAD_FILE or INPUT_TEXT")
    else:
        if itype not in ("SELECT_FROM_LIST", "INPUT_TEXT"):
            raise LibraryError(f"{at}: keywordInputType {itype!r} is invalid for {stype}")
        if not _keywords.is_valid_keyword(stype, value):
            hint = _keywords.suggest_keywords(stype, value)
            raise LibraryError(
                f"{at}: unknown {stype} keyword {value!r}"
                + (f" (did you mean {', '.join(hint)}?)" if hint else "")
            )
    return src


def _parse_framework(raw, where: str, controls_by_key: dict[str, StandardControl]) -> StandardFramework:
    if not isinstance(raw, dict):
        raise LibraryError(f"{where}: every framework must be an object")
    key = raw.get("key")
    if not isinstance(key, str) or not key.strip():
        raise LibraryError(f"{where}: framework without a key")
    at = f"{where}: framework {key!r}"
    unknown = set(raw) - _FRAMEWORK_FIELDS
    if unknown:
        raise LibraryError(f"{at}: unknown field(s) {sorted(unknown)}")
    name = _text(raw.get("name"), at, "name", FRAMEWORK_NAME_MAX, required=True)
    if "\\" in name:
        raise LibraryError(f"{at}: name must not contain a backslash")
    description = _text(raw.get("description"), at, "description", FRAMEWORK_DESCRIPTION_MAX, required=True)
    compliance = _text(raw.get("complianceType"), at, "complianceType", COMPLIANCE_TYPE_MAX)
    sets_raw = raw.get("controlSets")
    if not isinstance(sets_raw, list) or not sets_raw:
        raise LibraryError(f"{at}: controlSets must be a non-empty list")
    sets: list[StandardControlSet] = []
    names: set[str] = set()
    used: list[str] = []
    for cs in sets_raw:
        if not isinstance(cs, dict) or set(cs) - {"name", "controls"}:
            raise LibraryError(f"{at}: a control set has only name and controls")
        set_name = _text(cs.get("name"), at, "control set name", CONTROL_SET_NAME_MAX, required=True)
        sat = f"{at}: control set {set_name!r}"
        if "_" in set_name or "\\" in set_name:
            raise LibraryError(f"{sat}: name must not contain '_' or a backslash")
        if set_name in names:
            raise LibraryError(f"{sat}: duplicate control set name")
        names.add(set_name)
        keys = cs.get("controls")
        if not isinstance(keys, list) or not keys:
            raise LibraryError(f"{sat}: controls must be a non-empty list")
        if len(set(keys)) != len(keys):
            raise LibraryError(f"{sat}: lists a control twice")
        ids = []
        for ckey in keys:
            control = controls_by_key.get(ckey)
            if control is None:
                raise LibraryError(f"{sat}: unknown control {ckey!r}")
            ids.append(control.id)
            used.append(ckey)
        sets.append(StandardControlSet(id=control_set_id(key, set_name), name=set_name, control_ids=tuple(ids)))
    present = {label for ckey in used for label in controls_by_key[ckey].control_sources.split(", ")}
    labels = [label for label in SOURCE_TYPE_LABELS.values() if label in present]
    return StandardFramework(
        id=framework_id(key),
        key=key,
        name=name,
        description=description,
        compliance_type=compliance,
        control_sets=tuple(sets),
        control_sources=_control_sources(labels, at),
    )
