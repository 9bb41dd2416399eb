"""Immutable domain types: the portfolio to plan and the plan itself.

These mirror the contract (``shared/contract/README.md``, format ``allocator.portfolio/v1`` and
``allocator.plan/v2``) field for field. They know nothing of JSON, solvers or the web: readers
and writers at the edge (``allocator.contract``) convert, ``allocator.validation`` judges,
``solver_models`` compiles them.

Values are stored *as given* (a level of 7 is kept as 7 so that validation can name it); the
contract's defaults are applied by the small accessor methods and by :class:`Portfolio`'s helpers
(``task_priority``, ``task_deadline`` ...), so a file read and written back keeps its meaning and
its explicit-versus-default distinction.

Each record's contract fields are declared once, in its dataclass fields' metadata (the *field
table*, :func:`contract_fields`: JSON kind, required, range rule), nested records (a person's
``time_off`` and ``reduced_capacity``, a task's ``requirements``, ``pinned``, ``progress`` and
``estimate``) included: the JSON reader and writer, the frame columns, the builder's keywords
and the range rules of validation loop over it.
"""

from __future__ import annotations

import html
from collections.abc import Iterator, Mapping
from dataclasses import MISSING, dataclass, field, fields
from datetime import date
from functools import cached_property
from types import MappingProxyType
from typing import Any, Literal

WEEKDAYS: tuple[str, ...] = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
DEFAULT_WORKDAYS: tuple[str, ...] = ("Mon", "Tue", "Wed", "Thu", "Fri")

TaskStatus = Literal["todo", "in_progress", "done", "cancelled"]
Objective = Literal["portfolio", "makespan"]
PlanStatus = Literal["optimal", "feasible", "infeasible", "unknown"]

PORTFOLIO_FORMAT = "allocator.portfolio/v1"
PLAN_FORMAT = "allocator.plan/v2"
#: the previous plan format (a single number ``objective``): still read, never written
PLAN_FORMAT_V1 = "allocator.plan/v1"

#: A plan's objective (or lower bound) in planner units: its terms in priority order, the
#: first mattering most (``{"undelivered_work_hours": 12.5, "weighted_late_days": 3, ...}`` or
#: ``{"makespan_days": 41}``). See :mod:`allocator.objective`.
ObjectiveTerms = Mapping[str, float | int]


def frozen_map(m: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    """A read-only copy of ``m`` (the immutable stand-in for a dict field)."""
    return MappingProxyType(dict(m or {}))


# ---------------------------------------------------------------------------------------------
# The field table: one declaration per contract field
# ---------------------------------------------------------------------------------------------
#: How a contract field is written in JSON. Scalars: ``str``, ``id`` (a string naming another
#: record: a pin's person), ``int``, ``number``, ``bool``, ``date`` (``YYYY-MM-DD``), ``choice``
#: (one of :attr:`Spec.choices`); lists: ``weekdays``, ``ids`` (list of ids), ``dates``;
#: ``record``: an object, the record :attr:`Spec.record`
#: (``pinned``, ``progress``, ``estimate``); ``records``: a list of them (``time_off``,
#: ``reduced_capacity``, ``requirements``); ``nested``: a structure read and written apart
#: (a person's ``skills`` map, a project's ``tasks``).
FieldKind = Literal[
    "str",
    "id",
    "int",
    "number",
    "bool",
    "date",
    "choice",
    "weekdays",
    "ids",
    "dates",
    "record",
    "records",
    "nested",
]
#: the kinds whose value is one or more nested records
RECORD_KINDS: tuple[FieldKind, ...] = ("record", "records")

#: the key of a dataclass field's metadata holding its :class:`Spec`
CONTRACT = "contract"


@dataclass(frozen=True, slots=True)
class Spec:
    """A contract field: its JSON kind, whether it is required, and the simple range rule of
    its value (checked by :mod:`allocator.validation`). The JSON key is the attribute name.

    ``minimum`` / ``maximum`` bound the value (``minimum`` exclusive when ``above``); ``rule``
    is the wording of the bound in messages (``must be >= 0``, ``must be in (0, 24]``).
    ``record``: the record class of a ``record`` / ``records`` field; ``item``: what one of
    its items is called in messages (``time_off range``; the key when not given).
    """

    kind: FieldKind
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    above: bool = False
    choices: tuple[str, ...] = ()
    record: type | None = None
    item: str = ""

    def __post_init__(self) -> None:
        if (self.record is not None) != (self.kind in RECORD_KINDS):
            raise TypeError(
                f"a {self.kind!r} field {'needs' if self.record is None else 'takes no'} record"
            )

    @property
    def rule(self) -> str | None:
        """``must be ...`` for the value's bounds (None: no bound)."""
        lo, hi = self.minimum, self.maximum
        if lo is None and hi is None:
            return None
        if hi is None:
            return f"must be {'>' if self.above else '>='} {_num(lo)}"
        if lo is None:
            return f"must be <= {_num(hi)}"
        if self.kind == "int" and not self.above:
            return f"must be {_num(lo)}..{_num(hi)}"
        return f"must be in {'(' if self.above else '['}{_num(lo)}, {_num(hi)}]"

    def admits(self, value: float) -> bool:
        """Whether ``value`` is within the bounds (NaN never is)."""
        if self.minimum is not None and not (
            value > self.minimum if self.above else value >= self.minimum
        ):
            return False
        return self.maximum is None or value <= self.maximum


def _num(x: float | None) -> str:
    return str(int(x)) if x is not None and float(x).is_integer() else str(x)


def spec(kind: FieldKind, **rest: Any) -> dict[str, Spec]:
    """The metadata of a dataclass field declared in the contract (``rest``: the other
    :class:`Spec` fields): ``x: int | None = field(default=None, metadata=spec("int"))``."""
    return {CONTRACT: Spec(kind, **rest)}


_FIELD_TABLES: dict[type, tuple[tuple[str, Spec], ...]] = {}


def contract_fields(cls: type) -> tuple[tuple[str, Spec], ...]:
    """The contract fields of a record, in declaration order: ``(JSON key, spec)``."""
    out = _FIELD_TABLES.get(cls)
    if out is None:
        out = tuple((f.name, f.metadata[CONTRACT]) for f in fields(cls) if CONTRACT in f.metadata)
        _FIELD_TABLES[cls] = out
    return out


_DEFAULTS: dict[type, Mapping[str, Any]] = {}


def contract_defaults(cls: type) -> Mapping[str, Any]:
    """The value of each optional contract field of a record when it is not given (``None``,
    or ``()`` for a list that is empty when not given); required fields are not listed."""
    out = _DEFAULTS.get(cls)
    if out is None:
        out = {}
        for f in fields(cls):
            if CONTRACT not in f.metadata or f.metadata[CONTRACT].required:
                continue
            out[f.name] = f.default if f.default_factory is MISSING else f.default_factory()
        out = _DEFAULTS[cls] = MappingProxyType(out)
    return out


@dataclass(frozen=True, slots=True)
class DateRange:
    """An inclusive range of dates."""

    start: date = field(metadata=spec("date", required=True))
    end: date = field(metadata=spec("date", required=True))

    def __contains__(self, d: object) -> bool:
        return isinstance(d, date) and self.start <= d <= self.end


@dataclass(frozen=True, slots=True)
class ReducedCapacity:
    """Inclusive range in which at most ``percent`` of the person's day can be planned."""

    start: date = field(metadata=spec("date", required=True))
    end: date = field(metadata=spec("date", required=True))
    percent: float = field(metadata=spec("number", required=True, minimum=0, maximum=100))

    def __contains__(self, d: object) -> bool:
        return isinstance(d, date) and self.start <= d <= self.end


@dataclass(frozen=True, slots=True)
class Calendar:
    """The planning horizon: ``start`` .. ``end`` inclusive, a working week and holidays."""

    start: date = field(metadata=spec("date", required=True))
    end: date = field(metadata=spec("date", required=True))
    workdays: tuple[str, ...] | None = field(default=None, metadata=spec("weekdays"))
    holidays: tuple[date, ...] = field(default=(), metadata=spec("dates"))

    @property
    def effective_workdays(self) -> tuple[str, ...]:
        return self.workdays if self.workdays is not None else DEFAULT_WORKDAYS


@dataclass(frozen=True, slots=True)
class Person:
    id: str = field(metadata=spec("str", required=True))
    skills: Mapping[str, int] = field(
        default_factory=frozen_map, metadata=spec("nested", required=True)
    )
    name: str | None = field(default=None, metadata=spec("str"))
    hours_per_day: float | None = field(
        default=None, metadata=spec("number", minimum=0, above=True, maximum=24)
    )
    cost_per_hour: float | None = field(default=None, metadata=spec("number", minimum=0))
    workdays: tuple[str, ...] | None = field(default=None, metadata=spec("weekdays"))
    available_from: date | None = field(default=None, metadata=spec("date"))
    available_until: date | None = field(default=None, metadata=spec("date"))
    time_off: tuple[DateRange, ...] = field(
        default=(), metadata=spec("records", record=DateRange, item="time_off range")
    )
    reduced_capacity: tuple[ReducedCapacity, ...] = field(
        default=(),
        metadata=spec("records", record=ReducedCapacity, item="reduced_capacity range"),
    )
    team: str | None = field(default=None, metadata=spec("str"))
    placeholder: bool | None = field(default=None, metadata=spec("bool"))

    @property
    def day_hours(self) -> float:
        """The hours of the person's working day: ``hours_per_day``, else the contract's 8."""
        return 8.0 if self.hours_per_day is None else float(self.hours_per_day)

    @property
    def rate(self) -> float:
        """Cost per hour (contract default 0)."""
        return 0.0 if self.cost_per_hour is None else float(self.cost_per_hour)

    def level(self, skill: str) -> int:
        """The person's level in ``skill``, 0 when they do not have it."""
        return int(self.skills.get(skill, 0))

    @property
    def is_placeholder(self) -> bool:
        """A role not yet filled (contract default false): planned like a person, reported as
        hiring demand."""
        return bool(self.placeholder)


@dataclass(frozen=True, slots=True)
class Requirement:
    """``count`` places on a team task, each needing ``skill`` at ``min_level`` or above."""

    skill: str = field(metadata=spec("str", required=True))
    min_level: int | None = field(default=None, metadata=spec("int", minimum=1, maximum=5))
    count: int | None = field(default=None, metadata=spec("int", minimum=1))

    @property
    def level(self) -> int:
        return 1 if self.min_level is None else self.min_level

    @property
    def headcount(self) -> int:
        """The number of places: ``count``, else the contract's 1."""
        return 1 if self.count is None else self.count


@dataclass(frozen=True, slots=True)
class Place:
    """One seat on a task: one person with ``skill`` at ``min_level`` or above fills it."""

    skill: str
    min_level: int


@dataclass(frozen=True, slots=True)
class Pin:
    """A commitment: if assigned, ``person`` is among the assignees / it starts on ``start``."""

    person: str | None = field(default=None, metadata=spec("id"))
    start: date | None = field(default=None, metadata=spec("date"))


@dataclass(frozen=True, slots=True)
class Progress:
    """Who is doing an ``in_progress`` task and what is left (exactly one of the two amounts)."""

    people: tuple[str, ...] = field(metadata=spec("ids", required=True))
    remaining_hours: float | None = field(
        default=None, metadata=spec("number", minimum=0, above=True)
    )
    remaining_days: int | None = field(default=None, metadata=spec("int", minimum=1))


@dataclass(frozen=True, slots=True)
class Estimate:
    """The range of a task's nominal ``effort_hours`` (or ``duration_days``), same unit:
    ``0 < low <= nominal <= high``. For risk analysis only: plans use the nominal value."""

    low: float = field(metadata=spec("number", required=True, minimum=0, above=True))
    high: float = field(metadata=spec("number", required=True, minimum=0, above=True))


@dataclass(frozen=True, slots=True)
class Task:
    id: str = field(metadata=spec("str", required=True))
    #: the id of the project listing the task (not a key of the task in JSON)
    project: str
    name: str | None = field(default=None, metadata=spec("str"))
    skill: str | None = field(default=None, metadata=spec("str"))
    min_level: int | None = field(default=None, metadata=spec("int", minimum=1, maximum=5))
    requirements: tuple[Requirement, ...] | None = field(
        default=None, metadata=spec("records", record=Requirement, item="requirement")
    )
    effort_hours: float | None = field(default=None, metadata=spec("number", minimum=0, above=True))
    duration_days: int | None = field(default=None, metadata=spec("int", minimum=1))
    allocation: int | None = field(default=None, metadata=spec("int", minimum=1, maximum=100))
    predecessors: tuple[str, ...] = field(default=(), metadata=spec("ids"))
    earliest_start: date | None = field(default=None, metadata=spec("date"))
    deadline: date | None = field(default=None, metadata=spec("date"))
    priority: int | None = field(default=None, metadata=spec("int", minimum=1))
    exclude: tuple[str, ...] = field(default=(), metadata=spec("ids"))
    prefer: tuple[str, ...] = field(default=(), metadata=spec("ids"))
    pinned: Pin | None = field(default=None, metadata=spec("record", record=Pin))
    status: TaskStatus | None = field(
        default=None, metadata=spec("choice", choices=("todo", "in_progress", "done", "cancelled"))
    )
    progress: Progress | None = field(default=None, metadata=spec("record", record=Progress))
    estimate: Estimate | None = field(default=None, metadata=spec("record", record=Estimate))

    @property
    def is_team(self) -> bool:
        """A ``requirements`` task (its places are filled by several people, or none)."""
        return self.requirements is not None

    @property
    def alloc(self) -> int:
        """Percent of each assignee's day on active days (contract default 100)."""
        return 100 if self.allocation is None else self.allocation

    @property
    def state(self) -> TaskStatus:
        return "todo" if self.status is None else self.status

    @property
    def to_plan(self) -> bool:
        """``done`` and ``cancelled`` tasks are not planned."""
        return self.state not in ("done", "cancelled")

    @property
    def nominal(self) -> float | None:
        """The nominal amount of work: ``effort_hours``, else ``duration_days``."""
        return self.effort_hours if self.effort_hours is not None else self.duration_days

    @property
    def effort_range(self) -> tuple[float, float] | None:
        """``(low, high)`` of the nominal amount: the estimate, else the nominal value twice."""
        if self.estimate is not None:
            return (self.estimate.low, self.estimate.high)
        nominal = self.nominal
        return None if nominal is None else (nominal, nominal)

    @property
    def places(self) -> tuple[Place, ...]:
        """The task's places, in order: one for a ``skill`` task, ``count`` per requirement."""
        if self.requirements is None:
            if self.skill is None:
                return ()
            return (Place(self.skill, 1 if self.min_level is None else self.min_level),)
        return tuple(Place(r.skill, r.level) for r in self.requirements for _ in range(r.headcount))


@dataclass(frozen=True, slots=True)
class Project:
    id: str = field(metadata=spec("str", required=True))
    tasks: tuple[Task, ...] = field(default=(), metadata=spec("nested", required=True))
    name: str | None = field(default=None, metadata=spec("str"))
    priority: int | None = field(default=None, metadata=spec("int", minimum=1))
    start_after: date | None = field(default=None, metadata=spec("date"))
    deadline: date | None = field(default=None, metadata=spec("date"))
    budget: float | None = field(default=None, metadata=spec("number", minimum=0))
    all_or_nothing: bool | None = field(default=None, metadata=spec("bool"))

    @property
    def whole(self) -> bool:
        """``all_or_nothing`` (contract default false): its tasks to plan are assigned all
        together or none of them."""
        return bool(self.all_or_nothing)


@dataclass(frozen=True, slots=True)
class Policy:
    """Objective and switches, and the re-planning policy (``freeze_days``, ``churn_budget``,
    ``stability``: whole numbers >= 0, see :mod:`allocator.rebalance`). None: not given (the
    default applies)."""

    objective: Objective | None = field(
        default=None, metadata=spec("choice", choices=("portfolio", "makespan"))
    )
    hard_deadlines: bool | None = field(default=None, metadata=spec("bool"))
    #: kept work starting in the first N working days from ``as_of`` does not move
    freeze_days: int | None = field(default=None, metadata=spec("int", minimum=0))
    #: at most this many kept tasks change people or start
    churn_budget: int | None = field(default=None, metadata=spec("int", minimum=0))
    #: price of one change in priority-weighted late days
    stability: int | None = field(default=None, metadata=spec("int", minimum=0))

    @property
    def goal(self) -> Objective:
        return "portfolio" if self.objective is None else self.objective

    @property
    def deadlines_hard(self) -> bool:
        return bool(self.hard_deadlines)


@dataclass(frozen=True)
class Portfolio:
    """A whole portfolio. Lookup tables are computed once, on first use."""

    name: str
    calendar: Calendar
    people: tuple[Person, ...] = ()
    projects: tuple[Project, ...] = ()
    policy: Policy = field(default_factory=Policy)
    as_of: date | None = None

    # -- display: a summary, not every record (a notebook shows ``_repr_html_``) -------------
    def summary(self) -> tuple[tuple[str, str], ...]:
        """``(label, value)`` pairs: name, as_of, horizon, people, projects, tasks."""
        cal = self.calendar
        tasks = sum(len(pr.tasks) for pr in self.projects)
        to_plan = len(self.tasks_to_plan)
        n_hol = len(cal.holidays)
        holidays = f", {n_hol} holiday{'s' if n_hol > 1 else ''}" if n_hol else ""
        placeholders = sum(1 for p in self.people if p.is_placeholder)
        return (
            ("name", self.name),
            ("as_of", "-" if self.as_of is None else self.as_of.isoformat()),
            (
                "calendar",
                f"{cal.start.isoformat()} .. {cal.end.isoformat()} "
                f"({','.join(cal.effective_workdays)}{holidays})",
            ),
            (
                "people",
                f"{len(self.people)}" + (f" ({placeholders} placeholders)" if placeholders else ""),
            ),
            ("projects", str(len(self.projects))),
            ("tasks", f"{tasks} ({to_plan} to plan)"),
        )

    def __repr__(self) -> str:
        rest = ", ".join(f"{k}={v}" for k, v in self.summary()[1:])
        return f"Portfolio({self.name!r}, {rest})"

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
            f"<td style='text-align:left'>{html.escape(v)}</td></tr>"
            for k, v in self.summary()
        )
        return f"<table class='allocator-portfolio'>{rows}</table>"

    # -- lookups ---------------------------------------------------------------------------
    @cached_property
    def person_by_id(self) -> Mapping[str, Person]:
        return MappingProxyType({p.id: p for p in self.people})

    @cached_property
    def project_by_id(self) -> Mapping[str, Project]:
        return MappingProxyType({p.id: p for p in self.projects})

    @cached_property
    def task_by_id(self) -> Mapping[str, Task]:
        return MappingProxyType({t.id: t for t in self.tasks()})

    def tasks(self) -> Iterator[Task]:
        """Every task, in file order (planned or not)."""
        for project in self.projects:
            yield from project.tasks

    @cached_property
    def tasks_to_plan(self) -> tuple[Task, ...]:
        """The tasks a plan must list: not ``done`` or ``cancelled``."""
        return tuple(t for t in self.tasks() if t.to_plan)

    # -- contract defaults -------------------------------------------------------------------
    def task_priority(self, task: Task) -> int:
        """The task's priority, else its project's, else 1."""
        if task.priority is not None:
            return task.priority
        project = self.project_by_id.get(task.project)
        if project is not None and project.priority is not None:
            return project.priority
        return 1

    def task_deadline(self, task: Task) -> date | None:
        """The task's deadline, else its project's."""
        if task.deadline is not None:
            return task.deadline
        project = self.project_by_id.get(task.project)
        return project.deadline if project is not None else None

    def task_earliest_start(self, task: Task) -> date:
        """The latest of the calendar's start, ``start_after``, ``earliest_start`` and ``as_of``."""
        candidates = [self.calendar.start]
        project = self.project_by_id.get(task.project)
        if project is not None and project.start_after is not None:
            candidates.append(project.start_after)
        if task.earliest_start is not None:
            candidates.append(task.earliest_start)
        if self.as_of is not None:
            candidates.append(self.as_of)
        return max(candidates)

    def task_work_hours(self, task: Task) -> float:
        """Work of a task (contract *Measures*): effort, else days x places x 8 x allocation."""
        if task.effort_hours is not None:
            return float(task.effort_hours)
        days = task.duration_days or 0
        return days * len(task.places) * 8.0 * task.alloc / 100.0

    def workdays_of(self, person: Person) -> tuple[str, ...]:
        return person.workdays if person.workdays is not None else self.calendar.effective_workdays


@dataclass(frozen=True, slots=True)
class Assignment:
    """One planned task. ``hours`` and ``cost`` (engine fields) total over the assignees."""

    task: str
    people: tuple[str, ...]
    start: date
    finish: date
    hours: float | None = None
    cost: float | None = None


@dataclass(frozen=True, slots=True)
class Unassigned:
    task: str
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Change:
    """A task moved in re-planning against the progress or the previous plan, and why.

    ``forced``: true when the world changed under it (done or in-progress work, a person gone,
    a changed estimate, a moved predecessor: its previous assignment cannot stay), false when
    the engine chose it (see ``allocator.rebalance`` and ``allocator.diff``).
    """

    task: str
    reasons: tuple[str, ...]
    forced: bool = False


@dataclass(frozen=True, slots=True)
class Plan:
    """A plan (contract ``allocator.plan/v2``).

    ``objective``: the objective's terms in planner units, in priority order (None when the
    status is ``infeasible`` or ``unknown``); ``lower_bound``: proven bounds of some or all of
    those terms (each over the valid plans whose earlier terms are at most this plan's);
    ``gap``: that of the first term whose bound is below its value (0 when ``optimal``, None
    without a bound).
    """

    portfolio: str
    status: PlanStatus
    objective: ObjectiveTerms | None
    lower_bound: ObjectiveTerms | None
    solve_seconds: float
    assignments: tuple[Assignment, ...] = ()
    unassigned: tuple[Unassigned, ...] = ()
    changes: tuple[Change, ...] | None = None
    #: Engine fields (documented in ``allocator.contract``): solver info, KPIs.
    extra: Mapping[str, Any] = field(default_factory=frozen_map)
    gap: float | None = None

    def assignment_of(self, task_id: str) -> Assignment | None:
        for a in self.assignments:
            if a.task == task_id:
                return a
        return None
