"""Compliance checks as the console, insights and reports count them: every noncompliant
evidence item of an assessment, with its account, region and resources, and which approved,
unexpired risk exception (if any) accepts it.

A check accepted by an exception is counted apart: neither passed nor failed. Insights
(``insights.py``), the console (``posture.py``) and reports all subtract the same
``accepted_counts`` from the folders' noncompliant counters, so their numbers agree.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterable

import orjson
import sqlalchemy as sa

from ..model.evidence import compliance_bucket, evidence_attributes
from ..store import tables

ControlKey = tuple[str, str, str]  # (assessment id, control set id, control id)


def check_of(row) -> dict[str, Any]:
    """One evidence row as a check: ids, account, region, resources and the source's terms."""
    record = orjson.loads(row.record)
    resources = [r for r in record.get("resourcesIncluded") or [] if isinstance(r, dict)]
    return {
        "evidenceId": row.id, "assessmentId": row.assessment_id,
        "controlSetId": row.control_set_id, "controlId": row.control_id,
        "folderId": row.folder_id, "time": row.time,
        "account": record.get("evidenceAwsAccountId") or record.get("awsAccountId") or "",
        "region": record.get("region") or "",
        "sourceType": record.get("sourceType") or "", "keyword": record.get("keyword") or "",
        "dataSource": record.get("dataSource") or "", "eventName": record.get("eventName") or "",
        "complianceCheck": record.get("complianceCheck"),
        "resources": [r.get("arn") or r.get("value") for r in resources
                      if r.get("arn") or r.get("value")],
        "attributes": evidence_attributes(record),
    }


def failing_checks(conn: sa.Connection, assessment_ids: Iterable[str],
                   visible: set[tuple[str, str]] | None = None,
                   control: tuple[str, str] | None = None) -> list[dict[str, Any]]:
    """Noncompliant evidence items of the assessments, newest first. ``visible`` limits them to
    (assessment id, control set id) pairs (a delegate's sets); None: every set. ``control``
    (control set id, control id) reads that control's evidence only."""
    e = tables.evidence
    ids = list(assessment_ids)
    if not ids:
        return []
    query = sa.select(e).where(e.c.assessment_id.in_(ids))
    if control is not None:
        query = query.where(e.c.control_set_id == control[0], e.c.control_id == control[1])
    rows = conn.execute(query.order_by(e.c.time.desc(), e.c.seq.desc())).all()
    out = []
    for row in rows:
        if visible is not None and (row.assessment_id, row.control_set_id) not in visible:
            continue
        check = check_of(row)
        if compliance_bucket(check["complianceCheck"]) == "noncompliant":
            out.append(check)
    return out


def active_exceptions(conn: sa.Connection, assessment_ids: Iterable[str] | None,
                      now: float) -> list:
    """APPROVED exceptions not yet expired at ``now`` (epoch seconds)."""
    x = tables.risk_exceptions
    query = sa.select(x).where(x.c.status == "APPROVED", x.c.expires_at > now)
    if assessment_ids is not None:
        query = query.where(x.c.assessment_id.in_(list(assessment_ids)))
    return conn.execute(query).all()


def covering(exceptions: list, check: dict[str, Any]):
    """The exception that accepts this check, or None: one for its whole control, or for one of
    its resources."""
    for exception in exceptions:
        if (exception.assessment_id, exception.control_set_id, exception.control_id) != (
                check["assessmentId"], check["controlSetId"], check["controlId"]):
            continue
        if exception.resource is None or exception.resource in check["resources"]:
            return exception
    return None


def accepted_counts(conn: sa.Connection, assessment_ids: Iterable[str] | None,
                    now: float) -> dict[ControlKey, int]:
    """Accepted noncompliant checks per control. Only controls with an active exception are
    read, so this costs nothing when no risk is accepted."""
    exceptions = active_exceptions(conn, assessment_ids, now)
    if not exceptions:
        return {}
    by_control = defaultdict(list)
    for exception in exceptions:
        by_control[(exception.assessment_id, exception.control_set_id,
                    exception.control_id)].append(exception)
    counts = {key: sum(1 for check in failing_checks(conn, [key[0]], None, key[1:])
                       if covering(group, check) is not None)
              for key, group in by_control.items()}
    return {key: n for key, n in counts.items() if n}
