"""Help text and label names of every sample the resource collectors emit.

The /metrics exporter reads it for ``# HELP`` lines; a test checks that every sample emitted
against the fixture tree has an entry here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MetricDef:
    """How one sample name is described: ``MetricDef("Load average over 1 minute.", ())``."""

    help: str
    labels: tuple[str, ...]


METRICS: dict[str, MetricDef] = {
    # cpu
    "cpu_utilization_ratio": MetricDef(
        "Fraction of all CPUs' time spent busy (not idle, not waiting for I/O, not stolen).", ()
    ),
    "cpu_iowait_ratio": MetricDef("Fraction of all CPUs' time spent idle waiting for I/O.", ()),
    "cpu_steal_ratio": MetricDef(
        "Fraction of all CPUs' time taken by the hypervisor for other guests.", ()
    ),
    "load1": MetricDef("Load average over 1 minute.", ()),
    "load5": MetricDef("Load average over 5 minutes.", ()),
    "load15": MetricDef("Load average over 15 minutes.", ()),
    # memory
    "memory_available_bytes": MetricDef(
        "Memory available for new work without swapping (MemAvailable).", ()
    ),
    "memory_used_ratio": MetricDef("Fraction of memory not available (1 - available / total).", ()),
    "swap_used_bytes": MetricDef("Swap space in use.", ()),
    "swap_in_bytes_per_second": MetricDef("Bytes read back from swap per second.", ()),
    "swap_out_bytes_per_second": MetricDef("Bytes written out to swap per second.", ()),
    "major_page_faults_per_second": MetricDef(
        "Page faults per second that had to wait for the disk.", ()
    ),
    # pressure stall information
    "pressure_cpu_some_ratio": MetricDef(
        "Fraction of wall time some runnable task waited for a CPU.", ()
    ),
    "pressure_cpu_full_ratio": MetricDef(
        "Fraction of wall time all non-idle tasks waited for a CPU (kernel 5.13+).", ()
    ),
    "pressure_memory_some_ratio": MetricDef(
        "Fraction of wall time some task stalled on memory (reclaim, swap-in, refaults).", ()
    ),
    "pressure_memory_full_ratio": MetricDef(
        "Fraction of wall time all non-idle tasks stalled on memory at once.", ()
    ),
    "pressure_io_some_ratio": MetricDef("Fraction of wall time some task stalled on I/O.", ()),
    "pressure_io_full_ratio": MetricDef(
        "Fraction of wall time all non-idle tasks stalled on I/O at once.", ()
    ),
    # disks
    "disk_used_ratio": MetricDef(
        "Fraction of a filesystem in use, as df shows it (root's reserve left out).",
        ("mountpoint",),
    ),
    "disk_free_bytes": MetricDef(
        "Bytes of a filesystem an unprivileged user can still write.", ("mountpoint",)
    ),
    "disk_io_latency_seconds": MetricDef(
        "Mean time per completed read or write of a physical disk over the sample period.",
        ("device",),
    ),
    "disk_io_utilization_ratio": MetricDef(
        "Fraction of time a physical disk had I/O in flight.", ("device",)
    ),
    "disk_read_bytes_per_second": MetricDef(
        "Bytes read per second from a physical disk.", ("device",)
    ),
    "disk_write_bytes_per_second": MetricDef(
        "Bytes written per second to a physical disk.", ("device",)
    ),
    # network
    "network_receive_bytes_per_second": MetricDef(
        "Bytes received per second, summed over physical interfaces.", ()
    ),
    "network_transmit_bytes_per_second": MetricDef(
        "Bytes sent per second, summed over physical interfaces.", ()
    ),
    "network_errors_per_second": MetricDef(
        "Receive and transmit errors per second, summed over physical interfaces.", ()
    ),
    # watched applications
    "app_cpu_utilization_ratio": MetricDef(
        "CPU used by a watched app's process trees, as a fraction of one core.", ("app",)
    ),
    "app_rss_bytes": MetricDef(
        "Resident memory summed over a watched app's process trees.", ("app",)
    ),
    "app_processes": MetricDef("Number of processes in a watched app's process trees.", ("app",)),
}
