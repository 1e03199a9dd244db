"""Where an assessment stands, control by control: the evidence state of every control (what
is passing, failing, accepted, missing and why), failed checks by account and resource with
their remediation, scores and their daily trend, and the freshness of evidence.

States of a control, first match wins (``STATES``):

- ``failing``         it has failed checks no risk exception accepts;
- ``source_failed``   no automated evidence, and its source failed in the latest collection
                      (each failure with the AWS error and its fix);
- ``pending``         automated sources, no evidence and no failure: first collection pending;
- ``manual_due``      a manual source and no manual evidence in force (none, or all expired);
- ``accepted``        failed checks, every one accepted by a risk exception;
- ``passing``         evidence, and no failed check.

``passing`` and ``accepted`` are "sufficient evidence"; the others would leave an auditor
unsatisfied today (the "what is missing" view).
"""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from typing import Any, Callable

import orjson
import sqlalchemy as sa

from ..library import Library
from ..library.keywords import remediation_url
from ..model.controls import SOURCE_DISPLAY_NAMES, is_automated
from ..model.evidence import evidence_attributes
from ..model.fixes import fix_for
from ..model.resources import console_url, parse_arn
from ..store import Store, tables
from .access import AssessmentAccess, assessment_access
from .auth import IMPORT_EVIDENCE, READ_ASSESSMENT, Caller
from .checks import accepted_counts, active_exceptions, covering, failing_checks
from .errors import AccessDeniedError, NotFoundError, ValidationError

STATES = ("failing", "source_failed", "pending", "manual_due", "accepted", "passing")
STATE_NAMES = {"failing": "Failing", "source_failed": "No evidence: source failed",
               "pending": "No evidence yet", "manual_due": "Manual evidence due",
               "accepted": "Risk accepted", "passing": "Passing"}
SUFFICIENT = ("passing", "accepted")
EXPIRY_WARNING_DAYS = 30
DAY = 86400


def _day(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%d")


def share(part: int, whole: int) -> float | None:
    """``part / whole`` as a percentage rounded to one decimal, None when ``whole`` is 0."""
    return round(100.0 * part / whole, 1) if whole else None


class PostureService:
    def __init__(self, store: Store, library: Library, clock: Callable[[], float] = time.time):
        self.store = store
        self.library = library
        self.clock = clock

    # -- control states -------------------------------------------------------------------

    def control_states(self, caller: Caller, assessment_id: str) -> dict[str, Any]:
        """Every visible control of the assessment with its state, counts, newest evidence,
        failures and fixes; and the counts by state for the assessment, each control set and
        each domain. Raises NotFoundError / AccessDeniedError as reading the assessment does."""
        now = self.clock()
        with self.store.read() as conn:
            access = assessment_access(conn, caller, assessment_id)
            controls = self._control_rows(conn, access)
            counts = self._folder_counts(conn, assessment_id)
            newest = self._newest(conn, assessment_id)
            failures, last_run = self._latest_failures(conn, assessment_id)
            accepted = accepted_counts(conn, [assessment_id], now)
            expired = self._expired_manual(conn, assessment_id, now)
        items = []
        for row in controls:
            key = (row.control_set_id, row.control_id)
            c = counts.get(key, {})
            accepted_here = accepted.get((assessment_id, *key), 0)
            noncompliant = c.get("noncompliant", 0) - accepted_here
            automated_evidence = c.get("total", 0) - c.get("manual", 0)
            manual_in_force = c.get("manual", 0) - expired.get(key, 0)
            automated = any(is_automated(s) for s in row.mapping_sources)
            manual = any(not is_automated(s) for s in row.mapping_sources)
            fails = failures.get(key, [])
            if noncompliant > 0:
                state = "failing"
            elif automated and automated_evidence == 0 and fails:
                state = "source_failed"
            elif automated and automated_evidence == 0 and not (manual and manual_in_force):
                state = "pending"
            elif manual and manual_in_force <= 0 and (not automated or automated_evidence == 0):
                state = "manual_due"
            elif accepted_here:
                state = "accepted"
            elif c.get("total", 0) > 0:
                state = "passing"
            else:
                state = "manual_due" if manual else "pending"
            newest_at = newest.get(key)
            items.append({
                "controlSetId": row.control_set_id, "controlId": row.control_id,
                "name": row.name, "domainId": row.domain_id,
                "domainName": self._domain_name(row.domain_id), "reviewStatus": row.status,
                "state": state, "stateName": STATE_NAMES[state],
                "compliant": c.get("compliant", 0), "noncompliant": noncompliant,
                "accepted": accepted_here, "inconclusive": c.get("inconclusive", 0),
                "evidence": c.get("total", 0), "manual": c.get("manual", 0),
                "manualExpired": expired.get(key, 0), "newestEvidenceAt": newest_at,
                "ageDays": int((now - newest_at) // DAY) if newest_at else None,
                "failures": fails, "automated": automated, "hasManualSource": manual,
            })
        return {"assessmentId": assessment_id, "lastRun": last_run, "controls": items,
                "counts": self._count(items),
                "controlSets": self._group(items, "controlSetId", lambda v: v),
                "domains": self._group(items, "domainId", self._domain_name)}

    @staticmethod
    def _count(items: list[dict]) -> dict[str, Any]:
        counts = {state: 0 for state in STATES}
        for item in items:
            counts[item["state"]] += 1
        total = len(items)
        return {**counts, "total": total, "passingShare": share(counts["passing"], total),
                "sufficientShare": share(counts["passing"] + counts["accepted"], total),
                "missing": total - counts["passing"] - counts["accepted"]}

    def _group(self, items: list[dict], field: str, name) -> list[dict]:
        groups: dict[str, list] = defaultdict(list)
        for item in items:
            groups[item[field]].append(item)
        return [{"id": key, "name": name(key), **self._count(group)}
                for key, group in groups.items()]

    def _control_rows(self, conn, access: AssessmentAccess) -> list:
        c = tables.assessment_controls
        rows = conn.execute(sa.select(c).where(c.c.assessment_id == access.assessment.id)
                            .order_by(c.c.control_set_id, c.c.position)).all()
        order = {s: i for i, s in enumerate(self._set_order(conn, access.assessment.id))}
        rows = [r for r in rows if access.can_see_set(r.control_set_id)]
        return sorted(rows, key=lambda r: (order.get(r.control_set_id, 0), r.position))

    @staticmethod
    def _set_order(conn, assessment_id: str) -> list[str]:
        s = tables.assessment_control_sets
        return list(conn.execute(sa.select(s.c.id).where(s.c.assessment_id == assessment_id)
                                 .order_by(s.c.position)).scalars())

    @staticmethod
    def _folder_counts(conn, assessment_id: str) -> dict:
        f = tables.evidence_folders
        rows = conn.execute(sa.select(
            f.c.control_set_id, f.c.control_id, sa.func.sum(f.c.total),
            sa.func.sum(f.c.compliant), sa.func.sum(f.c.noncompliant),
            sa.func.sum(f.c.inconclusive), sa.func.sum(f.c.manual))
            .where(f.c.assessment_id == assessment_id)
            .group_by(f.c.control_set_id, f.c.control_id)).all()
        return {(r[0], r[1]): {"total": int(r[2] or 0), "compliant": int(r[3] or 0),
                               "noncompliant": int(r[4] or 0), "inconclusive": int(r[5] or 0),
                               "manual": int(r[6] or 0)} for r in rows}

    @staticmethod
    def _newest(conn, assessment_id: str) -> dict:
        e = tables.evidence
        rows = conn.execute(sa.select(e.c.control_set_id, e.c.control_id, sa.func.max(e.c.time))
                            .where(e.c.assessment_id == assessment_id)
                            .group_by(e.c.control_set_id, e.c.control_id)).all()
        return {(r[0], r[1]): float(r[2]) for r in rows}

    @staticmethod
    def _latest_failures(conn, assessment_id: str) -> tuple[dict, dict | None]:
        r, f = tables.collection_runs, tables.collection_failures
        run = conn.execute(sa.select(r).where(r.c.assessment_id == assessment_id)
                           .order_by(r.c.started_at.desc()).limit(1)).first()
        if run is None:
            return {}, None
        out = defaultdict(list)
        for failure in conn.execute(sa.select(f).where(f.c.run_id == run.id).order_by(f.c.id)):
            out[(failure.control_set_id, failure.control_id)].append(_failure(failure))
        return dict(out), {"id": run.id, "status": run.status, "startedAt": run.started_at,
                           "finishedAt": run.finished_at, "errors": run.errors}

    @staticmethod
    def _expired_manual(conn, assessment_id: str, now: float) -> dict:
        x = tables.evidence_expiry
        rows = conn.execute(sa.select(x.c.control_set_id, x.c.control_id, sa.func.count())
                            .where(x.c.assessment_id == assessment_id, x.c.expires_at <= now)
                            .group_by(x.c.control_set_id, x.c.control_id)).all()
        return {(r[0], r[1]): int(r[2]) for r in rows}

    def _domain_name(self, domain_id: str) -> str:
        domain = self.library.domains.get(domain_id)
        return domain.name if domain else "Uncategorized"

    def evidence_regions(self, caller: Caller, assessment_id: str, control_set_id: str,
                         evidence_ids: list[str]) -> dict[str, str]:
        """Evidence id -> the AWS region the ledger record was collected in (Audit Manager's
        evidence shape has no region member), for items of one visible control set."""
        if not evidence_ids:
            return {}
        e = tables.evidence
        with self.store.read() as conn:
            assessment_access(conn, caller, assessment_id).require_set(control_set_id)
            rows = conn.execute(sa.select(e.c.id, e.c.record).where(
                e.c.assessment_id == assessment_id, e.c.control_set_id == control_set_id,
                e.c.id.in_(evidence_ids))).all()
        return {row.id: orjson.loads(row.record).get("region") or "" for row in rows}

    # -- failed checks, accounts, resources -----------------------------------------------

    def failed_checks(self, caller: Caller, assessment_id: str, account: str | None = None,
                      control_set_id: str | None = None, control_id: str | None = None,
                      resource: str | None = None) -> list[dict[str, Any]]:
        """Failed checks of the assessment, newest first, with account, region, resources
        (fields and console links), the remediation page, and the exception accepting each
        (``acceptedBy``: its id, or None)."""
        now = self.clock()
        with self.store.read() as conn:
            access = assessment_access(conn, caller, assessment_id)
            if control_set_id:
                access.require_set(control_set_id)
            names = {(r.control_set_id, r.control_id): r.name
                     for r in self._control_rows(conn, access)}
            checks = failing_checks(conn, [assessment_id],
                                    {(assessment_id, s) for s, _ in names},
                                    (control_set_id, control_id)
                                    if control_set_id and control_id else None)
            exceptions = active_exceptions(conn, [assessment_id], now)
        out = []
        for check in checks:
            if account and check["account"] != account:
                continue
            if control_set_id and check["controlSetId"] != control_set_id:
                continue
            if control_id and check["controlId"] != control_id:
                continue
            if resource and resource not in check["resources"]:
                continue
            out.append(self._described(check, names, covering(exceptions, check)))
        return out

    @staticmethod
    def _described(check: dict, names: dict, exception) -> dict[str, Any]:
        return {**check,
                "controlName": names.get((check["controlSetId"], check["controlId"]), ""),
                "check": check["keyword"] or check["eventName"],
                "source": SOURCE_DISPLAY_NAMES.get(check["sourceType"], check["dataSource"]),
                "remediationUrl": remediation_url(check["sourceType"], check["keyword"]),
                "resourceDetails": [resource_details(r, check["region"])
                                    for r in check["resources"]],
                "acceptedBy": exception.id if exception is not None else None}

    def accounts(self, caller: Caller, assessment_id: str) -> list[dict[str, Any]]:
        """Per AWS account of the failed checks: the controls failing there (unaccepted failed
        checks), with counts of failed and accepted checks."""
        checks = self.failed_checks(caller, assessment_id)
        with self.store.read() as conn:
            row = conn.execute(sa.select(tables.assessments.c.scope).where(
                tables.assessments.c.id == assessment_id)).scalar_one()
        names = {a["id"]: a.get("name") for a in (row or {}).get("awsAccounts", [])}
        accounts: dict[str, dict] = {}
        for account_id in names:
            accounts[account_id] = {"account": account_id, "name": names[account_id],
                                    "failed": 0, "accepted": 0, "controls": {}}
        for check in checks:
            entry = accounts.setdefault(check["account"], {
                "account": check["account"], "name": names.get(check["account"]), "failed": 0,
                "accepted": 0, "controls": {}})
            if check["acceptedBy"]:
                entry["accepted"] += 1
                continue
            entry["failed"] += 1
            key = (check["controlSetId"], check["controlId"])
            control = entry["controls"].setdefault(key, {
                "controlSetId": key[0], "controlId": key[1], "name": check["controlName"],
                "failed": 0, "regions": set(), "lastFailedAt": check["time"]})
            control["failed"] += 1
            control["regions"].add(check["region"])
        out = []
        for entry in accounts.values():
            controls = sorted(entry["controls"].values(), key=lambda c: -c["failed"])
            for control in controls:
                control["regions"] = sorted(control["regions"])
            out.append({**entry, "controls": controls})
        return sorted(out, key=lambda e: (-len(e["controls"]), e["account"]))

    def resource(self, caller: Caller, resource: str) -> list[dict[str, Any]]:
        """Which controls a resource (ARN or the value evidence names) fails, across the active
        assessments the caller can see: one row per assessment control."""
        if not resource or len(resource) > 2048:
            raise ValidationError.field("resource", "Name a resource (an ARN), at most 2048 "
                                                    "characters.")
        caller.require(READ_ASSESSMENT)
        now = self.clock()
        with self.store.read() as conn:
            visible, names, titles = set(), {}, {}
            ids = conn.execute(sa.select(tables.assessments.c.id, tables.assessments.c.name)
                               .where(tables.assessments.c.deleted_at.is_(None),
                                      tables.assessments.c.status == "ACTIVE")).all()
            for aid, title in ids:
                try:
                    access = assessment_access(conn, caller, aid)
                except AccessDeniedError:  # not visible to this caller: skipped
                    continue
                titles[aid] = title
                for row in self._control_rows(conn, access):
                    visible.add((aid, row.control_set_id))
                    names[(aid, row.control_set_id, row.control_id)] = row.name
            checks = [c for c in failing_checks(conn, titles, visible)
                      if resource in c["resources"]]
            exceptions = active_exceptions(conn, titles, now)
        rows: dict[tuple, dict] = {}
        for check in checks:
            key = (check["assessmentId"], check["controlSetId"], check["controlId"])
            entry = rows.setdefault(key, {
                "assessmentId": key[0], "assessmentName": titles[key[0]],
                "controlSetId": key[1], "controlId": key[2], "controlName": names[key],
                "failed": 0, "accepted": 0, "accounts": set(), "lastFailedAt": check["time"],
                "remediationUrl": remediation_url(check["sourceType"], check["keyword"])})
            if covering(exceptions, check) is not None:
                entry["accepted"] += 1
            else:
                entry["failed"] += 1
            entry["accounts"].add(check["account"])
        out = [{**r, "accounts": sorted(r["accounts"])} for r in rows.values()]
        return sorted(out, key=lambda r: (r["assessmentName"], r["controlName"]))

    # -- score and trend ------------------------------------------------------------------

    def trend(self, caller: Caller, assessment_id: str, days: int = 30,
              group: str | None = None) -> dict[str, Any]:
        """Per day for ``days`` days (UTC, oldest first): the share of controls passing (of
        those with compliance checks that day: none failed) and the share with evidence so far;
        for the whole assessment, or per control set (``group="set"``) or domain
        (``group="domain"``). ``delta`` compares the newest day with seven days before it, in
        percentage points."""
        if group not in (None, "set", "domain"):
            raise ValidationError.field("group", "Group by set or domain.")
        now = self.clock()
        with self.store.read() as conn:
            access = assessment_access(conn, caller, assessment_id)
            controls = self._control_rows(conn, access)
            f = tables.evidence_folders
            rows = conn.execute(sa.select(f.c.control_set_id, f.c.control_id, f.c.day,
                                          sa.func.sum(f.c.compliant), sa.func.sum(f.c.noncompliant))
                                .where(f.c.assessment_id == assessment_id)
                                .group_by(f.c.control_set_id, f.c.control_id, f.c.day)).all()
        day_list = [_day(now - (days - 1 - n) * DAY) for n in range(days)]
        group_of = {(c.control_set_id, c.control_id): (
            "all" if group is None else c.control_set_id if group == "set"
            else self._domain_name(c.domain_id)) for c in controls}
        first_day: dict = {}
        daily: dict = defaultdict(dict)
        for set_id, cid, day, passed, failed in rows:
            key = (set_id, cid)
            if key not in group_of:
                continue
            first_day[key] = min(first_day.get(key, day), day)
            daily[day][key] = (int(passed or 0), int(failed or 0))
        series: dict[str, list] = defaultdict(list)
        totals: dict[str, int] = defaultdict(int)
        for key, name in group_of.items():
            totals[name] += 1
        for day in day_list:
            checked, passing, covered = defaultdict(int), defaultdict(int), defaultdict(int)
            for key, (passed, failed) in daily.get(day, {}).items():
                if passed or failed:
                    checked[group_of[key]] += 1
                    passing[group_of[key]] += 0 if failed else 1
            for key, first in first_day.items():
                if first <= day:
                    covered[group_of[key]] += 1
            for name in totals:
                series[name].append({"day": day, "checked": checked[name],
                                     "passing": passing[name],
                                     "passingShare": share(passing[name], checked[name]),
                                     "evidenceShare": share(covered[name], totals[name])})
        out = []
        for name, points in series.items():
            newest = next((p for p in reversed(points) if p["passingShare"] is not None), None)
            week = None
            if newest is not None:
                index = points.index(newest)
                week = points[index - 7] if index >= 7 else None
            delta = (round(newest["passingShare"] - week["passingShare"], 1)
                     if newest and week and week["passingShare"] is not None else None)
            evidence_delta = (round(points[-1]["evidenceShare"] - points[-8]["evidenceShare"], 1)
                              if len(points) >= 8 and points[-8]["evidenceShare"] is not None
                              and points[-1]["evidenceShare"] is not None else None)
            out.append({"name": name, "controls": totals[name], "points": points,
                        "passingShare": newest["passingShare"] if newest else None,
                        "passingDelta": delta, "evidenceDelta": evidence_delta})
        return {"days": day_list, "groups": sorted(out, key=lambda g: g["name"])}

    # -- freshness of manual evidence -----------------------------------------------------

    def set_evidence_expiry(self, caller: Caller, assessment_id: str, control_set_id: str,
                            control_id: str, evidence_id: str, expires_at: float | None) -> None:
        """Give a manual evidence item a date after which it no longer stands as evidence
        (None: it never expires). Who may add evidence to the control may set it. Raises
        ValidationError (``evidenceId`` not manual evidence of the control, ``expiresAt``)."""
        caller.require(IMPORT_EVIDENCE)
        from .activity import log_change  # one module for change logs

        with self.store.write() as conn:
            access = assessment_access(conn, caller, assessment_id)
            access.require_review(control_set_id)
            access.require_active()
            e = tables.evidence
            row = conn.execute(sa.select(e).where(e.c.id == evidence_id,
                                                  e.c.assessment_id == assessment_id,
                                                  e.c.control_set_id == control_set_id,
                                                  e.c.control_id == control_id)).first()
            if row is None:
                raise NotFoundError("evidence", evidence_id)
            if orjson.loads(row.record).get("sourceType") != "MANUAL":
                raise ValidationError.field("evidenceId", "Only manual evidence carries an "
                                                          "expiry; collected evidence is renewed "
                                                          "by collection.")
            x = tables.evidence_expiry
            conn.execute(x.delete().where(x.c.evidence_id == evidence_id))
            if expires_at is not None:
                conn.execute(x.insert().values(
                    evidence_id=evidence_id, assessment_id=assessment_id,
                    control_set_id=control_set_id, control_id=control_id,
                    expires_at=expires_at, set_by=caller.arn))
            control = conn.execute(sa.select(tables.assessment_controls.c.name).where(
                tables.assessment_controls.c.assessment_id == assessment_id,
                tables.assessment_controls.c.control_set_id == control_set_id,
                tables.assessment_controls.c.control_id == control_id)).scalar_one()
            label = evidence_attributes(orjson.loads(row.record))
            what = label.get("fileName") or (label.get("textResponse") or "")[:60] or evidence_id
            log_change(conn, caller, assessment_id, "CONTROL",
                       f"{control}: evidence '{what}' "
                       + (f"valid until {_day(expires_at)}" if expires_at else "never expires"),
                       "UPDATE_METADATA", control_set_id, control_id)

    def evidence_expiry(self, caller: Caller, assessment_id: str, control_set_id: str,
                        control_id: str) -> dict[str, float]:
        """Evidence id -> expiry (epoch seconds) of a control's manual evidence."""
        with self.store.read() as conn:
            access = assessment_access(conn, caller, assessment_id)
            access.require_set(control_set_id)
            x = tables.evidence_expiry
            return {r.evidence_id: r.expires_at for r in conn.execute(sa.select(x).where(
                x.c.assessment_id == assessment_id, x.c.control_set_id == control_set_id,
                x.c.control_id == control_id))}

    def expiring_evidence(self, caller: Caller) -> list[dict[str, Any]]:
        """Manual evidence expired or expiring within ``EXPIRY_WARNING_DAYS``, in the
        assessments the caller owns (or the control sets delegated to it): its inbox list."""
        now = self.clock()
        x, c, a = tables.evidence_expiry, tables.assessment_controls, tables.assessments
        with self.store.read() as conn:
            rows = conn.execute(
                sa.select(x, c.c.name.label("control_name"), a.c.name.label("assessment_name"))
                .join(c, sa.and_(c.c.assessment_id == x.c.assessment_id,
                                 c.c.control_set_id == x.c.control_set_id,
                                 c.c.control_id == x.c.control_id))
                .join(a, a.c.id == x.c.assessment_id)
                .where(a.c.deleted_at.is_(None), a.c.status == "ACTIVE",
                       x.c.expires_at <= now + EXPIRY_WARNING_DAYS * DAY)
                .order_by(x.c.expires_at)).all()
            out, access_of = [], {}
            for row in rows:
                if row.assessment_id not in access_of:
                    try:
                        access_of[row.assessment_id] = assessment_access(conn, caller,
                                                                         row.assessment_id)
                    except AccessDeniedError:  # not visible to this caller
                        access_of[row.assessment_id] = None
                access = access_of[row.assessment_id]
                if access is None or not (access.is_owner or (
                        caller.role == "delegate" and access.can_see_set(row.control_set_id))):
                    continue
                out.append({"evidenceId": row.evidence_id, "assessmentId": row.assessment_id,
                            "assessmentName": row.assessment_name,
                            "controlSetId": row.control_set_id, "controlId": row.control_id,
                            "controlName": row.control_name, "expiresAt": row.expires_at,
                            "expired": row.expires_at <= now})
        return out


def resource_details(resource: str, region: str = "") -> dict[str, Any]:
    """A resource as readable fields: the ARN's service, type, id, account and region, and the
    AWS console page where one exists."""
    fields = parse_arn(resource)
    if fields is None:
        return {"value": resource, "fields": {}, "consoleUrl": None}
    readable = {"Service": fields["service"], "Type": fields["type"] or "—",
                "Name": fields["id"], "Account": fields["account"] or "—",
                "Region": fields["region"] or region or "global"}
    return {"value": resource, "fields": readable, "consoleUrl": console_url(resource, region)}


def _failure(row) -> dict[str, Any]:
    return {"account": row.account_id, "region": row.region, "sourceType": row.source_type,
            "source": SOURCE_DISPLAY_NAMES.get(row.source_type, row.source_type),
            "keyword": row.keyword, "errorCode": row.error_code, "message": row.message,
            "occurredAt": row.occurred_at,
            "fix": fix_for(row.error_code, row.keyword, row.account_id, row.region)}
