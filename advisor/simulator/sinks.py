"""Where simulated batches go: through a Store (the code the API calls) or over HTTP.

Both enrol every host first (one enrolment token per department; a reinstalled machine's new
id too, which stays silent until its reinstall) and keep each host's batches in order, which
the advisor's version history relies on. Only here is there I/O; the clock for the HTTP
``X-Fleetsight-Sent-At`` header and the sleep between retries are injected.
"""

from __future__ import annotations

import queue
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from advisor import __version__
from advisor.simulator.calendar import DAY
from advisor.simulator.errors import SimulationError
from advisor.simulator.fleet import Fleet
from advisor.simulator.generate import Delivery
from advisor.store import Store
from agent.shared.wire import BATCH_ID_HEADER, ENROL_PATH, INGEST_PATH, SENT_AT_HEADER, encode_gzip

USER_AGENT = f"fleetsight-simulator/{__version__}"
MAX_ATTEMPTS = 8
QUEUE_DEPTH = 64


@dataclass(slots=True)
class SinkStats:
    """What reached the advisor: batches sent, newly stored, already there; rows within."""

    batches: int = 0
    stored: int = 0
    duplicates: int = 0
    launches: int = 0
    summaries: int = 0
    errors: list[str] = field(default_factory=list)

    def count(self, delivery: Delivery, stored: bool) -> None:
        """Account for one delivered batch."""
        self.batches += 1
        if stored:
            self.stored += 1
        else:
            self.duplicates += 1
        batch = delivery.batch
        self.launches += len(batch.launches)
        self.summaries += sum(len(i.metrics) for i in batch.intervals)


def enrol_in_store(store: Store, fleet: Fleet) -> None:
    """Enrol every host id of ``fleet`` with a token of its department, at the run's start."""
    now = fleet.start
    tokens = {}
    for department in sorted({h.department for h in fleet.hosts}):
        tokens[department], _ = store.create_token(
            department=department, expires_at=now + DAY, now=now, note="fleet simulator"
        )
    for host_id, host in fleet.identities():
        store.enrol(
            token=tokens[host.department],
            host_id=host_id,
            hostname=host.hostname,
            agent_version=fleet.scenario.agent_version,
            now=now,
        )


def write_to_store(store: Store, deliveries: Iterable[Delivery]) -> SinkStats:
    """Ingest each batch through ``store`` as the API would, stamped with simulated times."""
    stats = SinkStats()
    for delivery in deliveries:
        result = store.ingest(
            delivery.host_id,
            delivery.batch,
            received_at=delivery.delivered_at,
            sent_at=delivery.sent_at,
        )
        stats.count(delivery, result.stored)
    return stats


def make_client(url: str, *, ca_file: Path | None = None, concurrency: int = 8) -> httpx.Client:
    """The client for an advisor at ``url``: its certificate checked against ``ca_file`` (a
    private CA, a self-signed certificate) or else the system's trust store.

    Raises SimulationError naming the file when ``ca_file`` holds no usable certificate.
    """
    verify: ssl.SSLContext | bool = True
    if ca_file is not None:
        try:
            verify = ssl.create_default_context(cafile=str(ca_file))
        except (OSError, ssl.SSLError) as exc:
            reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or exc
            raise SimulationError(
                f"--ca-file {ca_file}: no usable certificate ({reason})"
            ) from None
    limits = httpx.Limits(max_connections=concurrency)
    return httpx.Client(base_url=url, timeout=60.0, limits=limits, verify=verify)


def describe_transport_error(url: str, exc: httpx.TransportError) -> str:
    """One sentence for a failure to talk to the advisor at all, TLS failures made plain."""
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, ssl.SSLError):
        cause = cause.__cause__ or cause.__context__
    if isinstance(cause, ssl.SSLCertVerificationError):
        return (
            f"the certificate of {url} is not trusted ({cause.verify_message}); pass the CA"
            " (or the self-signed certificate) that issued it with --ca-file"
        )
    if isinstance(cause, ssl.SSLError):
        return f"no TLS connection to {url}: {cause.reason or cause} (is it an https:// URL?)"
    return f"cannot reach the advisor at {url}: {exc or type(exc).__name__}"


class HttpSink:
    """POSTs batches to a running advisor like the agent's shipper: gzip, bearer credential,
    batch id and sent-at headers, honouring 429/503 Retry-After.

    ``tokens`` maps departments to enrolment tokens; ``default_token`` enrols the rest (the
    advisor then files those hosts under that token's department). ``concurrency`` workers
    send at once; each host always goes through the same worker, so its batches stay in order.
    """

    def __init__(
        self,
        client: httpx.Client,
        *,
        tokens: Mapping[str, str],
        default_token: str | None = None,
        concurrency: int = 8,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._client = client
        self._tokens = dict(tokens)
        self._default_token = default_token
        self._concurrency = concurrency
        self._clock = clock
        self._sleep = sleep
        self._credentials: dict[str, str] = {}
        self._lock = threading.Lock()

    def enrol(self, fleet: Fleet) -> None:
        """Enrol every host id of ``fleet`` through the advisor's enrolment endpoint."""
        for host_id, host in fleet.identities():
            token = self._tokens.get(host.department, self._default_token)
            if token is None:
                raise SimulationError(
                    f"no enrolment token for department {host.department}: pass "
                    f"--token {host.department}=TOKEN or a plain --token TOKEN"
                )
            try:
                response = self._client.post(
                    ENROL_PATH,
                    json={
                        "token": token,
                        "host_id": host_id,
                        "hostname": host.hostname,
                        "agent_version": fleet.scenario.agent_version,
                    },
                    headers={"User-Agent": USER_AGENT},
                )
            except httpx.TransportError as exc:
                # The first request of a run: a wrong URL or an untrusted certificate ends it.
                raise SimulationError(
                    describe_transport_error(str(self._client.base_url), exc)
                ) from None
            if response.status_code != 201:
                raise SimulationError(
                    f"enrolling {host.hostname} failed: HTTP {response.status_code} "
                    f"{_detail(response)}"
                )
            self._credentials[host_id] = response.json()["credential"]

    def send(self, deliveries: Iterable[Delivery]) -> SinkStats:
        """POST every batch; stops early and raises SimulationError on a refused batch."""
        stats = SinkStats()
        queues: list[queue.Queue[Delivery | None]] = [
            queue.Queue(maxsize=QUEUE_DEPTH) for _ in range(self._concurrency)
        ]
        workers = [
            threading.Thread(target=self._work, args=(q, stats), daemon=True) for q in queues
        ]
        for worker in workers:
            worker.start()
        try:
            for delivery in deliveries:
                if stats.errors:
                    break
                queues[int(delivery.host_id[:8], 16) % self._concurrency].put(delivery)
        finally:
            for q in queues:
                q.put(None)
            for worker in workers:
                worker.join()
        if stats.errors:
            raise SimulationError(stats.errors[0])
        return stats

    def _work(self, inbox: queue.Queue[Delivery | None], stats: SinkStats) -> None:
        while (delivery := inbox.get()) is not None:
            if stats.errors:
                continue  # drain: the run is stopping
            try:
                stored = self._post(delivery)
            except SimulationError as exc:
                with self._lock:
                    stats.errors.append(str(exc))
                continue
            with self._lock:
                stats.count(delivery, stored)

    def _post(self, delivery: Delivery) -> bool:
        batch = delivery.batch
        body = encode_gzip(batch)
        skew = delivery.sent_at - delivery.delivered_at
        delay = 0.5
        last = ""
        for _ in range(MAX_ATTEMPTS):
            headers = {
                "Authorization": f"Bearer {self._credentials[delivery.host_id]}",
                "Content-Type": "application/json",
                "Content-Encoding": "gzip",
                BATCH_ID_HEADER: batch.batch_id,
                # The advisor's clock is real, not simulated: the host's skew on top of it
                # keeps the advisor's skew estimate right.
                SENT_AT_HEADER: f"{self._clock() + skew:.3f}",
                "User-Agent": USER_AGENT,
            }
            try:
                response = self._client.post(INGEST_PATH, content=body, headers=headers)
            except httpx.TransportError as exc:
                self._sleep(delay)
                delay = min(delay * 2, 30.0)
                last = describe_transport_error(str(self._client.base_url), exc)
                continue
            status = response.status_code
            if status in (200, 201):
                return bool(response.json().get("stored", True))
            if status == 409:
                return False
            if status in (429, 503):
                self._sleep(_retry_after(response.headers.get("Retry-After"), delay))
                last = f"HTTP {status}"
                continue
            if status >= 500:
                self._sleep(delay)
                delay = min(delay * 2, 30.0)
                last = f"HTTP {status} {_detail(response)}"
                continue
            raise SimulationError(
                f"batch {batch.batch_id} of {batch.host.hostname} refused: HTTP {status} "
                f"{_detail(response)}"
            )
        raise SimulationError(
            f"batch {batch.batch_id} of {batch.host.hostname} not accepted after "
            f"{MAX_ATTEMPTS} attempts: {last}"
        )


def _retry_after(value: str | None, fallback: float) -> float:
    try:
        return max(float(value), fallback) if value is not None else fallback
    except ValueError:
        return fallback


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail", ""))[:200]
    except ValueError:
        return response.text[:200]
