"""The one job runner, on SQLite and PostgreSQL: jobs have a kind (solve, rebalance), every kind
is queued by its route and run by the queue workers under the same solve slots, queue limits,
heartbeats and cancel; an unknown kind is refused at creation and failed by a worker; migration
0004 adds the kind and input columns."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from fastapi.testclient import TestClient

from allocator.checker import check
from allocator.contract import read_plan, read_portfolio
from allocator.domain import Plan, Portfolio
from allocator.engine import Result, SolveParams, solve
from allocator.rebalance import rebalance
from allocator_api import job_kinds
from allocator_api.db import Database, alembic_config
from allocator_api.models import JOB_KINDS, JobRow, new_id, utcnow
from allocator_api.repository import Jobs, JobStore, UnknownJobKind
from tests.api.conftest import AppFactory, key_headers, new_tenant, wait_job
from tests.api.test_jobs import planner_with


def _solved(client: TestClient, portfolio: dict[str, Any]) -> tuple[dict[str, str], str]:
    """A new tenant's planner key and its stored portfolio with a final plan (the base of a
    rebalance)."""
    h, pid = planner_with(client, portfolio)
    job = client.post(f"/v1/portfolios/{pid}/solve", headers=h).json()["job_id"]
    assert wait_job(client, job, h)["status"] == "done"
    return h, pid


def test_every_kind_has_a_handler() -> None:
    assert (
        set(job_kinds.KINDS)
        == set(JOB_KINDS)
        == {"solve", "rebalance", "risk", "scenarios", "recommend"}
    )


def test_rebalance_job_waits_for_a_solve_slot(
    make_client: AppFactory, ok_small: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = make_client(solve_slots=1)
    h, pid = _solved(client, ok_small)
    entered, release = threading.Event(), threading.Event()

    def held_solve(portfolio: Portfolio, params: SolveParams) -> Result:
        if not params.greedy_only:
            entered.set()
            if not release.wait(30):
                raise RuntimeError("never released")
        return solve(portfolio, params)

    monkeypatch.setattr(job_kinds, "solve", held_solve)
    solving = client.post(f"/v1/portfolios/{pid}/solve", headers=h).json()["job_id"]
    assert entered.wait(15), "the solve never started"
    r = client.post(f"/v1/portfolios/{pid}/rebalance", json={"time_limit": 1}, headers=h)
    assert r.status_code == 202 and r.json()["status"] == "queued", r.text
    assert r.headers["Location"] == f"/v1/jobs/{r.json()['job_id']}"
    rebalancing = r.json()["job_id"]
    try:
        for _ in range(20):  # the only slot is held: the rebalance job waits its turn
            job = client.get(f"/v1/jobs/{rebalancing}", headers=h).json()
            assert (job["kind"], job["status"]) == ("rebalance", "queued"), job
            time.sleep(0.05)
        assert client.get(f"/v1/jobs/{solving}", headers=h).json()["status"] == "running"
    finally:
        release.set()
    first, second = wait_job(client, solving, h), wait_job(client, rebalancing, h)
    assert (first["kind"], first["status"]) == ("solve", "done"), first
    assert (second["kind"], second["status"]) == ("rebalance", "done"), second
    assert second["started_at"] >= first["finished_at"]
    assert second["progress"]["stage"] == "done" and second["progress"]["objective"]
    plan = client.get(f"/v1/jobs/{rebalancing}/plan", headers=h)
    assert plan.status_code == 200 and plan.headers["X-Plan-Final"] == "true"
    assert check(read_portfolio(ok_small)[0], read_plan(plan.json())[0]).valid
    versions = client.get(f"/v1/portfolios/{pid}/plans", headers=h).json()["items"]
    assert [v["job_id"] for v in versions][:2] == [rebalancing, solving]


def test_cancel_running_rebalance_job_keeps_its_plan(
    client: TestClient, ok_small: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    reached = threading.Event()

    def held(portfolio: Portfolio, previous: Plan, params: SolveParams, **kw: Any) -> Result:
        assert params.stop_event is not None
        if not params.stop_event.wait(30):
            raise RuntimeError("the cancel never reached the running rebalance")
        reached.set()
        return rebalance(portfolio, previous, params, **kw)

    h, pid = _solved(client, ok_small)
    monkeypatch.setattr(job_kinds, "rebalance", held)
    job_id = client.post(f"/v1/portfolios/{pid}/rebalance", headers=h).json()["job_id"]
    wait_job(client, job_id, h, until=lambda j: j["status"] == "running", timeout=15)
    r = client.delete(f"/v1/jobs/{job_id}", headers=h)
    assert r.status_code == 200 and r.json()["cancel_requested"] is True
    job = wait_job(client, job_id, h, timeout=40)
    assert (job["kind"], job["status"]) == ("rebalance", "cancelled"), job
    assert reached.is_set()
    plan = client.get(f"/v1/jobs/{job_id}/plan", headers=h)
    assert plan.status_code == 200 and plan.headers["X-Plan-Final"] == "true"
    assert check(read_portfolio(ok_small)[0], read_plan(plan.json())[0]).valid


def test_rebalance_jobs_count_in_the_queue_limits_and_cancel_at_once(
    make_client: AppFactory, ok_small: dict[str, Any]
) -> None:
    client = make_client(run_workers=False, max_queued_jobs=1, max_jobs_per_tenant=5)
    h, pid = planner_with(client, ok_small)
    solving = client.post(f"/v1/portfolios/{pid}/solve", headers=h).json()["job_id"]
    r = client.post(f"/v1/portfolios/{pid}/rebalance", headers=h)
    assert r.status_code == 429 and "max_queued_jobs" in r.json()["error"]["message"]
    assert client.delete(f"/v1/jobs/{solving}", headers=h).json()["status"] == "cancelled"
    r = client.post(f"/v1/portfolios/{pid}/rebalance", json={"freeze_days": 3}, headers=h)
    assert r.status_code == 202 and r.json()["status"] == "queued"
    job_id = r.json()["job_id"]
    with client.app.state.db.sessions() as s:  # type: ignore[attr-defined]
        row = s.get_one(JobRow, job_id)
        assert (row.kind, row.input) == (
            "rebalance",
            {"base_plan_id": None, "freeze_days": 3, "churn_budget": None, "stability": None},
        )
    r = client.delete(f"/v1/jobs/{job_id}", headers=h)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert client.post(f"/v1/portfolios/{pid}/rebalance", headers=h).status_code == 202


def test_unknown_kind_is_refused_and_never_run(
    client: TestClient, ok_small: dict[str, Any]
) -> None:
    tenant = new_tenant()
    h = key_headers(client.app, tenant, "planner")  # type: ignore[arg-type]
    pid = client.post("/v1/portfolios", json=ok_small, headers=h).json()["id"]
    with client.app.state.db.sessions() as s:  # type: ignore[attr-defined]
        with pytest.raises(UnknownJobKind, match="'forecast'"):
            Jobs(s, tenant).enqueue(
                pid, kind="forecast", time_limit=1, workers=1, max_queued=10, max_per_tenant=10
            )
        assert s.scalar(sa.select(sa.func.count()).select_from(JobRow)) == 0
        # a row of a kind this server has no handler for (written by another version)
        job_id = new_id()
        s.add(
            JobRow(
                id=job_id,
                tenant=tenant,
                portfolio_id=pid,
                kind="forecast",
                status="queued",
                time_limit=1,
                workers=1,
                cancel_requested=False,
                created_at=utcnow(),
            )
        )
        s.commit()
    client.app.state.runner.notify()  # type: ignore[attr-defined]
    job = wait_job(client, job_id, h, timeout=15)
    assert (job["kind"], job["status"]) == ("forecast", "failed"), job
    assert "unknown job kind 'forecast'" in job["error"]
    assert job["plan_id"] is None


def test_migration_0004_adds_kind_and_input(db_url: str) -> None:
    db = Database(db_url)
    try:
        cfg = alembic_config(db.url)
        with db.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0003")
        now = utcnow()
        with db.engine.begin() as conn:
            md = sa.MetaData()
            md.reflect(conn, only=["portfolios", "jobs"])
            conn.execute(
                md.tables["portfolios"].insert(),
                {"id": "p1", "tenant": "t", "name": "p", "revision": 1, "people": 1, "tasks": 1}
                | {"body": {}, "created_at": now, "updated_at": now},
            )
            for jid, worker in (("j1", "host:1:abc"), ("j2", "rebalance:host:1:abc"), ("j3", None)):
                conn.execute(
                    md.tables["jobs"].insert(),
                    {"id": jid, "tenant": "t", "portfolio_id": "p1", "status": "done"}
                    | {"time_limit": 1.0, "workers": 1, "cancel_requested": False}
                    | {"worker": worker, "created_at": now},
                )
        with db.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0004")
        with db.engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT id, kind, input FROM jobs ORDER BY id")).all()
        assert [tuple(r) for r in rows] == [
            ("j1", "solve", None),
            ("j2", "rebalance", None),
            ("j3", "solve", None),
        ]
        with db.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0003")
        with db.engine.connect() as conn:
            columns = {c["name"] for c in sa.inspect(conn).get_columns("jobs")}
        assert "kind" not in columns and "input" not in columns and "worker" in columns
    finally:
        db.dispose()


def test_claim_is_fair_between_tenants(make_client: AppFactory, ok_small: dict[str, Any]) -> None:
    """The claim order: fewest running jobs of the tenant, then the tenant served longest ago,
    then the oldest job (FIFO alone would give A's five jobs before B's one)."""
    client = make_client(run_workers=False, max_jobs_per_tenant=10)
    store = JobStore(client.app.state.db.sessions)  # type: ignore[attr-defined]
    (ha, pa), (hb, pb) = planner_with(client, ok_small), planner_with(client, ok_small)
    a_jobs = [
        client.post(f"/v1/portfolios/{pa}/solve", headers=ha).json()["job_id"] for _ in range(5)
    ]
    b_job = client.post(f"/v1/portfolios/{pb}/solve", headers=hb).json()["job_id"]

    def claim() -> str:
        job = store.claim("w")
        assert job is not None
        return job.id

    first = claim()
    assert first == a_jobs[0]  # nobody served yet: the oldest
    assert claim() == b_job  # A has one running, B none
    assert claim() == a_jobs[1]  # only A's jobs are left
    for job_id in (first, b_job, a_jobs[1]):
        assert store.finish(job_id, "w", "done")
    # nobody running: A was served last, but B has nothing queued
    assert claim() == a_jobs[2]
    # every claim counts an attempt
    with client.app.state.db.sessions() as s:  # type: ignore[attr-defined]
        attempts = {r.id: r.attempts for r in s.scalars(sa.select(JobRow))}
    assert attempts == {a_jobs[0]: 1, b_job: 1, a_jobs[1]: 1, a_jobs[2]: 1, a_jobs[3]: 0} | {
        a_jobs[4]: 0
    }


def test_one_tenants_batch_does_not_starve_another(
    make_client: AppFactory, ok_small: dict[str, Any]
) -> None:
    """One solve slot, tenant A's five jobs queued before tenant B's one: B's job starts
    second, before A's third (FIFO would start it sixth)."""
    client = make_client(run_workers=False, solve_slots=1, max_jobs_per_tenant=10)
    (ha, pa), (hb, pb) = planner_with(client, ok_small), planner_with(client, ok_small)
    body = {"time_limit": 0.2}
    a_jobs = [
        client.post(f"/v1/portfolios/{pa}/solve", json=body, headers=ha).json()["job_id"]
        for _ in range(5)
    ]
    b_job = client.post(f"/v1/portfolios/{pb}/solve", json=body, headers=hb).json()["job_id"]
    runner = client.app.state.runner  # type: ignore[attr-defined]
    runner.start()
    try:
        done = {j: wait_job(client, j, ha, timeout=60) for j in a_jobs}
        b = wait_job(client, b_job, hb, timeout=60)
    finally:
        runner.stop()
    assert all(j["status"] == "done" for j in done.values()) and b["status"] == "done"
    starts = sorted([(j["started_at"], "A") for j in done.values()] + [(b["started_at"], "B")])
    assert [who for _, who in starts] == ["A", "B", "A", "A", "A", "A"], starts
