"""Bounds on undelivered work (issue 15, item 3): the engine's first-term bound against the
scheduling relaxation without assignment (``solver_models.pool_bound``), side by side.

    python -m benchmarks.bounds --ladder 200,2000,10000 --seconds 10 --pool-seconds 120
    python -m benchmarks.bounds --versus 5x3,8x6,12x10 --seeds 1,2,3,4,5,6 --seconds 5
    python -m benchmarks.bounds --small 4x2,6x3 --seeds 1,2,3,4,5,6 --seconds 5 --optimum-limit 10

``--ladder``: the scale ladder's portfolios (``benchmarks.scale_rows.LADDER``, tightness 1.0,
seed 7); per size, ``undelivered_lower_bound`` as the engine called it before
``pool_bound`` (``pool=False``: the LPs and the assignment relaxation) and ``pool_bound``, each given ``--seconds`` (one worker; the pool
relaxation ``--pool-seconds`` where given, on the ladder only), with the
*ceilings* of the two integer relaxations (the undelivered work of the best solution CP-SAT
found of each, given ``--seconds`` more: no bound from that relaxation can exceed it), and the best
plan known: the least undelivered work of the engine's rows of ``benchmarks/results/scale.csv``
at that size and seed (all time limits, so the 300 s runs where they exist).

``--versus``: generated ``PEOPLExPROJECTS`` portfolios (tightness 1.0, the given seeds), the
two bounds side by side (no plan).

``--small``: generated ``PEOPLExPROJECTS`` portfolios (tightness 1.0, the given seeds) solved by
the engine (``workers=1``, ``--optimum-limit`` seconds); where it proves its plan optimal, the
optimum's undelivered work and each bound's ratio to it. Each row is printed as a CSV line and
appended to ``benchmarks/results/bounds.csv``.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import sys
import time
from pathlib import Path

CSV = Path(__file__).resolve().parent / "results" / "bounds.csv"
FIELDS = [
    "kind", "portfolio", "tasks", "people", "seconds", "engine_bound_h", "engine_bound_s",
    "pool_bound_h", "pool_status", "pool_s", "pool_ceiling_h", "assignment_h",
    "assignment_ceiling_h", "plan_h", "plan_from", "load1", "date",
]  # fmt: skip


def _best_known(size: int, seed: int) -> tuple[float | None, str]:
    path = Path(__file__).resolve().parent / "results" / "scale.csv"
    best: tuple[float | None, str] = (None, "")
    with path.open() as f:
        for r in csv.DictReader(f):
            if (
                r["size"] == str(size)
                and r["seed"] == str(seed)
                and r.get("solver", "engine") in ("engine", "")
                and r["undelivered_h"]
                and r["valid"] == "True"
            ):
                h = float(r["undelivered_h"])
                if best[0] is None or h < best[0]:
                    best = (h, f"scale.csv {r['time_limit']} s")
    return best


def _bounds(inst: object, seconds: float, pool_seconds: float | None = None) -> dict[str, object]:
    from solver_models.assignment_bound import assignment_relaxation
    from solver_models.bounds import undelivered_lower_bound
    from solver_models.instance import Instance
    from solver_models.pool_bound import pool_bound

    assert isinstance(inst, Instance)
    const = inst.impossible_units()
    t = time.monotonic()
    old = undelivered_lower_bound(inst, time_limit=seconds, pool=False)
    old_s = time.monotonic() - t
    t = time.monotonic()
    new = pool_bound(inst, time_limit=seconds if pool_seconds is None else pool_seconds)
    new_s = time.monotonic() - t
    whole = assignment_relaxation(inst, time_limit=seconds)

    def hours(units: int | None) -> float | None:
        return None if units is None else (units + const) / 100

    return {
        "engine_bound_h": None if old is None else (old + const) / 100,
        "engine_bound_s": round(old_s, 1),
        "pool_bound_h": None if new is None else (new.undelivered + const) / 100,
        "pool_status": None if new is None else new.status,
        "pool_s": round(new_s, 1),
        "pool_ceiling_h": None if new is None else hours(new.ceiling),
        "assignment_h": None if whole is None else hours(whole.undelivered),
        "assignment_ceiling_h": None if whole is None else hours(whole.ceiling),
    }


def _emit(row: dict[str, object]) -> None:
    row = {**row, "load1": os.getloadavg()[0], "date": dt.date.today().isoformat()}
    new = not CSV.exists()
    with CSV.open("a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        if new:
            w.writeheader()
        w.writerow(row)
    print(",".join(str(row.get(k, "")) for k in FIELDS), flush=True)


def main(argv: list[str] | None = None) -> int:
    from allocator.generator import generate
    from allocator.pipeline import compile_for
    from benchmarks.scale_rows import LADDER

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--ladder", default="")
    ap.add_argument("--small", default="")
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--versus", default="")
    ap.add_argument("--pool-seconds", type=float, default=None)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--optimum-limit", type=float, default=30.0)
    args = ap.parse_args(argv)
    print(",".join(FIELDS))
    for size in [int(x) for x in args.ladder.split(",") if x]:
        people, projects = LADDER[size]
        p = generate(people, projects, seed=7, tightness=1.0)
        inst = compile_for(p)
        plan_h, plan_from = _best_known(size, 7)
        _emit(
            {
                "kind": "ladder",
                "portfolio": f"ladder {size} seed 7",
                "tasks": len(inst.tasks),
                "people": len(inst.people),
                "seconds": args.seconds,
                **_bounds(inst, args.seconds, args.pool_seconds),
                "plan_h": plan_h,
                "plan_from": plan_from,
            }
        )
    for spec in [x for x in args.versus.split(",") if x]:
        people, projects = (int(v) for v in spec.split("x"))
        for seed in [int(x) for x in args.seeds.split(",") if x]:
            inst = compile_for(generate(people, projects, seed=seed, tightness=1.0))
            _emit(
                {
                    "kind": "versus",
                    "portfolio": f"{spec} seed {seed}",
                    "tasks": len(inst.tasks),
                    "people": len(inst.people),
                    "seconds": args.seconds,
                    **_bounds(inst, args.seconds),
                }
            )
    for spec in [x for x in args.small.split(",") if x]:
        people, projects = (int(v) for v in spec.split("x"))
        for seed in [int(x) for x in args.seeds.split(",") if x]:
            from allocator.engine import SolveParams, solve

            p = generate(people, projects, seed=seed, tightness=1.0)
            res = solve(p, SolveParams(time_limit=args.optimum_limit, workers=1, seed=0))
            if res.status != "optimal" or res.key is None:
                print(f"# {spec} seed {seed}: {res.status}, skipped", file=sys.stderr)
                continue
            inst = compile_for(p)
            _emit(
                {
                    "kind": "small",
                    "portfolio": f"{spec} seed {seed}",
                    "tasks": len(inst.tasks),
                    "people": len(inst.people),
                    "seconds": args.seconds,
                    **_bounds(inst, args.seconds),
                    "plan_h": res.key[0] / 100,
                    "plan_from": "optimum (engine, proven)",
                }
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
