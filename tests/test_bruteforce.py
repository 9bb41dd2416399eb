"""Bounds and status against the truth: tiny portfolios solved by enumerating every plan.

For each generated portfolio (both objectives; team tasks, absences, part-time allocations,
pins, precedence, deadlines, priorities), :func:`enumerate_plans` lists every plan the
contract's rules could allow, from the contract's own definitions (active days from the
timeline's availability, capacity per day), and the independent checker confirms each plan
that becomes the best so far. That gives the true optimum, term by term:

* the engine's plan is valid and never better than the true optimum (else the enumeration or
  the checker is wrong) and, lexicographically, ``true optimum <= objective``;
* every bound term ``k`` is at most the true minimum of term ``k`` over the valid plans whose
  earlier terms are each at most the plan's (the contract's definition); for the first term,
  over every valid plan;
* ``optimal`` only when the objective equals the true optimum (a wrong proof fails here);
* the engine runs in strict mode (``ALLOCATOR_STRICT_BOUNDS``, set by conftest), so a bound
  above its term raises instead of being dropped.

Pins come first (the engine's rule, ``allocator.engine``): the optimum is over the plans that
drop the fewest pinned tasks.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from allocator import load_portfolio
from allocator.checker import check
from allocator.domain import Assignment, Plan, Portfolio, Task, Unassigned
from allocator.engine import SolveParams, solve
from allocator.errors import PortfolioError
from allocator.objective import (
    assignee_cost_units,
    late_days,
    plan_key,
    task_units,
    term_names,
    term_units,
    terms_of_key,
)
from allocator.timeline import Timeline, availability, capacity, task_duration

# --------------------------------------------------------------------------------------------
# The enumeration
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Option:
    """One way to plan a task: its people, start and finish (working-day indexes), the active
    days and the contribution to the objective's terms."""

    people: tuple[str, ...]
    start: int
    finish: int
    active: tuple[int, ...]
    alloc: int
    key: tuple[int, ...]


def _options(p: Portfolio, tl: Timeline, task: Task) -> list[Option]:
    """Every (people, start) of ``task`` that satisfies the rules about the task alone
    (skills, exclusions, pins, window, duration in active days); capacity and precedence are
    the enumeration's."""
    goal = p.policy.goal
    places = task.places
    people = [x for x in p.people if x.id not in task.exclude]
    avail = {x.id: availability(p, tl, x) for x in p.people}
    lo = tl.first_on_or_after(p.task_earliest_start(task))
    prio = p.task_priority(task)
    out: list[Option] = []
    for group in itertools.combinations(people, len(places)):
        # a one-to-one matching of people to places (tiny: try every permutation)
        if not any(
            all(x.level(pl.skill) >= pl.min_level for x, pl in zip(perm, places, strict=True))
            for perm in itertools.permutations(group)
        ):
            continue
        ids = tuple(sorted(x.id for x in group))
        pin = task.pinned
        if pin is not None and pin.person is not None and pin.person not in ids:
            continue
        dur = task_duration(task, group[0] if len(group) == 1 and not task.is_team else None)
        active_day = [all(avail[i][d] for i in ids) for d in range(len(tl))]
        for s in range(lo, len(tl)):
            if not active_day[s]:
                continue
            if pin is not None and pin.start is not None and tl.days[s] != pin.start:
                continue
            days = [d for d in range(s, len(tl)) if active_day[d]][:dur]
            if len(days) < dur:
                break
            f = days[-1]
            deadline = p.task_deadline(task)
            if (
                p.policy.hard_deadlines
                and deadline is not None
                and f > tl.last_on_or_before(deadline)
            ):
                continue
            if goal == "makespan":
                key: tuple[int, ...] = (f + 1,)
            else:
                cost = sum(assignee_cost_units(task, x) for x in group)
                key = (0, prio * late_days(p, tl, task, f), prio * (f + 1), cost)
            out.append(Option(ids, s, f, tuple(days), task.alloc, key))
    return out


def enumerate_plans(p: Portfolio) -> Iterator[tuple[tuple[int, ...], Plan]]:
    """Every plan satisfying capacity, precedence, listing and (under makespan) full
    assignment, with its objective key, as (pins dropped, *key) and the plan."""
    tl = Timeline.of(p)
    goal = p.policy.goal
    tasks = list(p.tasks_to_plan)
    opts = {t.id: _options(p, tl, t) for t in tasks}
    cap = {x.id: capacity(p, tl, x) for x in p.people}
    chosen: dict[str, Option | None] = {}

    def rec(k: int, load: dict[tuple[str, int], float]) -> Iterator[dict[str, Option | None]]:
        if k == len(tasks):
            yield chosen
            return
        t = tasks[k]
        preds = [q for q in t.predecessors if q in chosen]
        choices: list[Option | None] = list(opts[t.id])
        if goal != "makespan":
            choices.append(None)
        for o in choices:
            if o is not None:
                if any(chosen[q] is None or chosen[q].finish >= o.start for q in preds):  # type: ignore[union-attr]
                    continue
                over = False
                for pid in o.people:
                    for d in o.active:
                        if (
                            load.get((pid, d), 0.0) + o.alloc * cap[pid][d] / 100
                            > cap[pid][d] + 1e-9
                        ):
                            over = True
                if over:
                    continue
                for pid in o.people:
                    for d in o.active:
                        load[(pid, d)] = load.get((pid, d), 0.0) + o.alloc * cap[pid][d] / 100
            chosen[t.id] = o
            yield from rec(k + 1, load)
            del chosen[t.id]
            if o is not None:
                for pid in o.people:
                    for d in o.active:
                        load[(pid, d)] -= o.alloc * cap[pid][d] / 100

    # tasks in an order where predecessors come first (the generated ones are acyclic)
    order: list[Task] = []
    seen: set[str] = set()
    while len(order) < len(tasks):
        for t in tasks:
            if t.id not in seen and all(q in seen or q not in opts for q in t.predecessors):
                order.append(t)
                seen.add(t.id)
    tasks = order
    for sol in rec(0, {}):
        pins = 0
        total = [0] * len(term_names(goal))
        for t in tasks:
            o = sol[t.id]
            if o is None:
                total[0] += task_units(p, t)
                pins += t.pinned is not None and bool(opts[t.id])
            else:
                if goal == "makespan":
                    total[0] = max(total[0], o.key[0])
                else:
                    total = [a + b for a, b in zip(total, o.key, strict=True)]
        plan = Plan(
            portfolio=p.name,
            status="feasible",
            objective=terms_of_key(goal, tuple(total)),
            lower_bound=None,
            solve_seconds=0.0,
            assignments=tuple(
                Assignment(t.id, o.people, tl.days[o.start], tl.days[o.finish])
                for t in tasks
                if (o := sol[t.id]) is not None
            ),
            unassigned=tuple(Unassigned(t.id, ("-",)) for t in tasks if sol[t.id] is None),
        )
        yield (pins, *total), plan


@dataclass
class Truth:
    """The valid plans' keys (pins dropped first), found by enumeration."""

    keys: list[tuple[int, ...]]

    @property
    def best(self) -> tuple[int, ...]:
        return min(self.keys)

    def conditional_min(self, k: int, plan_key: tuple[int, ...]) -> int:
        """Min of term ``k`` over valid plans dropping the fewest pins whose earlier terms are
        each at most the plan's."""
        pins = self.best[0]
        vals = [
            key[1 + k]
            for key in self.keys
            if key[0] == pins and all(key[1 + j] <= plan_key[j] for j in range(k))
        ]
        return min(vals)


def truth(p: Portfolio) -> Truth:
    keys: list[tuple[int, ...]] = []
    verified: set[tuple[int, ...]] = set()
    for key, plan in enumerate_plans(p):
        if key not in verified:
            # each distinct key once: the enumeration must only list valid plans
            res = check(p, plan)
            assert res.valid, (res.codes(), plan)
            assert res.current, "the enumeration's objective is wrong"
            assert plan_key(p, plan) == key[1:], "the enumeration's objective is wrong"
            verified.add(key)
        keys.append(key)
    assert keys, "no valid plan at all (an empty plan is always valid under portfolio)"
    return Truth(keys)


# --------------------------------------------------------------------------------------------
# Generated tiny portfolios
# --------------------------------------------------------------------------------------------
SKILLS = ("py", "qa")
START = date(2027, 1, 4)  # a Monday: 6 working days to 2027-01-11


@st.composite
def tiny_portfolios(draw: st.DrawFn, goal: str) -> dict[str, Any]:
    n_people = draw(st.integers(2, 3))
    people = []
    for i in range(n_people):
        skills = {s: draw(st.integers(1, 3)) for s in SKILLS if draw(st.booleans())} or {"py": 2}
        person: dict[str, Any] = {
            "id": f"p{i}",
            "skills": skills,
            "cost_per_hour": draw(st.sampled_from([0, 10, 25])),
        }
        if draw(st.integers(0, 3)) == 0:
            off = draw(st.integers(0, 6))
            person["time_off"] = [
                {"start": f"2027-01-{4 + off:02d}", "end": f"2027-01-{4 + off:02d}"}
            ]
        if draw(st.integers(0, 4)) == 0:
            person["hours_per_day"] = 4
        people.append(person)
    n_tasks = draw(st.integers(2, 4 if goal == "portfolio" else 3))
    tasks: list[dict[str, Any]] = []
    for j in range(n_tasks):
        t: dict[str, Any] = {"id": f"t{j}"}
        if draw(st.integers(0, 3)) == 0:
            t["requirements"] = [{"skill": "py", "count": 2}]
            t["duration_days"] = draw(st.integers(1, 2))
        else:
            t["skill"] = draw(st.sampled_from(SKILLS))
            t["min_level"] = draw(st.integers(1, 3))
            t["effort_hours"] = draw(st.sampled_from([8, 12, 16, 24, 32, 40]))
        if draw(st.integers(0, 3)) == 0:
            t["allocation"] = 50
        if j and draw(st.booleans()):
            t["predecessors"] = [f"t{draw(st.integers(0, j - 1))}"]
        if goal == "portfolio":
            if draw(st.booleans()):
                t["deadline"] = f"2027-01-{draw(st.integers(5, 13)):02d}"
            t["priority"] = draw(st.integers(1, 3))
            if draw(st.integers(0, 4)) == 0:
                pin: dict[str, Any] = {"person": f"p{draw(st.integers(0, n_people - 1))}"}
                if draw(st.booleans()):
                    pin["start"] = f"2027-01-{draw(st.integers(4, 8)):02d}"
                t["pinned"] = pin
        tasks.append(t)
    if draw(st.booleans()):
        # a trap for list schedulers: the cheap all-rounder takes the important py task, and
        # then nobody is left for qa (the optimum gives py to the specialist)
        people += [
            {"id": "ta", "skills": {"py": 1, "qa": 1}},
            {"id": "tb", "skills": {"py": 1}, "cost_per_hour": 10},
        ]
        tasks += [
            {"id": "trap-q", "skill": "qa", "effort_hours": 48},
            {"id": "trap-p", "skill": "py", "effort_hours": 48, "priority": 2},
        ]
    policy: dict[str, Any] = {"objective": goal}
    if goal == "portfolio" and draw(st.integers(0, 3)) == 0:
        policy["hard_deadlines"] = True
    return {
        "format": "allocator.portfolio/v1",
        "name": "tiny",
        "calendar": {"start": START.isoformat(), "end": "2027-01-11"},
        "people": people,
        "projects": [{"id": "P", "tasks": tasks}],
        "policy": policy,
    }


def _assert_truthful(data: dict[str, Any], **params: Any) -> None:
    try:
        p = load_portfolio(data)
    except PortfolioError:
        assume(False)  # e.g. a pin on someone who cannot do the task: rejected at the door
        return
    true = truth(p) if p.policy.goal == "portfolio" or _any_full(p) else None
    res = solve(p, SolveParams(**{"time_limit": 10, "workers": 1, "seed": 0, **params}))
    plan = res.plan
    verdict = check(p, plan)
    assert verdict.valid, verdict.codes()
    assert verdict.current, verdict.stale
    if true is None:
        assert plan.status == "infeasible", "no plan assigns every task, yet one was returned"
        return
    if plan.status in ("infeasible", "unknown"):
        pytest.fail(f"{plan.status} although a valid plan exists: {true.best}")
    assert res.key is not None
    tl = Timeline.of(p)
    dropped = sum(
        1
        for u in plan.unassigned
        if (t := p.task_by_id[u.task]).pinned is not None and _options(p, tl, t)
    )
    rank = (dropped, *res.key)
    assert rank >= true.best, "better than every valid plan: the enumeration is wrong"
    assert rank[0] == true.best[0], "the engine dropped a pin it could keep"
    names = term_names(p.policy.goal)
    bound = plan.lower_bound or {}
    for k, name in enumerate(names):
        if name in bound:
            b_units = term_units(name, bound[name])
            assert b_units <= true.conditional_min(k, res.key), (name, bound, true.best)
    if plan.status == "optimal":
        assert rank == true.best, f"proven optimal at {rank}, true optimum {true.best}"


def _any_full(p: Portfolio) -> bool:
    """Whether some valid plan assigns every task (makespan needs one)."""
    return any(True for _ in enumerate_plans(p))


@given(tiny_portfolios("portfolio"))
@settings(
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow], max_examples=40
)
def test_portfolio_bounds_and_status_match_the_truth(data: dict[str, Any]) -> None:
    _assert_truthful(data)


@given(tiny_portfolios("makespan"))
@settings(
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow], max_examples=25
)
def test_makespan_bounds_and_status_match_the_truth(data: dict[str, Any]) -> None:
    _assert_truthful(data)


@given(tiny_portfolios("portfolio"))
@settings(
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow], max_examples=15
)
def test_greedy_baseline_bounds_are_true(data: dict[str, Any]) -> None:
    _assert_truthful(data, greedy_only=True)


SETTINGS = {"suppress_health_check": [HealthCheck.filter_too_much, HealthCheck.too_slow]}


@given(tiny_portfolios("portfolio"))
@settings(max_examples=15, **SETTINGS)  # type: ignore[arg-type]
def test_bounds_without_search_time_are_true(data: dict[str, Any]) -> None:
    # no time for the search: the greedy plan with the LP and analytic bounds
    _assert_truthful(data, time_limit=0.001)


@given(tiny_portfolios("portfolio"))
@settings(
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow], max_examples=15
)
def test_lns_bounds_are_true(data: dict[str, Any]) -> None:
    _assert_truthful(data, strategy="lns")


def test_the_trap_is_one() -> None:
    """The generator's trap does catch the greedy baseline (so the tests above see plans that
    are not optimal on their first term, where a capped bound would claim a false proof)."""
    data = {
        "format": "allocator.portfolio/v1",
        "name": "trap",
        "calendar": {"start": "2027-01-04", "end": "2027-01-11"},
        "people": [
            {"id": "ta", "skills": {"py": 1, "qa": 1}},
            {"id": "tb", "skills": {"py": 1}, "cost_per_hour": 10},
        ],
        "projects": [
            {
                "id": "P",
                "tasks": [
                    {"id": "trap-q", "skill": "qa", "effort_hours": 48},
                    {"id": "trap-p", "skill": "py", "effort_hours": 48, "priority": 2},
                ],
            }
        ],
    }
    p = load_portfolio(data)
    base = solve(p, SolveParams(greedy_only=True, workers=1, seed=0))
    assert base.objective is not None and base.objective["undelivered_work_hours"] == 48
    assert base.status == "feasible"
    assert base.lower_bound == {"undelivered_work_hours": 0}  # the LP: all work fits
    best = solve(p, SolveParams(time_limit=10, workers=1, seed=0))
    assert best.status == "optimal"
    assert best.objective is not None and best.objective["undelivered_work_hours"] == 0
    _assert_truthful(data, greedy_only=True)


@given(tiny_portfolios("portfolio"))
@settings(max_examples=40, **SETTINGS)  # type: ignore[arg-type]
def test_assignment_bound_is_below_every_valid_plan(data: dict[str, Any]) -> None:
    """The integer assignment relaxation (``solver_models.assignment_bound``, issue 15) bounds
    the undelivered work of every valid plan, whatever pins it drops (it ignores pins), and is
    the best of the engine's first-term bounds when combined (``undelivered_lower_bound``)."""
    from allocator.pipeline import compile_for
    from solver_models.assignment_bound import assignment_bound
    from solver_models.bounds import undelivered_lower_bound

    try:
        p = load_portfolio(data)
    except PortfolioError:
        assume(False)
        return
    least = min(key[1] for key in truth(p).keys)  # over every valid plan
    inst = compile_for(p)
    const = inst.impossible_units()
    found = assignment_bound(inst, time_limit=10)
    assert found is not None  # tiny: CP-SAT proves the relaxation's optimum at once
    assert found + const <= least, (found, const, least)
    combined = undelivered_lower_bound(inst, time_limit=10)
    assert combined is not None and combined >= found
    assert combined + const <= least


@given(tiny_portfolios("portfolio"))
@settings(max_examples=40, **SETTINGS)  # type: ignore[arg-type]
def test_pool_bound_is_below_every_valid_plan(data: dict[str, Any]) -> None:
    """The scheduling relaxation without assignment (``solver_models.pool_bound``, issue 15:
    per pool a cumulative of optional non-preemptive intervals, teams by their active days)
    bounds the undelivered work of every valid plan, with exact spans and with spans of the
    shortest duration alike, and ``undelivered_lower_bound`` with it stays below too."""
    from allocator.pipeline import compile_for
    from solver_models.bounds import undelivered_lower_bound
    from solver_models.pool_bound import pool_bound

    try:
        p = load_portfolio(data)
    except PortfolioError:
        assume(False)
        return
    least = min(key[1] for key in truth(p).keys)  # over every valid plan
    inst = compile_for(p)
    const = inst.impossible_units()
    proven = []
    for exact_pairs in (0, 10_000):
        found = pool_bound(inst, time_limit=10, exact_pairs=exact_pairs)
        assert found is not None  # tiny: CP-SAT proves the relaxation's optimum at once
        assert found.status in ("OPTIMAL", "empty")
        assert found.undelivered + const <= least, (found, const, least, exact_pairs)
        proven.append(found.undelivered)
    combined = undelivered_lower_bound(inst, time_limit=10)
    assert combined is not None and combined >= max(proven)  # small: it runs by default
    assert combined + const <= least
