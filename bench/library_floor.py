"""The floor under the agent's memory: its libraries doing the least the agent's job needs.

bench/footprint.py runs this beside the agent, from a virtualenv holding only these libraries,
to show how much of the agent's RSS its libraries take before any of its own code runs:
psutil reads the CPU every 5 s, prometheus_client serves the reading on /metrics, httpx posts
a gzip JSON document to the loopback receiver every 60 s over a kept-alive TLS connection, and
sqlite3 keeps a database open. The timer is either APScheduler 3's background scheduler (as the
agent had it) or a plain thread (as the agent's standard-library scheduler does it), so the
two floors side by side show what APScheduler alone costs.

    python bench/library_floor.py --scheduler apscheduler --listen 19810 --url URL --state DIR
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import signal
import sqlite3
import ssl
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
from prometheus_client import CollectorRegistry, Gauge, start_http_server


def tls_context() -> ssl.SSLContext:
    """The system store read on demand, as the agent does (agent/tls.py)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    capath = os.environ.get("SSL_CERT_DIR") or ssl.get_default_verify_paths().capath
    context.load_verify_locations(capath=capath)
    return context


def httpx_poster(url: str) -> Callable[[bytes], None]:
    import httpx

    verify: Any = tls_context() if url.startswith("https://") else False
    client = httpx.Client(verify=verify, timeout=10)

    def post(body: bytes) -> None:
        try:
            client.post(url, content=body, headers={"Content-Encoding": "gzip"})
        except httpx.HTTPError as exc:
            raise OSError(str(exc)) from exc

    return post


def stdlib_poster(url: str) -> Callable[[bytes], None]:
    """A kept-alive connection from ``http.client``, opened again when it was dropped."""
    import http.client
    from urllib.parse import urlsplit

    target = urlsplit(url)
    host, port = target.hostname or "127.0.0.1", target.port

    def connect() -> http.client.HTTPConnection:
        if target.scheme == "https":
            return http.client.HTTPSConnection(host, port, timeout=10, context=tls_context())
        return http.client.HTTPConnection(host, port, timeout=10)

    connection = [connect()]

    def post(body: bytes) -> None:
        try:
            connection[0].request(
                "POST", target.path, body=body, headers={"Content-Encoding": "gzip"}
            )
            connection[0].getresponse().read()
        except (OSError, http.client.HTTPException):
            connection[0].close()
            connection[0] = connect()

    return post


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scheduler", choices=("apscheduler", "thread"), required=True)
    parser.add_argument("--listen", type=int, required=True, help="/metrics port on 127.0.0.1")
    parser.add_argument("--url", required=True, help="where to POST (the loopback receiver)")
    parser.add_argument("--state", type=Path, required=True, help="directory for the database")
    parser.add_argument(
        "--http",
        choices=("httpx", "http.client"),
        default="httpx",
        help="the HTTP client: httpx, as the agent has it, or the standard library's",
    )
    args = parser.parse_args()

    registry = CollectorRegistry()
    cpu = Gauge("floor_cpu_utilization_ratio", "CPU in use.", registry=registry)
    start_http_server(args.listen, addr="127.0.0.1", registry=registry)
    database = sqlite3.connect(args.state / "floor.sqlite3", check_same_thread=False)
    database.execute("CREATE TABLE IF NOT EXISTS readings (at REAL, cpu REAL)")
    post = httpx_poster(args.url) if args.http == "httpx" else stdlib_poster(args.url)
    lock = threading.Lock()
    latest = {"cpu": 0.0}

    def sample() -> None:
        latest["cpu"] = value = psutil.cpu_percent() / 100
        cpu.set(value)
        with lock:
            database.execute("INSERT INTO readings VALUES (strftime('%s', 'now'), ?)", (value,))
            database.commit()

    def send() -> None:
        # The floor measures memory; the receiver's answer does not matter.
        with contextlib.suppress(OSError, ValueError):
            post(gzip.compress(json.dumps(latest).encode()))

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if args.scheduler == "apscheduler":
        from apscheduler.schedulers.background import BackgroundScheduler

        scheduler = BackgroundScheduler(timezone="UTC")
        scheduler.add_job(sample, "interval", seconds=5)
        scheduler.add_job(send, "interval", seconds=60)
        scheduler.start()
        stop.wait()
        scheduler.shutdown()
    else:
        ticks = 0
        while not stop.wait(5):
            sample()
            ticks += 1
            if ticks % 12 == 0:  # every 60 s, as the APScheduler variant
                send()
    database.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
