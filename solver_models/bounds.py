"""Lower bounds on the objective that are true for every valid plan, at any size.

CP-SAT's own bound is only available (and only true) when its whole model is solved and exact.
For large portfolios (LNS) or inexact models the engine needs other bounds. Two linear
relaxations bound the ``undelivered`` term (the one that dominates the ``portfolio`` objective);
:func:`undelivered_lower_bound` returns the larger.

**Capacity LP** (:func:`capacity_lp_bound`, per (task, person) pair): time relaxed except for
each person's total capacity inside the tasks' windows::

    maximize    sum_t units_t * z_t
    subject to  sum_{p eligible for place k of t} x[t,k,p] = z_t      for every task t, place k
                sum_{t,k} x[t,k,p] * days[t,p] * alloc_t / 100 <= cap_p   for every person p
                0 <= x, 0 <= z_t <= 1

``cap_p``: the person's capacity (full-day equivalents) over the union of the windows of the
tasks they are eligible for. A plan gives a feasible point (``x = 1`` for the assignees of each
assigned task, ``z_t = 1``), so ``sum_t units_t - LP`` <= the undelivered term of every plan.

**Time-indexed LP** (:func:`time_indexed_bound`): working days cut into buckets ``b`` of ``L``
days (``L = 1``: days). Variables ``X[i,b]`` = fraction of task ``i`` done by the end of bucket
``b`` (the share of its active days), over its window ``[est'(i), lft(i)]`` where ``est'`` is the
earliest start propagated along precedence with each predecessor's shortest duration
(:func:`task_windows`); ``d_i`` = the task's shortest duration, ``w_i = d_i * alloc_i / 100``;
``x[i,b] = X[i,b] - X[i,b-1]``; ``n[i,b]`` = working days of ``b`` inside the window::

    maximize   sum_i units_i * X[i, last bucket of its window]
    rate       0 <= d_i * x[i,b] <= n[i,b]                 (one active day = 1/d of the task)
    capacity   per skill s, bucket b, min-level band j (a cascade: people of a band also serve
               every lower band):  sum_{places of level in band j} w_i x[i,b] + h[s,j,b]
                   <= sum_{people p in band j} g[p,s,b] + h[s,j+1,b]
               per person p, bucket b: sum_s g[p,s,b] <= C[p,b] = sum_{days of b} capacity% / 100
    precedence for every edge u -> v and bucket b of v's window:
       P1  X[v,b] <= X[u,b]   (L = 1: X[u,b-1]; v has begun => u is complete)
       P2  (L = 1 only) d_v x[v,t] <= X[u,t-1]   (v active on day t => u complete by t - 1)

Why every plan is feasible: put ``X[i,b]`` = active days of ``i`` up to ``b`` / its duration
``D_i`` (1 at the end for assigned tasks, 0 for unassigned ones). ``D_i >= d_i``, so
``d_i x[i,b] <=`` the active days in ``b`` ``<= n[i,b]`` (the window holds every active day:
``est'`` is a true earliest start); each place of an assigned task takes ``alloc/100`` of its
person on each active day, so the skill ``s`` of the place gets ``D_i x alloc/100 >= w_i x``
capacity days of a person with the level: the nested supply sets of the min levels make the
cascade exactly Hall's condition for that transportation problem, ``g[p,s,b]`` being what ``p``
spends on places of skill ``s``; the precedence rows hold because a successor starts after its
predecessor's finish. The relaxation drops who does a task (pools by skill and level; pins,
exclusions and distinct team members ignored), non-preemption and the all-or-nothing delivery.

Solved with HiGHS (dual simplex with one or two buckets, interior point without crossover with
more: the faster of the two, by 5x or more, in each case on the generated portfolios). Its optimum is not trusted as such: any row multipliers ``y`` give ``obj.x <= sum_r (y_r > 0 ?
y_r hi_r : y_r lo_r) + sum_c max(rc_c lb_c, rc_c ub_c)`` with ``rc = obj - A^T y`` (weak
duality; every column is bounded), summed with ``math.fsum``, so the bound is valid whatever
the accuracy of the duals; it is then rounded down with a margin (one part in a million of the
total, plus one unit). The bucket length adapts to the time given (``CELLS_PER_SECOND``).

**What it does not see** (measured on ``allocator.generator`` portfolios, tightness 1.0): the
time-indexed LP is only slightly above the capacity LP (4,328 h against 4,101 h at 2,040 tasks;
the same value from 3-day to 30-day buckets), and on small portfolios whose optimum CP-SAT
proves, the optimum's undelivered work is 2-5x this bound. What the optimum loses there is
integral: a task is done by one person, without pause, and delivered whole (a 33-day task needs
one person's 33 days; a chain's tail drops when its predecessors queue for the same people).
Adding the lag cuts ``(d_v - k) X[u,b-m] >= d_v X[v,b] - k`` (``k = mL - 1``) changed nothing
on those portfolios; making delivery binary (a MIP) closed part of the gap on 6-person ones and
nothing at 200 tasks. So on these portfolios most of a large reported gap is this relaxation's.
The integer relaxation of :mod:`solver_models.assignment_bound` (each task whole, by one person
per place, within its window) adds part of that integrality on small portfolios.

**What integer relaxations can reach** (issue 15, item 3; ``benchmarks/bounds.py``). A
relaxation's best solution caps every bound it can ever give. On the 195-task ladder portfolio
(best plan known: 1,556 h) the scheduling relaxation without assignment of
:mod:`solver_models.pool_bound` (per pool a cumulative of whole, non-preemptive tasks in their
windows, with precedence) has its optimum, proven, at 422 h, and the assignment relaxation has
a solution leaving 568 h (found in 30 s): no bound from either can exceed 568 h, a gap of 63 %
at best. Each skill's tasks alone, with every person's calendar, fit entirely. What plans lose
is in what only the whole problem has (one person's calendar across their skills, teams
needing several people at once), whose LP relaxation CP-SAT reports as "everything
delivered". So the pool relaxation runs by default only on small portfolios
(``POOL_MAX_TASKS``), where it is often the strongest of them.
"""

from __future__ import annotations

import bisect
import logging
import math
import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from ortools.linear_solver import pywraplp

from solver_models.instance import Instance, TaskInfo

log = logging.getLogger(__name__)


#: the capacity LP has a column per (task, eligible person) pair: built up to this many, and
#: when the time left allows this many per second (measured: 127,540 pairs in 5-6.6 s, for a
#: bound below the time-indexed one, which took 0.4 s)
CAPACITY_LP_MAX_PAIRS = 50_000
CAPACITY_LP_PAIRS_PER_SECOND = 20_000
#: the integer assignment relaxation (:mod:`solver_models.assignment_bound`) runs with the time
#: the LPs leave when it is at least ``ASSIGNMENT_MIN_SECONDS``, for at most
#: ``ASSIGNMENT_MAX_SECONDS``, up to ``ASSIGNMENT_MAX_PAIRS`` pairs. Measured on the 195-task
#: ladder portfolio (one worker): 457 h after 1, 2, 3 and 10 s alike (CP-SAT's root LP and
#: cuts; it does not close the rest), and without the cap it took a forced-LNS solve's whole
#: bound budget (15 s of 60)
ASSIGNMENT_MIN_SECONDS = 1.0
ASSIGNMENT_MAX_SECONDS = 2.0
ASSIGNMENT_MAX_PAIRS = 20_000
#: the scheduling relaxation without assignment (:mod:`solver_models.pool_bound`) runs up to
#: ``POOL_MAX_TASKS`` possible tasks, when at least ``POOL_MIN_SECONDS`` are left, for at most
#: ``POOL_MAX_SECONDS``. Measured (benchmarks/bounds.py, RESULTS.md "Bounds on undelivered
#: work"): above the LPs and the assignment relaxation on 5 of 18 generated portfolios of 17-88
#: tasks, up to 2.3x, in a second or two; below them at 195 tasks (its optimum, proven: 422 h
#: against 457 h) and at 2,040 tasks
POOL_MAX_TASKS = 120
POOL_MIN_SECONDS = 0.5
POOL_MAX_SECONDS = 2.0


def undelivered_lower_bound(
    inst: Instance,
    time_limit: float = 10.0,
    *,
    assignment: bool = True,
    pool: bool | None = None,
) -> int | None:
    """A true lower bound on the ``undelivered`` term (hundredths of priority-weighted hours),
    counting only tasks that can be assigned at all: the largest of the time-indexed LP (two
    buckets, then shorter ones if time allows), the capacity LP (up to
    ``CAPACITY_LP_MAX_PAIRS`` pairs) and the integer assignment relaxation
    (:mod:`solver_models.assignment_bound`, up to ``ASSIGNMENT_MAX_PAIRS`` pairs, when at least
    ``ASSIGNMENT_MIN_SECONDS`` are left, for at most ``ASSIGNMENT_MAX_SECONDS``;
    ``assignment=False``: the LPs alone) and the scheduling relaxation of
    :mod:`solver_models.pool_bound` (``pool=None``: with the assignment relaxation, up to
    ``POOL_MAX_TASKS`` possible tasks, for at most ``POOL_MAX_SECONDS``, so that
    ``assignment=False`` stays the LPs alone; ``True``: up to its ``MAX_TASKS``, with all the
    time left; ``False``: never; in each case when at least ``POOL_MIN_SECONDS`` are left);
    ``None`` if none was solved within ``time_limit`` seconds."""
    t0 = time.monotonic()
    found: list[int] = []

    def left() -> float:
        return time_limit - (time.monotonic() - t0)

    # 1. the time-indexed LP in two buckets: seconds at 10,000 tasks
    coarse = max(1, -(-inst.n_days // 2))
    timed = time_indexed_bound(inst, time_limit=left(), bucket_days=coarse)
    if timed is not None:
        found.append(timed.undelivered)
    # 2. the capacity LP (it sees who does a task) when it fits in the time left
    pairs = sum(len(t.candidates) for t in inst.tasks if t.possible)
    if pairs <= CAPACITY_LP_MAX_PAIRS and pairs / CAPACITY_LP_PAIRS_PER_SECOND < left():
        lp = capacity_lp_bound(inst, time_limit=left())
        if lp is not None:
            found.append(lp)
    # 3. the time-indexed LP in buckets as short as the time left allows
    if left() > 0.05 and _auto_bucket(inst, left()) < coarse:
        timed = time_indexed_bound(inst, time_limit=left())
        if timed is not None:
            found.append(timed.undelivered)
    # 4. the integer assignment relaxation (small portfolios, with a second or more left)
    if assignment and left() >= ASSIGNMENT_MIN_SECONDS and pairs <= ASSIGNMENT_MAX_PAIRS:
        from solver_models.assignment_bound import assignment_bound

        whole = assignment_bound(inst, time_limit=min(left(), ASSIGNMENT_MAX_SECONDS))
        if whole is not None:
            found.append(whole)
    # 5. the scheduling relaxation without assignment (small portfolios, or when asked)
    if (pool or (pool is None and assignment)) and left() >= POOL_MIN_SECONDS:
        from solver_models.pool_bound import MAX_TASKS, pool_bound

        n_tasks = sum(1 for t in inst.tasks if t.possible)
        if n_tasks <= (MAX_TASKS if pool else POOL_MAX_TASKS):
            budget = left() if pool else min(left(), POOL_MAX_SECONDS)
            sched = pool_bound(inst, time_limit=budget)
            if sched is not None:
                found.append(sched.undelivered)
    return max(found) if found else None


def capacity_lp_bound(inst: Instance, time_limit: float = 10.0) -> int | None:
    """The capacity LP's bound on the ``undelivered`` term of the possible tasks (module doc);
    ``None`` if the LP was not solved in time."""
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
    durations = getattr(t.candidates, "durations", None)  # vectorized candidates: no objects
    if isinstance(durations, np.ndarray):
        return int(durations.min()) if len(durations) else 1
    return min((c.duration for c in t.candidates.values()), default=1)


def _topological(inst: Instance) -> list[int]:
    from solver_models.instance import topological_order

    return topological_order(inst)


# ---------------------------------------------------------------------------------------------
# time-indexed relaxation
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TimeIndexedBound:
    """What :func:`time_indexed_bound` proved, and the size of the relaxation."""

    #: lower bound on the undelivered units of the possible tasks (impossible ones excluded)
    undelivered: int
    #: units of the possible tasks
    total: int
    #: proven upper bound on the delivered units (``total - undelivered`` up to the margin)
    delivered_ub: float
    #: working days per bucket
    bucket_days: int
    rows: int
    cols: int
    nonzeros: int
    build_seconds: float
    solve_seconds: float
    #: possible tasks that cannot be delivered in any plan (window shorter than the duration)
    dead_tasks: int
    #: HiGHS's model status (``Optimal``, ``Time limit reached`` ...)
    status: str


class _Lp:
    """A linear program built in vectorized chunks: columns with bounds and objective, rows with
    bounds, the matrix as coordinate triplets."""

    def __init__(self) -> None:
        self.n_cols = 0
        self.n_rows = 0
        self._lb: list[npt.NDArray[np.float64]] = []
        self._ub: list[npt.NDArray[np.float64]] = []
        self._obj: list[npt.NDArray[np.float64]] = []
        self._lo: list[npt.NDArray[np.float64]] = []
        self._hi: list[npt.NDArray[np.float64]] = []
        self._r: list[npt.NDArray[np.int64]] = []
        self._c: list[npt.NDArray[np.int64]] = []
        self._v: list[npt.NDArray[np.float64]] = []

    def cols(self, ub: npt.ArrayLike, obj: npt.ArrayLike = 0.0) -> npt.NDArray[np.int64]:
        """New columns ``0 <= x <= ub`` (every column is bounded); their indices."""
        upper = np.asarray(ub, dtype=np.float64).ravel()
        k = len(upper)
        self._lb.append(np.zeros(k))
        self._ub.append(upper)
        self._obj.append(_full(k, obj))
        out = np.arange(self.n_cols, self.n_cols + k, dtype=np.int64)
        self.n_cols += k
        return out

    def rows(self, k: int, lo: npt.ArrayLike, hi: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """``k`` new rows ``lo <= a x <= hi``; their indices."""
        self._lo.append(_full(k, lo))
        self._hi.append(_full(k, hi))
        out = np.arange(self.n_rows, self.n_rows + k, dtype=np.int64)
        self.n_rows += k
        return out

    def entries(self, r: npt.ArrayLike, c: npt.ArrayLike, v: npt.ArrayLike) -> None:
        """Matrix entries (``r`` and ``v`` may be scalars); entries with a negative column are
        dropped (a term that is identically zero, e.g. a cumulative amount before the task's
        window)."""
        cc = np.asarray(c, dtype=np.int64).ravel()
        rr = np.asarray(r, dtype=np.int64).ravel()
        vv = _full(len(cc), v)
        if len(rr) != len(cc):
            rr = np.full(len(cc), int(rr[0]), dtype=np.int64)
        if len(cc) and cc.min() < 0:
            keep = cc >= 0
            rr, cc, vv = rr[keep], cc[keep], vv[keep]
        self._r.append(rr)
        self._c.append(cc)
        self._v.append(vv)

    def arrays(
        self,
    ) -> tuple[npt.NDArray[np.float64], ...]:
        def cat(parts: list[npt.NDArray[np.float64]]) -> npt.NDArray[np.float64]:
            return np.concatenate(parts) if parts else np.zeros(0)

        return (
            cat(self._lb),
            cat(self._ub),
            cat(self._obj),
            cat(self._lo),
            cat(self._hi),
        )

    def triplets(
        self,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        if not self._r:
            z = np.zeros(0, dtype=np.int64)
            return z, z, np.zeros(0)
        return np.concatenate(self._r), np.concatenate(self._c), np.concatenate(self._v)


def _full(k: int, value: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """``value`` as a float array of length ``k`` (a scalar repeated)."""
    arr = np.asarray(value, dtype=np.float64).ravel()
    return arr.copy() if len(arr) == k else np.full(k, float(arr[0]))


def safe_upper_bound(
    y: npt.NDArray[np.float64],
    lb: npt.NDArray[np.float64],
    ub: npt.NDArray[np.float64],
    obj: npt.NDArray[np.float64],
    lo: npt.NDArray[np.float64],
    hi: npt.NDArray[np.float64],
    r: npt.NDArray[np.int64],
    c: npt.NDArray[np.int64],
    v: npt.NDArray[np.float64],
) -> float:
    """An upper bound on ``max obj.x`` over ``lo <= A x <= hi, lb <= x <= ub`` from ANY row
    multipliers ``y`` (weak duality, no optimality needed): for every feasible ``x``,
    ``obj.x = y.(A x) + (obj - A^T y).x``, and each term is bounded by its row or column bound.
    Multipliers whose row has no bound on the needed side are set to zero."""
    y = np.where((y > 0) & ~np.isfinite(hi), 0.0, y)
    y = np.where((y < 0) & ~np.isfinite(lo), 0.0, y)
    reduced = obj - np.bincount(c, weights=v * y[r], minlength=len(obj))
    rows = np.where(y > 0, y * np.where(np.isfinite(hi), hi, 0.0), 0.0) + np.where(
        y < 0, y * np.where(np.isfinite(lo), lo, 0.0), 0.0
    )
    cols = np.where(reduced > 0, reduced * ub, reduced * lb)
    return float(math.fsum(rows.tolist()) + math.fsum(cols.tolist()))


def task_windows(
    inst: Instance,
) -> tuple[list[int], list[int], list[int], list[bool]]:
    """Per task: shortest duration, earliest start propagated along precedence, latest finish,
    and whether it is *alive* (possible, and its window holds its duration).

    ``est'(v) = max(est(v), pinned start, max over predecessors u of est'(u) + d(u))``: an
    assigned task's predecessors are assigned and finish before it starts, and a span of ``d``
    active days holds at least ``d`` working days. A task pinned to start on day ``s`` is dead
    when ``est'(v) > s``; any task is dead when ``est'(v) + d(v) - 1 > lft(v)``, and so is every
    successor of a dead task (it would need the dead one assigned).
    """
    n = len(inst.tasks)
    dur = [_min_duration(t) for t in inst.tasks]
    est = [t.est for t in inst.tasks]
    lft = [t.lft for t in inst.tasks]
    alive = [t.possible for t in inst.tasks]
    for i in _topological(inst):
        t = inst.tasks[i]
        e = est[i]
        if t.pin_start is not None:
            e = max(e, t.pin_start)
        for u in t.preds:
            e = max(e, est[u] + dur[u])
            if not alive[u]:
                alive[i] = False
        if t.pin_start is not None and e > t.pin_start:
            alive[i] = False
        est[i] = e
        if e + dur[i] - 1 > lft[i] or e >= inst.n_days:
            alive[i] = False
    assert len(alive) == n
    return dur, est, lft, alive


#: (task, bucket) cells of the time-indexed LP per second of its time limit, and the range of the
#: cell budget: measured on generated portfolios (2 shared cores), 2,040 tasks in 10-day buckets
#: (11,000 cells): 8 s; 9,978 tasks in 20-day buckets (39,000 cells): 38 s
CELLS_PER_SECOND = 500
MIN_CELLS = 3_000
MAX_CELLS = 40_000


def _auto_bucket(
    inst: Instance,
    time_limit: float,
    max_cells: int | None = None,
    windows: tuple[list[int], list[int], list[bool]] | None = None,
) -> int:
    """The fewest working days per bucket that keep the (task, bucket) cells of the
    time-indexed LP within ``max_cells`` (default: ``CELLS_PER_SECOND`` per second of
    ``time_limit``, within ``MIN_CELLS..MAX_CELLS``)."""
    if max_cells is None:
        max_cells = int(min(MAX_CELLS, max(MIN_CELLS, CELLS_PER_SECOND * time_limit)))
    if windows is None:
        _, est, lft, alive = task_windows(inst)
    else:
        est, lft, alive = windows
    live = [i for i in range(len(alive)) if alive[i]]
    span = sum(lft[i] - est[i] + 1 for i in live)
    for size in (1, 2, 3, 5, 10, 15, 20, 30, 60):
        if span / size + len(live) <= max_cells:
            return size
    return max(60, -(-inst.n_days // 2))


def time_indexed_bound(
    inst: Instance,
    time_limit: float = 30.0,
    bucket_days: int | None = None,
    max_cells: int | None = None,
) -> TimeIndexedBound | None:
    """A lower bound on the ``undelivered`` term from a time-indexed LP (see the module doc).

    ``bucket_days``: working days per time bucket (``None``: :func:`_auto_bucket`). ``None`` when the budget ran out before the LP
    was built; a time-limited solve still gives a (weaker) valid bound through weak duality.
    """
    t0 = time.monotonic()
    deadline = t0 + max(0.1, time_limit)
    tasks = inst.tasks
    n_days = inst.n_days
    total = sum(t.units for t in tasks if t.possible)
    if n_days == 0 or total == 0:
        return None
    dur, est, lft, alive = task_windows(inst)
    live = [i for i in range(len(tasks)) if alive[i]]
    if bucket_days is None:
        bucket_days = _auto_bucket(inst, time_limit, max_cells, (est, lft, alive))
    L = max(1, int(bucket_days))
    n_b = (n_days + L - 1) // L
    first_day = np.arange(n_b, dtype=np.int64) * L
    last_day = np.minimum(first_day + L - 1, n_days - 1)

    lp = _Lp()
    # -- cumulative completion X[i, b]: the fraction of task i done by the end of bucket b -------
    b0 = {i: est[i] // L for i in live}
    b1 = {i: lft[i] // L for i in live}
    off: dict[int, int] = {}
    inside: dict[int, npt.NDArray[np.float64]] = {}  # working days of bucket b in the window
    for i in live:
        bs = np.arange(b0[i], b1[i] + 1)
        days = np.minimum(last_day[bs], lft[i]) - np.maximum(first_day[bs], est[i]) + 1
        inside[i] = days.astype(np.float64)
        rate = days / dur[i]
        obj = np.zeros(len(bs))
        obj[-1] = tasks[i].units
        cols = lp.cols(np.minimum(1.0, np.cumsum(rate)), obj)
        off[i] = int(cols[0])
        if len(bs) > 1:  # 0 <= X[b] - X[b-1] <= days / d: at most one day's share per day
            rows = lp.rows(len(bs) - 1, 0.0, rate[1:])
            lp.entries(rows, cols[1:], 1.0)
            lp.entries(rows, cols[:-1], -1.0)
        if time.monotonic() > deadline:
            return None

    def col(i: int, b: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Column of X[i, b] (-1 before the window: identically 0; the last one after it)."""
        k = np.minimum(b, b1[i]) - b0[i]
        return np.where(k < 0, -1, off[i] + np.maximum(k, 0))

    # -- capacity: per skill, a cascade over min-level bands, per bucket -----------------------
    demand: dict[tuple[str, int], dict[int, float]] = {}  # (skill, level) -> task -> days
    for i in live:
        t = tasks[i]
        for place in t.places:
            per = demand.setdefault((place.skill, place.min_level), {})
            per[i] = per.get(i, 0.0) + dur[i] * t.alloc / 100.0
    levels: dict[str, list[int]] = {}
    for skill, level in demand:
        levels.setdefault(skill, []).append(level)
    for skill in levels:
        levels[skill].sort()
    cap = inst.cap.astype(np.float64)
    if any(float(r.percent) != int(r.percent) for p in inst.people for r in p.reduced_capacity):
        cap = cap + inst.avail  # the compiled capacity is floored: add the lost fraction back
    cap_days = np.add.reduceat(cap / 100.0, first_day, axis=1) if len(inst.people) else cap
    row_of: dict[tuple[str, int], npt.NDArray[np.int64]] = {}
    for skill, lv in levels.items():
        for j in range(len(lv)):
            row_of[(skill, j)] = lp.rows(n_b, -np.inf, 0.0)
    for (skill, level), per in demand.items():
        rows_sj = row_of[(skill, levels[skill].index(level))]
        for i, w in per.items():
            bs = np.arange(b0[i], b1[i] + 1)
            lp.entries(rows_sj[bs], col(i, bs), w)
            lp.entries(rows_sj[bs[1:]], col(i, bs[1:] - 1), -w)
    supply_above: dict[tuple[str, int], npt.NDArray[np.float64]] = {}
    person_skills: dict[int, list[tuple[str, int]]] = {}
    for p, person in enumerate(inst.people):
        for skill, level in person.skills.items():
            known = levels.get(skill)
            if not known or level < known[0]:
                continue
            band = bisect.bisect_right(known, int(level)) - 1
            person_skills.setdefault(p, []).append((skill, band))
            for j in range(band + 1):
                acc = supply_above.setdefault((skill, j), np.zeros(n_b))
                acc += cap_days[p]
    for p, skills in person_skills.items():
        avail_b = np.flatnonzero(cap_days[p] > 0)
        if len(avail_b) == 0:
            continue
        g_all = []
        for skill, band in skills:
            g = lp.cols(cap_days[p, avail_b])
            lp.entries(row_of[(skill, band)][avail_b], g, -1.0)
            g_all.append(g)
        if len(g_all) > 1:  # the person's day is shared among their skills
            rows = lp.rows(len(avail_b), -np.inf, cap_days[p, avail_b])
            for g in g_all:
                lp.entries(rows, g, 1.0)
    for skill, lv in levels.items():
        for j in range(1, len(lv)):
            above = supply_above.get((skill, j))
            if above is None:
                continue
            h = lp.cols(above)  # capacity of bands >= j lent to the classes below j
            lp.entries(row_of[(skill, j)], h, 1.0)
            lp.entries(row_of[(skill, j - 1)], h, -1.0)
    if time.monotonic() > deadline:
        return None

    # -- precedence -------------------------------------------------------------------------
    for v in live:
        for u in tasks[v].preds:
            if not alive[u]:  # cannot happen: successors of dead tasks are dead
                continue
            bs = np.arange(b0[v], b1[v] + 1)
            prev = bs - 1
            xv, xv_prev = col(v, bs), col(v, prev)
            # P1: X_v(b) <= X_u(b) (days: X_u(t - 1)): v has begun => u is complete
            rows = lp.rows(len(bs), -np.inf, 0.0)
            lp.entries(rows, xv, 1.0)
            lp.entries(rows, col(u, bs if L > 1 else prev), -1.0)
            if L > 1:
                continue  # P2 is measured to add nothing over P1 with buckets of days
            # P2: d_v x_v(t) <= X_u(t - 1): v active on day t => u complete by t - 1
            rows = lp.rows(len(bs), -np.inf, 0.0)
            lp.entries(rows, xv, float(dur[v]))
            lp.entries(rows, xv_prev, -float(dur[v]))
            lp.entries(rows, col(u, prev), -1.0)
        if time.monotonic() > deadline:
            return None
    build_s = time.monotonic() - t0
    dead = sum(1 for t in tasks if t.possible and not alive[t.index])
    if not live:
        return TimeIndexedBound(
            undelivered=total, total=total, delivered_ub=0.0, bucket_days=L, rows=0, cols=0,
            nonzeros=0, build_seconds=build_s, solve_seconds=0.0, dead_tasks=dead, status="empty",
        )  # fmt: skip
    lb, ub, obj, lo, hi = lp.arrays()
    rr, cc, vv = lp.triplets()
    # measured: dual simplex is 5x faster with one or two buckets, interior point 5-50x
    # faster with more (time-coupled) buckets
    method = "simplex" if n_b <= 2 else "ipm"
    y, status, solve_s = _solve_highs(lp.n_rows, lb, ub, obj, lo, hi, rr, cc, vv, deadline, method)
    if y is None:
        return None
    delivered = min(
        safe_upper_bound(y, lb, ub, obj, lo, hi, rr, cc, vv),
        safe_upper_bound(-y, lb, ub, obj, lo, hi, rr, cc, vv),
        float(sum(tasks[i].units for i in live)),
    )
    bound = max(0, math.floor(total - delivered - 1e-6 * total - 1))
    log.info(
        "time-indexed bound: undelivered >= %s of %s (%d-day buckets, %d x %d, %d nonzeros, "
        "%s) built in %.2fs, solved in %.2fs",
        bound, total, L, lp.n_rows, lp.n_cols, len(vv), status, build_s, solve_s,
    )  # fmt: skip
    return TimeIndexedBound(
        undelivered=int(bound),
        total=total,
        delivered_ub=delivered,
        bucket_days=L,
        rows=lp.n_rows,
        cols=lp.n_cols,
        nonzeros=len(vv),
        build_seconds=build_s,
        solve_seconds=solve_s,
        dead_tasks=dead,
        status=status,
    )


def _solve_highs(
    n_rows: int,
    lb: npt.NDArray[np.float64],
    ub: npt.NDArray[np.float64],
    obj: npt.NDArray[np.float64],
    lo: npt.NDArray[np.float64],
    hi: npt.NDArray[np.float64],
    r: npt.NDArray[np.int64],
    c: npt.NDArray[np.int64],
    v: npt.NDArray[np.float64],
    deadline: float,
    method: str = "ipm",
) -> tuple[npt.NDArray[np.float64] | None, str, float]:
    """Maximize with HiGHS; the row duals (any multipliers give a bound, see
    :func:`safe_upper_bound`), the model status and the seconds taken."""
    import highspy
    from highspy import _core

    t0 = time.monotonic()
    left = deadline - t0
    if left <= 0:
        return None, "no time", 0.0
    # the core class: highspy.Highs prints a banner on stdout when it is made (CLI output)
    h = _core._Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(left))
    h.setOptionValue("threads", 1)
    # interior point without crossover: its (slightly infeasible) duals still give a valid bound
    # through weak duality
    h.setOptionValue("solver", method)
    if method == "ipm":
        h.setOptionValue("run_crossover", "off")
    scale = 1.0 / max(1.0, float(obj.max(initial=1.0)))  # objective coefficients near 1
    inf = highspy.kHighsInf
    h.addCols(
        len(obj), obj * scale, lb, ub, 0, np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0)
    )
    order = np.argsort(r, kind="stable")
    starts = np.searchsorted(r[order], np.arange(n_rows)).astype(np.int32)
    h.addRows(
        n_rows,
        np.where(np.isfinite(lo), lo, -inf),
        np.where(np.isfinite(hi), hi, inf),
        len(v),
        starts,
        c[order].astype(np.int32),
        v[order],
    )
    h.changeObjectiveSense(highspy.ObjSense.kMaximize)
    h.run()
    status = h.modelStatusToString(h.getModelStatus())
    sol = h.getSolution()
    if not sol.dual_valid:
        return None, status, time.monotonic() - t0
    duals = np.nan_to_num(
        np.asarray(sol.row_dual, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0
    )
    return duals / scale, status, time.monotonic() - t0
