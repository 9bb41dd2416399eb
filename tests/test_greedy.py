"""The greedy list scheduler: one tiny portfolio per rule, argued by hand, plus properties.

Calendar of the hand-made portfolios: 2027-01-04 (Mon) .. 2027-01-29 (Fri), Mon-Fri, so the
working days are 4-8, 11-15, 18-22 and 25-29 January (indices 0-4, 5-9, 10-14, 15-19).
Every plan is judged by the independent checker (``allocator.checker.check``), objective
included.
"""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from allocator.checker import check
from allocator.contract import load_portfolio
from allocator.domain import Assignment, Plan, Portfolio
from allocator.generator import generate
from allocator.objective import plan_key, plan_terms
from solver_models.greedy import RULES, book, downstream_value, greedy, initial_free
from solver_models.instance import compile_instance
from solver_models.schedule import GENERIC_REASON, Schedule, to_plan

EXAMPLE = (
    Path(__file__).resolve().parents[1] / "src" / "allocator" / "data" / "example-portfolio.json"
)


# -- helpers ------------------------------------------------------------------------------------
def person(pid: str, skills: dict[str, int], **more: Any) -> dict[str, Any]:
    return {"id": pid, "skills": skills, **more}


def portfolio(
    people: list[dict[str, Any]], tasks: list[dict[str, Any]], **top: Any
) -> dict[str, Any]:
    """A one-project portfolio over January 2027 (weeks 1-4)."""
    return {
        "format": "allocator.portfolio/v1",
        "name": "tiny",
        "calendar": {"start": "2027-01-04", "end": "2027-01-29"},
        "people": people,
        "projects": [{"id": "P", "tasks": tasks}],
        **top,
    }


def solve(data: dict[str, Any] | Portfolio, rule: str = "edf") -> Plan:
    """Greedy plan of ``data``, checked valid (with its true objective) before it is returned."""
    pf = data if isinstance(data, Portfolio) else load_portfolio(data)
    inst = compile_instance(pf)
    sched = greedy(inst, rule=rule)
    plan = to_plan(
        inst,
        sched,
        status="feasible",
        objective=None,
        lower_bound=None,
        solve_seconds=0.0,
        solver=f"greedy-{rule}",
    )
    plan = replace(plan, objective=plan_terms(pf, plan))
    result = check(pf, plan)
    assert result.valid, [str(v) for v in result.violations]
    assert result.current, [str(v) for v in result.stale]
    return plan


def d(day: int) -> date:
    """January ``day``, 2027."""
    return date(2027, 1, day)


def got(plan: Plan, task: str) -> Assignment:
    a = plan.assignment_of(task)
    assert a is not None, f"{task} unassigned: {[u for u in plan.unassigned if u.task == task]}"
    return a


def span(plan: Plan, task: str) -> tuple[tuple[str, ...], date, date]:
    a = got(plan, task)
    return a.people, a.start, a.finish


def reasons(plan: Plan, task: str) -> tuple[str, ...]:
    for u in plan.unassigned:
        if u.task == task:
            return u.reasons
    raise AssertionError(f"{task} is assigned")


# -- one rule each ------------------------------------------------------------------------------
def test_precedence() -> None:
    # A (16 h = 2 days, only ana) runs Jan 4-5. B needs sql, which only ben has; ben is idle
    # from Jan 4 but B must start after A finishes: Jan 6, 3 days (24 h) -> Jan 6-8.
    plan = solve(
        portfolio(
            [person("ana", {"python": 3}), person("ben", {"sql": 3})],
            [
                {"id": "A", "skill": "python", "effort_hours": 16},
                {"id": "B", "skill": "sql", "effort_hours": 24, "predecessors": ["A"]},
            ],
        )
    )
    assert span(plan, "A") == (("ana",), d(4), d(5))
    assert span(plan, "B") == (("ben",), d(6), d(8))


def test_stretch_over_time_off() -> None:
    # 32 h = 4 active days; ana is off Jan 6-7, so the task is active on Jan 4, 5, 8, 11 and
    # stretches over the absence: Jan 4 .. Jan 11, still 32 hours.
    plan = solve(
        portfolio(
            [person("ana", {"python": 3}, time_off=[{"start": "2027-01-06", "end": "2027-01-07"}])],
            [{"id": "T", "skill": "python", "effort_hours": 32}],
        )
    )
    assert span(plan, "T") == (("ana",), d(4), d(11))
    assert got(plan, "T").hours == 32.0


def test_part_timer() -> None:
    # chen works Mon-Wed, 4 h a day: 16 h take 4 active days, Mon 4, Tue 5, Wed 6, Mon 11
    # (Thu 7 and Fri 8 are not chen's days): finish Jan 11. Cost 16 h x 50 = 800.
    plan = solve(
        portfolio(
            [
                person(
                    "chen",
                    {"ux": 4},
                    hours_per_day=4,
                    cost_per_hour=50,
                    workdays=["Mon", "Tue", "Wed"],
                )
            ],
            [{"id": "T", "skill": "ux", "effort_hours": 16}],
        )
    )
    a = got(plan, "T")
    assert (a.start, a.finish, a.hours, a.cost) == (d(4), d(11), 16.0, 800.0)


def test_two_half_time_tasks_in_parallel() -> None:
    # X, Y, Z: 16 h at 50 % = 4 days each (8 h x 50 % = 4 h a day), only dara. X and Y share
    # dara's day from Jan 4 to 7 (50 + 50 = 100 %); Z finds no room until Jan 8 and runs
    # Jan 8, 11, 12, 13. (All have the same order key but index, so X, Y, Z in file order.)
    plan = solve(
        portfolio(
            [person("dara", {"qa": 3})],
            [
                {"id": t, "skill": "qa", "effort_hours": 16, "allocation": 50}
                for t in ("X", "Y", "Z")
            ],
        )
    )
    assert span(plan, "X") == (("dara",), d(4), d(7))
    assert span(plan, "Y") == (("dara",), d(4), d(7))
    assert span(plan, "Z") == (("dara",), d(8), d(13))


def test_reduced_capacity() -> None:
    # fay can be planned at most 50 % from Jan 4 to 8 (she is available, so those days are
    # active: a 100 % task may not span them). H (8 h at 50 % = 2 days, earlier deadline, so
    # first) fits Jan 4-5; F (16 h at 100 % = 2 days) waits until Jan 11-12.
    plan = solve(
        portfolio(
            [
                person(
                    "fay",
                    {"pm": 4},
                    reduced_capacity=[{"start": "2027-01-04", "end": "2027-01-08", "percent": 50}],
                )
            ],
            [
                {"id": "F", "skill": "pm", "effort_hours": 16, "deadline": "2027-01-29"},
                {
                    "id": "H",
                    "skill": "pm",
                    "effort_hours": 8,
                    "allocation": 50,
                    "deadline": "2027-01-15",
                },
            ],
        )
    )
    assert span(plan, "H") == (("fay",), d(4), d(5))
    assert span(plan, "F") == (("fay",), d(11), d(12))


def test_team_task() -> None:
    # 3 days needing python and qa. The qa place (one candidate, dara) is filled first; dara is
    # off Jan 5, so the team's active days are Jan 4, 6, 7: finish Jan 7. For python, ana and
    # eve give the same finish; ana is cheaper. Hours: 3 days x 8 h x 2 people = 48.
    plan = solve(
        portfolio(
            [
                person("eve", {"python": 5}, cost_per_hour=120),
                person("ana", {"python": 3}, cost_per_hour=90),
                person(
                    "dara",
                    {"qa": 4},
                    cost_per_hour=60,
                    time_off=[{"start": "2027-01-05", "end": "2027-01-05"}],
                ),
            ],
            [
                {
                    "id": "T",
                    "requirements": [{"skill": "python", "min_level": 3}, {"skill": "qa"}],
                    "duration_days": 3,
                }
            ],
        )
    )
    a = got(plan, "T")
    assert (a.people, a.start, a.finish) == (("ana", "dara"), d(4), d(7))
    assert (a.hours, a.cost) == (48.0, 3 * 8 * 90 + 3 * 8 * 60.0)


def test_team_waits_for_a_busy_member() -> None:
    # A (sql, only eve, 2 days, due Jan 8) goes first: eve Jan 4-5. The team task T needs two
    # python people; ana and eve are the only ones, so T starts when both are free: Jan 6-7.
    plan = solve(
        portfolio(
            [person("ana", {"python": 3}), person("eve", {"python": 3, "sql": 3})],
            [
                {"id": "A", "skill": "sql", "effort_hours": 16, "deadline": "2027-01-08"},
                {
                    "id": "T",
                    "requirements": [{"skill": "python", "count": 2}],
                    "duration_days": 2,
                    "deadline": "2027-01-29",
                },
            ],
        )
    )
    assert span(plan, "A") == (("eve",), d(4), d(5))
    people, start, finish = span(plan, "T")
    assert sorted(people) == ["ana", "eve"]
    assert (start, finish) == (d(6), d(7))


def test_pinned_task_is_booked_first() -> None:
    # P is pinned to ben on Jan 6 (16 h: Jan 6-7) although ana could start Jan 4. Committed
    # tasks go first, so Q (24 h, only ben, no deadline, earlier in the file) cannot use
    # Jan 4-5 (2 days < 3) and runs Jan 8, 11, 12.
    plan = solve(
        portfolio(
            [person("ana", {"python": 3}, cost_per_hour=1), person("ben", {"python": 3, "go": 2})],
            [
                {"id": "Q", "skill": "go", "effort_hours": 24},
                {
                    "id": "P",
                    "skill": "python",
                    "effort_hours": 16,
                    "pinned": {"person": "ben", "start": "2027-01-06"},
                },
            ],
        )
    )
    assert span(plan, "P") == (("ben",), d(6), d(7))
    assert span(plan, "Q") == (("ben",), d(8), d(12))


def test_pinned_person_on_team() -> None:
    # Two python places; ana is cheaper than eve and zed, but the pin puts eve in the team.
    plan = solve(
        portfolio(
            [
                person("ana", {"python": 3}, cost_per_hour=10),
                person("zed", {"python": 3}, cost_per_hour=20),
                person("eve", {"python": 3}, cost_per_hour=99),
            ],
            [
                {
                    "id": "T",
                    "requirements": [{"skill": "python", "count": 2}],
                    "duration_days": 2,
                    "pinned": {"person": "eve"},
                }
            ],
        )
    )
    people, start, finish = span(plan, "T")
    assert sorted(people) == ["ana", "eve"]
    assert (start, finish) == (d(4), d(5))


def test_hard_deadline_leaves_tasks_unassigned() -> None:
    # Hard deadlines. BIG (80 h = 10 days) cannot finish by Jan 8: out at compile time, and
    # so is its successor AFTER. A (2 days, Jan 4-5) fits; B after A needs Jan 6-8 but must
    # finish by Jan 6: the greedy leaves it out, with the generic reason.
    plan = solve(
        portfolio(
            [person("ana", {"python": 3}), person("ben", {"python": 3})],
            [
                {"id": "BIG", "skill": "python", "effort_hours": 80, "deadline": "2027-01-08"},
                {"id": "AFTER", "skill": "python", "effort_hours": 8, "predecessors": ["BIG"]},
                {"id": "A", "skill": "python", "effort_hours": 16, "deadline": "2027-01-08"},
                {
                    "id": "B",
                    "skill": "python",
                    "effort_hours": 24,
                    "predecessors": ["A"],
                    "deadline": "2027-01-06",
                },
            ],
            policy={"hard_deadlines": True},
        )
    )
    assert span(plan, "A")[1:] == (d(4), d(5))
    assert "window" in reasons(plan, "BIG")[0]
    assert "BIG" in reasons(plan, "AFTER")[0]
    assert reasons(plan, "B") == (GENERIC_REASON,)


def test_soft_deadline_is_only_late() -> None:
    # The same B under soft deadlines is assigned (late): Jan 6-8.
    plan = solve(
        portfolio(
            [person("ana", {"python": 3})],
            [
                {"id": "A", "skill": "python", "effort_hours": 16},
                {
                    "id": "B",
                    "skill": "python",
                    "effort_hours": 24,
                    "predecessors": ["A"],
                    "deadline": "2027-01-06",
                },
            ],
        )
    )
    assert span(plan, "B") == (("ana",), d(6), d(8))


def test_unassignable_skill() -> None:
    # Nobody knows cobol: unassigned with the compiler's reason; its successor too.
    plan = solve(
        portfolio(
            [person("ana", {"python": 5})],
            [
                {"id": "C", "skill": "cobol", "effort_hours": 8},
                {"id": "D", "skill": "python", "effort_hours": 8, "predecessors": ["C"]},
                {"id": "E", "skill": "python", "effort_hours": 8},
            ],
        )
    )
    assert "cobol" in reasons(plan, "C")[0]
    assert reasons(plan, "D")
    assert span(plan, "E") == (("ana",), d(4), d(4))


def test_wait_task_needs_nobody() -> None:
    # A (Jan 4-5), then a 3-working-day lag W (Jan 6-8, no people), then B from Jan 11.
    plan = solve(
        portfolio(
            [person("ana", {"python": 3})],
            [
                {"id": "A", "skill": "python", "effort_hours": 16},
                {"id": "W", "requirements": [], "duration_days": 3, "predecessors": ["A"]},
                {"id": "B", "skill": "python", "effort_hours": 8, "predecessors": ["W"]},
            ],
        )
    )
    assert span(plan, "W") == ((), d(6), d(8))
    assert span(plan, "B") == (("ana",), d(11), d(11))


def test_rules_order_differently() -> None:
    # One person, two 5-day tasks. LOW (priority 1) is due Jan 8, HIGH (priority 5) Jan 29.
    # edf: LOW first (Jan 4-8), HIGH Jan 11-15; priority: HIGH first, LOW second.
    data = portfolio(
        [person("ana", {"python": 3})],
        [
            {"id": "HIGH", "skill": "python", "effort_hours": 40, "priority": 5},
            {"id": "LOW", "skill": "python", "effort_hours": 40, "deadline": "2027-01-08"},
        ],
    )
    edf = solve(data, "edf")
    assert span(edf, "LOW")[1:] == (d(4), d(8))
    assert span(edf, "HIGH")[1:] == (d(11), d(15))
    prio = solve(data, "priority")
    assert span(prio, "HIGH")[1:] == (d(4), d(8))
    assert span(prio, "LOW")[1:] == (d(11), d(15))


def test_value_rule_books_what_unlocks_most_work_first() -> None:
    # One person, 20 working days. H: priority 2, 10 days. R: priority 1, 5 days, and S
    # (priority 5, 10 days) waits for R. priority: H (Jan 4-15), R (Jan 18-22), then S does not
    # fit by Jan 29: 400 weighted hours undelivered. value: R carries S's work (40 + 400
    # weighted hours against H's 160): R Jan 4-8, S Jan 11-22, H is left out (160).
    data = portfolio(
        [person("ana", {"python": 3})],
        [
            {"id": "H", "skill": "python", "effort_hours": 80, "priority": 2},
            {"id": "R", "skill": "python", "effort_hours": 40, "priority": 1},
            {
                "id": "S",
                "skill": "python",
                "effort_hours": 80,
                "priority": 5,
                "predecessors": ["R"],
            },
        ],
    )
    prio = solve(data, "priority")
    assert span(prio, "H")[1:] == (d(4), d(15))
    assert span(prio, "R")[1:] == (d(18), d(22))
    assert [u.task for u in prio.unassigned] == ["S"]
    value = solve(data, "value")
    assert span(value, "R")[1:] == (d(4), d(8))
    assert span(value, "S")[1:] == (d(11), d(22))
    assert [u.task for u in value.unassigned] == ["H"]
    assert prio.objective is not None and value.objective is not None
    assert value.objective["undelivered_work_hours"] == 160
    assert prio.objective["undelivered_work_hours"] == 400


def test_downstream_value_adds_every_successor_once_per_path() -> None:
    # A -> B -> D and A -> C -> D (a diamond), E alone: D's work reaches A by two paths
    pf = load_portfolio(
        portfolio(
            [person("ana", {"python": 3})],
            [
                {"id": "A", "skill": "python", "effort_hours": 8},
                {"id": "B", "skill": "python", "effort_hours": 16, "predecessors": ["A"]},
                {"id": "C", "skill": "python", "effort_hours": 24, "predecessors": ["A"]},
                {"id": "D", "skill": "python", "effort_hours": 8, "predecessors": ["B", "C"]},
                {"id": "E", "skill": "python", "effort_hours": 40},
            ],
        )
    )
    inst = compile_instance(pf)
    units = {t.id: t.units for t in inst.tasks}
    got = dict(zip((t.id for t in inst.tasks), downstream_value(inst), strict=True))
    assert got["D"] == units["D"]
    assert got["B"] == units["B"] + units["D"]
    assert got["C"] == units["C"] + units["D"]
    assert got["A"] == units["A"] + got["B"] + got["C"]
    assert got["E"] == units["E"]


def test_earliest_finish_then_cost() -> None:
    # ana (cheap) is off Jan 4-5, ben (dear) is free: ben finishes first (Jan 4-5) and wins.
    # A second task then goes to ana (Jan 6-7) rather than ben (Jan 6-7 too, but dearer).
    plan = solve(
        portfolio(
            [
                person(
                    "ana",
                    {"python": 3},
                    cost_per_hour=10,
                    time_off=[{"start": "2027-01-04", "end": "2027-01-05"}],
                ),
                person("ben", {"python": 3}, cost_per_hour=50),
            ],
            [
                {"id": "T1", "skill": "python", "effort_hours": 16, "deadline": "2027-01-10"},
                {"id": "T2", "skill": "python", "effort_hours": 16, "deadline": "2027-01-20"},
            ],
        )
    )
    assert span(plan, "T1") == (("ben",), d(4), d(5))
    assert span(plan, "T2") == (("ana",), d(6), d(7))


def test_in_progress_keeps_its_person() -> None:
    # Re-planning on Jan 6: T is in progress with ben (2 days left) and keeps him (Jan 6-7)
    # although ana is cheaper. U (not started) takes ana from Jan 6.
    plan = solve(
        portfolio(
            [person("ana", {"python": 3}, cost_per_hour=1), person("ben", {"python": 3})],
            [
                {
                    "id": "T",
                    "skill": "python",
                    "effort_hours": 40,
                    "status": "in_progress",
                    "progress": {"people": ["ben"], "remaining_days": 2},
                },
                {"id": "U", "skill": "python", "effort_hours": 8},
                {"id": "OLD", "skill": "python", "effort_hours": 8, "status": "done"},
            ],
            as_of="2027-01-06",
        )
    )
    assert span(plan, "T") == (("ben",), d(6), d(7))
    assert span(plan, "U") == (("ana",), d(6), d(6))
    assert plan.changes is None
    assert {a.task for a in plan.assignments} | {u.task for u in plan.unassigned} == {"T", "U"}


def test_in_progress_with_a_later_pinned_start_stays_valid() -> None:
    # The in-progress task cannot go on at Jan 6 and keep its pin (Jan 11): the pin is kept
    # (issue 11, item 3: a pinned task is unassigned only when keeping it is impossible), so
    # it starts on the pinned date with its person, listed as a forced change.
    plan = solve(
        portfolio(
            [person("ana", {"python": 3})],
            [
                {
                    "id": "T",
                    "skill": "python",
                    "effort_hours": 16,
                    "status": "in_progress",
                    "progress": {"people": ["ana"], "remaining_days": 2},
                    "pinned": {"start": "2027-01-11"},
                }
            ],
            as_of="2027-01-06",
        )
    )
    assert span(plan, "T") == (("ana",), d(11), d(12))
    assert plan.unassigned == ()
    assert plan.changes is not None
    assert [(c.task, c.forced) for c in plan.changes] == [("T", True)]


def test_makespan_portfolio_is_fully_assigned() -> None:
    plan = solve(
        portfolio(
            [person("ana", {"python": 3}), person("ben", {"python": 3})],
            [
                {"id": "A", "skill": "python", "effort_hours": 16},
                {"id": "B", "skill": "python", "effort_hours": 16},
                {"id": "C", "skill": "python", "effort_hours": 8, "predecessors": ["A", "B"]},
            ],
            policy={"objective": "makespan"},
        )
    )
    assert not plan.unassigned
    assert plan.objective == {"makespan_days": 3}  # C on Jan 6 = index 2


def test_unknown_rule() -> None:
    inst = compile_instance(load_portfolio(portfolio([person("a", {"x": 1})], [])))
    with pytest.raises(ValueError, match="unknown greedy rule"):
        greedy(inst, rule="random")


# -- to_plan ------------------------------------------------------------------------------------
def test_to_plan_fields() -> None:
    pf = load_portfolio(
        portfolio(
            [person("ana", {"python": 3}, cost_per_hour=12.5, hours_per_day=6)],
            [
                {"id": "A", "skill": "python", "effort_hours": 10, "allocation": 50},
                {"id": "B", "skill": "python", "effort_hours": 8},
            ],
        )
    )
    inst = compile_instance(pf)
    sched = Schedule()
    sched.add(inst.task_index["A"], 0, 3, (0,))
    plan = to_plan(
        inst,
        sched,
        status="feasible",
        objective={"undelivered_work_hours": 8.0, "weighted_late_days": 0},
        lower_bound={"undelivered_work_hours": 1.5},
        solve_seconds=0.5,
        solver="test",
        reasons={inst.task_index["B"]: ["because"]},
    )
    # 10 h at 50 % of 6 h: ceil(10 / 3) = 4 days; hours 4 x 6 x 0.5 = 12, cost 12 x 12.5 = 150
    assert plan.assignments == (Assignment("A", ("ana",), d(4), d(7), hours=12.0, cost=150.0),)
    assert [(u.task, u.reasons) for u in plan.unassigned] == [("B", ("because",))]
    assert (plan.status, plan.objective, plan.lower_bound, plan.solve_seconds) == (
        "feasible",
        {"undelivered_work_hours": 8.0, "weighted_late_days": 0},
        {"undelivered_work_hours": 1.5},
        0.5,
    )
    assert plan.changes is None
    assert dict(plan.extra) == {"solver": "test"}
    plan2 = to_plan(
        inst,
        Schedule(),
        status="unknown",
        objective=None,
        lower_bound=None,
        solve_seconds=0,
        solver="x",
    )
    assert [u.reasons for u in plan2.unassigned] == [(GENERIC_REASON,), (GENERIC_REASON,)]


def test_to_plan_lists_changes() -> None:
    # ben left on Jan 5: the in-progress task cannot keep him and is reassigned (a change).
    plan = solve(
        portfolio(
            [
                person("ana", {"python": 3}),
                person("ben", {"python": 3}, available_until="2027-01-05"),
            ],
            [
                {
                    "id": "T",
                    "skill": "python",
                    "effort_hours": 40,
                    "status": "in_progress",
                    "progress": {"people": ["ben"], "remaining_hours": 16},
                }
            ],
            as_of="2027-01-06",
        )
    )
    assert span(plan, "T") == (("ana",), d(6), d(7))
    assert plan.changes is not None and [c.task for c in plan.changes] == ["T"]


def test_book_takes_active_days_only() -> None:
    # ana is away Jan 5; a Jan 4-6 span takes 60 % on Jan 4 and 6 only.
    pf = load_portfolio(
        portfolio(
            [person("ana", {"x": 1}, time_off=[{"start": "2027-01-05", "end": "2027-01-05"}])], []
        )
    )
    inst = compile_instance(pf)
    free = initial_free(inst)
    book(free, 60, 0, 2, (0,))
    assert free[0, :4].tolist() == [40, -1, 40, 100]


# -- properties ---------------------------------------------------------------------------------
def _perturbed_example(draw: st.DrawFn) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    data = copy.deepcopy(data)
    ids = [p["id"] for p in data["people"]]
    keep = draw(st.lists(st.sampled_from(ids), min_size=1, max_size=len(ids), unique=True))
    data["people"] = [p for p in data["people"] if p["id"] in keep]
    start = date(2027, 1, 4)
    replanning = draw(st.booleans())
    if replanning:
        data["as_of"] = (start + timedelta(days=draw(st.integers(0, 60)))).isoformat()

    def shift(value: str | None) -> str:
        base = date.fromisoformat(value) if value else start + timedelta(days=40)
        return (base + timedelta(days=draw(st.integers(-40, 40)))).isoformat()

    for project in data["projects"]:
        if draw(st.booleans()):
            project["deadline"] = shift(project.get("deadline"))
        for task in project["tasks"]:
            for key in ("exclude", "prefer"):
                if key in task:
                    task[key] = [p for p in task[key] if p in keep]
            pin = task.get("pinned")
            if pin is not None and (
                pin.get("person") not in keep or pin.get("start", "9999") < data.get("as_of", "")
            ):
                del task["pinned"]  # a pin on a dropped person or before as_of is invalid input
            if draw(st.booleans()):
                task["deadline"] = shift(task.get("deadline"))
            if "effort_hours" in task and draw(st.booleans()):
                task["effort_hours"] = draw(st.integers(1, 240))
            if "duration_days" in task and draw(st.booleans()):
                task["duration_days"] = draw(st.integers(1, 15))
            if draw(st.integers(0, 4)) == 0:
                task["allocation"] = draw(st.sampled_from([25, 50, 75, 100]))
            if replanning:
                _perturb_status(draw, task, keep)
    if draw(st.booleans()):
        data["policy"] = {"hard_deadlines": True}
    return data


def _perturb_status(draw: st.DrawFn, task: dict[str, Any], people: list[str]) -> None:
    """Re-planning: some tasks done or cancelled, some in progress with random people."""
    status = draw(st.sampled_from(["todo", "todo", "done", "cancelled", "in_progress"]))
    places = sum(r.get("count", 1) for r in task["requirements"]) if "requirements" in task else 1
    if status == "in_progress" and len(people) < places:
        status = "todo"
    task["status"] = status
    if status == "in_progress":
        who = draw(st.lists(st.sampled_from(people), min_size=places, max_size=places, unique=True))
        task["progress"] = {"people": who, "remaining_days": draw(st.integers(1, 10))}


@st.composite
def perturbed_examples(draw: st.DrawFn) -> dict[str, Any]:
    return _perturbed_example(draw)


@settings(deadline=None, max_examples=40)
@given(data=perturbed_examples(), rule=st.sampled_from(RULES))
def test_perturbed_example_plans_are_valid(data: dict[str, Any], rule: str) -> None:
    solve(data, rule)


def test_example_portfolio_is_fully_planned() -> None:
    for rule in RULES:
        plan = solve(load_portfolio(EXAMPLE), rule)
        assert not plan.unassigned


@settings(deadline=None, max_examples=40)
@given(
    seed=st.integers(0, 10_000),
    hard=st.booleans(),
    tightness=st.sampled_from([0.6, 1.0, 1.5]),
    rule=st.sampled_from(RULES),
)
def test_generated_portfolio_plans_are_valid(
    seed: int, hard: bool, tightness: float, rule: str
) -> None:
    pf = generate(
        people=8,
        projects=5,
        seed=seed,
        tightness=tightness,
        team_task_share=0.3,
        pin_share=0.2,
        hard_deadlines=hard,
    )
    solve(pf, rule)


# -- scale: stopping, the engine's fallback -----------------------------------------------------
def test_a_stopped_greedy_keeps_a_valid_prefix() -> None:
    """``stop`` cuts the list schedule short: the tasks placed so far stay, the rest are
    unassigned, and the plan is valid."""
    from allocator.generator import generate
    from solver_models.greedy import STOP_EVERY

    pf = generate(30, 40, seed=5, team_task_share=0.2, pin_share=0.1)
    inst = compile_instance(pf)
    full = greedy(inst, rule="edf")
    polls: list[int] = []

    def stop() -> bool:
        polls.append(1)
        return len(polls) >= 2

    cut = greedy(inst, rule="edf", stop=stop)
    assert len(polls) == 2 and 0 < len(cut) < len(full) and len(cut) <= 2 * STOP_EVERY
    for i in cut.start:  # a prefix of the same schedule
        assert (cut.start[i], cut.finish[i], cut.people[i]) == (
            full.start[i],
            full.finish[i],
            full.people[i],
        )
    plan = to_plan(
        inst, cut, status="feasible", objective=None, lower_bound=None, solve_seconds=0, solver=""
    )
    result = check(pf, replace(plan, objective=plan_terms(pf, plan)))
    assert result.valid, [str(v) for v in result.violations]
    assert result.current, [str(v) for v in result.stale]


_BASELINE_PORTFOLIOS: dict[tuple[int, int], Portfolio] = {}


def _generated(people: int, projects: int) -> Portfolio:
    key = (people, projects)
    if key not in _BASELINE_PORTFOLIOS:
        _BASELINE_PORTFOLIOS[key] = generate(people, projects, seed=2)
    return _BASELINE_PORTFOLIOS[key]


@pytest.mark.parametrize("size", [(60, 60), (8, 6)], ids=["60x60", "8x6"])
@pytest.mark.parametrize("time_limit", [0.001, 0.1, 1.0])
def test_solve_is_never_worse_than_the_greedy_baseline(
    size: tuple[int, int], time_limit: float
) -> None:
    """The README: never worse than the greedy baseline, at any time limit (issue 11, item 4).
    At 0.001 s on ``generate(60, 60, seed=2)`` the engine used to run only the greedy rules
    that fit in the time and return a worse plan than the baseline: every rule now runs
    before the first result."""
    from allocator.engine import GREEDY_RUNS, SolveParams
    from allocator.engine import solve as engine_solve

    pf = _generated(*size)
    baseline = engine_solve(pf, SolveParams(greedy_only=True))
    result = engine_solve(pf, SolveParams(time_limit=time_limit, workers=1, seed=0))
    for r in (baseline, result):
        report = check(pf, r.plan)
        assert report.valid and report.current, [str(v) for v in report.violations]
        assert r.key is not None and r.key == plan_key(pf, r.plan)
        assert r.stats["greedy_runs"] == len(GREEDY_RUNS)  # every rule, whatever the limit
    assert result.key is not None and baseline.key is not None
    # candidates are ranked by pinned tasks dropped first; here both keep every pin, so the
    # objective alone decides
    assert result.stats["pins_dropped"] == baseline.stats["pins_dropped"] == 0
    assert result.key <= baseline.key
    # the same in planner units: the first term that differs is smaller
    assert result.objective is not None and baseline.objective is not None
    assert list(result.objective) == list(baseline.objective)
    pairs = [(result.objective[n], baseline.objective[n]) for n in result.objective]
    differ = [(x, y) for x, y in pairs if x != y]
    assert differ == [] or differ[0][0] < differ[0][1], pairs


def test_engine_stopped_before_the_solve_returns_a_greedy_plan() -> None:
    """A stop request before the solve: the first greedy run, cut short, and no search."""
    import threading

    from allocator.engine import SolveParams
    from allocator.engine import solve as engine_solve

    pf = _generated(60, 60)
    stop = threading.Event()
    stop.set()
    stopped = engine_solve(pf, SolveParams(time_limit=30, stop_event=stop))
    assert stopped.stats["search_skipped"] == "stopped"
    assert stopped.stats["greedy_runs"] == 1  # the runs after the first are skipped
    report = check(pf, stopped.plan)
    assert report.valid and report.current, [str(v) for v in report.violations]
