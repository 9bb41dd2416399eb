"""One tiny instance per business rule, solved to optimality, the expected plan argued in comments.

Calendar (unless told otherwise): Mon 2027-01-04 .. Fri 2027-01-29, Mon-Fri: 20 working days,
idx 0 = Mon 4 Jan, idx 5 = Mon 11 Jan, idx 10 = Mon 18 Jan, idx 15 = Mon 25 Jan.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from allocator import load_portfolio
from allocator.checker import check
from allocator.engine import Result, SolveParams, solve
from tests.conftest import portfolio_dict

D = date.fromisoformat


def run(data: dict[str, Any], time_limit: float = 10.0) -> tuple[Result, dict[str, Any]]:
    portfolio = load_portfolio(data)
    result = solve(portfolio, SolveParams(time_limit=time_limit, workers=1, seed=0))
    report = check(portfolio, result.plan)
    assert report.valid, report.violations
    return result, {a.task: a for a in result.plan.assignments}


def test_ok_small_optimal(ok_small: dict[str, Any]) -> None:
    # a (16h) needs py>=3: only ann, days 0-1. d (40h qa>=4): only cat, days 0-4.
    # c (24h py) and b (8h qa, after a) are left to share ann, bob and cat. The "finish" term is
    # the sum of (idx(finish)+1): a=2 and d=5 are fixed. Either bob does c on 0-2 and b on 3
    # (c=3, b=4: total 14), or bob does b on 2 and ann does c on 2-4 (b=3, c=5: total 15), or
    # cat does b after d (b=6). So bob does c then b.
    result, a = run(ok_small)
    assert result.status == "optimal"
    assert a["a"].people == ("ann",) and (a["a"].start, a["a"].finish) == (
        D("2027-01-04"),
        D("2027-01-05"),
    )
    assert a["c"].people == ("bob",) and a["c"].finish == D("2027-01-06")
    assert a["b"].people == ("bob",) and a["b"].start == D("2027-01-07")
    assert result.terms is not None and result.terms.finish == 14
    assert a["d"].people == ("cat",) and a["d"].finish == D("2027-01-08")
    assert result.terms is not None and result.terms.undelivered == 0
    assert result.plan.lower_bound == result.plan.objective


def test_skill_level_decides_who() -> None:
    # Only bob has python at level 4 or above.
    data = portfolio_dict(
        [{"id": "ann", "skills": {"python": 3}}, {"id": "bob", "skills": {"python": 5}}],
        [{"id": "t", "skill": "python", "min_level": 4, "effort_hours": 8}],
    )
    _, a = run(data)
    assert a["t"].people == ("bob",)


def test_unknown_skill_is_unassigned_with_reason() -> None:
    data = portfolio_dict(
        [{"id": "ann", "skills": {"python": 3}}],
        [
            {"id": "t", "skill": "ml", "effort_hours": 8},
            {"id": "u", "skill": "python", "effort_hours": 8, "predecessors": ["t"]},
        ],
    )
    result, a = run(data)
    assert not a
    reasons = {u.task: " ".join(u.reasons) for u in result.plan.unassigned}
    assert "nobody has skill 'ml'" in reasons["t"]
    assert "predecessor t" in reasons["u"]
    # nothing can be delivered: the bound equals the objective
    assert result.status == "optimal"


def test_exclusion_and_preference() -> None:
    # Three equal people; ann is excluded, cat is preferred: cat does it (preference is a cost).
    same = {"skills": {"qa": 3}, "cost_per_hour": 50}
    data = portfolio_dict(
        [{"id": "ann", **same}, {"id": "bob", **same}, {"id": "cat", **same}],
        [{"id": "t", "skill": "qa", "effort_hours": 8, "exclude": ["ann"], "prefer": ["cat"]}],
    )
    _, a = run(data)
    assert a["t"].people == ("cat",)


def test_overqualification_costs() -> None:
    # Same rate: the junior (level 2, needed 2) beats the expert (level 5) by 3 levels x 8h x 1.
    data = portfolio_dict(
        [{"id": "senior", "skills": {"qa": 5}}, {"id": "junior", "skills": {"qa": 2}}],
        [{"id": "t", "skill": "qa", "min_level": 2, "effort_hours": 8}],
    )
    result, a = run(data)
    assert a["t"].people == ("junior",)
    assert result.terms is not None and result.terms.cost == 0


def test_task_stretches_over_time_off() -> None:
    # 24h = 3 active days from Mon 4 Jan; ann is off Tue 5 Jan: Mon, Wed, Thu -> finish Thu 7 Jan.
    data = portfolio_dict(
        [
            {
                "id": "ann",
                "skills": {"py": 3},
                "time_off": [{"start": "2027-01-05", "end": "2027-01-05"}],
            }
        ],
        [{"id": "t", "skill": "py", "effort_hours": 24}],
    )
    _, a = run(data)
    assert (a["t"].start, a["t"].finish) == (D("2027-01-04"), D("2027-01-07"))


def test_part_timer_and_hours_per_day() -> None:
    # Mon-Thu part-timer at 4 h/day: 20 h -> 5 active days: Mon-Thu 4-7 Jan, then Mon 11 Jan.
    data = portfolio_dict(
        [
            {
                "id": "ann",
                "skills": {"py": 3},
                "hours_per_day": 4,
                "workdays": ["Mon", "Tue", "Wed", "Thu"],
            }
        ],
        [{"id": "t", "skill": "py", "effort_hours": 20}],
    )
    _, a = run(data)
    assert (a["t"].start, a["t"].finish) == (D("2027-01-04"), D("2027-01-11"))
    assert a["t"].hours == 20


def test_allocation_lets_two_tasks_share_a_person() -> None:
    # Two 50% tasks of 8h each (2 active days at half a day) run side by side on days 0-1.
    data = portfolio_dict(
        [{"id": "ann", "skills": {"py": 3}}],
        [
            {"id": "t1", "skill": "py", "effort_hours": 8, "allocation": 50},
            {"id": "t2", "skill": "py", "effort_hours": 8, "allocation": 50},
        ],
    )
    _, a = run(data)
    assert a["t1"].start == a["t2"].start == D("2027-01-04")
    assert a["t1"].finish == a["t2"].finish == D("2027-01-05")


def test_reduced_capacity_blocks_full_time_work() -> None:
    # Week 1 at 50%: a 100% task cannot run then (it would be active and exceed capacity);
    # it starts Mon 11 Jan. A 50% task fits in week 1.
    data = portfolio_dict(
        [
            {
                "id": "ann",
                "skills": {"py": 3},
                "reduced_capacity": [{"start": "2027-01-04", "end": "2027-01-08", "percent": 50}],
            }
        ],
        [
            {"id": "full", "skill": "py", "effort_hours": 8},
            {"id": "half", "skill": "py", "effort_hours": 4, "allocation": 50},
        ],
    )
    _, a = run(data)
    assert a["full"].start == D("2027-01-11")
    assert a["half"].start == D("2027-01-04")


def test_precedence_and_earliest_start() -> None:
    # b after a (2 days each); project starts after Wed 6 Jan: a on 6-7, b on 8 and 11 Jan.
    data = portfolio_dict(
        [{"id": "ann", "skills": {"py": 3}}, {"id": "bob", "skills": {"py": 3}}],
        [
            {"id": "a", "skill": "py", "effort_hours": 16},
            {"id": "b", "skill": "py", "effort_hours": 16, "predecessors": ["a"]},
        ],
        project={"start_after": "2027-01-06"},
    )
    _, a = run(data)
    assert (a["a"].start, a["a"].finish) == (D("2027-01-06"), D("2027-01-07"))
    assert (a["b"].start, a["b"].finish) == (D("2027-01-08"), D("2027-01-11"))


def test_pins_person_and_start() -> None:
    # Pinned to the dearer bob and to Wed 13 Jan: both hold although ann would be cheaper and earlier.
    data = portfolio_dict(
        [
            {"id": "ann", "skills": {"py": 3}, "cost_per_hour": 1},
            {"id": "bob", "skills": {"py": 3}, "cost_per_hour": 90},
        ],
        [
            {
                "id": "t",
                "skill": "py",
                "effort_hours": 8,
                "pinned": {"person": "bob", "start": "2027-01-13"},
            }
        ],
    )
    _, a = run(data)
    assert a["t"].people == ("bob",) and a["t"].start == D("2027-01-13")


def test_soft_deadline_counts_lateness() -> None:
    # 10 days of work, deadline Fri 8 Jan (idx 4): finish idx 9 -> 5 late days x priority 2.
    data = portfolio_dict(
        [{"id": "ann", "skills": {"py": 3}}],
        [{"id": "t", "skill": "py", "effort_hours": 80, "deadline": "2027-01-08", "priority": 2}],
    )
    result, a = run(data)
    assert a["t"].finish == D("2027-01-15")
    assert result.terms is not None and result.terms.late == 10


def test_hard_deadline_leaves_work_out_with_reason() -> None:
    data = portfolio_dict(
        [{"id": "ann", "skills": {"py": 3}}],
        [{"id": "t", "skill": "py", "effort_hours": 80, "deadline": "2027-01-08"}],
        policy={"hard_deadlines": True},
    )
    result, a = run(data)
    assert not a
    assert "too short" in " ".join(result.plan.unassigned[0].reasons)


def test_priority_decides_what_is_delivered() -> None:
    # One person, two 15-day tasks that both fit only alone in 20 days: the priority-3 one wins.
    data = portfolio_dict(
        [{"id": "ann", "skills": {"py": 3}}],
        [
            {"id": "low", "skill": "py", "effort_hours": 120, "priority": 1},
            {"id": "high", "skill": "py", "effort_hours": 120, "priority": 3},
        ],
    )
    result, a = run(data)
    assert set(a) == {"high"}
    assert result.terms is not None and result.terms.undelivered == 120 * 100
    assert result.status == "optimal"
    reasons = " ".join(result.plan.unassigned[0].reasons)
    # high takes 15 of the window's 20 days: ann is booked 75 % there
    assert "ann 75%" in reasons


def test_team_task_places() -> None:
    # Places: py>=3 and qa>=2. bob has both but fills one place; cat fills qa.
    data = portfolio_dict(
        [{"id": "bob", "skills": {"py": 3, "qa": 2}}, {"id": "cat", "skills": {"qa": 4}}],
        [
            {
                "id": "t",
                "requirements": [{"skill": "py", "min_level": 3}, {"skill": "qa", "min_level": 2}],
                "duration_days": 3,
            }
        ],
    )
    _, a = run(data)
    assert sorted(a["t"].people) == ["bob", "cat"]
    assert (a["t"].start, a["t"].finish) == (D("2027-01-04"), D("2027-01-06"))


def test_makespan_objective() -> None:
    # Two people, three 5-day tasks: makespan 10 (two in parallel, then one).
    data = portfolio_dict(
        [{"id": "ann", "skills": {"py": 3}}, {"id": "bob", "skills": {"py": 3}}],
        [{"id": f"t{i}", "skill": "py", "effort_hours": 40} for i in range(3)],
        policy={"objective": "makespan"},
    )
    result, _ = run(data)
    assert result.plan.objective == {"makespan_days": 10}
    assert result.plan.lower_bound == {"makespan_days": 10}
    assert result.key == (10,) and result.gap == 0.0
    assert result.status == "optimal"


def test_makespan_infeasible_when_work_cannot_be_done() -> None:
    data = portfolio_dict(
        [{"id": "ann", "skills": {"py": 3}}],
        [{"id": "t", "skill": "ml", "effort_hours": 8}],
        policy={"objective": "makespan"},
    )
    portfolio = load_portfolio(data)
    result = solve(portfolio, SolveParams(time_limit=5, workers=1))
    assert result.status == "infeasible"
    assert result.plan.objective is None and [u.task for u in result.plan.unassigned] == ["t"]
    assert check(portfolio, result.plan).valid


def test_in_progress_keeps_its_person() -> None:
    # As of Mon 11 Jan, t is in progress with bob (dearer), 2 days left: it stays with bob, 11-12 Jan.
    data = portfolio_dict(
        [
            {"id": "ann", "skills": {"py": 3}},
            {"id": "bob", "skills": {"py": 3}, "cost_per_hour": 99},
        ],
        [
            {
                "id": "t",
                "skill": "py",
                "effort_hours": 40,
                "status": "in_progress",
                "progress": {"people": ["bob"], "remaining_days": 2},
            }
        ],
        as_of="2027-01-11",
    )
    result, a = run(data)
    assert a["t"].people == ("bob",) and (a["t"].start, a["t"].finish) == (
        D("2027-01-11"),
        D("2027-01-12"),
    )
    assert not result.plan.changes


def test_in_progress_reassigned_when_person_left() -> None:
    data = portfolio_dict(
        [
            {"id": "ann", "skills": {"py": 3}},
            {"id": "bob", "skills": {"py": 3}, "available_until": "2027-01-08"},
        ],
        [
            {
                "id": "t",
                "skill": "py",
                "effort_hours": 40,
                "status": "in_progress",
                "progress": {"people": ["bob"], "remaining_days": 2},
            }
        ],
        as_of="2027-01-11",
    )
    result, a = run(data)
    assert a["t"].people == ("ann",)
    assert result.plan.changes is not None and result.plan.changes[0].task == "t"
    assert "bob" in result.plan.changes[0].reasons[0]


@pytest.mark.parametrize("objective", ["portfolio", "makespan"])
def test_example_portfolio_solves_valid(objective: str) -> None:
    import json

    from allocator.cli import example_path

    data = json.loads(example_path().read_text())
    data["policy"] = {"objective": objective}
    result, _ = run(data)
    terms, bound = result.plan.objective, result.plan.lower_bound
    assert bound is not None and terms is not None
    first = next(iter(terms))
    assert first == ("makespan_days" if objective == "makespan" else "undelivered_work_hours")
    assert first in bound  # the first term always has a bound
    for name, b in bound.items():  # each bound term at most its value
        assert b <= terms[name], (name, b, terms[name])


def test_in_progress_reassigned_when_its_person_cannot_go_on() -> None:
    # bob is at 50% on Mon 11 Jan (as_of), the task takes 100% of a day: it cannot go on with bob
    # from his first available day, so it moves to ann and the change is listed with the reason.
    data = portfolio_dict(
        [
            {"id": "ann", "skills": {"py": 3}},
            {
                "id": "bob",
                "skills": {"py": 3},
                "reduced_capacity": [{"start": "2027-01-11", "end": "2027-01-11", "percent": 50}],
            },
        ],
        [
            {
                "id": "t",
                "skill": "py",
                "effort_hours": 40,
                "status": "in_progress",
                "progress": {"people": ["bob"], "remaining_days": 2},
            }
        ],
        as_of="2027-01-11",
    )
    result, a = run(data)
    assert a["t"].people == ("ann",)
    assert result.plan.changes is not None
    assert "bob cannot go on" in result.plan.changes[0].reasons[0]


def test_in_progress_with_a_pinned_start_keeps_the_pin() -> None:
    # The pin says Wed 13 Jan; the people's first common day is Mon 11 Jan: the pin wins.
    data = portfolio_dict(
        [{"id": "bob", "skills": {"py": 3}}],
        [
            {
                "id": "t",
                "skill": "py",
                "effort_hours": 40,
                "status": "in_progress",
                "pinned": {"start": "2027-01-13"},
                "progress": {"people": ["bob"], "remaining_days": 2},
            }
        ],
        as_of="2027-01-11",
    )
    result, a = run(data)
    assert a["t"].start == D("2027-01-13")
    assert result.plan.changes is not None and "pinned" in result.plan.changes[0].reasons[0]
