"""Pins are kept: a pinned task is left unassigned only when that is impossible, with a reason
naming the pin (contract, task ``pinned``). Every path: the whole CP-SAT model, the greedy, LNS
and rebalancing.

Calendar: Mon 2027-01-04 .. Fri 2027-01-29, Mon-Fri: 20 working days (idx 0 = Mon 4 Jan).
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from allocator import load_portfolio
from allocator.checker import check
from allocator.domain import Plan, Portfolio
from allocator.engine import Result, SolveParams, solve
from allocator.errors import PortfolioError
from allocator.reasons import pin_text
from allocator.rebalance import rebalance
from solver_models.cpsat import PINS_STAGE, CpSatParams, solve_lexicographic
from solver_models.greedy import RULES, greedy
from solver_models.instance import Instance, compile_instance
from solver_models.lns import LNS_SHARES, Job, improve, solve_neighbourhood
from solver_models.schedule import Schedule, pins_dropped
from tests.conftest import portfolio_dict

START = date(2027, 1, 4)


def day(i: int) -> date:
    """The working day of index ``i`` on a Mon-Fri calendar from ``START``."""
    return START + timedelta(weeks=i // 5, days=i % 5)


def planted(pin: dict[str, Any] | None = None, **top: Any) -> dict[str, Any]:
    """The case seen: ``small`` (5 days, priority 1) pinned to ann, the only py person, and
    ``big`` (18 days, priority 5) for ann too; 5 + 18 > 20 days, so one of them is left out.
    By the objective alone ``small`` goes (40 h of undelivered work against 5 x 144 h). Its
    predecessor ``prep`` (bob, 1 day) is not pinned, so a greedy that takes ready tasks by
    priority books ``big`` on ann first."""
    return portfolio_dict(
        [{"id": "ann", "skills": {"py": 3}}, {"id": "bob", "skills": {"doc": 2}}],
        [
            {"id": "prep", "skill": "doc", "effort_hours": 8},
            {
                "id": "small",
                "skill": "py",
                "effort_hours": 40,
                "predecessors": ["prep"],
                "pinned": pin if pin is not None else {"person": "ann"},
            },
            {"id": "big", "skill": "py", "effort_hours": 144, "priority": 5},
        ],
        **top,
    )


PINS = {
    "person": {"person": "ann"},
    "start": {"start": "2027-01-05"},
    "both": {"person": "ann", "start": "2027-01-05"},
}
PATHS = {
    "cp-sat": SolveParams(time_limit=5, workers=1, seed=0, strategy="cp-sat"),
    "greedy": SolveParams(time_limit=5, workers=1, seed=0, greedy_only=True),
    "lns": SolveParams(time_limit=4, workers=1, seed=0, strategy="lns"),
}


def valid_result(portfolio: Portfolio, params: SolveParams) -> Result:
    result = solve(portfolio, params)
    report = check(portfolio, result.plan)
    assert report.valid, [str(v.message) for v in report.violations]
    return result


@pytest.mark.parametrize("path", sorted(PATHS))
@pytest.mark.parametrize("pin", sorted(PINS))
def test_planted_pin_is_kept_over_more_valuable_work(path: str, pin: str) -> None:
    portfolio = load_portfolio(planted(PINS[pin]))
    result = valid_result(portfolio, PATHS[path])
    a = {x.task: x for x in result.plan.assignments}
    assert "small" in a, result.plan.unassigned
    assert a["small"].people == ("ann",) and a["small"].start == date(2027, 1, 5)
    assert a["prep"].finish == date(2027, 1, 4)
    # ann has 14 days left: the 18-day task does not fit beside the pin
    assert [u.task for u in result.plan.unassigned] == ["big"]


def test_pins_stage_comes_first_and_is_proven() -> None:
    inst = compile_instance(load_portfolio(planted()))
    result = solve_lexicographic(inst, "portfolio", CpSatParams(time_limit=5, workers=1))
    assert next(iter(result.stages)) == PINS_STAGE
    assert result.stages[PINS_STAGE] == (0, 0, True)
    assert result.schedule is not None and pins_dropped(inst, result.schedule) == 0
    # the objective's stages are over the plans that keep the pin: big (720 units) is out
    assert result.stages["undelivered"][0] == inst.tasks[inst.task_index["big"]].units


def test_no_pins_stage_without_pins_or_under_makespan() -> None:
    data = planted()
    del data["projects"][0]["tasks"][1]["pinned"]
    inst = compile_instance(load_portfolio(data))
    result = solve_lexicographic(inst, "portfolio", CpSatParams(time_limit=5, workers=1))
    assert PINS_STAGE not in result.stages
    # without the pin the objective drops small (the case the pin must prevent)
    assert result.schedule is not None
    assert inst.task_index["small"] not in result.schedule.start


@pytest.mark.parametrize("rule", RULES)
def test_greedy_places_pins_before_other_work(rule: str) -> None:
    inst = compile_instance(load_portfolio(planted()))
    for contiguous in (False, True):
        sched = greedy(inst, rule=rule, team_contiguous=contiguous)
        assert pins_dropped(inst, sched) == 0
        assert sched.people[inst.task_index["small"]] == (inst.person_index["ann"],)


def _with_pin(inst: Instance) -> Schedule:
    """prep on bob on day 0, small on ann on days 1-5: the pin kept, big out."""
    sched = Schedule()
    sched.add(inst.task_index["prep"], 0, 0, (inst.person_index["bob"],))
    sched.add(inst.task_index["small"], 1, 5, (inst.person_index["ann"],))
    return sched


def test_lns_neighbourhood_never_drops_a_pin_the_plan_has() -> None:
    # every task free: without the rule the sub-solve trades small for big (720 > 40 units)
    inst = compile_instance(load_portfolio(planted()))
    job = Job(
        objective="portfolio",
        free=tuple(range(len(inst.tasks))),
        people=tuple(range(len(inst.people))),
        fixed=_with_pin(inst),
        seed=0,
        limits={k: 2.0 * v for k, v in LNS_SHARES.items()},
    )
    part = solve_neighbourhood(inst, job)
    assert part.schedule is not None and part.stages
    assert inst.task_index["small"] in part.schedule.start
    assert inst.task_index["big"] not in part.schedule.start


def test_lns_neighbourhood_adds_a_dropped_pin() -> None:
    # the plan has big, not the pin: the stage ``pins`` assigns the pin first
    inst = compile_instance(load_portfolio(planted()))
    start = Schedule()
    start.add(inst.task_index["prep"], 0, 0, (inst.person_index["bob"],))
    start.add(inst.task_index["big"], 0, 17, (inst.person_index["ann"],))
    assert pins_dropped(inst, start) == 1
    job = Job(
        objective="portfolio",
        free=tuple(range(len(inst.tasks))),
        people=tuple(range(len(inst.people))),
        fixed=start,
        seed=0,
        limits={k: 2.0 * v for k, v in LNS_SHARES.items()},
    )
    part = solve_neighbourhood(inst, job)
    assert part.schedule is not None and PINS_STAGE in part.stages
    assert pins_dropped(inst, part.schedule) == 0


def test_lns_loop_keeps_the_pin() -> None:
    inst = compile_instance(load_portfolio(planted()))
    best, stats = improve(
        inst, _with_pin(inst), "portfolio", CpSatParams(workers=1, seed=0), seconds=3.0
    )
    assert stats["iterations"] and not stats["errors"]
    assert pins_dropped(inst, best) == 0


def test_rebalance_keeps_a_new_pin() -> None:
    # the previous plan (before the pin) gave ann the big task; pinning small to ann now must
    # displace it, stability notwithstanding
    before = planted(as_of="2027-01-04")
    del before["projects"][0]["tasks"][1]["pinned"]
    previous = solve(load_portfolio(before), PATHS["cp-sat"]).plan
    assert "big" in {a.task for a in previous.assignments}
    portfolio = load_portfolio(planted(as_of="2027-01-04"))
    result = rebalance(portfolio, previous, SolveParams(time_limit=5, workers=1, seed=0))
    report = check(portfolio, result.plan)
    assert report.valid, [str(v.message) for v in report.violations]
    a = {x.task: x for x in result.plan.assignments}
    assert "small" in a and a["small"].people == ("ann",)


def test_pins_dropped_counts_possible_pinned_tasks_only() -> None:
    data = planted()
    data["projects"][0]["tasks"].append(
        # pinned to start on the horizon's last day: 5 days cannot fit, so it is out anyway
        {"id": "late", "skill": "py", "effort_hours": 40, "pinned": {"start": "2027-01-29"}}
    )
    inst = compile_instance(load_portfolio(data))
    assert not inst.tasks[inst.task_index["late"]].possible
    assert pins_dropped(inst, Schedule()) == 1
    assert pins_dropped(inst, _with_pin(inst)) == 0


# -- impossible pins: unassigned, with a reason naming the pin ---------------------------------
def _reasons(data: dict[str, Any], task: str, params: SolveParams = PATHS["cp-sat"]) -> str:
    """The reasons the compiler gives the task (it cannot be assigned at all), each beginning
    with the pin; the plan leaves it unassigned with those reasons."""
    portfolio = load_portfolio(data)
    inst = compile_instance(portfolio)
    info = inst.tasks[inst.task_index[task]]
    assert not info.possible
    pin = pin_text(portfolio.task_by_id[task])
    assert pin is not None and all(r.startswith(pin) for r in info.out_reasons), info.out_reasons
    plan: Plan = valid_result(portfolio, params).plan
    out = {u.task: u.reasons for u in plan.unassigned}
    assert task in out, plan.assignments
    assert set(info.out_reasons) <= set(out[task])
    return " ".join(info.out_reasons)


@pytest.mark.parametrize("path", ["cp-sat", "greedy"])
def test_pinned_person_on_time_off_on_the_pinned_date(path: str) -> None:
    data = portfolio_dict(
        [
            {
                "id": "ann",
                "skills": {"py": 3},
                "time_off": [{"start": "2027-01-06", "end": "2027-01-08"}],
            },
            {"id": "bob", "skills": {"py": 3}},
        ],
        [
            {
                "id": "t",
                "skill": "py",
                "effort_hours": 16,
                "pinned": {"person": "ann", "start": "2027-01-07"},
            }
        ],
    )
    why = _reasons(data, "t", PATHS[path])
    assert "pinned to ann on 2027-01-07" in why and "not available" in why


def test_pinned_start_too_late_for_the_window() -> None:
    data = portfolio_dict(
        [{"id": "ann", "skills": {"py": 3}}],
        [{"id": "t", "skill": "py", "effort_hours": 40, "pinned": {"start": "2027-01-27"}}],
    )
    why = _reasons(data, "t")
    assert "pinned to start on 2027-01-27" in why


def test_pinned_person_and_start_too_late_for_a_hard_deadline() -> None:
    data = portfolio_dict(
        [{"id": "ann", "skills": {"py": 3}}],
        [
            {
                "id": "t",
                "skill": "py",
                "effort_hours": 40,
                "deadline": "2027-01-15",
                "pinned": {"person": "ann", "start": "2027-01-13"},
            }
        ],
        policy={"hard_deadlines": True},
    )
    why = _reasons(data, "t")
    assert "pinned to ann on 2027-01-13" in why and "2027-01-15" in why


def test_pinned_team_short_of_people_on_the_pinned_start() -> None:
    data = portfolio_dict(
        [
            {"id": "ann", "skills": {"py": 3}},
            {
                "id": "bob",
                "skills": {"py": 3},
                "time_off": [{"start": "2027-01-11", "end": "2027-01-11"}],
            },
        ],
        [
            {
                "id": "t",
                "requirements": [{"skill": "py", "count": 2}],
                "duration_days": 2,
                "pinned": {"start": "2027-01-11"},
            }
        ],
    )
    why = _reasons(data, "t")
    assert "pinned start 2027-01-11" in why


def test_pinned_wait_that_cannot_end_in_the_horizon() -> None:
    data = portfolio_dict(
        [{"id": "ann", "skills": {"py": 3}}],
        [{"id": "w", "requirements": [], "duration_days": 5, "pinned": {"start": "2027-01-27"}}],
    )
    why = _reasons(data, "w")
    assert "pinned to start on 2027-01-27" in why


def test_pinned_task_out_for_another_cause_still_names_the_pin() -> None:
    # its predecessor needs a skill nobody has: the pin is not the cause, but it is named
    data = portfolio_dict(
        [{"id": "ann", "skills": {"py": 3}}],
        [
            {"id": "u", "skill": "rust", "effort_hours": 8},
            {
                "id": "t",
                "skill": "py",
                "effort_hours": 8,
                "predecessors": ["u"],
                "pinned": {"person": "ann"},
            },
        ],
    )
    why = _reasons(data, "t")
    assert "predecessor u" in why and "pinned to ann" in why


def test_pin_on_a_person_without_the_skill_is_rejected_naming_the_pin() -> None:
    # compile never sees it: validation rejects the portfolio (every error at once)
    data = portfolio_dict(
        [{"id": "ann", "skills": {"py": 3}}, {"id": "bob", "skills": {"doc": 3}}],
        [{"id": "t", "skill": "py", "effort_hours": 8, "pinned": {"person": "bob"}}],
    )
    with pytest.raises(PortfolioError, match="pinned person bob cannot fill"):
        load_portfolio(data)


# -- property: pins from a valid plan are always kept ------------------------------------------
def pinned_portfolio(
    seed: int, n_people: int, n_tasks: int, n_rivals: int, both_only: bool
) -> tuple[dict[str, Any], list[str]]:
    """A portfolio around a planted valid plan (each person's tasks end to end, predecessors
    earlier in the plan) with random pins taken from that plan, plus ``n_rivals`` long
    high-priority tasks competing for the same people and planted nowhere: keeping every pin
    is possible (the planted plan, rivals out), and by the objective alone a rival is often
    worth more than a pinned task.

    ``both_only``: pins on person and start only, on a set of tasks closed under
    predecessors (then the greedy keeps them all by construction). Returns the portfolio and
    the pinned task ids.
    """
    rng = random.Random(seed)
    skills = ["a", "b"]
    people: list[dict[str, Any]] = [
        {
            "id": f"p{i}",
            "skills": {s: rng.randint(1, 3) for s in rng.sample(skills, rng.randint(1, 2))},
        }
        for i in range(n_people)
    ]
    busy = [0] * n_people
    tasks: list[dict[str, Any]] = []
    slot: dict[str, tuple[int, int]] = {}  # id -> (person, start)
    finish: dict[str, int] = {}
    for j in range(n_tasks):
        i = rng.randrange(n_people)
        skill, level = rng.choice(sorted(people[i]["skills"].items()))
        days = rng.randint(1, 4)
        preds = [f"t{k}" for k in range(j) if rng.random() < 0.2]
        start = max([busy[i]] + [finish[p] + 1 for p in preds])
        tid = f"t{j}"
        finish[tid] = start + days - 1
        busy[i] = start + days
        slot[tid] = (i, start)
        tasks.append(
            {
                "id": tid,
                "skill": skill,
                "min_level": rng.randint(1, level),
                "effort_hours": 8 * days,
                "priority": 1,
                "predecessors": preds,
            }
        )
    pinned: list[str] = []
    for t in tasks:
        if rng.random() < 0.5:
            continue
        if both_only and not all(p in pinned for p in t["predecessors"]):
            continue
        i, start = slot[t["id"]]
        kind = "both" if both_only else rng.choice(["person", "start", "both"])
        pin: dict[str, str] = {}
        if kind in ("person", "both"):
            pin["person"] = f"p{i}"
        if kind in ("start", "both"):
            pin["start"] = day(start).isoformat()
        t["pinned"] = pin
        pinned.append(t["id"])
    horizon = max(busy) + 3
    for r in range(n_rivals):
        i = rng.randrange(n_people)
        skill, _ = rng.choice(sorted(people[i]["skills"].items()))
        tasks.append(
            {
                "id": f"r{r}",
                "skill": skill,
                "min_level": 1,
                "effort_hours": 8 * rng.randint(max(1, horizon // 2), horizon),
                "priority": 5,
            }
        )
    weeks = horizon // 5 + 1
    end = START + timedelta(weeks=weeks) - timedelta(days=3)
    data = portfolio_dict(people, tasks, end=end.isoformat())
    return data, pinned


@given(
    st.integers(0, 10_000),
    st.integers(1, 3),
    st.integers(2, 7),
    st.integers(1, 3),
)
def test_every_pin_from_a_valid_plan_is_kept(
    seed: int, n_people: int, n_tasks: int, n_rivals: int
) -> None:
    data, pinned = pinned_portfolio(seed, n_people, n_tasks, n_rivals, both_only=False)
    portfolio = load_portfolio(data)
    result = valid_result(
        portfolio, SolveParams(time_limit=3, workers=1, seed=0, strategy="cp-sat")
    )
    assigned = {a.task for a in result.plan.assignments}
    assert set(pinned) <= assigned, result.plan.unassigned


@given(
    st.integers(0, 10_000),
    st.integers(1, 3),
    st.integers(2, 7),
    st.integers(1, 3),
)
def test_greedy_keeps_every_person_and_start_pin_from_a_valid_plan(
    seed: int, n_people: int, n_tasks: int, n_rivals: int
) -> None:
    data, pinned = pinned_portfolio(seed, n_people, n_tasks, n_rivals, both_only=True)
    portfolio = load_portfolio(data)
    inst = compile_instance(portfolio)
    for rule in RULES:
        sched = greedy(inst, rule=rule)
        assert pins_dropped(inst, sched) == 0
        assert {inst.task_index[t] for t in pinned} <= set(sched.start)
    result = valid_result(portfolio, SolveParams(time_limit=3, workers=1, seed=0, greedy_only=True))
    assert set(pinned) <= {a.task for a in result.plan.assignments}
