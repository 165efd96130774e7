"""The on-disk spool: every batch is written here before it is sent, and stays until acked.

One SQLite file in WAL mode with ``synchronous=FULL``: a put that returned is on disk and
survives kill -9, power loss and reboots. The agent writes about one batch a minute, so the
fsync per commit costs nothing worth saving.

The spool is bounded by the sum of the stored gzip bodies (``spool.max_bytes``); SQLite's own
overhead (indexes, free pages, the WAL, kept below ``_WAL_LIMIT_BYTES`` after checkpoints)
comes on top. When a put would exceed the bound, the oldest batches go first — quarantined
ones before pending ones, since nobody is going to send them — and what was dropped is counted
in the file, so the count survives restarts and reaches /metrics.

Threads: the batch builder puts while the shipper reads, acks and defers. One connection is
shared behind a lock; every operation is one short transaction.

Rows move through two states::

    put ──► pending ──ack──► (deleted)
              ▲  │
   requeue    │  └─quarantine──► quarantined   (the advisor rejected it for good)
   quarantined└────────────────────┘

The file is created with mode 0600 (batches name the host, its apps and its people's habits).
A file that cannot be used raises :class:`~agent.errors.SpoolError` naming the path. A damaged
one (SQLite says "not a database" or "malformed", or the quick check fails) is moved aside
when the spool is opened with ``recover=True``, as the running agent does, at start-up and when
an operation meets the damage later: it is renamed, with its -wal and -shm files, to
``spool.sqlite3.corrupt-20261207T031500Z`` (UTC) for inspection, never deleted, and a new empty
spool takes its place, so one bad sector does not stop all monitoring. Its batches are lost
to the advisor. Another program's database and a newer schema are never moved: those are
configuration mistakes, and stay errors. Without ``recover`` (the ``spool`` commands, often
run as root, which must not create the agent's files) a damaged file is only reported.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Concatenate, ParamSpec, TypeVar

from agent.errors import SpoolError

log = logging.getLogger(__name__)

# "FSPL" in ASCII: marks the file as ours, so a wrong spool.path is caught before it is written.
APPLICATION_ID = 0x4653504C
SCHEMA_VERSION = 1
_WAL_LIMIT_BYTES = 4 * 1024**2
_CACHE_KIB = 256
_BUSY_TIMEOUT_SECONDS = 30.0
_MAX_ERROR_CHARS = 1000
# SQLite's primary result codes for a damaged file (extended codes keep them in the low byte).
_SQLITE_CORRUPT = 11
_SQLITE_NOTADB = 26
_SIDE_FILES = ("-wal", "-shm")

_P = ParamSpec("_P")
_T = TypeVar("_T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS batches (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    batch_id          TEXT NOT NULL UNIQUE,
    sequence          INTEGER NOT NULL,
    state             TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'quarantined')),
    size              INTEGER NOT NULL,
    created_at        REAL NOT NULL,
    next_attempt      REAL NOT NULL,
    attempts          INTEGER NOT NULL DEFAULT 0,
    last_error        TEXT,
    quarantine_reason TEXT,
    quarantined_at    REAL,
    body              BLOB NOT NULL  -- last, so scans of the other columns skip its pages
);
CREATE INDEX IF NOT EXISTS batches_due ON batches (state, next_attempt, id);
"""


@dataclass(frozen=True, slots=True)
class SpooledBatch:
    """A pending batch as stored: ``body`` is the gzip JSON exactly as it will be sent."""

    batch_id: str
    sequence: int
    body: bytes
    created_at: float
    attempts: int
    last_error: str | None


@dataclass(frozen=True, slots=True)
class QuarantinedBatch:
    """A batch the advisor refused for good, and why; kept until requeued or dropped."""

    batch_id: str
    sequence: int
    reason: str
    size: int
    quarantined_at: float


@dataclass(frozen=True, slots=True)
class SpoolStatus:
    """What ``spool status`` prints and /metrics exports.

    ``oldest_pending_age`` is seconds since the oldest pending batch was spooled (None if none);
    ``not_before`` is the time before which nothing will be sent (after 429/503 or a refused
    credential), None if there is no such hold; ``dropped_*`` count batches removed to keep the
    bound, since the spool file was created.
    """

    pending: int
    pending_bytes: int
    quarantined: int
    quarantined_bytes: int
    oldest_pending_age: float | None
    dropped_batches: int
    dropped_bytes: int
    last_error: str | None
    last_error_at: float | None
    not_before: float | None
    max_bytes: int


def _recovering(
    method: Callable[Concatenate[Spool, _P], _T],
) -> Callable[Concatenate[Spool, _P], _T]:
    """Run ``method``; if it meets a damaged file, recover (see :meth:`Spool._recover`) and
    run it once more on the new spool: a put then lands there instead of being lost."""

    @functools.wraps(method)
    def run(spool: Spool, /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
        try:
            return method(spool, *args, **kwargs)
        except _DamagedError as exc:
            spool._recover(exc)
        return method(spool, *args, **kwargs)

    return run


class Spool:
    """A bounded, durable queue of batches (see the module docstring).

    ``clock`` gives Unix seconds; it stamps puts and quarantines, measures ages and names a
    damaged file moved aside. With ``recover`` a damaged file is moved aside and replaced by
    an empty spool, at opening or later; ``recoveries`` counts how often this object did it.
    """

    def __init__(
        self,
        path: Path,
        max_bytes: int,
        clock: Callable[[], float] = time.time,
        *,
        recover: bool = False,
    ) -> None:
        if max_bytes <= 0:
            raise ValueError(f"max_bytes must be positive, got {max_bytes}")
        self.path = path
        self.max_bytes = max_bytes
        self.recover = recover
        self.recoveries = 0
        self._clock = clock
        self._lock = threading.Lock()
        # Bumped when a damaged file is replaced, so two threads that both met the damage
        # move aside the damaged file only, never the fresh one.
        self._generation = 0
        try:
            self._conn = _open(path)
        except _DamagedError as exc:
            if not recover:
                raise
            self._conn = self._replace_damaged(exc)

    # --- lifecycle --------------------------------------------------------------------------

    def close(self) -> None:
        """Close the database; later calls raise SpoolError."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Spool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # --- writer side ------------------------------------------------------------------------

    @_recovering
    def allocate_sequence(self) -> int:
        """The next batch sequence number: strictly increasing, also across restarts.

        Numbers may be skipped (a crash between this call and :meth:`put`, a dropped batch),
        so a gap is not proof of a lost batch; ``dropped_batches`` counts real losses. After
        a damaged file was moved aside they go on from the time in milliseconds.
        """
        with self._transaction() as conn:
            number = _meta_int(conn, "next_sequence", 1)
            _set_meta(conn, "next_sequence", number + 1)
            return number

    @_recovering
    def put(self, batch_id: str, sequence: int, body: bytes) -> None:
        """Store a batch durably; a batch id already stored is left as it is.

        To stay within ``max_bytes`` the oldest batches are dropped first (quarantined, then
        pending) and counted. A body larger than the whole bound cannot be kept: it is counted
        as dropped and logged, and the batches already spooled stay.
        """
        size = len(body)
        with self._transaction() as conn:
            if conn.execute("SELECT 1 FROM batches WHERE batch_id = ?", (batch_id,)).fetchone():
                return
            if size > self.max_bytes:
                _count_dropped(conn, 1, size)
                log.warning(
                    "batch %s (%d bytes) is larger than spool.max_bytes (%d): dropped",
                    batch_id,
                    size,
                    self.max_bytes,
                )
                return
            self._make_room(conn, size)
            now = self._clock()
            conn.execute(
                "INSERT INTO batches (batch_id, sequence, size, created_at, next_attempt, body)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (batch_id, sequence, size, now, now, body),
            )
            # A sequence given by the caller also moves the counter, so reopening never
            # hands out a number at or below one already stored.
            if sequence >= _meta_int(conn, "next_sequence", 1):
                _set_meta(conn, "next_sequence", sequence + 1)

    def _make_room(self, conn: sqlite3.Connection, incoming: int) -> None:
        (stored,) = conn.execute("SELECT COALESCE(SUM(size), 0) FROM batches").fetchone()
        excess = stored + incoming - self.max_bytes
        if excess <= 0:
            return
        victims: list[int] = []
        freed = 0
        rows = conn.execute(
            "SELECT id, size FROM batches ORDER BY state = 'pending', id"
        ).fetchall()
        for row_id, row_size in rows:
            if freed >= excess:
                break
            victims.append(row_id)
            freed += row_size
        conn.executemany("DELETE FROM batches WHERE id = ?", [(v,) for v in victims])
        _count_dropped(conn, len(victims), freed)
        log.warning(
            "spool full (max %d bytes): dropped the %d oldest batches (%d bytes)",
            self.max_bytes,
            len(victims),
            freed,
        )

    # --- shipper side -----------------------------------------------------------------------

    @_recovering
    def due(self, now: float, limit: int) -> list[SpooledBatch]:
        """Up to ``limit`` pending batches whose next attempt has come, oldest first."""
        with self._transaction() as conn:
            not_before = _meta_float(conn, "not_before")
            if not_before is not None and now < not_before:
                return []
            rows = conn.execute(
                "SELECT batch_id, sequence, body, created_at, attempts, last_error FROM batches"
                " WHERE state = 'pending' AND next_attempt <= ? ORDER BY id LIMIT ?",
                (now, limit),
            ).fetchall()
        return [SpooledBatch(r[0], r[1], bytes(r[2]), r[3], r[4], r[5]) for r in rows]

    @_recovering
    def ack(self, batch_id: str) -> None:
        """The advisor has the batch: forget it."""
        with self._transaction() as conn:
            conn.execute("DELETE FROM batches WHERE batch_id = ?", (batch_id,))

    @_recovering
    def defer(self, batch_id: str, until: float, error: str) -> None:
        """Sending failed: count the attempt, remember why, and wait until ``until``."""
        error = error[:_MAX_ERROR_CHARS]
        with self._transaction() as conn:
            conn.execute(
                "UPDATE batches SET attempts = attempts + 1, next_attempt = ?, last_error = ?"
                " WHERE batch_id = ?",
                (until, error, batch_id),
            )
            self._record_error(conn, error)

    @_recovering
    def defer_all(self, until: float, error: str) -> None:
        """Send nothing before ``until``, including batches put later (429/503, refused auth).

        Attempts are not counted: the batches are not at fault.
        """
        error = error[:_MAX_ERROR_CHARS]
        with self._transaction() as conn:
            current = _meta_float(conn, "not_before")
            if current is None or until > current:
                _set_meta(conn, "not_before", until)
            self._record_error(conn, error)

    @_recovering
    def quarantine(self, batch_id: str, reason: str) -> None:
        """The advisor will never accept this batch: keep it aside, never send it again."""
        with self._transaction() as conn:
            conn.execute(
                "UPDATE batches SET state = 'quarantined', quarantine_reason = ?,"
                " quarantined_at = ? WHERE batch_id = ?",
                (reason[:_MAX_ERROR_CHARS], self._clock(), batch_id),
            )
            self._record_error(conn, reason[:_MAX_ERROR_CHARS])

    @_recovering
    def requeue_quarantined(self) -> int:
        """Make every quarantined batch pending and due now (after an advisor fix); how many."""
        with self._transaction() as conn:
            cursor = conn.execute(
                "UPDATE batches SET state = 'pending', quarantine_reason = NULL,"
                " quarantined_at = NULL, attempts = 0, next_attempt = ?"
                " WHERE state = 'quarantined'",
                (self._clock(),),
            )
            return cursor.rowcount

    def _record_error(self, conn: sqlite3.Connection, error: str) -> None:
        _set_meta(conn, "last_error", error)
        _set_meta(conn, "last_error_at", self._clock())

    # --- inspection -------------------------------------------------------------------------

    @_recovering
    def status(self) -> SpoolStatus:
        """Counts, sizes, age of the oldest pending batch, drops and the last error."""
        with self._transaction() as conn:
            totals = {
                state: (count, size)
                for state, count, size in conn.execute(
                    "SELECT state, COUNT(*), COALESCE(SUM(size), 0) FROM batches GROUP BY state"
                )
            }
            (oldest,) = conn.execute(
                "SELECT MIN(created_at) FROM batches WHERE state = 'pending'"
            ).fetchone()
            last_error = conn.execute("SELECT value FROM meta WHERE key = 'last_error'").fetchone()
            not_before = _meta_float(conn, "not_before")
            dropped_batches = _meta_int(conn, "dropped_batches", 0)
            dropped_bytes = _meta_int(conn, "dropped_bytes", 0)
            last_error_at = _meta_float(conn, "last_error_at")
        now = self._clock()
        pending = totals.get("pending", (0, 0))
        quarantined = totals.get("quarantined", (0, 0))
        return SpoolStatus(
            pending=pending[0],
            pending_bytes=pending[1],
            quarantined=quarantined[0],
            quarantined_bytes=quarantined[1],
            oldest_pending_age=None if oldest is None else max(0.0, now - oldest),
            dropped_batches=dropped_batches,
            dropped_bytes=dropped_bytes,
            last_error=None if last_error is None else str(last_error[0]),
            last_error_at=last_error_at,
            not_before=not_before if not_before is not None and not_before > now else None,
            max_bytes=self.max_bytes,
        )

    @_recovering
    def quarantined(self) -> list[QuarantinedBatch]:
        """Quarantined batches, oldest first."""
        with self._transaction() as conn:
            rows = conn.execute(
                "SELECT batch_id, sequence, quarantine_reason, size, quarantined_at FROM batches"
                " WHERE state = 'quarantined' ORDER BY id"
            ).fetchall()
        return [QuarantinedBatch(r[0], r[1], r[2] or "", r[3], r[4] or 0.0) for r in rows]

    # --- plumbing ---------------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken up front so two processes never deadlock upgrading.

        SQLite errors leave as :class:`SpoolError`; damage as :class:`_DamagedError`, which
        :func:`_recovering` acts on.
        """
        with self._lock:
            conn = self._conn
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.ProgrammingError as exc:
                raise SpoolError(f"spool {self.path} is closed") from exc
            except sqlite3.Error as exc:
                raise self._error(exc, f"spool {self.path}") from exc
            try:
                yield conn
            except sqlite3.Error as exc:
                _rollback(conn)
                raise self._error(exc, f"spool {self.path}") from exc
            except BaseException:
                _rollback(conn)
                raise
            try:
                conn.commit()
            except sqlite3.Error as exc:
                _rollback(conn)
                raise self._error(exc, f"cannot write spool {self.path}") from exc

    def _error(self, exc: sqlite3.Error, prefix: str) -> SpoolError:
        if _is_damage(exc):
            return _DamagedError(_damaged_message(self.path, str(exc)), self._generation, str(exc))
        return SpoolError(f"{prefix}: {exc}")

    # --- recovery ---------------------------------------------------------------------------

    def _recover(self, damage: _DamagedError) -> None:
        """Met ``damage`` in operation: replace the file, or re-raise without ``recover``."""
        if not self.recover:
            raise damage
        with self._lock:
            if damage.generation != self._generation:
                return  # another thread has replaced it already
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            try:
                self._conn = self._replace_damaged(damage)
            except SpoolError:
                # Keep a connection, so the next operation meets the damage and tries again.
                with contextlib.suppress(sqlite3.Error):
                    self._conn = _connect(self.path)
                raise

    def _replace_damaged(self, damage: _DamagedError) -> sqlite3.Connection:
        """Move the damaged file aside, open an empty spool in its place, say so once."""
        now = self._clock()
        aside = _move_aside(self.path, now)
        conn = _open(self.path)
        try:
            _continue_sequences(conn, now)
        except sqlite3.Error as exc:
            conn.close()
            raise SpoolError(f"cannot write the new spool {self.path}: {exc}") from exc
        self._generation += 1
        self.recoveries += 1
        log.warning(
            "spool %s was damaged (%s): moved it aside to %s, kept for inspection, and started"
            " a new, empty spool; the batches in the damaged file will not be sent",
            self.path,
            damage.reason,
            aside,
        )
        return conn


# --- opening ------------------------------------------------------------------------------------


class _DamagedError(SpoolError):
    """The file is damaged or not a database: what ``recover`` moves aside."""

    def __init__(self, message: str, generation: int = 0, reason: str = "") -> None:
        super().__init__(message)
        self.generation = generation
        self.reason = reason or message


def _damaged_message(path: Path, reason: str) -> str:
    return (
        f"spool {path} is damaged ({reason}); the agent moves it aside and starts a new spool"
        " when it runs"
    )


def _is_damage(exc: sqlite3.Error) -> bool:
    # Only these two codes: "locked", "disk full" or "cannot open" are not reasons to move
    # batches aside. The low byte is the primary code (SQLITE_CORRUPT_INDEX is 779).
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB)


def _rollback(conn: sqlite3.Connection) -> None:
    # A rollback on a damaged or full disk can fail too; the first error is the one to report.
    with contextlib.suppress(sqlite3.Error):
        conn.rollback()


def _connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(
        path, timeout=_BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False
    )


def _open(path: Path) -> sqlite3.Connection:
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Create the file ourselves so it is 0600 from its first moment; SQLite then gives the
        # -wal and -shm files the same mode.
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    except OSError as exc:
        raise SpoolError(f"cannot create spool {path}: {exc.strerror or exc}") from exc
    try:
        conn = _connect(path)
    except sqlite3.Error as exc:
        raise SpoolError(f"cannot open spool {path}: {exc}") from exc
    try:
        _check_and_prepare(conn, path)
    except sqlite3.Error as exc:
        conn.close()
        if _is_damage(exc):
            raise _DamagedError(_damaged_message(path, str(exc)), reason=str(exc)) from exc
        raise SpoolError(f"cannot open spool {path}: {exc}") from exc
    except SpoolError:
        conn.close()
        raise
    return conn


def _move_aside(path: Path, now: float) -> Path:
    """Rename ``path`` and its -wal and -shm files to ``PATH.corrupt-<UTC time>``.

    The side files go first and keep their suffix, so ``sqlite3 PATH.corrupt-...`` opens the
    moved file with its journal; a -wal left behind would be replayed into the new spool.
    """
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%dT%H%M%SZ")
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    counter = 1
    while any(_with_suffix(aside, suffix).exists() for suffix in ("", *_SIDE_FILES)):
        aside = path.with_name(f"{path.name}.corrupt-{stamp}-{counter}")
        counter += 1
    try:
        for suffix in (*_SIDE_FILES, ""):
            with contextlib.suppress(FileNotFoundError):
                _with_suffix(path, suffix).rename(_with_suffix(aside, suffix))
        directory = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    except OSError as exc:
        raise SpoolError(
            f"spool {path} is damaged and cannot be moved aside to {aside}:"
            f" {exc.strerror or exc}; move it aside by hand"
        ) from exc
    return aside


def _with_suffix(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def _continue_sequences(conn: sqlite3.Connection, now: float) -> None:
    """Start the new spool's sequences above any the damaged one can have handed out.

    The advisor expects them to keep increasing; the damaged file cannot say how far it got,
    but one batch per millisecond since 1970 is more than any agent spools.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        floor = int(now * 1000)
        if _meta_int(conn, "next_sequence", 1) < floor:
            _set_meta(conn, "next_sequence", floor)
        conn.commit()
    except BaseException:
        _rollback(conn)
        raise


def _check_and_prepare(conn: sqlite3.Connection, path: Path) -> None:
    (app_id,) = conn.execute("PRAGMA application_id").fetchone()
    if app_id not in (0, APPLICATION_ID):
        raise SpoolError(f"{path} is an SQLite database of another program, not a spool")
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    if version > SCHEMA_VERSION:
        raise SpoolError(
            f"spool {path} has schema version {version}, newer than this agent"
            f" understands ({SCHEMA_VERSION}); upgrade the agent"
        )
    (check,) = conn.execute("PRAGMA quick_check").fetchone()
    if check != "ok":
        raise _DamagedError(_damaged_message(path, str(check)), reason=str(check))
    (mode,) = conn.execute("PRAGMA journal_mode=WAL").fetchone()
    if mode != "wal":
        raise SpoolError(f"spool {path}: cannot switch to WAL mode (got {mode!r})")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(f"PRAGMA journal_size_limit={_WAL_LIMIT_BYTES}")
    # SQLite would cache up to 2 MB of pages; the spool reads each batch once, so a small cache
    # keeps the agent's memory flat while a long outage fills the spool.
    conn.execute(f"PRAGMA cache_size=-{_CACHE_KIB}")
    _create_schema(conn)


def _create_schema(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        # Sequences must stay above anything stored, even if meta was lost or never written.
        (highest,) = conn.execute("SELECT COALESCE(MAX(sequence), 0) FROM batches").fetchone()
        if _meta_int(conn, "next_sequence", 1) <= highest:
            _set_meta(conn, "next_sequence", highest + 1)
        conn.commit()
    except BaseException:
        conn.rollback()
        raise


# --- meta ---------------------------------------------------------------------------------------


def _meta_int(conn: sqlite3.Connection, key: str, default: int) -> int:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return default if row is None else int(row[0])


def _meta_float(conn: sqlite3.Connection, key: str) -> float | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None or row[0] is None else float(row[0])


def _set_meta(conn: sqlite3.Connection, key: str, value: object) -> None:
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def _count_dropped(conn: sqlite3.Connection, batches: int, size: int) -> None:
    _set_meta(conn, "dropped_batches", _meta_int(conn, "dropped_batches", 0) + batches)
    _set_meta(conn, "dropped_bytes", _meta_int(conn, "dropped_bytes", 0) + size)
