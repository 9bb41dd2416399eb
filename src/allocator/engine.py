"""The façade: ``solve(portfolio, params) -> Result``, one parametrization of the solve pipeline
(:mod:`allocator.pipeline`: warm starts → improve → select → finalize; a re-plan,
``SolveParams.previous``, is :func:`allocator.rebalance.rebalance`, the other one).

Flow: compile the portfolio (:mod:`solver_models.instance`) → a greedy list schedule, valid by
construction, as the warm start and the fallback → CP-SAT, the objective's terms optimized in
lexicographic order from that start → the best plan of the two (by the documented objective,
evaluated on the plans themselves) → reasons for unassigned work → a lower bound that is true
for the portfolio: the best of CP-SAT's (when its model is exact for the portfolio, or of a relaxed
model with the time left), a linear relaxation of people's capacity against the work
(``solver_models.bounds``), and the analytic bound of the work nobody can do.

Infeasible and timed-out runs are values (``Result.plan.status``), not exceptions.

**The plan's figures** (plan format ``allocator.plan/v2``): the objective as its terms in planner
units (:func:`allocator.objective.terms_of_key`); the lower bound term by term
(:func:`term_bounds`): the first term's bound holds over every valid plan, a later term's only
over the plans whose earlier terms are at most this plan's, so a later term gets a bound only
where every earlier one is proven and the source that bounds it was constrained to exactly
those earlier values. Bounds are never capped at the objective: a bound above it is a bug; it
raises :class:`BoundError` in strict mode (``ALLOCATOR_STRICT_BOUNDS=1``, which the tests set)
and is otherwise logged as an error and dropped, the plan then reported ``feasible``.

**Pins** come before the objective: among candidate plans the engine keeps the one that drops
the fewest pinned tasks (``solver_models.schedule.pins_dropped``), then the best objective, so
a pinned task is unassigned only when keeping it is impossible. The bounds of the objective's
terms are then over the plans that keep as many pins.

**Never worse than the greedy baseline.** Every greedy run of the baseline
(``SolveParams(greedy_only=True)``: the rules of ``pipeline.GREEDY_RUNS``, all of them on small
portfolios, only the downstream-value run on a large one that leaves work out, and under
``makespan`` the priority and deadline rules of ``pipeline.MAKESPAN_RUNS``: choices that depend
on the portfolio and the objective, never on time) runs before the first result is returned, whatever the
time limit: the returned plan is the best of them and of the search.

**Time.** ``SolveParams.time_limit`` bounds the whole solve, except compile and the greedy
baseline (all of its rules): when they alone take longer (a very large portfolio, a short
limit) the solve returns the best greedy plan as soon as they are done, with no search.
``SolveParams.stop_event`` stops it at any point with the best plan so far. See
:class:`SolveParams`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace

from allocator.domain import Portfolio
from allocator.pipeline import (
    GREEDY_RULES,
    GREEDY_RUNS,
    LNS_ABOVE,
    LP_BOUND_MAX_PAIRS,
    LP_GRACE,
    REASONS_MIN_SECONDS,
    REASONS_SECONDS,
    RELAXED_MAX_PAIRS,
    REPAIR_GRACE,
    STAGE_TERMS,
    STRICT_BOUNDS_ENV,
    BoundError,
    Context,
    Result,
    SolveParams,
    SolveProgress,
    compile_for,
    finish_plan,
    reasons_budget,
    run,
    term_bounds,
    terms_of_key_one,
)

__all__ = [
    "GREEDY_RULES",
    "GREEDY_RUNS",
    "LNS_ABOVE",
    "LP_BOUND_MAX_PAIRS",
    "LP_GRACE",
    "REASONS_MIN_SECONDS",
    "REASONS_SECONDS",
    "RELAXED_MAX_PAIRS",
    "REPAIR_GRACE",
    "STAGE_TERMS",
    "STRICT_BOUNDS_ENV",
    "BoundError",
    "Result",
    "SolveParams",
    "SolveProgress",
    "finish_plan",
    "reasons_budget",
    "solve",
    "term_bounds",
    "terms_of_key_one",
]

log = logging.getLogger(__name__)


def solve(portfolio: Portfolio, params: SolveParams | None = None) -> Result:
    """Plan the portfolio. The portfolio must be valid (see ``allocator.load_portfolio``)."""
    params = params or SolveParams()
    if params.previous is not None:
        from allocator.rebalance import rebalance

        return rebalance(portfolio, params.previous, replace(params, previous=None))
    t0 = time.monotonic()
    inst = compile_for(portfolio)
    ctx = Context(portfolio, inst, params, t0)
    ctx.stats["compile_seconds"] = round(time.monotonic() - t0, 3)
    result, _chosen = run(ctx)
    plan = result.plan
    log.info(
        "solved %s: %s objective=%s bound=%s via %s in %.2fs",
        portfolio.name,
        plan.status,
        plan.objective,
        plan.lower_bound,
        plan.extra.get("solver"),
        result.runtime,
    )
    return result
