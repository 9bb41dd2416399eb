"""The objective's terms and weights (see ``allocator.objective``), checked against values
computed independently of the code under test.

* ``evaluate``: a hand-built plan of a tiny portfolio, every term computed by hand.
* ``weights``: the largest value each lower term can take is found by brute force (every task
  assigned to every combination of people, finishing on every day, or left out: a superset of
  the plans), never derived from the weights themselves; each weight must exceed the largest
  total of every term below it, and random term vectors within those maxima must order the same
  by the combined value as lexicographically.
"""

from __future__ import annotations

import itertools
from datetime import date
from functools import cache

import pytest
from hypothesis import given
from hypothesis import strategies as st

from allocator import load_portfolio
from allocator.domain import Assignment, Plan, Portfolio
from allocator.engine import SolveParams, solve
from allocator.generator import generate
from allocator.objective import Terms, evaluate, plan_key, plan_terms, weights
from allocator.timeline import Timeline
from tests.conftest import portfolio_dict


def _plan(portfolio: Portfolio, *assignments: Assignment) -> Plan:
    return Plan(
        portfolio=portfolio.name,
        status="feasible",
        objective=None,
        lower_bound=None,
        solve_seconds=0.0,
        assignments=assignments,
    )


# --- evaluate: hand-computed terms -------------------------------------------------------------


def _hand_portfolio() -> Portfolio:
    # 2027-01-04 is a Monday: working-day index 0; four Mon-Fri weeks
    return load_portfolio(
        portfolio_dict(
            [
                {"id": "ann", "skills": {"py": 4}, "cost_per_hour": 50},
                {"id": "bob", "skills": {"py": 2, "qa": 3}, "cost_per_hour": 40},
                {"id": "cat", "skills": {"qa": 2}, "cost_per_hour": 30, "hours_per_day": 4},
            ],
            [
                # ann (level 4, 1 over) for 16 h, finishing Wed (idx 2), deadline Tue (idx 1)
                {
                    "id": "a",
                    "skill": "py",
                    "min_level": 3,
                    "effort_hours": 16,
                    "deadline": "2027-01-05",
                    "priority": 3,
                },
                # bob (level 2, 1 over), not in `prefer`: 8 h at 40 + 1 + 25
                {"id": "b", "skill": "py", "effort_hours": 8, "prefer": ["ann"]},
                # left out: 100 x priority 2 x 4.5 h
                {"id": "c", "skill": "py", "effort_hours": 4.5, "priority": 2},
                # a team of bob (qa 3, 1 over) and cat (qa 2, 0 over) for 2 days at 50 %
                {
                    "id": "d",
                    "requirements": [{"skill": "qa", "min_level": 2, "count": 2}],
                    "duration_days": 2,
                    "allocation": 50,
                    "deadline": "2027-01-08",
                },
                # a wait needing nobody, left out: at least 1 unit (0.01 h)
                {"id": "w", "requirements": [], "duration_days": 1},
            ],
        )
    )


def test_evaluate_matches_hand_computed_terms() -> None:
    p = _hand_portfolio()
    plan = _plan(
        p,
        Assignment("a", ("ann",), date(2027, 1, 5), date(2027, 1, 6)),
        Assignment("b", ("bob",), date(2027, 1, 4), date(2027, 1, 4)),
        # Mon 11 - Tue 12: idx 5 and 6, four days after the deadline Fri 8 (idx 4): 2 late days
        Assignment("d", ("bob", "cat"), date(2027, 1, 11), date(2027, 1, 12)),
    )
    t = evaluate(p, plan)
    assert t.undelivered == 100 * 2 * 4.5 + 1  # c, and the wait w at its minimum of 1
    assert t.late == 3 * 1 + 1 * 2  # a: 1 day late at priority 3; d: 2 days at priority 1
    assert t.finish == 3 * 3 + 1 * 1 + 1 * 7  # idx(finish) + 1, times priority
    cost_a = 100 * 16 * (50 + 1)
    cost_b = 100 * 8 * (40 + 1 + 25)
    cost_d = 100 * (2 * 8 * 0.5) * (40 + 1) + 100 * (2 * 4 * 0.5) * (30 + 0)
    assert t.cost == cost_a + cost_b + cost_d
    # the plan's terms in planner units, in priority order
    assert plan_terms(p, plan) == {
        "undelivered_work_hours": 9.01,
        "weighted_late_days": 5,
        "weighted_finish_days": 17,
        "cost": (cost_a + cost_b + cost_d) / 100,
    }
    assert next(iter(plan_terms(p, plan))) == "undelivered_work_hours"
    # nothing assigned: only the undelivered work, the sum of every task's units
    empty = evaluate(p, _plan(p))
    units = 100 * 3 * 16 + 100 * 8 + 100 * 2 * 4.5 + 100 * (2 * 2 * 8 * 0.5) + 1
    assert empty == Terms(int(units), 0, 0, 0)


def test_makespan_terms_are_the_last_finish() -> None:
    data = portfolio_dict(
        [{"id": "ann", "skills": {"py": 1}}],
        [
            {"id": "a", "skill": "py", "effort_hours": 8},
            {"id": "b", "skill": "py", "effort_hours": 8},
        ],
        policy={"objective": "makespan"},
    )
    p = load_portfolio(data)
    plan = _plan(
        p,
        Assignment("a", ("ann",), date(2027, 1, 4), date(2027, 1, 4)),
        Assignment("b", ("ann",), date(2027, 1, 11), date(2027, 1, 11)),  # idx 5
    )
    assert plan_terms(p, plan) == {"makespan_days": 6}
    assert plan_key(p, plan) == (6,)
    assert plan_terms(p, _plan(p)) == {"makespan_days": 0}


# --- weights: brute-force maxima of the lower terms ----------------------------------------------


@cache
def _small(people: int, projects: int, seed: int) -> Portfolio:
    return generate(
        people, projects, seed=seed, tasks_per_project=(2, 4), team_task_share=0.3, pin_share=0.0
    )


def _true_maxima(portfolio: Portfolio) -> tuple[int, int, int]:
    """(largest late, largest finish, largest cost) over every task assigned to any people (of
    the right count, qualified or not) finishing on any working day: the terms are sums over
    tasks, so the maxima are the sums of each task's own maxima, computed through ``evaluate``
    on one-assignment plans (its hand-checked definition), not through the weights."""
    tl = Timeline.of(portfolio)
    ids = [person.id for person in portfolio.people]
    day_last, day_first = tl.days[-1], tl.days[0]
    late = finish = cost = 0
    for task in portfolio.tasks_to_plan:
        places = len(task.places)
        task_late = task_finish = task_cost = 0
        for people in itertools.permutations(ids, places):
            for day in (day_first, day_last):  # late and finish grow with the day; cost does not
                t = evaluate(portfolio, _plan(portfolio, Assignment(task.id, people, day, day)))
                task_late = max(task_late, t.late)
                task_finish = max(task_finish, t.finish)
                task_cost = max(task_cost, t.cost)
        late, finish, cost = late + task_late, finish + task_finish, cost + task_cost
    return late, finish, cost


portfolios = st.builds(_small, st.integers(1, 4), st.integers(1, 2), st.integers(0, 10_000))


@given(portfolios)
def test_each_weight_exceeds_everything_below_it(portfolio: Portfolio) -> None:
    w = weights(portfolio)
    l_max, f_max, c_max = _true_maxima(portfolio)
    assert w.cost == 1
    assert c_max < w.finish
    assert w.finish * f_max + c_max < w.late
    assert w.late * l_max + w.finish * f_max + c_max < w.undelivered


@given(portfolios, st.data())
def test_combined_value_orders_like_the_terms(portfolio: Portfolio, data: st.DataObject) -> None:
    w = weights(portfolio)
    l_max, f_max, c_max = _true_maxima(portfolio)

    def terms() -> Terms:
        # the extremes matter most: mix them in
        def draw(hi: int) -> int:
            return data.draw(st.one_of(st.sampled_from([0, hi]), st.integers(0, hi)))

        return Terms(draw(10**7), draw(l_max), draw(f_max), draw(c_max))

    a, b = terms(), terms()
    assert (w.combine(a) < w.combine(b)) == (a.key() < b.key())
    assert (w.combine(a) == w.combine(b)) == (a.key() == b.key())


def _preferred_elsewhere() -> Portfolio:
    # the dearest assignee is the one not preferred, at exactly the level needed: the whole
    # charge is the preference's (the generator writes no `prefer` lists)
    return load_portfolio(
        portfolio_dict(
            [
                {"id": "ann", "skills": {"py": 1}, "cost_per_hour": 50},
                {"id": "bob", "skills": {"py": 1}, "cost_per_hour": 0},
            ],
            [{"id": "a", "skill": "py", "effort_hours": 8, "prefer": ["bob"]}],
        )
    )


def test_lower_terms_at_their_worst_lose_to_one_unit_above() -> None:
    # the worst case built explicitly: every lower term at its brute-force maximum against
    # one unit more of the term above and every lower term at 0
    cases = [_small(3, 2, seed) for seed in range(5)]
    for portfolio in [*cases, _hand_portfolio(), _preferred_elsewhere()]:
        w = weights(portfolio)
        l_max, f_max, c_max = _true_maxima(portfolio)
        assert w.combine(Terms(0, 0, 0, c_max)) < w.combine(Terms(0, 0, 1, 0))
        assert w.combine(Terms(0, 0, f_max, c_max)) < w.combine(Terms(0, 1, 0, 0))
        assert w.combine(Terms(0, l_max, f_max, c_max)) < w.combine(Terms(1, 0, 0, 0))


@pytest.mark.parametrize("seed", [0, 1])
def test_solved_plans_stay_within_the_brute_force_maxima(seed: int) -> None:
    portfolio = _small(3, 2, seed)
    l_max, f_max, c_max = _true_maxima(portfolio)
    for params in (SolveParams(greedy_only=True), SolveParams(time_limit=1, workers=1, seed=0)):
        t = evaluate(portfolio, solve(portfolio, params).plan)
        assert 0 <= t.late <= l_max and 0 <= t.finish <= f_max and 0 <= t.cost <= c_max
