"""The review console: a server-rendered web UI at /console, a second face of service/."""

from __future__ import annotations

from starlette.routing import BaseRoute


def console_routes(services) -> list[BaseRoute]:
    """The console's routes, mounted by api.app.create_app."""
    return []
