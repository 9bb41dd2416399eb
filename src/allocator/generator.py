"""Synthetic, realistic PMO portfolios of any size, from a seed.

Used by the property tests (small portfolios), the benchmarks (up to 50,000 tasks x 5,000
people, generated in seconds) and the CLI (``allocator generate``). Plain Python only: one
``random.Random(seed)`` drives everything, so the same arguments always give an identical
portfolio (no set iteration, no hashing of strings decides anything). Working days, each
person's availability and capacity, and effort durations come from :mod:`allocator.timeline`,
the calendar the checker and the solvers use; the generator keeps only day indices.
(About 1,050 lines, on purpose: one seeded pass whose steps share a single random stream in a
fixed order; a split would spread that order over modules for no reuse, and half the file is
this description and the vocabulary.)

What a generated portfolio looks like (the rates below are fixed; the knobs are the arguments of
:func:`generate`):

* **calendar**: starts on ``start`` (a Monday), Mon-Fri, ``horizon_weeks`` weeks ending on a
  Friday, about one holiday per six weeks (on weekdays, never in the first week).
* **skills**: ``6 + round(sqrt(people))`` skills (python, sql, frontend, qa, devops, data-eng, ux,
  pm, analysis, security, ml, mobile, then ``skill-13`` ...) with Zipf-like popularity
  (weight ``1 / rank**1.1``) when people draw their skills: a few skills are common, a long
  tail is rare. Tasks then draw their skill in proportion to the realised supply (the holders'
  weekly hours, 60% of a person's time counted on the main skill, the rest split evenly), so
  demand per skill follows supply and keeps the same skew.
* **people** (``p0001`` ...): 1-4 skills at levels 1-5 (mostly 2-4; the main skill is the
  strongest), a ``team`` named after the main skill, 8 hours a day (left to the contract default)
  except ~15% part-timers (half with ``hours_per_day`` 4-6, half with a 3-4 day ``workdays``
  week), ``cost_per_hour`` 40-150 rising with the best level, ``time_off`` (1-3 non-overlapping
  ranges of 1-10 working days for ~50% of people; at most one range under 10 weeks, two under
  20), ~5% joiners (``available_from`` in the first third), ~5% leavers (``available_until`` in
  the last third), ~5% with one ``reduced_capacity`` range (50 or 80 percent, 2-8 weeks).
* **projects** (``P001`` ...): priority 1-5 skewed to low, ``start_after`` for ~30% (in the
  first half), a ``deadline`` for ~85% (see *Deadlines*). Each has
  ``randint(*tasks_per_project)`` tasks (``P001-T01`` ...); see *Tightness* for when that range
  is stretched.
* **tasks**: each has 0-2 predecessors among the *earlier* tasks of its project (mostly the
  recent ones, so chains form), and ~3% get one more predecessor in an *earlier* project, so the
  precedence graph is acyclic by construction. Links (then efforts) are trimmed where a chain,
  estimated at 8 hours a day, would span more than 85% of the working days, so every chain fits
  the horizon. One-person tasks draw their skill from the supply, and ``min_level`` 1-4 from a
  holder drawn by supply: that person's level minus 0-2 (so never above anyone's best level),
  ``effort_hours`` log-uniform 8-160 (whole hours, before the tightness correction below),
  ``allocation`` 50 on ~10%. A ``team_task_share`` of tasks are team tasks: 2-3 requirements
  (distinct skills, ``count`` 1-2, ``duration_days`` 1-5) built around a witness set of distinct
  people who can fill every place, so each team task is staffable (with very few people a team
  task may end up with a single requirement). About 5% of tasks have their own ``deadline``, 3%
  an ``earliest_start``, 5% their own ``priority``; ~3% ``exclude`` one eligible person (only when
  at least three are eligible) and ~5% ``prefer`` one or two eligible people.
* **unassignable tasks**: with ``people >= 10`` and the ``portfolio`` objective, about 1% of tasks
  (always the last task of its project, never the target of a cross-project link) ask for a level
  one above the best anyone has in the skill, to exercise the "no one qualifies" reasons. Under
  ``makespan`` (every task must be assigned) there are none.
* **pins** on ``pin_share`` of the tasks: 40% pin a person only, 30% a start only, 30% both. The
  pinned person has the skill at the level (for a team task: one of its witnesses) and is not
  excluded. A pinned start is a working day on or after the task's earliest start and at least
  20 working days before the calendar's end (and early enough for the chain of its successors);
  the task loses its predecessors (a pinned start with predecessors could contradict them). Start
  pins are checked against a witness person (or the team's witnesses): available that day, the
  task fits before the end, no reduced capacity below the allocation in its span, and no overlap
  with the person's other start pins, so the start pins are jointly satisfiable. A pinned person
  (preferably one who neither joins nor leaves) must be able to do the task from its estimated
  start in the same sense, with room left for its successors, and nobody gets more than a third
  of the horizon in pinned work. When no one fits, the task is simply not pinned, so the share
  of pinned tasks can fall below ``pin_share`` in tight or tiny portfolios.
* **policy**: ``objective`` and ``hard_deadlines`` from the arguments.

**Tightness.** ``tightness`` is total demand / total capacity over the horizon, where demand is
the contract's *work* summed over the tasks (``effort_hours``, or ``duration_days x places x 8 x
allocation / 100``) and capacity is the sum over people and working days of
``hours_per_day x capacity percent / 100`` on available days (contract *person*). It is applied in
three steps: (0) when even the shortest horizon (8 weeks, or the given ``horizon_weeks``) would
need efforts more than 1.5x their nominal size (many people, few projects), ``tasks_per_project``
is stretched by that ratio, at most 4x: more tasks rather than tasks of hundreds of hours;
(1) when ``horizon_weeks`` is None, the horizon is
``ceil(demand / (estimated weekly capacity x tightness))`` clamped to 8..52 weeks; (2) once the
calendar and every absence are known, the exact capacity is computed and every effort (and team
duration) is scaled by ``tightness x capacity / demand`` (the factor is clamped to 0.25..4, and
efforts are rounded to whole hours). Without clamping the result is within a few percent of the
target; when the horizon is given or clamped (say 1 person, 5 projects) the efforts move away
from 8-160 hours, and when the factor itself is clamped the target is not reached (logged at
debug level). Tightness is an aggregate: it says nothing of the critical paths, the skill levels
or who is free when, so a plan at tightness 0.9 still leaves some work out.

**Deadlines.** Projects are put in a nominal order (by ``start_after``, then at random). A
project whose cumulative share of the work is ``f`` gets its deadline near
``f x tightness x working days`` (x 1.1-1.35 slack), and never earlier than its start plus 1.25 x
its critical path (at 8 hours a day, including cross-project links) plus 2 days; capped at the
calendar's end (where many land when the projects are long for the horizon). A plan that works
roughly in deadline order can meet most of them; with ``tightness > 1`` the last ones cannot all
be met. A task's own deadline is 1.5 x its duration plus 2 days after its estimated start, at
most its project's; its ``earliest_start`` is 0-5 days after its estimated start (within the
chain budget).
"""

from __future__ import annotations

import logging
import math
import random
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from allocator.domain import (
    WEEKDAYS,
    Calendar,
    DateRange,
    Objective,
    Person,
    Pin,
    Policy,
    Portfolio,
    Project,
    ReducedCapacity,
    Requirement,
    Task,
    frozen_map,
)
from allocator.timeline import (
    Timeline,
    availability,
    capacity,
    common_availability,
    effort_duration,
    finish_from,
)

__all__ = ["generate"]

log = logging.getLogger(__name__)

# -- vocabulary ---------------------------------------------------------------------------------
_SKILL_NAMES: tuple[str, ...] = (
    "python", "sql", "frontend", "qa", "devops", "data-eng",
    "ux", "pm", "analysis", "security", "ml", "mobile",
)  # fmt: skip
_TEAM_OF_SKILL: dict[str, str] = {
    "python": "backend", "sql": "data", "frontend": "web", "qa": "quality",
    "devops": "platform", "data-eng": "data", "ux": "design", "pm": "pmo",
    "analysis": "business-analysis", "security": "security", "ml": "ml", "mobile": "mobile",
}  # fmt: skip
_TASK_NAMES: dict[str, tuple[str, ...]] = {
    "python": ("Backend service", "API implementation", "Batch job", "Integration adapter"),
    "sql": ("Schema design", "Reporting queries", "Data model review", "Query tuning"),
    "frontend": ("Front-end build", "UI components", "Accessibility fixes", "Dashboard screens"),
    "qa": ("Test plan", "Regression testing", "Acceptance testing", "Test automation"),
    "devops": ("CI pipeline", "Infrastructure setup", "Monitoring", "Deployment automation"),
    "data-eng": ("ETL pipelines", "Data migration", "Data quality checks", "Streaming ingest"),
    "ux": ("User research", "Mock-ups", "Usability study", "Design system update"),
    "pm": ("Project plan", "Stakeholder review", "Status reporting", "Vendor coordination"),
    "analysis": ("Requirements", "Process mapping", "Business case", "Gap analysis"),
    "security": ("Threat model", "Access review", "Penetration test fixes", "Security audit"),
    "ml": ("Model prototype", "Feature engineering", "Model evaluation", "Model deployment"),
    "mobile": ("Mobile screens", "App store release", "Offline mode", "Push notifications"),
}
_TEAM_TASK_NAMES: tuple[str, ...] = (
    "Kick-off workshop", "Design workshop", "Integration sprint", "Go-live rehearsal",
    "Release readiness review", "Cutover weekend", "User acceptance session", "Security review",
)  # fmt: skip
_AREAS: tuple[str, ...] = (
    "Customer portal", "CRM", "Billing", "Data warehouse", "Mobile app", "Payments",
    "Onboarding", "Reporting", "Search", "Identity", "Logistics", "HR system", "Inventory",
    "Analytics platform", "Website", "Support desk", "Pricing engine", "Document management",
    "Partner API", "Compliance",
)  # fmt: skip
_ACTIONS: tuple[str, ...] = (
    "migration", "refresh", "rollout", "upgrade", "redesign", "integration", "hardening",
    "consolidation", "launch", "automation", "modernisation", "pilot",
)  # fmt: skip
_FIRST: tuple[str, ...] = (
    "Ana", "Ben", "Chen", "Dara", "Eli", "Fay", "Gus", "Hana", "Ivan", "Jade", "Kofi", "Lena",
    "Mateo", "Nora", "Omar", "Priya", "Quinn", "Rosa", "Sami", "Tara", "Umar", "Vera", "Wen",
    "Xavi", "Yara", "Zoe",
)  # fmt: skip
_LAST: tuple[str, ...] = (
    "Silva", "Okafor", "Wei", "Novak", "Haddad", "Moreau", "Berg", "Kowalski", "Tanaka", "Rossi",
    "Mensah", "Garcia", "Iyer", "Dubois", "Larsen", "Nguyen", "Petrov", "Costa", "Fischer",
    "Ahmed", "Murphy", "Kim",
)  # fmt: skip
_PART_WEEKS: tuple[tuple[str, ...], ...] = (
    ("Mon", "Tue", "Wed", "Thu"),
    ("Tue", "Wed", "Thu", "Fri"),
    ("Mon", "Tue", "Wed"),
    ("Mon", "Wed", "Fri"),
    ("Wed", "Thu", "Fri"),
)

# -- distributions ------------------------------------------------------------------------------
_PERSON_LEVEL_CW = (0.08, 0.35, 0.70, 0.92, 1.0)  # levels 1..5, mostly 2-4
_LEVEL_DROP_CW = (0.35, 0.75, 1.0)  # a task's min_level: 0, 1 or 2 below a holder's level
_MAX_TASK_LEVEL = 4
_MAIN_SHARE = 0.6  # share of a person's time on their main skill (supply per skill)
_N_SKILLS_CW = (0.30, 0.65, 0.90, 1.0)  # 1..4 skills per person
_PRIORITY_CW = (0.35, 0.63, 0.83, 0.94, 1.0)  # priority 1..5, skewed to low
_N_PREDS_CW = (0.2, 0.8, 1.0)  # 0..2 predecessors inside the project
_ZIPF_S = 1.1

_PART_TIME = 0.15
_TIME_OFF = 0.5
_JOINER = 0.05
_LEAVER = 0.05
_REDUCED = 0.05
_START_AFTER = 0.3
_PROJECT_DEADLINE = 0.85
_CROSS_LINK = 0.03
_HALF_ALLOCATION = 0.10
_TASK_DEADLINE = 0.05
_TASK_EARLIEST = 0.03
_TASK_PRIORITY = 0.05
_EXCLUDE = 0.03
_PREFER = 0.05
_UNASSIGNABLE = 0.01
_CHAIN_BUDGET = 0.85  # share of the working days a precedence chain may span (8 h/day)
_PIN_START_MARGIN = 20  # working days kept free at the end of the horizon after a pinned start
_CAPACITY_ESTIMATE = 0.93  # share of nominal weekly hours left after holidays and absences
_MIN_WEEKS, _MAX_WEEKS = 8, 52
_MIN_FACTOR, _MAX_FACTOR = 0.25, 4.0
_MEAN_EFFORT = (160 - 8) / math.log(160 / 8)  # mean of the log-uniform 8..160 hours
_MEAN_TEAM_WORK = 3 * 3.75 * 8.0  # 3 days x ~3.75 places x 8 hours
_STRETCH_ABOVE, _MAX_STRETCH = 1.5, 4.0


def _pick(rng: random.Random, cw: Sequence[float]) -> int:
    """A 0-based index drawn with cumulative weights ``cw`` (last one 1.0)."""
    return bisect_left(cw, rng.random() * cw[-1])


def _cumulative(weights: Sequence[float]) -> list[float]:
    out: list[float] = []
    acc = 0.0
    for w in weights:
        acc += w
        out.append(acc)
    return out


@dataclass(slots=True)
class _P:
    """A person under construction (indices are working-day positions)."""

    idx: int
    id: str
    name: str
    skills: dict[str, int]
    hours_per_day: int | None
    workdays: tuple[str, ...] | None
    cost: int
    team: str
    lo: int = 0  # first available working-day index
    hi: int = 0  # last available working-day index
    joins: bool = False
    leaves: bool = False
    time_off: list[tuple[int, int]] = field(default_factory=list)
    reduced: list[tuple[int, int, int]] = field(default_factory=list)
    pins: list[tuple[int, int]] = field(default_factory=list)  # reserved spans of start pins
    floating: int = 0  # days of person-only pinned work
    # per working day, from allocator.timeline once the person is placed (see _Gen.place_people)
    available: list[bool] = field(default_factory=list)
    percent: list[float] = field(default_factory=list)

    @property
    def hours(self) -> float:
        """Hours per day (contract default 8)."""
        return 8.0 if self.hours_per_day is None else float(self.hours_per_day)

    @property
    def week_days(self) -> int:
        """Working days in the person's week (the calendar's Mon-Fri by default)."""
        return 5 if self.workdays is None else len(self.workdays)


@dataclass(slots=True)
class _T:
    """A task under construction."""

    id: str
    name: str
    skill: str | None = None
    min_level: int | None = None
    reqs: list[tuple[str, int, int]] | None = None  # (skill, min_level, count)
    witnesses: list[int] = field(default_factory=list)  # people who can fill a team task
    effort: int = 0
    duration: int = 0
    allocation: int | None = None
    preds: list[_T] = field(default_factory=list)
    succs: list[_T] = field(default_factory=list)
    project_start: int = 0  # working-day index the project may start on
    start_est: float = 0.0  # earliest start / finish along the precedence, at 8 hours a day
    finish_est: float = 0.0
    tail: float = 0.0  # longest chain from this task's start to the end of its successors
    unassignable: bool = False
    earliest: int | None = None
    deadline: int | None = None
    priority: int | None = None
    exclude: list[int] = field(default_factory=list)
    prefer: list[int] = field(default_factory=list)
    pin_person: int | None = None
    pin_start: int | None = None

    @property
    def alloc(self) -> int:
        return 100 if self.allocation is None else self.allocation

    def work(self) -> float:
        """Contract *work*: effort, else duration x places x 8 x allocation / 100."""
        if self.reqs is None:
            return float(self.effort)
        places = sum(c for _, _, c in self.reqs)
        return self.duration * places * 8.0 * self.alloc / 100.0

    def days_estimate(self) -> float:
        """Duration in active days at 8 hours a day."""
        if self.reqs is not None:
            return float(self.duration)
        return self.effort / (8.0 * self.alloc / 100.0)


@dataclass(slots=True)
class _Pr:
    id: str
    name: str
    priority: int
    tasks: list[_T]
    order_key: float
    start_idx: int | None = None
    deadline: int | None = None


def generate(
    people: int,
    projects: int,
    *,
    seed: int = 0,
    tightness: float = 0.9,
    horizon_weeks: int | None = None,
    tasks_per_project: tuple[int, int] = (4, 12),
    team_task_share: float = 0.1,
    pin_share: float = 0.03,
    hard_deadlines: bool = False,
    objective: str = "portfolio",
    name: str | None = None,
    start: date = date(2027, 1, 4),
) -> Portfolio:
    """Generate a realistic synthetic portfolio (see the module docstring for its shape).

    Args:
        people: number of people (>= 1), ids ``p0001`` ...
        projects: number of projects (>= 0), ids ``P001`` ...; tasks are ``P001-T01`` ...
        seed: seed of the one ``random.Random`` used; equal arguments give equal portfolios.
        tightness: target total demand / total capacity over the horizon (> 0), both in hours
            as defined in the module docstring; about 1.0 means the work just fits. Applied
            through the horizon (when ``horizon_weeks`` is None) and then by scaling efforts.
        horizon_weeks: calendar length in weeks (>= 1); None: derived from the work and the
            tightness, between 8 and 52 weeks.
        tasks_per_project: inclusive ``(low, high)`` range of the number of tasks per project
            (``1 <= low <= high``); the default gives about 8 tasks a project.
        team_task_share: share (0..1) of tasks that are team tasks (``requirements``).
        pin_share: share (0..1) of tasks that carry a ``pinned`` person and/or start.
        hard_deadlines: ``policy.hard_deadlines``.
        objective: ``policy.objective``, ``"portfolio"`` or ``"makespan"``; under ``makespan``
            no task is made deliberately unassignable.
        name: the portfolio's name; default ``synthetic-<people>p-<projects>x-s<seed>``.
        start: first day of the calendar; must be a Monday.

    Raises:
        ValueError: an argument is out of range.
    """
    if people < 1:
        raise ValueError(f"people must be >= 1, got {people}")
    if projects < 0:
        raise ValueError(f"projects must be >= 0, got {projects}")
    if not (tightness > 0 and math.isfinite(tightness)):
        raise ValueError(f"tightness must be a positive number, got {tightness}")
    if horizon_weeks is not None and horizon_weeks < 1:
        raise ValueError(f"horizon_weeks must be >= 1, got {horizon_weeks}")
    lo_t, hi_t = tasks_per_project
    if not 1 <= lo_t <= hi_t:
        raise ValueError(
            f"tasks_per_project must be (low, high) with 1 <= low <= high, got {tasks_per_project}"
        )
    for label, share in (("team_task_share", team_task_share), ("pin_share", pin_share)):
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"{label} must be within 0..1, got {share}")
    if objective not in ("portfolio", "makespan"):
        raise ValueError(f"objective must be 'portfolio' or 'makespan', got {objective!r}")
    if start.weekday() != 0:
        raise ValueError(f"start must be a Monday, got {start} ({WEEKDAYS[start.weekday()]})")
    goal: Objective = "makespan" if objective == "makespan" else "portfolio"

    g = _Gen(random.Random(seed), people, tightness, team_task_share, pin_share, goal)
    g.make_people()
    lo_t, hi_t = g.stretch(projects, lo_t, hi_t, horizon_weeks)
    g.make_projects(projects, lo_t, hi_t)
    g.make_calendar(start, horizon_weeks)
    g.place_people()
    g.apply_tightness()
    g.make_start_after()
    g.fit_chains()
    g.make_deadlines()
    g.make_preferences()
    g.make_pins()
    return g.build(name or f"synthetic-{people}p-{projects}x-s{seed}", hard_deadlines)


class _Gen:
    """The generator's state; the steps of :func:`generate` run in order."""

    def __init__(
        self,
        rng: random.Random,
        people: int,
        tightness: float,
        team_share: float,
        pin_share: float,
        objective: Objective,
    ) -> None:
        self.rng = rng
        self.n_people = people
        self.tightness = tightness
        self.team_share = team_share
        self.pin_share = pin_share
        self.objective: Objective = objective
        n_skills = 6 + round(math.sqrt(people))
        self.skills = [
            _SKILL_NAMES[i] if i < len(_SKILL_NAMES) else f"skill-{i + 1}" for i in range(n_skills)
        ]
        self.skill_cw = _cumulative([1.0 / (r + 1) ** _ZIPF_S for r in range(n_skills)])
        self.people: list[_P] = []
        self.projects: list[_Pr] = []
        # per skill: holders (person index, level), best level, eligible[level] lists
        self.holders: dict[str, list[tuple[int, int]]] = {}
        self.best: dict[str, int] = {}
        self.eligible: dict[str, list[list[int]]] = {}
        self.task_skills: list[str] = []
        self.task_skill_cw: list[float] = []
        self.holder_cw: dict[str, list[float]] = {}
        self.calendar: Calendar
        self.timeline: Timeline
        self.days: tuple[date, ...] = ()  # the working days (``self.timeline.days``)
        self.n = 0  # number of working days

    # -- people: who they are ------------------------------------------------------------------
    def make_people(self) -> None:
        rng = self.rng
        width = max(4, len(str(self.n_people)))
        for i in range(self.n_people):
            n_sk = _pick(rng, _N_SKILLS_CW) + 1
            chosen: list[str] = []
            for _ in range(n_sk * 4):
                s = self.skills[_pick(rng, self.skill_cw)]
                if s not in chosen:
                    chosen.append(s)
                    if len(chosen) == n_sk:
                        break
            levels = sorted((_pick(rng, _PERSON_LEVEL_CW) + 1 for _ in chosen), reverse=True)
            skills = dict(zip(chosen, levels, strict=True))  # main skill first, the strongest
            main = chosen[0]
            hours: int | None = None
            workdays: tuple[str, ...] | None = None
            if rng.random() < _PART_TIME:
                if rng.random() < 0.5:
                    hours = rng.randint(4, 6)
                else:
                    workdays = _PART_WEEKS[rng.randrange(len(_PART_WEEKS))]
            cost = 40 + 20 * (levels[0] - 1) + rng.randint(-5, 25)
            self.people.append(
                _P(
                    idx=i,
                    id=f"p{i + 1:0{width}d}",
                    name=f"{_FIRST[rng.randrange(len(_FIRST))]} {_LAST[rng.randrange(len(_LAST))]}",
                    skills=skills,
                    hours_per_day=hours,
                    workdays=workdays,
                    cost=max(40, min(150, cost)),
                    team=_TEAM_OF_SKILL.get(main, f"team-{main}"),
                )
            )
        for p in self.people:
            for s, lv in p.skills.items():
                self.holders.setdefault(s, []).append((p.idx, lv))
        for s in self.skills:
            hs = self.holders.get(s)
            if not hs:
                continue
            self.best[s] = max(lv for _, lv in hs)
            self.eligible[s] = [[pi for pi, lv in hs if lv >= level] for level in range(6)]
        # supply: weekly hours, _MAIN_SHARE of a person's time on the main skill, the rest split
        supply: dict[str, list[float]] = {}
        for p in self.people:
            week = p.hours * p.week_days
            n_sk = len(p.skills)
            for k, s in enumerate(p.skills):
                share = (
                    1.0 if n_sk == 1 else _MAIN_SHARE if k == 0 else (1 - _MAIN_SHARE) / (n_sk - 1)
                )
                supply.setdefault(s, []).append(week * share)
        self.task_skills = [s for s in self.skills if s in self.holders]
        self.task_skill_cw = _cumulative([sum(supply[s]) for s in self.task_skills])
        self.holder_cw = {s: _cumulative(supply[s]) for s in self.task_skills}

    # -- projects and tasks: structure and work -----------------------------------------------
    def _skill(self) -> str:
        """A skill drawn in proportion to the people's supply of it."""
        return self.task_skills[_pick(self.rng, self.task_skill_cw)]

    def _holder(self, skill: str) -> tuple[int, int]:
        """A holder of ``skill`` (person index, level), drawn in proportion to their supply."""
        return self.holders[skill][_pick(self.rng, self.holder_cw[skill])]

    def _level_below(self, level: int) -> int:
        """A task's ``min_level`` for work sized to a person of ``level``: 0-2 below, 1..4."""
        return max(1, min(_MAX_TASK_LEVEL, level - _pick(self.rng, _LEVEL_DROP_CW)))

    def _one_person_task(self, t: _T) -> None:
        rng = self.rng
        s = self._skill()
        t.skill = s
        t.min_level = self._level_below(self._holder(s)[1])
        t.effort = round(math.exp(rng.uniform(math.log(8), math.log(160))))
        if rng.random() < _HALF_ALLOCATION:
            t.allocation = 50
        names = _TASK_NAMES.get(s)
        t.name = names[rng.randrange(len(names))] if names else f"{s} work package"

    def _team_task(self, t: _T) -> bool:
        """Requirements around a witness set of distinct people; False when none could be built."""
        rng = self.rng
        n_entries = rng.randint(2, 3)
        used: list[str] = []
        reserved: list[int] = []
        reqs: list[tuple[str, int, int]] = []
        for _ in range(n_entries * 3):
            if len(reqs) == n_entries:
                break
            s = self._skill()
            if s in used:
                continue
            used.append(s)
            want = rng.randint(1, 2)
            got: list[tuple[int, int]] = []
            for _ in range(want * 5):
                pi, lv = self._holder(s)
                if pi not in reserved:
                    reserved.append(pi)
                    got.append((pi, lv))
                    if len(got) == want:
                        break
            if not got:
                continue
            reqs.append((s, self._level_below(min(lv for _, lv in got)), len(got)))
            t.witnesses.extend(pi for pi, _ in got)
        if not reqs:
            return False
        t.reqs = reqs
        t.duration = rng.randint(1, 5)
        t.name = _TEAM_TASK_NAMES[rng.randrange(len(_TEAM_TASK_NAMES))]
        return True

    def make_projects(self, n_projects: int, lo_t: int, hi_t: int) -> None:
        rng = self.rng
        width = max(3, len(str(n_projects)))
        # tasks of earlier projects a cross-project link may name (never an unassignable one)
        targets: list[_T] = []
        for j in range(n_projects):
            pid = f"P{j + 1:0{width}d}"
            n_tasks = rng.randint(lo_t, hi_t)
            twidth = max(2, len(str(n_tasks)))
            tasks: list[_T] = []
            for k in range(n_tasks):
                t = _T(id=f"{pid}-T{k + 1:0{twidth}d}", name="")
                if not (rng.random() < self.team_share and self._team_task(t)):
                    t.witnesses = []
                    self._one_person_task(t)
                if k > 0:
                    n_preds = min(_pick(rng, _N_PREDS_CW), k)
                    local: list[int] = []
                    for _ in range(n_preds * 3):
                        if len(local) == n_preds:
                            break
                        if rng.random() < 0.8:
                            q = k - 1 - min(int(rng.expovariate(0.7)), k - 1)
                        else:
                            q = rng.randrange(k)
                        if q not in local:
                            local.append(q)
                    t.preds = [tasks[q] for q in sorted(local)]
                if targets and rng.random() < _CROSS_LINK:
                    t.preds.append(targets[rng.randrange(len(targets))])
                tasks.append(t)
            last = tasks[-1]
            if (
                self.n_people >= 10
                and self.objective == "portfolio"
                and last.reqs is None
                and last.skill is not None
                and rng.random() < _UNASSIGNABLE * n_tasks
            ):
                s = last.skill
                if self.best[s] >= 5:
                    lower = [x for x in self.task_skills if self.best[x] < 5]
                    if lower:
                        s = lower[rng.randrange(len(lower))]
                        last.skill = s
                        names = _TASK_NAMES.get(s)
                        last.name = names[0] if names else f"{s} work package"
                if self.best[s] < 5:
                    last.min_level = self.best[s] + 1
                    last.unassignable = True
            targets.extend(t for t in tasks if not t.unassignable)
            self.projects.append(
                _Pr(
                    id=pid,
                    name=f"{rng.choice(_AREAS)} {rng.choice(_ACTIONS)}",
                    priority=_pick(rng, _PRIORITY_CW) + 1,
                    tasks=tasks,
                    order_key=rng.random(),
                )
            )

    def _weekly_capacity(self) -> float:
        """Estimated capacity hours per week (nominal hours less holidays and absences)."""
        return _CAPACITY_ESTIMATE * sum(p.hours * p.week_days for p in self.people)

    def stretch(
        self, n_projects: int, lo_t: int, hi_t: int, horizon_weeks: int | None
    ) -> tuple[int, int]:
        """``tasks_per_project``, stretched (up to 4x) when efforts would need more than 1.5x.

        That happens when the people could do far more than the tasks hold even over the
        shortest horizon (8 weeks, or the given one): more tasks is more realistic than tasks of
        hundreds of hours.
        """
        if n_projects == 0:
            return lo_t, hi_t
        weeks = _MIN_WEEKS if horizon_weeks is None else horizon_weeks
        target = weeks * self._weekly_capacity() * self.tightness
        per_task = (1 - self.team_share) * _MEAN_EFFORT + self.team_share * _MEAN_TEAM_WORK
        expected = n_projects * (lo_t + hi_t) / 2 * per_task
        ratio = target / expected
        if ratio <= _STRETCH_ABOVE:
            return lo_t, hi_t
        k = min(_MAX_STRETCH, ratio)
        log.debug("tasks_per_project (%d, %d) stretched x%.2f for tightness", lo_t, hi_t, k)
        return max(lo_t, round(lo_t * k)), max(hi_t, round(hi_t * k))

    def _demand(self) -> float:
        return sum(t.work() for pr in self.projects for t in pr.tasks)

    # -- calendar --------------------------------------------------------------------------------
    def make_calendar(self, start: date, horizon_weeks: int | None) -> None:
        rng = self.rng
        if horizon_weeks is None:
            need = self._demand() / (self._weekly_capacity() * self.tightness)
            weeks = max(_MIN_WEEKS, min(_MAX_WEEKS, math.ceil(need)))
        else:
            weeks = horizon_weeks
        n_holidays = round(weeks / 6) if weeks >= 6 else (1 if weeks >= 3 else 0)
        holidays: list[date] = []
        for _ in range(n_holidays * 5):
            if len(holidays) == n_holidays:
                break
            d = start + timedelta(days=7 * rng.randint(1, weeks - 1) + rng.randrange(5))
            if d not in holidays:
                holidays.append(d)
        holidays.sort()
        self.weeks = weeks
        end = start + timedelta(days=7 * weeks - 3)  # the last Friday
        self.calendar = Calendar(start, end, None, tuple(holidays))
        self.timeline = Timeline.of(Portfolio(name="", calendar=self.calendar))
        self.days = self.timeline.days
        self.n = len(self.timeline)

    # -- people: when they are there -------------------------------------------------------------
    def place_people(self) -> None:
        """Joiners, leavers, time off and reduced capacity (working-day indices), then each
        person's availability and capacity per working day from :mod:`allocator.timeline`."""
        rng = self.rng
        n = self.n
        for p in self.people:
            p.lo, p.hi = 0, n - 1
            r = rng.random()
            if n >= 6 and r < _JOINER:
                p.lo = rng.randint(max(1, n // 20), max(1, n // 3))
                p.joins = True
            elif n >= 6 and r < _JOINER + _LEAVER:
                last = n - 1 - max(1, n // 20)
                p.hi = rng.randint(min((2 * n) // 3, last), last)
                p.leaves = True
            if rng.random() < _TIME_OFF:
                n_ranges = rng.randint(1, 1 + min(2, self.weeks // 10))
                for _ in range(n_ranges * 3):
                    if len(p.time_off) == n_ranges:
                        break
                    length = rng.randint(1, 10)
                    if p.hi - p.lo + 1 <= length:
                        break
                    s = rng.randint(p.lo, p.hi - length + 1)
                    e = s + length - 1
                    if all(e < a - 1 or s > b + 1 for a, b in p.time_off):
                        p.time_off.append((s, e))
                p.time_off.sort()
            if n >= 10 and rng.random() < _REDUCED:
                length = min(n - 1, rng.randint(10, 40))
                s = rng.randint(0, n - length)
                p.reduced.append((s, s + length - 1, 50 if rng.random() < 0.5 else 80))
        shell = Portfolio(name="", calendar=self.calendar)
        for p in self.people:
            person = self._person(p)
            p.available = availability(shell, self.timeline, person)
            p.percent = capacity(shell, self.timeline, person)

    def _capacity(self) -> float:
        """Exact capacity hours over the horizon (contract *person*).

        Per person: available days less ``(100 - percent) / 100`` on each reduced one, in day
        order, times the hours per day.
        """
        total = 0.0
        for p in self.people:
            days = float(sum(p.available))
            for ok, pct in zip(p.available, p.percent, strict=True):
                if ok and pct < 100:
                    days -= (100 - pct) / 100.0
            total += days * p.hours
        return total

    # -- tightness -------------------------------------------------------------------------------
    def apply_tightness(self) -> None:
        demand = self._demand()
        capacity = self._capacity()
        if demand <= 0 or capacity <= 0:
            return
        factor = self.tightness * capacity / demand
        clamped = max(_MIN_FACTOR, min(_MAX_FACTOR, factor))
        if clamped != factor:
            log.debug(
                "tightness %.2f not reachable: effort factor %.2f clamped", self.tightness, factor
            )
        for pr in self.projects:
            for t in pr.tasks:
                if t.reqs is None:
                    t.effort = max(1, round(t.effort * clamped))
                else:
                    t.duration = max(1, round(t.duration * clamped))
        log.debug(
            "generated %d weeks, demand %.0f h, capacity %.0f h, tightness %.3f",
            self.weeks,
            self._demand(),
            capacity,
            self._demand() / capacity,
        )

    # -- dates: start_after, deadlines, own dates ------------------------------------------------
    def make_start_after(self) -> None:
        rng = self.rng
        n = self.n
        for pr in self.projects:
            if n >= 4 and rng.random() < _START_AFTER:
                pr.start_idx = rng.randint(max(1, n // 20), max(1, n // 2))
            for t in pr.tasks:
                t.project_start = pr.start_idx or 0

    def fit_chains(self) -> None:
        """Longest-path estimates; trim precedence (or effort) so every chain fits the horizon.

        Tasks are visited in generation order, which is topological (predecessors are earlier
        tasks). A task whose estimated finish passes ``_CHAIN_BUDGET`` of the working days loses
        its latest predecessors until it fits, then, if it alone is too long, its effort shrinks.
        """
        budget = _CHAIN_BUDGET * self.n
        trimmed = 0
        for pr in self.projects:
            for t in pr.tasks:
                t.preds.sort(key=lambda q: q.finish_est)
                while True:
                    t.start_est = max([float(t.project_start)] + [q.finish_est for q in t.preds])
                    t.finish_est = t.start_est + t.days_estimate()
                    if t.finish_est <= budget or not t.preds:
                        break
                    t.preds.pop()
                    trimmed += 1
                if t.finish_est > budget:
                    room = max(1.0, budget - t.start_est)
                    if t.reqs is None:
                        t.effort = max(1, math.floor(room * 8.0 * t.alloc / 100.0))
                    else:
                        t.duration = max(1, math.floor(room))
                    t.finish_est = t.start_est + t.days_estimate()
                    trimmed += 1
        if trimmed:
            log.debug("fit_chains: %d predecessor links or efforts trimmed to fit", trimmed)
        for pr in self.projects:
            for t in pr.tasks:
                for q in t.preds:
                    q.succs.append(t)
        self._update_tails()

    def _update_tails(self) -> None:
        for pr in reversed(self.projects):
            for t in reversed(pr.tasks):
                t.tail = t.days_estimate() + max((q.tail for q in t.succs), default=0.0)

    def make_deadlines(self) -> None:
        rng = self.rng
        n = self.n
        budget = _CHAIN_BUDGET * n
        total = self._demand() or 1.0
        order = sorted(self.projects, key=lambda x: (x.start_idx or 0, x.order_key))
        done = 0.0
        for pr in order:
            done += sum(t.work() for t in pr.tasks)
            e = pr.start_idx or 0
            last = max((t.finish_est for t in pr.tasks), default=float(e))
            by_work = math.ceil(
                done / total * min(self.tightness, 1.5) * n * rng.uniform(1.1, 1.35)
            )
            by_path = math.ceil(e + 1.25 * (last - e)) + 2
            deadline = min(n - 1, max(by_work, by_path))
            if rng.random() < _PROJECT_DEADLINE:
                pr.deadline = deadline
            for t in pr.tasks:
                if rng.random() < _TASK_EARLIEST:
                    # a delivery or a decision date: a little after the task could first start
                    room = max(0, math.floor(budget - t.tail - t.start_est))
                    t.earliest = min(n - 1, math.ceil(t.start_est) + rng.randint(0, min(5, room)))
                    t.earliest = max(t.earliest, e + 1)
                if rng.random() < _TASK_DEADLINE:
                    begin = max(t.start_est, float(t.earliest or 0))
                    own = math.ceil(begin + 1.5 * t.days_estimate()) + 2
                    t.deadline = max(min(deadline, own), t.earliest or e)
                if rng.random() < _TASK_PRIORITY:
                    t.priority = _pick(rng, _PRIORITY_CW) + 1

    # -- exclude / prefer ------------------------------------------------------------------------
    def make_preferences(self) -> None:
        rng = self.rng
        for pr in self.projects:
            for t in pr.tasks:
                if t.reqs is not None or t.unassignable or t.skill is None:
                    continue
                pool = self.eligible[t.skill][t.min_level or 1]
                if len(pool) >= 3 and rng.random() < _EXCLUDE:
                    t.exclude = [pool[rng.randrange(len(pool))]]
                if pool and rng.random() < _PREFER:
                    want = rng.randint(1, 2)
                    for _ in range(want * 3):
                        if len(t.prefer) == want:
                            break
                        pi = pool[rng.randrange(len(pool))]
                        if pi not in t.exclude and pi not in t.prefer:
                            t.prefer.append(pi)

    # -- pins --------------------------------------------------------------------------------------
    @staticmethod
    def _finish(
        people: Sequence[_P], active: Sequence[bool], start: int, duration: int, alloc: int
    ) -> int | None:
        """Last day of a task starting on ``start``, None when it does not fit (see module doc).

        ``active``: the days every one of ``people`` is available (``common_availability``).
        """
        finish = finish_from(active, start, duration)
        if finish is None:
            return None
        for i in range(start, finish + 1):
            if active[i] and any(p.percent[i] < alloc for p in people):
                return None  # reduced capacity below the allocation on an active day
        return finish

    def _try_start(self, t: _T, pr: _Pr, people: list[_P]) -> int | None:
        rng = self.rng
        n = self.n
        budget = _CHAIN_BUDGET * n
        after = t.tail - t.days_estimate()  # the successors' chain, which must still fit
        lo = max(pr.start_idx or 0, t.earliest or 0)
        hi = min(n - 1 - _PIN_START_MARGIN, math.floor(budget - t.tail))
        if lo > hi:
            return None
        if pr.deadline is not None and pr.deadline - math.ceil(t.days_estimate()) >= lo:
            hi = min(hi, pr.deadline - math.ceil(t.days_estimate()))
        active = (
            people[0].available
            if len(people) == 1
            else common_availability((p.available for p in people), n)
        )
        for _ in range(8):
            s = rng.randint(lo, hi)
            if active[s]:
                f = self._finish(people, active, s, self._duration(t, people[0]), t.alloc)
                if f is None or f + 1 + after > budget:
                    continue
                if any(self._pinned_days(p) + f - s + 1 > n / 3 for p in people):
                    continue
                if any(not (f < a or s > b) for p in people for a, b in p.pins):
                    continue
                for p in people:
                    p.pins.append((s, f))
                return s
        return None

    def make_pins(self) -> None:
        rng = self.rng
        if self.pin_share <= 0:
            return
        for pr in self.projects:
            for t in pr.tasks:
                if t.unassignable or rng.random() >= self.pin_share:
                    continue
                kind = rng.random()  # < 0.4 person, < 0.7 start, else both
                cands = self._pin_candidates(t)
                chosen: int | None = None
                if kind >= 0.4:
                    crews = (
                        [[self.people[w] for w in t.witnesses]]
                        if t.reqs is not None
                        else [[self.people[pi]] for pi in cands[:4]]
                    )
                    for crew in crews:
                        s = self._try_start(t, pr, crew)
                        if s is not None:
                            t.pin_start = s
                            chosen = crew[rng.randrange(len(crew))].idx
                            for q in t.preds:
                                q.succs.remove(t)
                            t.preds = []
                            break
                if kind < 0.4 or kind >= 0.7 or t.pin_start is None:
                    if chosen is None:
                        chosen = next(
                            (pi for pi in cands[:6] if self._fits(self.people[pi], t)), None
                        )
                    t.pin_person = chosen

    def _pin_candidates(self, t: _T) -> list[int]:
        """People who may be pinned to ``t``, in random order, steady ones (no join/leave) first."""
        rng = self.rng
        if t.reqs is not None:
            cands = list(t.witnesses)
        else:
            assert t.skill is not None
            pool = self.eligible[t.skill][t.min_level or 1]
            if len(pool) <= 12:
                cands = [pi for pi in pool if pi not in t.exclude]
            else:
                cands = []
                for _ in range(12):
                    pi = pool[rng.randrange(len(pool))]
                    if pi not in t.exclude and pi not in cands:
                        cands.append(pi)
        rng.shuffle(cands)
        cands.sort(key=lambda pi: self.people[pi].joins or self.people[pi].leaves)
        return cands

    def _duration(self, t: _T, p: _P) -> int:
        """Active days of ``t`` done by ``p`` (contract *Duration*)."""
        if t.reqs is not None:
            return t.duration
        return effort_duration(t.effort, p.hours, t.alloc)

    def _pinned_days(self, p: _P) -> int:
        return sum(b - a + 1 for a, b in p.pins) + p.floating

    def _fits(self, p: _P, t: _T) -> bool:
        """Whether ``p`` can do ``t`` from its estimated start, leaving room for its successors.

        Also caps the days of pinned work per person at a third of the horizon; a fit is booked
        (as floating pinned days).
        """
        n = self.n
        s = max(math.ceil(t.start_est), t.earliest or 0)
        while s < n and not p.available[s]:
            s += 1
        if s >= n:
            return False
        f = self._finish([p], p.available, s, self._duration(t, p), t.alloc)
        if f is None or f + 1 + (t.tail - t.days_estimate()) > _CHAIN_BUDGET * n:
            return False
        if self._pinned_days(p) + f - s + 1 > n / 3:
            return False
        p.floating += f - s + 1
        return True

    # -- build -------------------------------------------------------------------------------------
    def build(self, name: str, hard_deadlines: bool) -> Portfolio:
        days = self.days
        people = tuple(self._person(p) for p in self.people)
        ids = [p.id for p in self.people]
        projects: list[Project] = []
        for pr in self.projects:
            tasks = tuple(self._task(t, pr.id, ids) for t in pr.tasks)
            projects.append(
                Project(
                    id=pr.id,
                    tasks=tasks,
                    name=pr.name,
                    priority=pr.priority,
                    start_after=days[pr.start_idx] if pr.start_idx is not None else None,
                    deadline=days[pr.deadline] if pr.deadline is not None else None,
                )
            )
        return Portfolio(
            name=name,
            calendar=self.calendar,
            people=people,
            projects=tuple(projects),
            policy=Policy(objective=self.objective, hard_deadlines=hard_deadlines),
        )

    def _person(self, p: _P) -> Person:
        days = self.days
        return Person(
            id=p.id,
            skills=frozen_map(p.skills),
            name=p.name,
            hours_per_day=p.hours_per_day,
            cost_per_hour=p.cost,
            workdays=p.workdays,
            available_from=days[p.lo] if p.joins else None,
            available_until=days[p.hi] if p.leaves else None,
            time_off=tuple(DateRange(days[a], days[b]) for a, b in p.time_off),
            reduced_capacity=tuple(
                ReducedCapacity(days[a], days[b], pct) for a, b, pct in p.reduced
            ),
            team=p.team,
        )

    def _task(self, t: _T, project: str, ids: list[str]) -> Task:
        days = self.days
        pin: Pin | None = None
        if t.pin_person is not None or t.pin_start is not None:
            pin = Pin(
                person=ids[t.pin_person] if t.pin_person is not None else None,
                start=days[t.pin_start] if t.pin_start is not None else None,
            )
        if t.reqs is not None:
            return Task(
                id=t.id,
                project=project,
                name=t.name,
                requirements=tuple(Requirement(s, lv, c) for s, lv, c in t.reqs),
                duration_days=t.duration,
                predecessors=tuple(q.id for q in t.preds),
                earliest_start=days[t.earliest] if t.earliest is not None else None,
                deadline=days[t.deadline] if t.deadline is not None else None,
                priority=t.priority,
                pinned=pin,
            )
        return Task(
            id=t.id,
            project=project,
            name=t.name,
            skill=t.skill,
            min_level=t.min_level,
            effort_hours=t.effort,
            allocation=t.allocation,
            predecessors=tuple(q.id for q in t.preds),
            earliest_start=days[t.earliest] if t.earliest is not None else None,
            deadline=days[t.deadline] if t.deadline is not None else None,
            priority=t.priority,
            exclude=tuple(ids[i] for i in t.exclude),
            prefer=tuple(ids[i] for i in t.prefer),
            pinned=pin,
        )
