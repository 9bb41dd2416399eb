"""What-if scenarios: named lists of edits solved side by side from a base plan.

A **scenario** is a name and a list of edits (:mod:`allocator.edits`, the nightly update
format and its additions), in a file ``{"name": "hire-data-engineer", "edits": [{...}, ...]}``.
:func:`run_scenarios` applies each scenario's edits to the portfolio (all of them first, so a
bad file fails before any solve, its errors naming the scenario, the edit and the field), then
re-plans each edited portfolio **from the base plan as warm start**
(:func:`allocator.rebalance.rebalance`: the base plan's assignments still valid are kept as the
start; ``stability`` as there, None: the portfolio's policy key, else
:data:`~allocator.rebalance.DEFAULT_STABILITY`), in parallel: on the given Dask ``client``
(``distributed.Client``) when given, else in ``processes`` local worker processes
(:class:`concurrent.futures.ProcessPoolExecutor`; 1: in this process). Work travels as contract
JSON (:func:`solve_body`), as the nightly job sends it.

The :class:`Comparison` puts the base plan and each scenario's plan side by side: the objective
terms, the headline KPIs (:func:`allocator.analytics.headline`: delivered and undelivered work,
late tasks and projects, cost), each project's finish against its deadline and cost against its
``budget`` (:func:`allocator.analytics.project_frame`), the tasks left undelivered, and what moved
against the base plan (:func:`allocator.diff.diff_plans`, with reasons). :meth:`Comparison.text`
is the command line's table; :meth:`Comparison.as_dict` its JSON.
"""

from __future__ import annotations

import json
import logging
import math
import multiprocessing
import re
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

from allocator.analytics import headline, project_frame
from allocator.contract import (
    dump_plan,
    dump_portfolio,
    load_json,
    load_plan,
    plan_to_dict,
    portfolio_to_dict,
    read_portfolio,
)
from allocator.diff import diff_plans
from allocator.domain import Plan, Portfolio
from allocator.edits import EditError, apply_edits
from allocator.errors import Issue, PortfolioError
from allocator.terms_text import format_number

__all__ = [
    "HEADLINE_KEYS",
    "Comparison",
    "Outcome",
    "Scenario",
    "SolveSettings",
    "load_scenario",
    "outcome_of",
    "run_scenarios",
    "solve_body",
    "solve_many",
]

log = logging.getLogger(__name__)

#: the headline KPIs compared besides the objective terms (keys of
#: :func:`allocator.analytics.headline`; ``undelivered_hours`` unweighted)
HEADLINE_KEYS = (
    "delivered_hours",
    "undelivered_hours",
    "late_tasks",
    "late_projects",
    "total_cost",
    "makespan_days",
)
_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class Scenario:
    """A named list of edits (:mod:`allocator.edits`)."""

    name: str
    edits: tuple[Mapping[str, Any], ...] = ()


def load_scenario(source: str | Path | Mapping[str, Any]) -> Scenario:
    """A scenario file ``{"name": ..., "edits": [...]}`` (a bare list of edits takes its file
    name). Raises :class:`~allocator.edits.EditError` for a malformed file."""
    try:
        data = load_json(source, PortfolioError)
    except PortfolioError as exc:
        raise EditError(exc.issues) from None
    default = Path(source).stem if not isinstance(source, Mapping) else "scenario"
    if isinstance(data, list):
        return Scenario(default, tuple(data))
    if not isinstance(data, Mapping) or not isinstance(data.get("edits", []), list):
        raise EditError([Issue("", f"{default}: expected {{'name': ..., 'edits': [...]}}")])
    unknown = set(data) - {"name", "edits", "description"}
    if unknown:
        raise EditError([Issue(sorted(unknown)[0], f"{default}: unknown key")])
    name = data.get("name", default)
    if not isinstance(name, str) or not name:
        raise EditError([Issue("name", f"{default}: expected a non-empty string")])
    return Scenario(name, tuple(data.get("edits", [])))


@dataclass(frozen=True)
class SolveSettings:
    """How each scenario is re-planned (:func:`solve_body`): the solve's ``time_limit``,
    ``workers``, ``seed``, ``greedy_only``, ``deterministic_time`` and the rebalance's
    ``stability``."""

    time_limit: float = 10.0
    workers: int = 1
    seed: int = 0
    greedy_only: bool = False
    stability: int | None = None
    #: cap on CP-SAT's deterministic time per stage (machine-independent, reproducible runs)
    deterministic_time: float | None = None


def solve_body(
    body: dict[str, Any], plan_body: dict[str, Any], settings: dict[str, Any]
) -> dict[str, Any]:
    """Re-plan one portfolio (contract JSON) from the base plan; JSON in and out, so it travels
    to worker processes and Dask workers as plain data. ``settings``: :class:`SolveSettings`'
    fields."""
    from allocator.engine import SolveParams
    from allocator.rebalance import rebalance

    s = SolveSettings(**settings)
    portfolio, _ = read_portfolio(body)  # validated by the caller
    params = SolveParams(
        time_limit=s.time_limit,
        workers=s.workers,
        seed=s.seed,
        greedy_only=s.greedy_only,
        deterministic_time=s.deterministic_time,
    )
    result = rebalance(portfolio, load_plan(plan_body), params, stability=s.stability)
    return {"plan": plan_to_dict(result.plan), "seconds": result.runtime}


@dataclass(frozen=True)
class Outcome:
    """One column of the comparison: a plan of a (possibly edited) portfolio."""

    name: str
    portfolio: Portfolio
    plan: Plan
    headline: Mapping[str, float]
    projects: tuple[Mapping[str, Any], ...]
    undelivered: tuple[str, ...]
    #: what moved against the base plan (:meth:`allocator.diff.TaskChange.as_dict`)
    moved: tuple[Mapping[str, Any], ...] = ()
    seconds: float = 0.0
    edits: tuple[Mapping[str, Any], ...] = ()
    files: Mapping[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        kinds: dict[str, int] = {}
        for c in self.moved:
            kinds[str(c["kind"])] = kinds.get(str(c["kind"]), 0) + 1
        return {
            "name": self.name,
            "edits": list(self.edits),
            "status": self.plan.status,
            "objective": dict(self.plan.objective or {}),
            "kpis": {k: _num(v) for k, v in self.headline.items()},
            "projects": [dict(p) for p in self.projects],
            "undelivered": list(self.undelivered),
            "moved": {"count": len(self.moved), "by_kind": kinds, "tasks": list(self.moved)},
            "seconds": round(self.seconds, 3),
            "files": dict(self.files),
        }


def _num(v: float) -> float | int | None:
    if isinstance(v, float) and math.isnan(v):
        return None
    return int(v) if float(v).is_integer() else round(float(v), 2)


def _iso(v: Any) -> Any:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if hasattr(v, "date") and callable(v.date):
        return v.date().isoformat()
    if isinstance(v, date):
        return v.isoformat()
    if hasattr(v, "item"):
        v = v.item()
    return None if v != v else v  # pandas NA compares unequal to itself


def _projects(portfolio: Portfolio, plan: Plan) -> tuple[dict[str, Any], ...]:
    frame = project_frame(portfolio, plan)
    cols = ["project", "finish", "deadline", "slip_working_days", "late", "cost", "budget"]
    cols += ["budget_left", "unassigned", "undelivered_hours"]
    out = []
    for row in frame[cols].astype(object).to_dict("records"):
        out.append({k: _iso(v) for k, v in row.items()})
    return tuple(out)


def outcome_of(
    name: str,
    portfolio: Portfolio,
    plan: Plan,
    base: tuple[Portfolio, Plan] | None = None,
    *,
    seconds: float = 0.0,
    edits: Sequence[Mapping[str, Any]] = (),
) -> Outcome:
    """The comparison column of ``plan`` (``base``: the base portfolio and plan, for what moved)."""
    moved: tuple[Mapping[str, Any], ...] = ()
    if base is not None:
        moved = tuple(c.as_dict() for c in diff_plans(portfolio, base[1], plan, base[0]))
    return Outcome(
        name=name,
        portfolio=portfolio,
        plan=plan,
        headline=headline(portfolio, plan),
        projects=_projects(portfolio, plan),
        undelivered=tuple(u.task for u in plan.unassigned),
        moved=moved,
        seconds=seconds,
        edits=tuple(edits),
    )


@dataclass(frozen=True)
class Comparison:
    """The base plan and each scenario's, side by side (base first)."""

    base: Outcome
    scenarios: tuple[Outcome, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "base": self.base.as_dict(),
            "scenarios": [s.as_dict() for s in self.scenarios],
        }

    def text(self) -> str:
        """A table: one row per figure, one column per plan; then per scenario its projects
        that are late or over budget, and what moved."""
        cols = [self.base, *self.scenarios]
        terms: list[str] = []
        for o in cols:
            terms += [t for t in (o.plan.objective or {}) if t not in terms]
        rows: list[list[str]] = [["", *(o.name for o in cols)]]
        rows.append(["status", *(o.plan.status for o in cols)])
        for t in terms:
            rows.append([t, *(_fmt(t, (o.plan.objective or {}).get(t)) for o in cols)])
        for k in HEADLINE_KEYS:
            rows.append([k, *(_fmt(k, o.headline.get(k)) for o in cols)])
        rows.append(["moved tasks", "-", *(str(len(o.moved)) for o in self.scenarios)])
        widths = [max(len(r[i]) for r in rows) for i in range(len(cols) + 1)]
        lines = [
            "  ".join(
                x.ljust(w) if i == 0 else x.rjust(w)
                for i, (x, w) in enumerate(zip(r, widths, strict=True))
            )
            for r in rows
        ]
        for o in cols:
            notes = []
            for p in o.projects:
                if p["late"]:
                    notes.append(
                        f"{p['project']} late by {p['slip_working_days'] or 0} working days "
                        f"(finish {p['finish']}, deadline {p['deadline']})"
                    )
                if p["budget_left"] is not None and p["budget_left"] < 0:
                    notes.append(f"{p['project']} over budget by {-p['budget_left']:,.2f}")
            if o.undelivered:
                notes.append(f"undelivered: {', '.join(o.undelivered)}")
            lines.append(f"{o.name}: " + ("; ".join(notes) if notes else "every project on time"))
            if o.files:
                lines.append(f"  files: {', '.join(o.files.values())}")
        return "\n".join(lines)


def _fmt(key: str, v: float | int | None) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return format_number(key, v)


def _edited(portfolio: Portfolio, scenarios: Sequence[Scenario]) -> list[Portfolio]:
    out: list[Portfolio] = []
    issues: list[Issue] = []
    for s in scenarios:
        try:
            out.append(apply_edits(portfolio, s.edits))
        except EditError as exc:
            issues += [Issue(f"{s.name}: {i.path}", i.message) for i in exc.issues]
    if issues:
        raise EditError(issues)
    return out


def run_scenarios(
    portfolio: Portfolio,
    base_plan: Plan,
    scenarios: Sequence[Scenario],
    settings: SolveSettings | None = None,
    *,
    processes: int = 2,
    client: Any = None,
    output: str | Path | None = None,
) -> Comparison:
    """Solve every scenario from ``base_plan`` and compare (module docstring). ``output``: a
    directory to write each scenario's edited portfolio (``<name>.portfolio.json``) and plan
    (``<name>.plan.json``). Raises :class:`~allocator.edits.EditError` before any solve when
    an edit cannot be applied."""
    settings = settings or SolveSettings()
    names = [s.name for s in scenarios]
    if len(set(names)) != len(names):
        raise EditError([Issue("name", f"scenario names must differ: {names}")])
    edited = _edited(portfolio, scenarios)
    bodies = [portfolio_to_dict(p) for p in edited]
    plan_body = plan_to_dict(base_plan)
    conf = settings.__dict__.copy()
    answers = solve_many(bodies, plan_body, conf, processes, client)
    base = outcome_of("base", portfolio, base_plan)
    outs: list[Outcome] = []
    out_dir = Path(output) if output is not None else None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    for s, p, ans in zip(scenarios, edited, answers, strict=True):
        plan = load_plan(ans["plan"])
        o = outcome_of(
            s.name, p, plan, (portfolio, base_plan), seconds=float(ans["seconds"]), edits=s.edits
        )
        if out_dir is not None:
            stem = _NAME.sub("_", s.name)
            files = {"portfolio": f"{stem}.portfolio.json", "plan": f"{stem}.plan.json"}
            dump_portfolio(p, out_dir / files["portfolio"])
            dump_plan(plan, out_dir / files["plan"])
            o = replace(o, files=files)
        log.info("scenario %s: %s objective=%s", s.name, plan.status, plan.objective)
        outs.append(o)
    return Comparison(base, tuple(outs))


def solve_many(
    bodies: list[dict[str, Any]],
    plan_body: dict[str, Any],
    conf: dict[str, Any],
    processes: int,
    client: Any = None,
) -> list[dict[str, Any]]:
    """:func:`solve_body` of each body from ``plan_body``, in order: on the Dask ``client``
    when given, else in ``processes`` spawned local processes (1: here)."""
    if client is not None:
        futures = [client.submit(solve_body, b, plan_body, conf, pure=False) for b in bodies]
        return list(client.gather(futures))
    if processes <= 1 or len(bodies) <= 1:
        return [solve_body(b, plan_body, conf) for b in bodies]
    ctx = multiprocessing.get_context("spawn")  # CP-SAT's threads do not survive a fork
    with ProcessPoolExecutor(max_workers=min(processes, len(bodies)), mp_context=ctx) as pool:
        futures = [pool.submit(solve_body, b, plan_body, conf) for b in bodies]
        return [f.result() for f in futures]


def comparison_json(comparison: Comparison) -> str:
    """The comparison as JSON text."""
    return json.dumps(comparison.as_dict(), indent=2, ensure_ascii=False)
