"""What changed between two plans of a portfolio, task by task, and why.

:func:`diff_plans` lists every task whose people, dates or delivery differ between ``old`` and
``new`` (unchanged tasks are left out), each with reasons derived from the portfolios: the new
one (``portfolio``, which ``new`` plans) and, when given, the one ``old`` was made from. Reasons,
in the order they are looked for:

* **new task**: in the new portfolio, not in the old plan (nor the old portfolio);
* **done / cancelled / removed**: the task is no longer to plan;
* **person unavailable**: an old assignee left the portfolio, or is not available on a day the
  old dates used them (time off, leaving date, new workdays);
* **in progress**: the task's progress now names its people and what is left;
* **estimate changed**: effort, duration, allocation or remaining work differ (old portfolio
  needed);
* **deadline risk**: the old dates would now be late (the deadline moved earlier, or the old
  finish was already after it);
* **start passed**: the old start is before the new ``as_of``;
* **predecessor moved**: a predecessor now finishes on or after the old start;
* **pinned**: the task's pin changed;
* **better use of capacity**: none of the above; the planner found a better overall plan.

**Forced or chosen** (:func:`is_forced`, each change's ``forced``): a change is *forced* when one
of its reasons says the world changed under it: new task, done / cancelled / removed, person
unavailable, in progress, estimate changed, start passed, predecessor moved, pin changed; and
deadline risk only where the portfolio's deadlines are hard (the old dates are then invalid).
Otherwise it is *chosen* by the planner: better use of capacity, or a deadline risk under soft
deadlines (the old dates were still valid; the planner moved the task to cut lateness). This is
the rule by reasons, for any two plans; ``allocator.rebalance`` marks its plan's ``changes`` by
its own exact mapping of the previous plan, which differs only where a predecessor was moved by
choice (the diff calls its successor's move forced, the rebalance chosen).

Pure: no solver, no numpy (the checker's layer).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import Any

from allocator.domain import Assignment, Plan, Portfolio, Task
from allocator.timeline import Timeline, availability

log = logging.getLogger(__name__)

#: the fallback reason
BETTER_USE = "better use of capacity: the new plan is better overall with this task moved"

#: how the reasons that mean "the world changed under the task" begin (see :func:`is_forced`)
FORCED_REASON_STARTS = (
    "new task",
    "task is done",
    "task was cancelled",
    "task removed",
    "person unavailable",
    "in progress with",
    "estimate changed",
    "its old start",  # start passed
    "its predecessor",  # predecessor moved
    "its pin changed",
)
DEADLINE_RISK = "deadline risk"


def is_forced(reasons: tuple[str, ...] | list[str], hard_deadlines: bool = False) -> bool:
    """Whether a change with these reasons was forced by the world (module docstring): one of
    the reasons is in :data:`FORCED_REASON_STARTS`, or a deadline risk with hard deadlines.
    "better use of capacity", a soft deadline risk and "not planned now" notes are chosen."""
    for r in reasons:
        if r.startswith(FORCED_REASON_STARTS):
            return True
        if hard_deadlines and r.startswith(DEADLINE_RISK):
            return True
    return False


@dataclass(frozen=True)
class TaskChange:
    """One task that differs between two plans.

    ``kind``: ``added`` (new task), ``removed`` (no longer to plan), ``moved`` (people or dates
    differ), ``assigned`` (unassigned before, planned now), ``unassigned`` (planned before, not
    now). ``forced``: :func:`is_forced` of the reasons.
    """

    task: str
    kind: str
    old_people: tuple[str, ...] | None
    new_people: tuple[str, ...] | None
    old_start: date | None
    old_finish: date | None
    new_start: date | None
    new_finish: date | None
    reasons: tuple[str, ...]
    forced: bool = False

    def as_dict(self) -> dict[str, Any]:
        def d(x: date | None) -> str | None:
            return x.isoformat() if x is not None else None

        return {
            "task": self.task,
            "kind": self.kind,
            "old": {
                "people": list(self.old_people) if self.old_people is not None else None,
                "start": d(self.old_start),
                "finish": d(self.old_finish),
            },
            "new": {
                "people": list(self.new_people) if self.new_people is not None else None,
                "start": d(self.new_start),
                "finish": d(self.new_finish),
            },
            "reasons": list(self.reasons),
            "forced": self.forced,
        }


def _same(a: Assignment, b: Assignment) -> bool:
    return sorted(a.people) == sorted(b.people) and a.start == b.start and a.finish == b.finish


def diff_plans(
    portfolio: Portfolio, old: Plan, new: Plan, old_portfolio: Portfolio | None = None
) -> list[TaskChange]:
    """Every task that differs between ``old`` and ``new``, in ``new``'s portfolio task order
    (then tasks only the old plan lists), with reasons (see the module docstring)."""
    why = _Reasons(portfolio, old, new, old_portfolio)
    old_a = {a.task: a for a in old.assignments}
    new_a = {a.task: a for a in new.assignments}
    old_listed = set(old_a) | {u.task for u in old.unassigned}
    new_un = {u.task: u for u in new.unassigned}
    order = [t.id for t in portfolio.tasks()]
    seen = set(order)
    order += [t for t in [*old_a, *(u.task for u in old.unassigned)] if t not in seen]
    out: list[TaskChange] = []
    for tid in order:
        a, b = old_a.get(tid), new_a.get(tid)
        if a is not None and b is not None and _same(a, b):
            continue
        task = portfolio.task_by_id.get(tid)
        listed_new = b is not None or tid in new_un
        if tid not in old_listed and listed_new:
            kind = "added"
        elif tid in old_listed and not listed_new:
            kind = "removed"
        elif a is None and b is None:
            continue  # unassigned in both, or in neither
        elif a is None:
            kind = "assigned"
        elif b is None:
            kind = "unassigned"
        else:
            kind = "moved"
        if kind == "removed" and a is None:
            continue  # an unassigned task that is gone: nothing moved
        reasons = why.of(tid, task, kind, a, b)
        if kind == "unassigned" and tid in new_un:
            reasons = reasons + tuple(f"not planned now: {r}" for r in new_un[tid].reasons[:2])
        out.append(
            TaskChange(
                task=tid,
                kind=kind,
                old_people=a.people if a else None,
                new_people=b.people if b else None,
                old_start=a.start if a else None,
                old_finish=a.finish if a else None,
                new_start=b.start if b else None,
                new_finish=b.finish if b else None,
                reasons=reasons,
                forced=is_forced(reasons, portfolio.policy.deadlines_hard),
            )
        )
    return out


def changed_tasks(old: Plan, new: Plan) -> set[str]:
    """Ids of the tasks assigned in ``old`` whose people or dates differ in ``new`` (or that it
    does not assign)."""
    new_a = {a.task: a for a in new.assignments}
    return {a.task for a in old.assignments if a.task not in new_a or not _same(a, new_a[a.task])}


class _Reasons:
    def __init__(
        self, portfolio: Portfolio, old: Plan, new: Plan, old_portfolio: Portfolio | None
    ) -> None:
        self.p, self.old, self.new, self.p0 = portfolio, old, new, old_portfolio
        self.tl = Timeline.of(portfolio)
        self._avail: dict[str, list[bool]] = {}
        self.new_a = {a.task: a for a in new.assignments}

    def avail(self, person_id: str) -> list[bool] | None:
        if person_id not in self._avail:
            person = self.p.person_by_id.get(person_id)
            if person is None:
                return None
            self._avail[person_id] = availability(self.p, self.tl, person)
        return self._avail[person_id]

    def of(
        self,
        tid: str,
        task: Task | None,
        kind: str,
        a: Assignment | None,
        b: Assignment | None,
    ) -> tuple[str, ...]:
        p0 = self.p0
        if kind == "added" or (p0 is not None and task is not None and tid not in p0.task_by_id):
            return ("new task",)
        if task is None:
            return ("task removed from the portfolio",)
        if task.state == "done":
            return ("task is done",)
        if task.state == "cancelled":
            return ("task was cancelled",)
        out: list[str] = []
        if a is not None:
            out += self._people(a)
        t0 = p0.task_by_id.get(tid) if p0 is not None else None
        if (
            task.state == "in_progress"
            and task.progress is not None
            and (t0 is None or t0.state != "in_progress" or t0.progress != task.progress)
        ):
            who = ", ".join(task.progress.people) or "nobody"
            out.append(f"in progress with {who} (progress report)")
        if t0 is not None and _estimate(t0) != _estimate(task):
            out.append(f"estimate changed: {_estimate_text(t0)} -> {_estimate_text(task)}")
        deadline = self.p.task_deadline(task)
        if a is not None and deadline is not None:
            d0 = p0.task_deadline(t0) if p0 is not None and t0 is not None else None
            if a.finish > deadline:
                moved = f" (was {d0.isoformat()})" if d0 is not None and d0 != deadline else ""
                out.append(
                    f"deadline risk: the old finish {a.finish.isoformat()} is after its "
                    f"deadline {deadline.isoformat()}{moved}"
                )
        if (
            a is not None
            and self.p.as_of is not None
            and a.start < self.p.as_of
            and task.state != "in_progress"
        ):
            out.append(
                f"its old start {a.start.isoformat()} is before as_of "
                f"{self.p.as_of.isoformat()} and it had not started"
            )
        if a is not None:
            for pred in task.predecessors:
                pb = self.new_a.get(pred)
                if pb is not None and pb.finish >= a.start:
                    out.append(f"its predecessor {pred} now finishes on {pb.finish.isoformat()}")
        if t0 is not None and t0.pinned != task.pinned:
            out.append("its pin changed")
        return tuple(out) if out else (BETTER_USE,)

    def _people(self, a: Assignment) -> list[str]:
        out = []
        s, f = self.tl.first_on_or_after(a.start), self.tl.last_on_or_before(a.finish)
        for who in a.people:
            av = self.avail(who)
            if av is None:
                out.append(f"person unavailable: {who} is no longer in the portfolio")
                continue
            person = self.p.person_by_id[who]
            if person.available_until is not None and person.available_until < a.finish:
                out.append(
                    f"person unavailable: {who} leaves on {person.available_until.isoformat()}"
                )
            elif s <= f and not (av[s] and av[f]):
                out.append(
                    f"person unavailable: {who} is not available on the old start or finish "
                    f"({a.start.isoformat()}..{a.finish.isoformat()})"
                )
            elif self.p0 is not None and s <= f:
                old_person = self.p0.person_by_id.get(who)
                if old_person is not None and old_person != person:
                    tl0 = Timeline.of(self.p0)
                    av0 = availability(self.p0, tl0, old_person)
                    i0 = {d: i for i, d in enumerate(tl0.days)}
                    lost = [
                        d
                        for i, d in enumerate(self.tl.days[s : f + 1], start=s)
                        if not av[i] and d in i0 and av0[i0[d]]
                    ]
                    if lost:
                        out.append(
                            f"person unavailable: {who} is away on {lost[0].isoformat()}"
                            + (f" and {len(lost) - 1} more day(s)" if len(lost) > 1 else "")
                            + " of the old dates"
                        )
        return out


def _estimate(t: Task) -> tuple[Any, ...]:
    prog = t.progress
    return (
        t.effort_hours,
        t.duration_days,
        t.allocation,
        prog.remaining_hours if prog else None,
        prog.remaining_days if prog else None,
    )


def _estimate_text(t: Task) -> str:
    prog = t.progress
    if prog is not None and prog.remaining_hours is not None:
        return f"{prog.remaining_hours:g} h left"
    if prog is not None and prog.remaining_days is not None:
        return f"{prog.remaining_days} days left"
    if t.effort_hours is not None:
        return f"{t.effort_hours:g} h"
    return f"{t.duration_days} days"


def diff_as_dicts(changes: list[TaskChange]) -> list[dict[str, Any]]:
    return [c.as_dict() for c in changes]
