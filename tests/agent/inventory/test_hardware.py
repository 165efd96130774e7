from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from agent.inventory.hardware import (
    disk_kind,
    parse_cpuinfo,
    parse_os_release,
    read_disks,
    read_hardware,
)
from agent.shared.wire import Disk, Hardware
from tests.agent.hostile import hostile_machine

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def _read(machine: str, **overrides: Path) -> Hardware:
    roots = {
        "proc_root": FIXTURES / "proc" / machine,
        "sys_root": FIXTURES / "sys" / machine,
        "etc_root": FIXTURES / "etc" / machine,
    }
    roots.update(overrides)
    return read_hardware(**roots, machine=lambda: "x86_64")


def test_it_reads_a_desktop_with_an_ssd_an_hdd_a_card_and_full_dmi() -> None:
    assert _read("desktop") == Hardware(
        cpu_model="Intel(R) Core(TM) i7-7700 CPU @ 3.60GHz",
        cpu_cores=4,
        cpu_threads=8,
        cpu_max_mhz=4200.0,
        memory_bytes=16384000 * 1024,
        swap_bytes=2097148 * 1024,
        disks=[
            Disk(
                name="mmcblk0",
                kind="unknown",
                size_bytes=62333952 * 512,
                model=None,
                rotational=None,
            ),
            Disk(
                name="sda",
                kind="ssd",
                size_bytes=976773168 * 512,
                model="Samsung SSD 870 EVO 500GB",
                rotational=False,
            ),
            Disk(
                name="sdb",
                kind="hdd",
                size_bytes=3907029168 * 512,
                model="ST2000DM008-2FR102",
                rotational=True,
            ),
        ],
        machine_vendor="Dell Inc.",
        machine_model="OptiPlex 7050",
        bios_date="09/14/2022",
        os_name="Debian GNU/Linux",
        os_version="12",
        kernel="6.1.0-28-amd64",
        arch="x86_64",
    )


def test_it_reads_a_virtual_machine_with_nvme_and_no_dmi_or_cpufreq() -> None:
    assert _read("nvme-vm") == Hardware(
        cpu_model="AMD EPYC",
        cpu_cores=2,  # no physical id / core id: threads stand in for cores
        cpu_threads=2,
        cpu_max_mhz=2445.432,
        memory_bytes=8152000 * 1024,
        swap_bytes=0,
        disks=[
            Disk(
                name="nvme0n1",
                kind="ssd",
                size_bytes=1000215216 * 512,
                model="Amazon Elastic Block Store",
                rotational=False,
            )
        ],
        machine_vendor=None,
        machine_model=None,
        bios_date=None,
        os_name="Ubuntu",
        os_version="24.04",
        kernel="6.8.0-1017-aws",
        arch="x86_64",
    )


def test_it_leaves_out_what_is_missing_rather_than_failing(tmp_path: Path) -> None:
    proc = tmp_path / "proc"
    proc.mkdir()
    (proc / "meminfo").write_text("MemTotal: 1024 kB\n")

    hardware = _read("desktop", proc_root=proc, sys_root=tmp_path, etc_root=tmp_path)

    assert hardware.memory_bytes == 1024 * 1024
    assert hardware.swap_bytes == 0
    assert (hardware.cpu_model, hardware.cpu_cores, hardware.cpu_threads) == (None, None, None)
    assert (hardware.cpu_max_mhz, hardware.kernel, hardware.os_name) == (None, None, None)
    assert hardware.disks == []


def test_it_raises_when_meminfo_is_unreadable(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        _read("desktop", proc_root=tmp_path)


def test_it_treats_firmware_placeholders_as_unknown(tmp_path: Path) -> None:
    sys_root = tmp_path / "sys"
    shutil.copytree(FIXTURES / "sys" / "desktop", sys_root)
    (sys_root / "class" / "dmi" / "id" / "product_name").write_text("To Be Filled By O.E.M.\n")
    (sys_root / "class" / "dmi" / "id" / "bios_date").unlink()

    hardware = _read("desktop", sys_root=sys_root)

    assert (hardware.machine_vendor, hardware.machine_model, hardware.bios_date) == (
        "Dell Inc.",
        None,
        None,
    )


def test_it_counts_threads_and_distinct_cores_of_a_two_socket_machine() -> None:
    blocks = [
        f"processor\t: {n}\nmodel name\t: Xeon\nphysical id\t: {n // 4}\ncore id\t\t: {n % 2}\n"
        f"cpu MHz\t\t: {1000 + n}.5"
        for n in range(8)
    ]

    assert parse_cpuinfo("\n\n".join(blocks)) == ("Xeon", 4, 8, 1007.5)


def test_it_reads_cpuinfo_of_an_arm_board_without_model_name_or_mhz() -> None:
    text = "processor\t: 0\nBogoMIPS\t: 108.00\n\nprocessor\t: 1\nBogoMIPS\t: 108.00\n\n"

    assert parse_cpuinfo(text) == (None, 2, 2, None)


def test_it_unquotes_os_release_values_and_falls_back_to_pretty_name() -> None:
    text = "# comment\nPRETTY_NAME='Arch Linux'\nID=arch\nBUILD_ID=rolling\nBROKEN=\"x\n"

    assert parse_os_release(text) == ("Arch Linux", None)
    assert parse_os_release('NAME="Fedora Linux"\nVERSION_ID=41\n') == ("Fedora Linux", "41")


def test_it_tells_ssd_from_hdd_by_the_rotational_flag() -> None:
    assert [disk_kind(value) for value in ("0", "1", None, "2")] == [
        "ssd",
        "hdd",
        "unknown",
        "unknown",
    ]


def test_it_skips_virtual_optical_and_empty_block_devices() -> None:
    names = [disk.name for disk in read_disks(FIXTURES / "sys" / "nvme-vm")]

    assert names == ["nvme0n1"]


def test_firmware_strings_come_out_escaped_and_within_the_advisors_limits(
    tmp_path: Path,
) -> None:
    machine = hostile_machine(tmp_path)

    hardware = read_hardware(
        proc_root=machine.proc,
        sys_root=machine.sys,
        etc_root=machine.etc,
        machine=lambda: "x86_64\x1b",
    )

    assert hardware.machine_vendor == "Dell\\x1b[31m Inc.\\x00\\x07"
    assert hardware.machine_model is not None
    assert hardware.machine_model.startswith("OptiPlex\\u202e 7050 \u03a9")
    assert len(hardware.machine_model) == 256
    assert hardware.bios_date is not None
    assert hardware.bios_date.startswith("09/14/2022\\x01")
    assert len(hardware.bios_date) == 64
    assert hardware.cpu_model == "\\x1b]0;pwned\\x07Intel(R) Core(TM) i7-7700 CPU @ 3.60GHz"
    assert hardware.os_name == "Debian\\x1b[1m\\x7f"
    assert hardware.kernel == "6.1.0-28-amd64\\x01\\u2028-"
    assert hardware.arch == "x86_64\\x1b"
    assert [disk.model for disk in hardware.disks if disk.name == "sda"] == [
        "Samsung\\x09SSD 870\\x1b[K\\x7f"
    ]


def test_numbers_outside_the_advisors_range_are_left_out_or_cut(tmp_path: Path) -> None:
    machine = hostile_machine(tmp_path)

    hardware = _read("desktop", proc_root=machine.proc, sys_root=machine.sys)

    assert "sdz" not in [disk.name for disk in hardware.disks]  # claims 2^70 bytes
    # cpufreq says a million GHz, one cpuinfo line says NaN: the other lines' highest is left.
    assert hardware.cpu_max_mhz == 1500.0
    assert hardware.swap_bytes == 2**50


def test_a_cpu_mhz_of_nan_is_no_speed() -> None:
    text = "processor\t: 0\nmodel name\t: X\ncpu MHz\t\t: nan\n"

    assert parse_cpuinfo(text) == ("X", 1, 1, None)
