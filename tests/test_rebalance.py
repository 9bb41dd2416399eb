"""Re-planning from a previous plan: warm start, freeze window, churn budget, stability.

Calendar: Mon 2027-01-04 .. Fri 2027-01-29 (20 working days) unless told otherwise.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from allocator import load_portfolio
from allocator.checker import check
from allocator.contract import dump_plan, load_plan, plan_to_dict, portfolio_to_dict, read_plan
from allocator.diff import BETTER_USE, changed_tasks
from allocator.domain import Assignment, Plan, Portfolio
from allocator.engine import SolveParams, solve
from allocator.generator import generate
from allocator.history import PASSED_PIN, settle_history
from allocator.objective import evaluate
from allocator.rebalance import (
    DEFAULT_STABILITY,
    RebalancePolicy,
    rebalance,
    rebalance_tradeoff,
)
from tests.conftest import portfolio_dict

D = date.fromisoformat
FAST = SolveParams(time_limit=2, workers=1, seed=0)


def valid(portfolio: Portfolio, plan: Plan) -> None:
    report = check(portfolio, plan)
    assert report.valid, report.violations


def three_tasks(**policy: Any) -> Portfolio:
    """ann is expensive, bob cheap; three 2-day py tasks that bob could take over."""
    return load_portfolio(
        portfolio_dict(
            [
                {"id": "ann", "skills": {"py": 3}, "cost_per_hour": 50},
                {"id": "bob", "skills": {"py": 3}, "cost_per_hour": 10},
            ],
            [{"id": f"t{i}", "skill": "py", "effort_hours": 16} for i in (1, 2, 3)],
            policy=policy or None,
            as_of="2027-01-04",
        )
    )


def all_on_ann() -> Plan:
    """A valid but poor previous plan: ann does the three tasks one after another."""
    days = [
        ("2027-01-04", "2027-01-05"),
        ("2027-01-06", "2027-01-07"),
        ("2027-01-08", "2027-01-11"),
    ]
    return Plan(
        portfolio="tiny",
        status="feasible",
        objective=None,
        lower_bound=None,
        solve_seconds=0.0,
        assignments=tuple(
            Assignment(f"t{i}", ("ann",), D(s), D(f)) for i, (s, f) in enumerate(days, 1)
        ),
    )


def test_policy_keys_are_read_without_warning() -> None:
    p = three_tasks(freeze_days=3, churn_budget=1, stability=2)
    assert RebalancePolicy.of(p) == RebalancePolicy(freeze_days=3, churn_budget=1, stability=2)
    assert RebalancePolicy.of(p, churn_budget=0).churn_budget == 0
    with pytest.raises(ValueError, match="churn_budget"):
        RebalancePolicy.of(p, churn_budget=-1)


def test_unchanged_portfolio_changes_nothing() -> None:
    p = three_tasks(stability=1)
    prev = all_on_ann()
    res = rebalance(p, prev, FAST)
    valid(p, res.plan)
    assert changed_tasks(prev, res.plan) == set()
    assert res.stats["moved"] == 0 and res.plan.changes is None


def test_without_stability_it_improves_and_reports_changes() -> None:
    p = three_tasks()
    prev = all_on_ann()
    res = rebalance(p, prev, FAST, stability=0)
    valid(p, res.plan)
    moved = changed_tasks(prev, res.plan)
    assert moved  # bob is cheaper and the work finishes earlier
    assert {c.task for c in res.plan.changes or ()} == moved
    # nothing changed in the world: every change was the engine's choice
    assert all(not c.forced and c.reasons == (BETTER_USE,) for c in res.plan.changes or ())
    assert res.stats["unforced"] == len(moved) == res.stats["moved"]


def test_churn_budget_honored() -> None:
    p = three_tasks()
    prev = all_on_ann()
    for k in (0, 1):
        res = rebalance(p, prev, FAST, churn_budget=k)
        valid(p, res.plan)
        assert len(changed_tasks(prev, res.plan)) <= k


def test_freeze_window_honored() -> None:
    # as_of = Mon 4 Jan; freeze 3 working days: t1 (starts idx 0) and t2 (idx 2) stay on ann
    p = three_tasks(freeze_days=3)
    prev = all_on_ann()
    res = rebalance(p, prev, FAST, stability=0)
    valid(p, res.plan)
    a = {x.task: x for x in res.plan.assignments}
    for t in ("t1", "t2"):
        old = prev.assignment_of(t)
        assert old is not None
        assert (a[t].people, a[t].start, a[t].finish) == (old.people, old.start, old.finish)
    assert res.stats["frozen"] == 2
    assert "t3" in changed_tasks(prev, res.plan)  # outside the window it may move (to bob)


def test_forced_change_does_not_use_the_budget() -> None:
    # ann leaves after Tue 5 Jan: t2 and t3 must move even with a budget of 0
    data = portfolio_to_dict(three_tasks())
    data["people"][0]["available_until"] = "2027-01-05"
    p = load_portfolio(data)
    prev = all_on_ann()
    res = rebalance(p, prev, FAST, churn_budget=0)
    valid(p, res.plan)
    assert res.stats["forced"] == 2 and res.stats["moved"] == 0
    a = {x.task: x for x in res.plan.assignments}
    assert a["t1"].people == ("ann",) and a["t2"].people == ("bob",)
    reasons = {c.task: c.reasons for c in res.plan.changes or ()}
    assert any("ann leaves on 2027-01-05" in r for r in reasons["t2"])
    assert {c.task: c.forced for c in res.plan.changes or ()} == {"t2": True, "t3": True}


def test_in_progress_kept_with_its_people_then_reassigned_when_gone() -> None:
    people = [
        {"id": "ann", "skills": {"py": 3}},
        {"id": "bob", "skills": {"py": 3}},
    ]
    task = {
        "id": "t",
        "skill": "py",
        "effort_hours": 40,
        "status": "in_progress",
        "progress": {"people": ["ann"], "remaining_hours": 16},
    }
    p = load_portfolio(portfolio_dict(people, [task], as_of="2027-01-06"))
    res = solve(p, FAST)
    valid(p, res.plan)
    a = res.plan.assignments[0]
    assert (a.people, a.start, a.finish) == (("ann",), D("2027-01-06"), D("2027-01-07"))
    assert res.plan.changes is None
    people[0]["available_until"] = "2027-01-05"
    p2 = load_portfolio(portfolio_dict(people, [task], as_of="2027-01-06"))
    res2 = rebalance(p2, res.plan, FAST)
    valid(p2, res2.plan)
    assert res2.plan.assignments[0].people == ("bob",)
    changes = {c.task: c.reasons for c in res2.plan.changes or ()}
    assert any("ann is no longer available" in r for r in changes["t"])
    assert [c.forced for c in res2.plan.changes or ()] == [True]


def _generated() -> tuple[Portfolio, Plan]:
    # slack enough that everything is delivered: no move is needed to deliver more work
    p = generate(6, 3, seed=1, tightness=0.5)
    return p, solve(p, FAST).plan


@pytest.mark.parametrize(("which", "change"), [(0, "cancel"), (6, "grow")])
def test_perturbation_of_one_task_moves_few_others(which: int, change: str) -> None:
    p, prev = _generated()
    data = portfolio_to_dict(p)
    task = [t for proj in data["projects"] for t in proj["tasks"]][which]
    if change == "cancel":
        task["status"] = "cancelled"
    else:
        task["effort_hours"] += 8  # one more day of work
    p2 = load_portfolio(data)
    res = rebalance(p2, prev, FAST, stability=1)
    valid(p2, res.plan)
    assert res.stats["moved"] == 0
    assert changed_tasks(prev, res.plan) <= {task["id"]}
    # the engine's façade passes the previous plan through
    res2 = solve(p2, SolveParams(time_limit=2, workers=1, previous=prev))
    valid(p2, res2.plan)
    assert str(res2.plan.extra["solver"]).startswith("rebalance:")


def test_tradeoff_rows() -> None:
    p = three_tasks()
    rows = rebalance_tradeoff(p, all_on_ann(), FAST, budgets=(0, 1, None))
    assert [r["max_changes"] for r in rows] == [0, 1, None]
    assert rows[0]["moved"] == 0 and rows[1]["moved"] <= 1
    # more room for change never makes the plan worse here (solved to optimality)
    names = ("undelivered_work_hours", "weighted_late_days", "weighted_finish_days", "cost")
    keys = [tuple(r[k] for k in names) for r in rows]
    assert keys[0] >= keys[1] >= keys[2] and keys[0] > keys[2]


# -- stable by default, and forced vs chosen changes ------------------------------------------


def test_default_policy_is_stable() -> None:
    assert DEFAULT_STABILITY >= 1
    assert RebalancePolicy.of(three_tasks()).stability == DEFAULT_STABILITY
    assert RebalancePolicy().stability == DEFAULT_STABILITY
    # 0 is a real setting (a free re-plan), not "use the default"
    assert RebalancePolicy.of(three_tasks(stability=0)).stability == 0
    assert RebalancePolicy.of(three_tasks(), stability=0).stability == 0


@pytest.mark.parametrize("bob_cost", [50, 10], ids=["only-earlier", "earlier-and-cheaper"])
def test_default_never_churns_only_to_finish_earlier_or_cheaper(bob_cost: int) -> None:
    # all on ann, one after another: valid, no deadline, nothing changed in the world. Moving
    # t2 and t3 to bob finishes earlier (and cheaper when bob costs less): a free re-plan does
    # it, the default does not.
    data = portfolio_to_dict(three_tasks())
    data["people"][1]["cost_per_hour"] = bob_cost
    p = load_portfolio(data)
    prev = all_on_ann()
    free = rebalance(p, prev, FAST, stability=0)
    valid(p, free.plan)
    assert changed_tasks(prev, free.plan)  # the move pays without a price
    assert evaluate(p, free.plan).finish < evaluate(p, prev).finish
    res = rebalance(p, prev, FAST)  # the default
    valid(p, res.plan)
    assert res.stats["policy"]["stability"] == DEFAULT_STABILITY  # type: ignore[index]
    assert changed_tasks(prev, res.plan) == set()
    assert res.plan.changes is None and res.stats["unforced"] == 0


def test_default_still_moves_to_cut_real_lateness() -> None:
    # t3 (priority 5) is due Tue 5 Jan but the previous plan finishes it Mon 11 Jan: 4 late
    # working days x 5 = 20 weighted late days > the price of one change. It moves to bob,
    # the engine's choice (not forced: the old dates were still valid).
    data = portfolio_to_dict(three_tasks())
    t3 = data["projects"][0]["tasks"][2]
    t3.update(deadline="2027-01-05", priority=5)
    p = load_portfolio(data)
    prev = all_on_ann()
    res = rebalance(p, prev, FAST)
    valid(p, res.plan)
    assert changed_tasks(prev, res.plan) == {"t3"}
    (c,) = res.plan.changes or ()
    assert c.task == "t3" and not c.forced
    assert any(r.startswith("deadline risk") for r in c.reasons)
    assert evaluate(p, res.plan).late == 0


def five_people_leaver() -> tuple[Portfolio, Plan]:
    """ann does t1, t2, t3 one after another and leaves after Tue 5 Jan; cat does t4 then t5;
    bob, dan and eve are free. t2 and t3 must move (forced); t5 could start on Monday with
    someone free (finish earlier: a choice)."""
    people = [{"id": x, "skills": {"py": 3}} for x in ("ann", "bob", "cat", "dan", "eve")]
    people[0]["available_until"] = "2027-01-05"
    tasks = [{"id": f"t{i}", "skill": "py", "effort_hours": 16} for i in range(1, 6)]
    p = load_portfolio(portfolio_dict(people, tasks, as_of="2027-01-04"))
    rows = [
        ("t1", "ann", "2027-01-04", "2027-01-05"),
        ("t2", "ann", "2027-01-06", "2027-01-07"),
        ("t3", "ann", "2027-01-08", "2027-01-11"),
        ("t4", "cat", "2027-01-04", "2027-01-05"),
        ("t5", "cat", "2027-01-06", "2027-01-07"),
    ]
    prev = Plan(
        portfolio="tiny",
        status="feasible",
        objective=None,
        lower_bound=None,
        solve_seconds=0.0,
        assignments=tuple(Assignment(t, (w,), D(s), D(f)) for t, w, s, f in rows),
    )
    return p, prev


def test_planted_leaver_changes_are_forced_and_choices_are_not() -> None:
    p, prev = five_people_leaver()
    res = rebalance(p, prev, FAST)  # default: only what the leaver forces
    valid(p, res.plan)
    forced = {c.task: c.forced for c in res.plan.changes or ()}
    assert forced == {"t2": True, "t3": True}
    assert res.stats["unforced"] == 0
    free = rebalance(p, prev, FAST, stability=0)
    valid(p, free.plan)
    forced = {c.task: c.forced for c in free.plan.changes or ()}
    assert forced["t2"] is True and forced["t3"] is True
    assert forced.get("t5") is False  # moved to finish earlier: chosen, not forced
    assert {t for t, f in forced.items() if not f} == {"t5"}
    reasons = {c.task: c.reasons for c in free.plan.changes or ()}
    assert reasons["t5"] == (BETTER_USE,)
    assert all(
        any(r.startswith("person unavailable: ann") for r in reasons[t]) for t in ("t2", "t3")
    )


def test_forced_survives_the_json_round_trip(tmp_path: Any) -> None:
    p, prev = five_people_leaver()
    plan = rebalance(p, prev, FAST, stability=0).plan
    assert {c.forced for c in plan.changes or ()} == {True, False}
    path = tmp_path / "plan.json"
    dump_plan(plan, path)
    back = load_plan(path)
    assert back.changes == plan.changes
    assert [c["forced"] for c in plan_to_dict(plan)["changes"]] == [
        c.forced for c in plan.changes or ()
    ]


def test_forced_is_required_in_a_v2_plan_and_false_in_a_v1_plan() -> None:
    p, prev = five_people_leaver()
    data = plan_to_dict(rebalance(p, prev, FAST).plan)
    assert data["changes"]
    del data["changes"][0]["forced"]
    _, issues = read_plan(data)
    assert any(i.path == "changes[0].forced" and i.severity == "error" for i in issues)
    data["changes"][0]["forced"] = "yes"
    _, issues = read_plan(data)
    assert any(i.path == "changes[0].forced" and i.severity == "error" for i in issues)
    del data["changes"][0]["forced"]
    data["format"] = "allocator.plan/v1"
    plan, issues = read_plan(data)
    assert not any(i.path.startswith("changes") for i in issues)
    assert plan.changes is not None and plan.changes[0].forced is False


def test_settle_puts_back_a_move_made_for_nothing_only() -> None:
    from allocator.rebalance import map_previous, moved_tasks, settle
    from solver_models.instance import compile_instance
    from solver_models.schedule import Schedule

    inst = compile_instance(three_tasks())
    kept = map_previous(inst, all_on_ann()).kept
    t = {info.id: info.index for info in inst.tasks}
    bob = inst.person_index["bob"]
    sched = Schedule(dict(kept.start), dict(kept.finish), dict(kept.people))
    sched.add(t["t3"], 0, 1, (bob,))  # moved to bob, days 0-1: the old slot is free again
    out, back = settle(inst, kept, sched, lambda s: (len(moved_tasks(kept, s)),))
    assert back == 1 and moved_tasks(kept, out) == set()
    # a key that prefers the move keeps it
    out2, back2 = settle(inst, kept, sched, lambda s: (-len(moved_tasks(kept, s)),))
    assert back2 == 0 and moved_tasks(kept, out2) == {t["t3"]}


# -- history: pinned starts that as_of has passed (allocator.history) --------------------------
def _pinned_one(as_of: str, **task: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    people = [{"id": "ann", "skills": {"py": 3}}, {"id": "bob", "skills": {"py": 3}}]
    t = {
        "id": "t",
        "skill": "py",
        "effort_hours": 24,
        "pinned": {"person": "bob", "start": "2027-01-05"},
    }
    return people, {**t, **task}


def _on_bob_from_the_5th() -> Plan:
    return Plan(
        portfolio="tiny",
        status="feasible",
        objective=None,
        lower_bound=None,
        solve_seconds=0.0,
        assignments=(Assignment("t", ("bob",), D("2027-01-05"), D("2027-01-07")),),
    )


def test_in_progress_work_keeps_its_people_from_as_of_past_its_pinned_start() -> None:
    # t began on its pinned 5 Jan with bob; on the 6th, 16 h are left: bob goes on from the 6th
    # (the 6th and 7th). Before: "pinned to start on 2027-01-05" dropped bob's progress and the
    # passed pin left the task unplannable.
    people, task = _pinned_one(
        "2027-01-06",
        status="in_progress",
        progress={"people": ["bob"], "remaining_hours": 16},
    )
    p = load_portfolio(portfolio_dict(people, [task], as_of="2027-01-06"))
    res = rebalance(p, _on_bob_from_the_5th(), FAST)
    valid(settle_history(p).portfolio, res.plan)
    a = res.plan.assignments[0]
    assert (a.people, a.start, a.finish) == (("bob",), D("2027-01-06"), D("2027-01-07"))
    assert not any(PASSED_PIN in r for c in res.plan.changes or () for r in c.reasons)


@pytest.mark.parametrize("bob_leaves", [False, True])
def test_passed_pin_of_work_not_started_becomes_a_forced_change(bob_leaves: bool) -> None:
    # t, pinned to bob on 5 Jan, never started; on the 11th it is planned from the 11th, with
    # bob when he is still there (the pin's person kept), else with ann (the pin goes too)
    people, task = _pinned_one("2027-01-11")
    if bob_leaves:
        people[1]["available_until"] = "2027-01-08"
    p = load_portfolio(portfolio_dict(people, [task], as_of="2027-01-11"))
    res = rebalance(p, _on_bob_from_the_5th(), FAST)
    valid(settle_history(p).portfolio, res.plan)
    a = res.plan.assignments[0]
    assert a.start == D("2027-01-11")
    assert a.people == (("ann",) if bob_leaves else ("bob",))
    (change,) = res.plan.changes or ()
    assert change.task == "t" and change.forced
    assert change.reasons[0].startswith(f"{PASSED_PIN} 2027-01-05 has passed (as_of 2027-01-11)")
    assert ("no longer available" in change.reasons[0]) == bob_leaves
