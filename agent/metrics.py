"""The agent's Prometheus endpoint: the latest measurements and the agent's own health.

Everything lives in one :class:`AgentMetrics` with its own registry (no global state), so tests
build as many as they like. Measurements are exported as gauges named ``fleetsight_<sample>``
from the latest sample of each series; the agent's health is ``fleetsight_agent_*``.
Values that other components own (spool depth, shipper counters, watcher stats) are read at
scrape time through :meth:`AgentMetrics.add_state_source`, so they are never stale copies.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    Info,
    generate_latest,
    make_wsgi_app,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector as PromCollector

from agent import __version__
from agent.collectors.base import Sample
from agent.httpserve import serve_in_thread
from agent.shared.config_values import split_host_port
from agent.shared.wire import LaunchEvent

log = logging.getLogger(__name__)

PREFIX = "fleetsight_"

# Seconds a scrape may take to send its request before the connection is cut.
SCRAPE_TIMEOUT = 10.0

# Launch times span a cached 0.2 s editor start to a two-minute office suite on a swapping HDD.
LAUNCH_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 7.5, 10.0, 15.0, 30.0, 60.0, 120.0)


@dataclass(frozen=True, slots=True)
class StateValue:
    """One value read at scrape time. ``kind`` is "gauge" or "counter" (name ends in _total)."""

    name: str
    help: str
    value: float
    kind: str = "gauge"
    labels: tuple[tuple[str, str], ...] = ()


class LatestSamples(PromCollector):
    """The newest value of every sampled series, as gauges ``fleetsight_<sample name>``."""

    def __init__(self, help_text: Callable[[str], str]):
        self._help_text = help_text
        self._lock = threading.Lock()
        self._latest: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}

    def update(self, samples: Iterable[Sample]) -> None:
        fresh = {(sample.name, sample.labels): sample.value for sample in samples}
        with self._lock:
            self._latest = fresh

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            latest = dict(self._latest)
        families: dict[str, GaugeMetricFamily] = {}
        for (name, labels), value in sorted(latest.items()):
            family = families.get(name)
            if family is None:
                family = GaugeMetricFamily(
                    PREFIX + name, self._help_text(name), labels=[key for key, _ in labels]
                )
                families[name] = family
            family.add_metric([label_value for _, label_value in labels], value)
        yield from families.values()


class _StateCollector(PromCollector):
    """Scrape-time values from callbacks; a failing callback costs its metrics, not the scrape."""

    def __init__(self) -> None:
        self._sources: list[Callable[[], Iterable[StateValue]]] = []

    def add(self, source: Callable[[], Iterable[StateValue]]) -> None:
        self._sources.append(source)

    def collect(self) -> Iterator[Metric]:
        families: dict[str, GaugeMetricFamily | CounterMetricFamily] = {}
        for source in self._sources:
            try:
                values = list(source())
            except Exception:
                log.exception("a metrics source failed; its metrics are left out of this scrape")
                continue
            for item in values:
                family = families.get(item.name)
                if family is None:
                    label_names = [key for key, _ in item.labels]
                    if item.kind == "counter":
                        family = CounterMetricFamily(
                            item.name.removesuffix("_total"), item.help, labels=label_names
                        )
                    else:
                        family = GaugeMetricFamily(item.name, item.help, labels=label_names)
                    families[item.name] = family
                family.add_metric([value for _, value in item.labels], item.value)
        yield from families.values()


class AgentMetrics:
    """The agent's registry and the self-metrics its components update."""

    def __init__(self, help_text: Callable[[str], str] = lambda name: name.replace("_", " ")):
        self.registry = CollectorRegistry(auto_describe=True)
        self.latest = LatestSamples(help_text)
        self.registry.register(self.latest)
        self._state = _StateCollector()
        self.registry.register(self._state)

        info = Info("fleetsight_agent_build", "Agent version.", registry=self.registry)
        info.info({"version": __version__})
        self.collector_errors = Counter(
            "fleetsight_agent_collector_errors",
            "Collector runs that failed; the other collectors carried on.",
            ["collector"],
            registry=self.registry,
        )
        self.collection_duration = Histogram(
            "fleetsight_agent_collection_duration_seconds",
            "Time to run all resource collectors once.",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
            registry=self.registry,
        )
        self.batches_spooled = Counter(
            "fleetsight_agent_batches_spooled",
            "Batches written to the spool.",
            registry=self.registry,
        )
        self.spool_write_errors = Counter(
            "fleetsight_agent_spool_write_errors",
            "Intervals that could not be written to the spool (a full or failing disk): their"
            " resource summaries are lost, their launches wait for the next batch.",
            registry=self.registry,
        )
        self.launches = Counter(
            "fleetsight_agent_launches",
            "Launch timings recorded, by app, method and outcome.",
            ["app", "method", "outcome"],
            registry=self.registry,
        )
        self.launch_duration = Histogram(
            "fleetsight_launch_duration_seconds",
            "Application load time (launch to ready) of successful launches.",
            ["app", "method"],
            buckets=LAUNCH_BUCKETS,
            registry=self.registry,
        )

    def record_launch(self, event: LaunchEvent) -> None:
        """Count a launch; the LaunchRecorder calls this for every event it records."""
        self.launches.labels(event.app, event.method, event.outcome).inc()
        if event.outcome == "ok" and event.duration_seconds is not None:
            self.launch_duration.labels(event.app, event.method).observe(event.duration_seconds)

    def add_state_source(self, source: Callable[[], Iterable[StateValue]]) -> None:
        """Register a callback whose values are read at every scrape."""
        self._state.add(source)

    def render(self) -> bytes:
        """The exposition text, as /metrics serves it."""
        return generate_latest(self.registry)


def serve(
    metrics: AgentMetrics, listen: str, *, scrape_timeout: float = SCRAPE_TIMEOUT
) -> Callable[[], None]:
    """Serve /metrics on ``host:port`` in a daemon thread; returns a function that stops it.

    prometheus-client's own ``start_http_server`` polls for shutdown twice a second and starts
    a thread per scrape; this one wakes only for scrapes (agent.httpserve) and answers them on
    its one thread. Scrapes come one at a time and take a millisecond; a thread per scrape
    cost CPU, and each new thread a malloc arena of its own (memory). A client that stalls is
    cut off after ``scrape_timeout`` seconds, so it cannot hold the endpoint.
    """
    host, port = split_host_port(listen)

    class Server(WSGIServer):
        address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

    class Handler(_QuietHandler):
        timeout = scrape_timeout

    httpd = make_server(host, port, make_wsgi_app(metrics.registry), Server, Handler)
    return serve_in_thread(httpd, "metrics")


class _QuietHandler(WSGIRequestHandler):
    """Scrapes are not news: no access log on stderr."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


def state(
    name: str, help_: str, value: float, metric_type: str = "gauge", **labels: Any
) -> StateValue:
    """Shorthand for a :class:`StateValue` with keyword labels."""
    return StateValue(name, help_, float(value), metric_type, tuple(sorted(labels.items())))
