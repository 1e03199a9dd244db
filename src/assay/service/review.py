"""Review: control statuses and comments, control set submission, delegations.

The delegation workflow: an owner delegates a control set (delegation IN_PROGRESS); the delegate
reviews its controls and submits the set (set UNDER_REVIEW, delegation UNDER_REVIEW); an owner
completes the review (set REVIEWED, delegation COMPLETE) or sends it back (set ACTIVE,
delegation IN_PROGRESS). Every step is in the change log and notifies the other side.
"""

from __future__ import annotations

import time
import uuid
from types import SimpleNamespace

import sqlalchemy as sa

from ..store import Store, tables
from . import paging
from .access import assessment_access
from .activity import Notifier, change_logs, log_change
from .assessments import AssessmentService
from .auth import READ_ASSESSMENT, Caller
from .controls import actor_name
from .errors import AccessDeniedError, NotFoundError, ServiceError, ValidationError

# Control set status changes: (from, to) -> who may make them.
_SET_TRANSITIONS = {
    ("ACTIVE", "UNDER_REVIEW"): "delegate-or-owner",  # submit for review
    ("UNDER_REVIEW", "REVIEWED"): "owner",            # complete the review
    ("ACTIVE", "REVIEWED"): "owner",                  # an owner reviewing without delegating
    ("UNDER_REVIEW", "ACTIVE"): "owner",              # send back to the delegate
}
_DELEGATION_STATUS_FOR_SET = {"UNDER_REVIEW": "UNDER_REVIEW", "REVIEWED": "COMPLETE",
                              "ACTIVE": "IN_PROGRESS"}


class ReviewService:
    def __init__(self, store: Store, assessments: AssessmentService, notifier: Notifier,
                 principal_problem):
        self.store = store
        self.assessments = assessments
        self.notifier = notifier
        self.principal_problem = principal_problem  # keys.principal_problem: arn -> why not, or None

    # -- controls -------------------------------------------------------------------------

    def update_control(self, caller: Caller, assessment_id: str, control_set_id: str,
                       control_id: str, status: str | None, comment: str | None) -> dict:
        with self.store.write() as conn:
            access = assessment_access(conn, caller, assessment_id)
            access.require_review(control_set_id)
            access.require_active()
            control = self.assessments.control_row(conn, assessment_id, control_set_id, control_id)
            now = time.time()
            if status and status != control.status:
                if control.status == "REVIEWED":
                    raise ValidationError.field(
                        "controlStatus", "The control is REVIEWED; that status is final.")
                conn.execute(tables.assessment_controls.update().where(
                    tables.assessment_controls.c.assessment_id == assessment_id,
                    tables.assessment_controls.c.control_set_id == control_set_id,
                    tables.assessment_controls.c.control_id == control_id).values(status=status))
                log_change(conn, caller, assessment_id, "CONTROL", control.name, status,
                           control_set_id, control_id)
            if comment:
                conn.execute(tables.control_comments.insert().values(
                    assessment_id=assessment_id, control_set_id=control_set_id,
                    control_id=control_id, author_name=caller.name, author_arn=caller.arn,
                    body=comment, posted_at=now))
                log_change(conn, caller, assessment_id, "CONTROL", control.name,
                           "UPDATE_METADATA", control_set_id, control_id)
            conn.execute(tables.assessments.update().where(tables.assessments.c.id == assessment_id)
                         .values(updated_at=now))
            return self.control(conn, assessment_id, control_set_id, control_id)

    def control(self, conn: sa.Connection, assessment_id: str, control_set_id: str,
                control_id: str) -> dict:
        row = self.assessments.control_row(conn, assessment_id, control_set_id, control_id)
        counts = self.assessments.evidence_counts(conn, assessment_id).get(
            (control_set_id, control_id), {})
        comments = self.assessments.comments(conn, assessment_id).get(
            (control_set_id, control_id), [])
        return self.assessments.control_dict(row, counts, comments)

    # -- control sets ---------------------------------------------------------------------

    def update_control_set_status(self, caller: Caller, assessment_id: str, control_set_id: str,
                                  status: str, comment: str) -> dict:
        with self.store.write() as conn:
            access = assessment_access(conn, caller, assessment_id)
            access.require_review(control_set_id)
            access.require_active()
            assessment = access.assessment
            current = self.assessments.control_set_row(conn, assessment_id, control_set_id)
            if current.status != status:
                rule = _SET_TRANSITIONS.get((current.status, status))
                if rule is None:
                    raise ValidationError.field(
                        "status", f"A control set cannot go from {current.status} to {status}.")
                if rule == "owner" and not access.is_owner:
                    raise AccessDeniedError(
                        f"Only a process owner can set control set '{control_set_id}' to {status}.")
                now = time.time()
                conn.execute(tables.assessment_control_sets.update().where(
                    tables.assessment_control_sets.c.assessment_id == assessment_id,
                    tables.assessment_control_sets.c.id == control_set_id).values(status=status))
                delegations = tables.delegations
                where = [delegations.c.assessment_id == assessment_id,
                         delegations.c.control_set_id == control_set_id]
                delegates = set(conn.execute(sa.select(delegations.c.role_arn).where(*where)).scalars())
                conn.execute(delegations.update().where(*where).values(
                    status=_DELEGATION_STATUS_FOR_SET[status], updated_at=now))
                if status == "REVIEWED":
                    conn.execute(tables.assessment_controls.update().where(
                        tables.assessment_controls.c.assessment_id == assessment_id,
                        tables.assessment_controls.c.control_set_id == control_set_id,
                        tables.assessment_controls.c.status == "UNDER_REVIEW"
                    ).values(status="REVIEWED"))
                conn.execute(tables.assessments.update()
                             .where(tables.assessments.c.id == assessment_id).values(updated_at=now))
                log_change(conn, caller, assessment_id, "CONTROL_SET", control_set_id,
                           "UNDER_REVIEW" if status == "UNDER_REVIEW" else
                           ("REVIEWED" if status == "REVIEWED" else "ACTIVE"), control_set_id)
                owners = self.assessments.process_owners(conn, assessment_id)
                recipients = owners if status == "UNDER_REVIEW" else delegates
                verb = {"UNDER_REVIEW": "was submitted for review",
                        "REVIEWED": "was reviewed and completed",
                        "ACTIVE": "was sent back for more work"}[status]
                pending = self.notifier.record(
                    conn, recipients - {caller.arn}, assessment,
                    f"Control set '{control_set_id}' {verb} by {caller.name}: {comment}",
                    control_set_id)
            else:
                pending = []
            result = self._control_set(conn, caller, assessment_id, control_set_id)
        self.notifier.publish(pending)
        return result

    def _control_set(self, conn, caller, assessment_id, control_set_id) -> dict:
        access = assessment_access(conn, caller, assessment_id)
        described = self.assessments.describe(conn, caller, access)
        for control_set in described["assessment"]["framework"]["controlSets"]:
            if control_set["id"] == control_set_id:
                return control_set
        raise NotFoundError("controlSet", control_set_id)

    # -- delegations ----------------------------------------------------------------------

    def create_delegations(self, caller: Caller, assessment_id: str,
                           requests: list[dict]) -> tuple[list[dict], list[dict]]:
        created, errors, pending = [], [], []
        with self.store.write() as conn:
            access = assessment_access(conn, caller, assessment_id)
            access.require_owner()
            access.require_active()
            assessment = access.assessment
            now = time.time()
            for request in requests:
                try:
                    row = self._new_delegation(conn, caller, assessment, request, now)
                except ServiceError as error:
                    errors.append({"createDelegationRequest": request,
                                   "errorCode": str(error.status), "errorMessage": error.message[:300]})
                    continue
                created.append(self.assessments.delegation_dict(assessment, row))
                log_change(conn, caller, assessment_id, "DELEGATION", request["controlSetId"],
                           "CREATE", request["controlSetId"])
                pending += self.notifier.record(
                    conn, {request["roleArn"]}, assessment,
                    f"{caller.name} delegated control set '{request['controlSetId']}' to you"
                    + (f": {request['comment']}" if request.get("comment") else "."),
                    request["controlSetId"])
        self.notifier.publish(pending)
        return created, errors

    def _new_delegation(self, conn, caller, assessment, request: dict, now: float):
        for member in ("controlSetId", "roleArn", "roleType"):
            if not request.get(member):
                raise ValidationError.field(member, "Member must not be null.")
        self.assessments.control_set_row(conn, assessment.id, request["controlSetId"])
        if request["roleType"] != "RESOURCE_OWNER":
            raise ValidationError.field("roleType", "Control sets are delegated to RESOURCE_OWNERs.")
        problem = self.principal_problem(request["roleArn"])
        if problem:
            raise ValidationError.field("roleArn", problem)
        duplicate = conn.execute(sa.select(tables.delegations.c.id).where(
            tables.delegations.c.assessment_id == assessment.id,
            tables.delegations.c.control_set_id == request["controlSetId"],
            tables.delegations.c.role_arn == request["roleArn"])).first()
        if duplicate:
            raise ValidationError.field(
                "roleArn", f"Control set '{request['controlSetId']}' is already delegated to "
                           f"{request['roleArn']}.")
        values = {"id": str(uuid.uuid4()), "assessment_id": assessment.id,
                  "control_set_id": request["controlSetId"], "role_arn": request["roleArn"],
                  "role_type": "RESOURCE_OWNER", "status": "IN_PROGRESS",
                  "comment": request.get("comment"), "created_by": actor_name(caller),
                  "created_at": now, "updated_at": now}
        conn.execute(tables.delegations.insert().values(**values))
        return SimpleNamespace(**values)

    def delete_delegations(self, caller: Caller, assessment_id: str,
                           delegation_ids: list[str]) -> list[dict]:
        errors = []
        with self.store.write() as conn:
            access = assessment_access(conn, caller, assessment_id)
            access.require_owner()
            access.require_active()
            for delegation_id in delegation_ids:
                row = conn.execute(sa.select(tables.delegations).where(
                    tables.delegations.c.id == delegation_id,
                    tables.delegations.c.assessment_id == assessment_id)).first()
                if row is None:
                    errors.append({"delegationId": delegation_id, "errorCode": "404",
                                   "errorMessage": f"Delegation {delegation_id} does not exist "
                                                   f"in assessment {assessment_id}."})
                    continue
                conn.execute(tables.delegations.delete().where(tables.delegations.c.id == delegation_id))
                log_change(conn, caller, assessment_id, "DELEGATION", row.control_set_id, "DELETE",
                           row.control_set_id)
        return errors

    def list_delegations(self, caller: Caller, token: str | None,
                         max_results: int | None) -> tuple[list[dict], str | None]:
        """A delegate's own delegations; everyone else's view: all of them."""
        caller.require(READ_ASSESSMENT)
        d, a = tables.delegations, tables.assessments
        query = (sa.select(d, a.c.name.label("assessment_name"))
                 .join(a, a.c.id == d.c.assessment_id).where(a.c.deleted_at.is_(None)))
        if caller.role == "delegate":
            query = query.where(d.c.role_arn == caller.arn)
        with self.store.read() as conn:
            rows, next_token = paging.page_query(
                conn, query.order_by(d.c.created_at.desc(), d.c.id), token, max_results,
                f"delegations:{caller.arn}")
        return [{"id": r.id, "assessmentName": r.assessment_name, "assessmentId": r.assessment_id,
                 "status": r.status, "roleArn": r.role_arn, "creationTime": r.created_at,
                 "controlSetName": r.control_set_id} for r in rows], next_token

    # -- history --------------------------------------------------------------------------

    def change_logs(self, caller: Caller, assessment_id: str, control_set_id: str | None,
                    control_id: str | None, token: str | None, max_results: int | None):
        with self.store.read() as conn:
            access = assessment_access(conn, caller, assessment_id)
            if control_set_id:
                access.require_set(control_set_id)
            elif not access.sees_everything:
                raise AccessDeniedError("A delegate reads the change log of its control sets: "
                                        "name the controlSetId.")
            return change_logs(conn, assessment_id, control_set_id, control_id, token, max_results)
