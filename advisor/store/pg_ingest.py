"""Ingest's hot path on PostgreSQL: a whole batch in one statement and one round trip.

Written with SQLAlchemy Core, ingest cost about twenty statements per batch, each a wait on the
server; at the hundreds of batches a second a fleet sends, those waits were the cost, not the
rows (docs/benchmarks.md). Here one statement, a chain of data-modifying CTEs, does it all:
checks the host (and the credential, when there is one), claims the batch id, and only if the
id was new touches the host and inserts the summaries, launches (``unnest()`` of column arrays:
one INSERT per table whatever the number of rows) and launch counts (one upsert). A statement
is atomic, so a batch is stored whole or not at all; sent in a pipeline with its BEGIN and
COMMIT it costs one round trip. A batch with an inventory runs the same statement inside the
caller's transaction, which then applies the inventory.

The statement is prepared on first use per connection (``prepare=True``), so the server parses
and plans it once; column arrays travel in binary (``%(name)b``), which psycopg builds several
times faster than array text. Table and column names are those of advisor.store.models; the
contract test suite runs the statement on a real PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from advisor.store.rows import launch_count_rows, launch_rows, summary_rows
from agent.shared.wire import Batch

# Param casts are explicit: a NULL in INSERT ... SELECT would otherwise be read as text.
_INGEST = """
WITH host AS (
    SELECT host_id FROM hosts
    WHERE host_id = %(host_id)s::text
      AND (%(credential_sha256)s::text IS NULL
           OR (credential_sha256 = %(credential_sha256)s::text AND revoked_at IS NULL))
), claimed AS (
    INSERT INTO batches
        (batch_id, host_id, sequence, created_at, received_at, sent_at, dropped_launch_events)
    SELECT %(batch_id)s::text, host_id, %(sequence)s::int8, %(created_at)s::float8,
           %(received_at)s::float8, %(sent_at)s::float8, %(dropped)s::int4
    FROM host
    ON CONFLICT (host_id, batch_id) DO NOTHING
    RETURNING host_id
), touched AS (
    -- A retry changes nothing, not even the host's last-seen time.
    UPDATE hosts SET
        hostname = %(hostname)s::text,
        agent_version = %(agent_version)s::text,
        -- Concurrent batches may commit in any order: last seen never moves back.
        last_seen_at = GREATEST(last_seen_at, %(received_at)s::float8),
        -- Without a Sent-At header the previous estimate stands.
        clock_skew_seconds = COALESCE(%(skew)s::float8, clock_skew_seconds)
    WHERE host_id IN (SELECT host_id FROM claimed)
), summaries AS (
    INSERT INTO metric_summaries
        (host_id, batch_id, interval_start, interval_end, name, labels,
         count, sum, min, max, p50, p90, p99)
    SELECT claimed.host_id, %(batch_id)s::text, u.* FROM claimed, unnest(
        %(s_interval_start)b::float8[], %(s_interval_end)b::float8[], %(s_name)b::text[],
        %(s_labels)b::text[], %(s_count)b::int8[], %(s_sum)b::float8[], %(s_min)b::float8[],
        %(s_max)b::float8[], %(s_p50)b::float8[], %(s_p90)b::float8[], %(s_p99)b::float8[]
    ) AS u
), launches AS (
    INSERT INTO launches
        (host_id, batch_id, app, version, method, outcome, started_at, duration_seconds,
         ready_signal, start_kind, phases, probe, detail)
    SELECT claimed.host_id, %(batch_id)s::text, u.* FROM claimed, unnest(
        %(l_app)b::text[], %(l_version)b::text[], %(l_method)b::text[], %(l_outcome)b::text[],
        %(l_started_at)b::float8[], %(l_duration_seconds)b::float8[],
        %(l_ready_signal)b::text[], %(l_start_kind)b::text[], %(l_phases)b::jsonb[],
        %(l_probe)b::text[], %(l_detail)b::text[]
    ) AS u
), counts AS (
    -- Keys arrive unique and sorted (advisor.store.rows.launch_count_rows) and unnest keeps
    -- their order, so concurrent batches of one host lock rows in the same order and queue
    -- instead of deadlocking.
    INSERT INTO launch_counts (host_id, app, day, method, count)
    SELECT claimed.host_id, u.* FROM claimed, unnest(
        %(c_app)b::text[], %(c_day)b::text[], %(c_method)b::text[], %(c_count)b::int8[]
    ) AS u
    ON CONFLICT (host_id, app, day, method)
    DO UPDATE SET count = launch_counts.count + excluded.count
)
SELECT EXISTS (SELECT FROM host), EXISTS (SELECT FROM claimed)
"""

_SUMMARY_COLUMNS = (
    "interval_start", "interval_end", "name", "labels", "count", "sum", "min", "max",
    "p50", "p90", "p99",
)  # fmt: skip
_LAUNCH_COLUMNS = (
    "app", "version", "method", "outcome", "started_at", "duration_seconds", "ready_signal",
    "start_kind", "phases", "probe", "detail",
)  # fmt: skip
_COUNT_COLUMNS = ("app", "day", "method", "count")


@dataclass(frozen=True, slots=True)
class Claim:
    """What the statement found: the host matched (credential and not revoked, when one was
    given), and the batch id was new (so the batch is now stored)."""

    host_matched: bool
    claimed: bool


def store_batch(
    connection: psycopg.Connection[Any],
    host_id: str,
    batch: Batch,
    *,
    credential_sha256: str | None,
    received_at: float,
    sent_at: float | None,
    commit: bool,
) -> Claim:
    """Run the ingest statement for a batch (its rows made by advisor.store.rows).

    With ``commit`` the statement is its own transaction, BEGIN and COMMIT in the same
    pipeline (one round trip); without, it joins the connection's open transaction.
    """
    params: dict[str, Any] = {
        "host_id": host_id,
        "credential_sha256": credential_sha256,
        "hostname": batch.host.hostname,
        "agent_version": batch.host.agent_version,
        "received_at": received_at,
        "skew": None if sent_at is None else received_at - sent_at,
        "batch_id": batch.batch_id,
        "sequence": batch.sequence,
        "created_at": batch.created_at,
        "sent_at": sent_at,
        "dropped": batch.dropped_launch_events,
    }
    _add_columns(params, "s_", _SUMMARY_COLUMNS, summary_rows(host_id, batch))
    _add_columns(params, "l_", _LAUNCH_COLUMNS, launch_rows(host_id, batch))
    params["l_phases"] = [json.dumps(phases) for phases in params["l_phases"]]
    _add_columns(params, "c_", _COUNT_COLUMNS, launch_count_rows(host_id, batch))
    with connection.pipeline():
        cursor = connection.execute(_INGEST, params, prepare=True)
        if commit:
            connection.commit()
    row = cursor.fetchone()
    assert row is not None  # SELECT EXISTS always returns one row
    return Claim(host_matched=bool(row[0]), claimed=bool(row[1]))


def _add_columns(
    params: dict[str, Any],
    prefix: str,
    columns: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
) -> None:
    """Rows as one list per column (what unnest() takes), named ``prefix + column``."""
    for name in columns:
        params[prefix + name] = [row[name] for row in rows]
