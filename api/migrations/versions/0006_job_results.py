"""Job results: ``jobs.result``, the JSON answer of a decision job (``risk``, ``scenarios``,
``recommend``; see ``allocator_api.job_kinds``), read at ``GET /v1/jobs/{id}/result``. Solve
and rebalance jobs keep their answers as plans; their ``result`` stays null.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_OR_NULL = sa.JSON(none_as_null=True).with_variant(
    postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
)


def upgrade() -> None:
    op.add_column("jobs", sa.Column("result", JSON_OR_NULL, nullable=True))


def downgrade() -> None:
    op.drop_column("jobs", "result")
