"""A task's variables: its window, and who does it (one rule per function, the math in each
docstring; notation in :mod:`solver_models.cpsat.model`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from ortools.sat.python import cp_model

from solver_models.instance import TaskInfo

if TYPE_CHECKING:
    from solver_models.cpsat.model import Model


def task_window(model: Model, t: TaskInfo) -> None:
    """``est(t) <= start[t] <= finish[t] <= lft(t)`` (earliest start, horizon, hard deadline)."""
    name = t.id
    model.assigned[t.index] = model.cp.new_bool_var(f"assigned[{name}]")
    starts: set[int] = set()
    finishes: set[int] = set()
    for p in model.cands(t):
        spans = candidate_spans(model, t, p)
        if spans is not None:
            starts.update(spans[0].tolist())
            finishes.update(spans[1].tolist())
    lo, hi = model.lo[t.index], model.hi[t.index]
    model.bounds[t.index] = (min(starts), max(finishes)) if starts else (lo, max(lo, hi))
    if starts:
        sdom = cp_model.Domain.from_values(sorted(starts))
        fdom = cp_model.Domain.from_values(sorted(finishes))
        model.start[t.index] = model.cp.new_int_var_from_domain(sdom, f"start[{name}]")
        model.finish[t.index] = model.cp.new_int_var_from_domain(fdom, f"finish[{name}]")
    else:
        model.start[t.index] = model.cp.new_int_var(lo, max(lo, hi), f"start[{name}]")
        model.finish[t.index] = model.cp.new_int_var(lo, max(lo, hi), f"finish[{name}]")
        if hi < lo:
            model.cp.add(model.assigned[t.index] == 0)
    model.cp.add(model.start[t.index] <= model.finish[t.index])


def one_person_from_pool(model: Model, t: TaskInfo) -> None:
    """A one-person task whose candidates are a pure pool: ``(start, finish)`` is a span of
    ``duration`` available days of any member (all have the same), and the pool carries the
    interval ``[start, finish+1)`` of one unit."""
    x = model.assigned[t.index]
    s, f = model.start[t.index], model.finish[t.index]
    n = model.pool_place[(t.index, 0)]
    p0 = model.pool_members[n][0]
    size = model.cp.new_int_var(
        1, max(1, model.hi[t.index] - model.lo[t.index] + 1), f"span[{t.id}]"
    )
    model.cp.add(size == f + 1 - s)
    model.span[t.index] = size
    spans = candidate_spans(model, t, p0)
    assert spans is not None
    span_rule(model, t, p0, x, spans, t.candidates[p0].duration)
    iv = model.cp.new_optional_interval_var(s, size, f + 1, x, f"pool_work[{t.id},{n}]")
    model.pool_load.setdefault(n, []).append((iv, 1))
    model.pool_cost.append((t.candidates[p0].cost, x))


def one_person_assignment(model: Model, t: TaskInfo) -> None:
    """``sum_p does[t,p] = assigned[t]``; if ``does[t,p]``: ``(start, finish)`` is one of
    ``p``'s spans of ``duration(t,p)`` available days (the table), and ``p`` carries an
    interval ``[start, finish+1)`` of demand ``allocation``."""
    x = model.assigned[t.index]
    s, f = model.start[t.index], model.finish[t.index]
    size = model.cp.new_int_var(
        1, max(1, model.hi[t.index] - model.lo[t.index] + 1), f"span[{t.id}]"
    )
    model.cp.add(size == f + 1 - s)
    model.span[t.index] = size
    lits = []
    for p in model.cands(t):
        c = t.candidates[p]
        spans = candidate_spans(model, t, p)
        assert spans is not None
        lit = model.cp.new_bool_var(f"does[{t.id},{model.inst.people[p].id}]")
        model.does[(t.index, p)] = lit
        lits.append(lit)
        span_rule(model, t, p, lit, spans, c.duration)
        iv = model.cp.new_optional_interval_var(
            s, size, f + 1, lit, f"work[{t.id},{model.inst.people[p].id}]"
        )
        model.load.setdefault(p, []).append((iv, t.alloc))
    model.cp.add(sum(lits) == x)


def candidate_spans(
    model: Model, t: TaskInfo, p: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]] | None:
    """The candidate's spans inside the task's window, on capacity left by fixed tasks."""
    spans = t.candidates[p].spans
    if spans is None:
        return None
    starts, finishes = spans
    lo, hi = model.lo[t.index], model.hi[t.index]
    keep = (starts >= lo) & (finishes <= hi)
    if model.cap is not model.inst.cap and len(starts):
        short = model.inst.avail[p] & (model.cap[p] < t.alloc)
        if short.any():
            before = np.concatenate(([0], np.cumsum(short)))
            keep &= before[finishes + 1] - before[starts] == 0
    return starts[keep], finishes[keep]


def span_rule(
    model: Model,
    t: TaskInfo,
    p: int,
    lit: cp_model.IntVar,
    spans: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]],
    d: int,
) -> None:
    """If ``p`` does ``t``: ``finish = start + d - 1 + g`` where ``g`` is the number of ``p``'s
    unavailable working days inside the span, which depends on the start.

    The starts are grouped by their gap ``g`` (a few classes: the absences a span can
    cross): ``does = sum_g in_class[g]``; ``in_class[g] => start in starts_g`` and
    ``finish = start + d - 1 + g``. Exact, and far smaller than a (start, finish) table.
    """
    s, f = model.start[t.index], model.finish[t.index]
    if len(spans[0]) == 0:  # eligible by day count, but every span crosses a blocked day
        model.cp.add(lit == 0)
        return
    classes: dict[int, list[int]] = {}
    gaps = spans[1] - spans[0] - (d - 1)
    for g in np.unique(gaps).tolist():
        classes[int(g)] = spans[0][gaps == g].tolist()
    who = model.inst.people[p].id
    if len(classes) == 1:
        ((g, starts),) = classes.items()
        model.cp.add_linear_expression_in_domain(
            s, cp_model.Domain.from_values(starts)
        ).only_enforce_if(lit)
        model.cp.add(f == s + (d - 1 + g)).only_enforce_if(lit)
        return
    zs = []
    for g, starts in sorted(classes.items()):
        z = model.cp.new_bool_var(f"gap[{t.id},{who},{g}]")
        zs.append(z)
        model.gap_lits.setdefault((t.index, p), []).append((z, g))
        model.cp.add_linear_expression_in_domain(
            s, cp_model.Domain.from_values(starts)
        ).only_enforce_if(z)
        model.cp.add(f == s + (d - 1 + g)).only_enforce_if(z)
    model.cp.add(sum(zs) == lit)


def team_places(model: Model, t: TaskInfo) -> None:
    """Places with the same eligible people are interchangeable (a person's duration and
    cost on a task do not depend on the place), so they form one group ``G`` with
    ``|G|`` seats: ``sum_p fills[t,G,p] = |G| x assigned[t]``; each person fills at most one
    place: ``member[t,p] = sum_G fills[t,G,p] <= 1``. Any such choice of members is a plan
    (give each group's members its places in any order), and every plan gives one, so this
    is exact, with one literal per (group, person) instead of ``|G|!`` symmetric
    (place, person) assignments. Members are available (with capacity >= allocation) on
    ``duration`` consecutive working days from ``start``, and each carries the fixed-size
    interval ``[start, start+duration)``."""
    x = model.assigned[t.index]
    d = t.duration or 1
    s, f = model.start[t.index], model.finish[t.index]
    inst = model.inst
    from_pool: dict[int, int] = {}
    groups: dict[tuple[int, ...], list[int]] = {}
    for k in range(len(t.places)):
        n = model.pool_place.get((t.index, k))
        if n is not None:  # filled from a pure pool: no variable per person
            from_pool[n] = from_pool.get(n, 0) + 1
            continue
        key = tuple(model.place_cands(t, k)) if model.options.group_places else (-1 - k,)
        groups.setdefault(key, []).append(k)
    model.place_groups[t.index] = list(groups.values())
    for group in groups.values():
        k = group[0]
        lits = []
        for p in model.place_cands(t, k):
            lit = model.cp.new_bool_var(f"fills[{t.id},{k},{inst.people[p].id}]")
            model.fills[(t.index, k, p)] = lit
            lits.append(lit)
        model.cp.add(sum(lits) == len(group) * x)
    lo, hi = model.lo[t.index], model.hi[t.index]
    window = slice(lo, hi + 1)
    pooled = {p for n in from_pool for p in model.pool_members[n]}
    for n, units in from_pool.items():
        p0 = model.pool_members[n][0]
        if not inst.avail[p0, window].all():
            model.exact = False
        ok = inst.avail[p0] & (model.cap[p0] >= t.alloc)
        run = np.convolve(ok.astype(np.int64), np.ones(d, dtype=np.int64), mode="valid")
        good = [int(w) for w in np.flatnonzero(run == d) if lo <= w and w + d - 1 <= hi]
        if not good or units > len(model.pool_members[n]):
            model.cp.add(x == 0)
            continue
        model.cp.add_linear_expression_in_domain(
            s, cp_model.Domain.from_values(good)
        ).only_enforce_if(x)
        iv = model.cp.new_optional_fixed_size_interval_var(s, d, x, f"pool_work[{t.id},{n}]")
        model.pool_load.setdefault(n, []).append((iv, units))
        model.pool_cost.append((units * t.candidates[p0].cost, x))
    for p in model.cands(t):
        if p in pooled:
            continue
        places = [
            model.fills[(t.index, k, p)]
            for k in range(len(t.places))
            if (t.index, k, p) in model.fills
        ]
        mem = model.cp.new_bool_var(f"member[{t.id},{inst.people[p].id}]")
        model.cp.add(sum(places) == mem)
        model.member[(t.index, p)] = mem
        if not inst.avail[p, window].all():
            model.exact = False
        ok = inst.avail[p] & (model.cap[p] >= t.alloc)
        if model.options.relaxed:
            team_member_relaxed(model, t, p, mem, ok)
            continue
        # starts s with ok on s..s+d-1 (all working days of the span)
        run = np.convolve(ok.astype(np.int64), np.ones(d, dtype=np.int64), mode="valid")
        good = [int(w) for w in np.flatnonzero(run == d) if lo <= w and w + d - 1 <= hi]
        if not good:
            model.cp.add(mem == 0)
            continue
        model.cp.add_linear_expression_in_domain(
            s, cp_model.Domain.from_values(good)
        ).only_enforce_if(mem)
        iv = model.cp.new_optional_fixed_size_interval_var(
            s, d, mem, f"work[{t.id},{inst.people[p].id}]"
        )
        model.load.setdefault(p, []).append((iv, t.alloc))
    # enforced only when assigned: a neighbourhood's window may be too narrow for the task
    if model.options.relaxed:
        model.cp.add(f >= s + d - 1).only_enforce_if(x)
    else:
        model.cp.add(f == s + d - 1).only_enforce_if(x)


def team_member_relaxed(
    model: Model, t: TaskInfo, p: int, mem: cp_model.IntVar, ok: npt.NDArray[np.bool_]
) -> None:
    """Relaxation of a member's part in a team task, true of every valid plan: ``start`` and
    ``finish`` are active days, so the member is available there with capacity for the
    allocation, and is busy on both days (what happens between is left free)."""
    s, f = model.start[t.index], model.finish[t.index]
    days = [int(w) for w in np.flatnonzero(ok) if model.lo[t.index] <= w <= model.hi[t.index]]
    if not days:
        model.cp.add(mem == 0)
        return
    dom = cp_model.Domain.from_values(days)
    model.cp.add_linear_expression_in_domain(s, dom).only_enforce_if(mem)
    model.cp.add_linear_expression_in_domain(f, dom).only_enforce_if(mem)
    who = model.inst.people[p].id
    first = model.cp.new_optional_fixed_size_interval_var(s, 1, mem, f"first_day[{t.id},{who}]")
    model.load.setdefault(p, []).append((first, t.alloc))
    if (t.duration or 1) > 1:
        last = model.cp.new_optional_fixed_size_interval_var(f, 1, mem, f"last_day[{t.id},{who}]")
        model.load.setdefault(p, []).append((last, t.alloc))


def no_people(model: Model, t: TaskInfo) -> None:
    """A task needing nobody: every working day is active, ``finish = start + duration - 1``."""
    d = t.duration or 1
    x = model.assigned[t.index]
    model.cp.add(model.finish[t.index] == model.start[t.index] + d - 1).only_enforce_if(x)
