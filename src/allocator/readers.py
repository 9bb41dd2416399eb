"""Readers for public scheduling benchmarks, into the engine's model (``makespan`` objective).

Every benchmark counts time in abstract periods from 0; here a period is a working day of a
calendar in which every day is a working day (Mon..Sun, no holidays), starting on
``EPOCH``, so ``idx(day) = period`` and the contract's makespan ``idx(last finish) + 1`` equals
the benchmark's makespan (max over jobs of start + duration). Finish-to-start precedence is the
contract's (a successor starts the period after its predecessor's last period). Dummy jobs of
duration 0 are dropped and their precedence passed through, since the contract has no zero-length
tasks.

* **PSPLIB** ``.sm`` (single-mode RCPSP): a renewable resource of capacity ``c`` becomes a pool of
  ``c`` interchangeable people with skill ``R<k>``; a job needing ``r`` units of it becomes a team
  task with a requirement ``{skill: R<k>, count: r}``.
* **MSPSP** ``.dzn`` (Young, Schutt & Feydy 2017): workers become people with the skills they
  master; activities become team tasks needing ``sreq[i, s]`` people with skill ``s``.
* **iMOPSE** ``.def`` (MS-RCPSP): resources become people (``Q<s>`` at level ``l`` becomes skill
  ``Q<s>`` at level ``l + 1``, since the contract's levels start at 1), ``Salary`` their cost per
  hour; tasks become one-person tasks with a fixed ``duration_days``.

Parsing is strict: a malformed file raises :class:`BenchmarkFormatError` naming the file (and the
line where the parser knows it), never another exception; a file that would make more people
than :data:`allocator.limits.LIMITS` allows is refused before they are made.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from datetime import date, timedelta
from pathlib import Path

from allocator.domain import (
    WEEKDAYS,
    Calendar,
    Person,
    Policy,
    Portfolio,
    Project,
    Requirement,
    Task,
    frozen_map,
)
from allocator.limits import LIMITS

EPOCH = date(2027, 1, 4)


class BenchmarkFormatError(ValueError):
    """A benchmark file could not be read; the message names the file and what was wrong."""


def _calendar(horizon: int) -> Calendar:
    return Calendar(start=EPOCH, end=EPOCH + timedelta(days=max(horizon, 1) - 1), workdays=WEEKDAYS)


def _bypass_dummies(durations: dict[int, int], preds: dict[int, list[int]]) -> dict[int, list[int]]:
    """Predecessors among real jobs: a zero-duration job passes its own predecessors on."""
    memo: dict[int, set[int]] = {}

    def real_preds(j: int) -> set[int]:
        if j in memo:
            return memo[j]
        out: set[int] = set()
        for p in preds.get(j, []):
            if durations[p] > 0:
                out.add(p)
            else:
                out |= real_preds(p)
        memo[j] = out
        return out

    return {j: sorted(real_preds(j)) for j in durations if durations[j] > 0}


def _portfolio(
    name: str,
    people: Sequence[Person],
    tasks: Iterable[Task],
    horizon: int,
) -> Portfolio:
    project = Project(id="P", tasks=tuple(tasks))
    return Portfolio(
        name=name,
        calendar=_calendar(horizon),
        people=tuple(people),
        projects=(project,),
        policy=Policy(objective="makespan"),
    )


# ---------------------------------------------------------------------------------------------
# PSPLIB
# ---------------------------------------------------------------------------------------------
def _malformed(path: Path, what: str, parse: Callable[[Path], Portfolio]) -> Portfolio:
    """``parse(path)``, any parsing failure raised as :class:`BenchmarkFormatError` naming the
    file (a truncated or edited file fails with ``ValueError`` / ``IndexError`` / ``KeyError``
    deep in a parser; a huge number with ``OverflowError``; a very deep dummy chain with
    ``RecursionError``)."""
    try:
        return parse(path)
    except BenchmarkFormatError:
        raise
    except (ValueError, IndexError, KeyError, OverflowError, RecursionError) as exc:
        raise BenchmarkFormatError(
            f"{path}: not a readable {what} file ({type(exc).__name__}: {exc})"
        ) from None


def _check_people(path: Path, n: int) -> None:
    """A file may not make more people than a portfolio may have (its pools are expanded)."""
    if n > LIMITS.max_people:
        raise BenchmarkFormatError(
            f"{path}: {n:,} people; at most {LIMITS.max_people:,} are accepted"
        )


def read_psplib(path: str | Path) -> Portfolio:
    """A PSPLIB single-mode ``.sm`` file as a makespan portfolio (see module docstring)."""
    return _malformed(Path(path), "PSPLIB .sm", _psplib)


def _psplib(path: Path) -> Portfolio:
    lines = path.read_text().splitlines()

    def find(prefix: str) -> int:
        for i, line in enumerate(lines):
            if line.strip().startswith(prefix):
                return i
        raise BenchmarkFormatError(f"{path}: no section {prefix!r}")

    horizon_line = lines[find("horizon")]
    horizon = int(horizon_line.split(":")[1])
    i = find("PRECEDENCE RELATIONS") + 2
    succ: dict[int, list[int]] = {}
    while lines[i].strip() and not lines[i].startswith("*"):
        nums = [int(x) for x in lines[i].split()]
        job, n_succ = nums[0], nums[2]
        succ[job] = nums[3 : 3 + n_succ]
        i += 1
    i = find("REQUESTS/DURATIONS") + 3
    dur: dict[int, int] = {}
    req: dict[int, list[int]] = {}
    while i < len(lines) and lines[i].strip() and not lines[i].startswith("*"):
        nums = [int(x) for x in lines[i].split()]
        job, duration, demands = nums[0], nums[2], nums[3:]
        dur[job] = duration
        req[job] = demands
        i += 1
    i = find("RESOURCEAVAILABILITIES") + 2
    caps = [int(x) for x in lines[i].split()]
    _check_people(path, sum(max(0, c) for c in caps))
    if not dur or len(dur) != len(succ):
        raise BenchmarkFormatError(f"{path}: job sections do not match")
    preds: dict[int, list[int]] = {j: [] for j in dur}
    for j, ss in succ.items():
        for s in ss:
            preds[s].append(j)
    real = _bypass_dummies(dur, preds)
    people = [
        Person(id=f"R{k + 1}-{u + 1}", skills=frozen_map({f"R{k + 1}": 1}))
        for k, c in enumerate(caps)
        for u in range(c)
    ]
    tasks = []
    for j in sorted(real):
        reqs = tuple(Requirement(skill=f"R{k + 1}", count=r) for k, r in enumerate(req[j]) if r > 0)
        tasks.append(
            Task(
                id=f"j{j}",
                project="P",
                requirements=reqs,
                duration_days=dur[j],
                predecessors=tuple(f"j{p}" for p in real[j]),
            )
        )
    return _portfolio(path.stem, people, tasks, horizon)


# ---------------------------------------------------------------------------------------------
# MSPSP (.dzn)
# ---------------------------------------------------------------------------------------------
_DZN_ASSIGN = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?);", re.S | re.M)


def _dzn_values(text: str) -> dict[str, str]:
    text = "\n".join(line.split("%", 1)[0] for line in text.splitlines())
    return {m.group(1): m.group(2) for m in _DZN_ASSIGN.finditer(text)}


def _ints(text: str) -> list[int]:
    return [int(x) for x in re.findall(r"-?\d+", text)]


def _bools(text: str) -> list[bool]:
    return [x == "true" for x in re.findall(r"true|false", text)]


def read_mspsp(path: str | Path) -> Portfolio:
    """A Young et al. MSPSP ``.dzn`` file as a makespan portfolio (see module docstring)."""
    return _malformed(Path(path), "MSPSP .dzn", _mspsp)


def _mspsp(path: Path) -> Portfolio:
    v = _dzn_values(path.read_text())
    try:
        n_acts = int(v["nActs"])
        dur = _ints(v["dur"])
        n_skills = int(v["nSkills"])
        sreq = _ints(v["sreq"])
        n_res = int(v["nResources"])
        mastery = _bools(v["mastery"])
        pred = _ints(v["pred"])
        succ = _ints(v["succ"])
    except KeyError as exc:
        raise BenchmarkFormatError(f"{path}: missing {exc.args[0]}") from None
    if len(dur) != n_acts or len(sreq) != n_acts * n_skills or len(mastery) != n_res * n_skills:
        raise BenchmarkFormatError(f"{path}: array sizes do not match nActs/nSkills/nResources")
    _check_people(path, n_res)
    durations = {i + 1: d for i, d in enumerate(dur)}
    preds: dict[int, list[int]] = {j: [] for j in durations}
    for a, b in zip(pred, succ, strict=True):
        preds[b].append(a)
    real = _bypass_dummies(durations, preds)
    people = [
        Person(
            id=f"w{r + 1}",
            skills=frozen_map(
                {f"S{s + 1}": 1 for s in range(n_skills) if mastery[r * n_skills + s]}
            ),
        )
        for r in range(n_res)
    ]
    tasks = []
    for j in sorted(real):
        row = sreq[(j - 1) * n_skills : j * n_skills]
        reqs = tuple(Requirement(skill=f"S{s + 1}", count=c) for s, c in enumerate(row) if c > 0)
        tasks.append(
            Task(
                id=f"a{j}",
                project="P",
                requirements=reqs,
                duration_days=durations[j],
                predecessors=tuple(f"a{p}" for p in real[j]),
            )
        )
    horizon = sum(dur) + 1
    return _portfolio(path.stem, people, tasks, horizon)


# ---------------------------------------------------------------------------------------------
# iMOPSE (.def)
# ---------------------------------------------------------------------------------------------
_Q = re.compile(r"Q(\d+):\s*(\d+)")


def read_imopse(path: str | Path) -> Portfolio:
    """An iMOPSE MS-RCPSP ``.def`` file as a makespan portfolio (see module docstring)."""
    return _malformed(Path(path), "iMOPSE .def", _imopse)


def _imopse(path: Path) -> Portfolio:
    lines = path.read_text(errors="replace").splitlines()
    people: list[Person] = []
    tasks: list[Task] = []
    section = None
    for n, line in enumerate(lines, 1):
        s = line.strip()
        if s.startswith("ResourceID"):
            section = "res"
            continue
        if s.startswith("TaskID"):
            section = "task"
            continue
        if s.startswith("="):
            section = None if section else section
            continue
        if not s or section is None:
            continue
        head = s.split()
        if not head[0].isdigit():
            continue
        try:
            if section == "res":
                rid, salary = int(head[0]), float(head[1])
                skills = {f"Q{q}": int(lv) + 1 for q, lv in _Q.findall(s)}
                people.append(Person(id=f"r{rid}", skills=frozen_map(skills), cost_per_hour=salary))
            else:
                tid, duration = int(head[0]), int(head[1])
                qs = _Q.findall(s)
                if len(qs) != 1:
                    raise BenchmarkFormatError(f"{path}:{n}: a task needs exactly one skill")
                q, lv = qs[0]
                rest = _Q.sub("", s).split()[2:]
                preds = tuple(f"t{int(x)}" for x in rest)
                tasks.append(
                    Task(
                        id=f"t{tid}",
                        project="P",
                        skill=f"Q{q}",
                        min_level=int(lv) + 1,
                        duration_days=duration,
                        predecessors=preds,
                    )
                )
        except (ValueError, IndexError) as exc:
            raise BenchmarkFormatError(f"{path}:{n}: {exc}") from None
    if not people or not tasks:
        raise BenchmarkFormatError(f"{path}: no resources or no tasks found")
    horizon = sum(t.duration_days or 0 for t in tasks) + 1
    return _portfolio(path.stem, people, tasks, horizon)


def read_benchmark(path: str | Path) -> Portfolio:
    """Read a benchmark instance by its extension (``.sm``, ``.dzn``, ``.def``)."""
    suffix = Path(path).suffix
    if suffix == ".sm":
        return read_psplib(path)
    if suffix == ".dzn":
        return read_mspsp(path)
    if suffix == ".def":
        return read_imopse(path)
    raise BenchmarkFormatError(f"{path}: unknown benchmark format {suffix!r}")
