"""``allocator.contract``: reading and writing portfolios and plans as contract JSON.

Round trips are exact (a portfolio or plan read back equals the one written, through JSON text
too), files and parsed JSON read alike, and bad input is refused with the file and the place
named. The optional fields of 2026-12-07 have their own file (``test_contract_fields.py``);
plans of the previous format (v1) are checked in ``test_checker.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given

from allocator.contract import (
    dump_plan,
    dump_portfolio,
    load_plan,
    load_portfolio,
    parse_json_text,
    plan_to_dict,
    portfolio_to_dict,
    read_plan,
    read_portfolio,
)
from allocator.domain import PLAN_FORMAT, PORTFOLIO_FORMAT, Portfolio
from allocator.engine import SolveParams, solve
from allocator.errors import PlanFormatError, PortfolioError
from tests.strategies import FAST, small

EXAMPLE = Path(__file__).resolve().parents[2] / "shared" / "contract" / "example-portfolio.json"


@given(small)
def test_json_round_trips_are_exact(portfolio: Portfolio) -> None:
    again, issues = read_portfolio(portfolio_to_dict(portfolio))
    assert not [i for i in issues if i.severity == "error"]
    assert again == portfolio
    for params in (SolveParams(greedy_only=True), FAST):
        plan = solve(portfolio, params).plan
        data = plan_to_dict(plan)
        assert data["format"] == "allocator.plan/v2"
        assert data["objective"] == dict(plan.objective or {})
        plan_again, issues = read_plan(data)
        assert not issues
        assert plan_again == plan
        # the terms keep their order and their exact values through JSON text
        text_again, issues = read_plan(json.loads(json.dumps(data)))
        assert not issues
        assert text_again == plan
        assert list((text_again.objective or {}).items()) == list((plan.objective or {}).items())
        assert text_again.gap == plan.gap and text_again.lower_bound == plan.lower_bound


def test_the_contract_example_reads_and_writes_back_to_the_same_portfolio(tmp_path: Path) -> None:
    portfolio = load_portfolio(EXAMPLE)
    assert load_portfolio(str(EXAMPLE)) == portfolio
    assert load_portfolio(json.loads(EXAMPLE.read_text())) == portfolio
    path = tmp_path / "again.json"
    text = dump_portfolio(portfolio, path)
    assert path.read_text(encoding="utf-8") == text
    assert json.loads(text)["format"] == PORTFOLIO_FORMAT
    assert load_portfolio(path) == portfolio
    # what was not given stays not given: the written file names no more keys than the example
    written = portfolio_to_dict(portfolio)
    original = json.loads(EXAMPLE.read_text())
    assert set(written) <= set(original) | {"format"}
    assert len(written["people"]) == len(original["people"])


def test_a_plan_file_round_trips(tmp_path: Path) -> None:
    portfolio = load_portfolio(EXAMPLE)
    plan = solve(portfolio, SolveParams(greedy_only=True)).plan
    path = tmp_path / "plan.json"
    text = dump_plan(plan, path)
    assert json.loads(text)["format"] == PLAN_FORMAT
    assert load_plan(path) == plan
    assert load_plan(json.loads(text)) == plan


def test_bad_json_names_the_line_and_column() -> None:
    with pytest.raises(PortfolioError, match="at line 2 column 8"):
        parse_json_text('{\n  "a": ,\n}', "p.json")
    with pytest.raises(PortfolioError, match="non-finite number NaN"):
        parse_json_text('{"effort_hours": NaN}')


def test_missing_or_broken_files_raise_the_readers_error(tmp_path: Path) -> None:
    with pytest.raises(PortfolioError, match="file not found"):
        load_portfolio(tmp_path / "none.json")
    with pytest.raises(PlanFormatError, match="file not found"):
        load_plan(tmp_path / "none.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    with pytest.raises(PlanFormatError, match=r"broken\.json is not valid JSON"):
        load_plan(broken)


def test_a_plan_of_another_format_is_refused() -> None:
    portfolio = load_portfolio(EXAMPLE)
    data = plan_to_dict(solve(portfolio, SolveParams(greedy_only=True)).plan)
    data["format"] = "allocator.plan/v9"
    _, issues = read_plan(data)
    assert [i for i in issues if i.severity == "error" and i.path == "format"]
    with pytest.raises(PlanFormatError):
        load_plan(data)
