"""Fixtures of the REST service tests: the app on SQLite (a temporary file) and on PostgreSQL
(a fresh schema per test, or per module, in the database ``test`` on 127.0.0.1:5432).

When PostgreSQL cannot be reached the PostgreSQL cases FAIL, with the reason: CI runs on a
machine kind that has it (``.ci/run`` starts it), so a silent skip would hide half of the service
tests. On a machine without PostgreSQL set ``ALLOCATOR_ALLOW_NO_PG=1`` to skip them instead."""

from __future__ import annotations

import contextlib
import functools
import os
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from allocator_api.app import create_app
from allocator_api.repository import Keys
from allocator_api.security import Role
from allocator_api.settings import Settings

PG_URL = os.environ.get(
    "ALLOCATOR_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BACKENDS = ["sqlite", "postgresql"]


@functools.cache
def _pg_problem() -> str | None:
    """Why PostgreSQL cannot be used (None: it can)."""
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - psycopg is in the api extra
        return f"psycopg is not installed: {exc}"
    try:
        with psycopg.connect(PG_URL.replace("+psycopg", ""), connect_timeout=3):
            return None
    except Exception as exc:
        return f"PostgreSQL is not reachable at {PG_URL}: {type(exc).__name__}: {exc}"


@contextlib.contextmanager
def fresh_pg_schema() -> Iterator[str]:
    """A URL whose tables live in a new schema of the ``test`` database, dropped afterwards."""
    problem = _pg_problem()
    if problem is not None:
        if os.environ.get("ALLOCATOR_ALLOW_NO_PG") == "1":
            pytest.skip(f"{problem} (ALLOCATOR_ALLOW_NO_PG=1)")
        pytest.fail(f"{problem}; set ALLOCATOR_ALLOW_NO_PG=1 to skip the PostgreSQL cases")
    import psycopg

    schema = f"api_test_{uuid.uuid4().hex[:12]}"
    plain = PG_URL.replace("+psycopg", "")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@contextlib.contextmanager
def database_url(backend: str, directory: Any) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{directory}/api-{uuid.uuid4().hex[:8]}.sqlite"
    else:
        with fresh_pg_schema() as url:
            yield url


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    with database_url(request.param, tmp_path) as url:
        yield url


def settings_for(db_url: str, **overrides: Any) -> Settings:
    """Settings for tests: quick polling, no JSON log handler (pytest captures logs)."""
    values: dict[str, Any] = {
        "database_url": db_url,
        "json_logs": False,
        "poll_interval": 0.05,
        "default_time_limit": 1.0,
        "max_time_limit": 2.0,
        "default_workers": 1,
        "max_workers": 1,
        # jobs on the worker thread, so tests may replace handlers; tests/api/test_supervisor.py
        # runs them in supervised child processes (the production default)
        "job_isolation": "thread",
        # rate limits off unless a test is about them (tests/api/test_ratelimit.py): one
        # module-scoped client makes hundreds of requests, many with revoked keys
        "rate_limit_per_second": 0,
        "auth_failures_per_minute": 10**6,
    }
    values.update(overrides)
    return Settings(**values)


AppFactory = Callable[..., TestClient]


@pytest.fixture
def make_client(db_url: str) -> Iterator[AppFactory]:
    """``make_client(**settings)``: a started app (lifespan run) and its test client."""
    stack = contextlib.ExitStack()

    def factory(**overrides: Any) -> TestClient:
        app = create_app(settings_for(db_url, **overrides))
        return stack.enter_context(TestClient(app))

    with stack:
        yield factory


@pytest.fixture
def client(make_client: AppFactory) -> TestClient:
    return make_client()


def key_headers(app: FastAPI, tenant: str, role: Role) -> dict[str, str]:
    """A new key of ``tenant`` with ``role``, as request headers."""
    with app.state.db.sessions() as session:
        _, token = Keys(session).create(tenant, role)
    return {"Authorization": f"Bearer {token}"}


def new_tenant() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


def wait_job(
    client: TestClient,
    job_id: str,
    headers: dict[str, str],
    until: Callable[[dict[str, Any]], bool] | None = None,
    timeout: float = 30.0,
) -> dict[str, Any]:
    """Poll the job until ``until`` (default: a final state) holds; fail after ``timeout``."""
    until = until or (lambda j: j["status"] in ("done", "failed", "cancelled"))
    deadline = time.monotonic() + timeout
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        r = client.get(f"/v1/jobs/{job_id}", headers=headers)
        assert r.status_code == 200, r.text
        job = r.json()
        if until(job):
            return job
        time.sleep(0.03)
    raise AssertionError(f"job {job_id} did not get there in {timeout}s: {job}")
