"""The one matching of people to places on the solver side (solver_models.matching), against
brute force."""

from __future__ import annotations

from itertools import permutations

from hypothesis import given
from hypothesis import strategies as st

from solver_models.matching import fill_places, match

Graph = tuple[int, int, frozenset[tuple[int, int]]]


@st.composite
def graphs(draw: st.DrawFn) -> Graph:
    n_people = draw(st.integers(0, 5))
    n_places = draw(st.integers(0, 5))
    pairs = [(i, k) for i in range(n_people) for k in range(n_places)]
    edges = draw(st.sets(st.sampled_from(pairs))) if pairs else set()
    return n_people, n_places, frozenset(edges)


def _maximum(n_people: int, n_places: int, edges: frozenset[tuple[int, int]]) -> int:
    """The size of a maximum matching by trying every injection of places into people."""
    best = 0
    people: list[int | None] = [*range(n_people), *([None] * n_places)]
    for chosen in permutations(people, n_places):
        best = max(best, sum(1 for k, i in enumerate(chosen) if (i, k) in edges))
    return best


@given(graphs())
def test_match_is_a_maximum_matching(graph: Graph) -> None:
    n_people, n_places, edges = graph
    holder = match(n_people, n_places, lambda i, k: (i, k) in edges)
    assert len(holder) == n_places
    placed = [i for i in holder if i is not None]
    assert len(placed) == len(set(placed))  # one place a person
    assert all((i, k) in edges for k, i in enumerate(holder) if i is not None)
    assert len(placed) == _maximum(n_people, n_places, edges)


@given(graphs())
def test_fill_places_fills_every_place_or_says_it_cannot(graph: Graph) -> None:
    n_people, n_places, edges = graph
    ids = [10 + i for i in range(n_people)]  # people are ids, not positions
    candidates = [{10 + i for i in range(n_people) if (i, k) in edges} for k in range(n_places)]
    out = fill_places(ids, candidates)
    if n_people == n_places and _maximum(n_people, n_places, edges) == n_places:
        assert out is not None
        assert sorted(out) == ids
        assert all(p in candidates[k] for k, p in enumerate(out))
    else:
        assert out is None


def test_an_augmenting_path_moves_the_first_person() -> None:
    # person 0 fits both places, person 1 only the first: 0 must move to the second
    candidates = [{0, 1}, {0}]
    assert fill_places([0, 1], candidates) == [1, 0]
    assert match(2, 2, lambda i, k: i in candidates[k]) == [1, 0]
    assert fill_places([0], candidates) is None  # fewer people than places
