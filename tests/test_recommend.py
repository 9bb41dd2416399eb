"""Recommendations proven by re-solving (allocator.recommend, ``allocator recommend``).

``short``: the bundled example with three problems planted (greedy only, 1 s, seed 0, so every
solve is exactly reproducible):

* ``portal-ml`` needs skill ml at level 3, which nobody has: unassigned, reason "nobody has
  skill 'ml' at level 3" -> hire a placeholder / train someone;
* ``portal-x``: 300 h of python at level 4 (only ana) due 2027-02-20: late;
* crm's deadline pulled in to 2027-02-10: crm tasks late.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from allocator.cli import example_path, main
from allocator.contract import (
    dump_plan,
    dump_portfolio,
    load_plan,
    load_portfolio,
    plan_to_dict,
    portfolio_to_dict,
)
from allocator.domain import Plan, Portfolio
from allocator.edits import EditError, apply_edits
from allocator.engine import SolveParams, solve
from allocator.recommend import (
    MAX_CANDIDATES,
    candidates,
    recommend,
    staff_candidates,
    write_recommendations,
)
from allocator.scenarios import SolveSettings, solve_body

GREEDY = SolveSettings(time_limit=1, workers=1, seed=0, greedy_only=True)


@pytest.fixture(scope="module")
def short() -> tuple[Portfolio, Plan]:
    p = apply_edits(
        load_portfolio(example_path()),
        [
            {
                "projects": {"crm": {"deadline": "2027-02-10"}},
                "new_tasks": [
                    {
                        "project": "portal",
                        "task": {
                            "id": "portal-ml",
                            "skill": "ml",
                            "min_level": 3,
                            "effort_hours": 40,
                        },
                    },
                    {
                        "project": "portal",
                        "task": {
                            "id": "portal-x",
                            "skill": "python",
                            "min_level": 4,
                            "effort_hours": 300,
                            "deadline": "2027-02-20",
                        },
                    },
                ],
            }
        ],
    )
    plan = solve(p, SolveParams(time_limit=1, workers=1, seed=0, greedy_only=True)).plan
    return p, plan


def test_candidates_come_from_the_evidence(short: tuple[Portfolio, Plan]) -> None:
    p, plan = short
    assert "portal-ml" in {u.task for u in plan.unassigned}
    cands = candidates(p, plan)
    assert len(cands) <= MAX_CANDIDATES
    ml = [c for c in cands if c.task == "portal-ml"]
    assert {c.kind for c in ml} == {"hire", "train"}
    hire = next(c for c in ml if c.kind == "hire")
    (person,) = hire.edits[0]["new_people"]
    assert person["skills"] == {"ml": 3} and person["placeholder"] is True
    late = {c.task for c in cands if c.kind == "move_deadline"}
    assert "portal-x" in late
    assert len(candidates(p, plan, limit=3)) == 3  # bounded


def test_every_claimed_effect_is_reproduced(short: tuple[Portfolio, Plan], tmp_path: Path) -> None:
    p, plan = short
    result = write_recommendations(recommend(p, plan, GREEDY, processes=1), plan, tmp_path)
    doc = json.loads((tmp_path / "recommendations.json").read_text())
    base = json.loads((tmp_path / doc["base_plan"]).read_text())
    control = solve_body(json.loads(json.dumps(_body(p))), base, doc["settings"])["plan"]
    assert control["objective"] == doc["control"]["objective"]
    assert len(doc["recommendations"]) == len(result.items) >= 5
    for rec in doc["recommendations"]:
        written = json.loads((tmp_path / rec["portfolio"]).read_text())
        again = solve_body(written, base, doc["settings"])["plan"]
        assert again["objective"] == rec["objective"], rec["id"]
        assert json.loads((tmp_path / rec["plan"]).read_text())["objective"] == rec["objective"]
        for term, value in again["objective"].items():  # effect = re-solved minus control
            assert rec["effect"][term] == pytest.approx(value - control["objective"][term])
    # the ml hire delivers portal-ml (40 h nobody else can do, the hire is free from its
    # earliest start): +40 h, and it is counted as helping
    ml = next(r for r in doc["recommendations"] if r["kind"] == "hire" and r["task"] == "portal-ml")
    assert ml["effect"]["delivered_hours"] == 40 and ml["helps"]
    assert "portal-ml" not in ml["undelivered"]
    # best first: the rank keys never decrease
    keys = [r.rank_key() for r in result.items]
    assert keys == sorted(keys)
    assert doc["recommendations"][0]["helps"]


def _body(p: Portfolio) -> dict[str, object]:
    return portfolio_to_dict(p)


def test_cli(
    short: tuple[Portfolio, Plan], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p, plan = short
    dump_portfolio(p, tmp_path / "p.json")
    dump_plan(plan, tmp_path / "plan.json")
    out = tmp_path / "out"
    args = ["recommend", str(tmp_path / "p.json"), "--plan", str(tmp_path / "plan.json")]
    args += ["-o", str(out), "--greedy", "--time-limit", "1", "--processes", "1", "--limit", "4"]
    assert main([*args, "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    written = json.loads((out / "recommendations.json").read_text())
    assert printed == written and len(written["recommendations"]) == 4
    for rec in written["recommendations"]:
        assert {"id", "kind", "summary", "edits", "effect", "portfolio", "plan"} <= set(rec)
        load_portfolio(out / rec["portfolio"])  # valid
        load_plan(out / rec["plan"])
    assert (
        main(["recommend", "example", "--plan", str(tmp_path / "none.json"), "-o", str(out)]) == 2
    )


def test_who_should_staff_a_task(short: tuple[Portfolio, Plan]) -> None:
    p, plan = short
    task = p.task_by_id["crm-etl"]
    (place,) = task.places
    able = {
        x.id
        for x in p.people
        if x.level(place.skill) >= place.min_level and x.id not in task.exclude
    }
    assert len(able) >= 2  # a real choice (data-eng: ana, eli)
    cands = staff_candidates(p, plan, "crm-etl")
    assert {c.edits[0]["tasks"]["crm-etl"]["pinned"]["person"] for c in cands} == able
    result = recommend(p, plan, GREEDY, processes=1, staff="crm-etl")
    for r in result.items:
        who = r.candidate.edits[0]["tasks"]["crm-etl"]["pinned"]["person"]
        got = r.outcome.plan.assignment_of("crm-etl")
        assert got is None or who in got.people  # the pin holds in the re-solved plan
    with pytest.raises(EditError):
        staff_candidates(p, plan, "no-such-task")


@pytest.mark.slow
def test_effects_reproduced_with_cp_sat_deterministic(short: tuple[Portfolio, Plan]) -> None:
    """With CP-SAT (1 worker, seed 0, a deterministic time cap well inside the wall limit)
    the re-solve of each written portfolio gives the recorded objective too."""
    p, plan = short
    settings = SolveSettings(time_limit=5, workers=1, seed=0, deterministic_time=0.5)
    result = recommend(p, plan, settings, limit=3, processes=1)
    assert len(result.items) == 3
    for r in result.items:
        body = portfolio_to_dict(r.outcome.portfolio)
        again = solve_body(body, plan_to_dict(plan), dict(settings.__dict__))["plan"]
        assert again["objective"] == dict(r.outcome.plan.objective or {}), r.candidate.id
