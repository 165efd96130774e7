"""Daily launch rollups (``launch_daily``): written from the raw launches, read as columns.

A row is one host, app, version, start kind and UTC day of successful launches, with the
figures of :class:`advisor.analysis.daily.DailyLaunches` (the one definition of a row:
:func:`advisor.analysis.daily.daily_launches` computes them, nothing here does statistics).

**Writing: a host-day at a time, from its raw launches.** Quantiles cannot be merged, so
rows are never updated in place: when the rollup takes batches, the (host, UTC day) pairs
their successful launches fall on are recomputed from *every* raw launch of those host-days
(outcome ``ok``, a positive duration, whichever batch brought it) and their rows replaced in
the rollup's transaction (:func:`recompute`). A batch delivered days late recomputes the past
day it measured; recomputing a host-day again gives the same rows, so a batch rolled up twice
(or two batches of one host-day) changes nothing. Figures agree with a fresh computation to
the precision of ``daily_launches``' packed quantiles (about 1e-12 of a log load time), not
bit for bit: that precision depends on which host-days are computed together.

**Horizons** (``launch_daily_state``): retention deletes raw launches older than
``launches_days``, cutting the oldest kept day short. A host-day recomputed from what is left
would lose launches, so only days from ``raw_from_day`` on (the first day no raw launch of
which was deleted; retention raises it before deleting) and from ``kept_from_day`` on (the
first day whose daily rows retention keeps) are recomputed. A late batch for an older day is
counted (``RollupResult.launch_days_late``) and leaves the day's rows as they were; a load
leaves such a batch's launches out the same way, with a note.

**Change sequence.** Every rewrite takes the next ``sequence`` by updating the state row and
stamps its rows with it. The row lock is held until the transaction commits, so a reader's
snapshot that shows sequence N shows every change up to N and none after: an incremental
reader fetches rows with a sequence above the one it last saw, replaces those host-days, and
drops days retention has passed (recomputation never removes a group of a host-day: raw
launches of a day from ``raw_from_day`` on are only ever added). The same lock serialises
recomputation with retention raising the horizons.

**Reading** (:func:`read_rows`): on PostgreSQL by binary COPY (:mod:`advisor.store.binary_copy`:
every column is a non-null fixed-size number, so a block of rows is one ``np.frombuffer``); on
SQLite, a cursor. Codes are the dictionary tables' (``launch_daily_hosts`` ...);
:func:`read_names` gives their names. :func:`launch_rates` sums the counts per host and app in
the database, for the launches a day a finding's cost is counted in (advisor.recommend.impact),
and counts host-days not rolled up yet from their raw launches, as a load does.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from advisor.analysis.daily import DAY_SECONDS, DailyLaunches, daily_launches
from advisor.analysis.frames import HostTable, LaunchFrame
from advisor.recommend.impact import LaunchRate
from advisor.store import binary_copy
from advisor.store.models import (
    BATCHES,
    LAUNCHES,
    LaunchDailyApp,
    LaunchDailyHost,
    LaunchDailyRow,
    LaunchDailyState,
    LaunchDailyVersion,
    table_of,
)

LAUNCH_DAILY = table_of(LaunchDailyRow)
DAILY_HOSTS = table_of(LaunchDailyHost)
DAILY_APPS = table_of(LaunchDailyApp)
DAILY_VERSIONS = table_of(LaunchDailyVersion)
DAILY_STATE = table_of(LaunchDailyState)

FIGURES = ("median", "p10", "p25", "p75", "p90", "log_mean", "log_var")
"""The float columns of a row, as named in DailyLaunches and ``launch_daily``."""
COLUMNS = ("host", "day", "app", "version", "cold", "count", *FIGURES)
"""Every column :func:`read_rows` reads, in its order."""

HostDay = tuple[str, int]
"""(host id, UTC day number): the unit of recomputation."""

_STATE_ID = 1
_KEYS_PER_STATEMENT = 500
_HOSTS_PER_DAY_QUERY = 10_000  # one day's range scanned once for a whole fleet's host-days
_HOSTS_PER_RATES_QUERY = 10_000  # more: every host's rates read, the wanted ones kept


def day_numbers(started_at: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    """UTC day numbers as :mod:`advisor.analysis.daily` defines them."""
    return np.floor(started_at / DAY_SECONDS).astype(np.int64)


def first_whole_day(cutoff: float) -> int:
    """The first UTC day that starts at or after ``cutoff``: the first day retention with
    that cutoff leaves whole.

    >>> first_whole_day(86400.0), first_whole_day(86401.0)
    (1, 2)
    """
    return math.ceil(cutoff / DAY_SECONDS)


# -- state --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DailyState:
    """The state row (see the module docstring); all 0 while there is none."""

    sequence: int = 0
    raw_from_day: int = 0
    kept_from_day: int = 0

    @property
    def recompute_from_day(self) -> int:
        """The first day a host-day may be recomputed on."""
        return max(self.raw_from_day, self.kept_from_day)


def read_state(conn: sa.Connection) -> DailyState:
    row = conn.execute(
        sa.select(
            DAILY_STATE.c.sequence, DAILY_STATE.c.raw_from_day, DAILY_STATE.c.kept_from_day
        ).where(DAILY_STATE.c.id == _STATE_ID)
    ).one_or_none()
    return DailyState() if row is None else DailyState(*row)


def take_sequence(conn: sa.Connection) -> DailyState:
    """The state with the next change sequence, taken by updating the state row: its lock is
    held until the caller's transaction ends (see the module docstring)."""
    insert = _insert(conn, DAILY_STATE).values(
        id=_STATE_ID, sequence=1, raw_from_day=0, kept_from_day=0
    )
    statement = insert.on_conflict_do_update(
        index_elements=[DAILY_STATE.c.id], set_={"sequence": DAILY_STATE.c.sequence + 1}
    ).returning(DAILY_STATE.c.sequence, DAILY_STATE.c.raw_from_day, DAILY_STATE.c.kept_from_day)
    return DailyState(*conn.execute(statement).one())


def raise_horizons(
    conn: sa.Connection, *, raw_from_day: int | None, kept_from_day: int | None
) -> None:
    """Move ``raw_from_day`` and ``kept_from_day`` up to the given days (never down; None
    leaves one as it is). Retention calls it, and commits, before it deletes."""
    if raw_from_day is None and kept_from_day is None:
        return
    greatest = sa.func.greatest if conn.dialect.name == "postgresql" else sa.func.max
    insert = _insert(conn, DAILY_STATE).values(
        id=_STATE_ID, sequence=0, raw_from_day=raw_from_day or 0, kept_from_day=kept_from_day or 0
    )
    changes: dict[str, Any] = {}
    if raw_from_day is not None:
        changes["raw_from_day"] = greatest(DAILY_STATE.c.raw_from_day, raw_from_day)
    if kept_from_day is not None:
        changes["kept_from_day"] = greatest(DAILY_STATE.c.kept_from_day, kept_from_day)
    conn.execute(insert.on_conflict_do_update(index_elements=[DAILY_STATE.c.id], set_=changes))


def _insert(conn: sa.Connection, table: sa.Table) -> Any:
    return postgresql.insert(table) if conn.dialect.name == "postgresql" else sqlite.insert(table)


# -- which host-days -----------------------------------------------------------------------


def _usable() -> sa.ColumnElement[bool]:
    return sa.and_(LAUNCHES.c.outcome == "ok", LAUNCHES.c.duration_seconds > 0)


def batch_host_days(conn: sa.Connection, batch_keys: Collection[tuple[str, str]]) -> set[HostDay]:
    """The host-days the successful launches of these batches (host_id, batch_id) fall on."""
    found: set[HostDay] = set()
    keys = list(batch_keys)
    for start in range(0, len(keys), _KEYS_PER_STATEMENT):
        part = keys[start : start + _KEYS_PER_STATEMENT]
        rows = conn.execute(
            sa.select(LAUNCHES.c.host_id, LAUNCHES.c.started_at).where(
                # The first test lets the batch_id index find the rows; the pair decides.
                LAUNCHES.c.batch_id.in_({batch_id for _, batch_id in part}),
                sa.tuple_(LAUNCHES.c.host_id, LAUNCHES.c.batch_id).in_(part),
                _usable(),
            )
        ).all()
        found |= _host_days(rows)
    return found


def pending_host_days(conn: sa.Connection, *, from_day: int, to_day: int) -> set[HostDay]:
    """The host-days from ``from_day`` to ``to_day`` that successful launches of batches not
    rolled up yet fall on."""
    query = (
        sa.select(LAUNCHES.c.host_id, LAUNCHES.c.started_at)
        .join(
            BATCHES,
            sa.and_(
                BATCHES.c.host_id == LAUNCHES.c.host_id, BATCHES.c.batch_id == LAUNCHES.c.batch_id
            ),
        )
        .where(
            BATCHES.c.rolled_up_at.is_(None),
            _usable(),
            # A second to spare: the day is decided by day_numbers(), not by SQL.
            LAUNCHES.c.started_at >= from_day * DAY_SECONDS - 1,
            LAUNCHES.c.started_at < (to_day + 1) * DAY_SECONDS + 1,
        )
    )
    return {hd for hd in _host_days(conn.execute(query).all()) if from_day <= hd[1] <= to_day}


def _host_days(rows: Iterable[Any]) -> set[HostDay]:
    pairs = list(rows)
    if not pairs:
        return set()
    days = day_numbers(np.fromiter((row[1] for row in pairs), np.float64, len(pairs)))
    return {(row[0], int(day)) for row, day in zip(pairs, days.tolist(), strict=True)}


# -- computing and writing -----------------------------------------------------------------


def compute(
    conn: sa.Connection, host_days: Collection[HostDay], *, apps: Collection[str] | None = None
) -> DailyLaunches:
    """The daily rows of ``host_days`` from their raw launches, by
    :func:`~advisor.analysis.daily.daily_launches`; only those of ``apps`` when given.
    ``hosts`` holds the host ids only (hardware unknown); writes nothing."""
    wanted = set(host_days)
    columns: list[list[Any]] = [[] for _ in range(6)]
    of_apps = [] if apps is None else [LAUNCHES.c.app.in_(sorted(apps))]
    for day, host_ids in _hosts_by_day(wanted):
        rows = conn.execute(
            sa.select(
                LAUNCHES.c.host_id,
                LAUNCHES.c.app,
                LAUNCHES.c.version,
                LAUNCHES.c.start_kind,
                LAUNCHES.c.started_at,
                LAUNCHES.c.duration_seconds,
            ).where(
                _usable(),
                # A day's launches of many hosts (the started_at index), or of a few (the
                # host_id one): the planner chooses. A second to spare each side: the day is
                # decided by day_numbers(), not by SQL.
                LAUNCHES.c.started_at >= day * DAY_SECONDS - 1,
                LAUNCHES.c.started_at < (day + 1) * DAY_SECONDS + 1,
                LAUNCHES.c.host_id.in_(host_ids),
                *of_apps,
            )
        ).all()
        if rows:
            for column, values in zip(columns, zip(*rows, strict=True), strict=True):
                column.extend(values)
    return daily_launches(_frame(columns, wanted))


def _hosts_by_day(host_days: Collection[HostDay]) -> list[tuple[int, list[str]]]:
    """Each day's hosts, in lists of at most :data:`_HOSTS_PER_DAY_QUERY`, by day and host."""
    by_day: dict[int, list[str]] = {}
    for host_id, day in sorted(host_days):
        by_day.setdefault(day, []).append(host_id)
    return [
        (day, hosts[start : start + _HOSTS_PER_DAY_QUERY])
        for day, hosts in sorted(by_day.items())
        for start in range(0, len(hosts), _HOSTS_PER_DAY_QUERY)
    ]


def _frame(columns: list[list[Any]], wanted: set[HostDay]) -> LaunchFrame:
    """The launches of ``columns`` (host, app, version, start kind, start, duration) that fall
    on ``wanted``, in a canonical order: the same launches give the same frame."""
    host_ids, apps, versions, kinds, started, durations = columns
    hosts = sorted({host_id for host_id, _ in wanted})
    app_names = sorted(set(apps))
    version_names = sorted({v or "" for v in versions} | {""})
    n = len(host_ids)
    host_code = {name: code for code, name in enumerate(hosts)}
    app_code = {name: code for code, name in enumerate(app_names)}
    version_code = {name: code for code, name in enumerate(version_names)}
    host = np.fromiter((host_code.get(h, -1) for h in host_ids), np.int32, n)
    started_at = np.asarray(started, dtype=np.float64)
    day = day_numbers(started_at)
    keep = np.fromiter(
        ((h, d) in wanted for h, d in zip(host_ids, day.tolist(), strict=True)), np.bool_, n
    )
    app = np.fromiter((app_code[a] for a in apps), np.int32, n)
    version = np.fromiter((version_code[v or ""] for v in versions), np.int32, n)
    cold = np.fromiter((k == "cold" for k in kinds), np.bool_, n)
    duration = np.asarray(durations, dtype=np.float64)
    # Sums over a group in the order of the frame: a canonical order makes them repeatable.
    order = np.lexsort((duration, started_at, cold, version, app, host))
    order = order[keep[order]]
    nan = np.full(len(hosts), np.nan)
    return LaunchFrame(
        hosts=HostTable(hosts, [""] * len(hosts), nan, np.zeros(len(hosts), np.bool_), nan),
        apps=app_names,
        versions=version_names,
        host=host[order],
        app=app[order],
        version=version[order],
        method=np.zeros(len(order), np.int32),
        started_at=started_at[order],
        duration=duration[order],
        cold=cold[order],
    )


@dataclass(frozen=True, slots=True)
class Recomputed:
    """What :func:`recompute` did: host-days rewritten, rows written, and host-days left
    alone because their raw launches are past retention."""

    host_days: int = 0
    rows: int = 0
    late: int = 0


def recompute(conn: sa.Connection, host_days: Collection[HostDay]) -> Recomputed:
    """Replace the daily rows of ``host_days`` with rows computed from their raw launches, in
    the caller's transaction (which then holds the state row until it ends). Host-days before
    the recompute horizon are left as they are (counted as ``late``)."""
    if not host_days:
        return Recomputed()
    state = take_sequence(conn)
    wanted = {hd for hd in host_days if hd[1] >= state.recompute_from_day}
    late = len(set(host_days)) - len(wanted)
    if not wanted:
        return Recomputed(late=late)
    daily = compute(conn, wanted)
    host_codes = ensure_codes(conn, DAILY_HOSTS, sorted({host_id for host_id, _ in wanted}))
    app_codes = ensure_codes(conn, DAILY_APPS, daily.apps)
    version_codes = ensure_codes(conn, DAILY_VERSIONS, daily.versions)
    keys = sorted((host_codes[host_id], day) for host_id, day in wanted)
    for start in range(0, len(keys), _KEYS_PER_STATEMENT):
        part = keys[start : start + _KEYS_PER_STATEMENT]
        conn.execute(
            LAUNCH_DAILY.delete().where(
                sa.tuple_(LAUNCH_DAILY.c.host, LAUNCH_DAILY.c.day).in_(part)
            )
        )
    host = np.array([host_codes[h] for h in daily.hosts.host_id], dtype=np.int64)[daily.host]
    app = np.array([app_codes[a] for a in daily.apps], dtype=np.int64)[daily.app]
    version = np.array([version_codes[v] for v in daily.versions], dtype=np.int64)[daily.version]
    figures = [getattr(daily, name).tolist() for name in FIGURES]
    rows = [
        {
            "host": h,
            "day": d,
            "app": a,
            "version": v,
            "cold": c,
            "count": n,
            **dict(zip(FIGURES, values, strict=True)),
            "sequence": state.sequence,
        }
        for h, d, a, v, c, n, *values in zip(
            host.tolist(),
            daily.day.tolist(),
            app.tolist(),
            version.tolist(),
            daily.cold.tolist(),
            daily.count.tolist(),
            *figures,
            strict=True,
        )
    ]
    if rows:
        conn.execute(LAUNCH_DAILY.insert(), rows)
    return Recomputed(host_days=len(wanted), rows=len(rows), late=late)


def ensure_codes(conn: sa.Connection, table: sa.Table, names: Iterable[str]) -> dict[str, int]:
    """The codes of ``names`` in a dictionary table, adding the names it lacks."""
    wanted = sorted(set(names))
    found: dict[str, int] = {}
    for start in range(0, len(wanted), _KEYS_PER_STATEMENT):
        part = wanted[start : start + _KEYS_PER_STATEMENT]
        found.update(_codes_of(conn, table, part))
        missing = [name for name in part if name not in found]
        if missing:
            # Another transaction adding the same name first is fine: its code is taken.
            conn.execute(
                _insert(conn, table).on_conflict_do_nothing(index_elements=[table.c.name]),
                [{"name": name} for name in missing],
            )
            found.update(_codes_of(conn, table, missing))
    return found


def _codes_of(conn: sa.Connection, table: sa.Table, names: list[str]) -> dict[str, int]:
    rows = conn.execute(sa.select(table.c.name, table.c.code).where(table.c.name.in_(names)))
    return {str(row.name): int(row.code) for row in rows}


# -- reading -------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredRows:
    """Daily rows as stored: codes of the dictionary tables (see :func:`read_names`)."""

    host: npt.NDArray[np.int32]
    day: npt.NDArray[np.int32]
    app: npt.NDArray[np.int32]
    version: npt.NDArray[np.int32]
    cold: npt.NDArray[np.bool_]
    count: npt.NDArray[np.int32]
    median: npt.NDArray[np.float64]
    p10: npt.NDArray[np.float64]
    p25: npt.NDArray[np.float64]
    p75: npt.NDArray[np.float64]
    p90: npt.NDArray[np.float64]
    log_mean: npt.NDArray[np.float64]
    log_var: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.host)

    def take(self, index: npt.NDArray[Any]) -> StoredRows:
        """The rows at ``index`` (positions or a boolean mask; all True: these rows)."""
        if index.dtype == np.bool_ and index.all():
            return self
        return StoredRows(*(getattr(self, name)[index] for name in COLUMNS))

    def columns(self) -> dict[str, npt.NDArray[Any]]:
        """The columns by name, in :data:`COLUMNS` order."""
        return {name: getattr(self, name) for name in COLUMNS}

    @staticmethod
    def concat(parts: list[StoredRows]) -> StoredRows:
        if not parts:
            return _empty_rows()
        if len(parts) == 1:
            return parts[0]
        return StoredRows(*(np.concatenate([getattr(p, name) for p in parts]) for name in COLUMNS))


_NATIVE: dict[str, np.dtype[Any]] = {
    name: np.dtype(np.bool_ if name == "cold" else np.float64 if name in FIGURES else np.int32)
    for name in COLUMNS
}


def _empty_rows() -> StoredRows:
    return StoredRows(*(np.empty(0, _NATIVE[name]) for name in COLUMNS))


def read_rows(
    conn: sa.Connection,
    *,
    from_day: int,
    to_day: int | None = None,
    after_sequence: int = 0,
    app_codes: Collection[int] | None = None,
) -> StoredRows:
    """The stored rows of days ``from_day`` to ``to_day`` (None: every later day) whose
    sequence is above ``after_sequence`` (and whose app code is one of ``app_codes``, when
    given), in no particular order."""
    conditions = [LAUNCH_DAILY.c.day >= from_day]
    if to_day is not None:
        conditions.append(LAUNCH_DAILY.c.day <= to_day)
    if app_codes is not None:
        conditions.append(LAUNCH_DAILY.c.app.in_(sorted(app_codes)))
    if after_sequence > 0:
        conditions.append(LAUNCH_DAILY.c.sequence > after_sequence)
    query = sa.select(*(LAUNCH_DAILY.c[name] for name in COLUMNS)).where(*conditions)
    if conn.dialect.name == "postgresql":
        return _copy_rows(conn, query)
    return _cursor_rows(conn, query)


def _cursor_rows(conn: sa.Connection, query: sa.Select[Any]) -> StoredRows:
    parts: list[StoredRows] = []
    result = conn.execution_options(stream_results=True, yield_per=50_000).execute(query)
    for partition in result.partitions(50_000):
        block = np.array(partition, dtype=np.float64).reshape(-1, len(COLUMNS))
        parts.append(
            StoredRows(*(block[:, i].astype(_NATIVE[name]) for i, name in enumerate(COLUMNS)))
        )
    return StoredRows.concat(parts)


def _copy_rows(conn: sa.Connection, query: sa.Select[Any]) -> StoredRows:
    columns = binary_copy.read_columns(conn, query, {name: _NATIVE[name] for name in COLUMNS})
    return StoredRows(**columns)


PARTITIONS = 32
"""Hash partitions of ``launch_daily`` by app on PostgreSQL (migration 0011): the parts of an
analysis run are the apps of one partition each."""


def app_parts(conn: sa.Connection, apps: Collection[str]) -> dict[str, int]:
    """The part of each of ``apps`` that has a code: on PostgreSQL the hash partition its
    rows are in (so a part reads one partition), elsewhere its code modulo
    :data:`PARTITIONS`. Apps without a code (no row ever stored) are left out."""
    wanted = sorted(set(apps))
    if not wanted:
        return {}
    if conn.dialect.name == "postgresql":
        remainder = sa.func.generate_series(0, PARTITIONS - 1).table_valued("r").render_derived()
        query = (
            sa.select(DAILY_APPS.c.name, remainder.c.r)
            .select_from(DAILY_APPS.join(remainder, sa.true()))
            .where(
                DAILY_APPS.c.name.in_(wanted),
                sa.func.satisfies_hash_partition(
                    sa.text("'launch_daily'::regclass"),
                    PARTITIONS,
                    remainder.c.r,
                    DAILY_APPS.c.code,
                ),
            )
        )
    else:
        query = sa.select(DAILY_APPS.c.name, DAILY_APPS.c.code % PARTITIONS).where(
            DAILY_APPS.c.name.in_(wanted)
        )
    return {str(name): int(part) for name, part in conn.execute(query)}


def apps_of(conn: sa.Connection, *, from_day: int, to_day: int) -> list[str]:
    """The apps with stored rows on days ``from_day`` to ``to_day``, and those of launches
    not rolled up yet on those days, by name: one index probe per app ever seen, not a
    scan."""
    stored = sa.select(DAILY_APPS.c.name).where(
        sa.exists().where(
            LAUNCH_DAILY.c.app == DAILY_APPS.c.code,
            LAUNCH_DAILY.c.day >= from_day,
            LAUNCH_DAILY.c.day <= to_day,
        )
    )
    pending = (
        sa.select(LAUNCHES.c.app)
        .join(
            BATCHES,
            sa.and_(
                BATCHES.c.host_id == LAUNCHES.c.host_id, BATCHES.c.batch_id == LAUNCHES.c.batch_id
            ),
        )
        .where(
            BATCHES.c.rolled_up_at.is_(None),
            _usable(),
            LAUNCHES.c.started_at >= from_day * DAY_SECONDS,
            LAUNCHES.c.started_at < (to_day + 1) * DAY_SECONDS,
        )
        .distinct()
    )
    return sorted({str(name) for name in conn.execute(sa.union(stored, pending)).scalars()})


def launch_rates(
    conn: sa.Connection,
    *,
    from_day: int,
    to_day: int,
    recompute_from_day: int,
    apps: Collection[str],
    hosts: Collection[str] | None = None,
) -> dict[tuple[str, str], LaunchRate]:
    """How often each host launched each of ``apps`` on days ``from_day`` to ``to_day``: by
    (host id, app), the launches over the host's reporting span (its first to its last day
    with a launch of any app in those days, both included); only ``hosts``' when given.

    The launches are the stored rows' counts, but on the host-days of batches not rolled up
    yet from ``recompute_from_day`` on, which are counted from their raw launches by
    :func:`compute`, as the rollup will store them (replacing the day's stored rows, as a
    load does): the same rates before the rollup and after it. Pending host-days earlier
    than that keep their stored rows, as the rollup leaves them.

    Nothing pending (a running advisor, between rollups): three statements whatever the
    number of hosts: the pending host-days (the partial index of batches not rolled up), the
    apps' codes, then one query that sums the counts (through the (app, day) index, or the
    key for a few hosts) and finds each reporting host's first and last day by two probes
    of the (host, day) key (of each partition, on PostgreSQL: 32 probes a host, about 5 s
    for 10,000 hosts on a loaded two-core machine, against 0.1 s for 100 hosts). Each day
    with host-days pending adds two (its raw launches, its stored counts), per
    :data:`_HOSTS_PER_DAY_QUERY` hosts, and holds one such day's launches at a time."""
    wanted = None if hosts is None else set(hosts)
    if not apps or (wanted is not None and not wanted):
        return {}
    pending = {
        hd
        for hd in pending_host_days(conn, from_day=max(from_day, recompute_from_day), to_day=to_day)
        if wanted is None or hd[0] in wanted
    }
    names = sorted(set(apps))
    app_names: dict[int, str] = {}
    for start in range(0, len(names), _KEYS_PER_STATEMENT):
        part = _codes_of(conn, DAILY_APPS, names[start : start + _KEYS_PER_STATEMENT])
        app_names.update((code, name) for name, code in part.items())
    if not app_names and not pending:
        return {}
    launches, spans = _stored_rates(
        conn,
        from_day=from_day,
        to_day=to_day,
        app_names=app_names,
        wanted=wanted,
        pending_hosts={host_id for host_id, _ in pending},
    )
    for (host_id, app), change in _pending_changes(conn, pending, names, app_names).items():
        launches[host_id, app] = launches.get((host_id, app), 0) + change
    for host_id, day in pending:
        first, last = spans.get(host_id, (day, day))
        spans[host_id] = (min(first, day), max(last, day))
    return {
        (host_id, app): LaunchRate(launches=n, days=spans[host_id][1] - spans[host_id][0] + 1)
        for (host_id, app), n in sorted(launches.items())
        if n > 0
    }


def _stored_rates(
    conn: sa.Connection,
    *,
    from_day: int,
    to_day: int,
    app_names: dict[int, str],
    wanted: set[str] | None,
    pending_hosts: set[str],
) -> tuple[dict[tuple[str, str], int], dict[str, tuple[int, int]]]:
    """The stored counts by (host id, app) of the apps of ``app_names`` (by code), and the
    first and last day with a row of any app of the hosts that have such counts and of
    ``pending_hosts``, in one statement; only ``wanted`` hosts' when given."""
    rows = LAUNCH_DAILY
    # The codes as values, not a subquery: the planner can then use the (app, day) index.
    conditions = [rows.c.day >= from_day, rows.c.day <= to_day, rows.c.app.in_(sorted(app_names))]
    if wanted is not None and len(wanted) <= _HOSTS_PER_RATES_QUERY:
        # Only their rows are summed and only their first and last days probed.
        conditions.append(
            rows.c.host.in_(
                sa.select(DAILY_HOSTS.c.code).where(DAILY_HOSTS.c.name.in_(sorted(wanted)))
            )
        )
    counts = (
        sa.select(rows.c.host, rows.c.app, sa.func.sum(rows.c.count).label("launches"))
        .where(*conditions)
        .group_by(rows.c.host, rows.c.app)
        .cte("counts")
    )
    if pending_hosts:
        # Their spans too: their launches not rolled up yet may be all they have of apps.
        reporting = sa.union(
            sa.select(counts.c.host),
            sa.select(DAILY_HOSTS.c.code.label("host")).where(
                DAILY_HOSTS.c.name.in_(sorted(pending_hosts))
            ),
        ).cte("reporting")
    else:
        reporting = sa.select(counts.c.host).distinct().cte("reporting")
    any_app = LAUNCH_DAILY.alias("any_app")

    def edge(day: sa.ColumnElement[int]) -> sa.ScalarSelect[Any]:
        return (
            sa.select(day)
            .where(
                any_app.c.host == reporting.c.host,
                any_app.c.day >= from_day,
                any_app.c.day <= to_day,
            )
            .scalar_subquery()
        )

    spans = (
        sa.select(
            reporting.c.host,
            edge(sa.func.min(any_app.c.day)).label("first_day"),
            edge(sa.func.max(any_app.c.day)).label("last_day"),
        )
        .cte("spans")
        # Else PostgreSQL inlines it and probes each host once per app, not once.
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )
    query = (
        sa.select(
            DAILY_HOSTS.c.name, counts.c.app, counts.c.launches, spans.c.first_day, spans.c.last_day
        )
        .select_from(spans)
        .join(DAILY_HOSTS, DAILY_HOSTS.c.code == spans.c.host)
        .outerjoin(counts, counts.c.host == spans.c.host)
    )
    launches: dict[tuple[str, str], int] = {}
    days: dict[str, tuple[int, int]] = {}
    for host_id, app, n, first_day, last_day in conn.execute(query):
        if wanted is not None and host_id not in wanted:
            continue
        if first_day is not None:
            days[str(host_id)] = (int(first_day), int(last_day))
        if app is not None:
            launches[str(host_id), app_names[app]] = int(n)
    return launches, days


def _pending_changes(
    conn: sa.Connection,
    pending: Collection[HostDay],
    apps: Collection[str],
    app_names: dict[int, str],
) -> dict[tuple[str, str], int]:
    """By (host id, app), what counting ``pending`` host-days from their raw launches
    (:func:`compute`, of ``apps``) changes in their stored counts (of the apps of
    ``app_names``, by code): the raw count less the stored one. A day's hosts at a time."""
    changes: dict[tuple[str, str], int] = {}
    for day, host_ids in _hosts_by_day(pending):
        fresh = compute(conn, [(host_id, day) for host_id in host_ids], apps=apps)
        for host, app, n in zip(
            fresh.host.tolist(), fresh.app.tolist(), fresh.count.tolist(), strict=True
        ):
            key = (fresh.hosts.host_id[host], fresh.apps[app])
            changes[key] = changes.get(key, 0) + n
        if not app_names:
            continue
        stored = conn.execute(
            sa.select(DAILY_HOSTS.c.name, LAUNCH_DAILY.c.app, sa.func.sum(LAUNCH_DAILY.c.count))
            .join(DAILY_HOSTS, DAILY_HOSTS.c.code == LAUNCH_DAILY.c.host)
            .where(
                LAUNCH_DAILY.c.day == day,
                DAILY_HOSTS.c.name.in_(host_ids),
                LAUNCH_DAILY.c.app.in_(sorted(app_names)),
            )
            .group_by(DAILY_HOSTS.c.name, LAUNCH_DAILY.c.app)
        )
        for host_id, app, n in stored:
            key = (str(host_id), app_names[app])
            changes[key] = changes.get(key, 0) - int(n)
    return changes


def read_names(conn: sa.Connection) -> tuple[dict[int, str], dict[int, str], dict[int, str]]:
    """The names of host, app and version codes."""
    return (
        _names(conn, DAILY_HOSTS),
        _names(conn, DAILY_APPS),
        _names(conn, DAILY_VERSIONS),
    )


def _names(conn: sa.Connection, table: sa.Table) -> dict[int, str]:
    rows = conn.execute(sa.select(table.c.code, table.c.name))
    return {int(row.code): str(row.name) for row in rows}
