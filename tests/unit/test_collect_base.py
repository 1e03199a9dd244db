"""The shared transforms collectors use to fit AWS data into Observations and the wire format."""

from __future__ import annotations

import datetime as dt
import decimal

import orjson

from assay.collect import base


def test_json_safe_turns_aws_types_into_json():
    value = {
        "When": dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        "Naive": dt.datetime(2026, 1, 1, 12, 0),
        "Day": dt.date(2026, 1, 1),
        "Blob": b"report,csv\n",
        "Binary": b"\xff\xfe",
        "Count": decimal.Decimal("3"),
        "Ratio": decimal.Decimal("0.5"),
        "Tags": ("a", "b"),
        "Nested": [{"At": dt.datetime(2026, 1, 2, tzinfo=dt.timezone.utc)}],
    }
    safe = base.json_safe(value)
    orjson.dumps(safe)
    assert safe["When"] == "2026-01-01T10:00:00Z"
    assert safe["Naive"] == "2026-01-01T12:00:00Z"
    assert safe["Day"] == "2026-01-01"
    assert safe["Blob"] == "report,csv\n" and safe["Binary"] == "//4="
    assert (safe["Count"], safe["Ratio"]) == (3, 0.5)
    assert safe["Tags"] == ["a", "b"]
    assert safe["Nested"][0]["At"] == "2026-01-02T00:00:00Z"


def test_epoch_reads_datetimes_and_iso_strings():
    assert base.epoch("2026-01-01T00:00:00Z") == 1767225600.0
    assert base.epoch("2026-01-01T00:00:00.000Z") == 1767225600.0
    assert base.epoch(dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)) == 1767225600.0
    assert base.epoch(1767225600) == 1767225600.0


def test_attributes_are_a_few_scalars_within_limits():
    item = {"Name": "x" * 300, "k" * 150: "v", "Enabled": True, "Count": 2,
            "Policy": {"MinimumPasswordLength": 14, "Deep": {"Ignored": 1}}, "List": [1, 2]}
    attributes = base.attributes_of(item)
    assert attributes["Name"] == "x" * 199 + "\u2026"
    assert ("k" * 99 + "\u2026") in attributes
    assert attributes["Enabled"] == "true" and attributes["Count"] == "2"
    assert attributes["Policy.MinimumPasswordLength"] == "14"
    assert "List" not in attributes and not any(k.startswith("Policy.Deep") for k in attributes)
    many = base.attributes_of({f"k{i}": i for i in range(100)})
    assert len(many) == base.ATTRIBUTES_MAX


def test_resource_entries_fit_the_wire_format():
    entry = base.resource("arn:aws:s3:::bucket-name", {"Name": "b" * 5000}, "COMPLIANT")
    assert entry["arn"] == "arn:aws:s3:::bucket-name"
    assert len(entry["value"]) == base.RESOURCE_VALUE_MAX
    assert entry["complianceCheck"] == "COMPLIANT"
    assert "arn" not in base.resource("i-0abc", "i-0abc")     # not an ARN
    assert "arn" not in base.resource("arn:aws:s3:::b", "b")  # shorter than the wire minimum


def test_iam_id_must_be_an_iam_arn():
    sts = "arn:aws:sts::123456789012:assumed-role/Admin/bob"
    role = "arn:aws:iam::123456789012:role/Admin"
    assert base.iam_id_of(sts, role) == role
    assert base.iam_id_of(None, "AWS Internal") is None


def test_event_source_fits_forty_characters():
    assert base.event_source("iam") == "iam.amazonaws.com"
    assert base.event_source("servicecatalog-appregistry") == "servicecatalog-appregistry.amazonaws.com"
    assert len(base.event_source("a-very-long-service-endpoint-prefix-name")) <= 40
    assert base.clip_event_source("odd/source_name") == "odd-source-name"


def test_partition_follows_region():
    assert base.partition_of("eu-west-1") == "aws"
    assert base.partition_of("cn-north-1") == "aws-cn"
    assert base.partition_of("us-gov-west-1") == "aws-us-gov"
