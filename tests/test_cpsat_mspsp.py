"""Team tasks in the CP-SAT model: grouped interchangeable places and the Hall cumulatives.

``cpsat.variables.team_places`` gives places with the same eligible people one literal per
(group, person), and ``cpsat.constraints.hall`` adds redundant cumulatives over the people that sets of places
draw on. Both claim to keep the optimum of the place-by-place model without them: checked on
generated multi-skill portfolios solved to optimality (plans judged by the checker).
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from allocator import load_portfolio
from solver_models.cpsat import CpSatParams, Model, ModelOptions, solve_lexicographic, whole
from solver_models.instance import compile_instance
from tests.conftest import portfolio_dict
from tests.solved import checked_first_stage

SKILLS = ("a", "b", "c")


def _solve(data: dict[str, Any], objective: str, group: bool, hall: int) -> tuple[int | None, bool]:
    """(first stage's value, proven optimal), ``(None, True)`` when the model is infeasible
    (team tasks do not stretch over absences: see *Exactness*); the plan must pass the checker."""
    portfolio = load_portfolio(data)
    inst = compile_instance(portfolio)
    res = solve_lexicographic(
        inst,
        objective,
        CpSatParams(time_limit=20, workers=1, seed=0),
        options=ModelOptions(group_places=group, hall_level=hall),
    )
    if res.infeasible:
        # only the makespan objective needs every task; the portfolio one can leave tasks out
        assert objective == "makespan", "the portfolio objective's model has a plan"
        return None, True
    return checked_first_stage(portfolio, inst, res, objective)


@st.composite
def team_portfolios(draw: st.DrawFn) -> dict[str, Any]:
    """3-6 people with random skill sets and levels (sometimes a day off or a part-time
    period); team tasks needing several people per skill (sometimes at a minimum level, or at
    50 %), some one-person tasks, a few precedence edges. Like MSPSP, on a small scale."""
    people: list[dict[str, Any]] = []
    for u in range(draw(st.integers(3, 6))):
        skills = draw(st.sets(st.sampled_from(SKILLS), min_size=1, max_size=3))
        person: dict[str, Any] = {
            "id": f"p{u}",
            "skills": {s: draw(st.integers(1, 3)) for s in sorted(skills)},
        }
        if draw(st.integers(0, 4)) == 0:
            person["time_off"] = [{"start": "2027-01-06", "end": "2027-01-06"}]
        people.append(person)
    tasks: list[dict[str, Any]] = []
    for i in range(draw(st.integers(2, 6))):
        task: dict[str, Any] = {"id": f"t{i}"}
        if draw(st.integers(0, 3)) == 0:
            task["skill"] = draw(st.sampled_from(SKILLS))
            task["effort_hours"] = 8 * draw(st.integers(1, 2))
        else:
            reqs: list[dict[str, Any]] = []
            for s in draw(st.sets(st.sampled_from(SKILLS), min_size=1, max_size=2)):
                level = draw(st.sampled_from([1, 1, 2]))
                reqs += [{"skill": s, "min_level": level}] * draw(st.integers(1, 2))
            task["requirements"] = reqs
            task["duration_days"] = draw(st.integers(1, 3))
        if draw(st.integers(0, 4)) == 0:
            task["allocation"] = 50
        if i and draw(st.booleans()):
            task["predecessors"] = [f"t{draw(st.integers(0, i - 1))}"]
        tasks.append(task)
    return portfolio_dict(people, tasks, policy={"objective": "makespan"})


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(team_portfolios())
def test_grouped_places_and_hall_keep_the_makespan_optimum(data: dict[str, Any]) -> None:
    portfolio = load_portfolio(data)
    if not all(t.possible for t in compile_instance(portfolio).tasks):
        data = {**data, "policy": {"objective": "portfolio"}}  # makespan needs every task
        objective = "portfolio"
    else:
        objective = "makespan"
    new, new_opt = _solve(data, objective, group=True, hall=2)
    old, old_opt = _solve(data, objective, group=False, hall=0)
    assert new_opt and old_opt
    assert new == old  # also the verdict: both infeasible (None) or both the same optimum
    if new is None:
        # two infeasible models agree but compare nothing: compare them where both have plans
        data = {**data, "policy": {"objective": "portfolio"}}
        new, new_opt = _solve(data, "portfolio", group=True, hall=2)
        old, old_opt = _solve(data, "portfolio", group=False, hall=0)
        assert new_opt and old_opt
        assert new is not None and new == old


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(team_portfolios())
def test_grouped_places_portfolio_objective_valid_and_equal(data: dict[str, Any]) -> None:
    data = {**data, "policy": {"objective": "portfolio"}}
    new, new_opt = _solve(data, "portfolio", group=True, hall=1)
    old, old_opt = _solve(data, "portfolio", group=False, hall=0)
    assert new_opt and old_opt  # tiny models, 20 s: both proven, or the test fails
    assert new is not None and new == old


def test_interchangeable_places_share_literals() -> None:
    people = [{"id": f"x{u}", "skills": {"a": 2, "b": 1}} for u in range(2)]
    people += [{"id": f"y{u}", "skills": {"a": 1}} for u in range(3)]
    tasks = [
        {
            "id": "t",
            "requirements": [{"skill": "a", "min_level": 1}] * 3 + [{"skill": "b", "min_level": 1}],
            "duration_days": 2,
        },
        {"id": "u", "skill": "a", "min_level": 2, "effort_hours": 8},
    ]
    data = portfolio_dict(people, tasks, policy={"objective": "makespan"})
    model = Model(whole(compile_instance(load_portfolio(data))), "makespan")
    # three "a" places (5 people) and one "b" place (2 people): one literal per group and person
    assert model.place_groups[0] == [[0, 1, 2], [3]]
    assert len([k for k in model.fills if k[0] == 0]) == 5 + 2
    value, optimal = _solve(data, "makespan", group=True, hall=2)
    # t takes one x (for b) and the three y's, so the other x does u beside it
    assert optimal and value == 2
