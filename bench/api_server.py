"""The server side of bench/api.py: Assay's app plus a bare endpoint on the same ASGI server,
the baseline that shows what the wire layer, SigV4 and the store cost.

Run as ``api_server.py HOME PORT WORKERS``; the database comes from ``ASSAY_DB_URL`` like
`assay serve`. Several workers run the way `assay serve --workers N` runs them: uvicorn's
process manager importing the application factory in each worker.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import uvicorn
from starlette.responses import Response
from starlette.routing import Route


async def bare(request):
    await request.body()
    return Response(b'{"control":{}}', media_type="application/json")


def bench_app():
    """The application factory each worker calls: Assay's app with /__bare added."""
    from assay.api.app import create_app
    from assay.config import load_settings
    from assay.service import open_services

    services = open_services(load_settings())
    return create_app(services, extra_routes=[Route("/__bare", bare, methods=["GET"])])


def main(home: str, port: int, workers: int) -> None:
    os.environ["ASSAY_HOME"] = home
    uvicorn.run("api_server:bench_app", factory=True, app_dir=str(Path(__file__).parent),
                host="127.0.0.1", port=port, workers=workers, log_level="warning",
                access_log=False)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
