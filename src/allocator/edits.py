"""Edits to a portfolio, keyed by ids: the one edit format of scenarios and recommendations,
a superset of the nightly progress file's per-portfolio update (:mod:`allocator_api.nightly`).

An *edit* is one JSON object; a list of them is applied in order (:func:`apply_edits`). Keys
(every one optional; field values are contract values, ``null`` removes a key so its default
applies)::

    {"as_of": "2027-01-11",
     # -- the nightly update's keys, same meaning ------------------------------------------
     "tasks":  {"T3": {"deadline": "2027-03-01", "priority": 3, "status": "done"}},
     "new_tasks": [{"project": "P1", "task": {...contract task...}}],
     "people": {"ann": {"available_until": "2027-02-01", "skills": {...whole map...}}},
     "new_people": [{...contract person...}],        # a hire; "placeholder": true for a role
     "remove_people": ["eve"],
     # -- added here (the nightly format cannot say these) ----------------------------------
     "projects": {"P1": {"deadline": "2027-04-01", "priority": 2, "start_after": null}},
     "new_projects": [{...contract project, with its tasks...}],
     "cancel_projects": ["P4"],                      # its tasks to plan become cancelled
     "cancel_tasks": ["T9"],                         # status cancelled (progress dropped)
     "skills": {"ben": {"sql": 3, "excel": null}}}   # levels merged into ben's map

The kinds of change: hire (``new_people``) or remove a person; change skills or levels
(``skills``, or a person's whole ``skills`` map); move a deadline or a start (``tasks`` /
``projects``: ``deadline``, ``earliest_start``, ``start_after``); change a priority; add or
cancel a project or a task; change availability (``people``: ``available_from``,
``available_until``, ``time_off``, ``reduced_capacity``, ``hours_per_day``, ``workdays``).

Each change is *typed*: the changed fields are read by the contract reader
(:func:`allocator.contract.read_portfolio`, the one converter of contract values) and put on the
domain record with :func:`dataclasses.replace`. Errors are :class:`EditError` (an
:class:`~allocator.errors.InputError`) whose issues name the edit and the field
(``edits[2].tasks.T3.deadline: ...``). After each edit the portfolio is validated; an error
that edit brought (a removed person still pinned, a deadline before the calendar) is reported
as ``edits[2] (after it): projects[0].tasks[1].pinned.person: ...``.

**For nightly** (not changed here, another module's): :func:`apply_edit` accepts every update
of the progress file unchanged and gives the same portfolio as
``allocator_api.nightly.apply_updates`` on its JSON; the nightly job can adopt it by reading
each portfolio, calling ``apply_edits(portfolio, updates)`` in place of ``apply_all`` on the
body, and gaining the keys above and the edit-indexed errors.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import date
from typing import Any

from allocator.contract import read_portfolio, record_to_dict
from allocator.domain import (
    PORTFOLIO_FORMAT,
    Person,
    Portfolio,
    Project,
    Task,
    contract_fields,
)
from allocator.errors import InputError, Issue
from allocator.validation import validate

__all__ = ["EDIT_KEYS", "EditError", "apply_edit", "apply_edits", "person_dict"]

log = logging.getLogger(__name__)

#: every key an edit may have (the nightly update's first)
EDIT_KEYS = (
    "as_of",
    "tasks",
    "new_tasks",
    "people",
    "new_people",
    "remove_people",
    "projects",
    "new_projects",
    "cancel_projects",
    "cancel_tasks",
    "skills",
)


class EditError(InputError):
    """Edits that cannot be applied; each issue's path names the edit and the field."""

    def __init__(self, issues: Sequence[Issue]) -> None:
        super().__init__(issues, "edits")


def person_dict(person: Person) -> dict[str, Any]:
    """A person's contract JSON (with ``skills``)."""
    out = record_to_dict(person)
    out["skills"] = dict(person.skills)
    return out


def _task_dict(task: Task) -> dict[str, Any]:
    return record_to_dict(task)


class _Edit:
    """One edit being applied: collects its issues with the edit's path prefix."""

    def __init__(self, portfolio: Portfolio, index: int) -> None:
        self.p = portfolio
        self.at = f"edits[{index}]"
        self.issues: list[Issue] = []

    def error(self, path: str, message: str) -> None:
        self.issues.append(Issue(f"{self.at}.{path}" if path else self.at, message))

    # -- reading records through the contract reader -------------------------------------------
    def read(
        self,
        people: list[Any],
        projects: list[Any],
        where: str,
        prefix: str,
    ) -> Portfolio | None:
        """A one-record portfolio read by the contract reader; its issues under ``where``
        (the reader's ``prefix`` path replaced). None when it has errors."""
        body = {
            "format": PORTFOLIO_FORMAT,
            "name": self.p.name,
            "calendar": record_to_dict(self.p.calendar),
            "people": people,
            "projects": projects,
        }
        got, issues = read_portfolio(body)
        bad = False
        for i in issues:
            if i.severity != "error":
                continue
            bad = True
            path = i.path
            rest = path[len(prefix) :] if path.startswith(prefix) else f".{path}"
            self.error(f"{where}{rest}", i.message)
        return None if bad else got

    def changed(
        self, record: Any, changes: Any, where: str, cls: type, frozen_keys: tuple[str, ...]
    ) -> dict[str, Any] | None:
        """The merged JSON of ``record`` with ``changes`` (None removes a key), or None."""
        if not isinstance(changes, Mapping):
            self.error(where, f"expected an object of field changes, got {changes!r}")
            return None
        keys = {k for k, _ in contract_fields(cls)}
        out = person_dict(record) if cls is Person else record_to_dict(record)
        ok = True
        for k, v in changes.items():
            if k not in keys:
                self.error(f"{where}.{k}", f"unknown field {k!r}")
                ok = False
            elif k in frozen_keys:
                self.error(f"{where}.{k}", f"{k!r} cannot be changed by an edit")
                ok = False
            elif v is None:
                out.pop(k, None)
            else:
                out[k] = copy.deepcopy(v)
        return out if ok else None


def _typed(record: Any, parsed: Any, keys: Sequence[str]) -> Any:
    """``record`` with the fields ``keys`` taken from ``parsed`` (the contract reader's)."""
    return replace(record, **{k: getattr(parsed, k) for k in keys})


def _ids(e: _Edit, value: Any, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        e.error(key, f"expected a list of ids, got {value!r}")
        return []
    return list(value)


def _mapping(e: _Edit, value: Any, key: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        e.error(key, f"expected an object keyed by id, got {value!r}")
        return {}
    return value


def _set_as_of(e: _Edit, value: Any) -> None:
    if not isinstance(value, str):
        e.error("as_of", f"expected a date YYYY-MM-DD, got {value!r}")
        return
    try:
        e.p = replace(e.p, as_of=date.fromisoformat(value))
    except ValueError:
        e.error("as_of", f"expected a date YYYY-MM-DD, got {value!r}")


def _replace_task(p: Portfolio, task: Task) -> Portfolio:
    projects = tuple(
        replace(pr, tasks=tuple(task if t.id == task.id else t for t in pr.tasks))
        if pr.id == task.project
        else pr
        for pr in p.projects
    )
    return replace(p, projects=projects)


def _edit_tasks(e: _Edit, value: Any) -> None:
    for tid, changes in _mapping(e, value, "tasks").items():
        where = f"tasks.{tid}"
        task = e.p.task_by_id.get(tid)
        if task is None:
            e.error(where, f"unknown task {tid!r}")
            continue
        merged = e.changed(task, changes, where, Task, ("id",))
        if merged is None:
            continue
        got = e.read([], [{"id": task.project, "tasks": [merged]}], where, "projects[0].tasks[0]")
        if got is not None:
            e.p = _replace_task(e.p, _typed(task, got.projects[0].tasks[0], list(changes)))


def _cancel_tasks(e: _Edit, value: Any) -> None:
    for n, tid in enumerate(_ids(e, value, "cancel_tasks")):
        task = e.p.task_by_id.get(tid)
        if task is None:
            e.error(f"cancel_tasks[{n}]", f"unknown task {tid!r}")
            continue
        e.p = _replace_task(e.p, replace(task, status="cancelled", progress=None))


def _new_tasks(e: _Edit, value: Any) -> None:
    if not isinstance(value, list):
        e.error("new_tasks", f"expected a list, got {value!r}")
        return
    for n, item in enumerate(value):
        where = f"new_tasks[{n}]"
        pid = item.get("project") if isinstance(item, Mapping) else None
        project = e.p.project_by_id.get(pid) if isinstance(pid, str) else None
        if project is None:
            e.error(f"{where}.project", f"new task in unknown project {pid!r}")
            continue
        got = e.read(
            [], [{"id": pid, "tasks": [item.get("task")]}], f"{where}.task", "projects[0].tasks[0]"
        )
        if got is None:
            continue
        task = got.projects[0].tasks[0]
        if task.id in e.p.task_by_id:
            e.error(f"{where}.task.id", f"task {task.id!r} exists already")
            continue
        e.p = replace(
            e.p,
            projects=tuple(
                replace(pr, tasks=(*pr.tasks, task)) if pr.id == pid else pr for pr in e.p.projects
            ),
        )


def _edit_people(e: _Edit, value: Any) -> None:
    for pid, changes in _mapping(e, value, "people").items():
        where = f"people.{pid}"
        person = e.p.person_by_id.get(pid)
        if person is None:
            e.error(where, f"unknown person {pid!r}")
            continue
        merged = e.changed(person, changes, where, Person, ("id",))
        if merged is None:
            continue
        got = e.read([merged], [], where, "people[0]")
        if got is not None:
            _put_person(e, _typed(person, got.people[0], list(changes)))


def _put_person(e: _Edit, person: Person) -> None:
    e.p = replace(e.p, people=tuple(person if x.id == person.id else x for x in e.p.people))


def _edit_skills(e: _Edit, value: Any) -> None:
    for pid, levels in _mapping(e, value, "skills").items():
        where = f"skills.{pid}"
        person = e.p.person_by_id.get(pid)
        if person is None:
            e.error(where, f"unknown person {pid!r}")
            continue
        if not isinstance(levels, Mapping):
            e.error(where, f"expected an object of skill levels, got {levels!r}")
            continue
        skills = dict(person.skills)
        for skill, level in levels.items():
            if level is None:
                skills.pop(skill, None)
            else:
                skills[skill] = level
        got = e.read([{**person_dict(person), "skills": skills}], [], where, "people[0].skills")
        if got is not None:
            _put_person(e, replace(person, skills=got.people[0].skills))


def _new_people(e: _Edit, value: Any) -> None:
    if not isinstance(value, list):
        e.error("new_people", f"expected a list, got {value!r}")
        return
    for n, item in enumerate(value):
        got = e.read([item], [], f"new_people[{n}]", "people[0]")
        if got is None:
            continue
        person = got.people[0]
        if person.id in e.p.person_by_id:
            e.error(f"new_people[{n}].id", f"person {person.id!r} exists already")
            continue
        e.p = replace(e.p, people=(*e.p.people, person))


def _remove_people(e: _Edit, value: Any) -> None:
    gone = set()
    for n, pid in enumerate(_ids(e, value, "remove_people")):
        if pid not in e.p.person_by_id:
            e.error(f"remove_people[{n}]", f"unknown person {pid!r}")
        gone.add(pid)
    e.p = replace(e.p, people=tuple(x for x in e.p.people if x.id not in gone))


def _edit_projects(e: _Edit, value: Any) -> None:
    for pid, changes in _mapping(e, value, "projects").items():
        where = f"projects.{pid}"
        project = e.p.project_by_id.get(pid)
        if project is None:
            e.error(where, f"unknown project {pid!r}")
            continue
        merged = e.changed(project, changes, where, Project, ("id", "tasks"))
        if merged is None:
            continue
        got = e.read([], [{**merged, "tasks": []}], where, "projects[0]")
        if got is not None:
            new = _typed(project, got.projects[0], list(changes))
            e.p = replace(e.p, projects=tuple(new if x.id == pid else x for x in e.p.projects))


def _new_projects(e: _Edit, value: Any) -> None:
    if not isinstance(value, list):
        e.error("new_projects", f"expected a list, got {value!r}")
        return
    for n, item in enumerate(value):
        got = e.read([], [item], f"new_projects[{n}]", "projects[0]")
        if got is None:
            continue
        project = got.projects[0]
        if project.id in e.p.project_by_id:
            e.error(f"new_projects[{n}].id", f"project {project.id!r} exists already")
            continue
        e.p = replace(e.p, projects=(*e.p.projects, project))


def _cancel_projects(e: _Edit, value: Any) -> None:
    for n, pid in enumerate(_ids(e, value, "cancel_projects")):
        project = e.p.project_by_id.get(pid)
        if project is None:
            e.error(f"cancel_projects[{n}]", f"unknown project {pid!r}")
            continue
        tasks = tuple(
            replace(t, status="cancelled", progress=None) if t.to_plan else t for t in project.tasks
        )
        e.p = replace(
            e.p, projects=tuple(replace(x, tasks=tasks) if x.id == pid else x for x in e.p.projects)
        )


#: how each key is applied, in this order (the nightly update's order first)
_STEPS: tuple[tuple[str, Callable[[_Edit, Any], None]], ...] = (
    ("as_of", _set_as_of),
    ("tasks", _edit_tasks),
    ("new_tasks", _new_tasks),
    ("people", _edit_people),
    ("new_people", _new_people),
    ("remove_people", _remove_people),
    ("projects", _edit_projects),
    ("new_projects", _new_projects),
    ("cancel_projects", _cancel_projects),
    ("cancel_tasks", _cancel_tasks),
    ("skills", _edit_skills),
)


def apply_edit(portfolio: Portfolio, edit: Mapping[str, Any], index: int = 0) -> Portfolio:
    """``portfolio`` with one edit applied (see the module docstring); not validated as a
    whole (:func:`apply_edits` does). Raises :class:`EditError`."""
    e = _Edit(portfolio, index)
    if not isinstance(edit, Mapping):
        e.error("", f"an edit is an object, got {type(edit).__name__}")
        raise EditError(e.issues)
    for k in edit:
        if k not in EDIT_KEYS:
            e.error(k, f"unknown edit key {k!r} (one of {', '.join(EDIT_KEYS)})")
    for key, step in _STEPS:
        if key in edit:
            step(e, edit[key])
    if e.issues:
        raise EditError(e.issues)
    return e.p


def apply_edits(portfolio: Portfolio, edits: Sequence[Mapping[str, Any]]) -> Portfolio:
    """``portfolio`` with ``edits`` applied in order, validated after each: the errors an edit
    brings are reported against it. Raises :class:`EditError` with every issue found."""
    if not isinstance(edits, Sequence) or isinstance(edits, str | bytes):
        raise EditError([Issue("edits", "expected a list of edits")])
    issues: list[Issue] = []
    before = {str(i) for i in validate(portfolio).errors}
    p = portfolio
    for n, edit in enumerate(edits):
        try:
            p = apply_edit(p, edit, n)
        except EditError as exc:
            issues.extend(exc.issues)
            continue
        errors = validate(p).errors
        issues += [
            Issue(f"edits[{n}] (after it): {i.path}", i.message)
            for i in errors
            if str(i) not in before
        ]
        before = {str(i) for i in errors}
    if issues:
        raise EditError(issues)
    return p
