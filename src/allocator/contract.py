"""Contract I/O: the ``allocator.portfolio/v1`` and ``allocator.plan/v2`` JSON formats
(``allocator.plan/v1`` files are still read: see :func:`read_plan`).

*Why one file of over 800 lines*: the reader and the writer of each record sit side by side so
that a field added to one is seen missing from the other (the round-trip property test checks
them). The fields of each record, nested records included (``time_off``, ``requirements``,
``pinned``, ``progress``, ``estimate`` ...), are read and written by one loop over the record's
field table (:func:`allocator.domain.contract_fields`); only a person's ``skills`` map and a
project's ``tasks`` are read apart.

Reading is *structural*: types, dates, finiteness, required keys and unknown keys. Every problem
is collected with its JSON path (``projects[0].tasks[2].effort_hours``) before anything is
raised, so a user sees all of them at once. Rules about meaning (ranges, references, cycles,
"both or neither") live in :mod:`allocator.validation`; :func:`load_portfolio` runs both.

Writing emits exactly the contract's keys, omitting the ones that were not given, so
``read(write(x)) == x`` holds for every portfolio and plan (a property test checks it).

Engine fields in a plan (documented here, optional for readers):

* assignment ``hours``: active days x ``hours_per_day`` x ``allocation`` / 100, summed over the
  assignees; ``cost``: the same hours priced at each assignee's ``cost_per_hour``.
* plan ``solver``: what produced it; ``kpis`` (written by ``allocator check --json``).

A v2 plan's ``objective`` and ``lower_bound`` are objects of terms in planner units (see
:mod:`allocator.objective`), ``gap`` a number with at most 2 decimals, rounded up.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

from allocator.domain import (
    PLAN_FORMAT,
    PLAN_FORMAT_V1,
    PORTFOLIO_FORMAT,
    WEEKDAYS,
    Assignment,
    Calendar,
    Change,
    Person,
    Plan,
    Policy,
    Portfolio,
    Project,
    Spec,
    Task,
    Unassigned,
    contract_defaults,
    contract_fields,
    frozen_map,
)
from allocator.errors import Issue, PlanFormatError, PortfolioError
from allocator.objective import MAKESPAN_TERMS, PORTFOLIO_TERMS, gap_of

T = TypeVar("T")
log = logging.getLogger(__name__)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MISSING = object()
#: larger integers are rejected: no field of the contract needs them, and they overflow floats
_MAX_INT = 10**15


class _Reader:
    """Walks a JSON value, converting fields and collecting issues with their paths."""

    def __init__(self) -> None:
        self.issues: list[Issue] = []

    def error(self, path: str, message: str) -> None:
        self.issues.append(Issue(path, message))

    def warn(self, path: str, message: str) -> None:
        self.issues.append(Issue(path, message, "warning"))

    # -- containers --------------------------------------------------------------------------
    def obj(
        self, value: Any, path: str, known: set[str] | frozenset[str], what: str
    ) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.error(path, f"{what} must be an object, got {_kind(value)}")
            return {}
        for key in value:
            if key not in known:
                self.warn(
                    f"{path}.{key}" if path else key, f"unknown key {key!r} in {what} (ignored)"
                )
        return value

    def lst(self, value: Any, path: str, what: str) -> list[Any]:
        if not isinstance(value, list):
            self.error(path, f"{what} must be a list, got {_kind(value)}")
            return []
        return value

    # -- scalars -----------------------------------------------------------------------------
    def field(
        self,
        data: Mapping[str, Any],
        key: str,
        path: str,
        conv: Callable[[Any, str], T | None],
        *,
        required: bool = False,
        what: str = "",
    ) -> T | None:
        value = data.get(key, _MISSING)
        p = f"{path}.{key}" if path else key
        if value is _MISSING:
            if required:
                self.error(p, f"{what + ': ' if what else ''}missing required field {key!r}")
            return None
        if value is None:
            self.error(p, f"{what + ': ' if what else ''}{key} must not be null")
            return None
        return conv(value, p)

    def string(self, value: Any, path: str) -> str | None:
        if not isinstance(value, str):
            self.error(path, f"must be a string, got {_kind(value)}")
            return None
        return value

    def integer(self, value: Any, path: str) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.error(path, f"must be an integer, got {_kind(value)}")
            return None
        if isinstance(value, float):
            if not math.isfinite(value) or not value.is_integer():
                self.error(path, f"must be an integer, got {value!r}")
                return None
            value = int(value)
        out = int(value)
        if abs(out) > _MAX_INT:
            self.error(path, "number too large (over 10**15)")
            return None
        return out

    def number(self, value: Any, path: str) -> float | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.error(path, f"must be a number, got {_kind(value)}")
            return None
        if isinstance(value, int):
            if abs(value) > _MAX_INT:
                self.error(path, "number too large (over 10**15)")
                return None
            return value
        if not math.isfinite(value):
            self.error(path, f"must be a finite number, got {value!r}")
            return None
        return value

    def boolean(self, value: Any, path: str) -> bool | None:
        if not isinstance(value, bool):
            self.error(path, f"must be true or false, got {_kind(value)}")
            return None
        return value

    def day(self, value: Any, path: str) -> date | None:
        if not isinstance(value, str) or not _DATE.match(value):
            self.error(path, f"must be a date YYYY-MM-DD, got {value!r}")
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            self.error(path, f"not a calendar date: {value!r}")
            return None

    def weekdays(self, value: Any, path: str) -> tuple[str, ...] | None:
        items = self.lst(value, path, "workdays")
        out: list[str] = []
        for i, v in enumerate(items):
            if v not in WEEKDAYS:
                self.error(f"{path}[{i}]", f"must be one of {', '.join(WEEKDAYS)}, got {v!r}")
            else:
                out.append(v)
        return tuple(out)

    def strings(self, value: Any, path: str) -> tuple[str, ...] | None:
        items = self.lst(value, path, "list of ids")
        out: list[str] = []
        for i, v in enumerate(items):
            s = self.string(v, f"{path}[{i}]")
            if s is not None:
                out.append(s)
        return tuple(out)

    def dates(self, value: Any, path: str) -> tuple[date, ...] | None:
        items = self.lst(value, path, "list of dates")
        out: list[date] = []
        for i, v in enumerate(items):
            d = self.day(v, f"{path}[{i}]")
            if d is not None:
                out.append(d)
        return tuple(out)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


# ---------------------------------------------------------------------------------------------
# Portfolio: reading
# ---------------------------------------------------------------------------------------------
_PORTFOLIO_KEYS = frozenset({"format", "name", "calendar", "people", "projects", "policy", "as_of"})


def _keys(cls: type) -> frozenset[str]:
    return frozenset(key for key, _ in contract_fields(cls))


_CALENDAR_KEYS = _keys(Calendar)
_PERSON_KEYS = _keys(Person)
_PROJECT_KEYS = _keys(Project)
_TASK_KEYS = _keys(Task)
_POLICY_KEYS = _keys(Policy)
_STATUSES = dict(contract_fields(Task))["status"].choices


def _id_of(data: Mapping[str, Any], fallback: str) -> str:
    v = data.get("id")
    return v if isinstance(v, str) else fallback


def _read_fields(
    r: _Reader, cls: type, data: Mapping[str, Any], path: str, who: str = "", **given: Any
) -> dict[str, Any]:
    """The keyword arguments of a ``cls`` read from ``data``, in the order of its field table:
    ``given`` values as they are (a ``nested`` field must be given), nested records by
    :func:`_read_records` / :func:`_read_record` (``who`` names the owner in their messages),
    scalars by their kind; a field not given (or unusable) gets its default."""
    out = dict(given)
    defaults = contract_defaults(cls)
    for key, spec in contract_fields(cls):
        if key in out:
            continue
        p = f"{path}.{key}" if path else key
        if spec.kind == "records":
            value = data.get(key, _MISSING)
            out[key] = (
                defaults[key] if value is _MISSING else _read_records(r, key, spec, value, p, who)
            )
            continue
        if spec.kind == "record":
            value = data.get(key, _MISSING)
            out[key] = None if value is _MISSING else _read_record(r, key, spec, value, p, who)
            continue
        if key not in data:  # not given: the default, no issue
            out[key] = defaults[key]
            continue
        value = r.field(data, key, path, _converter(r, spec))
        out[key] = defaults[key] if value is None else value
    return out


def _converter(r: _Reader, spec: Spec) -> Callable[[Any, str], Any]:
    """The reader of a scalar or list field's value (not null)."""
    if spec.kind == "choice":
        return _read_choice(r, spec.choices)
    conv: Callable[[Any, str], Any] = getattr(r, _READERS[spec.kind])
    return conv


#: the empty value kept for a required field of these kinds when it is missing or unusable (the
#: record stays, so the positions of the next ones stay right); a record missing a required
#: value of another kind (a date, a number) is left out
_EMPTY = {"str": "", "ids": ()}


def _record_fields(
    r: _Reader, cls: type, data: Mapping[str, Any], path: str, who: str
) -> dict[str, Any] | None:
    """The fields of one nested record read from ``data`` (already an object), or None when a
    required one is unusable and has no empty value (every field is read, and reported)."""
    out: dict[str, Any] = {}
    keep = True
    for key, spec in contract_fields(cls):
        if spec.required:
            value = r.field(data, key, path, _converter(r, spec), required=True, what=who)
            if value is None:
                keep = keep and spec.kind in _EMPTY
                value = _EMPTY.get(spec.kind)
        else:
            value = r.field(data, key, path, _converter(r, spec))
        out[key] = value
    return out if keep else None


def _read_records(
    r: _Reader, key: str, spec: Spec, value: Any, path: str, who: str
) -> tuple[Any, ...]:
    """A list of nested records (``time_off``, ``requirements`` ...); an item that is not an
    object is reported, then read as an empty one (its missing fields are reported too)."""
    cls = spec.record
    assert cls is not None  # a records field names its record (checked by Spec)
    out = []
    for i, item in enumerate(r.lst(value, path, f"{who}: {key}")):
        p = f"{path}[{i}]"
        data = r.obj(item, p, _keys(cls), f"{who}: {spec.item or key}")
        got = _record_fields(r, cls, data, p, who)
        if got is not None:
            out.append(cls(**got))
    return tuple(out)


def _read_record(r: _Reader, key: str, spec: Spec, value: Any, path: str, who: str) -> Any:
    """One nested record (``pinned``, ``progress``, ``estimate``); None when the value is not
    an object (reported once) or a required field is unusable."""
    cls = spec.record
    assert cls is not None  # a record field names its record (checked by Spec)
    data = r.obj(value, path, _keys(cls), f"{who}: {spec.item or key}")
    if not isinstance(value, dict):
        return None
    got = _record_fields(r, cls, data, path, who)
    return None if got is None else cls(**got)


#: the :class:`_Reader` method converting each scalar kind
_READERS = {
    "str": "string",
    "id": "string",
    "int": "integer",
    "number": "number",
    "bool": "boolean",
    "date": "day",
    "weekdays": "weekdays",
    "ids": "strings",
    "dates": "dates",
}


def _read_calendar(r: _Reader, value: Any) -> Calendar:
    data = r.obj(value, "calendar", _CALENDAR_KEYS, "calendar")
    start = r.field(data, "start", "calendar", r.day, required=True, what="calendar")
    end = r.field(data, "end", "calendar", r.day, required=True, what="calendar")
    fallback = date(2000, 1, 3)
    return Calendar(
        **_read_fields(
            r, Calendar, data, "calendar", start=start or fallback, end=end or start or fallback
        )
    )


def _read_skills(r: _Reader, value: Any, path: str, who: str) -> dict[str, int]:
    if not isinstance(value, dict):
        r.error(path, f"person {who}: skills must be an object skill -> level, got {_kind(value)}")
        return {}
    out: dict[str, int] = {}
    for skill, level in value.items():
        key = f".{skill}" if re.fullmatch(r"[A-Za-z0-9_-]+", skill) else f"[{json.dumps(skill)}]"
        lv = r.integer(level, f"{path}{key}")
        if lv is not None:
            out[skill] = lv
    return out


def _read_person(r: _Reader, value: Any, path: str, n: int) -> Person:
    data = r.obj(value, path, _PERSON_KEYS, "person")
    pid = r.field(data, "id", path, r.string, required=True, what="person") or f"<person #{n}>"
    who = f"person {pid}"
    skills_raw = data.get("skills", _MISSING)
    if skills_raw is _MISSING:
        r.error(f"{path}.skills", f"{who}: missing required field 'skills'")
        skills: dict[str, int] = {}
    else:
        skills = _read_skills(r, skills_raw, f"{path}.skills", pid)
    return Person(**_read_fields(r, Person, data, path, who, id=pid, skills=frozen_map(skills)))


def _read_choice(r: _Reader, choices: tuple[str, ...]) -> Callable[[Any, str], str | None]:
    def conv(value: Any, path: str) -> str | None:
        if value not in choices:
            r.error(path, f"must be one of {', '.join(choices)}, got {value!r}")
            return None
        return str(value)

    return conv


def _read_task(r: _Reader, value: Any, path: str, project: str, n: int) -> Task:
    data = r.obj(value, path, _TASK_KEYS, "task")
    tid = r.field(data, "id", path, r.string, required=True, what="task") or f"<task #{n}>"
    # status first: its issue has always been reported before the other fields'
    status = r.field(data, "status", path, _read_choice(r, _STATUSES))
    return Task(
        **_read_fields(r, Task, data, path, f"task {tid}", id=tid, project=project, status=status)
    )


def _read_project(r: _Reader, value: Any, path: str, n: int) -> Project:
    data = r.obj(value, path, _PROJECT_KEYS, "project")
    pid = r.field(data, "id", path, r.string, required=True, what="project") or f"<project #{n}>"
    tasks = tuple(
        _read_task(r, t, f"{path}.tasks[{i}]", pid, i)
        for i, t in enumerate(
            r.lst(data.get("tasks", []), f"{path}.tasks", f"project {pid}: tasks")
        )
    )
    if "tasks" not in data:
        r.error(f"{path}.tasks", f"project {pid}: missing required field 'tasks'")
    return Project(**_read_fields(r, Project, data, path, id=pid, tasks=tasks))


def _read_policy(r: _Reader, value: Any) -> Policy:
    data = r.obj(value, "policy", _POLICY_KEYS, "policy")
    return Policy(**_read_fields(r, Policy, data, "policy"))


def read_portfolio(data: Any) -> tuple[Portfolio, list[Issue]]:
    """Convert a parsed JSON value into a :class:`Portfolio`, without judging its meaning.

    Returns the portfolio and every structural issue (errors and unknown-key warnings). When
    there are errors the portfolio is a best effort (placeholders where values were unusable)
    and must not be planned; :func:`load_portfolio` raises instead.
    """
    r = _Reader()
    top = r.obj(data, "", _PORTFOLIO_KEYS, "portfolio")
    fmt = top.get("format", _MISSING)
    if fmt is _MISSING:
        r.error("format", f"missing required field 'format' (expected {PORTFOLIO_FORMAT!r})")
    elif fmt != PORTFOLIO_FORMAT:
        r.error("format", f"expected {PORTFOLIO_FORMAT!r}, got {fmt!r}")
    name = r.field(top, "name", "", r.string, required=True, what="portfolio") or ""
    if "calendar" not in top:
        r.error("calendar", "missing required field 'calendar'")
    calendar = _read_calendar(r, top.get("calendar", {}))
    if "people" not in top:
        r.error("people", "missing required field 'people'")
    people = tuple(
        _read_person(r, p, f"people[{i}]", i)
        for i, p in enumerate(r.lst(top.get("people", []), "people", "people"))
    )
    if "projects" not in top:
        r.error("projects", "missing required field 'projects'")
    projects = tuple(
        _read_project(r, p, f"projects[{i}]", i)
        for i, p in enumerate(r.lst(top.get("projects", []), "projects", "projects"))
    )
    policy = _read_policy(r, top["policy"]) if "policy" in top else Policy()
    as_of = r.field(top, "as_of", "", r.day)
    return Portfolio(name, calendar, people, projects, policy, as_of), r.issues


def parse_json_text(text: str, what: str = "file") -> Any:
    """``json.loads`` that rejects NaN/Infinity and reports the line and column of a syntax error."""

    def bad_constant(name: str) -> Any:
        raise ValueError(f"non-finite number {name} is not allowed")

    try:
        return json.loads(text, parse_constant=bad_constant)
    except json.JSONDecodeError as exc:
        raise PortfolioError(
            [
                Issue(
                    "",
                    f"{what} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                )
            ]
        ) from None
    except ValueError as exc:
        raise PortfolioError([Issue("", f"{what}: {exc}")]) from None


def load_portfolio(source: str | Path | Mapping[str, Any]) -> Portfolio:
    """Read a portfolio (a path, or already-parsed JSON) and validate it completely.

    Raises :class:`~allocator.errors.PortfolioError` listing every error, structural and of
    meaning together (with the warnings in ``.warnings``). Warnings of a valid portfolio
    (unknown keys, skills nobody has) are logged; :func:`allocator.validation.validate` returns
    them as values.
    """
    from allocator.validation import validate  # local: validation imports this module

    data = load_json(source, PortfolioError)
    portfolio, issues = read_portfolio(data)
    report = validate(portfolio, structural=issues)
    if report.errors:
        raise PortfolioError(list(report.errors) + list(report.warnings))
    for w in report.warnings:
        log.warning("%s", w)
    return portfolio


def load_json(
    source: str | Path | Mapping[str, Any], err: type[PortfolioError] | type[PlanFormatError]
) -> Any:
    """The JSON document at ``source`` (a path; a mapping is returned as is); an unreadable
    file or bad JSON raises ``err`` with one issue naming the file."""
    if isinstance(source, Mapping):
        return source
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise err([Issue("", f"file not found: {path}")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise err([Issue("", f"cannot read {path}: {exc}")]) from None
    try:
        return parse_json_text(text, str(path))
    except PortfolioError as exc:
        raise err(exc.issues) from None


# ---------------------------------------------------------------------------------------------
# Portfolio: writing
# ---------------------------------------------------------------------------------------------
def _put(out: dict[str, Any], key: str, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, date):
        value = value.isoformat()
    out[key] = value


#: how :func:`_write_fields` writes each field kind
_SCALAR, _LIST, _RECORD, _RECORDS, _NESTED = range(5)
_HOW = {
    "nested": _NESTED,
    "weekdays": _LIST,
    "ids": _LIST,
    "dates": _LIST,
    "record": _RECORD,
    "records": _RECORDS,
}
#: per record: (key, how, written even when empty)
_WRITE_PLANS: dict[type, tuple[tuple[str, int, bool], ...]] = {}


def _write_plan(cls: type) -> tuple[tuple[str, int, bool], ...]:
    plan = _WRITE_PLANS.get(cls)
    if plan is None:
        defaults = contract_defaults(cls)
        plan = tuple(
            (key, _HOW.get(spec.kind, _SCALAR), defaults.get(key) is None)
            for key, spec in contract_fields(cls)
        )
        _WRITE_PLANS[cls] = plan
    return plan


def _write_fields(
    obj: Any,
    out: dict[str, Any],
    nested: Mapping[str, Callable[[Any], Any]] | None = None,
    skip: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Add to ``out`` the given fields of ``obj`` not in it yet (nor in ``skip``), in the order
    of its field table: a scalar or a nested record when not None, a list when not None and
    either not empty or one whose default is None (``workdays``, ``requirements``: an empty
    list is a value) or required (``progress.people``); a ``nested`` field by its converter."""
    for key, how, even_empty in _write_plan(type(obj)):
        if key in out or key in skip:
            continue
        value = getattr(obj, key)
        if how == _NESTED:
            value = (nested or {})[key](value)
            if value is not None:
                out[key] = value
        elif value is None or (how in (_LIST, _RECORDS) and not value and not even_empty):
            continue
        elif how == _SCALAR:
            out[key] = value.isoformat() if isinstance(value, date) else value
        elif how == _LIST:
            out[key] = [d.isoformat() if isinstance(d, date) else d for d in value]
        elif how == _RECORD:
            out[key] = _write_fields(value, {})
        else:
            out[key] = [_write_fields(item, {}) for item in value]
    return out


def record_to_dict(record: Any) -> dict[str, Any]:
    """The contract JSON of one record of :mod:`allocator.domain` (a ``Calendar``, a
    ``Policy``, a ``Requirement`` ...): only the keys that were given. A person's ``skills`` and
    a project's ``tasks`` are written by :func:`portfolio_to_dict` only."""
    return _write_fields(record, {}, skip=("skills", "tasks"))


def portfolio_to_dict(p: Portfolio) -> dict[str, Any]:
    """The contract JSON of a portfolio (only the keys that were given)."""
    cal = _write_fields(p.calendar, {})
    out: dict[str, Any] = {"format": PORTFOLIO_FORMAT, "name": p.name, "calendar": cal}
    if p.as_of is not None:
        out["as_of"] = p.as_of.isoformat()
    out["people"] = [_person_to_dict(x) for x in p.people]
    out["projects"] = [_project_to_dict(x) for x in p.projects]
    policy = _write_fields(p.policy, {})
    if policy:
        out["policy"] = policy
    return out


_PERSON_NESTED: Mapping[str, Callable[[Any], Any]] = {"skills": dict}


def _person_to_dict(x: Person) -> dict[str, Any]:
    out: dict[str, Any] = {"id": x.id}
    _put(out, "name", x.name)  # before skills, as always written
    return _write_fields(x, out, _PERSON_NESTED)


def _project_to_dict(x: Project) -> dict[str, Any]:
    out = _write_fields(x, {}, skip=("tasks",))
    out["tasks"] = [_task_to_dict(t) for t in x.tasks]  # last, as always written
    return out


def _task_to_dict(t: Task) -> dict[str, Any]:
    return _write_fields(t, {})


def dump_portfolio(p: Portfolio, path: str | Path | None = None) -> str:
    """Write the portfolio as contract JSON (to ``path`` when given); returns the text."""
    text = json.dumps(portfolio_to_dict(p), indent=2, ensure_ascii=False) + "\n"
    if path is not None:
        Path(path).write_text(text, encoding="utf-8")
    return text


# ---------------------------------------------------------------------------------------------
# Plan
# ---------------------------------------------------------------------------------------------
_PLAN_KEYS = frozenset(
    {
        "format",
        "portfolio",
        "status",
        "objective",
        "lower_bound",
        "gap",
        "solve_seconds",
        "assignments",
        "unassigned",
        "changes",
    }
)
#: Plan keys the engine adds (kept in ``Plan.extra``), documented in this module's docstring.
PLAN_ENGINE_KEYS = frozenset({"solver", "kpis"})
#: keys of ``allocator.plan/v1`` files that v2 folded into its own fields (read, not kept)
_V1_KEYS = frozenset({"objective_terms"})
_ASSIGNMENT_KEYS = frozenset({"task", "people", "start", "finish", "hours", "cost"})
_REASONS_KEYS = frozenset({"task", "reasons"})
_PLAN_STATUSES = ("optimal", "feasible", "infeasible", "unknown")
#: every objective term a plan may carry (``allocator.objective``)
_ALL_TERMS = frozenset(PORTFOLIO_TERMS + MAKESPAN_TERMS)


def read_plan(data: Any) -> tuple[Plan, list[Issue]]:
    """Convert parsed JSON into a :class:`Plan`; returns it with every structural issue."""
    r = _Reader()
    top_format = data.get("format") if isinstance(data, dict) else None
    v1 = top_format == PLAN_FORMAT_V1
    top = r.obj(data, "", _PLAN_KEYS | PLAN_ENGINE_KEYS | (_V1_KEYS if v1 else set()), "plan")
    if top_format not in (PLAN_FORMAT, PLAN_FORMAT_V1):
        r.error("format", f"expected {PLAN_FORMAT!r}, got {top.get('format')!r}")
    name = r.field(top, "portfolio", "", r.string, required=True, what="plan") or ""
    status = r.field(top, "status", "", _read_choice(r, _PLAN_STATUSES), required=True, what="plan")
    for key in ("objective", "lower_bound"):
        if key not in top:
            r.error(key, f"plan: missing required field {key!r}")
    if v1:
        objective, lower_bound, gap = _v1_objective(r, top)
    else:
        objective = _read_terms(r, top.get("objective"), "objective")
        lower_bound = _read_terms(r, top.get("lower_bound"), "lower_bound")
        gap = None if top.get("gap") is None else r.number(top["gap"], "gap")
    solve_seconds = r.field(top, "solve_seconds", "", r.number, required=True, what="plan") or 0.0
    assignments: list[Assignment] = []
    for i, item in enumerate(r.lst(top.get("assignments", []), "assignments", "assignments")):
        p = f"assignments[{i}]"
        d = r.obj(item, p, _ASSIGNMENT_KEYS, "assignment")
        task = r.field(d, "task", p, r.string, required=True, what="assignment")
        people = r.field(d, "people", p, r.strings, required=True, what="assignment")
        start = r.field(d, "start", p, r.day, required=True, what="assignment")
        finish = r.field(d, "finish", p, r.day, required=True, what="assignment")
        if task is None or people is None or start is None or finish is None:
            continue
        assignments.append(
            Assignment(
                task,
                people,
                start,
                finish,
                hours=r.field(d, "hours", p, r.number),
                cost=r.field(d, "cost", p, r.number),
            )
        )

    def reasons_list(key: str) -> list[tuple[str, tuple[str, ...]]]:
        out = []
        for i, item in enumerate(r.lst(top.get(key, []), key, key)):
            p = f"{key}[{i}]"
            d = r.obj(item, p, _REASONS_KEYS, key)
            task = r.field(d, "task", p, r.string, required=True, what=key)
            reasons = r.field(d, "reasons", p, r.strings, required=True, what=key)
            if task is not None:
                out.append((task, reasons or ()))
        return out

    for key in ("assignments", "unassigned"):
        if key not in top:
            r.error(key, f"plan: missing required field {key!r}")
    unassigned = tuple(Unassigned(t, rs) for t, rs in reasons_list("unassigned"))
    changes = _read_changes(r, top) if "changes" in top else None
    extra = {k: top[k] for k in PLAN_ENGINE_KEYS if k in top}
    plan = Plan(
        portfolio=name,
        status=status or "unknown",  # type: ignore[arg-type]
        objective=objective,
        lower_bound=lower_bound,
        solve_seconds=solve_seconds,
        assignments=tuple(assignments),
        unassigned=unassigned,
        changes=changes,
        extra=frozen_map(extra),
        gap=gap,
    )
    return plan, r.issues


def _read_terms(r: _Reader, value: Any, path: str) -> dict[str, float | int] | None:
    """An objective or lower bound of a v2 plan: null, or an object of finite numbers (its
    terms, in the order written)."""
    if value is None:
        return None
    data = r.obj(value, path, _ALL_TERMS, "objective terms")
    out: dict[str, float | int] = {}
    for key, v in data.items():
        if key not in _ALL_TERMS:
            continue  # warned by obj()
        n = r.number(v, f"{path}.{key}")
        if n is not None:
            out[key] = n
    return out


def _v1_objective(
    r: _Reader, top: Mapping[str, Any]
) -> tuple[dict[str, float | int] | None, dict[str, float | int] | None, float | None]:
    """Objective, lower bound and gap of an ``allocator.plan/v1`` file, in v2 terms.

    v1 wrote one number (the terms combined, see :func:`allocator.objective.objective_value`)
    and, under the ``portfolio`` objective, the readable ``objective_terms``. The terms become
    the objective; the combined bound cannot be split into terms without the portfolio, so
    it is kept only when it proves the plan (equal to the objective): otherwise the plan loads
    without a bound. A v1 number without ``objective_terms`` is a ``makespan`` objective.
    """
    obj, lb = top.get("objective"), top.get("lower_bound")
    for key, v in (("objective", obj), ("lower_bound", lb)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int | float)):
            r.error(key, f"must be a number or null, got {_kind(v)}")
            return None, None, None
    if obj is None:
        return None, None, None
    terms = top.get("objective_terms")
    if isinstance(terms, dict):
        objective = _read_terms(r, terms, "objective_terms")
        bound = dict(objective) if objective is not None and lb == obj else None
    else:
        objective = {"makespan_days": obj}
        bound = None if lb is None else {"makespan_days": lb}
    return objective, bound, gap_of(objective, bound)


_CHANGE_KEYS = frozenset({"task", "reasons", "forced"})


def _read_changes(r: _Reader, top: Mapping[str, Any]) -> tuple[Change, ...]:
    """The plan's ``changes``: ``{task, reasons, forced}``; ``forced`` is required except in an
    ``allocator.plan/v1`` plan, where it is missing and read as false (v1 had no such field)."""
    v1 = top.get("format") == "allocator.plan/v1"
    out = []
    for i, item in enumerate(r.lst(top.get("changes", []), "changes", "changes")):
        p = f"changes[{i}]"
        d = r.obj(item, p, _CHANGE_KEYS, "changes")
        task = r.field(d, "task", p, r.string, required=True, what="changes")
        reasons = r.field(d, "reasons", p, r.strings, required=True, what="changes")
        forced = r.field(d, "forced", p, r.boolean, required=not v1, what="changes")
        if task is not None:
            out.append(Change(task, reasons or (), forced=bool(forced)))
    return tuple(out)


def load_plan(source: str | Path | Mapping[str, Any]) -> Plan:
    """Read a plan file; raises :class:`~allocator.errors.PlanFormatError` on structural errors."""
    data = load_json(source, PlanFormatError)
    plan, issues = read_plan(data)
    if any(i.severity == "error" for i in issues):
        raise PlanFormatError(issues)
    return plan


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    out: dict[str, Any] = {
        "format": PLAN_FORMAT,
        "portfolio": plan.portfolio,
        "status": plan.status,
        "objective": None if plan.objective is None else dict(plan.objective),
        "lower_bound": None if plan.lower_bound is None else dict(plan.lower_bound),
        "gap": plan.gap,
        "solve_seconds": plan.solve_seconds,
    }
    for k in sorted(plan.extra):
        out[k] = plan.extra[k]
    assignments = []
    for a in plan.assignments:
        d: dict[str, Any] = {
            "task": a.task,
            "people": list(a.people),
            "start": a.start.isoformat(),
            "finish": a.finish.isoformat(),
        }
        _put(d, "hours", a.hours)
        _put(d, "cost", a.cost)
        assignments.append(d)
    out["assignments"] = assignments
    out["unassigned"] = [{"task": u.task, "reasons": list(u.reasons)} for u in plan.unassigned]
    if plan.changes is not None:
        out["changes"] = [
            {"task": c.task, "reasons": list(c.reasons), "forced": c.forced} for c in plan.changes
        ]
    return out


def dump_plan(plan: Plan, path: str | Path | None = None) -> str:
    """Write the plan as contract JSON (to ``path`` when given); returns the text."""
    text = json.dumps(plan_to_dict(plan), indent=2, ensure_ascii=False) + "\n"
    if path is not None:
        Path(path).write_text(text, encoding="utf-8")
    return text
