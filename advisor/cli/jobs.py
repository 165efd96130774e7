"""``jobs run JOB`` and ``jobs status``: the scheduled jobs, by hand.

``jobs run`` runs one job once, now, for operators and cron: it takes the job's lease like a
scheduled run (so it never runs beside another advisor's run of the same job) but ignores
ticks and backoff. Exit status 0 when it ran or another advisor was running it, 1 when it
failed.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from advisor.cli.common import add_group, open_stores
from advisor.cli.output import Column, add_format_option, time_column, write_rows
from advisor.cli.units import duration, iso_utc, when
from advisor.config import AdvisorConfig
from advisor.jobs.names import JOB_NAMES
from advisor.text import printable_or

if TYPE_CHECKING:
    from advisor.cli.common import Commands
    from advisor.store.job_state import JobStatus
    from advisor.store.open import Stores


def add_parser(commands: Commands) -> None:
    """Register ``jobs``."""
    jobs = add_group(
        commands,
        "jobs",
        help="scheduled jobs: run one now, status",
        description="The jobs `serve` runs on a schedule: rollup (hourly summaries), "
        "retention (deletes data past its days), analysis (the findings) and recommend (after "
        "each analysis; `jobs run recommend` runs only if one finished since, the `recommend` "
        "command always). `run` runs one now under the same lease; `status` lists their last "
        "runs and the rollup backlog.",
        examples="  fleetsight-advisor jobs run rollup\n"
        "  fleetsight-advisor jobs status --format json\n",
    )
    actions = jobs.add_subparsers(dest="action", required=True, metavar="ACTION")
    run_one = actions.add_parser("run", help="run a job once now (for operators and cron)")
    run_one.add_argument("job", choices=JOB_NAMES, help="the job to run")
    add_format_option(
        actions.add_parser("status", help="last runs of each job, and the rollup backlog")
    )
    jobs.set_defaults(run=run)


def run(args: argparse.Namespace, config: AdvisorConfig) -> int:
    """``jobs run`` or ``jobs status``."""
    stores = open_stores(config, create=args.action == "run")
    try:
        if args.action == "run":
            return _run(stores, config, args.job)
        _status(stores, args.format, time.time())
        return 0
    finally:
        stores.close()


def _run(stores: Stores, config: AdvisorConfig, job: str) -> int:
    from prometheus_client import CollectorRegistry

    from advisor.jobs.metrics import JobMetrics
    from advisor.jobs.tasks import JOB_TABLES, build_runners, default_owner

    metrics = JobMetrics(CollectorRegistry(), JOB_TABLES)
    runner = build_runners(stores, config, metrics, owner=default_owner())[job]
    report = runner.run_now()
    if report.outcome == "skipped":
        print(f"{job}: another advisor is running it now; nothing done")
        return 0
    rows = (
        ", ".join(f"{count} {table}" for table, count in report.result.rows.items())
        if (report.result)
        else ""
    )
    if report.outcome != "success":
        # A database error can quote values that agents wrote.
        done = f" (done: {rows})" if rows else ""
        print(f"{job}: {report.outcome}: {printable_or(report.error)}{done}")
        return 1
    print(f"{job}: done ({rows})")
    return 0


@dataclass(frozen=True)
class JobLine:
    """A job's last run as ``jobs status`` lists it (a job never run has no status)."""

    job: str
    status: JobStatus | None
    now: float

    @property
    def took(self) -> float | None:
        s = self.status
        if s is None or s.last_started_at is None or s.last_finished_at is None:
            return None
        if s.last_finished_at < s.last_started_at:
            return None  # still running, or the last run never finished
        return s.last_finished_at - s.last_started_at

    @property
    def running_in(self) -> str | None:
        s = self.status
        if s is None or not s.lease_owner or s.lease_expires_at is None:
            return None
        return s.lease_owner if s.lease_expires_at > self.now else None


def _status(stores: Stores, fmt: str, now: float) -> None:
    known = {status.job: status for status in stores.leases.job_status()}
    lines: list[JobLine] = []
    for job in JOB_NAMES:
        parts = sorted(name for name in known if name.startswith(job + "/"))
        # A job in parts (the analysis: one per app) has a row per part and none of its own.
        if parts and job not in known:
            lines.extend(JobLine(name, known[name], now) for name in parts)
        else:
            lines.append(JobLine(job, known.get(job), now))
    waiting = stores.upkeep.backlog()
    backlog = {
        "batches": waiting.batches,
        "oldest_received_at": iso_utc(waiting.oldest_received_at, exact=True),
    }
    write_rows(sys.stdout, fmt, lines, job_columns(), name="jobs", extra={"backlog": backlog})
    if fmt == "table":
        oldest = (
            f", oldest received {when(waiting.oldest_received_at)}"
            if waiting.oldest_received_at is not None
            else ""
        )
        print(f"\nrollup backlog: {waiting.batches} batches{oldest}")


def job_columns() -> list[Column[JobLine]]:
    def field(name: str) -> Callable[[JobLine], Any]:
        return lambda line: None if line.status is None else getattr(line.status, name)

    def at(name: str, header: str | None = None, table: bool = True) -> Column[JobLine]:
        return time_column(name, field(name), header=header, missing="never", table=table)

    return [
        Column("job", lambda line: line.job),
        at("last_started_at", "LAST RUN"),
        Column("last_outcome", field("last_outcome"), header="OUTCOME"),
        Column(
            "took_seconds",
            lambda line: line.took,
            lambda line: duration(line.took),
            header="TOOK",
            right=True,
        ),
        Column("last_rows", field("last_rows"), header="ROWS", right=True),
        at("last_success_at", "LAST SUCCESS"),
        Column(
            "failures", lambda line: 0 if line.status is None else line.status.failures, right=True
        ),
        Column("running_in", lambda line: line.running_in, header="RUNNING IN"),
        at("lease_expires_at", table=False),
        Column(
            "last_error",
            field("last_error"),
            lambda line: field("last_error")(line) or "",
            header="ERROR",
        ),
    ]
