"""Assessments: a framework snapshot applied to a scope of accounts, with owners and delegates."""

from __future__ import annotations

import re
import time
import uuid
from collections import defaultdict
from typing import Any

import sqlalchemy as sa

from ..library import Library
from ..model.controls import is_automated, source_names
from ..store import Store, tables
from . import arns, paging
from .access import AssessmentAccess, assessment_access
from .activity import Notifier, log_change
from .buckets import BucketPolicy
from .auth import CREATE_ASSESSMENT, READ_ASSESSMENT, Caller
from .errors import NotFoundError, ValidationError
from .frameworks import FrameworkService
from .tagging import TagService

UNCATEGORIZED = "UNCATEGORIZED"
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]$")


class AssessmentService:
    def __init__(self, store: Store, library: Library, account_id: str, frameworks: FrameworkService,
                 tags: TagService, notifier: Notifier, principal_problem, settings_document):
        self.store = store
        self.library = library
        self.account_id = account_id
        self.frameworks = frameworks
        self.tags = tags
        self.notifier = notifier
        self.principal_problem = principal_problem  # keys.principal_problem
        self.settings_document = settings_document
        # The buckets callers may name (set by open_services from the s3_buckets setting).
        self.buckets = BucketPolicy((), settings_document)

    # -- create ---------------------------------------------------------------------------

    def create(self, caller: Caller, params: dict[str, Any]) -> dict[str, Any]:
        caller.require(CREATE_ASSESSMENT)
        now = time.time()
        assessment_id = str(uuid.uuid4())
        with self.store.write() as conn:
            settings = self.settings_document(conn)
            framework = self.frameworks.describe(conn, caller.region, params["frameworkId"])
            roles = self._checked_roles(conn, params["roles"], settings)
            scope = self._checked_scope(params["scope"])
            destination = self._destination(conn, params.get("assessmentReportsDestination") or {},
                                            settings)
            conn.execute(tables.assessments.insert().values(
                id=assessment_id, name=params["name"], description=params.get("description"),
                region=caller.region, collection_regions=[caller.region], status="ACTIVE",
                framework_id=framework["id"], framework_name=framework["name"],
                framework_description=framework.get("description"),
                compliance_type=framework.get("complianceType"), reports_destination=destination,
                scope=scope, created_at=now, updated_at=now, created_by=caller.arn,
            ))
            conn.execute(tables.assessment_roles.insert(), [
                {"assessment_id": assessment_id, "role_arn": r["roleArn"], "role_type": r["roleType"]}
                for r in roles])
            self._snapshot(conn, assessment_id, framework)
            self.tags.replace(conn, assessment_id, params.get("tags") or {})
            log_change(conn, caller, assessment_id, "ASSESSMENT", params["name"], "CREATE")
            return self.describe(conn, caller, assessment_access(conn, caller, assessment_id))

    def _snapshot(self, conn: sa.Connection, assessment_id: str, framework: dict) -> None:
        """Copy the framework's control sets and controls into the assessment."""
        set_rows, control_rows = [], []
        for position, control_set in enumerate(framework["controlSets"]):
            set_rows.append({"assessment_id": assessment_id, "id": control_set["name"],
                             "position": position, "status": "ACTIVE"})
            for index, control in enumerate(control_set["controls"]):
                standard = self.library.controls.get(control["id"])
                control_rows.append({
                    "assessment_id": assessment_id, "control_set_id": control_set["name"],
                    "control_id": control["id"], "position": index, "name": control["name"],
                    "description": control.get("description"),
                    "testing_information": control.get("testingInformation"),
                    "action_plan_title": control.get("actionPlanTitle"),
                    "action_plan_instructions": control.get("actionPlanInstructions"),
                    "domain_id": standard.domain_id if standard else UNCATEGORIZED,
                    "mapping_sources": control.get("controlMappingSources") or [],
                    "status": "UNDER_REVIEW",
                    "response": "AUTOMATE" if any(is_automated(s) for s in
                                                  control.get("controlMappingSources") or [])
                    else "MANUAL",
                })
        conn.execute(tables.assessment_control_sets.insert(), set_rows)
        for start in range(0, len(control_rows), 500):
            conn.execute(tables.assessment_controls.insert(), control_rows[start:start + 500])

    def _checked_roles(self, conn: sa.Connection, roles: list[dict], settings: dict) -> list[dict]:
        """The roles sent plus the settings' ``defaultProcessOwners`` (first mention wins), on
        CreateAssessment and UpdateAssessment alike. Raises ValidationError naming
        ``roles[i].roleArn`` for an ARN that is not a principal of this instance, and ``roles``
        when no PROCESS_OWNER is left."""
        problems = [{"name": f"roles[{i}].roleArn", "message": problem}
                    for i, r in enumerate(roles) if (problem := self.principal_problem(r["roleArn"]))]
        if problems:
            raise ValidationError.for_fields(problems)
        merged: dict[str, dict] = {}
        for role in list(roles) + list(settings.get("defaultProcessOwners") or []):
            merged.setdefault(role["roleArn"], {"roleType": role["roleType"],
                                                "roleArn": role["roleArn"]})
        if not any(r["roleType"] == "PROCESS_OWNER" for r in merged.values()):
            raise ValidationError.field("roles", "An assessment needs at least one PROCESS_OWNER.")
        return list(merged.values())

    @staticmethod
    def _checked_scope(scope: dict) -> dict:
        accounts = scope.get("awsAccounts") or []
        if not accounts:
            raise ValidationError.field("scope.awsAccounts",
                                        "An assessment's scope needs at least one AWS account.")
        ids = [a["id"] for a in accounts if "id" in a]
        if len(ids) != len(accounts):
            raise ValidationError.field("scope.awsAccounts", "Every account needs its id.")
        if len(set(ids)) != len(ids):
            raise ValidationError.field("scope.awsAccounts", "An account is listed twice.")
        # Scope.awsServices is deprecated: "Audit Manager ignores this input. Instead, the
        # value for awsServices will show as empty" (auditmanager service model). Collection
        # covers whatever services the controls' sources name.
        return {"awsAccounts": accounts, "awsServices": []}

    def _destination(self, conn: sa.Connection, requested: dict, settings: dict) -> dict:
        """An S3 destination in a bucket an admin allowed (service/buckets.py), the settings'
        default, or {} for Assay's own report store."""
        if requested.get("destination"):
            self.buckets.require(conn, requested["destination"],
                                 "assessmentReportsDestination.destination")
            return {"destinationType": requested.get("destinationType") or "S3",
                    "destination": requested["destination"]}
        default = settings.get("defaultAssessmentReportsDestination") or {}
        return dict(default) if default.get("destination") else {}

    # -- reads ----------------------------------------------------------------------------

    def get(self, caller: Caller, assessment_id: str) -> dict[str, Any]:
        with self.store.read() as conn:
            access = assessment_access(conn, caller, assessment_id)
            result = self.describe(conn, caller, access)
        return result

    def describe(self, conn: sa.Connection, caller: Caller, access: AssessmentAccess) -> dict:
        """GetAssessment's response: the assessment (only the delegate's sets for a delegate)
        and the caller's role in it."""
        row = access.assessment
        roles = self.roles(conn, row.id)
        delegations = self.delegation_dicts(conn, row, [])
        control_sets = self._control_sets(conn, row, roles, delegations, access)
        visible_delegations = [d for d in delegations if access.can_see_set(d["controlSetId"])]
        assessment = {
            "arn": arns.arn(row.region, self.account_id, "assessment", row.id),
            "awsAccount": {"id": self.account_id},
            "metadata": {
                "name": row.name, "id": row.id, "description": row.description,
                "complianceType": row.compliance_type, "status": row.status,
                "assessmentReportsDestination": row.reports_destination or None,
                "scope": row.scope, "roles": roles, "delegations": visible_delegations,
                "creationTime": row.created_at, "lastUpdated": row.updated_at,
            },
            "framework": {
                "id": row.framework_id,
                "arn": arns.arn(row.region, self.account_id, "assessmentFramework", row.framework_id),
                # The assessment's copy of the framework description is limited to 200
                # characters by the model (the framework's own to 1000).
                "metadata": {"name": row.framework_name,
                             "description": _clip(row.framework_description, 200),
                             "complianceType": row.compliance_type},
                "controlSets": control_sets,
            },
            "tags": self.tags.read(conn, row.id),
        }
        return {"assessment": assessment, "userRole": self._user_role(caller, roles, delegations)}

    def _control_sets(self, conn, row, roles, delegations, access) -> list[dict]:
        sets = conn.execute(
            sa.select(tables.assessment_control_sets)
            .where(tables.assessment_control_sets.c.assessment_id == row.id)
            .order_by(tables.assessment_control_sets.c.position)).all()
        controls = defaultdict(list)
        for control in conn.execute(
                sa.select(tables.assessment_controls)
                .where(tables.assessment_controls.c.assessment_id == row.id)
                .order_by(tables.assessment_controls.c.position)):
            controls[control.control_set_id].append(control)
        counts = self.evidence_counts(conn, row.id)
        comments = self.comments(conn, row.id)
        owners = [r for r in roles if r["roleType"] == "PROCESS_OWNER"]
        out = []
        for control_set in sets:
            if not access.can_see_set(control_set.id):
                continue
            set_delegations = [d for d in delegations if d["controlSetId"] == control_set.id]
            system = manual = 0
            assessment_controls = []
            for control in controls[control_set.id]:
                key = (control_set.id, control.control_id)
                c = counts.get(key, {})
                system += c.get("system", 0)
                manual += c.get("manual", 0)
                assessment_controls.append(self.control_dict(control, c, comments.get(key, [])))
            out.append({
                "id": control_set.id, "description": control_set.id, "status": control_set.status,
                "roles": owners + [{"roleType": d["roleType"], "roleArn": d["roleArn"]}
                                   for d in set_delegations],
                "controls": assessment_controls, "delegations": set_delegations,
                "systemEvidenceCount": system, "manualEvidenceCount": manual,
            })
        return out

    @staticmethod
    def control_dict(control, counts: dict, comments: list[dict]) -> dict[str, Any]:
        return {
            "id": control.control_id, "name": control.name, "description": control.description,
            "status": control.status, "response": control.response, "comments": comments,
            "evidenceSources": source_names(control.mapping_sources), "evidenceCount": counts.get("total", 0),
            "assessmentReportEvidenceCount": counts.get("selected", 0),
        }

    @staticmethod
    def evidence_counts(conn: sa.Connection, assessment_id: str) -> dict:
        folders = tables.evidence_folders
        rows = conn.execute(
            sa.select(folders.c.control_set_id, folders.c.control_id,
                      sa.func.sum(folders.c.total), sa.func.sum(folders.c.manual),
                      sa.func.sum(folders.c.report_selected))
            .where(folders.c.assessment_id == assessment_id)
            .group_by(folders.c.control_set_id, folders.c.control_id)).all()
        return {(r[0], r[1]): {"total": int(r[2] or 0), "manual": int(r[3] or 0),
                               "system": int((r[2] or 0) - (r[3] or 0)), "selected": int(r[4] or 0)}
                for r in rows}

    @staticmethod
    def evidence_totals(conn: sa.Connection, assessment_id: str) -> dict[str, int]:
        """The whole assessment's evidence, from the folders' counters:
        ``{"evidence", "compliant", "failed", "inconclusive", "selected"}`` (item counts)."""
        f = tables.evidence_folders
        row = conn.execute(sa.select(
            sa.func.sum(f.c.total), sa.func.sum(f.c.compliant), sa.func.sum(f.c.noncompliant),
            sa.func.sum(f.c.inconclusive), sa.func.sum(f.c.report_selected))
            .where(f.c.assessment_id == assessment_id)).one()
        return dict(zip(("evidence", "compliant", "failed", "inconclusive", "selected"),
                        (int(v or 0) for v in row)))

    @staticmethod
    def comments(conn: sa.Connection, assessment_id: str) -> dict:
        out = defaultdict(list)
        for row in conn.execute(
                sa.select(tables.control_comments)
                .where(tables.control_comments.c.assessment_id == assessment_id)
                .order_by(tables.control_comments.c.id)):
            out[(row.control_set_id, row.control_id)].append(
                {"authorName": row.author_name, "commentBody": row.body, "postedDate": row.posted_at})
        return out

    @staticmethod
    def roles(conn: sa.Connection, assessment_id: str) -> list[dict]:
        return [{"roleType": r.role_type, "roleArn": r.role_arn} for r in conn.execute(
            sa.select(tables.assessment_roles)
            .where(tables.assessment_roles.c.assessment_id == assessment_id)
            .order_by(tables.assessment_roles.c.role_arn))]

    def process_owners(self, conn: sa.Connection, assessment_id: str) -> set[str]:
        """The ARNs notified of what happens in an assessment (submissions, imports, failures)."""
        return {r["roleArn"] for r in self.roles(conn, assessment_id)
                if r["roleType"] == "PROCESS_OWNER"}

    @staticmethod
    def _user_role(caller: Caller, roles: list[dict], delegations: list[dict]) -> dict | None:
        for role in roles:
            if role["roleArn"] == caller.arn:
                return role
        for delegation in delegations:
            if delegation["roleArn"] == caller.arn:
                return {"roleType": delegation["roleType"], "roleArn": caller.arn}
        return None

    def delegation_dicts(self, conn: sa.Connection, assessment, where: list) -> list[dict]:
        rows = conn.execute(
            sa.select(tables.delegations)
            .where(tables.delegations.c.assessment_id == assessment.id, *where)
            .order_by(tables.delegations.c.created_at, tables.delegations.c.id)).all()
        return [self.delegation_dict(assessment, r) for r in rows]

    @staticmethod
    def delegation_dict(assessment, row) -> dict[str, Any]:
        return {
            "id": row.id, "assessmentName": assessment.name, "assessmentId": assessment.id,
            "status": row.status, "roleArn": row.role_arn, "roleType": row.role_type,
            "creationTime": row.created_at, "lastUpdated": row.updated_at,
            "controlSetId": row.control_set_id, "comment": row.comment, "createdBy": row.created_by,
        }

    def list(self, caller: Caller, status: str | None, token: str | None,
             max_results: int | None) -> tuple[list[dict], str | None]:
        caller.require(READ_ASSESSMENT)
        a = tables.assessments
        with self.store.read() as conn:
            query = sa.select(a).where(a.c.deleted_at.is_(None))
            if status:
                query = query.where(a.c.status == status)
            if caller.role == "delegate":
                query = query.where(a.c.id.in_(
                    sa.select(tables.delegations.c.assessment_id)
                    .where(tables.delegations.c.role_arn == caller.arn)))
            rows, next_token = paging.page_query(
                conn, query.order_by(a.c.created_at.desc(), a.c.id), token, max_results,
                f"assessments:{status}")
            items = []
            for row in rows:
                delegations = self.delegation_dicts(conn, row, [])
                if caller.role == "delegate":
                    delegations = [d for d in delegations if d["roleArn"] == caller.arn]
                items.append({
                    "name": row.name, "id": row.id, "complianceType": row.compliance_type,
                    "status": row.status, "roles": self.roles(conn, row.id),
                    "delegations": delegations, "creationTime": row.created_at,
                    "lastUpdated": row.updated_at,
                })
        return items, next_token

    # -- updates ----------------------------------------------------------------------------

    def update(self, caller: Caller, assessment_id: str, params: dict[str, Any]) -> dict:
        with self.store.write() as conn:
            access = assessment_access(conn, caller, assessment_id)
            access.require_owner()
            access.require_active()
            settings = self.settings_document(conn)
            values: dict[str, Any] = {"scope": self._checked_scope(params["scope"]),
                                      "updated_at": time.time()}
            if params.get("assessmentName"):
                values["name"] = params["assessmentName"]
            if "assessmentDescription" in params:
                values["description"] = params["assessmentDescription"]
            if "assessmentReportsDestination" in params:
                values["reports_destination"] = self._destination(
                    conn, params["assessmentReportsDestination"] or {}, settings)
            if params.get("roles"):
                # As on create: AWS returns the settings' default process owners alongside
                # the roles sent (Terraform sends every role on every update).
                roles = self._checked_roles(conn, params["roles"], settings)
                conn.execute(tables.assessment_roles.delete()
                             .where(tables.assessment_roles.c.assessment_id == assessment_id))
                conn.execute(tables.assessment_roles.insert(), [
                    {"assessment_id": assessment_id, "role_arn": r["roleArn"],
                     "role_type": r["roleType"]} for r in roles])
            conn.execute(tables.assessments.update()
                         .where(tables.assessments.c.id == assessment_id).values(**values))
            log_change(conn, caller, assessment_id, "ASSESSMENT",
                       values.get("name", access.assessment.name), "UPDATE_METADATA")
            return self.describe(conn, caller, assessment_access(conn, caller, assessment_id))

    def set_regions(self, caller: Caller, assessment_id: str, regions: list[str]) -> list[str]:
        """Assay's extension: the regions collection covers (the assessment's own by default)."""
        bad = [r for r in regions if not _REGION.match(r)]
        if bad:
            raise ValidationError.field("regions", f"{', '.join(bad)}: not AWS region names "
                                                   "(like us-east-1).")
        with self.store.write() as conn:
            access = assessment_access(conn, caller, assessment_id)
            access.require_owner()
            access.require_active()
            cleaned = sorted(set(regions)) or [access.assessment.region]
            conn.execute(tables.assessments.update()
                         .where(tables.assessments.c.id == assessment_id)
                         .values(collection_regions=cleaned, updated_at=time.time()))
            log_change(conn, caller, assessment_id, "ASSESSMENT", access.assessment.name,
                       "UPDATE_METADATA")
            return cleaned

    def update_status(self, caller: Caller, assessment_id: str, status: str) -> dict:
        pending = []
        with self.store.write() as conn:
            access = assessment_access(conn, caller, assessment_id)
            access.require_owner()
            row = access.assessment
            if row.status == status:
                return self.describe(conn, caller, access)
            if row.status == "INACTIVE":
                raise ValidationError.field("status", "An INACTIVE assessment cannot be reactivated.")
            now = time.time()
            # INACTIVE is final: collection and uploads stop, review is closed.
            conn.execute(tables.assessments.update().where(tables.assessments.c.id == assessment_id)
                         .values(status="INACTIVE", updated_at=now))
            conn.execute(tables.assessment_control_sets.update()
                         .where(tables.assessment_control_sets.c.assessment_id == assessment_id)
                         .values(status="REVIEWED"))
            conn.execute(tables.assessment_controls.update()
                         .where(tables.assessment_controls.c.assessment_id == assessment_id,
                                tables.assessment_controls.c.status == "UNDER_REVIEW")
                         .values(status="REVIEWED"))
            conn.execute(tables.delegations.update()
                         .where(tables.delegations.c.assessment_id == assessment_id)
                         .values(status="COMPLETE", updated_at=now))
            log_change(conn, caller, assessment_id, "ASSESSMENT", row.name, "INACTIVE")
            recipients = {r["roleArn"] for r in self.roles(conn, assessment_id)}
            recipients |= set(conn.execute(
                sa.select(tables.delegations.c.role_arn)
                .where(tables.delegations.c.assessment_id == assessment_id)).scalars())
            pending = self.notifier.record(conn, recipients - {caller.arn}, row,
                                           f"Assessment {row.name} is now INACTIVE.")
            result = self.describe(conn, caller, assessment_access(conn, caller, assessment_id))
        self.notifier.publish(pending)
        return result

    def delete(self, caller: Caller, assessment_id: str) -> None:
        with self.store.write() as conn:
            access = assessment_access(conn, caller, assessment_id)
            access.require_owner()
            conn.execute(tables.assessments.update().where(tables.assessments.c.id == assessment_id)
                         .values(deleted_at=time.time()))
            conn.execute(tables.delegations.delete()
                         .where(tables.delegations.c.assessment_id == assessment_id))
            log_change(conn, caller, assessment_id, "ASSESSMENT", access.assessment.name, "DELETE")

    def kind_of(self, conn: sa.Connection, assessment_id: str) -> str | None:
        found = conn.execute(
            sa.select(tables.assessments.c.id).where(tables.assessments.c.id == assessment_id,
                                                     tables.assessments.c.deleted_at.is_(None))
        ).first()
        return "custom" if found else None

    def control_row(self, conn: sa.Connection, assessment_id: str, control_set_id: str,
                    control_id: str):
        row = conn.execute(sa.select(tables.assessment_controls).where(
            tables.assessment_controls.c.assessment_id == assessment_id,
            tables.assessment_controls.c.control_set_id == control_set_id,
            tables.assessment_controls.c.control_id == control_id)).first()
        if row is None:
            raise NotFoundError("control", control_id,
                                f"Control {control_id} is not in control set '{control_set_id}' "
                                f"of assessment {assessment_id}.")
        return row

    def control_set_row(self, conn: sa.Connection, assessment_id: str, control_set_id: str):
        row = conn.execute(sa.select(tables.assessment_control_sets).where(
            tables.assessment_control_sets.c.assessment_id == assessment_id,
            tables.assessment_control_sets.c.id == control_set_id)).first()
        if row is None:
            raise NotFoundError("controlSet", control_set_id)
        return row


def _clip(text: str | None, limit: int) -> str | None:
    """Shorten at a word boundary with an ellipsis, within ``limit`` characters."""
    if not text or len(text) <= limit:
        return text
    cut = text[:limit - 1].rsplit(" ", 1)[0].rstrip(" ,.;:")
    return cut + "…"
