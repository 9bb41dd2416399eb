"""Solver-agnostic solution arrays and their conversion into a contract :class:`Plan`.

Every solver in ``solver_models`` (the greedy list scheduler, the CP-SAT model, LNS) returns a
:class:`Schedule`: plain integer arrays over the compiled :class:`~solver_models.instance.Instance`
(task index -> start day, finish day, person indices). :func:`to_plan` turns one into a
:class:`~allocator.domain.Plan` with the engine's ``hours`` and ``cost`` fields; it judges
nothing (the checker does).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from allocator.domain import (
    Assignment,
    Change,
    ObjectiveTerms,
    Plan,
    PlanStatus,
    Unassigned,
    frozen_map,
)
from solver_models.instance import Instance, TaskInfo

#: Reason given to an unassigned task when neither the caller nor the compiler knows better.
GENERIC_REASON = "not scheduled by the solver"


@dataclass
class Schedule:
    """A solution over an :class:`Instance`: assigned tasks only, by task index.

    ``people[t]`` holds one person index per place of task ``t``, in place order (``()`` for a
    task needing nobody). ``start[t] <= finish[t]`` are working-day indices.
    """

    start: dict[int, int] = field(default_factory=dict)
    finish: dict[int, int] = field(default_factory=dict)
    people: dict[int, tuple[int, ...]] = field(default_factory=dict)

    def assigned(self, task: int) -> bool:
        return task in self.start

    def add(self, task: int, start: int, finish: int, people: Sequence[int]) -> None:
        """Record task ``task`` as assigned."""
        self.start[task] = start
        self.finish[task] = finish
        self.people[task] = tuple(people)

    def __len__(self) -> int:
        return len(self.start)


def is_pinned(info: TaskInfo) -> bool:
    """Whether the portfolio pins the task (``pinned``: a person, a start or both)."""
    return info.task.pinned is not None


def pins_dropped(inst: Instance, sched: Schedule) -> int:
    """The number of pinned tasks that can be assigned at all (``possible`` once compiled)
    and that ``sched`` leaves unassigned.

    The engine's rule: a plan keeps as many pins as it can before the objective counts, so
    plans compare by ``(pins_dropped, objective key)``.
    """
    return sum(1 for t in inst.tasks if is_pinned(t) and t.possible and t.index not in sched.start)


def schedule_key(inst: Instance, sched: Schedule, objective: str) -> tuple[int, ...]:
    """The objective's key of ``sched``, computed on the arrays: THE scorer of candidate
    schedules (the engine, rebalancing and LNS compare schedules by it, with no :class:`Plan`).

    Equal to :func:`allocator.objective.plan_key` of the schedule's plan (``to_plan``): the
    compiler computes ``units``, ``deadline_idx`` and each candidate's ``cost`` with the same
    operations as the objective (``tests/test_pipeline.py`` checks the equality on generated
    portfolios with pins, teams, costs and ``prefer`` lists). ``objective``: the policy's
    ``portfolio`` (four terms) or ``makespan`` (one).
    """
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


def _duration_for(info: TaskInfo, person: int) -> int:
    """Active days of ``info``'s task when ``person`` works on it."""
    cand = info.candidates.get(person)
    if cand is not None:
        return cand.duration
    if info.duration is not None:
        return info.duration
    raise ValueError(
        f"task {info.id}: person {person} is not a candidate and it has no fixed duration"
    )


def assignment_of(instance: Instance, schedule: Schedule, t: int) -> Assignment:
    """The :class:`Assignment` of assigned task ``t`` with its ``hours`` and ``cost``.

    hours = sum over assignees of duration x hours_per_day x allocation / 100;
    cost  = sum over assignees of their hours x cost_per_hour (both rounded to 0.01).
    """
    info = instance.tasks[t]
    hours = 0.0
    cost = 0.0
    ids: list[str] = []
    for p in schedule.people[t]:
        person = instance.people[p]
        h = _duration_for(info, p) * person.day_hours * info.alloc / 100.0
        hours += h
        cost += h * person.rate
        ids.append(person.id)
    return Assignment(
        task=info.id,
        people=tuple(ids),
        start=instance.day(schedule.start[t]),
        finish=instance.day(schedule.finish[t]),
        hours=round(hours, 2),
        cost=round(cost, 2),
    )


def to_plan(
    instance: Instance,
    schedule: Schedule,
    *,
    status: PlanStatus,
    objective: ObjectiveTerms | None,
    lower_bound: ObjectiveTerms | None,
    solve_seconds: float,
    solver: str,
    reasons: Mapping[int, Sequence[str]] | None = None,
) -> Plan:
    """Build the :class:`Plan` of ``schedule``: one entry per task to plan, in task order.

    Unassigned tasks get ``reasons[t]`` when given, else the compiler's ``out_reasons``, else
    :data:`GENERIC_REASON`. ``changes`` lists the tasks with ``change_reasons`` (``None`` when
    there are none). ``extra`` records the solver's name.
    """
    assignments: list[Assignment] = []
    unassigned: list[Unassigned] = []
    changes: list[Change] = []
    for info in instance.tasks:
        t = info.index
        if schedule.assigned(t):
            assignments.append(assignment_of(instance, schedule, t))
        else:
            why: Sequence[str] | None = reasons.get(t) if reasons is not None else None
            if not why:
                why = info.out_reasons or [GENERIC_REASON]
            unassigned.append(Unassigned(task=info.id, reasons=tuple(why)))
        if info.change_reasons:
            # in-progress work its people cannot go on with: forced by the world
            changes.append(Change(task=info.id, reasons=tuple(info.change_reasons), forced=True))
    return Plan(
        portfolio=instance.portfolio.name,
        status=status,
        objective=objective,
        lower_bound=lower_bound,
        solve_seconds=solve_seconds,
        assignments=tuple(assignments),
        unassigned=tuple(unassigned),
        changes=tuple(changes) if changes else None,
        extra=frozen_map({"solver": solver}),
    )


# ---------------------------------------------------------------------------------------------
# All-or-nothing projects (contract rule 10)
# ---------------------------------------------------------------------------------------------
def all_or_nothing_reason(project: str, task: str) -> str:
    """The reason of a task left out because its all-or-nothing ``project`` could not be
    planned whole: ``task`` is the project's task that could not be planned."""
    return f"project {project} is all-or-nothing and its task {task} could not be planned"


def _pin_note(info: TaskInfo) -> str:
    pin = info.task.pinned
    if pin is None:
        return ""
    parts = ([f"to {pin.person}"] if pin.person else []) + (
        [f"on {pin.start}"] if pin.start else []
    )
    return f" (its pin {' '.join(parts)} cannot be kept)"


def _whole_projects(inst: Instance) -> dict[str, list[int]]:
    """All-or-nothing project id -> its tasks to plan (indices, in task order)."""
    whole = {p.id for p in inst.portfolio.projects if p.whole}
    out: dict[str, list[int]] = {}
    if whole:
        for info in inst.tasks:
            if info.task.project in whole:
                out.setdefault(info.task.project, []).append(info.index)
    return out


def all_or_nothing_drops(inst: Instance, sched: Schedule) -> dict[int, str]:
    """The assigned tasks :func:`enforce_all_or_nothing` unassigns, each with its reason.

    A fixpoint of two rules over the tasks ``sched`` assigns:

    * rule 10: a project with ``all_or_nothing`` that has some of its tasks to plan assigned
      and some not loses the assigned ones, with the reason :func:`all_or_nothing_reason`
      naming the project and its first task (in task order) that is not assigned;
    * rule 7: a task whose predecessor is unassigned is unassigned too (transitively), with the
      reason ``its predecessor P is not planned: <the reason of the drop it follows from>``,
      which may in turn make another all-or-nothing project partial.

    Pinned tasks among them say so (``its pin ... cannot be kept``). Pure: ``sched`` is not
    changed. Removing assignments never breaks capacity, so a valid ``sched`` stays valid
    except for rules 9 (makespan) and 1 (unchanged listing).
    """
    projects = _whole_projects(inst)
    if not projects:
        return {}
    dropped: dict[int, str] = {}
    root: dict[int, str] = {}  # the rule-10 reason each drop follows from

    def kept(t: int) -> bool:
        return sched.assigned(t) and t not in dropped

    def drop(t: int, why: str, origin: str) -> None:
        dropped[t] = why + _pin_note(inst.tasks[t])
        root[t] = origin

    changed = True
    while changed:
        changed = False
        stack: list[int] = []
        for pid, tasks in projects.items():
            on = [t for t in tasks if kept(t)]
            if not on or len(on) == len(tasks):
                continue
            culprit = next(t for t in tasks if not kept(t))
            why = all_or_nothing_reason(pid, inst.tasks[culprit].id)
            for t in on:
                drop(t, why, why)
                stack.append(t)
            changed = True
        while stack:
            t = stack.pop()
            for s in inst.tasks[t].succs:
                if kept(s):
                    why = f"its predecessor {inst.tasks[t].id} is not planned: {root[t]}"
                    drop(s, why, root[t])
                    stack.append(s)
    return dropped


def enforce_all_or_nothing(inst: Instance, sched: Schedule) -> Schedule:
    """``sched`` without the tasks of its partially assigned all-or-nothing projects and,
    transitively, their successors (:func:`all_or_nothing_drops`): contract rule 10 holds.

    Returns ``sched`` itself when there is nothing to drop (so a cache keyed by the schedule's
    identity stays right), else a new :class:`Schedule`; ``sched`` is never changed. Use
    :func:`all_or_nothing_drops` on the same ``sched`` for the reasons of the dropped tasks.
    """
    drops = all_or_nothing_drops(inst, sched)
    if not drops:
        return sched
    return replace(
        sched,
        start={t: v for t, v in sched.start.items() if t not in drops},
        finish={t: v for t, v in sched.finish.items() if t not in drops},
        people={t: v for t, v in sched.people.items() if t not in drops},
    )


def mark_all_or_nothing(inst: Instance) -> list[int]:
    """Compile-time half of rule 10: in a project with ``all_or_nothing``, when one task to
    plan cannot be assigned at all (``not possible``: nobody has its skill, no window ...),
    none can, and neither can their successors (transitively, which may reach other such
    projects). Adds the reason to their ``out_reasons`` (so solvers skip them and the engine's
    static reasons carry it), and returns the indices of the tasks it marked.
    """
    projects = _whole_projects(inst)
    marked: list[int] = []
    root: dict[int, str] = {}
    changed = True
    while changed:
        changed = False
        stack: list[int] = []
        for pid, tasks in projects.items():
            out = next((t for t in tasks if not inst.tasks[t].possible), None)
            if out is None:
                continue
            why = all_or_nothing_reason(pid, inst.tasks[out].id)
            for t in tasks:
                if inst.tasks[t].possible:
                    inst.tasks[t].out_reasons.append(why + _pin_note(inst.tasks[t]))
                    root[t] = why
                    marked.append(t)
                    stack.append(t)
                    changed = True
        while stack:
            t = stack.pop()
            for s in inst.tasks[t].succs:
                if inst.tasks[s].possible:
                    why = f"its predecessor {inst.tasks[t].id} cannot be assigned: {root[t]}"
                    inst.tasks[s].out_reasons.append(why + _pin_note(inst.tasks[s]))
                    root[s] = root[t]
                    marked.append(s)
                    stack.append(s)
    return marked
