"""DataFrames in and out (allocator.frames): exact round trips, files, located errors, and plan
tables that agree with the independent checker."""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import math
import re
from datetime import date
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from allocator import frames as frames_module
from allocator import load_portfolio
from allocator.checker import check
from allocator.contract import portfolio_to_dict
from allocator.domain import Plan, Portfolio
from allocator.engine import SolveParams, solve
from allocator.errors import PortfolioError
from allocator.frames import (
    COLUMNS,
    TABLES,
    FrameError,
    ProgressRecorder,
    assignments_frame,
    demand_capacity_frame,
    kpi_diff,
    kpi_frames,
    kpi_summary,
    portfolio_from_files,
    portfolio_from_frames,
    portfolio_from_tables,
    portfolio_to_files,
    portfolio_to_frames,
    unassigned_frame,
    utilization_frame,
)
from allocator.generator import generate
from allocator.table_schema import SCHEMA
from allocator.timeline import Timeline, capacity

EXAMPLE = Path(str(files("allocator") / "data" / "example-portfolio.json"))
PARAMS = SolveParams(time_limit=2, workers=1, seed=0)


@pytest.fixture(scope="module")
def example() -> Portfolio:
    return load_portfolio(EXAMPLE)


@pytest.fixture(scope="module")
def late_example(example: Portfolio) -> Portfolio:
    """The example with the CRM deadline pulled to 2027-02-05: its chain cannot make it."""
    crm = example.project_by_id["crm"]
    projects = tuple(
        dataclasses.replace(p, deadline=date(2027, 2, 5)) if p.id == "crm" else p
        for p in example.projects
    )
    assert crm.deadline == date(2027, 3, 12)
    return dataclasses.replace(example, projects=projects)


@pytest.fixture(scope="module")
def late_plan(late_example: Portfolio) -> Plan:
    return solve(late_example, PARAMS).plan


@pytest.fixture(scope="module")
def generated() -> tuple[Portfolio, Plan]:
    """25 people, 6 projects, tight: some work stays unassigned."""
    p = generate(25, 6, seed=11, tightness=1.3, team_task_share=0.2)
    return p, solve(p, PARAMS).plan


def assert_tables_equal(a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame]) -> None:
    assert list(a) == list(b) == list(TABLES)
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name], check_exact=True, obj=name)


# ---------------------------------------------------------------------------------------------
# Round trips
# ---------------------------------------------------------------------------------------------
@settings(deadline=None, max_examples=30)
@given(
    people=st.integers(1, 12),
    projects=st.integers(0, 5),
    seed=st.integers(0, 10_000),
    team_share=st.sampled_from([0.0, 0.3]),
    pin_share=st.sampled_from([0.0, 0.3]),
    hard=st.booleans(),
)
def test_round_trip_is_exact(
    people: int, projects: int, seed: int, team_share: float, pin_share: float, hard: bool
) -> None:
    """DataFrame -> portfolio -> DataFrame is the identity, and so is the other way round."""
    p = generate(
        people,
        projects,
        seed=seed,
        tasks_per_project=(1, 5),
        team_task_share=team_share,
        pin_share=pin_share,
        hard_deadlines=hard,
    )
    frames = portfolio_to_frames(p)
    back = portfolio_from_tables(frames)
    assert back == p
    assert portfolio_to_dict(back) == portfolio_to_dict(p)
    assert_tables_equal(portfolio_to_frames(back), frames)


@settings(deadline=None, max_examples=30)
@given(seed=st.integers(0, 10_000), shuffle_seed=st.integers(0, 1000))
def test_missing_optional_columns_mean_not_given(seed: int, shuffle_seed: int) -> None:
    """Dropping optional columns that hold nothing and reordering columns change nothing."""
    p = generate(6, 3, seed=seed, tasks_per_project=(1, 4), team_task_share=0.3)
    frames = portfolio_to_frames(p)
    rng = np.random.default_rng(shuffle_seed)
    slim = {}
    for name, df in frames.items():
        keep = [c for c in df.columns if df[c].notna().any() or c in ("id", "person", "task")]
        slim[name] = df[list(rng.permutation(keep))]
    assert portfolio_from_tables(slim) == p


def _every_field() -> dict[str, Any]:
    """A small portfolio using every contract field the tables carry."""
    return {
        "format": "allocator.portfolio/v1",
        "name": "all-fields",
        "calendar": {
            "start": "2027-01-04",
            "end": "2027-02-26",
            "workdays": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat"],
            "holidays": ["2027-01-06", "2027-02-01"],
        },
        "as_of": "2027-01-05",
        "policy": {"objective": "portfolio", "hard_deadlines": False},
        "people": [
            {
                "id": "ann",
                "name": "Ann",
                "skills": {"py": 4, "qa": 2},
                "hours_per_day": 7.5,
                "cost_per_hour": 80.25,
                "workdays": ["Mon", "Tue", "Wed"],
                "available_from": "2027-01-04",
                "available_until": "2027-02-20",
                "time_off": [
                    {"start": "2027-01-11", "end": "2027-01-12"},
                    {"start": "2027-02-08", "end": "2027-02-09"},
                ],
                "reduced_capacity": [{"start": "2027-01-18", "end": "2027-01-29", "percent": 60}],
                "team": "core",
            },
            {"id": "bob", "skills": {"qa": 4, "py": 1}},
            {"id": "cy", "skills": {}},
        ],
        "projects": [
            {
                "id": "P",
                "name": "Project P",
                "priority": 2,
                "start_after": "2027-01-05",
                "deadline": "2027-02-19",
                "tasks": [
                    {
                        "id": "a",
                        "name": "first",
                        "skill": "py",
                        "min_level": 3,
                        "effort_hours": 12.5,
                        "allocation": 50,
                        "earliest_start": "2027-01-07",
                        "deadline": "2027-02-12",
                        "priority": 3,
                        "exclude": ["bob"],
                        "prefer": ["ann"],
                        "pinned": {"person": "ann"},
                        "status": "in_progress",
                        "progress": {"people": ["ann"], "remaining_hours": 6},
                    },
                    {
                        "id": "wait",
                        "requirements": [],
                        "duration_days": 2,
                        "predecessors": ["a"],
                    },
                    {
                        "id": "team",
                        "requirements": [
                            {"skill": "py", "min_level": 1, "count": 1},
                            {"skill": "qa"},
                        ],
                        "duration_days": 3,
                        "predecessors": ["wait", "old"],
                        "pinned": {"start": "2027-01-20"},
                    },
                ],
            },
            {
                "id": "Q",
                "tasks": [
                    {"id": "old", "skill": "qa", "duration_days": 1, "status": "done"},
                    {"id": "gone", "skill": "qa", "effort_hours": 8, "status": "cancelled"},
                    {
                        "id": "wip",
                        "skill": "qa",
                        "duration_days": 4,
                        "status": "in_progress",
                        "progress": {"people": ["bob"], "remaining_days": 2},
                    },
                ],
            },
        ],
    }


def test_every_field_round_trips() -> None:
    p = load_portfolio(_every_field())
    frames = portfolio_to_frames(p)
    assert portfolio_from_tables(frames) == p
    assert_tables_equal(portfolio_to_frames(portfolio_from_tables(frames)), frames)
    req = frames["requirements"]
    assert req[req["task"] == "wait"]["skill"].isna().all()  # the "needs nobody" marker
    assert frames["tasks"].set_index("id").loc["a", "progress_people"] == "ann"


def test_output_dtypes(example: Portfolio) -> None:
    frames = portfolio_to_frames(example)
    tasks, people = frames["tasks"], frames["people"]
    assert tasks["id"].dtype == "string" and tasks["project"].dtype == "string"
    assert tasks["min_level"].dtype == "Int64" and tasks["effort_hours"].dtype == "float64"
    assert tasks["deadline"].dtype == "datetime64[ns]"
    assert people["available_from"].dtype == "datetime64[ns]"
    assert frames["skills"]["level"].dtype == "Int64"
    assert list(tasks.columns) == list(COLUMNS["tasks"])
    empty = portfolio_to_frames(dataclasses.replace(example, people=()))["time_off"]
    assert list(empty.columns) == ["person", "start", "end"] and len(empty) == 0
    assert empty["start"].dtype == "datetime64[ns]"


def test_cells_are_read_leniently() -> None:
    """Lists as strings (comma or semicolon) or lists, numeric ids, dates as timestamps, NaN."""
    people = pd.DataFrame(
        {
            "id": [101, 102],
            "hours_per_day": [np.nan, 6.0],
            "workdays": [None, ["Mon", "Tue"]],
            "available_from": [pd.Timestamp("2027-01-11"), pd.NaT],
        }
    )
    skills = pd.DataFrame({"person": [101, 102], "skill": ["py", "py"], "level": [3.0, 2.0]})
    projects = pd.DataFrame({"id": ["P"], "deadline": [date(2027, 1, 29)]})
    tasks = pd.DataFrame(
        {
            "id": ["a", "b", "c"],
            "project": ["P", "P", "P"],
            "skill": ["py", "py", "py"],
            "effort_hours": [8, 16.0, "24"],
            "predecessors": [None, "a", "a; b"],
            "exclude": [np.nan, [101], ""],
        }
    )
    p = portfolio_from_frames(
        people,
        skills,
        projects,
        tasks,
        calendar={"start": "2027-01-04", "end": date(2027, 2, 26)},
        name="lenient",
    )
    ann, bob = p.people
    assert (ann.id, ann.hours_per_day, ann.workdays, ann.available_from) == (
        "101",
        None,
        None,
        date(2027, 1, 11),
    )
    assert (bob.hours_per_day, bob.workdays, bob.skills["py"]) == (6, ("Mon", "Tue"), 2)
    a, b, c = p.projects[0].tasks
    assert (a.predecessors, b.predecessors, c.predecessors) == ((), ("a",), ("a", "b"))
    assert (a.exclude, b.exclude, c.exclude) == ((), ("101",), ())
    assert (a.effort_hours, c.effort_hours) == (8, 24)
    assert p.projects[0].deadline == date(2027, 1, 29)


# ---------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------
EXAMPLE_CSV = {
    "settings.csv": "name,start,end,objective\nexample-q1,2027-01-04,2027-03-26,portfolio\n",
    "holidays.csv": "date,name\n2027-02-15,Company day\n",
    "people.csv": """id,name,hours_per_day,cost_per_hour,workdays,available_from,team
ana,Ana Silva,,95,,,data
ben,Ben Okafor,,70,,,web
chen,Chen Wei,4,85,"Mon,Tue,Wed,Thu",,web
dara,Dara Novak,,60,,,quality
eli,Eli Haddad,,80,,2027-01-18,data
fay,Fay Moreau,,90,,,pmo
""",
    "skills.csv": """person,skill,level
ana,python,5
ana,sql,4
ana,data-eng,3
ben,python,3
ben,frontend,4
chen,ux,5
chen,frontend,3
dara,qa,4
dara,python,2
eli,sql,3
eli,data-eng,4
eli,devops,3
fay,pm,4
fay,analysis,4
""",
    "time_off.csv": "person,start,end\nben,2027-02-01,2027-02-05\n",
    "reduced_capacity.csv": "person,start,end,percent\nfay,2027-02-01,2027-02-26,50\n",
    "projects.csv": """id,name,priority,start_after,deadline
crm,CRM migration,3,,2027-03-12
portal,Customer portal refresh,2,2027-01-11,2027-03-26
ops,Platform hardening,1,,
""",
    "tasks.csv": """id,project,name,skill,min_level,effort_hours,duration_days,allocation,predecessors,deadline,exclude,prefer,pinned_person,pinned_start
crm-scope,crm,Scope and requirements,analysis,3,40,,,,,,,,
crm-schema,crm,Target schema,sql,4,48,,,crm-scope,,,,,
crm-etl,crm,ETL pipelines,data-eng,3,120,,,crm-schema,,,eli,,
crm-test,crm,Migration tests,qa,3,60,,,crm-etl,,,,,
crm-cutover,crm,Cutover rehearsal,,,,2,,crm-test,2027-03-05,,,,
portal-ux,portal,UX research and mock-ups,ux,4,60,,,,,,,,
portal-ui,portal,Front-end build,frontend,3,160,,,portal-ux,,,,,
portal-api,portal,Customer data API,python,3,80,,,crm-schema,,ben,,,
portal-qa,portal,Acceptance testing,qa,2,40,,50,"portal-ui; portal-api",,,,,
ops-ci,ops,CI pipeline upgrade,devops,2,32,,50,,,,,,
ops-audit,ops,Access audit,sql,2,24,,,,,,,eli,2027-01-18
ops-report,ops,Quarterly PMO report,pm,3,16,,,,2027-01-29,,,,
""",
    "requirements.csv": "task,skill,min_level,count\ncrm-cutover,data-eng,3,1\ncrm-cutover,qa,,1\n",
}


def write_csvs(directory: Path, files_: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files_.items():
        (directory / name).write_text(text, encoding="utf-8")
    return directory


def test_hand_written_csv_files_equal_the_json_example(tmp_path: Path, example: Portfolio) -> None:
    d = write_csvs(tmp_path / "csv", EXAMPLE_CSV)
    assert portfolio_from_files(d) == example
    # the same files given as a list of paths
    assert portfolio_from_files(sorted(d.glob("*.csv"))) == example


def test_written_files_read_back(tmp_path: Path, example: Portfolio) -> None:
    everything = load_portfolio(_every_field())
    for p in (example, everything):
        csv_dir = portfolio_to_files(p, tmp_path / f"{p.name}-csv")
        assert portfolio_from_files(csv_dir) == p
        xlsx = portfolio_to_files(p, tmp_path / f"{p.name}.xlsx")
        assert portfolio_from_files(xlsx) == p


def test_excel_workbook_with_native_cells_equals_the_json_example(
    tmp_path: Path, example: Portfolio
) -> None:
    """A workbook typed by hand: numbers as numbers, dates as Excel dates, blanks as blanks."""
    path = tmp_path / "portfolio.xlsx"
    with pd.ExcelWriter(path) as xl:
        for name, text in EXAMPLE_CSV.items():
            df = pd.read_csv(pd.io.common.StringIO(text))
            for c in df.columns:
                if c in ("start", "end", "date", "deadline", "start_after", "available_from"):
                    df[c] = pd.to_datetime(df[c])
                if c == "pinned_start":
                    df[c] = pd.to_datetime(df[c])
            df.to_excel(xl, sheet_name=name.removesuffix(".csv"), index=False)
    assert portfolio_from_files(path) == example


def test_csv_errors_name_the_spreadsheet_row(tmp_path: Path) -> None:
    bad = dict(EXAMPLE_CSV)
    bad["tasks.csv"] = EXAMPLE_CSV["tasks.csv"].replace(
        "crm-scope,crm,Scope and requirements,analysis,3,", "crm-scope,crm,Scope,analysis,7,"
    )
    bad["skills.csv"] = EXAMPLE_CSV["skills.csv"] + "zoe,python,3\n"
    with pytest.raises(FrameError) as info:
        portfolio_from_files(write_csvs(tmp_path / "bad", bad))
    text = str(info.value)
    # the first data row of a file is row 2 (row 1 is the header), as in a spreadsheet
    assert "tasks row 2 (id crm-scope), column min_level: must be 1..5, got 7" in text
    assert "skills row 16 (person zoe), column person: unknown person 'zoe'" in text
    assert len(info.value.problems) == 2


def test_missing_files_are_named(tmp_path: Path) -> None:
    partial = {k: v for k, v in EXAMPLE_CSV.items() if k != "tasks.csv"}
    with pytest.raises(FrameError, match="missing table 'tasks'"):
        portfolio_from_files(write_csvs(tmp_path / "partial", partial))


# ---------------------------------------------------------------------------------------------
# Errors: located at table, row, column; the same validation as JSON
# ---------------------------------------------------------------------------------------------
def test_bad_cells_name_table_row_and_column(example: Portfolio) -> None:
    frames = portfolio_to_frames(example)
    tasks = frames["tasks"].set_axis(range(10, 10 + len(frames["tasks"])), axis=0)  # labels
    tasks.loc[12, "min_level"] = 7  # crm-etl
    tasks = tasks.astype({"deadline": object})
    tasks.loc[13, "deadline"] = "2027-13-01"  # crm-test
    tasks.loc[11, "predecessors"] = "crm-scope, nope"  # crm-schema
    tasks.loc[19, "project"] = "nowhere"  # ops-ci
    people = frames["people"].astype({"hours_per_day": object})
    people.loc[1, "hours_per_day"] = "lots"
    skills = frames["skills"].copy()
    skills.loc[3, "level"] = 0
    reqs = frames["requirements"].copy()
    reqs.loc[1, "count"] = 0
    with pytest.raises(FrameError) as info:
        portfolio_from_tables(
            {**frames, "tasks": tasks, "people": people, "skills": skills, "requirements": reqs}
        )
    err = info.value
    found = {(p.table, p.row, p.column) for p in err.problems}
    assert found == {
        ("tasks", 12, "min_level"),
        ("tasks", 13, "deadline"),
        ("tasks", 11, "predecessors"),
        ("tasks", 19, "project"),
        ("people", 1, "hours_per_day"),
        ("skills", 3, "level"),
        ("requirements", 1, "count"),
    }
    text = str(err)
    assert "tasks row 12 (id crm-etl), column min_level: must be 1..5, got 7" in text
    assert "tasks row 13 (id crm-test), column deadline: not a calendar date: '2027-13-01'" in text
    assert "tasks row 11 (id crm-schema), column predecessors: unknown predecessor 'nope'" in text
    assert "tasks row 19 (id ops-ci), column project: unknown project 'nowhere'" in text
    assert "people row 1 (id ben), column hours_per_day: must be a number" in text
    assert "skills row 3 (person ben), column level" in text
    assert "requirements row 1 (task crm-cutover), column count" in text
    assert isinstance(err, PortfolioError)  # callers catching the JSON error catch this too


def test_same_validation_as_json(example: Portfolio) -> None:
    """The same bad values in a JSON document and in the tables give the same JSON paths."""
    doc = json.loads(EXAMPLE.read_text())
    bad = copy.deepcopy(doc)
    bad["people"][1]["hours_per_day"] = 30
    bad["people"][5]["reduced_capacity"][0]["percent"] = 150
    bad["projects"][0]["tasks"][2]["min_level"] = 7
    bad["projects"][0]["tasks"][3]["predecessors"] = ["crm-etl", "crm-test"]  # a cycle
    bad["projects"][2]["tasks"][1]["pinned"]["start"] = "2027-01-16"  # a Saturday
    bad["projects"][1]["priority"] = 0
    with pytest.raises(PortfolioError) as json_err:
        load_portfolio(bad)

    frames = portfolio_to_frames(example)
    people = frames["people"].copy()
    people.loc[1, "hours_per_day"] = 30
    reduced = frames["reduced_capacity"].copy()
    reduced.loc[0, "percent"] = 150
    tasks = frames["tasks"].copy()
    tasks.loc[2, "min_level"] = 7
    tasks.loc[3, "predecessors"] = "crm-etl,crm-test"
    tasks.loc[10, "pinned_start"] = pd.Timestamp("2027-01-16")
    projects = frames["projects"].copy()
    projects.loc[1, "priority"] = 0
    changed = {"people": people, "reduced_capacity": reduced, "tasks": tasks, "projects": projects}
    with pytest.raises(FrameError) as frame_err:
        portfolio_from_tables({**frames, **changed})
    assert sorted(p.path for p in frame_err.value.problems) == sorted(
        i.path for i in json_err.value.issues
    )
    assert len(json_err.value.issues) == 6


def test_structural_gaps_are_reported_together() -> None:
    people = pd.DataFrame({"name": ["no id"]})
    skills = pd.DataFrame({"person": ["x"], "skill": ["py"]})  # no level column
    projects = pd.DataFrame({"id": ["P"]})
    tasks = pd.DataFrame({"id": ["t"], "project": ["P"], "skill": ["py"], "effort_hours": [8]})
    with pytest.raises(FrameError) as info:
        portfolio_from_frames(people, skills, projects, tasks)
    text = str(info.value)
    assert "people, column id: missing required column 'id'" in text
    assert "skills, column level: missing required column 'level'" in text
    assert "settings, column name" in text
    assert "settings, column start: missing required field 'start'" in text


def test_duplicate_ids_are_named_by_row(example: Portfolio) -> None:
    frames = portfolio_to_frames(example)
    tasks = frames["tasks"].copy()
    tasks.loc[4, "id"] = "crm-test"
    with pytest.raises(FrameError) as info:
        portfolio_from_tables({**frames, "tasks": tasks})
    assert any(
        p.table == "tasks" and p.row == 4 and "tasks row 3 (id crm-test)" in p.message
        for p in info.value.problems
    ), str(info.value)


def test_unknown_columns_warn(example: Portfolio, caplog: pytest.LogCaptureFixture) -> None:
    frames = portfolio_to_frames(example)
    tasks = frames["tasks"].assign(min_levle=3)
    with caplog.at_level(logging.WARNING, logger="allocator.frames"):
        assert portfolio_from_tables({**frames, "tasks": tasks}) == example
    assert "tasks, column min_levle: unknown column 'min_levle' (ignored)" in caplog.text


def test_arguments_override_the_settings_table(example: Portfolio) -> None:
    frames = portfolio_to_frames(example)
    p = portfolio_from_tables(frames, name="renamed", policy={"hard_deadlines": True})
    assert p.name == "renamed" and p.policy.hard_deadlines is True
    with pytest.raises(FrameError, match="argument calendar, key end"):
        portfolio_from_tables(frames, calendar={"start": "2027-01-04", "end": "2027-31-01"})


# ---------------------------------------------------------------------------------------------
# Plans as tables, against the checker
# ---------------------------------------------------------------------------------------------
def _check_plan_tables(portfolio: Portfolio, plan: Plan) -> None:
    result = check(portfolio, plan)
    assert result.valid, result.violations
    k = result.kpis
    asg = assignments_frame(portfolio, plan)
    assert len(asg) == sum(max(1, len(a.people)) for a in plan.assignments)
    assert asg["hours"].sum() == pytest.approx(k.total_hours)
    assert asg["cost"].sum() == pytest.approx(k.total_cost)
    per_task = asg.drop_duplicates("task")
    assert int(per_task["late"].sum()) == k.late_tasks
    assert int((per_task["priority"] * per_task["late_days"]).sum()) == k.weighted_late_days
    assert asg["start"].dtype == "datetime64[ns]" and asg["person"].dtype == "string"
    # the skill each person brings is one they have, at the level
    for row in asg.dropna(subset=["person"]).itertuples():
        assert portfolio.person_by_id[row.person].level(row.skill) >= 1

    un = unassigned_frame(portfolio, plan)
    assert list(un["task"]) == [u.task for u in plan.unassigned]
    assert un["work_hours"].sum() == pytest.approx(k.undelivered_work_hours_unweighted)
    assert (un["work_hours"] * un["priority"]).sum() == pytest.approx(k.undelivered_work_hours)

    kf = kpi_frames(portfolio, plan)
    assert set(kf) == {"person", "team", "skill", "week"}
    person = kf["person"].set_index("person")
    for pid, u in k.utilization_by_person.items():
        assert person.loc[pid, "utilization"] == pytest.approx(u)
    for name in ("person", "team", "skill", "week"):
        assert kf[name]["hours"].sum() == pytest.approx(k.total_hours), name
        assert kf[name]["cost"].sum() == pytest.approx(k.total_cost), name
    total_capacity = person["capacity_hours"].sum()
    assert kf["week"]["capacity_hours"].sum() == pytest.approx(total_capacity)
    assert kf["team"]["capacity_hours"].sum() == pytest.approx(total_capacity)
    assert k.utilization == pytest.approx(k.total_hours / total_capacity)
    assert kf["week"]["late_tasks"].sum() == k.late_tasks
    assert kf["skill"]["unassigned_hours"].sum() >= 0

    s = kpi_summary(portfolio, plan)
    assert s["total_hours"] == pytest.approx(k.total_hours)
    assert s["late_tasks"] == k.late_tasks and s["unassigned"] == k.unassigned

    u = utilization_frame(portfolio, plan)
    assert u["hours"].sum() == pytest.approx(k.total_hours)


def test_plan_tables_agree_with_the_checker_on_the_example(example: Portfolio) -> None:
    _check_plan_tables(example, solve(example, PARAMS).plan)


def test_plan_tables_agree_with_the_checker_with_late_work(
    late_example: Portfolio, late_plan: Plan
) -> None:
    assert check(late_example, late_plan).kpis.late_tasks > 0
    _check_plan_tables(late_example, late_plan)


def test_plan_tables_agree_with_the_checker_on_a_generated_portfolio(
    generated: tuple[Portfolio, Plan],
) -> None:
    portfolio, plan = generated
    assert plan.unassigned  # tight: the unassigned table is exercised
    _check_plan_tables(portfolio, plan)
    assert unassigned_frame(portfolio, plan)["reasons"].str.len().min() > 0


def test_kpi_diff(example: Portfolio, late_example: Portfolio, late_plan: Plan) -> None:
    before = kpi_summary(example, solve(example, PARAMS).plan)
    after = kpi_summary(late_example, late_plan)
    diff = kpi_diff(before, after)
    assert list(diff.columns) == ["before", "after", "change"]
    assert diff.loc["late_tasks", "change"] == after["late_tasks"] - before["late_tasks"] > 0


# ---------------------------------------------------------------------------------------------
# Demand against capacity
# ---------------------------------------------------------------------------------------------
def _capacity_hours(portfolio: Portfolio, skill: str) -> float:
    tl = Timeline.of(portfolio)
    return sum(
        sum(capacity(portfolio, tl, p)) / 100.0 * p.day_hours
        for p in portfolio.people
        if p.level(skill) >= 1
    )


def test_demand_capacity_without_a_plan(example: Portfolio) -> None:
    dc = demand_capacity_frame(example)
    assert dc["period"].dtype == "datetime64[ns]" and dc["skill"].dtype == "string"
    assert (dc["planned_hours"] == 0).all()
    totals = dc.groupby("skill")[["demand_hours", "capacity_hours"]].sum()
    work: dict[str, float] = {}
    for t in example.tasks_to_plan:
        places = t.places
        for pl in places:
            each = (
                t.effort_hours
                if t.effort_hours is not None
                else example.task_work_hours(t) / len(places)
            )
            work[pl.skill] = work.get(pl.skill, 0.0) + float(each)
    for skill, hours in work.items():
        assert totals.loc[skill, "demand_hours"] == pytest.approx(hours), skill
    # a multi-skilled person counts in full under each skill
    for skill in ("python", "sql", "qa"):
        assert totals.loc[skill, "capacity_hours"] == pytest.approx(_capacity_hours(example, skill))
    # 12 Mon-Sun weeks from 2027-01-04 to 2027-03-26
    assert dc["period"].nunique() == 12
    assert (dc["period"].dt.day_of_week == 0).all()
    # the analysis work (crm-scope, no own deadline) is spread up to the crm deadline only
    analysis = dc[dc["skill"] == "analysis"].set_index("period")["demand_hours"]
    assert analysis.loc[pd.Timestamp("2027-03-15")] == 0
    assert analysis.loc[pd.Timestamp("2027-03-08")] > 0


def test_demand_capacity_with_a_plan(generated: tuple[Portfolio, Plan]) -> None:
    portfolio, plan = generated
    k = check(portfolio, plan).kpis
    dc = demand_capacity_frame(portfolio, plan, freq="M")
    assert dc["planned_hours"].sum() == pytest.approx(k.total_hours)
    assert dc["unplanned_hours"].sum() == pytest.approx(k.undelivered_work_hours_unweighted)
    assert np.allclose(dc["demand_hours"], dc["planned_hours"] + dc["unplanned_hours"])
    ok = dc["capacity_hours"] > 0
    assert np.allclose(
        dc.loc[ok, "load"], dc.loc[ok, "demand_hours"] / dc.loc[ok, "capacity_hours"]
    )
    assert dc.loc[~ok, "load"].isna().all()
    assert (dc["period"].dt.day == 1).all()


def test_progress_recorder(example: Portfolio) -> None:
    rec = ProgressRecorder()
    plan = solve(example, SolveParams(time_limit=2, workers=1, seed=0, on_progress=rec)).plan
    df = rec.frame()
    assert len(rec) == len(df) > 0
    names = ["undelivered_work_hours", "weighted_late_days", "weighted_finish_days", "cost"]
    assert rec.terms() == names
    assert list(df.columns) == [
        *("stage", "term", "elapsed", "gap"),
        *(c for n in names for c in (n, f"{n}_bound")),
    ]
    assert df["elapsed"].is_monotonic_increasing
    # the last row is the plan's figures, in planner units (hours, days, money)
    done = df.iloc[-1]
    assert done["stage"] == "done" and pd.isna(done["term"])
    assert plan.objective is not None and plan.lower_bound is not None
    assert {n: done[n] for n in names} == pytest.approx(dict(plan.objective))
    for n in names:
        bound = plan.lower_bound.get(n)
        assert math.isnan(done[f"{n}_bound"]) if bound is None else done[f"{n}_bound"] == bound
    assert done["gap"] == plan.gap or (plan.gap is None and math.isnan(done["gap"]))
    # a CP-SAT stage reports its own term alone, its bound at most its value (the pins
    # stage optimizes no term: no figures)
    cp = df[df["stage"].str.startswith("cp-sat:") & (df["stage"] != "cp-sat:pins")]
    assert len(cp) and set(cp["term"]) <= set(names)
    assert df.loc[df["stage"] == "cp-sat:pins", names].isna().all(axis=None)
    for _, row in cp.iterrows():
        t = row["term"]
        assert row[f"{t}_bound"] <= row[t]
        assert all(math.isnan(row[n]) for n in names if n != t)


def test_the_documented_columns_are_the_tables_columns() -> None:
    """The table of columns in :mod:`allocator.frames`' docstring is written by hand; the
    columns come from the field table: a field added to a record must be documented there,
    required columns in bold."""
    doc = frames_module.__doc__ or ""
    section = doc[doc.index("=====") : doc.index("Lists (")]
    rows: dict[str, str] = {}
    current = ""
    for line in section.splitlines():
        m = re.match(r"^``(\w+)``\s+(.*)$", line)
        if m:
            current = m.group(1)
            rows[current] = m.group(2)
        elif current and line.startswith(" "):
            rows[current] += " " + line.strip()
    assert list(rows) == list(COLUMNS)
    for table, text in rows.items():
        cut = text.split("(or pass")[0]  # the settings row names keywords after its columns
        listed: dict[str, bool] = {}  # column -> in bold (required), at its first mention
        for a, b in re.findall(r"``(\w+)``|\*\*(\w+)\*\*", cut):
            listed.setdefault(a or b, bool(b))
        expected = [(c.name, c.required) for c in SCHEMA[table]]
        assert [(c, r) for c, r in listed.items() if c in COLUMNS[table]] == expected, table
