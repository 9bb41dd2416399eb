"""``Idempotency-Key`` on the POSTs that create: a retry gets the first answer and creates
nothing twice; the same key with another request is 422; a failed request frees its key."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from allocator_api import idempotency
from allocator_api.models import ApiKeyRow, IdempotencyRow, JobRow
from allocator_api.repository import IdempotencyKeys
from tests.api.conftest import AppFactory, key_headers, new_tenant


def _jobs(client: TestClient, portfolio_id: str) -> int:
    with client.app.state.db.sessions() as s:  # type: ignore[attr-defined]
        n = s.scalar(select(func.count()).where(JobRow.portfolio_id == portfolio_id))
        return int(n or 0)


def test_a_retried_create_makes_one_portfolio(client: TestClient, ok_small: dict[str, Any]) -> None:
    h = key_headers(client.app, new_tenant(), "planner")  # type: ignore[arg-type]
    first = client.post("/v1/portfolios", json=ok_small, headers=h | {"Idempotency-Key": "k1"})
    again = client.post("/v1/portfolios", json=ok_small, headers=h | {"Idempotency-Key": "k1"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert client.get("/v1/portfolios", headers=h).json()["total"] == 1
    # without a key every POST creates (the header is opt-in)
    client.post("/v1/portfolios", json=ok_small, headers=h)
    assert client.get("/v1/portfolios", headers=h).json()["total"] == 2


def test_the_same_key_with_another_body_is_422(
    client: TestClient, ok_small: dict[str, Any]
) -> None:
    h = key_headers(client.app, new_tenant(), "planner")  # type: ignore[arg-type]
    assert (
        client.post(
            "/v1/portfolios", json=ok_small, headers=h | {"Idempotency-Key": "k"}
        ).status_code
        == 201
    )
    other = {**ok_small, "name": "another"}
    r = client.post("/v1/portfolios", json=other, headers=h | {"Idempotency-Key": "k"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "idempotency_key_reused"
    assert client.get("/v1/portfolios", headers=h).json()["total"] == 1
    # keys are per tenant: another tenant's same key is its own
    h2 = key_headers(client.app, new_tenant(), "planner")  # type: ignore[arg-type]
    r = client.post("/v1/portfolios", json=other, headers=h2 | {"Idempotency-Key": "k"})
    assert r.status_code == 201


def test_a_failed_request_frees_its_key(client: TestClient, ok_small: dict[str, Any]) -> None:
    h = key_headers(client.app, new_tenant(), "planner")  # type: ignore[arg-type]
    bad = {**ok_small, "people": "nobody"}
    r = client.post("/v1/portfolios", json=bad, headers=h | {"Idempotency-Key": "fix-me"})
    assert r.status_code == 422
    r = client.post("/v1/portfolios", json=ok_small, headers=h | {"Idempotency-Key": "fix-me"})
    assert r.status_code == 201
    assert client.get("/v1/portfolios", headers=h).json()["total"] == 1


def test_a_retried_solve_and_rebalance_queue_one_job_each(
    make_client: AppFactory, ok_small: dict[str, Any]
) -> None:
    client = make_client(run_workers=False)
    h = key_headers(client.app, new_tenant(), "planner")  # type: ignore[arg-type]
    pid = client.post("/v1/portfolios", json=ok_small, headers=h).json()["id"]
    for path in (f"/v1/portfolios/{pid}/solve", f"/v1/portfolios/{pid}/rebalance"):
        key = {"Idempotency-Key": f"once {path}"}
        first = client.post(path, json={"time_limit": 1}, headers=h | key)
        again = client.post(path, json={"time_limit": 1}, headers=h | key)
        assert first.status_code == again.status_code == 202, first.text
        assert again.json()["job_id"] == first.json()["job_id"]
    assert _jobs(client, pid) == 2


def test_a_retried_key_creation_makes_one_key_and_keeps_no_secret(client: TestClient) -> None:
    tenant = new_tenant()
    h = key_headers(client.app, tenant, "admin")  # type: ignore[arg-type]
    key = {"Idempotency-Key": "new-viewer"}
    first = client.post("/v1/keys", json={"role": "viewer"}, headers=h | key)
    assert first.status_code == 201
    again = client.post("/v1/keys", json={"role": "viewer"}, headers=h | key)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "idempotency_secret_withheld"
    assert first.json()["id"] in again.json()["error"]["message"]
    assert first.json()["key"] not in again.text
    with client.app.state.db.sessions() as s:  # type: ignore[attr-defined]
        assert s.scalar(select(func.count()).where(ApiKeyRow.tenant == tenant)) == 2
        stored = s.scalars(select(IdempotencyRow).where(IdempotencyRow.tenant == tenant)).one()
        assert first.json()["key"] not in str(stored.response)


class _Died(Exception):
    """The server process dying between a create's write and its answer (with the key's
    release off: nothing of the request runs after it but the session's end)."""


def test_a_create_and_its_answer_are_one_commit(
    make_client: AppFactory, ok_small: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that dies after writing the portfolio (or the job) but before storing the
    answer has created nothing: the write and the answer commit together. The retry takes the
    abandoned claim over (after ``STALE_CLAIM_SECONDS``) and creates exactly one."""
    client = make_client(run_workers=False)
    h = key_headers(client.app, new_tenant(), "planner")  # type: ignore[arg-type]
    pid = client.post("/v1/portfolios", json=ok_small, headers=h).json()["id"]
    real_finish = IdempotencyKeys.finish

    def dies(*_args: Any) -> None:
        raise _Died

    for path, body, count in (
        ("/v1/portfolios", ok_small, lambda: _portfolios(client, h)),
        (f"/v1/portfolios/{pid}/solve", {"time_limit": 1}, lambda: _jobs(client, pid)),
    ):
        key = {"Idempotency-Key": f"dies {path}"}
        before = count()
        monkeypatch.setattr(IdempotencyKeys, "finish", dies)
        monkeypatch.setattr(IdempotencyKeys, "release", lambda *_: None)
        with contextlib.suppress(_Died):  # the test client may raise the app's exception
            assert client.post(path, json=body, headers=h | key).status_code == 500
        monkeypatch.undo()
        assert count() == before  # nothing was created
        # within the stale window the claim still holds (its request may be running)...
        assert client.post(path, json=body, headers=h | key).status_code == 409
        # ...after it, a retry takes it over and creates once
        monkeypatch.setattr(idempotency, "STALE_CLAIM_SECONDS", 0.0)
        first = client.post(path, json=body, headers=h | key)
        assert first.status_code in (201, 202), first.text
        monkeypatch.undo()
        again = client.post(path, json=body, headers=h | key)
        assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
        assert count() == before + 1
    assert real_finish is IdempotencyKeys.finish


def _portfolios(client: TestClient, headers: dict[str, str]) -> int:
    total: int = client.get("/v1/portfolios", headers=headers).json()["total"]
    return total
