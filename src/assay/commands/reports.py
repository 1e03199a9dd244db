"""Reports from the command line: `assay verify` (offline: only the report and a public key)
and `assay report list|create|download` (on the host, against the configured database, as
the instance itself)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table


def register(app: typer.Typer) -> None:
    from ..cli import HomeOption, _services, _settings, err, out, service_errors

    report_app = typer.Typer(help="Assessment reports: list them (with why one failed), build "
                                  "one now, download one.", no_args_is_help=True)
    app.add_typer(report_app, name="report")

    @app.command()
    def verify(
        report: Path = typer.Argument(..., help="A report zip, its extracted folder, or a folder "
                                                "holding one extracted report"),
        public_key: Optional[Path] = typer.Option(
            None, "--public-key", help="The instance's Ed25519 public key (PEM, from `assay keys "
                                       "public`). Default: the key of the instance in --home"),
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON"),
        home: Optional[Path] = HomeOption,
    ) -> None:
        """Verify a report offline: its signature, and that no file is missing, added or altered.

        Needs no server and no database. The key must come from the instance (never from the
        report: a key shipped with the report proves nothing). Exits 1 when the report is
        invalid."""
        from ..reports.verify import verify_report
        from ..service.signing import key_id_of

        key, origin = _trusted_key(public_key, home, _settings, err)
        result = verify_report(report, key)
        if as_json:
            print(json.dumps({**result.as_dict(), "trustedKeyId": key_id_of(key)}, indent=2))
        else:
            err.print(f"verifying with key {key_id_of(key)} from {origin}", highlight=False)
            for problem in result.errors:
                out.print(f"[red]{problem}[/red]", highlight=False)
            if result.valid:
                out.print(f"report OK: signature valid ({result.algorithm}, key {result.key_id}, "
                          f"signed {result.signed_at}); {result.files_checked} files match "
                          "digest.json", highlight=False)
            else:
                out.print(f"[red]report INVALID: {len(result.errors)} problem(s); signature "
                          f"{'valid' if result.signature_valid else 'NOT valid'}[/red]",
                          highlight=False)
        if not result.valid:
            raise typer.Exit(1)

    @report_app.command("list")
    def report_list(
        assessment: Optional[str] = typer.Option(None, "--assessment", help="Only this assessment"),
        as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts"),
        home: Optional[Path] = HomeOption,
    ) -> None:
        """Every report with its status, path (s3RelativePath) and, when it failed, why."""
        services = _services(_settings(home))
        records = services.reports.records(assessment)
        if as_json:
            print(json.dumps(records, indent=2))
            return
        table = Table("Report", "Assessment", "Status", "Evidence", "Created", "Path / reason")
        for r in records:
            detail = (f"[red]{r['failureReason']}[/red]" if r["status"] == "FAILED"
                      else r["s3RelativePath"])
            table.add_row(f"{r['name']}\n{r['id']}", r["assessmentName"], r["status"],
                          "" if r["evidenceCount"] is None else str(r["evidenceCount"]),
                          _when(r["creationTime"]), detail)
        out.print(table)

    @report_app.command("create")
    def report_create(
        assessment: str = typer.Argument(..., help="Assessment id"),
        name: str = typer.Option(..., "--name", help="Report name (letters, digits, -_.)"),
        description: Optional[str] = typer.Option(None, "--description"),
        home: Optional[Path] = HomeOption,
    ) -> None:
        """Build a report now, in the foreground, from the evidence selected for it."""

        from ..service.reports import coverage_warning

        services = _services(_settings(home))
        with service_errors():
            report = services.reports.create(
                services.system(), {"assessmentId": assessment, "name": name,
                                    "description": description}, background=False)
        record = next(r for r in services.reports.records(assessment) if r["id"] == report["id"])
        if record["status"] != "COMPLETE":
            err.print(f"[red]report {record['name']} FAILED: {record['failureReason']}[/red]",
                      highlight=False)
            raise typer.Exit(1)
        out.print(f"report {record['name']} COMPLETE: {record['evidenceCount']} evidence item(s)"
                  f"\n  id   {record['id']}\n  path {record['s3RelativePath']}", highlight=False)
        whole = services.reports.coverage(services.system(), assessment)
        warning = coverage_warning(record["evidenceCount"] or 0, whole).strip()
        if warning:  # a report must never look cleaner than its assessment
            err.print(f"[yellow]{warning}[/yellow]", highlight=False)

    @report_app.command("download")
    def report_download(
        report_id: str = typer.Argument(..., help="Report id"),
        target: Path = typer.Option(Path("."), "--out", help="File or folder to write the zip to"),
        home: Optional[Path] = HomeOption,
    ) -> None:
        """Copy a COMPLETE report's zip out of its store (Assay's or S3)."""

        services = _services(_settings(home))
        with service_errors():
            written = services.reports.download(report_id, target)
        out.print(f"Wrote {written}", highlight=False)


def _trusted_key(public_key: Optional[Path], home: Optional[Path], settings_of, err):
    """--public-key, else the instance's own key from --home (never created here)."""
    from cryptography.hazmat.primitives import serialization

    from ..service.signing import load_public_key

    if public_key:
        try:
            return load_public_key(public_key.read_bytes()), str(public_key)
        except (OSError, ValueError) as exc:
            err.print(f"[red]{public_key}: {exc}[/red]", highlight=False)
            raise typer.Exit(2)
    settings = settings_of(home)
    path = (Path(settings.signing_key).expanduser() if settings.signing_key
            else settings.home / "signing-key.pem")
    if not path.is_file():
        err.print(f"[red]No --public-key given and no instance key at {path}: pass the "
                  "instance's public key (`assay keys public` on the instance).[/red]",
                  highlight=False)
        raise typer.Exit(2)
    private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    return private.public_key(), f"the instance key {path}"


def _when(epoch: float | None) -> str:
    if not epoch:
        return ""
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
