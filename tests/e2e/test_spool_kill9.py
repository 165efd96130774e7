"""kill -9 of a process while it writes the spool: what it reported committed is all there.

A real subprocess (spool_writer.py) puts batches in a loop and prints each committed sequence;
the test SIGKILLs it at random moments, several rounds on the same file, and after each round
opens the spool as the restarted agent would.
"""

from __future__ import annotations

import queue
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import pytest

from agent.spool import Spool
from tests.e2e.spool_writer import MAX_BYTES, batch_for

WRITER = Path(__file__).with_name("spool_writer.py")
ROUNDS = 8
WAIT_SECONDS = 60.0


def _read_lines(stream: IO[bytes], lines: queue.Queue[bytes | None]) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def _run_and_kill(path: Path, rng: random.Random, log: Path) -> list[int]:
    """Start the writer, SIGKILL it after a random number of puts plus a random pause."""
    with log.open("ab") as stderr:
        writer = subprocess.Popen(
            [sys.executable, str(WRITER), str(path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
        )
    assert writer.stdout is not None
    lines: queue.Queue[bytes | None] = queue.Queue()
    reader = threading.Thread(target=_read_lines, args=(writer.stdout, lines), daemon=True)
    reader.start()
    received: list[bytes] = []
    try:
        wanted = rng.randint(1, 40)
        while len(received) < wanted:
            line = lines.get(timeout=WAIT_SECONDS)
            if line is None:
                pytest.fail(f"the writer exited early; its stderr is in {log}")
            received.append(line)
        time.sleep(rng.uniform(0.0, 0.05))
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=WAIT_SECONDS)
        reader.join(timeout=WAIT_SECONDS)
        writer.stdout.close()
    assert writer.returncode == -signal.SIGKILL
    while (line := lines.get_nowait()) is not None:
        received.append(line)
    # A line cut short by the kill promises nothing.
    return [int(line) for line in received if line.endswith(b"\n")]


@pytest.mark.e2e
def test_every_committed_batch_survives_kill_9_intact(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite3"
    rng = random.Random(20251124)
    committed: list[int] = []
    for _ in range(ROUNDS):
        committed += _run_and_kill(path, rng, tmp_path / "writer.stderr")

        checker = sqlite3.connect(path)
        try:
            assert checker.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        finally:
            checker.close()

        with Spool(path, max_bytes=MAX_BYTES) as spool:
            stored = {
                batch.sequence: (batch.batch_id, batch.body)
                for batch in spool.due(time.time() + 10**9, limit=10**6)
            }
            missing = [sequence for sequence in committed if sequence not in stored]
            assert missing == []
            # Every row, reported or caught mid-put, is whole: no torn bodies.
            for sequence, stored_batch in stored.items():
                assert stored_batch == batch_for(sequence), sequence
            assert spool.allocate_sequence() > max(stored)

    assert committed == sorted(set(committed))
    assert len(committed) >= ROUNDS
