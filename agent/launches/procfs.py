"""The /proc files only the launch watcher reads: memory maps and listening ports.

Processes themselves are read by :class:`agent.procfs.ProcFS`, the reader the per-app
collector uses too; :class:`LaunchProcFS` adds the two ready signals' files to it.

Listening ports: /proc/net/tcp walks the kernel's whole connection table (about 5 ms of CPU
per file here, whatever the number of sockets), so on the live system they are asked of the
kernel's socket-diagnostics netlink interface, LISTEN sockets only (about 0.2 ms), falling
back to the files where netlink is not allowed. ``maps`` of other users' processes needs
ptrace access: ``PermissionError``.
"""

from __future__ import annotations

import os
import re
import socket
import struct
from pathlib import Path

from agent.procfs import LIVE_PROC, ProcFS

TCP_LISTEN = "0A"

_NETLINK_SOCK_DIAG = 4
_SOCK_DIAG_BY_FAMILY = 20
_NLM_F_REQUEST_DUMP = 0x1 | 0x300
_NLMSG_ERROR, _NLMSG_DONE = 2, 3
_NLMSG_HEADER = struct.Struct("=IHHII")
_TCPF_LISTEN = 1 << 10

_SHARED_OBJECT = re.compile(r"\.so(?:\.[\w.]*)?$")


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


class LaunchProcFS(ProcFS):
    """A process reader that can also tell a ready app's libraries and ports."""

    def __init__(self, root: Path = LIVE_PROC, clock_ticks: int | None = None):
        super().__init__(root, clock_ticks)
        self._netlink = True

    def shared_objects(self, pid: int) -> int:
        """Distinct shared objects mapped by the process; needs ptrace access."""
        return count_shared_objects(self.read(f"{pid}/maps"))

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
                ports |= parse_listening_ports(self.read(name))
            except FileNotFoundError:
                continue  # no IPv6 on this host
        return ports


def _netlink_listening_ports() -> set[int]:
    ports: set[int] = set()
    for family in (socket.AF_INET, socket.AF_INET6):
        with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, _NETLINK_SOCK_DIAG) as diag:
            diag.sendto(listen_dump_request(family), (0, 0))
            while not parse_diag_ports(diag.recv(65536), ports):
                pass
    return ports
