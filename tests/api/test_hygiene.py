"""Hygiene (issue 16, item 5, the parts built): SQL parameters never in errors or logs, the
security headers on every answer, and secrets never cached."""

from __future__ import annotations

import logging
import socket
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, text
from sqlalchemy.exc import StatementError

from allocator_api.db import make_engine
from allocator_api.security import hash_token
from tests.api.conftest import AppFactory, key_headers, new_tenant

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


def test_keys_are_never_logged(
    make_client: AppFactory, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """No API key, nor its hash, in any log record (message, arguments, extra fields), with a
    good key, a wrong one, a key made through the API, and a database error while the key is
    looked up (its SQL parameters carry the hash)."""
    client = make_client(run_workers=False)
    tenant = new_tenant()
    admin = key_headers(client.app, tenant, "admin")  # type: ignore[arg-type]
    caplog.set_level(logging.DEBUG)
    client.get("/v1/portfolios", headers=admin)
    wrong = "alk_" + "w" * 43
    client.get("/v1/portfolios", headers={"Authorization": f"Bearer {wrong}"})
    made = client.post("/v1/keys", json={"role": "viewer"}, headers=admin).json()["key"]
    client.get("/v1/portfolios", headers={"Authorization": f"Bearer {made}"})
    secrets = [admin["Authorization"].split()[1], wrong, made]
    if db_url.startswith("sqlite"):
        engine = client.app.state.db.engine  # type: ignore[attr-defined]

        def locked(_c: Any, _cur: Any, statement: str, *_a: Any) -> None:
            if "api_keys" in statement:
                raise sqlite3.OperationalError("database is locked")

        event.listen(engine, "before_cursor_execute", locked)
        try:
            r = client.get("/v1/portfolios", headers=admin)
            assert r.status_code == 503  # a storage fault, logged with its traceback
        finally:
            event.remove(engine, "before_cursor_execute", locked)
    assert caplog.records
    logged = (
        "\n".join(f"{r.getMessage()} {r.__dict__} {r.exc_text or ''}" for r in caplog.records)
        + caplog.text
    )
    for secret in secrets:
        assert secret not in logged
        assert hash_token(secret) not in logged


def test_serve_closes_silent_connections_and_runs_two_processes(tmp_path: Path) -> None:
    """``allocator serve --workers 2 --timeout-keep-alive 1``: both processes answer, and a
    connection that sends nothing is closed after a second (uvicorn alone would hold it)."""
    from tests.api.test_server import HOST, Server, clean_env, free_port

    port = free_port()
    base = f"http://{HOST}:{port}"
    cmd = [sys.executable, "-m", "allocator_api.cli", "serve", "--port", str(port)]
    cmd += ["--workers", "2", "--timeout-keep-alive", "1"]
    server = Server(cmd, clean_env(), tmp_path, tmp_path / "serve.log")
    try:
        server.wait_ready(base)
        with socket.create_connection((HOST, port), timeout=10) as silent:
            started = time.monotonic()
            assert silent.recv(1) == b""  # closed by the server, not by the 10 s timeout
            assert time.monotonic() - started < 5
        for _ in range(10):  # new connections: served by either process
            assert httpx.get(f"{base}/healthz", timeout=10).status_code == 200
        assert (tmp_path / "allocator.sqlite").exists()  # migrated once, by the parent
    finally:
        server.stop()
