"""Human-readable summaries of batches, for `run --print-batches` and `make demo`."""

from __future__ import annotations

import time

from agent.shared.wire import Batch, MetricSummary

# The few series a person looks at first, with how to show them.
_HEADLINE = (
    ("cpu_utilization_ratio", "CPU", "percent"),
    ("memory_used_ratio", "memory used", "percent"),
    ("swap_out_bytes_per_second", "swap out", "bytes/s"),
    ("pressure_memory_some_ratio", "memory pressure", "percent"),
    ("pressure_io_some_ratio", "I/O pressure", "percent"),
    ("disk_io_latency_seconds", "disk latency", "ms"),
    ("load1", "load", "plain"),
)


def _format(value: float, style: str) -> str:
    if style == "percent":
        return f"{value * 100:.1f}%"
    if style == "ms":
        return f"{value * 1000:.1f} ms"
    if style == "bytes/s":
        return f"{value / 1024:.0f} KiB/s"
    return f"{value:.2f}"


def describe_metric(summary: MetricSummary, style: str) -> str:
    return f"p50 {_format(summary.p50, style)}, max {_format(summary.max, style)}"


def describe_batch(batch: Batch) -> str:
    """A few lines: the interval, headline resources, launches and inventory."""
    stamp = time.strftime("%H:%M:%S", time.localtime(batch.created_at))
    lines = [f"[{stamp}] batch #{batch.sequence} ({batch.batch_id[:8]})"]
    for interval in batch.intervals:
        by_name: dict[str, list[MetricSummary]] = {}
        for summary in interval.metrics:
            by_name.setdefault(summary.name, []).append(summary)
        span = interval.end - interval.start
        lines.append(f"  {span:.0f}s, {len(interval.metrics)} series summarised")
        for name, label, style in _HEADLINE:
            for summary in by_name.get(name, []):
                where = ",".join(summary.labels.values())
                suffix = f" [{where}]" if where else ""
                lines.append(f"    {label + suffix:<28} {describe_metric(summary, style)}")
        for summary in by_name.get("app_rss_bytes", []):
            app = summary.labels.get("app", "?")
            lines.append(f"    {'app ' + app + ' RSS':<28} max {summary.max / 1024**2:.0f} MiB")
    for event in batch.launches:
        took = f"{event.duration_seconds:.3f}s" if event.duration_seconds is not None else "-"
        version = f" {event.version}" if event.version else ""
        lines.append(
            f"  launch {event.app}{version}: {event.outcome} in {took}"
            f" ({event.method}, {event.ready_signal}, {event.start_kind})"
        )
    if batch.dropped_launch_events:
        lines.append(f"  {batch.dropped_launch_events} launch events over the cap (counted only)")
    if batch.inventory is not None:
        hardware = batch.inventory.hardware
        disks = ", ".join(f"{disk.name} {disk.kind}" for disk in hardware.disks) or "no disks"
        lines.append(
            f"  inventory: {hardware.cpu_model or 'unknown CPU'}, "
            f"{hardware.memory_bytes / 1024**3:.1f} GiB RAM, {disks}; "
            f"{len(batch.inventory.software)} packages, "
            f"{len(batch.inventory.upgradable)} upgradable"
        )
    return "\n".join(lines)
