"""The nightly rebalancing of every portfolio of the service's database (``allocator nightly``).

For each portfolio: apply the day's updates (the *progress file* below), rebalance from its
latest plan (:func:`allocator.rebalance.rebalance`; a plain solve when it has none), check the
new plan with the independent checker, and store the updated portfolio, the new plan version
and its diff against the previous plan **in one transaction** (``allocator_api.repository.NightlyStore``):
a failure anywhere leaves the previous plan in force. A ``nightly_runs`` row per
(portfolio, ``as_of``) makes a rerun of the same night a no-op.

Each portfolio is rebalanced by :func:`allocator.rebalance.rebalance` at the library's stable
default (:data:`allocator.rebalance.DEFAULT_STABILITY`), with the night's overrides of the
policy keys ``freeze_days``, ``churn_budget`` and ``stability`` (:class:`NightSettings`; None
keeps each portfolio's own). A pinned start that ``as_of`` has passed is history, not an error
(:mod:`allocator.history`): the plan is checked against the portfolio with that history settled.

The solves run in parallel on Dask (``scheduler`` address, or a ``LocalCluster`` of
``workers`` processes, its dashboard off unless asked for). A portfolio whose worker process
dies is run again on another by the scheduler, up to its ``distributed.scheduler.allowed-failures``
deaths (3 by default); past them that portfolio alone fails, named, with ``KilledWorker`` (the
others go on, the exit code is 1). A solve that raises is tried ``RETRIES`` more times. Workers
only compute: every database write happens in the driver, after the
result came back. Portfolios are read one at a time as the workers take them, at most
``batch`` in flight (:class:`~allocator_api.nightly_store.StreamingNightlyStore`), and the run
holds the database's nightly lock (:func:`~allocator_api.nightly_store.night_lock`): a second
run of any night raises :class:`~allocator_api.nightly_store.NightLocked`.

The :class:`Summary` has a line per portfolio (its :class:`Moves`: work not started moved,
forced or chosen, new, done and in-progress tasks apart; the objective in planner units; seconds),
one ``FAILED`` line per failed portfolio with its tenant and why, and a total line; every
portfolio is also logged as it finishes with ``portfolio_id``, ``tenant`` and ``as_of``.

**Progress file** (JSON; a directory of them is merged, in name order)::

    {"as_of": "2027-01-11",                       # default as_of of every portfolio below
     "portfolios": {
       "<portfolio id>": {
         "as_of": "2027-01-11",                   # optional, this portfolio's own
         "tasks": {"T1": {"status": "in_progress",
                          "progress": {"people": ["ann"], "remaining_hours": 12}},
                   "T2": {"status": "done"},
                   "T3": {"effort_hours": 40, "deadline": null}},   # null removes a key
         "new_tasks": [{"project": "P1", "task": {...contract task...}}],
         "people": {"ann": {"available_until": "2027-02-01"}},
         "new_people": [{...contract person...}],
         "remove_people": ["eve"]}}}

Field values are contract values (``shared/contract``); an update is applied as a typed edit
(:mod:`allocator.edits`, whose format is a superset of this one); one naming an unknown task,
project or person fails that portfolio (the others go on).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

from allocator.diff import TaskChange
from allocator.domain import Change, Portfolio
from allocator.history import PASSED_PIN

log = logging.getLogger(__name__)

#: Dask retries of a portfolio's solve that raised (a killed worker's portfolio is run again
#: by the scheduler's own ``allowed-failures`` rule, see the module docstring)
RETRIES = 2


class UpdateError(ValueError):
    """An update that cannot be applied to its portfolio."""


# -- updates ------------------------------------------------------------------------------------
def load_updates(source: str | Path | None) -> dict[str, Any]:
    """The progress file, or the merge of a directory's ``*.json`` files (in name order)."""
    if source is None:
        return {"portfolios": {}}
    path = Path(source)
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    merged: dict[str, Any] = {"portfolios": {}}
    for f in files:
        data = json.loads(f.read_text())
        if not isinstance(data, dict) or not isinstance(data.get("portfolios", {}), dict):
            raise UpdateError(f"{f}: expected an object with a 'portfolios' object")
        if "as_of" in data:
            merged["as_of"] = data["as_of"]
        for pid, upd in data.get("portfolios", {}).items():
            merged["portfolios"].setdefault(pid, []).append(upd)
    return merged


def apply_updates(body: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """The portfolio JSON ``body`` with one portfolio's update applied (see the module
    docstring), as a new body. The edit is typed: the portfolio is read, the update applied to
    its domain records by :func:`allocator.edits.apply_edit` (changed fields read by the
    contract reader, put on the records with ``dataclasses.replace``) and written back. Raises
    :class:`UpdateError` naming what is unknown or wrong (``edits[0].tasks.zz: unknown task``).
    """
    from allocator.contract import portfolio_to_dict, read_portfolio
    from allocator.edits import EditError, apply_edit

    portfolio, _ = read_portfolio(dict(body))  # a stored body: valid when it was stored
    try:
        updated = apply_edit(portfolio, update)
    except EditError as exc:
        raise UpdateError("; ".join(f"{i.path}: {i.message}" for i in exc.issues)) from None
    return portfolio_to_dict(updated)


def apply_all(body: Mapping[str, Any], updates: list[Mapping[str, Any]]) -> dict[str, Any]:
    out = dict(body)
    for u in updates:
        out = apply_updates(out, u)
    return out


# -- the work of one portfolio (runs on a Dask worker) ------------------------------------------
def rebalance_body(
    body: dict[str, Any],
    plan_body: dict[str, Any] | None,
    time_limit: float,
    workers: int = 1,
    overrides: Mapping[str, int | None] | None = None,
    verbose: bool = False,
) -> dict[str, Any]:
    """Solve one portfolio (contract JSON) from its previous plan; JSON in, JSON out (so it
    travels to and from Dask workers as plain data).

    With a previous plan: :func:`allocator.rebalance.rebalance` (stable by default,
    :data:`allocator.rebalance.DEFAULT_STABILITY`; ``overrides``: ``freeze_days``,
    ``churn_budget``, ``stability`` over the portfolio's policy keys). Without one: a plain
    solve. Either way passed pinned starts are history (:mod:`allocator.history`)."""
    from allocator.contract import load_plan, plan_to_dict, read_portfolio
    from allocator.engine import SolveParams, solve
    from allocator.history import settle_history
    from allocator.rebalance import rebalance

    if not verbose:  # the driver logs each portfolio once; the worker stays quiet
        for name in ("allocator", "solver_models"):
            logging.getLogger(name).setLevel(logging.WARNING)
    t0 = time.monotonic()
    portfolio, _ = read_portfolio(body)  # validated by the driver already
    params = SolveParams(time_limit=time_limit, workers=workers, seed=0)
    if plan_body is not None:
        result = rebalance(portfolio, load_plan(plan_body), params, **dict(overrides or {}))
        plan = result.plan
    else:
        settled = settle_history(portfolio)
        result = solve(settled.portfolio, params)
        plan = replace(result.plan, changes=settled.changes or None)
    stats = {k: v for k, v in result.stats.items() if isinstance(v, int | float | str)}
    return {"plan": plan_to_dict(plan), "stats": stats, "seconds": time.monotonic() - t0}


# -- what changed, as the summary counts it -----------------------------------------------------
@dataclass
class Moves:
    """A portfolio's changes against its previous plan, sorted by what they mean.

    ``moved``: tasks not started (to do) whose people or dates changed, or that were planned
    before and are not now, or the reverse: the moves that matter; ``forced`` + ``chosen`` ==
    ``moved`` (forced: the world changed under it, chosen: the engine's choice, see
    :mod:`allocator.rebalance`). ``new``: new tasks planned. ``tasks_done``: tasks done,
    cancelled or removed since. ``tasks_in_progress``: in-progress tasks whose dates or people
    differ from the previous plan (their dates follow their progress).
    ``passed_pins``: tasks not started whose pinned start had passed (among ``forced``)."""

    moved: int = 0
    forced: int = 0
    chosen: int = 0
    new: int = 0
    tasks_done: int = 0
    tasks_in_progress: int = 0
    passed_pins: int = 0

    def add(self, other: Moves) -> None:
        for k, v in asdict(other).items():
            setattr(self, k, getattr(self, k) + v)

    def text(self) -> str:
        return (
            f"to do: {self.moved} moved ({self.forced} forced, {self.chosen} chosen"
            f"{f', {self.passed_pins} passed pins' if self.passed_pins else ''}), "
            f"{self.new} new; done {self.tasks_done}, in progress {self.tasks_in_progress}"
        )


def sort_changes(
    portfolio: Portfolio, diff: list[TaskChange], plan_changes: tuple[Change, ...] | None
) -> tuple[list[TaskChange], Moves]:
    """The diff with the plan's own ``forced`` marks and reasons merged in (the rebalance's
    exact rule, and history reasons), and its :class:`Moves`."""
    own = {c.task: c for c in plan_changes or ()}
    out: list[TaskChange] = []
    moves = Moves()
    for c in diff:
        mine = own.get(c.task)
        if mine is not None:
            extra = tuple(r for r in mine.reasons if r not in c.reasons)
            c = replace(c, reasons=extra + c.reasons, forced=mine.forced)
        out.append(c)
        task = portfolio.task_by_id.get(c.task)
        if task is None or not task.to_plan:
            moves.tasks_done += 1
        elif task.state == "in_progress":
            moves.tasks_in_progress += 1
        elif c.kind == "added":
            moves.new += 1
        else:
            moves.moved += 1
            moves.forced += c.forced
            moves.chosen += not c.forced
            moves.passed_pins += any(r.startswith(PASSED_PIN) for r in c.reasons)
    return out, moves


# -- the driver ---------------------------------------------------------------------------------
@dataclass
class Outcome:
    portfolio_id: str
    tenant: str
    as_of: date
    status: str  # "done", "skipped" (already done this night), "failed"
    version_plan_id: str | None = None
    moves: Moves = field(default_factory=Moves)
    #: the new plan's objective terms (planner units, priority order)
    objective: dict[str, float | int] | None = None
    #: validation warnings of the updated portfolio (e.g. a task nobody can do)
    warnings: int = 0
    seconds: float = 0.0
    error: str | None = None

    def line(self) -> str:
        head = f"{self.portfolio_id} ({self.tenant}) as_of={self.as_of}"
        if self.status == "failed":
            return f"FAILED {head}: {self.error}"
        if self.status == "skipped":
            return f"{head}: already done this night"
        return (
            f"{head}: rebalanced in {self.seconds:.1f}s; {self.moves.text()}; "
            f"objective {objective_text(self.objective)}"
            f"{f'; {self.warnings} validation warning(s)' if self.warnings else ''}"
        )

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["as_of"] = self.as_of.isoformat()
        return out


@dataclass
class Summary:
    as_of: date | None = None
    #: how the night's as_of was set: "given" (--as-of), "progress file", "today" (defaulted)
    as_of_from: str = "given"
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    def moves(self) -> Moves:
        total = Moves()
        for o in self.outcomes:
            total.add(o.moves)
        return total

    def total_line(self) -> str:
        done = self.count("done")
        per = f", {self.seconds / done:.1f}s per portfolio" if done else ""
        return (
            f"total: {len(self.outcomes)} portfolios, {done} rebalanced, "
            f"{self.count('skipped')} already done, {len(self.failed)} failed "
            f"in {self.seconds:.1f}s{per}; {self.moves().text()}"
        )

    def text(self) -> str:
        as_of = f"{self.as_of} ({self.as_of_from})" if self.as_of else "from the progress file"
        lines = [f"nightly as_of {as_of}, settings {_settings_text(self.settings)}"]
        lines += [f"  {o.line()}" for o in self.outcomes if o.status != "failed"]
        lines += [f"  {o.line()}" for o in self.failed]
        lines.append(self.total_line())
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "as_of_from": self.as_of_from,
            "settings": self.settings,
            "seconds": round(self.seconds, 3),
            "portfolios": len(self.outcomes),
            "rebalanced": self.count("done"),
            "skipped": self.count("skipped"),
            "failed": len(self.failed),
            "moves": asdict(self.moves()),
            "outcomes": [o.as_dict() for o in self.outcomes],
        }


def objective_text(terms: Mapping[str, float | int] | None) -> str:
    """The objective's terms in planner units (``undelivered 12 h, late 3 weighted days, ...``),
    ``none`` without a plan."""
    from allocator.terms_text import format_terms

    return "none" if terms is None else format_terms(terms)


def _settings_text(settings: Mapping[str, Any]) -> str:
    return " ".join(f"{k}={'policy' if v is None else v}" for k, v in settings.items())


def night_as_of(given: date | None, updates: Mapping[str, Any]) -> tuple[date, str]:
    """The night's ``as_of`` and where it came from: ``--as-of``, else the progress file's,
    else today (logged as a warning: a night should say which night it is)."""
    if given is not None:
        return given, "given"
    if updates.get("as_of"):
        return date.fromisoformat(str(updates["as_of"])), "progress file"
    today = date.today()
    log.warning(
        "nightly: AS_OF DEFAULTED TO TODAY (%s): pass --as-of or an as_of in the progress file",
        today,
        extra={"as_of": str(today)},
    )
    return today, "today"


def _portfolio_as_of(night: date, updates: list[Mapping[str, Any]]) -> date:
    for u in reversed(updates):
        if u.get("as_of"):
            return date.fromisoformat(str(u["as_of"]))
    return night


@dataclass(frozen=True)
class NightSettings:
    """How the night runs: the time limit per portfolio, the overrides of the portfolios'
    policy keys (None: each portfolio's own, else the library's default), the Dask cluster."""

    time_limit: float = 10.0
    freeze_days: int | None = None
    churn_budget: int | None = None
    stability: int | None = None
    #: worker processes of the LocalCluster made when no scheduler or client is given
    workers: int = 2
    #: portfolios in flight at once (read, sent, solved, not yet stored); None: 2 per worker
    batch: int | None = None
    #: the Dask dashboard's address (None: off)
    dashboard: str | None = None
    verbose: bool = False

    def overrides(self) -> dict[str, int | None]:
        return {
            "freeze_days": self.freeze_days,
            "churn_budget": self.churn_budget,
            "stability": self.stability,
        }

    def shown(self) -> dict[str, Any]:
        from allocator.rebalance import DEFAULT_STABILITY

        out: dict[str, Any] = {"time_limit": self.time_limit, **self.overrides()}
        if self.stability is None:
            out["stability"] = f"policy or {DEFAULT_STABILITY}"
        return out


def run_nightly(
    db_url: str,
    *,
    as_of: date | None = None,
    updates: Mapping[str, Any] | None = None,
    scheduler: str | None = None,
    time_limit: float | None = None,
    client: Any = None,
    settings: NightSettings | None = None,
    on_outcome: Callable[[Outcome, int, int], None] | None = None,
) -> Summary:
    """Rebalance every portfolio of the database at ``db_url`` (see the module docstring).

    ``as_of``: the night's date (default: the progress file's, else today, logged as a
    warning); a portfolio's own ``as_of`` in the updates wins. ``updates``: a progress file's
    content (a portfolio's entry may also be a list of updates, as :func:`load_updates` merges
    them). ``client``: an existing ``distributed.Client`` (else one is made for ``scheduler``,
    or for a new ``LocalCluster``). ``on_outcome(outcome, finished, total)``: called as each
    portfolio finishes. Raises :class:`~allocator_api.nightly_store.NightLocked` when another
    run holds the database's nightly lock.
    """
    from allocator_api.db import Database
    from allocator_api.nightly_store import night_lock

    settings = settings or NightSettings()
    if time_limit is not None:
        settings = replace(settings, time_limit=time_limit)
    updates = updates or {"portfolios": {}}
    night, source = night_as_of(as_of, updates)
    db = Database(db_url)
    try:
        with night_lock(db.engine):
            db.migrate()
            return _run(db, night, source, updates, scheduler, client, settings, on_outcome)
    finally:
        db.dispose()


def _run(
    db: Any,
    night: date,
    source: str,
    updates: Mapping[str, Any],
    scheduler: str | None,
    client: Any,
    settings: NightSettings,
    on_outcome: Callable[[Outcome, int, int], None] | None,
) -> Summary:
    from distributed import Client, LocalCluster, as_completed

    from allocator_api.nightly_store import StreamingNightlyStore

    t0 = time.monotonic()
    pause = os.environ.get(PAUSE_BEFORE_COMMIT)
    store = StreamingNightlyStore(db.sessions if not pause else _pausing(db.sessions, Path(pause)))  # type: ignore[arg-type]
    summary = Summary(as_of=night, as_of_from=source, settings=settings.shown())
    own: list[Any] = []
    ids = store.ids()
    total = len(ids)
    log.info(
        "nightly: start",
        extra={"as_of": str(night), "as_of_from": source, "portfolios": total} | settings.shown(),
    )

    def finish(out: Outcome) -> None:
        summary.outcomes.append(out)
        ctx = {"portfolio_id": out.portfolio_id, "tenant": out.tenant, "as_of": str(out.as_of)}
        n = f"{len(summary.outcomes)}/{total}"
        if out.status == "failed":
            log.error("nightly: %s failed: %s", n, out.error, extra=ctx)
        elif out.status == "skipped":
            log.info("nightly: %s already done for this as_of", n, extra=ctx)
        else:
            log.info(
                "nightly: %s rebalanced",
                n,
                extra=ctx
                | asdict(out.moves)
                | {
                    "objective": objective_text(out.objective),
                    "warnings": out.warnings,
                    "seconds": out.seconds,
                },
            )
        if on_outcome is not None:
            on_outcome(out, len(summary.outcomes), total)

    try:
        if client is None:
            if scheduler is not None:
                client = Client(scheduler)  # type: ignore[no-untyped-call]
            else:
                cluster = LocalCluster(  # type: ignore[no-untyped-call]
                    n_workers=settings.workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=settings.dashboard,
                    silence_logs=logging.INFO if settings.verbose else logging.ERROR,
                )
                own.append(cluster)
                client = Client(cluster)  # type: ignore[no-untyped-call]
            own.insert(0, client)
        limit = settings.batch or 2 * max(1, settings.workers)
        pending: dict[Any, _Pending] = {}
        done_futures = as_completed()  # type: ignore[no-untyped-call]
        for pid, tenant in ids:
            item = _prepare(store, pid, tenant, night, updates, finish)
            if item is None:
                continue
            fut = client.submit(
                rebalance_body,
                item.body,
                item.inp.plan_body,
                settings.time_limit,
                1,
                settings.overrides(),
                settings.verbose,
                key=f"nightly-{pid}-{item.as_of.isoformat()}-{time.time_ns()}",
                retries=RETRIES,
                pure=False,
            )
            pending[fut] = item
            done_futures.add(fut)  # type: ignore[no-untyped-call]
            while len(pending) >= limit:  # bounded: at most `limit` portfolios in memory
                f = next(done_futures)
                finish(_store(store, pending.pop(f), f))
        for f in done_futures:
            finish(_store(store, pending.pop(f), f))
    finally:
        for thing in own:
            _close(thing)
    summary.seconds = time.monotonic() - t0
    log.info(
        "nightly: finished",
        extra={
            "as_of": str(night),
            "portfolios": len(summary.outcomes),
            "rebalanced": summary.count("done"),
            "skipped": summary.count("skipped"),
            "failed": len(summary.failed),
            "seconds": round(summary.seconds, 1),
        }
        | asdict(summary.moves()),
    )
    return summary


@dataclass
class _Pending:
    """A portfolio sent to a worker: what storing its result needs."""

    inp: Any  # NightlyInput
    as_of: date
    body: dict[str, Any]
    #: the updated body to store (None: unchanged)
    new_body: dict[str, Any] | None
    portfolio: Portfolio
    warnings: int


def _prepare(
    store: Any,
    pid: str,
    tenant: str,
    night: date,
    updates: Mapping[str, Any],
    finish: Callable[[Outcome], None],
) -> _Pending | None:
    """Read one portfolio, apply its updates and validate it; None when it is already done
    this night, failed (reported through ``finish``) or gone."""
    from allocator_api.service import read_valid_portfolio

    found = (updates.get("portfolios") or {}).get(pid, [])
    ups: list[Mapping[str, Any]] = [found] if isinstance(found, Mapping) else list(found)
    as_of = _portfolio_as_of(night, ups)
    if store.done(pid, as_of):
        finish(Outcome(pid, tenant, as_of, "skipped"))
        return None
    inp = store.input(pid)
    if inp is None:
        log.info("nightly: portfolio deleted meanwhile", extra={"portfolio_id": pid})
        return None
    try:
        body = apply_all(inp.body, ups)
        body["as_of"] = as_of.isoformat()
        valid = read_valid_portfolio(body)
    except Exception as exc:
        finish(Outcome(pid, tenant, as_of, "failed", error=f"updates rejected: {_error(exc)}"))
        return None
    body = valid.doc.body  # validated, contract keys only
    ctx = {"portfolio_id": pid, "tenant": tenant, "as_of": str(as_of)}
    for w in valid.warnings:  # counted on the portfolio's line; each one with -v
        log.debug("nightly: validation warning: %s: %s", w.path, w.message, extra=ctx)
    new_body = body if body != inp.body else None
    return _Pending(inp, as_of, body, new_body, valid.portfolio, len(valid.warnings))


def _store(store: Any, item: _Pending, fut: Any) -> Outcome:
    """Check a worker's plan and store it with its diff (one transaction)."""
    from allocator.contract import load_plan, portfolio_to_dict, read_portfolio
    from allocator.diff import diff_plans
    from allocator.history import settle_history
    from allocator_api.service import checked_plan

    inp = item.inp
    ctx = {"portfolio_id": inp.portfolio_id, "tenant": inp.tenant, "as_of": str(item.as_of)}
    out = Outcome(inp.portfolio_id, inp.tenant, item.as_of, "failed", warnings=item.warnings)
    res: dict[str, Any] | None = None
    stored = time.monotonic()
    try:
        res = fut.result()
        stored = time.monotonic()
        plan = load_plan(res["plan"])
        # the independent checker, on the portfolio the plan was made for (passed pinned starts
        # made history): a plan that fails it raises and is not stored, the previous stays
        solved = settle_history(item.portfolio).portfolio
        doc = checked_plan(solved, plan, where=f"of portfolio {inp.portfolio_id}", context=ctx)
        new_body = item.new_body
        if solved is not item.portfolio:
            # the stored portfolio becomes the settled one (its passed pins made history, each
            # a forced change of the plan), so the stored pair passes the contract's rule 3
            new_body = portfolio_to_dict(solved)
        moves = Moves()
        diff: list[dict[str, Any]] = []
        if inp.plan_body is not None:
            old_portfolio, _ = read_portfolio(inp.body)
            changes = diff_plans(item.portfolio, load_plan(inp.plan_body), plan, old_portfolio)
            sorted_changes, moves = sort_changes(item.portfolio, changes, plan.changes)
            diff = [c.as_dict() for c in sorted_changes]
        plan_id = store.save(inp, item.as_of, new_body, doc, diff)
        if plan_id is None:
            out.status = "skipped"
        else:
            out.status, out.version_plan_id = "done", plan_id
            out.moves, out.objective = moves, doc.objective
    except Exception as exc:
        out.error = _error(exc)
        log.debug("nightly: failure detail", extra=ctx, exc_info=True)
    # the worker's solve and the driver's check and store (not the wait in the queue)
    worker = float(res.get("seconds", 0.0)) if res else 0.0
    out.seconds = round(worker + time.monotonic() - stored, 3)
    return out


#: Test hook (``tests/test_nightly.py``): a file path. The first portfolio's transaction then
#: writes all its rows, writes that file and waits, uncommitted, for the process to be killed.
PAUSE_BEFORE_COMMIT = "ALLOCATOR_TEST_NIGHTLY_PAUSE_BEFORE_COMMIT"


def _pausing(sessions: Callable[[], Any], ready: Path) -> Callable[[], Any]:
    """``sessions`` whose ``commit`` flushes, signals ``ready`` and never returns (see
    :data:`PAUSE_BEFORE_COMMIT`)."""

    def make() -> Any:
        session = sessions()

        def commit() -> None:
            session.flush()  # every row of the transaction is in the database, uncommitted
            ready.write_text("inside the transaction", encoding="utf-8")
            log.warning("nightly: paused before commit (%s)", PAUSE_BEFORE_COMMIT)
            while True:
                time.sleep(1)

        session.commit = commit
        return session

    return make


def _error(exc: BaseException) -> str:
    detail = getattr(exc, "details", None)
    msg = getattr(exc, "message", None) or str(exc)
    if detail:
        msg += ": " + "; ".join(f"{d.path}: {d.message}" for d in detail)
    return f"{type(exc).__name__}: {msg}"


def _close(thing: Any) -> None:
    close: Callable[[], Any] | None = getattr(thing, "close", None)
    if close is not None:
        try:
            close()
        except Exception:
            log.warning("could not close %r", thing, exc_info=True)
