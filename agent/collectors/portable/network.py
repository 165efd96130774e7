"""Network traffic and errors from psutil, summed over physical interfaces.

Which interfaces count is a predicate: on a machine with /sys the Linux rule (a ``device``
link), elsewhere a name rule that leaves out loopback, VPN tunnels, bridges and the virtual
adapters of hypervisors and containers.
"""

from __future__ import annotations

from collections.abc import Callable

import psutil

from agent.collectors.base import Sample
from agent.collectors.network import InterfaceCounters, network_samples

VIRTUAL_PREFIXES = (
    "loopback",  # Windows' "Loopback Pseudo-Interface 1"
    "utun",  # macOS VPN and system tunnels
    "awdl",  # Apple Wireless Direct Link, used by AirDrop
    "llw",
    "bridge",
    "gif",
    "stf",
    "anpi",
    "vethernet",  # Hyper-V and WSL switches
    "docker",
    "veth",
    "virbr",
    "tun",
    "tap",
    "vmnet",
    "vboxnet",
    "isatap",
    "teredo",
)


def is_physical_name(name: str) -> bool:
    """True unless the name is one of a virtual or loopback interface."""
    # Not a prefix: Windows' "Local Area Connection" is a real Ethernet card.
    lowered = name.lower()
    return lowered not in ("lo", "lo0") and not lowered.startswith(VIRTUAL_PREFIXES)


class PsutilNetworkCollector:
    """Traffic and error rates from the second call on."""

    name = "network"

    def __init__(self, is_physical: Callable[[str], bool] = is_physical_name) -> None:
        self._is_physical = is_physical
        self._previous: tuple[float, dict[str, InterfaceCounters]] | None = None

    def collect(self, now: float) -> list[Sample]:
        interfaces = {
            name: InterfaceCounters(
                receive_bytes=counters.bytes_recv,
                transmit_bytes=counters.bytes_sent,
                errors=counters.errin + counters.errout,
            )
            for name, counters in psutil.net_io_counters(pernic=True, nowrap=True).items()
            if self._is_physical(name)
        }
        samples: list[Sample] = []
        if self._previous is not None:
            then, before = self._previous
            samples = network_samples(before, interfaces, now - then)
        self._previous = (now, interfaces)
        return samples
