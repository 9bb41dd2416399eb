"""Analytics of a plan: the plan as tables and its KPIs, all built on one :class:`PlanView`.

*Why one file of over 800 lines*: every figure a planner sees (the notebook's frames, the
CLI summary, the report's roll-ups, the Excel export, the drivers and skills views) is computed
here from the same :class:`PlanView`, so they cannot disagree; issue 12 found late days and
KPIs computed in three places, and a split by consumer would invite that again.

:class:`PlanView` computes, once per plan, the working days, each person's availability and
capacity hours, and for each assignment (:class:`Booking`) its active days, the skill each
assignee brings, their hours and cost, and its days late (:func:`allocator.objective.late_days`,
the one definition on the library's side). :func:`assignments_frame`, :func:`kpi_frames` (per
person, team, skill and week), :func:`utilization_frame` and :func:`demand_capacity_frame` read
the view; :func:`kpi_summary` is the checker's :func:`allocator.checker.kpis` (the plan's
measures are defined once, there). The view's hours, costs, late days and utilization agree
with the checker's on valid plans (``tests/test_analytics.py``), though computed apart: the
checker is independent of this module on purpose.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from allocator.checker import kpis
from allocator.domain import Plan, Portfolio, Task
from allocator.objective import late_days
from allocator.timeline import Timeline, availability, capacity
from solver_models.matching import match

__all__ = [
    "AT_RISK_SLACK_DAYS",
    "Booking",
    "PlanView",
    "assignments_frame",
    "demand_capacity_frame",
    "headline",
    "hiring_frame",
    "kpi_diff",
    "kpi_frames",
    "kpi_summary",
    "late_frame",
    "period_sums",
    "place_hours",
    "project_frame",
    "shortage_frame",
    "unassigned_frame",
    "utilization_frame",
]


@dataclass(frozen=True, slots=True, eq=False)
class Booking:
    """One assignment as the analytics see it (the first of its task in plan order).

    ``people`` are the assignees, each once, in plan order; ``active`` the mask of its active
    days (contract *Active days*) over the working days; ``lo``/``hi`` its span ``[lo, hi)``;
    ``skill_of`` the skill of the place each assignee fills (``None`` when none is left to
    them: an invalid plan); ``hours`` (active days x hours_per_day x allocation / 100) and
    ``cost`` per assignee (0 for an unknown person).
    """

    task: Task
    start: date
    finish: date
    people: tuple[str, ...]
    lo: int
    hi: int
    active: np.ndarray
    active_days: int
    late_days: int
    skill_of: Mapping[str, str | None]
    hours: Mapping[str, float]
    cost: Mapping[str, float]


class PlanView:
    """Working days, each person's availability and capacity hours as arrays, and the plan's
    :attr:`bookings` (known tasks, first assignment each, plan order), computed once.
    ``plan=None`` gives the calendar part alone (no bookings)."""

    def __init__(self, portfolio: Portfolio, plan: Plan | None = None) -> None:
        self.portfolio = portfolio
        self.plan = plan
        self.timeline = Timeline.of(portfolio)
        self.n = len(self.timeline)
        self.index = pd.DatetimeIndex(list(self.timeline.days), dtype="datetime64[ns]")
        self.available: dict[str, np.ndarray] = {}
        self.capacity_hours: dict[str, np.ndarray] = {}
        for person in portfolio.people:
            if person.id in self.available:
                continue
            self.available[person.id] = np.array(
                availability(portfolio, self.timeline, person), dtype=bool
            ).reshape(self.n)
            self.capacity_hours[person.id] = (
                np.array(capacity(portfolio, self.timeline, person), dtype=float).reshape(self.n)
                / 100.0
                * person.day_hours
            )
        self.bookings: tuple[Booking, ...] = () if plan is None else self._book(plan)

    def _book(self, plan: Plan) -> tuple[Booking, ...]:
        portfolio = self.portfolio
        out: list[Booking] = []
        seen: set[str] = set()
        for a in plan.assignments:
            task = portfolio.task_by_id.get(a.task)
            if task is None or a.task in seen:
                continue
            seen.add(a.task)
            people = tuple(dict.fromkeys(a.people))
            lo, hi = self.span(a.start, a.finish)
            mask = self.active(a.start, a.finish, people)
            n_active = int(mask.sum())
            hours: dict[str, float] = {}
            cost: dict[str, float] = {}
            for pid in people:
                person = portfolio.person_by_id.get(pid)
                hours[pid] = n_active * (person.day_hours if person else 0.0) * task.alloc / 100.0
                cost[pid] = hours[pid] * (person.rate if person else 0.0)
            out.append(
                Booking(
                    task=task,
                    start=a.start,
                    finish=a.finish,
                    people=people,
                    lo=lo,
                    hi=hi,
                    active=mask,
                    active_days=n_active,
                    late_days=self.late_days(task, a.finish),
                    skill_of=_skill_of(portfolio, task, people),
                    hours=hours,
                    cost=cost,
                )
            )
        return tuple(out)

    def span(self, start: date, finish: date) -> tuple[int, int]:
        """Index range ``[lo, hi)`` of the working days from ``start`` to ``finish``."""
        return self.timeline.first_on_or_after(start), self.timeline.last_on_or_before(finish) + 1

    def active(self, start: date, finish: date, people: Sequence[str]) -> np.ndarray:
        """Mask of the active days of an assignment (contract *Active days*)."""
        lo, hi = self.span(start, finish)
        mask = np.zeros(self.n, dtype=bool)
        if hi > lo:
            mask[lo:hi] = True
        for pid in people:
            av = self.available.get(pid)
            if av is not None:
                mask &= av
        return mask

    def late_days(self, task: Task, finish: date) -> int:
        """Contract *Late* of ``task`` finishing on ``finish``."""
        tl = self.timeline
        return late_days(self.portfolio, tl, task, tl.last_on_or_before(finish))

    def window(self, task: Task) -> tuple[int, int]:
        """Working days ``[lo, hi)`` in which a task should run: from its earliest start to its
        deadline (the calendar's end when it has none or it leaves no day)."""
        tl = self.timeline
        lo = tl.first_on_or_after(self.portfolio.task_earliest_start(task))
        hi = self.n
        deadline = self.portfolio.task_deadline(task)
        if deadline is not None and tl.last_on_or_before(deadline) + 1 > lo:
            hi = tl.last_on_or_before(deadline) + 1
        return lo, hi

    def periods(self, freq: str) -> pd.DatetimeIndex:
        """The start of the period (``freq``: a pandas period alias, ``W`` = Mon-Sun weeks) of
        each working day."""
        if self.n == 0:
            return pd.DatetimeIndex([], dtype="datetime64[ns]")
        starts = self.index.to_period(freq).start_time
        return pd.DatetimeIndex(starts).astype("datetime64[ns]")

    def load(self) -> tuple[np.ndarray, np.ndarray]:
        """Planned hours and cost per person (rows in ``portfolio.people`` order) and working
        day."""
        portfolio = self.portfolio
        pos = {p.id: i for i, p in reversed(list(enumerate(portfolio.people)))}
        hours = np.zeros((len(portfolio.people), self.n))
        cost = np.zeros_like(hours)
        for b in self.bookings:
            for pid in b.people:
                if pid not in pos:
                    continue
                person = portfolio.people[pos[pid]]
                h = person.day_hours * b.task.alloc / 100.0
                hours[pos[pid], b.active] += h
                cost[pos[pid], b.active] += h * person.rate
        return hours, cost


def _skill_of(portfolio: Portfolio, task: Task, people: Sequence[str]) -> dict[str, str | None]:
    """The skill each assignee brings: the place they fill in a one-to-one matching of people to
    places (contract rule 2); ``None`` where no matching place exists (an invalid plan)."""
    places = task.places
    persons = [portfolio.person_by_id.get(pid) for pid in people]

    def fits(i: int, k: int) -> bool:
        p = persons[i]
        return p is not None and p.level(places[k].skill) >= places[k].min_level

    out: dict[str, str | None] = dict.fromkeys(people)
    for k, held in enumerate(match(len(persons), len(places), fits)):
        if held is not None:
            out[people[held]] = places[k].skill
    return out


_ASSIGNMENT_COLUMNS: Mapping[str, str] = {
    "task": "string",
    "task_name": "string",
    "project": "string",
    "project_name": "string",
    "person": "string",
    "person_name": "string",
    "team": "string",
    "skill": "string",
    "start": "datetime64[ns]",
    "finish": "datetime64[ns]",
    "active_days": "int64",
    "allocation": "int64",
    "hours": "float64",
    "cost": "float64",
    "priority": "int64",
    "deadline": "datetime64[ns]",
    "late_days": "int64",
    "late": "bool",
}


def _typed(rows: list[dict[str, Any]], columns: Mapping[str, str]) -> pd.DataFrame:
    data = {}
    for c, dtype in columns.items():
        values = [r.get(c) for r in rows]
        if dtype.startswith("datetime64"):
            values = [pd.NaT if v is None else pd.Timestamp(v) for v in values]
        elif dtype == "string":
            values = [pd.NA if v is None else v for v in values]
        data[c] = pd.Series(values, dtype=dtype)
    return pd.DataFrame(data, index=pd.RangeIndex(len(rows)))


def assignments_frame(portfolio: Portfolio, plan: Plan) -> pd.DataFrame:
    """One row per assigned task and assignee (one row with an empty ``person`` for a task that
    needs nobody), in plan order.

    ``active_days`` are the contract's active days; ``hours`` = active days x ``hours_per_day``
    x ``allocation`` / 100 and ``cost`` = hours x ``cost_per_hour``, so the columns add up to the
    checker's ``total_hours`` and ``total_cost``; ``skill`` is the skill of the place the person
    fills; ``late_days`` follows the contract's *Late*. Assignments of unknown tasks are skipped.
    """
    return _assignments(PlanView(portfolio, plan))


def _assignments(view: PlanView) -> pd.DataFrame:
    portfolio = view.portfolio
    rows: list[dict[str, Any]] = []
    for b in view.bookings:
        task = b.task
        project = portfolio.project_by_id.get(task.project)
        base = {
            "task": task.id,
            "task_name": task.name,
            "project": task.project,
            "project_name": None if project is None else project.name,
            "start": b.start,
            "finish": b.finish,
            "active_days": b.active_days,
            "allocation": task.alloc,
            "priority": portfolio.task_priority(task),
            "deadline": portfolio.task_deadline(task),
            "late_days": b.late_days,
            "late": b.late_days > 0,
        }
        if not b.people:
            rows.append({**base, "hours": 0.0, "cost": 0.0})
            continue
        for pid in b.people:
            person = portfolio.person_by_id.get(pid)
            rows.append(
                {
                    **base,
                    "person": pid,
                    "person_name": None if person is None else person.name,
                    "team": None if person is None else person.team,
                    "skill": b.skill_of.get(pid),
                    "hours": b.hours[pid],
                    "cost": b.cost[pid],
                }
            )
    return _typed(rows, _ASSIGNMENT_COLUMNS)


def unassigned_frame(portfolio: Portfolio, plan: Plan, sep: str = "; ") -> pd.DataFrame:
    """One row per unassigned task: ``task``, ``task_name``, ``project``, ``project_name``,
    ``priority``, ``work_hours`` (contract *Work*), ``skill`` (the skills it needs) and its
    ``reasons`` joined with ``sep``."""
    rows = []
    for u in plan.unassigned:
        task = portfolio.task_by_id.get(u.task)
        project = None if task is None else portfolio.project_by_id.get(task.project)
        rows.append(
            {
                "task": u.task,
                "task_name": None if task is None else task.name,
                "project": None if task is None else task.project,
                "project_name": None if project is None else project.name,
                "priority": None if task is None else portfolio.task_priority(task),
                "work_hours": None if task is None else portfolio.task_work_hours(task),
                "skill": None
                if task is None
                else ",".join(dict.fromkeys(pl.skill for pl in task.places)) or None,
                "reasons": sep.join(u.reasons),
            }
        )
    return _typed(
        rows,
        {
            "task": "string",
            "task_name": "string",
            "project": "string",
            "project_name": "string",
            "priority": "Int64",
            "work_hours": "float64",
            "skill": "string",
            "reasons": "string",
        },
    )


def _ratio(num: Any, den: Any) -> Any:
    """``num / den``, 0 where ``den`` is 0 (as the checker's utilization)."""
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    out = np.zeros(np.broadcast(num, den).shape)
    np.divide(num, den, out=out, where=den > 0)
    return out


def utilization_frame(portfolio: Portfolio, plan: Plan, freq: str = "W") -> pd.DataFrame:
    """Planned hours against capacity per person and period (long: ``person``, ``period`` (the
    period's first day), ``hours``, ``capacity_hours``, ``utilization``; utilization is 0 where
    the person has no capacity). Periods are pandas period aliases: ``W`` (Mon-Sun weeks), ``M``.
    """
    days = PlanView(portfolio, plan)
    hours, _ = days.load()
    cap = np.array([days.capacity_hours[p.id] for p in portfolio.people]).reshape(hours.shape)
    uniq, (h, c) = period_sums(days.periods(freq), hours, cap)
    ids = [p.id for p in portfolio.people]
    out = pd.DataFrame(
        {
            "person": pd.Series(np.repeat(ids, len(uniq)), dtype="string"),
            "period": pd.DatetimeIndex(np.tile(uniq.to_numpy(), len(ids))).astype("datetime64[ns]"),
            "hours": h.reshape(-1),
            "capacity_hours": c.reshape(-1),
            "utilization": _ratio(h, c).reshape(-1),
        }
    )
    return out


def kpi_summary(portfolio: Portfolio, plan: Plan) -> pd.Series:
    """The checker's KPIs of the plan (:func:`allocator.checker.kpis`), its ``gap`` and its
    ``portfolio`` objective terms evaluated on this portfolio (``term:undelivered_work_hours``,
    ... in planner units), as one float Series indexed by name, named after the plan's status
    (compare two with :func:`kpi_diff`). No combined objective: the terms are the objective."""
    k = kpis(portfolio, plan)
    values: dict[str, float] = {
        "gap": math.nan if plan.gap is None else float(plan.gap),
        "tasks_to_plan": k.tasks_to_plan,
        "assigned": k.assigned,
        "unassigned": k.unassigned,
        "assigned_share": k.assigned_share,
        "undelivered_work_hours": k.undelivered_work_hours,
        "late_tasks": k.late_tasks,
        "weighted_late_days": k.weighted_late_days,
        "makespan_days": k.makespan_days,
        "total_hours": k.total_hours,
        "total_cost": k.total_cost,
        "utilization": k.utilization,
    }
    for name, v in (k.objective_terms or {}).items():
        values[f"term:{name}"] = float(v)
    return pd.Series(values, dtype="float64", name=plan.status)


def kpi_diff(
    before: pd.Series, after: pd.Series, labels: tuple[str, str] = ("before", "after")
) -> pd.DataFrame:
    """Two :func:`kpi_summary` Series side by side with their ``change`` (after - before)."""
    out = pd.concat([before.rename(labels[0]), after.rename(labels[1])], axis=1)
    out["change"] = out[labels[1]] - out[labels[0]]
    return out


def kpi_frames(portfolio: Portfolio, plan: Plan, freq: str = "W") -> dict[str, pd.DataFrame]:
    """KPIs of a plan per ``person``, ``team``, ``skill`` and ``week`` (period ``freq``).

    Every table has ``hours`` (planned, contract *Hours*), ``capacity_hours`` (capacity / 100 x
    ``hours_per_day`` over the working days, as the checker's utilization), ``utilization``
    (hours / capacity, 0 without capacity), ``cost``, ``tasks`` and ``late_tasks`` (distinct
    assigned tasks, and those late, involving the row). Per skill, ``hours`` are those spent on
    places needing the skill and ``capacity_hours`` counts every person having the skill in full
    (a multi-skilled person counts under each of their skills); ``unassigned_hours`` is the work
    of the unassigned tasks needing it. Per week, a task counts in the weeks it is active and is
    late in the week it finishes.
    """
    days = PlanView(portfolio, plan)
    asg = _assignments(days)
    per = _person_kpis(portfolio, days, asg)
    # team
    teams = per.assign(team=per["team"].fillna("(no team)"))
    team_asg = asg.assign(team=asg["team"].fillna("(no team)"))
    grouped = teams.groupby("team", sort=True)
    team = pd.DataFrame(
        {
            "people": grouped["person"].count(),
            "hours": grouped["hours"].sum(),
            "capacity_hours": grouped["capacity_hours"].sum(),
            "cost": grouped["cost"].sum(),
        }
    )
    team["utilization"] = _ratio(team["hours"], team["capacity_hours"])
    team["tasks"] = team_asg.dropna(subset=["person"]).groupby("team")["task"].nunique()
    team["late_tasks"] = (
        team_asg[team_asg["late"]].dropna(subset=["person"]).groupby("team")["task"].nunique()
    )
    team = team.fillna({"tasks": 0, "late_tasks": 0}).astype(
        {"tasks": "int64", "late_tasks": "int64"}
    )
    team = team.reset_index().astype({"team": "string"})
    # skill
    skill = _skill_kpis(portfolio, plan, days, asg)
    # week
    week = _week_kpis(portfolio, days, freq)
    return {"person": per, "team": team, "skill": skill, "week": week}


def _person_kpis(portfolio: Portfolio, days: PlanView, asg: pd.DataFrame) -> pd.DataFrame:
    ids = [p.id for p in portfolio.people]
    by = asg.dropna(subset=["person"]).groupby("person")
    hours = by["hours"].sum()
    cost = by["cost"].sum()
    tasks = by["task"].nunique()
    late = asg[asg["late"]].dropna(subset=["person"]).groupby("person")["task"].nunique()
    cap = [float(days.capacity_hours[p.id].sum()) for p in portfolio.people]
    h = [float(hours.get(i, 0.0)) for i in ids]
    return pd.DataFrame(
        {
            "person": pd.Series(ids, dtype="string"),
            "name": pd.Series([p.name for p in portfolio.people], dtype="string"),
            "team": pd.Series([p.team for p in portfolio.people], dtype="string"),
            "hours": pd.Series(h, dtype="float64"),
            "capacity_hours": pd.Series(cap, dtype="float64"),
            "utilization": _ratio(h, cap),
            "cost": pd.Series([float(cost.get(i, 0.0)) for i in ids], dtype="float64"),
            "tasks": pd.Series([int(tasks.get(i, 0)) for i in ids], dtype="int64"),
            "late_tasks": pd.Series([int(late.get(i, 0)) for i in ids], dtype="int64"),
        }
    )


def _skills_in(portfolio: Portfolio) -> list[str]:
    names: dict[str, None] = {}
    for p in portfolio.people:
        names.update(dict.fromkeys(p.skills))
    for t in portfolio.tasks():
        names.update(dict.fromkeys(pl.skill for pl in t.places))
    return sorted(names)


def _skill_capacity(portfolio: Portfolio, days: PlanView, skills: Sequence[str]) -> np.ndarray:
    """Capacity hours per skill and working day: every person having the skill counts in full."""
    out = np.zeros((len(skills), days.n))
    pos = {s: i for i, s in enumerate(skills)}
    seen: set[str] = set()
    for p in portfolio.people:
        if p.id in seen:
            continue
        seen.add(p.id)
        for s, level in p.skills.items():
            if s in pos and isinstance(level, int) and level >= 1:
                out[pos[s]] += days.capacity_hours[p.id]
    return out


def _place_hours(portfolio: Portfolio, task: Task) -> list[tuple[str, float]]:
    """Work per place of a task (contract *Work*; what is left for work in progress)."""
    places = task.places
    if not places:
        return []
    prog = task.progress if task.state == "in_progress" else None
    if task.effort_hours is not None and task.requirements is None:
        work = task.effort_hours
        if prog is not None and prog.remaining_hours is not None:
            work = prog.remaining_hours
        elif prog is not None and prog.remaining_days is not None:
            work = prog.remaining_days * 8.0 * task.alloc / 100.0
        return [(places[0].skill, float(work))]
    n_days = task.duration_days or 0
    if prog is not None and prog.remaining_days is not None:
        n_days = prog.remaining_days
    return [(pl.skill, n_days * 8.0 * task.alloc / 100.0) for pl in places]


def _skill_kpis(
    portfolio: Portfolio, plan: Plan, days: PlanView, asg: pd.DataFrame
) -> pd.DataFrame:
    skills = _skills_in(portfolio)
    cap = _skill_capacity(portfolio, days, skills).sum(axis=1)
    by = asg.dropna(subset=["skill"]).groupby("skill")
    hours, cost, tasks = by["hours"].sum(), by["cost"].sum(), by["task"].nunique()
    late = asg[asg["late"]].dropna(subset=["skill"]).groupby("skill")["task"].nunique()
    holders = {s: sum(1 for p in portfolio.people if p.level(s) >= 1) for s in skills}
    unassigned: dict[str, float] = dict.fromkeys(skills, 0.0)
    for u in plan.unassigned:
        task = portfolio.task_by_id.get(u.task)
        if task is not None:
            for s, work in _place_hours(portfolio, task):
                unassigned[s] = unassigned.get(s, 0.0) + work
    h = [float(hours.get(s, 0.0)) for s in skills]
    return pd.DataFrame(
        {
            "skill": pd.Series(skills, dtype="string"),
            "people": pd.Series([holders[s] for s in skills], dtype="int64"),
            "hours": pd.Series(h, dtype="float64"),
            "capacity_hours": pd.Series(cap, dtype="float64"),
            "utilization": _ratio(h, cap),
            "cost": pd.Series([float(cost.get(s, 0.0)) for s in skills], dtype="float64"),
            "tasks": pd.Series([int(tasks.get(s, 0)) for s in skills], dtype="int64"),
            "late_tasks": pd.Series([int(late.get(s, 0)) for s in skills], dtype="int64"),
            "unassigned_hours": pd.Series([unassigned[s] for s in skills], dtype="float64"),
        }
    )


def period_sums(
    periods: pd.Index, *matrices: np.ndarray
) -> tuple[pd.DatetimeIndex, list[np.ndarray]]:
    """The distinct periods (in calendar order, as :meth:`PlanView.periods` gives them per
    working day) and each ``rows x days`` matrix with its day columns summed per period."""
    uniq = pd.DatetimeIndex(periods.unique())
    col = uniq.get_indexer(periods)
    sums = []
    for m in matrices:
        out = np.zeros((m.shape[0], len(uniq)))
        for k in range(len(uniq)):
            out[:, k] = m[:, col == k].sum(axis=1)
        sums.append(out)
    return uniq, sums


def _week_kpis(portfolio: Portfolio, days: PlanView, freq: str) -> pd.DataFrame:
    hours, cost = days.load()
    cap = sum((days.capacity_hours[p.id] for p in portfolio.people), np.zeros(days.n))
    periods = days.periods(freq)
    uniq = pd.DatetimeIndex(periods.unique())
    col = uniq.get_indexer(periods)
    n = len(uniq)
    h = np.bincount(col, weights=hours.sum(axis=0), minlength=n) if days.n else np.zeros(n)
    c = np.bincount(col, weights=cap, minlength=n) if days.n else np.zeros(n)
    k = np.bincount(col, weights=cost.sum(axis=0), minlength=n) if days.n else np.zeros(n)
    tasks = np.zeros(n, dtype=np.int64)
    late = np.zeros(n, dtype=np.int64)
    finishing = np.zeros(n, dtype=np.int64)
    for b in days.bookings:
        lo, hi = b.lo, b.hi
        if hi > lo:
            for w in np.unique(col[lo:hi]):
                tasks[w] += 1
            last = col[hi - 1]
            finishing[last] += 1
            if b.late_days > 0:
                late[last] += 1
    return pd.DataFrame(
        {
            "period": uniq.astype("datetime64[ns]"),
            "hours": h,
            "capacity_hours": c,
            "utilization": _ratio(h, c),
            "cost": k,
            "tasks": tasks,
            "finishing": finishing,
            "late_tasks": late,
        }
    )


def demand_capacity_frame(
    portfolio: Portfolio, plan: Plan | None = None, freq: str = "W"
) -> pd.DataFrame:
    """Demand against capacity per skill and period (long: ``skill``, ``period`` (first day),
    ``demand_hours`` = ``planned_hours`` + ``unplanned_hours``, ``capacity_hours``, ``load`` =
    demand / capacity (NaN without capacity)).

    **Demand** is hours of work needing the skill. Without a plan every task to plan is
    *unplanned*: its work per place (contract *Work*: ``effort_hours``, or ``duration_days`` x 8
    x ``allocation`` / 100 per place; what is left for work in progress) is spread uniformly
    over the working days of its window, from its earliest start to its deadline (to the
    calendar's end when it has no deadline, or the deadline leaves no day; a task whose window
    lies past the horizon is not counted). With a plan, an assigned task's hours are *planned*
    on its active days (``hours_per_day`` x ``allocation`` / 100 of each assignee, under the
    skill of the place the assignee fills) and only the unassigned tasks are spread.

    **Capacity** of a skill is the capacity hours (capacity / 100 x ``hours_per_day``) of
    every person having the skill at any level. A multi-skilled person is counted **in full
    under each of their skills**, so capacities do not add up across skills: demand above a
    skill's capacity is a sure shortage, demand below it is not a guarantee (the same people
    may be needed elsewhere). Levels are not considered.
    """
    days = PlanView(portfolio, plan)
    skills = _skills_in(portfolio)
    pos = {s: i for i, s in enumerate(skills)}
    planned = np.zeros((len(skills), days.n))
    unplanned = np.zeros_like(planned)
    to_spread: list[Task]
    if plan is None:
        to_spread = list(portfolio.tasks_to_plan)
    else:
        ids = {u.task for u in plan.unassigned}
        to_spread = [t for t in portfolio.tasks_to_plan if t.id in ids]
        for b in days.bookings:
            for pid in b.people:
                person = portfolio.person_by_id.get(pid)
                s = b.skill_of.get(pid)
                if person is None or s is None:
                    continue
                planned[pos[s], b.active] += person.day_hours * b.task.alloc / 100.0
    for task in to_spread:
        lo, hi = days.window(task)
        if hi <= lo:
            continue
        for s, work in _place_hours(portfolio, task):
            unplanned[pos[s], lo:hi] += work / (hi - lo)
    cap = _skill_capacity(portfolio, days, skills)
    uniq, (p, u, c) = period_sums(days.periods(freq), planned, unplanned, cap)
    demand = p + u
    load = np.full_like(demand, np.nan)
    np.divide(demand, c, out=load, where=c > 0)
    return pd.DataFrame(
        {
            "skill": pd.Series(np.repeat(skills, len(uniq)), dtype="string"),
            "period": pd.DatetimeIndex(np.tile(uniq.to_numpy(), len(skills))).astype(
                "datetime64[ns]"
            ),
            "demand_hours": demand.reshape(-1),
            "planned_hours": p.reshape(-1),
            "unplanned_hours": u.reshape(-1),
            "capacity_hours": c.reshape(-1),
            "load": load.reshape(-1),
        }
    )


# ---------------------------------------------------------------------------------------------
# Roll-ups for reports (allocator.report, allocator.export)
# ---------------------------------------------------------------------------------------------
#: An on-time task finishing this many working days or fewer before its deadline is *at risk*.
AT_RISK_SLACK_DAYS = 3


def project_frame(portfolio: Portfolio, plan: Plan) -> pd.DataFrame:
    """One row per project (portfolio order): its tasks to plan, ``assigned``, ``unassigned``,
    ``start`` / ``finish`` (first start, last finish of its assigned tasks), ``deadline`` (the
    project's), ``slip_working_days`` (working days from the last working day on or before the
    deadline to the finish, as the contract's *Late*, 0 when on time; NA without a deadline or
    an assigned task), ``slip_calendar_days`` (calendar days finish - deadline, 0 when on time),
    ``late_tasks`` (assigned tasks finishing after their own deadline), ``late`` (a late task or
    a slip), ``hours`` and ``cost`` (booked, as :func:`assignments_frame`: they add up to the
    checker's ``total_hours`` / ``total_cost``), ``budget``, ``budget_left`` (budget - cost, NA
    without a budget) and ``undelivered_hours`` (contract *Work* of its unassigned tasks,
    unweighted)."""
    view = PlanView(portfolio, plan)
    tl = view.timeline
    by_project: dict[str, list[Booking]] = {}
    for b in view.bookings:
        by_project.setdefault(b.task.project, []).append(b)
    unassigned = {u.task for u in plan.unassigned}
    rows: list[dict[str, Any]] = []
    for project in portfolio.projects:
        books = [b for b in by_project.get(project.id, []) if b.task.to_plan]
        to_plan = [t for t in project.tasks if t.to_plan]
        start = min((b.start for b in books), default=None)
        finish = max((b.finish for b in books), default=None)
        slip_w: int | None = None
        slip_c: int | None = None
        if project.deadline is not None and finish is not None:
            slip_w = max(0, tl.last_on_or_before(finish) - tl.last_on_or_before(project.deadline))
            slip_c = max(0, (finish - project.deadline).days)
        late_tasks = sum(1 for b in books if b.late_days > 0)
        cost = float(sum(sum(b.cost.values()) for b in books))
        rows.append(
            {
                "project": project.id,
                "project_name": project.name,
                "priority": project.priority if project.priority is not None else 1,
                "tasks": len(to_plan),
                "assigned": len(books),
                "unassigned": sum(1 for t in to_plan if t.id in unassigned),
                "start": start,
                "finish": finish,
                "deadline": project.deadline,
                "slip_working_days": slip_w,
                "slip_calendar_days": slip_c,
                "late_tasks": late_tasks,
                "late": late_tasks > 0 or bool(slip_w),
                "hours": float(sum(sum(b.hours.values()) for b in books)),
                "cost": cost,
                "budget": project.budget,
                "budget_left": None if project.budget is None else project.budget - cost,
                "undelivered_hours": float(
                    sum(portfolio.task_work_hours(t) for t in to_plan if t.id in unassigned)
                ),
            }
        )
    return _typed(
        rows,
        {
            "project": "string",
            "project_name": "string",
            "priority": "int64",
            "tasks": "int64",
            "assigned": "int64",
            "unassigned": "int64",
            "start": "datetime64[ns]",
            "finish": "datetime64[ns]",
            "deadline": "datetime64[ns]",
            "slip_working_days": "Int64",
            "slip_calendar_days": "Int64",
            "late_tasks": "int64",
            "late": "bool",
            "hours": "float64",
            "cost": "float64",
            "budget": "Float64",
            "budget_left": "Float64",
            "undelivered_hours": "float64",
        },
    )


def late_frame(
    portfolio: Portfolio, plan: Plan, at_risk_days: int = AT_RISK_SLACK_DAYS
) -> pd.DataFrame:
    """Late and at-risk assigned tasks with what drives their finish, late first (most working
    days late first), then at risk (least slack first).

    ``status`` is ``late`` (contract *Late* > 0: ``late_working_days``; ``late_calendar_days`` =
    finish - deadline) or ``at risk`` (on time with ``slack_working_days`` <= ``at_risk_days``:
    working days from the finish to the last working day on or before the deadline).
    ``drivers`` are facts of the plan, joined with ``"; "``: the predecessor it waits for
    (``after crm-test, which finishes 2027-03-03``) or its earliest start, the working days
    it waits past that for its people and the tasks they do meanwhile, the working days its
    people are away inside its span, and that its span alone does not fit before the deadline
    (or that it is ready only past its deadline).
    """
    view = PlanView(portfolio, plan)
    tl = view.timeline
    finish_of = {b.task.id: b for b in view.bookings}
    by_person: dict[str, list[tuple[int, Booking]]] = {}  # (plan position, booking)
    for k, b in enumerate(view.bookings):
        for pid in b.people:
            by_person.setdefault(pid, []).append((k, b))
    rows: list[dict[str, Any]] = []
    for b in view.bookings:
        deadline = portfolio.task_deadline(b.task)
        if deadline is None or b.hi <= b.lo:
            continue
        d_idx = tl.last_on_or_before(deadline)
        slack = d_idx - (b.hi - 1)
        if b.late_days == 0 and slack > at_risk_days:
            continue
        rows.append(
            {
                "task": b.task.id,
                "task_name": b.task.name,
                "project": b.task.project,
                "people": ", ".join(b.people),
                "priority": portfolio.task_priority(b.task),
                "start": b.start,
                "finish": b.finish,
                "deadline": deadline,
                "status": "late" if b.late_days > 0 else "at risk",
                "late_working_days": b.late_days,
                "late_calendar_days": max(0, (b.finish - deadline).days),
                "slack_working_days": max(0, slack),
                "drivers": "; ".join(_drivers(view, b, finish_of, by_person, d_idx)),
            }
        )
    rows.sort(
        key=lambda r: (
            r["status"] != "late",
            -r["late_working_days"],
            r["slack_working_days"],
            -r["priority"],
        )
    )
    return _typed(
        rows,
        {
            "task": "string",
            "task_name": "string",
            "project": "string",
            "people": "string",
            "priority": "int64",
            "start": "datetime64[ns]",
            "finish": "datetime64[ns]",
            "deadline": "datetime64[ns]",
            "status": "string",
            "late_working_days": "int64",
            "late_calendar_days": "int64",
            "slack_working_days": "int64",
            "drivers": "string",
        },
    )


def _drivers(
    view: PlanView,
    b: Booking,
    finish_of: Mapping[str, Booking],
    by_person: Mapping[str, Sequence[tuple[int, Booking]]],
    d_idx: int,
) -> list[str]:
    """What sets a booking's finish, as facts of the plan (see :func:`late_frame`)."""
    tl = view.timeline
    out: list[str] = []
    earliest = tl.first_on_or_after(view.portfolio.task_earliest_start(b.task))
    ready, cause = earliest, f"earliest start {view.portfolio.task_earliest_start(b.task)}"
    for pred in b.task.predecessors:
        pb = finish_of.get(pred)
        if pb is not None and pb.hi > ready:
            ready, cause = pb.hi, f"after {pred}, which finishes {pb.finish}"
    when = tl.days[ready] if ready < view.n else "after the horizon"
    past = ", past its deadline" if ready > d_idx else ""
    out.append(f"ready {when}{past} ({cause})")
    if b.lo > ready:
        # the bookings of its people, each once, in plan order
        mine = dict(kb for pid in b.people for kb in by_person.get(pid, ()))
        waits = [
            o.task.id
            for _, o in sorted(mine.items())
            if o is not b and o.lo < b.lo and o.hi > ready and o.hi <= b.hi
        ]
        text = f"waits {b.lo - ready} working days for {', '.join(b.people)}"
        if waits:
            shown = ", ".join(waits[:3]) + (f" and {len(waits) - 3} more" if len(waits) > 3 else "")
            text += f", busy with {shown}"
        out.append(text)
    away = (b.hi - b.lo) - b.active_days
    if away > 0:
        out.append(f"its people are away {away} working days inside its span")
    if ready <= d_idx and ready + (b.hi - b.lo) - 1 > d_idx:
        out.append(
            f"its span of {b.hi - b.lo} working days does not fit between ready and deadline"
        )
    return out


def hiring_frame(portfolio: Portfolio, plan: Plan) -> pd.DataFrame:
    """Hiring demand: one row per placeholder person (contract ``placeholder``: a role to fill,
    planned like a person; ``kind`` = ``placeholder``, ``role`` its id, its ``skills``, the
    ``hours`` and ``tasks`` booked on it, its ``first_start``, ``last_finish`` and ``cost``),
    then one per skill and level nobody has that unassigned work needs (``kind`` =
    ``missing skill``, ``role`` the skill, with ``level N+`` when some have it below N;
    ``hours`` its unassigned work, contract *Work*). Placeholders first, most hours first."""
    view = PlanView(portfolio, plan)
    rows: list[dict[str, Any]] = []
    for person in portfolio.people:
        if not person.is_placeholder:
            continue
        books = [b for b in view.bookings if person.id in b.people]
        rows.append(
            {
                "kind": "placeholder",
                "role": person.id,
                "name": person.name,
                "skills": ", ".join(f"{s} {lv}" for s, lv in person.skills.items()),
                "hours": float(sum(b.hours[person.id] for b in books)),
                "tasks": len(books),
                "first_start": min((b.start for b in books), default=None),
                "last_finish": max((b.finish for b in books), default=None),
                "cost": float(sum(b.cost[person.id] for b in books)),
            }
        )
    rows.sort(key=lambda r: -r["hours"])
    missing: dict[tuple[str, int], list[float]] = {}
    for u in plan.unassigned:
        task = portfolio.task_by_id.get(u.task)
        if task is None:
            continue
        for place, (s, work) in zip(task.places, _place_hours(portfolio, task), strict=False):
            if not any(p.level(s) >= place.min_level for p in portfolio.people):
                missing.setdefault((s, place.min_level), []).append(work)
    for (s, level), works in sorted(missing.items(), key=lambda kv: (-sum(kv[1]), kv[0])):
        rows.append(
            {
                "kind": "missing skill",
                "role": s if level <= 1 else f"{s} level {level}+",
                "skills": s,
                "hours": float(sum(works)),
                "tasks": len(works),
                "cost": 0.0,
            }
        )
    return _typed(
        rows,
        {
            "kind": "string",
            "role": "string",
            "name": "string",
            "skills": "string",
            "hours": "float64",
            "tasks": "int64",
            "first_start": "datetime64[ns]",
            "last_finish": "datetime64[ns]",
            "cost": "float64",
        },
    )


def shortage_frame(portfolio: Portfolio, plan: Plan | None = None, freq: str = "M") -> pd.DataFrame:
    """Demand against capacity per skill over the horizon, shortages first: ``demand_hours``,
    ``capacity_hours`` (sums of :func:`demand_capacity_frame` over periods ``freq``),
    ``shortage_hours`` (sum over periods of demand above capacity: a skill nobody has is short
    of all its demand), ``short_periods`` and ``first_short`` (the first period short), and
    ``people`` (how many have the skill). Sorted by shortage, then load, then demand."""
    df = demand_capacity_frame(portfolio, plan, freq)
    df = df.assign(short=(df["demand_hours"] - df["capacity_hours"]).clip(lower=0.0))
    rows: list[dict[str, Any]] = []
    for skill, g in df.groupby("skill", sort=True):
        over = g[g["short"] > 1e-9]
        rows.append(
            {
                "skill": skill,
                "people": sum(1 for p in portfolio.people if p.level(str(skill)) >= 1),
                "demand_hours": float(g["demand_hours"].sum()),
                "capacity_hours": float(g["capacity_hours"].sum()),
                "shortage_hours": float(over["short"].sum()),
                "short_periods": len(over),
                "first_short": over["period"].min() if len(over) else None,
            }
        )
    out = _typed(
        rows,
        {
            "skill": "string",
            "people": "int64",
            "demand_hours": "float64",
            "capacity_hours": "float64",
            "shortage_hours": "float64",
            "short_periods": "int64",
            "first_short": "datetime64[ns]",
        },
    )
    out["load"] = np.where(
        out["capacity_hours"] > 0,
        out["demand_hours"] / out["capacity_hours"].where(out["capacity_hours"] > 0, 1.0),
        np.inf,
    )
    out = out.sort_values(
        ["shortage_hours", "load", "demand_hours"], ascending=False, kind="stable"
    )
    return out.reset_index(drop=True)


def headline(portfolio: Portfolio, plan: Plan) -> dict[str, float]:
    """A plan's headline KPIs in planner units: the checker's measures
    (:func:`allocator.checker.kpis`: ``undelivered_work_hours`` priority-weighted,
    ``undelivered_hours`` unweighted, ``late_tasks``, ``weighted_late_days``, ``total_hours``
    booked, ``total_cost`` (pay: hours x cost per hour), ``utilization``, ``makespan_days``),
    ``work_hours`` (contract *Work* of the tasks to plan, the effort asked for) and
    ``delivered_hours`` (that of the assigned ones), ``late_projects`` (see
    :func:`project_frame`), ``budget`` (the sum of the projects' budgets, NaN when none has one)
    and ``budgeted_cost`` (the cost of the projects having a budget)."""
    k = kpis(portfolio, plan)
    assigned = {a.task for a in plan.assignments}
    work = [(t.id in assigned, portfolio.task_work_hours(t)) for t in portfolio.tasks_to_plan]
    projects = project_frame(portfolio, plan)
    has_budget = projects["budget"].notna()
    return {
        "tasks_to_plan": float(k.tasks_to_plan),
        "assigned": float(k.assigned),
        "unassigned": float(k.unassigned),
        "work_hours": float(sum(w for _, w in work)),
        "delivered_hours": float(sum(w for a, w in work if a)),
        "undelivered_hours": float(k.undelivered_work_hours_unweighted),
        "undelivered_work_hours": float(k.undelivered_work_hours),
        "late_tasks": float(k.late_tasks),
        "weighted_late_days": float(k.weighted_late_days),
        "late_projects": float(int(projects["late"].sum())),
        "projects": float(len(projects)),
        "total_hours": float(k.total_hours),
        "total_cost": float(k.total_cost),
        "budget": float(projects.loc[has_budget, "budget"].sum()) if has_budget.any() else math.nan,
        "budgeted_cost": float(projects.loc[has_budget, "cost"].sum()),
        "utilization": float(k.utilization),
        "makespan_days": float(k.makespan_days),
    }


def place_hours(portfolio: Portfolio, task: Task) -> list[tuple[str, float]]:
    """Work per place of a task, in place order (contract *Work*; what is left for work in
    progress): the public face of the helper :func:`demand_capacity_frame` spreads, for
    :mod:`allocator.skills`."""
    return _place_hours(portfolio, task)
