"""The engine on public scheduling benchmarks, against published best-known makespans.

One command per set (instances are read in place from ``<repo>/../shared/benchmarks``):

    python -m benchmarks.public --set j30 --sample 48 --seed 1 --time-limit 10 --workers 2 \\
        --peer pyjobshop --record

Sets: ``j30``, ``j60``, ``j120`` (PSPLIB RCPSP), ``mspsp`` (Young, Schutt & Feydy 2017, sets
1a/1b/2a/2b/2c), ``imopse-d36`` (the classic 36 iMOPSE MS-RCPSP instances).

Per instance: our makespan, the best known and the published lower bound (``best_known.csv``
of the set), the gap to the best known ``(ours - best) / best``, whether we proved optimality
(``status == optimal``), our lower bound, seconds, and the verdict of ``allocator.checker``.
iMOPSE has no published best known: the gaps are to our own lower bound and to the set's
``trivial_lower_bound``, both as ``(ours - bound) / bound``.

``--sample N --seed K`` is a fixed stratified sample: instances are grouped by family (PSPLIB
parameter group ``j30<g>_<i>``, MSPSP subset, iMOPSE ``<tasks>_<resources>``); each family gets
a share of ``N`` proportional to its size and at least one, and its instances are drawn with
``random.Random(K)``; the same ``N``/``K`` always give the same instances.

``--peer pyjobshop`` solves each instance with PyJobShop 0.0.9 (OR-Tools back-end, see
``benchmarks/pyjobshop_peer.py``) right after ours, with the same time limit, workers and seed.

Resumable: rows are appended to ``benchmarks/results/public_<set>.csv``; instances already there
with the same settings (time limit, workers, seed, deterministic time, peer) are skipped. The
file is read again before each instance, so processes sharing it never redo a row another one
wrote. ``--shard K/N`` runs only the instances at positions ``K-1, K-1+N, ...`` of the selection:
``N`` processes (or machines writing to copies merged afterwards) split a long run without
overlapping; each prints the summary of every row of the selection done so far. The
markdown summary is printed and, with ``--record``, written into ``benchmarks/RESULTS.md``
between ``<!-- public_<set>:start -->`` and ``<!-- public_<set>:end -->``.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import platform
import random
import re
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from allocator.checker import check
from allocator.engine import SolveParams, SolveProgress, solve
from allocator.readers import read_benchmark
from benchmarks.results_md import record

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS_DIR = HERE / "results"


def shared_dir() -> Path:
    """``<repo>/../shared/benchmarks`` (``ALLOCATOR_BENCHMARKS`` overrides it)."""
    env = os.environ.get("ALLOCATOR_BENCHMARKS")
    return Path(env) if env else REPO.parent / "shared" / "benchmarks"


def natural_key(name: str) -> list[object]:
    return [int(x) if x.isdigit() else x for x in re.split(r"(\d+)", name)]


@dataclass(frozen=True)
class BenchSet:
    name: str
    kind: str  # psplib | mspsp | imopse
    folder: str  # relative to the shared benchmarks folder
    pattern: str  # glob (recursive) of instance files
    best_csv: str
    family: Callable[[str], str]
    family_label: str
    peer_formulation: str | None
    description: str


def _psplib_family(prefix: str) -> Callable[[str], str]:
    return lambda name: name[len(prefix) :].split("_")[0]


def _mspsp_family(name: str) -> str:
    return name.split("_")[1]


def _imopse_family(name: str) -> str:
    return "_".join(name.split("_")[:2])


def _psplib(n: str, jobs: int) -> BenchSet:
    return BenchSet(
        name=n,
        kind="psplib",
        folder=f"psplib_rcpsp/{n}",
        pattern="*.sm",
        best_csv="psplib_rcpsp/best_known.csv",
        family=_psplib_family(n),
        family_label="PSPLIB parameter group",
        peer_formulation="renewable",
        description=(
            f"PSPLIB {n} (Kolisch & Sprecher 1997): single-mode RCPSP, {jobs} jobs, 4 renewable "
            "resources; best known and lower bounds from `psplib_rcpsp/best_known.csv`."
        ),
    )


SETS: dict[str, BenchSet] = {
    "j30": _psplib("j30", 30),
    "j60": _psplib("j60", 60),
    "j120": _psplib("j120", 120),
    "mspsp": BenchSet(
        name="mspsp",
        kind="mspsp",
        folder="mspsp_young2017/instances",
        pattern="**/*.dzn",
        best_csv="mspsp_young2017/best_known.csv",
        family=_mspsp_family,
        family_label="MSPSP subset",
        peer_formulation="places",
        description=(
            "MSPSP (Young, Schutt & Feydy, CP 2017; 710 instances in subsets set1a/1b/2a/2b/2c): "
            "activities need k workers per skill, unary workers. Best known = the authors' best "
            "makespan (478/710 proven optimal by them)."
        ),
    ),
    "imopse-d36": BenchSet(
        name="imopse-d36",
        kind="imopse",
        folder="imopse/instances/d36",
        pattern="*.def",
        best_csv="imopse/best_known.csv",
        family=_imopse_family,
        family_label="iMOPSE `<tasks>_<resources>`",
        peer_formulation="places",
        description=(
            "iMOPSE MS-RCPSP, the classic 36 instances (`d36`): one worker per task with skill and "
            "minimum level, unary workers. No published best known is available here: gaps are "
            "to our own lower bound and to the set's `trivial_lower_bound` (critical path / "
            "load bound)."
        ),
    ),
}

FIELDS = [
    "set", "instance", "family", "time_limit", "workers", "seed", "deterministic_time", "peer",
    "tasks", "people", "makespan", "best_known", "published_lb", "published_optimal",
    "gap_best", "matches_best", "beats_best", "status", "proven_optimal", "lower_bound",
    "gap_own_lb", "trivial_lb", "gap_trivial_lb", "valid", "seconds", "chosen", "model_exact",
    "greedy_makespan", "time_to_best", "cpsat_value", "cpsat_bound",
    "peer_makespan", "peer_lb", "peer_status", "peer_seconds", "peer_valid",
    "date",
]  # fmt: skip


def instances(bs: BenchSet, root: Path) -> dict[str, Path]:
    """Instance file name -> path, for every instance of the set."""
    folder = root / bs.folder
    return {p.name: p for p in sorted(folder.glob(bs.pattern), key=lambda p: natural_key(p.name))}


def best_known(bs: BenchSet, root: Path) -> dict[str, dict[str, str]]:
    with (root / bs.best_csv).open() as f:
        return {row["instance"]: row for row in csv.DictReader(f)}


def stratified_sample(
    names: list[str], family: Callable[[str], str], n: int | None, seed: int
) -> list[str]:
    """A fixed stratified sample of ``n`` names (all of them when ``n`` is None or too big).

    Each family gets ``max(1, floor(n * size / total))`` names, topped up by largest remainder
    (ties: family order) to ``n``; its names are drawn with ``random.Random(seed)``, families in
    sorted order. With fewer than one name per family, ``n`` random families get one each.
    """
    ordered = sorted(names, key=natural_key)
    if n is None or n >= len(ordered):
        return ordered
    fams: dict[str, list[str]] = {}
    for name in ordered:
        fams.setdefault(family(name), []).append(name)
    keys = sorted(fams, key=natural_key)
    rng = random.Random(seed)
    if n < len(keys):
        keys = sorted(rng.sample(keys, n), key=natural_key)
        quota = {k: 1 for k in keys}
    else:
        total = len(ordered)
        quota = {k: max(1, n * len(fams[k]) // total) for k in keys}
        while sum(quota.values()) > n:
            k = max(keys, key=lambda k: (quota[k], -keys.index(k)))
            quota[k] -= 1
        while sum(quota.values()) < n:
            open_keys = [k for k in keys if quota[k] < len(fams[k])]
            k = max(open_keys, key=lambda k: (n * len(fams[k]) / total - quota[k], -keys.index(k)))
            quota[k] += 1
    picked: list[str] = []
    for k in keys:
        picked.extend(rng.sample(fams[k], quota[k]))
    return sorted(picked, key=natural_key)


def _num(text: str | None) -> int | None:
    return int(text) if text not in (None, "") else None


def _gap(value: int | None, ref: int | None) -> float | None:
    if value is None or ref is None or ref <= 0:
        return None
    return round((value - ref) / ref, 6)


def _makespan_of(figures: Mapping[str, float | int] | None) -> int | None:
    """The ``makespan_days`` term of a plan's (or a progress report's) objective or bound."""
    if not figures or "makespan_days" not in figures:
        return None
    return int(figures["makespan_days"])


def run_one(
    bs: BenchSet,
    path: Path,
    known: dict[str, str] | None,
    args: argparse.Namespace,
) -> dict[str, object]:
    portfolio = read_benchmark(path)
    events: list[SolveProgress] = []
    params = SolveParams(
        time_limit=args.time_limit,
        workers=args.workers,
        seed=args.seed_solver,
        deterministic_time=args.deterministic_time,
        on_progress=events.append,
    )
    t0 = time.monotonic()
    result = solve(portfolio, params)
    seconds = time.monotonic() - t0
    plan = result.plan
    valid = check(portfolio, plan).valid
    # the makespan objective's one term (plan format v2: a mapping of terms)
    ours = _makespan_of(plan.objective)
    lb = _makespan_of(plan.lower_bound)
    greedy = [
        m
        for e in events
        if e.stage.startswith("greedy") and (m := _makespan_of(e.objective)) is not None
    ]
    # when the final makespan was first reached (greedy or CP-SAT)
    hits = [e.elapsed for e in events if e.stage != "done" and _makespan_of(e.objective) == ours]
    time_to_best = round(min(hits), 2) if hits else None
    stages = result.stats.get("cpsat_stages") or {}
    assert isinstance(stages, dict)
    cp = stages.get("makespan")
    known = known or {}
    best = _num(known.get("best_known_makespan"))
    pub_lb = _num(known.get("lower_bound"))
    trivial = _num(known.get("trivial_lower_bound"))
    row: dict[str, object] = {
        "set": bs.name,
        "instance": path.name,
        "family": bs.family(path.name),
        "time_limit": args.time_limit,
        "workers": args.workers,
        "seed": args.seed_solver,
        "deterministic_time": args.deterministic_time or "",
        "peer": args.peer or "",
        "tasks": len(portfolio.tasks_to_plan),
        "people": len(portfolio.people),
        "makespan": ours if ours is not None else "",
        "best_known": best if best is not None else "",
        "published_lb": pub_lb if pub_lb is not None else "",
        "published_optimal": known.get("status", "") == "optimal",
        "gap_best": _gap(ours, best) if best else "",
        "matches_best": ours is not None and best is not None and ours <= best,
        "beats_best": ours is not None and best is not None and ours < best,
        "status": plan.status,
        "proven_optimal": plan.status == "optimal",
        "lower_bound": lb if lb is not None else "",
        "gap_own_lb": _gap(ours, lb) if lb else "",
        "trivial_lb": trivial if trivial is not None else "",
        "gap_trivial_lb": _gap(ours, trivial) if trivial else "",
        "valid": valid,
        "seconds": round(seconds, 2),
        "chosen": result.stats.get("chosen", ""),
        "model_exact": result.stats.get("model_exact", ""),
        "greedy_makespan": min(greedy) if greedy else "",
        "time_to_best": time_to_best if time_to_best is not None else "",
        "cpsat_value": cp[0] if cp else "",
        "cpsat_bound": cp[1] if cp else "",
        "peer_makespan": "",
        "peer_lb": "",
        "peer_status": "",
        "peer_seconds": "",
        "peer_valid": "",
        "date": dt.date.today().isoformat(),
    }
    if args.peer == "pyjobshop":
        if bs.peer_formulation is None:
            row["peer_status"] = "not expressible"
        else:
            from benchmarks.pyjobshop_peer import solve_pyjobshop

            peer = solve_pyjobshop(
                portfolio, bs.peer_formulation, args.time_limit, args.workers, args.seed_solver
            )
            row.update(
                peer_makespan=peer.makespan if peer.makespan is not None else "",
                peer_lb=peer.lower_bound if peer.lower_bound is not None else "",
                peer_status=peer.status,
                peer_seconds=peer.seconds,
                peer_valid=peer.valid if peer.valid is not None else "",
            )
    return row


# ---------------------------------------------------------------------------------------------
# markdown
# ---------------------------------------------------------------------------------------------
def _f(x: str) -> float | None:
    return float(x) if x not in ("", None) else None


def _pct(x: float | None) -> str:
    return "" if x is None else f"{x:.1%}"


def _true(x: str) -> bool:
    return x == "True"


def _compact(names: list[str], bs: BenchSet) -> str:
    """The instances, grouped by family: ``family: a, b; family: c``."""
    fams: dict[str, list[str]] = {}
    for n in names:
        fams.setdefault(bs.family(n), []).append(Path(n).stem)
    return "; ".join(f"{k} ({len(v)}): {', '.join(v)}" for k, v in fams.items())


def table(bs: BenchSet, rows: list[dict[str, str]], peer: str | None) -> str:
    imopse = bs.kind == "imopse"
    head = ["instance", "ours"]
    head += ["trivial LB", "gap to trivial LB"] if imopse else ["best known", "pub. LB", "gap"]
    head += ["optimal", "our LB", "gap to our LB" if imopse else "", "s", "valid"]
    head = [h for h in head if h]
    if peer:
        head += [f"{peer}", "peer status", "peer s", "ours/peer"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---:" for _ in head) + "|"]
    for r in rows:
        cells = [Path(r["instance"]).stem, r["makespan"]]
        if imopse:
            cells += [r["trivial_lb"], _pct(_f(r["gap_trivial_lb"]))]
        else:
            mark = " **(beats)**" if _true(r["beats_best"]) else ""
            cells += [r["best_known"] + mark, r["published_lb"], _pct(_f(r["gap_best"]))]
        cells += ["yes" if _true(r["proven_optimal"]) else "", r["lower_bound"]]
        if imopse:
            cells.append(_pct(_f(r["gap_own_lb"])))
        cells += [r["seconds"], "yes" if _true(r["valid"]) else "**NO**"]
        if peer:
            pm, om = _f(r["peer_makespan"]), _f(r["makespan"])
            ratio = f"{om / pm:.3f}" if pm and om else ""
            pv = "" if r["peer_valid"] in ("True", "") else " (invalid!)"
            cells += [r["peer_makespan"] + pv, r["peer_status"], r["peer_seconds"], ratio]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)


def summary(bs: BenchSet, rows: list[dict[str, str]], peer: str | None) -> str:
    n = len(rows)
    if not n:
        return "No instance solved yet."
    secs = [float(r["seconds"]) for r in rows]
    opt = sum(_true(r["proven_optimal"]) for r in rows)
    valid = sum(_true(r["valid"]) for r in rows)
    out = [f"- instances: {n}; valid (checker): {valid}/{n}"]
    if bs.kind == "imopse":
        g_own = [g for r in rows if (g := _f(r["gap_own_lb"])) is not None]
        g_tr = [g for r in rows if (g := _f(r["gap_trivial_lb"])) is not None]
        at_tr = sum(r["makespan"] == r["trivial_lb"] for r in rows)
        out.append(
            f"- mean gap to our own lower bound {_pct(sum(g_own) / len(g_own))} "
            f"(max {_pct(max(g_own))}); mean gap to the trivial lower bound "
            f"{_pct(sum(g_tr) / len(g_tr))} (max {_pct(max(g_tr))}); "
            f"makespan equal to the trivial bound (so optimal) on {at_tr}/{n}"
        )
        own_below = sum((_f(r["lower_bound"]) or 0) < (_f(r["trivial_lb"]) or 0) for r in rows)
        out.append(f"- our lower bound is below the trivial bound on {own_below}/{n}")
    else:
        gaps = [g for r in rows if (g := _f(r["gap_best"])) is not None]
        match = sum(_true(r["matches_best"]) for r in rows)
        beats = [Path(r["instance"]).stem for r in rows if _true(r["beats_best"])]
        out.append(
            f"- mean gap to best known {_pct(sum(gaps) / len(gaps))} (max {_pct(max(gaps))}); "
            f"best known matched on {match}/{n} ({match / n:.0%})"
        )
        pub_opt = sum(_true(r["published_optimal"]) for r in rows)
        line = f"- proven optimal by us: {opt}/{n}"
        if bs.kind == "mspsp":
            line += (
                f"; published (Young et al. 2017): {pub_opt}/{n} of these instances, "
                "478/710 (67.3 %) of the whole set"
            )
        else:
            line += f"; published optimum known for {pub_opt}/{n}"
        out.append(line)
        out.append(
            "- better than the best known: "
            + (", ".join(beats) + " (recorded in the CSV)" if beats else "none")
        )
    out.append(f"- seconds per instance: mean {sum(secs) / n:.1f}, max {max(secs):.1f}")
    chosen: dict[str, int] = {}
    for r in rows:
        chosen[r["chosen"]] = chosen.get(r["chosen"], 0) + 1
    out.append(
        "- plan came from: " + ", ".join(f"{k or 'none'} {v}" for k, v in sorted(chosen.items()))
    )
    if peer:
        both = [
            (float(r["makespan"]), float(r["peer_makespan"]))
            for r in rows
            if r["peer_makespan"] and r["makespan"]
        ]
        if both:
            better = sum(o < p for o, p in both)
            worse = sum(o > p for o, p in both)
            ratio = sum(o / p for o, p in both) / len(both)
            p_opt = sum(r["peer_status"] == "Optimal" for r in rows)
            p_valid = sum(r["peer_valid"] == "True" for r in rows)
            p_secs = [float(r["peer_seconds"]) for r in rows if r["peer_seconds"]]
            extra = ""
            if bs.kind != "imopse":
                p_match = sum(
                    bool(r["peer_makespan"] and r["best_known"])
                    and int(r["peer_makespan"]) <= int(r["best_known"])
                    for r in rows
                )
                extra = f", best known matched {p_match}/{n}"
            out.append(
                f"- {peer}: solved {len(both)}/{n}, proven optimal {p_opt}/{n}{extra}, "
                f"valid {p_valid}/{len(both)}, mean {sum(p_secs) / len(p_secs):.1f} s; ours "
                f"better on {better}, equal on {len(both) - better - worse}, worse on {worse}; "
                f"mean ours/peer makespan ratio {ratio:.3f}"
            )
        else:
            status = {r["peer_status"] for r in rows}
            out.append(f"- {peer}: no makespan ({', '.join(sorted(status))})")
    return "\n".join(out)


def command_line(args: argparse.Namespace) -> str:
    parts = [f"python -m benchmarks.public --set {args.set}"]
    if args.sample is not None:
        parts.append(f"--sample {args.sample} --seed {args.seed}")
    parts.append(f"--time-limit {args.time_limit:g} --workers {args.workers}")
    if args.seed_solver:
        parts.append(f"--solver-seed {args.seed_solver}")
    if args.deterministic_time is not None:
        parts.append(f"--deterministic-time {args.deterministic_time:g}")
    if args.peer:
        parts.append(f"--peer {args.peer}")
    return " ".join(parts)


def markdown(
    bs: BenchSet,
    args: argparse.Namespace,
    wanted: list[str],
    total: int,
    rows: list[dict[str, str]],
) -> str:
    if args.sample is not None and len(wanted) < total:
        what = (
            f"a fixed stratified sample of {len(wanted)} of the {total} instances "
            f"(`--sample {args.sample} --seed {args.seed}`; stratified by {bs.family_label}, "
            "share proportional to family size, at least one each)"
        )
    else:
        what = f"all {total} instances"
    done = {r["instance"] for r in rows}
    missing = [w for w in wanted if w not in done]
    cover = f"Covered: {len(rows)} of the {len(wanted)} instances selected"
    if missing:
        cover += f"; **not yet run**: {', '.join(Path(m).stem for m in missing)}"
    dates = sorted({r["date"] for r in rows if r.get("date")})
    when = dates[0] if len(dates) == 1 else (f"{dates[0]}..{dates[-1]}" if dates else "")
    header = (
        f"Command: `{command_line(args)}`; machine: {os.cpu_count()} cores, "
        f"{platform.machine()}, Python {platform.python_version()}"
        + (
            ", shared with other jobs while it ran (wall-clock limits)"
            if args.shared_machine
            else ""
        )
        + f"; date: {when or dt.date.today().isoformat()}."
    )
    peer_note = ""
    if args.peer:
        peer_note = (
            f"\n\nPeer: {args.peer} 0.0.9 with its OR-Tools back-end, run right after ours on each "
            "instance with the same time limit, workers and seed "
            "(`benchmarks/pyjobshop_peer.py`: "
            + (
                "renewable resources, its native RCPSP model"
                if bs.peer_formulation == "renewable"
                else "workers as machines, one task per place with one mode per eligible worker, "
                "places of an activity start together on different workers"
            )
            + "); its plans are checked by our checker too. `ours/peer` > 1: our makespan is "
            "longer."
        )
    gap_def = (
        "Gaps are `(ours - bound) / bound`."
        if bs.kind == "imopse"
        else 'Gap = `(ours - best known) / best known`; "optimal" = our status is `optimal` '
        "(our lower bound equals our makespan)."
    )
    body = (
        f"## Public benchmark: {bs.name}\n\n{bs.description}\n\nInstances: {what}. {cover}.\n\n"
        f"<details><summary>instances by family</summary>\n\n{_compact(wanted, bs)}\n\n"
        f"</details>\n\n{header} {gap_def}{peer_note}\n\n{summary(bs, rows, args.peer)}\n\n"
        f"{table(bs, rows, args.peer)}\n"
    )
    return body


def settings_key(row: dict[str, str]) -> tuple[str, ...]:
    return (
        row["instance"],
        str(float(row["time_limit"])),
        row["workers"],
        row["seed"],
        str(float(row["deterministic_time"])) if row["deterministic_time"] else "",
        row["peer"],
    )


def parse_shard(text: str) -> tuple[int, int]:
    """``K/N`` with ``1 <= K <= N``."""
    m = re.fullmatch(r"(\d+)/(\d+)", text.strip())
    if not m or not 1 <= int(m[1]) <= int(m[2]):
        raise argparse.ArgumentTypeError(f"expected K/N with 1 <= K <= N, got {text!r}")
    return int(m[1]), int(m[2])


def _read_done(csv_path: Path) -> dict[tuple[str, ...], dict[str, str]]:
    """The rows already in ``csv_path`` by settings key (the last one of a key wins)."""
    if not csv_path.exists():
        return {}
    with csv_path.open(newline="") as f:
        return {settings_key(row): row for row in csv.DictReader(f)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", required=True, choices=sorted(SETS))
    ap.add_argument("--sample", type=int, default=None, help="stratified sample size")
    ap.add_argument("--seed", type=int, default=1, help="seed of the sample")
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--solver-seed", dest="seed_solver", type=int, default=0)
    ap.add_argument("--deterministic-time", type=float, default=None)
    ap.add_argument("--peer", choices=["pyjobshop"], default=None)
    ap.add_argument("--limit", type=int, default=None, help="run at most this many new instances")
    ap.add_argument(
        "--shard",
        type=parse_shard,
        default=(1, 1),
        metavar="K/N",
        help="run only the K-th of N interleaved parts of the selection (default 1/1: all)",
    )
    ap.add_argument("--record", action="store_true", help="write the summary into RESULTS.md")
    ap.add_argument(
        "--shared-machine",
        action="store_true",
        help="say in the summary that other jobs shared the machine during the run",
    )
    args = ap.parse_args(argv)
    bs = SETS[args.set]
    if args.peer == "pyjobshop":
        try:
            import pyjobshop  # noqa: F401
        except ImportError:
            print("error: --peer pyjobshop needs `pip install -e '.[bench]'`", file=sys.stderr)
            return 2
    root = shared_dir()
    if not root.is_dir():
        print(f"error: benchmark folder {root} not found", file=sys.stderr)
        return 2
    files = instances(bs, root)
    known = best_known(bs, root)
    wanted = stratified_sample(list(files), bs.family, args.sample, args.seed)
    csv_path = RESULTS_DIR / f"public_{bs.name}.csv"
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    done = _read_done(csv_path)

    def key(name: str) -> tuple[str, ...]:
        dtime = str(float(args.deterministic_time)) if args.deterministic_time else ""
        return (
            name, str(float(args.time_limit)), str(args.workers), str(args.seed_solver), dtime,
            args.peer or "",
        )  # fmt: skip

    new_file = not csv_path.exists()
    ran = 0
    with csv_path.open("a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        if new_file:
            w.writeheader()
            f.flush()  # before any other process appends a row
        k_shard, n_shards = args.shard
        for name in wanted[k_shard - 1 :: n_shards]:
            if key(name) not in done:  # another process may have written it meanwhile
                done.update(_read_done(csv_path))
            if key(name) in done:
                continue
            if args.limit is not None and ran >= args.limit:
                break
            row = run_one(bs, files[name], known.get(name), args)
            ran += 1
            w.writerow(row)
            f.flush()
            done[key(name)] = {k: str(v) for k, v in row.items()}
            peer = (
                f" | peer {row['peer_makespan']} {row['peer_status']} {row['peer_seconds']}s"
                if args.peer
                else ""
            )
            print(
                f"{name}: {row['makespan']} (best {row['best_known'] or row['trivial_lb']}, "
                f"lb {row['lower_bound']}, {row['status']}) valid={row['valid']} "
                f"{row['seconds']}s{peer}",
                file=sys.stderr,
            )
    done.update(_read_done(csv_path))
    rows = [done[key(n)] for n in wanted if key(n) in done]
    md = markdown(bs, args, wanted, len(files), rows)
    print(md)
    if args.record:
        record(f"public_{bs.name}", md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
