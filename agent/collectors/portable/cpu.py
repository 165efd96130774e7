"""CPU time split and load averages from psutil."""

from __future__ import annotations

import psutil

from agent.collectors.base import Sample
from agent.collectors.cpu import CpuTimes, cpu_samples, load_samples


def cpu_times_of(times: object) -> CpuTimes:
    """psutil's ``cpu_times()`` in milliseconds; fields a platform lacks count as 0.

    Only ratios of differences are reported, so the unit cancels out. Windows calls interrupt
    and deferred-procedure time ``interrupt`` and ``dpc``: they go where Linux's irq and
    softirq go.
    """

    def ms(*names: str) -> int:
        return sum(round(float(getattr(times, name, 0.0)) * 1000) for name in names)

    return CpuTimes(
        user=ms("user"),
        nice=ms("nice"),
        system=ms("system"),
        idle=ms("idle"),
        iowait=ms("iowait"),
        irq=ms("irq", "interrupt"),
        softirq=ms("softirq", "dpc"),
        steal=ms("steal"),
    )


class PsutilCpuCollector:
    """CPU time ratios from the second call on, load averages on every call.

    On Windows psutil emulates the load average with a background sampler: it reads 0 for
    the first seconds after start.
    """

    name = "cpu"

    def __init__(self) -> None:
        self._previous: CpuTimes | None = None

    def collect(self, now: float) -> list[Sample]:
        times = cpu_times_of(psutil.cpu_times())
        samples = load_samples(psutil.getloadavg())
        if self._previous is not None:
            samples = cpu_samples(self._previous, times) + samples
        self._previous = times
        return samples
