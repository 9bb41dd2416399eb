"""Decisions as jobs (issue 13), on SQLite and PostgreSQL: risk, scenarios and recommendations
queued by planners, run by the job runner, their results stored on the job and read by viewers
(``allocator_api.routers.decisions``, ``allocator_api.job_kinds``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from allocator.cli import example_path
from allocator.contract import load_plan, plan_to_dict, read_portfolio
from allocator.engine import SolveParams, solve
from allocator.risk import simulate
from allocator_api import job_kinds
from allocator_api.app import create_app
from allocator_api.job_kinds import SOLVE_OVERHEAD_SECONDS, what_if_budget
from allocator_api.jobs import JobContext
from allocator_api.repository import ClaimedJob, ProgressValues
from tests.api.conftest import (
    BACKENDS,
    AppFactory,
    database_url,
    key_headers,
    new_tenant,
    settings_for,
    wait_job,
)
from tests.conftest import portfolio_dict

#: the example's deadline moved earlier in the scenario test
MOVED = {"tasks": {"crm-cutover": {"deadline": "2027-02-01"}}}


@dataclass
class Tenant:
    viewer: dict[str, str]
    planner: dict[str, str]


@dataclass
class Solved:
    """The example stored and solved once per backend."""

    client: TestClient
    me: Tenant
    them: Tenant
    portfolio_id: str
    body: dict[str, Any]
    plan_id: str
    plan: dict[str, Any]


def tenant(client: TestClient) -> Tenant:
    name = new_tenant()
    app = client.app
    return Tenant(key_headers(app, name, "viewer"), key_headers(app, name, "planner"))  # type: ignore[arg-type]


def store_and_solve(client: TestClient, headers: dict[str, str], body: dict[str, Any]) -> str:
    """Store ``body``, solve it briefly; the portfolio id."""
    r = client.post("/v1/portfolios", json=body, headers=headers)
    assert r.status_code == 201, r.text
    pid = str(r.json()["id"])
    r = client.post(f"/v1/portfolios/{pid}/solve", json={"time_limit": 0.5}, headers=headers)
    assert r.status_code == 202, r.text
    assert wait_job(client, r.json()["job_id"], headers, timeout=60)["status"] == "done"
    return pid


@pytest.fixture(scope="module", params=BACKENDS)
def solved(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Solved]:
    with database_url(request.param, tmp_path_factory.mktemp("decisions")) as url:
        settings = settings_for(url, max_time_limit=30.0, max_jobs_per_tenant=20)
        with TestClient(create_app(settings)) as client:
            me, them = tenant(client), tenant(client)
            body = json.loads(example_path().read_text(encoding="utf-8"))
            pid = store_and_solve(client, me.planner, body)
            plans = client.get(f"/v1/portfolios/{pid}/plans", headers=me.viewer).json()["items"]
            plan = client.get(f"/v1/plans/{plans[0]['id']}", headers=me.viewer).json()["plan"]
            yield Solved(client, me, them, pid, body, plans[0]["id"], plan)


def run(s: Solved, route: str, body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Queue a decision job as the planner and wait for it: (the 202 answer, the job)."""
    url = f"/v1/portfolios/{s.portfolio_id}/{route}"
    r = s.client.post(url, json=body, headers=s.me.planner)
    assert r.status_code == 202, r.text
    created = r.json()
    assert r.headers["Location"] == f"/v1/jobs/{created['job_id']}"
    job = wait_job(s.client, created["job_id"], s.me.viewer, timeout=120)
    assert job["status"] == "done", job
    assert job["has_result"] is True
    return created, job


def result(s: Solved, job_id: str, headers: dict[str, str] | None = None) -> Any:
    return s.client.get(f"/v1/jobs/{job_id}/result", headers=headers or s.me.viewer)


def test_risk_job_stores_the_libraries_answer(solved: Solved) -> None:
    created, job = run(solved, "risk", {"runs": 200, "seed": 3})
    assert created["kind"] == "risk" and created["plan_id"] == solved.plan_id
    assert job["kind"] == "risk" and job["progress"]["stage"] == "done"
    r = result(solved, created["job_id"])
    assert r.status_code == 200, r.text
    got = r.json()
    assert got.pop("plan_id") == solved.plan_id
    # exactly the library's figures (the CLI's --json) for the same plan, runs and seed
    portfolio = read_portfolio(solved.body)[0]
    want = simulate(portfolio, load_plan(solved.plan), runs=200, seed=3).as_dict()
    assert got == json.loads(json.dumps(want))
    assert set(got["projects"]) == {"crm", "portal", "ops"}
    # viewers read but may not run; another tenant sees nothing
    url = f"/v1/portfolios/{solved.portfolio_id}/risk"
    assert solved.client.post(url, json={}, headers=solved.me.viewer).status_code == 403
    assert solved.client.post(url, json={}, headers=solved.them.planner).status_code == 404
    assert result(solved, created["job_id"], solved.them.viewer).status_code == 404


def test_scenarios_job_compares_and_carries_the_edited_portfolio(solved: Solved) -> None:
    body = {"scenarios": [{"name": "early-cutover", "edits": [MOVED]}], "time_limit": 1}
    created, job = run(solved, "scenarios", body)
    # the stated budget: one re-solve of 1 s plus its allowance
    assert created["solves"] == 1 and created["time_limit_per_solve"] == 1
    assert created["time_limit"] == pytest.approx(1 + SOLVE_OVERHEAD_SECONDS)
    assert job["time_limit"] == pytest.approx(created["time_limit"])
    got = result(solved, created["job_id"]).json()
    assert got["complete"] is True and got["inline"] is True
    assert got["plan_id"] == solved.plan_id
    assert got["base"]["objective"] == solved.plan["objective"]
    (scenario,) = got["scenarios"]
    assert scenario["name"] == "early-cutover" and scenario["edits"] == [MOVED]
    edited = read_portfolio(scenario["portfolio"])[0]
    cutover = next(t for p in edited.projects for t in p.tasks if t.id == "crm-cutover")
    assert cutover.deadline is not None and cutover.deadline.isoformat() == "2027-02-01"
    assert dict(load_plan(scenario["plan"]).objective or {}) == scenario["objective"]
    assert set(scenario["kpis"]) >= {"delivered_hours", "late_tasks", "total_cost"}


def test_recommendations_job_proposes_a_hire_for_an_unassignable_task(solved: Solved) -> None:
    c = solved.client
    body = portfolio_dict(
        [{"id": "ann", "skills": {"py": 4}, "cost_per_hour": 50}],
        [
            {"id": "a", "skill": "py", "effort_hours": 8},
            {"id": "b", "skill": "py", "effort_hours": 8},
            {"id": "ml", "skill": "ml", "min_level": 3, "effort_hours": 16},
        ],
    )
    pid = store_and_solve(c, solved.me.planner, body)
    r = c.post(
        f"/v1/portfolios/{pid}/recommendations",
        json={"time_limit": 1, "limit": 2},
        headers=solved.me.planner,
    )
    assert r.status_code == 202, r.text
    created = r.json()
    assert created["solves"] == 3  # the control and two candidates
    assert created["time_limit"] == pytest.approx(3 * (1 + SOLVE_OVERHEAD_SECONDS))
    job = wait_job(c, created["job_id"], solved.me.viewer, timeout=120)
    assert job["status"] == "done", job
    got = result(solved, created["job_id"]).json()
    assert got["base_plan"] == created["plan_id"]
    recs = got["recommendations"]
    assert 1 <= len(recs) <= 2
    hire = next(x for x in recs if x["kind"] == "hire")
    assert hire["helps"] is True and hire["effect"]["delivered_hours"] == 16
    assert "ml" in hire["summary"] and hire["edits"][0]["new_people"]
    # the edited portfolio and its plan travel with it: the hire is in it and does the work
    hired = {p["id"] for p in hire["portfolio"]["people"]} - {"ann"}
    assert len(hired) == 1
    plan = load_plan(hire["plan"])
    assert any(set(a.people) & hired for a in plan.assignments if a.task == "ml")
    assert isinstance(got["control"]["plan"], dict)


def test_bad_input_is_refused_at_the_door_naming_the_field(solved: Solved) -> None:
    c, h = solved.client, solved.me.planner
    base = f"/v1/portfolios/{solved.portfolio_id}"
    bad = {"scenarios": [{"name": "x", "edits": [{"tasks": {"no-such-task": {"priority": 2}}}]}]}
    r = c.post(f"{base}/scenarios", json=bad, headers=h)
    assert r.status_code == 422, r.text
    paths = [d["path"] for d in r.json()["error"]["details"]]
    assert paths and all(p.startswith("scenarios[0].edits[0]") for p in paths), paths
    assert any("no-such-task" in p for p in paths), paths
    twice = {"scenarios": [{"name": "x", "edits": []}, {"name": "x", "edits": []}]}
    r = c.post(f"{base}/scenarios", json=twice, headers=h)
    assert r.status_code == 422 and r.json()["error"]["details"][0]["path"] == "scenarios[1].name"
    r = c.post(f"{base}/risk", json={"plan_id": "nope"}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["details"][0]["path"] == "plan_id"
    r = c.post(f"{base}/risk", json={"runs": 20_001}, headers=h)
    assert r.status_code == 422 and "runs" in r.json()["error"]["details"][0]["path"]
    r = c.post(f"{base}/recommendations", json={"limit": 11}, headers=h)
    assert r.status_code == 422 and "limit" in r.json()["error"]["details"][0]["path"]
    many = {"scenarios": [{"name": f"s{i}", "edits": []} for i in range(11)]}
    assert c.post(f"{base}/scenarios", json=many, headers=h).status_code == 422
    # a solve job has plans, not a result
    jobs = c.get(f"/v1/portfolios/{solved.portfolio_id}/plans", headers=h).json()["items"]
    r = result(solved, str(jobs[-1]["job_id"]))
    assert r.status_code == 404 and r.json()["error"]["code"] == "no_result"


def test_what_if_budget_is_stated_and_capped() -> None:
    assert what_if_budget(2.0, 3, 100.0) == (3 * (2.0 + SOLVE_OVERHEAD_SECONDS), 2.0)
    total, per = what_if_budget(10.0, 11, 30.0) or (0.0, 0.0)
    assert total == 30.0 and per == pytest.approx(30.0 / 11 - SOLVE_OVERHEAD_SECONDS)
    assert what_if_budget(10.0, 11, 5.0) is None


def test_risk_result_crosses_the_supervisors_pipe(make_client: AppFactory) -> None:
    """In the production isolation the handler runs in a child: the result reaches the row."""
    client = make_client(job_isolation="process", job_grace_seconds=2.0, max_time_limit=10.0)
    t = tenant(client)
    body = portfolio_dict(
        [{"id": "ann", "skills": {"py": 4}}],
        [{"id": "a", "skill": "py", "effort_hours": 16, "deadline": "2027-01-06"}],
    )
    pid = store_and_solve(client, t.planner, body)
    r = client.post(f"/v1/portfolios/{pid}/risk", json={"runs": 200}, headers=t.planner)
    assert r.status_code == 202, r.text
    job = wait_job(client, r.json()["job_id"], t.viewer, timeout=60)
    assert job["status"] == "done" and job["progress"]["stage"] == "done", job
    got = client.get(f"/v1/jobs/{job['id']}/result", headers=t.viewer).json()
    assert got["runs"] == 200 and set(got["tasks"]) == {"a"}


def test_scenarios_job_stopped_between_scenarios_keeps_those_done(
    ok_small: dict[str, Any],
) -> None:
    """A stop (cancel, time limit) is honoured between re-solves: the result holds the
    scenarios done, says it is not complete, and the stage says stopped."""
    portfolio = read_portfolio(ok_small)[0]
    plan = plan_to_dict(solve(portfolio, SolveParams(greedy_only=True)).plan)
    saved: list[dict[str, Any]] = []

    class Store:
        def save_plan(self, job: ClaimedJob, plan: Any, *, final: bool) -> str | None:
            raise AssertionError("a scenarios job stores no plan")

        def plan_body(self, tenant: str, plan_id: str) -> dict[str, Any] | None:
            return plan if plan_id == "p1" else None

        def save_result(self, job: ClaimedJob, result: dict[str, Any]) -> bool:
            saved.append(result)
            return True

    two = [{"name": "one", "edits": []}, {"name": "two", "edits": []}]
    job = ClaimedJob(
        "j", "t", "pid", 1, ok_small, 10, 1, "scenarios",
        {"plan_id": "p1", "scenarios": two, "time_limit_per_solve": 0.2},
    )  # fmt: skip
    stages: list[str] = []

    def on_record(values: ProgressValues) -> None:
        stages.append(values.stage or "")
        if values.stage and values.stage.startswith("scenario 1/2"):
            ctx.stop.set()  # asked to stop while the first scenario runs

    ctx = JobContext(job, Store(), on_record=on_record)
    job_kinds.KINDS["scenarios"](job, ctx)
    (result,) = saved
    assert [s["name"] for s in result["scenarios"]] == ["one"]
    assert result["complete"] is False and result["plan_id"] == "p1"
    assert stages == ["scenario 1/2: one", "stopped"]
