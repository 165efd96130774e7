"""``recommend``: one recommendation run now, as the scheduled ``recommend`` job does after
each analysis (same lease: it never runs beside another advisor's run), whether or not an
analysis finished since; prints what it stored, what the loop did, and the top five.

Exit status: 0 done (or another advisor was running it); 1 when the run failed or the
database could not be used.
"""

from __future__ import annotations

import argparse
from decimal import Decimal
from typing import TYPE_CHECKING

from advisor.cli.args import end_of_day_or_instant
from advisor.cli.common import add_group, fail, open_stores
from advisor.cli.progress import Progress
from advisor.cli.units import duration, when
from advisor.config import AdvisorConfig
from advisor.text import printable

if TYPE_CHECKING:
    from advisor.cli.common import Commands
    from advisor.recommend.engine import Recommendation
    from advisor.recommend.verify import Realised
    from advisor.recommend_job import RecommendOutcome

TOP = 5

DESCRIPTION = """\
Run the recommendations now: follow the approved ones (rolled out once the inventory shows
the change on their hosts; verified, or reopened with a roll back, once [recommend]
verify_days have passed and the saving is measured against hosts not changed), then turn the
open findings, the fleet's last two weeks, the catalog and the imported costs into ranked,
costed recommendations and store them (a review decision is never lost). The scheduled
`recommend` job does the same after each analysis inside `serve`; this takes the same
lease, so it never runs beside another advisor's run."""

EXAMPLES = """\
  fleetsight-advisor recommend
  fleetsight-advisor recommend --at 2025-12-01     # as of the end of that UTC day (a replay)
"""


def add_parser(commands: Commands) -> None:
    """Register ``recommend``."""
    parser = add_group(
        commands,
        "recommend",
        help="run the recommendations now: the rollout loop, then the engine",
        description=DESCRIPTION,
        examples=EXAMPLES,
    )
    parser.add_argument(
        "--at",
        type=end_of_day_or_instant,
        metavar="DATE",
        help="as of DATE instead of now: YYYY-MM-DD (the end of that UTC day) or "
        "YYYY-MM-DDTHH:MM (UTC); what it stores is stamped then",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, config: AdvisorConfig) -> int:
    """``recommend``."""
    from prometheus_client import CollectorRegistry

    from advisor.jobs.metrics import JobMetrics
    from advisor.jobs.names import RECOMMEND
    from advisor.jobs.recommend import RecommendWork
    from advisor.jobs.runner import JobRunner
    from advisor.jobs.tasks import JOB_TABLES, default_owner, recommend_settings

    stores = open_stores(config, create=True)
    try:
        with Progress("recommend") as progress:
            owner = default_owner()
            work = RecommendWork(
                stores,
                recommend_settings(config),
                owner=owner,
                lease_seconds=config.jobs.lease,
                at=args.at,
                always=True,
                progress=progress.phase,
            )
            runner = JobRunner(
                RECOMMEND,
                work,
                stores.leases,
                interval=config.jobs.recommend_interval,
                lease_seconds=config.jobs.lease,
                max_backoff=config.jobs.max_backoff,
                metrics=JobMetrics(CollectorRegistry(), JOB_TABLES),
                owner=owner,
            )
            progress.phase("starting")
            report = runner.run_now()
    finally:
        stores.close()
    if report.outcome == "skipped":
        print("recommend: another advisor is running it now; nothing done")
        return 0
    if work.last is None:
        fail(f"recommend {report.outcome}: {printable(report.error or '')}")
    for line in summary_lines(work.last):
        print(line)
    if report.outcome != "success":
        print(f"recommend {report.outcome}: {printable(report.error or '')}")
        return 1
    return 0


def summary_lines(outcome: RecommendOutcome) -> list[str]:
    """What ``recommend`` prints of a run."""
    lines = []
    s = outcome.summary
    if s is not None:
        lines.append(
            f"recommendations: {s.new} new, {s.updated} updated ({s.changed} changed), "
            f"{s.obsoleted} obsoleted"
            + (f", {s.reproposed} proposed again" if s.reproposed else "")
            + (
                f", {s.returned_from_deferral} back from deferral"
                if s.returned_from_deferral
                else ""
            )
            + (f"; {len(outcome.kept)} kept as decided" if outcome.kept else "")
        )
        lines.append(
            f"read {outcome.hosts} hosts, {outcome.apps} apps "
            f"({outcome.parts} {'part' if outcome.parts == 1 else 'parts'}) and "
            f"{outcome.findings} open findings as of {when(outcome.as_of)} "
            f"(facts {duration(outcome.load_seconds)}, engine {duration(outcome.engine_seconds)})"
        )
    loop = outcome.loop
    lines.append(
        f"loop: {len(loop.rolled_out)} rolled out, {len(loop.verified)} verified, "
        f"{len(loop.reopened)} reopened; {len(loop.waiting)} approved waiting for their hosts, "
        f"{len(loop.measuring)} rolled out waiting for their days"
    )
    for key, realised in loop.verified:
        lines.append(f"  verified {printable(key)}: {realised_text(realised)}")
    for key, realised in loop.reopened:
        lines.append(f"  reopened {printable(key)}: {realised_text(realised)}")
    if outcome.recommendations:
        shown = outcome.recommendations[:TOP]
        lines.append(f"top {len(shown)} of {len(outcome.recommendations)}:")
        lines.extend(_table(shown))
    for note in outcome.notes:
        lines.append(f"note: {printable(note)}")
    return lines


def realised_text(realised: Realised) -> str:
    """``saves 0.41 s a launch [0.35, 0.47] on 12 hosts against 40``."""
    seconds = realised.seconds_per_launch
    if seconds is None:
        return "not measured"
    verb = "saves" if seconds.estimate >= 0 else "costs"
    sign = 1 if seconds.estimate >= 0 else -1
    low, high = sorted((sign * seconds.low, sign * seconds.high))
    return (
        f"{verb} {sign * seconds.estimate:.2f} s a launch [{low:.2f}, {high:.2f}] on "
        f"{realised.hosts} hosts against {realised.control_hosts} not changed "
        f"({realised.method.replace('_', ' ')})"
    )


def _table(recs: tuple[Recommendation, ...]) -> list[str]:
    rows = [("RANK", "NET/YEAR", "PAYBACK", "TITLE")]
    for r in recs:
        rows.append(
            (
                str(r.rank),
                money(r.net_benefit_per_year, r.currency),
                payback(r.economics.payback_months),
                printable(r.title) + (" (pilot first)" if r.pilot is not None else ""),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return [
        f"  {row[0]:<{widths[0]}}  {row[1]:>{widths[1]}}  {row[2]:>{widths[2]}}  {row[3]}"
        for row in rows
    ]


def money(amount: Decimal | None, currency: str) -> str:
    """A year's amount, whole, with its currency.

    >>> money(Decimal("12345.67"), "EUR"), money(None, "EUR")
    ('EUR 12,346', '-')
    """
    return "-" if amount is None else f"{currency} {amount:,.0f}"


def payback(months: float | None) -> str:
    """``3.5 months``; ``never`` when the saving never pays the cost back.

    >>> payback(3.46), payback(0.0), payback(None)
    ('3.5 months', 'at once', 'never')
    """
    if months is None:
        return "never"
    if months == 0:
        return "at once"
    return f"{months:.1f} months"
