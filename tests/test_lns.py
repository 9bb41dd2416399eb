"""Large neighbourhood search keeps plans valid and never worse than its start.

"Never worse" alone also holds when every sub-solve fails (the start comes back unchanged): each
run here also asserts that no sub-solve failed, and on fixed portfolios whose greedy start is
known to leave room, that LNS found improvements and a strictly better plan."""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from allocator.checker import check
from allocator.domain import Plan
from allocator.engine import SolveParams, solve
from allocator.generator import generate
from allocator.objective import evaluate, plan_terms
from solver_models.cpsat import CpSatParams
from solver_models.greedy import greedy
from solver_models.instance import Instance, compile_instance
from solver_models.lns import KINDS, _Chooser, _touched, compatible, improve, schedule_key
from solver_models.schedule import Schedule, to_plan


@settings(max_examples=6)
@given(st.integers(0, 10_000), st.sampled_from([0.0, 0.3]))
def test_lns_plans_are_valid_and_never_worse_than_greedy(seed: int, teams: float) -> None:
    portfolio = generate(12, 6, seed=seed, team_task_share=teams, tightness=1.2)
    greedy_plan = solve(portfolio, SolveParams(greedy_only=True)).plan
    result = solve(portfolio, SolveParams(time_limit=4, workers=1, seed=0, strategy="lns"))
    assert result.stats["strategy"] == "lns"
    lns = result.stats["lns"]
    assert isinstance(lns, dict) and lns["iterations"] >= 1 and lns["errors"] == 0
    report = check(portfolio, result.plan)
    assert report.valid, [v.message for v in report.violations]
    assert evaluate(portfolio, result.plan).key() <= evaluate(portfolio, greedy_plan).key()


def test_schedule_key_matches_the_objective() -> None:
    portfolio = generate(10, 5, seed=3, team_task_share=0.3)
    inst = compile_instance(portfolio)
    sched = greedy(inst, rule="edf")
    improved, stats = improve(inst, sched, "portfolio", CpSatParams(workers=1), seconds=3)
    assert isinstance(stats["iterations"], int) and stats["iterations"] >= 1
    assert stats["errors"] == 0 and stats["improvements"] >= 1  # about 4 in 69 iterations
    for s in (sched, improved):
        plan = to_plan(
            inst,
            s,
            status="feasible",
            objective=None,
            lower_bound=None,
            solve_seconds=0.0,
            solver="t",
        )
        assert schedule_key(inst, s, "portfolio") == evaluate(portfolio, plan).key()
    assert schedule_key(inst, improved, "portfolio") < schedule_key(inst, sched, "portfolio")


# -- parallel sub-solves, merging, and Dask ---------------------------------------------------------
def _plan(inst: Instance, sched: Schedule) -> Plan:
    """The plan of ``sched``, with its objective (the checker requires it)."""
    plan = to_plan(
        inst,
        sched,
        status="feasible",
        objective=None,
        lower_bound=None,
        solve_seconds=0.0,
        solver="t",
    )
    return replace(plan, objective=plan_terms(inst.portfolio, plan))


def test_parallel_threads_keep_plans_valid_and_never_worse() -> None:
    portfolio = generate(24, 12, seed=5, team_task_share=0.3, tightness=1.3)
    inst = compile_instance(portfolio)
    start = greedy(inst, rule="edf", team_contiguous=True)
    best, stats = improve(inst, start, "portfolio", CpSatParams(workers=2, seed=1), seconds=5)
    assert stats["where"] == "threads" and stats["slots"] == 2
    assert isinstance(stats["iterations"], int) and stats["iterations"] >= 2
    # a neighbourhood takes at most half the tasks, so that the other slot finds work too
    size = stats["neighbourhood"]
    assert isinstance(size, int) and size <= sum(t.possible for t in inst.tasks) // 2
    assert stats["errors"] == 0 and stats["improvements"] >= 1
    report = check(portfolio, _plan(inst, best))
    assert report.valid, [v.message for v in report.violations]
    assert schedule_key(inst, best, "portfolio") < schedule_key(inst, start, "portfolio")


def test_compatible_rejects_a_part_that_overbooks_or_breaks_precedence() -> None:
    portfolio = generate(8, 4, seed=2, tightness=1.0)
    inst = compile_instance(portfolio)
    base = greedy(inst, rule="edf", team_contiguous=True)
    one = next(
        i
        for i in base.start
        if not inst.tasks[i].is_team and base.people[i] and inst.tasks[i].alloc == 100
    )
    # the same placement again is compatible
    part = Schedule()
    part.add(one, base.start[one], base.finish[one], base.people[one])
    assert compatible(inst, base, {one}, part)
    # a second task put on top of ``one`` without freeing it overbooks its person
    other = next(i for i in base.start if i != one and base.people[i] != base.people[one])
    clash = Schedule()
    clash.add(other, base.start[one], base.finish[one], base.people[one])
    assert not compatible(inst, base, {other}, clash)
    # a predecessor moved after its successor's start breaks precedence
    succ = next((i for i in base.start if any(u in base.start for u in inst.tasks[i].preds)), None)
    assert succ is not None, "the portfolio must have a planned precedence edge to test"
    pred = next(u for u in inst.tasks[succ].preds if u in base.start)
    late = Schedule()
    s = base.start[succ]
    late.add(pred, s, s + (base.finish[pred] - base.start[pred]), base.people[pred])
    assert not compatible(inst, base, {pred}, late)
    unplanned = Schedule()  # dropping a planned task's predecessor is not allowed either
    assert not compatible(inst, base, {pred}, unplanned)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    import distributed  # the nightly extra, installed by dev

    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    ) as c:
        yield c


def test_lns_over_dask_returns_a_valid_plan_never_worse_than_greedy(cluster: Any) -> None:
    portfolio = generate(20, 10, seed=11, team_task_share=0.2, tightness=1.3)
    greedy_plan = solve(portfolio, SolveParams(greedy_only=True)).plan
    result = solve(
        portfolio,
        SolveParams(
            time_limit=8, workers=1, seed=0, strategy="lns", dask_address=cluster.scheduler_address
        ),
    )
    lns = result.stats["lns"]
    assert isinstance(lns, dict) and lns["where"] == "dask" and lns["slots"] == 2
    # no failed sub-solve (the engine's own start is already better than this greedy plan:
    # improvements over it are not guaranteed here; the serial and thread tests assert them)
    assert lns["iterations"] >= 2 and lns["errors"] == 0
    report = check(portfolio, result.plan)
    assert report.valid, [v.message for v in report.violations]
    assert evaluate(portfolio, result.plan).key() <= evaluate(portfolio, greedy_plan).key()


def test_a_worker_killed_mid_run_loses_nothing(cluster: Any) -> None:
    from distributed import Client

    portfolio = generate(20, 10, seed=12, tightness=1.3)
    inst = compile_instance(portfolio)
    start = greedy(inst, rule="priority", team_contiguous=True)
    out: dict[str, Any] = {}

    def run() -> None:
        out["result"] = improve(
            inst,
            start,
            "portfolio",
            CpSatParams(workers=1, seed=3),
            seconds=10,
            dask_address=cluster.scheduler_address,
        )

    th = threading.Thread(target=run)
    th.start()
    time.sleep(4)
    with Client(cluster.scheduler_address, set_as_default=False) as client:  # type: ignore[no-untyped-call]
        pids = client.run(os.getpid)
    os.kill(next(iter(pids.values())), signal.SIGKILL)
    th.join(timeout=60)  # a hang guard, not a timing claim
    assert not th.is_alive(), "LNS did not come back after a worker died"
    best, stats = out["result"]
    assert isinstance(stats["iterations"], int) and stats["iterations"] >= 1
    report = check(portfolio, _plan(inst, best))
    assert report.valid, [v.message for v in report.violations]
    assert schedule_key(inst, best, "portfolio") <= schedule_key(inst, start, "portfolio")


def test_an_unreachable_dask_address_falls_back_to_local_solves() -> None:
    portfolio = generate(10, 5, seed=4, tightness=1.2)
    inst = compile_instance(portfolio)
    start = greedy(inst, rule="edf", team_contiguous=True)
    best, stats = improve(
        inst,
        start,
        "portfolio",
        CpSatParams(workers=1, seed=0),
        seconds=5,
        dask_address="tcp://127.0.0.1:9",
    )
    assert stats["where"] == "serial"
    assert stats["errors"] == 0 and stats["improvements"] >= 1
    assert schedule_key(inst, best, "portfolio") < schedule_key(inst, start, "portfolio")


# -- choosing neighbourhoods (issue 15) -----------------------------------------------------------
def _small() -> tuple[Instance, Schedule]:
    """The ladder's smallest shape (20 people, 25 projects; ``benchmarks.scale``), greedy plan."""
    inst = compile_instance(generate(20, 25, seed=7, tightness=1.0))
    return inst, greedy(inst, rule="edf")


def _tasks_of(sched: Schedule, people: set[int]) -> set[int]:
    return {i for i, ps in sched.people.items() if not people.isdisjoint(ps)}


@pytest.mark.parametrize("kind", KINDS)
def test_a_neighbourhood_below_its_size_holds_every_task_of_its_people(kind: str) -> None:
    # on a small portfolio the tasks of a few people in a short window are a handful: the window
    # widens until the neighbourhood has the size asked for or all its people's tasks
    inst, sched = _small()
    chooser = _Chooser(inst, random.Random(3))
    sizes = []
    for _ in range(8):
        free, people, _ = chooser.choose(kind, sched, 60)
        if len(free) < 60:
            assert _tasks_of(sched, people) <= free
        sizes.append(len(free))
    assert max(sizes) >= 60


def test_a_second_neighbourhood_beside_a_running_one_is_not_starved() -> None:
    # two slots on 20 people: the first neighbourhood takes at most half of them, so the second
    # (chosen while the first runs: none of its tasks, none of the people it touches) has work
    # (measured before: with 25 people a neighbourhood, the second ``window`` one had no task)
    inst, sched = _small()
    chooser = _Chooser(inst, random.Random(5), slots=2)
    for kind in KINDS * 6:
        free1, people1, _ = chooser.choose(kind, sched, 60)
        busy = _touched(sched, free1, people1)
        assert len(people1) <= len(inst.people) // 2
        free2, people2, _ = chooser.choose(kind, sched, 60, set(free1), busy)
        assert free2.isdisjoint(free1) and people2.isdisjoint(busy)
        assert all(busy.isdisjoint(sched.people.get(i, ())) for i in free2)
        if kind in ("window", "project"):
            assert len(free2) >= 10, kind


def test_neighbourhoods_are_the_same_for_the_same_seed() -> None:
    inst, sched = _small()
    runs = []
    for _ in range(2):
        chooser = _Chooser(inst, random.Random(11), slots=2)
        runs.append([chooser.choose(kind, sched, 50) for kind in KINDS * 3])
    assert runs[0] == runs[1]
