"""Error types. Bad input is a value with a path and a message, never a traceback."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem found in an input.

    ``path`` is a JSON path into the contract file (``projects[1].tasks[0].min_level``);
    ``message`` names the offending id; ``severity`` is ``error`` (the input is rejected) or
    ``warning`` (reported, the input is still used: unknown keys).
    """

    path: str
    message: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message, "severity": self.severity}


class AllocatorError(Exception):
    """Base of the library's own exceptions."""


class InputError(AllocatorError, ValueError):
    """An input (portfolio, plan, parameters) is invalid; ``issues`` lists every problem."""

    def __init__(self, issues: Sequence[Issue], what: str = "input") -> None:
        self.issues: tuple[Issue, ...] = tuple(i for i in issues if i.severity == "error")
        self.warnings: tuple[Issue, ...] = tuple(i for i in issues if i.severity == "warning")
        n = len(self.issues)
        head = f"invalid {what}: {n} error{'s' if n != 1 else ''}"
        super().__init__(head + "".join(f"\n  {i}" for i in self.issues))


class PortfolioError(InputError):
    """The portfolio breaks the contract; raised by ``load_portfolio`` with every error at once."""

    def __init__(self, issues: Sequence[Issue]) -> None:
        super().__init__(issues, "portfolio")


class PlanFormatError(InputError):
    """A plan file is not a readable ``allocator.plan/v1`` document."""

    def __init__(self, issues: Sequence[Issue]) -> None:
        super().__init__(issues, "plan")
