"""``fleetsight-agent``: run the agent, check its configuration, enrol it, time a command."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from agent import __version__
from agent.config import DEFAULT_CONFIG_PATH, Config, load_config
from agent.errors import EnrolmentError, FleetsightAgentError
from agent.shared.cli_options import add_commands
from agent.shared.config_values import duration

if TYPE_CHECKING:
    from agent.collectors.base import Collector
    from agent.shared.wire import Batch
    from agent.summary import IntervalAccumulator

log = logging.getLogger("agent")

EPILOG = """\
configuration:
  --config, or $FLEETSIGHT_AGENT_CONFIG, or /etc/fleetsight/agent.toml (defaults if absent).
  Any scalar key can be overridden as FLEETSIGHT_AGENT_<SECTION>_<KEY>, e.g.
  FLEETSIGHT_AGENT_ADVISOR_URL=https://advisor:8443 or FLEETSIGHT_AGENT_STATE_DIR=/tmp/fs.
  All keys: docs/configuration.md.

examples:
  fleetsight-agent check-config
  sudo fleetsight-agent enroll https://advisor.example.org:8443 - < token.txt
  fleetsight-agent run
  fleetsight-agent collect --once | jq .intervals
  fleetsight-agent time --app login -- /usr/local/bin/login-script
  fleetsight-agent spool status
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fleetsight-agent",
        description="Measure application load times and machine load; ship them to the "
        "Fleetsight advisor without losing a batch.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = add_commands(parser, _add_common_options)

    run = commands.add_parser("run", help="run the agent in the foreground (what systemd runs)")
    run.add_argument(
        "--for",
        dest="run_for",
        type=_duration_arg,
        metavar="DURATION",
        help="stop after this long (e.g. 90s); default: until SIGTERM",
    )
    run.add_argument(
        "--print-batches",
        action="store_true",
        help="print a one-paragraph summary of every batch as it is spooled",
    )

    collect = commands.add_parser(
        "collect", help="measure once and print the batch as JSON (nothing is spooled or sent)"
    )
    collect.add_argument(
        "--once",
        action="store_true",
        required=True,
        help="one interval, then exit (required: the only mode)",
    )
    collect.add_argument(
        "--interval",
        type=_duration_arg,
        default=1.0,
        metavar="DURATION",
        help="length of the measured interval; rates need two readings (default: 1s)",
    )
    collect.add_argument(
        "--no-inventory", action="store_true", help="leave out the hardware and software inventory"
    )

    commands.add_parser("check-config", help="validate the configuration and exit")

    enroll = commands.add_parser(
        "enroll",
        help="exchange an enrolment token for this host's credential",
        description="Enrol with the advisor. Give the token on stdin ('-'), in a file, or at "
        "the prompt: on the command line it is visible to every user in `ps`. Example: "
        "fleetsight-agent enroll https://advisor.example.org:8443 - < token.txt",
    )
    enroll.add_argument("url", help="advisor base URL, e.g. https://advisor.example.org:8443")
    enroll.add_argument(
        "token",
        nargs="?",
        help="'-' reads the enrolment token from stdin (recommended); left out, it is asked "
        "for at a terminal, else read from stdin; the token itself here works but shows in `ps`",
    )
    enroll.add_argument(
        "--token-file", type=Path, metavar="FILE", help="read the enrolment token from FILE"
    )

    timecmd = commands.add_parser(
        "time",
        help="run a command and report how long it took to the local agent",
        description="Run CMD, report its run time to the agent's loopback endpoint, and exit "
        "with CMD's status. Example: fleetsight-agent time --app login -- ./login.sh",
    )
    timecmd.add_argument("--app", help="app name reported (default: the command's basename)")
    timecmd.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- CMD [ARGS...]")

    spool = commands.add_parser("spool", help="inspect the on-disk spool")
    spool_commands = spool.add_subparsers(dest="spool_command", required=True, metavar="ACTION")
    spool_commands.add_parser("status", help="batches waiting, quarantined and dropped")
    spool_commands.add_parser("quarantined", help="list quarantined batches and why")
    spool_commands.add_parser("requeue", help="give quarantined batches another try")
    return parser


def _add_common_options(parser: argparse.ArgumentParser, *, default: object) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        default=default,
        help=f"configuration file (default: $FLEETSIGHT_AGENT_CONFIG or {DEFAULT_CONFIG_PATH})",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        metavar="DIR",
        default=default,
        help="state directory: spool, credential (default: [agent] state_dir)",
    )
    parser.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        default=default,
        help="log verbosity",
    )


def _duration_arg(value: str) -> float:
    try:
        return duration(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _load(args: argparse.Namespace) -> Config:
    environ = dict(os.environ)
    if args.state_dir is not None:
        environ["FLEETSIGHT_AGENT_STATE_DIR"] = str(args.state_dir)
    if args.log_level is not None:
        environ["FLEETSIGHT_AGENT_LOG_LEVEL"] = args.log_level
    return load_config(args.config, environ)


def _setup_logging(level: str) -> None:
    # Under systemd the journal adds timestamps; elsewhere we do.
    fmt = "%(levelname)s %(name)s: %(message)s"
    if "JOURNAL_STREAM" not in os.environ:
        fmt = "%(asctime)s " + fmt
    logging.basicConfig(level=level.upper(), format=fmt, stream=sys.stderr)


def cmd_run(args: argparse.Namespace, config: Config) -> int:
    from agent.service import build_service
    from agent.transport import ProxySettings

    def print_batch(batch: Batch) -> None:
        from agent.textreport import describe_batch

        print(describe_batch(batch), flush=True)

    stop = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        log.info(
            "received %s: finishing the current step, then stopping", signal.Signals(signum).name
        )
        stop.set()

    ProxySettings.from_environment()  # a proxy variable it cannot use stops it here, not later
    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    service = build_service(config, on_batch=print_batch if args.print_batches else None)
    log.info(
        "fleetsight-agent %s started (config %s, state %s)",
        __version__,
        config.source,
        config.agent.state_dir,
    )
    service.run(stop, args.run_for)
    log.info("stopped")
    return 0


def cmd_collect(args: argparse.Namespace, config: Config) -> int:
    import time

    from agent.collectors.default import build_collectors
    from agent.inventory.collector import InventoryCollector
    from agent.service import host_identity
    from agent.shared.wire import Batch, Interval, new_batch_id, to_dict
    from agent.summary import IntervalAccumulator

    collectors = build_collectors(config)
    accumulator = IntervalAccumulator()
    start = time.time()
    for collector in collectors:
        _collect_into(accumulator, collector, time.monotonic())
    time.sleep(args.interval)
    for collector in collectors:
        _collect_into(accumulator, collector, time.monotonic())
    end = time.time()
    inventory = None
    if not args.no_inventory:
        # A throwaway state file: `collect` must not change what the running agent sends.
        import tempfile

        with tempfile.TemporaryDirectory() as scratch:
            inventory = InventoryCollector(
                config, state_path=Path(scratch) / "inventory.json"
            ).refresh()
    batch = Batch(
        batch_id=new_batch_id(),
        sequence=0,
        created_at=end,
        host=host_identity(config),
        intervals=[Interval(start=start, end=end, metrics=accumulator.flush())],
        inventory=inventory,
    )
    json.dump(to_dict(batch), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


def _collect_into(accumulator: IntervalAccumulator, collector: Collector, now: float) -> None:
    try:
        accumulator.add(collector.collect(now))
    except Exception as exc:
        print(f"warning: collector {collector.name} failed: {exc}", file=sys.stderr)


def cmd_check_config(args: argparse.Namespace, config: Config) -> int:
    from agent.transport import ProxySettings

    proxies = ProxySettings.from_environment()
    print(f"{config.source}: OK")
    print(f"  state directory   {config.agent.state_dir}")
    print(f"  advisor           {config.advisor.url or '(from enrolment)'}")
    print(f"  proxy             {proxies.describe()}")
    print(
        f"  sampling          every {config.agent.sample_interval:g}s, "
        f"summaries every {config.agent.summary_interval:g}s"
    )
    print(f"  spool             {config.spool_path}, at most {config.spool.max_bytes} bytes")
    print(f"  metrics           {config.metrics.listen or 'disabled'}")
    print(f"  report endpoint   {config.report.listen or 'disabled'}")
    print(f"  watched apps      {', '.join(app.name for app in config.apps) or 'none'}")
    probes = [p.name for p in config.http_probes] + [p.name for p in config.command_probes]
    print(f"  probes            {', '.join(probes) or 'none'}")
    return 0


def cmd_enroll(args: argparse.Namespace, config: Config) -> int:
    from agent.enroll import cleartext_warning, enrol
    from agent.shipper import make_client

    url = args.url.rstrip("/")
    warning = cleartext_warning(url)
    if warning is not None:
        # Before the token is asked for, so the operator can stop and use https.
        print(f"fleetsight-agent: warning: {warning}", file=sys.stderr)
    token = read_token(args.token, args.token_file)
    with make_client(config.advisor.timeout, config.advisor.ca_file, 1, url=url) as client:
        enrolment = enrol(
            url,
            token,
            state_dir=config.agent.state_dir,
            host_id=config.host_id(),
            hostname=socket.gethostname(),
            client=client,
        )
    print(
        f"enrolled with {enrolment.advisor_url} as host {enrolment.host_id}"
        f" (department {enrolment.department or 'none'});"
        f" credential stored in {config.credential_path}"
    )
    if os.geteuid() == 0:
        # Root enrols for the service's dynamic user, which takes the files over at its start.
        print("now (re)start the agent: systemctl restart fleetsight-agent")
    return 0


def read_token(
    given: str | None,
    token_file: Path | None,
    *,
    stdin: TextIO | None = None,
    ask: Callable[[str], str] | None = None,
) -> str:
    """The enrolment token: from ``token_file``, from ``stdin`` for '-' (or when none is given
    and stdin is no terminal), from ``ask`` (getpass) at a terminal, else ``given`` itself.

    Raises :class:`EnrolmentError` naming the source when it holds no token.
    """
    stdin = sys.stdin if stdin is None else stdin
    if token_file is not None:
        if given is not None:
            raise EnrolmentError("give the enrolment token once: TOKEN, '-' or --token-file")
        try:
            text = token_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise EnrolmentError(f"cannot read the token file {token_file}: {reason}") from exc
        return _one_token(text, f"the token file {token_file}")
    if given == "-":
        return _one_token(stdin.readline(), "stdin")
    if given is not None:
        return given
    if not stdin.isatty():
        return _one_token(stdin.readline(), "stdin")
    if ask is None:
        import getpass

        ask = getpass.getpass
    try:
        typed = ask("enrolment token (not shown): ")
    except EOFError:
        typed = ""
    return _one_token(typed, "the prompt")


def _one_token(text: str, source: str) -> str:
    token = text.strip()
    if not token:
        raise EnrolmentError(f"the enrolment token from {source} is empty")
    if any(character.isspace() for character in token):
        raise EnrolmentError(
            f"{source} holds more than a token (spaces or several lines); give the token alone"
        )
    return token


def cmd_time(args: argparse.Namespace, config: Config) -> int:
    from agent.timecmd import run_timed

    argv = list(args.argv)
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        print(
            "fleetsight-agent time: give the command after --, e.g. "
            "fleetsight-agent time -- soffice --headless",
            file=sys.stderr,
        )
        return 2
    if not config.report.listen:
        print(
            "fleetsight-agent time: [report] listen is disabled in "
            f"{config.source}; running the command untimed",
            file=sys.stderr,
        )
    return run_timed(argv, app=args.app, report_address=config.report.listen)


def cmd_spool(args: argparse.Namespace, config: Config) -> int:
    from agent.spool import Spool

    if not config.spool_path.exists():
        print(f"no spool at {config.spool_path} (the agent has not run yet)")
        return 0
    spool = Spool(config.spool_path, config.spool.max_bytes)
    try:
        if args.spool_command == "status":
            status = spool.status()
            age = status.oldest_pending_age
            print(f"spool {config.spool_path}")
            print(
                f"  pending       {status.pending} batches, {status.pending_bytes} bytes"
                + (f", oldest {age:.0f}s old" if age else "")
            )
            print(f"  quarantined   {status.quarantined} batches")
            print(
                f"  dropped       {status.dropped_batches} batches, "
                f"{status.dropped_bytes} bytes (spool full)"
            )
            if status.last_error:
                print(f"  last error    {status.last_error}")
        elif args.spool_command == "quarantined":
            rows = spool.quarantined()
            for row in rows:
                print(f"{row.batch_id}  {row.size} bytes  {row.reason}")
            if not rows:
                print("no quarantined batches")
        else:
            print(f"requeued {spool.requeue_quarantined()} batches")
    finally:
        spool.close()
        _give_back_side_files(config.spool_path)
    return 0


def _give_back_side_files(path: Path) -> None:
    """Root inspecting the spool must not leave WAL files the agent's user cannot open."""
    if os.geteuid() != 0:
        return
    owner = path.stat()
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            os.chown(side, owner.st_uid, owner.st_gid)


COMMANDS = {
    "run": cmd_run,
    "collect": cmd_collect,
    "check-config": cmd_check_config,
    "enroll": cmd_enroll,
    "time": cmd_time,
    "spool": cmd_spool,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = _load(args)
    except FleetsightAgentError as exc:
        print(f"fleetsight-agent: {exc}", file=sys.stderr)
        return 2
    _setup_logging(config.agent.log_level)
    try:
        status: int = COMMANDS[args.command](args, config)
    except FleetsightAgentError as exc:
        print(f"fleetsight-agent: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return status


if __name__ == "__main__":
    sys.exit(main())
