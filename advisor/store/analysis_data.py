"""The analysis' data: the columns one run reads, and the upkeep that keeps them small.

Two interfaces, each a face of the same tables (launches, version spans, summaries and their
rollups): :class:`FleetFrames` is what the analysis job reads; :class:`Upkeep` is what the
rollup and retention jobs do to them. The SQL is in :mod:`advisor.store.frames`,
:mod:`advisor.store.rollup` and :mod:`advisor.store.retention`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import sqlalchemy as sa

from advisor.analysis.frames import FleetData
from advisor.store import frames, retention, rollup
from advisor.store.retention import RetentionPolicy
from advisor.store.rollup import Backlog, RollupResult


class FleetFrames(Protocol):
    """The fleet as columns for one analysis run.

    Contract: :meth:`load` returns the launches and version changes of the ``days`` days up to
    ``now`` and the daily pressure of the UTC days that window touches; every enrolled host is
    in its host table, launches of unknown hosts are kept (under a host with an empty
    department) and ``notes`` says what was left out. It writes nothing.
    """

    def load(self, *, now: float, days: int = 90) -> FleetData: ...


class Upkeep(Protocol):
    """Rollups and retention: what the scheduled jobs do to the stored measurements.

    Contract: :meth:`roll_up` merges every batch's summaries not rolled up yet (received before
    ``received_before`` when given) into hourly and daily rollups exactly once, committing
    ``chunk_batches`` batches at a time and calling ``between_chunks`` after each chunk (which
    may raise to stop: what was committed stays); rolling up again adds nothing.
    :meth:`backlog` counts the batches waiting for it. :meth:`apply_retention` deletes what
    ``policy`` no longer keeps at ``now`` and returns the rows deleted per table (every table
    of :data:`advisor.store.retention.TABLES`, 0 included).
    """

    def roll_up(
        self,
        *,
        now: float,
        chunk_batches: int = rollup.DEFAULT_CHUNK_BATCHES,
        between_chunks: Callable[[], None] | None = None,
        received_before: float | None = None,
    ) -> RollupResult: ...

    def backlog(self) -> Backlog: ...

    def apply_retention(
        self,
        policy: RetentionPolicy,
        *,
        now: float,
        between_chunks: Callable[[], None] | None = None,
    ) -> dict[str, int]: ...


class SqlFleetFrames:
    """:class:`FleetFrames` read from ``engine``."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def load(self, *, now: float, days: int = 90) -> FleetData:
        return frames.load_fleet_data(self._engine, now=now, days=days)


class SqlUpkeep:
    """:class:`Upkeep` on ``engine``."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def roll_up(
        self,
        *,
        now: float,
        chunk_batches: int = rollup.DEFAULT_CHUNK_BATCHES,
        between_chunks: Callable[[], None] | None = None,
        received_before: float | None = None,
    ) -> RollupResult:
        return rollup.roll_up(
            self._engine,
            now=now,
            chunk_batches=chunk_batches,
            between_chunks=between_chunks,
            received_before=received_before,
        )

    def backlog(self) -> Backlog:
        return rollup.backlog(self._engine)

    def apply_retention(
        self,
        policy: RetentionPolicy,
        *,
        now: float,
        between_chunks: Callable[[], None] | None = None,
    ) -> dict[str, int]:
        return retention.apply_retention(
            self._engine, policy, now=now, between_chunks=between_chunks
        )
