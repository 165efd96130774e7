from __future__ import annotations

import re
import sqlite3
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.errors import SpoolError
from agent.spool import Spool, _move_aside

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


def write_damaged_spool(path: Path) -> bytes:
    """A real spool whose b-tree pages were overwritten; returns the damaged file's bytes."""
    with Spool(path, max_bytes=10**6) as spool:
        for n in range(50):
            spool.put(f"b{n}", n + 1, body(n, size=3000))
    data = bytearray(path.read_bytes())
    # Page 1 holds the header and the schema; scribble over the b-tree pages after it.
    data[4096 : 4096 * 6] = b"\xa5" * (4096 * 5)
    path.write_bytes(bytes(data))
    return bytes(data)


def write_truncated_spool(path: Path) -> bytes:
    """A real spool cut off in the middle, as by a full disk during a copy."""
    with Spool(path, max_bytes=10**6) as spool:
        for n in range(50):
            spool.put(f"b{n}", n + 1, body(n, size=3000))
    data = path.read_bytes()[: 4096 * 10]
    path.write_bytes(data)
    return data


def write_garbage(path: Path) -> bytes:
    data = b"this is not an SQLite database, it is a text file\n" * 200
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data


DAMAGE = {"garbage": write_garbage, "damaged pages": write_damaged_spool}
DAMAGE["truncated"] = write_truncated_spool


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_without_recover_a_damaged_file_raises_naming_it_and_is_left_alone(
    damage: str, path: Path
) -> None:
    data = DAMAGE[damage](path)
    with pytest.raises(SpoolError, match=re.escape(str(path))):
        Spool(path, max_bytes=10**6)
    assert path.read_bytes() == data
    assert [p.name for p in path.parent.iterdir() if "corrupt" in p.name] == []


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_it_moves_a_damaged_file_aside_and_starts_an_empty_spool(
    damage: str, path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    data = DAMAGE[damage](path)
    clock.now = 1_796_613_300.0  # 2026-12-07 03:15:00 UTC
    with Spool(path, max_bytes=10**6, clock=clock, recover=True) as spool:
        assert spool.recoveries == 1
        assert spool.status().pending == 0
        spool.put("fresh", spool.allocate_sequence(), body(1))
        assert [b.batch_id for b in spool.due(clock.now, 10)] == ["fresh"]
    aside = path.with_name("spool.sqlite3.corrupt-20261207T031500Z")
    assert aside.read_bytes() == data
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    [warning] = [r for r in caplog.records if r.levelname == "WARNING"]
    assert str(path) in warning.getMessage()
    assert str(aside) in warning.getMessage()


def test_the_wal_and_shm_files_move_with_it_keeping_their_suffix(path: Path) -> None:
    path.parent.mkdir(parents=True)
    for suffix in ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).write_bytes(b"old" + suffix.encode())
    aside = _move_aside(path, 1_796_613_300.0)
    assert aside.name == "spool.sqlite3.corrupt-20261207T031500Z"
    assert sorted(p.name for p in path.parent.iterdir()) == [
        "spool.sqlite3.corrupt-20261207T031500Z",
        "spool.sqlite3.corrupt-20261207T031500Z-shm",
        "spool.sqlite3.corrupt-20261207T031500Z-wal",
    ]
    assert aside.with_name(aside.name + "-wal").read_bytes() == b"old-wal"


def test_no_journal_of_the_damaged_file_is_left_for_the_new_spool(
    path: Path, clock: FakeClock
) -> None:
    write_garbage(path)
    for suffix in ("-wal", "-shm"):
        path.with_name(path.name + suffix).write_bytes(b"old" + suffix.encode())
    with Spool(path, max_bytes=10**6, clock=clock, recover=True) as spool:
        spool.put("fresh", 1, body(1))
        for suffix in ("-wal", "-shm"):
            side = path.with_name(path.name + suffix)
            assert not side.exists() or not side.read_bytes().startswith(b"old")
    with Spool(path, max_bytes=10**6, clock=clock) as reopened:
        assert [b.batch_id for b in reopened.due(clock.now, 10)] == ["fresh"]


def test_a_second_damaged_file_in_the_same_second_gets_its_own_name(
    path: Path, clock: FakeClock
) -> None:
    for _ in range(2):
        write_garbage(path)
        Spool(path, max_bytes=1000, clock=clock, recover=True).close()
    names = sorted(p.name for p in path.parent.iterdir() if ".corrupt-" in p.name)
    assert names == [
        "spool.sqlite3.corrupt-20251124T160000Z",
        "spool.sqlite3.corrupt-20251124T160000Z-1",
    ]


def test_sequences_after_a_recovery_stay_above_the_damaged_spools(
    path: Path, clock: FakeClock
) -> None:
    with Spool(path, max_bytes=10**6, clock=clock) as spool:
        spool.put("old", 10**9, body(1))
    write_garbage(path)
    with Spool(path, max_bytes=10**6, clock=clock, recover=True) as spool:
        assert spool.allocate_sequence() > 10**9


def test_damage_met_while_running_is_moved_aside_and_the_put_kept(
    path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    with Spool(path, max_bytes=10**8, clock=clock, recover=True) as spool:
        for n in range(300):
            spool.put(f"b{n}", n + 1, bytes(range(256)) * 12)
        _checkpoint(path)
        _scribble_over_pages(path)
        spool.put("after", 301, body(7))
        assert spool.recoveries == 1
        assert [b.batch_id for b in spool.due(clock.now, 10)] == ["after"]
        assert spool.allocate_sequence() > 301
    [aside] = [p for p in path.parent.iterdir() if p.name.startswith("spool.sqlite3.corrupt-")]
    [warning] = [r for r in caplog.records if r.levelname == "WARNING"]
    assert str(aside) in warning.getMessage()


def test_damage_met_while_running_without_recover_raises(path: Path) -> None:
    with Spool(path, max_bytes=10**8) as spool:
        for n in range(300):
            spool.put(f"b{n}", n + 1, bytes(range(256)) * 12)
        _checkpoint(path)
        _scribble_over_pages(path)
        with pytest.raises(SpoolError, match="damaged"):
            spool.due(T0, 1000)
    assert [p.name for p in path.parent.iterdir() if "corrupt" in p.name] == []


def _checkpoint(path: Path) -> None:
    """Move everything from the WAL into the main file, where the scribbling will hit it."""
    other = sqlite3.connect(path)
    try:
        other.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        other.close()


def _scribble_over_pages(path: Path) -> None:
    size = path.stat().st_size
    with path.open("r+b") as file:
        file.seek(4096)
        file.write(b"\xa5" * (size - 4096 * 2))


def test_another_programs_database_is_refused_and_never_moved(path: Path) -> None:
    path.parent.mkdir(parents=True)
    with sqlite3.connect(path) as other:
        other.execute("PRAGMA application_id = 1234")
        other.execute("CREATE TABLE users (name TEXT)")
    other.close()
    with pytest.raises(SpoolError, match="another program") as raised:
        Spool(path, max_bytes=1000, recover=True)
    assert str(path) in str(raised.value)
    assert sorted(p.name for p in path.parent.iterdir()) == ["spool.sqlite3"]


def test_a_spool_of_a_newer_agent_is_refused_and_never_moved(path: Path) -> None:
    Spool(path, max_bytes=1000).close()
    with sqlite3.connect(path) as other:
        other.execute("PRAGMA user_version = 99")
    other.close()
    with pytest.raises(SpoolError, match="newer than this agent") as raised:
        Spool(path, max_bytes=1000, recover=True)
    assert str(path) in str(raised.value)
    assert [p.name for p in path.parent.iterdir() if "corrupt" in p.name] == []


def fill(spool: Spool, count: int) -> None:
    for n in range(count):
        spool.put(f"b{n}", n + 1, body(n, size=3000))


def test_a_full_disk_is_an_error_not_damage(path: Path) -> None:
    with Spool(path, max_bytes=10**8, recover=True) as spool:
        # SQLite's own limit gives the very error a full disk gives (SQLITE_FULL).
        spool._conn.execute("PRAGMA max_page_count = 20")
        with pytest.raises(SpoolError, match="database or disk is full"):
            fill(spool, count=100)
        assert spool.recoveries == 0
        assert spool.status().pending > 0
    assert [p.name for p in path.parent.iterdir() if "corrupt" in p.name] == []


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
