"""advisor.api.quotas and advisor.api.auth.KnownCredentials, on injected clocks."""

from __future__ import annotations

from advisor.api.auth import KnownCredentials, plausible_credential
from advisor.api.quotas import FailedAuthentications, HostQuotas
from advisor.store import AuthenticatedHost
from advisor.store.tokens import secret_sha256

HOST = AuthenticatedHost(host_id="h1", department="finance")


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_host_gets_its_in_flight_share_back_when_a_request_is_answered() -> None:
    quotas = HostQuotas(max_in_flight=2, per_minute=100)

    assert quotas.admit("h1") is None
    assert quotas.admit("h1") is None
    refused = quotas.admit("h1")
    assert quotas.admit("h2") is None  # another host has its own share
    quotas.release("h1")

    assert refused is not None
    assert refused.retry_after == 1
    assert "2 batches in flight" in refused.detail
    assert quotas.admit("h1") is None
    assert quotas.in_flight("h1") == 2


def test_a_host_past_its_rate_waits_for_its_bucket_to_refill() -> None:
    clock = Clock()
    quotas = HostQuotas(max_in_flight=10, per_minute=2, clock=clock)
    for _ in range(2):
        assert quotas.admit("h1") is None
        quotas.release("h1")

    refused = quotas.admit("h1")
    clock.now += 29.0
    still = quotas.admit("h1")
    clock.now += 1.0
    admitted = quotas.admit("h1")

    assert refused is not None
    assert refused.retry_after == 30  # one batch every 30 s at 2 a minute
    assert "more than 2 batches in a minute" in refused.detail
    assert still is not None
    assert still.retry_after == 1
    assert admitted is None
    assert quotas.in_flight("h1") == 1


def test_idle_hosts_buckets_are_forgotten() -> None:
    clock = Clock()
    quotas = HostQuotas(max_in_flight=1, per_minute=60, clock=clock)
    for n in range(9_999):
        assert quotas.admit(f"h{n}") is None
        quotas.release(f"h{n}")
    assert quotas.tracked_hosts() == 9_999

    clock.now += 60.0  # every bucket full again
    assert quotas.admit("busy") is None  # the 10,000th admission sweeps

    assert quotas.tracked_hosts() == 1


def test_a_remembered_credential_expires_after_its_ttl() -> None:
    clock = Clock()
    known = KnownCredentials(ttl=300.0, clock=clock)
    known.remember("fsc_a", HOST)

    assert known.get("fsc_a") == HOST
    clock.now += 299.0
    assert known.get("fsc_a") == HOST
    clock.now += 1.0
    assert known.get("fsc_a") is None
    assert len(known) == 0


def test_the_least_recently_used_credential_goes_first_when_full() -> None:
    known = KnownCredentials(ttl=300.0, capacity=2, clock=Clock())
    known.remember("a", HOST)
    known.remember("b", HOST)
    known.get("a")
    known.remember("c", HOST)

    assert (known.get("a"), known.get("b"), known.get("c")) == (HOST, None, HOST)
    known.forget("a")
    assert known.get("a") is None


def test_only_credentials_of_the_issued_shape_are_looked_up() -> None:
    assert plausible_credential("fsc_" + "A" * 43)
    assert plausible_credential("fsc_" + "-_aZ09" * 7 + "x")
    assert not plausible_credential("fsc_" + "A" * 42)
    assert not plausible_credential("fst_" + "A" * 43)
    assert not plausible_credential("fsc_" + "A" * 42 + "=")
    assert not plausible_credential("x")


def test_a_bulk_load_authenticates_the_whole_fleet_until_it_expires() -> None:
    clock = Clock()
    known = KnownCredentials(ttl=300.0, capacity=1, clock=clock)
    fleet = {secret_sha256(f"fsc_{n}"): AuthenticatedHost(f"h{n}", "finance") for n in range(3)}

    assert known.bulk_load_due()
    assert not known.bulk_load_due()  # booked: concurrent misses do not all load the fleet
    known.remember_all(fleet)
    known.remember("fsc_new", HOST)  # beyond a bulk load, not instead of it

    assert [known.get(f"fsc_{n}") for n in range(3)] == list(fleet.values())
    assert known.get("fsc_new") == HOST
    clock.now += 300.0
    assert known.bulk_load_due()
    assert known.get("fsc_0") is None


def test_an_address_that_keeps_failing_authentication_waits_for_its_answers() -> None:
    clock = Clock()
    failures = FailedAuthentications(per_second=1.0, burst=3, delay=1.0, max_waiting=2, clock=clock)

    at_once = [failures.penalty("10.0.0.9") for _ in range(3)]
    slowed = failures.penalty("10.0.0.9")
    other = failures.penalty("10.0.0.10")
    clock.now += 2.0  # two failures' worth refilled

    assert at_once == [0.0, 0.0, 0.0]
    assert slowed == 1.0
    assert other == 0.0
    assert [failures.penalty("10.0.0.9") for _ in range(3)] == [0.0, 0.0, 1.0]


def test_the_tarpit_holds_at_most_max_waiting_answers_of_an_address() -> None:
    failures = FailedAuthentications(per_second=0.001, burst=1, max_waiting=2, clock=Clock())
    failures.penalty("a")  # the burst
    for _ in range(2):
        assert failures.penalty("a") == failures.delay
        failures.waiting("a", +1)

    assert failures.penalty("a") == 0.0  # answered at once: no third socket held
    failures.waiting("a", -1)
    assert failures.penalty("a") == failures.delay
