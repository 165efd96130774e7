"""The batches themselves: deterministic, valid wire format, realistic delivery."""

from __future__ import annotations

import hashlib
import itertools
from collections import defaultdict

from advisor.api.ingest import parse_batch
from advisor.simulator.fleet import slot_start
from agent.shared.wire import encode, encode_gzip

from .fleets import deliveries, small_fleet


def digest_of_run(seed: int) -> str:
    digest = hashlib.sha256()
    for delivery in deliveries(seed, hosts=10, days=2.0):
        digest.update(encode_gzip(delivery.batch))
        digest.update(f"{delivery.delivered_at!r}{delivery.sent_at!r}".encode())
    return digest.hexdigest()


def test_the_same_seed_gives_byte_identical_batches() -> None:
    first = digest_of_run(5)
    deliveries.cache_clear()
    assert digest_of_run(5) == first


def test_a_different_seed_gives_different_batches() -> None:
    assert digest_of_run(5) != digest_of_run(6)


def test_every_batch_passes_the_advisors_own_parser_unchanged() -> None:
    run = deliveries()
    assert len(run) > 500
    for delivery in run:
        assert parse_batch(encode(delivery.batch)) == delivery.batch


def test_batches_arrive_in_time_order_with_increasing_sequences_per_host() -> None:
    run = deliveries()
    times = [d.delivered_at for d in run]
    assert times == sorted(times)
    sequences: dict[str, list[int]] = defaultdict(list)
    for delivery in run:
        sequences[delivery.host_id].append(delivery.batch.sequence)
    for seq in sequences.values():
        assert seq == sorted(set(seq))


def test_summaries_are_consistent_and_carry_the_agents_series() -> None:
    names = set()
    for delivery in deliveries()[:300]:
        for interval in delivery.batch.intervals:
            assert interval.end - interval.start == 3600.0
            for m in interval.metrics:
                names.add(m.name)
                assert m.min <= m.p50 <= m.p90 <= m.p99 <= m.max
                assert m.min * m.count <= m.sum <= m.max * m.count * (1 + 1e-9)
                if m.name.endswith("_ratio") and m.name != "app_cpu_utilization_ratio":
                    assert 0.0 <= m.max <= 1.0
    assert {"pressure_memory_some_ratio", "swap_in_bytes_per_second", "disk_used_ratio"} <= names
    assert {"disk_io_latency_seconds", "cpu_utilization_ratio", "app_rss_bytes"} <= names


def test_a_skewed_host_stamps_its_batches_with_its_own_clock() -> None:
    fleet = small_fleet(seed=3, hosts=200, days=1.0)
    skewed = {h.host_id: h.skew_seconds for h in fleet.hosts if h.skew_seconds}
    assert skewed
    seen = 0
    for delivery in deliveries(seed=3, hosts=200, days=1.0):
        skew = skewed.get(delivery.host_id)
        if skew is None:
            continue
        interval = delivery.batch.intervals[0]
        true_start = interval.start - skew
        assert abs(true_start - slot_start(fleet, true_start + 1)) < 1e-6
        assert abs(delivery.sent_at - delivery.delivered_at - skew) < 1e-6
        seen += 1
    assert seen


def test_an_offline_agent_delivers_its_spooled_batches_late_in_one_burst() -> None:
    fleet = small_fleet(seed=2, hosts=60, days=8.0)
    offline = {h.host_id: h.agent_offline[0] for h in fleet.hosts if h.agent_offline}
    assert offline
    late: dict[str, list[float]] = defaultdict(list)
    for delivery in deliveries(seed=2, hosts=60, days=8.0):
        window = offline.get(delivery.host_id)
        created = delivery.batch.created_at - next(
            h.skew_seconds for h in fleet.hosts if h.host_id == delivery.host_id
        )
        if window is not None and created in window:
            assert delivery.delivered_at >= window.end
            late[delivery.host_id].append(delivery.delivered_at)
    assert late, "no batch was spooled while an agent was offline"
    for times in late.values():
        assert times[-1] - times[0] < 60  # one burst, not spread out


def test_some_intervals_go_missing_and_leave_gaps_in_the_sequence() -> None:
    sequences: dict[str, list[int]] = defaultdict(list)
    for delivery in deliveries(seed=2, hosts=60, days=8.0):
        sequences[delivery.host_id].append(delivery.batch.sequence)
    gaps = sum(1 for seq in sequences.values() for a, b in itertools.pairwise(seq) if b > a + 1)
    assert gaps > 0
