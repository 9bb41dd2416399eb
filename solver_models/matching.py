"""Bipartite matching of people to places, the one definition of the solver side and of the
plan analytics (:mod:`allocator.analytics`).

A team task's places (its requirements, one place per person needed) are filled one-to-one by
distinct people; who may fill which place is a predicate. :func:`match` gives a maximum
matching by augmenting paths (Kuhn's algorithm: people are placed in order, each by a search
over the places in order), so its result is deterministic. Teams are small (a few places), for
which this is as fast as Hopcroft-Karp and simpler.

The plan checker (:mod:`allocator.checker`) keeps its own matching on purpose: it is
independent of the solver side, so that a bug here cannot hide in a checked plan.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Sequence

__all__ = ["fill_places", "match"]


def match(n_people: int, n_places: int, fits: Callable[[int, int], bool]) -> list[int | None]:
    """A maximum matching of people ``0..n_people-1`` to places ``0..n_places-1``, where person
    ``i`` may fill place ``k`` when ``fits(i, k)``: the person in each place (``None`` for a place
    left unfilled). People are placed in order; a person who fits no free place (even after
    moving the others along an augmenting path) stays out."""
    holder: list[int | None] = [None] * n_places

    def augment(i: int, seen: list[bool]) -> bool:
        for k in range(n_places):
            if seen[k] or not fits(i, k):
                continue
            seen[k] = True
            other = holder[k]
            if other is None or augment(other, seen):
                holder[k] = i
                return True
        return False

    for i in range(n_people):
        augment(i, [False] * n_places)
    return holder


def fill_places(
    people: Sequence[int], place_candidates: Sequence[Container[int]]
) -> list[int] | None:
    """``people`` one per place (place ``k`` takes the people in ``place_candidates[k]``), in
    place order, or ``None`` when they are not as many as the places or cannot fill every place
    one-to-one."""
    n = len(place_candidates)
    if len(people) != n:
        return None
    holder = match(n, n, lambda i, k: people[i] in place_candidates[k])
    out = [people[h] for h in holder if h is not None]
    return out if len(out) == n else None
