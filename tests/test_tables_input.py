"""Spreadsheet-friendly input (#14 item 5): sheet and file names ignoring case, percentages,
Excel date cells and explicit date formats, the documented columns and the example folder, a
short portfolio repr, a table warning printed once per command."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest

from allocator import load_portfolio
from allocator.cli import example_path
from allocator.domain import Portfolio
from allocator.frames import FrameError, portfolio_from_files, portfolio_to_files
from allocator.table_schema import COLUMNS_DOC_BEGIN as BEGIN
from allocator.table_schema import COLUMNS_DOC_END as END
from allocator.table_schema import PERCENT_COLUMNS, SCHEMA, columns_markdown

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def example() -> Portfolio:
    return load_portfolio(example_path())


@pytest.fixture
def folder(tmp_path: Path, example: Portfolio) -> Path:
    """The example as CSV files, as ``portfolio_to_files`` writes them."""
    return portfolio_to_files(example, tmp_path / "q1")


def _edit_csv(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# 1. names ignoring case
# ---------------------------------------------------------------------------------------------
def test_sheet_names_match_ignoring_case(tmp_path: Path, example: Portfolio) -> None:
    xlsx = portfolio_to_files(example, tmp_path / "q1.xlsx")
    book = openpyxl.load_workbook(xlsx)
    for ws in book.worksheets:  # People, Tasks, Reduced_Capacity ...
        title = ws.title
        ws.title = "tmp"  # openpyxl keeps titles unique ignoring case, as Excel does
        ws.title = title.title()
    book.save(xlsx)
    assert "People" in openpyxl.load_workbook(xlsx).sheetnames
    assert portfolio_from_files(xlsx) == example


def test_csv_file_names_match_ignoring_case(folder: Path, example: Portfolio) -> None:
    (folder / "people.csv").rename(folder / "People.csv")
    (folder / "tasks.csv").rename(folder / "TASKS.CSV")
    assert portfolio_from_files(folder) == example
    assert portfolio_from_files(sorted(folder.iterdir())) == example  # as a list of paths


def test_two_csv_files_for_one_table_are_named(folder: Path) -> None:
    """(Excel itself refuses two sheets whose names differ only by case; files can.)"""
    (folder / "People.csv").write_bytes((folder / "people.csv").read_bytes())
    with pytest.raises(FrameError, match=r"'People\.csv' and 'people\.csv'"):
        portfolio_from_files(folder)


def test_a_column_twice_in_a_sheet_is_named(tmp_path: Path, example: Portfolio) -> None:
    xlsx = portfolio_to_files(example, tmp_path / "q1.xlsx")
    book = openpyxl.load_workbook(xlsx)
    ws = book["skills"]
    ws.cell(1, ws.max_column + 1).value = "level"
    book.save(xlsx)
    with pytest.raises(FrameError, match="skills row 1, column level: column 'level' given twice"):
        portfolio_from_files(xlsx)


# ---------------------------------------------------------------------------------------------
# 2. percentages
# ---------------------------------------------------------------------------------------------
def test_percent_columns_are_in_the_schema() -> None:
    for table, column in PERCENT_COLUMNS:
        assert column in {c.name for c in SCHEMA[table]}


@pytest.mark.parametrize("cell", ["50%", "50 %", '"50%"', " 50% ", "50.0%"])
def test_percent_text_is_read_in_csv(folder: Path, example: Portfolio, cell: str) -> None:
    """The example's allocations and reduced capacity are 50: typed as a percentage, the
    portfolio read is the same."""
    _edit_csv(
        folder / "tasks.csv",
        "portal-qa,portal,Acceptance testing,qa,2,40.0,,50,",
        f"portal-qa,portal,Acceptance testing,qa,2,40.0,,{cell},",
    )
    _edit_csv(folder / "reduced_capacity.csv", ",50.0\n", f",{cell}\n")
    assert portfolio_from_files(folder) == example
    _edit_csv(
        folder / "tasks.csv",
        "ops-ci,ops,CI pipeline upgrade,devops,2,32.0,,50,",
        "ops-ci,ops,CI pipeline upgrade,devops,2,32.0,,100%,",
    )
    assert portfolio_from_files(folder).task_by_id["ops-ci"].allocation == 100


def test_other_text_in_a_percent_column_is_located(folder: Path) -> None:
    _edit_csv(
        folder / "tasks.csv",
        "Acceptance testing,qa,2,40.0,,50,",
        "Acceptance testing,qa,2,40.0,,half%,",
    )
    with pytest.raises(FrameError) as info:
        portfolio_from_files(folder)
    (problem,) = info.value.problems
    assert (problem.table, problem.row, problem.column) == ("tasks", 10, "allocation")
    assert "half%" in problem.message


def test_excel_percent_cells(tmp_path: Path, example: Portfolio) -> None:
    """A cell formatted as a percentage holds 0.5 and shows 50%: it is read as 50 (and 100% as
    100, not 1); text ``"100%"`` too."""
    xlsx = portfolio_to_files(example, tmp_path / "q1.xlsx")
    book = openpyxl.load_workbook(xlsx)
    tasks = book["tasks"]
    head = [c.value for c in tasks[1]]
    col = head.index("allocation") + 1
    rows = {tasks.cell(r, 1).value: r for r in range(2, tasks.max_row + 1)}
    qa = tasks.cell(rows["portal-qa"], col)
    qa.value, qa.number_format = 1, "0%"
    ci = tasks.cell(rows["ops-ci"], col)
    ci.value = "100%"
    rc = book["reduced_capacity"]
    pct = rc.cell(2, [c.value for c in rc[1]].index("percent") + 1)
    pct.value, pct.number_format = 0.07, "0.00%"
    book.save(xlsx)
    p = portfolio_from_files(xlsx)
    assert p.task_by_id["portal-qa"].allocation == 100
    assert p.task_by_id["ops-ci"].allocation == 100
    assert p.person_by_id["fay"].reduced_capacity[0].percent == 7


# ---------------------------------------------------------------------------------------------
# 3. dates
# ---------------------------------------------------------------------------------------------
def test_excel_date_cells_are_dates_and_a_time_of_day_is_named(
    tmp_path: Path, example: Portfolio
) -> None:
    xlsx = portfolio_to_files(example, tmp_path / "q1.xlsx")
    book = openpyxl.load_workbook(xlsx)
    projects = book["projects"]
    head = [c.value for c in projects[1]]
    col = head.index("deadline") + 1
    assert isinstance(projects.cell(2, col).value, datetime)  # written as an Excel date cell
    book.save(xlsx)
    assert portfolio_from_files(xlsx) == example
    projects.cell(2, col).value = datetime(2027, 3, 12, 9, 30)
    book.save(xlsx)
    with pytest.raises(FrameError) as info:
        portfolio_from_files(xlsx)
    (problem,) = info.value.problems
    assert (problem.table, problem.row, problem.column) == ("projects", 2, "deadline")
    assert "2027-03-12 09:30:00" in problem.message and "time of day" in problem.message


def test_csv_dates_are_iso_unless_a_format_is_given(folder: Path, example: Portfolio) -> None:
    _edit_csv(folder / "time_off.csv", "2027-02-01,2027-02-05", "01/02/2027,05/02/2027")
    with pytest.raises(FrameError) as info:
        portfolio_from_files(folder)
    problems = info.value.problems
    assert [(p.table, p.row, p.column) for p in problems] == [
        ("time_off", 2, "start"),
        ("time_off", 2, "end"),
    ]
    assert "'01/02/2027'" in problems[0].message and "date_format" in problems[0].message
    # day first, as written: 1 February (not 2 January); the other tables' ISO dates still read
    assert portfolio_from_files(folder, date_format="%d/%m/%Y") == example
    month_first = portfolio_from_files(folder, date_format="%m/%d/%Y")
    (away,) = month_first.person_by_id["ben"].time_off
    assert (away.start, away.end) == (date(2027, 1, 2), date(2027, 5, 2))
    _edit_csv(folder / "time_off.csv", "05/02/2027", "13/02/2027")
    with pytest.raises(FrameError) as info:
        portfolio_from_files(folder, date_format="%m/%d/%Y")
    (problem,) = info.value.problems
    assert (problem.table, problem.row, problem.column) == ("time_off", 2, "end")
    assert problem.message == "must be a date %m/%d/%Y or YYYY-MM-DD, got '13/02/2027'"


# ---------------------------------------------------------------------------------------------
# 4. documented columns, the example folder
# ---------------------------------------------------------------------------------------------
def test_tables_md_lists_the_columns() -> None:
    """docs/TABLES.md's columns are generated from the field table; rewrite them with
    ``python -m allocator.table_schema docs/TABLES.md``."""
    text = (ROOT / "docs" / "TABLES.md").read_text(encoding="utf-8")
    generated = text.split(BEGIN, 1)[1].split(END, 1)[0]
    assert generated.strip() == columns_markdown().strip()
    for table, columns in SCHEMA.items():
        for c in columns:
            assert f"| `{c.name}` | {'yes' if c.required else ''} |" in generated, (table, c)


def test_the_example_folder_is_the_bundled_example(example: Portfolio) -> None:
    assert portfolio_from_files(ROOT / "examples" / "tables") == example


# ---------------------------------------------------------------------------------------------
# 5. repr
# ---------------------------------------------------------------------------------------------
def test_a_portfolio_shows_as_a_summary(example: Portfolio) -> None:
    text = repr(example)
    assert text == (
        "Portfolio('example-q1', as_of=-, calendar=2027-01-04 .. 2027-03-26 "
        "(Mon,Tue,Wed,Thu,Fri, 1 holiday), people=6, projects=3, tasks=12 (12 to plan))"
    )
    html = example._repr_html_()
    assert "<table" in html and "<td style='text-align:left'>12 (12 to plan)</td>" in html
    assert len(html) < 1000
    named = dataclasses.replace(example, name="<b>&")
    assert "&lt;b&gt;&amp;" in named._repr_html_()


# ---------------------------------------------------------------------------------------------
# 6. a table warning once per command, named by its row
# ---------------------------------------------------------------------------------------------
def test_a_table_warning_is_printed_once_per_command(folder: Path, tmp_path: Path) -> None:
    _edit_csv(
        folder / "tasks.csv",
        "crm-test,crm,Migration tests,qa,",
        "crm-test,crm,Migration tests,cobol,",
    )
    warning = "tasks row 5 (id crm-test), column skill: nobody has skill 'cobol'"
    plan = tmp_path / "plan.json"
    cmd = [sys.executable, "-m", "allocator.cli"]
    solved = subprocess.run(
        [*cmd, "solve", str(folder), "-o", str(plan), "--greedy", "-q"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert solved.returncode == 0, solved.stderr
    assert (solved.stdout + solved.stderr).count(warning) == 1
    scenario = tmp_path / "s1.json"
    scenario.write_text(
        json.dumps({"name": "s1", "edits": [{"people": {"ana": {"hours_per_day": 6}}}]})
    )
    s2 = tmp_path / "s2.json"
    s2.write_text(json.dumps({"name": "s2", "edits": [{"people": {"ben": {"hours_per_day": 6}}}]}))
    what_if = subprocess.run(
        [
            *cmd,
            "scenarios",
            str(folder),
            "--plan",
            str(plan),
            str(scenario),
            str(s2),
            "-o",
            str(tmp_path / "out"),
            "--greedy",
            "--workers",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert what_if.returncode == 0, what_if.stderr
    assert (what_if.stdout + what_if.stderr).count(warning) == 1
