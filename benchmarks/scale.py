"""Scale ladder: generated portfolios of about 200, 2,000, 10,000 and 50,000 tasks.

The issue "Scale: large portfolios solved fast" sets two targets on this ladder:

* 2,000 tasks x 300 people: first valid plan <= 5 s, gap <= 3 % at a 60 s limit;
* 10,000 tasks x 1,000 people: first valid plan <= 30 s, peak memory <= 4 GB, gap <= 5 % at a
  300 s limit.

Each size is generated once per run (``allocator.generator.generate``, tightness 1.0, a fixed
seed; about 8 tasks a project) and solved in its own subprocess, so that peak memory (the
child's ``ru_maxrss``, read with ``os.wait4``) is that of one run alone: first the greedy
baseline (``SolveParams(greedy_only=True)``), then the engine at every time limit with
``workers=2``. Measured per run: seconds to the first valid plan (the ``elapsed`` of the first
``SolveProgress`` whose stage starts with ``greedy``, counted from the ``solve`` call, so compile
included and generation excluded), compile and greedy seconds from ``Result.stats``, the
objective terms at the end, the reported gap and lower bound, peak RSS, wall seconds, strategy,
LNS iterations/improvements and the checker's verdict.

    python -m benchmarks.scale --sizes 200,2000,10000 --limits 10,60
    python -m benchmarks.scale --sizes 50000 --limits 10
    python -m benchmarks.scale --sizes 10000 --limits 300
    python -m benchmarks.scale --sizes 200,2000,10000,50000 --limits 10,60 --record

Resumable: rows go to ``benchmarks/results/scale.csv``; a (size, time limit, seed, workers) row
already there is skipped, also when it timed out (``--retry`` runs those again). A run that
exceeds ``--timeout`` seconds (default 600, generation included) or ``--max-rss-gb`` is killed
and recorded with what it reached (generation, first plan, peak memory); a longer limit is then
not run for that size (compile and greedy come first and take as long whatever the limit).
``--limits`` may add 300 (the 10,000-task target is stated at 300 s). The table shows every
row of the sizes asked for, whatever invocation made it, and the header names those
invocations; with ``--record`` it is written into ``benchmarks/RESULTS.md`` between the
``scale`` markers, with the targets and what the figures say about them.

Run -> rows -> report: this module runs (the command line, one subprocess per run, the
milestones a child reports); ``benchmarks.scale_rows`` holds the ladder and the CSV's rows (keys,
reading, the comparisons between rows); ``benchmarks.scale_report`` writes the tables, verdicts
and notes. The report's names are importable from here too (``benchmarks.summarize`` uses them).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks import scale_rows
from benchmarks.results_md import record
from benchmarks.scale_report import (
    INTRO,
    PEERS_INTRO,
    header,
    notes,
    peer_table,
    section,
    summary,
    table,
    verdicts,
)
from benchmarks.scale_rows import (
    ENGINE,
    FIELDS,
    GREEDY,
    LADDER,
    PEERS,
    TARGETS,
    compare,
    derive,
    row_key,
    solver_of,
)

if TYPE_CHECKING:
    from allocator.domain import Portfolio

__all__ = [
    "ENGINE",
    "GREEDY",
    "INTRO",
    "LADDER",
    "PEERS",
    "PEERS_INTRO",
    "TARGETS",
    "compare",
    "derive",
    "main",
    "notes",
    "peer_table",
    "run_one",
    "solver_of",
    "table",
    "verdicts",
]

HERE = Path(__file__).resolve().parent
TAG = "@scale "


# ---------------------------------------------------------------------------------------------
# the child: one run, reporting milestones on stdout as it reaches them
# ---------------------------------------------------------------------------------------------
def _emit(event: str, **data: object) -> None:
    print(TAG + json.dumps({"event": event, **data}, default=str), flush=True)


def _rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def code_version() -> str:
    """Short hash of the engine's source (``src/allocator``, ``solver_models``) as run.

    Other engineers edit the engine in the same working tree, so rows made at different times
    may come from different code: equal hashes, equal code.
    """
    import hashlib

    h = hashlib.sha1()
    root = HERE.parent
    for path in sorted([*root.glob("src/allocator/*.py"), *root.glob("solver_models/*.py")]):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:10]


def _generated(people: int, projects: int, seed: int, tightness: float) -> Portfolio:
    """The portfolio of one run, with the ``code`` and ``generated`` milestones."""
    from allocator.generator import generate
    from allocator.objective import task_units

    _emit("code", code=code_version())
    t = time.monotonic()
    portfolio = generate(people, projects, seed=seed, tightness=tightness)
    _emit(
        "generated",
        generate_s=round(time.monotonic() - t, 2),
        tasks=len(portfolio.tasks_to_plan),
        people=len(portfolio.people),
        # all the work, priority-weighted as the undelivered term counts it
        total_h=sum(task_units(portfolio, t) for t in portfolio.tasks_to_plan) / 100,
        rss_mb=_rss_mb(),
    )
    return portfolio


def child(
    people: int,
    projects: int,
    seed: int,
    tightness: float,
    limit: float,
    workers: int,
    greedy_only: bool,
) -> None:
    from allocator.checker import check
    from allocator.engine import SolveParams, SolveProgress, solve
    from allocator.objective import evaluate

    portfolio = _generated(people, projects, seed, tightness)
    seen: list[str] = []

    def on_progress(p: SolveProgress) -> None:
        if p.stage.startswith("greedy") and not seen:
            seen.append(p.stage)
            _emit("first_plan", first_plan_s=round(p.elapsed, 2), stage=p.stage, rss_mb=_rss_mb())

    params = SolveParams(
        time_limit=limit,
        workers=workers,
        seed=0,
        greedy_only=greedy_only,
        on_progress=on_progress,
    )
    t = time.monotonic()
    result = solve(portfolio, params)
    solve_s = time.monotonic() - t
    solve_rss = _rss_mb()
    plan = result.plan
    terms = evaluate(portfolio, plan)
    lb = plan.lower_bound  # plan format v2: bounds per objective term, in planner units
    stats = result.stats
    lns = stats.get("lns") if isinstance(stats.get("lns"), dict) else {}
    assert isinstance(lns, dict)
    # where the bound came from, as far as the stats tell; the parent marks a bound equal to
    # the greedy run's (which is the analytic one: the work nobody can do) as "analytic"
    if greedy_only:
        bound_from = "analytic"
    elif stats.get("model_exact"):
        bound_from = "cp-sat model"
    elif stats.get("relaxed_stages"):
        bound_from = "relaxed model or LP"
    else:
        bound_from = "LP"
    _emit("stats", stats=stats)
    _emit(
        "solved",
        solve_s=round(solve_s, 2),
        compile_s=stats.get("compile_seconds"),
        greedy_s=stats.get("greedy_seconds"),
        undelivered_h=terms.undelivered / 100,
        late_days=terms.late,
        finish_days=terms.finish,
        cost=terms.cost / 100,
        assigned=len(plan.assignments),
        gap=plan.gap,
        # the bound's terms (rows before plan format v2 hold the combined number)
        lower_bound=None if lb is None else json.dumps(dict(lb), separators=(",", ":")),
        lb_undelivered_h=None if lb is None else lb.get("undelivered_work_hours"),
        bound_from=bound_from,
        lp_bound_s=stats.get("lp_bound_seconds", ""),
        strategy=stats.get("strategy", GREEDY if greedy_only else ""),
        chosen=stats.get("chosen"),
        lns_iterations=lns.get("iterations", ""),
        lns_improvements=lns.get("improvements", ""),
        solve_rss_mb=solve_rss,
    )
    t = time.monotonic()
    valid = check(portfolio, plan).valid
    _emit("checked", valid=valid, check_s=round(time.monotonic() - t, 2))
    if greedy_only:
        # the model's size: (task, eligible person) pairs, what LNS_ABOVE is compared with
        from solver_models.instance import compile_instance

        inst = compile_instance(portfolio)
        _emit("pairs", pairs=sum(len(x.candidates) for x in inst.tasks if x.possible))


def peer_child(
    solver: str, people: int, projects: int, seed: int, tightness: float, limit: float, workers: int
) -> None:
    """One peer run (``solver`` in :data:`PEERS`) on the same generated portfolio, same limit.

    Timefold runs on one thread (its community edition has no ``moveThreadCount``), PyJobShop's
    OR-Tools on ``workers``; ``peer_threads`` records it. The plan is judged as it is
    (``valid``); ``dropped`` counts tasks the driver took out (PyJobShop: those finishing past
    the horizon), ``repaired_*`` the plan with every task the checker names taken out (only
    when invalid, never instead of the verdict).
    """
    portfolio = _generated(people, projects, seed, tightness)
    if solver == "timefold":
        from benchmarks.timefold_peer import classpath, solve_timefold

        classpath()  # download and compile outside the clock (cached)
        out = solve_timefold(portfolio, limit, seed=0, move_threads=1)
        threads = 1
    elif solver == "pyjobshop":
        from benchmarks.pyjobshop_generated import solve_pyjobshop_generated

        out = solve_pyjobshop_generated(portfolio, limit, workers=workers, seed=0)
        threads = workers
    else:
        raise ValueError(f"unknown peer {solver!r}")
    terms = out.terms
    rep = out.repaired_terms
    _emit(
        "solved",
        solve_s=out.seconds,
        undelivered_h=None if terms is None else terms.undelivered / 100,
        late_days=None if terms is None else terms.late,
        finish_days=None if terms is None else terms.finish,
        cost=None if terms is None else terms.cost / 100,
        assigned=None if out.plan is None else len(out.plan.assignments),
        peer_status=out.status,
        peer_threads=threads,
        strategy=solver,
        dropped=out.dropped,
        dropped_why=out.dropped_why,
        repaired_undelivered_h="" if rep is None else rep.undelivered / 100,
        repaired_valid="" if out.repaired_valid is None else out.repaired_valid,
        solve_rss_mb=_rss_mb(),
    )
    _emit(
        "stats",
        stats={k: v for k, v in out.stats.items() if k not in ("answer", "keep")},
    )
    _emit("checked", valid=out.valid, violations=out.violations)


# ---------------------------------------------------------------------------------------------
# the parent: one subprocess per run, its peak memory and the machine's load alongside
# ---------------------------------------------------------------------------------------------
def _others(own: set[int]) -> set[str]:
    """Other benchmark processes running now (another engineer's, say), by module name."""
    try:
        import psutil  # type: ignore[import-untyped,unused-ignore]
    except ImportError:  # pragma: no cover - psutil is in the dev environment
        return set()
    out: set[str] = set()
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmd = proc.info.get("cmdline") or []
        if proc.info["pid"] in own:
            continue
        for i, arg in enumerate(cmd[:-1]):
            if arg == "-m" and cmd[i + 1].startswith("benchmarks."):
                out.add(cmd[i + 1])
    return out


def _rss_now(pid: int) -> float | None:
    try:
        import psutil  # type: ignore[import-untyped,unused-ignore]

        return float(psutil.Process(pid).memory_info().rss) / 2**20
    except Exception:
        return None


def run_one(
    size: int,
    seed: int,
    tightness: float,
    limit: float | None,
    workers: int,
    timeout: float,
    max_rss_mb: float,
    solver: str = ENGINE,
) -> dict[str, object]:
    people, projects = LADDER[size]
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.scale",
        "--child",
        f"{people},{projects},{seed},{tightness},{limit or 0},{workers},{int(limit is None)}"
        f",{solver}",
    ]
    row: dict[str, object] = {
        "solver": solver,
        "size": size,
        "people": people,
        "projects": projects,
        "tightness": tightness,
        "seed": seed,
        "workers": workers,
        "time_limit": GREEDY if limit is None else limit,
        "date": dt.date.today().isoformat(),
        "load1": round(os.getloadavg()[0], 2),
    }
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=HERE.parent)
    events: list[dict[str, object]] = []

    def reader() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith(TAG):
                events.append(json.loads(line[len(TAG) :]))
                print(
                    f"  [{time.monotonic() - t0:7.1f}s] {line[len(TAG) :].strip()}", file=sys.stderr
                )

    th = threading.Thread(target=reader, daemon=True)
    th.start()
    own = {os.getpid(), proc.pid}
    shared = _others(own)
    outcome = "ok"
    peak_seen = 0.0
    last_scan = time.monotonic()
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        rss = _rss_now(proc.pid)
        if rss is not None:
            peak_seen = max(peak_seen, rss)
        if time.monotonic() - t0 > timeout:
            outcome = f"killed after {timeout:.0f} s"
        elif rss is not None and rss > max_rss_mb:
            outcome = f"killed at {rss / 1024:.1f} GB RSS"
        if outcome != "ok":
            proc.send_signal(signal.SIGKILL)
            pid, status, usage = os.wait4(proc.pid, 0)
            break
        if time.monotonic() - last_scan > 5:
            shared |= _others(own)
            last_scan = time.monotonic()
        time.sleep(0.25)
    proc.returncode = os.waitstatus_to_exitcode(status)
    th.join(timeout=5)
    row["wall_s"] = round(time.monotonic() - t0, 2)
    row["peak_rss_mb"] = round(max(usage.ru_maxrss / 1024, peak_seen), 1)
    if outcome == "ok" and proc.returncode != 0:
        outcome = f"exit {proc.returncode}"
    row["outcome"] = outcome
    row["shared_with"] = " ".join(sorted(shared))
    for ev in events:
        for k, v in ev.items():
            if k in FIELDS:
                row[k] = v
    if limit is None and "strategy" in row:
        row["strategy"] = GREEDY
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="200,2000,10000,50000")
    ap.add_argument("--limits", default="10,60", help="engine time limits in seconds (add 300)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--tightness", type=float, default=1.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=600.0, help="kill a run after this (s)")
    ap.add_argument("--max-rss-gb", type=float, default=18.0, help="kill a run above this RSS")
    ap.add_argument("--retry", action="store_true", help="run again rows that did not finish")
    ap.add_argument("--record", action="store_true", help="write the table into RESULTS.md")
    ap.add_argument(
        "--peers",
        default="",
        help="peer solvers run after the engine at each limit, one after another: "
        + ",".join(PEERS),
    )
    ap.add_argument("--child", help=argparse.SUPPRESS)
    argv_used = sys.argv[1:] if argv is None else argv
    args = ap.parse_args(argv)
    if args.child:
        pe, pr, seed, tight, limit, workers, g, *rest = args.child.split(",")
        solver = rest[0] if rest else ENGINE
        if solver == ENGINE:
            child(int(pe), int(pr), int(seed), float(tight), float(limit), int(workers), g == "1")
        else:
            peer_child(
                solver, int(pe), int(pr), int(seed), float(tight), float(limit), int(workers)
            )
        return 0
    peers = [p for p in args.peers.split(",") if p]
    bad = [p for p in peers if p not in PEERS]
    if bad:
        ap.error(f"peers must be among {', '.join(PEERS)}, got {bad}")
    sizes = [int(s) for s in args.sizes.split(",")]
    limits = [float(s) for s in args.limits.split(",")]
    unknown = [s for s in sizes if s not in LADDER]
    if unknown:
        ap.error(f"sizes must be among {sorted(LADDER)}, got {unknown}")
    path = scale_rows.CSV
    path.parent.mkdir(parents=True, exist_ok=True)
    done = scale_rows.load(path)
    new_file = not path.exists()
    wanted: list[str] = []
    with path.open("a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        if new_file:
            w.writeheader()

        def measure(size: int, limit: float | None, solver: str = ENGINE) -> dict[str, object]:
            """One run in a child process (the engine, or ``solver``: a peer)."""
            row = run_one(
                size,
                args.seed,
                args.tightness,
                limit,
                args.workers,
                args.timeout,
                args.max_rss_gb * 1024,
                solver=solver,
            )
            row["command"] = f"python -m benchmarks.scale {' '.join(argv_used)}"
            return row

        def keep(key: str, row: dict[str, object]) -> None:
            w.writerow(row)
            f.flush()
            done[key] = {k: str(row.get(k, "")) for k in FIELDS}

        for size in sizes:
            no_plan = ""  # set when an engine run of this size reached no plan in time
            for limit in [None, *sorted(limits)]:
                key = row_key(size, GREEDY if limit is None else limit, args.seed, args.workers)
                wanted.append(key)
                if key in done and not (args.retry and done[key]["outcome"] != "ok"):
                    prev = done[key]
                    if limit is not None and not prev.get("first_plan_s"):
                        no_plan = prev["time_limit"]
                    continue
                if no_plan:
                    # a longer limit cannot reach the first plan sooner: compile and greedy
                    # come before any search and take as long whatever the limit
                    print(f"size {size}, limit {limit}: skipped", file=sys.stderr)
                    continue
                print(f"size {size}, limit {limit or GREEDY}:", file=sys.stderr)
                row = measure(size, limit)
                if limit is None:
                    row["greedy_undelivered_h"] = row.get("undelivered_h", "")
                else:
                    derive(row, done.get(row_key(size, GREEDY, args.seed, args.workers)))
                    if not row.get("first_plan_s"):
                        no_plan = str(limit)
                keep(key, row)
                print(f"  -> {row['outcome']}, {row['wall_s']} s", file=sys.stderr)
            # the peers, one after another, after the engine, at the same limits and workers
            for limit in sorted(limits):
                for peer in peers:
                    key = row_key(size, limit, args.seed, args.workers, peer)
                    wanted.append(key)
                    if key in done and not (args.retry and done[key]["outcome"] != "ok"):
                        continue
                    print(f"size {size}, limit {limit}, peer {peer}:", file=sys.stderr)
                    row = measure(size, limit, peer)
                    compare(row, done.get(row_key(size, limit, args.seed, args.workers)))
                    keep(key, row)
                    print(f"  -> {row['outcome']}, {row['wall_s']} s", file=sys.stderr)

    rows, peer_rows = scale_rows.select(done, sizes, args.seed, args.workers)
    head = header(rows + peer_rows, f"python -m benchmarks.scale {' '.join(argv_used)}")
    print(summary(rows, peer_rows, head))
    if args.record:
        record("scale", section(rows, peer_rows, head))
    return 0


if __name__ == "__main__":
    sys.exit(main())
