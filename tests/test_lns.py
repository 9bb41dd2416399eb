"""Large neighbourhood search keeps plans valid and never worse than its start."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from allocator.checker import check
from allocator.engine import SolveParams, solve
from allocator.generator import generate
from allocator.objective import evaluate
from solver_models.cpsat import SolverParams
from solver_models.greedy import greedy
from solver_models.instance import compile_instance
from solver_models.lns import improve, schedule_key
from solver_models.schedule import to_plan


@settings(max_examples=6)
@given(st.integers(0, 10_000), st.sampled_from([0.0, 0.3]))
def test_lns_plans_are_valid_and_never_worse_than_greedy(seed: int, teams: float) -> None:
    portfolio = generate(12, 6, seed=seed, team_task_share=teams, tightness=1.2)
    greedy_plan = solve(portfolio, SolveParams(greedy_only=True)).plan
    result = solve(portfolio, SolveParams(time_limit=4, workers=1, seed=0, strategy="lns"))
    assert result.stats["strategy"] == "lns"
    report = check(portfolio, result.plan)
    assert report.valid, [v.message for v in report.violations]
    assert evaluate(portfolio, result.plan).key() <= evaluate(portfolio, greedy_plan).key()


def test_schedule_key_matches_the_objective() -> None:
    portfolio = generate(10, 5, seed=3, team_task_share=0.3)
    inst = compile_instance(portfolio)
    sched = greedy(inst, rule="edf")
    improved, stats = improve(inst, sched, "portfolio", SolverParams(workers=1), seconds=3)
    assert isinstance(stats["iterations"], int) and stats["iterations"] >= 1
    for s in (sched, improved):
        plan = to_plan(
            inst,
            s,
            status="feasible",
            objective=None,
            lower_bound=None,
            solve_seconds=0.0,
            solver="t",
        )
        assert schedule_key(inst, s, "portfolio") == evaluate(portfolio, plan).key()
    assert schedule_key(inst, improved, "portfolio") <= schedule_key(inst, sched, "portfolio")
