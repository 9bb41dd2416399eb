"""The job kinds and their handlers: ``KINDS`` maps each name of
``allocator_api.models.JOB_KINDS`` to the function that runs such a job (see
:mod:`allocator_api.jobs` for what a handler gets, :mod:`allocator_api.worker` for the runner).

A new kind (scenarios, recommendations, risk) is a handler here, its name in ``JOB_KINDS``, and
a route that queues it with ``Jobs.enqueue(kind=..., input=...)``; nothing else changes.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from typing import Any

from allocator.contract import load_plan
from allocator.engine import SolveParams, solve
from allocator.rebalance import rebalance
from allocator_api.jobs import Handler, JobContext, PlanStore, plan_progress
from allocator_api.repository import ClaimedJob
from allocator_api.service import checked_plan, read_valid_portfolio, stored_portfolio

log = logging.getLogger(__name__)


def run_solve(job: ClaimedJob, ctx: JobContext) -> None:
    """A solve: the greedy plan first (valid by construction, stored within moments, so the
    job has a plan at once), then the full solve, stoppable, whose plan replaces it.

    A re-run after an interruption (``job.resume_plan``: the best plan an earlier attempt
    stored) starts from that plan instead: it stays the job's plan, and the full solve is a
    free re-plan warm-started from it (:func:`~allocator.rebalance.rebalance`, stability 0)."""
    extra = {"job_id": job.id, "tenant": job.tenant, "attempt": job.attempt}
    where = f"of job {job.id}"
    portfolio = stored_portfolio(job.portfolio)
    resume = load_plan(job.resume_plan) if job.resume_plan is not None else None
    if resume is None:
        greedy = solve(portfolio, SolveParams(greedy_only=True, workers=1, seed=0))
        doc = checked_plan(portfolio, greedy.plan, where=where, context=extra)
        if not ctx.save_plan(doc, final=False):
            return
        ctx.record(plan_progress(doc, "greedy"))
        plan = greedy.plan
    else:
        log.info("solve resumed from its best plan so far", extra=extra)
        plan = resume
    if not ctx.stop.is_set():
        params = SolveParams(
            time_limit=job.time_limit,
            workers=job.workers,
            seed=0,
            on_progress=ctx.report,
            stop_event=ctx.stop,
        )
        if resume is None:
            plan = solve(portfolio, params).plan
        else:
            plan = replace(rebalance(portfolio, resume, params, stability=0).plan, changes=None)
    if not ctx.lost:
        ctx.save_plan(checked_plan(portfolio, plan, where=where, context=extra), final=True)


def run_rebalance(job: ClaimedJob, ctx: JobContext) -> None:
    """A rebalance: warm-started from the base plan the route recorded in the job's input
    (``base_plan_id``, the latest final plan when the job was queued) with its stability knobs
    (``freeze_days``, ``churn_budget``, ``stability``); a plain solve when there was none."""
    extra = {"job_id": job.id, "tenant": job.tenant}
    portfolio = stored_portfolio(job.portfolio)
    base_id = job.input.get("base_plan_id")
    base = ctx.plan_body(str(base_id)) if base_id is not None else None
    params = SolveParams(
        time_limit=job.time_limit,
        workers=job.workers,
        on_progress=ctx.report,
        stop_event=ctx.stop,
    )
    if base is None:
        result = solve(portfolio, params)
    else:
        result = rebalance(
            portfolio,
            load_plan(base),
            params,
            freeze_days=_knob(job, "freeze_days"),
            churn_budget=_knob(job, "churn_budget"),
            stability=_knob(job, "stability"),
        )
    doc = checked_plan(portfolio, result.plan, where=f"of rebalance job {job.id}", context=extra)
    ctx.save_plan(doc, final=True)
    log.info("rebalance done", extra=extra | {"changes": len(result.plan.changes or ())})


def _knob(job: ClaimedJob, name: str) -> int | None:
    value = job.input.get(name)
    return None if value is None else int(value)


def solve_checked(
    pipe: PlanStore, stop: threading.Event, body: Any, time_limit: float, workers: int
) -> dict[str, Any]:
    """The synchronous solve (``POST /v1/solve``) in its supervised child process (see
    :func:`allocator_api.supervisor.supervise`): the checked plan's contract JSON. Nothing is
    stored, so ``pipe`` is unused."""
    portfolio = read_valid_portfolio(body).portfolio
    params = SolveParams(time_limit=time_limit, workers=workers, seed=0, stop_event=stop)
    return checked_plan(portfolio, solve(portfolio, params).plan, where="of this solve").body


#: job kind -> handler; its keys are exactly ``JOB_KINDS`` (tested)
KINDS: dict[str, Handler] = {"solve": run_solve, "rebalance": run_rebalance}
