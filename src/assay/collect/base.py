"""What every collector shares: the target it reads, and the small transforms from AWS data to
the shapes an ``Observation`` and Audit Manager's wire format accept.

Collectors are pure transforms. They never create sessions, assume roles or retry: the runner
builds a ``Target`` whose ``client(service_name)`` returns a ready boto3 client for one account
and region, and records whatever a collector raises.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import functools
import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from ..model.evidence import ATTRIBUTE_KEY_MAX, ATTRIBUTE_VALUE_MAX, iso, scalar_text, truncate

ATTRIBUTES_MAX = 25            # "a few" facts; the payload keeps everything
RESOURCE_VALUE_MAX = 2048
EVENT_SOURCE_MAX = 40
EVENT_NAME_MAX = 100
_ARN_MIN = 20
_EVENT_SOURCE_CHARS = re.compile(r"[^a-zA-Z0-9\-\s().]")
_IAM_ID = re.compile(r"^arn:.*:iam:.*")


@dataclass(frozen=True)
class Target:
    """One AWS account and region, and a way to get clients for it.

    ``client(service_name)`` returns a boto3 client for this account and region (created by the
    runner from a session or an assumed role, with adaptive retries).
    """

    account_id: str
    region: str
    client: Callable[[str], Any]

    @property
    def partition(self) -> str:
        return partition_of(self.region)


def partition_of(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    if region.startswith("us-iso-"):
        return "aws-iso"
    if region.startswith("us-isob-"):
        return "aws-iso-b"
    return "aws"


# ---------------------------------------------------------------------------------------------
# Values


def epoch(value: Any) -> float:
    """Epoch seconds of a datetime, an ISO 8601 string or a number."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.timestamp()
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("Z") or text.endswith("z"):
            text = text[:-1] + "+00:00"
        parsed = dt.datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.timezone.utc)
        return parsed.timestamp()
    raise TypeError(f"not a time: {value!r}")


def utc(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, tz=dt.timezone.utc)


def json_safe(value: Any) -> Any:
    """The value with only JSON types left: datetimes become ISO strings, bytes text (or base64),
    Decimals numbers, sets and tuples lists. Streaming bodies are never part of what we keep."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else str(value)
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [json_safe(v) for v in value]
    if isinstance(value, (dt.datetime, dt.date)):
        return iso(value)
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return base64.b64encode(raw).decode("ascii")
    return str(value)


def compact_json(value: Any) -> str:
    """Canonical, compact JSON (sorted keys) of a JSON-safe value."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode("utf-8")


def digest(value: Any, length: int = 16) -> str:
    """A short stable hash of a JSON-safe value, for items that carry no identifier."""
    return hashlib.sha256(compact_json(value).encode("utf-8")).hexdigest()[:length]


def attributes_of(item: Mapping[str, Any], *, limit: int = ATTRIBUTES_MAX,
                  prefix: str = "", depth: int = 1) -> dict[str, str]:
    """A few key facts of an item: its scalar fields, and those of nested objects one level down
    as ``Parent.Child``. Keys and values are cut to Audit Manager's limits."""
    out: dict[str, str] = {}
    nested: list[tuple[str, Mapping[str, Any]]] = []
    for key, value in item.items():
        if len(out) >= limit:
            return out
        text = scalar_text(value)
        if text is not None:
            out[truncate(prefix + str(key), ATTRIBUTE_KEY_MAX)] = truncate(text, ATTRIBUTE_VALUE_MAX)
        elif isinstance(value, Mapping) and depth > 0:
            nested.append((str(key), value))
    for key, value in nested:
        if len(out) >= limit:
            break
        for k, v in attributes_of(value, limit=limit - len(out), prefix=f"{prefix}{key}.",
                                  depth=depth - 1).items():
            out[k] = v
    return out


def resource(arn: str | None, value: Any, compliance_check: str | None = None) -> dict[str, str]:
    """One entry of ``resources``: an ARN when there is a valid one, the resource as compact JSON
    (or text) cut to 2048 characters, and its own compliance result if the source has one."""
    entry: dict[str, str] = {}
    if valid_arn(arn):
        entry["arn"] = arn  # type: ignore[assignment]
    text = value if isinstance(value, str) else compact_json(json_safe(value))
    entry["value"] = truncate(text, RESOURCE_VALUE_MAX)
    if compliance_check:
        entry["complianceCheck"] = compliance_check
    return entry


def valid_arn(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("arn:") and _ARN_MIN <= len(value) <= 2048


def iam_id_of(*candidates: Any) -> str | None:
    """The first candidate that Audit Manager accepts as an iamId (an IAM ARN)."""
    for value in candidates:
        if isinstance(value, str) and _is_iam_arn(value):
            return value
    return None


@functools.lru_cache(maxsize=4096)
def _is_iam_arn(value: str) -> bool:
    # Cached: a trail's events name the same few principals over and over.
    return _ARN_MIN <= len(value) <= 2048 and value.startswith("arn:") and \
        _IAM_ID.match(value) is not None


def event_source(host_prefix: str) -> str:
    """``<prefix>.amazonaws.com`` as Audit Manager's eventSource (<= 40 characters)."""
    name = _EVENT_SOURCE_CHARS.sub("-", host_prefix)
    full = f"{name}.amazonaws.com"
    return full if len(full) <= EVENT_SOURCE_MAX else name[:EVENT_SOURCE_MAX]


@functools.lru_cache(maxsize=1024)  # a handful of services, once per event ingested
def clip_event_source(value: str) -> str:
    """An eventSource from the data (a CloudTrail record), made to fit the wire format."""
    cleaned = _EVENT_SOURCE_CHARS.sub("-", value)[:EVENT_SOURCE_MAX]
    return cleaned or "unknown"


def clip_event_name(value: str) -> str:
    return value[:EVENT_NAME_MAX]
