"""Issue #16's reproduction cases at the door: each answers 422 naming the field, fast, and the
server's memory stays small (they drove it to 5 GB, or answered 500, before the limits)."""

from __future__ import annotations

import copy
import json
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import key_headers, new_tenant

PORTFOLIO: dict[str, Any] = {
    "format": "allocator.portfolio/v1",
    "name": "limits",
    "calendar": {"start": "2027-01-04", "end": "2027-01-29"},
    "people": [{"id": "ann", "skills": {"py": 3}}, {"id": "bob", "skills": {"py": 2}}],
    "projects": [{"id": "P", "tasks": [{"id": "a", "skill": "py", "effort_hours": 16}]}],
}
TASK = "projects[0].tasks[0]"
#: what one hostile request may cost the server
MAX_SECONDS = 5.0
MAX_PEAK_BYTES = 50_000_000


def bounded(request: Callable[[], Any]) -> Any:
    """``request()`` answers within MAX_SECONDS, and allocates at most MAX_PEAK_BYTES (the
    Python heap of the test process, which is the server's: TestClient runs the app in it).
    It runs twice: timed, then traced (tracing slows allocation several times over)."""
    started = time.perf_counter()
    answer = request()
    elapsed = time.perf_counter() - started
    assert elapsed < MAX_SECONDS, f"took {elapsed:.1f}s"
    tracemalloc.start()
    try:
        again = request()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MAX_PEAK_BYTES, f"peaked at {peak:,} bytes"
    assert again.status_code == answer.status_code
    return answer


def edited(edit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    data = copy.deepcopy(PORTFOLIO)
    edit(data)
    return data


def huge_team(d: dict[str, Any]) -> None:
    d["projects"][0]["tasks"][0] = {
        "id": "a",
        "requirements": [{"skill": "py", "count": 10**15}],
        "duration_days": 2,
    }


def long_calendar(d: dict[str, Any]) -> None:
    d["calendar"] = {"start": "0001-01-01", "end": "9999-12-30"}
    d["people"] = [{"id": f"p{i}", "skills": {"py": 3}} for i in range(100)]


def last_day_calendar(d: dict[str, Any]) -> None:
    d["calendar"] = {"start": "9999-12-01", "end": "9999-12-31"}


def tiny_hours(d: dict[str, Any]) -> None:
    d["people"][0]["hours_per_day"] = 5e-324


def huge_effort(d: dict[str, Any]) -> None:
    d["projects"][0]["tasks"][0]["effort_hours"] = 1e308


def huge_rate(d: dict[str, Any]) -> None:
    d["people"][0]["cost_per_hour"] = 1e308


CASES = [
    pytest.param(huge_team, f"{TASK}.requirements[0].count", id="team-count-1e15"),
    pytest.param(long_calendar, "calendar", id="calendar-0001-9999-100-people"),
    pytest.param(last_day_calendar, "calendar.end", id="calendar-ends-9999-12-31"),
    pytest.param(tiny_hours, "people[0].hours_per_day", id="hours-per-day-5e-324"),
    pytest.param(huge_effort, f"{TASK}.effort_hours", id="effort-1e308"),
    pytest.param(huge_rate, "people[0].cost_per_hour", id="cost-per-hour-1e308"),
]


def paths(r: Any) -> set[str]:
    return {d["path"] for d in r.json()["error"]["details"]}


@pytest.mark.parametrize(("edit", "path"), CASES)
def test_oversized_portfolios_are_422_at_the_door(
    client: TestClient, edit: Callable[[dict[str, Any]], None], path: str
) -> None:
    h = key_headers(client.app, new_tenant(), "planner")  # type: ignore[arg-type]
    body = edited(edit)
    r = bounded(lambda: client.post("/v1/portfolios", json=body, headers=h))
    assert r.status_code == 422, r.text
    assert path in paths(r)
    assert client.get("/v1/portfolios", headers=h).json()["total"] == 0  # nothing stored
    # the synchronous solve reads it through the same door (it answered 500 on some)
    r = bounded(lambda: client.post("/v1/solve", json={"portfolio": body}, headers=h))
    assert r.status_code == 422, r.text  # the people limit of /v1/solve may speak first
    assert {f"portfolio.{path}", path, "people"} & paths(r)


def test_a_viewer_cannot_make_the_checker_walk_ten_thousand_years(client: TestClient) -> None:
    tenant = new_tenant()
    planner = key_headers(client.app, tenant, "planner")  # type: ignore[arg-type]
    viewer = key_headers(client.app, tenant, "viewer")  # type: ignore[arg-type]
    r = client.post("/v1/portfolios", json=PORTFOLIO, headers=planner)
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    plan = {
        "format": "allocator.plan/v2",
        "portfolio": "limits",
        "status": "feasible",
        "objective": None,
        "lower_bound": None,
        "solve_seconds": 0,
        "assignments": [
            {"task": "a", "people": ["ann"], "start": "0001-01-01", "finish": "9999-12-30"}
        ],
        "unassigned": [],
    }
    r = bounded(lambda: client.post(f"/v1/portfolios/{pid}/check", json=plan, headers=viewer))
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "limit_exceeded"
    assert paths(r) == {"assignments[0].start", "assignments[0].finish"}

    # a plan of 40,000 assignments (within the body limit) for a portfolio of one task: refused
    # before the plan is read
    many = dict(plan, assignments=[plan["assignments"][0] | {"start": "2027-01-04"}] * 40_000)
    raw = json.dumps(many).encode()  # about 3.2 MB
    r = bounded(
        lambda: client.post(
            f"/v1/portfolios/{pid}/check",
            content=raw,
            headers=viewer | {"content-type": "application/json"},
        )
    )
    assert r.status_code == 422, r.text
    assert paths(r) == {"assignments"}

    # a plan within the limits is still checked
    ok = dict(
        plan,
        assignments=[
            {"task": "a", "people": ["ann"], "start": "2027-01-04", "finish": "2027-01-05"}
        ],
    )
    r = client.post(f"/v1/portfolios/{pid}/check", json=ok, headers=viewer)
    assert r.status_code == 200, r.text


def test_the_limits_are_in_the_openapi_schema(make_client: Callable[..., TestClient]) -> None:
    client = make_client(public_docs=True)
    schema = client.get("/openapi.json").json()
    body = schema["paths"]["/v1/portfolios"]["post"]["requestBody"]["content"]["application/json"]
    limits = body["schema"]["x-size-limits"]
    assert limits["max_calendar_days"] == 7_305 and limits["min_hours_per_day"] == 0.25
    assert "hours_per_day 0.25..24" in body["schema"]["description"]
