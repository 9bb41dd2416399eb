"""The façade: ``solve(portfolio, params) -> Result``.

Flow: compile the portfolio (:mod:`solver_models.instance`) → a greedy list schedule, valid by
construction, as the warm start and the fallback → CP-SAT, the objective's terms optimized in
lexicographic order from that start → the best plan of the two (by the documented objective,
evaluated on the plans themselves) → reasons for unassigned work → a lower bound that is true
for the portfolio: the best of CP-SAT's (when its model is exact for the portfolio, or of a relaxed
model with the time left), a linear relaxation of people's capacity against the work
(``solver_models.bounds``), and the analytic bound of the work nobody can do.

Infeasible and timed-out runs are values (``Result.plan.status``), not exceptions.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from allocator.domain import Plan, PlanStatus, Portfolio, Unassigned
from allocator.objective import Terms, evaluate, objective_value, weights
from allocator.reasons import Explainer
from allocator.timeline import Timeline
from solver_models.bounds import makespan_lower_bound, undelivered_lower_bound
from solver_models.cpsat import ModelResult, SolverParams, solve_lexicographic
from solver_models.greedy import greedy
from solver_models.instance import Instance, compile_instance
from solver_models.lns import improve
from solver_models.schedule import Schedule, to_plan

log = logging.getLogger(__name__)

#: greedy list-scheduling rules tried for the warm start (the best one is kept)
GREEDY_RULES = ("edf", "priority")
#: above this many (task, eligible person) pairs, ``strategy="auto"`` improves by LNS instead of
#: one whole CP-SAT model (measured: 40 people x 250 tasks is ~2,700 pairs and solves whole)
LNS_ABOVE = 20_000
#: the LP bound (``solver_models.bounds``) is built up to this many (task, person) pairs
LP_BOUND_MAX_PAIRS = 400_000


@dataclass(frozen=True)
class Progress:
    """One progress report, for progress bars and logs.

    ``stage`` says what the figures measure: ``greedy-*`` and ``done``: the plan's objective and
    (for ``done``) its lower bound; ``cp-sat:<term>``: the value and the model's bound of the
    objective term being optimized (``undelivered`` in hundredths of priority-weighted hours,
    ``late``, ``finish``, ``cost`` in cents, or ``makespan``).
    """

    stage: str
    objective: int | None
    lower_bound: int | None
    elapsed: float

    @property
    def gap(self) -> float | None:
        if self.objective is None or self.lower_bound is None:
            return None
        return gap(self.objective, self.lower_bound)


@dataclass
class SolveParams:
    """Parameters of :func:`solve` (all optional)."""

    time_limit: float = 20.0
    workers: int = 2
    seed: int = 0
    #: cap on CP-SAT deterministic time per stage, for machine-independent results
    deterministic_time: float | None = None
    #: skip CP-SAT and return the greedy plan (the baseline)
    greedy_only: bool = False
    #: "auto" (one CP-SAT model for small portfolios, LNS above ``LNS_ABOVE``), "cp-sat", "lns"
    strategy: str = "auto"
    log_search: bool = False
    on_progress: Callable[[Progress], None] | None = None
    #: set to stop early and keep the best plan found so far
    stop_event: threading.Event | None = field(default=None, repr=False)
    #: re-planning: the previous plan, as warm start and for stability (policy keys
    #: ``freeze_days``, ``churn_budget``, ``stability``); see :mod:`allocator.rebalance`
    previous: Plan | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Result:
    plan: Plan
    terms: Terms | None
    runtime: float
    stats: dict[str, object]

    @property
    def status(self) -> str:
        return self.plan.status

    @property
    def objective(self) -> int | float | None:
        return self.plan.objective

    @property
    def lower_bound(self) -> int | float | None:
        return self.plan.lower_bound


def gap(objective: float, lower_bound: float) -> float:
    """``(objective - lower_bound) / max(|objective|, 1)`` (contract *Gap*)."""
    return (objective - lower_bound) / max(abs(objective), 1)


def solve(portfolio: Portfolio, params: SolveParams | None = None) -> Result:
    """Plan the portfolio. The portfolio must be valid (see ``allocator.load_portfolio``)."""
    params = params or SolveParams()
    if params.previous is not None:
        from allocator.rebalance import rebalance

        return rebalance(portfolio, params.previous, replace(params, previous=None))
    t0 = time.monotonic()
    inst = compile_instance(portfolio)
    goal = portfolio.policy.goal
    tl = inst.timeline
    w = weights(portfolio, len(tl)) if goal == "portfolio" else None
    compile_s = time.monotonic() - t0
    stats: dict[str, object] = {"compile_seconds": round(compile_s, 3)}

    def report(stage: str, obj: int | None, lb: int | None) -> None:
        if params.on_progress is not None:
            params.on_progress(Progress(stage, obj, lb, time.monotonic() - t0))

    # 1. greedy list schedules, valid by construction: the best is the warm start
    g_t0 = time.monotonic()
    candidates: list[tuple[str, Schedule]] = []
    hints: list[tuple[str, Schedule]] = []
    for rule in GREEDY_RULES:
        for contiguous in (False, True):
            sched = greedy(inst, rule=rule, team_contiguous=contiguous)
            if goal == "portfolio" or len(sched.start) == len(inst.tasks):
                name = f"greedy-{rule}" + ("-contiguous" if contiguous else "")
                candidates.append((name, sched))
                if contiguous:
                    hints.append((name, sched))
    stats["greedy_seconds"] = round(time.monotonic() - g_t0, 3)
    g_sched: Schedule | None = None
    if candidates:
        g_name, best_greedy = min(candidates, key=lambda c: _key(portfolio, inst, c[1], tl))
        report(g_name, _value(portfolio, inst, best_greedy, tl), None)
    if hints:
        # the warm start: team tasks not stretched, so CP-SAT can take the whole plan
        g_sched = min(hints, key=lambda c: _key(portfolio, inst, c[1], tl))[1]

    result = ModelResult(schedule=None)
    bound_source: ModelResult | None = None
    lp_units: int | None = None
    impossible = [t for t in inst.tasks if not t.possible]
    if not params.greedy_only and not (goal == "makespan" and impossible):
        remaining = max(0.1, params.time_limit - (time.monotonic() - t0))
        sp = SolverParams(
            time_limit=remaining,
            workers=params.workers,
            seed=params.seed,
            deterministic_time=params.deterministic_time,
            log_search=params.log_search,
        )
        stop = params.stop_event.is_set if params.stop_event is not None else None

        def on_stage(stage: str, value: int, bound: int, elapsed: float) -> None:
            report(f"cp-sat:{stage}", value, bound)

        size = sum(len(t.candidates) for t in inst.tasks if t.possible)
        use_lns = params.strategy == "lns" or (params.strategy == "auto" and size > LNS_ABOVE)
        stats["strategy"] = "lns" if use_lns else "cp-sat"
        if use_lns and size <= LP_BOUND_MAX_PAIRS:
            lp_t0 = time.monotonic()
            lp_units = undelivered_lower_bound(inst, time_limit=max(1.0, 0.15 * remaining))
            stats["lp_bound_seconds"] = round(time.monotonic() - lp_t0, 3)
            remaining = max(0.1, params.time_limit - (time.monotonic() - t0))
        if use_lns and g_sched is not None:
            # too large for one model in the time given: improve the greedy plan by parts
            def on_lns(key: tuple[int, ...], elapsed: float) -> None:
                report("lns", key[0], None)

            improved, lns_stats = improve(
                inst, g_sched, goal, sp, seconds=remaining, stop=stop, on_progress=on_lns
            )
            stats["lns"] = lns_stats
            result = ModelResult(schedule=improved, exact=False)
        else:
            result = solve_lexicographic(
                inst, goal, sp, hint=g_sched, on_progress=on_stage, stop=stop
            )
        stats["cpsat_seconds"] = round(result.wall_seconds, 3)
        stats["cpsat_stages"] = {k: list(v) for k, v in result.stages.items()}
        stats["model_exact"] = result.exact
        left = params.time_limit - (time.monotonic() - t0)
        if not result.exact and left > 0.2 and not (stop is not None and stop()):
            # the exact model's bounds do not hold for the portfolio: prove one on a relaxation
            relaxed = solve_lexicographic(
                inst, goal, replace(sp, time_limit=left), relaxed=True, stop=stop
            )
            stats["relaxed_stages"] = {k: list(v) for k, v in relaxed.stages.items()}
            if relaxed.exact:
                bound_source = relaxed
        if result.schedule is not None:
            name = "lns" if use_lns else "cp-sat"
            candidates.append((name, result.schedule))
            # repair: insert what CP-SAT left out wherever it still fits (only adds work)
            for rule in GREEDY_RULES:
                filled = greedy(inst, rule=rule, base=result.schedule)
                if len(filled.start) > len(result.schedule.start):
                    candidates.append((f"{name}+insert-{rule}", filled))

    # 2. choose the best valid schedule by the documented objective
    best_name, best_sched = "none", None
    best_key: tuple[int, ...] | None = None
    for name, sched in candidates:
        key = _key(portfolio, inst, sched, tl)
        if best_key is None or key < best_key:
            best_name, best_sched, best_key = name, sched, key
    runtime = time.monotonic() - t0

    if best_sched is None:
        status: PlanStatus = (
            "infeasible"
            if (result.infeasible or (goal == "makespan" and impossible))
            else "unknown"
        )
        empty = Schedule(start={}, finish={}, people={})
        plan = to_plan(
            inst,
            empty,
            status=status,
            objective=None,
            lower_bound=None,
            solve_seconds=round(runtime, 3),
            solver="none",
        )
        plan = _with_reasons(portfolio, inst, plan, tl)
        return Result(plan, None, runtime, stats)

    plan = to_plan(
        inst,
        best_sched,
        status="feasible",
        objective=None,
        lower_bound=None,
        solve_seconds=round(runtime, 3),
        solver=best_name,
    )
    obj = objective_value(portfolio, plan, tl)
    terms = evaluate(portfolio, plan, tl) if goal == "portfolio" else None
    if bound_source is None and result.exact:
        bound_source = result
    if (
        goal == "portfolio"
        and lp_units is None
        and not params.greedy_only
        and not _stage_one_proven(bound_source)
        and sum(len(t.candidates) for t in inst.tasks if t.possible) <= LP_BOUND_MAX_PAIRS
    ):
        lp_units = undelivered_lower_bound(inst, time_limit=5.0)
    lb = _lower_bound(inst, goal, bound_source, w)
    if lp_units is not None and w is not None:
        const_units = sum(t.units for t in inst.tasks if not t.possible)
        lb = max(lb, w.undelivered * (lp_units + const_units))
    lb = min(lb, obj)
    status = "optimal" if lb == obj else "feasible"
    extra = dict(plan.extra)
    extra["gap"] = round(gap(obj, lb), 9)
    if terms is not None:
        extra["objective_terms"] = terms.as_dict()
    plan = replace(plan, status=status, objective=obj, lower_bound=lb, extra=extra)
    plan = _with_reasons(portfolio, inst, plan, tl)
    stats["chosen"] = best_name
    report("done", obj, lb)
    log.info(
        "solved %s: %s objective=%s bound=%s via %s in %.2fs",
        portfolio.name,
        status,
        obj,
        lb,
        best_name,
        runtime,
    )
    return Result(plan, terms, runtime, stats)


def _plan_of(inst: Instance, sched: Schedule) -> Plan:
    return to_plan(
        inst,
        sched,
        status="feasible",
        objective=None,
        lower_bound=None,
        solve_seconds=0.0,
        solver="",
    )


def _key(portfolio: Portfolio, inst: Instance, sched: Schedule, tl: Timeline) -> tuple[int, ...]:
    plan = _plan_of(inst, sched)
    if portfolio.policy.goal == "makespan":
        return (objective_value(portfolio, plan, tl),)
    return evaluate(portfolio, plan, tl).key()


def _value(portfolio: Portfolio, inst: Instance, sched: Schedule, tl: Timeline) -> int:
    return objective_value(portfolio, _plan_of(inst, sched), tl)


def _stage_one_proven(source: ModelResult | None) -> bool:
    return source is not None and source.stages.get("undelivered", (0, 0, False))[2]


def _lower_bound(inst: Instance, goal: str, source: ModelResult | None, w: object) -> int:
    """A true lower bound on the objective of every valid plan (see module docstring).

    ``source``: a CP-SAT run whose model is exact for this portfolio, or a relaxation of it (see
    ``solver_models.cpsat``); without one the analytic bound stands: the work nobody can do.
    """
    const_units = sum(t.units for t in inst.tasks if not t.possible)
    if goal == "makespan":
        analytic = makespan_lower_bound(inst)  # critical path and workforce load
        if source is not None and "makespan" in source.stages:
            return max(analytic, source.stages["makespan"][1])
        return analytic
    from allocator.objective import Weights

    assert isinstance(w, Weights)
    analytic = w.undelivered * const_units
    if source is None or not source.stages:
        return analytic
    lb = 0
    scale = {"undelivered": w.undelivered, "late": w.late, "finish": w.finish, "cost": w.cost}
    for stage in ("undelivered", "late", "finish", "cost"):
        if stage not in source.stages:
            break
        value, bound, optimal = source.stages[stage]
        add = const_units if stage == "undelivered" else 0
        if optimal:
            lb += scale[stage] * (value + add)
        else:
            lb += scale[stage] * (bound + add)
            break
    return max(lb, analytic)


def _with_reasons(portfolio: Portfolio, inst: Instance, plan: Plan, tl: Timeline) -> Plan:
    static = {t.id: t.out_reasons for t in inst.tasks}
    explainer: Explainer | None = None
    out = []
    for u in plan.unassigned:
        reasons = list(static.get(u.task) or [])
        if not reasons:
            explainer = explainer or Explainer(portfolio, plan, tl)
            reasons = explainer.explain(u.task)
        out.append(Unassigned(u.task, tuple(reasons)))
    return replace(plan, unassigned=tuple(out))
