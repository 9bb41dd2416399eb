"""The notebook builder (allocator.builder): compiles to the same validated Portfolio as a
contract file, and the Solution wrapper shows plans as tables, HTML and figures."""

from __future__ import annotations

import dataclasses
import re
from datetime import date
from importlib.resources import files
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from allocator import load_portfolio
from allocator.builder import PortfolioBuilder, Solution, TaskRef, solve_portfolio
from allocator.checker import check
from allocator.domain import Pin, Portfolio
from allocator.errors import PortfolioError

EXAMPLE = Path(str(files("allocator") / "data" / "example-portfolio.json"))
FAST = {"time_limit": 2, "workers": 1, "seed": 0}


@pytest.fixture(scope="module")
def example() -> Portfolio:
    return load_portfolio(EXAMPLE)


def example_by_builder() -> PortfolioBuilder:
    """The bundled example, typed with the builder (as an analyst would)."""
    m = PortfolioBuilder(
        "example-q1",
        start="2027-01-04",
        end=date(2027, 3, 26),
        holidays=["2027-02-15"],
        objective="portfolio",
    )
    m.person(
        "ana",
        name="Ana Silva",
        skills={"python": 5, "sql": 4, "data-eng": 3},
        cost_per_hour=95,
        team="data",
    )
    ben = m.person(
        "ben",
        name="Ben Okafor",
        skills={"python": 3, "frontend": 4},
        cost_per_hour=70,
        team="web",
        time_off=[("2027-02-01", "2027-02-05")],
    )
    m.person(
        "chen",
        name="Chen Wei",
        skills={"ux": 5, "frontend": 3},
        hours_per_day=4,
        cost_per_hour=85,
        team="web",
        workdays=["Mon", "Tue", "Wed", "Thu"],
    )
    m.person(
        "dara", name="Dara Novak", skills={"qa": 4, "python": 2}, cost_per_hour=60, team="quality"
    )
    eli = m.person(
        "eli",
        name="Eli Haddad",
        skills={"sql": 3, "data-eng": 4, "devops": 3},
        cost_per_hour=80,
        team="data",
        available_from=pd.Timestamp("2027-01-18"),
    )
    m.person(
        "fay",
        name="Fay Moreau",
        skills={"pm": 4, "analysis": 4},
        cost_per_hour=90,
        team="pmo",
        reduced_capacity=[("2027-02-01", "2027-02-26", 50)],
    )
    crm = m.project("crm", name="CRM migration", priority=3, deadline="2027-03-12")
    scope = crm.task(
        "crm-scope", name="Scope and requirements", skill="analysis", min_level=3, effort_hours=40
    )
    schema = crm.task(
        "crm-schema", name="Target schema", skill="sql", min_level=4, effort_hours=48, after=[scope]
    )
    etl = crm.task(
        "crm-etl",
        name="ETL pipelines",
        skill="data-eng",
        min_level=3,
        effort_hours=120,
        after=schema,
        prefer=[eli],
    )
    test = crm.task(
        "crm-test", name="Migration tests", skill="qa", min_level=3, effort_hours=60, after=[etl]
    )
    crm.task(
        "crm-cutover",
        name="Cutover rehearsal",
        requirements=[("data-eng", 3, 1), {"skill": "qa", "count": 1}],
        duration_days=2,
        after=[test],
        deadline="2027-03-05",
    )
    portal = m.project(
        "portal",
        name="Customer portal refresh",
        priority=2,
        start_after="2027-01-11",
        deadline="2027-03-26",
    )
    ux = portal.task(
        "portal-ux", name="UX research and mock-ups", skill="ux", min_level=4, effort_hours=60
    )
    ui = portal.task(
        "portal-ui",
        name="Front-end build",
        skill="frontend",
        min_level=3,
        effort_hours=160,
        after=[ux],
    )
    api = portal.task(
        "portal-api",
        name="Customer data API",
        skill="python",
        min_level=3,
        effort_hours=80,
        after=[schema],
        exclude=[ben],
    )
    portal.task(
        "portal-qa",
        name="Acceptance testing",
        skill="qa",
        min_level=2,
        effort_hours=40,
        allocation=50,
        after=[ui, api],
    )
    ops = m.project("ops", name="Platform hardening", priority=1)
    ops.task(
        "ops-ci",
        name="CI pipeline upgrade",
        skill="devops",
        min_level=2,
        effort_hours=32,
        allocation=50,
    )
    ops.task(
        "ops-audit",
        name="Access audit",
        skill="sql",
        min_level=2,
        effort_hours=24,
        pinned_person=eli,
        pinned_start=date(2027, 1, 18),
    )
    ops.task(
        "ops-report",
        name="Quarterly PMO report",
        skill="pm",
        min_level=3,
        effort_hours=16,
        deadline="2027-01-29",
    )
    return m


def test_builder_compiles_to_the_same_portfolio_as_the_json(example: Portfolio) -> None:
    assert example_by_builder().build() == example


def test_the_issue_example() -> None:
    m = PortfolioBuilder("q1", start="2027-01-04", end="2027-03-26")
    m.person("ana", skills={"python": 5, "analysis": 3, "sql": 4}, cost_per_hour=95)
    crm = m.project("crm", priority=3, deadline="2027-03-12")
    scope = crm.task("crm-scope", skill="analysis", effort_hours=40)
    schema = crm.task("crm-schema", skill="sql", min_level=4, effort_hours=48, after=[scope])
    p = m.build()
    assert isinstance(p, Portfolio)
    assert schema == TaskRef("crm-schema", "crm")
    assert p.task_by_id["crm-schema"].predecessors == ("crm-scope",)
    assert p.project_by_id["crm"].deadline == date(2027, 3, 12)
    assert p.person_by_id["ana"].rate == 95


def test_build_lists_every_problem_with_its_path() -> None:
    m = PortfolioBuilder("bad", start="2027-01-04", end="2027-01-29")
    m.person("ana", skills={"py": 9}, hours_per_day=30)
    pr = m.project("P", priority=0)
    pr.task("a", skill="py", min_level=7, effort_hours=-1, after=["nope"])
    pr.task("b", skill="py", effort_hours=8, duration_days=2)
    with pytest.raises(PortfolioError) as info:
        m.build()
    paths = sorted(i.path for i in info.value.issues)
    assert paths == sorted(
        [
            "people[0].skills.py",
            "people[0].hours_per_day",
            "projects[0].priority",
            "projects[0].tasks[0].min_level",
            "projects[0].tasks[0].effort_hours",
            "projects[0].tasks[0].predecessors[0]",
            "projects[0].tasks[1]",
        ]
    )
    assert "task a: min_level must be 1..5, got 7" in str(info.value)


def test_rerunning_a_cell_replaces_instead_of_duplicating() -> None:
    m = PortfolioBuilder("q", start="2027-01-04", end="2027-01-29")
    for _ in range(2):
        m.person("ana", skills={"py": 3})
        p = m.project("P", priority=2)
        p.task("a", skill="py", effort_hours=8)
    m.person("ana", skills={"py": 4}, cost_per_hour=50)
    m.project("P", deadline="2027-01-22")  # updates, keeps tasks and priority
    built = m.build()
    assert [x.id for x in built.people] == ["ana"]
    assert built.person_by_id["ana"].skills["py"] == 4
    project = built.project_by_id["P"]
    assert [t.id for t in project.tasks] == ["a"]
    assert (project.priority, project.deadline) == (2, date(2027, 1, 22))


def test_edits_from_an_existing_portfolio(example: Portfolio) -> None:
    m = PortfolioBuilder.from_portfolio(example)
    assert m.build() == example
    m.person(
        "gus",
        name="Gus New",
        skills={"qa": 4, "data-eng": 3},
        cost_per_hour=65,
        available_from="2027-02-01",
    )
    m.edit_task("crm-cutover", deadline=date(2027, 2, 26), prefer=["gus"])
    m.edit_person("ben", time_off=None)
    m.edit_task("ops-audit", pinned_start=None)
    changed = m.build()
    assert len(changed.people) == len(example.people) + 1
    cut = changed.task_by_id["crm-cutover"]
    assert (cut.deadline, cut.prefer) == (date(2027, 2, 26), ("gus",))
    assert changed.person_by_id["ben"].time_off == ()
    assert changed.task_by_id["ops-audit"].pinned == Pin(person="eli")
    # the same change through dataclasses.replace on the immutable portfolio
    replaced = dataclasses.replace(
        example,
        projects=tuple(
            dataclasses.replace(
                pr,
                tasks=tuple(
                    dataclasses.replace(t, deadline=date(2027, 2, 26))
                    if t.id == "crm-cutover"
                    else t
                    for t in pr.tasks
                ),
            )
            for pr in example.projects
        ),
    )
    assert replaced.task_by_id["crm-cutover"].deadline == cut.deadline
    m.remove_task("ops-ci")
    m.remove_person("gus")
    with pytest.raises(PortfolioError, match="prefer names unknown person 'gus'"):
        m.build()
    with pytest.raises(KeyError):
        m.edit_task("nope", deadline="2027-02-01")
    with pytest.raises(TypeError, match="unknown task field"):
        m.edit_task("crm-etl", dedline="2027-02-01")


def test_numpy_and_pandas_values_are_accepted() -> None:
    m = PortfolioBuilder("np", start=pd.Timestamp("2027-01-04"), end=date(2027, 1, 29))
    m.person("ana", skills={"py": np.int64(3)}, hours_per_day=np.float64(7.5))
    m.project("P").task(
        "a", skill="py", effort_hours=np.int64(15), deadline=pd.Timestamp("2027-01-20")
    )
    p = m.build()
    assert p.person_by_id["ana"].skills["py"] == 3 and p.person_by_id["ana"].day_hours == 7.5
    assert p.task_by_id["a"].deadline == date(2027, 1, 20)


# ---------------------------------------------------------------------------------------------
# Solution
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def solution() -> Solution:
    return example_by_builder().solve(**FAST)


def test_solution_tables(solution: Solution, example: Portfolio) -> None:
    k = check(example, solution.plan).kpis
    assert solution.checked.valid
    assert solution.status in ("optimal", "feasible")
    assert isinstance(solution.assignments, pd.DataFrame)
    assert solution.assignments["hours"].sum() == pytest.approx(k.total_hours)
    assert isinstance(solution.unassigned, pd.DataFrame) and len(solution.unassigned) == 0
    kpis = solution.kpis
    assert isinstance(kpis, pd.DataFrame) and list(kpis.columns) == ["value"]
    assert kpis.loc["total_cost", "value"] == pytest.approx(k.total_cost)
    assert list(solution.by_person["person"]) == [p.id for p in example.people]
    assert solution.by_week["hours"].sum() == pytest.approx(k.total_hours)
    assert set(solution.by_skill["skill"]) >= {"python", "sql", "qa"}
    assert solution.by_team["hours"].sum() == pytest.approx(k.total_hours)
    assert solution.demand_capacity()["planned_hours"].sum() == pytest.approx(k.total_hours)
    progress = solution.progress
    assert len(progress) > 0 and progress["stage"].iloc[-1] == "done"
    assert solution.terms["undelivered_work_hours"] == 0


def test_solution_html(solution: Solution) -> None:
    page = solution._repr_html_()
    assert page.startswith("<div") and page.count("<table") >= 4
    for text in ("Plan for example-q1", solution.status, "Objective terms", "KPIs", "crm-etl"):
        assert text in page
    assert "total_hours" in page and "weighted_finish_days" in page
    assert "Solution('example-q1'" in repr(solution)
    # the objective in planner units, never one combined number
    obj = solution.objective
    assert obj is not None and list(obj) == [
        "undelivered_work_hours",
        "weighted_late_days",
        "weighted_finish_days",
        "cost",
    ]
    assert "undelivered 0 h" in page and f"cost {obj['cost']:,.2f}" in page
    assert f"finish {obj['weighted_finish_days']:,} weighted days" in repr(solution)
    assert "undelivered work (priority-weighted hours)" in page  # the terms table's labels
    assert not re.search(r"\d{16,}", page.replace(",", ""))
    table = solution.objective_table
    assert list(table.index) == list(obj) and list(table["value"]) == list(obj.values())
    assert (table["lower_bound"].dropna() <= table["value"][table["lower_bound"].notna()]).all()


def test_solution_compare_and_plots(solution: Solution, example: Portfolio) -> None:
    m = PortfolioBuilder.from_portfolio(example)
    m.project("crm", deadline="2027-02-05")
    tighter = m.solve(**FAST)
    diff = solution.compare(tighter, labels=("before", "after"))
    assert list(diff.columns) == ["before", "after", "change"]
    assert diff.loc["late_tasks", "after"] > diff.loc["late_tasks", "before"]
    for fig in (
        solution.plot.gantt(),
        solution.plot.gantt(by="project"),
        solution.plot.utilization(),
        solution.plot.demand_capacity(),
        solution.plot.progress(),
    ):
        assert isinstance(fig, go.Figure) and len(fig.data) > 0


def test_solve_portfolio_passes_parameters(example: Portfolio) -> None:
    seen = []
    sol = solve_portfolio(example, time_limit=1, greedy_only=True, on_progress=seen.append)
    assert sol.plan.extra["solver"].startswith("greedy")
    assert len(seen) == len(sol.progress) > 0
