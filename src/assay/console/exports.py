"""Every table of the console as CSV or XLSX (openpyxl): the same rows the page shows, built
by the same service calls, so an export never shows more than the caller may see."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from typing import Any, Sequence

from starlette.responses import Response

FORMATS = {"csv": "text/csv; charset=utf-8",
           "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
# A cell starting with one of these is a formula to a spreadsheet: quoted, so an evidence value
# never runs as one (CSV/formula injection).
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (list, tuple, set)):
        value = ", ".join(str(v) for v in value)
    if isinstance(value, str) and value.startswith(_FORMULA):
        return "'" + value
    return value


def export(name: str, fmt: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> Response:
    """A download of ``rows`` under ``headers`` as ``<name>.<fmt>``; fmt is csv or xlsx."""
    filename = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-")[:120] or "export"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(headers)
        writer.writerows([[_cell(v) for v in row] for row in rows])
        body = ("\ufeff" + out.getvalue()).encode("utf-8")  # BOM: spreadsheets read UTF-8
    else:
        from openpyxl import Workbook  # ~0.2 s of imports: loaded on the first XLSX download

        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet(filename[:31])
        sheet.append(list(headers))
        for row in rows:
            sheet.append([_cell(v) for v in row])
        buffer = io.BytesIO()
        workbook.save(buffer)
        body = buffer.getvalue()
    return Response(body, media_type=FORMATS[fmt], headers={
        "Content-Disposition": f'attachment; filename="{filename}.{fmt}"'})


def day(epoch: float | None) -> str:
    """A UTC timestamp as spreadsheets read it (ISO 8601)."""
    if epoch is None:
        return ""
    return dt.datetime.fromtimestamp(float(epoch), dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
