"""The bridge to the library: reading, validating, checking and solving are all the library's;
this module only converts between HTTP bodies, library values and stored rows, and turns the
library's issues into the service's error model."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from allocator.checker import check
from allocator.contract import plan_to_dict, portfolio_to_dict, read_plan, read_portfolio
from allocator.domain import Plan, Portfolio
from allocator.errors import Issue
from allocator.validation import validate
from api.errors import ApiError, ErrorDetail, issues_as_details
from api.repository import AssignmentValues, PlanDoc, PortfolioDoc

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
    """The library's checker: ``{"valid", "violations", "kpis"}``."""
    return check(portfolio, plan).as_dict()


def plan_doc(plan: Plan) -> PlanDoc:
    """A library plan as stored: its contract JSON, summary columns and one row per assignee."""
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
    gap = plan.extra.get("gap")
    solver = plan.extra.get("solver")
    return PlanDoc(
        body=plan_to_dict(plan),
        status=plan.status,
        objective=plan.objective,
        lower_bound=plan.lower_bound,
        gap=float(gap) if isinstance(gap, int | float) else None,
        solver=str(solver) if solver is not None else None,
        solve_seconds=float(plan.solve_seconds),
        assignments=rows,
    )


def capped(value: float | None, default: float, cap: float) -> float:
    return min(default if value is None else value, cap)
