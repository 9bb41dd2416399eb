"""``/v1/jobs``: follow a solve, fetch its best plan so far, stop it early."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from allocator_api.deps import JobsDep, Planner, PlansDep, Viewer
from allocator_api.errors import ApiError, error_responses, not_found
from allocator_api.repository import plan_body_of
from allocator_api.schemas import JobOut

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])


@router.get(
    "/{job_id}",
    operation_id="get_job",
    response_model=JobOut,
    responses=error_responses(401, 404),
    summary="A job's status and latest progress (objective, lower bound, gap, elapsed)",
)
def get_job(job_id: str, _: Viewer, jobs: JobsDep, plans: PlansDep) -> JobOut:
    row = jobs.get(job_id)
    if row is None:
        raise not_found("job")
    plan = plans.for_job(job_id)
    return JobOut.of(row, plan.id if plan else None)


@router.get(
    "/{job_id}/plan",
    operation_id="get_job_plan",
    response_model=dict[str, Any],
    responses=error_responses(401, 404),
    summary="The job's best plan so far, in contract JSON (404 while it has none)",
)
def get_job_plan(
    job_id: str, _: Viewer, jobs: JobsDep, plans: PlansDep, response: Response
) -> dict[str, Any]:
    if jobs.get(job_id) is None:
        raise not_found("job")
    plan = plans.for_job(job_id)
    if plan is None:
        raise ApiError(404, "no_plan_yet", "the job has no plan yet: try again shortly")
    response.headers["Content-Location"] = f"/v1/plans/{plan.id}"
    response.headers["X-Plan-Final"] = "true" if plan.final else "false"
    return plan_body_of(plan)


@router.delete(
    "/{job_id}",
    operation_id="cancel_job",
    response_model=JobOut,
    responses=error_responses(401, 403, 404),
    summary="Stop a job early: a queued job is cancelled, a running one stops and keeps its "
    "best plan",
)
def cancel_job(job_id: str, _: Planner, jobs: JobsDep, plans: PlansDep) -> JobOut:
    row = jobs.cancel(job_id)
    if row is None:
        raise not_found("job")
    plan = plans.for_job(job_id)
    return JobOut.of(row, plan.id if plan else None)
