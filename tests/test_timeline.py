"""``allocator.timeline``: working days, availability, capacity and durations (contract
*calendar*, *person* and *Duration*), checked against dates worked out by hand.

The calendar of most tests: 2027-01-04 (a Monday) .. 2027-01-15 (a Friday), Mon-Fri, with a
holiday on Wednesday 2027-01-06: nine working days, index 0 .. 8.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from allocator.contract import read_portfolio
from allocator.domain import Person, Portfolio, Progress, Task
from allocator.timeline import (
    Timeline,
    availability,
    capacity,
    common_availability,
    effort_duration,
    finish_from,
    task_duration,
)
from tests.conftest import portfolio_dict

HOLIDAY = date(2027, 1, 6)


def portfolio(people: list[dict[str, Any]], **calendar: Any) -> Portfolio:
    data = portfolio_dict(
        people,
        [{"id": "t", "skill": "py", "effort_hours": 8}],
        end="2027-01-15",
    )
    data["calendar"].update({"holidays": [HOLIDAY.isoformat()], **calendar})
    p, issues = read_portfolio(data)
    assert not [i for i in issues if i.severity == "error"], issues
    return p


def d(day: int) -> date:
    return date(2027, 1, day)


def test_working_days_skip_weekends_and_holidays() -> None:
    tl = Timeline.of(portfolio([{"id": "ann", "skills": {"py": 3}}]))
    assert tl.days == (d(4), d(5), d(7), d(8), d(11), d(12), d(13), d(14), d(15))
    assert len(tl) == 9
    assert tl.idx(d(7)) == 2
    assert tl.idx(HOLIDAY) is None and tl.idx(d(9)) is None  # a holiday, a Saturday
    # a date off the working days: the next / previous working day's index
    assert tl.first_on_or_after(HOLIDAY) == 2 and tl.last_on_or_before(HOLIDAY) == 1
    assert tl.first_on_or_after(d(9)) == 4 and tl.last_on_or_before(d(10)) == 3
    assert tl.first_on_or_after(d(16)) == len(tl) and tl.last_on_or_before(d(3)) == -1


def test_calendar_workdays_replace_the_default_week() -> None:
    tl = Timeline.of(portfolio([{"id": "ann", "skills": {"py": 3}}], workdays=["Mon", "Sat"]))
    assert tl.days == (d(4), d(9), d(11))


def test_availability_with_time_off_and_a_personal_week() -> None:
    p = portfolio(
        [
            {
                "id": "ann",
                "skills": {"py": 3},
                "time_off": [{"start": "2027-01-07", "end": "2027-01-11"}],
            },
            {"id": "bob", "skills": {"py": 3}, "workdays": ["Mon", "Wed", "Fri"]},
            {
                "id": "cat",
                "skills": {"py": 3},
                "available_from": "2027-01-05",
                "available_until": "2027-01-13",
            },
        ]
    )
    tl = Timeline.of(p)
    ann, bob, cat = p.people
    # days:                    4     5     7      8      11     12    13    14     15
    assert availability(p, tl, ann) == [1, 1, 0, 0, 0, 1, 1, 1, 1]
    assert availability(p, tl, bob) == [1, 0, 0, 1, 1, 0, 1, 0, 1]  # Wed 6th: a holiday
    assert availability(p, tl, cat) == [0, 1, 1, 1, 1, 1, 1, 0, 0]
    both = common_availability([availability(p, tl, ann), availability(p, tl, bob)], len(tl))
    assert both == [1, 0, 0, 0, 0, 0, 1, 0, 1]
    assert common_availability([], 3) == [True, True, True]


def test_capacity_takes_the_smallest_reduced_range_and_zero_when_away() -> None:
    p = portfolio(
        [
            {
                "id": "ann",
                "skills": {"py": 3},
                "time_off": [{"start": "2027-01-14", "end": "2027-01-14"}],
                "reduced_capacity": [
                    {"start": "2027-01-05", "end": "2027-01-11", "percent": 80},
                    {"start": "2027-01-08", "end": "2027-01-12", "percent": 50},
                ],
            }
        ]
    )
    tl = Timeline.of(p)
    (ann,) = p.people
    #                                    4      5     7     8     11    12    13     14   15
    assert capacity(p, tl, ann) == [100.0, 80.0, 80.0, 50.0, 50.0, 50.0, 100.0, 0.0, 100.0]


@pytest.mark.parametrize(
    ("effort", "hours", "allocation", "days"),
    [
        (8, 8, 100, 1),
        (9, 8, 100, 2),  # a started day counts whole
        (16, 8, 50, 4),
        (20, 6, 100, 4),  # 3.33 days
        (12, 4, 100, 3),
        (0.3 * 8 * 10, 8, 100, 3),  # 2.4000000000000004 without the rounding: still 3
        (2.4, 0.8, 100, 3),  # 3.0000000000000004 without the rounding: 4
    ],
)
def test_effort_duration_rounds_to_nine_places_before_the_ceiling(
    effort: float, hours: float, allocation: int, days: int
) -> None:
    assert effort_duration(effort, hours, allocation) == days


def test_task_duration_per_person_and_for_in_progress_work() -> None:
    part = Person("p", hours_per_day=4)
    full = Person("f")
    task = Task("t", "P", skill="py", effort_hours=20)
    assert task_duration(task, full) == 3 and task_duration(task, part) == 5
    assert task_duration(Task("t", "P", duration_days=4), None) == 4
    left_hours = Task(
        "t", "P", skill="py", effort_hours=80, status="in_progress",
        progress=Progress(("f",), remaining_hours=12),
    )  # fmt: skip
    assert task_duration(left_hours, full) == 2
    left_days = Task(
        "t", "P", skill="py", effort_hours=80, status="in_progress",
        progress=Progress(("f",), remaining_days=3),
    )  # fmt: skip
    assert task_duration(left_days, None) == 3
    with pytest.raises(ValueError, match="needs a person"):
        task_duration(task, None)


def test_finish_from_counts_active_days_only() -> None:
    active = [True, False, True, True, False, True]
    assert finish_from(active, 0, 1) == 0
    assert finish_from(active, 0, 3) == 3
    assert finish_from(active, 2, 3) == 5
    assert finish_from(active, 1, 1) is None  # not active on its start
    assert finish_from(active, 3, 3) is None  # the horizon ends first
    assert finish_from(active, -1, 1) is None and finish_from(active, 6, 1) is None
