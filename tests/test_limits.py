"""Size limits (allocator.limits): every case of issue #16's table is a validation error naming
its path, found fast and with little memory, and a portfolio at the limits solves without
overflow."""

from __future__ import annotations

import copy
import math
import time
import tracemalloc
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from allocator.checker import check
from allocator.contract import load_portfolio, read_plan, read_portfolio
from allocator.domain import Assignment, Plan
from allocator.engine import SolveParams, solve
from allocator.errors import PortfolioError
from allocator.limits import LIMITS, SizeLimits, plan_issues, portfolio_issues
from allocator.validation import ValidationReport, validate

BASE: dict[str, Any] = {
    "format": "allocator.portfolio/v1",
    "name": "limits",
    "calendar": {"start": "2027-01-04", "end": "2027-01-29"},
    "people": [{"id": "ann", "skills": {"py": 3}}, {"id": "bob", "skills": {"py": 2}}],
    "projects": [{"id": "P", "tasks": [{"id": "a", "skill": "py", "effort_hours": 16}]}],
}
TASK = "projects[0].tasks[0]"

#: what validating one hostile portfolio may cost (it cost 5 GB and minutes before the limits)
MAX_SECONDS = 2.0
MAX_PEAK_BYTES = 20_000_000


def doc(edit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    edit(data)
    return data


def validated(data: dict[str, Any]) -> ValidationReport:
    """Read and validate ``data``, asserting the work stayed small."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        portfolio, issues = read_portfolio(data)
        report = validate(portfolio, issues)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    elapsed = time.perf_counter() - started
    assert elapsed < MAX_SECONDS, f"validation took {elapsed:.1f}s"
    assert peak < MAX_PEAK_BYTES, f"validation peaked at {peak:,} bytes"
    return report


def error_paths(report: ValidationReport) -> set[str]:
    return {i.path for i in report.errors}


def team(count: int) -> Callable[[dict[str, Any]], None]:
    def edit(d: dict[str, Any]) -> None:
        d["projects"][0]["tasks"][0] = {
            "id": "a",
            "requirements": [{"skill": "py", "count": count}],
            "duration_days": 2,
        }

    return edit


def test_a_team_count_of_ten_to_the_fifteen_is_refused_without_building_its_places() -> None:
    report = validated(doc(team(10**15)))
    assert f"{TASK}.requirements[0].count" in error_paths(report)
    assert "projects" in error_paths(report)  # the total places, too
    assert any("200,000" in i.message for i in report.errors)


def test_a_team_count_above_the_qualified_people_is_an_error_naming_them() -> None:
    # two people have py >= 1, so 2 places can be filled and 3 cannot
    assert validated(doc(team(2))).ok
    report = validated(doc(team(3)))
    (issue,) = report.errors
    assert issue.path == f"{TASK}.requirements[0].count"
    assert "asks for 3 people" in issue.message and "only 2 people" in issue.message


def test_a_single_place_nobody_can_fill_stays_a_warning() -> None:
    def edit(d: dict[str, Any]) -> None:
        d["projects"][0]["tasks"][0] = {
            "id": "a",
            "requirements": [{"skill": "rust", "count": 1}],
            "duration_days": 2,
        }

    report = validated(doc(edit))
    assert report.ok and report.warnings


def test_a_calendar_of_ten_thousand_years_with_a_hundred_people_is_refused_fast() -> None:
    def edit(d: dict[str, Any]) -> None:
        d["calendar"] = {"start": "0001-01-01", "end": "9999-12-30"}
        d["people"] = [{"id": f"p{i}", "skills": {"py": 3}} for i in range(100)]

    report = validated(doc(edit))
    assert error_paths(report) == {"calendar"}
    assert "7,305" in report.errors[0].message


def test_a_calendar_ending_on_the_last_representable_day_is_an_error_not_an_overflow() -> None:
    def edit(d: dict[str, Any]) -> None:
        d["calendar"] = {"start": "9999-12-01", "end": "9999-12-31"}

    report = validated(doc(edit))
    assert error_paths(report) == {"calendar.end"}
    with pytest.raises(PortfolioError):
        load_portfolio(doc(edit))


def test_people_times_days_is_bounded() -> None:
    def edit(d: dict[str, Any]) -> None:
        d["calendar"] = {"start": "2027-01-01", "end": "2036-12-31"}  # 3,653 days

    small = SizeLimits(max_person_days=7_000)  # 2 people x 3,653 days is over
    portfolio, _ = read_portfolio(doc(edit))
    assert [i.path for i in portfolio_issues(portfolio, small)] == ["calendar"]
    assert portfolio_issues(portfolio) == []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("people[0].hours_per_day", 5e-324),
        ("people[0].hours_per_day", 1e-300),
        ("people[0].hours_per_day", 0.2),
        ("people[0].cost_per_hour", 1e308),
        (f"{TASK}.effort_hours", 1e308),
        ("projects[0].budget", 1e308),
        ("projects[0].priority", 10**15),
    ],
)
def test_amounts_that_would_overflow_are_errors_at_their_path(path: str, value: float) -> None:
    def edit(d: dict[str, Any]) -> None:
        *parents, key = path.replace("]", "").replace("[", ".").split(".")
        node: Any = d
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[key] = value

    report = validated(doc(edit))
    assert path in error_paths(report), [str(i) for i in report.errors]


def test_an_estimate_of_a_huge_effort_is_an_error() -> None:
    def edit(d: dict[str, Any]) -> None:
        d["projects"][0]["tasks"][0]["estimate"] = {"low": 8, "high": 1e308}

    assert f"{TASK}.estimate.high" in error_paths(validated(doc(edit)))


def test_non_finite_amounts_built_in_python_are_errors() -> None:
    portfolio, _ = read_portfolio(BASE)
    person = portfolio.people[0]
    from dataclasses import replace

    bad = replace(
        portfolio, people=(replace(person, cost_per_hour=math.nan), *portfolio.people[1:])
    )
    issues = portfolio_issues(bad)
    assert [i.path for i in issues] == ["people[0].cost_per_hour"]
    assert "finite" in issues[0].message


def test_a_portfolio_at_every_limit_is_valid_and_solves_without_overflow() -> None:
    """The limits are meant to keep every product in range: at the maxima, the greedy plan is
    found, the objective computed and the checker agrees."""

    def edit(d: dict[str, Any]) -> None:
        d["calendar"] = {"start": "2027-01-04", "end": "2047-01-03"}  # 7,305 days
        d["people"] = [
            {"id": "ann", "skills": {"py": 3}, "hours_per_day": 24, "cost_per_hour": 100_000},
            {"id": "bob", "skills": {"py": 3}, "hours_per_day": 0.25, "cost_per_hour": 100_000},
        ]
        d["projects"] = [
            {
                "id": "P",
                "priority": LIMITS.max_priority,
                "budget": LIMITS.max_budget,
                "tasks": [
                    {"id": "a", "skill": "py", "effort_hours": 100_000},
                    {"id": "b", "skill": "py", "effort_hours": 10, "priority": 10_000},
                    {
                        "id": "c",
                        "requirements": [{"skill": "py", "count": 2}],
                        "duration_days": 3,
                    },
                ],
            }
        ]

    data = doc(edit)
    report = validated(data)
    assert report.ok, [str(i) for i in report.errors]
    result = solve(load_portfolio(data), SolveParams(greedy_only=True, seed=0))
    assert result.plan.objective is not None
    assert check(load_portfolio(data), result.plan).valid


def test_the_limits_at_their_boundaries_are_accepted() -> None:
    def edit(d: dict[str, Any]) -> None:
        d["calendar"] = {"start": "9979-12-31", "end": "9999-12-30"}  # 7,305 days, last day
        d["people"][0]["hours_per_day"] = LIMITS.min_hours_per_day

    assert validated(doc(edit)).ok
    last = date.fromisoformat("9999-12-30")
    assert LIMITS.last_date == last


# -- plans sent to the checker ----------------------------------------------------------------
def plan_of(assignments: list[dict[str, Any]]) -> Plan:
    plan, issues = read_plan(
        {
            "format": "allocator.plan/v2",
            "portfolio": "limits",
            "status": "unknown",
            "objective": None,
            "lower_bound": None,
            "solve_seconds": 0,
            "assignments": assignments,
            "unassigned": [],
        }
    )
    assert not [i for i in issues if i.severity == "error"], issues
    return plan


def test_plan_assignments_outside_the_calendar_are_refused_before_checking() -> None:
    portfolio, _ = read_portfolio(BASE)
    far = plan_of([{"task": "a", "people": ["ann"], "start": "0001-01-01", "finish": "9999-12-30"}])
    assert [i.path for i in plan_issues(portfolio, far)] == [
        "assignments[0].start",
        "assignments[0].finish",
    ]
    ok = plan_of([{"task": "a", "people": ["ann"], "start": "2027-01-04", "finish": "2027-01-05"}])
    assert plan_issues(portfolio, ok) == []


def test_a_plan_listing_far_more_tasks_than_the_portfolio_has_is_refused() -> None:
    portfolio, _ = read_portfolio(BASE)  # one task
    a = Assignment("a", ("ann",), date(2027, 1, 4), date(2027, 1, 5))
    base = plan_of([])
    two = Plan(**{**_fields(base), "assignments": (a, a)})
    three = Plan(**{**_fields(base), "assignments": (a, a, a)})
    assert plan_issues(portfolio, two) == []  # a duplicate is the checker's to report
    assert [i.path for i in plan_issues(portfolio, three)] == ["assignments"]
    crowd = Plan(
        **{**_fields(base), "assignments": (Assignment("a", ("ann",) * 3, a.start, a.finish),)}
    )
    assert [i.path for i in plan_issues(portfolio, crowd)] == ["assignments"]


def _fields(plan: Plan) -> dict[str, Any]:
    return {k: getattr(plan, k) for k in Plan.__dataclass_fields__}
