"""The cohort model's view of pressure: each host-week's rise against the host's own first
period (a tier's standing pressure is part of what the tier does), and calm weeks only where
every pressure the fleet reports was measured."""

from __future__ import annotations

import numpy as np

from advisor.analysis.cohorts import WEEK_DAYS, weekly_pressure
from advisor.analysis.daily import daily_of
from advisor.analysis.fleet import FleetParameters
from advisor.analysis.fleet_cells import build_cells, pressure_grid, working_days
from tests.advisor.analysis.fleetframes import MemoryPressure, Spec, build

PARAMS = FleetParameters()


def rises_and_calm(spec: Spec) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    data = build(spec)
    cells = build_cells(daily_of(data), now=spec.now, horizon_days=PARAMS.horizon_days)
    working = working_days(cells, PARAMS.working_day_share)
    grid = pressure_grid(data, day0=cells.day0, days=cells.days, working=working)
    weeks = cells.days // WEEK_DAYS + 1
    rise, calm = weekly_pressure(grid, cells, weeks, PARAMS)
    return rise.reshape(-1, weeks, 4), calm.reshape(-1, weeks), grid, cells.first_day // 7


def test_a_tiers_standing_io_pressure_is_no_rise() -> None:
    # HDD hosts wait on their disks all the time: a higher io PSI from the first day on.
    rise, calm, grid, first = rises_and_calm(Spec(hosts=30, seed=1, hdd_share=0.5, hdd_io=0.03))
    hdd = np.nanmean(grid[:, :, 2], axis=1) > 0.03
    weeks = slice(first, first + 8)

    assert 5 <= hdd.sum() <= 25
    assert np.abs(rise[hdd, weeks, 2]).max() < 0.005
    assert calm[:, weeks].all()


def test_a_rising_pressure_is_a_rise_and_its_weeks_are_not_calm() -> None:
    spec = Spec(hosts=30, seed=2, low_ram_share=0.4, memory=MemoryPressure(day=25, ramp_days=5))
    rise, calm, grid, first = rises_and_calm(spec)
    hit = np.nanmax(grid[:, :, 0], axis=1) > 0.1

    assert hit.any()
    assert not hit.all()
    assert (rise[hit, first + 6, 0] > 0.25).all()
    assert not calm[hit, first + 6].any()
    assert calm[~hit, first + 6].all()


def test_a_host_that_reports_no_psi_has_no_calm_week() -> None:
    rise, calm, grid, first = rises_and_calm(Spec(hosts=30, seed=3, no_psi_share=0.3))
    no_psi = np.isnan(grid[:, :, 0]).all(axis=1)

    assert 3 <= no_psi.sum() <= 20
    assert not calm[no_psi].any()
    assert calm[~no_psi, first : first + 8].all()
    assert (rise[no_psi, :, 0] == 0).all()
