"""Finder results written as CSV, JSON or XLSX, one row at a time: memory stays flat for any
number of rows (openpyxl's write-only workbook spills rows to a temporary file)."""

from __future__ import annotations

import csv
import io
from typing import BinaryIO, Iterable, Iterator, TextIO

import orjson

FORMATS = ("csv", "json", "xlsx")
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
XLSX_MAX_ROWS = 1_048_576 - 1   # an Excel sheet's rows, less the header row


def write_csv(columns: list[str], rows: Iterable[tuple], out: TextIO) -> int:
    """Header then rows; returns the number of rows written."""
    writer = csv.writer(out)
    writer.writerow(columns)
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
    return count


def csv_chunks(columns: list[str], rows: Iterable[tuple], rows_per_chunk: int = 1000
               ) -> Iterator[bytes]:
    """CSV as UTF-8 chunks, for a streamed HTTP response."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for count, row in enumerate(rows, start=1):
        writer.writerow(row)
        if count % rows_per_chunk == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def write_json(columns: list[str], rows: Iterable[tuple], out: BinaryIO) -> int:
    """A JSON array of objects keyed by column, written as rows arrive."""
    out.write(b"[")
    count = 0
    for row in rows:
        out.write((b",\n" if count else b"\n") + orjson.dumps(dict(zip(columns, row))))
        count += 1
    out.write(b"\n]\n" if count else b"]\n")
    return count


def write_xlsx(columns: list[str], rows: Iterable[tuple], out: BinaryIO | str,
               title: str = "Evidence") -> int:
    """An Excel workbook; past an Excel sheet's row limit the rows go on in a new sheet."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet, in_sheet, count, number = None, XLSX_MAX_ROWS, 0, 0
    for row in rows:
        if in_sheet >= XLSX_MAX_ROWS:
            number += 1
            sheet = book.create_sheet(title if number == 1 else f"{title} {number}")
            sheet.append(columns)
            in_sheet = 0
        sheet.append(list(row))
        in_sheet += 1
        count += 1
    if sheet is None:
        book.create_sheet(title).append(columns)
    book.save(out)
    return count
