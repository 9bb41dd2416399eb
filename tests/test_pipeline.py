"""The solve pipeline (``allocator.pipeline``): the array scorer is the objective, and the
engine and rebalancing share one size rule for whole model against no search."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

import allocator.pipeline as pipeline
from allocator import load_portfolio
from allocator.engine import SolveParams, solve
from allocator.generator import generate
from allocator.objective import plan_key
from allocator.rebalance import rebalance
from solver_models.cpsat import whole_model_size
from solver_models.greedy import greedy
from solver_models.instance import compile_instance
from solver_models.schedule import Schedule, schedule_key, to_plan
from tests.conftest import portfolio_dict

FAST = SolveParams(time_limit=2, workers=1, seed=0)


def _plan_of(inst: object, sched: Schedule) -> object:
    return to_plan(
        inst,  # type: ignore[arg-type]
        sched,
        status="feasible",
        objective=None,
        lower_bound=None,
        solve_seconds=0.0,
        solver="",
    )


def _cut(sched: Schedule, rng: random.Random) -> Schedule:
    """``sched`` without a random third of its tasks (and their successors need not be valid:
    the key is a function of the assignments alone)."""
    out = Schedule()
    for t in sched.start:
        if rng.random() > 0.33:
            out.add(t, sched.start[t], sched.finish[t], sched.people[t])
    return out


@given(
    people=st.integers(3, 14),
    projects=st.integers(1, 6),
    seed=st.integers(0, 10_000),
    team=st.sampled_from([0.0, 0.3]),
    pins=st.sampled_from([0.0, 0.2]),
    goal=st.sampled_from(["portfolio", "makespan"]),
)
def test_schedule_key_equals_plan_key(
    people: int, projects: int, seed: int, team: float, pins: float, goal: str
) -> None:
    portfolio = generate(
        people, projects, seed=seed, team_task_share=team, pin_share=pins, objective=goal
    )
    inst = compile_instance(portfolio)
    rng = random.Random(seed)
    for rule in ("edf", "priority"):
        for contiguous in (True, False):
            full = greedy(inst, rule=rule, team_contiguous=contiguous)
            for sched in (full, _cut(full, rng), Schedule()):
                plan = _plan_of(inst, sched)
                expected = plan_key(portfolio, plan, inst.timeline)  # type: ignore[arg-type]
                assert schedule_key(inst, sched, goal) == expected


def test_the_equality_covers_prefer_pins_teams_and_costs() -> None:
    """The generated portfolios the property runs on have what the cost term prices."""
    seen = {"prefer": False, "pinned": False, "team": False, "cost": False}
    for seed in range(6):
        portfolio = generate(14, 6, seed=seed, team_task_share=0.3, pin_share=0.2)
        inst = compile_instance(portfolio)
        sched = greedy(inst, rule="priority")
        key = schedule_key(inst, sched, "portfolio")
        assert key == plan_key(portfolio, _plan_of(inst, sched), inst.timeline)  # type: ignore[arg-type]
        seen["cost"] |= key[3] > 0
        for info in inst.tasks:
            if info.index in sched.start:
                seen["prefer"] |= bool(info.task.prefer)
                seen["pinned"] |= info.task.pinned is not None
                seen["team"] |= info.is_team
    assert all(seen.values()), seen


def test_lns_scores_with_the_same_scorer() -> None:
    from solver_models import lns

    assert lns.schedule_key is schedule_key


def _raw_pairs(portfolio: object) -> int:
    inst = compile_instance(portfolio)  # type: ignore[arg-type]
    return sum(len(t.candidates) for t in inst.tasks if t.possible)


def test_solve_and_rebalance_size_their_model_by_one_rule() -> None:
    portfolio = generate(8, 3, seed=2)
    inst = compile_instance(portfolio)
    first = solve(portfolio, FAST)
    assert first.stats["model_pairs"] == whole_model_size(inst)
    assert first.stats["model_pairs"] == pipeline.model_size(inst)
    again = rebalance(portfolio, first.plan, FAST)
    # the stability rule names people: the re-plan's model is built without pools
    assert again.stats["model_pairs"] == pipeline.model_size(inst, pooled=False)
    assert again.stats["model_pairs"] == _raw_pairs(portfolio)
    assert again.stats["strategy"] == "cp-sat"


def test_rebalance_keeps_its_warm_start_above_the_size_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    portfolio = generate(8, 3, seed=2)
    first = solve(portfolio, FAST)
    raw = _raw_pairs(portfolio)
    monkeypatch.setattr(pipeline, "LNS_ABOVE", raw - 1)
    again = rebalance(portfolio, first.plan, FAST)
    assert again.stats["strategy"] == "warm-start-only"
    assert "cpsat_stages" not in again.stats
    assert str(again.plan.extra["solver"]).startswith("rebalance:warm")
    monkeypatch.setattr(pipeline, "LNS_ABOVE", raw)
    again = rebalance(portfolio, first.plan, FAST)
    assert again.stats["strategy"] == "cp-sat"


def test_pipeline_model_size_pools_only_when_the_model_pools() -> None:
    """A portfolio with a pure pool (identical people): the pooled size is below the raw one."""
    portfolio = load_portfolio(
        portfolio_dict(
            [{"id": f"p{i}", "skills": {"py": 3}, "cost_per_hour": 10} for i in range(6)],
            [{"id": f"t{i}", "skill": "py", "effort_hours": 16} for i in range(5)],
        )
    )
    inst = compile_instance(portfolio)
    assert pipeline.model_size(inst, pooled=False) == _raw_pairs(portfolio) == 30
    assert pipeline.model_size(inst) == whole_model_size(inst) < 30


def test_rebalance_reports_progress_through_the_pipeline() -> None:
    portfolio = generate(8, 3, seed=2)
    first = solve(portfolio, FAST)
    stages: list[str] = []
    params = SolveParams(
        time_limit=2, workers=1, seed=0, on_progress=lambda p: stages.append(p.stage)
    )
    again = rebalance(portfolio, first.plan, params)
    assert stages[-1] == "done"
    # CP-SAT's stages of a re-plan carry the stability rule: names, no figures
    assert any(s.startswith("cp-sat:") for s in stages)
    assert again.stats["chosen"]


# -- issue 15: the greedy runs made, the time kept after the search ----------------------------
def test_a_large_portfolio_with_work_left_out_makes_only_the_first_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Above ``LNS_ABOVE`` pairs, while work is left undelivered, only the first
    ``GREEDY_FIRST_RUNS`` runs are made, in the baseline and in a solve alike: the solve is
    still never worse than its baseline."""
    portfolio = generate(8, 6, seed=2, tightness=1.5)
    monkeypatch.setattr(pipeline, "LNS_ABOVE", 0)  # every portfolio counts as large
    baseline = solve(portfolio, SolveParams(greedy_only=True))
    inst = pipeline.compile_for(portfolio)
    assert baseline.key is not None and baseline.key[0] > inst.impossible_units()
    result = solve(portfolio, SolveParams(time_limit=1, workers=1, seed=0))
    for r in (baseline, result):
        assert r.stats["greedy_runs"] == pipeline.GREEDY_FIRST_RUNS
        assert r.stats["greedy_runs_skipped"] == len(pipeline.GREEDY_RUNS) - 1
    assert result.key is not None and result.key <= baseline.key
    # the run made is the downstream-value rule's, team tasks contiguous
    assert baseline.stats["chosen"] == "greedy-value-contiguous"


def test_every_run_is_made_where_everything_is_delivered(monkeypatch: pytest.MonkeyPatch) -> None:
    """Large, but every task that can be assigned is: the later terms decide, and the priority
    and deadline rules run too (they can win on lateness)."""
    portfolio = generate(8, 3, seed=4, tightness=0.4)
    monkeypatch.setattr(pipeline, "LNS_ABOVE", 0)
    baseline = solve(portfolio, SolveParams(greedy_only=True))
    inst = pipeline.compile_for(portfolio)
    assert baseline.key is not None and baseline.key[0] == inst.impossible_units()
    assert baseline.stats["greedy_runs"] == len(pipeline.GREEDY_RUNS)
    assert "greedy_runs_skipped" not in baseline.stats
    # here the deadline rule is the best: skipping it would have made a worse baseline
    assert baseline.stats["chosen"] == "greedy-edf"


def test_small_portfolios_make_every_run() -> None:
    portfolio = generate(8, 6, seed=2, tightness=1.5)
    baseline = solve(portfolio, SolveParams(greedy_only=True))
    assert baseline.stats["greedy_runs"] == len(pipeline.GREEDY_RUNS)


def _ctx(portfolio: object, params: SolveParams) -> pipeline.Context:
    import time

    inst = pipeline.compile_for(portfolio)  # type: ignore[arg-type]
    return pipeline.Context(portfolio, inst, params, time.monotonic())  # type: ignore[arg-type]


def test_the_final_bound_of_a_small_whole_model_solve_has_its_time_inside_the_limit() -> None:
    """Issue 15: the final bound of a small portfolio searched whole gets
    ``FINAL_BOUND_SECONDS`` inside the limit (enough for the integer assignment relaxation,
    which runs only with ``ASSIGNMENT_MIN_SECONDS`` left), not only ``LP_GRACE`` after it."""
    from solver_models.bounds import ASSIGNMENT_MIN_SECONDS

    portfolio = generate(20, 25, seed=7, tightness=1.0)  # the ladder's 195 tasks
    long = _ctx(portfolio, SolveParams(time_limit=60, workers=1, seed=0))
    assert pipeline.final_bound_reserve(long, use_lns=False) == pipeline.FINAL_BOUND_SECONDS
    assert pipeline.FINAL_BOUND_SECONDS > ASSIGNMENT_MIN_SECONDS > pipeline.LP_GRACE
    # LNS computes its bound before its search; a short limit keeps its time for the search
    assert pipeline.final_bound_reserve(long, use_lns=True) == 0.0
    short = _ctx(portfolio, SolveParams(time_limit=5, workers=1, seed=0))
    assert pipeline.final_bound_reserve(short, use_lns=False) == 0.0
    greedy_only = _ctx(portfolio, SolveParams(time_limit=60, greedy_only=True))
    assert pipeline.final_bound_reserve(greedy_only, use_lns=False) == 0.0


def test_the_reserve_is_at_most_four_tenths_of_the_time_left() -> None:
    portfolio = generate(20, 25, seed=7, tightness=1.0)
    ctx = _ctx(portfolio, SolveParams(time_limit=3, workers=1, seed=0))
    cands = pipeline.Candidates(run_seconds=100.0, rank_seconds=10.0)
    assert 0 < pipeline.search_reserve(ctx, cands, 1.5) <= 0.4 * 3
    quick = pipeline.Candidates(run_seconds=0.1, rank_seconds=0.01)
    got = pipeline.search_reserve(ctx, quick, 0.0)
    assert got == pytest.approx(
        len(pipeline.REPAIR_RULES) * pipeline.REPAIR_PER_RUN * 0.1 + pipeline.FINISH_PER_KEY * 0.01
    )


def test_the_final_bound_keeps_the_larger_of_the_lps_and_the_assignment_relaxation() -> None:
    """:func:`pipeline.final_bound` runs the LPs and the integer assignment relaxation apart,
    so the relaxation keeps its time, and keeps the larger: a true bound, below the greedy
    plan's undelivered work of the possible tasks."""
    from solver_models.assignment_bound import assignment_bound
    from solver_models.bounds import undelivered_lower_bound

    portfolio = generate(8, 6, seed=2, tightness=1.5)
    inst = pipeline.compile_for(portfolio)
    got = pipeline.final_bound(inst, 4.0)
    lps = undelivered_lower_bound(inst, time_limit=2.0, assignment=False)
    whole = assignment_bound(inst, time_limit=2.0)
    assert got is not None and lps is not None and whole is not None
    assert whole > lps  # here the relaxation is the stronger: dropping it would show
    assert got == whole
    baseline = solve(portfolio, SolveParams(greedy_only=True))
    assert baseline.key is not None
    assert got + inst.impossible_units() <= baseline.key[0]
    # too little time for the relaxation: the bounds module's own combination
    assert pipeline.final_bound(inst, 1.0) == undelivered_lower_bound(inst, time_limit=1.0)


def test_makespan_makes_the_priority_and_deadline_runs_only() -> None:
    """Under ``makespan`` the downstream-value rule (it weighs priority-weighted work, not a
    finish) is not run: the baseline is the runs of ``MAKESPAN_RUNS``, as before that rule."""
    from dataclasses import replace

    base = generate(8, 3, seed=4, tightness=0.4)  # every task can be scheduled
    portfolio = replace(base, policy=replace(base.policy, objective="makespan"))
    stages: list[str] = []
    baseline = solve(
        portfolio, SolveParams(greedy_only=True, on_progress=lambda p: stages.append(p.stage))
    )
    assert baseline.stats["greedy_runs"] == len(pipeline.MAKESPAN_RUNS)
    greedy_stages = [s for s in stages if s.startswith("greedy")]
    assert greedy_stages and not any(s.startswith("greedy-value") for s in greedy_stages)
    assert {r for r, _ in pipeline.MAKESPAN_RUNS} == set(pipeline.MAKESPAN_RULES)
