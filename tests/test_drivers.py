"""What drives a date (allocator.drivers) on a hand-made plan whose causes are known
(tests/drivers_case.py): a predecessor, a person's time off, a person busy with other work, a
holiday, an earliest start; the command line's exit code 2 for an unknown id."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from allocator.cli import main
from allocator.contract import dump_plan, dump_portfolio
from allocator.domain import Portfolio
from allocator.drivers import UnknownTarget, drivers_frame, explain, fmt_range
from allocator.engine import SolveParams, solve
from tests.drivers_case import case
from tests.strategies import small


def test_a_late_task_waits_for_a_predecessor_stretched_by_time_off() -> None:
    p, plan = case()
    e = explain(p, plan, "crm-etl")
    assert e.headline == "crm-etl finishes 2027-01-21, 1 working day after its deadline 2027-01-20"
    assert [s.task for s in e.steps] == ["crm-etl", "crm-schema"]
    assert e.steps[0].facts == ("waits for crm-schema (amir), which finishes 2027-01-19",)
    assert e.steps[1].facts == (
        "cannot start before its earliest start 2027-01-04",
        "stretches over amir's time off 11-15 Jan 2027 (5 working days)",
    )


def test_a_project_is_explained_by_its_last_task_through_a_persons_queue() -> None:
    p, plan = case()
    e = explain(p, plan, "crm")
    assert e.kind == "project"
    assert e.headline.startswith(
        "project crm finishes 2027-01-29, 6 working days after its deadline"
    )
    assert [s.task for s in e.steps] == ["crm-review", "crm-report", "crm-etl", "crm-schema"]
    assert e.steps[0].facts == (
        "waits for bo, busy with crm-report until 2027-01-25",
        "stretches over the holiday 27 Jan 2027",
    )
    assert e.steps[1].facts == ("waits for bo, busy with crm-etl until 2027-01-21",)
    assert json.loads(json.dumps(e.as_dict()))["chain"][0]["task"] == "crm-review"


def test_a_late_start_without_cause_is_said() -> None:
    p, plan = case()
    # ops-late moved from its earliest start (1 Feb) to 3 Feb: nothing made it wait
    asg = tuple(
        replace(a, start=date(2027, 2, 3), finish=date(2027, 2, 3)) if a.task == "ops-late" else a
        for a in plan.assignments
    )
    e = explain(p, replace(plan, assignments=asg), "ops-late")
    assert e.steps[0].facts[0].startswith("starts 2 working days after it could (2027-02-01)")


def test_drivers_frame_lists_late_projects_and_tasks() -> None:
    p, plan = case()
    df = drivers_frame(p, plan)
    assert list(zip(df["kind"], df["id"], strict=True)) == [("project", "crm"), ("task", "crm-etl")]
    assert "crm-schema (amir)" in df.loc[1, "chain"]


def test_unknown_id() -> None:
    p, plan = case()
    with pytest.raises(UnknownTarget):
        explain(p, plan, "nope")


def test_date_ranges() -> None:
    assert fmt_range(date(2027, 1, 2), date(2027, 1, 10)) == "2-10 Jan 2027"
    assert fmt_range(date(2027, 1, 30), date(2027, 2, 2)) == "30 Jan-2 Feb 2027"
    assert fmt_range(date(2026, 12, 28), date(2027, 1, 3)) == "28 Dec 2026-3 Jan 2027"


def test_cli_explain(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p, plan = case()
    dump_portfolio(p, tmp_path / "p.json")
    dump_plan(plan, tmp_path / "plan.json")
    args = ["explain", str(tmp_path / "p.json"), str(tmp_path / "plan.json")]
    capsys.readouterr()
    assert main([*args, "crm-etl"]) == 0
    assert "waits for crm-schema (amir)" in capsys.readouterr().out
    assert main([*args, "crm", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["kind"] == "project"
    assert main([*args, "nope"]) == 2
    err = capsys.readouterr().err
    assert "'nope'" in err and len(err.strip().splitlines()) == 1


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small)
def test_generated_chains_name_what_finishes_before(p: Portfolio) -> None:
    """On greedy plans of generated portfolios every task explains; each step's cause (a
    predecessor or another booking of its people) finishes before the step starts."""
    plan = solve(p, SolveParams(greedy_only=True, workers=1, time_limit=2)).plan
    finish = {a.task: a.finish for a in plan.assignments}
    for a in plan.assignments:
        e = explain(p, plan, a.task)
        assert e.steps and e.steps[0].task == a.task
        for step, nxt in zip(e.steps, e.steps[1:], strict=False):
            assert finish[nxt.task] < step.start
            assert any(nxt.task in f for f in step.facts)
