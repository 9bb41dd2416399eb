"""Every figure of ``benchmarks/RESULTS.md``, recomputed from the committed rows.

    python -m benchmarks.summarize            # print every figure, check RESULTS.md against them
    python -m benchmarks.summarize --record   # also rewrite the generated summary blocks

Nothing is solved here: every number comes from ``benchmarks/results/*.csv``. RESULTS.md has
three kinds of figure, and each is checked against the rows:

- the sections written by a benchmark command (``core_vs_greedy``, ``public_<set>``,
  ``scale``): their tables and summary lines are rendered again from the CSV with the
  benchmark's own functions and must appear verbatim;
- the summary of the public benchmarks and the list of improved open MSPSP instances: written
  by this module between ``<!-- results_summary:start -->`` / ``<!-- mspsp_improved:start -->``
  markers (``--record``);
- the figures quoted in the prose: :func:`claims` gives each quoted fragment, formatted from
  the rows, and each must appear in RESULTS.md word for word (line breaks aside). A figure
  added to the prose needs its fragment here too, or nothing checks it.

The rebalance section's table is rendered from ``rebalance.csv`` like the others.

``tests/test_results_md.py`` runs the same checks, so a figure that drifts from its rows fails.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks import core_vs_greedy, nightly, public, rebalance_stability, scale
from benchmarks.results_md import RESULTS, record

RESULTS_DIR = Path(__file__).resolve().parent / "results"

Row = dict[str, str]

# The published figure for the whole MSPSP set (Young, Schutt & Feydy 2017): instances whose
# status is ``optimal`` in ``../shared/benchmarks/mspsp_young2017/best_known.csv`` (its README:
# 710 instances, 478 proven optimal).
MSPSP_TOTAL = 710
MSPSP_PUBLISHED_OPTIMAL = 478


def read(name: str) -> list[Row]:
    """The rows of ``benchmarks/results/<name>.csv``."""
    with (RESULTS_DIR / f"{name}.csv").open(newline="") as f:
        return list(csv.DictReader(f))


@dataclass(frozen=True)
class Run:
    """One recorded public-benchmark run: a set at one time limit (and peer)."""

    set: str
    time_limit: float
    peer: str
    file: str = ""  # CSV name without ``.csv``; default ``public_<set>``

    def rows(self) -> list[Row]:
        """Its rows, the last one per instance (as ``benchmarks.public`` reads them), in the
        instances' natural order."""
        by_name: dict[str, Row] = {}
        for r in read(self.file or f"public_{self.set}"):
            if float(r["time_limit"]) == self.time_limit and r["peer"] == self.peer:
                by_name[r["instance"]] = r
        return [by_name[n] for n in sorted(by_name, key=public.natural_key)]


# The runs the sections of RESULTS.md report (their commands are in each section).
RUNS = {
    "j30": Run("j30", 10.0, "pyjobshop"),
    "j60": Run("j60", 60.0, "pyjobshop"),
    "j120": Run("j120", 60.0, "pyjobshop"),
    "mspsp": Run("mspsp", 60.0, "pyjobshop"),
    "imopse-d36": Run("imopse-d36", 60.0, ""),
    # earlier or side runs that the prose quotes
    "imopse-d36@20": Run("imopse-d36", 20.0, "pyjobshop"),
    "j30_before_pools": Run("j30", 10.0, "pyjobshop", "public_j30_before_pools"),
    "j30_before_pure_pools": Run("j30", 10.0, "pyjobshop", "public_j30_before_pure_pools"),
    "j120_before_pool_size": Run("j120", 60.0, "pyjobshop", "public_j120_before_pool_size"),
}


def _t(x: str) -> bool:
    return x == "True"


def _pct(x: float) -> str:
    return f"{x * 100:.1f} %"


def _ratio(part: int, whole: int) -> str:
    return f"{part}/{whole}"


def _stem(name: str) -> str:
    return Path(name).stem


def _short(name: str) -> str:
    """``inst_set2a_sf0_nc1.8_n18_l8_m10_09.dzn`` -> ``set2a n18_l8_m10_09``."""
    parts = _stem(name).split("_")
    return f"{parts[1]} {'_'.join(parts[4:])}"


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs)


def _versus(rows: list[Row]) -> tuple[int, int, int, float]:
    """Ours against the peer: (better, equal, worse, mean ours/peer makespan ratio)."""
    both = [(int(r["makespan"]), int(r["peer_makespan"])) for r in rows if r["peer_makespan"]]
    better = sum(o < p for o, p in both)
    worse = sum(o > p for o, p in both)
    return better, len(both) - better - worse, worse, _mean([o / p for o, p in both])


def _peer_matched(rows: list[Row]) -> int:
    return sum(
        bool(r["peer_makespan"] and r["best_known"])
        and int(r["peer_makespan"]) <= int(r["best_known"])
        for r in rows
    )


def set_figures(run: Run) -> dict[str, str]:
    """The aggregates of one run, formatted as RESULTS.md quotes them."""
    rows = run.rows()
    n = len(rows)
    f: dict[str, str] = {"instances": str(n)}
    f["valid"] = _ratio(sum(_t(r["valid"]) for r in rows), n)
    f["proven"] = _ratio(sum(_t(r["proven_optimal"]) for r in rows), n)
    f["mean_s"] = f"{_mean([float(r['seconds']) for r in rows]):.1f}"
    if run.set.startswith("imopse"):
        gaps = [float(r["gap_own_lb"]) for r in rows]
        f["at_trivial_lb"] = _ratio(sum(r["makespan"] == r["trivial_lb"] for r in rows), n)
    else:
        gaps = [float(r["gap_best"]) for r in rows]
        matched = sum(_t(r["matches_best"]) for r in rows)
        f["matched"] = _ratio(matched, n)
        f["matched_pct"] = _pct(matched / n)
        f["published_optimal"] = _ratio(sum(_t(r["published_optimal"]) for r in rows), n)
        f["beats"] = str(sum(_t(r["beats_best"]) for r in rows))
    f["mean_gap"] = _pct(_mean(gaps))
    f["max_gap"] = _pct(max(gaps))
    if run.peer:
        better, equal, worse, ratio = _versus(rows)
        f["peer_better"], f["peer_equal"], f["peer_worse"] = str(better), str(equal), str(worse)
        f["peer_ratio"] = f"{ratio:.3f}"
        f["peer_proven"] = str(sum(r["peer_status"] == "Optimal" for r in rows))
        if not run.set.startswith("imopse"):
            f["peer_matched"] = str(_peer_matched(rows))
    return f


def _families(rows: list[Row]) -> dict[str, list[Row]]:
    fams: dict[str, list[Row]] = {}
    for r in rows:
        fams.setdefault(r["family"], []).append(r)
    return fams


def figures() -> dict[str, str]:
    """Every aggregate RESULTS.md quotes, by name (``set.figure``), formatted as quoted."""
    out: dict[str, str] = {}
    for key, run in RUNS.items():
        for name, value in set_figures(run).items():
            out[f"{key}.{name}"] = value

    # core engine against EDF
    cg = read("core_vs_greedy")
    red = [float(r["reduction"]) for r in cg]
    out["core.seeds"] = str(len(cg))
    out["core.min_reduction"] = _pct(min(red))
    out["core.max_reduction"] = _pct(max(red))
    out["core.mean_reduction"] = _pct(_mean(red))
    out["core.valid"] = _ratio(sum(_t(r["engine_valid"]) for r in cg), len(cg))
    out["core.bound_ok"] = _ratio(sum(_t(r["lower_bound_ok"]) for r in cg), len(cg))
    out["core.at_least_10pct"] = _ratio(sum(x >= 0.10 for x in red), len(cg))
    held = sum(
        float(r["reduction"]) >= 0.10 and _t(r["engine_valid"]) and _t(r["lower_bound_ok"])
        for r in cg
    )
    out["core.target_holds"] = f"all {len(cg)}" if held == len(cg) else f"{held} of {len(cg)}"

    # MSPSP by subset
    mspsp = RUNS["mspsp"].rows()
    fams = _families(mspsp)
    for fam, rs in fams.items():
        out[f"mspsp.{fam}.instances"] = str(len(rs))
        out[f"mspsp.{fam}.matched"] = _ratio(sum(_t(r["matches_best"]) for r in rs), len(rs))
        out[f"mspsp.{fam}.mean_gap"] = _pct(_mean([float(r["gap_best"]) for r in rs]))
        out[f"mspsp.{fam}.proven"] = _ratio(sum(_t(r["proven_optimal"]) for r in rs), len(rs))
        out[f"mspsp.{fam}.published_optimal"] = _ratio(
            sum(_t(r["published_optimal"]) for r in rs), len(rs)
        )
    set2 = [r for r in mspsp if r["family"].startswith("set2")]
    set2_gaps = sorted(
        _mean([float(r["gap_best"]) for r in rs]) for f, rs in fams.items() if f.startswith("set2")
    )
    out["mspsp.set2.mean_gap_range"] = f"{set2_gaps[0] * 100:.1f}-{set2_gaps[-1] * 100:.1f} %"
    out["mspsp.set2.matched"] = _ratio(sum(_t(r["matches_best"]) for r in set2), len(set2))
    misses = [r for r in set2 if not _t(r["matches_best"])]
    out["mspsp.set2.misses"] = str(len(misses))
    above = {int(r["makespan"]) - int(r["best_known"]) for r in misses}
    out["mspsp.set2.misses_above"] = ",".join(str(a) for a in sorted(above))
    ttb = [float(r["time_to_best"]) for r in misses]
    out["mspsp.set2.misses_time_to_best"] = f"{min(ttb):.1f}-{max(ttb):.0f} s"
    peer_best = [r for r in misses if int(r["peer_makespan"]) <= int(r["best_known"])]
    out["mspsp.set2.misses_peer_best_known"] = str(len(peer_best))
    out["mspsp.set2.misses_peer_best_known_names"] = ", ".join(
        _short(r["instance"]) for r in peer_best
    )
    rest = [r for r in misses if r not in peer_best]
    out["mspsp.set2.misses_rest"] = str(len(rest))
    out["mspsp.set2.misses_rest_peer_equal"] = str(
        sum(int(r["peer_makespan"]) == int(r["makespan"]) for r in rest)
    )
    out["mspsp.set2.misses_rest_peer_above"] = str(
        sum(int(r["peer_makespan"]) > int(r["makespan"]) for r in rest)
    )
    set1b_misses = [r for r in fams["set1b"] if not _t(r["matches_best"])]
    tb = [float(r["time_to_best"]) for r in set1b_misses]
    out["mspsp.set1b.misses"] = str(len(set1b_misses))
    out["mspsp.set1b.misses_time_to_best"] = f"{min(tb):.0f}-{max(tb):.0f} s"
    out["mspsp.set1b.misses_after_half"] = str(sum(t > 30.0 for t in tb))
    out["mspsp.open_improved"] = str(sum(_t(r["beats_best"]) for r in mspsp))
    out["mspsp.whole_set_published_optimal"] = (
        f"{MSPSP_PUBLISHED_OPTIMAL}/{MSPSP_TOTAL} ({_pct(MSPSP_PUBLISHED_OPTIMAL / MSPSP_TOTAL)})"
    )
    for part, rs in (("set1b", fams["set1b"]), ("set2", set2)):
        tasks = sorted(int(r["tasks"]) for r in rs)
        people = sorted(int(r["people"]) for r in rs)
        out[f"mspsp.{part}.tasks"] = (
            str(tasks[0]) if tasks[0] == tasks[-1] else f"{tasks[0]}-{tasks[-1]}"
        )
        out[f"mspsp.{part}.people"] = f"{people[0]}-{people[-1]}"

    # j30: the unproven ones
    j30 = RUNS["j30"].rows()
    unproven = [r for r in j30 if not _t(r["proven_optimal"])]
    out["j30.unproven"] = str(len(unproven))
    out["j30.unproven_peer_proven"] = str(sum(r["peer_status"] == "Optimal" for r in unproven))
    diffs = [abs(int(r["makespan"]) - int(r["peer_makespan"])) for r in unproven]
    out["j30.unproven_peer_max_diff"] = str(max(diffs))
    out["j30.unproven_peer_equal"] = str(sum(d == 0 for d in diffs))

    # j30 sample of 48: before pools, with the redundant pool cumulative, with pools
    sample = {r["instance"] for r in RUNS["j30_before_pools"].rows()}
    now = [r for r in j30 if r["instance"] in sample]
    stages = [RUNS["j30_before_pools"].rows(), RUNS["j30_before_pure_pools"].rows(), now]
    out["j30_pools.sample"] = str(len(sample))
    out["j30_pools.matched"] = " -> ".join(
        str(sum(_t(r["matches_best"]) for r in s)) for s in stages
    )
    out["j30_pools.proven"] = " -> ".join(
        str(sum(_t(r["proven_optimal"]) for r in s)) for s in stages
    )
    j3025 = [next(r for r in s if r["instance"] == "j3025_1.sm") for s in stages]
    out["j30_pools.j3025_1"] = (
        f"{j3025[1]['makespan']} (bound {j3025[1]['lower_bound']}) to {j3025[2]['makespan']}"
        + (", proven," if _t(j3025[2]["proven_optimal"]) else ", not proven,")
        + f" in {float(j3025[2]['seconds']):.1f} s"
    )

    # j120: against the peer, and the 9 that went to LNS
    j120 = RUNS["j120"].rows()
    differ = [r for r in j120 if r["makespan"] != r["peer_makespan"]]
    d = [abs(int(r["makespan"]) - int(r["peer_makespan"])) for r in differ]
    out["j120.differ_range"] = f"{min(d)}-{max(d)}"
    out["j120.differ_neither_proven"] = _ratio(
        sum(not _t(r["proven_optimal"]) and r["peer_status"] != "Optimal" for r in differ),
        len(differ),
    )
    before = RUNS["j120_before_pool_size"].rows()
    out["j120_lns.instances"] = str(len(before))
    out["j120_lns.greedy"] = _ratio(
        sum(r["chosen"].startswith("greedy") for r in before), len(before)
    )
    out["j120_lns.max_gap"] = f"{max(float(r['gap_best']) for r in before) * 100:.0f} %"
    out["public.without_cpsat_value"] = str(
        sum(
            r["cpsat_value"] == ""
            for k in ("j30", "j60", "j120", "mspsp", "imopse-d36")
            for r in RUNS[k].rows()
        )
    )

    # iMOPSE: which instances have the largest gaps
    im = sorted(RUNS["imopse-d36"].rows(), key=lambda r: -float(r["gap_own_lb"]))
    worst = [r for r in im if float(r["gap_own_lb"]) > 0.035]
    out["imopse.worst"] = str(len(worst))
    out["imopse.worst_min_gap"] = _pct(min(float(r["gap_own_lb"]) for r in worst))
    out["imopse.worst_families"] = ", ".join(sorted({r["family"] for r in worst}))
    out["imopse.worst_bound_is_trivial"] = _ratio(
        sum(r["lower_bound"] == r["trivial_lb"] for r in worst), len(worst)
    )
    dates = sorted(
        {r["date"] for k in ("j30", "j60", "j120", "mspsp", "imopse-d36") for r in RUNS[k].rows()}
    )
    out["public.dates"] = ", ".join(dates)
    return out


def _met(pct: str, at_most: float) -> str:
    """``yes`` when a quoted percentage (``"0.3 %"``) is at most ``at_most`` percent."""
    return "yes" if float(pct.removesuffix(" %")) <= at_most else "no"


def summary_table(f: dict[str, str]) -> str:
    """The summary table of the public benchmarks (between ``results_summary`` markers)."""
    fam = ", ".join(
        f"{k} {f[f'mspsp.{k}.matched']}" for k in ("set1a", "set1b", "set2a", "set2b", "set2c")
    )
    sizes = ", ".join(
        f"{k} {f[f'mspsp.{k}.instances']}" for k in ("set1a", "set1b", "set2a", "set2b", "set2c")
    )

    def peer(k: str, equal: bool = False) -> str:
        eq = f", equal on {f[k + '.peer_equal']}" if equal else ""
        return (
            f"{f[k + '.peer_matched']} matched, {f[k + '.peer_proven']} proven; ours better on "
            f"{f[k + '.peer_better']}{eq}, worse on {f[k + '.peer_worse']} "
            f"(mean ratio {f[k + '.peer_ratio']})"
        )

    j30_n = int(f["j30.instances"])
    j30_proven = int(f["j30.proven"].split("/")[0])
    mspsp_matched = int(f["mspsp.matched"].split("/")[0])
    lines = [
        "| set | instances | limit | ours: best known matched | ours: proven optimal | "
        "mean gap to best known | PyJobShop, same run | target | met? |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| PSPLIB j30 | **all {f['j30.instances']}** | 10 s, 2 workers | {f['j30.matched']} "
        f"({f['j30.matched_pct']}) | {f['j30.proven']} | {f['j30.mean_gap']} (max "
        f"{f['j30.max_gap']}), mean {f['j30.mean_s']} s | {peer('j30')} | {j30_n}/{j30_n} optimal, "
        f"<= 10 s each | **{'yes' if j30_proven == j30_n else 'no'}**: {f['j30.proven']} proven "
        f"(PyJobShop proves {f['j30.unproven_peer_proven']} of the {f['j30.unproven']} others in "
        "10 s) |",
        f"| PSPLIB j60 | stratified sample of {f['j60.instances']} (seed 1) | 60 s, 2 workers | "
        f"{f['j60.matched']} | {f['j60.proven']} | **{f['j60.mean_gap']}** (max "
        f"{f['j60.max_gap']}) | {peer('j60')} | mean gap <= 1 % at 60 s | "
        f"**{_met(f['j60.mean_gap'], 1.0)}** on this sample |",
        f"| PSPLIB j120 | **stratified sample of {f['j120.instances']}** (seed 1) | 60 s, 2 "
        f"workers | {f['j120.matched']} | {f['j120.proven']} | **{f['j120.mean_gap']}** (max "
        f"{f['j120.max_gap']}) | {peer('j120', equal=True)} | mean gap <= 3 % at 60 s | "
        f"**{_met(f['j120.mean_gap'], 3.0)}** on this sample |",
        f"| MSPSP | **stratified sample of {f['mspsp.instances']}** (seed 1): {sizes} | 60 s, 2 "
        f"workers | {f['mspsp.matched']}: {fam} | {f['mspsp.proven']} (published, with up to "
        f"600 s: {f['mspsp.published_optimal']} of these; {f['mspsp.whole_set_published_optimal']}"
        f" of all {MSPSP_TOTAL}) | {f['mspsp.mean_gap']} (max {f['mspsp.max_gap']}; set1b "
        f"{f['mspsp.set1b.mean_gap']}, set2 {f['mspsp.set2.mean_gap_range']}) | "
        f"{peer('mspsp', equal=True)} | >= 95 % matched at 60 s | "
        f"**{'yes' if mspsp_matched >= 95 else 'no'}** ({f['mspsp.matched_pct']}); "
        f"**{f['mspsp.open_improved']} open instances improved** (below) |",
        f"| iMOPSE d36 | **all {f['imopse-d36.instances']}** | 60 s, 2 workers | no published "
        f"values | {f['imopse-d36.at_trivial_lb']} (makespan = the trivial bound) | "
        f"{f['imopse-d36.mean_gap']} to our own bound (max {f['imopse-d36.max_gap']}) | not run "
        f"with this run (a {f['imopse-d36@20.instances']}-instance run at 20 s: ours better on "
        f"{f['imopse-d36@20.peer_better']}, equal {f['imopse-d36@20.peer_equal']}, worse "
        f"{f['imopse-d36@20.peer_worse']}) | <= 2 % to our own bound at 60 s | "
        f"**{_met(f['imopse-d36.mean_gap'], 2.0)}** on the mean "
        f"(max {f['imopse-d36.max_gap']}) |",
    ]
    return "\n".join(lines) + "\n"


def mspsp_improved() -> str:
    """The open MSPSP instances where our makespan is below the best known, from the rows."""
    better = [r for r in RUNS["mspsp"].rows() if _t(r["beats_best"])]
    items = ", ".join(
        f"{_stem(r['instance'])} {r['makespan']} (was {r['best_known']})" for r in better
    )
    return (
        f"**Open MSPSP instances improved** ({len(better)}; best known from Young, Schutt & "
        'Feydy 2017, status "feasible (open)" in `best_known.csv`; our plans pass '
        "`allocator.checker`, rows in `benchmarks/results/public_mspsp.csv`): "
        f"{items}.\n"
    )


def claims(f: dict[str, str]) -> list[str]:
    """The figures quoted in the prose of RESULTS.md, each as it must appear there."""
    return [
        # core engine against EDF
        f"holds on {f['core.target_holds']} portfolios: {f['core.min_reduction']} to "
        f"{f['core.max_reduction']} less, {f['core.mean_reduction']} on average",
        # what changed: pools
        f"j30 sample of {f['j30_pools.sample']} at 10 s: best known matched "
        f"{f['j30_pools.matched']} (before pools, redundant pool cumulative, pools); proven "
        f"{f['j30_pools.proven']}",
        f"j3025_1 went from {f['j30_pools.j3025_1']}",
        # what limits us: j30
        f"All runs below: {f['public.dates']}",
        f"the {f['j30.unproven']} unproven instances are hard for OR-Tools at 10 s: PyJobShop "
        f"proves {f['j30.unproven_peer_proven']} of them; our makespans on them are within "
        f"{f['j30.unproven_peer_max_diff']} of PyJobShop's (equal on "
        f"{f['j30.unproven_peer_equal']})",
        f"**MSPSP set1b** ({f['mspsp.set1b.tasks']} activities, {f['mspsp.set1b.people']} workers)",
        # MSPSP set1b
        f"{f['mspsp.set1b.matched']} matched at 60 s (mean gap {f['mspsp.set1b.mean_gap']})",
        f"{f['mspsp.set1b.proven']} proven against {f['mspsp.set1b.published_optimal']} "
        "published with up to 600 s",
        f"on the {f['mspsp.set1b.misses']} set1b instances not matched, our last improvement "
        f"came {f['mspsp.set1b.misses_time_to_best']} into the 60 s (after 30 s on "
        f"{f['mspsp.set1b.misses_after_half']} of them)",
        # j120
        f"better on {f['j120.peer_better']} and worse on {f['j120.peer_worse']}, by "
        f"{f['j120.differ_range']} units",
        f"neither proves optimality on {f['j120.differ_neither_proven'].split('/')[0]} of the "
        f"{f['j120.differ_neither_proven'].split('/')[1]} instances where the makespans differ",
        f"{f['j120_lns.instances']} instances whose resources",
        f"kept their greedy plan ({f['j120_lns.greedy']}",
        f"up to {f['j120_lns.max_gap']} above the best known",
        f"{f['j120_lns.instances']} were run again with the fix",
        # MSPSP set2
        f"**MSPSP set2** (skill levels, {f['mspsp.set2.tasks']} activities, "
        f"{f['mspsp.set2.people']} workers): {f['mspsp.set2.matched']} matched; each of the {f['mspsp.set2.misses']} misses is "
        f"one unit above the best known, reached within {f['mspsp.set2.misses_time_to_best']}",
        f"On {f['mspsp.set2.misses_peer_best_known']} of them PyJobShop's plain model found the "
        f"best known in the same run ({f['mspsp.set2.misses_peer_best_known_names']})",
        f"on the other {f['mspsp.set2.misses_rest']} PyJobShop ended at our makespan on "
        f"{f['mspsp.set2.misses_rest_peer_equal']} and above it on "
        f"{f['mspsp.set2.misses_rest_peer_above']}",
        # iMOPSE
        f"the {f['imopse.worst']} worst instances ({f['imopse.worst_min_gap']} to "
        f"{f['imopse-d36.max_gap']}) are 200-task ones with 20-40 workers "
        f"({f['imopse.worst_families']}); on {f['imopse.worst_bound_is_trivial']} of them our "
        "bound is the trivial (critical-path / load) bound",
    ]


@dataclass(frozen=True)
class Block:
    """Text a benchmark command renders from its rows, which RESULTS.md must contain."""

    section: str
    what: str
    text: Callable[[], str]


def _public_blocks(key: str) -> list[Block]:
    run = RUNS[key]
    bs = public.SETS[run.set]
    peer = run.peer or None
    name = f"public_{run.set}"
    return [
        Block(name, "description", lambda: bs.description),
        Block(name, "summary lines", lambda: public.summary(bs, run.rows(), peer)),
        Block(name, "table", lambda: public.table(bs, run.rows(), peer)),
    ]


def _scale_key(size: str, limit: str, seed: str, workers: str, solver: str = scale.ENGINE) -> str:
    """A scale row's identity, as ``benchmarks.scale`` keys its rows (the last row wins)."""
    lim = limit if limit == scale.GREEDY else str(float(limit))
    tail = "" if solver in ("", scale.ENGINE) else f"/{solver}"
    return f"{size}/{lim}/{seed}/{workers}{tail}"


def _scale_rows() -> tuple[list[Row], list[Row]]:
    """The engine rows and the peer rows of the scale section, derived as ``scale.main`` does."""
    done: dict[str, Row] = {}
    for row in read("scale"):
        k = _scale_key(
            row["size"], row["time_limit"], row["seed"], row["workers"], scale.solver_of(row)
        )
        done[k] = row
    mine = [r for r in done.values() if r["seed"] == "7" and r["workers"] == "2"]

    def order(r: Row) -> tuple[int, float]:
        return int(r["size"]), -1.0 if r["time_limit"] == scale.GREEDY else float(r["time_limit"])

    rows = sorted((r for r in mine if scale.solver_of(r) == scale.ENGINE), key=order)
    peers = sorted(
        (r for r in mine if scale.solver_of(r) != scale.ENGINE),
        key=lambda r: (*order(r), scale.PEERS.index(scale.solver_of(r))),
    )
    for r in rows:
        if r["time_limit"] != scale.GREEDY:
            scale.derive(r, done.get(_scale_key(r["size"], scale.GREEDY, r["seed"], r["workers"])))
    for r in peers:
        scale.compare(r, done.get(_scale_key(r["size"], r["time_limit"], r["seed"], r["workers"])))
    return rows, peers


def blocks() -> list[Block]:
    """Every block of RESULTS.md that a benchmark command renders from committed rows."""
    out = [Block("core_vs_greedy", "table", lambda: core_vs_greedy.table(read("core_vs_greedy")))]
    for key in ("j30", "j60", "j120", "mspsp", "imopse-d36"):
        out += _public_blocks(key)
    out += [
        Block("scale", "introduction", lambda: scale.INTRO),
        Block("scale", "peers' introduction", lambda: scale.PEERS_INTRO),
        Block("scale", "table", lambda: scale.table(_scale_rows()[0])),
        Block("scale", "peer table", lambda: scale.peer_table(*_scale_rows())),
        Block("scale", "targets", lambda: "\n".join(scale.verdicts(_scale_rows()[0]))),
        Block("scale", "notes", lambda: scale.notes(_scale_rows()[0])),
        Block("rebalance", "table", lambda: rebalance_stability.table(read("rebalance"))),
        Block("nightly", "section", lambda: nightly.section(read("nightly"))),
        Block(
            "report",
            "table",
            lambda: __import__("benchmarks.report", fromlist=["table"]).table(read("report")),
        ),
        Block(
            "load",
            "table",
            lambda: __import__("benchmarks.load", fromlist=["table"]).table(read("load")),
        ),
        Block(
            "risk",
            "table",
            lambda: __import__("benchmarks.risk", fromlist=["table"]).table(read("risk")),
        ),
        Block(
            "profile_stages",
            "section",
            lambda: __import__("benchmarks.profile_stages", fromlist=["section"]).section(
                read("profile_stages")
            ),
        ),
        Block(
            "first_plan",
            "section",
            lambda: __import__("benchmarks.first_plan", fromlist=["section"]).section(
                read("first_plan_runs"), read("first_plan_solves"), read("first_plan_first")
            ),
        ),
        Block(
            "convergence",
            "section",
            lambda: __import__("benchmarks.convergence", fromlist=["section"]).section(
                read("convergence")
            ),
        ),
        Block(
            "lns_convergence",
            "table",
            lambda: __import__("benchmarks.lns_convergence", fromlist=["table"]).table(
                read("lns_convergence")
            ),
        ),
    ]
    return out


def section(text: str, name: str) -> str:
    """The text between ``<!-- name:start -->`` and ``<!-- name:end -->`` (empty if absent)."""
    m = re.search(
        f"<!-- {re.escape(name)}:start -->\n(.*?)<!-- {re.escape(name)}:end -->", text, re.S
    )
    return m.group(1) if m else ""


def problems(text: str) -> list[str]:
    """What in ``text`` (RESULTS.md) does not match the committed rows; empty when all does."""
    out: list[str] = []
    f = figures()
    for b in blocks():
        if b.text() not in section(text, b.section):
            out.append(f"{b.section}: the {b.what} differ from the rows")
    if section(text, "results_summary") != summary_table(f):
        out.append("results_summary: the summary table differs from the rows")
    if section(text, "mspsp_improved") != mspsp_improved():
        out.append("mspsp_improved: the list differs from the rows")
    prose = " ".join(text.split())  # claims may wrap across lines
    out += [f"claim not found: {c!r}" for c in claims(f) if c not in prose]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--record", action="store_true", help="rewrite the summary blocks of RESULTS.md"
    )
    args = ap.parse_args(argv)
    f = figures()
    width = max(len(k) for k in f)
    for k, v in f.items():
        print(f"{k:<{width}}  {v}")
    print()
    print(summary_table(f))
    print(mspsp_improved())
    if args.record:
        record("results_summary", summary_table(f))
        record("mspsp_improved", mspsp_improved())
    found = problems(RESULTS.read_text())
    for p in found:
        print(f"MISMATCH {p}", file=sys.stderr)
    print(f"{len(found)} mismatch(es) between RESULTS.md and benchmarks/results/*.csv")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
