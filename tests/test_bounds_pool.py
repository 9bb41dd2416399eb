"""The scheduling relaxation without assignment (``solver_models.pool_bound``, issue 15): what it
sees that the other bounds do not, and its capacity profile. Its validity against every plan
is ``tests/test_bruteforce.py::test_pool_bound_is_below_every_valid_plan``."""

from __future__ import annotations

from typing import Any

import numpy as np

from allocator import load_portfolio
from allocator.engine import SolveParams, solve
from allocator.objective import evaluate
from solver_models.assignment_bound import assignment_bound
from solver_models.bounds import undelivered_lower_bound
from solver_models.instance import compile_instance
from solver_models.pool_bound import person_profiles, pool_bound
from tests.conftest import portfolio_dict


def test_pool_bound_sees_that_a_task_runs_without_pause() -> None:
    # one person, 4 working days (Mon-Thu); b (2 days) must run on Tue-Wed (earliest start and
    # hard deadline), a (2 days) anywhere: a could only go on Mon + Thu, with a pause, so one of
    # them is always left out (16 h). The assignment relaxation (no calendar) and the LPs
    # (preemptive) see room for both; the scheduling relaxation does not
    p = load_portfolio(
        portfolio_dict(
            [{"id": "ann", "skills": {"py": 3}}],
            [
                {"id": "a", "skill": "py", "effort_hours": 16},
                {
                    "id": "b",
                    "skill": "py",
                    "effort_hours": 16,
                    "earliest_start": "2027-01-05",
                    "deadline": "2027-01-06",
                },
            ],
            end="2027-01-07",
            policy={"hard_deadlines": True},
        )
    )
    inst = compile_instance(p)
    assert inst.impossible_units() == 0
    assert assignment_bound(inst) == 0
    assert undelivered_lower_bound(inst, pool=False) == 0
    found = pool_bound(inst)
    assert found is not None and found.status == "OPTIMAL"
    assert found.undelivered == 1_600
    # a small portfolio: the engine's bound runs it by default
    assert undelivered_lower_bound(inst) == 1_600
    plan = solve(p, SolveParams(time_limit=5, workers=1, seed=0)).plan
    assert evaluate(p, plan).undelivered == 1_600


def test_pool_bound_counts_a_team_only_on_its_active_days() -> None:
    # Mon-Wed, ann away on Tuesday: the two-day team task of ann and bob runs Mon + Wed (its
    # span, Mon-Wed, holds Tuesday, when it takes nobody), and bob does his one-day qa task on
    # Tuesday: nothing is left out. Counting the team over its span (both people, three days)
    # would leave no day for the qa task and claim 8 h
    people: list[dict[str, Any]] = [
        {
            "id": "ann",
            "skills": {"py": 2},
            "time_off": [{"start": "2027-01-05", "end": "2027-01-05"}],
        },
        {"id": "bob", "skills": {"py": 2, "qa": 1}},
    ]
    tasks = [
        {"id": "team", "requirements": [{"skill": "py", "count": 2}], "duration_days": 2},
        {"id": "q", "skill": "qa", "effort_hours": 8},
    ]
    p = load_portfolio(portfolio_dict(people, tasks, end="2027-01-06"))
    inst = compile_instance(p)
    assert inst.impossible_units() == 0
    found = pool_bound(inst)
    assert found is not None and found.status == "OPTIMAL" and found.teams == 1
    assert found.undelivered == 0
    plan = solve(p, SolveParams(time_limit=5, workers=1, seed=0)).plan
    assert evaluate(p, plan).undelivered == 0


def test_profile_on_an_absence_is_the_smaller_capacity_around_it() -> None:
    avail = np.array([[False, True, True, False, True, False]])
    cap = np.array([[0, 100, 50, 0, 80, 0]])
    # before the first and after the last available day: nothing can be in span
    assert person_profiles(avail, cap).tolist() == [[0, 100, 50, 50, 80, 0]]
