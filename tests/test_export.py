"""The Excel export (allocator.export): sheets, typed cells, frozen filtered headers, widths,
and figures equal to the analytics' and the checker's."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from pathlib import Path

import pytest

openpyxl = pytest.importorskip("openpyxl")

from allocator import load_portfolio  # noqa: E402
from allocator.analytics import assignments_frame, headline, utilization_frame  # noqa: E402
from allocator.checker import kpis  # noqa: E402
from allocator.cli import example_path  # noqa: E402
from allocator.domain import Plan, Portfolio, Task  # noqa: E402
from allocator.engine import SolveParams, solve  # noqa: E402
from allocator.export import SHEETS, export_workbook  # noqa: E402


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> tuple[Portfolio, Plan, Path]:
    """The example plus a task needing a skill nobody has (one unassigned row)."""
    example = load_portfolio(example_path())
    projects = tuple(
        dataclasses.replace(
            p, tasks=(*p.tasks, Task(id="ops-qc", project="ops", skill="quantum", effort_hours=20))
        )
        if p.id == "ops"
        else p
        for p in example.projects
    )
    portfolio = dataclasses.replace(example, projects=projects)
    plan = solve(portfolio, SolveParams(time_limit=2, workers=1, seed=0, greedy_only=True)).plan
    out = export_workbook(portfolio, plan, tmp_path_factory.mktemp("x") / "plan.xlsx")
    return portfolio, plan, out


def _rows(ws: object) -> list[dict[str, object]]:
    values = list(ws.iter_rows(values_only=True))  # type: ignore[attr-defined]
    head = [str(h) for h in values[0]]
    return [dict(zip(head, r, strict=True)) for r in values[1:]]


def test_sheets_headers_filters_widths(book: tuple[Portfolio, Plan, Path]) -> None:
    _, _, path = book
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == list(SHEETS)
    for ws in wb:
        assert ws.freeze_panes in ("A2", "B2"), ws.title  # the header row stays in view
        last = openpyxl.utils.get_column_letter(ws.max_column)
        assert ws.auto_filter.ref == f"A1:{last}{ws.max_row}", ws.title
        assert all(c.font.bold for c in ws[1])
        for col in range(1, ws.max_column + 1):
            width = ws.column_dimensions[openpyxl.utils.get_column_letter(col)].width
            assert width is not None and 8 <= width <= 62, (ws.title, col, width)


def test_cells_are_typed(book: tuple[Portfolio, Plan, Path]) -> None:
    portfolio, _, path = book
    wb = openpyxl.load_workbook(path)
    ws = wb["assignments"]
    head = [c.value for c in ws[1]]
    row = ws[2]
    cell = {h: row[i] for i, h in enumerate(head)}
    assert isinstance(cell["start"].value, datetime | date)
    assert cell["start"].number_format == "yyyy-mm-dd"
    # numbers are numbers (Excel keeps no int/float distinction: 40.0 reads back as 40)
    assert type(cell["hours"].value) in (int, float) and cell["hours"].number_format == "#,##0.0#"
    assert type(cell["active_days"].value) is int and cell["active_days"].data_type == "n"
    assert isinstance(cell["late"].value, bool)
    assert cell["cost"].number_format == "#,##0.00"
    # an empty value is an empty cell, not "nan" or "<NA>"
    free = [
        r
        for r in _rows(ws)
        if portfolio.task_deadline(portfolio.task_by_id[str(r["task"])]) is None
    ]
    assert free and all(r["deadline"] is None for r in free)
    util = wb["utilization"]
    assert util["D1"].value == "2027-01" and util["D2"].number_format == "0%"


def test_figures_are_the_engines(book: tuple[Portfolio, Plan, Path]) -> None:
    portfolio, plan, path = book
    wb = openpyxl.load_workbook(path)
    k = kpis(portfolio, plan)
    asg = _rows(wb["assignments"])
    assert len(asg) == len(assignments_frame(portfolio, plan))
    assert sum(float(r["cost"]) for r in asg) == pytest.approx(k.total_cost)  # type: ignore[arg-type]
    assert sum(float(r["hours"]) for r in asg) == pytest.approx(k.total_hours)  # type: ignore[arg-type]
    (un,) = _rows(wb["unassigned"])
    assert un["task"] == "ops-qc" and un["work_hours"] == 20
    assert un["reasons"] == "; ".join(plan.unassigned[0].reasons)
    figures = {r["kpi"]: r["value"] for r in _rows(wb["kpis"])}
    head = headline(portfolio, plan)
    assert figures["total_cost"] == pytest.approx(k.total_cost)
    assert figures["undelivered_hours"] == 20.0 == head["undelivered_hours"]
    assert figures["budget"] is None  # no project has a budget: empty, not NaN
    u = utilization_frame(portfolio, plan, "M")
    util = {r["person"]: r for r in _rows(wb["utilization"])}
    for r in u.itertuples(index=False):
        assert util[r.person][r.period.strftime("%Y-%m")] == pytest.approx(r.utilization)
    projects = {r["project"]: r for r in _rows(wb["projects"])}
    assert set(projects) == {p.id for p in portfolio.projects}
    assert projects["ops"]["unassigned"] == 1
