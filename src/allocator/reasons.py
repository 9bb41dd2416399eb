"""Reasons for unassigned work that a planner can act on, computed from the plan itself.

Each sentence is a fact about the portfolio and the plan, checked here, never a guess:

* a predecessor is unassigned (so this task cannot start);
* nobody has the skill at the level (hire or train);
* the qualified people and how booked they are in the task's window, when none of them has the
  free capacity for it there (add people, move the deadline, or lower other work's priority);
* the task *would* fit with a named person from a named day: then the solver simply did not
  reach it in the time given (the plan is not proven optimal; give it more time).

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

from collections import defaultdict
from datetime import date
from itertools import accumulate

from allocator.domain import WEEKDAYS, Place, Plan, Portfolio, Task
from allocator.timeline import Timeline, availability, capacity, task_duration

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
        self._hpd: list[float] = [x.hpd for x in people]
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
        task = self.p.task_by_id[task_id]
        reasons: list[str] = []
        for pred in task.predecessors:
            pt = self.p.task_by_id.get(pred)
            if pt is not None and pt.to_plan and pred not in self.assigned:
                reasons.append(f"its predecessor {pred} is unassigned, so it cannot start")
        if reasons:
            return reasons
        lo, hi = self.window(task)
        if lo > hi:
            return [
                "its window is empty in this plan (earliest start after the last allowed finish): "
                "move the deadline or the earliest start"
            ]
        span = f"{self._day(lo).isoformat()}..{self._day(hi).isoformat()}"
        excluded = set(task.exclude)
        ids = self._ids
        for place in task.places:
            qualified = self._eligible(place, excluded)
            if task.pinned is not None and task.pinned.person is not None and not task.is_team:
                qualified = [i for i in qualified if ids[i] == task.pinned.person]
            if not qualified:
                return [
                    f"nobody has skill '{place.skill}' at level {place.min_level} or above: hire or train someone"
                ]
            if task.is_team:
                continue
            fits, reason = self._explain_one(task, place, qualified, lo, hi, span)
            if fits:
                return [reason]
            reasons.append(reason)
        if task.is_team and not reasons:
            counts = []
            for place in dict.fromkeys(task.places):  # each distinct requirement once
                n = len(self._eligible(place, excluded))
                need = task.places.count(place)
                counts.append(f"{need} x {place.skill} >= {place.min_level}: {n} qualified")
            reasons.append(
                f"no team with free common days was found in its window {span} ("
                + "; ".join(counts)
                + "): add capacity or move the deadline"
            )
        return reasons

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
        self, task: Task, place: Place, qualified: list[int], lo: int, hi: int, span: str
    ) -> tuple[bool, str]:
        """The sentence for a one-person task with these qualified people (non-empty), and
        whether it is the one saying the task would fit."""
        ids = self._ids
        a, b = lo, hi + 1
        rows, hpds = self._group_tables(place, qualified)
        have_days = [r[b] - r[a] for r in rows]
        durs, single = self._durations(task, qualified, hpds)
        # a person fits only with at least the duration in available days in the window
        if single is not None:
            enough = [k for k, h in enumerate(have_days) if h >= single]
        else:
            enough = [k for k, (h, d) in enumerate(zip(have_days, durs, strict=True)) if h >= d]
        pin_idx: int | None = None
        check = True
        if task.pinned is not None and task.pinned.start is not None:
            pin_idx = self.tl.idx(task.pinned.start)
            check = pin_idx is not None
        if check and enough:
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
                if s is not None and (pin_idx is None or s == pin_idx):
                    return True, (
                        f"it would fit with {ids[i]} from {self._day(s).isoformat()}, but the "
                        "solver did not place it in the time given (the plan is not proven "
                        "optimal): give it more time"
                    )
        if not enough:
            need = min(durs)
            have = max(have_days)
            late_start = (
                " (its predecessors finish late)"
                if lo > self.tl.first_on_or_after(self.p.task_earliest_start(task))
                else ""
            )
            return False, (
                f"its window {span}{late_start} is too short: it needs {need} working days "
                f"and no qualified person has more than {have} available days in it: move the "
                "deadline or the earliest start, or plan its predecessors earlier"
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
        return False, (
            f"no qualified person ({place.skill} >= {place.min_level}) has room for it in its "
            f"window {span}; booked there: {listed}{more}: add capacity, move the deadline, or "
            "lower other work's priority"
        )


def explain_unassigned(
    portfolio: Portfolio, plan: Plan, task_id: str, timeline: Timeline | None = None
) -> list[str]:
    """Reasons for one unassigned task (builds the booking table; use :class:`Explainer` for many)."""
    return Explainer(portfolio, plan, timeline).explain(task_id)
