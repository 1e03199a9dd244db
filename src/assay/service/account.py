"""The account surface: registration, the delegated administrator, settings, keywords and the
services in scope. Settings are one JSON document; every attribute of the model persists."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any, Callable

import sqlalchemy as sa

from ..library import keywords as catalogue
from ..library.services import services_in_scope
from ..store import Store, tables
from . import paging
from .access_cache import AccessCache
from .auth import READ_LIBRARY, READ_SETTINGS, WRITE_SETTINGS, Caller
from .errors import AccessDeniedError, ValidationError
from .instance import get_document, put_document

# GetSettings' attribute -> the Settings member it returns.
SETTING_ATTRIBUTES = {
    "IS_AWS_ORG_ENABLED": "isAwsOrgEnabled",
    "SNS_TOPIC": "snsTopic",
    "DEFAULT_ASSESSMENT_REPORTS_DESTINATION": "defaultAssessmentReportsDestination",
    "DEFAULT_PROCESS_OWNERS": "defaultProcessOwners",
    "EVIDENCE_FINDER_ENABLEMENT": "evidenceFinderEnablement",
    "DEREGISTRATION_POLICY": "deregistrationPolicy",
    "DEFAULT_EXPORT_DESTINATION": "defaultExportDestination",
}
_DEFAULT_SETTINGS = {
    "kmsKey": "DEFAULT",
    "deregistrationPolicy": {"deleteResources": "DEFAULT"},
    "evidenceFinderEnablement": {"enablementStatus": "DISABLED"},
}



@dataclass(frozen=True)
class Organization:
    """The AWS Organization of Assay's own AWS credentials: its id (``o-...``), its management
    account and the ids of every account in it (the management account included)."""

    id: str
    management_account_id: str
    account_ids: frozenset[str]


# Callback that reads the AWS Organization of this instance's own AWS credentials (None when
# they are not in one).
OrganizationLookup = Callable[[], Organization | None]


class AccountService:
    def __init__(self, store: Store, principal_problem: Callable[[str], str | None],
                 cache: AccessCache, organization_lookup: OrganizationLookup | None = None):
        self.store = store
        self.cache = cache  # the status every request checks; see AccessCache
        self.principal_problem = principal_problem  # keys.principal_problem
        self.organization_lookup = organization_lookup or (lambda: None)
        # Custom-content deleters run when an account deregisters with deleteResources=ALL.
        self.on_delete_all: list[Callable[[sa.Connection], None]] = []
        self.finder = None  # the FinderService: evidenceFinderEnabled switches it

    # -- status -------------------------------------------------------------------------

    def status(self, conn: sa.Connection) -> str:
        # Assay needs no enrolment: an instance is ACTIVE until it is deregistered.
        return (get_document(conn, "account") or {}).get("status", "ACTIVE")

    def get_status(self, caller: Caller) -> str:
        caller.require(READ_SETTINGS)
        with self.store.read() as conn:
            return self.status(conn)

    def require_active(self) -> None:
        with self.store.read() as conn:
            if self.cache.get(conn, "account status", self.status) != "ACTIVE":
                raise AccessDeniedError(
                    "This Assay account is deregistered. Call RegisterAccount to use it again.")

    def register(self, caller: Caller, kms_key: str | None, admin_account: str | None) -> str:
        caller.require(WRITE_SETTINGS)
        if kms_key:
            _check_kms_key(kms_key)
        with self.store.write() as conn:
            put_document(conn, "account", {"status": "ACTIVE"})
            self.cache.changed(conn)
            if kms_key:
                settings = self._settings(conn)
                settings["kmsKey"] = kms_key
                put_document(conn, "settings", settings)
            if admin_account:
                self._put_admin(conn, admin_account)
            return "ACTIVE"

    def deregister(self, caller: Caller) -> str:
        caller.require(WRITE_SETTINGS)
        with self.store.write() as conn:
            policy = self._settings(conn)["deregistrationPolicy"].get("deleteResources")
            if policy == "ALL":
                for delete in self.on_delete_all:
                    delete(conn)
            put_document(conn, "account", {"status": "INACTIVE"})
            self.cache.changed(conn)
            return "INACTIVE"

    # -- delegated administrator ----------------------------------------------------------

    def register_admin(self, caller: Caller, admin_account: str) -> dict[str, Any]:
        """RegisterOrganizationAdminAccount. The account must be a member of the organization of
        Assay's AWS credentials other than its management account ("Enables an AWS account
        within the organization as the delegated administrator", API reference). Registering
        the current administrator again changes nothing; registering another one while one is
        registered is refused: AWS changes the delegated administrator in two steps, remove the
        current one and then add the new one (user guide, "Changing a delegated
        administrator"). Raises ValidationError naming ``adminAccountId``."""
        caller.require(WRITE_SETTINGS)
        with self.store.write() as conn:
            return self._put_admin(conn, admin_account)

    def get_admin(self, caller: Caller) -> dict[str, Any]:
        caller.require(READ_SETTINGS)
        with self.store.read() as conn:
            return get_document(conn, "organization_admin") or {}

    def deregister_admin(self, caller: Caller, admin_account: str | None) -> None:
        caller.require(WRITE_SETTINGS)
        with self.store.write() as conn:
            current = get_document(conn, "organization_admin") or {}
            if not current:
                raise ValidationError.field("adminAccountId",
                                            "No delegated administrator is registered.")
            if admin_account and admin_account != current["adminAccountId"]:
                raise ValidationError.field(
                    "adminAccountId",
                    f"{admin_account} is not the delegated administrator "
                    f"({current['adminAccountId']} is).")
            put_document(conn, "organization_admin", {})

    def _put_admin(self, conn: sa.Connection, admin_account: str) -> dict[str, Any]:
        current = get_document(conn, "organization_admin") or {}
        if current.get("adminAccountId") == admin_account:
            return current
        if current:
            raise ValidationError.field(
                "adminAccountId",
                f"{current['adminAccountId']} is the delegated administrator. Changing it takes "
                f"two steps, as in Audit Manager: DeregisterOrganizationAdminAccount for "
                f"{current['adminAccountId']}, then RegisterOrganizationAdminAccount for "
                f"{admin_account}.")
        organization = self.organization_lookup()
        if organization is None:
            raise ValidationError.field(
                "adminAccountId",
                f"{admin_account} cannot be the delegated administrator: Assay's AWS credentials "
                "are not in an AWS Organization (organizations:DescribeOrganization failed). "
                "Run Assay with credentials of the organization's management account.")
        if admin_account == organization.management_account_id:
            raise ValidationError.field(
                "adminAccountId",
                f"{admin_account} is the management account of {organization.id}; the delegated "
                "administrator must be a member account.")
        if admin_account not in organization.account_ids:
            raise ValidationError.field(
                "adminAccountId", f"{admin_account} is not a member of organization "
                                  f"{organization.id}.")
        document = {"adminAccountId": admin_account, "organizationId": organization.id}
        put_document(conn, "organization_admin", document)
        return document

    # -- settings -------------------------------------------------------------------------

    def get_settings(self, caller: Caller, attribute: str) -> dict[str, Any]:
        caller.require(READ_SETTINGS)
        if self.finder is not None:
            self.finder.resume_if_stalled()
        with self.store.read() as conn:
            settings = self._settings(conn)
        if attribute == "ALL":
            return settings
        member = SETTING_ATTRIBUTES[attribute]
        return {member: settings[member]} if member in settings else {}

    def update_settings(self, caller: Caller, params: dict[str, Any]) -> dict[str, Any]:
        caller.require(WRITE_SETTINGS)
        if "kmsKey" in params:
            _check_kms_key(params["kmsKey"])
        with self.store.write() as conn:
            settings = self._settings(conn)
            settings.pop("isAwsOrgEnabled", None)
            if "snsTopic" in params:
                if params["snsTopic"] == "NONE":
                    settings.pop("snsTopic", None)
                else:
                    # The output shape's pattern describes a topic name, but Audit Manager
                    # returns the ARN it was given, and so do we.
                    settings["snsTopic"] = params["snsTopic"]
            if "defaultProcessOwners" in params:
                problems = [
                    {"name": f"defaultProcessOwners[{i}].roleArn", "message": problem}
                    for i, role in enumerate(params["defaultProcessOwners"])
                    if (problem := self.principal_problem(role["roleArn"]))
                ]
                if problems:
                    raise ValidationError.for_fields(problems)
                settings["defaultProcessOwners"] = params["defaultProcessOwners"]
            for member in ("defaultAssessmentReportsDestination", "kmsKey",
                           "deregistrationPolicy", "defaultExportDestination"):
                if member in params:
                    settings[member] = params[member]
            if "evidenceFinderEnabled" in params:
                settings["evidenceFinderEnablement"] = self.finder.switch(
                    conn, params["evidenceFinderEnabled"], settings["evidenceFinderEnablement"])
            put_document(conn, "settings", settings)
            result = self._settings(conn)
        if "evidenceFinderEnabled" in params:
            enablement = result["evidenceFinderEnablement"]
            self.store.after_commit(lambda: self.finder.after_switch(enablement))
        return result

    def settings_document(self, conn: sa.Connection) -> dict[str, Any]:
        """Settings for other services (default process owners, report destination)."""
        return self._settings(conn)

    def _settings(self, conn: sa.Connection) -> dict[str, Any]:
        settings = {**_DEFAULT_SETTINGS, **(get_document(conn, "settings") or {})}
        settings["isAwsOrgEnabled"] = bool(get_document(conn, "organization_admin"))
        return settings

    # -- catalogues -------------------------------------------------------------------------

    def keywords(self, caller: Caller, source: str, token: str | None,
                 max_results: int | None) -> tuple[list[str], str | None]:
        caller.require(READ_LIBRARY)
        items = catalogue.keywords(source) if source in catalogue.SOURCE_TYPES else []
        return paging.page(items, token, max_results, f"keywords:{source}")

    def services(self, caller: Caller) -> list[dict[str, str]]:
        caller.require(READ_LIBRARY)
        return services_in_scope()


_KMS_KEY = re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)/[\w/+=,.@-]+$")


def _check_kms_key(value: str) -> None:
    """``kmsKey`` is DEFAULT or the ARN of a KMS key or alias: what S3 takes as SSEKMSKeyId for
    the reports Assay writes to S3 destinations (its only use; Assay's own stores do not use
    it). Raises ValidationError naming ``kmsKey``."""
    if value != "DEFAULT" and not _KMS_KEY.match(value):
        raise ValidationError.field(
            "kmsKey", f"{value} is not DEFAULT or a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID "
                      "or ...:alias/NAME); Assay uses it to encrypt the reports it writes to S3.")


def delete_all_custom_content(conn: sa.Connection) -> None:
    """deleteResources=ALL: "all of the Audit Manager resources that you created, including
    assessments, custom controls, and custom frameworks" (API reference, DeregistrationPolicy)
    go with the account: assessments are deleted as DeleteAssessment deletes them (with their
    delegations and tags), custom controls and frameworks are removed. Evidence records stay in
    the append-only ledger, whose hash chain and seals prove nothing was removed; they are
    unreachable through the API once their assessment is deleted."""
    a = tables.assessments
    live = sa.select(a.c.id).where(a.c.deleted_at.is_(None))
    conn.execute(tables.delegations.delete().where(tables.delegations.c.assessment_id.in_(live)))
    conn.execute(tables.tags.delete().where(tables.tags.c.resource_id.in_(live)))
    conn.execute(a.update().where(a.c.deleted_at.is_(None)).values(deleted_at=time.time()))
    for table in (tables.controls, tables.frameworks):
        conn.execute(tables.tags.delete().where(
            tables.tags.c.resource_id.in_(sa.select(table.c.id))))
    for table in (tables.framework_controls, tables.frameworks, tables.controls,
                  tables.control_history):
        conn.execute(table.delete())
