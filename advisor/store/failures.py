"""Is a database error about the batch (never storable) or about the database (try later)?

The ingest API answers the two differently: a batch the database will never take gets a 4xx,
which the agent quarantines, so it stops blocking the batches behind it; a database that cannot
take anything now gets 503 with Retry-After, and the agent keeps the batch. Guessing wrong
either way is costly: "permanent" for an outage throws batches away, "transient" for a bad
batch retries it forever. So the rule goes by what the database itself says:

=====================================  ===========================================  =========
error                                  examples                                      verdict
=====================================  ===========================================  =========
PostgreSQL SQLSTATE class 21, 22, 23   duplicate key in one statement, numeric       permanent
                                       out of range, string too long, NOT NULL,
                                       unique and foreign-key violations
sqlite3.IntegrityError, DataError;     constraint violations; an int past 64 bits    permanent
OverflowError from the driver
anything else                          connection lost, deadlock, serialization      transient
                                       failure, lock timeout, disk full, pool
                                       exhausted, admin shutdown, unknown errors
=====================================  ===========================================  =========

Unknown errors count as transient on purpose: a batch is never thrown away on a guess, and the
agent sends the batches behind a failing one regardless (agent.shipper).
"""

from __future__ import annotations

import sqlite3
from typing import Literal

import sqlalchemy as sa

Verdict = Literal["permanent", "transient"]

# SQLSTATE classes that describe the data sent, not the server's state.
_PERMANENT_SQLSTATE_CLASSES = frozenset({"21", "22", "23"})


def classify(error: BaseException) -> Verdict:
    """Whether retrying the same write could succeed (``transient``) or not (``permanent``)."""
    cause = error.orig if isinstance(error, sa.exc.DBAPIError) else error
    if isinstance(cause, sqlite3.IntegrityError | sqlite3.DataError | OverflowError):
        return "permanent"
    sqlstate = getattr(cause, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate[:2] in _PERMANENT_SQLSTATE_CLASSES:
        return "permanent"
    return "transient"


def describe(error: BaseException) -> str:
    """The first line of what the database said, short enough for an agent's quarantine
    reason (no statement, no parameters: those may hold other hosts' data)."""
    cause = error.orig if isinstance(error, sa.exc.DBAPIError) else error
    first_line = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
    return first_line[:200]
