"""Hygiene (issue 16, item 5, the parts built): SQL parameters never in errors or logs, the
security headers on every answer, and secrets never cached."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import StatementError

from allocator_api.db import make_engine
from tests.api.conftest import key_headers, new_tenant

SECRET = "s3cret-portfolio-body-or-key-hash"


def test_database_errors_do_not_carry_sql_parameters(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    engine = make_engine(db_url)
    with pytest.raises(StatementError) as err, engine.connect() as conn:
        conn.execute(text("SELECT :x + no_such_column"), {"x": SECRET})
    assert SECRET not in str(err.value)
    assert "hidden" in str(err.value)
    caplog.set_level(logging.DEBUG)
    logging.getLogger("test").exception("db error", exc_info=err.value)
    assert SECRET not in caplog.text
    engine.dispose()


def test_every_answer_has_the_security_headers(client: TestClient) -> None:
    for path in ("/healthz", "/v1/portfolios", "/v1/no-such-route"):
        r = client.get(path)
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["referrer-policy"] == "no-referrer"
        assert "default-src 'none'" in r.headers["content-security-policy"]
    assert client.get("/v1/portfolios").headers["cache-control"] == "no-store"


def test_a_new_key_is_never_cached(client: TestClient) -> None:
    headers = key_headers(client.app, new_tenant(), "admin")  # type: ignore[arg-type]
    r = client.post("/v1/keys", json={"role": "viewer"}, headers=headers)
    assert r.status_code == 201, r.text
    assert r.json()["key"]
    assert r.headers["cache-control"] == "no-store"
