from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.shared.backoff import backoff_ceiling, backoff_delay, parse_retry_after

NOW = 1_764_000_000.0  # Mon, 24 Nov 2025 16:00:00 GMT


def test_the_ceiling_doubles_with_each_attempt_up_to_the_cap() -> None:
    ceilings = [backoff_ceiling(n, base=2.0, cap=60.0) for n in range(1, 8)]
    assert ceilings == [2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]


def test_a_huge_attempt_number_stays_at_the_cap_without_overflowing() -> None:
    assert backoff_ceiling(10_000, base=2.0, cap=900.0) == 900.0


@given(attempt=st.integers(min_value=-3, max_value=500), seed=st.integers(0, 2**32))
def test_the_delay_is_never_negative_nor_above_the_ceiling(attempt: int, seed: int) -> None:
    delay = backoff_delay(attempt, base=1.5, cap=900.0, rng=random.Random(seed))
    assert 0.0 <= delay <= backoff_ceiling(attempt, base=1.5, cap=900.0)


def test_the_delay_is_jittered_across_the_whole_range() -> None:
    rng = random.Random(7)
    delays = [backoff_delay(5, base=2.0, cap=900.0, rng=rng) for _ in range(500)]
    # Full jitter: draws spread over [0, 32], not clustered at the ceiling.
    assert min(delays) < 4.0
    assert max(delays) > 28.0
    assert len({round(d, 6) for d in delays}) > 450


def test_the_same_seed_gives_the_same_delays() -> None:
    first = [backoff_delay(n, base=2.0, cap=60.0, rng=random.Random(3)) for n in range(1, 6)]
    second = [backoff_delay(n, base=2.0, cap=60.0, rng=random.Random(3)) for n in range(1, 6)]
    assert first == second


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        ("2.5", 2.5),
        ("-5", 0.0),
        ("Mon, 24 Nov 2025 16:02:00 GMT", 120.0),
        ("Mon, 24 Nov 2025 15:59:00 GMT", 0.0),
        ("Monday, 24-Nov-25 16:01:00 GMT", 60.0),
    ],
)
def test_it_reads_retry_after_as_seconds_or_http_date(value: str, expected: float) -> None:
    assert parse_retry_after(value, NOW) == pytest.approx(expected)


@pytest.mark.parametrize("value", [None, "", "soon", "12 seconds", "1e3", "Mon, 99 Foo 2025", "∞"])
def test_it_ignores_a_retry_after_it_cannot_read(value: str | None) -> None:
    assert parse_retry_after(value, NOW) is None
