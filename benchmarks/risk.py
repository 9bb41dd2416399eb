"""How long the risk Monte Carlo (``allocator.risk``) takes: 10,000 runs over a plan.

    python -m benchmarks.risk            # measure, append rows to benchmarks/results/risk.csv
    python -m benchmarks.risk --record   # also write the section of benchmarks/RESULTS.md

Two portfolios: the bundled example (12 tasks) and one generated with
``allocator generate --people 85 --projects 128 --seed 0`` (1,060 tasks), each planned by the
greedy list scheduler alone (``SolveParams(greedy_only=True)``: the simulation's time depends
on the plan's size, not its quality). For each, in process: ``compile_seconds``
(:func:`allocator.risk.risk_model`: the calendar, the plan's edges, each task's active days) and
``simulate_seconds`` (:func:`allocator.risk.simulate` with that model: sampling, re-timing,
figures; the best of :data:`REPEAT` timings) for ``runs`` runs, seed 0, the default spread;
and ``cli_seconds``, the wall time of ``allocator risk PORTFOLIO --plan PLAN --runs N --json``
(start-up, imports and reading the files included). ``load1`` is the machine's one-minute load
average before the measurement (the machine is shared: figures under load are slower than on
an idle machine, and vary from run to run by a factor of 3 or more). The section of
RESULTS.md is the table of the last row per portfolio, rendered by :func:`table`
(``benchmarks.summarize`` checks it).
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"
CSV = RESULTS_DIR / "risk.csv"
FIELDS = [
    "date",
    "machine",
    "portfolio",
    "tasks",
    "assigned",
    "people",
    "runs",
    "compile_seconds",
    "simulate_seconds",
    "cli_seconds",
    "load1",
]
GENERATED = (85, 128, 0)  # people, projects, seed
RUNS = 10_000
#: simulate is timed this many times; the best is recorded (the machine is shared)
REPEAT = 3


def _cli(*args: str) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "allocator_api.cli", *args], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"allocator {' '.join(args)}: {done.stderr.strip()}")
    return time.perf_counter() - t0


def measure(machine: str, runs: int = RUNS) -> list[dict[str, object]]:
    from allocator.cli import example_path
    from allocator.contract import dump_plan, dump_portfolio, load_portfolio
    from allocator.engine import SolveParams, solve
    from allocator.generator import generate
    from allocator.risk import risk_model, simulate

    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="bench-risk-") as tmp:
        d = Path(tmp)
        people, projects, seed = GENERATED
        inputs = {"example": example_path(), "generated": d / "generated.json"}
        dump_portfolio(generate(people, projects, seed=seed), inputs["generated"])
        for name, path in inputs.items():
            portfolio = load_portfolio(path)
            plan = solve(portfolio, SolveParams(time_limit=60, workers=1, greedy_only=True)).plan
            plan_path = d / f"{name}-plan.json"
            dump_plan(plan, plan_path)
            load1 = os.getloadavg()[0]
            t0 = time.perf_counter()
            model = risk_model(portfolio, plan)
            compile_s = time.perf_counter() - t0
            times = []
            for _ in range(REPEAT):
                t0 = time.perf_counter()
                simulate(portfolio, plan, runs=runs, seed=0, model=model)
                times.append(time.perf_counter() - t0)
            simulate_s = min(times)
            cli_s = _cli("risk", str(path), "--plan", str(plan_path), "--runs", str(runs), "--json")
            rows.append(
                {
                    "date": date.today().isoformat(),
                    "machine": machine,
                    "portfolio": name,
                    "tasks": sum(1 for _ in portfolio.tasks()),
                    "assigned": len(model.tasks),
                    "people": len(portfolio.people),
                    "runs": runs,
                    "compile_seconds": f"{compile_s:.3f}",
                    "simulate_seconds": f"{simulate_s:.3f}",
                    "cli_seconds": f"{cli_s:.3f}",
                    "load1": f"{load1:.1f}",
                }
            )
            print(rows[-1], file=sys.stderr)
    return rows


def append(rows: list[dict[str, object]]) -> None:
    new = not CSV.exists()
    with CSV.open("a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        if new:
            w.writeheader()
        w.writerows(rows)


def table(rows: list[dict[str, str]]) -> str:
    """The RESULTS.md section: the last row per portfolio."""
    last: dict[str, dict[str, str]] = {}
    for r in rows:
        last[r["portfolio"]] = r
    if not last:
        return ""
    any_row = next(iter(last.values()))
    out = [
        f"Command ({any_row['date']}, {any_row['machine']}): `python -m benchmarks.risk "
        "--record`. The bundled example and a generated portfolio (`allocator generate "
        f"--people {GENERATED[0]} --projects {GENERATED[1]} --seed {GENERATED[2]}`), each "
        "planned by the greedy scheduler alone; the Monte Carlo of `allocator.risk` (triangular "
        "durations, default spread -10 %/+30 %, seed 0) re-times the plan's assigned tasks in "
        "every run. `compile` builds the model (calendar, edges, active days), `simulate` "
        f"samples, re-times and sums up (best of {REPEAT}), both in process; `CLI` is the whole `allocator risk "
        "... --json` command's wall time (start-up, imports and reading the files included). "
        "`load` is the one-minute load average of the shared 2-core machine before the "
        "measurement. Rows in `benchmarks/results/risk.csv`.",
        "",
        "| portfolio | tasks | assigned | people | runs | compile s | simulate s | CLI s | load |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in sorted(last.items(), key=lambda kv: kv[0] != "example"):
        out.append(
            f"| {name} | {int(r['tasks']):,} | {int(r['assigned']):,} | {int(r['people']):,} | "
            f"{int(r['runs']):,} | {float(r['compile_seconds']):.2f} | "
            f"{float(r['simulate_seconds']):.2f} | {float(r['cli_seconds']):.2f} | "
            f"{float(r['load1']):.1f} |"
        )
    return "\n".join(out) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--record", action="store_true", help="write the RESULTS.md section")
    ap.add_argument("--runs", type=int, default=RUNS)
    ap.add_argument("--machine", default=f"{platform.machine()}, 2 cores, 24 GB")
    args = ap.parse_args()
    append(measure(args.machine, args.runs))
    if args.record:
        from benchmarks.results_md import record

        with CSV.open(newline="") as f:
            record("risk", "## Risk (Monte Carlo over a plan)\n\n" + table(list(csv.DictReader(f))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
