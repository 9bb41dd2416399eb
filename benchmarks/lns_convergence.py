"""LNS convergence (issue 15): the engine as it was at the session's start and as it is now,
side by side on the scale ladder's generated portfolios, undelivered work against time.

    python -m benchmarks.lns_convergence --sizes 200,2000 --limit 60 --seeds 0,1,2
    python -m benchmarks.lns_convergence --sizes 200 --limit 60 --strategy lns --seeds 0,1,2
    python -m benchmarks.lns_convergence --show      # the section's table from the rows

With ``--cpu``, each child runs LNS alone (``solver_models.lns.improve``, 2 threads) from the
greedy plan and stops after ``--limit`` x 2 seconds of its own CPU time, so that the comparison
holds on a machine loaded by other runs (the checkpoints are then CPU seconds / 2):

    python -m benchmarks.lns_convergence --cpu --engines lns0,new --sizes 200 --limit 10

Each (size, seed) solves the same portfolio (``allocator.generator.generate``, the ladder's
people and projects, tightness 1.0, seed 7, as ``benchmarks.scale``) twice **at the same time**,
in child processes: the engine of the session's start (``--base``, default ``/tmp/base_pkgs``,
put first on ``PYTHONPATH``), optionally this tree with ``solver_models/lns.py`` as it was then
(``--lns0``: what the LNS change alone does), and this tree, each with ``SolveParams(time_limit, workers=2,
seed)``. Running them together means all meet the same load (the machine is shared), so the
ratio new/old is the figure to read; each gets a share of what a run alone would get.
Both are package directories made by hand (nothing under ``/tmp`` is kept): for ``--base``,
links named ``allocator``, ``solver_models`` and ``allocator_api`` into ``git archive b0d3ab7``
unpacked (``src/allocator``, ``solver_models``, ``api``); for ``--lns0``, the same links into
this tree, except ``solver_models``, a copy of it with ``lns.py`` replaced by
``git show b0d3ab7:solver_models/lns.py``.
The child reads the undelivered work off the ``SolveProgress`` reports at 10, 30 and 60 s, and
checks the plan returned (``allocator.checker.check``). Rows go to
``benchmarks/results/lns_convergence.csv`` with the 1-minute load average at the start.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

CSV = Path(__file__).resolve().parent / "results" / "lns_convergence.csv"
ROOT = Path(__file__).resolve().parent.parent
#: the ladder's people and projects (``benchmarks.scale_rows.LADDER``; repeated here because the
#: child runs under the old tree too, which has no ``benchmarks`` package on its path)
LADDER = {200: (20, 25), 2000: (300, 250), 10000: (1000, 1250)}
GEN_SEED, TIGHTNESS = 7, 1.0
CHECKPOINTS = (10, 30, 60)
#: ``--cpu``: CPU seconds of the process that stand for a second of the wall on 2 idle cores
CPU_PER_SECOND = 2.0
#: the engines compared, in table order: the session's start (``--base``), this tree with LNS as
#: at the start (``--lns0``: the other helpers' changes, not this one's), and this tree
ENGINES = {"base": 0, "lns0": 1, "new": 2}
FIELDS = [
    "size", "tasks", "people", "time_limit", "strategy", "seed", "engine", "chosen",
    "greedy_h", *(f"at_{c}s_h" for c in CHECKPOINTS), "undelivered_h", "valid",
    "lns_iterations", "lns_improvements", "mean_free", "wall_s", "load1", "date", "command",
]  # fmt: skip


def child(size: int, limit: float, seed: int, strategy: str) -> dict[str, object]:
    """One solve (in a child process, under whichever tree ``PYTHONPATH`` puts first)."""
    from allocator.checker import check
    from allocator.engine import SolveParams, SolveProgress, solve
    from allocator.generator import generate

    people, projects = LADDER[size]
    portfolio = generate(people, projects, seed=GEN_SEED, tightness=TIGHTNESS)
    trace: list[tuple[float, str, float]] = []

    def on_progress(p: SolveProgress) -> None:
        if p.objective is not None and "undelivered_work_hours" in p.objective:
            trace.append((p.elapsed, p.stage, float(p.objective["undelivered_work_hours"])))

    t0 = time.monotonic()
    result = solve(
        portfolio,
        SolveParams(
            time_limit=limit, workers=2, seed=seed, strategy=strategy, on_progress=on_progress
        ),
    )
    wall = time.monotonic() - t0
    obj = result.plan.objective or {}
    lns = result.stats.get("lns")
    lns = lns if isinstance(lns, dict) else {}
    greedy = [h for _, s, h in trace if s.startswith("greedy")]

    def best_at(sec: float) -> str:
        seen = [h for e, _, h in trace if e <= sec]
        return f"{min(seen):.0f}" if seen and sec <= limit else ""

    return {
        "tasks": len(portfolio.tasks_to_plan),
        "people": len(portfolio.people),
        "chosen": result.stats.get("strategy", ""),
        "greedy_h": f"{min(greedy):.0f}" if greedy else "",
        **{f"at_{c}s_h": best_at(c) for c in CHECKPOINTS},
        "undelivered_h": f"{float(obj.get('undelivered_work_hours', 0.0)):.0f}",
        "valid": str(check(portfolio, result.plan).valid),
        "lns_iterations": lns.get("iterations", ""),
        "lns_improvements": lns.get("improvements", ""),
        "wall_s": f"{wall:.1f}",
    }


def lns_child(size: int, cpu: float, seed: int, widen: bool) -> dict[str, object]:
    """LNS alone (``solver_models.lns.improve``, 2 threads) from the better of the edf and
    priority greedy plans, stopped after ``cpu`` seconds of the process's CPU time: a budget a
    loaded machine does not shrink (a sub-solve's own limit is still wall time)."""
    from allocator.checker import check
    from allocator.generator import generate
    from allocator.objective import plan_terms
    from solver_models import lns
    from solver_models.cpsat import CpSatParams
    from solver_models.greedy import greedy
    from solver_models.instance import compile_instance
    from solver_models.schedule import mark_all_or_nothing, schedule_key, to_plan

    if hasattr(lns, "WIDEN"):
        lns.WIDEN = widen
    people, projects = LADDER[size]
    portfolio = generate(people, projects, seed=GEN_SEED, tightness=TIGHTNESS)
    goal = portfolio.policy.goal
    inst = compile_instance(portfolio)
    mark_all_or_nothing(inst)
    plans = [greedy(inst, rule=r) for r in ("edf", "priority")]
    start = min(plans, key=lambda s: schedule_key(inst, s, goal))
    trace: list[tuple[float, int]] = []
    c0, t0 = time.process_time(), time.monotonic()
    best, st = lns.improve(
        inst,
        start,
        goal,
        CpSatParams(workers=2, seed=seed),
        seconds=100 * cpu,
        stop=lambda: time.process_time() - c0 > cpu,
        on_progress=lambda key, _: trace.append((time.process_time() - c0, key[0])),
    )
    k0 = schedule_key(inst, start, goal)[0]
    plan = to_plan(
        inst, best, status="feasible", objective=None, lower_bound=None, solve_seconds=0.0,
        solver="lns",
    )  # fmt: skip
    plan = replace(plan, objective=plan_terms(portfolio, plan))  # the checker reads it

    def at(c: float) -> str:
        return f"{min([k0] + [k for e, k in trace if e <= c]) / 100:.0f}" if c <= cpu else ""

    kinds = st["kinds"]
    assert isinstance(kinds, dict)
    return {
        "tasks": len(portfolio.tasks_to_plan),
        "people": len(portfolio.people),
        "chosen": "lns-only",
        "greedy_h": f"{k0 / 100:.0f}",
        **{f"at_{c}s_h": at(c * CPU_PER_SECOND) for c in CHECKPOINTS},
        "undelivered_h": f"{schedule_key(inst, best, goal)[0] / 100:.0f}",
        "valid": str(check(portfolio, plan).valid),
        "lns_iterations": st["iterations"],
        "lns_improvements": st["improvements"],
        "mean_free": round(
            sum(k["free"] for k in kinds.values()) / max(1, sum(k["tried"] for k in kinds.values()))
        ),
        "wall_s": f"{time.monotonic() - t0:.1f}",
    }


def pair(
    size: int, limit: float, seed: int, strategy: str, engines: dict[str, str]
) -> list[dict[str, str]]:
    """The engines (name -> ``PYTHONPATH``; empty: this tree) on one portfolio, all at the same
    time; their rows."""
    load1 = Path("/proc/loadavg").read_text().split()[0]
    args = [str(size), str(limit), str(seed), strategy]
    procs = {}
    for engine, path in engines.items():
        env = {**os.environ, "PYTHONPATH": path or f"{ROOT}{os.pathsep}{ROOT / 'src'}"}
        procs[engine] = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--child", *args],
            cwd="/tmp",  # not the tree's root, so that the base tree's packages come first
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
    rows = []
    for engine, proc in procs.items():
        # a --cpu child may take many times its CPU budget on a loaded machine (it stops
        # itself after 100 x its budget of wall time)
        cpu = strategy.startswith("lns-cpu")
        out, _ = proc.communicate(timeout=(200 * limit if cpu else 4 * limit) + 300)
        got = json.loads(out.strip().splitlines()[-1])
        rows.append(
            {
                "size": str(size),
                "time_limit": f"{limit:g}",
                "strategy": strategy,
                "seed": str(seed),
                "engine": engine,
                "load1": load1,
                "date": dt.date.today().isoformat(),
                "command": "python -m " + " ".join(["benchmarks.lns_convergence", *sys.argv[1:]]),
                **{k: str(v) for k, v in got.items()},
            }
        )
    return rows


def read() -> list[dict[str, str]]:
    if not CSV.exists():
        return []
    with CSV.open(newline="") as f:
        return list(csv.DictReader(f))


def table(rows: list[dict[str, str]]) -> str:
    """Per size, strategy and limit: median and worst (highest) undelivered hours over the
    seeds at each checkpoint, the old engine's and the new one's, and new/old of the medians."""
    groups: dict[tuple[int, str, str], list[dict[str, str]]] = {}
    for r in rows:
        groups.setdefault((int(r["size"]), r["strategy"], r["time_limit"]), []).append(r)
    cols = (*(f"at_{c}s_h" for c in CHECKPOINTS), "undelivered_h")
    names = (*(f"{c} s" for c in CHECKPOINTS), "returned")
    head = (
        "| tasks x people | strategy | limit | seeds | engine | greedy |"
        + "".join(f" {n} median / worst |" for n in names)
        + " LNS iterations | free tasks a neighbourhood | valid | load1 |\n"
        + "| --- | --- | --- | --- | --- | --- |"
        + " --- |" * len(names)
        + " --- | --- | --- | --- |\n"
    )
    lines = []
    for (_, strategy, limit), rs in sorted(groups.items()):
        med: dict[str, dict[str, float]] = {}
        for engine in sorted({r["engine"] for r in rs}, key=lambda e: ENGINES.get(e, 9)):
            mine = [r for r in rs if r["engine"] == engine]
            if not mine:
                continue
            cells = ""
            med[engine] = {}
            for c in cols:
                xs = [float(r[c]) for r in mine if r[c]]
                if not xs:
                    cells += " - |"
                    continue
                med[engine][c] = statistics.median(xs)
                cells += f" {med[engine][c]:,.0f} / {max(xs):,.0f} |"
            r0 = mine[0]
            greedy = statistics.median(float(r["greedy_h"]) for r in mine if r["greedy_h"])

            def middle(key: str, mine: list[dict[str, str]] = mine) -> str:
                xs = [float(r[key]) for r in mine if r.get(key)]
                return f"{statistics.median(xs):,.0f}" if xs else "-"

            valid = [r["valid"] for r in mine if r["valid"]]
            checked = f"{valid.count('True')}/{len(valid)}" if valid else "-"
            lines.append(
                f"| {int(r0['tasks']):,} x {int(r0['people']):,} | {strategy} | {limit} s"
                f" | {len(mine)} | {engine} | {greedy:,.0f} |{cells}"
                f" {middle('lns_iterations')} | {middle('mean_free')}"
                f" | {checked}"
                f" | {min(float(r['load1']) for r in mine):.1f}-"
                f"{max(float(r['load1']) for r in mine):.1f} |"
            )
        for old in ("base", "lns0"):
            if old not in med or "new" not in med:
                continue
            ratio = "".join(
                f" {med['new'][c] / med[old][c]:.2f} |"
                if c in med["new"] and med[old].get(c)
                else " - |"
                for c in cols
            )
            lines.append(f"| | | | | new / {old} (medians) | |{ratio} | | | |")
    return head + "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="200,2000")
    ap.add_argument("--limit", type=float, default=60.0)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--strategy", default="auto")
    ap.add_argument(
        "--engines",
        default="base,new",
        help=f"which of {', '.join(ENGINES)} to run side by side (paths: --base, --lns0)",
    )
    ap.add_argument("--base", default="/tmp/base_pkgs", help="the session start's packages")
    ap.add_argument(
        "--lns0",
        default="/tmp/lnsdev/lns0",
        help="this tree's packages with solver_models/lns.py as at the session's start",
    )
    ap.add_argument("--show", action="store_true", help="print the table from the rows")
    ap.add_argument(
        "--cpu",
        action="store_true",
        help="LNS alone from the greedy plan, --limit x 2 CPU seconds (strategy: lns-cpu)",
    )
    ap.add_argument("--no-widen", action="store_true", help="with --cpu: lns.WIDEN off")
    ap.add_argument("--child", nargs=4, metavar=("SIZE", "LIMIT", "SEED", "STRATEGY"))
    a = ap.parse_args(argv)
    if a.child:
        size, limit, seed, strategy = a.child
        if strategy.startswith("lns-cpu"):
            got = lns_child(
                int(size), CPU_PER_SECOND * float(limit), int(seed), strategy == "lns-cpu"
            )
        else:
            got = child(int(size), float(limit), int(seed), strategy)
        print(json.dumps(got))
        return 0
    if a.cpu:
        a.strategy = "lns-cpu-nowiden" if a.no_widen else "lns-cpu"
    if a.show:
        sys.stdout.write(table(read()))
        return 0
    new = not CSV.exists()
    for size in (int(s) for s in a.sizes.split(",")):
        for seed in (int(s) for s in a.seeds.split(",")):
            paths = {"base": a.base, "lns0": a.lns0, "new": ""}
            engines = {e: paths[e] for e in a.engines.split(",")}
            rows = pair(size, a.limit, seed, a.strategy, engines)
            with CSV.open("a", newline="") as f:
                w = csv.DictWriter(f, fieldnames=FIELDS)
                if new:
                    w.writeheader()
                    new = False
                w.writerows(rows)
            for r in rows:
                sys.stderr.write(f"{r}\n")
    sys.stdout.write(table(read()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
