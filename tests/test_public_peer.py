"""The PyJobShop peer of ``benchmarks.public`` on one instance of each formulation: its plan is
turned into ours and passes our checker, and its makespan is not below the known optimum (a
conversion or reader bug would show as either)."""

from __future__ import annotations

from pathlib import Path

import pytest

from allocator.readers import read_benchmark
from benchmarks.pyjobshop_peer import solve_pyjobshop

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "benchmarks"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not SHARED.is_dir(), reason=f"public benchmark folder {SHARED} is missing"),
]


@pytest.mark.parametrize(
    ("path", "formulation", "optimum"),
    [
        ("psplib_rcpsp/j30/j301_1.sm", "renewable", 43),
        (
            "mspsp_young2017/instances/set-1/set-1a/inst_set1a_sf0.5_nc1.8_n20_m10_00.dzn",
            "places",
            54,
        ),
        ("imopse/instances/Small/15_3_5_3.def", "places", 230),
    ],
)
def test_peer_plan_passes_our_checker(path: str, formulation: str, optimum: int) -> None:
    peer = solve_pyjobshop(read_benchmark(SHARED / path), formulation, 10.0, 1, 0)
    assert peer.status in ("Optimal", "Feasible")
    assert peer.valid is True
    assert peer.makespan is not None and peer.makespan >= optimum
    assert peer.lower_bound is not None and peer.lower_bound <= optimum
