"""Solver-agnostic solution arrays and their conversion into a contract :class:`Plan`.

Every solver in ``solver_models`` (the greedy list scheduler, the CP-SAT model, LNS) returns a
:class:`Schedule`: plain integer arrays over the compiled :class:`~solver_models.instance.Instance`
(task index -> start day, finish day, person indices). :func:`to_plan` turns one into a
:class:`~allocator.domain.Plan` with the engine's ``hours`` and ``cost`` fields; it judges
nothing (the checker does).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from allocator.domain import Assignment, Change, Plan, PlanStatus, Unassigned, frozen_map
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
        h = _duration_for(info, p) * person.hpd * info.alloc / 100.0
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
    objective: float | int | None,
    lower_bound: float | int | None,
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
            changes.append(Change(task=info.id, reasons=tuple(info.change_reasons)))
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
