"""The job supervisor (``job_isolation = "process"``), on SQLite and PostgreSQL: each job runs in
a child process under a memory ceiling; the time limit and a cancel are enforced in every phase
(the child is killed ``job_grace_seconds`` after them, its best plan kept); a child killed from
outside is run again from its best plan; the synchronous solve has the same cap.

The handlers of :mod:`tests.api.supervised` stand for phases that never look at the stop event
(a long compile, a greedy run, the reasons): they replace ``job_kinds.KINDS["solve"]`` in the
server process, which hands them to the child."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from allocator.checker import check
from allocator.contract import portfolio_to_dict, read_plan, read_portfolio
from allocator.generator import generate
from allocator_api import job_kinds
from allocator_api.app import create_app
from allocator_api.models import JobRow
from allocator_api.supervisor import CHILD_NAME, SPARES
from tests.api.conftest import AppFactory, key_headers, new_tenant, settings_for, wait_job
from tests.api.supervised import greedy_then_spin, hog, spin

#: seconds between a child's start and its kill, beyond time limit + grace: the spawn, the
#: terminate-then-kill second, the monitor's poll, a slow shared machine
SLACK = 4.0
#: seconds a child may take to start (its imports; not counted in its time): about 1 s on an
#: idle 2-core machine, 13 s seen when six test runs shared it
STARTUP = 30.0


def _slow_portfolio() -> dict[str, Any]:
    return portfolio_to_dict(generate(15, 10, seed=1))


@pytest.fixture
def process_client(make_client: AppFactory) -> TestClient:
    return make_client(job_isolation="process", job_grace_seconds=1.0, max_time_limit=6.0)


def _planner(client: TestClient) -> dict[str, str]:
    return key_headers(client.app, new_tenant(), "planner")  # type: ignore[arg-type]


def _row(client: TestClient, job_id: str) -> JobRow:
    with client.app.state.db.sessions() as s:  # type: ignore[attr-defined]
        row = s.get_one(JobRow, job_id)
        s.expunge(row)
        return row


def _job_children() -> list[multiprocessing.process.BaseProcess]:
    # children first, then the spares (started ahead, waiting for work: not a job's child), so
    # a spare started in between is in the second list
    children = [p for p in multiprocessing.active_children() if p.name == CHILD_NAME]
    spares = SPARES.idle()
    return [p for p in children if p not in spares]


def test_job_overrunning_its_time_limit_is_killed_and_keeps_its_plan(
    process_client: TestClient, ok_small: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(job_kinds.KINDS, "solve", greedy_then_spin)
    h = _planner(process_client)
    pid = process_client.post("/v1/portfolios", json=ok_small, headers=h).json()["id"]
    t0 = time.monotonic()
    r = process_client.post(f"/v1/portfolios/{pid}/solve", json={"time_limit": 2}, headers=h)
    job = wait_job(process_client, r.json()["job_id"], h, timeout=STARTUP + 2 + 1 + SLACK)
    took = time.monotonic() - t0
    assert job["status"] == "failed", job
    assert "overran its time limit of 2 s by the grace of 1 s; killed" in job["error"], job
    assert "best plan so far kept" in job["error"]
    assert took <= STARTUP + 2 + 1 + SLACK, took  # time limit + grace + slack, not "for ever"
    plan = process_client.get(f"/v1/jobs/{job['id']}/plan", headers=h)
    assert plan.status_code == 200 and plan.headers["X-Plan-Final"] == "false"
    assert check(read_portfolio(ok_small)[0], read_plan(plan.json())[0]).valid
    assert not _job_children()


def test_cancel_before_the_first_plan_kills_within_the_grace(
    process_client: TestClient, ok_small: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(job_kinds.KINDS, "solve", spin)
    h = _planner(process_client)
    pid = process_client.post("/v1/portfolios", json=ok_small, headers=h).json()["id"]
    r = process_client.post(f"/v1/portfolios/{pid}/solve", json={"time_limit": 3}, headers=h)
    job_id = r.json()["job_id"]
    wait_job(process_client, job_id, h, until=lambda j: j["status"] == "running", timeout=10)
    time.sleep(0.5)
    t0 = time.monotonic()
    assert process_client.delete(f"/v1/jobs/{job_id}", headers=h).status_code == 200
    job = wait_job(process_client, job_id, h, timeout=STARTUP)
    took = time.monotonic() - t0
    assert job["status"] == "cancelled", job
    # the grace (1 s) and the terminate-then-kill second, before the 3 s time limit
    assert took <= 1 + 1 + 1.5, took
    assert job["plan_id"] is None
    assert not _job_children()


def test_memory_ceiling_fails_the_job_and_the_server_serves_others(
    make_client: AppFactory, ok_small: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = make_client(job_isolation="process", job_memory_bytes=2 * 1024**3)
    a, b = _planner(client), _planner(client)
    pa = client.post("/v1/portfolios", json=ok_small, headers=a).json()["id"]
    monkeypatch.setitem(job_kinds.KINDS, "solve", hog)
    hogging = client.post(f"/v1/portfolios/{pa}/solve", headers=a).json()["job_id"]
    job = wait_job(client, hogging, a, timeout=STARTUP + 15)
    assert job["status"] == "failed", job
    assert "out of memory" in job["error"] and "job_memory_bytes" in job["error"], job
    monkeypatch.undo()  # the real solve again, for another tenant, on the same server
    pb = client.post("/v1/portfolios", json=ok_small, headers=b).json()["id"]
    other = client.post(f"/v1/portfolios/{pb}/solve", headers=b).json()["job_id"]
    done = wait_job(client, other, b, timeout=STARTUP + 15)
    assert done["status"] == "done", done
    assert client.get(f"/v1/portfolios/{pb}", headers=b).status_code == 200


def test_child_killed_mid_solve_is_run_again_and_ends_done(make_client: AppFactory) -> None:
    process_client = make_client(job_isolation="process", max_time_limit=6.0)
    h = _planner(process_client)
    body = _slow_portfolio()
    pid = process_client.post("/v1/portfolios", json=body, headers=h).json()["id"]
    r = process_client.post(f"/v1/portfolios/{pid}/solve", json={"time_limit": 3}, headers=h)
    job_id = r.json()["job_id"]
    # the greedy plan is stored: the child is in its CP-SAT phase
    wait_job(
        process_client, job_id, h, until=lambda j: j["plan_id"] is not None, timeout=STARTUP + 10
    )
    children = _job_children()
    assert len(children) == 1 and children[0].pid is not None
    os.kill(children[0].pid, signal.SIGKILL)
    job = wait_job(process_client, job_id, h, timeout=STARTUP + 20)
    assert job["status"] == "done", job
    assert job["error"] is None
    assert _row(process_client, job_id).attempts == 2
    plan = process_client.get(f"/v1/jobs/{job_id}/plan", headers=h)
    assert plan.status_code == 200 and plan.headers["X-Plan-Final"] == "true"
    assert check(read_portfolio(body)[0], read_plan(plan.json())[0]).valid
    versions = process_client.get(f"/v1/portfolios/{pid}/plans", headers=h).json()["items"]
    assert [v["version"] for v in versions] == [1]  # the same version, rewritten in place


def test_child_killed_on_every_attempt_fails_after_the_max(
    make_client: AppFactory, ok_small: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = make_client(job_isolation="process", job_max_attempts=2, max_time_limit=30.0)
    monkeypatch.setitem(job_kinds.KINDS, "solve", spin)
    h = _planner(client)
    pid = client.post("/v1/portfolios", json=ok_small, headers=h).json()["id"]
    r = client.post(f"/v1/portfolios/{pid}/solve", json={"time_limit": 30}, headers=h)
    job_id = r.json()["job_id"]
    deadline = time.monotonic() + 30
    kills = 0
    while kills < 2 and time.monotonic() < deadline:
        children = [c for c in _job_children() if c.pid is not None]
        if children:
            os.kill(children[0].pid, signal.SIGKILL)  # type: ignore[arg-type]
            # wait for its death without reaping it (a join here races the supervisor's own
            # wait for the exit code)
            gone = time.monotonic() + 5
            while _alive(children[0].pid) and time.monotonic() < gone:  # type: ignore[arg-type]
                time.sleep(0.02)
            kills += 1
        time.sleep(0.05)
    job = wait_job(client, job_id, h, timeout=15)
    assert job["status"] == "failed", job
    assert "SIGKILL" in job["error"] and "job_max_attempts = 2" in job["error"], job
    assert _row(client, job_id).attempts == 2


def test_sync_solve_is_supervised(make_client: AppFactory, ok_small: dict[str, Any]) -> None:
    client = make_client(job_isolation="process", sync_max_time_limit=1, job_grace_seconds=2)
    h = _planner(client)
    r = client.post("/v1/solve", json={"portfolio": ok_small, "time_limit": 1}, headers=h)
    assert r.status_code == 200, r.text
    assert check(read_portfolio(ok_small)[0], read_plan(r.json())[0]).valid
    # a cap shorter than the compile, greedy run and checks of 73 tasks: killed mid-work
    client = make_client(
        job_isolation="process",
        sync_max_time_limit=0.05,
        job_grace_seconds=0.05,
        sync_max_tasks=100,
    )
    t0 = time.monotonic()
    r = client.post("/v1/solve", json={"portfolio": _slow_portfolio()}, headers=h)
    took = time.monotonic() - t0
    assert r.status_code == 503, r.text
    assert r.json()["error"]["code"] == "solve_overran" and r.headers["Retry-After"]
    assert "time limit of 0.05 s" in r.json()["error"]["message"]
    assert took <= STARTUP + 0.1 + 1 + 1, took
    assert not _job_children()


def test_server_shutdown_stops_the_children(
    db_url: str, ok_small: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(job_kinds.KINDS, "solve", spin)
    settings = settings_for(
        db_url, job_isolation="process", job_grace_seconds=1.0, max_time_limit=30.0
    )
    with TestClient(create_app(settings)) as client:
        h = _planner(client)
        pid = client.post("/v1/portfolios", json=ok_small, headers=h).json()["id"]
        r = client.post(f"/v1/portfolios/{pid}/solve", json={"time_limit": 30}, headers=h)
        job_id = r.json()["job_id"]
        wait_job(client, job_id, h, until=lambda j: j["status"] == "running", timeout=10)
        deadline = time.monotonic() + 10
        while not _job_children() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _job_children()
        t0 = time.monotonic()
    took = time.monotonic() - t0  # the app's shutdown: the child is asked, then killed
    assert not _job_children()
    assert took <= 1 + 1 + 1.5, took
    with TestClient(create_app(settings.model_copy(update={"run_workers": False}))) as client:
        job = client.get(f"/v1/jobs/{job_id}", headers=h).json()
    assert job["status"] == "failed" and "the server shut down" in job["error"], job


ORPHAN_SCRIPT = """
import multiprocessing, sys, threading, time
from allocator_api.repository import ClaimedJob
from allocator_api.supervisor import run_job_child, supervise
from tests.api.supervised import mark_then_spin

if __name__ == "__main__":
    job = ClaimedJob("j", "t", "p", 1, {}, 300.0, 1, input={"ready_file": sys.argv[1]})
    args = (run_job_child, (mark_then_spin, job))
    kw = {"time_limit": 300, "grace": 300, "memory_bytes": 0}
    threading.Thread(target=supervise, args=args, kwargs=kw, daemon=True).start()
    while not multiprocessing.active_children():
        time.sleep(0.05)
    print(multiprocessing.active_children()[0].pid, flush=True)
    time.sleep(300)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has ended
    except FileNotFoundError:
        return False


def test_child_of_a_killed_server_exits(tmp_path: Any) -> None:
    """SIGKILL of the server runs no shutdown code: the child notices and exits on its own."""
    script, ready = tmp_path / "server.py", tmp_path / "ready"
    script.write_text(ORPHAN_SCRIPT)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    server = subprocess.Popen(
        [sys.executable, str(script), str(ready)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=root,
        env=os.environ | {"PYTHONPATH": root},
    )
    child = 0
    try:
        assert server.stdout is not None
        child = int(server.stdout.readline())
        # past its start-up, in its handler (a child still reading its arguments dies with its
        # parent anyway)
        deadline = time.monotonic() + STARTUP
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ready.exists() and _alive(child)
        server.kill()
        server.wait(10)
        deadline = time.monotonic() + 10
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(child)
    finally:
        server.kill()
        server.wait(10)
        if child and _alive(child):  # never leave a spinning process behind
            os.kill(child, signal.SIGKILL)


def test_children_are_started_ahead_reused_and_replaced() -> None:
    """The service keeps a child per slot with its imports done: work goes to it, not to a
    process started for it; a child that ended its work cleanly runs the next piece; one that
    died is replaced at once, and a dead idle one is passed over; shutdown stops them."""
    from allocator_api.supervisor import supervise
    from tests.api.supervised import die, own_pid

    kw: dict[str, Any] = {"time_limit": 30, "grace": 5, "memory_bytes": 0}
    try:
        SPARES.fill(1)
        (ready,) = SPARES.idle()
        end = supervise(own_pid, (), **kw)
        assert end.how == "returned" and end.value == ready.pid, end
        assert SPARES.idle() == [ready]  # given back: the next piece of work goes to it
        end = supervise(own_pid, (), **kw)
        assert end.how == "returned" and end.value == ready.pid, end
        end = supervise(die, (), **kw)  # the child dies mid-work
        assert end.how == "died" and end.exitcode == 9, end
        (fresh,) = SPARES.idle()  # its replacement, started at once
        assert fresh.pid != ready.pid and fresh.is_alive()
        fresh.kill()
        fresh.join(5)
        end = supervise(own_pid, (), **kw)
        assert end.how == "returned" and end.value not in (ready.pid, fresh.pid), end
    finally:
        SPARES.discard()
    assert SPARES.idle() == [] and not _job_children()
    assert not [p for p in multiprocessing.active_children() if p.name == CHILD_NAME]


def test_children_run_at_a_lower_cpu_priority(make_client: AppFactory) -> None:
    """``job_nice``: a job's child runs that much nicer than the server (its requests get the
    cores before the solves); 0 keeps the server's priority; the service starts its children
    at the setting's niceness, with or without job workers (``POST /v1/solve``)."""
    from allocator_api.supervisor import supervise
    from tests.api.supervised import own_niceness

    kw: dict[str, Any] = {"time_limit": 30, "grace": 5, "memory_bytes": 0}
    server = os.nice(0)
    try:
        SPARES.discard()
        SPARES.fill(1, nice=5)
        end = supervise(own_niceness, (), **kw)
        assert end.how == "returned" and end.value == min(19, server + 5), end
        SPARES.discard()
        SPARES.fill(1, nice=0)
        end = supervise(own_niceness, (), **kw)
        assert end.how == "returned" and end.value == server, end
        SPARES.discard()
        make_client(job_isolation="process", job_nice=3, solve_slots=1)
        (child,) = SPARES.idle()
        deadline = time.monotonic() + STARTUP
        while os.getpriority(os.PRIO_PROCESS, child.pid) != min(19, server + 3):
            assert time.monotonic() < deadline, "the child never lowered its priority"
            time.sleep(0.1)
        # without job workers too: the children of POST /v1/solve
        make_client(job_isolation="process", job_nice=4, run_workers=False)
        assert SPARES.nice == 4
    finally:
        SPARES.discard()
