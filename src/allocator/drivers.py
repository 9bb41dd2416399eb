"""What drives a date: the chain of facts that sets a task's or a project's finish, in planner
words.

For a task, :func:`explain` walks back from it. Each step says what set that task's start
and what stretched its span:

* **what it waited for**: the predecessor whose finish it starts right after ("waits for
  crm-schema (amir), which finishes 2027-01-18"), else the person busy until it could start
  ("waits for amir, busy with crm-etl until 2027-02-03"), else its earliest start; when none of
  these ends right before its start, the plan started it later than it could ("starts 3
  working days after it could": capacity on those days, or the plan's choice);
* **what stretched it**: the working days inside its span on which one of its people is away
  (time off, days off of a part-timer's week, before joining or after leaving), and the
  calendar's holidays inside the span ("stretches over amir's time off 2-10 Jan 2027").

The walk then follows the predecessor or the other booking that set the start, until the start
is set by an earliest start or the plan's choice (or ``max_steps``). A project's finish is its
last finishing assigned task's; :func:`explain` on a project id explains that task.
:func:`drivers_frame` gives one row per late task and late project (``analytics.late_frame``
and ``analytics.project_frame`` decide what is late), each with its chain joined in one
sentence.

All facts are read from the plan (:class:`allocator.analytics.PlanView`: working days, each
person's availability, the bookings' active days); nothing is re-solved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from allocator.analytics import Booking, PlanView, late_frame, project_frame
from allocator.domain import Person, Plan, Portfolio

__all__ = ["Explanation", "Step", "UnknownTarget", "drivers_frame", "explain"]


class UnknownTarget(KeyError):
    """The id names no task and no project of the portfolio."""


@dataclass(frozen=True)
class Step:
    """One link of the chain: a task, its people and dates, and the facts that set them."""

    task: str
    people: tuple[str, ...]
    start: date
    finish: date
    facts: tuple[str, ...]

    def sentence(self) -> str:
        who = f" ({', '.join(self.people)})" if self.people else ""
        return f"{self.task}{who} {self.start}..{self.finish}: " + "; ".join(self.facts)


@dataclass(frozen=True)
class Explanation:
    """What sets the finish of ``target`` (a task or a project id)."""

    target: str
    kind: str  # "task" or "project"
    headline: str
    steps: tuple[Step, ...] = field(default=())

    def text(self) -> str:
        """The headline and one line per step."""
        return "\n".join([self.headline] + [f"  {s.sentence()}" for s in self.steps])

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "kind": self.kind,
            "headline": self.headline,
            "chain": [
                {
                    "task": s.task,
                    "people": list(s.people),
                    "start": s.start.isoformat(),
                    "finish": s.finish.isoformat(),
                    "facts": list(s.facts),
                }
                for s in self.steps
            ],
        }


def fmt_range(a: date, b: date) -> str:
    """``2-10 Jan 2027``, ``28 Dec 2026-3 Jan 2027``, ``5 Jan 2027`` (a single day)."""
    if a == b:
        return f"{a.day} {a:%b %Y}"
    if (a.year, a.month) == (b.year, b.month):
        return f"{a.day}-{b.day} {b:%b %Y}"
    if a.year == b.year:
        return f"{a.day} {a:%b}-{b.day} {b:%b %Y}"
    return f"{a.day} {a:%b %Y}-{b.day} {b:%b %Y}"


def _why_away(portfolio: Portfolio, person: Person, d: date) -> str:
    if person.available_from is not None and d < person.available_from:
        return f"before {person.id} joins on {person.available_from}"
    if person.available_until is not None and d > person.available_until:
        return f"after {person.id} leaves on {person.available_until}"
    if any(d in r for r in person.time_off):
        return f"{person.id}'s time off"
    return f"{person.id}'s days off (works {', '.join(portfolio.workdays_of(person))})"


def _away(view: PlanView, people: tuple[str, ...], lo: int, hi: int) -> list[str]:
    """The absences of ``people`` on the working days ``[lo, hi)``, by cause:
    ``amir's time off 2-10 Jan 2027 (7 working days)``."""
    out: list[str] = []
    days = view.timeline.days
    for pid in people:
        person = view.portfolio.person_by_id.get(pid)
        av = view.available.get(pid)
        if person is None or av is None:
            continue
        runs: list[tuple[str, int, int]] = []  # (why, first, last) of consecutive days
        count: dict[str, int] = {}
        for w in range(max(lo, 0), hi):
            if av[w]:
                continue
            why = _why_away(view.portfolio, person, days[w])
            count[why] = count.get(why, 0) + 1
            if runs and runs[-1][0] == why and runs[-1][2] == w - 1:
                runs[-1] = (why, runs[-1][1], w)
            else:
                runs.append((why, w, w))
        merged: dict[str, list[str]] = {}
        for why, a, b in runs:
            merged.setdefault(why, []).append(fmt_range(days[a], days[b]))
        for why, spans in merged.items():
            shown = ", ".join(spans[:3]) + (f" and {len(spans) - 3} more" if len(spans) > 3 else "")
            out.append(f"{why} {shown} ({_wd(count[why])})")
    return out


def _absences(view: PlanView, b: Booking) -> list[str]:
    """The absences of ``b``'s people inside its span, and the calendar's holidays there."""
    out = [f"stretches over {a}" for a in _away(view, b.people, b.lo, b.hi)]
    holidays = [h for h in view.portfolio.calendar.holidays if b.start < h < b.finish]
    if holidays:
        out.append(
            "stretches over the holiday" + ("s " if len(holidays) > 1 else " ")
            + ", ".join(fmt_range(h, h) for h in sorted(holidays))
        )  # fmt: skip
    return out


def _step(
    view: PlanView, b: Booking, by_task: dict[str, Booking]
) -> tuple[list[str], Booking | None]:
    """The facts of one booking and the booking that set its start (None: none did)."""
    tl = view.timeline
    mask = np.ones(view.n, dtype=bool)
    for pid in b.people:
        av = view.available.get(pid)
        if av is not None:
            mask &= av

    def nothing_between(lo: int, hi: int) -> bool:
        """No day its people could work in ``[lo, hi)``."""
        return hi <= lo or not mask[max(lo, 0) : hi].any()

    facts: list[str] = []
    nxt: Booking | None = None
    earliest_date = view.portfolio.task_earliest_start(b.task)
    earliest = tl.first_on_or_after(earliest_date)
    preds = [by_task[p] for p in b.task.predecessors if p in by_task]
    pred = max(preds, key=lambda o: o.hi, default=None)
    ready = max(earliest, pred.hi if pred is not None else 0)
    if pred is not None and pred.hi >= earliest and nothing_between(pred.hi, b.lo):
        who = f" ({', '.join(pred.people)})" if pred.people else ""
        facts.append(f"waits for {pred.task.id}{who}, which finishes {pred.finish}")
        nxt = pred
    else:
        # the people's other work that ends last before this one starts, after it was ready
        busy = [
            (o, pid)
            for o in view.bookings
            if o is not b and ready < o.hi <= b.lo
            for pid in b.people
            if pid in o.people
        ]
        if busy:
            o, pid = max(busy, key=lambda x: x[0].hi)
            if nothing_between(o.hi, b.lo):
                facts.append(f"waits for {pid}, busy with {o.task.id} until {o.finish}")
                nxt = o
        if nxt is None and nothing_between(earliest, b.lo):
            facts.append(f"cannot start before its earliest start {earliest_date}")
        elif nxt is None:
            could = int(np.argmax(mask[ready:])) + ready if mask[ready:].any() else b.lo
            lag = int(mask[could : b.lo].sum())
            facts.append(
                f"starts {_wd(lag)} after it could ({tl.days[could]}): its people's "
                "capacity on those days, or the plan's choice"
            )
    if nxt is not None and nxt.hi < b.lo:  # the days between: its people away
        facts.extend(f"then {a}" for a in _away(view, b.people, nxt.hi, b.lo))
    facts.extend(_absences(view, b))
    return facts, nxt


def _chain(view: PlanView, b: Booking, max_steps: int) -> tuple[Step, ...]:
    by_task = {o.task.id: o for o in view.bookings}
    steps: list[Step] = []
    seen: set[str] = set()
    cur: Booking | None = b
    while cur is not None and cur.task.id not in seen and len(steps) < max_steps:
        seen.add(cur.task.id)
        facts, nxt = _step(view, cur, by_task)
        steps.append(Step(cur.task.id, cur.people, cur.start, cur.finish, tuple(facts)))
        cur = nxt
    return tuple(steps)


def _lateness(view: PlanView, b: Booking) -> str:
    deadline = view.portfolio.task_deadline(b.task)
    if deadline is None:
        return "no deadline"
    if b.late_days > 0:
        return f"{_wd(b.late_days)} after its deadline {deadline}"
    slack = view.timeline.last_on_or_before(deadline) - (b.hi - 1)
    return f"on time, {_wd(slack)} before its deadline {deadline}"


def _wd(n: int) -> str:
    return f"{n} working day" + ("" if n == 1 else "s")


def explain(
    portfolio: Portfolio,
    plan: Plan,
    target: str,
    *,
    max_steps: int = 8,
    view: PlanView | None = None,
) -> Explanation:
    """What sets the finish of ``target`` (a task id, else a project id); raises
    :class:`UnknownTarget` when it is neither."""
    view = view if view is not None else PlanView(portfolio, plan)
    by_task = {o.task.id: o for o in view.bookings}
    if target in portfolio.task_by_id:
        b = by_task.get(target)
        if b is None:
            reasons = [r for u in plan.unassigned if u.task == target for r in u.reasons]
            why = ("; ".join(reasons)) if reasons else "not in the plan"
            return Explanation(target, "task", f"{target} is unassigned: {why}")
        head = f"{target} finishes {b.finish}, {_lateness(view, b)}"
        return Explanation(target, "task", head, _chain(view, b, max_steps))
    project = portfolio.project_by_id.get(target)
    if project is None:
        raise UnknownTarget(target)
    books = [by_task[t.id] for t in project.tasks if t.id in by_task and t.to_plan]
    if not books:
        return Explanation(target, "project", f"project {target} has no assigned task")
    last = max(books, key=lambda o: (o.hi, o.late_days))
    tl = view.timeline
    if project.deadline is None:
        state = "no project deadline"
    else:
        slip = tl.last_on_or_before(last.finish) - tl.last_on_or_before(project.deadline)
        state = (
            f"{_wd(slip)} after its deadline {project.deadline}"
            if slip > 0
            else f"on time for its deadline {project.deadline}"
        )
    late = [o for o in books if o.late_days > 0]
    extra = f"; {len(late)} of its tasks late" if late else ""
    head = (
        f"project {target} finishes {last.finish}, {state}{extra}; its last task is {last.task.id}"
    )
    return Explanation(target, "project", head, _chain(view, last, max_steps))


def drivers_frame(portfolio: Portfolio, plan: Plan, *, max_steps: int = 8) -> pd.DataFrame:
    """One row per late project (``analytics.project_frame``), then per late task
    (``analytics.late_frame``, most late first): ``kind``, ``id``, ``headline`` and ``chain``
    (its steps' sentences joined with `` <- ``)."""
    view = PlanView(portfolio, plan)
    rows: list[dict[str, str]] = []
    projects = project_frame(portfolio, plan)
    targets = [("project", str(p)) for p in projects.loc[projects["late"], "project"]]
    late = late_frame(portfolio, plan)
    targets += [("task", str(t)) for t in late.loc[late["status"] == "late", "task"]]
    for kind, tid in targets:
        e = explain(portfolio, plan, tid, max_steps=max_steps, view=view)
        rows.append(
            {
                "kind": kind,
                "id": tid,
                "headline": e.headline,
                "chain": " <- ".join(s.sentence() for s in e.steps),
            }
        )
    return pd.DataFrame(rows, columns=["kind", "id", "headline", "chain"]).astype("string")
