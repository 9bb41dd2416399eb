"""Pictures of portfolios and plans, as plotly figures analysts can restyle.

Every function returns a :class:`plotly.graph_objects.Figure` whose traces carry names
(``fig.update_traces(selector=dict(name="late"), marker_color="black")``) and whose data come
from the tables of :mod:`allocator.frames`:

* :func:`gantt` -- bars per assignment, by person or by project, one trace per project for work
  on time and one ``late`` trace (red, hatched) for tasks finishing after their deadline; by
  project, the deadlines are marked.
* :func:`utilization_heatmap` -- planned hours / capacity, person x week.
* :func:`demand_capacity` -- per skill, demand (planned and unplanned hours, stacked bars)
  against capacity (a line) over time; see :func:`allocator.frames.demand_capacity_frame` for
  how multi-skilled people count.
* :func:`progress` -- the solver's objective and bound over time, one panel per objective term
  in planner units (record them with :class:`ProgressRecorder`, passed as ``SolveParams(on_progress=...)``).

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
from datetime import timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from allocator.domain import Plan, Portfolio
from allocator.frames import (
    ProgressRecorder,
    assignments_frame,
    demand_capacity_frame,
    utilization_frame,
)
from allocator.terms_text import term_label

log = logging.getLogger(__name__)

__all__ = [
    "LATE_COLOR",
    "ProgressRecorder",
    "demand_capacity",
    "gantt",
    "progress",
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
) -> go.Figure:
    """A Gantt chart of the plan: ``by="person"`` (one bar per task and assignee, a row per
    person) or ``by="project"`` (one bar per task, rows grouped by project, deadlines marked).

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
        order = [p.id for p in portfolio.people if p.id in set(rows["label"])]
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
            marker=dict(color=colour, line=dict(width=0.5, color="white"), **marker),
            customdata=custom,
            hovertemplate=hover,
            legendgroup=name,
        )

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
    fig = go.Figure(
        go.Heatmap(
            name="utilization",
            z=z,
            x=_iso(periods),
            y=ids,
            zmin=0.0,
            zmax=zmax,
            colorscale="YlOrRd",
            colorbar=dict(title="utilization", tickformat=".0%"),
            customdata=np.stack([hours, cap], axis=-1),
            hovertemplate="%{y}, %{x}<br>utilization %{z:.0%}<br>"
            "%{customdata[0]:.1f} h of %{customdata[1]:.1f} h<extra></extra>",
            xgap=1,
            ygap=1,
        )
    )
    fig.update_layout(
        title=title or f"{portfolio.name}: utilization by person and {_period_word(freq)}",
        height=max(320, 22 * len(ids) + 140),
        xaxis=dict(title=_period_word(freq), type="date"),
        yaxis=dict(title="person", autorange="reversed", type="category"),
    )
    return fig


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
    if skills is None:
        totals = df.groupby("skill")["demand_hours"].sum().sort_values(ascending=False)
        skills = [str(s) for s in totals.index[:top]]
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
    for i, skill in enumerate(skills, start=1):
        s = df[df["skill"] == skill]
        x = _iso(s["period"])
        for label, column, colour in parts:
            fig.add_trace(
                go.Bar(
                    name=label,
                    meta=skill,
                    x=x,
                    y=s[column].to_numpy(dtype=float),
                    marker_color=colour,
                    legendgroup=label,
                    showlegend=i == 1,
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
        legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0),
    )
    return fig


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
        bound = (
            s[bound_col].to_numpy(dtype=float)
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
                mode="lines",
                line=dict(shape="hv", dash="dash", color="#2ca02c"),
                legendgroup="bound",
                showlegend=i == 1,
                hovertemplate="bound at %{x:.2f} s: %{y:,.2f}<extra></extra>",
            ),
            row=i,
            col=1,
        )
    fig.update_xaxes(title_text="seconds", row=max(1, len(terms)), col=1)
    fig.update_layout(
        title=title or "solver progress: value and bound of each objective term",
        height=max(300, 200 * len(terms) + 80),
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
