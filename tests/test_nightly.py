"""``allocator nightly``: three portfolios in a SQLite database, rebalanced on a Dask
LocalCluster (2 worker processes): one version each with its diff, idempotent per as_of, and a
failure inside one portfolio's transaction leaves its previous plan in force."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from distributed import Client, LocalCluster
from sqlalchemy import func, select

from allocator import load_portfolio
from allocator.checker import check
from allocator.contract import load_plan
from allocator.engine import SolveParams, solve
from allocator_api.cli import EXIT_LOCKED, main
from allocator_api.db import Database
from allocator_api.logs import CHATTY
from allocator_api.models import NightlyRunRow, PlanRow, PortfolioRow
from allocator_api.nightly import UpdateError, apply_updates, run_nightly
from allocator_api.nightly_store import NightLocked, night_lock
from allocator_api.repository import NightlyStore, PortfolioDoc, Portfolios
from allocator_api.service import checked_plan, read_valid_portfolio
from tests.conftest import portfolio_dict

NIGHT = date(2027, 1, 11)


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    c = Client(cluster)
    try:
        yield c
    finally:
        c.close()
        cluster.close()


def _portfolio(k: int) -> dict[str, Any]:
    people = [
        {"id": "ann", "skills": {"py": 3}, "cost_per_hour": 50},
        {"id": "bob", "skills": {"py": 3, "qa": 2}, "cost_per_hour": 20},
        {"id": "cat", "skills": {"qa": 3}, "cost_per_hour": 30},
    ]
    tasks = [
        {"id": "a", "skill": "py", "effort_hours": 24},
        {"id": "b", "skill": "py", "effort_hours": 40},
        {"id": "c", "skill": "qa", "effort_hours": 16, "predecessors": ["a"]},
        {"id": "d", "skill": "py", "effort_hours": 16, "deadline": "2027-01-22"},
    ]
    data = portfolio_dict(people, tasks, as_of="2027-01-04")
    data["name"] = f"portfolio-{k}"
    return data


def _seed(url: str) -> list[str]:
    """Three portfolios, each with a first plan (recorded as the night of 4 Jan)."""
    db = Database(url)
    db.migrate()
    ids = []
    with db.sessions() as s:
        for k in range(3):
            valid = read_valid_portfolio(_portfolio(k))
            doc = PortfolioDoc(valid.doc.name, valid.doc.body, 3, 4)
            ids.append(Portfolios(s, f"tenant-{k % 2}").create(doc).id)
    store = NightlyStore(db.sessions)
    for inp in store.inputs():
        p = load_portfolio(inp.body)
        plan = solve(p, SolveParams(time_limit=1, workers=1)).plan
        assert store.save(inp, date(2027, 1, 4), None, checked_plan(p, plan), []) is not None
    db.dispose()
    return ids


def _updates(ids: list[str]) -> dict[str, Any]:
    return {
        "as_of": NIGHT.isoformat(),
        "portfolios": {
            ids[0]: [
                {
                    "tasks": {
                        "a": {"status": "done"},
                        "b": {
                            "status": "in_progress",
                            "progress": {"people": ["bob"], "remaining_hours": 16},
                        },
                    }
                }
            ],
            ids[1]: [{"people": {"ann": {"available_until": "2027-01-12"}}}],
            ids[2]: [
                {
                    "new_tasks": [
                        {"project": "P", "task": {"id": "e", "skill": "qa", "effort_hours": 8}}
                    ],
                    "tasks": {"d": {"status": "cancelled"}},
                }
            ],
        },
    }


def _state(url: str, pid: str) -> tuple[int, int, int]:
    """(plan versions, nightly runs, portfolio revision)."""
    db = Database(url)
    with db.sessions() as s:
        plans = s.scalar(select(func.count()).where(PlanRow.portfolio_id == pid))
        runs = s.scalar(select(func.count()).where(NightlyRunRow.portfolio_id == pid))
        rev = s.get_one(PortfolioRow, pid).revision
    db.dispose()
    return int(plans or 0), int(runs or 0), rev


def _latest(url: str, pid: str) -> tuple[dict[str, Any], dict[str, Any]]:
    db = Database(url)
    with db.sessions() as s:
        plan = s.scalar(
            select(PlanRow).where(PlanRow.portfolio_id == pid).order_by(PlanRow.version.desc())
        )
        assert plan is not None
        body = s.get_one(PortfolioRow, pid).body
        out = (dict(body), dict(plan.body))
    db.dispose()
    return out


def test_apply_updates_rejects_unknown_ids() -> None:
    body = _portfolio(0)
    out = apply_updates(body, {"tasks": {"a": {"status": "done"}}, "as_of": "2027-01-05"})
    assert out["projects"][0]["tasks"][0]["status"] == "done" and out["as_of"] == "2027-01-05"
    assert "status" not in body["projects"][0]["tasks"][0]  # a copy
    with pytest.raises(UpdateError, match="zz"):
        apply_updates(body, {"tasks": {"zz": {"status": "done"}}})
    with pytest.raises(UpdateError, match="eve"):
        apply_updates(body, {"people": {"eve": {}}})


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_nightly_three_portfolios_then_idempotent(
    tmp_path: Path, client: Client, backend: str
) -> None:
    from tests.api.conftest import database_url

    with database_url(backend, tmp_path) as url:
        _three_then_idempotent(url, client)


def _three_then_idempotent(url: str, client: Client) -> None:
    ids = _seed(url)
    summary = run_nightly(url, updates=_updates(ids), time_limit=1, client=client)
    assert summary.exit_code == 0, summary.text()
    assert summary.count("done") == 3
    for pid in ids:
        assert _state(url, pid) == (2, 2, 2)
        body, plan_body = _latest(url, pid)
        assert body["as_of"] == NIGHT.isoformat()
        report = check(load_portfolio(body), load_plan(plan_body))
        assert report.valid, report.violations
    # each new version has its diff, with reasons
    runs = NightlyStore(Database(url).sessions).runs(ids[1])
    assert runs[-1].as_of == NIGHT and runs[-1].plan_id is not None
    assert all(ch["reasons"] for ch in runs[-1].diff)
    _, plan0 = _latest(url, ids[0])
    assert "a" not in {a["task"] for a in plan0["assignments"]}  # done: not planned
    b = next(a for a in plan0["assignments"] if a["task"] == "b")
    assert b["people"] == ["bob"] and b["start"] == NIGHT.isoformat()
    runs0 = NightlyStore(Database(url).sessions).runs(ids[0])
    kinds = {ch["task"]: ch for ch in runs0[-1].diff}
    assert kinds["a"]["reasons"] == ["task is done"]
    # the same night again: nothing new
    again = run_nightly(url, updates=_updates(ids), time_limit=1, client=client)
    assert again.exit_code == 0 and again.count("skipped") == 3
    for pid in ids:
        assert _state(url, pid) == (2, 2, 2)


def test_failure_inside_one_transaction_leaves_previous_plan(
    tmp_path: Path, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path}/n.sqlite"
    ids = _seed(url)
    before = _latest(url, ids[1])
    original = NightlyStore._add_run

    def crash(self: NightlyStore, s: Any, inp: Any, *rest: Any) -> None:
        original(self, s, inp, *rest)  # the plan and the run are written ... then it dies
        if inp.portfolio_id == ids[1]:
            raise RuntimeError("simulated crash before commit")

    monkeypatch.setattr(NightlyStore, "_add_run", crash)
    summary = run_nightly(url, updates=_updates(ids), time_limit=1, client=client)
    assert summary.exit_code == 1
    assert [o.portfolio_id for o in summary.failed] == [ids[1]]
    assert "simulated crash" in (summary.failed[0].error or "")
    assert _state(url, ids[1]) == (1, 1, 1)  # nothing of the night was stored
    assert _latest(url, ids[1]) == before
    assert _state(url, ids[0]) == (2, 2, 2) and _state(url, ids[2]) == (2, 2, 2)
    # the next run (fixed) does the one that failed, and only it
    monkeypatch.setattr(NightlyStore, "_add_run", original)
    rerun = run_nightly(url, updates=_updates(ids), time_limit=1, client=client)
    assert rerun.exit_code == 0
    assert rerun.count("done") == 1 and rerun.count("skipped") == 2
    assert _state(url, ids[1]) == (2, 2, 2)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_plan_failing_the_checker_is_never_stored(
    tmp_path: Path,
    client: Client,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    backend: str,
) -> None:
    """A new plan that breaks a rule (one task planned twice, for the second portfolio) fails
    that portfolio with the violations, logged as an error; its previous plan stays current,
    the others are stored with the checker's verdict."""
    import logging

    from allocator_api import nightly
    from tests.api.conftest import database_url

    with database_url(backend, tmp_path) as url:
        ids = _seed(url)
        before = _latest(url, ids[1])
        real = nightly.rebalance_body
        bad = json.dumps(_portfolio(1)["name"])  # portfolio-1's plan names it

        def corrupt(body: dict[str, Any], plan_body: Any, *more: Any) -> dict[str, Any]:
            out = real(body, plan_body, *more)
            if json.dumps(out["plan"]["portfolio"]) == bad:
                out["plan"]["assignments"].append(dict(out["plan"]["assignments"][0]))
            return out

        monkeypatch.setattr(nightly, "rebalance_body", corrupt)
        with caplog.at_level(logging.ERROR):
            summary = run_nightly(url, updates=_updates(ids), time_limit=1, client=client)
        assert summary.exit_code == 1, summary.text()
        assert [o.portfolio_id for o in summary.failed] == [ids[1]]
        error = summary.failed[0].error or ""
        assert "fails the independent checker" in error and "duplicate_task" in error
        assert any(
            "PLAN REJECTED" in r.getMessage() and r.levelno == logging.ERROR for r in caplog.records
        )
        assert _state(url, ids[1]) == (1, 1, 1) and _latest(url, ids[1]) == before
        db = Database(url)
        with db.sessions() as s:
            for pid in (ids[0], ids[2]):
                assert _state(url, pid) == (2, 2, 2)
                row = s.scalar(
                    select(PlanRow)
                    .where(PlanRow.portfolio_id == pid)
                    .order_by(PlanRow.version.desc())
                )
                assert row is not None and row.objective is not None
                assert (row.check_valid, row.check_violations, row.check_stale) == (
                    True,
                    0,
                    False,
                )
        db.dispose()
        assert "objective undelivered " in summary.text()


def test_bad_update_fails_only_its_portfolio_and_cli(
    tmp_path: Path, client: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path}/n.sqlite"
    ids = _seed(url)
    updates = _updates(ids)
    updates["portfolios"] = {k: v[0] for k, v in updates["portfolios"].items()}  # file format
    updates["portfolios"][ids[2]] = {"tasks": {"nope": {"status": "done"}}}
    upd = tmp_path / "updates"
    upd.mkdir()
    (upd / "day.json").write_text(json.dumps(updates))
    addr = client.scheduler.address  # type: ignore[union-attr]
    args = ["nightly", "--db", url, "--updates", str(upd), "--scheduler", addr]
    args += ["--time-limit", "1", "--as-of", NIGHT.isoformat(), "--log-format", "json"]
    with _logging_restored():
        code = main([*args, "--json"])
        out, err = capsys.readouterr()
    assert code == 1
    assert _state(url, ids[2]) == (1, 1, 1)
    assert _state(url, ids[0]) == (2, 2, 2)
    # the summary names every portfolio, the failed one with its tenant and why
    summary = json.loads(out)
    assert {(o["portfolio_id"], o["status"]) for o in summary["outcomes"]} == {
        (ids[0], "done"),
        (ids[1], "done"),
        (ids[2], "failed"),
    }
    (failed,) = [o for o in summary["outcomes"] if o["status"] == "failed"]
    assert failed["portfolio_id"] == ids[2] and failed["tenant"] == "tenant-0"
    assert "unknown task 'nope'" in failed["error"]
    assert summary["rebalanced"] == 2 and summary["failed"] == 1
    # in-progress and done tasks are counted apart from the moves of work not started
    moves = {o["portfolio_id"]: o["moves"] for o in summary["outcomes"]}
    assert moves[ids[0]]["tasks_done"] == 1 and moves[ids[0]]["tasks_in_progress"] == 1
    # quiet: every stderr line is a structured log line of the nightly job (no migration or
    # cluster chatter), and each portfolio has its line with its id and tenant
    logs = [json.loads(line) for line in err.splitlines()]
    assert {r["logger"] for r in logs} == {"allocator_api.nightly"}
    named = {(r["portfolio_id"], r["tenant"]) for r in logs if "portfolio_id" in r}
    assert {pid for pid, _ in named} == set(ids)
    # the same night again, as text: the others are already done, the failure named on its line
    with _logging_restored():
        assert main(args) == 1
        out = capsys.readouterr().out
    assert f"FAILED {ids[2]} (tenant-0) as_of={NIGHT}: updates rejected" in out
    assert out.count("already done this night") == 2
    assert out.splitlines()[-1].startswith("total: 3 portfolios, 0 rebalanced, 2 already done")


@contextlib.contextmanager
def _logging_restored() -> Iterator[None]:
    """The CLI installs its own log handler on the root logger: put pytest's back after."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    levels = {n: logging.getLogger(n).level for n in ("allocator_api.nightly", *CHATTY)}
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, lvl in levels.items():
            logging.getLogger(name).setLevel(lvl)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_runs_of_a_night_cannot_overlap(tmp_path: Path, backend: str) -> None:
    from tests.api.conftest import database_url

    with database_url(backend, tmp_path) as url:
        db = Database(url)
        db.migrate()
        with night_lock(db.engine):
            with pytest.raises(NightLocked):
                run_nightly(url, as_of=NIGHT)
            with _logging_restored():
                assert main(["nightly", "--db", url, "--as-of", NIGHT.isoformat()]) == EXIT_LOCKED
        with night_lock(db.engine):  # released at the end of the block
            pass
        db.dispose()


def _pinned_portfolio() -> dict[str, Any]:
    people = [
        {"id": "ann", "skills": {"py": 3}},
        {"id": "bob", "skills": {"py": 3}},
        {"id": "cat", "skills": {"py": 3}},
    ]
    tasks = [
        {
            "id": "p",
            "skill": "py",
            "effort_hours": 24,
            "pinned": {"person": "bob", "start": "2027-01-05"},
        },
        {
            "id": "q",
            "skill": "py",
            "effort_hours": 16,
            "pinned": {"person": "ann", "start": "2027-01-06"},
        },
        {"id": "r", "skill": "py", "effort_hours": 16, "earliest_start": "2027-01-18"},
    ]
    data = portfolio_dict(people, tasks, as_of="2027-01-04")
    data["name"] = "pinned"
    return data


def test_a_night_past_pinned_dates_rebalances_with_the_history_as_changes(
    tmp_path: Path, client: Client
) -> None:
    # p began on its pinned 5 Jan with bob and is under way on the 11th; q, pinned to ann on
    # the 6th, never started: the night goes through, bob goes on with p from the 11th, q is
    # planned from the 11th with ann, a forced change saying its pinned date passed, and r
    # (untouched, planned for the 18th) does not move
    url = f"sqlite:///{tmp_path}/pins.sqlite"
    db = Database(url)
    db.migrate()
    with db.sessions() as s:
        valid = read_valid_portfolio(_pinned_portfolio())
        pid = Portfolios(s, "acme").create(PortfolioDoc(valid.doc.name, valid.doc.body, 3, 3)).id
    store = NightlyStore(db.sessions)
    (inp,) = store.inputs()
    first = solve(load_portfolio(inp.body), SolveParams(time_limit=1, workers=1)).plan
    assert {a.task: str(a.start) for a in first.assignments}["q"] == "2027-01-06"
    store.save(inp, date(2027, 1, 4), None, checked_plan(load_portfolio(inp.body), first), [])
    db.dispose()
    progress = {"people": ["bob"], "remaining_hours": 8}
    updates = {
        "portfolios": {pid: {"tasks": {"p": {"status": "in_progress", "progress": progress}}}}
    }
    summary = run_nightly(url, as_of=NIGHT, updates=updates, time_limit=1, client=client)
    assert summary.exit_code == 0, summary.text()
    (out,) = summary.outcomes
    assert out.status == "done" and out.moves.passed_pins == 1 and out.moves.forced >= 1
    body, plan = _latest(url, pid)
    # the stored pair holds by the contract: the stored portfolio is the settled one (q's passed
    # pinned date gone, its person kept), so the independent checker finds the plan valid
    verdict = check(load_portfolio(body), load_plan(plan))
    assert verdict.valid, verdict.violations
    q_task = next(t for pr in body["projects"] for t in pr["tasks"] if t["id"] == "q")
    assert q_task["pinned"] == {"person": "ann"}
    new = {a["task"]: a for a in plan["assignments"]}
    assert (new["p"]["people"], new["p"]["start"]) == (["bob"], "2027-01-11")
    assert new["q"]["people"] == ["ann"] and new["q"]["start"] >= "2027-01-11"
    old_r = next(a for a in first.assignments if a.task == "r")
    assert (new["r"]["start"], new["r"]["people"]) == (str(old_r.start), list(old_r.people))
    (run,) = [r for r in NightlyStore(Database(url).sessions).runs(pid) if r.as_of == NIGHT]
    q = next(c for c in run.diff if c["task"] == "q")
    assert q["forced"] and q["reasons"][0].startswith("its pinned start 2027-01-06 has passed")


# -- the service: progress reports, rebalance jobs, plan diffs ---------------------------------
def test_service_progress_rebalance_and_diff(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from allocator_api.app import create_app
    from tests.api.conftest import key_headers, settings_for, wait_job

    app = create_app(settings_for(f"sqlite:///{tmp_path}/api.sqlite"))
    with TestClient(app) as http:
        h = key_headers(app, "acme", "planner")
        other = key_headers(app, "other", "planner")
        pid = http.post("/v1/portfolios", json=_portfolio(0), headers=h).json()["id"]
        job = http.post(f"/v1/portfolios/{pid}/solve", headers=h).json()["job_id"]
        first = wait_job(http, job, h)
        assert first["status"] == "done", first
        r = http.post(
            f"/v1/portfolios/{pid}/progress",
            json={"as_of": "2027-01-06", "tasks": {"a": {"status": "done"}}},
            headers=h,
        )
        assert r.status_code == 200, r.text
        assert r.json()["revision"] == 2
        bad = {"tasks": {"zz": {"status": "done"}}}
        r = http.post(f"/v1/portfolios/{pid}/progress", json=bad, headers=h)
        assert r.status_code == 422 and "zz" in r.text
        r = http.post(f"/v1/portfolios/{pid}/progress", json={}, headers=other)
        assert r.status_code == 404
        r = http.post(f"/v1/portfolios/{pid}/rebalance", json={"stability": 1}, headers=h)
        assert r.status_code == 202, r.text
        second = wait_job(http, r.json()["job_id"], h)
        assert second["status"] == "done", second
        plan = http.get(f"/v1/plans/{second['plan_id']}", headers=h).json()
        assert plan["version"] == 2
        assert str(plan["plan"]["solver"]).startswith("rebalance:")
        d = http.get(f"/v1/plans/{first['plan_id']}/diff/{second['plan_id']}", headers=h)
        assert d.status_code == 200, d.text
        changes = {c["task"]: c for c in d.json()["changes"]}
        assert changes["a"]["kind"] == "removed" and changes["a"]["reasons"] == ["task is done"]
        assert changes["a"]["forced"] is True  # the world moved it (the dashboard shows it)
        assert first["attempts"] == 1 and second["attempts"] == 1  # each ran once
        r = http.get(f"/v1/plans/{first['plan_id']}/diff/{second['plan_id']}", headers=other)
        assert r.status_code == 404


def _dies_once(body: dict[str, Any], plan_body: Any, *more: Any) -> Any:
    """Kills its worker process the first time it sees a portfolio named ``kill-once:<path>``."""
    import os

    from allocator_api.nightly import rebalance_body

    name = str(body.get("name", ""))
    if name.startswith("kill-once:"):
        marker = Path(name.split(":", 1)[1])
        if not marker.exists():
            marker.write_text("killed")
            os._exit(1)
    return rebalance_body(body, plan_body, *more)


def test_killed_worker_is_retried(
    tmp_path: Path, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cloudpickle

    import allocator_api.nightly as nightly
    import tests.test_nightly as me

    url = f"sqlite:///{tmp_path}/n.sqlite"
    ids = _seed(url)
    db = Database(url)
    with db.sessions() as s:  # mark one portfolio so that its first attempt kills its worker
        row = s.get_one(PortfolioRow, ids[0])
        row.body = {**row.body, "name": f"kill-once:{tmp_path / 'killed'}"}
        s.commit()
    db.dispose()
    cloudpickle.register_pickle_by_value(me)
    try:
        monkeypatch.setattr(nightly, "rebalance_body", _dies_once)
        summary = run_nightly(url, as_of=NIGHT, time_limit=1, client=client)
    finally:
        cloudpickle.unregister_pickle_by_value(me)
    assert (tmp_path / "killed").exists()  # a worker did die
    assert summary.exit_code == 0, summary.text()
    assert summary.count("done") == 3
    for pid in ids:
        assert _state(url, pid)[:2] == (2, 2)
    client.wait_for_workers(2, timeout=30)


def _always_dies(body: dict[str, Any], plan_body: Any, *more: Any) -> Any:
    """Kills its worker process every time it sees a portfolio named ``kill-always``."""
    import os

    from allocator_api.nightly import rebalance_body

    if body.get("name") == "kill-always":
        os._exit(1)
    return rebalance_body(body, plan_body, *more)


def test_a_portfolio_that_kills_every_worker_fails_by_name_and_the_others_finish(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker process dies under one portfolio each time it runs (a solve that crashes its
    process): the scheduler gives up on it (``KilledWorker``), the night reports that portfolio
    failed with its id and tenant and leaves its previous plan in force, stores the other two,
    and exits 1. Its own cluster: the shared one must not lose workers to it."""
    import cloudpickle
    import dask

    import allocator_api.nightly as nightly
    import tests.test_nightly as me

    url = f"sqlite:///{tmp_path}/n.sqlite"
    ids = _seed(url)
    db = Database(url)
    with db.sessions() as s:
        row = s.get_one(PortfolioRow, ids[1])
        row.body = {**row.body, "name": "kill-always"}
        s.commit()
    db.dispose()
    cloudpickle.register_pickle_by_value(me)
    # one retry of a task whose worker died (the default is 3), so the test stays short
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        cluster = LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        )
        own = Client(cluster)
    try:
        monkeypatch.setattr(nightly, "rebalance_body", _always_dies)
        summary = run_nightly(url, as_of=NIGHT, time_limit=1, client=own)
    finally:
        cloudpickle.unregister_pickle_by_value(me)
        own.close()
        cluster.close()
    assert summary.exit_code == 1
    assert summary.count("done") == 2, summary.text()
    (failed,) = summary.failed
    assert (failed.portfolio_id, failed.tenant) == (ids[1], "tenant-1")
    assert failed.error is not None and "KilledWorker" in failed.error
    assert f"FAILED {ids[1]} (tenant-1)" in summary.text()
    assert _state(url, ids[1])[:2] == (1, 1)  # its first plan still in force, no run row
    for pid in (ids[0], ids[2]):
        assert _state(url, pid)[:2] == (2, 2)


def test_cli_unreadable_updates_is_bad_input(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    url = f"sqlite:///{tmp_path}/x.sqlite"
    assert main(["nightly", "--db", url, "--updates", str(tmp_path / "missing.json")]) == 2
    assert main(["nightly", "--db", url, "--updates", str(bad)]) == 2


def test_killed_nightly_process_leaves_whole_plans_and_rerun_completes(
    tmp_path: Path, client: Client
) -> None:
    """SIGKILL the real ``allocator nightly`` process inside a portfolio's transaction (its plan
    version, run row and new revision written, not committed: the process is held there by the
    test hook ``PAUSE_BEFORE_COMMIT`` until the kill): nothing of it is stored, and a rerun of
    the same night completes every portfolio."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from allocator_api.nightly import PAUSE_BEFORE_COMMIT

    url = f"sqlite:///{tmp_path}/k.sqlite"
    ids = _seed(url)
    updates = _updates(ids)
    updates["portfolios"] = {k: v[0] for k, v in updates["portfolios"].items()}  # file format
    upd = tmp_path / "day.json"
    upd.write_text(json.dumps(updates))
    addr = client.scheduler.address  # type: ignore[union-attr]
    cmd = [sys.executable, "-m", "allocator_api.cli", "nightly", "--db", url, "--updates", str(upd)]
    ready = tmp_path / "inside-the-transaction"
    proc = subprocess.Popen(
        [*cmd, "--scheduler", addr, "--time-limit", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, PAUSE_BEFORE_COMMIT: str(ready)},
    )
    try:
        for _ in range(1200):  # bounded: 120 s
            if ready.exists() or proc.poll() is not None:
                break
            time.sleep(0.1)
        assert ready.exists(), f"the night never reached a commit (exit code {proc.poll()})"
        assert proc.poll() is None, "the process went past the hook"
        os.kill(proc.pid, signal.SIGKILL)  # inside the first portfolio's open transaction
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    # the first portfolio's rows were flushed, not committed: nothing of them remains, and the
    # others (saved after it, one by one) were not reached
    assert [_state(url, pid) for pid in ids] == [(1, 1, 1)] * 3
    assert (
        main(
            [
                "nightly",
                "--db",
                url,
                "--updates",
                str(upd),
                "--scheduler",
                addr,
                "--time-limit",
                "1",
            ]
        )
        == 0
    )
    assert [_state(url, pid) for pid in ids] == [(2, 2, 2)] * 3


def test_portfolios_are_read_a_batch_at_a_time(
    tmp_path: Path, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # with --batch 1, a portfolio is read only once the one before it is stored: the driver
    # never holds two portfolios' bodies (its memory does not grow with their number)
    from allocator_api.nightly import NightSettings
    from allocator_api.nightly_store import StreamingNightlyStore

    url = f"sqlite:///{tmp_path}/n.sqlite"
    ids = _seed(url)
    held: list[int] = [0]
    most: list[int] = [0]
    real_input, real_save = StreamingNightlyStore.input, StreamingNightlyStore.save

    def counted_input(self: StreamingNightlyStore, pid: str) -> Any:
        held[0] += 1
        most[0] = max(most[0], held[0])
        return real_input(self, pid)

    def counted_save(self: StreamingNightlyStore, *args: Any) -> Any:
        held[0] -= 1
        return real_save(self, *args)

    monkeypatch.setattr(StreamingNightlyStore, "input", counted_input)
    monkeypatch.setattr(StreamingNightlyStore, "save", counted_save)
    settings = NightSettings(time_limit=1, batch=1)
    summary = run_nightly(url, updates=_updates(ids), client=client, settings=settings)
    assert summary.count("done") == 3, summary.text()
    assert most[0] == 1


def test_as_of_defaulted_to_today_is_logged_loudly(caplog: pytest.LogCaptureFixture) -> None:
    from allocator_api.nightly import night_as_of

    with caplog.at_level(logging.WARNING, logger="allocator_api.nightly"):
        assert night_as_of(None, {"as_of": "2027-01-11"}) == (NIGHT, "progress file")
        assert night_as_of(NIGHT, {"as_of": "2027-02-01"}) == (NIGHT, "given")
        assert caplog.records == []
        assert night_as_of(None, {}) == (date.today(), "today")
    (record,) = caplog.records
    assert record.levelno == logging.WARNING and "AS_OF DEFAULTED TO TODAY" in record.getMessage()
