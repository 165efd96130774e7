"""The JobLeases contract on SQLite and PostgreSQL: one runner per job across advisors."""

from __future__ import annotations

from advisor.store.job_state import FAILURE, SUCCESS, JobLeases

T0 = 1_764_000_000.0
LEASE = 600.0


def test_a_held_lease_is_refused_to_another_owner_until_it_expires(leases: JobLeases) -> None:
    assert leases.claim("rollup", owner="a", now=T0, lease_seconds=LEASE)

    assert not leases.claim("rollup", owner="b", now=T0 + LEASE - 1, lease_seconds=LEASE)
    assert leases.claim("rollup", owner="b", now=T0 + LEASE, lease_seconds=LEASE)
    [status] = leases.job_status("rollup")
    assert (status.lease_owner, status.lease_expires_at) == ("b", T0 + 2 * LEASE)


def test_jobs_have_leases_of_their_own(leases: JobLeases) -> None:
    assert leases.claim("rollup", owner="a", now=T0, lease_seconds=LEASE)

    assert leases.claim("retention", owner="b", now=T0, lease_seconds=LEASE)
    assert [s.job for s in leases.job_status()] == ["retention", "rollup"]


def test_a_tick_is_claimed_once_even_after_its_lease_is_released(leases: JobLeases) -> None:
    assert leases.claim("rollup", owner="a", now=T0, lease_seconds=LEASE, tick=T0)
    assert leases.finish("rollup", owner="a", now=T0 + 5, outcome=SUCCESS, rows=3)

    assert not leases.claim("rollup", owner="b", now=T0 + 6, lease_seconds=LEASE, tick=T0)
    assert leases.claim("rollup", owner="b", now=T0 + 300, lease_seconds=LEASE, tick=T0 + 300)


def test_only_the_owner_renews_and_renewing_moves_the_expiry(leases: JobLeases) -> None:
    leases.claim("rollup", owner="a", now=T0, lease_seconds=LEASE)

    assert not leases.renew("rollup", owner="b", now=T0 + 10, lease_seconds=LEASE)
    assert leases.renew("rollup", owner="a", now=T0 + 10, lease_seconds=LEASE)
    assert not leases.claim("rollup", owner="b", now=T0 + LEASE + 5, lease_seconds=LEASE)


def test_finishing_records_the_run_and_counts_failures_until_a_success(
    leases: JobLeases,
) -> None:
    for attempt in range(2):
        at = T0 + attempt * 100
        leases.claim("rollup", owner="a", now=at, lease_seconds=LEASE)
        assert leases.finish("rollup", owner="a", now=at + 1, outcome=FAILURE, error="boom")
    [failed] = leases.job_status("rollup")
    assert (failed.failures, failed.last_outcome, failed.last_error) == (2, FAILURE, "boom")
    assert failed.lease_owner is None
    assert failed.last_success_at is None

    leases.claim("rollup", owner="a", now=T0 + 300, lease_seconds=LEASE)
    leases.finish("rollup", owner="a", now=T0 + 301, outcome=SUCCESS, rows=7)

    [done] = leases.job_status("rollup")
    assert (done.failures, done.last_rows, done.last_success_at) == (0, 7, T0 + 301)
    assert (done.last_started_at, done.last_finished_at) == (T0 + 300, T0 + 301)


def test_an_owner_that_lost_its_lease_cannot_finish(leases: JobLeases) -> None:
    leases.claim("rollup", owner="a", now=T0, lease_seconds=LEASE)
    leases.claim("rollup", owner="b", now=T0 + LEASE, lease_seconds=LEASE)

    assert not leases.finish("rollup", owner="a", now=T0 + LEASE + 1, outcome=SUCCESS)
    [status] = leases.job_status("rollup")
    assert status.lease_owner == "b"


def test_a_job_never_claimed_has_no_status(leases: JobLeases) -> None:
    assert leases.job_status() == []
    assert leases.job_status("analysis") == []
