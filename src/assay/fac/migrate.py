"""Migration from an Audit Manager account (AWS, or another Assay) into Assay.

A migration is an apply whose definitions are read from the source instead of from files:
the source's custom controls and frameworks, with the standard controls its frameworks use
mapped by name to the target's standard library. What has no counterpart there is left out
and reported, never guessed. With assessments, their definitions follow (name, description,
scope, roles, report destination, framework by name)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .documents import ControlSpec, Definitions, FrameworkSpec, Reference, Where
from .plan import Outcome, error_message
from .targets import Target, TargetState, walk

CREATED, EXISTS, UNAVAILABLE, FAILED = "created", "exists", "not available", "failed"
_ASSESSMENT_FIELDS = ("name", "description", "assessmentReportsDestination", "scope", "roles")


@dataclass
class AssessmentOutcome:
    name: str
    status: str  # created | exists | not available | failed
    message: str = ""


@dataclass
class MigrationReport:
    target: Target
    unmapped: list[str] = field(default_factory=list)
    outcome: Outcome | None = None
    assessments: list[AssessmentOutcome] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return (self.error is None and (self.outcome is None or self.outcome.ok)
                and all(a.status in (CREATED, EXISTS) for a in self.assessments))


def definitions_from(source: TargetState, target: TargetState,
                     source_label: str) -> tuple[Definitions, list[str]]:
    """The source's custom content as definitions for ``target``, and what could not be mapped."""
    origin = f"source {source_label}"
    unmapped: list[str] = []
    definitions = Definitions()
    for name, existing in sorted(source.controls.items()):
        definitions.controls[name] = ControlSpec(existing.document, Where(origin, None,
                                                                          f"control '{name}'"))
    for name, existing in sorted(source.frameworks.items()):
        where = Where(origin, None, f"framework '{name}'")
        document = {k: v for k, v in existing.document.items() if k != "controlSets"}
        control_sets = []
        for control_set in existing.document["controlSets"]:
            refs = []
            for control in control_set["controls"]:
                if control["type"] == "Custom":
                    refs.append(Reference(control["name"], "Custom", where))
                elif control["name"] in target.standard:
                    refs.append(Reference(control["name"], "Standard", where))
                else:  # a Standard (or AWS Control Catalog "Core") control with no twin
                    unmapped.append(f"framework '{name}', control set '{control_set['name']}': "
                                    f"{control['type'].lower()} control '{control['name']}' has "
                                    "no standard control of that name on the target; left out")
            if refs:
                control_sets.append((control_set["name"], refs))
            else:
                unmapped.append(f"framework '{name}': control set '{control_set['name']}' has "
                                "no control left; left out")
        if control_sets:
            definitions.frameworks[name] = FrameworkSpec(document, control_sets, where)
        else:
            unmapped.append(f"framework '{name}' has no control left on the target; not migrated")
    return definitions, unmapped


def read_assessments(client) -> list[dict[str, Any]]:
    """The source's assessments as definitions: what CreateAssessment takes, framework by name."""
    found = []
    for meta in walk(client.list_assessments, "assessmentMetadata"):
        assessment = client.get_assessment(assessmentId=meta["id"])["assessment"]
        metadata = assessment.get("metadata") or {}
        definition = {k: metadata[k] for k in _ASSESSMENT_FIELDS if metadata.get(k)}
        definition["frameworkName"] = ((assessment.get("framework") or {}).get("metadata")
                                       or {}).get("name")
        if assessment.get("tags"):
            definition["tags"] = assessment["tags"]
        found.append(definition)
    return sorted(found, key=lambda a: a["name"])


def copy_assessments(client, assessments: list[dict], target: TargetState) -> list[AssessmentOutcome]:
    """Create each assessment the target lacks (by name). A target that does not serve
    assessments says so once per assessment; nothing else stops the others."""
    frameworks = dict(target.standard_frameworks)
    frameworks.update({m["name"]: m["id"] for m in walk(
        client.list_assessment_frameworks, "frameworkMetadataList", frameworkType="Custom")})
    try:
        existing = {m["name"] for m in walk(client.list_assessments, "assessmentMetadata")}
    except ClientError:
        existing = set()  # a target that cannot list assessments has none to collide with
    outcomes = []
    for assessment in assessments:
        name = assessment["name"]
        if name in existing:
            outcomes.append(AssessmentOutcome(name, EXISTS))
            continue
        framework_id = frameworks.get(assessment.get("frameworkName") or "")
        if framework_id is None:
            outcomes.append(AssessmentOutcome(name, FAILED, (
                f"its framework '{assessment.get('frameworkName')}' is not on the target")))
            continue
        params = {k: v for k, v in assessment.items() if k != "frameworkName"}
        try:
            client.create_assessment(**params, frameworkId=framework_id)
        except ClientError as exc:
            unavailable = exc.response.get("reason") == "unknownOperation"
            outcomes.append(AssessmentOutcome(name, UNAVAILABLE if unavailable else FAILED,
                                              error_message(exc)))
            continue
        except BotoCoreError as exc:
            outcomes.append(AssessmentOutcome(name, FAILED, str(exc)))
            continue
        outcomes.append(AssessmentOutcome(name, CREATED))
    return outcomes
