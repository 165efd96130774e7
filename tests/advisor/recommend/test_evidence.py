"""The evidence model: scikit-learn's fit, a bootstrap over hosts, and what it cannot tell."""

from __future__ import annotations

import numpy as np

from advisor.analysis.cohorts import CORE_BINS, RAM_BINS
from advisor.recommend.evidence import Change, Evidence, levels_of
from advisor.recommend.facts import FleetFacts, fleet_facts
from advisor.recommend.parameters import RecommendParameters
from tests.advisor.analysis.fleetframes import MemoryPressure, Spec, build


def evidence_of(spec: Spec, params: RecommendParameters | None = None) -> Evidence:
    params = params or RecommendParameters()
    facts = fleet_facts(build(spec), now=spec.now, params=params)
    labels = [v for v in facts.versions if v]
    row_label = np.array(
        [labels.index(facts.versions[v]) for v in facts.usage.version.tolist()], dtype=np.int64
    )
    return Evidence(facts, row_label, labels, params)


def rows_of(facts: FleetFacts, hosts: np.ndarray, app: int, cold: bool) -> np.ndarray:
    usage = facts.usage
    return np.flatnonzero(np.isin(usage.host, hosts) & (usage.app == app) & (usage.cold == cold))


def test_the_fit_is_a_light_ridge_and_the_bootstrap_centres_on_it() -> None:
    evidence = evidence_of(Spec(hosts=60, hdd_share=0.3, hdd_cold_factor=2.0))

    model = evidence.model(0, True)

    assert model is not None
    assert len(model.hosts) == 60
    design, _ = model.design(model.profile)
    usage = evidence.facts.usage
    rows = np.flatnonzero((usage.app == 0) & usage.cold)
    fitted = design @ model.coef
    # The ridge's normal equations: the residuals' product with each column is that
    # column's penalty (1 % per host of its variance) times its coefficient; none on the
    # intercept (levels pulled in to 3 robust SD are what it was fitted on; none is here).
    penalty = np.r_[0.0, 0.01 * len(rows) * design[:, 1:].var(axis=0)]
    assert np.allclose(design.T @ (usage.level[rows] - fitted), penalty * model.coef, atol=1e-6)
    hdd = model.columns.index("hdd")
    assert 0.85 <= np.exp(model.coef[hdd]) - 1 <= 1.15  # HDD cold starts take twice as long
    assert abs(model.draws[:, hdd].mean() - model.coef[hdd]) < 2 * model.draws[:, hdd].std()
    assert model.draws.shape == (200, len(model.columns))


def test_hardware_that_always_comes_together_tells_what_replacing_saves_never_ram_alone() -> None:
    evidence = evidence_of(Spec(hosts=60, old_share=0.25))
    facts = evidence.facts
    old = np.flatnonzero(facts.hosts.hdd)
    model = evidence.model(0, True)
    assert model is not None
    profile = evidence.profile(rows_of(facts, old, 0, True))
    standard_ram = int(levels_of(np.array([16.0]), RAM_BINS)[0])
    standard_cores = int(levels_of(np.array([4.0]), CORE_BINS)[0])

    ram_alone = model.contrast(profile, Change(ram=standard_ram))
    refit = model.contrast(profile, Change(ram=standard_ram, hdd=False))
    replace = model.contrast(profile, Change(ram=standard_ram, hdd=False, cores=standard_cores))

    assert not ram_alone.estimable.any()
    assert np.isnan(ram_alone.saving).all()
    assert not refit.estimable.any()
    assert replace.estimable.all()
    # Old machines' cold starts take 2.91 times as long: a replacement saves log(2.91).
    assert np.allclose(replace.saving, np.log(2.0 * 1.3 * 1.12), atol=0.1)
    assert replace.target_hosts == 60 - old.size
    assert replace.compared_hosts == old.size


def test_a_combination_only_a_host_or_two_tell_apart_gets_a_bounded_saving() -> None:
    # Old machines are 4 GB and 2 cores; one to three others are 4 GB with 4 cores, and
    # memory PSI and swap-in rise together on every 4 GB machine. RAM alone is estimable
    # through those few hosts only: an unpenalised fit gave savings of e^±250.
    for seed in (0, 1, 5):
        spec = Spec(
            hosts=60, old_share=0.25, low_ram_share=0.03, seed=seed, memory=MemoryPressure(0.5)
        )
        evidence = evidence_of(spec)
        facts = evidence.facts
        model = evidence.model(0, True)
        assert model is not None
        old = np.flatnonzero(facts.hosts.hdd)
        profile = evidence.profile(rows_of(facts, old, 0, True))
        standard_ram = int(levels_of(np.array([16.0]), RAM_BINS)[0])

        ram_alone = model.contrast(profile, Change(ram=standard_ram))

        assert ram_alone.estimable.all()
        # At most what RAM and the pressure it removes cost (x1.12 and x1.5), no less than 0.
        assert (ram_alone.saving > 0).all()
        assert (ram_alone.saving < np.log(1.12 * 1.5) + 0.1).all()
        assert np.abs(ram_alone.draws).max() < 1.0


def test_a_level_the_model_never_saw_gives_no_number() -> None:
    evidence = evidence_of(Spec(hosts=40))
    facts = evidence.facts
    model = evidence.model(0, False)
    assert model is not None
    unseen = evidence.code("9.9")

    contrast = model.contrast(
        evidence.profile(rows_of(facts, np.arange(40), 0, False)), Change(version=unseen)
    )

    assert not contrast.estimable.any()
    assert contrast.target_hosts == 0


def test_large_fleets_are_sampled_keeping_every_host_of_a_rare_version() -> None:
    evidence = evidence_of(Spec(hosts=300, apps=1), RecommendParameters(max_model_hosts=100))
    rare = np.arange(0, 300, 30)  # ten hosts on a version of their own
    evidence.row_label[np.isin(evidence.facts.usage.host, rare)] = evidence.code("3.0")

    model = evidence.model(0, False)

    assert model is not None
    assert 100 <= len(model.hosts) < 300
    assert set(rare.tolist()) <= set(model.hosts.tolist())
