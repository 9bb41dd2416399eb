"""The skills view (allocator.skills): demand against capacity per skill and level per month,
shortages first; skills only one person has (bus factor)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from allocator.analytics import demand_capacity_frame
from allocator.cli import example_path, main
from allocator.contract import dump_plan, load_portfolio
from allocator.engine import SolveParams, solve
from allocator.skills import bus_factor_frame, skill_level_frame

# January 2027 from the 4th has 20 working days. ana alone has python at level 3: 160 h in
# January, against 220 h of level-3 work due by 29 Jan: 60 h short at level 3+, while level 1+
# (ana and ben, 320 h) covers all 260 h of python work.
CASE: dict[str, Any] = {
    "format": "allocator.portfolio/v1",
    "name": "skills-case",
    "calendar": {"start": "2027-01-04", "end": "2027-02-26"},
    "people": [
        {
            "id": "ana",
            "skills": {"python": 3},
            "time_off": [{"start": "2027-02-08", "end": "2027-02-12"}],
            "available_until": "2027-02-19",
        },
        {"id": "ben", "skills": {"python": 1}},
        {"id": "cy", "skills": {"sql": 2}},
    ],
    "projects": [
        {
            "id": "p",
            "deadline": "2027-01-29",
            "tasks": [
                {"id": "t1", "skill": "python", "min_level": 3, "effort_hours": 120},
                {"id": "t2", "skill": "python", "min_level": 3, "effort_hours": 100},
                {"id": "t3", "skill": "python", "effort_hours": 40},
            ],
        }
    ],
}


def test_a_shortage_at_a_level_comes_first() -> None:
    df = skill_level_frame(load_portfolio(CASE))
    top = df.iloc[0]
    assert (top["skill"], top["level"], top["period"]) == ("python", 3, pd.Timestamp("2027-01-01"))
    assert top["demand_hours"] == pytest.approx(220.0)
    assert top["capacity_hours"] == pytest.approx(160.0)
    assert top["shortage_hours"] == pytest.approx(60.0)
    assert top["people"] == 1
    jan1 = df[(df["level"] == 1) & (df["period"] == pd.Timestamp("2027-01-01"))].iloc[0]
    assert jan1["demand_hours"] == pytest.approx(260.0)
    assert jan1["capacity_hours"] == pytest.approx(320.0)
    assert jan1["shortage_hours"] == 0.0
    # only skills some task asks for; sql has no demand
    assert set(df["skill"]) == {"python"}
    assert (df["shortage_hours"].diff().dropna() <= 0).all()


def test_level_one_is_the_demand_capacity_view() -> None:
    p = load_portfolio(example_path())
    plan = solve(p, SolveParams(greedy_only=True, workers=1, time_limit=2)).plan
    mine = skill_level_frame(p, plan)
    mine = mine[mine["level"] == 1].sort_values(["skill", "period"]).reset_index(drop=True)
    theirs = demand_capacity_frame(p, plan, "M")
    theirs = theirs[theirs["skill"].isin(set(mine["skill"]))]
    theirs = theirs.sort_values(["skill", "period"]).reset_index(drop=True)
    for col in ("demand_hours", "planned_hours", "unplanned_hours", "capacity_hours"):
        assert mine[col].to_numpy() == pytest.approx(theirs[col].to_numpy()), col
    assert mine["demand_hours"].sum() > 0


def test_bus_factor_names_the_person_and_when_they_are_away() -> None:
    df = bus_factor_frame(load_portfolio(CASE))
    assert list(zip(df["skill"], df["level"], strict=True)) == [("python", 3)]
    row = df.iloc[0]
    assert row["person"] == "ana" and row["people"] == 1 and row["tasks"] == 2
    assert row["demand_hours"] == pytest.approx(220.0)
    assert row["leaves"] == pd.Timestamp("2027-02-19") and pd.isna(row["joins"])
    assert row["away"] == "2027-02-08..2027-02-12"
    # 5 days of time off and the 5 working days after she leaves
    assert row["away_working_days"] == 10


def test_cli_skills_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = load_portfolio(example_path())
    plan = solve(p, SolveParams(greedy_only=True, workers=1, time_limit=2)).plan
    dump_plan(plan, tmp_path / "plan.json")
    capsys.readouterr()
    assert main(["skills", "example", "--plan", str(tmp_path / "plan.json"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["demand_capacity"] and out["bus_factor"]
    assert {"skill", "level", "period", "shortage_hours"} <= set(out["demand_capacity"][0])
    (tmp_path / "case.json").write_text(json.dumps(CASE))
    assert main(["skills", str(tmp_path / "case.json")]) == 0
    text = capsys.readouterr().out
    assert "python level 3+ 2027-01: demand 220 h, capacity 160 h (1 people), short 60 h" in text
    assert (
        "python level 3+: ana, 220 h of work; leaves 2027-02-19, away 2027-02-08..2027-02-12"
        in text
    )
