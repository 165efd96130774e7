"""Turning a fleet plan into agent batches, lazily, in the order the advisor receives them.

Each host sends one batch per interval in which its machine runs: the interval's resource
summaries, the launches that started in it, launch counts and, on the first batch of a day or
after an upgrade, its inventory. A host whose agent is offline spools its batches and sends
them in a burst when it is back; during a delivery outage everybody's batches wait. Some
intervals go missing (the sequence number skips them, as after a spool loss). Timestamps in
a batch are on the host's clock (true time + skew); ``delivered_at`` is true time. A
reinstalled machine's new agent starts afresh: a new host id, sequence 1, an inventory at once.

Memory stays bounded by the number of hosts: per host only the current day is held.
"""

from __future__ import annotations

import hashlib
import heapq
import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from advisor.simulator.calendar import DAY, HOUR, iso_day
from advisor.simulator.fleet import Fleet, SimHost
from advisor.simulator.inventory import InventoryBuilder
from advisor.simulator.launches import Launch, launches_between
from advisor.simulator.resources import (
    app_summaries,
    interval_means,
    labels_for,
    series_for,
    summaries,
)
from agent.shared.wire import (
    Batch,
    HostIdentity,
    Interval,
    Inventory,
    LaunchCount,
    LaunchEvent,
)

SHIP_DELAY_SECONDS = 20.0  # at most this long after an interval closes, the batch arrives
BURST_SPACING_SECONDS = 0.05  # spooled batches go one after the other
USAGE_SIGMA = 0.4  # log-normal spread of how much each person uses their apps


@dataclass(frozen=True, slots=True)
class Delivery:
    """One batch reaching the advisor: from ``host_id`` at true time ``delivered_at``.

    ``sent_at`` is the host's clock at that moment (the ``X-Fleetsight-Sent-At`` header).
    """

    host_id: str
    department: str
    batch: Batch
    delivered_at: float
    sent_at: float


@dataclass(slots=True)
class _HostState:
    host: SimHost
    rng: np.random.Generator
    identity: HostIdentity
    inventory: InventoryBuilder
    series: list[int]
    labels: list[dict[str, str]]
    usage: float
    sequence: int = 0
    chunk: int = -1
    chunk_first_slot: int = 0
    means: np.ndarray = field(default_factory=lambda: np.empty((0, 0)))
    missing: list[float] = field(default_factory=list)
    jitter: list[float] = field(default_factory=list)
    launches: list[Launch] = field(default_factory=list)
    next_launch: int = 0
    inventory_day: int = -1
    spooled: list[Batch] = field(default_factory=list)
    incarnation: int = 0


def batch_id_for(seed: int, host_index: int, sequence: int, incarnation: int = 0) -> str:
    """A stable 32-hex batch id: resending the same run stores nothing twice (a reinstalled
    machine's new agent, ``incarnation`` 1, counts its sequence from 1 again)."""
    text = f"fleetsight-sim:{seed}:{host_index}:{sequence}"
    if incarnation:
        text += f":{incarnation}"
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def simulate(fleet: Fleet) -> Iterator[Delivery]:
    """Every batch of the run, in order of ``delivered_at`` (ties by host index)."""
    states = [_state(fleet, host) for host in fleet.hosts]
    pending: list[tuple[float, int, int, Delivery]] = []
    interval = fleet.interval
    slots_per_chunk = max(1, round(DAY / interval)) if interval < DAY else 1
    for slot in range(fleet.slots):
        start = fleet.start + slot * interval
        end = min(start + interval, fleet.end)
        chunk = slot // slots_per_chunk
        for state in states:
            if state.chunk != chunk:
                _new_chunk(fleet, state, chunk, slot, min(slots_per_chunk, fleet.slots - slot))
            for delivery in _slot(fleet, state, slot, start, end):
                heapq.heappush(
                    pending,
                    (delivery.delivered_at, state.host.index, delivery.batch.sequence, delivery),
                )
        # Everything later is delivered at or after the next interval's end.
        while pending and pending[0][0] < end + interval:
            yield heapq.heappop(pending)[3]
    for state in states:
        # Agents still offline at the end send their spool after it.
        for delivery in _release(fleet, state, fleet.end + HOUR):
            heapq.heappush(
                pending,
                (delivery.delivered_at, state.host.index, delivery.batch.sequence, delivery),
            )
    while pending:
        yield heapq.heappop(pending)[3]


def host_rng(fleet: Fleet, host: SimHost) -> np.random.Generator:
    """The host's own random stream; its first draw is the host's usage factor."""
    return np.random.default_rng([fleet.seed, 1, host.index])


def host_usage(fleet: Fleet, host: SimHost) -> float:
    """How much the host's user launches apps (a factor on the apps' launches per day)."""
    return float(host_rng(fleet, host).lognormal(0.0, USAGE_SIGMA))


def _state(fleet: Fleet, host: SimHost) -> _HostState:
    rng = host_rng(fleet, host)
    return _HostState(
        host=host,
        rng=rng,
        identity=HostIdentity(host.host_id, host.hostname, fleet.scenario.agent_version),
        inventory=InventoryBuilder(fleet, host),
        series=series_for(host),
        labels=labels_for(host),
        usage=float(rng.lognormal(0.0, USAGE_SIGMA)),
    )


def _new_chunk(fleet: Fleet, state: _HostState, chunk: int, first_slot: int, slots: int) -> None:
    """Draw a day (or an interval of a day or more) of the host's life."""
    starts = fleet.start + (first_slot + np.arange(slots)) * fleet.interval
    state.chunk = chunk
    state.chunk_first_slot = first_slot
    state.means = interval_means(fleet, state.host, starts, state.rng)
    state.missing = state.rng.random(slots).tolist()
    state.jitter = state.rng.random(slots).tolist()
    span_end = min(float(starts[-1]) + fleet.interval, fleet.end)
    state.launches = launches_between(
        fleet, state.host, float(starts[0]), span_end, state.usage, state.rng
    )
    state.next_launch = 0


def _slot(fleet: Fleet, state: _HostState, slot: int, start: float, end: float) -> list[Delivery]:
    host = state.host
    launches = []
    while state.next_launch < len(state.launches) and state.launches[state.next_launch].t < end:
        launches.append(state.launches[state.next_launch])
        state.next_launch += 1
    if not host.is_on_during(start, end, fleet.calendar):
        return []
    if state.incarnation == 0 and host.host_id_at(start) != host.host_id:
        _reinstalled(fleet, state)
    state.sequence += 1
    row = slot - state.chunk_first_slot
    inventory = _inventory_due(fleet, state, start, end)
    if inventory is None and state.missing[row] < fleet.scenario.realism.missing_interval_rate:
        return []
    batch = _batch(fleet, state, start, end, row, launches, inventory)
    closed = end + SHIP_DELAY_SECONDS * state.jitter[row]
    if host.agent_offline_at(closed):
        state.spooled.append(batch)
        return []
    state.spooled.append(batch)
    return _release(fleet, state, closed)


def _reinstalled(fleet: Fleet, state: _HostState) -> None:
    """The machine runs a freshly installed agent: a new identity counting from 1, which
    sends its inventory at once. (Reinstalled hosts have nothing spooled: see fleet.py.)"""
    host = state.host
    assert host.new_host_id is not None
    state.identity = HostIdentity(host.new_host_id, host.hostname, fleet.scenario.agent_version)
    state.incarnation = 1
    state.sequence = 0
    state.inventory_day = -1


def _release(fleet: Fleet, state: _HostState, at: float) -> list[Delivery]:
    """Send the host's spool, oldest first, from ``at`` (or when a delivery outage ends)."""
    for window in fleet.delivery_outages.values():
        if at in window:
            at = window.end + SHIP_DELAY_SECONDS * (state.host.index % 97) / 97
    host = state.host
    deliveries = []
    for i, batch in enumerate(state.spooled):
        t = at + i * BURST_SPACING_SECONDS
        deliveries.append(
            Delivery(batch.host.host_id, host.department, batch, t, t + host.skew_seconds)
        )
    state.spooled = []
    return deliveries


def _inventory_due(fleet: Fleet, state: _HostState, start: float, end: float) -> Inventory | None:
    """The inventory to send in this interval: daily, and whenever a version changed."""
    host = state.host
    day = math.floor((start - fleet.start) / DAY)
    changed = any(
        start <= entry.since < end for entries in host.versions.values() for entry in entries
    )
    if day == state.inventory_day and not changed:
        return None
    state.inventory_day = day
    return state.inventory.at(start, start + 1.0 + host.skew_seconds)


def _batch(
    fleet: Fleet,
    state: _HostState,
    start: float,
    end: float,
    row: int,
    launches: list[Launch],
    inventory: Inventory | None,
) -> Batch:
    host = state.host
    skew = host.skew_seconds
    calendar = fleet.calendar
    seconds = end - start
    metrics = summaries(state.series, state.labels, state.means[row], seconds)
    events = []
    counts: Counter[tuple[str, str]] = Counter()
    ran: dict[str, bool] = {}
    for launch in launches:
        started = launch.t + skew
        events.append(
            LaunchEvent(
                app=launch.app,
                version=launch.version,
                method="passive",
                outcome=launch.outcome,
                started_at=round(started, 3),
                duration_seconds=launch.duration,
                ready_signal=fleet.scenario.app(launch.app).ready_signal,
                start_kind=launch.start_kind,
                detail=launch.detail,
            )
        )
        counts[(launch.app, iso_day(started + calendar.offset(launch.t)))] += 1
        ran[launch.app] = ran.get(launch.app, False) or launch.start_kind == "cold"
    for app, cold in sorted(ran.items()):
        trend = max(
            (
                r.progress(start)
                for r in host.ramps
                if r.cause == "cpu" and r.apps and app in r.apps
            ),
            default=0.0,
        )
        metrics.extend(app_summaries(app, cold, trend, seconds))
    return Batch(
        batch_id=batch_id_for(fleet.seed, host.index, state.sequence, state.incarnation),
        sequence=state.sequence,
        created_at=round(end + skew + 0.2, 3),
        host=state.identity,
        intervals=[Interval(start=start + skew, end=end + skew, metrics=metrics)],
        launches=events,
        launch_counts=[
            LaunchCount(app=app, day=day, method="passive", count=n)
            for (app, day), n in sorted(counts.items())
        ],
        inventory=inventory,
    )
