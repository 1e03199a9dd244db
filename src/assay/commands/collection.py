"""Evidence collection from the command line: `assay collect`, `assay status`, `assay jobs`,
`assay worker`, `assay assessment regions`. They run on the host, against the configured database, as the
instance itself."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table


def register(app: typer.Typer) -> None:
    from ..cli import HomeOption, _redact, _services, _settings, err, out, usage_errors

    assessment_app = typer.Typer(help="Assessments: Assay's settings beyond the AWS API.",
                                 no_args_is_help=True)
    app.add_typer(assessment_app, name="assessment")

    @app.command()
    def collect(
        assessment: str = typer.Option(..., "--assessment", help="Assessment id"),
        due_only: bool = typer.Option(False, "--due-only",
                                      help="Only what the schedule would collect now"),
        strict: bool = typer.Option(False, "--strict",
                                    help="Exit 1 if any source failed (not only when nothing "
                                         "could be collected)"),
        queue: bool = typer.Option(False, "--queue",
                                   help="Hand the run to the `assay worker` processes "
                                        "(PostgreSQL) and print its id instead of collecting here"),
        as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON"),
        home: Optional[Path] = HomeOption,
    ) -> None:
        """Collect evidence for an assessment now, with progress and a summary per control.

        Exit status: 0 when the run completed, even if some sources failed (they are listed,
        grouped by source and error); 1 when nothing could be collected (e.g. no AWS
        credentials, or every source failed), or with --strict when any source failed; 2 for
        usage errors (unknown or inactive assessment, bad options)."""
        from ..jobs import InlineRunner

        services = _services(_settings(home))
        with usage_errors():
            plan = services.collection.plan(services.system(), assessment)
        if queue:
            from ..jobs.queue import Deferrer, is_queue_backend

            if not is_queue_backend(services):
                err.print("[red]--queue needs PostgreSQL (ASSAY_DB_URL) and `assay worker` "
                          "processes; without it, run `assay collect` alone.[/red]")
                raise typer.Exit(2)
            deferrer = Deferrer(services)
            try:
                with usage_errors():
                    run_id = deferrer.collect(services.system(), assessment)
            finally:
                deferrer.close()
            if as_json:
                print(json.dumps({"runId": run_id}))
            else:
                out.print(f"Run {run_id} queued; follow it with `assay jobs --assessment "
                          f"{assessment}`.")
            return
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=err, transient=True,
                      disable=as_json) as progress:
            task = progress.add_task("collecting", total=None)

            def advance(description: str, done: int) -> None:
                if progress.tasks[task].total is None:
                    progress.update(task, total=services.collection.progress(
                        services.system(), assessment)["total"])
                progress.update(task, advance=done, description=description[:60])

            result = InlineRunner(services).run(services.system(), assessment, due_only=due_only,
                                                progress=advance)
        if as_json:
            print(json.dumps({"runId": result.run_id, "added": result.added,
                              "duplicates": result.duplicates, "errors": result.errors,
                              "throttled": result.throttled, "shards": result.shards,
                              "failedShards": result.failed_shards,
                              "controls": result.summary, "failureGroups": result.groups,
                              "failures": result.failures}, indent=2))
        else:
            table = Table("Control", "Data source", "Added", "Duplicates", "Errors", "Why nothing",
                          title=f"Collection {result.run_id} for {plan.assessment_name}")
            for row in result.summary:
                table.add_row(row["control_name"], row["data_source"], str(row["added"]),
                              str(row["duplicates"]), str(row["errors"]), row["why"] or "")
            out.print(table)
            _print_groups(out, result.groups)
            out.print(f"{result.added} added, {result.duplicates} already there, "
                      f"{result.errors} error(s) in {result.failed_shards} of {result.shards} "
                      f"shard(s) failed, {result.throttled} request(s) throttled then succeeded")
        if result.nothing_collected or (strict and result.errors):
            raise typer.Exit(1)

    @app.command()
    def status(
        assessment: Optional[str] = typer.Option(None, "--assessment", help="Assessment id"),
        limit: int = typer.Option(20, "--limit", min=0,
                                  help="Failures of the latest run to list one by one"),
        home: Optional[Path] = HomeOption,
    ) -> None:
        """Collection runs and the failures of the latest run (grouped by source and error,
        then the first --limit one by one), per assessment."""
        services = _services(_settings(home))
        caller = services.system()
        ids = [assessment] if assessment else services.collection.active_assessments()
        if not ids:
            out.print("No active assessments.")
        for assessment_id in ids:
            with usage_errors():
                state = services.collection.status(caller, assessment_id, failures_limit=limit)
            table = Table("Run", "Trigger", "Status", "Started", "Shards", "Added", "Duplicates",
                          "Errors", "Throttled", title=f"Assessment {assessment_id}")
            for run in state["runs"]:
                table.add_row(run["id"][:8], run["trigger"], run["status"],
                              _when(run["started_at"]), str(run["shards"]), str(run["added"]),
                              str(run["duplicates"]), str(run["errors"]), str(run["throttled"]))
            out.print(table)
            if not state["runs"]:
                out.print("  never collected")
            _print_groups(out, state["failure_groups"])
            _print_failures(out, state["failures"], state["failures_total"])

    @app.command()
    def jobs(
        assessment: Optional[str] = typer.Option(None, "--assessment", help="Assessment id"),
        as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts"),
        home: Optional[Path] = HomeOption,
    ) -> None:
        """Per assessment, the shards of its latest collection run: queued, running, done and
        failed, with progress."""
        services = _services(_settings(home))
        caller = services.system()
        ids = [assessment] if assessment else services.collection.active_assessments()
        rows = []
        for assessment_id in ids:
            with usage_errors():
                rows.append({"assessment_id": assessment_id,
                             **services.collection.progress(caller, assessment_id)})
        if as_json:
            print(json.dumps(rows, indent=2))
            return
        if not rows:
            out.print("No active assessments.")
            return
        table = Table("Assessment", "Run", "Status", "Progress", "Queued", "Running", "Done",
                      "Failed", "Errors", "Throttled")
        for row in rows:
            finished = row["done"] + row["failed"]
            share = f"{finished}/{row['total']}" + (
                f" ({finished / row['total']:.0%})" if row["total"] else "")
            table.add_row(row["assessment_id"], (row["run_id"] or "never")[:8],
                          row["status"] or "", share, str(row["queued"]), str(row["running"]),
                          str(row["done"]), str(row["failed"]), str(row["errors"]),
                          str(row["throttled"]))
        out.print(table)

    @app.command()
    def worker(
        concurrency: Optional[int] = typer.Option(
            None, "--concurrency", min=1,
            help="Jobs this worker runs at once [default: ASSAY_COLLECT_WORKERS]"),
        queue: List[str] = typer.Option(
            [], "--queue", help="Only these queues (repeat): assay-plan, assay-collect, "
                                "assay-reports, assay-maintenance [default: all]"),
        name: Optional[str] = typer.Option(None, "--name", help="Worker name in logs"),
        home: Optional[Path] = HomeOption,
    ) -> None:
        """Run jobs (collection shards, report builds, the schedule) from the queue in
        PostgreSQL (ASSAY_DB_URL). Run any number, on any number of machines."""
        import logging

        from ..jobs.queue import QUEUES, is_queue_backend, run_worker

        settings = _settings(home)
        unknown = set(queue) - set(QUEUES)
        if unknown:
            err.print(f"[red]--queue: unknown queue(s) {', '.join(sorted(unknown))}; "
                      f"choose from {', '.join(QUEUES)}[/red]")
            raise typer.Exit(2)
        services = _services(settings)
        if not is_queue_backend(services):
            err.print("[red]assay worker needs PostgreSQL: set ASSAY_DB_URL=postgresql://... "
                      "(on the embedded SQLite default, `assay serve` collects by itself).[/red]")
            raise typer.Exit(2)
        logging.basicConfig(level=settings.log_level.upper(),
                            format="%(asctime)s %(name)s %(levelname)s %(message)s")
        if settings.log_level.lower() != "debug":  # a line per job is too many at scale
            logging.getLogger("procrastinate").setLevel(logging.WARNING)
        count = concurrency or settings.collect_workers
        out.print(f"Assay worker ({count} at once, queues {', '.join(queue) or 'all'}) on "
                  f"{_redact(settings.database_url)}")
        run_worker(services, concurrency=count, queues=list(queue) or None, name=name)

    @assessment_app.command("regions")
    def regions(
        assessment_id: str,
        region: List[str] = typer.Option([], "--region",
                                          help="Regions to collect in (repeat); none shows them"),
        home: Optional[Path] = HomeOption,
    ) -> None:
        """Show or set the regions an assessment collects in (its own region by default)."""

        services = _services(_settings(home))
        with usage_errors():
            if region:
                current = services.assessments.set_regions(services.system(), assessment_id, region)
            else:
                current = services.collection.plan(services.system(), assessment_id).regions
        out.print(" ".join(current))


def _print_groups(console, groups: list[dict]) -> None:
    """One line per source and error kind, with how many failures and accounts: a setup
    problem shows once, with its fix, not once per control."""
    if not groups:
        return
    console.print(f"[red]{sum(g['count'] for g in groups)} failure(s) of {len(groups)} "
                  "kind(s):[/red]")
    for g in groups:
        where = f"{g['accounts']} account(s)" if g["accounts"] > 1 else "1 account"
        console.print(f"  {g['count']:>5} x {g['source']}  [red]{g['error_code']}[/red] in "
                      f"{where}: {g['message']}", highlight=False)


def _print_failures(console, failures: list[dict], total: int) -> None:
    """One line per failure (lines stay whole in narrow terminals and in logs), saying when
    the list is cut short."""
    if not failures:
        return
    shown = f"the first {len(failures)} of {total}" if total > len(failures) else f"all {total}"
    console.print(f"Failures one by one ({shown}; --limit shows more):")
    for f in failures:
        console.print(f"  control {f['control_id'][:8] or '-'}  {f['account_id'] or '-'}/"
                      f"{f['region'] or '-'}  {f['source_type']} {f['keyword']}  "
                      f"[red]{f['error_code']}[/red]: {f['message']}", highlight=False)


def _when(epoch: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
