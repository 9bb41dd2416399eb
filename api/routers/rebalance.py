"""Re-planning: progress reports, rebalance jobs (warm-started from the latest plan) and plan
diffs. See ``allocator.rebalance``, ``allocator.diff`` and ``allocator_api.nightly``.

A rebalance job is a job of kind ``rebalance`` (followed at ``/v1/jobs/{id}``, cancelled by
``DELETE``): the route only queues it, with the base plan (the latest final one) and the
stability knobs as its input; the job runner (``allocator_api.worker``) runs it like a solve,
under the same solve slots, queue limits, heartbeats and cancel (``allocator_api.job_kinds``).
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, ConfigDict, Field

from allocator.contract import load_plan
from allocator.diff import diff_plans
from allocator_api.deps import (
    JobsDep,
    Planner,
    PlansDep,
    PortfoliosDep,
    RunnerDep,
    SessionDep,
    SettingsDep,
    Viewer,
)
from allocator_api.errors import ApiError, ErrorDetail, error_responses, not_found
from allocator_api.idempotency import IdempotencyDep
from allocator_api.nightly import UpdateError, apply_updates
from allocator_api.repository import latest_final_plan, plan_body_of
from allocator_api.routers.portfolios import queue_job, save_replacement
from allocator_api.schemas import JobCreatedOut, PortfolioSavedOut
from allocator_api.service import job_limits, stored_portfolio

log = logging.getLogger(__name__)

router = APIRouter(tags=["portfolios"])


class NewTaskIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    project: str = Field(description="id of the project the task joins")
    task: dict[str, Any] = Field(description="the task in contract JSON")


class ProgressIn(BaseModel):
    """A progress report: the format of one portfolio's entry of the nightly progress file."""

    model_config = ConfigDict(extra="forbid")

    as_of: date | None = Field(default=None, description="the day of the report")
    tasks: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="task id -> fields to set (status, progress, effort_hours, ...; null "
        "removes one)",
    )
    new_tasks: list[NewTaskIn] = Field(default_factory=list)
    people: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="person id -> fields to set (null removes one)"
    )
    new_people: list[dict[str, Any]] = Field(default_factory=list)
    remove_people: list[str] = Field(default_factory=list)


class RebalanceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    time_limit: float | None = Field(default=None, gt=0, le=86_400)
    workers: int | None = Field(default=None, ge=1, le=256)
    freeze_days: int | None = Field(default=None, ge=0, le=10_000)
    churn_budget: int | None = Field(default=None, ge=0, le=10_000_000)
    stability: int | None = Field(default=None, ge=0, le=10**9)


class TaskSideOut(BaseModel):
    people: list[str] | None = None
    start: str | None = None
    finish: str | None = None


class TaskChangeOut(BaseModel):
    task: str
    kind: str = Field(description="added, removed, moved, assigned or unassigned")
    old: TaskSideOut
    new: TaskSideOut
    reasons: list[str]
    forced: bool = Field(
        description="forced by the world (a person left, the task is done, its date passed...), "
        "else chosen by the plan (allocator.diff.is_forced)"
    )


class DiffOut(BaseModel):
    old_plan_id: str
    new_plan_id: str
    changes: list[TaskChangeOut]


@router.post(
    "/v1/portfolios/{portfolio_id}/progress",
    operation_id="report_progress",
    response_model=PortfolioSavedOut,
    responses=error_responses(401, 403, 404, 413, 422),
    summary="Apply a progress report (task status and progress, estimates, people, as_of)",
)
def report_progress(
    portfolio_id: str,
    body: ProgressIn,
    _: Planner,
    portfolios: PortfoliosDep,
    settings: SettingsDep,
) -> PortfolioSavedOut:
    row = portfolios.get(portfolio_id)
    if row is None:
        raise not_found("portfolio")
    update = body.model_dump(mode="json", exclude_none=True)
    update["new_tasks"] = [t.model_dump(mode="json") for t in body.new_tasks]
    try:
        new_body = apply_updates(row.body, update)
    except (UpdateError, TypeError, AttributeError, KeyError) as exc:
        raise ApiError(
            422,
            "invalid_update",
            "the update cannot be applied",
            [ErrorDetail(path="", message=str(exc))],
        ) from None
    return save_replacement(portfolios, portfolio_id, new_body, settings)


@router.post(
    "/v1/portfolios/{portfolio_id}/rebalance",
    operation_id="rebalance_portfolio",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobCreatedOut,
    responses=error_responses(401, 403, 404, 409, 413, 422, 429),
    summary="Queue a rebalance job from the latest plan; follow it at /v1/jobs/{job_id}",
)
def rebalance_portfolio(
    portfolio_id: str,
    principal: Planner,
    portfolios: PortfoliosDep,
    session: SessionDep,
    jobs: JobsDep,
    runner: RunnerDep,
    settings: SettingsDep,
    response: Response,
    idem: IdempotencyDep,
    params: RebalanceIn | None = None,
) -> JobCreatedOut:
    if not portfolios.exists(portfolio_id):
        raise not_found("portfolio")
    params = params or RebalanceIn()
    time_limit, workers = job_limits(settings, params.time_limit, params.workers)
    base = latest_final_plan(session, principal.tenant, portfolio_id)
    job_input = {
        "base_plan_id": base.id if base is not None else None,
        "freeze_days": params.freeze_days,
        "churn_budget": params.churn_budget,
        "stability": params.stability,
    }
    job, location = queue_job(
        jobs,
        runner,
        settings,
        response,
        portfolio_id,
        idem,
        kind="rebalance",
        input=job_input,
        time_limit=time_limit,
        workers=workers,
    )
    created = JobCreatedOut(
        job_id=job.id, status=job.status, time_limit=time_limit, workers=workers
    )
    return idem.answer(created, status.HTTP_202_ACCEPTED, location)


@router.get(
    "/v1/plans/{plan_id}/diff/{other_plan_id}",
    operation_id="diff_plans",
    response_model=DiffOut,
    responses=error_responses(401, 404),
    summary="What changed from plan {plan_id} to plan {other_plan_id}, task by task, and why",
)
def diff_plan_versions(
    plan_id: str,
    other_plan_id: str,
    _: Viewer,
    plans: PlansDep,
    portfolios: PortfoliosDep,
) -> DiffOut:
    old, new = plans.get(plan_id), plans.get(other_plan_id)
    if old is None or new is None:
        raise not_found("plan")
    row = portfolios.get(new.portfolio_id)
    if row is None:
        raise not_found("portfolio")
    portfolio = stored_portfolio(row.body)
    changes = diff_plans(portfolio, load_plan(plan_body_of(old)), load_plan(plan_body_of(new)))
    return DiffOut(
        old_plan_id=old.id,
        new_plan_id=new.id,
        changes=[TaskChangeOut(**c.as_dict()) for c in changes],
    )
