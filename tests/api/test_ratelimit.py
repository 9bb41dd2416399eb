"""Rate limits (429 + Retry-After) per API key and, for wrong keys, per client address;
``/metrics`` shows a tenant only its own jobs."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import AppFactory, key_headers, new_tenant, wait_job


@pytest.fixture
def sqlite_only(db_url: str) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("the limits are in the process, not the database: SQLite is enough")


def test_one_key_is_limited_and_another_is_not(make_client: AppFactory, sqlite_only: None) -> None:
    client = make_client(rate_limit_per_second=0.5, rate_limit_burst=3, run_workers=False)
    busy = key_headers(client.app, new_tenant(), "viewer")  # type: ignore[arg-type]
    calm = key_headers(client.app, new_tenant(), "viewer")  # type: ignore[arg-type]
    codes = [client.get("/v1/portfolios", headers=busy).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    r = client.get("/v1/portfolios", headers=busy)
    assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(r.headers["Retry-After"]) <= 2  # one token every 2 s
    assert r.headers["X-Request-ID"]  # a 429 is an answer of the service like any other
    assert client.get("/v1/portfolios", headers=calm).status_code == 200
    assert client.get("/healthz").status_code == 200  # probes are never limited


def test_wrong_keys_from_one_address_are_limited(
    make_client: AppFactory, sqlite_only: None
) -> None:
    client = make_client(auth_failures_per_minute=5, run_workers=False)
    good = key_headers(client.app, new_tenant(), "viewer")  # type: ignore[arg-type]
    wrong = [{"Authorization": f"Bearer alk_guess{i}"} for i in range(7)]
    codes = [client.get("/v1/portfolios", headers=h).status_code for h in wrong]
    assert codes == [401] * 5 + [429] * 2
    # the address is refused whatever key it now presents, until its bucket refills
    r = client.get("/v1/portfolios", headers=good)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert client.get("/readyz").status_code == 200


def test_metrics_show_a_tenant_only_its_own_jobs(
    make_client: AppFactory, ok_small: dict[str, Any], sqlite_only: None
) -> None:
    client = make_client(operator_tenant="ops")
    busy = key_headers(client.app, new_tenant(), "admin")  # type: ignore[arg-type]
    for _ in range(2):
        pid = client.post("/v1/portfolios", json=ok_small, headers=busy).json()["id"]
        job_id = client.post(f"/v1/portfolios/{pid}/solve", headers=busy).json()["job_id"]
        wait_job(client, job_id, busy)
    other = key_headers(client.app, new_tenant(), "admin")  # type: ignore[arg-type]
    operator = key_headers(client.app, "ops", "admin")  # type: ignore[arg-type]
    assert 'allocator_jobs{state="done"} 2.0' in client.get("/metrics", headers=busy).text
    assert 'allocator_jobs{state="done"} 0.0' in client.get("/metrics", headers=other).text
    assert 'allocator_jobs{state="done"} 2.0' in client.get("/metrics", headers=operator).text
