from __future__ import annotations

from pathlib import Path

from agent.collectors.base import Sample
from agent.collectors.network import (
    InterfaceCounters,
    NetworkCollector,
    network_samples,
    parse_net_dev,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def _values(samples: list[Sample]) -> dict[str, float]:
    return {sample.name: sample.value for sample in samples}


def test_it_reads_bytes_and_errors_of_every_interface() -> None:
    interfaces = parse_net_dev((FIXTURES / "proc" / "desktop" / "net" / "dev").read_text())

    assert set(interfaces) == {"lo", "enp3s0", "wlp2s0", "docker0", "veth1a2b3c"}
    assert interfaces["wlp2s0"] == InterfaceCounters(50000000, 10000000, errors=2)


def test_it_reads_lines_where_a_long_name_touches_the_counters() -> None:
    line = "bridge0:1234 5 0 0 0 0 0 0 4321 5 1 0 0 0 0 0"

    assert parse_net_dev(line) == {"bridge0": InterfaceCounters(1234, 4321, errors=1)}


def test_it_sums_rates_over_interfaces_seen_twice_and_skips_reset_ones() -> None:
    before = {"a": InterfaceCounters(100, 50, 0), "b": InterfaceCounters(1000, 1000, 4)}
    after = {
        "a": InterfaceCounters(600, 150, 2),
        "b": InterfaceCounters(10, 10, 0),  # re-created: counters restarted
        "c": InterfaceCounters(999, 999, 9),  # appeared during the period
    }

    assert _values(network_samples(before, after, 2.0)) == {
        "network_receive_bytes_per_second": 250.0,
        "network_transmit_bytes_per_second": 50.0,
        "network_errors_per_second": 1.0,
    }


def test_it_counts_physical_interfaces_only(proc_root: Path, sys_root: Path) -> None:
    collector = NetworkCollector(proc_root=proc_root, sys_root=sys_root)
    dev = proc_root / "net" / "dev"

    first = collector.collect(0.0)
    header = dev.read_text().splitlines()[:2]
    dev.write_text(
        "\n".join(
            [
                *header,
                "    lo: 9000000 9000 0 0 0 0 0 0 9000000 9000 0 0 0 0 0 0",
                "enp3s0: 1005000000 1005000 4 0 0 0 0 0 201000000 201000 1 0 0 0 0 0",
                "wlp2s0: 51000000 51000 2 0 0 0 0 0 10500000 10500 2 0 0 0 0 0",
                "docker0: 99000000 99000 7 0 0 0 0 0 99000000 99000 7 0 0 0 0 0",
                "veth1a2b3c: 99000000 99000 7 0 0 0 0 0 99000000 99000 7 0 0 0 0 0",
            ]
        )
        + "\n"
    )
    second = _values(collector.collect(5.0))

    assert first == []
    assert second == {
        "network_receive_bytes_per_second": 6_000_000 / 5,
        "network_transmit_bytes_per_second": 1_500_000 / 5,
        "network_errors_per_second": 5 / 5,
    }
