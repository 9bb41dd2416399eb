"""Database tables (SQLAlchemy 2). The schema itself is made by the Alembic migrations in
``api/migrations``; a test checks that they and these classes agree.

Every row that belongs to a tenant carries ``tenant``, and every query of the repository layer
filters on it. Ids are random UUID4 strings, so they can neither be guessed nor counted.

Times are naive UTC (``utcnow()``), the same on SQLite and PostgreSQL. Objectives and lower bounds
are the plan's terms in planner units (contract ``allocator.plan/v2``), stored as JSON objects,
e.g. ``{"undelivered_work_hours": 12.5, "weighted_late_days": 3, ...}`` or
``{"makespan_days": 14}``; on PostgreSQL ``(objective->>'undelivered_work_hours')::numeric``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: JSON documents: ``jsonb`` on PostgreSQL (queryable), JSON text elsewhere
JsonDoc = JSON().with_variant(JSONB(), "postgresql")
#: nullable JSON values (objective terms, check codes): Python None is SQL NULL, not JSON null
JsonOrNull = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JOB_STATES = ("queued", "running", "done", "failed", "cancelled")
ACTIVE_JOB_STATES = ("queued", "running")
#: what a job does; each kind has a handler in ``allocator_api.job_kinds.KINDS`` (a test checks
#: that the two agree). ``risk``, ``scenarios`` and ``recommend`` store a JSON result on the job.
JOB_KINDS = ("solve", "rebalance", "risk", "scenarios", "recommend")


def new_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> datetime:
    """Now, as naive UTC (what the columns hold)."""
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class ApiKeyRow(Base):
    """An API key: only the SHA-256 of the token is kept; ``prefix`` helps people tell keys apart."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    role: Mapped[str] = mapped_column(String(16))
    name: Mapped[str | None] = mapped_column(String(200))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime())


class PortfolioRow(Base):
    """A portfolio in contract JSON (as the library writes it back: known keys only).

    ``revision`` counts replacements (PUT); plans record the revision they were made from.
    """

    __tablename__ = "portfolios"
    __table_args__ = (Index("ix_portfolios_tenant_created", "tenant", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(Text)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    people: Mapped[int] = mapped_column(Integer)
    tasks: Mapped[int] = mapped_column(Integer)
    body: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    created_at: Mapped[datetime] = mapped_column(DateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(), default=utcnow)


class PlanRow(Base):
    """A plan version of a portfolio: one per solve job, numbered 1, 2, ... per portfolio.

    While its job runs the row holds the best plan so far (``final`` false) and is updated in
    place; ``body`` is the contract plan JSON, and its assignments are also rows of
    ``assignments``.

    Every version is checked by the library's independent checker before it is stored
    (``api.service.checked_plan``); a plan that fails it is never stored. The ``check_*``
    columns keep that verdict: ``check_valid`` (always true for a plan stored since the check
    was introduced), ``check_violations`` (their number) and ``check_codes`` (their codes),
    ``check_stale`` (the plan's figures did not match its portfolio: bookkeeping, not a
    violation). They are null for versions stored before (migration 0003).
    """

    __tablename__ = "plans"
    __table_args__ = (UniqueConstraint("portfolio_id", "version"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    portfolio_id: Mapped[str] = mapped_column(
        ForeignKey("portfolios.id", ondelete="CASCADE"), index=True
    )
    portfolio_revision: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer)
    job_id: Mapped[str | None] = mapped_column(String(36), index=True)
    final: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16))
    objective: Mapped[dict[str, Any] | None] = mapped_column(JsonOrNull)
    lower_bound: Mapped[dict[str, Any] | None] = mapped_column(JsonOrNull)
    gap: Mapped[float | None] = mapped_column(Float)
    solver: Mapped[str | None] = mapped_column(String(32))
    solve_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    body: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    check_valid: Mapped[bool | None] = mapped_column(Boolean)
    check_violations: Mapped[int | None] = mapped_column(Integer)
    check_codes: Mapped[list[str] | None] = mapped_column(JsonOrNull)
    check_stale: Mapped[bool | None] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(DateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(), default=utcnow)


class AssignmentRow(Base):
    """One assignee of one assigned task of a plan, for SQL and BI tools.

    A task done by nobody (a wait) has one row with ``person`` null. ``hours`` and ``cost`` are
    the assignment's (the contract's fields: summed over its ``team_size`` assignees), so for a
    one-person task they are that person's.
    """

    __tablename__ = "assignments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    plan_id: Mapped[str] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    task: Mapped[str] = mapped_column(Text)
    person: Mapped[str | None] = mapped_column(Text)
    start: Mapped[date] = mapped_column(Date)
    finish: Mapped[date] = mapped_column(Date)
    hours: Mapped[float | None] = mapped_column(Float)
    cost: Mapped[float | None] = mapped_column(Float)
    team_size: Mapped[int] = mapped_column(Integer)


class JobRow(Base):
    """A job of some ``kind`` (:data:`JOB_KINDS`) on a portfolio, with the kind's ``input``
    (JSON, e.g. a rebalance's base plan and stability knobs). The database is the queue: workers
    claim ``queued`` rows, write progress and a heartbeat while ``running``, and end them
    ``done``, ``failed`` or ``cancelled`` (see ``allocator_api.worker``)."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_status_created", "status", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    portfolio_id: Mapped[str] = mapped_column(
        ForeignKey("portfolios.id", ondelete="CASCADE"), index=True
    )
    portfolio_revision: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32), default="solve", server_default="solve")
    input: Mapped[dict[str, Any] | None] = mapped_column(JsonOrNull)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    time_limit: Mapped[float] = mapped_column(Float)
    workers: Mapped[int] = mapped_column(Integer)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    worker: Mapped[str | None] = mapped_column(String(120))
    stage: Mapped[str | None] = mapped_column(String(64))
    objective: Mapped[dict[str, Any] | None] = mapped_column(JsonOrNull)
    lower_bound: Mapped[dict[str, Any] | None] = mapped_column(JsonOrNull)
    gap: Mapped[float | None] = mapped_column(Float)
    elapsed: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    #: a decision job's answer (risk, scenarios, recommend), JSON; null for solves (plans)
    result: Mapped[dict[str, Any] | None] = mapped_column(JsonOrNull)
    created_at: Mapped[datetime] = mapped_column(DateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime())
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime())


class IdempotencyRow(Base):
    """The first answer to a POST that creates, under the client's ``Idempotency-Key``: a retry
    with the same key and the same request (``fingerprint``, a SHA-256 of method, path and body)
    gets this answer again; the same key with another request is refused (422). ``status_code``
    and ``response`` are null while the first request is still being answered."""

    __tablename__ = "idempotency_keys"

    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)
    response: Mapped[dict[str, Any] | None] = mapped_column(JsonOrNull)
    created_at: Mapped[datetime] = mapped_column(DateTime(), default=utcnow)


class NightlyRunRow(Base):
    """One nightly rebalancing of a portfolio for one ``as_of``: written in the same transaction
    as the plan version it made (``plan_id``), so a rerun of the same night finds it and skips.
    ``diff`` is the task-by-task change list against ``previous_plan_id``
    (``allocator.diff.TaskChange.as_dict``)."""

    __tablename__ = "nightly_runs"
    __table_args__ = (UniqueConstraint("portfolio_id", "as_of"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    portfolio_id: Mapped[str] = mapped_column(ForeignKey("portfolios.id", ondelete="CASCADE"))
    as_of: Mapped[date] = mapped_column(Date)
    plan_id: Mapped[str | None] = mapped_column(String(36))
    previous_plan_id: Mapped[str | None] = mapped_column(String(36))
    changed: Mapped[int] = mapped_column(Integer, default=0)
    diff: Mapped[list[dict[str, Any]]] = mapped_column(JsonDoc)
    created_at: Mapped[datetime] = mapped_column(DateTime(), default=utcnow)
