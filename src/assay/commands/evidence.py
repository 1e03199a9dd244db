"""`assay evidence query`: the evidence finder on the command line (on the host, against the
configured database), with the rights of the instance or of a principal (``--as``)."""

from __future__ import annotations

import contextlib
import sys
from itertools import islice
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

PAGE = 1000  # rows per printed table page


def register(app: typer.Typer) -> None:
    from ..cli import HomeOption, _services, _settings, err, out, service_errors

    evidence_app = typer.Typer(help="Search evidence with the evidence finder.",
                               no_args_is_help=True)
    app.add_typer(evidence_app, name="evidence")

    @evidence_app.command("query")
    def query(
        sql: str = typer.Argument(..., help="CloudTrail Lake SQL over the evidence store, e.g. "
                                            "\"SELECT eventData.controlId, count(*) FROM evidence "
                                            "WHERE eventData.complianceCheck = 'FAILED' GROUP BY 1\""),
        fmt: str = typer.Option("table", "--format", help="table | csv | json | xlsx"),
        output: Optional[Path] = typer.Option(None, "--output", "-o",
                                              help="Write to this file (xlsx needs one)"),
        principal: Optional[str] = typer.Option(
            None, "--as", help="Run with the rights of this principal (an Assay key's ARN)"),
        home: Optional[Path] = HomeOption,
    ) -> None:
        """Run an evidence finder query and print or export its rows.

        Rows stream from the database to the output, so any number of rows fits in memory. The
        store is named `evidence` or by the eventDataStoreArn (or its id) of GetSettings. Exits
        1 when the query cannot run or stopped at the row limit."""
        from ..finder import export

        if fmt not in ("table", *export.FORMATS):
            err.print(f"[red]--format must be table, csv, json or xlsx, not {fmt}[/red]")
            raise typer.Exit(2)
        if fmt == "xlsx" and output is None:
            err.print("[red]--format xlsx writes a workbook: give --output FILE.xlsx[/red]")
            raise typer.Exit(2)
        services = _services(_settings(home))
        with service_errors():
            caller = _caller(services, principal)
            result = services.finder.run(caller, sql, field="query")
            if fmt == "table":
                count = _print_table(out, result.columns, result.rows)
            elif fmt == "xlsx":
                count = export.write_xlsx(result.columns, result.rows, str(output))
            elif fmt == "csv":
                with (output.open("w", newline="", encoding="utf-8") if output
                      else contextlib.nullcontext(sys.stdout)) as stream:
                    count = export.write_csv(result.columns, result.rows, stream)
            else:
                with (output.open("wb") if output else contextlib.nullcontext(sys.stdout.buffer)) as stream:
                    count = export.write_json(result.columns, result.rows, stream)
        if result.truncated:
            err.print(f"[red]Stopped at {result.max_rows} rows, the evidence finder's row limit "
                      "(finder_max_rows): narrow the query or add LIMIT.[/red]")
            raise typer.Exit(1)
        err.print(f"{count} row(s)" + (f" written to {output}" if output else ""))

    def _caller(services, principal: str | None):
        if principal is None:
            return services.system()
        return services.keys.principal(principal, services.settings.default_region)


def _print_table(console, columns: list[str], rows) -> int:
    """Rows as tables of PAGE rows each: printed as they are read."""
    count = 0
    rows = iter(rows)
    while True:
        page = list(islice(rows, PAGE))
        if not page and count:
            return count
        table = Table(*columns)
        for row in page:
            table.add_row(*("" if v is None else str(v) for v in row))
        console.print(table)
        count += len(page)
        if len(page) < PAGE:
            return count

