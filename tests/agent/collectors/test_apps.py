from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from agent.collectors.apps import AppCollector, AppUsage, add_up, usage_samples
from agent.collectors.base import Sample
from agent.config import AppConfig
from agent.processes import ProcessUsage

TICKS = 100
PAGE = 4096
APPS = (
    AppConfig(name="firefox", process_names=("firefox",)),
    AppConfig(name="toolbox", process_names=("jetbrains-toolbox",)),
    AppConfig(name="erp", process_names=("java",), cmdline_pattern=r"erp-client\.jar"),
    AppConfig(name="libreoffice", process_names=("soffice.bin",)),
)


def _write_process(
    root: Path,
    pid: int,
    comm: str,
    ppid: int,
    cpu: tuple[int, int],
    start: int,
    rss: int,
    argv: list[str],
) -> None:
    directory = root / str(pid)
    directory.mkdir(exist_ok=True)
    utime, stime = cpu
    (directory / "stat").write_text(
        f"{pid} ({comm}) S {ppid} {pid} {pid} 0 -1 4194560 1200 0 3 0 {utime} {stime} 0 0 20 0 "
        f"1 0 {start} 310000000 {rss} 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 "
        "0 0 0 0 0 0 0 0 0 0 0 0 0\n"
    )
    (directory / "statm").write_text(f"{rss * 3} {rss} {rss // 4} 12 0 {rss // 2} 0\n")
    (directory / "comm").write_text(comm + "\n")
    (directory / "cmdline").write_bytes(b"".join(arg.encode() + b"\0" for arg in argv))


def _by_app(samples: list[Sample]) -> dict[tuple[str, str], float]:
    return {(sample.name, dict(sample.labels)["app"]): sample.value for sample in samples}


def _collector(proc_root: Path, apps: tuple[AppConfig, ...] = APPS) -> AppCollector:
    return AppCollector(apps, proc_root=proc_root, clock_ticks=TICKS, page_size=PAGE)


# --- parsing and pure logic --------------------------------------------------------------------


def test_it_reports_every_app_and_cpu_only_when_there_was_a_period() -> None:
    usage = {"firefox": AppUsage(cpu_seconds=4.5, rss_bytes=10 * PAGE, processes=2)}

    first = _by_app(usage_samples(["firefox", "erp"], usage, None))
    later = _by_app(usage_samples(["firefox", "erp"], usage, 5.0))

    assert first == {
        ("app_rss_bytes", "firefox"): 10 * PAGE,
        ("app_processes", "firefox"): 2,
        ("app_rss_bytes", "erp"): 0,
        ("app_processes", "erp"): 0,
    }
    assert later[("app_cpu_utilization_ratio", "firefox")] == pytest.approx(0.9)
    assert later[("app_cpu_utilization_ratio", "erp")] == 0.0


def test_it_counts_only_the_cpu_spent_since_the_previous_reading() -> None:
    readings = {
        10: ("firefox", ProcessUsage(start=1, cpu_seconds=12.0, rss_bytes=100)),
        11: ("firefox", ProcessUsage(start=2, cpu_seconds=0.5, rss_bytes=50)),  # new
        20: ("erp", ProcessUsage(start=3, cpu_seconds=3.0, rss_bytes=7)),  # counter went back
    }

    usage = add_up(readings, {10: 10.0, 20: 4.0})

    assert usage == {
        "firefox": AppUsage(cpu_seconds=2.5, rss_bytes=150, processes=2),
        "erp": AppUsage(cpu_seconds=0.0, rss_bytes=7, processes=1),
    }


# --- against the fake /proc --------------------------------------------------------------------


def test_it_counts_whole_process_trees_and_leaves_unrelated_processes_out(
    proc_root: Path,
) -> None:
    samples = _by_app(_collector(proc_root).collect(0.0))

    assert samples == {
        ("app_rss_bytes", "firefox"): (100000 + 50000 + 40000 + 200) * PAGE,
        ("app_processes", "firefox"): 4,
        ("app_rss_bytes", "toolbox"): 30000 * PAGE,
        ("app_processes", "toolbox"): 1,
        ("app_rss_bytes", "erp"): 80000 * PAGE,
        ("app_processes", "erp"): 1,
        ("app_rss_bytes", "libreoffice"): 0,
        ("app_processes", "libreoffice"): 0,
    }


def test_it_follows_cpu_of_the_tree_as_processes_come_and_go(proc_root: Path) -> None:
    collector = _collector(proc_root)
    collector.collect(100.0)

    shutil.rmtree(proc_root / "2051")  # vanished: no longer counted
    _write_process(proc_root, 2000, "firefox", 812, (5200, 1100), 10000, 100000, ["firefox"])
    _write_process(proc_root, 2050, "Web Content", 2000, (2100, 400), 10100, 50000, ["x"])
    # Started during the period, under a child: all of its 50 ticks count.
    _write_process(proc_root, 2080, "RDD Process", 2050, (40, 10), 10500, 1000, ["x"])
    samples = _by_app(collector.collect(105.0))

    assert samples[("app_cpu_utilization_ratio", "firefox")] == pytest.approx(
        (300 + 100 + 50) / TICKS / 5
    )
    assert samples[("app_processes", "firefox")] == 4
    assert samples[("app_rss_bytes", "firefox")] == (100000 + 50000 + 200 + 1000) * PAGE
    assert samples[("app_cpu_utilization_ratio", "toolbox")] == 0.0
    assert samples[("app_cpu_utilization_ratio", "libreoffice")] == 0.0


def test_it_reads_processes_outside_watched_apps_only_once(proc_root: Path) -> None:
    collector = _collector(proc_root)
    collector.collect(0.0)

    # Were the unrelated java process read again, it would now count as the erp app.
    _write_process(proc_root, 3200, "java", 812, (1, 1), 12100, 99, ["java", "erp-client.jar"])
    samples = _by_app(collector.collect(5.0))

    assert samples[("app_processes", "erp")] == 1


def test_it_classifies_a_reused_pid_of_an_app_afresh(proc_root: Path) -> None:
    collector = _collector(proc_root)
    collector.collect(0.0)

    # Pid 3100 ended and the kernel gave its number to an unrelated java process.
    _write_process(proc_root, 3100, "java", 812, (5, 5), 13000, 500, ["java", "-jar", "tool.jar"])
    samples = _by_app(collector.collect(5.0))

    assert samples[("app_processes", "erp")] == 0
    assert samples[("app_cpu_utilization_ratio", "erp")] == 0.0


def test_it_finds_a_process_by_its_executable_when_comm_is_cut(proc_root: Path) -> None:
    _write_process(proc_root, 5000, "slack-desktop-a", 812, (1, 1), 14000, 700, ["--x"])
    (proc_root / "5000" / "exe").symlink_to("/usr/lib/slack/slack-desktop-app")
    apps = (AppConfig(name="slack", process_names=("slack-desktop-app",)),)

    samples = _by_app(_collector(proc_root, apps).collect(0.0))

    assert samples == {("app_rss_bytes", "slack"): 700 * PAGE, ("app_processes", "slack"): 1}


def test_it_does_nothing_without_watched_apps(tmp_path: Path) -> None:
    # tmp_path/missing does not exist: listing it would raise.
    assert _collector(tmp_path / "missing", ()).collect(0.0) == []


def test_it_counts_all_the_time_of_a_new_process_on_a_reused_pid(proc_root: Path) -> None:
    collector = _collector(proc_root)
    collector.collect(0.0)

    # The toolbox (1000 ticks so far) ended; a new instance got its pid and ran 50 ticks.
    _write_process(
        proc_root, 3000, "jetbrains-toolb", 812, (40, 10), 13500, 30000, ["jetbrains-toolbox"]
    )
    samples = _by_app(collector.collect(5.0))

    assert samples[("app_cpu_utilization_ratio", "toolbox")] == pytest.approx(50 / TICKS / 5)
