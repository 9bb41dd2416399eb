"""The job kinds and their handlers: ``KINDS`` maps each name of
``allocator_api.models.JOB_KINDS`` to the function that runs such a job (see
:mod:`allocator_api.jobs` for what a handler gets, :mod:`allocator_api.worker` for the runner).

A new kind is a handler here, its name in ``JOB_KINDS``, and a route that queues it with
``Jobs.enqueue(kind=..., input=...)``; nothing else changes.

The **decision kinds** (issue 13; routes in ``allocator_api.routers.decisions``) answer with a
JSON result stored on the job (``ctx.save_result``, read at ``GET /v1/jobs/{id}/result``), and
record their stage as progress:

* ``risk``: :func:`allocator.risk.simulate` over a stored plan; the result is
  ``RiskResult.as_dict()`` (the CLI's ``allocator risk --json``) plus ``plan_id``.
* ``scenarios``: :func:`allocator.scenarios.run_scenarios`, one scenario at a time (its stage
  names it; a stop between two keeps those done, ``complete`` false); the result is the
  comparison JSON (``Comparison.as_dict``) plus ``plan_id``, ``complete`` and, when the whole
  stays under :data:`INLINE_BYTES`, each scenario's edited ``portfolio`` and its ``plan``
  (contract JSON; ``inline`` says which).
* ``recommend``: :func:`allocator.recommend.recommend`; the result is ``recommendations.json``
  (``Recommendations.as_dict``: settings, control, the recommendations best first with
  ``effect``, ``edits``, ``summary``) with ``base_plan`` the plan id and, under the same size
  bound, each recommendation's edited ``portfolio`` and ``plan`` and the control's ``plan``
  in place of the CLI's file names.

The what-if kinds re-solve several times with the job's input ``time_limit_per_solve``: the
job's ``time_limit`` (what the supervisor enforces) is the route's stated total budget,
:func:`what_if_budget`. The re-solves run one after another in the job's process.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import replace
from typing import Any

from allocator.contract import load_plan, plan_to_dict, portfolio_to_dict
from allocator.domain import Plan, Portfolio
from allocator.edits import EditError
from allocator.engine import SolveParams, solve
from allocator.rebalance import rebalance
from allocator.recommend import recommend
from allocator.risk import DEFAULT_SPREAD, simulate
from allocator.scenarios import Comparison, Outcome, Scenario, SolveSettings, run_scenarios
from allocator_api.errors import ApiError, ErrorDetail
from allocator_api.jobs import Handler, JobContext, PlanStore, plan_progress
from allocator_api.repository import ClaimedJob, ProgressValues
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


# -- decisions (issue 13) ----------------------------------------------------------------------
#: a result inlines the edited portfolios and their plans while their JSON stays under this
INLINE_BYTES = 2_000_000
#: seconds allowed per re-solve beyond its time limit (compile, greedy, reasons, comparison)
SOLVE_OVERHEAD_SECONDS = 0.5
#: the shortest time limit per re-solve a what-if job is given
MIN_SECONDS_PER_SOLVE = 0.1


def what_if_budget(per_solve: float, solves: int, cap: float) -> tuple[float, float] | None:
    """A what-if job's (total time limit, time limit per re-solve): ``solves`` x (``per_solve``
    + :data:`SOLVE_OVERHEAD_SECONDS`); above ``cap`` (the service's ``max_time_limit``) the
    total is ``cap`` and the time per re-solve shrinks to fit. None: ``solves`` re-solves of
    at least :data:`MIN_SECONDS_PER_SOLVE` do not fit in ``cap``."""
    total = solves * (per_solve + SOLVE_OVERHEAD_SECONDS)
    if total <= cap:
        return total, per_solve
    per_solve = cap / solves - SOLVE_OVERHEAD_SECONDS
    if per_solve < MIN_SECONDS_PER_SOLVE:
        return None
    return cap, per_solve


def _stage(ctx: JobContext, stage: str, started: float) -> None:
    ctx.record(ProgressValues(stage[:64], None, None, None, time.monotonic() - started))


def _portfolio_and_plan(job: ClaimedJob, ctx: JobContext) -> tuple[Portfolio, Plan]:
    """The job's portfolio (as claimed) and the stored plan its route named."""
    plan_id = str(job.input["plan_id"])
    body = ctx.plan_body(plan_id)
    if body is None:
        raise ApiError(409, "plan_gone", f"plan {plan_id} was removed before the job ran")
    return stored_portfolio(job.portfolio), load_plan(body)


def _settings(job: ClaimedJob) -> SolveSettings:
    return SolveSettings(
        time_limit=float(job.input["time_limit_per_solve"]), workers=job.workers, seed=0
    )


def _inline(items: list[dict[str, Any]], docs: list[tuple[Portfolio, Plan]]) -> bool:
    """Put each edited portfolio and its plan (contract JSON) into its item when the whole
    stays under :data:`INLINE_BYTES`; else leave the items as they are. True when inlined."""
    bodies = [(portfolio_to_dict(p), plan_to_dict(q)) for p, q in docs]
    size = sum(len(json.dumps(b)) + len(json.dumps(q)) for b, q in bodies)
    if size > INLINE_BYTES:
        return False
    for item, (b, q) in zip(items, bodies, strict=True):
        item["portfolio"], item["plan"] = b, q
    return True


def run_risk(job: ClaimedJob, ctx: JobContext) -> None:
    """A Monte Carlo over a stored plan (module docstring)."""
    started = time.monotonic()
    portfolio, plan = _portfolio_and_plan(job, ctx)
    spread = job.input.get("default_spread")
    _stage(ctx, f"simulating {job.input['runs']} runs", started)
    try:
        result = simulate(
            portfolio,
            plan,
            runs=int(job.input["runs"]),
            seed=job.input.get("seed"),
            default_spread=DEFAULT_SPREAD if spread is None else (spread[0], spread[1]),
        )
    except ValueError as exc:
        raise ApiError(422, "invalid_input", f"the simulation cannot run: {exc}") from None
    if ctx.save_result({**result.as_dict(), "plan_id": job.input["plan_id"]}):
        _stage(ctx, "done", started)


def run_scenarios_job(job: ClaimedJob, ctx: JobContext) -> None:
    """What-if scenarios solved one after another from a stored plan (module docstring)."""
    started = time.monotonic()
    portfolio, base_plan = _portfolio_and_plan(job, ctx)
    scenarios = [Scenario(s["name"], tuple(s["edits"])) for s in job.input["scenarios"]]
    settings = _settings(job)
    base: Outcome | None = None
    outcomes: list[Outcome] = []
    for n, scenario in enumerate(scenarios, 1):
        if ctx.stop.is_set():
            break
        _stage(ctx, f"scenario {n}/{len(scenarios)}: {scenario.name}", started)
        try:
            one = run_scenarios(portfolio, base_plan, [scenario], settings, processes=1)
        except EditError as exc:  # the portfolio was replaced since the route checked the edits
            details = [
                ErrorDetail(path=f"scenarios[{n - 1}].{i.path}", message=i.message)
                for i in exc.issues
            ]
            raise ApiError(422, "invalid_edits", "the edits no longer apply", details) from None
        base = one.base
        outcomes.extend(one.scenarios)
    if base is None:  # stopped before the first scenario
        return
    result = Comparison(base, tuple(outcomes)).as_dict()
    docs = [(o.portfolio, o.plan) for o in outcomes]
    result["inline"] = _inline(result["scenarios"], docs)
    result["plan_id"] = job.input["plan_id"]
    result["complete"] = len(outcomes) == len(scenarios)
    if ctx.save_result(result):
        _stage(ctx, "done" if result["complete"] else "stopped", started)


def run_recommend(job: ClaimedJob, ctx: JobContext) -> None:
    """Recommendations, each proven by re-solving, from a stored plan (module docstring)."""
    started = time.monotonic()
    portfolio, plan = _portfolio_and_plan(job, ctx)
    limit = int(job.input["limit"])
    _stage(ctx, f"re-solving the control and up to {limit} candidates", started)
    found = recommend(portfolio, plan, _settings(job), limit=limit, processes=1)
    result = found.as_dict()
    result["base_plan"] = job.input["plan_id"]
    docs = [(r.outcome.portfolio, r.outcome.plan) for r in found.items]
    result["inline"] = _inline(result["recommendations"], docs)
    if result["inline"]:
        result["control"]["plan"] = plan_to_dict(found.control.plan)
    if ctx.save_result(result):
        _stage(ctx, "done", started)


#: job kind -> handler; its keys are exactly ``JOB_KINDS`` (tested)
KINDS: dict[str, Handler] = {
    "solve": run_solve,
    "rebalance": run_rebalance,
    "risk": run_risk,
    "scenarios": run_scenarios_job,
    "recommend": run_recommend,
}
