"""Validation of a portfolio's meaning, before any solve (interface; filled in below)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from allocator.domain import Portfolio
from allocator.errors import Issue


@dataclass(frozen=True)
class ValidationReport:
    """Every problem found: ``errors`` reject the portfolio, ``warnings`` do not."""

    errors: tuple[Issue, ...]
    warnings: tuple[Issue, ...]

    @property
    def ok(self) -> bool:
        return not self.errors


def validate(portfolio: Portfolio, structural: Sequence[Issue] = ()) -> ValidationReport:
    issues = list(structural)
    return ValidationReport(
        tuple(i for i in issues if i.severity == "error"),
        tuple(i for i in issues if i.severity == "warning"),
    )
