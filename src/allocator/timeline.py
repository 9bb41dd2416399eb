"""The working-day calendar and each person's availability and capacity, per the contract.

Everything here is plain Python over the domain types, shared by the checker, the objective,
the reasons and the compiler that feeds the solvers. Definitions (contract, *calendar* and
*person*):

* **working days**: the dates from ``calendar.start`` to ``calendar.end`` whose weekday is in
  ``calendar.workdays`` and that are not holidays; ``idx(d)`` is a working day's 0-based position.
* a working day is **available** for a person when it lies between ``available_from`` and
  ``available_until``, its weekday is in the person's ``workdays`` and it is in no ``time_off``.
* the person's **capacity** on an available day is 100 percent, or the smallest ``percent`` of the
  ``reduced_capacity`` ranges covering it (0 on a day that is not available).
* **duration** of an effort task done by ``p``:
  ``ceil(round(effort_hours / (p.hours_per_day * allocation / 100), 9))`` active days.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property

from allocator.domain import WEEKDAYS, Person, Portfolio, Task


@dataclass(frozen=True)
class Timeline:
    """The working days of a calendar, with ``idx`` lookups."""

    days: tuple[date, ...]

    @classmethod
    def of(cls, portfolio: Portfolio) -> Timeline:
        cal = portfolio.calendar
        workdays = set(cal.effective_workdays)
        holidays = set(cal.holidays)
        out: list[date] = []
        d = cal.start
        while d <= cal.end:
            if WEEKDAYS[d.weekday()] in workdays and d not in holidays:
                out.append(d)
            d += timedelta(days=1)
        return cls(tuple(out))

    def __len__(self) -> int:
        return len(self.days)

    @cached_property
    def _index(self) -> dict[date, int]:
        return {d: i for i, d in enumerate(self.days)}

    def idx(self, d: date) -> int | None:
        """Position of a working day, ``None`` for any other date."""
        return self._index.get(d)

    def first_on_or_after(self, d: date) -> int:
        """Index of the first working day on or after ``d`` (``len(self)`` when none)."""
        return bisect.bisect_left(self.days, d)

    def last_on_or_before(self, d: date) -> int:
        """Index of the last working day on or before ``d`` (``-1`` when none)."""
        return bisect.bisect_right(self.days, d) - 1


def availability(portfolio: Portfolio, timeline: Timeline, person: Person) -> list[bool]:
    """For each working day, whether ``person`` is available on it."""
    workdays = set(portfolio.workdays_of(person))
    out: list[bool] = []
    for d in timeline.days:
        ok = WEEKDAYS[d.weekday()] in workdays
        if ok and person.available_from is not None and d < person.available_from:
            ok = False
        if ok and person.available_until is not None and d > person.available_until:
            ok = False
        if ok and any(d in r for r in person.time_off):
            ok = False
        out.append(ok)
    return out


def capacity(portfolio: Portfolio, timeline: Timeline, person: Person) -> list[float]:
    """For each working day, the percent of the person's day that can be planned."""
    avail = availability(portfolio, timeline, person)
    out: list[float] = []
    for d, ok in zip(timeline.days, avail, strict=True):
        if not ok:
            out.append(0.0)
            continue
        cap = 100.0
        for r in person.reduced_capacity:
            if d in r:
                cap = min(cap, float(r.percent))
        out.append(cap)
    return out


def effort_duration(effort_hours: float, hours_per_day: float, allocation: int) -> int:
    """Active days an effort takes: ``ceil(round(effort / (hpd * allocation / 100), 9))``."""
    return math.ceil(round(effort_hours / (hours_per_day * allocation / 100.0), 9))


def task_duration(task: Task, person: Person | None) -> int:
    """The task's duration in active days when done by ``person`` (contract *Duration*).

    ``person`` matters only for effort tasks (and ``remaining_hours``); pass ``None`` otherwise.
    """
    if task.state == "in_progress" and task.progress is not None:
        prog = task.progress
        if prog.remaining_days is not None:
            return int(prog.remaining_days)
        if prog.remaining_hours is not None:
            if person is None:
                raise ValueError(f"task {task.id}: duration from hours needs a person")
            return effort_duration(prog.remaining_hours, person.day_hours, task.alloc)
    if task.duration_days is not None:
        return int(task.duration_days)
    if task.effort_hours is not None:
        if person is None:
            raise ValueError(f"task {task.id}: duration from effort needs a person")
        return effort_duration(task.effort_hours, person.day_hours, task.alloc)
    raise ValueError(f"task {task.id}: neither effort_hours nor duration_days")


def common_availability(avails: Iterable[Sequence[bool]], n_days: int) -> list[bool]:
    """Days on which every one of the given availability vectors is true (all days if none)."""
    out = [True] * n_days
    for av in avails:
        out = [a and b for a, b in zip(out, av, strict=True)]
    return out


def finish_from(active: Sequence[bool], start: int, duration: int) -> int | None:
    """The working day on which a task starting at ``start`` completes ``duration`` active days.

    ``active[w]`` says whether day ``w`` can be an active day (every assignee available).
    ``None`` when ``start`` is not active or the horizon ends first.
    """
    if start < 0 or start >= len(active) or not active[start]:
        return None
    left = duration
    w = start
    while w < len(active):
        if active[w]:
            left -= 1
            if left == 0:
                return w
        w += 1
    return None
