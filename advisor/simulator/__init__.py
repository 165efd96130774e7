"""The fleet simulator: realistic agent batches with scripted events and their ground truth.

    fleet = plan_fleet(default_scenario(), hosts=20, days=3, seed=1, start=T0, interval=3600)
    for delivery in simulate(fleet):          # lazily, in order of arrival at the advisor
        store.ingest(delivery.host_id, delivery.batch, received_at=delivery.delivered_at,
                     sent_at=delivery.sent_at)
    write_truth(ground_truth(fleet), Path("truth.json"))

Modules: ``scenario`` (what happens, as data) and ``scenario_file`` (from TOML), ``calendar``
(local time: time zone, daylight saving, holidays), ``fleet`` (hosts and the schedule: the
truth), ``loadtime`` (the noise-free median load time), ``launches`` and ``resources`` (the
measurements), ``counterfactual`` (the median under other hardware or another version: the
true saving of an upgrade), ``inventory``, ``generate`` (batches in delivery order),
``truth`` (JSON), ``sinks`` (store or HTTP), ``columnar`` (the same model straight to the
analysis frames, for fleets of thousands) and ``evaluation`` (findings scored on the truth:
matching, true effects, interval coverage); the ``fleetsight-advisor simulate`` command lives
in ``advisor/cli/simulate.py``.
docs/simulator.md describes the model.
"""

from __future__ import annotations

from advisor.simulator.counterfactual import Change, median_seconds, true_saving
from advisor.simulator.fleet import Fleet, SimHost, VersionChange, plan_fleet
from advisor.simulator.generate import Delivery, simulate
from advisor.simulator.scenario import Scenario, default_scenario
from advisor.simulator.scenario_file import load_scenario
from advisor.simulator.truth import ground_truth, write_truth

__all__ = [
    "Change",
    "Delivery",
    "Fleet",
    "Scenario",
    "SimHost",
    "VersionChange",
    "default_scenario",
    "ground_truth",
    "load_scenario",
    "median_seconds",
    "plan_fleet",
    "simulate",
    "true_saving",
    "write_truth",
]
