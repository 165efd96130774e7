"""``host list|revoke|release``: the enrolled machines."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING

from advisor.cli.common import USAGE, add_group, fail, open_stores
from advisor.cli.ids import resolve, short_ids
from advisor.cli.output import Column, add_format_option, time_column, write_rows
from advisor.cli.units import duration
from advisor.config import AdvisorConfig

if TYPE_CHECKING:
    from advisor.cli.common import Commands
    from advisor.store import HostRecord

RELEASE_DESCRIPTION = (
    "An enrolled host enrols again only from the machine that holds its credential."
    " Release it when that is lost (a reinstalled machine, a wiped state directory) or"
    " to move it to another department: its credential stops working now, and the"
    " next enrolment of its id with a token of its department takes it over, lifting"
    " a revocation."
)


def add_parser(commands: Commands) -> None:
    """Register ``host``."""
    host = add_group(
        commands,
        "host",
        help="enrolled hosts: list, revoke, release",
        description="The machines whose agents enrolled: their hostname, department, when "
        "they last sent a batch and their agent's version. A host is named by its id or any "
        "unique prefix of it (the table shows the shortest).",
        examples="  fleetsight-advisor host list\n"
        "  fleetsight-advisor host list --format json\n"
        "  fleetsight-advisor host revoke 9b1deb4d\n"
        "  fleetsight-advisor host release 9b1deb4d --department legal\n",
    )
    actions = host.add_subparsers(dest="action", required=True, metavar="ACTION")
    add_format_option(actions.add_parser("list", help="list hosts"))
    revoke = actions.add_parser("revoke", help="revoke a host: its ingest stops")
    revoke.add_argument("host_id", metavar="HOST_ID", help="the host's id or a unique prefix")
    release = actions.add_parser(
        "release",
        help="let a host enrol again without its credential (reinstalled, state lost)",
        description=RELEASE_DESCRIPTION,
    )
    release.add_argument("host_id", metavar="HOST_ID", help="the host's id or a unique prefix")
    release.add_argument(
        "--department", help="move the host to this department (the token must be for it)"
    )
    host.set_defaults(run=run)


def run(args: argparse.Namespace, config: AdvisorConfig) -> int:
    """``host list``, ``host revoke`` or ``host release``."""
    if getattr(args, "department", None) is not None and not args.department.strip():
        fail("--department must not be empty", USAGE)
    stores = open_stores(config, create=args.action != "list")
    try:
        store = stores.hosts
        hosts = store.list_hosts()
        if args.action == "list":
            write_rows(
                sys.stdout,
                args.format,
                hosts,
                host_columns(hosts),
                name="hosts",
                empty="no hosts enrolled yet",
            )
            return 0
        host_id = resolve(args.host_id, (h.host_id for h in hosts), "host")
        if args.action == "revoke":
            store.revoke_host(host_id, now=time.time())
            print(f"host {host_id} revoked: its batches are refused from now on")
        else:
            store.release_host(host_id, now=time.time(), department=args.department)
            print(
                f"host {host_id} released: its credential no longer works; the next"
                " enrolment of this host id with a token of its department takes it over"
            )
        return 0
    finally:
        stores.close()


def host_columns(hosts: list[HostRecord]) -> list[Column[HostRecord]]:
    """The columns of ``host list``. Hostname and agent version are whatever the host's agent
    last sent (escaped in the table like every cell)."""
    short = short_ids(h.host_id for h in hosts)
    return [
        Column("host_id", lambda h: h.host_id, lambda h: short[h.host_id], header="ID"),
        Column("hostname", lambda h: h.hostname),
        Column("department", lambda h: h.department),
        Column("state", lambda h: "revoked" if h.revoked_at else "active"),
        time_column("last_seen_at", lambda h: h.last_seen_at, header="LAST SEEN", missing="never"),
        time_column("enrolled_at", lambda h: h.enrolled_at, table=False),
        time_column("revoked_at", lambda h: h.revoked_at, table=False),
        Column("agent_version", lambda h: h.agent_version, header="AGENT"),
        Column(
            "clock_skew_seconds",
            lambda h: h.clock_skew_seconds,
            lambda h: clock_text(h.clock_skew_seconds),
            header="CLOCK",
        ),
    ]


def clock_text(skew: float | None) -> str:
    """How far the host's clock is off, in words (``skew`` is receive less send time, so
    negative means the host is ahead); within a second (network time) it is in sync.

    >>> [clock_text(s) for s in (None, 0.4, -300.2, 7260.0)]
    ['-', 'in sync', '5 min ahead', '2 h 1 min behind']
    """
    if skew is None:
        return "-"
    if abs(skew) < 1:
        return "in sync"
    return f"{duration(abs(skew))} {'ahead' if skew < 0 else 'behind'}"
