"""Rebalancing two weeks on: how much a re-plan churns at each stability price.

A held-out generated portfolio (``allocator.generator.generate``, 40 people) is solved (the
previous plan, made on its calendar's first day). Two weeks on (``as_of`` 10 working days
later), the world has moved as the previous plan said: tasks that finished before ``as_of`` are
``done``, tasks running across it are ``in_progress`` with their people and the work left
(proportional to the working days left), one person left the day before ``as_of`` (the one with
the most planned work after it among a seeded sample), and one new task arrived (a copy of a
to-do task of the same project, no predecessors). The new portfolio is then rebalanced from the
previous plan at each stability price S (0 is a free re-plan; the default is
``allocator.rebalance.DEFAULT_STABILITY``), all at the same time limit; with ``--budget0`` also
at the default S with a churn budget of 0 (row ``K=0``: no chosen change at all), which shows
what the chosen changes buy.

Per run: undelivered work (priority-weighted hours, the objective's first term) and delivered
hours (raw work of the assigned tasks), weighted late days, the plan's ``changes`` in total,
``forced`` and not (``unforced``), those whose only reason is "better use of capacity"
(``only_better_use``), and the share of the kept tasks (previous assignments still valid) that
moved. Rows go to ``benchmarks/results/rebalance.csv`` (replaced rows of the same seed and S).

    python -m benchmarks.rebalance_stability --seeds 101,202 --stability 0,1,5,10 --budget0 \\
        --time-limit 20 --workers 2
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import random
import sys
import time
from pathlib import Path
from typing import Any

from allocator.checker import check
from allocator.contract import load_portfolio, portfolio_to_dict
from allocator.diff import BETTER_USE
from allocator.domain import Plan, Portfolio
from allocator.engine import SolveParams, solve
from allocator.generator import generate
from allocator.objective import evaluate
from allocator.rebalance import DEFAULT_STABILITY, rebalance
from allocator.timeline import Timeline

HERE = Path(__file__).resolve().parent
CSV = HERE / "results" / "rebalance.csv"
COLUMNS = [
    "seed",
    "people",
    "projects",
    "tasks",
    "stability",
    "churn_budget",
    "time_limit",
    "undelivered_work_hours",
    "delivered_hours",
    "weighted_late_days",
    "weighted_finish_days",
    "cost",
    "changes",
    "forced",
    "unforced",
    "only_better_use",
    "kept",
    "kept_moved",
    "kept_moved_pct",
    "valid",
    "seconds",
    "date",
]


def two_weeks_on(p: Portfolio, prev: Plan, seed: int, weeks: int = 2) -> Portfolio:
    """The portfolio ``weeks`` weeks after ``prev`` was made, as described in the module doc."""
    rng = random.Random(seed)
    tl = Timeline.of(p)
    start = tl.days[0]
    as_of = start + dt.timedelta(days=7 * weeks)
    data = portfolio_to_dict(p)
    data["as_of"] = as_of.isoformat()
    by_id = {t["id"]: t for proj in data["projects"] for t in proj["tasks"]}
    work_after: dict[str, int] = {}
    for a in prev.assignments:
        t = by_id[a.task]
        days = [d for d in tl.days if a.start <= d <= a.finish]
        left = [d for d in days if d >= as_of]
        for who in a.people:
            work_after[who] = work_after.get(who, 0) + len(left)
        if not left:
            t["status"] = "done"
        elif len(left) < len(days):
            t["status"] = "in_progress"
            share = len(left) / len(days)
            if "effort_hours" in t and len(a.people) == 1:
                rem = max(1.0, round(t["effort_hours"] * share, 1))
                t["progress"] = {"people": list(a.people), "remaining_hours": rem}
            else:
                rem_days = max(1, round(t["duration_days"] * share))
                t["progress"] = {"people": list(a.people), "remaining_days": rem_days}
        else:
            continue
        if "pinned" in t:  # a pin is kept once the work has started
            t["pinned"].pop("start", None)
            if not t["pinned"]:
                del t["pinned"]
    # one leaver: the busiest after as_of among a seeded sample of 5
    sample = rng.sample(sorted(work_after), min(5, len(work_after)))
    leaver = max(sample, key=lambda w: (work_after[w], w))
    for person in data["people"]:
        if person["id"] == leaver:
            person["available_until"] = (as_of - dt.timedelta(days=1)).isoformat()
    # one new task: a copy of a to-do task, in the same project
    todo = [
        (proj, t)
        for proj in data["projects"]
        for t in proj["tasks"]
        if t.get("status", "todo") == "todo"
    ]
    proj, base = rng.choice(todo)
    new = {k: v for k, v in base.items() if k not in ("pinned", "predecessors", "id", "name")}
    new["id"] = f"{base['id']}-new"
    proj["tasks"].append(new)
    return load_portfolio(data)


def measure(
    p2: Portfolio, prev: Plan, stability: int, params: SolveParams, budget: int | None = None
) -> dict[str, Any]:
    t0 = time.monotonic()
    res = rebalance(p2, prev, params, stability=stability, churn_budget=budget)
    secs = time.monotonic() - t0
    plan = res.plan
    terms = evaluate(p2, plan).as_dict()
    delivered = sum(p2.task_work_hours(p2.task_by_id[a.task]) for a in plan.assignments)
    changes = plan.changes or ()
    kept = int(res.stats["kept"])  # type: ignore[call-overload]
    moved = int(res.stats["moved"])  # type: ignore[call-overload]
    return {
        "stability": stability,
        "churn_budget": "" if budget is None else budget,
        "undelivered_work_hours": terms.get("undelivered_work_hours"),
        "delivered_hours": round(delivered, 1),
        "weighted_late_days": terms.get("weighted_late_days"),
        "weighted_finish_days": terms.get("weighted_finish_days"),
        "cost": terms.get("cost"),
        "changes": len(changes),
        "forced": sum(1 for c in changes if c.forced),
        "unforced": sum(1 for c in changes if not c.forced),
        "only_better_use": sum(1 for c in changes if tuple(c.reasons) == (BETTER_USE,)),
        "kept": kept,
        "kept_moved": moved,
        "kept_moved_pct": round(100 * moved / max(1, kept), 1),
        "valid": check(p2, plan).valid,
        "seconds": round(secs, 1),
    }


def run_seed(seed: int, args: argparse.Namespace, prices: list[int]) -> list[dict[str, Any]]:
    p = generate(args.people, args.projects, seed=seed, tightness=args.tightness)
    params = SolveParams(time_limit=args.time_limit, workers=args.workers, seed=0)
    prev = solve(p, params).plan
    p2 = two_weeks_on(p, prev, seed)
    rows = []
    runs: list[tuple[int, int | None]] = [(s, None) for s in prices]
    if args.budget0:
        runs.append((DEFAULT_STABILITY, 0))
    for s, budget in runs:
        row = {
            "seed": seed,
            "people": args.people,
            "projects": args.projects,
            "tasks": len(p2.tasks_to_plan),
            "time_limit": args.time_limit,
            "date": dt.date.today().isoformat(),
        }
        row.update(measure(p2, prev, s, params, budget))
        rows.append(row)
        print(_line(row), flush=True)
    return rows


HEAD = (
    f"{'seed':>5} {'S':>3} {'undeliv h':>10} {'deliv h':>9} {'late':>6} {'changes':>7} "
    f"{'forced':>6} {'unforced':>8} {'better-use':>10} {'kept moved':>14} {'valid':>5} {'s':>6}"
)


def _line(r: dict[str, Any]) -> str:
    s = f"{r['stability']}{'*' if r['stability'] == DEFAULT_STABILITY else ''}"
    if r["churn_budget"] != "":
        s = f"K={r['churn_budget']}"
    moved = f"{r['kept_moved']}/{r['kept']} {r['kept_moved_pct']:.0f}%"
    return (
        f"{r['seed']:>5} {s:>3} {r['undelivered_work_hours']:>10,.1f} {r['delivered_hours']:>9,.1f} "
        f"{r['weighted_late_days']:>6} {r['changes']:>7} {r['forced']:>6} {r['unforced']:>8} "
        f"{r['only_better_use']:>10} {moved:>14} {r['valid']!s:>5} {r['seconds']:>6}"
    )


def table(rows: list[dict[str, str]]) -> str:
    """The RESULTS.md table of the committed rows (``benchmarks/results/rebalance.csv``)."""
    out = [
        "| seed | S | undelivered (weighted h) | delivered (h) | weighted late days | changes "
        '| forced | chosen | only "better use" | kept tasks moved |',
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        s = r["stability"] + (" (default)" if int(r["stability"]) == DEFAULT_STABILITY else "")
        if r["churn_budget"] != "":
            s = f"{r['stability']}, budget {r['churn_budget']}"
        out.append(
            f"| {r['seed']} | {s} | {float(r['undelivered_work_hours']):,.0f} "
            f"| {float(r['delivered_hours']):,.0f} | {r['weighted_late_days']} | {r['changes']} "
            f"| {r['forced']} | {r['unforced']} | {r['only_better_use']} "
            f"| {r['kept_moved']}/{r['kept']} ({float(r['kept_moved_pct']):.0f} %) |"
        )
    return "\n".join(out) + "\n"


def write_csv(rows: list[dict[str, Any]]) -> None:
    """Replace the rows of the same (seed, people, projects, stability, time_limit)."""
    old: list[dict[str, str]] = []
    if CSV.exists():
        with CSV.open(newline="") as f:
            old = list(csv.DictReader(f))

    def key(r: dict[str, Any]) -> tuple[str, ...]:
        names = ("seed", "people", "projects", "stability", "churn_budget", "time_limit")
        return tuple(str(r.get(k, "")) for k in names)

    new_keys = {key(r) for r in rows}
    kept = [r for r in old if key(r) not in new_keys]
    CSV.parent.mkdir(parents=True, exist_ok=True)
    with CSV.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
        w.writeheader()
        for r in [*kept, *rows]:
            w.writerow(r)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="101", help="e.g. 101 or 101-103 or 101,205")
    ap.add_argument("--people", type=int, default=40)
    ap.add_argument("--projects", type=int, default=25)
    ap.add_argument("--tightness", type=float, default=0.9)
    ap.add_argument("--stability", default=f"0,1,2,{DEFAULT_STABILITY},10")
    ap.add_argument("--time-limit", type=float, default=20.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-csv", action="store_true", help="print only")
    ap.add_argument(
        "--budget0",
        action="store_true",
        help="also a run at the default S with churn_budget 0 (no chosen change at all)",
    )
    args = ap.parse_args(argv)
    seeds: list[int] = []
    for part in args.seeds.split(","):
        lo, _, hi = part.partition("-")
        seeds += range(int(lo), int(hi or lo) + 1)
    prices = [int(x) for x in args.stability.split(",")]
    print(HEAD, flush=True)
    rows = [r for s in seeds for r in run_seed(s, args, prices)]
    if not args.no_csv:
        write_csv(rows)
        print(f"rows written to {CSV.relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
