"""Peers as an expert would configure them (issue 15, item 5), side by side in one invocation.

On the scale ladder's generated portfolios (``benchmarks.scale_rows.LADDER``, seed 7,
tightness 1.0), one after another at the same time limit, each run in its own process:

* ``timefold-shipped`` / ``pyjobshop-shipped``: the peers as they were at the session's start
  (commit b0d3ab7, unpacked at ``--base``; skipped when it is absent);
* ``timefold``: the Java model with its list-schedule construction (``Construct.java``) and the
  configured moves; ``timefold-default-moves``: the same construction, then Timefold's default
  local search; ``timefold+warm``: the configured moves from our greedy first plan;
* ``pyjobshop`` / ``pyjobshop+warm``: optional tasks, undelivered work as tardy stand-in jobs,
  cold and with our greedy plan as ``initial_solution``;
* ``engine w1`` / ``engine w2``: our engine at ``workers=1`` (beside Timefold's one thread)
  and 2.

Every plan is judged by ``allocator.checker`` as returned. Rows go to
``benchmarks/results/peers_expert.csv`` (one per run, with the 1-minute load average before it
started); the table is printed.

``python -m benchmarks.peers_expert --sizes 200,2000 --limit 30``
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "peers_expert.csv"
RUNS = (
    "timefold-shipped",
    "timefold",
    "timefold-default-moves",
    "timefold+warm",
    "pyjobshop-shipped",
    "pyjobshop",
    "pyjobshop+warm",
    "engine w1",
    "engine w2",
)
FIELDS = [
    "size",
    "tasks",
    "limit",
    "run",
    "threads",
    "status",
    "valid",
    "undelivered_h",
    "late_days",
    "finish_days",
    "seconds",
    "load1",
    "note",
]


def child(run: str, size: int, limit: float) -> dict[str, Any]:
    """One run in this process; its row."""
    from allocator.generator import generate
    from allocator.objective import evaluate
    from benchmarks.scale_rows import LADDER

    people, projects = LADDER[size]
    portfolio = generate(people, projects, seed=7, tightness=1.0)
    row: dict[str, Any] = {"tasks": len(portfolio.tasks_to_plan)}
    if run.startswith("engine"):
        from allocator.checker import check
        from allocator.engine import SolveParams, solve

        workers = int(run.split("w")[1])
        t = time.monotonic()
        plan = solve(portfolio, SolveParams(time_limit=limit, workers=workers, seed=0)).plan
        ours = evaluate(portfolio, plan)
        row.update(
            threads=workers,
            status="ok",
            valid=check(portfolio, plan).valid,
            undelivered_h=ours.undelivered / 100,
            late_days=ours.late,
            finish_days=ours.finish,
            seconds=round(time.monotonic() - t, 1),
        )
        return row
    warm = None
    if run.endswith("+warm"):
        from benchmarks.timefold_peer import first_plan

        warm = first_plan(portfolio)
    if run.startswith("timefold"):
        from benchmarks import timefold_peer

        timefold_peer.classpath()  # compiled outside the clock (cached)
        if run == "timefold-shipped":
            out = timefold_peer.solve_timefold(portfolio, limit, seed=0)
        elif run == "timefold-default-moves":
            out = timefold_peer.solve_timefold(portfolio, limit, seed=0, moves="default")
        else:
            out = timefold_peer.solve_timefold(portfolio, limit, seed=0, warm_start=warm)
        threads = 1
        note = str(out.stats.get("first_plan", ""))
    else:
        from benchmarks import pyjobshop_generated as pj

        if run == "pyjobshop-shipped":
            out = pj.solve_pyjobshop_generated(portfolio, limit, workers=2, seed=0)
        else:
            out = pj.solve_pyjobshop_generated(portfolio, limit, workers=2, seed=0, warm_start=warm)
        threads = 2
        note = f"dropped {out.dropped}" if out.dropped else ""
    terms = out.terms
    row.update(
        threads=threads,
        status=out.status,
        valid=out.valid,
        undelivered_h="" if terms is None else terms.undelivered / 100,
        late_days="" if terms is None else terms.late,
        finish_days="" if terms is None else terms.finish,
        seconds=out.seconds,
        note=note,
    )
    return row


def measure(run: str, size: int, limit: float, base: Path) -> dict[str, Any]:
    """``run`` in a child process (the shipped peers from ``base``); its row."""
    load1 = float(Path("/proc/loadavg").read_text().split()[0])
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", f"{run},{size},{limit}"]
    env = dict(os.environ)
    env["PYTHONPATH"] = str(HERE.parent)
    cwd = HERE.parent
    if run.endswith("-shipped"):  # the packages and benchmarks of the session's start
        env["PYTHONPATH"] = f"{base.parent / 'base_pkgs'}{os.pathsep}{base}"
        cwd = base
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, env=env, cwd=cwd, timeout=limit + 300
        )
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("@row ")]
        row = json.loads(lines[-1][5:]) if lines else {"status": f"error: {proc.stderr[-300:]}"}
    except subprocess.TimeoutExpired:
        row = {"status": "killed"}
    row.update(size=size, limit=limit, run=run, load1=load1)
    return row


def table(rows: list[dict[str, str]]) -> str:
    """The rows as the markdown table of RESULTS.md (undelivered work relative to ``engine w2``
    and ``engine w1`` of the same size and limit)."""
    out = [
        "| tasks | limit | run | threads | status | valid | undelivered h | x engine w2 "
        "| x engine w1 | late days | finish days | wall s | load 1 min | first plan |",
        "| --- " * 14 + "|",
    ]
    for r in rows:
        same = [x for x in rows if (x["size"], x["limit"]) == (r["size"], r["limit"])]
        ref = {x["run"]: x.get("undelivered_h", "") for x in same}

        def ratio(of: str, r: dict[str, str] = r, ref: dict[str, str] = ref) -> str:
            mine, base = r.get("undelivered_h", ""), ref.get(of, "")
            return f"{float(mine) / float(base):.2f}" if mine and base and float(base) else "-"

        und = r.get("undelivered_h", "")
        out.append(
            f"| {int(r['tasks']):,} | {float(r['limit']):g} s | {r['run']} | {r['threads']} | "
            f"{r['status']} | {r['valid']} | {f'{float(und):,.0f}' if und else '-'} | "
            f"{ratio('engine w2')} | {ratio('engine w1')} | {r['late_days'] or '-'} | "
            f"{r['finish_days'] or '-'} | {r['seconds']} | {r['load1']} | {r['note'] or '-'} |"
        )
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="200,2000")
    ap.add_argument("--limit", type=float, default=30.0)
    ap.add_argument("--runs", default=",".join(RUNS))
    ap.add_argument("--base", default="/tmp/base", help="the code at the session's start")
    ap.add_argument("--child", default="")
    ap.add_argument("--table", action="store_true", help="print the table of the rows so far")
    args = ap.parse_args(argv)
    if args.table:
        with OUT.open() as fh:
            print(table(list(csv.DictReader(fh))), end="")
        return 0
    if args.child:
        run, size, limit = args.child.split(",")
        print("@row " + json.dumps(child(run, int(size), float(limit)), default=str), flush=True)
        return 0
    base = Path(args.base)
    runs = [r for r in args.runs.split(",") if r]
    if not base.is_dir():
        runs = [r for r in runs if not r.endswith("-shipped")]
    new = not OUT.exists()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("a", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=FIELDS, extrasaction="ignore")
        if new:
            w.writeheader()
        for size in (int(s) for s in args.sizes.split(",")):
            for run in runs:
                row = measure(run, size, args.limit, base)
                w.writerow(row)
                fh.flush()
                print(" | ".join(str(row.get(k, "")) for k in FIELDS), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
