"""A constructive list scheduler: fast, always valid, never optimal.

Used as the *earliest-deadline-first greedy* baseline the engine must beat, as the CP-SAT warm
start and fallback, and alone on portfolios too large for CP-SAT.

**Order.** Two passes. The first places the *committed* tasks (pinned ones that can be assigned
at all, and in-progress ones) with their predecessors, before any other work, so that no
pin is lost to work placed before it (a pinned task whose predecessors are not pinned would
otherwise wait for them behind everything else); the second places the rest. In each, a
priority queue over the precedence DAG: a task becomes ready once every predecessor is decided
(assigned or not). Among ready tasks, the committed ones come first, the least free first (in
progress or pinned on person and start, then pinned on start, then pinned on person), then

* rule ``"edf"``: earliest deadline (no deadline last), higher priority, larger ``units``;
* rule ``"priority"``: higher priority, earliest deadline, larger ``units``;
* rule ``"value"``: larger *downstream value* first (:func:`downstream_value`: the task's
  ``units``, its priority-weighted work, plus its successors' downstream values: what is
  undelivered if it is not placed), then earliest deadline. Measured on the scale ladder's
  portfolios (``benchmarks/first_plan.py``): it leaves about half the undelivered work of
  ``"priority"`` at 2,040 and 9,978 tasks, because the work that unlocks most work is booked
  first instead of after every ready task of a higher priority;

ties by task index, so the result is deterministic.

**Placement.** Each task is placed once, as early as possible, and never moved. Remaining
capacity is one array ``free[p, day]`` (percent, -1 where away), from ``Instance.cap``; booking a
task subtracts its allocation on its *active* days only. With
``es = max(est, 1 + finish of every predecessor)`` (``= pin_start`` when pinned, which must not
be earlier):

* *one-person task*: for each candidate ``p`` (only the pinned / kept person when there is one)
  the earliest start ``s >= es`` that is an available day of ``p`` such that the ``duration(p)``
  available days from ``s`` (the active days) end by ``lft`` and ``free[p, d] >= alloc`` on each;
  the candidate with the earliest finish wins (then lower cost, then lower index);
* *team task* (fixed duration ``D``): for each start ``s`` from ``es`` on, the places are filled
  one by one, most constrained first, each by the unused candidate with whom the partial team
  finishes earliest (then lower cost, lower index); the team's active days are the days from
  ``s`` on on which all members are available, ``s`` must be one, the finish is the ``D``-th and
  every member needs ``free >= alloc`` on each. A pinned person is placed first, kept
  (in-progress) people are the team. The first ``s`` that works is taken; starts and people are
  pre-screened by what each person could do alone (see :func:`_place_team`);
* *task needing nobody*: ``start = es``, ``finish = es + D - 1`` (every working day is active).

A task that does not fit by ``lft``, is impossible (``out_reasons``) or has an unassigned
predecessor stays unassigned. Every rule of the contract holds by construction: skills,
exclusions and pins through the compiled candidates, capacity through ``free``, active days by
definition, windows through ``est``/``lft`` (``lft`` includes hard deadlines), precedence
through ``es``.

All inner searches are numpy over (candidates x days), inside a bounded lookahead window of
``2 * duration + LOOKAHEAD`` days, widened to the whole window only when nothing fits in it
(one-person tasks: the earliest finish inside the short window is the earliest overall).
"""

from __future__ import annotations

import heapq
import logging
import time
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from solver_models.instance import Instance, TaskInfo
from solver_models.matching import fill_places
from solver_models.schedule import Schedule, is_pinned

log = logging.getLogger(__name__)

RULES: tuple[str, ...] = ("edf", "priority", "value")
#: Extra days of lookahead beyond twice the duration before the search widens to the horizon.
LOOKAHEAD = 20
#: One-person tasks: days beyond the earliest finish bound of the first search window.
FIRST_LOOK = 5
#: ``greedy(stop=...)`` is polled once every this many tasks.
STOP_EVERY = 64
#: :class:`_Board` tracks each person's first day with at least this much free capacity
_OPEN_AT = (1, 100)
#: "no such day" in :class:`_Board`'s tables
_FAR = np.iinfo(np.int32).max // 2
#: ``free`` on a day the person is not available (never an active day, never booked).
AWAY = -1

FreeArray = npt.NDArray[np.int16]
IntArray = npt.NDArray[np.int64]
Placement = tuple[int, int, tuple[int, ...]]


def greedy(
    instance: Instance,
    *,
    rule: str = "edf",
    team_contiguous: bool = False,
    base: Schedule | None = None,
    stop: Callable[[], bool] | None = None,
) -> Schedule:
    """Schedule ``instance`` by list scheduling in ``rule`` order (one of :data:`RULES`).

    With ``team_contiguous``, a team task is first placed where its members are all available
    on ``duration`` consecutive working days (no stretching over a member's absence), which is
    the form the CP-SAT model represents (so the plan is a complete warm start); only when no
    such start exists does it stretch.

    With ``base`` (a valid schedule), its tasks stay exactly where they are and the others are
    inserted around them where they fit: the repair pass after CP-SAT, which only adds work.

    With ``stop`` (polled every :data:`STOP_EVERY` tasks), the tasks not yet placed when it
    returns true are left unassigned: what is placed so far is still a valid schedule.

    Always returns a valid schedule (possibly leaving tasks unassigned); never raises on a
    compiled instance.
    """
    if rule not in RULES:
        raise ValueError(f"unknown greedy rule {rule!r}; expected one of {', '.join(RULES)}")
    t0 = time.perf_counter()
    sched = Schedule()
    free = initial_free(instance)
    tasks = instance.tasks
    fixed = set(base.start) if base is not None else set()
    if base is not None:
        for i in sorted(fixed):
            book(free, tasks[i].alloc, base.start[i], base.finish[i], base.people[i])
            sched.add(i, base.start[i], base.finish[i], base.people[i])
    board = _Board(instance, free)
    done = 0
    indeg = [len(t.preds) for t in tasks]
    value = downstream_value(instance) if rule == "value" else None
    first = committed_closure(instance)

    def run(only: set[int] | None) -> bool:
        """List-schedule the tasks ready now and those they release (within ``only`` when
        given; else the undecided rest); ``False`` when stopped."""
        nonlocal done
        heap = [
            (_key(t, rule, instance.n_days, value), t.index)
            for t in tasks
            if indeg[t.index] == 0
            and (t.index in only if only is not None else t.index not in first)
        ]
        heapq.heapify(heap)
        while heap:
            _, i = heapq.heappop(heap)
            info = tasks[i]
            done += 1
            if stop is not None and done % STOP_EVERY == 0 and stop():
                log.info("greedy(%s) stopped after %d of %d tasks", rule, done, len(tasks))
                return False
            placed = None if i in fixed else _place(instance, info, sched, board, team_contiguous)
            if placed is not None:
                s, f, people = placed
                board.book(info.alloc, s, f, people)
                sched.add(i, s, f, people)
            for j in info.succs:
                indeg[j] -= 1
                if indeg[j] == 0 and (only is None or j in only):
                    heapq.heappush(heap, (_key(tasks[j], rule, instance.n_days, value), j))
        return True

    # the committed tasks' set is closed under predecessors: the first pass decides all of it
    if run(first):
        run(None)
    log.debug(
        "greedy(%s): %d of %d tasks assigned in %.3f s",
        rule,
        len(sched),
        len(tasks),
        time.perf_counter() - t0,
    )
    return sched


def initial_free(instance: Instance) -> FreeArray:
    """``free[p, d]``: percent of person ``p``'s day ``d`` still free (:data:`AWAY` if away).

    One array carries both availability and remaining capacity, so that a search gathers one
    block of it per candidate set.
    """
    free = np.where(instance.avail, instance.cap, AWAY)
    return np.asarray(np.clip(free, AWAY, 100), dtype=np.int16)


def book(free: FreeArray, alloc: int, s: int, f: int, people: Sequence[int]) -> None:
    """Take ``alloc`` from each assignee's ``free`` on the task's active days in ``s..f``.

    The active days are the days on which every assignee is available (none for a task
    needing nobody, which takes no capacity).
    """
    if not people:
        return
    idx = np.asarray(people, dtype=np.int64)
    block = free[idx, s : f + 1]
    active = (block >= 0).all(axis=0)
    free[idx, s : f + 1] = block - np.int16(alloc) * active


class _Board:
    """``free`` and what makes searching it cheap: per person the first day with some free
    capacity left and with a whole free day (``first_open``; they only ever move later:
    bookings only take), and static
    tables of available days, which bound from below the finish any candidate can reach."""

    def __init__(self, instance: Instance, free: FreeArray) -> None:
        self.free = free
        n = instance.n_days
        self.n_days = n
        avail = instance.avail
        #: avail_before[p, d]: available days of p before day d
        self.avail_before = np.zeros((avail.shape[0], n + 1), dtype=np.int32)
        np.cumsum(avail, axis=1, out=self.avail_before[:, 1:])
        #: kth[p, r]: p's available day of rank r (0-based); beyond the last: ``_FAR``
        self.kth = np.full((avail.shape[0], n + 1), _FAR, dtype=np.int32)
        rows, cols = np.nonzero(avail)
        self.kth[rows, self.avail_before[rows, cols]] = cols
        #: first_open[k][p]: p's first day with free >= ``_OPEN_AT[k]`` (n_days: none)
        self.first_open = [self._first(free >= at) for at in _OPEN_AT]

    def _first(self, ok: npt.NDArray[np.bool_]) -> IntArray:
        out: IntArray = np.where(ok.any(axis=-1), np.argmax(ok, axis=-1), ok.shape[-1])
        return out.astype(np.int64)

    def book(self, alloc: int, s: int, f: int, people: Sequence[int]) -> None:
        book(self.free, alloc, s, f, people)
        for k, at in enumerate(_OPEN_AT):
            first = self.first_open[k]
            for p in people:
                fo = int(first[p])
                if s <= fo <= f:
                    first[p] = fo + int(self._first(self.free[p, fo:] >= at))

    def finish_bound(self, cand: IntArray, durs: IntArray, es: int, alloc: int) -> IntArray:
        """Per candidate, a day no span of ``durs`` active days from ``es`` on can finish
        before: the start is an available day with free capacity, so not before
        ``max(es, first_open)`` (the first day with free >= 100 for a full-day task), and
        the active days are the person's available days."""
        first = self.first_open[1] if alloc >= _OPEN_AT[1] else self.first_open[0]
        start = np.minimum(np.maximum(es, first[cand]), self.n_days)
        rank = np.minimum(self.avail_before[cand, start] + durs - 1, self.n_days)
        out: IntArray = self.kth[cand, rank].astype(np.int64)
        return out


# -- order --------------------------------------------------------------------------------------
def committed_closure(instance: Instance) -> set[int]:
    """The tasks of the greedy's first pass: the pinned tasks that can be assigned at all and
    the in-progress ones (kept people), with all their predecessors."""
    stack = [
        t.index
        for t in instance.tasks
        if t.possible and (is_pinned(t) or t.keep_people is not None)
    ]
    out = set(stack)
    while stack:
        for j in instance.tasks[stack.pop()].preds:
            if j not in out:
                out.add(j)
                stack.append(j)
    return out


def downstream_value(instance: Instance) -> list[int]:
    """Per task, its ``units`` plus the downstream values of its successors: the priority-weighted
    work that stays undelivered when the task is not placed (work reached by several paths is
    counted once per path: an over-count that keeps it linear in the precedence edges, and
    measured as good as the exact sum on the scale ladder's portfolios)."""
    tasks = instance.tasks
    indeg = [len(t.succs) for t in tasks]
    value = [t.units for t in tasks]
    ready = [t.index for t in tasks if not t.succs]
    while ready:  # successors before predecessors (the precedence graph is acyclic)
        j = ready.pop()
        for i in tasks[j].preds:
            value[i] += value[j]
            indeg[i] -= 1
            if indeg[i] == 0:
                ready.append(i)
    return value


def _key(
    info: TaskInfo, rule: str, n_days: int, value: Sequence[int] | None = None
) -> tuple[int, int, int, int, int]:
    """Heap key: committed tasks first, the least free first (in progress, or pinned on person
    and start; then pinned on start; then pinned on person), then the rule's order (``value``:
    :func:`downstream_value`, for rule ``"value"``), then the task index."""
    if info.keep_people is not None or (info.pin_start is not None and info.pin_person is not None):
        committed = 0
    elif info.pin_start is not None:
        committed = 1
    elif info.pin_person is not None:
        committed = 2
    else:
        committed = 3
    deadline = info.deadline_idx if info.deadline_idx is not None else n_days + 1_000_000
    if rule == "value" and value is not None:
        return (committed, -value[info.index], deadline, -info.priority, info.index)
    if rule == "priority":
        return (committed, -info.priority, deadline, -info.units, info.index)
    return (committed, deadline, -info.priority, -info.units, info.index)


# -- placement ----------------------------------------------------------------------------------
def _place(
    instance: Instance, info: TaskInfo, sched: Schedule, board: _Board, contiguous: bool = False
) -> Placement | None:
    """Where the task goes (start, finish, people per place), or ``None`` to leave it out."""
    if not info.possible or not _pins_compiled(instance, info):
        return None
    es = info.est
    for j in info.preds:
        if not sched.assigned(j):
            return None
        es = max(es, sched.finish[j] + 1)
    fixed = info.pin_start is not None
    if info.pin_start is not None:
        if info.pin_start < es:
            return None
        es = info.pin_start
    lft = min(info.lft, instance.n_days - 1)
    if es > lft:
        return None
    if not info.places:
        return _place_wait(info, es, lft)
    if not info.is_team and len(info.places) == 1:
        return _place_single(info, board, es, lft, fixed)
    if contiguous:
        tight = _place_team(info, board, es, lft, fixed, tight=True)
        if tight is not None:
            return tight
    return _place_team(info, board, es, lft, fixed)


def _pins_compiled(instance: Instance, info: TaskInfo) -> bool:
    """Whether the task's pin survived compilation intact (else it is left out, to stay valid).

    Guards against a compiled ``pin_start`` that is not the pinned date (an in-progress task's
    keep start replaces it) and a pinned person the instance does not know.
    """
    pin = info.task.pinned
    if pin is None:
        return True
    if pin.start is not None and (
        info.pin_start is None or instance.day(info.pin_start) != pin.start
    ):
        return False
    return pin.person is None or (
        info.pin_person is not None and instance.people[info.pin_person].id == pin.person
    )


def _place_wait(info: TaskInfo, es: int, lft: int) -> Placement | None:
    """A task needing nobody: every working day is active, it starts as early as allowed."""
    if info.duration is None or info.duration < 1:
        return None
    f = es + info.duration - 1
    return (es, f, ()) if f <= lft else None


def _single_candidates(info: TaskInfo) -> tuple[IntArray, IntArray, IntArray]:
    """(person, duration, cost) arrays of the task's candidates (pin / kept people only)."""
    c = info.cands
    if info.pin_person is not None or info.keep_people is not None:
        keep = np.ones(len(c.people), dtype=bool)
        if info.pin_person is not None:
            keep &= c.people == info.pin_person
        if info.keep_people is not None:
            keep &= np.isin(c.people, info.keep_people)
        return c.people[keep], c.durations[keep], c.costs[keep]
    return c.people, c.durations, c.costs


def _place_single(
    info: TaskInfo, board: _Board, es: int, lft: int, fixed: bool
) -> Placement | None:
    """One-person task: the candidate and start giving the earliest finish.

    The search runs over growing windows ``es..hi``, each time over the candidates whose
    finish bound (:meth:`_Board.finish_bound`) is by ``hi``, and stops at the first window in
    which someone fits: every candidate who could finish by ``hi`` is in it, so the earliest
    finish found there is the earliest overall, ties included (the result does not depend on
    the windows, only the work does).
    """
    cand, durs, costs = _single_candidates(info)
    if cand.size == 0:
        return None
    bound = board.finish_bound(cand, durs, es, info.alloc)
    live = bound <= lft
    if not live.any():
        return None
    cand, durs, costs, bound = cand[live], durs[live], costs[live], bound[live]
    free = board.free
    if fixed:
        return _earliest_single(free, info.alloc, cand, durs, costs, es, lft, fixed)
    hi = min(lft, int(bound.min()) + FIRST_LOOK)
    while True:
        sel = bound <= hi
        found = _earliest_single(free, info.alloc, cand[sel], durs[sel], costs[sel], es, hi, fixed)
        if found is not None or hi >= lft:
            return found
        hi = min(lft, hi + max(LOOKAHEAD, hi - es + 1))


def _earliest_single(
    free: FreeArray,
    alloc: int,
    cand: IntArray,
    durs: IntArray,
    costs: IntArray,
    lo: int,
    hi: int,
    fixed: bool,
) -> Placement | None:
    """Best (start, finish, person) with start and finish in ``lo..hi``, vectorized.

    Per candidate row, over the window: ``n_av[d]`` counts available days up to ``d``;
    ``base[d]`` is ``n_av`` at the last *blocked* day (available, ``free < alloc``) up to ``d``
    (0 if none). A span of ``dur`` active days with no blocked day ends at ``d`` exactly when
    ``n_av[d] - base[d] >= dur`` first holds, so the earliest finish is the first such ``d``;
    its start is the available day of rank ``n_av[d] - dur + 1``.
    """
    block = free[cand, lo : hi + 1]
    avail = block >= 0
    blocked = avail & (block < alloc)
    n_av = np.cumsum(avail, axis=1, dtype=np.int32)
    base = np.maximum.accumulate(np.where(blocked, n_av, 0), axis=1)
    hit = (n_av - base) >= durs[:, None]
    fits = hit.any(axis=1)
    fin = np.argmax(hit, axis=1)
    if fixed:
        rows = np.arange(len(cand))
        # the span must start on ``lo`` itself: lo available and the first hit of rank ``dur``
        fits &= avail[:, 0] & (n_av[rows, fin] == durs)
    idx = np.flatnonzero(fits)
    if idx.size == 0:
        return None
    best = int(idx[np.lexsort((cand[idx], costs[idx], fin[idx]))[0]])
    f = int(fin[best])
    rank = int(n_av[best, f]) - int(durs[best]) + 1
    s = int(np.searchsorted(n_av[best], rank))
    return (lo + s, lo + f, (int(cand[best]),))


# -- team tasks ---------------------------------------------------------------------------------
def _match(people: Sequence[int], place_candidates: Sequence[Sequence[int]]) -> list[int] | None:
    """A one-to-one matching of ``people`` to places (person per place), or ``None``."""
    return fill_places(people, place_candidates)


def _place_team(
    info: TaskInfo, board: _Board, es: int, lft: int, fixed: bool, tight: bool = False
) -> Placement | None:
    """Team task: the first start at which the places can be filled, place by place.

    ``tight``: only spans of exactly ``duration`` working days (every day active for every
    member).

    Starts and candidates are pre-screened by :func:`_solo_starts`: a start is tried only when
    every place has enough people who could do the ``D`` days from it on their own, and only
    those people are offered for the place. (A team may in fact tolerate a member's full day
    that falls on a teammate's absence; skipping that rare case costs quality, never validity.)
    People whose finish bound (:meth:`_Board.finish_bound`) is past ``lft`` could not do it
    alone from any start, so they are left out before the screening (the same result, less
    work).
    """
    free = board.free
    dur = info.duration
    if dur is None or dur < 1:
        return None
    n_places = len(info.places)
    alloc = info.alloc
    cands = info.cands
    # every place's people are candidates (the compiler makes them so); kept as a safeguard
    member = np.zeros(max(int(cands.people.max(initial=-1)) + 1, 1), dtype=bool)
    member[cands.people] = True
    pcs = [
        pc[member[np.minimum(pc, len(member) - 1)] & (pc < len(member))] for pc in info.place_arrays
    ]
    presets: list[dict[int, int]]
    if info.keep_people is not None:
        matched = _match(info.keep_people, [pc.tolist() for pc in pcs])
        if matched is None:
            return None
        presets = [dict(enumerate(matched))]
    elif info.pin_person is not None:
        pin = info.pin_person
        spots = sorted((k for k in range(n_places) if pin in pcs[k]), key=lambda k: len(pcs[k]))
        presets = [{k: pin} for k in spots]
    else:
        presets = [{}]
    # places with the same candidates need that many distinct people (as listed: before the
    # pruning below, which could make different lists equal)
    keys = [tuple(pc.tolist()) for pc in pcs]
    preset_people = np.asarray(
        sorted({p for preset in presets for p in preset.values()}), dtype=np.int64
    )
    for k, pc in enumerate(pcs):
        reach = board.finish_bound(pc, np.full(len(pc), dur, dtype=np.int64), es, alloc) <= lft
        if preset_people.size:
            reach |= np.isin(pc, preset_people)
        pcs[k] = pc[reach]
    if not presets or any(pc.size == 0 for pc in pcs):
        return None
    costs = np.zeros(int(max(int(pc.max()) for pc in pcs)) + 1, dtype=np.int64)
    inside = cands.people < len(costs)
    costs[cands.people[inside]] = cands.costs[inside]

    n_starts = 1 if fixed else lft - es + 1
    ok_start = np.ones(n_starts, dtype=bool)
    same: dict[tuple[int, ...], int] = {}
    for key in keys:
        same[key] = same.get(key, 0) + 1
    solo: list[npt.NDArray[np.bool_]] = []
    seen: dict[tuple[int, ...], npt.NDArray[np.bool_]] = {}
    for pc, key in zip(pcs, keys, strict=True):
        feas = seen.get(key)
        if feas is None:
            feas = seen[key] = _solo_starts(free, pc, alloc, dur, es, lft)[:, :n_starts]
            ok_start &= feas.sum(axis=0) >= same[key]
        solo.append(feas)
    for p in {p for preset in presets for p in preset.values()}:  # kept people, or the pin
        ok_start &= free[p, es : es + n_starts] >= alloc
    for off in np.flatnonzero(ok_start):
        s = es + int(off)
        hi = min(lft, s + dur - 1) if tight else min(lft, s + 2 * dur + LOOKAHEAD - 1)
        at_s = [pc[feas[:, off]] for pc, feas in zip(pcs, solo, strict=True)]
        order = sorted(range(n_places), key=lambda k: len(at_s[k]))
        for preset in presets:
            found = _fill_team(free, alloc, dur, at_s, order, costs, preset, s, hi)
            if found is None and hi < lft and not tight:
                found = _fill_team(free, alloc, dur, at_s, order, costs, preset, s, lft)
            if found is not None:
                return found
    return None


def _solo_starts(
    free: FreeArray, cand: IntArray, alloc: int, dur: int, lo: int, hi: int
) -> npt.NDArray[np.bool_]:
    """``[c, s - lo]``: candidate ``c`` alone could work ``dur`` days from ``s`` (by ``hi``).

    That is: available on ``s``, and the ``dur`` available days from ``s`` (ranks
    ``n_av[s] .. n_av[s] + dur - 1``) end by ``hi`` and hold no blocked day (available,
    ``free < alloc``): the rank of the next blocked day at or after ``s`` is beyond them.
    """
    block = free[cand, lo : hi + 1]
    avail = block >= 0
    blocked = avail & (block < alloc)
    n_av = np.cumsum(avail, axis=1, dtype=np.int32)
    big = np.iinfo(np.int32).max
    marks = np.where(blocked, n_av, big)[:, ::-1]
    next_blocked = np.minimum.accumulate(marks, axis=1)[:, ::-1]
    last = n_av[:, -1:]
    ok: npt.NDArray[np.bool_] = (
        avail & (next_blocked > n_av + (dur - 1)) & (n_av + (dur - 1) <= last)
    )
    return ok


def _fill_team(
    free: FreeArray,
    alloc: int,
    dur: int,
    pcs: Sequence[IntArray],
    order: Sequence[int],
    costs: IntArray,
    preset: dict[int, int],
    s: int,
    hi: int,
) -> Placement | None:
    """Fill the places at start ``s`` (finish by ``hi``) greedily; ``None`` when stuck.

    ``common[d]``: every member so far is available on ``s + d`` (the team's active days);
    ``room[d]``: every member so far has ``free >= alloc`` on it. Each place takes the unused
    candidate with whom the partial team finishes first (then lower cost, lower index), among
    those available on ``s`` with room on every active day up to that finish.
    """
    sl = slice(s, hi + 1)
    width = hi - s + 1
    common = np.ones(width, dtype=bool)
    room = np.ones(width, dtype=bool)
    chosen: dict[int, int] = {}
    for k, p in preset.items():
        chosen[k] = p
        common &= free[p, sl] >= 0
        room &= free[p, sl] >= alloc
    if not common[0]:
        return None
    used = set(chosen.values())
    for k in order:
        if k in chosen:
            continue
        cand = pcs[k]
        for u in used:
            cand = cand[cand != u]
        if cand.size == 0:
            return None
        block = free[cand, sl]
        act = common & (block >= 0)
        count = np.cumsum(act, axis=1, dtype=np.int32)
        reach = count[:, -1] >= dur
        fin = np.argmax(count >= dur, axis=1)
        bad = act & ~(room & (block >= alloc))
        first_bad = np.where(bad.any(axis=1), np.argmax(bad, axis=1), width)
        idx = np.flatnonzero(act[:, 0] & reach & (first_bad > fin))
        if idx.size == 0:
            return None
        best = int(idx[np.lexsort((cand[idx], costs[cand[idx]], fin[idx]))[0]])
        p = int(cand[best])
        chosen[k] = p
        used.add(p)
        common &= act[best]
        room &= block[best] >= alloc
    count_all = np.cumsum(common)
    if not common[0] or count_all[-1] < dur:
        return None
    f = int(np.argmax(count_all >= dur))
    if (common[: f + 1] & ~room[: f + 1]).any():
        return None
    return (s, s + f, tuple(chosen[k] for k in range(len(pcs))))
