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
* earliest start: ``earliest_start`` (a pinned start: ``earliest_start = latest_start``);
  precedence: ``end_before_start`` on the first places; priority and deadline: each task is
  a job of ``weight = priority`` and ``due_date = idx(D') + 1`` (the calendar's end when it has
  no deadline).
* **Objective**: ``100 x total weighted tardiness + total weighted flow time`` (flow time of a
  job = its end, so the second term is exactly the engine's ``finish`` term; tardiness is the
  ``late`` term plus, for tasks that run past the calendar's end, how far).

**What it cannot model, and how that is handled.**

* *Optional work priced by its size* (the ``undelivered`` term): PyJobShop's objectives have no
  term for leaving a task out, so every task is mandatory and the end of the horizon is left
  open; tasks that finish after their latest finish (the calendar's end, or a hard deadline)
  are then taken out of the plan with their successors, **by this driver**, and counted
  undelivered (the ``dropped`` column). The objective pushes towards the horizon only through
  tardiness.
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

from allocator.domain import Portfolio
from benchmarks.timefold_peer import PeerOutcome, drop_tasks, judge
from solver_models.instance import Instance, TaskInfo, compile_instance
from solver_models.schedule import Schedule

log = logging.getLogger(__name__)

#: weight of total weighted tardiness against total weighted flow time
TARDINESS_WEIGHT = 100
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
    portfolio: Portfolio, time_limit: float, *, workers: int = 2, seed: int = 0
) -> PeerOutcome:
    """Build the PyJobShop model of ``portfolio``, solve it with OR-Tools, convert, check."""
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
    # the open end of the horizon: room for every task after the calendar, one after another
    open_end = n + sum(
        max((c.duration for c in t.candidates.values()), default=t.duration or 0)
        for t in inst.tasks
        if t.possible
    )
    for t in inst.tasks:
        if not t.possible or t.id in skip:
            continue
        due = n if t.deadline_idx is None else t.deadline_idx + 1
        job = model.add_job(weight=t.priority, due_date=max(0, due), name=t.id)
        first = t.pin_start if t.pin_start is not None else t.est

        last = first if t.pin_start is not None else open_end

        def task(
            name: str, breaks: bool, job: Any = job, first: int = first, last: int = last
        ) -> Any:
            return model.add_task(
                job,
                earliest_start=first,
                latest_start=last,
                latest_end=open_end + n,
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
        parts[t.index] = mine
    for t in inst.tasks:
        if t.index in parts:
            for u in t.preds:
                model.add_end_before_start(parts[u][0], parts[t.index][0])
    model.set_objective(weight_total_tardiness=TARDINESS_WEIGHT, weight_total_flow_time=1)
    build_s = time.monotonic() - t0
    result = model.solve(
        "ortools",
        time_limit=max(0.5, time_limit - build_s),
        display=False,
        num_workers=workers,
        random_seed=seed,
    )
    seconds = time.monotonic() - t0
    status = str(result.status.value)
    stats: dict[str, Any] = {
        "build_s": round(build_s, 2),
        "left_out": len(skip),
        "modes": len(model.modes),
        "pj_tasks": len(model.tasks),
        "pj_objective": result.objective,
    }
    sched = Schedule()
    if status in ("Optimal", "Feasible"):
        index = {id(x): i for i, x in enumerate(model.tasks)}
        sol = result.best
        for t_index, mine in parts.items():
            sts = [sol.tasks[index[id(x)]] for x in mine]
            people = tuple(st.resources[0] for st in sts) if inst.tasks[t_index].places else ()
            sched.add(t_index, sts[0].start, sts[0].end - 1, people)
    late = [
        inst.tasks[t].id for t in sched.start if sched.finish[t] > min(inst.tasks[t].lft, n - 1)
    ]
    sched, dropped = drop_tasks(inst, sched, late)
    return judge(
        inst,
        sched,
        solver="pyjobshop",
        status=status,
        seconds=seconds,
        stats=stats,
        dropped=dropped,
        dropped_why="finish after the calendar's end or a hard deadline (no optional work)"
        if dropped
        else "",
    )
