"""Files: the tables of :mod:`allocator.frames` as CSV files or one Excel workbook, both ways."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from allocator.domain import Portfolio
from allocator.table_schema import (
    COLUMNS,
    REQUIRED_TABLES,
    SCHEMA,
    TABLES,
    FrameError,
    FrameProblem,
)
from allocator.tables_in import portfolio_from_tables
from allocator.tables_out import portfolio_to_frames

log = logging.getLogger(__name__)

__all__ = ["portfolio_from_files", "portfolio_to_files", "read_tables"]

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


def _table_name(name: str) -> str | None:
    """The table a sheet or CSV file stands for: its name matched case-insensitively
    (``People``, ``TASKS.csv``); None when it is no table."""
    key = name.strip().lower()
    return key if key in SCHEMA else None


def _one_per_table(source: Path | str, named: Iterable[tuple[str, str]]) -> dict[str, str]:
    """table -> the one sheet or file name given for it; two names for one table (``People``
    and ``people``) are an error naming both."""
    found: dict[str, list[str]] = {}
    for table, name in named:
        found.setdefault(table, []).append(name)
    clashes = {t: names for t, names in found.items() if len(names) > 1}
    if clashes:
        raise FrameError(
            [
                FrameProblem(
                    str(source),
                    None,
                    None,
                    f"table {t!r} given twice: "
                    + " and ".join(repr(n) for n in names)
                    + " (names are matched ignoring case)",
                )
                for t, names in clashes.items()
            ]
        )
    return {t: names[0] for t, names in found.items()}


def _percent_text(value: float) -> str:
    """A number shown as a percentage in Excel (0.5 shown as ``50%``) as the text the planner
    sees (``"50%"``), exactly: ``0.07`` is ``"7.00%"``, not ``7.000000000000001``."""
    return f"{Decimal(repr(value)) * 100}%"


def _cell_value(cell: Any) -> Any:
    v = cell.value
    fmt = getattr(cell, "number_format", None) or ""
    if isinstance(v, int | float) and not isinstance(v, bool) and "%" in fmt:
        return _percent_text(float(v))
    return v


def _read_workbook(src: Path) -> dict[str, pd.DataFrame]:
    """The sheets of an ``.xlsx`` / ``.xlsm`` workbook that are portfolio tables, by table.
    Cells keep their Excel type (numbers, dates as ``datetime``, text); a number formatted as a
    percentage is read as the text shown (``"50%"``); rows are labelled by their row number in
    the sheet (blank rows are skipped but keep the numbering)."""
    import openpyxl  # type: ignore[import-untyped]  # local: only a workbook needs it

    try:
        book = openpyxl.load_workbook(src, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a bad workbook
        raise _file_error(src, f"cannot read the workbook: {exc}") from None
    try:
        named: list[tuple[str, str]] = []
        for sheet in book.sheetnames:
            table = _table_name(str(sheet))
            if table is None:
                log.warning("%s: sheet %r is not a portfolio table (ignored)", src, sheet)
            else:
                named.append((table, sheet))
        tables: dict[str, pd.DataFrame] = {}
        for table, sheet in _one_per_table(src, named).items():
            ws = book[sheet]
            ws.reset_dimensions()  # some writers record wrong dimensions
            rows = ws.iter_rows()
            header_row = next(rows, ())
            header = [c.value for c in header_row]
            while header and header[-1] is None:
                header.pop()
            columns = [
                str(h).strip() if h is not None else f"column {n + 1}" for n, h in enumerate(header)
            ]
            twice = sorted({c for c in columns if columns.count(c) > 1})
            if twice:
                raise FrameError(
                    [
                        FrameProblem(table, 1, c, f"column {c!r} given twice in sheet {sheet!r}")
                        for c in twice
                    ]
                )
            labels: list[int] = []
            data: list[list[Any]] = []
            for n, row in enumerate(rows, start=2):
                values = [_cell_value(c) for c in row[: len(columns)]]
                values += [None] * (len(columns) - len(values))
                if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
                    continue
                labels.append(n)
                data.append(values)
            df = pd.DataFrame(data, columns=columns, dtype=object)
            tables[table] = df.set_axis(pd.Index(labels, dtype="int64"), axis=0)
        return tables
    finally:
        book.close()


def read_tables(source: str | Path | Iterable[str | Path]) -> dict[str, pd.DataFrame]:
    """The tables of a directory of CSV files, of an Excel workbook, or of a list of CSV paths
    (each named after its table, ignoring case: ``People.csv`` is the ``people`` table); rows
    labelled by spreadsheet row number."""
    paths: list[Path]
    if isinstance(source, str | Path):
        src = Path(source)
        if src.suffix.lower() in _EXCEL:
            if not src.is_file():
                raise _file_error(src, "file not found")
            if src.suffix.lower() != ".xls":
                return _read_workbook(src)
            try:
                sheets = pd.read_excel(src, sheet_name=None, dtype=object)
            except Exception as exc:  # the engine raises many types for a bad workbook
                raise _file_error(src, f"cannot read the workbook: {exc}") from None
            found: list[tuple[str, str]] = []
            for sheet in sheets:
                key = _table_name(str(sheet))
                if key is None:
                    log.warning("%s: sheet %r is not a portfolio table (ignored)", src, sheet)
                else:
                    found.append((key, str(sheet)))
            return {t: _label_rows(sheets[s]) for t, s in _one_per_table(src, found).items()}
        if src.is_dir():
            files = sorted(p for p in src.iterdir() if p.suffix.lower() == ".csv" and p.is_file())
            named = [(t, p.name) for p in files if (t := _table_name(p.stem)) is not None]
            by_table = _one_per_table(src, named)
            paths = [src / by_table[t] for t in TABLES if t in by_table]
        elif src.is_file():
            paths = [src]
        else:
            raise _file_error(src, "no such file or directory")
    else:
        paths = [Path(p) for p in source]
        _one_per_table(
            "the files given",
            [(t, str(p)) for p in paths if (t := _table_name(p.stem)) is not None],
        )
    out: dict[str, pd.DataFrame] = {}
    for p in paths:
        table = _table_name(p.stem)
        if table is None:
            raise _file_error(
                p,
                "not a portfolio table; CSV files are named "
                + ", ".join(t + ".csv" for t in TABLES),
            )
        try:
            out[table] = _read_csv(p)
        except (OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
            raise _file_error(p, f"cannot read: {exc}") from None
        except pd.errors.EmptyDataError:
            out[table] = pd.DataFrame({c: [] for c in COLUMNS[table]})
    return out


def portfolio_from_files(
    source: str | Path | Iterable[str | Path],
    *,
    date_format: str | None = None,
    **overrides: Any,
) -> Portfolio:
    """Read a portfolio from CSV files (``people.csv``, ``skills.csv``, ``projects.csv``,
    ``tasks.csv`` required; ``settings.csv``, ``holidays.csv``, ``time_off.csv``,
    ``reduced_capacity.csv``, ``requirements.csv`` optional) in a directory or given as paths,
    or from one Excel workbook with sheets of those names (file and sheet names match ignoring
    case). ``overrides``: ``name``, ``calendar``, ``policy``, ``as_of`` (needed when there is
    no ``settings`` table).

    Dates are ``YYYY-MM-DD`` text or Excel date cells; ``date_format`` (a
    :meth:`~datetime.datetime.strptime` format such as ``"%d/%m/%Y"``) also reads text dates
    written that way. Percentages (``100%``, ``50 %``, a cell formatted as a percentage) are
    read in the ``allocation`` and ``percent`` columns. See ``docs/TABLES.md``.

    Errors name the table, the spreadsheet row and the column (:class:`FrameError`).
    """
    tables = read_tables(source)
    missing = [t for t in REQUIRED_TABLES if t not in tables]
    if missing:
        raise FrameError(
            [FrameProblem(str(source), None, None, f"missing table {t!r}") for t in missing]
        )
    return portfolio_from_tables(tables, date_format=date_format, **overrides)


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
