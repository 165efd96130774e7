"""Network traffic and errors summed over physical interfaces (/proc/net/dev).

An interface is physical when /sys/class/net/NAME/device exists: Ethernet and Wi-Fi cards
(and a virtual machine's virtio NIC) have it; lo, bridges, veth, tun, docker0 and VPNs do not.
Counting only those keeps container and VPN traffic from being counted twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from agent.collectors.base import Sample
from agent.collectors.procfs import read_text, sample


@dataclass(frozen=True, slots=True)
class InterfaceCounters:
    receive_bytes: int
    transmit_bytes: int
    errors: int  # receive plus transmit errors


def parse_net_dev(text: str) -> dict[str, InterfaceCounters]:
    """Each interface of /proc/net/dev by name."""
    interfaces: dict[str, InterfaceCounters] = {}
    for line in text.splitlines():
        name, colon, rest = line.partition(":")
        fields = rest.split()
        if not colon or len(fields) < 16:
            continue  # the two header lines
        numbers = [int(value) for value in fields]
        interfaces[name.strip()] = InterfaceCounters(
            receive_bytes=numbers[0],
            transmit_bytes=numbers[8],
            errors=numbers[2] + numbers[10],
        )
    return interfaces


def network_samples(
    before: dict[str, InterfaceCounters], after: dict[str, InterfaceCounters], seconds: float
) -> list[Sample]:
    """Per-second rates summed over the interfaces present in both readings.

    An interface whose counters went backwards (re-created, driver reloaded) is left out of
    that period's sums.
    """
    if seconds <= 0:
        return []
    receive = transmit = errors = 0
    for name, new in after.items():
        old = before.get(name)
        if old is None:
            continue
        deltas = (
            new.receive_bytes - old.receive_bytes,
            new.transmit_bytes - old.transmit_bytes,
            new.errors - old.errors,
        )
        if min(deltas) < 0:
            continue
        receive += deltas[0]
        transmit += deltas[1]
        errors += deltas[2]
    return [
        sample("network_receive_bytes_per_second", receive / seconds),
        sample("network_transmit_bytes_per_second", transmit / seconds),
        sample("network_errors_per_second", errors / seconds),
    ]


def is_physical_interface(sys_root: Path, name: str) -> bool:
    """True when the interface sits on a device (see the module docstring)."""
    return name != "lo" and (sys_root / "class" / "net" / name / "device").exists()


class NetworkCollector:
    """Traffic and error rates from the second call on."""

    name = "network"

    def __init__(self, proc_root: Path = Path("/proc"), sys_root: Path = Path("/sys")) -> None:
        self._proc_root = proc_root
        self._sys_root = sys_root
        self._previous: tuple[float, dict[str, InterfaceCounters]] | None = None

    def collect(self, now: float) -> list[Sample]:
        """Read /proc/net/dev and keep the physical interfaces."""
        interfaces = {
            name: counters
            for name, counters in parse_net_dev(read_text(self._proc_root / "net" / "dev")).items()
            if is_physical_interface(self._sys_root, name)
        }
        samples: list[Sample] = []
        if self._previous is not None:
            then, before = self._previous
            samples = network_samples(before, interfaces, now - then)
        self._previous = (now, interfaces)
        return samples
