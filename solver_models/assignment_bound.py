"""A lower bound on undelivered work from an integer relaxation: who does each task, whole.

The LP bounds of :mod:`solver_models.bounds` let a task be delivered in part and by a share of
several people. This relaxation keeps both integral and drops the calendar inside each task's
window (issue 15, item 3). With ``z_t`` = task ``t`` delivered, ``x[t,k,p]`` = person ``p``
fills place ``k`` of ``t``, ``w[t,p] = duration(t, p) * alloc_t`` (percent-days) and
``C[p, a..b]`` = person ``p``'s capacity in percent over working days ``a..b``::

    maximize    sum_t units_t * z_t                                  (z, x binary)
    subject to  sum_{p eligible for place k of t} x[t,k,p] = z_t     every task t, place k
                sum_k x[t,k,p] <= 1                                  a team's members differ
                z_v <= z_u                                           every precedence u -> v
                sum_{t: window(t) inside [a,b]} w[t,p] x[t,k,p] <= C[p, a..b]
                    for every person p and every window [a, b] of a task p could do, and
                    the span of all of them

``window(t) = [est'(t), lft(t)]`` from :func:`solver_models.bounds.task_windows` (``est'``
propagated along precedence); tasks dead there (no plan can deliver them) have no ``z``, and
``x[t,k,p]`` exists only when ``C[p, window(t)] >= w[t,p]``.

**Why every plan is feasible.** Set ``z_t = 1`` for the assigned tasks and ``x`` for their
assignees. Each place is filled by one eligible person, and by distinct people; an assigned
task's predecessors are assigned; each of the ``duration(t, p)`` active days of ``t`` lies in
``window(t)`` and takes ``alloc_t`` percent of the person's capacity that day (the capacity
rule: the allocations of a person's tasks on a day add up to at most that day's capacity), so
the tasks whose windows lie in ``[a, b]`` take at most ``C[p, a..b]``. Hence ``units`` of every
plan's delivered tasks ``<=`` the relaxation's optimum ``<=`` CP-SAT's proven bound (exact
integer arithmetic: any bound CP-SAT reports holds, optimal or not; it is reported as a float,
so one part in a million of the total is kept as a margin), and ``total - bound`` is at most
the undelivered work of every plan. Capacity is in integer percent: when a reduced
capacity has a fractional percent, the floored capacity plus one per available day is used
(never less than the truth).

Built only for small portfolios (``MAX_PAIRS``): the window rows grow with the square of a
person's tasks.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model

from solver_models.bounds import task_windows
from solver_models.instance import Instance

log = logging.getLogger(__name__)

#: built up to this many (task, eligible person) pairs
MAX_PAIRS = 20_000


@dataclass(frozen=True)
class AssignmentBound:
    """What :func:`assignment_relaxation` proved on the relaxation, and what it found."""

    #: lower bound on the undelivered units of the possible tasks
    undelivered: int
    #: undelivered units of the best solution of the relaxation found (``None``: none, or
    #: nothing to solve): the most this relaxation could ever prove
    ceiling: int | None
    #: CP-SAT's status name (``trivial``: no model was needed)
    status: str


def assignment_bound(inst: Instance, time_limit: float = 5.0, workers: int = 1) -> int | None:
    """A lower bound on the ``undelivered`` units of the possible tasks (module doc); ``None``
    when the portfolio is too large (``MAX_PAIRS``) or CP-SAT proved no bound in time."""
    found = assignment_relaxation(inst, time_limit, workers)
    return None if found is None else found.undelivered


def assignment_relaxation(
    inst: Instance, time_limit: float = 5.0, workers: int = 1
) -> AssignmentBound | None:
    """:func:`assignment_bound` with the relaxation's best solution (its ceiling) and status."""
    t0 = time.monotonic()
    tasks = [t for t in inst.tasks if t.possible]
    total = sum(t.units for t in tasks)
    if total == 0:
        return AssignmentBound(0, 0, "trivial")  # nothing that can be delivered: 0 holds
    if sum(len(t.candidates) for t in tasks) > MAX_PAIRS:
        return None
    _dur, est, lft, alive = task_windows(inst)
    cap = inst.cap.astype(np.int64)
    if any(float(r.percent) != int(r.percent) for p in inst.people for r in p.reduced_capacity):
        cap = cap + inst.avail.astype(np.int64)  # the compiled capacity is floored
    before = np.concatenate((np.zeros((cap.shape[0], 1), np.int64), np.cumsum(cap, axis=1)), 1)

    def window_cap(p: int, a: int, b: int) -> int:
        return int(before[p, b + 1] - before[p, a])

    m = cp_model.CpModel()
    z: dict[int, cp_model.IntVar] = {}
    #: person -> (x, percent-days, window start, window end)
    load: dict[int, list[tuple[cp_model.IntVar, int, int, int]]] = {}
    for t in tasks:
        i = t.index
        if not alive[i]:
            continue
        places: list[list[tuple[int, cp_model.IntVar]]] = []
        for k in range(len(t.places)):
            xs: list[tuple[int, cp_model.IntVar]] = []
            for p in t.place_candidates[k]:
                c = t.candidates.get(p)
                if c is None:
                    continue
                w = int(c.duration) * int(t.alloc)
                if window_cap(p, est[i], lft[i]) < w:
                    continue  # p cannot give the task its days inside its window
                xs.append((p, m.new_bool_var(f"x[{t.id},{k},{p}]")))
            places.append(xs)
        if not places or any(not xs for xs in places):
            continue  # a place nobody can fill in the window: never delivered
        zi = m.new_bool_var(f"z[{t.id}]")
        z[i] = zi
        per_person: dict[int, list[cp_model.IntVar]] = {}
        for xs in places:
            m.add(sum(x for _, x in xs) == zi)
            for p, x in xs:
                per_person.setdefault(p, []).append(x)
                c = t.candidates[p]
                load.setdefault(p, []).append((x, int(c.duration) * int(t.alloc), est[i], lft[i]))
        for xs_p in per_person.values():
            if len(xs_p) > 1:
                m.add(sum(xs_p) <= 1)
    for i, zi in z.items():
        for u in inst.tasks[i].preds:
            if u in z:
                m.add_implication(zi, z[u])
            else:
                m.add(zi == 0)  # a predecessor that is never delivered
    rows = 0
    for p, items in load.items():
        windows = {(a, b) for _, _, a, b in items}
        windows.add((min(a for _, _, a, _ in items), max(b for _, _, _, b in items)))
        for a, b in windows:
            inside = [(x, w) for x, w, a2, b2 in items if a2 >= a and b2 <= b]
            limit = window_cap(p, a, b)
            if sum(w for _, w in inside) > limit:
                m.add(sum(w * x for x, w in inside) <= limit)
                rows += 1
    if not z:
        return AssignmentBound(total, total, "trivial")
    m.maximize(sum(t.units * z[t.index] for t in tasks if t.index in z))
    left = time_limit - (time.monotonic() - t0)
    if left <= 0.05:
        return None
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = left
    solver.parameters.num_workers = max(1, workers)
    solver.parameters.linearization_level = 2
    solver.parameters.random_seed = 0
    status = solver.solve(m)
    delivered = solver.best_objective_bound
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE) or not math.isfinite(delivered):
        log.info("assignment bound: no bound (%s)", solver.status_name(status))
        return None
    # CP-SAT reports its bound as a float, which may sit a hair below the integer it stands
    # for (seen on tiny portfolios: 7999.999999999999 for 8,000, so a plain floor put the
    # bound 1 unit above the truth): the delivered units are an integer at most the bound
    # plus a margin of one part in a million of the total
    bound = max(0, total - math.floor(delivered + 1e-6 * total))
    log.info(
        "assignment bound: undelivered >= %s of %s (%d tasks, %d window rows, %s) in %.2fs",
        bound,
        total,
        len(z),
        rows,
        solver.status_name(status),
        time.monotonic() - t0,
    )
    return AssignmentBound(
        undelivered=int(bound),
        ceiling=total - round(solver.objective_value),
        status=solver.status_name(status),
    )
