"""Operations: liveness, readiness, Prometheus metrics and the OpenAPI document."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from allocator_api.deps import Admin, DatabaseDep, SettingsDep, Viewer
from allocator_api.errors import ApiError, error_responses
from allocator_api.metrics import Metrics
from allocator_api.schemas import HealthOut

router = APIRouter(tags=["operations"])
#: the OpenAPI document behind a key (included when ``Settings.public_docs`` is off)
docs_router = APIRouter(tags=["operations"])


@router.get(
    "/healthz",
    operation_id="healthz",
    response_model=HealthOut,
    responses=error_responses(),
    summary="Liveness: the process answers (no key needed)",
)
async def healthz() -> HealthOut:
    return HealthOut(status="ok")


@router.get(
    "/readyz",
    operation_id="readyz",
    response_model=HealthOut,
    responses=error_responses(503),
    summary="Readiness: the database answers, and takes writes again after a fault (no key)",
)
async def readyz(db: DatabaseDep) -> HealthOut:
    if not await run_in_threadpool(db.ready):
        raise ApiError(503, "not_ready", "the database is not reachable")
    return HealthOut(status="ready")


@router.get(
    "/metrics",
    operation_id="metrics",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
        **error_responses(401, 403),
    },
    summary="Prometheus metrics (an admin key: its tenant's jobs; the operator's: every tenant's)",
)
def metrics(admin: Admin, request: Request, settings: SettingsDep) -> Response:
    registry: Metrics = request.app.state.metrics
    operator = settings.operator_tenant is not None and admin.tenant == settings.operator_tenant
    body = registry.render(None if operator else admin.tenant)
    return Response(body, media_type=Metrics.CONTENT_TYPE)


@docs_router.get("/openapi.json", include_in_schema=False)
def openapi(_: Viewer, request: Request) -> dict[str, Any]:
    """The OpenAPI document, for holders of a key (unless ``public_docs`` serves it openly)."""
    schema: dict[str, Any] = request.app.openapi()
    return schema
