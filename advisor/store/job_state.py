"""Leases and run records of scheduled jobs, in the ``job_state`` table (one row per job).

One runner per job across advisor processes sharing a database: a runner must claim the
job's lease (:meth:`JobLeases.claim`) before it runs it. The claim is a single conditional
UPDATE, so on PostgreSQL (row lock, re-checked after a concurrent update commits) and on
SQLite (one writer at a time) exactly one of several simultaneous claimants wins. A lease
expires ``lease_seconds`` after it was last claimed or renewed, so a runner that died mid-job
is taken over by another.

Scheduled runs also claim their *tick* (the scheduled time, on a wall-clock grid shared by
all advisors): a tick is claimed once, so advisors whose schedulers fire a moment apart do not
run the same tick one after the other. Manual runs (``jobs run``) claim only the lease.

Times are the callers' clocks (``now`` passed in); leases are minutes long, so the few
seconds between advisors' NTP-synchronised clocks do not matter.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from advisor.store.engine import SQLITE_BEGIN_OPTION
from advisor.store.models import JobStateRow, table_of

JOB_STATE = table_of(JobStateRow)

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


class JobLeases(Protocol):
    """The scheduled jobs' leases and run records: one runner per job across advisors.

    Contract: times are Unix seconds (``now`` is the caller's clock), ``lease_seconds`` a
    duration in seconds. Of several owners claiming a job whose lease is free or expired (at
    their ``now``) exactly one wins; a held lease cannot be claimed, not even by its owner
    (that is :meth:`renew`); a claim with a ``tick`` at or before the last claimed one fails,
    whoever holds the lease. A job's record is created by its first claim. Only the lease's
    owner can renew or finish it; finishing releases the lease, records the outcome and counts
    consecutive failures (a success resets them to 0). :meth:`job_status` lists every job ever
    claimed, by name. Every method is one transaction; none raises for a lost race, it returns
    False.
    """

    def claim(
        self, job: str, *, owner: str, now: float, lease_seconds: float, tick: float | None = None
    ) -> bool:
        """Take the job's lease for ``owner`` until ``now + lease_seconds``, and with ``tick``
        that scheduled tick too; False if the lease is held or the tick (or a later one) was
        claimed already. Records ``now`` as the run's start."""
        ...

    def renew(self, job: str, *, owner: str, now: float, lease_seconds: float) -> bool:
        """Extend ``owner``'s lease to ``now + lease_seconds``; False if it is no longer
        theirs."""
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
        """Record the run's end and release the lease; False (nothing recorded) if ``owner``
        had lost it meanwhile. ``outcome`` is :data:`SUCCESS` or another word (failure,
        stopped): anything but success counts as a failure."""
        ...

    def job_status(self, job: str | None = None) -> list[JobStatus]:
        """Every job's record (or just ``job``'s), by name; a job never claimed has none."""
        ...


class SqlJobLeases:
    """:class:`JobLeases` on the ``job_state`` table of ``engine``."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._writer = engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})

    def claim(
        self, job: str, *, owner: str, now: float, lease_seconds: float, tick: float | None = None
    ) -> bool:
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
        with self._writer.begin() as conn:
            insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
            conn.execute(insert(JOB_STATE).values(job=job).on_conflict_do_nothing())
            return conn.execute(JOB_STATE.update().where(*conditions).values(values)).rowcount == 1

    def renew(self, job: str, *, owner: str, now: float, lease_seconds: float) -> bool:
        return self._update_owned(job, owner, lease_expires_at=now + lease_seconds)

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
        succeeded = outcome == SUCCESS
        return self._update_owned(
            job,
            owner,
            lease_owner=None,
            lease_expires_at=None,
            last_finished_at=now,
            last_outcome=outcome,
            last_error=error,
            last_rows=rows,
            last_success_at=now if succeeded else JOB_STATE.c.last_success_at,
            failures=0 if succeeded else JOB_STATE.c.failures + 1,
        )

    def job_status(self, job: str | None = None) -> list[JobStatus]:
        query = sa.select(*(JOB_STATE.c[f.name] for f in fields(JobStatus))).order_by(
            JOB_STATE.c.job
        )
        if job is not None:
            query = query.where(JOB_STATE.c.job == job)
        with self._engine.connect() as conn:
            return [JobStatus(**row._mapping) for row in conn.execute(query)]

    def _update_owned(self, job: str, owner: str, **values: object) -> bool:
        """Set ``values`` on the job's row if ``owner`` holds its lease; whether it did."""
        with self._writer.begin() as conn:
            updated = conn.execute(
                JOB_STATE.update()
                .where(JOB_STATE.c.job == job, JOB_STATE.c.lease_owner == owner)
                .values(**values)
            )
            return updated.rowcount == 1
