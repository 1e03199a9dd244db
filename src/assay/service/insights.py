"""Insights: compliance counts computed from the evidence folders' counters (so they always agree
with GetEvidenceFolders*), over the active assessments the caller can see, by control domain.

Failed checks a risk exception accepts are not counted as noncompliant (see ``checks.py``): the
API, the console and reports count them apart, and agree."""

from __future__ import annotations

import time
from types import SimpleNamespace
from collections import defaultdict
from typing import Any

import sqlalchemy as sa

from ..library import Library
from ..store import Store, tables
from . import paging
from .access import assessment_access
from .auth import READ_ASSESSMENT, Caller
from .checks import accepted_counts
from .errors import NotFoundError


class InsightsService:
    def __init__(self, store: Store, library: Library, clock=time.time):
        self.store = store
        self.library = library
        self.clock = clock  # decides which risk exceptions are still in force

    def _rows(self, conn: sa.Connection, caller: Caller, assessment_id: str | None):
        """One row per visible assessment control: its domain, names and evidence counts."""
        a, c, f = tables.assessments, tables.assessment_controls, tables.evidence_folders
        counts = (sa.select(f.c.assessment_id, f.c.control_set_id, f.c.control_id,
                            sa.func.sum(f.c.compliant).label("compliant"),
                            sa.func.sum(f.c.noncompliant).label("noncompliant"),
                            sa.func.sum(f.c.inconclusive).label("inconclusive"),
                            sa.func.max(f.c.updated_at).label("updated_at"))
                  .group_by(f.c.assessment_id, f.c.control_set_id, f.c.control_id).subquery())
        query = (sa.select(c.c.assessment_id, c.c.control_set_id, c.c.control_id, c.c.name,
                           c.c.domain_id, counts.c.compliant, counts.c.noncompliant,
                           counts.c.inconclusive, counts.c.updated_at)
                 .join(a, a.c.id == c.c.assessment_id)
                 .outerjoin(counts, sa.and_(counts.c.assessment_id == c.c.assessment_id,
                                            counts.c.control_set_id == c.c.control_set_id,
                                            counts.c.control_id == c.c.control_id))
                 .where(a.c.deleted_at.is_(None), a.c.status == "ACTIVE"))
        if assessment_id:
            query = query.where(c.c.assessment_id == assessment_id)
        if caller.role == "delegate":
            d = tables.delegations
            query = query.join(d, sa.and_(d.c.assessment_id == c.c.assessment_id,
                                          d.c.control_set_id == c.c.control_set_id,
                                          d.c.role_arn == caller.arn))
        rows = conn.execute(query.order_by(c.c.assessment_id, c.c.control_set_id,
                                           c.c.position)).all()
        accepted = accepted_counts(conn, [assessment_id] if assessment_id else None, self.clock())
        return [SimpleNamespace(**{**r._mapping, "noncompliant": int(r.noncompliant or 0) - accepted.get(
            (r.assessment_id, r.control_set_id, r.control_id), 0)}) for r in rows]

    @staticmethod
    def _evidence(rows) -> dict[str, int]:
        return {"compliantEvidenceCount": sum(int(r.compliant or 0) for r in rows),
                "noncompliantEvidenceCount": sum(int(r.noncompliant or 0) for r in rows),
                "inconclusiveEvidenceCount": sum(int(r.inconclusive or 0) for r in rows)}

    @staticmethod
    def _last(rows) -> float:
        return max((r.updated_at for r in rows if r.updated_at), default=time.time())

    def _summary(self, rows) -> dict[str, Any]:
        return {**self._evidence(rows),
                "assessmentControlsCountByNoncompliantEvidence":
                    sum(1 for r in rows if (r.noncompliant or 0) > 0),
                "totalAssessmentControlsCount": len(rows), "lastUpdated": self._last(rows)}

    # -- the six operations ---------------------------------------------------------------

    def insights(self, caller: Caller) -> dict[str, Any]:
        caller.require(READ_ASSESSMENT)
        with self.store.read() as conn:
            rows = self._rows(conn, caller, None)
        return {"activeAssessmentsCount": len({r.assessment_id for r in rows}), **self._summary(rows)}

    def insights_by_assessment(self, caller: Caller, assessment_id: str) -> dict[str, Any]:
        with self.store.read() as conn:
            assessment_access(conn, caller, assessment_id)
            rows = self._rows(conn, caller, assessment_id)
        return self._summary(rows)

    def domains(self, caller: Caller, assessment_id: str | None, token, max_results):
        with self.store.read() as conn:
            if assessment_id:
                assessment_access(conn, caller, assessment_id)
            else:
                caller.require(READ_ASSESSMENT)
            rows = self._rows(conn, caller, assessment_id)
        by_domain = defaultdict(list)
        for row in rows:
            by_domain[row.domain_id].append(row)
        items = [{
            "name": self._domain_name(domain_id), "id": domain_id,
            "controlsCountByNoncompliantEvidence": sum(1 for r in group if (r.noncompliant or 0) > 0),
            "totalControlsCount": len(group), "evidenceInsights": self._evidence(group),
            "lastUpdated": self._last(group),
        } for domain_id, group in sorted(by_domain.items(), key=lambda kv: self._domain_name(kv[0]))]
        return paging.page(items, token, max_results, f"domain-insights:{assessment_id}")

    def controls_in_domain(self, caller: Caller, domain_id: str, assessment_id: str | None,
                           token, max_results):
        """Per control of a domain: across assessments (grouped by control) or within one."""
        with self.store.read() as conn:
            if assessment_id:
                assessment_access(conn, caller, assessment_id)
            else:
                caller.require(READ_ASSESSMENT)
            rows = [r for r in self._rows(conn, caller, assessment_id) if r.domain_id == domain_id]
        if not rows and domain_id not in self.library.domains and domain_id != "UNCATEGORIZED":
            raise NotFoundError("controlDomain", domain_id)
        if assessment_id:
            items = [{"name": r.name, "id": r.control_id, "controlSetName": r.control_set_id,
                      "evidenceInsights": self._evidence([r]), "lastUpdated": self._last([r])}
                     for r in rows]
        else:
            by_control = defaultdict(list)
            for row in rows:
                by_control[row.control_id].append(row)
            items = [{"name": group[0].name, "id": control_id,
                      "evidenceInsights": self._evidence(group), "lastUpdated": self._last(group)}
                     for control_id, group in by_control.items()]
        return paging.page(items, token, max_results,
                           f"control-insights:{domain_id}:{assessment_id}")

    def _domain_name(self, domain_id: str) -> str:
        domain = self.library.domains.get(domain_id)
        return domain.name if domain else "Uncategorized"
