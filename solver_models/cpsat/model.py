"""The CP-SAT model of a problem: its variables, built rule by rule, and how plans go in and out.

Notation: working days ``w = 0..W-1``; tasks ``t`` (only those that can be assigned at all, see
:mod:`solver_models.instance`, and in a sub-problem only its free ones, see
:mod:`solver_models.cpsat.problem`); people ``p``; ``cand(t)`` the eligible people of one-person
task ``t``, ``cand(t, k)`` those of place ``k`` of a team task.

Variables (named so that a model dump reads as the plan):

* ``assigned[t]`` (bool): the task is planned;
* ``start[t]``, ``finish[t]`` (int): its first and last active working day;
* ``does[t,p]`` (bool): person ``p`` does one-person task ``t``;
* ``fills[t,k,p]`` (bool): ``p`` fills one of the places of team task ``t`` that are
  interchangeable with place ``k`` (``k`` the first of them, see ``variables.team_places``);
  ``member[t,p]`` = sum over those groups;
* ``late[t]``, ``done_by[t]`` (int): late working days, and ``finish+1`` when assigned;
* intervals ``work[t,p]`` in working-day time, present when ``p`` works on ``t``.

The rules live in :mod:`~solver_models.cpsat.variables` (a task's window and who does it),
:mod:`~solver_models.cpsat.constraints` (pins, precedence, capacity, redundant cumulatives,
stability) and :mod:`~solver_models.cpsat.objective` (the terms and the stages' expressions),
one function per rule with its math in the docstring; :class:`Model` calls them in a fixed
order (the order is part of the model: CP-SAT's search depends on it).

**Exactness.** One-person tasks are modelled exactly: the table of (start, finish) pairs of a
candidate lists precisely the spans with ``duration`` available days of that person, so the task
stretches over their absences as the contract's *active days* define. Consuming the allocation on
the absent days inside a span is harmless: every task spanning an absence of ``p`` is active on
``p``'s last available day before it, where the allocations already fit in the capacity.
Team tasks are modelled as *not* stretching over a member's absence (all members available on
``duration`` consecutive working days) — a restriction, so every plan is valid but some valid
plans are out of reach. When a portfolio has a team task for which this can matter (or a
fractional capacity percent, floored here), the model is flagged inexact and its bounds are not
used as bounds of the portfolio. A *relaxed* model (``ModelOptions(relaxed=True)``: team members
only known to be busy on the first and last active day, capacity percents rounded up) then gives
a true bound when time allows; otherwise the engine falls back to the analytic bound.
"""

from __future__ import annotations

import logging

from ortools.sat.python import cp_model

from solver_models.cpsat import constraints, objective, variables
from solver_models.cpsat.params import DEFAULT_OPTIONS, ModelOptions
from solver_models.cpsat.problem import Problem
from solver_models.instance import Instance, TaskInfo
from solver_models.pools import NO_POOLS
from solver_models.schedule import Schedule, is_pinned

log = logging.getLogger(__name__)


class Model:
    """The CP-SAT model of ``problem`` for ``goal`` (``"portfolio"`` or ``"makespan"``), built
    on construction. Its variables are attributes named as in the module docstring; callers
    outside this package use only the public methods (stages, hints, decoding)."""

    def __init__(
        self, problem: Problem, goal: str, options: ModelOptions = DEFAULT_OPTIONS
    ) -> None:
        self.problem = problem
        self.inst = problem.inst
        self.options = options
        self.goal = goal
        self.cp = cp_model.CpModel()
        self.cap = problem.cap
        self.lo = problem.lo
        self.hi = problem.hi
        self.fixed = problem.fixed
        #: tasks that must be assigned (a fixed successor depends on them)
        self.forced = problem.forced
        self.tasks = list(problem.tasks)
        pools = problem.pools if options.pooling and not options.relaxed else NO_POOLS
        #: pure pools (see :mod:`solver_models.pools`): members, and (task, place) -> pool
        self.pool_members = pools.members
        self.pool_place = pools.place
        self.assigned: dict[int, cp_model.IntVar] = {}
        self.start: dict[int, cp_model.IntVar] = {}
        self.finish: dict[int, cp_model.IntVar] = {}
        self.does: dict[tuple[int, int], cp_model.IntVar] = {}
        self.fills: dict[tuple[int, int, int], cp_model.IntVar] = {}
        #: per team task: its groups of interchangeable places not filled from pure pools
        #: (place indices, the first one keys ``fills``)
        self.place_groups: dict[int, list[list[int]]] = {}
        self.member: dict[tuple[int, int], cp_model.IntVar] = {}
        self.late: dict[int, cp_model.IntVar] = {}
        self.done_by: dict[int, cp_model.IntVar] = {}
        self.span: dict[int, cp_model.IntVar] = {}
        #: (task, person) -> [(literal, gap)] for candidates whose spans fall in several classes
        self.gap_lits: dict[tuple[int, int], list[tuple[cp_model.IntVar, int]]] = {}
        #: (smallest start, largest finish) of each task's variables
        self.bounds: dict[int, tuple[int, int]] = {}
        #: per person: (interval, demand)
        self.load: dict[int, list[tuple[cp_model.IntervalVar, int]]] = {}
        #: per pure pool: (interval, number of its places) of each task using it
        self.pool_load: dict[int, list[tuple[cp_model.IntervalVar, int]]] = {}
        #: (cost, assigned literal) of places filled from pure pools
        self.pool_cost: list[tuple[int, cp_model.IntVar]] = []
        self.makespan: cp_model.IntVar | None = None
        self.exact = True
        #: objective stages added by optional rules (``stability``), by name
        self.extra_stages: dict[str, cp_model.LinearExprT] = {}
        #: stage -> (expression, divisor): after the stage, keep ``expression <= value //
        #: divisor`` instead of the stage's own expression (a tie-break that must not stay fixed)
        self.caps: dict[str, tuple[cp_model.LinearExprT, int]] = {}
        self._build()

    def cands(self, t: TaskInfo) -> list[int]:
        """The task's eligible people in this model (all, or those of the neighbourhood)."""
        return self.problem.cands(t)

    def place_cands(self, t: TaskInfo, k: int) -> list[int]:
        """The eligible people of place ``k`` of ``t`` in this model."""
        return self.problem.place_cands(t, k)

    def _build(self) -> None:
        makespan = self.goal == "makespan"
        for t in self.tasks:
            variables.task_window(self, t)
            if t.is_team:
                variables.team_places(self, t)
            elif t.places and (t.index, 0) in self.pool_place:
                variables.one_person_from_pool(self, t)
            elif t.places:
                variables.one_person_assignment(self, t)
            else:
                variables.no_people(self, t)
            constraints.pins(self, t)
        constraints.precedence(self)
        constraints.capacity(self)
        constraints.pool_capacity(self)
        if not self.options.relaxed:
            constraints.redundant_pools(self)
            if makespan:
                constraints.hall(self)
        if makespan:
            constraints.all_assigned(self)
            objective.makespan(self)
        else:
            objective.lateness(self)
            objective.finish_early(self)

    # -- stages (see :func:`solver_models.cpsat.stages.run_stages`) ------------------------------
    def pinned_tasks(self) -> list[TaskInfo]:
        """The model's pinned tasks (see :func:`solver_models.schedule.is_pinned`)."""
        return [t for t in self.tasks if is_pinned(t)]

    def require_assigned(self, task: int) -> None:
        """Task ``task`` (an index of the instance, a task of the model) must be assigned."""
        self.cp.add(self.assigned[task] == 1)

    def stage_expr(self, stage: str) -> cp_model.LinearExprT:
        """The expression stage ``stage`` minimizes (see :func:`objective.stage_expr`)."""
        return objective.stage_expr(self, stage)

    def minimize(self, stage: str) -> cp_model.LinearExprT:
        """Make ``stage`` the objective; returns its expression."""
        expr = self.stage_expr(stage)
        self.cp.minimize(expr)
        return expr

    def keep_stage(self, stage: str, expr: cp_model.LinearExprT, value: int) -> None:
        """After ``stage`` (minimizing ``expr``) found ``value``: later stages keep ``expr <=
        value``, or for a stage with a cap (:attr:`caps`) only its capped part."""
        if stage in self.caps:
            capped, divisor = self.caps[stage]
            self.cp.add(capped <= value // divisor)
        else:
            self.cp.add(expr <= value)

    # -- hints and decoding -----------------------------------------------------------------------
    def admissible(self, sched: Schedule) -> Schedule:
        """The part of a (valid) schedule this model can represent.

        A team task that stretches over a member's absence, or runs on a member's day with too
        little capacity, is outside the model (see *Exactness*): it is dropped, with every task
        that depends on it, so that the hint is a complete feasible solution of the model.
        """
        inst = self.inst
        drop: set[int] = set()
        for t in self.tasks:
            i = t.index
            if i not in sched.start or not t.is_team:
                continue
            s, d = sched.start[i], t.duration or 1
            ok = sched.finish[i] == s + d - 1
            for p in sched.people.get(i, ()):
                span = slice(s, s + d)
                if not (inst.avail[p, span].all() and (self.cap[p, span] >= t.alloc).all()):
                    ok = False
            if not ok:
                drop.add(i)
        if not drop:
            return sched
        stack = list(drop)
        while stack:
            i = stack.pop()
            for j in inst.tasks[i].succs:
                if j not in drop:
                    drop.add(j)
                    stack.append(j)
        keep = [i for i in sched.start if i not in drop]
        return Schedule(
            start={i: sched.start[i] for i in keep},
            finish={i: sched.finish[i] for i in keep},
            people={i: sched.people[i] for i in keep},
        )

    def hint(self, sched: Schedule) -> None:
        """A complete hint: every variable gets the value it has in ``sched``."""
        self.cp.clear_hints()  # type: ignore[no-untyped-call]
        for t in self.tasks:
            i = t.index
            on = i in sched.start
            self.cp.add_hint(self.assigned[i], on)
            if on:
                st, fi = sched.start[i], sched.finish[i]
            else:  # any consistent values: nothing about them is enforced
                st, fi = self.bounds[i]
                if t.is_team or not t.places:
                    fi = min(fi, st + (t.duration or 1) - 1)
            self.cp.add_hint(self.start[i], st)
            self.cp.add_hint(self.finish[i], fi)
            if i in self.span:
                self.cp.add_hint(self.span[i], fi + 1 - st)
            people = sched.people.get(i, ())
            if i in self.late:
                late = max(0, sched.finish[i] - (t.deadline_idx or 0)) if on else 0
                self.cp.add_hint(self.late[i], late)
            if i in self.done_by:
                self.cp.add_hint(self.done_by[i], sched.finish[i] + 1 if on else 0)
            if t.is_team:
                for places in self.place_groups.get(i, ()):
                    who = {people[k] for k in places if k < len(people)}
                    for q in self.place_cands(t, places[0]):
                        self.cp.add_hint(self.fills[(i, places[0], q)], q in who)
                for q in self.cands(t):
                    if (i, q) in self.member:
                        self.cp.add_hint(self.member[(i, q)], q in people)
            elif (i, 0) in self.pool_place:
                p0 = self.pool_members[self.pool_place[(i, 0)]][0]
                for z, g in self.gap_lits.get((i, p0), ()):
                    c = t.candidates[p0]
                    self.cp.add_hint(z, on and fi - st - (c.duration - 1) == g)
            else:
                for q in self.cands(t):
                    self.cp.add_hint(self.does[(i, q)], q in people)
                    for z, g in self.gap_lits.get((i, q), ()):
                        c = t.candidates[q]
                        self.cp.add_hint(z, q in people and fi - st - (c.duration - 1) == g)

        if self.makespan is not None:
            self.cp.add_hint(self.makespan, max((f + 1 for f in sched.finish.values()), default=0))

    def decode(self, solver: cp_model.CpSolver) -> Schedule:
        sched = Schedule(start={}, finish={}, people={})
        for t in self.tasks:
            i = t.index
            if not solver.boolean_value(self.assigned[i]):
                continue
            sched.start[i] = int(solver.value(self.start[i]))
            sched.finish[i] = int(solver.value(self.finish[i]))
            if (i, 0) in self.pool_place or any(
                (i, k) in self.pool_place for k in range(1, len(t.places))
            ):
                sched.people[i] = ()  # named below, by ``_name_pool_people``
            elif t.is_team:
                filled = self._filled(solver, t)
                sched.people[i] = tuple(filled[k] for k in range(len(t.places)))
            elif t.places:
                sched.people[i] = tuple(
                    p for p in self.cands(t) if solver.boolean_value(self.does[(i, p)])
                )
            else:
                sched.people[i] = ()
        if self.pool_place:
            self._name_pool_people(solver, sched)
        return sched

    def _name_pool_people(self, solver: cp_model.CpSolver, sched: Schedule) -> None:
        """Name the people of places filled from pure pools: per pool, tasks in order of start,
        each place given a member who is free from its start (one whose last task finished
        before). Always succeeds when the pool's load is at most its size (``solver_models.pools``)."""
        per_pool: dict[int, list[tuple[int, int, int, int]]] = {}
        for (i, k), n in self.pool_place.items():
            if i in sched.start:
                per_pool.setdefault(n, []).append((sched.start[i], sched.finish[i], i, k))
        named: dict[tuple[int, int], int] = {}
        for n, items in per_pool.items():
            items.sort()
            free_from = dict.fromkeys(self.pool_members[n], -1)
            for st, fi, i, k in items:
                who = next((p for p, w in free_from.items() if w < st), None)
                if who is None:
                    raise RuntimeError(
                        f"pool {n} over capacity at day {st}: model and decoder disagree"
                    )
                free_from[who] = fi
                named[(i, k)] = who
        for t in self.tasks:
            i = t.index
            if i not in sched.start or not any((i, k) in named for k in range(len(t.places))):
                continue
            filled = self._filled(solver, t) if t.is_team else {}
            filled.update((k, named[(i, k)]) for k in range(len(t.places)) if (i, k) in named)
            sched.people[i] = tuple(filled[k] for k in range(len(t.places)))

    def _filled(self, solver: cp_model.CpSolver, t: TaskInfo) -> dict[int, int]:
        """Who fills each place of an assigned team task that is not filled from a pure pool:
        each group's chosen people, in candidate order, to its places in order."""
        out: dict[int, int] = {}
        for places in self.place_groups.get(t.index, ()):
            k = places[0]
            chosen = [
                p
                for p in self.place_cands(t, k)
                if solver.boolean_value(self.fills[(t.index, k, p)])
            ]
            out.update(zip(places, chosen, strict=True))
        return out


#: above this many raw (task, person) pairs :func:`whole_model_size` does not look for pure pools
#: (the look is linear in the pairs: about 1 s a million in Python)
POOL_SIZE_MAX_PAIRS = 1_000_000


def whole_model_size(instance: Instance) -> int:
    """The size of the whole CP-SAT model in (task, candidate) pairs, as the engine weighs one
    model against LNS: a place filled from a pure pool (``Instance.pools``) counts once,
    whatever the pool's size, because the model has no variable per member for it.

    Without that, a PSPLIB j120 instance (resources of capacity up to a few hundred read as as
    many people) counted tens of thousands of pairs and went to LNS, whose neighbourhoods
    cannot shorten a makespan: 9 of a sample of 100 kept their greedy plan, up to 43 % above
    the best known, where the pooled whole model (a few hundred variables) solves them.
    """
    raw = sum(len(t.candidates) for t in instance.tasks if t.possible)
    if raw > POOL_SIZE_MAX_PAIRS:
        return raw
    pool_place = instance.pools.place
    if not pool_place:
        return raw
    size = 0
    for t in instance.tasks:
        if not t.possible:
            continue
        pooled = [k for k in range(len(t.places)) if (t.index, k) in pool_place]
        if not pooled:
            size += len(t.candidates)
            continue
        people: set[int] = set()
        for k in range(len(t.places)):
            if (t.index, k) not in pool_place:
                people.update(t.place_candidates[k])
        size += len(pooled) + len(people)
    return size
