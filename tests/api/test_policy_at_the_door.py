"""The rebalance policy is validated with the rest of a portfolio: a negative ``freeze_days``
is answered 422 at the door, naming ``policy.freeze_days``, never stored to fail later."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import key_headers, new_tenant
from tests.conftest import portfolio_dict


def with_policy(policy: dict[str, Any]) -> dict[str, Any]:
    return portfolio_dict(
        [{"id": "ann", "skills": {"py": 3}}],
        [{"id": "t1", "skill": "py", "effort_hours": 8}],
        policy=policy,
    )


@pytest.mark.parametrize(
    ("policy", "path", "message"),
    [
        ({"freeze_days": -1}, "policy.freeze_days", "policy: freeze_days must be >= 0, got -1"),
        ({"churn_budget": -5}, "policy.churn_budget", "policy: churn_budget must be >= 0, got -5"),
        ({"stability": "high"}, "policy.stability", "must be an integer, got the string 'high'"),
    ],
)
def test_bad_rebalance_policy_is_rejected_at_the_door(
    client: TestClient, policy: dict[str, Any], path: str, message: str
) -> None:
    h = key_headers(client.app, new_tenant(), "planner")  # type: ignore[arg-type]
    body = with_policy(policy)
    for r in (
        client.post("/v1/portfolios", json=body, headers=h),
        client.post("/v1/solve", json={"portfolio": body}, headers=h),
    ):
        assert r.status_code == 422, r.text
        error = r.json()["error"]
        assert error["code"] == "invalid_portfolio"
        assert [(d["path"], d["message"]) for d in error["details"]] == [(path, message)]
    assert client.get("/v1/portfolios", headers=h).json()["items"] == []


def test_valid_rebalance_policy_is_stored_as_given(client: TestClient) -> None:
    h = key_headers(client.app, new_tenant(), "planner")  # type: ignore[arg-type]
    body = with_policy({"freeze_days": 0, "churn_budget": 2})
    r = client.post("/v1/portfolios", json=body, headers=h)
    assert r.status_code == 201, r.text
    stored = client.get(f"/v1/portfolios/{r.json()['id']}", headers=h).json()
    assert stored["policy"] == {"freeze_days": 0, "churn_budget": 2}
