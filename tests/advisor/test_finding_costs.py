"""FindingCosts: a list of stored findings priced from one read of the store (SQLite and
PostgreSQL), the launch rates kept until a new analysis run moves the window's end."""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import replace

import pytest

from advisor.analysis.findings import Effect
from advisor.finding_costs import NO_COSTS, NO_RATES, FindingCosts, affected_of
from advisor.recommend.impact import LaunchRate
from advisor.store.analysis_data import SqlFleetFrames
from advisor.store.catalog import SqlCatalogStore
from advisor.store.findings import FindingFilter, SqlFindings, StoredFinding
from advisor.store.sql import SqlStore
from tests.advisor.store.pricedfindings import (
    FIN_PER_DAY,
    HR_PER_DAY,
    RUN_AT,
    SLOWER,
    write_priced_fleet,
)


class CountingFrames(SqlFleetFrames):
    """The store's launch rates, counting the calls."""

    calls = 0

    def launch_rates(
        self,
        *,
        now: float,
        days: int,
        apps: Collection[str],
        hosts: Collection[str] | None = None,
    ) -> dict[tuple[str, str], LaunchRate]:
        self.calls += 1
        return super().launch_rates(now=now, days=days, apps=apps, hosts=hosts)


def costs_on(store: SqlStore, frames: SqlFleetFrames | None) -> FindingCosts:
    return FindingCosts(
        findings=SqlFindings(store.engine),
        hosts=store,
        frames=frames,
        catalog=SqlCatalogStore(store.engine),
        window_days=90,
    )


def listed(store: SqlStore) -> list[StoredFinding]:
    return SqlFindings(store.engine).find(FindingFilter(status=None))


def test_the_rates_of_a_list_are_read_again_only_once_a_new_run_moves_the_window(
    store: SqlStore,
) -> None:
    write_priced_fleet(store)
    frames = CountingFrames(store.engine)
    costs = costs_on(store, frames)

    first = costs.of(listed(store))
    again = costs.of(listed(store))
    SqlFindings(store.engine).record_run([SLOWER], now=RUN_AT + 3600)
    later = costs.of(listed(store))

    assert frames.calls == 2
    assert (first.as_of, again.as_of, later.as_of) == (RUN_AT, RUN_AT, RUN_AT + 3600)
    cost = again.cost(listed(store)[0])
    assert cost is not None
    assert cost.time.launches_per_day == pytest.approx(FIN_PER_DAY + HR_PER_DAY)


def test_without_the_analysis_data_every_host_counts_as_without_launches(
    store: SqlStore,
) -> None:
    write_priced_fleet(store, costs=False)

    costed = costs_on(store, None).of(listed(store))

    cost = costed.cost(listed(store)[0])
    assert cost is not None
    assert (cost.time.launches_per_day, cost.time.hosts_without_launches) == (0.0, 2)
    assert cost.impact is None
    assert costed.notes == (NO_COSTS, NO_RATES)


def test_an_empty_list_reads_no_rates_and_has_no_window(store: SqlStore) -> None:
    frames = CountingFrames(store.engine)

    costed = costs_on(store, frames).of([])

    assert (costed.as_of, costed.by_key, frames.calls) == (None, {}, 0)


def test_a_finding_with_an_unknown_effect_has_nothing_to_price(store: SqlStore) -> None:
    write_priced_fleet(store)
    (found,) = listed(store)
    unknown = replace(found, effect=Effect(math.nan, found.effect.low, found.effect.high))

    assert affected_of(found) is not None
    assert affected_of(unknown) is None
