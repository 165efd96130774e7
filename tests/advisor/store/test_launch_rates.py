"""Measured launch rates (FleetFrames.launch_rates) on SQLite and PostgreSQL: launches per
host and app summed from the daily rollups, over the host's reporting span in the window, with
the host-days of batches not rolled up yet counted from their raw launches."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from advisor.recommend.impact import LaunchRate
from advisor.store import launch_daily
from advisor.store.analysis_data import FleetFrames, Upkeep
from advisor.store.sql import SqlStore
from tests.advisor.store.fleetbatches import launch
from tests.advisor.store.launchdays import DAY0_NUMBER, Fleet, at, launches_on

END_OF_DAY_9 = at(9, 23.0)
"""The window's end in most tests: 10 days up to it touch days -1 to 9."""


@pytest.fixture
def fleet(store: SqlStore, upkeep: Upkeep) -> Fleet:
    """host-a launches gimp 3 times on day 0 and firefox once on day 4; host-b gimp twice on
    days 1 and 2 each; all rolled up."""
    fleet = Fleet(store, "host-a", "host-b")
    fleet.send("host-a", launches_on(0, [1.0, 2.0, 4.0]), received_at=at(0, 10))
    fleet.send("host-a", launches_on(4, [1.0], app="firefox"), received_at=at(4, 10))
    fleet.send("host-b", launches_on(1, [1.0, 1.0]), received_at=at(1, 10))
    fleet.send("host-b", launches_on(2, [2.0, 2.0]), received_at=at(2, 10))
    upkeep.roll_up(now=at(5))
    return fleet


def test_launches_are_summed_per_host_and_app_over_the_hosts_reporting_span(
    frames: FleetFrames, fleet: Fleet
) -> None:
    rates = frames.launch_rates(now=END_OF_DAY_9, days=10, apps=["gimp", "firefox"])

    assert rates == {
        # host-a reported from day 0 (gimp) to day 4 (firefox): 5 days, whichever app.
        ("host-a", "gimp"): LaunchRate(launches=3, days=5),
        ("host-a", "firefox"): LaunchRate(launches=1, days=5),
        ("host-b", "gimp"): LaunchRate(launches=4, days=2),
    }
    assert rates["host-b", "gimp"].per_day == 2.0


def test_only_the_apps_and_hosts_asked_for_are_counted_and_the_span_still_spans_every_app(
    frames: FleetFrames, fleet: Fleet
) -> None:
    gimp = frames.launch_rates(now=END_OF_DAY_9, days=10, apps=["gimp"], hosts=["host-a"])
    unknown = frames.launch_rates(now=END_OF_DAY_9, days=10, apps=["gimp"], hosts=["host-z"])

    assert gimp == {("host-a", "gimp"): LaunchRate(launches=3, days=5)}
    assert unknown == {}
    assert frames.launch_rates(now=END_OF_DAY_9, days=10, apps=["inkscape"]) == {}
    assert frames.launch_rates(now=END_OF_DAY_9, days=10, apps=[]) == {}
    assert frames.launch_rates(now=END_OF_DAY_9, days=10, apps=["gimp"], hosts=[]) == {}


def test_a_long_list_of_hosts_gives_the_same_rates_as_a_short_one(
    frames: FleetFrames, fleet: Fleet
) -> None:
    many = ["host-b", *(f"absent-{i:05d}" for i in range(12_000))]

    rates = frames.launch_rates(now=END_OF_DAY_9, days=10, apps=["gimp"], hosts=many)

    assert rates == {("host-b", "gimp"): LaunchRate(launches=4, days=2)}


def test_only_the_days_the_window_touches_are_counted(frames: FleetFrames, fleet: Fleet) -> None:
    # 3 days up to 01:00 of day 3 touch days 0 to 3 (day 0 from 01:00 on: a day touched).
    early = frames.launch_rates(now=at(3, 1.0), days=3, apps=["gimp", "firefox"])
    # 2 days up to 12:00 on day 4 touch days 2 to 4: host-a's gimp day and host-b's first out.
    late = frames.launch_rates(now=at(4, 12.0), days=2, apps=["gimp", "firefox"])

    assert early == {
        ("host-a", "gimp"): LaunchRate(launches=3, days=1),
        ("host-b", "gimp"): LaunchRate(launches=4, days=2),
    }
    assert late == {
        ("host-a", "firefox"): LaunchRate(launches=1, days=1),
        ("host-b", "gimp"): LaunchRate(launches=2, days=1),
    }


def test_launches_not_rolled_up_yet_count_as_they_will_once_the_rollup_takes_them(
    frames: FleetFrames, upkeep: Upkeep, fleet: Fleet
) -> None:
    fleet.send("host-b", launches_on(6, [1.0] * 5), received_at=at(6, 10))

    before = frames.launch_rates(now=END_OF_DAY_9, days=10, apps=["gimp"], hosts=["host-b"])
    upkeep.roll_up(now=at(6, 11))
    after = frames.launch_rates(now=END_OF_DAY_9, days=10, apps=["gimp"], hosts=["host-b"])

    assert before == after == {("host-b", "gimp"): LaunchRate(launches=9, days=6)}


def test_a_fleet_with_nothing_rolled_up_yet_is_counted_from_its_raw_launches(
    frames: FleetFrames, store: SqlStore
) -> None:
    fleet = Fleet(store, "host-a", "host-b")
    fleet.send("host-a", launches_on(0, [1.0, 2.0, 4.0]), received_at=at(0, 10))
    fleet.send("host-a", launches_on(4, [1.0], app="firefox"), received_at=at(4, 10))
    fleet.send("host-b", launches_on(1, [1.0, 1.0]), received_at=at(1, 10))
    # Not launches: a failed one and one without a load time.
    fleet.send(
        "host-b", [launch(at(2), 1.0, "2.10", app="gimp", outcome="failed")], received_at=at(2, 10)
    )
    fleet.send("host-b", [launch(at(3), 0.0, "2.10", app="gimp")], received_at=at(3, 10))

    rates = frames.launch_rates(now=END_OF_DAY_9, days=10, apps=["gimp", "firefox"])

    assert rates == {
        ("host-a", "gimp"): LaunchRate(launches=3, days=5),
        ("host-a", "firefox"): LaunchRate(launches=1, days=5),
        ("host-b", "gimp"): LaunchRate(launches=2, days=1),
    }


def test_a_late_batch_for_a_rolled_up_day_replaces_that_days_counts_not_adds_to_them(
    frames: FleetFrames, upkeep: Upkeep, fleet: Fleet
) -> None:
    # Day 0 of host-a holds 3 gimp launches, rolled up; two more arrive on day 6.
    late = [launch(at(0, 12.0) + 60.0 * i, 2.0, "2.10", app="gimp") for i in range(2)]
    fleet.send("host-a", late, received_at=at(6, 10))

    before = frames.launch_rates(now=END_OF_DAY_9, days=10, apps=["gimp"], hosts=["host-a"])
    upkeep.roll_up(now=at(6, 11))
    after = frames.launch_rates(now=END_OF_DAY_9, days=10, apps=["gimp"], hosts=["host-a"])

    assert before == after == {("host-a", "gimp"): LaunchRate(launches=5, days=5)}


def test_days_not_rolled_up_yet_count_in_the_reporting_span_whichever_app(
    frames: FleetFrames, store: SqlStore, fleet: Fleet
) -> None:
    # host-b reported gimp on days 1 and 2 (rolled up), then inkscape alone on day 7.
    fleet.send("host-b", launches_on(7, [1.0], app="inkscape"), received_at=at(7, 10))
    # host-c, new, launched gimp on day 3 and firefox on day 8, neither rolled up.
    Fleet(store, "host-c").send(
        "host-c",
        [*launches_on(3, [1.0]), *launches_on(8, [1.0], app="firefox")],
        received_at=at(8, 10),
    )

    rates = frames.launch_rates(now=END_OF_DAY_9, days=10, apps=["gimp"])

    assert rates == {
        ("host-a", "gimp"): LaunchRate(launches=3, days=5),
        ("host-b", "gimp"): LaunchRate(launches=4, days=7),
        ("host-c", "gimp"): LaunchRate(launches=1, days=6),
    }


def test_a_batch_for_a_day_retention_started_deleting_is_left_out_as_the_rollup_leaves_it(
    frames: FleetFrames, fleet: Fleet, engine: sa.Engine
) -> None:
    with engine.begin() as conn:
        launch_daily.raise_horizons(conn, raw_from_day=DAY0_NUMBER + 1, kept_from_day=None)
    fleet.send("host-a", launches_on(0, [1.0] * 4), received_at=at(6, 10))
    fleet.send("host-b", launches_on(1, [1.0]), received_at=at(6, 10))

    rates = frames.launch_rates(now=END_OF_DAY_9, days=10, apps=["gimp"])

    assert rates == {
        ("host-a", "gimp"): LaunchRate(launches=3, days=5),
        ("host-b", "gimp"): LaunchRate(launches=5, days=2),
    }


def test_a_window_of_no_days_is_refused(frames: FleetFrames) -> None:
    with pytest.raises(ValueError, match="days must be positive"):
        frames.launch_rates(now=END_OF_DAY_9, days=0, apps=["gimp"])


def test_days_retention_no_longer_keeps_are_not_counted(
    frames: FleetFrames, fleet: Fleet, engine: sa.Engine
) -> None:
    with engine.begin() as conn:
        launch_daily.raise_horizons(conn, raw_from_day=None, kept_from_day=DAY0_NUMBER + 1)

    rates = frames.launch_rates(now=END_OF_DAY_9, days=10, apps=["gimp", "firefox"])

    # Day 0's rows are past the horizon (until retention deletes them): host-a from day 4.
    assert rates == {
        ("host-a", "firefox"): LaunchRate(launches=1, days=1),
        ("host-b", "gimp"): LaunchRate(launches=4, days=2),
    }


def test_the_rates_of_many_hosts_take_as_many_statements_as_those_of_one(
    frames: FleetFrames, store: SqlStore, upkeep: Upkeep, engine: sa.Engine
) -> None:
    hosts = [f"h-{i:02d}" for i in range(30)]
    fleet = Fleet(store, *hosts)
    for i, host in enumerate(hosts):
        fleet.send(host, launches_on(i % 7, [1.0] * (1 + i % 3)), received_at=at(8))
    upkeep.roll_up(now=at(8, 1))
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        one = frames.launch_rates(now=at(8, 2), days=9, apps=["gimp"], hosts=hosts[:1])
        issued_for_one = len(statements)
        every = frames.launch_rates(now=at(8, 2), days=9, apps=["gimp"])
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)

    assert one == {("h-00", "gimp"): LaunchRate(launches=1, days=1)}
    assert every == {
        (host, "gimp"): LaunchRate(launches=1 + i % 3, days=1) for i, host in enumerate(hosts)
    }
    assert len(statements) == 2 * issued_for_one


def test_the_rates_of_many_hosts_not_rolled_up_take_as_many_statements_as_those_of_one(
    frames: FleetFrames, store: SqlStore, engine: sa.Engine
) -> None:
    hosts = [f"h-{i:02d}" for i in range(30)]
    fleet = Fleet(store, *hosts)
    for i, host in enumerate(hosts):
        fleet.send(host, launches_on(3, [1.0] * (1 + i % 3)), received_at=at(8))
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        one = frames.launch_rates(now=at(8, 2), days=9, apps=["gimp"], hosts=hosts[:1])
        issued_for_one = len(statements)
        every = frames.launch_rates(now=at(8, 2), days=9, apps=["gimp"])
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)

    assert one == {("h-00", "gimp"): LaunchRate(launches=1, days=1)}
    assert every == {
        (host, "gimp"): LaunchRate(launches=1 + i % 3, days=1) for i, host in enumerate(hosts)
    }
    assert len(statements) == 2 * issued_for_one
