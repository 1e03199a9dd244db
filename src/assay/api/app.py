"""The HTTP server: one Starlette application serving the Audit Manager API at the root and,
later, the console under /console. Requests flow: route -> SigV4 -> validate -> handler ->
serialize; every failure leaves as an Audit Manager error."""

from __future__ import annotations

import asyncio
import functools
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ..console import console_routes
from ..service import Services
from ..service.errors import NotImplementedYet, ServiceError
from . import bodies, wire
from .authn import authenticate, credential
from .cloudtrail_lake import lake_routes
from .handlers import ALWAYS_AVAILABLE, STEPWISE_WRITES, load_all
from .handlers.posture import posture_routes
from .handlers.sharing import sharing_routes
from .reports_download import report_routes
from .responses import answer
from .uploads import upload_routes

MAX_BODY = 10 * 1024 * 1024  # JSON requests; files go through upload URLs, not the API
# A body declared at most this long is read before the signature is checked (the memory is
# bounded by the declaration); a longer or chunked one only after its credential holds.
SMALL_BODY = 64 * 1024
# Threads that run API calls (they block on the database). asyncio's executor hand-off costs
# about half the Python calls of anyio's run_in_threadpool (bench/README.md); the store's
# connection pools have room for all of them.
API_THREADS = 32


class UnknownOperation(ServiceError):
    code = "UnknownOperationException"
    status = 404


class AuditManagerAPI:
    """The API endpoint as a plain ASGI-callable object over the service layer."""

    def __init__(self, services: Services):
        self.services = services
        self.handlers = load_all()
        self.threads = ThreadPoolExecutor(API_THREADS, thread_name_prefix="assay-api")

    async def endpoint(self, request: Request) -> Response:
        return await answer(request, lambda: self._handle(request))

    async def _handle(self, request: Request) -> tuple[int, bytes]:
        raw_path = request.scope.get("raw_path", request.url.path.encode()).decode("latin-1")
        raw_path = raw_path.split("?", 1)[0]
        found = wire.match(request.method, raw_path)
        if found is None:
            raise UnknownOperation(
                f"No Audit Manager operation matches {request.method} {request.url.path}.")
        op, path_params = found

        # Who claims to ask is checked on the headers alone; only then is the body read (to
        # its cap), so an unauthenticated client cannot make the server hold a large body.
        bodies.refuse_declared(request, MAX_BODY)
        loop = asyncio.get_running_loop()
        claimed = None
        declared = request.headers.get("content-length", "")
        if not (declared.isdigit() and int(declared) <= SMALL_BODY):
            # A large or chunked body: its credential is checked (another thread hop) first.
            claimed = await loop.run_in_executor(
                self.threads, functools.partial(credential, self.services, request))
        body = await bodies.read(request, MAX_BODY)
        # One worker-thread hop per request: authenticate, validate, then run the handler.
        answer_body = await loop.run_in_executor(self.threads, functools.partial(
            self._authorized_call, request, raw_path, body, op, path_params, claimed))
        return op.http.get("responseCode", 200), answer_body

    def _authorized_call(self, request: Request, raw_path: str, body: bytes, op,
                         path_params: dict[str, str], claimed=None) -> bytes:
        # The key, the account status and a read operation's own reads: one transaction.
        with self.services.store.request():
            return self._call(request, raw_path, body, op, path_params, claimed)

    def _call(self, request: Request, raw_path: str, body: bytes, op,
              path_params: dict[str, str], claimed=None) -> bytes:
        caller = authenticate(self.services, request, raw_path, body, claimed)
        params = wire.parse_input(op, path_params, request.query_params.multi_items(),
                                  dict(request.headers), body)
        handler = self.handlers.get(op.name)
        if handler is None:
            raise NotImplementedYet(op.name)
        if op.http["method"] == "GET" or op.name in STEPWISE_WRITES:
            return wire.serialize_output(op, self._invoke(op.name, handler, caller, params))
        # A write commits only once its answer is serialized: an answer that does not fit
        # the output shape (a bug) is an InternalServerException that leaves nothing written,
        # rather than a 500 over stored data that every later read would fail on too.
        with self.services.store.atomic():
            return wire.serialize_output(op, self._invoke(op.name, handler, caller, params))

    def _invoke(self, operation: str, handler, caller, params: dict[str, Any]) -> dict[str, Any]:
        if operation not in ALWAYS_AVAILABLE:
            self.services.account.require_active()
        return handler(self.services, caller, params)


# How uvicorn must serve the app: it rewrites the client address from X-Forwarded-For by
# itself (believing any loopback peer) unless told not to; Assay decides which proxies it
# trusts (settings.trusted_proxies), so uvicorn must not.
SERVER_OPTIONS = {"proxy_headers": False, "server_header": False}


def create_app(services: Services, extra_routes: list[BaseRoute] | None = None) -> Starlette:
    api = AuditManagerAPI(services)
    methods = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"]
    routes: list[BaseRoute] = (list(extra_routes or []) + upload_routes(services)
                               + report_routes(services) + sharing_routes(services)
                               + posture_routes(services)
                               + console_routes(services)
                               + lake_routes(services, api.endpoint))
    routes.append(Route("/{path:path}", api.endpoint, methods=methods))
    app = Starlette(routes=routes)
    app.state.services = services
    return app
