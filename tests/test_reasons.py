"""Reasons for unassigned work are true statements about the plan (checked on hand-made plans)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from allocator import load_portfolio
from allocator.domain import Assignment, Plan, Portfolio, ReducedCapacity, Task, Unassigned
from allocator.engine import SolveParams, solve
from allocator.generator import generate
from allocator.reasons import (
    NOT_PLACED,
    Explainer,
    empty_window_reason,
    end_clause,
    explain_plan,
    no_room_reason,
    nobody_reason,
    pin_person_reason,
    pin_start_reason,
    pin_team_reason,
    pin_text,
    start_notes,
    team_reason,
    wait_reason,
)
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
        reasons = self._explain(task)
        pin = pin_text(task)
        return [r if pin is None or r.startswith(pin) else f"{pin}: {r}" for r in reasons]

    def _explain(self, task: Task) -> list[str]:
        p, tl, day = self.p, self.tl, self.tl.days
        reasons: list[str] = []
        for pred in task.predecessors:
            pt = p.task_by_id.get(pred)
            if pt is not None and pt.to_plan and pred not in self.assigned:
                reasons.append(f"its predecessor {pred} is unassigned, so it cannot start")
        if reasons:
            return reasons
        lo, hi = self.window(task)
        if lo > hi:
            return [empty_window_reason(p, tl, task, lo, hi)]
        late, hint = start_notes(p, tl, task, lo)
        pin_day = task.pinned.start if task.pinned is not None else None
        pinned_start = pin_day is not None
        if pin_day is not None:
            why = pin_start_reason(p, tl, task, lo, hi)
            if why is not None:
                return [why]
            pin_idx = tl.idx(pin_day)
            assert pin_idx is not None
            lo, late, hint = pin_idx, "", ", or move the pin"
        span = f"{day[lo].isoformat()}..{day[hi].isoformat()}"
        end = end_clause(p, tl, task)
        if not task.places:
            return [wait_reason(tl, task, lo, hi, span, late, hint, end)]
        excluded = set(task.exclude)
        pinned = task.pinned.person if task.pinned is not None else None
        if pinned is not None and task.is_team:
            why = pin_team_reason(p, task)
            if why is not None:
                return [why]
        for place in task.places:
            everyone = [x.id for x in p.people if x.level(place.skill) >= place.min_level]
            qualified = [q for q in everyone if q not in excluded]
            if pinned is not None and not task.is_team:
                why = pin_person_reason(p, task, place)
                if why is not None:
                    return [why]
                qualified = [pinned]
            if not qualified:
                return [nobody_reason(place, [q for q in everyone if q in excluded])]
            if task.is_team:
                continue
            if pinned_start and pinned is not None and not self.avail[pinned][lo]:
                return [
                    f"{pinned} is not available on that day (time off, not there yet or any "
                    "more, or not one of their working days): move the pin"
                ]
            fits = [(q, self.fits_from(task, q, lo, hi)) for q in qualified]
            free = [(q, s) for q, s in fits if s is not None and (not pinned_start or s == lo)]
            if free:
                q, s = free[0]
                assert s is not None
                return [f"it would fit with {q} from {day[s].isoformat()}{NOT_PLACED}"]
            short = [
                q for q in qualified if self.available_days(q, lo, hi) < self.duration(task, q)
            ]
            if len(short) == len(qualified):
                need = min(self.duration(task, q) for q in qualified)
                have = max(self.available_days(q, lo, hi) for q in qualified)
                if pinned is None:
                    has = f"no qualified person has more than {have} available days in it"
                elif have:
                    has = f"{pinned} has only {have} available days in it"
                else:
                    has = f"{pinned} has no available day in it"
                reasons.append(
                    f"its window {span}{late} is too short: it needs {need} working days and "
                    f"{has}; {end}{hint}"
                )
                continue
            qualified = [q for q in qualified if q not in short]
            booked = sorted(((self.share_booked(q, lo, hi), q) for q in qualified), reverse=True)
            listed = ", ".join(f"{q} {share:.0%}" for share, q in booked[:6])
            more = f" and {len(booked) - 6} more" if len(booked) > 6 else ""
            reasons.append(no_room_reason(place, pinned, span, pinned_start, listed + more, end))
        if task.is_team and not reasons:
            counts = []
            for place in dict.fromkeys(task.places):
                eligible = [
                    x.id
                    for x in p.people
                    if x.level(place.skill) >= place.min_level and x.id not in excluded
                ]
                cap = sum(sum(self.cap[q][lo : hi + 1]) for q in eligible)
                booked_sum = sum(sum(self.booked[q][lo : hi + 1]) for q in eligible)
                share = min(1.0, booked_sum / cap) if cap > 0 else 1.0
                counts.append(
                    f"{task.places.count(place)} x {place.skill} >= {place.min_level}: "
                    f"{len(eligible)} qualified, {share:.0%} booked"
                )
            reasons.append(team_reason(span, counts, pinned_start, end))
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


# -- planted causes: solve a tiny portfolio, the reason names the cause planted ----------------

SOLVE = SolveParams(time_limit=5, workers=1, seed=0)
ANN = {"id": "ann", "skills": {"py": 3}}
BOB = {"id": "bob", "skills": {"qa": 3}}
#: ann's 20 working days: a high-priority 15-day task on her leaves 5 free days
BUSY = {"id": "c", "skill": "py", "effort_hours": 120, "priority": 5}
#: a 10-day task of priority 1 that then cannot fit
BLOCKED = {"id": "a", "skill": "py", "effort_hours": 80}
HORIZON = "the plan's horizon ends 2027-01-29: extend the calendar"

PLANTED: dict[str, tuple[dict[str, Any], tuple[str, ...], tuple[str, ...]]] = {
    "no skill": (
        portfolio_dict([ANN], [{"id": "t", "skill": "rust", "effort_hours": 8}]),
        ("nobody has skill 'rust' at level 1 or above", "nobody has it at all"),
        ("excluded", "window"),
    ),
    "level too low": (
        portfolio_dict([ANN], [{"id": "t", "skill": "py", "min_level": 5, "effort_hours": 8}]),
        ("nobody has skill 'py' at level 5 or above", "the best level is 3"),
        ("excluded", "window"),
    ),
    "capacity full in the window": (
        portfolio_dict([ANN], [BUSY, {**BLOCKED, "id": "t"}]),
        ("no qualified person (py >= 1) has room for it", "booked there: ann 75%", HORIZON),
        ("deadline", "would fit", "nobody"),
    ),
    "predecessor unassigned": (
        portfolio_dict(
            [ANN, BOB],
            [BUSY, BLOCKED, {"id": "t", "skill": "qa", "effort_hours": 8, "predecessors": ["a"]}],
        ),
        ("its predecessor a is unassigned, so it cannot start",),
        ("room", "window", "nobody"),
    ),
    "horizon end (work longer than the calendar)": (
        portfolio_dict(
            [ANN], [{"id": "t", "skill": "py", "effort_hours": 200, "deadline": "2027-01-15"}]
        ),
        ("too short", "the plan's horizon ends 2027-01-29: extend the calendar"),
        ("deadline",),
    ),
    "horizon end (after a predecessor)": (
        portfolio_dict(
            [ANN, BOB],
            [
                {"id": "a", "skill": "py", "effort_hours": 120, "priority": 3},
                {"id": "t", "skill": "qa", "effort_hours": 80, "predecessors": ["a"]},
            ],
            project={"deadline": "2027-01-20"},  # a soft deadline: not what closes the window
        ),
        ("its window 2027-01-25..2027-01-29 (its predecessors finish late) is too short", HORIZON),
        ("deadline",),
    ),
    "hard deadline": (
        portfolio_dict(
            [ANN],
            [{"id": "t", "skill": "py", "effort_hours": 120, "deadline": "2027-01-15"}],
            policy={"hard_deadlines": True},
        ),
        ("its window 2027-01-04..2027-01-15 is too short", "move the deadline"),
        ("horizon", "calendar"),
    ),
    "hard deadline (after a predecessor)": (
        portfolio_dict(
            [ANN, BOB],
            [
                {"id": "a", "skill": "py", "effort_hours": 80, "priority": 3},
                {"id": "t", "skill": "qa", "effort_hours": 40, "predecessors": ["a"]},
            ],
            project={"deadline": "2027-01-19"},
            policy={"hard_deadlines": True},
        ),
        ("its hard deadline is 2027-01-19: move the deadline", "predecessors finish late"),
        ("horizon", "calendar"),
    ),
    "wait task after an unassigned predecessor": (
        portfolio_dict(
            [ANN],
            [
                BUSY,
                BLOCKED,
                {"id": "t", "requirements": [], "duration_days": 2, "predecessors": ["a"]},
            ],
        ),
        ("its predecessor a is unassigned, so it cannot start",),
        ("team", "qualified", "would fit"),
    ),
    "wait task cut by the horizon": (
        portfolio_dict(
            [ANN],
            [
                {"id": "a", "skill": "py", "effort_hours": 120},
                {"id": "t", "requirements": [], "duration_days": 10, "predecessors": ["a"]},
            ],
        ),
        ("it needs 10 working days and has 5", HORIZON),
        ("team", "qualified", "deadline"),
    ),
    "pinned person absent": (
        portfolio_dict(
            [
                {**ANN, "time_off": [{"start": "2027-01-04", "end": "2027-01-29"}]},
                {"id": "cy", "skills": {"py": 3}},
            ],
            [{"id": "t", "skill": "py", "effort_hours": 16, "pinned": {"person": "ann"}}],
        ),
        ("pinned to ann", "availab"),
        ("nobody", "would fit"),
    ),
    "pinned person booked from the pinned day": (
        portfolio_dict(
            [ANN],
            [
                {**BUSY, "pinned": {"person": "ann", "start": "2027-01-04"}},
                {
                    "id": "t",
                    "skill": "py",
                    "effort_hours": 40,
                    "pinned": {"person": "ann", "start": "2027-01-06"},
                },
            ],
        ),
        ("pinned to ann on 2027-01-06: ann has no room for it starting on that day", "ann 72%"),
        ("nobody", "would fit", "deadline"),
    ),
    "all-or-nothing project with a task nobody can do": (
        portfolio_dict(
            [ANN],
            [
                {"id": "t", "skill": "py", "effort_hours": 8},
                {"id": "u", "skill": "rust", "effort_hours": 8},
            ],
            project={"all_or_nothing": True},
        ),
        ("project P is all-or-nothing", "task u could not be planned"),
        ("give it more time", "nobody"),
    ),
    "excluded people": (
        portfolio_dict([ANN], [{"id": "t", "skill": "py", "effort_hours": 8, "exclude": ["ann"]}]),
        ("everyone with skill 'py' at level 1 or above", "excluded from it"),
        ("nobody has", "window"),
    ),
}


@pytest.mark.parametrize("cause", list(PLANTED))
def test_the_reason_names_the_planted_cause(cause: str) -> None:
    data, named, not_named = PLANTED[cause]
    result = solve(load_portfolio(data), SOLVE)
    reasons = {u.task: u.reasons for u in result.plan.unassigned}
    assert "t" in reasons, f"{cause}: the planted task must be unassigned"
    text = " | ".join(reasons["t"])
    for words in named:
        assert words in text, (cause, words, text)
    for words in not_named:
        assert words not in text, (cause, words, text)


def test_an_unassigned_pinned_task_names_its_pin_whoever_explains_it() -> None:
    # pinned tasks behind a predecessor: unassigned, and assigned to finish after the pin
    p = load_portfolio(
        portfolio_dict(
            [ANN],
            [
                {"id": "a", "skill": "py", "effort_hours": 24},
                {
                    "id": "b",
                    "skill": "py",
                    "effort_hours": 8,
                    "predecessors": ["a"],
                    "pinned": {"person": "ann", "start": "2027-01-11"},
                },
                {
                    "id": "c",
                    "skill": "py",
                    "effort_hours": 8,
                    "predecessors": ["a"],
                    "pinned": {"start": "2027-01-05"},
                },
            ],
        )
    )
    ex = Explainer(p, plan(unassigned=("a", "b", "c")))
    assert ex.explain("b") == [
        "pinned to ann on 2027-01-11: its predecessor a is unassigned, so it cannot start"
    ]
    a_done = plan(Assignment("a", ("ann",), D("2027-01-04"), D("2027-01-06")), unassigned=("c",))
    assert Explainer(p, a_done).explain("c") == [
        "pinned to start on 2027-01-05: that day is before its earliest possible start "
        "2027-01-07 (its predecessors finish late): move the pin, or plan its predecessors earlier"
    ]


def test_an_empty_window_says_what_closes_it() -> None:
    # b follows a, which ends on the horizon's last day: b's window is past the horizon
    data = portfolio_dict(
        [ANN, BOB],
        [
            {"id": "a", "skill": "py", "effort_hours": 8},
            {"id": "b", "skill": "qa", "effort_hours": 8, "predecessors": ["a"]},
        ],
    )
    p = load_portfolio(data)
    late = plan(Assignment("a", ("ann",), D("2027-01-29"), D("2027-01-29")), unassigned=("b",))
    assert Explainer(p, late).explain("b") == [
        "its earliest possible start (its predecessors finish late) is after the plan's "
        "horizon, which ends 2027-01-29: extend the calendar, or plan its predecessors earlier"
    ]
    # the same with a hard deadline before a's finish: the deadline closes it
    hard = load_portfolio(
        {
            **data,
            "policy": {"hard_deadlines": True},
            "projects": [{**data["projects"][0], "deadline": "2027-01-20"}],
        }
    )
    early = plan(Assignment("a", ("ann",), D("2027-01-20"), D("2027-01-20")), unassigned=("b",))
    assert Explainer(hard, early).explain("b") == [
        "its earliest possible start 2027-01-21 (its predecessors finish late) is after its "
        "last allowed finish 2027-01-20; its hard deadline is 2027-01-20: move the deadline, "
        "or plan its predecessors earlier"
    ]


# -- no placeholder: with no time at all, every task still gets a true reason of its own ------

PLACEHOLDERS = ("not placed by the solver in the time given", "were not worked out")


def brief_truth(ref: ReferenceExplainer, task: Task, reason: str) -> str:
    """Which brief sentence this is, after checking its figures against the definitions."""
    p, tl = ref.p, ref.tl
    lo, hi = ref.window(task)
    if task.pinned is not None and task.pinned.start is not None:
        pin = tl.idx(task.pinned.start)
        assert pin is not None
        lo = pin
    (place,) = task.places
    group = [
        x.id
        for x in p.people
        if x.level(place.skill) >= place.min_level and x.id not in task.exclude
    ]
    if task.pinned is not None and task.pinned.person is not None:
        group = [task.pinned.person]
    span = f"{tl.days[lo].isoformat()}..{tl.days[hi].isoformat()}"
    if "working days and needs at least" in reason:
        need = min(ref.duration(task, q) for q in group)
        assert f"its window {span}" in reason
        assert f"it has {hi - lo + 1} working days and needs at least {need};" in reason
        assert need > hi - lo + 1
        return "short"
    cap = sum(sum(ref.cap[q][lo : hi + 1]) for q in group)
    booked = sum(sum(ref.booked[q][lo : hi + 1]) for q in group)
    if "is available in its window" in reason:
        assert sum(ref.available_days(q, lo, hi) for q in group) == 0
        return "absent"
    share = min(1.0, booked / cap) if cap > 0 else 1.0
    assert f"{share:.0%} booked in its window {span}" in reason, reason
    who = group[0] if len(group) == 1 else f"the {len(group)} people qualified"
    assert reason.split(": ", 1)[-1].startswith(who) or f"{who} " in reason, reason
    return "booked"


def test_budget_zero_gives_every_unassigned_task_a_true_reason_of_its_own() -> None:
    from solver_models.instance import compile_instance

    portfolio = generate(14, 12, seed=3, tightness=1.6, pin_share=0.25, hard_deadlines=True)
    greedy = solve(portfolio, SolveParams(time_limit=1, greedy_only=True, workers=1)).plan
    work = thinned(greedy, 3)  # tasks that would fit too
    inst = compile_instance(portfolio)
    static = {t.id: t.out_reasons for t in inst.tasks}
    units = {t.id: t.units for t in inst.tasks}
    brief = explain_plan(portfolio, work, None, static, units, budget=0)
    full = explain_plan(portfolio, work, None, static, units, budget=None)
    ref = ReferenceExplainer(portfolio, work)
    kinds: set[str] = set()
    full_by_task = {u.task: u.reasons for u in full.unassigned}
    assert [u.task for u in brief.unassigned] == [u.task for u in work.unassigned]
    for u in brief.unassigned:
        assert u.reasons, u.task
        for r in u.reasons:
            assert not any(words in r for words in PLACEHOLDERS), r
        if static.get(u.task):
            continue  # the compiler's, the same in both
        task = portfolio.task_by_id[u.task]
        if u.reasons == full_by_task[u.task]:
            kinds.add("same")  # predecessors, the window, a pin, nobody qualified, a team
        else:
            (reason,) = u.reasons
            kinds.add(brief_truth(ref, task, reason))
    assert {"same", "booked"} <= kinds


def test_the_engine_explains_without_placeholders_when_no_time_is_left(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import allocator.pipeline as pipeline

    monkeypatch.setattr(pipeline, "reasons_budget", lambda params, left: 0.0)
    portfolio = generate(10, 10, seed=4, tightness=1.8)
    result = solve(portfolio, SolveParams(time_limit=2, workers=1, seed=0))
    assert result.plan.unassigned
    briefs = 0
    for u in result.plan.unassigned:
        assert u.reasons, u.task
        assert not any(w in r for r in u.reasons for w in PLACEHOLDERS), u.reasons
        briefs += any("its fit in their free days was not checked" in r for r in u.reasons)
    assert briefs  # the cheap reasons were used
