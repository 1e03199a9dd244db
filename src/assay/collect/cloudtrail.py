"""AWS_Cloudtrail: user activity, one observation per CloudTrail event.

Keyword ``<eventSource prefix>_<eventName>``, e.g. ``iam_CreateUser`` (eventSource
``iam.amazonaws.com``), ``signin_ConsoleLogin``. Two ways to read events:

- ``observe`` without ``s3_uri``: CloudTrail LookupEvents (management events of the last 90
  days, per account and region), EventName as the lookup attribute, eventSource checked on
  each event, StartTime = ``since`` (the runner passes the assessment start or the last run).
- ``observe`` with ``s3_uri``, or ``TrailLogReader`` for many keywords at once: the trail's log
  files in S3 (``ASSAY_CLOUDTRAIL_S3_URI``), read directly. This also sees data events and
  organization trails, and reads each file once for every keyword of an account and region.

Both produce the same observation from the same event record.
"""

from __future__ import annotations

import datetime as dt
import functools
import gzip
import re
from collections.abc import Iterable, Iterator
from typing import Any

import orjson
from botocore.exceptions import ClientError

from assay.library.keywords import cloudtrail_event
from assay.model.evidence import (NOT_APPLICABLE, USER_ACTIVITY, Observation, SourceUnavailable,
                                  iso)

from .base import (
    Target,
    clip_event_name,
    clip_event_source,
    digest,
    epoch,
    iam_id_of,
    json_safe,
    resource,
    utc,
)

SOURCE_TYPE = "AWS_Cloudtrail"
# Files can land out of name order (delivery takes minutes): on resume, files named up to this
# long before the last one read are listed again, and those not read yet are read.
GRACE_SECONDS = 3600
_NAME_TIME = re.compile(r"_(\d{8}T\d{4})Z_")


def event_of(keyword: str) -> tuple[str, str]:
    """(eventSource, eventName) of a keyword; SourceUnavailable if it is not one."""
    try:
        return cloudtrail_event(keyword)
    except KeyError:
        raise SourceUnavailable("UnknownEvent",
                                f"{keyword!r} is not a known AWS_Cloudtrail keyword") from None


@functools.lru_cache(maxsize=4096)
def event_epoch(event_time: str) -> float:
    """Epoch seconds of an eventTime. Cached: the events of a log file share a few minutes."""
    return epoch(event_time)


_clip_source = functools.lru_cache(maxsize=1024)(clip_event_source)


def observation_from_record(target: Target, keyword: str, record: dict[str, Any]) -> Observation:
    """One CloudTrail event record (as in log files and LookupEvents' CloudTrailEvent). The
    record is JSON as parsed (``_record_of`` builds the same from a LookupEvents summary), so
    it is the payload as is: no copy, no conversion.

    The observation carries no ``attributes``: the event is kept once, as the payload, and its
    attributes are derived from it where they are read (``model.evidence.evidence_attributes``),
    which keeps ledger records about a fifth smaller and spares a dict per event."""
    who = record.get("userIdentity")
    event_time = record.get("eventTime")
    resources = record.get("resources")
    return Observation(
        SOURCE_TYPE, keyword, target.account_id, target.region,
        str(record.get("eventID") or digest(json_safe(record))),
        event_epoch(event_time) if isinstance(event_time, str) else (
            epoch(event_time) if event_time else 0.0),
        _clip_source(str(record.get("eventSource") or "")),
        clip_event_name(str(record.get("eventName") or "")),
        USER_ACTIVITY,
        NOT_APPLICABLE,
        # iamId must be an IAM ARN: an assumed-role session (an sts ARN) is named by its role.
        _iam_id(who) if isinstance(who, dict) else None,
        tuple(resource(r.get("ARN"), r) for r in resources if isinstance(r, dict))
        if resources else (),
        {},
        record,
    )


def _iam_id(who: dict[str, Any]) -> str | None:
    """The iamId of a userIdentity: its ARN when that is an IAM ARN, else its session's issuer
    (an assumed role), else None."""
    arn = who.get("arn")
    if isinstance(arn, str) and ":iam::" in arn:  # the common case: an IAM user or role
        found = iam_id_of(arn)
        if found:
            return found
    context = who.get("sessionContext")
    issuer = context.get("sessionIssuer") if isinstance(context, dict) else None
    return iam_id_of(arn, issuer.get("arn") if isinstance(issuer, dict) else None)


def observe(target: Target, keyword: str, *, since: float | None = None, now: float,
            s3_uri: str | None = None, page_size: int | None = None,
            **options: Any) -> Iterator[Observation]:
    """Events of ``keyword`` between ``since`` and ``now``.

    With ``s3_uri`` the trail's log files are read (see ``TrailLogReader``; the options
    ``cursor``, ``organization_id``, ``s3_client`` and ``grace_seconds`` are passed on). The
    runner should prefer ``TrailLogReader`` with all keywords of an account and region, and
    persist its cursor.
    """
    if s3_uri:
        reader_options = {k: options[k] for k in ("cursor", "organization_id", "s3_client",
                                                   "grace_seconds") if k in options}
        reader = TrailLogReader(target, [keyword], s3_uri=s3_uri, since=since, now=now,
                                **reader_options)
        for _, observation in reader:
            yield observation
        return
    yield from lookup_events(target, keyword, since=since, now=now, page_size=page_size)


def lookup_events(target: Target, keyword: str, *, since: float | None, now: float,
                  page_size: int | None = None) -> Iterator[Observation]:
    """Events of ``keyword`` from CloudTrail LookupEvents (all pages)."""
    source, name = event_of(keyword)
    client = target.client("cloudtrail")
    params: dict[str, Any] = {
        "LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": name}],
        "EndTime": utc(now),
    }
    if since is not None:
        params["StartTime"] = utc(since)
    paging = {"PageSize": min(page_size, 50)} if page_size else {}
    for page in client.get_paginator("lookup_events").paginate(**params, PaginationConfig=paging):
        for event in page.get("Events") or ():
            if event.get("EventSource") not in (None, source):
                continue
            record = _record_of(event)
            if record.get("eventSource") != source or record.get("eventName") != name:
                continue
            yield observation_from_record(target, keyword, record)


def _record_of(event: dict[str, Any]) -> dict[str, Any]:
    """The event record inside a LookupEvents event (rebuilt from its summary if absent)."""
    raw = event.get("CloudTrailEvent")
    if raw:
        try:
            record = orjson.loads(raw)
            if isinstance(record, dict):
                return record
        except orjson.JSONDecodeError:
            pass
    return {
        "eventID": event.get("EventId"),
        "eventName": event.get("EventName"),
        "eventSource": event.get("EventSource"),
        "eventTime": iso(event["EventTime"]) if event.get("EventTime") else None,
        "readOnly": event.get("ReadOnly"),
        "userIdentity": {"userName": event.get("Username"),
                         "accessKeyId": event.get("AccessKeyId")},
        "resources": [{"ARN": r.get("ResourceName"), "type": r.get("ResourceType")}
                      for r in event.get("Resources") or ()],
    }


# ---------------------------------------------------------------------------------------------
# Trail log files in S3


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """(bucket, prefix) of ``s3://bucket/prefix``."""
    if not uri.startswith("s3://"):
        raise SourceUnavailable("InvalidS3Uri", f"not an s3:// URI: {uri!r}")
    bucket, _, prefix = uri[len("s3://"):].partition("/")
    if not bucket:
        raise SourceUnavailable("InvalidS3Uri", f"no bucket in {uri!r}")
    return bucket, prefix.strip("/")


def logs_base(prefix: str) -> tuple[str, str | None]:
    """(the ``.../AWSLogs`` folder, organization id if the URI names one) of a trail prefix.
    Accepts the trail's S3KeyPrefix, or a path that already goes into AWSLogs[/o-...]."""
    parts = [p for p in prefix.split("/") if p]
    if "AWSLogs" in parts:
        at = parts.index("AWSLogs")
        org = parts[at + 1] if len(parts) > at + 1 and parts[at + 1].startswith("o-") else None
        return "/".join(parts[: at + 1]), org
    return "/".join(parts + ["AWSLogs"]), None


def _name_time(key: str) -> float | None:
    match = _NAME_TIME.search(key.rsplit("/", 1)[-1])
    if not match:
        return None
    stamp = dt.datetime.strptime(match.group(1), "%Y%m%dT%H%M").replace(tzinfo=dt.timezone.utc)
    return stamp.timestamp()


class TrailLogReader:
    """Reads one account and region of a trail's log files once, for many keywords.

    Files are ``<prefix>/AWSLogs/[<org id>/]<account>/CloudTrail/<region>/YYYY/MM/DD/*.json.gz``,
    listed in key order (which is time order) for the days from ``since`` to ``now``. Iterating
    yields ``(keyword, Observation)`` for every event of the files whose eventSource and
    eventName match one of ``keywords`` and whose eventTime is at or after ``since``.

    Resuming: ``cursor`` is an opaque string (JSON) the runner persists per account and region
    and passes back next time; it is advanced after each file is read completely, so stopping
    mid-file re-reads that file (same eventIDs, same evidence ids) and loses nothing. Files
    delivered late, named up to ``grace_seconds`` before the newest file read, are still read.

    ``day`` ("YYYY-MM-DD") reads that day's folder only: the collection reads a trail one day
    per job, each day with a cursor of its own (a cursor of the whole trail works as a start
    for any day too: keys are compared, and a day's folder bounds the listing).

    Raises SourceUnavailable("CloudTrailLogsNotFound") if there is no log folder for the account
    and region under the URI, ("NoSuchBucket") if the bucket does not exist. ``skipped`` lists
    (key, reason) of files that could not be decoded.
    """

    def __init__(self, target: Target, keywords: Iterable[str], *, s3_uri: str,
                 since: float | None, now: float, cursor: str | None = None,
                 organization_id: str | None = None, s3_client: Any | None = None,
                 grace_seconds: int = GRACE_SECONDS, day: str | None = None):
        self.target = target
        self.bucket, prefix = parse_s3_uri(s3_uri)
        self.base, uri_org = logs_base(prefix)
        self.organization_id = organization_id or uri_org
        self.since = since
        self.now = now
        self.grace = grace_seconds
        self.day_folder = dt.date.fromisoformat(day).strftime("%Y/%m/%d") if day else None
        self._s3 = s3_client
        self._events: dict[tuple[str, str], list[str]] = {}
        for keyword in dict.fromkeys(keywords):
            self._events.setdefault(event_of(keyword), []).append(keyword)
        state = orjson.loads(cursor) if cursor else {}
        self._state: dict[str, dict[str, Any]] = dict(state.get("roots") or {})
        self.files_read = 0
        self.skipped: list[tuple[str, str]] = []
        self.roots: list[str] = []

    @property
    def s3(self) -> Any:
        if self._s3 is None:
            self._s3 = self.target.client("s3")
        return self._s3

    @property
    def cursor(self) -> str | None:
        """Where to continue next time (persist it as is), or None if nothing was ever read."""
        if not self._state:
            return None
        return orjson.dumps({"v": 1, "roots": self._state},
                            option=orjson.OPT_SORT_KEYS).decode("utf-8")

    def __iter__(self) -> Iterator[tuple[str, Observation]]:
        self.roots = self._find_roots()
        for root in self.roots:
            yield from self._read_root(root)

    # -- discovery ------------------------------------------------------------------------

    def _candidate_roots(self) -> list[str]:
        tail = f"{self.target.account_id}/CloudTrail/{self.target.region}"
        if self.organization_id:
            return [f"{self.base}/{self.organization_id}/{tail}"]
        orgs: list[str] = []
        paginator = self.s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.base + "/", Delimiter="/"):
            for common in page.get("CommonPrefixes") or ():
                name = common["Prefix"][len(self.base) + 1:].strip("/")
                if name.startswith("o-"):
                    orgs.append(name)
        return [f"{self.base}/{tail}"] + [f"{self.base}/{org}/{tail}" for org in orgs]

    def _find_roots(self) -> list[str]:
        try:
            roots = [root for root in self._candidate_roots() if self._has_objects(root)]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "NoSuchBucket":
                raise SourceUnavailable("NoSuchBucket",
                                        f"CloudTrail log bucket {self.bucket} does not exist") from exc
            raise
        if not roots:
            where = f"s3://{self.bucket}/{self.base}/"
            raise SourceUnavailable(
                "CloudTrailLogsNotFound",
                f"no CloudTrail log files under {where} for account {self.target.account_id} "
                f"region {self.target.region}")
        return roots

    def _has_objects(self, root: str) -> bool:
        page = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=root + "/", MaxKeys=1)
        return bool(page.get("Contents"))

    # -- reading --------------------------------------------------------------------------

    def _start_after(self, root: str) -> str | None:
        marks: list[str] = []
        if self.since is not None:
            marks.append(f"{root}/{utc(self.since):%Y/%m/%d}/")
        state = self._state.get(root)
        if state and state.get("after"):
            after = state["after"]
            at = _name_time(after)
            if at is None:
                marks.append(after)
            else:
                back = utc(at - self.grace)
                marks.append(f"{root}/{back:%Y/%m/%d}/{self.target.account_id}_CloudTrail_"
                             f"{self.target.region}_{back:%Y%m%dT%H%M}Z")
        return max(marks) if marks else None

    def _read_root(self, root: str) -> Iterator[tuple[str, Observation]]:
        last_day = f"{utc(self.now):%Y/%m/%d}"
        seen = set((self._state.get(root) or {}).get("seen") or ())
        prefix = f"{root}/{self.day_folder}/" if self.day_folder else root + "/"
        params: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        start_after = self._start_after(root)
        if start_after:
            params["StartAfter"] = start_after
        for page in self.s3.get_paginator("list_objects_v2").paginate(**params):
            for item in page.get("Contents") or ():
                key = item["Key"]
                parts = key[len(root) + 1:].split("/")
                if len(parts) < 4:
                    continue
                if "/".join(parts[:3]) > last_day:
                    return
                if key in seen or not key.endswith(".json.gz"):
                    continue
                yield from self._read_file(key)
                self._advance(root, key)

    def _read_file(self, key: str) -> Iterator[tuple[str, Observation]]:
        body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"]
        try:
            with gzip.GzipFile(fileobj=body, mode="rb") as stream:
                document = orjson.loads(stream.read())
        except (OSError, EOFError, orjson.JSONDecodeError) as exc:
            self.skipped.append((key, f"{type(exc).__name__}: {exc}"))
            return
        finally:
            body.close()
        self.files_read += 1
        records = document.get("Records") if isinstance(document, dict) else None
        for record in records or ():
            if not isinstance(record, dict):
                continue
            keywords = self._events.get((record.get("eventSource"), record.get("eventName")))
            if not keywords:
                continue
            event_time = record.get("eventTime")
            if self.since is not None and event_time and (
                    event_epoch(event_time) if isinstance(event_time, str)
                    else epoch(event_time)) < self.since:
                continue
            for keyword in keywords:
                yield keyword, observation_from_record(self.target, keyword, record)

    def _advance(self, root: str, key: str) -> None:
        state = self._state.setdefault(root, {"after": None, "seen": []})
        after = max(filter(None, (state.get("after"), key)))
        seen = set(state.get("seen") or ()) | {key}
        at = _name_time(after)
        if at is not None:
            seen = {k for k in seen if (_name_time(k) or 0) >= at - self.grace}
        else:
            seen = {key}
        state["after"] = after
        state["seen"] = sorted(seen)
