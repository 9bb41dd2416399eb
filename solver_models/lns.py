"""Large neighbourhood search: improve a valid schedule by re-solving parts of it with CP-SAT.

A whole portfolio of thousands of tasks is too large for one CP-SAT model in the time a planner
waits (measured: a plain model of 1,709 tasks x 300 people finds no solution in 60 s). LNS keeps
a valid schedule at every moment and repeatedly frees a *neighbourhood* — a few hundred tasks
that compete for the same people — fixes everything else, and lets CP-SAT re-plan the free part
against the capacity the fixed part leaves (:class:`solver_models.cpsat._Model` with ``free`` and
``fixed``). A new schedule is kept when it is at least as good by the objective's lexicographic
terms, so the result is never worse than the start (the greedy plan).

Neighbourhoods (chosen at random, weights adapted to what improved):

* ``skill``: a skill with undelivered work; its qualified people (a random subset); their tasks
  in a random time window, and the unassigned tasks needing that skill;
* ``window``: every task overlapping a random time window for a random group of people;
* ``project``: a few projects with undelivered work, all their tasks, and the tasks of the
  people who could do their unassigned work.

Each sub-solve is independent of the others given the current schedule, so the same loop can
farm neighbourhoods out to Dask workers (a later step; see the README).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable

from solver_models.cpsat import SolverParams, solve_lexicographic
from solver_models.instance import Instance
from solver_models.schedule import Schedule

log = logging.getLogger(__name__)

#: target number of free tasks per neighbourhood (grows when sub-solves are proven optimal fast)
NEIGHBOURHOOD = 120
KINDS = ("skill", "window", "project")
#: time shares of the objective's stages in a sub-solve: delivering work is what LNS is for;
#: cost is left to the whole-model polish of small portfolios
LNS_SHARES = {"undelivered": 0.7, "late": 0.2, "finish": 0.1, "cost": 0.0}


def schedule_key(inst: Instance, sched: Schedule, objective: str) -> tuple[int, ...]:
    """The objective's lexicographic key computed from the arrays (same as ``objective.evaluate``
    on the plan; used inside the loop, where building plans would cost too much)."""
    if objective == "makespan":
        return (max((f + 1 for f in sched.finish.values()), default=0),)
    undelivered = late = finish = cost = 0
    for t in inst.tasks:
        i = t.index
        if i not in sched.start:
            undelivered += t.units
            continue
        f = sched.finish[i]
        if t.deadline_idx is not None:
            late += t.priority * max(0, f - t.deadline_idx)
        finish += t.priority * (f + 1)
        cost += sum(t.candidates[p].cost for p in sched.people[i] if p in t.candidates)
    return (undelivered, late, finish, cost)


def _merge(base: Schedule, free: set[int], part: Schedule) -> Schedule:
    out = Schedule(start={}, finish={}, people={})
    for i in base.start:
        if i not in free:
            out.add(i, base.start[i], base.finish[i], base.people[i])
    for i in part.start:
        out.add(i, part.start[i], part.finish[i], part.people[i])
    return out


class _Chooser:
    def __init__(self, inst: Instance, rng: random.Random) -> None:
        self.inst, self.rng = inst, rng
        self.by_skill: dict[str, list[int]] = {}
        for t in inst.tasks:
            for pl in t.places:
                self.by_skill.setdefault(pl.skill, []).append(t.index)
        self.by_project: dict[str, list[int]] = {}
        for t in inst.tasks:
            self.by_project.setdefault(t.task.project, []).append(t.index)

    def _tasks_of(self, sched: Schedule, people: set[int], lo: int, hi: int) -> set[int]:
        return {
            i
            for i, s in sched.start.items()
            if s <= hi and sched.finish[i] >= lo and people.intersection(sched.people[i])
        }

    def choose(self, kind: str, sched: Schedule, size: int) -> tuple[set[int], set[int]]:
        """A neighbourhood: the free tasks, and the people they may move to."""
        inst, rng = self.inst, self.rng
        n = inst.n_days
        unassigned = [t.index for t in inst.tasks if t.possible and t.index not in sched.start]
        width = max(5, n // 3)
        lo = rng.randrange(0, max(1, n - width))
        hi = lo + width
        free: set[int] = set()
        people: set[int] = set()
        if kind == "skill" or (kind == "project" and not unassigned):
            pool = unassigned or [t.index for t in inst.tasks if t.possible]
            if not pool:
                return free, people
            seed = inst.tasks[rng.choice(pool)]
            skill = rng.choice(seed.places).skill if seed.places else None
            people = set(seed.candidates)
            if skill is not None:
                free |= {i for i in self.by_skill.get(skill, []) if i not in sched.start}
            if len(people) > 25:
                people = set(rng.sample(sorted(people), 25))
            free |= self._tasks_of(sched, people, lo, hi)
        elif kind == "window":
            people = set(rng.sample(range(len(inst.people)), min(len(inst.people), 30)))
            free |= self._tasks_of(sched, people, lo, hi)
            free |= {i for i in unassigned if inst.tasks[i].candidates.keys() & people}
        else:  # project
            projects = {
                inst.tasks[i].task.project for i in rng.sample(unassigned, min(3, len(unassigned)))
            }
            people = set()
            for pr in projects:
                for i in self.by_project[pr]:
                    free.add(i)
                    if i not in sched.start:
                        people |= set(inst.tasks[i].candidates)
            if len(people) > 25:
                people = set(rng.sample(sorted(people), 25))
            free |= self._tasks_of(sched, people, lo, hi)
        if len(free) > size:
            # keep the unassigned ones first, then a random share of the rest
            un = [i for i in free if i not in sched.start]
            rest = [i for i in free if i in sched.start]
            rng.shuffle(un)
            rng.shuffle(rest)
            free = set((un + rest)[:size])
        return free, people


def improve(
    inst: Instance,
    start: Schedule,
    objective: str,
    params: SolverParams,
    *,
    seconds: float,
    stop: Callable[[], bool] | None = None,
    on_progress: Callable[[tuple[int, ...], float], None] | None = None,
) -> tuple[Schedule, dict[str, object]]:
    """Improve ``start`` for ``seconds``; returns the best schedule and loop statistics."""
    t0 = time.monotonic()
    rng = random.Random(params.seed)
    chooser = _Chooser(inst, rng)
    best = start
    best_key = schedule_key(inst, best, objective)
    size = NEIGHBOURHOOD
    weights = dict.fromkeys(KINDS, 1.0)
    stats: dict[str, object] = {"iterations": 0, "improvements": 0}
    iterations = improvements = 0
    while True:
        left = seconds - (time.monotonic() - t0)
        if left < 0.3 or (stop is not None and stop()):
            break
        kind = rng.choices(KINDS, weights=[weights[k] for k in KINDS])[0]
        free, people = chooser.choose(kind, best, size)
        if not free:
            continue
        sub = SolverParams(
            time_limit=min(left, 2.0),
            # one worker per sub-solve: measured here, repeated two-worker solves of these
            # sub-models crashed OR-Tools 9.15 (a segfault) within a few dozen iterations
            workers=1,
            seed=rng.randrange(1 << 30),
            deterministic_time=params.deterministic_time,
        )
        res = solve_lexicographic(
            inst,
            objective,
            sub,
            hint=best,
            free=free,
            fixed=best,
            people=people,
            shares=LNS_SHARES,
            stop=stop,
        )
        iterations += 1
        if res.schedule is None:
            weights[kind] = max(0.2, weights[kind] * 0.9)
            continue
        cand = _merge(best, free, res.schedule)
        key = schedule_key(inst, cand, objective)
        if key <= best_key:
            if key < best_key:
                improvements += 1
                weights[kind] = min(5.0, weights[kind] * 1.3)
                if on_progress is not None:
                    on_progress(key, time.monotonic() - t0)
            best, best_key = cand, key
        else:
            weights[kind] = max(0.2, weights[kind] * 0.9)
        all_optimal = res.stages and all(opt for _, _, opt in res.stages.values())
        if all_optimal and res.wall_seconds < 1.0:
            size = min(400, int(size * 1.2))
        elif res.wall_seconds >= sub.time_limit * 0.9:
            size = max(40, int(size * 0.85))
    stats.update(
        iterations=iterations,
        improvements=improvements,
        neighbourhood=size,
        weights={k: round(v, 2) for k, v in weights.items()},
        seconds=round(time.monotonic() - t0, 2),
    )
    log.info("lns: %d iterations, %d improvements, key %s", iterations, improvements, best_key)
    return best, stats
