"""Frameworks as code: `assay apply`, `assay export`, `assay migrate`, `assay peers`.

apply, export and migrate talk to their targets through the Audit Manager API only (boto3),
so they work against any Assay and against AWS itself. `peers` manages this instance's own
list of other instances that framework shares are delivered to.

Exit codes: 0 done, 1 something failed (the report says what), 2 bad input (nothing applied).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NoReturn, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

# soft_wrap: "file:line: field: message" lines stay whole for grep and CI logs.
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

HomeOption = typer.Option(None, "--home", help="Assay's data folder [env ASSAY_HOME; default ~/.assay]")
EndpointsOption = typer.Option(None, "--endpoint-url", help="Audit Manager endpoint (repeatable); "
                               "default AWS's own")
ProfilesOption = typer.Option(None, "--profile", help="AWS profile (repeatable); paired in order "
                              "with --endpoint-url, one profile goes with every endpoint")
RegionsOption = typer.Option(None, "--region", help="Region (repeatable); every endpoint/profile "
                             "pair is applied in every Region")

OK, FAILED, BAD_INPUT = 0, 1, 2
_SYMBOLS = {"create": "[green]+[/green]", "update": "[yellow]~[/yellow]",
            "delete": "[red]-[/red]", "unchanged": "[dim]=[/dim]"}


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.command("apply")(apply_command)
    app.command("export")(export_command)
    app.command("migrate")(migrate_command)
    peers = typer.Typer(help="Other Assay instances (accounts) that framework shares are "
                             "delivered to.", no_args_is_help=True)
    peers.command("add")(peers_add)
    peers.command("list")(peers_list)
    peers.command("remove")(peers_remove)
    app.add_typer(peers, name="peers")


# ---------------------------------------------------------------------------------- apply


def apply_command(
    paths: list[Path] = typer.Argument(..., help="Library files (YAML or JSON) or folders of them"),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the plan, change nothing"),
    prune: bool = typer.Option(False, "--prune", help="Delete custom controls and frameworks "
                               "the files do not describe"),
    endpoint_url: Optional[list[str]] = EndpointsOption,
    profile: Optional[list[str]] = ProfilesOption,
    region: Optional[list[str]] = RegionsOption,
) -> None:
    """Make each target's custom controls and frameworks what the files describe."""
    from ..fac import BadInput, apply_each, load, prepare, targets

    try:
        definitions = load(paths)
        prepared = prepare(targets(endpoint_url, profile, region), definitions, prune)
    except BadInput as exc:
        _refuse(exc)
    for note in definitions.notes:
        err.print(f"[yellow]note:[/yellow] {escape(note)}")
    failed = False
    if dry_run:
        for item in prepared:
            failed = _show_prepared(item) or failed
        raise typer.Exit(FAILED if failed else OK)
    for item, outcome in apply_each(prepared, definitions, prune):
        failed = _show_prepared(item) or failed
        if outcome:
            _show_outcome(outcome)
            failed = failed or not outcome.ok
    raise typer.Exit(FAILED if failed else OK)


def _show_prepared(item) -> bool:
    """Show a target's plan, or why there is none; True when there is none."""
    if item.plan:
        _show_plan(item.plan)
        return False
    err.print(f"[red]Cannot plan {escape(item.target.label)}:[/red] {escape(item.error)}")
    return True


def _refuse(exc) -> NoReturn:
    err.print("[red]Refused, nothing was applied:[/red]")
    for problem in exc.problems:
        err.print(f"  {escape(str(problem))}")
    raise typer.Exit(BAD_INPUT)


def _show_plan(plan) -> None:
    out.print(f"[bold]Plan for {escape(plan.target.label)}[/bold]")
    for change in plan.changes:
        if change.action == "unchanged":
            continue
        out.print(f"  {_SYMBOLS[change.action]} {change.kind} {escape(change.name)}")
        for field in change.fields:
            out.print(f"      {escape(field.field)}: [red]{escape(_show(field.old))}[/red] -> "
                      f"[green]{escape(_show(field.new))}[/green]")
    counts = ", ".join(f"{plan.count(a)} to {a}" for a in ("create", "update", "delete"))
    summary = f"{counts}, {plan.count('unchanged')} unchanged"
    out.print(f"  {summary}" if plan.pending else f"  No changes ({plan.count('unchanged')} unchanged).")


def _show(value: Any, limit: int = 160) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, dict) and set(value) == {"name", "type"}:
        return f"{value['name']} ({value['type']})"
    if isinstance(value, list) and all(isinstance(v, dict) and set(v) == {"name", "type"}
                                       for v in value):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _show_outcome(outcome) -> None:
    label = escape(outcome.target.label)
    if outcome.ok:
        out.print(f"[green]Applied[/green] {len(outcome.applied)} change(s) to {label}.")
        return
    err.print(f"[red]Failed on {label}[/red] at {escape(str(outcome.failed))}: "
              f"{escape(outcome.error)}")
    err.print(f"  applied: {escape(', '.join(map(str, outcome.applied)) or 'nothing')}")
    err.print(f"  not applied: {escape(', '.join(map(str, outcome.not_applied)))}")
    err.print("  Run the same command again to finish.")


# --------------------------------------------------------------------------------- export


def export_command(
    out_dir: Path = typer.Option(..., "--out", help="Folder to write controls/ and frameworks/ to"),
    endpoint_url: Optional[str] = typer.Option(None, "--endpoint-url", help="Audit Manager endpoint"),
    profile: Optional[str] = typer.Option(None, "--profile", help="AWS profile"),
    region: Optional[str] = typer.Option(None, "--region", help="Region"),
) -> None:
    """Write a target's custom controls and frameworks as library files for `assay apply`."""
    from botocore.exceptions import BotoCoreError, ClientError

    from ..fac import BadInput, Target, read_state
    from ..fac.export import library_documents, write_library
    from ..fac.plan import error_message

    target = Target(endpoint_url, profile, region)
    try:
        state = read_state(target.client())
        documents = library_documents(state)
    except BadInput as exc:
        _refuse(exc)
    except (ClientError, BotoCoreError) as exc:
        err.print(f"[red]Cannot read {escape(target.label)}:[/red] {escape(error_message(exc))}")
        raise typer.Exit(FAILED)
    written = write_library(documents, out_dir)
    out.print(f"Wrote {len(state.controls)} control(s) and {len(state.frameworks)} framework(s) "
              f"from {escape(target.label)} to {escape(str(out_dir))} ({len(written)} files).")


# -------------------------------------------------------------------------------- migrate


def migrate_command(
    from_profile: Optional[str] = typer.Option(None, "--from-profile", help="Source AWS profile"),
    from_region: str = typer.Option(..., "--from-region", help="Source Region"),
    from_endpoint_url: Optional[str] = typer.Option(None, "--from-endpoint-url",
                                                    help="Source endpoint (default AWS's own)"),
    to_endpoint_url: Optional[list[str]] = typer.Option(None, "--to-endpoint-url",
                                                        help="Target endpoint (repeatable)"),
    to_profile: Optional[list[str]] = typer.Option(None, "--to-profile",
                                                   help="Target profile (repeatable)"),
    to_region: Optional[list[str]] = typer.Option(None, "--to-region", help="Target Region "
                                                  "(repeatable; default the source Region)"),
    assessments: bool = typer.Option(False, "--assessments", help="Also copy assessments' "
                                     "definitions"),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the plan, change nothing"),
) -> None:
    """Copy custom controls and frameworks (and assessments) from an Audit Manager account."""
    from botocore.exceptions import BotoCoreError, ClientError

    from ..fac import BadInput, Target, apply_plan, make_plan, read_state, targets
    from ..fac.migrate import MigrationReport, copy_assessments, definitions_from, read_assessments
    from ..fac.plan import error_message

    source = Target(from_endpoint_url, from_profile, from_region)
    try:
        found = targets(to_endpoint_url, to_profile, to_region or [from_region])
        source_client = source.client()
        clients = [(target, target.client()) for target in found]
    except BadInput as exc:
        _refuse(exc)
    try:
        source_state = read_state(source_client)
    except (ClientError, BotoCoreError) as exc:
        err.print(f"[red]Cannot read the source {escape(source.label)}:[/red] "
                  f"{escape(error_message(exc))}")
        raise typer.Exit(FAILED)
    definitions_to_copy: list[dict] = []
    source_problem = None
    if assessments:
        try:
            definitions_to_copy = read_assessments(source_client)
        except (ClientError, BotoCoreError) as exc:
            source_problem = f"assessments could not be read from the source: {error_message(exc)}"
            err.print(f"[red]{escape(source_problem)}[/red]")

    # Read and plan every target first, so bad input stops the run before anything changes.
    planned = []
    for target, client in clients:
        report = MigrationReport(target)
        try:
            state = read_state(client)
            if definitions_to_copy:  # listed now, so that a failure is one to read the target
                state.standard_frameworks
            definitions, report.unmapped = definitions_from(source_state, state, source.label)
            planned.append((report, client, state, make_plan(target, definitions, state)))
        except BadInput as exc:
            _refuse(exc)
        except (ClientError, BotoCoreError) as exc:
            report.error = f"cannot read the target: {error_message(exc)}"
            err.print(f"[red]{escape(target.label)}: {escape(report.error)}[/red]")
            planned.append((report, client, None, None))
    reports = [report for report, *_ in planned]
    for report, client, state, plan in planned:
        if plan is None:
            continue
        _show_plan(plan)
        for line in report.unmapped:
            out.print(f"  [yellow]not mapped:[/yellow] {escape(line)}")
        if dry_run:
            continue
        report.outcome = apply_plan(plan, client, state)
        _show_outcome(report.outcome)
        if definitions_to_copy and report.outcome.ok:
            report.assessments = copy_assessments(client, definitions_to_copy, state)
            for item in report.assessments:
                note = f": {item.message}" if item.message else ""
                colour = "green" if item.status in ("created", "exists") else "red"
                out.print(f"  assessment {escape(item.name)}: [{colour}]{item.status}[/{colour}]"
                          f"{escape(note)}")
    failed = source_problem or not all(r.ok for r in reports)
    raise typer.Exit(FAILED if failed else OK)


# ---------------------------------------------------------------------------------- peers


def _services(home: Optional[Path]):
    from ..cli import _services, _settings  # late: cli imports this module while loading

    return _services(_settings(home))


def peers_add(
    account: str = typer.Option(..., "--account", help="The peer's 12-digit account id"),
    endpoint_url: str = typer.Option(..., "--endpoint-url", help="The peer's Assay URL"),
    access_key_id: str = typer.Option(..., "--access-key-id", help="A key the peer issued to "
                                      "this instance (role admin or process-owner)"),
    secret_access_key: str = typer.Option(..., "--secret-access-key", help="That key's secret"),
    inbound_key_id: str = typer.Option(..., "--inbound-key-id", help="The key this instance "
                                       "issued to the peer: the only one its deliveries and "
                                       "answers are accepted with"),
    home: Optional[Path] = HomeOption,
) -> None:
    """Register (or re-register) a peer that framework shares are delivered to."""
    from ..service.errors import ServiceError

    try:
        peer = _services(home).sharing.add_peer(account, endpoint_url, access_key_id,
                                                secret_access_key, inbound_key_id)
    except ServiceError as exc:
        err.print(f"[red]{escape(exc.message)}[/red]")
        raise typer.Exit(BAD_INPUT)
    out.print(f"Peer {peer.account_id} at {escape(peer.endpoint_url)} registered.")


def peers_list(
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts"),
    home: Optional[Path] = HomeOption,
) -> None:
    """List peers (never their secrets)."""
    peers = _services(home).sharing.peers()
    if as_json:
        print(json.dumps([{"AccountId": p.account_id, "EndpointUrl": p.endpoint_url,
                           "AccessKeyId": p.access_key_id, "InboundKeyId": p.inbound_key_id,
                           "CreatedAt": p.created_at}
                          for p in peers]))
        return
    table = Table("Account", "Endpoint URL", "Access key id", "Inbound key id")
    for p in peers:
        table.add_row(p.account_id, p.endpoint_url, p.access_key_id, p.inbound_key_id or "—")
    out.print(table)


def peers_remove(account: str, home: Optional[Path] = HomeOption) -> None:
    """Remove a peer; shares to or from it can no longer be answered."""
    from ..service.errors import ServiceError

    try:
        _services(home).sharing.remove_peer(account)
    except ServiceError as exc:
        err.print(f"[red]{escape(exc.message)}[/red]")
        raise typer.Exit(FAILED)
    out.print(f"Peer {account} removed.")
