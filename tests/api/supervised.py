"""Job handlers for tests/api/test_supervisor.py, run in the supervisor's child processes.

They stand for phases that never look at the stop event (a long compile, a greedy run, the
reasons). They live here, not in the test module, so that a child imports only what they need
(no pytest, no test client): a child's start-up counts against its job's time limit."""

from __future__ import annotations

from allocator.engine import SolveParams, solve
from allocator_api.jobs import JobContext
from allocator_api.repository import ClaimedJob
from allocator_api.service import checked_plan, stored_portfolio


def greedy_then_spin(job: ClaimedJob, ctx: JobContext) -> None:
    """Stores a checked greedy plan, then spins without ever looking at ``ctx.stop``."""
    portfolio = stored_portfolio(job.portfolio)
    plan = solve(portfolio, SolveParams(greedy_only=True, workers=1, seed=0)).plan
    ctx.save_plan(checked_plan(portfolio, plan, where="of the test"), final=False)
    while True:
        sum(range(10_000))


def spin(job: ClaimedJob, ctx: JobContext) -> None:
    """Spins before any plan, never looking at ``ctx.stop`` (a compile that does not end)."""
    while True:
        sum(range(10_000))


def hog(job: ClaimedJob, ctx: JobContext) -> None:
    """Asks for 3 GiB at once: over the test's memory ceiling (2 GiB)."""
    blob = bytearray(3 * 1024**3)
    raise AssertionError(f"the memory ceiling did not hold: got {len(blob)} bytes")


def mark_then_spin(job: ClaimedJob, ctx: JobContext) -> None:
    """Creates the file ``job.input["ready_file"]`` (the child is past its start-up), then
    spins like :func:`spin`."""
    with open(str(job.input["ready_file"]), "w") as f:
        f.write("ready")
    spin(job, ctx)


def own_niceness(pipe: object, stop: object) -> int:
    """A child function: the child's niceness (``os.nice(0)``)."""
    import os

    return os.nice(0)


def own_pid(pipe: object, stop: object) -> int:
    """A child function (``supervise(own_pid, ())``): the child's process id."""
    import os

    return os.getpid()


def die(pipe: object, stop: object) -> None:
    """A child function that ends its process at once with exit code 9 (a crash)."""
    import os

    os._exit(9)
