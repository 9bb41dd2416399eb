"""Tests of the independent plan checker (``allocator.checker``).

Every test starts from one tiny portfolio and one hand-built valid plan (``valid_plan``), then
breaks exactly one thing and asserts that exactly the expected violation is reported.

The tiny portfolio (``tiny``): calendar Mon 2027-01-04 .. Fri 2027-01-15, holiday Wed 01-13,
so the working days and their idx are::

    Mon 04:0  Tue 05:1  Wed 06:2  Thu 07:3  Fri 08:4  Mon 11:5  Tue 12:6  Thu 14:7  Fri 15:8

People:
    ana  python 5, sql 4; 8 h/day; 100/h; time off Thu 01-07
    ben  python 3;        8 h/day;  50/h; works Mon-Thu (a part-timer: off on Fridays)
    cy   sql 5;           4 h/day;  80/h; capacity 90% on 01-11 .. 01-12

Project ``web`` (priority 2, deadline Tue 01-12):
    api     python>=4, 32 h effort          (ana: 32 / 8 = 4 days)
    ui      python>=3, 3 days at 50%
    review  team: python>=3 + sql>=4, 2 days at 50%, after api
Project ``data`` (priority 1):
    etl     sql, 8 h effort at 50%          (cy: 8 / (4 * 0.5) = 4 days)
    report  sql>=4, 16 h effort, after etl
    lag     needs nobody, 2 days, after etl
    old     done (not to plan)
"""

from __future__ import annotations

import copy
import dataclasses
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from allocator.checker import (
    CheckResult,
    Violation,
    check,
    effort_days,
    expected_duration,
    kpis,
)
from allocator.contract import read_plan, read_portfolio
from allocator.domain import (
    Assignment,
    Calendar,
    DateRange,
    Person,
    Plan,
    Policy,
    Portfolio,
    Project,
    ReducedCapacity,
    Task,
    Unassigned,
    frozen_map,
)
from allocator.objective import evaluate, gap_of, objective_value, plan_terms, weights

D = date.fromisoformat
AUTO: Any = object()  # "compute the objective from the plan itself"


# ---------------------------------------------------------------------------------------------
# Builders
# ---------------------------------------------------------------------------------------------
def tiny_dict() -> dict[str, Any]:
    return {
        "format": "allocator.portfolio/v1",
        "name": "tiny",
        "calendar": {"start": "2027-01-04", "end": "2027-01-15", "holidays": ["2027-01-13"]},
        "people": [
            {
                "id": "ana",
                "skills": {"python": 5, "sql": 4},
                "cost_per_hour": 100,
                "time_off": [{"start": "2027-01-07", "end": "2027-01-07"}],
            },
            {
                "id": "ben",
                "skills": {"python": 3},
                "cost_per_hour": 50,
                "workdays": ["Mon", "Tue", "Wed", "Thu"],
            },
            {
                "id": "cy",
                "skills": {"sql": 5},
                "hours_per_day": 4,
                "cost_per_hour": 80,
                "reduced_capacity": [{"start": "2027-01-11", "end": "2027-01-12", "percent": 90}],
            },
        ],
        "projects": [
            {
                "id": "web",
                "priority": 2,
                "deadline": "2027-01-12",
                "tasks": [
                    {"id": "api", "skill": "python", "min_level": 4, "effort_hours": 32},
                    {
                        "id": "ui",
                        "skill": "python",
                        "min_level": 3,
                        "duration_days": 3,
                        "allocation": 50,
                    },
                    {
                        "id": "review",
                        "requirements": [
                            {"skill": "python", "min_level": 3},
                            {"skill": "sql", "min_level": 4},
                        ],
                        "duration_days": 2,
                        "allocation": 50,
                        "predecessors": ["api"],
                    },
                ],
            },
            {
                "id": "data",
                "tasks": [
                    {"id": "etl", "skill": "sql", "effort_hours": 8, "allocation": 50},
                    {
                        "id": "report",
                        "skill": "sql",
                        "min_level": 4,
                        "effort_hours": 16,
                        "predecessors": ["etl"],
                    },
                    {
                        "id": "lag",
                        "requirements": [],
                        "duration_days": 2,
                        "predecessors": ["etl"],
                    },
                    {"id": "old", "skill": "sql", "effort_hours": 8, "status": "done"},
                ],
            },
        ],
    }


def load(data: dict[str, Any]) -> Portfolio:
    portfolio, issues = read_portfolio(data)
    assert not [i for i in issues if i.severity == "error"], issues
    return portfolio


def tiny(**changes: Any) -> Portfolio:
    """The tiny portfolio; ``changes`` maps a task id (or "policy") to fields to set on it."""
    data = tiny_dict()
    for key, fields in changes.items():
        if key == "policy":
            data["policy"] = fields
            continue
        for project in data["projects"]:
            if key == project["id"]:
                project.update(fields)
            for t in project["tasks"]:
                if t["id"] == key:
                    t.update(fields)
    return load(data)


Row = tuple[str, list[str], str, str]

# The valid plan. Why each line holds (rules 4-7; rules 1-3 are plain to see):
#   api    ana  Tue 05 .. Mon 11: span 05 06 07 08 11, ana is off Thu 07 -> active 05 06 08 11
#               = 4 days = 32 h / 8 h. It stretches over ana's time off.
#   ui     ben  Thu 07 .. Tue 12: span 07 08 11 12, ben does not work Fridays -> active 07 11 12
#               = 3 days. It stretches over a part-timer's day off.
#   review ben+cy Tue 12 .. Thu 14: span 12 (13 is a holiday) 14 -> 2 active days; ben has
#               python 3 (place python>=3), cy sql 5 (place sql>=4). Starts after api (Mon 11).
#   etl    cy   Mon 04 .. Thu 07: active 04 05 06 07 = 4 days = 8 h / (4 h * 50%).
#   lag    nobody, Fri 08 .. Mon 11: 2 working days; after etl (Thu 07).
#   report unassigned (allowed by the portfolio objective; its predecessor etl is assigned).
# Capacity: ben on Tue 12 has ui 50% + review 50% = 100%; cy on Tue 12 (capacity 90%) has
# review 50% only; cy Mon 04 .. Thu 07 has etl 50%; ana has api 100% on available days only.
# Review finishes Thu 14 (idx 7), after the web deadline Tue 12 (idx 6): late by 1 day, which
# is allowed since deadlines are soft by default.
VALID: list[Row] = [
    ("api", ["ana"], "2027-01-05", "2027-01-11"),
    ("ui", ["ben"], "2027-01-07", "2027-01-12"),
    ("review", ["ben", "cy"], "2027-01-12", "2027-01-14"),
    ("etl", ["cy"], "2027-01-04", "2027-01-07"),
    ("lag", [], "2027-01-08", "2027-01-11"),
]
VALID_UNASSIGNED = ["report"]


def make_plan(
    portfolio: Portfolio,
    rows: list[Row],
    unassigned: list[str],
    *,
    status: str = "feasible",
    objective: Any = AUTO,
    lower_bound: dict[str, float | int] | None = None,
    gap: Any = AUTO,
    name: str | None = None,
) -> Plan:
    """A plan of ``rows``; its objective terms (``AUTO``: evaluated on the plan) and gap
    (``AUTO``: the contract's gap of the objective and ``lower_bound``)."""
    plan = Plan(
        portfolio=portfolio.name if name is None else name,
        status=status,  # type: ignore[arg-type]
        objective=None,
        lower_bound=lower_bound,
        solve_seconds=0.0,
        assignments=tuple(Assignment(t, tuple(p), D(s), D(f)) for t, p, s, f in rows),
        unassigned=tuple(Unassigned(t, ("test",)) for t in unassigned),
    )
    if objective is AUTO:
        objective = plan_terms(portfolio, plan)
    if gap is AUTO:
        gap = gap_of(objective, lower_bound)
    return dataclasses.replace(plan, objective=objective, gap=gap)


def valid_plan(portfolio: Portfolio, **kw: Any) -> Plan:
    return make_plan(portfolio, VALID, VALID_UNASSIGNED, **kw)


def replace_row(rows: list[Row], task: str, row: Row | None) -> list[Row]:
    """``rows`` with the row of ``task`` replaced by ``row`` (or removed when ``None``)."""
    out = [r for r in rows if r[0] != task]
    if row is not None:
        out.append(row)
    return out


def only(result: CheckResult) -> Violation:
    assert len(result.violations) == 1, [str(v) for v in result.violations]
    return result.violations[0]


def expect(
    result: CheckResult,
    code: str,
    rule: int,
    *,
    task: str | None = None,
    person: str | None = None,
    day: date | None = None,
) -> None:
    v = only(result)
    assert (v.code, v.rule, v.task, v.person, v.day) == (code, rule, task, person, day), v
    assert v.message
    assert not result.valid


# ---------------------------------------------------------------------------------------------
# The valid plan, the objective and the measures
# ---------------------------------------------------------------------------------------------
def test_valid_plan_checks_clean() -> None:
    p = tiny()
    result = check(p, valid_plan(p))
    assert result.valid, [str(v) for v in result.violations]
    assert result.violations == ()


def test_valid_plan_survives_the_json_round_trip() -> None:
    from allocator.contract import plan_to_dict

    p = tiny()
    for original in (
        valid_plan(p),  # no bound: gap null
        valid_plan(p, lower_bound={"undelivered_work_hours": 8.0}),
        valid_plan(p, status="optimal", lower_bound=dict(valid_plan(p).objective or {})),
        make_plan(p, [], [t.id for t in p.tasks_to_plan], status="unknown", objective=None),
    ):
        plan, issues = read_plan(plan_to_dict(original))
        assert not issues
        assert plan == original
        result = check(p, plan)
        assert result.valid and result.current


def test_objective_by_hand_equals_objective_value() -> None:
    # Terms of the valid plan (portfolio objective, 9 working days):
    #   undelivered: report, priority 1 x 16 h = 16.00 h -> 1600 hundredths
    #   late: review finishes idx 7, deadline idx 6, priority 2 -> 2
    #   finish: api 2*(5+1) + ui 2*(6+1) + review 2*(7+1) + etl 1*(3+1) + lag 1*(5+1) = 52
    #   cost (cents) = 100 * hours * (rate + over_levels):
    #     api ana 32 h * (100 + 5-4) = 3232;  ui ben 12 h * (50 + 0) = 600
    #     review ben 8 h * 50 = 400, cy 2*4*0.5 = 4 h * (80 + 5-4) = 324
    #     etl cy 8 h * (80 + 5-1) = 672                       -> 5228.00 -> 522800
    # Weights: C_max = sum over tasks of places x (ceil(100 x h_max x r_max) + 1), with
    # r_max = the dearest rate (ana 100) + 4 levels = 104 and h_max the most hours at the
    # portfolio's hours per day (8 and 4), recomputed here from the contract's duration rule;
    #   priorities sum to 9: F_max = 81, L_max = 90.
    import math

    from allocator.domain import Person
    from allocator.timeline import task_duration

    p = tiny()
    plan = valid_plan(p)
    terms = evaluate(p, plan)
    assert terms.key() == (1600, 2, 52, 522800)
    hpds = {x.day_hours for x in p.people}
    c_max = 0
    for t in p.tasks_to_plan:
        if t.places:
            h_max = max(
                task_duration(t, Person(id="", hours_per_day=h)) * h * t.alloc / 100 for h in hpds
            )
            c_max += len(t.places) * (math.ceil(100 * h_max * 104) + 1)
    assert c_max >= 848000  # at least the old bound: the dearest qualified person per place
    w_f = c_max + 1
    w_l = w_f * (81 + 1)
    w_u = w_l * (90 + 1)
    w = weights(p)
    assert (w.undelivered, w.late, w.finish) == (w_u, w_l, w_f)
    expected = w_u * 1600 + w_l * 2 + w_f * 52 + 522800
    assert objective_value(p, plan) == expected  # the internal combined key
    # what the plan carries (v2): the terms in planner units, in priority order
    assert list(plan.objective.items()) == [  # type: ignore[union-attr]
        ("undelivered_work_hours", 16.0),
        ("weighted_late_days", 2),
        ("weighted_finish_days", 52),
        ("cost", 5228.0),
    ]
    result = check(p, plan)
    assert result.valid and result.current
    as_floats = {k: float(v) for k, v in plan.objective.items()}  # type: ignore[union-attr]
    result = check(p, dataclasses.replace(plan, objective=as_floats))
    assert result.valid and result.current


def test_kpis_by_hand() -> None:
    # 6 tasks to plan, 5 assigned, report (16 h, priority 1) unassigned.
    # Late: review, 1 day at priority 2. Makespan: last finish Thu 14 = idx 7 -> 8.
    # Hours (active days x h/day x allocation):
    #   ana api 4*8*1 = 32; ben ui 3*8*.5 = 12 + review 2*8*.5 = 8 -> 20;
    #   cy review 2*4*.5 = 4 + etl 4*4*.5 = 8 -> 12.                     total 64
    # Cost: 32*100 + 20*50 + 12*80 = 3200 + 1000 + 960 = 5160.
    # Available hours over the 9 working days:
    #   ana 8 days (off Thu 07) * 8 = 64; ben 7 days (no Fridays 08, 15) * 8 = 56;
    #   cy 7 days * 4 + 2 days (11, 12) * 4 * 0.9 = 28 + 7.2 = 35.2.       total 155.2
    p = tiny()
    plan = valid_plan(p)
    k = kpis(p, plan)
    assert k == check(p, plan).kpis
    assert (k.tasks_to_plan, k.assigned, k.unassigned) == (6, 5, 1)
    assert k.assigned_share == pytest.approx(5 / 6)
    assert k.undelivered_work_hours == pytest.approx(16)
    assert k.undelivered_work_hours_unweighted == pytest.approx(16)
    assert (k.late_tasks, k.weighted_late_days, k.makespan_days) == (1, 2, 8)
    assert k.total_hours == pytest.approx(64)
    assert k.total_cost == pytest.approx(5160)
    assert k.utilization == pytest.approx(64 / 155.2)
    assert dict(k.utilization_by_person) == pytest.approx(
        {"ana": 32 / 64, "ben": 20 / 56, "cy": 12 / 35.2}
    )
    assert k.objective_terms == {
        "undelivered_work_hours": 16.0,
        "weighted_late_days": 2,
        "weighted_finish_days": 52,
        "cost": 5228.0,
    }
    d = k.as_dict()
    assert d["utilization_by_person"]["ana"] == pytest.approx(0.5)
    assert d["objective_terms"]["cost"] == 5228.0


def test_kpis_weighted_undelivered_and_makespan_terms() -> None:
    # Leaving ui (web, priority 2: 3 days x 1 place x 8 h x 50% = 12 h) unassigned as well:
    # undelivered = 2*12 + 1*16 = 40 weighted, 12 + 16 = 28 unweighted.
    # Under the makespan objective there are no objective terms.
    p = tiny()
    plan = make_plan(p, replace_row(VALID, "ui", None), [*VALID_UNASSIGNED, "ui"])
    k = kpis(p, plan)
    assert k.undelivered_work_hours == pytest.approx(40)
    assert k.undelivered_work_hours_unweighted == pytest.approx(28)
    assert k.total_hours == pytest.approx(64 - 12)
    m = tiny(policy={"objective": "makespan"})
    assert kpis(m, valid_plan(m)).objective_terms is None


def test_empty_plan_kpis() -> None:
    p = tiny()
    plan = make_plan(p, [], [t.id for t in p.tasks_to_plan], status="unknown", objective=None)
    result = check(p, plan)
    assert result.valid
    k = result.kpis
    assert (k.assigned, k.makespan_days, k.total_hours, k.utilization) == (0, 0, 0.0, 0.0)


# ---------------------------------------------------------------------------------------------
# Durations
# ---------------------------------------------------------------------------------------------
def test_effort_duration_rounds_before_ceiling() -> None:
    eight = Person("x")
    # 16.8 / (8 * 0.3) is 7.000000000000001 in floating point: 7 days, not 8.
    assert 16.8 / (8 * 30 / 100) > 7
    assert effort_days(16.8, eight, 30) == 7
    assert effort_days(17, eight, 100) == 3
    assert effort_days(8, Person("y", hours_per_day=4), 50) == 4


def test_expected_duration_of_in_progress_tasks() -> None:
    from allocator.domain import Progress

    ana = Person("ana")
    t = Task("t", "p", skill="python", effort_hours=40, status="in_progress")
    hours = dataclasses.replace(t, progress=Progress(("ana",), remaining_hours=12))
    days = dataclasses.replace(t, progress=Progress(("ana",), remaining_days=3))
    assert expected_duration(hours, ana) == 2
    assert expected_duration(hours, None) is None
    assert expected_duration(days, None) == 3
    assert expected_duration(t, ana) == 5


def test_in_progress_task_with_remaining_hours() -> None:
    # fix: in progress by ana, 12 h left -> ceil(12 / 8) = 2 days; ana is free Thu 14 and Fri 15.
    p = tiny(
        report={
            "status": "in_progress",
            "skill": "python",
            "progress": {"people": ["ana"], "remaining_hours": 12},
        }
    )
    rows = [*VALID, ("report", ["ana"], "2027-01-14", "2027-01-15")]
    assert check(p, make_plan(p, rows, [])).valid
    rows = [*VALID, ("report", ["ana"], "2027-01-12", "2027-01-15")]
    expect(check(p, make_plan(p, rows, [])), "duration", 4, task="report")


# ---------------------------------------------------------------------------------------------
# Rule 1: listing
# ---------------------------------------------------------------------------------------------
def test_missing_task() -> None:
    p = tiny()
    expect(check(p, make_plan(p, VALID, [])), "missing_task", 1, task="report")


def test_duplicate_task() -> None:
    p = tiny()
    plan = make_plan(p, VALID, [*VALID_UNASSIGNED, "api"])
    expect(check(p, plan), "duplicate_task", 1, task="api")


def test_duplicate_assignment_is_judged_once() -> None:
    p = tiny()
    plan = make_plan(p, [*VALID, VALID[0]], VALID_UNASSIGNED)
    expect(check(p, plan), "duplicate_task", 1, task="api")


def test_unknown_task() -> None:
    p = tiny()
    plan = make_plan(p, VALID, [*VALID_UNASSIGNED, "ghost"])
    expect(check(p, plan), "unknown_task", 1, task="ghost")


def test_done_task_listed() -> None:
    p = tiny()
    plan = make_plan(p, VALID, [*VALID_UNASSIGNED, "old"])
    expect(check(p, plan), "not_planned_listed", 1, task="old")


def test_cancelled_task_assigned() -> None:
    p = tiny(report={"status": "cancelled"})
    rows = [*VALID, ("report", ["cy"], "2027-01-14", "2027-01-15")]
    expect(check(p, make_plan(p, rows, [])), "not_planned_listed", 1, task="report")


# ---------------------------------------------------------------------------------------------
# Rule 2: people and places
# ---------------------------------------------------------------------------------------------
def test_distinct_people() -> None:
    p = tiny()
    rows = replace_row(VALID, "review", ("review", ["ben", "ben"], "2027-01-12", "2027-01-14"))
    expect(check(p, make_plan(p, rows, VALID_UNASSIGNED)), "distinct_people", 2,
           task="review", person="ben")  # fmt: skip


def test_excluded_person() -> None:
    p = tiny(api={"exclude": ["ana"]})
    expect(check(p, valid_plan(p)), "excluded_person", 2, task="api", person="ana")


def test_unknown_person() -> None:
    # zed constrains no day: ui Thu 07 .. Mon 11 has 3 working days, its duration.
    p = tiny()
    rows = replace_row(VALID, "ui", ("ui", ["zed"], "2027-01-07", "2027-01-11"))
    expect(check(p, make_plan(p, rows, VALID_UNASSIGNED)), "unknown_person", 2,
           task="ui", person="zed")  # fmt: skip


def test_place_count() -> None:
    # review with ben alone: still 2 active days (12, 14), capacities fine, one person short.
    p = tiny()
    rows = replace_row(VALID, "review", ("review", ["ben"], "2027-01-12", "2027-01-14"))
    expect(check(p, make_plan(p, rows, VALID_UNASSIGNED)), "place_count", 2, task="review")


def test_place_count_of_a_task_needing_nobody() -> None:
    p = tiny()
    rows = replace_row(VALID, "lag", ("lag", ["ana"], "2027-01-14", "2027-01-15"))
    expect(check(p, make_plan(p, rows, VALID_UNASSIGNED)), "place_count", 2, task="lag")


def test_skill_matching_fails_with_two_python_places() -> None:
    # Places python>=3 twice; ben has python 3, cy only sql 5: no matching.
    p = tiny(review={"requirements": [{"skill": "python", "min_level": 3, "count": 2}]})
    expect(check(p, valid_plan(p)), "skill_matching", 2, task="review")


def test_skill_matching_fails_although_each_person_fits_a_place() -> None:
    # Places python>=3 and sql>=5; ana (python 5, sql 4) and ben (python 3) both fit only the
    # python place. ana is free on 12 and 14 (api ended on 11); ben's load is unchanged.
    p = tiny(review={"requirements": [{"skill": "python", "min_level": 3},
                                      {"skill": "sql", "min_level": 5}]})  # fmt: skip
    rows = replace_row(VALID, "review", ("review", ["ana", "ben"], "2027-01-12", "2027-01-14"))
    expect(check(p, make_plan(p, rows, VALID_UNASSIGNED)), "skill_matching", 2, task="review")


def test_skill_matching_needs_augmenting_paths() -> None:
    # Places python>=3 then sql>=4, people ana (python 5, sql 4) then ben (python 3): a greedy
    # matcher putting ana on python fails; the matching ana->sql, ben->python exists.
    p = tiny()
    rows = replace_row(VALID, "review", ("review", ["ana", "ben"], "2027-01-12", "2027-01-14"))
    assert check(p, make_plan(p, rows, VALID_UNASSIGNED)).valid


def test_skill_level_too_low() -> None:
    p = tiny()
    rows = replace_row(VALID, "api", ("api", ["ben"], "2027-01-04", "2027-01-07"))
    rows = replace_row(rows, "ui", ("ui", ["ana"], "2027-01-08", "2027-01-12"))
    rows = replace_row(rows, "review", ("review", ["ana", "cy"], "2027-01-12", "2027-01-14"))
    plan = make_plan(p, rows, VALID_UNASSIGNED)
    # ben: api Mon 04 .. Thu 07 (4 days of 8 h = 32 h), but python 3 < 4.
    # ana: ui 08 11 12 at 50% + review 12 14 at 50%: 100% on Tue 12; review after api (07).
    expect(check(p, plan), "skill_matching", 2, task="api")


# ---------------------------------------------------------------------------------------------
# Rule 3: pins
# ---------------------------------------------------------------------------------------------
def test_pinned_person() -> None:
    p = tiny(ui={"pinned": {"person": "ana"}})
    expect(check(p, valid_plan(p)), "pin_person", 3, task="ui", person="ana")


def test_pinned_start() -> None:
    p = tiny(api={"pinned": {"start": "2027-01-04", "person": "ana"}})
    expect(check(p, valid_plan(p)), "pin_start", 3, task="api", day=D("2027-01-05"))


def test_pins_kept_are_valid() -> None:
    p = tiny(api={"pinned": {"start": "2027-01-05", "person": "ana"}})
    assert check(p, valid_plan(p)).valid


# ---------------------------------------------------------------------------------------------
# Rule 4: active days and durations
# ---------------------------------------------------------------------------------------------
def test_counting_the_time_off_day_is_wrong() -> None:
    # api Tue 05 .. Fri 08 counts ana's day off (Thu 07): only 3 active days, not 4.
    p = tiny()
    rows = replace_row(VALID, "api", ("api", ["ana"], "2027-01-05", "2027-01-08"))
    expect(check(p, make_plan(p, rows, VALID_UNASSIGNED)), "duration", 4, task="api")


def test_counting_the_part_timers_day_off_is_wrong() -> None:
    # ui Thu 07 .. Mon 11 counts ben's Friday: active 07, 11 only.
    p = tiny()
    rows = replace_row(VALID, "ui", ("ui", ["ben"], "2027-01-07", "2027-01-11"))
    expect(check(p, make_plan(p, rows, VALID_UNASSIGNED)), "duration", 4, task="ui")


def test_start_on_a_day_off() -> None:
    # ui Fri 08 .. Thu 14: active 11, 12, 14 = 3 days (right), but ben is off on Fri 08.
    # (ben on 12: ui + review = 100%; on 14: ui + review = 100%.)
    p = tiny()
    rows = replace_row(VALID, "ui", ("ui", ["ben"], "2027-01-08", "2027-01-14"))
    expect(check(p, make_plan(p, rows, VALID_UNASSIGNED)), "start_not_active", 4,
           task="ui", person="ben", day=D("2027-01-08"))  # fmt: skip


def test_start_on_time_off() -> None:
    # api Thu 07 .. Thu 14: active 08 11 12 14 = 4 days (right), but it starts on ana's day
    # off. review (after api) is left unassigned.
    p = tiny()
    rows = replace_row(VALID, "api", ("api", ["ana"], "2027-01-07", "2027-01-14"))
    rows = replace_row(rows, "review", None)
    result = check(p, make_plan(p, rows, [*VALID_UNASSIGNED, "review"]))
    expect(result, "start_not_active", 4, task="api", person="ana", day=D("2027-01-07"))
    assert "time off" in result.violations[0].message


def test_stretching_over_a_holiday_is_valid() -> None:
    # lag (nobody) Tue 12 .. Thu 14: 12 and 14 are its 2 working days (13 is a holiday).
    p = tiny()
    rows = replace_row(VALID, "lag", ("lag", [], "2027-01-12", "2027-01-14"))
    assert check(p, make_plan(p, rows, VALID_UNASSIGNED)).valid


def test_start_on_a_holiday() -> None:
    # lag Wed 13 .. Fri 15: 2 working days (14, 15), but it starts on the holiday.
    p = tiny()
    rows = replace_row(VALID, "lag", ("lag", [], "2027-01-13", "2027-01-15"))
    expect(check(p, make_plan(p, rows, VALID_UNASSIGNED)), "start_not_active", 4,
           task="lag", day=D("2027-01-13"))  # fmt: skip


def test_finish_on_a_holiday() -> None:
    # lag Mon 11 .. Wed 13: 2 working days (11, 12), but it finishes on the holiday.
    p = tiny()
    rows = replace_row(VALID, "lag", ("lag", [], "2027-01-11", "2027-01-13"))
    expect(check(p, make_plan(p, rows, VALID_UNASSIGNED)), "finish_not_active", 4,
           task="lag", day=D("2027-01-13"))  # fmt: skip


def test_finish_on_a_weekend() -> None:
    # etl Tue 05 .. Sat 09 for cy: active 05 06 07 08 = 4 days, but Sat 09 is no workday.
    # lag moves to Mon 11 .. Tue 12, after etl.
    p = tiny()
    rows = replace_row(VALID, "etl", ("etl", ["cy"], "2027-01-05", "2027-01-09"))
    rows = replace_row(rows, "lag", ("lag", [], "2027-01-11", "2027-01-12"))
    result = check(p, make_plan(p, rows, VALID_UNASSIGNED))
    v = only(result)
    assert (v.code, v.task, v.day) == ("finish_not_active", "etl", D("2027-01-09"))
    assert "Sat" in v.message


def test_finish_before_start() -> None:
    p = tiny()
    rows = replace_row(VALID, "lag", ("lag", [], "2027-01-12", "2027-01-11"))
    result = check(p, make_plan(p, rows, VALID_UNASSIGNED))
    assert "duration" in result.codes()
    assert all(v.task == "lag" for v in result.violations)


# ---------------------------------------------------------------------------------------------
# Rule 5: capacity
# ---------------------------------------------------------------------------------------------
def test_reduced_capacity_day_overbooked() -> None:
    # etl cy Thu 07 .. Tue 12 (active 07 08 11 12 = 4 days) then lag Thu 14 .. Fri 15.
    # On Tue 12 cy has etl 50% + review 50% = 100% > 90% (10% reduction).
    # On Mon 11 cy has etl 50% <= 90%: fine.
    p = tiny()
    rows = replace_row(VALID, "etl", ("etl", ["cy"], "2027-01-07", "2027-01-12"))
    rows = replace_row(rows, "lag", ("lag", [], "2027-01-14", "2027-01-15"))
    result = check(p, make_plan(p, rows, VALID_UNASSIGNED))
    expect(result, "capacity", 5, person="cy", day=D("2027-01-12"))
    assert "etl" in result.violations[0].message
    assert "review" in result.violations[0].message


def test_full_capacity_is_not_exceeded_at_100_percent() -> None:
    # The same two 50% tasks without the reduction are fine (100% <= 100%).
    data = tiny_dict()
    del data["people"][2]["reduced_capacity"]
    p = load(data)
    rows = replace_row(VALID, "etl", ("etl", ["cy"], "2027-01-07", "2027-01-12"))
    rows = replace_row(rows, "lag", ("lag", [], "2027-01-14", "2027-01-15"))
    assert check(p, make_plan(p, rows, VALID_UNASSIGNED)).valid


def test_overlapping_full_time_tasks() -> None:
    # report (ana, 2 days) on Fri 08 .. Mon 11 (after etl) overlaps api on both days.
    p = tiny()
    rows = [*VALID, ("report", ["ana"], "2027-01-08", "2027-01-11")]
    result = check(p, make_plan(p, rows, []))
    assert result.codes() == ["capacity", "capacity"]
    assert [(v.person, v.day) for v in result.violations] == [
        ("ana", D("2027-01-08")),
        ("ana", D("2027-01-11")),
    ]


# ---------------------------------------------------------------------------------------------
# Rule 6: time window
# ---------------------------------------------------------------------------------------------
def test_before_earliest_start() -> None:
    p = tiny(data={"start_after": "2027-01-05"})
    expect(check(p, valid_plan(p)), "before_earliest_start", 6, task="etl", day=D("2027-01-04"))


def test_before_as_of() -> None:
    data = tiny_dict()
    data["as_of"] = "2027-01-05"
    p = load(data)
    expect(check(p, valid_plan(p)), "before_earliest_start", 6, task="etl", day=D("2027-01-04"))


def test_after_horizon() -> None:
    # lag Thu 14 .. Mon 18: 2 working days in the horizon (14, 15), finishing after its end
    # (and so not on an active day).
    p = tiny()
    rows = replace_row(VALID, "lag", ("lag", [], "2027-01-14", "2027-01-18"))
    result = check(p, make_plan(p, rows, VALID_UNASSIGNED))
    assert result.codes() == ["finish_not_active", "after_horizon"]
    v = result.violations[1]
    assert (v.rule, v.task, v.day) == (6, "lag", D("2027-01-18"))


# ---------------------------------------------------------------------------------------------
# Rule 7: predecessors
# ---------------------------------------------------------------------------------------------
def test_predecessor_order() -> None:
    # review Mon 11 .. Tue 12 (2 active days) starts the day api finishes.
    p = tiny()
    rows = replace_row(VALID, "review", ("review", ["ben", "cy"], "2027-01-11", "2027-01-12"))
    expect(check(p, make_plan(p, rows, VALID_UNASSIGNED)), "predecessor_order", 7,
           task="review", day=D("2027-01-11"))  # fmt: skip


def test_successor_of_unassigned() -> None:
    p = tiny()
    plan = make_plan(p, replace_row(VALID, "api", None), [*VALID_UNASSIGNED, "api"])
    expect(check(p, plan), "successor_of_unassigned", 7, task="review")


def test_predecessor_missing_from_the_plan() -> None:
    p = tiny()
    result = check(p, make_plan(p, replace_row(VALID, "api", None), VALID_UNASSIGNED))
    assert [(v.code, v.task) for v in result.violations] == [
        ("missing_task", "api"),
        ("predecessor_unassigned", "review"),
    ]


def test_done_predecessor_is_satisfied() -> None:
    # api done (and so not listed): review, after it, is assigned on its own.
    p = tiny(api={"status": "done"})
    plan = make_plan(p, replace_row(VALID, "api", None), VALID_UNASSIGNED)
    assert check(p, plan).valid


# ---------------------------------------------------------------------------------------------
# Rules 8 and 9
# ---------------------------------------------------------------------------------------------
def test_hard_deadline() -> None:
    p = tiny(policy={"hard_deadlines": True})
    expect(check(p, valid_plan(p)), "late_hard_deadline", 8, task="review", day=D("2027-01-14"))


def test_hard_deadline_met() -> None:
    # Without review (the only late task), nothing is late: api ends idx 5, ui idx 6.
    p = tiny(policy={"hard_deadlines": True})
    plan = make_plan(p, replace_row(VALID, "review", None), [*VALID_UNASSIGNED, "review"])
    assert check(p, plan).valid


def test_deadline_on_a_non_working_day() -> None:
    # Deadline Wed 13 (holiday): D' = Tue 12 (idx 6); review finishing Thu 14 is 1 day late.
    p = tiny(web={"deadline": "2027-01-13"}, policy={"hard_deadlines": True})
    expect(check(p, valid_plan(p)), "late_hard_deadline", 8, task="review", day=D("2027-01-14"))


def test_makespan_objective_with_unassigned_task() -> None:
    p = tiny(policy={"objective": "makespan"})
    plan = valid_plan(p)
    assert plan.objective == {"makespan_days": 8}  # last finish Thu 14 = idx 7
    expect(check(p, plan), "makespan_unassigned", 9, task="report")


def test_makespan_objective_all_assigned() -> None:
    # report by ana (2 days), who is free on Tue 12 and Thu 14 (13 is a holiday).
    p = tiny(policy={"objective": "makespan"})
    rows = [*VALID, ("report", ["ana"], "2027-01-12", "2027-01-14")]
    plan = make_plan(p, rows, [])
    assert plan.objective == {"makespan_days": 8}
    result = check(p, plan)
    assert result.valid and result.current


# ---------------------------------------------------------------------------------------------
# Rule 0: plan-level consistency
# ---------------------------------------------------------------------------------------------
def test_portfolio_name() -> None:
    p = tiny()
    expect(check(p, valid_plan(p, name="other")), "portfolio_name", 0)


def test_status_infeasible_with_an_assignment() -> None:
    p = tiny()
    others = [t.id for t in p.tasks_to_plan if t.id != "etl"]
    plan = make_plan(p, [VALID[3]], others, status="infeasible", objective=None)
    expect(check(p, plan), "status_unassigned", 0, task="etl")


def test_status_unknown_needs_null_objective() -> None:
    p = tiny()
    every = [t.id for t in p.tasks_to_plan]
    terms = {"undelivered_work_hours": 5.0}
    for status in ("unknown", "infeasible"):
        plan = make_plan(p, [], every, status=status, objective=terms)
        expect(check(p, plan), "objective_status", 0)
        plan = make_plan(p, [], every, status=status, objective=None, lower_bound=terms)
        expect(check(p, plan), "objective_status", 0)
        assert check(p, make_plan(p, [], every, status=status, objective=None)).valid


def test_feasible_plan_needs_its_objective() -> None:
    p = tiny()
    for status in ("feasible", "optimal"):
        expect(check(p, valid_plan(p, status=status, objective=None)), "objective_status", 0)


# The valid plan's terms: undelivered 16.00 h, late 2, finish 52, cost 5228.00 (see above).
TERMS: dict[str, float | int] = {
    "undelivered_work_hours": 16.0,
    "weighted_late_days": 2,
    "weighted_finish_days": 52,
    "cost": 5228.0,
}


def test_objective_mismatch_is_stale_not_a_violation() -> None:
    p = tiny()
    assert valid_plan(p).objective == TERMS
    for wrong in (
        {**TERMS, "cost": 5228.01},
        {**TERMS, "undelivered_work_hours": 17.0},
        {k: v for k, v in TERMS.items() if k != "cost"},  # a term missing
        dict(reversed(TERMS.items())),  # the terms out of priority order
        {"makespan_days": 8},  # another objective's terms
    ):
        result = check(p, valid_plan(p, objective=wrong))
        assert result.valid, [str(v) for v in result.violations]
        assert not result.current
        assert [(v.code, v.rule) for v in result.stale] == [("objective_mismatch", 0)]
        assert result.stale[0].message
        assert result.as_dict()["stale"][0]["code"] == "objective_mismatch"
    result = check(p, valid_plan(p))
    assert result.current and result.stale == () and result.as_dict()["stale"] == []


def test_plan_whose_portfolio_effort_changed_is_valid_but_stale() -> None:
    # report (unassigned) grows from 16 h to 24 h: the plan still keeps every rule, but its
    # undelivered work is now 24 h, not the 16 h it declares.
    p = tiny()
    plan = valid_plan(p)
    changed = tiny(report={"effort_hours": 24})
    result = check(changed, plan)
    assert result.valid, [str(v) for v in result.violations]
    assert not result.current
    assert [v.code for v in result.stale] == ["objective_mismatch"]
    assert "24" in result.stale[0].message
    # re-scored on the changed portfolio, the same assignments are current again
    rescored = valid_plan(changed)
    assert rescored.objective == {**TERMS, "undelivered_work_hours": 24.0}
    result = check(changed, rescored)
    assert result.valid and result.current
    # a change that breaks a rule is a violation as well as stale: api needs 5 days of ana
    broken = tiny(api={"effort_hours": 40})
    result = check(broken, plan)
    assert "duration" in result.codes()
    assert not result.valid


def test_objective_as_float_within_tolerance() -> None:
    p = tiny(policy={"objective": "makespan"})
    rows = [*VALID, ("report", ["ana"], "2027-01-12", "2027-01-14")]
    result = check(p, make_plan(p, rows, [], objective={"makespan_days": 8.0000000001}))
    assert result.valid and result.current
    result = check(p, make_plan(p, rows, [], objective={"makespan_days": 8.1}))
    assert result.valid and not result.current
    assert [v.code for v in result.stale] == ["objective_mismatch"]


def test_bound_above_objective() -> None:
    p = tiny()
    for name, value in TERMS.items():
        for delta in (0.01, 1):
            above = {**TERMS, name: value + delta}
            expect(check(p, valid_plan(p, lower_bound=above)), "bound_above_objective", 0)
    below = {"undelivered_work_hours": 15.99}
    result = check(p, valid_plan(p, lower_bound=below))
    assert result.valid and result.current
    assert valid_plan(p, lower_bound=below).gap == 0.01  # (16 - 15.99) / 16, rounded up


def test_bound_terms_must_be_objective_terms() -> None:
    p = tiny()
    expect(check(p, valid_plan(p, lower_bound={"makespan_days": 3})), "bound_terms", 0)
    m = tiny(policy={"objective": "makespan"})
    rows = [*VALID, ("report", ["ana"], "2027-01-12", "2027-01-14")]
    bound = {"makespan_days": 8, "undelivered_work_hours": 0.0}
    expect(check(m, make_plan(m, rows, [], lower_bound=bound)), "bound_terms", 0)


def test_optimal_status_needs_closed_gap() -> None:
    p = tiny()
    result = check(p, valid_plan(p, status="optimal", lower_bound=dict(TERMS)))
    assert result.valid and result.current
    assert valid_plan(p, status="optimal", lower_bound=dict(TERMS)).gap == 0.0
    below = {**TERMS, "undelivered_work_hours": 15.0}
    expect(check(p, valid_plan(p, status="optimal", lower_bound=below)), "optimal_gap", 0)
    # a later term below its value, or without a bound, is not proven either
    last_open = {**TERMS, "cost": 5000.0}
    expect(check(p, valid_plan(p, status="optimal", lower_bound=last_open)), "optimal_gap", 0)
    first_only = {"undelivered_work_hours": 16.0}
    expect(check(p, valid_plan(p, status="optimal", lower_bound=first_only)), "optimal_gap", 0)
    expect(check(p, valid_plan(p, status="optimal")), "optimal_gap", 0)
    # the same figures under status feasible are fine
    assert check(p, valid_plan(p, lower_bound=last_open)).valid


def test_gap_mismatch() -> None:
    p = tiny()
    half = {"undelivered_work_hours": 8.0}  # gap (16 - 8) / 16 = 0.5
    assert valid_plan(p, lower_bound=half).gap == 0.5
    assert check(p, valid_plan(p, lower_bound=half)).valid
    for wrong in (0.4, 0.0, None):
        expect(check(p, valid_plan(p, lower_bound=half, gap=wrong)), "gap_mismatch", 0)
    # no bound: no gap; proven: gap 0
    expect(check(p, valid_plan(p, gap=0.0)), "gap_mismatch", 0)
    assert valid_plan(p).gap is None and check(p, valid_plan(p)).valid
    proven_plan = valid_plan(p, status="optimal", lower_bound=dict(TERMS), gap=0.5)
    expect(check(p, proven_plan), "gap_mismatch", 0)
    # the gap of the first unproven term: undelivered proven, cost 5228 -> 2614
    later = {**TERMS, "cost": 2614.0}
    assert valid_plan(p, lower_bound=later).gap == 0.5
    expect(check(p, valid_plan(p, lower_bound=later, gap=0.01)), "gap_mismatch", 0)


def _v1_dict(p: Portfolio, plan: Plan, *, bound_delta: int | None = 0) -> dict[str, Any]:
    """``plan`` written as an ``allocator.plan/v1`` file: one combined objective number, the
    bound in the same unit (``bound_delta`` below it; None: no bound) and ``objective_terms``
    under the portfolio objective."""
    from allocator.contract import plan_to_dict

    d = plan_to_dict(plan)
    d["format"] = "allocator.plan/v1"
    d.pop("gap", None)
    for c in d.get("changes") or []:
        c.pop("forced", None)
    combined = objective_value(p, plan)
    d["objective"] = combined
    d["lower_bound"] = None if bound_delta is None else combined - bound_delta
    if p.policy.goal == "portfolio":
        d["objective_terms"] = dict(plan.objective or {})
    return d


def test_v1_plan_file_still_loads_and_checks(tmp_path: Path) -> None:
    import json

    from allocator.contract import load_plan

    p = tiny()
    plan = valid_plan(p)
    # proven in v1 (bound equal to the objective): loads as proven terms, from a file too
    path = tmp_path / "plan-v1.json"
    path.write_text(json.dumps(_v1_dict(p, plan)))
    assert load_plan(path) == load_plan(str(path))
    loaded, issues = read_plan(_v1_dict(p, plan))
    assert [i for i in issues if i.severity == "error"] == []
    assert load_plan(path) == loaded
    assert loaded.objective == TERMS and loaded.lower_bound == TERMS and loaded.gap == 0.0
    assert loaded.assignments == plan.assignments and loaded.unassigned == plan.unassigned
    optimal = dataclasses.replace(loaded, status="optimal")
    result = check(p, optimal)
    assert result.valid and result.current
    # an unproven v1 bound cannot be split into terms: the plan loads without one
    loaded = load_plan(_v1_dict(p, plan, bound_delta=5))
    assert loaded.objective == TERMS and loaded.lower_bound is None and loaded.gap is None
    result = check(p, loaded)
    assert result.valid and result.current
    # a v1 plan checks like any: a broken rule is reported, a changed portfolio makes it stale
    assert not check(tiny(policy={"hard_deadlines": True}), loaded).valid
    result = check(tiny(report={"effort_hours": 24}), loaded)
    assert result.valid and not result.current
    # makespan: v1 wrote the number of days
    m = tiny(policy={"objective": "makespan"})
    rows = [*VALID, ("report", ["ana"], "2027-01-12", "2027-01-14")]
    mplan = make_plan(m, rows, [])
    loaded = load_plan(_v1_dict(m, mplan, bound_delta=2))
    assert loaded.objective == {"makespan_days": 8}
    assert loaded.lower_bound == {"makespan_days": 6} and loaded.gap == 0.25
    result = check(m, loaded)
    assert result.valid and result.current


def test_violation_as_dict() -> None:
    p = tiny(policy={"hard_deadlines": True})
    result = check(p, valid_plan(p))
    d = result.as_dict()
    assert d["valid"] is False
    assert d["violations"][0]["day"] == "2027-01-14"
    assert d["violations"][0]["code"] == "late_hard_deadline"


def test_inputs_are_not_modified() -> None:
    data = tiny_dict()
    before = copy.deepcopy(data)
    p = load(data)
    check(p, valid_plan(p))
    assert data == before


# ---------------------------------------------------------------------------------------------
# Scale
# ---------------------------------------------------------------------------------------------
def test_two_thousand_tasks_three_hundred_people_in_seconds() -> None:
    # One year, 300 people each doing 7 consecutive 4-day tasks (2,100 tasks), half of them
    # chained to the previous one; p0 is a part-timer (Mon-Thu), p1 has time off, p2 reduced
    # capacity. The makespan objective keeps the timing about the checker's own work: the
    # portfolio objective's weights() loops over tasks x people and alone takes seconds here.
    start = date(2027, 1, 4)
    end = date(2027, 12, 31)
    people = []
    for i in range(300):
        people.append(
            Person(
                f"p{i}",
                skills=frozen_map({"s": 1 + i % 5}),
                cost_per_hour=50 + i % 7,
                time_off=(),
                reduced_capacity=(),
            )
        )
    people[0] = dataclasses.replace(people[0], workdays=("Mon", "Tue", "Wed", "Thu"))
    people[1] = dataclasses.replace(
        people[1], time_off=(DateRange(date(2027, 3, 1), date(2027, 3, 5)),)
    )
    people[2] = dataclasses.replace(
        people[2], reduced_capacity=(ReducedCapacity(date(2027, 1, 4), date(2027, 2, 26), 100),)
    )
    tasks: list[Task] = []
    rows: list[Assignment] = []
    days = [start + timedelta(days=k) for k in range(400)]
    working = [d for d in days if d.weekday() < 5 and d <= end]
    for i in range(300):
        pos = 0
        for j in range(7):
            tid = f"t{i}_{j}"
            preds = (f"t{i}_{j - 1}",) if j and j % 2 == 0 else ()
            tasks.append(Task(tid, "big", skill="s", duration_days=4, predecessors=preds))
            if i == 0:  # the part-timer: skip Fridays
                own = [d for d in working if d.weekday() < 4]
                s, f = own[pos], own[pos + 3]
            else:
                s, f = working[pos], working[pos + 3]
            rows.append(Assignment(tid, (f"p{i}",), s, f))
            pos += 4
    portfolio = Portfolio(
        "big",
        Calendar(start, end),
        tuple(people),
        (Project("big", tuple(tasks)),),
        Policy(objective="makespan"),
    )
    plan = Plan("big", "feasible", None, None, 0.0, tuple(rows), ())
    plan = dataclasses.replace(plan, objective=plan_terms(portfolio, plan))
    result = check(portfolio, plan)  # its time: `python -m benchmarks.timings`
    assert result.valid, [str(v) for v in result.violations[:5]]
    assert result.kpis.assigned == 2100
    # p0 (Mon-Thu) finishes on the Thursday of week 7: idx 6 * 5 + 3 = 33.
    assert result.kpis.makespan_days == 34
