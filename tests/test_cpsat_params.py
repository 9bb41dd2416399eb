"""The search parameters are declared once: :class:`solver_models.cpsat.CpSatParams` holds them,
:class:`allocator.engine.SolveParams` extends it, and each CP-SAT search gets a plain copy with
its share of the time."""

from __future__ import annotations

import inspect
from dataclasses import fields

from allocator.engine import SolveParams
from solver_models.cpsat import CpSatParams

SEARCH = ("time_limit", "workers", "seed", "deterministic_time", "log_search")


def test_the_search_fields_are_declared_once() -> None:
    assert tuple(f.name for f in fields(CpSatParams)) == SEARCH
    assert issubclass(SolveParams, CpSatParams)
    # SolveParams declares none of them again (a copy could drift: another default, a type)
    assert not set(SEARCH) & set(inspect.get_annotations(SolveParams))
    assert SolveParams().time_limit == CpSatParams().time_limit == 20.0
    assert SolveParams().workers == CpSatParams().workers == 2


def test_a_search_gets_the_solve_values_and_its_own_time() -> None:
    sp = SolveParams(time_limit=30, workers=1, seed=7, deterministic_time=4.5, log_search=True)
    got = sp.cpsat(3.25)
    assert type(got) is CpSatParams  # not the solve's own parameters (stop event, previous ...)
    assert got == CpSatParams(
        time_limit=3.25, workers=1, seed=7, deterministic_time=4.5, log_search=True
    )
    assert sp.time_limit == 30  # the solve's limit is not changed
    assert CpSatParams(workers=3).for_search(1.0) == CpSatParams(time_limit=1.0, workers=3)
