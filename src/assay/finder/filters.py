"""Evidence search filters (the console's search page and control page) written as the
evidence finder query they stand for: people see the SQL of every filter set and learn the
query language from it. Pure: no database."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import date, timedelta

from .schema import RESULTS, STORE_ALIAS, rank_expression, result_condition

# The columns a search shows, in order: (select expression, header).
COLUMNS = (
    ("eventTime", "eventTime"),
    ("eventData.complianceCheck", "complianceCheck"),
    ("eventData.evidenceAwsAccountId", "evidenceAwsAccountId"),
    ("awsRegion", "awsRegion"),
    ("eventData.controlName", "controlName"),
    ("eventData.controlDomainName", "controlDomainName"),
    ("eventData.dataSource", "dataSource"),
    ("eventData.eventName", "eventName"),
    ("eventData.resourceArn", "resourceArn"),
    ("eventData.assessmentId", "assessmentId"),
    ("eventData.controlSetId", "controlSetId"),
    ("eventData.controlId", "controlId"),
    ("eventData.evidenceFolderId", "evidenceFolderId"),
    ("eventData.evidenceId", "evidenceId"),
)

_RANK = rank_expression()
# Sort orders: name -> (label, ORDER BY). The default puts failed checks first.
SORTS = {
    "result": ("Failed first, newest first", _RANK + ", eventTime DESC"),
    "newest": ("Newest first", "eventTime DESC"),
    "oldest": ("Oldest first", "eventTime ASC"),
    "account": ("Account, newest first", "eventData.evidenceAwsAccountId, eventTime DESC"),
    "control": ("Control, failed first", "eventData.controlName, " + _RANK + ", eventTime DESC"),
}
DEFAULT_SORT = "result"
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Filters:
    """A search's filters; empty strings filter nothing. ``since``/``until`` are inclusive
    days (YYYY-MM-DD, UTC); ``result`` is failed | passed | inconclusive."""

    since: str = ""
    until: str = ""
    account: str = ""
    region: str = ""
    assessment: str = ""
    control_set: str = ""
    control: str = ""
    control_name: str = ""
    control_domain: str = ""
    data_source: str = ""
    result: str = ""
    resource_arn: str = ""
    event_name: str = ""

    @classmethod
    def from_query(cls, get) -> "Filters":
        """From a query-string getter (``name -> str | None``), each value trimmed."""
        return cls(**{f.name: (get(f.name) or "").strip()[:2048] for f in fields(cls)})

    def problems(self) -> list[tuple[str, str]]:
        """(field, message) for values that cannot be a filter."""
        out = []
        for name in ("since", "until"):
            value = getattr(self, name)
            if value:
                try:
                    if not _DAY.match(value):
                        raise ValueError
                    date.fromisoformat(value)
                except ValueError:
                    out.append((name, f"{value} is not a day (YYYY-MM-DD)."))
        if self.result and self.result not in RESULTS:
            out.append(("result", f"result must be one of {', '.join(RESULTS)}."))
        return out

    def conditions(self) -> list[str]:
        where = []
        if self.since:
            where.append(f"eventTime >= TIMESTAMP '{self.since} 00:00:00'")
        if self.until:  # through the whole day: before the next one starts
            after = date.fromisoformat(self.until) + timedelta(days=1)
            where.append(f"eventTime < TIMESTAMP '{after.isoformat()} 00:00:00'")
        for value, field in ((self.account, "eventData.evidenceAwsAccountId"),
                             (self.region, "awsRegion"),
                             (self.assessment, "eventData.assessmentId"),
                             (self.control_set, "eventData.controlSetId"),
                             (self.control, "eventData.controlId"),
                             (self.control_name, "eventData.controlName"),
                             (self.control_domain, "eventData.controlDomainName"),
                             (self.data_source, "eventData.dataSource"),
                             (self.resource_arn, "eventData.resourceArn"),
                             (self.event_name, "eventData.eventName")):
            if value:
                where.append(f"{field} = {_literal(value)}")
        if self.result:
            where.append(result_condition(self.result))
        return where


def to_sql(filters: Filters, sort: str = DEFAULT_SORT, limit: int | None = None,
           offset: int = 0) -> str:
    """The evidence finder query of a filter set, laid out one clause per line."""
    order = SORTS.get(sort, SORTS[DEFAULT_SORT])[1]
    lines = ["SELECT " + ",\n       ".join(expr for expr, _ in COLUMNS), f"FROM {STORE_ALIAS}"]
    conditions = filters.conditions()
    if conditions:
        lines.append("WHERE " + "\n  AND ".join(conditions))
    lines.append(f"ORDER BY {order}")
    if limit is not None:
        lines.append(f"LIMIT {int(limit)}" + (f" OFFSET {int(offset)}" if offset else ""))
    return "\n".join(lines)


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
