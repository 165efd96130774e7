"""The running agent: wires collectors, launch timing, inventory, spool and shipper together.

Each scheduled job is one small method (:meth:`AgentService.sample`, :meth:`flush`,
:meth:`ship`, :meth:`check_inventory`) that tests call directly; :meth:`run` hands them to an
:class:`~agent.scheduler.IntervalScheduler`. SIGTERM only sets an event: :meth:`stop` lets the
job in progress finish, spools the last partial interval and closes the spool, so nothing
measured is lost on a clean stop, and a kill -9 loses at most the interval in memory.

A spool that cannot be written (a full disk) costs the interval's summaries, never its
launches, and is said in three log lines at most per episode, not a traceback per interval
(:class:`SpoolTrouble`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

from agent import __version__
from agent.collectors.base import Collector, Sample
from agent.config import Config
from agent.errors import ConfigError, SpoolError
from agent.launches.recorder import LaunchRecorder
from agent.metrics import AgentMetrics, StateValue, serve, state
from agent.scheduler import IntervalScheduler, JobStats
from agent.shared.wire import Batch, HostIdentity, Interval, Inventory, encode_gzip, new_batch_id
from agent.shared.wire_limits import MAX_HOSTNAME
from agent.summary import EARLIEST_TIME, IntervalAccumulator, interval_start
from agent.text import clean_name

log = logging.getLogger(__name__)

# How often a spool that keeps failing is mentioned again: a full disk is not fixed in a
# minute, and a line a minute would bury the rest of the journal.
SPOOL_REMINDER_SECONDS = 600.0


class _Startable(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...


class _Probe(Protocol):
    def run_once(self) -> Any: ...


class _Inventory(Protocol):
    def take_due(self) -> Inventory | None: ...
    def mark_sent(self, inventory: Inventory) -> None: ...
    def version_of(self, app: str) -> str | None: ...


class SpoolTrouble:
    """What to log while writing to the spool fails: pure bookkeeping, the caller logs.

    :meth:`failed` returns a warning for the first failure, then at most one reminder every
    ``remind_every`` seconds with the intervals lost since the last line; :meth:`worked`
    returns one line when a write succeeds again. Other calls return None::

        trouble = SpoolTrouble(remind_every=600)
        trouble.failed(0, "disk full")    # "cannot spool this interval's batch: disk full; ..."
        trouble.failed(60, "disk full")   # None
        trouble.failed(600, "disk full")  # "still ...: 2 more intervals lost (3 in 10 min)"
        trouble.worked(660)               # "spooling batches works again, after 3 lost ..."
    """

    def __init__(self, remind_every: float = SPOOL_REMINDER_SECONDS) -> None:
        self._remind_every = remind_every
        self._since: float | None = None
        self._last_said = 0.0
        self._lost = 0
        self._lost_unsaid = 0

    def failed(self, now: float, error: str) -> str | None:
        self._lost += 1
        if self._since is None:
            self._since = self._last_said = now
            return (
                f"cannot spool this interval's batch: {error}; until that is fixed every"
                " interval loses its resource summaries, its launches wait for the next batch"
            )
        self._lost_unsaid += 1
        if now - self._last_said < self._remind_every:
            return None
        lost, self._lost_unsaid, self._last_said = self._lost_unsaid, 0, now
        return (
            f"still cannot spool batches: {error}; {lost} more intervals lost"
            f" ({self._lost} in {_minutes(now - self._since)})"
        )

    def worked(self, now: float) -> str | None:
        if self._since is None:
            return None
        message = (
            f"spooling batches works again, after {self._lost} lost intervals"
            f" in {_minutes(now - self._since)}"
        )
        self._since = None
        self._lost = self._lost_unsaid = 0
        return message


def _minutes(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes else f"{seconds:.0f} s"


@dataclass
class Parts:
    """Everything the service runs, built by :func:`build_service` or by a test."""

    config: Config
    host: HostIdentity
    collectors: Sequence[Collector]
    recorder: LaunchRecorder
    metrics: AgentMetrics
    spool: Any
    inventory: _Inventory | None = None
    watcher: _Startable | None = None
    report_server: _Startable | None = None
    probes: Sequence[tuple[float, _Probe]] = ()
    shipper_factory: Callable[[], Any | None] = lambda: None
    on_batch: Callable[[Batch], None] | None = None
    clock: Callable[[], float] = time.monotonic
    wall_clock: Callable[[], float] = time.time
    closers: list[Callable[[], None]] = field(default_factory=list)


class AgentService:
    def __init__(self, parts: Parts):
        self.parts = parts
        self.config = parts.config
        self._accumulator = IntervalAccumulator()
        self._lock = threading.Lock()  # guards the accumulator and the interval bounds
        self._interval_start = parts.wall_clock()
        # The same moment on the monotonic clock: how long the interval lasted when the wall
        # clock is stepped during it (see agent.summary.interval_start).
        self._interval_began = parts.clock()
        self._clock_unset_said = False
        self._pending_inventory: Inventory | None = None
        self._shipper: Any | None = None
        self._ship_lock = threading.Lock()
        self._failing: set[str] = set()
        self._scheduler: IntervalScheduler | None = None
        self._stop_metrics: Callable[[], None] | None = None
        self._stopped = threading.Event()
        self._spool_trouble = SpoolTrouble()
        # Separate sources, so one that fails costs only its own metrics.
        parts.metrics.add_state_source(self._spool_recoveries)
        parts.metrics.add_state_source(self._spool_health)
        parts.metrics.add_state_source(self._delivery_health)

    # --- jobs -----------------------------------------------------------------------------------

    def sample(self) -> list[Sample]:
        """Run every collector once; a failing collector is counted and skipped."""
        started = self.parts.clock()
        samples: list[Sample] = []
        for collector in self.parts.collectors:
            try:
                samples.extend(collector.collect(started))
            except Exception as exc:
                self.parts.metrics.collector_errors.labels(collector.name).inc()
                # Say it once per outage, not every five seconds.
                if collector.name not in self._failing:
                    log.warning("collector %s failed: %s", collector.name, exc)
                    self._failing.add(collector.name)
            else:
                if collector.name in self._failing:
                    log.info("collector %s works again", collector.name)
                    self._failing.discard(collector.name)
        self.parts.metrics.collection_duration.observe(self.parts.clock() - started)
        self.parts.metrics.latest.update(samples)
        with self._lock:
            self._accumulator.add(samples)
        return samples

    def flush(self) -> Batch | None:
        """Close the current interval and write it, with launches and inventory, to the spool.

        Every time in the batch is one the advisor accepts, as far as this host can tell: an
        interval never ends before it starts (the wall clock may have been stepped back), and
        nothing is dated before 2000 (a clock not set yet). While the wall clock reads before
        2000 no batch is written at all: the interval's summaries are lost, its launches wait.
        """
        end = self.parts.wall_clock()
        ended = self.parts.clock()
        with self._lock:
            summaries = self._accumulator.flush()
            start, self._interval_start = self._interval_start, end
            began, self._interval_began = self._interval_began, ended
        if end < EARLIEST_TIME:
            self._clock_not_set(end)
            return None
        if self._clock_unset_said:
            log.info("the wall clock is set (it reads %.0f); batches are written again", end)
            self._clock_unset_said = False
        start = interval_start(start, end, ended - began)
        drained = self.parts.recorder.drain().dated()
        inventory = self._pending_inventory
        if inventory is not None and inventory.collected_at < EARLIEST_TIME:
            # Read before the clock was set: the batch's time is the best known for it.
            inventory = dataclasses.replace(inventory, collected_at=end)
        spool = self.parts.spool
        try:
            sequence = spool.allocate_sequence()
            batch = Batch(
                batch_id=new_batch_id(),
                sequence=sequence,
                created_at=end,
                host=self.parts.host,
                intervals=[Interval(start=start, end=end, metrics=summaries)] if summaries else [],
                launches=drained.events,
                launch_counts=drained.counts,
                dropped_launch_events=drained.dropped,
                inventory=inventory,
            )
            spool.put(batch.batch_id, sequence, encode_gzip(batch))
        except Exception as exc:
            # Launches and inventory wait for the next interval; this interval's resource
            # summaries are lost, which is what the error counter says.
            self.parts.recorder.restore(drained)
            self.parts.metrics.spool_write_errors.inc()
            notice = self._spool_trouble.failed(self.parts.clock(), str(exc) or repr(exc))
            if notice is not None:
                # A full disk or a failing one is expected: one line says it. Anything
                # else is a bug, and its traceback is what fixes it.
                expected = isinstance(exc, SpoolError | OSError)
                log.warning("%s", notice, exc_info=not expected)
            return None
        notice = self._spool_trouble.worked(self.parts.clock())
        if notice is not None:
            log.info("%s", notice)
        self.parts.metrics.batches_spooled.inc()
        if inventory is not None and self.parts.inventory is not None:
            self.parts.inventory.mark_sent(inventory)
            self._pending_inventory = None
        if self.parts.on_batch is not None:
            self.parts.on_batch(batch)
        return batch

    def _clock_not_set(self, now: float) -> None:
        if not self._clock_unset_said:
            log.warning(
                "the wall clock reads %.0f, before 2000: it is not set yet (NTP, a dead RTC"
                " battery?); no batch is written until it is, launches wait",
                now,
            )
            self._clock_unset_said = True

    def ship(self) -> Any | None:
        """Send what is due; builds the shipper once the agent is enrolled.

        The shipping job and the flush job both call this; a round already under way makes
        the other caller return at once, so no batch is posted twice in parallel.
        """
        if not self._ship_lock.acquire(blocking=False):
            return None
        try:
            if self._shipper is None:
                self._shipper = self.parts.shipper_factory()
                if self._shipper is None:
                    return None
            return self._shipper.send_due()
        finally:
            self._ship_lock.release()

    def check_inventory(self) -> Inventory | None:
        """Look for hardware or software changes; a due inventory rides on the next batch."""
        if self.parts.inventory is None:
            return None
        inventory = self.parts.inventory.take_due()
        if inventory is not None:
            self._pending_inventory = inventory
        return inventory

    def run_probe(self, probe: _Probe) -> None:
        try:
            probe.run_once()
        except Exception:
            log.exception("probe failed unexpectedly")

    # --- life cycle -----------------------------------------------------------------------------

    def _start(self) -> IntervalScheduler:
        """Start the listeners and the launch watcher; return the jobs' scheduler, for
        :meth:`run` to time them on its thread."""
        config = self.config
        if config.metrics.listen:
            with _listener(config, "metrics.listen", config.metrics.listen):
                self._stop_metrics = serve(self.parts.metrics, config.metrics.listen)
        if self.parts.report_server is not None:
            try:
                with _listener(config, "report.listen", config.report.listen):
                    self.parts.report_server.start()
            except ConfigError:
                if self._stop_metrics is not None:
                    self._stop_metrics()
                raise
        if self.parts.watcher is not None:
            self.parts.watcher.start()

        # Sampling and flushing take milliseconds: they run on the timing thread. Shipping
        # waits on the network and the inventory on apt: one worker takes both. Probes may
        # run for minutes and get their own pool.
        scheduler = IntervalScheduler(
            {"network": 1, "probes": 2}, monotonic=self.parts.clock, wall=self.parts.wall_clock
        )
        scheduler.every(config.agent.sample_interval, self.sample, name="sample")
        # Intervals end on wall-clock multiples (…:00, …:01:00) so the fleet's intervals line up.
        scheduler.every(
            config.agent.summary_interval, self._flush_and_ship, name="flush", wall_aligned=True
        )
        scheduler.every(
            config.advisor.send_interval, self.ship, name="ship", jitter=1, pool="network"
        )
        if self.parts.inventory is not None:
            scheduler.every(
                config.inventory.check_interval,
                self.check_inventory,
                name="inventory",
                first_in=0,
                pool="network",
            )
        for index, (every, probe) in enumerate(self.parts.probes):
            scheduler.every(
                every,
                partial(self.run_probe, probe),
                name=f"probe-{index}",
                first_in=1,
                # Spread probes of a fleet over their interval instead of all at :00.
                jitter=min(every / 10, 30),
                pool="probes",
            )
        self._scheduler = scheduler
        self.sample()  # the first reading, so rates start with the second one
        return scheduler

    def _flush_and_ship(self) -> None:
        """Flush, then have the shipper send the new batch now rather than at its next tick."""
        if self.flush() is not None and self._scheduler is not None:
            self._scheduler.run_soon("ship")

    def stop(self) -> None:
        """Finish the job in progress, spool the last partial interval, close everything."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        if self.parts.watcher is not None:
            self.parts.watcher.stop()
        if self._scheduler is not None:
            self._scheduler.shutdown()
        if self.parts.report_server is not None:
            self.parts.report_server.stop()
        self.flush()
        if self._stop_metrics is not None:
            self._stop_metrics()
        for close in reversed(self.parts.closers):
            try:
                close()
            except Exception:
                log.exception("error while closing")

    def run(self, stop: threading.Event, duration: float | None = None) -> None:
        """Run until ``stop`` is set (SIGTERM) or ``duration`` seconds have passed; the
        calling thread times the jobs and runs the quick ones."""
        scheduler = self._start()
        try:
            scheduler.run(stop, duration)
        finally:
            self.stop()

    # --- health ---------------------------------------------------------------------------------

    def _spool_recoveries(self) -> Iterable[StateValue]:
        yield state(
            "fleetsight_agent_spool_recovered_total",
            "Damaged spool files moved aside and replaced by an empty spool.",
            self.parts.spool.recoveries,
            "counter",
        )

    def _spool_health(self) -> Iterable[StateValue]:
        status = self.parts.spool.status()
        yield state(
            "fleetsight_agent_spool_batches",
            "Batches in the spool.",
            status.pending,
            state="pending",
        )
        yield state(
            "fleetsight_agent_spool_batches",
            "Batches in the spool.",
            status.quarantined,
            state="quarantined",
        )
        yield state(
            "fleetsight_agent_spool_bytes",
            "Bytes of pending batches in the spool.",
            status.pending_bytes,
        )
        yield state(
            "fleetsight_agent_spool_oldest_age_seconds",
            "Age of the oldest batch waiting to be sent.",
            status.oldest_pending_age or 0,
        )
        yield state(
            "fleetsight_agent_spool_dropped_batches_total",
            "Batches dropped because the spool was full.",
            status.dropped_batches,
            "counter",
        )
        yield state(
            "fleetsight_agent_spool_dropped_bytes_total",
            "Bytes dropped because the spool was full.",
            status.dropped_bytes,
            "counter",
        )
        yield state(
            "fleetsight_agent_launches_pending",
            "Launch events waiting for the next batch.",
            self.parts.recorder.pending(),
        )

    def _delivery_health(self) -> Iterable[StateValue]:
        if self._shipper is not None:
            yield from _shipper_values(self._shipper.stats)
        watcher_stats = getattr(self.parts.watcher, "stats", None)
        if watcher_stats is not None:
            yield from _watcher_values(watcher_stats)
        if self._scheduler is not None:
            yield from _job_values(self._scheduler.stats())


def _shipper_values(stats: Any) -> Iterable[StateValue]:
    yield state(
        "fleetsight_agent_sent_batches_total",
        "Batches the advisor accepted.",
        stats.batches_sent,
        "counter",
    )
    yield state(
        "fleetsight_agent_sent_bytes_total",
        "Compressed bytes the advisor accepted.",
        stats.bytes_sent,
        "counter",
    )
    for kind, count in sorted(stats.send_errors.items()):
        yield state(
            "fleetsight_agent_send_errors_total",
            "Failed sends by kind: transient, throttled, auth, config, permanent.",
            count,
            "counter",
            kind=kind,
        )
    yield state(
        "fleetsight_agent_last_successful_send_timestamp_seconds",
        "Unix time of the last batch the advisor accepted.",
        stats.last_success_time or 0,
    )


def _job_values(stats: Iterable[JobStats]) -> Iterable[StateValue]:
    for job in stats:
        yield state(
            "fleetsight_agent_job_runs_total",
            "Runs of a scheduled job.",
            job.runs,
            "counter",
            job=job.name,
        )
        yield state(
            "fleetsight_agent_job_failures_total",
            "Runs of a scheduled job that raised an error.",
            job.failures,
            "counter",
            job=job.name,
        )
        yield state(
            "fleetsight_agent_job_skipped_total",
            "Runs skipped because the job's previous run was still going.",
            job.overruns,
            "counter",
            job=job.name,
        )
        yield state(
            "fleetsight_agent_job_last_duration_seconds",
            "How long the job's last run took.",
            job.last_duration,
            job=job.name,
        )


def _watcher_values(stats: Any) -> Iterable[StateValue]:
    counters = (
        ("scans", "Scans for new processes."),
        ("scans_skipped", "Scans that skipped listing /proc: no pid allocated since the last."),
        ("processes_inspected", "New processes inspected by the launch watcher."),
        ("launches_recorded", "Launches timed by the passive watcher."),
        ("timeouts", "Launches that were not ready before their timeout."),
        ("failures", "Launches whose process exited before it was ready."),
        ("errors", "Watcher steps that failed; the watcher carried on."),
        ("scan_cpu_seconds", "CPU time spent scanning /proc for new processes."),
        ("poll_cpu_seconds", "CPU time spent following launches until ready."),
    )
    for name, help_ in counters:
        yield state(
            f"fleetsight_agent_watcher_{name}_total", help_, getattr(stats, name), "counter"
        )
    yield state(
        "fleetsight_agent_watcher_launches_tracked",
        "Launches being followed until ready.",
        stats.launches_tracked_now,
    )


@contextlib.contextmanager
def _listener(config: Config, key: str, address: str) -> Iterator[None]:
    """Turn a failed bind into one sentence naming the setting, not a traceback."""
    try:
        yield
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError(
            f"cannot listen on {address}: {reason} (another agent running?)",
            source=config.source,
            key=key,
        ) from None


def host_identity(config: Config, enrolled_host_id: str | None = None) -> HostIdentity:
    return HostIdentity(
        host_id=enrolled_host_id or config.host_id(),
        # The kernel takes any 64 bytes as a hostname; the advisor refuses control characters.
        hostname=clean_name(socket.gethostname(), MAX_HOSTNAME) or "localhost",
        agent_version=__version__,
    )


def build_service(
    config: Config, *, on_batch: Callable[[Batch], None] | None = None
) -> AgentService:
    """Wire the production agent from its configuration."""
    from agent.collectors.default import build_collectors
    from agent.credentials import load_credential, load_enrolment
    from agent.inventory.collector import InventoryCollector
    from agent.inventory.software import CachedSoftwareReader
    from agent.launches.watcher import LaunchWatcher
    from agent.reported import ReportServer
    from agent.shared.metricdefs import METRICS
    from agent.spool import Spool

    def help_text(name: str) -> str:
        definition = METRICS.get(name)
        return definition.help if definition else name.replace("_", " ")

    metrics = AgentMetrics(help_text)
    enrolment = load_enrolment(config.enrolment_path)
    host = host_identity(config, enrolment.host_id if enrolment else None)
    recorder = LaunchRecorder(
        max_events=config.launches.max_events_per_interval, on_record=metrics.record_launch
    )
    # A damaged spool must not stop all monitoring: it is moved aside, counted and logged.
    spool = Spool(config.spool_path, config.spool.max_bytes, recover=True)
    inventory = InventoryCollector(
        config,
        state_path=config.inventory_state_path,
        read_software=CachedSoftwareReader(max_age=config.inventory.interval),
    )
    watcher = (
        LaunchWatcher(
            config.apps,
            recorder,
            version_of=inventory.version_of,
            scan_interval=config.launches.scan_interval,
            poll_interval=config.launches.poll_interval,
        )
        if config.apps
        else None
    )
    report_server = (
        ReportServer(config.report.listen, recorder, version_of=inventory.version_of)
        if config.report.listen
        else None
    )
    probes: list[tuple[float, _Probe]] = []
    # Imported only when configured: most machines run no probes, and every module is memory.
    if config.http_probes:
        from agent.probes.http import HttpProbe

        probes += [(probe.interval, HttpProbe(probe, recorder)) for probe in config.http_probes]
    if config.command_probes:
        from agent.probes.command import CommandProbe

        probes += [
            (probe.interval, CommandProbe(probe, recorder)) for probe in config.command_probes
        ]
    closers: list[Callable[[], None]] = [spool.close]

    def shipper_factory() -> Any | None:
        from agent.shipper import Shipper, make_client

        current = load_enrolment(config.enrolment_path)
        url = config.advisor.url or (current.advisor_url if current else None)
        if not url:
            return None
        client = make_client(
            config.advisor.timeout,
            config.advisor.ca_file,
            config.advisor.max_connections,
            url=url,
        )
        closers.append(client.close)
        return Shipper(
            spool,
            url=url,
            credential=lambda: load_credential(config.credential_path),
            host_id=host.host_id,
            client=client,
            max_backoff=config.advisor.max_backoff,
            round_interval=config.advisor.send_interval,
        )

    parts = Parts(
        config=config,
        host=host,
        collectors=build_collectors(config),
        recorder=recorder,
        metrics=metrics,
        spool=spool,
        inventory=inventory,
        watcher=watcher,
        report_server=report_server,
        probes=probes,
        shipper_factory=shipper_factory,
        on_batch=on_batch,
        closers=closers,
    )
    return AgentService(parts)
