"""CloudTrail Lake's query operations, for the evidence store: StartQuery, DescribeQuery and
GetQueryResults on Assay's endpoint, so scripts written for Audit Manager's evidence finder
(``boto3.client("cloudtrail").start_query(QueryStatement=...)``) run unchanged with
``endpoint_url`` pointed at Assay.

CloudTrail speaks the AWS JSON 1.1 protocol: ``POST /`` with ``X-Amz-Target:
com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.<Operation>``; errors carry ``__type``.
Shapes: botocore's ``cloudtrail`` model (StartQuery, DescribeQuery, GetQueryResults). A query
runs when it is started (bounded by the finder's row and time limits) and its result is kept for
the principal that started it.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..service import Services
from ..service.errors import NotFoundError, ServiceError, ValidationError
from . import bodies
from .authn import authenticate, credential

TARGET = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101."
MAX_RESULTS = 1000
MAX_BODY = 64 * 1024


class LakeError(ServiceError):
    """A CloudTrail error code and message (``__type``)."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code = code
        self.status = status


# CloudTrail's signing name (botocore's cloudtrail model): boto3's cloudtrail client signs so.
LAKE_SIGNING_NAME = "cloudtrail"


def lake_routes(services: Services, fallback) -> list[Route]:
    """``POST /`` for CloudTrail's targets; everything else goes on to ``fallback``."""
    operations = {"StartQuery": _start, "DescribeQuery": _describe,
                  "GetQueryResults": _results}

    async def endpoint(request: Request) -> Response:
        target = request.headers.get("x-amz-target", "")
        if not target.startswith(TARGET):
            return await fallback(request)
        request_id = str(uuid.uuid4())
        operation = operations.get(target[len(TARGET):])
        try:
            if operation is None:
                raise LakeError("UnsupportedOperationException",
                                f"{target[len(TARGET):]} is not served by Assay: only the "
                                "evidence finder's StartQuery, DescribeQuery and "
                                "GetQueryResults are.")
            # As on the API: the credential from the headers first, then the body, to its cap.
            bodies.refuse_declared(request, MAX_BODY)
            claimed = await run_in_threadpool(credential, services, request, LAKE_SIGNING_NAME)
            body = await bodies.read(request, MAX_BODY)
            result = await run_in_threadpool(_call, services, request, body, operation, claimed)
        except ServiceError as error:
            code = {"ValidationException": "InvalidParameterException",
                    "ResourceNotFoundException": "QueryIdNotFoundException"}.get(
                        error.code, error.code)
            return Response(json.dumps({"__type": code, "message": error.message}),
                            status_code=error.status, media_type="application/x-amz-json-1.1",
                            headers={"x-amzn-ErrorType": code, "x-amzn-RequestId": request_id})
        return Response(json.dumps(result), media_type="application/x-amz-json-1.1",
                        headers={"x-amzn-RequestId": request_id})

    return [Route("/", endpoint, methods=["POST"])]


def _call(services: Services, request: Request, body: bytes, operation,
          claimed) -> dict[str, Any]:
    caller = authenticate(services, request, "/", body, claimed)
    services.account.require_active()
    try:
        params = json.loads(body or b"{}")
    except ValueError:
        raise LakeError("InvalidParameterException", "The request body is not JSON.")
    if not isinstance(params, dict):
        raise LakeError("InvalidParameterException", "The request body is not a JSON object.")
    return operation(services, caller, params)


def _required(params: dict, name: str) -> str:
    value = params.get(name)
    if not isinstance(value, str) or not value:
        raise LakeError("InvalidParameterException", f"{name} is required.")
    return value


def _start(services: Services, caller, params: dict) -> dict[str, Any]:
    sql = _required(params, "QueryStatement")
    if params.get("DeliveryS3Uri"):
        raise LakeError("InvalidParameterException", "DeliveryS3Uri is not supported: read "
                        "the result with GetQueryResults, or export it with `assay evidence "
                        "query --format csv`.")
    try:
        return {"QueryId": services.finder.start_query(caller, sql)}
    except ValidationError as error:
        message = error.fields[0]["message"] if error.fields else error.message
        raise LakeError("InvalidQueryStatementException", message)


def _statistics(record: dict) -> dict[str, Any]:
    return {"EventsMatched": record["count"], "EventsScanned": record["count"],
            "BytesScanned": record["size"], "ExecutionTimeInMillis": record["millis"],
            "CreationTime": record["createdAt"]}


def _describe(services: Services, caller, params: dict) -> dict[str, Any]:
    record = services.finder.query_record(caller, _required(params, "QueryId"))
    return {"QueryId": record["queryId"], "QueryString": record["queryString"],
            "QueryStatus": "FINISHED", "QueryStatistics": _statistics(record),
            **({"ErrorMessage": _truncated(record)} if record["truncated"] else {})}


def _results(services: Services, caller, params: dict) -> dict[str, Any]:
    query_id = _required(params, "QueryId")
    size = params.get("MaxQueryResults", MAX_RESULTS)
    if not isinstance(size, int) or not 1 <= size <= MAX_RESULTS:
        raise LakeError("InvalidMaxResultsException",
                        f"MaxQueryResults must be 1 to {MAX_RESULTS}.")
    token = params.get("NextToken") or "row-0"
    if not (isinstance(token, str) and token.startswith("row-") and token[4:].isdigit()):
        raise LakeError("InvalidNextTokenException", "NextToken is not one this query gave.")
    offset = int(token[4:])
    try:
        record, rows = services.finder.query_page(caller, query_id, offset, size)
    except NotFoundError:
        raise LakeError("QueryIdNotFoundException", f"Query {query_id} was not found.")
    columns = record["columns"]
    out: dict[str, Any] = {
        "QueryStatus": "FINISHED",
        "QueryStatistics": {"ResultsCount": len(rows), "TotalResultsCount": record["count"],
                            "BytesScanned": record["size"]},
        "QueryResultRows": [[{name: _text(value)} for name, value in zip(columns, row)]
                            for row in rows],
    }
    if offset + len(rows) < record["count"]:
        out["NextToken"] = f"row-{offset + len(rows)}"  # the model's tokens are 4+ long
    if record["truncated"]:
        out["ErrorMessage"] = _truncated(record)
    return out


def _text(value: Any) -> str:
    """CloudTrail Lake returns every value as a string."""
    return "" if value is None else str(value)


def _truncated(record: dict) -> str:
    return (f"The result stopped at {record['count']} rows, the evidence finder's row limit: "
            "narrow the query or add LIMIT.")
