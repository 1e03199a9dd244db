"""What a finder query is checked against and compiled to, apart from the compiler itself
(``query``, which needs sqlglot): the services hold these from start-up and load the compiler
on the first query."""

from __future__ import annotations

from dataclasses import dataclass, field


class QueryError(Exception):
    """A query that cannot run. ``line``/``column`` are 1-based where known."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None):
        where = f" (line {line}, column {column})" if line is not None else ""
        super().__init__(message + where)
        self.message = message + where
        self.line = line
        self.column = column


@dataclass(frozen=True)
class Limits:
    """Bounds of one query: ``max_rows`` rows, ``seconds`` of database time."""

    max_rows: int = 1_000_000
    seconds: float = 60.0


@dataclass(frozen=True)
class Rights:
    """What the caller may read. ``delegate_arn`` set: only the control sets delegated to
    that principal (``delegations``); ``assessment_id`` set: only that assessment (a report's
    query); always: only assessments that are not deleted."""

    delegate_arn: str | None = None
    assessment_id: str | None = None


@dataclass
class Compiled:
    sql: str                                   # for the target dialect
    columns: list[str] = field(default_factory=list)   # result headers, in order
    names: list[str] = field(default_factory=list)     # the same columns' names in ``sql``
    max_rows: int = 0
