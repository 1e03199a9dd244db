"""Answering in Audit Manager's format: every route of the server (the API, upload and download
links, the internal sharing endpoint) sends errors the same way, with a request id."""

from __future__ import annotations

import logging
import uuid
from typing import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from ..service.errors import AuthError, ServiceError, StoreBusy, ThrottlingError, ValidationError
from . import wire

log = logging.getLogger("assay.api")


class PayloadTooLarge(ServiceError):
    code = "EntityTooLarge"
    status = 413


def error_response(error: ServiceError, request_id: str | None = None) -> Response:
    headers = wire.error_headers(error)
    if request_id:
        headers["x-amzn-RequestId"] = request_id
    return Response(wire.error_body(error), status_code=error.status, headers=headers)


async def outcome(method: str, path: str,
                  produce: Callable[[], Awaitable[tuple[int, bytes]]]) -> tuple[int, bytes, dict]:
    """Run ``produce`` (returning status and JSON body) and give status, body and headers: a
    refusal becomes its AWS error, a bug a 500 that leaks nothing but a request id to quote
    (the trace goes to the log). ``method`` and ``path`` name the request in the log."""
    request_id = str(uuid.uuid4())
    try:
        status, body = await produce()
    except (ServiceError, StoreBusy) as error:
        if isinstance(error, StoreBusy):  # the database's connection limit: retryable
            error = ThrottlingError(f"{error}.")
        if not isinstance(error, (ValidationError, AuthError)):
            log.info("%s %s -> %s: %s", method, path, error.code, error.message)
        return error.status, wire.error_body(error), {**wire.error_headers(error),
                                                      "x-amzn-RequestId": request_id}
    except Exception:
        log.exception("%s %s failed (request %s)", method, path, request_id)
        error = ServiceError(f"Internal error; quote request id {request_id}.")
        return error.status, wire.error_body(error), {**wire.error_headers(error),
                                                      "x-amzn-RequestId": request_id}
    return status, body, {"content-type": "application/json", "x-amzn-RequestId": request_id}


async def answer(request: Request, produce: Callable[[], Awaitable[tuple[int, bytes]]]) -> Response:
    """``outcome`` as a Starlette response (the routes other than the API's own)."""
    status, body, headers = await outcome(request.method, request.url.path, produce)
    return Response(body, status_code=status, headers=headers)
