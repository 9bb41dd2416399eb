"""Tests of the synthetic portfolio generator (``allocator.generator``)."""

from __future__ import annotations

import json
import math
from collections import Counter
from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from allocator.contract import dump_portfolio, portfolio_to_dict, read_portfolio
from allocator.domain import WEEKDAYS, Portfolio, Task
from allocator.generator import generate
from allocator.timeline import Timeline, capacity


# -- helpers --------------------------------------------------------------------------------------
def _demand_and_capacity(p: Portfolio) -> tuple[float, float]:
    tl = Timeline.of(p)
    demand = sum(p.task_work_hours(t) for t in p.tasks())
    cap = sum(sum(capacity(p, tl, x)) / 100.0 * x.day_hours for x in p.people)
    return demand, cap


def _has_matching(p: Portfolio, task: Task) -> bool:
    """A one-to-one matching of distinct, non-excluded people to the task's places exists."""
    places = task.places
    cands = [
        [x.id for x in p.people if x.level(pl.skill) >= pl.min_level and x.id not in task.exclude]
        for pl in places
    ]
    owner: dict[str, int] = {}

    def augment(i: int, seen: set[str]) -> bool:
        for pid in cands[i]:
            if pid in seen:
                continue
            seen.add(pid)
            if pid not in owner or augment(owner[pid], seen):
                owner[pid] = i
                return True
        return False

    return all(augment(i, set()) for i in range(len(places)))


def _check_structure(p: Portfolio) -> None:
    """Invariants every generated portfolio keeps (shared by the example and property tests)."""
    # round trip, structurally clean
    q, issues = read_portfolio(portfolio_to_dict(p))
    assert [i for i in issues if i.severity == "error"] == []
    assert issues == []
    assert q == p
    # ids unique
    people_ids = [x.id for x in p.people]
    project_ids = [x.id for x in p.projects]
    task_ids = [t.id for t in p.tasks()]
    assert len(set(people_ids)) == len(people_ids)
    assert len(set(project_ids)) == len(project_ids)
    assert len(set(task_ids)) == len(task_ids)
    # calendar
    cal = p.calendar
    assert cal.start.weekday() == 0 and cal.start <= cal.end
    assert all(h.weekday() < 5 and cal.start <= h <= cal.end for h in cal.holidays)
    tl = Timeline.of(p)
    assert len(tl) > 0
    # precedence: known ids, only earlier tasks in file order (hence acyclic)
    position = {tid: i for i, tid in enumerate(task_ids)}
    for t in p.tasks():
        for q_id in t.predecessors:
            assert q_id in position, f"{t.id}: unknown predecessor {q_id}"
            assert position[q_id] < position[t.id], f"{t.id}: predecessor {q_id} is not earlier"
        assert len(set(t.predecessors)) == len(t.predecessors)
    assert _is_acyclic(p)
    # people within ranges, dates inside the horizon
    for x in p.people:
        assert 1 <= len(x.skills) <= 4
        assert all(1 <= lv <= 5 for lv in x.skills.values())
        assert 0 < x.day_hours <= 24
        assert x.cost_per_hour is not None and 40 <= x.cost_per_hour <= 150
        if x.workdays is not None:
            assert 3 <= len(x.workdays) <= 4 and set(x.workdays) <= set(WEEKDAYS[:5])
        for r in x.time_off:
            assert cal.start <= r.start <= r.end <= cal.end
        for rc in x.reduced_capacity:
            assert cal.start <= rc.start <= rc.end <= cal.end and rc.percent in (50, 80)
        assert not (x.available_from and x.available_until)
        for d in (x.available_from, x.available_until):
            assert d is None or tl.idx(d) is not None
    people = p.person_by_id
    for pr in p.projects:
        assert pr.priority is not None and 1 <= pr.priority <= 5
        for d in (pr.start_after, pr.deadline):
            assert d is None or cal.start <= d <= cal.end
        if pr.start_after and pr.deadline:
            assert pr.start_after <= pr.deadline
    # tasks within ranges, references valid
    for t in p.tasks():
        if t.is_team:
            assert t.requirements and t.duration_days is not None and t.duration_days >= 1
            assert t.effort_hours is None
            skills = [r.skill for r in t.requirements]
            assert len(set(skills)) == len(skills)
            assert all(1 <= r.level <= 5 and r.headcount >= 1 for r in t.requirements)
        else:
            assert t.skill is not None and t.effort_hours is not None and t.effort_hours > 0
            assert float(t.effort_hours).is_integer()
            assert t.min_level is not None and 1 <= t.min_level <= 5
        assert t.allocation in (None, 50)
        assert t.priority is None or 1 <= t.priority <= 5
        for d in (t.earliest_start, t.deadline):
            assert d is None or cal.start <= d <= cal.end
        assert all(pid in people for pid in (*t.exclude, *t.prefer))
        assert not set(t.exclude) & set(t.prefer)
        for pid in (*t.exclude, *t.prefer):
            assert t.skill is not None and people[pid].level(t.skill) >= (t.min_level or 1)
        if t.pinned is not None:
            _check_pin(p, tl, t)


def _check_pin(p: Portfolio, tl: Timeline, t: Task) -> None:
    pin = t.pinned
    assert pin is not None and (pin.person is not None or pin.start is not None)
    if pin.person is not None:
        person = p.person_by_id[pin.person]
        assert pin.person not in t.exclude
        assert any(person.level(pl.skill) >= pl.min_level for pl in t.places)
    if pin.start is not None:
        i = tl.idx(pin.start)
        assert i is not None, f"{t.id}: pinned start {pin.start} is not a working day"
        assert pin.start >= p.task_earliest_start(t)
        assert i <= len(tl) - 21, f"{t.id}: pinned start too close to the calendar's end"
        assert t.predecessors == ()


def _is_acyclic(p: Portfolio) -> bool:
    preds = {t.id: list(t.predecessors) for t in p.tasks()}
    indeg = {tid: len(v) for tid, v in preds.items()}
    succs: dict[str, list[str]] = {tid: [] for tid in preds}
    for tid, ps in preds.items():
        for q in ps:
            succs[q].append(tid)
    ready = [tid for tid, d in indeg.items() if d == 0]
    seen = 0
    while ready:
        tid = ready.pop()
        seen += 1
        for s in succs[tid]:
            indeg[s] -= 1
            if indeg[s] == 0:
                ready.append(s)
    return seen == len(preds)


# -- examples -------------------------------------------------------------------------------------
def test_deterministic() -> None:
    a = generate(30, 10, seed=7)
    b = generate(30, 10, seed=7)
    assert a == b
    assert dump_portfolio(a) == dump_portfolio(b)
    c = generate(30, 10, seed=8)
    assert dump_portfolio(a) != dump_portfolio(c)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_medium_portfolio_is_well_formed(seed: int) -> None:
    p = generate(40, 25, seed=seed, pin_share=0.1)
    _check_structure(p)
    # JSON text round trip as well (everything serialisable, dates as strings)
    q, issues = read_portfolio(json.loads(dump_portfolio(p)))
    assert q == p and not issues


def test_ids_follow_the_naming_scheme() -> None:
    p = generate(12, 3, seed=1)
    assert [x.id for x in p.people][:3] == ["p0001", "p0002", "p0003"]
    assert [x.id for x in p.projects] == ["P001", "P002", "P003"]
    assert p.projects[0].tasks[0].id == "P001-T01"
    assert all(t.id.startswith(t.project + "-T") for t in p.tasks())


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_size_40_people_25_projects(seed: int) -> None:
    p = generate(40, 25, seed=seed)
    assert len(p.people) == 40 and len(p.projects) == 25
    assert 150 <= len(p.task_by_id) <= 300


@pytest.mark.parametrize("target", [0.6, 0.9, 1.2])
def test_tightness_is_roughly_honoured(target: float) -> None:
    p = generate(40, 20, seed=3, tightness=target)
    demand, cap = _demand_and_capacity(p)
    assert 0.5 * target <= demand / cap <= 1.6 * target
    # unclamped, the correction lands within a few percent
    assert demand / cap == pytest.approx(target, rel=0.1)


def test_tightness_with_a_given_horizon() -> None:
    p = generate(30, 15, seed=4, horizon_weeks=20, tightness=0.8)
    weeks = ((p.calendar.end - p.calendar.start).days + 3) // 7
    assert weeks == 20 and p.calendar.end.weekday() == 4
    demand, cap = _demand_and_capacity(p)
    assert demand / cap == pytest.approx(0.8, rel=0.15)


def test_default_horizon_between_8_and_52_weeks() -> None:
    for people, projects in [(40, 2), (3, 40), (100, 60)]:
        p = generate(people, projects, seed=0)
        weeks = ((p.calendar.end - p.calendar.start).days + 3) // 7
        assert 8 <= weeks <= 52
        assert p.calendar.start == date(2027, 1, 4)


def test_tasks_are_normally_assignable() -> None:
    p = generate(60, 40, seed=5)
    best: dict[str, int] = {}
    for x in p.people:
        for s, lv in x.skills.items():
            best[s] = max(best.get(s, 0), lv)
    bad = [t for t in p.tasks() if not _has_matching(p, t)]
    assert len(bad) <= 0.03 * len(p.task_by_id)
    for t in bad:  # only the deliberate ones: one-person, a level one above the best
        assert not t.is_team and t.skill is not None
        assert t.min_level == best[t.skill] + 1


def test_unassignable_tasks_exist_only_when_wanted() -> None:
    def n_bad(p: Portfolio) -> int:
        return sum(not _has_matching(p, t) for t in p.tasks())

    assert n_bad(generate(100, 120, seed=2)) > 0
    assert n_bad(generate(100, 120, seed=2, objective="makespan")) == 0
    assert all(n_bad(generate(9, 6, seed=s)) == 0 for s in range(5))


def test_policy_from_arguments() -> None:
    p = generate(5, 2, seed=0, objective="makespan", hard_deadlines=True, name="bench")
    assert p.name == "bench"
    assert p.policy.objective == "makespan" and p.policy.hard_deadlines is True
    q = generate(5, 2, seed=0)
    assert q.policy.goal == "portfolio" and q.policy.deadlines_hard is False
    assert q.name == "synthetic-5p-2x-s0"


def test_realistic_mix_of_people_and_tasks() -> None:
    p = generate(2000, 300, seed=11)
    n = len(p.people)
    part = sum(x.hours_per_day is not None or x.workdays is not None for x in p.people)
    assert 0.09 * n <= part <= 0.21 * n
    assert 0.4 * n <= sum(bool(x.time_off) for x in p.people) <= 0.6 * n
    assert 0.02 * n <= sum(x.available_from is not None for x in p.people) <= 0.08 * n
    assert 0.02 * n <= sum(x.available_until is not None for x in p.people) <= 0.08 * n
    assert 0.02 * n <= sum(bool(x.reduced_capacity) for x in p.people) <= 0.08 * n
    levels = Counter(lv for x in p.people for lv in x.skills.values())
    assert levels[2] + levels[3] + levels[4] > 0.7 * sum(levels.values())
    # skewed popularity: the most common skill is held far more often than the median one
    held = sorted(Counter(s for x in p.people for s in x.skills).values(), reverse=True)
    assert held[0] > 5 * held[len(held) // 2]
    assert len(held) > 30  # a long tail of 6 + sqrt(2000) skills
    tasks = list(p.tasks())
    m = len(tasks)
    assert 0.05 * m <= sum(t.is_team for t in tasks) <= 0.15 * m
    assert 0.01 * m <= sum(t.pinned is not None for t in tasks) <= 0.05 * m
    assert 0.05 * m <= sum(t.allocation == 50 for t in tasks) <= 0.15 * m
    assert sum(bool(t.exclude) for t in tasks) > 0 and sum(bool(t.prefer) for t in tasks) > 0
    cross = sum(any(not q.startswith(t.project + "-") for q in t.predecessors) for t in tasks)
    assert 0 < cross <= 0.06 * m
    assert all(len([q for q in t.predecessors if q.startswith(t.project)]) <= 2 for t in tasks)
    projects = p.projects
    assert (
        0.2 * len(projects)
        <= sum(x.start_after is not None for x in projects)
        <= 0.4 * len(projects)
    )
    assert sum(x.deadline is not None for x in projects) >= 0.7 * len(projects)
    prio = Counter(x.priority for x in projects)
    assert prio[1] > prio[5]
    efforts = [t.effort_hours for t in tasks if t.effort_hours is not None]
    assert min(efforts) >= 1 and math.isclose(sum(efforts) / len(efforts), 50, rel_tol=0.4)


def test_bad_arguments_raise() -> None:
    with pytest.raises(ValueError):
        generate(0, 1)
    with pytest.raises(ValueError):
        generate(1, -1)
    with pytest.raises(ValueError):
        generate(5, 2, tightness=0)
    with pytest.raises(ValueError):
        generate(5, 2, tasks_per_project=(3, 2))
    with pytest.raises(ValueError):
        generate(5, 2, pin_share=1.5)
    with pytest.raises(ValueError):
        generate(5, 2, objective="fastest")
    with pytest.raises(ValueError):
        generate(5, 2, start=date(2027, 1, 5))  # a Tuesday
    with pytest.raises(ValueError):
        generate(5, 2, horizon_weeks=0)


def test_no_projects() -> None:
    p = generate(3, 0, seed=1)
    assert p.projects == () and len(p.people) == 3
    _check_structure(p)


def test_generated_portfolios_pass_validation() -> None:
    # NOTE: allocator.validation is being written in parallel with this generator. When this test
    # was written it already had real rules and reported no errors (warnings only for the
    # deliberately unassignable tasks). If it fails while validation is in flux, check whether the
    # rule or the generator is wrong before changing either.
    from allocator.validation import validate

    cases: list[tuple[int, int, dict[str, Any]]] = [
        (40, 25, {"seed": 0, "pin_share": 0.1}),
        (12, 5, {"seed": 1, "team_task_share": 0.5, "objective": "makespan"}),
        (200, 60, {"seed": 2, "pin_share": 0.3, "hard_deadlines": True}),
        (3, 4, {"seed": 3, "horizon_weeks": 2, "pin_share": 1.0}),
    ]
    for people, projects, kwargs in cases:
        p = generate(people, projects, **kwargs)
        _, issues = read_portfolio(portfolio_to_dict(p))
        report = validate(p, issues)
        assert list(report.errors) == [], (people, projects, kwargs)


def test_ten_thousand_tasks() -> None:
    p = generate(1000, 1250, seed=0)  # its time: `python -m benchmarks.timings`
    assert 8000 <= len(p.task_by_id) <= 12000


# -- properties -----------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    people=st.integers(1, 12),
    projects=st.integers(1, 5),
    seed=st.integers(0, 2**32 - 1),
    tightness=st.sampled_from([0.3, 0.9, 1.5]),
    horizon_weeks=st.one_of(st.none(), st.integers(1, 30)),
    team_task_share=st.sampled_from([0.0, 0.1, 0.5]),
    pin_share=st.sampled_from([0.0, 0.03, 0.5]),
    objective=st.sampled_from(["portfolio", "makespan"]),
)
def test_small_portfolios_never_raise_and_round_trip(
    people: int,
    projects: int,
    seed: int,
    tightness: float,
    horizon_weeks: int | None,
    team_task_share: float,
    pin_share: float,
    objective: str,
) -> None:
    p = generate(
        people,
        projects,
        seed=seed,
        tightness=tightness,
        horizon_weeks=horizon_weeks,
        team_task_share=team_task_share,
        pin_share=pin_share,
        objective=objective,
    )
    assert len(p.people) == people and len(p.projects) == projects
    _check_structure(p)
    # every task can be staffed, except the deliberate ones (10+ people, portfolio objective)
    if people < 10 or objective == "makespan":
        assert all(_has_matching(p, t) for t in p.tasks())
    else:
        assert sum(not _has_matching(p, t) for t in p.tasks()) <= projects  # one per project
