"""A hand-made portfolio and plan for the drivers and skills tests: "crm-etl waits for
crm-schema (amir), which stretches over amir's time off 11-15 Jan"."""

from __future__ import annotations

from typing import Any

from allocator.contract import load_portfolio, read_plan
from allocator.domain import Plan, Portfolio

PORTFOLIO: dict[str, Any] = {
    "format": "allocator.portfolio/v1",
    "name": "drivers-case",
    "calendar": {"start": "2027-01-04", "end": "2027-03-26", "holidays": ["2027-01-27"]},
    "people": [
        {
            "id": "amir",
            "skills": {"sql": 3},
            "time_off": [{"start": "2027-01-11", "end": "2027-01-15"}],
        },
        {"id": "bo", "skills": {"python": 2, "sql": 1}, "available_until": "2027-03-05"},
    ],
    "projects": [
        {
            "id": "crm",
            "deadline": "2027-01-20",
            "tasks": [
                {"id": "crm-schema", "skill": "sql", "min_level": 3, "effort_hours": 56},
                {
                    "id": "crm-etl",
                    "skill": "python",
                    "effort_hours": 16,
                    "predecessors": ["crm-schema"],
                },
                {
                    "id": "crm-report",
                    "skill": "python",
                    "effort_hours": 16,
                    "deadline": "2027-03-01",
                },
                {"id": "crm-review", "skill": "sql", "effort_hours": 24, "deadline": "2027-03-01"},
            ],
        },
        {
            "id": "ops",
            "tasks": [
                {
                    "id": "ops-late",
                    "skill": "python",
                    "effort_hours": 8,
                    "earliest_start": "2027-02-01",
                }
            ],
        },
    ],
}

# crm-schema: 4-8 Jan, amir away 11-15 Jan, 18-19 Jan (7 active days); crm-etl right after it,
# one working day past crm's deadline; crm-report and crm-review queue behind on bo; crm-review
# stretches over the 27 Jan holiday; ops-late starts when it may.
PLAN: dict[str, Any] = {
    "format": "allocator.plan/v2",
    "portfolio": "drivers-case",
    "status": "feasible",
    "objective": {"undelivered_work_hours": 0},
    "lower_bound": None,
    "gap": None,
    "solve_seconds": 0,
    "assignments": [
        {"task": "crm-schema", "people": ["amir"], "start": "2027-01-04", "finish": "2027-01-19"},
        {"task": "crm-etl", "people": ["bo"], "start": "2027-01-20", "finish": "2027-01-21"},
        {"task": "crm-report", "people": ["bo"], "start": "2027-01-22", "finish": "2027-01-25"},
        {"task": "crm-review", "people": ["bo"], "start": "2027-01-26", "finish": "2027-01-29"},
        {"task": "ops-late", "people": ["bo"], "start": "2027-02-01", "finish": "2027-02-01"},
    ],
    "unassigned": [],
}


def case() -> tuple[Portfolio, Plan]:
    plan, issues = read_plan(PLAN)
    assert not [i for i in issues if getattr(i, "severity", "error") == "error"], issues
    return load_portfolio(PORTFOLIO), plan
