"""``cpsat.booked_capacity`` (vectorised) against its definition, task by task."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from hypothesis import given, settings
from hypothesis import strategies as st

from allocator.generator import generate
from solver_models.cpsat import booked_capacity
from solver_models.greedy import greedy
from solver_models.instance import Instance, compile_instance
from solver_models.schedule import Schedule


def _by_definition(inst: Instance, sched: Schedule, exclude: set[int]) -> npt.NDArray[np.int64]:
    """Each task's allocation on each day of its span where all its people are available."""
    booked = np.zeros_like(inst.cap)
    for i, s in sched.start.items():
        people = list(sched.people.get(i, ()))
        if i in exclude or not people:
            continue
        for d in range(s, sched.finish[i] + 1):
            if all(inst.avail[p, d] for p in people):
                for p in people:
                    booked[p, d] += inst.tasks[i].alloc
    return booked


@settings(max_examples=20, deadline=None)
@given(
    st.integers(0, 10_000),
    st.floats(0.0, 0.5),
    st.sampled_from(["edf", "priority"]),
    st.floats(0.0, 1.0),
)
def test_booked_capacity_is_the_sum_of_active_days(
    seed: int, team_share: float, rule: str, drop: float
) -> None:
    portfolio = generate(8, 5, seed=seed, team_task_share=team_share)
    inst = compile_instance(portfolio)
    sched = greedy(inst, rule=rule)
    exclude = {i for n, i in enumerate(sorted(sched.start)) if (n * 7919 % 100) < drop * 100}
    assert np.array_equal(
        booked_capacity(inst, sched, exclude), _by_definition(inst, sched, exclude)
    )
    assert np.array_equal(booked_capacity(inst, sched), _by_definition(inst, sched, set()))
