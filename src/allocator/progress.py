"""The engine's progress reports collected into a DataFrame (:class:`ProgressRecorder`)."""

from __future__ import annotations

import math
import threading
from typing import TYPE_CHECKING

import pandas as pd

from allocator.objective import MAKESPAN_TERMS, PORTFOLIO_TERMS

if TYPE_CHECKING:
    from allocator.engine import SolveProgress

__all__ = ["ProgressRecorder"]


class ProgressRecorder:
    """Collects the engine's progress reports: pass it as ``SolveParams(on_progress=rec)``.

    :meth:`frame` gives one row per report: ``stage`` (``greedy-*``, ``cp-sat:<stage>``,
    ``lns``, ``done``), ``term`` (the objective term a ``cp-sat`` stage optimizes, e.g.
    ``undelivered_work_hours``; missing for stages that report the whole objective or none),
    ``elapsed`` seconds, ``gap``, then per objective term (in priority order) its value under
    the term's name and its proven bound under ``<term>_bound``, in planner units (hours, days,
    money): a ``cp-sat`` stage fills its own term only, ``greedy-*`` and ``lns`` every term's
    value, ``done`` every value and bound. Thread-safe.
    """

    def __init__(self) -> None:
        self._events: list[SolveProgress] = []
        self._lock = threading.Lock()

    def __call__(self, event: SolveProgress) -> None:
        with self._lock:
            self._events.append(event)

    def __len__(self) -> int:
        return len(self._events)

    def clear(self) -> None:
        with self._lock:
            self._events.clear()

    def terms(self) -> list[str]:
        """The objective terms reported so far, in priority order."""
        with self._lock:
            events = list(self._events)
        seen: dict[str, None] = {}
        for e in events:
            for figures in (e.objective, e.lower_bound):
                seen.update(dict.fromkeys(figures or {}))
        order = [*PORTFOLIO_TERMS, *MAKESPAN_TERMS]
        return sorted(seen, key=lambda n: order.index(n) if n in order else len(order))

    def frame(self) -> pd.DataFrame:
        terms = self.terms()
        with self._lock:
            events = list(self._events)
        cols: dict[str, pd.Series] = {
            "stage": pd.Series([e.stage for e in events], dtype="string"),
            "term": pd.Series(
                [
                    next(iter(e.objective or e.lower_bound or ()), None)
                    if e.stage.startswith("cp-sat:")
                    else None
                    for e in events
                ],
                dtype="string",
            ),
            "elapsed": pd.Series([float(e.elapsed) for e in events], dtype="float64"),
            "gap": pd.Series(
                [math.nan if e.gap is None else float(e.gap) for e in events], dtype="float64"
            ),
        }
        for name in terms:
            for col, attr in ((name, "objective"), (f"{name}_bound", "lower_bound")):
                cols[col] = pd.Series(
                    [float((getattr(e, attr) or {}).get(name, math.nan)) for e in events],
                    dtype="float64",
                )
        return pd.DataFrame(cols)
