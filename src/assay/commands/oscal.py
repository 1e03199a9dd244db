"""OSCAL import and export: `assay oscal import|export`.

Both talk to the Audit Manager API with boto3, so they work against Assay or AWS alike: the
standard boto3 configuration (environment, profiles, ``AWS_ENDPOINT_URL``) applies, and
``--endpoint-url``, ``--profile`` and ``--region`` override it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

oscal_app = typer.Typer(
    help="OSCAL in and out: frameworks as catalogs, profiles and component definitions, "
         "assessments as assessment-results, and OSCAL catalogs or profiles as frameworks.",
    no_args_is_help=True)
export_app = typer.Typer(help="Write OSCAL documents from what the Audit Manager API returns.",
                         no_args_is_help=True)
oscal_app.add_typer(export_app, name="export")

out = Console()
err = Console(stderr=True)

EndpointOption = typer.Option(None, "--endpoint-url",
                              help="Audit Manager endpoint, e.g. http://127.0.0.1:8765 "
                                   "(default: boto3 configuration)")
ProfileOption = typer.Option(None, "--profile", help="boto3 / AWS CLI profile")
RegionOption = typer.Option(None, "--region", help="Region to sign for (default: boto3 "
                                                   "configuration, else us-east-1)")


def _client(endpoint_url, profile, region):
    from ..oscal.client import make_client

    return make_client(endpoint_url, profile, region)


def _fail(exc: Exception) -> typer.Exit:
    err.print(f"[red]{exc}[/red]", highlight=False, soft_wrap=True)
    return typer.Exit(1)


@export_app.command("framework")
def export_framework(
    framework_id: str = typer.Argument(..., help="Framework id (standard or custom)"),
    out_dir: Path = typer.Option(..., "--out", help="Folder for catalog.json, profile.json "
                                                    "and component-definition.json"),
    endpoint_url: Optional[str] = EndpointOption,
    profile: Optional[str] = ProfileOption,
    region: Optional[str] = RegionOption,
) -> None:
    """Export a framework as an OSCAL catalog, profile and component definition."""
    from ..oscal import OscalError
    from ..oscal.client import export_framework as run

    try:
        written = run(_client(endpoint_url, profile, region), framework_id, out_dir)
    except OscalError as exc:
        raise _fail(exc)
    for path in written:
        out.print(f"Wrote {path}", highlight=False, soft_wrap=True)


@export_app.command("assessment")
def export_assessment(
    assessment_id: str = typer.Argument(..., help="Assessment id"),
    out_file: Path = typer.Option(..., "--out", help="The assessment-results JSON file"),
    endpoint_url: Optional[str] = EndpointOption,
    profile: Optional[str] = ProfileOption,
    region: Optional[str] = RegionOption,
) -> None:
    """Export an assessment's evidence and review as OSCAL assessment-results."""
    from ..oscal import OscalError
    from ..oscal.client import export_assessment as run

    try:
        path = run(_client(endpoint_url, profile, region), assessment_id, out_file)
    except OscalError as exc:
        raise _fail(exc)
    out.print(f"Wrote {path}", highlight=False, soft_wrap=True)


@oscal_app.command("import")
def import_(
    file: Path = typer.Argument(..., help="An OSCAL catalog or profile (JSON or YAML)"),
    name: Optional[str] = typer.Option(None, "--name", help="Framework name (default: the "
                                                            "document's title)"),
    catalog: Optional[Path] = typer.Option(None, "--catalog",
                                           help="The catalog a profile imports, when its href "
                                                "does not resolve to a local file"),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would be created; create "
                                                          "nothing"),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary for scripts"),
    endpoint_url: Optional[str] = EndpointOption,
    profile: Optional[str] = ProfileOption,
    region: Optional[str] = RegionOption,
) -> None:
    """Import an OSCAL catalog or profile as a custom framework (all or nothing)."""
    from ..oscal import OscalError, plan_import
    from ..oscal.client import apply_import, preview_import

    try:
        plan = plan_import(file, catalog_path=catalog, name=name)
    except OscalError as exc:
        raise _fail(exc)
    for warning in plan.warnings:
        err.print(f"[yellow]warning: {warning}[/yellow]", highlight=False, soft_wrap=True)
    if dry_run:
        # The same decisions the import takes, read from the target: a clash is refused here too.
        try:
            preview = preview_import(_client(endpoint_url, profile, region), plan)
        except OscalError as exc:
            raise _fail(exc)
        summary = preview.summary()
        if as_json:
            print(json.dumps(summary, indent=2))
        else:
            out.print(f"Would create framework '{plan.framework_name}' from the {plan.kind} "
                      f"'{plan.title}': {summary['controlSets']} control sets, "
                      f"{summary['controls']} controls ({summary['standardControls']} standard, "
                      f"{summary['customControlsToCreate']} new custom, "
                      f"{summary['customControlsReused']} existing custom).",
                      highlight=False, soft_wrap=True)
            for item in summary["renamed"]:
                out.print(f"  a different control is already named '{item['planned']}': would "
                          f"create '{item['created']}'", highlight=False, soft_wrap=True)
        return
    try:
        result = apply_import(_client(endpoint_url, profile, region), plan,
                              progress=lambda message: err.print(message, highlight=False, soft_wrap=True))
    except OscalError as exc:
        raise _fail(exc)
    summary = result.summary()
    if as_json:
        print(json.dumps(summary, indent=2))
        return
    out.print(
        f"Created framework '{summary['name']}' ({summary['frameworkId']}): "
        f"{summary['controlSets']} control sets, {summary['controls']} controls "
        f"({summary['standardControls']} standard, {summary['customControlsCreated']} new custom, "
        f"{summary['customControlsReused']} existing custom).", highlight=False, soft_wrap=True)
    for item in summary["renamed"]:
        out.print(f"  a different control is already named '{item['planned']}': created "
                  f"'{item['created']}'", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.add_typer(oscal_app, name="oscal")
