"""Property tests on generated portfolios: invariants every solve must keep.

Solves use one worker and a fixed seed (parallel CP-SAT is not deterministic), short time limits,
and assert invariants, never particular schedules.
"""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import timedelta

from hypothesis import assume, given
from hypothesis import strategies as st

from allocator.checker import check
from allocator.contract import plan_to_dict
from allocator.domain import Portfolio, Project, frozen_map
from allocator.engine import Result, SolveParams, solve
from allocator.generator import generate
from allocator.objective import evaluate, gap_of, plan_key, plan_terms, proven, term_names
from allocator.validation import validate
from tests.planted import planted_makespan_portfolio as _planted
from tests.strategies import FAST, small


def solved(portfolio: Portfolio, params: SolveParams = FAST) -> Result:
    result = solve(portfolio, params)
    report = check(portfolio, result.plan)
    assert report.valid, [str(v.message) for v in report.violations]
    return result


def key(portfolio: Portfolio, result: Result) -> tuple[int, ...]:
    return evaluate(portfolio, result.plan).key()


@given(small)
def test_every_plan_passes_the_checker_and_bound_is_below_objective(portfolio: Portfolio) -> None:
    assert validate(portfolio).ok
    result = solved(portfolio)
    plan = result.plan
    assert plan.status in ("optimal", "feasible")
    assert plan.objective is not None and plan.lower_bound is not None
    # the terms in priority order, the plan's own (evaluated on it), and the search's key
    assert tuple(plan.objective) == term_names(portfolio.policy.goal)
    assert plan.objective == plan_terms(portfolio, plan)
    assert result.key == plan_key(portfolio, plan)
    # the bound: a prefix of the terms (the first always bounded), each at most its value
    names = list(plan.objective)
    assert list(plan.lower_bound) == names[: len(plan.lower_bound)]
    assert len(plan.lower_bound) >= 1
    for name, bound in plan.lower_bound.items():
        assert bound <= plan.objective[name], (name, bound, plan.objective[name])
    # a later term is bounded only where every earlier one is proven
    for name in names[: len(plan.lower_bound) - 1]:
        assert plan.lower_bound[name] == plan.objective[name]
    assert (plan.status == "optimal") == proven(plan.objective, plan.lower_bound)
    assert plan.gap == gap_of(plan.objective, plan.lower_bound) == result.gap
    assert plan.gap is not None and 0 <= plan.gap <= 1
    assert (plan.gap == 0) == (plan.status == "optimal")
    # every unassigned task has at least one reason a planner can act on
    assert all(u.reasons and all(r.strip() for r in u.reasons) for u in plan.unassigned)


def _numbers(value: object, path: str = "") -> list[tuple[str, float | int]]:
    """Every number in a JSON value, with where it is."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return []
    if isinstance(value, int | float):
        return [(path, value)]
    if isinstance(value, dict):
        return [n for k, v in value.items() for n in _numbers(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [n for i, v in enumerate(value) for n in _numbers(v, f"{path}[{i}]")]
    raise AssertionError(f"{path}: not JSON: {value!r}")


@given(small, st.sampled_from(["greedy", "search"]))
def test_every_plan_number_is_exact_in_a_float(portfolio: Portfolio, how: str) -> None:
    """The contract: every number in a plan is exact in a 64-bit float, |x| < 2^53 and at most
    2 decimals where it is not an integer, so any JSON reader round-trips it."""
    params = SolveParams(greedy_only=True) if how == "greedy" else FAST
    data = plan_to_dict(solve(portfolio, params).plan)
    numbers = _numbers(data)
    assert any(path.startswith(".objective.") for path, _ in numbers)
    for path, x in numbers:
        assert math.isfinite(x) and abs(x) < 2**53, (path, x)
        if isinstance(x, float) and not x.is_integer():
            assert float(f"{x:.2f}") == x, (path, x)  # at most 2 decimals
        assert json.loads(json.dumps(x)) == x


@given(small)
def test_cp_sat_is_never_worse_than_the_greedy_baseline(portfolio: Portfolio) -> None:
    greedy = solve(portfolio, SolveParams(greedy_only=True))
    full = solved(portfolio)
    assert key(portfolio, full) <= key(portfolio, greedy)


@given(st.integers(0, 100_000), st.integers(1, 4), st.integers(1, 8))
def test_planted_plan_is_never_beaten_by_infeasible(seed: int, n_people: int, n_tasks: int) -> None:
    from allocator import load_portfolio

    data, planted = _planted(seed, n_people, n_tasks)
    portfolio = load_portfolio(data)
    result = solved(portfolio, SolveParams(time_limit=5, workers=1, seed=0))
    assert result.status in ("optimal", "feasible"), result.plan.unassigned
    assert result.plan.objective is not None
    assert list(result.plan.objective) == ["makespan_days"]
    assert result.plan.objective["makespan_days"] <= planted
    assert result.key is not None and result.key <= (planted,)
    assert not result.plan.unassigned


def _optimal(portfolio: Portfolio) -> Result | None:
    result = solved(portfolio, SolveParams(time_limit=5, workers=1, seed=0))
    return result if result.status == "optimal" else None


tiny = st.builds(
    lambda people, seed: generate(
        people,
        1,
        seed=seed,
        tasks_per_project=(1, 4),
        team_task_share=0.0,
        pin_share=0.0,
        tightness=1.3,
    ),
    st.integers(1, 3),
    st.integers(0, 10_000),
)


@given(tiny, st.data())
def test_one_more_person_never_worsens_an_optimal_plan(
    portfolio: Portfolio, data: st.DataObject
) -> None:
    before = _optimal(portfolio)
    assume(before is not None)
    model = data.draw(st.sampled_from(portfolio.people))
    extra = dataclasses.replace(model, id="extra-person")
    bigger = dataclasses.replace(portfolio, people=(*portfolio.people, extra))
    after = _optimal(bigger)
    assume(after is not None)
    assert before is not None and after is not None
    assert key(bigger, after) <= key(portfolio, before)


@given(tiny, st.data())
def test_removing_a_skill_means_no_work_needing_it(
    portfolio: Portfolio, data: st.DataObject
) -> None:
    person = data.draw(st.sampled_from(portfolio.people))
    skill = data.draw(st.sampled_from(sorted(person.skills)))
    fewer = dataclasses.replace(
        person, skills=frozen_map({k: v for k, v in person.skills.items() if k != skill})
    )
    changed = dataclasses.replace(
        portfolio, people=tuple(fewer if p.id == person.id else p for p in portfolio.people)
    )
    assume(validate(changed).ok)
    result = solved(changed)
    for a in result.plan.assignments:
        task = changed.task_by_id[a.task]
        if person.id in a.people and not task.is_team:
            assert task.skill != skill


@given(tiny, st.integers(1, 30))
def test_a_later_deadline_never_makes_the_optimum_worse(portfolio: Portfolio, shift: int) -> None:
    before = _optimal(portfolio)
    assume(before is not None)
    later = dataclasses.replace(
        portfolio,
        projects=tuple(
            Project(
                id=p.id,
                name=p.name,
                priority=p.priority,
                start_after=p.start_after,
                deadline=p.deadline + timedelta(days=shift) if p.deadline else None,
                tasks=tuple(
                    dataclasses.replace(
                        t, deadline=t.deadline + timedelta(days=shift) if t.deadline else None
                    )
                    for t in p.tasks
                ),
            )
            for p in portfolio.projects
        ),
    )
    assume(validate(later).ok)
    after = _optimal(later)
    assume(after is not None)
    assert before is not None and after is not None
    assert key(later, after) <= key(portfolio, before)
