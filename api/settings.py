"""Service settings: defaults, overridden by ``ALLOCATOR_<FIELD>`` environment variables.

``get_settings()`` is cached; an app keeps the settings it was made with
(:func:`allocator_api.app.create_app`, ``app.state.settings``), which the routes read through
``allocator_api.deps.SettingsDep``, so a test passes ``Settings(...)`` to ``create_app``.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

ENV_PREFIX = "ALLOCATOR_"
DEFAULT_DATABASE_URL = "sqlite:///allocator.sqlite"


class Settings(BaseModel):
    """Everything an operator may tune. Each field reads ``ALLOCATOR_<NAME>`` (upper case)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: SQLAlchemy URL; ``postgresql://`` is read as ``postgresql+psycopg://`` (psycopg 3)
    database_url: str = DEFAULT_DATABASE_URL
    #: run the Alembic migrations to ``head`` when the app starts
    migrate_on_startup: bool = True
    #: start the solve workers in this process (a read-only replica may turn them off)
    run_workers: bool = True

    # -- request limits ---------------------------------------------------------------------
    max_body_bytes: int = Field(default=5_000_000, gt=0)
    max_tasks: int = Field(default=5_000, gt=0)
    max_people: int = Field(default=1_000, gt=0)
    page_size_default: int = Field(default=50, gt=0)
    page_size_max: int = Field(default=200, gt=0)

    # -- solves -----------------------------------------------------------------------------
    #: time limit of a job when the request gives none, and the cap of what it may ask for
    default_time_limit: float = Field(default=20.0, gt=0)
    max_time_limit: float = Field(default=300.0, gt=0)
    #: CP-SAT workers of one solve: default and cap
    default_workers: int = Field(default=1, gt=0)
    max_workers: int = Field(default=4, gt=0)
    #: solves running at once in this process (each on its own worker thread)
    solve_slots: int = Field(default=2, gt=0)
    #: queued jobs (all tenants) before new ones get 429
    max_queued_jobs: int = Field(default=50, gt=0)
    #: queued + running jobs of one tenant before its new ones get 429
    max_jobs_per_tenant: int = Field(default=5, gt=0)
    #: ``Retry-After`` of a 429, seconds
    retry_after_seconds: int = Field(default=10, gt=0)
    #: how often idle workers look for queued jobs, and running jobs for cancels, seconds
    poll_interval: float = Field(default=0.5, gt=0)
    #: a running job whose heartbeat is older than this is taken as interrupted (failed)
    job_stale_seconds: float = Field(default=15.0, gt=0)
    #: where a job runs: "process" (a supervised child process per job, under the memory
    #: ceiling, killed when it overruns; the production default) or "thread" (on the worker
    #: thread, the library's own time limit only: for tests that replace handlers)
    job_isolation: str = Field(default="process", pattern="^(thread|process)$")
    #: address-space ceiling of a job's (and a synchronous solve's) child process, bytes
    #: (RLIMIT_AS; 0: none)
    job_memory_bytes: int = Field(default=4 * 1024**3, ge=0)
    #: seconds a child may run past its time limit, or past a cancel or shutdown, before it
    #: is killed (its best plan so far is kept)
    job_grace_seconds: float = Field(default=5.0, gt=0)
    #: runs of a job (the first and those after an interruption) before it fails for good
    job_max_attempts: int = Field(default=3, gt=0)
    #: niceness added to the job (and synchronous solve) child processes, 0-19: on a busy
    #: machine the server process's requests get the CPU before the solves' imports and search
    #: (a solve still gets every core nobody else wants); 0 keeps the server's priority
    job_nice: int = Field(default=10, ge=0, le=19)

    # -- the synchronous solve (POST /v1/solve) ---------------------------------------------
    sync_max_tasks: int = Field(default=50, gt=0)
    sync_max_people: int = Field(default=20, gt=0)
    sync_max_time_limit: float = Field(default=5.0, gt=0)
    #: synchronous solves at once; more get 429
    sync_slots: int = Field(default=2, gt=0)

    # -- rate limits (per server process; see allocator_api.ratelimit) -----------------------
    #: sustained requests per second of one API key (0: no limit) and its burst
    rate_limit_per_second: float = Field(default=20.0, ge=0)
    rate_limit_burst: int = Field(default=60, gt=0)
    #: requests with a wrong or revoked key one client address may make per minute
    auth_failures_per_minute: int = Field(default=30, gt=0)
    #: the tenant whose admin keys see every tenant's job counts in /metrics (others: their own)
    operator_tenant: str | None = None

    # -- operations -------------------------------------------------------------------------
    #: allowed CORS origins (comma-separated in the environment); empty: CORS off
    cors_origins: tuple[str, ...] = ()
    #: serve /openapi.json and /docs without a key: the schema holds no data (off: /openapi.json
    #: needs a key, no /docs)
    public_docs: bool = True
    #: install the JSON log handler on the service's loggers
    json_logs: bool = True
    log_level: str = "INFO"

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(v.strip() for v in value.split(",") if v.strip())
        return value

    @field_validator("database_url")
    @classmethod
    def _psycopg3(cls, value: str) -> str:
        return normalize_database_url(value)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then ``ALLOCATOR_*`` variables, then ``overrides`` (ignored when None)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name in cls.model_fields:
            raw = env.get(ENV_PREFIX + name.upper())
            if raw is not None:
                values[name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate(values)


def normalize_database_url(url: str) -> str:
    """``postgres://`` and ``postgresql://`` mean psycopg 3 here (psycopg2 is not installed)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


@lru_cache
def get_settings() -> Settings:
    """The process's settings (cached)."""
    return Settings.from_env()
