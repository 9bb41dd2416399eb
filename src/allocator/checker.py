"""The independent plan checker: is a plan valid for a portfolio, and what does it measure?

*Why one file of over 800 lines*: it is the contract's rule list, one method per rule, with the
definitions it recomputes on purpose (active days, durations, matching, lateness) kept beside
the rules that use them, so that a reader can audit the checker against the contract in one
place and nothing in it is shared with the solver side.

:func:`check` judges a plan against the contract's *What makes a plan valid*, rules 1-10
(``shared/contract/README.md``), plus plan-level consistency (rule ``0``: status, objective,
bound, portfolio name), and computes the contract's *Measures* (:class:`Kpis`).

It is deliberately **independent** of the solvers: plain Python, no OR-Tools, no compiled
model data. Availability, capacity, durations and active days are recomputed here, directly from
the contract's date-based definitions, so that a bug in the solver's compilation cannot hide
itself. Only the list of working days (:class:`~allocator.timeline.Timeline`) and the objective
function (:mod:`allocator.objective`, which *defines* the number a plan must report) are shared.
For the same reason the checker keeps, on purpose, its own bipartite matching of people to
places (rule 2; the solver side and the analytics share :mod:`solver_models.matching`) and its
own *Late* (the library's is :func:`allocator.objective.late_days`), each written from the
contract's text; the plan analytics (:mod:`allocator.analytics`) are tested to agree with it.

Conventions:

* When a task is listed more than once, its first assignment (in plan order) is the one judged
  by rules 2-8 and counted in the measures; the repetition itself is a rule-1 violation.
* Assignments of unknown or not-to-plan tasks are reported under rule 1 and otherwise ignored.
* Unknown people are reported under rule 2 and otherwise ignored (they constrain no active day
  and load no capacity).
* Under rule 7, a predecessor that the plan lists as unassigned gives ``successor_of_unassigned``;
  one the plan does not list at all gives ``predecessor_unassigned`` (besides ``missing_task``).
* Violations are ordered by rule, then in plan order (capacity: person, then day).

Codes, by rule: 0 ``portfolio_name``, ``status_unassigned``, ``objective_status``,
``bound_terms``, ``bound_above_objective``, ``optimal_gap``, ``gap_mismatch``; 1 ``missing_task``, ``duplicate_task``,
``unknown_task``, ``not_planned_listed``; 2 ``distinct_people``, ``excluded_person``,
``unknown_person``, ``place_count``, ``skill_matching``; 3 ``pin_person``, ``pin_start``;
4 ``start_not_active``, ``finish_not_active``, ``duration``; 5 ``capacity``;
6 ``before_earliest_start``, ``after_horizon``; 7 ``predecessor_unassigned``,
``predecessor_order``, ``successor_of_unassigned``; 8 ``late_hard_deadline``;
9 ``makespan_unassigned``; 10 ``all_or_nothing_partial``. Apart from them, *stale* (see
:attr:`CheckResult.stale`): ``objective_mismatch``, the declared objective terms differ from the
plan evaluated on this portfolio (the portfolio changed since the plan was made).
"""

from __future__ import annotations

import bisect
import logging
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType
from typing import Any

from allocator import objective as objective_fn
from allocator.domain import WEEKDAYS, Assignment, Person, Place, Plan, Portfolio, Task
from allocator.timeline import Timeline

log = logging.getLogger(__name__)

#: Tolerance on capacity sums (percent).
CAPACITY_TOLERANCE = 1e-9
#: Relative tolerance when comparing a declared objective that is not an exact integer.
OBJECTIVE_REL_TOLERANCE = 1e-6
#: Relative tolerance of ``lower_bound <= objective`` (and of ``==`` for ``optimal``).
BOUND_REL_TOLERANCE = 1e-9
#: Floats up to this magnitude represent integers exactly.
_EXACT_FLOAT_INT = 2**53


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule. ``rule`` is the contract's rule number (1-10), 0 for plan consistency."""

    rule: int
    code: str
    message: str
    task: str | None = None
    person: str | None = None
    day: date | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "code": self.code,
            "message": self.message,
            "task": self.task,
            "person": self.person,
            "day": None if self.day is None else self.day.isoformat(),
        }

    def __str__(self) -> str:
        return f"rule {self.rule} [{self.code}]: {self.message}"


@dataclass(frozen=True)
class Kpis:
    """The contract's *Measures* of a plan, plus utilization.

    Hours count active days (contract *Hours*); ``utilization`` divides the planned hours by the
    hours the people could work over the horizon (capacity / 100 x ``hours_per_day`` summed over
    the working days).
    """

    tasks_to_plan: int
    assigned: int
    unassigned: int
    assigned_share: float
    undelivered_work_hours: float
    undelivered_work_hours_unweighted: float
    late_tasks: int
    weighted_late_days: int
    makespan_days: int
    total_hours: float
    total_cost: float
    utilization: float
    utilization_by_person: Mapping[str, float]
    objective_terms: Mapping[str, float | int] | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "tasks_to_plan": self.tasks_to_plan,
            "assigned": self.assigned,
            "unassigned": self.unassigned,
            "assigned_share": self.assigned_share,
            "undelivered_work_hours": self.undelivered_work_hours,
            "undelivered_work_hours_unweighted": self.undelivered_work_hours_unweighted,
            "late_tasks": self.late_tasks,
            "weighted_late_days": self.weighted_late_days,
            "makespan_days": self.makespan_days,
            "total_hours": self.total_hours,
            "total_cost": self.total_cost,
            "utilization": self.utilization,
            "utilization_by_person": dict(self.utilization_by_person),
            "objective_terms": None if self.objective_terms is None else dict(self.objective_terms),
        }


@dataclass(frozen=True)
class CheckResult:
    """Every violation found (none: the plan is valid) and the plan's measures."""

    violations: tuple[Violation, ...]
    kpis: Kpis
    #: the plan's declared figures that no longer match this portfolio (code
    #: ``objective_mismatch``): the plan is *stale* (re-plan or re-score it), which is not a
    #: rule violation, so it does not make the plan invalid
    stale: tuple[Violation, ...] = ()

    @property
    def valid(self) -> bool:
        return not self.violations

    @property
    def current(self) -> bool:
        """Whether the plan's figures match this portfolio (not stale)."""
        return not self.stale

    def codes(self) -> list[str]:
        """The violations' codes, in order (handy in tests and logs)."""
        return [v.code for v in self.violations]

    def as_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "violations": [v.as_dict() for v in self.violations],
            "stale": [v.as_dict() for v in self.stale],
            "kpis": self.kpis.as_dict(),
        }


# ---------------------------------------------------------------------------------------------
# Contract definitions, recomputed from dates
# ---------------------------------------------------------------------------------------------
def effort_days(hours: float, person: Person, allocation: int) -> int:
    """``ceil(round(hours / (hours_per_day * allocation / 100), 9))`` (contract *Duration*)."""
    per_day = person.day_hours * allocation / 100.0
    return math.ceil(round(hours / per_day, 9))


def expected_duration(task: Task, person: Person | None) -> int | None:
    """The task's duration in active days when done by ``person`` (contract *Duration*).

    ``None`` when the duration depends on the person (effort / remaining hours) and no single
    known person does the task, or when the task gives no amount at all.
    """
    if task.state == "in_progress" and task.progress is not None:
        if task.progress.remaining_days is not None:
            return int(task.progress.remaining_days)
        if task.progress.remaining_hours is not None:
            if person is None:
                return None
            return effort_days(float(task.progress.remaining_hours), person, task.alloc)
    if task.duration_days is not None:
        return int(task.duration_days)
    if task.effort_hours is not None and person is not None:
        return effort_days(float(task.effort_hours), person, task.alloc)
    return None


@dataclass(frozen=True, slots=True)
class _PersonDays:
    """A person's available working days and capacity (percent) on each of them."""

    available: frozenset[date]
    capacity: Mapping[date, float]


def _person_days(portfolio: Portfolio, working_days: Sequence[date], p: Person) -> _PersonDays:
    """Contract *person*: between available_from/until, in their week, in no time_off range."""
    week = set(portfolio.workdays_of(p))
    capacity: dict[date, float] = {}
    for d in working_days:
        if p.available_from is not None and d < p.available_from:
            continue
        if p.available_until is not None and d > p.available_until:
            continue
        if WEEKDAYS[d.weekday()] not in week:
            continue
        if any(r.start <= d <= r.end for r in p.time_off):
            continue
        percents = [float(r.percent) for r in p.reduced_capacity if r.start <= d <= r.end]
        capacity[d] = min(percents) if percents else 100.0
    return _PersonDays(frozenset(capacity), MappingProxyType(capacity))


def _why_unavailable(portfolio: Portfolio, p: Person, d: date) -> str:
    if p.available_from is not None and d < p.available_from:
        return f"joins on {p.available_from}"
    if p.available_until is not None and d > p.available_until:
        return f"left after {p.available_until}"
    if WEEKDAYS[d.weekday()] not in portfolio.workdays_of(p):
        return f"does not work on {WEEKDAYS[d.weekday()]}"
    if any(r.start <= d <= r.end for r in p.time_off):
        return "is on time off"
    return "is not available"


def _matching_size(people: Sequence[Person], places: Sequence[Place]) -> int:
    """Largest number of places filled by distinct qualified people (augmenting paths).

    The checker's own, on purpose (independence): not :mod:`solver_models.matching`."""
    holder: list[int | None] = [None] * len(places)  # place -> index of the person in it

    def place_person(i: int, seen: set[int]) -> bool:
        for j, pl in enumerate(places):
            if j in seen or people[i].level(pl.skill) < pl.min_level:
                continue
            seen.add(j)
            other = holder[j]
            if other is None or place_person(other, seen):
                holder[j] = i
                return True
        return False

    return sum(1 for i in range(len(people)) if place_person(i, set()))


def _is_exact_int(x: float | int) -> bool:
    if isinstance(x, bool):
        return False
    if isinstance(x, int):
        return True
    return isinstance(x, float) and x.is_integer() and abs(x) <= _EXACT_FLOAT_INT


def _equal(a: float | int, b: float | int, rel: float) -> bool:
    if _is_exact_int(a) and _is_exact_int(b):
        return int(a) == int(b)
    return math.isclose(float(a), float(b), rel_tol=rel, abs_tol=rel)


def _at_most(a: float | int, b: float | int, rel: float) -> bool:
    if _is_exact_int(a) and _is_exact_int(b):
        return int(a) <= int(b)
    return float(a) <= float(b) + rel * max(1.0, abs(float(b)))


# ---------------------------------------------------------------------------------------------
# The shared view of (portfolio, plan)
# ---------------------------------------------------------------------------------------------
class _Context:
    """Working days, availability per person, and the judged assignment of each task."""

    def __init__(self, portfolio: Portfolio, plan: Plan) -> None:
        self.portfolio = portfolio
        self.plan = plan
        self.timeline = Timeline.of(portfolio)
        self.days: tuple[date, ...] = self.timeline.days
        self.person_days = {p.id: _person_days(portfolio, self.days, p) for p in portfolio.people}
        # The judged assignment of each known task to plan: its first one in plan order.
        self.assignment: dict[str, Assignment] = {}
        for a in plan.assignments:
            task = portfolio.task_by_id.get(a.task)
            if task is not None and task.to_plan and a.task not in self.assignment:
                self.assignment[a.task] = a
        self.listed_unassigned = {u.task for u in plan.unassigned}
        self.active = {tid: self._active_days(a) for tid, a in self.assignment.items()}

    def assignees(self, a: Assignment) -> list[Person]:
        """The known people of an assignment, each once, in plan order."""
        out: list[Person] = []
        for pid in dict.fromkeys(a.people):
            person = self.portfolio.person_by_id.get(pid)
            if person is not None:
                out.append(person)
        return out

    def span(self, start: date, finish: date) -> tuple[date, ...]:
        """The working days from ``start`` to ``finish`` inclusive."""
        lo = bisect.bisect_left(self.days, start)
        hi = bisect.bisect_right(self.days, finish)
        return self.days[lo:hi]

    def _active_days(self, a: Assignment) -> list[date]:
        """Working days of the span on which every (known) assignee is available."""
        avail = [self.person_days[p.id].available for p in self.assignees(a)]
        return [d for d in self.span(a.start, a.finish) if all(d in s for s in avail)]

    def finish_idx(self, d: date) -> int:
        """``idx`` of the last working day on or before ``d`` (``-1`` when none)."""
        return bisect.bisect_right(self.days, d) - 1

    def late_days(self, task: Task, finish: date) -> int:
        """Contract *Late*: ``max(0, idx(finish) - idx(D'))``. The checker's own, on purpose
        (independence): not :func:`allocator.objective.late_days`."""
        deadline = self.portfolio.task_deadline(task)
        if deadline is None:
            return 0
        return max(0, self.finish_idx(finish) - self.finish_idx(deadline))

    def day_kind(self, d: date) -> str:
        """Why ``d`` is not a working day."""
        cal = self.portfolio.calendar
        if d < cal.start or d > cal.end:
            return f"outside the calendar {cal.start}..{cal.end}"
        if d in cal.holidays:
            return "a holiday"
        return f"a {WEEKDAYS[d.weekday()]}, not a calendar workday"


# ---------------------------------------------------------------------------------------------
# The rules
# ---------------------------------------------------------------------------------------------
class _Checker:
    def __init__(self, ctx: _Context) -> None:
        self.ctx = ctx
        self.portfolio = ctx.portfolio
        self.plan = ctx.plan
        self.out: list[Violation] = []
        #: figures that no longer match this portfolio (see ``objective_consistency``)
        self.stale: list[Violation] = []

    def add(
        self,
        rule: int,
        code: str,
        message: str,
        *,
        task: str | None = None,
        person: str | None = None,
        day: date | None = None,
    ) -> None:
        self.out.append(Violation(rule, code, message, task, person, day))

    def run(self) -> tuple[Violation, ...]:
        self.plan_level()
        self.rule1_listing()
        judged = {id(a) for a in self.ctx.assignment.values()}
        for a in self.plan.assignments:
            if id(a) in judged:
                task = self.portfolio.task_by_id[a.task]
                self.rule2_people(task, a)
                self.rule3_pin(task, a)
                self.rule4_active_days(task, a)
                self.rule6_window(task, a)
                self.rule7_predecessors(task, a)
                self.rule8_hard_deadline(task, a)
        self.rule5_capacity()
        self.rule9_makespan()
        self.rule10_all_or_nothing()
        self.objective_consistency()
        return tuple(sorted(self.out, key=lambda v: v.rule))

    # -- rule 0 --------------------------------------------------------------------------------
    def plan_level(self) -> None:
        if self.plan.portfolio != self.portfolio.name:
            self.add(
                0,
                "portfolio_name",
                f"the plan is for portfolio {self.plan.portfolio!r}, not {self.portfolio.name!r}",
            )
        if self.plan.status in ("infeasible", "unknown"):
            for a in self.plan.assignments:
                self.add(
                    0,
                    "status_unassigned",
                    f"task {a.task} is assigned although the status is {self.plan.status} "
                    "(every task must be unassigned)",
                    task=a.task,
                )

    def objective_consistency(self) -> None:
        """Rule 0 on the plan's figures (``allocator.plan/v2``): an ``optimal`` or ``feasible``
        plan gives its objective terms and an ``infeasible`` or ``unknown`` one none; each
        bound term is a term of the objective and at most its value; ``optimal`` needs every
        term proven; ``gap`` is the contract's gap of those figures. These are violations.

        Whether the declared terms still equal the plan evaluated on *this* portfolio is a
        different question: a plan made before the portfolio changed (a new estimate, a new
        priority) is *stale*, not invalid; that goes to :attr:`CheckResult.stale`.
        """
        plan = self.plan
        declared = plan.objective
        if plan.status in ("infeasible", "unknown"):
            if declared is not None or plan.lower_bound is not None:
                self.add(
                    0,
                    "objective_status",
                    f"objective and lower bound must be null when the status is {plan.status}",
                )
            return
        if declared is None:
            self.add(0, "objective_status", f"a {plan.status} plan must give its objective")
            return
        bound = plan.lower_bound or {}
        for name, b in bound.items():
            if name not in declared:
                self.add(0, "bound_terms", f"lower bound term {name!r} is not in the objective")
            elif not _at_most(b, declared[name], BOUND_REL_TOLERANCE):
                self.add(
                    0,
                    "bound_above_objective",
                    f"the lower bound of {name}, {b}, exceeds its value {declared[name]}",
                )
        if plan.status == "optimal" and not objective_fn.proven(declared, plan.lower_bound):
            self.add(
                0,
                "optimal_gap",
                "status optimal needs every objective term's lower bound equal to its value",
            )
        expected_gap = objective_fn.gap_of(declared, plan.lower_bound)
        if plan.gap != expected_gap and not (
            plan.gap is not None
            and expected_gap is not None
            and _equal(plan.gap, expected_gap, BOUND_REL_TOLERANCE)
        ):
            self.add(
                0,
                "gap_mismatch",
                f"the plan declares gap {plan.gap}, its objective and bound give {expected_gap}",
            )
        try:
            expected = objective_fn.plan_terms(self.portfolio, plan, self.ctx.timeline)
        except (ValueError, ArithmeticError) as exc:
            self.stale.append(
                Violation(0, "objective_mismatch", f"the objective cannot be evaluated: {exc}")
            )
            return
        if list(declared) != list(expected) or any(
            not _equal(declared[n], v, OBJECTIVE_REL_TOLERANCE) for n, v in expected.items()
        ):
            self.stale.append(
                Violation(
                    0,
                    "objective_mismatch",
                    f"the plan declares objective {dict(declared)}, evaluated on this "
                    f"portfolio it is {expected}",
                )
            )

    # -- rule 1 --------------------------------------------------------------------------------
    def rule1_listing(self) -> None:
        listed = [a.task for a in self.plan.assignments] + [u.task for u in self.plan.unassigned]
        counts = Counter(listed)
        for tid in dict.fromkeys(listed):
            task = self.portfolio.task_by_id.get(tid)
            if task is None:
                self.add(1, "unknown_task", f"task {tid} is not in the portfolio", task=tid)
            elif not task.to_plan:
                self.add(
                    1,
                    "not_planned_listed",
                    f"task {tid} is {task.state} and must not be listed in the plan",
                    task=tid,
                )
            elif counts[tid] > 1:
                self.add(
                    1,
                    "duplicate_task",
                    f"task {tid} is listed {counts[tid]} times (assignments and unassigned)",
                    task=tid,
                )
        for task in self.portfolio.tasks_to_plan:
            if task.id not in counts:
                self.add(
                    1,
                    "missing_task",
                    f"task {task.id} is neither assigned nor listed as unassigned",
                    task=task.id,
                )

    # -- rule 2 --------------------------------------------------------------------------------
    def rule2_people(self, task: Task, a: Assignment) -> None:
        tid = task.id
        ok = True
        for pid, n in Counter(a.people).items():
            if n > 1:
                ok = False
                self.add(
                    2,
                    "distinct_people",
                    f"person {pid} is listed {n} times on task {tid}",
                    task=tid,
                    person=pid,
                )
        for pid in dict.fromkeys(a.people):
            if pid not in self.portfolio.person_by_id:
                ok = False
                self.add(
                    2,
                    "unknown_person",
                    f"task {tid} is assigned to unknown person {pid}",
                    task=tid,
                    person=pid,
                )
            elif pid in task.exclude:
                self.add(
                    2,
                    "excluded_person",
                    f"person {pid} is excluded from task {tid}",
                    task=tid,
                    person=pid,
                )
        places = task.places
        if len(a.people) != len(places):
            ok = False
            self.add(
                2,
                "place_count",
                f"task {tid} has {len(places)} place(s) but {len(a.people)} people",
                task=tid,
            )
        if ok and places:
            people = self.ctx.assignees(a)
            filled = _matching_size(people, places)
            if filled < len(places):
                wanted = ", ".join(f"{pl.skill}>={pl.min_level}" for pl in places)
                who = ", ".join(f"{p.id} {dict(p.skills)}" for p in people)
                self.add(
                    2,
                    "skill_matching",
                    f"task {tid}: its places ({wanted}) cannot be matched one-to-one to "
                    f"qualified people among {who}; at most {filled} can be filled",
                    task=tid,
                )

    # -- rule 3 --------------------------------------------------------------------------------
    def rule3_pin(self, task: Task, a: Assignment) -> None:
        pin = task.pinned
        if pin is None:
            return
        if pin.person is not None and pin.person not in a.people:
            self.add(
                3,
                "pin_person",
                f"task {task.id} is pinned to person {pin.person}, who is not among its people",
                task=task.id,
                person=pin.person,
            )
        if pin.start is not None and pin.start != a.start:
            self.add(
                3,
                "pin_start",
                f"task {task.id} is pinned to start on {pin.start} but starts on {a.start}",
                task=task.id,
                day=a.start,
            )

    # -- rule 4 --------------------------------------------------------------------------------
    def _inactive_reason(self, a: Assignment, d: date) -> tuple[str, str | None]:
        """Why ``d`` is not an active day of ``a``: a sentence and the person concerned."""
        if self.ctx.timeline.idx(d) is None:
            return f"{d} is {self.ctx.day_kind(d)}", None
        for p in self.ctx.assignees(a):
            if d not in self.ctx.person_days[p.id].available:
                return f"person {p.id} {_why_unavailable(self.portfolio, p, d)} on {d}", p.id
        return f"{d} is outside the task's span", None

    def rule4_active_days(self, task: Task, a: Assignment) -> None:
        tid = task.id
        active = self.ctx.active[tid]
        active_set = set(active)
        for code, d, which in (
            ("start_not_active", a.start, "starts"),
            ("finish_not_active", a.finish, "finishes"),
        ):
            if d not in active_set:
                why, pid = self._inactive_reason(a, d)
                self.add(
                    4,
                    code,
                    f"task {tid} {which} on {d}, which is not an active day: {why}",
                    task=tid,
                    person=pid,
                    day=d,
                )
        if a.finish < a.start:
            self.add(
                4,
                "duration",
                f"task {tid} finishes on {a.finish}, before its start {a.start}",
                task=tid,
            )
            return
        people = self.ctx.assignees(a)
        person = people[0] if len(people) == 1 and not task.is_team else None
        expected = expected_duration(task, person)
        if expected is not None and len(active) != expected:
            self.add(
                4,
                "duration",
                f"task {tid} has {len(active)} active day(s) from {a.start} to {a.finish}, "
                f"its duration is {expected}",
                task=tid,
            )

    # -- rule 5 --------------------------------------------------------------------------------
    def rule5_capacity(self) -> None:
        load: dict[tuple[str, date], float] = {}
        tasks_on: dict[tuple[str, date], list[str]] = {}
        for tid, a in self.ctx.assignment.items():
            alloc = self.portfolio.task_by_id[tid].alloc
            for p in self.ctx.assignees(a):
                for d in self.ctx.active[tid]:
                    key = (p.id, d)
                    load[key] = load.get(key, 0.0) + alloc
                    tasks_on.setdefault(key, []).append(tid)
        order = {p.id: i for i, p in enumerate(self.portfolio.people)}
        for (pid, d), used in sorted(load.items(), key=lambda kv: (order[kv[0][0]], kv[0][1])):
            cap = self.ctx.person_days[pid].capacity.get(d, 0.0)
            if used > cap + CAPACITY_TOLERANCE:
                names = ", ".join(tasks_on[(pid, d)])
                self.add(
                    5,
                    "capacity",
                    f"person {pid} is booked {used:g}% on {d} ({names}), "
                    f"above their capacity of {cap:g}%",
                    person=pid,
                    day=d,
                )

    # -- rule 6 --------------------------------------------------------------------------------
    def rule6_window(self, task: Task, a: Assignment) -> None:
        earliest = self.portfolio.task_earliest_start(task)
        if a.start < earliest:
            self.add(
                6,
                "before_earliest_start",
                f"task {task.id} starts on {a.start}, before its earliest start {earliest}",
                task=task.id,
                day=a.start,
            )
        end = self.portfolio.calendar.end
        if a.finish > end:
            self.add(
                6,
                "after_horizon",
                f"task {task.id} finishes on {a.finish}, after the calendar's end {end}",
                task=task.id,
                day=a.finish,
            )

    # -- rule 7 --------------------------------------------------------------------------------
    def rule7_predecessors(self, task: Task, a: Assignment) -> None:
        for pred_id in dict.fromkeys(task.predecessors):
            pred = self.portfolio.task_by_id.get(pred_id)
            if pred is None or not pred.to_plan:
                continue  # done / cancelled predecessors are satisfied
            pa = self.ctx.assignment.get(pred_id)
            if pa is None and pred_id in self.ctx.listed_unassigned:
                self.add(
                    7,
                    "successor_of_unassigned",
                    f"task {task.id} is assigned but its predecessor {pred_id} is unassigned",
                    task=task.id,
                )
            elif pa is None:
                self.add(
                    7,
                    "predecessor_unassigned",
                    f"task {task.id} is assigned but its predecessor {pred_id} is not",
                    task=task.id,
                )
            elif not pa.finish < a.start:
                self.add(
                    7,
                    "predecessor_order",
                    f"task {task.id} starts on {a.start}, not after its predecessor "
                    f"{pred_id} finishes ({pa.finish})",
                    task=task.id,
                    day=a.start,
                )

    # -- rule 8 --------------------------------------------------------------------------------
    def rule8_hard_deadline(self, task: Task, a: Assignment) -> None:
        if not self.portfolio.policy.deadlines_hard:
            return
        late = self.ctx.late_days(task, a.finish)
        if late > 0:
            self.add(
                8,
                "late_hard_deadline",
                f"task {task.id} finishes on {a.finish}, {late} working day(s) after its "
                f"hard deadline {self.portfolio.task_deadline(task)}",
                task=task.id,
                day=a.finish,
            )

    # -- rule 9 --------------------------------------------------------------------------------
    def rule9_makespan(self) -> None:
        if self.portfolio.policy.goal != "makespan":
            return
        if self.plan.status in ("infeasible", "unknown"):
            return
        for u in self.plan.unassigned:
            self.add(
                9,
                "makespan_unassigned",
                f"task {u.task} is unassigned, which the makespan objective does not allow",
                task=u.task,
            )

    # -- rule 10 -------------------------------------------------------------------------------
    def rule10_all_or_nothing(self) -> None:
        """A project with ``all_or_nothing`` has all of its tasks to plan assigned, or none:
        ``0 < |assigned ∩ T_p| < |T_p|`` is a violation, ``T_p`` the project's tasks to plan.
        One violation per project, on its first task to plan that is not assigned."""
        for project in self.portfolio.projects:
            if not project.whole:
                continue
            to_plan = [t.id for t in project.tasks if t.to_plan]
            missing = [tid for tid in to_plan if tid not in self.ctx.assignment]
            if missing and len(missing) < len(to_plan):
                shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
                self.add(
                    10,
                    "all_or_nothing_partial",
                    f"project {project.id} is all-or-nothing but {len(to_plan) - len(missing)} "
                    f"of its {len(to_plan)} tasks to plan are assigned (not assigned: {shown})",
                    task=missing[0],
                )


# ---------------------------------------------------------------------------------------------
# Measures
# ---------------------------------------------------------------------------------------------
def _kpis(ctx: _Context) -> Kpis:
    portfolio = ctx.portfolio
    to_plan = portfolio.tasks_to_plan
    undelivered = undelivered_unweighted = 0.0
    late_tasks = weighted_late = 0
    for task in to_plan:
        a = ctx.assignment.get(task.id)
        if a is None:
            work = portfolio.task_work_hours(task)
            undelivered += portfolio.task_priority(task) * work
            undelivered_unweighted += work
            continue
        late = ctx.late_days(task, a.finish)
        if late > 0:
            late_tasks += 1
            weighted_late += portfolio.task_priority(task) * late
    n_assigned = len(ctx.assignment)
    makespan = max((ctx.finish_idx(a.finish) + 1 for a in ctx.assignment.values()), default=0)

    hours_of = {p.id: 0.0 for p in portfolio.people}
    total_cost = 0.0
    for tid, a in ctx.assignment.items():
        task = portfolio.task_by_id[tid]
        days = len(ctx.active[tid])
        for p in ctx.assignees(a):
            h = days * p.day_hours * task.alloc / 100.0
            hours_of[p.id] += h
            total_cost += h * p.rate
    available_of = {
        p.id: sum(c / 100.0 * p.day_hours for c in ctx.person_days[p.id].capacity.values())
        for p in portfolio.people
    }
    total_hours = sum(hours_of.values())
    total_available = sum(available_of.values())
    by_person = {
        pid: (hours_of[pid] / available_of[pid] if available_of[pid] > 0 else 0.0)
        for pid in hours_of
    }
    terms: Mapping[str, float | int] | None = None
    if portfolio.policy.goal == "portfolio":
        try:
            terms = objective_fn.evaluate(portfolio, ctx.plan, ctx.timeline).as_dict()
        except (ValueError, ArithmeticError) as exc:
            log.warning("objective terms not computable: %s", exc)
    return Kpis(
        tasks_to_plan=len(to_plan),
        assigned=n_assigned,
        unassigned=len(to_plan) - n_assigned,
        assigned_share=n_assigned / len(to_plan) if to_plan else 1.0,
        undelivered_work_hours=undelivered,
        undelivered_work_hours_unweighted=undelivered_unweighted,
        late_tasks=late_tasks,
        weighted_late_days=weighted_late,
        makespan_days=makespan,
        total_hours=total_hours,
        total_cost=total_cost,
        utilization=total_hours / total_available if total_available > 0 else 0.0,
        utilization_by_person=MappingProxyType(by_person),
        objective_terms=None if terms is None else MappingProxyType(dict(terms)),
    )


# ---------------------------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------------------------
def check(portfolio: Portfolio, plan: Plan) -> CheckResult:
    """Judge ``plan`` against the contract's rules and compute its measures."""
    ctx = _Context(portfolio, plan)
    checker = _Checker(ctx)
    violations = checker.run()
    result = CheckResult(violations, _kpis(ctx), tuple(checker.stale))
    log.debug(
        "checked plan for %s: %d violation(s) %s",
        portfolio.name,
        len(violations),
        sorted({v.code for v in violations}),
    )
    return result


def kpis(portfolio: Portfolio, plan: Plan) -> Kpis:
    """The plan's measures alone (see :class:`Kpis`)."""
    return _kpis(_Context(portfolio, plan))
