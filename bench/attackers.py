"""Hostile traffic for bench/attack.py: what attackers and a compromised agent send an advisor.

bench/attack.py runs this as its own process, so that its threads do not share a GIL (and a
core's worth of scheduling) with the legit agents whose latency it measures:

    python -m bench.attackers --port PORT --seconds 20 [--attacks bomb,slow,flood,compromised]

It builds its payloads, prints ``ready``, waits for ``go`` on stdin (at most a minute), runs
every attack for --seconds and prints one JSON line: per attack, what was sent and how the
advisor answered. Every loop stops by itself at the deadline and every socket is closed then;
only 127.0.0.1 is a target.

bomb         --bomb-connections connections, each POSTing again and again gzip that expands to
             --bomb-mib MiB of ``[{},{},...]`` (16 KiB of gzip for 16 MiB), with
             ``Authorization: Bearer x`` (no valid credential) and Content-Encoding: gzip.
slow         --slow-sockets connections that send the headers of a gzip POST announcing a
             100,000-byte body (``Bearer x`` and no Authorization, alternately) and one byte of
             it, then one more byte every --trickle seconds (0: none), holding the connection;
             one the advisor closes is opened again 0.5 s later.
flood        --flood-rate requests/s of a real batch with a random well-formed credential
             (``Bearer fsc_<random>``) over --flood-connections keep-alive connections.
compromised  like slow, with the valid credential of one enrolled host (environment variable
             FLEETSIGHT_BENCH_COMPROMISED_CREDENTIAL): what per-host quotas must contain.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import os
import secrets
import select
import selectors
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
PATH = "/api/v1/ingest"
ATTACKS = ("bomb", "slow", "flood", "compromised")
CREDENTIAL_ENV = "FLEETSIGHT_BENCH_COMPROMISED_CREDENTIAL"
SLOW_CONTENT_LENGTH = 100_000
CONNECT_TIMEOUT = 2.0
POLL = 0.1  # how often a waiting loop looks at the deadline
REOPEN_AFTER = 0.5  # a slow socket the advisor closed is replaced this much later
REQUEST_TIMEOUT = 10.0  # the agent's own default
GO_TIMEOUT = 60.0
# Bounds on top of the deadline, so that no loop can run away whatever the advisor does.
MAX_REQUESTS_PER_THREAD = 1_000_000
MAX_OPENS_PER_SLOT = 10_000


@dataclass
class Tally:
    """What one attack sent and how each attempt ended (``outcomes``), with the seconds the
    advisor took to answer those it answered."""

    label: str
    sent: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    answer_seconds: list[float] = field(default_factory=list)

    def merge(self, other: Tally) -> None:
        self.sent += other.sent
        self.outcomes.update(other.outcomes)
        self.answer_seconds += other.answer_seconds

    def as_json(self) -> dict[str, Any]:
        answered = sorted(self.answer_seconds)
        return {
            "label": self.label,
            "sent": self.sent,
            "outcomes": dict(self.outcomes.most_common()),
            "answer_p50_s": answered[len(answered) // 2] if answered else None,
            "answer_max_s": answered[-1] if answered else None,
        }


def raw_request(port: int, headers: dict[str, str], body: bytes) -> bytes:
    """A POST to the ingest path as bytes on the wire (Content-Length given by the caller)."""
    lines = [f"POST {PATH} HTTP/1.1", f"Host: {HOST}:{port}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def bomb_document(mib: int) -> bytes:
    """Exactly ``mib`` MiB of ``[{},{},...]``: valid JSON, millions of objects to build."""
    size = mib * 1024 * 1024
    count = (size - 4) // 3  # "[" + "{}," * count + "{}" + "]"
    return b"[" + b"{}," * count + b"{}" + b" " * ((size - 4) % 3) + b"]"


def status_of(received: bytes) -> str | None:
    """The status code of an HTTP answer once its first line is in, else None."""
    line, found, _ = received.partition(b"\r\n")
    if not found:
        return None
    parts = line.split()
    return parts[1].decode("ascii", "replace") if len(parts) > 1 else "garbled"


def exchange(sock: socket.socket, request: bytes, deadline: float) -> str:
    """Send ``request`` and wait for the status line until ``deadline``; how it ended."""
    try:
        sock.settimeout(max(POLL, deadline - time.monotonic()))
        sock.sendall(request)
    except TimeoutError:
        return "send stalled, given up at end"
    except OSError as exc:
        return f"send failed ({type(exc).__name__})"
    received = b""
    sock.settimeout(POLL)
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(4096)
        except TimeoutError:
            continue
        except OSError as exc:
            return f"{type(exc).__name__}"
        if not chunk:
            return status_of(received) or "closed without answer"
        received += chunk
        status = status_of(received)
        if status is not None:
            return status
    return "unanswered at end"


def bomb_worker(port: int, request: bytes, deadline: float, tally: Tally) -> None:
    """POST the bomb on a new connection, again and again, until ``deadline``."""
    while time.monotonic() < deadline and tally.sent < MAX_REQUESTS_PER_THREAD:
        started = time.monotonic()
        try:
            sock = socket.create_connection((HOST, port), timeout=CONNECT_TIMEOUT)
        except OSError as exc:
            tally.outcomes[f"connect failed ({type(exc).__name__})"] += 1
            time.sleep(REOPEN_AFTER)
            continue
        with sock:
            tally.sent += 1
            outcome = exchange(sock, request, deadline)
        tally.outcomes[outcome] += 1
        if outcome.isdigit():
            tally.answer_seconds.append(time.monotonic() - started)


@dataclass
class _Held:
    sock: socket.socket
    opened_at: float
    last_sent: float
    body_sent: int = 1
    received: bytes = b""
    status: str | None = None


class SlowBodies:
    """``count`` connections that announce a body and send it a byte at a time, replaced when
    the advisor closes them. ``headers(slot)`` gives the headers of each connection's request.

    Outcomes are "<status or 'no answer'>, <how it ended>" where it ended "closed by the
    advisor" (after ``hold_seconds``) or "still open at end".
    """

    def __init__(
        self,
        port: int,
        count: int,
        headers: Callable[[int], dict[str, str]],
        trickle: float,
        tally: Tally,
    ) -> None:
        self._port = port
        self._count = count
        self._headers = headers
        self._trickle = trickle
        self.tally = tally
        self.hold_seconds: list[float] = []
        self._selector = selectors.DefaultSelector()
        self._held: dict[int, _Held] = {}
        self._due: dict[int, float] = {}

    def run(self, deadline: float) -> None:
        self._due = dict.fromkeys(range(self._count), time.monotonic())
        try:
            while time.monotonic() < deadline:
                self._open_due(deadline)
                for key, _ in self._selector.select(timeout=POLL):
                    self._read(key.data)
                self._send_trickle()
        finally:
            for slot in list(self._held):
                self._end(slot, "still open at end")
            self._selector.close()

    def as_json(self) -> dict[str, Any]:
        holds = sorted(self.hold_seconds)
        return self.tally.as_json() | {
            "sockets": self._count,
            "closed_hold_p50_s": holds[len(holds) // 2] if holds else None,
            "closed_hold_max_s": holds[-1] if holds else None,
        }

    def _open_due(self, deadline: float) -> None:
        for slot, due in list(self._due.items()):
            now = time.monotonic()
            if due > now or now >= deadline or self.tally.sent >= MAX_OPENS_PER_SLOT * self._count:
                continue
            del self._due[slot]
            headers = self._headers(slot)
            try:
                sock = socket.create_connection((HOST, self._port), timeout=CONNECT_TIMEOUT)
                sock.sendall(raw_request(self._port, headers, b"\x1f"))
            except OSError as exc:
                self.tally.outcomes[f"connect failed ({type(exc).__name__})"] += 1
                self._due[slot] = time.monotonic() + REOPEN_AFTER
                continue
            sock.setblocking(False)
            self.tally.sent += 1
            now = time.monotonic()
            self._held[slot] = _Held(sock, opened_at=now, last_sent=now)
            self._selector.register(sock, selectors.EVENT_READ, slot)

    def _read(self, slot: int) -> None:
        held = self._held[slot]
        try:
            chunk = held.sock.recv(4096)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if chunk:
            # An answer before the body is complete; whether the advisor then closes the
            # connection is the other half of the outcome.
            if held.status is None:
                held.received = (held.received + chunk)[:4096]
                held.status = status_of(held.received)
            return
        self._end(slot, "closed by the advisor")
        self._due[slot] = time.monotonic() + REOPEN_AFTER

    def _send_trickle(self) -> None:
        if self._trickle <= 0:
            return
        now = time.monotonic()
        for held in self._held.values():
            if now - held.last_sent >= self._trickle and held.body_sent < SLOW_CONTENT_LENGTH:
                try:
                    held.sock.send(b"\x1f")
                except OSError:
                    continue  # full or closing: the read side reports it
                held.last_sent = now
                held.body_sent += 1

    def _end(self, slot: int, how: str) -> None:
        held = self._held.pop(slot)
        self._selector.unregister(held.sock)
        held.sock.close()
        status = held.status or status_of(held.received) or "no answer"
        self.tally.outcomes[f"{status}, {how}"] += 1
        if how != "still open at end":
            self.hold_seconds.append(time.monotonic() - held.opened_at)


def slow_headers(credential: str | None) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "Content-Encoding": "gzip",
        "Content-Length": str(SLOW_CONTENT_LENGTH),
    }
    if credential is not None:
        headers["Authorization"] = f"Bearer {credential}"
    return headers


def flood_worker(port: int, body: bytes, rate: float, deadline: float, tally: Tally) -> None:
    """POST ``body`` at ``rate``/s with a new random credential each time, on one keep-alive
    connection (opened again when the advisor closes it)."""
    interval = 1.0 / rate
    next_at = time.monotonic()
    conn: http.client.HTTPConnection | None = None
    while tally.sent < MAX_REQUESTS_PER_THREAD:
        now = time.monotonic()
        if next_at >= deadline or now >= deadline:
            break
        if next_at > now:
            time.sleep(next_at - now)
        next_at = max(next_at + interval, time.monotonic() - 1.0)  # no burst to catch up
        if conn is None:
            timeout = min(REQUEST_TIMEOUT, max(POLL, deadline - time.monotonic() + 1.0))
            conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
        headers = {
            "Authorization": f"Bearer fsc_{secrets.token_urlsafe(32)}",
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
        }
        started = time.monotonic()
        tally.sent += 1
        try:
            conn.request("POST", PATH, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException) as exc:
            tally.outcomes["timeout" if isinstance(exc, TimeoutError) else type(exc).__name__] += 1
            conn.close()
            conn = None
            continue
        tally.outcomes[str(response.status)] += 1
        tally.answer_seconds.append(time.monotonic() - started)
        if response.will_close:
            conn.close()
            conn = None
    if conn is not None:
        conn.close()


@dataclass(frozen=True)
class Payloads:
    """What the attacks send, built before the clock starts (the bomb takes a moment)."""

    bomb_request: bytes
    bomb_label: str
    flood_body: bytes


def build_payloads(args: argparse.Namespace) -> Payloads:
    bomb_request, bomb_label = b"", ""
    if args.bomb_connections:
        document = bomb_document(args.bomb_mib)
        bomb = gzip.compress(document, compresslevel=9, mtime=0)
        del document
        headers = {
            "Authorization": "Bearer x",
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
            "Content-Length": str(len(bomb)),
            "Connection": "close",
        }
        bomb_request = raw_request(args.port, headers, bomb)
        bomb_label = (
            f"{args.bomb_mib} MiB of [{{}},...] in {len(bomb) / 1024:.1f} KiB gzip, Bearer x"
        )
    flood_body = args.flood_body.read_bytes() if args.flood_body else b""
    return Payloads(bomb_request, bomb_label, flood_body)


def run(args: argparse.Namespace, payloads: Payloads, deadline: float) -> dict[str, Any]:
    """Every attack asked for, each in its own threads, until ``deadline``."""
    attacks = set(args.attacks.split(","))
    threads: list[threading.Thread] = []
    results: dict[str, Callable[[], dict[str, Any]]] = {}
    if "bomb" in attacks and args.bomb_connections:
        bombs = [Tally(payloads.bomb_label) for _ in range(args.bomb_connections)]
        threads += [
            threading.Thread(
                target=bomb_worker, args=(args.port, payloads.bomb_request, deadline, tally)
            )
            for tally in bombs
        ]
        results["bomb"] = lambda: _merged(bombs) | {"connections": args.bomb_connections}
    if "slow" in attacks and args.slow_sockets:
        # Half without a credential, half with a malformed one: neither is a host.
        anonymous = SlowBodies(
            args.port,
            args.slow_sockets,
            lambda slot: slow_headers("x" if slot % 2 == 0 else None),
            args.trickle,
            Tally(f"headers + 1 byte of {SLOW_CONTENT_LENGTH} B, Bearer x / no auth"),
        )
        threads.append(threading.Thread(target=anonymous.run, args=(deadline,)))
        results["slow"] = anonymous.as_json
    if "compromised" in attacks and args.compromised_sockets:
        compromised = SlowBodies(
            args.port,
            args.compromised_sockets,
            lambda _slot: slow_headers(args.credential),
            args.trickle,
            Tally(f"headers + 1 byte of {SLOW_CONTENT_LENGTH} B, one host's valid credential"),
        )
        threads.append(threading.Thread(target=compromised.run, args=(deadline,)))
        results["compromised"] = compromised.as_json
    if "flood" in attacks and args.flood_rate > 0:
        rate = args.flood_rate / args.flood_connections
        floods = [Tally("Bearer fsc_<random>") for _ in range(args.flood_connections)]
        threads += [
            threading.Thread(
                target=flood_worker, args=(args.port, payloads.flood_body, rate, deadline, tally)
            )
            for tally in floods
        ]
        results["flood"] = lambda: _merged(floods) | {"rate": args.flood_rate}
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()) + REQUEST_TIMEOUT + 5)
    return {name: result() for name, result in results.items()}


def _merged(tallies: list[Tally]) -> dict[str, Any]:
    total = Tally(tallies[0].label)
    for tally in tallies:
        total.merge(tally)
    return total.as_json()


def wait_for_go(timeout: float) -> bool:
    ready, _, _ = select.select([sys.stdin], [], [], timeout)
    return bool(ready) and sys.stdin.readline().strip() == "go"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--attacks", default=",".join(ATTACKS))
    parser.add_argument("--bomb-connections", type=int, default=4)
    parser.add_argument("--bomb-mib", type=int, default=16)
    parser.add_argument("--slow-sockets", type=int, default=40)
    parser.add_argument("--compromised-sockets", type=int, default=40)
    parser.add_argument("--trickle", type=float, default=5.0)
    parser.add_argument("--flood-rate", type=float, default=200.0)
    parser.add_argument("--flood-connections", type=int, default=4)
    parser.add_argument("--flood-body", type=Path, help="a gzip batch to send (flood)")
    args = parser.parse_args(argv)
    unknown = set(args.attacks.split(",")) - set(ATTACKS)
    if unknown:
        parser.error(f"unknown attacks {sorted(unknown)}: choose among {', '.join(ATTACKS)}")
    args.credential = os.environ.get(CREDENTIAL_ENV, "")
    if "compromised" in args.attacks and args.compromised_sockets and not args.credential:
        parser.error(f"the compromised attack needs ${CREDENTIAL_ENV}")
    if "flood" in args.attacks and args.flood_rate > 0 and args.flood_body is None:
        parser.error("the flood attack needs --flood-body")
    return args


def main() -> int:
    args = parse_args()
    payloads = build_payloads(args)
    print("ready", flush=True)
    if not wait_for_go(GO_TIMEOUT):
        print("no go within a minute: nothing sent", file=sys.stderr)
        return 1
    print(json.dumps(run(args, payloads, time.monotonic() + args.seconds)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
