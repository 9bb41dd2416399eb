"""Lexicographic stages: one runner (:func:`run_stages`) for the whole model and for LNS
sub-problems, and :func:`solve_lexicographic`, the whole model's solve.

A stage minimizes one term; once it has a value, later stages keep it (``term <= value``,
:meth:`Model.keep_stage`) and start from its solution (a complete hint).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ortools.sat.python import cp_model

from solver_models.cpsat.model import Model
from solver_models.cpsat.objective import stability_stages
from solver_models.cpsat.params import (
    DEFAULT_OPTIONS,
    PINS_SHARE,
    PINS_STAGE,
    PORTFOLIO_STAGES,
    STAGE_SHARE,
    CpSatParams,
    ModelOptions,
    ModelResult,
    Stability,
)
from solver_models.cpsat.problem import Problem, whole
from solver_models.instance import Instance
from solver_models.schedule import Schedule

log = logging.getLogger(__name__)

ProgressFn = Callable[[str, int, int, float], None]
#: seconds between two looks at the stop request while CP-SAT searches
STOP_POLL = 0.1


def cp_solver(params: CpSatParams, seconds: float) -> cp_model.CpSolver:
    """A CP-SAT solver with ``params`` and a limit of ``seconds``."""
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.05, seconds)
    solver.parameters.num_workers = max(1, params.workers)
    solver.parameters.random_seed = params.seed
    solver.parameters.log_search_progress = params.log_search
    # Probing and symmetry detection cost seconds in presolve on portfolio models with thousands
    # of optional intervals and pay back little: measured on 40 people x 249 tasks, probing
    # alone took 6.8 s of a 10 s budget and no solution was reported; without it the first
    # improving solution comes in 0.7 s.
    solver.parameters.cp_model_probing_level = 0
    solver.parameters.symmetry_level = 0
    solver.parameters.max_presolve_iterations = 1
    if params.deterministic_time is not None:
        solver.parameters.max_deterministic_time = params.deterministic_time
    return solver


def solve_stoppable(
    solver: cp_model.CpSolver,
    model: cp_model.CpModel,
    stop: Callable[[], bool] | None,
    callback: cp_model.CpSolverSolutionCallback | None = None,
) -> Any:
    """``solver.solve(model)``, stopped within ``STOP_POLL`` seconds of ``stop()`` turning true.

    A solution callback alone sees the request only when a new solution comes, which on a hard
    stage may be never; a watcher thread polls it and calls ``stop_search`` (the search then
    ends as if its time were up, keeping the best solution found).
    """
    if stop is None:
        return solver.solve(model, callback)
    done = threading.Event()

    def watch() -> None:
        while not done.wait(STOP_POLL):
            if stop():
                solver.stop_search()
                return

    watcher = threading.Thread(target=watch, name="cp-sat-stop", daemon=True)
    watcher.start()
    try:
        return solver.solve(model, callback)
    finally:
        done.set()
        watcher.join()


class _Watch(cp_model.CpSolverSolutionCallback):
    """Reports each improving solution of a stage and stops the search when asked to."""

    def __init__(
        self, stage: str, t0: float, on_progress: ProgressFn | None, stop: Callable[[], bool] | None
    ) -> None:
        super().__init__()
        self.stage, self.t0, self.on_progress, self.stop = stage, t0, on_progress, stop

    def on_solution_callback(self) -> None:
        if self.on_progress is not None:
            value = round(self.objective_value)
            # never capped at the value: a bound above it is a bug to surface
            bound = math.ceil(self.best_objective_bound - 1e-6)
            self.on_progress(self.stage, value, bound, time.monotonic() - self.t0)
        if self.stop is not None and self.stop():
            self.stop_search()


@dataclass(frozen=True)
class StagePlan:
    """Which stages run, in order, and the seconds each may use."""

    stages: tuple[str, ...]
    #: each stage's own limit (a stage without one, or with 0, is skipped)
    seconds: Mapping[str, float]
    #: unused time rolls over to the next stage
    carry: bool = False
    #: every stage ends by ``t0 + total`` (``t0``: see :func:`run_stages`)
    total: float | None = None
    #: a stage with less time than this is not started, nor any after it
    min_seconds: float = 0.05


@dataclass
class StageOutcome:
    """One stage's answer: its value, CP-SAT's bound, whether proven, and seconds used."""

    value: int
    bound: int
    optimal: bool
    seconds: float


@dataclass
class StageRun:
    """What :func:`run_stages` found: the last stage's schedule and each stage's outcome."""

    schedule: Schedule | None = None
    stages: dict[str, StageOutcome] = field(default_factory=dict)
    #: the first stage was proven infeasible
    infeasible: bool = False
    #: seconds spent in CP-SAT, over every stage started
    solve_seconds: float = 0.0


def run_stages(
    model: Model,
    plan: StagePlan,
    params: CpSatParams,
    *,
    hint: Schedule | None = None,
    t0: float | None = None,
    on_progress: ProgressFn | None = None,
    stop: Callable[[], bool] | None = None,
    log_level: int = logging.INFO,
) -> StageRun:
    """Minimize ``plan.stages`` in order, each under the values the earlier ones found.

    ``hint``: a valid schedule, the part the model can represent (:meth:`Model.admissible`)
    given to the first stage as a complete hint (not to a relaxed model); each later stage
    starts from the previous one's solution. ``t0``: when the run's time started (for
    ``plan.total`` and progress times; default now). ``on_progress(stage, value, bound,
    seconds)`` is called on each improving solution (not of the stage ``pins``, a count of
    tasks). ``stop()`` ends the run within ``STOP_POLL`` seconds, keeping what was found.
    Ends at the first stage without a solution.
    """
    t0 = time.monotonic() if t0 is None else t0
    run = StageRun()
    best = hint
    if best is not None and model.options.relaxed:
        best = None
    elif best is not None:
        best = model.admissible(best)
    carried = 0.0
    for stage in plan.stages:
        limit = plan.seconds.get(stage, 0.0)
        if limit <= 0:
            continue
        seconds = limit + carried if plan.carry else limit
        if plan.total is not None:
            seconds = min(seconds, plan.total - (time.monotonic() - t0))
        if seconds <= plan.min_seconds or (stop is not None and stop()):
            break
        expr = model.minimize(stage)
        if best is not None:
            model.hint(best)
        solver = cp_solver(params, seconds)
        stage_t0 = time.monotonic()
        watch = _Watch(stage, t0, None if stage == PINS_STAGE else on_progress, stop)
        status = solve_stoppable(solver, model.cp, stop, watch)
        used = time.monotonic() - stage_t0
        run.solve_seconds += used
        if plan.carry:
            carried = max(0.0, limit + carried - used)
        found = status in (cp_model.OPTIMAL, cp_model.FEASIBLE)
        log.log(
            log_level,
            "stage %s: %s value=%s bound=%s in %.2fs",
            stage,
            solver.status_name(status),
            solver.objective_value if found else None,
            solver.best_objective_bound,
            used,
        )
        if status == cp_model.INFEASIBLE:
            run.infeasible = stage == plan.stages[0]
            break
        if not found:
            break
        value = round(solver.objective_value)
        # never capped at the value: a bound above it is a bug to surface
        bound = math.ceil(solver.best_objective_bound - 1e-6)
        run.stages[stage] = StageOutcome(value, bound, status == cp_model.OPTIMAL, used)
        best = model.decode(solver)
        run.schedule = best
        model.keep_stage(stage, expr, value)
    return run


def objective_stages(goal: str) -> tuple[str, ...]:
    """The stages of an objective's own terms (``makespan``: one)."""
    return ("makespan",) if goal == "makespan" else PORTFOLIO_STAGES


def solve_lexicographic(
    instance: Instance | Problem,
    objective: str,
    params: CpSatParams,
    *,
    hint: Schedule | None = None,
    options: ModelOptions = DEFAULT_OPTIONS,
    stability: Stability | None = None,
    shares: dict[str, float] | None = None,
    on_progress: ProgressFn | None = None,
    stop: Callable[[], bool] | None = None,
) -> ModelResult:
    """Optimize the objective's stages in order (``makespan``: one stage) on the whole model of
    ``instance`` (or of a narrowed :class:`Problem`), within ``params.time_limit`` in all
    (``shares``: each stage's part, ``STAGE_SHARE`` by default; unused time rolls over).

    Each stage minimizes its term under ``term_j <= best_j`` for the stages before it, starting
    from the previous stage's solution. Values are the model's own; bounds are valid for the
    model, and for the whole problem when the model is exact (``ModelResult.exact``).

    With ``stability`` (re-planning, see :class:`Stability` and
    :func:`objective.stability_stages`): its budget is a constraint, and with a weight a stage
    ``stability`` replaces ``late`` (``makespan``: follows it) and ``undelivered`` breaks ties by
    fewer moves. Bounds are then those of the constrained model, not of the portfolio. It models
    pure pools person by person (the rule names people).

    **Pins come first.** Under the ``portfolio`` objective, when the model has pinned tasks
    (those that compile as possible), a first stage ``pins`` minimizes the number of them left
    unassigned, and that number is then fixed (``<=``) like any other stage's value: a pinned
    task is dropped only when keeping it is impossible together with the other pins, never for
    other work (the contract's ``pinned``). Its value is a count of tasks, not a term of the
    objective, and it reports no progress. The later stages' values and bounds are therefore
    over the plans that keep as many pins as possible (the engine's rule, see
    :func:`solver_models.schedule.pins_dropped`), not over every valid plan; where ``pins`` is
    not proven, over those that keep at least as many as found, which contain them (so the
    bounds still hold for the engine's plans). The ``relaxed`` model (bounds only) has no such
    stage: its bounds are over every plan of the relaxation, so they hold too. Under
    ``makespan`` every task is assigned anyway.
    """
    t0 = time.monotonic()
    if stability is not None:
        options = replace(options, pooling=False)
    pooled = options.pooling and not options.relaxed
    problem = instance if isinstance(instance, Problem) else whole(instance, pools=pooled)
    model = Model(problem, objective, options)
    stages = objective_stages(objective)
    shares = dict(shares or STAGE_SHARE)
    if stability is not None:
        stages = stability_stages(model, stability, stages, shares)
    if objective != "makespan" and not options.relaxed and model.pinned_tasks():
        stages = (PINS_STAGE, *stages)
        shares.setdefault(PINS_STAGE, PINS_SHARE)
    budget = params.time_limit
    if stages == ("makespan",):
        shares = {"makespan": 1.0}
    plan = StagePlan(
        stages=stages,
        seconds={s: budget * shares[s] for s in stages if s in shares},
        carry=True,
        total=budget,
    )
    fractional = any(
        float(r.percent) != int(r.percent) for p in problem.inst.people for r in p.reduced_capacity
    )
    run = run_stages(model, plan, params, hint=hint, t0=t0, on_progress=on_progress, stop=stop)
    # bounds count for the portfolio when the model is exact, or a relaxation of it
    return ModelResult(
        schedule=run.schedule,
        stages={s: (o.value, o.bound, o.optimal) for s, o in run.stages.items()},
        infeasible=run.infeasible,
        wall_seconds=time.monotonic() - t0,
        exact=(model.exact or options.relaxed) and not fractional,
    )
