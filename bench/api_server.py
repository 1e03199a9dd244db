"""The server side of bench/api.py: Assay's app plus a bare endpoint on the same ASGI server,
the baseline that shows what the wire layer, SigV4 and the store cost.

Run as ``api_server.py HOME PORT WORKERS``; the database comes from ``ASSAY_DB_URL`` like
`assay serve`. It serves the way `assay serve --workers N` does (``assay.api.server.run``),
with this module's factory instead of Assay's own.
"""

from __future__ import annotations

import sys
from pathlib import Path

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
    from assay.api import server
    from assay.config import load_settings

    settings = load_settings(home, host="127.0.0.1", port=port, log_level="warning")
    server.run("api_server:bench_app", settings, workers, app_dir=str(Path(__file__).parent),
               access_log=False)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
