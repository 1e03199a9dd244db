"""Evidence collection from the command line: `assay collect`, `assay status`,
`assay assessment regions`. They run on the host, against the configured database, as the
instance itself."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table


def register(app: typer.Typer) -> None:
    from ..cli import HomeOption, _services, _settings, err, out, service_errors

    assessment_app = typer.Typer(help="Assessments: Assay's settings beyond the AWS API.",
                                 no_args_is_help=True)
    app.add_typer(assessment_app, name="assessment")

    @app.command()
    def collect(
        assessment: str = typer.Option(..., "--assessment", help="Assessment id"),
        due_only: bool = typer.Option(False, "--due-only",
                                      help="Only what the schedule would collect now"),
        as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON"),
        home: Optional[Path] = HomeOption,
    ) -> None:
        """Collect evidence for an assessment now, with progress and a summary per control."""
        from ..collect.runner import Runner

        services = _services(_settings(home))
        runner = Runner(services)
        with service_errors():
            plan = services.collection.plan(services.system(), assessment)
        total = len(plan.accounts) * len(plan.regions) * max(1, len(plan.sources))
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=err, transient=True,
                      disable=as_json) as progress:
            task = progress.add_task("collecting", total=total)

            def advance(description: str, done: int) -> None:
                progress.update(task, advance=done, description=description[:60])

            result = runner.run(services.system(), assessment, due_only=due_only, progress=advance)
        if as_json:
            print(json.dumps({"runId": result.run_id, "added": result.added,
                              "duplicates": result.duplicates, "errors": result.errors,
                              "controls": result.summary, "failures": result.failures}, indent=2))
        else:
            table = Table("Control", "Data source", "Added", "Duplicates", "Errors", "Why nothing",
                          title=f"Collection {result.run_id} for {plan.assessment_name}")
            for row in result.summary:
                table.add_row(row["control_name"], row["data_source"], str(row["added"]),
                              str(row["duplicates"]), str(row["errors"]), row["why"] or "")
            out.print(table)
            _print_failures(out, result.failures)
            out.print(f"{result.added} added, {result.duplicates} already there, "
                      f"{result.errors} error(s)")
        if result.errors:
            raise typer.Exit(1)

    @app.command()
    def status(
        assessment: Optional[str] = typer.Option(None, "--assessment", help="Assessment id"),
        home: Optional[Path] = HomeOption,
    ) -> None:
        """Collection runs and the failures of the latest run, per assessment."""
        services = _services(_settings(home))
        caller = services.system()
        ids = [assessment] if assessment else services.collection.active_assessments()
        if not ids:
            out.print("No active assessments.")
        for assessment_id in ids:
            state = services.collection.status(caller, assessment_id)
            table = Table("Run", "Trigger", "Status", "Started", "Added", "Duplicates", "Errors",
                          title=f"Assessment {assessment_id}")
            for run in state["runs"]:
                table.add_row(run["id"][:8], run["trigger"], run["status"],
                              _when(run["started_at"]), str(run["added"]), str(run["duplicates"]),
                              str(run["errors"]))
            out.print(table)
            if not state["runs"]:
                out.print("  never collected")
            _print_failures(out, state["failures"])

    @assessment_app.command("regions")
    def regions(
        assessment_id: str,
        region: List[str] = typer.Option([], "--region",
                                          help="Regions to collect in (repeat); none shows them"),
        home: Optional[Path] = HomeOption,
    ) -> None:
        """Show or set the regions an assessment collects in (its own region by default)."""

        services = _services(_settings(home))
        with service_errors():
            if region:
                current = services.assessments.set_regions(services.system(), assessment_id, region)
            else:
                current = services.collection.plan(services.system(), assessment_id).regions
        out.print(" ".join(current))


def _print_failures(console, failures: list[dict]) -> None:
    """One line per failure: lines stay whole in narrow terminals and in logs."""
    if not failures:
        return
    console.print(f"[red]{len(failures)} failure(s):[/red]")
    for f in failures:
        console.print(f"  control {f['control_id'][:8]}  {f['account_id']}/{f['region']}  "
                      f"{f['source_type']} {f['keyword']}  [red]{f['error_code']}[/red]: "
                      f"{f['message']}", highlight=False)


def _when(epoch: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
