"""Request and response bodies, named by direction (``...In`` read, ``...Out`` written).

Portfolios and plans travel in the contract's JSON formats (``allocator.portfolio/v1``,
``allocator.plan/v2``, see the contract README; ``allocator.plan/v1`` is still read); the
library reads and writes them, so here they are plain JSON objects. Objectives and lower bounds
are the plan's terms in planner units (``{"undelivered_work_hours": 12.5, ...}``), every number
exact in a 64-bit float.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import Body
from pydantic import BaseModel, ConfigDict, Field

from allocator.limits import LIMITS, SizeLimits
from allocator_api.errors import ErrorDetail
from allocator_api.models import ApiKeyRow, JobRow, PlanRow, PortfolioRow
from allocator_api.repository import plan_body_of, terms_or_none
from allocator_api.security import Role

_EXAMPLE_PORTFOLIO: dict[str, Any] = {
    "format": "allocator.portfolio/v1",
    "name": "tiny",
    "calendar": {"start": "2027-01-04", "end": "2027-01-29"},
    "people": [{"id": "ann", "skills": {"py": 4}, "cost_per_hour": 50}],
    "projects": [{"id": "P", "tasks": [{"id": "a", "skill": "py", "effort_hours": 16}]}],
}

#: the library's size limits (allocator.limits), shown in the schema as ``x-size-limits``
SIZE_LIMITS: dict[str, Any] = {
    f.name: str(v) if isinstance(v := getattr(LIMITS, f.name), date) else v
    for f in fields(SizeLimits)
}
_LIMITS_TEXT = (
    f"Size limits (422 beyond them, each problem with its path): at most "
    f"{LIMITS.max_calendar_days:,} calendar days (20 years) ending by {LIMITS.last_date}, "
    f"{LIMITS.max_person_days:,} people x calendar days, {LIMITS.max_places:,} places (team "
    "counts summed), a team count no larger than the people with its skill and level, "
    f"hours_per_day {LIMITS.min_hours_per_day}..{LIMITS.max_hours_per_day:g}, cost_per_hour <= "
    f"{LIMITS.max_cost_per_hour:,.0f}, budget <= {LIMITS.max_budget:,.0f}, effort_hours "
    f"(and estimate, remaining_hours) <= {LIMITS.max_effort_hours:,.0f}, duration_days <= "
    f"{LIMITS.max_calendar_days:,}, priority <= {LIMITS.max_priority:,}; people and tasks up to "
    "the server's max_people and max_tasks. No string may hold a NUL character or a lone "
    "surrogate; no number may be NaN or Infinity."
)
#: a portfolio in contract JSON (``allocator.portfolio/v1``)
PortfolioIn = Annotated[
    dict[str, Any],
    Body(
        description="a portfolio in the contract's JSON format (allocator.portfolio/v1). "
        + _LIMITS_TEXT,
        examples=[_EXAMPLE_PORTFOLIO],
        json_schema_extra={"x-size-limits": SIZE_LIMITS},
    ),
]
#: a plan in contract JSON (``allocator.plan/v2``; v1 is read), e.g. a solved plan edited by hand
PlanIn = Annotated[
    dict[str, Any],
    Body(
        description="a plan in the contract's JSON format (allocator.plan/v2; "
        "allocator.plan/v1 is still read). Checked against a portfolio, it lists at most twice "
        "as many tasks as the portfolio has (and assignees as its places), every assignment "
        "dated within the calendar (422 limit_exceeded otherwise)."
    ),
]

#: objective or lower-bound terms, in priority order, planner units (contract plan/v2)
Terms = dict[str, int | float]
_TERMS_EXAMPLE = {
    "undelivered_work_hours": 12.5,
    "weighted_late_days": 3,
    "weighted_finish_days": 40,
    "cost": 1234.5,
}


def utc(value: datetime | None) -> datetime | None:
    """Stored times are naive UTC; answers carry the zone."""
    return None if value is None else value.replace(tzinfo=UTC)


# -- portfolios -------------------------------------------------------------------------------
class PortfolioSavedOut(BaseModel):
    id: str
    revision: int
    warnings: list[ErrorDetail] = Field(
        default_factory=list, description="the library's warnings (unknown keys are dropped)"
    )


class PortfolioSummaryOut(BaseModel):
    id: str
    name: str
    revision: int
    people: int
    tasks: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: PortfolioRow) -> PortfolioSummaryOut:
        return cls(
            id=row.id,
            name=row.name,
            revision=row.revision,
            people=row.people,
            tasks=row.tasks,
            created_at=utc(row.created_at) or row.created_at,
            updated_at=utc(row.updated_at) or row.updated_at,
        )


class PortfolioPageOut(BaseModel):
    items: list[PortfolioSummaryOut]
    total: int
    limit: int
    offset: int


# -- jobs -------------------------------------------------------------------------------------
class SolveIn(BaseModel):
    """Solve parameters, both optional; larger values are lowered to the server's caps."""

    model_config = ConfigDict(extra="forbid")

    time_limit: float | None = Field(
        default=None,
        gt=0,
        le=86_400,
        allow_inf_nan=False,
        description="seconds (capped by the server)",
    )
    workers: int | None = Field(
        default=None, ge=1, le=256, description="CP-SAT workers (capped by the server)"
    )


class JobCreatedOut(BaseModel):
    job_id: str
    status: str
    time_limit: float = Field(description="the time limit the job runs with, after capping")
    workers: int


class DecisionJobOut(JobCreatedOut):
    """A queued decision job (risk, scenarios, recommendations): ``time_limit`` is the job's
    total budget (enforced like a solve's), ``solves`` x (``time_limit_per_solve`` + the
    service's allowance per re-solve), capped by the service's ``max_time_limit``."""

    kind: str
    plan_id: str = Field(description="the plan the job starts from")
    solves: int = Field(description="re-solves the job may run (0 for risk)")
    time_limit_per_solve: float | None = Field(
        default=None, description="each re-solve's time limit, after fitting the total budget"
    )


class SpreadIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    low: float = Field(ge=0, lt=1, description="fraction under the nominal amount (0.1)")
    high: float = Field(ge=0, lt=10, description="fraction over the nominal amount (0.3)")


class RiskIn(BaseModel):
    """A Monte Carlo over a plan (``allocator.risk.simulate``)."""

    model_config = ConfigDict(extra="forbid")

    plan_id: str | None = Field(
        default=None, max_length=36, description="the plan (default: the latest final plan)"
    )
    runs: int = Field(default=10_000, ge=1, le=20_000)
    seed: int | None = Field(default=0, ge=0, le=2**32 - 1)
    default_spread: SpreadIn | None = Field(
        default=None,
        description="spread of tasks without an estimate (default low 0.1, high 0.3)",
    )


class ScenarioIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    edits: list[dict[str, Any]] = Field(
        default_factory=list,
        max_length=100,
        description="edits keyed by ids (the library's allocator.edits format)",
    )


class ScenariosIn(BaseModel):
    """What-if scenarios solved side by side from a plan (``allocator.scenarios``)."""

    model_config = ConfigDict(extra="forbid")

    plan_id: str | None = Field(
        default=None, max_length=36, description="the base plan (default: the latest final plan)"
    )
    scenarios: list[ScenarioIn] = Field(min_length=1, max_length=10)
    time_limit: float | None = Field(
        default=None, gt=0, le=86_400, description="seconds per re-solve (one per scenario)"
    )
    workers: int | None = Field(default=None, ge=1, le=256)


class RecommendIn(BaseModel):
    """Recommendations, each proven by re-solving (``allocator.recommend``)."""

    model_config = ConfigDict(extra="forbid")

    plan_id: str | None = Field(
        default=None, max_length=36, description="the plan (default: the latest final plan)"
    )
    time_limit: float | None = Field(
        default=None,
        gt=0,
        le=86_400,
        description="seconds per re-solve (the control and each candidate)",
    )
    limit: int = Field(default=10, ge=1, le=10, description="candidates to evaluate")
    workers: int | None = Field(default=None, ge=1, le=256)


class ProgressOut(BaseModel):
    """The latest progress of a solve, in planner units. ``stage`` says what the figures
    measure: ``greedy``, ``lns`` and ``done``: the plan's objective terms and lower bound terms;
    ``cp-sat:<stage>``: the value and bound of the one term being optimized (e.g.
    ``{"undelivered_work_hours": 120.5}``); stages that optimize no term report none (see the
    library's ``engine.SolveProgress``)."""

    stage: str | None = None
    objective: Terms | None = Field(default=None, examples=[_TERMS_EXAMPLE])
    lower_bound: Terms | None = None
    gap: float | None = None
    elapsed: float | None = Field(default=None, description="seconds since the solve began")


class JobOut(BaseModel):
    id: str
    portfolio_id: str
    kind: str = Field(
        description="what the job does: solve, rebalance, risk, scenarios or recommend"
    )
    status: str = Field(description="queued, running, done, failed or cancelled")
    progress: ProgressOut
    time_limit: float
    workers: int
    cancel_requested: bool
    attempts: int = Field(
        default=0,
        description="how many times a worker has run it (a job whose process was killed runs "
        "again from its best plan, up to the service's job_max_attempts)",
    )
    plan_id: str | None = Field(default=None, description="the job's plan (the best so far)")
    has_result: bool = Field(
        default=False,
        description="a decision job's result is stored (GET /v1/jobs/{job_id}/result)",
    )
    error: str | None = None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @classmethod
    def of(cls, row: JobRow, plan_id: str | None) -> JobOut:
        return cls(
            id=row.id,
            portfolio_id=row.portfolio_id,
            kind=row.kind,
            status=row.status,
            progress=ProgressOut(
                stage=row.stage,
                objective=terms_or_none(row.objective),
                lower_bound=terms_or_none(row.lower_bound),
                gap=row.gap,
                elapsed=row.elapsed,
            ),
            time_limit=row.time_limit,
            workers=row.workers,
            attempts=row.attempts,
            cancel_requested=row.cancel_requested,
            plan_id=plan_id,
            has_result=row.result is not None,
            error=row.error,
            created_at=utc(row.created_at) or row.created_at,
            started_at=utc(row.started_at),
            finished_at=utc(row.finished_at),
        )


# -- plans ------------------------------------------------------------------------------------
class VerdictOut(BaseModel):
    """The independent checker's verdict, computed before the version was stored (a plan that
    fails it is never stored, so ``valid`` is true)."""

    valid: bool
    violations: int = Field(description="how many rule violations")
    codes: list[str] = Field(description="the violations' codes")
    stale: bool = Field(
        description="the plan's figures did not match its portfolio (bookkeeping, not a violation)"
    )


class PlanSummaryOut(BaseModel):
    id: str
    portfolio_id: str
    version: int
    portfolio_revision: int
    job_id: str | None
    final: bool = Field(description="false while its job still runs (the best plan so far)")
    status: str
    objective: Terms | None = Field(
        description="the objective's terms in priority order, planner units",
        examples=[_TERMS_EXAMPLE],
    )
    lower_bound: Terms | None = Field(description="proven lower bounds of some or all terms")
    gap: float | None
    solver: str | None
    solve_seconds: float
    check: VerdictOut | None = Field(
        description="the checker's verdict when it was stored (null: stored before verdicts "
        "were kept)"
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def summary(cls, row: PlanRow) -> dict[str, Any]:
        return {
            "id": row.id,
            "portfolio_id": row.portfolio_id,
            "version": row.version,
            "portfolio_revision": row.portfolio_revision,
            "job_id": row.job_id,
            "final": row.final,
            "status": row.status,
            "objective": terms_or_none(row.objective),
            "lower_bound": terms_or_none(row.lower_bound),
            "gap": row.gap,
            "solver": row.solver,
            "solve_seconds": row.solve_seconds,
            "check": None
            if row.check_valid is None
            else VerdictOut(
                valid=row.check_valid,
                violations=row.check_violations or 0,
                codes=list(row.check_codes or []),
                stale=bool(row.check_stale),
            ),
            "created_at": utc(row.created_at),
            "updated_at": utc(row.updated_at),
        }

    @classmethod
    def of(cls, row: PlanRow) -> PlanSummaryOut:
        return cls(**cls.summary(row))


class PlanPageOut(BaseModel):
    items: list[PlanSummaryOut]
    total: int
    limit: int
    offset: int


class PlanOut(PlanSummaryOut):
    plan: dict[str, Any] = Field(description="the plan in contract JSON (allocator.plan/v2)")

    @classmethod
    def of(cls, row: PlanRow) -> PlanOut:
        return cls(**cls.summary(row), plan=plan_body_of(row))


class ViolationOut(BaseModel):
    rule: int = Field(description="the contract's rule number (1-10), 0 for plan consistency")
    code: str
    message: str
    task: str | None = None
    person: str | None = None
    day: str | None = None


class CheckOut(BaseModel):
    valid: bool
    violations: list[ViolationOut]
    stale: list[ViolationOut] = Field(
        default_factory=list,
        description="the plan's figures that do not match the portfolio (the plan is stale: "
        "re-plan or re-score it); not violations",
    )
    kpis: dict[str, Any] = Field(description="the library checker's KPIs of the plan")


# -- synchronous solve ------------------------------------------------------------------------
class SyncSolveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    portfolio: dict[str, Any] = Field(
        description="a small portfolio in contract JSON. " + _LIMITS_TEXT,
        examples=[_EXAMPLE_PORTFOLIO],
    )
    time_limit: float | None = Field(default=None, gt=0, le=86_400, allow_inf_nan=False)
    workers: int | None = Field(default=None, ge=1, le=256)


# -- keys -------------------------------------------------------------------------------------
class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role
    name: str | None = Field(default=None, max_length=200)


class KeyOut(BaseModel):
    id: str
    tenant: str
    role: str
    name: str | None
    prefix: str = Field(description="the key's first characters, to tell keys apart")
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, row: ApiKeyRow) -> KeyOut:
        return cls(
            id=row.id,
            tenant=row.tenant,
            role=row.role,
            name=row.name,
            prefix=row.prefix,
            created_at=utc(row.created_at) or row.created_at,
            revoked_at=utc(row.revoked_at),
        )


class KeyCreatedOut(KeyOut):
    key: str = Field(description="the secret key: shown this once, stored only hashed")


# -- operations -------------------------------------------------------------------------------
class HealthOut(BaseModel):
    status: str
