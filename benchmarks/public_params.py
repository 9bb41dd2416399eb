"""CP-SAT parameter variants side by side on public instances (issue 15, item 4).

    python -m benchmarks.public_params --set j30 --instances j3013_1.sm,j3013_2.sm \\
        --variants ours,presolve --time-limit 10 --workers 2

Each instance is solved by the whole engine (``allocator.engine.solve``, makespan objective)
once per variant, in the same process, the variants' order alternating from one instance to
the next (so a change of the machine's load falls on each alike). A variant changes only the
parameters of every CP-SAT solver the run makes (``solver_models.cpsat.stages.cp_solver``,
wrapped for the run); every plan is judged by ``allocator.checker``. Rows (with the 1-minute
load average at the start of each solve) are appended to ``--out`` and a summary per variant
is printed: best known matched, proven, mean makespan, mean bound, mean time to the final
makespan.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from allocator.checker import check
from allocator.engine import SolveParams, SolveProgress, solve
from allocator.readers import read_benchmark
from benchmarks.public import SETS, best_known, instances, shared_dir
from solver_models.cpsat import stages

Tweak = Callable[[Any], None]


def _presolve(p: Any) -> None:
    """CP-SAT's own presolve defaults (probing, symmetry, presolve to a fixed point)."""
    p.cp_model_probing_level = 2
    p.symmetry_level = 2
    p.max_presolve_iterations = 3


def _lp2(p: Any) -> None:
    """CP-SAT's largest LP relaxation (``linearization_level = 2``; the default is 1)."""
    p.linearization_level = 2


def _lbtree(p: Any) -> None:
    """The presolve defaults and ``optimize_with_lb_tree_search`` (for every worker)."""
    _presolve(p)
    p.optimize_with_lb_tree_search = True


def _lbtree1(p: Any) -> None:
    """The one full-problem worker is lb_tree_search (bounds); LNS keeps the other."""
    p.subsolvers.append("lb_tree_search")


def _cumul(p: Any) -> None:
    """Stronger cumulative propagation (all off by CP-SAT's default): overload checker,
    timetable edge finding, hard precedences, every precedence exploited."""
    p.use_overload_checker_in_cumulative = True
    p.use_timetable_edge_finding_in_cumulative = True
    p.use_hard_precedences_in_cumulative = True
    p.exploit_all_precedences = True


def _cumul_lp2(p: Any) -> None:
    _cumul(p)
    _lp2(p)


def _disj(p: Any) -> None:
    """Stronger no-overlap (one person's tasks) propagation."""
    p.use_strong_propagation_in_disjunctive = True


def _full2(p: Any) -> None:
    """The presolve defaults and ``num_full_subsolvers = 2`` (CP-SAT's default at 2 workers:
    one full-problem worker, the other thread interleaving LNS and local search)."""
    _presolve(p)
    p.num_full_subsolvers = 2


def _none(p: Any) -> None:
    return None


VARIANTS: dict[str, Tweak] = {
    "ours": _none,
    "presolve": _presolve,
    "lp2": _lp2,
    "lbtree": _lbtree,
    "lbtree1": _lbtree1,
    "cumul": _cumul,
    "cumul+lp2": _cumul_lp2,
    "disj": _disj,
    "full2": _full2,
}


def run(args: argparse.Namespace) -> list[dict[str, object]]:
    bs = SETS[args.set]
    root = shared_dir()
    paths = instances(bs, root)
    known = best_known(bs, root)
    names = args.instances.split(",")
    variants = args.variants.split(",")
    original = stages.cp_solver
    rows: list[dict[str, object]] = []
    out = Path(args.out)
    new = not out.exists()
    try:
        for i, name in enumerate(names):
            order = variants[i % len(variants) :] + variants[: i % len(variants)]
            for v in order:
                tweak = VARIANTS[v]

                def patched(params: Any, seconds: float, _t: Tweak = tweak) -> Any:
                    solver = original(params, seconds)
                    _t(solver.parameters)
                    return solver

                stages.cp_solver = patched
                portfolio = read_benchmark(paths[name])
                events: list[SolveProgress] = []
                load = os.getloadavg()[0]
                t0 = time.monotonic()
                res = solve(
                    portfolio,
                    SolveParams(
                        time_limit=args.time_limit,
                        workers=args.workers,
                        seed=0,
                        deterministic_time=args.deterministic_time,
                        on_progress=events.append,
                    ),
                )
                secs = time.monotonic() - t0
                obj = res.plan.objective or {}
                lb = res.plan.lower_bound or {}
                ms = int(obj["makespan_days"]) if "makespan_days" in obj else None
                hits = [e.elapsed for e in events if e.stage != "done" and e.objective == obj]
                best = known.get(name, {}).get("best_known_makespan", "")
                row: dict[str, object] = {
                    "label": args.label,
                    "set": args.set,
                    "instance": name,
                    "variant": v,
                    "time_limit": args.time_limit,
                    "workers": args.workers,
                    "deterministic_time": args.deterministic_time or "",
                    "makespan": ms,
                    "best_known": best,
                    "matches_best": ms is not None and best != "" and ms <= int(best),
                    "lower_bound": lb.get("makespan_days", ""),
                    "proven": res.plan.status == "optimal",
                    "time_to_best": round(min(hits), 2) if hits else "",
                    "seconds": round(secs, 2),
                    "valid": check(portfolio, res.plan).valid,
                    "load1": round(load, 2),
                }
                rows.append(row)
                print(",".join(str(x) for x in row.values()), flush=True)
                with out.open("a", newline="") as f:
                    w = csv.DictWriter(f, fieldnames=list(row))
                    if new:
                        w.writeheader()
                        new = False
                    w.writerow(row)
    finally:
        stages.cp_solver = original
    return rows


def summarize(rows: list[dict[str, object]], variants: list[str]) -> str:
    """One line per variant, over the instances every variant of ``variants`` has a row for
    (a run stopped part-way leaves some instances with fewer)."""
    have: dict[str, set[str]] = {}
    for r in rows:
        have.setdefault(str(r["instance"]), set()).add(str(r["variant"]))
    complete = {i for i, vs in have.items() if set(variants) <= vs}
    rows = [r for r in rows if r["instance"] in complete]
    lines = [
        "| variant | instances | best known matched | proven | mean makespan | mean bound "
        "| mean time to final | all valid | mean load |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for v in variants:
        rs = [r for r in rows if r["variant"] == v]
        if not rs:
            continue
        ms = [float(str(r["makespan"])) for r in rs if r["makespan"] is not None]
        lbs = [float(str(r["lower_bound"])) for r in rs if r["lower_bound"] != ""]
        tt = [float(str(r["time_to_best"])) for r in rs if r["time_to_best"] != ""]
        lines.append(
            f"| {v} | {len(rs)} | {sum(bool(r['matches_best']) for r in rs)} "
            f"| {sum(bool(r['proven']) for r in rs)} | {statistics.mean(ms):.2f} "
            f"| {statistics.mean(lbs):.2f} | {statistics.mean(tt) if tt else 0:.1f} s "
            f"| {all(bool(r['valid']) for r in rs)} "
            f"| {statistics.mean(float(str(r['load1'])) for r in rs):.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", required=True, choices=sorted(SETS))
    ap.add_argument("--instances", default="", help="comma-separated file names")
    ap.add_argument("--variants", default="ours,presolve")
    ap.add_argument("--time-limit", type=float, default=10.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument(
        "--deterministic-time",
        type=float,
        default=None,
        help="cap on CP-SAT's deterministic time per stage (the wall limit then a safety net)",
    )
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "public_params.csv"))
    ap.add_argument("--label", default="", help="names this run's rows (first column)")
    ap.add_argument(
        "--summarize-only",
        action="store_true",
        help="solve nothing: print the summary of the rows of --out with this --label",
    )
    args = ap.parse_args(argv)
    if args.summarize_only:
        with Path(args.out).open() as f:
            old: list[dict[str, object]] = [
                dict(r) for r in csv.DictReader(f) if r["label"] == args.label
            ]
        for r in old:
            for k in ("matches_best", "proven", "valid"):
                r[k] = r[k] == "True"
            r["makespan"] = int(str(r["makespan"])) if r["makespan"] != "" else None
        print(summarize(old, args.variants.split(",")))
        return 0
    if not args.instances:
        ap.error("--instances is required (unless --summarize-only)")
    for v in args.variants.split(","):
        if v not in VARIANTS:
            ap.error(f"unknown variant {v!r}; known: {', '.join(VARIANTS)}")
    rows = run(args)
    print(summarize(rows, args.variants.split(",")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
