"""Jobs of several kinds: ``jobs.kind`` (``solve``, ``rebalance``, ...) and ``jobs.input`` (the
kind's parameters as JSON), so every kind is queued and run by the one job runner.

Existing rows get ``solve``, except the rebalance jobs of before, which ran on a thread of their
own under a worker name starting ``rebalance:``: they get ``rebalance`` (their input was not
stored: null). Downgrade drops both columns.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_OR_NULL = sa.JSON(none_as_null=True).with_variant(
    postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
)


def upgrade() -> None:
    op.add_column("jobs", sa.Column("kind", sa.String(32), nullable=False, server_default="solve"))
    op.add_column("jobs", sa.Column("input", JSON_OR_NULL, nullable=True))
    jobs = sa.table("jobs", sa.column("worker", sa.String()), sa.column("kind", sa.String()))
    op.execute(sa.update(jobs).where(jobs.c.worker.like("rebalance:%")).values(kind="rebalance"))


def downgrade() -> None:
    op.drop_column("jobs", "input")
    op.drop_column("jobs", "kind")
