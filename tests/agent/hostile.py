"""The recorded ``desktop`` machine and Debian 12 package lists, salted with hostile strings.

Each salt is something a real machine can hold: firmware that pads DMI strings with control
characters or writes terminal escapes into them, a model string hundreds of characters long,
a USB stick mounted at a path with a newline (udisks names mount points after volume labels),
a package built with an escape sequence in its name, a card reader claiming exabytes. The
agent must turn them into a batch the advisor accepts.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import FIXTURES

ESC = "\x1b"
LONG_MOUNT = "/mnt/" + "deep/" * 250  # 1,255 characters: more than a label value may hold

# /proc/mounts lines as the kernel writes them: it escapes space, tab, newline and backslash
# as octal, and passes other bytes (ESC, UTF-8) through.
HOSTILE_MOUNTS = (
    "/dev/sdc1 /media/alice/USB\\012STICK ext4 rw,relatime 0 0\n"
    f"/dev/sdd1 /media/alice/{ESC}[31mRED{ESC}[0m vfat rw,relatime 0 0\n"
    "/dev/sde1 /media/alice/caf\u00e9\u202etxt.exe exfat rw,relatime 0 0\n"
    f"/dev/sdf1 {LONG_MOUNT} ext4 rw,relatime 0 0\n"
)

HOSTILE_DPKG = (
    f"evil{ESC}[2J\t1.0{ESC}[0m\tamd64\tii \n"
    f"long-version\t{'1.' * 200}0\tamd64\tii \n"
    f"{'p' * 300}\t1.0\tamd64\tii \n"
    f"bidi\u202egpj.exe\t2.0\u2066\tall\tii \n"
)
HOSTILE_APT = (
    f"evil{ESC}[2J/stable{ESC} 2.0 amd64{ESC} [upgradable from: 1.0{ESC}[0m]\n"
    f"long-origin/{'stable,' * 60}stable 2.0 amd64 [upgradable from: 1.0]\n"
)


@dataclass(frozen=True)
class Machine:
    proc: Path
    sys: Path
    etc: Path


def hostile_machine(root: Path) -> Machine:
    """A copy of the ``desktop`` fake machine under ``root``, salted."""
    machine = Machine(root / "proc", root / "sys", root / "etc")
    for tree, path in (("proc", machine.proc), ("sys", machine.sys), ("etc", machine.etc)):
        shutil.copytree(FIXTURES / tree / "desktop", path)

    dmi = machine.sys / "class" / "dmi" / "id"
    (dmi / "sys_vendor").write_text(f"Dell{ESC}[31m Inc.\x00\x07\n")
    (dmi / "product_name").write_text("OptiPlex\u202e 7050 " + "\u03a9" * 300 + "\n")
    (dmi / "bios_date").write_text("09/14/2022" + "\x01" * 80 + "\n")
    model = machine.sys / "block" / "sda" / "device" / "model"
    model.write_text(f"Samsung\tSSD 870{ESC}[K\x7f\n")
    # A broken card reader that claims 2^70 bytes.
    card = machine.sys / "block" / "sdz"
    (card / "device").mkdir(parents=True)
    (card / "size").write_text(f"{2**61}\n")

    cpufreq = machine.sys / "devices" / "system" / "cpu" / "cpu0" / "cpufreq"
    (cpufreq / "cpuinfo_max_freq").write_text(f"{10**12}\n")  # a gigahertz million
    cpuinfo = machine.proc / "cpuinfo"
    cpuinfo.write_text(
        cpuinfo.read_text()
        .replace("model name\t: ", f"model name\t: {ESC}]0;pwned\x07", 1)
        .replace("cpu MHz\t\t: ", "cpu MHz\t\t: nan\n#", 1)
    )
    meminfo = machine.proc / "meminfo"
    meminfo.write_text(meminfo.read_text().replace("SwapTotal:", f"SwapTotal: {2**60}\n#", 1))
    (machine.proc / "sys" / "kernel" / "osrelease").write_text("6.1.0-28-amd64\x01\u2028-\n")
    mounts = machine.proc / "mounts"
    mounts.write_text(mounts.read_text() + HOSTILE_MOUNTS)
    os_release = machine.etc / "os-release"
    os_release.write_text(
        os_release.read_text().replace('NAME="Debian GNU/Linux"', f'NAME="Debian{ESC}[1m\x7f"')
    )
    return machine
