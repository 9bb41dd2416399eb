"""The contract's field table (``allocator.domain.contract_fields``) and the typed rebalance
policy: ``freeze_days``, ``churn_budget`` and ``stability`` are read, validated, written, carried
by the frames and the builder like every other field."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import pytest

from allocator.builder import PortfolioBuilder
from allocator.contract import load_portfolio, portfolio_to_dict, read_portfolio
from allocator.domain import Person, Policy, Project, Task, contract_fields
from allocator.errors import PortfolioError
from allocator.frames import COLUMNS, portfolio_from_tables, portfolio_to_frames
from allocator.rebalance import DEFAULT_STABILITY, RebalancePolicy
from allocator.validation import validate
from tests.conftest import portfolio_dict

REBALANCE_KEYS = ("freeze_days", "churn_budget", "stability")


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
    for cls in (Person, Project, Task, Policy):
        declared = {k for k, _ in contract_fields(cls)}
        assert declared == {f.name for f in fields(cls)} - {"project"}, cls
    # the frame columns of scalar fields are the declared scalar fields
    scalars = [k for k, s in contract_fields(Person) if s.kind != "nested"]
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
