"""The plan view (allocator.analytics.PlanView) against the independent checker: the same
active days, hours, costs, late days and utilization, on solved and on scrambled plans."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta

import pytest

from allocator.analytics import PlanView, kpi_frames, kpi_summary
from allocator.checker import check, kpis
from allocator.domain import Assignment, Plan, Portfolio
from allocator.engine import SolveParams, solve
from allocator.generator import generate

PARAMS = SolveParams(time_limit=1, workers=1, seed=0)
SEEDS = (0, 1, 2)


def _portfolio(seed: int) -> Portfolio:
    return generate(6, 3, seed=seed, tasks_per_project=(2, 6), team_task_share=0.3, tightness=1.2)


@pytest.fixture(scope="module", params=SEEDS)
def solved(request: pytest.FixtureRequest) -> tuple[Portfolio, Plan]:
    portfolio = _portfolio(request.param)
    plan = solve(portfolio, PARAMS).plan
    assert check(portfolio, plan).valid
    assert plan.assignments
    return portfolio, plan


def _scrambled(portfolio: Portfolio, plan: Plan, seed: int) -> Plan:
    """Dates moved by -3..3 calendar days (onto weekends and holidays too), people drawn at
    random (an unknown one among them): an invalid plan, still one the checker measures."""
    rnd = random.Random(seed)
    ids = [p.id for p in portfolio.people] + ["nobody"]
    out = []
    for a in plan.assignments:
        start = a.start + timedelta(days=rnd.randint(-3, 3))
        finish = max(start, a.finish + timedelta(days=rnd.randint(-3, 3)))
        people = tuple(rnd.sample(ids, min(len(ids), max(1, len(a.people)))))
        out.append(Assignment(a.task, people, start, finish))
    return replace(plan, assignments=tuple(out))


def _agree_task_by_task(portfolio: Portfolio, plan: Plan) -> int:
    """Each booking's hours and active days equal the checker's for that assignment alone."""
    view = PlanView(portfolio, plan)
    compared = 0
    for b in view.bookings:
        alone = replace(
            plan,
            assignments=tuple(a for a in plan.assignments if a.task == b.task.id)[:1],
            unassigned=(),
        )
        k = kpis(portfolio, alone)
        assert sum(b.hours.values()) == pytest.approx(k.total_hours, rel=1e-12, abs=1e-9)
        assert sum(b.cost.values()) == pytest.approx(k.total_cost, rel=1e-12, abs=1e-9)
        assert (b.late_days > 0) == (k.late_tasks == 1)
        assert portfolio.task_priority(b.task) * b.late_days == k.weighted_late_days
        known = [portfolio.person_by_id[pid] for pid in b.people if pid in portfolio.person_by_id]
        rate = sum(p.day_hours * b.task.alloc / 100.0 for p in known)
        if rate > 0:
            assert round(k.total_hours / rate) == b.active_days
            compared += 1
    return compared


def test_active_days_hours_and_lateness_equal_the_checkers(solved: tuple[Portfolio, Plan]) -> None:
    portfolio, plan = solved
    assert _agree_task_by_task(portfolio, plan) > 0


@pytest.mark.parametrize("seed", [0, 1])
def test_they_agree_on_scrambled_plans_too(solved: tuple[Portfolio, Plan], seed: int) -> None:
    portfolio, plan = solved
    bad = _scrambled(portfolio, plan, seed)
    assert not check(portfolio, bad).valid  # an invalid plan: the view must still agree
    assert _agree_task_by_task(portfolio, bad) > 0


def test_kpi_frames_add_up_to_the_checkers_kpis(solved: tuple[Portfolio, Plan]) -> None:
    portfolio, plan = solved
    k = kpis(portfolio, plan)
    view = PlanView(portfolio, plan)
    frames = kpi_frames(portfolio, plan)
    person = frames["person"].set_index("person")
    assert person["hours"].sum() == pytest.approx(k.total_hours, rel=1e-12)
    assert person["cost"].sum() == pytest.approx(k.total_cost, rel=1e-12)
    for pid, u in k.utilization_by_person.items():
        assert person.loc[pid, "utilization"] == pytest.approx(u, rel=1e-12, abs=1e-12)
    total_capacity = person["capacity_hours"].sum()
    assert person["hours"].sum() / total_capacity == pytest.approx(k.utilization, rel=1e-12)
    late = [b for b in view.bookings if b.late_days > 0]
    assert len(late) == k.late_tasks
    assert sum(portfolio.task_priority(b.task) * b.late_days for b in late) == (
        k.weighted_late_days
    )
    assert frames["week"]["hours"].sum() == pytest.approx(k.total_hours, rel=1e-12)
    assert frames["week"]["late_tasks"].sum() == k.late_tasks
    summary = kpi_summary(portfolio, plan)
    assert summary["total_hours"] == k.total_hours
    assert summary["late_tasks"] == k.late_tasks


def test_a_late_task_counts_its_days_past_the_deadline(solved: tuple[Portfolio, Plan]) -> None:
    portfolio, plan = solved
    view = PlanView(portfolio, plan)
    tl = view.timeline
    b = view.bookings[0]
    deadline = tl.days[max(0, b.hi - 3)]  # two working days before the finish
    task = replace(b.task, deadline=deadline)
    assert view.late_days(task, b.finish) == b.hi - 1 - tl.last_on_or_before(deadline)
    assert view.late_days(replace(b.task, deadline=b.finish), b.finish) == 0
