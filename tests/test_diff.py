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
from allocator.diff import BETTER_USE, changed_tasks, diff_plans, is_forced
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
    people: list[dict[str, Any]] = [
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


# -- forced (the world changed) or chosen (the planner's choice) -----------------------------


def forced(changes: list[Any]) -> dict[str, bool]:
    return {c.task: c.forced for c in changes}


def test_forced_by_reason_kind() -> None:
    # done, cancelled, new: the world
    old_p = pf([T, U])
    new_p = pf([{**T, "status": "done"}, {**U, "status": "cancelled"}, {**T, "id": "v"}])
    old = plan(("t", "ann", "2027-01-04", "2027-01-05"), ("u", "bob", "2027-01-04", "2027-01-05"))
    new = plan(("v", "ann", "2027-01-04", "2027-01-05"))
    assert forced(diff_plans(new_p, old, new, old_p)) == {"t": True, "u": True, "v": True}
    # a person gone
    gone = pf([T], [{"id": "bob", "skills": {"py": 3}}])
    old1 = plan(("t", "ann", "2027-01-04", "2027-01-05"))
    new1 = plan(("t", "bob", "2027-01-04", "2027-01-05"))
    assert forced(diff_plans(gone, old1, new1)) == {"t": True}
    # estimate changed: forced; a soft deadline risk: the planner's choice
    old_p2 = pf([T, {**U, "deadline": "2027-01-29"}])
    new_p2 = pf([{**T, "effort_hours": 24}, {**U, "deadline": "2027-01-05"}])
    old2 = plan(("t", "ann", "2027-01-04", "2027-01-05"), ("u", "bob", "2027-01-06", "2027-01-07"))
    new2 = plan(("t", "ann", "2027-01-04", "2027-01-06"), ("u", "bob", "2027-01-04", "2027-01-05"))
    assert forced(diff_plans(new_p2, old2, new2, old_p2)) == {"t": True, "u": False}
    # ... unless deadlines are hard: the old dates are then invalid
    hard = pf(
        [{**T, "effort_hours": 24}, {**U, "deadline": "2027-01-05"}],
        policy={"hard_deadlines": True},
    )
    assert forced(diff_plans(hard, old2, new2, old_p2)) == {"t": True, "u": True}
    # start passed: forced; better use of capacity (moved or left out): chosen
    p3 = pf([T, U], as_of="2027-01-06")
    old3 = plan(("t", "ann", "2027-01-04", "2027-01-05"), ("u", "ann", "2027-01-11", "2027-01-12"))
    new3 = plan(("t", "bob", "2027-01-06", "2027-01-07"), unassigned=("u",))
    ch3 = diff_plans(p3, old3, new3)
    assert forced(ch3) == {"t": True, "u": False}
    assert [c.as_dict()["forced"] for c in ch3] == [True, False]


def test_predecessor_moved_is_forced_and_in_progress_too() -> None:
    p = pf([T, {**U, "predecessors": ["t"]}])
    old = plan(("t", "ann", "2027-01-04", "2027-01-05"), ("u", "ann", "2027-01-06", "2027-01-07"))
    new = plan(("t", "ann", "2027-01-06", "2027-01-07"), ("u", "ann", "2027-01-08", "2027-01-11"))
    ch = {c.task: c for c in diff_plans(p, old, new)}
    assert ch["t"].reasons == (BETTER_USE,) and not ch["t"].forced
    assert ch["u"].forced and ch["u"].reasons[0].startswith("its predecessor t")
    prog = {**T, "status": "in_progress", "progress": {"people": ["bob"], "remaining_hours": 8}}
    p2 = pf([prog], as_of="2027-01-04")
    old2 = plan(("t", "ann", "2027-01-04", "2027-01-05"))
    new2 = plan(("t", "bob", "2027-01-04", "2027-01-04"))
    assert forced(diff_plans(p2, old2, new2)) == {"t": True}


def test_is_forced_rule() -> None:
    assert not is_forced((BETTER_USE,))
    assert not is_forced((BETTER_USE, "not planned now: person unavailable: nobody can"))
    assert not is_forced(("deadline risk: the old finish 2027-01-07 is after ...",))
    assert is_forced(("deadline risk: the old finish 2027-01-07 is after ...",), True)
    assert is_forced(("person unavailable: ann leaves on 2027-01-05",))
    assert is_forced(("its pin changed",))


def test_cli_rebalance_is_stable_by_default(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    from allocator.rebalance import DEFAULT_STABILITY

    with pytest.raises(SystemExit):
        main(["rebalance", "--help"])
    helptext = " ".join(capsys.readouterr().out.split())
    assert f"else {DEFAULT_STABILITY}," in helptext and "0: a free re-plan" in helptext
    args = ["rebalance", str(files["portfolio"]), "--previous", str(files["previous"])]
    args += ["--time-limit", "1", "--workers", "1"]
    stable, free = files["dir"] / "stable.json", files["dir"] / "free.json"
    assert main([*args, "-o", str(stable)]) == 0
    assert f"stability {DEFAULT_STABILITY}" in capsys.readouterr().out
    # bob is cheaper and free, but nothing changed in the world: nothing moves by default
    assert changed_tasks(load_plan(files["previous"]), load_plan(stable)) == set()
    assert main([*args, "-o", str(free), "--stability", "0"]) == 0
    assert "stability 0" in capsys.readouterr().out
    changes = json.loads(free.read_text())["changes"]
    assert changes and all(c["forced"] is False for c in changes)
