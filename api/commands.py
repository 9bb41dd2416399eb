"""The service's command-line verbs, called by ``allocator serve`` and ``allocator keys``."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from allocator_api.security import ROLES, valid_tenant

# the web stack and the database are imported in the verbs: building the CLI's parser stays
# light for the library's own commands

log = logging.getLogger(__name__)


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")


EXIT_OK, EXIT_FAIL, EXIT_INPUT = 0, 1, 2


def serve(host: str, port: int, db: str | None, **options: int) -> int:
    """Run the service with uvicorn (JSON logs on stderr) until interrupted; ``options``:
    ``workers``, ``limit_concurrency``, ``timeout_keep_alive`` (:func:`allocator_api.serving.serve`)."""
    from allocator_api.logs import configure_logging
    from allocator_api.serving import serve as run_server
    from allocator_api.settings import Settings

    if db:  # the worker processes read their settings from the environment
        os.environ["ALLOCATOR_DATABASE_URL"] = db
    settings = Settings.from_env()
    root = logging.getLogger()
    for handler in list(root.handlers):  # the CLI's plain handler: the service logs JSON
        root.removeHandler(handler)
    configure_logging(settings.log_level)
    run_server(host, port, **options)
    return EXIT_OK


def keys(args: argparse.Namespace) -> int:
    """``keys create|list|revoke``: the key itself goes to stdout, once; the rest to stderr."""
    for noisy in ("alembic", "allocator_api.db"):  # before the imports: alembic logs as it loads
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from allocator_api.db import Database
    from allocator_api.repository import Keys
    from allocator_api.settings import Settings

    settings = Settings.from_env(database_url=args.db)
    if not valid_tenant(args.tenant):
        _err(
            f"error: --tenant: {args.tenant!r} is not a tenant name "
            "(letters, digits, '.', '_', '-'; at most 64)"
        )
        return EXIT_INPUT
    database = Database(settings.database_url)
    try:
        database.migrate()
        with database.sessions() as session:
            repo = Keys(session)
            if args.keys_cmd == "create":
                row, token = repo.create(args.tenant, args.role, args.name)
                _out(token)
                _err(
                    f"created key {row.id} ({row.role}) for tenant {row.tenant}: keep it now, "
                    "it is not shown again"
                )
                return EXIT_OK
            if args.keys_cmd == "list":
                for r in repo.list(args.tenant):
                    state = "revoked" if r.revoked_at else "active"
                    _out(f"{r.id}\t{r.role}\t{r.prefix}...\t{state}\t{r.name or ''}")
                return EXIT_OK
            if args.keys_cmd == "revoke":
                if repo.revoke(args.tenant, args.key_id):
                    _err(f"revoked key {args.key_id}")
                    return EXIT_OK
                _err(f"error: tenant {args.tenant} has no active key {args.key_id}")
                return EXIT_INPUT
    finally:
        database.dispose()
    return EXIT_INPUT


def add_keys_arguments(
    parser: argparse.ArgumentParser, sub_parser_class: type[argparse.ArgumentParser]
) -> None:
    """The ``keys`` verbs (used by ``allocator.cli``)."""
    verbs: argparse._SubParsersAction[argparse.ArgumentParser] = parser.add_subparsers(
        dest="keys_cmd", required=True, parser_class=sub_parser_class
    )
    for name, text in (
        ("create", "make a key (printed once)"),
        ("list", "list a tenant's keys"),
        ("revoke", "revoke a key"),
    ):
        p = verbs.add_parser(name, help=text)
        p.add_argument(
            "--db",
            metavar="URL",
            help="database URL (default: ALLOCATOR_DATABASE_URL or sqlite:///allocator.sqlite)",
        )
        p.add_argument("--tenant", required=True)
        if name == "create":
            p.add_argument("--role", required=True, choices=ROLES)
            p.add_argument("--name", default=None, help="a label for people")
        if name == "revoke":
            p.add_argument("key_id")


def record_plan(db_url: str, tenant: str, data: dict[str, object], plan: object) -> str:
    """Store a portfolio and its plan in the service's database (created and migrated when new),
    as the service and the nightly job do: the portfolio (replaced when one of that name exists
    for ``tenant``), and the plan as a new version of today with its assignment rows, in one
    transaction. Returns a one-line summary. Used by ``allocator demo``."""
    from datetime import date

    from sqlalchemy import func, select

    from allocator.domain import Plan
    from allocator_api.db import Database
    from allocator_api.models import PlanRow, PortfolioRow
    from allocator_api.repository import NightlyStore, Portfolios
    from allocator_api.service import checked_plan, read_valid_portfolio

    assert isinstance(plan, Plan)
    db = Database(db_url)
    try:
        db.migrate()
        valid = read_valid_portfolio(data)
        with db.sessions() as s:
            existing = s.scalar(
                select(PortfolioRow).where(
                    PortfolioRow.tenant == tenant, PortfolioRow.name == valid.doc.name
                )
            )
            repo = Portfolios(s, tenant)
            if existing is None:
                row = repo.create(valid.doc)
            else:
                replaced = repo.replace(existing.id, valid.doc)
                assert replaced is not None
                row = replaced
            pid = row.id
        store = NightlyStore(db.sessions)
        inp = next(i for i in store.inputs() if i.portfolio_id == pid)
        doc = checked_plan(valid.portfolio, plan, where=f"of portfolio {pid}")
        store.save(inp, date.today(), None, doc, [])
        with db.sessions() as s:
            versions = s.scalar(select(func.count()).where(PlanRow.portfolio_id == pid)) or 0
        return (
            f"stored in {db_url}: portfolio {pid} (tenant {tenant}), {versions} plan "
            f"version(s), {len(doc.assignments)} assignment rows in the latest"
        )
    finally:
        db.dispose()
