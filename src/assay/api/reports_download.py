"""The GET target of GetAssessmentReportUrl for reports in Assay's own store: like an S3
presigned URL, the link itself is the credential (signed by the instance, 15 minutes)."""

from __future__ import annotations

from urllib.parse import unquote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from ..service import Services
from ..service.errors import ServiceError
from .responses import error_response


def report_routes(services: Services) -> list[Route]:
    async def download(request: Request) -> Response:
        report_id = unquote(request.path_params["report_id"])
        try:
            name, size, chunks = await run_in_threadpool(
                services.reports.open_download, report_id,
                request.query_params.get("expires", ""), request.query_params.get("signature", ""))
        except ServiceError as error:
            return error_response(error)
        headers = {"content-disposition": f'attachment; filename="{name}"'}
        if size is not None:
            headers["content-length"] = str(size)
        return StreamingResponse(chunks, media_type="application/zip", headers=headers)

    return [Route("/_assay/reports/{report_id}.zip", download, methods=["GET"])]
