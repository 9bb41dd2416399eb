"""The portfolio's tables (see :mod:`allocator.frames`): their columns and kinds, and the
located errors of reading them (:class:`FrameProblem`, :class:`FrameError`)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from allocator.domain import (
    Calendar,
    FieldKind,
    Person,
    Policy,
    Project,
    Task,
    contract_fields,
)
from allocator.errors import Issue, PortfolioError

__all__ = [
    "COLUMNS",
    "DTYPES",
    "REQUIRED_TABLES",
    "SCHEMA",
    "TABLES",
    "Column",
    "FrameError",
    "FrameProblem",
    "Kind",
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
    nested: Mapping[str, tuple[Column, ...]] | None = None,
) -> tuple[Column, ...]:
    """The columns of a record's contract fields, in field-table order: a scalar field is one
    column of its name (``id`` the required key column, followed by ``keys``); a nested field
    is the columns given for it in ``nested`` (none when not listed: it has a table of its
    own)."""
    out: list[Column] = []
    for key, spec in contract_fields(cls):
        if key in skip:
            continue
        if spec.kind == "nested":
            out.extend((nested or {}).get(key, ()))
        elif key == "id":
            out.extend((Column("id", "id", True), *keys))
        else:
            out.append(Column(key, _KIND_OF[spec.kind]))
    return tuple(out)


_CALENDAR = {c.name: c for c in _fields(Calendar, skip=("holidays",))}

#: The tables and their columns, in output order. Columns of scalar fields come from the
#: records' field table; those of nested structures are spelled out here.
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
    "time_off": _cols(("person", "id", True), ("start", "date", True), ("end", "date", True)),
    "reduced_capacity": _cols(
        ("person", "id", True),
        ("start", "date", True),
        ("end", "date", True),
        ("percent", "num", True),
    ),
    "projects": _fields(Project),
    "tasks": _fields(
        Task,
        keys=(Column("project", "id", True),),
        nested={
            "pinned": _cols(("pinned_person", "id"), ("pinned_start", "date")),
            "progress": _cols(
                ("progress_people", "list"), ("remaining_hours", "num"), ("remaining_days", "int")
            ),
            "estimate": _cols(("estimate_low", "num"), ("estimate_high", "num")),
        },
    ),
    "requirements": _cols(
        ("task", "id", True), ("skill", "str"), ("min_level", "int"), ("count", "int")
    ),
}
TABLES: tuple[str, ...] = tuple(SCHEMA)
COLUMNS: Mapping[str, tuple[str, ...]] = {t: tuple(c.name for c in cs) for t, cs in SCHEMA.items()}
REQUIRED_TABLES = ("people", "skills", "projects", "tasks")
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
