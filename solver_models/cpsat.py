"""The CP-SAT formulation: one function per business rule, the math in each docstring.

Notation: working days ``w = 0..W-1``; tasks ``t`` (only those that can be assigned at all, see
:mod:`solver_models.instance`); people ``p``; ``cand(t)`` the eligible people of one-person task
``t``, ``cand(t, k)`` those of place ``k`` of a team task.

Variables (named so that a model dump reads as the plan):

* ``assigned[t]`` (bool): the task is planned;
* ``start[t]``, ``finish[t]`` (int): its first and last active working day;
* ``does[t,p]`` (bool): person ``p`` does one-person task ``t``;
* ``fills[t,k,p]`` (bool): ``p`` fills one of the places of team task ``t`` that are
  interchangeable with place ``k`` (``k`` the first of them, see ``_team_places``);
  ``member[t,p]`` = sum over those groups;
* ``late[t]``, ``done_by[t]`` (int): late working days, and ``finish+1`` when assigned;
* intervals ``work[t,p]`` in working-day time, present when ``p`` works on ``t``.

**Exactness.** One-person tasks are modelled exactly: the table of (start, finish) pairs of a
candidate lists precisely the spans with ``duration`` available days of that person, so the task
stretches over their absences as the contract's *active days* define. Consuming the allocation on
the absent days inside a span is harmless: every task spanning an absence of ``p`` is active on
``p``'s last available day before it, where the allocations already fit in the capacity.
Team tasks are modelled as *not* stretching over a member's absence (all members available on
``duration`` consecutive working days) — a restriction, so every plan is valid but some valid
plans are out of reach. When a portfolio has a team task for which this can matter (or a
fractional capacity percent, floored here), the model is flagged inexact and its bounds are not
used as bounds of the portfolio. A *relaxed* model (``relaxed=True``: team members only known to
be busy on the first and last active day, capacity percents rounded up) then gives a true bound
when time allows; otherwise the engine falls back to the analytic bound.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from ortools.sat.python import cp_model

from solver_models.instance import Instance, TaskInfo
from solver_models.schedule import Schedule, is_pinned

log = logging.getLogger(__name__)

#: names of the lexicographic stages of the ``portfolio`` objective, in order
PORTFOLIO_STAGES = ("undelivered", "late", "finish", "cost")
#: share of the time limit each stage may use (unused time rolls over to the next stage)
STAGE_SHARE = {"undelivered": 0.55, "late": 0.2, "finish": 0.15, "cost": 0.10}
#: the stage before the objective's that keeps as many pinned tasks as possible (see
#: :func:`solve_lexicographic`); not a term of the objective
PINS_STAGE = "pins"
#: its share of the time limit when the shares given do not name it (usually it ends at once:
#: the warm start keeps every pin it can, and 0 is a proof)
PINS_SHARE = 0.1


@dataclass
class SolverParams:
    """CP-SAT parameters. Tests use ``workers=1`` and a fixed seed (parallel CP-SAT varies)."""

    time_limit: float = 20.0
    workers: int = 2
    seed: int = 0
    #: optional cap on CP-SAT's deterministic time per stage (machine-independent runs)
    deterministic_time: float | None = None
    log_search: bool = False


@dataclass
class ModelResult:
    """What a CP-SAT run gives back: the best schedule, stage values and bounds."""

    schedule: Schedule | None
    #: per stage: (value, bound, proven optimal)
    stages: dict[str, tuple[int, int, bool]] = field(default_factory=dict)
    infeasible: bool = False
    wall_seconds: float = 0.0
    exact: bool = True


class _Model:
    """Builds the CP-SAT model of an instance; one method per rule."""

    #: one ``fills`` literal per (group of interchangeable places, person) instead of one per
    #: (place, person) (see ``_team_places``); off only to compare both formulations
    group_places: bool = True
    #: which unions of team places' eligible sets get a redundant cumulative (``_hall``):
    #: 0 none, 1 each set and the union of all, 2 also the unions of two sets (measured best
    #: on MSPSP at equal deterministic time; 0 only to compare formulations)
    hall_level: int = 2
    #: at most this many ``_hall`` cumulatives (the first found, smallest sets first)
    hall_max: int = 64

    def __init__(
        self,
        instance: Instance,
        *,
        relaxed: bool = False,
        free: set[int] | None = None,
        fixed: Schedule | None = None,
        people: set[int] | None = None,
        pooling: bool = True,
    ) -> None:
        """The model of ``instance``; with ``free`` and ``fixed``, the sub-model of a large
        neighbourhood: only the ``free`` tasks are variables, the other tasks stay as ``fixed``
        has them (their bookings taken off capacity, their dates bounding the free tasks).
        ``pooling=False`` keeps one variable per person even for pure pools (see
        ``_pure_pools``), for rules that must name people in the model (stability)."""
        self.inst = instance
        #: a relaxation for bounds only: team tasks as in ``_team_member_relaxed``
        self.relaxed = relaxed
        self.m = cp_model.CpModel()
        self.cap = instance.cap
        #: per task: the window [lo, hi] its start and finish must lie in
        self.lo = {t.index: t.est for t in instance.tasks}
        self.hi = {t.index: t.lft for t in instance.tasks}
        #: tasks that must be assigned (a fixed successor depends on them)
        self.forced: set[int] = set()
        self.fixed = fixed
        #: the people free tasks may move to (None: everyone eligible); a task may always keep
        #: the people it has in ``fixed``
        self.people = people
        self._keep: dict[int, tuple[int, ...]] = dict(fixed.people) if fixed is not None else {}
        if free is None:
            self.tasks = [t for t in instance.tasks if t.possible]
        else:
            assert fixed is not None
            self.tasks = self._neighbourhood(free, fixed)
        self.assigned: dict[int, cp_model.IntVar] = {}
        self.start: dict[int, cp_model.IntVar] = {}
        self.finish: dict[int, cp_model.IntVar] = {}
        self.does: dict[tuple[int, int], cp_model.IntVar] = {}
        self.fills: dict[tuple[int, int, int], cp_model.IntVar] = {}
        #: per team task: its groups of interchangeable places not filled from pure pools
        #: (place indices, the first one keys ``fills``)
        self.place_groups: dict[int, list[list[int]]] = {}
        self.member: dict[tuple[int, int], cp_model.IntVar] = {}
        self.late: dict[int, cp_model.IntVar] = {}
        self.done_by: dict[int, cp_model.IntVar] = {}
        self.span: dict[int, cp_model.IntVar] = {}
        #: (task, person) -> [(literal, gap)] for candidates whose spans fall in several classes
        self.gap_lits: dict[tuple[int, int], list[tuple[cp_model.IntVar, int]]] = {}
        #: (smallest start, largest finish) of each task's variables
        self.bounds: dict[int, tuple[int, int]] = {}
        #: per person: (interval, demand)
        self.load: dict[int, list[tuple[cp_model.IntervalVar, int]]] = {}
        self.makespan: cp_model.IntVar | None = None
        self.exact = True
        #: objective stages added by optional rules (``stability``), by name
        self.extra_stages: dict[str, cp_model.LinearExprT] = {}
        self.pooling = pooling and not relaxed
        #: pure pools (see ``_pure_pools``): members, and (task, place) -> pool
        self.pool_members: list[list[int]] = []
        self.pool_place: dict[tuple[int, int], int] = {}
        #: per pure pool: (interval, number of its places) of each task using it
        self.pool_load: dict[int, list[tuple[cp_model.IntervalVar, int]]] = {}
        #: (cost, assigned literal) of places filled from pure pools
        self.pool_cost: list[tuple[int, cp_model.IntVar]] = []

    def cands(self, t: TaskInfo) -> list[int]:
        """The task's eligible people in this model (all, or those of the neighbourhood)."""
        if self.people is None:
            return list(t.candidates)
        keep = self._keep.get(t.index, ())
        return [p for p in t.candidates if p in self.people or p in keep]

    def place_cands(self, t: TaskInfo, k: int) -> list[int]:
        if self.people is None:
            return t.place_candidates[k]
        keep = self._keep.get(t.index, ())
        return [p for p in t.place_candidates[k] if p in self.people or p in keep]

    def _neighbourhood(self, free: set[int], fixed: Schedule) -> list[TaskInfo]:
        """Free tasks that can take part, with windows narrowed by their fixed neighbours."""
        inst = self.inst
        self.cap = inst.cap - booked_capacity(inst, fixed, exclude=free)
        out = []
        for t in inst.tasks:
            i = t.index
            if i not in free or not t.possible:
                continue
            ok = True
            for u in t.preds:
                if u in free:
                    continue
                if u not in fixed.start:
                    ok = False  # a fixed unassigned predecessor: the task stays out
                    break
                self.lo[i] = max(self.lo[i], fixed.finish[u] + 1)
            if not ok:
                continue
            for v in t.succs:
                if v not in free and v in fixed.start:
                    self.hi[i] = min(self.hi[i], fixed.start[v] - 1)
                    self.forced.add(i)
            out.append(t)
        return out

    # -- build ----------------------------------------------------------------------------------
    def build(self, objective: str) -> None:
        if self.pooling:
            self._pure_pools()
        for t in self.tasks:
            self._task_window(t)
            if t.is_team:
                self._team_places(t)
            elif t.places and (t.index, 0) in self.pool_place:
                self._one_person_from_pool(t)
            elif t.places:
                self._one_person_assignment(t)
            else:
                self._no_people(t)
            self._pins(t)
        self._precedence()
        self._capacity()
        self._pool_capacity()
        if not self.relaxed:
            self._pools()
            if objective == "makespan":
                self._hall()
        if objective == "makespan":
            self._all_assigned()
            self._makespan()
        else:
            self._lateness()
            self._finish_early()

    def _task_window(self, t: TaskInfo) -> None:
        """``est(t) <= start[t] <= finish[t] <= lft(t)`` (earliest start, horizon, hard deadline)."""
        name = t.id
        self.assigned[t.index] = self.m.new_bool_var(f"assigned[{name}]")
        starts: set[int] = set()
        finishes: set[int] = set()
        for p in self.cands(t):
            spans = self._spans(t, p)
            if spans is not None:
                starts.update(spans[0].tolist())
                finishes.update(spans[1].tolist())
        lo, hi = self.lo[t.index], self.hi[t.index]
        self.bounds[t.index] = (min(starts), max(finishes)) if starts else (lo, max(lo, hi))
        if starts:
            sdom = cp_model.Domain.from_values(sorted(starts))
            fdom = cp_model.Domain.from_values(sorted(finishes))
            self.start[t.index] = self.m.new_int_var_from_domain(sdom, f"start[{name}]")
            self.finish[t.index] = self.m.new_int_var_from_domain(fdom, f"finish[{name}]")
        else:
            self.start[t.index] = self.m.new_int_var(lo, max(lo, hi), f"start[{name}]")
            self.finish[t.index] = self.m.new_int_var(lo, max(lo, hi), f"finish[{name}]")
            if hi < lo:
                self.m.add(self.assigned[t.index] == 0)
        self.m.add(self.start[t.index] <= self.finish[t.index])

    def _interchangeable(self) -> list[list[int]]:
        """Groups of at least two people with the same skills and levels, availability and
        capacity (``cap``: in a neighbourhood, what the fixed part leaves them)."""
        inst = self.inst
        groups: dict[tuple[object, ...], list[int]] = {}
        for p, person in enumerate(inst.people):
            key = (
                tuple(sorted(person.skills.items())),
                inst.avail[p].tobytes(),
                self.cap[p].tobytes(),
            )
            groups.setdefault(key, []).append(p)
        return [members for members in groups.values() if len(members) >= 2]

    def _pure_pools(self) -> None:
        """Find *pure pools*: people who are interchangeable for every place they could fill, so
        the model needs no variable per person for them.

        A group ``P`` of at least two people with the same skills and levels, availability and
        capacity (``cap`` here: in a neighbourhood, what the fixed part leaves) is pure when
        every day they are available they have their whole day (capacity 100), and every place
        of a task in the model that one of them could fill has exactly ``P`` as its candidates,
        allocation 100, the same duration and cost for each member, and no pin or kept person
        in ``P``. A PSPLIB resource of capacity ``c`` read as ``c`` people is one.

        Then ``P`` is one cumulative resource of capacity ``|P|``: each task holds as many units
        as it has places from ``P`` over ``[start, finish]`` (``_pool_capacity``), and who works
        is decided after the solve (``_name_pool_people``). That is exact: two spans of one
        member overlap as intervals iff they share an active day (starts and finishes are
        available days, and a span is active on each of its available days), and intervals
        whose load never exceeds ``|P|`` can always be given ``|P|`` colours, each colour's
        intervals disjoint, by taking them in order of start (at the start of one, the members
        still busy are at most ``|P|`` minus its places). It removes the symmetry between
        members and lets CP-SAT reason on the pool as a whole (energy, edge finding), which is
        what proves optimality on resource-constrained benchmarks.
        """
        inst = self.inst
        candidates = self._interchangeable()
        if not candidates:
            return
        pool_of: dict[int, int] = {}
        for n, members in enumerate(candidates):
            p0 = members[0]
            if (self.cap[p0][inst.avail[p0]] == 100).all():
                for p in members:
                    pool_of[p] = n
        pure = {n: True for n in set(pool_of.values())}
        uses: dict[tuple[int, int], int] = {}
        for t in self.tasks:
            pinned = {t.pin_person, *(t.keep_people or ())}
            for k in range(len(t.places)):
                cands = self.place_cands(t, k)
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
        for n, ok in sorted(pure.items()):
            if ok:
                index[n] = len(self.pool_members)
                self.pool_members.append(list(candidates[n]))
        self.pool_place = {tk: index[n] for tk, n in uses.items() if n in index}
        if self.pool_members:
            log.debug(
                "pure pools: %s people in %s pools, %s places",
                sum(len(m) for m in self.pool_members),
                len(self.pool_members),
                len(self.pool_place),
            )

    def _one_person_from_pool(self, t: TaskInfo) -> None:
        """A one-person task whose candidates are a pure pool: ``(start, finish)`` is a span of
        ``duration`` available days of any member (all have the same), and the pool carries the
        interval ``[start, finish+1)`` of one unit."""
        x = self.assigned[t.index]
        s, f = self.start[t.index], self.finish[t.index]
        n = self.pool_place[(t.index, 0)]
        p0 = self.pool_members[n][0]
        size = self.m.new_int_var(
            1, max(1, self.hi[t.index] - self.lo[t.index] + 1), f"span[{t.id}]"
        )
        self.m.add(size == f + 1 - s)
        self.span[t.index] = size
        spans = self._spans(t, p0)
        assert spans is not None
        self._span_rule(t, p0, x, spans, t.candidates[p0].duration)
        iv = self.m.new_optional_interval_var(s, size, f + 1, x, f"pool_work[{t.id},{n}]")
        self.pool_load.setdefault(n, []).append((iv, 1))
        self.pool_cost.append((t.candidates[p0].cost, x))

    def _one_person_assignment(self, t: TaskInfo) -> None:
        """``sum_p does[t,p] = assigned[t]``; if ``does[t,p]``: ``(start, finish)`` is one of
        ``p``'s spans of ``duration(t,p)`` available days (the table), and ``p`` carries an
        interval ``[start, finish+1)`` of demand ``allocation``."""
        x = self.assigned[t.index]
        s, f = self.start[t.index], self.finish[t.index]
        size = self.m.new_int_var(
            1, max(1, self.hi[t.index] - self.lo[t.index] + 1), f"span[{t.id}]"
        )
        self.m.add(size == f + 1 - s)
        self.span[t.index] = size
        lits = []
        for p in self.cands(t):
            c = t.candidates[p]
            spans = self._spans(t, p)
            assert spans is not None
            lit = self.m.new_bool_var(f"does[{t.id},{self.inst.people[p].id}]")
            self.does[(t.index, p)] = lit
            lits.append(lit)
            self._span_rule(t, p, lit, spans, c.duration)
            iv = self.m.new_optional_interval_var(
                s, size, f + 1, lit, f"work[{t.id},{self.inst.people[p].id}]"
            )
            self.load.setdefault(p, []).append((iv, t.alloc))
        self.m.add(sum(lits) == x)

    def _spans(
        self, t: TaskInfo, p: int
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]] | None:
        """The candidate's spans inside the task's window, on capacity left by fixed tasks."""
        spans = t.candidates[p].spans
        if spans is None:
            return None
        starts, finishes = spans
        lo, hi = self.lo[t.index], self.hi[t.index]
        keep = (starts >= lo) & (finishes <= hi)
        if self.cap is not self.inst.cap and len(starts):
            short = self.inst.avail[p] & (self.cap[p] < t.alloc)
            if short.any():
                before = np.concatenate(([0], np.cumsum(short)))
                keep &= before[finishes + 1] - before[starts] == 0
        return starts[keep], finishes[keep]

    def _span_rule(
        self,
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
        s, f = self.start[t.index], self.finish[t.index]
        if len(spans[0]) == 0:  # eligible by day count, but every span crosses a blocked day
            self.m.add(lit == 0)
            return
        classes: dict[int, list[int]] = {}
        gaps = spans[1] - spans[0] - (d - 1)
        for g in np.unique(gaps).tolist():
            classes[int(g)] = spans[0][gaps == g].tolist()
        who = self.inst.people[p].id
        if len(classes) == 1:
            ((g, starts),) = classes.items()
            self.m.add_linear_expression_in_domain(
                s, cp_model.Domain.from_values(starts)
            ).only_enforce_if(lit)
            self.m.add(f == s + (d - 1 + g)).only_enforce_if(lit)
            return
        zs = []
        for g, starts in sorted(classes.items()):
            z = self.m.new_bool_var(f"gap[{t.id},{who},{g}]")
            zs.append(z)
            self.gap_lits.setdefault((t.index, p), []).append((z, g))
            self.m.add_linear_expression_in_domain(
                s, cp_model.Domain.from_values(starts)
            ).only_enforce_if(z)
            self.m.add(f == s + (d - 1 + g)).only_enforce_if(z)
        self.m.add(sum(zs) == lit)

    def _team_places(self, t: TaskInfo) -> None:
        """Places with the same eligible people are interchangeable (a person's duration and
        cost on a task do not depend on the place), so they form one group ``G`` with
        ``|G|`` seats: ``sum_p fills[t,G,p] = |G| x assigned[t]``; each person fills at most one
        place: ``member[t,p] = sum_G fills[t,G,p] <= 1``. Any such choice of members is a plan
        (give each group's members its places in any order), and every plan gives one, so this
        is exact, with one literal per (group, person) instead of ``|G|!`` symmetric
        (place, person) assignments. Members are available (with capacity >= allocation) on
        ``duration`` consecutive working days from ``start``, and each carries the fixed-size
        interval ``[start, start+duration)``."""
        x = self.assigned[t.index]
        d = t.duration or 1
        s, f = self.start[t.index], self.finish[t.index]
        inst = self.inst
        from_pool: dict[int, int] = {}
        groups: dict[tuple[int, ...], list[int]] = {}
        for k in range(len(t.places)):
            n = self.pool_place.get((t.index, k))
            if n is not None:  # filled from a pure pool: no variable per person
                from_pool[n] = from_pool.get(n, 0) + 1
                continue
            key = tuple(self.place_cands(t, k)) if self.group_places else (-1 - k,)
            groups.setdefault(key, []).append(k)
        self.place_groups[t.index] = list(groups.values())
        for group in groups.values():
            k = group[0]
            lits = []
            for p in self.place_cands(t, k):
                lit = self.m.new_bool_var(f"fills[{t.id},{k},{inst.people[p].id}]")
                self.fills[(t.index, k, p)] = lit
                lits.append(lit)
            self.m.add(sum(lits) == len(group) * x)
        lo, hi = self.lo[t.index], self.hi[t.index]
        window = slice(lo, hi + 1)
        pooled = {p for n in from_pool for p in self.pool_members[n]}
        for n, units in from_pool.items():
            p0 = self.pool_members[n][0]
            if not inst.avail[p0, window].all():
                self.exact = False
            ok = inst.avail[p0] & (self.cap[p0] >= t.alloc)
            run = np.convolve(ok.astype(np.int64), np.ones(d, dtype=np.int64), mode="valid")
            good = [int(w) for w in np.flatnonzero(run == d) if lo <= w and w + d - 1 <= hi]
            if not good or units > len(self.pool_members[n]):
                self.m.add(x == 0)
                continue
            self.m.add_linear_expression_in_domain(
                s, cp_model.Domain.from_values(good)
            ).only_enforce_if(x)
            iv = self.m.new_optional_fixed_size_interval_var(s, d, x, f"pool_work[{t.id},{n}]")
            self.pool_load.setdefault(n, []).append((iv, units))
            self.pool_cost.append((units * t.candidates[p0].cost, x))
        for p in self.cands(t):
            if p in pooled:
                continue
            places = [
                self.fills[(t.index, k, p)]
                for k in range(len(t.places))
                if (t.index, k, p) in self.fills
            ]
            mem = self.m.new_bool_var(f"member[{t.id},{inst.people[p].id}]")
            self.m.add(sum(places) == mem)
            self.member[(t.index, p)] = mem
            if not inst.avail[p, window].all():
                self.exact = False
            ok = inst.avail[p] & (self.cap[p] >= t.alloc)
            if self.relaxed:
                self._team_member_relaxed(t, p, mem, ok)
                continue
            # starts s with ok on s..s+d-1 (all working days of the span)
            run = np.convolve(ok.astype(np.int64), np.ones(d, dtype=np.int64), mode="valid")
            good = [int(w) for w in np.flatnonzero(run == d) if lo <= w and w + d - 1 <= hi]
            if not good:
                self.m.add(mem == 0)
                continue
            self.m.add_linear_expression_in_domain(
                s, cp_model.Domain.from_values(good)
            ).only_enforce_if(mem)
            iv = self.m.new_optional_fixed_size_interval_var(
                s, d, mem, f"work[{t.id},{inst.people[p].id}]"
            )
            self.load.setdefault(p, []).append((iv, t.alloc))
        # enforced only when assigned: a neighbourhood's window may be too narrow for the task
        if self.relaxed:
            self.m.add(f >= s + d - 1).only_enforce_if(x)
        else:
            self.m.add(f == s + d - 1).only_enforce_if(x)

    def _team_member_relaxed(
        self, t: TaskInfo, p: int, mem: cp_model.IntVar, ok: npt.NDArray[np.bool_]
    ) -> None:
        """Relaxation of a member's part in a team task, true of every valid plan: ``start`` and
        ``finish`` are active days, so the member is available there with capacity for the
        allocation, and is busy on both days (what happens between is left free)."""
        s, f = self.start[t.index], self.finish[t.index]
        days = [int(w) for w in np.flatnonzero(ok) if self.lo[t.index] <= w <= self.hi[t.index]]
        if not days:
            self.m.add(mem == 0)
            return
        dom = cp_model.Domain.from_values(days)
        self.m.add_linear_expression_in_domain(s, dom).only_enforce_if(mem)
        self.m.add_linear_expression_in_domain(f, dom).only_enforce_if(mem)
        who = self.inst.people[p].id
        first = self.m.new_optional_fixed_size_interval_var(s, 1, mem, f"first_day[{t.id},{who}]")
        self.load.setdefault(p, []).append((first, t.alloc))
        if (t.duration or 1) > 1:
            last = self.m.new_optional_fixed_size_interval_var(f, 1, mem, f"last_day[{t.id},{who}]")
            self.load.setdefault(p, []).append((last, t.alloc))

    def _no_people(self, t: TaskInfo) -> None:
        """A task needing nobody: every working day is active, ``finish = start + duration - 1``."""
        d = t.duration or 1
        x = self.assigned[t.index]
        self.m.add(self.finish[t.index] == self.start[t.index] + d - 1).only_enforce_if(x)

    def _pins(self, t: TaskInfo) -> None:
        """If assigned: the pinned person is among the assignees and it starts on the pinned day
        (in-progress tasks: kept people, first common available day from ``as_of``).

        Whether a pinned task is assigned is not decided here: the stage ``pins`` (see
        :func:`solve_lexicographic`) first minimizes the number of pinned tasks left out."""
        x = self.assigned[t.index]
        if t.pin_start is not None:
            self.m.add(self.start[t.index] == t.pin_start).only_enforce_if(x)
        if t.pin_person is not None:
            if t.is_team:
                mem = self.member.get((t.index, t.pin_person))
                if mem is None:
                    self.m.add(x == 0)
                else:
                    self.m.add(mem == x)
            else:
                lit = self.does.get((t.index, t.pin_person))
                if lit is None:
                    self.m.add(x == 0)
                else:
                    self.m.add(lit == x)
        if t.keep_people is not None and t.is_team:
            for p in t.keep_people:
                mem = self.member.get((t.index, p))
                if mem is None:
                    self.m.add(x == 0)
                else:
                    self.m.add(mem == x)

    def _precedence(self) -> None:
        """``assigned[t] => assigned[u]`` and ``finish[u] < start[t]`` for each predecessor ``u``."""
        for t in self.tasks:
            if t.index in self.forced:
                self.m.add(self.assigned[t.index] == 1)
            for u in t.preds:
                if u not in self.assigned:
                    if self.fixed is None or u not in self.fixed.start:
                        self.m.add(self.assigned[t.index] == 0)
                    continue  # a fixed predecessor: the window already starts after it
                x = self.assigned[t.index]
                self.m.add_implication(x, self.assigned[u])
                self.m.add(self.finish[u] < self.start[t.index]).only_enforce_if(x)

    def _capacity(self) -> None:
        """Per person and working day: the allocations of present intervals plus the fixed
        reduction ``100 - capacity`` of reduced-capacity days add up to at most 100. When every
        demand is 100 this is a no-overlap constraint."""
        inst = self.inst
        for p, items in self.load.items():
            blockers: list[tuple[cp_model.IntervalVar, int]] = []
            cap = self.cap[p]
            avail = inst.avail[p]
            w = 0
            n = inst.n_days
            while w < n:
                if avail[w] and cap[w] < 100:
                    pct = int(cap[w])
                    e = w
                    while e + 1 < n and avail[e + 1] and cap[e + 1] == cap[w]:
                        e += 1
                    iv = self.m.new_fixed_size_interval_var(
                        w, e - w + 1, f"reduced[{inst.people[p].id},{w}]"
                    )
                    blockers.append((iv, 100 - pct))
                    w = e + 1
                else:
                    w += 1
            all_items = items + blockers
            if all(dem == 100 for _, dem in all_items):
                self.m.add_no_overlap([iv for iv, _ in all_items])
            else:
                self.m.add_cumulative(
                    [iv for iv, _ in all_items], [dem for _, dem in all_items], 100
                )

    def _pool_capacity(self) -> None:
        """Per pure pool ``P`` and working day: the places of ``P`` in use are at most ``|P|``
        (tasks hold ``[start, finish]``; see ``_pure_pools``)."""
        for n, items in self.pool_load.items():
            size = len(self.pool_members[n])
            self.m.add_cumulative([iv for iv, _ in items], [u for _, u in items], size)

    def _pools(self) -> None:
        """Redundant capacity of pools of interchangeable people (same skills, levels,
        availability and capacity: a PSPLIB resource read as ``c`` people, a team of equals).

        For a pool ``P`` and every day: ``sum`` over tasks whose places (some of them) can only
        be filled from ``P`` of ``allocation x those places`` ``<= 100 x |P|``. It is the sum of
        the members' own capacity rules, so it removes no solution; it lets CP-SAT reason about
        the pool as one cumulative resource (energy, edge finding) instead of ``|P|`` separate
        no-overlaps, which is what proves bounds on resource-constrained benchmarks.
        """
        pools = self._interchangeable()
        pool_of: dict[int, int] = {}
        for n, members in enumerate(pools):
            for p in members:
                pool_of[p] = n
        if not pools:
            return
        load: dict[int, list[tuple[cp_model.IntervalVar, int]]] = {}
        for t in self.tasks:
            x = self.assigned[t.index]
            per_pool: dict[int, int] = {}
            for k in range(len(t.places)):
                if (t.index, k) in self.pool_place:
                    continue  # a pure pool: already one cumulative resource
                owners = {pool_of.get(p, -1) for p in self.place_cands(t, k)}
                if len(owners) == 1 and -1 not in owners:
                    n = owners.pop()
                    per_pool[n] = per_pool.get(n, 0) + 1
            for n, places in per_pool.items():
                s, f = self.start[t.index], self.finish[t.index]
                if t.is_team:
                    iv = self.m.new_optional_fixed_size_interval_var(
                        s, t.duration or 1, x, f"pool_use[{t.id},{n}]"
                    )
                else:
                    size = self.span.get(t.index)
                    if size is None:
                        continue
                    iv = self.m.new_optional_interval_var(
                        s, size, f + 1, x, f"pool_use[{t.id},{n}]"
                    )
                load.setdefault(n, []).append((iv, t.alloc * places))
        for n, items in load.items():
            if len(items) < 2:
                continue
            self.m.add_cumulative(
                [iv for iv, _ in items], [d for _, d in items], 100 * len(pools[n])
            )

    def _hall(self) -> None:
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
        One-person tasks count with their span ``[start, finish]`` (as in ``_capacity``).
        Added for the ``makespan`` objective only: on a generated ``portfolio`` (40 people, 187
        tasks) its 59 extra cumulatives made the first stage worse at equal deterministic time.
        Places filled from pure pools take no part (see the loop below).
        """
        if self.hall_level <= 0:
            return
        sets: dict[frozenset[int], None] = {}
        for t in self.tasks:
            if t.is_team:
                for k in range(len(t.places)):
                    # places filled from a pure pool are out: the pool is already one exact
                    # cumulative, and unions of pools measured worse (PSPLIB j3013_1 in the
                    # benchmark slice: 59 with bound 41, against 58 with bound 49 without)
                    if (t.index, k) in self.pool_place:
                        continue
                    cands = self.place_cands(t, k)
                    if len(cands) >= 2:
                        sets[frozenset(cands)] = None
        if not sets:
            return
        base = list(sets)
        unions: dict[frozenset[int], None] = dict(sets)
        if self.hall_level >= 2 and len(base) <= self.hall_max:
            for a in range(len(base)):
                for b in range(a + 1, len(base)):
                    unions[base[a] | base[b]] = None
        unions[frozenset().union(*base)] = None
        for members in self.pool_members:  # already one cumulative (``_pool_capacity``)
            unions.pop(frozenset(members), None)
        chosen = sorted(unions, key=lambda u: (len(u), sorted(u)))[: self.hall_max]
        within = frozenset().union(*chosen)
        # per task: its allocation and the eligible set of each place that may count
        places: list[tuple[TaskInfo, list[frozenset[int]]]] = []
        for t in self.tasks:
            if not t.places or not (t.is_team or t.index in self.span):
                continue
            pcands: list[frozenset[int]] = []
            for k in range(len(t.places)):
                n = self.pool_place.get((t.index, k))
                c = frozenset(self.pool_members[n] if n is not None else self.place_cands(t, k))
                if c and c <= within:
                    pcands.append(c)
            if pcands:
                places.append((t, pcands))
        ivs: dict[int, cp_model.IntervalVar] = {}

        def interval(t: TaskInfo) -> cp_model.IntervalVar:
            if t.index not in ivs:
                x, s = self.assigned[t.index], self.start[t.index]
                if t.is_team:
                    ivs[t.index] = self.m.new_optional_fixed_size_interval_var(
                        s, t.duration or 1, x, f"hall_use[{t.id}]"
                    )
                else:
                    ivs[t.index] = self.m.new_optional_interval_var(
                        s, self.span[t.index], self.finish[t.index] + 1, x, f"hall_use[{t.id}]"
                    )
            return ivs[t.index]

        for u in chosen:
            items = [(t, sum(1 for c in pc if c <= u)) for t, pc in places]
            items = [(t, n) for t, n in items if n]
            dems = [t.alloc * n for t, n in items]
            if len(items) >= 2 and sum(dems) > 100 * len(u):
                self.m.add_cumulative([interval(t) for t, _ in items], dems, 100 * len(u))

    def _all_assigned(self) -> None:
        """``makespan`` objective: every task is assigned."""
        for x in self.assigned.values():
            self.m.add(x == 1)

    def _makespan(self) -> None:
        """``makespan >= finish[t] + 1`` for every task."""
        hi = max((self.hi[t.index] + 1 for t in self.tasks), default=0)
        self.makespan = self.m.new_int_var(0, hi, "makespan")
        for t in self.tasks:
            self.m.add(self.makespan >= self.finish[t.index] + 1)

    def _lateness(self) -> None:
        """``late[t] >= finish[t] - idx(D'_t)`` when assigned, ``late[t] >= 0``."""
        for t in self.tasks:
            if t.deadline_idx is None:
                continue
            hi = max(0, self.hi[t.index] - t.deadline_idx)
            if hi == 0:
                continue
            v = self.m.new_int_var(0, hi, f"late[{t.id}]")
            self.m.add(v >= self.finish[t.index] - t.deadline_idx).only_enforce_if(
                self.assigned[t.index]
            )
            self.late[t.index] = v

    def _finish_early(self) -> None:
        """``done_by[t] >= finish[t] + 1`` when assigned, ``done_by[t] >= 0``."""
        for t in self.tasks:
            v = self.m.new_int_var(0, max(0, self.hi[t.index] + 1), f"done_by[{t.id}]")
            self.m.add(v >= self.finish[t.index] + 1).only_enforce_if(self.assigned[t.index])
            self.done_by[t.index] = v

    # -- objectives -----------------------------------------------------------------------------
    def pinned_tasks(self) -> list[TaskInfo]:
        """The model's pinned tasks (see :func:`solver_models.schedule.is_pinned`)."""
        return [t for t in self.tasks if is_pinned(t)]

    def stage_expr(self, stage: str) -> cp_model.LinearExprT:
        if stage in self.extra_stages:
            return self.extra_stages[stage]
        if stage == PINS_STAGE:
            return sum(1 - self.assigned[t.index] for t in self.pinned_tasks())
        if stage == "undelivered":
            return sum(t.units * (1 - self.assigned[t.index]) for t in self.tasks)
        if stage == "late":
            return sum(self.inst.tasks[i].priority * v for i, v in self.late.items())
        if stage == "finish":
            return sum(self.inst.tasks[i].priority * v for i, v in self.done_by.items())
        if stage == "cost":
            terms = [
                self.inst.tasks[t].candidates[p].cost * lit for (t, p), lit in self.does.items()
            ]
            terms += [
                self.inst.tasks[t].candidates[p].cost * lit for (t, p), lit in self.member.items()
            ]
            terms += [cost * x for cost, x in self.pool_cost]
            return sum(terms)
        if stage == "makespan":
            assert self.makespan is not None
            return self.makespan
        raise ValueError(stage)

    # -- hints and decoding -----------------------------------------------------------------------
    def admissible(self, sched: Schedule) -> Schedule:
        """The part of a (valid) schedule this model can represent.

        A team task that stretches over a member's absence, or runs on a member's day with too
        little capacity, is outside the model (see *Exactness*): it is dropped, with every task
        that depends on it, so that the hint is a complete feasible solution of the model.
        """
        inst = self.inst
        drop: set[int] = set()
        for t in self.tasks:
            i = t.index
            if i not in sched.start or not t.is_team:
                continue
            s, d = sched.start[i], t.duration or 1
            ok = sched.finish[i] == s + d - 1
            for p in sched.people.get(i, ()):
                span = slice(s, s + d)
                if not (inst.avail[p, span].all() and (self.cap[p, span] >= t.alloc).all()):
                    ok = False
            if not ok:
                drop.add(i)
        if not drop:
            return sched
        stack = list(drop)
        while stack:
            i = stack.pop()
            for j in inst.tasks[i].succs:
                if j not in drop:
                    drop.add(j)
                    stack.append(j)
        keep = [i for i in sched.start if i not in drop]
        return Schedule(
            start={i: sched.start[i] for i in keep},
            finish={i: sched.finish[i] for i in keep},
            people={i: sched.people[i] for i in keep},
        )

    def hint(self, sched: Schedule) -> None:
        """A complete hint: every variable gets the value it has in ``sched``."""
        self.m.clear_hints()  # type: ignore[no-untyped-call]
        for t in self.tasks:
            i = t.index
            on = i in sched.start
            self.m.add_hint(self.assigned[i], on)
            if on:
                st, fi = sched.start[i], sched.finish[i]
            else:  # any consistent values: nothing about them is enforced
                st, fi = self.bounds[i]
                if t.is_team or not t.places:
                    fi = min(fi, st + (t.duration or 1) - 1)
            self.m.add_hint(self.start[i], st)
            self.m.add_hint(self.finish[i], fi)
            if i in self.span:
                self.m.add_hint(self.span[i], fi + 1 - st)
            people = sched.people.get(i, ())
            if i in self.late:
                late = max(0, sched.finish[i] - (t.deadline_idx or 0)) if on else 0
                self.m.add_hint(self.late[i], late)
            if i in self.done_by:
                self.m.add_hint(self.done_by[i], sched.finish[i] + 1 if on else 0)
            if t.is_team:
                for places in self.place_groups.get(i, ()):
                    who = {people[k] for k in places if k < len(people)}
                    for q in self.place_cands(t, places[0]):
                        self.m.add_hint(self.fills[(i, places[0], q)], q in who)
                for q in self.cands(t):
                    if (i, q) in self.member:
                        self.m.add_hint(self.member[(i, q)], q in people)
            elif (i, 0) in self.pool_place:
                p0 = self.pool_members[self.pool_place[(i, 0)]][0]
                for z, g in self.gap_lits.get((i, p0), ()):
                    c = t.candidates[p0]
                    self.m.add_hint(z, on and fi - st - (c.duration - 1) == g)
            else:
                for q in self.cands(t):
                    self.m.add_hint(self.does[(i, q)], q in people)
                    for z, g in self.gap_lits.get((i, q), ()):
                        c = t.candidates[q]
                        self.m.add_hint(z, q in people and fi - st - (c.duration - 1) == g)

        if self.makespan is not None:
            self.m.add_hint(self.makespan, max((f + 1 for f in sched.finish.values()), default=0))

    def decode(self, solver: cp_model.CpSolver) -> Schedule:
        sched = Schedule(start={}, finish={}, people={})
        for t in self.tasks:
            i = t.index
            if not solver.boolean_value(self.assigned[i]):
                continue
            sched.start[i] = int(solver.value(self.start[i]))
            sched.finish[i] = int(solver.value(self.finish[i]))
            if (i, 0) in self.pool_place or any(
                (i, k) in self.pool_place for k in range(1, len(t.places))
            ):
                sched.people[i] = ()  # named below, by ``_name_pool_people``
            elif t.is_team:
                filled = self._filled(solver, t)
                sched.people[i] = tuple(filled[k] for k in range(len(t.places)))
            elif t.places:
                sched.people[i] = tuple(
                    p for p in self.cands(t) if solver.boolean_value(self.does[(i, p)])
                )
            else:
                sched.people[i] = ()
        if self.pool_place:
            self._name_pool_people(solver, sched)
        return sched

    def _name_pool_people(self, solver: cp_model.CpSolver, sched: Schedule) -> None:
        """Name the people of places filled from pure pools: per pool, tasks in order of start,
        each place given a member who is free from its start (one whose last task finished
        before). Always succeeds when the pool's load is at most its size (``_pure_pools``)."""
        per_pool: dict[int, list[tuple[int, int, int, int]]] = {}
        for (i, k), n in self.pool_place.items():
            if i in sched.start:
                per_pool.setdefault(n, []).append((sched.start[i], sched.finish[i], i, k))
        named: dict[tuple[int, int], int] = {}
        for n, items in per_pool.items():
            items.sort()
            free_from = dict.fromkeys(self.pool_members[n], -1)
            for st, fi, i, k in items:
                who = next((p for p, w in free_from.items() if w < st), None)
                if who is None:
                    raise RuntimeError(
                        f"pool {n} over capacity at day {st}: model and decoder disagree"
                    )
                free_from[who] = fi
                named[(i, k)] = who
        for t in self.tasks:
            i = t.index
            if i not in sched.start or not any((i, k) in named for k in range(len(t.places))):
                continue
            filled = self._filled(solver, t) if t.is_team else {}
            filled.update((k, named[(i, k)]) for k in range(len(t.places)) if (i, k) in named)
            sched.people[i] = tuple(filled[k] for k in range(len(t.places)))

    def _filled(self, solver: cp_model.CpSolver, t: TaskInfo) -> dict[int, int]:
        """Who fills each place of an assigned team task that is not filled from a pure pool:
        each group's chosen people, in candidate order, to its places in order."""
        out: dict[int, int] = {}
        for places in self.place_groups.get(t.index, ()):
            k = places[0]
            chosen = [
                p
                for p in self.place_cands(t, k)
                if solver.boolean_value(self.fills[(t.index, k, p)])
            ]
            out.update(zip(places, chosen, strict=True))
        return out


#: above this many raw (task, person) pairs :func:`whole_model_size` does not look for pure pools
#: (the look is linear in the pairs: about 1 s a million in Python)
POOL_SIZE_MAX_PAIRS = 1_000_000


def whole_model_size(instance: Instance) -> int:
    """The size of the whole CP-SAT model in (task, candidate) pairs, as the engine weighs one
    model against LNS: a place filled from a pure pool (``_Model._pure_pools``) counts once,
    whatever the pool's size, because the model has no variable per member for it.

    Without that, a PSPLIB j120 instance (resources of capacity up to a few hundred read as as
    many people) counted tens of thousands of pairs and went to LNS, whose neighbourhoods
    cannot shorten a makespan: 9 of a sample of 100 kept their greedy plan, up to 43 % above
    the best known, where the pooled whole model (a few hundred variables) solves them.
    """
    raw = sum(len(t.candidates) for t in instance.tasks if t.possible)
    if raw > POOL_SIZE_MAX_PAIRS:
        return raw
    model = _Model(instance)
    model._pure_pools()
    if not model.pool_place:
        return raw
    size = 0
    for t in model.tasks:
        pooled = [k for k in range(len(t.places)) if (t.index, k) in model.pool_place]
        if not pooled:
            size += len(t.candidates)
            continue
        people: set[int] = set()
        for k in range(len(t.places)):
            if (t.index, k) not in model.pool_place:
                people.update(t.place_candidates[k])
        size += len(pooled) + len(people)
    return size


def booked_capacity(
    inst: Instance, sched: Schedule, exclude: set[int] | None = None
) -> npt.NDArray[np.int64]:
    """Percent of each person's day taken by ``sched``'s tasks on their active days.

    One-person tasks (most of a portfolio) are active on exactly their person's available days
    in their span, so their bookings are summed in one difference array (``+alloc`` at the
    start, ``-alloc`` after the finish, a cumulative sum along the days, times availability);
    team tasks, active where all members are available, are added one by one. Called for every
    LNS neighbourhood, where a loop over all tasks cost about 150 ms at 10,000 tasks.
    """
    n_people, n_days = inst.cap.shape
    rows: list[int] = []
    starts: list[int] = []
    ends: list[int] = []
    allocs: list[int] = []
    booked = np.zeros_like(inst.cap)
    for i, s in sched.start.items():
        if exclude is not None and i in exclude:
            continue
        people = sched.people.get(i, ())
        if not people:
            continue
        f = sched.finish[i]
        alloc = inst.tasks[i].alloc
        if len(people) == 1:
            rows.append(people[0])
            starts.append(s)
            ends.append(f + 1)
            allocs.append(alloc)
            continue
        active = inst.avail[list(people), s : f + 1].all(axis=0)
        for p in people:
            booked[p, s : f + 1] += alloc * active
    if rows:
        diff = np.zeros((n_people, n_days + 1), dtype=np.int64)
        a = np.asarray(allocs, dtype=np.int64)
        np.add.at(diff, (np.asarray(rows), np.asarray(starts)), a)
        np.add.at(diff, (np.asarray(rows), np.asarray(ends)), -a)
        booked += np.cumsum(diff[:, :n_days], axis=1) * inst.avail
    return booked


def _solver(params: SolverParams, seconds: float) -> cp_model.CpSolver:
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.05, seconds)
    solver.parameters.num_workers = max(1, params.workers)
    solver.parameters.random_seed = params.seed
    solver.parameters.log_search_progress = params.log_search
    # Probing and symmetry detection cost seconds in presolve on portfolio models with thousands
    # of optional intervals and pay back little: measured on 40 people x 249 tasks, probing
    # alone took 6.8 s of a 10 s budget and no solution was reported; without it the first
    # improving solution comes in 0.7 s.
    solver.parameters.cp_model_probing_level = 0
    solver.parameters.symmetry_level = 0
    solver.parameters.max_presolve_iterations = 1
    if params.deterministic_time is not None:
        solver.parameters.max_deterministic_time = params.deterministic_time
    return solver


ProgressFn = Callable[[str, int, int, float], None]
#: seconds between two looks at the stop request while CP-SAT searches
STOP_POLL = 0.1


def solve_stoppable(
    solver: cp_model.CpSolver,
    model: cp_model.CpModel,
    stop: Callable[[], bool] | None,
    callback: cp_model.CpSolverSolutionCallback | None = None,
) -> Any:
    """``solver.solve(model)``, stopped within ``STOP_POLL`` seconds of ``stop()`` turning true.

    A solution callback alone sees the request only when a new solution comes, which on a hard
    stage may be never; a watcher thread polls it and calls ``stop_search`` (the search then
    ends as if its time were up, keeping the best solution found).
    """
    if stop is None:
        return solver.solve(model, callback)
    done = threading.Event()

    def watch() -> None:
        while not done.wait(STOP_POLL):
            if stop():
                solver.stop_search()
                return

    watcher = threading.Thread(target=watch, name="cp-sat-stop", daemon=True)
    watcher.start()
    try:
        return solver.solve(model, callback)
    finally:
        done.set()
        watcher.join()


class _Watch(cp_model.CpSolverSolutionCallback):
    """Reports each improving solution of a stage and stops the search when asked to."""

    def __init__(
        self, stage: str, t0: float, on_progress: ProgressFn | None, stop: Callable[[], bool] | None
    ) -> None:
        super().__init__()
        self.stage, self.t0, self.on_progress, self.stop = stage, t0, on_progress, stop

    def on_solution_callback(self) -> None:
        if self.on_progress is not None:
            value = round(self.objective_value)
            # never capped at the value: a bound above it is a bug to surface
            bound = math.ceil(self.best_objective_bound - 1e-6)
            self.on_progress(self.stage, value, bound, time.monotonic() - self.t0)
        if self.stop is not None and self.stop():
            self.stop_search()


def solve_lexicographic(
    instance: Instance,
    objective: str,
    params: SolverParams,
    *,
    hint: Schedule | None = None,
    relaxed: bool = False,
    free: set[int] | None = None,
    fixed: Schedule | None = None,
    people: set[int] | None = None,
    shares: dict[str, float] | None = None,
    on_progress: ProgressFn | None = None,
    stop: Callable[[], bool] | None = None,
    stability: Stability | None = None,
    pooling: bool = True,
) -> ModelResult:
    """Optimize the objective's stages in order (``makespan``: one stage).

    Each stage minimizes its term under ``term_j <= best_j`` for the stages before it, starting
    from the previous stage's solution. Values are the model's own; bounds are valid for the
    model, and for the whole problem when the model is exact (``ModelResult.exact``).

    With ``stability`` (re-planning, see :class:`Stability`): its budget is a constraint, and
    with a weight the stage ``stability`` = ``late + weight x moved`` takes the place of
    ``late`` (``makespan``: ``weight x moved`` after ``makespan``), and the ``undelivered``
    stage minimizes ``(n + 1) x undelivered + moved`` (``n`` kept tasks: the same order, ties
    broken by fewer moves; its reported value is that expression). Bounds are then those of the
    constrained model, not of the portfolio.

    ``pooling=False`` models pure pools person by person (see ``_Model._pure_pools``); it
    exists to test that both formulations have the same optimum.

    **Pins come first.** Under the ``portfolio`` objective, when the model has pinned tasks
    (those that compile as possible), a first stage ``pins`` minimizes the number of them left
    unassigned, and that number is then fixed (``<=``) like any other stage's value: a pinned
    task is dropped only when keeping it is impossible together with the other pins, never for
    other work (the contract's ``pinned``). Its value is a count of tasks, not a term of the
    objective, and it reports no progress. The later stages' values and bounds are therefore
    over the plans that keep as many pins as possible (the engine's rule, see
    :func:`solver_models.schedule.pins_dropped`), not over every valid plan; where ``pins`` is
    not proven, over those that keep at least as many as found, which contain them (so the
    bounds still hold for the engine's plans). The ``relaxed`` model (bounds only) has no such
    stage: its bounds are over every plan of the relaxation, so they hold too. Under
    ``makespan`` every task is assigned anyway.
    """
    t0 = time.monotonic()
    model = _Model(
        instance,
        relaxed=relaxed,
        free=free,
        fixed=fixed,
        people=people,
        pooling=pooling and stability is None,
    )
    model.build(objective)
    stages: Sequence[str] = ("makespan",) if objective == "makespan" else PORTFOLIO_STAGES
    shares = dict(shares or STAGE_SHARE)
    #: stage -> (expression, divisor): after the stage, fix ``expression <= value // divisor``
    #: instead of the stage's own expression (a tie-break that must not stay fixed)
    caps: dict[str, tuple[cp_model.LinearExprT, int]] = {}
    if stability is not None:
        stays = _stability(model, stability)
        if stability.weight > 0 and stays:
            w = stability.weight
            # weight x moved = weight x (n - sum stay)
            moved = cp_model.LinearExpr.weighted_sum(stays, [-w] * len(stays)) + w * len(stays)
            if objective == "makespan":
                stages = ("makespan", STABILITY_STAGE)
                model.extra_stages[STABILITY_STAGE] = moved
                shares.update(makespan=0.6, stability=0.4)
            else:
                stages = tuple(STABILITY_STAGE if s == "late" else s for s in stages)
                late = model.stage_expr("late")
                model.extra_stages[STABILITY_STAGE] = cp_model.LinearExpr.sum([late, moved])
                # ties on undelivered already broken by fewer moves (exactly lexicographic:
                # moved <= n < n + 1), so the first stage does not churn for nothing; then only
                # its undelivered part is fixed: moves are priced by the next stage
                n = len(stays)
                unmoved = cp_model.LinearExpr.sum(stays)
                plain = model.stage_expr("undelivered")
                model.extra_stages["undelivered"] = cp_model.LinearExpr.sum(
                    [(n + 1) * plain, n - unmoved]
                )
                caps["undelivered"] = (plain, n + 1)
                shares[STABILITY_STAGE] = shares.get("late", 0.2)
    if objective != "makespan" and not relaxed and model.pinned_tasks():
        stages = (PINS_STAGE, *stages)
        shares.setdefault(PINS_STAGE, PINS_SHARE)
    fractional = any(
        float(r.percent) != int(r.percent) for p in instance.people for r in p.reduced_capacity
    )
    # bounds count for the portfolio when the model is exact, or a relaxation of it
    result = ModelResult(schedule=None, exact=(model.exact or relaxed) and not fractional)
    best = hint
    budget = params.time_limit
    carried = 0.0
    for stage in stages:
        share = 1.0 if stages == ("makespan",) else shares[stage]
        if share <= 0:
            continue
        elapsed = time.monotonic() - t0
        seconds = min(budget * share + carried, budget - elapsed)
        if seconds <= 0.05 or (stop is not None and stop()):
            break
        expr = model.stage_expr(stage)
        model.m.minimize(expr)
        if best is not None and not relaxed:
            if stage == stages[0]:
                best = model.admissible(best)
            model.hint(best)
        solver = _solver(params, seconds)
        stage_t0 = time.monotonic()
        watch = _Watch(stage, t0, None if stage == PINS_STAGE else on_progress, stop)
        status = solve_stoppable(solver, model.m, stop, watch)
        used = time.monotonic() - stage_t0
        carried = max(0.0, budget * share + carried - used)
        name = solver.status_name(status)
        log.info(
            "stage %s: %s value=%s bound=%s in %.2fs",
            stage,
            name,
            solver.objective_value if status in (cp_model.OPTIMAL, cp_model.FEASIBLE) else None,
            solver.best_objective_bound,
            used,
        )
        if status == cp_model.INFEASIBLE:
            result.infeasible = stage == stages[0]
            break
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            break
        value = round(solver.objective_value)
        bound = math.ceil(solver.best_objective_bound - 1e-6)
        optimal = status == cp_model.OPTIMAL
        result.stages[stage] = (value, bound, optimal)
        best = model.decode(solver)
        result.schedule = best
        if stage in caps:
            capped, divisor = caps[stage]
            model.m.add(capped <= value // divisor)
        else:
            model.m.add(expr <= value)
    result.wall_seconds = time.monotonic() - t0
    return result


# -- stability (re-planning against a previous plan) ----------------------------------------------
#: the stage that minimizes ``late + weight x moved`` when stability is on (it replaces ``late``)
STABILITY_STAGE = "stability"


@dataclass
class Stability:
    """The previous plan, as a valid schedule of this instance, and how much it may change.

    ``previous`` holds only the previous assignments that are still valid (see
    ``allocator.rebalance.map_previous``). ``budget``: at most that many of them may change
    (people or start) or become unassigned; ``weight`` > 0 adds the stage ``stability``.
    """

    previous: Schedule
    budget: int | None = None
    weight: int = 0


def _stability(model: _Model, stab: Stability) -> list[cp_model.IntVar]:
    """``moved[t] = 1 - stay[t]`` per task of the previous plan the model can represent (a bool, true when the
    task is unassigned or its start or one of its people differs): ``stay[t] = 1 - moved[t]``
    implies ``assigned[t]``, ``start[t] = s0`` and each previous person's ``does``/``member``.
    ``sum moved <= budget`` when a budget is given. Returns the ``stay`` literals.

    Tasks whose previous placement is outside this model (a stretched team task, a person no
    longer eligible) get no literal: their change is forced, not chosen, and is not counted.
    """
    m = model.m
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
