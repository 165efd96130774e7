"""Linux pressure stall information (/proc/pressure/{cpu,memory,io}, kernel 4.20+).

The ``avg10`` figures are smoothed by the kernel over fixed windows that do not match our
sample period, so the ratio is worked out from the ``total=`` microsecond counters instead:
stalled time over wall time between two readings.
"""

from __future__ import annotations

import errno
from pathlib import Path

from agent.collectors.base import Sample
from agent.collectors.procfs import clamp_ratio, read_text, sample

RESOURCES = ("cpu", "memory", "io")

# {(resource, kind): total stalled microseconds}, e.g. {("memory", "full"): 6417337}
PressureReading = dict[tuple[str, str], int]


def parse_pressure(resource: str, text: str) -> PressureReading:
    """Lines of one /proc/pressure file -> ``{(resource, "some" or "full"): total}``.

    ``"some avg10=0.00 avg60=0.00 avg300=0.00 total=12345"`` -> ``{("io", "some"): 12345}``.
    """
    reading: PressureReading = {}
    for line in text.splitlines():
        kind, _, rest = line.partition(" ")
        for field in rest.split():
            key, _, value = field.partition("=")
            if key == "total" and kind in {"some", "full"}:
                reading[(resource, kind)] = int(value)
    return reading


def pressure_samples(
    before: PressureReading, after: PressureReading, seconds: float
) -> list[Sample]:
    """Fraction of wall time stalled, per resource and kind present in both readings.

    ``pressure_cpu_full_ratio`` appears only where the kernel reports it (5.13+).
    """
    if seconds <= 0:
        return []
    samples: list[Sample] = []
    for key in sorted(after):
        if key not in before or after[key] < before[key]:
            continue
        resource, kind = key
        stalled_seconds = (after[key] - before[key]) / 1_000_000
        samples.append(
            sample(f"pressure_{resource}_{kind}_ratio", clamp_ratio(stalled_seconds / seconds))
        )
    return samples


def read_pressure(directory: Path) -> PressureReading:
    """Every resource file under ``directory``; a missing one (old kernel, psi=0) is left out."""
    reading: PressureReading = {}
    for resource in RESOURCES:
        try:
            text = read_text(directory / resource)
        except FileNotFoundError:
            continue
        except OSError as exc:
            # With psi=0 on the kernel command line the files exist but reading them fails.
            if exc.errno == errno.EOPNOTSUPP:
                continue
            raise
        reading.update(parse_pressure(resource, text))
    return reading


class PressureCollector:
    """Stall ratios from the second call on; nothing at all where PSI is not available."""

    name = "pressure"

    def __init__(self, proc_root: Path = Path("/proc")) -> None:
        self._directory = proc_root / "pressure"
        self._previous: tuple[float, PressureReading] | None = None

    def collect(self, now: float) -> list[Sample]:
        """Read the /proc/pressure files."""
        reading = read_pressure(self._directory)
        samples: list[Sample] = []
        if self._previous is not None:
            then, before = self._previous
            samples = pressure_samples(before, reading, now - then)
        self._previous = (now, reading)
        return samples
