"""What a batch's values must mean, beyond the types :func:`advisor.api.ingest.parse_batch` checks.

Pure: a parsed :class:`agent.shared.wire.Batch` and the advisor's clock in, nothing or a
:class:`~advisor.api.ingest.RejectedError` out. The ingest route applies, in order::

    check_element_count   more arrays and objects than any batch can hold   -> 413
    parse_batch           types, by path                                     -> 422
    check_batch           meaning, by path (this module)                     -> 422

Why each rule: whatever the store would fail on, or turn into something else, is refused here,
so SQLite and PostgreSQL answer a batch alike (two launch counts adding past 2^63 made
PostgreSQL fail every retry and SQLite store a float); and values no agent produces (negative
counts, a day of ``"garbage"``, a time in the year 33658, a megabyte hostname, terminal escapes
in a name) are refused rather than stored for every reader to trip over.

Every limit is a constant below, with the reason for its size; they are sized to pass anything
a real agent sends (agent/config.py, agent/collectors, agent/inventory, agent/summary.py) with
room to spare, and docs/wire-format.md lists them. Duplicates the store cannot take: there are
none left to refuse. Launch counts repeating an (app, day, method) are summed by
:func:`advisor.store.rows.launch_count_rows` before the upsert, and installed or upgradable
packages repeating a (source, package, arch) are merged by the inventory code in
advisor.store.sql (the last one wins); a flatpak installed both system-wide and per user is
listed twice by a real agent, so refusing them would refuse real inventories.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Mapping, Sequence

from advisor.api.ingest import RejectedError
from agent.shared import wire_limits
from agent.shared.metricdefs import METRICS
from agent.shared.wire import Batch, Hardware, Interval, Inventory, LaunchCount, LaunchEvent

# --- times ----------------------------------------------------------------------------------------

EARLIEST_TIME = 946_684_800.0
"""2000-01-01T00:00:00Z. Earlier is a clock that was never set (a dead RTC battery reads 1970)."""
MAX_CLOCK_AHEAD_SECONDS = 86_400.0
"""How far an agent's times may be ahead of the advisor's clock. Agents' clocks drift and some
boot hours off (an RTC kept in local time) before NTP steps them, so a batch a few hours
"from the future" is normal; a day is not. It also bounds how long a forged ``collected_at``
can keep newer inventories out (advisor.store.sql applies only the newest)."""
MAX_INTERVAL_SECONDS = 92 * 86_400.0
"""Longest interval. An agent's interval runs from one flush to the next, so one that spans a
suspend is as long as the suspend (a laptop shut for the weekend sends a 63-hour interval, one
shut over a long leave, weeks); the advisor only files a summary under its start."""
MAX_DURATION_SECONDS = 86_400.0
"""Longest launch duration or probe phase: the agent's report endpoint takes a day at most
(agent.reported.MAX_DURATION_SECONDS); passive launches and probes stop at their timeouts."""
_LOCAL_DAY_AHEAD_SECONDS = 14 * 3_600.0  # UTC+14: the furthest a local calendar day leads UTC
_LOCAL_DAY_BEHIND_SECONDS = 12 * 3_600.0  # UTC-12
EARLIEST_DAY = (
    dt.datetime.fromtimestamp(EARLIEST_TIME - _LOCAL_DAY_BEHIND_SECONDS, dt.UTC).date().isoformat()
)
"""1999-12-31: the local day of the earliest time, west of UTC."""

# --- counts and sizes -----------------------------------------------------------------------------

MAX_LAUNCHES_COUNTED = 1_000_000
"""Most launches one batch may count, per launch_counts row and over all its rows together
(dropped_launch_events too). A host launches its apps tens to hundreds of times a day.
Why it must be bounded: counts are added to a stored total (an upsert), so with at most this
much per batch a total needs over 9 * 10^12 batches (585 years at 500 a second) to reach 2^63;
and dropped_launch_events is an int4 column on PostgreSQL."""
MAX_SAMPLES = 1_000_000
"""Most samples one metric summary may cover (``count``; at least 1: the agent summarises only
series that have samples). The agent takes one every 5 s for 60 s (12); a 100 ms sampling over
a day-long interval is 864,000. Counts are summed into hourly and daily rollups."""
MAX_METRIC_VALUE = 1e21
"""Largest magnitude of min, max and the quantiles: a zettabyte. The largest values an agent
sends are byte counts (free space of a filesystem: petabytes at most)."""
MAX_METRIC_SUM = MAX_METRIC_VALUE * MAX_SAMPLES
"""Largest magnitude of a summary's sum. With these two bounds the rollups' sums and
count-weighted means stay far from a double's overflow to infinity."""
MAX_MEMORY_BYTES = 2**50
"""Largest memory or swap size: a pebibyte (the largest servers have tens of TiB)."""
MAX_DISK_BYTES = 2**60
"""Largest disk size: an exbibyte."""
MAX_CPU_THREADS = 65_536
"""Most CPU cores or threads (the largest machines have a few thousand)."""
MAX_CPU_MHZ = 100_000.0

# --- how many of each -----------------------------------------------------------------------------

MAX_INTERVALS = 60
"""Intervals per batch. The agent sends one (none in a batch with no samples); this leaves room
for an agent that would pack an hour of one-minute intervals into a batch."""
MAX_METRIC_SUMMARIES = 10_000
"""Metric summaries per batch, over all its intervals. An agent sends about 21 machine series,
2 per mounted filesystem, 4 per disk and 3 per watched app: 30 to 50 on a desktop."""
MAX_LABELS = 16
"""Labels per metric summary; the agent's series have at most one."""
MAX_PHASES = 16
"""Phases per launch; an HTTP probe reports five (dns, connect, tls, first_byte, total)."""
MAX_LAUNCHES = 10_000
"""Launch events per batch. The agent keeps ``launches.max_events_per_interval`` (default
1,000) per interval and counts the rest; after a failed spool write the drained events ride
with the next batch too, so a batch can hold twice the cap; the agent's check-config refuses a
cap above 5,000."""
MAX_LAUNCH_COUNT_ROWS = 10_000
"""launch_counts rows per batch: one per (app, local day, method) seen in the interval, so
watched apps x 3 methods x 1 or 2 days; apps reported to the endpoint need no configuration,
hence the room."""
MAX_DISKS = 1_024
"""Disks per inventory: whole devices with a ``device`` link in /sys/block."""
MAX_PACKAGES = 50_000
"""Installed packages per inventory, and as many upgradable ones: a desktop has 2,000 to
10,000 (dpkg, rpm, flatpak and snap together); a machine with most of Debian installed, tens
of thousands."""

# --- text -----------------------------------------------------------------------------------------

# The wire format's text limits (agent.shared.wire_limits: the agent follows them too).
MAX_APP = wire_limits.MAX_APP
MAX_DESCRIPTION = wire_limits.MAX_DESCRIPTION
MAX_DETAIL = wire_limits.MAX_DETAIL
MAX_HOSTNAME = wire_limits.MAX_HOSTNAME
MAX_LABEL_VALUE = wire_limits.MAX_LABEL_VALUE
MAX_ORIGIN = wire_limits.MAX_ORIGIN
MAX_PACKAGE = wire_limits.MAX_PACKAGE
MAX_PROBE = wire_limits.MAX_PROBE
MAX_SHORT_NAME = wire_limits.MAX_SHORT_NAME
MAX_VERSION = wire_limits.MAX_VERSION
MAX_HOST_ID = wire_limits.MAX_HOST_ID
MAX_AGENT_VERSION = 64  # the enrolment API's bound
MAX_METRIC_NAME = 128
MAX_LABEL_NAME = 64
MAX_DIGEST = 128  # the agent's is SHA-256 in hex, 64 characters
PROBLEMS_LISTED = 5

MAX_CONTAINERS = (
    16  # the batch, host, the four lists, inventory, hardware, disks, software, upgradable
    + 2 * MAX_INTERVALS  # each interval and its metrics list
    + 2 * MAX_METRIC_SUMMARIES  # each summary and its labels
    + 2 * MAX_LAUNCHES  # each launch and its phases
    + MAX_LAUNCH_COUNT_ROWS
    + MAX_DISKS
    + 2 * MAX_PACKAGES  # installed and upgradable
)
"""Arrays and objects a batch within every limit above can hold: 151,160. For
:func:`check_element_count`, which runs before the JSON parser builds anything; a ``{`` or
``[`` inside a string only makes it count more, which a batch this far from the limits can
afford. 16 MiB of ``[{},{},...]`` (16 KB of gzip) is 8 million objects, which once cost 3.7 GiB
to parse."""

MAX_SEPARATORS = (
    32  # the members of the batch, host, inventory and hardware objects
    + 3 * MAX_INTERVALS  # start, end, metrics
    + (9 + MAX_LABELS) * MAX_METRIC_SUMMARIES  # nine fields and the labels
    + (11 + MAX_PHASES) * MAX_LAUNCHES  # eleven fields and the phases
    + 4 * MAX_LAUNCH_COUNT_ROWS
    + 5 * MAX_DISKS
    + (5 + 6) * MAX_PACKAGES  # an installed package has five fields, an upgradable one six
)
"""Commas a batch within every limit above can hold: 1,115,332, an upper bound of its array
items and object members. For :func:`check_separator_count`: a document of few containers but
millions of items (16 MiB of ``"intervals": [1,1,...]``, eight million of them) is refused
before a parser holds them all."""

# --- patterns -------------------------------------------------------------------------------------

# Prometheus' rules: https://prometheus.io/docs/concepts/data_model/
_METRIC_NAME = re.compile(rf"[a-zA-Z_:][a-zA-Z0-9_:]{{0,{MAX_METRIC_NAME - 1}}}")
_LABEL_NAME = re.compile(rf"[a-zA-Z_][a-zA-Z0-9_]{{0,{MAX_LABEL_NAME - 1}}}")
_PHASE_NAME = re.compile(rf"[a-zA-Z_][a-zA-Z0-9_]{{0,{MAX_SHORT_NAME - 1}}}")
_HOST_ID = wire_limits.HOST_ID
_DIGEST = re.compile(rf"[A-Za-z0-9:+/=_-]{{1,{MAX_DIGEST}}}")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# The text rules are the wire format's (agent.shared.wire_limits), which the agent follows too.
_NAME_FORBIDDEN = wire_limits.NAME_FORBIDDEN
_TEXT_FORBIDDEN = wire_limits.TEXT_FORBIDDEN
# The agent's own series and label names, which pass without a regular expression: nearly
# every summary is one of them.
_AGENT_SERIES = frozenset(METRICS)
_AGENT_LABELS = frozenset(label for metric in METRICS.values() for label in metric.labels)
_MAX_ECHO = 40
_COUNT_CHUNK = 256 * 1024


class _EnoughError(Exception):
    """Enough problems found to answer: stop looking."""


class _Problems:
    """Problems found so far, each ``path: what is wrong``; raises _EnoughError past the list."""

    def __init__(self) -> None:
        self.found: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.found.append(f"{path}: {message}")
        if len(self.found) > PROBLEMS_LISTED:
            raise _EnoughError

    def detail(self) -> str:
        listed = "; ".join(self.found[:PROBLEMS_LISTED])
        return listed + ("; and more" if len(self.found) > PROBLEMS_LISTED else "")


def check_separator_count(document: bytes, limit: int = MAX_SEPARATORS) -> None:
    """Refuse (413) a JSON document with more commas than ``limit``, before parsing: an upper
    bound of its array items and object members, counted as :func:`check_element_count`
    counts brackets."""
    _refuse_past(document, (b",",), limit, "JSON items and members")


def check_element_count(document: bytes, limit: int = MAX_CONTAINERS) -> None:
    """Refuse (413) a JSON document with more arrays and objects than ``limit``, before parsing.

    The count is of ``{`` and ``[`` bytes, an upper bound of the containers (brackets inside
    strings only add to it), in C: about 1 ms per MB. It goes a chunk at a time and stops once
    past the limit, so a document made of brackets costs no more than a real one.
    """
    _refuse_past(document, (b"{", b"["), limit, "JSON arrays and objects")


def _refuse_past(document: bytes, marks: tuple[bytes, ...], limit: int, what: str) -> None:
    """413 once the ``marks`` in ``document``, counted a chunk at a time, pass ``limit``."""
    seen = 0
    for start in range(0, len(document), _COUNT_CHUNK):
        end = start + _COUNT_CHUNK
        seen += sum(document.count(mark, start, end) for mark in marks)
        if seen > limit:
            raise RejectedError(
                413,
                "too_large",
                f"the body has more than {limit} {what}, the most a batch within this"
                " advisor's limits can hold; send smaller batches",
            )


def check_batch(batch: Batch, *, now: float) -> None:
    """Refuse (422) a batch whose values make no sense or cannot be stored, naming each field.

    ``now`` is the advisor's clock, which bounds the batch's times (agents' clocks may be
    :data:`MAX_CLOCK_AHEAD_SECONDS` ahead). The detail lists up to
    :data:`PROBLEMS_LISTED` problems, each by its dotted path as pydantic names them:
    ``launch_counts.2.day: 'garbage' is not a date (YYYY-MM-DD)``.
    """
    problems = _Problems()
    with contextlib.suppress(_EnoughError):
        _Checker(problems, now).batch(batch)
    if problems.found:
        raise RejectedError(422, "invalid", problems.detail())


class _Checker:
    def __init__(self, problems: _Problems, now: float) -> None:
        self.problems = problems
        self.now = now
        self.latest = now + MAX_CLOCK_AHEAD_SECONDS

    def batch(self, batch: Batch) -> None:
        add = self.problems.add
        if batch.sequence < 0:
            add("sequence", f"{batch.sequence} is negative")
        self.time("created_at", batch.created_at)
        host = batch.host
        if _HOST_ID.fullmatch(host.host_id) is None:
            add(
                "host.host_id",
                f"{_echo(host.host_id)} is not 1 to {MAX_HOST_ID} letters, digits, '.', '_', ':'"
                " or '-' starting with a letter or digit",
            )
        self.name("host.hostname", host.hostname, MAX_HOSTNAME)
        self.name("host.agent_version", host.agent_version, MAX_AGENT_VERSION)
        if not 0 <= batch.dropped_launch_events <= MAX_LAUNCHES_COUNTED:
            add(
                "dropped_launch_events",
                _out_of_range(batch.dropped_launch_events, 0, MAX_LAUNCHES_COUNTED),
            )
        self.intervals(batch.intervals)
        self.launches(batch.launches)
        self.launch_counts(batch.launch_counts)
        if batch.inventory is not None:
            self.inventory(batch.inventory)

    # --- fields ----------------------------------------------------------------------------------

    def time(self, path: str, value: float) -> None:
        if not EARLIEST_TIME <= value <= self.latest:
            self.problems.add(path, self._time_problem(value))

    def _time_problem(self, value: float) -> str:
        if value > self.latest:
            return (
                f"{value!r} is more than {MAX_CLOCK_AHEAD_SECONDS:.0f} s ahead of the advisor's"
                f" clock ({self.now:.0f}); check the agent's clock"
            )
        return f"{value!r} is before 2000-01-01 ({EARLIEST_TIME:.0f}); check the agent's clock"

    def name(self, path: str, value: str, limit: int) -> None:
        """A name: 1 to ``limit`` characters, none of them forbidden."""
        if not 0 < len(value) <= limit or not _name_chars_ok(value):
            self.problems.add(path, _text_problem(value, limit, _NAME_FORBIDDEN, empty=False))

    def optional_name(self, path: str, value: str | None, limit: int) -> None:
        """Like :meth:`name`, but None and the empty string pass."""
        if value is not None and (len(value) > limit or not _name_chars_ok(value)):
            self.problems.add(path, _text_problem(value, limit, _NAME_FORBIDDEN, empty=True))

    def duration(self, path: str, value: float) -> None:
        if not 0.0 <= value <= MAX_DURATION_SECONDS:
            self.problems.add(path, _out_of_range(value, 0, MAX_DURATION_SECONDS))

    def fits(self, path: str, items: Sequence[object], limit: int, what: str) -> bool:
        if len(items) > limit:
            self.problems.add(path, f"{len(items)} {what}, at most {limit} per batch")
            return False
        return True

    # --- intervals -------------------------------------------------------------------------------

    def intervals(self, intervals: Sequence[Interval]) -> None:
        if not self.fits("intervals", intervals, MAX_INTERVALS, "intervals"):
            return
        total = sum(len(interval.metrics) for interval in intervals)
        if total > MAX_METRIC_SUMMARIES:
            self.problems.add(
                "intervals",
                f"{total} metric summaries in all, at most {MAX_METRIC_SUMMARIES} per batch",
            )
            return
        for i, interval in enumerate(intervals):
            start, end = interval.start, interval.end
            self.time(f"intervals.{i}.start", start)
            self.time(f"intervals.{i}.end", end)
            if not 0.0 <= end - start <= MAX_INTERVAL_SECONDS:
                self.problems.add(
                    f"intervals.{i}.end",
                    f"{end!r} is before the start {start!r}"
                    if end < start
                    else f"the interval is {end - start:.0f} s long, at most"
                    f" {MAX_INTERVAL_SECONDS:.0f}",
                )
            self.metrics(i, interval)

    def metrics(self, i: int, interval: Interval) -> None:
        add = self.problems.add
        metric_name = _METRIC_NAME.fullmatch
        for j, metric in enumerate(interval.metrics):
            if metric.name not in _AGENT_SERIES and metric_name(metric.name) is None:
                add(
                    f"intervals.{i}.metrics.{j}.name",
                    f"{_echo(metric.name)} is not a metric name: 1 to {MAX_METRIC_NAME} of"
                    " a-z A-Z 0-9 _ :, not starting with a digit",
                )
            if metric.labels and not _agent_labels(metric.labels):
                self.labels(f"intervals.{i}.metrics.{j}.labels", metric.labels)
            if not 1 <= metric.count <= MAX_SAMPLES:
                add(f"intervals.{i}.metrics.{j}.count", _out_of_range(metric.count, 1, MAX_SAMPLES))
            low, high = metric.min, metric.max
            p50, p90, p99 = metric.p50, metric.p90, metric.p99
            # The agent's quantiles interpolate between samples: exact up to rounding.
            slack = (abs(low) + abs(high)) * 1e-9
            if not (
                -MAX_METRIC_VALUE <= low <= high <= MAX_METRIC_VALUE
                and low - slack <= p50
                and p50 <= p90 + slack
                and p90 <= p99 + slack
                and p99 <= high + slack
            ):
                add(f"intervals.{i}.metrics.{j}", _summary_problem(low, high, p50, p90, p99))
            if not -MAX_METRIC_SUM <= metric.sum <= MAX_METRIC_SUM:
                add(
                    f"intervals.{i}.metrics.{j}.sum",
                    _out_of_range(metric.sum, -MAX_METRIC_SUM, MAX_METRIC_SUM),
                )

    def labels(self, path: str, labels: Mapping[str, str]) -> None:
        if len(labels) > MAX_LABELS:
            self.problems.add(path, f"{len(labels)} labels, at most {MAX_LABELS}")
            return
        for key, value in labels.items():
            if _LABEL_NAME.fullmatch(key) is None:
                self.problems.add(
                    path,
                    f"{_echo(key)} is not a label name: 1 to {MAX_LABEL_NAME} of a-z A-Z 0-9 _,"
                    " not starting with a digit",
                )
            else:
                self.optional_name(f"{path}.{key}", value, MAX_LABEL_VALUE)

    # --- launches --------------------------------------------------------------------------------

    def launches(self, launches: Sequence[LaunchEvent]) -> None:
        if not self.fits("launches", launches, MAX_LAUNCHES, "launch events"):
            return
        for i, launch in enumerate(launches):
            self.name(f"launches.{i}.app", launch.app, MAX_APP)
            if launch.version is not None:
                self.name(f"launches.{i}.version", launch.version, MAX_VERSION)
            self.time(f"launches.{i}.started_at", launch.started_at)
            if launch.duration_seconds is not None:
                self.duration(f"launches.{i}.duration_seconds", launch.duration_seconds)
            self.name(f"launches.{i}.ready_signal", launch.ready_signal, MAX_SHORT_NAME)
            if launch.phases:
                self.phases(f"launches.{i}.phases", launch.phases)
            if launch.probe is not None:
                self.name(f"launches.{i}.probe", launch.probe, MAX_PROBE)
            detail = launch.detail
            if detail is not None and (len(detail) > MAX_DETAIL or _TEXT_FORBIDDEN.search(detail)):
                self.problems.add(
                    f"launches.{i}.detail",
                    _text_problem(detail, MAX_DETAIL, _TEXT_FORBIDDEN, empty=True),
                )

    def phases(self, path: str, phases: Mapping[str, float]) -> None:
        if len(phases) > MAX_PHASES:
            self.problems.add(path, f"{len(phases)} phases, at most {MAX_PHASES}")
            return
        for key, seconds in phases.items():
            if _PHASE_NAME.fullmatch(key) is None:
                self.problems.add(
                    path,
                    f"{_echo(key)} is not a phase name: 1 to {MAX_SHORT_NAME} of a-z A-Z 0-9 _,"
                    " not starting with a digit",
                )
            else:
                self.duration(f"{path}.{key}", seconds)

    def launch_counts(self, counts: Sequence[LaunchCount]) -> None:
        if not counts or not self.fits(
            "launch_counts", counts, MAX_LAUNCH_COUNT_ROWS, "launch counts"
        ):
            return
        # ISO dates compare as strings: the window's ends once, not a date object per row.
        latest_day = (
            dt.datetime.fromtimestamp(self.latest + _LOCAL_DAY_AHEAD_SECONDS, dt.UTC)
            .date()
            .isoformat()
        )
        total = 0
        for i, item in enumerate(counts):
            self.name(f"launch_counts.{i}.app", item.app, MAX_APP)
            day = item.day
            if not EARLIEST_DAY <= day <= latest_day or not _is_date(day):
                self.problems.add(f"launch_counts.{i}.day", _day_problem(day, latest_day))
            if not 0 <= item.count <= MAX_LAUNCHES_COUNTED:
                self.problems.add(
                    f"launch_counts.{i}.count", _out_of_range(item.count, 0, MAX_LAUNCHES_COUNTED)
                )
            else:
                total += item.count
        if total > MAX_LAUNCHES_COUNTED:
            self.problems.add(
                "launch_counts",
                f"the counts add up to {total}, at most {MAX_LAUNCHES_COUNTED} per batch",
            )

    # --- inventory -------------------------------------------------------------------------------

    def inventory(self, inventory: Inventory) -> None:
        self.time("inventory.collected_at", inventory.collected_at)
        if _DIGEST.fullmatch(inventory.digest) is None:
            self.problems.add(
                "inventory.digest",
                f"{_echo(inventory.digest)} is not 1 to {MAX_DIGEST} of A-Z a-z 0-9 : + / = _ -",
            )
        self.hardware(inventory.hardware)
        software, upgradable = inventory.software, inventory.upgradable
        names, optional = self.names, self.optional_names
        if self.fits("inventory.software", software, MAX_PACKAGES, "installed packages"):
            where = "inventory.software"
            names(where, "package", [p.package for p in software], MAX_PACKAGE)
            names(where, "version", [p.version for p in software], MAX_VERSION)
            optional(where, "arch", [p.arch for p in software], MAX_SHORT_NAME)
            optional(where, "app", [p.app for p in software], MAX_APP)
        if self.fits("inventory.upgradable", upgradable, MAX_PACKAGES, "upgradable packages"):
            where = "inventory.upgradable"
            names(where, "package", [p.package for p in upgradable], MAX_PACKAGE)
            names(where, "installed", [p.installed for p in upgradable], MAX_VERSION)
            names(where, "candidate", [p.candidate for p in upgradable], MAX_VERSION)
            optional(where, "origin", [p.origin for p in upgradable], MAX_ORIGIN)
            optional(where, "arch", [p.arch for p in upgradable], MAX_SHORT_NAME)

    # A desktop sends thousands of packages, so their fields are checked a column at a time, in
    # a few passes in C: the shortest and longest value, and the characters of all of them
    # joined. Only a column that fails is walked value by value, to name the culprits.

    def names(self, where: str, field: str, values: list[str], limit: int) -> None:
        """Field ``field`` of every item of ``where``: each a name (:meth:`name`)."""
        if values and not _column_ok(values, limit, empty=False):
            for i, value in enumerate(values):
                self.name(f"{where}.{i}.{field}", value, limit)

    def optional_names(self, where: str, field: str, values: list[str | None], limit: int) -> None:
        """Field ``field`` of every item of ``where``: each None or a name, empty allowed."""
        present = [value for value in values if value is not None]
        if present and not _column_ok(present, limit, empty=True):
            for i, value in enumerate(values):
                self.optional_name(f"{where}.{i}.{field}", value, limit)

    def hardware(self, hardware: Hardware) -> None:
        add = self.problems.add
        describe = self.optional_name
        describe("inventory.hardware.cpu_model", hardware.cpu_model, MAX_DESCRIPTION)
        for path, number in (
            ("inventory.hardware.cpu_cores", hardware.cpu_cores),
            ("inventory.hardware.cpu_threads", hardware.cpu_threads),
        ):
            if number is not None and not 1 <= number <= MAX_CPU_THREADS:
                add(path, _out_of_range(number, 1, MAX_CPU_THREADS))
        mhz = hardware.cpu_max_mhz
        if mhz is not None and not 0.0 <= mhz <= MAX_CPU_MHZ:
            add("inventory.hardware.cpu_max_mhz", _out_of_range(mhz, 0, MAX_CPU_MHZ))
        for path, size in (
            ("inventory.hardware.memory_bytes", hardware.memory_bytes),
            ("inventory.hardware.swap_bytes", hardware.swap_bytes),
        ):
            if not 0 <= size <= MAX_MEMORY_BYTES:
                add(path, _out_of_range(size, 0, MAX_MEMORY_BYTES))
        if self.fits("inventory.hardware.disks", hardware.disks, MAX_DISKS, "disks"):
            for i, disk in enumerate(hardware.disks):
                self.name(f"inventory.hardware.disks.{i}.name", disk.name, MAX_SHORT_NAME)
                if not 0 <= disk.size_bytes <= MAX_DISK_BYTES:
                    add(
                        f"inventory.hardware.disks.{i}.size_bytes",
                        _out_of_range(disk.size_bytes, 0, MAX_DISK_BYTES),
                    )
                describe(f"inventory.hardware.disks.{i}.model", disk.model, MAX_DESCRIPTION)
        describe("inventory.hardware.machine_vendor", hardware.machine_vendor, MAX_DESCRIPTION)
        describe("inventory.hardware.machine_model", hardware.machine_model, MAX_DESCRIPTION)
        describe("inventory.hardware.bios_date", hardware.bios_date, MAX_SHORT_NAME)
        describe("inventory.hardware.os_name", hardware.os_name, MAX_DESCRIPTION)
        describe("inventory.hardware.os_version", hardware.os_version, MAX_DESCRIPTION)
        describe("inventory.hardware.kernel", hardware.kernel, MAX_DESCRIPTION)
        describe("inventory.hardware.arch", hardware.arch, MAX_SHORT_NAME)


# --- messages: only built for a batch that fails --------------------------------------------------


def _name_chars_ok(value: str) -> bool:
    # isprintable() refuses a superset of the forbidden characters, and is faster.
    return value.isprintable() or _NAME_FORBIDDEN.search(value) is None


def _agent_labels(labels: Mapping[str, str]) -> bool:
    """Whether ``labels`` pass by the quickest test: the agent's label names, printable values.

    False only sends them to the full check, which decides.
    """
    if len(labels) > MAX_LABELS:
        return False
    for key, value in labels.items():
        if key not in _AGENT_LABELS or len(value) > MAX_LABEL_VALUE or not value.isprintable():
            return False
    return True


def _column_ok(values: list[str], limit: int, *, empty: bool) -> bool:
    lengths = list(map(len, values))
    if max(lengths) > limit or (not empty and min(lengths) == 0):
        return False
    return _name_chars_ok("".join(values))


def _echo(value: object) -> str:
    """A client-sent value quoted for a message, cut short: it may be a megabyte."""
    text = repr(value[: _MAX_ECHO + 1] if isinstance(value, str) else value)
    return text if len(text) <= _MAX_ECHO else text[: _MAX_ECHO - 3] + "..."


def _out_of_range(value: float, low: float, high: float) -> str:
    return f"{value!r} is outside {low:g}..{high:g}"


def _text_problem(value: str, limit: int, forbidden: re.Pattern[str], *, empty: bool) -> str:
    if not value and not empty:
        return "is empty"
    if len(value) > limit:
        return f"{len(value)} characters, at most {limit}"
    found = forbidden.search(value)
    assert found is not None  # why the caller asked
    return f"has {_kind_of(found.group())} ({repr(found.group())[1:-1]})"


def _kind_of(char: str) -> str:
    code = ord(char)
    if code < 0x20 or 0x7F <= code <= 0x9F:
        return "a control character"
    if code in (0x2028, 0x2029):
        return "a line or paragraph separator"
    if 0xD800 <= code <= 0xDFFF:
        return "a lone surrogate"
    return "a bidirectional formatting character"


def _summary_problem(low: float, high: float, p50: float, p90: float, p99: float) -> str:
    if not -MAX_METRIC_VALUE <= low <= MAX_METRIC_VALUE:
        return f"min {low!r} is outside ±{MAX_METRIC_VALUE:g}"
    if not -MAX_METRIC_VALUE <= high <= MAX_METRIC_VALUE:
        return f"max {high!r} is outside ±{MAX_METRIC_VALUE:g}"
    if low > high:
        return f"min {low!r} is above max {high!r}"
    for name, value in (("p50", p50), ("p90", p90), ("p99", p99)):
        if not low <= value <= high:
            return f"{name} {value!r} is outside min..max ({low!r}..{high!r})"
    return f"the quantiles are not in order: p50 {p50!r}, p90 {p90!r}, p99 {p99!r}"


def _is_date(day: str) -> bool:
    if _DAY.fullmatch(day) is None:
        return False
    try:
        dt.date.fromisoformat(day)
    except ValueError:
        return False
    return True


def _day_problem(day: str, latest_day: str) -> str:
    if not _is_date(day):
        return f"{_echo(day)} is not a date (YYYY-MM-DD)"
    return (
        f"{day} is outside {EARLIEST_DAY}..{latest_day}, the days this advisor's clock allows;"
        " check the agent's clock"
    )
