"""The ``assay`` command. Every command honours ``--home`` and ``ASSAY_HOME``."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from . import __version__
from .config import Settings, load_settings

app = typer.Typer(help="Assay: a self-hosted audit evidence manager that speaks the AWS "
                       "Audit Manager API.", no_args_is_help=True, add_completion=False)
keys_app = typer.Typer(help="Access keys: the identities that sign API requests.",
                       no_args_is_help=True)
library_app = typer.Typer(help="The standard library of frameworks and controls.",
                          no_args_is_help=True)
ledger_app = typer.Typer(help="The evidence ledger.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(ledger_app, name="ledger")
app.add_typer(library_app, name="library")

out = Console(soft_wrap=True)  # long lines (ids, paths) must stay whole for scripts
err = Console(stderr=True, soft_wrap=True)

HomeOption = typer.Option(None, "--home", help="Assay's data folder [env ASSAY_HOME; default ~/.assay]")


def _settings(home: Optional[Path], **overrides) -> Settings:
    try:
        return load_settings(home, **overrides)
    except ValueError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2)


@contextlib.contextmanager
def service_errors():
    """A service's refusal (bad input, not found, not allowed) as one red line and exit 1."""
    from .service.errors import ServiceError

    try:
        yield
    except ServiceError as exc:
        err.print(f"[red]{exc.message}[/red]", highlight=False)
        raise typer.Exit(1)


@contextlib.contextmanager
def usage_errors():
    """A service's refusal of the command's input (unknown or inactive assessment) as one red
    line and exit 2, the usage-error status scripts can tell from a failed collection."""
    from .service.errors import ServiceError

    try:
        yield
    except ServiceError as exc:
        err.print(f"[red]{exc.message}[/red]", highlight=False)
        raise typer.Exit(2)


def _services(settings: Settings, create: bool = False):
    """The instance's services. Only ``serve`` and ``demo`` pass ``create``: every other command
    pointed at a home with no instance exits 2 instead of quietly making a new, empty one."""
    from .service import open_services

    if not create:
        require_instance(settings)
    return open_services(settings)


def require_instance(settings: Settings) -> None:
    """Exit 2, saying where we looked and how to point elsewhere, unless an instance exists."""
    import sqlalchemy as sa

    from .store import schema_present

    where = f"home {settings.home}, database {_redact(settings.database_url)}"
    try:
        found = schema_present(settings.database_url)
    except sa.exc.SQLAlchemyError as exc:
        err.print(f"[red]Cannot reach the database ({where}): {exc.__class__.__name__}: "
                  f"{str(exc).splitlines()[0]}[/red]", highlight=False)
        raise typer.Exit(2)
    if not found:
        err.print(f"[red]No Assay instance here ({where}).[/red]\n"
                  "Point this command at one with --home DIR or ASSAY_HOME=DIR (the demo prints "
                  "its own; `assay info` shows what a command uses), or set ASSAY_DB_URL; "
                  "`assay serve` creates a new instance.", highlight=False)
        raise typer.Exit(2)


@app.command()
def version() -> None:
    """Print Assay's version."""
    out.print(__version__)


@app.command()
def info(home: Optional[Path] = HomeOption,
         as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts")) -> None:
    """Which instance a command here would use: home, database, blobs, URL, and whether an
    instance exists there. Creates nothing; exits 2 when there is no instance."""
    import sqlalchemy as sa

    from .store import schema_present

    settings = _settings(home)
    try:
        found, problem = schema_present(settings.database_url), None
    except sa.exc.SQLAlchemyError as exc:
        found, problem = False, f"{exc.__class__.__name__}: {str(exc).splitlines()[0]}"
    facts = {"version": __version__, "home": str(settings.home),
             "homeFrom": "--home" if home else ("ASSAY_HOME" if os.environ.get("ASSAY_HOME")
                                                 else "default"),
             "database": _redact(settings.database_url), "blobs": settings.blobs_url,
             "url": settings.base_url, "instance": found}
    if problem:
        facts["databaseError"] = problem
    if as_json:
        print(json.dumps(facts, indent=2))
    else:
        for name, value in facts.items():
            out.print(f"{name:>13}  {value}", highlight=False)
        if not found:
            err.print("No instance here: `assay serve` creates one; --home or ASSAY_HOME "
                      "points elsewhere.", highlight=False)
    if not found:
        raise typer.Exit(2)


# ---------------------------------------------------------------------------------- serve


@app.command()
def serve(
    home: Optional[Path] = HomeOption,
    host: Optional[str] = typer.Option(None, help="Address to listen on [env ASSAY_HOST]"),
    port: Optional[int] = typer.Option(None, help="Port to listen on [env ASSAY_PORT]"),
    workers: int = typer.Option(1, min=1, help="Server processes sharing the port; collection "
                                "runs once, in the parent process"),
    no_collect: bool = typer.Option(False, "--no-collect",
                                    help="Serve the API and console only: collection runs on "
                                         "`assay worker` processes (PostgreSQL)"),
) -> None:
    """Run the Audit Manager API (and console) on the embedded default or configured stores."""
    settings = _settings(home, host=host, port=port)
    run_server(settings, workers=workers, collect=not no_collect)


def run_server(settings: Settings, banner: str = "", first_start: bool = True,
               workers: int = 1, collect: bool = True) -> None:
    from .api import server
    from .api.access_log import uvicorn_log_config
    from .api.app import create_app

    services = _services(settings, create=True)
    if first_start:
        _first_start(services, settings)
    if banner:
        out.print(banner)
    out.print(f"Assay {__version__} listening on [bold]{settings.base_url}[/bold] "
              f"(data in {settings.home}, database {_redact(settings.database_url)})")
    stop = _start_collection(services, settings, collect)
    if workers > 1:
        out.print(f"{workers} server worker processes.")
    try:
        server.run(create_app(services) if workers == 1 else server.FACTORY, settings, workers,
                   log_config=uvicorn_log_config())
    finally:
        stop()


def _start_collection(services, settings: Settings, collect: bool):
    """Wire collection for `assay serve`; returns what stops it.

    Embedded (SQLite): jobs run on threads of this process, on a schedule. PostgreSQL: "collect
    now" and report builds go to the job queue; unless --no-collect, this server also runs a
    worker, so one server alone still collects."""
    import threading

    from .jobs import InlineSchedule, attach
    from .jobs.queue import Deferrer, is_queue_backend, run_worker

    if not is_queue_backend(services):
        attach(services)
        if not collect or settings.collect_interval <= 0:
            out.print("Scheduled collection is off (`assay collect` collects on demand).")
            return lambda: None
        schedule = InlineSchedule(services, settings.collect_interval)
        schedule.start()
        out.print(f"Collecting evidence every {settings.collect_interval} s "
                  "(ASSAY_COLLECT_INTERVAL=0 turns it off).")
        return schedule.stop
    deferrer = Deferrer(services)
    attach(services, deferrer)
    if not collect:
        out.print("Collection runs on `assay worker` processes (--no-collect).")
        return deferrer.close
    stopping = threading.Event()
    thread = threading.Thread(target=run_worker, name="assay-worker", daemon=True, kwargs=dict(
        services=services, concurrency=max(1, settings.collect_workers), queues=None,
        name=f"serve-{settings.port}", install_signal_handlers=False, stop=stopping))
    thread.start()
    out.print("Running collection jobs in this server too (--no-collect leaves them to "
              "`assay worker`).")

    def stop() -> None:
        stopping.set()
        thread.join(timeout=30)
        deferrer.close()
    return stop


def _first_start(services, settings: Settings) -> None:
    """With no keys yet, create an admin key and a credentials file for the AWS CLI."""
    credentials = settings.home / "credentials"
    if not services.keys.any_active():
        new = services.keys.create("admin", "admin")
        write_credentials(credentials, new.key.access_key_id, new.secret_access_key,
                          settings.default_region)
        out.print(f"Created admin key {new.key.access_key_id}; credentials in {credentials} "
                  "(profile [bold]assay[/bold]).")
    if credentials.exists():
        out.print("Use it with the AWS CLI:\n"
                  f"  export AWS_SHARED_CREDENTIALS_FILE={credentials}\n"
                  f"  {_tool('aws')} --profile assay --endpoint-url {settings.base_url} auditmanager "
                  "list-assessment-frameworks --framework-type Standard")


def _tool(name: str) -> str:
    """How to run a command installed beside this one: bare when it is on PATH, else its
    path (a virtual environment that is not activated, as after `make demo`)."""
    import shutil
    import sys

    beside = Path(sys.executable).with_name(name)
    if beside.exists() and shutil.which(name) != str(beside):
        try:
            return str(beside.relative_to(Path.cwd()))
        except ValueError:
            return str(beside)
    return name


def write_credentials(path: Path, key_id: str, secret: str, region: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(f"[assay]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret}\n"
                 f"region = {region}\n")
    os.chmod(path, 0o600)


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


@app.command()
def demo(
    home: Optional[Path] = HomeOption,
    port: Optional[int] = typer.Option(None, help="Port to listen on [env ASSAY_PORT]"),
    framework: str = typer.Option("cis-aws-foundations-v3.0", help="Standard framework key"),
) -> None:
    """Start Assay on the embedded default with a sandbox AWS (moto: two accounts of an
    organization with a realistic mix of findings), collect evidence for an assessment of a
    standard framework over both accounts, and show where to look."""
    from .sandbox import start_sandbox

    out.print("Starting the sandbox AWS (moto) ...")
    sandbox = start_sandbox()
    os.environ.update(sandbox.environment)  # standard boto3 configuration reaches the sandbox
    settings = _settings(home, port=port)
    try:
        assessment_id, summary = _demo_assessment(settings, sandbox, framework)
        banner = (
            "[bold]Assay demo[/bold]: the Audit Manager API on SQLite and local files, collecting "
            f"from a sandbox AWS at {sandbox.url}\n"
            f"  accounts {sandbox.own_account} (Assay's own) and {sandbox.member_account} "
            f"(member, reached by AssumeRole)\n{summary}\n"
            f"  {_tool('aws')} --profile assay --endpoint-url {settings.base_url} auditmanager "
            "list-assessments\n"
            f"  {_tool('assay')} status --home {settings.home}\n"
            "  In a second shell, this instance and its sandbox AWS are:\n"
            f"    {second_shell_exports(settings, sandbox.environment)}\n"
            f"    {_tool('assay')} collect --assessment {assessment_id}\n"
            f"  Console: {settings.base_url}/console  (sign in with the keys in "
            f"{settings.home / 'credentials'})\n"
            "  Stop with Ctrl-C."
        )
        run_server(settings, banner, first_start=False)
    finally:
        sandbox.stop()


def second_shell_exports(settings: Settings, sandbox_environment: dict[str, str]) -> str:
    """One ``export`` line that points a second shell's ``assay`` and ``aws`` at this instance
    (its home, its credentials file) and ``assay collect`` at the demo's sandbox AWS."""
    import shlex

    import sys

    names = {"ASSAY_HOME": str(settings.home),
             "AWS_SHARED_CREDENTIALS_FILE": str(settings.home / "credentials"),
             **sandbox_environment}
    line = " ".join(f"{k}={shlex.quote(v)}" for k, v in names.items())
    if _tool("assay") != "assay":  # the virtual environment is not on PATH (as after make demo)
        line = f"PATH={shlex.quote(str(Path(sys.executable).parent))}:\"$PATH\" " + line
    return "export " + line


def _demo_assessment(settings: Settings, sandbox, framework_key: str) -> tuple[str, str]:
    """Seed the sandbox, create (or reuse) the demo assessment, collect once; describe it."""
    import datetime as dt

    from .jobs import InlineRunner, attach
    from .sandbox import seed, seed_trail

    services = _services(settings, create=True)
    _first_start(services, settings)
    library = services.library
    framework = library.framework_by_key(framework_key)
    keywords: dict[str, set[str]] = {}
    for control_set in framework.control_sets:
        for control_id in control_set.control_ids:
            for source in library.controls[control_id].mapping_sources:
                value = (source.get("sourceKeyword") or {}).get("keywordValue")
                if value and source["sourceType"] != "MANUAL":
                    keywords.setdefault(source["sourceType"], set()).add(value)
    seed(sandbox, keywords)
    caller = services.system()
    owner = services.keys.list()[0].arn
    name = f"Demo: {framework.name}"
    existing = [a for a in services.assessments.list(caller, "ACTIVE", None, 1000)[0]
                if a["name"] == name]
    if existing:
        assessment_id = existing[0]["id"]
        services.assessments.update(caller, assessment_id, {"scope": {"awsAccounts": [
            {"id": sandbox.own_account}, {"id": sandbox.member_account}]}})
    else:
        assessment_id = services.assessments.create(caller, {
            "name": name, "description": "Collected from the sandbox AWS by `assay demo`.",
            "frameworkId": framework.id, "roles": [{"roleType": "PROCESS_OWNER", "roleArn": owner}],
            "scope": {"awsAccounts": [{"id": sandbox.own_account}, {"id": sandbox.member_account}]},
            "assessmentReportsDestination": {},
        })["assessment"]["metadata"]["id"]
    seed_trail(sandbox, keywords.get("AWS_Cloudtrail", set()), dt.datetime.now(dt.timezone.utc))
    out.print(f"Collecting evidence for {name} ...")
    attach(services)
    result = InlineRunner(services).run(caller, assessment_id)
    services.close()
    return assessment_id, (f"  assessment {assessment_id}: {result.added} evidence items collected "
                           f"({result.errors} source failures recorded, see `assay status`)")


# ----------------------------------------------------------------------------------- keys


@keys_app.command("create")
def keys_create(
    name: Optional[str] = typer.Option(
        None, help="Key name. Without --arn it is required and becomes the principal "
                   "arn:aws:iam::<account>:role/<name>"),
    role: str = typer.Option(..., help="admin | process-owner | delegate | auditor"),
    arn: Optional[str] = typer.Option(
        None, "--arn", help="Issue the key to this principal: an IAM role or user ARN of the "
                            "instance's account (several keys per principal)"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts"),
    home: Optional[Path] = HomeOption,
) -> None:
    """Create an access key for a principal. The secret is shown once."""

    services = _services(_settings(home))
    with service_errors():
        new = services.keys.create(name, role, arn=arn)
    document = {"AccessKeyId": new.key.access_key_id, "SecretAccessKey": new.secret_access_key,
                "Arn": new.key.arn, "Role": new.key.role}
    if as_json:
        print(json.dumps(document))
    else:
        for label, value in document.items():
            out.print(f"{label}: {value}")
        out.print("[yellow]Store the secret now: it is not shown again.[/yellow]")


@keys_app.command("list")
def keys_list(
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts"),
    home: Optional[Path] = HomeOption,
) -> None:
    """List access keys (never their secrets)."""
    services = _services(_settings(home))
    keys = services.keys.list()
    if as_json:
        print(json.dumps([{"AccessKeyId": k.access_key_id, "Name": k.name, "Role": k.role,
                           "Arn": k.arn, "CreatedAt": k.created_at, "RevokedAt": k.revoked_at}
                          for k in keys]))
        return
    table = Table("AccessKeyId", "Name", "Role", "Arn", "Status")
    for k in keys:
        table.add_row(k.access_key_id, k.name, k.role, k.arn,
                      "revoked" if k.revoked_at else "active")
    out.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: str, home: Optional[Path] = HomeOption) -> None:
    """Revoke an access key; requests signed with it fail from now on."""

    services = _services(_settings(home))
    with service_errors():
        key = services.keys.revoke(key_id)
    out.print(f"Revoked {key.access_key_id} ({key.name}).")


@keys_app.command("public")
def keys_public(home: Optional[Path] = HomeOption) -> None:
    """Print the instance's Ed25519 public key (PEM): what auditors verify seals and reports with."""
    from .service.signing import load_signer

    settings = _settings(home)
    require_instance(settings)
    signer = load_signer(settings.home, settings.signing_key)
    err.print(f"key id {signer.key_id}")
    print(signer.public_pem, end="")


# --------------------------------------------------------------------------------- ledger


@ledger_app.command("verify")
def ledger_verify(
    home: Optional[Path] = HomeOption,
    public_key: Optional[Path] = typer.Option(None, help="Verify seals with this PEM public key "
                                                         "instead of the instance's own"),
) -> None:
    """Re-hash every evidence record and file, walk the hash chain and check every seal."""
    from .service.signing import key_id_of, load_public_key

    services = _services(_settings(home))
    keys = None
    if public_key:
        key = load_public_key(public_key.read_bytes())
        keys = {key_id_of(key): key}
    stats: dict[str, int] = {}
    findings = list(services.ledger.verify(keys, stats))
    head = services.ledger.current_head()
    if findings:
        for finding in findings:
            err.print(f"[red]{finding}[/red]")
        err.print(f"[red]ledger verification FAILED: {len(findings)} problem(s) in "
                  f"{stats['records']} records[/red]")
        raise typer.Exit(1)
    out.print(f"ledger OK: {stats['records']} records in {stats['batches']} sealed batches, "
              f"chain head {head['chain_hash'][:16]}…, every seal valid")


# -------------------------------------------------------------------------------- library


@library_app.command("stats")
def library_stats(as_json: bool = typer.Option(False, "--json"),
                  markdown: bool = typer.Option(False, "--markdown", help="A Markdown table")) -> None:
    """Per framework: controls, control sets, and two shares: controls a `tests` source covers
    (automated: a pass settles the requirement) and controls with any automated evidence."""
    from .library import load_library

    rows = load_library().stats()
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    headers = ("Framework", "Controls", "Control sets", "Automated (tests)", "Share",
               "With automated evidence", "Share")

    def cells(row: dict) -> tuple[str, ...]:
        return (row["name"], str(row["controls"]), str(row["control_sets"]), str(row["automated"]),
                f"{row['automated_share']:.0%}", str(row["with_evidence"]),
                f"{row['with_evidence_share']:.0%}")

    if markdown:
        print("| " + " | ".join(h.lower() for h in headers) + " |")
        print("|---|" + "---:|" * (len(headers) - 1))
        for row in rows:
            print("| " + " | ".join(cells(row)) + " |")
        return
    table = Table(*headers)
    for row in rows:
        table.add_row(*cells(row))
    out.print(table)


@library_app.command("equivalents")
def library_equivalents(control: str = typer.Argument(..., help="A control's key (CIS-AWS-v3.0/1.5) or id"),
                        as_json: bool = typer.Option(False, "--json")) -> None:
    """A standard control's crosswalk: the controls of other standards that a shared `tests`
    source settles (the same Security Hub control or Config rule), with those sources. GetControl
    returns the same list as its own member `equivalentControls`, which SDKs do not show."""
    from .library import load_library

    library = load_library()
    found = library.controls.get(control)
    if found is None:
        try:
            found = library.control_by_key(control)
        except KeyError:
            err.print(f"[red]No standard control with key or id {control!r}.[/red]")
            raise typer.Exit(1)
    rows = [{"key": e.control.key, "id": e.control.id, "name": e.control.name,
             "frameworks": [f.name for f in library.frameworks_of(e.control.id)],
             "sharedSources": [k for _, k in e.shared]} for e in library.equivalents(found.id)]
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    table = Table("Control", "Frameworks", "Shared tests sources", title=found.name)
    for row in rows:
        table.add_row(row["name"], "; ".join(row["frameworks"]), ", ".join(row["sharedSources"]))
    out.print(table)


def _register_command_groups() -> None:
    from .commands import collection, evidence, fac, oscal, reports

    for module in (collection, evidence, fac, oscal, reports):
        module.register(app)


_register_command_groups()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
