"""Convergence (issue 15): undelivered work against time, today's engine beside the new one.

    python -m benchmarks.convergence --sizes 200,2000 --limit 60 --seeds 0,1,2 \\
        --base /tmp/base_pkgs --base-label b0d3ab7
    python -m benchmarks.convergence --record-only   # rewrite the RESULTS.md section from rows

The portfolios are the scale ladder's (``allocator.generator.generate`` with the ladder's people
and projects, tightness 1.0, portfolio seed 7), written once in the contract format and read by
every run. Each run is one solve in its own process (``SolveParams(time_limit, workers=2,
seed=s)``), so that a *base* engine can be run beside the working tree's: ``--base DIR`` puts
``DIR`` first on ``PYTHONPATH`` for the base runs (a directory holding ``allocator``,
``solver_models`` and ``allocator_api`` of an older commit, e.g. links into a ``git archive``).
The runs of one size alternate base, new, base, new over the solver seeds, so a busy moment of
the shared machine falls on both.

What a row holds comes from the engine's own progress reports (``SolveProgress``): the best
undelivered work reported by 10, 30, 60 and 300 s after the call (a checkpoint beyond the time
limit is left empty), the plan returned, the bound returned with it (``lower_bound``) and the
gap it gives, and the checker's verdict on the returned plan (``allocator.checker`` of the tree
being measured, in the parent process, on the plan as written by the child). The table gives,
per size and engine, the median and the worst over the seeds: the issue counts the worst.

Rows go to ``benchmarks/results/convergence.csv``; ``--record`` writes the section
``convergence`` of ``benchmarks/RESULTS.md`` from every row (``benchmarks.summarize`` checks it).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import logging
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.undelivered_trace import Trace, best_at, greedy_hours

HERE = Path(__file__).resolve().parent
CSV = HERE / "results" / "convergence.csv"
PORTFOLIO_SEED, TIGHTNESS = 7, 1.0
CHECKPOINTS = (10, 30, 60, 300)
FIELDS = [
    "size", "tasks", "people", "engine", "label", "seed", "time_limit", "workers", "greedy_h",
    *(f"at_{c}s_h" for c in CHECKPOINTS), "undelivered_h", "bound_h", "gap_pct", "valid",
    "wall_s", "load", "date", "command",
]  # fmt: skip

log = logging.getLogger("benchmarks.convergence")

# The child: one solve, its trace and plan as JSON on stdout. It uses only the engine's public
# calls, which the base commit has too, and imports nothing from ``benchmarks``.
CHILD = """
import json, sys, time
from allocator.contract import dump_plan, load_portfolio
from allocator.engine import SolveParams, solve

path, limit, seed, workers, out = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
portfolio = load_portfolio(path)
trace = []

def on_progress(p):
    if p.objective is not None and "undelivered_work_hours" in p.objective:
        trace.append((p.elapsed, p.stage, float(p.objective["undelivered_work_hours"])))

t0 = time.monotonic()
result = solve(portfolio, SolveParams(time_limit=limit, workers=workers, seed=seed,
                                      on_progress=on_progress))
wall = time.monotonic() - t0
dump_plan(result.plan, out)
obj = result.plan.objective or {}
lb = result.plan.lower_bound or {}
print(json.dumps({"trace": trace, "wall": wall, "strategy": result.stats.get("strategy"),
                  "undelivered": obj.get("undelivered_work_hours"),
                  "bound": lb.get("undelivered_work_hours")}))
"""


def _load() -> str:
    return f"{os.getloadavg()[0]:.2f}"


def portfolio_file(size: int, folder: Path) -> tuple[Path, int, int]:
    """The ladder's ``size`` portfolio written in the contract format; its tasks and people."""
    from allocator.contract import dump_portfolio
    from allocator.generator import generate
    from benchmarks.scale_rows import LADDER

    people, projects = LADDER[size]
    p = generate(people, projects, seed=PORTFOLIO_SEED, tightness=TIGHTNESS)
    path = folder / f"ladder_{size}.json"
    dump_portfolio(p, path)
    return path, len(p.tasks_to_plan), len(p.people)


def run_one(
    path: Path, limit: float, seed: int, workers: int, base: str | None, folder: Path
) -> dict[str, Any]:
    """One solve in a child process (``base``: the older code's package directory)."""
    env = dict(os.environ)
    if base:
        env["PYTHONPATH"] = base + (os.pathsep + env["PYTHONPATH"] if "PYTHONPATH" in env else "")
    plan_path = folder / f"plan_{'base' if base else 'new'}_{seed}.json"
    # run from the scratch folder, so the working tree is not first on sys.path for the base
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), str(limit), str(seed), str(workers),
         str(plan_path)],
        env=env, cwd=folder, capture_output=True, text=True, check=False,
        timeout=limit * 3 + 120,
    )  # fmt: skip
    if out.returncode != 0:
        raise RuntimeError(f"solve failed ({out.returncode}): {out.stderr[-2000:]}")
    data: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    data["plan_path"] = plan_path
    return data


def _valid(portfolio_path: Path, plan_path: Path) -> bool:
    from allocator.checker import check
    from allocator.contract import load_plan, load_portfolio

    return check(load_portfolio(portfolio_path), load_plan(plan_path)).valid


def row(
    size: int, tasks: int, people: int, engine: str, label: str, seed: int, limit: float,
    workers: int, data: dict[str, Any], valid: bool, load: str,
) -> dict[str, str]:  # fmt: skip
    trace: Trace = [(float(e), str(s), float(h)) for e, s, h in data["trace"]]

    und, bound = data.get("undelivered"), data.get("bound")
    gap = ""
    if und is not None and bound is not None and float(und) > 0:
        gap = f"{100 * (float(und) - float(bound)) / float(und):.1f}"
    return {
        "size": str(size),
        "tasks": str(tasks),
        "people": str(people),
        "engine": engine,
        "label": label,
        "seed": str(seed),
        "time_limit": f"{limit:g}",
        "workers": str(workers),
        "greedy_h": greedy_hours(trace),
        **{f"at_{c}s_h": best_at(trace, c, limit) for c in CHECKPOINTS},
        "undelivered_h": "" if und is None else f"{float(und):.0f}",
        "bound_h": "" if bound is None else f"{float(bound):.0f}",
        "gap_pct": gap,
        "valid": str(valid),
        "wall_s": f"{float(data['wall']):.1f}",
        "load": load,
        "date": dt.date.today().isoformat(),
        "command": "python -m " + shlex.join(["benchmarks.convergence", *sys.argv[1:]]),
    }


def read_rows() -> list[dict[str, str]]:
    if not CSV.exists():
        return []
    with CSV.open(newline="") as f:
        return list(csv.DictReader(f))


def _append(r: dict[str, str]) -> None:
    new = not CSV.exists()
    CSV.parent.mkdir(parents=True, exist_ok=True)
    with CSV.open("a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        if new:
            w.writeheader()
        w.writerow(r)


def _num(x: str) -> float | None:
    return float(x) if x not in ("", None) else None


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f}"


def table(rows: list[dict[str, str]]) -> str:
    """Per size, time limit and engine: median / worst undelivered hours at each checkpoint over
    the seeds, the plan returned, the worst gap, and the new engine's worst against the base's."""
    groups: dict[tuple[int, float, bool, str], list[dict[str, str]]] = {}
    for r in rows:
        key = (int(r["size"]), float(r["time_limit"]), r["engine"] != "base", r["label"])
        groups.setdefault(key, []).append(r)
    cols = [f"at_{c}s_h" for c in CHECKPOINTS]
    head = (
        "| tasks x people | limit | engine | seeds | greedy | "
        + " | ".join(f"{c} s median / worst" for c in CHECKPOINTS)
        + " | returned median / worst | worst gap | valid |\n"
    )
    out = [head, "| " + " | ".join(["---"] * (9 + len(CHECKPOINTS) - 1)) + " |\n"]
    for (_size, limit, _new, label), rs in sorted(groups.items()):
        cells = []
        for c in [*cols, "undelivered_h"]:
            xs = [v for v in (_num(r[c]) for r in rs) if v is not None]
            cells.append(f"{_fmt(statistics.median(xs))} / {_fmt(max(xs))}" if xs else "-")
        gaps = [v for v in (_num(r["gap_pct"]) for r in rs) if v is not None]
        greedy = [v for v in (_num(r["greedy_h"]) for r in rs) if v is not None]
        gap = f"{max(gaps):.1f} %" if gaps else "-"
        valid = f"{sum(r['valid'] == 'True' for r in rs)}/{len(rs)}"
        out.append(
            f"| {int(rs[0]['tasks']):,} x {int(rs[0]['people']):,} | {limit:g} s | {label} | "
            f"{len(rs)} | {_fmt(min(greedy) if greedy else None)} | "
            + " | ".join(cells)
            + f" | {gap} | {valid} |\n"
        )
    return "".join(out)


def section(rows: list[dict[str, str]]) -> str:
    cmds = sorted({r["command"] for r in rows})
    loads = [float(r["load"]) for r in rows if r["load"]]
    return (
        "Commands: "
        + "; ".join(f"`{c}`" for c in cmds)
        + f" (dates {', '.join(sorted({r['date'] for r in rows}))}; 2 cores, 24 GB; 1-minute load"
        + (f" {min(loads):.1f}-{max(loads):.1f}" if loads else " not recorded")
        + " at the runs' starts). Undelivered work in hours, best reported by each time:\n\n"
        + table(rows)
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="200")
    ap.add_argument("--limit", type=float, default=60.0)
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--base", help="package directory of the base engine")
    ap.add_argument("--base-label", default="base")
    ap.add_argument("--label", default="new")
    ap.add_argument("--only", choices=("base", "new"), help="run one engine only")
    ap.add_argument("--record", action="store_true", help="write the RESULTS.md section")
    ap.add_argument("--record-only", action="store_true", help="only rewrite the section")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.record_only:
        from benchmarks.results_md import record

        record("convergence", section(read_rows()))
        return 0
    engines: list[tuple[str, str, str | None]] = []
    if args.base and args.only != "new":
        engines.append(("base", args.base_label, args.base))
    if args.only != "base":
        engines.append(("new", args.label, None))
    with tempfile.TemporaryDirectory(prefix="convergence-") as tmp:
        folder = Path(tmp)
        for size in (int(s) for s in args.sizes.split(",")):
            path, tasks, people = portfolio_file(size, folder)
            for seed in (int(s) for s in args.seeds.split(",")):
                for engine, label, base in engines:
                    load = _load()
                    t0 = time.monotonic()
                    data = run_one(path, args.limit, seed, args.workers, base, folder)
                    valid = _valid(path, data["plan_path"])
                    r = row(size, tasks, people, engine, label, seed, args.limit, args.workers,
                            data, valid, load)  # fmt: skip
                    _append(r)
                    log.info(
                        "%s x %s seed %s %s: %s h (bound %s, valid %s) in %.0f s",
                        tasks, people, seed, label, r["undelivered_h"], r["bound_h"],
                        valid, time.monotonic() - t0,
                    )  # fmt: skip
    if args.record:
        from benchmarks.results_md import record

        record("convergence", section(read_rows()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
