"""The command line as a user runs it: real processes, exit codes, one line per error, no traceback."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from allocator.cli import example_path

EXAMPLE = json.loads(example_path().read_text())


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "allocator_api.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


def write(tmp_path: Path, data: Any, name: str = "p.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return str(path)


def test_solve_then_check_the_example(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    r = cli(
        "solve", "example", "-o", str(plan), "--time-limit", "5", "--workers", "1", "--seed", "3"
    )
    assert r.returncode == 0, r.stderr
    assert "check: valid" in r.stdout
    data = json.loads(plan.read_text())
    assert data["format"] == "allocator.plan/v2" and data["status"] in ("optimal", "feasible")
    r = cli("check", str(example_path()), str(plan))
    assert r.returncode == 0, r.stdout + r.stderr
    r = cli("check", str(example_path()), str(plan), "--json")
    assert json.loads(r.stdout)["valid"] is True


def test_check_flags_an_edited_plan_with_exit_1(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    assert (
        cli("solve", "example", "-o", str(plan), "--time-limit", "3", "--workers", "1").returncode
        == 0
    )
    data = json.loads(plan.read_text())
    data["assignments"][0]["people"] = ["nobody"]
    r = cli("check", str(example_path()), write(tmp_path, data, "bad.json"))
    assert r.returncode == 1
    assert "unknown_person" in r.stdout and "nobody" in r.stdout


def test_validate_and_generate(tmp_path: Path) -> None:
    out = tmp_path / "gen.json"
    r = cli("generate", "--people", "12", "--projects", "4", "--seed", "7", "-o", str(out))
    assert r.returncode == 0, r.stderr
    r = cli("validate", str(out))
    assert r.returncode == 0 and r.stdout.startswith("ok:"), r.stdout + r.stderr


def _mutate(path: str, value: Any) -> dict[str, Any]:
    data = json.loads(json.dumps(EXAMPLE))
    node: Any = data
    keys = path.split("/")
    for k in keys[:-1]:
        node = node[int(k)] if k.isdigit() else node[k]
    last = keys[-1]
    if value is KeyError:
        del node[last]
    elif last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value
    return data


BAD = [
    ("projects/0/tasks/1/min_level", 7, "crm-schema"),
    ("projects/0/tasks/1/predecessors", ["ghost"], "ghost"),
    ("projects/0/tasks/0/predecessors", ["crm-test"], "cycle"),
    ("people/1/id", "ana", "ana"),
    ("projects/0/tasks/0/effort_hours", -5, "crm-scope"),
    ("projects/0/tasks/0/allocation", 150, "crm-scope"),
    ("calendar/end", "2026-01-01", "calendar"),
    ("calendar/start", "2027-13-01", "calendar.start"),
    ("projects/2/tasks/1/pinned", {"person": "ben"}, "ben"),
    ("projects/2/tasks/1/pinned", {"start": "2027-01-16"}, "ops-audit"),
    ("projects/0/tasks/4/effort_hours", 10, "crm-cutover"),
    ("projects/0/tasks/0/skill", KeyError, "crm-scope"),
]


@pytest.mark.parametrize(("path", "value", "needle"), BAD)
def test_bad_input_exits_2_with_one_line_per_error(
    tmp_path: Path, path: str, value: Any, needle: str
) -> None:
    f = write(tmp_path, _mutate(path, value))
    for args in (("validate", f), ("solve", f, "-o", str(tmp_path / "x.json"))):
        r = cli(*args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert "Traceback" not in r.stderr
        errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
        assert errors and any(needle in line for line in errors), r.stderr
    assert not (tmp_path / "x.json").exists()


def test_not_json_and_missing_file_exit_2(tmp_path: Path) -> None:
    r = cli("validate", write(tmp_path, "{not json"))
    assert r.returncode == 2 and "not valid JSON" in r.stderr and "Traceback" not in r.stderr
    r = cli("validate", str(tmp_path / "missing.json"))
    assert r.returncode == 2 and "file not found" in r.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("solve", "example", "-o", "x", "--time-limit", "-1"),
        ("frobnicate",),
        ("solve", "example", "-o", "x", "--workers", "zero"),
    ],
)
def test_bad_arguments_exit_2_in_one_line(args: tuple[str, ...]) -> None:
    r = cli(*args)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_several_errors_are_all_listed(tmp_path: Path) -> None:
    data = _mutate("projects/0/tasks/1/min_level", 0)
    data["projects"][1]["tasks"][0]["allocation"] = 0
    data["people"][0]["hours_per_day"] = 30
    r = cli("validate", write(tmp_path, data))
    assert r.returncode == 2
    assert len([line for line in r.stderr.splitlines() if line.startswith("error:")]) == 3


def test_unknown_keys_warn_with_their_path(tmp_path: Path) -> None:
    data = _mutate("projects/0/tasks/0/efort_hours", 3)
    r = cli("validate", write(tmp_path, data))
    assert r.returncode == 0
    assert "projects[0].tasks[0].efort_hours" in r.stderr


def test_demo_solves_checks_writes_and_stores_in_sqlite(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "demo.sqlite"
    plan = tmp_path / "plan.json"
    for _ in range(2):  # a second run the same day adds no second version
        r = cli(
            "demo",
            "-o",
            str(plan),
            "--time-limit",
            "3",
            "--workers",
            "1",
            "--db",
            f"sqlite:///{db}",
        )
        assert r.returncode == 0, r.stderr
        assert "check: valid" in r.stdout and "1 plan version(s)" in r.stdout
    with sqlite3.connect(db) as c:
        rows = c.execute("select count(*) from assignments").fetchone()[0]
    assert rows == sum(len(a["people"]) for a in json.loads(plan.read_text())["assignments"])


# -- the objective in planner units; stale plans --------------------------------------------
def test_solve_shows_the_terms_in_hours_and_money(tmp_path: Path) -> None:
    """The summary leads with the objective's terms in planner units, never a combined number."""
    plan = tmp_path / "plan.json"
    r = cli(
        "solve", "example", "-o", str(plan), "--time-limit", "5", "--workers", "1", "--seed", "3"
    )
    assert r.returncode == 0, r.stderr
    data = json.loads(plan.read_text())
    obj = data["objective"]
    assert list(obj) == [
        "undelivered_work_hours",
        "weighted_late_days",
        "weighted_finish_days",
        "cost",
    ]
    first = r.stdout.splitlines()[0]
    assert first.startswith(f"portfolio example-q1: {data['status']}, ")
    assert f"undelivered {obj['undelivered_work_hours']:,g} h" in first, first
    assert f"late {obj['weighted_late_days']:,} weighted days" in first, first
    assert f"finish {obj['weighted_finish_days']:,} weighted days" in first, first
    # one cost: the pay (the checker's total_cost); the objective's cost term is said as the
    # skill-fit charges it adds, never as a second "cost"
    total_cost = json.loads(cli("check", "example", str(plan), "--json").stdout)["kpis"][
        "total_cost"
    ]
    assert "charged cost" not in r.stdout
    assert len(re.findall(r"\bcost [\d,]+\.\d\d", r.stdout)) == 1
    assert f"cost {total_cost:,.2f} (the objective adds {obj['cost'] - total_cost:,.2f} of " in (
        r.stdout
    )
    # no number a planner cannot read (the combined key reaches 10^29)
    for out in (r.stdout, r.stderr):
        assert not re.search(r"\d{16,}", out.replace(",", "")), out


def _solved(tmp_path: Path, portfolio: str = "example") -> tuple[str, dict[str, Any]]:
    plan = tmp_path / "plan.json"
    r = cli("solve", portfolio, "-o", str(plan), "--time-limit", "3", "--workers", "1")
    assert r.returncode == 0, r.stderr
    return str(plan), json.loads(plan.read_text())


def _with_etl_effort(hours: float) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(json.dumps(EXAMPLE))
    (etl,) = [t for t in data["projects"][0]["tasks"] if t["id"] == "crm-etl"]
    etl["effort_hours"] = hours
    return data


def test_check_says_stale_apart_and_exits_0(tmp_path: Path) -> None:
    """A plan whose portfolio changed an effort since: its declared objective no longer matches
    (stale), but it still keeps every rule (valid): exit code 0, stale said on its own line."""
    # crm-etl too big for the calendar: unassigned (with the tasks after it)
    before = write(tmp_path, _with_etl_effort(5000), "before.json")
    plan, data = _solved(tmp_path, before)
    assert "crm-etl" in {u["task"] for u in data["unassigned"]}
    # the estimate grows: more undelivered work than the plan declares, every rule still kept
    after = write(tmp_path, _with_etl_effort(6000), "after.json")
    r = cli("check", after, plan)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "check: valid" in r.stdout and "INVALID" not in r.stdout
    assert "the plan is valid but stale: its objective no longer matches this portfolio" in r.stdout
    assert "stale: the plan declares objective" in r.stdout  # the figures, declared and now
    j = cli("check", after, plan, "--json")
    assert j.returncode == 0, j.stdout + j.stderr
    report = json.loads(j.stdout)
    assert report["valid"] is True and report["current"] is False
    assert [x["code"] for x in report["stale"]] == ["objective_mismatch"]
    grown = report["kpis"]["undelivered_work_hours"]
    assert (
        grown
        > data["objective"]["undelivered_work_hours"]
        == report["objective"]["undelivered_work_hours"]
    )
    # against the portfolio it was made for, the plan is current
    same = json.loads(cli("check", before, plan, "--json").stdout)
    assert same["valid"] is True and same["current"] is True and same["stale"] == []
    assert "stale" not in cli("check", before, plan).stdout


def test_check_reads_a_v1_plan_file(tmp_path: Path) -> None:
    """An ``allocator.plan/v1`` file (one combined number, ``objective_terms``) still loads and
    checks; the output shows its terms, not the number."""
    from allocator.contract import load_plan, load_portfolio
    from allocator.objective import objective_value

    plan, data = _solved(tmp_path)
    portfolio = load_portfolio(example_path())
    combined = objective_value(portfolio, load_plan(plan))
    assert combined > 100 * max(data["objective"].values())  # what v1 showed a planner
    v1 = dict(data, format="allocator.plan/v1", objective=combined, lower_bound=combined)
    v1["objective_terms"] = data["objective"]
    v1.pop("gap")
    for c in v1.get("changes") or []:
        c.pop("forced", None)
    r = cli("check", "example", write(tmp_path, v1, "v1.json"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "check: valid" in r.stdout and "stale" not in r.stdout
    assert f"undelivered {data['objective']['undelivered_work_hours']:,g} h" in r.stdout
    assert str(combined) not in r.stdout


# -- progress and Ctrl-C ------------------------------------------------------------------------
def test_solve_progress_lines_carry_the_figures(tmp_path: Path) -> None:
    """stderr is not a terminal here: plain lines, each with stage, objective, bound, gap,
    elapsed time and time limit; ``--quiet`` turns them off."""
    plan = tmp_path / "plan.json"
    r = cli("solve", "example", "-o", str(plan), "--time-limit", "4", "--workers", "1")
    assert r.returncode == 0, r.stderr
    lines = [x for x in r.stderr.splitlines() if " / 4s " in x]
    assert "\r" not in r.stderr and "\x1b[" not in r.stderr  # no in-place redraw
    stages = [x.split()[4] for x in lines]  # "[#...] 1.2s / 4s  stage  objective ..."
    assert stages[0] == "compiling"
    assert any(s.startswith("greedy-") for s in stages) and stages[-1] == "done"
    done = json.loads(plan.read_text())
    last = lines[-1]
    # the figures in planner units: the first term (and the one the gap is about)
    hours = done["objective"]["undelivered_work_hours"]
    assert f"undelivered {hours:,g} h" in last, last
    if done["status"] == "optimal":
        assert "(proven)" in last or "(all proven)" in last, last
    else:
        assert f"gap {round(done['gap'] * 100, 6):g}%" in last, last
    assert not re.search(r"\d{16,}", r.stderr.replace(",", ""))
    elapsed = float(last.split("]")[1].split("s /")[0])
    assert 0 <= elapsed <= done["solve_seconds"] + 1
    quiet = cli("solve", "example", "-o", str(plan), "--time-limit", "2", "--quiet")
    assert quiet.returncode == 0 and " / 2s " not in quiet.stderr, quiet.stderr


def test_ctrl_c_stops_the_solve_and_writes_the_best_plan(tmp_path: Path) -> None:
    """SIGINT to a running ``allocator solve`` (a portfolio large enough for LNS, a long time
    limit): it stops within seconds and writes a valid plan; exit code 0."""
    import signal
    import threading
    import time

    portfolio = tmp_path / "big.json"
    r = cli("generate", "--people", "150", "--projects", "120", "--seed", "7", "-o", str(portfolio))
    assert r.returncode == 0, r.stderr
    plan = tmp_path / "plan.json"
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "allocator_api.cli", "solve", str(portfolio), "-o", str(plan)),
            *("--time-limit", "120", "--workers", "1"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen: list[str] = []
    planned = threading.Event()

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            seen.append(line)
            if " greedy-" in line or " lns " in line:
                planned.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert planned.wait(90), "".join(seen)  # a first plan exists
        time.sleep(1.0)  # into the search
        proc.send_signal(signal.SIGINT)
        # a hang guard, not a timing claim; not communicate(): it would read stderr under the reader
        proc.wait(timeout=60)
        assert proc.stdout is not None
        out = proc.stdout.read()  # the summary: small, so the pipe never filled
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(timeout=5)
    assert proc.returncode == 0, "".join(seen) + out
    assert "stopped early" in "".join(seen)
    data = json.loads(plan.read_text())
    # stopped: it returned before its 120 s limit (the line above says why)
    assert data["status"] in ("feasible", "optimal") and data["solve_seconds"] < 120
    r = cli("check", str(portfolio), str(plan))
    assert r.returncode == 0, r.stdout + r.stderr


# -- reports, exports and readable summaries (issue #14) --------------------------------------
def test_report_and_export_of_the_example(tmp_path: Path) -> None:
    plan, _ = _solved(tmp_path)
    html = tmp_path / "r.html"
    r = cli("report", "example", plan, "-o", str(html))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"report written to {html}")
    page = html.read_text(encoding="utf-8")
    assert "<script" not in page and "Projects" in page and "example-q1" in page
    xlsx = tmp_path / "plan.xlsx"
    r = cli("export", "example", plan, "-o", str(xlsx))
    assert r.returncode == 0, r.stderr
    assert xlsx.read_bytes()[:2] == b"PK"  # a zip: an .xlsx
    # bad input: one line, exit 2
    r = cli("report", "example", str(tmp_path / "missing.json"), "-o", str(html))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_report_pdf_without_chromium_exits_2_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import allocator.report
    from allocator.cli import main

    monkeypatch.setattr(allocator.report, "find_chromium", lambda: None)
    html = tmp_path / "r.html"
    code = main(["report", "example", "no-plan.json", "-o", str(html), "--pdf", "r.pdf"])
    err = capsys.readouterr().err
    assert code == 2 and not html.exists()
    assert err.startswith("error: --pdf needs a headless Chromium") and len(err.splitlines()) == 1


@pytest.mark.skipif(
    __import__("allocator.report").report.find_chromium() is None,
    reason="no chromium installed (CI installs it)",
)
def test_report_pdf_with_chromium(tmp_path: Path) -> None:
    plan, _ = _solved(tmp_path)
    pdf = tmp_path / "r.pdf"
    r = cli("report", "example", plan, "-o", str(tmp_path / "r.html"), "--pdf", str(pdf))
    assert r.returncode == 0, r.stderr
    assert pdf.read_bytes().startswith(b"%PDF-") and f"PDF written to {pdf}" in r.stdout


def test_demo_prints_its_summary_once_without_log_noise(tmp_path: Path) -> None:
    db = tmp_path / "demo.sqlite"
    r = cli("demo", "-o", str(tmp_path / "plan.json"), "--workers", "1", "--db", f"sqlite:///{db}")
    assert r.returncode == 0, r.stderr
    out = r.stdout + r.stderr
    assert out.count("portfolio example-q1:") == 1
    assert "solved example-q1" not in out  # the engine's own log record repeats the summary
    for noise in ("setup plugin", "Running upgrade", "Context impl", "schema is up to date"):
        assert noise not in out, noise
    assert r.stderr == "", r.stderr
    # effort hours and booked hours told apart, in words
    assert "work (effort asked for): 712 h in 12 tasks" in r.stdout
    assert "booked on people: " in r.stdout and "late: none" in r.stdout


def test_summary_says_late_work_in_working_days_and_dates(tmp_path: Path) -> None:
    from allocator.analytics import late_frame
    from allocator.contract import load_plan, read_portfolio

    data: dict[str, Any] = json.loads(json.dumps(EXAMPLE))
    data["projects"][0]["deadline"] = "2027-02-05"
    path = write(tmp_path, data)
    plan, _ = _solved(tmp_path, path)
    r = cli("check", path, plan)
    assert r.returncode == 0, r.stdout + r.stderr
    portfolio, _issues = read_portfolio(data)
    late = late_frame(portfolio, load_plan(plan), at_risk_days=-1)
    assert len(late)
    (line,) = [x for x in r.stdout.splitlines() if x.startswith("  late: ")]
    for row in late.head(5).itertuples(index=False):
        assert (
            f"{row.task} {row.late_working_days} working days late (finishes "
            f"{row.finish.date()}, deadline {row.deadline.date()})"
        ) in line, line


def test_a_csv_folder_and_a_workbook_solve_from_the_cli(tmp_path: Path) -> None:
    """Wherever a command reads a portfolio JSON it reads a folder of CSVs or an .xlsx too."""
    from allocator import load_portfolio
    from allocator.files import portfolio_to_files

    example = load_portfolio(example_path())
    folder = portfolio_to_files(example, tmp_path / "q1")
    book = portfolio_to_files(example, tmp_path / "q1.xlsx")
    for source in (folder, book):
        plan = tmp_path / f"{source.name}-plan.json"
        r = cli("solve", str(source), "-o", str(plan), "--time-limit", "2", "--workers", "1")
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith("portfolio example-q1: ") and "check: valid" in r.stdout
        r = cli("check", str(source), str(plan))
        assert r.returncode == 0, r.stdout + r.stderr
        r = cli("validate", str(source))
        assert r.returncode == 0 and r.stdout.startswith("ok: example-q1: 6 people"), r.stderr
        r = cli("report", str(source), str(plan), "-o", str(tmp_path / "r.html"))
        assert r.returncode == 0, r.stderr
    # a folder without the tables: exit 2, one line per missing table, no traceback
    (tmp_path / "empty").mkdir()
    r = cli("solve", str(tmp_path / "empty"), "-o", str(tmp_path / "x.json"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "missing table 'people'" in r.stderr and "Is a directory" not in r.stderr


def test_rebalance_past_a_pinned_date_writes_the_settled_portfolio(tmp_path: Path) -> None:
    # q is pinned to ann on 6 Jan; two weeks on (as_of 18 Jan) the date has passed and q never
    # started: rebalance plans it from as_of with ann, and writes the portfolio the plan is for
    # (q's pin keeps ann, the date is gone) so the pair passes the checker, also from the CLI
    from tests.conftest import portfolio_dict

    people = [{"id": "ann", "skills": {"py": 3}}, {"id": "bob", "skills": {"py": 3}}]
    tasks = [
        {
            "id": "q",
            "skill": "py",
            "effort_hours": 16,
            "pinned": {"person": "ann", "start": "2027-01-06"},
        },
        {"id": "r", "skill": "py", "effort_hours": 16},
    ]
    data = portfolio_dict(people, tasks, as_of="2027-01-04")
    first = tmp_path / "first.json"
    assert (
        cli("solve", write(tmp_path, data), "-o", str(first), "--time-limit", "1").returncode == 0
    )
    data["as_of"] = "2027-01-18"
    later = write(tmp_path, data, "later.json")
    out = tmp_path / "next.json"
    r = cli("rebalance", later, "--previous", str(first), "-o", str(out), "--time-limit", "1")
    assert r.returncode == 0, r.stdout + r.stderr
    settled = tmp_path / "next.portfolio.json"
    assert f"written to {settled}" in r.stdout
    body = json.loads(settled.read_text())
    (q,) = [t for pr in body["projects"] for t in pr["tasks"] if t["id"] == "q"]
    assert q["pinned"] == {"person": "ann"}
    plan = json.loads(out.read_text())
    (a,) = [a for a in plan["assignments"] if a["task"] == "q"]
    assert a["people"] == ["ann"] and a["start"] >= "2027-01-18"
    assert cli("check", str(settled), str(out)).returncode == 0
    assert cli("check", later, str(out)).returncode == 1  # the pin's date itself is not met
