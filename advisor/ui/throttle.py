"""Login attempts, rate-limited per user name and per client address (the ``limits``
library, moving windows in this process's memory).

Only failures count, so people who type their password right are never held up; a success
clears the user name's count. Several advisor processes each count their own: N processes
let N times the failures through (still a few per minute against argon2).
"""

from __future__ import annotations

from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter


class LoginThrottle:
    """At most ``per_user`` failures for a user name and ``per_address`` from one address
    within ``window`` seconds."""

    def __init__(self, *, per_user: int, per_address: int, window: float) -> None:
        seconds = max(1, round(window))
        self._per_user = RateLimitItemPerSecond(per_user, seconds)
        self._per_address = RateLimitItemPerSecond(per_address, seconds)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def blocked(self, user_id: str, address: str) -> bool:
        """Whether another attempt for ``user_id`` from ``address`` is refused now."""
        return not (
            self._limiter.test(self._per_user, "user", user_id.casefold())
            and self._limiter.test(self._per_address, "address", address)
        )

    def failed(self, user_id: str, address: str) -> None:
        self._limiter.hit(self._per_user, "user", user_id.casefold())
        self._limiter.hit(self._per_address, "address", address)

    def succeeded(self, user_id: str) -> None:
        self._limiter.clear(self._per_user, "user", user_id.casefold())
