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
from typing import TYPE_CHECKING, Any, TypeAlias

import pandas as pd

from allocator.checker import CheckResult, check
from allocator.contract import portfolio_to_dict, read_portfolio
from allocator.domain import (
    PORTFOLIO_FORMAT,
    Estimate,
    Person,
    Plan,
    Policy,
    Portfolio,
    Project,
    Requirement,
    Task,
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
from allocator.terms_text import format_gap, format_terms, term_label
from allocator.validation import validate

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from allocator.engine import Result

log = logging.getLogger(__name__)

__all__ = [
    "PersonRef",
    "PortfolioBuilder",
    "ProjectBuilder",
    "Solution",
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


def _ranges(values: Iterable[Any], keys: Sequence[str]) -> list[dict[str, Any]]:
    """``(start, end[, percent])`` tuples or mappings to contract objects."""
    out = []
    for v in values:
        item = dict(v) if isinstance(v, Mapping) else dict(zip(keys, v, strict=False))
        out.append({k: (_day(x) if k in ("start", "end") else _scalar(x)) for k, x in item.items()})
    return out


def _requirements(values: Iterable[Any]) -> list[dict[str, Any]]:
    """Requirements as :class:`Requirement`, mappings or ``(skill, min_level, count)`` tuples."""
    out: list[dict[str, Any]] = []
    for v in values:
        if isinstance(v, Requirement):
            d: dict[str, Any] = {"skill": v.skill}
            if v.min_level is not None:
                d["min_level"] = v.min_level
            if v.count is not None:
                d["count"] = v.count
        elif isinstance(v, Mapping):
            d = {k: _scalar(x) for k, x in v.items()}
        elif isinstance(v, str):
            d = {"skill": v}
        else:
            d = dict(zip(("skill", "min_level", "count"), map(_scalar, v), strict=False))
        out.append(d)
    return out


def _estimate(v: Any) -> Any:
    """An estimate as :class:`Estimate`, a mapping ``{low, high}`` or a ``(low, high)`` pair."""
    if isinstance(v, Estimate):
        return {"low": v.low, "high": v.high}
    if isinstance(v, Mapping):
        return {k: _scalar(x) for k, x in v.items()}
    if isinstance(v, str):
        return v  # the reader names it
    return dict(zip(("low", "high"), map(_scalar, v), strict=False))


_DATE_KEYS = frozenset(
    {"available_from", "available_until", "start_after", "deadline", "earliest_start"}
)
_ID_LIST_KEYS = frozenset({"predecessors", "exclude", "prefer"})


def _put(out: dict[str, Any], key: str, value: Any) -> None:
    """Set a contract key from a Python value (``None``: leave the key out)."""
    if value is None:
        out.pop(key, None)
        return
    if key in _DATE_KEYS:
        out[key] = _day(value)
    elif key in _ID_LIST_KEYS:
        out[key] = _ids(value)
    elif key == "workdays":
        out[key] = [value] if isinstance(value, str) else list(value)
    elif key == "skills":
        out[key] = {str(k): _scalar(v) for k, v in dict(value).items()}
    elif key == "time_off":
        out[key] = _ranges(value, ("start", "end"))
    elif key == "reduced_capacity":
        out[key] = _ranges(value, ("start", "end", "percent"))
    elif key == "requirements":
        out[key] = _requirements(value)
    elif key == "estimate":
        out[key] = _estimate(value)
    else:
        out[key] = _scalar(value)


def _keywords(cls: type, *handled_apart: str) -> frozenset[str]:
    """The builder keywords of a record: its contract fields, but ``id`` and ``handled_apart``."""
    return frozenset(k for k, _ in contract_fields(cls) if k not in {"id", *handled_apart})


_PERSON_KEYS = _keywords(Person)
#: ``pinned`` and ``progress`` have keywords of their own (see :func:`_task_fields`)
_TASK_KEYS = _keywords(Task, "pinned", "progress")
_PROJECT_KEYS = _keywords(Project, "tasks")
_POLICY_KEYS = _keywords(Policy)


def _task_fields(out: dict[str, Any], fields: Mapping[str, Any]) -> None:
    """Apply task keyword fields; ``after`` is ``predecessors``; ``pinned_person`` /
    ``pinned_start`` / ``pin`` make ``pinned``; ``progress`` is a mapping."""
    for key, value in fields.items():
        if key == "after":
            key = "predecessors"
        if key in _TASK_KEYS:
            _put(out, key, value)
        elif key in ("pinned_person", "pinned_start"):
            pin = dict(out.get("pinned", {}))
            sub = key.removeprefix("pinned_")
            if value is None:
                pin.pop(sub, None)
            else:
                pin[sub] = _ids(value)[0] if sub == "person" else _day(value)
            if pin:
                out["pinned"] = pin
            else:
                out.pop("pinned", None)
        elif key == "progress":
            if value is None:
                out.pop("progress", None)
            else:
                prog = {k: _scalar(v) for k, v in dict(value).items()}
                if "people" in prog:
                    prog["people"] = _ids(prog["people"])
                out["progress"] = prog
        else:
            raise TypeError(f"unknown task field {key!r}")


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

    def set(self, **fields: Any) -> ProjectBuilder:
        """Change project fields (``name``, ``priority``, ``start_after``, ``deadline``,
        ``budget``, ``all_or_nothing``)."""
        for key, value in fields.items():
            if key not in _PROJECT_KEYS:
                raise TypeError(f"unknown project field {key!r}")
            _put(self._data, key, value)
        return self

    def task(
        self,
        id: str,
        *,
        skill: str | None = None,
        min_level: int | None = None,
        requirements: Iterable[Any] | None = None,
        effort_hours: float | None = None,
        duration_days: int | None = None,
        allocation: int | None = None,
        after: Iterable[TaskRef | str] | TaskRef | str = (),
        name: str | None = None,
        earliest_start: DateLike | None = None,
        deadline: DateLike | None = None,
        priority: int | None = None,
        exclude: Iterable[PersonRef | str] = (),
        prefer: Iterable[PersonRef | str] = (),
        pinned_person: PersonRef | str | None = None,
        pinned_start: DateLike | None = None,
        status: str | None = None,
        progress: Mapping[str, Any] | None = None,
        estimate: Estimate | Mapping[str, float] | tuple[float, float] | None = None,
    ) -> TaskRef:
        """Add (or replace) a task. One-person: ``skill`` (+ ``min_level``) with
        ``effort_hours`` or ``duration_days``; team: ``requirements`` (``[("data-eng", 3),
        {"skill": "qa", "count": 2}]``; ``[]`` needs nobody) with ``duration_days``.
        ``estimate``: the ``(low, high)`` range of the effort or duration (risk analysis)."""
        data: dict[str, Any] = {"id": id}
        fields: dict[str, Any] = {
            "name": name,
            "skill": skill,
            "min_level": min_level,
            "requirements": requirements,
            "effort_hours": effort_hours,
            "duration_days": duration_days,
            "allocation": allocation,
            "after": after or None,
            "earliest_start": earliest_start,
            "deadline": deadline,
            "priority": priority,
            "exclude": exclude or None,
            "prefer": prefer or None,
            "pinned_person": pinned_person,
            "pinned_start": pinned_start,
            "status": status,
            "progress": progress,
            "estimate": estimate,
        }
        _task_fields(data, fields)
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
        objective: str | None = None,
        hard_deadlines: bool | None = None,
        as_of: DateLike | None = None,
    ) -> None:
        self.name = name
        self._calendar: dict[str, Any] = {"start": _day(start), "end": _day(end)}
        if workdays is not None:
            self._calendar["workdays"] = list(workdays)
        hol = [_day(d) for d in holidays]
        if hol:
            self._calendar["holidays"] = hol
        self._policy: dict[str, Any] = {}
        if objective is not None:
            self._policy["objective"] = objective
        if hard_deadlines is not None:
            self._policy["hard_deadlines"] = hard_deadlines
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

    def set_policy(self, **fields: Any) -> PortfolioBuilder:
        """Change policy fields (``objective``, ``hard_deadlines``, ``freeze_days``,
        ``churn_budget``, ``stability``; None removes one)."""
        for key, value in fields.items():
            if key not in _POLICY_KEYS:
                raise TypeError(f"unknown policy field {key!r}")
            _put(self._policy, key, value)
        return self

    # -- people --------------------------------------------------------------------------------
    def person(
        self,
        id: str,
        *,
        skills: Mapping[str, int],
        name: str | None = None,
        hours_per_day: float | None = None,
        cost_per_hour: float | None = None,
        workdays: Sequence[str] | None = None,
        available_from: DateLike | None = None,
        available_until: DateLike | None = None,
        time_off: Iterable[Any] = (),
        reduced_capacity: Iterable[Any] = (),
        team: str | None = None,
        placeholder: bool | None = None,
    ) -> PersonRef:
        """Add (or replace) a person. ``time_off``: ``(start, end)`` pairs;
        ``reduced_capacity``: ``(start, end, percent)`` triples (or mappings);
        ``placeholder``: a role not yet filled (reported as hiring demand)."""
        data: dict[str, Any] = {"id": id}
        fields = {
            "name": name,
            "skills": skills,
            "hours_per_day": hours_per_day,
            "cost_per_hour": cost_per_hour,
            "workdays": workdays,
            "available_from": available_from,
            "available_until": available_until,
            "time_off": list(time_off) or None,
            "reduced_capacity": list(reduced_capacity) or None,
            "team": team,
            "placeholder": placeholder,
        }
        for key, value in fields.items():
            _put(data, key, value)
        self._people = [p for p in self._people if p.get("id") != id]
        self._people.append(data)
        return PersonRef(id)

    def edit_person(self, id: PersonRef | str, **fields: Any) -> PersonRef:
        """Change some fields of a person (``None`` removes a field)."""
        pid = _ids(id)[0]
        for p in self._people:
            if p.get("id") == pid:
                for key, value in fields.items():
                    if key not in _PERSON_KEYS:
                        raise TypeError(f"unknown person field {key!r}")
                    _put(p, key, value)
                return PersonRef(pid)
        raise KeyError(f"no person {pid!r}")

    def remove_person(self, id: PersonRef | str) -> None:
        pid = _ids(id)[0]
        self._people = [p for p in self._people if p.get("id") != pid]

    # -- projects and tasks --------------------------------------------------------------------
    def project(
        self,
        id: str,
        *,
        name: str | None = None,
        priority: int | None = None,
        start_after: DateLike | None = None,
        deadline: DateLike | None = None,
        budget: float | None = None,
        all_or_nothing: bool | None = None,
    ) -> ProjectBuilder:
        """Add a project, or update the given fields of the project with this id
        (``all_or_nothing``: its tasks are planned all together or none of them)."""
        given = {
            k: v
            for k, v in (
                ("name", name),
                ("priority", priority),
                ("start_after", start_after),
                ("deadline", deadline),
                ("budget", budget),
                ("all_or_nothing", all_or_nothing),
            )
            if v is not None
        }
        for pr in self._projects:
            if pr.id == id:
                return pr.set(**given)
        pr = ProjectBuilder(self, {"id": id, "tasks": []})
        pr.set(**given)
        self._projects.append(pr)
        return pr

    def edit_task(self, id: TaskRef | str, **fields: Any) -> TaskRef:
        """Change some fields of a task (``deadline=...``, ``after=[...]``; ``None`` removes)."""
        tid = _ids(id)[0]
        for pr in self._projects:
            for t in pr._data["tasks"]:
                if t.get("id") == tid:
                    _task_fields(t, fields)
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
