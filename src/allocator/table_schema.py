"""The portfolio's tables (see :mod:`allocator.frames`): their columns and kinds, and the
located errors of reading them (:class:`FrameProblem`, :class:`FrameError`). The columns as
Markdown (:func:`columns_markdown`) are the generated part of ``docs/TABLES.md``:
``python -m allocator.table_schema docs/TABLES.md`` rewrites it."""

from __future__ import annotations

import sys
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from allocator.domain import (
    RECORD_KINDS,
    Calendar,
    FieldKind,
    Person,
    Policy,
    Project,
    Spec,
    Task,
    contract_fields,
)
from allocator.errors import Issue, PortfolioError

__all__ = [
    "CALENDAR_COLUMNS",
    "COLUMNS",
    "COLUMNS_DOC_BEGIN",
    "COLUMNS_DOC_END",
    "DTYPES",
    "FLAT",
    "PERCENT_COLUMNS",
    "RECORD_TABLES",
    "REQUIRED_TABLES",
    "SCHEMA",
    "TABLES",
    "Column",
    "FrameError",
    "FrameProblem",
    "Kind",
    "RecordTable",
    "columns_markdown",
    "rewrite_columns_doc",
]

Kind = Literal["id", "str", "int", "num", "date", "bool", "list"]


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    kind: Kind
    required: bool = False


def _cols(*spec: tuple[str, Kind] | tuple[str, Kind, bool]) -> tuple[Column, ...]:
    return tuple(Column(*s) for s in spec)


#: the column kind of each scalar field kind of the field table (:mod:`allocator.domain`)
_KIND_OF: Mapping[FieldKind, Kind] = {
    "str": "str",
    "id": "id",
    "choice": "str",
    "int": "int",
    "number": "num",
    "bool": "bool",
    "date": "date",
    "weekdays": "list",
    "ids": "list",
    "dates": "list",
}


def _fields(
    cls: type,
    *,
    skip: tuple[str, ...] = (),
    keys: tuple[Column, ...] = (),
) -> tuple[Column, ...]:
    """The columns of a record's contract fields, in field-table order: a scalar or list field
    is one column of its name (``id`` the required key column, followed by ``keys``); a nested
    record flattened into the table (:data:`FLAT`) is its columns; other nested fields have a
    table of their own (:data:`RECORD_TABLES`, skills, tasks)."""
    out: list[Column] = []
    for key, spec in contract_fields(cls):
        if key in skip:
            continue
        if spec.kind in RECORD_KINDS or spec.kind == "nested":
            flat = FLAT.get(cls, {}).get(key)
            if flat is not None and spec.record is not None:
                kinds = dict(contract_fields(spec.record))
                out.extend(Column(col, _KIND_OF[kinds[sub].kind]) for sub, col in flat.items())
        elif key == "id":
            out.extend((Column("id", "id", True), *keys))
        else:
            out.append(Column(key, _KIND_OF[spec.kind]))
    return tuple(out)


def _flat(cls: type, key: str, bare: tuple[str, ...] = ()) -> Mapping[str, str]:
    """The columns of the nested record ``key`` flattened into the table of ``cls``: JSON key
    -> column, ``{key}_{field}`` (``pinned_person``), or the field's own name when ``bare``."""
    record = dict(contract_fields(cls))[key].record
    assert record is not None  # a record field names its record (checked by Spec)
    return {sub: sub if sub in bare else f"{key}_{sub}" for sub, _ in contract_fields(record)}


#: the nested records written as columns of their owner's table: record -> field -> (JSON key
#: of the nested record -> column)
FLAT: Mapping[type, Mapping[str, Mapping[str, str]]] = {
    Task: {
        "pinned": _flat(Task, "pinned"),
        "progress": _flat(Task, "progress", bare=("remaining_hours", "remaining_days")),
        "estimate": _flat(Task, "estimate"),
    }
}


@dataclass(frozen=True, slots=True)
class RecordTable:
    """A table of nested records, one row each: ``field`` of the ``owner`` records, whose id
    is in the column ``key`` (``time_off``: the person's ranges, ``person`` their id)."""

    owner: type
    field: str
    key: str
    #: required fields of the record that a row may leave empty
    optional: tuple[str, ...] = ()

    @property
    def record(self) -> type:
        record = dict(contract_fields(self.owner))[self.field].record
        assert record is not None  # a records field names its record (checked by Spec)
        return record

    @property
    def columns(self) -> tuple[Column, ...]:
        own = tuple(
            Column(k, _KIND_OF[s.kind], s.required and k not in self.optional)
            for k, s in contract_fields(self.record)
        )
        return (Column(self.key, "id", True), *own)


#: the tables of nested records, by name (an empty ``skill`` in ``requirements`` marks a team
#: task that needs nobody)
RECORD_TABLES: Mapping[str, RecordTable] = {
    "time_off": RecordTable(Person, "time_off", "person"),
    "reduced_capacity": RecordTable(Person, "reduced_capacity", "person"),
    "requirements": RecordTable(Task, "requirements", "task", optional=("skill",)),
}

_CALENDAR = {c.name: c for c in _fields(Calendar, skip=("holidays",))}

#: The tables and their columns, in output order, from the records' field table (the
#: ``skills`` map and the calendar's ``holidays`` have tables of their own, spelled out here).
SCHEMA: Mapping[str, tuple[Column, ...]] = {
    "settings": (
        Column("name", "str"),
        *_CALENDAR.values(),
        Column("as_of", "date"),
        *_fields(Policy),
    ),
    "holidays": _cols(("date", "date", True), ("name", "str")),
    "people": _fields(Person),
    "skills": _cols(("person", "id", True), ("skill", "str", True), ("level", "int", True)),
    "time_off": RECORD_TABLES["time_off"].columns,
    "reduced_capacity": RECORD_TABLES["reduced_capacity"].columns,
    "projects": _fields(Project),
    "tasks": _fields(Task, keys=(Column("project", "id", True),)),
    "requirements": RECORD_TABLES["requirements"].columns,
}
#: the settings columns of the calendar's fields (but ``holidays``, a table of its own)
CALENDAR_COLUMNS: tuple[str, ...] = tuple(_CALENDAR)
TABLES: tuple[str, ...] = tuple(SCHEMA)
COLUMNS: Mapping[str, tuple[str, ...]] = {t: tuple(c.name for c in cs) for t, cs in SCHEMA.items()}
REQUIRED_TABLES = ("people", "skills", "projects", "tasks")
#: the columns holding a percentage, where ``100%`` / ``50 %`` read as 100 / 50
PERCENT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("tasks", "allocation"),
    ("reduced_capacity", "percent"),
)
DTYPES: Mapping[Kind, str] = {
    "id": "string",
    "str": "string",
    "list": "string",
    "int": "Int64",
    "num": "float64",
    "bool": "boolean",
    "date": "datetime64[ns]",
}


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
# The columns as Markdown: the generated part of docs/TABLES.md
# ---------------------------------------------------------------------------------------------
COLUMNS_DOC_BEGIN = (
    "<!-- columns: generated by `python -m allocator.table_schema docs/TABLES.md`; do not edit -->"
)
COLUMNS_DOC_END = "<!-- end of generated columns -->"

_KIND_TEXT: dict[Kind, str] = {
    "id": "id (text; a number is read as its digits)",
    "str": "text",
    "int": "whole number",
    "num": "number",
    "date": "date `YYYY-MM-DD` (or an Excel date cell)",
    "bool": "true/false (also yes/no, 1/0)",
    "list": "list, separated by `,` or `;`",
}

#: what a table's rows are, in a few words
_ABOUT = {
    "settings": "one row: the portfolio's name, calendar, `as_of` and policy",
    "holidays": "one row per company holiday (the name is for people, it is not read)",
    "people": "one row per person (or placeholder hire)",
    "skills": "one row per person and skill; `level` is 1..5",
    "time_off": "one row per range a person is away (inclusive)",
    "reduced_capacity": "one row per range a person works part of the day",
    "projects": "one row per project",
    "tasks": "one row per task, with the id of its project",
    "requirements": (
        "team tasks: one row per requirement; a single row with an empty `skill` marks a task "
        "that needs nobody"
    ),
}


def _specs(table: str) -> dict[str, Spec]:
    """column -> the contract field it holds (the range rule and choices come from there)."""
    records: dict[str, tuple[type, ...]] = {
        "settings": (Calendar, Policy),
        "people": (Person,),
        "projects": (Project,),
        "tasks": (Task,),
    }
    if table in RECORD_TABLES:
        records[table] = (RECORD_TABLES[table].record,)
    out: dict[str, Spec] = {}
    for cls in records.get(table, ()):
        fields = dict(contract_fields(cls))
        out.update(fields)
        for key, cols in FLAT.get(cls, {}).items():
            record = fields[key].record
            assert record is not None  # a flattened field is a record
            sub = dict(contract_fields(record))
            out.update({col: sub[name] for name, col in cols.items()})
    return out


def _rule(table: str, column: str, spec: Spec | None) -> str:
    parts: list[str] = []
    if spec is not None and spec.rule:
        parts.append(spec.rule.removeprefix("must be "))
    if spec is not None and spec.choices:
        parts.append("one of " + ", ".join(f"`{c}`" for c in spec.choices))
    if (table, column) in PERCENT_COLUMNS:
        parts.append("a percentage: `50`, `50%` or a cell formatted as a percentage")
    return "; ".join(parts)


def columns_markdown() -> str:
    """Every table and its columns, in the order of :data:`TABLES`."""
    lines: list[str] = []
    for table in TABLES:
        need = "required" if table in REQUIRED_TABLES else "optional"
        lines += [f"### `{table}` ({need})", "", _ABOUT[table] + ".", ""]
        lines += ["| column | required | kind | values |", "|---|---|---|---|"]
        specs = _specs(table)
        for col in SCHEMA[table]:
            lines.append(
                f"| `{col.name}` | {'yes' if col.required else ''} | {_KIND_TEXT[col.kind]} "
                f"| {_rule(table, col.name, specs.get(col.name))} |"
            )
        lines.append("")
    return "\n".join(lines)


def rewrite_columns_doc(path: str | Path) -> bool:
    """Replace the generated part of ``path`` by :func:`columns_markdown`; True if it changed."""
    p = Path(path)
    text = p.read_text(encoding="utf-8")
    head, rest = text.split(COLUMNS_DOC_BEGIN, 1)
    _, tail = rest.split(COLUMNS_DOC_END, 1)
    new = f"{head}{COLUMNS_DOC_BEGIN}\n\n{columns_markdown()}\n{COLUMNS_DOC_END}{tail}"
    if new != text:
        p.write_text(new, encoding="utf-8")
    return new != text


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        sys.stderr.write(f"{arg}: {'rewritten' if rewrite_columns_doc(arg) else 'up to date'}\n")
