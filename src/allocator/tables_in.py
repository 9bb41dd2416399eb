"""Tables in: a :class:`~allocator.domain.Portfolio` from the tidy tables of
:mod:`allocator.frames` (:func:`portfolio_from_frames`, :func:`portfolio_from_tables`), each
problem located at its table, row and column."""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from allocator.contract import read_portfolio, record_to_dict
from allocator.domain import (
    PORTFOLIO_FORMAT,
    RECORD_KINDS,
    Calendar,
    Person,
    Policy,
    Portfolio,
    Project,
    Task,
    contract_fields,
)
from allocator.errors import Issue
from allocator.table_schema import (
    CALENDAR_COLUMNS,
    COLUMNS,
    FLAT,
    PERCENT_COLUMNS,
    RECORD_TABLES,
    REQUIRED_TABLES,
    SCHEMA,
    TABLES,
    FrameError,
    FrameProblem,
    Kind,
)
from allocator.validation import validate

log = logging.getLogger(__name__)

__all__ = ["portfolio_from_frames", "portfolio_from_tables"]

_DATE_TEXT = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[ T]00:00(?::00(?:\.0+)?)?)?$")
_LIST_SPLIT = re.compile(r"[,;]")


# ---------------------------------------------------------------------------------------------
# Cells
# ---------------------------------------------------------------------------------------------
class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING: Any = _Missing()


def _is_missing(v: Any) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    if isinstance(v, float | np.floating):
        return bool(np.isnan(v))
    if isinstance(v, np.datetime64):
        return bool(np.isnat(v))
    return False


def _num_from_text(s: str) -> int | float | None:
    try:
        x = float(s)
    except ValueError:
        return None
    if math.isfinite(x) and x.is_integer() and abs(x) < 2**53:
        return int(x)
    return x


def _as_int(v: Any) -> Any:
    """An integer cell: integral floats become ints; anything else goes to the reader as is."""
    if isinstance(v, bool | np.bool_):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, float | np.floating):
        x = float(v)
        return int(x) if math.isfinite(x) and x.is_integer() and abs(x) < 2**53 else x
    if isinstance(v, str):
        s = v.strip()
        n = _num_from_text(s)
        return v if n is None else n
    return v


def _as_num(v: Any) -> Any:
    return _as_int(v)  # same rules: integral values are exact ints, the reader checks the rest


def _as_id(v: Any) -> Any:
    if isinstance(v, str):
        s = v.strip()
        return s if s else _MISSING
    if isinstance(v, bool | np.bool_):
        return bool(v)  # the reader names it: "must be a string, got a boolean"
    if isinstance(v, int | np.integer):
        return str(int(v))
    if isinstance(v, float | np.floating) and float(v).is_integer():
        return str(int(v))
    return v


def _as_str(v: Any) -> Any:
    if isinstance(v, str):
        return v
    return _as_id(v)


def _as_date(v: Any) -> Any:
    if isinstance(v, np.datetime64):
        v = pd.Timestamp(v)
    if isinstance(v, datetime):  # also pd.Timestamp
        if v.tzinfo is None and (v.hour, v.minute, v.second, v.microsecond) == (0, 0, 0, 0):
            return v.date().isoformat()
        return str(v)  # the reader reports it as not a date
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, str):
        m = _DATE_TEXT.match(v.strip())
        return m.group(1) if m else v
    return v


def _as_bool(v: Any) -> Any:
    if isinstance(v, bool | np.bool_):
        return bool(v)
    if isinstance(v, int | np.integer) and int(v) in (0, 1):
        return bool(v)
    if isinstance(v, float | np.floating) and float(v) in (0.0, 1.0):
        return bool(v)
    if isinstance(v, str):
        s = v.strip().lower()
        if s in ("true", "yes", "1"):
            return True
        if s in ("false", "no", "0"):
            return False
    return v


def _as_list(v: Any) -> Any:
    if isinstance(v, str):
        return [s.strip() for s in _LIST_SPLIT.split(v) if s.strip()]
    if isinstance(v, list | tuple | np.ndarray | pd.Series):
        out = []
        for item in list(v):
            if _is_missing(item):
                continue
            x = _as_id(item)
            if x is not _MISSING:
                out.append(x)
        return out
    return v  # the reader reports "must be a list"


_CONVERT = {
    "id": _as_id,
    "str": _as_str,
    "int": _as_int,
    "num": _as_num,
    "date": _as_date,
    "bool": _as_bool,
    "list": _as_list,
}


def _cell(v: Any, kind: Kind) -> Any:
    """Convert one cell for the contract reader; ``_MISSING`` when the cell is not given."""
    if isinstance(v, list | tuple | np.ndarray):
        return _as_list(v) if kind == "list" else v
    if _is_missing(v):
        return _MISSING
    return _CONVERT[kind](v)


# ---------------------------------------------------------------------------------------------
# Locations: JSON paths back to table cells
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Loc:
    table: str
    row: Hashable | None
    ident: str | None = None
    #: JSON key -> column; keys not listed keep their name
    rename: Mapping[str, str] = field(default_factory=dict)
    #: the column named when the path ends at this object
    column: str | None = None


_FIRST_KEY = re.compile(r"^\.?([A-Za-z_][A-Za-z0-9_]*)")
_WHO = re.compile(r"^(?:task|person|project|calendar|portfolio|policy)(?: [^:]*)?: ")
_ENTITY_PATH = re.compile(r"(?:people|projects)\[\d+\](?:\.tasks\[\d+\])?")


class _Located:
    """Collects frame problems and the locations of JSON paths while the dict is built."""

    def __init__(self, date_format: str | None = None) -> None:
        #: the ``strptime`` format of text dates besides ``YYYY-MM-DD`` (None: that one only)
        self.date_format = date_format
        self.problems: list[FrameProblem] = []
        #: cells whose problem is told here, not again by the reader: (table, row, column)
        self.said: set[tuple[str, Hashable | None, str | None]] = set()
        self.locs: dict[str, _Loc] = {}

    def error(
        self,
        table: str,
        row: Hashable | None,
        column: str | None,
        message: str,
        ident: str | None = None,
    ) -> None:
        self.problems.append(FrameProblem(table, row, column, message, "error", ident))

    def warn(self, table: str, row: Hashable | None, column: str | None, message: str) -> None:
        self.problems.append(FrameProblem(table, row, column, message, "warning"))

    def at(self, path: str, loc: _Loc) -> None:
        self.locs.setdefault(path, loc)

    def _find(self, path: str) -> tuple[_Loc, str] | None:
        cuts = {len(path), *(m.start() for m in re.finditer(r"[.\[]", path))}
        for cut in sorted(cuts, reverse=True):
            loc = self.locs.get(path[:cut])
            if loc is not None:
                return loc, path[cut:]
        return None

    def describe(self, path: str) -> str:
        found = self._find(path)
        if found is None:
            return path
        loc = found[0]
        out = loc.table + ("" if loc.row is None else f" row {loc.row}")
        return out + (f" ({loc.ident})" if loc.ident else "")

    def locate(self, issue: Issue) -> FrameProblem:
        found = self._find(issue.path)
        message = _ENTITY_PATH.sub(lambda m: self.describe(m.group(0)), issue.message)
        if found is None:
            return FrameProblem("portfolio", None, None, message, issue.severity, None, issue.path)
        loc, rest = found
        key_m = _FIRST_KEY.match(rest)
        if key_m is not None:
            column: str | None = loc.rename.get(key_m.group(1), key_m.group(1))
        else:
            column = loc.column
        message = _WHO.sub("", message, count=1)
        last = re.findall(r"[A-Za-z_][A-Za-z0-9_]*", issue.path)
        if last and message.startswith(f"{last[-1]} must"):
            message = message[len(last[-1]) + 1 :]
        return FrameProblem(
            loc.table, loc.row, column, message, issue.severity, loc.ident, issue.path
        )


# ---------------------------------------------------------------------------------------------
# Tables to the contract dict
# ---------------------------------------------------------------------------------------------
Row = tuple[Hashable, dict[str, Any]]


_PERCENT_TEXT = re.compile(r"^\s*(.*?)\s*%\s*$")
_DATE_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _percent(v: Any) -> Any:
    """``"50%"``, ``"50 %"`` -> ``"50"``; any other value (``"abc%"`` too) as it is, for the
    reader to judge."""
    if isinstance(v, str):
        m = _PERCENT_TEXT.match(v)
        if m is not None and _num_from_text(m.group(1)) is not None:
            return m.group(1)
    return v


def _date_cell(v: Any, date_format: str | None) -> tuple[Any, str | None]:
    """A date cell for the reader and the problem with it (None: none). A bad cell goes on
    as text (the reader's error at the same cell is dropped: this one says more)

    Excel date cells (``datetime``) at midnight are their date; with a time of day they are an
    error. Text is ``YYYY-MM-DD``, or written as ``date_format`` when one is given."""
    if isinstance(v, np.datetime64):
        v = pd.Timestamp(v)
    if isinstance(v, datetime):  # also pd.Timestamp
        if v.tzinfo is not None or (v.hour, v.minute, v.second, v.microsecond) != (0, 0, 0, 0):
            return str(v), f"a date and time ({v}): give a date without a time of day"
        return v.date().isoformat(), None
    if isinstance(v, str) and v.strip():
        s = v.strip()
        if date_format is not None:
            try:
                return datetime.strptime(s, date_format).date().isoformat(), None
            except ValueError:
                pass
        x = _as_date(s)
        if isinstance(x, str) and not _DATE_ISO.match(x):
            shown = f"{date_format} or YYYY-MM-DD" if date_format else "YYYY-MM-DD"
            hint = (
                "" if date_format else ' (another format only with date_format=, e.g. "%d/%m/%Y")'
            )
            return v, f"must be a date {shown}, got {v!r}{hint}"
        return x, None
    return _cell(v, "date"), None


def _rows(name: str, df: Any, where: _Located) -> list[Row]:
    """The table's rows as ``(label, {column: converted cell})``, missing cells left out.

    Percent columns (:data:`PERCENT_COLUMNS`) read ``"50%"`` as 50; date columns read Excel
    date cells and text written as ``where.date_format`` (:func:`_date_cell`): a bad date is an error here,
    naming the table, row and column."""
    if df is None:
        return []
    if not isinstance(df, pd.DataFrame):
        where.error(name, None, None, f"expected a pandas DataFrame, got {type(df).__name__}")
        return []
    schema = {c.name: c for c in SCHEMA[name]}
    columns = [str(c).strip() for c in df.columns]
    for c in columns:
        if c not in schema:
            where.warn(name, None, c, f"unknown column {c!r} (ignored)")
    if len(df) == 0:
        return []  # an empty table needs no columns (``pd.DataFrame()`` is "no rows")
    missing = [c.name for c in SCHEMA[name] if c.required and c.name not in columns]
    for c in missing:
        where.error(name, None, c, f"missing required column {c!r}")
    if missing:
        return []
    frame = df.set_axis(columns, axis=1)
    known = [c for c in columns if c in schema]
    out: list[Row] = []
    records = frame[known].to_dict("records") if known else [{} for _ in range(len(frame))]
    percent = {c for t, c in PERCENT_COLUMNS if t == name}
    for label, rec in zip(frame.index, records, strict=True):
        cells: dict[str, Any] = {}
        bad: list[tuple[str, str]] = []
        for c, v in rec.items():
            col = str(c)
            if col in percent:
                v = _percent(v)
            if schema[col].kind == "date" and not _is_missing(v):
                x, problem = _date_cell(v, where.date_format)
                if problem is not None:
                    bad.append((col, problem))
            else:
                x = _cell(v, schema[col].kind)
            if x is not _MISSING:
                cells[col] = x
        for col, problem in bad:
            ident = _ident(cells, "id") or _ident(cells, "person") or _ident(cells, "task")
            where.error(name, label, col, problem, ident)
            where.said.add((name, label, col))
        out.append((label, cells))
    return out


def _ident(cells: Mapping[str, Any], key: str) -> str | None:
    v = cells.get(key)
    return f"{key} {v}" if isinstance(v, str) else None


def _copy(cells: Mapping[str, Any], keys: Iterable[str], into: dict[str, Any]) -> None:
    for k in keys:
        if k in cells:
            into[k] = cells[k]


def _columns(cls: type) -> tuple[str, ...]:
    """The record's fields that are one column each (scalars and lists: not nested)."""
    return tuple(
        key
        for key, spec in contract_fields(cls)
        if spec.kind not in RECORD_KINDS and spec.kind != "nested"
    )


_PERSON_COLUMNS = _columns(Person)
_PROJECT_COLUMNS = _columns(Project)
_TASK_COLUMNS = _columns(Task)
_POLICY_COLUMNS = _columns(Policy)
#: the cell kind of the calendar's and the policy's keys (given as arguments too)
_SETTINGS_KINDS: dict[str, Kind] = {c.name: c.kind for c in SCHEMA["settings"]}
_CALENDAR_KINDS = {key: _SETTINGS_KINDS[key] for key in CALENDAR_COLUMNS}
_POLICY_KINDS = {key: _SETTINGS_KINDS[key] for key in _POLICY_COLUMNS}


def _settings(
    where: _Located,
    settings: Any,
    holidays: Any,
    name: str | None,
    calendar: Calendar | Mapping[str, Any] | None,
    policy: Policy | Mapping[str, Any] | None,
    as_of: date | str | None,
) -> dict[str, Any]:
    """The top of the contract dict: name, calendar, policy, as_of (arguments win over tables)."""
    top: dict[str, Any] = {"format": PORTFOLIO_FORMAT}
    cal: dict[str, Any] = {}
    pol: dict[str, Any] = {}
    rows = _rows("settings", settings, where)
    if len(rows) > 1:
        where.error("settings", None, None, f"expected one row, got {len(rows)}")
    if rows:
        label, cells = rows[0]
        loc = _Loc("settings", label)
        for key in ("name", "as_of"):
            if key in cells:
                top[key] = cells[key]
                where.at(key, loc)
        for key in CALENDAR_COLUMNS:
            if key in cells:
                cal[key] = cells[key]
                where.at(f"calendar.{key}", loc)
        for key in _POLICY_COLUMNS:
            if key in cells:
                pol[key] = cells[key]
                where.at(f"policy.{key}", _Loc("settings", label, column=key))
        where.at("calendar", loc)
        where.at("policy", loc)
        where.at("format", loc)
    hol = _rows("holidays", holidays, where)
    if hol:
        cal["holidays"] = [cells.get("date") for _, cells in hol]
        for n, (label, _) in enumerate(hol):
            where.at(f"calendar.holidays[{n}]", _Loc("holidays", label, column="date"))

    def arg(name_: str, key: str) -> _Loc:
        return _Loc(f"argument {name_}", None, column=key)

    if name is not None:
        top["name"] = name
        where.locs["name"] = _Loc("argument name", None)
    if as_of is not None:
        top["as_of"] = _cell(as_of, "date")
        where.locs["as_of"] = _Loc("argument as_of", None)
    if calendar is not None:
        given = record_to_dict(calendar) if isinstance(calendar, Calendar) else dict(calendar)
        for key, v in given.items():
            if key == "holidays":
                days = [_cell(d, "date") for d in v]
                cal[key] = [d for d in days if d is not _MISSING]
                for path in [k for k in where.locs if k.startswith("calendar.holidays[")]:
                    del where.locs[path]  # the table's rows no longer apply
            else:
                x = _cell(v, _CALENDAR_KINDS.get(key, "str"))
                if x is not _MISSING:
                    cal[key] = x
            where.locs[f"calendar.{key}"] = arg("calendar", key)
        where.locs.setdefault("calendar", _Loc("argument calendar", None))
    if policy is not None:
        pgiven = record_to_dict(policy) if isinstance(policy, Policy) else dict(policy)
        for key, v in pgiven.items():
            x = _cell(v, _POLICY_KINDS.get(key, "str"))
            if x is not _MISSING:
                pol[key] = x
            where.locs[f"policy.{key}"] = arg("policy", key)
        where.locs.setdefault("policy", _Loc("argument policy", None))
    where.locs.setdefault("name", _Loc("settings", None, column="name"))
    where.locs.setdefault("calendar", _Loc("settings", None))
    where.locs.setdefault("format", _Loc("settings", None))
    if "name" not in top:
        where.error("settings", None, "name", "the portfolio needs a name (settings or name=)")
        top["name"] = ""
    top["calendar"] = cal
    if pol:
        top["policy"] = pol
    return top


def _people(
    where: _Located,
    people: Any,
    skills: Any,
    time_off: Any,
    reduced_capacity: Any,
) -> list[dict[str, Any]]:
    rows = _rows("people", people, where)
    out: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    for i, (label, cells) in enumerate(rows):
        d: dict[str, Any] = {}
        _copy(cells, _PERSON_COLUMNS, d)
        d["skills"] = {}
        out.append(d)
        pid = cells.get("id")
        ident = _ident(cells, "id")
        where.at(f"people[{i}]", _Loc("people", label, ident))
        if isinstance(pid, str):
            index.setdefault(pid, i)
        elif "id" not in cells:
            where.error("people", label, "id", "missing id")

    def owner(table: str, label: Hashable, cells: Mapping[str, Any]) -> int | None:
        pid = cells.get("person")
        if not isinstance(pid, str):
            where.error(table, label, "person", f"person must be an id, got {pid!r}")
            return None
        if pid not in index:
            where.error(table, label, "person", f"unknown person {pid!r}", f"person {pid}")
            return None
        return index[pid]

    seen: dict[tuple[int, str], Hashable] = {}
    for label, cells in _rows("skills", skills, where):
        owner_i = owner("skills", label, cells)
        if owner_i is None:
            continue
        i = owner_i
        ident = f"person {cells['person']}"
        skill = cells.get("skill")
        if not isinstance(skill, str) or not skill.strip():
            where.error("skills", label, "skill", "missing skill name", ident)
            continue
        if (i, skill) in seen:
            where.error(
                "skills",
                label,
                "skill",
                f"skill {skill!r} listed again (first in row {seen[(i, skill)]})",
                ident,
            )
            continue
        seen[(i, skill)] = label
        out[i]["skills"][skill] = cells.get("level")
        loc = _Loc("skills", label, ident, column="level")
        where.at(f"people[{i}].skills.{skill}", loc)
        bracket = f'people[{i}].skills["{skill}"]'
        where.at(bracket, loc)
    for table, src in (("time_off", time_off), ("reduced_capacity", reduced_capacity)):
        keys = _keys(RECORD_TABLES[table].record)
        for label, cells in _rows(table, src, where):
            owner_i = owner(table, label, cells)
            if owner_i is None:
                continue
            i = owner_i
            ranges = out[i].setdefault(table, [])
            item: dict[str, Any] = {}
            _copy(cells, keys, item)
            where.at(
                f"people[{i}].{table}[{len(ranges)}]",
                _Loc(table, label, f"person {cells['person']}"),
            )
            ranges.append(item)
    return out


def _keys(cls: type) -> tuple[str, ...]:
    return tuple(key for key, _ in contract_fields(cls))


#: the nested records of a task flattened into columns of the tasks table (JSON key -> column)
_TASK_FLAT = FLAT[Task]
#: a problem at a flattened record is shown at its first column
_TASK_RENAME = {key: next(iter(cols.values())) for key, cols in _TASK_FLAT.items()}


def _projects(
    where: _Located, projects: Any, tasks: Any, requirements: Any
) -> list[dict[str, Any]]:
    prow = _rows("projects", projects, where)
    out: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    for j, (label, cells) in enumerate(prow):
        d: dict[str, Any] = {}
        _copy(cells, _PROJECT_COLUMNS, d)
        d["tasks"] = []
        out.append(d)
        where.at(f"projects[{j}]", _Loc("projects", label, _ident(cells, "id")))
        pid = cells.get("id")
        if isinstance(pid, str):
            index.setdefault(pid, j)
        elif "id" not in cells:
            where.error("projects", label, "id", "missing id")
    # requirements, grouped by task id (attached to the first task with that id)
    reqs: dict[str, list[Row]] = {}
    for label, cells in _rows("requirements", requirements, where):
        tid = cells.get("task")
        if not isinstance(tid, str):
            where.error("requirements", label, "task", f"task must be an id, got {tid!r}")
            continue
        reqs.setdefault(tid, []).append((label, cells))
    used: set[str] = set()
    listed: set[str] = set()  # task ids in the table, placed in a project or not
    for label, cells in _rows("tasks", tasks, where):
        ident = _ident(cells, "id")
        if isinstance(cells.get("id"), str):
            listed.add(cells["id"])
        proj = cells.get("project")
        if not isinstance(proj, str):
            where.error("tasks", label, "project", f"project must be an id, got {proj!r}", ident)
            continue
        if proj not in index:
            where.error("tasks", label, "project", f"unknown project {proj!r}", ident)
            continue
        j = index[proj]
        k = len(out[j]["tasks"])
        path = f"projects[{j}].tasks[{k}]"
        where.at(path, _Loc("tasks", label, ident, _TASK_RENAME))
        t: dict[str, Any] = {}
        _copy(cells, _TASK_COLUMNS, t)
        for key, cols in _TASK_FLAT.items():
            where.at(f"{path}.{key}", _Loc("tasks", label, ident, cols, _TASK_RENAME[key]))
            nested = {sub: cells[col] for sub, col in cols.items() if col in cells}
            if nested:  # a record is given when one of its columns is
                t[key] = nested
        tid = cells.get("id")
        if "id" not in cells:
            where.error("tasks", label, "id", "missing id")
        if isinstance(tid, str) and tid in reqs and tid not in used:
            used.add(tid)
            t["requirements"] = _requirements(where, reqs[tid], path)
        out[j]["tasks"].append(t)
    for tid, rows in reqs.items():
        if tid not in listed:
            for label, _ in rows:
                where.error("requirements", label, "task", f"unknown task {tid!r}", f"task {tid}")
    return out


_REQUIREMENT_KEYS = _keys(RECORD_TABLES["requirements"].record)


def _requirements(where: _Located, rows: list[Row], path: str) -> list[dict[str, Any]]:
    where.at(f"{path}.requirements", _Loc("requirements", rows[0][0], f"task {rows[0][1]['task']}"))
    if len(rows) == 1 and "skill" not in rows[0][1]:
        label, cells = rows[0]
        if "min_level" in cells or "count" in cells:
            where.error("requirements", label, "skill", "missing skill", f"task {cells['task']}")
        return []  # the task needs nobody (a wait, a lag)
    out: list[dict[str, Any]] = []
    for label, cells in rows:
        ident = f"task {cells['task']}"
        if "skill" not in cells:
            where.error(
                "requirements",
                label,
                "skill",
                "missing skill (an empty skill marks a task that needs nobody, "
                "and only as its single row)",
                ident,
            )
            continue
        where.at(f"{path}.requirements[{len(out)}]", _Loc("requirements", label, ident))
        r: dict[str, Any] = {}
        _copy(cells, _REQUIREMENT_KEYS, r)
        out.append(r)
    return out


def portfolio_from_frames(
    people: pd.DataFrame,
    skills: pd.DataFrame,
    projects: pd.DataFrame,
    tasks: pd.DataFrame,
    *,
    time_off: pd.DataFrame | None = None,
    reduced_capacity: pd.DataFrame | None = None,
    requirements: pd.DataFrame | None = None,
    holidays: pd.DataFrame | None = None,
    settings: pd.DataFrame | None = None,
    calendar: Calendar | Mapping[str, Any] | None = None,
    name: str | None = None,
    policy: Policy | Mapping[str, Any] | None = None,
    as_of: date | str | None = None,
    date_format: str | None = None,
) -> Portfolio:
    """Build and validate a portfolio from tidy tables (see the module docstring for columns).

    ``calendar`` is a :class:`~allocator.domain.Calendar` or a mapping with ``start``, ``end``
    and optionally ``workdays`` and ``holidays``; it, ``name``, ``policy`` and ``as_of`` override
    the ``settings`` table key by key. Text dates are ``YYYY-MM-DD``, or written as
    ``date_format`` (a ``strptime`` format: ``"%d/%m/%Y"``) when given. Raises :class:`FrameError` listing every problem at its
    table, row and column; warnings (unknown columns, skills nobody has) are logged.
    """
    where = _Located(date_format)
    top = _settings(where, settings, holidays, name, calendar, policy, as_of)
    top["people"] = _people(where, people, skills, time_off, reduced_capacity)
    top["projects"] = _projects(where, projects, tasks, requirements)
    portfolio, structural = read_portfolio(top)
    report = validate(portfolio, structural=structural)
    problems = list(where.problems)
    located = [where.locate(i) for i in (*report.errors, *report.warnings)]
    problems += [p for p in located if (p.table, p.row, p.column) not in where.said]
    order = {t: n for n, t in enumerate(TABLES)}
    problems.sort(key=lambda p: order.get(p.table, -1))
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise FrameError(errors + [p for p in problems if p.severity == "warning"])
    for p in problems:
        log.warning("%s", p)
    return portfolio


def portfolio_from_tables(tables: Mapping[str, pd.DataFrame | None], **overrides: Any) -> Portfolio:
    """:func:`portfolio_from_frames` from a mapping table name -> DataFrame (as returned by
    :func:`portfolio_to_frames`); ``overrides`` are its keyword arguments ``name``,
    ``calendar``, ``policy``, ``as_of``, ``date_format``."""
    unknown = sorted(set(tables) - set(TABLES))
    for t in unknown:
        log.warning("unknown table %r (ignored); tables are %s", t, ", ".join(TABLES))
    empty = {t: pd.DataFrame({c: [] for c in COLUMNS[t]}) for t in REQUIRED_TABLES}
    return portfolio_from_frames(
        tables["people"] if tables.get("people") is not None else empty["people"],
        tables["skills"] if tables.get("skills") is not None else empty["skills"],
        tables["projects"] if tables.get("projects") is not None else empty["projects"],
        tables["tasks"] if tables.get("tasks") is not None else empty["tasks"],
        time_off=tables.get("time_off"),
        reduced_capacity=tables.get("reduced_capacity"),
        requirements=tables.get("requirements"),
        holidays=tables.get("holidays"),
        settings=tables.get("settings"),
        **overrides,
    )
