"""The job runner: a few threads of the server process that take queued jobs of every kind
from the database and run them. It is the service's only runner (the nightly batch run drives
Dask from ``allocator_api.nightly`` on its own, outside the server).

Design:

* **Jobs have a kind** (``solve``, ``rebalance``, ``risk``, ``scenarios``, ``recommend``): a
  name in ``allocator_api.models.JOB_KINDS`` and a handler in ``allocator_api.job_kinds.KINDS``
  that gets the claimed job (portfolio, time limit, the kind's JSON ``input``) and a
  :class:`~allocator_api.jobs.JobContext` (progress, ``stop`` event, plan writer). Routes only
  queue work, through the one job creation ``Jobs.enqueue(kind=..., input=...)``; a kind the
  service does not have is refused there, and a claimed job whose kind has no handler fails.
* The **database is the queue** (``jobs`` rows). A worker claims the next ``queued`` job (fairly,
  below; ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, a compare-and-set on the status everywhere), so
  several server processes, on one host or many, can share one database.
* ``Settings.solve_slots`` worker threads per process: that many jobs (of any kind) at once,
  the others wait ``queued``; ``max_queued_jobs`` and ``max_jobs_per_tenant`` count every kind.
  The worker thread runs the handler (in a child process, see below), never the event loop.
* Every plan is checked by the library's independent checker before it is stored
  (``allocator_api.service.checked_plan``, then ``JobContext.save_plan`` →
  ``JobStore.save_plan`` → ``allocator_api.repository.write_plan``, the one plan writer); a plan
  that fails it is not stored and the job fails with the violations, logged as an error.
* Handlers only record progress in memory; a **monitor thread** writes it to the job row with a
  heartbeat, and reads cancel requests, every ``poll_interval``. Cancelling sets the job's
  ``stop`` event: the library stops and returns its best plan, which is stored.
* **Fairness** (``JobStore.claim``): the next job is the one of the tenant with the fewest
  running jobs, then of the tenant served longest ago, then the oldest; so one tenant's batch
  of queued jobs never starves another tenant's job.
* A job whose heartbeat is older than ``job_stale_seconds`` was interrupted (its server was
  killed or crashed): at start-up and then periodically, any server queues it again; its best
  plan so far stays and is the next run's warm start (``ClaimedJob.resume_plan``). Each claim
  counts one ``jobs.attempts``; a job interrupted ``job_max_attempts`` times fails for good.

The **supervisor** (issue 16, item 1; ``job_isolation = "process"``, the default):

* ``_run`` starts the handler in a child process (``multiprocessing`` *spawn* context, so the
  child shares no threads, locks or database connections with the server) and stays on the
  worker thread. The child gets the claimed job (plain data) and first sets
  ``resource.setrlimit(RLIMIT_AS, job_memory_bytes)``, so an oversized portfolio fails in the
  child with ``MemoryError`` or dies, never the server.
* The child's :class:`JobContext` writes through a :class:`~allocator_api.jobs.PipeStore`:
  ``report`` / ``record`` send progress messages, ``save_plan`` sends the checked ``PlanDoc``
  and the supervisor writes it with ``JobStore.save_plan`` (the database stays in the server
  process; the best plan so far is therefore always stored); its ``stop`` follows an event the
  supervisor sets on cancel or shutdown, or when the time limit is reached (the graceful path:
  the library stops and returns its best plan).
* Enforcement in every phase (compile, greedy, CP-SAT, reasons): the supervisor waits on the
  pipe with a timeout; at ``time_limit + job_grace_seconds`` after the child's start-up (its
  imports, about a second, at most ``supervisor.STARTUP_SECONDS``; a child is kept per slot
  with its imports done, and one that ended its job cleanly runs the next, so that cost is
  paid once per child, not per job: :class:`~allocator_api.supervisor.Spares`), or
  ``job_grace_seconds`` after a cancel or shutdown was signalled without the child ending, it
  ``terminate()``s the child, then ``kill()``s it after a second. The job ends with the best
  plan the child had sent (if any) and says so: ``failed`` with "stopped: the job overran its
  time limit of N s by the grace of G s; killed (best plan so far kept)", or ``cancelled`` for
  a cancel. A child that fails with ``MemoryError`` fails the job naming the ceiling; a child
  killed by SIGKILL or SIGTERM from outside (the kernel's OOM killer, an operator) is queued
  again like an interrupted job; any other death fails the job with its exit code.
* ``job_isolation = "thread"`` runs the handler on the worker thread instead (no memory
  ceiling, no kill: the library's own time limit only), for tests that replace
  ``job_kinds.solve`` in the server process. :func:`supervise` also runs the synchronous
  ``POST /v1/solve`` (``allocator_api.routers.solve``); it lives in :mod:`allocator_api.supervisor`,
  the light module a child imports first.
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
from typing import Any

from allocator_api.db import Database
from allocator_api.errors import ApiError
from allocator_api.job_kinds import KINDS
from allocator_api.jobs import Handler, JobContext, ResultJobStore, plan_progress
from allocator_api.metrics import Metrics
from allocator_api.models import utcnow
from allocator_api.repository import ClaimedJob
from allocator_api.service import PlanRejected
from allocator_api.settings import Settings
from allocator_api.supervisor import (
    EXTERNAL_SIGNALS,
    KILL_AFTER,
    SPARES,
    died_how,
    run_job_child,
    supervise,
)

log = logging.getLogger(__name__)


class UnknownKind(RuntimeError):
    """A claimed job whose kind has no handler in this process (an older server version)."""


# ---------------------------------------------------------------------------------------------
# The runner
# ---------------------------------------------------------------------------------------------
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
        self.store = ResultJobStore(db.sessions)
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
        """Queue again the jobs left running by a dead process, then start the threads."""
        self.recover_interrupted()
        if self.settings.job_isolation == "process":
            SPARES.fill(self.settings.solve_slots, nice=self.settings.job_nice)
        for i in range(self.settings.solve_slots):
            self._spawn(self._work_loop, f"allocator-solve-{i}")
        self._spawn(self._monitor_loop, "allocator-jobs-monitor")
        log.info(
            "job workers started",
            extra={
                "worker": self.worker_id,
                "slots": self.settings.solve_slots,
                "isolation": self.settings.job_isolation,
            },
        )

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self, timeout: float | None = None) -> None:
        """Stop: running jobs are asked to stop; they end ``failed`` with their best plan. A
        child process still running ``job_grace_seconds`` later is killed."""
        if timeout is None:
            timeout = self.settings.job_grace_seconds + 3 * KILL_AFTER + 2.0
        self._stopping.set()
        self._wake.set()
        with self._lock:
            for ctx in self._running.values():
                ctx.stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads.clear()
        if self.settings.job_isolation == "process":
            SPARES.discard()

    def notify(self) -> None:
        """A job was queued: wake an idle worker now rather than at its next poll."""
        self._wake.set()

    @property
    def started(self) -> bool:
        return bool(self._threads)

    def recover_interrupted(self) -> tuple[list[str], list[str]]:
        """Queue again the jobs whose heartbeat went stale (failed after the last attempt):
        (requeued, failed) ids."""
        cutoff = utcnow() - timedelta(seconds=self.settings.job_stale_seconds)
        again, spent = self.store.recover_stale(cutoff, self.settings.job_max_attempts)
        for job_id in again:
            log.warning("job was interrupted; queued again", extra={"job_id": job_id})
        for job_id in spent:
            log.error(
                "job was interrupted on its last attempt; marked failed", extra={"job_id": job_id}
            )
        if again:
            self._wake.set()
        return again, spent

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
        extra = {"job_id": job.id, "tenant": job.tenant, "kind": job.kind, "attempt": job.attempt}
        log.info("job started", extra=extra | {"time_limit": job.time_limit})
        try:
            handler = self.kinds.get(job.kind)
            if handler is None:
                raise UnknownKind(f"unknown job kind {job.kind!r}: this server cannot run it")
            if self.settings.job_isolation == "thread":
                handler(job, ctx)
                outcome, error = self._outcome(ctx)
            else:
                outcome, error = self._run_in_child(handler, job, ctx)
            if outcome == "requeued":
                self.store.requeue(job.id, self.worker_id, error or "interrupted")
                self._wake.set()
                return
            # a plan's figures, else (a decision job) the handler's last recorded progress
            done = plan_progress(ctx.last_plan, "done") if ctx.last_plan is not None else ctx.take()
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
                error = api_error_text(exc)
            else:
                log.exception("job failed", extra=extra)
                error = internal_error_text(job)
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

    def _run_in_child(
        self, handler: Handler, job: ClaimedJob, ctx: JobContext
    ) -> tuple[str, str | None]:
        """The handler in a supervised child process: the job's outcome and error."""
        grace = self.settings.job_grace_seconds
        end = supervise(
            run_job_child,
            (handler, job),
            time_limit=job.time_limit,
            grace=grace,
            memory_bytes=self.settings.job_memory_bytes,
            stop=ctx.stop,
            answer=lambda message: self._answer(ctx, message),
            on_progress=ctx.record,
        )
        extra = {"job_id": job.id, "tenant": job.tenant, "kind": job.kind, "how": end.how}
        kept = "best plan so far kept" if ctx.last_plan is not None else "it had no plan yet"
        if end.how == "returned":
            return self._outcome(ctx)
        if end.how == "error":
            assert end.error is not None
            err = end.error
            if err.category == "memory":
                log.error("job ran out of memory", extra=extra)
                return "failed", (
                    f"out of memory: the job's process exceeded its memory ceiling of "
                    f"{self.settings.job_memory_bytes} bytes (setting job_memory_bytes); {kept}"
                )
            if err.category == "api":
                if err.code != "plan_rejected":
                    log.warning("job refused: %s", err.message, extra=extra)
                return "failed", api_error_text(err.as_api_error())
            log.error("job failed: %s\n%s", err.message, err.trace, extra=extra)
            return "failed", internal_error_text(job)
        if end.how == "killed":
            log.warning("job process killed", extra=extra | {"asked": end.asked})
            if ctx.cancelled or self.store.cancel_requested([job.id]):
                return "cancelled", None
            if ctx.lost:
                return "failed", "the job or its portfolio was removed during the solve"
            if self._stopping.is_set():
                return "failed", (
                    f"interrupted: the server shut down during the solve and its process was "
                    f"killed after the grace of {grace:g} s ({kept})"
                )
            return "failed", (
                f"stopped: the job overran its time limit of {job.time_limit:g} s by the grace "
                f"of {grace:g} s; killed ({kept})"
            )
        how = died_how(end.exitcode)
        if ctx.cancelled or ctx.lost or self._stopping.is_set():
            outcome, error = self._outcome(ctx)
            return outcome, error if outcome != "done" else f"its process died ({how})"
        external = end.exitcode is not None and -end.exitcode in EXTERNAL_SIGNALS
        if external and job.attempt < self.settings.job_max_attempts:
            log.warning("job process died; queued again", extra=extra | {"exit": how})
            return "requeued", (
                f"interrupted: its process was {how} during attempt {job.attempt} of "
                f"{self.settings.job_max_attempts}; queued again from its best plan so far"
            )
        log.error("job process died", extra=extra | {"exit": how})
        if external:
            return "failed", (
                f"its process was {how} on each of its {job.attempt} attempts; gave up after "
                f"job_max_attempts = {self.settings.job_max_attempts} ({kept})"
            )
        return "failed", f"its process died ({how}); {kept}"

    def _answer(self, ctx: JobContext, message: tuple[Any, ...]) -> Any:
        """The supervisor's answer to a child's question (see :class:`~allocator_api.jobs.PipeStore`)."""
        if message[0] == "plan":
            return ctx.job.id if ctx.save_plan(message[1], final=bool(message[2])) else None
        if message[0] == "plan_body":
            return ctx.plan_body(str(message[2]))
        if message[0] == "result":
            return ctx.save_result(dict(message[1]))
        raise ValueError(f"unknown message from a job process: {message[0]!r}")

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
                    self.recover_interrupted()
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


def api_error_text(exc: ApiError) -> str:
    """An :class:`ApiError` as a job's error text (its details included)."""
    if isinstance(exc, PlanRejected) or exc.code == "plan_rejected":
        return exc.message
    return "; ".join([exc.message, *(f"{d.path}: {d.message}" for d in exc.details)])


def internal_error_text(job: ClaimedJob) -> str:
    return f"internal error while running the {job.kind} job (logged with job id {job.id})"
