"""The LP bound on undelivered work is never above the undelivered work of a valid plan."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from allocator.engine import SolveParams, solve
from allocator.generator import generate
from allocator.objective import evaluate
from solver_models.bounds import undelivered_lower_bound
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
    bound = undelivered_lower_bound(compile_instance(p))
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
