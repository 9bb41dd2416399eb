"""The nightly job's database access beyond :class:`~allocator_api.repository.NightlyStore`:
portfolios read one batch at a time, and the lock that keeps two runs from overlapping.

**Streaming** (:class:`StreamingNightlyStore`): the ids of every portfolio are read first (a
short list), then each portfolio with its latest plan only when the driver is ready to send it
to a worker, so the driver holds at most a batch of portfolio bodies whatever their number.

**The lock** (:func:`night_lock`), held for the whole run and released by the operating system
or the database when the process ends, even by ``kill -9``, so a crashed run never leaves a
stale lock behind:

- PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``) on a connection of its
  own, kept open for the run; every run against the same database shares the key.
- SQLite: an exclusive ``flock`` on ``<database file>.nightly-lock`` next to the database
  (SQLite is only shared between processes of one machine, through that file). An in-memory
  database is never shared: no lock.

A second run that finds the lock taken raises :class:`NightLocked` at once (it does not wait).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine, select, text
from sqlalchemy.engine import make_url

from allocator_api.models import PlanRow, PortfolioRow
from allocator_api.repository import NightlyInput, NightlyStore, plan_body_of

log = logging.getLogger(__name__)

#: the advisory lock key of the nightly run (any 64-bit number no other code uses)
ADVISORY_KEY = 0x616C6C6F6E69  # "alloni"


class NightLocked(RuntimeError):
    """Another nightly run holds the lock of this database."""


class StreamingNightlyStore(NightlyStore):
    """:class:`NightlyStore` whose inputs are read one portfolio at a time."""

    def ids(self) -> list[tuple[str, str]]:
        """``(portfolio id, tenant)`` of every portfolio, oldest first."""
        with self.sessions() as s:
            rows = s.execute(
                select(PortfolioRow.id, PortfolioRow.tenant).order_by(
                    PortfolioRow.created_at, PortfolioRow.id
                )
            )
            return [(str(r[0]), str(r[1])) for r in rows]

    def input(self, portfolio_id: str) -> NightlyInput | None:
        """One portfolio with its latest final plan (None when it was deleted meanwhile)."""
        with self.sessions() as s:
            row = s.get(PortfolioRow, portfolio_id)
            if row is None:
                return None
            plan = s.scalar(
                select(PlanRow)
                .where(PlanRow.portfolio_id == row.id, PlanRow.final)
                .order_by(PlanRow.version.desc())
                .limit(1)
            )
            return NightlyInput(
                portfolio_id=row.id,
                tenant=row.tenant,
                revision=row.revision,
                body=dict(row.body),
                plan_id=plan.id if plan is not None else None,
                plan_body=plan_body_of(plan) if plan is not None else None,
            )


@contextlib.contextmanager
def night_lock(engine: Engine) -> Iterator[None]:
    """Hold the nightly lock of ``engine``'s database for the block (module docstring)."""
    url = make_url(engine.url)
    if url.get_backend_name() == "postgresql":
        with engine.connect() as conn:
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY})
            conn.commit()  # not idle in a transaction for the whole night
            if not got.scalar():
                raise NightLocked(
                    f"another nightly run holds the lock of this database "
                    f"(PostgreSQL advisory lock {ADVISORY_KEY})"
                )
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
                conn.commit()
        return
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        yield
        return
    path = Path(f"{database}.nightly-lock")
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise NightLocked(
                f"another nightly run holds the lock of this database ({path})"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)  # releases the flock
