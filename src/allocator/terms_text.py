"""The objective's terms as a planner reads them: short text and axis labels in planner units.

A plan's objective (``allocator.plan/v2``) is a mapping of terms, each in planner units
(hours, days, money). These helpers turn one into text for the command line, HTML pages, plot
axes and progress lines, e.g. ``undelivered 120.5 h (bound 80 h, gap 34%), late 3 weighted
days, finish 40 weighted days, charged cost 1,234.50``. No combined number is ever shown: the engine's
combined key stays internal to the search.

Pure functions (no solver, no pandas), safe to import anywhere.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

__all__ = [
    "TERM_TEXT",
    "format_gap",
    "format_number",
    "format_term",
    "format_terms",
    "headline_terms",
    "term_label",
]

#: term name -> (short word, unit after the number, axis label); unknown terms show their name
TERM_TEXT: Mapping[str, tuple[str, str, str]] = {
    "undelivered_work_hours": ("undelivered", "h", "undelivered work (priority-weighted hours)"),
    "weighted_late_days": ("late", "weighted days", "late (priority-weighted days)"),
    "weighted_finish_days": ("finish", "weighted days", "finish (priority-weighted days)"),
    # pay plus the objective's skill-fit charges (over-qualification, not preferred): more
    # than the plan's cost KPI, hence its own word
    "cost": ("charged cost", "", "charged cost (money: pay + skill-fit charges)"),
    "makespan_days": ("makespan", "days", "makespan (working days)"),
}

_MONEY = frozenset({"cost"})


def term_label(name: str) -> str:
    """An axis or column label of the term ``name`` with its unit."""
    text = TERM_TEXT.get(name)
    return text[2] if text else name


def format_number(name: str, value: float | int) -> str:
    """A term's number: money with 2 decimals, hours with up to 2, days as integers; thousands
    separated; never in exponent notation."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if name in _MONEY:
        return f"{value:,.2f}"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def _with_unit(name: str, value: float | int) -> str:
    unit = TERM_TEXT.get(name, (name, "", name))[1]
    return format_number(name, value) + (f" {unit}" if unit else "")


def format_gap(gap: float | None) -> str:
    """A gap as a percentage (``0.34`` -> ``34%``; ``0.0125`` -> ``1.25%``); ``-`` for None."""
    if gap is None or (isinstance(gap, float) and math.isnan(gap)):
        return "-"
    return f"{round(gap * 100, 6):g}%"


def format_term(name: str, value: float | int) -> str:
    """One term with its word and unit, e.g. ``undelivered 120.5 h``, ``charged cost 1,234.50``."""
    word = TERM_TEXT.get(name, (name, "", name))[0]
    return f"{word} {_with_unit(name, value)}"


def _gap_term(
    objective: Mapping[str, float | int], lower_bound: Mapping[str, float | int] | None
) -> str | None:
    """The term the contract's gap is about: the first whose bound is below its value."""
    for name, value in objective.items():
        b = (lower_bound or {}).get(name)
        if b is None:
            return None
        if b < value:
            return name
    return None


def format_terms(
    objective: Mapping[str, float | int] | None,
    lower_bound: Mapping[str, float | int] | None = None,
    gap: float | None = None,
    *,
    names: Iterable[str] | None = None,
) -> str:
    """The terms in priority order, each with its bound in parentheses when there is one
    (``proven`` when the bound equals the value; one ``(all proven)`` at the end when every
    term shown is), the ``gap`` shown with the term it is about (the first whose bound is below
    its value). ``names``: only these terms. ``-`` without an objective.

    >>> format_terms({"undelivered_work_hours": 120.5}, {"undelivered_work_hours": 80}, 0.34)
    'undelivered 120.5 h (bound 80 h, gap 34%)'
    """
    if not objective:
        return "-"
    keep = None if names is None else set(names)
    gap_term = _gap_term(objective, lower_bound)
    shown = {n: v for n, v in objective.items() if keep is None or n in keep}
    bound = lower_bound or {}
    if shown and all(n in bound and bound[n] >= v for n, v in shown.items()):
        text = ", ".join(format_term(n, v) for n, v in shown.items())
        return text + (" (proven)" if len(shown) == 1 else " (all proven)")
    parts = []
    for name, value in shown.items():
        text = format_term(name, value)
        b = bound.get(name)
        if b is not None:
            if b >= value:
                text += " (proven)"
            else:
                g = f", gap {format_gap(gap)}" if name == gap_term and gap is not None else ""
                text += f" (bound {_with_unit(name, b)}{g})"
        parts.append(text)
    return ", ".join(parts) if parts else "-"


def headline_terms(
    objective: Mapping[str, float | int] | None,
    lower_bound: Mapping[str, float | int] | None = None,
    gap: float | None = None,
) -> str:
    """A short form for a progress line: the first term and, when the gap is about a later
    term, that term too (see :func:`format_terms`)."""
    if not objective:
        return "-"
    names = [next(iter(objective))]
    gap_term = _gap_term(objective, lower_bound)
    if gap_term is not None and gap_term not in names:
        names.append(gap_term)
    return format_terms(objective, lower_bound, gap, names=names)
