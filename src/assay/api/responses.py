"""Answering in Audit Manager's format: every route of the server (the API, upload and download
links, the internal sharing endpoint) sends errors the same way, with a request id."""

from __future__ import annotations

import logging
import uuid
from typing import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from ..service.errors import AuthError, ServiceError, ValidationError
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


async def answer(request: Request, produce: Callable[[], Awaitable[tuple[int, bytes]]]) -> Response:
    """Run ``produce`` (returning status and JSON body); a refusal becomes its AWS error, a bug a
    500 that leaks nothing but a request id to quote (the trace goes to the log)."""
    request_id = str(uuid.uuid4())
    try:
        status, body = await produce()
    except ServiceError as error:
        if not isinstance(error, (ValidationError, AuthError)):
            log.info("%s %s -> %s: %s", request.method, request.url.path, error.code,
                     error.message)
        return error_response(error, request_id)
    except Exception:
        log.exception("%s %s failed (request %s)", request.method, request.url.path, request_id)
        return error_response(ServiceError(f"Internal error; quote request id {request_id}."),
                              request_id)
    return Response(body, status_code=status, headers={"content-type": "application/json",
                                                       "x-amzn-RequestId": request_id})
