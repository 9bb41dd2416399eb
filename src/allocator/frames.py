"""DataFrames in and out: the portfolio as the tidy tables a PMO keeps, plans as tables.

**In.** :func:`portfolio_from_frames` builds a :class:`~allocator.domain.Portfolio` from these
tables (one :class:`pandas.DataFrame` each; column order is free, optional columns may be left
out, and a missing cell -- ``NaN``, ``None``, ``NaT``, ``<NA>`` -- means "not given"):

=================== ==============================================================================
table               columns (**required**)
=================== ==============================================================================
``settings``        one row: ``name``, ``start``, ``end``, ``workdays``, ``as_of``, ``objective``,
                    ``hard_deadlines``, ``freeze_days``, ``churn_budget``, ``stability`` (or
                    pass ``name=``, ``calendar=``, ``policy=``, ``as_of=``)
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

The work is split by job, and this module re-exports it: :mod:`allocator.table_schema` (the
tables, their columns, :class:`FrameError`), :mod:`allocator.tables_in`,
:mod:`allocator.tables_out`, :mod:`allocator.files`, :mod:`allocator.analytics` (plans as tables
and KPIs, on one :class:`~allocator.analytics.PlanView`) and :mod:`allocator.progress`.

Limits of the tabular form: an empty ``workdays`` list can be held in a DataFrame (``""``) but
not in a CSV file (an empty cell is "not given"); ids containing ``,`` or ``;`` cannot appear in
list cells.
"""

from __future__ import annotations

from allocator.analytics import (
    PlanView,
    assignments_frame,
    demand_capacity_frame,
    kpi_diff,
    kpi_frames,
    kpi_summary,
    unassigned_frame,
    utilization_frame,
)
from allocator.files import portfolio_from_files, portfolio_to_files, read_tables
from allocator.progress import ProgressRecorder
from allocator.table_schema import COLUMNS, SCHEMA, TABLES, FrameError, FrameProblem
from allocator.tables_in import portfolio_from_frames, portfolio_from_tables
from allocator.tables_out import portfolio_to_frames

__all__ = [
    "COLUMNS",
    "SCHEMA",
    "TABLES",
    "FrameError",
    "FrameProblem",
    "PlanView",
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
    "read_tables",
    "unassigned_frame",
    "utilization_frame",
]
