"""What a job handler sees: its job and a :class:`JobContext` (progress, stop, plan writer).

A job kind is a name in ``allocator_api.models.JOB_KINDS`` and a handler in
``allocator_api.job_kinds.KINDS``: ``handler(job, ctx)`` reads the portfolio and the kind's
input from ``job``, stores its plans with ``ctx.save_plan`` (the best so far, then the final
one), reports progress with ``ctx.report`` / ``ctx.record`` and returns when it is done or when
``ctx.stop`` is set (cancel, shutdown, the job removed). It raises to fail the job; the runner
(``allocator_api.worker``) turns the outcome into the job's final status.

The context writes plans through a :class:`PlanStore`: the database's
:class:`ResultJobStore` (a :class:`~allocator_api.repository.JobStore`) when the handler runs
on the worker thread, a :class:`PipeStore` over the pipe to the supervisor when it runs in a
child process (the supervisor, in the server process, writes them). A decision job (risk,
scenarios, recommend) stores its JSON answer the same way, with ``ctx.save_result``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, Protocol

from sqlalchemy import update

from allocator.engine import SolveProgress
from allocator_api.models import JobRow
from allocator_api.repository import (
    ClaimedJob,
    JobStore,
    PlanDoc,
    ProgressValues,
    terms_or_none,
)


class PlanStore(Protocol):
    """Where a job's plans go (and other stored plans come from)."""

    def save_plan(self, job: ClaimedJob, plan: PlanDoc, *, final: bool) -> str | None: ...

    def plan_body(self, tenant: str, plan_id: str) -> dict[str, Any] | None: ...

    def save_result(self, job: ClaimedJob, result: dict[str, Any]) -> bool: ...


class ResultJobStore(JobStore):
    """The database's :class:`PlanStore`: the queue's :class:`JobStore` and the job results."""

    def save_result(self, job: ClaimedJob, result: dict[str, Any]) -> bool:
        """Store the job's JSON result (replacing any earlier one); False when the job is gone."""
        with self.sessions() as s:
            done = s.execute(
                update(JobRow)
                .where(JobRow.id == job.id, JobRow.tenant == job.tenant)
                .values(result=result)
            )
            s.commit()
            return bool(done.rowcount)  # type: ignore[attr-defined]


class PipeStore:
    """A child process's :class:`PlanStore`: each call is a message to the supervisor, which
    answers it from the database (``("plan", doc, final)`` → a token when stored, else None;
    ``("plan_body", tenant, plan_id)`` → the body or None; ``("result", result)`` → True when
    stored). Progress is ``("progress", values)`` with no answer. Calls may come from several
    threads (the engine's progress callback)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.lock = threading.Lock()

    def _ask(self, message: tuple[Any, ...]) -> Any:
        with self.lock:
            self.conn.send(message)
            return self.conn.recv()

    def save_plan(self, job: ClaimedJob, plan: PlanDoc, *, final: bool) -> str | None:
        answer = self._ask(("plan", plan, final))
        return None if answer is None else str(answer)

    def plan_body(self, tenant: str, plan_id: str) -> dict[str, Any] | None:
        answer = self._ask(("plan_body", tenant, plan_id))
        return None if answer is None else dict(answer)

    def save_result(self, job: ClaimedJob, result: dict[str, Any]) -> bool:
        return bool(self._ask(("result", result)))

    def send_progress(self, values: ProgressValues) -> None:
        with self.lock:
            self.conn.send(("progress", values))


class JobContext:
    """The runner's side of one running job, handed to its handler.

    The handler's calls only record (progress) or write one plan (``save_plan``); the runner's
    monitor thread writes the latest progress with a heartbeat and sets ``stop`` on a cancel.
    """

    def __init__(
        self,
        job: ClaimedJob,
        store: PlanStore,
        *,
        stop: threading.Event | None = None,
        on_record: Callable[[ProgressValues], None] | None = None,
    ) -> None:
        self.job = job
        self.store = store
        #: set to stop the job early (cancel, shutdown, job removed): keep the best plan
        self.stop = stop if stop is not None else threading.Event()
        #: called with each recorded progress (a child process sends it to its supervisor)
        self.on_record = on_record
        self.cancelled = False
        #: the job or its portfolio is gone: nothing more can be stored
        self.lost = False
        #: the last plan stored for the job (its figures are the job's final progress)
        self.last_plan: PlanDoc | None = None
        self._lock = threading.Lock()
        self._latest: ProgressValues | None = None
        self._dirty = False

    # -- progress -----------------------------------------------------------------------------
    def report(self, p: SolveProgress) -> None:
        """The engine's progress callback (``SolveParams.on_progress``): record only."""
        self.record(
            ProgressValues(
                p.stage, terms_or_none(p.objective), terms_or_none(p.lower_bound), p.gap, p.elapsed
            )
        )

    def record(self, values: ProgressValues) -> None:
        with self._lock:
            self._latest = values
            self._dirty = True
        if self.on_record is not None:
            self.on_record(values)

    def take(self) -> ProgressValues | None:
        """The progress recorded since the last take (None: nothing new). For the monitor."""
        with self._lock:
            if not self._dirty:
                return None
            self._dirty = False
            return self._latest

    # -- plans --------------------------------------------------------------------------------
    def save_plan(self, doc: PlanDoc, *, final: bool) -> bool:
        """Store the job's plan (a checked :class:`PlanDoc`): its version, rewritten in place
        until ``final``. False (and ``stop`` set) when the job or its portfolio is gone."""
        if self.lost:
            return False
        if self.store.save_plan(self.job, doc, final=final) is None:
            self.lost = True
            self.stop.set()
            return False
        self.last_plan = doc
        return True

    def save_result(self, result: dict[str, Any]) -> bool:
        """Store the job's JSON result (a decision job's answer, ``GET /v1/jobs/{id}/result``).
        False (and ``stop`` set) when the job is gone."""
        if self.lost:
            return False
        if not self.store.save_result(self.job, result):
            self.lost = True
            self.stop.set()
            return False
        return True

    def plan_body(self, plan_id: str) -> dict[str, Any] | None:
        """Another stored plan of the job's tenant (e.g. a rebalance's base), contract JSON."""
        return self.store.plan_body(self.job.tenant, plan_id)


#: a job kind's handler
Handler = Callable[[ClaimedJob, JobContext], None]


def plan_progress(doc: PlanDoc, stage: str) -> ProgressValues:
    """A stored plan's figures as job progress (``stage``: ``greedy``, ``done``, ...)."""
    return ProgressValues(stage, doc.objective, doc.lower_bound, doc.gap, doc.solve_seconds)
