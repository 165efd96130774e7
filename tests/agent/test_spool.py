from __future__ import annotations

import re
import sqlite3
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.errors import SpoolError
from agent.spool import Spool

T0 = 1_764_000_000.0


class FakeClock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "spool.sqlite3"


@pytest.fixture
def spool(path: Path, clock: FakeClock) -> Iterator[Spool]:
    with Spool(path, max_bytes=10_000, clock=clock) as opened:
        yield opened


def body(n: int, size: int = 100) -> bytes:
    return bytes([n % 256]) * size


def test_a_put_batch_comes_back_due_with_its_exact_body(spool: Spool) -> None:
    spool.put("b1", 1, b"\x1f\x8b gzip bytes \x00\xff")
    [batch] = spool.due(T0, limit=10)
    assert batch.batch_id == "b1"
    assert batch.sequence == 1
    assert batch.body == b"\x1f\x8b gzip bytes \x00\xff"
    assert batch.attempts == 0


def test_due_returns_oldest_first_and_respects_the_limit(spool: Spool) -> None:
    for n in range(5):
        spool.put(f"b{n}", n + 1, body(n))
    assert [b.batch_id for b in spool.due(T0, limit=3)] == ["b0", "b1", "b2"]


def test_an_acked_batch_is_gone(spool: Spool) -> None:
    spool.put("b1", 1, body(1))
    spool.put("b2", 2, body(2))
    spool.ack("b1")
    assert [b.batch_id for b in spool.due(T0, limit=10)] == ["b2"]
    assert spool.status().pending == 1


def test_batches_survive_closing_and_reopening(path: Path, clock: FakeClock) -> None:
    with Spool(path, max_bytes=10_000, clock=clock) as spool:
        spool.put("b1", spool.allocate_sequence(), body(1))
        spool.put("b2", spool.allocate_sequence(), body(2))
        spool.quarantine("b2", "HTTP 422: bad")
    with Spool(path, max_bytes=10_000, clock=clock) as reopened:
        assert [(b.batch_id, b.body) for b in reopened.due(T0, 10)] == [("b1", body(1))]
        assert [q.batch_id for q in reopened.quarantined()] == ["b2"]


def test_the_file_is_created_0600_in_a_new_directory(path: Path, spool: Spool) -> None:
    spool.put("b1", 1, body(1))
    assert path.parent.is_dir()
    for file in path.parent.iterdir():
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file


def test_the_spool_is_in_wal_mode(path: Path, spool: Spool) -> None:
    spool.put("b1", 1, body(1))
    with sqlite3.connect(path) as other:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    other.close()


def test_a_second_put_of_the_same_batch_id_is_ignored(spool: Spool) -> None:
    spool.put("b1", 1, body(1))
    spool.put("b1", 2, body(9, size=500))
    [batch] = spool.due(T0, 10)
    assert (batch.sequence, batch.body) == (1, body(1))
    assert spool.status().pending_bytes == 100


def test_sequences_keep_increasing_across_reopening(path: Path) -> None:
    seen: list[int] = []
    for _ in range(3):
        with Spool(path, max_bytes=10_000) as spool:
            seen += [spool.allocate_sequence() for _ in range(4)]
    assert seen == sorted(set(seen))
    assert len(seen) == 12


def test_a_sequence_put_by_the_caller_is_never_handed_out_again(spool: Spool) -> None:
    spool.put("b1", 41, body(1))
    assert spool.allocate_sequence() == 42


def test_it_drops_the_oldest_batches_when_full_and_counts_them(path: Path) -> None:
    with Spool(path, max_bytes=1000) as spool:
        for n in range(10):
            spool.put(f"b{n}", n + 1, body(n, size=100))
        spool.put("b10", 11, body(10, size=250))
        status = spool.status()
        assert [b.batch_id for b in spool.due(T0 * 2, 100)] == [f"b{n}" for n in range(3, 11)]
    assert status.pending_bytes == 950
    assert (status.dropped_batches, status.dropped_bytes) == (3, 300)
    with Spool(path, max_bytes=1000) as reopened:
        assert (reopened.status().dropped_batches, reopened.status().dropped_bytes) == (3, 300)


def test_it_drops_quarantined_batches_before_pending_ones(path: Path, clock: FakeClock) -> None:
    with Spool(path, max_bytes=500, clock=clock) as spool:
        for n in range(5):
            spool.put(f"b{n}", n + 1, body(n))
        spool.quarantine("b3", "HTTP 400: nope")
        spool.put("b5", 6, body(5))
        assert [b.batch_id for b in spool.due(T0, 10)] == ["b0", "b1", "b2", "b4", "b5"]
        assert spool.quarantined() == []
        assert spool.status().dropped_batches == 1


def test_a_batch_larger_than_the_bound_is_dropped_and_the_rest_kept(path: Path) -> None:
    with Spool(path, max_bytes=1000) as spool:
        spool.put("small", 1, body(1))
        spool.put("huge", 2, body(2, size=1001))
        status = spool.status()
        assert [b.batch_id for b in spool.due(T0 * 2, 10)] == ["small"]
    assert (status.dropped_batches, status.dropped_bytes) == (1, 1001)


def test_a_deferred_batch_waits_and_remembers_the_error(spool: Spool, clock: FakeClock) -> None:
    spool.put("b1", 1, body(1))
    spool.put("b2", 2, body(2))
    spool.defer("b1", T0 + 60, "connection refused")
    assert [b.batch_id for b in spool.due(T0 + 59, 10)] == ["b2"]
    [first, _] = spool.due(T0 + 60, 10)
    assert (first.batch_id, first.attempts, first.last_error) == ("b1", 1, "connection refused")
    assert spool.status().last_error == "connection refused"


def test_defer_all_holds_every_batch_including_later_ones(spool: Spool, clock: FakeClock) -> None:
    spool.put("b1", 1, body(1))
    spool.defer_all(T0 + 120, "HTTP 429")
    clock.now = T0 + 10
    spool.put("b2", 2, body(2))
    assert spool.due(T0 + 119, 10) == []
    assert spool.status().not_before == T0 + 120
    assert [b.batch_id for b in spool.due(T0 + 120, 10)] == ["b1", "b2"]
    assert all(b.attempts == 0 for b in spool.due(T0 + 120, 10))


def test_a_shorter_defer_all_does_not_shorten_a_longer_hold(spool: Spool) -> None:
    spool.put("b1", 1, body(1))
    spool.defer_all(T0 + 300, "HTTP 503")
    spool.defer_all(T0 + 10, "HTTP 429")
    assert spool.due(T0 + 299, 10) == []


def test_quarantined_batches_are_not_due_until_requeued(spool: Spool, clock: FakeClock) -> None:
    spool.put("b1", 1, body(1))
    clock.now = T0 + 5
    spool.quarantine("b1", "HTTP 422: unknown field 'x'")
    assert spool.due(T0 + 1000, 10) == []
    [row] = spool.quarantined()
    assert (row.batch_id, row.reason, row.size, row.quarantined_at) == (
        "b1",
        "HTTP 422: unknown field 'x'",
        100,
        T0 + 5,
    )
    assert spool.requeue_quarantined() == 1
    assert [b.batch_id for b in spool.due(T0 + 5, 10)] == ["b1"]
    assert spool.quarantined() == []


def test_status_reports_counts_sizes_and_age(spool: Spool, clock: FakeClock) -> None:
    spool.put("b1", 1, body(1, size=100))
    clock.now = T0 + 30
    spool.put("b2", 2, body(2, size=200))
    spool.put("b3", 3, body(3, size=50))
    spool.quarantine("b3", "HTTP 400")
    clock.now = T0 + 90
    status = spool.status()
    assert (status.pending, status.pending_bytes) == (2, 300)
    assert (status.quarantined, status.quarantined_bytes) == (1, 50)
    assert status.oldest_pending_age == 90.0
    assert status.last_error == "HTTP 400"
    assert status.not_before is None


def test_status_of_an_empty_spool_has_no_age(spool: Spool) -> None:
    status = spool.status()
    assert (status.pending, status.oldest_pending_age, status.dropped_batches) == (0, None, 0)


def test_opening_a_corrupt_file_raises_a_spool_error_naming_it(path: Path) -> None:
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not an SQLite database, it is a text file\n" * 200)
    with pytest.raises(SpoolError, match=re.escape(str(path))):
        Spool(path, max_bytes=1000)
    assert path.read_bytes().startswith(b"this is not an SQLite")


def test_opening_a_spool_with_damaged_pages_raises_a_spool_error(path: Path) -> None:
    with Spool(path, max_bytes=10**6) as spool:
        for n in range(50):
            spool.put(f"b{n}", n + 1, body(n, size=3000))
    data = bytearray(path.read_bytes())
    # Page 1 holds the header and the schema; scribble over the b-tree pages after it.
    data[4096 : 4096 * 6] = b"\xa5" * (4096 * 5)
    path.write_bytes(bytes(data))
    with pytest.raises(SpoolError, match=re.escape(str(path))):
        Spool(path, max_bytes=10**6)


def test_another_programs_database_is_refused(path: Path) -> None:
    path.parent.mkdir(parents=True)
    with sqlite3.connect(path) as other:
        other.execute("PRAGMA application_id = 1234")
        other.execute("CREATE TABLE users (name TEXT)")
    other.close()
    with pytest.raises(SpoolError, match="another program"):
        Spool(path, max_bytes=1000)


def test_a_closed_spool_raises_spool_error(path: Path) -> None:
    spool = Spool(path, max_bytes=1000)
    spool.close()
    with pytest.raises(SpoolError, match="closed"):
        spool.put("b1", 1, b"x")


def test_a_builder_and_a_shipper_thread_can_share_it(spool: Spool) -> None:
    acked: list[str] = []
    done = threading.Event()

    def builder() -> None:
        for n in range(200):
            spool.put(f"b{n}", spool.allocate_sequence(), body(n, size=10))
        done.set()

    def shipper() -> None:
        while True:
            finished = done.is_set()
            batches = spool.due(T0, limit=7)
            for batch in batches:
                spool.ack(batch.batch_id)
                acked.append(batch.batch_id)
            if finished and not batches:
                return

    threads = [threading.Thread(target=builder), threading.Thread(target=shipper)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(acked) == sorted(f"b{n}" for n in range(200))
    assert spool.status().pending == 0
