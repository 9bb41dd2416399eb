"""Every stored plan is checked (issue 11, items 2 and 6), on SQLite and PostgreSQL:

* a plan fetched over REST survives a reader that parses every number as a 64-bit float (what
  ``jq`` does) and then passes ``allocator check``: valid and current;
* the checker's verdict is stored with each plan version and shown with it;
* a plan that fails the checker is never stored as current: the solve job, the rebalance job
  and ``/v1/solve`` fail with the violations, logged as an error;
* migration 0003 turns stored v1 plans and job progress into v2 terms.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from fastapi.testclient import TestClient

from allocator.checker import check
from allocator.contract import plan_to_dict, portfolio_to_dict, read_plan, read_portfolio
from allocator.domain import Plan, Portfolio
from allocator.engine import Result, SolveParams, solve
from allocator.generator import generate
from allocator.objective import MAX_EXACT, objective_value
from allocator.rebalance import rebalance
from allocator_api import job_kinds
from allocator_api.db import Database, alembic_config
from allocator_api.models import JobRow, PlanRow, utcnow
from allocator_api.repository import plan_body_of
from allocator_api.routers import solve as solve_route
from tests.api.conftest import key_headers, new_tenant, wait_job

FULL_VERDICT = {"valid": True, "violations": 0, "codes": [], "stale": False}


def _numbers(value: Any) -> list[float | int]:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return []
    if isinstance(value, int | float):
        return [value]
    if isinstance(value, dict):
        return [n for v in value.values() for n in _numbers(v)]
    if isinstance(value, list):
        return [n for v in value for n in _numbers(v)]
    return []


def _as_jq_reads(text: str) -> Any:
    """The JSON as a reader that has only doubles (jq, a browser) sees it."""
    return json.loads(text, parse_int=float)


def _corrupt(plan: Plan) -> Plan:
    """The plan with its first assignment listed twice (rule: a task is planned at most once)."""
    assert plan.assignments, "the corruption needs an assigned task"
    return dataclasses.replace(plan, assignments=(*plan.assignments, plan.assignments[0]))


def test_rest_plan_read_as_doubles_passes_the_checker(client: TestClient) -> None:
    portfolio_json = portfolio_to_dict(generate(6, 4, seed=3))
    portfolio = read_portfolio(portfolio_json)[0]
    h = key_headers(client.app, new_tenant(), "planner")  # type: ignore[arg-type]
    pid = client.post("/v1/portfolios", json=portfolio_json, headers=h).json()["id"]
    job_id = client.post(f"/v1/portfolios/{pid}/solve", json={"time_limit": 1}, headers=h).json()[
        "job_id"
    ]
    job = wait_job(client, job_id, h)
    assert job["status"] == "done", job

    # curl .../v1/jobs/$JOB/plan > plan.json, and curl .../v1/plans/$ID | jq .plan > plan.json
    direct = client.get(f"/v1/jobs/{job_id}/plan", headers=h)
    version = client.get(f"/v1/plans/{job['plan_id']}", headers=h)
    assert direct.status_code == 200 and version.status_code == 200
    for text in (direct.text, json.dumps(_as_jq_reads(version.text)["plan"])):
        data = _as_jq_reads(text)
        assert data["format"] == "allocator.plan/v2"
        numbers = _numbers(data)
        assert numbers and all(abs(n) < MAX_EXACT for n in numbers)
        plan, issues = read_plan(data)
        assert not [i for i in issues if i.severity == "error"], issues
        result = check(portfolio, plan)
        assert result.valid, result.violations
        assert result.current, result.stale
        assert next(iter(data["objective"])) == "undelivered_work_hours"

    # every number of the job and version answers is exact in a double, terms in order
    for answer in (client.get(f"/v1/jobs/{job_id}", headers=h), version):
        assert all(abs(n) < MAX_EXACT for n in _numbers(answer.json()))
        assert json.loads(answer.text, parse_int=float) == answer.json()
    assert list(job["progress"]["objective"]) == [
        "undelivered_work_hours",
        "weighted_late_days",
        "weighted_finish_days",
        "cost",
    ]

    # the verdict is stored with the version and listed with it
    assert version.json()["check"] == FULL_VERDICT
    listed = client.get(f"/v1/portfolios/{pid}/plans", headers=h).json()["items"]
    assert [v["check"] for v in listed] == [FULL_VERDICT]
    assert listed[0]["objective"] == job["progress"]["objective"]


@pytest.mark.parametrize("stage", ["final", "greedy"])
def test_solve_job_plan_failing_the_checker_is_not_stored(
    client: TestClient,
    ok_small: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    stage: str,
) -> None:
    def corrupted(portfolio: Portfolio, params: SolveParams) -> Result:
        result = solve(portfolio, params)
        if params.greedy_only == (stage == "greedy"):
            return dataclasses.replace(result, plan=_corrupt(result.plan))
        return result

    monkeypatch.setattr(job_kinds, "solve", corrupted)
    h = key_headers(client.app, new_tenant(), "planner")  # type: ignore[arg-type]
    pid = client.post("/v1/portfolios", json=ok_small, headers=h).json()["id"]
    with caplog.at_level(logging.ERROR, logger="allocator_api.service"):
        job_id = client.post(f"/v1/portfolios/{pid}/solve", headers=h).json()["job_id"]
        job = wait_job(client, job_id, h)
    assert job["status"] == "failed", job
    assert "fails the independent checker" in job["error"] and "duplicate_task" in job["error"]
    rejected = [r for r in caplog.records if "PLAN REJECTED" in r.getMessage()]
    assert rejected and rejected[0].levelno == logging.ERROR
    assert "duplicate_task" in rejected[0].getMessage()

    versions = client.get(f"/v1/portfolios/{pid}/plans", headers=h).json()["items"]
    assert not [v for v in versions if v["final"]]  # nothing stored as current
    plan = client.get(f"/v1/jobs/{job_id}/plan", headers=h)
    if stage == "greedy":
        assert versions == [] and plan.status_code == 404
    else:  # the checked greedy plan stays, as the job's (not final) best plan
        assert [v["check"] for v in versions] == [FULL_VERDICT]
        assert plan.status_code == 200 and plan.headers["X-Plan-Final"] == "false"
        assert check(read_portfolio(ok_small)[0], read_plan(plan.json())[0]).valid


def test_sync_solve_plan_failing_the_checker_is_refused(
    client: TestClient, ok_small: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    h = key_headers(client.app, new_tenant(), "planner")  # type: ignore[arg-type]
    good = client.post("/v1/solve", json={"portfolio": ok_small, "time_limit": 1}, headers=h)
    assert good.status_code == 200 and good.json()["format"] == "allocator.plan/v2"
    assert check(read_portfolio(ok_small)[0], read_plan(_as_jq_reads(good.text))[0]).valid

    def corrupted(portfolio: Portfolio, params: SolveParams) -> Result:
        result = solve(portfolio, params)
        return dataclasses.replace(result, plan=_corrupt(result.plan))

    monkeypatch.setattr(solve_route, "solve", corrupted)
    r = client.post("/v1/solve", json={"portfolio": ok_small, "time_limit": 1}, headers=h)
    assert r.status_code == 500, r.text
    error = r.json()["error"]
    assert error["code"] == "plan_rejected"
    assert any("duplicate_task" in d["message"] for d in error["details"])


def test_rebalance_plan_failing_the_checker_is_not_stored(
    client: TestClient, ok_small: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    h = key_headers(client.app, new_tenant(), "planner")  # type: ignore[arg-type]
    pid = client.post("/v1/portfolios", json=ok_small, headers=h).json()["id"]
    first = client.post(f"/v1/portfolios/{pid}/solve", headers=h).json()["job_id"]
    assert wait_job(client, first, h)["status"] == "done"

    def corrupted(portfolio: Portfolio, previous: Plan, params: SolveParams, **kw: Any) -> Any:
        result = rebalance(portfolio, previous, params, **kw)
        return dataclasses.replace(result, plan=_corrupt(result.plan))

    monkeypatch.setattr(job_kinds, "rebalance", corrupted)
    r = client.post(f"/v1/portfolios/{pid}/rebalance", json={"time_limit": 1}, headers=h)
    assert r.status_code == 202, r.text
    job = wait_job(client, r.json()["job_id"], h)
    assert job["status"] == "failed" and "duplicate_task" in job["error"], job
    versions = client.get(f"/v1/portfolios/{pid}/plans", headers=h).json()["items"]
    assert [(v["version"], v["job_id"], v["check"]) for v in versions] == [(1, first, FULL_VERDICT)]


def _v1_body(portfolio: Portfolio, plan: Plan) -> dict[str, Any]:
    """``plan`` as an ``allocator.plan/v1`` file: one combined number, ``objective_terms``."""
    body = plan_to_dict(plan)
    assert plan.objective is not None
    combined = objective_value(portfolio, plan)
    body.update(
        format="allocator.plan/v1",
        objective=combined,
        lower_bound=combined if plan.status == "optimal" else None,
        objective_terms=dict(plan.objective),
    )
    body.pop("gap", None)
    for change in body.get("changes") or []:
        change.pop("forced", None)
    return body


def test_migration_0003_converts_stored_v1_plans_and_progress(db_url: str) -> None:
    portfolio_json = portfolio_to_dict(generate(5, 3, seed=4))
    portfolio = read_portfolio(portfolio_json)[0]
    plan = solve(portfolio, SolveParams(time_limit=1, workers=1, seed=0)).plan
    v1 = _v1_body(portfolio, plan)
    assert v1["objective"] >= MAX_EXACT  # the number jq would round
    db = Database(db_url)
    try:
        cfg = alembic_config(db.url)
        with db.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0002")
        now = utcnow()
        with db.engine.begin() as conn:
            md = sa.MetaData()
            md.reflect(conn, only=["portfolios", "plans", "jobs"])
            conn.execute(
                md.tables["portfolios"].insert(),
                {
                    "id": "p1",
                    "tenant": "t",
                    "name": portfolio.name,
                    "revision": 1,
                    "people": 5,
                    "tasks": 3,
                    "body": portfolio_json,
                    "created_at": now,
                    "updated_at": now,
                },
            )
            for jid, stage in (("j1", "done"), ("j2", "cp-sat:undelivered")):
                conn.execute(
                    md.tables["jobs"].insert(),
                    {
                        "id": jid,
                        "tenant": "t",
                        "portfolio_id": "p1",
                        "status": "done",
                        "time_limit": 1.0,
                        "workers": 1,
                        "cancel_requested": False,
                        "stage": stage,
                        "objective": str(v1["objective"]),
                        "lower_bound": None,
                        "created_at": now,
                    },
                )
                conn.execute(
                    md.tables["plans"].insert(),
                    {
                        "id": f"plan-{jid}",
                        "tenant": "t",
                        "portfolio_id": "p1",
                        "portfolio_revision": 1,
                        "version": 1 if jid == "j1" else 2,
                        "job_id": jid,
                        "final": True,
                        "status": plan.status,
                        "objective": str(v1["objective"]),
                        "lower_bound": None
                        if v1["lower_bound"] is None
                        else str(v1["lower_bound"]),
                        "gap": None,
                        "solver": "cp-sat",
                        "solve_seconds": 1.0,
                        "body": v1,
                        "created_at": now,
                        "updated_at": now,
                    },
                )
        db.migrate()
        with db.sessions() as s:
            rows = {r.id: r for r in s.scalars(sa.select(PlanRow))}
            jobs = {r.id: r for r in s.scalars(sa.select(JobRow))}
        want = dict(plan.objective or {})
        for row in rows.values():
            assert row.body["format"] == "allocator.plan/v2"
            assert row.objective == want and row.body["objective"] == want
            assert row.check_valid is None  # not checked when it was stored
            # as served (jsonb keeps no key order: the service puts the terms back in order)
            served = json.dumps(plan_body_of(row))
            migrated, issues = read_plan(json.loads(served, parse_int=float))
            assert not [i for i in issues if i.severity == "error"], issues
            result = check(portfolio, migrated)
            assert result.valid and result.current, (result.violations, result.stale)
            if plan.status == "optimal":
                assert row.lower_bound == want and row.gap == 0
        assert jobs["j1"].objective == want  # "done": the job's plan
        assert jobs["j2"].objective is None  # a combined CP-SAT figure: not convertible
    finally:
        db.dispose()
