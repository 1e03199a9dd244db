"""Who may do what. Roles are Audit Manager's personas; the service layer is the only place
that checks them, so the API and the console enforce exactly the same rules."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import AccessDeniedError, ValidationError

ROLES = ("admin", "process-owner", "delegate", "auditor")

# Actions, by area. A delegate's assessment rights are further narrowed to the control sets
# delegated to it by the assessment service.
READ_LIBRARY = "library:read"
WRITE_LIBRARY = "library:write"
READ_SETTINGS = "settings:read"
WRITE_SETTINGS = "settings:write"
MANAGE_KEYS = "keys:manage"
CREATE_ASSESSMENT = "assessment:create"
READ_ASSESSMENT = "assessment:read"
MANAGE_ASSESSMENT = "assessment:manage"
REVIEW_ASSESSMENT = "assessment:review"
IMPORT_EVIDENCE = "evidence:import"
READ_REPORTS = "report:read"
WRITE_REPORTS = "report:write"
SHARE_FRAMEWORKS = "framework:share"

_GRANTS: dict[str, frozenset[str]] = {
    "admin": frozenset({"*"}),
    "process-owner": frozenset({
        READ_LIBRARY, WRITE_LIBRARY, READ_SETTINGS, CREATE_ASSESSMENT, READ_ASSESSMENT,
        MANAGE_ASSESSMENT, REVIEW_ASSESSMENT, IMPORT_EVIDENCE, READ_REPORTS, WRITE_REPORTS,
        SHARE_FRAMEWORKS,
    }),
    "delegate": frozenset({
        READ_LIBRARY, READ_SETTINGS, READ_ASSESSMENT, REVIEW_ASSESSMENT, IMPORT_EVIDENCE,
    }),
    "auditor": frozenset({READ_LIBRARY, READ_SETTINGS, READ_ASSESSMENT, READ_REPORTS}),
}


@dataclass(frozen=True)
class Caller:
    """An authenticated identity seen from one region: a principal (``arn``, an IAM-style role
    or user ARN, what assessment roles and delegations name) acting with one of the roles
    above. ``key_id`` is the access key that signed ("" for the console's SSO sign-in and the
    instance itself); ``name`` is what change logs and notifications show."""

    key_id: str
    name: str
    role: str
    arn: str
    region: str

    def can(self, action: str) -> bool:
        grants = _GRANTS.get(self.role, frozenset())
        return "*" in grants or action in grants

    def require(self, action: str) -> None:
        if not self.can(action):
            raise AccessDeniedError(
                f"{self.arn} (role {self.role}) is not authorized to perform {action}."
            )


def principal_caller(arn: str, role: str, region: str, name: str | None = None,
                     key_id: str = "") -> Caller:
    """The Caller for a principal ARN acting with ``role``: what an access key resolves to,
    and what a sign-in that maps its claims to a principal and a role (SSO) builds. ``name``
    defaults to the principal's own name (the ARN's last path segment). The ARN is taken as
    given: check it with ``keys.principal_problem`` when it comes from outside. Raises
    ValidationError for a role that is not one of ROLES."""
    if role not in ROLES:
        raise ValidationError.field("role", f"Role must be one of {', '.join(ROLES)}.")
    return Caller(key_id=key_id, name=name or arn.rsplit("/", 1)[-1], role=role, arn=arn,
                  region=region)


def system_caller(region: str, account_id: str) -> Caller:
    """The instance itself: loading the library, scheduled collection, the CLI on the host."""
    return Caller(key_id="", name="assay", role="admin",
                  arn=f"arn:aws:iam::{account_id}:role/assay", region=region)
