"""``fleetsight-advisor serve``: the API and the scheduled jobs, in one process or several.

One Python process uses one core, and ingest is CPU-bound in the advisor, not in the database
(docs/benchmarks.md). ``[server] workers = N`` runs N processes on one listening socket
(uvicorn's supervisor starts them and replaces any that dies). Each is a whole advisor on the
shared database and needs nothing from the others: a batch is one transaction, and each
scheduled job takes a lease, so a tick runs in one process only. Their metrics are summed
through prometheus-client's multiprocess mode (files in ``<state_dir>/metrics``), so /metrics
answers for the whole advisor whichever process serves the scrape.

Workers read their configuration the way the first process did: the command line's overrides
are passed on as ``FLEETSIGHT_ADVISOR_*`` environment variables.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio.to_thread
import uvicorn
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from advisor.api.app import create_app
from advisor.api.metrics import multiprocess_registry, process_registry
from advisor.api.settings import ApiSettings
from advisor.config import AdvisorConfig, load_config
from advisor.jobs import build_jobs, run_while_serving
from advisor.store.engine import make_engine
from advisor.store.migrate import check_schema
from advisor.store.sql import SqlStore
from agent.config import split_host_port

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# SIGTERM: stop accepting, finish requests in flight (each batch is one transaction, so
# nothing is half-stored), then exit.
GRACEFUL_SHUTDOWN_SECONDS = 20


def build_app(config: AdvisorConfig, *, multiprocess: bool = False) -> FastAPI:
    """The advisor of one process: store, API and jobs, started and stopped with the app.

    Raises SchemaOutOfDate when the database needs ``fleetsight-advisor db upgrade``.
    """
    engine = make_engine(config.database_url)
    check_schema(engine)
    store = SqlStore(engine)
    settings = ApiSettings(
        max_body_bytes=config.ingest.max_body_bytes,
        max_decompressed_bytes=config.ingest.max_decompressed_bytes,
        max_concurrent_ingests=config.ingest.max_concurrent,
        retry_after_seconds=config.ingest.retry_after,
        queue_wait_seconds=config.ingest.queue_wait,
        ready_check=lambda: check_schema(engine),
    )
    if multiprocess:
        # Values go to the shared files, whatever registry holds them; /metrics reads the sum.
        registry, exposition = CollectorRegistry(), multiprocess_registry()
    else:
        registry = exposition = process_registry()
    app = create_app(store, settings, registry=registry, exposition=exposition)
    _close_on_shutdown(app, store)
    jobs = build_jobs(engine, config, registry)  # None when [jobs] enabled is off
    if jobs is not None:
        run_while_serving(app, jobs)
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
    }
    if workers == 1:
        uvicorn.run(build_app(config), **options)
        return
    # Fail here, once, rather than in every worker as it starts.
    check_schema(make_engine(config.database_url))
    os.environ.update(overrides)
    os.environ[MULTIPROC_ENV] = str(fresh_metrics_dir(config.advisor.state_dir / "metrics"))
    uvicorn.run(f"{__name__}:worker_app", factory=True, workers=workers, **options)


def worker_app() -> FastAPI:
    """The app of one worker process (uvicorn calls this in each)."""
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


def _close_on_shutdown(app: FastAPI, store: SqlStore) -> None:
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(served: Any) -> AsyncIterator[Any]:
        async with inner(served) as state:
            try:
                yield state
            finally:
                await anyio.to_thread.run_sync(store.close)

    app.router.lifespan_context = lifespan
