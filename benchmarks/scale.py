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
``Progress`` whose stage starts with ``greedy``, counted from the ``solve`` call, so compile
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
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import platform
import resource
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.results_md import record

if TYPE_CHECKING:
    from allocator.domain import Portfolio

HERE = Path(__file__).resolve().parent
CSV = HERE / "results" / "scale.csv"
#: nominal tasks -> (people, projects); about 8 tasks a project. 2,000 tasks get 300 people
#: (not 200) and 10,000 get 1,000, the sizes the issue's targets are stated for.
LADDER: dict[int, tuple[int, int]] = {
    200: (20, 25),
    2000: (300, 250),
    10000: (1000, 1250),
    50000: (5000, 6250),
}
#: the issue's targets: size -> (first plan seconds, gap, at time limit, peak MB or None)
TARGETS: dict[int, tuple[float, float, float, float | None]] = {
    2000: (5.0, 0.03, 60.0, None),
    10000: (30.0, 0.05, 300.0, 4096.0),
}
GREEDY = "greedy"
TAG = "@scale "
#: the engine's rows; a peer's rows carry its name (``--peers``)
ENGINE = "engine"
PEERS = ("timefold", "pyjobshop")
FIELDS = [
    "size",
    "people",
    "projects",
    "tasks",
    "pairs",
    "tightness",
    "seed",
    "workers",
    "time_limit",
    "outcome",
    "generate_s",
    "first_plan_s",
    "compile_s",
    "greedy_s",
    "solve_s",
    "check_s",
    "wall_s",
    "total_h",
    "undelivered_h",
    "late_days",
    "greedy_undelivered_h",
    "ratio",
    "gap",
    "lower_bound",
    "lb_undelivered_h",
    "bound_from",
    "lp_bound_s",
    "strategy",
    "chosen",
    "lns_iterations",
    "lns_improvements",
    "peak_rss_mb",
    "solve_rss_mb",
    "valid",
    "load1",
    "shared_with",
    "code",
    "command",
    "date",
    # added with the peers (empty in older rows: the engine's)
    "solver",
    "finish_days",
    "cost",
    "assigned",
    "peer_status",
    "peer_threads",
    "violations",
    "dropped",
    "dropped_why",
    "repaired_undelivered_h",
    "repaired_valid",
    "vs_engine",
    "ratio_to_engine",
]


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
    from allocator.engine import Progress, SolveParams, solve
    from allocator.objective import evaluate

    portfolio = _generated(people, projects, seed, tightness)
    seen: list[str] = []

    def on_progress(p: Progress) -> None:
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


def solver_of(row: dict[str, Any]) -> str:
    """The row's solver (rows made before the peers have none: the engine's)."""
    return str(row.get("solver") or ENGINE)


def compare(peer: dict[str, Any], ours: dict[str, str] | None) -> None:
    """Fill a peer row's comparison with the engine's row of the same size, limit, seed and
    workers: ``vs_engine`` is the lexicographic verdict on (undelivered, late, finish, cost)
    from the peer's side, ``ratio_to_engine`` its undelivered work over ours."""
    if not ours or peer.get("undelivered_h") in (None, "") or not ours.get("undelivered_h"):
        return
    keys: list[str] = []
    for k in ("undelivered_h", "late_days", "finish_days", "cost"):
        if ours.get(k) in (None, "") or peer.get(k) in (None, ""):
            break  # an engine row made before these columns: compare on what both have
        keys.append(k)
    mine = tuple(float(str(peer[k])) for k in keys)
    theirs = tuple(float(ours[k]) for k in keys)
    if peer.get("valid") not in (True, "True"):
        peer["vs_engine"] = "invalid"
    else:
        verdict = "better" if mine < theirs else "worse" if mine > theirs else "equal"
        peer["vs_engine"] = verdict + ("" if len(keys) == 4 else f" (on {', '.join(keys)})")
    ou = float(ours["undelivered_h"])
    peer["ratio_to_engine"] = round(float(str(peer["undelivered_h"])) / ou, 4) if ou else ""


def derive(row: dict[str, Any], g: dict[str, str] | None) -> None:
    """Fill an engine row's comparisons with its size's greedy row (when that finished)."""
    if not g or not g.get("undelivered_h"):
        return
    gu = float(g["undelivered_h"])
    row["greedy_undelivered_h"] = gu
    row["pairs"] = g.get("pairs", "")
    row["total_h"] = row.get("total_h") or g.get("total_h", "")
    if row.get("undelivered_h") not in (None, ""):
        row["ratio"] = round(float(str(row["undelivered_h"])) / gu, 4) if gu else ""
    lb, glb = row.get("lb_undelivered_h"), g.get("lb_undelivered_h")
    if lb not in (None, "") and glb and float(str(lb)) == float(glb):
        # the greedy run's bound is the analytic one: this run proved nothing more
        row["bound_from"] = "analytic"


def _key(size: object, limit: object, seed: object, workers: object, solver: str = ENGINE) -> str:
    lim = str(limit) if str(limit) == GREEDY else str(float(str(limit)))
    tail = "" if solver in ("", ENGINE) else f"/{solver}"
    return f"{size}/{lim}/{seed}/{workers}{tail}"


def _f(v: object, fmt: str = ",.0f") -> str:
    if v in (None, ""):
        return "-"
    try:
        return format(float(str(v)), fmt)
    except ValueError:
        return str(v)


INTRO = """\
Generated portfolios (`allocator.generator.generate`, tightness 1.0: demand about equal to
capacity over the horizon; seed 7; about 8 tasks a project) of about 200, 2,000, 10,000 and
50,000 tasks with 20, 300, 1,000 and 5,000 people. Each run is a subprocess of its own
(`python -m benchmarks.scale`), so that "peak RSS" (its `ru_maxrss`, generation included) is that
run's alone. "greedy" rows are `SolveParams(greedy_only=True)`: the best of the engine's greedy
list schedules, the baseline; the other rows are `solve(..., SolveParams(time_limit, workers=2))`.
"first plan" is the `elapsed` of the first `Progress` whose stage starts with `greedy` (counted
from the `solve` call: compile and greedy included, generation not); "compile + greedy" is the
same from `Result.stats`. "undelivered" is the priority-weighted undelivered work, "late" the
priority-weighted late days, both from `allocator.objective.evaluate`; "engine / greedy" is the
ratio of undelivered work. "gap" is the plan's gap (`plan.gap`: since plan format v2, that of
the first objective term whose bound is below its value; in rows recorded before, that of the
combined objective); "bound on undelivered" is the lower bound of the undelivered-work term
(before v2: the combined bound divided by that term's weight, the same thing);
"bound from" says which bound it is (see below). "pairs" is the model size, (task, eligible
person) pairs. "valid" is the verdict of `allocator.checker`. Raw rows, with the 1-minute load
average at each run's start and a hash of the engine source each run used:
`benchmarks/results/scale.csv`.

Targets of the issue "Scale: large portfolios solved fast": 2,000 tasks x 300 people: first
valid plan <= 5 s, gap <= 3 % at 60 s; 10,000 tasks x 1,000 people: first valid plan <= 30 s,
peak memory <= 4 GB, gap <= 5 % at 300 s."""


def _num(r: dict[str, str] | None, k: str) -> float | None:
    v = (r or {}).get(k)
    return float(v) if v not in (None, "") else None


def notes(rows: list[dict[str, str]]) -> str:
    """Why the targets are met or missed, from the rows (every figure is computed here)."""
    try:
        from allocator import engine
        from solver_models import bounds

        lns_above = getattr(engine, "LNS_ABOVE", None)
        cap_max = getattr(bounds, "CAPACITY_LP_MAX_PAIRS", None)
    except ImportError:  # pragma: no cover
        lns_above = cap_max = None
    out: list[str] = []
    eng = [r for r in rows if r["time_limit"] != GREEDY and r.get("undelivered_h")]

    def longest(size: int) -> dict[str, str] | None:
        mine = [r for r in eng if r["size"] == str(size)]
        return max(mine, key=lambda r: float(r["time_limit"]), default=None)

    # 1. the gap
    shares, needs = [], []
    for size in LADDER:
        r = longest(size)
        und, tot, lb = _num(r, "undelivered_h"), _num(r, "total_h"), _num(r, "lb_undelivered_h")
        if r is None or und is None or not tot or lb is None:
            continue
        shares.append(
            f"{int(r['tasks']):,} tasks at {float(r['time_limit']):.0f} s: {und / tot:.1%} of "
            f"all the (priority-weighted) work undelivered, {lb / tot:.1%} proven unavoidable "
            f"({r['bound_from']} bound), gap {float(r['gap']):.1%}"
        )
        if size in TARGETS:
            target = TARGETS[size][1]
            needs.append(
                f"at {int(r['tasks']):,} tasks a gap of {target:.0%} against the same bound needs "
                f"at most {lb / (1 - target):,.0f} h undelivered, "
                f"{und / (lb / (1 - target)):.1f} times less than the {und:,.0f} h reached"
            )
    exact = [r for r in eng if r.get("bound_from") == "cp-sat model"]
    cpsat_text = (
        "CP-SAT's own bound counts only when its whole model is exact for the portfolio "
        + (
            f"({len(exact)} of {len(eng)} engine rows here)"
            if exact
            else "(no row here: the whole model was inexact or not built in every run"
            + (
                f"; above {lns_above:,} pairs the engine runs LNS, no whole model)"
                if lns_above
                else ")"
            )
        )
    )
    gaps = [float(r["gap"]) for r in eng if r.get("gap")]
    out.append(
        "**What the gap means at these sizes.** The gap is `(objective - lower bound) / objective` "
        "on the one lexicographic objective, whose first term, undelivered work, outweighs all "
        "the others together; so here it is in effect `1 - (bound on undelivered) / undelivered`. "
        "None of the three bounds is tight on these portfolios: "
        + cpsat_text
        + "; the LP relaxations of `solver_models.bounds` (a time-indexed LP of skill-level "
        "capacity against task windows pushed along precedence chains, at any size, and the "
        "per-person capacity LP up to "
        + (f"{cap_max:,}" if cap_max else "a size limit")
        + " pairs) share work fractionally, while a plan delivers a task whole, by one person, "
        "without pausing. Without time for an LP (a short limit) only "
        "the analytic bound is left: the work nobody is qualified for (the generator makes "
        "about 1 % of tasks so). "
        + (
            f"Gaps of {min(gaps):.0%}-{max(gaps):.0%} therefore say that the bound proves little, "
            "not that the plans are that far from the best plan: the optimum lies somewhere "
            "between bound and plan, and these runs do not say where. "
            if gaps
            else ""
        )
        + ("Figures: " + "; ".join(shares) + ". " if shares else "")
        + (
            "The gap targets are out of reach of longer searching alone: "
            + "; ".join(needs)
            + ". Meeting them needs a much stronger bound (one that sees precedence, dates and "
            "deadlines) as much as better plans."
            if needs
            else ""
        )
    )
    # 2. first plan and memory at 10,000 tasks
    r10 = [r for r in eng if r["size"] == "10000"]
    fp = [float(r["first_plan_s"]) for r in r10 if r.get("first_plan_s")]
    if r10 and fp:
        comp = [float(r["compile_s"]) for r in r10 if r.get("compile_s")]
        gr = [float(r["greedy_s"]) for r in r10 if r.get("greedy_s")]
        peak = max(float(r["peak_rss_mb"]) for r in r10)
        short = min(r10, key=lambda r: float(r["time_limit"]))
        text = (
            f"**First valid plan at 10,000 tasks.** {min(fp):.0f}-{max(fp):.0f} s, of which "
            f"compiling the instance {min(comp):.0f}-{max(comp):.0f} s and the four greedy list "
            f"schedules (EDF and priority, team tasks contiguous or not, one after another) "
            f"{min(gr):.0f}-{max(gr):.0f} s; the compile is Python work per (task, eligible "
            f"person) pair, {float(r10[0].get('pairs') or 0):,.0f} pairs here. "
        )
        if short.get("solve_s") and float(short["solve_s"]) > float(short["time_limit"]) + 1:
            text += (
                f"The time limit does not bound compile and greedy: the "
                f"{float(short['time_limit']):.0f} s run returned after "
                f"{float(short['solve_s']):.0f} s with {short.get('lns_iterations') or 0} LNS "
                f"iterations, its plan from {short.get('chosen')}. "
            )
        text += f"Peak memory {peak:,.0f} MB. The 300 s gap target was " + (
            "measured (see the table)."
            if any(float(r["time_limit"]) == 300 for r in r10)
            else "not run (`--limits 300`)."
        )
        out.append(text)
    # 3. LNS
    lns_rows = [r for r in eng if r.get("strategy") == "lns" and r.get("ratio")]
    if lns_rows:
        out.append(
            "**LNS.** "
            + "; ".join(
                f"{int(r['tasks']):,} tasks at {float(r['time_limit']):.0f} s: "
                f"{r['lns_iterations'] or 0} sub-solves, {r['lns_improvements'] or 0} improving, "
                f"undelivered {1 - float(r['ratio']):.1%} below greedy"
                for r in lns_rows
            )
            + ". Each sub-solve re-solves one neighbourhood of tasks (its size adapts between 40 "
            "and 400) with one CP-SAT worker for at most 2 s. Where most sub-solves still "
            "improve, the search was far from converged when the time ran out."
        )
    # 4. the largest size
    big = [r for r in rows if r["size"] == "50000"]
    if big:
        parts = []
        for r in big:
            what = "greedy baseline" if r["time_limit"] == GREEDY else f"{r['time_limit']} s limit"
            if r["outcome"] == "ok":
                parts.append(
                    f"{what}: first plan after {float(r['first_plan_s']):.0f} s, peak "
                    f"{float(r['peak_rss_mb']) / 1024:.1f} GB, wall {float(r['wall_s']):.0f} s"
                )
            else:
                reached = (
                    f"first plan after {float(r['first_plan_s']):.0f} s"
                    if r.get("first_plan_s")
                    else "no plan"
                )
                parts.append(
                    f"{what}: {r['outcome']}, {reached} (generated in "
                    f"{float(r.get('generate_s') or 0):.1f} s; "
                    f"{float(r['peak_rss_mb']) / 1024:.1f} GB resident when stopped, still "
                    f"compiling or in greedy)"
                )
        out.append(
            f"**50,000 tasks x 5,000 people** ({int(big[0]['tasks']):,} tasks). Tried once: "
            + "; ".join(parts)
            + ". A longer limit is not run for a size whose shorter run reached no plan."
        )
    # 5. conditions
    loads = [float(r["load1"]) for r in rows if r.get("load1")]
    shared = sorted({m for r in rows for m in r.get("shared_with", "").split() if m})
    if shared:
        out.append(
            f"**Shared machine.** Other engineers' benchmarks ({', '.join(shared)}) ran on this "
            f"2-core machine during these runs (1-minute load average {min(loads):.1f}-"
            f"{max(loads):.1f} at the runs' starts), so the seconds are inflated by an unknown "
            f"amount and LNS did fewer sub-solves than it would on an idle machine."
        )
    codes = sorted({r["code"] for r in rows if r.get("code")})
    if len(codes) > 1:
        out.append(
            f"**Engine source.** Other engineers were editing the engine in the same working tree "
            f"while these rows were made: they ran on {len(codes)} different versions of "
            f"`src/allocator` and `solver_models` (a hash per row in the CSV)."
        )
    return "\n\n".join(out)


PEERS_INTRO = """\
**Peers** (`--peers`), run after the engine on the same generated portfolio, at the same time
limit, one after another (never in parallel), each in its own subprocess (peak RSS includes the
Java process). *Timefold* is Timefold Solver 1.24's Java engine (the jars of the
`timefold==1.24.0b0` wheel) with our own task-assigning model
(`benchmarks/timefold_peer.py`, `benchmarks/timefold/`): contract active days, capacity,
teams, pins, precedence, hard deadlines as hard constraints, and the engine's four objective
terms as four soft levels in the same lexicographic order; it runs on **one thread** (multi-
threaded solving is not in Timefold's community edition). *PyJobShop* is PyJobShop 0.0.9 on
OR-Tools with `workers` threads (`benchmarks/pyjobshop_generated.py`): people as machines,
qualified people as modes, absences as fixed tasks on the person's machine (so no task
stretches over an absence, as PyJobShop's machine breaks would let it); it has no optional work, so every task is scheduled on an open
horizon and the driver drops the tasks finishing after the calendar's end ("dropped");
partial allocation and reduced capacity are not modelled (they take the whole person), cost
is not in its objective, and PyJobShop builds its CP-SAT model inside `solve`, outside the
time limit's reach (its wall time can exceed the limit). Each peer's time limit covers compiling the
instance, the model and the solve (not generating the portfolio). "valid" is
`allocator.checker` on the peer's plan as returned; an invalid plan is reported invalid, and
"repaired" gives the undelivered work with every task the checker names (and its successors)
taken out. "vs ours" compares (undelivered, late, finish, cost) lexicographically with the
engine's row at the same size and limit; "/ ours" is the ratio of undelivered work.\
"""


def peer_table(rows: list[dict[str, str]], peer_rows: list[dict[str, str]]) -> str:
    """The peers' rows beside the engine's at the same size and limit."""
    ours = {(r["size"], r["time_limit"]): r for r in rows}
    lines = [
        "| tasks | limit (s) | solver | threads | outcome | status | undelivered (h) | "
        "late (wtd days) | finish (wtd days) | cost | assigned | valid | violations | dropped | "
        "repaired undelivered (h) | vs ours | / ours | peak RSS (MB) | wall (s) |",
        "|---:|---:|:--|---:|:--|:--|---:|---:|---:|---:|---:|:-:|---:|---:|---:|:--|---:|---:|---:|",
    ]
    for size, limit in dict.fromkeys((r["size"], r["time_limit"]) for r in peer_rows):
        group = [ours.get((size, limit))] + [
            r for r in peer_rows if (r["size"], r["time_limit"]) == (size, limit)
        ]
        for r in group:
            if r is None:
                continue
            who = solver_of(r)
            threads = r.get("peer_threads") or r.get("workers") if who != ENGINE else r["workers"]
            lines.append(
                f"| {_f(r.get('tasks'))} | {r['time_limit']} | "
                f"{'**ours**' if who == ENGINE else who} | {threads or '-'} | {r['outcome']} | "
                f"{r.get('peer_status') or r.get('chosen') or '-'} | "
                f"{_f(r.get('undelivered_h'))} | {_f(r.get('late_days'))} | "
                f"{_f(r.get('finish_days'))} | {_f(r.get('cost'))} | {_f(r.get('assigned'))} | "
                f"{r.get('valid') or '-'} | {_f(r.get('violations'))} | {_f(r.get('dropped'))} | "
                f"{_f(r.get('repaired_undelivered_h'))} | {r.get('vs_engine') or '-'} | "
                f"{_f(r.get('ratio_to_engine'), '.3f')} | {_f(r.get('peak_rss_mb'))} | "
                f"{_f(r.get('wall_s'), '.1f')} |"
            )
    return "\n".join(lines)


def table(rows: list[dict[str, str]]) -> str:
    lines = [
        "| tasks | people | pairs | limit (s) | outcome | first plan (s) | compile + greedy (s) | "
        "undelivered (h) | greedy undelivered (h) | engine / greedy | late (wtd days) | gap | "
        "bound on undelivered (h) | bound from | peak RSS (MB) | wall (s) | strategy | "
        "LNS iter / impr | valid |",
        "|---:|---:|---:|---:|:--|---:|---:|---:|---:|---:|---:|---:|---:|:--|---:|---:|:--|---:|:-:|",
    ]
    for r in rows:
        cg = ""
        if r.get("compile_s") not in (None, "") and r.get("greedy_s") not in (None, ""):
            cg = f"{float(r['compile_s']) + float(r['greedy_s']):.2f}"
        lns = f"{r['lns_iterations']} / {r['lns_improvements']}" if r.get("lns_iterations") else "-"
        lines.append(
            f"| {_f(r.get('tasks'))} | {_f(r.get('people'))} | {_f(r.get('pairs'))} | "
            f"{r['time_limit']} | {r['outcome']} | {_f(r.get('first_plan_s'), '.2f')} | "
            f"{cg or '-'} | {_f(r.get('undelivered_h'))} | {_f(r.get('greedy_undelivered_h'))} | "
            f"{_f(r.get('ratio'), '.3f')} | {_f(r.get('late_days'))} | {_f(r.get('gap'), '.1%')} | "
            f"{_f(r.get('lb_undelivered_h'))} | {r.get('bound_from') or '-'} | "
            f"{_f(r.get('peak_rss_mb'))} | {_f(r.get('wall_s'), '.1f')} | "
            f"{r.get('strategy') or '-'} | {lns} | {r.get('valid') or '-'} |"
        )
    return "\n".join(lines)


def verdicts(rows: list[dict[str, str]]) -> list[str]:
    """The issue's targets against the rows at hand, one line each."""
    out = []
    for size, (first, gap, at, mem) in TARGETS.items():
        mine = [r for r in rows if r["size"] == str(size) and r["time_limit"] != GREEDY]
        if not mine:
            out.append(f"- {size:,} tasks: not run.")
            continue
        fp = [float(r["first_plan_s"]) for r in mine if r.get("first_plan_s")]
        span = f"{max(fp):.1f} s" if len(fp) < 2 else f"{min(fp):.1f}-{max(fp):.1f} s"
        parts = [
            f"first valid plan {span} over {len(fp)} run(s) (target <= {first:.0f} s: "
            f"{'met' if fp and max(fp) <= first else 'missed'})"
            if fp
            else f"no first plan reached (target <= {first:.0f} s: missed)"
        ]
        at_limit = [r for r in mine if float(r["time_limit"]) == at and r.get("gap")]
        if at_limit:
            g = float(at_limit[0]["gap"])
            parts.append(
                f"gap {g:.1%} at {at:.0f} s (target <= {gap:.0%}: {'met' if g <= gap else 'missed'})"
            )
        else:
            longest = max(
                (r for r in mine if r.get("gap")),
                key=lambda r: float(r["time_limit"]),
                default=None,
            )
            seen = (
                f"; at {float(longest['time_limit']):.0f} s it is {float(longest['gap']):.1%}"
                if longest
                else ""
            )
            parts.append(f"gap at {at:.0f} s not measured (target <= {gap:.0%}){seen}")
        if mem is not None:
            peak = max(float(r["peak_rss_mb"]) for r in mine)
            parts.append(
                f"peak memory {peak:,.0f} MB (target <= {mem:,.0f} MB: "
                f"{'met' if peak <= mem else 'missed'})"
            )
        out.append(f"- {size:,} tasks x {LADDER[size][0]:,} people: " + "; ".join(parts) + ".")
    return out


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
    CSV.parent.mkdir(parents=True, exist_ok=True)
    done: dict[str, dict[str, str]] = {}
    if CSV.exists():
        with CSV.open() as f:
            reader = csv.DictReader(f)
            old = list(reader)
        for row in old:
            key = _key(row["size"], row["time_limit"], row["seed"], row["workers"], solver_of(row))
            done[key] = row
        if reader.fieldnames != FIELDS:  # written by an earlier version: same rows, new columns
            with CSV.open("w", newline="") as f:
                w = csv.DictWriter(f, fieldnames=FIELDS, extrasaction="ignore")
                w.writeheader()
                w.writerows(old)
    new_file = not CSV.exists()
    wanted: list[str] = []
    with CSV.open("a", newline="") as f:
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
                key = _key(size, GREEDY if limit is None else limit, args.seed, args.workers)
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
                    derive(row, done.get(_key(size, GREEDY, args.seed, args.workers)))
                    if not row.get("first_plan_s"):
                        no_plan = str(limit)
                keep(key, row)
                print(f"  -> {row['outcome']}, {row['wall_s']} s", file=sys.stderr)
            # the peers, one after another, after the engine, at the same limits and workers
            for limit in sorted(limits):
                for peer in peers:
                    key = _key(size, limit, args.seed, args.workers, peer)
                    wanted.append(key)
                    if key in done and not (args.retry and done[key]["outcome"] != "ok"):
                        continue
                    print(f"size {size}, limit {limit}, peer {peer}:", file=sys.stderr)
                    row = measure(size, limit, peer)
                    compare(row, done.get(_key(size, limit, args.seed, args.workers)))
                    keep(key, row)
                    print(f"  -> {row['outcome']}, {row['wall_s']} s", file=sys.stderr)

    def order(r: dict[str, str]) -> tuple[int, float]:
        return int(r["size"]), -1.0 if r["time_limit"] == GREEDY else float(r["time_limit"])

    # every row of these sizes (and seed, workers), also limits run by another invocation
    mine = [
        r
        for r in done.values()
        if int(r["size"]) in sizes
        and r["seed"] == str(args.seed)
        and r["workers"] == str(args.workers)
    ]
    rows = sorted((r for r in mine if solver_of(r) == ENGINE), key=order)
    peer_rows = sorted(
        (r for r in mine if solver_of(r) != ENGINE),
        key=lambda r: (*order(r), PEERS.index(solver_of(r)) if solver_of(r) in PEERS else 99),
    )
    for r in rows:
        if r["time_limit"] != GREEDY:
            derive(r, done.get(_key(r["size"], GREEDY, r["seed"], r["workers"])))
    for r in peer_rows:
        compare(r, done.get(_key(r["size"], r["time_limit"], r["seed"], r["workers"])))
    every = rows + peer_rows
    shared = sorted({m for r in every for m in r.get("shared_with", "").split() if m})
    runs = sorted({r["date"] for r in every if r.get("date")})
    commands = list(dict.fromkeys(r["command"] for r in every if r.get("command")))
    this = f"python -m benchmarks.scale {' '.join(argv_used)}"
    if this not in commands:
        commands.append(this)
    header = (
        "Commands: "
        + "; ".join(f"`{c}`" for c in commands)
        + f". Machine: {os.cpu_count()} cores, {platform.machine()}, "
        f"Python {platform.python_version()}"
        + (
            f", shared with other engineers' benchmarks while it ran ({', '.join(shared)})"
            if shared
            else ""
        )
        + f"; date: {', '.join(runs) or dt.date.today().isoformat()}."
    )
    md = table(rows)
    if peer_rows:
        md += "\n\n" + PEERS_INTRO + "\n\n" + peer_table(rows, peer_rows)
    targets = "\n".join(verdicts(rows))
    print(header + "\n\n" + md + "\n\n" + targets + "\n\n" + notes(rows))
    if args.record:
        record(
            "scale",
            f"## Scale ladder\n\n{INTRO}\n\n{header}\n\n{md}\n\n"
            f"Targets against these rows:\n\n{targets}\n\n{notes(rows)}\n",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
