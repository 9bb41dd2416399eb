"""Reasons for unassigned work are true statements about the plan (checked on hand-made plans)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import date

import pytest

from allocator import load_portfolio
from allocator.domain import Assignment, Plan, Portfolio, ReducedCapacity, Task, Unassigned
from allocator.generator import generate
from allocator.reasons import Explainer
from allocator.timeline import Timeline, availability, capacity, task_duration
from tests.conftest import portfolio_dict

D = date.fromisoformat


def plan(*assignments: Assignment, unassigned: tuple[str, ...] = ()) -> Plan:
    return Plan(
        portfolio="tiny",
        status="feasible",
        objective=None,
        lower_bound=None,
        solve_seconds=0.0,
        assignments=assignments,
        unassigned=tuple(Unassigned(t, ()) for t in unassigned),
    )


TWO = portfolio_dict(
    [{"id": "ann", "skills": {"py": 3}}],
    [
        {"id": "a", "skill": "py", "effort_hours": 120},
        {"id": "b", "skill": "py", "effort_hours": 40},
    ],
)


def test_booked_people_are_named_with_their_load() -> None:
    # a takes 15 of the 20 working days: b (5 days) would still fit after it, so put a in the
    # middle (days 3..17): then no 5 free days remain for b, and ann is 75% booked.
    p = load_portfolio(TWO)
    why = Explainer(
        p, plan(Assignment("a", ("ann",), D("2027-01-07"), D("2027-01-27")), unassigned=("b",))
    ).explain("b")
    assert len(why) == 1 and "ann 75%" in why[0] and "no qualified person" in why[0]


def test_work_that_fits_says_the_solver_did_not_reach_it() -> None:
    p = load_portfolio(TWO)
    why = Explainer(
        p, plan(Assignment("a", ("ann",), D("2027-01-04"), D("2027-01-22")), unassigned=("b",))
    ).explain("b")
    assert "it would fit with ann from 2027-01-25" in why[0]


def test_window_too_short_after_a_late_predecessor() -> None:
    data = portfolio_dict(
        [{"id": "ann", "skills": {"py": 3}}, {"id": "bob", "skills": {"qa": 3}}],
        [
            {"id": "a", "skill": "py", "effort_hours": 120},
            {"id": "b", "skill": "qa", "effort_hours": 80, "predecessors": ["a"]},
        ],
    )
    p = load_portfolio(data)
    why = Explainer(
        p, plan(Assignment("a", ("ann",), D("2027-01-04"), D("2027-01-22")), unassigned=("b",))
    ).explain("b")
    assert "too short" in why[0] and "needs 10 working days" in why[0] and "predecessors" in why[0]


def test_unassigned_predecessor_is_named() -> None:
    p = load_portfolio(
        portfolio_dict(
            [{"id": "ann", "skills": {"py": 3}}],
            [
                {"id": "a", "skill": "py", "effort_hours": 8},
                {"id": "b", "skill": "py", "effort_hours": 8, "predecessors": ["a"]},
            ],
        )
    )
    why = Explainer(p, plan(unassigned=("a", "b"))).explain("b")
    assert why == ["its predecessor a is unassigned, so it cannot start"]


# -- the bulk Explainer against the per-task, per-person, per-day definitions ---------------


class ReferenceExplainer:
    """The reasons as first written: plain loops per task, qualified person and day (the
    definitions the bulk :class:`Explainer` must reproduce exactly)."""

    def __init__(self, portfolio: Portfolio, plan: Plan) -> None:
        self.p = portfolio
        self.tl = Timeline.of(portfolio)
        n = len(self.tl)
        self.avail = {x.id: availability(portfolio, self.tl, x) for x in portfolio.people}
        self.cap = {x.id: capacity(portfolio, self.tl, x) for x in portfolio.people}
        self.booked: dict[str, list[float]] = defaultdict(lambda: [0.0] * n)
        self.assigned = {a.task: a for a in plan.assignments}
        for a in plan.assignments:
            task = portfolio.task_by_id.get(a.task)
            s, f = self.tl.idx(a.start), self.tl.idx(a.finish)
            if task is None or s is None or f is None:
                continue
            members = [pid for pid in a.people if pid in self.avail]
            for w in range(s, f + 1):
                if all(self.avail[pid][w] for pid in members):
                    for pid in members:
                        self.booked[pid][w] += task.alloc

    def window(self, task: Task) -> tuple[int, int]:
        lo = self.tl.first_on_or_after(self.p.task_earliest_start(task))
        for pred in task.predecessors:
            a = self.assigned.get(pred)
            if a is not None:
                lo = max(lo, self.tl.last_on_or_before(a.finish) + 1)
        hi = len(self.tl) - 1
        deadline = self.p.task_deadline(task)
        if self.p.policy.deadlines_hard and self.p.policy.goal != "makespan" and deadline:
            hi = min(hi, self.tl.last_on_or_before(deadline))
        return lo, hi

    def share_booked(self, pid: str, lo: int, hi: int) -> float:
        cap = sum(self.cap[pid][lo : hi + 1])
        if cap <= 0:
            return 1.0
        return min(1.0, sum(self.booked[pid][lo : hi + 1]) / cap)

    def duration(self, task: Task, pid: str) -> int:
        return task_duration(task, None if task.is_team else self.p.person_by_id[pid])

    def available_days(self, pid: str, lo: int, hi: int) -> int:
        return sum(1 for ok in self.avail[pid][lo : hi + 1] if ok)

    def fits_from(self, task: Task, pid: str, lo: int, hi: int) -> int | None:
        dur = self.duration(task, pid)
        avail, cap, booked = self.avail[pid], self.cap[pid], self.booked[pid]
        for s in range(lo, hi + 1):
            if not avail[s]:
                continue
            left, w, ok = dur, s, True
            while w <= hi and left > 0:
                if avail[w]:
                    if cap[w] - booked[w] + 1e-9 < task.alloc:
                        ok = False
                        break
                    left -= 1
                w += 1
            if ok and left == 0:
                return s
        return None

    def explain(self, task_id: str) -> list[str]:
        task = self.p.task_by_id[task_id]
        day = self.tl.days
        reasons: list[str] = []
        for pred in task.predecessors:
            pt = self.p.task_by_id.get(pred)
            if pt is not None and pt.to_plan and pred not in self.assigned:
                reasons.append(f"its predecessor {pred} is unassigned, so it cannot start")
        if reasons:
            return reasons
        lo, hi = self.window(task)
        if lo > hi:
            return [
                "its window is empty in this plan (earliest start after the last allowed finish): "
                "move the deadline or the earliest start"
            ]
        span = f"{day[lo].isoformat()}..{day[hi].isoformat()}"
        excluded = set(task.exclude)
        for place in task.places:
            qualified = [
                x.id
                for x in self.p.people
                if x.level(place.skill) >= place.min_level and x.id not in excluded
            ]
            if task.pinned is not None and task.pinned.person is not None and not task.is_team:
                qualified = [q for q in qualified if q == task.pinned.person]
            if not qualified:
                return [
                    f"nobody has skill '{place.skill}' at level {place.min_level} or above: "
                    "hire or train someone"
                ]
            if task.is_team:
                continue
            fits = [(q, self.fits_from(task, q, lo, hi)) for q in qualified]
            free = [(q, s) for q, s in fits if s is not None]
            if task.pinned is not None and task.pinned.start is not None:
                pin_idx = self.tl.idx(task.pinned.start)
                free = [(q, s) for q, s in free if s == pin_idx] if pin_idx is not None else []
            if free:
                q, s = free[0]
                assert s is not None
                return [
                    f"it would fit with {q} from {day[s].isoformat()}, but the solver did not "
                    "place it in the time given (the plan is not proven optimal): give it more time"
                ]
            short = [
                q for q in qualified if self.available_days(q, lo, hi) < self.duration(task, q)
            ]
            if len(short) == len(qualified):
                need = min(self.duration(task, q) for q in qualified)
                have = max(self.available_days(q, lo, hi) for q in qualified)
                late_start = (
                    " (its predecessors finish late)"
                    if lo > self.tl.first_on_or_after(self.p.task_earliest_start(task))
                    else ""
                )
                reasons.append(
                    f"its window {span}{late_start} is too short: it needs {need} working days "
                    f"and no qualified person has more than {have} available days in it: move the "
                    "deadline or the earliest start, or plan its predecessors earlier"
                )
                continue
            qualified = [q for q in qualified if q not in short]
            booked = sorted(((self.share_booked(q, lo, hi), q) for q in qualified), reverse=True)
            listed = ", ".join(f"{q} {share:.0%}" for share, q in booked[:6])
            more = f" and {len(booked) - 6} more" if len(booked) > 6 else ""
            reasons.append(
                f"no qualified person ({place.skill} >= {place.min_level}) has room for it in its "
                f"window {span}; booked there: {listed}{more}: add capacity, move the deadline, or "
                "lower other work's priority"
            )
        if task.is_team and not reasons:
            counts = []
            for place in dict.fromkeys(task.places):
                n = sum(
                    1
                    for x in self.p.people
                    if x.level(place.skill) >= place.min_level and x.id not in excluded
                )
                counts.append(
                    f"{task.places.count(place)} x {place.skill} >= {place.min_level}: "
                    f"{n} qualified"
                )
            reasons.append(
                f"no team with free common days was found in its window {span} ("
                + "; ".join(counts)
                + "): add capacity or move the deadline"
            )
        return reasons


def odd_capacities(portfolio: Portfolio) -> Portfolio:
    """Every fifth person gets a reduced capacity that is not a whole percent (37.5) over the
    second and third weeks, so windows are summed as the definition sums them."""
    days = Timeline.of(portfolio).days
    people = tuple(
        replace(x, reduced_capacity=(*x.reduced_capacity, ReducedCapacity(days[5], days[14], 37.5)))
        if n % 5 == 0
        else x
        for n, x in enumerate(portfolio.people)
    )
    return replace(portfolio, people=people)


def thinned(plan: Plan, keep_every: int) -> Plan:
    """The plan without every ``keep_every``-th assignment (they become unassigned): work
    that would fit, for the "would fit" reasons."""
    kept = tuple(a for n, a in enumerate(plan.assignments) if n % keep_every)
    dropped = tuple(
        Unassigned(a.task, ()) for n, a in enumerate(plan.assignments) if not n % keep_every
    )
    return replace(plan, assignments=kept, unassigned=plan.unassigned + dropped)


@pytest.mark.parametrize(
    ("seed", "hard", "odd"),
    [(1, False, False), (2, True, False), (3, False, True), (4, True, True)],
)
def test_bulk_reasons_equal_the_per_task_definitions(seed: int, hard: bool, odd: bool) -> None:
    from allocator.engine import SolveParams, solve

    portfolio = generate(14, 12, seed=seed, tightness=1.3, pin_share=0.25, hard_deadlines=hard)
    if odd:
        portfolio = odd_capacities(portfolio)
    greedy = solve(portfolio, SolveParams(time_limit=1, greedy_only=True)).plan
    kinds: set[str] = set()
    for plan in (greedy, thinned(greedy, 3)):
        bulk, ref = Explainer(portfolio, plan), ReferenceExplainer(portfolio, plan)
        zeros = [0.0] * len(bulk.tl)
        for pid in {*bulk.booked, *ref.booked}:
            assert bulk.booked.get(pid, zeros) == ref.booked.get(pid, zeros), pid
        for u in plan.unassigned:
            got = bulk.explain(u.task)
            assert got == ref.explain(u.task), u.task
            kinds.update(r.split(" ")[1] for r in got)
        # the per-person primitives, on every task's window and every person
        for task in portfolio.tasks_to_plan:
            lo, hi = ref.window(task)
            assert bulk.window(task) == (lo, hi)
            if lo > hi or task.is_team:
                continue
            for x in portfolio.people:
                assert bulk.fits_from(task, x.id, lo, hi) == ref.fits_from(task, x.id, lo, hi)
                assert bulk.available_days(x.id, lo, hi) == ref.available_days(x.id, lo, hi)
                assert bulk.share_booked(x.id, lo, hi) == ref.share_booked(x.id, lo, hi)
    assert {"would", "window"} <= kinds  # the cases that take the work are exercised


def test_availability_shortcut_is_the_definition() -> None:
    portfolio = generate(40, 4, seed=5)
    bulk, tl = Explainer(portfolio, plan()), Timeline.of(portfolio)
    for x in portfolio.people:
        assert bulk.avail[x.id] == availability(portfolio, tl, x)
        assert bulk.cap[x.id] == capacity(portfolio, tl, x)
