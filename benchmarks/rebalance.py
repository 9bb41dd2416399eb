"""Rebalancing after a ~5 % perturbation: how much changes, and what it costs.

For each seed: a generated portfolio is solved (the previous plan); then about 5 % of its tasks
are perturbed (deterministically: 40 % of them have their estimate grow by half, 30 % are
cancelled, 30 % get a new sibling task of the same size) and the new portfolio is planned four
ways at the same time limit: from scratch (``solve``), and ``rebalance`` with stability 0 (the
previous plan only as the warm start), stability 1, and a churn budget of 5 % of the previous
assignments. Reported: the share of the previous assignments whose people or dates changed, the
objective terms, validity (checker) and seconds.

    python -m benchmarks.rebalance --seeds 1-3 --people 20 --projects 10 --time-limit 5 --record

``--record`` writes the table into ``benchmarks/RESULTS.md`` between the ``rebalance`` markers.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import sys
import time
from pathlib import Path
from typing import Any

from allocator.checker import check
from allocator.contract import load_portfolio, portfolio_to_dict
from allocator.diff import changed_tasks
from allocator.domain import Portfolio
from allocator.engine import Result, SolveParams, solve
from allocator.generator import generate
from allocator.rebalance import rebalance
from benchmarks.results_md import record

HERE = Path(__file__).resolve().parent


def perturb(p: Portfolio, seed: int, share: float = 0.05) -> Portfolio:
    data = portfolio_to_dict(p)
    rng = random.Random(seed)
    tasks = [(proj, t) for proj in data["projects"] for t in proj["tasks"]]
    picked = rng.sample(tasks, max(1, round(share * len(tasks))))
    for k, (proj, t) in enumerate(picked):
        kind = k % 10
        if kind < 4 and "effort_hours" in t:
            t["effort_hours"] = round(t["effort_hours"] * 1.5, 1)
        elif kind < 7:
            t["status"] = "cancelled"
        else:
            clone = {key: v for key, v in t.items() if key not in ("pinned", "predecessors")}
            clone["id"] = f"{t['id']}-new"
            proj["tasks"].append(clone)
    return load_portfolio(data)


def run_one(seed: int, args: argparse.Namespace) -> list[dict[str, Any]]:
    p = generate(args.people, args.projects, seed=seed, tightness=args.tightness)
    params = SolveParams(time_limit=args.time_limit, workers=args.workers, seed=0)
    prev = solve(p, params).plan
    p2 = perturb(p, seed)
    n_prev = len(prev.assignments)
    ways: list[tuple[str, Any]] = [
        ("scratch", lambda: solve(p2, params)),
        ("rebalance S=0", lambda: rebalance(p2, prev, params, stability=0)),
        ("rebalance S=1", lambda: rebalance(p2, prev, params, stability=1)),
        (
            "rebalance K=5%",
            lambda: rebalance(p2, prev, params, churn_budget=int(0.05 * n_prev), stability=0),
        ),
    ]
    rows = []
    for name, fn in ways:
        t0 = time.monotonic()
        res: Result = fn()
        secs = time.monotonic() - t0
        terms = res.terms
        assert terms is not None
        rows.append(
            {
                "seed": seed,
                "tasks": len(p2.tasks_to_plan),
                "way": name,
                "changed": len(changed_tasks(prev, res.plan)) / max(1, n_prev),
                "undelivered": terms.undelivered / 100,
                "late": terms.late,
                "finish": terms.finish,
                "valid": check(p2, res.plan).valid,
                "s": round(secs, 2),
            }
        )
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    out = [
        "| seed | tasks | way | changed | undelivered (h) | weighted late days | weighted finish | valid | s |",
        "|---:|---:|:--|---:|---:|---:|---:|:-:|---:|",
    ]
    for r in rows:
        out.append(
            f"| {r['seed']} | {r['tasks']} | {r['way']} | {r['changed']:.1%} | "
            f"{r['undelivered']:,.0f} | {r['late']:,} | {r['finish']:,} | {r['valid']} | {r['s']} |"
        )
    ways = sorted({r["way"] for r in rows}, key=[r["way"] for r in rows].index)
    out.append("")
    for w in ways:
        sel = [r for r in rows if r["way"] == w]
        ch = sum(r["changed"] for r in sel) / len(sel)
        und = sum(r["undelivered"] for r in sel)
        late = sum(r["late"] for r in sel)
        out.append(
            f"- {w}: mean changed {ch:.1%}, total undelivered {und:,.0f} h, "
            f"total weighted late days {late:,}"
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="1-3")
    ap.add_argument("--people", type=int, default=20)
    ap.add_argument("--projects", type=int, default=10)
    ap.add_argument("--tightness", type=float, default=0.9)
    ap.add_argument("--time-limit", type=float, default=5.0)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--record", action="store_true")
    args = ap.parse_args(argv)
    lo, _, hi = args.seeds.partition("-")
    seeds = range(int(lo), int(hi or lo) + 1)
    rows = [r for s in seeds for r in run_one(s, args)]
    md = table(rows)
    header = (
        f"Command: `python -m benchmarks.rebalance --seeds {args.seeds} --people {args.people} "
        f"--projects {args.projects} --tightness {args.tightness} --time-limit {args.time_limit} "
        f"--workers {args.workers}`; machine: {os.cpu_count()} cores, {platform.machine()}, "
        f"Python {platform.python_version()}; date: {dt.date.today().isoformat()}. Perturbation: "
        "5 % of the tasks (estimate +50 %, cancelled, or a new sibling task); `changed`: share "
        "of the previous assignments whose people or dates differ; all at equal time limits."
    )
    print(header + "\n\n" + md)
    if args.record:
        record("rebalance", f"{header}\n\n{md}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
