"""Scenarios from TOML: what a file sets is used, mistakes are named with file and key."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from advisor.simulator import load_scenario, plan_fleet
from advisor.simulator.errors import ScenarioError
from advisor.simulator.scenario import (
    DEFAULT_APPS,
    Realism,
    Scenario,
    default_scenario,
    scale_scenario,
)
from advisor.simulator.scenario_file import TABLES, scenario_from_dict, scenario_to_toml
from tests.conftest import REPO

from .fleets import CHAINS, MONDAY, OUTSIDE_FLEET

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

ROLLOUT = '[[rollouts]]\nid = "r"\napp = "evince"\nto_version = "2"\nstart = 0.5\nramp = 0.1\n'


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


def test_the_outside_fleet_file_sets_every_texture_of_issue_13() -> None:
    scenario = load_scenario(OUTSIDE_FLEET)
    rollout = scenario.rollouts[0]
    assert (rollout.cold_effect, rollout.warm_effect) == (0.35, 0.0)
    assert rollout.pilot_departments == ("pilot",)
    pressure = scenario.memory_pressure[0]
    assert (pressure.hosts, pressure.apps, pressure.effect) == (19, ("firefox",), 0.5)
    assert scenario.holidays[0].date == "2025-10-03"  # a TOML date, read as its ISO text
    assert scenario.reinstalls[0].count == 1
    old = [t for t in scenario.tiers if t.cohort == "old"]
    assert [(t.disk, t.memory_gb, t.cpu) for t in old] == [("hdd", 4, "low")]
    assert scenario.realism.time_zone == "Europe/Berlin"
    assert scenario.realism.agent_offline_share > Realism().agent_offline_share
    assert scenario.realism.skewed_clock_share > 0


@pytest.mark.parametrize(
    "scenario",
    [default_scenario(), scale_scenario(), load_scenario(OUTSIDE_FLEET), CHAINS],
    ids=["default", "scale", "outside-fleet", "chains"],
)
def test_a_scenario_written_to_toml_reads_back_equal(scenario: Scenario, tmp_path: Path) -> None:
    path = tmp_path / "written.toml"
    path.write_text(scenario_to_toml(scenario))
    assert load_scenario(path) == scenario


def test_per_start_kind_effects_may_replace_the_effect() -> None:
    data = tomllib.loads(ROLLOUT + "cold_effect = 0.35\nwarm_effect = 0.0\n")
    rollout = scenario_from_dict(data, source="x.toml").rollouts[0]
    assert rollout.effect is None
    assert (rollout.cold_effect, rollout.warm_effect) == (0.35, 0.0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("colour = 1", "bad.toml: unknown key 'colour'"),
        ("[[rollout]]\nid = 'x'", "bad.toml: unknown key 'rollout'; did you mean 'rollouts'?"),
        ("[[apps]]\nname = 'x'", "bad.toml: apps[0]: missing key 'package'"),
        (
            ROLLOUT + "efect = 0.3",
            "bad.toml: rollouts[0]: unknown key 'efect'; did you mean 'effect'?",
        ),
        (
            ROLLOUT + "cold_effect = 0.3",
            "bad.toml: rollouts[0]: missing key 'effect' (or both 'cold_effect' and 'warm_effect')",
        ),
        (
            "[realism]\nalways_on_share = 'yes'",
            "bad.toml: realism.always_on_share: must be a number, not 'yes'",
        ),
        ("[realism]\nalways_on_share = 1.5", "bad.toml: realism.always_on_share: a share, 0..1"),
        (
            "[realism]\ntime_zone = 'Mars/Olympus'",
            "bad.toml: realism.time_zone: no time zone 'Mars/Olympus'",
        ),
        ("[realism]\nwork_hours = [18, 8]", "bad.toml: realism.work_hours: [from, to]"),
        ("[realism]\nwork_hours = [8]", "bad.toml: realism.work_hours: must be an array of 2"),
        (
            "[[disk_fills]]\nid = 'd'\neffect = 0.1\nstart = 2.0\nramp = 0.1",
            "bad.toml: disk_fills[0].start: a fraction of the run, 0..1, not 2.0",
        ),
        (ROLLOUT + "effect = -1.5", "bad.toml: rollouts[0].effect: a relative change above -1"),
        (ROLLOUT + "effect = 0.2\nshare = 2", "bad.toml: rollouts[0].share: a share, 0..1"),
        (
            ROLLOUT + "effect = 0.2\nfrom_version = '1'",
            "bad.toml: rollouts[0].from_version: evince never has '1'; versions: 43.1-2+b1",
        ),
        (
            ROLLOUT + "effect = 0.2\nfrom_version = '2'",
            "bad.toml: rollouts[0].from_version: '2' is the version it installs (to_version)",
        ),
        (
            ROLLOUT + "effect = 0.2\ndepartments = 'hr'",
            "bad.toml: rollouts[0].departments: must be an array, not 'hr'",
        ),
        (
            ROLLOUT + "effect = 0.2\npilot_departments = ['pilots']",
            "bad.toml: rollouts[0].pilot_departments: no department 'pilots'",
        ),
        (
            ROLLOUT
            + "effect = 0.2\n"
            + ROLLOUT.replace('app = "evince"', 'app = "nope"')
            + "effect = 0.1",
            "bad.toml: rollouts[1].id: 'r' is already the id of rollouts[0]",
        ),
        (
            "[[memory_pressure]]\nid = 'm'\neffect = 0.5\nstart = 0.1\nramp = 0.1\nhosts = 1.5",
            "bad.toml: memory_pressure[0].hosts: must be a whole number, not 1.5",
        ),
        (
            "[[memory_pressure]]\nid = 'm'\neffect = 0.5\nstart = 0.1\nramp = 0.1\napps = ['x']",
            "bad.toml: memory_pressure[0].apps: no app 'x'",
        ),
        (
            "[[tiers]]\nname = 't'\nshare = 1\ndisk = 'nvme'\nmemory_gb = 8\ncpu = 'mid'",
            "bad.toml: tiers[0].disk: must be one of 'ssd', 'hdd', not 'nvme'",
        ),
        (
            "[[holidays]]\nid = 'h'\ndate = '2025-13-01'",
            "bad.toml: holidays[0].date: must be an ISO date (2025-10-03) or a fraction",
        ),
        (
            "[[holidays]]\nid = 'h'\ndate = 3",
            "bad.toml: holidays[0].date: must be an ISO date (2025-10-03) or a fraction",
        ),
        ("[[reinstalls]]\nid = 'r'\nat = 0.5\ncount = 0", "bad.toml: reinstalls[0].count"),
        ("rollouts = 3", "bad.toml: rollouts: must be an array of tables ([[rollouts]])"),
        ("name = [", "bad.toml: not valid TOML"),
    ],
)
def test_a_wrong_scenario_file_is_one_line_naming_the_file_the_table_and_the_key(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ScenarioError, match=re.escape(message)) as raised:
        load_scenario(path)
    assert str(raised.value).startswith(str(path))
    assert "\n" not in str(raised.value)


def test_a_missing_scenario_file_says_it_cannot_be_read(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"cannot read scenario file .*nope\.toml"):
        load_scenario(tmp_path / "nope.toml")


def test_every_scenario_key_is_in_the_writing_guide() -> None:
    guide = (REPO / "docs" / "simulator.md").read_text()
    section = guide[guide.index("## Writing a scenario") :].split("\n## ", 1)[0]
    tables = section.split("\n### ")[1:]  # each: a heading line, then a table of keys
    headings: list[tuple[str, type[Any]]] = [(f"[[{t}]]", c) for t, c in TABLES.items()]
    headings.append(("[realism]", Realism))
    missing = [
        f"{heading} {f.name}"
        for heading, cls in headings
        for f in dataclasses.fields(cls)
        if not any(f"`{heading}`" in t.split("\n", 1)[0] and f"| `{f.name}` |" in t for t in tables)
    ]
    assert not missing, f"keys missing from docs/simulator.md: {missing}"


def test_the_guides_chained_and_bad_rollouts_example_plans_as_it_says() -> None:
    guide = (REPO / "docs" / "simulator.md").read_text()
    section = guide[guide.index("#### Chained and bad rollouts") :]
    example = section.split("```toml\n", 1)[1].split("```", 1)[0]
    scenario = scenario_from_dict(tomllib.loads(example), source="guide.toml")
    assert scenario.rollouts[2].from_version == "4:26.2.3-1"
    fleet = plan_fleet(scenario, hosts=60, days=20, seed=2, start=MONDAY, interval=3600)
    moves = {
        (c.from_version, c.to_version) for c in fleet.version_changes if c.app == "libreoffice"
    }
    assert moves == {("4:26.2.2-1", "4:26.2.3-1"), ("4:26.2.3-1", "4:26.2.5-1")}
    late = [c for c in fleet.version_changes if c.event_id == "thunderbird-140.4"]
    assert late
    assert all(c.effect == 0.3 for c in late)
