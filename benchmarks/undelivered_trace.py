"""The first term (undelivered work) over a solve's time, read off its progress reports.

One reading for every benchmark that tables convergence (``profile_stages``, ``lns_convergence``,
``convergence``): a trace is ``(elapsed seconds, stage, undelivered hours)`` per report that
carries the term. It imports nothing from the engine, so a child process running an older
engine (``PYTHONPATH``) can use it too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Trace = list[tuple[float, str, float]]


def recorder(trace: Trace) -> Callable[[Any], None]:
    """An ``on_progress`` callback appending each report's undelivered hours to ``trace``."""

    def on_progress(p: Any) -> None:
        if p.objective is not None and "undelivered_work_hours" in p.objective:
            trace.append((p.elapsed, p.stage, float(p.objective["undelivered_work_hours"])))

    return on_progress


def greedy_hours(trace: Trace) -> str:
    """The best greedy plan's undelivered hours (empty without one)."""
    greedy = [h for _, s, h in trace if s.startswith("greedy")]
    return f"{min(greedy):.0f}" if greedy else ""


def best_at(trace: Trace, sec: float, limit: float) -> str:
    """The least undelivered hours reported by ``sec`` seconds (empty past the time limit or
    before the first report)."""
    seen = [h for e, _, h in trace if e <= sec]
    return f"{min(seen):.0f}" if seen and sec <= limit else ""
