"""Quality regression slice of the public benchmarks (``benchmarks/public.py`` runs them whole).

Seven small instances read in place from ``<repo>/../shared/benchmarks``, solved with one worker,
seed 0 and a cap on CP-SAT's *deterministic* time, so the plan found does not depend on the
machine's speed or load. The 30 s wall limit is a safety net that should not bind: the whole
slice takes about 16 s of wall and CPU time on this 2-core machine, and took 71 s (the slowest
instance 22 s) while other jobs loaded it (load average about 5). Where a loaded machine
does cut an instance short, the expected values still hold (they are reached early).

Each instance asserts: the plan passes the checker; ``lower_bound <= makespan``; the makespan is
not below the known optimum (which would mean a reader or checker bug); and the makespan is at
most ``expect``, what the engine reached when the slice was calibrated. ``expect`` equals the
optimum where we reach it; elsewhere the tolerance ``expect / optimum - 1`` is stated next to it
and is a measure of how far the engine still is from the optimum on that instance: tighten
``expect`` when the engine improves, never loosen it to make a change pass.

Calibrated with ``DETERMINISTIC_TIME = 1.0`` (per CP-SAT stage; makespan has one stage): at 0.5
the two optimal MSPSP makespans are found too but the bound is not proven; at 2.0 and 5.0 the
PSPLIB makespans do not change and the slice takes twice as long.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from allocator.checker import check
from allocator.engine import SolveParams, solve
from allocator.objective import makespan as makespan_of
from allocator.readers import read_benchmark

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "benchmarks"
DETERMINISTIC_TIME = 1.0

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not SHARED.is_dir(),
        reason=f"public benchmark folder {SHARED} (a copy of shared/benchmarks beside the repo) "
        "is missing",
    ),
]


@dataclass(frozen=True)
class Case:
    path: str  # relative to SHARED
    optimum: int  # proven optimum (published, or equal to the trivial lower bound)
    expect: int  # at most this makespan (== optimum where we reach it)
    proven: bool = False  # we also prove optimality within the deterministic budget


MSPSP_1A = "mspsp_young2017/instances/set-1/set-1a"
CASES = [
    # PSPLIB j30 (optima: Demeulemeester & Herroelen, j30opt.sm). A resource's units are a pool
    # of interchangeable people, modelled as one cumulative resource (``solver_models.pools``);
    # before that (one no-overlap per unit) the slice expected 48, 83 and 64 here.
    Case("psplib_rcpsp/j30/j301_1.sm", optimum=43, expect=43, proven=True),
    Case("psplib_rcpsp/j30/j3013_1.sm", optimum=58, expect=58),  # bound 49: one of the 15 open
    Case("psplib_rcpsp/j30/j3026_1.sm", optimum=59, expect=59, proven=True),
    # MSPSP set-1a, 20 activities, 10 workers (optima: Young, Schutt & Feydy 2017)
    Case(f"{MSPSP_1A}/inst_set1a_sf0_nc1.5_n20_m10_00.dzn", optimum=85, expect=88),  # +3.5 %
    Case(f"{MSPSP_1A}/inst_set1a_sf0.5_nc1.8_n20_m10_00.dzn", optimum=54, expect=54, proven=True),
    Case(f"{MSPSP_1A}/inst_set1a_sf0.75_nc2.1_n20_m10_00.dzn", optimum=113, expect=113),
    # iMOPSE Small: 230 = the load lower bound (trivial_lower_bound), so it is optimal
    Case("imopse/instances/Small/15_3_5_3.def", optimum=230, expect=230, proven=True),
]


@pytest.mark.parametrize("case", CASES, ids=[Path(c.path).stem for c in CASES])
def test_public_benchmark_slice(case: Case) -> None:
    portfolio = read_benchmark(SHARED / case.path)
    result = solve(
        portfolio,
        SolveParams(time_limit=30, workers=1, seed=0, deterministic_time=DETERMINISTIC_TIME),
    )
    plan = result.plan
    report = check(portfolio, plan)
    assert report.valid, [str(v) for v in report.violations[:5]]
    assert plan.objective is not None and plan.lower_bound is not None
    assert list(plan.objective) == ["makespan_days"]  # the makespan objective's one term
    makespan = plan.objective["makespan_days"]
    bound = plan.lower_bound["makespan_days"]
    assert makespan == makespan_of(portfolio, plan)  # the figure is the plan's own
    assert bound <= makespan
    assert bound <= case.optimum, f"lower bound {bound} above the proven optimum {case.optimum}"
    assert makespan >= case.optimum, f"makespan {makespan} below the proven optimum {case.optimum}"
    assert makespan <= case.expect, (
        f"quality regression: makespan {makespan}, expected at most {case.expect} "
        f"(optimum {case.optimum}); stats {result.stats}"
    )
    if case.proven:
        assert plan.status == "optimal" and bound == makespan
