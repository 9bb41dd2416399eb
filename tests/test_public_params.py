"""``benchmarks.public_params``: CP-SAT parameter variants compared side by side (issue 15).

A variant must change what CP-SAT is given (else the comparison compares nothing), the engine's
own ``cp_solver`` must be back in place after a run (a variant must never leak into later
solves), and every plan of a run is judged by the checker.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import pytest

from benchmarks import public_params
from solver_models.cpsat import CpSatParams, stages

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "benchmarks"


@pytest.mark.parametrize("name", [v for v in public_params.VARIANTS if v != "ours"])
def test_each_variant_changes_the_solver_parameters(name: str) -> None:
    solver = stages.cp_solver(CpSatParams(workers=2, seed=0), 1.0)
    before = str(solver.parameters)
    public_params.VARIANTS[name](solver.parameters)
    assert str(solver.parameters) != before


def test_ours_leaves_the_engine_parameters_alone() -> None:
    solver = stages.cp_solver(CpSatParams(workers=2, seed=0), 1.0)
    before = str(solver.parameters)
    public_params.VARIANTS["ours"](solver.parameters)
    assert str(solver.parameters) == before


@pytest.mark.slow
@pytest.mark.skipif(not SHARED.is_dir(), reason=f"public benchmark folder {SHARED} is missing")
def test_a_run_restores_the_solver_and_checks_every_plan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALLOCATOR_BENCHMARKS", str(SHARED))
    original = stages.cp_solver
    out = tmp_path / "rows.csv"
    args = argparse.Namespace(
        set="j30",
        instances="j301_1.sm",
        label="test",
        variants="ours,cumul",
        time_limit=30.0,
        workers=1,
        deterministic_time=0.5,
        out=str(out),
    )
    rows = public_params.run(args)
    assert stages.cp_solver is original
    assert [r["variant"] for r in rows] == ["ours", "cumul"]
    for r in rows:
        assert r["valid"] is True
        # 43 is j301_1's proven optimum: no plan below it, no bound above the plan
        assert isinstance(r["makespan"], int) and r["makespan"] >= 43
        assert int(str(r["lower_bound"])) <= r["makespan"]
    written = list(csv.DictReader(out.open()))
    assert [w["variant"] for w in written] == ["ours", "cumul"]
