"""The rules that tie tasks together: pins, precedence, capacity, redundant cumulatives over
pools and Hall sets, and stability against a previous plan (one rule per function, the math in
each docstring; notation in :mod:`solver_models.cpsat.model`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ortools.sat.python import cp_model

from solver_models.cpsat.params import Stability
from solver_models.instance import TaskInfo
from solver_models.pools import interchangeable

if TYPE_CHECKING:
    from solver_models.cpsat.model import Model


def pins(model: Model, t: TaskInfo) -> None:
    """If assigned: the pinned person is among the assignees and it starts on the pinned day
    (in-progress tasks: kept people, first common available day from ``as_of``).

    Whether a pinned task is assigned is not decided here: the stage ``pins`` (see
    :func:`solve_lexicographic`) first minimizes the number of pinned tasks left out."""
    x = model.assigned[t.index]
    if t.pin_start is not None:
        model.cp.add(model.start[t.index] == t.pin_start).only_enforce_if(x)
    if t.pin_person is not None:
        if t.is_team:
            mem = model.member.get((t.index, t.pin_person))
            if mem is None:
                model.cp.add(x == 0)
            else:
                model.cp.add(mem == x)
        else:
            lit = model.does.get((t.index, t.pin_person))
            if lit is None:
                model.cp.add(x == 0)
            else:
                model.cp.add(lit == x)
    if t.keep_people is not None and t.is_team:
        for p in t.keep_people:
            mem = model.member.get((t.index, p))
            if mem is None:
                model.cp.add(x == 0)
            else:
                model.cp.add(mem == x)


def precedence(model: Model) -> None:
    """``assigned[t] => assigned[u]`` and ``finish[u] < start[t]`` for each predecessor ``u``."""
    for t in model.tasks:
        if t.index in model.forced:
            model.cp.add(model.assigned[t.index] == 1)
        for u in t.preds:
            if u not in model.assigned:
                if model.fixed is None or u not in model.fixed.start:
                    model.cp.add(model.assigned[t.index] == 0)
                continue  # a fixed predecessor: the window already starts after it
            x = model.assigned[t.index]
            model.cp.add_implication(x, model.assigned[u])
            model.cp.add(model.finish[u] < model.start[t.index]).only_enforce_if(x)


def capacity(model: Model) -> None:
    """Per person and working day: the allocations of present intervals plus the fixed
    reduction ``100 - capacity`` of reduced-capacity days add up to at most 100. When every
    demand is 100 this is a no-overlap constraint."""
    inst = model.inst
    for p, items in model.load.items():
        blockers: list[tuple[cp_model.IntervalVar, int]] = []
        cap = model.cap[p]
        avail = inst.avail[p]
        w = 0
        n = inst.n_days
        while w < n:
            if avail[w] and cap[w] < 100:
                pct = int(cap[w])
                e = w
                while e + 1 < n and avail[e + 1] and cap[e + 1] == cap[w]:
                    e += 1
                iv = model.cp.new_fixed_size_interval_var(
                    w, e - w + 1, f"reduced[{inst.people[p].id},{w}]"
                )
                blockers.append((iv, 100 - pct))
                w = e + 1
            else:
                w += 1
        all_items = items + blockers
        if all(dem == 100 for _, dem in all_items):
            model.cp.add_no_overlap([iv for iv, _ in all_items])
        else:
            model.cp.add_cumulative([iv for iv, _ in all_items], [dem for _, dem in all_items], 100)


def pool_capacity(model: Model) -> None:
    """Per pure pool ``P`` and working day: the places of ``P`` in use are at most ``|P|``
    (tasks hold ``[start, finish]``; see :mod:`solver_models.pools`)."""
    for n, items in model.pool_load.items():
        size = len(model.pool_members[n])
        model.cp.add_cumulative([iv for iv, _ in items], [u for _, u in items], size)


def redundant_pools(model: Model) -> None:
    """Redundant capacity of pools of interchangeable people (same skills, levels,
    availability and capacity: a PSPLIB resource read as ``c`` people, a team of equals).

    For a pool ``P`` and every day: ``sum`` over tasks whose places (some of them) can only
    be filled from ``P`` of ``allocation x those places`` ``<= 100 x |P|``. It is the sum of
    the members' own capacity rules, so it removes no solution; it lets CP-SAT reason about
    the pool as one cumulative resource (energy, edge finding) instead of ``|P|`` separate
    no-overlaps, which is what proves bounds on resource-constrained benchmarks.
    """
    pools = interchangeable(model.inst.people, model.inst.avail, model.cap)
    pool_of: dict[int, int] = {}
    for n, members in enumerate(pools):
        for p in members:
            pool_of[p] = n
    if not pools:
        return
    load: dict[int, list[tuple[cp_model.IntervalVar, int]]] = {}
    for t in model.tasks:
        x = model.assigned[t.index]
        per_pool: dict[int, int] = {}
        for k in range(len(t.places)):
            if (t.index, k) in model.pool_place:
                continue  # a pure pool: already one cumulative resource
            owners = {pool_of.get(p, -1) for p in model.place_cands(t, k)}
            if len(owners) == 1 and -1 not in owners:
                n = owners.pop()
                per_pool[n] = per_pool.get(n, 0) + 1
        for n, places in per_pool.items():
            s, f = model.start[t.index], model.finish[t.index]
            if t.is_team:
                iv = model.cp.new_optional_fixed_size_interval_var(
                    s, t.duration or 1, x, f"pool_use[{t.id},{n}]"
                )
            else:
                size = model.span.get(t.index)
                if size is None:
                    continue
                iv = model.cp.new_optional_interval_var(s, size, f + 1, x, f"pool_use[{t.id},{n}]")
            load.setdefault(n, []).append((iv, t.alloc * places))
    for n, items in load.items():
        if len(items) < 2:
            continue
        model.cp.add_cumulative([iv for iv, _ in items], [d for _, d in items], 100 * len(pools[n]))


def hall(model: Model) -> None:
    """Redundant capacity of sets of people that team places draw on (Hall's condition).

    For a set ``U`` of people and every day: ``sum`` over tasks of ``allocation x`` (their
    places whose eligible people all lie in ``U``) ``<= 100 x |U|``. Each such place is
    filled by a different member of ``U`` (a task's places by distinct people), who carries
    the allocation on that day in its own capacity rule, so this is a sum of those rules and
    removes no solution of the model. ``U`` ranges over the eligible sets of team places
    (a skill's holders on MSPSP), their union, and with ``hall_level`` 2 the unions of two
    of them (when there are at most ``hall_max`` sets; the ``hall_max`` smallest unions are
    kept): it gives CP-SAT a cumulative per skill (energy, edge finding) where the
    person-by-person model has only no-overlaps, which is what bounds multi-skill benchmarks.
    One-person tasks count with their span ``[start, finish]`` (as in ``capacity``).
    Added for the ``makespan`` objective only: on a generated ``portfolio`` (40 people, 187
    tasks) its 59 extra cumulatives made the first stage worse at equal deterministic time.
    Places filled from pure pools take no part (see the loop below).
    """
    if model.options.hall_level <= 0:
        return
    sets: dict[frozenset[int], None] = {}
    for t in model.tasks:
        if t.is_team:
            for k in range(len(t.places)):
                # places filled from a pure pool are out: the pool is already one exact
                # cumulative, and unions of pools measured worse (PSPLIB j3013_1 in the
                # benchmark slice: 59 with bound 41, against 58 with bound 49 without)
                if (t.index, k) in model.pool_place:
                    continue
                cands = model.place_cands(t, k)
                if len(cands) >= 2:
                    sets[frozenset(cands)] = None
    if not sets:
        return
    base = list(sets)
    unions: dict[frozenset[int], None] = dict(sets)
    if model.options.hall_level >= 2 and len(base) <= model.options.hall_max:
        for a in range(len(base)):
            for b in range(a + 1, len(base)):
                unions[base[a] | base[b]] = None
    unions[frozenset().union(*base)] = None
    for members in model.pool_members:  # already one cumulative (``pool_capacity``)
        unions.pop(frozenset(members), None)
    chosen = sorted(unions, key=lambda u: (len(u), sorted(u)))[: model.options.hall_max]
    within = frozenset().union(*chosen)
    # per task: its allocation and the eligible set of each place that may count
    places: list[tuple[TaskInfo, list[frozenset[int]]]] = []
    for t in model.tasks:
        if not t.places or not (t.is_team or t.index in model.span):
            continue
        pcands: list[frozenset[int]] = []
        for k in range(len(t.places)):
            n = model.pool_place.get((t.index, k))
            c = frozenset(model.pool_members[n] if n is not None else model.place_cands(t, k))
            if c and c <= within:
                pcands.append(c)
        if pcands:
            places.append((t, pcands))
    ivs: dict[int, cp_model.IntervalVar] = {}

    def interval(t: TaskInfo) -> cp_model.IntervalVar:
        if t.index not in ivs:
            x, s = model.assigned[t.index], model.start[t.index]
            if t.is_team:
                ivs[t.index] = model.cp.new_optional_fixed_size_interval_var(
                    s, t.duration or 1, x, f"hall_use[{t.id}]"
                )
            else:
                ivs[t.index] = model.cp.new_optional_interval_var(
                    s, model.span[t.index], model.finish[t.index] + 1, x, f"hall_use[{t.id}]"
                )
        return ivs[t.index]

    for u in chosen:
        items = [(t, sum(1 for c in pc if c <= u)) for t, pc in places]
        items = [(t, n) for t, n in items if n]
        dems = [t.alloc * n for t, n in items]
        if len(items) >= 2 and sum(dems) > 100 * len(u):
            model.cp.add_cumulative([interval(t) for t, _ in items], dems, 100 * len(u))


def all_assigned(model: Model) -> None:
    """``makespan`` objective: every task is assigned."""
    for x in model.assigned.values():
        model.cp.add(x == 1)


def stability(model: Model, stab: Stability) -> list[cp_model.IntVar]:
    """``moved[t] = 1 - stay[t]`` per task of the previous plan the model can represent (a bool, true when the
    task is unassigned or its start or one of its people differs): ``stay[t] = 1 - moved[t]``
    implies ``assigned[t]``, ``start[t] = s0`` and each previous person's ``does``/``member``.
    ``sum moved <= budget`` when a budget is given. Returns the ``stay`` literals.

    Tasks whose previous placement is outside this model (a stretched team task, a person no
    longer eligible) get no literal: their change is forced, not chosen, and is not counted.
    """
    m = model.cp
    prev = model.admissible(stab.previous)
    stays: list[cp_model.IntVar] = []
    in_model = {t.index: t for t in model.tasks}
    for i, s0 in prev.start.items():
        t = in_model.get(i)
        if t is None:
            continue
        lits = []
        ok = True
        for p in prev.people.get(i, ()):
            lit = model.member.get((i, p)) if t.is_team else model.does.get((i, p))
            if lit is None:
                ok = False
                break
            lits.append(lit)
        if not ok:
            continue
        stay = m.new_bool_var(f"stay[{t.id}]")
        m.add_implication(stay, model.assigned[i])
        for lit in lits:
            m.add_implication(stay, lit)
        m.add(model.start[i] == s0).only_enforce_if(stay)
        stays.append(stay)
    if stab.budget is not None and stays:
        m.add(len(stays) - sum(stays) <= stab.budget)
    return stays
