"""Audit Manager ARNs. Resources are one library across regions; an ARN carries the region
the caller signed for, so the same control reads back with the caller's region in its ARN."""

from __future__ import annotations

import re

from .errors import ValidationError

# The resource types Assay issues ARNs for, as Audit Manager spells them.
KINDS = ("control", "assessmentFramework", "assessment", "assessmentControlSet")
_ARN_RE = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):auditmanager:(?P<region>[a-z0-9-]*):(?P<account>\d{12}):"
    r"(?P<kind>[A-Za-z]+)/(?P<id>[A-Za-z0-9-]+)$"
)


def arn(region: str, account_id: str, kind: str, resource_id: str) -> str:
    return f"arn:aws:auditmanager:{region}:{account_id}:{kind}/{resource_id}"


def parse(value: str, field: str = "resourceArn") -> tuple[str, str]:
    """Return (kind, id) of an Assay ARN, or raise a ValidationError naming the field."""
    found = _ARN_RE.match(value)
    if not found or found["kind"] not in KINDS:
        raise ValidationError.field(
            field, f"'{value}' is not the ARN of an Audit Manager control, framework or assessment."
        )
    return found["kind"], found["id"]
