"""Figures (allocator.plots): checked for their content, and saved as HTML and PNG offline."""

from __future__ import annotations

import dataclasses
from datetime import date
from importlib.resources import files
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from allocator import load_portfolio, plots
from allocator.checker import check
from allocator.domain import Plan, Portfolio
from allocator.engine import SolveParams, solve
from allocator.frames import (
    ProgressRecorder,
    assignments_frame,
    demand_capacity_frame,
    kpi_frames,
)

EXAMPLE = Path(str(files("allocator") / "data" / "example-portfolio.json"))
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def late() -> tuple[Portfolio, Plan, ProgressRecorder]:
    """The example with the CRM deadline pulled to 2027-02-05, so some work is late."""
    example = load_portfolio(EXAMPLE)
    projects = tuple(
        dataclasses.replace(p, deadline=date(2027, 2, 5)) if p.id == "crm" else p
        for p in example.projects
    )
    portfolio = dataclasses.replace(example, projects=projects)
    rec = ProgressRecorder()
    plan = solve(portfolio, SolveParams(time_limit=2, workers=1, seed=0, on_progress=rec)).plan
    assert check(portfolio, plan).kpis.late_tasks > 0
    return portfolio, plan, rec


def bars(fig: go.Figure) -> list[go.Bar]:
    """The work's bars (not the ``away`` shading)."""
    return [t for t in fig.data if t.type == "bar" and t.name != "away"]


def test_gantt_by_person(late: tuple[Portfolio, Plan, ProgressRecorder]) -> None:
    portfolio, plan, _ = late
    asg = assignments_frame(portfolio, plan)
    fig = plots.gantt(portfolio, plan)
    # one bar per task and assignee
    assert sum(len(t.y) for t in bars(fig)) == len(asg)
    names = [t.name for t in bars(fig)]
    assert set(names) <= {p.id for p in portfolio.projects} | {"late"}
    # late work is its own trace, in its own colour, and holds exactly the late tasks
    (late_trace,) = [t for t in bars(fig) if t.name == "late"]
    assert late_trace.marker.color == plots.LATE_COLOR
    assert all(t.marker.color != plots.LATE_COLOR for t in bars(fig) if t.name != "late")
    assert late_trace.marker.pattern.shape == "/"
    late_tasks = set(asg.loc[asg["late"], "task"])
    assert {row[0] for row in late_trace.customdata} == late_tasks
    assert len(late_trace.y) == int(asg["late"].sum())
    # bars span start .. finish inclusive, on a date axis, in rows of people
    crm_scope = asg[asg["task"] == "crm-scope"].iloc[0]
    trace = next(t for t in bars(fig) if "crm-scope" in {row[0] for row in t.customdata})
    i = [row[0] for row in trace.customdata].index("crm-scope")
    assert trace.base[i] == crm_scope["start"].strftime("%Y-%m-%d")
    days = (crm_scope["finish"] - crm_scope["start"]).days + 1
    assert trace.x[i] == days * 86_400_000
    assert trace.y[i] == crm_scope["person"]
    assert fig.layout.xaxis.title.text == "date" and fig.layout.xaxis.type == "date"
    assert fig.layout.yaxis.title.text == "person"
    # everyone has a row, idle or not, in portfolio order
    assert list(fig.layout.yaxis.categoryarray) == [p.id for p in portfolio.people]


def test_gantt_by_project(late: tuple[Portfolio, Plan, ProgressRecorder]) -> None:
    portfolio, plan, _ = late
    fig = plots.gantt(portfolio, plan, by="project")
    assert sum(len(t.y) for t in bars(fig)) == len(plan.assignments)  # one bar per task
    assert fig.layout.yaxis.title.text == "task"
    assert list(fig.layout.yaxis.categoryarray) == [t.id for t in portfolio.tasks()]
    (deadlines,) = [t for t in fig.data if t.name == "deadline"]
    with_deadline = [t for t in portfolio.tasks() if portfolio.task_deadline(t) is not None]
    assert len(deadlines.x) == len(with_deadline)
    deadline = {t.id: portfolio.task_deadline(t) for t in with_deadline}
    late_ids = {
        a.task for a in plan.assignments if a.task in deadline and a.finish > deadline[a.task]
    }
    (late_trace,) = [t for t in bars(fig) if t.name == "late"]
    assert set(late_trace.y) == late_ids
    with pytest.raises(ValueError):
        plots.gantt(portfolio, plan, by="team")


def test_unassigned_work_is_announced() -> None:
    p = load_portfolio(EXAMPLE)
    plan = solve(p, SolveParams(time_limit=1, workers=1, seed=0)).plan
    half = dataclasses.replace(plan, assignments=plan.assignments[:5])
    fig = plots.gantt(p, half)
    assert sum(len(t.y) for t in bars(fig)) == len(assignments_frame(p, half))
    assert all("unassigned" not in a.text for a in fig.layout.annotations)
    from allocator.domain import Unassigned

    fig2 = plots.gantt(p, dataclasses.replace(half, unassigned=(Unassigned("x", ("why",)),)))
    assert any("1 task(s) unassigned" in a.text for a in fig2.layout.annotations)


def test_utilization_heatmap(late: tuple[Portfolio, Plan, ProgressRecorder]) -> None:
    portfolio, plan, _ = late
    fig = plots.utilization_heatmap(portfolio, plan)
    (hm,) = fig.data
    assert hm.type == "heatmap"
    z = np.asarray(hm.z, dtype=float)
    weeks = kpi_frames(portfolio, plan)["week"]
    assert z.shape == (len(portfolio.people), len(weeks)) == (6, 12)
    assert list(hm.y) == [p.id for p in portfolio.people]
    # x holds the cells' edges: each week's Monday, then the Monday after the last week
    edges = [d.strftime("%Y-%m-%d") for d in weeks["period"]]
    edges.append((weeks["period"].iloc[-1] + pd.Timedelta(days=7)).strftime("%Y-%m-%d"))
    assert list(hm.x) == edges
    # eli joins on 2027-01-18: no capacity in the first two weeks, blank cells
    eli = [p.id for p in portfolio.people].index("eli")
    assert np.isnan(z[eli, :2]).all() and not np.isnan(z[eli, 2:]).any()
    # each cell is hours / capacity of that person and week
    hours = np.asarray(hm.customdata, dtype=float)[..., 0]
    cap = np.asarray(hm.customdata, dtype=float)[..., 1]
    ok = cap > 0
    assert np.allclose(z[ok], hours[ok] / cap[ok])
    assert np.nansum(hours) == pytest.approx(check(portfolio, plan).kpis.total_hours)
    assert fig.layout.xaxis.title.text == "week" and fig.layout.yaxis.title.text == "person"
    assert hm.zmin == 0 and hm.zmax >= 1


def test_demand_capacity(late: tuple[Portfolio, Plan, ProgressRecorder]) -> None:
    portfolio, plan, _ = late
    fig = plots.demand_capacity(portfolio, plan, top=4)
    skills = list(dict.fromkeys(t.meta for t in fig.data))
    assert len(skills) == 4
    assert [t.name for t in fig.data] == ["planned", "unplanned", "capacity"] * 4
    frame = demand_capacity_frame(portfolio, plan)
    for t in fig.data:
        s = frame[frame["skill"] == t.meta]
        column = {"planned": "planned_hours", "unplanned": "unplanned_hours"}.get(
            t.name, "capacity_hours"
        )
        assert np.allclose(np.asarray(t.y, dtype=float), s[column].to_numpy())
    assert fig.layout.barmode == "stack"
    # one legend entry per kind drawn (nothing is unplanned here: no "unplanned" entry)
    assert sorted(t.name for t in fig.data if t.showlegend) == ["capacity", "planned"]
    # without a plan: all demand is unplanned, two traces per skill
    fig2 = plots.demand_capacity(portfolio, skills=["qa", "python"])
    assert [(t.meta, t.name) for t in fig2.data] == [
        ("qa", "unplanned"),
        ("qa", "capacity"),
        ("python", "unplanned"),
        ("python", "capacity"),
    ]
    assert [a.text for a in fig2.layout.annotations] == ["qa", "python"]


def test_progress(late: tuple[Portfolio, Plan, ProgressRecorder]) -> None:
    _, _, rec = late
    df = rec.frame()
    terms = ["undelivered_work_hours", "weighted_late_days", "weighted_finish_days", "cost"]
    fig = plots.progress(rec)
    # the portfolio objective: one panel per term, in priority order, in planner units
    assert [(t.meta, t.name) for t in fig.data] == [
        (term, kind) for term in terms for kind in ("value", "bound")
    ]
    titles = [a.text for a in fig.layout.annotations]
    assert titles[0] == "undelivered work (priority-weighted hours)"
    assert titles[3] == "charged cost (money: pay + skill-fit charges)"
    assert fig.data[-1].xaxis == f"x{len(terms)}"
    assert fig.layout[f"xaxis{len(terms)}"].title.text == "seconds"
    # each panel ends on the plan's figures (the done report, held to the end)
    done = df.iloc[-1]
    for k, term in enumerate(terms):
        assert fig.data[2 * k].y[-1] == pytest.approx(done[term])
    # a CP-SAT stage's solutions are points of its own term's panel only
    late_stage = df[df["term"] == "weighted_late_days"]
    assert len(late_stage) and set(late_stage["elapsed"]) <= set(fig.data[2].x)
    assert not set(late_stage["elapsed"]) & set(fig.data[0].x[:-1])
    greedy = df[~df["stage"].str.startswith("cp-sat:")]
    fig2 = plots.progress(greedy)
    assert [t.meta for t in fig2.data] == [t for t in terms for _ in ("value", "bound")]


# ---------------------------------------------------------------------------------------------
# Saving
# ---------------------------------------------------------------------------------------------
def test_save_html(tmp_path: Path, late: tuple[Portfolio, Plan, ProgressRecorder]) -> None:
    portfolio, plan, _ = late
    out = plots.save(plots.gantt(portfolio, plan), tmp_path / "gantt.html")
    text = out.read_text(encoding="utf-8")
    assert "<html>" in text and "crm-etl" in text
    # plotly.js is inlined (no <script src=...>): the page opens offline
    assert '<script src="https://cdn.plot.ly' not in text and len(text) > 1_000_000


@pytest.mark.parametrize("engine", ["kaleido", "matplotlib", "auto"])
def test_save_png(
    tmp_path: Path, late: tuple[Portfolio, Plan, ProgressRecorder], engine: str
) -> None:
    portfolio, plan, rec = late
    figures = {
        "gantt": plots.gantt(portfolio, plan),
        "heatmap": plots.utilization_heatmap(portfolio, plan),
        "demand": plots.demand_capacity(portfolio, plan, top=3),
        "progress": plots.progress(rec),
    }
    for name, fig in figures.items():
        out = plots.save(fig, tmp_path / f"{name}-{engine}.png", engine=engine, timeout=60)
        data = out.read_bytes()
        assert data[:8] == PNG_MAGIC, name
        assert len(data) > 5_000, name


def test_save_svg_with_matplotlib(
    tmp_path: Path, late: tuple[Portfolio, Plan, ProgressRecorder]
) -> None:
    portfolio, plan, _ = late
    out = plots.save(
        plots.gantt(portfolio, plan, by="project"), tmp_path / "g.svg", engine="matplotlib"
    )
    assert out.read_text(encoding="utf-8").lstrip().startswith(("<?xml", "<svg"))


def test_save_rejects_unknown_formats(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot save"):
        plots.save(go.Figure(), tmp_path / "x.docx")
    with pytest.raises(ValueError, match="engine"):
        plots.save(go.Figure(), tmp_path / "x.png", engine="paint")


def test_figures_are_restylable(late: tuple[Portfolio, Plan, ProgressRecorder]) -> None:
    portfolio, plan, _ = late
    fig = plots.gantt(portfolio, plan)
    fig.update_traces(selector=dict(name="late"), marker_color="black")
    assert next(t for t in fig.data if t.name == "late").marker.color == "black"
    assert isinstance(pd.DataFrame(fig.data[0].customdata), pd.DataFrame)


# ---------------------------------------------------------------------------------------------
# The fixes of issue #14 item 4, each checked by content
# ---------------------------------------------------------------------------------------------
def _with(portfolio: Portfolio, *, people: tuple = (), tasks: tuple = ()) -> Portfolio:
    """The portfolio with more people and more tasks (in project ``ops``)."""
    projects = tuple(
        dataclasses.replace(p, tasks=p.tasks + tasks) if p.id == "ops" else p
        for p in portfolio.projects
    )
    return dataclasses.replace(portfolio, people=portfolio.people + people, projects=projects)


@pytest.fixture(scope="module")
def idle_and_short() -> tuple[Portfolio, Plan]:
    """The example with an idle senior (zoe: only COBOL, which nothing needs) and a 20-hour
    task needing ``quantum``, a skill nobody has (so it is unassigned)."""
    from allocator.domain import Person, Task

    example = load_portfolio(EXAMPLE)
    portfolio = _with(
        example,
        people=(Person(id="zoe", skills={"cobol": 5}, cost_per_hour=120),),
        tasks=(Task(id="ops-qc", project="ops", skill="quantum", effort_hours=20),),
    )
    plan = solve(portfolio, SolveParams(time_limit=2, workers=1, seed=0, greedy_only=True)).plan
    assert [u.task for u in plan.unassigned] == ["ops-qc"]
    return portfolio, plan


def test_gantt_shows_everyone_with_task_names_gaps_and_time_off(
    idle_and_short: tuple[Portfolio, Plan],
) -> None:
    portfolio, plan = idle_and_short
    fig = plots.gantt(portfolio, plan)
    # the idle senior keeps a row, and it says idle
    assert "zoe" in fig.layout.yaxis.categoryarray
    (idle,) = [t for t in fig.data if t.name == "idle"]
    assert list(idle.y) == ["zoe"] and "idle" in idle.text[0]
    # every bar is labelled with its task, and has a white edge (touching tasks stay apart)
    for t in bars(fig):
        assert list(t.text) == [row[0] for row in t.customdata]
        assert t.marker.line.width >= 1 and t.marker.line.color == "white"
    # time off shaded: ben away 2027-02-01..05 (5 calendar days), eli before joining on
    # 2027-01-18 (2027-01-04..15: 12 calendar days); chen's Fridays are his week, not time off
    (away,) = [t for t in fig.data if t.name == "away"]
    spans = {(y, b, w / 86_400_000) for y, b, w in zip(away.y, away.base, away.x, strict=True)}
    assert ("ben", "2027-02-01", 5.0) in spans
    assert ("eli", "2027-01-04", 12.0) in spans
    assert "chen" not in set(away.y)
    # away is drawn first, behind the work
    assert fig.data[0].name == "away"


def test_gantt_today_line(late: tuple[Portfolio, Plan, ProgressRecorder]) -> None:
    portfolio, plan, _ = late
    fig = plots.gantt(portfolio, plan, today=date(2027, 2, 10))
    ms = pd.Timestamp("2027-02-10").value // 1_000_000
    assert [s.x0 for s in fig.layout.shapes] == [ms]
    assert any(a.text == "today 2027-02-10" for a in fig.layout.annotations)
    # the portfolio's as_of is today by default
    fig2 = plots.gantt(dataclasses.replace(portfolio, as_of=date(2027, 1, 20)), plan)
    assert any(a.text == "today 2027-01-20" for a in fig2.layout.annotations)


def test_monthly_heatmap_cells_are_calendar_months(
    late: tuple[Portfolio, Plan, ProgressRecorder],
) -> None:
    """Cells span a month from its 1st to the next 1st ("Feb 2027" is February, not mid-Jan to
    mid-Feb), with a tick per month."""
    portfolio, plan, _ = late
    fig = plots.utilization_heatmap(portfolio, plan, freq="M")
    (hm,) = fig.data
    assert list(hm.x) == ["2027-01-01", "2027-02-01", "2027-03-01", "2027-04-01"]
    assert np.asarray(hm.z).shape == (len(portfolio.people), 3)
    assert list(hm.text[0]) == ["Jan 2027", "Feb 2027", "Mar 2027"]
    assert fig.layout.xaxis.dtick == "M1" and fig.layout.xaxis.tickformat == "%b %Y"
    assert fig.layout.xaxis.title.text == "month"


def test_demand_capacity_puts_the_shortage_first(idle_and_short: tuple[Portfolio, Plan]) -> None:
    """A skill nobody has is the one real shortage: first, though 9th by demand."""
    portfolio, plan = idle_and_short
    frame = demand_capacity_frame(portfolio, plan)
    by_demand = frame.groupby("skill")["demand_hours"].sum().sort_values(ascending=False)
    assert list(by_demand.index).index("quantum") >= 8  # the old default (top 8) missed it
    fig = plots.demand_capacity(portfolio, plan)
    panels = list(dict.fromkeys(t.meta for t in fig.data))
    assert panels[0] == "quantum" and len(panels) == 8
    (cap,) = [t for t in fig.data if t.meta == "quantum" and t.name == "capacity"]
    assert not np.asarray(cap.y, dtype=float).any()


def test_demand_capacity_legend_only_for_drawn_bars_and_beside_the_title(
    late: tuple[Portfolio, Plan, ProgressRecorder], idle_and_short: tuple[Portfolio, Plan]
) -> None:
    portfolio, plan, _ = late
    assert not plan.unassigned  # everything planned: no unplanned bars anywhere
    fig = plots.demand_capacity(portfolio, plan)
    legend = [t for t in fig.data if t.showlegend]
    assert sorted(t.name for t in legend) == ["capacity", "planned"]
    for t in legend:
        if t.type == "bar":
            assert (np.asarray(t.y, dtype=float) > 0).any()
    # the legend stands beside the panels, not over the title
    assert fig.layout.legend.orientation == "v" and fig.layout.legend.x > 1
    assert fig.layout.legend.y <= 1
    # with unassigned work, "unplanned" is drawn and has its entry
    p2, plan2 = idle_and_short
    fig2 = plots.demand_capacity(p2, plan2)
    assert sorted(t.name for t in fig2.data if t.showlegend) == ["capacity", "planned", "unplanned"]


def test_progress_holds_proven_bounds_and_says_the_final_figures() -> None:
    """A greedy value of 15, a CP-SAT bound of 0 at first, an LNS report without bound, then
    done with 15 proven: the bound line is held over the report without bound and ends on 15,
    and the panel says "final 15 (proven)" (never a bound of 0 under 15 beside optimal)."""
    df = pd.DataFrame(
        {
            "stage": ["greedy-priority", "cp-sat:late", "lns", "done"],
            "term": [None, "weighted_late_days", None, None],
            "elapsed": [0.1, 0.5, 1.0, 1.0],
            "gap": [np.nan, 1.0, np.nan, 0.0],
            "weighted_late_days": [15.0, 15.0, 15.0, 15.0],
            "weighted_late_days_bound": [np.nan, 0.0, np.nan, 15.0],
        }
    )
    fig = plots.progress(df)
    value, bound = fig.data
    assert np.isnan(bound.y[0]) and list(bound.y[1:]) == [0.0, 0.0, 15.0]
    assert bound.y[-1] == value.y[-1] == 15.0
    assert "markers" in bound.mode  # a lone bound point is visible
    assert [a.text for a in fig.layout.annotations if a.name == "final:weighted_late_days"] == [
        "final 15 (proven)"
    ]
    # a bound below the value is said so
    df.loc[3, "weighted_late_days_bound"] = 9.0
    texts = [a.text for a in plots.progress(df).layout.annotations if a.name]
    assert texts == ["final 15 (bound 9)"]
