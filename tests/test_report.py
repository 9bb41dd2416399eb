"""The one-page report (allocator.report): every figure is the analytics' (the engine's own), and
the page opens offline. Tables are read back from the HTML by section."""

from __future__ import annotations

import dataclasses
import re
from datetime import date
from html.parser import HTMLParser
from typing import Any

import pytest

from allocator import load_portfolio
from allocator.analytics import (
    headline,
    hiring_frame,
    late_frame,
    project_frame,
    shortage_frame,
    utilization_frame,
)
from allocator.checker import kpis
from allocator.cli import example_path
from allocator.domain import Person, Plan, Portfolio, Task
from allocator.engine import SolveParams, solve
from allocator.objective import late_days
from allocator.report import MAX_ROWS, find_chromium, report_html, write_pdf
from allocator.timeline import Timeline


class _Tables(HTMLParser):
    """Tables of a report page by the id of the ``h2`` before them: rows of cell texts (and
    the row's class), heat map cells (``data-person``, ``data-month``, title), month labels."""

    def __init__(self) -> None:
        super().__init__()
        self.section = ""
        self.tables: dict[str, list[tuple[str, list[str]]]] = {}
        self.cells: dict[tuple[str, str], str] = {}
        self.months: list[str] = []
        self._row: list[str] | None = None
        self._cls = ""
        self._cell: list[str] | None = None
        self._in_th = False
        self._g: tuple[str, str] | None = None
        self._title: list[str] | None = None
        self._month: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "h2":
            self.section = a.get("id") or ""
        elif tag == "tr":
            self._row, self._cls = [], a.get("class") or ""
        elif tag == "td" and self._row is not None:
            self._cell = []
        elif tag == "th":
            self._in_th = True
        elif tag == "br" and self._cell is not None:
            self._cell.append("\n")
        elif tag == "g" and a.get("class") == "cell":
            self._g = (a.get("data-person") or "", a.get("data-month") or "")
        elif tag == "title" and self._g is not None:
            self._title = []
        elif tag == "text" and a.get("class") == "month":
            self._month = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "th":
            self._in_th = False
        elif tag == "tr" and self._row is not None:
            if self._row:
                self.tables.setdefault(self.section, []).append((self._cls, self._row))
            self._row = None
        elif tag == "title" and self._title is not None and self._g is not None:
            self.cells[self._g] = "".join(self._title)
            self._title = None
        elif tag == "g":
            self._g = None
        elif tag == "text" and self._month is not None:
            self.months.append("".join(self._month))
            self._month = None

    def handle_data(self, data: str) -> None:
        for buf in (self._cell, self._title, self._month):
            if buf is not None:
                buf.append(data)


def parse(page: str) -> _Tables:
    t = _Tables()
    t.feed(page)
    return t


def _solve(portfolio: Portfolio) -> Plan:
    return solve(portfolio, SolveParams(time_limit=2, workers=1, seed=0, greedy_only=True)).plan


@pytest.fixture(scope="module")
def example() -> tuple[Portfolio, Plan]:
    portfolio = load_portfolio(example_path())
    return portfolio, _solve(portfolio)


def _replace_task(portfolio: Portfolio, task_id: str, **changes: Any) -> Portfolio:
    projects = tuple(
        dataclasses.replace(
            p,
            tasks=tuple(
                dataclasses.replace(t, **changes) if t.id == task_id else t for t in p.tasks
            ),
        )
        for p in portfolio.projects
    )
    return dataclasses.replace(portfolio, projects=projects)


@pytest.fixture(scope="module")
def planted_late(example: tuple[Portfolio, Plan]) -> tuple[Portfolio, Plan, date, date]:
    """The example's plan with crm-cutover's deadline moved to 3 working days before its
    planned finish: crm-cutover (and so the CRM project) is late by exactly 3 working days."""
    portfolio, plan = example
    finish = next(a.finish for a in plan.assignments if a.task == "crm-cutover")
    tl = Timeline.of(portfolio)
    deadline = tl.days[tl.last_on_or_before(finish) - 3]
    late = _replace_task(portfolio, "crm-cutover", deadline=deadline)
    return late, plan, finish, deadline


def test_planted_late_task_is_reported_with_the_engines_figures(
    planted_late: tuple[Portfolio, Plan, date, date],
) -> None:
    portfolio, plan, finish, deadline = planted_late
    frame = late_frame(portfolio, plan)
    row = frame[frame["task"] == "crm-cutover"].iloc[0]
    task = portfolio.task_by_id["crm-cutover"]
    tl = Timeline.of(portfolio)
    # 3 working days late by construction, as the engine's own definition (objective.late_days)
    assert row["late_working_days"] == 3
    assert late_days(portfolio, tl, task, tl.last_on_or_before(finish)) == 3
    assert row["late_calendar_days"] == (finish - deadline).days
    assert row["status"] == "late"
    # the checker's weighted late days are the late rows' priority x working days
    late_rows = frame[frame["status"] == "late"]
    assert kpis(portfolio, plan).weighted_late_days == int(
        (late_rows["priority"] * late_rows["late_working_days"]).sum()
    )
    # the page's late table shows the same row: dates, working and calendar days, drivers
    page = parse(report_html(portfolio, plan))
    rows = {cells[0]: (cls, cells) for cls, cells in page.tables["late"]}
    cls, cells = rows["crm-cutover"]
    assert cls == "late"
    assert cells[3:7] == [
        finish.isoformat(),
        deadline.isoformat(),
        "3",
        str(row["late_calendar_days"]),
    ]
    assert "after crm-test, which finishes" in cells[7]  # what drives it
    # the project roll-up: CRM's finish and its slip (its own deadline is later: no slip, but a
    # late task makes it a late project)
    projects = {c[0].split("\n")[0]: (k, c) for k, c in page.tables["projects"]}
    k, crm = projects["crm"]
    pf = project_frame(portfolio, plan).set_index("project").loc["crm"]
    assert k == "late" and crm[6] == "1" == str(pf["late_tasks"])
    assert crm[2] == pd_day(pf["finish"])
    # the headline counts it
    assert headline(portfolio, plan)["late_projects"] == 1


def pd_day(v: Any) -> str:
    return v.date().isoformat()


def test_project_slip_in_working_and_calendar_days(example: tuple[Portfolio, Plan]) -> None:
    """CRM's deadline moved to 2 working days before its last finish: it slips 2 working days
    and the calendar days between the two dates; cost against a planted budget."""
    portfolio, plan = example
    crm_finish = max(
        a.finish for a in plan.assignments if portfolio.task_by_id[a.task].project == "crm"
    )
    tl = Timeline.of(portfolio)
    deadline = tl.days[tl.last_on_or_before(crm_finish) - 2]
    projects = tuple(
        dataclasses.replace(p, deadline=deadline, budget=1000.0) if p.id == "crm" else p
        for p in portfolio.projects
    )
    p2 = dataclasses.replace(portfolio, projects=projects)
    pf = project_frame(p2, plan).set_index("project").loc["crm"]
    assert pf["slip_working_days"] == 2
    assert pf["slip_calendar_days"] == (crm_finish - deadline).days
    # cost is the booked cost of CRM's assignments (pay), budget left = budget - cost
    cost = sum(
        (a.cost or 0.0) for a in plan.assignments if portfolio.task_by_id[a.task].project == "crm"
    )
    assert pf["cost"] == pytest.approx(cost)
    assert pf["budget_left"] == pytest.approx(1000.0 - cost)
    page = parse(report_html(p2, plan))
    crm = next(c for _, c in page.tables["projects"] if c[0].startswith("crm"))
    assert crm[4] == "2" and crm[5] == str((crm_finish - deadline).days)
    assert crm[9] == "1,000.00" and crm[10] == f"{1000.0 - cost:,.2f}"
    head = headline(p2, plan)
    assert head["budget"] == 1000.0 and head["budgeted_cost"] == pytest.approx(cost)
    assert f"{cost - 1000.0:,.2f} over" in report_html(p2, plan)


@pytest.fixture(scope="module")
def short_and_hiring() -> tuple[Portfolio, Plan]:
    """The example with a 20-hour task needing ``quantum`` (nobody has it: unassigned) and a
    placeholder ``ml-hire`` who alone has ``ml``, which a 40-hour task needs (booked on them)."""
    example = load_portfolio(example_path())
    projects = tuple(
        dataclasses.replace(
            p,
            tasks=(
                *p.tasks,
                Task(id="ops-qc", project="ops", skill="quantum", effort_hours=20),
                Task(id="ops-ml", project="ops", skill="ml", effort_hours=40),
            ),
        )
        if p.id == "ops"
        else p
        for p in example.projects
    )
    hire = Person(id="ml-hire", skills={"ml": 3}, cost_per_hour=100, placeholder=True)
    portfolio = dataclasses.replace(example, projects=projects, people=(*example.people, hire))
    plan = _solve(portfolio)
    assert [u.task for u in plan.unassigned] == ["ops-qc"]
    return portfolio, plan


def test_unassigned_shortage_and_hiring(short_and_hiring: tuple[Portfolio, Plan]) -> None:
    portfolio, plan = short_and_hiring
    page = parse(report_html(portfolio, plan))
    # unassigned work with the plan's own reasons
    (row,) = [c for _, c in page.tables["unassigned"]]
    assert row[0] == "ops-qc" and row[3] == "20 h"
    assert row[5].split("\n") == list(plan.unassigned[0].reasons)
    assert "quantum" in row[5]
    # demand against capacity: the skill nobody has comes first, short by all its demand
    first_cls, first = page.tables["demand"][0]
    sf = shortage_frame(portfolio, plan, "M")
    assert first[0] == sf["skill"].iloc[0] == "quantum" and first_cls == "late"
    assert first[1] == "0" and first[4] == "20 h" == f"{sf['shortage_hours'].iloc[0]:g} h"
    # hiring demand: the placeholder with its booked hours, then the missing skill
    hiring = [c for _, c in page.tables["hiring"]]
    hf = hiring_frame(portfolio, plan)
    assert [c[:2] for c in hiring] == [["placeholder", "ml-hire"], ["missing skill", "quantum"]]
    booked = next(a for a in plan.assignments if a.task == "ops-ml")
    assert booked.people == ("ml-hire",)
    assert hf["hours"].iloc[0] == pytest.approx(booked.hours) and hiring[0][3] == "40 h"
    assert hiring[1][3] == "20 h"
    # the headline: undelivered work is the unassigned task's work
    head = headline(portfolio, plan)
    assert (
        head["undelivered_hours"] == 20.0 == kpis(portfolio, plan).undelivered_work_hours_unweighted
    )
    # the heat map marks the placeholder as a role to hire
    assert "ml-hire (to hire)" in report_html(portfolio, plan)


def test_heatmap_cells_are_months_with_the_analytics_figures(
    example: tuple[Portfolio, Plan],
) -> None:
    portfolio, plan = example
    page = parse(report_html(portfolio, plan))
    assert page.months == ["Jan 2027", "Feb 2027", "Mar 2027"]
    u = utilization_frame(portfolio, plan, "M")
    assert len(page.cells) == len(u) == len(portfolio.people) * 3
    for r in u.itertuples(index=False):
        tip = page.cells[(str(r.person), r.period.strftime("%Y-%m"))]
        if r.capacity_hours > 0:
            assert f": {r.utilization:.0%} (" in tip, tip
            assert f"{r.hours:,.1f}".removesuffix(".0") + " h of" in tip, tip
        else:
            assert tip.endswith("no capacity")
    # eli joins on 2027-01-18: January is part-capacity, not blank
    assert "no capacity" not in page.cells[("eli", "2027-01")]


def test_headline_kpis_are_the_checkers(example: tuple[Portfolio, Plan]) -> None:
    portfolio, plan = example
    k = kpis(portfolio, plan)
    h = headline(portfolio, plan)
    assert h["total_cost"] == k.total_cost and h["utilization"] == k.utilization
    assert h["total_hours"] == k.total_hours and h["late_tasks"] == k.late_tasks
    assert h["work_hours"] == pytest.approx(
        sum(portfolio.task_work_hours(t) for t in portfolio.tasks_to_plan)
    )
    page = report_html(portfolio, plan)
    assert f"<b>{k.total_cost:,.2f}</b>" in page
    assert f"<b>{k.utilization:.0%}</b>" in page
    assert f"{k.total_hours:,.1f}".removesuffix(".0") + " h booked" in page


def test_page_is_self_contained_and_small(example: tuple[Portfolio, Plan]) -> None:
    portfolio, plan = example
    page = report_html(portfolio, plan, title="Q1 <plan>")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    lowered = page.lower()
    for needle in ("<script", "src=", "href=", "@import", "url(", "http:", "https:", "<link"):
        assert needle not in lowered, needle
    assert "<title>Q1 &lt;plan&gt;</title>" in page  # escaped
    assert len(page.encode()) < 60_000


def test_long_tables_are_cut_and_say_how_many_more() -> None:
    from allocator.generator import generate

    portfolio = generate(40, 30, seed=1, tightness=1.6)
    plan = _solve(portfolio)
    assert len(plan.unassigned) > MAX_ROWS
    page = report_html(portfolio, plan)
    rows = parse(page).tables["unassigned"]
    assert len(rows) == MAX_ROWS
    assert f"and {len(plan.unassigned) - MAX_ROWS:,} more" in page


@pytest.mark.skipif(find_chromium() is None, reason="no chromium installed (CI installs it)")
def test_pdf_is_printed_by_headless_chromium(
    tmp_path: Any, example: tuple[Portfolio, Plan]
) -> None:
    portfolio, plan = example
    out = write_pdf(report_html(portfolio, plan), tmp_path / "r.pdf")
    data = out.read_bytes()
    assert data.startswith(b"%PDF-") and len(data) > 10_000
    assert re.search(rb"/Type\s*/Page\b", data)


def test_hiring_names_a_level_nobody_has() -> None:
    """frontend at level 5: ben has 4, chen 3, so a task needing 5 is hiring demand at that
    level (not hidden because the skill itself exists)."""
    example = load_portfolio(example_path())
    projects = tuple(
        dataclasses.replace(
            p,
            tasks=(
                *p.tasks,
                Task(id="ops-fe", project="ops", skill="frontend", min_level=5, effort_hours=16),
            ),
        )
        if p.id == "ops"
        else p
        for p in example.projects
    )
    portfolio = dataclasses.replace(example, projects=projects)
    plan = _solve(portfolio)
    assert [u.task for u in plan.unassigned] == ["ops-fe"]
    hf = hiring_frame(portfolio, plan)
    assert list(hf["role"]) == ["frontend level 5+"] and list(hf["hours"]) == [16.0]
    hiring = [c for _, c in parse(report_html(portfolio, plan)).tables["hiring"]]
    assert hiring == [
        ["missing skill", "frontend level 5+", "frontend", "16 h", "1", "-", "-", "-"]
    ]


def test_projects_lead_with_the_late_ones() -> None:
    from allocator.generator import generate

    portfolio = generate(20, 12, seed=3, tightness=1.4)
    plan = _solve(portfolio)
    pf = project_frame(portfolio, plan)
    assert 0 < int(pf["late"].sum()) < len(pf)
    rows = parse(report_html(portfolio, plan)).tables["projects"]
    classes = [cls for cls, _ in rows]
    n_late = int(pf["late"].sum())
    assert classes[:n_late] == ["late"] * n_late and "late" not in classes[n_late:]
    slips = [int(c[4]) if c[4] != "-" else 0 for _, c in rows[:n_late]]
    assert slips == sorted(slips, reverse=True)
    # every project once
    assert sorted(c[0].split("\n")[0] for _, c in rows) == sorted(pf["project"])


def test_an_infeasible_plan_and_a_portfolio_without_people_still_make_a_page() -> None:
    from allocator.domain import Unassigned

    portfolio = load_portfolio(example_path())
    plan = Plan(
        portfolio=portfolio.name,
        status="infeasible",
        objective=None,
        lower_bound=None,
        solve_seconds=0.0,
        unassigned=tuple(Unassigned(t.id, ("why not",)) for t in portfolio.tasks_to_plan),
    )
    for p in (portfolio, dataclasses.replace(portfolio, people=())):
        page = parse(report_html(p, plan))
        assert len(page.tables["unassigned"]) == len(portfolio.tasks_to_plan)
        assert "late" not in page.tables  # no late rows: the section says so
    head = headline(portfolio, plan)
    assert head["delivered_hours"] == 0.0 and head["undelivered_hours"] == head["work_hours"]


def test_late_drivers_are_facts_of_the_plan() -> None:
    """On a tight generated portfolio: every "ready D (after P, which finishes F)" names a
    predecessor finishing on F, ready the next working day; every "waits N working days for
    ..., busy with T1, T2" counts the working days from ready to the start and names tasks of
    the same people running in between."""
    from allocator.generator import generate

    portfolio = generate(20, 12, seed=3, tightness=1.4)
    plan = _solve(portfolio)
    frame = late_frame(portfolio, plan)
    assert len(frame) > 5
    tl = Timeline.of(portfolio)
    asg = {a.task: a for a in plan.assignments}
    seen_wait = 0
    for r in frame.itertuples(index=False):
        a = asg[str(r.task)]
        m = re.match(r"ready (\S+)(?:, past its deadline)? \((.*?)\)", str(r.drivers))
        assert m, r.drivers
        ready = date.fromisoformat(m.group(1))
        pm = re.match(r"after (\S+), which finishes (\S+)", m.group(2))
        if pm:
            pred = asg[pm.group(1)]
            assert pm.group(1) in portfolio.task_by_id[str(r.task)].predecessors
            assert pred.finish.isoformat() == pm.group(2)
            assert tl.idx(ready) == tl.last_on_or_before(pred.finish) + 1
        wm = re.search(
            r"waits (\d+) working days for ([^;]+?)(?:, busy with ([^;]+))?(?:;|$)", str(r.drivers)
        )
        if wm:
            seen_wait += 1
            start = tl.first_on_or_after(a.start)
            assert int(wm.group(1)) == start - tl.idx(ready)
            for other in (wm.group(3) or "").replace(" and ", ", ").split(", "):
                if not other or other.endswith("more"):
                    continue
                o = asg[other]
                assert set(o.people) & set(a.people)
                assert o.start < a.start and o.finish >= ready
    assert seen_wait > 0
