"""Nightly rebalancing runs: one row per (portfolio, as_of), written with the plan it made.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "nightly_runs",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("portfolio_id", sa.String(36), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("plan_id", sa.String(36), nullable=True),
        sa.Column("previous_plan_id", sa.String(36), nullable=True),
        sa.Column("changed", sa.Integer(), nullable=False),
        sa.Column("diff", JSON_DOC, nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["portfolio_id"],
            ["portfolios.id"],
            name=op.f("fk_nightly_runs_portfolio_id_portfolios"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nightly_runs")),
        sa.UniqueConstraint(
            "portfolio_id", "as_of", name=op.f("uq_nightly_runs_portfolio_id_as_of")
        ),
    )
    op.create_index(op.f("ix_nightly_runs_tenant"), "nightly_runs", ["tenant"])


def downgrade() -> None:
    op.drop_index(op.f("ix_nightly_runs_tenant"), table_name="nightly_runs")
    op.drop_table("nightly_runs")
