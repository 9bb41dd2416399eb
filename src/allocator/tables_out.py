"""Tables out: a :class:`~allocator.domain.Portfolio` as the typed tables of
:mod:`allocator.frames` (:func:`portfolio_to_frames`; ``portfolio_from_tables`` of the result
equals the portfolio). The cells of each row come from the records' field table."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from allocator.domain import RECORD_KINDS, Portfolio, Spec, contract_fields
from allocator.table_schema import DTYPES, FLAT, RECORD_TABLES, SCHEMA

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


def _cell(value: Any, spec: Spec) -> Any:
    """A field's value as its cell: a list joined by commas (empty ``workdays`` is ``""``, any
    other empty list no cell)."""
    if spec.kind == "weekdays":
        return _join(value, empty_is_none=False)
    if spec.kind == "ids":
        return _join(value)
    return value


def _row(record: Any, **first: Any) -> dict[str, Any]:
    """The cells of a record's fields that are one column each (``first``: the key columns),
    and of its nested records flattened into the table (:data:`FLAT`)."""
    out = dict(first)
    flat = FLAT.get(type(record), {})
    for key, spec in contract_fields(type(record)):
        if spec.kind not in RECORD_KINDS and spec.kind != "nested":
            out[key] = _cell(getattr(record, key), spec)
        elif key in flat and spec.record is not None:
            nested = getattr(record, key)
            subs = dict(contract_fields(spec.record))
            for sub, col in flat[key].items():
                out[col] = None if nested is None else _cell(getattr(nested, sub), subs[sub])
    return out


def _rows(table: str, owner: Any) -> list[dict[str, Any]]:
    """The rows of a table of nested records (:data:`RECORD_TABLES`) for one owner."""
    spec = RECORD_TABLES[table]
    return [_row(item, **{spec.key: owner.id}) for item in getattr(owner, spec.field) or ()]


def portfolio_to_frames(portfolio: Portfolio) -> dict[str, pd.DataFrame]:
    """The portfolio as the tables of :func:`portfolio_from_frames`, every table present
    (possibly empty), typed; ``portfolio_from_tables`` of the result equals the portfolio."""
    p = portfolio
    settings = [
        {
            "name": p.name,
            **_row(p.calendar),
            "as_of": p.as_of,
            **_row(p.policy),
        }
    ]
    people: list[dict[str, Any]] = []
    skills: list[dict[str, Any]] = []
    time_off: list[dict[str, Any]] = []
    reduced: list[dict[str, Any]] = []
    for x in p.people:
        people.append(_row(x))
        skills += [{"person": x.id, "skill": s, "level": lv} for s, lv in x.skills.items()]
        time_off += _rows("time_off", x)
        reduced += _rows("reduced_capacity", x)
    projects: list[dict[str, Any]] = []
    tasks: list[dict[str, Any]] = []
    reqs: list[dict[str, Any]] = []
    for pr in p.projects:
        projects.append(_row(pr))
        for t in pr.tasks:
            tasks.append(_row(t, id=t.id, project=t.project))
            if t.requirements is not None and not t.requirements:
                reqs.append({"task": t.id})  # a team task that needs nobody
            reqs += _rows("requirements", t)
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
