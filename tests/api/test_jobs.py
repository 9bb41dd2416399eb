"""Solve jobs through the real app, on SQLite and PostgreSQL: the queue in the database, the
workers, progress, best plan so far, cancel, limits, plan versions and assignment rows, the
checker, the synchronous solve."""

from __future__ import annotations

import copy
import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from allocator.checker import check
from allocator.contract import plan_to_dict, portfolio_to_dict, read_plan, read_portfolio
from allocator.domain import Portfolio
from allocator.engine import Result, SolveParams, solve
from allocator.generator import generate
from allocator_api import job_kinds
from allocator_api.models import AssignmentRow, JobRow, PlanRow, utcnow
from tests.api.conftest import AppFactory, key_headers, new_tenant, wait_job


def planner_with(client: TestClient, body: dict[str, Any]) -> tuple[dict[str, str], str]:
    """The job tests' set-up: a new tenant's planner key (as headers) and its stored
    ``body``'s portfolio id."""
    h = key_headers(client.app, new_tenant(), "planner")  # type: ignore[arg-type]
    r = client.post("/v1/portfolios", json=body, headers=h)
    assert r.status_code == 201, r.text
    return h, str(r.json()["id"])


def slow_portfolio() -> dict[str, Any]:
    """Big enough that CP-SAT uses its whole (short) time limit: 73 tasks, 15 people."""
    return portfolio_to_dict(generate(15, 10, seed=1))


def test_solve_follow_plan_versions_rows_and_check(
    client: TestClient, ok_small: dict[str, Any]
) -> None:
    h, pid = planner_with(client, ok_small)
    r = client.post(f"/v1/portfolios/{pid}/solve", json={"time_limit": 1, "workers": 1}, headers=h)
    assert r.status_code == 202, r.text
    assert r.headers["Location"] == f"/v1/jobs/{r.json()['job_id']}"
    job = wait_job(client, r.json()["job_id"], h)
    assert job["status"] == "done", job
    progress = job["progress"]
    assert progress["stage"] == "done" and progress["gap"] is not None
    # terms in planner units; each proven bound at most its term's value
    assert next(iter(progress["objective"])) == "undelivered_work_hours"
    assert progress["lower_bound"], progress
    assert all(b <= progress["objective"][k] for k, b in progress["lower_bound"].items())
    assert progress["elapsed"] >= 0

    plan_r = client.get(f"/v1/jobs/{job['id']}/plan", headers=h)
    assert plan_r.status_code == 200 and plan_r.headers["X-Plan-Final"] == "true"
    plan, issues = read_plan(plan_r.json())
    assert not issues
    portfolio = read_portfolio(ok_small)[0]
    assert check(portfolio, plan).valid
    assert plan.objective is not None and dict(plan.objective) == progress["objective"]

    # a second solve is version 2; versions newest first
    job2 = client.post(f"/v1/portfolios/{pid}/solve", headers=h).json()["job_id"]
    assert wait_job(client, job2, h)["status"] == "done"
    versions = client.get(f"/v1/portfolios/{pid}/plans", headers=h).json()
    assert versions["total"] == 2
    assert [v["version"] for v in versions["items"]] == [2, 1]
    assert [v["job_id"] for v in versions["items"]] == [job2, job["id"]]
    assert all(v["final"] and v["portfolio_revision"] == 1 for v in versions["items"])
    one = client.get(f"/v1/plans/{job['plan_id']}", headers=h).json()
    assert one["version"] == 1 and one["plan"] == plan_r.json()
    assert plan_r.headers["Content-Location"] == f"/v1/plans/{job['plan_id']}"

    # assignments are rows that SQL can query, beside the JSON
    with client.app.state.db.sessions() as s:  # type: ignore[attr-defined]
        rows = s.scalars(select(AssignmentRow).where(AssignmentRow.plan_id == job["plan_id"]))
        got = sorted((r.task, r.person, r.start, r.finish, r.hours, r.cost) for r in rows)
    want = sorted(
        (a.task, p, a.start, a.finish, a.hours, a.cost) for a in plan.assignments for p in a.people
    )
    assert got == want and len(got) == 4

    # check: the solved plan is valid; a hand-edited one is not, with the checker's reasons
    r = client.post(f"/v1/portfolios/{pid}/check", json=plan_r.json(), headers=h)
    assert r.status_code == 200 and r.json()["valid"] is True
    assert r.json()["kpis"]["assigned"] == 4
    edited = copy.deepcopy(plan_r.json())
    task_d = next(a for a in edited["assignments"] if a["task"] == "d")
    task_d["people"] = ["ann"]  # ann has no qa skill
    r = client.post(f"/v1/portfolios/{pid}/check", json=edited, headers=h)
    assert r.status_code == 200 and r.json()["valid"] is False
    expected = check(portfolio, read_plan(edited)[0]).as_dict()
    assert r.json()["violations"] == expected["violations"]
    assert any(v["task"] == "d" and v["rule"] == 2 for v in r.json()["violations"])
    r = client.post(f"/v1/portfolios/{pid}/check", json={"format": "nope"}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_plan"
    assert {d["path"] for d in r.json()["error"]["details"]} >= {"format", "status"}


def test_cancel_running_job_keeps_best_plan(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No race with the job's end: the full solve is held until the cancel has reached it (its
    # stop event is set), then runs for real and returns its best plan. Without the cancel
    # reaching the solve the job fails after 30 s instead of finishing on its own.
    reached = threading.Event()

    def held_solve(portfolio: Portfolio, params: SolveParams) -> Result:
        if not params.greedy_only:
            assert params.stop_event is not None
            if not params.stop_event.wait(30):
                raise RuntimeError("the cancel never reached the running solve")
            reached.set()
        return solve(portfolio, params)

    monkeypatch.setattr(job_kinds, "solve", held_solve)
    h, pid = planner_with(client, slow_portfolio())
    job_id = client.post(f"/v1/portfolios/{pid}/solve", json={"time_limit": 2}, headers=h).json()[
        "job_id"
    ]
    running = wait_job(client, job_id, h, until=lambda j: j["plan_id"] is not None, timeout=10)
    assert running["status"] == "running"
    # the best plan so far is there while it runs
    mid = client.get(f"/v1/jobs/{job_id}/plan", headers=h)
    assert mid.status_code == 200 and mid.headers["X-Plan-Final"] == "false"
    r = client.delete(f"/v1/jobs/{job_id}", headers=h)
    assert r.status_code == 200 and r.json()["cancel_requested"] is True
    job = wait_job(client, job_id, h, timeout=40)
    assert job["status"] == "cancelled", job
    assert reached.is_set()
    plan = client.get(f"/v1/jobs/{job_id}/plan", headers=h)
    assert plan.status_code == 200 and plan.headers["X-Plan-Final"] == "true"
    portfolio = read_portfolio(slow_portfolio())[0]
    assert check(portfolio, read_plan(plan.json())[0]).valid
    # cancelling again changes nothing
    assert client.delete(f"/v1/jobs/{job_id}", headers=h).json()["status"] == "cancelled"


def test_queued_jobs_limits_and_cancel(make_client: AppFactory, ok_small: dict[str, Any]) -> None:
    client = make_client(
        run_workers=False, max_queued_jobs=3, max_jobs_per_tenant=2, retry_after_seconds=7
    )
    app = client.app
    a = key_headers(app, new_tenant(), "planner")  # type: ignore[arg-type]
    b = key_headers(app, new_tenant(), "planner")  # type: ignore[arg-type]
    pa = client.post("/v1/portfolios", json=ok_small, headers=a).json()["id"]
    pb = client.post("/v1/portfolios", json=ok_small, headers=b).json()["id"]

    first = client.post(f"/v1/portfolios/{pa}/solve", headers=a).json()["job_id"]
    job = client.get(f"/v1/jobs/{first}", headers=a).json()
    assert job["status"] == "queued" and job["plan_id"] is None
    r = client.get(f"/v1/jobs/{first}/plan", headers=a)
    assert r.status_code == 404 and r.json()["error"]["code"] == "no_plan_yet"

    assert client.post(f"/v1/portfolios/{pa}/solve", headers=a).status_code == 202
    r = client.post(f"/v1/portfolios/{pa}/solve", headers=a)  # a's third: per-tenant limit
    assert r.status_code == 429 and r.headers["Retry-After"] == "7"
    assert r.json()["error"]["code"] == "too_many_jobs"
    assert "max_jobs_per_tenant" in r.json()["error"]["message"]

    assert client.post(f"/v1/portfolios/{pb}/solve", headers=b).status_code == 202
    r = client.post(f"/v1/portfolios/{pb}/solve", headers=b)  # 4th queued: the queue is full
    assert r.status_code == 429 and "max_queued_jobs" in r.json()["error"]["message"]
    # no other tenant's figure: the message never reveals the global queue depth
    assert not any(ch.isdigit() for ch in r.json()["error"]["message"]), r.json()

    # a queued job is cancelled at once, and frees its place
    r = client.delete(f"/v1/jobs/{first}", headers=a)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert client.post(f"/v1/portfolios/{pa}/solve", headers=a).status_code == 202


def test_solve_parameters_are_capped_and_checked(
    make_client: AppFactory, ok_small: dict[str, Any]
) -> None:
    client = make_client(run_workers=False, max_time_limit=1.5, max_workers=2)
    h, pid = planner_with(client, ok_small)
    r = client.post(
        f"/v1/portfolios/{pid}/solve", json={"time_limit": 600, "workers": 64}, headers=h
    )
    assert r.status_code == 202
    assert (r.json()["time_limit"], r.json()["workers"]) == (1.5, 2)
    job = client.get(f"/v1/jobs/{r.json()['job_id']}", headers=h).json()
    assert (job["time_limit"], job["workers"]) == (1.5, 2)
    for bad in ({"time_limit": 0}, {"workers": 0}, {"time_limit": "x"}, {"seed": 1}):
        r = client.post(f"/v1/portfolios/{pid}/solve", json=bad, headers=h)
        assert r.status_code == 422, bad
        assert r.json()["error"]["details"][0]["path"] in ("time_limit", "workers", "seed")


def _beat(client: TestClient, job_id: str, age: float, **values: Any) -> None:
    """Make ``job_id`` a running job of a dead worker whose last heartbeat is ``age`` s old."""
    beat = utcnow() - timedelta(seconds=age)
    with client.app.state.db.sessions() as s:  # type: ignore[attr-defined]
        s.execute(
            update(JobRow)
            .where(JobRow.id == job_id)
            .values(status="running", worker="dead:1:x", started_at=beat, heartbeat_at=beat)
            .values(**values)
        )
        s.commit()


def test_interrupted_jobs_are_queued_again_until_the_max_attempts(
    make_client: AppFactory, ok_small: dict[str, Any]
) -> None:
    client = make_client(run_workers=False, job_stale_seconds=5, job_max_attempts=2)
    runner = client.app.state.runner  # type: ignore[attr-defined]
    h, pid = planner_with(client, ok_small)
    stale, fresh = (
        client.post(f"/v1/portfolios/{pid}/solve", headers=h).json()["job_id"] for _ in range(2)
    )
    _beat(client, stale, 60, attempts=1)
    _beat(client, fresh, 1, attempts=1)
    assert runner.recover_interrupted() == ([stale], [])
    job = client.get(f"/v1/jobs/{stale}", headers=h).json()
    assert job["status"] == "queued" and job["error"].startswith("interrupted"), job
    assert client.get(f"/v1/jobs/{fresh}", headers=h).json()["status"] == "running"
    # its next claim is its second attempt, with no plan to resume from (it stored none)
    claimed = runner.store.claim("w")
    assert claimed is not None and (claimed.id, claimed.attempt) == (stale, 2)
    assert claimed.resume_plan is None
    _beat(client, stale, 60)  # interrupted again, on its last attempt: failed for good
    assert runner.recover_interrupted() == ([], [stale])
    job = client.get(f"/v1/jobs/{stale}", headers=h).json()
    assert job["status"] == "failed" and "job_max_attempts = 2" in job["error"], job
    assert runner.recover_interrupted() == ([], [])


def test_interrupted_job_resumes_from_its_best_plan_and_ends_done(
    make_client: AppFactory,
) -> None:
    client = make_client(job_stale_seconds=1, solve_slots=1)
    h, pid = planner_with(client, slow_portfolio())
    first = client.post(f"/v1/portfolios/{pid}/solve", json={"time_limit": 1}, headers=h)
    base = wait_job(client, first.json()["job_id"], h)
    assert base["status"] == "done", base
    job_id = client.post(f"/v1/portfolios/{pid}/solve", json={"time_limit": 1}, headers=h).json()[
        "job_id"
    ]
    job = wait_job(client, job_id, h)
    assert job["status"] == "done", job
    # as if its server had died after storing a plan: stale, not final
    with client.app.state.db.sessions() as s:  # type: ignore[attr-defined]
        s.execute(update(PlanRow).where(PlanRow.job_id == job_id).values(final=False))
        s.commit()
    claimed = []
    runner = client.app.state.runner  # type: ignore[attr-defined]
    original = runner.store.claim

    def spy(worker: str) -> Any:
        got = original(worker)
        if got is not None:
            claimed.append(got)
        return got

    runner.store.claim = spy
    _beat(client, job_id, 60, attempts=1, finished_at=None)
    job = wait_job(client, job_id, h, until=lambda j: j["status"] == "done" and bool(claimed))
    assert claimed[0].attempt == 2 and claimed[0].resume_plan is not None
    assert job["error"] is None
    plan = client.get(f"/v1/jobs/{job_id}/plan", headers=h)
    assert plan.status_code == 200 and plan.headers["X-Plan-Final"] == "true"
    assert check(read_portfolio(slow_portfolio())[0], read_plan(plan.json())[0]).valid
    assert "changes" not in plan.json() or not plan.json()["changes"]


def test_deleting_the_portfolio_stops_its_job(client: TestClient) -> None:
    h, pid = planner_with(client, slow_portfolio())
    job_id = client.post(f"/v1/portfolios/{pid}/solve", json={"time_limit": 2}, headers=h).json()[
        "job_id"
    ]
    wait_job(client, job_id, h, until=lambda j: j["status"] == "running", timeout=10)
    assert client.delete(f"/v1/portfolios/{pid}", headers=h).status_code == 204
    assert client.get(f"/v1/jobs/{job_id}", headers=h).status_code == 404
    # the worker notices, stops, and is free for the next job
    pid2 = client.post("/v1/portfolios", json=slow_portfolio(), headers=h).json()["id"]
    job2 = client.post(f"/v1/portfolios/{pid2}/solve", json={"time_limit": 0.5}, headers=h).json()[
        "job_id"
    ]
    assert wait_job(client, job2, h, timeout=15)["status"] == "done"


def test_synchronous_solve(make_client: AppFactory, ok_small: dict[str, Any]) -> None:
    client = make_client(sync_max_tasks=4, sync_max_people=3, sync_max_time_limit=1)
    h = key_headers(client.app, new_tenant(), "planner")  # type: ignore[arg-type]
    r = client.post("/v1/solve", json={"portfolio": ok_small, "time_limit": 30}, headers=h)
    assert r.status_code == 200, r.text
    plan = read_plan(r.json())[0]
    assert check(read_portfolio(ok_small)[0], plan).valid
    assert plan.solve_seconds <= 1.5  # the time limit was capped to 1 s

    bigger = copy.deepcopy(ok_small)
    bigger["projects"][0]["tasks"].append({"id": "e", "skill": "py", "effort_hours": 8})
    r = client.post("/v1/solve", json={"portfolio": bigger}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["code"] == "limit_exceeded"
    assert "sync_max_tasks" in r.json()["error"]["details"][0]["message"]

    slots = client.app.state.sync_slots  # type: ignore[attr-defined]
    taken = [slots.acquire(blocking=False) for _ in range(2)]
    try:
        r = client.post("/v1/solve", json={"portfolio": ok_small}, headers=h)
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    finally:
        for t in taken:
            if t:
                slots.release()


def test_plan_round_trip_through_contract(client: TestClient, ok_small: dict[str, Any]) -> None:
    """GET /v1/jobs/{id}/plan is exactly the library's contract JSON of the stored plan."""
    h, pid = planner_with(client, ok_small)
    job_id = client.post(f"/v1/portfolios/{pid}/solve", headers=h).json()["job_id"]
    wait_job(client, job_id, h)
    body = client.get(f"/v1/jobs/{job_id}/plan", headers=h).json()
    assert plan_to_dict(read_plan(body)[0]) == body


def test_solves_run_at_most_slots_at_once(make_client: AppFactory) -> None:
    client = make_client(solve_slots=1)
    h, pid = planner_with(client, slow_portfolio())
    jobs = [
        client.post(f"/v1/portfolios/{pid}/solve", json={"time_limit": 0.5}, headers=h).json()[
            "job_id"
        ]
        for _ in range(2)
    ]
    seen: set[tuple[str, ...]] = set()
    deadline = time.monotonic() + 30
    states: tuple[str, ...] = ()
    while time.monotonic() < deadline and states != ("done", "done"):
        # two GETs are not one snapshot (the first job may end between them), so overlap is
        # judged from the jobs' own start and finish times below
        states = tuple(client.get(f"/v1/jobs/{j}", headers=h).json()["status"] for j in jobs)
        seen.add(states)
        time.sleep(0.01)
    assert states == ("done", "done")
    assert ("running", "queued") in seen  # the second waited for the first
    first, second = (client.get(f"/v1/jobs/{j}", headers=h).json() for j in jobs)
    assert second["started_at"] >= first["finished_at"], (first, second)
