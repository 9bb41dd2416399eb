"""Tables out: a :class:`~allocator.domain.Portfolio` as the typed tables of
:mod:`allocator.frames` (:func:`portfolio_to_frames`; ``portfolio_from_tables`` of the result
equals the portfolio)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from allocator.domain import Policy, Portfolio, Task, contract_fields
from allocator.table_schema import DTYPES, SCHEMA

log = logging.getLogger(__name__)

__all__ = ["portfolio_to_frames"]


def _frame(table: str, rows: list[dict[str, Any]]) -> pd.DataFrame:
    data: dict[str, pd.Series] = {}
    for col in SCHEMA[table]:
        values = [r.get(col.name) for r in rows]
        if col.kind == "date":
            series = pd.Series(
                [pd.NaT if v is None else pd.Timestamp(v) for v in values],
                dtype="datetime64[ns]",
            )
        elif col.kind == "num":
            series = pd.Series([np.nan if v is None else float(v) for v in values], dtype="float64")
        else:
            series = pd.Series([pd.NA if v is None else v for v in values], dtype=DTYPES[col.kind])
        data[col.name] = series
    return pd.DataFrame(data, index=pd.RangeIndex(len(rows)))


def _join(items: Sequence[str] | None, *, empty_is_none: bool = True) -> str | None:
    if items is None:
        return None
    if not items and empty_is_none:
        return None
    return ",".join(items)


def portfolio_to_frames(portfolio: Portfolio) -> dict[str, pd.DataFrame]:
    """The portfolio as the tables of :func:`portfolio_from_frames`, every table present
    (possibly empty), typed; ``portfolio_from_tables`` of the result equals the portfolio."""
    p = portfolio
    settings = [
        {
            "name": p.name,
            "start": p.calendar.start,
            "end": p.calendar.end,
            "workdays": _join(p.calendar.workdays, empty_is_none=False),
            "as_of": p.as_of,
            **{key: getattr(p.policy, key) for key, _ in contract_fields(Policy)},
        }
    ]
    people: list[dict[str, Any]] = []
    skills: list[dict[str, Any]] = []
    time_off: list[dict[str, Any]] = []
    reduced: list[dict[str, Any]] = []
    for x in p.people:
        people.append(
            {
                "id": x.id,
                "name": x.name,
                "hours_per_day": x.hours_per_day,
                "cost_per_hour": x.cost_per_hour,
                "workdays": _join(x.workdays, empty_is_none=False),
                "available_from": x.available_from,
                "available_until": x.available_until,
                "team": x.team,
                "placeholder": x.placeholder,
            }
        )
        skills += [{"person": x.id, "skill": s, "level": lv} for s, lv in x.skills.items()]
        time_off += [{"person": x.id, "start": r.start, "end": r.end} for r in x.time_off]
        reduced += [
            {"person": x.id, "start": r.start, "end": r.end, "percent": r.percent}
            for r in x.reduced_capacity
        ]
    projects: list[dict[str, Any]] = []
    tasks: list[dict[str, Any]] = []
    reqs: list[dict[str, Any]] = []
    for pr in p.projects:
        projects.append(
            {
                "id": pr.id,
                "name": pr.name,
                "priority": pr.priority,
                "start_after": pr.start_after,
                "deadline": pr.deadline,
                "budget": pr.budget,
                "all_or_nothing": pr.all_or_nothing,
            }
        )
        for t in pr.tasks:
            tasks.append(_task_row(t))
            if t.requirements is not None:
                if not t.requirements:
                    reqs.append({"task": t.id})
                for q in t.requirements:
                    reqs.append(
                        {"task": t.id, "skill": q.skill, "min_level": q.min_level, "count": q.count}
                    )
    return {
        "settings": _frame("settings", settings),
        "holidays": _frame("holidays", [{"date": d} for d in p.calendar.holidays]),
        "people": _frame("people", people),
        "skills": _frame("skills", skills),
        "time_off": _frame("time_off", time_off),
        "reduced_capacity": _frame("reduced_capacity", reduced),
        "projects": _frame("projects", projects),
        "tasks": _frame("tasks", tasks),
        "requirements": _frame("requirements", reqs),
    }


def _task_row(t: Task) -> dict[str, Any]:
    return {
        "id": t.id,
        "project": t.project,
        "name": t.name,
        "skill": t.skill,
        "min_level": t.min_level,
        "effort_hours": t.effort_hours,
        "duration_days": t.duration_days,
        "allocation": t.allocation,
        "predecessors": _join(t.predecessors),
        "earliest_start": t.earliest_start,
        "deadline": t.deadline,
        "priority": t.priority,
        "exclude": _join(t.exclude),
        "prefer": _join(t.prefer),
        "pinned_person": None if t.pinned is None else t.pinned.person,
        "pinned_start": None if t.pinned is None else t.pinned.start,
        "status": t.status,
        "progress_people": None if t.progress is None else _join(t.progress.people),
        "remaining_hours": None if t.progress is None else t.progress.remaining_hours,
        "remaining_days": None if t.progress is None else t.progress.remaining_days,
        "estimate_low": None if t.estimate is None else t.estimate.low,
        "estimate_high": None if t.estimate is None else t.estimate.high,
    }
