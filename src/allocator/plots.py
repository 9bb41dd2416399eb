"""Pictures of portfolios and plans, as plotly figures analysts can restyle.

*Why one file of over 800 lines*: one builder per picture, sharing the helpers that make them
read alike (month-aligned axes, the today line, time off shading, legends only for what is
drawn, the colours of late and away); each builder is short and tested by content.

Every function returns a :class:`plotly.graph_objects.Figure` whose traces carry names
(``fig.update_traces(selector=dict(name="late"), marker_color="black")``) and whose data come
from the tables of :mod:`allocator.frames`:

* :func:`gantt` -- bars per assignment, by person or by project, one trace per project for work
  on time and one ``late`` trace (red, hatched) for tasks finishing after their deadline; each
  bar names its task and has a white edge (touching tasks stay apart); a ``today`` line; by
  person, everyone has a row (an idle person's says so) and absences are shaded (``away``); by
  project, the deadlines are marked.
* :func:`utilization_heatmap` -- planned hours / capacity, person x week (or month: each cell
  spans its calendar month exactly, with a tick per month).
* :func:`demand_capacity` -- per skill, demand (planned and unplanned hours, stacked bars)
  against capacity (a line) over time, shortages first (a skill nobody has leads); a legend
  entry only for what is drawn, beside the panels; see
  :func:`allocator.frames.demand_capacity_frame` for how multi-skilled people count.
* :func:`progress` -- the solver's objective and bound over time, one panel per objective term
  in planner units, bounds held until a later report raises them, each panel saying its final
  figures (record them with :class:`ProgressRecorder`, passed as ``SolveParams(on_progress=...)``).
* :func:`risk` -- schedule risk per project from :func:`allocator.risk.simulate`: P(on time) as
  bars beside its P50/P80/P95 finish, planned finish and deadline on a date axis.

**Saving** (:func:`save`): ``.html`` always works (a self-contained page, plotly.js inlined, so
it opens offline). Static images (``.png``, ``.svg``, ``.pdf``, ``.jpeg``) are tried, in order:

1. **kaleido 0.2.x** (the ``notebook`` extra pins ``kaleido>=0.2.1,<0.3``): its wheel bundles
   its own headless Chromium, so it works offline. Recent plotly refuses it in
   ``fig.write_image`` (plotly 7.1 here: "Image export requires the Kaleido package, v1.0.0
   or greater"), so it is driven directly
   (``kaleido.scopes.plotly.PlotlyScope``) with the plotly.js shipped inside the ``plotly``
   package (without ``plotlyjs=`` it would fetch plotly.js from a CDN). Measured on the
   development machine (Linux x86-64, no network, Python 3.11, plotly 7.1, kaleido 0.2.1):
   the first image of a process takes 1-2 s (Chromium starts), later ones 0.1-0.4 s (the
   example's Gantt, heatmap, demand and progress figures); the PNGs match the interactive
   figures. A render that has not answered in ``timeout`` seconds is abandoned (Chromium is
   stopped) and the next renderer is tried.
2. **kaleido >= 1** through ``fig.to_image``: needs a Chrome or Chromium installed on the
   machine (kaleido 1.x can download one, which an offline machine cannot). Not measured here:
   this machine has neither Chrome nor network.
3. **matplotlib**: a plain static rendering of the same traces (horizontal bars with a base,
   vertical and stacked bars, heatmaps, lines and markers; one panel per subplot), for
   ``.png``, ``.svg`` and ``.pdf``; 0.3-2 s per image here. Colours, titles, category order and
   hatching of late work follow the figure; plotly-only styling (hover, annotations other than
   subplot titles, colour bars' formats) is dropped.

``engine="kaleido"`` or ``"matplotlib"`` forces one; ``"auto"`` takes the first that works.
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
import math
import os
import threading
from collections.abc import Sequence
from datetime import date, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from allocator.analytics import PlanView
from allocator.domain import WEEKDAYS, Plan, Portfolio
from allocator.frames import (
    ProgressRecorder,
    assignments_frame,
    demand_capacity_frame,
    utilization_frame,
)
from allocator.risk import RiskResult
from allocator.terms_text import term_label

log = logging.getLogger(__name__)

__all__ = [
    "LATE_COLOR",
    "ProgressRecorder",
    "demand_capacity",
    "gantt",
    "progress",
    "risk",
    "save",
    "utilization_heatmap",
]

#: Colour of late work (and of nothing else).
LATE_COLOR = "#d62728"
#: Colours of projects (no red: red means late).
PALETTE = (
    "#1f77b4",
    "#2ca02c",
    "#9467bd",
    "#8c564b",
    "#17becf",
    "#bcbd22",
    "#7f7f7f",
    "#e377c2",
    "#aec7e8",
    "#98df8a",
    "#c5b0d5",
    "#ff7f0e",
)
_DAY_MS = 86_400_000


def _iso(values: Any) -> list[str]:
    return [pd.Timestamp(v).strftime("%Y-%m-%d") for v in values]


#: Width of the white edge of Gantt bars (px): touching tasks stay apart.
BAR_EDGE = 1.5
#: Colour of the ``away`` shading (time off, before joining, after leaving).
AWAY_COLOR = "#dddddd"


def _day_ms(d: date) -> float:
    """A date as plotly's date-axis milliseconds (for shapes on a date axis)."""
    return float(pd.Timestamp(d).value // 1_000_000)


def _today_in(portfolio: Portfolio, today: date | None) -> date | None:
    if today is not None:
        return today
    if portfolio.as_of is not None:
        return portfolio.as_of
    now = date.today()
    return now if portfolio.calendar.start <= now <= portfolio.calendar.end else None


def _away_bars(portfolio: Portfolio, people: Sequence[str]) -> go.Bar | None:
    """One bar per run of working days a person is not available (grey, behind the work)."""
    view = PlanView(portfolio)
    days = view.timeline.days
    weekday = [WEEKDAYS[d.weekday()] for d in days]
    ys: list[str] = []
    base: list[str] = []
    width: list[float] = []
    for pid in people:
        av = view.available.get(pid)
        person = portfolio.person_by_id.get(pid)
        if av is None or person is None:
            continue
        # a day off of the person's own week (a part-timer's Friday) is not shaded
        usual = set(portfolio.workdays_of(person))
        av = av | np.array([w not in usual for w in weekday], dtype=bool)
        k = 0
        while k < view.n:
            if av[k]:
                k += 1
                continue
            j = k
            while j + 1 < view.n and not av[j + 1]:
                j += 1
            ys.append(pid)
            base.append(days[k].isoformat())
            width.append(float((days[j] - days[k]).days + 1) * _DAY_MS)
            k = j + 1
    if not ys:
        return None
    return go.Bar(
        name="away",
        orientation="h",
        y=ys,
        base=base,
        x=width,
        marker=dict(color=AWAY_COLOR, line=dict(width=0)),
        hovertemplate="%{y} away from %{base|%Y-%m-%d}<extra></extra>",
        legendgroup="away",
    )


# ---------------------------------------------------------------------------------------------
# Gantt
# ---------------------------------------------------------------------------------------------
def gantt(
    portfolio: Portfolio,
    plan: Plan,
    by: str = "person",
    *,
    title: str | None = None,
    assignments: pd.DataFrame | None = None,
    today: date | None = None,
) -> go.Figure:
    """A Gantt chart of the plan: ``by="person"`` (one bar per task and assignee, a row per
    person, **everyone** in portfolio order: an idle person keeps a row marked ``idle``, and the
    working days a person is away (time off, before joining, after leaving) are shaded in the
    ``away`` trace) or ``by="project"`` (one bar per task, rows grouped by project, deadlines
    marked). Each bar carries its task's id as text and a white edge, so touching tasks stay
    apart. A dotted ``today`` line marks ``today`` (default: the portfolio's ``as_of``, else
    the current date when it falls in the calendar).

    Bars span ``start`` .. ``finish`` inclusive (to the end of the finish day). Work on time is
    coloured by project (one trace per project, named after it); tasks finishing after their
    deadline are in the ``late`` trace (red, hatched). Hover shows the task, people, hours and
    days late. ``assignments`` may pass a precomputed :func:`allocator.frames.assignments_frame`.
    """
    if by not in ("person", "project"):
        raise ValueError(f"by must be 'person' or 'project', got {by!r}")
    asg = assignments if assignments is not None else assignments_frame(portfolio, plan)
    if by == "project":
        people = asg.groupby("task", sort=False)["person"].agg(
            lambda s: ", ".join(str(x) for x in s.dropna())
        )
        rows = asg.drop_duplicates("task").copy()
        rows["people"] = rows["task"].map(people).fillna("")
        rows["hours"] = rows["task"].map(asg.groupby("task")["hours"].sum())
        rows["label"] = rows["task"]
        order = [t.id for t in portfolio.tasks() if t.id in set(rows["task"])]
    else:
        rows = asg.copy()
        rows["people"] = rows["person"].fillna("")
        rows["label"] = rows["person"].fillna("(nobody)")
        # everyone, idle people too (an idle senior is news), in portfolio order
        order = list(dict.fromkeys(p.id for p in portfolio.people))
        if (rows["label"] == "(nobody)").any():
            order.append("(nobody)")
    projects = [p.id for p in portfolio.projects]
    color = {pid: PALETTE[i % len(PALETTE)] for i, pid in enumerate(projects)}
    fig = go.Figure()
    hover = (
        "<b>%{customdata[0]}</b> %{customdata[1]}<br>project %{customdata[2]}"
        "<br>%{customdata[3]} .. %{customdata[4]}<br>people: %{customdata[5]}"
        "<br>hours: %{customdata[6]:.1f}<br>days late: %{customdata[7]}<extra>%{fullData.name}</extra>"
    )

    def bar(part: pd.DataFrame, name: str, colour: str, **marker: Any) -> go.Bar:
        finish_excl = part["finish"] + pd.Timedelta(days=1)
        custom = (
            np.column_stack(
                [
                    part["task"].astype(object),
                    part["task_name"].fillna("").astype(object),
                    part["project"].astype(object),
                    _iso(part["start"]),
                    _iso(part["finish"]),
                    part["people"].astype(object),
                    part["hours"].to_numpy(dtype=float),
                    part["late_days"].to_numpy(dtype=int),
                ]
            )
            if len(part)
            else np.empty((0, 8), dtype=object)
        )
        return go.Bar(
            name=name,
            orientation="h",
            y=list(part["label"].astype(object)),
            base=_iso(part["start"]),
            x=list(((finish_excl - part["start"]) / pd.Timedelta(milliseconds=1)).astype(float)),
            # a white edge keeps touching tasks apart; the task's id is written on its bar
            marker=dict(color=colour, line=dict(width=BAR_EDGE, color="white"), **marker),
            text=list(part["task"].astype(object)),
            textposition="inside",
            insidetextanchor="start",
            textfont=dict(size=10),
            constraintext="inside",
            customdata=custom,
            hovertemplate=hover,
            legendgroup=name,
        )

    if by == "person":
        away = _away_bars(portfolio, [p for p in order if p in portfolio.person_by_id])
        if away is not None:
            fig.add_trace(away)
    on_time = rows[~rows["late"]]
    for pid in projects:
        part = on_time[on_time["project"] == pid]
        if len(part):
            fig.add_trace(bar(part, pid, color[pid]))
    late = rows[rows["late"]]
    if len(late):
        fig.add_trace(bar(late, "late", LATE_COLOR, pattern=dict(shape="/")))
    if by == "project":
        dl = rows.dropna(subset=["deadline"])
        if len(dl):
            fig.add_trace(
                go.Scatter(
                    name="deadline",
                    x=_iso(dl["deadline"] + pd.Timedelta(days=1)),
                    y=list(dl["label"].astype(object)),
                    mode="markers",
                    marker=dict(symbol="line-ns-open", size=14, color="black", line_width=2),
                    hovertemplate="deadline of %{y}: %{text}<extra></extra>",
                    text=_iso(dl["deadline"]),
                )
            )
    if by == "person":
        idle = [p for p in order if p in portfolio.person_by_id and p not in set(rows["label"])]
        if idle:  # their rows stay, and say so
            fig.add_trace(
                go.Scatter(
                    name="idle",
                    x=[portfolio.calendar.start.isoformat()] * len(idle),
                    y=idle,
                    mode="text",
                    text=["idle: no work planned"] * len(idle),
                    textposition="middle right",
                    textfont=dict(color="#555"),
                    showlegend=False,
                    hoverinfo="skip",
                )
            )
    today = _today_in(portfolio, today)
    if today is not None:
        fig.add_vline(x=_day_ms(today), line=dict(color="black", width=1.5, dash="dot"))
        fig.add_annotation(
            name="today",
            text=f"today {today.isoformat()}",
            x=_day_ms(today),
            xref="x",
            y=1,
            yref="paper",
            yanchor="bottom",
            showarrow=False,
            font=dict(size=11),
        )
    n_unassigned = len(plan.unassigned)
    fig.update_layout(
        title=title or f"{portfolio.name}: plan by {by}",
        barmode="overlay",
        height=max(320, 24 * len(order) + 140),
        legend_title_text="project",
        xaxis=dict(type="date", title="date"),
        yaxis=dict(
            title="person" if by == "person" else "task",
            categoryorder="array",
            categoryarray=order,
            autorange="reversed",
        ),
    )
    if n_unassigned:
        fig.add_annotation(
            text=f"{n_unassigned} task(s) unassigned",
            xref="paper",
            yref="paper",
            x=1,
            y=1.02,
            showarrow=False,
            xanchor="right",
            yanchor="bottom",
            font=dict(color=LATE_COLOR),
        )
    return fig


# ---------------------------------------------------------------------------------------------
# Utilization heatmap
# ---------------------------------------------------------------------------------------------
def utilization_heatmap(
    portfolio: Portfolio, plan: Plan, freq: str = "W", *, title: str | None = None
) -> go.Figure:
    """Planned hours / capacity per person (rows, portfolio order) and period (columns).

    ``z`` has shape (people, periods); a period in which a person has no capacity is blank
    (``NaN``). Hover shows hours and capacity. See :func:`allocator.frames.utilization_frame`.
    """
    u = utilization_frame(portfolio, plan, freq)
    ids = list(dict.fromkeys(p.id for p in portfolio.people))
    periods = pd.DatetimeIndex(u["period"].unique())

    def grid(column: str) -> np.ndarray:
        pv = u.pivot_table(index="person", columns="period", values=column, aggfunc="first")
        values: np.ndarray = pv.reindex(index=ids, columns=periods).to_numpy(dtype=float)
        return values

    hours, cap = grid("hours"), grid("capacity_hours")
    z = np.where(cap > 0, hours / np.where(cap > 0, cap, 1.0), np.nan)
    zmax = max(1.0, float(np.nanmax(z))) if np.isfinite(z).any() else 1.0
    # cells span their periods exactly: x holds the n + 1 edges (first day of each period, then
    # the day after the last one), so a month's cell runs from its 1st to the next 1st
    edges = list(periods)
    if len(periods):
        last = pd.Period(periods[-1], freq=freq)
        edges.append(last.end_time.normalize() + pd.Timedelta(days=1))
    names = [_period_name(p, freq) for p in periods]
    fig = go.Figure(
        go.Heatmap(
            name="utilization",
            z=z,
            x=_iso(edges),
            y=ids,
            text=[names] * len(ids),
            zmin=0.0,
            zmax=zmax,
            colorscale="YlOrRd",
            colorbar=dict(title="utilization", tickformat=".0%"),
            customdata=np.stack([hours, cap], axis=-1),
            hovertemplate="%{y}, %{text}<br>utilization %{z:.0%}<br>"
            "%{customdata[0]:.1f} h of %{customdata[1]:.1f} h<extra></extra>",
            xgap=1,
            ygap=1,
        )
    )
    fig.update_layout(
        title=title or f"{portfolio.name}: utilization by person and {_period_word(freq)}",
        height=max(320, 22 * len(ids) + 140),
        xaxis=dict(title=_period_word(freq), type="date", **_period_ticks(freq)),
        yaxis=dict(title="person", autorange="reversed", type="category"),
    )
    return fig


def _period_name(start: pd.Timestamp, freq: str) -> str:
    """A period as a planner says it: ``Jan 2027`` for months, else ``week of 2027-01-04``."""
    head = freq.upper()[:1]
    if head == "M":
        return str(pd.Timestamp(start).strftime("%b %Y"))
    return f"{_period_word(freq)} of {pd.Timestamp(start).strftime('%Y-%m-%d')}"


def _period_ticks(freq: str) -> dict[str, Any]:
    """Month ticks for months (one per month, labelled in the middle of its period)."""
    if freq.upper()[:1] == "M":
        return dict(dtick="M1", tickformat="%b %Y", ticklabelmode="period")
    return dict(ticklabelmode="period")


def _period_word(freq: str) -> str:
    head = freq.upper()[:1]
    return {"W": "week", "M": "month", "Q": "quarter", "D": "day", "Y": "year"}.get(head, freq)


# ---------------------------------------------------------------------------------------------
# Demand against capacity
# ---------------------------------------------------------------------------------------------
def demand_capacity(
    portfolio: Portfolio,
    plan: Plan | None = None,
    freq: str = "W",
    *,
    skills: Sequence[str] | None = None,
    top: int = 8,
    title: str | None = None,
    frame: pd.DataFrame | None = None,
) -> go.Figure:
    """Demand against capacity per skill over time: one panel per skill (``skills``, else the
    ``top`` skills by total demand), each with stacked bars ``planned`` and ``unplanned`` hours
    (only ``unplanned`` without a plan) and a ``capacity`` line. Traces are named
    ``planned``, ``unplanned`` and ``capacity`` (one legend entry each) and carry their skill in
    ``meta``: ``fig.update_traces(selector=dict(name="capacity"), line_color="grey")``.
    """
    df = frame if frame is not None else demand_capacity_frame(portfolio, plan, freq)
    if skills is None:  # shortages first (a skill nobody has is short of all its demand)
        skills = _shortages_first(df)[:top]
    skills = list(skills)
    n = max(1, len(skills))
    fig = make_subplots(
        rows=n,
        cols=1,
        shared_xaxes=True,
        subplot_titles=skills or ["(no skills)"],
        vertical_spacing=min(0.08, 0.3 / n),
    )
    parts = [("planned", "planned_hours", "#1f77b4")] if plan is not None else []
    parts.append(("unplanned", "unplanned_hours", "#ff7f0e" if plan is not None else "#1f77b4"))
    in_legend: set[str] = set()
    for i, skill in enumerate(skills, start=1):
        s = df[df["skill"] == skill]
        x = _iso(s["period"])
        for label, column, colour in parts:
            y = s[column].to_numpy(dtype=float)
            # a legend entry only for bars that are drawn (some hours somewhere)
            legend = label not in in_legend and bool((y > 0).any())
            if legend:
                in_legend.add(label)
            fig.add_trace(
                go.Bar(
                    name=label,
                    meta=skill,
                    x=x,
                    y=y,
                    marker_color=colour,
                    legendgroup=label,
                    showlegend=legend,
                    hovertemplate=f"{skill} {label}: %{{y:.1f}} h<extra></extra>",
                ),
                row=i,
                col=1,
            )
        fig.add_trace(
            go.Scatter(
                name="capacity",
                meta=skill,
                x=x,
                y=s["capacity_hours"].to_numpy(dtype=float),
                mode="lines",
                line=dict(color="black", shape="hvh", width=1.5),
                legendgroup="capacity",
                showlegend=i == 1,
                hovertemplate=f"{skill} capacity: %{{y:.1f}} h<extra></extra>",
            ),
            row=i,
            col=1,
        )
        fig.update_yaxes(title_text="hours", row=i, col=1)
    fig.update_xaxes(title_text=_period_word(freq), row=n, col=1)
    fig.update_layout(
        title=title or f"{portfolio.name}: demand against capacity per skill",
        barmode="stack",
        height=max(320, 190 * n + 80),
        # at the right, beside the panels: never over the title
        legend=dict(orientation="v", yanchor="top", y=1, x=1.02, xanchor="left"),
    )
    return fig


def _shortages_first(df: pd.DataFrame) -> list[str]:
    """Skills ordered as :func:`allocator.analytics.shortage_frame` orders them: hours short
    (demand above capacity, summed over periods) first, then load, then demand."""
    short = (df["demand_hours"] - df["capacity_hours"]).clip(lower=0.0)
    g = df.assign(short=short).groupby("skill", sort=True)
    t = pd.DataFrame(
        {
            "short": g["short"].sum(),
            "demand": g["demand_hours"].sum(),
            "capacity": g["capacity_hours"].sum(),
        }
    )
    t["load"] = np.where(
        t["capacity"] > 0, t["demand"] / t["capacity"].where(t["capacity"] > 0, 1.0), np.inf
    )
    t = t.sort_values(["short", "load", "demand"], ascending=False, kind="stable")
    return [str(x) for x in t.index]


# ---------------------------------------------------------------------------------------------
# Solver progress
# ---------------------------------------------------------------------------------------------
def progress(source: ProgressRecorder | pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """The solver's progress: one panel per objective term (in priority order, labelled with its
    planner unit: hours, days, money), with its ``value`` (a marker per report: each greedy or
    LNS plan, each solution of the CP-SAT stage optimizing the term, the final plan) and its
    proven ``bound`` (dashed) over elapsed seconds, each held until the next report and to the
    last report. Traces carry their term in ``meta``. ``source``: a :class:`ProgressRecorder` or
    its :meth:`~ProgressRecorder.frame`."""
    df = source.frame() if isinstance(source, ProgressRecorder) else source
    terms = [
        c
        for c in df.columns
        if c not in ("stage", "term", "elapsed", "gap") and not str(c).endswith("_bound")
    ]
    terms = [t for t in terms if df[t].notna().any()] or terms[:1]
    fig = make_subplots(
        rows=max(1, len(terms)),
        cols=1,
        shared_xaxes=True,
        subplot_titles=[term_label(t) for t in terms],
    )
    end = float(df["elapsed"].max()) if len(df) else 0.0
    for i, term in enumerate(terms, start=1):
        bound_col = f"{term}_bound"
        s = df[df[term].notna()]
        x = s["elapsed"].to_numpy(dtype=float)
        value = s[term].to_numpy(dtype=float)
        # a proven bound stays proven until a later report raises it: held over reports that
        # carry no bound (greedy, LNS), so the line never drops out or shows a stale figure
        bound = (
            s[bound_col].ffill().to_numpy(dtype=float)
            if bound_col in s
            else np.full(len(s), np.nan, dtype=float)
        )
        text = list(s["stage"].astype(str))
        if len(s) and x[-1] < end:  # hold the last figures to the end
            x = np.append(x, end)
            value, bound = np.append(value, value[-1]), np.append(bound, bound[-1])
            text.append(text[-1] + " (held)")
        fig.add_trace(
            go.Scatter(
                name="value",
                meta=term,
                x=x,
                y=value,
                mode="lines+markers",
                line=dict(shape="hv", color="#1f77b4"),
                legendgroup="value",
                showlegend=i == 1,
                text=text,
                hovertemplate="%{text}<br>%{x:.2f} s: %{y:,.2f}<extra></extra>",
            ),
            row=i,
            col=1,
        )
        fig.add_trace(
            go.Scatter(
                name="bound",
                meta=term,
                x=x,
                y=bound,
                mode="lines+markers",
                marker=dict(size=4),
                line=dict(shape="hv", dash="dash", color="#2ca02c"),
                legendgroup="bound",
                showlegend=i == 1,
                hovertemplate="bound at %{x:.2f} s: %{y:,.2f}<extra></extra>",
            ),
            row=i,
            col=1,
        )
        if len(s):  # the panel's last figures, said in words
            last_b = bound[-1]
            proof = (
                "no bound"
                if math.isnan(last_b)
                else "proven"
                if last_b >= value[-1]
                else f"bound {last_b:,.2f}".rstrip("0").rstrip(".")
            )
            fig.add_annotation(
                name=f"final:{term}",
                text=f"final {value[-1]:,.2f}".rstrip("0").rstrip(".") + f" ({proof})",
                xref=f"x{'' if i == 1 else i} domain",
                yref=f"y{'' if i == 1 else i} domain",
                x=1,
                y=1,
                xanchor="right",
                yanchor="top",
                showarrow=False,
                font=dict(size=11),
            )
    fig.update_xaxes(title_text="seconds", row=max(1, len(terms)), col=1)
    fig.update_layout(
        title=title or "solver progress: value and bound of each objective term",
        height=max(300, 200 * len(terms) + 80),
    )
    return fig


def risk(result: RiskResult, portfolio: Portfolio, *, title: str | None = None) -> go.Figure:
    """Schedule risk per project (:func:`allocator.risk.simulate`), the least likely on time at
    the top: left, ``P(on time)`` as bars (0-100 %, each saying its share; a project without
    any deadline has no bar); right, on a date axis, its ``P50``, ``P80`` and ``P95`` finish
    (markers on a line from P50 to P95, ``P50-P95``), its ``planned`` finish (the plan's last
    task) and its ``deadline`` (red). Traces carry the project ids as ``y``."""
    df = result.projects_frame()
    tasks = result.tasks_frame()
    planned = tasks.groupby("project")["planned_finish"].max()
    names = [str(p) for p in df["project"]]
    deadlines = [portfolio.project_by_id[p].deadline for p in names]
    fig = make_subplots(
        rows=1,
        cols=2,
        shared_yaxes=True,
        column_widths=[0.35, 0.65],
        horizontal_spacing=0.03,
        subplot_titles=["P(on time)", "finish: P50, P80, P95 against the deadline"],
    )
    p_on = df["p_on_time"].to_numpy(dtype=float)
    fig.add_trace(
        go.Bar(
            name="P(on time)",
            orientation="h",
            y=names,
            x=[None if math.isnan(v) else v for v in p_on],
            text=["no deadline" if math.isnan(v) else f"{v:.0%}" for v in p_on],
            # a short bar's share is said beside it (a 0 % bar has no inside)
            textposition=["inside" if v >= 0.15 else "outside" for v in p_on],
            cliponaxis=False,
            marker_color=PALETTE[0],
            hovertemplate="%{y}: P(on time) %{x:.1%}<extra></extra>",
            showlegend=False,
        ),
        row=1,
        col=1,
    )

    def day(v: Any) -> str | None:
        return None if v is None or pd.isna(v) else pd.Timestamp(v).strftime("%Y-%m-%d")

    p50, p95 = [day(v) for v in df["p50_finish"]], [day(v) for v in df["p95_finish"]]
    line_x: list[str | None] = []
    line_y: list[str | None] = []
    for name, a, b in zip(names, p50, p95, strict=True):  # one segment per project
        line_x += [a, b, None]
        line_y += [name, name, None]
    fig.add_trace(
        go.Scatter(
            name="P50-P95",
            x=line_x,
            y=line_y,
            mode="lines",
            line=dict(color="#7f7f7f", width=6),
            opacity=0.4,
            hoverinfo="skip",
        ),
        row=1,
        col=2,
    )
    marks = (
        ("P50", "circle", "#1f77b4"),
        ("P80", "diamond", "#9467bd"),
        ("P95", "square", "#8c564b"),
    )
    for label, symbol, colour in marks:
        fig.add_trace(
            go.Scatter(
                name=label,
                x=[day(v) for v in df[f"{label.lower()}_finish"]],
                y=names,
                mode="markers",
                marker=dict(symbol=symbol, size=10, color=colour),
                hovertemplate=f"%{{y}}: {label} finish %{{x|%d %b %Y}}<extra></extra>",
            ),
            row=1,
            col=2,
        )
    fig.add_trace(
        go.Scatter(
            name="planned",
            x=[day(planned.get(p)) for p in names],
            y=names,
            mode="markers",
            marker=dict(symbol="x-thin", size=10, line=dict(width=2, color="black")),
            hovertemplate="%{y}: planned finish %{x|%d %b %Y}<extra></extra>",
        ),
        row=1,
        col=2,
    )
    fig.add_trace(
        go.Scatter(
            name="deadline",
            x=[None if d is None else d.isoformat() for d in deadlines],
            y=names,
            mode="markers",
            marker=dict(symbol="line-ns", size=22, line=dict(width=3, color=LATE_COLOR)),
            hovertemplate="%{y}: deadline %{x|%d %b %Y}<extra></extra>",
        ),
        row=1,
        col=2,
    )
    fig.update_xaxes(title_text="P(on time)", range=[0, 1], tickformat=".0%", row=1, col=1)
    fig.update_xaxes(title_text="finish date", type="date", row=1, col=2)
    fig.update_yaxes(
        title_text="project", categoryorder="array", categoryarray=names[::-1], row=1, col=1
    )
    fig.update_layout(
        title=title or f"schedule risk per project ({result.runs:,} runs)",
        height=max(320, 40 * len(names) + 180),
    )
    return fig


# ---------------------------------------------------------------------------------------------
# Saving
# ---------------------------------------------------------------------------------------------
_IMAGE = {".png": "png", ".svg": "svg", ".pdf": "pdf", ".jpg": "jpeg", ".jpeg": "jpeg"}
_scope_lock = threading.Lock()
_render_lock = threading.Lock()
_scope: Any = None


class ExportError(RuntimeError):
    """No renderer could write the image; the message lists why each one failed."""


def _kaleido_version() -> tuple[int, ...] | None:
    try:
        text = metadata.version("kaleido")
    except metadata.PackageNotFoundError:
        return None
    out = []
    for part in text.split(".")[:2]:
        digits = "".join(ch for ch in part if ch.isdigit())
        out.append(int(digits or 0))
    return tuple(out)


def _legacy_scope() -> Any:
    """kaleido 0.2's scope, started once, using plotly's own plotly.js (no CDN: offline)."""
    global _scope
    with _scope_lock:
        if _scope is None:
            import warnings

            import plotly
            from kaleido.scopes.plotly import PlotlyScope

            # kaleido 0.2 calls Thread.setDaemon (deprecated since Python 3.10): harmless
            warnings.filterwarnings(
                "ignore", message="setDaemon", category=DeprecationWarning, module="kaleido"
            )

            js = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
            _scope = PlotlyScope(plotlyjs=str(js) if js.is_file() else None)
        return _scope


def _reset_scope() -> None:
    global _scope
    with _scope_lock:
        if _scope is not None:
            try:
                _scope._shutdown_kaleido()
            except Exception as exc:  # best effort: it may already be dead
                log.debug("stopping kaleido: %s", exc)
        _scope = None


def _image_kaleido(
    fig: go.Figure, fmt: str, width: int | None, height: int | None, scale: float, timeout: float
) -> bytes:
    version = _kaleido_version()
    if version is None:
        raise ExportError("kaleido is not installed")
    if version >= (1,):
        data: bytes = fig.to_image(format=fmt, width=width, height=height, scale=scale)
        return data
    spec = json.loads(fig.to_json())
    with _render_lock:  # one Chromium process: one image at a time
        scope = _legacy_scope()
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        future = pool.submit(
            scope.transform, spec, format=fmt, width=width, height=height, scale=scale
        )
        try:
            out = future.result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            _reset_scope()  # stops Chromium, which unblocks the worker
            raise ExportError(f"kaleido did not answer within {timeout:g} s") from None
        finally:
            pool.shutdown(wait=False)
    return bytes(out)


def save(
    fig: go.Figure,
    path: str | os.PathLike[str],
    *,
    width: int | None = None,
    height: int | None = None,
    scale: float = 1.0,
    engine: str = "auto",
    timeout: float = 60.0,
) -> Path:
    """Write ``fig`` to ``path``: ``.html`` (self-contained), or an image (``.png``, ``.svg``,
    ``.pdf``, ``.jpeg``) through kaleido, else matplotlib (see the module docstring).
    ``engine``: ``"auto"``, ``"kaleido"`` or ``"matplotlib"``. Returns the path written;
    raises :class:`ExportError` when no renderer works."""
    out = Path(path)
    suffix = out.suffix.lower()
    if suffix in (".html", ".htm"):
        fig.write_html(out, include_plotlyjs=True, full_html=True)
        return out
    if suffix not in _IMAGE:
        raise ValueError(f"cannot save a figure as {suffix or 'a file without suffix'}")
    if engine not in ("auto", "kaleido", "matplotlib"):
        raise ValueError(f"engine must be 'auto', 'kaleido' or 'matplotlib', got {engine!r}")
    fmt = _IMAGE[suffix]
    width = width or _int(fig.layout.width) or 900
    height = height or _int(fig.layout.height) or 500
    failures: list[str] = []
    if engine in ("auto", "kaleido"):
        try:
            out.write_bytes(_image_kaleido(fig, fmt, width, height, scale, timeout))
            log.info("saved %s with kaleido", out)
            return out
        except Exception as exc:  # any renderer failure falls through to the next one
            failures.append(f"kaleido: {exc}".strip())
            log.info("kaleido export failed (%s)", exc)
    if engine in ("auto", "matplotlib"):
        if fmt == "jpeg":
            failures.append("matplotlib: jpeg not supported here (use png)")
        else:
            try:
                _render_matplotlib(fig, out, fmt, width, height, scale)
                log.info("saved %s with matplotlib", out)
                return out
            except Exception as exc:
                failures.append(f"matplotlib: {exc}")
    raise ExportError(f"could not write {out}: " + "; ".join(failures))


def _int(v: Any) -> int | None:
    return None if v is None else int(v)


# ---------------------------------------------------------------------------------------------
# The matplotlib fallback
# ---------------------------------------------------------------------------------------------
def _dates(values: Any) -> pd.DatetimeIndex | None:
    """Values as dates when they are dates or ISO date strings, else None."""
    if values is None:
        return None
    vals = list(values)
    if not vals:
        return None
    first = vals[0]
    if isinstance(first, str) and len(first) >= 10 and first[4] == "-" and first[7] == "-":
        return pd.DatetimeIndex(pd.to_datetime(vals))
    if isinstance(first, pd.Timestamp | np.datetime64):
        return pd.DatetimeIndex(pd.to_datetime(vals))
    return None


def _text(obj: Any) -> str:
    t = getattr(obj, "text", None)
    return "" if t is None else str(t)


def _colour(trace: Any, fallback: str) -> Any:
    c = getattr(getattr(trace, "marker", None), "color", None)
    if isinstance(c, str):
        return c
    line = getattr(trace, "line", None)
    lc = getattr(line, "color", None)
    return lc if isinstance(lc, str) else fallback


def _render_matplotlib(
    fig: go.Figure, out: Path, fmt: str, width: int, height: int, scale: float
) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    panels: list[tuple[str, str]] = []
    for tr in fig.data:
        key = (getattr(tr, "xaxis", None) or "x", getattr(tr, "yaxis", None) or "y")
        if key not in panels:
            panels.append(key)
    panels = panels or [("x", "y")]
    dpi = 100
    mfig, axes = plt.subplots(
        len(panels),
        1,
        figsize=(width / dpi, height / dpi),
        dpi=dpi * scale,
        squeeze=False,
        sharex=len(panels) > 1,
    )
    ax_of = {key: axes[i][0] for i, key in enumerate(panels)}
    cycle = list(PALETTE)
    stack: dict[tuple[str, str], dict[Any, float]] = {}
    heatmaps: set[tuple[str, str]] = set()
    # categorical y axes keep the figure's category order (matplotlib would use first use)
    cats: dict[tuple[str, str], list[str]] = {}
    for key in panels:
        yname = "yaxis" if key[1] == "y" else "yaxis" + key[1][1:]
        order = fig.layout[yname].categoryarray
        if order is not None:
            cats[key] = [str(c) for c in order]

    def ypos(key: tuple[str, str], ys: Any) -> Any:
        if key not in cats or ys is None:
            return ys
        out = []
        for y in ys:
            if str(y) not in cats[key]:
                cats[key].append(str(y))
            out.append(cats[key].index(str(y)))
        return out

    barmode = fig.layout.barmode
    for n, tr in enumerate(fig.data):
        key = (getattr(tr, "xaxis", None) or "x", getattr(tr, "yaxis", None) or "y")
        ax = ax_of[key]
        colour = _colour(tr, cycle[n % len(cycle)])
        kind = tr.type
        if kind == "bar":
            ys = ypos(key, tr.y) if tr.orientation == "h" else tr.y
            _mpl_bar(ax, tr, ys, colour, stack.setdefault(key, {}), barmode == "stack", mdates)
        elif kind == "heatmap":
            _mpl_heatmap(ax, mfig, tr)
            heatmaps.add(key)
        elif kind == "scatter":
            xs = _dates(tr.x)
            x = xs if xs is not None else np.asarray(tr.x if tr.x is not None else [])
            y = np.asarray(ypos(key, tr.y) if tr.y is not None else [], dtype=object)
            mode = tr.mode or "lines"
            dash = getattr(tr.line, "dash", None)
            style = "--" if dash in ("dash", "dashdot", "longdash") else "-"
            shape = str(getattr(tr.line, "shape", None))
            draw = {"hv": "steps-post", "hvh": "steps-mid", "vh": "steps-pre"}.get(shape, "default")
            ax.plot(
                x,
                y,
                linestyle=style if "lines" in mode else "none",
                marker="o" if "markers" in mode else None,
                markersize=3,
                color=colour,
                drawstyle=draw,
                label=tr.name,
            )
        if tr.name and tr.showlegend is not False and kind != "heatmap":
            ax.legend(fontsize=7, loc="best")
    titles = [_text(a) for a in (fig.layout.annotations or ())]
    for i, key in enumerate(panels):
        ax = ax_of[key]
        xname = "xaxis" if key[0] == "x" else "xaxis" + key[0][1:]
        yname = "yaxis" if key[1] == "y" else "yaxis" + key[1][1:]
        xa, ya = fig.layout[xname], fig.layout[yname]
        if key in cats:
            ax.set_yticks(range(len(cats[key])), cats[key])
        ax.set_xlabel(_text(xa.title))
        ax.set_ylabel(_text(ya.title))
        if ya.autorange == "reversed" and key not in heatmaps and not ax.yaxis_inverted():
            ax.invert_yaxis()
        if len(panels) > 1 and i < len(titles):
            ax.set_title(titles[i], fontsize=9)
    mfig.suptitle(_text(fig.layout.title))
    mfig.tight_layout()
    mfig.savefig(out, format=fmt)
    plt.close(mfig)


def _mpl_bar(
    ax: Any,
    tr: Any,
    y: Any,
    colour: Any,
    bottoms: dict[Any, float],
    stacked: bool,
    mdates: Any,
) -> None:
    xs = list(tr.x if tr.x is not None else [])
    ys = list(y if y is not None else [])
    hatch = "//" if getattr(getattr(tr.marker, "pattern", None), "shape", None) else None
    if tr.orientation == "h":
        base = _dates(tr.base) if tr.base is not None else None
        if base is not None:
            widths = [timedelta(milliseconds=float(w)) for w in xs]
            ax.barh(ys, widths, left=list(base), color=colour, hatch=hatch, label=tr.name)
            ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))
        else:
            ax.barh(ys, xs, color=colour, hatch=hatch, label=tr.name)
        return
    dates = _dates(xs)
    x_vals: list[Any] = list(dates) if dates is not None else xs
    heights = [
        0.0 if v is None or (isinstance(v, float) and math.isnan(v)) else float(v) for v in ys
    ]
    bottom = [bottoms.get(x, 0.0) if stacked else 0.0 for x in x_vals]
    width: Any = timedelta(days=5) if dates is not None else 0.8
    ax.bar(x_vals, heights, bottom=bottom, width=width, color=colour, hatch=hatch, label=tr.name)
    if stacked:
        for x, h, b in zip(x_vals, heights, bottom, strict=True):
            bottoms[x] = b + h


def _mpl_heatmap(ax: Any, mfig: Any, tr: Any) -> None:
    z = np.asarray(tr.z, dtype=float)
    im = ax.imshow(
        np.ma.masked_invalid(z),
        aspect="auto",
        cmap="YlOrRd",
        vmin=tr.zmin if tr.zmin is not None else None,
        vmax=tr.zmax if tr.zmax is not None else None,
        interpolation="nearest",
    )
    ys = list(tr.y) if tr.y is not None else []
    xs = list(tr.x) if tr.x is not None else []
    if ys:
        ax.set_yticks(range(len(ys)), [str(y) for y in ys], fontsize=7)
    if xs:
        step = max(1, len(xs) // 12)
        ax.set_xticks(range(0, len(xs), step), [str(x)[:10] for x in xs[::step]], fontsize=7)
        ax.tick_params(axis="x", labelrotation=45)
    mfig.colorbar(im, ax=ax)
