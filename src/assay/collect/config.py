"""AWS_Config: per-resource evaluations of the Config rules that implement a keyword.

Keyword: a managed rule identifier (``IAM_PASSWORD_POLICY``) or ``Custom_<rule name>``.
A managed identifier matches every rule in the account and region whose source is that
managed rule (``Source.Owner == "AWS"`` and ``Source.SourceIdentifier == keyword``), whatever
its name: rules created by hand, by conformance packs (``<name>-conformance-pack-<suffix>``) or
by Security Hub (``securityhub-<name>-<suffix>``). ``Custom_<name>`` matches the rule named
``<name>``. Each evaluation of each matched rule is one observation ("Compliance check").

Config keeps only the latest evaluation per rule and resource, so ``since`` does not filter:
every run reads the current state, and the identity (rule, resource, recorded time) keeps a
re-read evaluation from becoming new evidence.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from botocore.exceptions import ClientError

from assay.model.evidence import (COMPLIANCE_CHECK, NOT_APPLICABLE, Observation, SourceUnavailable,
                                  clean_attributes, iso)

from .base import Target, clip_event_name, epoch, json_safe, resource

SOURCE_TYPE = "AWS_Config"
CUSTOM_PREFIX = "Custom_"
EVENT_SOURCE = "config.amazonaws.com"
DEFAULT_COMPLIANCE_TYPES = ("COMPLIANT", "NON_COMPLIANT")
_GONE_STATES = {"DELETING", "DELETING_RESULTS", "DELETE_FAILED"}

# Config resource types whose resource id is enough to build the ARN. (IAM resource ids are
# unique ids such as AIDA..., not names, so IAM resources keep their id only.)
_ARN_TEMPLATES = {
    "AWS::S3::Bucket": "arn:{p}:s3:::{id}",
    "AWS::EC2::Instance": "arn:{p}:ec2:{r}:{a}:instance/{id}",
    "AWS::EC2::SecurityGroup": "arn:{p}:ec2:{r}:{a}:security-group/{id}",
    "AWS::EC2::Volume": "arn:{p}:ec2:{r}:{a}:volume/{id}",
    "AWS::EC2::VPC": "arn:{p}:ec2:{r}:{a}:vpc/{id}",
    "AWS::EC2::Subnet": "arn:{p}:ec2:{r}:{a}:subnet/{id}",
    "AWS::EC2::NetworkInterface": "arn:{p}:ec2:{r}:{a}:network-interface/{id}",
    "AWS::EC2::NetworkAcl": "arn:{p}:ec2:{r}:{a}:network-acl/{id}",
    "AWS::EC2::RouteTable": "arn:{p}:ec2:{r}:{a}:route-table/{id}",
    "AWS::EC2::InternetGateway": "arn:{p}:ec2:{r}:{a}:internet-gateway/{id}",
    "AWS::EC2::NatGateway": "arn:{p}:ec2:{r}:{a}:natgateway/{id}",
    "AWS::EC2::EIP": "arn:{p}:ec2:{r}:{a}:elastic-ip/{id}",
    "AWS::Lambda::Function": "arn:{p}:lambda:{r}:{a}:function:{id}",
    "AWS::DynamoDB::Table": "arn:{p}:dynamodb:{r}:{a}:table/{id}",
    "AWS::KMS::Key": "arn:{p}:kms:{r}:{a}:key/{id}",
}


def resource_arn(target: Target, resource_type: str, resource_id: str) -> str | None:
    """The ARN of an evaluated resource, when its type and id are enough to build it."""
    if resource_id.startswith("arn:"):
        return resource_id
    template = _ARN_TEMPLATES.get(resource_type)
    if template is None or "/" in resource_id or ":" in resource_id:
        return None
    return template.format(p=target.partition, r=target.region, a=target.account_id,
                           id=resource_id)


def list_rules(target: Target) -> list[dict[str, Any]]:
    """Every Config rule in the account and region (DescribeConfigRules, all pages). The runner
    may call this once and pass ``rules=`` to ``observe`` for each keyword."""
    client = target.client("config")
    rules: list[dict[str, Any]] = []
    for page in client.get_paginator("describe_config_rules").paginate():
        rules.extend(page.get("ConfigRules") or ())
    return rules


def matching_rules(keyword: str, rules: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rules that implement ``keyword``, skipping rules being deleted."""
    if keyword.startswith(CUSTOM_PREFIX):
        name = keyword[len(CUSTOM_PREFIX):]
        found = [r for r in rules if r.get("ConfigRuleName") == name]
    else:
        found = [r for r in rules
                 if (r.get("Source") or {}).get("Owner") == "AWS"
                 and (r.get("Source") or {}).get("SourceIdentifier") == keyword]
    return [r for r in found if r.get("ConfigRuleState") not in _GONE_STATES]


def observe(target: Target, keyword: str, *, since: float | None = None, now: float,
            rules: list[dict[str, Any]] | None = None,
            compliance_types: Iterable[str] = DEFAULT_COMPLIANCE_TYPES,
            page_size: int | None = None, **_options: Any) -> Iterator[Observation]:
    """One observation per evaluation (COMPLIANT and NON_COMPLIANT by default; pass
    ``compliance_types`` to add NOT_APPLICABLE) of every rule implementing ``keyword``.

    Raises SourceUnavailable("ConfigRuleNotFound") if no rule in the account and region
    implements the keyword (AWS Config not set up counts: it has no rules either).
    """
    if not keyword:
        raise SourceUnavailable("ConfigRuleNotFound", "empty AWS Config keyword")
    found = matching_rules(keyword, list_rules(target) if rules is None else rules)
    if not found:
        raise SourceUnavailable(
            "ConfigRuleNotFound",
            f"no AWS Config rule uses {keyword} in account {target.account_id} "
            f"region {target.region}")
    client = target.client("config")
    types = list(compliance_types)
    for rule in found:
        yield from _evaluations(target, client, keyword, rule, types, page_size)


def _evaluations(target: Target, client: Any, keyword: str, rule: dict[str, Any],
                 types: list[str], page_size: int | None) -> Iterator[Observation]:
    name = rule["ConfigRuleName"]
    config: dict[str, Any] = {}
    if page_size:
        config["PageSize"] = page_size
    paginator = client.get_paginator("get_compliance_details_by_config_rule")
    try:
        for page in paginator.paginate(ConfigRuleName=name, ComplianceTypes=types,
                                       PaginationConfig=config):
            for result in page.get("EvaluationResults") or ():
                yield _observation(target, keyword, rule, result)
    except ClientError as exc:
        # Deleted between DescribeConfigRules and now: nothing left to read for it.
        if exc.response.get("Error", {}).get("Code") != "NoSuchConfigRuleException":
            raise


def evaluation_value(rule_name: str, resource_type: str, resource_id: str,
                     result: dict[str, Any]) -> dict[str, Any]:
    """``resourcesIncluded[].value`` of Config evidence: the evaluation as AWS Config's
    ``Evaluation`` names its members (complianceResourceType, complianceResourceId,
    complianceType, annotation, orderingTimestamp; AWS Config API Reference, Evaluation), plus
    the rule that made it. Tools written against Audit Manager read these fields from the value
    and skip items whose complianceType is missing or NOT_APPLICABLE."""
    ordering = ((result.get("EvaluationResultIdentifier") or {}).get("OrderingTimestamp")
                or result.get("ResultRecordedTime"))
    value = {"complianceResourceType": resource_type, "complianceResourceId": resource_id,
             "complianceType": result.get("ComplianceType"),
             "annotation": result.get("Annotation"),
             "orderingTimestamp": iso(ordering) if hasattr(ordering, "isoformat") else ordering,
             "configRuleName": rule_name}
    return {k: v for k, v in value.items() if v is not None}


def _observation(target: Target, keyword: str, rule: dict[str, Any],
                 result: dict[str, Any]) -> Observation:
    ident = result.get("EvaluationResultIdentifier") or {}
    qualifier = ident.get("EvaluationResultQualifier") or {}
    rule_name = qualifier.get("ConfigRuleName") or rule["ConfigRuleName"]
    resource_type = qualifier.get("ResourceType") or ""
    resource_id = qualifier.get("ResourceId") or ""
    compliance = result.get("ComplianceType")
    recorded = result.get("ResultRecordedTime") or ident.get("OrderingTimestamp")
    recorded_iso = iso(recorded) if hasattr(recorded, "isoformat") else str(recorded or "")
    arn = resource_arn(target, resource_type, resource_id) if resource_id else None
    check = compliance if compliance in ("COMPLIANT", "NON_COMPLIANT") else NOT_APPLICABLE
    source = rule.get("Source") or {}
    return Observation(
        source_type=SOURCE_TYPE,
        keyword=keyword,
        account_id=target.account_id,
        region=target.region,
        identity=f"{rule_name}|{resource_type}|{resource_id}|{recorded_iso}",
        time=epoch(recorded) if recorded is not None else 0.0,
        event_source=EVENT_SOURCE,
        event_name=clip_event_name(rule_name),
        evidence_by_type=COMPLIANCE_CHECK,
        compliance_check=check,
        resources=(resource(arn, evaluation_value(rule_name, resource_type, resource_id, result),
                            check),),
        attributes=clean_attributes([
            ("configRuleName", rule_name),
            ("configRuleArn", rule.get("ConfigRuleArn")),
            ("sourceIdentifier", source.get("SourceIdentifier")),
            ("createdBy", rule.get("CreatedBy")),
            ("resourceType", resource_type),
            ("resourceId", resource_id),
            ("complianceType", compliance),
            ("annotation", result.get("Annotation")),
            ("evaluationMode", qualifier.get("EvaluationMode")),
            ("configRuleInvokedTime", result.get("ConfigRuleInvokedTime")),
            ("resultRecordedTime", recorded),
        ]),
        payload={
            "evaluationResult": json_safe(result),
            "configRule": json_safe({k: rule[k] for k in (
                "ConfigRuleName", "ConfigRuleArn", "ConfigRuleId", "Source", "Scope",
                "InputParameters", "CreatedBy", "ConfigRuleState") if k in rule}),
        },
    )
