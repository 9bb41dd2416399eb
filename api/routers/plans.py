"""``/v1/plans``: one plan version with its metadata."""

from __future__ import annotations

from fastapi import APIRouter

from allocator_api.deps import PlansDep, Viewer
from allocator_api.errors import error_responses, not_found
from allocator_api.schemas import PlanOut

router = APIRouter(prefix="/v1/plans", tags=["plans"])


@router.get(
    "/{plan_id}",
    operation_id="get_plan",
    response_model=PlanOut,
    responses=error_responses(401, 404),
    summary="A plan version: its metadata and the plan in contract JSON",
)
def get_plan(plan_id: str, _: Viewer, plans: PlansDep) -> PlanOut:
    row = plans.get(plan_id)
    if row is None:
        raise not_found("plan")
    return PlanOut.of(row)
