"""Serving the application with uvicorn: in this process, or in several worker processes.

Two things uvicorn does not do by itself that an API server under load needs:

- Nagle's algorithm off on every connection (``TCP_NODELAY``). uvicorn writes a response's
  head and body separately; with Nagle on, the body waits for the client to acknowledge the
  head, which a client delays by up to 40 ms. asyncio turns it off only for sockets created
  with ``IPPROTO_TCP``, which uvicorn's own listening socket is not.
- Several workers: uvicorn then needs the application as an import string, and each worker
  process builds its own app (``app_from_environment``) from the settings the parent exported.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from ..config import Settings, load_settings, settings_environment

FACTORY = "assay.api.server:app_from_environment"


class NoDelayH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, with Nagle's algorithm off on each connection."""

    def connection_made(self, transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)


def app_from_environment():
    """The application factory of each worker process: settings from ``ASSAY_*`` (exported by
    ``run`` in the parent), services opened in this process. The schedule is the parent's."""
    from ..jobs import attach
    from ..jobs.queue import Deferrer, is_queue_backend
    from ..service import open_services
    from .app import create_app

    services = open_services(load_settings())
    # "Collect now", report builds and the finder's build go where the parent's do: the queue
    # on PostgreSQL, threads of this worker on the embedded default.
    attach(services, Deferrer(services) if is_queue_backend(services) else None)
    return create_app(services)


def run(app: Any, settings: Settings, workers: int = 1, **options: Any) -> None:
    """Serve ``app`` on ``settings.host:settings.port``. ``app`` is an ASGI application (one
    worker, in this process) or the import string of an application factory (``workers``
    processes, each calling it; ``FACTORY`` for Assay's own app). ``options`` go to uvicorn, over
    ``app.SERVER_OPTIONS``."""
    import uvicorn

    if workers < 1:
        raise ValueError("workers must be 1 or more")
    if workers > 1 and not isinstance(app, str):
        raise ValueError("several workers need the application factory's import string")
    if isinstance(app, str):
        os.environ.update(settings_environment(settings))  # what the workers load
        options.update(factory=True, workers=workers)
    options.setdefault("log_level", settings.log_level)
    from .app import SERVER_OPTIONS

    uvicorn.run(app, host=settings.host, port=settings.port, http=NoDelayH11Protocol,
                **{**SERVER_OPTIONS, **options})
