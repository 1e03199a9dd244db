"""The review console: a server-rendered web UI at /console, a second face of service/.

It never touches the store: every page is built from the same service calls as the API, with
the signed-in key as the caller, so it shows and allows exactly what that key's role allows.
See docs/console.md.
"""

from __future__ import annotations

from starlette.responses import RedirectResponse
from starlette.routing import BaseRoute, Mount, Route, Router
from starlette.staticfiles import StaticFiles

from ..service.errors import NotFoundError
from . import (assessments, audit, collection, evidence_search, library, people, reports,
               signin, sso)
from .web import HERE, Console, TrustedProxies, url


def _no_such_page(ctx):
    raise NotFoundError("page", ctx.request.url.path,
                        f"There is no console page at {ctx.request.url.path}.")


def console_routes(services) -> list[BaseRoute]:
    """The console's routes, mounted by api.app.create_app."""
    console = Console(services)
    console.env.filters["evidence_summary"] = assessments.evidence_summary
    console.env.globals["export_links"] = audit.export_links

    async def home(request):
        return RedirectResponse(url("assessments"), status_code=303)

    routes: list[BaseRoute] = [Route("/", home)]
    for module in (signin, sso, assessments, audit, library, people, collection, reports,
                   evidence_search):
        routes += module.routes(console)
    routes.append(Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"))
    routes.append(Route("/{rest:path}", console.view(_no_such_page), methods=["GET"]))
    return [Route("/console", home),
            Mount("/console", app=TrustedProxies(Router(routes), console.trusted_proxies),
                  name="console")]
