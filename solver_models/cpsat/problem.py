"""The problem a model is built for: a whole instance, or a sub-problem narrowed before the model.

A large neighbourhood (``solver_models.lns``) re-plans some *free* tasks against a *fixed*
schedule of the others. :func:`narrow` builds that sub-problem as data: the free tasks that can
take part, their windows narrowed by their fixed neighbours, the capacity the fixed tasks leave
(:func:`booked_capacity`), the people they may move to, and the pure pools of what is left
(``solver_models.pools``). The model builder (:class:`solver_models.cpsat.model.Model`) then
treats a whole instance and a sub-problem the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from solver_models.instance import Instance, TaskInfo
from solver_models.pools import Pools, find_pools
from solver_models.schedule import Schedule


@dataclass(frozen=True)
class Problem:
    """What a model sees of an instance (do not mutate its maps and arrays)."""

    inst: Instance
    #: the tasks that are variables of the model
    tasks: tuple[TaskInfo, ...]
    #: [n_people, n_days] capacity in percent (the instance's, or what a fixed part leaves)
    cap: npt.NDArray[np.int64]
    #: per task: the window [lo, hi] its start and finish must lie in
    lo: Mapping[int, int]
    hi: Mapping[int, int]
    #: the pure pools of this problem
    pools: Pools
    #: tasks that must be assigned (a fixed successor depends on them)
    forced: frozenset[int] = frozenset()
    #: the schedule of the tasks that are not variables (None: every task is a variable)
    fixed: Schedule | None = None
    #: the people free tasks may move to (None: everyone eligible); a task may always keep
    #: the people it has in ``fixed``
    people: frozenset[int] | None = None
    keep: Mapping[int, tuple[int, ...]] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def narrowed(self) -> bool:
        """Whether capacity is what a fixed part leaves (not the instance's own)."""
        return self.cap is not self.inst.cap

    def cands(self, t: TaskInfo) -> list[int]:
        """The task's eligible people in this problem (all, or those of the neighbourhood)."""
        if self.people is None:
            return list(t.candidates)
        keep = self.keep.get(t.index, ())
        return [p for p in t.candidates if p in self.people or p in keep]

    def place_cands(self, t: TaskInfo, k: int) -> list[int]:
        """The eligible people of place ``k`` of task ``t`` in this problem."""
        if self.people is None:
            return t.place_candidates[k]
        keep = self.keep.get(t.index, ())
        return [p for p in t.place_candidates[k] if p in self.people or p in keep]


def whole(inst: Instance, *, pools: bool = True) -> Problem:
    """The whole instance: every task that can be assigned is a variable (``pools=False``: do
    not look for pure pools, for a model that does not use them)."""
    return Problem(
        inst=inst,
        tasks=tuple(t for t in inst.tasks if t.possible),
        cap=inst.cap,
        lo={t.index: t.est for t in inst.tasks},
        hi={t.index: t.lft for t in inst.tasks},
        pools=inst.pools if pools else Pools(),
    )


def narrow(
    inst: Instance,
    free: Iterable[int],
    fixed: Schedule,
    people: Iterable[int] | None = None,
    *,
    window: tuple[int, int] | None = None,
) -> Problem:
    """The sub-problem of a large neighbourhood: only the ``free`` tasks are variables, the
    other tasks stay as ``fixed`` has them (their bookings taken off capacity, their dates
    bounding the free tasks). A free task with an unassigned fixed predecessor stays out; one
    with a fixed successor must be assigned (``forced``). ``people``: those the free tasks may
    move to (a task may always keep its own). ``window``: days ``[lo, hi]`` the free tasks may
    use besides each one's own current span (a smaller model)."""
    free = set(free)
    cap = inst.cap - booked_capacity(inst, fixed, exclude=free)
    lo = {t.index: t.est for t in inst.tasks}
    hi = {t.index: t.lft for t in inst.tasks}
    forced: set[int] = set()
    tasks: list[TaskInfo] = []
    for t in inst.tasks:
        i = t.index
        if i not in free or not t.possible:
            continue
        ok = True
        for u in t.preds:
            if u in free:
                continue
            if u not in fixed.start:
                ok = False  # a fixed unassigned predecessor: the task stays out
                break
            lo[i] = max(lo[i], fixed.finish[u] + 1)
        if not ok:
            continue
        for v in t.succs:
            if v not in free and v in fixed.start:
                hi[i] = min(hi[i], fixed.start[v] - 1)
                forced.add(i)
        tasks.append(t)
    if window is not None:
        for t in tasks:
            i = t.index
            wlo, whi = window
            if i in fixed.start:
                wlo, whi = min(wlo, fixed.start[i]), max(whi, fixed.finish[i])
            lo[i], hi[i] = max(lo[i], wlo), min(hi[i], whi)
    view = Problem(
        inst=inst,
        tasks=tuple(tasks),
        cap=cap,
        lo=lo,
        hi=hi,
        pools=Pools(),
        forced=frozenset(forced),
        fixed=fixed,
        people=frozenset(people) if people is not None else None,
        keep=MappingProxyType(dict(fixed.people)),
    )
    pools = find_pools(inst.people, inst.avail, cap, view.tasks, view.place_cands)
    return replace(view, pools=pools)


def booked_capacity(
    inst: Instance, sched: Schedule, exclude: set[int] | None = None
) -> npt.NDArray[np.int64]:
    """Percent of each person's day taken by ``sched``'s tasks on their active days.

    One-person tasks (most of a portfolio) are active on exactly their person's available days
    in their span, so their bookings are summed in one difference array (``+alloc`` at the
    start, ``-alloc`` after the finish, a cumulative sum along the days, times availability);
    team tasks, active where all members are available, are added one by one. Called for every
    LNS neighbourhood, where a loop over all tasks cost about 150 ms at 10,000 tasks.
    """
    n_people, n_days = inst.cap.shape
    rows: list[int] = []
    starts: list[int] = []
    ends: list[int] = []
    allocs: list[int] = []
    booked = np.zeros_like(inst.cap)
    for i, s in sched.start.items():
        if exclude is not None and i in exclude:
            continue
        people = sched.people.get(i, ())
        if not people:
            continue
        f = sched.finish[i]
        alloc = inst.tasks[i].alloc
        if len(people) == 1:
            rows.append(people[0])
            starts.append(s)
            ends.append(f + 1)
            allocs.append(alloc)
            continue
        active = inst.avail[list(people), s : f + 1].all(axis=0)
        for p in people:
            booked[p, s : f + 1] += alloc * active
    if rows:
        diff = np.zeros((n_people, n_days + 1), dtype=np.int64)
        a = np.asarray(allocs, dtype=np.int64)
        np.add.at(diff, (np.asarray(rows), np.asarray(starts)), a)
        np.add.at(diff, (np.asarray(rows), np.asarray(ends)), -a)
        booked += np.cumsum(diff[:, :n_days], axis=1) * inst.avail
    return booked
