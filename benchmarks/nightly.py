"""The nightly job as an operator runs it: N generated portfolios two weeks on, timed.

Set up (not timed): N portfolios of about 200 tasks (``generate(people, projects, pin_share)``,
pins included) are stored in the service's database, each with a first plan solved on its
calendar's first day (recorded as that night). The progress file then says what happened in the
two weeks that followed, from that plan: a task planned to finish before ``as_of`` is done, one
running across it is in progress with its planned people and the working days it has left, and
about one in ten of the tasks planned to start before ``as_of`` has not started (slipped, so
some pinned dates are passed on work not started).

Timed: ``allocator nightly --db URL --as-of D --updates FILE --time-limit S`` in a subprocess
(its own LocalCluster of ``--workers`` processes, 2 by default), the resident memory of every process of its tree
sampled every 0.1 s. Reported: wall time, seconds per portfolio, the exit code, failed
portfolios (no new plan version for the night), the peak memory of the driver, of the largest
worker and of all processes together, and the **churn of untouched work**: among the tasks still
to do, planned in the previous plan to start on or after ``as_of`` and unchanged by the
progress file, the share whose people or start changed (or that the new plan leaves out).

    python -m benchmarks.nightly --portfolios 20 --backend sqlite --label after --record
    python -m benchmarks.nightly --portfolios 20 --backend postgresql --label after --record
    python -m benchmarks.nightly --portfolios 20 --repeat 10 --time-limit 2 --record  # 200
    python -m benchmarks.nightly --time-limit 1 --workers 1 --label "1 worker" --record
    python -m benchmarks.nightly --time-limit 1 --workers 2 --label "2 workers" --record

``--repeat K`` stores each generated portfolio K times (``<name>#<k>``): 200 portfolios without
generating and solving 200 first plans (each copy is a portfolio of its own to the night).
``--record`` appends the row to ``benchmarks/results/nightly.csv`` and rewrites the ``nightly``
section of ``benchmarks/RESULTS.md`` from every row. PostgreSQL runs use the
schema ``nightly_bench`` of ``--pg-url`` (dropped and made again), so nothing else is touched.
The set-up is cached per (portfolios, seed, size) under ``out/nightly_bench/``.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import logging
import os
import platform
import random
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "nightly.csv"
START = dt.date(2027, 1, 4)
AS_OF = dt.date(2027, 1, 18)  # two weeks on
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SCHEMA = "nightly_bench"
FIELDS = [
    "date",
    "label",
    "backend",
    "portfolios",
    "tasks",
    "time_limit",
    "workers",
    "exit_code",
    "rebalanced",
    "failed",
    "wall_s",
    "s_per_portfolio",
    "untouched",
    "untouched_moved",
    "churn_pct",
    "churn_min_pct",
    "churn_max_pct",
    "peak_driver_mb",
    "peak_worker_mb",
    "peak_all_mb",
    "processes",
    "machine",
]


# -- set-up -------------------------------------------------------------------------------------
def make_portfolios(n: int, seed: int, people: int, projects: int, pin_share: float) -> list[Any]:
    """``n`` portfolios with their first plan: ``[(portfolio dict, plan dict)]``."""
    from allocator.contract import plan_to_dict, portfolio_to_dict
    from allocator.engine import SolveParams, solve
    from allocator.generator import generate

    out = []
    for k in range(n):
        p = generate(people, projects, seed=seed + k, pin_share=pin_share, start=START)
        data = portfolio_to_dict(p)
        data["as_of"] = START.isoformat()
        plan = solve(p, SolveParams(time_limit=2, workers=1, seed=0)).plan
        out.append((data, plan_to_dict(plan)))
    return out


def progress_file(seeded: list[tuple[dict[str, Any], dict[str, Any]]], seed: int) -> Any:
    """The progress file two weeks on (module docstring), keyed by portfolio name."""
    from allocator.contract import load_portfolio
    from allocator.timeline import Timeline

    rng = random.Random(seed)
    out: dict[str, Any] = {}
    for data, plan in seeded:
        tl = Timeline.of(load_portfolio(data))
        first = tl.first_on_or_after(AS_OF)
        tasks: dict[str, Any] = {}
        for a in plan["assignments"]:
            start, finish = dt.date.fromisoformat(a["start"]), dt.date.fromisoformat(a["finish"])
            if start >= AS_OF or rng.random() < 0.1:
                continue  # not started yet (planned later, or slipped)
            if finish < AS_OF:
                tasks[a["task"]] = {"status": "done"}
            else:
                f = tl.idx(finish)
                left = max(1, (f if f is not None else first) - first + 1)
                tasks[a["task"]] = {
                    "status": "in_progress",
                    "progress": {"people": list(a["people"]), "remaining_days": left},
                }
        out[data["name"]] = {"tasks": tasks}
    return out


def seed_db(
    url: str, seeded: list[Any], by_name: dict[str, Any], updates: Path, repeat: int = 1
) -> None:
    """Store the portfolios (each ``repeat`` times, as ``<name>#<k>``) and their first plans;
    write the progress file keyed by id."""
    from allocator.contract import load_plan, load_portfolio
    from allocator_api.db import Database
    from allocator_api.repository import NightlyStore, PortfolioDoc, Portfolios
    from allocator_api.service import checked_plan, read_valid_portfolio

    db = Database(url)
    db.migrate()
    for copy in range(repeat):
        with db.sessions() as s:
            for k, (data, _) in enumerate(seeded):
                name = data["name"] if repeat == 1 else f"{data['name']}#{copy}"
                valid = read_valid_portfolio({**data, "name": name})
                doc = PortfolioDoc(valid.doc.name, valid.doc.body, 3, 4)
                Portfolios(s, f"tenant-{k % 3}").create(doc)
    plans = {d["name"]: plan for d, plan in seeded}
    store = NightlyStore(db.sessions)
    ids: dict[str, Any] = {}
    for inp in store.inputs():
        name = inp.body["name"].rsplit("#", 1)[0]
        p = load_portfolio(inp.body)
        plan = replace(load_plan(plans[name]), portfolio=p.name)
        store.save(inp, START, None, checked_plan(p, plan), [])
        ids[inp.portfolio_id] = by_name[name]
    db.dispose()
    updates.write_text(json.dumps({"as_of": AS_OF.isoformat(), "portfolios": ids}))


def fresh_pg(url: str) -> str:
    """``url`` with its search path on a new, empty schema :data:`SCHEMA`."""
    import sqlalchemy as sa

    eng = sa.create_engine(url)
    with eng.begin() as c:
        c.execute(sa.text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        c.execute(sa.text(f"CREATE SCHEMA {SCHEMA}"))
    eng.dispose()
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{SCHEMA}"


# -- the timed run -----------------------------------------------------------------------------
class Sampler(threading.Thread):
    """Peak resident memory (bytes) of every process of a tree, sampled every 0.1 s."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak: dict[int, int] = {}
        self.names: dict[int, str] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        import psutil  # type: ignore[import-untyped]

        try:
            root = psutil.Process(self.pid)
        except psutil.Error:
            return
        while not self.stop.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.Error:
                break
            for p in procs:
                try:
                    rss = p.memory_info().rss
                    self.names.setdefault(p.pid, " ".join(p.cmdline()[1:4]))
                except psutil.Error:
                    continue
                self.peak[p.pid] = max(self.peak.get(p.pid, 0), rss)
            time.sleep(0.1)


def run_night(
    url: str, updates: Path, time_limit: float, extra: list[str], workers: int = 2
) -> dict[str, Any]:
    cmd = [
        sys.executable,
        "-m",
        "allocator_api.cli",
        "nightly",
        "--db",
        url,
        "--as-of",
        AS_OF.isoformat(),
        "--updates",
        str(updates),
        "--time-limit",
        str(time_limit),
        "--workers",
        str(workers),
        *extra,
    ]
    t0 = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=updates.parent)
        sampler = Sampler(proc.pid)
        sampler.start()
        code = proc.wait()
        wall = time.monotonic() - t0
        sampler.stop.set()
        sampler.join()
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    mb = 1024 * 1024
    others = [v for pid, v in sampler.peak.items() if pid != proc.pid]
    return {
        "exit_code": code,
        "wall_s": round(wall, 1),
        "peak_driver_mb": round(sampler.peak.get(proc.pid, 0) / mb),
        "peak_worker_mb": round(max(others, default=0) / mb),
        "peak_all_mb": round(sum(sampler.peak.values()) / mb),
        "processes": len(sampler.peak),
        "stdout": stdout,
        "stderr": stderr,
    }


def churn(url: str, seeded: list[Any], by_name: dict[str, Any]) -> dict[str, Any]:
    """Per portfolio: rebalanced or not, and the untouched tasks moved (module docstring)."""
    from allocator_api.db import Database
    from allocator_api.repository import NightlyStore

    prev_plans = {d["name"]: p for d, p in seeded}
    db = Database(url)
    store = NightlyStore(db.sessions)
    rebalanced, count, per = 0, 0, []
    total = moved = 0
    for inp in store.inputs():
        name = inp.body["name"].rsplit("#", 1)[0]
        count += 1
        if not any(r.as_of == AS_OF for r in store.runs(inp.portfolio_id)):
            continue
        rebalanced += 1
        touched = set(by_name[name]["tasks"])
        old = {a["task"]: a for a in prev_plans[name]["assignments"]}
        new = {a["task"]: a for a in (inp.plan_body or {}).get("assignments", [])}
        n = m = 0
        for tid, a in old.items():
            if tid in touched or dt.date.fromisoformat(a["start"]) < AS_OF:
                continue
            n += 1
            b = new.get(tid)
            if b is None or b["start"] != a["start"] or sorted(b["people"]) != sorted(a["people"]):
                m += 1
        total, moved = total + n, moved + m
        per.append(100 * m / n if n else 0.0)
    db.dispose()
    return {
        "rebalanced": rebalanced,
        "failed": count - rebalanced,
        "untouched": total,
        "untouched_moved": moved,
        "churn_pct": round(100 * moved / total, 1) if total else 0.0,
        "churn_min_pct": round(min(per, default=0.0), 1),
        "churn_max_pct": round(max(per, default=0.0), 1),
    }


# -- RESULTS.md ----------------------------------------------------------------------------------
def table(rows: list[dict[str, str]]) -> str:
    """The ``nightly`` table of RESULTS.md from the CSV rows (every row, in order), then the
    extrapolation to 500 portfolios from the largest "after" run per backend."""
    out = [
        "| run | backend | portfolios | time limit (s) | exit | rebalanced / failed | wall (s) "
        "| s per portfolio | untouched work moved | per portfolio | peak MB: driver / largest "
        "worker / all |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        out.append(
            f"| {r['label']} | {r['backend']} | {r['portfolios']} | {r['time_limit']} "
            f"| {r['exit_code']} | {r['rebalanced']} / {r['failed']} | {r['wall_s']} "
            f"| {r['s_per_portfolio']} | {r['untouched_moved']}/{r['untouched']} "
            f"({r['churn_pct']} %) | {r['churn_min_pct']}-{r['churn_max_pct']} % "
            f"| {r['peak_driver_mb']} / {r['peak_worker_mb']} / {r['peak_all_mb']} |"
        )
    out.append("")
    largest: dict[str, dict[str, str]] = {}
    for r in rows:
        if r["label"] == "after" and int(r["portfolios"]) >= int(
            largest.get(r["backend"], {"portfolios": "0"})["portfolios"]
        ):
            largest[r["backend"]] = r
    for backend, r in largest.items():
        per = float(r["s_per_portfolio"])
        out.append(
            f"Extrapolated ({backend}, {r['portfolios']} portfolios at {r['time_limit']} s, "
            f"{r['workers']} workers): 500 portfolios in about {per * 500 / 60:.0f} min "
            f"({per} s each, linear in the count)."
        )
    return "\n".join(out) + "\n"


def _find(rows: list[dict[str, str]], label: str, backend: str, n: int, tl: float) -> Any:
    found = [
        r
        for r in rows
        if r["label"] == label
        and r["backend"] == backend
        and int(r["portfolios"]) == n
        and float(r["time_limit"]) == tl
    ]
    return found[-1] if found else None


def _by_label(rows: list[dict[str, str]], label: str) -> Any:
    found = [r for r in rows if r["label"] == label]
    return found[-1] if found else None


def section(rows: list[dict[str, str]]) -> str:
    """The ``nightly`` section of RESULTS.md: how it was run, the table, what it says (every
    figure from the rows; ``benchmarks.summarize`` checks it verbatim)."""
    dates = sorted({r["date"] for r in rows}) or ["-"]
    date = " and ".join(dates) if len(dates) < 3 else f"{dates[0]} to {dates[-1]}"
    out = [
        f"Runs of {date} on this machine (2 cores, 24 GB, shared with other processes), "
        "`allocator nightly` in a subprocess on its own LocalCluster of 2 worker processes:",
        "`python -m benchmarks.nightly --portfolios 20 --backend sqlite|postgresql --label "
        "before|after --record`; 200 portfolios: `--portfolios 20 --repeat 10 --time-limit 2`; "
        'a free re-plan: `--extra "--stability 0"`; the speed-up per worker: `--time-limit 1 '
        '--workers 1|2 --label "1 worker"|"2 workers"`. "before" ran the tree of commit f3c102d '
        "(before issue #17) with the same benchmark. Each portfolio: about 200 tasks, 20 people, "
        "10 % of tasks pinned, its first plan made on 2027-01-04, then the night of 2027-01-18 "
        "with a progress file from that plan (done, in progress with its people and days left, "
        "one in ten of the tasks due to start having slipped). Untouched work: tasks still to do "
        "that the plan started on or after as_of and the progress file does not name; moved: "
        "other people or start, or left out.",
        "",
        table(rows),
    ]
    before = _find(rows, "before", "sqlite", 20, 5.0)
    after = _find(rows, "after", "sqlite", 20, 5.0)
    free = _find(rows, "after --stability 0", "sqlite", 20, 5.0)
    if before and after:
        out.append(
            f"Before, {before['failed']} of {before['portfolios']} portfolios failed every night "
            f"(a pinned start passed by as_of); the {before['rebalanced']} rebalanced moved "
            f"{before['churn_pct']} % of their untouched work. After, the night ends with exit "
            f"{after['exit_code']}, {after['rebalanced']} of {after['portfolios']} rebalanced, "
            f"and {after['churn_pct']} % of the untouched work moved at the default settings "
            f"({after['churn_min_pct']}-{after['churn_max_pct']} % per portfolio)."
        )
    if free:
        out.append(
            f"A free re-plan of the same night (`--stability 0`) moves {free['churn_pct']} % "
            f"({free['churn_min_pct']}-{free['churn_max_pct']} % per portfolio): at this time "
            "limit the search found nothing better than the kept plan either way, so these moves "
            "are the ones the night forced (slipped and passed work, its successors); what the "
            "default price of a change saves is measured in the rebalancing section. The "
            "before figure covers only the portfolios that run rebalanced."
        )
    one, two = _by_label(rows, "1 worker"), _by_label(rows, "2 workers")
    if one and two:
        ratio = float(one["wall_s"]) / float(two["wall_s"])
        out.append(
            f"Speed-up per worker (`--workers 1` then `--workers 2`, back to back, "
            f"{two['portfolios']} portfolios, {two['backend']}, {two['time_limit']} s): "
            f"{one['s_per_portfolio']} s then {two['s_per_portfolio']} s per portfolio, "
            f"{ratio:.2f} times faster with 2 workers. This machine has 2 cores, so 2 workers "
            "is the most that can help, and other benchmarks shared those cores during the runs. "
            f"These two rows were set up again on {two['date']} (the first plans are solved under "
            "a 2 s time limit, so they depend on the machine's load): their churn belongs to that "
            "set-up, not comparable with the rows above."
        )
    big = _by_label(rows, "after, 500")
    if big:
        out.append(
            f"A real night of {big['portfolios']} portfolios ({big['backend']}, "
            f"{big['time_limit']} s, {big['workers']} workers, `--portfolios 20 --repeat 25 "
            f"--time-limit 1`): exit {big['exit_code']}, {big['rebalanced']} rebalanced, "
            f"{big['failed']} failed, {big['wall_s']} s ({big['s_per_portfolio']} s per "
            f"portfolio); the driver peaked at {big['peak_driver_mb']} MB, all processes at "
            f"{big['peak_all_mb']} MB: the driver still grows with the count."
        )
    ladder = sorted(
        (r for r in rows if r["label"] == "after" and r["backend"] == "sqlite"),
        key=lambda r: int(r["portfolios"]),
    )
    ladder = [r for r in ladder if r["time_limit"] == ladder[-1]["time_limit"]] if ladder else []
    if len(ladder) > 1:
        counts = ", ".join(r["portfolios"] for r in ladder)
        out.append(
            f"Memory with the count ({counts} portfolios, {ladder[-1]['time_limit']} s each): the "
            f"driver peaked at {', '.join(r['peak_driver_mb'] for r in ladder)} MB, all "
            f"processes at {', '.join(r['peak_all_mb'] for r in ladder)} MB, the largest worker "
            f"at {', '.join(r['peak_worker_mb'] for r in ladder)} MB; "
            f"{', '.join(r['s_per_portfolio'] for r in ladder)} s per portfolio."
        )
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--portfolios", type=int, default=20)
    ap.add_argument("--people", type=int, default=20)
    ap.add_argument("--projects", type=int, default=25)
    ap.add_argument("--pin-share", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--time-limit", type=float, default=5.0)
    ap.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    ap.add_argument("--pg-url", default=PG_URL)
    ap.add_argument("--label", default="after")
    ap.add_argument("--extra", default="", help="more arguments for `allocator nightly`")
    ap.add_argument("--repeat", type=int, default=1, help="store each portfolio N times")
    ap.add_argument("--workers", type=int, default=2, help="the LocalCluster's processes")
    ap.add_argument("--record", action="store_true")
    ap.add_argument("--show", action="store_true", help="print the command's output")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)  # the set-up's validation warnings are known

    cache = Path("out/nightly_bench").resolve()
    cache.mkdir(parents=True, exist_ok=True)
    key = f"n{args.portfolios}-s{args.seed}-{args.people}p{args.projects}x-pin{args.pin_share}"
    seeded_file = cache / f"{key}.json"
    if seeded_file.exists():
        seeded = json.loads(seeded_file.read_text())
    else:
        t0 = time.monotonic()
        seeded = make_portfolios(
            args.portfolios, args.seed, args.people, args.projects, args.pin_share
        )
        seeded_file.write_text(json.dumps(seeded))
        print(f"set up {args.portfolios} portfolios in {time.monotonic() - t0:.0f}s")
    by_name = progress_file(seeded, args.seed)
    work = Path(tempfile.mkdtemp(prefix="nightly-bench-", dir=cache))
    updates = work / "progress.json"
    if args.backend == "sqlite":
        url = f"sqlite:///{work / 'allocator.sqlite'}"
    else:
        url = fresh_pg(args.pg_url)
    seed_db(url, seeded, by_name, updates, args.repeat)
    res = run_night(url, updates, args.time_limit, args.extra.split(), args.workers)
    stats = churn(url, seeded, by_name)
    tasks = sum(len(t) for d, _ in seeded for proj in d["projects"] for t in [proj["tasks"]])
    row = {
        "date": dt.date.today().isoformat(),
        "label": args.label,
        "backend": args.backend,
        "portfolios": args.portfolios * args.repeat,
        "tasks": round(tasks / max(1, args.portfolios)),
        "time_limit": args.time_limit,
        "workers": args.workers,
        **{k: v for k, v in res.items() if k in FIELDS},
        **stats,
        "s_per_portfolio": round(res["wall_s"] / max(1, args.portfolios * args.repeat), 2),
        "machine": f"{platform.machine()} {os.cpu_count()} cores",
    }
    if args.show:
        print(res["stdout"])
        print(res["stderr"][-4000:], file=sys.stderr)
    print(json.dumps(row))
    if args.record:
        new = not RESULTS.exists()
        with RESULTS.open("a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=FIELDS)
            if new:
                w.writeheader()
            w.writerow({k: row[k] for k in FIELDS})
        if str(HERE.parent) not in sys.path:  # run as a script
            sys.path.insert(0, str(HERE.parent))
        from benchmarks.results_md import record

        with RESULTS.open(newline="") as f:
            record("nightly", "## The nightly job\n\n" + section(list(csv.DictReader(f))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
