"""Scenarios from TOML: what a file sets is used, mistakes are named with file and key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from advisor.simulator import load_scenario, plan_fleet
from advisor.simulator.errors import ScenarioError
from advisor.simulator.scenario import DEFAULT_APPS

SCENARIO = """
name = "office-upgrade"

[[departments]]
name = "legal"
share = 1.0

[[rollouts]]
id = "evince-44"
app = "evince"
to_version = "44.0-1"
effect = -0.3
start = 0.5
ramp = 0.1
departments = ["legal"]

[realism]
always_on_share = 1.0
missing_interval_rate = 0.0
"""


def test_a_scenario_file_overrides_what_it_names_and_keeps_default_apps(tmp_path: Path) -> None:
    path = tmp_path / "office.toml"
    path.write_text(SCENARIO)
    scenario = load_scenario(path)
    assert scenario.name == "office-upgrade"
    assert scenario.apps == DEFAULT_APPS
    assert [d.name for d in scenario.departments] == ["legal"]
    assert scenario.rollouts[0].departments == ("legal",)
    assert scenario.memory_pressure == ()
    assert scenario.realism.always_on_share == 1.0
    fleet = plan_fleet(scenario, hosts=10, days=2, seed=1, start=1_762_128_000.0, interval=3600)
    assert {c.to_version for c in fleet.version_changes} == {"44.0-1"}
    assert len(fleet.version_changes) == 10  # always on: every host upgrades on schedule


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("colour = 1", "unknown key 'colour'"),
        ("[[apps]]\nname = 'x'", "apps[0]: missing key 'package'"),
        ("[realism]\nalways_on_share = 'yes'", "always_on_share must be a number"),
        ("[[disk_fills]]\nid = 'd'\neffect = 0.1\nstart = 2.0\nramp = 0.1", "fraction of the run"),
        ("name = [", "not valid TOML"),
    ],
)
def test_a_wrong_scenario_file_names_the_file_and_the_key(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ScenarioError, match=re.escape(message)) as raised:
        load_scenario(path)
    assert str(path) in str(raised.value)
