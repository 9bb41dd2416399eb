"""Issue 16's cancel probe: does a job stop when it is cancelled before its first plan?

A portfolio whose compile and greedy run alone take longer than the time limit (by default the
issue's 50 team tasks x ``count`` 1,000 on 1,000 people, stored below the routes so that the
size limits at the door do not refuse it) is solved with ``time_limit`` 5 and cancelled at
+8 s; the probe reports when the job reached a final state (or that it was still running when
the probe gave up) and the server process's peak RSS. Run it with ``--isolation thread`` (the
runner before the supervisor: the handler on the worker thread) and ``--isolation process``
(the supervisor, the default)::

    .venv/bin/python benchmarks/supervisor_probe.py --isolation thread --give-up 60
    .venv/bin/python benchmarks/supervisor_probe.py --isolation process

It uses one solve slot and a temporary SQLite file; it prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import tempfile
import time
from typing import Any

from fastapi.testclient import TestClient

from allocator_api.app import create_app
from allocator_api.repository import Keys, PortfolioDoc, Portfolios
from allocator_api.settings import Settings


def heavy_portfolio(tasks: int, count: int, people: int) -> dict[str, Any]:
    return {
        "format": "allocator.portfolio/v1",
        "name": "probe",
        "calendar": {"start": "2027-01-04", "end": "2027-12-31"},
        "people": [{"id": f"p{i}", "skills": {"s": 3}} for i in range(people)],
        "projects": [
            {
                "id": "P",
                "tasks": [
                    {"id": f"t{i}", "requirements": [{"skill": "s", "count": count}]}
                    | {"duration_days": 5}
                    for i in range(tasks)
                ],
            }
        ],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--isolation", choices=["thread", "process"], default="process")
    ap.add_argument("--tasks", type=int, default=50)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--people", type=int, default=1000)
    ap.add_argument("--time-limit", type=float, default=5.0)
    ap.add_argument("--cancel-at", type=float, default=8.0)
    ap.add_argument("--grace", type=float, default=5.0)
    ap.add_argument("--give-up", type=float, default=90.0)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            database_url=f"sqlite:///{tmp}/probe.sqlite",
            json_logs=False,
            solve_slots=1,
            job_isolation=args.isolation,
            job_grace_seconds=args.grace,
            poll_interval=0.1,
        )
        app = create_app(settings)
        with TestClient(app) as client:
            tenant = "probe"
            with app.state.db.sessions() as s:
                _, token = Keys(s).create(tenant, "planner")
                body = heavy_portfolio(args.tasks, args.count, args.people)
                doc = PortfolioDoc(name="probe", body=body, people=args.people, tasks=args.tasks)
                pid = Portfolios(s, tenant).create(doc).id
            h = {"Authorization": f"Bearer {token}"}
            t0 = time.monotonic()
            r = client.post(
                f"/v1/portfolios/{pid}/solve", json={"time_limit": args.time_limit}, headers=h
            )
            job_id = r.json()["job_id"]
            cancelled = False
            job: dict[str, Any] = {}
            while time.monotonic() - t0 < args.give_up:
                if not cancelled and time.monotonic() - t0 >= args.cancel_at:
                    client.delete(f"/v1/jobs/{job_id}", headers=h)
                    cancelled = True
                job = client.get(f"/v1/jobs/{job_id}", headers=h).json()
                if job["status"] in ("done", "failed", "cancelled"):
                    break
                time.sleep(0.1)
            ended = time.monotonic() - t0
            out = {
                "isolation": args.isolation,
                "portfolio": f"{args.tasks} tasks x count {args.count} on {args.people} people",
                "time_limit": args.time_limit,
                "cancel_at": args.cancel_at,
                "grace": args.grace,
                "status": job.get("status"),
                "error": (job.get("error") or "")[:300] or None,
                "final_after_s": round(ended, 1) if job.get("status") != "running" else None,
                "still_running_at_s": round(ended, 1) if job.get("status") == "running" else None,
                "server_peak_rss_mb": round(
                    resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                ),
            }
            print(json.dumps(out))
            if job.get("status") == "running":  # the thread cannot be stopped: leave now
                os._exit(0)


if __name__ == "__main__":
    main()
