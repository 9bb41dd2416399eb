"""Shared fixtures. Hypothesis: a ``ci`` profile (no deadlines: solves vary in time)."""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    deadline=None,
    max_examples=25,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
settings.register_profile(
    "dev", deadline=None, max_examples=15, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

# A lower bound above a plan's objective is a bug to surface, never to hide: in the tests the
# engine raises allocator.engine.BoundError instead of logging it and dropping the bound.
os.environ.setdefault("ALLOCATOR_STRICT_BOUNDS", "1")


def portfolio_dict(
    people: list[dict[str, Any]],
    tasks: list[dict[str, Any]],
    *,
    start: str = "2027-01-04",
    end: str = "2027-01-29",
    policy: dict[str, Any] | None = None,
    project: dict[str, Any] | None = None,
    **top: Any,
) -> dict[str, Any]:
    """A one-project portfolio over four Mon-Fri weeks (20 working days) unless told otherwise."""
    proj = {"id": "P", "tasks": tasks, **(project or {})}
    out: dict[str, Any] = {
        "format": "allocator.portfolio/v1",
        "name": "tiny",
        "calendar": {"start": start, "end": end},
        "people": people,
        "projects": [proj],
        **top,
    }
    if policy is not None:
        out["policy"] = policy
    return out


@pytest.fixture
def ok_small() -> dict[str, Any]:
    """3 people, 4 tasks, easy to reason about: a chain a -> b, and two independent tasks."""
    return portfolio_dict(
        [
            {"id": "ann", "skills": {"py": 4}, "cost_per_hour": 50},
            {"id": "bob", "skills": {"py": 2, "qa": 3}, "cost_per_hour": 40},
            {"id": "cat", "skills": {"qa": 4}, "cost_per_hour": 30},
        ],
        [
            {"id": "a", "skill": "py", "min_level": 3, "effort_hours": 16},
            {"id": "b", "skill": "qa", "effort_hours": 8, "predecessors": ["a"]},
            {"id": "c", "skill": "py", "effort_hours": 24},
            {"id": "d", "skill": "qa", "min_level": 4, "effort_hours": 40},
        ],
    )
