"""The nightly rebalancing of every portfolio of the service's database (``allocator nightly``).

For each portfolio: apply the day's updates (the *progress file* below), rebalance from its
latest plan (:func:`allocator.rebalance.rebalance`; a plain solve when it has none), check the
new plan with the independent checker, and store the updated portfolio, the new plan version
and its diff against the previous plan **in one transaction** (``allocator_api.repository.NightlyStore``):
a failure anywhere leaves the previous plan in force. A ``nightly_runs`` row per
(portfolio, ``as_of``) makes a rerun of the same night a no-op.

The solves run in parallel on Dask (``scheduler`` address, or a ``LocalCluster`` of 2 worker
processes); a task whose worker dies is retried (``RETRIES``). Workers only compute: every
database write happens in the driver, after the result came back.

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

Field values are contract values (``shared/contract``); an update naming an unknown task,
project or person fails that portfolio (the others go on).
"""

from __future__ import annotations

import copy
import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: Dask retries of a portfolio's solve (a killed worker's task runs again elsewhere)
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


def _merge(target: dict[str, Any], changes: Mapping[str, Any]) -> None:
    for k, v in changes.items():
        if v is None:
            target.pop(k, None)
        else:
            target[k] = copy.deepcopy(v)


def apply_updates(body: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the portfolio JSON ``body`` with one portfolio's update applied (see the
    module docstring). Raises :class:`UpdateError` naming what is unknown."""
    out = copy.deepcopy(dict(body))
    if "as_of" in update:
        out["as_of"] = update["as_of"]
    tasks = {t["id"]: t for proj in out.get("projects", []) for t in proj.get("tasks", [])}
    for tid, changes in (update.get("tasks") or {}).items():
        if tid not in tasks:
            raise UpdateError(f"update of unknown task {tid!r}")
        _merge(tasks[tid], changes)
    projects = {p["id"]: p for p in out.get("projects", [])}
    for item in update.get("new_tasks") or []:
        proj = projects.get(item.get("project"))
        if proj is None:
            raise UpdateError(f"new task in unknown project {item.get('project')!r}")
        proj.setdefault("tasks", []).append(copy.deepcopy(item.get("task")))
    people = {p.get("id"): p for p in out.get("people", [])}
    for pid, changes in (update.get("people") or {}).items():
        if pid not in people:
            raise UpdateError(f"update of unknown person {pid!r}")
        _merge(people[pid], changes)
    out.setdefault("people", []).extend(copy.deepcopy(update.get("new_people") or []))
    gone = set(update.get("remove_people") or [])
    if gone - set(people):
        raise UpdateError(f"removal of unknown people {sorted(gone - set(people))}")
    out["people"] = [p for p in out["people"] if not isinstance(p, dict) or p.get("id") not in gone]
    return out


def apply_all(body: Mapping[str, Any], updates: list[Mapping[str, Any]]) -> dict[str, Any]:
    out = dict(body)
    for u in updates:
        out = apply_updates(out, u)
    return out


# -- the work of one portfolio (runs on a Dask worker) ------------------------------------------
def rebalance_body(
    body: dict[str, Any], plan_body: dict[str, Any] | None, time_limit: float, workers: int = 1
) -> dict[str, Any]:
    """Solve one portfolio (contract JSON) from its previous plan; JSON in, JSON out (so it
    travels to and from Dask workers as plain data)."""
    from allocator.contract import load_plan, load_portfolio, plan_to_dict
    from allocator.engine import SolveParams, solve

    portfolio = load_portfolio(body)
    previous = load_plan(plan_body) if plan_body is not None else None
    params = SolveParams(time_limit=time_limit, workers=workers, seed=0, previous=previous)
    result = solve(portfolio, params)
    stats = {k: v for k, v in result.stats.items() if isinstance(v, int | float | str)}
    return {"plan": plan_to_dict(result.plan), "stats": stats}


# -- the driver ---------------------------------------------------------------------------------
@dataclass
class Outcome:
    portfolio_id: str
    tenant: str
    as_of: date
    status: str  # "done", "skipped" (already done this night), "failed"
    version_plan_id: str | None = None
    changed: int = 0
    #: the new plan's objective terms (planner units, priority order)
    objective: dict[str, float | int] | None = None
    seconds: float = 0.0
    error: str | None = None


@dataclass
class Summary:
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    def text(self) -> str:
        lines = [
            f"nightly: {len(self.outcomes)} portfolios, {self.count('done')} rebalanced, "
            f"{self.count('skipped')} already done, {len(self.failed)} failed "
            f"in {self.seconds:.1f}s"
        ]
        for o in self.outcomes:
            extra = (
                f" changed={o.changed} objective={_terms_text(o.objective)}"
                if o.status == "done"
                else ""
            )
            err = f" error={o.error}" if o.error else ""
            lines.append(f"  {o.portfolio_id} ({o.tenant}) as_of={o.as_of}: {o.status}{extra}{err}")
        return "\n".join(lines)


def _terms_text(terms: Mapping[str, float | int] | None) -> str:
    """``undelivered_work_hours=12.5,weighted_late_days=3,...`` (``none`` without a plan)."""
    if terms is None:
        return "none"
    return ",".join(f"{k}={v}" for k, v in terms.items())


def _as_of(default: date | None, updates: list[Mapping[str, Any]], file_as_of: Any) -> date:
    for u in reversed(updates):
        if u.get("as_of"):
            return date.fromisoformat(str(u["as_of"]))
    if default is not None:
        return default
    if file_as_of:
        return date.fromisoformat(str(file_as_of))
    return date.today()


def run_nightly(
    db_url: str,
    *,
    as_of: date | None = None,
    updates: Mapping[str, Any] | None = None,
    scheduler: str | None = None,
    time_limit: float = 10.0,
    client: Any = None,
) -> Summary:
    """Rebalance every portfolio of the database at ``db_url`` (see the module docstring).

    ``as_of``: the night's date (default: the progress file's, else today); a portfolio's own
    ``as_of`` in the updates wins. ``updates``: a progress file's content (a portfolio's entry
    may also be a list of updates, as :func:`load_updates` merges them). ``client``: an existing ``distributed.Client`` (else one is
    made for ``scheduler``, or for a new ``LocalCluster``).
    """
    from distributed import Client, LocalCluster, as_completed

    from allocator.contract import load_plan, load_portfolio
    from allocator.diff import diff_plans
    from allocator_api.db import Database
    from allocator_api.repository import NightlyInput, NightlyStore
    from allocator_api.service import checked_plan, read_valid_portfolio

    t0 = time.monotonic()
    updates = updates or {"portfolios": {}}
    db = Database(db_url)
    db.migrate()
    pause = os.environ.get(PAUSE_BEFORE_COMMIT)
    store = NightlyStore(db.sessions if not pause else _pausing(db.sessions, Path(pause)))  # type: ignore[arg-type]
    summary = Summary()
    own: list[Any] = []
    try:
        if client is None:
            if scheduler is not None:
                client = Client(scheduler)  # type: ignore[no-untyped-call]
            else:
                cluster = LocalCluster(  # type: ignore[no-untyped-call]
                    n_workers=2, threads_per_worker=1, processes=True
                )
                own.append(cluster)
                client = Client(cluster)  # type: ignore[no-untyped-call]
            own.insert(0, client)
        pending: dict[Any, tuple[NightlyInput, date, dict[str, Any] | None, float]] = {}
        for inp in store.inputs():
            found = (updates.get("portfolios") or {}).get(inp.portfolio_id, [])
            ups: list[Mapping[str, Any]] = [found] if isinstance(found, Mapping) else list(found)
            night = _as_of(as_of, ups, updates.get("as_of"))
            ctx = {"portfolio_id": inp.portfolio_id, "tenant": inp.tenant, "as_of": str(night)}
            if store.done(inp.portfolio_id, night):
                log.info("nightly: already done for this as_of", extra=ctx)
                summary.outcomes.append(Outcome(inp.portfolio_id, inp.tenant, night, "skipped"))
                continue
            try:
                body = apply_all(inp.body, ups)
                body["as_of"] = night.isoformat()
                body = read_valid_portfolio(body).doc.body  # validated, contract keys only
            except Exception as exc:
                log.warning("nightly: updates rejected: %s", _error(exc), extra=ctx)
                summary.outcomes.append(
                    Outcome(inp.portfolio_id, inp.tenant, night, "failed", error=_error(exc))
                )
                continue
            fut = client.submit(
                rebalance_body,
                body,
                inp.plan_body,
                time_limit,
                key=f"nightly-{inp.portfolio_id}-{night.isoformat()}-{time.time_ns()}",
                retries=RETRIES,
                pure=False,
            )
            changed_body = body if body != inp.body else None
            pending[fut] = (inp, night, changed_body, time.monotonic())
        for fut in as_completed(list(pending)):  # type: ignore[no-untyped-call]
            inp, night, new_body, started = pending[fut]
            ctx = {"portfolio_id": inp.portfolio_id, "tenant": inp.tenant, "as_of": str(night)}
            out = Outcome(inp.portfolio_id, inp.tenant, night, "failed")
            try:
                res = fut.result()
                portfolio = load_portfolio(new_body if new_body is not None else inp.body)
                plan = load_plan(res["plan"])
                # the independent checker: a plan that fails it raises (logged as an error with
                # every violation) and is not stored; the previous plan stays in force
                doc = checked_plan(
                    portfolio, plan, where=f"of portfolio {inp.portfolio_id}", context=ctx
                )
                old_portfolio = load_portfolio(inp.body)
                if inp.plan_body is not None:
                    old_plan = load_plan(inp.plan_body)
                    changes = diff_plans(portfolio, old_plan, plan, old_portfolio)
                else:
                    changes = []
                diff = [c.as_dict() for c in changes]
                plan_id = store.save(inp, night, new_body, doc, diff)
                if plan_id is None:
                    out.status = "skipped"
                else:
                    out.status, out.version_plan_id = "done", plan_id
                    out.changed, out.objective = len(diff), doc.objective
                log.info(
                    "nightly: %s",
                    out.status,
                    extra=ctx | {"changed": out.changed, "objective": _terms_text(out.objective)},
                )
            except Exception as exc:
                out.error = _error(exc)
                log.error("nightly: failed: %s", out.error, extra=ctx, exc_info=True)
            out.seconds = round(time.monotonic() - started, 3)
            summary.outcomes.append(out)
    finally:
        for thing in own:
            _close(thing)
        db.dispose()
    summary.seconds = time.monotonic() - t0
    log.info(
        "nightly: finished",
        extra={
            "portfolios": len(summary.outcomes),
            "done": summary.count("done"),
            "skipped": summary.count("skipped"),
            "failed": len(summary.failed),
        },
    )
    return summary


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
