"""PyJobShop 0.0.9 (OR-Tools back-end) as a peer solver on generated portfolios.

The model is built from the compiled instance (:func:`solver_models.instance.compile_instance`,
so the peer gets the engine's pruning: skills, levels, exclusions, pins, windows) through
PyJobShop's public ``Model`` API only; time is the working-day index.

* **People are machines** (unary resources). A person's absences (the maximal runs of working
  days on which they are away or have less than 100 % capacity) are fixed tasks on their
  machine (``ABSENCES = "block"``, the default), so no task runs over them.
* **A one-person task** is a PyJobShop task with one mode per eligible person (duration: that
  person's duration).
* **A team task** is one PyJobShop task per place, each with a mode per eligible person of the
  place (the fixed duration); the places start together (``start_at_start``) and use
  different people (``different_resources`` on every pair). A pinned person is the only mode
  of the place with the fewest candidates they can fill.
* **A task needing nobody** is a task with one mode using no resource.
* **Optional work** (issue 15, item 5): every task is optional (``optional=True``), ends by
  its latest finish (``latest_end``: the calendar's end or a hard deadline), and has an
  optional *stand-in* task on no resource at the calendar's end, in a job of its own whose
  ``weight`` is the task's undelivered units and whose ``due_date`` is the calendar's end;
  exactly one of the two is present (``select_exactly_one``), so the stand-in's job is tardy
  exactly when the task is left out. The places of a team task are all present or none
  (``select_all_or_none``); a task is present only if its predecessors are
  (``select_at_least_one`` with the task as condition: PyJobShop's precedence binds only
  present tasks); all-or-nothing projects are all or none of their tasks.
* earliest start: ``earliest_start`` (a pinned start: ``earliest_start = latest_start``);
  precedence: ``end_before_start`` on the first places; each task is a job of
  ``weight = priority`` and ``due_date = idx(D') + 1`` (the calendar's end when it has none).
* **Objective**: weighted tardy jobs (``weight_tardy_jobs=1``): the undelivered units of the
  tasks left out (the engine's first term, exactly) plus the priority of each task finishing
  after its deadline (the ``late`` term counted per task, not per day). Weighted tardiness and
  flow time (the engine's ``late`` days and ``finish``) are left out: with the stand-ins'
  weights (units, up to tens of thousands) on them, OR-Tools rejects the model (its variables
  are bounded by 2**42, and the objective could overflow).
* **Warm start** (``warm_start=``): our greedy plan as ``initial_solution``; the tasks it
  assigns that this model can hold there (people on consecutive working days, no two tasks of
  one person overlapping: machines are unary, in precedence order, whole projects whole) are
  present where the plan puts them, the rest absent with their stand-ins present.

**What it cannot model, and how that is handled.**

* *Partial allocation*: a machine runs one task at a time, so a task at 50 % takes the whole
  person (valid, wastes capacity).
* *Reduced capacity*: days with less than 100 % are breaks (valid, wastes capacity).
* *Stretching over absences*: PyJobShop 0.0.9 can model it (machine breaks with
  ``allow_breaks=True``; ``ABSENCES = "breaks"`` here, one-person tasks only: a team's places
  would each stretch over their own person's breaks, not the team's), but on the 200-task
  portfolio OR-Tools found no first solution in 10 s or 30 s that way (every mode gets its own
  break-partition variables, and part-timers have a break every week), against a first
  solution within seconds with absences as fixed tasks. So by default no task stretches (a
  task runs on consecutive working days its people are all present; valid, but long tasks of
  part-timers and people with time off fit less often).
* *A pinned start* the model cannot honour (a break that day, or over the span when tasks do
  not stretch) leaves the task and its successors out (``left_out`` in the stats).
* *Cost* (the last objective term) is not in the objective.

Tasks the compiler finds impossible are left out (unassigned), as the engine does.
"""

from __future__ import annotations

import itertools
import logging
import time
from typing import Any

import numpy as np
import numpy.typing as npt

from allocator.domain import Plan, Portfolio
from benchmarks.timefold_peer import PeerOutcome, judge
from solver_models.instance import Instance, TaskInfo, compile_instance
from solver_models.matching import fill_places
from solver_models.schedule import Schedule

log = logging.getLogger(__name__)

#: ``"block"``: a person's absences are fixed tasks on their machine (no task stretches);
#: ``"breaks"``: they are machine breaks and one-person tasks stretch over them
#: (``allow_breaks``), the contract's rule, on which OR-Tools found no first plan in 30 s at
#: 200 tasks (see the module docstring)
ABSENCES = "block"


def breaks_of(inst: Instance, p: int) -> list[tuple[int, int]]:
    """Half-open runs of days ``[a, b)`` on which person ``p`` is away or below 100 %."""
    off = (~inst.avail[p]) | (inst.cap[p] < 100)
    out: list[tuple[int, int]] = []
    start: int | None = None
    for d, o in enumerate(off.tolist()):
        if o and start is None:
            start = d
        elif not o and start is not None:
            out.append((start, d))
            start = None
    if start is not None:
        out.append((start, len(off)))
    return out


def _pin_fits(inst: Instance, t: TaskInfo, off: npt.NDArray[np.bool_]) -> bool:
    """Whether a task pinned to a start can start there in this model (always, if not pinned):
    a one-person task needs a candidate without a break that day (and, not stretching, on its
    whole span); each place of a team task a candidate without a break on its whole span."""
    s = t.pin_start
    if s is None or not t.places:
        return True
    for pc in t.place_candidates:
        fits = False
        for p in pc:
            dur = 1 if (ABSENCES == "breaks" and not t.is_team) else t.candidates[p].duration
            if s + dur <= inst.n_days and not off[p, s : s + dur].any():
                fits = True
                break
        if not fits:
            return False
    return True


def _successors(inst: Instance, ids: list[str]) -> set[str]:
    out: set[str] = set()
    stack = list(ids)
    while stack:
        i = stack.pop()
        if i not in out:
            out.add(i)
            stack.extend(inst.tasks[j].id for j in inst.tasks[inst.task_index[i]].succs)
    return out


def solve_pyjobshop_generated(
    portfolio: Portfolio,
    time_limit: float,
    *,
    workers: int = 2,
    seed: int = 0,
    warm_start: Plan | None = None,
    params: dict[str, Any] | None = None,
) -> PeerOutcome:
    """Build the PyJobShop model of ``portfolio``, solve it with OR-Tools, convert, check.

    ``warm_start``: a plan (our greedy's, :func:`benchmarks.timefold_peer.first_plan`) given to
    OR-Tools as ``initial_solution`` (hints): its tasks that this model can hold as they are
    (people present on consecutive working days) present, the others absent. ``params``: further
    CP-SAT parameters (the tests fix the variables to the hint with them).
    """
    import pyjobshop

    t0 = time.monotonic()
    inst = compile_instance(portfolio)
    n = inst.n_days
    model = pyjobshop.Model()
    machines = []
    for p, person in enumerate(inst.people):
        gaps = breaks_of(inst, p)
        m = model.add_machine(breaks=gaps if ABSENCES == "breaks" else None, name=person.id)
        machines.append(m)
        if ABSENCES == "block":
            for a, b in gaps:
                x = model.add_task(
                    earliest_start=a, latest_start=a, earliest_end=b, latest_end=b, name="away"
                )
                model.add_mode(x, m, b - a)
    parts: dict[int, list[Any]] = {}
    off = (~inst.avail) | (inst.cap < 100)
    left_out = [t.id for t in inst.tasks if t.possible and not _pin_fits(inst, t, off)]
    skip = _successors(inst, left_out)
    # per task: optional, ending by its latest finish; a task left out makes its "undone"
    # stand-in present (one exactly of the two), a job of weight = the task's undelivered units
    undone: dict[int, Any] = {}
    for t in inst.tasks:
        if not t.possible or t.id in skip:
            continue
        due = n if t.deadline_idx is None else t.deadline_idx + 1
        job = model.add_job(weight=t.priority, due_date=max(0, due), name=t.id)
        first = t.pin_start if t.pin_start is not None else t.est
        last = first if t.pin_start is not None else min(t.lft, n - 1)
        end_by = min(t.lft, n - 1) + 1

        def task(
            name: str,
            breaks: bool,
            job: Any = job,
            first: int = first,
            last: int = last,
            end_by: int = end_by,
        ) -> Any:
            return model.add_task(
                job,
                earliest_start=first,
                latest_start=last,
                latest_end=end_by,
                optional=True,
                allow_breaks=breaks,
                name=name,
            )

        mine: list[Any] = []
        if not t.places:
            x = task(t.id, False)
            model.add_mode(x, [], t.duration or 0)
            mine.append(x)
        elif not t.is_team:
            x = task(t.id, ABSENCES == "breaks")
            for p in t.place_candidates[0]:
                model.add_mode(x, machines[p], t.candidates[p].duration)
            mine.append(x)
        else:
            pcs = [list(pc) for pc in t.place_candidates]
            if t.pin_person is not None:
                spots = [k for k, pc in enumerate(pcs) if t.pin_person in pc]
                if spots:
                    k = min(spots, key=lambda k: len(pcs[k]))
                    pcs[k] = [t.pin_person]
            for k, pc in enumerate(pcs):
                x = task(f"{t.id}#{k}", False)
                for p in pc:
                    model.add_mode(x, machines[p], t.duration or 0)
                mine.append(x)
            for other in mine[1:]:
                model.add_start_at_start(mine[0], other)
            for a, b in itertools.combinations(mine, 2):
                model.add_different_resources(a, b)
            model.add_select_all_or_none(mine)
        stand_in_job = model.add_job(weight=t.units, due_date=n, name=f"{t.id}:undone")
        stand_in = model.add_task(
            stand_in_job,
            earliest_start=n,
            latest_start=n,
            latest_end=n + 1,
            optional=True,
            name=f"{t.id}:undone",
        )
        model.add_mode(stand_in, [], 1)
        model.add_select_exactly_one([mine[0], stand_in])
        undone[t.index] = stand_in
        parts[t.index] = mine
    for t in inst.tasks:
        if t.index in parts:
            for u in t.preds:
                if u in parts:
                    model.add_end_before_start(parts[u][0], parts[t.index][0])
                    # a task is planned only if its predecessors are (precedence holds only
                    # between present tasks in PyJobShop)
                    model.add_select_at_least_one([parts[u][0]], condition_task=parts[t.index][0])
                else:
                    model.add_select_exactly_one([undone[t.index]])
    for tasks in _whole_projects(inst).values():
        firsts = [parts[i][0] for i in tasks if i in parts]
        if len(firsts) > 1:
            model.add_select_all_or_none(firsts)
    # tardy jobs only: a weight of ``units`` on the flow-time or tardiness terms (whose
    # variables OR-Tools bounds by 2**42) fails its model's overflow check
    model.set_objective(weight_tardy_jobs=1)
    hints = None if warm_start is None else _hints(inst, model, parts, undone, warm_start, off)
    build_s = time.monotonic() - t0
    result = model.solve(
        "ortools",
        time_limit=max(0.5, time_limit - build_s),
        display=False,
        num_workers=workers,
        random_seed=seed,
        initial_solution=hints,
        **(params or {}),
    )
    seconds = time.monotonic() - t0
    status = str(result.status.value)
    stats: dict[str, Any] = {
        "build_s": round(build_s, 2),
        "left_out": len(skip),
        "modes": len(model.modes),
        "pj_tasks": len(model.tasks),
        "pj_objective": result.objective,
        "warm_start": warm_start is not None,
    }
    sched = Schedule()
    if status in ("Optimal", "Feasible"):
        index = {id(x): i for i, x in enumerate(model.tasks)}
        sol = result.best
        for t_index, mine in parts.items():
            sts = [sol.tasks[index[id(x)]] for x in mine]
            if not sts[0].present:
                continue
            people = tuple(st.resources[0] for st in sts) if inst.tasks[t_index].places else ()
            sched.add(t_index, sts[0].start, sts[0].end - 1, people)
    return judge(inst, sched, solver="pyjobshop", status=status, seconds=seconds, stats=stats)


def _whole_projects(inst: Instance) -> dict[str, list[int]]:
    """All-or-nothing project id -> its tasks to plan (indices, in task order)."""
    whole = {p.id for p in inst.portfolio.projects if p.whole}
    out: dict[str, list[int]] = {}
    for info in inst.tasks:
        if info.task.project in whole:
            out.setdefault(info.task.project, []).append(info.index)
    return out


def _topological(inst: Instance, parts: dict[int, list[Any]]) -> list[int]:
    """The tasks of ``parts`` with every predecessor before its successors."""
    indeg = {i: sum(1 for u in inst.tasks[i].preds if u in parts) for i in parts}
    ready = sorted(i for i, d in indeg.items() if d == 0)
    out: list[int] = []
    while ready:
        i = ready.pop()
        out.append(i)
        for w in inst.tasks[i].succs:
            if w in indeg:
                indeg[w] -= 1
                if indeg[w] == 0:
                    ready.append(w)
    return out


def _hints(
    inst: Instance,
    model: Any,
    parts: dict[int, list[Any]],
    undone: dict[int, Any],
    plan: Plan,
    off: npt.NDArray[np.bool_],
) -> Any:
    """``plan`` as a PyJobShop ``Solution`` of ``model`` (OR-Tools takes it as hints): a task
    the plan assigns is present where the plan puts it when this model can hold it there (every
    person on a machine of that place, present on each day of the span: no stretching), else
    absent with its stand-in present; the absences' fixed tasks where they are."""
    import pyjobshop

    data = model.data()
    index = {id(x): i for i, x in enumerate(model.tasks)}
    modes: dict[tuple[int, int], int] = {}
    first_mode: dict[int, int] = {}
    for m, mode in enumerate(data.modes):
        first_mode.setdefault(mode.task, m)
        modes[(mode.task, mode.resources[0] if mode.resources else -1)] = m
    day = {d: i for i, d in enumerate(inst.timeline.days)}
    out: list[Any] = [None] * len(model.tasks)
    for k, x in enumerate(model.tasks):
        if x.name == "away":  # fixed: earliest_start == latest_start
            m = first_mode[k]
            e = x.latest_end
            out[k] = pyjobshop.ScheduledTask(m, list(data.modes[m].resources), x.earliest_start, e)
    # PyJobShop's own form of an absent task (mode 0, which an absent task must not select)
    absent = pyjobshop.ScheduledTask(0, [], 0, 0, present=False)
    by_task = {a.task: a for a in plan.assignments}
    busy: set[tuple[int, int]] = set()  # (person, day) held by a hinted task
    keep: dict[int, tuple[int, int, list[tuple[int, int]]]] = {}
    for i in _topological(inst, parts):
        info = inst.tasks[i]
        a = by_task.get(info.id)
        if a is None or any(u not in keep for u in info.preds):
            continue
        s, f = day[a.start], day[a.finish]
        people = [inst.person_index[p] for p in a.people]
        who = fill_places(people, [list(pc) for pc in info.place_candidates]) if people else []
        if who is None or (info.places and len(who) != len(parts[i])):
            continue
        placed: list[tuple[int, int]] = []
        for x, p in zip(parts[i], who or [-1], strict=False):
            mode_idx = modes.get((index[id(x)], p))
            if mode_idx is None or (p >= 0 and off[p, s : f + 1].any()):
                break
            if p >= 0 and any((p, d) in busy for d in range(s, f + 1)):
                break  # a unary machine: no sharing at partial allocation
            placed.append((index[id(x)], mode_idx))
        else:
            keep[i] = (s, f, placed)
            busy.update((p, d) for p in who for d in range(s, f + 1))
    # all-or-nothing projects (and, transitively, the successors of what they lose)
    changed = True
    while changed:
        changed = False
        for tasks in _whole_projects(inst).values():
            mine = [i for i in tasks if i in parts]
            if any(i in keep for i in mine) and not all(i in keep for i in mine):
                for i in mine:
                    keep.pop(i, None)
                changed = True
        for i in parts:
            if i in keep and any(u not in keep for u in inst.tasks[i].preds):
                keep.pop(i)
                changed = True
    for i, mine in parts.items():
        for x in mine:
            k = index[id(x)]
            out[k] = absent
        u = index[id(undone[i])]
        if i not in keep:
            out[u] = pyjobshop.ScheduledTask(first_mode[u], [], inst.n_days, inst.n_days + 1)
        else:
            s, f, placed = keep[i]
            out[u] = absent
            for k, m in placed:
                res = list(data.modes[m].resources)
                out[k] = pyjobshop.ScheduledTask(m, res, s, f + 1)
    for k, x in enumerate(out):
        if x is None:  # a task left out of the model's parts (its pin cannot be kept)
            out[k] = absent
    return pyjobshop.Solution(data, out)
