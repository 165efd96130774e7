"""The recommendation job on SQLite and PostgreSQL: store -> facts a part at a time -> the
engine -> the store, and the loop after an approval (rolled out, verified or reopened).

The lifecycle tests write a simulated fleet through ingest (tests/advisor/jobs/
recommendfleet.py: a regressed version, a vendor fix some hosts already run, then the
recommended rollout of the fix, good or bad) and run the job as of three moments: when the
recommendation is made, when the rollout shows in the inventory, and its 14 days later.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
import sqlalchemy as sa
from prometheus_client import CollectorRegistry

from advisor.cli import main
from advisor.config import parse_config
from advisor.jobs.metrics import JobMetrics
from advisor.jobs.names import RECOMMEND
from advisor.jobs.recommend import FOLLOWED, RecommendWork
from advisor.jobs.runner import JobRunner
from advisor.jobs.tasks import JOB_TABLES, build_runners, recommend_settings
from advisor.recommend.engine import AFTER_PILOT
from advisor.recommend.vendor import RecordCatalog
from advisor.recommend_job import NO_COSTS
from advisor.recommend_job_loop import run_loop
from advisor.store.audit import recommendation_target
from advisor.store.inventory import HostInventory
from advisor.store.job_state import SUCCESS, SqlJobLeases
from advisor.store.open import Stores, stores_on
from advisor.store.recommendations import Proposal, RecommendationFilter
from advisor.store.sql import SqlStore
from tests.advisor.jobs.recommendfleet import (
    RUN1,
    RUN2,
    RUN3,
    LoopFleet,
    loop_fleet,
    write_loop_fleet,
)
from tests.advisor.recommend.fleets import base_seconds, run, true_seconds
from tests.advisor.store.fleetbatches import FIN_HARDWARE, NOW, hardware
from tests.advisor.store.fleetbatches import NEW_VERSION as NEW
from tests.advisor.store.fleetbatches import batch as small_batch
from tests.advisor.store.fleetbatches import inventory as small_inventory
from tests.advisor.store.fleetbatches import write_fleet as write_small_fleet

UPGRADE = "upgrade|app0|3.0|from=2.0"
# 2.0 is the regression the rollout of 3.0 was to fix: the roll back goes past it, to 1.0.
ROLLBACK = "rollback|app0|1.0|from=3.0"
T0 = 1_764_000_000.0
INTERVAL = 600.0
CATALOG = RecordCatalog({}, today=dt.date(2025, 12, 1), costs=None)
FIN_DISKS = FIN_HARDWARE.disks


def work(
    stores: Stores, at: float, *, always: bool = True, metrics: JobMetrics | None = None
) -> RecommendWork:
    return RecommendWork(
        stores,
        recommend_settings(parse_config("")),
        owner="test",
        lease_seconds=600.0,
        at=at,
        always=always,
        metrics=metrics,
    )


def run_job(stores: Stores, at: float) -> RecommendWork:
    """One run as of ``at``, through a runner under the job's lease (as ``recommend`` does)."""
    job = work(stores, at)
    runner = JobRunner(
        RECOMMEND,
        job,
        stores.leases,
        interval=INTERVAL,
        lease_seconds=600.0,
        max_backoff=3600.0,
        metrics=JobMetrics(CollectorRegistry(), JOB_TABLES),
        owner="test",
    )
    report = runner.run_now()
    assert report.outcome == "success", report.error
    assert job.last is not None
    return job


def iso_minute(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def good(store: SqlStore) -> LoopFleet:
    fleet = loop_fleet(good=True)
    write_loop_fleet(store, fleet)
    return fleet


@pytest.fixture
def bad(store: SqlStore) -> LoopFleet:
    fleet = loop_fleet(good=False)
    write_loop_fleet(store, fleet)
    return fleet


def test_a_run_proposes_the_engines_recommendations_and_the_next_keeps_an_approval(
    good: LoopFleet, engine: sa.Engine, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    stores = stores_on(engine)
    _, expected = run(good.before_rollout, [good.finding], {"app0": good.catalog}, RUN1)

    code = main(["--database-url", database_url, "recommend", "--at", iso_minute(RUN1)])

    out = capsys.readouterr().out
    assert code == 0
    stored = stores.recommendations.list()
    assert [r.key for r in stored] == [r.key for r in expected] == [UPGRADE]
    [upgrade], [made] = stored, expected
    assert upgrade.state == "proposed"
    assert upgrade.hosts == made.hosts == tuple(good.rolled)
    assert upgrade.score == pytest.approx(made.score, rel=1e-6)
    assert upgrade.net_benefit_per_year == made.net_benefit_per_year
    assert upgrade.document["hosts"]["hostnames"][0].endswith(".example")
    assert "recommendations: 1 new, 0 updated (0 changed), 0 obsoleted" in out
    assert re.search(r"1\s+USD [\d,]+\s+[\d.]+ months\s+Upgrade app0 2.0 to 3.0 on 37 hosts", out)
    assert "loop: 0 rolled out, 0 verified, 0 reopened" in out

    stores.recommendations.decide(UPGRADE, verdict="approve", actor="alice", now=RUN1 + 600)
    again = run_job(stores, RUN1 + 6 * 3600).last

    assert again is not None
    assert again.summary is not None
    assert (again.summary.new, again.summary.updated, again.summary.obsoleted) == (0, 0, 0)
    assert again.kept == (UPGRADE,)
    kept = stores.recommendations.get(UPGRADE)
    assert kept is not None
    assert (kept.state, kept.decided_by) == ("approved", "alice")
    assert kept.document == upgrade.document


def test_an_approved_upgrade_is_rolled_out_once_its_hosts_run_it_then_verified(
    good: LoopFleet, engine: sa.Engine
) -> None:
    stores = stores_on(engine)
    run_job(stores, RUN1)
    stores.recommendations.decide(UPGRADE, verdict="approve", actor="alice", now=RUN1 + 600)

    rolled = run_job(stores, RUN2).last
    early = run_job(stores, RUN2 + 7 * 86400.0).last
    verified = run_job(stores, RUN3).last

    assert rolled is not None
    assert early is not None
    assert verified is not None
    assert rolled.loop.rolled_out == (UPGRADE,)
    [entry] = [
        e
        for e in stores.audit.entries(target=recommendation_target(UPGRADE))
        if e.action == "recommendation.rolled_out"
    ]
    assert entry.actor == "advisor"
    assert entry.detail["rollout"]["changed"] == good.rolled
    assert early.loop.measuring == (UPGRADE,)  # 7 of its 14 days
    [(key, realised)] = verified.loop.verified
    assert key == UPGRADE
    stored = stores.recommendations.get(UPGRADE)
    assert stored is not None
    assert stored.realised is not None
    assert stored.state == "verified"
    assert stored.verified_at == RUN3
    measured = stored.realised
    assert measured["method"] == "difference_in_differences"
    assert measured["hosts"] == len(good.rolled)
    assert measured["changed_hosts"] == good.rolled
    # The fix undoes the +30 %: each launch saves 0.3 of the base load time.
    facts = run(good.before_rollout, [good.finding], {"app0": good.catalog}, RUN1)[0].facts
    truth = true_seconds(facts, good.rolled, lambda a, c: 0.3 * base_seconds(a, c), apps=(0,))
    seconds = measured["seconds_per_launch"]
    assert seconds["low"] <= truth <= seconds["high"]
    predicted = measured["predicted"]["seconds_per_launch"]["estimate"]
    assert predicted == stored.document["benefit"]["seconds_per_launch"]["estimate"]
    assert 0.75 < measured["realised_over_predicted"] < 1.33
    assert realised.worse is False
    assert stores.recommendations.list(RecommendationFilter(state="proposed")) == []


def test_each_run_shows_the_recommendations_by_state_on_the_metrics(
    good: LoopFleet, engine: sa.Engine
) -> None:
    stores = stores_on(engine)
    registry = CollectorRegistry()
    metrics = JobMetrics(registry, JOB_TABLES)
    job = work(stores, RUN1, metrics=metrics)
    job(RUN1, lambda: None)
    proposed = stores.recommendations.state_counts()["proposed"]
    assert proposed >= 1
    stores.recommendations.decide(UPGRADE, verdict="approve", actor="alice", now=RUN1 + 60)

    job(RUN1 + 3600, lambda: None)

    def gauge(state: str) -> float | None:
        return registry.get_sample_value("fleetsight_advisor_recommendations", {"state": state})

    assert gauge("approved") == 1.0
    assert gauge("proposed") == proposed - 1
    assert gauge("verified") == 0.0
    assert stores.recommendations.state_counts()["approved"] == 1


def test_a_verified_pilot_that_saved_time_is_followed_by_the_rollout_to_the_rest(
    good: LoopFleet, engine: sa.Engine
) -> None:
    stores = stores_on(engine)
    run_job(stores, RUN1)
    recs = stores.recommendations
    recs.decide(UPGRADE, verdict="approve", actor="alice", now=RUN1 + 60)
    recs.mark_rolled_out(UPGRADE, now=RUN1 + 120)
    pilot = {
        "pilot": True,
        "worse": False,
        "hosts": 6,
        "control_hosts": 12,
        "seconds_per_launch": {"estimate": 0.5, "low": 0.2, "high": 0.8},
    }
    recs.mark_verified(UPGRADE, now=RUN1 + 180, realised=pilot)

    outcome = run_job(stores, RUN1 + 3600).last

    assert outcome is not None
    after = recs.get(UPGRADE + AFTER_PILOT)
    assert after is not None
    assert after.state == "proposed"
    assert "A pilot on 6 hosts saved 0.50 s a launch" in after.document["explanation"]
    pilot_record = recs.get(UPGRADE)
    assert pilot_record is not None
    assert pilot_record.state == "verified"
    # Once the pilot is reopened (it made things worse after all), the rollout goes.
    recs.reopen(UPGRADE, now=RUN1 + 7200, reason="test", realised={**pilot, "worse": True})
    later = run_job(stores, RUN1 + 9000).last
    assert later is not None
    assert not any(r.key.endswith(AFTER_PILOT) for r in later.recommendations)
    gone = recs.get(UPGRADE + AFTER_PILOT)
    assert gone is not None
    assert gone.state == "obsolete"


def test_a_rollout_that_made_launches_slower_is_reopened_and_a_rollback_proposed(
    bad: LoopFleet, engine: sa.Engine
) -> None:
    stores = stores_on(engine)
    run_job(stores, RUN1)
    stores.recommendations.decide(UPGRADE, verdict="approve", actor="alice", now=RUN1 + 600)
    run_job(stores, RUN2)

    last = run_job(stores, RUN3).last

    assert last is not None
    [(key, realised)] = last.loop.reopened
    assert key == UPGRADE
    assert realised.worse
    reopened = stores.recommendations.get(UPGRADE)
    assert reopened is not None
    assert reopened.realised is not None
    assert reopened.state == "reopened"
    assert reopened.state_reason is not None
    assert reopened.state_reason.startswith("the rollout made launches slower")
    assert reopened.realised["seconds_per_launch"]["high"] < 0
    rollback = stores.recommendations.get(ROLLBACK)
    assert rollback is not None
    assert rollback.state == "proposed"
    assert rollback.kind == "rollback"
    assert set(good_hosts := reopened.realised["changed_hosts"]) <= set(rollback.hosts)
    assert "version_change|app0|from_version=2.0|version=3.0" in rollback.finding_keys
    assert len(good_hosts) == len(bad.rolled)

    # The next run proposes the roll back again, and leaves the reopened key to a person.
    again = run_job(stores, RUN3 + 6 * 3600).last
    assert again is not None
    assert again.summary is not None
    assert again.summary.new == 0
    assert stores.recommendations.get(UPGRADE).state == "reopened"  # type: ignore[union-attr]


def test_without_cost_settings_nothing_is_proposed_and_the_run_says_how_to_import_them(
    engine: sa.Engine,
) -> None:
    last = run_job(stores_on(engine), T0).last

    assert last is not None
    assert last.summary is None
    assert NO_COSTS in last.notes


def finish_analysis(leases: SqlJobLeases, part: str, at: float) -> None:
    assert leases.claim(f"analysis/{part}", owner="analyst", now=at, lease_seconds=600.0)
    assert leases.finish(f"analysis/{part}", owner="analyst", now=at + 5, outcome=SUCCESS)


def test_a_tick_runs_once_after_each_analysis_and_never_during_one(engine: sa.Engine) -> None:
    stores = stores_on(engine)
    leases = SqlJobLeases(engine)
    now = [T0]
    config = parse_config("")
    mine = build_runners(
        stores, config, JobMetrics(CollectorRegistry(), JOB_TABLES), owner="a", clock=lambda: now[0]
    )[RECOMMEND]
    other = build_runners(
        stores, config, JobMetrics(CollectorRegistry(), JOB_TABLES), owner="b", clock=lambda: now[0]
    )[RECOMMEND]

    def ran(runner: JobRunner) -> bool:
        job = runner.work
        assert isinstance(job, RecommendWork)
        return job.last is not None

    mine.tick()
    assert not ran(mine)  # no analysis ever finished

    finish_analysis(leases, "p00", T0 + 10)
    assert leases.claim("analysis/p01", owner="analyst", now=T0 + 20, lease_seconds=600.0)
    now[0] = T0 + INTERVAL
    mine.tick()
    assert not ran(mine)  # p01 is being analysed

    assert leases.finish("analysis/p01", owner="analyst", now=T0 + 30, outcome=SUCCESS)
    now[0] = T0 + 2 * INTERVAL
    assert other.tick().outcome == "success"
    assert mine.tick().outcome == "skipped"  # one advisor a tick
    assert ran(other)
    assert not ran(mine)

    now[0] = T0 + 3 * INTERVAL
    other.tick()
    mine.tick()
    assert not ran(other)
    assert not ran(mine)

    finish_analysis(leases, "p00", T0 + 3 * INTERVAL + 10)
    now[0] = T0 + 4 * INTERVAL
    mine.tick()
    assert ran(mine)
    [followed] = leases.job_status(FOLLOWED)
    assert followed.last_tick == T0 + 3 * INTERVAL + 15
    assert followed.lease_owner is None


def test_an_approved_ram_upgrade_is_rolled_out_when_the_inventory_shows_the_ram(
    store: SqlStore, engine: sa.Engine
) -> None:
    write_small_fleet(store)
    stores = stores_on(engine)
    key = "ram|*|16GiB|finance"
    ram = Proposal(
        key=key,
        kind="ram",
        category="regression",
        app="*",
        target="16GiB",
        title="Add RAM to 1 host in finance: 16 GiB each",
        departments=("finance",),
        hosts=("fin-1",),
        finding_keys=(),
        score=10.0,
        net_benefit_per_year=Decimal("100.00"),
        currency="USD",
        document={"hosts": {"hostnames": ["fin-1.example"]}, "pilot": None},
    )
    stores.recommendations.propose([ram], now=NOW)
    stores.recommendations.decide(key, verdict="approve", actor="alice", now=NOW)
    settings = recommend_settings(parse_config(""))

    before = run_loop(stores, CATALOG, now=NOW + 60, settings=settings.loop, hosts=hosts(stores))
    store.ingest(
        "fin-1",
        small_batch(
            "fin-1", 3, inventory=small_inventory(NOW + 120, hardware(16, 4, FIN_DISKS), NEW)
        ),
        received_at=NOW + 120,
        sent_at=None,
    )
    after = run_loop(stores, CATALOG, now=NOW + 180, settings=settings.loop, hosts=hosts(stores))

    assert (before.waiting, before.rolled_out) == ((key,), ())
    assert after.rolled_out == (key,)
    stored = stores.recommendations.get(key)
    assert stored is not None
    assert (stored.state, stored.rolled_out_at) == ("rolled_out", NOW + 180)
    [entry] = [
        e
        for e in stores.audit.entries(target=recommendation_target(key))
        if e.action == "recommendation.rolled_out"
    ]
    assert entry.detail["rollout"] == {
        "changed": ["fin-1"],
        "waiting": [],
        "gone": [],
        "share": 1.0,
    }


def hosts(stores: Stores) -> list[HostInventory]:
    return stores.inventory.hosts()
