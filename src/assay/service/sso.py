"""Who an OpenID Connect sign-in is: the ID token's claims mapped to an Assay principal (an
IAM-style role ARN, a name and a role) and a ``Caller``, by the settings' mapping.

``principal_from_claims`` is the one place that decides it, so the console's sign-in and any
later principal directory agree on the ARN an SSO user acts as.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..config import Settings
from .auth import ROLES, Caller, principal_caller
from .errors import AccessDeniedError

# Strongest first: a person in several mapped groups acts with the strongest role.
_STRENGTH = ("admin", "process-owner", "auditor", "delegate")
_NAME = re.compile(r"[^A-Za-z0-9+=,.@_-]")  # IAM role name characters


@dataclass(frozen=True)
class Principal:
    arn: str
    name: str
    role: str


def role_map(text: str) -> dict[str, str]:
    """``"group=role, group2=role"`` -> {group: role}. ValueError names a bad entry."""
    out = {}
    for entry in (e.strip() for e in (text or "").split(",")):
        if not entry:
            continue
        group, _, role = entry.rpartition("=")
        if not group or role.strip() not in ROLES:
            raise ValueError(f"oidc_roles: {entry!r} is not group=role with a role of "
                             f"{', '.join(ROLES)}")
        out[group.strip()] = role.strip()
    return out


def principal_from_claims(claims: dict, settings: Settings, arn_for) -> Principal:
    """The principal an ID token's (or userinfo's) claims sign in as. Raises AccessDeniedError
    when the principal claim is missing or no group of the person maps to a role. ``arn_for``
    (name -> ARN) is the key service's, so a person and an access key of the same name are one
    principal."""
    value = claims.get(settings.oidc_principal_claim)
    if not isinstance(value, str) or not value.strip():
        raise AccessDeniedError(f"The identity provider sent no '{settings.oidc_principal_claim}' "
                                "claim, so Assay cannot tell who you are.")
    value = value.strip()
    if value.startswith("arn:aws:iam::"):  # the provider names the IAM principal itself
        name = value.rsplit("/", 1)[-1][:64]
        arn = value
    else:
        name = _NAME.sub("-", value.split("@", 1)[0])[:64]
        arn = arn_for(name)
    groups = claims.get(settings.oidc_groups_claim) or []
    if isinstance(groups, str):
        groups = [groups]
    mapping = role_map(settings.oidc_roles)
    roles = {mapping[g] for g in groups if isinstance(g, str) and g in mapping}
    if not roles:
        raise AccessDeniedError(f"{value} is in no group that has an Assay role "
                                "(settings: oidc_roles). Ask an administrator.")
    role = next(r for r in _STRENGTH if r in roles)
    return Principal(arn, name, role)


def caller_for(principal: Principal, region: str) -> Caller:
    """The Caller an SSO principal acts as (no access key: ``key_id`` is empty), built as for
    any principal (``auth.principal_caller``)."""
    return principal_caller(principal.arn, principal.role, region, name=principal.name)
