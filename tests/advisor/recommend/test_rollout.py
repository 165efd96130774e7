"""The loop's decisions: whether a host shows an approved change, how the measurement is laid
out, and the regression a bad rollout amounts to."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from advisor.recommend.impact import Span
from advisor.recommend.parameters import RecommendParameters
from advisor.recommend.rollout import (
    HostState,
    Plan,
    check_rollout,
    day_of,
    rollback_finding,
    shows_change,
    verification_design,
)
from advisor.recommend.vendor import RecordCatalog
from advisor.recommend.verify import NEVER
from tests.advisor.recommend.fleets import record

DAY = 86400.0
PARAMS = RecommendParameters()
CATALOG = RecordCatalog({"app0": record()}, today=dt.date(2024, 3, 1), costs=None)


def plan(kind: str, target: str, **extra: object) -> Plan:
    values: dict[str, object] = {
        "key": f"{kind}|app0|{target}|x",
        "kind": kind,
        "app": "*" if kind in ("ram", "ssd", "ram_ssd", "replace") else "app0",
        "target": target,
        "from_version": "2.0",
        "target_version": target,
        "hosts": ("h1", "h2", "h3"),
        "departments": ("finance",),
        "pilot": False,
        "days": None,
        "predicted": Span(0.4, 0.3, 0.5),
    }
    values.update(extra)
    return Plan(**values)  # type: ignore[arg-type]


def host(
    ram: float = 8.0, hdd: bool = False, cores: float = 4.0, *versions: tuple[str, float | None]
) -> HostState:
    return HostState("h", ram, hdd, cores, tuple(versions))


@pytest.mark.parametrize(
    ("kind", "target", "state", "shown"),
    [
        ("upgrade", "3.0", host(8, False, 4, ("3.0", 100.0)), (True, 100.0)),
        ("upgrade", "2.0", host(8, False, 4, ("3.0", 100.0)), (True, 100.0)),  # beyond it
        ("upgrade", "3.0", host(8, False, 4, ("2.0", 100.0)), (False, None)),
        ("rollback", "2.0", host(8, False, 4, ("3.0", 100.0)), (False, None)),
        ("rollback", "2.0", host(8, False, 4, ("2.0", 50.0)), (True, 50.0)),
        # A package version names the vendor's inside it; the span's time may be unknown.
        ("end_of_life", "3.0", host(8, False, 4, ("3.0-1+deb12u1", None)), (True, None)),
        ("ram", "16GiB", host(15.6), (True, None)),
        ("ram", "16GiB", host(7.8), (False, None)),
        ("ssd", "SSD 500GB", host(8, False), (True, None)),
        ("ssd", "SSD 500GB", host(8, True), (False, None)),
        ("ram_ssd", "16GiB+SSD 500GB", host(16, True), (False, None)),
        ("ram_ssd", "16GiB+SSD 500GB", host(16, False), (True, None)),
        ("replace", "office-desktop", host(8, False, 2), (False, None)),  # a refit, not new
        ("replace", "office-desktop", host(8, False, 8), (True, None)),
    ],
)
def test_a_host_shows_a_change_when_its_inventory_does(
    kind: str, target: str, state: HostState, shown: tuple[bool, float | None]
) -> None:
    assert shows_change(plan(kind, target), state, CATALOG, PARAMS) == shown


def test_a_rollout_counts_the_hosts_still_enrolled() -> None:
    states = {
        "h1": HostState("h1", 8, False, 4, (("3.0", 10.0),)),
        "h2": HostState("h2", 8, False, 4, (("2.0", 1.0),)),
    }

    found = check_rollout(plan("upgrade", "3.0"), states, CATALOG, PARAMS)

    assert found.changed == {"h1": 10.0}
    assert (found.waiting, found.gone) == (("h2",), ("h3",))
    assert found.share == 0.5
    assert found.detail() == {"changed": ["h1"], "waiting": ["h2"], "gone": ["h3"], "share": 0.5}


def test_a_pilot_is_its_pilot_group() -> None:
    document = {
        "hosts": {"hostnames": ["a", "b", "c"]},
        "target_version": "3.0",
        "from_version": "2.0",
        "pilot": {"hostnames": ["b"], "days": 21},
    }

    found = Plan.of(
        key="k",
        kind="upgrade",
        app="app0",
        target="3.0",
        hosts=["h1", "h2", "h3"],
        departments=["it"],
        document=document,
    )

    assert (found.hosts, found.pilot, found.days, found.predicted) == (("h2",), True, 21, None)


def test_the_measurement_splits_each_host_at_its_change() -> None:
    codes = {"h1": 0, "h2": 1, "h3": 2, "other": 3, "early": 4}
    decided, rolled = 100 * DAY + 5, 104 * DAY + 5

    design = verification_design(
        plan("upgrade", "3.0"),
        {"h1": 102 * DAY + 3600, "h2": None},
        host_codes=codes,
        decided_at=decided,
        rolled_out_at=rolled,
        late=["h3"],
        own_changes={"early": 90 * DAY, "unknown": 1.0},
    )

    assert design.treated.tolist() == [True, True, False, False, False]
    # h1 at its change's day; h2 (time unknown) from the decision to the rollout seen.
    assert design.before_until.tolist() == [102, 100, 100, NEVER, 90]
    assert design.after_from.tolist()[:2] == [103, 105]
    assert np.all(design.after_from[2:] == NEVER)
    assert day_of(decided) == 100


def test_a_rollout_measured_slower_is_a_regression_of_its_version() -> None:
    realised = {
        "share": {"estimate": -0.25, "low": -0.3, "high": -0.2},
        "seconds_before": 2.0,
        "hosts": 2,
    }

    found = rollback_finding(
        plan("upgrade", "3.0"),
        realised,
        hosts=["h2", "h1"],
        departments=["sales", "finance", "sales"],
        since=5.0,
        detected_at=9.0,
    )

    assert found is not None
    assert found.key == "version_change|app0|from_version=2.0|version=3.0"
    assert (found.kind, found.cause, found.direction) == ("version_change", "version", "slower")
    assert (found.effect.estimate, found.effect.low, found.effect.high) == (0.25, 0.2, 0.3)
    assert found.hosts == ("h1", "h2")
    assert found.departments == ("finance", "sales")
    assert found.evidence.before.p50 == 2.0
    assert math.isclose(found.evidence.after.p50, 2.5)


def test_hardware_has_no_rollback() -> None:
    realised = {"share": {"estimate": -0.2, "low": -0.3, "high": -0.1}, "seconds_before": 1.0}

    assert (
        rollback_finding(
            plan("ssd", "SSD 500GB"), realised, hosts=["h1"], departments=[], since=0, detected_at=0
        )
        is None
    )
