"""What the time limit bounds, measured: ``python -m benchmarks.time_limit``.

Solves a generated portfolio (default 10,000 tasks x 1,000 people, the scale ladder's size) at
a few time limits and prints, for each: the time to compile, the greedy baseline (every rule),
the first plan, and the whole solve, and how far the return came after the limit. The engine's
promise (``allocator.engine.SolveParams.time_limit``): compile and the greedy baseline are
outside the limit; the rest returns within the limit plus a fraction of a second.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import time
from pathlib import Path

from allocator.engine import SolveParams, SolveProgress, solve
from allocator.generator import generate

CSV = Path(__file__).parent / "results" / "time_limit.csv"
COLUMNS = (
    "tasks",
    "people",
    "workers",
    "limit_s",
    "compile_s",
    "greedy_s",
    "first_plan_s",
    "total_s",
    "over_limit_s",
    "over_outside_s",
    "load_1min",
    "date",
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--people", type=int, default=1000)
    ap.add_argument("--projects", type=int, default=1250)
    ap.add_argument("--limits", default="10,30")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    portfolio = generate(args.people, args.projects, seed=0)
    n = len(portfolio.tasks_to_plan)
    print(f"{n} tasks x {len(portfolio.people)} people, {args.workers} workers")
    print("limit_s  compile_s  greedy_s  first_plan_s  total_s  over_limit_s  over_outside_s")
    for limit in (float(x) for x in args.limits.split(",")):
        first: list[float] = []

        def on_progress(p: SolveProgress, first: list[float] = first) -> None:
            if not first and p.objective is not None:
                first.append(p.elapsed)

        t0 = time.monotonic()
        res = solve(
            portfolio,
            SolveParams(time_limit=limit, workers=args.workers, seed=0, on_progress=on_progress),
        )
        total = time.monotonic() - t0
        compile_s = float(res.stats["compile_seconds"])  # type: ignore[arg-type]
        greedy_s = float(res.stats["greedy_seconds"])  # type: ignore[arg-type]
        outside = compile_s + greedy_s
        row = {
            "tasks": n,
            "people": len(portfolio.people),
            "workers": args.workers,
            "limit_s": limit,
            "compile_s": round(compile_s, 1),
            "greedy_s": round(greedy_s, 1),
            "first_plan_s": round(first[0], 1) if first else "",
            "total_s": round(total, 1),
            "over_limit_s": round(total - limit, 1),
            "over_outside_s": round(total - max(limit, outside), 1),
            "load_1min": round(_load(), 1),
            "date": dt.date.today().isoformat(),
        }
        new = not CSV.exists()
        with CSV.open("a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=COLUMNS)
            if new:
                w.writeheader()
            w.writerow(row)
        print(
            f"{limit:7.0f}  {compile_s:9.1f}  {greedy_s:8.1f}  {first[0] if first else float('nan'):12.1f}"
            f"  {total:7.1f}  {total - limit:12.1f}  {total - max(limit, outside):14.1f}"
        )


def _load() -> float:
    """The machine's 1-minute load average (0 where the platform has none)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return 0.0


if __name__ == "__main__":
    main()
