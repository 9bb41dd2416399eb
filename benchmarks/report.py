"""How long the report, its PDF and the Excel export take, and how big they are.

    python -m benchmarks.report            # measure, append rows to benchmarks/results/report.csv
    python -m benchmarks.report --record   # also write the section of benchmarks/RESULTS.md

Two portfolios: the bundled example (12 tasks) and one generated with
``allocator generate --people 85 --projects 128 --seed 0`` (1,060 tasks). Each is planned by the
greedy list scheduler alone (``SolveParams(greedy_only=True)``: a plan to report on; the
report's time does not depend on how good it is), then each output is made twice:

* in process (``report_html``, ``write_pdf``, ``export_workbook``): ``seconds``;
* by the command a user runs (``allocator report PORTFOLIO PLAN -o r.html [--pdf r.pdf]``,
  ``allocator export PORTFOLIO PLAN -o plan.xlsx``), wall time of the whole process (start-up
  and imports included): ``cli_seconds``. The PDF row's command makes the HTML page too.

``bytes`` is the size of the file written. The section of RESULTS.md is the table of the last
row per (portfolio, step), rendered by :func:`table` (``benchmarks.summarize`` checks it).
"""

from __future__ import annotations

import argparse
import csv
import platform
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"
CSV = RESULTS_DIR / "report.csv"
FIELDS = [
    "date",
    "machine",
    "portfolio",
    "tasks",
    "people",
    "step",
    "seconds",
    "cli_seconds",
    "bytes",
]
GENERATED = (85, 128, 0)  # people, projects, seed
STEPS = ("html", "pdf", "xlsx")


def _cli(*args: str) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "allocator_api.cli", *args], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"allocator {' '.join(args)}: {done.stderr.strip()}")
    return time.perf_counter() - t0


def measure(machine: str) -> list[dict[str, object]]:
    from allocator.cli import example_path
    from allocator.contract import dump_plan, dump_portfolio, load_portfolio
    from allocator.engine import SolveParams, solve
    from allocator.export import export_workbook
    from allocator.generator import generate
    from allocator.report import report_html, write_pdf

    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        d = Path(tmp)
        people, projects, seed = GENERATED
        inputs = {
            "example": example_path(),
            "generated": d / "generated.json",
        }
        dump_portfolio(generate(people, projects, seed=seed), inputs["generated"])
        for name, path in inputs.items():
            portfolio = load_portfolio(path)
            plan = solve(portfolio, SolveParams(time_limit=60, workers=1, greedy_only=True)).plan
            plan_path = d / f"{name}-plan.json"
            dump_plan(plan, plan_path)
            base = {
                "date": date.today().isoformat(),
                "machine": machine,
                "portfolio": name,
                "tasks": sum(1 for _ in portfolio.tasks()),
                "people": len(portfolio.people),
            }
            t0 = time.perf_counter()
            page = report_html(portfolio, plan)
            html_s = time.perf_counter() - t0
            html = d / f"{name}.html"
            html.write_text(page, encoding="utf-8")
            cli_html = _cli("report", str(path), str(plan_path), "-o", str(d / "c.html"))
            rows.append({**base, "step": "html", "seconds": html_s, "cli_seconds": cli_html,
                         "bytes": html.stat().st_size})  # fmt: skip
            t0 = time.perf_counter()
            pdf = write_pdf(page, d / f"{name}.pdf")
            pdf_s = time.perf_counter() - t0
            cli_pdf = _cli(
                "report", str(path), str(plan_path), "-o", str(d / "c.html"),
                "--pdf", str(d / "c.pdf"),
            )  # fmt: skip
            rows.append({**base, "step": "pdf", "seconds": pdf_s, "cli_seconds": cli_pdf,
                         "bytes": pdf.stat().st_size})  # fmt: skip
            t0 = time.perf_counter()
            xlsx = export_workbook(portfolio, plan, d / f"{name}.xlsx")
            xlsx_s = time.perf_counter() - t0
            cli_xlsx = _cli("export", str(path), str(plan_path), "-o", str(d / "c.xlsx"))
            rows.append({**base, "step": "xlsx", "seconds": xlsx_s, "cli_seconds": cli_xlsx,
                         "bytes": xlsx.stat().st_size})  # fmt: skip
            for r in rows[-3:]:
                print(r, file=sys.stderr)
    return rows


def append(rows: list[dict[str, object]]) -> None:
    new = not CSV.exists()
    with CSV.open("a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        if new:
            w.writeheader()
        for r in rows:
            w.writerow(
                {
                    **r,
                    "seconds": f"{float(r['seconds']):.3f}",  # type: ignore[arg-type]
                    "cli_seconds": f"{float(r['cli_seconds']):.3f}",  # type: ignore[arg-type]
                }
            )


def _kb(n: str) -> str:
    kb = int(n) / 1024
    return f"{kb:,.0f} KB" if kb >= 10 else f"{kb:,.1f} KB"


def table(rows: list[dict[str, str]]) -> str:
    """The RESULTS.md section: the last row per (portfolio, step)."""
    last: dict[tuple[str, str], dict[str, str]] = {}
    for r in rows:
        last[(r["portfolio"], r["step"])] = r
    if not last:
        return ""
    any_row = next(iter(last.values()))
    out = [
        f"Command ({any_row['date']}, {any_row['machine']}): `python -m benchmarks.report "
        "--record`. The bundled example and a generated portfolio (`allocator generate "
        f"--people {GENERATED[0]} --projects {GENERATED[1]} --seed {GENERATED[2]}`), each "
        "planned by the greedy scheduler alone; `seconds` in process, `CLI` the whole "
        "command's wall time (start-up and imports included; the PDF command writes the HTML "
        "page too). Rows in `benchmarks/results/report.csv`.",
        "",
        "| portfolio | tasks | people | output | seconds | CLI seconds | size |",
        "|---|---|---|---|---|---|---|",
    ]
    for (name, step), r in sorted(
        last.items(), key=lambda kv: (kv[0][0] != "example", STEPS.index(kv[0][1]))
    ):
        out.append(
            f"| {name} | {int(r['tasks']):,} | {int(r['people']):,} | {step} | "
            f"{float(r['seconds']):.2f} | {float(r['cli_seconds']):.2f} | {_kb(r['bytes'])} |"
        )
    return "\n".join(out) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--record", action="store_true", help="write the RESULTS.md section")
    ap.add_argument("--machine", default=f"{platform.machine()}, 2 cores, 24 GB")
    args = ap.parse_args()
    append(measure(args.machine))
    if args.record:
        from benchmarks.results_md import record

        with CSV.open(newline="") as f:
            record("report", "## Reports and exports\n\n" + table(list(csv.DictReader(f))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
