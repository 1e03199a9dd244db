"""Plans: what applying the definitions to one target would change, and applying it.

Identity is the name: a control or framework of the files is the target's custom control or
framework of the same name (a rename is a new resource; --prune removes the old one). The
comparison is between canonical documents, so "unchanged" means exactly that export would
write what the files say."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .canonical import framework_document, reference
from .documents import BadInput, Definitions, FrameworkSpec, Problem, Reference
from .targets import Existing, Target, TargetState

CREATE, UPDATE, DELETE, UNCHANGED = "create", "update", "delete", "unchanged"
CONTROL, FRAMEWORK = "control", "framework"


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: Any
    new: Any


@dataclass
class Change:
    kind: str  # control | framework
    name: str
    action: str  # create | update | delete | unchanged
    fields: list[FieldChange] = field(default_factory=list)
    desired: dict[str, Any] | None = None
    existing: Existing | None = None

    def __str__(self) -> str:
        return f"{self.kind} '{self.name}' ({self.action})"


@dataclass
class Plan:
    target: Target
    changes: list[Change]

    def count(self, action: str) -> int:
        return sum(1 for c in self.changes if c.action == action)

    @property
    def pending(self) -> list[Change]:
        """The changes to make, in the order they can be made: controls before the frameworks
        that use them, frameworks deleted before the controls they used."""
        rank = {(CONTROL, CREATE): 0, (CONTROL, UPDATE): 0, (FRAMEWORK, CREATE): 1,
                (FRAMEWORK, UPDATE): 1, (FRAMEWORK, DELETE): 2, (CONTROL, DELETE): 3}
        todo = [c for c in self.changes if c.action != UNCHANGED]
        return sorted(todo, key=lambda c: rank[(c.kind, c.action)])


# --------------------------------------------------------------------------- diff


def diff(old: Any, new: Any, path: str = "") -> list[FieldChange]:
    """Field-level differences. Lists of records of equal length are compared item by item
    (a changed keyword is one field); otherwise a list is one value (an insertion is one
    change, not a cascade of shifted items)."""
    if isinstance(old, dict) and isinstance(new, dict):
        keys = list(old) + [k for k in new if k not in old]
        return [c for k in keys for c in diff(old.get(k), new.get(k), f"{path}.{k}" if path else k)]
    if (isinstance(old, list) and isinstance(new, list) and len(old) == len(new)
            and all(isinstance(i, dict) for i in old + new)):
        return [c for i, (a, b) in enumerate(zip(old, new)) for c in diff(a, b, f"{path}[{i}]")]
    return [] if old == new else [FieldChange(path, old, new)]


# --------------------------------------------------------------------------- planning


def resolve_framework(spec: FrameworkSpec, definitions: Definitions, state: TargetState,
                      prune: bool, target: Target) -> tuple[dict[str, Any], list[Problem]]:
    """The framework's canonical document on this target: every control name resolved to a
    custom control (of the files, or of the target unless --prune) or a standard control.
    A control set that lists one control twice (however the references are spelt) is refused
    here, as the API would refuse it only after the controls before it were applied."""
    problems: list[Problem] = []
    control_sets = []
    for name, refs in spec.control_sets:
        controls = []
        listed: dict[tuple[str, str], Reference] = {}  # resolved (name, type) -> its first reference
        for ref in refs:
            kinds = []
            if ref.name in definitions.controls or (not prune and ref.name in state.controls):
                kinds.append("Custom")
            # A reference typed Custom is decided without the standard library (listed on
            # first use: see TargetState).
            if ref.type != "Custom" and ref.name in state.standard:
                kinds.append("Standard")
            ambiguity = (None if ref.type == "Custom" or kinds == ["Custom"]
                         else standard_ambiguity(ref.name, state.standard, target))
            if ambiguity:
                problems.append(ref.where.problem(ambiguity))
                continue
            if ref.type or len(kinds) == 1:
                kind = ref.type or kinds[0]
                if ref.type and ref.type not in kinds:
                    problems.append(ref.where.problem(_missing(ref.name, ref.type, prune, target)))
                first = listed.setdefault((ref.name, kind), ref)
                if first is not ref:
                    problems.append(ref.where.problem(
                        f"control '{ref.name}' ({kind}) is listed twice in control set "
                        f"'{name}' (first at line {first.where.line})"))
                    continue
                controls.append(reference(ref.name, kind))
            elif kinds:
                problems.append(ref.where.problem(
                    f"'{ref.name}' names both a custom and a standard control on {target.label}; "
                    "say which with {name: ..., type: Custom} or {name: ..., type: Standard}"))
            else:
                problems.append(ref.where.problem(_missing(ref.name, None, prune, target)))
        control_sets.append({"name": name, "controls": controls})
    return framework_document({**spec.document, "controlSets": control_sets}), problems


CANDIDATES_SHOWN = 10


def standard_ambiguity(name: str, standard: dict[str, list[str]], target: Target) -> str | None:
    """Why a reference to a standard control by `name` cannot be resolved to exactly one, or None.

    Ambiguous: the target has several standard controls of that exact name (AWS's library
    repeats names), or none of that name but several whose names end with it (a reference
    written before the library put the framework's short name in every name, such as
    "AC-2(1) Automated System Account Management"). The message lists the candidates, so
    the file can name one exactly."""
    ids = standard.get(name, [])
    if len(ids) > 1:
        return (f"'{name}' is ambiguous: {len(ids)} standard controls on {target.label} have that "
                f"name (ids {', '.join(sorted(ids)[:CANDIDATES_SHOWN])}); it cannot be told apart")
    if ids:
        return None
    candidates = sorted(n for n in standard if n.endswith(" " + name))
    if len(candidates) > 1:
        shown = "; ".join(f"'{c}'" for c in candidates[:CANDIDATES_SHOWN])
        more = f" and {len(candidates) - CANDIDATES_SHOWN} more" if len(candidates) > CANDIDATES_SHOWN else ""
        return (f"'{name}' is ambiguous: {len(candidates)} standard controls on {target.label} end "
                f"with that name; name one of them exactly: {shown}{more}")
    if len(candidates) == 1:
        return (f"no standard control named '{name}' on {target.label}; did you mean "
                f"'{candidates[0]}'?")
    return None


def _missing(name: str, kind: str | None, prune: bool, target: Target) -> str:
    if kind == "Standard":
        return f"no standard control named '{name}' on {target.label}"
    places = ("these files (with --prune, custom controls must be in the files)" if prune
              else f"these files or among the custom controls of {target.label}")
    if kind == "Custom":
        return f"no custom control named '{name}' in {places}"
    return f"no control named '{name}' in {places}, nor in the standard library of {target.label}"


def make_plan(target: Target, definitions: Definitions, state: TargetState,
              prune: bool = False) -> Plan:
    """Compare the definitions with a target's state; raise ``BadInput`` for references that
    do not resolve there."""
    problems: list[Problem] = []
    frameworks: dict[str, dict] = {}
    for name, spec in definitions.frameworks.items():
        frameworks[name], found = resolve_framework(spec, definitions, state, prune, target)
        problems += found
    if problems:
        raise BadInput(problems)
    changes = [_compare(CONTROL, name, spec.document, state.controls.get(name))
               for name, spec in sorted(definitions.controls.items())]
    changes += [_compare(FRAMEWORK, name, document, state.frameworks.get(name))
                for name, document in sorted(frameworks.items())]
    if prune:
        changes += [Change(FRAMEWORK, name, DELETE, existing=state.frameworks[name])
                    for name in sorted(set(state.frameworks) - set(frameworks))]
        changes += [Change(CONTROL, name, DELETE, existing=state.controls[name])
                    for name in sorted(set(state.controls) - set(definitions.controls))]
    return Plan(target, changes)


def _compare(kind: str, name: str, desired: dict, existing: Existing | None) -> Change:
    if existing is None:
        return Change(kind, name, CREATE, desired=desired)
    fields = diff(existing.document, desired)
    return Change(kind, name, UPDATE if fields else UNCHANGED, fields, desired, existing)


# --------------------------------------------------------------------------- applying


@dataclass
class Outcome:
    """What happened on one target: the changes made, and where it stopped if it did."""

    target: Target
    applied: list[Change] = field(default_factory=list)
    not_applied: list[Change] = field(default_factory=list)
    failed: Change | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def apply_plan(plan: Plan, client, state: TargetState) -> Outcome:
    """Make the plan's changes in order; stop at the first failure (later changes may depend
    on it) and say what was and was not applied. Every step is keyed by name, so running the
    same apply again plans only what is left."""
    outcome = Outcome(plan.target)
    control_ids = {name: existing.id for name, existing in state.controls.items()}
    pending = plan.pending
    for index, change in enumerate(pending):
        try:
            _apply(change, client, state, control_ids)
        except (ClientError, BotoCoreError) as exc:
            outcome.failed, outcome.error = change, error_message(exc)
            outcome.not_applied = pending[index:]
            return outcome
        outcome.applied.append(change)
    return outcome


def error_message(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code')}: {error.get('Message')}"
    return str(exc)


def _apply(change: Change, client, state: TargetState, control_ids: dict[str, str]) -> None:
    desired, existing = change.desired, change.existing
    if change.action == DELETE:
        if change.kind == CONTROL:
            client.delete_control(controlId=existing.id)
        else:
            client.delete_assessment_framework(frameworkId=existing.id)
        return
    if change.kind == CONTROL:
        params = {k: v for k, v in desired.items() if k != "tags"}
        if change.action == CREATE:
            created = client.create_control(**params, **_tags(desired))["control"]
            control_ids[change.name] = created["id"]
            return
        if _changed_besides_tags(change):
            # Sources keep their ids where the name is unchanged: evidence refers to them.
            params["controlMappingSources"] = [
                {**s, **({"sourceId": existing.part_ids[s["sourceName"]]}
                         if s["sourceName"] in existing.part_ids else {})}
                for s in params["controlMappingSources"]]
            client.update_control(controlId=existing.id, **params)
    else:
        params = {k: v for k, v in desired.items() if k != "tags"}
        sets = [{"name": s["name"],
                 "controls": [{"id": _control_id(c, state, control_ids)} for c in s["controls"]]}
                for s in desired["controlSets"]]
        if change.action == CREATE:
            client.create_assessment_framework(**{**params, "controlSets": sets}, **_tags(desired))
            return
        if _changed_besides_tags(change):
            for control_set in sets:
                if control_set["name"] in existing.part_ids:
                    control_set["id"] = existing.part_ids[control_set["name"]]
            client.update_assessment_framework(frameworkId=existing.id,
                                               **{**params, "controlSets": sets})
    _retag(client, existing.arn, existing.document.get("tags") or {}, desired.get("tags") or {})


def _tags(desired: dict) -> dict:
    return {"tags": desired["tags"]} if desired.get("tags") else {}


def _changed_besides_tags(change: Change) -> bool:
    return any(f.field != "tags" and not f.field.startswith("tags.") for f in change.fields)


def _control_id(ref: dict, state: TargetState, control_ids: dict[str, str]) -> str:
    return state.standard[ref["name"]][0] if ref["type"] == "Standard" else control_ids[ref["name"]]


def _retag(client, arn: str, old: dict, new: dict) -> None:
    # UpdateControl and UpdateAssessmentFramework take no tags: tags have their own calls.
    removed = sorted(set(old) - set(new))
    added = {k: v for k, v in new.items() if old.get(k) != v}
    if removed:
        client.untag_resource(resourceArn=arn, tagKeys=removed)
    if added:
        client.tag_resource(resourceArn=arn, tags=added)
