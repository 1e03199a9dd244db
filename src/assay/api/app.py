"""The HTTP server: one Starlette application serving the Audit Manager API at the root and,
later, the console under /console. Requests flow: route -> SigV4 -> validate -> handler ->
serialize; every failure leaves as an Audit Manager error.

An Audit Manager request (a path and method of an operation in the model) goes straight to
``AuditManagerAPI.serve`` as plain ASGI, without Starlette's router, middleware, ``Request``
and ``Response``: those cost more Python calls than the rest of a small read (bench/README.md,
"api"). Every other route (the console, Assay's own ``/_assay/`` endpoints, CloudTrail Lake's
``POST /``) is Starlette's; none of their paths is an operation's (``OWN_PREFIXES``)."""

from __future__ import annotations

import asyncio
import functools
import gc
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ..console import console_routes
from ..service import Services
from ..service.errors import NotImplementedYet, ServiceError
from ..store import WouldBlock
from . import bodies, sigv4, wire
from .authn import caller_of, credential_of
from .cloudtrail_lake import lake_routes
from .handlers import ALWAYS_AVAILABLE, STEPWISE_WRITES, STORE_READS, load_all
from .handlers.posture import posture_routes
from .handlers.sharing import sharing_routes
from .reports_download import report_routes
from .responses import answer, outcome
from .uploads import upload_routes

MAX_BODY = 10 * 1024 * 1024  # JSON requests; files go through upload URLs, not the API
# A body declared at most this long is read before the signature is checked (the memory is
# bounded by the declaration); a longer or chunked one only after its credential holds.
SMALL_BODY = 64 * 1024
# Threads that run API calls (they block on the database). asyncio's executor hand-off costs
# about half the Python calls of anyio's run_in_threadpool (bench/README.md). On PostgreSQL
# fewer: each may hold a connection, and one server's share of the database's connection
# limit is store.PG_POOL_SIZE + PG_MAX_OVERFLOW (one more than these threads, plus the loop's).
API_THREADS = 32
API_THREADS_POSTGRESQL = 16
# Paths of the server's own routes (Starlette's), never an Audit Manager operation's: the
# console, Assay's internal endpoints, and routes added by ``extra_routes`` (``/__...``).
OWN_PREFIXES = ("/console", "/_assay/", "/__")


class UnknownOperation(ServiceError):
    code = "UnknownOperationException"
    status = 404


class AuditManagerAPI:
    """The API endpoint over the service layer: ``serve`` (plain ASGI) for the requests the
    application routes to it directly, ``endpoint`` (Starlette) for the rest."""

    def __init__(self, services: Services):
        self.services = services
        # This app's own table: replacing a handler in one app (tests do) leaves the others.
        self.handlers = dict(load_all())
        self.threads = ThreadPoolExecutor(
            API_THREADS if services.store.is_sqlite else API_THREADS_POSTGRESQL,
            thread_name_prefix="assay-api")
        # Store reads run on the event loop on SQLite: there a read is CPU work in this
        # process either way, and the thread hand-off and the GIL going back and forth between
        # loop and threads cost more (bench/README.md, "api"). Not on PostgreSQL: the loop
        # would wait for every round trip, and one slow statement or a database across a
        # network (0.5-1 ms a round trip, not a loopback's 50 µs) would stall every request of
        # the worker; threads wait for PostgreSQL side by side. Measured on loopback, inline
        # PostgreSQL reads were faster (GetControl 574 -> 805 req/s), which is why this is a
        # choice and not a rule.
        self.inline_reads = services.store.is_sqlite

    async def endpoint(self, request: Request) -> Response:
        return await answer(request, lambda: self._handle(request.scope, request.receive))

    async def serve(self, scope: dict, receive, send, found=None) -> None:
        """Answer one HTTP request (an ASGI ``scope``) with a JSON body. ``found``:
        ``wire.match``'s answer for it, when the caller already asked."""
        status, body, headers = await outcome(
            scope["method"], scope["path"], lambda: self._handle(scope, receive, found))
        raw = [(name.lower().encode("latin-1"), value.encode("latin-1"))
               for name, value in headers.items()]
        raw.append((b"content-length", str(len(body)).encode("latin-1")))
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": body})

    async def _handle(self, scope: dict, receive, found=None) -> tuple[int, bytes]:
        method = scope["method"]
        raw_path = _raw_path(scope)
        if found is None:
            found = wire.match(method, raw_path)
        if found is None:
            raise UnknownOperation(
                f"No Audit Manager operation matches {method} {scope['path']}.")
        op, path_params = found
        raw_query = scope.get("query_string", b"").decode("latin-1")
        headers = sigv4.header_index(
            (name.decode("latin-1"), value.decode("latin-1")) for name, value in scope["headers"])

        # Who claims to ask is checked on the headers alone; only then is the body read (to
        # its cap), so an unauthenticated client cannot make the server hold a large body.
        request = Request(scope, receive)
        bodies.refuse_declared(request, MAX_BODY)
        loop = asyncio.get_running_loop()
        claimed = None
        declared = (headers.get("content-length") or [""])[0]
        if not (declared.isdigit() and int(declared) <= SMALL_BODY):
            # A large or chunked body: its credential is checked (another thread hop) first.
            claimed = await loop.run_in_executor(self.threads, functools.partial(
                credential_of, self.services, headers, raw_query))
        body = await bodies.read(request, MAX_BODY)
        # One worker-thread hop per request: authenticate, validate, then run the handler.
        call = functools.partial(
            self._authorized_call, method, raw_path, raw_query, headers, body, op, path_params,
            claimed)
        status = op.http.get("responseCode", 200)
        if self.inline_reads and op.name in STORE_READS:
            # Done here, it saves the hand-off and the GIL's back and forth between the loop
            # and a thread.
            try:
                with self.services.store.nonblocking():
                    return status, call()
            except WouldBlock:
                pass  # it wanted to write after all: its reads rolled back, run on a thread
        return status, await loop.run_in_executor(self.threads, call)

    def _authorized_call(self, method: str, raw_path: str, raw_query: str,
                         headers: sigv4.Headers, body: bytes, op, path_params: dict[str, str],
                         claimed=None) -> bytes:
        """Authenticate, validate, run the handler and serialize its answer (the body)."""
        # The key, the account status and a read operation's own reads: one transaction.
        with self.services.store.request():
            caller = caller_of(self.services, method, raw_path, raw_query, headers, body,
                               claimed)
            params = wire.parse_input(op, path_params,
                                      parse_qsl(raw_query, keep_blank_values=True),
                                      {name: values[0] for name, values in headers.items()},
                                      body)
            handler = self.handlers.get(op.name)
            if handler is None:
                raise NotImplementedYet(op.name)
            if op.name not in ALWAYS_AVAILABLE:
                self.services.account.require_active()
            if op.http["method"] == "GET" or op.name in STEPWISE_WRITES:
                return wire.serialize_output(op, handler(self.services, caller, params))
            # A write commits only once its answer is serialized: an answer that does not fit
            # the output shape (a bug) is an InternalServerException that leaves nothing
            # written, rather than a 500 over stored data every later read would fail on too.
            with self.services.store.atomic():
                return wire.serialize_output(op, handler(self.services, caller, params))


# How uvicorn must serve the app, wherever it is started (`assay serve`, tests, benchmarks):
# - it rewrites the client address from X-Forwarded-For by itself (believing any loopback
#   peer) unless told not to; Assay decides which proxies it trusts (settings.trusted_proxies);
# - an idle keep-alive connection is kept 75 s, not uvicorn's 5: SDKs (botocore's pool) and
#   load balancers (an AWS ALB's idle timeout is 60 s) reuse a connection much later than 5 s,
#   and one the server closed as they sent on it fails with "Remote end closed connection"
#   (a retry when the SDK retries, an error when it does not, a 502 behind the balancer).
SERVER_OPTIONS = {"proxy_headers": False, "server_header": False, "timeout_keep_alive": 75}


class AssayApp(Starlette):
    """Starlette, with Audit Manager requests handed to the API before its router."""

    def __init__(self, api: AuditManagerAPI, **options: Any):
        super().__init__(**options)
        self.api = api

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith(OWN_PREFIXES):
            found = wire.match(scope["method"], _raw_path(scope))
            if found is not None:
                await self.api.serve(scope, receive, send, found)
                return
        await super().__call__(scope, receive, send)


def _raw_path(scope: dict) -> str:
    raw = scope.get("raw_path")
    return (raw.decode("latin-1") if raw is not None else scope["path"]).split("?", 1)[0]


@asynccontextmanager
async def _settled(app):
    """Once the server has started: every object alive then (the botocore model, the
    library, compiled serializers and statements) moves out of the garbage collector's
    generations, so collections during requests walk only what requests allocate. Full
    collections over the whole heap were what lengthened the slowest requests."""
    gc.collect()
    gc.freeze()
    yield


def create_app(services: Services, extra_routes: list[BaseRoute] | None = None) -> Starlette:
    api = AuditManagerAPI(services)
    methods = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"]
    routes: list[BaseRoute] = (list(extra_routes or []) + upload_routes(services)
                               + report_routes(services) + sharing_routes(services)
                               + posture_routes(services)
                               + console_routes(services)
                               + lake_routes(services, api.endpoint))
    routes.append(Route("/{path:path}", api.endpoint, methods=methods))
    app = AssayApp(api, routes=routes, lifespan=_settled)
    app.state.services = services
    return app
