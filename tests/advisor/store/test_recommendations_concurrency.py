"""Runs and decisions at the same time on PostgreSQL, which several advisors share: nothing is
lost, nothing is written twice.

Each test holds a recommendation's row lock from a connection of its own, starts the store's
calls in threads one after the other, waits until PostgreSQL shows each waiting for a lock (so
the order they will go in is known), then lets go. SQLite needs no such test: every writer
takes its single write lock first.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

import pytest
import sqlalchemy as sa

from advisor.errors import TransitionRefused
from advisor.store.audit import SqlAuditLog, recommendation_target
from advisor.store.engine import make_engine
from advisor.store.recommendations_sql import SqlRecommendations
from tests.advisor.conftest import empty_tables
from tests.advisor.store.recommendationsdata import RAM_KEY, T0, UPGRADE_KEY, proposal, ram

_T = TypeVar("_T")
WAITING = sa.text(
    "SELECT count(*) FROM pg_stat_activity"
    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
)


@pytest.fixture
def postgres(shared_postgresql_url: str) -> Iterator[sa.Engine]:
    """An engine on the emptied, migrated PostgreSQL database of the session."""
    empty_tables(shared_postgresql_url)
    engine = make_engine(shared_postgresql_url)
    try:
        yield engine
    finally:
        engine.dispose()


class Held:
    """A connection holding one recommendation's row lock, and threads queued behind it."""

    def __init__(self, engine: sa.Engine, key: str) -> None:
        self._engine = engine
        self._pool = ThreadPoolExecutor(max_workers=2)
        self._holder = engine.connect()
        self._holder.execute(
            sa.text("SELECT key FROM recommendations WHERE key = :key FOR UPDATE"), {"key": key}
        )
        self._queued = 0

    def queue(self, call: Callable[[], _T]) -> Future[_T]:
        """Start ``call`` in a thread and return once PostgreSQL shows it waiting for a lock."""
        started = self._pool.submit(call)
        self._queued += 1
        deadline = time.monotonic() + 30
        while _waiting(self._engine) < self._queued:
            if started.done():
                started.result()  # raises what it raised
                raise AssertionError("the call did not wait for the lock held")
            if time.monotonic() > deadline:
                raise AssertionError(f"{self._queued} call(s) should be waiting for locks")
            time.sleep(0.02)
        return started

    def release(self) -> None:
        self._holder.commit()

    def close(self) -> None:
        self._holder.close()  # a test that failed half-way lets its threads go too
        self._pool.shutdown(wait=True)


def _waiting(engine: sa.Engine) -> int:
    with engine.connect() as conn:  # a new transaction: pg_stat_activity is read afresh
        return int(conn.execute(WAITING).scalar_one())


@pytest.fixture
def hold(postgres: sa.Engine) -> Iterator[Callable[[str], Held]]:
    made: list[Held] = []

    def holding(key: str) -> Held:
        made.append(Held(postgres, key))
        return made[-1]

    try:
        yield holding
    finally:
        for held in made:
            held.close()


def test_a_decision_taken_while_a_run_proposes_is_kept_by_the_run(
    postgres: sa.Engine, hold: Callable[[str], Held]
) -> None:
    store = SqlRecommendations(postgres)
    store.propose([proposal()], now=T0)
    held = hold(UPGRADE_KEY)

    decided = held.queue(
        lambda: store.decide(UPGRADE_KEY, verdict="approve", actor="alice", now=T0 + 1)
    )
    # This run no longer proposes the key: had it read the key before the decision, it
    # would make it obsolete.
    run = held.queue(lambda: store.propose([ram()], now=T0 + 2))
    held.release()

    assert decided.result(timeout=30).state == "approved"
    summary = run.result(timeout=30)
    assert (summary.new, summary.obsoleted) == (1, 0)
    stored = store.get(UPGRADE_KEY)
    assert stored is not None
    assert (stored.state, stored.decided_by) == ("approved", "alice")
    actions = [
        e.action for e in SqlAuditLog(postgres).entries(target=recommendation_target(UPGRADE_KEY))
    ]
    assert actions == ["recommendation.approved", "recommendation.proposed"]


def test_a_decision_after_a_run_is_taken_on_the_state_the_run_left(
    postgres: sa.Engine, hold: Callable[[str], Held]
) -> None:
    store = SqlRecommendations(postgres)
    store.propose([proposal()], now=T0)
    held = hold(UPGRADE_KEY)

    run = held.queue(lambda: store.propose([ram()], now=T0 + 1))
    decided = held.queue(
        lambda: store.decide(UPGRADE_KEY, verdict="approve", actor="alice", now=T0 + 2)
    )
    held.release()

    assert run.result(timeout=30).obsoleted == 1
    with pytest.raises(TransitionRefused) as refused:
        decided.result(timeout=30)
    assert refused.value.state == "obsolete"
    stored = store.get(UPGRADE_KEY)
    assert stored is not None
    assert (stored.state, stored.decided_by) == ("obsolete", None)


def test_two_runs_at_once_insert_a_new_key_once_one_after_the_other(
    postgres: sa.Engine, hold: Callable[[str], Held]
) -> None:
    store = SqlRecommendations(postgres)
    store.propose([proposal()], now=T0)
    held = hold(UPGRADE_KEY)

    first = held.queue(lambda: store.propose([proposal(), ram()], now=T0 + 1))
    second = held.queue(lambda: store.propose([proposal(), ram()], now=T0 + 2))
    held.release()

    assert (first.result(timeout=30).new, first.result().updated) == (1, 1)
    assert (second.result(timeout=30).new, second.result().updated) == (0, 2)
    stored = store.get(RAM_KEY)
    assert stored is not None
    assert (stored.created_at, stored.last_proposed_at) == (T0 + 1, T0 + 2)
    entries = SqlAuditLog(postgres).entries(target=recommendation_target(RAM_KEY))
    assert [e.action for e in entries] == ["recommendation.proposed"]
