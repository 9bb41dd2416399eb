"""Validation of a portfolio's meaning, before any solve.

:func:`allocator.contract.read_portfolio` checks the *structure* of a file (types, dates,
finiteness, required and unknown keys); :func:`validate` checks what the values *mean* and
reports every problem at once, each an :class:`~allocator.errors.Issue` whose path points into the
contract file (``projects[1].tasks[0].min_level``, positions are those of the portfolio's tuples)
and whose message names the id concerned (``task crm-etl: min_level must be 1..5, got 7``).

Rules (errors unless marked *warning*), one small function each:

* **duplicate ids** among people, among projects, among tasks (three namespaces); the message
  names the id and both positions.
* **unknown ids**: ``predecessors`` naming no task; ``exclude`` / ``prefer`` / ``pinned.person`` /
  ``progress.people`` naming no person.
* **precedence cycles**, named ``precedence cycle: a -> b -> c -> a`` (``a -> b``: ``a`` is a
  predecessor of ``b``), once per strongly connected component, at the ``predecessors`` of its
  first task in file order; a task listing itself is a cycle. Links to ``done`` / ``cancelled``
  tasks are satisfied, so they never close a cycle.
* **task shape**: exactly one of ``skill`` and ``requirements``; exactly one of ``effort_hours``
  and ``duration_days``; a team (``requirements``) task takes ``duration_days``, never
  ``effort_hours``; a top-level ``min_level`` belongs to a ``skill`` task only.
* **numbers**: ``effort_hours`` > 0; ``duration_days`` >= 1; ``hours_per_day`` in (0, 24];
  ``cost_per_hour`` >= 0; ``reduced_capacity`` ``percent`` in [0, 100]; ``priority`` >= 1 (task
  and project); levels 1..5 (person skills, task and requirement ``min_level``); ``allocation``
  1..100; requirement ``count`` >= 1; project ``budget`` >= 0.
* **estimates**: a task's ``estimate`` needs a nominal value (``effort_hours`` or
  ``duration_days``, exactly one) and ``0 < low <= nominal <= high``, same unit.
* **all-or-nothing** (*warning*): a project with ``all_or_nothing`` whose task to plan needs a
  skill nobody has at the needed level will have none of its tasks planned.
* **date ranges**: the calendar, ``time_off`` and ``reduced_capacity`` ranges and
  ``available_from`` .. ``available_until`` must not end before they start. Dates outside the
  horizon are fine.
* **skill names** of a person are non-empty strings.
* **unknown skills** (*warning*): a task to plan, or one of its requirements, whose skill nobody
  has at the needed level is left unassigned by the solver.
* **pins**: ``pinned`` names a person or a start (or both). For a task to plan: the pinned person
  can fill at least one of its places and is not excluded from it; the pinned start is a working
  day of the calendar (not checked when the calendar itself ends before it starts), not before
  the task's own earliest start (calendar start, ``start_after``, ``earliest_start``: a real
  conflict). A pinned start that only ``as_of`` has passed is history, not an error
  (:mod:`allocator.history`): none on in-progress work (its progress goes on), a *warning* on work
  not started (planned from ``as_of``). Pins of ``done`` / ``cancelled`` tasks are not planned, so
  only their form and person id are checked.
* **progress**: an ``in_progress`` task has ``progress`` and only such a task has it; exactly one
  of ``remaining_hours`` (> 0, and only on a one-person effort task) and ``remaining_days``
  (>= 1); ``progress.people`` distinct, as many as the task's places (so non-empty, except on a
  task that needs nobody); ``as_of`` is given when any task is ``in_progress``.
* **empty window** (*warning*): a task to plan with no working day between its earliest start
  and the calendar's end.

* **size limits** (:mod:`allocator.limits`) run first; a portfolio over a size (people, tasks,
  places, calendar) gets only those errors (the other rules could take unbounded work on it).
* **policy**: ``freeze_days``, ``churn_budget`` and ``stability`` >= 0 (their types, whole
  numbers, are checked on reading; ``objective`` and ``hard_deadlines`` are all meaningful).

Simple range rules ("must be >= 0", "must be in (0, 24]") are those declared in the records'
field table (:func:`allocator.domain.contract_fields`).

Structural issues passed in are kept. Where a structural error was reported at a path, semantic
issues at that path or below it are dropped: they would only repeat it through a placeholder.

The module is plain Python: no solver, dataframe or web imports.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import Literal

from allocator.domain import Person, Portfolio, Task, contract_fields
from allocator.errors import Issue
from allocator.history import own_earliest_start, passed_pin
from allocator.limits import portfolio_limits
from allocator.timeline import Timeline

logger = logging.getLogger(__name__)

MIN_LEVEL, MAX_LEVEL = 1, 5


@dataclass(frozen=True)
class ValidationReport:
    """Every problem found: ``errors`` reject the portfolio, ``warnings`` do not."""

    errors: tuple[Issue, ...]
    warnings: tuple[Issue, ...]

    @property
    def ok(self) -> bool:
        return not self.errors


# ---------------------------------------------------------------------------------------------
# Shared context
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _TaskAt:
    """A task with its JSON path (``projects[j].tasks[k]``)."""

    path: str
    task: Task


@dataclass
class _Context:
    """What the rules share: the portfolio, its tasks with paths, id sets and the timeline."""

    portfolio: Portfolio
    issues: list[Issue] = field(default_factory=list)

    def error(self, path: str, message: str) -> None:
        self.issues.append(Issue(path, message))

    def warn(self, path: str, message: str) -> None:
        self.issues.append(Issue(path, message, "warning"))

    @cached_property
    def tasks(self) -> tuple[_TaskAt, ...]:
        return tuple(
            _TaskAt(f"projects[{j}].tasks[{k}]", task)
            for j, project in enumerate(self.portfolio.projects)
            for k, task in enumerate(project.tasks)
        )

    @cached_property
    def person_ids(self) -> frozenset[str]:
        return frozenset(p.id for p in self.portfolio.people)

    @cached_property
    def task_ids(self) -> frozenset[str]:
        return frozenset(t.task.id for t in self.tasks)

    @cached_property
    def timeline(self) -> Timeline:
        return Timeline.of(self.portfolio)

    @property
    def calendar_ok(self) -> bool:
        return self.portfolio.calendar.start <= self.portfolio.calendar.end


Rule = Callable[[_Context], None]


def _who(task: Task) -> str:
    return f"task {task.id}"


def _is_skill_task(task: Task) -> bool:
    return task.skill is not None and task.requirements is None


def _has_shape(task: Task) -> bool:
    """The task has exactly one of ``skill`` and ``requirements`` (its places are meaningful)."""
    return (task.skill is None) != (task.requirements is None)


def _describe_places(task: Task) -> str:
    needs = dict.fromkeys(f"{pl.skill} at level {pl.min_level} or above" for pl in task.places)
    return ", ".join(needs) if needs else "nobody"


# ---------------------------------------------------------------------------------------------
# Rules
# ---------------------------------------------------------------------------------------------
def _duplicates(ctx: _Context, what: str, items: Iterable[tuple[str, str]]) -> None:
    """``items``: (id, path of the item); reports each repeat against the first occurrence."""
    first: dict[str, str] = {}
    for ident, path in items:
        if ident in first:
            ctx.error(
                f"{path}.id",
                f"duplicate {what} id {ident!r}: {first[ident]} and {path}",
            )
        else:
            first[ident] = path


def _check_duplicate_ids(ctx: _Context) -> None:
    p = ctx.portfolio
    _duplicates(ctx, "person", ((x.id, f"people[{i}]") for i, x in enumerate(p.people)))
    _duplicates(ctx, "project", ((x.id, f"projects[{j}]") for j, x in enumerate(p.projects)))
    _duplicates(ctx, "task", ((t.task.id, t.path) for t in ctx.tasks))


def _check_unknown_ids(ctx: _Context) -> None:
    people, tasks = ctx.person_ids, ctx.task_ids
    for at in ctx.tasks:
        t, who = at.task, _who(at.task)
        for n, pid in enumerate(t.predecessors):
            if pid not in tasks:
                ctx.error(f"{at.path}.predecessors[{n}]", f"{who}: unknown predecessor {pid!r}")
        for key, ids in (("exclude", t.exclude), ("prefer", t.prefer)):
            for n, person in enumerate(ids):
                if person not in people:
                    ctx.error(
                        f"{at.path}.{key}[{n}]", f"{who}: {key} names unknown person {person!r}"
                    )
        if t.pinned is not None and t.pinned.person is not None and t.pinned.person not in people:
            ctx.error(
                f"{at.path}.pinned.person",
                f"{who}: pinned to unknown person {t.pinned.person!r}",
            )
        if t.progress is not None:
            for n, person in enumerate(t.progress.people):
                if person not in people:
                    ctx.error(
                        f"{at.path}.progress.people[{n}]",
                        f"{who}: progress names unknown person {person!r}",
                    )


def _strongly_connected(succ: Sequence[Sequence[int]]) -> list[list[int]]:
    """Tarjan's strongly connected components, iteratively (no recursion limit)."""
    n = len(succ)
    index = [-1] * n
    low = [0] * n
    on_stack = [False] * n
    stack: list[int] = []
    components: list[list[int]] = []
    counter = 0
    for root in range(n):
        if index[root] != -1:
            continue
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack[root] = True
        work: list[tuple[int, int]] = [(root, 0)]
        while work:
            v, i = work[-1]
            if i < len(succ[v]):
                work[-1] = (v, i + 1)
                w = succ[v][i]
                if index[w] == -1:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack[w] = True
                    work.append((w, 0))
                elif on_stack[w]:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
            if low[v] == index[v]:
                component: list[int] = []
                while True:
                    w = stack.pop()
                    on_stack[w] = False
                    component.append(w)
                    if w == v:
                        break
                components.append(component)
    return components


def _cycle_through(start: int, succ: Sequence[Sequence[int]], members: set[int]) -> list[int]:
    """A shortest cycle ``start -> ... -> start`` inside a component (self-loops ignored)."""
    parent: dict[int, int] = {}
    queue: deque[int] = deque()
    for w in succ[start]:
        if w in members and w != start and w not in parent:
            parent[w] = start
            queue.append(w)
    while queue:
        v = queue.popleft()
        for w in succ[v]:
            if w == start:
                path = [v]
                while path[-1] != start:
                    path.append(parent[path[-1]])
                path.reverse()
                return [*path, start]
            if w in members and w not in parent:
                parent[w] = v
                queue.append(w)
    return [start, start]  # not reached: a component of two or more nodes is a cycle


def _check_cycles(ctx: _Context) -> None:
    tasks = ctx.tasks
    position: dict[str, int] = {}
    for i, at in enumerate(tasks):
        position.setdefault(at.task.id, i)
    succ: list[list[int]] = [[] for _ in tasks]
    self_loops: set[int] = set()
    for i, at in enumerate(tasks):
        for pid in dict.fromkeys(at.task.predecessors):
            j = position.get(pid)
            if j is None or not tasks[j].task.to_plan:
                continue  # unknown (reported elsewhere) or satisfied (done / cancelled)
            if j == i:
                self_loops.add(i)
            else:
                succ[j].append(i)
    found: list[list[int]] = [[i, i] for i in self_loops]
    for component in _strongly_connected(succ):
        if len(component) > 1:
            found.append(_cycle_through(min(component), succ, set(component)))
    for cycle in sorted(found):
        names = " -> ".join(tasks[i].task.id for i in cycle)
        ctx.error(f"{tasks[cycle[0]].path}.predecessors", f"precedence cycle: {names}")


def _check_task_shape(ctx: _Context) -> None:
    for at in ctx.tasks:
        t, who, path = at.task, _who(at.task), at.path
        if t.skill is not None and t.requirements is not None:
            ctx.error(path, f"{who}: give exactly one of skill and requirements, not both")
        elif t.skill is None and t.requirements is None:
            ctx.error(path, f"{who}: give exactly one of skill and requirements, got neither")
        if t.requirements is not None:
            if t.effort_hours is not None:
                ctx.error(
                    f"{path}.effort_hours",
                    f"{who}: effort_hours is for a skill task; a team (requirements) task "
                    "takes duration_days",
                )
            if t.duration_days is None:
                ctx.error(
                    f"{path}.duration_days",
                    f"{who}: a team (requirements) task needs duration_days",
                )
            if t.min_level is not None:
                ctx.error(
                    f"{path}.min_level",
                    f"{who}: min_level belongs to a skill task; give it per requirement",
                )
        elif t.effort_hours is not None and t.duration_days is not None:
            ctx.error(path, f"{who}: give exactly one of effort_hours and duration_days, not both")
        elif t.effort_hours is None and t.duration_days is None:
            ctx.error(
                path, f"{who}: give exactly one of effort_hours and duration_days, got neither"
            )


def _bad(ctx: _Context, path: str, who: str, name: str, rule: str, value: object) -> None:
    ctx.error(path, f"{who}: {name} {rule}, got {value}")


def _check_level(ctx: _Context, path: str, who: str, name: str, value: int | None) -> None:
    if value is not None and not MIN_LEVEL <= value <= MAX_LEVEL:
        _bad(ctx, path, who, name, f"must be {MIN_LEVEL}..{MAX_LEVEL}", value)


def _check_ranges(ctx: _Context, record: object, path: str, who: str, name: str = "") -> None:
    """The range rules declared in the record's field table (``must be >= 0`` ...), in its
    order: ``{who}: {name}{key} {rule}, got {value}`` at ``{path}.{key}``. Nested records
    (reduced capacity, requirements, estimates, progress) go through here too, with ``name``
    saying which one (``"requirement 0 "``): the table is the one place a range is written."""
    for key, spec in contract_fields(type(record)):
        rule, value = spec.rule, getattr(record, key)
        if rule is None or isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if not spec.admits(value):
            _bad(ctx, f"{path}.{key}", who, f"{name}{key}", rule, value)


def _check_person_numbers(ctx: _Context) -> None:
    for i, person in enumerate(ctx.portfolio.people):
        path, who = f"people[{i}]", f"person {person.id}"
        for skill, level in person.skills.items():
            _check_level(ctx, f"{path}.skills.{skill}", who, f"level of skill {skill!r}", level)
        _check_ranges(ctx, person, path, who)
        for n, rc in enumerate(person.reduced_capacity):
            _check_ranges(ctx, rc, f"{path}.reduced_capacity[{n}]", who, "reduced_capacity ")


def _check_project_numbers(ctx: _Context) -> None:
    for j, project in enumerate(ctx.portfolio.projects):
        _check_ranges(ctx, project, f"projects[{j}]", f"project {project.id}")


def _check_policy(ctx: _Context) -> None:
    _check_ranges(ctx, ctx.portfolio.policy, "policy", "policy")


def _check_estimates(ctx: _Context) -> None:
    """``estimate``: ``0 < low <= nominal <= high``, nominal the task's ``effort_hours`` or
    ``duration_days`` (exactly one of them; the shape rule reports both or neither)."""
    for at in ctx.tasks:
        t, who, est = at.task, _who(at.task), at.task.estimate
        if est is None:
            continue
        path = f"{at.path}.estimate"
        _check_ranges(ctx, est, path, who, "estimate ")
        if t.effort_hours is None and t.duration_days is None:
            ctx.error(
                path,
                f"{who}: estimate is the range of effort_hours or duration_days; "
                "the task has neither",
            )
        if (t.effort_hours is None) == (t.duration_days is None):
            # no nominal value (neither, or both: the shape rule reports it)
            if est.low > est.high:
                ctx.error(
                    f"{path}.high",
                    f"{who}: estimate high must be >= low, got low {est.low}, high {est.high}",
                )
            continue
        nominal = t.nominal
        unit = "effort_hours" if t.effort_hours is not None else "duration_days"
        if nominal is None:
            continue  # not reached: exactly one of the two is given
        if est.low > nominal:
            ctx.error(
                f"{path}.low",
                f"{who}: estimate low must be <= the nominal {unit} {nominal}, got {est.low}",
            )
        if est.high < nominal:
            ctx.error(
                f"{path}.high",
                f"{who}: estimate high must be >= the nominal {unit} {nominal}, got {est.high}",
            )


def _check_task_numbers(ctx: _Context) -> None:
    for at in ctx.tasks:
        t, who, path = at.task, _who(at.task), at.path
        _check_ranges(ctx, t, path, who)
        for r, req in enumerate(t.requirements or ()):
            rpath = f"{path}.requirements[{r}]"
            _check_ranges(ctx, req, rpath, who, f"requirement {r} ")


def _range_error(ctx: _Context, path: str, who: str, what: str, start: date, end: date) -> None:
    if end < start:
        ctx.error(path, f"{who}: {what} ends on {end} before it starts on {start}")


def _check_date_ranges(ctx: _Context) -> None:
    cal = ctx.portfolio.calendar
    _range_error(
        ctx,
        "calendar.end",
        f"calendar of {ctx.portfolio.name!r}",
        "the horizon",
        cal.start,
        cal.end,
    )
    for i, person in enumerate(ctx.portfolio.people):
        path, who = f"people[{i}]", f"person {person.id}"
        for n, off in enumerate(person.time_off):
            _range_error(ctx, f"{path}.time_off[{n}].end", who, f"time_off {n}", off.start, off.end)
        for n, rc in enumerate(person.reduced_capacity):
            _range_error(
                ctx,
                f"{path}.reduced_capacity[{n}].end",
                who,
                f"reduced_capacity {n}",
                rc.start,
                rc.end,
            )
        if person.available_from is not None and person.available_until is not None:
            _range_error(
                ctx,
                f"{path}.available_until",
                who,
                "availability (available_from .. available_until)",
                person.available_from,
                person.available_until,
            )


def _check_skill_names(ctx: _Context) -> None:
    for i, person in enumerate(ctx.portfolio.people):
        for skill in person.skills:
            if not isinstance(skill, str) or not skill.strip():
                ctx.error(
                    f"people[{i}].skills",
                    f"person {person.id}: skill names must be non-empty strings, got {skill!r}",
                )


def _best_level(people: Sequence[Person], skill: str) -> int:
    return max((p.level(skill) for p in people), default=0)


def _check_unknown_skills(ctx: _Context) -> None:
    people = ctx.portfolio.people
    for at in ctx.tasks:
        t, who = at.task, _who(at.task)
        if not t.to_plan:
            continue
        needs: list[tuple[str, str, int]] = []
        if t.skill is not None:
            needs.append((f"{at.path}.skill", t.skill, 1 if t.min_level is None else t.min_level))
        for r, req in enumerate(t.requirements or ()):
            needs.append((f"{at.path}.requirements[{r}].skill", req.skill, req.level))
        for path, skill, level in needs:
            if _best_level(people, skill) < level:
                ctx.warn(
                    path,
                    f"{who}: nobody has skill {skill!r} at level {level} or above; "
                    "it will be unassigned",
                )


def _check_all_or_nothing(ctx: _Context) -> None:
    people = ctx.portfolio.people
    for j, project in enumerate(ctx.portfolio.projects):
        if not project.whole:
            continue
        for task in project.tasks:
            if not task.to_plan or not _has_shape(task):
                continue
            missing = [pl for pl in task.places if _best_level(people, pl.skill) < pl.min_level]
            if missing:
                ctx.warn(
                    f"projects[{j}].all_or_nothing",
                    f"project {project.id}: all-or-nothing, and nobody has skill "
                    f"{missing[0].skill!r} at level {missing[0].min_level} or above for its "
                    f"task {task.id}: none of its tasks will be planned",
                )
                break


def _check_pins(ctx: _Context) -> None:
    p = ctx.portfolio
    for at in ctx.tasks:
        t, who, pin = at.task, _who(at.task), at.task.pinned
        if pin is None:
            continue
        if pin.person is None and pin.start is None:
            ctx.error(f"{at.path}.pinned", f"{who}: pinned needs a person, a start or both")
            continue
        if not t.to_plan:
            continue  # done / cancelled: not planned, the pin is history
        person = p.person_by_id.get(pin.person) if pin.person is not None else None
        if person is not None:
            if _has_shape(t) and not any(person.level(pl.skill) >= pl.min_level for pl in t.places):
                ctx.error(
                    f"{at.path}.pinned.person",
                    f"{who}: pinned person {person.id} cannot fill any of its places "
                    f"(needs {_describe_places(t)})",
                )
            if person.id in t.exclude:
                ctx.error(
                    f"{at.path}.pinned.person",
                    f"{who}: pinned person {person.id} is also excluded from it",
                )
        if pin.start is not None:
            if ctx.calendar_ok and ctx.timeline.idx(pin.start) is None:
                ctx.error(
                    f"{at.path}.pinned.start",
                    f"{who}: pinned start {pin.start} is not a working day of the calendar",
                )
            earliest = own_earliest_start(p, t)
            if pin.start < earliest:
                ctx.error(
                    f"{at.path}.pinned.start",
                    f"{who}: pinned start {pin.start} is before its earliest start {earliest}",
                )
            elif passed_pin(p, t) and t.state != "in_progress":
                ctx.warn(
                    f"{at.path}.pinned.start",
                    f"{who}: pinned start {pin.start} has passed (as_of {p.as_of}): it is "
                    "history, the task is planned from as_of (its pinned person kept if able)",
                )


def _check_progress(ctx: _Context) -> None:
    for at in ctx.tasks:
        t, who, prog, path = at.task, _who(at.task), at.task.progress, f"{at.path}.progress"
        if t.state == "in_progress" and prog is None:
            ctx.error(
                path, f"{who}: status in_progress requires progress (people and what is left)"
            )
        if prog is None:
            continue
        if t.state != "in_progress":
            ctx.error(path, f"{who}: progress is only for an in_progress task, status is {t.state}")
        hours, days = prog.remaining_hours, prog.remaining_days
        if hours is not None and days is not None:
            ctx.error(
                path, f"{who}: progress takes one of remaining_hours and remaining_days, not both"
            )
        elif hours is None and days is None:
            ctx.error(path, f"{who}: progress needs remaining_hours or remaining_days")
        _check_ranges(ctx, prog, path, who)
        if hours is not None and not (_is_skill_task(t) and t.effort_hours is not None):
            ctx.error(
                f"{path}.remaining_hours",
                f"{who}: remaining_hours is only for a one-person effort task "
                "(skill and effort_hours); use remaining_days",
            )
        _check_progress_people(ctx, t, prog.people, path)


def _check_progress_people(ctx: _Context, t: Task, people: tuple[str, ...], path: str) -> None:
    who = _who(t)
    seen: set[str] = set()
    for n, person in enumerate(people):
        if person in seen:
            ctx.error(f"{path}.people[{n}]", f"{who}: progress lists person {person} twice")
        seen.add(person)
    if not _has_shape(t):
        return  # the number of places is unknown (reported by the shape rule)
    places = len(t.places)
    if not people and places:
        ctx.error(f"{path}.people", f"{who}: progress.people must name who is doing it")
    elif len(people) != places:
        ctx.error(
            f"{path}.people",
            f"{who}: progress.people names {len(people)} "
            f"{'person' if len(people) == 1 else 'people'}, the task has {places} "
            f"place{'s' if places != 1 else ''}",
        )


def _check_as_of(ctx: _Context) -> None:
    if ctx.portfolio.as_of is not None:
        return
    started = [at.task.id for at in ctx.tasks if at.task.state == "in_progress"]
    if started:
        shown = ", ".join(started[:5]) + (", ..." if len(started) > 5 else "")
        ctx.error("as_of", f"as_of is required when a task is in_progress (task {shown})")


def _check_empty_windows(ctx: _Context) -> None:
    if not ctx.calendar_ok:
        return  # the calendar itself is reported; every window would be empty
    p, tl = ctx.portfolio, ctx.timeline
    for at in ctx.tasks:
        if not at.task.to_plan:
            continue
        earliest = p.task_earliest_start(at.task)
        if tl.first_on_or_after(earliest) >= len(tl):
            ctx.warn(
                at.path,
                f"task {at.task.id}: no working day from its earliest start {earliest} to the "
                f"calendar end {p.calendar.end}; it will be unassigned",
            )


#: Every rule, in the order their issues are listed.
RULES: tuple[Rule, ...] = (
    _check_duplicate_ids,
    _check_unknown_ids,
    _check_cycles,
    _check_task_shape,
    _check_person_numbers,
    _check_project_numbers,
    _check_task_numbers,
    _check_estimates,
    _check_date_ranges,
    _check_skill_names,
    _check_pins,
    _check_progress,
    _check_as_of,
    _check_unknown_skills,
    _check_all_or_nothing,
    _check_empty_windows,
    _check_policy,
)


def _under(path: str, blocked: Iterable[str]) -> bool:
    return any(path == b or path.startswith((f"{b}.", f"{b}[")) for b in blocked if b)


def validate(portfolio: Portfolio, structural: Sequence[Issue] = ()) -> ValidationReport:
    """Check the meaning of ``portfolio`` against every rule (see the module docstring).

    The report holds the ``structural`` issues (from :func:`allocator.contract.read_portfolio`)
    followed by every rule's issues, errors and warnings apart.
    """
    ctx = _Context(portfolio)
    # size limits first; over them, the other rules could take unbounded work (allocator.limits)
    over = portfolio_limits(portfolio)
    ctx.issues.extend(over.issues)
    for rule in () if over.blocking else RULES:
        rule(ctx)
    blocked = {i.path for i in structural if i.severity == "error"}
    issues = [*structural, *(i for i in ctx.issues if not _under(i.path, blocked))]
    report = ValidationReport(_of(issues, "error"), _of(issues, "warning"))
    logger.debug(
        "validated portfolio %r: %d errors, %d warnings",
        portfolio.name,
        len(report.errors),
        len(report.warnings),
    )
    return report


def _of(issues: Iterable[Issue], severity: Literal["error", "warning"]) -> tuple[Issue, ...]:
    return tuple(i for i in issues if i.severity == severity)
