"""Re-planning from a previous plan with minimal disruption: ``rebalance(portfolio, previous)``.

Flow (steps 3-5 are the solve pipeline, :mod:`allocator.pipeline`, parametrized by a
:class:`~allocator.pipeline.Base`: the kept schedule, the stability rule and its key, the churn
budget and settle):

1. **Map** the previous plan onto the new portfolio (:func:`map_previous`): in topological order,
   an assignment is kept when it is still valid on its own and with the kept ones before it
   (people still eligible, start in the task's window and on the pinned / in-progress start,
   exactly its duration in active days, predecessors kept and finished before it, capacity left
   on every active day). An in-progress task still with its previous people is mapped to its
   continuation (from its first common day on or after ``as_of``, for the work left), so work
   going as planned does not set its successors free. The others are *forced* changes (person
   gone, estimate changed, task done, ...): they never count against the churn budget.
2. **Freeze** (policy ``freeze_days``): kept tasks starting in the first N working days from
   ``as_of`` are pinned to their previous people and start.
3. **Warm start**: the kept schedule, with the rest of the work inserted by the greedy list
   schedulers around it (``greedy(..., base=kept)``): valid, and changes nothing kept.
4. **CP-SAT** from that warm start with the rule ``solver_models.cpsat.Stability``: ``moved[t]``
   per kept task, ``sum(moved) <= churn_budget``, and with ``stability`` = S > 0 the stage
   ``late + S x moved`` in place of ``late``. Above ``LNS_ABOVE`` (task, person) pairs of the
   model (:func:`allocator.pipeline.model_size`: the raw pairs, as the stability rule names
   people and the model cannot pool) the warm start is returned as is (large neighbourhood
   search does not know stability yet).
5. **Settle** (S > 0, :func:`settle`): each kept task the chosen plan moved goes back to its
   previous placement when that is still free and the plan is no worse, undoing moves a
   time-limited search made for nothing.

**Order of the stages** with stability on: ``undelivered`` (its ties broken by fewer moves),
then ``late + S x moved``, then ``finish``, then ``cost``. Delivering work stays first: a plan that leaves work out to avoid a
change would hide the news the planner most needs. Moving a task is then priced in
priority-weighted late days (S = 1: one change is worth one day of lateness of a priority-1
task), and comes before ``finish`` and ``cost``, so a plan never churns to finish a little earlier
or cheaper. A large S (above the portfolio's possible lateness) makes it exactly lexicographic:
fewest changes first, then lateness. ``churn_budget`` is a hard cap whatever S is.

The plan is the best of the warm start and the CP-SAT plan by ``(undelivered, late + S x moved,
finish, cost)`` (plain objective order when S = 0); both respect the budget and the freeze. Its
``lower_bound`` is the analytic one (the work nobody can do): CP-SAT's bounds here are those of
the constrained problem. The plan's ``changes`` list every task moved against the previous plan,
with the reasons of :func:`allocator.diff.diff_plans`.

**Stable by default.** Stability is on unless asked off: S defaults to :data:`DEFAULT_STABILITY`
(the policy key ``stability`` or the argument overrides it; ``stability=0`` is a free re-plan, the
previous plan then serving only as the warm start). S = 0 churns freely: on a generated
40-person portfolio two weeks on, most kept tasks moved for nothing but a slightly earlier or
cheaper plan; see ``benchmarks/rebalance_stability.py`` for the measurement behind the default.

**History** (:mod:`allocator.history`): a pinned start that ``as_of`` has passed is not a
constraint any more: on in-progress work the progress goes on with its people from ``as_of``; a
task not started is planned from ``as_of`` (its pinned person kept where possible), a forced
change whose reason says so. The plan is then that of the settled portfolio
(:func:`~allocator.history.settle_history`), which is the one to check it against.

**Forced or chosen.** Each entry of ``changes`` carries ``forced``. The rule is the mapping's,
exact: a change is *forced* when the task's previous assignment cannot stay on the new portfolio
(step 1 drops it: a person gone or away, done or in-progress work, a changed estimate or window,
a pin, a predecessor that had to move), or when in-progress work is reassigned because its people
cannot go on. It is *not forced* when the previous assignment was still valid (kept) and the
engine moved it or left it out: to deliver more work, to cut lateness by more than S per move,
or (S = 0) for anything. A kept task that moves only because a predecessor the engine chose to
move now finishes later is chosen too, though its reason names the predecessor.
:func:`allocator.diff.is_forced` classifies by the reasons alone, for diffs made without the
mapping; the two agree except on that predecessor case.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from allocator.diff import BETTER_USE, diff_plans
from allocator.domain import Change, Plan, Portfolio
from allocator.history import settle_history
from allocator.pipeline import Base, Context, Result, SolveParams, compile_for, run
from solver_models.cpsat import Stability
from solver_models.greedy import book, initial_free
from solver_models.instance import Instance, topological_order
from solver_models.matching import fill_places
from solver_models.schedule import Schedule, schedule_key

log = logging.getLogger(__name__)

#: policy keys read here (typed fields of :class:`allocator.domain.Policy`, validated on reading)
POLICY_KEYS = ("freeze_days", "churn_budget", "stability")

#: The default stability price S: one change of a kept task costs 5 priority-weighted late days
#: (a week of lateness of a priority-1 task, a day of a priority-5 one). Any S >= 1 ranks changes
#: before ``finish`` and ``cost``, so no change is made only to finish earlier or cheaper; 5 also
#: stops moves that save a late day or two, while delivered work comes first whatever S is.
#: Chosen by measurement (``benchmarks/rebalance_stability.py``,
#: ``benchmarks/results/rebalance.csv``, 20 s): on two generated 40-person portfolios two weeks
#: on it delivered at least as much work as a free re-plan (S = 0) while moving 18-24 % of the
#: kept tasks instead of 43-60 %; its remaining chosen changes buy delivered work (with no chosen
#: change at all, about 1,000 priority-weighted hours more are left out). S = 1 and 10 measured
#: within noise of it. 0 is a free re-plan.
DEFAULT_STABILITY = 5


@dataclass(frozen=True)
class RebalancePolicy:
    """How much a re-plan may change the previous plan (see the module docstring)."""

    #: kept work starting in the first N working days from ``as_of`` does not move
    freeze_days: int = 0
    #: at most this many kept tasks change people or start (None: no cap)
    churn_budget: int | None = None
    #: price of one change in priority-weighted late days (0: a free re-plan, the previous plan
    #: only as the warm start); default :data:`DEFAULT_STABILITY`
    stability: int = DEFAULT_STABILITY

    @classmethod
    def of(cls, portfolio: Portfolio, **overrides: Any) -> RebalancePolicy:
        """The portfolio's policy fields, with ``overrides`` (None values are ignored; the
        overrides are checked here, the portfolio's own values by validation)."""
        values: dict[str, Any] = {k: getattr(portfolio.policy, k) for k in POLICY_KEYS}
        values.update({k: v for k, v in overrides.items() if v is not None})
        stability = _count(values.get("stability"), "stability")
        out = cls(
            freeze_days=_count(values.get("freeze_days"), "freeze_days") or 0,
            churn_budget=_count(values.get("churn_budget"), "churn_budget"),
            stability=DEFAULT_STABILITY if stability is None else stability,
        )
        return out


def _count(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"policy.{name} must be a number >= 0, got {value!r}")
    if value != int(value):
        raise ValueError(f"policy.{name} must be a whole number, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class Mapped:
    """The previous plan on the new instance: what is kept, and why the rest is not."""

    kept: Schedule
    #: task id -> why its previous assignment cannot stay (forced changes)
    dropped: dict[str, str]
    #: in-progress tasks kept as their continuation: same people, from their first common day
    #: on or after ``as_of`` for the work left (their change of dates is the progress: forced)
    continued: frozenset[str] = frozenset()


def map_previous(inst: Instance, previous: Plan) -> Mapped:
    """The previous assignments that are still valid together, as a schedule (see module doc)."""
    tl = inst.timeline
    free = initial_free(inst)
    kept = Schedule()
    dropped: dict[str, str] = {}
    continued: set[str] = set()
    prev = {a.task: a for a in previous.assignments}
    for i in topological_order(inst):
        info = inst.tasks[i]
        a = prev.get(info.id)
        if a is None:
            continue
        s, f = tl.idx(a.start), tl.idx(a.finish)
        cont = _continuation(inst, info.index, a.people, free)
        if cont is not None and s is not None and s < cont[0]:
            s, f = cont  # in progress as planned: its successors need not move
            continued.add(info.id)
        why = None
        if not info.possible:
            why = "it cannot be assigned any more"
        elif s is None or f is None or s < info.est or f > info.lft or f < s:
            why = "its dates are outside its window now"
        elif info.pin_start is not None and s != info.pin_start:
            why = "its start is pinned (or in progress) on another day"
        else:
            people = _people_in_place_order(inst, info.index, a.people)
            if people is None:
                why = "its people can no longer do it"
            elif info.keep_people is not None and set(people) != set(info.keep_people):
                why = "it is in progress with other people"
            elif info.pin_person is not None and info.pin_person not in people:
                why = "it is pinned to someone else"
            elif any(j not in kept.start or kept.finish[j] >= s for j in info.preds):
                why = "a predecessor moved"
            elif not _fits(inst, info.index, s, f, people, free):
                why = "it no longer fits its people's availability or capacity"
            else:
                book(free, info.alloc, s, f, people)
                kept.add(i, s, f, people)
        if why is not None:
            dropped[info.id] = why
            continued.discard(info.id)
    return Mapped(kept, dropped, frozenset(continued))


def _continuation(
    inst: Instance, i: int, ids: Sequence[str], free: np.ndarray[Any, Any]
) -> tuple[int, int] | None:
    """An in-progress task's remaining span with its previous people, when they are the ones
    its progress keeps: ``(start, finish)`` from its kept start for its remaining duration in
    active days, or None (not in progress with these people, or not enough days left)."""
    info = inst.tasks[i]
    if info.keep_people is None or info.pin_start is None or not ids:
        return None
    people = _people_in_place_order(inst, i, ids)
    if people is None or set(people) != set(info.keep_people):
        return None
    want = info.duration if info.is_team else info.candidates[people[0]].duration
    if want is None:
        return None
    s = info.pin_start
    active = np.flatnonzero((free[list(people), s:] >= 0).all(axis=0))
    if len(active) < want or active[0] != 0:
        return None
    return s, s + int(active[want - 1])


def _people_in_place_order(inst: Instance, i: int, ids: Sequence[str]) -> tuple[int, ...] | None:
    """The people as indices, one per place (a matching), or None when they cannot fill them."""
    info = inst.tasks[i]
    idx = [inst.person_index.get(x) for x in ids]
    if any(p is None for p in idx) or len(idx) != len(info.places):
        return None
    people = [p for p in idx if p is not None]
    placed = fill_places(people, info.place_candidates)
    return None if placed is None else tuple(placed)


def _fits(
    inst: Instance, i: int, s: int, f: int, people: tuple[int, ...], free: np.ndarray[Any, Any]
) -> bool:
    """Exactly the task's duration in active days from ``s`` to ``f`` (both active), and
    room for its allocation on each active day."""
    info = inst.tasks[i]
    if not people:
        return info.duration is not None and f - s + 1 == info.duration
    block = free[list(people), s : f + 1]
    active = np.asarray((block >= 0).all(axis=0), dtype=bool)
    if not (active[0] and active[-1]):
        return False
    want = info.duration if info.is_team else info.candidates[people[0]].duration
    if int(active.sum()) != want:
        return False
    return bool((block[:, active] >= info.alloc).all())


def freeze(inst: Instance, kept: Schedule, days: int) -> set[int]:
    """Pin the kept tasks starting in the first ``days`` working days from ``as_of`` to their
    people and start (mutates the instance's task infos). Returns their indices."""
    if days <= 0:
        return set()
    p = inst.portfolio
    first = inst.timeline.first_on_or_after(p.as_of or p.calendar.start)
    frozen = {i for i, s in kept.start.items() if s < first + days}
    for i in frozen:
        info = inst.tasks[i]
        people = kept.people[i]
        info.pin_start = kept.start[i]
        if people:
            info.candidates = {q: info.candidates[q] for q in people}
            info.place_candidates = [[q] for q in people]
    return frozen


def moved_tasks(kept: Schedule, sched: Schedule) -> set[int]:
    """The kept tasks whose start or people differ in ``sched`` (or that it leaves out)."""
    out = set()
    for i, s in kept.start.items():
        if (
            i not in sched.start
            or sched.start[i] != s
            or sorted(sched.people[i]) != sorted(kept.people[i])
        ):
            out.add(i)
    return out


def settle(
    inst: Instance,
    kept: Schedule,
    sched: Schedule,
    key: Callable[[Schedule], tuple[int, ...]],
) -> tuple[Schedule, int]:
    """Put moved kept tasks back where they were, one at a time, when their previous placement
    is still free in ``sched`` (capacity, predecessors before, successors after) and the plan
    does not get worse by ``key``. A time-limited search moves tasks it need not (a move that
    neither delivers work nor saves lateness); this undoes such moves. Returns the schedule and
    how many tasks went back. Tasks ``sched`` leaves out stay out (all-or-nothing projects)."""
    moved = sorted(i for i in moved_tasks(kept, sched) if i in sched.start)
    if not moved:
        return sched, 0
    cur = Schedule(dict(sched.start), dict(sched.finish), dict(sched.people))
    free = initial_free(inst)
    for i in cur.start:
        book(free, inst.tasks[i].alloc, cur.start[i], cur.finish[i], cur.people[i])
    best_key = key(cur)
    back = 0
    for i in moved:
        info = inst.tasks[i]
        s0, f0, p0 = kept.start[i], kept.finish[i], kept.people[i]
        if any(j in cur.start and cur.finish[j] >= s0 for j in info.preds) or any(
            j in cur.start and cur.start[j] <= f0 for j in info.succs
        ):
            continue
        s1, f1, p1 = cur.start[i], cur.finish[i], cur.people[i]
        book(free, -info.alloc, s1, f1, p1)  # take it off
        if _fits(inst, i, s0, f0, p0, free):
            cur.start[i], cur.finish[i], cur.people[i] = s0, f0, p0
            k = key(cur)
            if k <= best_key:
                book(free, info.alloc, s0, f0, p0)
                best_key = k
                back += 1
                continue
            cur.start[i], cur.finish[i], cur.people[i] = s1, f1, p1
        book(free, info.alloc, s1, f1, p1)  # put it back where the search had it
    return cur, back


def rebalance(
    portfolio: Portfolio,
    previous: Plan,
    params: SolveParams | None = None,
    *,
    freeze_days: int | None = None,
    churn_budget: int | None = None,
    stability: int | None = None,
) -> Result:
    """Re-plan ``portfolio`` (its progress and ``as_of`` up to date) from ``previous``.

    Keyword arguments override the portfolio's policy keys ``freeze_days``, ``churn_budget``
    and ``stability``. ``stats`` report ``kept`` (previous assignments still valid), ``forced``
    (the others), ``frozen``, ``moved`` (kept tasks the new plan changes) and ``changed``
    (tasks whose people or dates differ from the previous plan, forced ones included) and
    ``unforced`` (the changes with ``forced`` false: chosen by the engine). ``stability`` None
    means the portfolio's key, else :data:`DEFAULT_STABILITY`; 0 is a free re-plan.
    """
    params = params or SolveParams()
    policy = RebalancePolicy.of(
        portfolio, freeze_days=freeze_days, churn_budget=churn_budget, stability=stability
    )
    t0 = time.monotonic()
    history = settle_history(portfolio)  # passed pinned starts are history, not constraints
    portfolio = history.portfolio
    inst = compile_for(portfolio)  # rule 10 marked where it is known before any search
    goal = portfolio.policy.goal
    mapped = map_previous(inst, previous)
    kept = mapped.kept
    frozen = freeze(inst, kept, policy.freeze_days)
    weight = policy.stability
    budget = policy.churn_budget

    def key(sched: Schedule) -> tuple[int, ...]:
        base = schedule_key(inst, sched, goal)
        if weight <= 0:
            return base
        moved = len(moved_tasks(kept, sched))
        if goal == "makespan":
            return (base[0], weight * moved)
        return (base[0], base[1] + weight * moved, *base[2:])

    def within_budget(sched: Schedule) -> bool:
        return budget is None or len(moved_tasks(kept, sched)) <= budget

    def settle_back(sched: Schedule) -> tuple[Schedule, int]:
        return settle(inst, kept, sched, key)

    base = Base(
        kept=kept,
        stability=Stability(previous=kept, budget=budget, weight=weight),
        key=key,
        within_budget=within_budget,
        settle=settle_back if weight > 0 else None,
    )
    ctx = Context(portfolio, inst, params, t0, base=base)
    ctx.stats.update(
        kept=len(kept),
        forced=len(mapped.dropped),
        frozen=len(frozen),
        policy={
            "freeze_days": policy.freeze_days,
            "churn_budget": policy.churn_budget,
            "stability": policy.stability,
        },
    )
    result, best = run(ctx)
    assert best is not None  # the base plan is always a candidate
    chosen = moved_tasks(kept, best.schedule)
    plan = _with_changes(portfolio, previous, result.plan, mapped, history.changes)
    ctx.stats.update(
        moved=len(chosen),
        changed=len(plan.changes or ()),
        unforced=sum(1 for c in plan.changes or () if not c.forced),
    )
    log.info(
        "rebalanced %s: objective=%s, %d kept, %d forced, %d frozen, %d moved, in %.2fs",
        portfolio.name,
        plan.objective,
        len(kept),
        len(mapped.dropped),
        len(frozen),
        len(chosen),
        result.runtime,
    )
    return replace(result, plan=plan)


def _with_changes(
    portfolio: Portfolio,
    previous: Plan,
    plan: Plan,
    mapped: Mapped,
    history: Sequence[Change] = (),
) -> Plan:
    """The plan's ``changes``: in-progress reassignments and every task moved against the
    previous plan (people or dates), with the diff's reasons, each marked ``forced`` by the
    mapping's rule (module docstring): forced when its previous assignment was dropped, for an
    in-progress task (its dates follow the progress) and for an in-progress reassignment;
    chosen (not forced) when it was kept and the plan moved it.

    A forced change whose diff finds no cause in the portfolio alone (an estimate changed: the
    diff has no old portfolio here) gets the mapping's reason in place of "better use of
    capacity", so no forced change claims to be the optimizer's choice. ``history``: the
    changes :func:`allocator.history.settle_history` made (passed pinned starts), forced and
    listed first."""
    out = {c.task: list(c.reasons) for c in history}
    for c in plan.changes or ():
        out.setdefault(c.task, []).extend(r for r in c.reasons if r not in out[c.task])
    forced = {c.task for c in (*history, *(plan.changes or ())) if c.forced}
    forced |= set(mapped.dropped) | mapped.continued
    for ch in diff_plans(portfolio, previous, plan):
        if ch.kind in ("moved", "unassigned") and ch.task in portfolio.task_by_id:
            reasons = list(ch.reasons)
            why = mapped.dropped.get(ch.task)
            if why is not None and BETTER_USE in reasons:
                reasons[reasons.index(BETTER_USE)] = (
                    f"its previous assignment no longer holds: {why}"
                )
            for r in reasons:
                if r not in out.setdefault(ch.task, []):
                    out[ch.task].append(r)
    changes = tuple(Change(t, tuple(r), forced=t in forced) for t, r in out.items())
    return replace(plan, changes=changes or None)


#: default budgets of :func:`rebalance_tradeoff`: shares of the previously assigned tasks
DEFAULT_BUDGETS: tuple[float | None, ...] = (0.0, 0.01, 0.05, 0.10, None)


def rebalance_tradeoff(
    portfolio: Portfolio,
    previous: Plan,
    params: SolveParams | None = None,
    budgets: Sequence[float | None] = DEFAULT_BUDGETS,
    *,
    freeze_days: int | None = None,
) -> list[dict[str, Any]]:
    """Objective terms against the number of changes, one rebalance per churn budget.

    A budget below 1 is a share of the previous plan's assignments (0.05: 5 %), one of 1 or more
    a number of tasks, None no cap. Stability is off (0) in these runs, so each uses its budget
    as far as it pays. Each row: ``budget`` (as given), ``max_changes``, ``moved`` (kept tasks
    changed), ``changed`` (all changes, forced included), ``objective`` (the plan's terms, a
    mapping in planner units), each term again under its own name, and ``seconds``.
    """
    n_prev = len(previous.assignments)
    rows: list[dict[str, Any]] = []
    for b in budgets:
        cap = None if b is None else (int(b) if b >= 1 else int(b * n_prev))
        res = rebalance(
            portfolio, previous, params, freeze_days=freeze_days, churn_budget=cap, stability=0
        )
        policy = RebalancePolicy.of(portfolio, freeze_days=freeze_days)
        if cap is None and policy.churn_budget is not None:
            cap = policy.churn_budget  # the portfolio's own cap still holds
        row: dict[str, Any] = {
            "budget": "unlimited" if b is None else b,
            "max_changes": cap,
            "moved": res.stats.get("moved"),
            "changed": res.stats.get("changed"),
            "objective": None if res.objective is None else dict(res.objective),
            "seconds": round(res.runtime, 2),
        }
        row.update(res.objective or {})
        rows.append(row)
    return rows
