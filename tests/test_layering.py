"""The domain, the checker, validation, the objective and contract I/O stay free of solvers,
DataFrames and web frameworks: importing them in a fresh interpreter loads none of those."""

from __future__ import annotations

import subprocess
import sys

import pytest

PURE = [
    "allocator.domain",
    "allocator.contract",
    "allocator.validation",
    "allocator.timeline",
    "allocator.objective",
    "allocator.checker",
    "allocator.reasons",
    "allocator.generator",
]
FORBIDDEN = ["ortools", "pandas", "fastapi", "starlette", "solver_models", "api", "numpy"]


@pytest.mark.parametrize("module", PURE)
def test_pure_modules_import_no_solver_or_framework(module: str) -> None:
    code = (
        f"import sys, {module}\n"
        f"bad = [m for m in {FORBIDDEN!r} if m in sys.modules]\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"{module} pulls in {out.stdout.strip()}"


def test_library_does_not_print() -> None:
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[1]
    offenders = []
    for path in [
        *root.joinpath("src", "allocator").rglob("*.py"),
        *root.joinpath("solver_models").rglob("*.py"),
    ]:
        if path.name == "cli.py":
            continue  # the command line's output is its product
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if line.strip().startswith("print("):
                offenders.append(f"{path.name}:{n}")
    assert not offenders
