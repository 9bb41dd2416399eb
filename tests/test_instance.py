"""The compiled instance agrees with the domain's own definitions."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from allocator.generator import generate
from allocator.objective import assignee_cost_units
from allocator.timeline import availability, capacity, task_duration
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


@settings(max_examples=15)
@given(st.integers(1, 30), st.integers(1, 4), st.integers(0, 10_000))
def test_availability_and_capacity_match_the_timeline(
    people: int, projects: int, seed: int
) -> None:
    """The compiler's vectorized calendar equals the domain's day-by-day definitions (part-
    timers, joining and leaving, time off, reduced capacity: the generator makes them all)."""
    portfolio = generate(people, projects, seed=seed)
    inst = compile_instance(portfolio)
    for i, person in enumerate(portfolio.people):
        assert inst.avail[i].tolist() == availability(portfolio, inst.timeline, person)
        want = [math.floor(c + 1e-9) for c in capacity(portfolio, inst.timeline, person)]
        assert inst.cap[i].tolist() == want


def test_candidates_view_behaves_as_a_mapping() -> None:
    """``TaskInfo.candidates`` is array-backed (``Candidates``) but reads like the dict it
    replaced; assigning a dict (as re-planning does) works too."""
    portfolio = generate(20, 6, seed=3, team_task_share=0.3)
    inst = compile_instance(portfolio)
    task = next(t for t in inst.tasks if not t.is_team and len(t.candidates) >= 2)
    people = list(task.candidates)
    first = task.candidates[people[0]]
    assert task.candidates[people[0]] is first  # made once, spans kept
    assert first.spans is not None and people[0] in task.candidates and -1 not in task.candidates
    assert task.candidates.get(-1) is None and len(task.candidates) == len(people)
    assert [c.person for c in task.candidates.values()] == people
    assert task.place_candidates == [people]
    assert dict(task.candidates.items()).keys() == set(people)
    task.candidates = {people[1]: task.candidates[people[1]]}
    assert list(task.candidates) == [people[1]] and task.cands.people.tolist() == [people[1]]
    team = next(t for t in inst.tasks if t.is_team and t.candidates)
    union = [p for pc in team.place_candidates for p in pc]
    assert set(team.candidates) == set(union)
    assert list(team.candidates) == list(dict.fromkeys(union))  # place by place
