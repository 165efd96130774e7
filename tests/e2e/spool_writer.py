"""The process that test_spool_kill9 kills: puts batches into a spool as fast as it can.

Usage: ``python spool_writer.py SPOOL_PATH``. After each put has returned (committed) it prints
the batch's sequence number on its own line and flushes, so a line on stdout is a promise that
the batch is on disk. Batch ids and bodies follow from the sequence alone (:func:`batch_for`),
so the test can check every byte without being told them.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

from agent.spool import Spool

MAX_BYTES = 256 * 1024**2


def batch_for(sequence: int) -> tuple[str, bytes]:
    """The batch id and body the writer stores under ``sequence`` (200 B to 20 kB)."""
    rng = random.Random(sequence)
    return f"batch-{sequence:08d}", rng.randbytes(rng.randint(200, 20_000))


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: spool_writer.py SPOOL_PATH", file=sys.stderr)
        return 2
    with Spool(Path(argv[1]), max_bytes=MAX_BYTES) as spool:
        while True:
            sequence = spool.allocate_sequence()
            batch_id, body = batch_for(sequence)
            spool.put(batch_id, sequence, body)
            sys.stdout.write(f"{sequence}\n")
            sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
