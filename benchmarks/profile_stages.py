"""Where the time goes (issue 15): per stage of a solve and per LNS iteration, and how the first
term (undelivered work) improves over time, on the scale ladder's generated portfolios.

    python -m benchmarks.profile_stages --sizes 200,2000 --limit 60
    python -m benchmarks.profile_stages --sizes 10000 --limit 60 --record

Same portfolios as ``benchmarks.scale`` (``allocator.generator.generate``, the ladder's people
and projects, tightness 1.0, seed 7) and the same engine call (``SolveParams(time_limit,
workers=2, seed=0)``), one run per size in this process, each in turn. Everything comes from
the engine's own figures: ``Result.stats`` (compile, greedy, LP bound, search, relaxed model,
repair, final bound, reasons; inside LNS: choosing neighbourhoods, waiting for sub-solves,
building and solving sub-models, checking and merging their answers) and the ``SolveProgress``
reports (seconds to the first plan and to CP-SAT's first solution, undelivered work at 5, 10,
30 and 60 s). Each plan is checked (``allocator.checker.check``).

Rows go to ``benchmarks/results/profile_stages.csv`` (a size already there at the same limit,
workers and seed is run again only with ``--again``); ``--record`` writes the section
``profile_stages`` of ``benchmarks/RESULTS.md`` from every row (``benchmarks.summarize``
checks it against the rows).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import logging
import sys
import time
from pathlib import Path

from benchmarks.results_md import record
from benchmarks.scale_rows import LADDER
from benchmarks.undelivered_trace import Trace, best_at, greedy_hours, recorder

CSV = Path(__file__).resolve().parent / "results" / "profile_stages.csv"
SEED, TIGHTNESS = 7, 1.0
#: seconds since the solve call at which the undelivered work is read off the progress reports
CHECKPOINTS = (5, 10, 30, 60)

FIELDS = [
    "size", "tasks", "people", "pairs", "time_limit", "workers", "seed", "strategy",
    "wall_s", "compile_s", "greedy_s", "lp_bound_s", "search_s", "relaxed_s", "repair_s",
    "final_bound_s", "reasons_s", "first_plan_s", "cpsat_first_s",
    "lns_iterations", "lns_improvements", "lns_choose_s", "lns_wait_s", "lns_build_s",
    "lns_solve_s", "lns_merge_s", "lns_sub_proven",
    "greedy_h", *(f"at_{c}s_h" for c in CHECKPOINTS), "undelivered_h", "lb_undelivered_h",
    "bound_budget_s", "lp_bounds_h", "assignment_h", "combined_h", "valid", "date", "command",
]  # fmt: skip
#: seconds given to each first-term bound of the side-by-side comparison (same instance)
BOUND_BUDGET = 10.0


def _f(x: object) -> str:
    return "" if x is None or x == "" else str(x)


def profile(size: int, limit: float, workers: int, strategy: str = "auto") -> dict[str, str]:
    """One solve of the ladder's ``size`` portfolio; its row."""
    from allocator.checker import check
    from allocator.engine import SolveParams, solve
    from allocator.generator import generate
    from solver_models.assignment_bound import assignment_bound
    from solver_models.bounds import undelivered_lower_bound
    from solver_models.instance import compile_instance
    from solver_models.schedule import mark_all_or_nothing

    people, projects = LADDER[size]
    portfolio = generate(people, projects, seed=SEED, tightness=TIGHTNESS)
    trace: Trace = []  # (elapsed, stage, undelivered hours)
    t0 = time.monotonic()
    result = solve(
        portfolio,
        SolveParams(
            time_limit=limit,
            workers=workers,
            seed=0,
            strategy=strategy,
            on_progress=recorder(trace),
        ),
    )
    wall = time.monotonic() - t0
    plan = result.plan
    st = result.stats
    lns = st.get("lns") if isinstance(st.get("lns"), dict) else {}
    assert isinstance(lns, dict)
    stages = lns.get("stages", {})
    assert isinstance(stages, dict)
    und = stages.get("undelivered")
    cpsat = [e for e, s, _ in trace if s == "cp-sat:undelivered"]

    inst = compile_instance(portfolio)
    mark_all_or_nothing(inst)  # as the engine compiles it
    const = inst.impossible_units()
    # the first term's bounds side by side, each with the same budget: the LPs alone (what the
    # engine had before issue 15), the integer assignment relaxation alone, and combined
    lps = undelivered_lower_bound(inst, BOUND_BUDGET, assignment=False)
    whole = assignment_bound(inst, BOUND_BUDGET)  # one worker: measured, two gave no bound
    combined = undelivered_lower_bound(inst, BOUND_BUDGET)

    def hours(units: int | None) -> str:
        return "" if units is None else f"{(units + const) / 100:.2f}"

    obj = plan.objective or {}
    lb = plan.lower_bound or {}
    return {
        "size": str(size),
        "tasks": str(len(portfolio.tasks_to_plan)),
        "people": str(len(portfolio.people)),
        "pairs": str(sum(len(t.candidates) for t in inst.tasks if t.possible)),
        "time_limit": f"{limit:g}",
        "workers": str(workers),
        "seed": str(SEED),
        "strategy": _f(st.get("strategy")),
        "wall_s": f"{wall:.2f}",
        "compile_s": _f(st.get("compile_seconds")),
        "greedy_s": _f(st.get("greedy_seconds")),
        "lp_bound_s": _f(st.get("lp_bound_seconds")),
        # LNS's own clock (its ModelResult carries no CP-SAT wall time), else the whole model's
        "search_s": _f(lns.get("seconds") if lns else st.get("cpsat_seconds")),
        "relaxed_s": _f(st.get("relaxed_seconds")),
        "repair_s": _f(st.get("repair_seconds")),
        "final_bound_s": _f(st.get("final_bound_seconds")),
        "reasons_s": _f(st.get("reasons_seconds")),
        "first_plan_s": f"{trace[0][0]:.2f}" if trace else "",
        "cpsat_first_s": f"{cpsat[0]:.2f}" if cpsat else "",
        "lns_iterations": _f(lns.get("iterations")),
        "lns_improvements": _f(lns.get("improvements")),
        "lns_choose_s": _f(lns.get("choose_seconds")),
        "lns_wait_s": _f(lns.get("wait_seconds")),
        "lns_build_s": _f(lns.get("build_seconds")),
        "lns_solve_s": _f(lns.get("solve_seconds")),
        "lns_merge_s": _f(lns.get("merge_seconds")),
        "lns_sub_proven": f"{und[1]}/{und[0]}" if isinstance(und, list) else "",
        "greedy_h": greedy_hours(trace),
        **{f"at_{c}s_h": best_at(trace, c, limit) for c in CHECKPOINTS},
        "undelivered_h": _f(obj.get("undelivered_work_hours")),
        "lb_undelivered_h": _f(lb.get("undelivered_work_hours")),
        "bound_budget_s": f"{BOUND_BUDGET:g}",
        "lp_bounds_h": hours(lps),
        "assignment_h": hours(whole),
        "combined_h": hours(combined),
        "valid": str(check(portfolio, plan).valid),
        "date": dt.date.today().isoformat(),
        "command": "python -m " + " ".join(["benchmarks.profile_stages", *sys.argv[1:]]),
    }


def _num(x: str) -> float:
    return float(x) if x else 0.0


def _s(x: str) -> str:
    return f"{float(x):.1f}" if x else "-"


def _label(r: dict[str, str]) -> str:
    return f"{int(r['tasks']):,} x {int(r['people']):,} {r['strategy']}"


def table(rows: list[dict[str, str]]) -> str:
    """Per run: the stages' seconds, LNS's seconds per iteration, the first term over time."""
    head = (
        "| tasks x people | limit | strategy | compile | greedy | LP bound | search | relaxed |"
        " repair + final bound + reasons | first plan | CP-SAT first solution |\n"
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n"
    )
    lines = []
    for r in rows:
        tail = _num(r["repair_s"]) + _num(r["final_bound_s"]) + _num(r["reasons_s"])
        lines.append(
            f"| {int(r['tasks']):,} x {int(r['people']):,} | {r['time_limit']} s | {r['strategy']}"
            f" | {_s(r['compile_s'])} | {_s(r['greedy_s'])} | {_s(r['lp_bound_s'])}"
            f" | {_s(r['search_s'])} | {_s(r['relaxed_s'])} | {tail:.1f} | {_s(r['first_plan_s'])}"
            f" | {_s(r['cpsat_first_s'])} |"
        )
    lns_head = (
        "\n\nLNS, per iteration (milliseconds; iterations of the loop, its sub-solves on "
        "`workers` threads: build and solve are summed over threads, choose, wait and merge are "
        "the loop's own):\n\n"
        "| tasks x people, search | iterations | improving | choose | wait | build | solve | merge |"
        " first stage proven |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n"
    )
    lns_lines = []
    for r in rows:
        n = int(r["lns_iterations"] or 0)
        if not n:
            continue

        def ms(key: str, n: int = n, r: dict[str, str] = r) -> str:
            return f"{1000 * _num(r[key]) / n:.0f}"

        lns_lines.append(
            f"| {_label(r)} | {n} | {r['lns_improvements']}"
            f" | {ms('lns_choose_s')} | {ms('lns_wait_s')} | {ms('lns_build_s')}"
            f" | {ms('lns_solve_s')} | {ms('lns_merge_s')} | {r['lns_sub_proven']} |"
        )
    cps = "".join(f" {c} s |" for c in CHECKPOINTS)
    conv_head = (
        "\n\nUndelivered work (hours) over time: the best plan reported by then (greedy, CP-SAT"
        " or LNS), the plan returned, its bound and the checker's verdict:\n\n"
        f"| tasks x people, search | greedy |{cps} returned | bound | valid |\n"
        "| --- | --- |" + " --- |" * len(CHECKPOINTS) + " --- | --- | --- |\n"
    )
    conv_lines = []
    for r in rows:
        at = "".join(
            f" {int(r[f'at_{c}s_h']):,} |" if r[f"at_{c}s_h"] else " - |" for c in CHECKPOINTS
        )
        conv_lines.append(
            f"| {_label(r)} | {int(float(r['greedy_h'])):,} |{at}"
            f" {float(r['undelivered_h']):,.0f} | {float(r['lb_undelivered_h']):,.0f}"
            f" | {r['valid']} |"
        )
    bound_head = (
        "\n\nThe first term's bound, side by side on the same instance, each given the same"
        " seconds: the LPs alone (the engine's bound before issue 15), the integer assignment"
        " relaxation (`solver_models.assignment_bound`; `-`: above its size limit) and both"
        " (`undelivered_lower_bound` now), with the gap they give the plan returned (hours):\n\n"
        "| tasks x people, search | seconds each | returned | LPs | gap | assignment | both | gap |\n"
        "| --- | --- | --- | --- | --- | --- | --- | --- |\n"
    )
    bound_lines = []
    for r in rows:
        got = float(r["undelivered_h"])

        def gap(b: str, got: float = got) -> str:
            return f"{100 * (got - float(b)) / got:.1f} %" if b and got > 0 else "-"

        def h(b: str) -> str:
            return f"{float(b):,.0f}" if b else "-"

        bound_lines.append(
            f"| {_label(r)} | {r['bound_budget_s']} | {got:,.0f}"
            f" | {h(r['lp_bounds_h'])} | {gap(r['lp_bounds_h'])} | {h(r['assignment_h'])}"
            f" | {h(r['combined_h'])} | {gap(r['combined_h'])} |"
        )
    return (
        head
        + "\n".join(lines)
        + lns_head
        + "\n".join(lns_lines)
        + conv_head
        + "\n".join(conv_lines)
        + bound_head
        + "\n".join(bound_lines)
        + "\n"
    )


def findings(rows: list[dict[str, str]]) -> str:
    """Per run, the shares the tables imply: the search's share of the wall time, and inside
    LNS the share of sub-solve time spent building sub-models."""
    out = []
    for r in rows:
        wall = _num(r["wall_s"])
        before = _num(r["compile_s"]) + _num(r["greedy_s"]) + _num(r["lp_bound_s"])
        line = (
            f"- {int(r['tasks']):,} x {int(r['people']):,}, {r['strategy']}, {r['time_limit']} s:"
            f" the search has {100 * _num(r['search_s']) / wall:.0f} % of the {wall:.1f} s,"
            f" compile + greedy + LP bound {100 * before / wall:.0f} %"
        )
        sub = _num(r["lns_build_s"]) + _num(r["lns_solve_s"])
        if sub > 0:
            line += (
                f"; building sub-models takes {100 * _num(r['lns_build_s']) / sub:.0f} % of the"
                f" sub-solves' time, choosing and merging"
                f" {100 * (_num(r['lns_choose_s']) + _num(r['lns_merge_s'])) / wall:.1f} % of"
                " the wall time"
            )
        out.append(line + ".")
    return "\n".join(out) + "\n"


def section(rows: list[dict[str, str]]) -> str:
    """The RESULTS.md block: commands, machine, dates, then :func:`table` and
    :func:`findings` (rows by size, limit and strategy)."""
    rows = sorted(rows, key=lambda r: (int(r["size"]), float(r["time_limit"]), r["strategy"]))
    commands = sorted({r["command"] for r in rows})
    dates = sorted({r["date"] for r in rows})
    return (
        "Commands: " + "; ".join(f"`{c}`" for c in commands) + f" ({', '.join(dates)}, 2 cores,"
        " 24 GB, shared with other runs). Seconds of wall time per stage of one solve:\n\n"
        + table(rows)
        + "\n"
        + findings(rows)
    )


def read_rows() -> list[dict[str, str]]:
    if not CSV.exists():
        return []
    with CSV.open(newline="") as f:
        return list(csv.DictReader(f))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="200,2000")
    ap.add_argument("--limit", type=float, default=60.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--strategy", default="auto", help="auto, cp-sat or lns (SolveParams)")
    ap.add_argument("--again", action="store_true", help="run sizes already in the CSV again")
    ap.add_argument("--record", action="store_true", help="write the RESULTS.md section")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    rows = read_rows()
    for size in (int(s) for s in args.sizes.split(",")):
        if size not in LADDER:
            ap.error(f"sizes must be among {sorted(LADDER)}, got {size}")
        same = (str(size), f"{args.limit:g}", str(args.workers), str(SEED))
        done = [
            r
            for r in rows
            if (r["size"], r["time_limit"], r["workers"], r["seed"]) == same
            and (args.strategy == "auto" or r["strategy"] == args.strategy)
            and (args.strategy != "auto" or "--strategy" not in r["command"])
        ]
        if done and not args.again:
            continue
        row = profile(size, args.limit, args.workers, args.strategy)
        rows = [r for r in rows if r not in done] + [row]
        CSV.parent.mkdir(parents=True, exist_ok=True)
        with CSV.open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=FIELDS)
            w.writeheader()
            w.writerows(rows)
        sys.stdout.write(table([row]) + "\n")
    if args.record:
        record("profile_stages", section(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
