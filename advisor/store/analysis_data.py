"""The analysis' data: the columns one run reads, and the upkeep that keeps them small.

Two interfaces, each a face of the same tables (launches and their daily rollups, version
spans, summaries and their rollups): :class:`FleetFrames` is what the analysis job reads;
:class:`Upkeep` is what the rollup and retention jobs do to them. Their SQL implementations
here own the engine, the transactions and the chunking; the statements are in
:mod:`advisor.store.frames`, :mod:`advisor.store.launch_daily`, :mod:`advisor.store.rollup`
and :mod:`advisor.store.retention`, run on the connection given.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from typing import Protocol, TypeVar

import numpy as np
import sqlalchemy as sa

from advisor.analysis.frames import FleetData
from advisor.recommend.impact import LaunchRate
from advisor.store import frames, launch_daily, retention, rollup
from advisor.store.engine import SQLITE_BEGIN_OPTION
from advisor.store.launch_daily import DailyState, StoredRows
from advisor.store.retention import RetentionPolicy
from advisor.store.rollup import Backlog, RollupResult

_Done = TypeVar("_Done")


class FleetFrames(Protocol):
    """The fleet as columns for one analysis run.

    Contract: :meth:`load` returns, for the ``days`` days up to ``now`` (Unix seconds):

    - ``daily``: the daily launch rows (advisor.analysis.daily.DailyLaunches) of every UTC
      day the window touches, whole days, from the first day that retention keeps daily rows
      of: each row as ``daily_launches`` computes it from the successful launches (outcome
      ``ok``, a positive duration) stored for its host-day, rolled up or not. Exceptions: a
      host-day whose raw launches retention had started deleting when they were recomputed
      keeps the rows computed before (so a batch not rolled up yet for such a day is left
      out, with a note, as the rollup will leave it); and figures agree with a fresh
      computation to daily_launches' packing precision (about 1e-12), not bit for bit.
      Loading before a rollup and after it gives the same rows.
    - ``launches``: without rows (hosts, apps and versions as ``daily``'s), unless the
      implementation was asked for raw launches: then the launches (outcome ``ok``, with a
      duration) started in ``[now - days * 86400, now]``, as reported.
    - ``changes``: the version changes of the window; ``pressure``: the daily pressure of the
      UTC days the window touches, each summary counted once whether rolled up or not.

    Every enrolled host is in the host table, then the unknown hosts that have pressure or
    launches (by id, with an empty department); ``notes`` says what was left out. The same
    stored data gives the same frames whatever order the database returns rows in, and
    whatever was loaded before. It writes nothing; ``days`` of 0 or less raises ValueError.

    Parts: with ``apps``, ``daily``, ``launches`` and ``changes`` hold only those apps' rows
    (one part of a run, advisor.jobs.analysis); the hosts and pressure stay the whole
    fleet's, and may be read once for every part loaded at the same ``now`` and ``days``
    (the first such load's, even if summaries arrived in between). :meth:`apps` names the
    parts a run at ``now`` has: every app with daily rows in the window, or with launches of
    batches not rolled up yet.
    """

    def load(
        self, *, now: float, days: int = 90, apps: Collection[str] | None = None
    ) -> FleetData: ...

    def apps(self, *, now: float, days: int = 90) -> list[str]:
        """The apps with launches in the ``days`` days up to ``now``, sorted."""
        ...

    def parts(
        self, *, now: float, days: int = 90, also: Collection[str] = ()
    ) -> dict[str, list[str]]:
        """The parts of a run at ``now``: each part's name (``p00`` .. ``p31``; ``other``
        for apps with no stored row) and its apps, sorted, for :meth:`apps` and the apps
        ``also`` names (those with findings). Apps stored together are in one part (on
        PostgreSQL one partition of the daily rows), so loading every part reads the rows
        once; an app is in the same part at every run."""
        ...

    def launch_rates(
        self,
        *,
        now: float,
        days: int,
        apps: Collection[str],
        hosts: Collection[str] | None = None,
    ) -> dict[tuple[str, str], LaunchRate]:
        """How often each host launched each of ``apps`` in the ``days`` days up to ``now``.

        Contract: by (host id, app), a :class:`~advisor.recommend.impact.LaunchRate` whose
        ``launches`` is the sum of the counts of the host's daily launch rows of the app on
        the UTC days the window touches, the rows as :meth:`load` gives them (from the first
        day retention keeps daily rows of; a host-day with launches of batches not rolled up
        yet counted from all its successful raw launches, in place of its stored rows, but
        for the late host-days :meth:`load` leaves out), and whose ``days`` is the host's
        reporting span in the window: from its first to its last day with such a row of *any*
        app, both included (a host that reported on days 3 and 9 only reported over 7 days).
        So the rates are the same before a rollup and after it. Only pairs with launches are
        in it; with ``hosts``, only those hosts' (unknown ones are left out); an empty
        ``apps`` or ``hosts`` gives ``{}``. Writes nothing; ``days`` of 0 or less raises
        ValueError. As many statements for a whole fleet as for one host: a query for all of
        them, never one per host (and, while batches wait for the rollup, a few a day they
        fall on).
        """
        ...


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

    Launches: :meth:`roll_up` also recomputes the daily launch rows of every host-day the
    batches' successful launches fall on, from all raw launches of that host-day, in the same
    transaction (:mod:`advisor.store.launch_daily`); a host-day on a day whose raw launches
    retention has started deleting is left as it was and counted in
    ``RollupResult.launch_days_late``. Recomputing again changes no row.
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
    """:class:`FleetFrames` read from ``engine``, in one snapshot (REPEATABLE READ on
    PostgreSQL; a SQLite read transaction is one).

    ``raw_launches`` also loads the raw launches into ``launches`` (for a reader that wants
    every launch; the analysis reads ``daily`` only, so the job leaves them out: at 10,000
    hosts they cost more than the daily rows, docs/benchmarks.md). ``incremental`` keeps the
    daily rows of the last load in memory (from its window's first day on) and fetches only
    the rows changed since, by their change sequence (:mod:`advisor.store.launch_daily`):
    host-days rewritten since replace the kept ones, days retention has passed are dropped,
    and a window reaching further back than the kept one, or a database whose sequence went
    back, loads afresh.
    It saves re-reading every row each run at the price of keeping them between runs.
    """

    def __init__(
        self, engine: sa.Engine, *, raw_launches: bool = False, incremental: bool = False
    ) -> None:
        self._engine = engine
        self._raw_launches = raw_launches
        self._incremental = incremental
        self._kept: _KeptRows | None = None
        self._shared: frames.SharedFrames | None = None
        self._lock = threading.Lock()

    def load(self, *, now: float, days: int = 90, apps: Collection[str] | None = None) -> FleetData:
        first_day, _ = frames.window_days(now, days)
        with self._lock, self._engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn.execution_options(isolation_level="REPEATABLE READ")
            state = launch_daily.read_state(conn)
            stored = self._stored(conn, state, first_day) if self._incremental else None
            shared = self._shared if apps is not None else None
            if shared is None or (shared.now, shared.days) != (now, days):
                shared = frames.read_shared(conn, now=now, days=days)
            # Kept for the next part at this now; a whole-fleet load keeps nothing.
            self._shared = shared if apps is not None else None
            return frames.read_fleet_data(
                conn,
                now=now,
                days=days,
                state=state,
                stored=stored,
                raw_launches=self._raw_launches,
                apps=apps,
                shared=shared,
            )

    def parts(
        self, *, now: float, days: int = 90, also: Collection[str] = ()
    ) -> dict[str, list[str]]:
        wanted = {*self.apps(now=now, days=days), *also}
        with self._engine.connect() as conn:
            part_of = launch_daily.app_parts(conn, wanted)
        found: dict[str, list[str]] = {}
        for app in sorted(wanted):
            part = part_of.get(app)
            found.setdefault("other" if part is None else f"p{part:02d}", []).append(app)
        return dict(sorted(found.items()))

    def apps(self, *, now: float, days: int = 90) -> list[str]:
        first_day, last_day = frames.window_days(now, days)
        with self._engine.connect() as conn:
            from_day = max(first_day, launch_daily.read_state(conn).kept_from_day)
            return launch_daily.apps_of(conn, from_day=from_day, to_day=last_day)

    def launch_rates(
        self,
        *,
        now: float,
        days: int,
        apps: Collection[str],
        hosts: Collection[str] | None = None,
    ) -> dict[tuple[str, str], LaunchRate]:
        first_day, last_day = frames.window_days(now, days)
        if not apps or (hosts is not None and not hosts):
            return {}
        with self._engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn.execution_options(isolation_level="REPEATABLE READ")
            state = launch_daily.read_state(conn)
            return launch_daily.launch_rates(
                conn,
                from_day=max(first_day, state.kept_from_day),
                to_day=last_day,
                recompute_from_day=state.recompute_from_day,
                apps=apps,
                hosts=hosts,
            )

    def _stored(self, conn: sa.Connection, state: DailyState, first_day: int) -> StoredRows:
        """The stored daily rows from ``first_day`` on (every later day), from the kept
        rows and what changed since when that is exact, else read afresh."""
        from_day = max(first_day, state.kept_from_day)
        kept = self._kept
        if kept is None or from_day < kept.from_day or state.sequence < kept.sequence:
            rows = launch_daily.read_rows(conn, from_day=from_day)
        else:
            rows = kept.rows.take(kept.rows.day >= from_day)
            if state.sequence > kept.sequence:
                changed = launch_daily.read_rows(
                    conn, from_day=from_day, after_sequence=kept.sequence
                )
                rows = StoredRows.concat([_without_host_days_of(rows, changed), changed])
        self._kept = _KeptRows(from_day=from_day, sequence=state.sequence, rows=rows)
        return rows


@dataclass(frozen=True)
class _KeptRows:
    """The daily rows of an incremental load: days from ``from_day`` on, as of ``sequence``."""

    from_day: int
    sequence: int
    rows: StoredRows


def _without_host_days_of(rows: StoredRows, changed: StoredRows) -> StoredRows:
    """``rows`` without the host-days ``changed`` has rows of (a rewritten host-day's rows are
    all in ``changed``, and a rewrite never removes a group: launch_daily's docstring)."""
    if len(rows) == 0 or len(changed) == 0:
        return rows
    first = int(min(rows.day.min(), changed.day.min()))
    span = int(max(rows.day.max(), changed.day.max())) - first + 1
    keys = changed.host.astype(np.int64) * span + (changed.day - first)
    row_keys = rows.host.astype(np.int64) * span + (rows.day - first)
    return rows.take(~np.isin(row_keys, keys))


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
        raw_from_day, kept_from_day = retention.launch_horizons(policy, now)
        with self._writer.begin() as conn:
            # Committed before any delete: recomputation stops short of what goes.
            launch_daily.raise_horizons(
                conn, raw_from_day=raw_from_day, kept_from_day=kept_from_day
            )
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
