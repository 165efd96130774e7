"""``user``: the people who log in to the web interface (advisor.store.users), and their
roles and passwords. Passwords are read from the terminal (twice) or from stdin, never from
the command line, where ``ps`` would show them; only their argon2 hash is stored.
"""

from __future__ import annotations

import argparse
import getpass
import sys
import time
from typing import TYPE_CHECKING, Any

from advisor.cli.common import add_group, fail, open_stores
from advisor.cli.output import Column, add_format_option, time_column, write_rows
from advisor.config import AdvisorConfig

if TYPE_CHECKING:
    from advisor.cli.common import Commands
    from advisor.store.open import Stores
    from advisor.store.users import User

ROLE_CHOICES = ("viewer", "manager", "admin")


def add_parser(commands: Commands) -> None:
    """Register ``user``."""
    user = add_group(
        commands,
        "user",
        help="people of the web interface: create, list, set-role, disable, password",
        description="People who log in to the web interface at /ui, each with a role: viewer "
        "(reads), manager (also approves, rejects, defers recommendations) or admin (also "
        "settings, users, tokens). --department limits what they review (default: every "
        "department). Passwords: at least 12 characters, typed twice at the terminal or one "
        "line on stdin with --password-stdin.",
        examples="  fleetsight-advisor user create alice --role admin\n"
        "  fleetsight-advisor user create bob --role manager --department finance\n"
        "  printf '%s\\n' \"$PASSWORD\" | fleetsight-advisor user create ci --role viewer"
        " --password-stdin\n"
        "  fleetsight-advisor user list --format json\n"
        "  fleetsight-advisor user set-role bob viewer\n"
        "  fleetsight-advisor user disable bob\n",
    )
    actions = user.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="create a user with a password")
    create.add_argument("user_id", metavar="NAME", help="login name (letters, digits, . _ @ -)")
    create.add_argument("--role", required=True, choices=ROLE_CHOICES)
    create.add_argument(
        "--department",
        action="append",
        default=[],
        metavar="D",
        help="a department they review (repeat; default: every department)",
    )
    create.add_argument("--name", help="full name shown in the interface (default: NAME)")
    _add_password_stdin(create)
    add_format_option(actions.add_parser("list", help="list users (never their passwords)"))
    set_role = actions.add_parser("set-role", help="change a user's role")
    set_role.add_argument("user_id", metavar="NAME")
    set_role.add_argument("role", choices=ROLE_CHOICES)
    disable = actions.add_parser("disable", help="disable a user and end their sessions")
    disable.add_argument("user_id", metavar="NAME")
    password = actions.add_parser("password", help="set a user's password; ends their sessions")
    password.add_argument("user_id", metavar="NAME")
    _add_password_stdin(password)
    user.set_defaults(run=run)


def _add_password_stdin(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password as one line on stdin (scripts) instead of asking twice",
    )


def read_password(from_stdin: bool) -> str:
    """The new password: one line of stdin, or typed twice at the terminal; refused (one
    sentence, exit 1) when short or when the two differ."""
    from advisor.ui.passwords import password_problem

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        if not sys.stdin.isatty():
            fail("no terminal to ask for the password: pass it on stdin with --password-stdin")
        password = getpass.getpass("New password: ")
        if getpass.getpass("Again: ") != password:
            fail("the two passwords differ; nothing changed")
    problem = password_problem(password)
    if problem is not None:
        fail(f"{problem}; nothing changed")
    return password


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name (a container without one)
        return "cli"


def run(args: argparse.Namespace, config: AdvisorConfig) -> int:
    """One ``user`` action."""
    now = time.time()
    password = None
    if args.action in ("create", "password"):
        password = read_password(args.password_stdin)  # before the database: fail fast
    stores = open_stores(config, create=args.action != "list")
    try:
        if args.action == "list":
            listed = stores.users.list()
            write_rows(
                sys.stdout,
                args.format,
                listed,
                user_columns(),
                name="users",
                empty="no users; create the first admin with"
                " `fleetsight-advisor user create NAME --role admin`",
            )
            return 0
        if args.action == "create":
            assert password is not None
            _create(stores, args, password, now)
        elif args.action == "password":
            assert password is not None
            _set_password(stores, args.user_id, password, now)
        elif args.action == "set-role":
            if not stores.users.set_role(args.user_id, args.role):
                fail(f"no user {args.user_id!r}")
            _audit(stores, "user.role_changed", args.user_id, {"role": args.role}, now)
            print(f"user {args.user_id} is now {args.role}")
        else:
            if not stores.users.disable(args.user_id, now=now):
                fail(f"no user {args.user_id!r}")
            _audit(stores, "user.disabled", args.user_id, {}, now)
            print(f"user {args.user_id} disabled; their sessions have ended")
    finally:
        stores.close()
    return 0


def _create(stores: Stores, args: argparse.Namespace, password: str, now: float) -> None:
    from advisor.ui.passwords import Passwords

    departments = tuple(args.department)
    try:
        stores.users.add(
            args.user_id,
            name=args.name or args.user_id,
            role=args.role,
            departments=departments,
            now=now,
        )
    except ValueError as refused:
        fail(str(refused))
    stores.users.set_password_hash(args.user_id, Passwords().hash(password))
    detail = {"role": args.role, "departments": list(departments)}
    _audit(stores, "user.created", args.user_id, detail, now)
    print(f"user {args.user_id} created as {args.role}; they log in at /ui/login")


def _set_password(stores: Stores, user_id: str, password: str, now: float) -> None:
    from advisor.ui.passwords import Passwords

    if not stores.users.set_password_hash(user_id, Passwords().hash(password)):
        fail(f"no user {user_id!r}")
    stores.ui_sessions.end_all(user_id)
    _audit(stores, "user.password_changed", user_id, {}, now)
    print(f"password of {user_id} changed; their sessions have ended")


def _audit(stores: Stores, action: str, user_id: str, detail: dict[str, Any], now: float) -> None:
    stores.audit.record(
        actor=_actor(), action=action, target=f"user:{user_id}", detail=detail, now=now
    )


def user_columns() -> list[Column[User]]:
    return [
        Column("user_id", lambda u: u.user_id, header="USER"),
        Column("name", lambda u: u.name),
        Column("role", lambda u: u.role),
        Column(
            "departments",
            lambda u: list(u.departments),
            lambda u: ", ".join(u.departments) or "(all)",
        ),
        Column("state", lambda u: "disabled" if u.disabled_at else "active"),
        time_column("created_at", lambda u: u.created_at, header="CREATED"),
        time_column("disabled_at", lambda u: u.disabled_at, table=False),
    ]
