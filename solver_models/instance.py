"""Compile a validated :class:`~allocator.domain.Portfolio` into an indexed numeric instance.

Everything a solver needs, precomputed once: working days as integers ``0..n_days-1``, per-person
availability and capacity arrays, per task its places, eligible people per place (skill, level,
exclusions, pins, in-progress people), per-candidate duration, cost and finish table, the time
window, predecessors and why a task *cannot* be assigned at all. The checker never sees this: it
re-derives everything from the portfolio, so a compiler bug cannot hide a violation.

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
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import numpy.typing as npt

from allocator.domain import Person, Place, Portfolio, Task
from allocator.objective import (
    NOT_PREFERRED,
    OVERQUALIFIED,
    assignee_cost_units,
    task_units,
)
from allocator.timeline import Timeline, availability, capacity, task_duration

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


@dataclass
class TaskInfo:
    index: int
    id: str
    task: Task
    places: tuple[Place, ...]
    #: per place, the indices (into ``Instance.people``) of eligible people
    place_candidates: list[list[int]]
    #: eligible people of the task (union over places), with duration and cost
    candidates: dict[int, Candidate]
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


def compile_instance(portfolio: Portfolio) -> Instance:
    """Compile ``portfolio`` (already validated) into an :class:`Instance`."""
    tl = Timeline.of(portfolio)
    n = len(tl)
    people = portfolio.people
    pidx = {p.id: i for i, p in enumerate(people)}
    avail = np.zeros((len(people), n), dtype=bool)
    cap = np.zeros((len(people), n), dtype=np.int64)
    for i, p in enumerate(people):
        avail[i] = availability(portfolio, tl, p)
        cap[i] = np.floor(np.asarray(capacity(portfolio, tl, p), dtype=float) + 1e-9).astype(
            np.int64
        )
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
            place_candidates=[[] for _ in t.places],
            candidates={},
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
            "last working day of the horizon"
        )
        return
    excluded = set(t.exclude)
    if not info.places:
        # a task needing nobody: every working day is active
        info.duration = task_duration(t, None)
        every_day = np.arange(len(tl), dtype=np.int64)
        if len(_spans(every_day, info.est, info.lft, info.duration)[0]) == 0:
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
        info.candidates = {}
        info.place_candidates = [[] for _ in info.places]
        _candidates(ctx, info, excluded)
    if info.pin_person is not None and info.pin_person not in info.candidates:
        pin = people[info.pin_person].id
        info.out_reasons.append(
            f"it is pinned to {pin}, who cannot do it in its window "
            f"(needs {_places_text(info.places)}; check {pin}'s availability and the pinned start)"
        )
        return
    if info.pin_person is not None and not t.is_team:
        # a one-person task pinned to someone has that one candidate
        info.candidates = {info.pin_person: info.candidates[info.pin_person]}
        info.place_candidates = [[info.pin_person]]
    for k, place in enumerate(info.places):
        if info.place_candidates[k]:
            continue
        qualified = [
            p.id for p in people if p.level(place.skill) >= place.min_level and p.id not in excluded
        ]
        if not qualified:
            best = max((p.level(place.skill) for p in people), default=0)
            info.out_reasons.append(
                f"nobody has skill '{place.skill}' at level {place.min_level} or above"
                + (f" (the best level is {best})" if best else " (nobody has it at all)")
                + ": hire or train someone"
            )
        else:
            info.out_reasons.append(_window_reason(tl, info, None, qualified))
        break
    if not info.out_reasons and t.is_team and len(info.candidates) < len(info.places):
        # not enough distinct people for all places
        info.out_reasons.append(
            f"it needs {len(info.places)} people but only {len(info.candidates)} "
            "qualified people are available in its window"
        )


class _Ctx:
    """What candidate search needs, precomputed once per compile."""

    def __init__(
        self, portfolio: Portfolio, avail: npt.NDArray[np.bool_], cap: npt.NDArray[np.int64]
    ) -> None:
        self.portfolio = portfolio
        self.pdays = _PersonDays(avail, cap)
        self.index = {p.id: i for i, p in enumerate(portfolio.people)}
        self.hpd = np.asarray([p.hpd for p in portfolio.people], dtype=float)
        self.rate = np.asarray([p.rate for p in portfolio.people], dtype=float)
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

    def qualified(self, skill: str, min_level: int) -> list[int]:
        """Indices of the people with ``skill`` at ``min_level`` or above, in portfolio order."""
        found = self.by_skill.get(skill)
        if found is None:
            return []
        idx, levels = found
        return [int(i) for i in idx[levels >= min_level]]


def _candidates(ctx: _Ctx, info: TaskInfo, excluded: set[str]) -> None:
    """Eligible people per place, with their duration and cost.

    A person is eligible when they qualify, are not excluded, and have at least ``duration``
    available days between the earliest start (or the pinned start, which must be available)
    and the latest finish. Exact spans (which also avoid days of too little capacity) are left
    to :attr:`Candidate.spans`.
    """
    t = info.task
    if not t.is_team and info.keep_people is None and len(info.places) == 1:
        _one_person_candidates(ctx, info, excluded)
        return
    people = ctx.portfolio.people
    avail_before = ctx.avail_before
    lo, hi = info.est, info.lft
    durations: dict[float, int] = {}
    places = info.places
    for k, place in enumerate(info.places):
        for i in ctx.qualified(place.skill, place.min_level):
            if i in info.candidates:
                info.place_candidates[k].append(i)
                continue
            p = people[i]
            if p.id in excluded:
                continue
            if info.keep_people is not None and i not in info.keep_people:
                continue
            if t.is_team:
                dur = info.duration
            else:
                dur = durations.get(p.hpd)
                if dur is None:
                    dur = durations[p.hpd] = task_duration(t, p)
            assert dur is not None
            first = lo
            if info.pin_start is not None:
                if not ctx.pdays.avail[i, info.pin_start]:
                    continue
                first = info.pin_start
            if hi < first or avail_before[i, hi + 1] - avail_before[i, first] < dur:
                continue
            info.candidates[i] = Candidate(
                person=i,
                duration=dur,
                cost=assignee_cost_units(t, p, dur, places),
                _maker=None if t.is_team else (ctx.pdays, lo, hi, info.pin_start, info.alloc),
            )
            info.place_candidates[k].append(i)


def _one_person_candidates(ctx: _Ctx, info: TaskInfo, excluded: set[str]) -> None:
    """:func:`_candidates` for a one-person task, vectorized over the qualified people (the
    bulk of a large portfolio). Durations and costs are computed with the same floating-point
    operations, in the same order, as ``timeline.task_duration`` and
    ``objective.assignee_cost_units``, so they are identical (a test compares them)."""
    t = info.task
    place = info.places[0]
    found = ctx.by_skill.get(place.skill)
    if found is None:
        return
    idx, levels = found
    mask = levels >= place.min_level
    if excluded:
        mask &= ~np.isin(idx, [ctx.index[x] for x in excluded if x in ctx.index])
    idx, levels = idx[mask], levels[mask]
    if len(idx) == 0:
        return
    hpd = ctx.hpd[idx]
    uniq, inverse = np.unique(hpd, return_inverse=True)
    people = ctx.portfolio.people
    per_hpd = [task_duration(t, people[int(idx[np.argmax(hpd == h)])]) for h in uniq.tolist()]
    dur = np.asarray(per_hpd, dtype=np.int64)[inverse]
    lo, hi = info.est, info.lft
    first = lo if info.pin_start is None else info.pin_start
    if hi < first:
        return
    ok = ctx.avail_before[idx, hi + 1] - ctx.avail_before[idx, first] >= dur
    if info.pin_start is not None:
        ok &= ctx.pdays.avail[idx, info.pin_start]
    idx, levels, hpd, dur = idx[ok], levels[ok], hpd[ok], dur[ok]
    hours = dur * hpd * t.alloc / 100.0
    rate = ctx.rate[idx] + OVERQUALIFIED * (levels - place.min_level)
    if t.prefer:
        preferred = [ctx.index[x] for x in t.prefer if x in ctx.index]
        rate = rate + NOT_PREFERRED * ~np.isin(idx, preferred)
    cost = np.rint(100 * hours * rate).astype(np.int64)
    maker = (ctx.pdays, lo, hi, info.pin_start, info.alloc)
    cands = info.place_candidates[0]
    for i, d, c in zip(idx.tolist(), dur.tolist(), cost.tolist(), strict=True):
        info.candidates[i] = Candidate(person=i, duration=d, cost=c, _maker=maker)
        cands.append(i)


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
    match: dict[int, int] = {}

    def augment(k: int, seen: set[int]) -> bool:
        for i in info.place_candidates[k]:
            if i in keep and i not in seen:
                seen.add(i)
                if i not in match or augment(match[i], seen):
                    match[i] = k
                    return True
        return False

    return all(augment(k, set()) for k in range(len(info.places)))


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


def _places_text(places: tuple[Place, ...]) -> str:
    return ", ".join(f"{p.skill} >= {p.min_level}" for p in places)


def _window_reason(
    tl: Timeline, info: TaskInfo, duration: int | None, qualified: list[str] | None = None
) -> str:
    lo = tl.days[info.est].isoformat() if info.est < len(tl) else "after the horizon"
    hi = tl.days[info.lft].isoformat() if 0 <= info.lft < len(tl) else "before the horizon"
    what = f"{duration} working days" if duration is not None else "its duration"
    if qualified is not None:
        who = ", ".join(qualified[:5]) + (" ..." if len(qualified) > 5 else "")
        return (
            f"its window {lo}..{hi} is too short for {what} with any qualified person "
            f"({who}) given their availability: move the deadline or earliest start, or add people"
        )
    return f"its window {lo}..{hi} is too short for {what}: move the deadline or earliest start"


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
