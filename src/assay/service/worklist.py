"""The work that closes gaps: failing controls assigned to principals with a due date, and
risk exceptions (accepting failing checks of one resource, or of a whole control, with a
justification, a second principal's approval and an expiry).

Every step writes the assessment's change log (as Audit Manager's CONTROL / UPDATE_METADATA
entries, whose object name says what happened) and notifies the people concerned, who see it in
their inbox. Exceptions expire on their own: ``expire_due`` runs before every read of them.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from typing import Any, Callable

import sqlalchemy as sa

from ..store import Store, tables
from .access import assessment_access
from .activity import Notifier, log_change
from .assessments import AssessmentService
from .auth import Caller
from .checks import failing_checks
from .errors import AccessDeniedError, NotFoundError, ValidationError

MAX_EXCEPTION_DAYS = 3 * 366  # an acceptance is reviewed at least every three years
APPROVER_ROLES = ("admin", "process-owner")


def _day(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%d")


def _named(table: sa.Table) -> sa.Select:
    """Rows of ``table`` (keyed by assessment, control set and control) with the control's and
    the assessment's names, for assessments not deleted."""
    c, s = tables.assessment_controls, tables.assessments
    return (sa.select(table, c.c.name.label("control_name"), s.c.name.label("assessment_name"))
            .join(c, sa.and_(c.c.assessment_id == table.c.assessment_id,
                             c.c.control_set_id == table.c.control_set_id,
                             c.c.control_id == table.c.control_id))
            .join(s, s.c.id == table.c.assessment_id).where(s.c.deleted_at.is_(None)))


def _name(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


class WorklistService:
    """Assignments and risk exceptions. ``clock`` (epoch seconds) decides due and expired."""

    def __init__(self, store: Store, assessments: AssessmentService, notifier: Notifier,
                 key_role_of: Callable[[sa.Connection, str], str | None], system_arn: str,
                 clock: Callable[[], float] = time.time):
        self.store = store
        self.assessments = assessments
        self.notifier = notifier
        self.key_role_of = key_role_of
        self.system_arn = system_arn
        self.clock = clock

    def now(self) -> float:
        return self.clock()

    # -- assignments ----------------------------------------------------------------------

    def assign(self, caller: Caller, assessment_id: str, control_set_id: str, control_id: str,
               assignee_arn: str, due_at: float, note: str = "") -> dict[str, Any]:
        """An owner gives a control to a principal to fix by ``due_at`` (epoch seconds).
        Raises ValidationError (field ``assigneeArn``, ``dueDate``, ``note``), AccessDeniedError
        (not an owner), NotFoundError (no such control)."""
        note = (note or "").strip()
        if len(note) > 500:
            raise ValidationError.field("note", "A note is at most 500 characters.")
        with self.store.write() as conn:
            access = assessment_access(conn, caller, assessment_id)
            access.require_owner()
            access.require_active()
            control = self.assessments.control_row(conn, assessment_id, control_set_id, control_id)
            role = self.key_role_of(conn, assignee_arn)
            if role is None:
                raise ValidationError.field("assigneeArn",
                                            f"{assignee_arn} is not an active Assay principal.")
            if role == "auditor":
                raise ValidationError.field("assigneeArn", f"{_name(assignee_arn)} is an auditor: "
                                                           "auditors read, they do not fix.")
            if role == "delegate" and not conn.execute(sa.select(tables.delegations.c.id).where(
                    tables.delegations.c.assessment_id == assessment_id,
                    tables.delegations.c.control_set_id == control_set_id,
                    tables.delegations.c.role_arn == assignee_arn)).first():
                raise ValidationError.field(
                    "assigneeArn", f"Control set '{control_set_id}' is not delegated to "
                                   f"{_name(assignee_arn)}: delegate it first, so they can see it.")
            now = self.now()
            if due_at < now - 86400:
                raise ValidationError.field("dueDate", "The due date is in the past.")
            row = {"id": str(uuid.uuid4()), "assessment_id": assessment_id,
                   "control_set_id": control_set_id, "control_id": control_id,
                   "assignee_arn": assignee_arn, "due_at": due_at, "note": note or None,
                   "status": "OPEN", "created_by": caller.arn, "created_at": now,
                   "updated_at": now}
            conn.execute(tables.control_assignments.insert().values(**row))
            log_change(conn, caller, assessment_id, "CONTROL",
                       f"{control.name}: assigned to {_name(assignee_arn)}, due {_day(due_at)}",
                       "UPDATE_METADATA", control_set_id, control_id)
            pending = self.notifier.record(
                conn, {assignee_arn} - {caller.arn}, access.assessment,
                f"{caller.name} assigned you {control.name}, due {_day(due_at)}."
                + (f" {note}" if note else ""), control_set_id)
        self.notifier.publish(pending)
        return self._assignment(row, control.name, access.assessment.name)

    def close_assignment(self, caller: Caller, assignment_id: str, status: str) -> dict:
        """DONE (the assignee or an owner) or CANCELLED (an owner)."""
        if status not in ("DONE", "CANCELLED"):
            raise ValidationError.field("status", "An assignment is closed as DONE or CANCELLED.")
        a = tables.control_assignments
        with self.store.write() as conn:
            row = conn.execute(sa.select(a).where(a.c.id == assignment_id)).first()
            if row is None:
                raise NotFoundError("assignment", assignment_id)
            access = assessment_access(conn, caller, row.assessment_id)
            if not (status == "DONE" and row.assignee_arn == caller.arn):
                access.require_owner()
            access.require_active()
            if row.status != "OPEN":
                raise ValidationError.field("status", f"The assignment is already {row.status}.")
            control = self.assessments.control_row(conn, row.assessment_id, row.control_set_id,
                                                   row.control_id)
            conn.execute(a.update().where(a.c.id == assignment_id)
                         .values(status=status, updated_at=self.now()))
            log_change(conn, caller, row.assessment_id, "CONTROL",
                       f"{control.name}: assignment to {_name(row.assignee_arn)} "
                       f"{'done' if status == 'DONE' else 'cancelled'}", "UPDATE_METADATA",
                       row.control_set_id, row.control_id)
            return self._assignment({**row._mapping, "status": status}, control.name,
                                    access.assessment.name)

    def assignments(self, caller: Caller, assessment_id: str | None = None,
                    mine: bool = False, status: str | None = "OPEN") -> list[dict]:
        """Assignments of one assessment (what the caller may see of it), or the caller's own
        across assessments (``mine``), soonest due first."""
        a = tables.control_assignments
        with self.store.read() as conn:
            query = _named(a)
            if status:
                query = query.where(a.c.status == status)
            rows = _scoped(conn, caller, query.order_by(a.c.due_at), a, assessment_id,
                           a.c.assignee_arn == caller.arn if mine else None)
        return [self._assignment(r._mapping, r.control_name, r.assessment_name) for r in rows]

    def _assignment(self, row, control_name: str, assessment_name: str) -> dict[str, Any]:
        return {"id": row["id"], "assessmentId": row["assessment_id"],
                "assessmentName": assessment_name, "controlSetId": row["control_set_id"],
                "controlId": row["control_id"], "controlName": control_name,
                "assigneeArn": row["assignee_arn"], "dueAt": row["due_at"], "note": row["note"],
                "status": row["status"], "createdBy": row["created_by"],
                "createdAt": row["created_at"],
                "overdue": row["status"] == "OPEN" and row["due_at"] < self.now()}

    # -- risk exceptions ------------------------------------------------------------------

    def request_exception(self, caller: Caller, assessment_id: str, control_set_id: str,
                          control_id: str, resource: str | None, justification: str,
                          approver_arn: str, expires_at: float) -> dict[str, Any]:
        """An owner asks to accept the failing checks of ``resource`` (None: of the whole
        control) until ``expires_at`` (epoch seconds); ``approver_arn`` (another admin or
        process owner) decides. Raises ValidationError naming ``justification``,
        ``approverArn``, ``expiresAt`` or ``resource``; AccessDeniedError for non-owners."""
        justification = (justification or "").strip()
        if not 10 <= len(justification) <= 1000:
            raise ValidationError.field("justification", "Say why the risk is acceptable "
                                                         "(10 to 1,000 characters).")
        resource = (resource or "").strip() or None
        with self.store.write() as conn:
            access = assessment_access(conn, caller, assessment_id)
            access.require_owner()
            access.require_active()
            control = self.assessments.control_row(conn, assessment_id, control_set_id, control_id)
            if approver_arn == caller.arn:
                raise ValidationError.field("approverArn", "The approver must be a second "
                                                           "principal, not the one asking.")
            if self.key_role_of(conn, approver_arn) not in APPROVER_ROLES:
                raise ValidationError.field("approverArn", f"{approver_arn} is not an active "
                                                           "admin or process owner.")
            now = self.now()
            if not now < expires_at <= now + MAX_EXCEPTION_DAYS * 86400:
                raise ValidationError.field("expiresAt", f"The expiry must be in the future and "
                                                         f"within {MAX_EXCEPTION_DAYS} days.")
            checks = failing_checks(conn, [assessment_id], None, (control_set_id, control_id))
            if not checks:
                raise ValidationError.field("controlId", f"{control.name} has no failed check "
                                                         "to accept.")
            if resource and not any(resource in c["resources"] for c in checks):
                raise ValidationError.field("resource", f"No failed check of {control.name} "
                                                        f"names the resource {resource}.")
            row = {"id": str(uuid.uuid4()), "assessment_id": assessment_id,
                   "control_set_id": control_set_id, "control_id": control_id,
                   "resource": resource, "justification": justification,
                   "requested_by": caller.arn, "approver_arn": approver_arn,
                   "status": "PENDING", "expires_at": expires_at, "created_at": now,
                   "decided_at": None}
            conn.execute(tables.risk_exceptions.insert().values(**row))
            what = f"{resource}" if resource else "the whole control"
            log_change(conn, caller, assessment_id, "CONTROL",
                       f"{control.name}: risk acceptance of {what} requested until "
                       f"{_day(expires_at)}, approver {_name(approver_arn)}", "UPDATE_METADATA",
                       control_set_id, control_id)
            pending = self.notifier.record(
                conn, {approver_arn}, access.assessment,
                f"{caller.name} asks you to approve accepting the risk of {what} failing "
                f"{control.name} until {_day(expires_at)}: {justification}", control_set_id)
        self.notifier.publish(pending)
        return self._exception(row, control.name, access.assessment.name)

    def decide_exception(self, caller: Caller, exception_id: str, decision: str) -> dict:
        """APPROVE or REJECT (the named approver), or REVOKE (an owner, or who asked)."""
        if decision not in ("APPROVE", "REJECT", "REVOKE"):
            raise ValidationError.field("decision", "Decide APPROVE, REJECT or REVOKE.")
        self.expire_due()
        x = tables.risk_exceptions
        with self.store.write() as conn:
            row = conn.execute(sa.select(x).where(x.c.id == exception_id)).first()
            if row is None:
                raise NotFoundError("riskException", exception_id)
            access = assessment_access(conn, caller, row.assessment_id)
            access.require_active()
            if decision == "REVOKE":
                if caller.arn != row.requested_by:
                    access.require_owner()
                if row.status not in ("PENDING", "APPROVED"):
                    raise ValidationError.field("decision", f"The exception is {row.status}.")
                status = "REVOKED"
            else:
                if caller.arn != row.approver_arn or caller.role not in APPROVER_ROLES:
                    raise AccessDeniedError(f"Only {row.approver_arn} decides this exception.")
                if row.status != "PENDING":
                    raise ValidationError.field("decision", f"The exception is {row.status}.")
                status = "APPROVED" if decision == "APPROVE" else "REJECTED"
            now = self.now()
            conn.execute(x.update().where(x.c.id == exception_id)
                         .values(status=status, decided_at=now))
            control = self.assessments.control_row(conn, row.assessment_id, row.control_set_id,
                                                   row.control_id)
            what = row.resource or "the whole control"
            log_change(conn, caller, row.assessment_id, "CONTROL",
                       f"{control.name}: risk acceptance of {what} {status.lower()}",
                       "UPDATE_METADATA", row.control_set_id, row.control_id)
            pending = self.notifier.record(
                conn, {row.requested_by, row.approver_arn} - {caller.arn}, access.assessment,
                f"{caller.name} {status.lower()} the risk acceptance of {what} failing "
                f"{control.name}.", row.control_set_id)
        self.notifier.publish(pending)
        return self._exception({**row._mapping, "status": status, "decided_at": now},
                               control.name, access.assessment.name)

    def expire_due(self) -> int:
        """Mark approved exceptions past their expiry EXPIRED, with a change log entry and a
        notification each. Returns how many expired. Cheap when none are due."""
        x = tables.risk_exceptions
        now = self.now()
        due_query = sa.select(x.c.id).where(x.c.status == "APPROVED", x.c.expires_at <= now)
        with self.store.read() as conn:
            if conn.execute(due_query.limit(1)).first() is None:
                return 0
        system = Caller(key_id="", name="assay", role="admin", arn=self.system_arn, region="")
        pending: list = []
        with self.store.write() as conn:
            rows = conn.execute(sa.select(x).where(x.c.id.in_(due_query.scalar_subquery()))
                                .with_for_update()).all()
            for row in rows:
                if row.status != "APPROVED" or row.expires_at > now:
                    continue
                conn.execute(x.update().where(x.c.id == row.id).values(status="EXPIRED"))
                control = self.assessments.control_row(conn, row.assessment_id,
                                                       row.control_set_id, row.control_id)
                assessment = conn.execute(sa.select(tables.assessments).where(
                    tables.assessments.c.id == row.assessment_id)).one()
                what = row.resource or "the whole control"
                log_change(conn, system, row.assessment_id, "CONTROL",
                           f"{control.name}: risk acceptance of {what} expired "
                           f"{_day(row.expires_at)}", "UPDATE_METADATA", row.control_set_id,
                           row.control_id)
                pending += self.notifier.record(
                    conn, {row.requested_by, row.approver_arn}, assessment,
                    f"The risk acceptance of {what} failing {control.name} expired: its "
                    "failed checks count as failed again.", row.control_set_id)
        self.notifier.publish(pending)
        return len(rows)

    def exceptions(self, caller: Caller, assessment_id: str | None = None,
                   to_decide: bool = False) -> list[dict]:
        """Exceptions of one assessment (the caller's visible control sets), or those waiting
        for the caller's decision (``to_decide``), newest first."""
        self.expire_due()
        x = tables.risk_exceptions
        with self.store.read() as conn:
            query = _named(x).order_by(x.c.created_at.desc())
            rows = _scoped(conn, caller, query, x, assessment_id,
                           sa.and_(x.c.approver_arn == caller.arn, x.c.status == "PENDING")
                           if to_decide else None)
        return [self._exception(r._mapping, r.control_name, r.assessment_name) for r in rows]

    def _exception(self, row, control_name: str, assessment_name: str) -> dict[str, Any]:
        return {"id": row["id"], "assessmentId": row["assessment_id"],
                "assessmentName": assessment_name, "controlSetId": row["control_set_id"],
                "controlId": row["control_id"], "controlName": control_name,
                "resource": row["resource"], "justification": row["justification"],
                "requestedBy": row["requested_by"], "approverArn": row["approver_arn"],
                "status": row["status"], "expiresAt": row["expires_at"],
                "createdAt": row["created_at"], "decidedAt": row["decided_at"]}


def _scoped(conn: sa.Connection, caller: Caller, query: sa.Select, table: sa.Table,
            assessment_id: str | None, own: sa.ColumnElement | None) -> list:
    """Rows of ``query`` over one assessment (only the control sets the caller may see), or,
    without one, the caller's own (``own``: the condition that makes a row theirs). Raises
    ValidationError naming assessmentId when neither is given."""
    if assessment_id:
        access = assessment_access(conn, caller, assessment_id)
        return [r for r in conn.execute(query.where(table.c.assessment_id == assessment_id))
                if access.can_see_set(r.control_set_id)]
    if own is not None:
        return conn.execute(query.where(own)).all()
    raise ValidationError.field("assessmentId", "Which assessment?")
