"""The contract's field table (``allocator.domain.contract_fields``) and the typed rebalance
policy: ``freeze_days``, ``churn_budget`` and ``stability`` are read, validated, written, carried
by the frames and the builder like every other field. The nested records (time off, reduced
capacity, requirements, pins, progress, estimates) are in the table too: a contract field missing
from the reader, the writer, the frames or the builder's keywords fails a test here."""

from __future__ import annotations

import inspect
from dataclasses import fields
from datetime import date
from typing import Any

import pytest

from allocator.builder import (
    TASK_ALIASES,
    PersonFields,
    PolicyFields,
    PortfolioBuilder,
    ProjectFields,
    TaskFields,
)
from allocator.contract import load_portfolio, portfolio_to_dict, read_portfolio, record_to_dict
from allocator.domain import (
    Calendar,
    DateRange,
    Estimate,
    Person,
    Pin,
    Policy,
    Progress,
    Project,
    ReducedCapacity,
    Requirement,
    Task,
    contract_fields,
)
from allocator.errors import PortfolioError
from allocator.frames import COLUMNS, portfolio_from_tables, portfolio_to_frames
from allocator.rebalance import DEFAULT_STABILITY, RebalancePolicy
from allocator.table_schema import FLAT, RECORD_TABLES, SCHEMA
from allocator.validation import validate
from tests.conftest import portfolio_dict

REBALANCE_KEYS = ("freeze_days", "churn_budget", "stability")
NESTED_KINDS = ("nested", "record", "records")
NESTED_RECORDS = (DateRange, ReducedCapacity, Requirement, Pin, Progress, Estimate)
#: the records whose fields are a portfolio's contract fields (people, projects ...)
RECORDS = (Calendar, Person, Project, Task, Policy)


def with_policy(policy: dict[str, Any]) -> dict[str, Any]:
    return portfolio_dict(
        [{"id": "ann", "skills": {"py": 3}}],
        [{"id": "t1", "skill": "py", "effort_hours": 8}],
        policy=policy,
    )


def errors_of(data: dict[str, Any]) -> list[tuple[str, str]]:
    portfolio, structural = read_portfolio(data)
    return [(i.path, i.message) for i in validate(portfolio, structural).errors]


@pytest.mark.parametrize("key", REBALANCE_KEYS)
def test_negative_rebalance_policy_is_an_error_at_its_path(key: str) -> None:
    assert errors_of(with_policy({key: -1})) == [
        (f"policy.{key}", f"policy: {key} must be >= 0, got -1")
    ]
    with pytest.raises(PortfolioError) as exc:
        load_portfolio(with_policy({key: -1}))
    assert [i.path for i in exc.value.issues] == [f"policy.{key}"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("3", "must be an integer, got the string '3'"),
        (2.5, "must be an integer, got 2.5"),
        (True, "must be an integer, got a boolean"),
        (None, "freeze_days must not be null"),
    ],
)
def test_rebalance_policy_must_be_a_whole_number(value: Any, message: str) -> None:
    assert errors_of(with_policy({"freeze_days": value})) == [("policy.freeze_days", message)]


def test_rebalance_policy_is_typed_and_round_trips_exactly() -> None:
    data = with_policy({"objective": "portfolio", "freeze_days": 3, "churn_budget": 0})
    p = load_portfolio(data)
    assert p.policy == Policy(objective="portfolio", freeze_days=3, churn_budget=0)
    assert p.policy.stability is None  # not given: stays so (explicit versus default)
    assert portfolio_to_dict(p)["policy"] == {
        "objective": "portfolio",
        "freeze_days": 3,
        "churn_budget": 0,
    }
    assert load_portfolio(portfolio_to_dict(p)) == p
    # a whole float is read as the integer, like every integer field
    assert load_portfolio(with_policy({"stability": 2.0})).policy.stability == 2


def test_rebalance_policy_of_reads_the_typed_fields() -> None:
    p = load_portfolio(with_policy({"freeze_days": 2, "stability": 0}))
    assert RebalancePolicy.of(p) == RebalancePolicy(freeze_days=2, churn_budget=None, stability=0)
    assert RebalancePolicy.of(p, stability=7).stability == 7
    plain = load_portfolio(with_policy({}))
    assert RebalancePolicy.of(plain) == RebalancePolicy(0, None, DEFAULT_STABILITY)


def test_rebalance_policy_goes_through_the_frames() -> None:
    p = load_portfolio(with_policy({"freeze_days": 4, "churn_budget": 1, "stability": 0}))
    frames = portfolio_to_frames(p)
    assert set(REBALANCE_KEYS) <= set(frames["settings"].columns)
    assert portfolio_from_tables(frames) == p
    # absent stays absent
    q = load_portfolio(with_policy({"hard_deadlines": True}))
    assert portfolio_from_tables(portfolio_to_frames(q)) == q


def test_rebalance_policy_errors_are_located_in_the_settings_table() -> None:
    frames = portfolio_to_frames(load_portfolio(with_policy({})))
    frames["settings"]["churn_budget"] = -2
    with pytest.raises(PortfolioError) as exc:
        portfolio_from_tables(frames)
    assert [(i.path, i.message) for i in exc.value.issues] == [
        ("settings row 0, column churn_budget", "must be >= 0, got -2")
    ]


def test_builder_policy_keywords_come_from_the_field_table() -> None:
    b = PortfolioBuilder("b", start="2027-01-04", end="2027-01-29")
    b.person("ann", skills={"py": 3})
    b.project("P").task("t1", skill="py", effort_hours=8)
    p = b.set_policy(freeze_days=5, objective="makespan").build()
    assert p.policy == Policy(objective="makespan", freeze_days=5)
    assert b.set_policy(freeze_days=None).build().policy == Policy(objective="makespan")
    with pytest.raises(TypeError, match="unknown policy field 'freeze'"):
        b.set_policy(freeze=1)
    with pytest.raises(PortfolioError, match=r"stability must be >= 0"):
        b.set_policy(stability=-1).build()


def test_field_table_covers_every_record_field() -> None:
    """Every attribute of a record is a contract field (but a task's ``project``, set from its
    place in the file): a field added to a record is read, written and framed, or declared."""
    for cls in (Person, Project, Task, Policy, Calendar, *NESTED_RECORDS):
        declared = {k for k, _ in contract_fields(cls)}
        assert declared == {f.name for f in fields(cls)} - {"project"}, cls
    # the frame columns of scalar fields are the declared scalar fields
    scalars = [k for k, s in contract_fields(Person) if s.kind not in NESTED_KINDS]
    assert list(COLUMNS["people"]) == scalars
    assert [k for k, s in contract_fields(Policy)] == list(COLUMNS["settings"][-5:])


@pytest.mark.parametrize(
    ("cls", "key", "rule"),
    [
        (Person, "hours_per_day", "must be in (0, 24]"),
        (Person, "cost_per_hour", "must be >= 0"),
        (Task, "min_level", "must be 1..5"),
        (Task, "allocation", "must be 1..100"),
        (Task, "effort_hours", "must be > 0"),
        (Project, "priority", "must be >= 1"),
        (Policy, "churn_budget", "must be >= 0"),
    ],
)
def test_range_rules_are_declared_with_the_fields(cls: type, key: str, rule: str) -> None:
    assert dict(contract_fields(cls))[key].rule == rule


# ---------------------------------------------------------------------------------------------
# Nested records: one table drives the reader, the writer, the frames and the builder
# ---------------------------------------------------------------------------------------------
def test_every_nested_record_is_declared_with_its_record_class() -> None:
    """Each ``record`` / ``records`` field names the class it holds, and every nested record
    class of the domain is reached that way (none is read or written by hand)."""
    reached = set()
    for cls in RECORDS:
        for key, spec in contract_fields(cls):
            if spec.kind in ("record", "records"):
                assert spec.record is not None, (cls, key)
                reached.add(spec.record)
            else:
                assert spec.record is None, (cls, key)
    assert reached == set(NESTED_RECORDS)


@pytest.mark.parametrize(
    "record",
    [
        DateRange(date(2027, 1, 4), date(2027, 1, 8)),
        ReducedCapacity(date(2027, 1, 4), date(2027, 1, 8), 50),
        Requirement("qa"),
        Requirement("qa", min_level=3, count=2),
        Pin(),
        Pin(person="ann"),
        Pin(person="ann", start=date(2027, 1, 5)),
        Progress(people=()),
        Progress(people=("ann",), remaining_days=2),
        Progress(people=("ann",), remaining_hours=3.5),
        Estimate(1, 9.5),
    ],
)
def test_nested_records_are_written_and_read_back_exactly(record: Any) -> None:
    """``record_to_dict`` writes the given keys only, and reading them back as a task's or a
    person's field gives the same record."""
    data = record_to_dict(record)
    assert set(data) == {
        k for k, _ in contract_fields(type(record)) if getattr(record, k) is not None
    }
    owner, key = next(
        (cls, k)
        for cls in (Person, Task)
        for k, spec in contract_fields(cls)
        if spec.record is type(record)
    )
    many = dict(contract_fields(owner))[key].kind == "records"
    person: dict[str, Any] = {"id": "ann", "skills": {"qa": 3}}
    task: dict[str, Any] = {"id": "t", "requirements": [], "duration_days": 1}
    (person if owner is Person else task)[key] = [data] if many else data
    p, _ = read_portfolio(portfolio_dict([person], [task]))
    got = getattr(p.people[0] if owner is Person else p.projects[0].tasks[0], key)
    assert got == ((record,) if many else record)


def test_a_bad_item_keeps_the_positions_of_the_next_ones() -> None:
    """A requirement that is not an object is reported and kept (with an empty skill), so the
    next one's error is at its own index; a time off range missing a date is left out."""
    data = portfolio_dict(
        [{"id": "ann", "skills": {"qa": 3}, "time_off": [{"start": "2027-01-05"}]}],
        [{"id": "t", "requirements": [5, {"skill": "qa", "min_level": 9}], "duration_days": 1}],
    )
    p, structural = read_portfolio(data)
    assert [(i.path, i.message) for i in structural] == [
        ("people[0].time_off[0].end", "person ann: missing required field 'end'"),
        (
            "projects[0].tasks[0].requirements[0]",
            "task t: requirement must be an object, got the number 5",
        ),
        ("projects[0].tasks[0].requirements[0].skill", "task t: missing required field 'skill'"),
    ]
    assert p.people[0].time_off == ()
    assert p.projects[0].tasks[0].requirements == (Requirement(""), Requirement("qa", 9))
    errors = [(i.path, i.message) for i in validate(p, structural).errors]
    assert (
        "projects[0].tasks[0].requirements[1].min_level",
        "task t: requirement 1 min_level must be 1..5, got 9",
    ) in errors


def test_a_nested_record_that_is_not_an_object_is_one_error() -> None:
    data = portfolio_dict(
        [{"id": "ann", "skills": {"qa": 3}}],
        [{"id": "t", "skill": "qa", "effort_hours": 8, "pinned": "ann", "estimate": [1, 2]}],
    )
    p, structural = read_portfolio(data)
    assert [(i.path, i.message) for i in structural] == [
        ("projects[0].tasks[0].pinned", "task t: pinned must be an object, got the string 'ann'"),
        ("projects[0].tasks[0].estimate", "task t: estimate must be an object, got a list"),
    ]
    assert p.projects[0].tasks[0].pinned is None and p.projects[0].tasks[0].estimate is None


@pytest.mark.parametrize(
    ("record", "key", "path", "bad", "good"),
    [
        (ReducedCapacity, "percent", "people[0].reduced_capacity[0].percent", 100.5, 100),
        (ReducedCapacity, "percent", "people[0].reduced_capacity[0].percent", -1, 0),
        (Requirement, "min_level", "projects[0].tasks[0].requirements[0].min_level", 6, 5),
        (Requirement, "min_level", "projects[0].tasks[0].requirements[0].min_level", 0, 1),
        (Requirement, "count", "projects[0].tasks[0].requirements[0].count", 0, 1),
        (Estimate, "low", "projects[0].tasks[0].estimate.low", 0, 0.5),
        (Progress, "remaining_days", "projects[0].tasks[0].progress.remaining_days", 0, 1),
    ],
)
def test_nested_range_rules_agree_with_validation(
    record: type, key: str, path: str, bad: float, good: float
) -> None:
    """The range declared in the table is the one validation enforces: ``bad`` (just outside)
    is an error at its path, ``good`` (on the bound) is not."""
    spec = dict(contract_fields(record))[key]
    assert not spec.admits(bad) and spec.admits(good)

    def errors_at(value: float) -> list[str]:
        person: dict[str, Any] = {"id": "ann", "skills": {"qa": 3}}
        task: dict[str, Any] = {"id": "t", "requirements": [{"skill": "qa"}], "duration_days": 2}
        if record is ReducedCapacity:
            person["reduced_capacity"] = [{"start": "2027-01-04", "end": "2027-01-05", key: value}]
        elif record is Requirement:
            task["requirements"] = [{"skill": "qa", key: value}]
        elif record is Estimate:
            task["estimate"] = {"low": value, "high": 2}
        else:
            task.update(status="in_progress", progress={"people": ["ann"], key: value})
        extra = {"as_of": "2027-01-04"} if record is Progress else {}
        p, structural = read_portfolio(portfolio_dict([person], [task], **extra))
        return [str(i) for i in validate(p, structural).errors if i.path == path]

    assert errors_at(bad) != []
    assert errors_at(good) == []


def _columns(cls: type) -> set[str]:
    """The columns and tables that carry a record's contract fields in the frames."""
    out: set[str] = set()
    for key, spec in contract_fields(cls):
        if spec.kind == "records":
            table = next(n for n, t in RECORD_TABLES.items() if (t.owner, t.field) == (cls, key))
            assert [c.name for c in SCHEMA[table]][1:] == [
                k for k, _ in contract_fields(spec.record)
            ]
            out.add(key)
        elif spec.kind == "record":
            assert spec.record is not None
            flat = FLAT[cls][key]
            assert list(flat) == [k for k, _ in contract_fields(spec.record)]
            if set(flat.values()) <= set(COLUMNS[_TABLE_OF[cls]]):
                out.add(key)
        elif key in COLUMNS[_TABLE_OF[cls]]:
            out.add(key)
    return out


_TABLE_OF = {
    Calendar: "settings",
    Policy: "settings",
    Person: "people",
    Project: "projects",
    Task: "tasks",
}
#: fields with tables of their own, outside the table of nested records
_OWN_TABLES = {(Calendar, "holidays"), (Person, "skills"), (Project, "tasks")}


@pytest.mark.parametrize("cls", RECORDS)
def test_every_contract_field_has_its_place_in_the_frames(cls: type) -> None:
    """Scalars are columns of their name, a record's fields columns of the owner's table
    (``pinned_person``), a list of records a table of its own with the record's fields."""
    expected = {k for k, _ in contract_fields(cls)} - {k for c, k in _OWN_TABLES if c is cls}
    assert _columns(cls) == expected


def test_builder_keywords_are_the_field_table() -> None:
    """Every contract field is a keyword of the builder (same name), and no keyword is not one
    (but the shorthands ``after`` and ``pinned_person`` / ``pinned_start``)."""

    def keys(cls: type) -> set[str]:
        return {k for k, _ in contract_fields(cls)}

    assert set(PersonFields.__annotations__) | {"id", "skills"} == keys(Person)
    assert set(ProjectFields.__annotations__) | {"id", "tasks"} == keys(Project)
    assert set(PolicyFields.__annotations__) == keys(Policy)
    pin_keywords = set(FLAT[Task]["pinned"].values())
    shorthands = set(TASK_ALIASES) | pin_keywords
    assert set(TaskFields.__annotations__) - shorthands | {"id"} == keys(Task)
    assert set(TASK_ALIASES.values()) <= keys(Task)
    calendar = inspect.signature(PortfolioBuilder.__init__).parameters
    assert keys(Calendar) <= set(calendar)
    assert "skills" in inspect.signature(PortfolioBuilder.person).parameters


def test_builder_takes_every_nested_record_in_each_form() -> None:
    m = PortfolioBuilder("b", start="2027-01-04", end="2027-01-29", freeze_days=1)
    m.person(
        "ann",
        skills={"qa": 3},
        time_off=[DateRange(date(2027, 1, 4), date(2027, 1, 4)), ("2027-01-06", "2027-01-06")],
        reduced_capacity=[{"start": date(2027, 1, 7), "end": "2027-01-08", "percent": 50}],
    )
    pr = m.project("P")
    pr.task("a", requirements=[Requirement("qa", 2), ("qa", 1, 1), "qa"], duration_days=1)
    pr.task("b", skill="qa", effort_hours=8, pinned=Pin("ann"), estimate=Estimate(4, 9))
    pr.task("c", skill="qa", effort_hours=8, pinned_person="ann", pinned_start="2027-01-12")
    p = m.build()
    ann = p.people[0]
    assert ann.time_off == (
        DateRange(date(2027, 1, 4), date(2027, 1, 4)),
        DateRange(date(2027, 1, 6), date(2027, 1, 6)),
    )
    assert ann.reduced_capacity == (ReducedCapacity(date(2027, 1, 7), date(2027, 1, 8), 50),)
    a, b, c = p.projects[0].tasks
    assert a.requirements == (Requirement("qa", 2), Requirement("qa", 1, 1), Requirement("qa"))
    assert (b.pinned, b.estimate) == (Pin("ann"), Estimate(4, 9))
    assert c.pinned == Pin("ann", date(2027, 1, 12))
    assert p.policy.freeze_days == 1
    m.edit_task("c", pinned_person=None)
    assert m.build().projects[0].tasks[2].pinned == Pin(None, date(2027, 1, 12))
    m.edit_task("c", pinned_start=None)
    assert m.build().projects[0].tasks[2].pinned is None
    with pytest.raises(TypeError, match="unknown task field 'pin'"):
        m.edit_task("c", pin="ann")  # type: ignore[call-arg]
    assert PortfolioBuilder.from_portfolio(p).build() == p
