"""FastAPI dependencies, as ``Annotated`` aliases: settings, sessions, the caller's key, the
tenant-scoped repositories.

Cost per request (issue 16, load): a dependency that does no I/O is ``async def``, so FastAPI
calls it on the event loop instead of handing it to the thread pool (each hand-over costs a
thread wake-up and a trip through the event loop; a portfolio read made eight, now three):
only those that touch the database (the session's close, the caller's key) and the routes run
on the pool. The app's
settings are read from ``app.state`` rather than through ``app.dependency_overrides``: with any
override set, FastAPI rebuilds every dependency's signature on every request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from allocator_api.db import Database
from allocator_api.errors import ApiError
from allocator_api.repository import Jobs, Keys, Plans, Portfolios
from allocator_api.security import Principal, Role
from allocator_api.settings import Settings, get_settings
from allocator_api.worker import JobRunner


async def app_settings(request: Request) -> Settings:
    """The app's settings (``create_app(settings)``), else the process's (:func:`get_settings`)."""
    settings: Settings | None = getattr(request.app.state, "settings", None)
    return settings if settings is not None else get_settings()


SettingsDep = Annotated[Settings, Depends(app_settings)]

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="an API key made by `allocator keys create` or `POST /v1/keys`",
)


async def get_database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def get_runner(request: Request) -> JobRunner:
    runner: JobRunner = request.app.state.runner
    return runner


DatabaseDep = Annotated[Database, Depends(get_database)]
RunnerDep = Annotated[JobRunner, Depends(get_runner)]


async def get_session(db: DatabaseDep) -> AsyncIterator[Session]:
    """A session for the request; opening one does no I/O (a connection is taken from the
    pool at its first query, on the thread that runs it), closing it gives the connection back
    (a rollback: on the thread pool)."""
    session = db.sessions()
    try:
        yield session
    finally:
        await run_in_threadpool(session.close)


SessionDep = Annotated[Session, Depends(get_session)]


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


def current_principal(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller, from ``Authorization: Bearer <key>``; 401 when missing or unknown."""
    if credentials is None or not credentials.credentials:
        raise _unauthorized("an API key is required: Authorization: Bearer <key>")
    principal = Keys(session).authenticate(credentials.credentials)
    if principal is None:
        raise _unauthorized("unknown or revoked API key")
    request.state.tenant = principal.tenant
    return principal


def _require(role: Role) -> Callable[[Principal], Awaitable[Principal]]:
    async def dependency(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if not principal.allows(role):
            raise ApiError(403, "forbidden", f"this needs a key with role {role} or above")
        return principal

    dependency.__name__ = f"require_{role}"
    return dependency


require_viewer = _require("viewer")
require_planner = _require("planner")
require_admin = _require("admin")

Viewer = Annotated[Principal, Depends(require_viewer)]
Planner = Annotated[Principal, Depends(require_planner)]
Admin = Annotated[Principal, Depends(require_admin)]


async def portfolios_of(session: SessionDep, principal: Viewer) -> Portfolios:
    return Portfolios(session, principal.tenant)


async def plans_of(session: SessionDep, principal: Viewer) -> Plans:
    return Plans(session, principal.tenant)


async def jobs_of(session: SessionDep, principal: Viewer) -> Jobs:
    return Jobs(session, principal.tenant)


async def keys_repo(session: SessionDep) -> Keys:
    return Keys(session)


PortfoliosDep = Annotated[Portfolios, Depends(portfolios_of)]
PlansDep = Annotated[Plans, Depends(plans_of)]
JobsDep = Annotated[Jobs, Depends(jobs_of)]
KeysDep = Annotated[Keys, Depends(keys_repo)]


class Page:
    """``limit`` and ``offset`` query parameters, bounded by the settings."""

    def __init__(self, settings: Settings, limit: int | None, offset: int) -> None:
        self.limit = min(limit or settings.page_size_default, settings.page_size_max)
        self.offset = offset


async def page_params(
    settings: SettingsDep,
    limit: Annotated[int | None, Query(ge=1, le=1000, description="page size")] = None,
    offset: Annotated[int, Query(ge=0, le=10**9, description="items to skip")] = 0,
) -> Page:
    return Page(settings, limit, offset)


PageDep = Annotated[Page, Depends(page_params)]
