"""Shared hypothesis strategies: small generated portfolios, quick to solve."""

from __future__ import annotations

from hypothesis import strategies as st

from allocator.engine import SolveParams
from allocator.generator import generate

#: generated portfolios of 1-6 people and 1-3 projects of 1-5 tasks, with and without team tasks
#: and hard deadlines
small = st.builds(
    lambda people, projects, seed, hard, team: generate(
        people,
        projects,
        seed=seed,
        tasks_per_project=(1, 5),
        team_task_share=team,
        hard_deadlines=hard,
        tightness=1.1,
    ),
    st.integers(1, 6),
    st.integers(1, 3),
    st.integers(0, 10_000),
    st.booleans(),
    st.sampled_from([0.0, 0.3]),
)

#: a short, single-worker, seeded solve
FAST = SolveParams(time_limit=3, workers=1, seed=0)
