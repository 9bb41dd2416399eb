"""The job runner: a few threads of the server process that take queued jobs of every kind
from the database and run them. It is the service's only runner (the nightly batch run drives
Dask from ``allocator_api.nightly`` on its own, outside the server).

Design:

* **Jobs have a kind** (``solve``, ``rebalance``; later scenarios, recommendations, risk): a
  name in ``allocator_api.models.JOB_KINDS`` and a handler in ``allocator_api.job_kinds.KINDS``
  that gets the claimed job (portfolio, time limit, the kind's JSON ``input``) and a
  :class:`~allocator_api.jobs.JobContext` (progress, ``stop`` event, plan writer). Routes only
  queue work, through the one job creation ``Jobs.enqueue(kind=..., input=...)``; a kind the
  service does not have is refused there, and a claimed job whose kind has no handler fails.
* The **database is the queue** (``jobs`` rows). A worker claims the oldest ``queued`` job
  (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, a compare-and-set on the status everywhere), so
  several server processes, on one host or many, can share one database.
* ``Settings.solve_slots`` worker threads per process: that many jobs (of any kind) at once,
  the others wait ``queued``; ``max_queued_jobs`` and ``max_jobs_per_tenant`` count every kind.
  The handler runs on the worker thread (CP-SAT releases the GIL), never on the event loop.
* Every plan is checked by the library's independent checker before it is stored
  (``allocator_api.service.checked_plan``, then ``JobContext.save_plan`` →
  ``JobStore.save_plan`` → ``allocator_api.repository.write_plan``, the one plan writer); a plan
  that fails it is not stored and the job fails with the violations, logged as an error.
* Handlers only record progress in memory; a **monitor thread** writes it to the job row with a
  heartbeat, and reads cancel requests, every ``poll_interval``. Cancelling sets the job's
  ``stop`` event: the library stops and returns its best plan, which is stored.
* A job whose heartbeat is older than ``job_stale_seconds`` was interrupted (its process was
  killed or crashed): at start-up and then periodically, any server marks it ``failed``, so no
  job stays ``running`` for ever. Its best plan so far stays available.

Next (issue 16, item 1: solves in worker processes under a supervisor), designed to fit here:

* ``_run`` becomes the **supervisor**: it starts the handler in a child process
  (``multiprocessing`` *spawn* context, so the child shares no threads, locks or database
  connections with the server) and stays on the worker thread. The child gets the claimed job
  (plain data) and sets ``resource.setrlimit(RLIMIT_AS, memory_ceiling)`` first (a new setting
  ``job_memory_bytes``), so an oversized portfolio fails in the child with ``MemoryError`` or
  dies, never the server.
* The child's :class:`JobContext` is a proxy over a ``multiprocessing`` pipe: ``report`` /
  ``record`` send progress messages, ``save_plan`` sends the checked ``PlanDoc`` (plain
  dataclasses, picklable) and the supervisor writes it with ``JobStore.save_plan`` (the
  database stays in the server process; the best plan so far is therefore always stored), and
  ``stop`` is an event the supervisor sets on cancel or shutdown (the graceful path: the
  library stops and returns its best plan).
* Enforcement in every phase (compile, greedy, CP-SAT, reasons): the supervisor waits on the
  pipe with a timeout; at ``time_limit + job_grace_seconds`` after the start, or
  ``job_grace_seconds`` after a cancel or shutdown was signalled without the child ending, it
  ``terminate()``s the child, then ``kill()``s it after a second. The job ends with the best
  plan the child had sent (if any) and says so: ``failed`` with "stopped: the solve overran
  its time limit of N s by the grace of G s; killed (best plan so far kept)", or ``cancelled``
  for a cancel; a child that dies on its own (memory ceiling, signal) fails the job with its
  exit code. The monitor thread is unchanged (it reads ``take()`` from the supervisor's copy).
* Tests that replace ``job_kinds.solve`` in the server process (the cancel and checker tests)
  need the in-thread mode: keep it as a setting (``job_isolation = "thread" | "process"``),
  "process" the default in production.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import timedelta

from allocator_api.db import Database
from allocator_api.errors import ApiError
from allocator_api.job_kinds import KINDS
from allocator_api.jobs import Handler, JobContext, plan_progress
from allocator_api.metrics import Metrics
from allocator_api.models import utcnow
from allocator_api.repository import ClaimedJob, JobStore
from allocator_api.service import PlanRejected
from allocator_api.settings import Settings

log = logging.getLogger(__name__)


class UnknownKind(RuntimeError):
    """A claimed job whose kind has no handler in this process (an older server version)."""


class JobRunner:
    """The job workers and the monitor of one server process."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        metrics: Metrics,
        kinds: Mapping[str, Handler] | None = None,
    ) -> None:
        self.settings = settings
        self.store = JobStore(db.sessions)
        self.metrics = metrics
        self.kinds: Mapping[str, Handler] = KINDS if kinds is None else kinds
        self.worker_id = f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._running: dict[str, JobContext] = {}
        self._lock = threading.Lock()

    # -- life cycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Fail the jobs left running by a dead process, then start the threads."""
        self.fail_interrupted()
        for i in range(self.settings.solve_slots):
            self._spawn(self._work_loop, f"allocator-solve-{i}")
        self._spawn(self._monitor_loop, "allocator-jobs-monitor")
        log.info(
            "job workers started",
            extra={"worker": self.worker_id, "slots": self.settings.solve_slots},
        )

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop: running jobs are asked to stop; they end ``failed`` with their best plan."""
        self._stopping.set()
        self._wake.set()
        with self._lock:
            for ctx in self._running.values():
                ctx.stop.set()
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
        ctx = JobContext(job, self.store)
        with self._lock:
            self._running[job.id] = ctx
        started = time.monotonic()
        outcome = "failed"
        extra = {"job_id": job.id, "tenant": job.tenant, "kind": job.kind}
        log.info("job started", extra=extra | {"time_limit": job.time_limit})
        try:
            handler = self.kinds.get(job.kind)
            if handler is None:
                raise UnknownKind(f"unknown job kind {job.kind!r}: this server cannot run it")
            handler(job, ctx)
            outcome, error = self._outcome(ctx)
            done = plan_progress(ctx.last_plan, "done") if ctx.last_plan is not None else None
            self.store.finish(job.id, self.worker_id, outcome, progress=done, error=error)
        except Exception as exc:
            outcome = "failed"
            if isinstance(exc, PlanRejected):  # logged as an error by checked_plan
                error = exc.message
            elif isinstance(exc, UnknownKind):
                log.error("job refused: %s", exc, extra=extra)
                error = str(exc)
            elif isinstance(exc, ApiError):  # the stored portfolio is no longer valid
                log.warning("job refused: %s", exc.message, extra=extra)
                error = "; ".join([exc.message, *(f"{d.path}: {d.message}" for d in exc.details)])
            else:
                log.exception("job failed", extra=extra)
                error = (
                    f"internal error while running the {job.kind} job (logged with job id {job.id})"
                )
            try:
                self.store.finish(job.id, self.worker_id, "failed", error=error)
            except Exception:
                log.exception("could not mark the job failed", extra=extra)
        finally:
            with self._lock:
                self._running.pop(job.id, None)
            seconds = time.monotonic() - started
            self.metrics.solve_seconds.labels(outcome=outcome).observe(seconds)
            log.info("job ended", extra=extra | {"outcome": outcome, "seconds": seconds})

    def _outcome(self, ctx: JobContext) -> tuple[str, str | None]:
        if ctx.cancelled:
            return "cancelled", None
        if ctx.lost:
            return "failed", "the job or its portfolio was removed during the solve"
        if self.store.cancel_requested([ctx.job.id]):  # asked after the monitor's last look
            return "cancelled", None
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
        for ctx in runs:
            if not self.store.write_progress(ctx.job.id, self.worker_id, ctx.take()):
                ctx.lost = True
                ctx.stop.set()
        for job_id in self.store.cancel_requested([c.job.id for c in runs]):
            for ctx in runs:
                if ctx.job.id == job_id and not ctx.cancelled:
                    log.info("cancel requested", extra={"job_id": job_id})
                    ctx.cancelled = True
                    ctx.stop.set()
