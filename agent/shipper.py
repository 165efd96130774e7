"""The shipper: sends spooled batches to the advisor and decides what each answer means.

One call to :meth:`Shipper.send_due` is one round: it takes the due batches from the spool,
oldest first, and POSTs each (gzip JSON, bearer credential, batch id header) until one fails in
a way that says the advisor cannot take more now. What each answer means:

========================  ====================================================================
answer                    what happens
========================  ====================================================================
2xx, 409                  the advisor has the batch (409: from an earlier attempt): ack it
503, other 5xx, timeout,  transient: this batch alone waits its own exponential backoff with
connection error          jitter (at least Retry-After, if given) and the round goes on, so
                          one batch the advisor keeps failing on does not hold up the rest;
                          when the next attempt, on another batch, fails too, the advisor is
                          down: the round stops and everything waits the backoff
429                       throttled: nothing is sent before Retry-After (and never before the
                          backoff); the round stops
401, 403                  the credential is refused: everything is kept, backs off; the
                          operator must re-enrol
3xx, 404, 405             wrong advisor.url or an advisor too old for this agent: everything
                          is kept, backs off; the operator must fix advisor.url
other 4xx                 the advisor will never take this batch: it is quarantined with the
                          status and the start of the answer; the round goes on
========================  ====================================================================

An outage costs at most two requests per round: the first failure defers its batch, the second
stops the round; two failures in a row count across rounds, so after the first round of an
outage each round costs one.

Rounds run every ``round_interval`` (``[advisor] send_interval``): a batch whose backoff ends
between two rounds is tried at the next one, and that is the time the log gives. When a batch
gets through after a stopped round, one INFO line says how long delivery was down and how many
batches waited.

Batch ids make retries safe: the advisor stores a batch once per id, so a batch whose answer
was lost is simply sent again. Errors never escape ``send_due``: they end up in the report,
the log and :class:`ShipStats`.
"""

from __future__ import annotations

import logging
import math
import random
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from agent import __version__
from agent.errors import FleetsightAgentError, TransportError
from agent.shared.backoff import backoff_delay, parse_retry_after
from agent.shared.wire import BATCH_ID_HEADER, INGEST_PATH, SENT_AT_HEADER
from agent.spool import Spool, SpooledBatch
from agent.tls import client_context
from agent.transport import HttpClient, Response

log = logging.getLogger(__name__)

USER_AGENT = f"fleetsight-agent/{__version__}"

ErrorKind = Literal["transient", "throttled", "auth", "config", "permanent"]
ERROR_KINDS: tuple[ErrorKind, ...] = ("transient", "throttled", "auth", "config", "permanent")

# A Retry-After beyond a day is a misbehaving server, not a plan; do not go silent for longer.
MAX_RETRY_AFTER = 86400.0
_REASON_CHARS = 500
_MAX_BODY_READ = 8192

RE_ENROL_ACTION = (
    "the advisor refused this agent's credential: re-enrol with"
    " `sudo fleetsight-agent enroll URL -` and a new token from the advisor's admin (a revoked"
    " host must be released by the admin first)"
)
NOT_ENROLLED_ACTION = (
    "not enrolled: run `sudo fleetsight-agent enroll URL -` with the token on stdin, then"
    " `systemctl restart fleetsight-agent`"
)


def fix_url_action(url: str) -> str:
    return (
        f"the advisor at {url} has no ingest endpoint (wrong advisor.url, or an advisor older"
        " than this agent): fix advisor.url"
    )


@dataclass
class ShipStats:
    """Running totals the /metrics exporter reads (plain ints, updated by the shipper thread).

    ``send_errors`` counts failed requests, keyed by :data:`ERROR_KINDS`: transient (network,
    5xx), throttled (429), auth (401/403), config (3xx/404/405: advisor.url) and permanent
    (other 4xx, the batch was quarantined). ``consecutive_failures`` counts failed requests
    since the last batch the advisor took.
    """

    batches_sent: int = 0
    bytes_sent: int = 0
    send_errors: dict[ErrorKind, int] = field(default_factory=lambda: dict.fromkeys(ERROR_KINDS, 0))
    last_success_time: float | None = None
    consecutive_failures: int = 0


@dataclass(frozen=True)
class ShipReport:
    """The outcome of one round.

    ``error_kind`` and ``error`` describe what stopped the round, else the last batch that was
    deferred alone (None if nothing failed); ``action`` is what the operator must do, when it
    is up to them; ``retry_at`` is when the shipper will try again after a stop, else when the
    first batch deferred alone is due again. ``deferred`` holds both kinds of held batches.
    """

    sent: tuple[str, ...] = ()
    deferred: tuple[str, ...] = ()
    quarantined: tuple[str, ...] = ()
    error_kind: ErrorKind | Literal["not_enrolled"] | None = None
    error: str | None = None
    action: str | None = None
    retry_at: float | None = None

    @property
    def ok(self) -> bool:
        return self.error_kind is None and not self.quarantined


def tls_verification(url: str | None, ca_file: Path | None) -> ssl.SSLContext | None:
    """How to check the advisor's certificate: None for plain HTTP (nothing to check),
    else a context trusting ``ca_file`` or, without one, the system's trust store."""
    if url is not None and not url.startswith("https://"):
        return None
    return client_context(ca_file)


def make_client(
    timeout: float, ca_file: Path | None, max_connections: int, *, url: str | None = None
) -> HttpClient:
    """The HTTP client for the advisor: few kept-alive connections, no redirects followed.

    Certificates are checked against ``ca_file`` (a private CA) or else the system's trust
    store, the one the organisation's IT manages, rather than a bundle shipped with a
    library, read certificate by certificate as handshakes need them (:mod:`agent.tls`). For
    a plain ``http://`` advisor ``url`` no trust store is loaded at all.
    Redirects are not followed: a POST body must not wander, and a redirect means
    advisor.url needs fixing. Proxies come from ``HTTPS_PROXY``/``NO_PROXY`` and friends.
    """
    return HttpClient(
        timeout=timeout,
        tls=tls_verification(url, ca_file),
        max_connections=max_connections,
        headers={"User-Agent": USER_AGENT},
        # Only the start of an answer is kept: a proxy's error page must not balloon the
        # agent's memory; a longer answer costs the connection, not the memory.
        max_body=_MAX_BODY_READ,
    )


class Shipper:
    """Delivers spooled batches to ``url`` (the advisor's base URL); see the module docstring.

    ``credential`` is called at the start of every round, so a re-enrolment is picked up
    without a restart; it returns None when the agent is not enrolled. ``round_interval`` is
    how often :meth:`send_due` is called (0: whenever a batch is due); it only makes the log
    give the time of the round that will really try again.
    """

    def __init__(
        self,
        spool: Spool,
        *,
        url: str,
        credential: Callable[[], str | None],
        host_id: str,
        client: HttpClient,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        max_backoff: float = 900.0,
        batch_limit: int = 50,
        base_backoff: float = 2.0,
        round_interval: float = 0.0,
    ) -> None:
        self._spool = spool
        self.url = url.rstrip("/")
        self._ingest_url = self.url + INGEST_PATH
        self._credential = credential
        self.host_id = host_id
        self._client = client
        self._clock = clock
        self._rng = rng if rng is not None else random.Random()
        self._max_backoff = max_backoff
        self._base_backoff = min(base_backoff, max_backoff)
        self._batch_limit = batch_limit
        self._round_interval = round_interval
        self.stats = ShipStats()
        self._said_not_enrolled = False
        # The batch whose attempt failed transiently last, if the last attempt did: the
        # next failure on another batch means the advisor is down, not a batch.
        self._last_failed: str | None = None
        # When a round first stopped for want of an advisor that takes batches; cleared, with
        # one line in the log, by the next batch delivered.
        self._down_since: float | None = None

    def send_due(self) -> ShipReport:
        """Send what is due now; never raises for network or advisor trouble."""
        try:
            credential = self._credential()
        except (OSError, FleetsightAgentError) as exc:
            log.error("cannot read the credential: %s", exc)
            return ShipReport(error_kind="not_enrolled", error=str(exc), action=NOT_ENROLLED_ACTION)
        if not credential:
            if not self._said_not_enrolled:  # once, not every send_interval
                log.warning("nothing sent: %s", NOT_ENROLLED_ACTION)
                self._said_not_enrolled = True
            return ShipReport(
                error_kind="not_enrolled", error="not enrolled", action=NOT_ENROLLED_ACTION
            )
        self._said_not_enrolled = False
        sent: list[str] = []
        quarantined: list[str] = []
        alone: list[tuple[SpooledBatch, float, str]] = []
        due = self._spool.due(self._clock(), self._batch_limit)
        for index, batch in enumerate(due):
            now = self._clock()
            retry_after: str | None = None
            try:
                answer = self._post(batch, credential, now)
            except TransportError as exc:
                error = f"cannot reach the advisor at {self.url}: {exc}"
            else:
                status = answer.status
                if 200 <= status < 300 or status == 409:
                    self._delivered(batch, now)
                    sent.append(batch.batch_id)
                    continue
                if status == 429:
                    retry_after = answer.headers.get("Retry-After")
                    error = f"the advisor is busy (HTTP {status}){_retry_note(retry_after)}"
                    return self._stop(
                        sent, quarantined, alone, due[index:], "throttled", error, now, retry_after
                    )
                if status in (401, 403):
                    error = f"HTTP {status} from {self._ingest_url}: {_snippet(answer.text)}"
                    return self._stop(sent, quarantined, alone, due[index:], "auth", error, now)
                if status in (404, 405) or 300 <= status < 400:
                    location = answer.headers.get("Location")
                    where = f" (redirects to {location})" if location else ""
                    error = f"HTTP {status} from {self._ingest_url}{where}"
                    return self._stop(sent, quarantined, alone, due[index:], "config", error, now)
                if 400 <= status < 500:
                    self._quarantine(batch, f"HTTP {status}: {_snippet(answer.text)}")
                    quarantined.append(batch.batch_id)
                    continue
                retry_after = answer.headers.get("Retry-After")
                error = (
                    f"HTTP {status} from {self._ingest_url}: {_snippet(answer.text)}"
                    f"{_retry_note(retry_after)}"
                )
            # Transient: the advisor failed on this batch. Once may be the batch; twice in a
            # row, on two batches, is the advisor.
            if self._last_failed not in (None, batch.batch_id):
                return self._stop(
                    sent, quarantined, alone, due[index:], "transient", error, now, retry_after
                )
            alone.append((batch, self._defer_alone(batch, error, now, retry_after), error))
        return self._report(sent, quarantined, alone)

    def _delivered(self, batch: SpooledBatch, now: float) -> None:
        if self._down_since is not None:
            waited = self._spool.status().pending  # this batch included: it waited too
            log.info(
                "delivery to %s resumed after %s down; %d batches had waited",
                self.url,
                _duration(now - self._down_since),
                waited,
            )
            self._down_since = None
        self._spool.ack(batch.batch_id)
        self.stats.batches_sent += 1
        self.stats.bytes_sent += len(batch.body)
        self.stats.last_success_time = now
        self.stats.consecutive_failures = 0
        self._last_failed = None

    def _quarantine(self, batch: SpooledBatch, reason: str) -> None:
        self._spool.quarantine(batch.batch_id, reason)
        self.stats.send_errors["permanent"] += 1
        # The advisor answered with judgement: it is up.
        self._last_failed = None
        log.error("the advisor rejected batch %s for good, quarantined: %s", batch.batch_id, reason)

    def _defer_alone(
        self, batch: SpooledBatch, error: str, now: float, retry_after_header: str | None
    ) -> float:
        """Hold this batch alone for its own backoff; the round goes on. When it is due again."""
        self.stats.send_errors["transient"] += 1
        self.stats.consecutive_failures += 1
        self._last_failed = batch.batch_id
        delay = self._delay(batch.attempts + 1, retry_after_header, now)
        self._spool.defer(batch.batch_id, now + delay, error)
        log.warning(
            "batch %s not delivered: %s; retrying it %s, the others go on",
            batch.batch_id,
            error,
            self._next_attempt(now, now + delay),
        )
        return now + delay

    def _delay(self, attempt: int, retry_after_header: str | None, now: float) -> float:
        delay = backoff_delay(
            attempt, base=self._base_backoff, cap=self._max_backoff, rng=self._rng
        )
        retry_after = parse_retry_after(retry_after_header, now)
        if retry_after is not None:
            delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
        return delay

    def _report(
        self,
        sent: list[str],
        quarantined: list[str],
        alone: list[tuple[SpooledBatch, float, str]],
    ) -> ShipReport:
        if not alone:
            return ShipReport(sent=tuple(sent), quarantined=tuple(quarantined))
        return ShipReport(
            sent=tuple(sent),
            deferred=tuple(batch.batch_id for batch, _, _ in alone),
            quarantined=tuple(quarantined),
            error_kind="transient",
            error=alone[-1][2],
            retry_at=min(until for _, until, _ in alone),
        )

    def _post(self, batch: SpooledBatch, credential: str, now: float) -> Response:
        headers = {
            "Authorization": f"Bearer {credential}",
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
            BATCH_ID_HEADER: batch.batch_id,
            SENT_AT_HEADER: f"{now:.3f}",
        }
        return self._client.post(self._ingest_url, content=batch.body, headers=headers)

    def _stop(
        self,
        sent: list[str],
        quarantined: list[str],
        alone: list[tuple[SpooledBatch, float, str]],
        held: list[SpooledBatch],
        kind: ErrorKind,
        error: str,
        now: float,
        retry_after_header: str | None = None,
    ) -> ShipReport:
        """End the round: hold every batch until the backoff (or Retry-After) has passed.

        ``held[0]`` is the batch whose attempt failed, the rest were due but not tried;
        ``alone`` are the batches deferred alone earlier in the round.
        """
        batch = held[0]
        self.stats.send_errors[kind] += 1
        self.stats.consecutive_failures += 1
        self._last_failed = batch.batch_id if kind == "transient" else None
        attempt = max(self.stats.consecutive_failures, batch.attempts + 1)
        delay = self._delay(attempt, retry_after_header, now)
        retry_at = now + delay
        action: str | None = None
        if kind == "auth":
            action = RE_ENROL_ACTION
        elif kind == "config":
            action = fix_url_action(self.url)
        if kind == "transient":
            self._spool.defer(batch.batch_id, retry_at, error)
        self._spool.defer_all(retry_at, error)
        if self._down_since is None:
            self._down_since = now
        message = f"{error}; {action}" if action else error
        retrying = self._next_attempt(now, retry_at)
        if kind in ("auth", "config"):
            log.error("sending batches stopped: %s; retrying %s", message, retrying)
        elif kind == "transient":
            log.warning(
                "sending batches stopped, the advisor failed on two batches in a row: %s;"
                " retrying %s",
                message,
                retrying,
            )
        else:
            log.warning("sending batches stopped: %s; retrying %s", message, retrying)
        return ShipReport(
            sent=tuple(sent),
            deferred=tuple(b.batch_id for b, _, _ in alone) + tuple(b.batch_id for b in held),
            quarantined=tuple(quarantined),
            error_kind=kind,
            error=error,
            action=action,
            retry_at=retry_at,
        )

    def _next_attempt(self, now: float, due_at: float) -> str:
        """When a batch due at ``due_at`` is really tried, the first round from then on, as
        ``"at 10:42:15 (in 15 s)"``: rounds come every ``round_interval`` from this one."""
        wait = max(0.0, due_at - now)
        if self._round_interval > 0:
            wait = max(1, math.ceil(wait / self._round_interval - 1e-9)) * self._round_interval
        when = time.strftime("%H:%M:%S", time.localtime(now + wait))
        return f"at {when} (in {_duration(wait)})"


def _duration(seconds: float) -> str:
    """``"42 s"``, ``"3 min 20 s"``, ``"2 h 5 min"``: for an operator reading the log."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def _snippet(text: str) -> str:
    text = text.strip()
    return text[:_REASON_CHARS] if text else "(empty answer)"


def _retry_note(value: str | None) -> str:
    if value is None:
        return ""
    return f", Retry-After: {value[:64]}"
