"""The bounds on the objective are never above the objective of a valid plan.

Validity is checked against every plan at hand: the greedy plan, the engine's plan and, on tiny
portfolios, the CP-SAT optimum; tightness on hand-built cases with an argued value.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from allocator.engine import SolveParams, solve
from allocator.generator import generate
from allocator.objective import evaluate
from solver_models.bounds import (
    capacity_lp_bound,
    safe_upper_bound,
    task_windows,
    time_indexed_bound,
    undelivered_lower_bound,
)
from solver_models.instance import compile_instance


@settings(max_examples=15)
@given(st.integers(1, 15), st.integers(1, 6), st.integers(0, 10_000), st.floats(0.8, 2.5))
def test_lp_bound_is_below_every_plan(people: int, projects: int, seed: int, tight: float) -> None:
    portfolio = generate(people, projects, seed=seed, tightness=tight, team_task_share=0.2)
    inst = compile_instance(portfolio)
    bound = undelivered_lower_bound(inst)
    assert bound is not None
    impossible = sum(t.units for t in inst.tasks if not t.possible)
    for params in (SolveParams(greedy_only=True), SolveParams(time_limit=2, workers=1)):
        plan = solve(portfolio, params).plan
        assert bound + impossible <= evaluate(portfolio, plan).undelivered


@settings(max_examples=20)
@given(
    st.integers(1, 10),
    st.integers(1, 5),
    st.integers(0, 10_000),
    st.floats(0.8, 2.5),
    st.sampled_from([None, 1, 2, 5]),
    st.booleans(),
)
def test_time_indexed_bound_is_below_every_plan(
    people: int, projects: int, seed: int, tight: float, bucket: int | None, hard: bool
) -> None:
    portfolio = generate(
        people,
        projects,
        seed=seed,
        tightness=tight,
        team_task_share=0.3,
        pin_share=0.1,
        hard_deadlines=hard,
    )
    inst = compile_instance(portfolio)
    found = time_indexed_bound(inst, bucket_days=bucket)
    assert found is not None
    impossible = sum(t.units for t in inst.tasks if not t.possible)
    assert found.undelivered <= found.total
    for params in (SolveParams(greedy_only=True), SolveParams(time_limit=1, workers=1)):
        result = solve(portfolio, params)
        assert found.undelivered + impossible <= evaluate(portfolio, result.plan).undelivered
        # the engine's bound, term by term (the first term always has one): at most the value
        lb, terms = result.plan.lower_bound, result.plan.objective
        assert lb is not None and terms is not None and "undelivered_work_hours" in lb
        for name, b in lb.items():
            assert b <= terms[name], (name, b, terms[name])


@settings(max_examples=10)
@given(st.integers(1, 3), st.integers(0, 10_000), st.sampled_from([1, 3]))
def test_time_indexed_bound_is_below_the_optimum_of_tiny_portfolios(
    people: int, seed: int, bucket: int
) -> None:
    # one project of 4-6 one-person tasks: CP-SAT proves the undelivered optimum in seconds
    portfolio = generate(
        people, 1, seed=seed, tightness=1.3, tasks_per_project=(4, 6), team_task_share=0.0
    )
    inst = compile_instance(portfolio)
    found = time_indexed_bound(inst, bucket_days=bucket)
    assert found is not None
    impossible = sum(t.units for t in inst.tasks if not t.possible)
    result = solve(portfolio, SolveParams(time_limit=10, workers=1))
    stages = result.stats.get("cpsat_stages")
    assert isinstance(stages, dict)
    value, _, optimal = stages["undelivered"]
    undelivered = evaluate(portfolio, result.plan).undelivered
    # one-person tasks only: the model is exact, and tiny: its optimum is proven
    assert optimal and result.stats.get("model_exact") is True
    assert undelivered == value + impossible  # the engine's plan is the optimum
    assert found.undelivered + impossible <= undelivered


def _chain_portfolio() -> object:
    from allocator import load_portfolio
    from tests.conftest import portfolio_dict

    # one person, 20 working days; a: 120 h (15 days), b: 48 h (6 days) after a. b cannot fit
    # after a (15 + 6 > 20), so every plan leaves b (4,800 units) or a and b (16,800) out. The
    # capacity LP sees 21 days of work in 20 days: only 1 day (8 h, 800 units) must be left.
    return load_portfolio(
        portfolio_dict(
            [{"id": "ann", "skills": {"py": 3}}],
            [
                {"id": "a", "skill": "py", "effort_hours": 120},
                {"id": "b", "skill": "py", "effort_hours": 48, "predecessors": ["a"]},
            ],
        )
    )


def test_time_indexed_bound_sees_a_chain_that_does_not_fit() -> None:
    inst = compile_instance(_chain_portfolio())  # type: ignore[arg-type]
    old = capacity_lp_bound(inst)
    assert old is not None and 790 <= old <= 800
    _, est, _, alive = task_windows(inst)
    assert est == [0, 15] and alive == [True, False]
    for bucket in (1, 2, 5, 20):
        found = time_indexed_bound(inst, bucket_days=bucket)
        assert found is not None and 4_790 <= found.undelivered <= 4_800
    lps = undelivered_lower_bound(inst, assignment=False)
    assert lps == time_indexed_bound(inst).undelivered  # type: ignore[union-attr]
    # the integer assignment relaxation sees it whole: b never fits after a
    assert undelivered_lower_bound(inst) == 4_800


def test_time_indexed_bound_sees_a_predecessor_held_up_by_capacity() -> None:
    from allocator import load_portfolio
    from tests.conftest import portfolio_dict

    # 20 working days. ann does x (py, 10 days, hard deadline on day 9) and a (py, 10 days);
    # bob does b (qa, 10 days) after a. Every window holds its task (b: days 10-19) and each
    # person has the days (ann 20 for 20, bob 20 for 10): the capacity LP proves nothing. But
    # x fills ann's days 0-9, so a ends on day 19 at the earliest and b cannot follow: every
    # plan leaves x or b (8,000 units each) out. The time-indexed LP sees it in part: with x
    # done, a is done by day t at most (t - 9) / 10, and b's day-t share is at most a's
    # completion on day t - 1 over 10 (P2), so b is at most 45 % done.
    p = load_portfolio(
        portfolio_dict(
            [{"id": "ann", "skills": {"py": 3}}, {"id": "bob", "skills": {"qa": 3}}],
            [
                {"id": "x", "skill": "py", "effort_hours": 80, "deadline": "2027-01-15"},
                {"id": "a", "skill": "py", "effort_hours": 80},
                {"id": "b", "skill": "qa", "effort_hours": 80, "predecessors": ["a"]},
            ],
            policy={"hard_deadlines": True},
        )
    )
    inst = compile_instance(p)
    assert capacity_lp_bound(inst) == 0
    _, est, lft, alive = task_windows(inst)
    assert est == [0, 0, 10] and lft == [9, 19, 19] and all(alive)
    found = time_indexed_bound(inst, bucket_days=1)
    assert found is not None and 1_000 <= found.undelivered <= 8_000
    plan = solve(p, SolveParams(time_limit=5, workers=1)).plan
    assert evaluate(p, plan).undelivered == 8_000
    # the engine's bound sees some of it too: a positive bound on undelivered work, at most
    # the 80 h left out
    assert plan.lower_bound is not None
    assert 0 < plan.lower_bound["undelivered_work_hours"] <= 80.0


def test_bounds_in_no_time_and_quietly(capfd: pytest.CaptureFixture[str]) -> None:
    inst = compile_instance(_chain_portfolio())  # type: ignore[arg-type]
    for budget in (0.0, 0.01):
        found = undelivered_lower_bound(inst, time_limit=budget)
        assert found is None or found <= 4_800
    assert time_indexed_bound(inst, time_limit=5) is not None
    out, _ = capfd.readouterr()
    assert out == ""  # HiGHS's banner would break `allocator solve` output on stdout


def test_safe_upper_bound_holds_for_any_multipliers() -> None:
    # maximize x + 2 y  s.t.  x + y <= 1,  0 <= x, y <= 1: optimum 2
    lb = np.zeros(2)
    ub = np.ones(2)
    obj = np.array([1.0, 2.0])
    lo = np.array([-np.inf])
    hi = np.array([1.0])
    r = np.array([0, 0])
    c = np.array([0, 1])
    v = np.array([1.0, 1.0])
    rng = np.random.default_rng(0)
    for y in [np.array([2.0]), np.array([0.0]), np.array([-3.0]), *rng.normal(size=(20, 1))]:
        assert safe_upper_bound(y, lb, ub, obj, lo, hi, r, c, v) >= 2.0 - 1e-12
    assert safe_upper_bound(np.array([2.0]), lb, ub, obj, lo, hi, r, c, v) == 2.0


def test_lp_bound_sees_a_capacity_shortage() -> None:
    # one person, 20 working days, 30 days of work in two tasks: at least 10 days' worth
    # (80 h of the 120 h task, or the whole 120 h one) cannot be delivered
    from allocator import load_portfolio
    from tests.conftest import portfolio_dict

    p = load_portfolio(
        portfolio_dict(
            [{"id": "ann", "skills": {"py": 3}}],
            [
                {"id": "a", "skill": "py", "effort_hours": 120},
                {"id": "b", "skill": "py", "effort_hours": 120},
            ],
        )
    )
    bound = undelivered_lower_bound(compile_instance(p), assignment=False)  # the LPs
    assert bound is not None and 79 * 100 <= bound <= 80 * 100


@settings(max_examples=15)
@given(st.integers(0, 100_000), st.integers(1, 4), st.integers(1, 8))
def test_makespan_bound_is_below_the_planted_plan(seed: int, people: int, tasks: int) -> None:
    from allocator import load_portfolio
    from solver_models.bounds import makespan_lower_bound
    from tests.planted import planted_makespan_portfolio as _planted

    data, planted = _planted(seed, people, tasks)
    portfolio = load_portfolio(data)
    assert makespan_lower_bound(compile_instance(portfolio)) <= planted


def test_assignment_bound_sees_a_task_delivered_whole() -> None:
    # one person, 20 working days, two 15-day tasks (120 h each): the LPs deliver 20 of the 30
    # days (80 h short), but a task is delivered whole, by one person: only one of them fits,
    # so every plan leaves 120 h (12,000 units) out, and the integer relaxation proves exactly
    # that; undelivered_lower_bound takes the larger
    from allocator import load_portfolio
    from solver_models.assignment_bound import assignment_bound
    from tests.conftest import portfolio_dict

    p = load_portfolio(
        portfolio_dict(
            [{"id": "ann", "skills": {"py": 3}}],
            [
                {"id": "a", "skill": "py", "effort_hours": 120},
                {"id": "b", "skill": "py", "effort_hours": 120},
            ],
        )
    )
    inst = compile_instance(p)
    assert assignment_bound(inst) == 12_000
    lp = capacity_lp_bound(inst)
    assert lp is not None and lp < 8_000
    assert undelivered_lower_bound(inst) == 12_000
    plan = solve(p, SolveParams(time_limit=5, workers=1)).plan
    assert evaluate(p, plan).undelivered == 12_000


def test_assignment_bound_skips_large_portfolios() -> None:
    from solver_models import assignment_bound as ab

    inst = compile_instance(generate(30, 20, seed=1))
    pairs = sum(len(t.candidates) for t in inst.tasks if t.possible)
    assert pairs > 0
    old = ab.MAX_PAIRS
    try:
        ab.MAX_PAIRS = pairs - 1
        assert ab.assignment_bound(inst, time_limit=1) is None
    finally:
        ab.MAX_PAIRS = old
