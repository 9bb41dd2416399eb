"""The benchmark peers on a tiny generated portfolio: Timefold (Java) and PyJobShop.

Each peer's plan must pass the independent checker, and the Timefold answer must survive the
conversion both ways (Java answer -> contract plan -> Java answer). The Timefold jars come from
the installed ``timefold==1.24.0b0`` package (a dependency of the ``bench`` extra, which ``dev``
and so ``make test`` install): nothing is downloaded at test time. The test is skipped only when
``java`` / ``javac`` are missing.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from allocator.checker import check
from allocator.domain import Portfolio
from allocator.generator import generate
from allocator.objective import evaluate
from benchmarks.timefold_peer import (
    answer_of,
    export,
    installed_jars,
    jars,
    java_available,
    solve_timefold,
)
from solver_models.instance import compile_instance


def _portfolio() -> Portfolio:
    # about 15 tasks, 4 people
    return generate(4, 2, seed=3, tightness=1.0, tasks_per_project=(7, 8))


@pytest.mark.skipif(not java_available(), reason="java/javac not installed")
def test_timefold_plan_is_valid_and_round_trips(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # the jars are the installed package's; any download (pip in a subprocess) fails the test
    jar_dir = installed_jars()
    assert jar_dir is not None, "timefold==1.24.0b0 is not installed: pip install -e '.[dev]'"
    assert jars() == jar_dir
    monkeypatch.setenv("ALLOCATOR_TIMEFOLD_CACHE", str(tmp_path))  # compile afresh, no old cache
    real_run = subprocess.run

    def no_download(args: Any, *a: Any, **kw: Any) -> Any:
        assert "download" not in args, f"a download at test time: {args}"
        return real_run(args, *a, **kw)

    monkeypatch.setattr(subprocess, "run", no_download)
    portfolio = _portfolio()
    assert 12 <= len(portfolio.tasks_to_plan) <= 18
    # 10 s: the JVM start and the construction heuristic took over 3 s on a loaded machine
    out = solve_timefold(portfolio, 10.0, seed=0)
    assert out.plan is not None, out.stats
    assert out.valid, check(portfolio, out.plan).violations
    assert out.repaired_terms is None and out.dropped == 0
    assert out.stats["move_threads"] == 1
    # a valid plan carries a hard score of 0
    assert str(out.stats["score"]).startswith("[0]hard")
    # conversion round trip: the Java answer is exactly the plan's assignments
    inst = compile_instance(portfolio)
    _, keep = export(inst)
    assert keep == out.stats["keep"]
    assert answer_of(inst, out.plan, keep) == sorted(out.stats["answer"])
    # the Java score's soft levels are the engine's objective terms (on the exported tasks)
    terms = evaluate(portfolio, out.plan)
    soft = str(out.stats["score"]).split("[")[2].rstrip("]soft").split("/")
    left_out = sum(t.units for t in inst.tasks if not t.possible)
    assert [-int(x) for x in soft] == [
        terms.undelivered - left_out,
        terms.late,
        terms.finish,
        terms.cost,
    ]
    assert len(out.plan.assignments) > 0


def test_pyjobshop_generated_plan_is_valid() -> None:
    from benchmarks.pyjobshop_generated import solve_pyjobshop_generated

    portfolio = _portfolio()
    out = solve_pyjobshop_generated(portfolio, 3.0, workers=1, seed=0)
    assert out.plan is not None
    assert out.status in ("Optimal", "Feasible"), out.stats
    assert out.valid, check(portfolio, out.plan).violations
    assert len(out.plan.assignments) + len(out.plan.unassigned) == len(portfolio.tasks_to_plan)
    assert len(out.plan.assignments) > 0
