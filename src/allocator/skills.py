"""The skills view: demand against capacity per skill *and level* per period, and the skills
only one person has (the bus factor).

**Levels.** Work needing skill ``s`` at ``min_level`` L can be done only by people having ``s``
at L or above. So for each skill and each level L that some place asks for (level 1 always),
:func:`skill_level_frame` compares the work needing ``s`` at **L or above** with the capacity of
the people having ``s`` at **L or above** (``level`` reads "L+"). Demand above that capacity in
a period is a sure shortage (no assignment fixes it); demand below it is not a guarantee (the
same people may be needed elsewhere, for other skills). Level 1 is
:func:`allocator.analytics.demand_capacity_frame`'s view.

**Demand** is placed in time as :func:`allocator.analytics.demand_capacity_frame` does: an
assigned task's hours on its active days (``hours_per_day`` x ``allocation`` / 100 of each
assignee, under the place the assignee fills: places of one skill are matched to its assignees
highest level to highest level), an unassigned task's work (contract *Work* per place; all the
tasks to plan without a plan) spread uniformly over its window (earliest start to deadline).

**Bus factor.** :func:`bus_factor_frame`: each skill and level asked for that at most one
person has, with that person, the work needing it, and when that person is away (time off) or
not there (joins, leaves) inside the horizon.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from allocator.analytics import PlanView, period_sums, place_hours
from allocator.domain import WEEKDAYS, Plan, Portfolio, Task

__all__ = ["bus_factor_frame", "skill_level_frame"]


def _levels(portfolio: Portfolio) -> dict[str, list[int]]:
    """For each skill asked for by a task to plan: the levels asked (1 always), ascending."""
    out: dict[str, set[int]] = {}
    for t in portfolio.tasks_to_plan:
        for pl in t.places:
            out.setdefault(pl.skill, {1}).add(pl.min_level)
    return {s: sorted(v) for s, v in sorted(out.items())}


def _planned(view: PlanView, skill_level: dict[tuple[str, int], int], out: np.ndarray) -> None:
    """Add each booking's hours per (skill, level asked) row and working day to ``out``."""
    portfolio = view.portfolio
    for b in view.bookings:
        places = sorted(b.task.places, key=lambda pl: (pl.skill, -pl.min_level))
        by_skill: dict[str, list[str]] = {}
        for pid in b.people:
            s = b.skill_of.get(pid)
            if s is not None:
                by_skill.setdefault(s, []).append(pid)
        for s, pids in by_skill.items():
            pids.sort(key=lambda p: -(portfolio.person_by_id[p].level(s)))
            levels = [pl.min_level for pl in places if pl.skill == s]
            for pid, level in zip(pids, levels, strict=False):
                person = portfolio.person_by_id[pid]
                h = person.day_hours * b.task.alloc / 100.0
                for (s2, lv), row in skill_level.items():
                    if s2 == s and lv <= level:
                        out[row, b.active] += h


def _unplanned(view: PlanView, tasks: list[Task], skill_level: dict[tuple[str, int], int],
               out: np.ndarray) -> None:  # fmt: skip
    for task in tasks:
        lo, hi = view.window(task)
        if hi <= lo:
            continue
        for pl, (s, work) in zip(task.places, place_hours(view.portfolio, task), strict=False):
            for (s2, lv), row in skill_level.items():
                if s2 == s and lv <= pl.min_level:
                    out[row, lo:hi] += work / (hi - lo)


def skill_level_frame(
    portfolio: Portfolio, plan: Plan | None = None, freq: str = "M"
) -> pd.DataFrame:
    """Demand against capacity per skill, level ("L or above") and period (``freq``: a pandas
    period alias, ``M`` months, ``W`` weeks), shortages first (see the module's docstring).

    Columns: ``skill``, ``level``, ``period`` (its first day), ``people`` (having the skill at
    the level or above), ``demand_hours``, ``planned_hours``, ``unplanned_hours``,
    ``capacity_hours``, ``shortage_hours`` (demand above capacity, 0 when none), ``load``
    (demand / capacity, NaN without capacity). Sorted by shortage, then load, both descending,
    then skill, level and period."""
    view = PlanView(portfolio, plan)
    levels = _levels(portfolio)
    keys = [(s, lv) for s, lvs in levels.items() for lv in lvs]
    row_of = {k: i for i, k in enumerate(keys)}
    planned = np.zeros((len(keys), view.n))
    unplanned = np.zeros_like(planned)
    cap = np.zeros_like(planned)
    if plan is None:
        spread = list(portfolio.tasks_to_plan)
    else:
        ids = {u.task for u in plan.unassigned}
        spread = [t for t in portfolio.tasks_to_plan if t.id in ids]
        _planned(view, row_of, planned)
    _unplanned(view, spread, row_of, unplanned)
    people = np.zeros(len(keys), dtype=np.int64)
    seen: set[str] = set()
    for person in portfolio.people:
        if person.id in seen:
            continue
        seen.add(person.id)
        for (s, lv), row in row_of.items():
            if person.level(s) >= lv:
                cap[row] += view.capacity_hours[person.id]
                people[row] += 1
    uniq, (p, u, c) = period_sums(view.periods(freq), planned, unplanned, cap)
    demand = p + u
    load = np.full_like(demand, np.nan)
    np.divide(demand, c, out=load, where=c > 0)
    n = len(uniq)
    df = pd.DataFrame(
        {
            "skill": pd.Series(np.repeat([k[0] for k in keys], n), dtype="string"),
            "level": pd.Series(np.repeat([k[1] for k in keys], n), dtype="int64"),
            "period": pd.DatetimeIndex(np.tile(uniq.to_numpy(), len(keys))).astype(
                "datetime64[ns]"
            ),
            "people": pd.Series(np.repeat(people, n), dtype="int64"),
            "demand_hours": demand.reshape(-1),
            "planned_hours": p.reshape(-1),
            "unplanned_hours": u.reshape(-1),
            "capacity_hours": c.reshape(-1),
            "shortage_hours": np.maximum(demand - c, 0.0).reshape(-1),
            "load": load.reshape(-1),
        }
    )
    df = df.sort_values(
        ["shortage_hours", "load", "skill", "level", "period"],
        ascending=[False, False, True, True, True],
        kind="stable",
        na_position="last",
    )
    return df.reset_index(drop=True)


def bus_factor_frame(portfolio: Portfolio, plan: Plan | None = None) -> pd.DataFrame:
    """Skills (at a level asked for) that at most one person has, most demanded first.

    Columns: ``skill``, ``level`` ("L or above"), ``people`` (0 or 1), ``person`` (NA when
    nobody), ``demand_hours`` (work of the tasks to plan needing the skill at that level or
    above), ``tasks``, ``planned_hours`` (of that person on places of the skill in ``plan``, 0
    without one), ``joins`` / ``leaves`` (the person's ``available_from`` / ``available_until`` when
    inside the horizon), ``away`` (their time off inside the horizon, ``start..end`` joined with
    ``; ``) and ``away_working_days`` (working days of the horizon the person is not available
    on their own week: time off, before joining, after leaving)."""
    view = PlanView(portfolio, plan)
    cal = portfolio.calendar
    rows: list[dict[str, Any]] = []
    for s, lvs in _levels(portfolio).items():
        for lv in lvs:
            holders = [p for p in portfolio.people if p.level(s) >= lv]
            if len(holders) > 1:
                continue
            demand, tasks = 0.0, 0
            for t in portfolio.tasks_to_plan:
                works = [
                    w
                    for pl, (_, w) in zip(t.places, place_hours(portfolio, t), strict=False)
                    if pl.skill == s and pl.min_level >= lv
                ]
                if works:
                    demand += sum(works)
                    tasks += 1
            row: dict[str, Any] = {
                "skill": s,
                "level": lv,
                "people": len(holders),
                "demand_hours": demand,
                "tasks": tasks,
                "planned_hours": 0.0,
            }
            if holders:
                p = holders[0]
                week = set(portfolio.workdays_of(p))
                own = np.array(
                    [WEEKDAYS[d.weekday()] in week for d in view.timeline.days], dtype=bool
                )
                row["person"] = p.id
                row["planned_hours"] = float(
                    sum(
                        b.hours[p.id]
                        for b in view.bookings
                        if p.id in b.hours and b.skill_of.get(p.id) == s
                    )
                )
                if p.available_from is not None and cal.start < p.available_from <= cal.end:
                    row["joins"] = p.available_from
                if p.available_until is not None and cal.start <= p.available_until < cal.end:
                    row["leaves"] = p.available_until
                row["away"] = "; ".join(
                    f"{r.start}..{r.end}"
                    for r in p.time_off
                    if r.end >= cal.start and r.start <= cal.end
                )
                row["away_working_days"] = int((own & ~view.available[p.id]).sum())
            rows.append(row)
    rows.sort(key=lambda r: (-r["demand_hours"], r["skill"], r["level"]))
    columns = {
        "skill": "string",
        "level": "int64",
        "people": "int64",
        "person": "string",
        "demand_hours": "float64",
        "tasks": "int64",
        "planned_hours": "float64",
        "joins": "datetime64[ns]",
        "leaves": "datetime64[ns]",
        "away": "string",
        "away_working_days": "Int64",
    }
    df = pd.DataFrame(rows, columns=list(columns))
    return df.astype(columns)
