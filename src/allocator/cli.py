"""The ``allocator`` command line.

Exit codes: 0 success (for ``check``: the plan is valid, even when it is *stale*: its declared
objective no longer matches the portfolio, say after an estimate changed; ``check`` says so on
its own line, and ``--json`` gives ``"stale"`` and ``"current"``, but the plan still keeps every
rule); 1 an invalid plan or an internal failure; 2 bad input (one line per error, naming the
field and id; never a traceback).

Figures are the objective's terms in planner units (``undelivered 12.5 h, late 3 weighted
days, finish 40 weighted days, charged cost 1,234.50``; ``makespan 14 days``), never a combined
number.
``solve`` shows its progress on stderr (``--quiet``: not): stage, the term being optimized with
its bound and gap (e.g. ``undelivered 120.5 h (bound 80 h, gap 34%)``), elapsed time and time
limit, on one line redrawn in place on a terminal, else as plain lines. Ctrl-C
stops it early: the best plan found so far is written and checked as usual (exit code 0 when
it is valid); a second Ctrl-C aborts (exit code 1, no plan).

This module is the library's command line and imports nothing of the service. The installed
``allocator`` command is :func:`allocator_api.cli.main`, which adds the service's commands
(``serve``, ``keys``, ``nightly``, and ``demo``'s database) through the ``add_commands`` hook
of :func:`build_parser` / :func:`main`; ``python -m allocator.cli`` runs the library's alone.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TextIO

from allocator.contract import dump_plan, dump_portfolio, load_plan, load_portfolio, read_portfolio
from allocator.domain import Portfolio
from allocator.errors import InputError, Issue
from allocator.terms_text import TERM_TEXT, format_number, headline_terms
from allocator.validation import validate

if TYPE_CHECKING:
    from allocator.engine import SolveProgress

log = logging.getLogger("allocator")

EXIT_OK, EXIT_FAIL, EXIT_INPUT = 0, 1, 2

#: A command: its parsed arguments in, its exit code out (each sub-parser sets ``run``)
Command = Callable[[argparse.Namespace], int]


class CommandParser(argparse.ArgumentParser):
    """argparse that exits with code 2 and one line (its default is a usage block)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_INPUT, f"{self.prog}: error: {message}\n")


if TYPE_CHECKING:
    #: The sub-commands of the ``allocator`` parser (``.choices`` maps a name to its parser)
    SubParsers = argparse._SubParsersAction[CommandParser]
    #: Adds commands to the parser (another package's: the service's, ``allocator_api.cli``);
    #: it may also add options to the library's commands (``sub.choices["demo"]``) and replace
    #: their ``run`` with ``set_defaults``
    AddCommands = Callable[[SubParsers], None]


def example_path() -> Path:
    """The bundled example portfolio."""
    return Path(str(resources.files("allocator") / "data" / "example-portfolio.json"))


def _print_issues(issues: Sequence[Issue]) -> None:
    for issue in issues:
        print(f"{issue.severity}: {issue}", file=sys.stderr)


def positive(kind: type[float] | type[int]) -> Callable[[str], float | int]:
    """An argparse type: a positive finite ``kind``."""

    def conv(text: str) -> float | int:
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not v > 0 or v != v or v == float("inf"):
            raise argparse.ArgumentTypeError(f"must be positive and finite, got {text!r}")
        return v

    return conv


def nonneg_int(text: str) -> int:
    """An argparse type: an integer >= 0."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text!r}")
    return v


def build_parser(add_commands: AddCommands | None = None) -> argparse.ArgumentParser:
    """The ``allocator`` parser: the library's commands, then those ``add_commands`` adds.
    Each sub-parser's ``run`` default is its :data:`Command`."""
    p = CommandParser(prog="allocator", description="Plan who works on what and when, check plans.")
    p.add_argument(
        "-v", "--verbose", action="count", default=0, help="more logging (-vv: solver log)"
    )
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=CommandParser)

    s = sub.add_parser("solve", help="solve a portfolio and write the plan")
    s.add_argument("portfolio", help="portfolio JSON (allocator.portfolio/v1), or 'example'")
    s.add_argument("-o", "--output", required=True, help="where to write the plan JSON")
    s.add_argument("--time-limit", type=positive(float), default=20.0, metavar="S")
    s.add_argument("--workers", type=positive(int), default=2, metavar="N")
    s.add_argument("--seed", type=nonneg_int, default=0, metavar="K")
    s.add_argument(
        "--greedy", action="store_true", help="only the greedy list scheduler (baseline)"
    )
    s.add_argument("-q", "--quiet", action="store_true", help="no progress line on stderr")
    s.set_defaults(run=cmd_solve)

    c = sub.add_parser("check", help="check a plan against a portfolio (exit 1 if invalid)")
    c.add_argument("portfolio")
    c.add_argument("plan")
    c.add_argument("--json", action="store_true", help="print violations and KPIs as JSON")
    c.set_defaults(run=cmd_check)

    v = sub.add_parser("validate", help="validate a portfolio")
    v.add_argument("portfolio")
    v.set_defaults(run=cmd_validate)

    g = sub.add_parser("generate", help="generate a synthetic portfolio")
    g.add_argument("--people", type=positive(int), required=True, metavar="N")
    g.add_argument("--projects", type=positive(int), required=True, metavar="M")
    g.add_argument("--seed", type=nonneg_int, default=0, metavar="K")
    g.add_argument("--tightness", type=positive(float), default=0.9)
    g.add_argument("--hard-deadlines", action="store_true")
    g.add_argument("--objective", choices=("portfolio", "makespan"), default="portfolio")
    g.add_argument("-o", "--output", required=True)
    g.set_defaults(run=cmd_generate)

    d = sub.add_parser("demo", help="solve the bundled example, check it, print a summary")
    d.add_argument("-o", "--output", default="out/example-plan.json")
    d.add_argument("--time-limit", type=positive(float), default=10.0, metavar="S")
    d.add_argument("--workers", type=positive(int), default=2, metavar="N")
    d.set_defaults(run=cmd_demo)
    _add_rebalance_commands(sub)
    from allocator import cli_plans  # the commands over a plan (they import this module)

    cli_plans.add_report_commands(sub)
    cli_plans.add_decision_commands(sub)
    cli_plans.add_whatif_commands(sub)
    if add_commands is not None:
        add_commands(sub)
    return p


def _add_rebalance_commands(sub: SubParsers) -> None:
    """``rebalance`` and ``diff``: re-planning (see ``allocator.rebalance``)."""
    r = sub.add_parser("rebalance", help="re-plan from a previous plan with minimal change")
    r.add_argument("portfolio", help="portfolio JSON with today's progress and as_of")
    r.add_argument("--previous", required=True, metavar="PLAN", help="the previous plan JSON")
    r.add_argument("-o", "--output", help="where to write the new plan (not with --tradeoff)")
    r.add_argument("--time-limit", type=positive(float), default=20.0, metavar="S")
    r.add_argument("--workers", type=positive(int), default=2, metavar="N")
    r.add_argument("--budget", type=nonneg_int, metavar="K", help="churn budget (tasks)")
    r.add_argument("--freeze-days", type=nonneg_int, metavar="N")
    r.add_argument(
        "--stability",
        type=nonneg_int,
        metavar="S",
        help="price of one chosen change in priority-weighted late days (default: the "
        "portfolio's policy.stability, else 5, so no change is made only to finish earlier or "
        "cheaper; 0: a free re-plan)",
    )
    r.add_argument(
        "--tradeoff", action="store_true", help="table: objective terms per churn budget"
    )
    r.set_defaults(run=cmd_rebalance)
    d = sub.add_parser("diff", help="what changed between two plans, task by task, and why")
    d.add_argument("old", help="old plan JSON")
    d.add_argument("new", help="new plan JSON")
    d.add_argument("--portfolio", help="the portfolio of the new plan (for the reasons)")
    d.add_argument("--old-portfolio", help="the portfolio of the old plan (for the reasons)")
    d.add_argument("--json", action="store_true", help="JSON output")
    d.set_defaults(run=cmd_diff)


def cmd_rebalance(args: argparse.Namespace) -> int:
    from allocator.checker import check
    from allocator.engine import SolveParams
    from allocator.history import settle_history
    from allocator.rebalance import rebalance, rebalance_tradeoff

    portfolio = load_input(args.portfolio)
    previous = load_plan(args.previous)
    params = SolveParams(time_limit=args.time_limit, workers=args.workers, seed=0)
    if args.tradeoff:
        rows = rebalance_tradeoff(portfolio, previous, params, freeze_days=args.freeze_days)
        cols = ["budget", "max_changes", "moved", "changed", "undelivered_work_hours"]
        cols += ["weighted_late_days", "weighted_finish_days", "cost", "makespan_days", "seconds"]
        cols = [c for c in cols if any(c in row for row in rows)]
        table = [
            [
                format_number(c, row[c])
                if c in TERM_TEXT and row.get(c) is not None
                else str(row.get(c, ""))
                for c in cols
            ]
            for row in rows
        ]
        widths = [max(len(c), *(len(r[i]) for r in table)) for i, c in enumerate(cols)]
        print("  ".join(c.rjust(w) for c, w in zip(cols, widths, strict=True)))
        for r in table:
            print("  ".join(x.rjust(w) for x, w in zip(r, widths, strict=True)))
        return EXIT_OK
    if not args.output:
        print("error: rebalance needs -o/--output (or --tradeoff)", file=sys.stderr)
        return EXIT_INPUT
    result = rebalance(
        portfolio,
        previous,
        params,
        freeze_days=args.freeze_days,
        churn_budget=args.budget,
        stability=args.stability,
    )
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    dump_plan(result.plan, out)
    # passed pinned dates are history (allocator.history): the plan keeps the contract against
    # the portfolio with them settled, which is written beside it for the planner to keep
    settled = settle_history(portfolio)
    if settled.portfolio is not portfolio:
        kept = out.with_name(f"{out.stem}.portfolio.json")
        dump_portfolio(settled.portfolio, kept)
        print(
            f"history: {len(settled.changes) + len(settled.continued)} pinned start(s) before "
            f"as_of {portfolio.as_of} made history; the portfolio this plan is for is written "
            f"to {kept}"
        )
        portfolio = settled.portfolio
    report = check(portfolio, result.plan)
    print(_summary(portfolio, result.plan, report))
    st = result.stats
    changes = result.plan.changes or ()
    forced = sum(1 for c in changes if c.forced)
    policy = st.get("policy")
    stability = policy.get("stability") if isinstance(policy, dict) else None
    print(
        f"changes: {len(changes)} tasks ({forced} forced, {len(changes) - forced} chosen; "
        f"stability {stability}, {st.get('frozen')} frozen); plan written to {out}"
    )
    return EXIT_OK if report.valid else EXIT_FAIL


def cmd_diff(args: argparse.Namespace) -> int:
    from allocator.diff import diff_plans

    old, new = load_plan(args.old), load_plan(args.new)
    portfolio = load_input(args.portfolio) if args.portfolio else None
    old_portfolio = load_input(args.old_portfolio) if args.old_portfolio else None
    if portfolio is None:  # reasons need a portfolio: the old one, else one from the plans
        portfolio = old_portfolio
    if portfolio is None:
        print("error: diff needs --portfolio (the new plan's portfolio)", file=sys.stderr)
        return EXIT_INPUT
    assert old_portfolio is None or isinstance(old_portfolio, Portfolio)
    changes = diff_plans(portfolio, old, new, old_portfolio)
    if args.json:
        print(json.dumps([c.as_dict() for c in changes], indent=2))
        return EXIT_OK

    def span(people: object, s: object, f: object) -> str:
        if people is None:
            return "-"
        assert isinstance(people, tuple)
        return f"{','.join(people) or 'nobody'} {s}..{f}"

    for c in changes:
        print(
            f"{c.task} [{c.kind}] {span(c.old_people, c.old_start, c.old_finish)} -> "
            f"{span(c.new_people, c.new_start, c.new_finish)}: {'; '.join(c.reasons)}"
        )
    print(f"{len(changes)} tasks changed")
    return EXIT_OK


#: Suffixes of a portfolio given as one Excel workbook (else a folder of CSVs, else JSON)
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xls")


def load_input(path: str) -> Portfolio:
    """The portfolio at ``path``: ``example``, a JSON file, a folder of CSV files or an Excel
    workbook (:func:`allocator.files.portfolio_from_files`; errors name the table, row and
    column)."""
    if path != "example" and (Path(path).is_dir() or path.lower().endswith(WORKBOOK_SUFFIXES)):
        from allocator.files import portfolio_from_files

        return portfolio_from_files(path)
    return load_portfolio(example_path() if path == "example" else path)


def cmd_validate(args: argparse.Namespace) -> int:
    from allocator.contract import load_json
    from allocator.errors import PortfolioError

    src = args.portfolio
    if src != "example" and (Path(src).is_dir() or src.lower().endswith(WORKBOOK_SUFFIXES)):
        return _validate_tables(src)
    path = example_path() if args.portfolio == "example" else args.portfolio
    data = load_json(path, PortfolioError)
    portfolio, issues = read_portfolio(data)
    if any(i.severity == "error" for i in issues):
        _print_issues(
            [i for i in issues if i.severity == "error"]
            + [i for i in issues if i.severity == "warning"]
        )
        return EXIT_INPUT
    report = validate(portfolio, structural=issues)
    _print_issues(list(report.errors) + list(report.warnings))
    if report.errors:
        return EXIT_INPUT
    n_tasks = sum(1 for _ in portfolio.tasks())
    print(
        f"ok: {portfolio.name}: {len(portfolio.people)} people, {len(portfolio.projects)} projects, "
        f"{n_tasks} tasks ({len(report.warnings)} warnings)"
    )
    return EXIT_OK


def _validate_tables(path: str) -> int:
    """``validate`` of a folder of CSVs or a workbook: read (every table error at once, exit 2
    through :func:`main`), then the portfolio's own validation."""
    portfolio = load_input(path)
    report = validate(portfolio)
    _print_issues(list(report.errors) + list(report.warnings))
    if report.errors:
        return EXIT_INPUT
    n_tasks = sum(1 for _ in portfolio.tasks())
    print(
        f"ok: {portfolio.name}: {len(portfolio.people)} people, {len(portfolio.projects)} projects, "
        f"{n_tasks} tasks ({len(report.warnings)} warnings)"
    )
    return EXIT_OK


def _summary(portfolio: object, plan: object, check: object) -> str:
    """The plan in a few lines: its objective's terms (with their proof), the work asked for,
    delivered and undelivered (effort hours), the hours booked on people and their cost (pay:
    the one cost; the objective's cost term adds skill-fit charges to it, said as such), late
    work in working days with its dates, the checker's verdict, unassigned work with reasons."""
    from allocator.analytics import headline, late_frame
    from allocator.checker import CheckResult
    from allocator.domain import Plan, Portfolio
    from allocator.terms_text import format_terms

    assert (
        isinstance(portfolio, Portfolio)
        and isinstance(plan, Plan)
        and isinstance(check, CheckResult)
    )
    k = check.kpis
    h = headline(portfolio, plan)
    objective = dict(plan.objective or {})
    charged = objective.get("cost")
    names = [n for n in objective if n != "cost"]
    terms = format_terms(objective, plan.lower_bound, plan.gap, names=names) if names else "-"
    bound = (plan.lower_bound or {}).get("cost")
    if charged is not None and plan.status != "optimal" and (bound is None or bound < charged):
        terms += "; cost term not proven"
    lines = [
        f"portfolio {portfolio.name}: {plan.status}, {terms}; "
        f"{plan.solve_seconds:.1f}s ({plan.extra.get('solver')})",
        f"  work (effort asked for): {_h(h['work_hours'])} in {k.tasks_to_plan} tasks; "
        f"delivered {_h(h['delivered_hours'])} ({k.assigned} tasks), undelivered "
        f"{_h(h['undelivered_hours'])} ({k.unassigned} tasks; "
        f"{_h(k.undelivered_work_hours)} priority-weighted)",
        f"  booked on people: {_h(k.total_hours)}, utilization {k.utilization:.0%}; "
        f"cost {k.total_cost:,.2f}"
        + (
            f" (the objective adds {charged - k.total_cost:,.2f} of skill-fit charges: "
            "over-qualification, not preferred)"
            if charged is not None and abs(charged - k.total_cost) >= 0.005
            else ""
        )
        + f"; makespan {k.makespan_days} working days",
    ]
    late = late_frame(portfolio, plan, at_risk_days=-1)
    if len(late):
        shown = [
            f"{r.task} {r.late_working_days} working days late (finishes "
            f"{r.finish.date()}, deadline {r.deadline.date()})"
            for r in late.head(5).itertuples(index=False)
        ]
        more = f"; and {len(late) - 5} more" if len(late) > 5 else ""
        lines.append(
            f"  late: {k.late_tasks} tasks ({k.weighted_late_days:,} priority-weighted working "
            f"days): " + "; ".join(shown) + more
        )
    else:
        lines.append("  late: none")
    lines.append(
        f"  check: {'valid' if check.valid else f'INVALID ({len(check.violations)} violations)'}"
    )
    if check.stale:
        lines.append(
            f"  stale: the plan is {'valid' if check.valid else 'invalid'} but stale: its "
            "objective no longer matches this portfolio (re-plan or re-score it)"
        )
    for u in plan.unassigned[:10]:
        lines.append(f"  unassigned {u.task}: {'; '.join(u.reasons)}")
    if len(plan.unassigned) > 10:
        lines.append(f"  ... and {len(plan.unassigned) - 10} more unassigned")
    return "\n".join(lines)


def _h(v: float) -> str:
    """Hours with up to 2 decimals: ``1,234.5 h``."""
    return f"{v:,.2f}".rstrip("0").rstrip(".") + " h"


class _ProgressView:
    """The solve's progress on stderr: one line redrawn in place when stderr is a terminal
    (a ticker redraws it twice a second, so the clock runs during compile and greedy), else a
    plain line per stage change and at most every ``every`` seconds in between.

    Shows the stage, the figures in planner units (for ``cp-sat:<term>`` stages: that term's
    value and bound; else the first term and the term the gap is about), the gap, the elapsed
    time and the time limit.
    """

    def __init__(self, stream: TextIO, time_limit: float, *, tty: bool, every: float = 5.0) -> None:
        self.stream, self.time_limit, self.tty, self.every = stream, time_limit, tty, every
        self.t0 = time.monotonic()
        self.stage = "compiling"
        self.objective: Mapping[str, float | int] | None = None
        self.bound: Mapping[str, float | int] | None = None
        self.gap: float | None = None
        self.note = ""
        self._last_line = 0.0
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._ticker: threading.Thread | None = None
        if tty:
            self._ticker = threading.Thread(target=self._tick, name="progress", daemon=True)
            self._ticker.start()
        else:
            self._emit(force=True)

    def __call__(self, p: SolveProgress) -> None:
        with self._lock:
            changed = p.stage.split(":")[0] != self.stage.split(":")[0] or p.stage == "done"
            self.stage, self.objective, self.bound, self.gap = (
                p.stage,
                p.objective,
                p.lower_bound,
                p.gap,
            )
        self._emit(force=changed)

    def notice(self, text: str) -> None:
        """Show ``text`` with the figures (a stop request, say)."""
        with self._lock:
            self.note = text
        self._emit(force=True)

    def line(self) -> str:
        elapsed = time.monotonic() - self.t0
        width = 20
        filled = min(width, int(width * elapsed / self.time_limit)) if self.time_limit else width
        bar = "#" * filled + "." * (width - filled)
        text = (
            f"[{bar}] {elapsed:6.1f}s / {self.time_limit:g}s  {self.stage}  "
            f"{headline_terms(self.objective, self.bound, self.gap)}"
        )
        return text + (f"  ({self.note})" if self.note else "")

    def _emit(self, force: bool = False) -> None:
        with self._lock:
            if self.tty:
                self.stream.write("\r" + self.line() + "\x1b[K")
            elif force or time.monotonic() - self._last_line >= self.every:
                self.stream.write(self.line() + "\n")
                self._last_line = time.monotonic()
            else:
                return
            self.stream.flush()

    def _tick(self) -> None:
        while not self._done.wait(0.5):
            self._emit()

    def write(self, text: str) -> int:
        """A stream for log records while the line is shown: each record is written above
        the line, which is then redrawn (on a terminal; else passed through)."""
        with self._lock:
            if self.tty and not self._done.is_set():
                self.stream.write("\r\x1b[K" + text)
                if text.endswith("\n"):
                    self.stream.write("\r" + self.line() + "\x1b[K")
            else:
                self.stream.write(text)
            self.stream.flush()
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def close(self) -> None:
        self._done.set()
        if self._ticker is not None:
            self._ticker.join(timeout=2)
        with self._lock:
            if self.tty:
                self.stream.write("\r" + self.line() + "\x1b[K\n")
                self.stream.flush()


def _solve_to(
    portfolio_path: str,
    output: str,
    time_limit: float,
    workers: int,
    seed: int,
    greedy_only: bool,
    quiet: bool = False,
) -> int:
    """Solve and write the plan. The solve runs in a worker thread so that Ctrl-C (SIGINT) is
    handled at once: the first one asks the engine to stop (it keeps the best plan found so
    far, which is written and checked as usual, exit code 0 when valid); a second one aborts
    (exit code 1, no plan written)."""
    from allocator.checker import check
    from allocator.engine import Result, SolveParams, solve

    portfolio = load_input(portfolio_path)
    view = None if quiet else _ProgressView(sys.stderr, time_limit, tty=sys.stderr.isatty())
    stop = threading.Event()
    params = SolveParams(
        time_limit=time_limit,
        workers=workers,
        seed=seed,
        greedy_only=greedy_only,
        on_progress=view,
        stop_event=stop,
    )
    box: list[Result | BaseException] = []

    def run() -> None:
        try:
            box.append(solve(portfolio, params))
        except BaseException as exc:  # handed to the main thread
            box.append(exc)

    worker = threading.Thread(target=run, name="solve", daemon=True)

    def on_sigint(signum: int, frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        if view is not None:
            view.notice("stopping: keeping the best plan so far; Ctrl-C again to abort")
        else:
            print("stopping: keeping the best plan so far", file=sys.stderr)

    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, on_sigint) if in_main else None
    # log records go through the view, so that they do not break its line
    redirected: list[tuple[logging.StreamHandler[TextIO], TextIO]] = []
    if view is not None and view.tty:
        for h in logging.getLogger().handlers:
            if isinstance(h, logging.StreamHandler) and h.stream is sys.stderr:
                redirected.append((h, h.stream))
                h.setStream(view)
    try:
        worker.start()
        while worker.is_alive():
            worker.join(0.2)
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        if view is not None:
            view.close()
        for h, stream in redirected:
            h.setStream(stream)
    outcome = box[0]
    if isinstance(outcome, BaseException):
        raise outcome
    result = outcome
    if stop.is_set():
        print("stopped early (Ctrl-C): the best plan found so far", file=sys.stderr)
    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    dump_plan(result.plan, out)
    report = check(portfolio, result.plan)
    print(_summary(portfolio, result.plan, report))
    print(f"plan written to {out}")
    for v in report.violations:
        print(f"violation: rule {v.rule} {v.code}: {v.message}", file=sys.stderr)
    return EXIT_OK if report.valid else EXIT_FAIL


def cmd_check(args: argparse.Namespace) -> int:
    from allocator.checker import check

    portfolio = load_input(args.portfolio)
    plan = load_plan(args.plan)
    report = check(portfolio, plan)
    if args.json:
        print(
            json.dumps(
                {
                    "valid": report.valid,
                    "current": report.current,
                    "stale": [
                        {"rule": v.rule, "code": v.code, "message": v.message} for v in report.stale
                    ],
                    "objective": None if plan.objective is None else dict(plan.objective),
                    "lower_bound": None if plan.lower_bound is None else dict(plan.lower_bound),
                    "gap": plan.gap,
                    "violations": [
                        {
                            "rule": v.rule,
                            "code": v.code,
                            "message": v.message,
                            "task": v.task,
                            "person": v.person,
                            "day": v.day.isoformat() if v.day else None,
                        }
                        for v in report.violations
                    ],
                    "kpis": report.kpis.as_dict(),
                },
                indent=2,
            )
        )
    else:
        for v in report.violations:
            print(f"violation: rule {v.rule} {v.code}: {v.message}")
        for v in report.stale:
            print(f"stale: {v.message}")
        print(_summary(portfolio, plan, report))
    # a valid but stale plan keeps every rule: exit code 0 (the stale line says so)
    return EXIT_OK if report.valid else EXIT_FAIL


def cmd_generate(args: argparse.Namespace) -> int:
    from allocator.generator import generate

    p = generate(
        args.people,
        args.projects,
        seed=args.seed,
        tightness=args.tightness,
        hard_deadlines=args.hard_deadlines,
        objective=args.objective,
    )
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    dump_portfolio(p, out)
    n = sum(1 for _ in p.tasks())
    print(f"wrote {out}: {len(p.people)} people, {len(p.projects)} projects, {n} tasks")
    return EXIT_OK


def cmd_solve(args: argparse.Namespace) -> int:
    return _solve_to(
        args.portfolio,
        args.output,
        args.time_limit,
        args.workers,
        args.seed,
        args.greedy,
        quiet=args.quiet,
    )


#: Loggers ``demo`` keeps to warnings without ``-v``: the engine's own summary record, alembic's
#: migration steps and the service's database set-up (by logger name: nothing is imported)
DEMO_QUIET = ("allocator.engine", "alembic", "allocator_api.db")


def cmd_demo(args: argparse.Namespace) -> int:
    """Solve the bundled example, write and check its plan (the service's ``demo`` also stores
    it: ``allocator_api.cli``). The summary is its output: without ``-v`` no progress line, and
    for the rest of the process no record below a warning from the loggers of
    :data:`DEMO_QUIET` (the engine's "solved" record repeats the summary; the migration steps
    of a new database are noise in a demo)."""
    if not getattr(args, "verbose", 0):
        for name in DEMO_QUIET:
            logging.getLogger(name).setLevel(logging.WARNING)
    return _solve_to(
        "example", args.output, args.time_limit, args.workers, 0, False, quiet=not args.verbose
    )


def main(argv: Sequence[str] | None = None, add_commands: AddCommands | None = None) -> int:
    """Run the command line; ``add_commands``: see :func:`build_parser`."""
    parser = build_parser(add_commands)
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 1) if args.verbose else logging.INFO
    logging.basicConfig(level=level, format="%(message)s", stream=sys.stderr)
    if not args.verbose:
        logging.getLogger("solver_models").setLevel(logging.WARNING)
    run: Command = args.run
    try:
        return run(args)
    except InputError as exc:
        _print_issues(list(exc.issues) + list(exc.warnings))
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_FAIL
    except Exception as exc:  # an internal failure: one line, details in the debug log
        log.debug("internal failure", exc_info=True)
        print(
            f"internal error: {type(exc).__name__}: {exc} (run with -v for details)",
            file=sys.stderr,
        )
        return EXIT_FAIL


if __name__ == "__main__":
    sys.exit(main())
