"""Compile a validated :class:`~allocator.domain.Portfolio` into an indexed numeric instance.

*Why one file of over 800 lines*: compiling is one pass whose steps feed each other (calendars,
windows, candidates, durations, keep/pin rules and the reasons a task cannot be assigned); the
reasons in particular must be written where the impossibility is found. Pools and matching
already live apart (``solver_models.pools``, ``solver_models.matching``).

Everything a solver needs, precomputed once: working days as integers ``0..n_days-1``, per-person
availability and capacity arrays, per task its places, eligible people per place (skill, level,
exclusions, pins, in-progress people), per-candidate duration, cost and finish table, the time
window, predecessors and why a task *cannot* be assigned at all. The checker never sees this: it
re-derives everything from the portfolio, so a compiler bug cannot hide a violation.

**Scale.** A large portfolio has tens of millions of (task, eligible person) pairs (50,000 tasks
x 5,000 people: about 34 million), so a task's candidates are three arrays (people, durations,
costs: :class:`Candidates`, read like a dict), its places' people are arrays too, and both are
computed vectorized over the people qualified for each (skill, level), with no Python object
per pair.

**Pruning** (every rule keeps every valid plan):

* a person is a candidate for a place only with the skill at ``min_level``, not excluded, and
  with at least one start in the task's window from which the duration fits before the horizon
  (or hard deadline) ends;
* a pinned person is the only candidate of the places they can fill... of one of them: the
  model requires them among the assignees; pins on start fix the start;
* an ``in_progress`` task keeps ``progress.people`` (one per place, matched by skill) while they
  can still do it; otherwise it is reassigned (recorded in ``changes``);
* a task with a place nobody can fill, or whose predecessor cannot be assigned, is out.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

import numpy as np
import numpy.typing as npt

from allocator.domain import WEEKDAYS, Person, Place, Portfolio, Task
from allocator.objective import (
    NOT_PREFERRED,
    OVERQUALIFIED,
    task_units,
)
from allocator.reasons import pin_text
from allocator.timeline import Timeline, task_duration
from solver_models.matching import match
from solver_models.pools import Pools, find_pools

log = logging.getLogger(__name__)


@dataclass
class Candidate:
    """A person who could fill a task (one of its places).

    ``spans`` (one-person tasks) are computed on first use: at scale most candidates are never
    put in a CP-SAT model, and the greedy works from the capacity arrays directly.
    """

    person: int
    duration: int
    cost: int
    _maker: tuple[_PersonDays, int, int, int | None, int] | None = field(default=None, repr=False)
    _spans: Spans | None = field(default=None, repr=False)

    @property
    def spans(self) -> Spans | None:
        """(starts, finishes): this person's valid spans alone (one-person tasks; None for teams)."""
        if self._spans is None and self._maker is not None:
            pdays, lo, hi, pin, alloc = self._maker
            starts, finishes = _spans(
                pdays.days(self.person), lo, hi, self.duration, pdays.bad_before(self.person, alloc)
            )
            if pin is not None:
                keep = starts == pin
                starts, finishes = starts[keep], finishes[keep]
            self._spans = (starts, finishes)
        return self._spans


_Maker = tuple["_PersonDays", int, int, int | None, int]


class Candidates(Mapping[int, Candidate]):
    """A task's eligible people (the keys, in the compiler's order) with their duration and
    cost, held as three arrays: at scale a task has hundreds of candidates and a portfolio
    tens of millions of (task, person) pairs, far too many for one object each.

    A :class:`Candidate` is made on first lookup (``c[p]``, ``c.get(p)``) and kept, so its
    spans are computed once; iterating ``values()`` / ``items()`` makes them without keeping
    them. Solvers that scan every candidate use the arrays :attr:`people`, :attr:`durations`
    and :attr:`costs` directly.
    """

    __slots__ = ("_made", "_maker", "_order", "_sorted", "costs", "durations", "people")

    def __init__(
        self,
        people: npt.ArrayLike,
        durations: npt.ArrayLike,
        costs: npt.ArrayLike,
        maker: _Maker | None = None,
        made: dict[int, Candidate] | None = None,
        *,
        ascending: bool = False,
    ) -> None:
        self.people: npt.NDArray[np.int64] = np.asarray(people, dtype=np.int64)
        self.durations: npt.NDArray[np.int64] = np.asarray(durations, dtype=np.int64)
        self.costs: npt.NDArray[np.int64] = np.asarray(costs, dtype=np.int64)
        self._maker = maker
        self._made = made
        if not ascending and len(self.people) > 1 and bool((np.diff(self.people) <= 0).any()):
            self._order: npt.NDArray[np.int64] | None = np.argsort(self.people, kind="stable")
            self._sorted = self.people[self._order]
        else:
            self._order = None
            self._sorted = self.people

    @classmethod
    def of(cls, cands: Mapping[int, Candidate]) -> Candidates:
        """From a mapping person -> :class:`Candidate` (kept as they are, spans included)."""
        if isinstance(cands, Candidates):
            return cands
        made = dict(cands)
        return cls(
            [c.person for c in made.values()],
            [c.duration for c in made.values()],
            [c.cost for c in made.values()],
            made=made,
        )

    def _pos(self, p: object) -> int:
        s = self._sorted
        if len(s) == 0 or not isinstance(p, int | np.integer):
            return -1
        k = int(np.searchsorted(s, p))
        if k >= len(s) or s[k] != p:
            return -1
        return k if self._order is None else int(self._order[k])

    def _make(self, k: int) -> Candidate:
        p = int(self.people[k])
        if self._made is not None and p in self._made:
            return self._made[p]
        return Candidate(
            person=p,
            duration=int(self.durations[k]),
            cost=int(self.costs[k]),
            _maker=self._maker,
        )

    def __getitem__(self, p: int) -> Candidate:
        if self._made is not None and p in self._made:
            return self._made[p]
        k = self._pos(p)
        if k < 0:
            raise KeyError(p)
        c = self._make(k)
        if self._made is None:
            self._made = {}
        self._made[c.person] = c
        return c

    def __contains__(self, p: object) -> bool:
        return self._pos(p) >= 0

    def __iter__(self) -> Iterator[int]:
        return iter(self.people.tolist())

    def __len__(self) -> int:
        return len(self.people)

    def values(self) -> list[Candidate]:  # type: ignore[override]
        return [self._make(k) for k in range(len(self.people))]

    def items(self) -> list[tuple[int, Candidate]]:  # type: ignore[override]
        return [(c.person, c) for c in self.values()]

    def subset(self, keep: npt.NDArray[np.bool_]) -> Candidates:
        """The candidates where ``keep`` (a mask over :attr:`people`) holds."""
        made = None
        if self._made is not None:
            wanted = set(self.people[keep].tolist())
            made = {p: c for p, c in self._made.items() if p in wanted}
        return Candidates(
            self.people[keep], self.durations[keep], self.costs[keep], self._maker, made
        )


_EMPTY = np.zeros(0, dtype=np.int64)
#: shared by every task without candidates (it holds nothing to change)
_NONE = Candidates(_EMPTY, _EMPTY, _EMPTY)


def _no_candidates() -> Candidates:
    return _NONE


@dataclass
class TaskInfo:
    index: int
    id: str
    task: Task
    places: tuple[Place, ...]
    alloc: int
    priority: int
    units: int
    est: int
    #: last day the task may finish on (horizon end or hard deadline)
    lft: int
    #: idx(D') of the deadline (-1 when the deadline is before every working day), None if none
    deadline_idx: int | None
    preds: list[int] = field(default_factory=list)
    succs: list[int] = field(default_factory=list)
    pin_person: int | None = None
    pin_start: int | None = None
    #: people the task must keep (in-progress), one per place
    keep_people: tuple[int, ...] | None = None
    keep_start: int | None = None
    #: fixed duration for team tasks / tasks without places
    duration: int | None = None
    #: why the task cannot be assigned at all (empty: it can be considered)
    out_reasons: list[str] = field(default_factory=list)
    #: why an in-progress task could not keep its people
    change_reasons: list[str] = field(default_factory=list)

    #: eligible people of the task (union over places), with duration and cost
    _cands: Candidates = field(default_factory=lambda: _no_candidates(), repr=False)
    #: per place, the eligible people (arrays); ``None``: the one place of a one-person task,
    #: whose people are the candidates'
    _place_cands: list[npt.NDArray[np.int64]] | None = field(default=None, repr=False)

    @property
    def candidates(self) -> Mapping[int, Candidate]:
        """Eligible people of the task (union over places) -> their duration and cost."""
        return self._cands

    @candidates.setter
    def candidates(self, value: Mapping[int, Candidate]) -> None:
        self._cands = Candidates.of(value)

    @property
    def cands(self) -> Candidates:
        """The candidates as arrays (see :class:`Candidates`)."""
        return self._cands

    @property
    def place_candidates(self) -> list[list[int]]:
        """Per place, the indices (into ``Instance.people``) of its eligible people, in
        portfolio order. Made from arrays on each call (they are held as arrays: at scale,
        tens of millions of them): do not mutate the lists, assign new ones."""
        return [a.tolist() for a in self.place_arrays]

    @place_candidates.setter
    def place_candidates(self, value: list[list[int]]) -> None:
        self._place_cands = [np.asarray(v, dtype=np.int64) for v in value]

    @property
    def place_arrays(self) -> list[npt.NDArray[np.int64]]:
        """:attr:`place_candidates` as arrays (shared: do not mutate)."""
        if self._place_cands is None:
            return [self._cands.people] if len(self.places) == 1 else []
        return self._place_cands

    @property
    def is_team(self) -> bool:
        return self.task.is_team

    @property
    def possible(self) -> bool:
        return not self.out_reasons


@dataclass
class Instance:
    portfolio: Portfolio
    timeline: Timeline
    people: tuple[Person, ...]
    person_index: dict[str, int]
    #: [n_people, n_days] availability
    avail: npt.NDArray[np.bool_]
    #: [n_people, n_days] capacity in percent, floored to an integer (0 when unavailable)
    cap: npt.NDArray[np.int64]
    tasks: list[TaskInfo]
    task_index: dict[str, int]

    @property
    def n_days(self) -> int:
        return len(self.timeline)

    def impossible_units(self) -> int:
        """The undelivered units of the tasks no plan can assign (``not possible``): every plan
        leaves them out, so they are the analytic bound of the first term and the part of it
        the models leave out. Not cached: rules applied after compile (all-or-nothing) can
        make more tasks impossible."""
        return sum(t.units for t in self.tasks if not t.possible)

    @cached_property
    def pools(self) -> Pools:
        """The pure pools of the whole instance (:func:`solver_models.pools.find_pools` over
        the tasks that can be assigned): a property of the data, found on first use (linear in
        the (task, person) pairs, so a greedy-only solve does not pay for it)."""
        return find_pools(
            self.people,
            self.avail,
            self.cap,
            (t for t in self.tasks if t.possible),
            lambda t, k: t.place_candidates[k],
        )

    def day(self, i: int) -> date:
        return self.timeline.days[i]


Spans = tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]


class _PersonDays:
    """Per person, the available days and (per allocation) prefix counts of blocked days.

    Built once per compile, so a span table is a few vectorized numpy operations.
    """

    def __init__(self, avail: npt.NDArray[np.bool_], cap: npt.NDArray[np.int64]) -> None:
        self.avail, self.cap = avail, cap
        self._days: dict[int, npt.NDArray[np.int64]] = {}
        self._bad: dict[tuple[int, int], npt.NDArray[np.int64] | None] = {}

    def days(self, p: int) -> npt.NDArray[np.int64]:
        out = self._days.get(p)
        if out is None:
            out = self._days[p] = np.flatnonzero(self.avail[p]).astype(np.int64)
        return out

    def bad_before(self, p: int, alloc: int) -> npt.NDArray[np.int64] | None:
        """``out[w]`` = number of days before ``w`` that are available with capacity < alloc."""
        key = (p, alloc)
        if key not in self._bad:
            blocked = self.avail[p] & (self.cap[p] < alloc)
            self._bad[key] = (
                np.concatenate(([0], np.cumsum(blocked))).astype(np.int64)
                if blocked.any()
                else None
            )
        return self._bad[key]


def _spans(
    days: npt.NDArray[np.int64],
    lo: int,
    hi: int,
    duration: int,
    bad_before: npt.NDArray[np.int64] | None = None,
) -> Spans:
    """(starts, finishes) of every span of ``duration`` days of ``days`` (sorted active days)
    starting on or after ``lo`` and finishing by ``hi``; spans over a blocked day (``bad_before``,
    a prefix count) are left out."""
    empty = np.zeros(0, dtype=np.int64)
    if duration < 1 or len(days) < duration:
        return empty, empty
    starts = days[: len(days) - duration + 1]
    finishes = days[duration - 1 :]
    keep = (starts >= lo) & (finishes <= hi)
    if bad_before is not None:
        keep &= bad_before[finishes + 1] - bad_before[starts] == 0
    return starts[keep], finishes[keep]


def availability_and_capacity(
    portfolio: Portfolio, tl: Timeline
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.int64]]:
    """``[n_people, n_days]`` availability and capacity (percent, floored), vectorized over
    days: the same as ``timeline.availability`` and ``timeline.capacity`` (a test compares)."""
    people = portfolio.people
    n = len(tl)
    avail = np.zeros((len(people), n), dtype=bool)
    cap = np.zeros((len(people), n), dtype=np.int64)
    day = np.asarray([d.toordinal() for d in tl.days], dtype=np.int64)
    weekday = np.asarray([d.weekday() for d in tl.days], dtype=np.int64)
    weeks: dict[tuple[str, ...], npt.NDArray[np.bool_]] = {}
    for i, p in enumerate(people):
        wd = portfolio.workdays_of(p)
        week = weeks.get(wd)
        if week is None:
            week = weeks[wd] = np.isin(weekday, [k for k, x in enumerate(WEEKDAYS) if x in wd])
        ok = week.copy()
        if p.available_from is not None:
            ok &= day >= p.available_from.toordinal()
        if p.available_until is not None:
            ok &= day <= p.available_until.toordinal()
        for off in p.time_off:
            ok &= (day < off.start.toordinal()) | (day > off.end.toordinal())
        percent = np.where(ok, 100.0, 0.0)
        for r in p.reduced_capacity:
            inside = ok & (day >= r.start.toordinal()) & (day <= r.end.toordinal())
            percent = np.where(inside, np.minimum(percent, float(r.percent)), percent)
        avail[i] = ok
        cap[i] = np.floor(percent + 1e-9).astype(np.int64)
    return avail, cap


def compile_instance(portfolio: Portfolio) -> Instance:
    """Compile ``portfolio`` (already validated) into an :class:`Instance`."""
    tl = Timeline.of(portfolio)
    n = len(tl)
    people = portfolio.people
    pidx = {p.id: i for i, p in enumerate(people)}
    avail, cap = availability_and_capacity(portfolio, tl)
    ctx = _Ctx(portfolio, avail, cap)
    hard = portfolio.policy.deadlines_hard and portfolio.policy.goal != "makespan"
    tasks: list[TaskInfo] = []
    tindex: dict[str, int] = {}
    for t in portfolio.tasks_to_plan:
        tindex[t.id] = len(tasks)
        est = tl.first_on_or_after(portfolio.task_earliest_start(t))
        deadline = portfolio.task_deadline(t)
        d_idx = tl.last_on_or_before(deadline) if deadline is not None else None
        lft = n - 1
        if hard and d_idx is not None:
            lft = min(lft, d_idx)
        info = TaskInfo(
            index=len(tasks),
            id=t.id,
            task=t,
            places=t.places,
            alloc=t.alloc,
            priority=portfolio.task_priority(t),
            units=task_units(portfolio, t),
            est=est,
            lft=lft,
            deadline_idx=d_idx,
        )
        _fill_candidates(portfolio, tl, info, pidx, avail, cap, ctx)
        tasks.append(info)
    for info in tasks:
        for pred in info.task.predecessors:
            j = tindex.get(pred)
            if j is not None:
                info.preds.append(j)
                tasks[j].succs.append(info.index)
    _propagate_out(tasks)
    _pin_reasons(tasks)
    return Instance(portfolio, tl, people, pidx, avail, cap, tasks, tindex)


def _fill_candidates(
    portfolio: Portfolio,
    tl: Timeline,
    info: TaskInfo,
    pidx: dict[str, int],
    avail: npt.NDArray[np.bool_],
    cap: npt.NDArray[np.int64],
    ctx: _Ctx,
) -> None:
    t = info.task
    people = portfolio.people
    if t.pinned is not None:
        if t.pinned.person is not None:
            info.pin_person = pidx.get(t.pinned.person)
        if t.pinned.start is not None:
            info.pin_start = tl.idx(t.pinned.start)
    if t.state == "in_progress" and t.progress is not None:
        _keep_progress(portfolio, tl, info, pidx, avail)
    if info.est >= len(tl):
        info.out_reasons.append(
            f"its earliest start {portfolio.task_earliest_start(t).isoformat()} is after the "
            "last working day of the plan's horizon: extend the calendar or move the earliest start"
        )
        return
    excluded = set(t.exclude)
    if not info.places:
        # a task needing nobody: every working day is active
        info.duration = task_duration(t, None)
        every_day = np.arange(len(tl), dtype=np.int64)
        fits = len(_spans(every_day, info.est, info.lft, info.duration)[0]) > 0
        if fits and info.pin_start is not None:  # it starts on its pin: does it end in time?
            fits = info.est <= info.pin_start and info.pin_start + info.duration - 1 <= info.lft
        if not fits:
            info.out_reasons.append(_window_reason(tl, info, info.duration))
        return
    if t.is_team:
        info.duration = task_duration(t, None)
    _candidates(ctx, info, excluded)
    if info.keep_people is not None and not _keeps(ctx, info):
        # the people in progress cannot go on from their first common day: reassign
        who = ", ".join(people[i].id for i in info.keep_people)
        day = tl.days[info.keep_start].isoformat() if info.keep_start is not None else "?"
        info.change_reasons.append(
            f"{who} cannot go on with it from {day} (capacity or skill), so it was reassigned"
        )
        info.keep_people = info.keep_start = None
        info.pin_start = tl.idx(t.pinned.start) if t.pinned and t.pinned.start else None
        _candidates(ctx, info, excluded)
    if info.pin_person is not None and info.pin_person not in info.candidates:
        info.out_reasons.append(_pin_person_reason(tl, info, people[info.pin_person], avail))
        return
    if info.pin_person is not None and not t.is_team:
        # a one-person task pinned to someone has that one candidate
        info.candidates = {info.pin_person: info.candidates[info.pin_person]}
        info.place_candidates = [[info.pin_person]]
    place_candidates = info.place_candidates
    for k, place in enumerate(info.places):
        if place_candidates[k]:
            continue
        qualified = [
            people[i].id
            for i in ctx.qualified(place.skill, place.min_level)
            if people[i].id not in excluded
        ]
        if not qualified:
            found = ctx.by_skill.get(place.skill)
            best = int(found[1].max()) if found is not None and len(found[1]) else 0
            info.out_reasons.append(
                f"everyone with skill '{place.skill}' at level {place.min_level} or above is "
                "excluded from it: lift an exclusion, or hire or train someone"
                if best >= place.min_level
                else f"nobody has skill '{place.skill}' at level {place.min_level} or above"
                + (f" (the best level is {best})" if best else " (nobody has it at all)")
                + ": hire or train someone"
            )
        else:
            info.out_reasons.append(_window_reason(tl, info, None, qualified))
        break
    if not info.out_reasons and t.is_team and len(info.candidates) < len(info.places):
        # not enough distinct people for all places
        when = _pinned_start(tl, info)
        info.out_reasons.append(
            f"it needs {len(info.places)} people but only {len(info.candidates)} "
            "qualified people are available in its window"
            + (f" from its pinned start {when}: move the pin or add people" if when else "")
        )  # a pinned task's reasons get its pin in front (``_pin_reasons``)


@dataclass(frozen=True)
class _Pool:
    """The people qualified for one (skill, level), in portfolio order, with what their
    durations and costs need."""

    idx: npt.NDArray[np.int64]
    #: index of each one's hours per day among ``_Ctx.hpd_people``
    code: npt.NDArray[np.int64]
    hpd: npt.NDArray[np.float64]
    #: cost rate per hour with the over-qualification surcharge
    rate: npt.NDArray[np.float64]


class _Ctx:
    """What candidate search needs, precomputed once per compile."""

    def __init__(
        self, portfolio: Portfolio, avail: npt.NDArray[np.bool_], cap: npt.NDArray[np.int64]
    ) -> None:
        self.portfolio = portfolio
        self.pdays = _PersonDays(avail, cap)
        self.index = {p.id: i for i, p in enumerate(portfolio.people)}
        self.hpd = np.asarray([p.day_hours for p in portfolio.people], dtype=float)
        self.rate = np.asarray([p.rate for p in portfolio.people], dtype=float)
        #: per person, the index of their hours per day among the distinct values, and one
        #: person of each value (a duration depends on the person through it alone)
        _, first, code = np.unique(self.hpd, return_index=True, return_inverse=True)
        self.hpd_code: npt.NDArray[np.int64] = code.reshape(-1).astype(np.int64)
        self.hpd_people = [portfolio.people[int(i)] for i in first]
        #: avail_before[p, w] = available days of p before day w
        self.avail_before = np.concatenate(
            (np.zeros((avail.shape[0], 1), dtype=np.int64), np.cumsum(avail, axis=1)), axis=1
        )
        by_skill: dict[str, list[tuple[int, int]]] = {}
        for i, p in enumerate(portfolio.people):
            for skill, level in p.skills.items():
                by_skill.setdefault(skill, []).append((i, int(level)))
        #: skill -> (people indices, their levels)
        self.by_skill = {
            k: (np.asarray([i for i, _ in v], dtype=np.int64), np.asarray([lv for _, lv in v]))
            for k, v in by_skill.items()
        }

        self._levels: dict[str, npt.NDArray[np.int64]] = {}
        self._pools: dict[tuple[str, int], _Pool | None] = {}
        #: (effort, duration, allocation, progress) -> duration per hours-per-day value
        self.durations: dict[object, npt.NDArray[np.int64]] = {}

    def pool(self, skill: str, min_level: int) -> _Pool | None:
        """The people with ``skill`` at ``min_level`` or above (None: nobody)."""
        key = (skill, min_level)
        if key not in self._pools:
            found = self.by_skill.get(skill)
            pool = None
            if found is not None:
                mask = found[1] >= min_level
                if mask.any():
                    idx = found[0][mask]
                    over = found[1][mask] - min_level
                    pool = _Pool(
                        idx=idx,
                        code=self.hpd_code[idx],
                        hpd=self.hpd[idx],
                        # as ``objective.assignee_cost_units``: rate + OVERQUALIFIED * excess
                        rate=self.rate[idx] + OVERQUALIFIED * over,
                    )
            self._pools[key] = pool
        return self._pools[key]

    def level_of(self, skill: str) -> npt.NDArray[np.int64]:
        """Each person's level of ``skill`` (0 without it)."""
        out = self._levels.get(skill)
        if out is None:
            out = np.zeros(len(self.portfolio.people), dtype=np.int64)
            found = self.by_skill.get(skill)
            if found is not None:
                out[found[0]] = found[1]
            self._levels[skill] = out
        return out

    def qualified(self, skill: str, min_level: int) -> list[int]:
        """Indices of the people with ``skill`` at ``min_level`` or above, in portfolio order."""
        found = self.by_skill.get(skill)
        if found is None:
            return []
        idx, levels = found
        return [int(i) for i in idx[levels >= min_level]]


def _candidates(ctx: _Ctx, info: TaskInfo, excluded: set[str]) -> None:
    """Eligible people per place, with their duration and cost (vectorized over people).

    A person is eligible when they qualify, are not excluded, and have at least ``duration``
    available days between the earliest start (or the pinned start, which must be available)
    and the latest finish. Exact spans (which also avoid days of too little capacity) are left
    to :attr:`Candidate.spans`. Candidates are listed place by place, each place's in
    portfolio order. Durations and costs are computed with the same floating-point operations,
    in the same order, as ``timeline.task_duration`` and ``objective.assignee_cost_units``, so
    they are identical (a test compares them).
    """
    t = info.task
    if not t.is_team and info.keep_people is None and len(info.places) == 1:
        _one_person_candidates(ctx, info, excluded)
        return
    n_places = len(info.places)
    empty = _EMPTY
    lo, hi = info.est, info.lft
    first = lo if info.pin_start is None else info.pin_start
    out = [empty] * n_places
    if hi >= first:
        excl = np.asarray([ctx.index[x] for x in excluded if x in ctx.index], dtype=np.int64)
        keep = np.asarray(info.keep_people, dtype=np.int64) if info.keep_people else None
        for k, place in enumerate(info.places):
            found = ctx.by_skill.get(place.skill)
            if found is None:
                continue
            idx = found[0][found[1] >= place.min_level]
            if excl.size:
                idx = idx[~np.isin(idx, excl)]
            if keep is not None:
                idx = idx[np.isin(idx, keep)]
            if idx.size == 0:
                continue
            dur = _durations(ctx, info, idx)
            ok = ctx.avail_before[idx, hi + 1] - ctx.avail_before[idx, first] >= dur
            if info.pin_start is not None:
                ok &= ctx.pdays.avail[idx, info.pin_start]
            out[k] = idx[ok]
    if n_places == 1:
        people = out[0]
        place_cands: list[npt.NDArray[np.int64]] | None = None if not t.is_team else [people]
    else:
        # the union, place by place (a person eligible for several places appears once)
        allp = np.concatenate(out) if out else empty
        _, first_at = np.unique(allp, return_index=True)
        people = allp[np.sort(first_at)]
        place_cands = out
    if people.size == 0:
        info._cands = _NONE
        info._place_cands = place_cands
        return
    dur = _durations(ctx, info, people)
    # the smallest excess level over the (distinct) places the person qualifies for
    big = np.iinfo(np.int64).max
    over = np.full(len(people), big, dtype=np.int64)
    for place in dict.fromkeys(info.places):
        lv = ctx.level_of(place.skill)[people]
        over = np.minimum(over, np.where(lv >= place.min_level, lv - place.min_level, big))
    over[over == big] = 0
    hours = dur * ctx.hpd[people] * t.alloc / 100.0
    rate = ctx.rate[people] + OVERQUALIFIED * over
    if t.prefer:
        preferred = [ctx.index[x] for x in t.prefer if x in ctx.index]
        rate = rate + NOT_PREFERRED * ~np.isin(people, preferred)
    cost = np.rint(100 * hours * rate).astype(np.int64)
    maker = None if t.is_team else (ctx.pdays, lo, hi, info.pin_start, info.alloc)
    info._cands = Candidates(people, dur, cost, maker)
    info._place_cands = place_cands


def _one_person_candidates(ctx: _Ctx, info: TaskInfo, excluded: set[str]) -> None:
    """:func:`_candidates` for a one-person task (the bulk of a large portfolio), from the
    precomputed pool of its (skill, level): the same values, fewer operations."""
    t = info.task
    place = info.places[0]
    lo, hi = info.est, info.lft
    first = lo if info.pin_start is None else info.pin_start
    pool = ctx.pool(place.skill, place.min_level)
    if hi < first or pool is None:
        info._cands = _NONE
        return
    idx = pool.idx
    dur = _duration_table(ctx, t)[pool.code]
    ok = ctx.avail_before[idx, hi + 1] - ctx.avail_before[idx, first] >= dur
    if info.pin_start is not None:
        ok &= ctx.pdays.avail[idx, info.pin_start]
    if excluded:
        ok &= ~np.isin(idx, [ctx.index[x] for x in excluded if x in ctx.index])
    people, dur = idx[ok], dur[ok]
    if people.size == 0:
        info._cands = _NONE
        return
    hours = dur * pool.hpd[ok] * t.alloc / 100.0
    rate = pool.rate[ok]
    if t.prefer:
        preferred = [ctx.index[x] for x in t.prefer if x in ctx.index]
        rate = rate + NOT_PREFERRED * ~np.isin(people, preferred)
    cost = np.rint(100 * hours * rate).astype(np.int64)
    maker = (ctx.pdays, lo, hi, info.pin_start, info.alloc)
    info._cands = Candidates(people, dur, cost, maker, ascending=True)
    info._place_cands = None


def _duration_table(ctx: _Ctx, task: Task) -> npt.NDArray[np.int64]:
    """The task's duration per distinct hours-per-day value (``_Ctx.hpd_people``), shared by
    the tasks with the same work and allocation."""
    prog = task.progress if task.state == "in_progress" else None
    key = (
        task.effort_hours,
        task.duration_days,
        task.alloc,
        None if prog is None else (prog.remaining_days, prog.remaining_hours),
    )
    table = ctx.durations.get(key)
    if table is None:
        table = ctx.durations[key] = np.asarray(
            [task_duration(task, p) for p in ctx.hpd_people], dtype=np.int64
        )
    return table


def _durations(ctx: _Ctx, info: TaskInfo, idx: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """The task's duration for each of the people ``idx``: it depends on the person only
    through their hours per day (see :func:`_duration_table`)."""
    if info.task.is_team:
        assert info.duration is not None
        return np.full(len(idx), info.duration, dtype=np.int64)
    return _duration_table(ctx, info.task)[ctx.hpd_code[idx]]


def _keeps(ctx: _Ctx, info: TaskInfo) -> bool:
    """Whether the kept people can fill every place (distinctly) from the kept start."""
    keep = info.keep_people or ()
    if not all(i in info.candidates for i in keep):
        return False
    for i in keep:
        spans = info.candidates[i].spans
        if spans is not None and len(spans[0]) == 0:  # blocked from the kept start
            return False
        # team: the kept start is an active day, so each member needs the capacity there
        if (
            spans is None
            and info.keep_start is not None
            and ctx.pdays.cap[i, info.keep_start] < info.alloc
        ):
            return False
    # a one-to-one matching of kept people to places
    kept = list(dict.fromkeys(keep))
    holder = match(len(kept), len(info.places), lambda i, k: kept[i] in info.place_candidates[k])
    return all(h is not None for h in holder)


def _keep_progress(
    portfolio: Portfolio,
    tl: Timeline,
    info: TaskInfo,
    pidx: dict[str, int],
    avail: npt.NDArray[np.bool_],
) -> None:
    t = info.task
    assert t.progress is not None
    ids = t.progress.people
    if not ids:  # a wait in progress: nobody to keep
        return
    idxs = [pidx[i] for i in ids if i in pidx]
    start = tl.first_on_or_after(portfolio.as_of or portfolio.calendar.start)
    if len(idxs) != len(ids):
        info.change_reasons.append("a person in its progress is not in the portfolio any more")
        return
    common = np.asarray(avail[idxs].all(axis=0), dtype=bool)
    common[:start] = False
    days = np.flatnonzero(common)
    gone = [people_id for people_id, i in zip(ids, idxs, strict=True) if not avail[i, start:].any()]
    if gone:
        info.change_reasons.append(
            f"{', '.join(gone)} {'is' if len(gone) == 1 else 'are'} no longer available, so it was reassigned"
        )
        return
    if len(days) == 0:
        info.change_reasons.append(
            "its people have no common available day left, so it was reassigned"
        )
        return
    first = int(days[0])
    if info.pin_start is not None and info.pin_start != first:
        info.change_reasons.append(
            f"it is pinned to start on {tl.days[info.pin_start].isoformat()}, not on its people's "
            f"first common available day {tl.days[first].isoformat()}, so it was rescheduled"
        )
        return
    info.keep_people = tuple(idxs)
    info.keep_start = first
    info.pin_start = first


def _pinned_start(tl: Timeline, info: TaskInfo) -> str | None:
    """The pinned start the compiled task has (ISO date), ``None`` when its start is not pinned
    (or is an in-progress task's own start)."""
    pin = info.task.pinned
    if pin is None or pin.start is None or info.pin_start is None or info.keep_people:
        return None
    return tl.days[info.pin_start].isoformat()


def _pin_person_reason(
    tl: Timeline, info: TaskInfo, person: Person, avail: npt.NDArray[np.bool_]
) -> str:
    """Why the pinned person cannot do the task (they are not among its candidates); like
    every reason of a pinned task, it begins with the pin (:func:`allocator.reasons.pin_text`)."""
    t = info.task
    pin = person.id
    head = pin_text(t) or f"pinned to {pin}"
    p = info.pin_person
    assert p is not None
    needs = _places_text(info.places)
    if not any(person.level(pl.skill) >= pl.min_level for pl in info.places):
        return f"{head}: {pin} lacks the skill (needs {needs}): pin someone qualified"
    if pin in t.exclude:
        return f"{head}: {pin} is also excluded from it: remove one of the two"
    s = info.pin_start
    if s is not None and not avail[p, s]:
        return (
            f"{head}: {pin} is not available on {tl.days[s].isoformat()} (time off, a day off, "
            "not yet joined or already left): move the pin or the absence"
        )
    if s is not None:
        d = info.duration if t.is_team and info.duration is not None else task_duration(t, person)
        days = np.flatnonzero(avail[p, s:])
        if len(days) < d or s + int(days[d - 1]) > info.lft:
            last = tl.days[info.lft].isoformat() if 0 <= info.lft < len(tl) else "the horizon"
            return (
                f"{head}: {pin}'s {d} working days from {tl.days[s].isoformat()} would end after "
                f"{last}, the last day it may finish (its hard deadline or the calendar's end): "
                "move the pin or the deadline"
            )
    return (
        f"{head}: {pin} cannot do it in its window "
        f"(needs {needs}; check {pin}'s availability and the pinned start)"
    )


def _pin_reasons(tasks: list[TaskInfo]) -> None:
    """Every reason of a pinned task that cannot be assigned at all begins with its pin (as
    :func:`allocator.reasons.pin_text` words it), also where the pin is not the cause."""
    for info in tasks:
        pin = pin_text(info.task)
        if pin is None or info.possible:
            continue
        info.out_reasons[:] = [r if r.startswith(pin) else f"{pin}: {r}" for r in info.out_reasons]


def _places_text(places: tuple[Place, ...]) -> str:
    return ", ".join(f"{p.skill} >= {p.min_level}" for p in places)


def _window_reason(
    tl: Timeline, info: TaskInfo, duration: int | None, qualified: list[str] | None = None
) -> str:
    lo = tl.days[info.est].isoformat() if info.est < len(tl) else "after the horizon"
    hi = tl.days[info.lft].isoformat() if 0 <= info.lft < len(tl) else "before the horizon"
    what = f"{duration} working days" if duration is not None else "its duration"
    when = _pinned_start(tl, info)
    if when is not None:
        who = ""
        if qualified is not None:
            who = " with any qualified person (" + ", ".join(qualified[:5])
            who += (" ..." if len(qualified) > 5 else "") + ") given their availability"
        return (
            f"{what} from {when}{who} cannot end by {hi}, the last day its window allows: "
            "move the pin or the deadline, or add people"
        )  # its pin goes in front (``_pin_reasons``)
    # only a hard deadline ends a window before the plan's horizon does
    if info.lft < len(tl) - 1:
        move = "move the deadline or earliest start"
    else:
        end = tl.days[-1].isoformat() if len(tl) else "before it starts"
        move = f"the plan's horizon ends {end}: extend the calendar or move the earliest start"
    if qualified is not None:
        who = ", ".join(qualified[:5]) + (" ..." if len(qualified) > 5 else "")
        return (
            f"its window {lo}..{hi} is too short for {what} with any qualified person "
            f"({who}) given their availability: {move}, or add people"
        )
    return f"its window {lo}..{hi} is too short for {what}: {move}"


def _propagate_out(tasks: list[TaskInfo]) -> None:
    """A task whose predecessor cannot be assigned cannot be assigned either (transitively)."""
    order = _topological(tasks)
    for i in order:
        info = tasks[i]
        for j in info.preds:
            pred = tasks[j]
            if not pred.possible:
                info.out_reasons.append(f"its predecessor {pred.id} cannot be assigned")
                break


def _topological(tasks: list[TaskInfo]) -> list[int]:
    indeg = [len(t.preds) for t in tasks]
    stack = [t.index for t in tasks if indeg[t.index] == 0]
    out: list[int] = []
    while stack:
        i = stack.pop()
        out.append(i)
        for s in tasks[i].succs:
            indeg[s] -= 1
            if indeg[s] == 0:
                stack.append(s)
    if len(out) != len(tasks):  # cycles are rejected by validation; be safe
        seen = set(out)
        out.extend(t.index for t in tasks if t.index not in seen)
    return out


def topological_order(instance: Instance) -> list[int]:
    """Task indices so that every predecessor comes before its successors."""
    return _topological(instance.tasks)
