"""OSCAL in and out through the Audit Manager API, so the same commands work against Assay and
AWS: a boto3 ``auditmanager`` client does all the reading and writing."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .common import NAME_MAX, OscalError, clean_name, dumps
from .framework import framework_documents
from .reader import ImportPlan, PlannedControl
from .results import assessment_results


def make_client(endpoint_url: str | None = None, profile: str | None = None,
                region: str | None = None):
    """An auditmanager client from the standard boto3 configuration, plus these overrides."""
    import botocore.exceptions

    from ..model.sdk import boto3_session

    try:
        session = boto3_session(profile, region)
    except botocore.exceptions.ProfileNotFound as exc:
        raise OscalError(str(exc)) from None
    return session.client("auditmanager", endpoint_url=endpoint_url,
                          region_name=session.region_name or "us-east-1")


def api_error(exc: Exception) -> OscalError:
    """A botocore error as one readable line."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and "Error" in response:
        error = response["Error"]
        text = f"{error.get('Code')}: {error.get('Message')}"
        fields = response.get("fields") or []
        if fields:
            text += " (" + "; ".join(f"{f.get('name')}: {f.get('message')}" for f in fields[:5]) + ")"
        return OscalError(text)
    return OscalError(str(exc))


def _call(method: Callable, **kwargs) -> dict:
    import botocore.exceptions

    try:
        return method(**kwargs)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        raise api_error(exc) from None


def walk(method: Callable, key: str, **kwargs) -> list:
    """Every item of a paged listing (Audit Manager has no botocore paginators)."""
    items, token = [], None
    while True:
        page = _call(method, **kwargs, **({"nextToken": token} if token else {}))
        items.extend(page.get(key) or [])
        token = page.get("nextToken")
        if not token:
            return items


# ---------------------------------------------------------------------------- export


def export_framework(client, framework_id: str, out_dir: Path) -> list[Path]:
    framework = _call(client.get_assessment_framework, frameworkId=framework_id)["framework"]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for filename, document in framework_documents(framework).items():
        target = out_dir / filename
        target.write_bytes(dumps(document))
        written.append(target)
    return written


def fetch_assessment(client, assessment_id: str) -> tuple[dict, list[dict], dict[str, list[dict]]]:
    """The assessment, its evidence folders and each folder's evidence, as the API returns them."""
    assessment = _call(client.get_assessment, assessmentId=assessment_id)["assessment"]
    folders = walk(client.get_evidence_folders_by_assessment, "evidenceFolders",
                   assessmentId=assessment_id, maxResults=1000)
    evidence: dict[str, list[dict]] = {}
    for folder in folders:
        evidence[folder["id"]] = walk(
            client.get_evidence_by_evidence_folder, "evidence", assessmentId=assessment_id,
            controlSetId=folder["controlSetId"], evidenceFolderId=folder["id"], maxResults=1000)
    return assessment, folders, evidence


def export_assessment(client, assessment_id: str, out_file: Path) -> Path:
    document = assessment_results(*fetch_assessment(client, assessment_id))
    out_file = Path(out_file)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_bytes(dumps(document))
    return out_file


# ---------------------------------------------------------------------------- import


@dataclass
class ImportResult:
    framework: dict
    standard: int = 0  # standard controls reused
    created: int = 0  # custom controls created
    reused: int = 0  # identical custom controls that already existed
    renamed: list[tuple[str, str]] = field(default_factory=list)  # (planned, actual) names

    def summary(self) -> dict[str, Any]:
        sets = self.framework.get("controlSets") or []
        return {
            "frameworkId": self.framework["id"],
            "name": self.framework["name"],
            "controlSets": len(sets),
            "controls": sum(len(s.get("controls") or []) for s in sets),
            "standardControls": self.standard,
            "customControlsCreated": self.created,
            "customControlsReused": self.reused,
            "renamed": [{"planned": a, "created": b} for a, b in self.renamed],
        }


def _standard_matches(client, plan: ImportPlan) -> dict[str, str]:
    """OSCAL control id -> the id of the standard control to use instead of a custom one."""
    wanted = [c for c in plan.controls if c.standard_key or c.standard_id]
    if not wanted:
        return {}
    standard = walk(client.list_controls, "controlMetadataList", controlType="Standard",
                    maxResults=1000)
    by_id = {m["id"]: m for m in standard}
    by_name: dict[str, list[dict]] = {}
    for m in standard:
        by_name.setdefault(m["name"], []).append(m)
    library = _library()
    matches: dict[str, str] = {}
    for control in wanted:
        found = _match_standard(control, by_id, by_name, standard, library)
        if found:
            matches[control.oscal_id] = found
    return matches


def _library():
    try:
        from ..library import load_library

        return load_library()
    except Exception:  # a client without Assay's library still matches by name
        return None


def _match_standard(control: PlannedControl, by_id, by_name, standard, library) -> str | None:
    if control.standard_id and control.standard_id in by_id:
        return control.standard_id
    if not control.standard_key:
        return None
    if library is not None:
        try:
            known = library.control_by_key(control.standard_key)
        except KeyError:
            known = None
        if known is not None:
            if known.id in by_id:  # Assay: the library's ids are the server's
                return known.id
            if len(by_name.get(known.name, ())) == 1:
                return by_name[known.name][0]["id"]
    # Another server (AWS): a unique standard control named "<label> ..." or "<label>: ...".
    label = control.standard_key.split("/", 1)[1]
    candidates = [m for m in standard if m["name"] == label
                  or m["name"].startswith(label + " ") or m["name"].startswith(label + ":")]
    return candidates[0]["id"] if len(candidates) == 1 else None


def _same_text(existing: dict, params: dict) -> bool:
    return all((existing.get(k) or None) == (params.get(k) or None)
               for k in ("description", "testingInformation", "actionPlanTitle",
                         "actionPlanInstructions"))


@dataclass
class ImportPreview:
    """What importing a plan into one target does, decided by reading the target only.
    ``decisions`` maps each OSCAL control id to ``("standard", control id)``,
    ``("reuse", control id)``, ``("create", name)``, ``("rename", new name)`` or
    ``("same", OSCAL id)`` (the same control as one created earlier in this import)."""

    plan: ImportPlan
    decisions: dict[str, tuple[str, str]]

    def count(self, kind: str) -> int:
        return sum(1 for decided, _ in self.decisions.values() if decided == kind)

    def summary(self) -> dict[str, Any]:
        """The dry run's answer, in the import's own terms."""
        renamed = [{"planned": c.name, "created": self.decisions[c.oscal_id][1]}
                   for c in self.plan.controls if self.decisions[c.oscal_id][0] == "rename"]
        return {"name": self.plan.framework_name, "kind": self.plan.kind,
                "controlSets": len(self.plan.control_sets), "controls": len(self.plan.controls),
                "standardControls": self.count("standard"),
                "customControlsToCreate": self.count("create") + self.count("rename"),
                "customControlsReused": self.count("reuse") + self.count("same"),
                "renamed": renamed,
                "sets": [{"name": s.name, "controls": [c.name for c in s.controls]}
                         for s in self.plan.control_sets]}


def preview_import(client, plan: ImportPlan) -> ImportPreview:
    """Decide, reading the target only, what ``apply_import`` will do with ``plan``: the dry run
    and the import share this, so they never disagree.

    Raises OscalError when a custom framework of the plan's name already exists."""
    frameworks = walk(client.list_assessment_frameworks, "frameworkMetadataList",
                      frameworkType="Custom", maxResults=1000)
    if any(f["name"] == plan.framework_name for f in frameworks):
        raise OscalError(
            f"A framework named '{plan.framework_name}' already exists (was this file imported "
            "before?). Nothing was created; pass --name to import it under another name.")
    standard = _standard_matches(client, plan)
    custom = {m["name"]: m["id"] for m in walk(client.list_controls, "controlMetadataList",
                                               controlType="Custom", maxResults=1000)}
    decisions: dict[str, tuple[str, str]] = {}
    planned: dict[str, tuple[str, dict]] = {}  # name -> (OSCAL id, params) this import creates
    for control in plan.controls:
        if control.oscal_id in standard:
            decisions[control.oscal_id] = ("standard", standard[control.oscal_id])
            continue
        params = control.create_control_params()
        name = params["name"]
        if name in planned:  # created earlier in this import: the same control, or a clash
            if _same_text(planned[name][1], params):
                decisions[control.oscal_id] = ("same", planned[name][0])
                continue
            name = _free_name(name, plan.framework_name, custom)
        elif name in custom:
            existing = _call(client.get_control, controlId=custom[name])["control"]
            if _same_text(existing, params):
                decisions[control.oscal_id] = ("reuse", custom[name])
                continue
            name = _free_name(name, plan.framework_name, custom)
        decisions[control.oscal_id] = ("rename" if name != params["name"] else "create", name)
        custom[name] = ""  # taken by this import from here on
        planned[name] = (control.oscal_id, params)
    return ImportPreview(plan, decisions)


def apply_import(client, plan: ImportPlan,
                 progress: Callable[[str], None] | None = None) -> ImportResult:
    """Create the planned framework: standard controls where they match, an existing identical
    custom control where there is one, new custom controls for the rest (as ``preview_import``
    decides). All or nothing: a failure deletes the controls this call created."""
    say = progress or (lambda _message: None)
    preview = preview_import(client, plan)
    result_counts = {"standard": preview.count("standard"), "reused": preview.count("reuse"),
                     "created": 0}
    renamed: list[tuple[str, str]] = []
    created: list[str] = []
    ids: dict[str, str] = {}
    try:
        for control in plan.controls:
            decided, value = preview.decisions[control.oscal_id]
            if decided in ("standard", "reuse", "same"):
                ids[control.oscal_id] = ids[value] if decided == "same" else value
                continue
            params = control.create_control_params()
            if decided == "rename":
                renamed.append((control.name, value))
                params["name"] = value
            new = _call(client.create_control, **params)["control"]
            created.append(new["id"])
            ids[control.oscal_id] = new["id"]
            result_counts["created"] += 1
            if len(created) % 100 == 0:
                say(f"created {len(created)} custom controls")
        control_sets = []
        for planned in plan.control_sets:
            unique = list(dict.fromkeys(ids[c.oscal_id] for c in planned.controls))
            control_sets.append({"name": planned.name, "controls": [{"id": i} for i in unique]})
        params: dict[str, Any] = {"name": plan.framework_name, "description": plan.description,
                                  "controlSets": control_sets}
        if plan.compliance_type:
            params["complianceType"] = plan.compliance_type
        framework = _call(client.create_assessment_framework, **params)["framework"]
    except BaseException:
        for control_id in reversed(created):
            try:
                client.delete_control(controlId=control_id)
            except Exception:  # best effort: report the original failure
                pass
        raise
    return ImportResult(framework, renamed=renamed, **result_counts)


def _free_name(name: str, framework_name: str, taken: dict[str, str]) -> str:
    """A custom control name nobody uses yet: ``<name> (<framework>)``, then numbered."""
    short = clean_name(framework_name, 80)
    for n in range(1, 1000):
        suffix = f" ({short})" if n == 1 else f" ({short} {n})"
        candidate = clean_name(name, NAME_MAX - len(suffix)) + suffix
        candidate = clean_name(candidate, NAME_MAX)
        if candidate not in taken:
            return candidate
    raise OscalError(f"cannot find a free name for control '{name}'")
