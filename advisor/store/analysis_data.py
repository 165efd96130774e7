"""The analysis' data: the columns one run reads, and the upkeep that keeps them small.

Two interfaces, each a face of the same tables (launches, version spans, summaries and their
rollups): :class:`FleetFrames` is what the analysis job reads; :class:`Upkeep` is what the
rollup and retention jobs do to them. Their SQL implementations here own the engine, the
transactions and the chunking; the statements are in :mod:`advisor.store.frames`,
:mod:`advisor.store.rollup` and :mod:`advisor.store.retention`, run on the connection given.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Protocol, TypeVar

import sqlalchemy as sa

from advisor.analysis.frames import FleetData
from advisor.store import frames, retention, rollup
from advisor.store.engine import SQLITE_BEGIN_OPTION
from advisor.store.retention import RetentionPolicy
from advisor.store.rollup import Backlog, RollupResult

_Done = TypeVar("_Done")


class FleetFrames(Protocol):
    """The fleet as columns for one analysis run.

    Contract: :meth:`load` returns the launches (outcome ``ok``, with a duration) and version
    changes of the ``days`` days up to ``now`` (Unix seconds) and the daily pressure of the
    UTC days that window touches, each summary counted once whether rolled up or not. Every
    enrolled host is in its host table; launches of unknown hosts are kept (under a host with
    an empty department) and ``notes`` says what was left out. The same stored data gives the
    same frames whatever order the database returns rows in. It writes nothing; ``days`` of 0
    or less raises ValueError.
    """

    def load(self, *, now: float, days: int = 90) -> FleetData: ...


class Upkeep(Protocol):
    """Rollups and retention: what the scheduled jobs do to the stored measurements.

    Contract: times are Unix seconds. :meth:`roll_up` merges every batch's summaries not
    rolled up yet (received before ``received_before`` when given) into hourly and daily
    rollups exactly once, committing ``chunk_batches`` batches at a time (fewer than 1 raises
    ValueError) and calling ``between_chunks`` after each full chunk (which may raise to stop:
    what was committed stays); rolling up again adds nothing. :meth:`backlog` counts the
    batches waiting for it. :meth:`apply_retention` deletes what ``policy`` no longer keeps at
    ``now`` (see :mod:`advisor.store.retention`; never a summary whose batch waits for the
    rollup), ``policy.chunk_rows`` rows per transaction with ``between_chunks`` as for
    :meth:`roll_up`, and returns the rows deleted per table (every table of
    :data:`advisor.store.retention.TABLES`, 0 included).
    """

    def roll_up(
        self,
        *,
        now: float,
        chunk_batches: int = rollup.DEFAULT_CHUNK_BATCHES,
        between_chunks: Callable[[], None] | None = None,
        received_before: float | None = None,
    ) -> RollupResult:
        """Roll up the batches waiting; ``now`` stamps the batches and the rollup rows."""
        ...

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
        with self._engine.connect() as conn:
            return frames.read_fleet_data(conn, now=now, days=days)


class SqlUpkeep:
    """:class:`Upkeep` on ``engine``: each chunk is one transaction, and the statements of
    :mod:`advisor.store.rollup` and :mod:`advisor.store.retention` run in it."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        # A chunk reads, then writes: on SQLite it takes the write lock up front.
        self._writer = engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})

    def roll_up(
        self,
        *,
        now: float,
        chunk_batches: int = rollup.DEFAULT_CHUNK_BATCHES,
        between_chunks: Callable[[], None] | None = None,
        received_before: float | None = None,
    ) -> RollupResult:
        if chunk_batches < 1:
            raise ValueError(f"chunk_batches must be at least 1, not {chunk_batches}")
        chunk = functools.partial(
            self._roll_up_chunk, now=now, limit=chunk_batches, received_before=received_before
        )
        done = _chunks(chunk, lambda result: result.batches, chunk_batches, between_chunks)
        return sum(done, RollupResult())

    def backlog(self) -> Backlog:
        with self._engine.connect() as conn:
            return rollup.read_backlog(conn)

    def apply_retention(
        self,
        policy: RetentionPolicy,
        *,
        now: float,
        between_chunks: Callable[[], None] | None = None,
    ) -> dict[str, int]:
        deleted = dict.fromkeys(retention.TABLES, 0)
        for table, condition in retention.deletable(policy, now):
            chunk = functools.partial(self._delete_chunk, table, condition, policy.chunk_rows)
            deleted[table.name] = sum(_chunks(chunk, int, policy.chunk_rows, between_chunks))
        return deleted

    def _roll_up_chunk(
        self, *, now: float, limit: int, received_before: float | None
    ) -> RollupResult:
        with self._writer.begin() as conn:
            return rollup.roll_up_chunk(conn, now=now, limit=limit, received_before=received_before)

    def _delete_chunk(self, table: sa.Table, condition: sa.ColumnElement[bool], limit: int) -> int:
        with self._writer.begin() as conn:
            return retention.delete_chunk(conn, table, condition, limit)


def _chunks(
    chunk: Callable[[], _Done],
    size: Callable[[_Done], int],
    limit: int,
    between_chunks: Callable[[], None] | None,
) -> Iterator[_Done]:
    """What ``chunk`` (one committed transaction) did, chunk after chunk, until the ``size``
    of one is under ``limit`` (nothing more to do); ``between_chunks`` is called after every
    full chunk (the job runner renews its lease there, or raises to stop early)."""
    while True:
        done = chunk()
        yield done
        if size(done) < limit:
            return
        if between_chunks is not None:
            between_chunks()
