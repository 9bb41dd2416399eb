"""The real server in a subprocess, on a free loopback port: the issue's "done when" path with
``allocator serve`` on the default SQLite database, and a server killed (SIGKILL) during a
solve, restarted on the same database, that never leaves the job ``running``.

Every wait is bounded; the servers are stopped by the tests that start them.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from allocator.checker import check
from allocator.cli import example_path
from allocator.contract import load_portfolio, portfolio_to_dict, read_plan, read_portfolio
from allocator.generator import generate
from allocator.validation import validate
from tests.api.conftest import database_url
from tests.api.test_portfolios import broken_portfolio
from tests.conftest import portfolio_dict

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def clean_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALLOCATOR_")}
    env.update(values)
    return env


class Server:
    """A server process; its log goes to a file (shown when something fails)."""

    def __init__(self, cmd: list[str], env: dict[str, str], cwd: Path, log: Path) -> None:
        self.log = log
        self._log_file = log.open("ab")
        self.proc = subprocess.Popen(
            cmd, env=env, cwd=cwd, stdout=self._log_file, stderr=subprocess.STDOUT
        )

    def logs(self, tail: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-tail:]

    def wait_ready(self, base: str, timeout: float = 45.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}:\n{self.logs()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    return
            time.sleep(0.1)
        raise AssertionError(f"server not ready after {timeout}s:\n{self.logs()}")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=15)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log_file.close()
        return self.proc.returncode


@contextlib.contextmanager
def running(cmd: list[str], env: dict[str, str], cwd: Path, port: int) -> Iterator[Server]:
    server = Server(cmd, env, cwd, cwd / f"server-{port}-{time.monotonic_ns()}.log")
    try:
        server.wait_ready(f"http://{HOST}:{port}")
        yield server
    finally:
        server.stop()


def uvicorn_cmd(port: int) -> list[str]:
    return [
        sys.executable,
        *("-m", "uvicorn", "--factory", "allocator_api.app:create_app"),
        *("--host", HOST, "--port", str(port), "--no-access-log"),
    ]


def cli(*args: str, env: dict[str, str], cwd: Path) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "allocator_api.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def poll(
    fetch: Callable[[], dict[str, Any]], until: Callable[[dict[str, Any]], bool], timeout: float
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        last = fetch()
        if until(last):
            return last
        time.sleep(0.05)
    raise AssertionError(f"condition not met within {timeout}s; last: {last}")


def test_done_when(tmp_path: Path) -> None:
    """Start the server on the default SQLite, make a key, post the bundled example, solve,
    follow the job, fetch the plan, check it with the library: valid. A bad body is 422 with
    every error listed; another tenant gets 404."""
    env = clean_env()
    planner = cli("keys", "create", "--tenant", "acme", "--role", "planner", env=env, cwd=tmp_path)
    rival = cli("keys", "create", "--tenant", "rival", "--role", "admin", env=env, cwd=tmp_path)
    assert planner.startswith("alk_") and "\n" not in planner
    port = free_port()
    base = f"http://{HOST}:{port}"
    serve = [sys.executable, "-m", "allocator_api.cli", "serve", "--port", str(port)]
    with running(serve, env, tmp_path, port) as server, httpx.Client(base_url=base) as http:
        assert (tmp_path / "allocator.sqlite").exists()  # the default database
        h = {"Authorization": f"Bearer {planner}"}
        other = {"Authorization": f"Bearer {rival}"}

        example = json.loads(example_path().read_text())
        r = http.post("/v1/portfolios", json=example, headers=h)
        assert r.status_code == 201, r.text
        pid = r.json()["id"]
        r = http.post(
            f"/v1/portfolios/{pid}/solve", json={"time_limit": 2, "workers": 1}, headers=h
        )
        assert r.status_code == 202, r.text
        job_id = r.json()["job_id"]
        job = poll(
            lambda: http.get(f"/v1/jobs/{job_id}", headers=h).json(),
            lambda j: j["status"] in ("done", "failed", "cancelled"),
            timeout=30,
        )
        assert job["status"] == "done", (job, server.logs())
        r = http.get(f"/v1/jobs/{job_id}/plan", headers=h)
        assert r.status_code == 200
        plan, issues = read_plan(r.json())
        assert not issues
        result = check(load_portfolio(example_path()), plan)
        assert result.valid, result.violations
        assert plan.objective is not None
        assert job["progress"]["objective"] == dict(plan.objective)

        body = broken_portfolio()
        r = http.post("/v1/portfolios", json=body, headers=h)
        assert r.status_code == 422
        portfolio, structural = read_portfolio(body)
        every = [(i.path, i.message) for i in validate(portfolio, structural=structural).errors]
        assert [(d["path"], d["message"]) for d in r.json()["error"]["details"]] == every

        for path in (
            f"/v1/portfolios/{pid}",
            f"/v1/portfolios/{pid}/plans",
            f"/v1/jobs/{job_id}",
            f"/v1/jobs/{job_id}/plan",
            f"/v1/plans/{job['plan_id']}",
        ):
            r = http.get(path, headers=other)
            assert r.status_code == 404, path
            assert r.json()["error"]["code"] == "not_found"
        assert http.delete(f"/v1/jobs/{job_id}", headers=other).status_code == 404
        assert http.get("/v1/portfolios", headers=other).json()["total"] == 0
        # the log is JSON lines with request ids
        log = server.logs(tail=10**7).splitlines()
        lines = [json.loads(x) for x in log if x.startswith("{")]
        assert len(lines) > 10
        assert any(x.get("route") == "/v1/portfolios/{portfolio_id}/solve" for x in lines)
        assert all("request_id" in x for x in lines if x.get("logger") == "allocator_api.access")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_killed_during_solve_then_restarted(tmp_path: Path, backend: str) -> None:
    with database_url(backend, tmp_path) as url:
        env = clean_env(
            ALLOCATOR_DATABASE_URL=url,
            ALLOCATOR_POLL_INTERVAL="0.1",
            ALLOCATOR_JOB_STALE_SECONDS="2",
            ALLOCATOR_MAX_TIME_LIMIT="2",
        )
        key = cli("keys", "create", "--tenant", "acme", "--role", "planner", env=env, cwd=tmp_path)
        h = {"Authorization": f"Bearer {key}"}
        port = free_port()
        base = f"http://{HOST}:{port}"
        slow = portfolio_to_dict(generate(15, 10, seed=1))

        server = Server(uvicorn_cmd(port), env, tmp_path, tmp_path / "first.log")
        try:
            server.wait_ready(base)
            with httpx.Client(base_url=base, headers=h) as http:
                pid = http.post("/v1/portfolios", json=slow).json()["id"]
                job_id = http.post(f"/v1/portfolios/{pid}/solve", json={"time_limit": 2}).json()[
                    "job_id"
                ]
                job = poll(
                    lambda: http.get(f"/v1/jobs/{job_id}").json(),
                    lambda j: j["status"] != "queued" and j["plan_id"] is not None,
                    timeout=10,
                )
                assert job["status"] == "running", job
            server.kill()  # SIGKILL mid-solve: no shutdown code runs
        finally:
            server.stop()

        with (
            running(uvicorn_cmd(port), env, tmp_path, port),
            httpx.Client(base_url=base, headers=h) as http,
        ):
            job = poll(
                lambda: http.get(f"/v1/jobs/{job_id}").json(),
                lambda j: j["status"] in ("done", "failed", "cancelled"),
                timeout=40,
            )
            # queued again from the best plan found before the kill (up to job_max_attempts
            # runs), and run to the end by the restarted server
            assert job["status"] == "done" and job["error"] is None, job
            r = http.get(f"/v1/jobs/{job_id}/plan")
            assert r.status_code == 200 and r.headers["X-Plan-Final"] == "true"
            assert check(read_portfolio(slow)[0], read_plan(r.json())[0]).valid
            # and the restarted server solves again
            tiny = portfolio_dict(
                [{"id": "ann", "skills": {"py": 4}}],
                [{"id": "a", "skill": "py", "effort_hours": 8}],
            )
            pid2 = http.post("/v1/portfolios", json=tiny).json()["id"]
            job2 = http.post(f"/v1/portfolios/{pid2}/solve", json={"time_limit": 1}).json()
            done = poll(
                lambda: http.get(f"/v1/jobs/{job2['job_id']}").json(),
                lambda j: j["status"] in ("done", "failed", "cancelled"),
                timeout=20,
            )
            assert done["status"] == "done"
