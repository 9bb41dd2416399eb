"""A small builder for notebooks, compiling to the same immutable, validated Portfolio.

.. code-block:: python

    m = PortfolioBuilder("q1", start="2027-01-04", end="2027-03-26")
    ana = m.person("ana", skills={"python": 5, "sql": 4}, cost_per_hour=95)
    crm = m.project("crm", priority=3, deadline="2027-03-12")
    scope = crm.task("crm-scope", skill="analysis", effort_hours=40)
    schema = crm.task("crm-schema", skill="sql", min_level=4, effort_hours=48, after=[scope])
    p = m.build()                     # validates; raises PortfolioError listing every problem
    sol = m.solve(time_limit=5)       # a Solution: HTML in Jupyter, DataFrames, plots

The builder only assembles the contract's JSON document and hands it to the same reader and
validation as a file (:func:`allocator.contract.read_portfolio`,
:func:`allocator.validation.validate`), so errors carry the contract's JSON paths and ids.
Values are Python values: dates as ``date``, ``datetime``, pandas ``Timestamp`` or
``"YYYY-MM-DD"``; people and tasks as the references the builder returns or as ids.

**Re-running a cell never duplicates**: ``person`` and ``task`` replace an entry with the same
id, ``project`` updates the fields it is given and keeps its tasks. :meth:`edit_person` and
:meth:`edit_task` change some fields of an existing entry (``None`` removes a field: back to the
contract's default); :meth:`PortfolioBuilder.from_portfolio` starts from an existing portfolio.

**Keywords come from the field table.** The keywords of each record are its contract fields
(:func:`allocator.domain.contract_fields`), typed once in a ``TypedDict`` (:class:`PersonFields`,
:class:`ProjectFields`, :class:`TaskFields`, :class:`PolicyFields`) that the adding and the
editing method share through ``**fields: Unpack[...]``; how a value becomes JSON (a date, a list
of ids, a nested record given as a tuple, a mapping or the domain record) follows its field's
kind, and an unknown keyword raises ``TypeError`` against the field table. Why this design: the
table itself cannot give a signature that mypy and an editor see (a signature built at run time
is invisible to them), while one typed declaration per record keeps ``mypy --strict`` checking
every call, the edit methods included (they took ``**Any`` before), and lets the method bodies
loop instead of spelling each keyword out a second and third time. ``tests/test_field_table.py``
fails when a contract field is missing from these declarations or from the frames.

:class:`Solution` wraps an engine result for notebooks: ``_repr_html_`` (status, objective
terms, KPIs, assignments), ``.assignments`` / ``.unassigned`` / ``.kpis`` / ``.by_person`` ...
as DataFrames, ``.plot.gantt()`` and the other figures of :mod:`allocator.plots`.
"""

from __future__ import annotations

import copy
import html
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeAlias, TypedDict, Unpack

import pandas as pd

from allocator.checker import CheckResult, check
from allocator.contract import portfolio_to_dict, read_portfolio, record_to_dict
from allocator.domain import (
    PORTFOLIO_FORMAT,
    Calendar,
    Estimate,
    Person,
    Pin,
    Plan,
    Policy,
    Portfolio,
    Progress,
    Project,
    Spec,
    Task,
    contract_defaults,
    contract_fields,
)
from allocator.errors import PortfolioError
from allocator.frames import (
    ProgressRecorder,
    assignments_frame,
    demand_capacity_frame,
    kpi_diff,
    kpi_frames,
    kpi_summary,
    unassigned_frame,
)
from allocator.table_schema import FLAT
from allocator.terms_text import format_gap, format_terms, term_label
from allocator.validation import validate

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from allocator.engine import Result

log = logging.getLogger(__name__)

__all__ = [
    "PersonFields",
    "PersonRef",
    "PolicyFields",
    "PortfolioBuilder",
    "ProjectBuilder",
    "ProjectFields",
    "Solution",
    "TaskFields",
    "TaskRef",
    "solve_portfolio",
]

#: dates as ``date`` (``datetime`` and pandas ``Timestamp`` are dates) or ``"YYYY-MM-DD"``
DateLike: TypeAlias = date | str


@dataclass(frozen=True, slots=True)
class PersonRef:
    """A person added to a builder (pass it where a person id is expected)."""

    id: str

    def __str__(self) -> str:
        return self.id


@dataclass(frozen=True, slots=True)
class TaskRef:
    """A task added to a builder (pass it in ``after=`` / ``predecessors=``)."""

    id: str
    project: str

    def __str__(self) -> str:
        return self.id


# ---------------------------------------------------------------------------------------------
# Values to contract JSON
# ---------------------------------------------------------------------------------------------
def _day(v: Any) -> Any:
    if isinstance(v, datetime):  # also pd.Timestamp
        return v.date().isoformat() if (v.hour, v.minute, v.second) == (0, 0, 0) else str(v)
    if isinstance(v, date):
        return v.isoformat()
    return v  # a string (the reader checks it) or something the reader names


def _scalar(v: Any) -> Any:
    """numpy scalars to Python (``item``), so the reader judges the value, not its type."""
    item = getattr(v, "item", None)
    if item is not None and type(v).__module__ == "numpy":
        return item()
    return v


def _ids(values: Iterable[Any] | Any) -> list[Any]:
    if isinstance(values, str | PersonRef | TaskRef):
        values = [values]
    return [v.id if isinstance(v, PersonRef | TaskRef) else v for v in values]


def _value(spec: Spec, value: Any) -> Any:
    """A Python value of a field of kind ``spec.kind`` as contract JSON (the reader judges it)."""
    kind = spec.kind
    if kind == "date":
        return _day(value)
    if kind == "id":
        return _ids(value)[0]
    if kind == "ids":
        return _ids(value)
    if kind == "dates":
        return [_day(d) for d in value]
    if kind == "weekdays":
        return [value] if isinstance(value, str) else list(value)
    if kind == "nested":  # skills: skill -> level
        return {str(k): _scalar(v) for k, v in dict(value).items()}
    if kind == "records":
        assert spec.record is not None  # a records field names its record (checked by Spec)
        return [_record(spec.record, v) for v in value]
    if kind == "record":
        assert spec.record is not None
        return _record(spec.record, value)
    return _scalar(value)


def _record(cls: type, v: Any) -> Any:
    """A nested record given as a ``cls``, a mapping, a tuple of its fields in field-table order
    (``("2027-02-01", "2027-02-05")``, ``("qa", 3, 2)``), or a string for a record whose first
    field is a string (a requirement's ``skill``)."""
    table = contract_fields(cls)
    specs = dict(table)
    if isinstance(v, cls):
        return record_to_dict(v)
    if isinstance(v, Mapping):
        return {k: _value(specs[k], x) if k in specs else _scalar(x) for k, x in v.items()}
    if isinstance(v, str):
        return {table[0][0]: v} if table[0][1].kind == "str" else v  # else the reader names it
    return {k: _value(s, x) for (k, s), x in zip(table, v, strict=False)}


def _put(cls: type, out: dict[str, Any], key: str, value: Any) -> None:
    """Set the contract key ``key`` of a ``cls`` from a Python value; ``None`` (or an empty list
    where the contract's default is the empty list) leaves the key out."""
    spec = dict(contract_fields(cls))[key]
    if value is not None and spec.kind in ("ids", "dates", "records"):
        value = list(value) if not isinstance(value, str | PersonRef | TaskRef) else value
        if not value and contract_defaults(cls).get(key) == ():
            value = None
    if value is None:
        out.pop(key, None)
    else:
        out[key] = _value(spec, value)


# ---------------------------------------------------------------------------------------------
# Keywords: the contract fields of each record (checked against the field table by a test)
# ---------------------------------------------------------------------------------------------
class PersonFields(TypedDict, total=False):
    """Keywords of :meth:`PortfolioBuilder.person` and :meth:`~PortfolioBuilder.edit_person`:
    the fields of :class:`~allocator.domain.Person` but ``id`` and ``skills``. ``time_off``:
    ``(start, end)`` pairs; ``reduced_capacity``: ``(start, end, percent)`` triples (or
    mappings, or the domain records); ``placeholder``: a role not yet filled."""

    name: str | None
    hours_per_day: float | None
    cost_per_hour: float | None
    workdays: Sequence[str] | None
    available_from: DateLike | None
    available_until: DateLike | None
    time_off: Iterable[Any] | None
    reduced_capacity: Iterable[Any] | None
    team: str | None
    placeholder: bool | None


class ProjectFields(TypedDict, total=False):
    """Keywords of :meth:`PortfolioBuilder.project` and :meth:`ProjectBuilder.set`: the fields
    of :class:`~allocator.domain.Project` but ``id`` and ``tasks`` (``all_or_nothing``: its
    tasks are planned all together or none of them)."""

    name: str | None
    priority: int | None
    start_after: DateLike | None
    deadline: DateLike | None
    budget: float | None
    all_or_nothing: bool | None


class TaskFields(TypedDict, total=False):
    """Keywords of :meth:`ProjectBuilder.task` and :meth:`PortfolioBuilder.edit_task`: the
    fields of :class:`~allocator.domain.Task` but ``id``, and the shorthands ``after``
    (``predecessors``) and ``pinned_person`` / ``pinned_start`` (``pinned``, as the columns of
    the tasks table). One-person: ``skill`` (+ ``min_level``) with ``effort_hours`` or
    ``duration_days``; team: ``requirements`` (``[("data-eng", 3), {"skill": "qa", "count":
    2}]``; ``[]`` needs nobody) with ``duration_days``; ``estimate``: the ``(low, high)``
    range of the effort or duration (risk analysis)."""

    name: str | None
    skill: str | None
    min_level: int | None
    requirements: Iterable[Any] | None
    effort_hours: float | None
    duration_days: int | None
    allocation: int | None
    predecessors: Iterable[TaskRef | str] | TaskRef | str | None
    after: Iterable[TaskRef | str] | TaskRef | str | None
    earliest_start: DateLike | None
    deadline: DateLike | None
    priority: int | None
    exclude: Iterable[PersonRef | str] | None
    prefer: Iterable[PersonRef | str] | None
    pinned: Pin | Mapping[str, Any] | None
    pinned_person: PersonRef | str | None
    pinned_start: DateLike | None
    status: str | None
    progress: Progress | Mapping[str, Any] | None
    estimate: Estimate | Mapping[str, float] | tuple[float, float] | None


class PolicyFields(TypedDict, total=False):
    """Keywords of :meth:`PortfolioBuilder.set_policy` (and of the builder itself): the fields
    of :class:`~allocator.domain.Policy`."""

    objective: str | None
    hard_deadlines: bool | None
    freeze_days: int | None
    churn_budget: int | None
    stability: int | None


#: the builder's shorthands for task fields: keyword -> contract key
TASK_ALIASES: Mapping[str, str] = {"after": "predecessors"}
#: the ``pinned`` keywords: the columns of the tasks table (``pinned_person``) -> pin key
_PIN_KEYWORDS = {col: sub for sub, col in FLAT[Task]["pinned"].items()}


def _set(cls: type, out: dict[str, Any], fields: Mapping[str, Any], *handled_apart: str) -> None:
    """Apply keyword fields of a ``cls`` (its contract fields, but ``id`` and ``handled_apart``,
    or the shorthands of a task); unknown keywords raise ``TypeError``."""
    what = cls.__name__.lower()
    known = {k for k, _ in contract_fields(cls)} - {"id", *handled_apart}
    for key, value in fields.items():
        key = TASK_ALIASES.get(key, key) if cls is Task else key
        if key in known:
            _put(cls, out, key, value)
        elif cls is Task and key in _PIN_KEYWORDS:
            pin = dict(out.get("pinned", {}))
            _put(Pin, pin, _PIN_KEYWORDS[key], value)
            _put(Task, out, "pinned", pin or None)
        else:
            raise TypeError(f"unknown {what} field {key!r}")


# ---------------------------------------------------------------------------------------------
# Builders
# ---------------------------------------------------------------------------------------------
class ProjectBuilder:
    """A project of a :class:`PortfolioBuilder`; add tasks with :meth:`task`."""

    def __init__(self, owner: PortfolioBuilder, data: dict[str, Any]) -> None:
        self._owner = owner
        self._data = data

    @property
    def id(self) -> str:
        return str(self._data["id"])

    def __repr__(self) -> str:
        return f"ProjectBuilder({self.id!r}, tasks={[t['id'] for t in self._data['tasks']]})"

    def set(self, **fields: Unpack[ProjectFields]) -> ProjectBuilder:
        """Change project fields (:class:`ProjectFields`; None removes one)."""
        _set(Project, self._data, fields, "tasks")
        return self

    def task(self, id: str, **fields: Unpack[TaskFields]) -> TaskRef:
        """Add (or replace) a task (:class:`TaskFields`)."""
        data: dict[str, Any] = {"id": id}
        _set(Task, data, fields)
        self._owner._remove_task(id)
        self._data["tasks"].append(data)
        return TaskRef(id, self.id)


class PortfolioBuilder:
    """Assemble a portfolio in code; :meth:`build` validates it like a contract file."""

    def __init__(
        self,
        name: str,
        *,
        start: DateLike,
        end: DateLike,
        workdays: Sequence[str] | None = None,
        holidays: Iterable[DateLike] = (),
        as_of: DateLike | None = None,
        **policy: Unpack[PolicyFields],
    ) -> None:
        self.name = name
        self._calendar: dict[str, Any] = {"start": _day(start), "end": _day(end)}
        _put(Calendar, self._calendar, "workdays", workdays)
        _put(Calendar, self._calendar, "holidays", holidays)
        self._policy: dict[str, Any] = {}
        self.set_policy(**policy)
        self._as_of = None if as_of is None else _day(as_of)
        self._people: list[dict[str, Any]] = []
        self._projects: list[ProjectBuilder] = []

    # -- starting points -----------------------------------------------------------------------
    @classmethod
    def from_portfolio(cls, portfolio: Portfolio) -> PortfolioBuilder:
        """A builder holding ``portfolio`` (to add a hire, move a deadline, and re-solve)."""
        return cls.from_dict(portfolio_to_dict(portfolio))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PortfolioBuilder:
        """A builder holding a contract document (as read from JSON)."""
        data = copy.deepcopy(dict(data))
        cal = data.get("calendar", {})
        policy = data.get("policy", {})
        m = cls(
            data.get("name", ""),
            start=cal.get("start"),
            end=cal.get("end"),
            workdays=cal.get("workdays"),
            holidays=cal.get("holidays", ()),
            as_of=data.get("as_of"),
        )
        m._policy = dict(policy)
        m._people = list(data.get("people", []))
        for pr in data.get("projects", []):
            pr.setdefault("tasks", [])
            m._projects.append(ProjectBuilder(m, pr))
        return m

    def set_policy(self, **fields: Unpack[PolicyFields]) -> PortfolioBuilder:
        """Change policy fields (:class:`PolicyFields`; None removes one)."""
        _set(Policy, self._policy, fields)
        return self

    # -- people --------------------------------------------------------------------------------
    def person(
        self, id: str, *, skills: Mapping[str, int], **fields: Unpack[PersonFields]
    ) -> PersonRef:
        """Add (or replace) a person (:class:`PersonFields`)."""
        data: dict[str, Any] = {"id": id}
        _set(Person, data, {"skills": skills, **fields})
        self._people = [p for p in self._people if p.get("id") != id]
        self._people.append(data)
        return PersonRef(id)

    def edit_person(
        self,
        id: PersonRef | str,
        *,
        skills: Mapping[str, int] | None = None,
        **fields: Unpack[PersonFields],
    ) -> PersonRef:
        """Change some fields of a person (``None`` removes a field; ``skills`` replaces them)."""
        pid = _ids(id)[0]
        for p in self._people:
            if p.get("id") == pid:
                _set(Person, p, fields if skills is None else {"skills": skills, **fields})
                return PersonRef(pid)
        raise KeyError(f"no person {pid!r}")

    def remove_person(self, id: PersonRef | str) -> None:
        pid = _ids(id)[0]
        self._people = [p for p in self._people if p.get("id") != pid]

    # -- projects and tasks --------------------------------------------------------------------
    def project(self, id: str, **fields: Unpack[ProjectFields]) -> ProjectBuilder:
        """Add a project, or update the fields given (not None) of the project with this id."""
        given = {k: v for k, v in fields.items() if v is not None}
        for pr in self._projects:
            if pr.id == id:
                _set(Project, pr._data, given, "tasks")
                return pr
        pr = ProjectBuilder(self, {"id": id, "tasks": []})
        _set(Project, pr._data, given, "tasks")
        self._projects.append(pr)
        return pr

    def edit_task(self, id: TaskRef | str, **fields: Unpack[TaskFields]) -> TaskRef:
        """Change some fields of a task (``deadline=...``, ``after=[...]``; ``None`` removes)."""
        tid = _ids(id)[0]
        for pr in self._projects:
            for t in pr._data["tasks"]:
                if t.get("id") == tid:
                    _set(Task, t, fields)
                    return TaskRef(tid, pr.id)
        raise KeyError(f"no task {tid!r}")

    def remove_task(self, id: TaskRef | str) -> None:
        self._remove_task(_ids(id)[0])

    def _remove_task(self, tid: str) -> None:
        for pr in self._projects:
            pr._data["tasks"] = [t for t in pr._data["tasks"] if t.get("id") != tid]

    def holiday(self, *days: DateLike) -> None:
        self._calendar.setdefault("holidays", []).extend(_day(d) for d in days)

    # -- output --------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The contract document (``allocator.portfolio/v1``) built so far."""
        out: dict[str, Any] = {
            "format": PORTFOLIO_FORMAT,
            "name": self.name,
            "calendar": copy.deepcopy(self._calendar),
            "people": copy.deepcopy(self._people),
            "projects": [copy.deepcopy(pr._data) for pr in self._projects],
        }
        if self._policy:
            out["policy"] = dict(self._policy)
        if self._as_of is not None:
            out["as_of"] = self._as_of
        return out

    def build(self) -> Portfolio:
        """The validated portfolio; raises :class:`PortfolioError` listing every problem."""
        portfolio, structural = read_portfolio(self.to_dict())
        report = validate(portfolio, structural=structural)
        if report.errors:
            raise PortfolioError(list(report.errors) + list(report.warnings))
        for w in report.warnings:
            log.warning("%s", w)
        return portfolio

    def solve(self, **params: Any) -> Solution:
        """Build and solve: see :func:`solve_portfolio` for ``params``."""
        return solve_portfolio(self.build(), **params)

    def __repr__(self) -> str:
        n_tasks = sum(len(pr._data["tasks"]) for pr in self._projects)
        return (
            f"PortfolioBuilder({self.name!r}, people={len(self._people)}, "
            f"projects={len(self._projects)}, tasks={n_tasks})"
        )


# ---------------------------------------------------------------------------------------------
# Solving in a notebook
# ---------------------------------------------------------------------------------------------
def solve_portfolio(
    portfolio: Portfolio,
    *,
    time_limit: float = 10.0,
    workers: int = 1,
    seed: int = 0,
    **params: Any,
) -> Solution:
    """Solve with :func:`allocator.engine.solve`, recording progress, and wrap the result.

    ``params`` are further :class:`~allocator.engine.SolveParams` fields
    (``deterministic_time``, ``greedy_only``, ``stop_event`` ...); ``on_progress`` is called
    too, after the recorder.
    """
    from allocator.engine import SolveParams, solve

    recorder = ProgressRecorder()
    user = params.pop("on_progress", None)

    def on_progress(event: Any) -> None:
        recorder(event)
        if user is not None:
            user(event)

    sp = SolveParams(
        time_limit=time_limit, workers=workers, seed=seed, on_progress=on_progress, **params
    )
    result = solve(portfolio, sp)
    return Solution(portfolio, result, recorder)


class Solution:
    """A solved portfolio, for notebooks: the plan as DataFrames, KPIs, pictures and HTML."""

    def __init__(
        self, portfolio: Portfolio, result: Result, progress: ProgressRecorder | None = None
    ) -> None:
        self.portfolio = portfolio
        self.result = result
        self._progress = progress or ProgressRecorder()

    # -- the plan ------------------------------------------------------------------------------
    @property
    def plan(self) -> Plan:
        return self.result.plan

    @property
    def status(self) -> str:
        return self.result.plan.status

    @property
    def objective(self) -> dict[str, float | int] | None:
        """The plan's objective terms in planner units, in priority order (e.g.
        ``{"undelivered_work_hours": 12.5, "weighted_late_days": 3, ...}``), None without a
        plan."""
        obj = self.result.plan.objective
        return None if obj is None else dict(obj)

    @property
    def lower_bound(self) -> dict[str, float | int] | None:
        """Proven lower bounds of some or all of the objective's terms (planner units)."""
        lb = self.result.plan.lower_bound
        return None if lb is None else dict(lb)

    @property
    def gap(self) -> float | None:
        """The contract's gap (of the first term whose bound is below its value)."""
        return self.result.plan.gap

    @property
    def terms(self) -> dict[str, float | int]:
        """The objective's terms (as :attr:`objective`; empty without a plan)."""
        return self.objective or {}

    @property
    def objective_table(self) -> pd.DataFrame:
        """The objective's terms, one row each in priority order: ``label`` (with its unit),
        ``value`` and proven ``lower_bound`` (NaN where there is none), in planner units."""
        obj = self.objective or {}
        lb = self.lower_bound or {}
        index = pd.Index(list(obj), name="term", dtype="string")
        return pd.DataFrame(
            {
                "label": pd.array([term_label(n) for n in obj], dtype="string"),
                "value": pd.array([float(v) for v in obj.values()], dtype="float64"),
                "lower_bound": pd.array(
                    [float(lb[n]) if n in lb else float("nan") for n in obj], dtype="float64"
                ),
            },
            index=index,
        )

    @cached_property
    def checked(self) -> CheckResult:
        """The independent checker's verdict and KPIs."""
        return check(self.portfolio, self.plan)

    # -- tables --------------------------------------------------------------------------------
    @cached_property
    def assignments(self) -> pd.DataFrame:
        return assignments_frame(self.portfolio, self.plan)

    @cached_property
    def unassigned(self) -> pd.DataFrame:
        return unassigned_frame(self.portfolio, self.plan)

    @cached_property
    def kpis(self) -> pd.DataFrame:
        """The plan's KPIs (:func:`allocator.frames.kpi_summary`) as a one-column DataFrame."""
        return kpi_summary(self.portfolio, self.plan).rename("value").to_frame()

    @cached_property
    def kpi_tables(self) -> dict[str, pd.DataFrame]:
        """KPIs per ``person``, ``team``, ``skill`` and ``week``."""
        return kpi_frames(self.portfolio, self.plan)

    @property
    def by_person(self) -> pd.DataFrame:
        return self.kpi_tables["person"]

    @property
    def by_team(self) -> pd.DataFrame:
        return self.kpi_tables["team"]

    @property
    def by_skill(self) -> pd.DataFrame:
        return self.kpi_tables["skill"]

    @property
    def by_week(self) -> pd.DataFrame:
        return self.kpi_tables["week"]

    def demand_capacity(self, freq: str = "W") -> pd.DataFrame:
        return demand_capacity_frame(self.portfolio, self.plan, freq)

    @property
    def progress(self) -> pd.DataFrame:
        """The solver's progress reports (:class:`allocator.frames.ProgressRecorder`)."""
        return self._progress.frame()

    def compare(self, other: Solution, labels: tuple[str, str] = ("this", "other")) -> pd.DataFrame:
        """KPIs of this solution and ``other`` side by side, with the change (other - this).
        The objective's terms are the ``term:<name>`` rows (planner units): compare two plans
        by them in order, the first that differs decides."""
        return kpi_diff(self.kpis["value"], other.kpis["value"], labels)

    # -- pictures ------------------------------------------------------------------------------
    @property
    def plot(self) -> _Plots:
        """``.gantt(by="person" | "project")``, ``.utilization()``, ``.demand_capacity()``,
        ``.progress()``: plotly figures (:mod:`allocator.plots`)."""
        return _Plots(self)

    # -- display -------------------------------------------------------------------------------
    def __repr__(self) -> str:
        plan = self.plan
        return (
            f"Solution({self.portfolio.name!r}, status={self.status}, "
            f"objective={format_terms(plan.objective, plan.lower_bound, plan.gap)!r}, "
            f"assigned={len(plan.assignments)}, unassigned={len(plan.unassigned)})"
        )

    def _repr_html_(self, max_rows: int = 60) -> str:
        esc = html.escape
        plan = self.plan
        head = [
            ("portfolio", self.portfolio.name),
            ("status", plan.status),
            ("objective", format_terms(plan.objective, plan.lower_bound, plan.gap)),
            ("gap", format_gap(plan.gap)),
            ("solver", plan.extra.get("solver")),
            ("solve seconds", plan.solve_seconds),
            ("valid (checker)", self.checked.valid),
        ]
        rows = "".join(
            f"<tr><th style='text-align:left'>{esc(k)}</th><td>{esc(str(v))}</td></tr>"
            for k, v in head
        )
        parts = [
            "<div class='allocator-solution'>",
            f"<h4>Plan for {esc(self.portfolio.name)}</h4>",
            f"<table>{rows}</table>",
        ]
        if self.terms:
            parts += [
                "<h5>Objective terms</h5>",
                self.objective_table.to_html(float_format=_number, na_rep=""),
            ]
        parts += ["<h5>KPIs</h5>", self.kpis.to_html(float_format=_number)]
        cols = ["task", "project", "person", "skill", "start", "finish", "hours", "cost"]
        cols += ["late_days"]
        asg = self.assignments[cols].copy()
        for c in ("start", "finish"):
            asg[c] = asg[c].dt.strftime("%Y-%m-%d")
        parts += [
            f"<h5>Assignments ({len(plan.assignments)} tasks)</h5>",
            asg.to_html(max_rows=max_rows, index=False, na_rep=""),
        ]
        if plan.unassigned:
            parts += [
                f"<h5>Unassigned ({len(plan.unassigned)} tasks)</h5>",
                self.unassigned[["task", "project", "priority", "work_hours", "reasons"]].to_html(
                    max_rows=max_rows, index=False
                ),
            ]
        parts.append("</div>")
        return "\n".join(parts)


def _number(x: float) -> str:
    """KPIs for people: whole numbers with thousands separators, shares with 4 digits."""
    if x != x:  # NaN
        return ""
    if float(x).is_integer():
        return f"{x:,.0f}"
    return f"{x:,.1f}" if abs(x) >= 100 else f"{x:.4g}"


class _Plots:
    """The figures of a :class:`Solution` (each a plotly ``Figure``)."""

    def __init__(self, solution: Solution) -> None:
        self._s = solution

    def gantt(self, by: str = "person", **kwargs: Any) -> go.Figure:
        from allocator import plots

        return plots.gantt(self._s.portfolio, self._s.plan, by=by, **kwargs)

    def utilization(self, freq: str = "W", **kwargs: Any) -> go.Figure:
        from allocator import plots

        return plots.utilization_heatmap(self._s.portfolio, self._s.plan, freq=freq, **kwargs)

    def demand_capacity(self, freq: str = "W", **kwargs: Any) -> go.Figure:
        from allocator import plots

        return plots.demand_capacity(self._s.portfolio, self._s.plan, freq=freq, **kwargs)

    def progress(self, **kwargs: Any) -> go.Figure:
        from allocator import plots

        return plots.progress(self._s.progress, **kwargs)
