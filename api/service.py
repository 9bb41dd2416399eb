"""The bridge to the library: reading, validating, checking and solving are all the library's;
this module only converts between HTTP bodies, library values and stored rows, and turns the
library's issues into the service's error model."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from allocator.checker import Violation, check
from allocator.contract import plan_to_dict, portfolio_to_dict, read_plan, read_portfolio
from allocator.domain import Plan, Portfolio
from allocator.errors import Issue
from allocator.validation import validate
from allocator_api.errors import ApiError, ErrorDetail, issues_as_details
from allocator_api.repository import AssignmentValues, PlanDoc, PortfolioDoc, Verdict, terms_or_none
from allocator_api.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ValidPortfolio:
    portfolio: Portfolio
    doc: PortfolioDoc
    warnings: tuple[Issue, ...]


@dataclass(frozen=True)
class Limits:
    """How big a portfolio may be, and the settings that say so (named in the errors)."""

    max_people: int
    max_tasks: int
    people_setting: str = "max_people"
    tasks_setting: str = "max_tasks"
    hint: str = ""


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def read_valid_portfolio(data: Any, limits: Limits | None = None) -> ValidPortfolio:
    """The portfolio of a contract JSON body, validated by the library.

    Raises 422 ``limit_exceeded`` when it has more people or tasks than ``limits`` allow, and
    422 ``invalid_portfolio`` listing every error (structural and of meaning, each with its
    JSON path and a message naming the id) when it is not valid.
    """
    portfolio, issues = read_portfolio(data)
    n_people = len(portfolio.people)
    n_tasks = sum(1 for _ in portfolio.tasks())
    if limits is not None:
        over = []
        if n_people > limits.max_people:
            over.append(
                ErrorDetail(
                    path="people",
                    message=f"{_plural(n_people, 'person')} given; at most {limits.max_people} "
                    f"are accepted (limit {limits.people_setting}){limits.hint}",
                )
            )
        if n_tasks > limits.max_tasks:
            over.append(
                ErrorDetail(
                    path="projects",
                    message=f"{_plural(n_tasks, 'task')} given; at most {limits.max_tasks} "
                    f"are accepted (limit {limits.tasks_setting}){limits.hint}",
                )
            )
        if over:
            raise ApiError(422, "limit_exceeded", "the portfolio exceeds a size limit", over)
    report = validate(portfolio, structural=issues)
    if report.errors:
        n = len(report.errors)
        raise ApiError(
            422,
            "invalid_portfolio",
            f"the portfolio has {_plural(n, 'error')}",
            issues_as_details(report.errors),
        )
    doc = PortfolioDoc(
        name=portfolio.name,
        body=portfolio_to_dict(portfolio),
        people=n_people,
        tasks=n_tasks,
    )
    return ValidPortfolio(portfolio, doc, report.warnings)


def stored_portfolio(body: dict[str, Any]) -> Portfolio:
    """A stored portfolio as a library value (it was valid when stored)."""
    try:
        return read_valid_portfolio(body).portfolio
    except ApiError as exc:  # the library's rules changed since it was stored
        raise ApiError(
            409,
            "stored_portfolio_invalid",
            "the stored portfolio is no longer valid: replace it (PUT)",
            exc.details,
        ) from None


def read_plan_body(data: Any) -> Plan:
    """A plan of a contract JSON body; 422 ``invalid_plan`` listing every structural error."""
    plan, issues = read_plan(data)
    errors = [i for i in issues if i.severity == "error"]
    if errors:
        raise ApiError(
            422,
            "invalid_plan",
            f"the plan has {_plural(len(errors), 'error')}",
            issues_as_details(errors),
        )
    return plan


def check_plan(portfolio: Portfolio, plan: Plan) -> dict[str, Any]:
    """The library's checker: ``{"valid", "violations", "stale", "kpis"}``."""
    return check(portfolio, plan).as_dict()


class PlanRejected(ApiError):
    """The independent checker found violations in a plan the engine made (a bug): it is not
    stored, and the job (or request) fails with the violations (answered 500
    ``plan_rejected``)."""

    def __init__(self, violations: Sequence[Violation], where: str) -> None:
        n = len(violations)
        shown = violations[:MAX_VIOLATIONS_SHOWN]
        more = n - len(shown)
        message = (
            f"the plan {where} fails the independent checker ({_plural(n, 'violation')}: "
            + "; ".join(str(v) for v in shown)
            + (f"; and {more} more" if more else "")
            + "); it was not stored"
        )
        super().__init__(
            500,
            "plan_rejected",
            message,
            [ErrorDetail(path=_violation_path(v), message=str(v)) for v in shown],
        )
        self.violations = tuple(violations)


#: violations named in an error message (all are counted)
MAX_VIOLATIONS_SHOWN = 20


def _violation_path(v: Violation) -> str:
    parts = [f"task {v.task}" if v.task else "", f"person {v.person}" if v.person else ""]
    return ", ".join(p for p in parts if p)


def checked_plan(
    portfolio: Portfolio, plan: Plan, *, where: str = "", context: Mapping[str, Any] | None = None
) -> PlanDoc:
    """A library plan as stored, after the independent checker passed it: its contract JSON,
    summary columns (objective and bound terms), the checker's verdict and one row per
    assignee. Every path that stores a plan (solve jobs, rebalance jobs, the nightly run) and
    ``/v1/solve`` go through here.

    Raises :class:`PlanRejected` (logged as an error, with every violation) when the plan
    breaks a rule. A *stale* plan (figures not matching the portfolio) is stored, with
    ``stale`` in its verdict, and logged as a warning.
    """
    result = check(portfolio, plan)
    extra = dict(context or {})
    if not result.valid:
        rejected = PlanRejected(result.violations, where or f"of portfolio {portfolio.name!r}")
        log.error(
            "PLAN REJECTED by the checker: %s",
            rejected.message,
            extra=extra | {"violations": len(result.violations), "codes": result.codes()},
        )
        raise rejected
    if not result.current:
        log.warning(
            "plan figures do not match the portfolio (stale): %s",
            "; ".join(str(v) for v in result.stale),
            extra=extra,
        )
    verdict = Verdict(
        valid=True,
        violations=0,
        codes=(),
        stale=not result.current,
    )
    rows = [
        AssignmentValues(
            task=a.task,
            person=person,
            start=a.start,
            finish=a.finish,
            hours=a.hours,
            cost=a.cost,
            team_size=len(a.people),
        )
        for a in plan.assignments
        for person in (a.people or (None,))
    ]
    solver = plan.extra.get("solver")
    return PlanDoc(
        body=plan_to_dict(plan),
        status=plan.status,
        objective=terms_or_none(plan.objective),
        lower_bound=terms_or_none(plan.lower_bound),
        gap=plan.gap,
        solver=str(solver) if solver is not None else None,
        solve_seconds=float(plan.solve_seconds),
        verdict=verdict,
        assignments=rows,
    )


def capped(value: float | None, default: float, cap: float) -> float:
    return min(default if value is None else value, cap)


def job_limits(
    settings: Settings, time_limit: float | None, workers: int | None
) -> tuple[float, int]:
    """A job's time limit and workers: what was asked, else the service's default, at most its
    maximum."""
    return (
        capped(time_limit, settings.default_time_limit, settings.max_time_limit),
        int(capped(workers, settings.default_workers, settings.max_workers)),
    )
