"""Storage faults: a read-only or full SQLite database answers 503 with Retry-After, readiness
turns false, nothing is half-written, and the service recovers without a restart once the fault
is gone; PostgreSQL connections terminated mid-traffic; kill -9 of the server during writes
loses nothing acknowledged."""

from __future__ import annotations

import sqlite3
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event

from tests.api.conftest import AppFactory, key_headers, new_tenant
from tests.api.test_server import HOST, Server, clean_env, cli, free_port


@pytest.fixture
def sqlite_client(make_client: AppFactory, db_url: str) -> TestClient:
    if not db_url.startswith("sqlite"):
        pytest.skip("an SQLite fault")
    return make_client(run_workers=False)


def _count(client: TestClient, h: dict[str, str]) -> int:
    total: int = client.get("/v1/portfolios", headers=h).json()["total"]
    return total


def _assert_503(r: httpx.Response) -> None:
    assert r.status_code == 503, r.text
    assert r.json()["error"]["code"] == "storage_unavailable"
    assert int(r.headers["Retry-After"]) >= 1


def test_read_only_sqlite_then_recovery(
    sqlite_client: TestClient, ok_small: dict[str, Any]
) -> None:
    """Connections opened while the file is read-only stay read-only (``query_only`` plays
    the read-only file here: the tests run as root, for whom chmod changes nothing). The
    service must drop them when they fail, or writes keep failing after the fault is gone."""
    client = sqlite_client
    engine: Engine = client.app.state.db.engine  # type: ignore[attr-defined]
    h = key_headers(client.app, new_tenant(), "planner")  # type: ignore[arg-type]
    pid = client.post("/v1/portfolios", json=ok_small, headers=h).json()["id"]

    def read_only(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA query_only=ON")

    event.listen(engine, "connect", read_only)
    engine.dispose()  # every connection from now on is opened on the "read-only file"
    try:
        for _ in range(3):
            _assert_503(client.post("/v1/portfolios", json=ok_small, headers=h))
        renamed = {**ok_small, "name": "renamed"}
        _assert_503(client.put(f"/v1/portfolios/{pid}", json=renamed, headers=h))
        assert client.get("/readyz").status_code == 503
        assert client.get("/healthz").status_code == 200
        # reads still work, and nothing was half-written
        assert client.get(f"/v1/portfolios/{pid}", headers=h).json()["name"] == ok_small["name"]
        assert _count(client, h) == 1
        # connections opened during the fault that only read go back to the pool
        assert all(client.get("/v1/portfolios", headers=h).status_code == 200 for _ in range(5))
    finally:
        event.remove(engine, "connect", read_only)
    # the file is writable again: no restart, every write goes through (before any readiness
    # probe, which also replaces the pool), then readiness is back
    codes = [client.post("/v1/portfolios", json=ok_small, headers=h).status_code for _ in range(10)]
    assert codes == [201] * 10
    assert client.get("/readyz").status_code == 200
    assert _count(client, h) == 11


def test_full_disk_then_recovery(sqlite_client: TestClient, ok_small: dict[str, Any]) -> None:
    """SQLite's own "database or disk is full" (``SQLITE_FULL``), raised on every write while
    the disk is full; an idempotent create that failed then succeeds once, on its retry."""
    client = sqlite_client
    engine: Engine = client.app.state.db.engine  # type: ignore[attr-defined]
    h = key_headers(client.app, new_tenant(), "planner")  # type: ignore[arg-type]
    pid = client.post("/v1/portfolios", json=ok_small, headers=h).json()["id"]
    full = threading.Event()

    def disk_full(_c: Any, _cur: Any, statement: str, *_a: Any) -> None:
        if full.is_set() and statement.lstrip().upper().startswith(("INSERT", "UPDATE")):
            raise sqlite3.OperationalError("database or disk is full")

    event.listen(engine, "before_cursor_execute", disk_full)
    try:
        full.set()
        retry = {"Idempotency-Key": "after-the-disk-is-freed"}
        _assert_503(client.post("/v1/portfolios", json=ok_small, headers=h | retry))
        _assert_503(client.post(f"/v1/portfolios/{pid}/solve", headers=h))
        assert client.get("/readyz").status_code == 503
        assert _count(client, h) == 1
        full.clear()
        assert client.get("/readyz").status_code == 200
        first = client.post("/v1/portfolios", json=ok_small, headers=h | retry)
        again = client.post("/v1/portfolios", json=ok_small, headers=h | retry)
        assert first.status_code == again.status_code == 201
        assert first.json()["id"] == again.json()["id"]
        assert _count(client, h) == 2
    finally:
        event.remove(engine, "before_cursor_execute", disk_full)


def test_postgresql_connections_terminated_mid_traffic(
    make_client: AppFactory, db_url: str, ok_small: dict[str, Any]
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("a PostgreSQL fault")
    import psycopg

    name = f"faults_{uuid.uuid4().hex[:8]}"  # only this test's connections are terminated
    client = make_client(database_url=f"{db_url}&application_name={name}", run_workers=False)
    h = key_headers(client.app, new_tenant(), "planner")  # type: ignore[arg-type]
    codes: list[int] = []
    stop = threading.Event()

    def traffic() -> None:
        while not stop.is_set():
            codes.append(client.post("/v1/portfolios", json=ok_small, headers=h).status_code)

    workers = [threading.Thread(target=traffic) for _ in range(4)]
    for w in workers:
        w.start()
    try:
        time.sleep(0.5)
        plain = "postgresql://postgres@127.0.0.1:5432/test"
        with psycopg.connect(plain, autocommit=True) as admin:
            killed = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = %s",
                (name,),
            ).fetchone()
        assert killed is not None and killed[0] >= 1
        time.sleep(0.5)
    finally:
        stop.set()
        for w in workers:
            w.join(30)
    # requests in flight at the kill may get 503 (retry), never a 500
    assert set(codes) <= {201, 503}, sorted(set(codes))
    after = [client.post("/v1/portfolios", json=ok_small, headers=h).status_code for _ in range(10)]
    assert after == [201] * 10
    assert client.get("/readyz").status_code == 200
    assert _count(client, h) == codes.count(201) + 10  # every acknowledged write is there


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_kill_9_during_writes_loses_nothing_acknowledged(
    backend: str, tmp_path: Path, ok_small: dict[str, Any]
) -> None:
    from tests.api.conftest import database_url

    with database_url(backend, tmp_path) as url:
        env = clean_env(ALLOCATOR_DATABASE_URL=url)
        key = cli("keys", "create", "--tenant", "acme", "--role", "planner", env=env, cwd=tmp_path)
        h = {"Authorization": f"Bearer {key}"}
        port = free_port()
        base = f"http://{HOST}:{port}"
        serve = [sys.executable, "-m", "allocator_api.cli", "serve", "--port", str(port)]
        acknowledged: dict[str, str] = {}
        stop = threading.Event()

        def writer(i: int) -> None:
            with httpx.Client(base_url=base, headers=h, timeout=10) as http:
                n = 0
                while not stop.is_set():
                    name = f"w{i}-{n}"
                    n += 1
                    try:
                        r = http.post("/v1/portfolios", json={**ok_small, "name": name})
                    except httpx.HTTPError:
                        continue  # the server died under this request: not acknowledged
                    if r.status_code == 201:
                        acknowledged[r.json()["id"]] = name

        server = Server(serve, env, tmp_path, tmp_path / "first.log")
        try:
            server.wait_ready(base)
            threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
            for t in threads:
                t.start()
            deadline = time.monotonic() + 20
            while len(acknowledged) < 20 and time.monotonic() < deadline:
                time.sleep(0.05)
            server.kill()  # SIGKILL while writes are in flight
            time.sleep(0.5)
            stop.set()
            for t in threads:
                t.join(30)
        finally:
            server.stop()
        assert len(acknowledged) >= 20
        server = Server(serve, env, tmp_path, tmp_path / "second.log")
        try:
            server.wait_ready(base)
            with httpx.Client(base_url=base, headers=h, timeout=10) as http:
                for pid, name in acknowledged.items():
                    r = http.get(f"/v1/portfolios/{pid}")
                    assert r.status_code == 200 and r.json()["name"] == name
                total = http.get("/v1/portfolios").json()["total"]
                assert total >= len(acknowledged)  # at most the unacknowledged extra ones
        finally:
            server.stop()
