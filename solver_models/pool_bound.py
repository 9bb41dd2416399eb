"""A lower bound on undelivered work from a scheduling relaxation without assignment.

The LP bounds of :mod:`solver_models.bounds` let a task be delivered in part and spread in time;
the assignment relaxation of :mod:`solver_models.assignment_bound` keeps it whole but drops the
calendar inside its window. This relaxation keeps the calendar and drops who does a task (issue
15, item 3): per *pool* of people a cumulative resource, each task optional, inside its window,
after its predecessors::

    maximize    sum_t units_t * z_t                       (z_t = task t delivered)
    one place   an interval [s_t, e_t) present iff z_t, s_t in [est'(t), lft(t) - d_t + 1] (the
                pinned start, if any); e_t = s_t + d_t (d_t: shortest duration), or, with
                exact spans, the day after the earliest finish over t's candidates from s_t
    team        its d_t active days a_1 < ... < a_d, each a one-day interval present iff z_t,
                a_1 = its start, a_{j+1} <= the first day after a_j on which every person
                eligible for it is available, e_t = a_d + 1
    precedence  z_v => z_u  and  z_v => s_v >= e_u  for every edge u -> v
    cumulative  per pool (D, N): the intervals of the tasks with places in D, each demanding
                alloc_t per such place, within the profile sum_{p in N} prof_p(day)
    energy      per pool: sum_t z_t * d_t * alloc_t * (places in D) <= sum_{p in N} cap_p

A pool is a set ``D`` of places and ``N`` the union of their eligible people (Hall's
condition): the places of each skill at each min level and above, and all places together.

**Why every plan is feasible.** Put ``z_t = 1`` and ``s_t`` = the start of every assigned task.
A one-place task's span ``[start, finish]`` holds its duration ``D_t >= d_t`` in active days,
each a working day, and its person's finish from ``start`` is at least the earliest over its
candidates (the compiler's spans: every span of a valid plan is one of them), so ``[s_t,
e_t)`` lies inside the span and inside the window (``est'`` is a true earliest start, see
:func:`solver_models.bounds.task_windows`). A team's active days are the days of its span on
which all its people are available: ``a_j`` are those days, and a day after ``a_j`` on which
everyone eligible is available is either after the finish or active, so ``a_{j+1}`` is at most
it. Predecessors finish before successors start.

Cumulative: on a day ``x``, a one-place task whose interval covers ``x`` is *in span* on ``x``,
and it is active on every day of its span its person is available: so on a day its person ``p``
is available it takes ``alloc`` of ``p``'s capacity, and on a day ``p`` is absent it is active
on ``p``'s available days just before and just after (its start and finish are active days on
either side). Hence the allocations of ``p``'s one-place tasks in span on ``x`` add up to at
most ``prof_p(x)`` = ``cap_p(x)`` if ``p`` is available on ``x``, else the smaller capacity of
``p``'s nearest available days on either side (0 if there is none on one side). A team's
one-day intervals are active days, on which each of its people is available and takes
``alloc``. The places of ``D`` are filled by people of ``N``, one place per person per task, so
the demands in ``D`` on ``x`` add up to at most ``sum_{p in N} prof_p(x)`` (a team counted in
span would not be: its people work on other tasks on the days one of them is away, hence its
active days). Capacities are integer percent, floored: allocations are integers, so their sum
is at most the floor of a fractional capacity. Exclusions (beyond the candidates), pins on
person, kept people and the distinctness of a team's members are dropped (only ever fewer
constraints).

Hence the delivered units of every plan ``<=`` the relaxation's optimum ``<=`` CP-SAT's proven
bound on it (any bound CP-SAT reports holds, optimal or not; reported as a float, so one part in
a million of the total is kept as a margin), and ``total - bound`` is at most the undelivered
work of every plan.

**What it gives** (``benchmarks/bounds.py``, RESULTS.md "Bounds on undelivered work (issue
15)"). On small generated portfolios it is often the strongest first-term bound (above the LPs
and the assignment relaxation on 5 of 18 portfolios of 17-88 tasks, up to 2.3x; equal to the
proven optimum on one where they reached 75 % of it), so
:func:`solver_models.bounds.undelivered_lower_bound` runs it on small portfolios
(``POOL_MAX_TASKS``). On the scale ladder it is *below* them (195 tasks: its optimum, proven,
is 422 h against the assignment relaxation's 457 h; 2,040 tasks: 4,102 h after 40-90 s against
the time-indexed LP's 4,328 h): pooling lets a one-person task pass from one person to another
day by day, and what the plans lose is in what only the whole problem has (one person's
calendar across their skills, teams needing several people at once; see
:mod:`solver_models.bounds`).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from ortools.sat.python import cp_model

from solver_models.bounds import task_windows
from solver_models.instance import Instance, TaskInfo

log = logging.getLogger(__name__)

#: built up to this many possible tasks (one optional interval each)
MAX_TASKS = 20_000


#: one-person tasks get their shortest span from each start (``_earliest_ends``) up to this
#: many (task, eligible person) pairs; above, a span of their shortest duration
EXACT_PAIRS = 20_000


def _next_safe(safe: npt.NDArray[np.bool_]) -> list[int]:
    """``out[a]`` = the first day after ``a`` on which ``safe`` holds (``len(safe)``: none),
    for ``a`` in ``0..len(safe)`` (the last entry: ``len(safe)``)."""
    n = len(safe)
    out = [n] * (n + 1)
    nxt = n
    for a in range(n - 1, -1, -1):
        out[a] = nxt
        if safe[a]:
            nxt = a
    return out


def _earliest_ends(t: TaskInfo, lo: int, hi: int) -> list[int] | None:
    """Per start ``lo..hi``: the day after the earliest finish over the task's candidates
    starting then (0: nobody can start then); ``None`` when spans are not known (teams)."""
    out = np.zeros(hi - lo + 1, dtype=np.int64)
    for c in t.candidates.values():
        spans = c.spans
        if spans is None:
            return None
        starts, finishes = spans
        keep = (starts >= lo) & (starts <= hi)
        k = starts[keep] - lo
        f = finishes[keep] + 1
        cur = out[k]
        out[k] = np.where((cur == 0) | (f < cur), f, cur)
    return [int(x) for x in out]


@dataclass(frozen=True)
class PoolBound:
    """What :func:`pool_bound` proved, and the size of its model."""

    #: lower bound on the undelivered units of the possible tasks
    undelivered: int
    #: units of the possible tasks
    total: int
    #: CP-SAT's status name on the relaxation (``OPTIMAL``: the bound is its optimum)
    status: str
    pools: int
    tasks: int
    #: team tasks (modelled by their active days)
    teams: int
    seconds: float
    #: undelivered units of the best solution of the relaxation found (``None``: none): the
    #: most this relaxation could ever prove (equal to ``undelivered`` when optimal, up to the
    #: margin)
    ceiling: int | None = None


def person_profiles(
    avail: npt.NDArray[np.bool_], cap: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """``[n_people, n_days]``: the most a person's one-person tasks *in span* on a day can
    allocate (module doc): the capacity on an available day, the smaller capacity of the
    nearest available days on either side on another day, 0 before the first or after the
    last available day."""
    n_people, n_days = cap.shape
    out = np.where(avail, cap, 0).astype(np.int64)
    idx = np.arange(n_days)
    for p in range(n_people):
        days = np.flatnonzero(avail[p])
        if len(days) < 2:
            continue
        gaps = (~avail[p]) & (idx > days[0]) & (idx < days[-1])
        if not gaps.any():
            continue
        x = idx[gaps]
        nxt = days[np.searchsorted(days, x)]
        prv = days[np.searchsorted(days, x) - 1]
        out[p, x] = np.minimum(cap[p, prv], cap[p, nxt])
    return out


def pool_bound(
    inst: Instance,
    time_limit: float = 5.0,
    workers: int = 1,
    *,
    seed: int = 0,
    exact_pairs: int = EXACT_PAIRS,
) -> PoolBound | None:
    """A lower bound on the ``undelivered`` units of the possible tasks (module doc); ``None``
    when the portfolio is too large (``MAX_TASKS``) or CP-SAT proved no bound in time."""
    t0 = time.monotonic()
    tasks = [t for t in inst.tasks if t.possible]
    total = sum(t.units for t in tasks)
    if total == 0:
        return PoolBound(0, 0, "empty", 0, 0, 0, 0.0)
    if len(tasks) > MAX_TASKS:
        return None
    n_days = inst.n_days
    dur, est, lft, alive = task_windows(inst)
    avail = inst.avail
    cap = inst.cap.astype(np.int64)
    prof = person_profiles(avail, cap)
    cap_before = np.concatenate(
        (np.zeros((cap.shape[0], 1), np.int64), np.cumsum(np.where(avail, cap, 0), axis=1)), 1
    )

    m = cp_model.CpModel()
    z: dict[int, cp_model.IntVar] = {}
    #: task -> (first day, end): its start, and the day after its finish (exclusive)
    first: dict[int, cp_model.IntVar] = {}
    end: dict[int, cp_model.LinearExprT] = {}
    #: task -> its intervals in the cumulatives (one span, or one per active day of a team)
    pieces: dict[int, list[cp_model.IntervalVar]] = {}
    places_of: dict[int, list[tuple[str, int, frozenset[int]]]] = {}
    exact = sum(len(t.candidates) for t in tasks) <= exact_pairs
    deadline = t0 + time_limit
    for t in tasks:
        i = t.index
        if not alive[i]:
            continue
        if time.monotonic() > deadline:
            return None  # the model is not even built in the time given
        cands = [frozenset(int(p) for p in arr) for arr in t.place_arrays] if t.places else []
        if len(cands) != len(t.places) or any(not c for c in cands):
            continue  # a place nobody can fill: never delivered
        lo, hi = est[i], lft[i] - dur[i] + 1
        if t.pin_start is not None:
            lo = hi = t.pin_start if lo <= t.pin_start <= hi else -1
        if lo < 0 or lo > hi:
            continue
        zi = m.new_bool_var(f"z[{t.id}]")
        if len(t.places) > 1:
            # a team: its active days, each a day all its people work (module doc)
            safe = np.asarray(avail[sorted(set().union(*cands))].all(axis=0), dtype=bool)
            next_safe = _next_safe(safe)
            days = [m.new_int_var(lo, hi, "")]  # its start (pinned, if it is)
            last = lft[i] - dur[i] + 1  # the latest start without a pin
            days += [m.new_int_var(lo + j, last + j, "") for j in range(1, dur[i])]
            for j in range(1, dur[i]):
                m.add(days[j] >= days[j - 1] + 1)
                nxt = m.new_int_var(0, n_days, "")
                m.add_element(days[j - 1], next_safe, nxt)
                m.add(days[j] <= nxt)
            pieces[i] = [m.new_optional_fixed_size_interval_var(x, 1, zi, "") for x in days]
            first[i], end[i] = days[0], days[-1] + 1
        else:
            si = m.new_int_var(lo, hi, f"s[{t.id}]")
            # (a task without places needs nobody: its span is its duration in working days)
            table = _earliest_ends(t, lo, hi) if exact and t.places else None
            if table is None:
                ei: cp_model.LinearExprT = si + dur[i]
                pieces[i] = [m.new_optional_fixed_size_interval_var(si, dur[i], zi, "")]
            else:
                ok = [d for d in range(lo, hi + 1) if table[d - lo] > 0]
                if not ok:
                    continue
                m.add_linear_expression_in_domain(si, cp_model.Domain.from_values(ok))
                ev = m.new_int_var(lo + dur[i], lft[i] + 1, "")
                m.add_element(si - lo, [int(x) if x > 0 else lo + dur[i] for x in table], ev)
                ei = ev
                size = m.new_int_var(dur[i], lft[i] + 1 - lo, "")
                m.add(size == ev - si)
                pieces[i] = [m.new_optional_interval_var(si, size, ev, zi, "")]
            first[i], end[i] = si, ei
        z[i] = zi
        places_of[i] = [(pl.skill, pl.min_level, c) for pl, c in zip(t.places, cands, strict=True)]
    if not z:
        return PoolBound(total, total, "empty", 0, 0, 0, time.monotonic() - t0)
    for i, zi in z.items():
        for u in inst.tasks[i].preds:
            if u in z:
                m.add_implication(zi, z[u])
                m.add(first[i] >= end[u]).only_enforce_if(zi)
            else:
                m.add(zi == 0)  # a predecessor that is never delivered
    teams = sum(1 for i in z if len(inst.tasks[i].places) > 1)

    # the pools: per skill, the places at each min level and above; and all places
    levels: dict[str, set[int]] = {}
    for pls in places_of.values():
        for skill, level, _ in pls:
            levels.setdefault(skill, set()).add(level)
    pools: list[tuple[str, int] | None] = [None]
    pools += [(s, lv) for s in sorted(levels) for lv in sorted(levels[s])]
    seen: set[tuple[tuple[tuple[int, int], ...], frozenset[int]]] = set()
    n_pools = 0
    for key in pools:
        if time.monotonic() > deadline:
            return None
        demand: dict[int, int] = {}  # task -> places in D
        people: set[int] = set()
        for i, pls in places_of.items():
            for skill, level, c in pls:
                if key is None or (skill == key[0] and level >= key[1]):
                    demand[i] = demand.get(i, 0) + 1
                    people |= c
        if not demand:
            continue
        sig = (tuple(sorted(demand.items())), frozenset(people))
        if sig in seen:
            continue
        seen.add(sig)
        n_pools += 1
        members = sorted(people)
        profile = prof[members].sum(axis=0)
        top = int(profile.max(initial=0))
        ivs = [iv for i in demand for iv in pieces[i]]
        dem = [int(inst.tasks[i].alloc) * k for i, k in demand.items() for _ in pieces[i]]
        # the profile as fixed intervals taking what it lacks of its peak
        deficit = top - profile
        d = 0
        while d < n_days:
            if deficit[d] <= 0:
                d += 1
                continue
            e = d
            while e + 1 < n_days and deficit[e + 1] == deficit[d]:
                e += 1
            ivs.append(m.new_fixed_size_interval_var(d, e - d + 1, ""))
            dem.append(int(deficit[d]))
            d = e + 1
        if ivs:
            m.add_cumulative(ivs, dem, top)
        # energy on the horizon (implied by the cumulative, but it helps the LP)
        for a, b in ((0, n_days - 1),):
            inside = [
                (z[i], dur[i] * int(inst.tasks[i].alloc) * k)
                for i, k in demand.items()
                if est[i] >= a and lft[i] <= b
            ]
            limit = int((cap_before[members, b + 1] - cap_before[members, a]).sum())
            if sum(w for _, w in inside) > limit:
                m.add(sum(w * x for x, w in inside) <= limit)
    m.maximize(sum(inst.tasks[i].units * zi for i, zi in z.items()))
    left = time_limit - (time.monotonic() - t0)
    if left <= 0.05:
        return None
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = left
    solver.parameters.num_workers = max(1, workers)
    solver.parameters.random_seed = seed
    status = solver.solve(m)
    delivered = solver.best_objective_bound
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE) or not math.isfinite(delivered):
        log.info("pool bound: no bound (%s)", solver.status_name(status))
        return None
    # the float bound may sit a hair below the integer it stands for (assignment_bound)
    bound = max(0, total - math.floor(delivered + 1e-6 * total))
    seconds = time.monotonic() - t0
    log.info(
        "pool bound: undelivered >= %s of %s (%d tasks, %d pools, %d teams, %s) "
        "in %.2fs",
        bound, total, len(z), n_pools, teams, solver.status_name(status), seconds,
    )  # fmt: skip
    return PoolBound(
        undelivered=int(bound),
        total=total,
        status=solver.status_name(status),
        pools=n_pools,
        tasks=len(z),
        teams=teams,
        seconds=seconds,
        ceiling=total - round(solver.objective_value),
    )
