"""The first plan and the pipeline's use of time (issue 15): which greedy run wins, and old
against new engine side by side.

    python -m benchmarks.first_plan runs --sizes 200,2000,10000 --seeds 7,1,2,3
    python -m benchmarks.first_plan solves --sizes 200,2000,10000 --limit 60
    python -m benchmarks.first_plan first --sizes 50000
    python -m benchmarks.first_plan --record      # the RESULTS.md section from every row

``runs``: on the scale ladder's generated portfolios (``benchmarks.scale_rows.LADDER``: the
sizes, tightness 1.0; seed 7 is the ladder's), every greedy run of
``allocator.pipeline.GREEDY_RUNS`` (rule, team tasks contiguous or not) alone on the compiled
instance: its undelivered work (hours) and seconds. Undelivered work does not depend on the
machine: the ``priority`` and ``edf`` runs are the code of the engine before issue 15
(``solver_models.greedy`` kept them unchanged), so their best is its greedy baseline.

``solves``: one solve of each size by the engine as it was at the session's start (the code
unpacked at ``--base``, run with ``PYTHONPATH=<base>/pkgs``) and by this one, alternately, in
this invocation, each in a fresh process (``SolveParams(time_limit, workers=2, seed=0)``, as
``benchmarks.profile_stages``): the stages' seconds as shares of the wall time, the seconds
to the first plan, how long before the limit it returned, undelivered work at 5, 10, 30 s and
at the end, its bound, and the checker's verdict, with the 1-minute load average beside each.

``first``: where a whole solve of each engine is too long for a shared machine (49,915 tasks),
the first plan alone: compile, then each engine's first greedy run (``FIRST_RUNS``) on the same
instance, in this process.

Rows go to ``benchmarks/results/first_plan_runs.csv``, ``first_plan_solves.csv`` and
``first_plan_first.csv`` (a run already there is replaced); ``--record`` writes the section ``first_plan`` of
``benchmarks/RESULTS.md`` (``benchmarks.summarize`` checks it against the rows).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks.results_md import record
from benchmarks.scale_rows import LADDER

if TYPE_CHECKING:
    from solver_models.instance import Instance

RESULTS = Path(__file__).resolve().parent / "results"
RUNS_CSV = RESULTS / "first_plan_runs.csv"
FIRST_CSV = RESULTS / "first_plan_first.csv"
FIRST_FIELDS = [
    "size", "tasks", "people", "seed", "compile_s", "engine", "rule", "contiguous",
    "seconds", "undelivered_h", "load_1min", "date",
]  # fmt: skip
#: the first greedy run of each engine: the old one's (``priority``, team tasks contiguous) and
#: this one's (``value``, contiguous); the first plan is out after compile and it
FIRST_RUNS = {"old": ("priority", True), "new": ("value", True)}
SOLVES_CSV = RESULTS / "first_plan_solves.csv"
TIGHTNESS = 1.0
CHECKPOINTS = (5, 10, 30)
RUN_FIELDS = [
    "size", "tasks", "people", "seed", "rule", "contiguous", "undelivered_h", "late",
    "seconds", "load_1min", "date",
]  # fmt: skip
SOLVE_FIELDS = [
    "size", "tasks", "people", "seed", "engine", "time_limit", "workers", "wall_s",
    "compile_s", "greedy_s", "greedy_runs", "lp_bound_s", "search_s", "after_search_s",
    "reserve_s", "final_bound_s", "first_plan_s", "greedy_h",
    *(f"at_{c}s_h" for c in CHECKPOINTS), "undelivered_h", "lb_undelivered_h", "valid",
    "load_1min", "date",
]  # fmt: skip
ENGINES = ("old", "new")
#: the script a solve's fresh process runs (old or new engine: whichever ``allocator`` the
#: process imports); it prints the row's measured fields as JSON
_SOLVE = r"""
import json, os, sys, time
from allocator.checker import check
from allocator.engine import SolveParams, SolveProgress, solve
from allocator.generator import generate
people, projects, seed, limit, workers, tight = json.loads(sys.argv[1])
portfolio = generate(people, projects, seed=seed, tightness=tight)
trace = []
def on_progress(p):
    if p.objective is not None and "undelivered_work_hours" in p.objective:
        trace.append((p.elapsed, p.stage, float(p.objective["undelivered_work_hours"])))
load = os.getloadavg()[0]
t0 = time.monotonic()
r = solve(portfolio, SolveParams(time_limit=limit, workers=workers, seed=0, on_progress=on_progress))
wall = time.monotonic() - t0
st = r.stats
lns = st.get("lns") if isinstance(st.get("lns"), dict) else {}
def best_at(sec):
    seen = [h for e, _, h in trace if e <= sec]
    return min(seen) if seen else None
search = lns.get("seconds") if lns else st.get("cpsat_seconds")
before = sum(float(st.get(k) or 0) for k in ("compile_seconds", "greedy_seconds", "lp_bound_seconds"))
print(json.dumps({
    "tasks": len(portfolio.tasks_to_plan), "people": len(portfolio.people), "wall_s": wall,
    "compile_s": st.get("compile_seconds"), "greedy_s": st.get("greedy_seconds"),
    "greedy_runs": st.get("greedy_runs"), "lp_bound_s": st.get("lp_bound_seconds"),
    "search_s": search, "reserve_s": st.get("reserve_seconds"),
    "after_search_s": wall - st["search_done_at"] if "search_done_at" in st else (
        wall - before - float(search or 0) - float(st.get("relaxed_seconds") or 0)),
    "final_bound_s": st.get("final_bound_seconds"),
    "first_plan_s": trace[0][0] if trace else None,
    "greedy_h": min([h for _, s, h in trace if s.startswith("greedy")], default=None),
    "at": {str(c): best_at(c) for c in (5, 10, 30)},
    "undelivered_h": (r.plan.objective or {}).get("undelivered_work_hours"),
    "lb_undelivered_h": (r.plan.lower_bound or {}).get("undelivered_work_hours"),
    "valid": check(portfolio, r.plan).valid, "load_1min": load,
    "allocator": __import__("allocator").__file__,
}))
"""


def _load() -> float:
    return os.getloadavg()[0]


def _timed_run(inst: Instance, rule: str, contiguous: bool) -> tuple[float, float, tuple[int, ...]]:
    """One greedy run as the engine makes it (all-or-nothing enforced): the load average before
    it, its seconds and its ``portfolio`` key."""
    from solver_models.greedy import greedy
    from solver_models.schedule import enforce_all_or_nothing, schedule_key

    load = _load()
    t0 = time.perf_counter()
    sched = enforce_all_or_nothing(inst, greedy(inst, rule=rule, team_contiguous=contiguous))
    seconds = time.perf_counter() - t0
    return load, seconds, tuple(schedule_key(inst, sched, "portfolio"))


def _today() -> str:
    return dt.date.today().isoformat()


def _write(path: Path, fields: list[str], rows: list[dict[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)


def read(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


# -- runs ---------------------------------------------------------------------------------------
def greedy_runs(size: int, seed: int) -> list[dict[str, str]]:
    """Every run of ``GREEDY_RUNS`` on the ladder's ``size`` portfolio drawn with ``seed``."""
    from allocator.generator import generate
    from allocator.pipeline import GREEDY_RUNS, compile_for

    people, projects = LADDER[size]
    portfolio = generate(people, projects, seed=seed, tightness=TIGHTNESS)
    inst = compile_for(portfolio)
    rows = []
    for rule, contiguous in GREEDY_RUNS:
        load, seconds, key = _timed_run(inst, rule, contiguous)
        rows.append(
            {
                "size": str(size),
                "tasks": str(len(portfolio.tasks_to_plan)),
                "people": str(len(portfolio.people)),
                "seed": str(seed),
                "rule": rule,
                "contiguous": str(contiguous),
                "undelivered_h": f"{key[0] / 100:.2f}",
                "late": str(key[1]),
                "seconds": f"{seconds:.3f}",
                "load_1min": f"{load:.1f}",
                "date": _today(),
            }
        )
        sys.stdout.write(f"{size} seed {seed} {rule} {contiguous}: {key[0] / 100:,.0f} h\n")
    return rows


def first_runs(size: int) -> list[dict[str, str]]:
    """The first plan of each engine on the ladder's ``size`` portfolio (seed 7), in this
    process: compile (as the engine compiles), then each engine's first greedy run."""
    from allocator.generator import generate
    from allocator.pipeline import compile_for

    people, projects = LADDER[size]
    portfolio = generate(people, projects, seed=7, tightness=TIGHTNESS)
    t0 = time.perf_counter()
    inst = compile_for(portfolio)
    compile_s = time.perf_counter() - t0
    rows = []
    for engine, (rule, contiguous) in FIRST_RUNS.items():
        load, seconds, key = _timed_run(inst, rule, contiguous)
        rows.append(
            {
                "size": str(size),
                "tasks": str(len(portfolio.tasks_to_plan)),
                "people": str(len(portfolio.people)),
                "seed": "7",
                "compile_s": f"{compile_s:.2f}",
                "engine": engine,
                "rule": rule,
                "contiguous": str(contiguous),
                "seconds": f"{seconds:.2f}",
                "undelivered_h": f"{key[0] / 100:.2f}",
                "load_1min": f"{load:.1f}",
                "date": _today(),
            }
        )
        sys.stdout.write(f"{size} {engine} {rule}: {seconds:.1f} s, {key[0] / 100:,.0f} h\n")
    return rows


def first_table(rows: list[dict[str, str]]) -> str:
    """Per size: compile, and each engine's first greedy run (seconds, undelivered work)."""
    if not rows:
        return ""
    head = (
        "| tasks x people | compile | engine | first run | seconds | compile + first run"
        " | undelivered (h) | load |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n"
    )
    lines = []
    for r in sorted(rows, key=lambda r: (int(r["size"]), ENGINES.index(r["engine"]))):
        total = float(r["compile_s"]) + float(r["seconds"])
        lines.append(
            f"| {int(r['tasks']):,} x {int(r['people']):,} | {_s(r['compile_s'])} s"
            f" | {r['engine']} | {_name(r['rule'], r['contiguous'])} | {_s(r['seconds'])} s"
            f" | {total:.1f} s | {_h(r['undelivered_h'])} | {r['load_1min']} |"
        )
    return (
        "\nThe first plan at the largest size, each engine's first greedy run on the same compiled"
        " instance in one process (the solves' first plan also counts validation and the run's"
        " ranking):\n\n" + head + "\n".join(lines) + "\n"
    )


# -- solves -------------------------------------------------------------------------------------
def one_solve(engine: str, size: int, limit: float, workers: int, base: Path) -> dict[str, str]:
    """One solve in a fresh process: ``old`` imports the engine unpacked at ``base``."""
    env = dict(os.environ)
    here = str(Path(__file__).resolve().parents[1])
    if engine == "old":
        env["PYTHONPATH"] = f"{base}_pkgs"
    else:
        env["PYTHONPATH"] = os.pathsep.join([f"{here}/src", here])
    people, projects = LADDER[size]
    arg = json.dumps([people, projects, 7, limit, workers, TIGHTNESS])
    out = subprocess.run(
        [sys.executable, "-c", _SOLVE, arg],
        env=env,
        cwd="/tmp",
        capture_output=True,
        text=True,
        check=True,
    )
    got = json.loads(out.stdout.strip().splitlines()[-1])
    where = str(got["allocator"])
    if (engine == "old") != where.startswith(str(base)):
        raise RuntimeError(f"the {engine} engine imported allocator from {where}")

    def f(x: object, nd: int = 3) -> str:
        return "" if x is None else f"{float(x):.{nd}f}"  # type: ignore[arg-type]

    at = got["at"]
    return {
        "size": str(size),
        "tasks": str(got["tasks"]),
        "people": str(got["people"]),
        "seed": "7",
        "engine": engine,
        "time_limit": f"{limit:g}",
        "workers": str(workers),
        "wall_s": f(got["wall_s"], 2),
        "compile_s": f(got["compile_s"]),
        "greedy_s": f(got["greedy_s"]),
        "greedy_runs": str(got["greedy_runs"]),
        "lp_bound_s": f(got["lp_bound_s"]),
        "search_s": f(got["search_s"]),
        "after_search_s": f(got["after_search_s"]),
        "reserve_s": f(got["reserve_s"]),
        "final_bound_s": f(got["final_bound_s"]),
        "first_plan_s": f(got["first_plan_s"], 2),
        "greedy_h": f(got["greedy_h"], 0),
        **{f"at_{c}s_h": f(at[str(c)], 0) for c in CHECKPOINTS},
        "undelivered_h": f(got["undelivered_h"], 0),
        "lb_undelivered_h": f(got["lb_undelivered_h"], 0),
        "valid": str(got["valid"]),
        "load_1min": f"{got['load_1min']:.1f}",
        "date": _today(),
    }


# -- the section --------------------------------------------------------------------------------
def _name(rule: str, contiguous: str) -> str:
    return rule + (" contiguous" if contiguous == "True" else "")


def runs_table(rows: list[dict[str, str]]) -> str:
    """Per (size, seed): each run's undelivered work as a multiple of the old baseline (the best
    ``priority``/``edf`` run), the new baseline's, and the winner; then how often each run won."""
    order: list[tuple[str, str]] = []
    for r in rows:
        if (r["rule"], r["contiguous"]) not in order:
            order.append((r["rule"], r["contiguous"]))
    groups: dict[tuple[int, int], dict[tuple[str, str], dict[str, str]]] = {}
    for r in rows:
        groups.setdefault((int(r["size"]), int(r["seed"])), {})[(r["rule"], r["contiguous"])] = r
    head = (
        "| tasks x people | seed | old baseline (h) | "
        + " | ".join(_name(*k) for k in order)
        + " | new baseline (h) | new / old | winner |\n"
        + "| --- | --- | --- |"
        + " --- |" * len(order)
        + " --- | --- | --- |\n"
    )
    lines = []
    wins: dict[tuple[str, str], int] = {k: 0 for k in order}
    for (_size, seed), g in sorted(groups.items()):
        any_row = next(iter(g.values()))
        und = {k: float(v["undelivered_h"]) for k, v in g.items()}
        old = min(v for k, v in und.items() if k[0] in ("priority", "edf"))
        new = min(und.values())
        # the engine's choice: the smallest (undelivered, late), the first of equal ones
        winner = min(order, key=lambda k: (und[k], int(g[k]["late"]), order.index(k)))
        wins[winner] += 1
        cells = " | ".join(f"{und[k] / old:.2f}" for k in order)
        lines.append(
            f"| {int(any_row['tasks']):,} x {int(any_row['people']):,} | {seed} | {old:,.0f}"
            f" | {cells} | {new:,.0f} | {new / old:.2f} | {_name(*winner)} |"
        )
    won = ", ".join(f"{_name(*k)} {n}" for k, n in wins.items())
    return (
        head
        + "\n".join(lines)
        + f"\n\nWins (undelivered, then lateness) of {len(groups)}: {won}.\n"
    )


def runs_seconds(rows: list[dict[str, str]]) -> str:
    """Seconds of one run per rule at each size (seed 7), with the load average."""
    out = []
    for size in sorted({int(r["size"]) for r in rows}):
        sel = [r for r in rows if int(r["size"]) == size and r["seed"] == "7"]
        if not sel:
            continue
        parts = ", ".join(
            f"{_name(r['rule'], r['contiguous'])} {float(r['seconds']):.2f}" for r in sel
        )
        loads = sorted(float(r["load_1min"]) for r in sel)
        out.append(
            f"- {int(sel[0]['tasks']):,} tasks (seed 7), seconds per run: {parts}"
            f" (load {loads[0]:.1f}-{loads[-1]:.1f})."
        )
    return "\n".join(out) + "\n"


def _s(x: str) -> str:
    return f"{float(x):.1f}" if x else "-"


def _h(x: str) -> str:
    return f"{float(x):,.0f}" if x else "-"


def solves_table(rows: list[dict[str, str]]) -> str:
    """Old and new engine per size: stages as shares of the wall time, the first plan, the
    return before the limit, undelivered work over time, its bound, the checker's verdict."""
    head = (
        "| tasks x people | limit | engine | load | greedy runs | compile + greedy + LP bound"
        " | search | after the search (reserved) | returned before the limit | first plan |"
        " greedy |" + "".join(f" {c} s |" for c in CHECKPOINTS) + " returned | bound | valid |\n"
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
        + " --- |" * len(CHECKPOINTS)
        + " --- | --- | --- |\n"
    )
    lines = []
    key = {e: i for i, e in enumerate(ENGINES)}
    for r in sorted(rows, key=lambda r: (int(r["size"]), float(r["time_limit"]), key[r["engine"]])):
        wall = float(r["wall_s"])
        before = sum(float(r[k] or 0) for k in ("compile_s", "greedy_s", "lp_bound_s"))
        reserved = f" ({_s(r['reserve_s'])} s)" if r["reserve_s"] else ""
        at = "".join(f" {_h(r[f'at_{c}s_h'])} |" for c in CHECKPOINTS)
        lines.append(
            f"| {int(r['tasks']):,} x {int(r['people']):,} | {r['time_limit']} s | {r['engine']}"
            f" | {r['load_1min']} | {r['greedy_runs']} | {100 * before / wall:.0f} %"
            f" | {100 * float(r['search_s'] or 0) / wall:.0f} %"
            f" | {_s(r['after_search_s'])} s{reserved}"
            f" | {float(r['time_limit']) - wall:.1f} s | {_s(r['first_plan_s'])} s"
            f" | {_h(r['greedy_h'])} |{at} {_h(r['undelivered_h'])} | {_h(r['lb_undelivered_h'])}"
            f" | {r['valid']} |"
        )
    return head + "\n".join(lines) + "\n"


def findings(runs: list[dict[str, str]], solves: list[dict[str, str]]) -> str:
    """The figures the tables imply: the new baseline against the old per size, and per size
    solved by both engines the search's share of the wall time, the plan returned and its
    bound."""
    out = []
    by_size: dict[int, list[float]] = {}
    groups: dict[tuple[int, int], list[dict[str, str]]] = {}
    for r in runs:
        groups.setdefault((int(r["size"]), int(r["seed"])), []).append(r)
    for (size, _seed), g in groups.items():
        old = min(float(r["undelivered_h"]) for r in g if r["rule"] in ("priority", "edf"))
        new = min(float(r["undelivered_h"]) for r in g)
        by_size.setdefault(size, []).append(new / old)
    for size, ratios in sorted(by_size.items()):
        out.append(
            f"- Ladder size {size:,}: the new greedy baseline leaves {min(ratios):.2f}-"
            f"{max(ratios):.2f} times the old one's undelivered work ({len(ratios)} seeds)."
        )
    pairs: dict[tuple[str, str], dict[str, dict[str, str]]] = {}
    for r in solves:
        pairs.setdefault((r["size"], r["time_limit"]), {})[r["engine"]] = r
    for (_size, limit), both in sorted(pairs.items(), key=lambda k: int(k[0][0])):
        if set(both) != set(ENGINES):
            continue
        o, n = both["old"], both["new"]

        def share(r: dict[str, str]) -> str:
            return f"{100 * float(r['search_s'] or 0) / float(r['wall_s']):.0f} %"

        out.append(
            f"- {int(n['tasks']):,} x {int(n['people']):,}, {limit} s: the search had"
            f" {share(o)} of the wall time before, {share(n)} now; the plan returned leaves"
            f" {float(n['undelivered_h']) / float(o['undelivered_h']):.2f} times the old"
            f" engine's undelivered work; bound {_h(o['lb_undelivered_h'])} h before,"
            f" {_h(n['lb_undelivered_h'])} h now."
        )
    return "\n".join(out) + "\n"


def section(
    runs: list[dict[str, str]],
    solves: list[dict[str, str]],
    first: list[dict[str, str]] | None = None,
) -> str:
    """The RESULTS.md block, from the three CSVs."""
    first = first or []
    dates = sorted({r["date"] for r in runs + solves + first})

    def csv_of(values: set[str]) -> str:
        return ",".join(sorted(values, key=int))

    commands = [
        "python -m benchmarks.first_plan runs"
        f" --sizes {csv_of({r['size'] for r in runs})} --seeds {csv_of({r['seed'] for r in runs})}"
    ]
    for limit in sorted({r["time_limit"] for r in solves}, key=float):
        sizes = csv_of({r["size"] for r in solves if r["time_limit"] == limit})
        commands.append(f"python -m benchmarks.first_plan solves --sizes {sizes} --limit {limit}")
    if first:
        commands.append(
            f"python -m benchmarks.first_plan first --sizes {csv_of({r['size'] for r in first})}"
        )
    return (
        "Commands: "
        + "; ".join(f"`{c}`" for c in commands)
        + f" ({', '.join(dates)}, 2 cores, 24 GB, shared with other runs; load: the 1-minute load"
        " average). Each greedy run alone, undelivered work as a multiple of the old baseline's"
        " (the best `priority` or `edf` run: the engine's greedy before issue 15):\n\n"
        + runs_table(runs)
        + "\n"
        + runs_seconds(runs)
        + "\nOne solve each, the engine at the session's start (`old`) and this one (`new`),"
        " alternately in one invocation (shares of the wall time; undelivered work in hours, the"
        " best plan reported by then):\n\n"
        + solves_table(solves)
        + first_table(first)
        + "\n"
        + findings(runs, solves)
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", nargs="?", choices=("runs", "solves", "first"))
    ap.add_argument("--sizes", default="200,2000")
    ap.add_argument("--seeds", default="7")
    ap.add_argument("--limit", type=float, default=60.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--base", type=Path, default=Path("/tmp/base"))
    ap.add_argument("--record", action="store_true", help="write the RESULTS.md section")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    for size in sizes:
        if size not in LADDER:
            ap.error(f"sizes must be among {sorted(LADDER)}, got {size}")
    if args.what == "runs":
        rows = read(RUNS_CSV)
        for size in sizes:
            for seed in (int(s) for s in args.seeds.split(",")):
                new = greedy_runs(size, seed)
                rows = [r for r in rows if (r["size"], r["seed"]) != (str(size), str(seed))] + new
                _write(RUNS_CSV, RUN_FIELDS, rows)
    elif args.what == "solves":
        rows = read(SOLVES_CSV)
        for size in sizes:
            for engine in ENGINES:
                row = one_solve(engine, size, args.limit, args.workers, args.base)
                same = (row["size"], row["time_limit"], row["engine"])
                rows = [r for r in rows if (r["size"], r["time_limit"], r["engine"]) != same]
                rows.append(row)
                _write(SOLVES_CSV, SOLVE_FIELDS, rows)
                sys.stdout.write(solves_table([row]))
    elif args.what == "first":
        rows = read(FIRST_CSV)
        for size in sizes:
            rows = [r for r in rows if r["size"] != str(size)] + first_runs(size)
            _write(FIRST_CSV, FIRST_FIELDS, rows)
    if args.record:
        record("first_plan", section(read(RUNS_CSV), read(SOLVES_CSV), read(FIRST_CSV)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
