"""The ``allocator`` commands over a plan, apart from :mod:`allocator.cli` (the solve, check
and rebalance commands, the parser and the shared helpers) so that neither file runs long:

- ``report`` (one HTML page, ``--pdf``) and ``export`` (an Excel workbook);
- ``risk``, ``explain`` and ``skills`` (what drives the dates, the skills view);
- ``scenarios`` and ``recommend`` (what-ifs, each proven by re-solving).

:func:`allocator.cli.build_parser` adds them; exit codes and input rules are that module's.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from allocator.cli import (
    EXIT_INPUT,
    EXIT_OK,
    load_input,
    nonneg_int,
    positive,
)
from allocator.contract import load_plan

if TYPE_CHECKING:
    from allocator.cli import SubParsers


def add_report_commands(sub: SubParsers) -> None:
    """``report`` (one HTML page, ``--pdf``) and ``export`` (an Excel workbook) of a plan."""
    r = sub.add_parser("report", help="a one-page HTML report of a plan (--pdf: also a PDF)")
    r.add_argument("portfolio", help="portfolio JSON, or 'example'")
    r.add_argument("plan", help="plan JSON")
    r.add_argument("-o", "--output", required=True, help="where to write the HTML page")
    r.add_argument("--pdf", metavar="FILE", help="also print it to a PDF (headless Chromium)")
    r.add_argument("--title", help="the page's title")
    r.set_defaults(run=cmd_report)
    e = sub.add_parser("export", help="a plan as an Excel workbook (.xlsx)")
    e.add_argument("portfolio", help="portfolio JSON, or 'example'")
    e.add_argument("plan", help="plan JSON")
    e.add_argument("-o", "--output", required=True, help="where to write the .xlsx")
    e.set_defaults(run=cmd_export)


def cmd_report(args: argparse.Namespace) -> int:
    from allocator.report import ChromiumMissing, find_chromium, report_html, write_pdf

    if args.pdf and find_chromium() is None:  # before any work: the user asked for a PDF
        print(
            "error: --pdf needs a headless Chromium (chromium on PATH or /usr/bin/chromium; "
            "Debian: apt-get install -y chromium)",
            file=sys.stderr,
        )
        return EXIT_INPUT
    portfolio = load_input(args.portfolio)
    plan = load_plan(args.plan)
    page = report_html(portfolio, plan, title=args.title)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    print(f"report written to {out} ({out.stat().st_size / 1024:,.0f} KB)")
    if args.pdf:
        try:
            pdf = write_pdf(page, args.pdf)
        except ChromiumMissing as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_INPUT
        print(f"PDF written to {pdf} ({pdf.stat().st_size / 1024:,.0f} KB)")
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from allocator.export import export_workbook

    portfolio = load_input(args.portfolio)
    plan = load_plan(args.plan)
    try:
        out = export_workbook(portfolio, plan, args.output)
    except ModuleNotFoundError as exc:
        if exc.name != "openpyxl":
            raise
        print("error: export needs openpyxl (the 'notebook' extra)", file=sys.stderr)
        return EXIT_INPUT
    print(f"workbook written to {out} ({out.stat().st_size / 1024:,.0f} KB)")
    return EXIT_OK


def _spread(text: str) -> tuple[float, float]:
    """``LOW,HIGH`` percents (``10,30``) -> fractions."""
    try:
        low, high = (float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LOW,HIGH percents, got {text!r}") from None
    if not (0 <= low < 100 and 0 <= high < 1000):
        raise argparse.ArgumentTypeError(f"need 0 <= LOW < 100 and 0 <= HIGH < 1000, got {text!r}")
    return low / 100.0, high / 100.0


def add_decision_commands(sub: SubParsers) -> None:
    """``risk`` (a Monte Carlo over a plan), ``explain`` (what drives a date), ``skills``
    (demand against capacity per skill and level, single-person skills)."""
    r = sub.add_parser("risk", help="chance each project and task finishes on time (Monte Carlo)")
    r.add_argument("portfolio", help="portfolio JSON, or 'example'")
    r.add_argument("--plan", required=True, help="plan JSON")
    r.add_argument("--runs", type=positive(int), default=10_000, metavar="N")
    r.add_argument("--seed", type=nonneg_int, default=0, metavar="K")
    r.add_argument(
        "--default-spread",
        type=_spread,
        default=None,
        metavar="LOW,HIGH",
        help="percent under and over the nominal amount of tasks without an estimate "
        "(default 10,30)",
    )
    r.add_argument("--json", action="store_true", help="JSON output")
    r.set_defaults(run=cmd_risk)
    e = sub.add_parser("explain", help="what drives the finish of a task or project")
    e.add_argument("portfolio", help="portfolio JSON, or 'example'")
    e.add_argument("plan", help="plan JSON")
    e.add_argument("target", metavar="TASK_OR_PROJECT", help="a task id, else a project id")
    e.add_argument("--json", action="store_true", help="JSON output")
    e.set_defaults(run=cmd_explain)
    k = sub.add_parser("skills", help="demand against capacity per skill and level; bus factor")
    k.add_argument("portfolio", help="portfolio JSON, or 'example'")
    k.add_argument("--plan", help="plan JSON (without: every task's work spread over its window)")
    k.add_argument("--json", action="store_true", help="JSON output")
    k.set_defaults(run=cmd_skills)


def cmd_risk(args: argparse.Namespace) -> int:
    from allocator.risk import DEFAULT_SPREAD, simulate

    portfolio = load_input(args.portfolio)
    plan = load_plan(args.plan)
    spread = DEFAULT_SPREAD if args.default_spread is None else args.default_spread
    try:
        result = simulate(portfolio, plan, runs=args.runs, seed=args.seed, default_spread=spread)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))
        return EXIT_OK

    def pct(p: float | None) -> str:
        return "no deadline" if p is None else f"on time {p * 100:.1f} %"

    print(f"{result.runs:,} runs, seed {result.seed}")
    for pid, v in result.projects.items():
        drivers = ", ".join(
            f"{d['task']} ({d['share_of_late_runs'] * 100:.0f} %)" for d in v["drivers"]
        )
        print(
            f"{pid}: {pct(v['p_on_time'])}; finish P50 {v['p50_finish']}, P80 {v['p80_finish']}, "
            f"P95 {v['p95_finish']}" + (f"; when late, driven by {drivers}" if drivers else "")
        )
    crit = sorted(result.tasks.items(), key=lambda kv: -kv[1]["criticality"])[:5]
    for tid, v in crit:
        if v["criticality"] > 0:
            print(
                f"  {tid}: on a late project's driving chain in {v['criticality'] * 100:.1f} % "
                f"of runs; {pct(v['p_on_time'])}, P80 finish {v['p80_finish']}"
            )
    return EXIT_OK


def cmd_explain(args: argparse.Namespace) -> int:
    from allocator.drivers import UnknownTarget, explain

    portfolio = load_input(args.portfolio)
    plan = load_plan(args.plan)
    try:
        e = explain(portfolio, plan, args.target)
    except UnknownTarget:
        print(f"error: {args.target!r} is no task and no project of the portfolio", file=sys.stderr)
        return EXIT_INPUT
    print(json.dumps(e.as_dict(), indent=2) if args.json else e.text())
    return EXIT_OK


def cmd_skills(args: argparse.Namespace) -> int:
    from allocator.skills import bus_factor_frame, skill_level_frame

    portfolio = load_input(args.portfolio)
    plan = load_plan(args.plan) if args.plan else None
    levels = skill_level_frame(portfolio, plan)
    bus = bus_factor_frame(portfolio, plan)
    if args.json:
        print(
            json.dumps(
                {
                    "demand_capacity": json.loads(
                        levels.to_json(orient="records", date_format="iso")
                    ),
                    "bus_factor": json.loads(bus.to_json(orient="records", date_format="iso")),
                },
                indent=2,
            )
        )
        return EXIT_OK
    short = levels[levels["shortage_hours"] > 0]
    print(f"shortages: {len(short)} skill-level-months")
    for r in short.itertuples():
        print(
            f"  {r.skill} level {r.level}+ {r.period:%Y-%m}: demand {r.demand_hours:,.0f} h, "
            f"capacity {r.capacity_hours:,.0f} h ({r.people} people), short {r.shortage_hours:,.0f} h"
        )
    print(f"single-person skills: {len(bus)}")
    for b in bus.itertuples():
        who = "nobody" if pd_isna(b.person) else str(b.person)
        extra = []
        if not pd_isna(b.joins):
            extra.append(f"joins {b.joins:%Y-%m-%d}")
        if not pd_isna(b.leaves):
            extra.append(f"leaves {b.leaves:%Y-%m-%d}")
        if not pd_isna(b.away) and b.away:
            extra.append(f"away {b.away}")
        tail = f"; {', '.join(extra)}" if extra else ""
        print(f"  {b.skill} level {b.level}+: {who}, {b.demand_hours:,.0f} h of work{tail}")
    return EXIT_OK


def pd_isna(v: object) -> bool:
    """Missing (None, NaN, NaT, NA) without importing pandas at start-up."""
    import pandas as pd

    return bool(pd.isna(v))


def add_whatif_commands(sub: SubParsers) -> None:
    """``scenarios`` (what-if edits solved side by side) and ``recommend`` (changes proven by
    re-solving); see ``allocator.scenarios`` and ``allocator.recommend``."""
    s = sub.add_parser("scenarios", help="solve what-if scenarios from a base plan, side by side")
    s.add_argument("portfolio", help="portfolio JSON, or 'example'")
    s.add_argument("--plan", required=True, metavar="BASE", help="the base plan JSON")
    s.add_argument("scenario", nargs="+", help="scenario JSON: {name, edits: [...]}")
    r = sub.add_parser("recommend", help="changes that help, each proven by re-solving")
    r.add_argument("portfolio", help="portfolio JSON, or 'example'")
    r.add_argument("--plan", required=True, help="the plan JSON to improve")
    r.add_argument("--limit", type=positive(int), default=10, metavar="N", help="candidates")
    r.add_argument("--staff", metavar="TASK", help="who should staff TASK: each qualified person")
    for x in (s, r):
        x.add_argument("-o", "--output", required=True, metavar="DIR", help="output directory")
        x.add_argument("--time-limit", type=positive(float), default=10.0, metavar="S")
        x.add_argument("--workers", type=positive(int), default=1, metavar="N")
        x.add_argument("--processes", type=positive(int), default=2, metavar="N")
        x.add_argument("--seed", type=nonneg_int, default=0, metavar="K")
        x.add_argument("--stability", type=nonneg_int, metavar="S", help="as for rebalance")
        x.add_argument("--greedy", action="store_true", help="greedy only (exactly reproducible)")
        x.add_argument(
            "--deterministic-time",
            type=positive(float),
            metavar="D",
            help="cap on CP-SAT's deterministic time per stage (reproducible re-solves)",
        )
        x.add_argument("--json", action="store_true", help="JSON output")
    s.set_defaults(run=cmd_scenarios)
    r.set_defaults(run=cmd_recommend)


def _whatif_settings(args: argparse.Namespace) -> object:
    from allocator.scenarios import SolveSettings

    return SolveSettings(
        time_limit=args.time_limit,
        workers=args.workers,
        seed=args.seed,
        greedy_only=args.greedy,
        stability=args.stability,
        deterministic_time=args.deterministic_time,
    )


def cmd_scenarios(args: argparse.Namespace) -> int:
    from allocator.scenarios import SolveSettings, load_scenario, run_scenarios

    portfolio = load_input(args.portfolio)
    base = load_plan(args.plan)
    settings = _whatif_settings(args)
    assert isinstance(settings, SolveSettings)
    scenarios = [load_scenario(path) for path in args.scenario]
    comparison = run_scenarios(
        portfolio, base, scenarios, settings, processes=args.processes, output=args.output
    )
    text = json.dumps(comparison.as_dict(), indent=2, ensure_ascii=False)
    (Path(args.output) / "comparison.json").write_text(text + "\n", encoding="utf-8")
    print(text if args.json else comparison.text())
    return EXIT_OK


def cmd_recommend(args: argparse.Namespace) -> int:
    from allocator.recommend import recommend, write_recommendations
    from allocator.scenarios import SolveSettings

    portfolio = load_input(args.portfolio)
    plan = load_plan(args.plan)
    settings = _whatif_settings(args)
    assert isinstance(settings, SolveSettings)
    result = recommend(
        portfolio, plan, settings, limit=args.limit, processes=args.processes, staff=args.staff
    )
    result = write_recommendations(result, plan, args.output)
    if args.json:
        print(json.dumps(result.as_dict(), indent=2, ensure_ascii=False))
    else:
        print(result.text())
        print(f"written to {Path(args.output) / 'recommendations.json'}")
    return EXIT_OK
