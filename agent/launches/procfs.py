"""Reading the few /proc files the launch watcher needs, one small read each.

Listening ports are the exception: /proc/net/tcp walks the kernel's whole connection table
(about 5 ms of CPU per file here, whatever the number of sockets), so on the live system
they are asked of the kernel's socket-diagnostics netlink interface, LISTEN sockets only
(about 0.2 ms), falling back to the files where netlink is not allowed.

Parsing is kept in plain functions over text (tested on recorded snippets); :class:`ProcFS`
only opens files under an injected root, so tests can point it at a fake /proc. Methods raise
``FileNotFoundError`` or ``ProcessLookupError`` when the process is gone and
``PermissionError`` when the kernel hides a file from this user (``exe`` and ``maps`` of other
users' processes need ptrace access); callers decide what that means.
"""

from __future__ import annotations

import os
import re
import socket
import struct
import time
import weakref
from dataclasses import dataclass
from pathlib import Path

from agent.collectors.procfs import read_text

LIVE_PROC = Path("/proc")
TCP_LISTEN = "0A"
GONE = (FileNotFoundError, ProcessLookupError)
"""Errors that mean "the process no longer exists"."""

_NETLINK_SOCK_DIAG = 4
_SOCK_DIAG_BY_FAMILY = 20
_NLM_F_REQUEST_DUMP = 0x1 | 0x300
_NLMSG_ERROR, _NLMSG_DONE = 2, 3
_NLMSG_HEADER = struct.Struct("=IHHII")
_TCPF_LISTEN = 1 << 10

_SHARED_OBJECT = re.compile(r"\.so(?:\.[\w.]*)?$")


@dataclass(frozen=True, slots=True)
class ProcStat:
    """The fields of ``/proc/PID/stat`` the watcher uses. Times are clock ticks."""

    pid: int
    comm: str
    state: str
    ppid: int
    majflt: int
    cmajflt: int
    utime: int
    stime: int
    cutime: int
    cstime: int
    starttime: int

    @property
    def cpu_ticks(self) -> int:
        """CPU of the process and of its children it has reaped."""
        return self.utime + self.stime + self.cutime + self.cstime

    @property
    def major_faults(self) -> int:
        """Major page faults of the process and of its children it has reaped."""
        return self.majflt + self.cmajflt

    @property
    def exited(self) -> bool:
        """A zombie (``Z``) or dead (``X``) task has exited, even if not reaped yet."""
        return self.state in ("Z", "X")


def parse_stat(text: str) -> ProcStat:
    """Parse one ``/proc/PID/stat`` line.

    The command name sits in parentheses and may itself contain spaces and parentheses, so
    the fields are split after the LAST closing parenthesis.
    """
    head, _, tail = text.rpartition(")")
    pid_text, _, comm = head.partition(" (")
    fields = tail.split()
    return ProcStat(
        pid=int(pid_text),
        comm=comm,
        state=fields[0],
        ppid=int(fields[1]),
        majflt=int(fields[9]),
        cmajflt=int(fields[10]),
        utime=int(fields[11]),
        stime=int(fields[12]),
        cutime=int(fields[13]),
        cstime=int(fields[14]),
        starttime=int(fields[19]),
    )


def count_shared_objects(maps_text: str) -> int:
    """Distinct shared objects (``*.so``, ``*.so.6``...) mapped, from ``/proc/PID/maps``."""
    paths: set[str] = set()
    for line in maps_text.splitlines():
        parts = line.split(maxsplit=5)
        if len(parts) < 6:
            continue
        mapped = parts[5].removesuffix(" (deleted)")
        if mapped.startswith("/") and _SHARED_OBJECT.search(mapped):
            paths.add(mapped)
    return len(paths)


def parse_listening_ports(tcp_text: str) -> set[int]:
    """Local ports in LISTEN state from ``/proc/net/tcp`` or ``/proc/net/tcp6``."""
    ports: set[int] = set()
    for line in tcp_text.splitlines()[1:]:
        parts = line.split()
        if len(parts) > 3 and parts[3] == TCP_LISTEN:
            ports.add(int(parts[1].rpartition(":")[2], 16))
    return ports


def listen_dump_request(family: int) -> bytes:
    """A sock_diag request for the TCP sockets of ``family`` in LISTEN state."""
    # inet_diag_req_v2: family, protocol, extensions, pad, states, then a zeroed socket id.
    body = struct.pack("=BBBBI48x", family, socket.IPPROTO_TCP, 0, 0, _TCPF_LISTEN)
    length = _NLMSG_HEADER.size + len(body)
    header = _NLMSG_HEADER.pack(length, _SOCK_DIAG_BY_FAMILY, _NLM_F_REQUEST_DUMP, 1, 0)
    return header + body


def parse_diag_ports(data: bytes, ports: set[int]) -> bool:
    """Add the local ports of one buffer of sock_diag answers to ``ports``; True when done."""
    offset = 0
    while offset + _NLMSG_HEADER.size <= len(data):
        length, kind, _, _, _ = _NLMSG_HEADER.unpack_from(data, offset)
        if kind == _NLMSG_DONE:
            return True
        if kind == _NLMSG_ERROR:
            code = -struct.unpack_from("=i", data, offset + _NLMSG_HEADER.size)[0]
            raise OSError(code, os.strerror(code))
        # inet_diag_msg: family, state, timer, retrans, then the socket id, source port first.
        ports.add(struct.unpack_from("!H", data, offset + _NLMSG_HEADER.size + 4)[0])
        offset += (length + 3) & ~3
        if length == 0:
            break
    return False


def parse_newest_pid(loadavg_text: str) -> int:
    """The most recently allocated pid: the last field of ``/proc/loadavg``.

    ``"0.35 0.41 0.39 1/331 48213"`` -> ``48213``.
    """
    return int(loadavg_text.split()[4])


def parse_uptime(text: str) -> float:
    """Seconds since boot from ``/proc/uptime`` (the first of its two numbers)."""
    return float(text.split()[0])


class ProcFS:
    """Reads one /proc tree (the live one by default)."""

    def __init__(self, root: Path = LIVE_PROC, clock_ticks: int | None = None):
        self.root = root
        self._prefix = f"{root}/"
        self.clock_ticks = clock_ticks or os.sysconf("SC_CLK_TCK")
        self._netlink = True
        self._loadavg_fd: int | None = None
        self._closer: weakref.finalize[..., ProcFS] | None = None

    def pids(self) -> list[int]:
        """Every process id: the numeric names in the root, about a microsecond each.

        ``listdir`` rather than ``scandir``: no entry objects, half the CPU here.
        """
        return [int(name) for name in os.listdir(self.root) if name.isdigit()]  # noqa: PTH208

    def newest_pid(self) -> int | None:
        """The last pid the kernel handed out (threads included), or None if unreadable.

        One 50-byte read, about a tenth of listing /proc: while it stays the same, no process
        can have started, so the listing is skipped. The file stays open and is read again
        from its start: the watcher asks twice a second, and on a machine that has been
        asleep in between, opening the path costs more than the read (~70 of ~110 µs).
        """
        if self._loadavg_fd is None:
            try:
                self._loadavg_fd = os.open(self._prefix + "loadavg", os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                return None
            self._closer = weakref.finalize(self, os.close, self._loadavg_fd)
        try:
            return parse_newest_pid(os.pread(self._loadavg_fd, 256, 0).decode())
        except (OSError, ValueError, IndexError):
            return None

    def close(self) -> None:
        """Close the file kept open for :meth:`newest_pid` (also done when collected)."""
        if self._closer is not None:
            self._closer()
        self._loadavg_fd = self._closer = None

    def comm(self, pid: int) -> str:
        """The kernel's process name, truncated to 15 characters."""
        return self._read(f"{pid}/comm").rstrip("\n")

    def exe_name(self, pid: int) -> str:
        """Basename of the executable; needs ptrace access to the process."""
        return (self.root / str(pid) / "exe").readlink().name.removesuffix(" (deleted)")

    def cmdline(self, pid: int) -> list[str]:
        """The arguments, empty for kernel threads and zombies."""
        raw = self._read(f"{pid}/cmdline")
        return raw.rstrip("\0").split("\0") if raw else []

    def stat(self, pid: int) -> ProcStat:
        return parse_stat(self._read(f"{pid}/stat"))

    def shared_objects(self, pid: int) -> int:
        """Distinct shared objects mapped by the process; needs ptrace access."""
        return count_shared_objects(self._read(f"{pid}/maps"))

    def listening_ports(self) -> set[int]:
        """TCP ports in LISTEN state, IPv4 and IPv6, in this network namespace."""
        if self.root == LIVE_PROC and self._netlink:
            try:
                return _netlink_listening_ports()
            except OSError:
                self._netlink = False  # e.g. AF_NETLINK not allowed: read the files from now on
        ports: set[int] = set()
        for name in ("net/tcp", "net/tcp6"):
            try:
                ports |= parse_listening_ports(self._read(name))
            except FileNotFoundError:
                continue  # no IPv6 on this host
        return ports

    def uptime(self) -> float:
        """Seconds since boot, the clock of ``starttime``.

        /proc/uptime prints that clock to 10 ms; on the live /proc the clock itself is read,
        to the nanosecond, so start times are not blurred twice.
        """
        if self.root == LIVE_PROC:
            return time.clock_gettime(time.CLOCK_BOOTTIME)
        return parse_uptime(self._read("uptime"))

    def _read(self, relative: str) -> str:
        return read_text(f"{self._prefix}{relative}")


def _netlink_listening_ports() -> set[int]:
    ports: set[int] = set()
    for family in (socket.AF_INET, socket.AF_INET6):
        with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, _NETLINK_SOCK_DIAG) as diag:
            diag.sendto(listen_dump_request(family), (0, 0))
            while not parse_diag_ports(diag.recv(65536), ports):
                pass
    return ports
