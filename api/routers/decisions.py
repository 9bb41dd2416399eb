"""Decisions as jobs (issue 13): risk, what-if scenarios and recommendations over a stored plan.

Each route checks its input at the door (422 naming the field; a scenario's edits are applied
to the stored portfolio here, so an unknown id fails with the edit's path before anything is
queued), picks the plan (``plan_id``, else the portfolio's latest final plan) and only queues
a job with ``Jobs.enqueue(kind=..., input=...)``; the job runner runs it like a solve (slots,
queue limits, heartbeats, cancel, the supervisor's time limit) with the handlers of
``allocator_api.job_kinds``, which store the answer on the job. Planners run them; viewers
follow the job at ``/v1/jobs/{id}`` and read its answer at ``/v1/jobs/{id}/result``.

A what-if job re-solves several times (``scenarios``: one per scenario; ``recommend``: the
control and up to ``limit`` candidates): its time budget is stated in the answer
(``DecisionJobOut``) and capped by the service's ``max_time_limit``
(:func:`allocator_api.job_kinds.what_if_budget`).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Response, status

from allocator.edits import EditError, apply_edits
from allocator.risk import DEFAULT_SPREAD
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
from allocator_api.job_kinds import what_if_budget
from allocator_api.models import PlanRow
from allocator_api.repository import latest_final_plan
from allocator_api.routers.portfolios import queue_job
from allocator_api.schemas import DecisionJobOut, RecommendIn, RiskIn, ScenariosIn
from allocator_api.service import job_limits, stored_portfolio
from allocator_api.settings import Settings

log = logging.getLogger(__name__)

router = APIRouter(tags=["decisions"])

#: a risk job's time limit (a Monte Carlo of 20,000 runs of a large plan takes seconds)
RISK_SECONDS = 60.0


def invalid(path: str, message: str) -> ApiError:
    return ApiError(
        422,
        "invalid_request",
        "the request is not valid",
        [ErrorDetail(path=path, message=message)],
    )


def _plan(
    session: SessionDep, plans: PlansDep, tenant: str, portfolio_id: str, plan_id: str | None
) -> PlanRow:
    """The named plan of the portfolio (422 naming ``plan_id`` when it is not one), else the
    portfolio's latest final plan (409 when it has none)."""
    if plan_id is None:
        row = latest_final_plan(session, tenant, portfolio_id)
        if row is None:
            raise ApiError(
                409, "no_plan", "the portfolio has no final plan yet: solve it first, or name one"
            )
        return row
    found = plans.get(plan_id)
    if found is None or found.portfolio_id != portfolio_id:
        raise invalid("plan_id", f"no plan {plan_id} of portfolio {portfolio_id}")
    return found


def _queue(
    portfolio_id: str,
    kind: str,
    job_input: dict[str, Any],
    *,
    time_limit: float,
    workers: int,
    solves: int,
    per_solve: float | None,
    jobs: JobsDep,
    runner: RunnerDep,
    settings: Settings,
    response: Response,
    idem: IdempotencyDep,
) -> DecisionJobOut:
    job, location = queue_job(
        jobs,
        runner,
        settings,
        response,
        portfolio_id,
        idem,
        kind=kind,
        input=job_input,
        time_limit=time_limit,
        workers=workers,
    )
    created = DecisionJobOut(
        job_id=job.id,
        status=job.status,
        time_limit=time_limit,
        workers=workers,
        kind=kind,
        plan_id=str(job_input["plan_id"]),
        solves=solves,
        time_limit_per_solve=per_solve,
    )
    return idem.answer(created, status.HTTP_202_ACCEPTED, location)


def _queue_what_if(
    portfolio_id: str,
    kind: str,
    job_input: dict[str, Any],
    *,
    time_limit: float | None,
    workers: int | None,
    solves: int,
    jobs: JobsDep,
    runner: RunnerDep,
    settings: Settings,
    response: Response,
    idem: IdempotencyDep,
) -> DecisionJobOut:
    """Queue a job of ``solves`` re-solves (scenarios, recommendations): the asked time limit is
    each re-solve's, the job's is their sum (``what_if_budget``), 422 when that is over the
    service's ``max_time_limit``; the per-solve limit goes into the job's input."""
    per, n_workers = job_limits(settings, time_limit, workers)
    budget = what_if_budget(per, solves, settings.max_time_limit)
    if budget is None:
        raise invalid(
            "time_limit",
            f"{solves} re-solves do not fit in the service's max_time_limit of "
            f"{settings.max_time_limit:g} s: ask for fewer",
        )
    total, per = budget
    return _queue(
        portfolio_id,
        kind,
        {**job_input, "time_limit_per_solve": per},
        time_limit=total,
        workers=n_workers,
        solves=solves,
        per_solve=per,
        jobs=jobs,
        runner=runner,
        settings=settings,
        response=response,
        idem=idem,
    )


_JOB_ROUTE: dict[str, Any] = {
    "status_code": status.HTTP_202_ACCEPTED,
    "response_model": DecisionJobOut,
    "responses": error_responses(401, 403, 404, 409, 413, 422, 429),
}


@router.post(
    "/v1/portfolios/{portfolio_id}/risk",
    operation_id="queue_risk",
    summary="Queue a Monte Carlo over a plan: P(on time), P50/P80/P95 finishes, risk drivers",
    **_JOB_ROUTE,
)
def queue_risk(
    portfolio_id: str,
    principal: Planner,
    portfolios: PortfoliosDep,
    plans: PlansDep,
    session: SessionDep,
    jobs: JobsDep,
    runner: RunnerDep,
    settings: SettingsDep,
    response: Response,
    idem: IdempotencyDep,
    body: RiskIn | None = None,
) -> DecisionJobOut:
    if not portfolios.exists(portfolio_id):
        raise not_found("portfolio")
    body = body or RiskIn()
    plan = _plan(session, plans, principal.tenant, portfolio_id, body.plan_id)
    spread = body.default_spread
    job_input = {
        "plan_id": plan.id,
        "runs": body.runs,
        "seed": body.seed,
        "default_spread": list(DEFAULT_SPREAD) if spread is None else [spread.low, spread.high],
    }
    return _queue(
        portfolio_id,
        "risk",
        job_input,
        time_limit=min(RISK_SECONDS, settings.max_time_limit),
        workers=1,
        solves=0,
        per_solve=None,
        jobs=jobs,
        runner=runner,
        settings=settings,
        response=response,
        idem=idem,
    )


@router.post(
    "/v1/portfolios/{portfolio_id}/scenarios",
    operation_id="queue_scenarios",
    summary="Queue what-if scenarios (named lists of edits) re-solved from a plan, compared",
    **_JOB_ROUTE,
)
def queue_scenarios(
    portfolio_id: str,
    principal: Planner,
    portfolios: PortfoliosDep,
    plans: PlansDep,
    session: SessionDep,
    jobs: JobsDep,
    runner: RunnerDep,
    settings: SettingsDep,
    response: Response,
    idem: IdempotencyDep,
    body: ScenariosIn,
) -> DecisionJobOut:
    row = portfolios.get(portfolio_id)
    if row is None:
        raise not_found("portfolio")
    plan = _plan(session, plans, principal.tenant, portfolio_id, body.plan_id)
    seen: set[str] = set()
    details: list[ErrorDetail] = []
    portfolio = stored_portfolio(row.body)
    for n, scenario in enumerate(body.scenarios):
        if scenario.name in seen:
            details.append(ErrorDetail(path=f"scenarios[{n}].name", message="names must differ"))
        seen.add(scenario.name)
        try:
            apply_edits(portfolio, scenario.edits)
        except EditError as exc:
            details += [
                ErrorDetail(path=f"scenarios[{n}].{i.path}", message=i.message) for i in exc.issues
            ]
    if details:
        raise ApiError(422, "invalid_edits", "the scenarios' edits cannot be applied", details)
    return _queue_what_if(
        portfolio_id,
        "scenarios",
        {"plan_id": plan.id, "scenarios": [s.model_dump(mode="json") for s in body.scenarios]},
        time_limit=body.time_limit,
        workers=body.workers,
        solves=len(body.scenarios),
        jobs=jobs,
        runner=runner,
        settings=settings,
        response=response,
        idem=idem,
    )


@router.post(
    "/v1/portfolios/{portfolio_id}/recommendations",
    operation_id="queue_recommendations",
    summary="Queue recommendations: candidate changes from the plan's evidence, each re-solved",
    **_JOB_ROUTE,
)
def queue_recommendations(
    portfolio_id: str,
    principal: Planner,
    portfolios: PortfoliosDep,
    plans: PlansDep,
    session: SessionDep,
    jobs: JobsDep,
    runner: RunnerDep,
    settings: SettingsDep,
    response: Response,
    idem: IdempotencyDep,
    body: RecommendIn | None = None,
) -> DecisionJobOut:
    if not portfolios.exists(portfolio_id):
        raise not_found("portfolio")
    body = body or RecommendIn()
    plan = _plan(session, plans, principal.tenant, portfolio_id, body.plan_id)
    return _queue_what_if(
        portfolio_id,
        "recommend",
        {"plan_id": plan.id, "limit": body.limit},
        time_limit=body.time_limit,
        workers=body.workers,
        solves=body.limit + 1,  # the control and at most `limit` candidates
        jobs=jobs,
        runner=runner,
        settings=settings,
        response=response,
        idem=idem,
    )


@router.get(
    "/v1/jobs/{job_id}/result",
    operation_id="get_job_result",
    response_model=dict[str, Any],
    responses=error_responses(401, 404, 409),
    summary="A decision job's result JSON (risk, scenarios, recommendations); 409 until done",
)
def get_job_result(job_id: str, _: Viewer, jobs: JobsDep) -> dict[str, Any]:
    row = jobs.get(job_id)
    if row is None:
        raise not_found("job")
    if row.result is not None:
        return dict(row.result)
    if row.status in ("queued", "running"):
        raise ApiError(409, "job_not_done", f"the job is {row.status}: try again shortly")
    reason = f": {row.error}" if row.error else ""
    raise ApiError(
        404, "no_result", f"the {row.kind} job ended {row.status} with no result{reason}"
    )
