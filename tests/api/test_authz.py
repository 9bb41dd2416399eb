"""Every route x caller x tenant: the expected status of each cell, each cell a test case.

Callers: no key, a revoked key, and keys of the three roles. "own" calls name the caller's
tenant's resources; "other" calls name another tenant's (which must answer 404, as if they did
not exist) or, for routes without an id, check that nothing of the other tenant shows. Role
checks come first, so a role that may not call a route gets 403 whatever the id.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from allocator.contract import read_portfolio
from allocator.engine import SolveParams, solve
from allocator_api.app import create_app
from allocator_api.repository import ClaimedJob, Jobs, JobStore, Keys, Portfolios
from allocator_api.service import checked_plan, read_valid_portfolio
from tests.api.conftest import BACKENDS, database_url, new_tenant, settings_for
from tests.conftest import portfolio_dict

CALLERS = ("anonymous", "revoked", "viewer", "planner", "admin")

# route -> (expected for callers in CALLERS order on the own tenant's resources,
#           expected on the other tenant's resources)
TABLE: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    #                                       anon revk view plan admn    anon revk view plan admn
    "GET /v1/portfolios":                  ((401, 401, 200, 200, 200), (401, 401, 200, 200, 200)),
    "POST /v1/portfolios":                 ((401, 401, 403, 201, 201), (401, 401, 403, 201, 201)),
    "GET /v1/portfolios/{portfolio}":      ((401, 401, 200, 200, 200), (401, 401, 404, 404, 404)),
    "PUT /v1/portfolios/{portfolio}":      ((401, 401, 403, 200, 200), (401, 401, 403, 404, 404)),
    "DELETE /v1/portfolios/{portfolio}":   ((401, 401, 403, 204, 204), (401, 401, 403, 404, 404)),
    "POST /v1/portfolios/{portfolio}/solve": ((401, 401, 403, 202, 202), (401, 401, 403, 404, 404)),
    "GET /v1/portfolios/{portfolio}/plans": ((401, 401, 200, 200, 200), (401, 401, 404, 404, 404)),
    "POST /v1/portfolios/{portfolio}/check": ((401, 401, 200, 200, 200), (401, 401, 404, 404, 404)),
    "GET /v1/jobs/{job}":                  ((401, 401, 200, 200, 200), (401, 401, 404, 404, 404)),
    "GET /v1/jobs/{job}/plan":             ((401, 401, 200, 200, 200), (401, 401, 404, 404, 404)),
    "GET /v1/jobs/{job}/result":           ((401, 401, 409, 409, 409), (401, 401, 404, 404, 404)),
    "POST /v1/portfolios/{portfolio}/risk": ((401, 401, 403, 202, 202), (401, 401, 403, 404, 404)),
    "POST /v1/portfolios/{portfolio}/scenarios":
                                           ((401, 401, 403, 202, 202), (401, 401, 403, 404, 404)),
    "POST /v1/portfolios/{portfolio}/recommendations":
                                           ((401, 401, 403, 202, 202), (401, 401, 403, 404, 404)),
    "DELETE /v1/jobs/{job}":               ((401, 401, 403, 200, 200), (401, 401, 403, 404, 404)),
    "GET /v1/plans/{plan}":                ((401, 401, 200, 200, 200), (401, 401, 404, 404, 404)),
    "GET /v1/plans/{plan}/report":         ((401, 401, 200, 200, 200), (401, 401, 404, 404, 404)),
    "POST /v1/solve":                      ((401, 401, 403, 200, 200), (401, 401, 403, 200, 200)),
    "POST /v1/keys":                       ((401, 401, 403, 403, 201), (401, 401, 403, 403, 201)),
    "GET /v1/keys":                        ((401, 401, 403, 403, 200), (401, 401, 403, 403, 200)),
    "DELETE /v1/keys/{key}":               ((401, 401, 403, 403, 204), (401, 401, 403, 403, 404)),
    "GET /metrics":                        ((401, 401, 403, 403, 200), (401, 401, 403, 403, 200)),
    "GET /openapi.json":                   ((200, 200, 200, 200, 200), (200, 200, 200, 200, 200)),
    "GET /healthz":                        ((200, 200, 200, 200, 200), (200, 200, 200, 200, 200)),
    "GET /readyz":                         ((200, 200, 200, 200, 200), (200, 200, 200, 200, 200)),
}  # fmt: skip

CELLS = [
    pytest.param(route, caller, tenant, expected, id=f"{route}|{caller}|{tenant}")
    for route, (own, other) in TABLE.items()
    for tenant, row in (("own", own), ("other", other))
    for caller, expected in zip(CALLERS, row, strict=True)
]


def tiny() -> dict[str, Any]:
    return portfolio_dict(
        [{"id": "ann", "skills": {"py": 4}}], [{"id": "a", "skill": "py", "effort_hours": 8}]
    )


def body_for(template: str, plan: dict[str, Any]) -> Any:
    if template == "/v1/solve":
        return {"portfolio": tiny(), "time_limit": 0.2}
    if template == "/v1/keys":
        return {"role": "viewer"}
    if template.endswith("/solve"):
        return {"time_limit": 1}
    if template.endswith("/check"):
        return plan
    if template.endswith("/scenarios"):
        return {"scenarios": [{"name": "s", "edits": []}]}
    if template.endswith("/recommendations"):
        return {"limit": 1, "time_limit": 0.5}
    if template.endswith("/risk"):
        return {"runs": 10}
    return tiny()


@dataclass
class World:
    """One tenant's resources: a portfolio, a queued job with a plan, a spare key."""

    tenant: str
    portfolio: str
    job: str
    plan: str
    key: str
    headers: dict[str, dict[str, str]]


def seed(app: FastAPI, plan_body: Any) -> World:
    tenant = new_tenant()
    with app.state.db.sessions() as s:
        keys = Keys(s)
        headers: dict[str, dict[str, str]] = {"anonymous": {}}
        for role in ("viewer", "planner", "admin"):
            headers[role] = {"Authorization": f"Bearer {keys.create(tenant, role)[1]}"}
        revoked, token = keys.create(tenant, "admin")
        keys.revoke(tenant, revoked.id)
        headers["revoked"] = {"Authorization": f"Bearer {token}"}
        spare = keys.create(tenant, "viewer")[0].id
        portfolio = Portfolios(s, tenant).create(read_valid_portfolio(tiny()).doc)
        job = Jobs(s, tenant).enqueue(
            portfolio.id, time_limit=1, workers=1, max_queued=10**6, max_per_tenant=10**6
        )
        claimed = ClaimedJob(job.id, tenant, portfolio.id, 1, portfolio.body, 1, 1)
    plan = JobStore(app.state.db.sessions).save_plan(claimed, plan_body, final=True)
    assert plan is not None
    return World(tenant, portfolio.id, job.id, plan, spare, headers)


@pytest.fixture(scope="module", params=BACKENDS)
def matrix_client(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    with database_url(request.param, tmp_path_factory.mktemp("authz")) as url:
        settings = settings_for(url, run_workers=False, max_queued_jobs=10**6)
        with TestClient(create_app(settings)) as client:
            yield client


@pytest.fixture(scope="module")
def plan_body() -> Any:
    portfolio = read_portfolio(tiny())[0]
    return checked_plan(portfolio, solve(portfolio, SolveParams(greedy_only=True)).plan)


#: routes that change the resources they name get new ones; the others share one pair
DESTRUCTIVE = {
    "PUT /v1/portfolios/{portfolio}",
    "DELETE /v1/portfolios/{portfolio}",
    "DELETE /v1/jobs/{job}",
    "DELETE /v1/keys/{key}",
    # decision jobs: queued on fresh worlds, so the tenant's job limit is never reached
    "POST /v1/portfolios/{portfolio}/risk",
    "POST /v1/portfolios/{portfolio}/scenarios",
    "POST /v1/portfolios/{portfolio}/recommendations",
}


@pytest.fixture(scope="module")
def shared_worlds(matrix_client: TestClient, plan_body: Any) -> tuple[World, World]:
    app: FastAPI = matrix_client.app  # type: ignore[assignment]
    return seed(app, plan_body), seed(app, plan_body)


@pytest.mark.parametrize(("route", "caller", "tenant", "expected"), CELLS)
def test_route_role_tenant(
    matrix_client: TestClient,
    shared_worlds: tuple[World, World],
    plan_body: Any,
    route: str,
    caller: str,
    tenant: str,
    expected: int,
) -> None:
    app: FastAPI = matrix_client.app  # type: ignore[assignment]
    if route in DESTRUCTIVE:
        me, them = seed(app, plan_body), seed(app, plan_body)
    else:
        me, them = shared_worlds
    target = me if tenant == "own" else them
    method, template = route.split(" ", 1)
    path = template.format(
        portfolio=target.portfolio, job=target.job, plan=target.plan, key=target.key
    )
    body = body_for(template, plan_body.body) if method in ("POST", "PUT") else None
    r = matrix_client.request(method, path, json=body, headers=me.headers[caller])
    assert r.status_code == expected, r.text
    if r.status_code >= 400:
        assert set(r.json()) == {"error"}
        codes = {"unauthorized", "forbidden", "not_found", "job_not_done"}  # the job is queued
        assert r.json()["error"]["code"] in codes
        if r.status_code == 401:
            assert r.headers["WWW-Authenticate"] == "Bearer"
        return
    # the other tenant never shows in what the caller can see or has made
    text = r.text
    for secret in (them.portfolio, them.job, them.plan, them.key, them.tenant):
        assert secret not in text
    if route in ("POST /v1/portfolios", "POST /v1/keys"):
        created = r.json()["id"]
        other_admin = them.headers["admin"]
        if route == "POST /v1/portfolios":
            r2 = matrix_client.get(f"/v1/portfolios/{created}", headers=other_admin)
        else:
            assert r.json()["tenant"] == me.tenant
            r2 = matrix_client.delete(f"/v1/keys/{created}", headers=other_admin)
        assert r2.status_code == 404
    if route == "GET /v1/portfolios":
        assert me.portfolio in text
    if route == "GET /v1/keys":
        assert me.key in text
