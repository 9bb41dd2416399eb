"""``benchmarks.public --shard K/N``: shards split the selection without overlap, cover it, and
a process never redoes a row another one wrote into the shared CSV meanwhile.

The solver is replaced by a stub (these tests are about the run's bookkeeping, not about
solving); the instances are real PSPLIB files read in place from ``../shared/benchmarks``.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import pytest

from benchmarks import public

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "benchmarks"

pytestmark = pytest.mark.skipif(
    not SHARED.is_dir(), reason=f"public benchmark folder {SHARED} is missing"
)


def _stub(solved: list[str]):  # type: ignore[no-untyped-def]
    def run_one(bs, path, known, args):  # type: ignore[no-untyped-def]
        solved.append(path.name)
        return dict.fromkeys(public.FIELDS, "") | {
            "set": bs.name, "instance": path.name, "family": bs.family(path.name),
            "time_limit": args.time_limit, "workers": args.workers, "seed": args.seed_solver,
            "deterministic_time": "", "peer": "", "makespan": 1, "best_known": 1,
            "matches_best": True, "status": "feasible", "proven_optimal": False, "valid": True,
            "gap_best": 0.0, "lower_bound": 1, "seconds": 0.0, "date": "2026-01-01",
        }  # fmt: skip

    return run_one


def _wanted() -> list[str]:
    bs = public.SETS["j30"]
    files = public.instances(bs, public.shared_dir())
    return public.stratified_sample(list(files), bs.family, 12, 3)


ARGS = ["--set", "j30", "--sample", "12", "--seed", "3", "--time-limit", "1"]


def test_shards_are_disjoint_and_cover_the_selection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(public, "RESULTS_DIR", tmp_path)
    solved: list[str] = []
    monkeypatch.setattr(public, "run_one", _stub(solved))
    parts = []
    for k in (1, 2, 3):
        before = len(solved)
        assert public.main([*ARGS, "--shard", f"{k}/3"]) == 0
        parts.append(solved[before:])
    assert all(len(p) == 4 for p in parts)
    assert sorted(solved) == sorted(_wanted())  # each instance once, all of them
    assert public.main(ARGS) == 0  # the unsharded run finds everything done
    assert len(solved) == 12
    with (tmp_path / "public_j30.csv").open() as f:
        assert len(list(csv.DictReader(f))) == 12


def test_a_row_written_by_another_process_is_not_redone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(public, "RESULTS_DIR", tmp_path)
    solved: list[str] = []
    stub = _stub(solved)
    wanted = _wanted()
    csv_path = tmp_path / "public_j30.csv"

    def run_one_and_race(bs, path, known, args):  # type: ignore[no-untyped-def]
        row = stub(bs, path, known, args)
        if len(solved) == 1:  # meanwhile "another process" writes the last instance's row
            other = stub(bs, path.with_name(wanted[-1]), known, args)
            solved.pop()
            with csv_path.open("a", newline="") as f:
                csv.DictWriter(f, fieldnames=public.FIELDS).writerow(other)
        return row

    monkeypatch.setattr(public, "run_one", run_one_and_race)
    assert public.main(ARGS) == 0
    assert wanted[-1] not in solved
    assert sorted([*solved, wanted[-1]]) == sorted(wanted)


@pytest.mark.parametrize("bad", ["0/2", "3/2", "2", "a/b"])
def test_bad_shard_is_a_usage_error(bad: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="K/N"):
        public.parse_shard(bad)
