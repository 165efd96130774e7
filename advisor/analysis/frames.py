"""The fleet's measurements as columns: what the fleet analysis reads, whoever produced them.

The store (advisor/store/frames.py) and the simulator's columnar path (advisor/simulator/
columnar.py) both produce these; advisor.analysis.fleet consumes them. Columns are numpy arrays
of equal length within a frame; hosts, apps and versions are integer codes into the name lists,
so ten million launches cost tens of megabytes, not gigabytes of Python objects.

Example: launch ``i`` is app ``frame.apps[frame.app[i]]`` on host
``frame.hosts.host_id[frame.host[i]]``, version ``frame.versions[frame.version[i]]`` (``""``
when unknown), started at ``frame.started_at[i]`` (Unix seconds) and ready after
``frame.duration[i]`` seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from advisor.analysis.daily import DailyLaunches

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int32]
BoolArray = npt.NDArray[np.bool_]

METHODS = ("passive", "probe", "reported")
"""Launch methods, in the order of their codes in :attr:`LaunchFrame.method`."""

UNKNOWN_VERSION = 0
"""Code of the unknown version: ``versions[0]`` is always ``""``."""


@dataclass(frozen=True)
class HostTable:
    """One row per host; a host's code is its index. Unknown numbers are NaN."""

    host_id: list[str]
    department: list[str]
    ram_bytes: FloatArray
    disk_rotational: BoolArray  # the system disk is a spinning disk (HDD)
    cpu_cores: FloatArray

    def __len__(self) -> int:
        return len(self.host_id)


@dataclass(frozen=True)
class LaunchFrame:
    """Successful launches (outcome ``ok``), any order; failed ones carry no load time."""

    hosts: HostTable
    apps: list[str]
    versions: list[str]  # versions[0] == "" (UNKNOWN_VERSION)
    host: IntArray
    app: IntArray
    version: IntArray
    method: IntArray  # index into METHODS
    started_at: FloatArray
    duration: FloatArray
    cold: BoolArray  # a cold start where the agent could tell; False when unknown

    def __post_init__(self) -> None:
        if not self.versions or self.versions[UNKNOWN_VERSION] != "":
            raise ValueError('LaunchFrame.versions[0] must be "" (the unknown version)')
        _same_length(
            "LaunchFrame",
            host=self.host,
            app=self.app,
            version=self.version,
            method=self.method,
            started_at=self.started_at,
            duration=self.duration,
            cold=self.cold,
        )

    def __len__(self) -> int:
        return len(self.host)


@dataclass(frozen=True)
class PressureFrame:
    """Resource pressure per host and UTC day (day = start of the day, Unix seconds).

    Each column is the day's mean of the agent's series of that name over the intervals
    reported (NaN when the host did not report it: no PSI on old kernels, say), except
    ``disk_used_ratio``, the day's maximum.
    """

    host: IntArray
    day: FloatArray
    memory_pressure: FloatArray  # pressure_memory_some_ratio
    swap_in_bytes_per_second: FloatArray
    io_pressure: FloatArray  # pressure_io_some_ratio
    cpu_pressure: FloatArray  # pressure_cpu_some_ratio
    disk_used_ratio: FloatArray

    def __post_init__(self) -> None:
        _same_length(
            "PressureFrame",
            host=self.host,
            day=self.day,
            memory_pressure=self.memory_pressure,
            swap_in_bytes_per_second=self.swap_in_bytes_per_second,
            io_pressure=self.io_pressure,
            cpu_pressure=self.cpu_pressure,
            disk_used_ratio=self.disk_used_ratio,
        )

    def __len__(self) -> int:
        return len(self.host)


@dataclass(frozen=True)
class VersionChanges:
    """When each host moved from one version of an app to another (from its version history:
    ``at`` is the first inventory that showed the new version). Codes are those of the
    :class:`LaunchFrame` they come with."""

    host: IntArray
    app: IntArray
    at: FloatArray
    from_version: IntArray
    to_version: IntArray

    def __post_init__(self) -> None:
        _same_length(
            "VersionChanges",
            host=self.host,
            app=self.app,
            at=self.at,
            from_version=self.from_version,
            to_version=self.to_version,
        )

    def __len__(self) -> int:
        return len(self.host)


@dataclass(frozen=True)
class FleetData:
    """Everything one analysis run reads."""

    launches: LaunchFrame
    pressure: PressureFrame
    changes: VersionChanges
    notes: list[str] = field(default_factory=list)  # what the producer had to leave out
    # The launches as daily rows (advisor.analysis.daily), when the producer has them (the
    # store's daily launch rollups); None: derived from ``launches`` (daily.daily_of). A
    # producer that gives them may leave ``launches`` without rows (hosts, apps and
    # versions still set, with the same codes).
    daily: DailyLaunches | None = None


def _same_length(owner: str, **columns: npt.NDArray[np.generic]) -> None:
    lengths = {name: len(column) for name, column in columns.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"{owner} columns differ in length: {lengths}")
