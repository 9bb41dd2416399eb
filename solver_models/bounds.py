"""A lower bound on undelivered work from a linear relaxation, for portfolios of any size.

CP-SAT's own bound is only available (and only true) when its whole model is solved and exact.
For large portfolios (LNS) or inexact models the engine needs another bound that is true. This
one relaxes time entirely except for each person's total capacity inside the tasks' windows:

    maximize    sum_t units_t * z_t
    subject to  sum_{p eligible for place k of t} x[t,k,p] = z_t      for every task t, place k
                sum_{t,k} x[t,k,p] * days[t,p] * alloc_t / 100 <= cap_p   for every person p
                0 <= x, 0 <= z_t <= 1

where ``cap_p`` is the person's capacity (in full-day equivalents) over the union of the windows
of the tasks they are eligible for. Every valid plan gives a feasible point (``x = 1`` for the
assignees of each assigned task, ``z_t = 1``): an assigned task takes ``days * alloc / 100`` of
each assignee's capacity on its active days, all inside its window. So the LP optimum is at least
the delivered units of any plan, and ``sum_t units_t - LP`` is at most the undelivered term of
every valid plan. Precedence and dates are ignored, so the bound is weak when those bind.

Solved with OR-Tools' GLOP; the result is rounded down with a margin for floating point (one
part in a million of the total, plus one unit).
"""

from __future__ import annotations

import logging
import math
import time

import numpy as np
from ortools.linear_solver import pywraplp

from solver_models.instance import Instance, TaskInfo

log = logging.getLogger(__name__)


def undelivered_lower_bound(inst: Instance, time_limit: float = 10.0) -> int | None:
    """A true lower bound on the ``undelivered`` term (hundredths of priority-weighted hours),
    counting only tasks that can be assigned at all; ``None`` if the LP was not solved in time."""
    t0 = time.monotonic()
    solver = pywraplp.Solver.CreateSolver("GLOP")
    if solver is None:
        return None
    solver.SetTimeLimit(int(max(0.1, time_limit) * 1000))
    tasks = [t for t in inst.tasks if t.possible]
    if not tasks:
        return 0
    cap = inst.cap.astype(float)
    fractional = any(
        float(r.percent) != int(r.percent) for p in inst.people for r in p.reduced_capacity
    )
    if fractional:  # the compiled capacity is floored: add the lost fraction back (at most 1 %)
        cap = cap + inst.avail
    cap_before = np.concatenate(
        (np.zeros((cap.shape[0], 1)), np.cumsum(cap, axis=1) / 100.0), axis=1
    )
    # per person: the span [lo, hi] covering the windows of the tasks they could do
    lo: dict[int, int] = {}
    hi: dict[int, int] = {}
    for t in tasks:
        for p in t.candidates:
            lo[p] = min(lo.get(p, t.est), t.est)
            hi[p] = max(hi.get(p, t.lft), t.lft)
    load: dict[int, list[tuple[pywraplp.Variable, float]]] = {}
    objective = solver.Objective()
    total = 0
    for t in tasks:
        z = solver.NumVar(0.0, 1.0, "")
        objective.SetCoefficient(z, float(t.units))
        total += t.units
        for k in range(len(t.places)):
            row = solver.Constraint(0.0, 0.0)
            row.SetCoefficient(z, -1.0)
            for p in t.place_candidates[k]:
                c = t.candidates.get(p)
                if c is None:
                    continue
                x = solver.NumVar(0.0, 1.0, "")
                row.SetCoefficient(x, 1.0)
                load.setdefault(p, []).append((x, c.duration * t.alloc / 100.0))
    for p, items in load.items():
        capacity = float(cap_before[p, hi[p] + 1] - cap_before[p, lo[p]])
        row = solver.Constraint(0.0, capacity)
        for x, days in items:
            row.SetCoefficient(x, days)
    objective.SetMaximization()
    status = solver.Solve()
    if status != pywraplp.Solver.OPTIMAL:
        log.info("lp bound: not solved (status %s) in %.2fs", status, time.monotonic() - t0)
        return None
    delivered = objective.Value()
    # the LP optimum is an upper bound on delivered units; allow for floating point
    bound = max(0, math.floor(total - delivered - 1e-6 * total - 1))
    log.info("lp bound: undelivered >= %s (of %s) in %.2fs", bound, total, time.monotonic() - t0)
    return int(bound)


def makespan_lower_bound(inst: Instance) -> int:
    """A true lower bound on the makespan (``idx(last finish) + 1``) of any plan assigning every
    task: the larger of the critical path and the load on the whole workforce.

    * critical path: a task cannot finish before ``max(est, earliest finish of its predecessors
      + 1) + d_min - 1``, ``d_min`` its shortest duration over eligible people (a span holds at
      least as many working days as active days);
    * load: the work (active days x allocation x places, at each task's shortest duration) cannot
      exceed the capacity of everyone before the makespan; the smallest ``M`` whose cumulative
      capacity of all people over days ``0..M-1`` covers it.
    """
    tasks = inst.tasks
    order = _topological(inst)
    finish: dict[int, int] = {}
    for i in order:
        t = tasks[i]
        d = _min_duration(t)
        start = t.est
        for u in t.preds:
            start = max(start, finish.get(u, -1) + 1)
        finish[i] = start + d - 1
    path = max(finish.values(), default=-1) + 1
    work = sum(
        _min_duration(t) * t.alloc / 100.0 * max(1, len(t.places)) for t in tasks if t.places
    )
    per_day = np.cumsum(inst.cap.sum(axis=0) / 100.0)
    reach = int(np.searchsorted(per_day, work * (1 - 1e-9))) + 1 if work > 0 else 0
    return max(path, min(reach, inst.n_days))


def _min_duration(t: TaskInfo) -> int:
    if t.duration is not None:
        return t.duration
    return min((c.duration for c in t.candidates.values()), default=1)


def _topological(inst: Instance) -> list[int]:
    from solver_models.instance import topological_order

    return topological_order(inst)
