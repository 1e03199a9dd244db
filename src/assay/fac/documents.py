"""Library files: reading them (YAML or JSON) with the line of every value, and refusing them,
with file, line and field, before anything talks to a target.

Three checks, in order: the JSON Schema shipped beside this module (structure), Audit
Manager's own model (lengths, patterns: the API would refuse the same values later) with
Assay's mapping-source rules (a keyword that can never collect evidence), and the files
together (a name defined twice)."""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml
from jsonschema import Draft202012Validator

# The Assay server's own model checker: a file is refused for what the API would refuse.
from ..api import wire
from ..model.controls import keyword_corrections, mapping_source_problems
from .canonical import control_document, framework_document

SCHEMA_PATH = Path(__file__).with_name("schema.json")
SUFFIXES = (".yaml", ".yml", ".json")
# Framework control sets name their controls; the model wants ids, so an id-shaped stand-in
# lets the model check everything else about a framework before any id is known.
_PLACEHOLDER_ID = "00000000-0000-4000-8000-000000000000"

Pointer = tuple  # a path inside a document: ("frameworks", 0, "controlSets", 1, "name")


@dataclass(frozen=True)
class Problem:
    origin: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.origin}:{self.line}" if self.line else self.origin
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class BadInput(Exception):
    """Input that is refused before anything is applied (exit code 2)."""

    def __init__(self, problems: list[Problem]):
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class Where:
    """Where a definition came from: a file and line, or a migration's source account."""

    origin: str
    line: int | None = None
    field: str = ""

    def problem(self, message: str, field: str | None = None) -> Problem:
        return Problem(self.origin, self.line, self.field if field is None else field, message)


@dataclass(frozen=True)
class Reference:
    """A framework's reference to a control, by name; ``type`` only when the file says."""

    name: str
    type: str | None
    where: Where


@dataclass
class ControlSpec:
    document: dict[str, Any]  # canonical (see canonical.py)
    where: Where


@dataclass
class FrameworkSpec:
    document: dict[str, Any]  # canonical, without controlSets
    control_sets: list[tuple[str, list[Reference]]]
    where: Where


@dataclass
class Definitions:
    """What the files describe: custom controls and frameworks by name."""

    controls: dict[str, ControlSpec] = field(default_factory=dict)
    frameworks: dict[str, FrameworkSpec] = field(default_factory=dict)
    # "file:line: field: what was taken how" for keywords put in their canonical letter case.
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- reading


def library_files(paths: Iterable[str | Path]) -> tuple[list[Path], list[Problem]]:
    """The files named, and every library file under the folders named, in a stable order."""
    files: list[Path] = []
    problems: list[Problem] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in SUFFIXES)
        elif path.is_file():
            files.append(path)
        else:
            problems.append(Problem(str(path), None, "", "no such file or folder"))
    return list(dict.fromkeys(files)), problems


def read_document(path: Path) -> tuple[Any, dict[Pointer, int], list[Problem]]:
    """Parse one file into plain values and the line of every value (keys' lines for members).

    YAML's composer keeps the position of every node, and JSON is (for these documents) YAML,
    so both formats get lines. A JSON file YAML cannot read falls back to json, without lines.
    """
    text = path.read_text(encoding="utf-8")
    lines: dict[Pointer, int] = {}
    problems: list[Problem] = []
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
    except yaml.YAMLError as exc:
        if path.suffix == ".json":
            try:
                return json.loads(text), lines, problems
            except json.JSONDecodeError as json_exc:
                return None, lines, [Problem(str(path), json_exc.lineno, "", json_exc.msg)]
        mark = getattr(exc, "problem_mark", None)
        message = getattr(exc, "problem", None) or str(exc)
        return None, lines, [Problem(str(path), mark.line + 1 if mark else None, "", message)]
    finally:
        loader.dispose()
    if node is None:
        return {}, lines, problems  # an empty file describes nothing
    return _construct(loader, node, (), lines, problems, str(path)), lines, problems


def _construct(loader, node, path: Pointer, lines: dict, problems: list, origin: str) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node)
            if not isinstance(key, str):
                key = str(key)
            if key in out:
                # YAML keeps the last of two equal keys silently; a library file must not.
                problems.append(Problem(origin, key_node.start_mark.line + 1,
                                        format_path(path + (key,)), "defined twice"))
            lines[path + (key,)] = key_node.start_mark.line + 1
            out[key] = _construct(loader, value_node, path + (key,), lines, problems, origin)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(loader, item, path + (index,), lines, problems, origin)
                for index, item in enumerate(node.value)]
    return loader.construct_object(node)


def format_path(path: Pointer) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def parse_path(text: str) -> Pointer:
    """``controlSets[0].name`` -> ("controlSets", 0, "name"): the model checker's field names."""
    return tuple(int(index) if index else name
                 for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", text))


def line_of(lines: dict[Pointer, int], path: Pointer) -> int | None:
    """The line of ``path``, or of its closest ancestor that exists in the file."""
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return None


# --------------------------------------------------------------------------- checking


@functools.cache
def schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def schema_problems(document: Any, lines: dict, origin: str) -> list[tuple[Pointer, Problem]]:
    """Every schema violation, with the path of the value at fault."""
    validator = Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(document), key=lambda e: [str(p) for p in e.path])
    return [found for error in errors for found in _explain(error, lines, origin)]


_BY_NAME = "controls are referenced by name, never by id (ids belong to one account and Region)"


def _explain(error, lines: dict, origin: str) -> list[tuple[Pointer, Problem]]:
    """jsonschema's error, said about the field at fault (an unknown key, a missing one)."""
    path = tuple(error.absolute_path)

    def at(where: Pointer, message: str) -> tuple[Pointer, Problem]:
        return where, Problem(origin, line_of(lines, where), format_path(where), message)

    if error.validator == "additionalProperties":
        allowed = set(error.schema.get("properties", {}))
        return [at(path + (key,), _BY_NAME if key == "id" else "unknown field")
                for key in sorted(k for k in error.instance if k not in allowed)]
    if error.validator == "required":
        missing = re.match(r"'([^']+)'", error.message)
        return [at(path + ((missing.group(1),) if missing else ()), "required field is missing")]
    if error.validator == "oneOf":
        # A control reference is a name or {name, type}: explain the form that was given.
        if isinstance(error.instance, dict):
            chosen = [e for e in error.context if e.schema_path and e.schema_path[0] == 1]
            return [p for e in chosen for p in _explain(e, lines, origin)]
        return [at(path, "must be a control name or {name, type}")]
    return [at(path, error.message)]


def _model_problems(shape_name: str, params: dict, prefix: Pointer, lines: dict,
                    origin: str) -> list[Problem]:
    found: list[dict] = []
    wire.validate(wire.service_model().shape_for(shape_name), params, "", found)
    return [_located(item, prefix, lines, origin) for item in found]


def _located(item: dict, prefix: Pointer, lines: dict, origin: str) -> Problem:
    path = prefix + parse_path(item["name"])
    return Problem(origin, line_of(lines, path), format_path(path), item["message"])


# --------------------------------------------------------------------------- loading


def load(paths: Iterable[str | Path]) -> Definitions:
    """Read and check library files; raise ``BadInput`` naming every problem in every file."""
    files, problems = library_files(paths)
    definitions = Definitions()
    for path in files:
        document, lines, found = read_document(path)
        problems += found
        if found:
            continue
        origin = str(path)
        found = schema_problems(document, lines, origin)
        problems += [problem for _, problem in found]
        # Entries the schema accepts are checked further even when others in the file are
        # not, so one run names every problem; a file whose shape is wrong is not.
        broken = {where[:2] for where, _ in found}
        if all(len(where) == 2 for where in broken):
            problems += _collect(document, lines, origin, definitions, broken)
    if problems:
        raise BadInput(problems)
    return definitions


def _collect(document: dict, lines: dict, origin: str, definitions: Definitions,
             skip: set[Pointer]) -> list[Problem]:
    problems: list[Problem] = []
    for index, raw in enumerate(document.get("controls") or []):
        path: Pointer = ("controls", index)
        if path in skip:
            continue
        where = Where(origin, line_of(lines, path), format_path(path))
        control = control_document(raw)
        if isinstance(raw, dict) and isinstance(raw.get("controlMappingSources"), list):
            definitions.notes += [
                f"{where.origin}:{where.line}: controls[{index}].{c.describe()}"
                for c in keyword_corrections(s for s in raw["controlMappingSources"]
                                             if isinstance(s, dict))]
        problems += _model_problems("CreateControlRequest", control, path, lines, origin)
        problems += [_located(item, path, lines, origin)
                     for item in mapping_source_problems(control["controlMappingSources"])]
        previous = definitions.controls.get(control["name"])
        if previous:
            problems.append(where.problem(f"control '{control['name']}' is already defined at "
                                          f"{previous.where.origin}:{previous.where.line}",
                                          format_path(path + ("name",))))
        definitions.controls[control["name"]] = ControlSpec(control, where)
    for index, raw in enumerate(document.get("frameworks") or []):
        path = ("frameworks", index)
        if path in skip:
            continue
        where = Where(origin, line_of(lines, path), format_path(path))
        spec = _framework(raw, path, lines, origin)
        model_input = {**spec.document, "controlSets": [
            {"name": name, "controls": [{"id": _PLACEHOLDER_ID}] * len(refs)}
            for name, refs in spec.control_sets]}
        problems += _model_problems("CreateAssessmentFrameworkRequest", model_input, path, lines,
                                    origin)
        previous = definitions.frameworks.get(spec.document["name"])
        if previous:
            problems.append(where.problem(
                f"framework '{spec.document['name']}' is already defined at "
                f"{previous.where.origin}:{previous.where.line}", format_path(path + ("name",))))
        definitions.frameworks[spec.document["name"]] = spec
    return problems


def _framework(raw: dict, path: Pointer, lines: dict, origin: str) -> FrameworkSpec:
    document = framework_document({k: v for k, v in raw.items() if k != "controlSets"})
    control_sets = []
    for set_index, control_set in enumerate(raw["controlSets"]):
        refs = []
        for position, item in enumerate(control_set["controls"]):
            ref_path = path + ("controlSets", set_index, "controls", position)
            name, kind = (item, None) if isinstance(item, str) else (item["name"], item.get("type"))
            refs.append(Reference(name, kind, Where(origin, line_of(lines, ref_path),
                                                    format_path(ref_path))))
        control_sets.append((control_set["name"], refs))
    return FrameworkSpec(document, control_sets,
                         Where(origin, line_of(lines, path), format_path(path)))


__all__ = ["BadInput", "ControlSpec", "Definitions", "FrameworkSpec", "Problem",
           "Reference", "Where", "load", "read_document", "schema"]
