"""Large neighbourhood search: improve a valid schedule by re-solving parts of it with CP-SAT.

A whole portfolio of thousands of tasks is too large for one CP-SAT model in the time a planner
waits (measured: a plain model of 1,709 tasks x 300 people finds no solution in 60 s). LNS keeps
a valid schedule at every moment and repeatedly frees a *neighbourhood* — up to a few hundred
tasks that compete for the same people — fixes everything else, and lets CP-SAT re-plan the free
part against the capacity the fixed part leaves (a sub-problem narrowed before the model,
:func:`solver_models.cpsat.narrow`, given to the same model builder and stage runner as the
whole portfolio). A new schedule is kept when it is valid and at least as good by the
objective's lexicographic terms, so the result is never worse than the start (the greedy plan).

Neighbourhoods (chosen at random in proportion to the undelivered work each kind recently
removed per second of sub-solve, a bandit that keeps trying every kind a little):

* ``unassigned``: one unassigned task whose predecessors are planned (weighted by its
  undelivered work), with its unassigned successors; a time window around a random start in its
  window; its eligible people one by one with their tasks in that window, and the other
  unassigned tasks those people could do there, until the neighbourhood is full (the free
  tasks may use their whole windows: keeping them to the neighbourhood's window, ``WINDOWS``,
  makes smaller models but measured worse);
* ``skill``: a skill with undelivered work; its qualified people (a random subset); their tasks
  in a random time window, and the unassigned tasks needing that skill;
* ``window``: every task overlapping a random time window for a random group of people;
* ``project``: a few projects with undelivered work, all their tasks, and the tasks of the
  people who could do their unassigned work.

The neighbourhood size adapts: it grows while sub-solves prove their first stage optimal well
within their time, and shrinks when they run out of time; it stays at most a ``slots``-th of the
tasks. When a kind's people have fewer tasks than that in its time window (a small portfolio,
short tasks), the window widens until the neighbourhood has the size asked for or every task of
its people; and on a small team a neighbourhood takes at most a ``slots``-th of the people, so
that the neighbourhoods running at once (which touch disjoint people) all find work. Measured
before (issue 15, 195 tasks x 20 people, 2 threads): the size grew to 400, one neighbourhood
took every person and the other thread made thousands of sub-solves of one to ten tasks.

**One sub-solve** (:func:`solve_neighbourhood`) is a pure function of the instance and a small
picklable :class:`Job` (the free tasks, the people they may move to, the schedule they are
re-planned against, the seed and the per-stage time limits); it returns a :class:`Part`: the free
tasks' new placements. Each stage gets its own limit (no unused time rolls over: when delivering
more is proven impossible in this neighbourhood, the next neighbourhood is worth more than a
long polish of ``late`` and ``finish``).

**In parallel.** Several jobs run at once on disjoint neighbourhoods (the free tasks and the
people they touch are kept apart), each a one-worker CP-SAT solve (two-worker sub-solves crashed
OR-Tools 9.15, see :func:`improve`): on a local thread pool (``params.workers`` >= 2), or on
the workers of a Dask cluster (``dask_address``, :mod:`solver_models.lns_dask`: the instance is
sent to every worker once). A part computed against an older incumbent is merged into the
current one only when the result is still valid (:func:`compatible`: capacity of every person it
books, precedence with every neighbour) and not worse. Threads share the GIL while a sub-model is
built (Python): measured, two threads did 1.7x the sub-solves of one on 2,000 tasks, but only
1.3x on 10,000 tasks, where building a sub-model (~0.5 s, a third of it the capacity booked by
the fixed tasks) costs as much as solving it; Dask workers are processes and do not share it.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from solver_models.cpsat import (
    PINS_STAGE,
    CpSatParams,
    Model,
    StagePlan,
    narrow,
    objective_stages,
    run_stages,
)
from solver_models.instance import Candidates, Instance
from solver_models.schedule import Schedule, pins_dropped
from solver_models.schedule import schedule_key as schedule_key  # the scorer lives there

log = logging.getLogger(__name__)

#: starting number of free tasks per neighbourhood (adapted between MIN_SIZE and MAX_SIZE)
NEIGHBOURHOOD = 120
MIN_SIZE, MAX_SIZE = 30, 400
KINDS = ("unassigned", "skill", "window", "project")
#: the loop gives up (keeping its incumbent) after this many failed sub-solves in a row
MAX_ERRORS = 5
#: the kinds' bandit: weight of the newest gain rate, and the floor of each kind's weight
ALPHA, EXPLORE = 0.3, 0.1
#: ``unassigned`` neighbourhoods: narrow the free tasks to the neighbourhood's window (a smaller
#: model). Off: measured on the 2,000-task ladder portfolio (2 threads, 60 s), the narrowed
#: neighbourhoods removed 0.8k units of undelivered work a try against 8k with whole windows
WINDOWS = False
#: widen a neighbourhood's time window while it has fewer tasks than asked for (see the module
#: docstring)
WIDEN = True
#: at most this many people a neighbourhood's free tasks may move to
MAX_PEOPLE = 25
#: the people of a ``window`` neighbourhood (all their tasks in the window)
WINDOW_PEOPLE = 30
#: seconds of one sub-solve, split between the stages by ``LNS_SHARES``
SUB_SECONDS = 2.0
#: time shares of the objective's stages in a sub-solve: delivering work is what LNS is for;
#: cost is left to the whole-model polish of small portfolios
LNS_SHARES = {"undelivered": 0.7, "late": 0.2, "finish": 0.1, "cost": 0.0}
#: share of the ``undelivered`` limit given to the stage ``pins`` when a free pinned task is
#: unassigned (see :func:`solve_neighbourhood`)
PINS_SHARE = 0.3


def _merge(base: Schedule, free: Iterable[int], part: Schedule) -> Schedule:
    drop = set(free)
    out = Schedule(start={}, finish={}, people={})
    for i in base.start:
        if i not in drop:
            out.add(i, base.start[i], base.finish[i], base.people[i])
    for i in part.start:
        out.add(i, part.start[i], part.finish[i], part.people[i])
    return out


def compatible(inst: Instance, base: Schedule, free: Iterable[int], part: Schedule) -> bool:
    """Whether ``base`` with the ``free`` tasks replaced by ``part`` is valid, given that
    ``base`` is valid and ``part`` was valid against some (possibly older) schedule.

    Only what joins the two can break: the capacity of the people ``part`` books (every task of
    theirs counted on its active days, as ``cpsat.booked_capacity``) and precedence between a
    re-planned task and its neighbours.
    """
    drop = set(free)

    def placed(i: int) -> tuple[int, int] | None:
        if i in part.start:
            return part.start[i], part.finish[i]
        if i in drop or i not in base.start:
            return None
        return base.start[i], base.finish[i]

    for i in drop:
        here = placed(i)
        t = inst.tasks[i]
        if here is not None:
            for u in t.preds:
                before = placed(u)
                if before is None or before[1] >= here[0]:
                    return False
        for v in t.succs:
            after = placed(v)
            if after is not None and (here is None or after[0] <= here[1]):
                return False
    touched = {p for i in part.start for p in part.people[i]}
    if not touched:
        return True
    rows = {p: np.zeros(inst.n_days, dtype=np.int64) for p in touched}

    def book(i: int, s: int, f: int, people: tuple[int, ...]) -> None:
        mine = [p for p in people if p in rows]
        if not mine:
            return
        active = inst.avail[list(people), s : f + 1].all(axis=0)
        for p in mine:
            rows[p][s : f + 1] += inst.tasks[i].alloc * active

    for i, s in base.start.items():
        if i not in drop and i not in part.start:
            book(i, s, base.finish[i], base.people[i])
    for i, s in part.start.items():
        book(i, s, part.finish[i], part.people[i])
    return all(bool((rows[p] <= inst.cap[p]).all()) for p in touched)


# -- one sub-solve --------------------------------------------------------------------------------
@dataclass
class Job:
    """One neighbourhood to re-plan: picklable, so it can travel to a Dask worker."""

    objective: str
    free: tuple[int, ...]
    #: the people the free tasks may move to (a task may always keep its own)
    people: tuple[int, ...]
    #: the schedule the free tasks are re-planned against (their own placements are the hint)
    fixed: Schedule
    seed: int
    #: seconds per stage (stages without a limit are skipped)
    limits: dict[str, float]
    deterministic_time: float | None = None
    #: days [lo, hi] the free tasks may use (besides each one's own current span); None: their
    #: whole windows
    window: tuple[int, int] | None = None


@dataclass
class Part:
    """A sub-solve's answer: the free tasks' new placements (``None``: no solution in time)."""

    schedule: Schedule | None
    #: tasks of the job that the model took (the others could not move, e.g. an unplanned
    #: fixed predecessor)
    modelled: int = 0
    build_seconds: float = 0.0
    solve_seconds: float = 0.0
    #: per stage: (value, proven optimal, seconds)
    stages: dict[str, tuple[int, bool, float]] = field(default_factory=dict)


def solve_neighbourhood(inst: Instance, job: Job, stop: Callable[[], bool] | None = None) -> Part:
    """Re-plan ``job.free`` against ``job.fixed`` with CP-SAT (one worker), stage by stage: the
    sub-problem is narrowed before the model (:func:`solver_models.cpsat.narrow`) and its stages
    run by the one stage runner (:func:`solver_models.cpsat.run_stages`).

    Pins are kept: a free pinned task that ``job.fixed`` assigns stays assigned (a constraint),
    and when a free pinned task is unassigned there, a first stage ``pins`` (its time taken from
    ``undelivered``'s) assigns as many as it can before the objective's stages."""
    t0 = time.perf_counter()
    problem = narrow(inst, job.free, job.fixed, job.people, window=job.window)
    model = Model(problem, job.objective)
    part = Part(schedule=None, modelled=len(model.tasks))
    part.build_seconds = time.perf_counter() - t0
    if not model.tasks:
        return part
    stages = objective_stages(job.objective)
    current = model.admissible(job.fixed)
    limits = dict(job.limits)
    pinned = model.pinned_tasks()
    for t in pinned:
        if t.index in current.start:
            model.require_assigned(t.index)  # never drop a pin the plan keeps
    if job.objective != "makespan" and any(t.index not in current.start for t in pinned):
        stages = (PINS_STAGE, *stages)
        share = PINS_SHARE * limits.get("undelivered", 0.0)
        limits[PINS_STAGE] = share
        limits["undelivered"] = limits.get("undelivered", 0.0) - share
    if len(stages) == 1:
        limits = {stages[0]: sum(limits.values())}
    params = CpSatParams(workers=1, seed=job.seed, deterministic_time=job.deterministic_time)
    plan = StagePlan(stages=stages, seconds=limits, min_seconds=0.02)
    run = run_stages(model, plan, params, hint=current, stop=stop, log_level=logging.DEBUG)
    part.solve_seconds = run.solve_seconds
    part.schedule = run.schedule
    part.stages = {s: (o.value, o.optimal, round(o.seconds, 3)) for s, o in run.stages.items()}
    return part


# -- where sub-solves run -------------------------------------------------------------------------
class Runner(Protocol):
    """Runs jobs: ``slots`` at once; ``wait`` returns those finished (result or exception)."""

    slots: int

    def submit(self, job: Job) -> object: ...

    def wait(self, timeout: float) -> list[tuple[object, Part | BaseException]]: ...

    def close(self) -> None: ...


class _Serial:
    """In this thread, one job at a time."""

    slots = 1

    def __init__(self, inst: Instance, stop: Callable[[], bool] | None) -> None:
        self.inst, self.stop = inst, stop
        self.queue: list[tuple[object, Job]] = []

    def submit(self, job: Job) -> object:
        handle = object()
        self.queue.append((handle, job))
        return handle

    def wait(self, timeout: float) -> list[tuple[object, Part | BaseException]]:
        out: list[tuple[object, Part | BaseException]] = []
        while self.queue:
            handle, job = self.queue.pop(0)
            try:
                out.append((handle, solve_neighbourhood(self.inst, job, self.stop)))
            except Exception as exc:  # reported by the loop, which keeps its incumbent
                out.append((handle, exc))
        return out

    def close(self) -> None:
        self.queue.clear()


class _Threads:
    """A local pool of threads (CP-SAT releases the GIL while it searches)."""

    def __init__(self, inst: Instance, slots: int, stop: Callable[[], bool] | None) -> None:
        self.inst, self.stop, self.slots = inst, stop, slots
        self.pool = cf.ThreadPoolExecutor(max_workers=slots, thread_name_prefix="lns")
        self.pending: set[cf.Future[Part]] = set()

    def submit(self, job: Job) -> object:
        fut = self.pool.submit(solve_neighbourhood, self.inst, job, self.stop)
        self.pending.add(fut)
        return fut

    def wait(self, timeout: float) -> list[tuple[object, Part | BaseException]]:
        done, _ = cf.wait(self.pending, timeout=timeout, return_when=cf.FIRST_COMPLETED)
        out: list[tuple[object, Part | BaseException]] = []
        for fut in done:
            self.pending.discard(fut)
            exc = fut.exception()
            out.append((fut, exc if exc is not None else fut.result()))
        return out

    def close(self) -> None:
        # sub-solves end by the loop's deadline (their limits are capped by the time left)
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.pending.clear()


# -- choosing neighbourhoods ----------------------------------------------------------------------
class _Chooser:
    def __init__(self, inst: Instance, rng: random.Random, slots: int = 1) -> None:
        self.inst, self.rng = inst, rng
        #: people per neighbourhood: ``MAX_PEOPLE``, and on a small team a share of it, so that
        #: ``slots`` neighbourhoods that touch disjoint people can run at once (measured at 20
        #: people and 2 threads: with 25, the second neighbourhood found every candidate busy
        #: and freed one task)
        self.max_people = max(2, min(MAX_PEOPLE, len(inst.people) // max(1, slots)))
        #: people of a ``window`` neighbourhood, shared out the same way
        self.window_people = max(2, min(WINDOW_PEOPLE, len(inst.people) // max(1, slots)))
        self.by_skill: dict[str, list[int]] = {}
        for t in inst.tasks:
            for pl in t.places:
                self.by_skill.setdefault(pl.skill, []).append(t.index)
        self.by_project: dict[str, list[int]] = {}
        for t in inst.tasks:
            self.by_project.setdefault(t.task.project, []).append(t.index)
        self._sched: Schedule | None = None
        #: narrow the free tasks' days to the neighbourhood's window (``unassigned``)
        self.windows = WINDOWS
        #: widen a neighbourhood's time window until it has the size asked for
        self.widen = WIDEN
        self._by_person: dict[int, list[int]] = {}
        #: tasks and people being re-planned elsewhere, while :meth:`choose` runs
        self._busy: tuple[set[int], set[int]] = (set(), set())

    def _index(self, sched: Schedule) -> None:
        if self._sched is sched:
            return
        self._sched = sched
        self._by_person = {}
        for i, people in sched.people.items():
            for p in people:
                self._by_person.setdefault(p, []).append(i)

    def _tasks_of(self, sched: Schedule, people: Iterable[int], lo: int, hi: int) -> set[int]:
        self._index(sched)
        out: set[int] = set()
        busy_tasks, busy_people = self._busy
        for p in people:
            if p in busy_people:
                continue
            for i in self._by_person.get(p, ()):
                if (
                    sched.start[i] <= hi
                    and sched.finish[i] >= lo
                    and i not in busy_tasks
                    and busy_people.isdisjoint(sched.people[i])
                ):
                    out.add(i)
        return out

    def _mask(self, people: Iterable[int]) -> npt.NDArray[np.bool_]:
        """``people`` as a boolean row over every person (for the candidates' arrays)."""
        out = np.zeros(len(self.inst.people), dtype=np.bool_)
        out[list(people)] = True
        return out

    def _frontier(self, sched: Schedule) -> list[int]:
        """Unassigned tasks whose predecessors are all planned."""
        return [
            t.index
            for t in self.inst.tasks
            if t.possible and t.index not in sched.start and all(u in sched.start for u in t.preds)
        ]

    def choose(
        self,
        kind: str,
        sched: Schedule,
        size: int,
        busy_tasks: set[int] | None = None,
        busy_people: set[int] | None = None,
    ) -> tuple[set[int], set[int], tuple[int, int] | None]:
        """A neighbourhood: the free tasks, the people they may move to and the days they may
        use (None: their whole windows); none of the ``busy`` tasks (being re-planned
        elsewhere), and touching none of the busy people."""
        busy_tasks = busy_tasks or set()
        busy_people = busy_people or set()
        # the busy ones are left out as the neighbourhood grows (``_tasks_of``), so that it
        # reaches ``size`` with tasks it may take
        self._busy = (busy_tasks, busy_people)
        window: tuple[int, int] | None = None
        if kind == "unassigned":
            free, people, window = self._unassigned(sched, size, busy_tasks, busy_people)
        else:
            free, people = self._classic(kind, sched, size)
        self._busy = (set(), set())
        people -= busy_people
        free = {
            i
            for i in free
            if i not in busy_tasks and not busy_people.intersection(sched.people.get(i, ()))
        }
        return free, people, window

    def _unassigned(
        self, sched: Schedule, size: int, busy_tasks: set[int], busy_people: set[int]
    ) -> tuple[set[int], set[int], tuple[int, int] | None]:
        inst, rng = self.inst, self.rng
        front = [i for i in self._frontier(sched) if i not in busy_tasks]
        # beside a running neighbourhood: a task someone idle could do, if there is one
        busy = self._mask(busy_people)
        idle = [i for i in front if not busy[_eligible(inst, i)].all()]
        front = idle or front
        if not front:
            return set(), set(), None
        u = rng.choices(front, weights=[inst.tasks[i].units for i in front])[0]
        t = inst.tasks[u]
        lo = max([t.est] + [sched.finish[p] + 1 for p in t.preds])
        hi = t.lft
        d = min((c.duration for c in t.candidates.values()), default=t.duration or 1)
        at = rng.randint(lo, max(lo, hi - d + 1))
        wlo, whi = max(lo, at - d), min(hi, at + 2 * d)
        free = {u}
        # its unassigned successors (their other predecessors planned), so that they can follow
        stack = list(t.succs)
        while stack and len(free) < size // 4:
            v = stack.pop()
            tv = inst.tasks[v]
            if v in free or v in sched.start or not tv.possible:
                continue
            if all(w in sched.start or w in free for w in tv.preds):
                free.add(v)
                stack.extend(tv.succs)
        cands = [p for p in t.candidates if p not in busy_people]
        rng.shuffle(cands)
        others = [i for i in front if i != u]
        rng.shuffle(others)
        chain = set(free)
        people: set[int] = set()
        while True:
            free, people = set(chain), set()
            for p in cands:
                if len(free) >= size or len(people) >= self.max_people:
                    break
                people.add(p)
                free |= self._tasks_of(sched, (p,), wlo, whi)
            # other unassigned work these people could do
            for i in others:
                if len(free) >= size:
                    break
                ti = inst.tasks[i]
                if ti.est <= whi and ti.lft >= wlo and not people.isdisjoint(ti.candidates):
                    free.add(i)
            # too few tasks in the window (a small portfolio, short tasks): widen it, so that
            # the neighbourhood reaches the size the adaptation asks for
            if len(free) >= size or not self.widen or (wlo <= 0 and whi >= inst.n_days - 1):
                break
            span = max(1, whi - wlo + 1)
            wlo, whi = max(0, wlo - span), min(inst.n_days - 1, whi + span)
        return free, people, ((wlo, whi) if self.windows else None)

    def _classic(self, kind: str, sched: Schedule, size: int) -> tuple[set[int], set[int]]:
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
            people = set(seed.candidates) - self._busy[1]
            if skill is not None:
                free |= {i for i in self.by_skill.get(skill, []) if i not in sched.start}
            if len(people) > self.max_people:
                people = set(rng.sample(sorted(people), self.max_people))
        elif kind == "window":
            idle = [p for p in range(len(inst.people)) if p not in self._busy[1]]
            people = set(rng.sample(idle, min(len(idle), self.window_people)))
            mask = self._mask(people)
            free |= {i for i in unassigned if mask[_eligible(inst, i)].any()}
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
            people -= self._busy[1]
            if len(people) > self.max_people:
                people = set(rng.sample(sorted(people), self.max_people))
        # the people's tasks in the window; too few (a small portfolio, short tasks): the window
        # widens until the neighbourhood reaches the size the adaptation asks for
        free |= self._tasks_of(sched, people, lo, hi)
        while self.widen and len(free) < size and (lo > 0 or hi < n - 1):
            step = max(1, (hi - lo + 1) // 2)
            lo, hi = max(0, lo - step), min(n - 1, hi + step)
            free |= self._tasks_of(sched, people, lo, hi)
        if len(free) > size:
            # keep the unassigned ones first, then a random share of the rest
            un = sorted(i for i in free if i not in sched.start)
            rest = sorted(i for i in free if i in sched.start)
            rng.shuffle(un)
            rng.shuffle(rest)
            free = set((un + rest)[:size])
        return free, people


def _eligible(inst: Instance, i: int) -> npt.NDArray[np.int64]:
    """Task ``i``'s candidates (people) as an array."""
    c = inst.tasks[i].candidates
    if isinstance(c, Candidates):
        return c.people
    return np.fromiter(c, dtype=np.int64, count=len(c))


def _touched(sched: Schedule, free: Iterable[int], people: Iterable[int]) -> set[int]:
    """People whose bookings a job may change: those free tasks may move to, and their own."""
    out = set(people)
    for i in free:
        out.update(sched.people.get(i, ()))
    return out


# -- the loop -------------------------------------------------------------------------------------
def improve(
    inst: Instance,
    start: Schedule,
    objective: str,
    params: CpSatParams,
    *,
    seconds: float,
    stop: Callable[[], bool] | None = None,
    on_progress: Callable[[tuple[int, ...], float], None] | None = None,
    dask_address: str | None = None,
    dask_client: Any = None,
) -> tuple[Schedule, dict[str, object]]:
    """Improve ``start`` for ``seconds``; returns the best schedule and loop statistics.

    Sub-solves run one at a time here (``params.workers`` <= 1), ``params.workers`` at once on a
    local thread pool, or on the workers of the Dask cluster at ``dask_address`` (or of
    ``dask_client``). Each sub-solve uses one CP-SAT worker: measured here, repeated two-worker
    solves of these sub-models crashed OR-Tools 9.15 (a segfault) within a few dozen iterations.
    """
    t0 = time.monotonic()
    rng = random.Random(params.seed)
    remote: Runner | None = None
    if dask_address is not None or dask_client is not None:
        from solver_models.lns_dask import DaskRunner

        try:
            remote = DaskRunner(
                inst,
                address=dask_address,
                client=dask_client,
                timeout=max(2.0, min(10.0, seconds / 4)),
            )
        except Exception:
            log.warning("lns: no Dask cluster at %s, solving here", dask_address, exc_info=True)
    runner: Runner
    if remote is not None:
        runner, where = remote, "dask"
    elif params.workers >= 2:
        runner, where = _Threads(inst, params.workers, stop), "threads"
    else:
        runner, where = _Serial(inst, stop), "serial"
    chooser = _Chooser(inst, rng, runner.slots)
    best = start
    best_key = schedule_key(inst, best, objective)
    start_key = best_key
    # the engine's rule: pins before the objective (a part never drops a pin, see
    # ``solve_neighbourhood``; checked here again, with one that adds a pin accepted)
    best_pins = pins_dropped(inst, best)
    # at most a ``slots``-th of the tasks a neighbourhood, so that the other slots find free
    # tasks and people too (measured at 195 tasks and 2 threads: with 400, one neighbourhood
    # took every person and the other slot made thousands of sub-solves of a task or two)
    top = max(MIN_SIZE, min(MAX_SIZE, sum(t.possible for t in inst.tasks) // runner.slots))
    size = min(NEIGHBOURHOOD, top)
    # a bandit over the kinds: each kind's recent gain per second of sub-solve (an average
    # that forgets, ``ALPHA``), optimistic at first; chosen in proportion to it plus ``EXPLORE``
    rate = dict.fromkeys(KINDS, 1.0)
    rate["unassigned"] = 2.0
    scale = 1000.0 / max(1, start_key[0])

    def reward(kind: str, gain: float, seconds: float) -> None:
        rate[kind] = (1 - ALPHA) * rate[kind] + ALPHA * gain / max(0.1, seconds)

    def weights() -> list[float]:
        top = max(rate.values()) or 1.0
        return [EXPLORE + rate[k] / top for k in KINDS]

    per_kind = {k: {"tried": 0, "improved": 0, "gain": 0, "free": 0} for k in KINDS}
    counts = {"iterations": 0, "improvements": 0, "no_solution": 0, "conflicts": 0, "errors": 0}
    build_s = solve_s = 0.0
    # where the loop's own time goes (issue 15): choosing neighbourhoods, waiting for
    # sub-solves, checking and merging their answers
    choose_s = wait_s = merge_s = 0.0
    #: per stage: [solves, proven optimal, seconds]
    per_stage: dict[str, list[float]] = {}
    #: handle -> (job, kind, touched people)
    inflight: dict[object, tuple[Job, str, set[int]]] = {}
    empty_in_a_row = errors_in_a_row = 0
    try:
        while True:
            left = seconds - (time.monotonic() - t0)
            if left < 0.3 or (stop is not None and stop()):
                break
            if errors_in_a_row >= MAX_ERRORS:
                log.warning("lns: %d sub-solves failed in a row, stopping", errors_in_a_row)
                break
            c_t0 = time.perf_counter()
            while len(inflight) < runner.slots and empty_in_a_row < 20:
                busy_tasks = {i for job, _, _ in inflight.values() for i in job.free}
                busy_people = {p for _, _, ps in inflight.values() for p in ps}
                kind = rng.choices(KINDS, weights=weights())[0]
                free, people, window = chooser.choose(kind, best, size, busy_tasks, busy_people)
                if not free:
                    empty_in_a_row += 1
                    reward(kind, 0.0, 1.0)
                    continue
                empty_in_a_row = 0
                sub = min(SUB_SECONDS, left)
                job = Job(
                    objective=objective,
                    free=tuple(sorted(free)),
                    people=tuple(sorted(people)),
                    fixed=best,
                    seed=rng.randrange(1 << 30),
                    limits={k: sub * v for k, v in LNS_SHARES.items()},
                    deterministic_time=params.deterministic_time,
                    window=window,
                )
                handle = runner.submit(job)
                inflight[handle] = (job, kind, _touched(best, free, people))
            w_t0 = time.perf_counter()
            choose_s += w_t0 - c_t0
            if not inflight:
                break  # nothing left to choose (every neighbourhood came out empty)
            finished = runner.wait(timeout=max(0.05, left))
            wait_s += time.perf_counter() - w_t0
            for handle, out in finished:
                job, kind, _ = inflight.pop(handle)
                counts["iterations"] += 1
                stat = per_kind[kind]
                stat["tried"] += 1
                stat["free"] += len(job.free)
                if isinstance(out, BaseException):
                    counts["errors"] += 1
                    errors_in_a_row += 1
                    log.warning("lns: a sub-solve failed: %r", out)
                    continue
                errors_in_a_row = 0
                build_s += out.build_seconds
                solve_s += out.solve_seconds
                for stage, (_, optimal, used) in out.stages.items():
                    row = per_stage.setdefault(stage, [0, 0, 0.0])
                    row[0] += 1
                    row[1] += int(optimal)
                    row[2] = round(row[2] + used, 2)
                spent = out.build_seconds + out.solve_seconds
                if out.schedule is None:
                    counts["no_solution"] += 1
                    reward(kind, 0.0, spent)
                    size = max(MIN_SIZE, int(size * 0.85))
                    continue
                # always checked (a few ms): a part solved against an older incumbent may clash
                # with what was merged since, and a sub-model bug must not reach the plan
                m_t0 = time.perf_counter()
                if not compatible(inst, best, job.free, out.schedule):
                    merge_s += time.perf_counter() - m_t0
                    counts["conflicts"] += 1
                    reward(kind, 0.0, spent)
                    continue
                cand = _merge(best, job.free, out.schedule)
                key = schedule_key(inst, cand, objective)
                pins = pins_dropped(inst, cand)
                merge_s += time.perf_counter() - m_t0
                better = (pins, key) < (best_pins, best_key)
                gain = scale * (best_key[0] - key[0]) + (0.1 if better else 0.0)
                reward(kind, max(0.0, gain), spent)
                if (pins, key) <= (best_pins, best_key):
                    if better:
                        counts["improvements"] += 1
                        stat["improved"] += 1
                        stat["gain"] += best_key[0] - key[0]
                        if on_progress is not None:
                            on_progress(key, time.monotonic() - t0)
                    best, best_key, best_pins = cand, key, pins
                first = next((v for k, v in out.stages.items() if k != PINS_STAGE), None)
                limit = next(iter(job.limits.values()), SUB_SECONDS)
                if first is not None and first[1] and first[2] < 0.5 * limit:
                    size = min(top, int(size * 1.15) + 1)
                elif first is None or not first[1]:
                    size = max(MIN_SIZE, int(size * 0.85))
    finally:
        runner.close()
    stats: dict[str, object] = dict(counts)
    stats.update(
        where=where,
        slots=runner.slots,
        neighbourhood=size,
        rates={k: round(v, 3) for k, v in rate.items()},
        kinds=per_kind,
        stages=per_stage,
        build_seconds=round(build_s, 2),
        solve_seconds=round(solve_s, 2),
        choose_seconds=round(choose_s, 3),
        wait_seconds=round(wait_s, 2),
        merge_seconds=round(merge_s, 3),
        first_term=[start_key[0], best_key[0]],
        seconds=round(time.monotonic() - t0, 2),
    )
    log.info(
        "lns (%s): %d iterations, %d improvements, key %s",
        where,
        counts["iterations"],
        counts["improvements"],
        best_key,
    )
    return best, stats
