"""CPU time split (/proc/stat) and load averages (/proc/loadavg)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from agent.collectors.base import Sample
from agent.collectors.procfs import clamp_ratio, read_text, sample


@dataclass(frozen=True, slots=True)
class CpuTimes:
    """The aggregate ``cpu`` line of /proc/stat, in clock ticks summed over all CPUs.

    ``guest`` and ``guest_nice`` are left out: the kernel already counts them in user and nice.
    """

    user: int
    nice: int
    system: int
    idle: int
    iowait: int
    irq: int
    softirq: int
    steal: int

    @property
    def total(self) -> int:
        return (
            self.user
            + self.nice
            + self.system
            + self.idle
            + self.iowait
            + self.irq
            + self.softirq
            + self.steal
        )


def parse_stat(text: str) -> CpuTimes:
    """The aggregate ``cpu`` line of /proc/stat. Raises ValueError when it is missing."""
    for line in text.splitlines():
        fields = line.split()
        if fields and fields[0] == "cpu":
            # Old kernels have fewer columns (no steal before 2.6.11): missing ones count as 0.
            numbers = [int(value) for value in fields[1:9]]
            numbers += [0] * (8 - len(numbers))
            return CpuTimes(*numbers)
    raise ValueError("no aggregate 'cpu' line in /proc/stat")


def parse_loadavg(text: str) -> tuple[float, float, float]:
    """``"0.52 0.58 0.59 1/467 12345"`` -> ``(0.52, 0.58, 0.59)``."""
    fields = text.split()
    return float(fields[0]), float(fields[1]), float(fields[2])


def cpu_samples(before: CpuTimes, after: CpuTimes) -> list[Sample]:
    """Fractions of all CPUs' time over the period between two readings.

    Utilisation is time not idle, not waiting for I/O and not stolen by the hypervisor, so the
    three ratios add up to at most 1. Returns nothing when no tick passed or counters went back.
    """
    elapsed = after.total - before.total
    if elapsed <= 0:
        return []
    idle = after.idle - before.idle
    iowait = after.iowait - before.iowait
    steal = after.steal - before.steal
    # iowait can go backwards on some kernels (it is sampled per CPU): treat that as zero.
    iowait = max(iowait, 0)
    busy = elapsed - max(idle, 0) - iowait - max(steal, 0)
    return [
        sample("cpu_utilization_ratio", clamp_ratio(busy / elapsed)),
        sample("cpu_iowait_ratio", clamp_ratio(iowait / elapsed)),
        sample("cpu_steal_ratio", clamp_ratio(max(steal, 0) / elapsed)),
    ]


def load_samples(load: tuple[float, float, float]) -> list[Sample]:
    """Load averages over 1, 5 and 15 minutes."""
    return [
        sample("load1", load[0]),
        sample("load5", load[1]),
        sample("load15", load[2]),
    ]


class CpuCollector:
    """CPU time ratios from the second call on, load averages on every call."""

    name = "cpu"

    def __init__(self, proc_root: Path = Path("/proc")) -> None:
        self._proc_root = proc_root
        self._previous: CpuTimes | None = None

    def collect(self, now: float) -> list[Sample]:
        """Read /proc/stat and /proc/loadavg; ``now`` is unused (ticks are their own clock)."""
        times = parse_stat(read_text(self._proc_root / "stat"))
        samples = load_samples(parse_loadavg(read_text(self._proc_root / "loadavg")))
        if self._previous is not None:
            samples = cpu_samples(self._previous, times) + samples
        self._previous = times
        return samples
