"""Scale ladder, rows: the ladder, the CSV's columns and how rows are keyed, read and compared.

The middle of run -> rows -> report (``benchmarks.scale`` runs, ``benchmarks.scale_report``
writes): a row is one run (the engine's, or a peer's), keyed by size, time limit, seed, workers
and solver in ``benchmarks/results/scale.csv``; the last row of a key wins.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path
from typing import Any

CSV = Path(__file__).resolve().parent / "results" / "scale.csv"
#: nominal tasks -> (people, projects); about 8 tasks a project. 2,000 tasks get 300 people
#: (not 200) and 10,000 get 1,000, the sizes the issue's targets are stated for.
LADDER: dict[int, tuple[int, int]] = {
    200: (20, 25),
    2000: (300, 250),
    10000: (1000, 1250),
    50000: (5000, 6250),
}
#: the issue's targets: size -> (first plan seconds, gap, at time limit, peak MB or None)
TARGETS: dict[int, tuple[float, float, float, float | None]] = {
    2000: (5.0, 0.03, 60.0, None),
    10000: (30.0, 0.05, 300.0, 4096.0),
}
GREEDY = "greedy"
#: the engine's rows; a peer's rows carry its name (``--peers``)
ENGINE = "engine"
PEERS = ("timefold", "pyjobshop")
FIELDS = [
    "size",
    "people",
    "projects",
    "tasks",
    "pairs",
    "tightness",
    "seed",
    "workers",
    "time_limit",
    "outcome",
    "generate_s",
    "first_plan_s",
    "compile_s",
    "greedy_s",
    "solve_s",
    "check_s",
    "wall_s",
    "total_h",
    "undelivered_h",
    "late_days",
    "greedy_undelivered_h",
    "ratio",
    "gap",
    "lower_bound",
    "lb_undelivered_h",
    "bound_from",
    "lp_bound_s",
    "strategy",
    "chosen",
    "lns_iterations",
    "lns_improvements",
    "peak_rss_mb",
    "solve_rss_mb",
    "valid",
    "load1",
    "shared_with",
    "code",
    "command",
    "date",
    # added with the peers (empty in older rows: the engine's)
    "solver",
    "finish_days",
    "cost",
    "assigned",
    "peer_status",
    "peer_threads",
    "violations",
    "dropped",
    "dropped_why",
    "repaired_undelivered_h",
    "repaired_valid",
    "vs_engine",
    "ratio_to_engine",
]


def solver_of(row: dict[str, Any]) -> str:
    """The row's solver (rows made before the peers have none: the engine's)."""
    return str(row.get("solver") or ENGINE)


def compare(peer: dict[str, Any], ours: dict[str, str] | None) -> None:
    """Fill a peer row's comparison with the engine's row of the same size, limit, seed and
    workers: ``vs_engine`` is the lexicographic verdict on (undelivered, late, finish, cost)
    from the peer's side, ``ratio_to_engine`` its undelivered work over ours."""
    if not ours or peer.get("undelivered_h") in (None, "") or not ours.get("undelivered_h"):
        return
    keys: list[str] = []
    for k in ("undelivered_h", "late_days", "finish_days", "cost"):
        if ours.get(k) in (None, "") or peer.get(k) in (None, ""):
            break  # an engine row made before these columns: compare on what both have
        keys.append(k)
    mine = tuple(float(str(peer[k])) for k in keys)
    theirs = tuple(float(ours[k]) for k in keys)
    if peer.get("valid") not in (True, "True"):
        peer["vs_engine"] = "invalid"
    else:
        verdict = "better" if mine < theirs else "worse" if mine > theirs else "equal"
        peer["vs_engine"] = verdict + ("" if len(keys) == 4 else f" (on {', '.join(keys)})")
    ou = float(ours["undelivered_h"])
    peer["ratio_to_engine"] = round(float(str(peer["undelivered_h"])) / ou, 4) if ou else ""


def derive(row: dict[str, Any], g: dict[str, str] | None) -> None:
    """Fill an engine row's comparisons with its size's greedy row (when that finished)."""
    if not g or not g.get("undelivered_h"):
        return
    gu = float(g["undelivered_h"])
    row["greedy_undelivered_h"] = gu
    row["pairs"] = g.get("pairs", "")
    row["total_h"] = row.get("total_h") or g.get("total_h", "")
    if row.get("undelivered_h") not in (None, ""):
        row["ratio"] = round(float(str(row["undelivered_h"])) / gu, 4) if gu else ""
    lb, glb = row.get("lb_undelivered_h"), g.get("lb_undelivered_h")
    if lb not in (None, "") and glb and float(str(lb)) == float(glb):
        # the greedy run's bound is the analytic one: this run proved nothing more
        row["bound_from"] = "analytic"


def row_key(
    size: object, limit: object, seed: object, workers: object, solver: str = ENGINE
) -> str:
    """A row's identity: ``size/limit/seed/workers`` (``/solver`` for a peer's row)."""
    lim = str(limit) if str(limit) == GREEDY else str(float(str(limit)))
    tail = "" if solver in ("", ENGINE) else f"/{solver}"
    return f"{size}/{lim}/{seed}/{workers}{tail}"


def load(path: Path) -> dict[str, dict[str, str]]:
    """The rows in ``path`` by :func:`row_key` (the last of a key wins), ``{}`` without a file.

    A file written by an earlier version (other columns) is rewritten with :data:`FIELDS`, the
    same rows.
    """
    done: dict[str, dict[str, str]] = {}
    if not path.exists():
        return done
    with path.open() as f:
        reader = csv.DictReader(f)
        old = list(reader)
    for row in old:
        key = row_key(row["size"], row["time_limit"], row["seed"], row["workers"], solver_of(row))
        done[key] = row
    if reader.fieldnames != FIELDS:  # written by an earlier version: same rows, new columns
        with path.open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=FIELDS, extrasaction="ignore")
            w.writeheader()
            w.writerows(old)
    return done


def select(
    done: dict[str, dict[str, str]], sizes: Iterable[int], seed: int, workers: int
) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """The engine rows and the peer rows of ``sizes`` (at ``seed`` and ``workers``, whatever
    invocation made them), in ladder order, with their comparisons filled in (:func:`derive`,
    :func:`compare`)."""
    wanted = set(sizes)

    def order(r: dict[str, str]) -> tuple[int, float]:
        return int(r["size"]), -1.0 if r["time_limit"] == GREEDY else float(r["time_limit"])

    mine = [
        r
        for r in done.values()
        if int(r["size"]) in wanted and r["seed"] == str(seed) and r["workers"] == str(workers)
    ]
    rows = sorted((r for r in mine if solver_of(r) == ENGINE), key=order)
    peer_rows = sorted(
        (r for r in mine if solver_of(r) != ENGINE),
        key=lambda r: (*order(r), PEERS.index(solver_of(r)) if solver_of(r) in PEERS else 99),
    )
    for r in rows:
        if r["time_limit"] != GREEDY:
            derive(r, done.get(row_key(r["size"], GREEDY, r["seed"], r["workers"])))
    for r in peer_rows:
        compare(r, done.get(row_key(r["size"], r["time_limit"], r["seed"], r["workers"])))
    return rows, peer_rows
