"""The compiled instance agrees with the domain's own definitions."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from allocator.generator import generate
from allocator.objective import assignee_cost_units
from allocator.timeline import task_duration
from solver_models.instance import compile_instance


@settings(max_examples=20)
@given(st.integers(1, 25), st.integers(1, 6), st.integers(0, 10_000))
def test_candidates_durations_and_costs_match_the_domain(
    people: int, projects: int, seed: int
) -> None:
    portfolio = generate(people, projects, seed=seed, team_task_share=0.2, pin_share=0.1)
    inst = compile_instance(portfolio)
    for t in inst.tasks:
        for i, c in t.candidates.items():
            person = inst.people[i]
            assert person.id not in t.task.exclude
            assert any(person.level(pl.skill) >= pl.min_level for pl in t.places)
            assert c.duration == task_duration(t.task, None if t.is_team else person)
            assert c.cost == assignee_cost_units(t.task, person)
        for k, cands in enumerate(t.place_candidates):
            assert cands == sorted(cands)  # portfolio order
            place = t.places[k]
            assert all(inst.people[i].level(place.skill) >= place.min_level for i in cands)
