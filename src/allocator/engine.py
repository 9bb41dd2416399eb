"""The façade: ``solve(portfolio, params) -> Result``.

Flow: compile the portfolio (:mod:`solver_models.instance`) → a greedy list schedule, valid by
construction, as the warm start and the fallback → CP-SAT, the objective's terms optimized in
lexicographic order from that start → the best plan of the two (by the documented objective,
evaluated on the plans themselves) → reasons for unassigned work → a lower bound that is true
for the portfolio: the best of CP-SAT's (when its model is exact for the portfolio, or of a relaxed
model with the time left), a linear relaxation of people's capacity against the work
(``solver_models.bounds``), and the analytic bound of the work nobody can do.

Infeasible and timed-out runs are values (``Result.plan.status``), not exceptions.

**Time.** ``SolveParams.time_limit`` bounds the whole solve, except compile and the first greedy
plan: when they alone take longer (a very large portfolio, a short limit) the solve returns that
plan as soon as it exists, with no search. ``SolveParams.stop_event`` stops it at any point with
the best plan so far. See :class:`SolveParams`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from allocator.domain import Plan, PlanStatus, Portfolio, Unassigned
from allocator.objective import Terms, Weights, evaluate, objective_value, weights
from allocator.reasons import Explainer
from allocator.timeline import Timeline
from solver_models.bounds import makespan_lower_bound, undelivered_lower_bound
from solver_models.cpsat import ModelResult, SolverParams, solve_lexicographic, whole_model_size
from solver_models.greedy import greedy
from solver_models.instance import Instance, compile_instance
from solver_models.lns import improve
from solver_models.schedule import Schedule, to_plan

log = logging.getLogger(__name__)

#: greedy list-scheduling rules tried for the warm start (the best one is kept)
GREEDY_RULES = ("edf", "priority")
#: the order the greedy runs are made in (rule, team tasks contiguous): the warm starts first,
#: the priority rule first (the better one on the scale ladder), so that a short time limit on a
#: large portfolio still gets the likely best one
GREEDY_RUNS = (("priority", True), ("edf", True), ("priority", False), ("edf", False))
#: above this many (task, eligible person) pairs, a pure pool's place counted once
#: (``whole_model_size``), ``strategy="auto"`` improves by LNS instead of one whole CP-SAT model
#: (measured: 40 people x 250 tasks is ~2,700 pairs and solves whole)
LNS_ABOVE = 20_000
#: the LP bound (``solver_models.bounds``) is built up to this many (task, person) pairs
LP_BOUND_MAX_PAIRS = 400_000
#: the relaxed whole model (for a bound) is built up to this many pairs: building takes tens of
#: microseconds a pair and is not bounded by the time limit (2,000 tasks, 127,540 pairs: ~10 s)
RELAXED_MAX_PAIRS = LNS_ABOVE
#: seconds past the time limit the repair passes after the search may still run (they stop
#: at it, keeping what they inserted)
REPAIR_GRACE = 0.5
#: seconds past the time limit the final LP bound of a small portfolio may take
LP_GRACE = 0.5
#: seconds for the reasons of unassigned tasks: what is left of the time limit, at least
#: REASONS_MIN_SECONDS; a greedy-only solve (the baseline) takes REASONS_SECONDS plus a tenth
#: of its limit
REASONS_MIN_SECONDS = 2.0
REASONS_SECONDS = 10.0
#: the reason of an unassigned task not explained within that time (large portfolios)
UNEXPLAINED = (
    "not placed by the solver in the time given; its own reasons were not worked out (too many "
    "unassigned tasks to explain in the time): give the solve more time, or explain it alone "
    "with allocator.reasons.explain_unassigned"
)


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

    #: seconds for the whole solve. Compile and the first greedy plan are not cut by it: when
    #: they alone take longer, the solve returns that plan as soon as it exists (no other
    #: greedy rule, no search, no bound beyond the analytic one). Otherwise the solve returns
    #: within the limit plus a fraction of a second (``REPAIR_GRACE``, ``LP_GRACE``) and the
    #: time to turn the plan into a :class:`Plan` with reasons (at least
    #: ``REASONS_MIN_SECONDS`` for those: unassigned tasks not explained by then get
    #: ``UNEXPLAINED``). With ``greedy_only`` every greedy rule runs whatever the limit (they
    #: are the baseline).
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
    #: set to stop early and keep the best plan found so far (set during the first greedy
    #: run, it keeps the tasks that run placed so far: a valid plan, the rest unassigned)
    stop_event: threading.Event | None = field(default=None, repr=False)
    #: re-planning: the previous plan, as warm start and for stability (policy keys
    #: ``freeze_days``, ``churn_budget``, ``stability``); see :mod:`allocator.rebalance`
    previous: Plan | None = field(default=None, repr=False)
    #: a Dask scheduler address (``tcp://host:8786``): LNS solves its neighbourhoods on that
    #: cluster's workers in parallel (``solver_models.lns_dask``); None: on this machine
    dask_address: str | None = None

    def cpsat(self, seconds: float) -> SolverParams:
        """CP-SAT's parameters for a search of ``seconds`` under these solve parameters."""
        return SolverParams(
            time_limit=seconds,
            workers=self.workers,
            seed=self.seed,
            deterministic_time=self.deterministic_time,
            log_search=self.log_search,
        )

    def stop_requested(self) -> Callable[[], bool] | None:
        """The stop test handed to the searches (None when no stop event is given)."""
        return self.stop_event.is_set if self.stop_event is not None else None


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

    stopped = params.stop_event.is_set if params.stop_event is not None else _never
    deadline = t0 + params.time_limit

    def time_left() -> float:
        return deadline - time.monotonic()

    def out_of_time() -> bool:
        return stopped() or time_left() <= 0

    # 1. greedy list schedules, valid by construction: the best is the warm start. The
    # contiguous ones (the CP-SAT / LNS warm starts) run first; once the time is up only the
    # first one runs (with ``greedy_only``, all run: they are the baseline), and a stop request
    # cuts even that one short (what it placed so far is still a valid plan).
    g_t0 = time.monotonic()
    keys: dict[int, tuple[int, ...]] = {}  # id(schedule) -> objective key, computed once
    runs: dict[tuple[str, bool], Schedule] = {}
    best_run: tuple[int, ...] | None = None
    key_s = 0.0  # seconds to evaluate one plan: about what turning the best into a Plan takes
    for rule, contiguous in GREEDY_RUNS:
        # another run only when it is expected to end in time (it takes about as long as the
        # ones before it), with time left to finish the plan
        per_run = (time.monotonic() - g_t0) / max(1, len(runs))
        finish_s = 2 * key_s + REASONS_MIN_SECONDS
        if runs and (stopped() or (not params.greedy_only and time_left() < per_run + finish_s)):
            break
        sched = greedy(inst, rule=rule, team_contiguous=contiguous, stop=stopped)
        runs[(rule, contiguous)] = sched
        if goal == "portfolio" or len(sched.start) == len(inst.tasks):
            k_t0 = time.monotonic()
            keys[id(sched)] = k = _key(portfolio, inst, sched, tl)
            key_s = time.monotonic() - k_t0
            if best_run is None or k < best_run:
                best_run = k
                name = f"greedy-{rule}" + ("-contiguous" if contiguous else "")
                report(name, _from_key(k, w), None)
    # the candidates in a fixed order (the first of equal ones wins), whichever ran
    candidates: list[tuple[str, Schedule]] = []
    hints: list[tuple[str, Schedule]] = []
    for rule in GREEDY_RULES:
        for contiguous in (False, True):
            found = runs.get((rule, contiguous))
            if found is not None and id(found) in keys:
                name = f"greedy-{rule}" + ("-contiguous" if contiguous else "")
                candidates.append((name, found))
                if contiguous:
                    hints.append((name, found))
    stats["greedy_seconds"] = round(time.monotonic() - g_t0, 3)
    stats["greedy_runs"] = len(runs)
    g_sched: Schedule | None = None
    if hints:
        # the warm start: team tasks not stretched, so CP-SAT can take the whole plan
        g_sched = min(hints, key=lambda c: keys[id(c[1])])[1]

    result = ModelResult(schedule=None)
    bound_source: ModelResult | None = None
    lp_units: int | None = None
    impossible = [t for t in inst.tasks if not t.possible]
    search = not params.greedy_only and not (goal == "makespan" and impossible)
    if search and out_of_time():
        # compile and the greedy took the time (or a stop was asked): the greedy plan it is
        search = False
        stats["search_skipped"] = "stopped" if stopped() else "no time left"
        log.info("no time left after compile and greedy (%.1fs): search skipped", -time_left())
    if search:
        # keep time for what follows the search: the repair passes (about two greedy runs),
        # turning the plan into a Plan and the reasons (a few plan evaluations' worth)
        per_run = (time.monotonic() - g_t0) / max(1, len(runs))
        reserve = min(2.0 * per_run + 4.0 * key_s, 0.4 * max(0.0, time_left()))
        remaining = max(0.1, time_left() - reserve)
        sp = params.cpsat(remaining)
        stop = params.stop_requested()

        def on_stage(stage: str, value: int, bound: int, elapsed: float) -> None:
            report(f"cp-sat:{stage}", value, bound)

        size = whole_model_size(inst)
        stats["model_pairs"] = size
        use_lns = params.strategy == "lns" or (params.strategy == "auto" and size > LNS_ABOVE)
        stats["strategy"] = "lns" if use_lns else "cp-sat"
        if use_lns and goal != "makespan" and remaining >= 2.0:
            # any size (solver_models.bounds sizes its LPs); they bound undelivered work, which
            # the makespan objective does not have
            lp_t0 = time.monotonic()
            # a quarter of the time: at 10,000 tasks the time-indexed LP takes 4-6 s of a
            # loaded machine, and with 15 % of a 60 s limit it ran out (bound 10.5k h instead
            # of 19.8k h: reported gap 90 % instead of 80 %, benchmarks/results/scale.csv)
            lp_units = undelivered_lower_bound(inst, time_limit=max(1.0, 0.25 * remaining))
            stats["lp_bound_seconds"] = round(time.monotonic() - lp_t0, 3)
            remaining = max(0.1, time_left() - reserve)
        if use_lns and g_sched is not None:
            # too large for one model in the time given: improve the greedy plan by parts
            def on_lns(key: tuple[int, ...], elapsed: float) -> None:
                report("lns", key[0], None)

            improved, lns_stats = improve(
                inst,
                g_sched,
                goal,
                sp,
                seconds=remaining,
                stop=stop,
                on_progress=on_lns,
                dask_address=params.dask_address,
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
        left = time_left() - reserve
        if (
            not result.exact
            and left > 0.2
            and not (stop is not None and stop())
            and size <= RELAXED_MAX_PAIRS
        ):
            # the exact model's bounds do not hold for the portfolio: prove one on a relaxation
            # (one whole model, whose building the time limit does not bound: only where the
            # whole exact model was built too)
            relaxed = solve_lexicographic(
                inst, goal, replace(sp, time_limit=left), relaxed=True, stop=stop
            )
            stats["relaxed_stages"] = {k: list(v) for k, v in relaxed.stages.items()}
            if relaxed.exact:
                bound_source = relaxed
        if result.schedule is not None:
            name = "lns" if use_lns else "cp-sat"
            candidates.append((name, result.schedule))

            def repair_over() -> bool:
                return stopped() or time.monotonic() > deadline + REPAIR_GRACE

            # repair: insert what CP-SAT left out wherever it still fits (only adds work; cut
            # short when the time is up: what it inserted so far is valid)
            for rule in GREEDY_RULES:
                if repair_over():
                    break
                filled = greedy(inst, rule=rule, base=result.schedule, stop=repair_over)
                if len(filled.start) > len(result.schedule.start):
                    candidates.append((f"{name}+insert-{rule}", filled))

    # 2. choose the best valid schedule by the documented objective
    best_name, best_sched = "none", None
    best_key: tuple[int, ...] | None = None
    for name, sched in candidates:
        key = keys.get(id(sched)) or _key(portfolio, inst, sched, tl)
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
        plan = _with_reasons(portfolio, inst, plan, tl, reasons_budget(params, time_left()))
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
    # the objective from the plan's key (the same evaluation of the same assignments)
    assert best_key is not None
    obj = _from_key(best_key, w)
    terms = Terms(*best_key) if goal == "portfolio" else None
    if bound_source is None and result.exact:
        bound_source = result
    if (
        goal == "portfolio"
        and lp_units is None
        and not params.greedy_only
        and not _stage_one_proven(bound_source)
        and not stopped()
        and sum(len(t.candidates) for t in inst.tasks if t.possible) <= LP_BOUND_MAX_PAIRS
    ):
        # small portfolios only (the LP is built up to LP_BOUND_MAX_PAIRS pairs, fast): the
        # time limit may be overrun by at most LP_GRACE seconds for it
        lp_units = undelivered_lower_bound(
            inst, time_limit=min(5.0, max(LP_GRACE, time_left() + LP_GRACE))
        )
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
    plan = _with_reasons(portfolio, inst, plan, tl, reasons_budget(params, time_left()))
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


def reasons_budget(params: SolveParams, left: float) -> float:
    """Seconds for explaining unassigned tasks: what is left of the time limit, at least
    ``REASONS_MIN_SECONDS`` (``greedy_only``: ``REASONS_SECONDS`` and a tenth of the limit)."""
    if params.greedy_only:
        return REASONS_SECONDS + 0.1 * params.time_limit
    return max(REASONS_MIN_SECONDS, left)


def _from_key(key: tuple[int, ...], w: Weights | None) -> int:
    """The objective of a plan from its :func:`_key` (``w``: the portfolio objective's weights,
    None under ``makespan``)."""
    return key[0] if w is None else w.combine(Terms(*key))


def _never() -> bool:
    return False


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


def _with_reasons(
    portfolio: Portfolio, inst: Instance, plan: Plan, tl: Timeline, budget: float | None = None
) -> Plan:
    """The plan with reasons for each unassigned task: the compiler's (the task cannot be
    assigned at all), else :class:`~allocator.reasons.Explainer`'s from the plan.

    ``budget``: seconds for the explanations, counted from the start of the tables the
    Explainer builds (about 1 s for the 5,000 unassigned tasks of a 50,000-task plan). The
    most important tasks (priority-weighted work) are explained first; those left when the
    budget is spent get :data:`UNEXPLAINED`.
    """
    t0 = time.monotonic()
    static = {t.id: t.out_reasons for t in inst.tasks}
    todo = [u.task for u in plan.unassigned if not static.get(u.task)]
    units = {t.id: t.units for t in inst.tasks}
    todo.sort(key=lambda tid: -units.get(tid, 0))
    explained: dict[str, list[str]] = {}
    if todo:
        explainer = Explainer(portfolio, plan, tl)
        for tid in todo:
            if budget is not None and time.monotonic() - t0 > budget:
                log.info(
                    "reasons: %d of %d unassigned tasks explained in %.1fs (the budget)",
                    len(explained),
                    len(todo),
                    time.monotonic() - t0,
                )
                break
            explained[tid] = explainer.explain(tid)
    out = []
    for u in plan.unassigned:
        reasons = static.get(u.task) or explained.get(u.task, [UNEXPLAINED])
        out.append(Unassigned(u.task, tuple(reasons)))
    return replace(plan, unassigned=tuple(out))
