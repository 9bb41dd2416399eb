"""Timefold Solver (its Java engine) as a peer solver on generated portfolios.

The model is ours, written in Java against the Timefold 1.24 jars that ship inside the
``timefold==1.24.0b0`` wheel on PyPI (``benchmarks/timefold/src/allocpeer``). The wheel is a
dependency of the ``bench`` extra (so of ``dev``, which ``make test`` installs): this module
takes the jars from the installed package; only without it (a benchmark run in another
environment) does it download the wheel (``pip download`` into a cache directory outside the
repository, ``$ALLOCATOR_TIMEFOLD_CACHE`` or ``~/.cache/allocator-timefold``; jars are never
committed). It compiles the Java sources (cached by a hash of the sources), writes the instance
as JSON, runs ``java`` with the time limit, reads the assignment back, turns it into a contract
plan and runs our checker on it.

**What the Java program gets** (from :func:`solver_models.instance.compile_instance`, so the
peer sees the same pruning as the engine: skills, levels, exclusions, pins, windows):

* per person: availability (one character per working day) and capacity (percent) per day;
* per task that can be assigned at all: allocation, priority, undelivered units, earliest start
  ``est``, latest finish ``lft`` (horizon end or hard deadline), ``idx(D')`` of its deadline,
  fixed duration (team tasks and tasks needing nobody), pinned person / start, predecessors,
  the eligible people of each place, and per eligible person the duration and the cost units.

Tasks that cannot be assigned at all (``out_reasons``) are left out and counted unassigned.

**The model** (details in the Java sources' comments). Planning entities: a ``Job`` per task
with the variables ``start`` (a day of ``est..lft`` or the pinned start; unassigned allowed, so
it can always return something) and ``person`` (place 0, among the place's eligible people),
and a ``Seat`` per further place of a team task with the variable ``person``. A task's active
days are the contract's: from ``start`` on, the days on which every assignee is available, the
finish being the ``duration``-th, so tasks stretch over absences. Score: ``BendableLongScore``
with one hard level (capacity excess per person-day in percent, spans that do not fit, duplicate
people in a team, a pinned person missing, precedence) and four soft levels in the objective's
lexicographic order (``undelivered``, ``late``, ``finish``, ``cost``, exactly the terms of
``allocator.objective``), computed by an incremental score calculator.

**Solving** (issue 15, item 5: configured as an expert would). The first plan is a warm start
when one is given (our greedy's, :func:`first_plan`, ``warm_start=``), else the best of three
list schedules written for this model (``Construct.java``: precedence order by deadline, by
priority, or by the work a task and its successors carry; each task at the earliest-finishing
(start, people) that fits the capacity booked so far, team seats chosen with the start), else
(``construct=False``) Timefold's own first-fit construction heuristics. Then late acceptance
until the limit over change and swap moves of every variable, Ruin & Recreate of the starts
(community edition), a chain shift (a new start that pushes the successors, since starts are
absolute) and an eject-and-insert move (an unassigned job in, the jobs in its way out), or
with ``moves="default"`` Timefold's default local search. The JVM gets ``-Xmx`` (6 GB by
default); a run that outlives its limit by two minutes is killed and reported ``timeout``.

**Threads.** Timefold's community edition solves on one thread (``moveThreadCount`` is an
enterprise feature), so the peer runs with ``move_threads=1`` whatever ``workers`` the engine
gets; :func:`solve_timefold` records that.

**Time.** ``time_limit`` is the local search's: compiling the instance, the JSON, the JVM's
start, the first plan and building the solver come before it (as the engine's limit leaves out
compiling and its greedy); ``seconds`` is the whole wall time, the answer's ``construct_ms`` and
``setup_ms`` the parts. Compiling the Java is cached and not counted.

**Judging.** The plan is checked as it is. An invalid plan is reported invalid; the separate
*repaired* figures (``dropped`` tasks: every task the checker names, with its successors) are
reported alongside, never instead.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from allocator.checker import CheckResult, check
from allocator.domain import Plan, Portfolio
from allocator.objective import Terms, evaluate, plan_terms
from solver_models.instance import Instance, compile_instance
from solver_models.matching import fill_places
from solver_models.schedule import Schedule, to_plan

log = logging.getLogger(__name__)

TIMEFOLD_WHEEL = "timefold==1.24.0b0"
HERE = Path(__file__).resolve().parent
JAVA_SRC = HERE / "timefold" / "src" / "allocpeer"
LOGBACK = HERE / "timefold" / "logback.xml"


def cache_dir() -> Path:
    """Where the wheel, its jars and the compiled classes live (outside the repository)."""
    env = os.environ.get("ALLOCATOR_TIMEFOLD_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "allocator-timefold"


def java_available() -> bool:
    """Whether ``java`` and ``javac`` are on the PATH."""
    return shutil.which("java") is not None and shutil.which("javac") is not None


def installed_jars() -> Path | None:
    """The jars of the installed ``timefold==1.24.0b0`` package (the ``bench`` extra), if any."""
    try:
        dist = importlib.metadata.distribution("timefold")
    except importlib.metadata.PackageNotFoundError:
        return None
    if dist.version != TIMEFOLD_WHEEL.split("==")[1]:
        return None
    for file in dist.files or []:
        if file.name.startswith("timefold-solver-core-") and file.name.endswith(".jar"):
            return Path(str(dist.locate_file(file))).parent
    return None


def jars() -> Path:
    """The directory of Timefold's jars: the installed package's, else (benchmarks outside the
    ``bench`` extra) a wheel downloaded with pip on first use and unpacked into the cache."""
    installed = installed_jars()
    if installed is not None:
        return installed
    root = cache_dir()
    out = root / "jars"
    if out.is_dir() and any(out.glob("timefold-solver-core-*.jar")):
        return out
    root.mkdir(parents=True, exist_ok=True)
    wheels = sorted(root.glob("timefold-1.24.0b0-*.whl"))
    if not wheels:
        log.info("downloading %s into %s", TIMEFOLD_WHEEL, root)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", TIMEFOLD_WHEEL, "--no-deps", "-d", str(root)],
            check=True,
            capture_output=True,
        )
        wheels = sorted(root.glob("timefold-1.24.0b0-*.whl"))
    tmp = Path(tempfile.mkdtemp(dir=root))
    with zipfile.ZipFile(wheels[0]) as z:
        for name in z.namelist():
            if name.endswith(".jar"):
                (tmp / Path(name).name).write_bytes(z.read(name))
    if not any(tmp.glob("timefold-solver-core-*.jar")):
        raise RuntimeError(f"no timefold-solver-core jar in {wheels[0]}")
    try:
        tmp.rename(out)
    except OSError:  # another process unpacked it meanwhile
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _sources() -> list[Path]:
    return sorted(JAVA_SRC.glob("*.java"))


def classes() -> Path:
    """The compiled model (``javac -cp "<jars>/*"``), cached by a hash of the sources."""
    h = hashlib.sha1()
    for path in [*_sources(), LOGBACK]:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    out = cache_dir() / f"classes-{h.hexdigest()[:12]}"
    if (out / "allocpeer" / "Main.class").exists():
        return out
    lib = jars()
    cache_dir().mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=cache_dir()))
    subprocess.run(
        ["javac", "-nowarn", "-d", str(tmp), "-cp", f"{lib}/*", *map(str, _sources())],
        check=True,
        capture_output=True,
        text=True,
    )
    shutil.copy(LOGBACK, tmp / "logback.xml")
    try:
        tmp.rename(out)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def classpath() -> str:
    return f"{classes()}{os.pathsep}{jars()}/*"


# ---------------------------------------------------------------------------------------------
# the instance, out and back
# ---------------------------------------------------------------------------------------------
def export(inst: Instance) -> tuple[dict[str, Any], list[int]]:
    """The JSON instance of the Java model, and the engine task index of each exported task."""
    keep = [t.index for t in inst.tasks if t.possible]
    local = {i: k for k, i in enumerate(keep)}
    people = [
        {
            "avail": "".join("1" if a else "0" for a in inst.avail[p].tolist()),
            "cap": inst.cap[p].tolist(),
        }
        for p in range(len(inst.people))
    ]
    tasks = []
    for i in keep:
        t = inst.tasks[i]
        fixed = t.duration if (t.is_team or not t.places) else None
        tasks.append(
            {
                "id": t.id,
                "alloc": t.alloc,
                "prio": t.priority,
                "units": t.units,
                "est": t.est,
                "lft": min(t.lft, inst.n_days - 1),
                "deadline": t.deadline_idx,
                "dur": -1 if fixed is None else fixed,
                "pin_person": t.pin_person,
                "pin_start": t.pin_start,
                "preds": [local[u] for u in t.preds],
                "places": [list(pc) for pc in t.place_candidates],
                "cands": [[p, c.duration, c.cost] for p, c in sorted(t.candidates.items())],
            }
        )
    return {"n_days": inst.n_days, "people": people, "tasks": tasks}, keep


def finish_of(inst: Instance, task: int, start: int, people: tuple[int, ...]) -> int | None:
    """The finish of ``task`` started on ``start`` by ``people`` (None if the span cannot fit):
    the ``duration``-th day from ``start`` on which every assignee is available."""
    info = inst.tasks[task]
    if not people:
        dur = info.duration or 0
        f = start + dur - 1
        return f if dur >= 1 and f < inst.n_days else None
    dur = (info.duration or 0) if info.is_team else info.candidates[people[0]].duration
    block: npt.NDArray[np.bool_] = np.asarray(inst.avail[list(people), start:], dtype=bool)
    common: npt.NDArray[np.bool_] = np.asarray(block.all(axis=0), dtype=bool)
    if not common.size or not bool(common[0]):
        return None
    idx = np.flatnonzero(common)
    if len(idx) < dur:
        return None
    return start + int(idx[dur - 1])


def schedule_of(inst: Instance, answer: dict[str, Any], keep: list[int]) -> Schedule:
    """The Java answer (``[task, start, [people by place]]`` per assigned task) as a Schedule.

    The finish is computed from the start and the people (the contract's active days); a span
    that does not fit the horizon is kept at the horizon's last day, for the checker to judge.
    """
    sched = Schedule()
    for local, start, people in answer["assignments"]:
        t = keep[int(local)]
        who = tuple(int(p) for p in people)
        f = finish_of(inst, t, int(start), who)
        sched.add(t, int(start), inst.n_days - 1 if f is None else f, who)
    return sched


def answer_of(inst: Instance, plan: Plan, keep: list[int]) -> list[list[Any]]:
    """The plan's assignments in the Java answer's form (for the round-trip test)."""
    local = {inst.tasks[i].id: k for k, i in enumerate(keep)}
    day = {d: i for i, d in enumerate(inst.timeline.days)}
    out: list[list[Any]] = []
    for a in plan.assignments:
        out.append([local[a.task], day[a.start], [inst.person_index[p] for p in a.people]])
    return sorted(out)


# ---------------------------------------------------------------------------------------------
# judging a peer's plan (shared with benchmarks.pyjobshop_generated)
# ---------------------------------------------------------------------------------------------
@dataclass
class PeerOutcome:
    """A peer's plan and the checker's verdict on it, with the figures the benchmarks record."""

    solver: str
    status: str
    seconds: float
    plan: Plan | None
    valid: bool | None
    violations: int = 0
    terms: Terms | None = None
    #: tasks taken out of the peer's plan before judging (its conversion or a repair), and why
    dropped: int = 0
    dropped_why: str = ""
    #: the plan with every task the checker names (and its successors) taken out, when invalid
    repaired_terms: Terms | None = None
    repaired_valid: bool | None = None
    stats: dict[str, Any] = field(default_factory=dict)


def _successors_closure(portfolio: Portfolio, ids: Iterable[str]) -> set[str]:
    succ: dict[str, list[str]] = {}
    for t in portfolio.tasks_to_plan:
        for p in t.predecessors:
            succ.setdefault(p, []).append(t.id)
    out: set[str] = set()
    stack = list(ids)
    while stack:
        i = stack.pop()
        if i not in out:
            out.add(i)
            stack.extend(succ.get(i, ()))
    return out


def drop_tasks(inst: Instance, sched: Schedule, ids: Iterable[str]) -> tuple[Schedule, int]:
    """``sched`` without the tasks ``ids`` and their successors (transitively); how many went."""
    gone = _successors_closure(inst.portfolio, ids)
    out = Schedule()
    n = 0
    for t in sorted(sched.start):
        if inst.tasks[t].id in gone:
            n += 1
            continue
        out.add(t, sched.start[t], sched.finish[t], sched.people[t])
    return out, n


def judge(
    inst: Instance,
    sched: Schedule,
    *,
    solver: str,
    status: str,
    seconds: float,
    stats: dict[str, Any],
    dropped: int = 0,
    dropped_why: str = "",
) -> PeerOutcome:
    """Turn a peer's schedule into a plan, check it, and (only alongside) repair it."""
    portfolio = inst.portfolio
    plan = _plan(inst, sched, solver, seconds)
    result: CheckResult = check(portfolio, plan)
    out = PeerOutcome(
        solver=solver,
        status=status,
        seconds=round(seconds, 2),
        plan=plan,
        valid=result.valid,
        violations=len(result.violations),
        terms=evaluate(portfolio, plan),
        dropped=dropped,
        dropped_why=dropped_why,
        stats=stats,
    )
    if not result.valid:
        named = {v.task for v in result.violations if v.task}
        fixed, n = drop_tasks(inst, sched, named)
        fixed_plan = _plan(inst, fixed, solver, seconds)
        out.repaired_terms = evaluate(portfolio, fixed_plan)
        out.repaired_valid = check(portfolio, fixed_plan).valid
        out.stats["repair_dropped"] = n
    return out


def _plan(inst: Instance, sched: Schedule, solver: str, seconds: float) -> Plan:
    plan = to_plan(
        inst,
        sched,
        status="feasible",
        objective=None,
        lower_bound=None,
        solve_seconds=round(seconds, 2),
        solver=solver,
    )
    return replace(plan, objective=plan_terms(inst.portfolio, plan))


# ---------------------------------------------------------------------------------------------
# the run
# ---------------------------------------------------------------------------------------------
def first_plan(portfolio: Portfolio) -> Plan:
    """Our engine's first plan: its greedy baseline (``SolveParams(greedy_only=True)``, every
    greedy rule, the best kept), the warm start both peers can be given."""
    from allocator.engine import SolveParams, solve

    return solve(portfolio, SolveParams(greedy_only=True, workers=1, seed=0)).plan


def initial_of(inst: Instance, plan: Plan, keep: list[int]) -> list[list[Any]]:
    """``plan`` as the Java model's ``initial`` rows (``[task, start, [people by place]]``): the
    people of a team task put one per place (each among the place's eligible people)."""
    local = {inst.tasks[i].id: k for k, i in enumerate(keep)}
    day = {d: i for i, d in enumerate(inst.timeline.days)}
    out: list[list[Any]] = []
    for a in plan.assignments:
        if a.task not in local:
            continue
        info = inst.tasks[keep[local[a.task]]]
        people = [inst.person_index[p] for p in a.people]
        if info.place_candidates:
            placed = fill_places(people, info.place_candidates)
            if placed is None:
                continue
            people = placed
        out.append([local[a.task], day[a.start], people])
    return sorted(out)


def solve_timefold(
    portfolio: Portfolio,
    time_limit: float,
    *,
    seed: int = 0,
    move_threads: int = 1,
    java_heap: str | None = "6g",
    workdir: Path | None = None,
    warm_start: Plan | None = None,
    construct: bool = True,
    moves: str = "expert",
) -> PeerOutcome:
    """Solve ``portfolio`` with the Timefold model within ``time_limit`` seconds; check the plan.

    ``time_limit`` bounds the Java program's first plan and search (counted from when it has
    read the instance, as the engine's limit leaves out compiling and its greedy); the wall time
    (with compiling the instance, the JSON and the JVM's start) is ``seconds``. ``warm_start``:
    a plan to start the local search from (our greedy's, :func:`first_plan`); else, with
    ``construct``, the Java list schedule of ``Construct.java``, without it Timefold's own
    first-fit construction heuristics. ``moves``: ``"expert"`` (the configured move mix) or
    ``"default"`` (Timefold's default local search). ``move_threads`` > 1 asks Timefold for
    ``moveThreadCount`` (an enterprise feature: the community jars refuse it), so the default is
    1. A run that outlives its limit by two minutes is killed and reported as an error.
    """
    cp = classpath()
    t0 = time.monotonic()
    inst = compile_instance(portfolio)
    data, keep = export(inst)
    tmp = Path(tempfile.mkdtemp(dir=workdir))
    try:
        src, dst = tmp / "instance.json", tmp / "answer.json"
        data.update(
            time_limit_ms=max(500, int(time_limit * 1000)),
            seed=seed,
            move_threads=move_threads,
            construct=construct,
            moves=moves,
        )
        if warm_start is not None:
            data["initial"] = initial_of(inst, warm_start, keep)
        src.write_text(json.dumps(data, separators=(",", ":")))
        cmd = ["java", "-XX:+UseParallelGC", "-cp", cp]
        if java_heap:
            cmd.insert(1, f"-Xmx{java_heap}")
        cmd += ["allocpeer.Main", str(src), str(dst)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=time_limit + 120)
        except subprocess.TimeoutExpired as exc:
            seconds = time.monotonic() - t0
            err = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
            log.warning("timefold killed after %.0f s", seconds)
            return PeerOutcome(
                solver="timefold",
                status="timeout",
                seconds=round(seconds, 2),
                plan=None,
                valid=None,
                stats={"stderr": err[-2000:]},
            )
        seconds = time.monotonic() - t0
        if proc.returncode != 0 or not dst.exists():
            log.warning("timefold failed (exit %s): %s", proc.returncode, proc.stderr[-2000:])
            return PeerOutcome(
                solver="timefold",
                status=f"error (exit {proc.returncode})",
                seconds=round(seconds, 2),
                plan=None,
                valid=None,
                stats={"stderr": proc.stderr[-2000:]},
            )
        answer = json.loads(dst.read_text())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    sched = schedule_of(inst, answer, keep)
    stats = {k: v for k, v in answer.items() if k != "assignments"}
    stats["move_threads"] = move_threads
    stats["log"] = [ln for ln in proc.stderr.splitlines() if "ended" in ln or "started" in ln]
    stats["answer"] = answer["assignments"]
    stats["keep"] = keep
    return judge(
        inst,
        sched,
        solver="timefold",
        status="feasible" if answer.get("feasible") else "infeasible score",
        seconds=seconds,
        stats=stats,
    )
