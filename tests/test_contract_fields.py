"""The optional fields of 2026-12-07: task ``estimate``, project ``budget`` and
``all_or_nothing``, person ``placeholder`` (``shared/contract/README.md``).

Every layer carries them: the JSON reader and writer and the tables round-trip them exactly,
the builder takes them as keywords, validation names the path and the id of a bad value, the
checker enforces rule 10 (an all-or-nothing project is assigned whole or not at all), and the
engine never returns a plan that breaks it.

The tiny portfolios here run over the four Mon-Fri weeks of ``portfolio_dict`` (2027-01-04 ..
2027-01-29, 20 working days); everyone works 8 h a day, so an 8 h task lasts one day.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from allocator.builder import PortfolioBuilder
from allocator.checker import Violation, check
from allocator.contract import (
    dump_portfolio,
    load_portfolio,
    portfolio_to_dict,
    read_portfolio,
)
from allocator.domain import Assignment, Estimate, Plan, Portfolio, Unassigned
from allocator.engine import SolveParams, solve
from allocator.errors import PortfolioError
from allocator.frames import FrameError, portfolio_from_tables, portfolio_to_frames
from allocator.generator import generate
from allocator.validation import validate
from solver_models.greedy import greedy
from solver_models.instance import compile_instance
from solver_models.schedule import (
    Schedule,
    all_or_nothing_drops,
    all_or_nothing_reason,
    enforce_all_or_nothing,
    mark_all_or_nothing,
    to_plan,
)
from tests.conftest import portfolio_dict

PARAMS = SolveParams(time_limit=5, workers=1, seed=0)


# ---------------------------------------------------------------------------------------------
# Strategies: generated portfolios decorated with the new fields
# ---------------------------------------------------------------------------------------------
def _decorate(p: Portfolio, data: st.DataObject) -> Portfolio:
    """``p`` with each new field drawn per person / project / task (absent, or a valid value;
    explicit ``False`` too, which must survive as given)."""
    flags = st.one_of(st.none(), st.booleans())
    people = tuple(
        dataclasses.replace(x, placeholder=data.draw(flags, label=f"placeholder {x.id}"))
        for x in p.people
    )
    budgets = st.one_of(
        st.none(),
        st.integers(0, 10**9),
        st.floats(0, 1e9, allow_nan=False, allow_infinity=False),
    )
    projects = []
    for pr in p.projects:
        tasks = []
        for t in pr.tasks:
            nominal = t.nominal
            estimate = None
            if nominal is not None and data.draw(st.booleans(), label=f"has estimate {t.id}"):
                low_f = data.draw(st.floats(0.05, 1.0), label=f"low {t.id}")
                high_f = data.draw(st.floats(1.0, 4.0), label=f"high {t.id}")
                estimate = Estimate(low=nominal * low_f, high=nominal * high_f)
                if data.draw(st.booleans(), label=f"exact {t.id}"):
                    estimate = Estimate(low=nominal, high=nominal)  # equal to the nominal
            tasks.append(dataclasses.replace(t, estimate=estimate))
        projects.append(
            dataclasses.replace(
                pr,
                tasks=tuple(tasks),
                budget=data.draw(budgets, label=f"budget {pr.id}"),
                all_or_nothing=data.draw(flags, label=f"all_or_nothing {pr.id}"),
            )
        )
    return dataclasses.replace(p, people=people, projects=tuple(projects))


@st.composite
def decorated(draw: st.DrawFn) -> Portfolio:
    base = generate(
        draw(st.integers(1, 8), label="people"),
        draw(st.integers(1, 4), label="projects"),
        seed=draw(st.integers(0, 10_000), label="seed"),
        tasks_per_project=(1, 5),
        team_task_share=draw(st.sampled_from([0.0, 0.3]), label="team share"),
    )
    return _decorate(base, draw(st.data()))


# ---------------------------------------------------------------------------------------------
# Round trips
# ---------------------------------------------------------------------------------------------
@given(decorated())
def test_json_round_trip_with_new_fields_is_exact(portfolio: Portfolio) -> None:
    assert validate(portfolio).ok, validate(portfolio).errors
    text = dump_portfolio(portfolio)
    again, issues = read_portfolio(json.loads(text))
    assert issues == []  # no error, and no "unknown key" warning for the new fields
    assert again == portfolio
    assert dump_portfolio(again) == text


@given(decorated())
def test_frames_round_trip_with_new_fields_is_exact(portfolio: Portfolio) -> None:
    frames = portfolio_to_frames(portfolio)
    back = portfolio_from_tables(frames)
    assert back == portfolio
    assert portfolio_to_dict(back) == portfolio_to_dict(portfolio)
    for name, df in portfolio_to_frames(back).items():
        assert df.equals(frames[name]), name


def _with_fields() -> dict[str, Any]:
    return portfolio_dict(
        [
            {"id": "ann", "skills": {"py": 3}},
            {"id": "hire-1", "skills": {"py": 4}, "placeholder": True},
            {"id": "bob", "skills": {"qa": 2}, "placeholder": False},
        ],
        [
            {"id": "a", "skill": "py", "effort_hours": 16, "estimate": {"low": 12, "high": 30.5}},
            {
                "id": "b",
                "requirements": [{"skill": "qa"}],
                "duration_days": 3,
                "estimate": {"low": 3, "high": 3},
            },
        ],
        project={"budget": 12500.5, "all_or_nothing": True},
    )


def test_the_fields_are_read_as_given_and_written_back() -> None:
    data = _with_fields()
    p = load_portfolio(data)
    ann, hire, bob = p.people
    assert (ann.placeholder, hire.placeholder, bob.placeholder) == (None, True, False)
    assert (ann.is_placeholder, hire.is_placeholder, bob.is_placeholder) == (False, True, False)
    project = p.projects[0]
    assert (project.budget, project.all_or_nothing, project.whole) == (12500.5, True, True)
    a, b = project.tasks
    assert a.estimate == Estimate(12, 30.5) and a.effort_range == (12, 30.5)
    assert b.estimate == Estimate(3, 3) and b.nominal == 3
    assert portfolio_to_dict(p) == data


def test_defaults_when_not_given(ok_small: dict[str, Any]) -> None:
    p = load_portfolio(ok_small)
    assert not p.people[0].is_placeholder and p.people[0].placeholder is None
    assert not p.projects[0].whole and p.projects[0].budget is None
    a = p.projects[0].tasks[0]
    assert a.estimate is None and a.effort_range == (16, 16)
    assert "estimate" not in json.dumps(portfolio_to_dict(p))


def test_builder_keywords_carry_the_fields() -> None:
    m = PortfolioBuilder("b", start="2027-01-04", end="2027-01-29")
    m.person("ann", skills={"py": 3}, placeholder=True)
    pr = m.project("P", budget=100, all_or_nothing=True)
    pr.task("a", skill="py", effort_hours=8, estimate=(6, 12))
    pr.task("b", skill="py", effort_hours=8, estimate={"low": 8, "high": 9})
    pr.task("c", skill="py", duration_days=2, estimate=Estimate(1, 4))
    p = m.build()
    assert p.people[0].placeholder is True
    assert (p.projects[0].budget, p.projects[0].all_or_nothing) == (100, True)
    assert [t.estimate for t in p.projects[0].tasks] == [
        Estimate(6, 12),
        Estimate(8, 9),
        Estimate(1, 4),
    ]
    m.edit_task("a", estimate=None)
    m.edit_person("ann", placeholder=None)
    pr.set(all_or_nothing=False, budget=None)
    again = m.build()
    assert again.projects[0].tasks[0].estimate is None and again.people[0].placeholder is None
    assert (again.projects[0].budget, again.projects[0].all_or_nothing) == (None, False)
    assert PortfolioBuilder.from_portfolio(p).build() == p


# ---------------------------------------------------------------------------------------------
# Validation: every error names its JSON path and id
# ---------------------------------------------------------------------------------------------
def _errors(data: dict[str, Any]) -> list[str]:
    with pytest.raises(PortfolioError) as info:
        load_portfolio(data)
    return [str(i) for i in info.value.issues if i.severity == "error"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"estimate": {"low": 0, "high": 20}},
            "projects[0].tasks[0].estimate.low: task a: estimate low must be > 0, got 0",
        ),
        (
            {"estimate": {"low": 20, "high": 30}},
            "projects[0].tasks[0].estimate.low: task a: estimate low must be <= the nominal "
            "effort_hours 16, got 20",
        ),
        (
            {"estimate": {"low": 8, "high": 15.5}},
            "projects[0].tasks[0].estimate.high: task a: estimate high must be >= the nominal "
            "effort_hours 16, got 15.5",
        ),
        (
            {"estimate": {"low": 8}},
            "projects[0].tasks[0].estimate.high: task a: missing required field 'high'",
        ),
        (
            {"estimate": {"low": "8", "high": 20}},
            "projects[0].tasks[0].estimate.low: must be a number, got the string '8'",
        ),
        (
            {"estimate": [8, 20]},
            "projects[0].tasks[0].estimate: task a: estimate must be an object, got a list",
        ),
        (
            {"effort_hours": None, "estimate": {"low": 8, "high": 20}},
            "projects[0].tasks[0].estimate: task a: estimate is the range of effort_hours or "
            "duration_days; the task has neither",
        ),
    ],
)
def test_bad_estimates_are_named(change: dict[str, Any], expected: str) -> None:
    data = portfolio_dict([{"id": "ann", "skills": {"py": 3}}], [{"id": "a", "skill": "py"}])
    task = {"id": "a", "skill": "py", "effort_hours": 16, **change}
    if task["effort_hours"] is None:
        del task["effort_hours"]
    data["projects"][0]["tasks"] = [task]
    assert expected in _errors(data)


def test_estimate_in_days_is_compared_with_duration_days() -> None:
    data = portfolio_dict(
        [{"id": "ann", "skills": {"py": 3}}],
        [{"id": "w", "requirements": [], "duration_days": 5, "estimate": {"low": 6, "high": 9}}],
    )
    assert _errors(data) == [
        "projects[0].tasks[0].estimate.low: task w: estimate low must be <= the nominal "
        "duration_days 5, got 6"
    ]


def test_bad_budget_flags_and_placeholder_are_named() -> None:
    data = portfolio_dict(
        [{"id": "ann", "skills": {"py": 3}, "placeholder": "yes"}],
        [{"id": "a", "skill": "py", "effort_hours": 8}],
        project={"budget": -1, "all_or_nothing": 1},
    )
    errors = _errors(data)
    assert "people[0].placeholder: must be true or false, got the string 'yes'" in errors
    assert "projects[0].all_or_nothing: must be true or false, got the number 1" in errors
    assert "projects[0].budget: project P: budget must be >= 0, got -1" in errors
    assert len(errors) == 3


def test_new_fields_are_no_longer_unknown_keys() -> None:
    _, issues = read_portfolio(_with_fields())
    assert issues == []
    data = _with_fields()
    data["projects"][0]["tasks"][0]["estimate"]["likely"] = 14
    _, issues = read_portfolio(data)
    assert [(i.path, i.severity) for i in issues] == [
        ("projects[0].tasks[0].estimate.likely", "warning")
    ]


def test_all_or_nothing_project_with_an_impossible_task_is_warned() -> None:
    data = portfolio_dict(
        [{"id": "ann", "skills": {"py": 3}}],
        [
            {"id": "a", "skill": "py", "effort_hours": 8},
            {"id": "b", "skill": "ml", "effort_hours": 8},
        ],
        project={"all_or_nothing": True},
    )
    p, issues = read_portfolio(data)
    report = validate(p, issues)
    assert report.ok
    assert [str(w) for w in report.warnings if w.path == "projects[0].all_or_nothing"] == [
        "projects[0].all_or_nothing: project P: all-or-nothing, and nobody has skill 'ml' at "
        "level 1 or above for its task b: none of its tasks will be planned"
    ]


def test_table_errors_name_row_and_column() -> None:
    p = load_portfolio(_with_fields())
    frames = portfolio_to_frames(p)
    frames["tasks"].loc[0, "estimate_low"] = 40.0  # above the nominal 16 h
    frames["projects"].loc[0, "budget"] = -3.0
    with pytest.raises(FrameError) as info:
        portfolio_from_tables(frames)
    text = str(info.value)
    assert (
        "tasks row 0 (id a), column estimate_low: estimate low must be <= the nominal "
        "effort_hours 16, got 40"
    ) in text
    assert "projects row 0 (id P), column budget: must be >= 0, got -3" in text


# ---------------------------------------------------------------------------------------------
# Checker: rule 10
# ---------------------------------------------------------------------------------------------
def _aon_portfolio(all_or_nothing: bool | None = True) -> Portfolio:
    """ann (py), one project W: a and b, 8 h each (one day)."""
    project: dict[str, Any] = {"id": "W"}
    if all_or_nothing is not None:
        project["all_or_nothing"] = all_or_nothing
    return load_portfolio(
        portfolio_dict(
            [{"id": "ann", "skills": {"py": 3}}],
            [
                {"id": "a", "skill": "py", "effort_hours": 8},
                {"id": "b", "skill": "py", "effort_hours": 8},
            ],
            project=project,
        )
    )


def _plan(assigned: dict[str, date], unassigned: list[str]) -> Plan:
    return Plan(
        portfolio="tiny",
        status="feasible",
        objective=None,
        lower_bound=None,
        solve_seconds=0.0,
        assignments=tuple(Assignment(t, ("ann",), d, d) for t, d in assigned.items()),
        unassigned=tuple(Unassigned(t, ("why",)) for t in unassigned),
    )


def _rules(portfolio: Portfolio, plan: Plan) -> list[Violation]:
    """Violations of the contract's rules 1-10 (rule 0, the declared objective, is left out:
    these plans declare none)."""
    return [v for v in check(portfolio, plan).violations if v.rule != 0]


def test_rule10_flags_a_partially_assigned_project() -> None:
    plan = _plan({"a": date(2027, 1, 4)}, ["b"])
    violations = _rules(_aon_portfolio(), plan)
    assert [(v.rule, v.code, v.task) for v in violations] == [(10, "all_or_nothing_partial", "b")]
    assert "project W is all-or-nothing" in violations[0].message


@pytest.mark.parametrize(
    ("assigned", "unassigned"),
    [({"a": date(2027, 1, 4), "b": date(2027, 1, 5)}, []), ({}, ["a", "b"])],
)
def test_rule10_accepts_all_or_none(assigned: dict[str, date], unassigned: list[str]) -> None:
    assert _rules(_aon_portfolio(), _plan(assigned, unassigned)) == []


@pytest.mark.parametrize("flag", [None, False])
def test_rule10_only_for_all_or_nothing_projects(flag: bool | None) -> None:
    plan = _plan({"a": date(2027, 1, 4)}, ["b"])
    assert _rules(_aon_portfolio(flag), plan) == []


def test_rule10_ignores_done_tasks() -> None:
    p = _aon_portfolio()
    b_done = dataclasses.replace(p.projects[0].tasks[1], status="done")
    p = dataclasses.replace(
        p, projects=(dataclasses.replace(p.projects[0], tasks=(p.projects[0].tasks[0], b_done)),)
    )
    assert _rules(p, _plan({"a": date(2027, 1, 4)}, [])) == []


# ---------------------------------------------------------------------------------------------
# Engine side: enforce_all_or_nothing / all_or_nothing_drops / mark_all_or_nothing
# ---------------------------------------------------------------------------------------------
def _chain_portfolio() -> Portfolio:
    """W (all-or-nothing): w1, w2, w3 after w1. V (all-or-nothing): v1 after o2, v2.
    O (ordinary): o1, o2 after w1. Everything is py, 8 h (one day); ann and bob do py."""
    return load_portfolio(
        {
            "format": "allocator.portfolio/v1",
            "name": "chain",
            "calendar": {"start": "2027-01-04", "end": "2027-01-29"},
            "people": [
                {"id": "ann", "skills": {"py": 3}},
                {"id": "bob", "skills": {"py": 3}},
            ],
            "projects": [
                {
                    "id": "W",
                    "all_or_nothing": True,
                    "tasks": [
                        {"id": "w1", "skill": "py", "effort_hours": 8},
                        {"id": "w2", "skill": "py", "effort_hours": 8},
                        {"id": "w3", "skill": "py", "effort_hours": 8, "predecessors": ["w1"]},
                    ],
                },
                {
                    "id": "O",
                    "tasks": [
                        {"id": "o1", "skill": "py", "effort_hours": 8},
                        {"id": "o2", "skill": "py", "effort_hours": 8, "predecessors": ["w1"]},
                    ],
                },
                {
                    "id": "V",
                    "all_or_nothing": True,
                    "tasks": [
                        {"id": "v1", "skill": "py", "effort_hours": 8, "predecessors": ["o2"]},
                        {"id": "v2", "skill": "py", "effort_hours": 8},
                    ],
                },
            ],
        }
    )


def test_enforce_drops_the_project_and_the_successors_transitively() -> None:
    p = _chain_portfolio()
    inst = compile_instance(p)
    full = greedy(inst, rule="edf")
    assert len(full) == 7  # everything fits: the greedy plan assigns all
    assert enforce_all_or_nothing(inst, full) is full  # nothing to drop: the same object
    # w2 left out: W is partial -> w1, w3 go; o2 follows w1; V becomes partial -> v2 goes too
    ix = inst.task_index
    raw = dataclasses.replace(
        full,
        start={t: s for t, s in full.start.items() if t != ix["w2"]},
        finish={t: s for t, s in full.finish.items() if t != ix["w2"]},
        people={t: s for t, s in full.people.items() if t != ix["w2"]},
    )
    drops = all_or_nothing_drops(inst, raw)
    w_reason = "project W is all-or-nothing and its task w2 could not be planned"
    assert w_reason == all_or_nothing_reason("W", "w2")
    assert {inst.tasks[t].id: r for t, r in drops.items()} == {
        "w1": w_reason,
        "w3": w_reason,
        "o2": f"its predecessor w1 is not planned: {w_reason}",
        "v1": f"its predecessor o2 is not planned: {w_reason}",
        "v2": "project V is all-or-nothing and its task v1 could not be planned",
    }
    enforced = enforce_all_or_nothing(inst, raw)
    assert len(raw) == 6  # the input is not changed
    assert sorted(inst.tasks[t].id for t in enforced.start) == ["o1"]
    plan = to_plan(
        inst,
        enforced,
        status="feasible",
        objective=None,
        lower_bound=None,
        solve_seconds=0.0,
        solver="test",
    )
    assert _rules(p, plan) == []  # valid, rule 10 and rule 7 included
    assert (
        _rules(
            p,
            to_plan(
                inst,
                raw,
                status="feasible",
                objective=None,
                lower_bound=None,
                solve_seconds=0.0,
                solver="test",
            ),
        )[0].rule
        == 10
    )


def test_enforce_names_a_dropped_pin() -> None:
    data = portfolio_dict(
        [{"id": "ann", "skills": {"py": 3}}],
        [
            {"id": "a", "skill": "py", "effort_hours": 8, "pinned": {"person": "ann"}},
            {"id": "b", "skill": "py", "effort_hours": 8},
        ],
        project={"all_or_nothing": True},
    )
    inst = compile_instance(load_portfolio(data))
    raw = Schedule()
    raw.add(inst.task_index["a"], 0, 0, [0])
    assert all_or_nothing_drops(inst, raw) == {
        inst.task_index["a"]: "project P is all-or-nothing and its task b could not be planned"
        " (its pin to ann cannot be kept)"
    }


def test_mark_all_or_nothing_propagates_an_impossible_task() -> None:
    """Nobody has ml: W's other tasks and, through w1, o2 and then V cannot be assigned."""
    p = _chain_portfolio()
    data = portfolio_to_dict(p)
    data["projects"][0]["tasks"][1]["skill"] = "ml"  # w2
    inst = compile_instance(load_portfolio(data))
    assert [t.id for t in inst.tasks if not t.possible] == ["w2"]
    marked = mark_all_or_nothing(inst)
    out = {t.id: t.out_reasons[-1] for t in inst.tasks if not t.possible}
    w_reason = "project W is all-or-nothing and its task w2 could not be planned"
    assert sorted(inst.tasks[t].id for t in marked) == ["o2", "v1", "v2", "w1", "w3"]
    assert out["w1"] == out["w3"] == w_reason
    assert out["o2"] == f"its predecessor w1 cannot be assigned: {w_reason}"
    assert out["v2"] == "project V is all-or-nothing and its task v1 could not be planned"
    assert [t.id for t in inst.tasks if t.possible] == ["o1"]
    assert mark_all_or_nothing(inst) == []  # idempotent


# ---------------------------------------------------------------------------------------------
# The engine (needs enforce_all_or_nothing / mark_all_or_nothing wired into allocator.engine)
# ---------------------------------------------------------------------------------------------
def test_solve_leaves_an_all_or_nothing_project_out_when_one_task_cannot_be_done() -> None:
    """W's w2 needs ml, which nobody has: none of W is planned, nor o2 (after w1); o1 is."""
    p = _chain_portfolio()
    data = portfolio_to_dict(p)
    data["projects"][0]["tasks"][1]["skill"] = "ml"
    data["projects"] = data["projects"][:2]  # W and O
    p = load_portfolio(data)
    plan = solve(p, PARAMS).plan
    result = check(p, plan)
    assert result.valid, [str(v) for v in result.violations]
    assert sorted(a.task for a in plan.assignments) == ["o1"]
    reasons = {u.task: " ".join(u.reasons) for u in plan.unassigned}
    assert sorted(reasons) == ["o2", "w1", "w2", "w3"]
    assert "nobody has skill 'ml'" in reasons["w2"]
    # w1 could be done: its reason names the project and the task that held it back
    assert "project W is all-or-nothing" in reasons["w1"] and "w2" in reasons["w1"]
    # w3 is W's too: its reason names the project and the task that holds it back
    assert "project W is all-or-nothing" in reasons["w3"] and "w2" in reasons["w3"]
    assert "w1" in reasons["o2"], reasons["o2"]  # o2 follows w1: its reason leads back to it


def test_solve_never_returns_a_partial_all_or_nothing_project() -> None:
    """Only ann does py, 10 working days (2027-01-04 .. 01-15): w1 and w2 take 10 days each,
    so only one of them fits. The plan must leave W out whole (rule 10), with reasons naming it;
    bob's qa task is unaffected."""
    data = portfolio_dict(
        [{"id": "ann", "skills": {"py": 3}}, {"id": "bob", "skills": {"qa": 3}}],
        [
            {"id": "w1", "skill": "py", "effort_hours": 80},
            {"id": "w2", "skill": "py", "effort_hours": 80},
        ],
        end="2027-01-15",
        project={"id": "W", "all_or_nothing": True},
    )
    data["projects"].append({"id": "O", "tasks": [{"id": "o1", "skill": "qa", "effort_hours": 8}]})
    p = load_portfolio(data)
    plan = solve(p, PARAMS).plan
    result = check(p, plan)
    assert result.valid, [str(v) for v in result.violations]
    assert [a.task for a in plan.assignments] == ["o1"]
    for u in plan.unassigned:
        assert "project W is all-or-nothing" in " ".join(u.reasons), u
