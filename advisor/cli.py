"""``fleetsight-advisor``: serve the API, manage the database, enrolment tokens and hosts."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.exc import OperationalError

from advisor import __version__
from advisor import catalog_cli as catalog_commands
from advisor.cli_args import duration_seconds
from advisor.config import DEFAULT_CONFIG_PATH, AdvisorConfig, load_config
from advisor.detect_cli import add_detect_parser
from advisor.errors import ConfigError, FleetsightAdvisorError
from advisor.findings_cli import add_findings_parsers, cmd_analyse, cmd_findings
from advisor.jobs import commands as jobs_commands
from advisor.simulator.cli import add_simulate_parser
from advisor.text import printable
from agent.shared.cli_options import add_commands

if TYPE_CHECKING:
    from advisor.store import Store

log = logging.getLogger("advisor")

EPILOG = """\
configuration:
  --config, or $FLEETSIGHT_ADVISOR_CONFIG, or /etc/fleetsight/advisor.toml (defaults if absent).
  Any key can be overridden as FLEETSIGHT_ADVISOR_<SECTION>_<KEY>, e.g.
  FLEETSIGHT_ADVISOR_DATABASE_URL_FILE=/run/secrets/db-url. All keys:
  docs/advisor-configuration.md.

first run:
  fleetsight-advisor db upgrade
  fleetsight-advisor token create --department finance --expires 7d
  fleetsight-advisor serve
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fleetsight-advisor",
        description="The Fleetsight advisor: enrols agents, receives their batches and stores "
        "them (SQLite by default, PostgreSQL for a fleet).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = add_commands(parser, _add_common_options)

    serve = commands.add_parser("serve", help="serve the HTTP API (what systemd runs)")
    serve.add_argument("--listen", metavar="HOST:PORT", help="override [server] listen")
    serve.add_argument(
        "--workers", type=int, metavar="N", help="override [server] workers (processes)"
    )
    commands.add_parser("check-config", help="validate the configuration and exit")

    db = commands.add_parser("db", help="database schema")
    db_commands = db.add_subparsers(dest="action", required=True, metavar="ACTION")
    db_commands.add_parser("upgrade", help="create or migrate the schema to this version")
    db_commands.add_parser("status", help="show the schema revision")

    token = commands.add_parser("token", help="enrolment tokens")
    actions = token.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser(
        "create", help="create a token; agents enrol with `fleetsight-agent enroll URL -`"
    )
    create.add_argument("--department", required=True, help="department the hosts belong to")
    create.add_argument(
        "--expires",
        type=duration_seconds,
        default=7 * 86400.0,
        metavar="DURATION",
        help="how long the token is valid (default: 7d)",
    )
    create.add_argument(
        "--max-uses",
        type=int,
        metavar="N",
        help="at most this many enrolments (default: unlimited until expiry)",
    )
    create.add_argument("--note", help="free text shown in `token list`")
    actions.add_parser("list", help="list tokens (never their secrets)")
    revoke = actions.add_parser("revoke", help="revoke a token: no more enrolments")
    revoke.add_argument("token_id")

    host = commands.add_parser("host", help="enrolled hosts")
    host_commands = host.add_subparsers(dest="action", required=True, metavar="ACTION")
    host_commands.add_parser("list", help="list hosts")
    host_revoke = host_commands.add_parser("revoke", help="revoke a host: its ingest stops")
    host_revoke.add_argument("host_id")
    host_release = host_commands.add_parser(
        "release",
        help="let a host enrol again without its credential (reinstalled, state lost)",
        description=(
            "An enrolled host enrols again only from the machine that holds its credential."
            " Release it when that is lost (a reinstalled machine, a wiped state directory) or"
            " to move it to another department: its credential stops working now, and the"
            " next enrolment of its id with a token of its department takes it over, lifting"
            " a revocation."
        ),
    )
    host_release.add_argument("host_id")
    host_release.add_argument(
        "--department", help="move the host to this department (the token must be for it)"
    )
    jobs_commands.add_parser(commands)
    catalog_commands.add_parsers(commands)
    add_simulate_parser(commands)
    add_detect_parser(commands)
    add_findings_parsers(commands)
    return parser


def _add_common_options(parser: argparse.ArgumentParser, *, default: object) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        default=default,
        help=f"configuration file (default: $FLEETSIGHT_ADVISOR_CONFIG or {DEFAULT_CONFIG_PATH})",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        metavar="DIR",
        default=default,
        help="directory of the embedded SQLite database",
    )
    parser.add_argument(
        "--database-url",
        metavar="URL",
        default=default,
        help="SQLAlchemy URL (prefer FLEETSIGHT_ADVISOR_DATABASE_URL_FILE)",
    )


def _load(args: argparse.Namespace) -> AdvisorConfig:
    return load_config(args.config, {**os.environ, **_overrides(args)})


def _overrides(args: argparse.Namespace) -> dict[str, str]:
    """The command line's settings as the environment variables that override the file."""
    overrides = {}
    if args.config is not None:
        overrides["FLEETSIGHT_ADVISOR_CONFIG"] = str(args.config)
    if args.state_dir is not None:
        overrides["FLEETSIGHT_ADVISOR_STATE_DIR"] = str(args.state_dir)
    if args.database_url is not None:
        overrides["FLEETSIGHT_ADVISOR_DATABASE_URL"] = args.database_url
    if getattr(args, "listen", None):
        overrides["FLEETSIGHT_ADVISOR_SERVER_LISTEN"] = args.listen
    if getattr(args, "workers", None):
        overrides["FLEETSIGHT_ADVISOR_SERVER_WORKERS"] = str(args.workers)
    return overrides


def _open_store(config: AdvisorConfig, *, create: bool = False) -> Store:
    from advisor.store.open import open_store

    return open_store(config, create=create).hosts


def cmd_serve(args: argparse.Namespace, config: AdvisorConfig) -> int:
    from advisor.serve import serve
    from advisor.tls_files import check_server_tls

    check_server_tls(config)  # one sentence now, not uvicorn's traceback when it binds
    if config.server.workers > 1 and not config.database_url.startswith("postgresql"):
        log.warning(
            "[server] workers = %d on SQLite: its one writer at a time makes extra workers wait;"
            " PostgreSQL is what several workers are for",
            config.server.workers,
        )
    log.info(
        "fleetsight-advisor %s serving on %s with %d worker(s) (database %s)",
        __version__,
        config.server.listen,
        config.server.workers,
        _redacted(config.database_url),
    )
    serve(config, _overrides(args))
    return 0


def cmd_check_config(args: argparse.Namespace, config: AdvisorConfig) -> int:
    from advisor.tls_files import check_server_tls

    check_server_tls(config)
    print(f"{config.source}: OK")
    print(
        f"  listen            {config.server.listen}"
        f" ({'HTTPS' if config.server.tls_cert_file else 'HTTP'})"
    )
    print(f"  database          {_redacted(config.database_url)}")
    print(
        f"  ingest            at most {config.ingest.max_body_bytes} bytes compressed, "
        f"{config.ingest.max_concurrent} at once"
    )
    return 0


def cmd_db(args: argparse.Namespace, config: AdvisorConfig) -> int:
    from advisor.store.migrate import current_revision, head_revision, upgrade
    from advisor.store.open import open_engine

    engine = open_engine(config.database_url, create=args.action == "upgrade")
    try:
        if args.action == "upgrade":
            before = current_revision(engine)
            upgrade(engine)
            after = current_revision(engine)
            if before == after:
                print(f"{_redacted(config.database_url)}: already at {after}")
            else:
                print(f"{_redacted(config.database_url)}: {before or 'empty'} -> {after}")
        else:
            current, head = current_revision(engine), head_revision()
            state = "up to date" if current == head else "run `fleetsight-advisor db upgrade`"
            print(
                f"{_redacted(config.database_url)}: at {current or 'empty'}, "
                f"this advisor needs {head}: {state}"
            )
    finally:
        engine.dispose()
    return 0


def cmd_token(args: argparse.Namespace, config: AdvisorConfig) -> int:
    store = _open_store(config, create=args.action != "list")
    now = time.time()
    try:
        if args.action == "create":
            secret, record = store.create_token(
                department=args.department,
                expires_at=now + args.expires,
                now=now,
                max_uses=args.max_uses,
                note=args.note,
            )
            print(
                f"token {record.token_id} for department {record.department}, "
                f"valid until {_when(record.expires_at)}"
            )
            print(f"  {secret}")
            print(
                "shown once; on each machine, the token on stdin (never on the command line,"
                " where ps shows it), as root:"
                " sudo fleetsight-agent enroll https://ADVISOR - < token.txt"
            )
        elif args.action == "list":
            tokens = store.list_tokens()
            for token in tokens:
                state = (
                    "revoked"
                    if token.revoked_at
                    else "expired"
                    if token.expires_at <= now
                    else "valid"
                )
                uses = f"{token.uses}" + (f"/{token.max_uses}" if token.max_uses else "")
                print(
                    f"{token.token_id}  {printable(token.department):<16} {state:<8} "
                    f"until {_when(token.expires_at)}  uses {uses}  {printable(token.note or '')}"
                )
            if not tokens:
                print("no tokens; create one with `fleetsight-advisor token create`")
        else:
            if not store.revoke_token(args.token_id, now=now):
                print(f"fleetsight-advisor: no token {args.token_id}", file=sys.stderr)
                return 1
            print(f"token {args.token_id} revoked")
    finally:
        store.close()
    return 0


def cmd_host(args: argparse.Namespace, config: AdvisorConfig) -> int:
    store = _open_store(config, create=args.action != "list")
    try:
        if args.action == "list":
            hosts = store.list_hosts()
            for host in hosts:
                seen = _when(host.last_seen_at) if host.last_seen_at else "never"
                state = "revoked" if host.revoked_at else "active"
                # Hostname and agent version are whatever the host's agent last sent.
                print(
                    f"{printable(host.host_id)}  {printable(host.hostname):<20} "
                    f"{printable(host.department):<16} {state:<8} "
                    f"last seen {seen}  agent {printable(host.agent_version)}"
                )
            if not hosts:
                print("no hosts enrolled yet")
        elif args.action == "revoke":
            if not store.revoke_host(args.host_id, now=time.time()):
                print(f"fleetsight-advisor: no host {args.host_id}", file=sys.stderr)
                return 1
            print(f"host {args.host_id} revoked: its batches are refused from now on")
        else:
            if args.department is not None and not args.department.strip():
                print("fleetsight-advisor: --department must not be empty", file=sys.stderr)
                return 2
            if not store.release_host(args.host_id, now=time.time(), department=args.department):
                print(f"fleetsight-advisor: no host {args.host_id}", file=sys.stderr)
                return 1
            print(
                f"host {args.host_id} released: its credential no longer works; the next"
                " enrolment of this host id with a token of its department takes it over"
            )
    finally:
        store.close()
    return 0


def cmd_simulate(args: argparse.Namespace, config: AdvisorConfig) -> int:
    from advisor.simulator.cli import run_simulate

    return run_simulate(args, config.database_url)


def cmd_detect(args: argparse.Namespace, config: AdvisorConfig) -> int:
    from advisor.detect_cli import run_detect

    return run_detect(args)


def _when(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp))


def _redacted(url: str) -> str:
    """The URL without its password, for logs and messages."""
    scheme, sep, rest = url.partition("://")
    if "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{host}"


COMMANDS: dict[str, Callable[[argparse.Namespace, AdvisorConfig], int]] = {
    "serve": cmd_serve,
    "check-config": cmd_check_config,
    "db": cmd_db,
    "token": cmd_token,
    "host": cmd_host,
    "jobs": jobs_commands.cmd_jobs,
    "catalog": catalog_commands.cmd_catalog,
    "api-token": catalog_commands.cmd_api_token,
    "simulate": cmd_simulate,
    "detect": cmd_detect,
    "analyse": cmd_analyse,
    "findings": cmd_findings,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = _load(args)
    except ConfigError as exc:
        print(f"fleetsight-advisor: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=config.advisor.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # Alembic narrates every plugin it loads at INFO; only `db upgrade`'s result is news.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.root.level))
    # httpx logs every request at INFO; `simulate --advisor` sends thousands.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.root.level))
    try:
        return COMMANDS[args.command](args, config)
    except (FleetsightAdvisorError, ConfigError) as exc:
        print(f"fleetsight-advisor: {exc}", file=sys.stderr)
        return 1
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        print(
            f"fleetsight-advisor: cannot use the database at "
            f"{_redacted(config.database_url)}: {reason}",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
