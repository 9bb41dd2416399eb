"""Wall-clock timings that used to be asserts in the tests (a test must not fail because the
machine is busy): generating 10,000 tasks, and checking a plan of a large portfolio.

``python -m benchmarks.timings`` prints each timing with its budget and exits 1 when one is over
budget (run it on an idle machine).
"""

from __future__ import annotations

import sys
import time

from allocator.checker import check
from allocator.engine import SolveParams, solve
from allocator.generator import generate

#: (what, budget in seconds); the budgets the tests used to assert
BUDGETS = {"generate 1000 people x 1250 projects": 15.0, "check a 300-person plan": 5.0}


def main() -> int:
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    generate(1000, 1250, seed=0)
    timings["generate 1000 people x 1250 projects"] = time.perf_counter() - t0
    portfolio = generate(300, 250, seed=0)
    plan = solve(portfolio, SolveParams(greedy_only=True)).plan
    t0 = time.perf_counter()
    check(portfolio, plan)
    timings["check a 300-person plan"] = time.perf_counter() - t0
    over = 0
    for what, seconds in timings.items():
        budget = BUDGETS[what]
        over += seconds > budget
        print(f"{what}: {seconds:.2f} s (budget {budget:.0f} s)")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
