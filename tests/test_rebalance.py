"""Re-planning from a previous plan: warm start, freeze window, churn budget, stability.

Calendar: Mon 2027-01-04 .. Fri 2027-01-29 (20 working days) unless told otherwise.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from allocator import load_portfolio
from allocator.checker import check
from allocator.contract import portfolio_to_dict
from allocator.diff import changed_tasks
from allocator.domain import Assignment, Plan, Portfolio
from allocator.engine import SolveParams, solve
from allocator.generator import generate
from allocator.rebalance import RebalancePolicy, rebalance, rebalance_tradeoff
from tests.conftest import portfolio_dict

D = date.fromisoformat
FAST = SolveParams(time_limit=2, workers=1, seed=0)


def valid(portfolio: Portfolio, plan: Plan) -> None:
    report = check(portfolio, plan)
    assert report.valid, report.violations


def three_tasks(**policy: Any) -> Portfolio:
    """ann is expensive, bob cheap; three 2-day py tasks that bob could take over."""
    return load_portfolio(
        portfolio_dict(
            [
                {"id": "ann", "skills": {"py": 3}, "cost_per_hour": 50},
                {"id": "bob", "skills": {"py": 3}, "cost_per_hour": 10},
            ],
            [{"id": f"t{i}", "skill": "py", "effort_hours": 16} for i in (1, 2, 3)],
            policy=policy or None,
            as_of="2027-01-04",
        )
    )


def all_on_ann() -> Plan:
    """A valid but poor previous plan: ann does the three tasks one after another."""
    days = [
        ("2027-01-04", "2027-01-05"),
        ("2027-01-06", "2027-01-07"),
        ("2027-01-08", "2027-01-11"),
    ]
    return Plan(
        portfolio="tiny",
        status="feasible",
        objective=None,
        lower_bound=None,
        solve_seconds=0.0,
        assignments=tuple(
            Assignment(f"t{i}", ("ann",), D(s), D(f)) for i, (s, f) in enumerate(days, 1)
        ),
    )


def test_policy_keys_are_read_without_warning() -> None:
    p = three_tasks(freeze_days=3, churn_budget=1, stability=2)
    assert RebalancePolicy.of(p) == RebalancePolicy(freeze_days=3, churn_budget=1, stability=2)
    assert RebalancePolicy.of(p, churn_budget=0).churn_budget == 0
    with pytest.raises(ValueError, match="churn_budget"):
        RebalancePolicy.of(p, churn_budget=-1)


def test_unchanged_portfolio_changes_nothing() -> None:
    p = three_tasks(stability=1)
    prev = all_on_ann()
    res = rebalance(p, prev, FAST)
    valid(p, res.plan)
    assert changed_tasks(prev, res.plan) == set()
    assert res.stats["moved"] == 0 and res.plan.changes is None


def test_without_stability_it_improves_and_reports_changes() -> None:
    p = three_tasks()
    prev = all_on_ann()
    res = rebalance(p, prev, FAST)
    valid(p, res.plan)
    moved = changed_tasks(prev, res.plan)
    assert moved  # bob is cheaper and the work finishes earlier
    assert {c.task for c in res.plan.changes or ()} == moved


def test_churn_budget_honored() -> None:
    p = three_tasks()
    prev = all_on_ann()
    for k in (0, 1):
        res = rebalance(p, prev, FAST, churn_budget=k)
        valid(p, res.plan)
        assert len(changed_tasks(prev, res.plan)) <= k


def test_freeze_window_honored() -> None:
    # as_of = Mon 4 Jan; freeze 3 working days: t1 (starts idx 0) and t2 (idx 2) stay on ann
    p = three_tasks(freeze_days=3)
    prev = all_on_ann()
    res = rebalance(p, prev, FAST)
    valid(p, res.plan)
    a = {x.task: x for x in res.plan.assignments}
    for t in ("t1", "t2"):
        old = prev.assignment_of(t)
        assert old is not None
        assert (a[t].people, a[t].start, a[t].finish) == (old.people, old.start, old.finish)
    assert res.stats["frozen"] == 2
    assert "t3" in changed_tasks(prev, res.plan)  # outside the window it may move (to bob)


def test_forced_change_does_not_use_the_budget() -> None:
    # ann leaves after Tue 5 Jan: t2 and t3 must move even with a budget of 0
    data = portfolio_to_dict(three_tasks())
    data["people"][0]["available_until"] = "2027-01-05"
    p = load_portfolio(data)
    prev = all_on_ann()
    res = rebalance(p, prev, FAST, churn_budget=0)
    valid(p, res.plan)
    assert res.stats["forced"] == 2 and res.stats["moved"] == 0
    a = {x.task: x for x in res.plan.assignments}
    assert a["t1"].people == ("ann",) and a["t2"].people == ("bob",)
    reasons = {c.task: c.reasons for c in res.plan.changes or ()}
    assert any("ann leaves on 2027-01-05" in r for r in reasons["t2"])


def test_in_progress_kept_with_its_people_then_reassigned_when_gone() -> None:
    people = [
        {"id": "ann", "skills": {"py": 3}},
        {"id": "bob", "skills": {"py": 3}},
    ]
    task = {
        "id": "t",
        "skill": "py",
        "effort_hours": 40,
        "status": "in_progress",
        "progress": {"people": ["ann"], "remaining_hours": 16},
    }
    p = load_portfolio(portfolio_dict(people, [task], as_of="2027-01-06"))
    res = solve(p, FAST)
    valid(p, res.plan)
    a = res.plan.assignments[0]
    assert (a.people, a.start, a.finish) == (("ann",), D("2027-01-06"), D("2027-01-07"))
    assert res.plan.changes is None
    people[0]["available_until"] = "2027-01-05"
    p2 = load_portfolio(portfolio_dict(people, [task], as_of="2027-01-06"))
    res2 = rebalance(p2, res.plan, FAST)
    valid(p2, res2.plan)
    assert res2.plan.assignments[0].people == ("bob",)
    changes = {c.task: c.reasons for c in res2.plan.changes or ()}
    assert any("ann is no longer available" in r for r in changes["t"])


def _generated() -> tuple[Portfolio, Plan]:
    # slack enough that everything is delivered: no move is needed to deliver more work
    p = generate(6, 3, seed=1, tightness=0.5)
    return p, solve(p, FAST).plan


@pytest.mark.parametrize(("which", "change"), [(0, "cancel"), (6, "grow")])
def test_perturbation_of_one_task_moves_few_others(which: int, change: str) -> None:
    p, prev = _generated()
    data = portfolio_to_dict(p)
    task = [t for proj in data["projects"] for t in proj["tasks"]][which]
    if change == "cancel":
        task["status"] = "cancelled"
    else:
        task["effort_hours"] += 8  # one more day of work
    p2 = load_portfolio(data)
    res = rebalance(p2, prev, FAST, stability=1)
    valid(p2, res.plan)
    assert res.stats["moved"] == 0
    assert changed_tasks(prev, res.plan) <= {task["id"]}
    # the engine's façade passes the previous plan through
    res2 = solve(p2, SolveParams(time_limit=2, workers=1, previous=prev))
    valid(p2, res2.plan)
    assert str(res2.plan.extra["solver"]).startswith("rebalance:")


def test_tradeoff_rows() -> None:
    p = three_tasks()
    rows = rebalance_tradeoff(p, all_on_ann(), FAST, budgets=(0, 1, None))
    assert [r["max_changes"] for r in rows] == [0, 1, None]
    assert rows[0]["moved"] == 0 and rows[1]["moved"] <= 1
    # more room for change never makes the plan worse here (solved to optimality)
    assert rows[0]["objective"] >= rows[1]["objective"] >= rows[2]["objective"]
