"""Plan diffs on hand-built pairs: one reason per kind of change; and the CLI commands."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from allocator import load_portfolio
from allocator.cli import main
from allocator.contract import dump_plan, load_plan
from allocator.diff import BETTER_USE, changed_tasks, diff_plans
from allocator.domain import Assignment, Plan, Portfolio, Unassigned
from tests.conftest import portfolio_dict

D = date.fromisoformat


def pf(
    tasks: list[dict[str, Any]], people: list[dict[str, Any]] | None = None, **top: Any
) -> Portfolio:
    people = people or [{"id": "ann", "skills": {"py": 3}}, {"id": "bob", "skills": {"py": 3}}]
    return load_portfolio(portfolio_dict(people, tasks, **top))


def plan(*rows: tuple[str, str, str, str], unassigned: tuple[str, ...] = ()) -> Plan:
    return Plan(
        portfolio="tiny",
        status="feasible",
        objective=None,
        lower_bound=None,
        solve_seconds=0.0,
        assignments=tuple(Assignment(t, (p,), D(s), D(f)) for t, p, s, f in rows),
        unassigned=tuple(Unassigned(t, ("no room",)) for t in unassigned),
    )


T = {"id": "t", "skill": "py", "effort_hours": 16}
U = {"id": "u", "skill": "py", "effort_hours": 16}


def reasons(changes: list[Any]) -> dict[str, tuple[str, ...]]:
    return {c.task: c.reasons for c in changes}


def test_unchanged_tasks_are_left_out() -> None:
    p = pf([T])
    old = plan(("t", "ann", "2027-01-04", "2027-01-05"))
    assert diff_plans(p, old, old) == []
    assert changed_tasks(old, old) == set()


def test_new_done_cancelled_tasks() -> None:
    old_p = pf([T, U])
    new_p = pf([{**T, "status": "done"}, {**U, "status": "cancelled"}, {**T, "id": "v"}])
    old = plan(("t", "ann", "2027-01-04", "2027-01-05"), ("u", "bob", "2027-01-04", "2027-01-05"))
    new = plan(("v", "ann", "2027-01-04", "2027-01-05"))
    ch = diff_plans(new_p, old, new, old_p)
    assert {c.task: c.kind for c in ch} == {"t": "removed", "u": "removed", "v": "added"}
    r = reasons(ch)
    assert r == {"t": ("task is done",), "u": ("task was cancelled",), "v": ("new task",)}


def test_person_unavailable() -> None:
    old_p = pf([T])
    people = [
        {
            "id": "ann",
            "skills": {"py": 3},
            "time_off": [{"start": "2027-01-05", "end": "2027-01-05"}],
        },
        {"id": "bob", "skills": {"py": 3}},
    ]
    new_p = pf([T], people)
    old = plan(("t", "ann", "2027-01-04", "2027-01-05"))
    new = plan(("t", "bob", "2027-01-04", "2027-01-05"))
    (c,) = diff_plans(new_p, old, new, old_p)
    assert c.kind == "moved" and c.old_people == ("ann",) and c.new_people == ("bob",)
    assert any(r.startswith("person unavailable: ann") for r in c.reasons)
    # a person who left the portfolio
    gone = pf([T], [{"id": "bob", "skills": {"py": 3}}])
    (c2,) = diff_plans(gone, old, new)
    assert "person unavailable: ann is no longer in the portfolio" in c2.reasons


def test_estimate_changed_and_deadline_risk() -> None:
    old_p = pf([T, {**U, "deadline": "2027-01-29"}])
    new_p = pf([{**T, "effort_hours": 24}, {**U, "deadline": "2027-01-05"}])
    old = plan(("t", "ann", "2027-01-04", "2027-01-05"), ("u", "bob", "2027-01-06", "2027-01-07"))
    new = plan(("t", "ann", "2027-01-04", "2027-01-06"), ("u", "bob", "2027-01-04", "2027-01-05"))
    r = reasons(diff_plans(new_p, old, new, old_p))
    assert r["t"] == ("estimate changed: 16 h -> 24 h",)
    assert r["u"] == (
        "deadline risk: the old finish 2027-01-07 is after its deadline 2027-01-05 "
        "(was 2027-01-29)",
    )


def test_better_use_and_unassigned_and_as_of() -> None:
    p = pf([T, U], as_of="2027-01-06")
    old = plan(("t", "ann", "2027-01-04", "2027-01-05"), ("u", "ann", "2027-01-11", "2027-01-12"))
    new = plan(("t", "bob", "2027-01-06", "2027-01-07"), unassigned=("u",))
    r = reasons(diff_plans(p, old, new))
    assert any("before as_of 2027-01-06" in x for x in r["t"])
    assert r["u"] == (BETTER_USE, "not planned now: no room")
    p2 = pf([T, U])
    old2 = plan(("t", "ann", "2027-01-04", "2027-01-05"))
    new2 = plan(("t", "bob", "2027-01-04", "2027-01-05"), ("u", "ann", "2027-01-04", "2027-01-05"))
    ch = diff_plans(p2, old2, new2)
    assert reasons(ch)["t"] == (BETTER_USE,)
    assert {c.task: c.kind for c in ch}["u"] == "added"


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    data = portfolio_dict(
        [
            {"id": "ann", "skills": {"py": 3}, "cost_per_hour": 50},
            {"id": "bob", "skills": {"py": 3}, "cost_per_hour": 10},
        ],
        [{"id": f"t{i}", "skill": "py", "effort_hours": 16} for i in (1, 2, 3)],
        as_of="2027-01-04",
    )
    port = tmp_path / "p.json"
    port.write_text(json.dumps(data))
    prev = plan(
        ("t1", "ann", "2027-01-04", "2027-01-05"),
        ("t2", "ann", "2027-01-06", "2027-01-07"),
        ("t3", "ann", "2027-01-08", "2027-01-11"),
    )
    prev_path = tmp_path / "prev.json"
    dump_plan(prev, prev_path)
    return {"portfolio": port, "previous": prev_path, "dir": tmp_path}


def test_cli_rebalance_diff_tradeoff(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    out = files["dir"] / "new.json"
    args = ["rebalance", str(files["portfolio"]), "--previous", str(files["previous"])]
    assert (
        main([*args, "-o", str(out), "--time-limit", "1", "--workers", "1", "--budget", "1"]) == 0
    )
    new = load_plan(out)
    assert len(changed_tasks(load_plan(files["previous"]), new)) <= 1
    assert "changes:" in capsys.readouterr().out
    assert (
        main(
            [
                "diff",
                str(files["previous"]),
                str(out),
                "--portfolio",
                str(files["portfolio"]),
                "--json",
            ]
        )
        == 0
    )
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) <= 1 and all(r["reasons"] for r in rows)
    assert main([*args, "--tradeoff", "--time-limit", "1", "--workers", "1"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:2] == ["budget", "max_changes"] and len(table) == 6
    assert main(["diff", str(files["previous"]), str(out)]) == 2  # needs a portfolio
