"""The Audit Manager wire protocol, driven by botocore's ``auditmanager`` model.

Everything here is generic: routing by HTTP method and URI template, reading parameters from
the path, query string, headers and JSON body, validating them against the model's constraints,
and serializing handler results to the operation's output shape. Adding an operation adds a
handler, never machinery.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Iterable
from urllib.parse import unquote

import orjson
from botocore.model import OperationModel, ServiceModel, Shape

from ..model.sdk import data_session
from ..service.errors import ServiceError, ValidationError

SERVICE_NAME = "auditmanager"


@functools.cache
def service_model() -> ServiceModel:
    return data_session().get_service_model(SERVICE_NAME)


# --------------------------------------------------------------------------- routing


@dataclass(frozen=True)
class Route:
    operation: OperationModel
    method: str
    pattern: re.Pattern
    labels: tuple[str, ...]
    literal_weight: int  # more literal characters win: /evidenceFolders beats /{evidenceId}


def _compile_route(op: OperationModel) -> Route:
    path = op.http["requestUri"].split("?", 1)[0]
    labels: list[str] = []
    regex = ""
    literal = 0
    for part in re.split(r"(\{[^}]+\})", path):
        if part.startswith("{"):
            name = part[1:-1]
            greedy = name.endswith("+")
            labels.append(name.rstrip("+"))
            regex += "(.+)" if greedy else "([^/]+)"
        else:
            regex += re.escape(part)
            literal += len(part)
    return Route(op, op.http["method"], re.compile(f"^{regex}/?$"), tuple(labels), literal)


@functools.cache
def routes() -> tuple[Route, ...]:
    model = service_model()
    compiled = [_compile_route(model.operation_model(name)) for name in model.operation_names]
    return tuple(sorted(compiled, key=lambda r: -r.literal_weight))


@functools.cache
def _routes_by_start() -> dict[tuple[str, str], tuple[Route, ...]]:
    """The routes of each method and first path segment (every operation's URI starts with a
    literal one: /controls, /assessments...), in ``routes()``'s order."""
    index: dict[tuple[str, str], list[Route]] = {}
    for route in routes():
        first = route.operation.http["requestUri"].split("?", 1)[0].split("/")[1]
        if "{" in first:
            raise RuntimeError(f"{route.operation.name}'s URI starts with a label")
        index.setdefault((route.method, first), []).append(route)
    return {key: tuple(found) for key, found in index.items()}


def match(method: str, raw_path: str) -> tuple[OperationModel, dict[str, str]] | None:
    """Find the operation for a request. ``raw_path`` is still percent-encoded so that an
    encoded ``/`` inside a label (an ARN in /tags/{resourceArn}) does not split it."""
    first = raw_path[1:].split("/", 1)[0] if raw_path.startswith("/") else None
    for route in _routes_by_start().get((method, first), ()):
        found = route.pattern.match(raw_path)
        if found:
            return route.operation, {
                label: unquote(value) for label, value in zip(route.labels, found.groups())
            }
    return None


def allowed_methods(raw_path: str) -> set[str]:
    return {r.method for r in routes() if r.pattern.match(raw_path)}


# --------------------------------------------------------------------------- parsing


def parse_input(
    op: OperationModel,
    path_params: dict[str, str],
    query: Iterable[tuple[str, str]],
    headers: dict[str, str],
    body: bytes,
) -> dict[str, Any]:
    """Build the operation's input dict from the request and validate it.

    Raises ``ValidationError`` listing every offending field; never returns partial input.
    """
    shape = op.input_shape
    if shape is None:
        return {}
    query_values: dict[str, list[str]] = {}
    for key, value in query:
        query_values.setdefault(key, []).append(value)

    try:
        document = orjson.loads(body) if body.strip() else {}
    except orjson.JSONDecodeError as exc:
        raise ValidationError(f"The request body is not valid JSON: {exc}", reason="cannotParse")
    if not isinstance(document, dict):
        raise ValidationError("The request body must be a JSON object.", reason="cannotParse")

    params: dict[str, Any] = {}
    problems: list[dict[str, str]] = []
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire_name = member.serialization.get("name", name)
        if location == "uri":
            if wire_name in path_params:
                params[name] = _from_text(member, path_params[wire_name], name, problems)
        elif location == "querystring":
            if wire_name in query_values:
                values = query_values[wire_name]
                if member.type_name == "list":
                    params[name] = [_from_text(member.member, v, name, problems) for v in values]
                else:
                    params[name] = _from_text(member, values[-1], name, problems)
        elif location == "header":
            value = headers.get(wire_name.lower())
            if value is not None:
                params[name] = _from_text(member, value, name, problems)
        elif document.get(name) is not None:  # a null member is an absent one, as in AWS
            params[name] = _without_null_members(member, document[name])

    unknown = sorted(set(document) - {n for n, m in shape.members.items()
                                      if "location" not in m.serialization})
    for name in unknown:
        problems.append({"name": name, "message": "Unknown parameter."})

    if not problems:
        validate(shape, params, "", problems)
    if problems:
        raise ValidationError.for_fields(problems)
    return params


def _without_null_members(shape: Shape, value: Any) -> Any:
    """``value`` with every null structure member left out (JSON clients send ``null`` for
    "not given"). Nulls inside lists and maps stay, for ``validate`` to refuse by name."""
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        return {k: (_without_null_members(shape.members[k], v) if k in shape.members else v)
                for k, v in value.items() if v is not None}
    if kind == "list" and isinstance(value, list):
        return [_without_null_members(shape.member, item) for item in value]
    if kind == "map" and isinstance(value, dict):
        return {k: _without_null_members(shape.value, v) for k, v in value.items()}
    return value


def _from_text(shape: Shape, text: str, name: str, problems: list) -> Any:
    """Path, query and header values arrive as text; convert them to the member's type."""
    if shape.type_name in ("integer", "long"):
        try:
            return int(text)
        except ValueError:
            problems.append({"name": name, "message": f"Value '{text}' is not an integer."})
            return None
    if shape.type_name == "boolean":
        if text.lower() in ("true", "false"):
            return text.lower() == "true"
        problems.append({"name": name, "message": f"Value '{text}' is not a boolean."})
        return None
    return text


# --------------------------------------------------------------------------- validation


@functools.cache
def _pattern(source: str) -> re.Pattern:
    """Model patterns are Java/ECMAScript regexes. A few use a hyphen after a class escape
    (``[\\s-_]``), which Java reads as a literal hyphen and Python rejects: escape it."""
    try:
        return re.compile(source)
    except re.error:
        return re.compile(re.sub(r"(\\[sSwWdD])-", r"\1\\-", source))


_TYPE_NAMES = {
    "string": "a string", "integer": "an integer", "long": "an integer", "boolean": "a boolean",
    "structure": "an object", "list": "a list", "map": "a map", "timestamp": "a timestamp",
    "double": "a number", "float": "a number", "blob": "a string",
}


def validate(shape: Shape, value: Any, path: str, problems: list[dict[str, str]]) -> None:
    """Check ``value`` against ``shape``, appending ``{name, message}`` for every violation."""
    kind = shape.type_name
    name = path or shape.name

    def fail(message: str) -> None:
        problems.append({"name": name, "message": message})

    if value is None:
        return
    if not _has_type(kind, value):
        fail(f"Member must be {_TYPE_NAMES.get(kind, kind)}.")
        return
    meta = shape.metadata
    if kind == "structure":
        for required in shape.required_members:
            if value.get(required) is None:
                problems.append({"name": _join(path, required), "message": "Member must not be null."})
        for member_name, member_value in value.items():
            member = shape.members.get(member_name)
            if member is None:
                problems.append({"name": _join(path, member_name), "message": "Unknown parameter."})
            else:
                validate(member, member_value, _join(path, member_name), problems)
        return
    if kind == "list":
        _check_range(len(value), meta, "have length", fail)
        for index, item in enumerate(value):
            if item is None:  # a list element is never optional
                problems.append({"name": f"{name}[{index}]", "message": "Member must not be null."})
            else:
                validate(shape.member, item, f"{name}[{index}]", problems)
        return
    if kind == "map":
        _check_range(len(value), meta, "have length", fail)
        for key, item in value.items():
            validate(shape.key, key, f"{name}.key", problems)
            if item is None:
                problems.append({"name": f"{name}.{key}", "message": "Member must not be null."})
            else:
                validate(shape.value, item, f"{name}.{key}", problems)
        return
    if kind == "string":
        if "\x00" in value:  # no text column (PostgreSQL's least of all) stores NUL
            fail("Member must not contain NUL (U+0000) characters.")
            return
        if shape.enum and value not in shape.enum:
            fail(f"Member must satisfy enum value set: [{', '.join(shape.enum)}].")
            return
        _check_range(len(value), meta, "have length", fail)
        pattern = meta.get("pattern")
        if pattern and not _pattern(pattern).search(value):
            fail(f"Member must satisfy regular expression pattern: {pattern}")
        return
    if kind in ("integer", "long"):
        # The model's integers are Java's (32-bit ``integer``, 64-bit ``long``): a larger
        # number fits no column and no other SDK.
        bits = 31 if kind == "integer" else 63
        if not -(2 ** bits) <= value < 2 ** bits:
            fail(f"Member must be a {bits + 1}-bit integer.")
            return
        _check_range(value, meta, "have value", fail)


def check_input(operation: str, params: dict[str, Any]) -> None:
    """Validate an operation's input built elsewhere than an HTTP request (the console's forms)
    exactly as a request's would be; raise ``ValidationError`` naming each field."""
    problems: list[dict[str, str]] = []
    validate(service_model().operation_model(operation).input_shape, params, "", problems)
    if problems:
        raise ValidationError.for_fields(problems)


def _has_type(kind: str, value: Any) -> bool:
    if kind == "structure" or kind == "map":
        return isinstance(value, dict)
    if kind == "list":
        return isinstance(value, list)
    if kind == "string":
        return isinstance(value, str)
    if kind in ("integer", "long"):
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind in ("timestamp", "double", "float"):  # JSON timestamps are epoch seconds
        return (isinstance(value, (int, float)) and not isinstance(value, bool)
                and math.isfinite(value))
    return True


def _check_range(amount: int, meta: dict, noun: str, fail) -> None:
    low, high = meta.get("min"), meta.get("max")
    if low is not None and amount < low:
        fail(f"Member must {noun} greater than or equal to {low}.")
    if high is not None and amount > high:
        fail(f"Member must {noun} less than or equal to {high}.")


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


# --------------------------------------------------------------------------- serialization


class WireShapeError(Exception):
    """A handler returned something the output shape cannot carry: a bug in Assay."""


def deprecated_members(shape: Shape) -> frozenset[str]:
    """Members the model marks ``deprecated`` in ``shape`` (Scope.awsServices,
    Framework.controlSources, AssessmentControl.description). AWS ignores them on input and
    returns them empty; the service never stores them and the serializer never echoes them."""
    found = _DEPRECATED.get(shape.name)
    if found is None:
        members = getattr(shape, "_shape_model", {}).get("members") or {}
        found = _DEPRECATED[shape.name] = frozenset(
            name for name, ref in members.items() if ref.get("deprecated"))
    return found


_DEPRECATED: dict[str, frozenset[str]] = {}

# Assay's own response members, beside the model's, per output shape: plain JSON data that the
# service builds, sent as it is. Only where every client ignores them: botocore's JSON parsers
# read the members of the output shape and skip any other key (so boto3, the aws CLI and the
# other SDKs parse the response as before), which tests/integration/test_controls.py checks
# against a live server with boto3 and the aws CLI.
#   GetControlResponse.equivalentControls: the control's crosswalk (ControlService.equivalents).
ASSAY_MEMBERS: dict[str, frozenset[str]] = {
    "GetControlResponse": frozenset({"equivalentControls"}),
}


def serialize_output(op: OperationModel, result: dict[str, Any]) -> bytes:
    """The JSON body of ``result`` in the operation's output shape. Raises ``WireShapeError``
    (naming the member) when ``result`` holds something the shape cannot carry."""
    shape = op.output_shape
    if shape is None:
        return b"{}"
    try:
        return orjson.dumps(_serializer(shape)(result))
    except _Mismatch as mismatch:
        raise WireShapeError(f"{shape.name}{''.join(reversed(mismatch.path))}: {mismatch}")


class _Mismatch(Exception):
    """A value that does not fit its shape; containers add their key on the way out, so the
    happy path never builds a member path."""

    def __init__(self, message: str):
        super().__init__(message)
        self.path: list[str] = []


# Shape name -> its serializer. Shape names are unique within the model, and every
# serializer is built once per process: requests then never walk the model again. A cycle
# always passes through a structure, which is registered before its members are built.
_SERIALIZERS: dict[str, Callable[[Any], Any]] = {}


def _serializer(shape: Shape) -> Callable[[Any], Any]:
    found = _SERIALIZERS.get(shape.name)
    if found is None:
        found = _compile_serializer(shape)
    return found


def _compile_serializer(shape: Shape) -> Callable[[Any], Any]:
    """Build the function that turns a handler's value of ``shape`` into JSON-ready data:
    absent (None) members omitted, timestamps as epoch seconds, every type checked."""
    kind = shape.type_name
    if kind == "structure":
        members: dict[str, Callable[[Any], Any]] = {}
        # Members whose value passes as it is when of exactly this class (strings, booleans,
        # integers; timestamps already in epoch seconds): checked here, without a call.
        deprecated = deprecated_members(shape)
        extra = ASSAY_MEMBERS.get(shape.name, frozenset())
        plain: dict[str, type] = {
            key: _PLAIN[member.type_name] for key, member in shape.members.items()
            if member.type_name in _PLAIN and key not in deprecated}
        name = shape.name

        def structure(value: Any) -> Any:
            if not isinstance(value, dict):
                raise _Mismatch(f"expected a structure, got {type(value).__name__}")
            out = {}
            for key, item in value.items():
                cls = item.__class__
                if cls is plain.get(key) and (cls is not float or item - item == 0.0):
                    out[key] = item  # (x - x is 0.0 for every float but inf and nan)
                    continue
                convert = members.get(key)
                if convert is None:
                    if key in extra:
                        if item:  # empty is omitted, as for the model's own members
                            out[key] = item
                        continue
                    raise _Mismatch(f"{key} is not a member of {name}")
                if key in deprecated:
                    # Returned as AWS does: empty (a list) or not at all.
                    item = [] if shape.members[key].type_name == "list" else None
                if item is None:
                    continue  # absent members are omitted, as AWS does
                try:
                    out[key] = convert(item)
                except _Mismatch as mismatch:
                    raise _at(mismatch, f".{key}")
            return out

        # Registered before its members are built: a shape may contain itself.
        _SERIALIZERS[shape.name] = structure
        members.update({key: _serializer(member) for key, member in shape.members.items()})
        return structure
    if kind == "list":
        convert_item = _serializer(shape.member)

        def sequence(value: Any) -> Any:
            try:
                return [convert_item(item) for item in value]
            except _Mismatch as mismatch:
                raise _at(mismatch, "[]")

        convert = sequence
    elif kind == "map":
        convert_value = _serializer(shape.value)

        def mapping(value: Any) -> Any:
            if not isinstance(value, dict):
                raise _Mismatch(f"expected a map, got {type(value).__name__}")
            out = {}
            for key, item in value.items():
                try:
                    out[str(key)] = convert_value(item)
                except _Mismatch as mismatch:
                    raise _at(mismatch, f".{key}")
            return out

        convert = mapping
    elif kind == "timestamp":
        convert = _timestamp
    elif kind == "string":
        convert = _checker(str, "a string")
    elif kind in ("integer", "long"):
        convert = _integer
    elif kind == "boolean":
        convert = _checker(bool, "a boolean")
    else:
        convert = _as_is
    _SERIALIZERS[shape.name] = convert
    return convert


_PLAIN = {"string": str, "boolean": bool, "integer": int, "long": int, "timestamp": float}


def _at(mismatch: _Mismatch, step: str) -> _Mismatch:
    mismatch.path.append(step)
    return mismatch


def _checker(kind: type, noun: str) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if value.__class__ is not kind and not isinstance(value, kind):
            raise _Mismatch(f"expected {noun}, got {value!r}")
        return value
    return check


def _integer(value: Any) -> Any:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _Mismatch(f"expected an integer, got {value!r}")
    return value


def _timestamp(value: Any) -> Any:
    if value.__class__ is float and math.isfinite(value):  # what the store holds
        return value
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return value
    raise _Mismatch(f"expected a timestamp, got {value!r}")


def _as_is(value: Any) -> Any:
    return value


# --------------------------------------------------------------------------- errors


def error_body(error: ServiceError) -> bytes:
    body: dict[str, Any] = {"message": error.message}
    body.update(error.extra())
    return orjson.dumps(body)


def error_headers(error: ServiceError) -> dict[str, str]:
    return {"x-amzn-ErrorType": error.code, "content-type": "application/json"}
