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
started (the machine may be shared: compare runs made at a similar load). The first two creates
of every client (all clients at once: the start-up burst) are a route of their own.

What the service itself costs, less dependent on the machine's other work: the CPU time of the
server process (its solve children apart; ``/proc``) over the clients' run divided by their
requests (``server_cpu_ms``), the children's CPU seconds (``children_cpu_s``, sampled every
0.5 s), and with ``--server-times`` each route's p50/p95 inside the server (the access log's
``duration_ms``, from the request's arrival at the app to its answer's end, matched by the
``X-Request-ID`` every request is sent with; the server then logs at INFO). ``--clients 1
--think 0`` sends one request at a time: the service's latency without queueing behind other
requests. Rows are appended to ``benchmarks/results/load.csv``.
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
    "server_cpu_ms",
    "children_cpu_s",
    "server_p50_ms",
    "server_p95_ms",
]
TENANTS = 10
#: the creates every client makes first, all clients at once (the start-up burst): a route of
#: their own, apart from the creates of the steady mix
START_ROUTE = "POST /v1/portfolios (first two per client, all at once)"


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


def _children(pid: int) -> list[int]:
    """``pid``'s child processes, started by any of its threads (Linux ``/proc``)."""
    kids: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return kids
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                kids += [int(c) for c in f.read().split()]
        except OSError:
            continue
    return kids


def _descendants(pid: int) -> list[int]:
    """``pid``'s children, grandchildren, ..."""
    out: list[int] = []
    todo = [pid]
    while todo:
        kids = _children(todo.pop())
        out += kids
        todo += kids
    return out


def _cpu_seconds(pid: int) -> float:
    """CPU time (user + system) ``pid`` has used so far, seconds; 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
    except OSError:
        return 0.0
    # after the command: state is field 3 of stat(5), utime 14, stime 15
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    """RSS of ``pid`` and its descendants, MiB (Linux ``/proc``)."""
    total = 0
    for p in [pid, *_descendants(pid)]:
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
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
    #: the route of each request, by the ``X-Request-ID`` it was sent with
    request_ids: dict[str, str] = field(default_factory=dict)
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
            request_id = uuid.uuid4().hex
            with tally.lock:
                tally.request_ids[request_id] = route
            t0 = time.perf_counter()
            try:
                r = http.request(method, url, headers={"X-Request-ID": request_id}, **kw)
            except httpx.HTTPError:
                tally.add(route, time.perf_counter() - t0, None, expected)
                return None
            tally.add(route, time.perf_counter() - t0, r.status_code, expected)
            return r

        for _ in range(2):
            r = call(START_ROUTE, "POST", "/v1/portfolios", (201,), json=example)
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


def _server_times(log: bytes, request_ids: dict[str, str]) -> dict[str, list[float]]:
    """Each route's times inside the server, ms: the ``duration_ms`` of the access log lines
    (``allocator_api.middleware.RequestContextMiddleware``, from the request's arrival at the
    app to its answer's end) of the clients' requests, found by their ``X-Request-ID``."""
    out: dict[str, list[float]] = defaultdict(list)
    for line in log.splitlines():
        if b'"allocator_api.access"' not in line:
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        route = request_ids.get(str(record.get("request_id")))
        if route is not None and "duration_ms" in record:
            out[route].append(float(record["duration_ms"]))
    return out


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
            # INFO: one access line per request, with its time in the server (--server-times)
            "ALLOCATOR_LOG_LEVEL": "INFO" if args.server_times else "WARNING",
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
            child_cpu: dict[int, float] = {}  # a child's CPU seconds when last seen

            def sample() -> None:
                while not done.is_set():
                    peak[0] = max(peak[0], _rss_mb(server.pid))
                    for pid in _descendants(server.pid):
                        child_cpu[pid] = max(child_cpu.get(pid, 0.0), _cpu_seconds(pid))
                    done.wait(0.5)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            tally = Tally()
            load_before = os.getloadavg()[0]  # the machine is shared: say how busy it was
            # CPU the server process itself spends on the clients' requests (its solve children
            # apart): the service's own cost, which the machine's other work does not inflate
            cpu_before = _cpu_seconds(server.pid)
            children_before = dict(child_cpu)
            stop = time.monotonic() + args.duration
            threads = [
                threading.Thread(target=_client, args=(base, t, stop, args.think, tally, i))
                for i, t in enumerate(tokens)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            server_cpu = _cpu_seconds(server.pid) - cpu_before
            children_cpu = sum(v - children_before.get(p, 0.0) for p, v in child_cpu.items())
            lost = _await_jobs(base, tally.jobs, 120.0)
            done.set()
            sampler.join()
        finally:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
            server_log.seek(0)
            in_server = _server_times(server_log.read(), tally.request_ids)
            server_log.close()
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M")
    rows = []
    every: list[float] = []
    for route in sorted(tally.latencies):
        lat = tally.latencies[route]
        every += lat
        rows.append(_row(stamp, kind, args, route, lat, tally, route))
        if in_server.get(route):
            rows[-1].update(
                server_p50_ms=round(_pct(in_server[route], 50), 1),
                server_p95_ms=round(_pct(in_server[route], 95), 1),
            )
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
        server_cpu_ms=round(server_cpu * 1000 / max(1, len(every)), 2),
        children_cpu_s=round(children_cpu, 1),
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
        "server_cpu_ms": "",
        "children_cpu_s": "",
        "server_p50_ms": "",
        "server_p95_ms": "",
    }


#: the routes of the RESULTS.md table: the portfolio reads and writes (the targets), the creates
TABLE_ROUTES = (
    "GET /v1/portfolios/{id}",
    "GET /v1/portfolios",
    "PUT /v1/portfolios/{id}",
    "POST /v1/portfolios",
    START_ROUTE,
    "all",
)


def table(rows: list[dict[str, str]]) -> str:
    """The RESULTS.md table of ``load.csv`` rows (``benchmarks.summarize`` checks it)."""
    lines = [
        "| run | db | server processes | clients | route | requests | p50 ms | p95 ms | p99 ms "
        "| in server p50 / p95 ms | 5xx | 429 | other errors | jobs done / accepted "
        "| server RSS MB | server CPU ms / request | load average |",
        "| --- | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        if r["route"] not in TABLE_ROUTES:
            continue
        jobs = rss = ""
        if r["route"] == "all":
            accepted, lost = int(r["jobs_accepted"]), int(r["jobs_lost"])
            jobs, rss = f"{accepted - lost} / {accepted}", r["server_rss_mb"]
        cpu, load = r.get("server_cpu_ms") or "", r.get("loadavg") or ""
        inside = ""
        if r.get("server_p50_ms"):
            inside = f"{r['server_p50_ms']} / {r['server_p95_ms']}"
        lines.append(
            f"| {r['label']} ({r['date'][:10]}) | {r['db']} | {r['workers']} | {r['clients']} "
            f"| {r['route']} | {int(r['requests']):,} | {r['p50_ms']} | {r['p95_ms']} "
            f"| {r['p99_ms']} | {inside} | {r['n5xx']} | {r['n429']} | {r['errors']} | {jobs} "
            f"| {rss} | {cpu} | {load} |"
        )
    return "\n".join(lines) + "\n"


def append(path: Path, rows: list[dict[str, Any]]) -> None:
    """Append ``rows`` to the CSV at ``path``; a file with older columns is rewritten with
    :data:`FIELDS` first (the new columns empty in its rows)."""
    old: list[dict[str, str]] = []
    if path.exists():
        with path.open(newline="") as f:
            reader = csv.DictReader(f)
            same = reader.fieldnames == FIELDS
            old = [] if same else list(reader)
        if same:
            with path.open("a", newline="") as f:
                csv.DictWriter(f, fieldnames=FIELDS).writerows(rows)
            return
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS, restval="")
        w.writeheader()
        w.writerows(old)
        w.writerows(rows)


#: the routes of ``--in-process``: a portfolio read, replacement, create and list
IN_PROCESS_ROUTES = (
    "GET /v1/portfolios/{id}",
    "PUT /v1/portfolios/{id}",
    "POST /v1/portfolios",
    "GET /v1/portfolios",
)


def in_process(kind: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    """What the service itself costs: ``args.in_process`` requests of each route, one at a
    time, through the app in this process (httpx's ASGI transport: no sockets, no other
    clients; rate limits and job workers off). Per route: the latencies, and the CPU time of
    this process per request (``server_cpu_ms``; the client's small share included): a figure
    the machine's other work inflates far less than the wall clock."""
    import asyncio

    from allocator_api.app import create_app
    from allocator_api.settings import Settings

    example = _example()
    rows: list[dict[str, Any]] = []
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M")
    with _database(kind) as url:
        (token,) = _make_keys(url, 1)
        settings = Settings(
            database_url=url,
            run_workers=False,
            json_logs=False,
            log_level="WARNING",
            rate_limit_per_second=0,
        )
        app = create_app(settings)

        async def measure() -> None:
            transport = httpx.ASGITransport(app=app)
            headers = {"Authorization": f"Bearer {token}"}
            async with (
                app.router.lifespan_context(app),
                httpx.AsyncClient(transport=transport, base_url="http://x", headers=headers) as c,
            ):
                r = await c.post("/v1/portfolios", json=example)
                pid = r.json()["id"]
                calls = {
                    "GET /v1/portfolios/{id}": lambda: c.get(f"/v1/portfolios/{pid}"),
                    "PUT /v1/portfolios/{id}": lambda: c.put(f"/v1/portfolios/{pid}", json=example),
                    "POST /v1/portfolios": lambda: c.post("/v1/portfolios", json=example),
                    "GET /v1/portfolios": lambda: c.get("/v1/portfolios?limit=20"),
                }
                load = os.getloadavg()[0]
                for route in IN_PROCESS_ROUTES:
                    tally = Tally()
                    for _ in range(20):  # warm-up: caches, the first connections
                        await calls[route]()
                    cpu = time.process_time()
                    for _ in range(args.in_process):
                        t0 = time.perf_counter()
                        r = await calls[route]()
                        tally.add(route, time.perf_counter() - t0, r.status_code, (200, 201))
                    cpu = time.process_time() - cpu
                    row = _row(stamp, kind, args, route, tally.latencies[route], tally, route)
                    row.update(
                        clients=1,
                        duration_s="",
                        think_ms=0,
                        loadavg=round(load, 1),
                        server_cpu_ms=round(cpu * 1000 / args.in_process, 2),
                    )
                    rows.append(row)

        asyncio.run(measure())
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--duration", type=float, default=30.0)
    p.add_argument("--think", type=float, default=1000.0, help="mean think time, ms")
    p.add_argument("--workers", type=int, default=1, choices=[1, 2])
    p.add_argument(
        "--server-times",
        action="store_true",
        help="log every request at INFO and report its time inside the server per route",
    )
    p.add_argument(
        "--in-process",
        type=int,
        default=0,
        metavar="N",
        help="instead: N requests of each portfolio route, one at a time, through the app in "
        "this process; their latency and this process's CPU time per request",
    )
    p.add_argument("--label", default="")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("httpx", "alembic", "allocator_api"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    for kind in kinds:
        rows = in_process(kind, args) if args.in_process else run(kind, args)
        append(args.out, rows)
        for r in rows:
            log.info(
                "%-10s %-32s n=%5d p50=%7.1f p95=%7.1f p99=%7.1f 5xx=%d 429=%d err=%d %s%s",
                kind,
                r["route"],
                r["requests"],
                r["p50_ms"],
                r["p95_ms"],
                r["p99_ms"],
                r["n5xx"],
                r["n429"],
                r["errors"],
                f"jobs={r['jobs_accepted']} lost={r['jobs_lost']} rss={r['server_rss_mb']}MB "
                f"server cpu={r['server_cpu_ms']} ms/request children cpu={r['children_cpu_s']} s "
                f"load={r['loadavg']}"
                if r["route"] == "all"
                else "",
                f" in server p50={r['server_p50_ms']} p95={r['server_p95_ms']}"
                if r.get("server_p50_ms") != ""
                else "",
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
