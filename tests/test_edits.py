"""Edits keyed by ids (allocator.edits): each kind is a typed change on the domain records,
errors name the edit and the field, and the nightly update format is a subset.

The bundled example: people ana..fay, projects crm (priority 3, deadline 2027-03-12),
portal and ops; tasks crm-scope .. ops-report.
"""

from __future__ import annotations

import copy
from datetime import date

import pytest

from allocator.cli import example_path
from allocator.contract import load_portfolio, portfolio_to_dict, read_portfolio
from allocator.domain import Portfolio
from allocator.edits import EditError, apply_edit, apply_edits

D = date.fromisoformat


@pytest.fixture(scope="module")
def example() -> Portfolio:
    return load_portfolio(example_path())


def test_every_kind_is_a_typed_change(example: Portfolio) -> None:
    p = apply_edits(
        example,
        [
            {"tasks": {"crm-scope": {"deadline": "2027-02-01", "priority": 4}}},
            {"projects": {"crm": {"deadline": "2027-04-01", "start_after": "2027-01-11"}}},
            {"new_people": [{"id": "h1", "skills": {"ml": 3}, "placeholder": True}]},
            {"remove_people": ["fay"], "skills": {"ben": {"sql": 2, "python": None}}},
            {"people": {"ana": {"available_until": "2027-03-01", "hours_per_day": 6}}},
            {"cancel_projects": ["ops"], "cancel_tasks": ["portal-qa"]},
            {
                "new_projects": [
                    {"id": "new", "tasks": [{"id": "n1", "skill": "ml", "effort_hours": 8}]}
                ]
            },
            {
                "new_tasks": [
                    {"project": "crm", "task": {"id": "crm-x", "skill": "pm", "duration_days": 2}}
                ]
            },
        ],
    )
    scope = p.task_by_id["crm-scope"]
    assert scope.deadline == D("2027-02-01") and scope.priority == 4  # a date, not a string
    assert scope.effort_hours == example.task_by_id["crm-scope"].effort_hours  # others kept
    crm = p.project_by_id["crm"]
    assert crm.deadline == D("2027-04-01") and crm.start_after == D("2027-01-11")
    assert len(crm.tasks) == len(example.project_by_id["crm"].tasks) + 1
    assert p.person_by_id["h1"].is_placeholder and p.person_by_id["h1"].level("ml") == 3
    assert "fay" not in p.person_by_id
    assert dict(p.person_by_id["ben"].skills) == {"frontend": 4, "sql": 2}
    ana = p.person_by_id["ana"]
    assert ana.available_until == D("2027-03-01") and ana.hours_per_day == 6
    assert all(t.state == "cancelled" for t in p.project_by_id["ops"].tasks)
    assert p.task_by_id["portal-qa"].state == "cancelled"
    assert p.task_by_id["n1"].project == "new" and p.task_by_id["crm-x"].project == "crm"
    # the base is untouched (frozen records, new portfolio)
    assert example.task_by_id["crm-scope"].deadline is None and "fay" in example.person_by_id


def test_null_removes_a_key(example: Portfolio) -> None:
    p = apply_edit(example, {"tasks": {"crm-cutover": {"deadline": None}}})
    assert p.task_by_id["crm-cutover"].deadline is None
    assert example.task_by_id["crm-cutover"].deadline == D("2027-03-05")


def test_errors_name_the_edit_and_the_field(example: Portfolio) -> None:
    with pytest.raises(EditError) as info:
        apply_edits(
            example,
            [
                {"tasks": {"nope": {"priority": 2}}},
                {"people": {"ana": {"bogus": 1}}},
                {"projects": {"crm": {"deadline": "soon"}}},
                {"new_people": [{"id": "ana", "skills": {}}]},
                {"frobnicate": 1},
            ],
        )
    paths = [i.path for i in info.value.issues]
    assert paths == [
        "edits[0].tasks.nope",
        "edits[1].people.ana.bogus",
        "edits[2].projects.crm.deadline",
        "edits[3].new_people[0].id",
        "edits[4].frobnicate",
    ]


def test_validation_errors_are_put_on_the_edit_that_brought_them(example: Portfolio) -> None:
    # ops-audit is pinned to eli in the example: removing eli breaks the pin, in edit 1
    assert example.task_by_id["ops-audit"].pinned is not None
    with pytest.raises(EditError) as info:
        apply_edits(
            example,
            [
                {"tasks": {"crm-scope": {"priority": 2}}},
                {"remove_people": [example.task_by_id["ops-audit"].pinned.person]},
                {"people": {"ana": {"hours_per_day": 30}}},
            ],
        )
    gone = example.task_by_id["ops-audit"].pinned.person
    issues = info.value.issues
    at = [i.path.split(" ")[0] for i in issues]
    assert set(at) == {"edits[1]", "edits[2]"}  # edit 0 is fine
    assert any("ops-audit" in i.message and "pinned" in i.path for i in issues[:-1])
    assert all(gone in i.message for i in issues if i.path.startswith("edits[1]"))
    assert [i.path for i in issues if i.path.startswith("edits[2]")] == [
        "edits[2] (after it): people[0].hours_per_day"
    ]


def test_a_nightly_update_gives_the_same_portfolio(example: Portfolio) -> None:
    """The edit format is a superset of the nightly progress file's update: same result."""
    nightly = pytest.importorskip("allocator_api.nightly")
    update = {
        "as_of": "2027-01-11",
        "tasks": {
            "crm-scope": {"status": "done"},
            "crm-schema": {"effort_hours": 60, "deadline": None},
        },
        "new_tasks": [
            {"project": "ops", "task": {"id": "ops-x", "skill": "pm", "effort_hours": 4}}
        ],
        "people": {"ben": {"available_until": "2027-02-26", "skills": {"python": 4}}},
        "new_people": [{"id": "gus", "skills": {"qa": 3}}],
        "remove_people": ["dara"],
    }
    body = portfolio_to_dict(example)
    want, issues = read_portfolio(nightly.apply_updates(copy.deepcopy(body), update))
    assert not [i for i in issues if i.severity == "error"]
    got = apply_edit(example, update)
    assert portfolio_to_dict(got) == portfolio_to_dict(want)
