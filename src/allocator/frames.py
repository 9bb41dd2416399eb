"""DataFrames in and out: the portfolio as the tidy tables a PMO keeps, plans as tables.

**In.** :func:`portfolio_from_frames` builds a :class:`~allocator.domain.Portfolio` from these
tables (one :class:`pandas.DataFrame` each; column order is free, optional columns may be left
out, and a missing cell -- ``NaN``, ``None``, ``NaT``, ``<NA>`` -- means "not given"):

=================== ==============================================================================
table               columns (**required**)
=================== ==============================================================================
``settings``        one row: ``name``, ``start``, ``end``, ``workdays``, ``as_of``, ``objective``,
                    ``hard_deadlines`` (or pass ``name=``, ``calendar=``, ``policy=``, ``as_of=``)
``holidays``        **date**, ``name`` (the name is for people, it is not read)
``people``          **id**, ``name``, ``hours_per_day``, ``cost_per_hour``, ``workdays``
                    (``"Mon,Tue,Wed,Thu"``), ``available_from``, ``available_until``, ``team``,
                    ``placeholder``
``skills``          **person**, **skill**, **level** (long: one row per person and skill)
``time_off``        **person**, **start**, **end**
``reduced_capacity`` **person**, **start**, **end**, **percent**
``projects``        **id**, ``name``, ``priority``, ``start_after``, ``deadline``, ``budget``,
                    ``all_or_nothing``
``tasks``           **id**, **project**, ``name``, ``skill``, ``min_level``, ``effort_hours``,
                    ``duration_days``, ``allocation``, ``predecessors``, ``earliest_start``,
                    ``deadline``, ``priority``, ``exclude``, ``prefer``, ``pinned_person``,
                    ``pinned_start``, ``status``, ``progress_people``, ``remaining_hours``,
                    ``remaining_days``, ``estimate_low``, ``estimate_high`` (the contract's
                    ``estimate: {low, high}``)
``requirements``    **task**, ``skill``, ``min_level``, ``count`` (team tasks: one row per
                    requirement; a single row with an empty ``skill`` marks a task that needs
                    nobody, the contract's ``requirements: []``)
=================== ==============================================================================

Lists (``workdays``, ``predecessors``, ``exclude``, ``prefer``, ``progress_people``) are a string
separated by commas or semicolons, or a Python list. Dates are ``YYYY-MM-DD`` strings, dates or
timestamps at midnight. Ids given as numbers (employee numbers) are read as their decimal
string; everything else goes through the contract's reader and validation **unchanged**
(:func:`allocator.contract.read_portfolio` then :func:`allocator.validation.validate`), so a
table is judged exactly like the JSON file with the same content. Each problem is reported at
its table, row (the index label) and column: ``tasks row 3 (id crm-etl), column min_level: must
be 1..5, got 7``; all of them at once, in a :class:`FrameError`. Unknown columns are warnings.

:func:`portfolio_from_files` reads the same tables from CSV files named after them
(``people.csv`` ...) or from one Excel workbook with those sheet names; the rows of a file are
labelled with their spreadsheet row number (the header is row 1, so the first data row is 2).

**Out.** :func:`portfolio_to_frames` gives the same tables back (typed: ids and text as
``string``, integers as ``Int64``, numbers as ``float64``, dates as ``datetime64[ns]``, lists as
comma-joined strings), so ``portfolio_from_tables(portfolio_to_frames(p)) == p`` and the tables
survive the trip unchanged. For plans: :func:`assignments_frame`, :func:`unassigned_frame`,
:func:`kpi_frames` (per person, team, skill and week), :func:`kpi_summary`,
:func:`utilization_frame` (person x period) and :func:`demand_capacity_frame` (skill x period).
:class:`ProgressRecorder` collects the engine's progress reports into a DataFrame.

Limits of the tabular form: an empty ``workdays`` list can be held in a DataFrame (``""``) but
not in a CSV file (an empty cell is "not given"); ids containing ``,`` or ``;`` cannot appear in
list cells; engine policy keys other than ``objective`` and ``hard_deadlines`` have no column.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from allocator.contract import read_portfolio
from allocator.domain import (
    PORTFOLIO_FORMAT,
    Calendar,
    Plan,
    Policy,
    Portfolio,
    Task,
)
from allocator.errors import Issue, PortfolioError
from allocator.timeline import Timeline, availability, capacity
from allocator.validation import validate

if TYPE_CHECKING:
    from allocator.engine import Progress

log = logging.getLogger(__name__)

__all__ = [
    "COLUMNS",
    "TABLES",
    "FrameError",
    "FrameProblem",
    "ProgressRecorder",
    "assignments_frame",
    "demand_capacity_frame",
    "kpi_diff",
    "kpi_frames",
    "kpi_summary",
    "portfolio_from_files",
    "portfolio_from_frames",
    "portfolio_from_tables",
    "portfolio_to_files",
    "portfolio_to_frames",
    "unassigned_frame",
    "utilization_frame",
]

Kind = Literal["id", "str", "int", "num", "date", "bool", "list"]


@dataclass(frozen=True, slots=True)
class _Col:
    name: str
    kind: Kind
    required: bool = False


def _cols(*spec: tuple[str, Kind] | tuple[str, Kind, bool]) -> tuple[_Col, ...]:
    return tuple(_Col(*s) for s in spec)


#: The tables and their columns, in output order.
SCHEMA: Mapping[str, tuple[_Col, ...]] = {
    "settings": _cols(
        ("name", "str"),
        ("start", "date"),
        ("end", "date"),
        ("workdays", "list"),
        ("as_of", "date"),
        ("objective", "str"),
        ("hard_deadlines", "bool"),
    ),
    "holidays": _cols(("date", "date", True), ("name", "str")),
    "people": _cols(
        ("id", "id", True),
        ("name", "str"),
        ("hours_per_day", "num"),
        ("cost_per_hour", "num"),
        ("workdays", "list"),
        ("available_from", "date"),
        ("available_until", "date"),
        ("team", "str"),
        ("placeholder", "bool"),
    ),
    "skills": _cols(("person", "id", True), ("skill", "str", True), ("level", "int", True)),
    "time_off": _cols(("person", "id", True), ("start", "date", True), ("end", "date", True)),
    "reduced_capacity": _cols(
        ("person", "id", True),
        ("start", "date", True),
        ("end", "date", True),
        ("percent", "num", True),
    ),
    "projects": _cols(
        ("id", "id", True),
        ("name", "str"),
        ("priority", "int"),
        ("start_after", "date"),
        ("deadline", "date"),
        ("budget", "num"),
        ("all_or_nothing", "bool"),
    ),
    "tasks": _cols(
        ("id", "id", True),
        ("project", "id", True),
        ("name", "str"),
        ("skill", "str"),
        ("min_level", "int"),
        ("effort_hours", "num"),
        ("duration_days", "int"),
        ("allocation", "int"),
        ("predecessors", "list"),
        ("earliest_start", "date"),
        ("deadline", "date"),
        ("priority", "int"),
        ("exclude", "list"),
        ("prefer", "list"),
        ("pinned_person", "id"),
        ("pinned_start", "date"),
        ("status", "str"),
        ("progress_people", "list"),
        ("remaining_hours", "num"),
        ("remaining_days", "int"),
        ("estimate_low", "num"),
        ("estimate_high", "num"),
    ),
    "requirements": _cols(
        ("task", "id", True), ("skill", "str"), ("min_level", "int"), ("count", "int")
    ),
}
TABLES: tuple[str, ...] = tuple(SCHEMA)
COLUMNS: Mapping[str, tuple[str, ...]] = {t: tuple(c.name for c in cs) for t, cs in SCHEMA.items()}
_REQUIRED_FILES = ("people", "skills", "projects", "tasks")
_DTYPE: Mapping[Kind, str] = {
    "id": "string",
    "str": "string",
    "list": "string",
    "int": "Int64",
    "num": "float64",
    "bool": "boolean",
    "date": "datetime64[ns]",
}
_DATE_TEXT = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[ T]00:00(?::00(?:\.0+)?)?)?$")
_LIST_SPLIT = re.compile(r"[,;]")


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class FrameProblem:
    """One problem, located in the tables: ``table``, ``row`` (the index label), ``column``.

    ``ident`` names the row's entity (``id crm-etl``, ``person ben``); ``path`` is the JSON path
    of the contract's reader or validation when the problem came from there (else empty).
    """

    table: str
    row: Hashable | None
    column: str | None
    message: str
    severity: Literal["error", "warning"] = "error"
    ident: str | None = None
    path: str = ""

    @property
    def where(self) -> str:
        out = self.table
        if self.row is not None:
            out += f" row {self.row}"
        if self.ident:
            out += f" ({self.ident})"
        if self.column:
            word = "key" if self.table.startswith("argument ") else "column"
            out += f", {word} {self.column}"
        return out

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"

    def as_issue(self) -> Issue:
        return Issue(self.where, self.message, self.severity)


class FrameError(PortfolioError):
    """The tables do not make a valid portfolio. ``problems`` lists every error (located in the
    tables), ``warnings`` the warnings; ``issues`` holds the same as :class:`Issue` values whose
    ``path`` is the location text (``tasks row 3 (id crm-etl), column min_level``)."""

    def __init__(self, problems: Sequence[FrameProblem]) -> None:
        self.problems: tuple[FrameProblem, ...] = tuple(
            p for p in problems if p.severity == "error"
        )
        self.frame_warnings: tuple[FrameProblem, ...] = tuple(
            p for p in problems if p.severity == "warning"
        )
        super().__init__([p.as_issue() for p in problems])


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
_WHO = re.compile(r"^(?:task|person|project|calendar|portfolio)(?: [^:]*)?: ")
_ENTITY_PATH = re.compile(r"(?:people|projects)\[\d+\](?:\.tasks\[\d+\])?")


class _Located:
    """Collects frame problems and the locations of JSON paths while the dict is built."""

    def __init__(self) -> None:
        self.problems: list[FrameProblem] = []
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


def _rows(name: str, df: Any, where: _Located) -> list[Row]:
    """The table's rows as ``(label, {column: converted cell})``, missing cells left out."""
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
    for label, rec in zip(frame.index, records, strict=True):
        cells: dict[str, Any] = {}
        for c, v in rec.items():
            x = _cell(v, schema[str(c)].kind)
            if x is not _MISSING:
                cells[str(c)] = x
        out.append((label, cells))
    return out


def _ident(cells: Mapping[str, Any], key: str) -> str | None:
    v = cells.get(key)
    return f"{key} {v}" if isinstance(v, str) else None


def _copy(cells: Mapping[str, Any], keys: Iterable[str], into: dict[str, Any]) -> None:
    for k in keys:
        if k in cells:
            into[k] = cells[k]


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
        for key in ("start", "end", "workdays"):
            if key in cells:
                cal[key] = cells[key]
                where.at(f"calendar.{key}", loc)
        for key in ("objective", "hard_deadlines"):
            if key in cells:
                pol[key] = cells[key]
                where.at(f"policy.{key}", loc)
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
        if isinstance(calendar, Calendar):
            given: dict[str, Any] = {"start": calendar.start, "end": calendar.end}
            if calendar.workdays is not None:
                given["workdays"] = list(calendar.workdays)
            if calendar.holidays:
                given["holidays"] = list(calendar.holidays)
        else:
            given = dict(calendar)
        kinds: dict[str, Kind] = {"start": "date", "end": "date", "workdays": "list"}
        for key, v in given.items():
            if key == "holidays":
                days = [_cell(d, "date") for d in v]
                cal[key] = [d for d in days if d is not _MISSING]
                for path in [k for k in where.locs if k.startswith("calendar.holidays[")]:
                    del where.locs[path]  # the table's rows no longer apply
            else:
                x = _cell(v, kinds.get(key, "str"))
                if x is not _MISSING:
                    cal[key] = x
            where.locs[f"calendar.{key}"] = arg("calendar", key)
        where.locs.setdefault("calendar", _Loc("argument calendar", None))
    if policy is not None:
        if isinstance(policy, Policy):
            pgiven: dict[str, Any] = dict(policy.extra)
            if policy.objective is not None:
                pgiven["objective"] = policy.objective
            if policy.hard_deadlines is not None:
                pgiven["hard_deadlines"] = policy.hard_deadlines
        else:
            pgiven = dict(policy)
        for key, v in pgiven.items():
            x = _cell(v, "bool" if key == "hard_deadlines" else "str")
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
        _copy(cells, ("id", "name"), d)
        d["skills"] = {}
        _copy(cells, ("hours_per_day", "cost_per_hour", "workdays"), d)
        _copy(cells, ("available_from", "available_until"), d)
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
    for table, keys, src in (
        ("time_off", ("start", "end"), time_off),
        ("reduced_capacity", ("start", "end", "percent"), reduced_capacity),
    ):
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
    for i, (_, cells) in enumerate(rows):
        _copy(cells, ("team", "placeholder"), out[i])
    return out


_TASK_RENAME = {
    "pinned": "pinned_person",
    "progress": "progress_people",
    "estimate": "estimate_low",
}
_PIN_RENAME = {"person": "pinned_person", "start": "pinned_start"}
_PROGRESS_RENAME = {"people": "progress_people"}
_ESTIMATE_RENAME = {"low": "estimate_low", "high": "estimate_high"}


def _projects(
    where: _Located, projects: Any, tasks: Any, requirements: Any
) -> list[dict[str, Any]]:
    prow = _rows("projects", projects, where)
    out: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    for j, (label, cells) in enumerate(prow):
        d: dict[str, Any] = {}
        _copy(cells, ("id", "name", "priority", "start_after", "deadline"), d)
        _copy(cells, ("budget", "all_or_nothing"), d)
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
        where.at(f"{path}.pinned", _Loc("tasks", label, ident, _PIN_RENAME, "pinned_person"))
        where.at(
            f"{path}.progress", _Loc("tasks", label, ident, _PROGRESS_RENAME, "progress_people")
        )
        where.at(f"{path}.estimate", _Loc("tasks", label, ident, _ESTIMATE_RENAME, "estimate_low"))
        t: dict[str, Any] = {}
        _copy(cells, ("id", "name", "skill", "min_level", "effort_hours", "duration_days"), t)
        _copy(cells, ("allocation", "predecessors", "earliest_start", "deadline", "priority"), t)
        _copy(cells, ("exclude", "prefer"), t)
        if "pinned_person" in cells or "pinned_start" in cells:
            pin: dict[str, Any] = {}
            if "pinned_person" in cells:
                pin["person"] = cells["pinned_person"]
            if "pinned_start" in cells:
                pin["start"] = cells["pinned_start"]
            t["pinned"] = pin
        _copy(cells, ("status",), t)
        if any(k_ in cells for k_ in ("progress_people", "remaining_hours", "remaining_days")):
            prog: dict[str, Any] = {}
            if "progress_people" in cells:
                prog["people"] = cells["progress_people"]
            _copy(cells, ("remaining_hours", "remaining_days"), prog)
            t["progress"] = prog
        if "estimate_low" in cells or "estimate_high" in cells:
            t["estimate"] = {
                k: cells[f"estimate_{k}"] for k in ("low", "high") if f"estimate_{k}" in cells
            }
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
        _copy(cells, ("skill", "min_level", "count"), r)
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
) -> Portfolio:
    """Build and validate a portfolio from tidy tables (see the module docstring for columns).

    ``calendar`` is a :class:`~allocator.domain.Calendar` or a mapping with ``start``, ``end``
    and optionally ``workdays`` and ``holidays``; it, ``name``, ``policy`` and ``as_of`` override
    the ``settings`` table key by key. Raises :class:`FrameError` listing every problem at its
    table, row and column; warnings (unknown columns, skills nobody has) are logged.
    """
    where = _Located()
    top = _settings(where, settings, holidays, name, calendar, policy, as_of)
    top["people"] = _people(where, people, skills, time_off, reduced_capacity)
    top["projects"] = _projects(where, projects, tasks, requirements)
    portfolio, structural = read_portfolio(top)
    report = validate(portfolio, structural=structural)
    problems = list(where.problems)
    problems += [where.locate(i) for i in (*report.errors, *report.warnings)]
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
    ``calendar``, ``policy``, ``as_of``."""
    unknown = sorted(set(tables) - set(TABLES))
    for t in unknown:
        log.warning("unknown table %r (ignored); tables are %s", t, ", ".join(TABLES))
    empty = {t: pd.DataFrame({c: [] for c in COLUMNS[t]}) for t in _REQUIRED_FILES}
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


# ---------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------
_EXCEL = (".xlsx", ".xlsm", ".xls")


def _label_rows(df: pd.DataFrame) -> pd.DataFrame:
    """Rows labelled by spreadsheet row number: the header is row 1, the first data row 2."""
    return df.set_axis(pd.RangeIndex(2, 2 + len(df)), axis=0)


def _read_csv(path: Path) -> pd.DataFrame:
    df = pd.read_csv(
        path,
        dtype=str,
        keep_default_na=False,
        na_values=[""],
        skipinitialspace=True,
        encoding="utf-8-sig",
    )
    return _label_rows(df)


def _file_error(path: Path | str, message: str) -> FrameError:
    return FrameError([FrameProblem(str(path), None, None, message)])


def read_tables(source: str | Path | Iterable[str | Path]) -> dict[str, pd.DataFrame]:
    """The tables of a directory of CSV files, of an Excel workbook, or of a list of CSV paths
    (each named after its table); rows labelled by spreadsheet row number."""
    paths: list[Path]
    if isinstance(source, str | Path):
        src = Path(source)
        if src.suffix.lower() in _EXCEL:
            if not src.is_file():
                raise _file_error(src, "file not found")
            try:
                sheets = pd.read_excel(src, sheet_name=None, dtype=object)
            except Exception as exc:  # openpyxl raises many types for a bad workbook
                raise _file_error(src, f"cannot read the workbook: {exc}") from None
            tables: dict[str, pd.DataFrame] = {}
            for sheet, df in sheets.items():
                key = str(sheet).strip()
                if key in SCHEMA:
                    tables[key] = _label_rows(df)
                else:
                    log.warning("%s: sheet %r is not a portfolio table (ignored)", src, sheet)
            return tables
        if src.is_dir():
            paths = [src / f"{t}.csv" for t in TABLES if (src / f"{t}.csv").is_file()]
        elif src.is_file():
            paths = [src]
        else:
            raise _file_error(src, "no such file or directory")
    else:
        paths = [Path(p) for p in source]
    out: dict[str, pd.DataFrame] = {}
    for p in paths:
        if p.stem not in SCHEMA:
            raise _file_error(
                p,
                "not a portfolio table; CSV files are named "
                + ", ".join(t + ".csv" for t in TABLES),
            )
        try:
            out[p.stem] = _read_csv(p)
        except (OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
            raise _file_error(p, f"cannot read: {exc}") from None
        except pd.errors.EmptyDataError:
            out[p.stem] = pd.DataFrame({c: [] for c in COLUMNS[p.stem]})
    return out


def portfolio_from_files(source: str | Path | Iterable[str | Path], **overrides: Any) -> Portfolio:
    """Read a portfolio from CSV files (``people.csv``, ``skills.csv``, ``projects.csv``,
    ``tasks.csv`` required; ``settings.csv``, ``holidays.csv``, ``time_off.csv``,
    ``reduced_capacity.csv``, ``requirements.csv`` optional) in a directory or given as paths,
    or from one Excel workbook with sheets of those names. ``overrides``: ``name``,
    ``calendar``, ``policy``, ``as_of`` (needed when there is no ``settings`` table).

    Errors name the table, the spreadsheet row and the column (:class:`FrameError`).
    """
    tables = read_tables(source)
    missing = [t for t in _REQUIRED_FILES if t not in tables]
    if missing:
        raise FrameError(
            [FrameProblem(str(source), None, None, f"missing table {t!r}") for t in missing]
        )
    return portfolio_from_tables(tables, **overrides)


def portfolio_to_files(portfolio: Portfolio, target: str | Path) -> Path:
    """Write :func:`portfolio_to_frames` as CSV files into a directory, or as one Excel
    workbook when ``target`` ends in ``.xlsx``. Returns ``target``."""
    frames = portfolio_to_frames(portfolio)
    out = Path(target)
    if out.suffix.lower() in _EXCEL:
        with pd.ExcelWriter(out) as xl:
            for t, df in frames.items():
                df.to_excel(xl, sheet_name=t, index=False)
        return out
    out.mkdir(parents=True, exist_ok=True)
    for t, df in frames.items():
        df.to_csv(out / f"{t}.csv", index=False, date_format="%Y-%m-%d")
    return out


# ---------------------------------------------------------------------------------------------
# Portfolio to tables
# ---------------------------------------------------------------------------------------------
def _frame(table: str, rows: list[dict[str, Any]]) -> pd.DataFrame:
    data: dict[str, pd.Series] = {}
    for col in SCHEMA[table]:
        values = [r.get(col.name) for r in rows]
        if col.kind == "date":
            series = pd.Series(
                [pd.NaT if v is None else pd.Timestamp(v) for v in values],
                dtype="datetime64[ns]",
            )
        elif col.kind == "num":
            series = pd.Series([np.nan if v is None else float(v) for v in values], dtype="float64")
        else:
            series = pd.Series([pd.NA if v is None else v for v in values], dtype=_DTYPE[col.kind])
        data[col.name] = series
    return pd.DataFrame(data, index=pd.RangeIndex(len(rows)))


def _join(items: Sequence[str] | None, *, empty_is_none: bool = True) -> str | None:
    if items is None:
        return None
    if not items and empty_is_none:
        return None
    return ",".join(items)


def portfolio_to_frames(portfolio: Portfolio) -> dict[str, pd.DataFrame]:
    """The portfolio as the tables of :func:`portfolio_from_frames`, every table present
    (possibly empty), typed; ``portfolio_from_tables`` of the result equals the portfolio."""
    p = portfolio
    settings = [
        {
            "name": p.name,
            "start": p.calendar.start,
            "end": p.calendar.end,
            "workdays": _join(p.calendar.workdays, empty_is_none=False),
            "as_of": p.as_of,
            "objective": p.policy.objective,
            "hard_deadlines": p.policy.hard_deadlines,
        }
    ]
    if p.policy.extra:
        log.warning("policy keys %s have no column (not exported)", sorted(p.policy.extra))
    people: list[dict[str, Any]] = []
    skills: list[dict[str, Any]] = []
    time_off: list[dict[str, Any]] = []
    reduced: list[dict[str, Any]] = []
    for x in p.people:
        people.append(
            {
                "id": x.id,
                "name": x.name,
                "hours_per_day": x.hours_per_day,
                "cost_per_hour": x.cost_per_hour,
                "workdays": _join(x.workdays, empty_is_none=False),
                "available_from": x.available_from,
                "available_until": x.available_until,
                "team": x.team,
                "placeholder": x.placeholder,
            }
        )
        skills += [{"person": x.id, "skill": s, "level": lv} for s, lv in x.skills.items()]
        time_off += [{"person": x.id, "start": r.start, "end": r.end} for r in x.time_off]
        reduced += [
            {"person": x.id, "start": r.start, "end": r.end, "percent": r.percent}
            for r in x.reduced_capacity
        ]
    projects: list[dict[str, Any]] = []
    tasks: list[dict[str, Any]] = []
    reqs: list[dict[str, Any]] = []
    for pr in p.projects:
        projects.append(
            {
                "id": pr.id,
                "name": pr.name,
                "priority": pr.priority,
                "start_after": pr.start_after,
                "deadline": pr.deadline,
                "budget": pr.budget,
                "all_or_nothing": pr.all_or_nothing,
            }
        )
        for t in pr.tasks:
            tasks.append(_task_row(t))
            if t.requirements is not None:
                if not t.requirements:
                    reqs.append({"task": t.id})
                for q in t.requirements:
                    reqs.append(
                        {"task": t.id, "skill": q.skill, "min_level": q.min_level, "count": q.count}
                    )
    return {
        "settings": _frame("settings", settings),
        "holidays": _frame("holidays", [{"date": d} for d in p.calendar.holidays]),
        "people": _frame("people", people),
        "skills": _frame("skills", skills),
        "time_off": _frame("time_off", time_off),
        "reduced_capacity": _frame("reduced_capacity", reduced),
        "projects": _frame("projects", projects),
        "tasks": _frame("tasks", tasks),
        "requirements": _frame("requirements", reqs),
    }


def _task_row(t: Task) -> dict[str, Any]:
    return {
        "id": t.id,
        "project": t.project,
        "name": t.name,
        "skill": t.skill,
        "min_level": t.min_level,
        "effort_hours": t.effort_hours,
        "duration_days": t.duration_days,
        "allocation": t.allocation,
        "predecessors": _join(t.predecessors),
        "earliest_start": t.earliest_start,
        "deadline": t.deadline,
        "priority": t.priority,
        "exclude": _join(t.exclude),
        "prefer": _join(t.prefer),
        "pinned_person": None if t.pinned is None else t.pinned.person,
        "pinned_start": None if t.pinned is None else t.pinned.start,
        "status": t.status,
        "progress_people": None if t.progress is None else _join(t.progress.people),
        "remaining_hours": None if t.progress is None else t.progress.remaining_hours,
        "remaining_days": None if t.progress is None else t.progress.remaining_days,
        "estimate_low": None if t.estimate is None else t.estimate.low,
        "estimate_high": None if t.estimate is None else t.estimate.high,
    }


# ---------------------------------------------------------------------------------------------
# Plans as tables
# ---------------------------------------------------------------------------------------------
class _Days:
    """Working days, each person's availability and capacity hours, as arrays (computed once)."""

    def __init__(self, portfolio: Portfolio) -> None:
        self.portfolio = portfolio
        self.timeline = Timeline.of(portfolio)
        self.n = len(self.timeline)
        self.index = pd.DatetimeIndex(list(self.timeline.days), dtype="datetime64[ns]")
        self.available: dict[str, np.ndarray] = {}
        self.capacity_hours: dict[str, np.ndarray] = {}
        for person in portfolio.people:
            if person.id in self.available:
                continue
            self.available[person.id] = np.array(
                availability(portfolio, self.timeline, person), dtype=bool
            ).reshape(self.n)
            self.capacity_hours[person.id] = (
                np.array(capacity(portfolio, self.timeline, person), dtype=float).reshape(self.n)
                / 100.0
                * person.hpd
            )

    def span(self, start: date, finish: date) -> tuple[int, int]:
        """Index range ``[lo, hi)`` of the working days from ``start`` to ``finish``."""
        return self.timeline.first_on_or_after(start), self.timeline.last_on_or_before(finish) + 1

    def active(self, start: date, finish: date, people: Sequence[str]) -> np.ndarray:
        """Mask of the active days of an assignment (contract *Active days*)."""
        lo, hi = self.span(start, finish)
        mask = np.zeros(self.n, dtype=bool)
        if hi > lo:
            mask[lo:hi] = True
        for pid in people:
            av = self.available.get(pid)
            if av is not None:
                mask &= av
        return mask

    def late_days(self, task: Task, finish: date) -> int:
        deadline = self.portfolio.task_deadline(task)
        if deadline is None:
            return 0
        tl = self.timeline
        return max(0, tl.last_on_or_before(finish) - tl.last_on_or_before(deadline))

    def window(self, task: Task) -> tuple[int, int]:
        """Working days ``[lo, hi)`` in which a task should run: from its earliest start to its
        deadline (the calendar's end when it has none or it leaves no day)."""
        tl = self.timeline
        lo = tl.first_on_or_after(self.portfolio.task_earliest_start(task))
        hi = self.n
        deadline = self.portfolio.task_deadline(task)
        if deadline is not None and tl.last_on_or_before(deadline) + 1 > lo:
            hi = tl.last_on_or_before(deadline) + 1
        return lo, hi

    def periods(self, freq: str) -> pd.DatetimeIndex:
        """The start of the period (``freq``: a pandas period alias, ``W`` = Mon-Sun weeks) of
        each working day."""
        if self.n == 0:
            return pd.DatetimeIndex([], dtype="datetime64[ns]")
        starts = self.index.to_period(freq).start_time
        return pd.DatetimeIndex(starts).astype("datetime64[ns]")


def _skill_of(portfolio: Portfolio, task: Task, people: Sequence[str]) -> dict[str, str | None]:
    """The skill each assignee brings: the place they fill in a one-to-one matching of people to
    places (contract rule 2); ``None`` where no matching place exists (an invalid plan)."""
    places = task.places
    persons = [portfolio.person_by_id.get(pid) for pid in people]
    holder: list[int | None] = [None] * len(places)

    def fits(i: int, k: int) -> bool:
        p = persons[i]
        return p is not None and p.level(places[k].skill) >= places[k].min_level

    def assign(i: int, seen: set[int]) -> bool:
        for k in range(len(places)):
            if k in seen or not fits(i, k):
                continue
            seen.add(k)
            h = holder[k]
            if h is None or assign(h, seen):
                holder[k] = i
                return True
        return False

    for i in range(len(persons)):
        assign(i, set())
    out: dict[str, str | None] = dict.fromkeys(people)
    for k, held in enumerate(holder):
        if held is not None:
            out[people[held]] = places[k].skill
    return out


_ASSIGNMENT_COLUMNS: Mapping[str, str] = {
    "task": "string",
    "task_name": "string",
    "project": "string",
    "project_name": "string",
    "person": "string",
    "person_name": "string",
    "team": "string",
    "skill": "string",
    "start": "datetime64[ns]",
    "finish": "datetime64[ns]",
    "active_days": "int64",
    "allocation": "int64",
    "hours": "float64",
    "cost": "float64",
    "priority": "int64",
    "deadline": "datetime64[ns]",
    "late_days": "int64",
    "late": "bool",
}


def _typed(rows: list[dict[str, Any]], columns: Mapping[str, str]) -> pd.DataFrame:
    data = {}
    for c, dtype in columns.items():
        values = [r.get(c) for r in rows]
        if dtype.startswith("datetime64"):
            values = [pd.NaT if v is None else pd.Timestamp(v) for v in values]
        elif dtype == "string":
            values = [pd.NA if v is None else v for v in values]
        data[c] = pd.Series(values, dtype=dtype)
    return pd.DataFrame(data, index=pd.RangeIndex(len(rows)))


def assignments_frame(portfolio: Portfolio, plan: Plan) -> pd.DataFrame:
    """One row per assigned task and assignee (one row with an empty ``person`` for a task that
    needs nobody), in plan order.

    ``active_days`` are the contract's active days; ``hours`` = active days x ``hours_per_day``
    x ``allocation`` / 100 and ``cost`` = hours x ``cost_per_hour``, so the columns add up to the
    checker's ``total_hours`` and ``total_cost``; ``skill`` is the skill of the place the person
    fills; ``late_days`` follows the contract's *Late*. Assignments of unknown tasks are skipped.
    """
    days = _Days(portfolio)
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for a in plan.assignments:
        task = portfolio.task_by_id.get(a.task)
        if task is None or a.task in seen:
            continue
        seen.add(a.task)
        project = portfolio.project_by_id.get(task.project)
        people = list(dict.fromkeys(a.people))
        n_active = int(days.active(a.start, a.finish, people).sum())
        late = days.late_days(task, a.finish)
        base = {
            "task": task.id,
            "task_name": task.name,
            "project": task.project,
            "project_name": None if project is None else project.name,
            "start": a.start,
            "finish": a.finish,
            "active_days": n_active,
            "allocation": task.alloc,
            "priority": portfolio.task_priority(task),
            "deadline": portfolio.task_deadline(task),
            "late_days": late,
            "late": late > 0,
        }
        if not people:
            rows.append({**base, "hours": 0.0, "cost": 0.0})
            continue
        skill_of = _skill_of(portfolio, task, people)
        for pid in people:
            person = portfolio.person_by_id.get(pid)
            hours = n_active * (person.hpd if person else 0.0) * task.alloc / 100.0
            rows.append(
                {
                    **base,
                    "person": pid,
                    "person_name": None if person is None else person.name,
                    "team": None if person is None else person.team,
                    "skill": skill_of.get(pid),
                    "hours": hours,
                    "cost": hours * (person.rate if person else 0.0),
                }
            )
    return _typed(rows, _ASSIGNMENT_COLUMNS)


def unassigned_frame(portfolio: Portfolio, plan: Plan, sep: str = "; ") -> pd.DataFrame:
    """One row per unassigned task: ``task``, ``task_name``, ``project``, ``project_name``,
    ``priority``, ``work_hours`` (contract *Work*), ``skill`` (the skills it needs) and its
    ``reasons`` joined with ``sep``."""
    rows = []
    for u in plan.unassigned:
        task = portfolio.task_by_id.get(u.task)
        project = None if task is None else portfolio.project_by_id.get(task.project)
        rows.append(
            {
                "task": u.task,
                "task_name": None if task is None else task.name,
                "project": None if task is None else task.project,
                "project_name": None if project is None else project.name,
                "priority": None if task is None else portfolio.task_priority(task),
                "work_hours": None if task is None else portfolio.task_work_hours(task),
                "skill": None
                if task is None
                else ",".join(dict.fromkeys(pl.skill for pl in task.places)) or None,
                "reasons": sep.join(u.reasons),
            }
        )
    return _typed(
        rows,
        {
            "task": "string",
            "task_name": "string",
            "project": "string",
            "project_name": "string",
            "priority": "Int64",
            "work_hours": "float64",
            "skill": "string",
            "reasons": "string",
        },
    )


def _load_matrix(portfolio: Portfolio, plan: Plan, days: _Days) -> tuple[np.ndarray, np.ndarray]:
    """Planned hours and cost per person (rows in ``portfolio.people`` order) and working day."""
    pos = {p.id: i for i, p in reversed(list(enumerate(portfolio.people)))}
    hours = np.zeros((len(portfolio.people), days.n))
    cost = np.zeros_like(hours)
    seen: set[str] = set()
    for a in plan.assignments:
        task = portfolio.task_by_id.get(a.task)
        if task is None or a.task in seen:
            continue
        seen.add(a.task)
        people = list(dict.fromkeys(a.people))
        mask = days.active(a.start, a.finish, people)
        for pid in people:
            if pid not in pos:
                continue
            person = portfolio.people[pos[pid]]
            h = person.hpd * task.alloc / 100.0
            hours[pos[pid], mask] += h
            cost[pos[pid], mask] += h * person.rate
    return hours, cost


def _ratio(num: Any, den: Any) -> Any:
    """``num / den``, 0 where ``den`` is 0 (as the checker's utilization)."""
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    out = np.zeros(np.broadcast(num, den).shape)
    np.divide(num, den, out=out, where=den > 0)
    return out


def utilization_frame(portfolio: Portfolio, plan: Plan, freq: str = "W") -> pd.DataFrame:
    """Planned hours against capacity per person and period (long: ``person``, ``period`` (the
    period's first day), ``hours``, ``capacity_hours``, ``utilization``; utilization is 0 where
    the person has no capacity). Periods are pandas period aliases: ``W`` (Mon-Sun weeks), ``M``.
    """
    days = _Days(portfolio)
    hours, _ = _load_matrix(portfolio, plan, days)
    cap = np.array([days.capacity_hours[p.id] for p in portfolio.people]).reshape(hours.shape)
    periods = days.periods(freq)
    uniq = pd.DatetimeIndex(periods.unique())
    col = uniq.get_indexer(periods)
    h = np.zeros((len(portfolio.people), len(uniq)))
    c = np.zeros_like(h)
    for k in range(len(uniq)):
        sel = col == k
        h[:, k] = hours[:, sel].sum(axis=1)
        c[:, k] = cap[:, sel].sum(axis=1)
    ids = [p.id for p in portfolio.people]
    out = pd.DataFrame(
        {
            "person": pd.Series(np.repeat(ids, len(uniq)), dtype="string"),
            "period": pd.DatetimeIndex(np.tile(uniq.to_numpy(), len(ids))).astype("datetime64[ns]"),
            "hours": h.reshape(-1),
            "capacity_hours": c.reshape(-1),
            "utilization": _ratio(h, c).reshape(-1),
        }
    )
    return out


def kpi_summary(portfolio: Portfolio, plan: Plan) -> pd.Series:
    """The checker's KPIs of the plan (:func:`allocator.checker.kpis`), its ``gap`` and its
    ``portfolio`` objective terms evaluated on this portfolio (``term:undelivered_work_hours``,
    ... in planner units), as one float Series indexed by name, named after the plan's status
    (compare two with :func:`kpi_diff`). No combined objective: the terms are the objective."""
    from allocator.checker import kpis

    k = kpis(portfolio, plan)
    values: dict[str, float] = {
        "gap": math.nan if plan.gap is None else float(plan.gap),
        "tasks_to_plan": k.tasks_to_plan,
        "assigned": k.assigned,
        "unassigned": k.unassigned,
        "assigned_share": k.assigned_share,
        "undelivered_work_hours": k.undelivered_work_hours,
        "late_tasks": k.late_tasks,
        "weighted_late_days": k.weighted_late_days,
        "makespan_days": k.makespan_days,
        "total_hours": k.total_hours,
        "total_cost": k.total_cost,
        "utilization": k.utilization,
    }
    for name, v in (k.objective_terms or {}).items():
        values[f"term:{name}"] = float(v)
    return pd.Series(values, dtype="float64", name=plan.status)


def kpi_diff(
    before: pd.Series, after: pd.Series, labels: tuple[str, str] = ("before", "after")
) -> pd.DataFrame:
    """Two :func:`kpi_summary` Series side by side with their ``change`` (after - before)."""
    out = pd.concat([before.rename(labels[0]), after.rename(labels[1])], axis=1)
    out["change"] = out[labels[1]] - out[labels[0]]
    return out


def kpi_frames(portfolio: Portfolio, plan: Plan, freq: str = "W") -> dict[str, pd.DataFrame]:
    """KPIs of a plan per ``person``, ``team``, ``skill`` and ``week`` (period ``freq``).

    Every table has ``hours`` (planned, contract *Hours*), ``capacity_hours`` (capacity / 100 x
    ``hours_per_day`` over the working days, as the checker's utilization), ``utilization``
    (hours / capacity, 0 without capacity), ``cost``, ``tasks`` and ``late_tasks`` (distinct
    assigned tasks, and those late, involving the row). Per skill, ``hours`` are those spent on
    places needing the skill and ``capacity_hours`` counts every person having the skill in full
    (a multi-skilled person counts under each of their skills); ``unassigned_hours`` is the work
    of the unassigned tasks needing it. Per week, a task counts in the weeks it is active and is
    late in the week it finishes.
    """
    days = _Days(portfolio)
    asg = assignments_frame(portfolio, plan)
    per = _person_kpis(portfolio, days, asg)
    # team
    teams = per.assign(team=per["team"].fillna("(no team)"))
    team_asg = asg.assign(team=asg["team"].fillna("(no team)"))
    grouped = teams.groupby("team", sort=True)
    team = pd.DataFrame(
        {
            "people": grouped["person"].count(),
            "hours": grouped["hours"].sum(),
            "capacity_hours": grouped["capacity_hours"].sum(),
            "cost": grouped["cost"].sum(),
        }
    )
    team["utilization"] = _ratio(team["hours"], team["capacity_hours"])
    team["tasks"] = team_asg.dropna(subset=["person"]).groupby("team")["task"].nunique()
    team["late_tasks"] = (
        team_asg[team_asg["late"]].dropna(subset=["person"]).groupby("team")["task"].nunique()
    )
    team = team.fillna({"tasks": 0, "late_tasks": 0}).astype(
        {"tasks": "int64", "late_tasks": "int64"}
    )
    team = team.reset_index().astype({"team": "string"})
    # skill
    skill = _skill_kpis(portfolio, plan, days, asg)
    # week
    week = _week_kpis(portfolio, plan, days, asg, freq)
    return {"person": per, "team": team, "skill": skill, "week": week}


def _person_kpis(portfolio: Portfolio, days: _Days, asg: pd.DataFrame) -> pd.DataFrame:
    ids = [p.id for p in portfolio.people]
    by = asg.dropna(subset=["person"]).groupby("person")
    hours = by["hours"].sum()
    cost = by["cost"].sum()
    tasks = by["task"].nunique()
    late = asg[asg["late"]].dropna(subset=["person"]).groupby("person")["task"].nunique()
    cap = [float(days.capacity_hours[p.id].sum()) for p in portfolio.people]
    h = [float(hours.get(i, 0.0)) for i in ids]
    return pd.DataFrame(
        {
            "person": pd.Series(ids, dtype="string"),
            "name": pd.Series([p.name for p in portfolio.people], dtype="string"),
            "team": pd.Series([p.team for p in portfolio.people], dtype="string"),
            "hours": pd.Series(h, dtype="float64"),
            "capacity_hours": pd.Series(cap, dtype="float64"),
            "utilization": _ratio(h, cap),
            "cost": pd.Series([float(cost.get(i, 0.0)) for i in ids], dtype="float64"),
            "tasks": pd.Series([int(tasks.get(i, 0)) for i in ids], dtype="int64"),
            "late_tasks": pd.Series([int(late.get(i, 0)) for i in ids], dtype="int64"),
        }
    )


def _skills_in(portfolio: Portfolio) -> list[str]:
    names: dict[str, None] = {}
    for p in portfolio.people:
        names.update(dict.fromkeys(p.skills))
    for t in portfolio.tasks():
        names.update(dict.fromkeys(pl.skill for pl in t.places))
    return sorted(names)


def _skill_capacity(portfolio: Portfolio, days: _Days, skills: Sequence[str]) -> np.ndarray:
    """Capacity hours per skill and working day: every person having the skill counts in full."""
    out = np.zeros((len(skills), days.n))
    pos = {s: i for i, s in enumerate(skills)}
    seen: set[str] = set()
    for p in portfolio.people:
        if p.id in seen:
            continue
        seen.add(p.id)
        for s, level in p.skills.items():
            if s in pos and isinstance(level, int) and level >= 1:
                out[pos[s]] += days.capacity_hours[p.id]
    return out


def _place_hours(portfolio: Portfolio, task: Task) -> list[tuple[str, float]]:
    """Work per place of a task (contract *Work*; what is left for work in progress)."""
    places = task.places
    if not places:
        return []
    prog = task.progress if task.state == "in_progress" else None
    if task.effort_hours is not None and task.requirements is None:
        work = task.effort_hours
        if prog is not None and prog.remaining_hours is not None:
            work = prog.remaining_hours
        elif prog is not None and prog.remaining_days is not None:
            work = prog.remaining_days * 8.0 * task.alloc / 100.0
        return [(places[0].skill, float(work))]
    n_days = task.duration_days or 0
    if prog is not None and prog.remaining_days is not None:
        n_days = prog.remaining_days
    return [(pl.skill, n_days * 8.0 * task.alloc / 100.0) for pl in places]


def _skill_kpis(portfolio: Portfolio, plan: Plan, days: _Days, asg: pd.DataFrame) -> pd.DataFrame:
    skills = _skills_in(portfolio)
    cap = _skill_capacity(portfolio, days, skills).sum(axis=1)
    by = asg.dropna(subset=["skill"]).groupby("skill")
    hours, cost, tasks = by["hours"].sum(), by["cost"].sum(), by["task"].nunique()
    late = asg[asg["late"]].dropna(subset=["skill"]).groupby("skill")["task"].nunique()
    holders = {s: sum(1 for p in portfolio.people if p.level(s) >= 1) for s in skills}
    unassigned: dict[str, float] = dict.fromkeys(skills, 0.0)
    for u in plan.unassigned:
        task = portfolio.task_by_id.get(u.task)
        if task is not None:
            for s, work in _place_hours(portfolio, task):
                unassigned[s] = unassigned.get(s, 0.0) + work
    h = [float(hours.get(s, 0.0)) for s in skills]
    return pd.DataFrame(
        {
            "skill": pd.Series(skills, dtype="string"),
            "people": pd.Series([holders[s] for s in skills], dtype="int64"),
            "hours": pd.Series(h, dtype="float64"),
            "capacity_hours": pd.Series(cap, dtype="float64"),
            "utilization": _ratio(h, cap),
            "cost": pd.Series([float(cost.get(s, 0.0)) for s in skills], dtype="float64"),
            "tasks": pd.Series([int(tasks.get(s, 0)) for s in skills], dtype="int64"),
            "late_tasks": pd.Series([int(late.get(s, 0)) for s in skills], dtype="int64"),
            "unassigned_hours": pd.Series([unassigned[s] for s in skills], dtype="float64"),
        }
    )


def _week_kpis(
    portfolio: Portfolio, plan: Plan, days: _Days, asg: pd.DataFrame, freq: str
) -> pd.DataFrame:
    hours, cost = _load_matrix(portfolio, plan, days)
    cap = sum((days.capacity_hours[p.id] for p in portfolio.people), np.zeros(days.n))
    periods = days.periods(freq)
    uniq = pd.DatetimeIndex(periods.unique())
    col = uniq.get_indexer(periods)
    n = len(uniq)
    h = np.bincount(col, weights=hours.sum(axis=0), minlength=n) if days.n else np.zeros(n)
    c = np.bincount(col, weights=cap, minlength=n) if days.n else np.zeros(n)
    k = np.bincount(col, weights=cost.sum(axis=0), minlength=n) if days.n else np.zeros(n)
    tasks = np.zeros(n, dtype=np.int64)
    late = np.zeros(n, dtype=np.int64)
    finishing = np.zeros(n, dtype=np.int64)
    for _, row in asg.drop_duplicates("task").iterrows():
        lo, hi = days.span(row["start"].date(), row["finish"].date())
        if hi > lo:
            for w in np.unique(col[lo:hi]):
                tasks[w] += 1
            last = col[hi - 1]
            finishing[last] += 1
            if row["late"]:
                late[last] += 1
    return pd.DataFrame(
        {
            "period": uniq.astype("datetime64[ns]"),
            "hours": h,
            "capacity_hours": c,
            "utilization": _ratio(h, c),
            "cost": k,
            "tasks": tasks,
            "finishing": finishing,
            "late_tasks": late,
        }
    )


def demand_capacity_frame(
    portfolio: Portfolio, plan: Plan | None = None, freq: str = "W"
) -> pd.DataFrame:
    """Demand against capacity per skill and period (long: ``skill``, ``period`` (first day),
    ``demand_hours`` = ``planned_hours`` + ``unplanned_hours``, ``capacity_hours``, ``load`` =
    demand / capacity (NaN without capacity)).

    **Demand** is hours of work needing the skill. Without a plan every task to plan is
    *unplanned*: its work per place (contract *Work*: ``effort_hours``, or ``duration_days`` x 8
    x ``allocation`` / 100 per place; what is left for work in progress) is spread uniformly
    over the working days of its window, from its earliest start to its deadline (to the
    calendar's end when it has no deadline, or the deadline leaves no day; a task whose window
    lies past the horizon is not counted). With a plan, an assigned task's hours are *planned*
    on its active days (``hours_per_day`` x ``allocation`` / 100 of each assignee, under the
    skill of the place the assignee fills) and only the unassigned tasks are spread.

    **Capacity** of a skill is the capacity hours (capacity / 100 x ``hours_per_day``) of
    every person having the skill at any level. A multi-skilled person is counted **in full
    under each of their skills**, so capacities do not add up across skills: demand above a
    skill's capacity is a sure shortage, demand below it is not a guarantee (the same people
    may be needed elsewhere). Levels are not considered.
    """
    days = _Days(portfolio)
    skills = _skills_in(portfolio)
    pos = {s: i for i, s in enumerate(skills)}
    planned = np.zeros((len(skills), days.n))
    unplanned = np.zeros_like(planned)
    to_spread: list[Task]
    if plan is None:
        to_spread = list(portfolio.tasks_to_plan)
    else:
        ids = {u.task for u in plan.unassigned}
        to_spread = [t for t in portfolio.tasks_to_plan if t.id in ids]
        seen: set[str] = set()
        for a in plan.assignments:
            task = portfolio.task_by_id.get(a.task)
            if task is None or a.task in seen:
                continue
            seen.add(a.task)
            people = list(dict.fromkeys(a.people))
            mask = days.active(a.start, a.finish, people)
            skill_of = _skill_of(portfolio, task, people)
            for pid in people:
                person = portfolio.person_by_id.get(pid)
                s = skill_of.get(pid)
                if person is None or s is None:
                    continue
                planned[pos[s], mask] += person.hpd * task.alloc / 100.0
    for task in to_spread:
        lo, hi = days.window(task)
        if hi <= lo:
            continue
        for s, work in _place_hours(portfolio, task):
            unplanned[pos[s], lo:hi] += work / (hi - lo)
    cap = _skill_capacity(portfolio, days, skills)
    periods = days.periods(freq)
    uniq = pd.DatetimeIndex(periods.unique())
    col = uniq.get_indexer(periods)

    def by_period(m: np.ndarray) -> np.ndarray:
        out = np.zeros((len(skills), len(uniq)))
        for k in range(len(uniq)):
            out[:, k] = m[:, col == k].sum(axis=1)
        return out

    p, u, c = by_period(planned), by_period(unplanned), by_period(cap)
    demand = p + u
    load = np.full_like(demand, np.nan)
    np.divide(demand, c, out=load, where=c > 0)
    return pd.DataFrame(
        {
            "skill": pd.Series(np.repeat(skills, len(uniq)), dtype="string"),
            "period": pd.DatetimeIndex(np.tile(uniq.to_numpy(), len(skills))).astype(
                "datetime64[ns]"
            ),
            "demand_hours": demand.reshape(-1),
            "planned_hours": p.reshape(-1),
            "unplanned_hours": u.reshape(-1),
            "capacity_hours": c.reshape(-1),
            "load": load.reshape(-1),
        }
    )


# ---------------------------------------------------------------------------------------------
# Solver progress
# ---------------------------------------------------------------------------------------------
class ProgressRecorder:
    """Collects the engine's progress reports: pass it as ``SolveParams(on_progress=rec)``.

    :meth:`frame` gives one row per report: ``stage`` (``greedy-*``, ``cp-sat:<stage>``,
    ``lns``, ``done``), ``term`` (the objective term a ``cp-sat`` stage optimizes, e.g.
    ``undelivered_work_hours``; missing for stages that report the whole objective or none),
    ``elapsed`` seconds, ``gap``, then per objective term (in priority order) its value under
    the term's name and its proven bound under ``<term>_bound``, in planner units (hours, days,
    money): a ``cp-sat`` stage fills its own term only, ``greedy-*`` and ``lns`` every term's
    value, ``done`` every value and bound. Thread-safe.
    """

    def __init__(self) -> None:
        self._events: list[Progress] = []
        self._lock = threading.Lock()

    def __call__(self, event: Progress) -> None:
        with self._lock:
            self._events.append(event)

    def __len__(self) -> int:
        return len(self._events)

    def clear(self) -> None:
        with self._lock:
            self._events.clear()

    def terms(self) -> list[str]:
        """The objective terms reported so far, in priority order."""
        from allocator.objective import MAKESPAN_TERMS, PORTFOLIO_TERMS

        with self._lock:
            events = list(self._events)
        seen: dict[str, None] = {}
        for e in events:
            for figures in (e.objective, e.lower_bound):
                seen.update(dict.fromkeys(figures or {}))
        order = [*PORTFOLIO_TERMS, *MAKESPAN_TERMS]
        return sorted(seen, key=lambda n: order.index(n) if n in order else len(order))

    def frame(self) -> pd.DataFrame:
        terms = self.terms()
        with self._lock:
            events = list(self._events)
        cols: dict[str, pd.Series] = {
            "stage": pd.Series([e.stage for e in events], dtype="string"),
            "term": pd.Series(
                [
                    next(iter(e.objective or e.lower_bound or ()), None)
                    if e.stage.startswith("cp-sat:")
                    else None
                    for e in events
                ],
                dtype="string",
            ),
            "elapsed": pd.Series([float(e.elapsed) for e in events], dtype="float64"),
            "gap": pd.Series(
                [math.nan if e.gap is None else float(e.gap) for e in events], dtype="float64"
            ),
        }
        for name in terms:
            for col, attr in ((name, "objective"), (f"{name}_bound", "lower_bound")):
                cols[col] = pd.Series(
                    [float((getattr(e, attr) or {}).get(name, math.nan)) for e in events],
                    dtype="float64",
                )
        return pd.DataFrame(cols)
