"""Solve workers: a few threads of the server process that take queued jobs from the database.

Design:

* The **database is the queue** (``jobs`` rows). A worker claims the oldest ``queued`` job
  (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, a compare-and-set on the status everywhere), so
  several server processes, on one host or many, can share one database.
* ``Settings.solve_slots`` worker threads per process: that many solves at once, the others
  wait ``queued``. The solve runs on the worker thread (CP-SAT releases the GIL), never on the
  event loop.
* First the library's greedy plan (valid by construction, milliseconds) is stored, so the job
  has a plan at once; then the full solve. Every plan is checked by the library's independent
  checker before it is stored (``api.service.checked_plan``, then ``api.repository.write_plan``,
  the one plan writer); a plan that fails it is not stored and the job fails with the
  violations, logged as an error. Its progress callback only records the latest
  figures in memory; a **monitor thread** writes them to the job row with a heartbeat, and
  reads cancel requests, every ``poll_interval``. Cancelling sets the solve's ``stop_event``:
  the library stops and returns its best plan, which is stored.
* A job whose heartbeat is older than ``job_stale_seconds`` was interrupted (its process was
  killed or crashed): at start-up and then periodically, any server marks it ``failed``, so no
  job stays ``running`` for ever. Its best plan so far stays available.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from allocator.domain import Plan
from allocator.engine import Progress, SolveParams, solve
from api.db import Database
from api.errors import ApiError
from api.metrics import Metrics
from api.models import utcnow
from api.repository import ClaimedJob, JobStore, ProgressValues, terms_or_none
from api.service import PlanRejected, checked_plan, stored_portfolio
from api.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class _Running:
    """A solve running in this process."""

    job: ClaimedJob
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    latest: ProgressValues | None = None
    dirty: bool = False
    cancelled: bool = False
    lost: bool = False

    def report(self, p: Progress) -> None:
        """The engine's progress callback: record only (the monitor writes it)."""
        self.record(
            ProgressValues(
                p.stage, terms_or_none(p.objective), terms_or_none(p.lower_bound), p.gap, p.elapsed
            )
        )

    def record(self, values: ProgressValues) -> None:
        with self.lock:
            self.latest = values
            self.dirty = True

    def take(self) -> ProgressValues | None:
        with self.lock:
            if not self.dirty:
                return None
            self.dirty = False
            return self.latest


def _progress_of(plan: Plan, stage: str) -> ProgressValues:
    return ProgressValues(
        stage=stage,
        objective=terms_or_none(plan.objective),
        lower_bound=terms_or_none(plan.lower_bound),
        gap=plan.gap,
        elapsed=plan.solve_seconds,
    )


class JobRunner:
    """The solve workers and the monitor of one server process."""

    def __init__(self, db: Database, settings: Settings, metrics: Metrics) -> None:
        self.settings = settings
        self.store = JobStore(db.sessions)
        self.metrics = metrics
        self.worker_id = f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._running: dict[str, _Running] = {}
        self._lock = threading.Lock()

    # -- life cycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Fail the jobs left running by a dead process, then start the threads."""
        self.fail_interrupted()
        for i in range(self.settings.solve_slots):
            self._spawn(self._work_loop, f"allocator-solve-{i}")
        self._spawn(self._monitor_loop, "allocator-jobs-monitor")
        log.info(
            "solve workers started",
            extra={"worker": self.worker_id, "slots": self.settings.solve_slots},
        )

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop: running solves are asked to stop; their jobs end ``failed`` with their plan."""
        self._stopping.set()
        self._wake.set()
        with self._lock:
            for run in self._running.values():
                run.stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads.clear()

    def notify(self) -> None:
        """A job was queued: wake an idle worker now rather than at its next poll."""
        self._wake.set()

    @property
    def started(self) -> bool:
        return bool(self._threads)

    def fail_interrupted(self) -> list[str]:
        cutoff = utcnow() - timedelta(seconds=self.settings.job_stale_seconds)
        ids = self.store.fail_stale(cutoff)
        for job_id in ids:
            log.warning("job was interrupted; marked failed", extra={"job_id": job_id})
        return ids

    # -- workers ------------------------------------------------------------------------------
    def _work_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                job = self.store.claim(self.worker_id)
            except Exception:
                log.exception("could not claim a job")
                job = None
            if job is None:
                self._wake.wait(self.settings.poll_interval)
                self._wake.clear()
                continue
            self._run(job)

    def _run(self, job: ClaimedJob) -> None:
        run = _Running(job)
        with self._lock:
            self._running[job.id] = run
        started = time.monotonic()
        outcome = "failed"
        extra = {"job_id": job.id, "tenant": job.tenant}
        log.info("solve started", extra=extra | {"time_limit": job.time_limit})
        try:
            portfolio = stored_portfolio(job.portfolio)
            # 1. the greedy plan: valid by construction, so the job has a plan within moments
            greedy = solve(portfolio, SolveParams(greedy_only=True, workers=1, seed=0))
            where = f"of job {job.id}"
            doc = checked_plan(portfolio, greedy.plan, where=where, context=extra)
            if self.store.save_plan(job, doc, final=False) is None:
                run.lost = True
            run.record(_progress_of(greedy.plan, "greedy"))
            # 2. the full solve, stoppable
            result = None
            if not run.lost and not run.stop.is_set():
                params = SolveParams(
                    time_limit=job.time_limit,
                    workers=job.workers,
                    seed=0,
                    on_progress=run.report,
                    stop_event=run.stop,
                )
                result = solve(portfolio, params)
            plan = result.plan if result is not None else greedy.plan
            if not run.lost:
                doc = checked_plan(portfolio, plan, where=where, context=extra)
                self.store.save_plan(job, doc, final=True)
            outcome, error = self._outcome(run)
            self.store.finish(
                job.id, self.worker_id, outcome, progress=_progress_of(plan, "done"), error=error
            )
        except Exception as exc:
            outcome = "failed"
            if isinstance(exc, PlanRejected):  # logged as an error by checked_plan
                error = exc.message
            elif isinstance(exc, ApiError):  # the stored portfolio is no longer valid
                log.warning("solve refused: %s", exc.message, extra=extra)
                error = "; ".join([exc.message, *(f"{d.path}: {d.message}" for d in exc.details)])
            else:
                log.exception("solve failed", extra=extra)
                error = f"internal error while solving (logged with job id {job.id})"
            try:
                self.store.finish(job.id, self.worker_id, "failed", error=error)
            except Exception:
                log.exception("could not mark the job failed", extra=extra)
        finally:
            with self._lock:
                self._running.pop(job.id, None)
            seconds = time.monotonic() - started
            self.metrics.solve_seconds.labels(outcome=outcome).observe(seconds)
            log.info("solve ended", extra=extra | {"outcome": outcome, "seconds": seconds})

    def _outcome(self, run: _Running) -> tuple[str, str | None]:
        if run.cancelled:
            return "cancelled", None
        if run.lost:
            return "failed", "the job or its portfolio was removed during the solve"
        if self._stopping.is_set():
            return "failed", "interrupted: the server shut down during the solve (best plan kept)"
        return "done", None

    # -- monitor ------------------------------------------------------------------------------
    def _monitor_loop(self) -> None:
        last_reap = time.monotonic()
        reap_every = max(self.settings.poll_interval, self.settings.job_stale_seconds / 3)
        while not self._stopping.wait(self.settings.poll_interval):
            try:
                self._monitor_once()
                if time.monotonic() - last_reap >= reap_every:
                    last_reap = time.monotonic()
                    self.fail_interrupted()
            except Exception:
                log.exception("job monitor failed; retrying")

    def _monitor_once(self) -> None:
        with self._lock:
            runs = list(self._running.values())
        if not runs:
            return
        for run in runs:
            if not self.store.write_progress(run.job.id, self.worker_id, run.take()):
                run.lost = True
                run.stop.set()
        for job_id in self.store.cancel_requested([r.job.id for r in runs]):
            for run in runs:
                if run.job.id == job_id and not run.cancelled:
                    log.info("cancel requested", extra={"job_id": job_id})
                    run.cancelled = True
                    run.stop.set()
