"""Reasons for unassigned work are true statements about the plan (checked on hand-made plans)."""

from __future__ import annotations

from datetime import date

from allocator import load_portfolio
from allocator.domain import Assignment, Plan, Unassigned
from allocator.reasons import Explainer
from tests.conftest import portfolio_dict

D = date.fromisoformat


def plan(*assignments: Assignment, unassigned: tuple[str, ...] = ()) -> Plan:
    return Plan(
        portfolio="tiny",
        status="feasible",
        objective=None,
        lower_bound=None,
        solve_seconds=0.0,
        assignments=assignments,
        unassigned=tuple(Unassigned(t, ()) for t in unassigned),
    )


TWO = portfolio_dict(
    [{"id": "ann", "skills": {"py": 3}}],
    [
        {"id": "a", "skill": "py", "effort_hours": 120},
        {"id": "b", "skill": "py", "effort_hours": 40},
    ],
)


def test_booked_people_are_named_with_their_load() -> None:
    # a takes 15 of the 20 working days: b (5 days) would still fit after it, so put a in the
    # middle (days 3..17): then no 5 free days remain for b, and ann is 75% booked.
    p = load_portfolio(TWO)
    why = Explainer(
        p, plan(Assignment("a", ("ann",), D("2027-01-07"), D("2027-01-27")), unassigned=("b",))
    ).explain("b")
    assert len(why) == 1 and "ann 75%" in why[0] and "no qualified person" in why[0]


def test_work_that_fits_says_the_solver_did_not_reach_it() -> None:
    p = load_portfolio(TWO)
    why = Explainer(
        p, plan(Assignment("a", ("ann",), D("2027-01-04"), D("2027-01-22")), unassigned=("b",))
    ).explain("b")
    assert "it would fit with ann from 2027-01-25" in why[0]


def test_window_too_short_after_a_late_predecessor() -> None:
    data = portfolio_dict(
        [{"id": "ann", "skills": {"py": 3}}, {"id": "bob", "skills": {"qa": 3}}],
        [
            {"id": "a", "skill": "py", "effort_hours": 120},
            {"id": "b", "skill": "qa", "effort_hours": 80, "predecessors": ["a"]},
        ],
    )
    p = load_portfolio(data)
    why = Explainer(
        p, plan(Assignment("a", ("ann",), D("2027-01-04"), D("2027-01-22")), unassigned=("b",))
    ).explain("b")
    assert "too short" in why[0] and "needs 10 working days" in why[0] and "predecessors" in why[0]


def test_unassigned_predecessor_is_named() -> None:
    p = load_portfolio(
        portfolio_dict(
            [{"id": "ann", "skills": {"py": 3}}],
            [
                {"id": "a", "skill": "py", "effort_hours": 8},
                {"id": "b", "skill": "py", "effort_hours": 8, "predecessors": ["a"]},
            ],
        )
    )
    why = Explainer(p, plan(unassigned=("a", "b"))).explain("b")
    assert why == ["its predecessor a is unassigned, so it cannot start"]
