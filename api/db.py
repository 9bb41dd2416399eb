"""The database: engine, sessions and migrations (SQLite by default, PostgreSQL via URL).

Storage faults (a read-only or full SQLite file, a PostgreSQL connection that died, a pool with
no free connection) are :func:`storage_fault` errors: the routes answer them 503 with
``Retry-After`` (``allocator_api.app``), the connection that saw one is dropped from the pool
(a connection opened on a read-only file stays read-only: it must not be reused once the file
is writable again), and :meth:`Database.ready` stays false until a write goes through again.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

from allocator_api.settings import normalize_database_url

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

#: SQLite: how long a writer waits for the write lock before "database is locked" (then 503)
SQLITE_BUSY_TIMEOUT_MS = 5_000
#: after a storage fault, connections are not reused for this long (or until /readyz writes)
FAULT_WINDOW_S = 30.0
#: seconds a request waits for a pooled connection before 503 (never a 500 QueuePool timeout)
POOL_TIMEOUT_S = 5.0
#: SQLite errors that mean the file cannot be written now (and a connection that saw one may
#: keep failing: it is dropped); "locked" and "busy" are contention, the connection is fine
_BROKEN_STORAGE = (
    "readonly database",
    "disk is full",
    "disk i/o error",
    "unable to open database",
    "database disk image is malformed",
)
_CONTENTION = ("database is locked", "database is busy", "database table is locked")
#: PostgreSQL (psycopg): the server went away, is starting or stopping, or cannot be reached
_UNREACHABLE = (
    "could not connect",
    "connection refused",
    "connection failed",
    "server closed the connection",
    "terminating connection",
    "the database system is",
    "connection is closed",
    "consuming input failed",
    "connection timeout expired",
)


def alembic_config(url: str) -> Config:
    """An Alembic configuration for ``url`` that needs no ``alembic.ini``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def storage_fault(exc: BaseException) -> bool:
    """True for an error of the storage rather than of the request: a broken or full disk, a
    read-only database, lock contention past the busy timeout, a lost connection, no free
    pooled connection. The request may be retried as is (503 + ``Retry-After``)."""
    if isinstance(exc, PoolTimeout):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if not isinstance(exc, OperationalError):
        return False  # any other database error is a bug: 500
    message = str(exc.orig if isinstance(exc, DBAPIError) else exc).lower()
    return any(m in message for m in (*_BROKEN_STORAGE, *_CONTENTION, *_UNREACHABLE))


def broken_storage(exc: BaseException) -> bool:
    """An SQLite error after which the connection should not be used again."""
    message = str(exc).lower()
    return any(m in message for m in _BROKEN_STORAGE)


class StorageFaults:
    """Whether a storage fault was seen in the last :data:`FAULT_WINDOW_S` seconds and no
    readiness probe has written since. A pooled connection opened before a recent fault, or
    during one, is replaced by a new one when it is checked out again: it may keep the fault
    (SQLite opens a read-only file read-only for good)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: float | None = None

    def seen(self) -> None:
        with self._lock:
            self._last = time.monotonic()

    def cleared(self) -> None:
        with self._lock:
            self._last = None

    def opened_before_a_fault(self, opened: float) -> bool:
        """Whether a connection opened at ``opened`` (monotonic) predates a recent fault."""
        with self._lock:
            return (
                self._last is not None
                and opened <= self._last
                and time.monotonic() - self._last < FAULT_WINDOW_S
            )

    @property
    def faulty(self) -> bool:
        with self._lock:
            return self._last is not None and time.monotonic() - self._last < FAULT_WINDOW_S


def make_engine(
    url: str, pool_size: int = 10, max_overflow: int = 40, faults: StorageFaults | None = None
) -> Engine:
    """An engine with a pool of ``pool_size`` kept connections and ``max_overflow`` more on
    demand (size both to the request threads plus the solve workers: a request that finds no
    connection in :data:`POOL_TIMEOUT_S` gets 503); storage faults are noted in ``faults``."""
    url = normalize_database_url(url)
    pool: dict[str, Any] = {
        "pool_size": pool_size,
        "max_overflow": max_overflow,
        "pool_timeout": POOL_TIMEOUT_S,
    }
    if url.startswith("sqlite"):
        if make_url(url).database in (None, "", ":memory:"):
            pool = {}  # one in-memory database: SQLAlchemy's single-connection pool
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            pool_pre_ping=True,
            hide_parameters=True,  # errors and logs never carry bodies or key hashes
            **pool,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cur.execute("PRAGMA foreign_keys=ON")  # ON DELETE CASCADE
            # NORMAL in WAL mode: a commit is atomic and survives a crash of the process; a
            # power loss or an OS crash may lose the last commits (FULL would fsync each one).
            # See the README ("Durability").
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

    else:
        engine = create_engine(
            url,
            pool_pre_ping=True,  # a connection killed while idle is replaced on checkout
            hide_parameters=True,
            **pool,
        )

    @event.listens_for(engine, "connect")
    def _birth(_dbapi_conn: Any, record: Any) -> None:
        record.info["opened"] = time.monotonic()
        record.info["uses"] = 0
        record.info["suspect"] = faults is not None and faults.faulty  # opened during a fault

    @event.listens_for(engine, "checkout")
    def _fresh_after_a_fault(_dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        info = record.info
        info["uses"] = uses = info.get("uses", 0) + 1
        if uses == 1 or faults is None:
            return  # just opened
        if info.get("suspect") or faults.opened_before_a_fault(info.get("opened", 0.0)):
            raise DisconnectionError("opened before or during a storage fault: use a new one")

    @event.listens_for(engine, "handle_error")
    def _drop_broken(ctx: ExceptionContext) -> None:
        if broken_storage(ctx.original_exception):
            ctx.is_disconnect = True  # the pool drops this connection (and the older ones)
        if faults is not None and ctx.is_disconnect:  # not for contention ("locked")
            faults.seen()

    return engine


class Database:
    """An engine and its session factory; one per app (tests make many)."""

    def __init__(self, url: str, pool_size: int = 10, max_overflow: int = 40) -> None:
        self.url = normalize_database_url(url)
        self.faults = StorageFaults()
        self.engine = make_engine(self.url, pool_size, max_overflow, self.faults)
        self.sessions: sessionmaker[Session] = sessionmaker(self.engine, expire_on_commit=False)

    def migrate(self) -> None:
        """Bring the schema to the newest migration (idempotent)."""
        cfg = alembic_config(self.url)
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        log.info("database schema is up to date", extra={"db": self.engine.url.render_as_string()})

    def ping(self) -> bool:
        """True when the database answers a trivial query."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception:
            log.warning("database is not reachable", exc_info=True)
            return False

    def writable(self) -> bool:
        """True when a write commits: a no-op update of the schema version row."""
        try:
            with self.engine.begin() as conn:
                conn.execute(text("UPDATE alembic_version SET version_num = version_num"))
            return True
        except Exception as exc:
            log.warning("database is not writable: %s", type(exc).__name__)
            return False

    def ready(self) -> bool:
        """Readiness: the database answers and, after a storage fault, takes writes again
        (the write probe runs only then: under normal load it would queue for the lock)."""
        if not self.ping():
            return False
        if self.faults.faulty:
            # connections opened during the fault may keep it (SQLite opens a read-only file
            # read-only for good): start again from new ones
            self.engine.dispose()
            if not self.writable():
                return False
            self.faults.cleared()
            log.info("database takes writes again")
        return True

    def dispose(self) -> None:
        self.engine.dispose()
