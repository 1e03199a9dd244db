"""Who may see and change one assessment.

Beyond the role grants in ``auth``: a process owner changes only assessments that list it as a
PROCESS_OWNER, and a delegate sees and works on only the control sets delegated to it.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from ..store import tables
from .auth import MANAGE_ASSESSMENT, READ_ASSESSMENT, REVIEW_ASSESSMENT, Caller
from .errors import AccessDeniedError, NotFoundError, ValidationError


@dataclass(frozen=True)
class AssessmentAccess:
    caller: Caller
    assessment: sa.Row
    is_owner: bool                       # listed as PROCESS_OWNER (or admin)
    delegated_sets: frozenset[str]       # control sets delegated to the caller

    @property
    def sees_everything(self) -> bool:
        return self.caller.role != "delegate"

    def can_see_set(self, control_set_id: str) -> bool:
        return self.sees_everything or control_set_id in self.delegated_sets

    def require_set(self, control_set_id: str) -> None:
        if not self.can_see_set(control_set_id):
            raise AccessDeniedError(
                f"Control set '{control_set_id}' is not delegated to {self.caller.arn}.")

    def require_owner(self, action: str = MANAGE_ASSESSMENT) -> None:
        """``action`` on this assessment: the role must grant it, and the caller must be one of
        the assessment's process owners (or an admin)."""
        self.caller.require(action)
        if not self.is_owner:
            raise AccessDeniedError(
                f"{self.caller.arn} is not a process owner of assessment {self.assessment.id}.")

    def require_review(self, control_set_id: str) -> None:
        """Change a control set's controls and evidence: its owners and its delegates."""
        self.caller.require(REVIEW_ASSESSMENT)
        if self.caller.role == "delegate":
            self.require_set(control_set_id)
        elif not self.is_owner:
            raise AccessDeniedError(
                f"{self.caller.arn} is not a process owner of assessment {self.assessment.id}.")

    def require_active(self) -> None:
        if self.assessment.status != "ACTIVE":
            raise ValidationError.field(
                "assessmentId", f"Assessment {self.assessment.id} is INACTIVE: it can no longer be "
                                "changed (reports can still be created).")


def assessment_access(conn: sa.Connection, caller: Caller, assessment_id: str) -> AssessmentAccess:
    caller.require(READ_ASSESSMENT)
    row = conn.execute(
        sa.select(tables.assessments).where(tables.assessments.c.id == assessment_id,
                                            tables.assessments.c.deleted_at.is_(None))
    ).first()
    if row is None:
        raise NotFoundError("assessment", assessment_id)
    owner = caller.role == "admin" or (caller.role == "process-owner" and conn.execute(
        sa.select(tables.assessment_roles.c.role_arn).where(
            tables.assessment_roles.c.assessment_id == assessment_id,
            tables.assessment_roles.c.role_arn == caller.arn,
            tables.assessment_roles.c.role_type == "PROCESS_OWNER")
    ).first() is not None)
    delegated = frozenset()
    if caller.role == "delegate":
        delegated = frozenset(conn.execute(
            sa.select(tables.delegations.c.control_set_id).where(
                tables.delegations.c.assessment_id == assessment_id,
                tables.delegations.c.role_arn == caller.arn)
        ).scalars())
        if not delegated:
            raise AccessDeniedError(
                f"No control set of assessment {assessment_id} is delegated to {caller.arn}.")
    return AssessmentAccess(caller, row, owner, delegated)
