"""``/v1/solve``: a synchronous solve for small portfolios (nothing is stored). Its plan is
checked by the independent checker like every stored one: a plan that fails it is not answered
(500 ``plan_rejected`` with the violations)."""

from __future__ import annotations

import threading
from typing import Any

from fastapi import APIRouter, Request

from allocator.engine import SolveParams, solve
from allocator_api.deps import Planner, SettingsDep
from allocator_api.errors import ApiError, error_responses
from allocator_api.schemas import SyncSolveIn
from allocator_api.service import Limits, capped, checked_plan, read_valid_portfolio

router = APIRouter(prefix="/v1", tags=["solve"])


@router.post(
    "/solve",
    operation_id="solve_now",
    response_model=dict[str, Any],
    responses=error_responses(401, 403, 413, 422, 429),
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
        params = SolveParams(
            time_limit=capped(
                body.time_limit, settings.sync_max_time_limit, settings.sync_max_time_limit
            ),
            workers=int(capped(body.workers, 1, settings.max_workers)),
            seed=0,
        )
        result = solve(valid.portfolio, params)
    finally:
        slots.release()
    return checked_plan(valid.portfolio, result.plan, where="of this solve").body
