"""The one solve pipeline: warm starts → improve → select → finalize.

(About 820 lines: the stages read top to bottom in the order they run, with the bound terms and
the plan's finishing beside the stage that needs them.)

:func:`allocator.engine.solve` and :func:`allocator.rebalance.rebalance` are parametrizations of
:func:`run`; each stage is a public function of a frozen :class:`Context` (the portfolio, its
compiled instance, the :class:`SolveParams`, the clock, and for a re-plan its :class:`Base`):

1. :func:`warm_starts`: valid schedules by construction. A solve makes the greedy runs of
   the baseline (``GREEDY_RUNS``, the downstream-value rule first; on a large portfolio that
   leaves work out, only the first: :func:`more_greedy_runs`), whatever the time limit: the
   solve is never worse than the baseline; a re-plan starts from the base plan (the previous
   plan's kept part) and inserts the rest of the work around it with each greedy rule.
2. :func:`improve`: one whole CP-SAT model (lexicographic stages, from the best warm start) or,
   above ``LNS_ABOVE`` (task, person) pairs of the model to build (:func:`model_size`), large
   neighbourhood search, which a re-plan does not have (its warm start is then kept); the
   relaxed-model and LP bounds of a solve; then greedy insertion of what the search left out.
   The search stops early enough for what follows it (:func:`search_reserve`, sized by
   measurement, and the final bound of a small portfolio: :func:`final_bound_reserve`).
3. :func:`select`: pins first, then the key: the best of the candidates by
   ``(pins_dropped, key)``, the first of equal ones; a re-plan keeps only candidates within its
   churn budget and then settles its choice.
4. :func:`finalize`: the :class:`Plan` (built once, for the chosen schedule), its objective
   and bound terms (:func:`term_bounds`, :func:`finish_plan`), the reasons of unassigned work
   within a time budget (:func:`reasons_budget`), the ``done`` progress report.

**Scoring** is on the arrays: :func:`solver_models.schedule.schedule_key`, equal to
:func:`allocator.objective.plan_key` of the schedule's plan. A re-plan ranks by its
:attr:`Base.key` (the objective with its stability price) instead.

**All-or-nothing** (contract rule 10): known cases are marked at compile time
(:func:`compile_for`) and every candidate is passed through ``enforce_all_or_nothing``.

It also holds the run's types (:class:`SolveParams`, :class:`Result`, :class:`Progress`),
re-exported by :mod:`allocator.engine`, so that the two parametrizations import no private
name. About 820 lines, kept in one file on purpose: the four stages share one context and read
in order.

See :mod:`allocator.engine` for the plan's figures, pins, the baseline and time, which this
module implements.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from allocator.domain import ObjectiveTerms, Plan, PlanStatus, Portfolio
from allocator.objective import Terms, gap_of, proven, term_names, term_value, terms_of_key
from allocator.reasons import explain_plan
from allocator.timeline import Timeline
from solver_models.bounds import (
    ASSIGNMENT_MAX_PAIRS,
    ASSIGNMENT_MAX_SECONDS,
    ASSIGNMENT_MIN_SECONDS,
    makespan_lower_bound,
    undelivered_lower_bound,
)
from solver_models.cpsat import (
    CpSatParams,
    ModelOptions,
    ModelResult,
    Stability,
    solve_lexicographic,
    whole_model_size,
)
from solver_models.greedy import greedy
from solver_models.instance import Instance, compile_instance
from solver_models.lns import improve as lns_improve
from solver_models.schedule import (
    Schedule,
    enforce_all_or_nothing,
    mark_all_or_nothing,
    pins_dropped,
    schedule_key,
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

#: greedy list-scheduling rules tried for the warm start (the best one is kept), and, for a
#: re-plan, to insert the rest of the work around the base plan
GREEDY_RULES = ("value", "priority", "edf")
#: the order the greedy runs are made in (rule, team tasks contiguous): the downstream-value rule
#: first (measured: it leaves 40-60 % less undelivered work than the priority rule at 195,
#: 2,040 and 9,978 tasks, ``benchmarks/first_plan.py``), team tasks contiguous first (the form
#: CP-SAT takes whole)
GREEDY_RUNS = (
    ("value", True),
    ("value", False),
    ("priority", True),
    ("priority", False),
    ("edf", True),
    ("edf", False),
)
#: the first this many of ``GREEDY_RUNS`` are always made; the others only where they can still
#: win (:func:`more_greedy_runs`): on the scale ladder at 2,040 and 9,978 tasks (seeds 1, 2, 3,
#: 7) the first won every time, and each other run costs seconds there
GREEDY_FIRST_RUNS = 1
#: under the ``makespan`` objective (the public sets) the runs and the warm starts' order as they
#: were before the downstream-value rule (edf first among equal plans): that rule weighs
#: priority-weighted work, which a makespan does not; with it the warm start of PSPLIB j3013_1
#: changed and the CI slice's deterministic solve ended at 60 instead of 58
MAKESPAN_RUNS = (("priority", True), ("edf", True), ("priority", False), ("edf", False))
MAKESPAN_RULES = ("edf", "priority")
#: the repair passes after the search insert what it left out, one pass per rule
REPAIR_RULES = ("value", "priority")
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
#: building a :class:`Plan` and evaluating it takes about this many times the array scorer
#: (measured: 2,026 tasks 0.074 s against 0.018 s, 9,493 tasks 0.26 s against 0.05 s): the
#: time kept for finalizing is estimated from the scorer's time
PLAN_PER_KEY = 5.0
#: the time kept after the search (:func:`search_reserve`): each repair pass is estimated at
#: this share of a greedy run (measured after LNS, ``benchmarks/profile_stages.py``: 0.12 at
#: 9,978 tasks, 0.33 at 2,040, 0.44 at 195; after a greedy run 0.09-0.18 at 195 and 2,040; a
#: pass places only what is left out; where it is short, at 2,040 tasks and below, that is
#: hundredths of a second, which ``REPAIR_GRACE`` covers), and finishing
#: the plan (candidates ranked, the Plan built, reasons) at this many scorer evaluations (at
#: 9,978 tasks: 0.37 s of reasons and about 0.5 s of plan against a 0.1 s scorer). Before issue
#: 15 it kept two greedy runs and four plans: 10 s at 9,978 tasks, where the whole took 1.1 s
REPAIR_PER_RUN = 0.15
FINISH_PER_KEY = 2.0 * PLAN_PER_KEY
#: seconds kept inside the time limit for the final bound of a small portfolio searched whole:
#: the LPs (0.4 s at 195 tasks) and the integer assignment relaxation, which
#: ``undelivered_lower_bound`` runs only with ``ASSIGNMENT_MIN_SECONDS`` left; kept when the
#: time left for the search is at least ``FINAL_BOUND_SHARE`` times it
FINAL_BOUND_SECONDS = ASSIGNMENT_MIN_SECONDS + 0.5
FINAL_BOUND_SHARE = 10.0

#: a schedule's comparison key (exact integers, smaller is better)
Scorer = Callable[[Schedule], tuple[int, ...]]


class BoundError(AssertionError):
    """A lower bound above the plan's objective: a bug in a bound, never a proof."""


@dataclass(frozen=True)
class SolveProgress:
    """One progress report, for progress bars and logs, in planner units.

    ``stage`` says what the figures measure: ``greedy-*``, ``lns`` and ``done``: the plan's
    objective terms and (for ``done``) its lower bound terms; ``cp-sat:<stage>``: the value and
    the model's bound of the one term being optimized (``objective`` and ``lower_bound`` then
    hold that term alone, e.g. ``{"undelivered_work_hours": 120.5}``). Stages that optimize no
    objective term (``cp-sat:pins``, and every CP-SAT stage of a re-plan, whose values carry
    the stability rule) report no figures.
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
class SolveParams(CpSatParams):
    """Parameters of :func:`allocator.engine.solve` (all optional).

    The search's parameters (``time_limit``, ``workers``, ``seed``, ``deterministic_time``,
    ``log_search``) are :class:`~solver_models.cpsat.CpSatParams`' own, declared there once; each
    CP-SAT search gets a plain copy with its share of the time (:meth:`cpsat`).

    ``time_limit``: seconds for the whole solve. Compile and the greedy baseline (every run of
    it, :func:`greedy_starts`) are not cut by it: when they alone take longer, the solve returns the best greedy plan
    as soon as they are done (no search, no bound beyond the analytic one). Otherwise the solve
    returns within the limit plus a fraction of a second (``REPAIR_GRACE``, ``LP_GRACE``) and
    the time to turn the plan into a :class:`Plan` with reasons (at least
    ``REASONS_MIN_SECONDS`` for the full reasons; the rest get cheap ones).
    ``deterministic_time``: cap on CP-SAT deterministic time per stage, for
    machine-independent results.
    """

    #: skip CP-SAT and return the greedy plan (the baseline)
    greedy_only: bool = False
    #: "auto" (one CP-SAT model for small portfolios, LNS above ``LNS_ABOVE``), "cp-sat", "lns"
    strategy: str = "auto"
    on_progress: Callable[[SolveProgress], None] | None = None
    #: set to stop early and keep the best plan found so far (set during the first greedy
    #: run, it keeps the tasks that run placed so far: a valid plan, the rest unassigned)
    stop_event: threading.Event | None = field(default=None, repr=False)
    #: re-planning: the previous plan, as warm start and for stability (policy keys
    #: ``freeze_days``, ``churn_budget``, ``stability``); see :mod:`allocator.rebalance`
    previous: Plan | None = field(default=None, repr=False)
    #: a Dask scheduler address (``tcp://host:8786``): LNS solves its neighbourhoods on that
    #: cluster's workers in parallel (``solver_models.lns_dask``); None: on this machine
    dask_address: str | None = None

    def cpsat(self, seconds: float) -> CpSatParams:
        """CP-SAT's parameters for a search of ``seconds`` under these solve parameters."""
        return self.for_search(seconds)

    def stop_requested(self) -> Callable[[], bool] | None:
        """The stop test handed to the searches (None when no stop event is given)."""
        return self.stop_event.is_set if self.stop_event is not None else None


@dataclass(frozen=True)
class Result:
    """What a solve returns: the plan (with its objective and bound terms), the ``portfolio``
    objective's :class:`~allocator.objective.Terms` (None under ``makespan`` or without a
    plan), the run time and solver statistics."""

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


@dataclass(frozen=True)
class Base:
    """What makes a run a re-plan (:mod:`allocator.rebalance`): the base plan, its stability
    rule and its key.

    ``kept`` is the previous plan's part still valid on the instance: the first candidate and
    the base every warm start inserts around. ``stability`` is handed to CP-SAT (its model then
    names people: no pooling, and its stage values carry the rule, so no progress figures).
    ``key`` ranks candidates in place of the objective (the objective with the price of moves);
    ``within_budget`` keeps the candidates the churn budget allows; ``settle`` (optional) polishes
    the chosen schedule and says how many tasks it put back (stats ``settled``). The plan's
    bounds are the analytic ones (CP-SAT's are those of the constrained problem).
    """

    kept: Schedule
    stability: Stability
    key: Scorer
    within_budget: Callable[[Schedule], bool]
    settle: Callable[[Schedule], tuple[Schedule, int]] | None = None
    #: the plan's ``solver`` is ``<label>:<candidate name>``
    label: str = "rebalance"


@dataclass(frozen=True)
class Context:
    """One run of the pipeline: what every stage reads. ``stats`` is filled as it goes."""

    portfolio: Portfolio
    inst: Instance
    params: SolveParams
    #: the run's start (``time.monotonic()``): the time limit counts from it
    t0: float
    base: Base | None = None
    stats: dict[str, object] = field(default_factory=dict)

    @property
    def goal(self) -> str:
        return self.portfolio.policy.goal

    @property
    def timeline(self) -> Timeline:
        return self.inst.timeline

    @property
    def deadline(self) -> float:
        return self.t0 + self.params.time_limit

    def stopped(self) -> bool:
        """Whether a stop was requested (``SolveParams.stop_event``)."""
        ev = self.params.stop_event
        return ev is not None and ev.is_set()

    def time_left(self) -> float:
        return self.deadline - time.monotonic()

    def out_of_time(self) -> bool:
        return self.stopped() or self.time_left() <= 0

    def report(self, stage: str, obj: ObjectiveTerms | None, lb: ObjectiveTerms | None) -> None:
        """Send one :class:`SolveProgress` report (when ``on_progress`` is given)."""
        if self.params.on_progress is not None:
            self.params.on_progress(SolveProgress(stage, obj, lb, time.monotonic() - self.t0))

    def report_key(self, stage: str, key: tuple[int, ...]) -> None:
        """Report an objective key's terms."""
        if self.params.on_progress is not None:
            self.report(stage, terms_of_key(self.goal, key), None)

    def objective_key(self, sched: Schedule) -> tuple[int, ...]:
        """The schedule's objective key (equal to ``plan_key`` of its plan)."""
        return schedule_key(self.inst, sched, self.goal)

    def rank(self, sched: Schedule) -> tuple[int, ...]:
        """How candidates compare: pinned tasks dropped first, then the key (the base's key in
        a re-plan, else the objective's)."""
        key = self.base.key(sched) if self.base is not None else self.objective_key(sched)
        return (pins_dropped(self.inst, sched), *key)


@dataclass
class Candidates:
    """The candidate schedules so far, in a fixed order (the first of equal ones wins), each
    ranked once (``Context.rank``, cached by identity: the schedules are held here)."""

    items: list[tuple[str, Schedule]] = field(default_factory=list)
    ranks: dict[int, tuple[int, ...]] = field(default_factory=dict)
    #: the warm start handed to the search
    hint: Schedule | None = None
    #: seconds of one greedy run and of one ranking: what the time kept after the search is
    #: estimated from
    run_seconds: float = 0.0
    rank_seconds: float = 0.0

    def add(self, ctx: Context, name: str, sched: Schedule) -> None:
        self.items.append((name, sched))
        self.rank_of(ctx, sched)

    def rank_of(self, ctx: Context, sched: Schedule) -> tuple[int, ...]:
        k = self.ranks.get(id(sched))
        if k is None:
            k_t0 = time.monotonic()
            k = self.ranks[id(sched)] = ctx.rank(sched)
            self.rank_seconds = time.monotonic() - k_t0
        return k


@dataclass(frozen=True)
class Search:
    """What :func:`improve` found: the search's result and the sources of bounds."""

    result: ModelResult
    bound_source: ModelResult | None = None
    lp_units: int | None = None


@dataclass(frozen=True)
class Chosen:
    """The candidate :func:`select` keeps."""

    name: str
    schedule: Schedule
    #: the pinned tasks it drops and its objective key
    pins: int
    key: tuple[int, ...]


def compile_for(portfolio: Portfolio) -> Instance:
    """The portfolio's instance, with rule 10 marked where it is known before any search."""
    inst = compile_instance(portfolio)
    mark_all_or_nothing(inst)
    return inst


def model_size(inst: Instance, pooled: bool = True) -> int:
    """The (task, candidate) pairs of the whole CP-SAT model the run would build, the measure
    ``LNS_ABOVE`` is compared with: ``whole_model_size`` (a pure pool's place counts once)
    when the model pools, the raw pairs when it cannot (a re-plan: its stability rule names
    people, so ``solve_lexicographic`` builds it without pools)."""
    if pooled:
        return whole_model_size(inst)
    return sum(len(t.candidates) for t in inst.tasks if t.possible)


def run(ctx: Context) -> tuple[Result, Chosen | None]:
    """The whole pipeline: :func:`warm_starts`, :func:`improve`, :func:`select`,
    :func:`finalize`. Returns the result and the chosen candidate (None without one)."""
    cands = warm_starts(ctx)
    search = improve(ctx, cands)
    chosen = select(ctx, cands)
    return finalize(ctx, chosen, search), chosen


# -- 1. warm starts ----------------------------------------------------------------------------
def warm_starts(ctx: Context) -> Candidates:
    """The first candidates, valid by construction, and the warm start for the search:
    :func:`greedy_starts` for a solve, :func:`base_starts` for a re-plan."""
    g_t0 = time.monotonic()
    if ctx.base is None:
        cands, runs = greedy_starts(ctx)
    else:
        cands, runs = base_starts(ctx, ctx.base)
    cands.run_seconds = (time.monotonic() - g_t0) / max(1, runs)
    ctx.stats["greedy_seconds"] = round(time.monotonic() - g_t0, 3)
    ctx.stats["greedy_runs"] = runs
    return cands


def greedy_starts(ctx: Context) -> tuple[Candidates, int]:
    """The greedy baseline: the runs of ``GREEDY_RUNS`` whatever the time limit (the first
    ``GREEDY_FIRST_RUNS``, and the others where :func:`more_greedy_runs` says they can still
    win: a rule of the portfolio and the runs' results, never of the time, so a solve makes the
    same runs as its ``greedy_only`` baseline and is never worse than it); only a stop request
    cuts them short (what a run placed so far is still a valid plan, and the runs after it are
    skipped). Under ``makespan`` only complete schedules count. The warm start is the best with
    team tasks contiguous (so CP-SAT can take the whole plan). Returns the candidates and the
    number of runs made."""
    inst, goal = ctx.inst, ctx.goal
    cands = Candidates()
    runs: dict[tuple[str, bool], Schedule] = {}
    best: tuple[int, ...] | None = None
    order, rules = (
        (MAKESPAN_RUNS, MAKESPAN_RULES) if goal == "makespan" else (GREEDY_RUNS, GREEDY_RULES)
    )
    for n, (rule, contiguous) in enumerate(order):
        if runs and ctx.stopped():
            break
        if n >= GREEDY_FIRST_RUNS and not more_greedy_runs(inst, goal, best):
            ctx.stats["greedy_runs_skipped"] = len(order) - n
            break
        sched = enforce_all_or_nothing(
            inst, greedy(inst, rule=rule, team_contiguous=contiguous, stop=ctx.stopped)
        )
        runs[(rule, contiguous)] = sched
        if goal == "portfolio" or len(sched.start) == len(inst.tasks):
            k = cands.rank_of(ctx, sched)
            if best is None or k < best:
                best = k
                ctx.report_key(_greedy_name(rule, contiguous), k[1:])
    hints: list[Schedule] = []
    for rule in rules:
        for contiguous in (False, True):
            found = runs.get((rule, contiguous))
            if found is not None and id(found) in cands.ranks:
                cands.items.append((_greedy_name(rule, contiguous), found))
                if contiguous:
                    hints.append(found)
    if hints:
        cands.hint = min(hints, key=lambda s: cands.ranks[id(s)])
    return cands, len(runs)


def more_greedy_runs(inst: Instance, goal: str, best: tuple[int, ...] | None) -> bool:
    """Whether the runs of ``GREEDY_RUNS`` after the first ``GREEDY_FIRST_RUNS`` are made, given
    the best rank so far (``(pins dropped, *key)``, None when no run counted): always under
    ``makespan`` and on portfolios of at most ``LNS_ABOVE`` (task, person) pairs (there a run
    takes milliseconds), else only when the best plan so far delivers every task that can be
    assigned at all (then the later terms decide, and the priority and deadline rules can win
    on lateness; while work is left undelivered, the first run, downstream value with team
    tasks contiguous, was the best of all on every measured portfolio of more than
    ``LNS_ABOVE`` pairs, ``benchmarks/first_plan.py``)."""
    if goal == "makespan" or best is None:
        return True
    if sum(len(t.candidates) for t in inst.tasks if t.possible) <= LNS_ABOVE:
        return True
    return best[1] <= inst.impossible_units()


def _greedy_name(rule: str, contiguous: bool) -> str:
    return f"greedy-{rule}" + ("-contiguous" if contiguous else "")


def base_starts(ctx: Context, base: Base) -> tuple[Candidates, int]:
    """A re-plan's warm starts: the base plan (``warm``), and the rest of the work inserted
    around it by each greedy rule (``warm+insert-<rule>``, team tasks contiguous or not):
    valid, and changing nothing of the base. Under ``makespan`` only complete schedules count
    (the base itself when none is). The warm start is the best of them. Returns the candidates
    and the number of greedy runs made."""
    inst = ctx.inst
    found: list[tuple[str, Schedule]] = [("warm", enforce_all_or_nothing(inst, base.kept))]
    runs = 0
    for rule in GREEDY_RULES:
        for contiguous in (True, False):
            if runs and ctx.stopped():
                break
            filled = greedy(
                inst, rule=rule, team_contiguous=contiguous, base=base.kept, stop=ctx.stopped
            )
            runs += 1
            found.append((f"warm+insert-{rule}", enforce_all_or_nothing(inst, filled)))
    if ctx.goal == "makespan":
        found = [c for c in found if len(c[1].start) == len(inst.tasks)]
    cands = Candidates()
    for name, sched in found:
        cands.add(ctx, name, sched)
    cands.hint = min((s for _, s in found), key=lambda s: cands.ranks[id(s)], default=base.kept)
    return cands, runs


# -- 2. improve --------------------------------------------------------------------------------
def improve(ctx: Context, cands: Candidates) -> Search:
    """Search from the warm start within the time limit, adding its schedule (and greedy
    insertions of the work it left out) to ``cands``; with the bounds a solve proves on the way
    (the relaxed whole model when the search's model is not exact for the portfolio, the LP
    bound before LNS). No search with ``greedy_only``, under ``makespan`` when some task cannot
    be assigned at all, or when compile and the warm starts took the time (``search_skipped``).
    """
    params, inst, goal, stats = ctx.params, ctx.inst, ctx.goal, ctx.stats
    base = ctx.base
    none = Search(ModelResult(schedule=None))
    impossible = any(not t.possible for t in inst.tasks)
    if params.greedy_only or (goal == "makespan" and impossible):
        return none
    if ctx.out_of_time():
        # compile and the greedy took the time (or a stop was asked): the warm starts it is
        stats["search_skipped"] = "stopped" if ctx.stopped() else "no time left"
        log.info("no time left after compile and greedy (%.1fs): search skipped", -ctx.time_left())
        return none
    size = model_size(inst, pooled=base is None)
    stats["model_pairs"] = size
    strategy = params.strategy if base is None else "auto"  # a re-plan has no LNS
    use_lns = strategy == "lns" or (strategy != "cp-sat" and size > LNS_ABOVE)
    # keep time for what follows the search: the repair passes, the final bound of a small
    # portfolio, turning the plan into a Plan and the reasons
    reserve = search_reserve(ctx, cands, final_bound_reserve(ctx, use_lns))
    stats["reserve_seconds"] = round(reserve, 3)
    remaining = max(0.1, ctx.time_left() - reserve)
    sp = params.cpsat(remaining)
    stop = params.stop_requested()
    lp_units: int | None = None
    if use_lns and base is not None:
        # too large for one model: keep the warm start (LNS does not know stability yet)
        log.warning("rebalance: %d (task, person) pairs, CP-SAT skipped; warm start kept", size)
        stats["strategy"] = "warm-start-only"
        return none
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
        remaining = max(0.1, ctx.time_left() - reserve)
    if use_lns and cands.hint is not None:
        # too large for one model in the time given: improve the greedy plan by parts
        def on_lns(key: tuple[int, ...], elapsed: float) -> None:
            ctx.report_key("lns", key)

        improved, lns_stats = lns_improve(
            inst,
            cands.hint,
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
            inst,
            goal,
            sp,
            hint=cands.hint,
            on_progress=_stage_reporter(ctx),
            stop=stop,
            stability=None if base is None else base.stability,
        )
    stats["cpsat_seconds"] = round(result.wall_seconds, 3)
    stats["cpsat_stages"] = {k: list(v) for k, v in result.stages.items()}
    stats["model_exact"] = result.exact
    bound_source: ModelResult | None = None
    left = ctx.time_left() - reserve
    if (
        base is None
        and not result.exact
        and left > 0.2
        and not (stop is not None and stop())
        and size <= RELAXED_MAX_PAIRS
    ):
        # the exact model's bounds do not hold for the portfolio: prove one on a relaxation
        # (one whole model, whose building the time limit does not bound: only where the
        # whole exact model was built too)
        r_t0 = time.monotonic()
        relaxed = solve_lexicographic(
            inst, goal, replace(sp, time_limit=left), options=ModelOptions(relaxed=True), stop=stop
        )
        stats["relaxed_seconds"] = round(time.monotonic() - r_t0, 3)
        stats["relaxed_stages"] = {k: list(v) for k, v in relaxed.stages.items()}
        if relaxed.exact:
            bound_source = relaxed
    stats["search_done_at"] = round(time.monotonic() - ctx.t0, 3)
    if result.schedule is not None:
        name = "lns" if use_lns else "cp-sat"
        found = enforce_all_or_nothing(inst, result.schedule)
        result = replace(result, schedule=found)
        cands.add(ctx, name, found)

        def repair_over() -> bool:
            return ctx.stopped() or time.monotonic() > ctx.deadline + REPAIR_GRACE

        # repair: insert what the search left out wherever it still fits (only adds work; cut
        # short when the time is up: what it inserted so far is valid)
        rep_t0 = time.monotonic()
        for rule in REPAIR_RULES:
            if repair_over():
                break
            filled = enforce_all_or_nothing(
                inst, greedy(inst, rule=rule, base=found, stop=repair_over)
            )
            if len(filled.start) > len(found.start):
                cands.add(ctx, f"{name}+insert-{rule}", filled)
        stats["repair_seconds"] = round(time.monotonic() - rep_t0, 3)
    return Search(result, bound_source, lp_units)


def search_reserve(ctx: Context, cands: Candidates, final_bound: float = 0.0) -> float:
    """Seconds kept after the search, within the time limit: the repair passes
    (``REPAIR_PER_RUN`` of a greedy run each), finishing the plan (``FINISH_PER_KEY`` scorer
    evaluations) and ``final_bound`` (:func:`final_bound_reserve`); at most 40 % of the time
    left. An estimate: the repair passes stop at the limit plus ``REPAIR_GRACE`` whatever it
    says."""
    need = (
        len(REPAIR_RULES) * REPAIR_PER_RUN * cands.run_seconds
        + FINISH_PER_KEY * cands.rank_seconds
        + final_bound
    )
    return min(need, 0.4 * max(0.0, ctx.time_left()))


def final_bound_reserve(ctx: Context, use_lns: bool) -> float:
    """Seconds to keep inside the time limit for :func:`finalize`'s bound: ``FINAL_BOUND_SECONDS``
    for a solve searched by one model (LNS computes its bound before its search) under the
    ``portfolio`` objective, on a portfolio small enough for the integer assignment relaxation
    (``ASSIGNMENT_MAX_PAIRS``), when the time left is at least ``FINAL_BOUND_SHARE`` times it;
    else 0 (the final bound then has what is left plus ``LP_GRACE``)."""
    inst = ctx.inst
    if use_lns or ctx.base is not None or ctx.goal != "portfolio" or ctx.params.greedy_only:
        return 0.0
    pairs = sum(len(t.candidates) for t in inst.tasks if t.possible)
    if pairs > min(ASSIGNMENT_MAX_PAIRS, LP_BOUND_MAX_PAIRS):
        return 0.0
    if ctx.time_left() < FINAL_BOUND_SHARE * FINAL_BOUND_SECONDS:
        return 0.0
    return FINAL_BOUND_SECONDS


def _stage_reporter(ctx: Context) -> Callable[[str, int, int, float], None]:
    """CP-SAT's progress callback: each stage's value and bound as its term (a re-plan's
    stages carry the stability rule: names only)."""
    const_units = ctx.inst.impossible_units()

    def on_stage(stage: str, value: int, bound: int, elapsed: float) -> None:
        term = STAGE_TERMS.get(stage)
        if term is None or ctx.base is not None:
            ctx.report(f"cp-sat:{stage}", None, None)
            return
        add = const_units if stage == "undelivered" else 0  # the model leaves those out
        # the best of two true bounds: the model's (weak and even negative early in the
        # search) and the analytic one (every term is at least 0; undelivered work at least
        # the work nobody can do)
        ctx.report(
            f"cp-sat:{stage}",
            terms_of_key_one(term, value + add),
            terms_of_key_one(term, max(bound + add, add)),
        )

    return on_stage


# -- 3. select ---------------------------------------------------------------------------------
def select(ctx: Context, cands: Candidates) -> Chosen | None:
    """The best candidate by ``(pins_dropped, key)``, the first of equal ones (None without
    candidates). A re-plan keeps the candidates within its churn budget (all of them by
    construction; the base itself as a guard against a model bug), and then settles its
    choice (``Base.settle``, stats ``settled``)."""
    items = cands.items
    base = ctx.base
    if base is not None:
        items = [c for c in items if base.within_budget(c[1])] or [("warm", base.kept)]
    best: tuple[str, Schedule] | None = None
    best_rank: tuple[int, ...] | None = None
    for name, sched in items:
        k = cands.rank_of(ctx, sched)
        if best_rank is None or k < best_rank:
            best, best_rank = (name, sched), k
    if best is None:
        return None
    name, sched = best
    if base is not None and base.settle is not None:
        sched, back = base.settle(sched)
        sched = enforce_all_or_nothing(ctx.inst, sched)
        ctx.stats["settled"] = back
    return Chosen(name, sched, pins_dropped(ctx.inst, sched), ctx.objective_key(sched))


# -- 4. finalize -------------------------------------------------------------------------------
def finalize(ctx: Context, chosen: Chosen | None, search: Search) -> Result:
    """The :class:`Result`: the chosen schedule's :class:`Plan`, built once, with its
    objective and lower bound terms, gap, status and reasons (within
    :func:`reasons_budget`). Without a candidate: an empty plan, ``infeasible`` when the
    search proved it (or under ``makespan`` some task cannot be assigned), else ``unknown``.

    A solve's bounds: the search's stages when its model is exact for the portfolio (or the
    relaxed model's), the LP bound (computed here for a small portfolio when stage one is not
    proven), the analytic bounds; a re-plan's: the analytic ones."""
    inst, goal, params, stats = ctx.inst, ctx.goal, ctx.params, ctx.stats
    result = search.result
    runtime = time.monotonic() - ctx.t0
    if chosen is None:
        impossible = any(not t.possible for t in inst.tasks)
        status: PlanStatus = (
            "infeasible"
            if (result.infeasible or (goal == "makespan" and impossible))
            else "unknown"
        )
        plan = to_plan(
            inst,
            Schedule(start={}, finish={}, people={}),
            status=status,
            objective=None,
            lower_bound=None,
            solve_seconds=round(runtime, 2),
            solver="none",
        )
        plan = with_reasons(ctx, plan, reasons_budget(params, ctx.time_left()))
        return Result(plan, None, runtime, stats, None)
    solver = chosen.name if ctx.base is None else f"{ctx.base.label}:{chosen.name}"
    plan = to_plan(
        inst,
        chosen.schedule,
        status="feasible",
        objective=None,
        lower_bound=None,
        solve_seconds=round(runtime, 2),
        solver=solver,
    )
    key = chosen.key
    stats["pins_dropped"] = chosen.pins
    terms = Terms(*key) if goal == "portfolio" else None
    if ctx.base is None:
        bound_source = search.bound_source
        if bound_source is None and result.exact:
            bound_source = result
        lp_units = search.lp_units
        if (
            goal == "portfolio"
            and lp_units is None
            and not params.greedy_only
            and not _stage_one_proven(bound_source)
            and not ctx.stopped()
            and sum(len(t.candidates) for t in inst.tasks if t.possible) <= LP_BOUND_MAX_PAIRS
        ):
            # small portfolios only (the LP is built up to LP_BOUND_MAX_PAIRS pairs, fast):
            # the time limit may be overrun by at most LP_GRACE seconds for it
            lp_t0 = time.monotonic()
            lp_units = final_bound(inst, min(5.0, max(LP_GRACE, ctx.time_left() + LP_GRACE)))
            stats["final_bound_seconds"] = round(time.monotonic() - lp_t0, 3)
        bounds = term_bounds(inst, goal, key, bound_source, lp_units, pins=chosen.pins)
    else:
        # the analytic bounds only: CP-SAT's bounds here are those of the constrained problem
        bounds = term_bounds(inst, goal, key, None)
    plan = finish_plan(plan, goal, key, bounds)
    reasons_t0 = time.monotonic()
    plan = with_reasons(ctx, plan, reasons_budget(params, ctx.time_left()))
    stats["reasons_seconds"] = round(time.monotonic() - reasons_t0, 3)
    stats["chosen"] = chosen.name
    ctx.report("done", plan.objective, plan.lower_bound)
    return Result(plan, terms, runtime, stats, key)


def final_bound(inst: Instance, seconds: float) -> int | None:
    """The first term's bound for :func:`finalize` (units of the possible tasks, None when none
    was proven), within about ``seconds``: ``undelivered_lower_bound``; on a portfolio small
    enough for the integer assignment relaxation, the two apart, the larger kept: the LPs with
    ``LP_GRACE`` (0.4 s at 195 tasks) or what is above ``ASSIGNMENT_MAX_SECONDS``, the relaxation
    with the rest, at least ``ASSIGNMENT_MIN_SECONDS`` (together, the LPs' finer time-indexed
    pass takes whatever time it is given: with 1.9 s on a loaded machine it left the relaxation
    none)."""
    pairs = sum(len(t.candidates) for t in inst.tasks if t.possible)
    if pairs > ASSIGNMENT_MAX_PAIRS or seconds < ASSIGNMENT_MIN_SECONDS + LP_GRACE:
        return undelivered_lower_bound(inst, time_limit=seconds)
    from solver_models.assignment_bound import assignment_bound

    end = time.monotonic() + seconds
    lps = undelivered_lower_bound(
        inst, time_limit=max(LP_GRACE, seconds - ASSIGNMENT_MAX_SECONDS), assignment=False
    )
    whole = assignment_bound(
        inst,
        time_limit=min(ASSIGNMENT_MAX_SECONDS, max(ASSIGNMENT_MIN_SECONDS, end - time.monotonic())),
    )
    found = [b for b in (lps, whole) if b is not None]
    return max(found) if found else None


def reasons_budget(params: SolveParams, left: float) -> float:
    """Seconds for explaining unassigned tasks: what is left of the time limit, at least
    ``REASONS_MIN_SECONDS`` (``greedy_only``: ``REASONS_SECONDS`` and a tenth of the limit)."""
    if params.greedy_only:
        return REASONS_SECONDS + 0.1 * params.time_limit
    return max(REASONS_MIN_SECONDS, left)


def with_reasons(ctx: Context, plan: Plan, budget: float | None = None) -> Plan:
    """The plan with reasons for each unassigned task: the compiler's (the task cannot be
    assigned at all), else those worked out from the plan (:func:`allocator.reasons.explain_plan`:
    the most important tasks checked day by day within ``budget`` seconds, the rest in brief;
    every one a true reason of its own)."""
    inst = ctx.inst
    return explain_plan(
        ctx.portfolio,
        plan,
        ctx.timeline,
        {t.id: t.out_reasons for t in inst.tasks},
        {t.id: t.units for t in inst.tasks},
        budget,
    )


def terms_of_key_one(term: str, units: int) -> dict[str, float | int]:
    """One term, in planner units, from its internal integer."""
    return {term: term_value(term, units)}


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
    const_units = inst.impossible_units()
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
        lower[name] = term_value(name, b)
        if b < key[k]:
            break  # later terms: only bounded over plans equal to this one on this term
    bound = lower or None
    status: PlanStatus = "optimal" if proven(objective, bound) else "feasible"
    return replace(
        plan, status=status, objective=objective, lower_bound=bound, gap=gap_of(objective, bound)
    )
