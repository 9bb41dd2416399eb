"""Size limits: how big an input may be, so the work it causes is bounded.

Every other module may assume what these limits guarantee: a portfolio that passes them has a
bounded number of places (so :attr:`allocator.domain.Task.places` is small), a calendar the
:class:`~allocator.timeline.Timeline` can walk day by day, and amounts whose products (hours x
rate x 100 cents, priority x work x 100) stay far inside a 64-bit integer, so no
``OverflowError`` can arise in the objective, the bounds or the CP-SAT model.

The limits (defaults of :data:`LIMITS`, a frozen :class:`SizeLimits`):

=====================  ===============  =====================================================
limit                  default          what it bounds
=====================  ===============  =====================================================
``max_people``         10,000           people of a portfolio
``max_tasks``          100,000          tasks of a portfolio (all projects)
``max_places``         200,000          places of the tasks (sum of team ``count``; a skill
                                        task has one)
``max_calendar_days``  7,305            days of the calendar, ``start`` .. ``end`` inclusive
                                        (20 years)
``max_person_days``    20,000,000       people x calendar days (the availability arrays)
``last_date``          9999-12-30       latest calendar ``end`` (the day after it must exist)
``min_hours_per_day``  0.25             ``hours_per_day`` is in 0.25 .. 24
``max_cost_per_hour``  100,000          ``cost_per_hour``
``max_budget``         10**12           project ``budget``
``max_effort_hours``   100,000          ``effort_hours``, ``remaining_hours``, an effort
                                        task's ``estimate``
``max_priority``       10,000           task and project ``priority``
``max_policy_number``  1,000,000        ``freeze_days``, ``churn_budget``, ``stability``
=====================  ===============  =====================================================

Besides, a team requirement asks for no more places (``count``) than there are people who have
its skill at its level (a single place nobody can fill stays a warning of
:mod:`allocator.validation`: the task is left unassigned with its reason), ``duration_days``,
``remaining_days`` and a duration task's ``estimate`` are at most ``max_calendar_days``, and a plan sent to the checker lists
at most twice as many assignments (and assignees) as the portfolio has tasks (and places), each
dated within the calendar (:func:`plan_issues`).

:func:`portfolio_limits` runs before every other rule of :func:`allocator.validation.validate`;
when a *size* is over (people, tasks, places, the calendar) the other rules do not run: they may
expand places or walk the calendar, which is exactly the unbounded work these limits prevent.
Amounts over their limits are reported along with every other rule's problems. Each problem is an
:class:`~allocator.errors.Issue` with its JSON path and a message naming the id and the limit.
The checks here look at each value once: their own work is linear in the input's size.

The module is plain Python: no solver, dataframe or web imports.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import date

from allocator.domain import Plan, Portfolio, Task
from allocator.errors import Issue


@dataclass(frozen=True, slots=True)
class SizeLimits:
    """The size limits (see the module docstring for what each bounds)."""

    max_people: int = 10_000
    max_tasks: int = 100_000
    max_places: int = 200_000
    max_calendar_days: int = 7_305
    max_person_days: int = 20_000_000
    last_date: date = date(9999, 12, 30)
    min_hours_per_day: float = 0.25
    max_hours_per_day: float = 24.0
    max_cost_per_hour: float = 100_000.0
    max_budget: float = 1e12
    max_effort_hours: float = 100_000.0
    max_priority: int = 10_000
    max_policy_number: int = 1_000_000


#: the limits the library applies
LIMITS = SizeLimits()


def _num(value: float) -> str:
    """``100000`` for 100000.0, ``0.25`` for 0.25: limits shown as a planner writes them."""
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{value:,.0f}"
    return f"{value:g}"


class _Collector:
    def __init__(self) -> None:
        self.issues: list[Issue] = []

    def error(self, path: str, message: str) -> None:
        self.issues.append(Issue(path, message))

    def at_most(
        self, path: str, who: str, name: str, value: float | None, limit: float, unit: str = ""
    ) -> None:
        """``value`` must be a number no larger than ``limit`` (NaN and infinities fail)."""
        if value is None or isinstance(value, bool):
            return
        if not math.isfinite(value):
            self.error(path, f"{who}: {name} must be a finite number, got {value}")
        elif value > limit:
            self.error(
                path,
                f"{who}: {name} is {_num(value)}{unit}; at most {_num(limit)}{unit} "
                "is accepted (size limit)",
            )


def _calendar_days(portfolio: Portfolio) -> int:
    cal = portfolio.calendar
    return max(0, (cal.end - cal.start).days + 1)


def _qualified(portfolio: Portfolio) -> dict[tuple[str, int], int]:
    """How many people have each (skill, level) or above, for the skills teams ask for."""
    wanted = {
        (req.skill, req.level)
        for task in portfolio.tasks()
        for req in task.requirements or ()
        if isinstance(req.skill, str)
    }
    counts: Counter[tuple[str, int]] = Counter()
    for person in portfolio.people:
        for skill, level in wanted:
            if person.level(skill) >= level:
                counts[(skill, level)] += 1
    return {key: counts[key] for key in wanted}


def _headcounts(task: Task) -> int:
    """The number of places of ``task``, without building them."""
    if task.requirements is None:
        return 1 if task.skill is not None else 0
    return sum(max(0, r.headcount) for r in task.requirements)


def _check_sizes(out: _Collector, portfolio: Portfolio, limits: SizeLimits) -> None:
    n_people = len(portfolio.people)
    n_tasks = sum(len(p.tasks) for p in portfolio.projects)
    if n_people > limits.max_people:
        out.error("people", f"{n_people:,} people; at most {limits.max_people:,} are accepted")
    if n_tasks > limits.max_tasks:
        out.error("projects", f"{n_tasks:,} tasks; at most {limits.max_tasks:,} are accepted")
    places = sum(_headcounts(t) for t in portfolio.tasks())
    if places > limits.max_places:
        out.error(
            "projects",
            f"the tasks have {places:,} places in all (team counts summed); at most "
            f"{limits.max_places:,} are accepted",
        )


def _check_calendar(out: _Collector, portfolio: Portfolio, limits: SizeLimits) -> None:
    cal = portfolio.calendar
    if cal.end > limits.last_date:
        out.error(
            "calendar.end",
            f"the calendar ends on {cal.end}; the latest end accepted is {limits.last_date}",
        )
    days = _calendar_days(portfolio)
    if days > limits.max_calendar_days:
        out.error(
            "calendar",
            f"the calendar {cal.start} .. {cal.end} has {days:,} days; at most "
            f"{limits.max_calendar_days:,} ({limits.max_calendar_days // 365} years) are "
            "accepted",
        )
    elif days * len(portfolio.people) > limits.max_person_days:
        out.error(
            "calendar",
            f"{len(portfolio.people):,} people over {days:,} calendar days make "
            f"{days * len(portfolio.people):,} person-days; at most "
            f"{limits.max_person_days:,} are accepted (shorten the calendar or split the "
            "portfolio)",
        )


def _check_people(out: _Collector, portfolio: Portfolio, limits: SizeLimits) -> None:
    for i, person in enumerate(portfolio.people):
        path, who = f"people[{i}]", f"person {person.id}"
        hpd = person.hours_per_day
        if hpd is not None and not isinstance(hpd, bool):
            lo, hi = limits.min_hours_per_day, limits.max_hours_per_day
            # 0 and below, and over 24, are the field table's range rule (allocator.validation)
            if not math.isfinite(hpd) or 0 < hpd < lo or hi < hpd <= 24:
                out.error(
                    f"{path}.hours_per_day",
                    f"{who}: hours_per_day must be in {_num(lo)} .. {_num(hi)}, got {hpd}",
                )
        out.at_most(
            f"{path}.cost_per_hour", who, "cost_per_hour", person.cost_per_hour,
            limits.max_cost_per_hour,
        )  # fmt: skip


def _check_tasks(out: _Collector, portfolio: Portfolio, limits: SizeLimits) -> None:
    days = float(limits.max_calendar_days)
    effort = limits.max_effort_hours
    qualified: dict[tuple[str, int], int] | None = None
    for j, project in enumerate(portfolio.projects):
        ppath, pwho = f"projects[{j}]", f"project {project.id}"
        out.at_most(f"{ppath}.budget", pwho, "budget", project.budget, limits.max_budget)
        out.at_most(f"{ppath}.priority", pwho, "priority", project.priority, limits.max_priority)
        for k, task in enumerate(project.tasks):
            path, who = f"{ppath}.tasks[{k}]", f"task {task.id}"
            out.at_most(f"{path}.effort_hours", who, "effort_hours", task.effort_hours, effort)
            out.at_most(f"{path}.duration_days", who, "duration_days", task.duration_days, days)
            out.at_most(f"{path}.priority", who, "priority", task.priority, limits.max_priority)
            if task.estimate is not None:
                cap = days if task.effort_hours is None else effort
                for key in ("low", "high"):
                    value = getattr(task.estimate, key)
                    out.at_most(f"{path}.estimate.{key}", who, f"estimate {key}", value, cap)
            if task.progress is not None:
                prog, ppth = task.progress, f"{path}.progress"
                out.at_most(
                    f"{ppth}.remaining_hours", who, "remaining_hours", prog.remaining_hours, effort
                )
                out.at_most(
                    f"{ppth}.remaining_days", who, "remaining_days", prog.remaining_days, days
                )
            for r, req in enumerate(task.requirements or ()):
                if req.count is None or req.count <= 1:
                    continue
                if qualified is None:
                    qualified = _qualified(portfolio)
                able = qualified.get((req.skill, req.level), 0)
                if req.count > able:
                    out.error(
                        f"{path}.requirements[{r}].count",
                        f"{who}: requirement {r} asks for {req.count:,} people with skill "
                        f"{req.skill!r} at level {req.level} or above; only {able:,} "
                        f"{'person has' if able == 1 else 'people have'} it",
                    )


def _check_policy(out: _Collector, portfolio: Portfolio, limits: SizeLimits) -> None:
    policy = portfolio.policy
    for key in ("freeze_days", "churn_budget", "stability"):
        out.at_most(f"policy.{key}", "policy", key, getattr(policy, key), limits.max_policy_number)


@dataclass(frozen=True, slots=True)
class LimitReport:
    """The size limits a portfolio breaks. ``blocking``: a size (people, tasks, places, the
    calendar) is over, so rules that expand places or walk the calendar must not run."""

    issues: tuple[Issue, ...]
    blocking: bool


def portfolio_limits(portfolio: Portfolio, limits: SizeLimits = LIMITS) -> LimitReport:
    """Every size limit ``portfolio`` breaks, sizes first, then amounts."""
    sizes = _Collector()
    _check_sizes(sizes, portfolio, limits)
    _check_calendar(sizes, portfolio, limits)
    amounts = _Collector()
    _check_people(amounts, portfolio, limits)
    _check_tasks(amounts, portfolio, limits)
    _check_policy(amounts, portfolio, limits)
    return LimitReport((*sizes.issues, *amounts.issues), bool(sizes.issues))


def portfolio_issues(portfolio: Portfolio, limits: SizeLimits = LIMITS) -> list[Issue]:
    """Every size limit ``portfolio`` breaks (errors; empty when within them)."""
    return list(portfolio_limits(portfolio, limits).issues)


def plan_size_issue(listed: int, n_tasks: int) -> Issue | None:
    """The error when a plan lists ``listed`` tasks (assignments and unassigned) for a
    portfolio of ``n_tasks``: more than twice as many (a duplicate or two is the checker's to
    report; more is no plan of this portfolio). Cheap enough to run on the raw JSON lists
    before reading the plan."""
    if listed <= 2 * n_tasks:
        return None
    return Issue(
        "assignments",
        f"the plan lists {listed:,} tasks (assignments and unassigned); the portfolio has "
        f"{n_tasks:,}, and at most twice that are accepted",
    )


def plan_issues(portfolio: Portfolio, plan: Plan) -> list[Issue]:
    """The size limits of a plan to check against ``portfolio`` (a valid one, within the
    limits): at most twice as many assignments as the portfolio has tasks, at most twice as
    many assignees in all as it has places, and every assignment dated within the calendar.
    Paths are the plan's (``assignments[3].start``)."""
    out = _Collector()
    n_tasks = sum(len(p.tasks) for p in portfolio.projects)
    n_places = sum(_headcounts(t) for t in portfolio.tasks())
    too_many = plan_size_issue(len(plan.assignments) + len(plan.unassigned), n_tasks)
    if too_many is not None:
        return [too_many]
    assignees = sum(len(a.people) for a in plan.assignments)
    if assignees > 2 * n_places:
        out.error(
            "assignments",
            f"the plan's assignments name {assignees:,} people in all; the portfolio's tasks "
            f"have {n_places:,} places, and at most twice that are accepted",
        )
    cal = portfolio.calendar
    for i, a in enumerate(plan.assignments):
        for key in ("start", "finish"):
            day: date = getattr(a, key)
            if not cal.start <= day <= cal.end:
                out.error(
                    f"assignments[{i}].{key}",
                    f"task {a.task}: {key} {day} is outside the calendar {cal.start} .. {cal.end}",
                )
    return out.issues
