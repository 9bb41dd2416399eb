"""The façade: ``solve(portfolio, params) -> Result``.

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

**Never worse than the greedy baseline.** Every greedy rule of the baseline
(``SolveParams(greedy_only=True)``) runs before the first result is returned, whatever the time
limit: the returned plan is the best of them and of the search.

**Time.** ``SolveParams.time_limit`` bounds the whole solve, except compile and the greedy
baseline (all of its rules): when they alone take longer (a very large portfolio, a short
limit) the solve returns the best greedy plan as soon as they are done, with no search.
``SolveParams.stop_event`` stops it at any point with the best plan so far. See
:class:`SolveParams`.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from allocator.domain import ObjectiveTerms, Plan, PlanStatus, Portfolio
from allocator.objective import Terms, gap_of, plan_key, proven, term_names, terms_of_key
from allocator.reasons import explain_plan
from allocator.timeline import Timeline
from solver_models.bounds import makespan_lower_bound, undelivered_lower_bound
from solver_models.cpsat import ModelResult, SolverParams, solve_lexicographic, whole_model_size
from solver_models.greedy import greedy
from solver_models.instance import Instance, compile_instance
from solver_models.lns import improve
from solver_models.schedule import (
    Schedule,
    enforce_all_or_nothing,
    mark_all_or_nothing,
    pins_dropped,
    to_plan,
)

log = logging.getLogger(__name__)

#: set (to anything but "" or "0") to raise :class:`BoundError` on a bound above the objective
STRICT_BOUNDS_ENV = "ALLOCATOR_STRICT_BOUNDS"
#: the objective term each CP-SAT stage optimizes (progress reports name the term)
STAGE_TERMS = {
    "undelivered": "undelivered_work_hours",
    "late": "weighted_late_days",
    "finish": "weighted_finish_days",
    "cost": "cost",
    "makespan": "makespan_days",
}

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


class BoundError(AssertionError):
    """A lower bound above the plan's objective: a bug in a bound, never a proof."""


@dataclass(frozen=True)
class Progress:
    """One progress report, for progress bars and logs, in planner units.

    ``stage`` says what the figures measure: ``greedy-*``, ``lns`` and ``done``: the plan's
    objective terms and (for ``done``) its lower bound terms; ``cp-sat:<stage>``: the value and
    the model's bound of the one term being optimized (``objective`` and ``lower_bound`` then
    hold that term alone, e.g. ``{"undelivered_work_hours": 120.5}``). Stages that optimize no
    objective term (``cp-sat:pins``, the rebalance stability stage) report no figures.
    """

    stage: str
    objective: ObjectiveTerms | None
    lower_bound: ObjectiveTerms | None
    elapsed: float

    @property
    def gap(self) -> float | None:
        """The contract's gap of these figures (see :func:`allocator.objective.gap_of`)."""
        return gap_of(self.objective, self.lower_bound)


@dataclass
class SolveParams:
    """Parameters of :func:`solve` (all optional)."""

    #: seconds for the whole solve. Compile and the greedy baseline (every rule of it) are not
    #: cut by it: when they alone take longer, the solve returns the best greedy plan as soon
    #: as they are done (no search, no bound beyond the analytic one). Otherwise the solve
    #: returns within the limit plus a fraction of a second (``REPAIR_GRACE``, ``LP_GRACE``)
    #: and the time to turn the plan into a :class:`Plan` with reasons (at least
    #: ``REASONS_MIN_SECONDS`` for the full reasons; the rest get cheap ones).
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
    """What :func:`solve` returns: the plan (with its objective and bound terms), the
    ``portfolio`` objective's :class:`~allocator.objective.Terms` (None under ``makespan`` or
    without a plan), the run time and solver statistics."""

    plan: Plan
    terms: Terms | None
    runtime: float
    stats: dict[str, object]
    #: the plan's objective as the search compares it (exact integers in priority order:
    #: hundredths of hours, days, cents), None without a plan; handy to compare two results
    key: tuple[int, ...] | None = None

    @property
    def status(self) -> str:
        return self.plan.status

    @property
    def objective(self) -> ObjectiveTerms | None:
        return self.plan.objective

    @property
    def lower_bound(self) -> ObjectiveTerms | None:
        return self.plan.lower_bound

    @property
    def gap(self) -> float | None:
        return self.plan.gap


def solve(portfolio: Portfolio, params: SolveParams | None = None) -> Result:
    """Plan the portfolio. The portfolio must be valid (see ``allocator.load_portfolio``)."""
    params = params or SolveParams()
    if params.previous is not None:
        from allocator.rebalance import rebalance

        return rebalance(portfolio, params.previous, replace(params, previous=None))
    t0 = time.monotonic()
    inst = compile_instance(portfolio)
    mark_all_or_nothing(inst)  # rule 10 where it is known before any search
    goal = portfolio.policy.goal
    tl = inst.timeline
    const_units = sum(t.units for t in inst.tasks if not t.possible)
    compile_s = time.monotonic() - t0
    stats: dict[str, object] = {"compile_seconds": round(compile_s, 3)}

    def report(stage: str, obj: ObjectiveTerms | None, lb: ObjectiveTerms | None) -> None:
        if params.on_progress is not None:
            params.on_progress(Progress(stage, obj, lb, time.monotonic() - t0))

    def report_key(stage: str, key: tuple[int, ...]) -> None:
        if params.on_progress is not None:
            report(stage, terms_of_key(goal, key), None)

    stopped = params.stop_event.is_set if params.stop_event is not None else _never
    deadline = t0 + params.time_limit

    def time_left() -> float:
        return deadline - time.monotonic()

    def out_of_time() -> bool:
        return stopped() or time_left() <= 0

    # 1. greedy list schedules, valid by construction: the baseline, and the best is the warm
    # start. Every rule runs whatever the time limit (the solve is never worse than the
    # baseline); only a stop request cuts them short (what a run placed so far is still a valid
    # plan, and the runs after it are skipped).
    g_t0 = time.monotonic()
    keys: dict[int, tuple[int, ...]] = {}  # id(schedule) -> (pins dropped, *objective key)
    runs: dict[tuple[str, bool], Schedule] = {}
    best_run: tuple[int, ...] | None = None
    key_s = 0.0  # seconds to evaluate one plan: about what turning the best into a Plan takes
    for rule, contiguous in GREEDY_RUNS:
        if runs and stopped():
            break
        sched = enforce_all_or_nothing(
            inst, greedy(inst, rule=rule, team_contiguous=contiguous, stop=stopped)
        )
        runs[(rule, contiguous)] = sched
        if goal == "portfolio" or len(sched.start) == len(inst.tasks):
            k_t0 = time.monotonic()
            keys[id(sched)] = k = _rank(portfolio, inst, sched, tl)
            key_s = time.monotonic() - k_t0
            if best_run is None or k < best_run:
                best_run = k
                name = f"greedy-{rule}" + ("-contiguous" if contiguous else "")
                report_key(name, k[1:])
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
            term = STAGE_TERMS.get(stage)
            if term is None:
                report(f"cp-sat:{stage}", None, None)
                return
            add = const_units if stage == "undelivered" else 0  # the model leaves those out
            # the best of two true bounds: the model's (weak and even negative early in the
            # search) and the analytic one (every term is at least 0; undelivered work at least
            # the work nobody can do)
            report(
                f"cp-sat:{stage}",
                terms_of_key_one(term, value + add),
                terms_of_key_one(term, max(bound + add, add)),
            )

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
                report_key("lns", key)

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
            result = replace(result, schedule=enforce_all_or_nothing(inst, result.schedule))
            assert result.schedule is not None
            candidates.append((name, result.schedule))

            def repair_over() -> bool:
                return stopped() or time.monotonic() > deadline + REPAIR_GRACE

            # repair: insert what CP-SAT left out wherever it still fits (only adds work; cut
            # short when the time is up: what it inserted so far is valid)
            for rule in GREEDY_RULES:
                if repair_over():
                    break
                filled = enforce_all_or_nothing(
                    inst, greedy(inst, rule=rule, base=result.schedule, stop=repair_over)
                )
                if len(filled.start) > len(result.schedule.start):
                    candidates.append((f"{name}+insert-{rule}", filled))

    # 2. choose the best valid schedule by the documented objective
    best_name, best_sched = "none", None
    best_key: tuple[int, ...] | None = None
    for name, sched in candidates:
        key = keys.get(id(sched)) or _rank(portfolio, inst, sched, tl)
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
            solve_seconds=round(runtime, 2),
            solver="none",
        )
        plan = _with_reasons(portfolio, inst, plan, tl, reasons_budget(params, time_left()))
        return Result(plan, None, runtime, stats, None)

    plan = to_plan(
        inst,
        best_sched,
        status="feasible",
        objective=None,
        lower_bound=None,
        solve_seconds=round(runtime, 2),
        solver=best_name,
    )
    # the objective from the plan's key (the same evaluation of the same assignments)
    assert best_key is not None
    key = best_key[1:]
    stats["pins_dropped"] = best_key[0]
    terms = Terms(*key) if goal == "portfolio" else None
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
    bounds = term_bounds(inst, goal, key, bound_source, lp_units, pins=best_key[0])
    plan = finish_plan(plan, goal, key, bounds)
    plan = _with_reasons(portfolio, inst, plan, tl, reasons_budget(params, time_left()))
    stats["chosen"] = best_name
    report("done", plan.objective, plan.lower_bound)
    log.info(
        "solved %s: %s objective=%s bound=%s via %s in %.2fs",
        portfolio.name,
        plan.status,
        plan.objective,
        plan.lower_bound,
        best_name,
        runtime,
    )
    return Result(plan, terms, runtime, stats, key)


def reasons_budget(params: SolveParams, left: float) -> float:
    """Seconds for explaining unassigned tasks: what is left of the time limit, at least
    ``REASONS_MIN_SECONDS`` (``greedy_only``: ``REASONS_SECONDS`` and a tenth of the limit)."""
    if params.greedy_only:
        return REASONS_SECONDS + 0.1 * params.time_limit
    return max(REASONS_MIN_SECONDS, left)


def terms_of_key_one(term: str, units: int) -> dict[str, float | int]:
    """One term, in planner units, from its internal integer."""
    from allocator.objective import term_value

    return {term: term_value(term, units)}


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
    """The schedule's objective key (:func:`allocator.objective.plan_key` of its plan)."""
    return plan_key(portfolio, _plan_of(inst, sched), tl)


def _rank(portfolio: Portfolio, inst: Instance, sched: Schedule, tl: Timeline) -> tuple[int, ...]:
    """How candidate schedules are compared: pinned tasks dropped first, then the objective."""
    return (pins_dropped(inst, sched), *_key(portfolio, inst, sched, tl))


def _stage_one_proven(source: ModelResult | None) -> bool:
    return source is not None and source.stages.get("undelivered", (0, 0, False))[2]


def term_bounds(
    inst: Instance,
    goal: str,
    key: tuple[int, ...],
    source: ModelResult | None,
    lp_units: int | None = None,
    pins: int = 0,
) -> tuple[int | None, ...]:
    """Proven lower bounds of the objective's terms (internal integer units, in term order;
    None where a term has no bound), for the plan whose key is ``key``.

    The first term: the best of the analytic bound (the work nobody can do, or under
    ``makespan`` the critical path and workforce load), the LP bound ``lp_units`` of the work
    that can be done, and ``source``'s first stage (a CP-SAT run whose model is exact for the
    portfolio, or a relaxation of it). A later term k: ``source``'s bound of stage k, only when
    every earlier stage of ``source`` is proven optimal at exactly this plan's value of that
    term: the stage was then solved over the plans whose earlier terms are at most this
    plan's, which is what the contract's bound of a later term ranges over. The bounds are
    NOT compared with ``key`` here (see :func:`finish_plan`).

    ``pins``: the pinned tasks the plan drops. A source that first minimized dropped pins
    (stage ``pins``) bounds the terms over the plans dropping at most its value; it is used only
    when that stage is proven at exactly ``pins`` (a relaxation may keep pins no real plan can).
    """
    names = term_names(goal)
    out: list[int | None] = [None] * len(names)
    stages = dict(source.stages) if source is not None else {}
    if "pins" in stages:
        value, _bound, optimal = stages.pop("pins")
        if not (optimal and value == pins):
            stages = {}
    if goal == "makespan":
        lb = makespan_lower_bound(inst)  # critical path and workforce load
        if "makespan" in stages:
            value, bound, optimal = stages["makespan"]
            lb = max(lb, value if optimal else bound)
        out[0] = lb
        return tuple(out)
    const_units = sum(t.units for t in inst.tasks if not t.possible)
    first = const_units
    if lp_units is not None:
        first = max(first, lp_units + const_units)
    order = ("undelivered", "late", "finish", "cost")
    for k, stage in enumerate(order):
        if stage not in stages:
            break
        value, bound, optimal = stages[stage]
        add = const_units if k == 0 else 0
        stage_lb = (value if optimal else bound) + add
        if k == 0:
            first = max(first, stage_lb)
            out[0] = first
        else:
            out[k] = stage_lb
        if not (optimal and value + add == key[k]):
            break  # later stages were constrained to other values of this term
    if out[0] is None:
        out[0] = first
    return tuple(out)


def finish_plan(
    plan: Plan, goal: str, key: tuple[int, ...], bounds: tuple[int | None, ...]
) -> Plan:
    """The plan with its objective and lower bound terms (planner units), gap and status.

    A bound above its term's value is a bug in that bound, never a proof: it raises
    :class:`BoundError` in strict mode (environment ``ALLOCATOR_STRICT_BOUNDS``), otherwise it
    is logged as an error and dropped with every later term's bound, and the plan is then
    ``feasible``. A later term's bound is kept only while every earlier term is proven.
    """
    names = term_names(goal)
    objective = terms_of_key(goal, key)
    lower: dict[str, float | int] = {}
    for k, name in enumerate(names):
        b = bounds[k] if k < len(bounds) else None
        if b is None:
            break
        if b > key[k]:
            msg = (
                f"{plan.portfolio}: lower bound of {name} ({b} units) above the plan's value "
                f"({key[k]} units): a bug in the bound; the bound is dropped"
            )
            if os.environ.get(STRICT_BOUNDS_ENV, "") not in ("", "0"):
                raise BoundError(msg)
            log.error("%s", msg)
            break
        lower[name] = terms_of_key_one(name, b)[name]
        if b < key[k]:
            break  # later terms: only bounded over plans equal to this one on this term
    bound = lower or None
    status: PlanStatus = "optimal" if proven(objective, bound) else "feasible"
    extra = {k: v for k, v in plan.extra.items() if k not in ("gap", "objective_terms")}
    return replace(
        plan,
        status=status,
        objective=objective,
        lower_bound=bound,
        gap=gap_of(objective, bound),
        extra=extra,
    )


def _with_reasons(
    portfolio: Portfolio, inst: Instance, plan: Plan, tl: Timeline, budget: float | None = None
) -> Plan:
    """The plan with reasons for each unassigned task: the compiler's (the task cannot be
    assigned at all), else those worked out from the plan (:func:`allocator.reasons.explain_plan`:
    the most important tasks checked day by day within ``budget`` seconds, the rest in brief;
    every one a true reason of its own)."""
    return explain_plan(
        portfolio,
        plan,
        tl,
        {t.id: t.out_reasons for t in inst.tasks},
        {t.id: t.units for t in inst.tasks},
        budget,
    )
