"""Every reader, fed arbitrary or mutated input, answers with the library's own error type (or a
value), never another exception, and within a bounded time (issue #16 item 4).

Readers: the contract JSON (portfolio and plan), CSV and Excel tables, PSPLIB ``.sm``, MSPSP
``.dzn`` and iMOPSE ``.def``. Mutations start from a real file (the bundled example portfolio,
a real benchmark instance) and replace, delete or insert pieces, so most inputs get deep into
the reader rather than failing at its first line.
"""

from __future__ import annotations

import contextlib
import copy
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from allocator.contract import load_portfolio, read_plan, read_portfolio
from allocator.errors import AllocatorError
from allocator.files import portfolio_from_files
from allocator.readers import BenchmarkFormatError, read_imopse, read_mspsp, read_psplib
from allocator.validation import validate

DATA = Path(__file__).resolve().parents[1] / "src" / "allocator" / "data"
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "benchmarks"
EXAMPLE: dict[str, Any] = json.loads((DATA / "example-portfolio.json").read_text())
#: one reading of a hostile input may take this long (they are all small)
MAX_SECONDS = 5.0
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: the library's own errors: AllocatorError (PortfolioError, PlanFormatError, FrameError, ...)
#: and the benchmark readers' BenchmarkFormatError
OWN_ERRORS = (AllocatorError, BenchmarkFormatError)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(["2027-01-04", "9999-12-31", "0001-01-01", "2027-02-30", "", "\x00"])
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def bounded(read: Callable[[], object]) -> None:
    """``read()`` returns or raises one of the library's errors, within MAX_SECONDS."""
    started = time.perf_counter()
    with contextlib.suppress(OWN_ERRORS):
        read()
    elapsed = time.perf_counter() - started
    assert elapsed < MAX_SECONDS, f"reading took {elapsed:.1f}s"


def _nodes(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into a JSON value (the root is ``()``)."""
    out = [path]
    if isinstance(value, dict):
        for key, child in value.items():
            out += _nodes(child, (*path, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            out += _nodes(child, (*path, i))
    return out


@st.composite
def mutated(draw: st.DrawFn, base: Any) -> Any:
    """``base`` with one to three nodes replaced by arbitrary JSON or deleted."""
    data = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        paths = _nodes(data)
        path = draw(st.sampled_from(paths))
        if not path:
            return draw(json_values)
        parent = data
        for step in path[:-1]:
            parent = parent[step]
        if draw(st.booleans()):
            parent[path[-1]] = draw(json_values)
        elif isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent.pop(path[-1])
    return data


# -- contract JSON ----------------------------------------------------------------------------
def read_and_validate(data: Any) -> None:
    """The contract's reading of any JSON document: issues, never an exception; and, for an
    object, ``load_portfolio`` (reading and validation) raising only PortfolioError."""
    portfolio, issues = read_portfolio(data)
    validate(portfolio, issues)
    if isinstance(data, dict):
        load_portfolio(data)


@FUZZ
@given(json_values)
def test_arbitrary_json_as_a_portfolio_gives_only_the_library_error(data: Any) -> None:
    bounded(lambda: read_and_validate(data))


@FUZZ
@given(mutated(EXAMPLE))
def test_a_mutated_portfolio_gives_only_the_library_error(data: Any) -> None:
    bounded(lambda: read_and_validate(data))


PLAN: dict[str, Any] = {
    "format": "allocator.plan/v2",
    "portfolio": "x",
    "status": "feasible",
    "objective": {"undelivered_work_hours": 0, "cost": 1.5},
    "lower_bound": None,
    "solve_seconds": 0.1,
    "assignments": [
        {"task": "a", "people": ["ann"], "start": "2027-01-04", "finish": "2027-01-05"}
    ],
    "unassigned": [{"task": "b", "reasons": ["none"]}],
}


@FUZZ
@given(json_values | mutated(PLAN))
def test_arbitrary_and_mutated_plans_give_only_the_library_error(data: Any) -> None:
    def read() -> None:
        _plan, issues = read_plan(data)
        assert all(i.path is not None for i in issues)

    bounded(read)


# -- CSV and Excel tables ---------------------------------------------------------------------
TABLES_TEXT = {
    "people": "id,name,hours_per_day,cost_per_hour\nann,Ann,8,50\nbob,Bob,6,40\n",
    "skills": "person,skill,level\nann,py,4\nbob,py,2\n",
    "projects": "id,name,priority\nP,Proj,1\n",
    "tasks": "id,project,skill,min_level,effort_hours\na,P,py,2,16\nb,P,py,1,8\n",
    "settings": "key,value\nname,fuzz\ncalendar_start,2027-01-04\ncalendar_end,2027-01-29\n",
}
cells = st.text(max_size=10) | st.sampled_from(["", "1e308", "-1", "NaN", "9" * 40, "\x00", '"'])


@st.composite
def mutated_tables(draw: st.DrawFn) -> dict[str, str]:
    """The tables above with cells, separators or whole lines replaced."""
    out = dict(TABLES_TEXT)
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(sorted(out)))
        lines = out[name].splitlines()
        row = draw(st.integers(0, len(lines) - 1))
        parts = lines[row].split(",")
        col = draw(st.integers(0, len(parts) - 1))
        parts[col] = draw(cells)
        lines[row] = ",".join(parts)
        if draw(st.booleans()):
            lines.insert(draw(st.integers(0, len(lines))), draw(st.text(max_size=20)))
        out[name] = "\n".join(lines) + "\n"
    return out


@FUZZ
@given(mutated_tables())
def test_mutated_csv_tables_give_only_the_library_error(tables: dict[str, str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in tables.items():
            (Path(tmp) / f"{name}.csv").write_text(text, encoding="utf-8", errors="surrogatepass")
        bounded(lambda: portfolio_from_files(tmp))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_arbitrary_bytes_as_a_workbook_give_only_the_library_error(blob: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "portfolio.xlsx"
        path.write_bytes(blob)
        bounded(lambda: portfolio_from_files(path))


# -- public benchmark formats -----------------------------------------------------------------
def _first(pattern: str) -> Path | None:
    found = sorted(SHARED.glob(pattern)) if SHARED.is_dir() else []
    return found[0] if found else None


BENCHMARKS = [
    pytest.param(read_psplib, "psplib_rcpsp/j30/*.sm", ".sm", id="psplib"),
    pytest.param(read_mspsp, "mspsp_young2017/instances/**/*.dzn", ".dzn", id="mspsp"),
    pytest.param(read_imopse, "imopse/instances/**/*.def", ".def", id="imopse"),
]


@st.composite
def mutated_text(draw: st.DrawFn, text: str) -> str:
    """``text`` with one to four slices replaced by arbitrary text or numbers, or deleted."""
    for _ in range(draw(st.integers(1, 4))):
        if not text:
            break
        start = draw(st.integers(0, len(text) - 1))
        end = draw(st.integers(start, min(len(text), start + 40)))
        new = draw(
            st.text(max_size=12)
            | st.integers(-(10**30), 10**30).map(str)
            | st.sampled_from(["", "\n", ":", "[", "]", ";", "0", "-1", "99999999"])
        )
        text = text[:start] + new + text[end:]
    return text


@pytest.mark.parametrize(("reader", "pattern", "suffix"), BENCHMARKS)
def test_mutated_benchmark_files_give_only_the_reader_error(
    reader: Callable[[Path], object], pattern: str, suffix: str
) -> None:
    source = _first(pattern)
    if source is None:
        pytest.skip(f"no {pattern} under {SHARED}")
    original = source.read_text()

    @FUZZ
    @given(mutated_text(original))
    def one(text: str) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"fuzz{suffix}"
            path.write_text(text, encoding="utf-8", errors="surrogatepass")
            bounded(lambda: reader(path))

    one()
