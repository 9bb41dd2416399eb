"""PyJobShop (OR-Tools back-end) as a peer solver on the public benchmarks.

The peer gets the same problem as the engine: it is built from the :class:`Portfolio` that
``allocator.readers.read_benchmark`` returns, through PyJobShop's public ``Model`` API only.

* ``renewable`` formulation (PSPLIB RCPSP): each skill pool (the ``c`` interchangeable people of
  a PSPLIB resource) is one renewable resource of capacity ``c``; a task has one mode that uses
  ``count`` units of each resource it requires. This is PyJobShop's native RCPSP model.
* ``places`` formulation (MSPSP, iMOPSE): every person is a machine (unary). A task with places
  becomes one PyJobShop task per place, whose modes are "done by person p" for each eligible
  ``p`` (same duration); the places of one task start together (``start_at_start``) and use
  different people (``different_resources`` on every pair). Precedence links the first places.
  This expresses MSPSP exactly (a worker contributes one skill to an activity, at most one
  activity at a time) and iMOPSE (one place per task).

The peer's schedule is turned back into an engine :class:`Schedule` (for the renewable model,
units are handed to people by a left-to-right interval colouring, always possible when the
resource profile fits) and judged by the same independent checker as our plans.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass, replace

from allocator.checker import check
from allocator.domain import Portfolio
from allocator.objective import makespan, plan_terms
from solver_models.instance import Instance, compile_instance
from solver_models.schedule import Schedule, to_plan


@dataclass(frozen=True)
class PeerResult:
    makespan: int | None
    lower_bound: int | None
    status: str
    seconds: float
    valid: bool | None


def _horizon(inst: Instance) -> int:
    return int(inst.n_days)


def solve_pyjobshop(
    portfolio: Portfolio, formulation: str, time_limit: float, workers: int, seed: int
) -> PeerResult:
    """Build the PyJobShop model of ``portfolio``, solve it with OR-Tools, check its plan."""
    import pyjobshop

    t0 = time.monotonic()
    inst = compile_instance(portfolio)
    horizon = _horizon(inst)
    model = pyjobshop.Model()
    # per engine task: the PyJobShop tasks of its places (first one carries precedence)
    pj_tasks: dict[int, list[pyjobshop.Task]] = {}
    pool_people: dict[str, list[int]] = {}
    if formulation == "renewable":
        for p, person in enumerate(inst.people):
            for skill in person.skills:
                pool_people.setdefault(skill, []).append(p)
        pools = {
            skill: model.add_renewable(len(ps), name=skill)
            for skill, ps in sorted(pool_people.items())
        }
        for t in inst.tasks:
            task = model.add_task(latest_end=horizon, name=t.id)
            d = t.duration or 0
            need: dict[str, int] = {}
            for place in t.places:
                need[place.skill] = need.get(place.skill, 0) + 1
            model.add_mode(
                task,
                [pools[s] for s in need],
                d,
                [need[s] for s in need],
            )
            pj_tasks[t.index] = [task]
    elif formulation == "places":
        machines = [model.add_machine(name=p.id) for p in inst.people]
        for t in inst.tasks:
            fixed = t.duration  # None: the duration depends on the person
            parts: list[pyjobshop.Task] = []
            if not t.places:
                task = model.add_task(latest_end=horizon, name=t.id)
                model.add_mode(task, [], fixed or 0)
                parts.append(task)
            for k, cands in enumerate(t.place_candidates):
                task = model.add_task(latest_end=horizon, name=f"{t.id}#{k}")
                for p in cands:
                    dur = fixed if fixed is not None else t.candidates[p].duration
                    model.add_mode(task, machines[p], dur)
                parts.append(task)
            for other in parts[1:]:
                model.add_start_at_start(parts[0], other)
            for a, b in itertools.combinations(parts, 2):
                model.add_different_resources(a, b)
            pj_tasks[t.index] = parts
    else:
        raise ValueError(f"unknown formulation {formulation!r}")
    for t in inst.tasks:
        for u in t.preds:
            model.add_end_before_start(pj_tasks[u][0], pj_tasks[t.index][0])
    model.set_objective(weight_makespan=1)
    result = model.solve(
        "ortools",
        time_limit=max(0.1, time_limit - (time.monotonic() - t0)),
        display=False,
        num_workers=workers,
        random_seed=seed,
    )
    seconds = time.monotonic() - t0
    status = result.status.value
    if status not in ("Optimal", "Feasible"):
        return PeerResult(None, None, status, round(seconds, 2), None)
    sched = _schedule(inst, formulation, pj_tasks, model, result.best, pool_people)
    plan = to_plan(
        inst,
        sched,
        status="feasible",
        objective=None,
        lower_bound=None,
        solve_seconds=0.0,
        solver="pyjobshop",
    )
    obj = makespan(portfolio, plan)
    plan = replace(plan, objective=plan_terms(portfolio, plan))  # {"makespan_days": obj}
    valid = check(portfolio, plan).valid and obj == round(result.objective)
    return PeerResult(obj, math.ceil(result.lower_bound - 1e-6), status, round(seconds, 2), valid)


def _schedule(
    inst: Instance,
    formulation: str,
    pj_tasks: dict[int, list[object]],
    model: object,
    solution: object,
    pool_people: dict[str, list[int]],
) -> Schedule:
    """The peer's solution as an engine schedule over ``inst`` (period = working-day index)."""
    import pyjobshop

    assert isinstance(model, pyjobshop.Model)
    assert isinstance(solution, pyjobshop.Solution)
    index = {id(task): i for i, task in enumerate(model.tasks)}
    sched = Schedule()
    if formulation == "places":
        for t in inst.tasks:
            parts = pj_tasks[t.index]
            sts = [solution.tasks[index[id(task)]] for task in parts]
            start, end = sts[0].start, sts[0].end
            team = tuple(st.resources[0] for st in sts) if t.places else ()
            sched.add(t.index, start, end - 1, team)
        return sched
    # renewable: give units to people, tasks in order of start (interval colouring)
    free_from: dict[int, int] = {p: 0 for ps in pool_people.values() for p in ps}
    order = sorted(inst.tasks, key=lambda t: solution.tasks[index[id(pj_tasks[t.index][0])]].start)
    for t in order:
        st = solution.tasks[index[id(pj_tasks[t.index][0])]]
        people: list[int] = []
        for place in t.places:
            pick = next(
                p for p in pool_people[place.skill] if free_from[p] <= st.start and p not in people
            )
            people.append(pick)
        for p in people:
            free_from[p] = st.end
        sched.add(t.index, st.start, st.end - 1, people)
    return sched
