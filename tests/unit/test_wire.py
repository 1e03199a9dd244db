"""The wire layer against botocore's own serializer: whatever botocore sends, we route and parse."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from botocore.awsrequest import prepare_request_dict
from botocore.serialize import create_serializer

from assay.api import wire
from assay.service.errors import ValidationError

MODEL = wire.service_model()
SERIALIZER = create_serializer("rest-json", include_validation=False)


def botocore_request(operation: str, params: dict):
    """The HTTP request botocore itself would send for ``params``."""
    op = MODEL.operation_model(operation)
    request = SERIALIZER.serialize_to_request(params, op)
    prepare_request_dict(request, endpoint_url="https://auditmanager.us-east-1.amazonaws.com")
    parts = urlsplit(request["url"])
    query = [tuple(p.split("=", 1)) for p in parts.query.split("&") if p]
    from urllib.parse import unquote
    query = [(unquote(k), unquote(v)) for k, v in query]
    return request["method"], parts.path, query, request["headers"], request["body"] or b""


def sample_value(shape, depth=0):
    """A minimal valid value for a shape (enough to route and parse every operation)."""
    kind = shape.type_name
    if kind == "structure":
        return {name: sample_value(shape.members[name], depth + 1) for name in shape.required_members}
    if kind == "list":
        return [sample_value(shape.member, depth + 1)]
    if kind == "map":
        return {"k": sample_value(shape.value, depth + 1)}
    if kind == "string":
        if shape.enum:
            return shape.enum[0]
        samples = {
            "UUID": "11111111-2222-4333-8444-555555555555",
            "AuditManagerArn": "arn:aws:auditmanager:us-east-1:111122223333:control/11111111-2222-4333-8444-555555555555",
            "AccountId": "111122223333",
            "S3Url": "s3://bucket/key",
            "IamArn": "arn:aws:iam::111122223333:role/x",
            "ControlDomainId": "UNCATEGORIZED",
            "TimestampUUID": "1700000000_11111111-2222-4333-8444-555555555555",
            "Filename": "file.txt",
            "ManualEvidenceLocalFileName": "file.txt",
            "TagKey": "k",
            "EmailAddress": "a@b.c",
            "Region": "us-east-1",
        }
        return samples.get(shape.name, "abc")
    if kind in ("integer", "long"):
        return max(1, shape.metadata.get("min", 1))
    if kind == "boolean":
        return True
    return None


@pytest.mark.parametrize("operation", MODEL.operation_names)
def test_every_operation_routes_and_parses(operation):
    op = MODEL.operation_model(operation)
    params = sample_value(op.input_shape) if op.input_shape else {}
    method, path, query, headers, body = botocore_request(operation, params)
    found = wire.match(method, path)
    assert found is not None, f"{operation}: {method} {path} did not route"
    routed, path_params = found
    assert routed.name == operation
    parsed = wire.parse_input(routed, path_params, query, {k.lower(): v for k, v in headers.items()},
                              body if isinstance(body, bytes) else body.encode())
    assert parsed == params


def test_all_62_operations_are_in_the_model():
    assert len(MODEL.operation_names) == 62


def test_greedy_arn_label_is_decoded():
    arn = "arn:aws:auditmanager:us-east-1:111122223333:control/11111111-2222-4333-8444-555555555555"
    method, path, *_ = botocore_request("ListTagsForResource", {"resourceArn": arn})
    op, path_params = wire.match(method, path)
    assert op.name == "ListTagsForResource" and path_params == {"resourceArn": arn}


def test_literal_segments_win_over_labels():
    op, params = wire.match("GET", "/assessments/abc/evidenceFolders")
    assert op.name == "GetEvidenceFoldersByAssessment" and params == {"assessmentId": "abc"}


def _problems(operation, params):
    op = MODEL.operation_model(operation)
    method, path, query, headers, body = botocore_request(operation, params)
    _, path_params = wire.match(method, path)
    with pytest.raises(ValidationError) as caught:
        wire.parse_input(op, path_params, query, headers, body or b"")
    return {f["name"]: f["message"] for f in caught.value.fields}


def test_every_constraint_is_checked_and_named():
    fields = _problems("CreateControl", {
        "name": "x" * 301,                      # max length
        "description": "d",
        "controlMappingSources": [{
            "sourceName": "",                   # min length
            "sourceType": "AWS_Bogus",          # enum
            "sourceKeyword": {"keywordValue": "bad$value"},  # pattern
        }],
        "tags": {"aws:reserved": "v"},          # key pattern
    })
    assert "Member must have length less than or equal to 300" in fields["name"]
    assert "greater than or equal to 1" in fields["controlMappingSources[0].sourceName"]
    assert "enum" in fields["controlMappingSources[0].sourceType"]
    assert "pattern" in fields["controlMappingSources[0].sourceKeyword.keywordValue"]
    assert "pattern" in fields["tags.key"]


def test_required_members_and_types():
    op = MODEL.operation_model("CreateControl")
    with pytest.raises(ValidationError) as caught:
        wire.parse_input(op, {}, [], {}, b'{"name": 5}')
    fields = {f["name"]: f["message"] for f in caught.value.fields}
    assert fields == {"name": "Member must be a string.",
                      "controlMappingSources": "Member must not be null."}
    assert caught.value.reason == "fieldValidationFailed"


def test_query_integers_and_ranges():
    op = MODEL.operation_model("ListControls")
    with pytest.raises(ValidationError) as caught:
        wire.parse_input(op, {}, [("controlType", "Custom"), ("maxResults", "x")], {}, b"")
    assert caught.value.fields[0]["name"] == "maxResults"
    with pytest.raises(ValidationError) as caught:
        wire.parse_input(op, {}, [("controlType", "Custom"), ("maxResults", "5000")], {}, b"")
    assert "less than or equal to 1000" in caught.value.fields[0]["message"]


def test_bad_json_and_unknown_members():
    op = MODEL.operation_model("CreateControl")
    with pytest.raises(ValidationError) as caught:
        wire.parse_input(op, {}, [], {}, b"{not json")
    assert caught.value.reason == "cannotParse"
    with pytest.raises(ValidationError) as caught:
        wire.parse_input(op, {}, [], {}, b'{"name": "a", "controlMappingSources": [], "bogus": 1}')
    assert {"name": "bogus", "message": "Unknown parameter."} in caught.value.fields


def test_java_style_patterns_compile():
    # CreatedBy's pattern has "\s-_" inside a class, which Java reads as a literal hyphen.
    assert wire._pattern(r"^[a-zA-Z0-9\s-_()\[\]]+$").search("alice-smith_(x)")


def test_serializer_omits_none_and_rejects_unknown_members():
    op = MODEL.operation_model("GetControl")
    body = wire.serialize_output(op, {"control": {"id": "x", "name": "n", "description": None,
                                                  "createdAt": 1.5}})
    assert body == b'{"control":{"id":"x","name":"n","createdAt":1.5}}'
    with pytest.raises(wire.WireShapeError):
        wire.serialize_output(op, {"control": {"bogus": 1}})
    with pytest.raises(wire.WireShapeError):
        wire.serialize_output(op, {"control": {"createdAt": "yesterday"}})


def test_every_operation_has_a_handler():
    from assay.api.handlers import load_all

    # A newer botocore with a new operation would answer it with NotImplementedYet, named.
    assert set(load_all()) == set(MODEL.operation_names)
