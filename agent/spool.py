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
A file that is not a readable spool raises :class:`~agent.errors.SpoolError` naming the path;
it is never deleted or rewritten behind the operator's back.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from agent.errors import SpoolError

log = logging.getLogger(__name__)

# "FSPL" in ASCII: marks the file as ours, so a wrong spool.path is caught before it is written.
APPLICATION_ID = 0x4653504C
SCHEMA_VERSION = 1
_WAL_LIMIT_BYTES = 4 * 1024**2
_CACHE_KIB = 256
_BUSY_TIMEOUT_SECONDS = 30.0
_MAX_ERROR_CHARS = 1000

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


class Spool:
    """A bounded, durable queue of batches (see the module docstring).

    ``clock`` gives Unix seconds; it stamps puts and quarantines and measures ages.
    """

    def __init__(self, path: Path, max_bytes: int, clock: Callable[[], float] = time.time) -> None:
        if max_bytes <= 0:
            raise ValueError(f"max_bytes must be positive, got {max_bytes}")
        self.path = path
        self.max_bytes = max_bytes
        self._clock = clock
        self._lock = threading.Lock()
        self._conn = _open(path)

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

    def allocate_sequence(self) -> int:
        """The next batch sequence number: strictly increasing, also across restarts.

        Numbers may be skipped (a crash between this call and :meth:`put`, a dropped batch),
        so a gap is not proof of a lost batch; ``dropped_batches`` counts real losses.
        """
        with self._transaction() as conn:
            number = _meta_int(conn, "next_sequence", 1)
            _set_meta(conn, "next_sequence", number + 1)
            return number

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

    def ack(self, batch_id: str) -> None:
        """The advisor has the batch: forget it."""
        with self._transaction() as conn:
            conn.execute("DELETE FROM batches WHERE batch_id = ?", (batch_id,))

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

    def quarantine(self, batch_id: str, reason: str) -> None:
        """The advisor will never accept this batch: keep it aside, never send it again."""
        with self._transaction() as conn:
            conn.execute(
                "UPDATE batches SET state = 'quarantined', quarantine_reason = ?,"
                " quarantined_at = ? WHERE batch_id = ?",
                (reason[:_MAX_ERROR_CHARS], self._clock(), batch_id),
            )
            self._record_error(conn, reason[:_MAX_ERROR_CHARS])

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
        """One write transaction, taken up front so two processes never deadlock upgrading."""
        with self._lock:
            conn = self._conn
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.ProgrammingError as exc:
                raise SpoolError(f"spool {self.path} is closed") from exc
            except sqlite3.Error as exc:
                raise SpoolError(f"spool {self.path}: {exc}") from exc
            try:
                yield conn
            except BaseException:
                conn.rollback()
                raise
            try:
                conn.commit()
            except sqlite3.Error as exc:
                conn.rollback()
                raise SpoolError(f"cannot write spool {self.path}: {exc}") from exc


# --- opening ------------------------------------------------------------------------------------


def _open(path: Path) -> sqlite3.Connection:
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Create the file ourselves so it is 0600 from its first moment; SQLite then gives the
        # -wal and -shm files the same mode.
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    except OSError as exc:
        raise SpoolError(f"cannot create spool {path}: {exc.strerror or exc}") from exc
    conn = sqlite3.connect(
        path, timeout=_BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False
    )
    try:
        _check_and_prepare(conn, path)
    except sqlite3.Error as exc:
        conn.close()
        raise SpoolError(
            f"spool {path} is not a readable SQLite database ({exc}); move it aside or restore"
            " it, the agent will start a new spool"
        ) from exc
    except SpoolError:
        conn.close()
        raise
    return conn


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
        raise SpoolError(
            f"spool {path} is damaged ({check}); move it aside or restore it, the agent will"
            " start a new spool"
        )
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
