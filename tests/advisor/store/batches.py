"""Batches for the rollup and retention tests, summarised by the agent's own code.

Each interval's summaries come from :func:`agent.summary.summarise` over known samples, so a
test knows the exact count, sum, min and max an hour or a day must roll up to. Sample values
are multiples of 1/8: their sums are exact in binary floating point, whatever the order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from advisor.store.sql import SqlStore
from agent.shared.wire import Batch, HostIdentity, Interval, LaunchEvent
from agent.summary import summarise

DAY0 = 1_763_942_400.0
"""2025-11-24 00:00:00 UTC: a day (and hour) boundary."""
HOUR = 3600.0
DAY = 86400.0
MINUTE = 60.0

Series = tuple[str, tuple[tuple[str, str], ...]]
CPU: Series = ("cpu_utilization_ratio", ())
RSS: Series = ("app_rss_bytes", (("app", "firefox"),))


def samples(seed: int, n: int = 12) -> list[float]:
    """``n`` distinct, exactly summable values that differ per ``seed``."""
    return [((seed * 7 + i * 5) % 29) / 8 for i in range(n)]


def batch(
    host_id: str,
    sequence: int,
    intervals: Sequence[tuple[float, Mapping[Series, list[float]]]],
    *,
    launches: Sequence[float] = (),
) -> Batch:
    """A batch with one-minute intervals starting at the given times, and launches."""
    return Batch(
        batch_id=f"{host_id}-{sequence:06d}",
        sequence=sequence,
        created_at=max((start for start, _ in intervals), default=DAY0) + MINUTE,
        host=HostIdentity(host_id=host_id, hostname=f"{host_id}.example", agent_version="0.1.0"),
        intervals=[
            Interval(
                start=start,
                end=start + MINUTE,
                metrics=[
                    summarise(name, dict(labels), values)
                    for (name, labels), values in sorted(series.items())
                ],
            )
            for start, series in intervals
        ],
        launches=[
            LaunchEvent(
                app="libreoffice",
                version="4:7.4.7-1+deb12u8",
                method="passive",
                outcome="ok",
                started_at=at,
                duration_seconds=2.5,
                ready_signal="cpu_settled",
                start_kind="cold",
            )
            for at in launches
        ],
    )


def enrol(store: SqlStore, *host_ids: str) -> None:
    """Enrol hosts so their batches can be stored."""
    secret, _ = store.create_token(department="finance", expires_at=DAY0 + 400 * DAY, now=DAY0)
    for host_id in host_ids:
        store.enrol(
            token=secret,
            host_id=host_id,
            hostname=f"{host_id}.example",
            agent_version="0.1.0",
            now=DAY0,
        )
