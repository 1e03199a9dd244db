"""The canonical form of a control and of a framework: what a library file says, and what a
target's GetControl / GetAssessmentFramework say, brought to one shape so that comparing them
is plain equality and exporting them is writing them out.

Canonical means: only the members CreateControl / CreateAssessmentFramework take, in a fixed
order, without ids (they belong to one account and Region), without empty values (a target
may answer "" or leave a member out for the same thing), and each mapping source with what
Audit Manager's rules imply filled in (so a file may leave them out)."""

from __future__ import annotations

from typing import Any

from ..model.controls import normalised_source

CONTROL_FIELDS = ("name", "description", "testingInformation", "actionPlanTitle",
                  "actionPlanInstructions", "tags", "controlMappingSources")
SOURCE_FIELDS = ("sourceName", "sourceDescription", "sourceSetUpOption", "sourceType",
                 "sourceKeyword", "sourceFrequency", "troubleshootingText")
KEYWORD_FIELDS = ("keywordInputType", "keywordValue")
FRAMEWORK_FIELDS = ("name", "description", "complianceType", "tags", "controlSets")


def _present(value: Any) -> bool:
    return value not in (None, "", {}, [])


def tags_document(tags: dict | None) -> dict[str, str]:
    return dict(sorted((tags or {}).items()))


def source_document(source: dict[str, Any]) -> dict[str, Any]:
    given = {key: value for key, value in source.items() if key != "sourceId" and _present(value)}
    full = normalised_source(given)
    keyword = {key: full["sourceKeyword"][key] for key in KEYWORD_FIELDS
               if _present((full.get("sourceKeyword") or {}).get(key))}
    full["sourceKeyword"] = keyword
    return {key: full[key] for key in SOURCE_FIELDS if _present(full.get(key))}


def control_document(control: dict[str, Any]) -> dict[str, Any]:
    """A control (a file's entry, or GetControl's ``control``) in canonical form."""
    out: dict[str, Any] = {}
    for key in CONTROL_FIELDS:
        value = control.get(key)
        if key == "tags":
            value = tags_document(value)
        elif key == "controlMappingSources":
            value = [source_document(s) for s in value or []]
        if _present(value):
            out[key] = value
    return out


def reference(name: str, control_type: str) -> dict[str, str]:
    """How a canonical framework names one of its controls."""
    return {"name": name, "type": control_type}


def framework_document(framework: dict[str, Any]) -> dict[str, Any]:
    """A framework in canonical form. Its control sets' controls must already carry ``name``
    and ``type`` (GetAssessmentFramework's controls do; a file's are resolved first)."""
    out: dict[str, Any] = {}
    for key in FRAMEWORK_FIELDS:
        value = framework.get(key)
        if key == "tags":
            value = tags_document(value)
        elif key == "controlSets":
            value = [{"name": s["name"],
                      "controls": [reference(c["name"], c["type"]) for c in s.get("controls") or []]}
                     for s in value or []]
        if _present(value):
            out[key] = value
    return out


def share_definition(control: dict[str, Any]) -> dict[str, Any]:
    """What a framework share carries of a custom control: its CreateControl input, no tags
    (tags are the sender's bookkeeping, as in Audit Manager)."""
    document = control_document(control)
    document.pop("tags", None)
    return document
