"""``allocator.engine``, the façade: ``solve`` and what it returns (status values, the
``Result`` fields and how they agree with the plan), progress reports, and a bound above the
objective surfacing as :class:`~allocator.engine.BoundError` in strict mode.

The rules a plan obeys are tested through ``solve`` in ``test_engine_rules.py``; the stages of
the pipeline behind it in ``test_greedy.py``, ``test_lns.py``, ``test_bounds.py``.
"""

from __future__ import annotations

from typing import Any

import pytest

import allocator.pipeline as pipeline
from allocator.checker import check
from allocator.contract import read_portfolio
from allocator.domain import Portfolio
from allocator.engine import STRICT_BOUNDS_ENV, BoundError, SolveParams, SolveProgress, solve
from allocator.objective import evaluate, term_names
from tests.conftest import portfolio_dict

FAST = SolveParams(time_limit=5, workers=1, seed=0)


def read(data: dict[str, Any]) -> Portfolio:
    portfolio, issues = read_portfolio(data)
    assert not [i for i in issues if i.severity == "error"], issues
    return portfolio


def test_an_easy_portfolio_is_solved_optimally_and_the_result_agrees_with_its_plan(
    ok_small: dict[str, Any],
) -> None:
    portfolio = read(ok_small)
    seen: list[SolveProgress] = []
    result = solve(portfolio, SolveParams(time_limit=5, workers=1, seed=0, on_progress=seen.append))
    plan = result.plan
    # 88 hours of work for three people over 20 days: everything fits, and that is provable
    assert result.status == plan.status == "optimal"
    assert [a.task for a in plan.assignments] == ["a", "b", "c", "d"] and plan.unassigned == ()
    assert check(portfolio, plan).valid
    assert result.objective == plan.objective and list(plan.objective or {}) == list(
        term_names("portfolio")
    )
    assert (plan.objective or {})["undelivered_work_hours"] == 0
    assert result.lower_bound == plan.lower_bound and result.gap == plan.gap == 0.0
    assert result.terms == evaluate(portfolio, plan)
    assert result.key == evaluate(portfolio, plan).key()
    assert result.runtime > 0 and "compile_seconds" in result.stats
    assert any(p.stage.startswith("greedy") for p in seen)
    assert all(p.elapsed >= 0 for p in seen)


def test_makespan_results_have_no_portfolio_terms(ok_small: dict[str, Any]) -> None:
    portfolio = read({**ok_small, "policy": {"objective": "makespan"}})
    result = solve(portfolio, FAST)
    assert result.terms is None
    assert list(result.objective or {}) == ["makespan_days"]
    assert result.status in ("optimal", "feasible")
    assert check(portfolio, result.plan).valid


def test_work_nobody_can_do_is_unassigned_with_a_reason() -> None:
    portfolio = read(
        portfolio_dict(
            [{"id": "ann", "skills": {"py": 2}}],
            [
                {"id": "a", "skill": "py", "effort_hours": 8},
                {"id": "b", "skill": "py", "min_level": 5, "effort_hours": 8},
            ],
        )
    )
    result = solve(portfolio, FAST)
    assert [a.task for a in result.plan.assignments] == ["a"]
    (left,) = result.plan.unassigned
    assert left.task == "b" and left.reasons
    # the 8 hours nobody can do are a proven floor: the plan is optimal
    assert result.status == "optimal"
    assert (result.lower_bound or {})["undelivered_work_hours"] == 8


def test_greedy_only_returns_the_greedy_baseline(ok_small: dict[str, Any]) -> None:
    portfolio = read(ok_small)
    result = solve(portfolio, SolveParams(greedy_only=True))
    assert str(result.stats["chosen"]).startswith("greedy")
    assert check(portfolio, result.plan).valid


def _bad_bounds(*args: Any, **kwargs: Any) -> tuple[int | None, ...]:
    """A bound one unit above the plan's first term: a planted bug."""
    key: tuple[int, ...] = args[2]
    return (key[0] + 1,) + (None,) * (len(key) - 1)


def test_a_bound_above_the_objective_raises_in_strict_mode(
    ok_small: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "term_bounds", _bad_bounds)
    monkeypatch.setenv(STRICT_BOUNDS_ENV, "1")
    with pytest.raises(BoundError, match="above the plan's value"):
        solve(read(ok_small), FAST)


def test_a_bound_above_the_objective_is_dropped_outside_strict_mode(
    ok_small: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "term_bounds", _bad_bounds)
    monkeypatch.setenv(STRICT_BOUNDS_ENV, "0")
    result = solve(read(ok_small), FAST)
    assert result.lower_bound is None and result.gap is None
    assert result.status == "feasible"
