"""``/v1/portfolios``: store, read, replace, delete portfolios; solve and check against them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response, status
from fastapi.responses import JSONResponse

from allocator.limits import plan_issues, plan_size_issue
from allocator_api.deps import (
    JobsDep,
    PageDep,
    Planner,
    PlansDep,
    PortfoliosDep,
    RunnerDep,
    SettingsDep,
    Viewer,
)
from allocator_api.errors import ApiError, error_responses, issues_as_details, not_found
from allocator_api.idempotency import IdempotencyDep, Idempotent
from allocator_api.models import JobRow
from allocator_api.repository import Jobs, Portfolios, QueueFull
from allocator_api.schemas import (
    CheckOut,
    JobCreatedOut,
    PlanIn,
    PlanPageOut,
    PlanSummaryOut,
    PortfolioIn,
    PortfolioPageOut,
    PortfolioSavedOut,
    PortfolioSummaryOut,
    SolveIn,
)
from allocator_api.service import (
    Limits,
    check_plan,
    job_limits,
    read_plan_body,
    read_valid_portfolio,
    stored_portfolio,
)
from allocator_api.settings import Settings
from allocator_api.worker import JobRunner

router = APIRouter(prefix="/v1/portfolios", tags=["portfolios"])


def _limits(settings: Settings) -> Limits:
    return Limits(max_people=settings.max_people, max_tasks=settings.max_tasks)


@router.post(
    "",
    operation_id="create_portfolio",
    status_code=status.HTTP_201_CREATED,
    response_model=PortfolioSavedOut,
    responses=error_responses(401, 403, 409, 413, 422),
    summary="Store a portfolio (validated by the library; every error is listed)",
)
def create_portfolio(
    body: PortfolioIn,
    _: Planner,
    portfolios: PortfoliosDep,
    settings: SettingsDep,
    response: Response,
    idem: IdempotencyDep,
) -> PortfolioSavedOut:
    valid = read_valid_portfolio(body, _limits(settings))
    row = portfolios.create(valid.doc, commit=idem.commits)
    response.headers["Location"] = location = f"/v1/portfolios/{row.id}"
    saved = PortfolioSavedOut(
        id=row.id, revision=row.revision, warnings=issues_as_details(valid.warnings)
    )
    return idem.answer(saved, status.HTTP_201_CREATED, location)


@router.get(
    "",
    operation_id="list_portfolios",
    response_model=PortfolioPageOut,
    responses=error_responses(401, 422),
    summary="The tenant's portfolios, newest first (limit/offset paging)",
)
def list_portfolios(_: Viewer, portfolios: PortfoliosDep, page: PageDep) -> PortfolioPageOut:
    rows, total = portfolios.page(page.limit, page.offset)
    return PortfolioPageOut(
        items=[PortfolioSummaryOut.of(r) for r in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get(
    "/{portfolio_id}",
    operation_id="get_portfolio",
    response_model=dict[str, Any],
    responses=error_responses(401, 404),
    summary="A portfolio in contract JSON",
)
def get_portfolio(portfolio_id: str, _: Viewer, portfolios: PortfoliosDep) -> JSONResponse:
    row = portfolios.get(portfolio_id)
    if row is None:
        raise not_found("portfolio")
    # the stored body as is (it was valid when stored): no response model to check it against,
    # so FastAPI neither validates nor re-encodes it (a trip through the thread pool less)
    return JSONResponse(row.body, headers={"X-Portfolio-Revision": str(row.revision)})


@router.put(
    "/{portfolio_id}",
    operation_id="replace_portfolio",
    response_model=PortfolioSavedOut,
    responses=error_responses(401, 403, 404, 413, 422),
    summary="Replace a portfolio (its revision goes up; earlier plans stay)",
)
def replace_portfolio(
    portfolio_id: str,
    body: PortfolioIn,
    _: Planner,
    portfolios: PortfoliosDep,
    settings: SettingsDep,
) -> PortfolioSavedOut:
    if not portfolios.exists(portfolio_id):
        raise not_found("portfolio")
    return save_replacement(portfolios, portfolio_id, body, settings)


def save_replacement(
    portfolios: Portfolios, portfolio_id: str, body: Any, settings: Settings
) -> PortfolioSavedOut:
    """Validate ``body`` (422 listing every error) and store it as the portfolio's new revision."""
    valid = read_valid_portfolio(body, _limits(settings))
    row = portfolios.replace(portfolio_id, valid.doc)
    if row is None:
        raise not_found("portfolio")
    return PortfolioSavedOut(
        id=row.id, revision=row.revision, warnings=issues_as_details(valid.warnings)
    )


@router.delete(
    "/{portfolio_id}",
    operation_id="delete_portfolio",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(401, 403, 404),
    summary="Delete a portfolio with its plans and jobs (a running solve stops)",
)
def delete_portfolio(portfolio_id: str, _: Planner, portfolios: PortfoliosDep) -> Response:
    if not portfolios.delete(portfolio_id):
        raise not_found("portfolio")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def queue_job(
    jobs: Jobs,
    runner: JobRunner,
    settings: Settings,
    response: Response,
    portfolio_id: str,
    idem: Idempotent,
    *,
    kind: str = "solve",
    input: dict[str, Any] | None = None,
    time_limit: float,
    workers: int,
) -> tuple[JobRow, str]:
    """The routes' one way to queue a job of any kind: ``Jobs.enqueue`` under the service's
    queue limits (429 + ``Retry-After`` when full), a worker woken once it is committed (with
    an ``Idempotency-Key``: with the answer, ``idem.answer``), the ``Location`` header set. The
    job and its location."""
    try:
        job = jobs.enqueue(
            portfolio_id,
            kind=kind,
            input=input,
            time_limit=time_limit,
            workers=workers,
            max_queued=settings.max_queued_jobs,
            max_per_tenant=settings.max_jobs_per_tenant,
            commit=idem.commits,
        )
    except QueueFull as exc:
        raise ApiError(
            429,
            "too_many_jobs",
            exc.reason,
            headers={"Retry-After": str(settings.retry_after_seconds)},
        ) from None
    idem.after_commit(runner.notify)
    response.headers["Location"] = location = f"/v1/jobs/{job.id}"
    return job, location


@router.post(
    "/{portfolio_id}/solve",
    operation_id="solve_portfolio",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobCreatedOut,
    responses=error_responses(401, 403, 404, 409, 413, 422, 429),
    summary="Queue a solve job; follow it at /v1/jobs/{job_id}",
)
def solve_portfolio(
    portfolio_id: str,
    _: Planner,
    portfolios: PortfoliosDep,
    jobs: JobsDep,
    runner: RunnerDep,
    settings: SettingsDep,
    response: Response,
    idem: IdempotencyDep,
    params: SolveIn | None = None,
) -> JobCreatedOut:
    if not portfolios.exists(portfolio_id):
        raise not_found("portfolio")
    params = params or SolveIn()
    time_limit, workers = job_limits(settings, params.time_limit, params.workers)
    job, location = queue_job(
        jobs,
        runner,
        settings,
        response,
        portfolio_id,
        idem,
        time_limit=time_limit,
        workers=workers,
    )
    created = JobCreatedOut(
        job_id=job.id, status=job.status, time_limit=time_limit, workers=workers
    )
    return idem.answer(created, status.HTTP_202_ACCEPTED, location)


@router.get(
    "/{portfolio_id}/plans",
    operation_id="list_plans",
    response_model=PlanPageOut,
    responses=error_responses(401, 404, 422),
    summary="The portfolio's plan versions, newest first",
)
def list_plans(
    portfolio_id: str, _: Viewer, portfolios: PortfoliosDep, plans: PlansDep, page: PageDep
) -> PlanPageOut:
    if not portfolios.exists(portfolio_id):
        raise not_found("portfolio")
    rows, total = plans.page_for_portfolio(portfolio_id, page.limit, page.offset)
    return PlanPageOut(
        items=[PlanSummaryOut.of(r) for r in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.post(
    "/{portfolio_id}/check",
    operation_id="check_plan",
    response_model=CheckOut,
    responses=error_responses(401, 404, 409, 413, 422),
    summary="Check a plan (e.g. edited by hand) against the portfolio: violations and KPIs",
)
def check_plan_route(
    portfolio_id: str, body: PlanIn, _: Viewer, portfolios: PortfoliosDep
) -> CheckOut:
    row = portfolios.get(portfolio_id)
    if row is None:
        raise not_found("portfolio")
    # bounded work: the raw lists' size before reading, then sizes and dates before checking
    lists = (body.get(key) for key in ("assignments", "unassigned"))
    listed = sum(len(x) for x in lists if isinstance(x, list))
    too_many = plan_size_issue(listed, row.tasks)
    if too_many is not None:
        raise ApiError(
            422, "limit_exceeded", "the plan exceeds a size limit", issues_as_details([too_many])
        )
    portfolio, plan = stored_portfolio(row.body), read_plan_body(body)
    over = plan_issues(portfolio, plan)
    if over:
        raise ApiError(
            422, "limit_exceeded", "the plan exceeds a size limit", issues_as_details(over)
        )
    return CheckOut.model_validate(check_plan(portfolio, plan))
