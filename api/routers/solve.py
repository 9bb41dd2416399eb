"""``/v1/solve``: a synchronous solve for small portfolios (nothing is stored). Its plan is
checked by the independent checker like every stored one: a plan that fails it is not answered
(500 ``plan_rejected`` with the violations).

With ``job_isolation = "process"`` (the default) the solve runs in a supervised child process
(:func:`allocator_api.supervisor.supervise`), like a job: under the memory ceiling, stopped at its
time limit and killed ``job_grace_seconds`` later whatever it is doing (503 ``solve_overran``)."""

from __future__ import annotations

import logging
import threading
from typing import Any

from fastapi import APIRouter, Request

from allocator.engine import SolveParams, solve
from allocator_api.deps import Planner, SettingsDep
from allocator_api.errors import ApiError, error_responses
from allocator_api.job_kinds import solve_checked
from allocator_api.schemas import SyncSolveIn
from allocator_api.service import Limits, capped, checked_plan, read_valid_portfolio
from allocator_api.settings import Settings
from allocator_api.supervisor import supervise

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["solve"])


@router.post(
    "/solve",
    operation_id="solve_now",
    response_model=dict[str, Any],
    responses=error_responses(401, 403, 413, 422, 429, 503),
    summary="Solve a small portfolio now and answer the plan (contract JSON); bigger ones: "
    "POST /v1/portfolios then /solve",
)
def solve_now(
    body: SyncSolveIn, _: Planner, settings: SettingsDep, request: Request
) -> dict[str, Any]:
    limits = Limits(
        max_people=settings.sync_max_people,
        max_tasks=settings.sync_max_tasks,
        people_setting="sync_max_people",
        tasks_setting="sync_max_tasks",
        hint="; store bigger portfolios and solve them as jobs",
    )
    valid = read_valid_portfolio(body.portfolio, limits)
    slots: threading.BoundedSemaphore = request.app.state.sync_slots
    if not slots.acquire(blocking=False):
        raise ApiError(
            429,
            "too_many_solves",
            f"{settings.sync_slots} synchronous solves are running (limit sync_slots)",
            headers={"Retry-After": str(max(1, round(settings.sync_max_time_limit)))},
        )
    try:
        time_limit = capped(
            body.time_limit, settings.sync_max_time_limit, settings.sync_max_time_limit
        )
        workers = int(capped(body.workers, 1, settings.max_workers))
        if settings.job_isolation == "process":
            return _solve_in_child(body.portfolio, time_limit, workers, settings)
        params = SolveParams(time_limit=time_limit, workers=workers, seed=0)
        result = solve(valid.portfolio, params)
    finally:
        slots.release()
    return checked_plan(valid.portfolio, result.plan, where="of this solve").body


def _solve_in_child(
    body: Any, time_limit: float, workers: int, settings: Settings
) -> dict[str, Any]:
    grace = settings.job_grace_seconds
    end = supervise(
        solve_checked,
        (body, time_limit, workers),
        time_limit=time_limit,
        grace=grace,
        memory_bytes=settings.job_memory_bytes,
    )
    if end.how == "returned":
        return dict(end.value)
    retry = {"Retry-After": str(max(1, round(settings.sync_max_time_limit)))}
    if end.how == "killed":
        raise ApiError(
            503,
            "solve_overran",
            f"the solve overran its time limit of {time_limit:g} s by the grace of {grace:g} s "
            "and was stopped; store the portfolio and solve it as a job (POST "
            "/v1/portfolios, then /solve)",
            headers=retry,
        )
    if end.error is not None and end.error.category == "api":
        raise end.error.as_api_error()
    if end.error is not None and end.error.category == "memory":
        raise ApiError(
            413,
            "too_large",
            f"the solve exceeded the memory ceiling of {settings.job_memory_bytes} bytes "
            "(setting job_memory_bytes)",
        )
    log.error(
        "synchronous solve failed: %s",
        end.error.message if end.error is not None else f"exit code {end.exitcode}",
        extra={"trace": end.error.trace if end.error is not None else ""},
    )
    raise RuntimeError("the synchronous solve's process failed")
