"""Pools of interchangeable people: a property of the compiled data, not of a model.

A *pool* is a group of at least two people with the same skills and levels, availability and
capacity (:func:`interchangeable`). A *pure* pool (:func:`find_pools`) is one whose members are
interchangeable for every place they could fill, so that a model needs no variable per member:
a PSPLIB resource of capacity ``c`` read as ``c`` people is one. The compiler's
:attr:`solver_models.instance.Instance.pools` holds the pure pools of the whole instance; a
narrowed sub-problem (``solver_models.cpsat.problem.narrow``) finds its own on what it sees
(the capacity the fixed part leaves, the people its tasks may move to).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from allocator.domain import Person
    from solver_models.instance import TaskInfo

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pools:
    """The pure pools of a problem: their members, and which places each one fills."""

    #: per pure pool: its members (indices into ``Instance.people``)
    members: tuple[tuple[int, ...], ...] = ()
    #: (task index, place index) -> the pure pool that fills the place
    place: Mapping[tuple[int, int], int] = field(default_factory=lambda: MappingProxyType({}))

    def __bool__(self) -> bool:
        return bool(self.members)


#: no pure pools (a model that names every person)
NO_POOLS = Pools()


def interchangeable(
    people: Sequence[Person], avail: npt.NDArray[np.bool_], cap: npt.NDArray[np.int64]
) -> list[list[int]]:
    """Groups of at least two people with the same skills and levels, availability and
    capacity (``cap``: in a sub-problem, what its fixed part leaves them)."""
    groups: dict[tuple[object, ...], list[int]] = {}
    for p, person in enumerate(people):
        key = (tuple(sorted(person.skills.items())), avail[p].tobytes(), cap[p].tobytes())
        groups.setdefault(key, []).append(p)
    return [members for members in groups.values() if len(members) >= 2]


def find_pools(
    people: Sequence[Person],
    avail: npt.NDArray[np.bool_],
    cap: npt.NDArray[np.int64],
    tasks: Iterable[TaskInfo],
    place_cands: Callable[[TaskInfo, int], list[int]],
) -> Pools:
    """Find *pure pools*: people who are interchangeable for every place they could fill.

    A group ``P`` of :func:`interchangeable` people is pure when every day they are available
    they have their whole day (capacity 100), and every place of a task of ``tasks`` that one
    of them could fill (its eligible people ``place_cands(t, k)``) has exactly ``P`` as its
    candidates, allocation 100, the same duration and cost for each member, and no pin or kept
    person in ``P``.

    Then ``P`` is one cumulative resource of capacity ``|P|``: each task holds as many units as
    it has places from ``P`` over ``[start, finish]``, and who works is decided after the solve.
    That is exact: two spans of one member overlap as intervals iff they share an active day
    (starts and finishes are available days, and a span is active on each of its available
    days), and intervals whose load never exceeds ``|P|`` can always be given ``|P|`` colours,
    each colour's intervals disjoint, by taking them in order of start (at the start of one,
    the members still busy are at most ``|P|`` minus its places). It removes the symmetry
    between members and lets CP-SAT reason on the pool as a whole (energy, edge finding),
    which is what proves optimality on resource-constrained benchmarks.
    """
    candidates = interchangeable(people, avail, cap)
    if not candidates:
        return NO_POOLS
    pool_of: dict[int, int] = {}
    for n, members in enumerate(candidates):
        p0 = members[0]
        if (cap[p0][avail[p0]] == 100).all():
            for p in members:
                pool_of[p] = n
    pure = {n: True for n in set(pool_of.values())}
    uses: dict[tuple[int, int], int] = {}
    for t in tasks:
        pinned = {t.pin_person, *(t.keep_people or ())}
        for k in range(len(t.places)):
            cands = place_cands(t, k)
            owners = {pool_of.get(p, -1) for p in cands}
            owners.discard(-1)
            for n in owners:
                members = candidates[n]
                ok = (
                    len(cands) == len(members)
                    and set(cands) == set(members)
                    and t.alloc == 100
                    and not pinned & set(members)
                    and len({(t.candidates[p].duration, t.candidates[p].cost) for p in members})
                    == 1
                )
                if ok:
                    uses[(t.index, k)] = n
                else:
                    pure[n] = False
    index: dict[int, int] = {}
    found: list[tuple[int, ...]] = []
    for n, ok in sorted(pure.items()):
        if ok:
            index[n] = len(found)
            found.append(tuple(candidates[n]))
    if not found:
        return NO_POOLS
    place = {tk: index[n] for tk, n in uses.items() if n in index}
    log.debug(
        "pure pools: %s people in %s pools, %s places",
        sum(len(m) for m in found),
        len(found),
        len(place),
    )
    return Pools(members=tuple(found), place=MappingProxyType(place))
