"""``serve`` (the HTTP API, what systemd runs) and ``check-config``."""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING

from advisor import __version__
from advisor.cli.args import positive_int
from advisor.cli.common import add_group, overrides, redacted
from advisor.config import AdvisorConfig

if TYPE_CHECKING:
    from advisor.cli.common import Commands

log = logging.getLogger("advisor")


def add_parser(commands: Commands) -> None:
    """Register ``serve`` and ``check-config``."""
    serve = add_group(
        commands,
        "serve",
        help="serve the HTTP API (what systemd runs)",
        description="Serve the HTTP API: enrolment, ingest, the catalog and findings API, and "
        "the scheduled jobs (rollup, retention, analysis). Runs until SIGTERM.",
        examples="  fleetsight-advisor serve\n"
        "  fleetsight-advisor serve --listen 0.0.0.0:8443 --workers 4\n",
    )
    serve.add_argument("--listen", metavar="HOST:PORT", help="override [server] listen")
    serve.add_argument(
        "--workers", type=positive_int, metavar="N", help="override [server] workers (processes)"
    )
    serve.set_defaults(run=run)
    check = add_group(
        commands,
        "check-config",
        help="validate the configuration and exit",
        description="Read the configuration (file and environment), check the TLS files, "
        "print the settings that matter (the database password hidden) and exit: 0 when it "
        "is usable, 2 with one line naming the file and key when it is not.",
        examples="  fleetsight-advisor check-config --config /etc/fleetsight/advisor.toml\n",
    )
    check.set_defaults(run=run)


def run(args: argparse.Namespace, config: AdvisorConfig) -> int:
    """``serve`` or ``check-config``."""
    from advisor.tls_files import check_server_tls

    check_server_tls(config)  # one sentence now, not uvicorn's traceback when it binds
    if args.command == "check-config":
        _print_settings(config)
        return 0
    from advisor.serve import serve

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
        redacted(config.database_url),
    )
    serve(config, overrides(args))
    return 0


def _print_settings(config: AdvisorConfig) -> None:
    print(f"{config.source}: OK")
    print(
        f"  listen            {config.server.listen}"
        f" ({'HTTPS' if config.server.tls_cert_file else 'HTTP'})"
    )
    print(f"  database          {redacted(config.database_url)}")
    print(
        f"  ingest            at most {config.ingest.max_body_bytes} bytes compressed, "
        f"{config.ingest.max_concurrent} at once"
    )
