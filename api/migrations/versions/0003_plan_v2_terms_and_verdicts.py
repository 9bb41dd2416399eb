"""Plan format v2: objectives and lower bounds as JSON terms; the checker's verdict per version.

``plans.objective`` / ``plans.lower_bound`` and ``jobs.objective`` / ``jobs.lower_bound`` were
decimal text of one combined integer (``allocator.plan/v1``, up to ~10^29); they become JSON
objects of the plan's terms in planner units (``{"undelivered_work_hours": 12.5, ...}`` or
``{"makespan_days": 14}``). Stored plans:

* a body in ``allocator.plan/v1`` is read by the library (``allocator.contract.read_plan``,
  which takes the terms from its ``objective_terms``) and rewritten as ``allocator.plan/v2``
  (``plan_to_dict``); its objective, lower bound and gap columns are set from it. A v1 bound
  that cannot be split into terms is dropped (the library keeps it only when it proves the
  plan optimal);
* a body already in v2 gives its columns as they are;
* a body the library cannot read is left as it is, with null terms (logged).

Jobs: the progress figures of a job whose stage measures its plan (``greedy*``, ``lns``,
``done``) become its plan's terms; a ``cp-sat:<stage>`` figure (one internal integer of the
term being optimized) cannot be converted and becomes null.

New columns ``plans.check_valid``, ``check_violations``, ``check_codes``, ``check_stale``: the
independent checker's verdict, written with every version from now on; null for the versions
stored before.

The columns are replaced by add / copy / drop / rename, not ``ALTER ... TYPE``: on SQLite a
type change recreates the table, and dropping ``plans`` would cascade to ``assignments``.

Downgrade: the terms go back to text (their JSON), the verdict columns are dropped, and bodies
stay in v2 (the combined v1 number cannot be rebuilt without the portfolio).

Revision ID: 0003
Revises: 0002
Create Date: 2027-01-15
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("alembic.runtime.migration")

JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
JSON_OR_NULL = sa.JSON(none_as_null=True).with_variant(
    postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
)

PLAN_V1 = "allocator.plan/v1"


def _plans(objective_type: Any) -> sa.TableClause:
    return sa.table(
        "plans",
        sa.column("id", sa.String()),
        sa.column("job_id", sa.String()),
        sa.column("body", JSON_DOC),
        sa.column("gap", sa.Float()),
        sa.column("objective_new", objective_type),
        sa.column("lower_bound_new", objective_type),
    )


def _replace(table: str, new_type: Any) -> None:
    """Add ``objective_new`` / ``lower_bound_new`` of ``new_type`` (filled by the caller)."""
    for name in ("objective", "lower_bound"):
        op.add_column(table, sa.Column(f"{name}_new", new_type, nullable=True))


def _swap(table: str) -> None:
    """Drop the old columns and give the new ones their names."""
    for name in ("objective", "lower_bound"):
        op.drop_column(table, name)
        op.execute(f"ALTER TABLE {table} RENAME COLUMN {name}_new TO {name}")


def _terms(value: Any) -> dict[str, Any] | None:
    """Terms in priority order (``jsonb`` does not keep the order of keys, and the library reads
    the terms in the order written)."""
    from allocator.objective import MAKESPAN_TERMS, PORTFOLIO_TERMS

    if not isinstance(value, dict):
        return None
    rank = {name: i for i, name in enumerate(PORTFOLIO_TERMS + MAKESPAN_TERMS)}
    items = sorted(value.items(), key=lambda kv: rank.get(str(kv[0]), len(rank)))
    return {str(k): v for k, v in items if isinstance(v, int | float) and not isinstance(v, bool)}


class _Unreadable(ValueError):
    pass


def _v2(body: Any) -> tuple[dict[str, Any] | None, Any, Any, Any]:
    """(new body or None when unchanged, objective terms, lower bound terms, gap) of a body;
    raises :class:`_Unreadable` for a body that is not a readable plan."""
    from allocator.contract import plan_to_dict, read_plan

    if not isinstance(body, dict):
        raise _Unreadable("not a JSON object")
    if body.get("format") == PLAN_V1:
        if isinstance(body.get("objective_terms"), dict):
            body = {**body, "objective_terms": _terms(body["objective_terms"])}
        plan, issues = read_plan(body)
        errors = [str(i) for i in issues if i.severity == "error"]
        if errors:
            raise _Unreadable("; ".join(errors))
        new = plan_to_dict(plan)
        return new, _terms(new.get("objective")), _terms(new.get("lower_bound")), new.get("gap")
    gap = body.get("gap")
    return (
        None,
        _terms(body.get("objective")),
        _terms(body.get("lower_bound")),
        gap if isinstance(gap, int | float) and not isinstance(gap, bool) else None,
    )


def upgrade() -> None:
    conn = op.get_bind()
    _replace("plans", JSON_OR_NULL)
    _replace("jobs", JSON_OR_NULL)
    op.add_column("plans", sa.Column("check_valid", sa.Boolean(), nullable=True))
    op.add_column("plans", sa.Column("check_violations", sa.Integer(), nullable=True))
    op.add_column("plans", sa.Column("check_codes", JSON_OR_NULL, nullable=True))
    op.add_column("plans", sa.Column("check_stale", sa.Boolean(), nullable=True))

    plans = _plans(JSON_OR_NULL)
    by_job: dict[str, tuple[Any, Any, Any]] = {}
    rewritten = unreadable = 0
    for row in conn.execute(sa.select(plans.c.id, plans.c.job_id, plans.c.body)).all():
        try:
            new_body, objective, bound, gap = _v2(row.body)
        except _Unreadable as exc:
            unreadable += 1
            log.warning("plan %s: body not readable (%s); its terms are left null", row.id, exc)
            continue
        values: dict[str, Any] = {"objective_new": objective, "lower_bound_new": bound, "gap": gap}
        if new_body is not None:
            values["body"] = new_body
            rewritten += 1
        conn.execute(sa.update(plans).where(plans.c.id == row.id).values(**values))
        if row.job_id is not None:
            by_job[row.job_id] = (objective, bound, gap)
    log.info("plans: %d v1 bodies rewritten as v2, %d unreadable", rewritten, unreadable)

    jobs = sa.table(
        "jobs",
        sa.column("id", sa.String()),
        sa.column("stage", sa.String()),
        sa.column("objective_new", JSON_OR_NULL),
        sa.column("lower_bound_new", JSON_OR_NULL),
    )
    for job in conn.execute(sa.select(jobs.c.id, jobs.c.stage)).all():
        stage = job.stage or ""
        measures_plan = stage == "done" or stage.startswith(("greedy", "lns"))
        found = by_job.get(job.id)
        if measures_plan and found is not None:
            objective, bound, _gap = found
            conn.execute(
                sa.update(jobs)
                .where(jobs.c.id == job.id)
                .values(objective_new=objective, lower_bound_new=bound)
            )
    _swap("plans")
    _swap("jobs")


def downgrade() -> None:
    conn = op.get_bind()
    op.drop_column("plans", "check_stale")
    op.drop_column("plans", "check_codes")
    op.drop_column("plans", "check_violations")
    op.drop_column("plans", "check_valid")
    for table in ("plans", "jobs"):
        _replace(table, sa.Text())
        t = sa.table(
            table,
            sa.column("id", sa.String()),
            sa.column("objective", JSON_OR_NULL),
            sa.column("lower_bound", JSON_OR_NULL),
            sa.column("objective_new", sa.Text()),
            sa.column("lower_bound_new", sa.Text()),
        )
        for row in conn.execute(sa.select(t.c.id, t.c.objective, t.c.lower_bound)).all():
            conn.execute(
                sa.update(t)
                .where(t.c.id == row.id)
                .values(
                    objective_new=None if row.objective is None else json.dumps(row.objective),
                    lower_bound_new=None
                    if row.lower_bound is None
                    else json.dumps(row.lower_bound),
                )
            )
        _swap(table)
