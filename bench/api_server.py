"""The server side of bench/api.py: Assay's app plus a bare endpoint on the same ASGI server,
the baseline that shows what the wire layer and SigV4 cost."""

from __future__ import annotations

import sys

import uvicorn
from starlette.responses import Response
from starlette.routing import Route

from assay.api.app import create_app
from assay.config import load_settings
from assay.service import open_services


async def bare(request):
    await request.body()
    return Response(b'{"control":{}}', media_type="application/json")


def main(home: str, port: int) -> None:
    services = open_services(load_settings(home))
    app = create_app(services, extra_routes=[Route("/__bare", bare, methods=["GET"])])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
