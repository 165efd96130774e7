"""Numbers out of PostgreSQL fast: a query's fixed-width columns by binary COPY into numpy.

A row of ``COPY (query) TO STDOUT (FORMAT binary)`` is a 2-byte field count, then each field
as a 4-byte length and its bytes, big-endian. When every column is a non-null int4, int8,
float8 or bool, every row has the same length, so a block of rows is one ``np.frombuffer``
over a record type and a conversion per column: no Python object per row or value.

What is left per row is receiving it: PostgreSQL sends one message per row. psycopg's
``Copy`` iterates them through its generator machinery (about 2 µs a row, on a par with the
server producing it); this module reads them with the libpq calls psycopg itself wraps
(``Connection.pgconn``), blocking, in a tight loop: a quarter faster at 14 million rows
(docs/benchmarks.md). The COPY runs in the caller's transaction (psycopg is made to begin it
first, with the connection's isolation level).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import psycopg
import sqlalchemy as sa
from psycopg import pq

BLOCK_BYTES = 8 << 20
"""Rows are parsed whenever this much has arrived: memory stays the columns' own."""

_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
_WIRE = {"int32": ">i4", "int64": ">i8", "float64": ">f8", "bool": "?"}


def read_columns(
    conn: sa.Connection,
    query: sa.Select[Any] | sa.TextualSelect,
    dtypes: Mapping[str, npt.DTypeLike],
) -> dict[str, npt.NDArray[Any]]:
    """``query``'s columns (named and typed by ``dtypes``, in its column order: int32,
    int64, float64 or bool, never NULL) as numpy arrays of those types, on PostgreSQL."""
    native = {name: np.dtype(dtype) for name, dtype in dtypes.items()}
    record = np.dtype(
        [("fields", ">i2")]
        + [
            entry
            for name, dtype in native.items()
            for entry in ((f"{name}_length", ">i4"), (name, _WIRE[dtype.name]))
        ]
    )
    compiled = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    # Sent as is, not through a paramstyle: undo its escaping of %.
    statement = f"COPY ({compiled.replace('%%', '%')}) TO STDOUT (FORMAT binary)".encode()
    driver: psycopg.Connection[Any] = conn.connection.driver_connection  # type: ignore[assignment]
    if driver.info.transaction_status == pq.TransactionStatus.IDLE and not driver.autocommit:
        # The caller's transaction (and psycopg's BEGIN, with the isolation level asked
        # for) starts with a statement through them.
        conn.exec_driver_sql("SELECT 1")
    out = _Columns(native)
    buffer = bytearray()
    with driver.lock:
        pgconn = driver.pgconn
        pgconn.send_query(statement)
        _expect(pgconn, pq.ExecStatus.COPY_OUT)
        get = pgconn.get_copy_data
        header = 0
        while True:
            size, data = get(0)
            if size < 0:
                break
            buffer += data
            if len(buffer) >= BLOCK_BYTES:
                if not header:
                    header = _header_length(buffer)
                    buffer = buffer[header:]
                buffer = out.append(buffer, record)
        _expect(pgconn, pq.ExecStatus.COMMAND_OK)
    if not header and buffer:
        buffer = buffer[_header_length(buffer) :]
    if buffer[-2:] != b"\xff\xff":
        raise ValueError("binary COPY output without its trailer")
    del buffer[-2:]
    if out.append(buffer, record):
        raise ValueError("binary COPY rows are not of the fixed width expected")
    return out.done()


class _Columns:
    """Native columns filled block by block. They grow in place (``ndarray.resize``: large
    blocks are remapped, not copied), so the peak is the columns' own size, not twice it
    as with parts concatenated at the end."""

    def __init__(self, native: dict[str, np.dtype[Any]]) -> None:
        self.native = native
        self.size = 0
        self.columns = {name: np.empty(1 << 16, dtype) for name, dtype in native.items()}

    def append(self, buffer: bytearray, record: np.dtype[Any]) -> bytearray:
        """Take the whole records at the start of ``buffer``; the bytes after them, in a new
        buffer (deleting from the front of a bytearray keeps its memory)."""
        n = len(buffer) // record.itemsize
        records = np.frombuffer(buffer, dtype=record, count=n)
        if n and (
            (records["fields"] != len(self.native)).any()
            or any(
                (records[f"{name}_length"] != dtype.itemsize).any()
                for name, dtype in self.native.items()
            )
        ):
            raise ValueError("binary COPY rows are not of the fixed width expected")
        capacity = len(next(iter(self.columns.values())))
        if self.size + n > capacity:
            for column in self.columns.values():
                column.resize(max(2 * capacity, self.size + n), refcheck=False)
        for name, column in self.columns.items():
            column[self.size : self.size + n] = records[name]
        self.size += n
        return buffer[n * record.itemsize :]

    def done(self) -> dict[str, npt.NDArray[Any]]:
        for column in self.columns.values():
            column.resize(self.size, refcheck=False)
        return self.columns


def _expect(pgconn: pq.abc.PGconn, status: pq.ExecStatus) -> None:
    """Take the next result: it must have ``status``, else raise with the server's message.
    After the COPY's final result (and after a failure) the connection is drained, ready for
    the caller's next statement."""
    result = pgconn.get_result()
    if result is not None and result.status == status:
        if status != pq.ExecStatus.COPY_OUT:
            while pgconn.get_result() is not None:
                pass
        return
    message = result.error_message if result is not None else pgconn.error_message
    while pgconn.get_result() is not None:
        pass
    raise psycopg.OperationalError(
        f"binary COPY failed: {message.decode(errors='replace').strip()}"
    )


def _header_length(buffer: bytearray) -> int:
    if not buffer.startswith(_SIGNATURE):
        raise ValueError("not binary COPY output")
    return 19 + int.from_bytes(buffer[15:19], "big")
