"""Leases and run records of scheduled jobs, in the ``job_state`` table (one row per job).

One runner per job across advisor processes sharing a database: a runner must :func:`claim`
the job's lease before it runs it. The claim is a single conditional UPDATE, so on PostgreSQL
(row lock, re-checked after a concurrent update commits) and on SQLite (one writer at a time)
exactly one of several simultaneous claimants wins. A lease expires ``lease_seconds`` after
it was last claimed or renewed, so a runner that died mid-job is taken over by another.

Scheduled runs also claim their *tick* (the scheduled time, on a wall-clock grid shared by
all advisors): a tick is claimed once, so advisors whose schedulers fire a moment apart do not
run the same tick one after the other. Manual runs (``jobs run``) claim only the lease.

Times are the callers' clocks (``now`` passed in); leases are minutes long, so the few
seconds between advisors' NTP-synchronised clocks do not matter.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Protocol, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from advisor.store.engine import SQLITE_BEGIN_OPTION
from advisor.store.models import JobStateRow

JOB_STATE = cast(sa.Table, JobStateRow.__table__)

SUCCESS = "success"
FAILURE = "failure"


@dataclass(frozen=True, slots=True)
class JobStatus:
    """A job's row: who holds it now, and how its last run went (None: never)."""

    job: str
    lease_owner: str | None
    lease_expires_at: float | None
    last_tick: float | None
    last_started_at: float | None
    last_finished_at: float | None
    last_outcome: str | None
    last_error: str | None
    last_rows: int | None
    last_success_at: float | None
    failures: int


def claim(
    engine: sa.Engine,
    job: str,
    *,
    owner: str,
    now: float,
    lease_seconds: float,
    tick: float | None = None,
) -> bool:
    """Take the job's lease for ``owner`` until ``now + lease_seconds``; False if held.

    With ``tick``, also False when that tick (or a later one) was claimed already.
    """
    free = sa.or_(JOB_STATE.c.lease_owner.is_(None), JOB_STATE.c.lease_expires_at <= now)
    conditions = [JOB_STATE.c.job == job, free]
    values: dict[str, object] = {
        "lease_owner": owner,
        "lease_expires_at": now + lease_seconds,
        "last_started_at": now,
    }
    if tick is not None:
        conditions.append(sa.or_(JOB_STATE.c.last_tick.is_(None), JOB_STATE.c.last_tick < tick))
        values["last_tick"] = tick
    with _writer(engine).begin() as conn:
        insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        conn.execute(insert(JOB_STATE).values(job=job).on_conflict_do_nothing())
        return conn.execute(JOB_STATE.update().where(*conditions).values(values)).rowcount == 1


def renew(engine: sa.Engine, job: str, *, owner: str, now: float, lease_seconds: float) -> bool:
    """Extend ``owner``'s lease to ``now + lease_seconds``; False if it is no longer theirs."""
    with _writer(engine).begin() as conn:
        updated = conn.execute(
            JOB_STATE.update()
            .where(JOB_STATE.c.job == job, JOB_STATE.c.lease_owner == owner)
            .values(lease_expires_at=now + lease_seconds)
        )
        return updated.rowcount == 1


def finish(
    engine: sa.Engine,
    job: str,
    *,
    owner: str,
    now: float,
    outcome: str,
    rows: int | None = None,
    error: str | None = None,
) -> bool:
    """Record the run's end and release the lease; False if ``owner`` had lost it meanwhile.

    ``outcome`` is :data:`SUCCESS` or another word (failure, stopped): anything but success
    counts as a failure in ``failures``.
    """
    succeeded = outcome == SUCCESS
    with _writer(engine).begin() as conn:
        updated = conn.execute(
            JOB_STATE.update()
            .where(JOB_STATE.c.job == job, JOB_STATE.c.lease_owner == owner)
            .values(
                lease_owner=None,
                lease_expires_at=None,
                last_finished_at=now,
                last_outcome=outcome,
                last_error=error,
                last_rows=rows,
                last_success_at=now if succeeded else JOB_STATE.c.last_success_at,
                failures=0 if succeeded else JOB_STATE.c.failures + 1,
            )
        )
        return updated.rowcount == 1


def job_status(engine: sa.Engine, job: str | None = None) -> list[JobStatus]:
    """Every job's row (or just ``job``'s), by name; jobs that never ran have none."""
    query = sa.select(*(JOB_STATE.c[f.name] for f in fields(JobStatus))).order_by(JOB_STATE.c.job)
    if job is not None:
        query = query.where(JOB_STATE.c.job == job)
    with engine.connect() as conn:
        return [JobStatus(**row._mapping) for row in conn.execute(query)]


def _writer(engine: sa.Engine) -> sa.Engine:
    return engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})


class JobLeases(Protocol):
    """The scheduled jobs' leases and run records: one runner per job across advisors.

    Contract: of several owners claiming a job whose lease is free or expired (at their
    ``now``) exactly one wins; a claim with a ``tick`` at or before the last claimed one fails,
    whoever holds the lease. Only the lease's owner can renew or finish it; finishing releases
    the lease, records the outcome and counts consecutive failures (a success resets them to
    0). :meth:`job_status` lists every job ever claimed, by name. Every method is one
    transaction.
    """

    def claim(
        self, job: str, *, owner: str, now: float, lease_seconds: float, tick: float | None = None
    ) -> bool:
        """Take the lease until ``now + lease_seconds`` (and ``tick``, when given)."""
        ...

    def renew(self, job: str, *, owner: str, now: float, lease_seconds: float) -> bool:
        """Extend ``owner``'s lease; False if it is no longer theirs."""
        ...

    def finish(
        self,
        job: str,
        *,
        owner: str,
        now: float,
        outcome: str,
        rows: int | None = None,
        error: str | None = None,
    ) -> bool:
        """Record the run's end and release the lease; False if ``owner`` had lost it."""
        ...

    def job_status(self, job: str | None = None) -> list[JobStatus]:
        """Every job's record (or just ``job``'s), by name."""
        ...


class SqlJobLeases:
    """:class:`JobLeases` on the ``job_state`` table of ``engine``."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def claim(
        self, job: str, *, owner: str, now: float, lease_seconds: float, tick: float | None = None
    ) -> bool:
        return claim(
            self._engine, job, owner=owner, now=now, lease_seconds=lease_seconds, tick=tick
        )

    def renew(self, job: str, *, owner: str, now: float, lease_seconds: float) -> bool:
        return renew(self._engine, job, owner=owner, now=now, lease_seconds=lease_seconds)

    def finish(
        self,
        job: str,
        *,
        owner: str,
        now: float,
        outcome: str,
        rows: int | None = None,
        error: str | None = None,
    ) -> bool:
        return finish(
            self._engine, job, owner=owner, now=now, outcome=outcome, rows=rows, error=error
        )

    def job_status(self, job: str | None = None) -> list[JobStatus]:
        return job_status(self._engine, job)
