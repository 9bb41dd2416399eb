"""Schedule risk of a plan: a Monte Carlo over its durations (numpy only, no solver).

**Estimates.** A task's amount of work (``effort_hours``, else ``duration_days``; the *nominal*
value the plan used) ranges over its contract field ``estimate: {low, high}``. A task without
one gets the **default spread** :data:`DEFAULT_SPREAD` = (10 %, 30 %): ``low = nominal x 0.9``,
``high = nominal x 1.3`` (work overruns more often than it underruns); ``default_spread=(0, 0)``
gives tasks without an estimate no spread at all.

**Distribution.** Each run draws each task's amount from the **triangular** distribution on
``(low, nominal, high)`` (mode = the nominal value), by its inverse CDF applied to one uniform
number per task and run (:func:`triangular`; ``low == high`` gives the nominal value). The
amount becomes a duration in active days by the contract's *Duration* rule: an effort task
done by ``p`` lasts ``ceil(round(amount / (p.hours_per_day x allocation / 100), 9))`` active
days, a ``duration_days`` task ``ceil(round(amount, 9))`` (at least 1); work in progress scales
its remaining hours or days by ``amount / nominal``. Durations are whole active days, rounded
up as the contract rounds them: a 1-day ``duration_days`` task under the default spread lasts
2 days in the 75 % of runs that draw more than 1 day.

**Re-timing.** The plan's people and order are kept: every assigned task keeps its people,
waits for its predecessors (finish-to-start) and for the tasks its people finish before it
starts in the plan (each person's sequence; tasks a person carries side by side at partial
allocation stay side by side), and never starts before its planned start (the plan is a
commitment: a slip pushes work later, an early finish does not pull it earlier). It starts on
the first of its active days (every assignee available: contract *Active days*) on or after the
latest of those, and finishes when it has its sampled duration in active days, stretching over
its people's absences, their days off and holidays. The working-day calendar is extended past
the horizon's end (its weekdays and listed holidays) so a slipping task still gets a
date. With no spread at all every task keeps its planned dates, so every probability is 0 or 1
and agrees with the plan (``tests/test_risk.py``).

**Figures.** Per task: ``p_on_time`` (contract *Late* is 0), ``p50/p80/p95_finish`` (the
first finish date on or before which at least that share of the runs finish, an actual run's
date; null when that
share of the runs never finishes: its people leave before it has its duration) and
``criticality``: the share of runs in which the task is on the chain that sets the finish of a
project that is late in that run (the chain: from the project's last finishing task, back
through whatever set each start, a predecessor or the person's previous task, until the planned
start binds). Unassigned tasks are not simulated. Per project: ``p_on_time`` (every assigned task on time and the last finish not
after the project's deadline; null when nothing has a deadline), the finish percentiles and
``drivers``: its tasks (of any project) most often on that chain when it is late.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from allocator.domain import Plan, Portfolio, Task
from allocator.timeline import Timeline, availability

if TYPE_CHECKING:  # the frames import pandas when called: the simulation needs numpy only
    import pandas as pd

__all__ = [
    "DEFAULT_SPREAD",
    "RiskModel",
    "RiskResult",
    "risk_model",
    "simulate",
    "triangular",
]

#: (under, over) of tasks without an ``estimate``, as fractions of the nominal amount
DEFAULT_SPREAD = (0.1, 0.3)
#: percentiles reported
PERCENTILES = (50, 80, 95)
#: runs simulated at a time
CHUNK = 4096


def triangular(u: np.ndarray, low: np.ndarray, mode: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Inverse CDF of the triangular distribution on ``(low, mode, high)`` at ``u`` in [0, 1)
    (arrays broadcast): ``low + sqrt(u (high - low)(mode - low))`` below
    ``c = (mode - low) / (high - low)``, ``high - sqrt((1 - u)(high - low)(high - mode))`` above;
    ``mode`` where ``low == high``."""
    width = high - low
    c = np.where(width > 0, (mode - low) / np.where(width > 0, width, 1.0), 2.0)
    left = u * (width * (mode - low))
    np.sqrt(left, out=left)
    left += low
    right = 1.0 - u
    right *= width * (high - mode)
    np.sqrt(right, out=right)
    np.subtract(high, right, out=right)
    # width 0: c = 2 takes the left branch, which is low (= mode) exactly
    out: np.ndarray = np.where(u < c, left, right)
    return out


@dataclass(frozen=True)
class RiskModel:
    """The plan's assigned tasks compiled for the simulation, in plan start order (a
    topological order of the precedence and sequence edges). Indices are working days of the
    extended calendar ``days``."""

    tasks: tuple[Task, ...]
    days: tuple[date, ...]
    #: planned start and finish (working-day indices)
    start: np.ndarray
    finish: np.ndarray
    #: the tasks each must wait for (predecessors and each person's earlier tasks), as indices
    waits: tuple[np.ndarray, ...]
    #: (low, nominal, high) of each task's amount, and the factor turning an amount into
    #: (fractional) active days
    low: np.ndarray
    nominal: np.ndarray
    high: np.ndarray
    per_day: np.ndarray
    #: last working day on or before each task's deadline (None: no deadline)
    deadline: tuple[int | None, ...]
    #: project id -> (its task indices, its deadline's working day or None)
    projects: Mapping[str, tuple[np.ndarray, int | None]] = field(default_factory=dict)
    #: the tasks in batches that wait only for earlier batches (each a topological level)
    levels: tuple[np.ndarray, ...] = ()
    #: the active days of each people set (a task's active days are its set's): ``group[k]``
    #: the set of task k; ``group_rank[g, w]`` how many of set g's active days come before
    #: day w; their active days (sorted) laid end to end (offset and length of each set's part)
    group: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    group_rank: np.ndarray = field(default_factory=lambda: np.zeros((0, 1), dtype=np.int64))
    group_days: np.ndarray = field(default_factory=lambda: np.zeros(1, dtype=np.int64))
    group_offset: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    group_length: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def durations(self, u: np.ndarray) -> np.ndarray:
        """Sampled durations in active days, shape ``(tasks, runs)``, from uniforms ``u``."""
        x = triangular(u, self.low[:, None], self.nominal[:, None], self.high[:, None])
        x *= self.per_day[:, None]
        np.round(x, 9, out=x)
        np.ceil(x, out=x)
        np.maximum(x, 1.0, out=x)
        out: np.ndarray = x.astype(np.int64)
        return out


def _amounts(task: Task, spread: tuple[float, float]) -> tuple[float, float, float]:
    """(low, nominal, high) of a task's amount: its estimate, else the default spread."""
    nominal = float(task.nominal or 0.0)
    if task.estimate is not None:
        low, high = float(task.estimate.low), float(task.estimate.high)
    else:
        low, high = nominal * (1.0 - spread[0]), nominal * (1.0 + spread[1])
    return low, nominal, high


def risk_model(
    portfolio: Portfolio, plan: Plan, default_spread: tuple[float, float] = DEFAULT_SPREAD
) -> RiskModel:
    """Compile ``plan`` (assigned tasks the portfolio knows, first assignment each) for
    :func:`simulate`. Raises ``ValueError`` naming the task when an assignment's dates are not
    working days of the calendar."""
    cal = portfolio.calendar
    span = (cal.end - cal.start).days + 1
    extended = replace(portfolio, calendar=replace(cal, end=cal.end + timedelta(days=span + 366)))
    ext = Timeline.of(extended)
    base = Timeline.of(portfolio)
    # past the horizon: the calendar's weekdays and listed holidays
    days = base.days + tuple(d for d in ext.days if d > cal.end)
    tl = Timeline(days)
    n = len(days)
    avail = {
        p.id: np.array(availability(extended, Timeline(days), p), dtype=bool)
        for p in portfolio.people
    }
    seen: set[str] = set()
    rows = []
    for a in plan.assignments:
        task = portfolio.task_by_id.get(a.task)
        if task is None or a.task in seen or not task.to_plan:
            continue
        seen.add(a.task)
        s, f = tl.idx(a.start), tl.idx(a.finish)
        if s is None or f is None:
            raise ValueError(f"task {a.task}: start or finish is not a working day")
        rows.append((s, f, task, tuple(dict.fromkeys(a.people))))
    rows.sort(key=lambda r: (r[0], r[1]))
    pos = {r[2].id: k for k, r in enumerate(rows)}
    start = np.array([r[0] for r in rows], dtype=np.int64)
    finish = np.array([r[1] for r in rows], dtype=np.int64)
    by_person: dict[str, list[int]] = {}
    for k, (_, _, _, people) in enumerate(rows):
        for pid in people:
            by_person.setdefault(pid, []).append(k)
    waits: list[np.ndarray] = []
    masks: dict[tuple[str, ...], tuple[np.ndarray, np.ndarray]] = {}
    low, nominal, high, per_day = [], [], [], []
    deadline: list[int | None] = []
    for s, _, task, people in rows:
        before = {pos[p] for p in task.predecessors if p in pos}
        for pid in people:
            # the person's tasks finished before this one starts; those finished before another
            # of them starts are implied (kept out: fewer edges, same result)
            done = [j for j in by_person[pid] if finish[j] < s]
            if done:
                latest = max(start[j] for j in done)
                before.update(j for j in done if finish[j] >= latest)
        waits.append(np.array(sorted(before), dtype=np.int64))
        key = tuple(sorted(people))
        if key not in masks:
            mask = np.ones(n, dtype=bool)
            for pid in key:
                if pid in avail:
                    mask &= avail[pid]
            act = np.flatnonzero(mask)
            masks[key] = (act, np.searchsorted(act, np.arange(n + 1)))
        lo, nom, hi = _amounts(task, default_spread)
        low.append(lo)
        nominal.append(nom)
        high.append(hi)
        per_day.append(_per_day(portfolio, task, people, nom))
        d = portfolio.task_deadline(task)
        deadline.append(None if d is None else tl.last_on_or_before(d))
    level = np.zeros(len(rows), dtype=np.int64)
    for k, w in enumerate(waits):  # plan start order is topological
        if len(w):
            level[k] = level[w].max() + 1
    levels = tuple(np.flatnonzero(level == v) for v in range(int(level.max(initial=-1)) + 1))
    keys = list(masks)
    group_of = {key: g for g, key in enumerate(keys)}
    group = np.array([group_of[tuple(sorted(r[3]))] for r in rows], dtype=np.int64)
    lengths = np.array([len(masks[key][0]) for key in keys], dtype=np.int64)
    projects: dict[str, tuple[np.ndarray, int | None]] = {}
    for project in portfolio.projects:
        idx = np.array(
            [pos[t.id] for t in project.tasks if t.id in pos and t.to_plan], dtype=np.int64
        )
        d = project.deadline
        projects[project.id] = (idx, None if d is None else tl.last_on_or_before(d))
    return RiskModel(
        tasks=tuple(r[2] for r in rows),
        days=days,
        start=start,
        finish=finish,
        waits=tuple(waits),
        low=np.array(low, dtype=float),
        nominal=np.array(nominal, dtype=float),
        high=np.array(high, dtype=float),
        per_day=np.array(per_day, dtype=float),
        deadline=tuple(deadline),
        projects=projects,
        levels=levels,
        group=group,
        group_rank=np.array([masks[key][1] for key in keys], dtype=np.int64).reshape(
            len(keys), n + 1
        ),
        # a last 0 so an empty set's (masked) lookup stays in bounds
        group_days=np.concatenate([masks[key][0] for key in keys] + [np.zeros(1, np.int64)]),
        group_offset=np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64),
        group_length=lengths,
    )


def _per_day(portfolio: Portfolio, task: Task, people: Sequence[str], nominal: float) -> float:
    """Active days per unit of amount (contract *Duration*; work in progress: its remaining
    part scaled by amount / nominal)."""
    scale = 1.0
    prog = task.progress if task.state == "in_progress" else None
    if prog is not None and nominal > 0:
        if prog.remaining_days is not None:
            return float(prog.remaining_days) / nominal
        if prog.remaining_hours is not None:
            scale = float(prog.remaining_hours) / nominal
    if task.duration_days is not None or task.effort_hours is None:
        return scale
    person = portfolio.person_by_id.get(people[0]) if people else None
    hpd = person.day_hours if person is not None else 8.0
    return scale / (hpd * task.alloc / 100.0)


@dataclass(frozen=True)
class RiskResult:
    """Per-task and per-project figures of :func:`simulate` (see the module's docstring)."""

    runs: int
    seed: int | None
    tasks: Mapping[str, Mapping[str, Any]]
    projects: Mapping[str, Mapping[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"runs", "seed", "projects": {id: {...}}, "tasks": {id: {...}}}``."""
        return {
            "runs": self.runs,
            "seed": self.seed,
            "projects": {k: dict(v) for k, v in self.projects.items()},
            "tasks": {k: dict(v) for k, v in self.tasks.items()},
        }

    def projects_frame(self) -> pd.DataFrame:
        """One row per project, the least likely on time first (projects without a deadline
        last, stable): ``project``, ``tasks`` (simulated), ``p_on_time`` (float, NaN without a
        deadline), ``p50_finish``, ``p80_finish``, ``p95_finish`` (datetime64, NaT when that
        share of the runs never finishes) and ``drivers`` (``task (share of late runs)``, most
        often on the late chain first). pandas is imported here, not with the module."""
        import pandas as pd

        rows = [
            {
                "project": pid,
                "tasks": int(v.get("tasks", 0)),
                "p_on_time": v["p_on_time"],
                **{f"p{q}_finish": v[f"p{q}_finish"] for q in PERCENTILES},
                "drivers": ", ".join(
                    f"{d['task']} ({d['share_of_late_runs']:.0%})" for d in v.get("drivers", [])
                ),
            }
            for pid, v in self.projects.items()
        ]
        df = _frame(pd, rows, ["project", "tasks", "p_on_time", *_FINISHES, "drivers"])
        df["tasks"] = df["tasks"].astype("int64")
        df["drivers"] = df["drivers"].astype("string")
        return df.sort_values("p_on_time", kind="stable", na_position="last").reset_index(drop=True)

    def tasks_frame(self) -> pd.DataFrame:
        """One row per simulated task, the most critical first (stable: plan start order
        within a tie): ``task``, ``project``, ``planned_finish``, ``p_on_time`` (NaN without
        a deadline), ``p50_finish``, ``p80_finish``, ``p95_finish`` (dates as datetime64) and
        ``criticality``."""
        import pandas as pd

        rows = [{"task": tid, **v} for tid, v in self.tasks.items()]
        cols = ["task", "project", "planned_finish", "p_on_time", *_FINISHES, "criticality"]
        df = _frame(pd, rows, cols)
        df["planned_finish"] = pd.to_datetime(df["planned_finish"]).astype("datetime64[ns]")
        df["criticality"] = df["criticality"].astype(float)
        df["project"] = df["project"].astype("string")
        return df.sort_values("criticality", ascending=False, kind="stable").reset_index(drop=True)


_FINISHES = [f"p{q}_finish" for q in PERCENTILES]


def _frame(pandas: Any, rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    """Rows as a frame of ``columns``: the first a string id, ``p_on_time`` float (NaN for
    None), the finish percentiles datetime64 (NaT for None)."""
    df = pandas.DataFrame(rows, columns=columns)
    df[columns[0]] = df[columns[0]].astype("string")
    df["p_on_time"] = pandas.to_numeric(df["p_on_time"], errors="raise").astype(float)
    for c in _FINISHES:
        df[c] = pandas.to_datetime(df[c]).astype("datetime64[ns]")  # as allocator.frames' dates
    return df


def retime(model: RiskModel, durations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Finish days ``(tasks, runs)`` and, per task and run, the task whose finish set its start
    (-1: its planned start did; on a tie the task waited for), vectorized over runs and over the
    tasks of one level (:attr:`RiskModel.levels`)."""
    k_tasks, runs = durations.shape
    n = len(model.days)
    fin = np.empty((k_tasks + 1, runs), dtype=np.int64)
    fin[k_tasks] = -2  # the pad of the wait lists: never binds
    bind = np.full((k_tasks, runs), -1, dtype=np.int64)
    for lv in model.levels:
        ready = np.repeat(model.start[lv][:, None], runs, axis=1)
        width = max(len(model.waits[k]) for k in lv)
        if width:
            pad = np.full((len(lv), width), k_tasks, dtype=np.int64)
            for i, k in enumerate(lv):
                pad[i, : len(model.waits[k])] = model.waits[k]
            after = fin[pad] + 1  # (tasks, width, runs)
            best = after.argmax(axis=1)
            top = np.take_along_axis(after, best[:, None, :], axis=1)[:, 0, :]
            later = top >= ready  # a tie: the task it waits for binds, not the floor
            np.copyto(ready, top, where=later)
            bind[lv] = np.where(later, np.take_along_axis(pad, best, axis=1), -1)
        g = model.group[lv][:, None]
        first = model.group_rank[g, np.minimum(ready, n)]  # active days before `ready`
        last = first + durations[lv] - 1
        length = model.group_length[g]
        pos = model.group_offset[g] + np.minimum(last, length - 1)
        fin[lv] = np.where(last < length, model.group_days[np.maximum(pos, 0)], n)
    return fin[:k_tasks], bind


def simulate(
    portfolio: Portfolio,
    plan: Plan,
    *,
    runs: int = 10_000,
    seed: int | None = 0,
    default_spread: tuple[float, float] = DEFAULT_SPREAD,
    model: RiskModel | None = None,
    uniforms: np.ndarray | None = None,
) -> RiskResult:
    """Monte Carlo of ``plan``'s finish dates under estimate uncertainty (module docstring).

    ``uniforms``: the ``(tasks, runs)`` uniform numbers to use (for tests), else drawn from
    ``numpy.random.default_rng(seed)``, :data:`CHUNK` runs at a time (runs are simulated in
    chunks so the temporary arrays stay small)."""
    if runs < 1:
        raise ValueError(f"runs must be >= 1, got {runs}")
    m = model if model is not None else risk_model(portfolio, plan, default_spread)
    k_tasks = len(m.tasks)
    rng = np.random.default_rng(seed)
    runs = runs if uniforms is None else uniforms.shape[1]
    # working-day and task indices fit 32 bits: half the memory of the (tasks, runs) arrays
    fin = np.empty((k_tasks, runs), dtype=np.int32)
    bind = np.empty((k_tasks, runs), dtype=np.int32)
    for lo in range(0, runs, CHUNK):
        hi = min(runs, lo + CHUNK)
        u = rng.random((k_tasks, hi - lo)) if uniforms is None else uniforms[:, lo:hi]
        fin[:, lo:hi], bind[:, lo:hi] = retime(m, m.durations(u))
    return _summarize(m, fin, bind, runs, seed)


def _ranks(runs: int) -> list[int]:
    """Positions in the sorted runs of the :data:`PERCENTILES` (the inverted CDF: the smallest
    value with at least q % of the runs at or below it, an actual run's value)."""
    return [max(0, math.ceil(q / 100 * runs) - 1) for q in PERCENTILES]


def _dates(model: RiskModel, w: np.ndarray) -> list[str | None]:
    n = len(model.days)
    return [model.days[int(i)].isoformat() if i < n else None for i in w]


def _summarize(
    m: RiskModel, fin: np.ndarray, bind: np.ndarray, runs: int, seed: int | None
) -> RiskResult:
    k_tasks = len(m.tasks)
    cols = np.arange(runs)
    # (task, run) on the driving chain of a project late in that run, flat
    on_chain_late = np.zeros(k_tasks * runs, dtype=bool)
    projects: dict[str, dict[str, Any]] = {}
    for pid, (idx, dl) in m.projects.items():
        if len(idx) == 0:
            projects[pid] = {"p_on_time": None, "tasks": 0, "p50_finish": None,
                             "p80_finish": None, "p95_finish": None, "drivers": []}  # fmt: skip
            continue
        last = idx[fin[idx].argmax(axis=0)]
        pfin = fin[last, cols]
        on_time = np.ones(runs, dtype=bool)
        has_deadline = dl is not None
        if dl is not None:
            on_time &= pfin <= dl
        for k in idx:
            if m.deadline[k] is not None:
                has_deadline = True
                on_time &= fin[k] <= m.deadline[k]
        # walk each late run's chain back (each step to an earlier task: no task twice)
        count = np.zeros(k_tasks, dtype=np.int64)
        live_cols = cols[~on_time]
        cur = last[live_cols]
        while len(cur):
            count += np.bincount(cur, minlength=k_tasks)
            on_chain_late[cur.astype(np.int64) * runs + live_cols] = True
            nxt = bind[cur, live_cols]
            keep = nxt >= 0
            cur, live_cols = nxt[keep], live_cols[keep]
        n_late = runs - int(on_time.sum())
        share = count / n_late if n_late else np.zeros(k_tasks)
        top = [int(k) for k in np.argsort(-share, kind="stable")[:3] if share[k] > 0]
        q = np.partition(pfin, _ranks(runs))[_ranks(runs)]
        projects[pid] = {
            "p_on_time": float(on_time.mean()) if has_deadline else None,
            "tasks": len(idx),
            **dict(zip([f"p{p}_finish" for p in PERCENTILES], _dates(m, q), strict=True)),
            "drivers": [
                {"task": m.tasks[k].id, "share_of_late_runs": float(share[k])} for k in top
            ],
        }
    crit = on_chain_late.reshape(k_tasks, runs).mean(axis=1)
    no_dl = len(m.days) + 1
    dl_arr = np.array([no_dl if d is None else d for d in m.deadline], dtype=np.int64)
    p_on = (fin <= dl_arr[:, None]).mean(axis=1)
    fin.partition(_ranks(runs), axis=1)  # last use of fin: in place
    dates = [_dates(m, fin[:, r]) for r in _ranks(runs)]
    tasks: dict[str, dict[str, Any]] = {}
    for k, task in enumerate(m.tasks):
        tasks[task.id] = {
            "project": task.project,
            "planned_finish": m.days[int(m.finish[k])].isoformat(),
            "p_on_time": None if m.deadline[k] is None else float(p_on[k]),
            **{f"p{p}_finish": dates[j][k] for j, p in enumerate(PERCENTILES)},
            "criticality": float(crit[k]),
        }
    return RiskResult(runs=runs, seed=seed, tasks=tasks, projects=projects)
