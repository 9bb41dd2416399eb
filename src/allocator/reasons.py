"""Reasons for unassigned work that a planner can act on, computed from the plan itself.

Each sentence is a fact about the portfolio and the plan, checked here, never a guess:

* a predecessor is unassigned (so this task cannot start);
* nobody has the skill at the level (hire or train);
* the qualified people and how booked they are in the task's window, when none of them has the
  free capacity for it there (add people, move the deadline, or lower other work's priority);
* the task *would* fit with a named person from a named day: then the solver simply did not
  reach it in the time given (the plan is not proven optimal; give it more time).

Plain Python over the domain (no solver): the same code explains a plan edited by hand.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from allocator.domain import Plan, Portfolio, Task
from allocator.timeline import Timeline, availability, capacity, task_duration


class Explainer:
    """Booking of every person per working day under a plan, and sentences about tasks."""

    def __init__(self, portfolio: Portfolio, plan: Plan, timeline: Timeline | None = None) -> None:
        self.p = portfolio
        self.plan = plan
        self.tl = timeline or Timeline.of(portfolio)
        n = len(self.tl)
        self.avail = {x.id: availability(portfolio, self.tl, x) for x in portfolio.people}
        self.cap = {x.id: capacity(portfolio, self.tl, x) for x in portfolio.people}
        self.booked: dict[str, list[float]] = defaultdict(lambda: [0.0] * n)
        self.assigned = {a.task: a for a in plan.assignments}
        for a in plan.assignments:
            task = portfolio.task_by_id.get(a.task)
            s, f = self.tl.idx(a.start), self.tl.idx(a.finish)
            if task is None or s is None or f is None:
                continue
            members = [pid for pid in a.people if pid in self.avail]
            for w in range(s, f + 1):
                if all(self.avail[pid][w] for pid in members):
                    for pid in members:
                        self.booked[pid][w] += task.alloc

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

    def share_booked(self, pid: str, lo: int, hi: int) -> float:
        cap = sum(self.cap[pid][lo : hi + 1])
        if cap <= 0:
            return 1.0
        return min(1.0, sum(self.booked[pid][lo : hi + 1]) / cap)

    def duration(self, task: Task, pid: str) -> int:
        person = self.p.person_by_id[pid]
        return task_duration(task, None if task.is_team else person)

    def available_days(self, pid: str, lo: int, hi: int) -> int:
        return sum(1 for ok in self.avail[pid][lo : hi + 1] if ok)

    def fits_from(self, task: Task, pid: str, lo: int, hi: int) -> int | None:
        """First start day from which ``pid`` alone could do the task in free capacity."""
        person = self.p.person_by_id[pid]
        dur = task_duration(task, None if task.is_team else person)
        avail, cap, booked = self.avail[pid], self.cap[pid], self.booked[pid]
        for s in range(lo, hi + 1):
            if not avail[s]:
                continue
            left, w, ok = dur, s, True
            while w <= hi and left > 0:
                if avail[w]:
                    if cap[w] - booked[w] + 1e-9 < task.alloc:
                        ok = False
                        break
                    left -= 1
                w += 1
            if ok and left == 0:
                return s
        return None

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
        for place in task.places:
            qualified = [
                x.id
                for x in self.p.people
                if x.level(place.skill) >= place.min_level and x.id not in excluded
            ]
            if task.pinned is not None and task.pinned.person is not None and not task.is_team:
                qualified = [q for q in qualified if q == task.pinned.person]
            if not qualified:
                return [
                    f"nobody has skill '{place.skill}' at level {place.min_level} or above: hire or train someone"
                ]
            if task.is_team:
                continue
            fits = [(q, self.fits_from(task, q, lo, hi)) for q in qualified]
            free = [(q, s) for q, s in fits if s is not None]
            if task.pinned is not None and task.pinned.start is not None:
                pin_idx = self.tl.idx(task.pinned.start)
                free = (
                    [(q, s) for q, s in fits if s is not None and s == pin_idx]
                    if pin_idx is not None
                    else []
                )
            if free:
                q, s = free[0]
                assert s is not None
                return [
                    f"it would fit with {q} from {self._day(s).isoformat()}, but the solver did not "
                    "place it in the time given (the plan is not proven optimal): give it more time"
                ]
            short = [
                q for q in qualified if self.available_days(q, lo, hi) < self.duration(task, q)
            ]
            if len(short) == len(qualified):
                need = min(self.duration(task, q) for q in qualified)
                have = max(self.available_days(q, lo, hi) for q in qualified)
                late_start = (
                    " (its predecessors finish late)"
                    if lo > self.tl.first_on_or_after(self.p.task_earliest_start(task))
                    else ""
                )
                reasons.append(
                    f"its window {span}{late_start} is too short: it needs {need} working days "
                    f"and no qualified person has more than {have} available days in it: move the "
                    "deadline or the earliest start, or plan its predecessors earlier"
                )
                continue
            qualified = [q for q in qualified if q not in short]
            booked = sorted(((self.share_booked(q, lo, hi), q) for q in qualified), reverse=True)
            listed = ", ".join(f"{q} {share:.0%}" for share, q in booked[:6])
            more = f" and {len(booked) - 6} more" if len(booked) > 6 else ""
            reasons.append(
                f"no qualified person ({place.skill} >= {place.min_level}) has room for it in its "
                f"window {span}; booked there: {listed}{more}: add capacity, move the deadline, or "
                "lower other work's priority"
            )
        if task.is_team and not reasons:
            counts = []
            for place in dict.fromkeys(task.places):  # each distinct requirement once
                n = sum(
                    1
                    for x in self.p.people
                    if x.level(place.skill) >= place.min_level and x.id not in excluded
                )
                need = task.places.count(place)
                counts.append(f"{need} x {place.skill} >= {place.min_level}: {n} qualified")
            reasons.append(
                f"no team with free common days was found in its window {span} ("
                + "; ".join(counts)
                + "): add capacity or move the deadline"
            )
        return reasons


def explain_unassigned(
    portfolio: Portfolio, plan: Plan, task_id: str, timeline: Timeline | None = None
) -> list[str]:
    """Reasons for one unassigned task (builds the booking table; use :class:`Explainer` for many)."""
    return Explainer(portfolio, plan, timeline).explain(task_id)
