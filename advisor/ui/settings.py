"""Settings of the web interface: session lifetimes, login limits, the cookie's Secure flag."""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass

from advisor.config import AdvisorConfig


@dataclass(frozen=True, slots=True)
class UiSettings:
    """What the web interface needs beyond its stores ([ui] in the advisor's config).

    A session ends ``idle_timeout`` seconds after its last request, and ``session_lifetime``
    after login whatever happens. At most ``login_failures_per_user`` failed logins for one
    user name, and ``login_failures_per_address`` from one client address, are answered per
    ``login_failure_window`` seconds; beyond, 429. ``secure_cookie`` marks the session
    cookie Secure (browsers then send it over HTTPS only): :meth:`from_config` turns it off
    only for an advisor serving plain HTTP on loopback.

    Example: ``UiSettings(idle_timeout=600, secure_cookie=False)``.
    """

    idle_timeout: float = 1800.0
    session_lifetime: float = 43200.0
    login_failures_per_user: int = 5
    login_failures_per_address: int = 20
    login_failure_window: float = 900.0
    secure_cookie: bool = True

    def __post_init__(self) -> None:
        for name in ("idle_timeout", "session_lifetime", "login_failure_window"):
            value = getattr(self, name)
            if not (value > 0 and math.isfinite(value)):
                raise ValueError(f"UiSettings.{name} must be positive, got {value!r}")

    @classmethod
    def from_config(cls, config: AdvisorConfig) -> UiSettings:
        ui = config.ui
        return cls(
            idle_timeout=ui.idle_timeout,
            session_lifetime=ui.session_lifetime,
            login_failures_per_user=ui.login_failures_per_user,
            login_failures_per_address=ui.login_failures_per_address,
            login_failure_window=ui.login_failure_window,
            secure_cookie=config.server.tls_cert_file is not None
            or not is_loopback(config.server.listen),
        )


def is_loopback(listen: str) -> bool:
    """Whether the ``HOST:PORT`` address ``listen`` is reachable from this machine only.

    >>> is_loopback("127.0.0.1:8080"), is_loopback("[::1]:8080"), is_loopback("0.0.0.0:80")
    (True, True, False)
    """
    host = listen.rpartition(":")[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
