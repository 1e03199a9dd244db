"""A framework, as GetAssessmentFramework returns it, as three OSCAL documents:

- a catalog: one group per control set, one control per control, with the description as the
  ``statement`` part, the testing information as the ``assessment-objective`` part and the
  action plan as the ``guidance`` part;
- a profile that imports the catalog (relative href) and selects every control;
- a component definition with one component per evidence source type, whose
  control-implementations carry each control's evidence sources as props in Assay's namespace.

Pure functions over API-shaped dicts; uuids are uuid5 of the framework id and the content, so
an unchanged framework exports to the same bytes.
"""

from __future__ import annotations

from typing import Any

from .common import (
    TokenAllocator,
    compact,
    control_tokens,
    digest,
    latest,
    metadata,
    one_line,
    prop,
    props,
    split_label,
    stable_uuid,
    token_from,
)

CATALOG_FILE = "catalog.json"
PROFILE_FILE = "profile.json"
COMPONENT_FILE = "component-definition.json"

# The component each evidence source type becomes, and its OSCAL component type.
SOURCE_COMPONENTS = {
    "AWS_Config": ("AWS Config", "service",
                   "AWS Config rule evaluations: the compliance result of each evaluated resource."),
    "AWS_Security_Hub": ("AWS Security Hub", "service",
                         "Security Hub control findings: a pass or fail result per resource."),
    "AWS_Cloudtrail": ("AWS CloudTrail", "service",
                       "CloudTrail events: who did what, when and from where."),
    "AWS_API_Call": ("AWS API calls", "service",
                     "Snapshots of resource configuration from read-only AWS API calls."),
    "MANUAL": ("Manual evidence", "process-procedure",
               "Documents and answers that people upload as evidence."),
}


def framework_documents(framework: dict) -> dict[str, dict]:
    """The catalog, profile and component definition for a framework, keyed by file name."""
    return {
        CATALOG_FILE: catalog(framework),
        PROFILE_FILE: profile(framework),
        COMPONENT_FILE: component_definition(framework),
    }


def _controls_in_order(framework: dict) -> list[tuple[dict, dict]]:
    return [(control_set, control) for control_set in framework.get("controlSets") or ()
            for control in control_set.get("controls") or ()]


def framework_tokens(framework: dict) -> dict[str, str]:
    """Control id -> OSCAL control id, in framework order."""
    return control_tokens((c["id"], c["name"]) for _, c in _controls_in_order(framework))


def _modified(framework: dict) -> Any:
    return latest(framework.get("lastUpdatedAt"), framework.get("createdAt"),
                  *(c.get("lastUpdatedAt") for _, c in _controls_in_order(framework)))


def _framework_props(framework: dict) -> list[dict]:
    return props(
        prop("framework-id", framework.get("id")),
        prop("framework-arn", framework.get("arn")),
        prop("framework-type", framework.get("type")),
        prop("compliance-type", framework.get("complianceType")),
    )


def catalog(framework: dict) -> dict:
    tokens = framework_tokens(framework)
    groups = []
    # Ids are unique across a whole catalog: groups avoid the controls' ids (and their parts').
    group_ids = TokenAllocator()
    group_ids.used.update(tokens.values())
    group_ids.used.update(f"{t}{suffix}" for t in tokens.values() for suffix in ("_smt", "_obj", "_gdn"))
    placed: set[str] = set()
    for control_set in framework.get("controlSets") or ():
        controls = []
        for control in control_set.get("controls") or ():
            # A catalog lists a control once; a control in two sets stays in the first.
            if control["id"] in placed:
                continue
            placed.add(control["id"])
            controls.append(_catalog_control(control, tokens[control["id"]]))
        group = compact({
            "id": group_ids.take(token_from(control_set.get("name") or "set")),
            "title": one_line(control_set.get("name") or "Control set"),
            "props": props(prop("control-set-id", control_set.get("id"))),
            "controls": controls or None,
        })
        groups.append(group)
    body = compact({
        "metadata": metadata(
            framework.get("name") or "Framework", _modified(framework),
            props_=_framework_props(framework), remarks=framework.get("description")),
        "groups": groups or None,
    })
    body = {"uuid": stable_uuid("catalog", framework.get("id"), digest(body)), **body}
    return {"catalog": body}


def _catalog_control(control: dict, token: str) -> dict:
    name = control.get("name") or token
    label, title = split_label(name)
    parts = [compact({"id": f"{token}_smt", "name": "statement",
                      "prose": control.get("description")})]
    if control.get("testingInformation"):
        parts.append({"id": f"{token}_obj", "name": "assessment-objective",
                      "prose": control["testingInformation"]})
    if control.get("actionPlanTitle") or control.get("actionPlanInstructions"):
        parts.append(compact({
            "id": f"{token}_gdn", "name": "guidance",
            "title": one_line(control.get("actionPlanTitle") or "") or None,
            # Marks the guidance as Audit Manager's action plan, so an import puts it back there.
            "props": props(prop("action-plan", "true")),
            "prose": control.get("actionPlanInstructions"),
        }))
    return compact({
        "id": token,
        "title": one_line(title) or token,
        "props": props(
            prop("label", label, ns=None),
            prop("control-id", control.get("id")),
            prop("control-type", control.get("type")),
            # The exact name, so a round trip through OSCAL gives it back unchanged.
            prop("control-name", name) if "\n" not in name and name.strip() == name else None,
            prop("control-sources", control.get("controlSources")),
        ),
        "parts": parts,
    })


def profile(framework: dict, catalog_href: str = CATALOG_FILE) -> dict:
    tokens = framework_tokens(framework)
    body = {
        "metadata": metadata(
            framework.get("name") or "Framework", _modified(framework),
            props_=_framework_props(framework), remarks=framework.get("description")),
        "imports": [{"href": catalog_href,
                     "include-controls": [{"with-ids": list(tokens.values())}]}] if tokens
        else [{"href": catalog_href, "include-all": {}}],
        "merge": {"as-is": True},
    }
    body = {"uuid": stable_uuid("profile", framework.get("id"), digest(body)), **body}
    return {"profile": body}


def component_definition(framework: dict, source_href: str = PROFILE_FILE) -> dict:
    tokens = framework_tokens(framework)
    framework_id = framework.get("id")
    by_type: dict[str, list[tuple[dict, list[tuple[int, dict]]]]] = {}
    seen: set[str] = set()
    for _, control in _controls_in_order(framework):
        if control["id"] in seen:
            continue
        seen.add(control["id"])
        sources = list(enumerate(control.get("controlMappingSources") or (), start=1))
        types = []
        for _, source in sources:
            if source.get("sourceType") and source["sourceType"] not in types:
                types.append(source["sourceType"])
        for source_type in types:
            mine = [(i, s) for i, s in sources if s.get("sourceType") == source_type]
            by_type.setdefault(source_type, []).append((control, mine))

    order = list(SOURCE_COMPONENTS) + sorted(set(by_type) - set(SOURCE_COMPONENTS))
    components = []
    for source_type in order:
        if source_type not in by_type:
            continue
        title, kind, what = SOURCE_COMPONENTS.get(
            source_type, (source_type, "service", f"{source_type} evidence."))
        requirements = []
        for control, sources in by_type[source_type]:
            token = tokens[control["id"]]
            described = [one_line(s["sourceDescription"]) for _, s in sources
                         if s.get("sourceDescription")]
            requirements.append(compact({
                "uuid": stable_uuid("implemented-requirement", framework_id, source_type,
                                    control["id"]),
                "control-id": token,
                "description": "\n\n".join(described) or (
                    f"{len(sources)} {title} evidence source(s) collect evidence for "
                    f"{control.get('name') or token}."),
                "props": [p for i, s in sources for p in _source_props(i, s)]
                + props(prop("control-id", control["id"])),
            }))
        components.append({
            "uuid": stable_uuid("component", framework_id, source_type),
            "type": kind,
            "title": title,
            "description": f"{what} Audit Manager collects it for the controls below.",
            "props": props(prop("source-type", source_type)),
            "control-implementations": [{
                "uuid": stable_uuid("control-implementation", framework_id, source_type),
                "source": source_href,
                "description": f"Controls of {framework.get('name')} with {title} evidence sources.",
                "implemented-requirements": requirements,
            }],
        })
    body = compact({
        "metadata": metadata(
            f"{framework.get('name') or 'Framework'}: evidence sources", _modified(framework),
            props_=_framework_props(framework)),
        "components": components or None,
    })
    body = {"uuid": stable_uuid("component-definition", framework_id, digest(body)), **body}
    return {"component-definition": body}


def _source_props(index: int, source: dict) -> list[dict]:
    """One control mapping source as props, grouped by ``source-<n>`` (a control may have
    several sources of one type)."""
    group = f"source-{index}"
    keyword = source.get("sourceKeyword") or {}
    return props(
        prop("source-type", source.get("sourceType"), group=group),
        prop("source-name", source.get("sourceName"), group=group),
        prop("source-id", source.get("sourceId"), group=group),
        prop("source-set-up-option", source.get("sourceSetUpOption"), group=group),
        prop("keyword", keyword.get("keywordValue"), group=group),
        prop("keyword-input-type", keyword.get("keywordInputType"), group=group),
        prop("frequency", source.get("sourceFrequency"), group=group),
    )


__all__ = [
    "CATALOG_FILE",
    "COMPONENT_FILE",
    "PROFILE_FILE",
    "catalog",
    "component_definition",
    "framework_documents",
    "framework_tokens",
    "profile",
]
