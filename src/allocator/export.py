"""A plan as an Excel workbook for analysts (``allocator export PORTFOLIO PLAN -o plan.xlsx``).

Sheets, each a table of :mod:`allocator.analytics` (the engine's own figures, planner units):

* ``assignments`` -- :func:`~allocator.analytics.assignments_frame` (a row per task and
  assignee: dates, active days, booked hours, cost, days late);
* ``unassigned`` -- :func:`~allocator.analytics.unassigned_frame` with the plan's reasons;
* ``projects`` -- :func:`~allocator.analytics.project_frame` (finish against deadline, slip in
  working and calendar days, cost against budget);
* ``utilization`` -- people x month, booked hours / capacity
  (:func:`~allocator.analytics.utilization_frame` with ``freq="M"``, one column per month);
* ``kpis`` -- :func:`~allocator.analytics.headline`, a row per figure with its unit.

Columns are typed (dates are Excel dates, numbers are numbers with a number format; empty
values are empty cells), headers are frozen and filtered, widths are set. Needs ``openpyxl``
(the ``notebook`` extra).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from allocator.analytics import (
    assignments_frame,
    headline,
    project_frame,
    unassigned_frame,
    utilization_frame,
)
from allocator.domain import Plan, Portfolio

__all__ = ["KPI_UNITS", "SHEETS", "export_workbook", "workbook_frames"]

#: The sheets, in order.
SHEETS = ("kpis", "projects", "assignments", "unassigned", "utilization")

#: The unit of each headline KPI (the ``kpis`` sheet's ``unit`` column).
KPI_UNITS: Mapping[str, str] = {
    "tasks_to_plan": "tasks",
    "assigned": "tasks",
    "unassigned": "tasks",
    "work_hours": "hours of work asked for",
    "delivered_hours": "hours of work",
    "undelivered_hours": "hours of work",
    "undelivered_work_hours": "priority-weighted hours",
    "late_tasks": "tasks",
    "weighted_late_days": "priority-weighted working days",
    "late_projects": "projects",
    "projects": "projects",
    "total_hours": "booked hours",
    "total_cost": "money",
    "budget": "money",
    "budgeted_cost": "money",
    "utilization": "share of capacity",
    "makespan_days": "working days",
}

_MONEY = {"cost", "budget", "budget_left"}


def workbook_frames(portfolio: Portfolio, plan: Plan) -> dict[str, pd.DataFrame]:
    """The workbook's sheets as DataFrames (:data:`SHEETS` order)."""
    util = utilization_frame(portfolio, plan, "M")
    people = list(dict.fromkeys(p.id for p in portfolio.people))
    wide = util.pivot_table(index="person", columns="period", values="utilization", aggfunc="first")
    wide = wide.reindex(index=people)
    wide.columns = [pd.Timestamp(c).strftime("%Y-%m") for c in wide.columns]
    booked = util.groupby("person")[["hours", "capacity_hours"]].sum().reindex(people)
    wide.insert(0, "capacity_hours", booked["capacity_hours"])
    wide.insert(0, "hours", booked["hours"])
    wide = wide.reset_index().astype({"person": "string"})
    head = headline(portfolio, plan)
    kpis = pd.DataFrame(
        {
            "kpi": pd.Series(list(head), dtype="string"),
            "value": pd.Series(list(head.values()), dtype="float64"),
            "unit": pd.Series([KPI_UNITS.get(k, "") for k in head], dtype="string"),
        }
    )
    return {
        "kpis": kpis,
        "projects": project_frame(portfolio, plan),
        "assignments": assignments_frame(portfolio, plan),
        "unassigned": unassigned_frame(portfolio, plan),
        "utilization": wide,
    }


def _cell(v: Any) -> Any:
    """A value as openpyxl writes it typed: None for missing, dates as dates."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, pd.Timestamp):
        return v.date() if v == v.normalize() else v.to_pydatetime()
    if hasattr(v, "item") and not isinstance(v, str | date | datetime):
        return v.item()  # numpy scalars
    return v


def _number_format(sheet: str, column: str, dtype: Any) -> str | None:
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "yyyy-mm-dd"
    if pd.api.types.is_bool_dtype(dtype):
        return None
    if sheet == "utilization" and column not in ("person", "hours", "capacity_hours"):
        return "0%"
    if sheet == "kpis" and column == "value":
        return "#,##0.##"
    if pd.api.types.is_integer_dtype(dtype):
        return "0"
    if pd.api.types.is_float_dtype(dtype):
        return "#,##0.00" if column in _MONEY else "#,##0.0#"
    return None


def export_workbook(portfolio: Portfolio, plan: Plan, path: str | os.PathLike[str]) -> Path:
    """Write the plan's workbook (see the module) to ``path``; returns it."""
    from openpyxl import Workbook  # type: ignore[import-untyped]
    from openpyxl.styles import Font, PatternFill  # type: ignore[import-untyped]
    from openpyxl.utils import get_column_letter  # type: ignore[import-untyped]

    frames = workbook_frames(portfolio, plan)
    wb = Workbook()
    wb.remove(wb.active)
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="EEEEEE")
    for name in SHEETS:
        df = frames[name]
        ws = wb.create_sheet(name)
        ws.append([str(c) for c in df.columns])
        for row in df.itertuples(index=False, name=None):
            ws.append([_cell(v) for v in row])
        for j, column in enumerate(df.columns, start=1):
            letter = get_column_letter(j)
            head = ws.cell(row=1, column=j)
            head.font, head.fill = bold, fill
            fmt = _number_format(name, str(column), df[column].dtype)
            if fmt is not None:
                for (c,) in ws.iter_rows(min_row=2, min_col=j, max_col=j):
                    c.number_format = fmt
            values = [str(column)] + [
                "" if v is None else str(v) for v in df[column].head(200).tolist()
            ]
            width = max(len(v) for v in values)
            if pd.api.types.is_datetime64_any_dtype(df[column].dtype):
                width = max(len(str(column)), 10)  # yyyy-mm-dd
            ws.column_dimensions[letter].width = min(60, max(8, width + 2))
        ws.freeze_panes = "B2" if name != "kpis" else "A2"
        ws.auto_filter.ref = f"A1:{get_column_letter(max(1, len(df.columns)))}{len(df) + 1}"
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    wb.save(out)
    return out
