"""Load benchmark of the REST service: bounded loopback clients against ``allocator serve``.

    python -m benchmarks.load --db sqlite --label after            # 50 clients, 30 s
    python -m benchmarks.load --db postgresql --workers 2 --label after

For each database: a fresh database (a temporary SQLite file, or a new schema of the PostgreSQL
database ``test`` on 127.0.0.1:5432), one planner key per client (10 tenants), the server
started as a subprocess on 127.0.0.1 (``allocator serve --workers N``), then ``--clients``
threads for ``--duration`` seconds. Each client owns a few portfolios and loops, with a think
time of 0.5-1.5 x ``--think`` ms (1 s: a busy planner), over this mix: 55 % read a portfolio, 10 % list portfolios, 15 %
replace a portfolio (a write), 5 % create one, 5 % queue a small solve (the example portfolio,
``time_limit`` 1 s), 10 % read a job. After the run every accepted job is awaited (up to 120 s):
a job that is not ``done`` then is counted lost.

Reported per route: requests, p50/p95/p99 latency (ms), 5xx, 429 (answers the service is meant
to give: per-tenant queue limits, rate limits), other errors (unexpected statuses, transport
errors), then jobs accepted/lost, the server's peak memory (RSS of the server process and
its children, sampled every 0.5 s) and the machine's 1-minute load average when the clients
started (the machine may be shared: compare runs made at a similar load). Rows are appended to ``benchmarks/results/load.csv``.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import csv
import json
import logging
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

log = logging.getLogger("benchmarks.load")

RESULTS = Path(__file__).resolve().parent / "results" / "load.csv"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
FIELDS = [
    "date",
    "label",
    "db",
    "workers",
    "clients",
    "duration_s",
    "think_ms",
    "route",
    "requests",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "n5xx",
    "n429",
    "errors",
    "jobs_accepted",
    "jobs_lost",
    "server_rss_mb",
    "loadavg",
]
TENANTS = 10


def _example() -> dict[str, Any]:
    from allocator.cli import example_path

    data: dict[str, Any] = json.loads(example_path().read_text(encoding="utf-8"))
    return data


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def _database(kind: str) -> Iterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="load-") as d:
            yield f"sqlite:///{d}/load.sqlite"
        return
    import psycopg

    schema = f"load_{uuid.uuid4().hex[:10]}"
    plain = PG_URL.replace("+psycopg", "")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def _make_keys(url: str, clients: int) -> list[str]:
    from allocator_api.db import Database
    from allocator_api.repository import Keys

    db = Database(url)
    db.migrate()
    tokens = []
    with db.sessions() as session:
        for i in range(clients):
            _, token = Keys(session).create(f"tenant{i % TENANTS}", "planner", f"client{i}")
            tokens.append(token)
    db.dispose()
    return tokens


def _rss_mb(pid: int) -> float:
    """RSS of ``pid`` and its descendants, MiB (Linux ``/proc``)."""
    total = 0
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo.extend(int(c) for c in f.read().split())
        except OSError:
            continue
    return total / 1024


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    n5xx: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    n429: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    jobs: list[tuple[str, str]] = field(default_factory=list)  # (token, job id)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(
        self, route: str, seconds: float, status: int | None, expected: tuple[int, ...]
    ) -> None:
        with self.lock:
            self.latencies[route].append(seconds * 1000)
            if status is None:
                self.errors[route] += 1
            elif status >= 500:
                self.n5xx[route] += 1
            elif status == 429:
                self.n429[route] += 1
            elif status not in expected:
                self.errors[route] += 1


def _client(base: str, token: str, stop: float, think_ms: float, tally: Tally, seed: int) -> None:
    rng = random.Random(seed)
    example = _example()
    headers = {"Authorization": f"Bearer {token}"}
    mine: list[str] = []
    jobs: list[str] = []
    with httpx.Client(base_url=base, headers=headers, timeout=60.0) as http:

        def call(
            route: str, method: str, url: str, expected: tuple[int, ...], **kw: Any
        ) -> httpx.Response | None:
            t0 = time.perf_counter()
            try:
                r = http.request(method, url, **kw)
            except httpx.HTTPError:
                tally.add(route, time.perf_counter() - t0, None, expected)
                return None
            tally.add(route, time.perf_counter() - t0, r.status_code, expected)
            return r

        for _ in range(2):
            r = call("POST /v1/portfolios", "POST", "/v1/portfolios", (201,), json=example)
            if r is not None and r.status_code == 201:
                mine.append(r.json()["id"])
        while time.monotonic() < stop:
            time.sleep(rng.uniform(think_ms / 2, think_ms * 1.5) / 1000)
            x = rng.random()
            pid = rng.choice(mine) if mine else ""
            if x < 0.55 and pid:
                call("GET /v1/portfolios/{id}", "GET", f"/v1/portfolios/{pid}", (200,))
            elif x < 0.65:
                call("GET /v1/portfolios", "GET", "/v1/portfolios?limit=20", (200,))
            elif x < 0.80 and pid:
                body = copy.deepcopy(example)
                body["name"] = f"edit {rng.randrange(10**6)}"
                call("PUT /v1/portfolios/{id}", "PUT", f"/v1/portfolios/{pid}", (200,), json=body)
            elif x < 0.85:
                r = call("POST /v1/portfolios", "POST", "/v1/portfolios", (201,), json=example)
                if r is not None and r.status_code == 201:
                    mine.append(r.json()["id"])
            elif x < 0.90 and pid:
                r = call(
                    "POST /v1/portfolios/{id}/solve",
                    "POST",
                    f"/v1/portfolios/{pid}/solve",
                    (202,),
                    json={"time_limit": 1},
                )
                if r is not None and r.status_code == 202:
                    jobs.append(r.json()["job_id"])
                    with tally.lock:
                        tally.jobs.append((token, r.json()["job_id"]))
            elif jobs:
                call("GET /v1/jobs/{id}", "GET", f"/v1/jobs/{rng.choice(jobs)}", (200,))


def _await_jobs(base: str, jobs: list[tuple[str, str]], timeout: float) -> int:
    """How many of ``jobs`` are not ``done`` after ``timeout`` seconds (lost)."""
    pending = list(jobs)
    deadline = time.monotonic() + timeout
    states: dict[str, str] = {}
    with httpx.Client(base_url=base, timeout=30.0) as http:
        while pending and time.monotonic() < deadline:
            still = []
            for token, job_id in pending:
                r = http.get(f"/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {token}"})
                state = (
                    r.json().get("status", "?") if r.status_code == 200 else f"http {r.status_code}"
                )
                states[job_id] = state
                if state in ("queued", "running") or r.status_code in (429, 503):
                    still.append((token, job_id))
            pending = still
            if pending:
                time.sleep(1.0)
    lost = [j for j, s in states.items() if s != "done"]
    if lost:
        log.warning("jobs not done: %s", {j: states[j] for j in lost[:10]})
    return len(lost)


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def run(kind: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    with _database(kind) as url:
        tokens = _make_keys(url, args.clients)
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "ALLOCATOR_LOG_LEVEL": "WARNING",
            "ALLOCATOR_MAX_QUEUED_JOBS": "200",
        }
        cmd = [sys.executable, "-m", "allocator_api.cli", "serve", "--host", "127.0.0.1"]
        cmd += ["--port", str(port), "--db", url]
        if args.workers > 1:
            cmd += ["--workers", str(args.workers)]
        server_log = tempfile.TemporaryFile()  # noqa: SIM115 (closed with the server, below)
        server = subprocess.Popen(cmd, env=env, stderr=server_log)
        peak = [0.0]
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                        break
                time.sleep(0.2)
            else:
                server_log.seek(0)
                tail = server_log.read()[-2000:].decode(errors="replace")
                raise RuntimeError(f"the server did not become ready in 60 s:\n{tail}")
            done = threading.Event()

            def sample() -> None:
                while not done.is_set():
                    peak[0] = max(peak[0], _rss_mb(server.pid))
                    done.wait(0.5)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            tally = Tally()
            load_before = os.getloadavg()[0]  # the machine is shared: say how busy it was
            stop = time.monotonic() + args.duration
            threads = [
                threading.Thread(target=_client, args=(base, t, stop, args.think, tally, i))
                for i, t in enumerate(tokens)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            lost = _await_jobs(base, tally.jobs, 120.0)
            done.set()
            sampler.join()
        finally:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
            server_log.close()
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M")
    rows = []
    every: list[float] = []
    for route in sorted(tally.latencies):
        lat = tally.latencies[route]
        every += lat
        rows.append(_row(stamp, kind, args, route, lat, tally, route))
    total = Tally()
    total.n5xx["all"] = sum(tally.n5xx.values())
    total.n429["all"] = sum(tally.n429.values())
    total.errors["all"] = sum(tally.errors.values())
    all_row = _row(stamp, kind, args, "all", every, total, "all")
    all_row.update(
        jobs_accepted=len(tally.jobs),
        jobs_lost=lost,
        server_rss_mb=round(peak[0]),
        loadavg=round(load_before, 1),
    )
    rows.append(all_row)
    return rows


def _row(
    stamp: str,
    kind: str,
    args: argparse.Namespace,
    route: str,
    lat: list[float],
    tally: Tally,
    key: str,
) -> dict[str, Any]:
    return {
        "date": stamp,
        "label": args.label,
        "db": kind,
        "workers": args.workers,
        "clients": args.clients,
        "duration_s": args.duration,
        "think_ms": args.think,
        "route": route,
        "requests": len(lat),
        "p50_ms": round(_pct(lat, 50), 1),
        "p95_ms": round(_pct(lat, 95), 1),
        "p99_ms": round(_pct(lat, 99), 1),
        "n5xx": tally.n5xx.get(key, 0),
        "n429": tally.n429.get(key, 0),
        "errors": tally.errors.get(key, 0),
        "jobs_accepted": "",
        "jobs_lost": "",
        "server_rss_mb": "",
        "loadavg": "",
    }


#: the routes of the RESULTS.md table: a portfolio read and write (the targets), a create
TABLE_ROUTES = ("GET /v1/portfolios/{id}", "PUT /v1/portfolios/{id}", "POST /v1/portfolios", "all")


def table(rows: list[dict[str, str]]) -> str:
    """The RESULTS.md table of ``load.csv`` rows (``benchmarks.summarize`` checks it)."""
    lines = [
        "| run | db | server processes | route | requests | p50 ms | p95 ms | p99 ms | 5xx "
        "| 429 | other errors | jobs done / accepted | server RSS MB |",
        "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        if r["route"] not in TABLE_ROUTES:
            continue
        jobs = rss = ""
        if r["route"] == "all":
            accepted, lost = int(r["jobs_accepted"]), int(r["jobs_lost"])
            jobs, rss = f"{accepted - lost} / {accepted}", r["server_rss_mb"]
        lines.append(
            f"| {r['label']} ({r['date'][:10]}) | {r['db']} | {r['workers']} | {r['route']} "
            f"| {int(r['requests']):,} | {r['p50_ms']} | {r['p95_ms']} | {r['p99_ms']} "
            f"| {r['n5xx']} | {r['n429']} | {r['errors']} | {jobs} | {rss} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--duration", type=float, default=30.0)
    p.add_argument("--think", type=float, default=1000.0, help="mean think time, ms")
    p.add_argument("--workers", type=int, default=1, choices=[1, 2])
    p.add_argument("--label", default="")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("httpx", "alembic", "allocator_api"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    new = not args.out.exists()
    for kind in kinds:
        rows = run(kind, args)
        with args.out.open("a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=FIELDS)
            if new:
                w.writeheader()
                new = False
            w.writerows(rows)
        for r in rows:
            log.info(
                "%-10s %-32s n=%5d p50=%7.1f p95=%7.1f p99=%7.1f 5xx=%d 429=%d err=%d %s",
                kind,
                r["route"],
                r["requests"],
                r["p50_ms"],
                r["p95_ms"],
                r["p99_ms"],
                r["n5xx"],
                r["n429"],
                r["errors"],
                f"jobs={r['jobs_accepted']} lost={r['jobs_lost']} rss={r['server_rss_mb']}MB"
                if r["route"] == "all"
                else "",
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
