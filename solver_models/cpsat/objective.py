"""The objective's terms and the expression each lexicographic stage minimizes (notation in
:mod:`solver_models.cpsat.model`; the stages are run by :mod:`solver_models.cpsat.stages`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ortools.sat.python import cp_model

from solver_models.cpsat import constraints
from solver_models.cpsat.params import PINS_STAGE, STABILITY_STAGE, Stability

if TYPE_CHECKING:
    from solver_models.cpsat.model import Model


def makespan(model: Model) -> None:
    """``makespan >= finish[t] + 1`` for every task."""
    hi = max((model.hi[t.index] + 1 for t in model.tasks), default=0)
    model.makespan = model.cp.new_int_var(0, hi, "makespan")
    for t in model.tasks:
        model.cp.add(model.makespan >= model.finish[t.index] + 1)


def lateness(model: Model) -> None:
    """``late[t] >= finish[t] - idx(D'_t)`` when assigned, ``late[t] >= 0``."""
    for t in model.tasks:
        if t.deadline_idx is None:
            continue
        hi = max(0, model.hi[t.index] - t.deadline_idx)
        if hi == 0:
            continue
        v = model.cp.new_int_var(0, hi, f"late[{t.id}]")
        model.cp.add(v >= model.finish[t.index] - t.deadline_idx).only_enforce_if(
            model.assigned[t.index]
        )
        model.late[t.index] = v


def finish_early(model: Model) -> None:
    """``done_by[t] >= finish[t] + 1`` when assigned, ``done_by[t] >= 0``."""
    for t in model.tasks:
        v = model.cp.new_int_var(0, max(0, model.hi[t.index] + 1), f"done_by[{t.id}]")
        model.cp.add(v >= model.finish[t.index] + 1).only_enforce_if(model.assigned[t.index])
        model.done_by[t.index] = v


# -- objectives -----------------------------------------------------------------------------


def stage_expr(model: Model, stage: str) -> cp_model.LinearExprT:
    if stage in model.extra_stages:
        return model.extra_stages[stage]
    if stage == PINS_STAGE:
        return sum(1 - model.assigned[t.index] for t in model.pinned_tasks())
    if stage == "undelivered":
        return sum(t.units * (1 - model.assigned[t.index]) for t in model.tasks)
    if stage == "late":
        return sum(model.inst.tasks[i].priority * v for i, v in model.late.items())
    if stage == "finish":
        return sum(model.inst.tasks[i].priority * v for i, v in model.done_by.items())
    if stage == "cost":
        terms = [model.inst.tasks[t].candidates[p].cost * lit for (t, p), lit in model.does.items()]
        terms += [
            model.inst.tasks[t].candidates[p].cost * lit for (t, p), lit in model.member.items()
        ]
        terms += [cost * x for cost, x in model.pool_cost]
        return sum(terms)
    if stage == "makespan":
        assert model.makespan is not None
        return model.makespan
    raise ValueError(stage)


def stability_stages(
    model: Model, stab: Stability, stages: Sequence[str], shares: dict[str, float]
) -> tuple[str, ...]:
    """Re-planning (``constraints.stability``): the budget is a constraint, and with a weight
    the stage ``stability`` = ``late + weight x moved`` takes the place of ``late``
    (``makespan``: ``weight x moved`` after ``makespan``), and the ``undelivered`` stage
    minimizes ``(n + 1) x undelivered + moved`` (``n`` kept tasks: the same order, ties broken
    by fewer moves; its reported value is that expression), after which only its undelivered
    part is kept (``Model.caps``). Returns the stages; ``shares`` gets the new stage's share."""
    stays = constraints.stability(model, stab)
    if stab.weight <= 0 or not stays:
        return tuple(stages)
    w = stab.weight
    # weight x moved = weight x (n - sum stay)
    moved = cp_model.LinearExpr.weighted_sum(stays, [-w] * len(stays)) + w * len(stays)
    if model.goal == "makespan":
        model.extra_stages[STABILITY_STAGE] = moved
        shares.update(makespan=0.6, stability=0.4)
        return ("makespan", STABILITY_STAGE)
    late = model.stage_expr("late")
    model.extra_stages[STABILITY_STAGE] = cp_model.LinearExpr.sum([late, moved])
    # ties on undelivered already broken by fewer moves (exactly lexicographic: moved <= n <
    # n + 1), so the first stage does not churn for nothing; then only its undelivered part is
    # fixed: moves are priced by the next stage
    n = len(stays)
    unmoved = cp_model.LinearExpr.sum(stays)
    plain = model.stage_expr("undelivered")
    model.extra_stages["undelivered"] = cp_model.LinearExpr.sum([(n + 1) * plain, n - unmoved])
    model.caps["undelivered"] = (plain, n + 1)
    shares[STABILITY_STAGE] = shares.get("late", 0.2)
    return tuple(STABILITY_STAGE if s == "late" else s for s in stages)
