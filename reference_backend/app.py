"""``create_app(settings) -> FastAPI``: routers, middleware, error handlers, lifespan.

No app exists at import time. Routers are found, not listed: every module under a
sub-package of ``reference_backend`` (the domain packages, ``marketplace/``, ...; not
``migrations/``) that defines ``router: APIRouter`` is included, in module
name order. A module may also define ``lifespan(app)`` (an async context manager factory)
to run something for the life of the app, e.g. the outbox delivery worker.
"""

from __future__ import annotations

import gc
import importlib
import logging
import pkgutil
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from types import ModuleType
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CollectorRegistry
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

import reference_backend
from reference_backend.body_limit import BodyLimit
from reference_backend.console.app import mount_console
from reference_backend.console.web import PREFIX as CONSOLE_PREFIX
from reference_backend.db import Database
from reference_backend.errors import install_error_handlers
from reference_backend.faults import FaultProfile, OzonFaults
from reference_backend.logging import ACCESS, configure_logging
from reference_backend.metrics import HttpMetrics, metrics_endpoint
from reference_backend.middleware import FreezeAfterWarmUp, JsonBodyMiddleware, RequestObserver
from reference_backend.openapi import install_openapi
from reference_backend.orders.batch import measure_batches
from reference_backend.rate_limits import OzonLimits, OzonRateLimits
from reference_backend.settings import Settings

log = logging.getLogger("reference_backend.app")

#: FastAPI's native OpenTelemetry, off (older FastAPI versions keep it as an unused extra).
NO_TELEMETRY = {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}

#: Sub-packages never scanned for routers.
NOT_ROUTER_PACKAGES = frozenset({"migrations"})

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[Any]]


def _router_modules() -> Iterator[ModuleType]:
    prefix = reference_backend.__name__ + "."
    for info in sorted(pkgutil.iter_modules(reference_backend.__path__), key=lambda i: i.name):
        if not info.ispkg or info.name in NOT_ROUTER_PACKAGES:
            continue
        package = importlib.import_module(prefix + info.name)
        yield package
        found = pkgutil.walk_packages(package.__path__, package.__name__ + ".")
        for sub in sorted(found, key=lambda i: i.name):
            yield importlib.import_module(sub.name)


#: Routers matched first: what integrations and buyers call all day. A request is matched
#: against the routes in order (~100 before the posting lists otherwise, a sixth of a list
#: page's CPU); no path is served by two routers (tests/test_backend_routing.py), so the order
#: changes no answer. The buyer order route is a router of one route, first: matching it
#: past the posting routes cost an order ~11 us, and it costs a list page ~2 us.
HOT_ROUTERS = ("reference_backend.marketplace.order_route", "reference_backend.postings.router")


def discover() -> tuple[list[APIRouter], list[Lifespan]]:
    """Routers and lifespan hooks of every router module (see the module docstring)."""
    routers: list[tuple[bool, str, APIRouter]] = []
    hooks: list[Lifespan] = []
    for module in _router_modules():
        router = getattr(module, "router", None)
        if isinstance(router, APIRouter):
            hot = module.__name__ in HOT_ROUTERS
            routers.append((not hot, HOT_ROUTERS.index(module.__name__) if hot else 0, router))
        hook = getattr(module, "lifespan", None)
        if callable(hook):
            hooks.append(hook)
    routers.sort(key=lambda r: r[:2])  # (stable: the others keep module name order)
    return [r[2] for r in routers], hooks


def create_app(settings: Settings | None = None, *, freeze_gc: bool = False) -> FastAPI:
    """A fully wired backend app for ``settings`` (environment settings by default).

    ``freeze_gc`` (server processes): once started, everything allocated so far (modules,
    routes, schemas, caches) is moved out of the garbage collector's reach (``gc.freeze``),
    so a full collection scans only what requests allocate; without it, full collections
    paused a worker ~100 ms every few hundred posting lists. What the first requests build
    lazily is frozen too, after a warm-up (:class:`FreezeAfterWarmUp`).
    """
    settings = settings or Settings()
    configure_logging(settings.log_level, json_logs=settings.json_logs)
    db = Database(settings.database_url, settings)
    routers, hooks = discover()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # starlette's thread pool (anyio's default limiter, per event loop): see worker_threads
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.worker_threads
        if settings.migrate_on_start:
            from reference_backend.migrations import upgrade

            await run_in_threadpool(upgrade, settings.database_url, engine=db.engine)
        async with AsyncExitStack() as stack:
            for hook in hooks:
                await stack.enter_async_context(hook(app))
            log.info("backend started", extra={"database": db.engine.url.render_as_string()})
            if freeze_gc:
                gc.collect()
                gc.freeze()
            yield
        await db.aclose()
        db.dispose()
        ACCESS.flush()

    app = FastAPI(
        title="Peakline reference backend",
        version=reference_backend.__version__,
        description=(
            "Ozon Seller API-compatible seller backend (Client-Id + Api-Key), Peakline's "
            "marketplace endpoints (/marketplace/v1, platform key) and seller extras "
            "(/peakline/v1)."
        ),
        lifespan=lifespan,
        # FastAPI's native OpenTelemetry (0.16x) asks the global providers on every request
        # (~10 us; 2 % of a buyer order's CPU): off, the backend reports by Prometheus and logs
        telemetry=NO_TELEMETRY,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.metrics_registry = CollectorRegistry(auto_describe=True)
    app.state.scrape_time_gauges = []  # (reference_backend.metrics)
    if db.has_async_pool:  # buyer orders go through the group commit
        measure_batches(db, app.state.metrics_registry)

    install_error_handlers(app)
    install_openapi(app)
    app.add_middleware(JsonBodyMiddleware,
                       passthrough_prefix=CONSOLE_PREFIX)  # the console's forms stay forms
    app.add_middleware(BodyLimit)  # outside it: an oversized body is refused unread
    app.state.ozon_limits = None
    if settings.ozon_rate_limits:  # before the body is read, after the request id is set
        app.state.ozon_limits = OzonLimits(
            per_second=settings.ozon_rate_limit_per_second,
            per_method=settings.ozon_method_rate_limits,
            stock_pair_interval_s=settings.ozon_stock_pair_interval_s,
            product_imports_per_day=settings.ozon_product_import_daily_limit,
            storage=settings.ozon_rate_limit_storage)
        app.add_middleware(OzonRateLimits, limits=app.state.ozon_limits)
    if settings.ozon_faults:  # outside the rate limits: a faulted request never counts
        app.add_middleware(OzonFaults, profile=FaultProfile.model_validate_json(
            settings.ozon_faults))
    app.add_middleware(RequestObserver, metrics=HttpMetrics(app.state.metrics_registry),
                       log_requests=settings.log_requests)
    if settings.trusted_proxy_list:  # outermost: every part sees the client's address
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxy_list)
    if freeze_gc:
        app.add_middleware(FreezeAfterWarmUp)

    @app.get("/health", tags=["service"])
    def health() -> JSONResponse:
        """Liveness and database reachability."""
        try:
            with db.read_session() as session:
                session.execute(text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001 - any database failure means "not healthy"
            return JSONResponse({"status": "unavailable", "database": str(exc)[:200]}, 503)
        return JSONResponse({"status": "ok", "database": db.engine.dialect.name})

    async def ping(_request: Request) -> Response:
        """A constant answer with no database work: the benchmarks' trivial endpoint."""
        return Response(b'{"pong":true}', media_type="application/json")

    # A plain Starlette route (unauthenticated, not in the OpenAPI document).
    app.add_route("/ping", ping, methods=["GET"], include_in_schema=False)

    for router in routers:
        app.include_router(router)
    mount_console(app)
    app.add_route("/metrics", metrics_endpoint, methods=["GET"], include_in_schema=False)
    return app


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` (workers read their settings from the environment)."""
    return create_app(Settings(), freeze_gc=True)
