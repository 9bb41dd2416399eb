"""Tests of ``allocator.validation``: one per rule, all-at-once reporting, and a property test.

Every case starts from the bundled valid example, deep-copies it, edits a few fields by JSON path
and checks the issue's path and that its message names the id concerned.

Example layout (positions used below):
people: 0 ana, 1 ben, 2 chen, 3 dara, 4 eli, 5 fay;
projects[0] crm: 0 crm-scope, 1 crm-schema, 2 crm-etl, 3 crm-test, 4 crm-cutover (team task);
projects[1] portal: 0 portal-ux, 1 portal-ui, 2 portal-api, 3 portal-qa;
projects[2] ops: 0 ops-ci, 1 ops-audit (pinned eli 2027-01-18), 2 ops-report.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import allocator
from allocator.contract import load_portfolio, read_portfolio
from allocator.domain import Portfolio
from allocator.errors import Issue, PortfolioError
from allocator.validation import ValidationReport, validate

EXAMPLE_PATH = Path(allocator.__file__).parent / "data" / "example-portfolio.json"
EXAMPLE: dict[str, Any] = json.loads(EXAMPLE_PATH.read_text(encoding="utf-8"))

DELETE = object()  # an edit value: remove the key
_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _steps(path: str) -> list[str | int]:
    return [int(index) if index else key for key, index in _TOKEN.findall(path)]


def edited(edits: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of the example with ``edits`` (JSON path -> value, or DELETE) applied.

    DELETE of an absent key is a no-op, so ``{**BASE, key: DELETE}`` undoes a key BASE adds.
    """
    data = copy.deepcopy(EXAMPLE)
    for path, value in edits.items():
        *head, last = _steps(path)
        node: Any = data
        for step in head:
            node = node[step]
        if value is DELETE:
            node.pop(last, None)
        else:
            node[last] = copy.deepcopy(value)
    return data


def check(data: Any) -> ValidationReport:
    portfolio, issues = read_portfolio(data)
    return validate(portfolio, issues)


def at(issues: tuple[Issue, ...], path: str) -> list[Issue]:
    return [i for i in issues if i.path == path]


def assert_issue(issues: tuple[Issue, ...], path: str, name: str, fragment: str = "") -> Issue:
    found = [i for i in at(issues, path) if name in i.message and fragment in i.message]
    assert found, f"no issue at {path} naming {name!r} with {fragment!r}; got:\n" + "\n".join(
        map(str, issues)
    )
    return found[0]


# A valid re-planning state: crm-scope is in progress with fay (analysis 4), 10 hours left.
IN_PROGRESS: dict[str, Any] = {
    "as_of": "2027-01-04",
    "projects[0].tasks[0].status": "in_progress",
    "projects[0].tasks[0].progress": {"people": ["fay"], "remaining_hours": 10},
}
# crm-cutover (two places: data-eng >= 3, qa >= 1) in progress with eli and dara.
TEAM_IN_PROGRESS: dict[str, Any] = {
    "as_of": "2027-01-04",
    "projects[0].tasks[4].status": "in_progress",
    "projects[0].tasks[4].progress": {"people": ["eli", "dara"], "remaining_days": 1},
}


# ---------------------------------------------------------------------------------------------
# The example and valid variants
# ---------------------------------------------------------------------------------------------
def test_example_is_valid_without_warnings() -> None:
    report = check(EXAMPLE)
    assert report.ok
    assert report.errors == ()
    assert report.warnings == ()
    assert isinstance(load_portfolio(copy.deepcopy(EXAMPLE)), Portfolio)


@pytest.mark.parametrize(
    "edits",
    [
        pytest.param(IN_PROGRESS, id="in-progress-hours"),
        pytest.param(TEAM_IN_PROGRESS, id="team-in-progress"),
        pytest.param(
            {
                "as_of": "2027-01-04",
                "projects[2].tasks[2].requirements": [],
                "projects[2].tasks[2].skill": DELETE,
                "projects[2].tasks[2].min_level": DELETE,
                "projects[2].tasks[2].effort_hours": DELETE,
                "projects[2].tasks[2].duration_days": 3,
                "projects[2].tasks[2].status": "in_progress",
                "projects[2].tasks[2].progress": {"people": [], "remaining_days": 2},
            },
            id="wait-task-in-progress-nobody",
        ),
        pytest.param({"people[0].hours_per_day": 24}, id="hours-per-day-24"),
        pytest.param({"people[0].cost_per_hour": 0}, id="cost-0"),
        pytest.param({"people[5].reduced_capacity[0].percent": 0}, id="percent-0"),
        pytest.param({"people[5].reduced_capacity[0].percent": 100}, id="percent-100"),
        pytest.param({"projects[0].tasks[0].allocation": 1}, id="allocation-1"),
        pytest.param({"projects[0].tasks[0].allocation": 100}, id="allocation-100"),
        pytest.param({"people[1].time_off[0].end": "2027-02-01"}, id="one-day-time-off"),
        pytest.param(
            {"calendar.end": "2027-01-04", "projects[2].tasks[1].pinned": DELETE},
            id="one-day-calendar",
        ),
        pytest.param(
            {"people[1].time_off": [{"start": "2026-01-01", "end": "2029-12-31"}]},
            id="dates-outside-horizon",
        ),
        pytest.param({"policy": {"objective": "makespan", "hard_deadlines": True}}, id="makespan"),
        pytest.param(
            {
                "projects[0].tasks[0].predecessors": ["crm-etl"],
                "projects[0].tasks[2].status": "done",
            },
            id="cycle-through-done-task",
        ),
        pytest.param(
            {
                "projects[0].tasks[0].predecessors": ["crm-etl"],
                "projects[0].tasks[1].status": "cancelled",
            },
            id="cycle-through-cancelled-task",
        ),
        pytest.param(
            {
                "projects[2].tasks[1].status": "done",
                "projects[2].tasks[1].pinned.start": "2027-01-16",
            },
            id="pin-of-done-task-not-planned",
        ),
        pytest.param({"projects[0].tasks[0].pinned": {"person": "fay"}}, id="pin-person-fits"),
    ],
)
def test_valid_variants(edits: dict[str, Any]) -> None:
    report = check(edited(edits))
    assert report.errors == (), "\n".join(map(str, report.errors))


# ---------------------------------------------------------------------------------------------
# One rule at a time
# ---------------------------------------------------------------------------------------------
T_SCOPE, T_SCHEMA, T_ETL, T_TEST, T_CUT = (f"projects[0].tasks[{k}]" for k in range(5))
T_UX, T_UI, T_API, T_QA = (f"projects[1].tasks[{k}]" for k in range(4))
T_CI, T_AUDIT, T_REPORT = (f"projects[2].tasks[{k}]" for k in range(3))

ERROR_CASES = [
    # duplicate ids (three namespaces, both positions named)
    pytest.param(
        {"people[3].id": "ana"}, "people[3].id", "ana", "people[0] and people[3]", id="dup-person"
    ),
    pytest.param(
        {"projects[2].id": "crm"},
        "projects[2].id",
        "crm",
        "projects[0] and projects[2]",
        id="dup-project",
    ),
    pytest.param(
        {f"{T_REPORT}.id": "crm-scope"},
        f"{T_REPORT}.id",
        "crm-scope",
        f"{T_SCOPE} and {T_REPORT}",
        id="dup-task-across-projects",
    ),
    # unknown ids
    pytest.param(
        {f"{T_SCHEMA}.predecessors": ["crm-scope", "nope"]},
        f"{T_SCHEMA}.predecessors[1]",
        "crm-schema",
        "'nope'",
        id="unknown-predecessor",
    ),
    pytest.param(
        {f"{T_API}.exclude": ["ben", "zed"]},
        f"{T_API}.exclude[1]",
        "portal-api",
        "'zed'",
        id="unknown-exclude",
    ),
    pytest.param(
        {f"{T_ETL}.prefer": ["zed"]}, f"{T_ETL}.prefer[0]", "crm-etl", "'zed'", id="unknown-prefer"
    ),
    pytest.param(
        {f"{T_AUDIT}.pinned.person": "zed"},
        f"{T_AUDIT}.pinned.person",
        "ops-audit",
        "'zed'",
        id="unknown-pinned-person",
    ),
    pytest.param(
        {**IN_PROGRESS, f"{T_SCOPE}.progress.people": ["zed"]},
        f"{T_SCOPE}.progress.people[0]",
        "crm-scope",
        "'zed'",
        id="unknown-progress-person",
    ),
    # task shape
    pytest.param({f"{T_CUT}.skill": "qa"}, T_CUT, "crm-cutover", "not both", id="skill-and-reqs"),
    pytest.param(
        {f"{T_SCOPE}.skill": DELETE},
        T_SCOPE,
        "crm-scope",
        "skill and requirements",
        id="neither-skill-nor-reqs",
    ),
    pytest.param(
        {f"{T_SCOPE}.duration_days": 5},
        T_SCOPE,
        "crm-scope",
        "effort_hours and duration_days, not both",
        id="effort-and-duration",
    ),
    pytest.param(
        {f"{T_SCOPE}.effort_hours": DELETE},
        T_SCOPE,
        "crm-scope",
        "effort_hours and duration_days, got neither",
        id="neither-effort-nor-duration",
    ),
    pytest.param(
        {f"{T_CUT}.effort_hours": 10},
        f"{T_CUT}.effort_hours",
        "crm-cutover",
        "team",
        id="effort-on-team-task",
    ),
    pytest.param(
        {f"{T_CUT}.duration_days": DELETE},
        f"{T_CUT}.duration_days",
        "crm-cutover",
        "needs duration_days",
        id="team-task-without-duration",
    ),
    pytest.param(
        {f"{T_CUT}.min_level": 3},
        f"{T_CUT}.min_level",
        "crm-cutover",
        "min_level",
        id="min-level-on-team-task",
    ),
    # numbers
    pytest.param(
        {f"{T_SCOPE}.effort_hours": 0},
        f"{T_SCOPE}.effort_hours",
        "crm-scope",
        "got 0",
        id="effort-zero",
    ),
    pytest.param(
        {f"{T_SCOPE}.effort_hours": -5.5},
        f"{T_SCOPE}.effort_hours",
        "crm-scope",
        "got -5.5",
        id="effort-negative",
    ),
    pytest.param(
        {f"{T_CUT}.duration_days": 0},
        f"{T_CUT}.duration_days",
        "crm-cutover",
        "must be >= 1",
        id="duration-zero",
    ),
    pytest.param(
        {"people[0].hours_per_day": 0},
        "people[0].hours_per_day",
        "ana",
        "(0, 24]",
        id="hours-per-day-zero",
    ),
    pytest.param(
        {"people[0].hours_per_day": 24.5},
        "people[0].hours_per_day",
        "ana",
        "24.5",
        id="hours-per-day-over-24",
    ),
    pytest.param(
        {"people[0].cost_per_hour": -1},
        "people[0].cost_per_hour",
        "ana",
        ">= 0",
        id="cost-negative",
    ),
    pytest.param(
        {"people[5].reduced_capacity[0].percent": 101},
        "people[5].reduced_capacity[0].percent",
        "fay",
        "[0, 100]",
        id="percent-over",
    ),
    pytest.param(
        {"people[5].reduced_capacity[0].percent": -1},
        "people[5].reduced_capacity[0].percent",
        "fay",
        "[0, 100]",
        id="percent-under",
    ),
    pytest.param(
        {"projects[0].priority": 0},
        "projects[0].priority",
        "project crm",
        ">= 1",
        id="project-priority",
    ),
    pytest.param(
        {f"{T_SCOPE}.priority": -2}, f"{T_SCOPE}.priority", "crm-scope", ">= 1", id="task-priority"
    ),
    pytest.param(
        {"people[0].skills.python": 0},
        "people[0].skills.python",
        "ana",
        "1..5",
        id="person-level-zero",
    ),
    pytest.param(
        {"people[0].skills.python": 6},
        "people[0].skills.python",
        "ana",
        "1..5",
        id="person-level-six",
    ),
    pytest.param(
        {f"{T_CUT}.requirements[0].min_level": 0},
        f"{T_CUT}.requirements[0].min_level",
        "crm-cutover",
        "1..5",
        id="requirement-level",
    ),
    pytest.param(
        {f"{T_SCOPE}.allocation": 0},
        f"{T_SCOPE}.allocation",
        "crm-scope",
        "1..100",
        id="allocation-zero",
    ),
    pytest.param(
        {f"{T_SCOPE}.allocation": 101},
        f"{T_SCOPE}.allocation",
        "crm-scope",
        "1..100",
        id="allocation-over",
    ),
    pytest.param(
        {f"{T_CUT}.requirements[1].count": 0},
        f"{T_CUT}.requirements[1].count",
        "crm-cutover",
        ">= 1",
        id="requirement-count",
    ),
    # dates
    pytest.param(
        {"calendar.end": "2027-01-01"},
        "calendar.end",
        "example-q1",
        "before",
        id="calendar-backwards",
    ),
    pytest.param(
        {"people[1].time_off[0].end": "2027-01-31"},
        "people[1].time_off[0].end",
        "ben",
        "before",
        id="time-off-backwards",
    ),
    pytest.param(
        {"people[5].reduced_capacity[0].end": "2027-01-31"},
        "people[5].reduced_capacity[0].end",
        "fay",
        "before",
        id="reduced-capacity-backwards",
    ),
    pytest.param(
        {"people[3].available_from": "2027-02-01", "people[3].available_until": "2027-01-31"},
        "people[3].available_until",
        "dara",
        "before",
        id="availability-backwards",
    ),
    # skill names
    pytest.param(
        {"people[0].skills": {"": 3, "python": 5}},
        "people[0].skills",
        "ana",
        "''",
        id="empty-skill-name",
    ),
    pytest.param(
        {"people[0].skills": {"  ": 3}},
        "people[0].skills",
        "ana",
        "non-empty",
        id="blank-skill-name",
    ),
    # pins
    pytest.param(
        {f"{T_AUDIT}.pinned": {}},
        f"{T_AUDIT}.pinned",
        "ops-audit",
        "person, a start",
        id="pin-empty",
    ),
    pytest.param(
        {f"{T_SCOPE}.pinned": {"person": "ben"}},
        f"{T_SCOPE}.pinned.person",
        "crm-scope",
        "ben cannot fill",
        id="pin-person-lacks-skill",
    ),
    pytest.param(
        {f"{T_SCHEMA}.pinned": {"person": "eli"}},
        f"{T_SCHEMA}.pinned.person",
        "crm-schema",
        "sql at level 4",
        id="pin-person-level-too-low",
    ),
    pytest.param(
        {f"{T_API}.pinned": {"person": "ben"}},
        f"{T_API}.pinned.person",
        "portal-api",
        "excluded",
        id="pin-person-excluded",
    ),
    pytest.param(
        {f"{T_AUDIT}.pinned.start": "2027-01-16"},
        f"{T_AUDIT}.pinned.start",
        "ops-audit",
        "not a working day",
        id="pin-start-saturday",
    ),
    pytest.param(
        {f"{T_AUDIT}.pinned.start": "2027-02-15"},
        f"{T_AUDIT}.pinned.start",
        "ops-audit",
        "not a working day",
        id="pin-start-holiday",
    ),
    pytest.param(
        {f"{T_AUDIT}.pinned.start": "2027-04-05"},
        f"{T_AUDIT}.pinned.start",
        "ops-audit",
        "not a working day",
        id="pin-start-after-horizon",
    ),
    pytest.param(
        {f"{T_UI}.pinned": {"start": "2027-01-05"}},
        f"{T_UI}.pinned.start",
        "portal-ui",
        "before its earliest start 2027-01-11",
        id="pin-start-before-start-after",
    ),
    pytest.param(
        {f"{T_AUDIT}.earliest_start": "2027-01-25"},
        f"{T_AUDIT}.pinned.start",
        "ops-audit",
        "earliest start 2027-01-25",
        id="pin-start-before-earliest-start",
    ),
    # progress
    pytest.param(
        {**IN_PROGRESS, f"{T_SCOPE}.progress": DELETE},
        f"{T_SCOPE}.progress",
        "crm-scope",
        "requires progress",
        id="in-progress-without-progress",
    ),
    pytest.param(
        {**IN_PROGRESS, f"{T_SCOPE}.status": "todo"},
        f"{T_SCOPE}.progress",
        "crm-scope",
        "status is todo",
        id="progress-on-todo",
    ),
    pytest.param(
        {**IN_PROGRESS, f"{T_SCOPE}.status": DELETE},
        f"{T_SCOPE}.progress",
        "crm-scope",
        "status is todo",
        id="progress-without-status",
    ),
    pytest.param(
        {**IN_PROGRESS, f"{T_SCOPE}.status": "done"},
        f"{T_SCOPE}.progress",
        "crm-scope",
        "status is done",
        id="progress-on-done",
    ),
    pytest.param(
        {**IN_PROGRESS, f"{T_SCOPE}.progress.remaining_days": 2},
        f"{T_SCOPE}.progress",
        "crm-scope",
        "not both",
        id="progress-both-amounts",
    ),
    pytest.param(
        {**IN_PROGRESS, f"{T_SCOPE}.progress.remaining_hours": DELETE},
        f"{T_SCOPE}.progress",
        "crm-scope",
        "remaining_hours or remaining_days",
        id="progress-no-amount",
    ),
    pytest.param(
        {**IN_PROGRESS, f"{T_SCOPE}.progress.remaining_hours": 0},
        f"{T_SCOPE}.progress.remaining_hours",
        "crm-scope",
        "> 0",
        id="remaining-hours-zero",
    ),
    pytest.param(
        {**TEAM_IN_PROGRESS, f"{T_CUT}.progress.remaining_days": 0},
        f"{T_CUT}.progress.remaining_days",
        "crm-cutover",
        ">= 1",
        id="remaining-days-zero",
    ),
    pytest.param(
        {
            **TEAM_IN_PROGRESS,
            f"{T_CUT}.progress.remaining_days": DELETE,
            f"{T_CUT}.progress.remaining_hours": 8,
        },
        f"{T_CUT}.progress.remaining_hours",
        "crm-cutover",
        "one-person effort task",
        id="remaining-hours-on-team-task",
    ),
    pytest.param(
        {**IN_PROGRESS, f"{T_SCOPE}.effort_hours": DELETE, f"{T_SCOPE}.duration_days": 5},
        f"{T_SCOPE}.progress.remaining_hours",
        "crm-scope",
        "one-person effort task",
        id="remaining-hours-on-duration-task",
    ),
    pytest.param(
        {**IN_PROGRESS, f"{T_SCOPE}.progress.people": []},
        f"{T_SCOPE}.progress.people",
        "crm-scope",
        "must name",
        id="progress-people-empty",
    ),
    pytest.param(
        {**IN_PROGRESS, f"{T_SCOPE}.progress.people": ["fay", "ana"]},
        f"{T_SCOPE}.progress.people",
        "crm-scope",
        "2 people, the task has 1 place",
        id="progress-people-too-many",
    ),
    pytest.param(
        {**TEAM_IN_PROGRESS, f"{T_CUT}.progress.people": ["eli"]},
        f"{T_CUT}.progress.people",
        "crm-cutover",
        "1 person, the task has 2 places",
        id="progress-people-too-few",
    ),
    pytest.param(
        {**TEAM_IN_PROGRESS, f"{T_CUT}.progress.people": ["eli", "eli"]},
        f"{T_CUT}.progress.people[1]",
        "crm-cutover",
        "eli twice",
        id="progress-people-repeated",
    ),
    pytest.param(
        {**IN_PROGRESS, "as_of": DELETE},
        "as_of",
        "crm-scope",
        "as_of is required",
        id="as-of-missing",
    ),
]


@pytest.mark.parametrize(("edits", "path", "name", "fragment"), ERROR_CASES)
def test_rule_error(edits: dict[str, Any], path: str, name: str, fragment: str) -> None:
    data = edited(edits)
    report = check(data)
    assert not report.ok
    issue = assert_issue(report.errors, path, name, fragment)
    assert issue.severity == "error"
    with pytest.raises(PortfolioError) as info:
        load_portfolio(data)
    assert issue in info.value.issues


def test_min_level_message_is_exact() -> None:
    report = check(edited({f"{T_ETL}.min_level": 7}))
    assert [str(i) for i in report.errors] == [
        f"{T_ETL}.min_level: task crm-etl: min_level must be 1..5, got 7"
    ]


# ---------------------------------------------------------------------------------------------
# Precedence cycles
# ---------------------------------------------------------------------------------------------
def cycle_errors(report: ValidationReport) -> list[Issue]:
    return [i for i in report.errors if "precedence cycle" in i.message]


def test_cycle_is_named_in_precedence_order() -> None:
    report = check(edited({f"{T_SCOPE}.predecessors": ["crm-etl"]}))
    assert [(i.path, i.message) for i in cycle_errors(report)] == [
        (
            f"{T_SCOPE}.predecessors",
            "precedence cycle: crm-scope -> crm-schema -> crm-etl -> crm-scope",
        )
    ]


def test_cycle_path_is_at_first_task_in_file_order() -> None:
    # The edit is on crm-test, the cycle's first task in file order is crm-schema.
    report = check(edited({f"{T_SCHEMA}.predecessors": ["crm-test"]}))
    (issue,) = cycle_errors(report)
    assert issue.path == f"{T_SCHEMA}.predecessors"
    assert issue.message == "precedence cycle: crm-schema -> crm-etl -> crm-test -> crm-schema"


def test_self_predecessor_is_a_cycle() -> None:
    report = check(edited({f"{T_CI}.predecessors": ["ops-ci"]}))
    (issue,) = cycle_errors(report)
    assert (issue.path, issue.message) == (
        f"{T_CI}.predecessors",
        "precedence cycle: ops-ci -> ops-ci",
    )


def test_cycle_across_projects() -> None:
    report = check(edited({f"{T_SCOPE}.predecessors": ["portal-api"]}))
    (issue,) = cycle_errors(report)
    assert issue.message == ("precedence cycle: crm-scope -> crm-schema -> portal-api -> crm-scope")


def test_every_cycle_reported_once() -> None:
    report = check(
        edited(
            {
                f"{T_SCOPE}.predecessors": ["crm-etl"],
                f"{T_CI}.predecessors": ["ops-ci"],
                f"{T_UX}.predecessors": ["portal-ui"],
            }
        )
    )
    messages = sorted(i.message for i in cycle_errors(report))
    assert messages == [
        "precedence cycle: crm-scope -> crm-schema -> crm-etl -> crm-scope",
        "precedence cycle: ops-ci -> ops-ci",
        "precedence cycle: portal-ux -> portal-ui -> portal-ux",
    ]


def test_tangled_component_reported_once() -> None:
    # crm-scope closes two cycles through the same component: one error, the shortest cycle.
    report = check(edited({f"{T_SCOPE}.predecessors": ["crm-test", "crm-schema"]}))
    (issue,) = cycle_errors(report)
    assert issue.message == "precedence cycle: crm-scope -> crm-schema -> crm-scope"


def test_long_cycle_needs_no_recursion() -> None:
    n = 3000
    data = copy.deepcopy(EXAMPLE)
    data["projects"].append(
        {
            "id": "chain",
            "tasks": [
                {
                    "id": f"c{k}",
                    "skill": "python",
                    "effort_hours": 8,
                    "predecessors": [f"c{(k - 1) % n}"],
                }
                for k in range(n)
            ],
        }
    )
    (issue,) = cycle_errors(check(data))
    assert issue.path == "projects[3].tasks[0].predecessors"
    assert issue.message.startswith("precedence cycle: c0 -> c1 -> c2 -> ")
    assert issue.message.endswith(f"c{n - 1} -> c0")


# ---------------------------------------------------------------------------------------------
# Warnings
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("edits", "path", "name", "fragment"),
    [
        pytest.param(
            {f"{T_SCOPE}.skill": "ml"},
            f"{T_SCOPE}.skill",
            "crm-scope",
            "nobody has skill 'ml' at level 3 or above; it will be unassigned",
            id="unknown-skill",
        ),
        pytest.param(
            {f"{T_UX}.min_level": 5, "people[2].skills.ux": 4},
            f"{T_UX}.skill",
            "portal-ux",
            "'ux' at level 5",
            id="skill-level-nobody-has",
        ),
        pytest.param(
            {f"{T_CUT}.requirements[1].min_level": 5},
            f"{T_CUT}.requirements[1].skill",
            "crm-cutover",
            "'qa' at level 5",
            id="requirement-skill-nobody-has",
        ),
        pytest.param(
            {f"{T_SCOPE}.earliest_start": "2027-04-01"},
            T_SCOPE,
            "crm-scope",
            "it will be unassigned",
            id="window-after-calendar-end",
        ),
        pytest.param(
            {"projects[1].start_after": "2027-05-01"},
            T_QA,
            "portal-qa",
            "earliest start 2027-05-01",
            id="window-after-project-start",
        ),
        pytest.param(
            {"calendar.end": "2027-03-28", f"{T_REPORT}.earliest_start": "2027-03-27"},
            T_REPORT,
            "ops-report",
            "no working day",
            id="window-only-weekend",
        ),
    ],
)
def test_rule_warning(edits: dict[str, Any], path: str, name: str, fragment: str) -> None:
    data = edited(edits)
    report = check(data)
    assert report.ok, "\n".join(map(str, report.errors))
    issue = assert_issue(report.warnings, path, name, fragment)
    assert issue.severity == "warning"
    assert isinstance(load_portfolio(data), Portfolio)  # warnings do not reject


def test_no_skill_warning_for_done_or_cancelled_tasks() -> None:
    for status in ("done", "cancelled"):
        data = edited(
            {
                f"{T_SCOPE}.skill": "ml",
                f"{T_SCOPE}.status": status,
                f"{T_SCOPE}.earliest_start": "2027-04-01",
            }
        )
        report = check(data)
        assert report.errors == ()
        assert report.warnings == ()


def test_as_of_after_horizon_warns_for_every_task_to_plan() -> None:
    report = check(
        edited({"as_of": "2027-04-01", f"{T_CI}.status": "done", f"{T_AUDIT}.pinned": DELETE})
    )
    assert report.ok
    tasks = [i.path for i in report.warnings]
    assert len(tasks) == 11 and T_CI not in tasks


# ---------------------------------------------------------------------------------------------
# Unknown keys (reported by contract.py, kept by validate)
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path",
    [
        "colour",
        "calendar.colour",
        "people[1].colour",
        "people[1].time_off[0].colour",
        "people[5].reduced_capacity[0].colour",
        "projects[2].colour",
        f"{T_ETL}.colour",
        f"{T_CUT}.requirements[1].colour",
        f"{T_AUDIT}.pinned.colour",
        f"{T_SCOPE}.progress.colour",
        "policy.colour",
    ],
)
def test_unknown_key_is_a_warning_with_its_path(path: str) -> None:
    data = edited({**IN_PROGRESS, path: "blue"})
    report = check(data)
    assert report.ok
    (issue,) = at(report.warnings, path)
    assert "'colour'" in issue.message
    assert isinstance(load_portfolio(data), Portfolio)


# ---------------------------------------------------------------------------------------------
# Everything at once, structural issues, the report
# ---------------------------------------------------------------------------------------------
def test_several_problems_all_reported() -> None:
    data = edited(
        {
            f"{T_ETL}.min_level": 7,
            "people[1].hours_per_day": 0,
            f"{T_SCHEMA}.predecessors": ["ghost"],
            f"{T_CI}.predecessors": ["ops-ci"],
            "projects[2].id": "crm",
            f"{T_AUDIT}.pinned": {},
            f"{T_SCOPE}.skill": "ml",
        }
    )
    report = check(data)
    expected = {
        f"{T_ETL}.min_level",
        "people[1].hours_per_day",
        f"{T_SCHEMA}.predecessors[0]",
        f"{T_CI}.predecessors",
        "projects[2].id",
        f"{T_AUDIT}.pinned",
    }
    assert {i.path for i in report.errors} == expected
    # crm-etl's level 7 is also a skill nobody has: a warning besides the error.
    warnings = [f"{T_SCOPE}.skill", f"{T_ETL}.skill"]
    assert sorted(i.path for i in report.warnings) == warnings
    with pytest.raises(PortfolioError) as info:
        load_portfolio(data)
    assert {i.path for i in info.value.issues} == expected
    assert sorted(i.path for i in info.value.warnings) == warnings


def test_structural_issues_are_kept() -> None:
    portfolio, _ = read_portfolio(copy.deepcopy(EXAMPLE))
    given_issues = [Issue("people[0].x", "odd", "warning"), Issue("people[9]", "bad")]
    report = validate(portfolio, given_issues)
    assert report.warnings == (given_issues[0],)
    assert report.errors == (given_issues[1],)
    assert not report.ok


def test_semantic_repeat_of_structural_error_is_dropped() -> None:
    # A requirement without a skill is read as skill "" (a placeholder): no second issue on it.
    data = edited({f"{T_CUT}.requirements[1].skill": DELETE})
    portfolio, issues = read_portfolio(data)
    report = validate(portfolio, issues)
    assert [i.path for i in report.errors] == [f"{T_CUT}.requirements[1].skill"]
    assert report.warnings == ()


def test_validate_never_mutates_and_is_repeatable() -> None:
    portfolio, issues = read_portfolio(edited({f"{T_ETL}.min_level": 7}))
    assert validate(portfolio, issues) == validate(portfolio, issues)


def test_module_imports_no_heavy_dependencies() -> None:
    code = (
        "import sys, allocator.validation\n"
        "bad = [m for m in ('ortools', 'pandas', 'numpy', 'fastapi', 'solver_models', 'api')"
        " if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------------------------------------
# Property: any subset of known-bad edits is reported in full, by PortfolioError only
# ---------------------------------------------------------------------------------------------
#: (edits, path of the expected error, id its message names). Pairwise independent: applying any
#: subset still yields each one's error.
MUTATIONS: list[tuple[dict[str, Any], str, str]] = [
    ({"people[0].skills.python": 7}, "people[0].skills.python", "ana"),
    ({"people[1].hours_per_day": 0}, "people[1].hours_per_day", "ben"),
    ({"people[2].cost_per_hour": -1}, "people[2].cost_per_hour", "chen"),
    (
        {"people[3].available_from": "2027-02-01", "people[3].available_until": "2027-01-31"},
        "people[3].available_until",
        "dara",
    ),
    (
        {"people[5].reduced_capacity[0].percent": 150},
        "people[5].reduced_capacity[0].percent",
        "fay",
    ),
    ({"people[1].time_off[0].end": "2027-01-31"}, "people[1].time_off[0].end", "ben"),
    (
        {"people[4].skills": {"": 2, "sql": 3, "data-eng": 4, "devops": 3}},
        "people[4].skills",
        "eli",
    ),
    ({"projects[0].priority": 0}, "projects[0].priority", "crm"),
    ({"projects[2].id": "crm"}, "projects[2].id", "crm"),
    ({f"{T_ETL}.min_level": 7}, f"{T_ETL}.min_level", "crm-etl"),
    ({f"{T_SCHEMA}.predecessors": ["nope"]}, f"{T_SCHEMA}.predecessors[0]", "crm-schema"),
    ({f"{T_ETL}.prefer": ["zed"]}, f"{T_ETL}.prefer[0]", "crm-etl"),
    ({f"{T_QA}.id": "portal-ui"}, f"{T_QA}.id", "portal-ui"),
    ({f"{T_CI}.predecessors": ["ops-ci"]}, f"{T_CI}.predecessors", "ops-ci"),
    ({f"{T_CUT}.skill": "qa"}, T_CUT, "crm-cutover"),
    ({f"{T_CUT}.effort_hours": 10}, f"{T_CUT}.effort_hours", "crm-cutover"),
    ({f"{T_CUT}.requirements[1].count": 0}, f"{T_CUT}.requirements[1].count", "crm-cutover"),
    ({f"{T_CUT}.min_level": 2}, f"{T_CUT}.min_level", "crm-cutover"),
    ({f"{T_REPORT}.effort_hours": DELETE}, T_REPORT, "ops-report"),
    ({f"{T_UX}.effort_hours": -5}, f"{T_UX}.effort_hours", "portal-ux"),
    ({f"{T_CI}.allocation": 0}, f"{T_CI}.allocation", "ops-ci"),
    ({f"{T_SCOPE}.priority": 0}, f"{T_SCOPE}.priority", "crm-scope"),
    ({"calendar.end": "2027-01-01"}, "calendar.end", "example-q1"),
    ({f"{T_REPORT}.pinned": {}}, f"{T_REPORT}.pinned", "ops-report"),
    ({f"{T_SCOPE}.pinned": {"person": "ben"}}, f"{T_SCOPE}.pinned.person", "crm-scope"),
    ({f"{T_API}.pinned": {"person": "ben"}}, f"{T_API}.pinned.person", "portal-api"),
    ({f"{T_UI}.pinned": {"start": "2027-01-05"}}, f"{T_UI}.pinned.start", "portal-ui"),
    ({f"{T_AUDIT}.earliest_start": "2027-01-25"}, f"{T_AUDIT}.pinned.start", "ops-audit"),
    ({f"{T_AUDIT}.exclude": ["zed"]}, f"{T_AUDIT}.exclude[0]", "ops-audit"),
    ({f"{T_TEST}.pinned": {"person": "zed"}}, f"{T_TEST}.pinned.person", "crm-test"),
    ({f"{T_UX}.status": "in_progress"}, f"{T_UX}.progress", "portal-ux"),
    (
        {f"{T_SCHEMA}.progress": {"people": ["ana"], "remaining_days": 2}},
        f"{T_SCHEMA}.progress",
        "crm-schema",
    ),
]


@settings(deadline=None, max_examples=50)
@given(st.sets(st.integers(0, len(MUTATIONS) - 1), min_size=1))
def test_any_set_of_bad_edits_is_reported_in_full(chosen: set[int]) -> None:
    edits: dict[str, Any] = {}
    for k in sorted(chosen):
        edits.update(MUTATIONS[k][0])
    with pytest.raises(PortfolioError) as info:
        load_portfolio(edited(edits))
    issues = info.value.issues
    for k in sorted(chosen):
        _, path, name = MUTATIONS[k]
        assert_issue(issues, path, name)
    assert all(i.severity == "error" for i in issues)


_LEAF_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 30),
    st.floats(-2, 30, allow_nan=False),
    st.sampled_from(["", "ana", "crm-scope", "in_progress", "2027-01-02", "2027-02-30", "Sat"]),
    st.just([]),
    st.just({}),
    st.just(["ana", "ana"]),
)


def _leaf_paths(node: Any, prefix: str = "") -> list[str]:
    if isinstance(node, dict):
        out = []
        for key, value in node.items():
            out += _leaf_paths(value, f"{prefix}.{key}" if prefix else key)
        return out
    if isinstance(node, list):
        out = []
        for i, value in enumerate(node):
            out += _leaf_paths(value, f"{prefix}[{i}]")
        return out
    return [prefix]


_LEAVES = [p for p in _leaf_paths(EXAMPLE) if "." in p or "[" in p]


@settings(deadline=None, max_examples=50)
@given(st.dictionaries(st.sampled_from(_LEAVES), _LEAF_VALUES, min_size=1, max_size=4))
def test_odd_values_never_crash(edits: dict[str, Any]) -> None:
    data = edited(edits)
    try:
        load_portfolio(data)
    except PortfolioError as exc:
        assert exc.issues and all(i.path or i.message for i in exc.issues)
    report = check(data)  # validate runs even on a best-effort portfolio
    assert all(isinstance(i, Issue) for i in report.errors + report.warnings)


@pytest.mark.parametrize(("edits", "path", "name"), MUTATIONS)
def test_each_bad_edit_alone(edits: dict[str, Any], path: str, name: str) -> None:
    with pytest.raises(PortfolioError) as info:
        load_portfolio(edited(edits))
    assert_issue(info.value.issues, path, name)


def test_all_bad_edits_at_once() -> None:
    edits: dict[str, Any] = {}
    for more, _, _ in MUTATIONS:
        edits.update(more)
    with pytest.raises(PortfolioError) as info:
        load_portfolio(edited(edits))
    for _, path, name in MUTATIONS:
        assert_issue(info.value.issues, path, name)


# ---------------------------------------------------------------------------------------------
# History: a pinned start that as_of has passed is not an input error (allocator.history)
# ---------------------------------------------------------------------------------------------
T_AUDIT_PIN = "projects[2].tasks[1].pinned.start"  # ops-audit, pinned eli 2027-01-18


def test_passed_pin_of_work_in_progress_is_history() -> None:
    # ops-audit began on its pinned 2027-01-18 and is under way a week later: no issue at all
    report = check(
        edited(
            {
                "as_of": "2027-01-25",
                "projects[2].tasks[1].status": "in_progress",
                "projects[2].tasks[1].progress": {"people": ["eli"], "remaining_hours": 8},
            }
        )
    )
    assert report.errors == (), "\n".join(map(str, report.errors))
    assert at(report.warnings, T_AUDIT_PIN) == []


def test_passed_pin_of_work_not_started_is_a_warning() -> None:
    # ops-audit never started; a week after its pinned date it is planned from as_of
    report = check(edited({"as_of": "2027-01-25"}))
    assert report.errors == (), "\n".join(map(str, report.errors))
    issue = assert_issue(report.warnings, T_AUDIT_PIN, "ops-audit", "has passed")
    assert "2027-01-18" in issue.message and "2027-01-25" in issue.message


def test_pin_before_its_own_earliest_start_stays_an_error_whatever_as_of() -> None:
    # a real conflict: pinned on the 18th, may not start before the 20th (as_of is later still)
    report = check(
        edited({"as_of": "2027-01-25", "projects[2].tasks[1].earliest_start": "2027-01-20"})
    )
    assert_issue(report.errors, T_AUDIT_PIN, "ops-audit", "before its earliest start 2027-01-20")
