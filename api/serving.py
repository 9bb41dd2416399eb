"""How ``allocator serve`` runs the app under uvicorn: worker processes, connection limits and
timeouts.

- ``--workers N`` starts N server processes on one port (uvicorn's supervisor). The database is
  the job queue (``allocator_api.worker``: a compare-and-set claim), so every process serves any
  request and runs up to ``Settings.solve_slots`` solves: the machine runs N x ``solve_slots``
  solves at once. The schema is migrated once, before the processes start.
- ``--limit-concurrency``: past this many open connections or requests in one process, new
  requests get 503 at once (uvicorn) rather than queueing behind the others.
- ``--timeout-keep-alive``: an idle keep-alive connection is closed after this many seconds,
  and so is a new connection that sends nothing (:class:`HeaderTimeoutH11Protocol`; uvicorn has
  no header timeout of its own: a client that never sends a request would hold its connection).
- request heads are bounded by ``h11_max_incomplete_event_size`` (:data:`MAX_HEAD_BYTES`).
"""

from __future__ import annotations

import asyncio
import logging
import os

from fastapi import FastAPI
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger(__name__)

#: largest request line + headers, bytes (uvicorn's default is 16 KiB)
MAX_HEAD_BYTES = 16 * 1024
DEFAULT_LIMIT_CONCURRENCY = 200
DEFAULT_TIMEOUT_KEEP_ALIVE = 5


class HeaderTimeoutH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, closing a new connection that sends nothing within the
    keep-alive timeout (uvicorn starts that timer only after a first answer)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler
        )


def app_from_env() -> FastAPI:
    """The app of one worker process (``uvicorn --factory``): settings from the environment."""
    from allocator_api.app import create_app

    return create_app()


def serve(
    host: str,
    port: int,
    *,
    workers: int = 1,
    limit_concurrency: int = DEFAULT_LIMIT_CONCURRENCY,
    timeout_keep_alive: int = DEFAULT_TIMEOUT_KEEP_ALIVE,
) -> None:
    """Run the service until interrupted; the settings come from ``ALLOCATOR_*`` variables."""
    import uvicorn

    from allocator_api.db import Database
    from allocator_api.settings import Settings

    options = {
        "host": host,
        "port": port,
        "log_config": None,
        "access_log": False,
        "http": HeaderTimeoutH11Protocol,
        "limit_concurrency": limit_concurrency,
        "timeout_keep_alive": timeout_keep_alive,
        "h11_max_incomplete_event_size": MAX_HEAD_BYTES,
        "timeout_graceful_shutdown": 30,
    }
    settings = Settings.from_env()
    if workers == 1:
        from allocator_api.app import create_app

        uvicorn.run(create_app(settings), **options)  # type: ignore[arg-type]
        return
    if settings.migrate_on_startup:  # once, here: N processes must not migrate at once
        db = Database(settings.database_url)
        try:
            db.migrate()
        finally:
            db.dispose()
        os.environ["ALLOCATOR_MIGRATE_ON_STARTUP"] = "false"
    log.info("starting %d server processes", workers)
    uvicorn.run(
        "allocator_api.serving:app_from_env",
        factory=True,
        workers=workers,
        **options,  # type: ignore[arg-type]
    )
