"""Per-host ingest quotas: no single host, however it behaves, takes the advisor from the rest.

Two limits, both checked only after the host is authenticated (a stranger has no quota to
spend, it gets 401):

* **in flight**: at most ``max_in_flight`` of a host's requests are handled at once. A real
  agent sends one batch at a time; a compromised one opening many slow uploads holds only
  this many of the advisor's ingest slots.
* **rate**: at most ``per_minute`` batches a minute per host, as a token bucket that holds a
  minute's worth and refills continuously. A real agent sends one a minute, and drains a spool
  after an outage as fast as the advisor answers; the default, 600, drains a week of batches in
  about 17 minutes while a flooding host is held to 10 a second.

The bucket is written here, not taken from the `limits` library: its in-memory storage expires
keys from a timer thread that wakes every 10 ms and walks every key, which with one key per host
cost a fifth of ingest throughput with 64 hosts in-process (docs/benchmarks.md) and grows with
the fleet. Here a request costs one dictionary entry's arithmetic, and full buckets of idle
hosts are dropped now and then.

A refusal says when to come back (:attr:`QuotaRefusal.retry_after`, whole seconds for
Retry-After). Counts live in this process: with several workers each has its own, so a host
gets at most ``workers`` times the quota, which is still bounded. Not thread-safe: the event
loop owns it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class QuotaRefusal:
    """Why a host's request is refused now, and after how many seconds to retry."""

    detail: str
    retry_after: int


class HostQuotas:
    """In-flight and per-minute limits per host id (see the module docstring).

    ``clock`` is monotonic seconds.
    """

    def __init__(
        self,
        *,
        max_in_flight: int,
        per_minute: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_in_flight < 1 or per_minute < 1:
            raise ValueError("quotas must be at least 1")
        self._max_in_flight = max_in_flight
        self._in_flight: dict[str, int] = {}
        self._per_minute = per_minute
        self._refill_per_second = per_minute / 60.0
        # host id -> (tokens left, when they were counted)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._admitted_since_sweep = 0
        self._clock = clock

    def admit(self, host_id: str) -> QuotaRefusal | None:
        """Count a request of ``host_id`` in, or say why not. Every admitted request must be
        released (:meth:`release`) once it is answered."""
        in_flight = self._in_flight.get(host_id, 0)
        if in_flight >= self._max_in_flight:
            return QuotaRefusal(
                f"this host already has {in_flight} batches in flight, the most this advisor"
                " takes from one host at once: send one batch at a time",
                retry_after=1,
            )
        now = self._clock()
        tokens = self._tokens(host_id, now)
        if tokens < 1.0:
            return QuotaRefusal(
                f"this host sent more than {self._per_minute} batches in a minute, the most"
                " this advisor takes from one host",
                retry_after=max(1, math.ceil((1.0 - tokens) / self._refill_per_second)),
            )
        self._buckets[host_id] = (tokens - 1.0, now)
        self._in_flight[host_id] = in_flight + 1
        self._admitted_since_sweep += 1
        if self._admitted_since_sweep >= _SWEEP_EVERY:
            self._sweep(now)
        return None

    def release(self, host_id: str) -> None:
        """A request :meth:`admit` let in is answered."""
        left = self._in_flight.get(host_id, 0) - 1
        if left > 0:
            self._in_flight[host_id] = left
        else:
            self._in_flight.pop(host_id, None)

    def in_flight(self, host_id: str) -> int:
        return self._in_flight.get(host_id, 0)

    def tracked_hosts(self) -> int:
        """Hosts with a bucket that is not full (memory held for quotas)."""
        return len(self._buckets)

    def _tokens(self, host_id: str, now: float) -> float:
        bucket = self._buckets.get(host_id)
        if bucket is None:
            return float(self._per_minute)
        tokens, counted_at = bucket
        refilled = tokens + (now - counted_at) * self._refill_per_second
        return min(float(self._per_minute), refilled)

    def _sweep(self, now: float) -> None:
        """Forget the hosts whose bucket has refilled: they cost nothing to recreate."""
        self._admitted_since_sweep = 0
        full = float(self._per_minute)
        for host_id in [h for h in self._buckets if self._tokens(h, now) >= full]:
            del self._buckets[host_id]


# A sweep walks every bucket: often enough to bound memory by the hosts active in the last
# minute or so, rarely enough to cost nothing per request.
_SWEEP_EVERY = 10_000


class FailedAuthentications:
    """Slows down a client address that keeps failing authentication (a tarpit).

    A caller without a valid credential is refused before its body is read, so each refusal
    is cheap; but a closed loop of them (connect, send a parse bomb, get 401, again) is as fast
    as the advisor answers, and on a quiet machine it took the event loop and the GIL from the
    threads storing real batches. Each address gets ``per_second`` failures (bursts of
    ``burst``) answered at once; past that, its refusals wait ``delay`` seconds first, which
    costs the advisor a sleeping task and the attacker its pace. At most ``max_waiting`` of an
    address's refusals wait at once; more are answered at once (and their connection closed),
    so the tarpit never holds more than that many sockets per address. Real agents never fail
    authentication, so sharing an address (NAT, a proxy) with an attacker does not slow them.
    Not thread-safe: the event loop owns it.
    """

    def __init__(
        self,
        *,
        per_second: float = 10.0,
        burst: int = 20,
        delay: float = 1.0,
        max_waiting: int = 64,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._per_second = per_second
        self._burst = float(burst)
        self.delay = delay
        self._max_waiting = max_waiting
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._waiting: dict[str, int] = {}
        self._since_sweep = 0

    def penalty(self, address: str) -> float:
        """Count a failure of ``address``: how long its answer should wait (0: at once)."""
        now = self._clock()
        tokens, counted_at = self._buckets.get(address, (self._burst, now))
        tokens = min(self._burst, tokens + (now - counted_at) * self._per_second)
        self._buckets[address] = (max(0.0, tokens - 1.0), now)
        self._since_sweep += 1
        if self._since_sweep >= _SWEEP_EVERY:
            self._sweep(now)
        if tokens >= 1.0 or self._waiting.get(address, 0) >= self._max_waiting:
            return 0.0
        return self.delay

    def waiting(self, address: str, change: int) -> None:
        """An answer of ``address`` starts (+1) or stops (-1) waiting."""
        left = self._waiting.get(address, 0) + change
        if left > 0:
            self._waiting[address] = left
        else:
            self._waiting.pop(address, None)

    def _sweep(self, now: float) -> None:
        self._since_sweep = 0
        full = self._burst
        for address, (tokens, counted_at) in list(self._buckets.items()):
            if tokens + (now - counted_at) * self._per_second >= full:
                del self._buckets[address]
