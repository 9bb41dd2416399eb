"""Data access: every query of the service, scoped to a tenant where the data is a tenant's.

*Why one file of over 800 lines*: it is the only module that speaks SQL (one class per kind
of row: portfolios, plans and the one plan writer, jobs and their fair claim, keys,
idempotency, the nightly runs), so a reviewer of tenant scoping or of a transaction reads one
file; each class is small.

Routes use the tenant-scoped repositories (``Portfolios``, ``Plans``, ``Jobs``, ``Keys``);
the solve workers use :class:`JobStore`, which works across tenants and opens one short
transaction per call. Each write commits before returning, except a create given
``commit=False`` (with an ``Idempotency-Key``: the key's answer commits it, in the same commit).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer, sessionmaker

from allocator.objective import MAKESPAN_TERMS, PORTFOLIO_TERMS
from allocator_api.models import (
    ACTIVE_JOB_STATES,
    JOB_KINDS,
    ApiKeyRow,
    AssignmentRow,
    IdempotencyRow,
    JobRow,
    NightlyRunRow,
    PlanRow,
    PortfolioRow,
    new_id,
    utcnow,
)
from allocator_api.security import Principal, Role, hash_token, new_token, same_hash

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------
# Values passed in and out
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PortfolioDoc:
    """A validated portfolio, ready to store (made by :mod:`api.service`)."""

    name: str
    body: dict[str, Any]
    people: int
    tasks: int


@dataclass(frozen=True)
class AssignmentValues:
    task: str
    person: str | None
    start: date
    finish: date
    hours: float | None
    cost: float | None
    team_size: int


#: objective or lower-bound terms of a plan (contract ``allocator.plan/v2``), planner units
TermValues = dict[str, float | int]


@dataclass(frozen=True)
class Verdict:
    """The independent checker's verdict on a plan, stored with its version.

    ``valid``: no rule violation; ``violations`` and ``codes``: how many, and their distinct
    codes in order; ``stale``: the plan's figures do not match its portfolio (not a violation).
    """

    valid: bool
    violations: int = 0
    codes: tuple[str, ...] = ()
    stale: bool = False


@dataclass(frozen=True)
class PlanDoc:
    """A checked plan to store: the contract JSON, the columns read from it and the checker's
    verdict (made only by ``api.service.checked_plan``, which refuses a plan that fails it)."""

    body: dict[str, Any]
    status: str
    objective: TermValues | None
    lower_bound: TermValues | None
    gap: float | None
    solver: str | None
    solve_seconds: float
    verdict: Verdict
    assignments: Sequence[AssignmentValues] = field(default_factory=tuple)


@dataclass(frozen=True)
class ProgressValues:
    stage: str | None = None
    objective: TermValues | None = None
    lower_bound: TermValues | None = None
    gap: float | None = None
    elapsed: float | None = None


#: every objective term, in priority order (the ``portfolio`` objective's, then ``makespan``'s)
_TERM_RANK = {name: i for i, name in enumerate(PORTFOLIO_TERMS + MAKESPAN_TERMS)}
#: the library's key order of a plan (``allocator.contract.plan_to_dict``)
_PLAN_HEAD = ("format", "portfolio", "status", "objective", "lower_bound", "gap", "solve_seconds")
_PLAN_TAIL = ("assignments", "unassigned", "changes")
_ASSIGNMENT_KEYS = ("task", "people", "start", "finish", "hours", "cost")


def terms_or_none(terms: Any) -> TermValues | None:
    """Objective or bound terms as a plain dict in priority order; None for none.

    Used on every write and read: ``jsonb`` (PostgreSQL) does not keep the order of keys, and
    the order of the terms is their priority (contract ``allocator.plan/v2``).
    """
    if terms is None:
        return None
    items = sorted(dict(terms).items(), key=lambda kv: (_TERM_RANK.get(kv[0], len(_TERM_RANK)),))
    return {str(k): v for k, v in items}


def _ordered(d: dict[str, Any], head: Sequence[str], tail: Sequence[str] = ()) -> dict[str, Any]:
    first = {k: d[k] for k in head if k in d}
    last = {k: d[k] for k in tail if k in d}
    middle = {k: d[k] for k in sorted(d) if k not in first and k not in last}
    return first | middle | last


def _commit_or_flush(session: Session, commit: bool) -> None:
    """Commit, or only send the pending writes (the caller commits them with more: an
    idempotency key's answer, ``allocator_api.idempotency``)."""
    if commit:
        session.commit()
    else:
        session.flush()


def plan_body_of(row: PlanRow) -> dict[str, Any]:
    """A stored plan's contract JSON as the library writes it: keys in its order, objective and
    bound terms in priority order (``jsonb`` reorders keys)."""
    body = _ordered(dict(row.body), _PLAN_HEAD, _PLAN_TAIL)
    for key in ("objective", "lower_bound"):
        if isinstance(body.get(key), dict):
            body[key] = terms_or_none(body[key])
    if isinstance(body.get("assignments"), list):
        body["assignments"] = [
            _ordered(a, _ASSIGNMENT_KEYS) if isinstance(a, dict) else a for a in body["assignments"]
        ]
    return body


class UncheckedPlan(RuntimeError):
    """A plan was about to be stored without a passing verdict (a bug: never stored)."""


def write_plan(
    s: Session,
    plan: PlanDoc,
    *,
    tenant: str,
    portfolio_id: str,
    portfolio_revision: int,
    job_id: str | None,
    final: bool,
    row: PlanRow | None = None,
) -> PlanRow:
    """THE plan writer: every plan version of every path (solve jobs, rebalance jobs, the
    nightly run) is written here, in the caller's transaction (not committed).

    A new version (the portfolio's next number) when ``row`` is None, else ``row`` rewritten in
    place (a job's best plan so far) with its assignment rows replaced. Refuses
    (:class:`UncheckedPlan`) a plan whose verdict is not valid: such a plan is never stored.
    """
    if not plan.verdict.valid:
        raise UncheckedPlan(
            f"refusing to store a plan that fails the checker ({', '.join(plan.verdict.codes)})"
        )
    now = utcnow()
    if row is None:
        top = s.scalar(
            select(func.max(PlanRow.version)).where(PlanRow.portfolio_id == portfolio_id)
        )
        row = PlanRow(
            id=new_id(),
            tenant=tenant,
            portfolio_id=portfolio_id,
            portfolio_revision=portfolio_revision,
            version=(top or 0) + 1,
            job_id=job_id,
            created_at=now,
        )
        s.add(row)
    else:
        s.execute(delete(AssignmentRow).where(AssignmentRow.plan_id == row.id))
    row.final = final
    row.status = plan.status
    row.objective = terms_or_none(plan.objective)
    row.lower_bound = terms_or_none(plan.lower_bound)
    row.gap = plan.gap
    row.solver = plan.solver[:32] if plan.solver else None
    row.solve_seconds = plan.solve_seconds
    row.body = plan.body
    row.check_valid = plan.verdict.valid
    row.check_violations = plan.verdict.violations
    row.check_codes = list(plan.verdict.codes)
    row.check_stale = plan.verdict.stale
    row.updated_at = now
    s.flush()
    s.add_all(
        AssignmentRow(
            plan_id=row.id,
            task=a.task,
            person=a.person,
            start=a.start,
            finish=a.finish,
            hours=a.hours,
            cost=a.cost,
            team_size=a.team_size,
        )
        for a in plan.assignments
    )
    s.flush()
    return row


class QueueFull(Exception):
    """No room for another job; ``reason`` says which limit."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnknownJobKind(ValueError):
    """A job of a kind the service does not have (:data:`allocator_api.models.JOB_KINDS`)."""


# ---------------------------------------------------------------------------------------------
# Keys
# ---------------------------------------------------------------------------------------------
class Keys:
    """API keys (the only lookup that is not scoped to a tenant is by token)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def create(
        self, tenant: str, role: Role, name: str | None = None, *, commit: bool = True
    ) -> tuple[ApiKeyRow, str]:
        """A new key; returns its row and the token (shown once, stored only hashed).
        ``commit=False``: written in the session's transaction, committed by the caller."""
        token = new_token()
        row = ApiKeyRow(
            id=new_id(),
            tenant=tenant,
            role=role,
            name=name,
            key_hash=hash_token(token),
            prefix=token[:10],
            created_at=utcnow(),
        )
        self.session.add(row)
        _commit_or_flush(self.session, commit)
        return row, token

    def authenticate(self, token: str) -> Principal | None:
        """The principal of a valid, unrevoked key; None otherwise."""
        digest = hash_token(token)
        row = self.session.scalar(select(ApiKeyRow).where(ApiKeyRow.key_hash == digest))
        if row is None or row.revoked_at is not None or not same_hash(row.key_hash, digest):
            return None
        role: Role = row.role  # type: ignore[assignment]
        return Principal(key_id=row.id, tenant=row.tenant, role=role)

    def list(self, tenant: str) -> list[ApiKeyRow]:
        stmt = (
            select(ApiKeyRow)
            .where(ApiKeyRow.tenant == tenant)
            .order_by(ApiKeyRow.created_at, ApiKeyRow.id)
        )
        return list(self.session.scalars(stmt))

    def revoke(self, tenant: str, key_id: str) -> bool:
        """Revoke a key of ``tenant``; False when it has no such (unrevoked) key."""
        result = self.session.execute(
            update(ApiKeyRow)
            .where(
                ApiKeyRow.id == key_id,
                ApiKeyRow.tenant == tenant,
                ApiKeyRow.revoked_at.is_(None),
            )
            .values(revoked_at=utcnow())
        )
        self.session.commit()
        return bool(result.rowcount)  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------------
# Portfolios
# ---------------------------------------------------------------------------------------------
class Portfolios:
    def __init__(self, session: Session, tenant: str) -> None:
        self.session = session
        self.tenant = tenant

    def create(self, doc: PortfolioDoc, *, commit: bool = True) -> PortfolioRow:
        """A new portfolio (``commit=False``: in the session's transaction, committed by the
        caller)."""
        now = utcnow()
        row = PortfolioRow(
            id=new_id(),
            tenant=self.tenant,
            name=doc.name,
            revision=1,
            people=doc.people,
            tasks=doc.tasks,
            body=doc.body,
            created_at=now,
            updated_at=now,
        )
        self.session.add(row)
        _commit_or_flush(self.session, commit)
        return row

    def get(self, portfolio_id: str) -> PortfolioRow | None:
        stmt = select(PortfolioRow).where(
            PortfolioRow.id == portfolio_id, PortfolioRow.tenant == self.tenant
        )
        return self.session.scalar(stmt)

    def exists(self, portfolio_id: str) -> bool:
        stmt = select(func.count()).where(
            PortfolioRow.id == portfolio_id, PortfolioRow.tenant == self.tenant
        )
        return bool(self.session.scalar(stmt))

    def page(self, limit: int, offset: int) -> tuple[list[PortfolioRow], int]:
        """A page of the tenant's portfolios, newest first, and their total; the rows without
        their bodies (a list shows summaries: reading and decoding 20 bodies cost more than
        the rest of the request; ``row.body`` would load it)."""
        where = PortfolioRow.tenant == self.tenant
        total = self.session.scalar(select(func.count()).select_from(PortfolioRow).where(where))
        stmt = (
            select(PortfolioRow)
            .options(defer(PortfolioRow.body))
            .where(where)
            .order_by(PortfolioRow.created_at.desc(), PortfolioRow.id)
            .limit(limit)
            .offset(offset)
        )
        return list(self.session.scalars(stmt)), int(total or 0)

    def replace(self, portfolio_id: str, doc: PortfolioDoc) -> PortfolioRow | None:
        row = self.get(portfolio_id)
        if row is None:
            return None
        row.name, row.body, row.people, row.tasks = doc.name, doc.body, doc.people, doc.tasks
        row.revision += 1
        row.updated_at = utcnow()
        self.session.commit()
        return row

    def delete(self, portfolio_id: str) -> bool:
        """Delete it with its plans and jobs (a running solve notices and stops)."""
        where = (PortfolioRow.id == portfolio_id, PortfolioRow.tenant == self.tenant)
        if not self.session.scalar(select(func.count()).select_from(PortfolioRow).where(*where)):
            return False
        plan_ids = select(PlanRow.id).where(PlanRow.portfolio_id == portfolio_id)
        # explicit, not only ON DELETE CASCADE: SQLite databases made elsewhere may lack it
        self.session.execute(delete(AssignmentRow).where(AssignmentRow.plan_id.in_(plan_ids)))
        self.session.execute(delete(PlanRow).where(PlanRow.portfolio_id == portfolio_id))
        self.session.execute(delete(JobRow).where(JobRow.portfolio_id == portfolio_id))
        self.session.execute(delete(PortfolioRow).where(*where))
        self.session.commit()
        return True


# ---------------------------------------------------------------------------------------------
# Plans
# ---------------------------------------------------------------------------------------------
class Plans:
    def __init__(self, session: Session, tenant: str) -> None:
        self.session = session
        self.tenant = tenant

    def get(self, plan_id: str) -> PlanRow | None:
        stmt = select(PlanRow).where(PlanRow.id == plan_id, PlanRow.tenant == self.tenant)
        return self.session.scalar(stmt)

    def for_job(self, job_id: str) -> PlanRow | None:
        stmt = select(PlanRow).where(PlanRow.job_id == job_id, PlanRow.tenant == self.tenant)
        return self.session.scalar(stmt)

    def page_for_portfolio(
        self, portfolio_id: str, limit: int, offset: int
    ) -> tuple[list[PlanRow], int]:
        where = (PlanRow.portfolio_id == portfolio_id, PlanRow.tenant == self.tenant)
        total = self.session.scalar(select(func.count()).select_from(PlanRow).where(*where))
        stmt = (
            select(PlanRow)
            .where(*where)
            .order_by(PlanRow.version.desc())
            .limit(limit)
            .offset(offset)
        )
        return list(self.session.scalars(stmt)), int(total or 0)


# ---------------------------------------------------------------------------------------------
# Jobs, as the routes see them
# ---------------------------------------------------------------------------------------------
class Jobs:
    def __init__(self, session: Session, tenant: str) -> None:
        self.session = session
        self.tenant = tenant

    def enqueue(
        self,
        portfolio_id: str,
        *,
        kind: str = "solve",
        input: dict[str, Any] | None = None,
        time_limit: float,
        workers: int,
        max_queued: int,
        max_per_tenant: int,
        commit: bool = True,
    ) -> JobRow:
        """THE job creation: a new queued job of ``kind`` with its ``input`` (JSON), run by the
        job runner (``allocator_api.worker``) like every other. Raises
        :class:`UnknownJobKind` for a kind not in ``JOB_KINDS`` and :class:`QueueFull` when a
        limit is reached.

        The limits are counted before the insert, so concurrent requests may pass them by a
        few jobs: they protect the server, they are not quotas to the unit. ``commit=False``:
        the job is written in the session's transaction and committed by the caller.
        """
        if kind not in JOB_KINDS:
            raise UnknownJobKind(f"unknown job kind {kind!r} (known: {', '.join(JOB_KINDS)})")
        active = self.session.scalar(
            select(func.count())
            .select_from(JobRow)
            .where(JobRow.tenant == self.tenant, JobRow.status.in_(ACTIVE_JOB_STATES))
        )
        if (active or 0) >= max_per_tenant:
            raise QueueFull(
                f"this tenant has {active} queued or running jobs, the most allowed "
                f"(setting max_jobs_per_tenant = {max_per_tenant})"
            )
        queued = self.session.scalar(
            select(func.count()).select_from(JobRow).where(JobRow.status == "queued")
        )
        if (queued or 0) >= max_queued:
            # the tenant is told the queue is full, never how many other tenants' jobs wait
            # (the operator's setting is named; the depth is in the operator's /metrics)
            raise QueueFull(
                "the solve queue is full: try again after Retry-After seconds "
                "(operator setting max_queued_jobs)"
            )
        row = JobRow(
            id=new_id(),
            tenant=self.tenant,
            portfolio_id=portfolio_id,
            kind=kind,
            input=input,
            status="queued",
            time_limit=time_limit,
            workers=workers,
            cancel_requested=False,
            created_at=utcnow(),
        )
        self.session.add(row)
        _commit_or_flush(self.session, commit)
        return row

    def get(self, job_id: str) -> JobRow | None:
        stmt = select(JobRow).where(JobRow.id == job_id, JobRow.tenant == self.tenant)
        return self.session.scalar(stmt)

    def cancel(self, job_id: str) -> JobRow | None:
        """Cancel a queued job at once; ask a running one to stop (its worker ends it)."""
        now = utcnow()
        mine = (JobRow.id == job_id, JobRow.tenant == self.tenant)
        self.session.execute(
            update(JobRow)
            .where(*mine, JobRow.status == "queued")
            .values(status="cancelled", cancel_requested=True, finished_at=now)
        )
        self.session.execute(
            update(JobRow).where(*mine, JobRow.status == "running").values(cancel_requested=True)
        )
        self.session.commit()
        return self.get(job_id)


# ---------------------------------------------------------------------------------------------
# Jobs, as the workers see them
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ClaimedJob:
    """A job as its worker runs it: the portfolio as it was when claimed, the kind's input."""

    id: str
    tenant: str
    portfolio_id: str
    portfolio_revision: int
    portfolio: dict[str, Any]
    time_limit: float
    workers: int
    kind: str = "solve"
    input: dict[str, Any] = field(default_factory=dict)
    #: this run's number (1 the first time; more after interruptions, see ``JobStore.claim``)
    attempt: int = 1
    #: contract JSON of the best plan an interrupted earlier attempt stored (a warm start)
    resume_plan: dict[str, Any] | None = None


def _progress_columns(progress: ProgressValues | None) -> dict[str, Any]:
    """The job row's progress columns (none when there is no progress to write)."""
    if progress is None:
        return {}
    return {
        "stage": progress.stage,
        "objective": terms_or_none(progress.objective),
        "lower_bound": terms_or_none(progress.lower_bound),
        "gap": progress.gap,
        "elapsed": progress.elapsed,
    }


@functools.cache
def _next_queued_job() -> Select[str]:
    """The fair claim's query (:meth:`JobStore.claim`), built once: idle workers run it every
    ``poll_interval``, and building it (an alias, two subqueries) cost more than running it."""
    other = JobRow.__table__.alias("other")
    running = (
        select(func.count())
        .select_from(other)
        .where(other.c.tenant == JobRow.tenant, other.c.status == "running")
        .scalar_subquery()
    )
    served = (
        select(func.max(other.c.started_at))
        .where(other.c.tenant == JobRow.tenant)
        .scalar_subquery()
    )
    return (
        select(JobRow.id)
        .where(JobRow.status == "queued")
        .order_by(running, served.asc().nulls_first(), JobRow.created_at, JobRow.id)
        .limit(1)
        .with_for_update(skip_locked=True, of=JobRow)
    )


class JobStore:
    """The queue in the database, for the solve workers of any process on any host."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def claim(self, worker: str) -> ClaimedJob | None:
        """Take the next queued job fairly between tenants, mark it running; None if none.

        Fairness: the job of the tenant with the fewest running jobs goes first, then the job
        of the tenant served longest ago (the latest start of any of its jobs, never served
        first), then the oldest: one tenant's queued batch cannot starve another's job. The
        row is taken with ``FOR UPDATE SKIP LOCKED`` where the database has it and a
        compare-and-set on the status everywhere. Each claim counts one more ``attempts``;
        ``resume_plan`` is the job's best plan of an interrupted earlier attempt, if any.
        """
        for _ in range(5):
            with self.sessions() as s:
                job_id = s.scalar(_next_queued_job())
                if job_id is None:
                    s.rollback()
                    return None
                now = utcnow()
                result = s.execute(
                    update(JobRow)
                    .where(JobRow.id == job_id, JobRow.status == "queued")
                    .values(
                        status="running",
                        worker=worker,
                        started_at=now,
                        heartbeat_at=now,
                        attempts=JobRow.attempts + 1,
                    )
                )
                if not result.rowcount:  # type: ignore[attr-defined]
                    s.rollback()
                    continue  # another worker was faster
                job = s.get_one(JobRow, job_id)
                portfolio = s.get_one(PortfolioRow, job.portfolio_id)
                job.portfolio_revision = portfolio.revision
                previous = s.scalar(select(PlanRow).where(PlanRow.job_id == job.id))
                claimed = ClaimedJob(
                    id=job.id,
                    tenant=job.tenant,
                    portfolio_id=job.portfolio_id,
                    portfolio_revision=portfolio.revision,
                    portfolio=dict(portfolio.body),
                    time_limit=job.time_limit,
                    workers=job.workers,
                    kind=job.kind,
                    input=dict(job.input or {}),
                    attempt=job.attempts,
                    resume_plan=plan_body_of(previous) if previous is not None else None,
                )
                s.commit()
                return claimed
        return None

    def save_plan(self, job: ClaimedJob, plan: PlanDoc, *, final: bool) -> str | None:
        """Store the job's best plan so far (a new version the first time, then in place).

        Returns the plan id; None when the job's portfolio is gone (deleted meanwhile).
        """
        for _ in range(5):
            try:
                with self.sessions() as s:
                    if s.get(PortfolioRow, job.portfolio_id) is None:
                        return None
                    row = s.scalar(select(PlanRow).where(PlanRow.job_id == job.id))
                    row = write_plan(
                        s,
                        plan,
                        tenant=job.tenant,
                        portfolio_id=job.portfolio_id,
                        portfolio_revision=job.portfolio_revision,
                        job_id=job.id,
                        final=final,
                        row=row,
                    )
                    s.commit()
                    return row.id
            except IntegrityError:
                log.info("plan version taken by a concurrent job; retrying", extra={"job": job.id})
        raise RuntimeError(f"could not store the plan of job {job.id}")

    def plan_body(self, tenant: str, plan_id: str) -> dict[str, Any] | None:
        """A stored plan of ``tenant`` in contract JSON (None when it is gone)."""
        with self.sessions() as s:
            row = s.scalar(select(PlanRow).where(PlanRow.id == plan_id, PlanRow.tenant == tenant))
            return plan_body_of(row) if row is not None else None

    def write_progress(self, job_id: str, worker: str, progress: ProgressValues | None) -> bool:
        """Heartbeat (and progress, when given) of a running job of ``worker``.

        False when the job is no longer this worker's running job (deleted, or taken as
        interrupted): the worker should stop.
        """
        values: dict[str, Any] = {"heartbeat_at": utcnow(), **_progress_columns(progress)}
        with self.sessions() as s:
            result = s.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.status == "running", JobRow.worker == worker)
                .values(**values)
            )
            s.commit()
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def cancel_requested(self, job_ids: Sequence[str]) -> set[str]:
        if not job_ids:
            return set()
        with self.sessions() as s:
            stmt = select(JobRow.id).where(JobRow.id.in_(job_ids), JobRow.cancel_requested)
            return set(s.scalars(stmt))

    def finish(
        self,
        job_id: str,
        worker: str,
        status: str,
        *,
        progress: ProgressValues | None = None,
        error: str | None = None,
    ) -> bool:
        """End a running job of ``worker``; False when it was not (any more) its job."""
        values: dict[str, Any] = {
            "status": status,
            "finished_at": utcnow(),
            "error": error,
            **_progress_columns(progress),
        }
        with self.sessions() as s:
            result = s.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.status == "running", JobRow.worker == worker)
                .values(**values)
            )
            s.commit()
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def requeue(self, job_id: str, worker: str, note: str) -> bool:
        """Put a running job of ``worker`` back in the queue (its process was killed): its best
        plan so far stays and is the next attempt's warm start. False when it was not (any
        more) this worker's running job."""
        with self.sessions() as s:
            result = s.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.status == "running", JobRow.worker == worker)
                .values(status="queued", worker=None, heartbeat_at=None, error=note)
            )
            s.commit()
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def recover_stale(self, older_than: datetime, max_attempts: int) -> tuple[list[str], list[str]]:
        """The running jobs whose heartbeat is older than ``older_than`` (their process died:
        crash, kill, restart): queued again from their best plan while they have used fewer
        than ``max_attempts`` claims, else failed for good. Returns (requeued, failed) ids."""
        with self.sessions() as s:
            stale = (JobRow.status == "running", JobRow.heartbeat_at < older_than)
            rows = list(s.execute(select(JobRow.id, JobRow.attempts).where(*stale)))
            if not rows:
                return [], []
            again = [r.id for r in rows if r.attempts < max_attempts]
            spent = [r.id for r in rows if r.attempts >= max_attempts]
            if again:
                s.execute(
                    update(JobRow)
                    .where(JobRow.id.in_(again), *stale)
                    .values(
                        status="queued",
                        worker=None,
                        heartbeat_at=None,
                        error="interrupted: its server stopped during the run; queued again "
                        "from its best plan so far",
                    )
                )
            if spent:
                s.execute(
                    update(JobRow)
                    .where(JobRow.id.in_(spent), *stale)
                    .values(
                        status="failed",
                        finished_at=utcnow(),
                        error=f"interrupted {max_attempts} times (its server or process stopped "
                        f"during each run); gave up after job_max_attempts = {max_attempts} "
                        "(the best plan found until then, if any, is kept)",
                    )
                )
            s.commit()
            return again, spent

    def counts_by_status(self) -> dict[str, int]:
        with self.sessions() as s:
            rows = s.execute(select(JobRow.status, func.count()).group_by(JobRow.status))
            return {status: int(n) for status, n in rows}


# ---------------------------------------------------------------------------------------------
# Nightly rebalancing (``allocator nightly``): across tenants, one transaction per portfolio
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NightlyInput:
    """A portfolio as the nightly run reads it, with its latest final plan (if any)."""

    portfolio_id: str
    tenant: str
    revision: int
    body: dict[str, Any]
    plan_id: str | None
    plan_body: dict[str, Any] | None


class NightlyStore:
    """Reads every portfolio; writes a portfolio's updated body, its new plan version and the
    run record (with the diff) in one transaction, so a failure leaves the previous plan in
    force and the unique (portfolio, as_of) makes a rerun of the same night a no-op."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def inputs(self) -> list[NightlyInput]:
        with self.sessions() as s:
            out = []
            for row in s.scalars(
                select(PortfolioRow).order_by(PortfolioRow.created_at, PortfolioRow.id)
            ):
                plan = s.scalar(
                    select(PlanRow)
                    .where(PlanRow.portfolio_id == row.id, PlanRow.final)
                    .order_by(PlanRow.version.desc())
                    .limit(1)
                )
                out.append(
                    NightlyInput(
                        portfolio_id=row.id,
                        tenant=row.tenant,
                        revision=row.revision,
                        body=dict(row.body),
                        plan_id=plan.id if plan is not None else None,
                        plan_body=plan_body_of(plan) if plan is not None else None,
                    )
                )
            return out

    def done(self, portfolio_id: str, as_of: date) -> bool:
        with self.sessions() as s:
            stmt = select(func.count()).where(
                NightlyRunRow.portfolio_id == portfolio_id, NightlyRunRow.as_of == as_of
            )
            return bool(s.scalar(stmt))

    def runs(self, portfolio_id: str) -> list[NightlyRunRow]:
        with self.sessions() as s:
            stmt = (
                select(NightlyRunRow)
                .where(NightlyRunRow.portfolio_id == portfolio_id)
                .order_by(NightlyRunRow.as_of)
            )
            return list(s.scalars(stmt))

    def save(
        self,
        inp: NightlyInput,
        as_of: date,
        body: dict[str, Any] | None,
        plan: PlanDoc,
        diff: list[dict[str, Any]],
    ) -> str | None:
        """Store it all in one transaction; the new plan's id, or None when this night was
        already stored. Raises (nothing stored) when the portfolio is gone or was replaced
        since it was read."""
        with self.sessions() as s:
            done = s.scalar(
                select(func.count()).where(
                    NightlyRunRow.portfolio_id == inp.portfolio_id, NightlyRunRow.as_of == as_of
                )
            )
            if done:
                return None
            row = s.get(PortfolioRow, inp.portfolio_id)
            if row is None or row.revision != inp.revision:
                raise RuntimeError(
                    f"portfolio {inp.portfolio_id} was deleted or replaced during the run"
                )
            now = utcnow()
            if body is not None:
                row.body = body
                row.revision += 1
                row.updated_at = now
            plan_row = write_plan(
                s,
                plan,
                tenant=inp.tenant,
                portfolio_id=inp.portfolio_id,
                portfolio_revision=row.revision,
                job_id=None,
                final=True,
            )
            self._add_run(s, inp, as_of, plan_row.id, diff)
            s.commit()
            return plan_row.id

    def _add_run(
        self, s: Session, inp: NightlyInput, as_of: date, plan_id: str, diff: list[dict[str, Any]]
    ) -> None:
        s.add(
            NightlyRunRow(
                id=new_id(),
                tenant=inp.tenant,
                portfolio_id=inp.portfolio_id,
                as_of=as_of,
                plan_id=plan_id,
                previous_plan_id=inp.plan_id,
                changed=len(diff),
                diff=diff,
                created_at=utcnow(),
            )
        )
        s.flush()


# ---------------------------------------------------------------------------------------------
# Rebalance jobs (``POST /v1/portfolios/{id}/rebalance``): their base plan
# ---------------------------------------------------------------------------------------------
def latest_final_plan(session: Session, tenant: str, portfolio_id: str) -> PlanRow | None:
    """The newest finished plan version of a portfolio of ``tenant``."""
    stmt = (
        select(PlanRow)
        .where(PlanRow.portfolio_id == portfolio_id, PlanRow.tenant == tenant, PlanRow.final)
        .order_by(PlanRow.version.desc())
        .limit(1)
    )
    return session.scalar(stmt)


# ---------------------------------------------------------------------------------------------
# Idempotent creation: the ``Idempotency-Key`` of a POST that creates (``api.idempotency``)
# ---------------------------------------------------------------------------------------------
class IdempotencyConflict(Exception):
    """The key was first used for another request (``in_progress`` False), or its first
    request is still being answered (``in_progress`` True)."""

    def __init__(self, in_progress: bool) -> None:
        super().__init__("in progress" if in_progress else "another request")
        self.in_progress = in_progress


@dataclass(frozen=True)
class StoredAnswer:
    """The answer first given under an idempotency key: status and ``{"body", "location"}``."""

    status_code: int
    response: dict[str, Any]


class IdempotencyKeys:
    """The idempotency keys of one tenant. A key is claimed (a row without an answer) before
    the request runs, given its answer after, or released when the request failed, so that a
    retry runs it again. A claim older than ``stale_after`` seconds that never got its answer
    (the process died in between) may be taken over by a retry."""

    def __init__(self, session: Session, tenant: str) -> None:
        self.session = session
        self.tenant = tenant

    def claim(
        self, key: str, method: str, path: str, fingerprint: str, stale_after: float
    ) -> StoredAnswer | None:
        """None: the key is this request's now (answer it, then :meth:`finish`); else the
        answer first given to the same request. Raises :class:`IdempotencyConflict`."""
        s = self.session
        s.add(
            IdempotencyRow(
                tenant=self.tenant,
                key=key,
                method=method,
                path=path,
                fingerprint=fingerprint,
                created_at=utcnow(),
            )
        )
        try:
            s.commit()
            return None
        except IntegrityError:
            s.rollback()
        old = s.get(IdempotencyRow, (self.tenant, key), populate_existing=True)
        if old is None:  # released between our insert and this read: the caller may retry
            raise IdempotencyConflict(in_progress=True)
        if old.fingerprint != fingerprint:
            raise IdempotencyConflict(in_progress=False)
        if old.status_code is not None and old.response is not None:
            return StoredAnswer(old.status_code, dict(old.response))
        if (utcnow() - old.created_at).total_seconds() < stale_after:
            raise IdempotencyConflict(in_progress=True)
        taken = s.execute(  # compare-and-set: one retry takes a stale claim over
            update(IdempotencyRow)
            .where(
                IdempotencyRow.tenant == self.tenant,
                IdempotencyRow.key == key,
                IdempotencyRow.status_code.is_(None),
                IdempotencyRow.created_at == old.created_at,
            )
            .values(created_at=utcnow())
        )
        s.commit()
        if not taken.rowcount:  # type: ignore[attr-defined]
            raise IdempotencyConflict(in_progress=True)
        return None

    def finish(self, key: str, status_code: int, response: dict[str, Any]) -> None:
        """Keep the answer of the request that claimed ``key``, in the same commit as what
        the request wrote before (uncommitted: the created row and its answer are stored
        together or not at all)."""
        self.session.execute(
            update(IdempotencyRow)
            .where(IdempotencyRow.tenant == self.tenant, IdempotencyRow.key == key)
            .values(status_code=status_code, response=response)
        )
        self.session.commit()

    def release(self, key: str) -> None:
        """Forget an unanswered claim (its request failed; nothing was created)."""
        self.session.rollback()
        self.session.execute(
            delete(IdempotencyRow).where(
                IdempotencyRow.tenant == self.tenant,
                IdempotencyRow.key == key,
                IdempotencyRow.status_code.is_(None),
            )
        )
        self.session.commit()


def job_counts(session: Session, tenant: str | None) -> dict[str, int]:
    """Jobs by state: of one tenant, or of every tenant (``None``: the operator's view)."""
    stmt = select(JobRow.status, func.count()).group_by(JobRow.status)
    if tenant is not None:
        stmt = stmt.where(JobRow.tenant == tenant)
    return {status: int(n) for status, n in session.execute(stmt).all()}
