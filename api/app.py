"""The app factory: ``create_app(settings=None)``.

Start it with ``allocator serve`` or ``uvicorn --factory allocator_api.app:create_app``. On start-up the
database is migrated to the newest schema, jobs left running by a dead process are marked
failed, and the solve workers start (see :mod:`api.worker`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

import allocator
from allocator_api.db import Database, storage_fault
from allocator_api.errors import (
    ApiError,
    api_error_handler,
    error_response,
    http_error_handler,
    validation_error_handler,
)
from allocator_api.idempotency import Replay, replay_handler
from allocator_api.logs import configure_logging
from allocator_api.metrics import Metrics
from allocator_api.middleware import BodyLimitMiddleware, RequestContextMiddleware
from allocator_api.ratelimit import RateLimitMiddleware
from allocator_api.repository import JobStore
from allocator_api.routers import (
    dashboard,
    decisions,
    jobs,
    keys,
    ops,
    plans,
    portfolios,
    rebalance,
    solve,
)
from allocator_api.settings import Settings, get_settings
from allocator_api.supervisor import SPARES
from allocator_api.worker import JobRunner

log = logging.getLogger(__name__)

#: request threads of a server process (anyio's default limiter: FastAPI runs each sync route
#: and dependency on it); the connection pool is sized to these plus the solve workers', so a
#: request never waits for a connection behind solves
REQUEST_THREADS = 40
#: ``Retry-After`` of a 503 for a storage fault (the database is locked, full, read-only or
#: its connection was lost), seconds
STORAGE_RETRY_AFTER = 2

DESCRIPTION = """\
The REST service of the allocator: store portfolios (contract JSON, `allocator.portfolio/v1`),
solve them as jobs, follow the jobs, fetch and check plans (`allocator.plan/v2`: objectives in
planner units, every number exact in a 64-bit float; `allocator.plan/v1` is still read). Every
stored plan version passed the independent checker first; its verdict is kept with it.

Every route under `/v1` and `/metrics` needs `Authorization: Bearer <key>` (`/healthz`,
`/readyz`, this schema, `/docs` and the dashboard page `/ui/` do not: they hold no data).
Roles: `viewer` reads, `planner` also writes and solves, `admin` also manages keys. Another
tenant's resources answer 404. Every error has the body `{"error": {"code", "message",
"details": [{"path", "message"}], "request_id"}}`.
"""

TAGS = [
    {"name": "portfolios", "description": "portfolios, their plan versions, solves and checks"},
    {"name": "jobs", "description": "solve jobs: progress, best plan so far, cancel"},
    {"name": "plans", "description": "plan versions"},
    {"name": "solve", "description": "synchronous solve of small portfolios"},
    {"name": "keys", "description": "API keys of the caller's tenant (admin)"},
    {"name": "operations", "description": "health, readiness, metrics"},
]


def create_app(settings: Settings | None = None) -> FastAPI:
    """A new app with its own database engine, metrics registry and solve workers."""
    settings = settings or get_settings()
    if settings.json_logs:
        configure_logging(settings.log_level)
    db = Database(
        settings.database_url,
        pool_size=10,
        max_overflow=REQUEST_THREADS + 2 * settings.solve_slots + 4 - 10,
    )
    metrics = Metrics(JobStore(db.sessions))
    runner = JobRunner(db, settings, metrics)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # the children of jobs and of POST /v1/solve (with or without the job workers)
        SPARES.nice = settings.job_nice
        if settings.migrate_on_startup:
            await run_in_threadpool(db.migrate)
        if settings.run_workers:
            await run_in_threadpool(runner.start)
        try:
            yield
        finally:
            await run_in_threadpool(runner.stop)
            db.dispose()

    app = FastAPI(
        title="allocator",
        version=allocator.__version__,
        description=DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=lifespan,
        openapi_url="/openapi.json" if settings.public_docs else None,
        docs_url=None,  # /docs: routers.dashboard, with Swagger UI's assets served from here
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.metrics = metrics
    app.state.runner = runner
    app.state.sync_slots = threading.BoundedSemaphore(settings.sync_slots)

    app.add_exception_handler(ApiError, api_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    app.add_exception_handler(DBAPIError, storage_fault_handler)
    app.add_exception_handler(PoolTimeout, storage_fault_handler)
    app.add_exception_handler(Replay, replay_handler)

    for module in (portfolios, jobs, plans, solve, keys, ops, rebalance, decisions, dashboard):
        app.include_router(module.router)
    if not settings.public_docs:
        app.include_router(ops.docs_router)

    # added last = outermost: request context, then the body limit, then CORS
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Location", "Retry-After"],
        )
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(
        RateLimitMiddleware,
        per_second=settings.rate_limit_per_second,
        burst=settings.rate_limit_burst,
        auth_failures_per_minute=settings.auth_failures_per_minute,
    )
    app.add_middleware(RequestContextMiddleware, metrics=metrics)
    return app


async def storage_fault_handler(_request: Request, exc: Exception) -> JSONResponse:
    """503 + ``Retry-After`` for a fault of the storage (nothing was committed: each write
    is one transaction); any other database error stays an unexpected 500."""
    if not storage_fault(exc):
        raise exc
    log.warning("storage fault: %s", type(exc.__cause__ or exc).__name__, exc_info=exc)
    return error_response(
        503,
        "storage_unavailable",
        "the database cannot take this request now; nothing was changed, retry later",
        headers={"Retry-After": str(STORAGE_RETRY_AFTER)},
    )
