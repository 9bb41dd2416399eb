"""A one-page report of a plan for leadership: one self-contained HTML page.

:func:`report_html` writes the page from the library's analytics (:mod:`allocator.analytics`),
so every figure is the engine's own, in planner units (hours, working days, dates, money):

* headline KPIs (:func:`~allocator.analytics.headline`: delivered and undelivered work, late
  projects and tasks, cost against the projects' budgets, utilization);
* the projects (:func:`~allocator.analytics.project_frame`): finish against deadline, slip in
  working and calendar days, cost against ``budget``;
* late and at-risk work with what drives it (:func:`~allocator.analytics.late_frame`);
* unassigned work with the plan's reasons (:mod:`allocator.reasons` wrote them into the plan);
* utilization, person x month (:func:`~allocator.analytics.utilization_frame`), a heat map
  drawn as inline SVG, one cell per calendar month;
* demand against capacity per skill, shortages first
  (:func:`~allocator.analytics.shortage_frame`);
* hiring demand: placeholder people and skills nobody has
  (:func:`~allocator.analytics.hiring_frame`).

The page opens offline: no script, no font, style sheet or image from the network (the style
is inline, the charts are SVG). Long tables are cut at :data:`MAX_ROWS` rows, saying how many
more there are (the Excel export, :mod:`allocator.export`, has them all).
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from html import escape
from itertools import pairwise
from pathlib import Path
from typing import Any

import pandas as pd

from allocator.analytics import (
    AT_RISK_SLACK_DAYS,
    headline,
    hiring_frame,
    late_frame,
    project_frame,
    shortage_frame,
    unassigned_frame,
    utilization_frame,
)
from allocator.domain import Plan, Portfolio
from allocator.terms_text import format_gap

__all__ = ["MAX_ROWS", "ChromiumMissing", "find_chromium", "report_html", "write_pdf"]

#: Rows shown per table; the rest are counted ("and 12 more: see the Excel export").
MAX_ROWS = 60

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;margin:24px auto;
max-width:1180px;color:#222;font-size:14px;line-height:1.35}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd}
.sub{color:#666;margin:0 0 16px}
.kpis{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:10px}
.kpi{border:1px solid #ddd;border-radius:6px;padding:8px 10px}
.kpi b{display:block;font-size:20px}.kpi span{color:#666;font-size:12px}
.bad b{color:#b71c1c}.good b{color:#1b5e20}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border-bottom:1px solid #eee;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f6f6f6;position:sticky;top:0}td.n,th.n{text-align:right;white-space:nowrap}
tr.late td{background:#fdecea}tr.risk td{background:#fff8e1}
.note{color:#666;font-size:12px}svg text{font-family:inherit}
svg{max-width:100%;height:auto}
@page{size:A4 landscape;margin:12mm}
@media print{body{margin:0;max-width:none}h2{break-after:avoid}tr{break-inside:avoid}
th{position:static}}
"""


def report_html(portfolio: Portfolio, plan: Plan, *, title: str | None = None) -> str:
    """The plan's one-page report as a self-contained HTML document (see the module)."""
    head = headline(portfolio, plan)
    heading = title or f"{portfolio.name}: plan report"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(heading)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{escape(heading)}</h1>",
        f'<p class="sub">{escape(_subtitle(portfolio, plan))}</p>',
        _kpis(head),
        _projects(project_frame(portfolio, plan)),
        _late(late_frame(portfolio, plan)),
        _unassigned(unassigned_frame(portfolio, plan)),
        _heatmap(portfolio, utilization_frame(portfolio, plan, "M")),
        _shortages(shortage_frame(portfolio, plan, "M")),
        _hiring(hiring_frame(portfolio, plan)),
        '<p class="note">Hours are booked hours (active days x hours per day x allocation) unless '
        "called work (the effort asked for: contract <i>Work</i>). Late and slip are counted in "
        "working days of the portfolio's calendar, from the last working day on or before the "
        "deadline; calendar days are given beside them. Cost is pay: booked hours x cost per "
        "hour.</p>",
        "</body></html>",
    ]
    return "\n".join(parts)


# ---------------------------------------------------------------------------------------------
# formatting
# ---------------------------------------------------------------------------------------------
def hours(v: float) -> str:
    """Hours with up to one decimal and thousands separated: ``1,234.5 h``."""
    return f"{v:,.1f}".removesuffix(".0") + " h"


def money(v: float) -> str:
    return f"{v:,.2f}"


def _day(v: Any) -> str:
    if v is None or pd.isna(v):
        return "-"
    return str(pd.Timestamp(v).date().isoformat())


def _opt(v: Any, fmt: Callable[[Any], str] = str) -> str:
    return "-" if v is None or pd.isna(v) else fmt(v)


def _subtitle(portfolio: Portfolio, plan: Plan) -> str:
    cal = portfolio.calendar
    solver = plan.extra.get("solver")
    text = (
        f"plan {plan.status}"
        + (f", gap {format_gap(plan.gap)}" if plan.gap is not None else "")
        + (f" ({solver})" if solver else "")
        + f"; calendar {cal.start}..{cal.end}"
    )
    if portfolio.as_of is not None:
        text += f"; as of {portfolio.as_of}"
    return text


def _table(
    headers: Sequence[tuple[str, bool]],
    rows: Sequence[tuple[Sequence[str], str]],
    total: int,
    empty: str,
) -> str:
    """A table: ``headers`` (label, numeric), ``rows`` (cells as escaped HTML, row class)."""
    if not rows:
        return f"<p>{escape(empty)}</p>"
    out = ["<table><thead><tr>"]
    out += [f"<th{' class=n' if num else ''}>{escape(h)}</th>" for h, num in headers]
    out.append("</tr></thead><tbody>")
    for cells, cls in rows:
        out.append(f'<tr class="{cls}">' if cls else "<tr>")
        out += [
            f"<td{' class=n' if num else ''}>{c}</td>"
            for c, (_, num) in zip(cells, headers, strict=True)
        ]
        out.append("</tr>")
    out.append("</tbody></table>")
    if total > len(rows):
        out.append(
            f'<p class="note">and {total - len(rows):,} more (all of them in the Excel export: '
            "allocator export)</p>"
        )
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# sections
# ---------------------------------------------------------------------------------------------
def _kpis(h: dict[str, float]) -> str:
    def card(value: str, label: str, cls: str = "") -> str:
        return f'<div class="kpi {cls}"><b>{escape(value)}</b><span>{escape(label)}</span></div>'

    budget = h["budget"]
    if math.isnan(budget):
        budget_card = card("no budgets", "cost against budget: no project has a budget")
    else:
        over = h["budgeted_cost"] - budget
        budget_card = card(
            money(h["budgeted_cost"]) + " / " + money(budget),
            "cost against budget (projects with a budget)"
            + (f": {money(over)} over" if over > 0 else f": {money(-over)} left"),
            "bad" if over > 0 else "good",
        )
    cards = [
        card(
            hours(h["delivered_hours"]),
            f"work delivered, of {hours(h['work_hours'])} asked for "
            f"({int(h['assigned']):,} of {int(h['tasks_to_plan']):,} tasks)",
        ),
        card(
            hours(h["undelivered_hours"]),
            f"work undelivered ({int(h['unassigned']):,} tasks; "
            f"{hours(h['undelivered_work_hours'])} priority-weighted)",
            "bad" if h["unassigned"] else "good",
        ),
        card(
            f"{int(h['late_projects']):,} of {int(h['projects']):,}",
            f"projects late ({int(h['late_tasks']):,} late tasks, "
            f"{int(h['weighted_late_days']):,} priority-weighted late working days)",
            "bad" if h["late_projects"] else "good",
        ),
        card(money(h["total_cost"]), "cost (pay: booked hours x cost per hour)"),
        budget_card,
        card(
            f"{h['utilization']:.0%}",
            f"utilization: {hours(h['total_hours'])} booked of the people's capacity",
        ),
        card(f"{int(h['makespan_days'])}", "working days to the last finish (makespan)"),
    ]
    return "<h2>Headline</h2><div class=kpis>" + "".join(cards) + "</div>"


def _projects(df: pd.DataFrame) -> str:
    """Late projects first (most slip, then most late tasks), then those with undelivered work,
    then the others in portfolio order."""
    df = df.assign(
        _slip=df["slip_working_days"].fillna(0).astype("int64"), _pos=range(len(df))
    ).sort_values(
        ["late", "_slip", "late_tasks", "undelivered_hours", "_pos"],
        ascending=[False, False, False, False, True],
        kind="stable",
    )
    rows = []
    for r in df.head(MAX_ROWS).itertuples(index=False):
        over = "" if pd.isna(r.budget_left) else money(float(r.budget_left))
        rows.append(
            (
                [
                    escape(str(r.project))
                    + (f"<br><span class=note>{escape(str(r.project_name))}</span>")
                    * (not pd.isna(r.project_name)),
                    f"{r.assigned} / {r.tasks}",
                    _day(r.finish),
                    _day(r.deadline),
                    _opt(r.slip_working_days),
                    _opt(r.slip_calendar_days),
                    str(r.late_tasks),
                    hours(float(r.undelivered_hours)),
                    money(float(r.cost)),
                    _opt(r.budget, lambda v: money(float(v))),
                    over or "-",
                ],
                "late" if r.late else "risk" if r.unassigned else "",
            )
        )
    table = _table(
        [
            ("project", False),
            ("tasks assigned", True),
            ("finish", True),
            ("deadline", True),
            ("slip (working days)", True),
            ("slip (calendar days)", True),
            ("late tasks", True),
            ("undelivered work", True),
            ("cost", True),
            ("budget", True),
            ("budget left", True),
        ],
        rows,
        len(df),
        "No projects.",
    )
    return (
        "<h2 id=projects>Projects</h2>"
        '<p class="note">Late projects first (red), then those with undelivered work '
        "(amber). Slip: from the project's deadline to its last finish.</p>" + table
    )


def _late(df: pd.DataFrame) -> str:
    rows = []
    for r in df.head(MAX_ROWS).itertuples(index=False):
        late = r.status == "late"
        rows.append(
            (
                [
                    escape(str(r.task)),
                    escape(str(r.project)),
                    escape(str(r.people)) or "-",
                    _day(r.finish),
                    _day(r.deadline),
                    str(r.late_working_days) if late else f"slack {r.slack_working_days}",
                    str(r.late_calendar_days) if late else "-",
                    escape(str(r.drivers)),
                ],
                "late" if late else "risk",
            )
        )
    table = _table(
        [
            ("task", False),
            ("project", False),
            ("people", False),
            ("finish", True),
            ("deadline", True),
            ("late (working days)", True),
            ("late (calendar days)", True),
            ("what drives it", False),
        ],
        rows,
        len(df),
        "No late or at-risk work.",
    )
    return (
        "<h2 id=late>Late and at-risk work</h2>"
        f'<p class="note">At risk: on time with {AT_RISK_SLACK_DAYS} working days of slack or '
        "fewer before the deadline.</p>" + table
    )


def _unassigned(df: pd.DataFrame) -> str:
    rows = [
        (
            [
                escape(str(r.task)),
                escape(_opt(r.project)),
                _opt(r.priority),
                _opt(r.work_hours, lambda v: hours(float(v))),
                escape(_opt(r.skill)),
                "<br>".join(escape(x) for x in str(r.reasons).split("; ")),
            ],
            "",
        )
        for r in df.head(MAX_ROWS).itertuples(index=False)
    ]
    table = _table(
        [
            ("task", False),
            ("project", False),
            ("priority", True),
            ("work", True),
            ("skills", False),
            ("why not planned", False),
        ],
        rows,
        len(df),
        "Every task is planned.",
    )
    return "<h2 id=unassigned>Unassigned work</h2>" + table


def _colour(u: float) -> str:
    """White (0) through amber to red (100 %); dark red above 100 %."""
    if u > 1.0 + 1e-9:
        return "#7f0000"
    stops = [(0.0, (255, 255, 255)), (0.5, (255, 213, 79)), (1.0, (211, 47, 47))]
    for (a, ca), (b, cb) in pairwise(stops):
        if u <= b:
            t = 0.0 if b == a else (max(u, a) - a) / (b - a)
            rgb = [round(x + (y - x) * t) for x, y in zip(ca, cb, strict=True)]
            return "#{:02x}{:02x}{:02x}".format(*rgb)
    return "#d32f2f"


def _heatmap(portfolio: Portfolio, u: pd.DataFrame) -> str:
    """People x calendar month: one cell per month, labelled with the month, its title the
    booked and capacity hours (a month without capacity is grey)."""
    people = list(dict.fromkeys(p.id for p in portfolio.people))
    if not people or u.empty:
        return "<h2 id=utilization>Utilization</h2><p>No people.</p>"
    months = list(pd.DatetimeIndex(u["period"].unique()))
    cell = {(r.person, pd.Timestamp(r.period)): r for r in u.itertuples(index=False)}
    name_w, cw, ch, top = 170, 62, 18, 22
    width, height = name_w + cw * len(months) + 4, top + ch * len(people) + 4
    out = [
        f'<svg role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-label="utilization by person and month">'
    ]
    for j, m in enumerate(months):
        x = name_w + j * cw + cw / 2
        out.append(
            f'<text class="month" x="{x:.0f}" y="15" font-size="12" text-anchor="middle">'
            f"{m.strftime('%b %Y')}</text>"
        )
    placeholders = {p.id for p in portfolio.people if p.is_placeholder}
    for i, pid in enumerate(people):
        y = top + i * ch
        label = pid + (" (to hire)" if pid in placeholders else "")
        out.append(
            f'<text x="{name_w - 6}" y="{y + 13}" font-size="12" text-anchor="end">'
            f"{escape(label)}</text>"
        )
        for j, m in enumerate(months):
            r = cell.get((pid, m))
            x = name_w + j * cw
            if r is None or r.capacity_hours <= 0:
                fill, text = "#e0e0e0", ""
                tip = f"{pid}, {m.strftime('%b %Y')}: no capacity"
            else:
                fill, text = _colour(float(r.utilization)), f"{r.utilization:.0%}"
                tip = (
                    f"{pid}, {m.strftime('%b %Y')}: {r.utilization:.0%} "
                    f"({hours(float(r.hours))} of {hours(float(r.capacity_hours))})"
                )
            colour = "#fff" if text and r is not None and r.utilization > 0.75 else "#222"
            out.append(
                f'<g class="cell" data-person="{escape(pid)}" data-month="{m.strftime("%Y-%m")}">'
                f"<title>{escape(tip)}</title>"
                f'<rect x="{x + 1}" y="{y + 1}" width="{cw - 2}" height="{ch - 2}" fill="{fill}"/>'
                f'<text x="{x + cw / 2:.0f}" y="{y + 13}" font-size="11" text-anchor="middle" '
                f'fill="{colour}">{text}</text></g>'
            )
    out.append("</svg>")
    return (
        "<h2 id=utilization>Utilization by person and month</h2>"
        '<p class="note">Booked hours / capacity hours in each calendar month; grey: no '
        "capacity (not joined yet, left, away).</p>" + "".join(out)
    )


def _bar(demand: float, capacity: float, scale: float) -> str:
    w = 220
    d = 0.0 if scale <= 0 else min(w, w * demand / scale)
    c = 0.0 if scale <= 0 else min(w, w * capacity / scale)
    colour = "#d32f2f" if demand > capacity else "#1f77b4"
    return (
        f'<svg width="{w + 2}" height="14">'
        f'<rect x="0" y="2" width="{d:.1f}" height="10" fill="{colour}"/>'
        f'<line x1="{c:.1f}" x2="{c:.1f}" y1="0" y2="14" stroke="#000" stroke-width="2"/></svg>'
    )


def _shortages(df: pd.DataFrame) -> str:
    scale = float(max(df["demand_hours"].max(), df["capacity_hours"].max())) if len(df) else 0.0
    rows = []
    for r in df.head(MAX_ROWS).itertuples(index=False):
        short = r.shortage_hours > 0
        rows.append(
            (
                [
                    escape(str(r.skill)),
                    str(r.people),
                    hours(float(r.demand_hours)),
                    hours(float(r.capacity_hours)),
                    hours(float(r.shortage_hours)) if short else "-",
                    pd.Timestamp(r.first_short).strftime("%b %Y") if short else "-",
                    _bar(float(r.demand_hours), float(r.capacity_hours), scale),
                ],
                "late" if short else "",
            )
        )
    table = _table(
        [
            ("skill", False),
            ("people", True),
            ("demand", True),
            ("capacity", True),
            ("short by", True),
            ("first short", True),
            ("demand (bar) and capacity (line)", False),
        ],
        rows,
        len(df),
        "No skills.",
    )
    return (
        "<h2 id=demand>Demand against capacity, shortages first</h2>"
        '<p class="note">Per skill over the horizon: demand is booked hours plus the work of '
        "unassigned tasks spread over their windows; capacity counts every person having the "
        "skill in full (a multi-skilled person counts under each skill). Short by: demand above "
        "capacity summed over the months.</p>" + table
    )


def _hiring(df: pd.DataFrame) -> str:
    rows = [
        (
            [
                escape(str(r.kind)),
                escape(str(r.role)),
                escape(_opt(r.skills)),
                hours(float(r.hours)),
                str(r.tasks),
                _day(r.first_start),
                _day(r.last_finish),
                money(float(r.cost)) if r.kind == "placeholder" else "-",
            ],
            "",
        )
        for r in df.head(MAX_ROWS).itertuples(index=False)
    ]
    table = _table(
        [
            ("kind", False),
            ("role or skill", False),
            ("skills", False),
            ("hours", True),
            ("tasks", True),
            ("from", True),
            ("until", True),
            ("cost", True),
        ],
        rows,
        len(df),
        "No hiring demand: no placeholder is booked and no unassigned work needs a skill "
        "nobody has.",
    )
    return (
        "<h2 id=hiring>Hiring demand</h2>"
        '<p class="note">Placeholders are roles not yet filled, planned like people; missing '
        "skills are needed by unassigned work and held by nobody.</p>" + table
    )


# ---------------------------------------------------------------------------------------------
# PDF
# ---------------------------------------------------------------------------------------------
class ChromiumMissing(RuntimeError):
    """No headless Chromium to print a PDF with."""


def find_chromium() -> str | None:
    """Debian's ``chromium`` (or ``chromium-browser``, ``google-chrome``) on ``PATH``, else
    ``/usr/bin/chromium``; None when there is none."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


def write_pdf(
    html: str,
    path: str | os.PathLike[str],
    *,
    chromium: str | None = None,
    timeout: float = 120.0,
) -> Path:
    """Print a report page to a PDF with headless Chromium (``--print-to-pdf``), offline: the
    page is written to a temporary file and opened from disk. Raises :class:`ChromiumMissing`
    without a Chromium, :class:`RuntimeError` when it fails or writes nothing."""
    exe = chromium or find_chromium()
    if exe is None:
        raise ChromiumMissing(
            "no headless Chromium found (looked for chromium on PATH and /usr/bin/chromium): "
            "install it (Debian: apt-get install -y chromium) to print a PDF"
        )
    out = Path(path).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="allocator-pdf-") as tmp:
        page = Path(tmp) / "report.html"
        page.write_text(html, encoding="utf-8")
        if out.exists():
            out.unlink()
        cmd = [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-pdf-header-footer",
            f"--user-data-dir={Path(tmp) / 'profile'}",
            f"--print-to-pdf={out}",
            page.as_uri(),
        ]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"chromium did not print the PDF within {timeout:g} s") from None
    if not out.is_file() or out.stat().st_size == 0:
        tail = (done.stderr or "").strip().splitlines()[-1:]
        raise RuntimeError(f"chromium wrote no PDF (exit {done.returncode}): {' '.join(tail)}")
    return out
