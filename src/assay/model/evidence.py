"""Evidence as collectors see it, and the vocabulary Audit Manager uses for it.

A collector turns AWS responses into ``Observation``s: facts about one account and region,
independent of any assessment. The collection runner files each observation under every
assessment control whose source asks for that keyword, and the ledger appends the result.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

# evidenceByType values, as Audit Manager names them.
CONFIGURATION_DATA = "Configuration data"
COMPLIANCE_CHECK = "Compliance check"
USER_ACTIVITY = "User activity"
MANUAL = "Manual"

# complianceCheck values collectors produce, and how insights count them.
COMPLIANT_RESULTS = frozenset({"COMPLIANT", "PASSED"})
NONCOMPLIANT_RESULTS = frozenset({"NON_COMPLIANT", "FAILED"})
# Every evidence item carries a complianceCheck. Where no check applies (API calls, CloudTrail,
# manual evidence, a Config NOT_APPLICABLE evaluation, a Security Hub finding without a status)
# it is NOT_APPLICABLE: the Audit Manager API reference (Evidence.complianceCheck,
# EvidenceInsights.inconclusiveEvidenceCount) says evidence whose compliance check is "not
# applicable" counts as inconclusive, and AWS-authored tooling compares the field with this value.
NOT_APPLICABLE = "NOT_APPLICABLE"
# Anything else (NOT_APPLICABLE, WARNING, NOT_AVAILABLE) counts as inconclusive.


# Audit Manager's limits on evidence attributes (botocore auditmanager model, Evidence.attributes).
ATTRIBUTE_KEY_MAX = 100
ATTRIBUTE_VALUE_MAX = 200
CLOUDTRAIL = "AWS_Cloudtrail"


def compliance_bucket(result: str | None) -> str:
    """'compliant' | 'noncompliant' | 'inconclusive', the three counts of EvidenceInsights."""
    if result in COMPLIANT_RESULTS:
        return "compliant"
    if result in NONCOMPLIANT_RESULTS:
        return "noncompliant"
    return "inconclusive"


# Fields of a resource's JSON value that name it, in the order people read them: AWS Config
# evaluation fields, Security Hub (ASFF) resource fields, Assay's own older shape.
_TYPE_FIELDS = ("complianceResourceType", "resourceType", "Type", "type")
_ID_FIELDS = ("complianceResourceId", "resourceId", "Id", "id", "name", "Name")


def describe_resource(resource: dict[str, Any]) -> str:
    """A ``resourcesIncluded`` entry (``{"arn", "value", "complianceCheck"}``) as people read
    it: ``"AWS::S3::Bucket demo-logs"`` from the value's type and id fields, else its ARN, else
    the value itself (which may be free text). Never raises."""
    import json

    value = resource.get("value")
    fields: dict[str, Any] = {}
    if isinstance(value, str) and value.startswith("{"):
        try:
            fields = json.loads(value)
        except ValueError:
            fields = {}
    elif isinstance(value, dict):
        fields = value
    kind = next((str(fields[k]) for k in _TYPE_FIELDS if fields.get(k)), "")
    ident = next((str(fields[k]) for k in _ID_FIELDS if fields.get(k)), "")
    if ident:
        return f"{kind} {ident}".strip()
    return resource.get("arn") or (value if isinstance(value, str) else "") or kind


@dataclass(slots=True)
class Observation:
    """One evidence item as read from AWS, before it is filed under an assessment control.
    Treated as immutable; not a frozen dataclass because one is built per event ingested, and
    a frozen dataclass pays an ``object.__setattr__`` per field."""

    source_type: str          # AWS_Config | AWS_Security_Hub | AWS_Cloudtrail | AWS_API_Call
    keyword: str              # the control mapping source's keyword that asked for it
    account_id: str           # the account the evidence is about (evidenceAwsAccountId)
    region: str
    # The source's own identity for what was observed: CloudTrail event id; Security Hub finding
    # id + its UpdatedAt; Config rule + resource + result recorded time; API call + resource key.
    # With the collection day it makes the evidence id deterministic, so re-runs add nothing.
    identity: str
    time: float               # epoch seconds the fact is about (event, evaluation, snapshot)
    event_source: str         # AWS service, e.g. "iam.amazonaws.com" (AWSServiceName, <= 40 chars)
    event_name: str           # e.g. "ListUsers", "ConsoleLogin", the rule or control id
    evidence_by_type: str     # one of the constants above
    # COMPLIANT | NON_COMPLIANT (Config), PASSED | FAILED | WARNING (Security Hub), NOT_APPLICABLE
    compliance_check: str = NOT_APPLICABLE
    iam_id: str | None = None             # who did it (CloudTrail userIdentity ARN)
    resources: tuple[dict[str, str], ...] = ()  # {"arn", "value", "complianceCheck"}
    attributes: dict[str, str] = field(default_factory=dict)  # key facts, keys <=100, values <=200
    payload: dict[str, Any] = field(default_factory=dict)     # the raw AWS data, kept as a blob


def iso(value: dt.datetime | dt.date) -> str:
    """ISO 8601, UTC with a Z for datetimes (naive datetimes are taken as UTC)."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")
    return value.isoformat()


def truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - 1] + "\u2026"


def scalar_text(value: Any) -> str | None:
    """A scalar as attribute text, or None for anything structured."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return iso(value)
    return None


def clean_attributes(pairs: Iterable[tuple[str, Any]]) -> dict[str, str]:
    """Named facts, skipping empty ones, cut to Audit Manager's limits."""
    out: dict[str, str] = {}
    for key, value in pairs:
        if value is None:
            continue
        text = value if type(value) is str else scalar_text(value)
        if not text:
            continue
        if len(key) > ATTRIBUTE_KEY_MAX:
            key = truncate(key, ATTRIBUTE_KEY_MAX)
        out[key] = text if len(text) <= ATTRIBUTE_VALUE_MAX else truncate(text, ATTRIBUTE_VALUE_MAX)
    return out


def cloudtrail_attributes(event: dict[str, Any]) -> dict[str, str]:
    """The key facts (Evidence ``attributes``) of one CloudTrail event record, as in log files
    and LookupEvents' CloudTrailEvent: when, where from, with what result, and who."""
    who = event.get("userIdentity")
    who = who if isinstance(who, dict) else {}
    context = who.get("sessionContext")
    issuer = (context.get("sessionIssuer") if isinstance(context, dict) else None)
    issuer = issuer if isinstance(issuer, dict) else {}
    return clean_attributes([
        ("eventTime", event.get("eventTime")),
        ("awsRegion", event.get("awsRegion")),
        ("sourceIPAddress", event.get("sourceIPAddress")),
        ("userAgent", event.get("userAgent")),
        ("errorCode", event.get("errorCode")),
        ("errorMessage", event.get("errorMessage")),
        ("eventType", event.get("eventType")),
        ("eventCategory", event.get("eventCategory")),
        ("readOnly", event.get("readOnly")),
        ("recipientAccountId", event.get("recipientAccountId")),
        ("userIdentity.type", who.get("type")),
        ("userIdentity.arn", who.get("arn")),
        ("userIdentity.accountId", who.get("accountId")),
        ("userIdentity.userName", who.get("userName")),
        ("userIdentity.invokedBy", who.get("invokedBy")),
        ("sessionIssuer.arn", issuer.get("arn")),
    ])


def evidence_attributes(record: dict[str, Any]) -> dict[str, str]:
    """The ``attributes`` of a ledger record, as GetEvidence and every other reader shows them.

    Records that carry ``attributes`` answer with them as stored (every record filed before
    CloudTrail records were stored once, and every non-CloudTrail record). CloudTrail records
    are stored without them: the event is kept once, as ``payload``, and its attributes are
    derived from it here, by the same rule the collector applied before (``cloudtrail_attributes``)."""
    attributes = record.get("attributes")
    if attributes is not None:
        return attributes if isinstance(attributes, dict) else {}
    payload = record.get("payload")
    if record.get("sourceType") == CLOUDTRAIL and isinstance(payload, dict):
        return cloudtrail_attributes(payload)
    return {}


class SourceUnavailable(Exception):
    """The source cannot produce evidence in this account and region, for a reason the user can
    fix: a Config rule that is not deployed, Security Hub not enabled, an unknown operation.
    Recorded against the control, account and region, never swallowed."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message
