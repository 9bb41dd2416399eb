"""Reasons for unassigned work that a planner can act on, computed from the plan itself.

*Why one file of over 800 lines*: the sentence builders and the two explainers that use them
(the full, day-by-day one and the brief bulk one) share every wording function, so a reason
reads the same whichever path found it; splitting them would scatter one vocabulary.

Each sentence is a fact about the portfolio and the plan, checked here, never a guess:

* a predecessor is unassigned (so this task cannot start);
* its window is empty or too short, saying what closes it: a hard deadline ("move the
  deadline") or the end of the plan's horizon ("the plan's horizon ends 2027-07-02: extend the
  calendar"), and what opens it late (its predecessors, its earliest start, its pin);
* nobody has the skill at the level (hire or train), or everyone who has it is excluded;
* the qualified people and how booked they are in the task's window, when none of them has the
  free capacity for it there (add capacity or lower other work's priority);
* the task *would* fit with a named person from a named day: then the solver simply did not
  reach it in the time given (the plan is not proven optimal; give it more time), or its
  all-or-nothing project has other tasks unassigned;
* a task needing nobody (a wait) gets the same: its predecessors, its window, or that it fits;
* a pinned task's reasons begin with its pin ("pinned to ana on 2027-03-01: ..."), and say when
  the pinned person cannot fill it, is away on the pinned day, or the pinned day is outside
  its window.

:func:`explain_plan` gives every unassigned task its reasons: the compiler's when it cannot be
assigned at all, else :meth:`Explainer.explain` for the most important tasks within a time
budget and :meth:`Explainer.brief` for the rest (true sentences in constant time a task: the
working days of the window against the shortest duration, or the qualified group's
availability and booked share there). No task gets a placeholder.

Plain Python over the domain (no solver, no numpy): the same code explains a plan edited by hand.

**Speed.** The definitions are per task, person and day (see :meth:`Explainer.fits_from`); the
:class:`Explainer` answers them in bulk from tables built once for the plan, so that explaining
every unassigned task of a 50,000-task plan takes about a second (not minutes):

* per person, prefix sums over the working days of availability, capacity and booking (the
  plan's allocations, summed on each assignment's active days): a person's available days,
  capacity and booking in any window are two lookups each;
* per ``(skill, min_level)``, the qualified people in portfolio order, with their prefix sums
  and day lengths (a duration depends on the task and the day length alone);
* per person and allocation, one byte per available day saying whether that much is free, so
  "the first start from which the task fits" is the first run of ``duration`` free bytes
  inside the window: ``bytes.find``, asked only of people with enough available days there.

No numpy (this module stays in the checker's layer, see ``tests/test_layering.py``). All sums
are of the same numbers as the definitions (allocations are integers; a capacity that is not a
whole percent is summed over the window as the definition does), so the reasons are exactly the
ones the per-day definitions give (``tests/test_reasons.py`` checks them against those).
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date
from itertools import accumulate

from allocator.domain import WEEKDAYS, Place, Plan, Portfolio, Task, Unassigned
from allocator.timeline import Timeline, availability, capacity, task_duration

log = logging.getLogger(__name__)

#: how a reason saying the task would fit ends
NOT_PLACED = (
    ", but the solver did not place it in the time given (the plan is not proven optimal): "
    "give it more time"
)
#: free capacity is compared with this slack (percent), as in :meth:`Explainer.fits_from`
_EPS = 1e-9


class Explainer:
    """Booking of every person per working day under a plan, and sentences about tasks."""

    def __init__(self, portfolio: Portfolio, plan: Plan, timeline: Timeline | None = None) -> None:
        self.p = portfolio
        self.plan = plan
        self.tl = timeline or Timeline.of(portfolio)
        n = len(self.tl)
        self.avail: dict[str, list[bool]] = {}
        self.cap: dict[str, list[float]] = {}
        weekdays = [WEEKDAYS[d.weekday()] for d in self.tl.days]
        plain: dict[tuple[str, ...], list[bool]] = {}  # by workdays, for people without dates
        for x in portfolio.people:
            if x.available_from is None and x.available_until is None and not x.time_off:
                # availability() of such a person: the working days in their week
                week = portfolio.workdays_of(x)
                base = plain.get(week)
                if base is None:
                    base = plain[week] = [wd in week for wd in weekdays]
                av = list(base)
            else:
                av = availability(portfolio, self.tl, x)
            self.avail[x.id] = av
            # capacity() without reduced_capacity ranges is 100 on available days, else 0
            self.cap[x.id] = (
                capacity(portfolio, self.tl, x)
                if x.reduced_capacity
                else [100.0 if ok else 0.0 for ok in av]
            )
        self.booked: dict[str, list[float]] = defaultdict(lambda: [0.0] * n)
        self.assigned = {a.task: a for a in plan.assignments}
        # one-person assignments in difference arrays (then kept on the person's available
        # days); team assignments day by day (their active days need every member available)
        diff: dict[str, list[int]] = {}
        index = {d: w for w, d in enumerate(self.tl.days)}
        task_by_id = portfolio.task_by_id
        avail = self.avail
        for a in plan.assignments:
            task = task_by_id.get(a.task)
            s, f = index.get(a.start), index.get(a.finish)
            if task is None or s is None or f is None or s > f:
                continue
            members = [pid for pid in a.people if pid in avail]
            alloc = task.alloc
            if len(members) == 1:
                d = diff.get(members[0])
                if d is None:
                    d = diff[members[0]] = [0] * (n + 1)
                d[s] += alloc
                d[f + 1] -= alloc
                continue
            rows = [avail[pid] for pid in members]
            booked_rows = [self.booked[pid] for pid in members]
            for w in range(s, f + 1):
                if all(row[w] for row in rows):
                    for booked_row in booked_rows:
                        booked_row[w] += alloc
        for pid, d in diff.items():
            self.booked[pid] = [
                b + run if ok else b
                for b, run, ok in zip(self.booked[pid], accumulate(d[:n]), avail[pid], strict=True)
            ]

        # -- bulk tables, per person position in portfolio.people --------------------------
        people = portfolio.people
        self._ids: list[str] = [x.id for x in people]
        self._index = {pid: i for i, pid in enumerate(self._ids)}
        self._hpd: list[float] = [x.day_hours for x in people]
        #: a person with each day length (for durations, which depend on it alone)
        self._hpd_person: dict[float, int] = {}
        for i, h in enumerate(self._hpd):
            self._hpd_person.setdefault(h, i)
        #: available days before each working day (length n + 1)
        self._avail_pre: list[list[int]] = []
        #: booked percent before each working day
        self._booked_pre: list[list[float]] = []
        #: capacity before each working day; None where a capacity is not a whole percent
        #: (then windows are summed as the definition sums them)
        self._cap_pre: list[list[float] | None] = []
        zeros = [0.0] * n
        for x in people:
            av, cap = self.avail[x.id], self.cap[x.id]
            booked = self.booked.get(x.id, zeros)
            self._avail_pre.append(list(accumulate(av, initial=0)))
            self._booked_pre.append(list(accumulate(booked, initial=0.0)))
            whole = all(c == int(c) for c in cap) if x.reduced_capacity else True
            self._cap_pre.append(list(accumulate(cap, initial=0.0)) if whole else None)
        self._by_skill: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for i, x in enumerate(people):
            for skill in x.skills:
                self._by_skill[skill].append((i, x.level(skill)))
        self._qualified_cache: dict[tuple[str, int], list[int]] = {}
        self._days_cache: dict[int, list[int]] = {}
        self._free_cache: dict[int, list[bytes | None]] = {}
        self._group_cache: dict[tuple[str, int], tuple[list[int], list[list[int]], set[float]]] = {}
        self._runs: dict[int, bytes] = {}
        #: per ``(skill, min_level)``: the group's summed prefix sums (available days,
        #: capacity, booking), for :meth:`brief`
        self._sums_cache: dict[tuple[str, int], tuple[list[int], list[float], list[float]]] = {}
        #: per all-or-nothing project, its unassigned tasks to plan
        self._unassigned_of: dict[str, list[str]] = {}
        #: capacity prefix sums of people whose capacity is not a whole percent
        self._cap_float: dict[int, list[float]] = {}

    # -- the tables ---------------------------------------------------------------------------
    def _qualified(self, place: Place) -> list[int]:
        """Positions of the people with ``place.skill`` at ``place.min_level`` or above."""
        key = (place.skill, place.min_level)
        out = self._qualified_cache.get(key)
        if out is None:
            if place.min_level <= 0:  # a level of 0 (not having the skill) is enough
                out = list(range(len(self._ids)))
            else:
                out = [
                    i for i, lvl in self._by_skill.get(place.skill, ()) if lvl >= place.min_level
                ]
            self._qualified_cache[key] = out
        return out

    def _eligible(self, place: Place, excluded: set[str]) -> list[int]:
        qualified = self._qualified(place)
        if not excluded:
            return qualified
        ids = self._ids
        return [i for i in qualified if ids[i] not in excluded]

    def _available_days_list(self, i: int) -> list[int]:
        days = self._days_cache.get(i)
        if days is None:
            days = [w for w, ok in enumerate(self.avail[self._ids[i]]) if ok]
            self._days_cache[i] = days
        return days

    def _free(self, i: int, alloc: int) -> bytes:
        """For each available day of person ``i`` in order, 1 where at least ``alloc`` percent
        of it is free (capacity minus booking), else 0."""
        table = self._free_cache.get(alloc)
        if table is None:
            table = self._free_cache[alloc] = [None] * len(self._ids)
        free = table[i]
        if free is None:
            pid = self._ids[i]
            cap, booked = self.cap[pid], self.booked.get(pid)
            days = self._available_days_list(i)
            if booked is None:
                free = bytes(cap[w] + _EPS >= alloc for w in days)
            else:
                free = bytes(cap[w] - booked[w] + _EPS >= alloc for w in days)
            table[i] = free
        return free

    def _run(self, dur: int) -> bytes:
        """``dur`` free days in a row, as :meth:`_free` writes them."""
        run = self._runs.get(dur)
        if run is None:
            run = self._runs[dur] = b"\x01" * dur
        return run

    def _first_fit(self, i: int, lo: int, hi: int, dur: int, alloc: int) -> int | None:
        """:meth:`fits_from` for person position ``i`` and a known duration: the first run of
        ``dur`` free available days inside the window, found as a substring."""
        pre = self._avail_pre[i]
        k0, k1 = pre[lo], pre[hi + 1]  # the window's available days: positions k0 .. k1 - 1
        if k1 - k0 < max(dur, 1):
            return None
        days = self._available_days_list(i)
        if dur <= 0:
            return days[k0]
        at = self._free(i, alloc).find(self._run(dur), k0, k1)
        return days[at] if at >= 0 else None

    def _share(self, i: int, lo: int, hi: int) -> float:
        cp = self._cap_pre[i]
        cap = cp[hi + 1] - cp[lo] if cp is not None else sum(self.cap[self._ids[i]][lo : hi + 1])
        if cap <= 0:
            return 1.0
        bp = self._booked_pre[i]
        return min(1.0, (bp[hi + 1] - bp[lo]) / cap)

    # -- the per-task definitions -----------------------------------------------------------
    def window(self, task: Task) -> tuple[int, int]:
        """Working-day window ``[lo, hi]`` the task could use in this plan."""
        lo = self.tl.first_on_or_after(self.p.task_earliest_start(task))
        for pred in task.predecessors:
            a = self.assigned.get(pred)
            if a is not None:
                lo = max(lo, self.tl.last_on_or_before(a.finish) + 1)
        hi = len(self.tl) - 1
        deadline = self.p.task_deadline(task)
        if (
            self.p.policy.deadlines_hard
            and self.p.policy.goal != "makespan"
            and deadline is not None
        ):
            hi = min(hi, self.tl.last_on_or_before(deadline))
        return lo, hi

    def _pos(self, pid: str) -> int:
        return self._index[pid]

    def share_booked(self, pid: str, lo: int, hi: int) -> float:
        """Share of ``pid``'s capacity in ``[lo, hi]`` the plan books (1 without capacity)."""
        return self._share(self._pos(pid), lo, hi)

    def duration(self, task: Task, pid: str) -> int:
        person = self.p.person_by_id[pid]
        return task_duration(task, None if task.is_team else person)

    def available_days(self, pid: str, lo: int, hi: int) -> int:
        pre = self._avail_pre[self._pos(pid)]
        return pre[hi + 1] - pre[lo]

    def fits_from(self, task: Task, pid: str, lo: int, hi: int) -> int | None:
        """First start day from which ``pid`` alone could do the task in free capacity.

        That is the first available day ``s`` in ``[lo, hi]`` such that the task's duration in
        ``pid``'s available days from ``s`` on ends by ``hi``, with at least the task's
        allocation free (capacity minus booking) on each of them.
        """
        return self._first_fit(self._pos(pid), lo, hi, self.duration(task, pid), task.alloc)

    def _day(self, w: int) -> date:
        return self.tl.days[w]

    def explain(self, task_id: str) -> list[str]:
        """The reasons of one unassigned task, each checked against the plan day by day."""
        return self._reasons(task_id, full=True)

    def brief(self, task_id: str) -> list[str]:
        """Cheaper true reasons of one unassigned task: as :meth:`explain`, except that a
        one-person task is not searched day by day per qualified person; it gets the working
        days of its window against the shortest duration, or the availability and booked
        share of the qualified people there as a group (prefix sums: constant time a task)."""
        return self._reasons(task_id, full=False)

    def _reasons(self, task_id: str, *, full: bool) -> list[str]:
        task = self.p.task_by_id[task_id]
        reasons = self._task_reasons(task, full)
        whole = self._whole_note(task)
        if whole is not None:
            if reasons and reasons[0].endswith(NOT_PLACED):
                # it fits on its own: the project's other unassigned tasks hold it back
                reasons = [reasons[0][: -len(NOT_PLACED)] + f", but {whole}"]
            elif not full:
                reasons = [*reasons, whole]
        pin = pin_text(task)
        if pin is None:
            return reasons
        return [r if r.startswith(pin) else f"{pin}: {r}" for r in reasons]

    def _whole_note(self, task: Task) -> str | None:
        """For a task of an all-or-nothing project with other tasks unassigned: that fact."""
        project = self.p.project_by_id.get(task.project)
        if project is None or not project.whole:
            return None
        left = self._unassigned_of.get(project.id)
        if left is None:
            left = self._unassigned_of[project.id] = [
                t.id for t in project.tasks if t.to_plan and t.id not in self.assigned
            ]
        others = [tid for tid in left if tid != task.id]
        if not others:
            return None
        names = ", ".join(others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
        which = f"its task {names} is" if len(others) == 1 else f"its tasks {names} are"
        return (
            f"its project {project.id} is all-or-nothing (its tasks are assigned together or "
            f"not at all) and {which} unassigned"
        )

    def _task_reasons(self, task: Task, full: bool) -> list[str]:
        p, tl = self.p, self.tl
        reasons: list[str] = []
        for pred in task.predecessors:
            pt = p.task_by_id.get(pred)
            if pt is not None and pt.to_plan and pred not in self.assigned:
                reasons.append(f"its predecessor {pred} is unassigned, so it cannot start")
        if reasons:
            return reasons
        lo, hi = self.window(task)
        if lo > hi:
            return [empty_window_reason(p, tl, task, lo, hi)]
        late, hint = start_notes(p, tl, task, lo)
        pin_day = task.pinned.start if task.pinned is not None else None
        pinned_start = pin_day is not None
        if pin_day is not None:
            why = pin_start_reason(p, tl, task, lo, hi)
            if why is not None:
                return [why]
            lo = tl.first_on_or_after(pin_day)  # a working day in the window here
            late, hint = "", ", or move the pin"
        span = f"{self._day(lo).isoformat()}..{self._day(hi).isoformat()}"
        end = end_clause(p, tl, task)
        if not task.places:
            return [wait_reason(tl, task, lo, hi, span, late, hint, end)]
        excluded = set(task.exclude)
        ids = self._ids
        pinned = task.pinned.person if task.pinned is not None else None
        if pinned is not None and task.is_team:
            why = pin_team_reason(p, task)
            if why is not None:
                return [why]
        for place in task.places:
            qualified = self._eligible(place, excluded)
            if pinned is not None and not task.is_team:
                why = pin_person_reason(p, task, place)
                if why is not None:
                    return [why]
                qualified = [self._index[pinned]]
            if not qualified:
                shut_out = [ids[i] for i in self._qualified(place) if ids[i] in excluded]
                return [nobody_reason(place, shut_out)]
            if task.is_team:
                continue
            if not full:
                return [self._brief_one(task, place, qualified, lo, hi, span, late, hint, end)]
            fits, reason = self._explain_one(
                task, place, qualified, lo, hi, span, pinned_start, late, hint, end
            )
            if fits:
                return [reason]
            reasons.append(reason)
        if task.is_team and not reasons:
            counts = []
            for place in dict.fromkeys(task.places):  # each distinct requirement once
                eligible = self._eligible(place, excluded)
                _, cap, booked = self._window_sums(place, eligible, lo, hi)
                share = min(1.0, booked / cap) if cap > 0 else 1.0
                need = task.places.count(place)
                counts.append(
                    f"{need} x {place.skill} >= {place.min_level}: {len(eligible)} qualified, "
                    f"{share:.0%} booked"
                )
            reasons.append(team_reason(span, counts, pinned_start, end))
        return reasons

    def _window_sums(
        self, place: Place, people: list[int], lo: int, hi: int
    ) -> tuple[int, float, float]:
        """Available days, capacity (percent-days) and booking of these people in ``[lo, hi]``,
        summed: from the group's prefix sums when they are a place's whole qualified group."""
        a, b = lo, hi + 1
        if people is self._qualified_cache.get((place.skill, place.min_level)):
            key = (place.skill, place.min_level)
            sums = self._sums_cache.get(key)
            if sums is None:
                sums = self._sums_cache[key] = (
                    [sum(c) for c in zip(*(self._avail_pre[i] for i in people), strict=True)]
                    if people
                    else [0] * (len(self.tl) + 1),
                    [sum(c) for c in zip(*(self._cap_prefix(i) for i in people), strict=True)]
                    if people
                    else [0.0] * (len(self.tl) + 1),
                    [sum(c) for c in zip(*(self._booked_pre[i] for i in people), strict=True)]
                    if people
                    else [0.0] * (len(self.tl) + 1),
                )
            av, cp, bp = sums
            return av[b] - av[a], cp[b] - cp[a], bp[b] - bp[a]
        avail = cap = booked = 0.0
        for i in people:
            av_i, cp_i, bp_i = self._avail_pre[i], self._cap_prefix(i), self._booked_pre[i]
            avail += av_i[b] - av_i[a]
            cap += cp_i[b] - cp_i[a]
            booked += bp_i[b] - bp_i[a]
        return int(avail), cap, booked

    def _cap_prefix(self, i: int) -> list[float]:
        cp = self._cap_pre[i]
        if cp is None:
            cp = self._cap_float.get(i)
            if cp is None:
                cp = self._cap_float[i] = list(accumulate(self.cap[self._ids[i]], initial=0.0))
        return cp

    def _brief_one(
        self,
        task: Task,
        place: Place,
        qualified: list[int],
        lo: int,
        hi: int,
        span: str,
        late: str,
        hint: str,
        end: str,
    ) -> str:
        """The cheap sentence for a one-person task with these qualified people (non-empty)."""
        people = self.p.people
        _, hpds = self._group_tables(place, qualified)  # cached for a whole group
        need = min(task_duration(task, people[self._hpd_person[h]]) for h in hpds)
        days = hi - lo + 1
        if need > days:
            return (
                f"its window {span}{late} is too short: it has {days} working days and needs at "
                f"least {need}; {end}{hint}"
            )
        avail, cap, booked = self._window_sums(place, qualified, lo, hi)
        if len(qualified) == 1:
            who, verb = self._ids[qualified[0]], "is"
        else:
            who = f"the {len(qualified)} people qualified ({place.skill} >= {place.min_level})"
            verb = "are"
        if avail <= 0:
            none = who if len(qualified) == 1 else f"none of {who}"
            return f"{none} is available in its window {span}: add people then; {end}{hint}"
        share = min(1.0, booked / cap) if cap > 0 else 1.0
        return (
            f"{who} {verb} {share:.0%} booked in its window {span}: add capacity or lower other "
            f"work's priority; {end} (its fit in their free days was not checked: too many "
            "unassigned tasks for the time given)"
        )

    def _durations(
        self, task: Task, qualified: list[int], hpds: set[float]
    ) -> tuple[list[int], int | None]:
        """The task's duration for each qualified person, ``hpds`` their day lengths (one call
        per distinct day length: a person's duration depends on it alone), and that duration
        when it is the same for all."""
        people, hpd = self.p.people, self._hpd
        by_hpd = {h: task_duration(task, people[self._hpd_person[h]]) for h in hpds}
        values = set(by_hpd.values())
        if len(values) == 1:
            single = values.pop()
            return [single] * len(qualified), single
        return [by_hpd[hpd[i]] for i in qualified], None

    def _group_tables(
        self, place: Place, qualified: list[int]
    ) -> tuple[list[list[int]], set[float]]:
        """Available-day prefix sums and the distinct day lengths of these people (cached for
        the whole qualified group of a place)."""
        key = (place.skill, place.min_level)
        cached = self._group_cache.get(key)
        if cached is not None and cached[0] is qualified:
            return cached[1], cached[2]
        pre, hpd = self._avail_pre, self._hpd
        rows = [pre[i] for i in qualified]
        hpds = {hpd[i] for i in qualified}
        if qualified is self._qualified_cache.get(key):
            self._group_cache[key] = (qualified, rows, hpds)
        return rows, hpds

    def _explain_one(
        self,
        task: Task,
        place: Place,
        qualified: list[int],
        lo: int,
        hi: int,
        span: str,
        pinned_start: bool,
        late: str,
        hint: str,
        end: str,
    ) -> tuple[bool, str]:
        """The sentence for a one-person task with these qualified people (non-empty), and
        whether it is the one saying the task would fit. With ``pinned_start``, ``lo`` is the
        pinned start and the task must start on it."""
        ids = self._ids
        pinned = task.pinned.person if task.pinned is not None else None
        if pinned_start and pinned is not None and not self.avail[pinned][lo]:
            return False, (
                f"{pinned} is not available on that day (time off, not there yet or any more, or "
                "not one of their working days): move the pin"
            )
        a, b = lo, hi + 1
        rows, hpds = self._group_tables(place, qualified)
        have_days = [r[b] - r[a] for r in rows]
        durs, single = self._durations(task, qualified, hpds)
        # a person fits only with at least the duration in available days in the window
        if single is not None:
            enough = [k for k, h in enumerate(have_days) if h >= single]
        else:
            enough = [k for k, (h, d) in enumerate(zip(have_days, durs, strict=True)) if h >= d]
        if enough:
            # the first of them, in portfolio order, with a run of free available days
            alloc = task.alloc
            free_row = self._free_cache.get(alloc)
            if free_row is None:
                free_row = self._free_cache[alloc] = [None] * len(ids)
            for k in enough:
                i, dur = qualified[k], durs[k]
                if dur <= 0:
                    s = self._first_fit(i, lo, hi, dur, alloc)
                else:
                    free = free_row[i]
                    if free is None:
                        free = self._free(i, alloc)
                    at = free.find(self._run(dur), rows[k][a], rows[k][b])
                    s = self._available_days_list(i)[at] if at >= 0 else None
                if s is not None and (not pinned_start or s == lo):
                    return True, (
                        f"it would fit with {ids[i]} from {self._day(s).isoformat()}{NOT_PLACED}"
                    )
        if not enough:
            need = min(durs)
            have = max(have_days)
            if pinned is None:
                has = f"no qualified person has more than {have} available days in it"
            elif have:
                has = f"{pinned} has only {have} available days in it"
            else:
                has = f"{pinned} has no available day in it"
            return False, (
                f"its window {span}{late} is too short: it needs {need} working days and {has}; "
                f"{end}{hint}"
            )
        cap_pre, booked_pre = self._cap_pre, self._booked_pre
        shares = []
        for k in enough:
            i = qualified[k]
            cp = cap_pre[i]
            if cp is None:
                shares.append((self._share(i, lo, hi), ids[i]))
                continue
            cap = cp[b] - cp[a]
            bp = booked_pre[i]
            shares.append((min(1.0, (bp[b] - bp[a]) / cap) if cap > 0 else 1.0, ids[i]))
        booked = sorted(shares, reverse=True)
        listed = ", ".join(f"{q} {share:.0%}" for share, q in booked[:6])
        more = f" and {len(booked) - 6} more" if len(booked) > 6 else ""
        return False, no_room_reason(place, pinned, span, pinned_start, listed + more, end)


# -- sentences (plain functions of the portfolio, shared with the tests' reference) -----------


def horizon_end(tl: Timeline) -> str:
    """The plan's last working day (the end of its horizon)."""
    return tl.days[-1].isoformat() if len(tl) else "before its first day (no working day)"


def deadline_cut(portfolio: Portfolio, tl: Timeline, task: Task) -> bool:
    """Whether the task's window ends at its hard deadline, before the plan's horizon does."""
    deadline = portfolio.task_deadline(task)
    return (
        portfolio.policy.deadlines_hard
        and portfolio.policy.goal != "makespan"
        and deadline is not None
        and tl.last_on_or_before(deadline) < len(tl) - 1
    )


def end_clause(portfolio: Portfolio, tl: Timeline, task: Task) -> str:
    """What closes the task's window, and what to do about it: its hard deadline, or else the
    end of the plan's horizon (a window the calendar closes is not a deadline's doing)."""
    deadline = portfolio.task_deadline(task)
    if deadline is not None and deadline_cut(portfolio, tl, task):
        return f"its hard deadline is {deadline.isoformat()}: move the deadline"
    return f"the plan's horizon ends {horizon_end(tl)}: extend the calendar"


def start_notes(portfolio: Portfolio, tl: Timeline, task: Task, lo: int) -> tuple[str, str]:
    """For a window starting at working day ``lo``: a note when predecessors push it later than
    the task's own earliest start, and the hint that goes with what sets the start."""
    own = tl.first_on_or_after(portfolio.task_earliest_start(task))
    if lo > own:
        return " (its predecessors finish late)", ", or plan its predecessors earlier"
    if own > 0:
        return "", ", or move its earliest start"
    return "", ""


def empty_window_reason(portfolio: Portfolio, tl: Timeline, task: Task, lo: int, hi: int) -> str:
    """The task's window ``[lo, hi]`` is empty (``lo > hi``): what closes it."""
    late, hint = start_notes(portfolio, tl, task, lo)
    if lo >= len(tl):
        return (
            f"its earliest possible start{late} is after the plan's horizon, which ends "
            f"{horizon_end(tl)}: extend the calendar{hint}"
        )
    last = tl.days[hi].isoformat() if hi >= 0 else "before the plan's first working day"
    return (
        f"its earliest possible start {tl.days[lo].isoformat()}{late} is after its last allowed "
        f"finish {last}; {end_clause(portfolio, tl, task)}{hint}"
    )


def pin_text(task: Task) -> str | None:
    """How a pinned task's reasons begin: the pin ("pinned to ana on 2027-03-01")."""
    pin = task.pinned
    if pin is None or (pin.person is None and pin.start is None):
        return None
    if pin.start is None:
        return f"pinned to {pin.person}"
    if pin.person is None:
        return f"pinned to start on {pin.start.isoformat()}"
    return f"pinned to {pin.person} on {pin.start.isoformat()}"


def pin_start_reason(
    portfolio: Portfolio, tl: Timeline, task: Task, lo: int, hi: int
) -> str | None:
    """Why the task cannot start on its pinned start, given its window ``[lo, hi]`` (non-empty);
    None when the pinned start is a working day in it."""
    if task.pinned is None or task.pinned.start is None:
        return None
    day = task.pinned.start
    w = tl.idx(day)
    if w is None:
        if not len(tl) or day > tl.days[-1]:
            return (
                f"that day is after the plan's horizon, which ends {horizon_end(tl)}: extend the "
                "calendar or move the pin"
            )
        if day < tl.days[0]:
            return (
                f"that day is before the plan's first working day {tl.days[0].isoformat()}: "
                "move the pin"
            )
        return (
            "that day is not a working day of the calendar (a weekend or a holiday): move the pin"
        )
    if w < lo:
        late, hint = start_notes(portfolio, tl, task, lo)
        return (
            f"that day is before its earliest possible start {tl.days[lo].isoformat()}{late}: "
            f"move the pin{hint}"
        )
    if w > hi:
        deadline = portfolio.task_deadline(task)
        last = deadline.isoformat() if deadline is not None else tl.days[hi].isoformat()
        return f"that day is after its hard deadline {last}: move the deadline or the pin"
    return None


def _pinned_person(portfolio: Portfolio, task: Task) -> tuple[str | None, str | None]:
    """The pinned person's id and why they cannot do the task whatever its places (not in the
    portfolio, excluded), or (None, None) without a pinned person."""
    pid = task.pinned.person if task.pinned is not None else None
    if pid is None:
        return None, None
    if pid not in portfolio.person_by_id:
        return pid, f"{pid} is not in the portfolio: move the pin"
    if pid in task.exclude:
        return pid, f"{pid} is also excluded from it: lift the pin or the exclusion"
    return pid, None


def pin_person_reason(portfolio: Portfolio, task: Task, place: Place) -> str | None:
    """Why the pinned person of a one-person task cannot fill its place (None: they can)."""
    pid, why = _pinned_person(portfolio, task)
    if pid is None or why is not None:
        return why
    person = portfolio.person_by_id[pid]
    level = person.level(place.skill)
    if level < place.min_level:
        return (
            f"{pid} does not have skill '{place.skill}' at level {place.min_level} or above "
            f"({pid}'s level is {level}): move the pin, or train {pid}"
        )
    return None


def pin_team_reason(portfolio: Portfolio, task: Task) -> str | None:
    """Why the pinned person of a team task fills none of its places (None: they fill one)."""
    pid, why = _pinned_person(portfolio, task)
    if pid is None or why is not None:
        return why
    person = portfolio.person_by_id[pid]
    if not any(person.level(pl.skill) >= pl.min_level for pl in task.places):
        needs = ", ".join(f"{pl.skill} >= {pl.min_level}" for pl in dict.fromkeys(task.places))
        return f"{pid} can fill none of its places (it needs {needs}): move the pin"
    return None


def nobody_reason(place: Place, excluded: Sequence[str]) -> str:
    """Nobody can fill the place: nobody has the skill at the level, or all who have it are
    ``excluded`` from the task."""
    if excluded:
        who = ", ".join(excluded[:5]) + (" ..." if len(excluded) > 5 else "")
        return (
            f"everyone with skill '{place.skill}' at level {place.min_level} or above ({who}) "
            "is excluded from it: lift an exclusion, or hire or train someone"
        )
    return (
        f"nobody has skill '{place.skill}' at level {place.min_level} or above: hire or train "
        "someone"
    )


def wait_reason(
    tl: Timeline, task: Task, lo: int, hi: int, span: str, late: str, hint: str, end: str
) -> str:
    """A task needing nobody (every working day is active) with a non-empty window."""
    need = task_duration(task, None)
    days = hi - lo + 1
    if need > days:
        return (
            f"its window {span}{late} is too short: it needs {need} working days and has "
            f"{days}; {end}{hint}"
        )
    return f"it needs nobody and would fit from {tl.days[lo].isoformat()}{NOT_PLACED}"


def no_room_reason(
    place: Place, pinned: str | None, span: str, pinned_start: bool, booked: str, end: str
) -> str:
    """Nobody qualified (or the pinned person) has the free capacity for a one-person task."""
    who = (
        f"{pinned} has no"
        if pinned is not None
        else f"no qualified person ({place.skill} >= {place.min_level}) has"
    )
    if pinned_start:
        where = f"room for it starting on that day; booked in {span}"
    else:
        where = f"room for it in its window {span}; booked there"
    return f"{who} {where}: {booked}: add capacity or lower other work's priority; {end}"


def team_reason(span: str, counts: Sequence[str], pinned_start: bool, end: str) -> str:
    """A team task whose places each have qualified people: no team was placed."""
    when = "starting on that day" if pinned_start else f"in its window {span}"
    return (
        f"no team free on common days was placed for it {when} ({'; '.join(counts)}): add "
        f"capacity or lower other work's priority; {end}"
    )


def explain_plan(
    portfolio: Portfolio,
    plan: Plan,
    timeline: Timeline | None,
    static_reasons: Mapping[str, Sequence[str]],
    units: Mapping[str, int],
    budget: float | None = None,
) -> Plan:
    """The plan with reasons for every unassigned task, each a true sentence.

    ``static_reasons``: per task, why it cannot be assigned at all (the compiler's); a task
    with any keeps them. The others are explained by an :class:`Explainer` built once for the
    plan, the most important first (``units``: priority-weighted work, higher first):
    :meth:`Explainer.explain` (checked day by day per qualified person) while ``budget``
    seconds (counted from the start, tables included; None: no limit) last, then
    :meth:`Explainer.brief` for the rest (true, in constant time a task). No task is left
    without a reason of its own.
    """
    t0 = time.monotonic()
    todo = [u.task for u in plan.unassigned if not static_reasons.get(u.task)]
    todo.sort(key=lambda tid: -units.get(tid, 0))
    explained: dict[str, list[str]] = {}
    if todo:
        explainer = Explainer(portfolio, plan, timeline)
        full = 0
        for tid in todo:
            if tid not in portfolio.task_by_id:
                explained[tid] = [f"task {tid} is not in the portfolio"]
                continue
            if budget is None or time.monotonic() - t0 <= budget:
                explained[tid] = explainer.explain(tid) or explainer.brief(tid)
                full += 1
            else:
                explained[tid] = explainer.brief(tid)
        if full < len(todo):
            log.info(
                "reasons: %d of %d unassigned tasks checked day by day, the rest in brief, "
                "in %.1fs (budget %.1fs)",
                full,
                len(todo),
                time.monotonic() - t0,
                budget or 0.0,
            )
    out = []
    for u in plan.unassigned:
        reasons = list(static_reasons.get(u.task) or explained.get(u.task) or ())
        task = portfolio.task_by_id.get(u.task)
        pin = pin_text(task) if task is not None else None
        if pin is not None and not any("pinned" in r for r in reasons):
            reasons = [f"{pin}: {r}" for r in reasons]  # the compiler's, naming the pin
        out.append(Unassigned(u.task, tuple(reasons)))
    return replace(plan, unassigned=tuple(out))


def explain_unassigned(
    portfolio: Portfolio, plan: Plan, task_id: str, timeline: Timeline | None = None
) -> list[str]:
    """Reasons for one unassigned task (builds the booking table; use :class:`Explainer` for many)."""
    return Explainer(portfolio, plan, timeline).explain(task_id)
