"""Files: the tables of :mod:`allocator.frames` as CSV files or one Excel workbook, both ways."""

from __future__ import annotations

import logging
from collections.abc import Iterable
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
    missing = [t for t in REQUIRED_TABLES if t not in tables]
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
