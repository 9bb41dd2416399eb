"""The stack (README "Layers"): domain and contract -> checker -> compile and models -> solve ->
notebook / service / batch job.

- the import-linter contracts of ``pyproject.toml`` hold (they read every import, lazy ones in
  functions included), and every module of ``allocator`` sits in a layer of them;
- the domain, the checker, validation, the objective and contract I/O stay free of solvers,
  DataFrames and web frameworks: importing them in a fresh interpreter loads none of those;
- no module imports another module's ``_private`` name;
- the service's command line loads no web stack to build its parser, and without the api extra
  its commands say so (``demo`` still solves).
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: import name -> folder
PACKAGES = {
    "allocator": ROOT / "src" / "allocator",
    "solver_models": ROOT / "solver_models",
    "allocator_api": ROOT / "api",
    "benchmarks": ROOT / "benchmarks",
}

PURE = [
    "allocator.domain",
    "allocator.errors",
    "allocator.contract",
    "allocator.validation",
    "allocator.timeline",
    "allocator.objective",
    "allocator.checker",
    "allocator.reasons",
    "allocator.diff",
    "allocator.generator",
]
FORBIDDEN = [
    "ortools",
    "pandas",
    "fastapi",
    "starlette",
    "sqlalchemy",
    "solver_models",
    "allocator_api",
    "numpy",
]


def _modules(package: str) -> list[str]:
    """Every module of ``package`` (by its files), packages included."""
    base = PACKAGES[package]
    names = []
    for path in sorted(base.rglob("*.py")):
        parts = [package, *path.relative_to(base).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        names.append(".".join(parts))
    return names


def _is_module(name: str) -> bool:
    root, *rest = name.split(".")
    if root not in PACKAGES:
        return False
    path = PACKAGES[root].joinpath(*rest)
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


@pytest.mark.parametrize("module", PURE)
def test_pure_modules_import_no_solver_or_framework(module: str) -> None:
    code = (
        f"import sys, {module}\n"
        f"bad = [m for m in {FORBIDDEN!r} if m in sys.modules]\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"{module} pulls in {out.stdout.strip()}"


def test_import_contracts_hold() -> None:
    """``lint-imports`` (the ``[tool.importlinter]`` contracts) passes."""
    lint = Path(sys.executable).with_name("lint-imports")
    out = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 broken" in out.stdout


def test_every_library_module_is_in_a_layer() -> None:
    """A new module of ``allocator`` must be placed in the stack (its contract lists modules
    one by one; ``solver_models`` and ``allocator_api`` are each one layer)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    stack = next(c for c in contracts if c.get("id") == "stack")
    listed = {m.strip() for layer in stack["layers"] for m in layer.replace("|", ":").split(":")}
    assert {"allocator_api", "solver_models"} <= listed
    missing = [
        m
        for m in _modules("allocator")
        if m != "allocator" and not any(m == x or m.startswith(x + ".") for x in listed)
    ]
    assert not missing, f"not in a layer of [tool.importlinter] 'stack': {missing}"


def _module_name(path: Path, package: str) -> str:
    rel = path.relative_to(PACKAGES[package]).with_suffix("").parts
    return ".".join([package, *rel]).removesuffix(".__init__")


def _private_imports(path: Path, own: str) -> list[str]:
    """``from m import _x``, ``m._x`` and ``m.sub._x`` of one of our modules ``m`` other than
    ``own``, the module of ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    bound: dict[str, str] = {}  # local name -> module it is bound to
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if not _is_module(node.module) or node.module == own:
                continue
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                if _is_module(full):
                    bound[alias.asname or alias.name] = full
                elif _private(alias.name):
                    found.append(
                        f"{path.name}:{node.lineno}: from {node.module} import {alias.name}"
                    )
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if _is_module(alias.name):
                    local = alias.asname or alias.name.split(".")[0]
                    bound[local] = alias.name if alias.asname else local
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Attribute) and _private(node.attr)):
            continue
        chain, base = [node.attr], node.value
        while isinstance(base, ast.Attribute):
            chain.append(base.attr)
            base = base.value
        if not (isinstance(base, ast.Name) and base.id in bound):
            continue
        module, names = bound[base.id], list(reversed(chain))
        while names and _is_module(f"{module}.{names[0]}"):
            module = f"{module}.{names.pop(0)}"
        if module != own and names and _private(names[0]):
            found.append(f"{path.name}:{node.lineno}: {module}.{names[0]}")
    return found


def test_no_module_imports_another_modules_private_name() -> None:
    offenders = [
        hit
        for package, base in PACKAGES.items()
        for path in sorted(base.rglob("*.py"))
        for hit in _private_imports(path, _module_name(path, package))
    ]
    assert not offenders, offenders


def test_private_name_check_can_fail(tmp_path: Path) -> None:
    """The check above sees the three spellings, and not a module's own or a public name."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import allocator.contract\n"
        "import solver_models.bounds as b\n"
        "from allocator.cli import _load, example_path\n"
        "x = allocator.contract._x\n"
        "y = b._full\n"
        "z = b.safe_upper_bound\n",
        encoding="utf-8",
    )
    hits = [h.split(": ", 1)[1] for h in _private_imports(probe, "benchmarks.probe")]
    assert hits == [
        "from allocator.cli import _load",
        "allocator.contract._x",
        "solver_models.bounds._full",
    ]
    assert _private_imports(probe, "solver_models.bounds") == [
        "probe.py:3: from allocator.cli import _load",
        "probe.py:4: allocator.contract._x",
    ]


def test_library_does_not_print() -> None:
    offenders = []
    for path in [*PACKAGES["allocator"].rglob("*.py"), *PACKAGES["solver_models"].rglob("*.py")]:
        if path.name in ("cli.py", "cli_plans.py"):
            continue  # the command line's output is its product
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if line.strip().startswith("print("):
                offenders.append(f"{path.name}:{n}")
    assert not offenders


def test_service_cli_builds_its_parser_without_the_web_stack() -> None:
    code = (
        "import sys\n"
        "from allocator_api.cli import add_service_commands\n"
        "from allocator.cli import build_parser\n"
        "p = build_parser(add_service_commands)\n"
        "p.parse_args(['serve'])\n"
        "bad = [m for m in ('fastapi', 'sqlalchemy', 'uvicorn', 'ortools', 'pandas')"
        " if m in sys.modules]\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_library_cli_has_no_service_commands() -> None:
    from allocator.cli import build_parser

    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["serve"])
    assert exc.value.code == 2


def test_without_the_api_extra_service_commands_say_so(tmp_path: Path) -> None:
    """With the web stack and the database unimportable, ``demo`` solves and writes its plan
    but skips the database (a note), and ``serve`` / ``nightly`` exit 1 naming the extra."""
    block = (
        "import sys\n"
        "sys.modules.update(dict.fromkeys(['sqlalchemy', 'fastapi', 'alembic', 'uvicorn',"
        " 'distributed']))\n"
        "from allocator_api.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", block, *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
        )

    demo = run("demo", "-o", "plan.json", "--time-limit", "2", "--workers", "1")
    assert demo.returncode == 0, demo.stderr
    assert (tmp_path / "plan.json").is_file()
    assert "database not written" in demo.stderr
    assert not list(tmp_path.rglob("*.sqlite"))
    serve = run("serve")
    assert serve.returncode == 1 and "needs the 'api' extra" in serve.stderr
    nightly = run("nightly", "--db", "sqlite:///x.sqlite")
    assert nightly.returncode == 1 and "'nightly' extras" in nightly.stderr
