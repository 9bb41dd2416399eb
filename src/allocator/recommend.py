"""Recommendations, each proven by re-solving: :func:`recommend`.

**Candidates** come from the plan's own evidence, never a guess (:func:`candidates`), at most
``limit`` (default :data:`MAX_CANDIDATES` = 10) in this order: the unassigned tasks by priority
then work (most first), then the late tasks by priority-weighted late days (most first), then
the portfolio as a whole; duplicates dropped.

* an unassigned task whose reason says ``nobody has skill 'X' at level L or above``
  (:func:`allocator.reasons.nobody_reason`): **hire** a placeholder person (contract
  ``placeholder``: a role to fill) with X at L from the task's earliest start, priced at the
  median rate of the people who have X (else of everyone); and **train** the person with the
  highest level of X below L (else the person with the fewest planned hours) to X at L;
* ``everyone with skill ... is excluded``: **let take** it: the exclusion is lifted;
* the qualified people have no room (``add capacity or lower other work's priority``): **let
  take**: pin the task to the qualified person with the fewest planned hours and raise its
  priority above every other; and **hire** a placeholder with its skill and level (one hire
  candidate per skill and level: the first task's);
* its window is too short (``move the deadline``): **move the deadline** to the calendar's end;
* a late task: **move its deadline** by the days it is late (to its planned finish), and
  **raise its priority** above every other;
* the portfolio: **drop** the lowest-priority project when work of a higher-priority project
  is unassigned or late (its tasks cancelled).

"Who should staff this task?" (``staff=TASK``, :func:`staff_candidates`): one candidate per
qualified person, the task pinned to them, evaluated and ranked the same way: what the plan
gains or loses with each.

**Evaluation.** Every candidate is a scenario (:mod:`allocator.scenarios`): its edits applied
(:mod:`allocator.edits`) and the edited portfolio re-planned from the base plan with the same
:class:`~allocator.scenarios.SolveSettings` (time budget, seed, workers, stability) as a
*control* run: the unedited portfolio re-planned the same way. The ``effect`` is the
candidate's figures minus the control's: each objective term (``cost`` among them), and
``total_cost`` (the plan's pay, hours x rate), ``delivered_hours``, ``late_tasks`` and ``late_projects``, each measured on the
edited portfolio (a moved deadline counts lateness against the new date, a raised priority
weighs its task more). Solving the written portfolio again from the base plan with the same
settings reproduces the figures (exactly with ``greedy_only`` or a deterministic time budget;
``tests/test_recommend.py`` checks it).

**Ranking**: effect per price, best first: work delivered (hours gained / price), then
priority-weighted late days avoided / price, then cost saved. :data:`PRICE` is the price of
each kind of change (what a planner gives up: a hire is dearer than a moved priority);
a candidate that helps nothing is still listed, last, with its measured (non-)effect: it
says *why* the change would not help.
"""

from __future__ import annotations

import json
import logging
import re
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from allocator.contract import dump_plan, dump_portfolio, load_plan, plan_to_dict, portfolio_to_dict
from allocator.domain import Plan, Portfolio, Task
from allocator.edits import EditError, apply_edits
from allocator.errors import Issue
from allocator.scenarios import Outcome, SolveSettings, outcome_of, solve_many

__all__ = [
    "MAX_CANDIDATES",
    "PRICE",
    "Candidate",
    "Recommendation",
    "Recommendations",
    "candidates",
    "recommend",
    "staff_candidates",
    "write_recommendations",
]

log = logging.getLogger(__name__)

#: at most this many candidates are evaluated (each is one re-solve)
MAX_CANDIDATES = 10

#: the price of one change of each kind (the divisor of the ranking): what a planner gives up
PRICE: Mapping[str, float] = {
    "hire": 4.0,
    "train": 2.0,
    "move_deadline": 2.0,
    "raise_priority": 1.0,
    "let_take": 1.0,
    "drop_project": 5.0,
    "staff": 1.0,
}

_NOBODY = re.compile(r"nobody has skill '(?P<skill>[^']+)' at level (?P<level>\d+) or above")
_EXCLUDED = re.compile(r"everyone with skill '[^']+' at level \d+ or above \(.*\) is excluded")
_NO_ROOM = "add capacity or lower other work's priority"
_WINDOW = "move the deadline"
#: the effect's measures besides the objective terms (``total_cost``: the plan's pay, hours x
#: rate, beside the objective's ``cost`` term)
_MEASURES = (
    ("total_cost", "total_cost"),
    ("delivered_hours", "delivered_hours"),
    ("late_tasks", "late_tasks"),
    ("late_projects", "late_projects"),
)


@dataclass(frozen=True)
class Candidate:
    """A change to try: its ``kind`` (a key of :data:`PRICE`), ``summary`` in planner words,
    its ``edits`` (:mod:`allocator.edits`) and the task it answers (None: the portfolio)."""

    id: str
    kind: str
    summary: str
    edits: tuple[Mapping[str, Any], ...]
    task: str | None = None


@dataclass(frozen=True)
class Recommendation:
    """A candidate with its measured effect (candidate minus control, see the module
    docstring) and its re-solved plan."""

    candidate: Candidate
    effect: Mapping[str, float | int]
    outcome: Outcome
    files: Mapping[str, str] = field(default_factory=dict)

    @property
    def price(self) -> float:
        return PRICE[self.candidate.kind]

    def rank_key(self) -> tuple[float, float, float]:
        """Smaller is better: work delivered per price, late days avoided per price, cost."""
        e = self.effect
        late = float(e.get("weighted_late_days", 0))
        return (
            -float(e.get("delivered_hours", 0)) / self.price,
            late / self.price,
            float(e.get("cost", e.get("total_cost", 0))),
        )

    @property
    def helps(self) -> bool:
        delivered, late, _cost = self.rank_key()
        return delivered < 0 or (delivered == 0 and late < 0)

    def as_dict(self) -> dict[str, Any]:
        c = self.candidate
        return {
            "id": c.id,
            "kind": c.kind,
            "summary": c.summary,
            "task": c.task,
            "edits": list(c.edits),
            "price": self.price,
            "helps": self.helps,
            "effect": dict(self.effect),
            "objective": dict(self.outcome.plan.objective or {}),
            "status": self.outcome.plan.status,
            "undelivered": list(self.outcome.undelivered),
            "portfolio": self.files.get("portfolio"),
            "plan": self.files.get("plan"),
        }


# -- candidates ---------------------------------------------------------------------------------
def _rate(portfolio: Portfolio, skill: str) -> float:
    rates = [p.rate for p in portfolio.people if p.level(skill) > 0] or [
        p.rate for p in portfolio.people
    ]
    return float(statistics.median(rates)) if rates else 0.0


def _planned_hours(plan: Plan) -> dict[str, float]:
    out: dict[str, float] = {}
    for a in plan.assignments:
        for pid in a.people:
            out[pid] = out.get(pid, 0.0) + float(a.hours or 0.0) / max(1, len(a.people))
    return out


def _top_priority(portfolio: Portfolio) -> int:
    return max((portfolio.task_priority(t) for t in portfolio.tasks_to_plan), default=1) + 1


class _Gen:
    def __init__(self, portfolio: Portfolio, plan: Plan, limit: int) -> None:
        self.p, self.plan, self.limit = portfolio, plan, limit
        self.out: list[Candidate] = []
        self.seen: set[str] = set()
        self.hours = _planned_hours(plan)
        self.hired: set[tuple[str, int]] = set()

    def add(self, kind: str, summary: str, edits: list[dict[str, Any]], task: str | None) -> None:
        key = json.dumps(edits, sort_keys=True)
        if key in self.seen or len(self.out) >= self.limit:
            return
        self.seen.add(key)
        self.out.append(
            Candidate(f"r{len(self.out) + 1}-{kind}", kind, summary, tuple(edits), task)
        )

    def hire(self, task: Task, skill: str, level: int) -> None:
        if (skill, level) in self.hired:  # one hire per skill and level: the first task's
            return
        self.hired.add((skill, level))
        pid = f"hire-{skill}-{level}"
        n = 2
        while pid in self.p.person_by_id:
            pid, n = f"hire-{skill}-{level}-{n}", n + 1
        start = self.p.task_earliest_start(task)
        rate = _rate(self.p, skill)
        person: dict[str, Any] = {"id": pid, "skills": {skill: level}, "placeholder": True}
        person["cost_per_hour"] = rate
        if start > self.p.calendar.start:
            person["available_from"] = start.isoformat()
        self.add(
            "hire",
            f"hire someone with {skill} at level {level} from {start.isoformat()} "
            f"(placeholder {pid}, {rate:g}/h) for {task.id}",
            [{"new_people": [person]}],
            task.id,
        )

    def train(self, task: Task, skill: str, level: int) -> None:
        below = [x for x in self.p.people if 0 < x.level(skill) < level]
        if below:
            who = max(below, key=lambda x: (x.level(skill), -self.hours.get(x.id, 0.0)))
            was = f"from level {who.level(skill)} "
        elif self.p.people:
            who = min(self.p.people, key=lambda x: self.hours.get(x.id, 0.0))
            was = "(new skill) "
        else:
            return
        self.add(
            "train",
            f"train {who.id} in {skill} {was}to level {level} for {task.id}",
            [{"skills": {who.id: {skill: level}}}],
            task.id,
        )

    def let_take(self, task: Task) -> None:
        if len(task.places) != 1:
            return
        place = task.places[0]
        able = [
            x
            for x in self.p.people
            if x.level(place.skill) >= place.min_level and x.id not in task.exclude
        ]
        if not able:
            return
        who = min(able, key=lambda x: (self.hours.get(x.id, 0.0), x.id))
        prio = _top_priority(self.p)
        self.add(
            "let_take",
            f"let {who.id} take {task.id} (pin it to {who.id}, priority {prio}: before other "
            "work; weighted terms then weigh it at that priority)",
            [{"tasks": {task.id: {"pinned": {"person": who.id}, "priority": prio}}}],
            task.id,
        )

    def lift_exclusion(self, task: Task) -> None:
        self.add(
            "let_take",
            f"lift the exclusions of {task.id} ({', '.join(task.exclude)})",
            [{"tasks": {task.id: {"exclude": None}}}],
            task.id,
        )

    def move_deadline(self, task: Task, to: Any, days: int) -> None:
        self.add(
            "move_deadline",
            f"move the deadline of {task.id} by {days} days to {to.isoformat()}",
            [{"tasks": {task.id: {"deadline": to.isoformat()}}}],
            task.id,
        )

    def raise_priority(self, task: Task) -> None:
        prio = _top_priority(self.p)
        self.add(
            "raise_priority",
            f"raise the priority of {task.id} from {self.p.task_priority(task)} to {prio} "
            "(weighted terms then weigh it at that priority)",
            [{"tasks": {task.id: {"priority": prio}}}],
            task.id,
        )


def candidates(portfolio: Portfolio, plan: Plan, limit: int = MAX_CANDIDATES) -> list[Candidate]:
    """The changes to try, from the plan's evidence (module docstring), at most ``limit``."""
    g = _Gen(portfolio, plan, limit)
    tasks = portfolio.task_by_id
    unassigned = [u for u in plan.unassigned if u.task in tasks]
    unassigned.sort(
        key=lambda u: (
            -portfolio.task_priority(tasks[u.task]),
            -portfolio.task_work_hours(tasks[u.task]),
        )
    )
    for u in unassigned:
        task = tasks[u.task]
        for reason in u.reasons:
            m = _NOBODY.search(reason)
            if m:
                g.hire(task, m["skill"], int(m["level"]))
                g.train(task, m["skill"], int(m["level"]))
            elif _EXCLUDED.search(reason):
                g.lift_exclusion(task)
            elif _NO_ROOM in reason:
                g.let_take(task)
                for place in task.places[:1]:
                    g.hire(task, place.skill, place.min_level)
            elif _WINDOW in reason:
                deadline = portfolio.task_deadline(task)
                end = portfolio.calendar.end
                if deadline is not None and deadline < end:
                    g.move_deadline(task, end, (end - deadline).days)
    late = []
    for a in plan.assignments:
        done = tasks.get(a.task)
        deadline = portfolio.task_deadline(done) if done is not None else None
        if done is not None and deadline is not None and a.finish > deadline:
            late.append((portfolio.task_priority(done) * (a.finish - deadline).days, done, a))
    late.sort(key=lambda x: (-x[0], x[1].id))
    for _, task, a in late:
        deadline = portfolio.task_deadline(task)
        assert deadline is not None
        g.move_deadline(task, a.finish, (a.finish - deadline).days)
        g.raise_priority(task)
    _drop(g, unassigned, [t for _, t, _ in late])
    return g.out


def staff_candidates(
    portfolio: Portfolio, plan: Plan, task_id: str, limit: int = MAX_CANDIDATES
) -> list[Candidate]:
    """ "Who should staff this task?": one candidate per qualified person (the task pinned to
    them; not excluded; fewest planned hours first), at most ``limit``. Raises
    :class:`~allocator.edits.EditError` for an unknown task or one not to plan."""
    task = portfolio.task_by_id.get(task_id)
    if task is None or not task.to_plan or task.state == "in_progress":
        why = "unknown task" if task is None else f"task {task_id} is {task.state}"
        raise EditError([Issue("task", f"{why}: staff options are for tasks not started")])
    g = _Gen(portfolio, plan, limit)
    able = [
        x
        for x in portfolio.people
        if x.id not in task.exclude and any(x.level(pl.skill) >= pl.min_level for pl in task.places)
    ]
    now = plan.assignment_of(task_id)
    for x in sorted(able, key=lambda x: (g.hours.get(x.id, 0.0), x.id)):
        held = " (as planned)" if now is not None and x.id in now.people else ""
        g.add(
            "staff",
            f"{x.id} staffs {task_id}{held}",
            [{"tasks": {task_id: {"pinned": {**_pin(task), "person": x.id}}}}],
            task_id,
        )
    return g.out


def _pin(task: Task) -> dict[str, Any]:
    return (
        {}
        if task.pinned is None or task.pinned.start is None
        else {"start": task.pinned.start.isoformat()}
    )


def _drop(g: _Gen, unassigned: Sequence[Any], late: Sequence[Task]) -> None:
    p = g.p
    live = [pr for pr in p.projects if any(t.to_plan for t in pr.tasks)]
    if len(live) < 2:
        return
    lowest = min(live, key=lambda pr: (pr.priority or 1, -len(pr.tasks), pr.id))
    hurt = {p.task_by_id[u.task].project for u in unassigned} | {t.project for t in late}
    if any((p.project_by_id[x].priority or 1) > (lowest.priority or 1) for x in hurt):
        g.add(
            "drop_project",
            f"drop project {lowest.id} (priority {lowest.priority or 1}) to free its people",
            [{"cancel_projects": [lowest.id]}],
            None,
        )


# -- evaluation ---------------------------------------------------------------------------------
def _figures(o: Outcome) -> dict[str, float | int]:
    out: dict[str, float | int] = dict(o.plan.objective or {})
    for name, key in _MEASURES:
        out[name] = o.headline[key]
    return out


def _effect(
    new: Mapping[str, float | int], old: Mapping[str, float | int]
) -> dict[str, float | int]:
    out: dict[str, float | int] = {}
    for k, v in new.items():
        d = v - old.get(k, 0)
        out[k] = int(d) if float(d).is_integer() else round(float(d), 2)
    return out


@dataclass(frozen=True)
class Recommendations:
    """The control run and the recommendations, best first."""

    control: Outcome
    items: tuple[Recommendation, ...]
    settings: SolveSettings

    def as_dict(self) -> dict[str, Any]:
        return {
            "settings": dict(self.settings.__dict__),
            "control": {
                "objective": dict(self.control.plan.objective or {}),
                "figures": _figures(self.control),
                "plan": "control.plan.json",
            },
            "base_plan": "base.plan.json",
            "recommendations": [r.as_dict() for r in self.items],
        }

    def text(self) -> str:
        if not self.items:
            return "no unassigned or late work in the plan: no change to recommend"
        lines = [f"{len(self.items)} candidate changes, each re-solved; best first:"]
        for n, r in enumerate(self.items, 1):
            shown = ", ".join(f"{k} {v:+,}" for k, v in r.effect.items() if v)
            lines.append(
                f"{n:>2}. [{r.candidate.kind}] {r.candidate.summary}: "
                f"{shown or 'no measurable effect'}"
            )
        return "\n".join(lines)


def recommend(
    portfolio: Portfolio,
    plan: Plan,
    settings: SolveSettings | None = None,
    *,
    limit: int = MAX_CANDIDATES,
    processes: int = 2,
    client: Any = None,
    staff: str | None = None,
) -> Recommendations:
    """Generate candidates from ``plan``'s evidence (``staff``: a task id, the people who
    could staff it instead, :func:`staff_candidates`), re-solve each (and the control) from
    ``plan`` with ``settings``, rank them (module docstring)."""
    settings = settings or SolveSettings()
    if staff is not None:
        cands = staff_candidates(portfolio, plan, staff, limit)
    else:
        cands = candidates(portfolio, plan, limit)
    kept: list[Candidate] = []
    edited: list[Portfolio] = []
    for c in cands:
        try:
            edited.append(apply_edits(portfolio, c.edits))
            kept.append(c)
        except EditError as exc:  # a candidate the contract rejects is not worth a solve
            log.warning("candidate %s skipped: %s", c.id, exc)
    cands = kept
    bodies = [portfolio_to_dict(portfolio), *(portfolio_to_dict(p) for p in edited)]
    answers = solve_many(bodies, plan_to_dict(plan), dict(settings.__dict__), processes, client)
    control = outcome_of("control", portfolio, load_plan(answers[0]["plan"]))
    base_figures = _figures(control)
    recs = []
    for c, p, ans in zip(cands, edited, answers[1:], strict=True):
        o = outcome_of(c.id, p, load_plan(ans["plan"]), (portfolio, plan), edits=c.edits)
        recs.append(Recommendation(c, _effect(_figures(o), base_figures), o))
    recs.sort(key=lambda r: r.rank_key())
    return Recommendations(control, tuple(recs), settings)


def write_recommendations(
    result: Recommendations, base_plan: Plan, output: str | Path
) -> Recommendations:
    """Write ``recommendations.json``, the base and control plans and each recommendation's
    edited portfolio and plan to the directory ``output``; the result with its file names."""
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    dump_plan(base_plan, out / "base.plan.json")
    dump_plan(result.control.plan, out / "control.plan.json")
    items = []
    for r in result.items:
        files = {
            "portfolio": f"{r.candidate.id}.portfolio.json",
            "plan": f"{r.candidate.id}.plan.json",
        }
        dump_portfolio(r.outcome.portfolio, out / files["portfolio"])
        dump_plan(r.outcome.plan, out / files["plan"])
        items.append(Recommendation(r.candidate, r.effect, r.outcome, files))
    done = Recommendations(result.control, tuple(items), result.settings)
    text = json.dumps(done.as_dict(), indent=2, ensure_ascii=False) + "\n"
    (out / "recommendations.json").write_text(text, encoding="utf-8")
    return done
