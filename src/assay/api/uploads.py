"""The PUT target of GetEvidenceFileUploadUrl for the local blob store: like an S3 presigned
URL, the link itself is the credential (signed by the instance, short-lived, single use)."""

from __future__ import annotations

import tempfile
from urllib.parse import unquote


from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..service import Services
from ..service.errors import ServiceError
from ..service.evidence import MAX_FILE_BYTES
from ..store.blobs import read_chunks
from . import bodies
from .responses import error_response


def upload_routes(services: Services) -> list[Route]:
    async def receive(request: Request) -> Response:
        name = unquote(request.path_params["name"])
        expires = request.query_params.get("expires", "")
        signature = request.query_params.get("signature", "")
        what = "An evidence file"
        try:
            bodies.refuse_declared(request, MAX_FILE_BYTES, what)
            # The link is the credential: checked before a byte of the file is read.
            await run_in_threadpool(services.evidence.check_upload_link, name, expires, signature)
            # Spool to disk as it arrives (bounded memory), then hash into the blob store.
            with tempfile.SpooledTemporaryFile(max_size=4 * 1024 * 1024) as spool:
                await bodies.spool(request, MAX_FILE_BYTES, spool, what)
                spool.seek(0)
                await run_in_threadpool(services.evidence.receive_upload, name, expires,
                                        signature, read_chunks(spool))
        except ServiceError as error:
            return error_response(error)
        return Response(status_code=200)

    return [Route("/_assay/uploads/{name:path}", receive, methods=["PUT"])]

