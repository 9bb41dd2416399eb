"""Scale ladder, report: the tables, the targets' verdicts and the notes written into
``benchmarks/RESULTS.md`` (between the ``scale`` markers), every figure computed from the rows.

The end of run -> rows -> report; ``benchmarks.summarize`` renders these blocks again from the
CSV to check RESULTS.md.
"""

from __future__ import annotations

import datetime as dt
import os
import platform

from benchmarks.scale_rows import ENGINE, GREEDY, LADDER, TARGETS, solver_of


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
"first plan" is the `elapsed` of the first `SolveProgress` whose stage starts with `greedy` (counted
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
**The peer rows below were made with the peers as first shipped** (the configuration this
paragraph describes); a review found that configuration weak, and the section "Peers as an
expert would configure them (issue 15)" gives the reconfigured peers' figures (Timefold with
its own list-schedule construction, team seats chosen with the start, extra moves and its limit
covering only its search; PyJobShop with optional work and our first term as its objective),
which `--peers` now runs. **Peers** (`--peers`), run after the engine on the same generated portfolio, at the same time
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


def header(every: list[dict[str, str]], this: str) -> str:
    """The commands, machine and dates behind ``every`` row shown (``this``: the invocation
    running now, named also when it added no row)."""
    shared = sorted({m for r in every for m in r.get("shared_with", "").split() if m})
    runs = sorted({r["date"] for r in every if r.get("date")})
    commands = list(dict.fromkeys(r["command"] for r in every if r.get("command")))
    if this not in commands:
        commands.append(this)
    return (
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


def tables(rows: list[dict[str, str]], peer_rows: list[dict[str, str]]) -> str:
    """The engine's table, then (when there are peer rows) the peers' introduction and table."""
    md = table(rows)
    if peer_rows:
        md += "\n\n" + PEERS_INTRO + "\n\n" + peer_table(rows, peer_rows)
    return md


def summary(rows: list[dict[str, str]], peer_rows: list[dict[str, str]], head: str) -> str:
    """What a run prints: the header, the tables, the targets' verdicts and the notes."""
    targets = "\n".join(verdicts(rows))
    return head + "\n\n" + tables(rows, peer_rows) + "\n\n" + targets + "\n\n" + notes(rows)


def section(rows: list[dict[str, str]], peer_rows: list[dict[str, str]], head: str) -> str:
    """The RESULTS.md section (``--record``)."""
    targets = "\n".join(verdicts(rows))
    return (
        f"## Scale ladder\n\n{INTRO}\n\n{head}\n\n{tables(rows, peer_rows)}\n\n"
        f"Targets against these rows:\n\n{targets}\n\n{notes(rows)}\n"
    )
