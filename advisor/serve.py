"""``fleetsight-advisor serve``: the API and the scheduled jobs, in one process or several.

One Python process uses one core, and ingest is CPU-bound in the advisor, not in the database
(docs/benchmarks.md). ``[server] workers = N`` runs N worker processes, each a whole advisor
on the shared database that needs nothing from the others: a batch is one transaction, and
each scheduled job takes a lease, so a tick runs in one process only. Their metrics are summed
through prometheus-client's multiprocess mode (files in ``<state_dir>/metrics``), so /metrics
answers for the whole advisor whichever process serves the scrape.

Each worker listens on its own socket bound to the same port with SO_REUSEPORT, and the kernel
spreads new connections evenly over them. uvicorn's own workers share one socket instead, and
the first to wake accepts a whole burst of connections: measured, 42 of 64 persistent
connections in one worker and 22 in the other, whose latencies then differ. This module's
supervisor starts the workers, forwards SIGTERM/SIGINT to them, replaces a worker that dies,
and gives up (exit status 1) when workers keep dying at start, which means a configuration or
database problem that restarting will not fix.

Workers read their configuration the way the first process did: the command line's overrides
are passed on as ``FLEETSIGHT_ADVISOR_*`` environment variables.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio.to_thread
import uvicorn
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from advisor.api.app import create_app
from advisor.api.header_deadline import HeaderDeadlineProtocol
from advisor.api.metrics import multiprocess_registry, process_registry
from advisor.api.settings import ApiSettings
from advisor.config import AdvisorConfig, load_config
from advisor.errors import FleetsightAdvisorError
from advisor.finding_costs import NO_COSTS
from advisor.jobs.serving import build_jobs, run_while_serving
from advisor.store.open import Stores, open_store
from advisor.ui.app import create_ui
from advisor.ui.settings import UiSettings
from agent.shared.config_values import split_host_port

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# SIGTERM: stop accepting, finish requests in flight (each batch is one transaction, so
# nothing is half-stored), then exit.
GRACEFUL_SHUTDOWN_SECONDS = 20
# A worker that dies this soon after starting failed to start; this many such in a row stop
# the advisor rather than restart forever.
QUICK_DEATH_SECONDS = 10.0
QUICK_DEATHS_TO_GIVE_UP = 5
LISTEN_BACKLOG = 2048


def build_app(config: AdvisorConfig, *, multiprocess: bool = False) -> FastAPI:
    """The advisor of one process: store, API and jobs, started and stopped with the app.

    Raises SchemaOutOfDate when the database needs ``fleetsight-advisor db upgrade``.
    """
    stores = open_store(config, create=True)
    if stores.catalog.costs() is None:
        # Not an error: findings are priced in time until the settings are imported.
        log.warning("%s", NO_COSTS)
    settings = ApiSettings(
        max_body_bytes=config.ingest.max_body_bytes,
        max_decompressed_bytes=config.ingest.max_decompressed_bytes,
        max_concurrent_ingests=config.ingest.max_concurrent,
        retry_after_seconds=config.ingest.retry_after,
        queue_wait_seconds=config.ingest.queue_wait,
        body_timeout_seconds=config.ingest.body_timeout,
        max_ingests_per_host=config.ingest.max_per_host,
        host_batches_per_minute=config.ingest.host_batches_per_minute,
        auth_cache_seconds=config.ingest.auth_cache,
        ready_check=stores.check_schema,
    )
    if multiprocess:
        # Values go to the shared files, whatever registry holds them; /metrics reads the sum.
        registry, exposition = CollectorRegistry(), multiprocess_registry()
    else:
        registry = exposition = process_registry()
    app = create_app(
        stores.hosts,
        settings,
        findings=stores.findings,
        catalog=stores.catalog,
        api_tokens=stores.api_tokens,
        frames=stores.frames,
        recommendations=stores.recommendations,
        audit=stores.audit,
        window_days=config.analysis.window_days,
        registry=registry,
        exposition=exposition,
        ui=create_ui(
            users=stores.users,
            sessions=stores.ui_sessions,
            audit=stores.audit,
            recommendations=stores.recommendations,
            settings=UiSettings.from_config(config),
            hosts=stores.hosts,
            frames=stores.frames,
            findings=stores.findings,
            window_days=config.analysis.window_days,
            catalog=stores.catalog,
        ),
    )
    _close_on_shutdown(app, stores)
    jobs = build_jobs(stores, config, registry)  # None when [jobs] enabled is off
    if jobs is not None:
        run_while_serving(app, jobs)
    # The ~140,000 objects built so far (models, schemas, routes) live as long as the process;
    # left to the collector, every full collection walks them all: 40-80 ms with every
    # request in flight stalled, which showed in ingest's p99. Freezing exempts them.
    gc.freeze()
    return app


def serve(config: AdvisorConfig, overrides: dict[str, str]) -> None:
    """Serve until SIGTERM; ``overrides`` are the command line's settings as environment
    variables, for the workers."""
    host, port = split_host_port(config.server.listen)
    workers = config.server.workers
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": config.advisor.log_level,
        "access_log": False,
        "ssl_certfile": str(config.server.tls_cert_file) if config.server.tls_cert_file else None,
        "ssl_keyfile": str(config.server.tls_key_file) if config.server.tls_key_file else None,
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_SECONDS,
        # httptools with a deadline on request headers (slowloris).
        "http": HeaderDeadlineProtocol,
    }
    if workers == 1:
        uvicorn.run(build_app(config), **options)
        return
    # Fail here, once, rather than in every worker as it starts.
    open_store(config, create=True).close()
    reuse_port_socket(host, port).close()  # the port is free (or ours): say so now if not
    os.environ.update(overrides)
    os.environ[MULTIPROC_ENV] = str(fresh_metrics_dir(config.advisor.state_dir / "metrics"))
    if not Supervisor(workers, options).run():
        raise WorkersFailedError(
            f"the advisor's workers keep exiting at start ({QUICK_DEATHS_TO_GIVE_UP} in a row);"
            " their log lines above say why"
        )


class WorkersFailedError(FleetsightAdvisorError):
    """Workers kept dying right after starting: restarting them would not help."""


class Supervisor:
    """Runs ``count`` worker processes until SIGTERM or SIGINT, replacing any that dies."""

    def __init__(self, count: int, options: dict[str, Any]) -> None:
        self._count = count
        self._options = options
        self._context = multiprocessing.get_context("spawn")  # fresh interpreters: no fork
        self._stopping = threading.Event()

    def run(self) -> bool:
        """Serve until a signal; False when workers kept failing to start."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: self._stopping.set())
        workers = [self._start(index) for index in range(self._count)]
        started = [time.monotonic()] * self._count
        quick_deaths = 0
        while not self._stopping.wait(0.5):
            for index, process in enumerate(workers):
                if process.is_alive():
                    continue
                lived = time.monotonic() - started[index]
                quick_deaths = quick_deaths + 1 if lived < QUICK_DEATH_SECONDS else 0
                log.warning(
                    "worker %d (pid %s) exited with status %s after %.0f s",
                    index,
                    process.pid,
                    process.exitcode,
                    lived,
                )
                if quick_deaths >= QUICK_DEATHS_TO_GIVE_UP:
                    self._stop(workers)
                    return False
                workers[index], started[index] = self._start(index), time.monotonic()
        self._stop(workers)
        return True

    def _start(self, index: int) -> multiprocessing.process.BaseProcess:
        process = self._context.Process(
            target=run_worker, args=(self._options,), name=f"fleetsight-advisor-worker-{index}"
        )
        process.start()
        return process

    @staticmethod
    def _stop(workers: list[multiprocessing.process.BaseProcess]) -> None:
        """SIGTERM every worker (each finishes its requests in flight), then wait for them."""
        for process in workers:
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + GRACEFUL_SHUTDOWN_SECONDS + 5
        for process in workers:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                log.warning("worker pid %s did not stop in time: killing it", process.pid)
                process.kill()
                process.join()


def run_worker(options: dict[str, Any]) -> None:
    """One worker process: its app on its own SO_REUSEPORT socket, until SIGTERM."""
    sock = reuse_port_socket(options["host"], options["port"])
    server = uvicorn.Server(uvicorn.Config(worker_app(), backlog=LISTEN_BACKLOG, **options))
    server.run(sockets=[sock])


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` that other workers may bind too."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
        sock.listen(LISTEN_BACKLOG)
    except OSError as exc:
        sock.close()
        raise WorkersFailedError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    return sock


def worker_app() -> FastAPI:
    """The app of one worker process, configured like the first process."""
    config = load_config(None, os.environ)
    logging.basicConfig(
        level=config.advisor.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s",
    )
    return build_app(config, multiprocess=True)


def fresh_metrics_dir(path: Path) -> Path:
    """An empty directory for the workers' metric files: values of an earlier run must not
    be summed into this one's."""
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True, mode=0o700)
    return path


def _close_on_shutdown(app: FastAPI, store: Stores) -> None:
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(served: Any) -> AsyncIterator[Any]:
        async with inner(served) as state:
            try:
                yield state
            finally:
                await anyio.to_thread.run_sync(store.close)

    app.router.lifespan_context = lifespan
