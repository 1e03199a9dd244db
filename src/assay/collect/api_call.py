"""AWS_API_Call: a configuration snapshot from one read-only AWS API operation.

Keyword ``<boto3 client>_<Operation>``, e.g. ``iam_ListUsers``. The operation is called without
parameters, every page is read, and each resource the response lists becomes one observation
("Configuration data"). The list is found from the service model: the paginator's result keys,
else the output's top-level lists (of structures, else of scalars). A response without a list
(``iam GetAccountPasswordPolicy``) is one observation of the whole response.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from botocore.exceptions import ClientError, PaginationError, UnknownServiceError

from assay.library.keywords import api_call_target
from assay.model.evidence import CONFIGURATION_DATA, Observation, SourceUnavailable, truncate
from assay.model.sdk import data_session

from .base import (
    Target,
    attributes_of,
    clip_event_name,
    digest,
    event_source,
    json_safe,
    resource,
    valid_arn,
)

SOURCE_TYPE = "AWS_API_Call"
READ_ONLY_PREFIXES = ("List", "Describe", "Get")
# Read-only by name, but they hand out secrets or credentials: never evidence.
SENSITIVE = re.compile(
    r"(SecretValue|Decrypted|AuthorizationToken|SessionToken|FederationToken|WebIdentityToken"
    r"|Credentials?$|PasswordData|PlaintextKey|DataKey)")
# AWS's "there is nothing there" answers (no password policy, no credential report generated,
# not in an organization, Security Hub off, ...): the user can fix them, so they are
# SourceUnavailable, not failures.
_NOT_THERE = re.compile(
    r"^(NoSuch|NotFound)|NotFound(Exception|Fault)?$|^ResourceNotFound|^ReportNotPresent$"
    r"|^ReportExpired$|^AWSOrganizationsNotInUseException$|^InvalidAccessException$")
# Manual paging: (output token member, input token member).
_TOKEN_PAIRS = (
    ("NextToken", "NextToken"), ("nextToken", "nextToken"), ("NextMarker", "Marker"),
    ("Marker", "Marker"), ("NextPageToken", "PageToken"), ("nextPageToken", "pageToken"),
    ("NextContinuationToken", "ContinuationToken"),
)
_PAGE_TOKEN_NAMES = {out for out, _ in _TOKEN_PAIRS} | {"IsTruncated", "ContinuationToken"}
_MAX_PAGES = 100_000  # a guard against a service that keeps returning a token


def resolve(keyword: str) -> tuple[str, str]:
    """(boto3 client name, operation) of a keyword, refusing unknown and non-read-only ones."""
    try:
        service, operation = api_call_target(keyword)
    except KeyError:
        raise SourceUnavailable("UnknownOperation",
                                f"{keyword!r} is not a known AWS_API_Call keyword") from None
    if not operation.startswith(READ_ONLY_PREFIXES):
        raise SourceUnavailable("OperationNotReadOnly",
                                f"{keyword}: only List, Describe and Get operations are called")
    if operation.startswith("Get") and SENSITIVE.search(operation):
        raise SourceUnavailable("OperationNotAllowed",
                                f"{keyword}: {operation} returns secrets or credentials")
    return service, operation


# IAM service prefixes that differ from the service's signing name, and IAM actions that differ
# from the operation's name.
_IAM_PREFIX = {"monitoring": "cloudwatch", "tagging": "tag"}
_IAM_ACTION = {"s3_ListBuckets": "s3:ListAllMyBuckets"}


def iam_action(keyword: str) -> str:
    """The IAM action an API_Call keyword needs, e.g. ``iam:ListUsers``,
    ``cloudwatch:DescribeAlarms``, ``s3:ListAllMyBuckets`` (for the role policy and for saying
    what to grant when a call is denied)."""
    service, operation = resolve(keyword)
    if keyword in _IAM_ACTION:
        return _IAM_ACTION[keyword]
    try:
        model = data_session().get_service_model(service)
    except UnknownServiceError:
        raise SourceUnavailable("UnknownOperation",
                                f"{keyword}: boto3 has no client {service!r}") from None
    prefix = model.signing_name or model.endpoint_prefix
    return f"{_IAM_PREFIX.get(prefix, prefix)}:{operation}"


@functools.cache
def _global_endpoints(partition: str) -> dict[str, str]:
    """Endpoint prefix -> signing region of the services botocore's endpoint data marks as not
    regionalized in ``partition`` (``"isRegionalized": false``, one global endpoint whose
    ``credentialScope`` names the region requests are signed for: iam, organizations, route53,
    cloudfront... in "aws", all signed for us-east-1)."""
    data = data_session().get_component("data_loader").load_data("endpoints")
    for entry in data["partitions"]:
        if entry["partition"] != partition:
            continue
        found = {}
        for name, service in entry["services"].items():
            if service.get("isRegionalized") is not False:
                continue
            endpoint = service.get("endpoints", {}).get(service.get("partitionEndpoint") or "", {})
            found[name] = (endpoint.get("credentialScope") or {}).get("region", "")
        return found
    return {}


@functools.cache
def global_region(service: str, partition: str = "aws") -> str | None:
    """For a boto3 client ``service`` (a keyword's prefix, e.g. "iam") whose endpoint is global
    in ``partition`` (botocore's endpoint data), the region its requests are signed for ("" if
    the data names none); None for a regional service or an unknown client name."""
    try:
        prefix = data_session().get_service_model(service).endpoint_prefix
    except UnknownServiceError:
        return None
    return _global_endpoints(partition).get(prefix)


def is_global_service(service: str, partition: str = "aws") -> bool:
    """Whether ``service`` answers the same in every region of ``partition`` (see
    ``global_region``)."""
    return global_region(service, partition) is not None


def iam_actions(keywords: Iterable[str]) -> list[str]:
    """The sorted, distinct IAM actions a set of API_Call keywords needs."""
    return sorted({iam_action(k) for k in keywords})


def observe(target: Target, keyword: str, *, since: float | None = None, now: float,
            page_size: int | None = None, **_options: Any) -> Iterator[Observation]:
    """One observation per resource listed by the operation ``keyword`` names.

    ``since`` is ignored: a snapshot is the state at ``now``. ``page_size`` asks the paginator
    for smaller pages (tests use it to prove paging). Unknown options are ignored so the runner
    can pass one options dict to every collector.
    """
    service, operation = resolve(keyword)
    try:
        client = target.client(service)
    except UnknownServiceError:
        raise SourceUnavailable("UnknownOperation",
                                f"{keyword}: boto3 has no client {service!r}") from None
    model = client.meta.service_model
    if operation not in model.operation_names:
        raise SourceUnavailable("UnknownOperation",
                                f"{keyword}: {service} has no operation {operation}")
    op = model.operation_model(operation)
    required = list(op.input_shape.required_members) if op.input_shape is not None else []
    if required:
        raise SourceUnavailable(
            "OperationNeedsParameters",
            f"{keyword}: {operation} needs {', '.join(required)}; API call sources are called "
            "without parameters")
    if op.has_streaming_output:
        raise SourceUnavailable("OperationNotAllowed", f"{keyword}: {operation} streams its output")

    method = _method_name(client, operation)
    source = event_source(model.endpoint_prefix)
    lists = _resource_lists(client, method, op.output_shape)

    try:
        for page in _pages(client, method, op, page_size):
            page = {k: v for k, v in page.items() if k != "ResponseMetadata"}
            if not lists:
                yield _whole_response(target, keyword, operation, source, page, now)
                continue
            for member, shape_name in lists:
                for item in _resources(page.get(member) or (), shape_name):
                    yield _item(target, keyword, operation, source, member, item[0], item[1],
                                now, several=len(lists) > 1)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if _NOT_THERE.search(code):
            message = exc.response.get("Error", {}).get("Message", "") or code
            raise SourceUnavailable(code, f"{keyword} in account {target.account_id} region "
                                          f"{target.region}: {message}") from exc
        raise


# ---------------------------------------------------------------------------------------------


def _method_name(client: Any, operation: str) -> str:
    for method, api in client.meta.method_to_api_mapping.items():
        if api == operation:
            return method
    from botocore import xform_name

    return xform_name(operation)


def _pages(client: Any, method: str, op: Any, page_size: int | None) -> Iterator[dict]:
    if client.can_paginate(method):
        paginator = client.get_paginator(method)
        pages = None
        if page_size:
            try:
                pages = paginator.paginate(PaginationConfig={"PageSize": page_size})
            except PaginationError:
                pass  # this paginator has no page size: read it with the service's own
        yield from pages if pages is not None else paginator.paginate()
        return
    yield from _manual_pages(getattr(client, method), op)


def _manual_pages(call: Any, op: Any) -> Iterator[dict]:
    """Follow NextToken/Marker by hand for operations botocore has no paginator for."""
    inputs = set(op.input_shape.members) if op.input_shape is not None else set()
    outputs = set(op.output_shape.members) if op.output_shape is not None else set()
    pairs = [(o, i) for o, i in _TOKEN_PAIRS if o in outputs and i in inputs]
    params: dict[str, Any] = {}
    seen: set[str] = set()
    for _ in range(_MAX_PAGES):
        page = call(**params)
        yield page
        token = next(((i, page[o]) for o, i in pairs if page.get(o)), None)
        if token is None or page.get("IsTruncated") is False or token[1] in seen:
            return
        seen.add(token[1])
        params = {token[0]: token[1]}


def _resource_lists(client: Any, method: str, output: Any) -> list[tuple[str, str]]:
    """The response members that list resources, with the shape name of their items."""
    if output is None:
        return []
    members = output.members
    candidates: list[str] = []
    if client.can_paginate(method):
        for key in client.get_paginator(method).result_keys:
            name = getattr(key, "expression", str(key))
            if name in members and members[name].type_name == "list":
                candidates.append(name)
    if not candidates:
        lists = [n for n, s in members.items() if s.type_name == "list"]
        structured = [n for n in lists if members[n].member.type_name == "structure"]
        candidates = structured or lists
    return [(n, members[n].member.name) for n in candidates]


# Listed items that are groups of the resources themselves: EC2 lists reservations, each holding
# the instances launched together. Audit Manager files one evidence item per instance.
_GROUPS = {"Reservation": ("Instances", "Instance")}


def _resources(items: Iterable[Any], shape_name: str) -> Iterator[tuple[str, Any]]:
    """(shape name, item) of every resource in a listed member, groups opened up."""
    group = _GROUPS.get(shape_name)
    for item in items:
        if group and isinstance(item, Mapping):
            for inner in item.get(group[0]) or ():
                yield group[1], inner
        else:
            yield shape_name, item


_KEY_SUFFIXES = ("arn", "id", "name")


def resource_key(item: Mapping[str, Any], shape_name: str) -> tuple[str | None, str | None]:
    """(key, arn) of a listed item: its own ARN, id or name field, preferring ARN over id over
    name. A field is the item's own when it is bare (``Arn``, ``Id``, ``Name``) or its stem is
    part of the item's shape name (``TrailARN`` of a Trail, ``GroupId`` of a SecurityGroup,
    ``InstanceId`` of an InstanceInformation); bare fields first, then the longest stem, so
    ``VpcId`` or ``KmsKeyId`` never name a subnet or a trail. (None, None) if there is none."""
    shape = shape_name.lower()
    candidates: list[tuple[int, int, int, int, str]] = []  # rank, not bare, -stem, order, value
    for order, (field, value) in enumerate(item.items()):
        if not isinstance(value, str) or not value:
            continue
        lowered = field.lower()
        suffix = next((s for s in _KEY_SUFFIXES if lowered.endswith(s)), None)
        if suffix is None:
            continue
        stem = lowered[: -len(suffix)]
        if stem and stem not in shape:
            continue
        if suffix == "arn" and not valid_arn(value):
            continue
        rank = _KEY_SUFFIXES.index(suffix)
        candidates.append((rank, 1 if stem else 0, -len(stem), order, value))
    if not candidates:
        return None, None
    best = min(candidates)
    arns = [c for c in candidates if c[0] == 0]
    return best[4], (min(arns)[4] if arns else None)


def _item(target: Target, keyword: str, operation: str, source: str, member: str,
          shape_name: str, item: Any, now: float, *, several: bool) -> Observation:
    safe = json_safe(item)
    if isinstance(safe, dict):
        key, arn = resource_key(safe, shape_name)
        key = key or digest(safe)
        attributes = attributes_of(safe)
        payload = safe
    else:  # a list of names, ids or URLs: the value is the resource
        key = str(safe)
        arn = key if valid_arn(key) else None
        attributes = {truncate(member, 100): truncate(key, 200)}
        payload = {member: safe}
    identity = f"{keyword}:{member}:{key}" if several else f"{keyword}:{key}"
    return Observation(
        source_type=SOURCE_TYPE,
        keyword=keyword,
        account_id=target.account_id,
        region=target.region,
        identity=identity,
        time=now,
        event_source=source,
        event_name=clip_event_name(operation),
        evidence_by_type=CONFIGURATION_DATA,
        resources=(resource(arn, safe),),
        attributes=attributes,
        payload=payload,
    )


def _whole_response(target: Target, keyword: str, operation: str, source: str, page: dict,
                    now: float) -> Observation:
    safe = {k: v for k, v in json_safe(page).items() if k not in _PAGE_TOKEN_NAMES}
    return Observation(
        source_type=SOURCE_TYPE,
        keyword=keyword,
        account_id=target.account_id,
        region=target.region,
        identity=f"{keyword}:{target.account_id}:{target.region}",
        time=now,
        event_source=source,
        event_name=clip_event_name(operation),
        evidence_by_type=CONFIGURATION_DATA,
        resources=(resource(None, safe),),
        attributes=attributes_of(safe),
        payload=safe,
    )
