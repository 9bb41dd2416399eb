"""Schemathesis over every operation of the service's OpenAPI schema (issue #16 item 4).

For each operation, ``--examples`` generated requests (path and query parameters, headers and
bodies from the schema; a quarter of them with a NUL or a lone surrogate injected into a path
parameter, the query or the body) are sent with an admin key through the ASGI app (loopback only, one process); path ids are
real ids of the tenant half of the time (a portfolio, a job, a plan), so requests get past the
404s into the routes. A request fails when it answers 5xx, answers an error that is not the
service's error model, shows a traceback, or takes longer than ``--hang`` seconds. The figures
(operations, examples, 5xx, failures, slowest request, wall time, peak memory) are printed and,
with ``--json``, written as one JSON object.

    .venv/bin/python -m benchmarks.fuzz_api --examples 200 --backend sqlite
    .venv/bin/python -m benchmarks.fuzz_api --examples 200 --backend postgresql

``tests/api/test_fuzz_api.py`` runs a small slice of the same on both databases in CI.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.core.result import Ok

from allocator_api.app import create_app
from allocator_api.repository import Keys
from allocator_api.settings import Settings

PG_URL = os.environ.get(
    "ALLOCATOR_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
EXAMPLE: dict[str, Any] = {
    "format": "allocator.portfolio/v1",
    "name": "fuzz",
    "calendar": {"start": "2027-01-04", "end": "2027-01-29"},
    "people": [{"id": "ann", "skills": {"py": 4}}, {"id": "bob", "skills": {"py": 2}}],
    "projects": [
        {
            "id": "P",
            "tasks": [
                {"id": "a", "skill": "py", "effort_hours": 16},
                {"id": "b", "skill": "py", "effort_hours": 8, "predecessors": ["a"]},
            ],
        }
    ],
}
#: path parameters that name a resource, and the kind of id they take
ID_PARAMS = {
    "portfolio_id": "portfolio",
    "job_id": "job",
    "plan_id": "plan",
    "other_plan_id": "plan",
    "key_id": "key",
}


@dataclass
class FuzzReport:
    operations: int = 0
    examples: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    slowest: float = 0.0
    slowest_label: str = ""
    seconds: float = 0.0

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)

    def as_dict(self) -> dict[str, Any]:
        return {
            "operations": self.operations,
            "examples": self.examples,
            "5xx": self.server_errors,
            "failures": len(self.failures),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "slowest_seconds": round(self.slowest, 3),
            "slowest": self.slowest_label,
            "wall_seconds": round(self.seconds, 1),
        }


def seed_tenant(client: TestClient, app: FastAPI) -> tuple[dict[str, str], dict[str, list[str]]]:
    """An admin key of a new tenant, and real ids of that tenant: a portfolio, a finished
    solve job and its plan (the workers must run), the key itself is kept out of reach."""
    tenant = f"fuzz-{uuid.uuid4().hex[:8]}"
    with app.state.db.sessions() as session:
        _, token = Keys(session).create(tenant, "admin")
    headers = {"Authorization": f"Bearer {token}"}
    ids: dict[str, list[str]] = {"portfolio": [], "job": [], "plan": [], "key": []}
    pid = client.post("/v1/portfolios", json=EXAMPLE, headers=headers).json()["id"]
    ids["portfolio"].append(pid)
    job = client.post(f"/v1/portfolios/{pid}/solve", json={"time_limit": 1}, headers=headers)
    if job.status_code == 202:
        job_id = job.json()["job_id"]
        ids["job"].append(job_id)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            state = client.get(f"/v1/jobs/{job_id}", headers=headers).json()
            if state.get("status") in ("done", "failed", "cancelled"):
                if state.get("plan_id"):
                    ids["plan"].append(state["plan_id"])
                break
            time.sleep(0.05)
    other = client.post("/v1/keys", json={"role": "viewer"}, headers=headers)
    if other.status_code == 201:
        ids["key"].append(other.json()["id"])
    return headers, ids


#: strings no database stores, injected into a quarter of the requests (None: none); lone
#: surrogates only into bodies (a URL cannot carry them)
HOSTILE: tuple[str | None, ...] = (None, None, None, None, None, None, "\x00", "a\x00b", "\ud800")


def _inject(case: Any, hostile: str, data: st.DataObject) -> None:
    """Put ``hostile`` into a path parameter, the query or the body (as a key and a value)."""
    where = ["body"] if isinstance(case.body, dict) else []
    if "\x00" in hostile:
        where += ["query"] + (["path"] if case.path_parameters else [])
    if not where:
        return
    target = data.draw(st.sampled_from(where), label="hostile target")
    if target == "path":
        name = data.draw(st.sampled_from(sorted(case.path_parameters)), label="hostile param")
        case.path_parameters[name] = hostile
    elif target == "query":
        case.query = {**(case.query or {}), "q": hostile}
    else:
        key = data.draw(st.sampled_from([hostile, "name", "id"]), label="hostile key")
        case.body = {**case.body, key: hostile}


def _encodable(value: Any) -> bool:
    try:
        json.dumps(value, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return False
    return True


def _problem(status: int, text: str, elapsed: float, hang: float) -> str | None:
    if status >= 500:
        return f"answered {status}"
    if "Traceback" in text:
        return "a traceback in the answer"
    if elapsed > hang:
        return f"took {elapsed:.1f}s"
    if status >= 400:
        try:
            body = json.loads(text)
        except ValueError:
            return f"{status} without a JSON body"
        if not (isinstance(body, dict) and isinstance(body.get("error"), dict)):
            return f"{status} not in the error model"
    return None


def fuzz(
    app: FastAPI,
    client: TestClient,
    headers: dict[str, str],
    ids: dict[str, list[str]],
    *,
    examples: int,
    seed: int | None = 0,
    hang: float = 10.0,
) -> FuzzReport:
    """Run ``examples`` generated requests per operation of the app's schema."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    report = FuzzReport()
    started = time.perf_counter()
    for result in schema.get_all_operations():
        report.operations += 1
        if not isinstance(result, Ok):
            report.failures.append(f"an operation of the schema is invalid: {result.err()}")
            continue
        _fuzz_operation(result.ok(), client, report, headers, ids, examples, seed, hang)
    report.seconds = time.perf_counter() - started
    return report


def _fuzz_operation(
    operation: Any,
    client: TestClient,
    report: FuzzReport,
    headers: dict[str, str],
    ids: dict[str, list[str]],
    examples: int,
    seed: int | None,
    hang: float,
) -> None:
    label = operation.label

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=seed is not None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(), data=st.data())
    def one(case: Any, data: st.DataObject) -> None:
        for name in list(case.path_parameters or {}):
            known = ids.get(ID_PARAMS.get(name, ""), [])
            if not known:
                continue
            real: bool = data.draw(st.booleans(), label=f"real {name}")
            if real:
                case.path_parameters[name] = data.draw(st.sampled_from(known))
        hostile = data.draw(st.sampled_from(HOSTILE), label="hostile")
        if hostile is not None:
            _inject(case, hostile, data)
        t0 = time.perf_counter()
        if hostile is not None and isinstance(case.body, dict) and not _encodable(case.body):
            # a lone surrogate: sent as JSON's \ud800 escape, which no client encodes itself
            response = client.request(
                case.method,
                case.formatted_path,
                params=case.query,
                headers=headers | {"content-type": "application/json"},
                content=json.dumps(case.body).encode(),
            )
        else:
            response = case.call(headers=headers)
        elapsed = time.perf_counter() - t0
        report.examples += 1
        report.statuses[response.status_code] += 1
        if elapsed > report.slowest:
            report.slowest, report.slowest_label = elapsed, label
        if label == "DELETE /v1/portfolios/{portfolio_id}" and response.status_code == 204:
            # keep a real portfolio to aim at (its jobs and plans went with the deleted one)
            again = client.post("/v1/portfolios", json=EXAMPLE, headers=headers)
            if again.status_code == 201:
                ids["portfolio"] = [again.json()["id"]]
        problem = _problem(response.status_code, response.text, elapsed, hang)
        if problem:
            report.failures.append(f"{label}: {problem}: {response.text[:300]}")

    one()


@contextlib.contextmanager
def database(backend: str) -> Iterator[str]:
    """A throwaway database: a SQLite file, or a fresh schema of PostgreSQL's ``test``."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/fuzz.sqlite"
        return
    import psycopg

    plain = PG_URL.replace("+psycopg", "")
    schema = f"fuzz_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        sep = "&" if "?" in PG_URL else "?"
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


#: the per-key rate limit would answer most of a fuzz run 429: lifted where it exists
NO_RATE_LIMIT: dict[str, Any] = {
    k: v
    for k, v in {"rate_limit_per_second": 0.0, "rate_limit_burst": 1_000_000}.items()
    if k in Settings.model_fields
}


def fuzz_settings(url: str) -> Settings:
    return Settings(
        **NO_RATE_LIMIT,
        database_url=url,
        public_docs=True,
        json_logs=False,
        poll_interval=0.05,
        default_time_limit=0.5,
        max_time_limit=1.0,
        sync_max_time_limit=1.0,
        default_workers=1,
        max_workers=1,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=100, help="examples per operation")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--seed", type=int, default=None, help="derandomize (default: random)")
    parser.add_argument("--hang", type=float, default=10.0, help="seconds that count as a hang")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args(argv)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with database(args.backend) as url:
        app = create_app(fuzz_settings(url))
        with TestClient(app) as client:
            headers, ids = seed_tenant(client, app)
            report = fuzz(
                app, client, headers, ids, examples=args.examples, seed=args.seed, hang=args.hang
            )
    figures = report.as_dict() | {
        "backend": args.backend,
        "examples_per_operation": args.examples,
        "max_rss_mb_before": round(rss_before / 1024),
        "max_rss_mb_after": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    sys.stdout.write(json.dumps(figures, indent=2) + "\n")
    for failure in report.failures[:20]:
        sys.stdout.write(f"FAIL {failure}\n")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(figures | {"failure_list": report.failures}, out, indent=2)
    return 1 if report.failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
