"""The objective: a documented function of (portfolio, plan) alone. Lower is better.

``makespan`` objective
    ``idx(last finish) + 1`` over all assignments (0 when there are none); every task must be
    assigned, soft deadlines are ignored.

``portfolio`` objective (the default) is lexicographic: four integer terms, compared in order,
combined into one exact integer with weights that provably keep that order.

1. ``undelivered`` = sum over unassigned tasks of ``max(1, round(100 * priority * work_hours))``:
   priority-weighted undelivered work in hundredths of an hour (the contract's *Undelivered work*,
   rounded per task to 0.01 h so that it is an exact integer; at least 0.01 h, so that a wait
   needing nobody is planned too).
2. ``late`` = sum over assigned tasks of ``priority * late_days`` (contract *Late*).
3. ``finish`` = sum over assigned tasks of ``priority * (idx(finish) + 1)``: finish early,
   important work first.
4. ``cost`` = sum over assignments and assignees of
   ``round(100 * hours * (cost_per_hour + OVERQUALIFIED * over_levels + NOT_PREFERRED * [not preferred]))``
   in cents, where ``hours`` = duration x ``hours_per_day`` x ``allocation`` / 100 (the
   assignee's hours), ``over_levels`` = the smallest ``level - min_level`` over the task's places
   the person qualifies for (a senior on junior work), and ``[not preferred]`` is 1 when the task
   has a ``prefer`` list that does not name the person.

``objective = W_U * undelivered + W_L * late + W_F * finish + cost`` with

* ``W_F = C_max + 1`` where ``C_max`` = sum over tasks of (number of places x
  ``ceil(100 x h_max x r_max) + 1``), ``h_max`` the most hours an assignee can spend on the task
  (over the portfolio's ``hours_per_day`` values) and ``r_max`` the highest ``cost_per_hour``
  plus 4 over-qualification levels (plus the preference charge when the task has a ``prefer``
  list): so ``C_max`` >= any plan's ``cost``, and it takes one pass over the tasks;
* ``W_L = W_F * (F_max + 1)`` where ``F_max = sum(priority) * n_working_days`` >= any ``finish``;
* ``W_U = W_L * (L_max + 1)`` where ``L_max = sum(priority) * (n_working_days + 1)`` >= any ``late``.

Each weight exceeds the largest possible total of every term below it, so one unit of a higher
term outweighs any change below it: the order is exactly lexicographic (``test_objective``
checks it). The weights depend only on the portfolio. The combined number is internal to the
search (it gets large: an exact Python integer, up to about 10^29); solvers optimize the terms
one after another, which is the same order.

**What a planner sees** (plan format ``allocator.plan/v2``): the terms themselves, in planner
units and in priority order, each exact in a 64-bit float (:func:`terms_of_key`):
``undelivered_work_hours`` (hours, 2 decimals), ``weighted_late_days``,
``weighted_finish_days`` (integers), ``cost`` (money, 2 decimals); under ``makespan``:
``makespan_days``. A lower bound is a mapping of some or all of the same terms.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from allocator.domain import Person, Place, Plan, Portfolio, Task
from allocator.timeline import Timeline, task_duration

#: Currency units per hour and per level a person exceeds the needed level by.
OVERQUALIFIED = 1.0
#: Currency units per hour of a person not named in a task's ``prefer`` list (when it has one).
NOT_PREFERRED = 25.0


#: the ``portfolio`` objective's terms in a plan, in priority order
PORTFOLIO_TERMS: tuple[str, ...] = (
    "undelivered_work_hours",
    "weighted_late_days",
    "weighted_finish_days",
    "cost",
)
#: the ``makespan`` objective's only term
MAKESPAN_TERMS: tuple[str, ...] = ("makespan_days",)
#: the divisor from each term's internal integer unit to its planner unit
_TERM_SCALE: dict[str, int] = {
    "undelivered_work_hours": 100,  # hundredths of an hour
    "weighted_late_days": 1,
    "weighted_finish_days": 1,
    "cost": 100,  # cents
    "makespan_days": 1,
}
#: the largest integer a 64-bit float holds exactly
MAX_EXACT = 2**53


def term_names(goal: str) -> tuple[str, ...]:
    """The objective's term names for a policy objective (``portfolio`` or ``makespan``)."""
    return MAKESPAN_TERMS if goal == "makespan" else PORTFOLIO_TERMS


def term_value(name: str, units: int) -> float | int:
    """A term in planner units from its internal integer (``units``): hundredths of an hour
    and cents become hours and money with 2 decimals, the others stay integers.

    Raises ``OverflowError`` when the value is not exact in a 64-bit float (|units| >= 2^53):
    a plan never carries a number a JSON reader would round.
    """
    if abs(units) >= MAX_EXACT:
        raise OverflowError(f"{name} = {units} (internal units) is not exact in a float")
    scale = _TERM_SCALE[name]
    return units if scale == 1 else units / scale


def term_units(name: str, value: float | int) -> int:
    """The internal integer of a term from its planner value (inverse of :func:`term_value`)."""
    return round(value * _TERM_SCALE[name])


def terms_of_key(goal: str, key: tuple[int, ...]) -> dict[str, float | int]:
    """A plan's objective terms in planner units from its internal key (ordered)."""
    return {n: term_value(n, k) for n, k in zip(term_names(goal), key, strict=True)}


def gap_of(
    objective: Mapping[str, float | int] | None, bound: Mapping[str, float | int] | None
) -> float | None:
    """The contract's gap: ``(value - bound) / max(|value|, 1)`` of the first term whose bound is
    below its value; 0 when every term is proven; None without a bound for the first term not
    proven. Rounded *up* to 2 decimals (the contract's numbers have at most 2), so a gap is
    never shown smaller than it is and 0 means proven.
    """
    if objective is None or bound is None:
        return None
    for name, value in objective.items():
        b = bound.get(name)
        if b is None:
            return None
        if b < value:
            g = (value - b) / max(abs(value), 1)
            return math.ceil(round(g * 100, 9)) / 100
    return 0.0


def proven(
    objective: Mapping[str, float | int] | None, bound: Mapping[str, float | int] | None
) -> bool:
    """Whether every term of ``objective`` has a bound equal to it (status ``optimal``)."""
    if not objective or bound is None:
        return False
    return all(bound.get(n) == v for n, v in objective.items())


def plan_terms(
    portfolio: Portfolio, plan: Plan, timeline: Timeline | None = None
) -> dict[str, float | int]:
    """The objective's terms of ``plan`` in planner units, evaluated on (portfolio, plan)."""
    tl = timeline or Timeline.of(portfolio)
    if portfolio.policy.goal == "makespan":
        return terms_of_key("makespan", (makespan(portfolio, plan, tl),))
    return terms_of_key("portfolio", evaluate(portfolio, plan, tl).key())


@dataclass(frozen=True, slots=True)
class Terms:
    """The four parts of the ``portfolio`` objective (all exact integers)."""

    undelivered: int
    late: int
    finish: int
    cost: int

    def key(self) -> tuple[int, int, int, int]:
        """Lexicographic comparison key (smaller is better)."""
        return (self.undelivered, self.late, self.finish, self.cost)

    def as_dict(self) -> dict[str, float | int]:
        """The terms in planner units, as a plan carries them (see :func:`terms_of_key`)."""
        return terms_of_key("portfolio", self.key())


@dataclass(frozen=True, slots=True)
class Weights:
    undelivered: int
    late: int
    finish: int
    cost: int = 1

    def combine(self, t: Terms) -> int:
        return (
            self.undelivered * t.undelivered
            + self.late * t.late
            + self.finish * t.finish
            + self.cost * t.cost
        )


def task_units(portfolio: Portfolio, task: Task) -> int:
    """``max(1, round(100 * priority * work_hours))``: what leaving the task unassigned costs.

    At least 1, so that a task without work (a wait, which needs nobody) is still planned.
    """
    return max(1, round(100 * portfolio.task_priority(task) * portfolio.task_work_hours(task)))


def over_levels(task: Task, person: Person, places: Sequence[Place] | None = None) -> int:
    """Smallest excess level over the places the person qualifies for (0 if none).

    ``places``: the task's places, when the caller already has them (they are rebuilt on each
    ``task.places``)."""
    excess = [
        person.level(pl.skill) - pl.min_level
        for pl in (task.places if places is None else dict.fromkeys(places))
        if person.level(pl.skill) >= pl.min_level
    ]
    return min(excess) if excess else 0


def assignee_hours(task: Task, person: Person, days: int | None = None) -> float:
    """Hours of ``person`` on ``task``: duration x hours_per_day x allocation / 100."""
    if days is None:
        days = task_duration(task, None if task.is_team else person)
    return days * person.day_hours * task.alloc / 100.0


def assignee_cost_units(
    task: Task, person: Person, days: int | None = None, places: Sequence[Place] | None = None
) -> int:
    """Cost term of one assignee, in cents (see module docstring).

    ``days``: the task's duration for this person, and ``places`` the task's places, when the
    caller already knows them.
    """
    hours = assignee_hours(task, person, days)
    if task.is_team:
        over = over_levels(task, person, places)
    else:  # one place: the excess over it
        place = task.places[0]
        over = max(0, person.level(place.skill) - place.min_level)
    rate = person.rate + OVERQUALIFIED * over
    if task.prefer and person.id not in task.prefer:
        rate += NOT_PREFERRED
    return round(100 * hours * rate)


_WEIGHTS: dict[int, Weights] = {}


def weights(portfolio: Portfolio, n_days: int | None = None) -> Weights:
    """The weights of the ``portfolio`` objective (see module docstring).

    Computed once per portfolio object (they depend on it alone) and cached while it lives.
    """
    key = id(portfolio)
    cached = _WEIGHTS.get(key)
    if cached is not None:
        return cached
    w = _weights(portfolio, len(Timeline.of(portfolio)) if n_days is None else n_days)
    _WEIGHTS[key] = w
    weakref.finalize(portfolio, _WEIGHTS.pop, key, None)
    return w


def _weights(portfolio: Portfolio, n_days: int) -> Weights:
    hpds = sorted({p.day_hours for p in portfolio.people}) or [8.0]
    max_rate = max((p.rate for p in portfolio.people), default=0.0) + OVERQUALIFIED * 4
    c_max = 0
    prio_sum = 0
    for task in portfolio.tasks_to_plan:
        prio_sum += portfolio.task_priority(task)
        places = len(task.places)
        if places:
            rate = max_rate + (NOT_PREFERRED if task.prefer else 0.0)
            hours = max(_hours_at(task, h) for h in hpds)
            c_max += places * (math.ceil(100 * hours * rate) + 1)
    f_max = prio_sum * n_days
    l_max = prio_sum * (n_days + 1)
    w_f = c_max + 1
    w_l = w_f * (f_max + 1)
    w_u = w_l * (l_max + 1)
    return Weights(undelivered=w_u, late=w_l, finish=w_f)


def _hours_at(task: Task, hours_per_day: float) -> float:
    """An assignee's hours on ``task`` for a person working ``hours_per_day``."""
    days = task_duration(task, Person(id="", hours_per_day=hours_per_day))
    return days * hours_per_day * task.alloc / 100.0


def late_days(portfolio: Portfolio, timeline: Timeline, task: Task, finish_idx: int) -> int:
    """``max(0, idx(finish) - idx(D'))`` with ``D'`` the last working day on or before the deadline."""
    deadline = portfolio.task_deadline(task)
    if deadline is None:
        return 0
    return max(0, finish_idx - timeline.last_on_or_before(deadline))


def evaluate(portfolio: Portfolio, plan: Plan, timeline: Timeline | None = None) -> Terms:
    """The four ``portfolio`` terms of a plan. Unknown tasks and people in the plan are skipped."""
    tl = timeline or Timeline.of(portfolio)
    assigned = {a.task: a for a in plan.assignments}
    undelivered = late = finish = cost = 0
    for task in portfolio.tasks_to_plan:
        a = assigned.get(task.id)
        if a is None:
            undelivered += task_units(portfolio, task)
            continue
        prio = portfolio.task_priority(task)
        f_idx = tl.last_on_or_before(a.finish)
        late += prio * late_days(portfolio, tl, task, f_idx)
        finish += prio * (f_idx + 1)
        for pid in a.people:
            person = portfolio.person_by_id.get(pid)
            if person is not None:
                cost += assignee_cost_units(task, person)
    return Terms(undelivered, late, finish, cost)


def makespan(portfolio: Portfolio, plan: Plan, timeline: Timeline | None = None) -> int:
    """``idx(last finish) + 1`` over all assignments, 0 when there are none."""
    tl = timeline or Timeline.of(portfolio)
    if not plan.assignments:
        return 0
    return max(tl.last_on_or_before(a.finish) for a in plan.assignments) + 1


def plan_key(portfolio: Portfolio, plan: Plan, timeline: Timeline | None = None) -> tuple[int, ...]:
    """The plan's objective as the search compares it: its terms as exact integers in
    priority order (hundredths of hours and cents); smaller is better."""
    tl = timeline or Timeline.of(portfolio)
    if portfolio.policy.goal == "makespan":
        return (makespan(portfolio, plan, tl),)
    return evaluate(portfolio, plan, tl).key()


def objective_value(portfolio: Portfolio, plan: Plan, timeline: Timeline | None = None) -> int:
    """The objective of ``plan`` as one exact integer (the terms combined by :func:`weights`):
    internal to the search, and the ``objective`` of the old ``allocator.plan/v1`` files."""
    tl = timeline or Timeline.of(portfolio)
    if portfolio.policy.goal == "makespan":
        return makespan(portfolio, plan, tl)
    return weights(portfolio, len(tl)).combine(evaluate(portfolio, plan, tl))
