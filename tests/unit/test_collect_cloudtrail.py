"""AWS_Cloudtrail collector: LookupEvents through Stubber (moto does not implement it), trail
log files in CloudTrail's own S3 layout and format in moto S3."""

from __future__ import annotations

import datetime as dt
import json

import orjson
import pytest
from botocore.exceptions import ClientError

from assay.collect import TrailLogReader, cloudtrail
from assay.jobs.work import _record
from assay.model.evidence import USER_ACTIVITY, SourceUnavailable, evidence_attributes
from assay.service.collection import SourceRequest
from collect_fixtures.aws import (  # noqa: F401  (fixtures)
    ACCOUNT,
    NOW,
    REGION,
    collect,
    moto,
    moto_endpoint,
    moto_target,
    offline_client,
    stub_target,
    stubbed,
)
from collect_fixtures.trail import assumed_role, at, log_key, put_log, record

BUCKET = "org-trail-logs"
URI = f"s3://{BUCKET}/trail"
SINCE = at("2026-01-10T12:00:00Z").timestamp()
NOW_S3 = at("2026-01-12T23:00:00Z").timestamp()


def filed(observation) -> dict:
    """The ledger record the collection files for an observation (before the ledger's ids)."""
    return _record(SourceRequest("AWS_Cloudtrail", observation.keyword), observation, None, None)


# ---------------------------------------------------------------------------------------------
# LookupEvents


def lookup_event(rec: dict) -> dict:
    return {
        "EventId": rec["eventID"], "EventName": rec["eventName"], "ReadOnly": "false",
        "AccessKeyId": rec["userIdentity"].get("accessKeyId", ""),
        "EventTime": at(rec["eventTime"]), "EventSource": rec["eventSource"],
        "Username": rec["userIdentity"].get("userName", "bob"),
        "Resources": [], "CloudTrailEvent": json.dumps(rec),
    }


def test_lookup_events_pages_and_filters_on_event_source():
    client, stubber = stubbed(offline_client("cloudtrail"))
    first = record("iam.amazonaws.com", "CreateUser", "2026-01-10T13:00:00Z",
                   requestParameters={"userName": "mallory"})
    second = record("iam.amazonaws.com", "CreateUser", "2026-01-10T14:00:00Z", who=assumed_role(),
                    error="EntityAlreadyExists")
    other_service = record("workmail.amazonaws.com", "CreateUser", "2026-01-10T15:00:00Z")
    params = {
        "LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "CreateUser"}],
        "StartTime": dt.datetime.fromtimestamp(SINCE, dt.timezone.utc),
        "EndTime": dt.datetime.fromtimestamp(NOW, dt.timezone.utc),
    }
    stubber.add_response("lookup_events",
                         {"Events": [lookup_event(first), lookup_event(other_service)],
                          "NextToken": "page-2"}, params)
    stubber.add_response("lookup_events", {"Events": [lookup_event(second)]},
                         {**params, "NextToken": "page-2"})

    observations = collect(cloudtrail.observe, stub_target({"cloudtrail": client}), "iam_CreateUser",
                           since=SINCE, now=NOW)

    stubber.assert_no_pending_responses()
    assert [o.identity for o in observations] == [first["eventID"], second["eventID"]]
    one, two = observations
    assert one.source_type == "AWS_Cloudtrail" and one.keyword == "iam_CreateUser"
    assert one.evidence_by_type == USER_ACTIVITY and one.compliance_check == "NOT_APPLICABLE"
    assert (one.event_source, one.event_name) == ("iam.amazonaws.com", "CreateUser")
    assert one.time == at("2026-01-10T13:00:00Z").timestamp()
    assert one.iam_id == f"arn:aws:iam::{ACCOUNT}:user/alice"
    assert one.payload["requestParameters"] == {"userName": "mallory"}
    # The event is kept once, as the payload: the attributes readers show come from it.
    assert one.attributes == {} and "attributes" not in filed(one)
    attributes = evidence_attributes(filed(one))
    assert attributes["sourceIPAddress"] == "203.0.113.10"
    assert attributes["userAgent"].startswith("aws-cli/")
    assert "errorCode" not in attributes
    # An assumed-role session is named by its role (iamId must be an IAM ARN); the session
    # ARN stays in the attributes.
    assert two.iam_id == f"arn:aws:iam::{ACCOUNT}:role/Admin"
    attributes = evidence_attributes(filed(two))
    assert attributes["userIdentity.arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/bob"
    assert attributes["errorCode"] == "EntityAlreadyExists"
    assert attributes["sessionIssuer.arn"] == f"arn:aws:iam::{ACCOUNT}:role/Admin"


def test_lookup_events_without_since_has_no_start_time():
    client, stubber = stubbed(offline_client("cloudtrail"))
    login = record("signin.amazonaws.com", "ConsoleLogin", "2026-01-01T00:00:00Z",
                   responseElements={"ConsoleLogin": "Success"})
    stubber.add_response("lookup_events", {"Events": [lookup_event(login)]}, {
        "LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "ConsoleLogin"}],
        "EndTime": dt.datetime.fromtimestamp(NOW, dt.timezone.utc)})
    [observation] = collect(cloudtrail.observe, stub_target({"cloudtrail": client}),
                            "signin_ConsoleLogin")
    assert observation.event_source == "signin.amazonaws.com"
    assert evidence_attributes(filed(observation))["eventType"] == "AwsConsoleSignIn"


def test_lookup_events_access_denied_propagates_unchanged():
    client, stubber = stubbed(offline_client("cloudtrail"))
    stubber.add_client_error("lookup_events", service_error_code="AccessDeniedException",
                             http_status_code=400, service_message="not authorized")
    with pytest.raises(ClientError) as caught:
        collect(cloudtrail.observe, stub_target({"cloudtrail": client}), "iam_CreateUser")
    assert caught.value.response["Error"]["Code"] == "AccessDeniedException"


def test_unknown_keyword_is_source_unavailable():
    with pytest.raises(SourceUnavailable) as caught:
        collect(cloudtrail.observe, stub_target({}), "iam_NoSuchEvent")
    assert caught.value.code == "UnknownEvent"


# ---------------------------------------------------------------------------------------------
# Trail log files in S3


def day(text: str) -> dt.datetime:
    return at(text)


@pytest.fixture
def trail(moto):
    """A trail bucket with three days of log files for the account, plus noise."""
    target = moto_target(moto)
    s3 = target.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    files = {
        # Before `since`'s day: never listed.
        "old": (day("2026-01-09T10:05:00Z"), [
            record("iam.amazonaws.com", "CreateUser", "2026-01-09T10:01:00Z")]),
        # `since`'s day: the first event is before `since`, the second after.
        "d10": (day("2026-01-10T13:05:00Z"), [
            record("iam.amazonaws.com", "CreateUser", "2026-01-10T11:59:00Z"),
            record("iam.amazonaws.com", "CreateUser", "2026-01-10T13:01:00Z"),
            record("s3.amazonaws.com", "GetObject", "2026-01-10T13:02:00Z"),
        ]),
        "d11": (day("2026-01-11T08:05:00Z"), [
            record("signin.amazonaws.com", "ConsoleLogin", "2026-01-11T08:00:00Z",
                   who=assumed_role(), responseElements={"ConsoleLogin": "Success"}),
            record("iam.amazonaws.com", "DeleteUser", "2026-01-11T08:01:00Z",
                   resources=[{"ARN": f"arn:aws:iam::{ACCOUNT}:user/old", "accountId": ACCOUNT,
                               "type": "AWS::IAM::User"}]),
        ]),
        # After `now`'s day: not listed.
        "future": (day("2026-01-13T00:05:00Z"), [
            record("iam.amazonaws.com", "CreateUser", "2026-01-13T00:01:00Z")]),
    }
    keys = {}
    for name, (delivered, records) in files.items():
        keys[name] = log_key("trail", delivered)
        put_log(s3, BUCKET, keys[name], records)
    # Another region and the digest folder share the bucket; neither is read.
    put_log(s3, BUCKET, log_key("trail", day("2026-01-11T08:05:00Z"), region="eu-west-1"),
            [record("iam.amazonaws.com", "CreateUser", "2026-01-11T08:00:00Z", region="eu-west-1")])
    s3.put_object(Bucket=BUCKET, Key=f"trail/AWSLogs/{ACCOUNT}/CloudTrail-Digest/{REGION}/2026/01/11/"
                                     f"{ACCOUNT}_CloudTrail-Digest_{REGION}_trail_{REGION}_20260111T080500Z.json.gz",
                  Body=b"not a log file")
    return target, s3, files, keys


KEYWORDS = ["iam_CreateUser", "iam_DeleteUser", "signin_ConsoleLogin"]


def test_one_pass_over_the_files_serves_every_keyword(trail):
    target, _, files, _ = trail
    reader = TrailLogReader(target, KEYWORDS, s3_uri=URI, since=SINCE, now=NOW_S3)

    found = list(reader)

    assert reader.files_read == 2  # d10 and d11, each once for all three keywords
    assert [(k, o.event_name) for k, o in found] == [
        ("iam_CreateUser", "CreateUser"), ("signin_ConsoleLogin", "ConsoleLogin"),
        ("iam_DeleteUser", "DeleteUser")]
    created, login, deleted = (o for _, o in found)
    assert created.identity == files["d10"][1][1]["eventID"]
    assert created.time == at("2026-01-10T13:01:00Z").timestamp()
    assert (created.account_id, created.region) == (ACCOUNT, REGION)
    assert login.iam_id == f"arn:aws:iam::{ACCOUNT}:role/Admin"
    assert login.evidence_by_type == USER_ACTIVITY
    assert deleted.resources == ({"arn": f"arn:aws:iam::{ACCOUNT}:user/old",
                                  "value": deleted.resources[0]["value"]},)
    assert json.loads(deleted.resources[0]["value"])["type"] == "AWS::IAM::User"
    assert reader.skipped == []


def test_observe_with_s3_uri_reads_the_logs(trail):
    target, *_ = trail
    observations = collect(cloudtrail.observe, target, "iam_CreateUser", since=SINCE, now=NOW_S3,
                           s3_uri=URI)
    assert [o.time for o in observations] == [at("2026-01-10T13:01:00Z").timestamp()]


def test_without_since_every_day_up_to_now_is_read(trail):
    target, *_ = trail
    reader = TrailLogReader(target, ["iam_CreateUser"], s3_uri=URI, since=None, now=NOW_S3)
    assert len(list(reader)) == 3 and reader.files_read == 3


def test_cursor_resumes_after_the_last_file_read(trail):
    target, s3, _, keys = trail
    first = TrailLogReader(target, KEYWORDS, s3_uri=URI, since=SINCE, now=NOW_S3)
    assert len(list(first)) == 3
    cursor = first.cursor
    state = orjson.loads(cursor)["roots"][f"trail/AWSLogs/{ACCOUNT}/CloudTrail/{REGION}"]
    assert state["after"] == keys["d11"]

    # Nothing new: nothing read again.
    again = TrailLogReader(target, KEYWORDS, s3_uri=URI, since=SINCE, now=NOW_S3, cursor=cursor)
    assert list(again) == [] and again.files_read == 0

    # A new file, and a late one named before the last file read (within the grace period).
    new = record("iam.amazonaws.com", "CreateUser", "2026-01-12T09:00:00Z")
    late = record("iam.amazonaws.com", "DeleteUser", "2026-01-11T07:58:00Z")
    put_log(s3, BUCKET, log_key("trail", day("2026-01-12T09:05:00Z")), [new])
    put_log(s3, BUCKET, log_key("trail", day("2026-01-11T07:50:00Z")), [late])
    resumed = TrailLogReader(target, KEYWORDS, s3_uri=URI, since=SINCE, now=NOW_S3, cursor=again.cursor)
    assert sorted(o.identity for _, o in resumed) == sorted([new["eventID"], late["eventID"]])
    assert resumed.files_read == 2


def test_one_day_at_a_time_reads_the_same_events_as_the_whole_trail(trail):
    target, s3, files, keys = trail
    whole = TrailLogReader(target, KEYWORDS, s3_uri=URI, since=SINCE, now=NOW_S3)
    expected = sorted((k, o.identity) for k, o in whole)
    days = {}
    for name in ("2026-01-10", "2026-01-11", "2026-01-12"):
        days[name] = TrailLogReader(target, KEYWORDS, s3_uri=URI, since=SINCE, now=NOW_S3,
                                    day=name)
    found = {name: [(k, o.identity) for k, o in reader] for name, reader in days.items()}
    assert sorted(pair for pairs in found.values() for pair in pairs) == expected
    assert [days[d].files_read for d in days] == [1, 1, 0]  # each day's folder only
    assert found["2026-01-11"] == [("signin_ConsoleLogin", files["d11"][1][0]["eventID"]),
                                   ("iam_DeleteUser", files["d11"][1][1]["eventID"])]
    # A day's cursor continues that day; the whole trail's cursor (collections before
    # per-day shards) is a start for any day: what it passed over is not read again.
    late = record("iam.amazonaws.com", "CreateUser", "2026-01-11T07:58:00Z")
    put_log(s3, BUCKET, log_key("trail", day("2026-01-11T07:50:00Z")), [late])
    for cursor in (days["2026-01-11"].cursor, whole.cursor):
        again = TrailLogReader(target, KEYWORDS, s3_uri=URI, since=SINCE, now=NOW_S3,
                               cursor=cursor, day="2026-01-11")
        assert [o.identity for _, o in again] == [late["eventID"]]
    assert list(TrailLogReader(target, KEYWORDS, s3_uri=URI, since=SINCE, now=NOW_S3,
                               cursor=whole.cursor, day="2026-01-10")) == []


def test_trail_days_from_the_start_less_the_days_read_completely():
    from types import SimpleNamespace

    from assay.jobs.work import TRAIL_FILES, trail_days

    def state(keyword, succeeded_at):
        return {(ACCOUNT, REGION, "AWS_Cloudtrail", keyword): SimpleNamespace(
            last_success_at=at(succeeded_at).timestamp())}

    since, now = at("2026-01-10T12:00:00Z").timestamp(), at("2026-01-12T23:00:00Z").timestamp()
    every = ["2026-01-10", "2026-01-11", "2026-01-12"]
    assert trail_days(since, now, ACCOUNT, REGION, {}) == every
    # Read after the day ended plus the grace for late files: complete, not planned again.
    assert trail_days(since, now, ACCOUNT, REGION, state(TRAIL_FILES + "2026-01-10",
                                                         "2026-01-11T01:00:00Z")) == every[1:]
    # Read within the grace: files may still arrive, the day is read again.
    assert trail_days(since, now, ACCOUNT, REGION, state(TRAIL_FILES + "2026-01-10",
                                                         "2026-01-11T00:30:00Z")) == every
    # The whole trail's last success (before per-day shards) closes every day it covered.
    assert trail_days(since, now, ACCOUNT, REGION,
                      state(TRAIL_FILES, "2026-01-12T02:00:00Z")) == ["2026-01-12"]
    # Another account's or region's state closes nothing here.
    assert trail_days(since, now, ACCOUNT, "eu-west-1",
                      state(TRAIL_FILES, "2026-01-12T02:00:00Z")) == every


def test_stopping_mid_file_keeps_the_cursor_before_it(trail):
    target, _, _, keys = trail
    reader = TrailLogReader(target, KEYWORDS, s3_uri=URI, since=SINCE, now=NOW_S3)
    iterator = iter(reader)
    keyword, first = next(iterator)       # the d10 file is done...
    keyword, second = next(iterator)      # ...and the d11 file is half read
    iterator.close()
    state = orjson.loads(reader.cursor)["roots"][f"trail/AWSLogs/{ACCOUNT}/CloudTrail/{REGION}"]
    assert state["after"] == keys["d10"]

    resumed = TrailLogReader(target, KEYWORDS, s3_uri=URI, since=SINCE, now=NOW_S3,
                             cursor=reader.cursor)
    identities = [o.identity for _, o in resumed]
    assert identities[0] == second.identity  # the interrupted file is read again, whole
    assert len(identities) == 2 and first.identity not in identities


def test_organization_trail_layout_is_found(moto):
    target = moto_target(moto)
    s3 = target.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    event = record("iam.amazonaws.com", "CreateUser", "2026-01-11T08:00:00Z")
    put_log(s3, BUCKET, log_key("", day("2026-01-11T08:05:00Z"), org_id="o-a1b2c3d4e5"), [event])
    put_log(s3, BUCKET, log_key("", day("2026-01-11T08:05:00Z"), org_id="o-a1b2c3d4e5",
                                account="210987654321"),
            [record("iam.amazonaws.com", "CreateUser", "2026-01-11T08:00:01Z", account="210987654321")])

    reader = TrailLogReader(target, ["iam_CreateUser"], s3_uri=f"s3://{BUCKET}", since=SINCE,
                            now=NOW_S3)
    assert [o.identity for _, o in reader] == [event["eventID"]]
    assert reader.roots == [f"AWSLogs/o-a1b2c3d4e5/{ACCOUNT}/CloudTrail/{REGION}"]

    # The organization folder can also be named in the URI.
    named = TrailLogReader(target, ["iam_CreateUser"], s3_uri=f"s3://{BUCKET}/AWSLogs/o-a1b2c3d4e5",
                           since=SINCE, now=NOW_S3)
    assert len(list(named)) == 1


def test_no_logs_for_the_account_is_source_unavailable(trail):
    target, *_ = trail
    elsewhere = moto_target(target.client("s3").meta.endpoint_url, region="ap-south-1")
    with pytest.raises(SourceUnavailable) as caught:
        list(TrailLogReader(elsewhere, KEYWORDS, s3_uri=URI, since=SINCE, now=NOW_S3))
    assert caught.value.code == "CloudTrailLogsNotFound"
    assert "ap-south-1" in caught.value.message and ACCOUNT in caught.value.message
    with pytest.raises(SourceUnavailable) as caught:
        list(TrailLogReader(target, KEYWORDS, s3_uri=f"s3://{BUCKET}/wrong-prefix", since=SINCE,
                            now=NOW_S3))
    assert caught.value.code == "CloudTrailLogsNotFound"


def test_missing_bucket_is_source_unavailable(moto):
    target = moto_target(moto)
    with pytest.raises(SourceUnavailable) as caught:
        list(TrailLogReader(target, KEYWORDS, s3_uri="s3://no-such-trail-bucket", since=SINCE,
                            now=NOW_S3))
    assert caught.value.code == "NoSuchBucket"


def test_s3_access_denied_propagates_unchanged():
    client, stubber = stubbed(offline_client("s3"))
    stubber.add_client_error("list_objects_v2", service_error_code="AccessDenied",
                             http_status_code=403, service_message="Access Denied")
    with pytest.raises(ClientError) as caught:
        list(TrailLogReader(stub_target({"s3": client}), KEYWORDS, s3_uri=URI, since=SINCE,
                            now=NOW_S3))
    assert caught.value.response["Error"]["Code"] == "AccessDenied"


def test_a_corrupt_file_is_skipped_and_reported(trail):
    target, s3, _, _ = trail
    broken = log_key("trail", day("2026-01-11T09:05:00Z"))
    s3.put_object(Bucket=BUCKET, Key=broken, Body=b"\x1f\x8b not really gzip")
    reader = TrailLogReader(target, KEYWORDS, s3_uri=URI, since=SINCE, now=NOW_S3)
    assert len(list(reader)) == 3
    assert [key for key, _ in reader.skipped] == [broken]


@pytest.mark.parametrize("prefix, expected", [
    ("", ("AWSLogs", None)),
    ("trail", ("trail/AWSLogs", None)),
    ("a/b/", ("a/b/AWSLogs", None)),
    ("trail/AWSLogs", ("trail/AWSLogs", None)),
    ("AWSLogs/o-abc123/", ("AWSLogs", "o-abc123")),
    (f"AWSLogs/o-abc123/{ACCOUNT}", ("AWSLogs", "o-abc123")),
])
def test_logs_base(prefix, expected):
    assert cloudtrail.logs_base(prefix) == expected
