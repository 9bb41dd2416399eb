"""Shared by the model tests: a CP-SAT result turned into a plan the checker must pass."""

from __future__ import annotations

from dataclasses import replace

from allocator.checker import check
from allocator.domain import Portfolio
from allocator.objective import plan_terms
from solver_models.cpsat import ModelResult
from solver_models.instance import Instance
from solver_models.schedule import to_plan


def checked_first_stage(
    portfolio: Portfolio, inst: Instance, res: ModelResult, objective: str
) -> tuple[int, bool]:
    """(first stage's value, proven optimal) of ``res``; its plan must pass the checker."""
    assert res.schedule is not None
    plan = to_plan(
        inst, res.schedule, status="feasible", objective=None, lower_bound=None,
        solve_seconds=0.0, solver="",
    )  # fmt: skip
    plan = replace(plan, objective=plan_terms(portfolio, plan, inst.timeline))
    report = check(portfolio, plan)
    assert report.valid, report.violations
    stage = "makespan" if objective == "makespan" else "undelivered"
    value, _, optimal = res.stages[stage]
    return value, optimal
