"""History: what the passage of time (``as_of``) made of a portfolio's commitments.

A portfolio planned once and brought up to date later (the nightly job, ``rebalance``) carries
commitments that were right when made and that time has since passed: a pinned start before
``as_of``. That is history, not an input error, and it must not leave the portfolio stuck:

* an **in-progress** task whose pinned start is before ``as_of``: the pin is how the work began;
  from ``as_of`` its progress says who goes on with it and what is left, so the pinned start is
  dropped (its people are kept by the progress, as for any in-progress task; a pinned person
  not among them goes too). No change is reported for it: its dates follow the progress.
* a **task not started** (to do) whose pinned start is before ``as_of``: the date cannot be met
  any more. The start is dropped and the task is planned from ``as_of``; the pinned person is
  kept when they are still in the portfolio and available on or after ``as_of`` (else the pin
  goes too). This is a change with its reason (:func:`settle_history`'s ``changes``, forced).

A pinned start before the task's own earliest start (calendar start, project ``start_after``,
task ``earliest_start``: every bound but ``as_of``) is a real conflict and stays one:
:mod:`allocator.validation` reports it as an error, and :func:`passed_pin` tells the two apart.

Deadlines and earliest starts need nothing here: an earliest start before ``as_of`` already
means ``as_of`` (:meth:`allocator.domain.Portfolio.task_earliest_start`), and a deadline before
``as_of`` is lateness the plan reports (under hard deadlines the task is left unassigned with
its reason), never a rejection.

Pure: domain records in, domain records out (``dataclasses.replace``); no solver.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import date

from allocator.domain import Change, Portfolio, Task

log = logging.getLogger(__name__)

#: how the reason of a passed pinned start begins (a forced change: time moved on)
PASSED_PIN = "its pinned start"


def own_earliest_start(portfolio: Portfolio, task: Task) -> date:
    """The task's earliest start leaving ``as_of`` out: the latest of the calendar's start,
    its project's ``start_after`` and its ``earliest_start``."""
    candidates = [portfolio.calendar.start]
    project = portfolio.project_by_id.get(task.project)
    if project is not None and project.start_after is not None:
        candidates.append(project.start_after)
    if task.earliest_start is not None:
        candidates.append(task.earliest_start)
    return max(candidates)


def passed_pin(portfolio: Portfolio, task: Task) -> bool:
    """The task is to plan and its pinned start is history: before ``as_of`` but not before
    its own earliest start (module docstring)."""
    pin, as_of = task.pinned, portfolio.as_of
    if pin is None or pin.start is None or as_of is None or not task.to_plan:
        return False
    return own_earliest_start(portfolio, task) <= pin.start < as_of


@dataclass(frozen=True)
class Settled:
    """The portfolio to plan, its passed pins made history, and the changes that makes."""

    portfolio: Portfolio
    #: one forced change per task not started whose pinned start passed
    changes: tuple[Change, ...] = ()
    #: in-progress tasks whose passed pinned start was dropped (their progress goes on)
    continued: tuple[str, ...] = ()


def settle_history(portfolio: Portfolio) -> Settled:
    """The portfolio with every passed pinned start made history (module docstring). The
    same portfolio (the same object) when nothing passed."""
    as_of = portfolio.as_of
    if as_of is None:
        return Settled(portfolio)
    changes: list[Change] = []
    continued: list[str] = []
    projects = []
    touched = False
    for project in portfolio.projects:
        tasks = []
        for t in project.tasks:
            if passed_pin(portfolio, t):
                touched = True
                t, change = _settle(portfolio, t, as_of)
                if change is None:
                    continued.append(t.id)
                else:
                    changes.append(change)
            tasks.append(t)
        projects.append(replace(project, tasks=tuple(tasks)))
    if not touched:
        return Settled(portfolio)
    log.info(
        "%s: %d passed pinned starts on work not started, %d on work in progress (as_of %s)",
        portfolio.name,
        len(changes),
        len(continued),
        as_of,
    )
    return Settled(replace(portfolio, projects=tuple(projects)), tuple(changes), tuple(continued))


def _settle(portfolio: Portfolio, t: Task, as_of: date) -> tuple[Task, Change | None]:
    pin = t.pinned
    assert pin is not None and pin.start is not None
    if t.state == "in_progress":  # its progress names who goes on: a pin to another goes too
        doing = t.progress.people if t.progress is not None else ()
        kept = replace(pin, start=None) if pin.person in doing else None
        return replace(t, pinned=kept), None
    person = portfolio.person_by_id.get(pin.person) if pin.person is not None else None
    keep = person is not None and (
        person.available_until is None or person.available_until >= as_of
    )
    reason = f"{PASSED_PIN} {pin.start} has passed (as_of {as_of}): planned from as_of"
    if keep:
        reason += f", still with {pin.person}"
    elif pin.person is not None:
        reason += f"; {pin.person}, pinned to it, is no longer available, so the pin goes too"
    new_pin = replace(pin, start=None) if keep else None
    return replace(t, pinned=new_pin), Change(t.id, (reason,), forced=True)
