"""Retries and idempotent creation.

* ``jobs.attempts``: how many times a worker has claimed the job. A job interrupted by a crash
  (its heartbeat went stale) is queued again, from its best plan so far, until it has used
  ``Settings.job_max_attempts``; then it fails for good. Existing rows get 1 when they ever
  ran, else 0.
* ``idempotency_keys``: one row per (tenant, ``Idempotency-Key`` header) on a POST that
  creates, holding the request's fingerprint and the answer first given, so a retry of the same
  request gets the same answer and creates nothing twice.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_OR_NULL = sa.JSON(none_as_null=True).with_variant(
    postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
)


def upgrade() -> None:
    op.add_column("jobs", sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
    jobs = sa.table(
        "jobs", sa.column("attempts", sa.Integer()), sa.column("started_at", sa.DateTime())
    )
    op.execute(sa.update(jobs).where(jobs.c.started_at.is_not(None)).values(attempts=1))
    op.create_table(
        "idempotency_keys",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response", JSON_OR_NULL, nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("idempotency_keys")
    op.drop_column("jobs", "attempts")
