"""The installed ``allocator`` command: the library's commands (:mod:`allocator.cli`) plus the
service's, added through :func:`allocator.cli.build_parser`'s ``add_commands`` hook:

- ``serve``: run the REST service; ``keys``: make, list or revoke its API keys;
- ``nightly``: rebalance every portfolio of the service's database (:mod:`allocator_api.nightly`);
- ``demo --db URL``: the library's ``demo``, then the portfolio and its plan stored in the
  service's database (``--db none`` to skip).

This module imports only the standard library and :mod:`allocator` at the top: each service
command imports the web stack or the database when it runs, and says which extra to install
when they are missing (``demo`` then skips the database with a note).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from allocator.cli import EXIT_FAIL, EXIT_INPUT, cmd_demo, example_path, positive
from allocator.cli import main as library_main
from allocator.contract import load_plan

if TYPE_CHECKING:
    from allocator.cli import SubParsers

log = logging.getLogger(__name__)

DEMO_DB = "sqlite:///out/allocator.sqlite"


def iso_date(text: str) -> date:
    """An argparse type: a ``YYYY-MM-DD`` date."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {text!r}") from None


def add_service_commands(sub: SubParsers) -> None:
    """Add ``serve``, ``keys`` and ``nightly`` to the library's parser, and ``--db`` to its
    ``demo``."""
    demo = sub.choices["demo"]
    demo.add_argument(
        "--db",
        default=DEMO_DB,
        help="also store the portfolio and the plan in this database (the service's), "
        "'none' to skip",
    )
    demo.set_defaults(run=cmd_demo_and_record)

    sv = sub.add_parser("serve", help="run the REST service")
    sv.add_argument("--host", default="127.0.0.1")
    sv.add_argument("--port", type=int, default=8000)
    sv.add_argument(
        "--db", metavar="URL", help="database URL (default: sqlite:///allocator.sqlite)"
    )
    sv.add_argument(
        "--workers",
        type=positive(int),
        default=1,
        help="server processes (each also runs solve_slots solves; README: REST service)",
    )
    sv.add_argument(
        "--limit-concurrency",
        type=positive(int),
        default=200,
        metavar="N",
        help="open connections per process past which new requests get 503 at once",
    )
    sv.add_argument(
        "--timeout-keep-alive",
        type=positive(int),
        default=5,
        metavar="S",
        help="close a connection idle (or silent since it opened) this many seconds",
    )
    sv.set_defaults(run=cmd_service)
    k = sub.add_parser("keys", help="make, list or revoke API keys of the REST service")
    k.set_defaults(run=cmd_service)
    try:
        from allocator_api.commands import add_keys_arguments
    except ImportError:  # without the api extra, the command says so when run
        pass
    else:
        add_keys_arguments(k, type(k))

    add_nightly_arguments(sub.add_parser("nightly", help=NIGHTLY_HELP))


def cmd_service(args: argparse.Namespace) -> int:
    """``serve`` / ``keys``."""
    try:
        import allocator_api.db  # noqa: F401  (the api extra's database stack)
        from allocator_api import commands
    except ImportError as exc:
        print(f"error: the REST service needs the 'api' extra ({exc})", file=sys.stderr)
        return EXIT_FAIL
    if args.cmd == "serve":
        return commands.serve(
            args.host,
            args.port,
            args.db,
            workers=args.workers,
            limit_concurrency=args.limit_concurrency,
            timeout_keep_alive=args.timeout_keep_alive,
        )
    return commands.keys(args)


NIGHTLY_HELP = "rebalance every portfolio of the service's database (see README: Nightly)"
#: exit code of ``nightly`` when another run of it holds the database's lock
EXIT_LOCKED = 3


def count(text: str) -> int:
    """An argparse type: a whole number >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {value}")
    return value


def add_nightly_arguments(n: argparse.ArgumentParser) -> None:
    n.add_argument("--db", metavar="URL", help="database URL (default: the service's)")
    n.add_argument(
        "--as-of",
        type=iso_date,
        metavar="DATE",
        help="the night's date (default: the progress file's; else today, with a warning)",
    )
    n.add_argument("--updates", metavar="FILE_OR_DIR", help="progress file(s) to apply first")
    n.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler (tcp://host:port)")
    n.add_argument("--time-limit", type=positive(float), default=10.0, metavar="S")
    policy = "over each portfolio's policy key"
    n.add_argument("--budget", type=count, metavar="N", help=f"churn budget, {policy}")
    n.add_argument("--freeze-days", type=count, metavar="N", help=f"frozen days, {policy}")
    n.add_argument(
        "--stability",
        type=count,
        metavar="S",
        help=f"price of a change in weighted late days, {policy} (default 5; 0: free re-plan)",
    )
    n.add_argument("--workers", type=positive(int), default=2, help="LocalCluster processes")
    n.add_argument(
        "--batch", type=positive(int), metavar="N", help="portfolios in flight (2 per worker)"
    )
    n.add_argument(
        "--dashboard",
        nargs="?",
        const=":8787",
        metavar="ADDRESS",
        help="serve the Dask dashboard (default off; ADDRESS default :8787)",
    )
    n.add_argument("--json", action="store_true", help="print the summary as JSON")
    n.add_argument(
        "--log-format",
        choices=("auto", "json", "text"),
        default="auto",
        help="log lines on stderr: JSON, or key=value text (auto: text on a terminal)",
    )
    n.set_defaults(run=cmd_nightly)


def cmd_nightly(args: argparse.Namespace) -> int:
    try:
        import distributed  # noqa: F401  (the nightly extra)

        import allocator_api.db  # noqa: F401  (the api extra's database stack)
        from allocator_api.logs import configure_cli_logging
        from allocator_api.nightly import NightSettings, load_updates, run_nightly
        from allocator_api.nightly_store import NightLocked
        from allocator_api.settings import get_settings
    except ImportError as exc:
        print(f"error: nightly needs the 'api' and 'nightly' extras ({exc})", file=sys.stderr)
        return EXIT_FAIL
    fmt = args.log_format
    if fmt == "auto":
        fmt = "text" if sys.stderr.isatty() else "json"
    configure_cli_logging(args.verbose, fmt, own=("allocator_api.nightly",))
    url = args.db or get_settings().database_url
    try:
        updates = load_updates(args.updates)
    except (OSError, ValueError) as exc:  # unreadable file, bad JSON, wrong shape
        print(f"error: --updates: {exc}", file=sys.stderr)
        return EXIT_INPUT
    settings = NightSettings(
        time_limit=args.time_limit,
        freeze_days=args.freeze_days,
        churn_budget=args.budget,
        stability=args.stability,
        workers=args.workers,
        batch=args.batch,
        dashboard=args.dashboard,
        verbose=bool(args.verbose),
    )
    try:
        summary = run_nightly(
            url, as_of=args.as_of, updates=updates, scheduler=args.scheduler, settings=settings
        )
    except NightLocked as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_LOCKED
    print(json.dumps(summary.as_dict(), indent=2) if args.json else summary.text())
    return summary.exit_code


def cmd_demo_and_record(args: argparse.Namespace) -> int:
    """The library's ``demo``, then the example and its plan stored in ``--db``."""
    code = cmd_demo(args)
    if args.db != "none":
        record(args.output, args.db)
    return code


def record(plan_path: str, db: str) -> None:
    """Store the example and its plan in the service's database (skipped without the api extra)."""
    try:
        import allocator_api.db  # noqa: F401  (the api extra's database stack)
        from allocator_api.commands import record_plan
    except ImportError:
        log.info("database not written: install the 'api' extra to store plans")
        return
    if db.startswith("sqlite:///") and not db.startswith("sqlite:////"):
        Path(db.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(example_path().read_text(encoding="utf-8"))
    print(record_plan(db, "demo", data, load_plan(plan_path)))


def main(argv: Sequence[str] | None = None) -> int:
    """The ``allocator`` console script."""
    return library_main(argv, add_commands=add_service_commands)


if __name__ == "__main__":
    sys.exit(main())
