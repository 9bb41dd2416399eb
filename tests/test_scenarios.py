"""What-if scenarios (allocator.scenarios, ``allocator scenarios``): edits solved from the base
plan, side by side.

The bundled example, its base plan by the greedy alone (1 s, seed 0: exactly reproducible).
Its crm project (priority 3) finishes on 2027-02-23 in that plan with every project on time.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from allocator.checker import check
from allocator.cli import example_path, main
from allocator.contract import dump_plan, load_plan, load_portfolio
from allocator.domain import Plan, Portfolio
from allocator.edits import EditError
from allocator.engine import SolveParams, solve
from allocator.scenarios import Scenario, SolveSettings, load_scenario, run_scenarios

GREEDY = SolveSettings(time_limit=1, workers=1, seed=0, greedy_only=True)
EARLY = Scenario("crm-early", ({"projects": {"crm": {"deadline": "2027-02-15"}}},))
HIRE = Scenario(
    "hire",
    ({"new_people": [{"id": "h1", "skills": {"ml": 3}, "placeholder": True}]},),
)


@pytest.fixture(scope="module")
def base() -> tuple[Portfolio, Plan]:
    p = load_portfolio(example_path())
    plan = solve(p, SolveParams(time_limit=1, workers=1, seed=0, greedy_only=True)).plan
    return p, plan


def test_scenarios_side_by_side(base: tuple[Portfolio, Plan], tmp_path: Path) -> None:
    p, plan = base
    crm = next(r for r in run_scenarios(p, plan, [], GREEDY).base.projects if r["project"] == "crm")
    assert crm["late"] is False and crm["finish"] > "2027-02-15"  # so an earlier deadline bites
    c = run_scenarios(p, plan, [EARLY, HIRE], GREEDY, processes=1, output=tmp_path)
    assert [o.name for o in c.scenarios] == ["crm-early", "hire"]
    assert c.base.plan == plan  # the base column is the base plan itself, not a re-solve
    early, hire = c.scenarios
    row = next(r for r in early.projects if r["project"] == "crm")
    assert row["deadline"] == "2027-02-15" and row["late"] is True and row["slip_working_days"] > 0
    assert early.headline["late_projects"] == c.base.headline["late_projects"] + 1
    # the plan was solved on the edited portfolio: its own objective counts the new deadline
    assert early.plan.objective is not None and early.plan.objective["weighted_late_days"] > 0
    # an unused hire with nothing to do changes nothing, and nothing moves
    assert hire.plan.objective == plan.objective and hire.moved == ()
    for o in c.scenarios:  # each written plan is valid for its written portfolio
        written = load_portfolio(tmp_path / o.files["portfolio"])
        assert check(written, load_plan(tmp_path / o.files["plan"])).valid
    d = c.as_dict()
    assert d["scenarios"][0]["projects"][0]["budget"] is None
    json.dumps(d)  # plain JSON
    assert "crm late by" in c.text()


def test_what_moved_is_listed(base: tuple[Portfolio, Plan]) -> None:
    p, plan = base
    # fay (pm, analysis) leaves: her tasks must move to someone else or be left out
    fay_tasks = {a.task for a in plan.assignments if "fay" in a.people}
    assert fay_tasks
    gone = Scenario("fay-leaves", ({"remove_people": ["fay"]},))
    (o,) = run_scenarios(p, plan, [gone], GREEDY, processes=1).scenarios
    moved = {m["task"] for m in o.moved}
    assert fay_tasks <= moved
    assert all(m["forced"] for m in o.moved if m["task"] in fay_tasks)


def test_bad_edits_fail_before_any_solve(base: tuple[Portfolio, Plan]) -> None:
    p, plan = base
    bad = Scenario("oops", ({"tasks": {"crm-scope": {"deadline": "tomorrow"}}},))
    with pytest.raises(EditError) as info:
        run_scenarios(p, plan, [HIRE, bad], GREEDY, processes=1)
    assert [i.path for i in info.value.issues] == ["oops: edits[0].tasks.crm-scope.deadline"]


def test_in_parallel_processes_same_answer(base: tuple[Portfolio, Plan]) -> None:
    p, plan = base
    here = run_scenarios(p, plan, [EARLY, HIRE], GREEDY, processes=1)
    apart = run_scenarios(p, plan, [EARLY, HIRE], GREEDY, processes=2)
    assert [o.plan.objective for o in apart.scenarios] == [o.plan.objective for o in here.scenarios]


def test_cli(
    base: tuple[Portfolio, Plan], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, plan = base
    dump_plan(plan, tmp_path / "base.json")
    s1 = tmp_path / "s1.json"
    s1.write_text(json.dumps({"name": "crm-early", "edits": list(EARLY.edits)}))
    s2 = tmp_path / "hire.json"
    s2.write_text(json.dumps(list(HIRE.edits)))  # a bare list: named after its file
    assert load_scenario(s2).name == "hire"
    out = tmp_path / "out"
    args = ["scenarios", str(example_path()), "--plan", str(tmp_path / "base.json")]
    args += [str(s1), str(s2), "-o", str(out), "--greedy", "--time-limit", "1", "--processes", "1"]
    assert main([*args, "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert [s["name"] for s in printed["scenarios"]] == ["crm-early", "hire"]
    assert (out / "crm-early.portfolio.json").exists() and (out / "hire.plan.json").exists()
    assert json.loads((out / "comparison.json").read_text()) == printed
    s1.write_text(json.dumps({"name": "x", "edits": [{"people": {"nobody": {}}}]}))
    assert main(args) == 2
    assert "x: edits[0].people.nobody" in capsys.readouterr().err


def test_on_a_dask_client(base: tuple[Portfolio, Plan]) -> None:
    """``client=``: the scenarios go to that Dask cluster (here one in-process worker), same
    answers as here."""
    distributed = pytest.importorskip("distributed")
    p, plan = base
    here = run_scenarios(p, plan, [EARLY, HIRE], GREEDY, processes=1)
    with distributed.Client(
        processes=False, n_workers=1, threads_per_worker=1, dashboard_address=None
    ) as client:
        with distributed.get_task_stream(client) as stream:
            on_dask = run_scenarios(p, plan, [EARLY, HIRE], GREEDY, client=client)
        keys = [str(t["key"]) for t in stream.data]
    assert [o.plan.objective for o in on_dask.scenarios] == [
        o.plan.objective for o in here.scenarios
    ]
    assert sum("solve_body" in k for k in keys) == 2  # both ran on the cluster
