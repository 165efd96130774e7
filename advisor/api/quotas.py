"""Per-host ingest quotas: no single host, however it behaves, takes the advisor from the rest.

Two limits, both checked only after the host is authenticated (a stranger has no quota to
spend, it gets 401):

* **in flight**: at most ``max_in_flight`` of a host's requests are handled at once. A real
  agent sends one batch at a time; a compromised one opening many slow uploads holds only
  this many of the advisor's ingest slots.
* **rate**: at most ``per_minute`` batches a minute per host, over a moving window (the
  `limits` library). A real agent sends one a minute, and drains a spool after an outage as
  fast as the advisor answers; the default, 600, drains a week of batches in about 17 minutes
  while a flooding host is held to 10 a second.

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

from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter


@dataclass(frozen=True, slots=True)
class QuotaRefusal:
    """Why a host's request is refused now, and after how many seconds to retry."""

    detail: str
    retry_after: int


class HostQuotas:
    """In-flight and per-minute limits per host id (see the module docstring).

    ``clock`` is wall-clock seconds, the clock the `limits` library's windows are kept in.
    """

    def __init__(
        self,
        *,
        max_in_flight: int,
        per_minute: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_in_flight < 1 or per_minute < 1:
            raise ValueError("quotas must be at least 1")
        self._max_in_flight = max_in_flight
        self._in_flight: dict[str, int] = {}
        self._rate = RateLimitItemPerMinute(per_minute)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._clock = clock

    def admit(self, host_id: str) -> QuotaRefusal | None:
        """Count a request of ``host_id`` in, or say why not. Every admitted request must be
        :meth:`release`\\ d once it is answered."""
        in_flight = self._in_flight.get(host_id, 0)
        if in_flight >= self._max_in_flight:
            return QuotaRefusal(
                f"this host already has {in_flight} batches in flight, the most this advisor"
                " takes from one host at once: send one batch at a time",
                retry_after=1,
            )
        if not self._limiter.hit(self._rate, host_id):
            reset_at = self._limiter.get_window_stats(self._rate, host_id).reset_time
            return QuotaRefusal(
                f"this host sent more than {self._rate.amount} batches in a minute, the most"
                " this advisor takes from one host",
                retry_after=max(1, math.ceil(reset_at - self._clock())),
            )
        self._in_flight[host_id] = in_flight + 1
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
