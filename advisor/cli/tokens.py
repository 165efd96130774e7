"""``token`` (enrolment tokens, for agents) and ``api-token`` (admin tokens, for the read API)."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING, Any, TypeVar

from advisor.cli.args import duration_seconds, positive_int
from advisor.cli.common import add_group, open_stores
from advisor.cli.ids import resolve, short_ids
from advisor.cli.output import Column, add_format_option, time_column, write_json, write_rows
from advisor.cli.units import when
from advisor.config import AdvisorConfig

if TYPE_CHECKING:
    from advisor.cli.common import Commands
    from advisor.store import TokenRecord
    from advisor.store.api_tokens import ApiTokenRecord, ApiTokens

Row = TypeVar("Row")


def add_parser(commands: Commands) -> None:
    """Register ``token`` and ``api-token``."""
    token = add_group(
        commands,
        "token",
        help="enrolment tokens: create, list, revoke",
        description="Enrolment tokens: a machine's agent enrols once with one, for the "
        "department the token is for. A token is shown once, at creation; `list` shows "
        "their state, never their secrets; any unique prefix of an id names it.",
        examples="  fleetsight-advisor token create --department finance --expires 7d\n"
        "  fleetsight-advisor token create --department finance --format json | jq -r .secret\n"
        "  fleetsight-advisor token list --format csv\n"
        "  fleetsight-advisor token revoke 3f2a9c01\n",
    )
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
        type=positive_int,
        metavar="N",
        help="at most this many enrolments (default: unlimited until expiry)",
    )
    create.add_argument("--note", help="free text shown in `token list`")
    _add_created_format(create)
    add_format_option(actions.add_parser("list", help="list tokens (never their secrets)"))
    revoke = actions.add_parser("revoke", help="revoke a token: no more enrolments")
    revoke.add_argument("token_id", metavar="TOKEN_ID", help="the token's id or a unique prefix")
    token.set_defaults(run=run)

    api = add_group(
        commands,
        "api-token",
        help="admin tokens for the read API: create, list, revoke",
        description="Admin tokens for the catalog and findings API, sent as "
        "'Authorization: Bearer TOKEN'. Shown once, at creation.",
        examples="  fleetsight-advisor api-token create --note grafana\n"
        "  fleetsight-advisor api-token list\n",
    )
    api_actions = api.add_subparsers(dest="action", required=True, metavar="ACTION")
    api_create = api_actions.add_parser("create", help="create a token (shown once)")
    api_create.add_argument("--note", help="free text shown in `api-token list`")
    _add_created_format(api_create)
    add_format_option(api_actions.add_parser("list", help="list tokens (never their secrets)"))
    api_revoke = api_actions.add_parser("revoke", help="revoke a token")
    api_revoke.add_argument("token_id", metavar="TOKEN_ID", help="the id or a unique prefix")
    api.set_defaults(run=run)


def run(args: argparse.Namespace, config: AdvisorConfig) -> int:
    """``token ...`` or ``api-token ...``."""
    now = time.time()
    stores = open_stores(config, create=args.action != "list")
    try:
        if args.command == "api-token":
            return _api_token(args, stores.api_tokens, now)
        store = stores.hosts
        if args.action == "create":
            secret, record = store.create_token(
                department=args.department,
                expires_at=now + args.expires,
                now=now,
                max_uses=args.max_uses,
                note=args.note,
            )
            if args.format == "json":
                columns = token_columns([record], now)
                write_json(sys.stdout, created_document(secret, record, columns))
                return 0
            print(
                f"token {record.token_id} for department {record.department}, "
                f"valid until {when(record.expires_at)}"
            )
            print(f"  {secret}")
            print(
                "shown once; on each machine, the token on stdin (never on the command line,"
                " where ps shows it), as root:"
                " sudo fleetsight-agent enroll https://ADVISOR - < token.txt"
            )
        elif args.action == "list":
            tokens = store.list_tokens()
            write_rows(
                sys.stdout,
                args.format,
                tokens,
                token_columns(tokens, now),
                name="tokens",
                empty="no tokens; create one with `fleetsight-advisor token create`",
            )
        else:
            token_id = resolve(args.token_id, (t.token_id for t in store.list_tokens()), "token")
            store.revoke_token(token_id, now=now)
            print(f"token {token_id} revoked")
    finally:
        stores.close()
    return 0


def _add_created_format(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text for people, or json for scripts: one object with the secret and the "
        "fields `list --format json` shows (default: text)",
    )


def created_document(secret: str, record: Row, columns: list[Column[Row]]) -> dict[str, Any]:
    """A token just created, as one JSON object for a script: its ``token_id``, the
    ``secret`` and the rest of the row ``list --format json`` shows for it (times as ISO 8601
    UTC), built from the same columns so the two cannot disagree.

    >>> from advisor.store.api_tokens import ApiTokenRecord
    >>> record = ApiTokenRecord("3f2a", 1764000000.0, None, "grafana")
    >>> created_document("fsa_x", record, api_token_columns([record]))
    ... # doctest: +NORMALIZE_WHITESPACE
    {'token_id': '3f2a', 'secret': 'fsa_x', 'state': 'valid',
     'created_at': '2025-11-24T16:00:00Z', 'revoked_at': None, 'note': 'grafana'}
    """
    row = {c.name: c.value(record) for c in columns if c.data}
    return {"token_id": row.pop("token_id"), "secret": secret, **row}


def token_columns(tokens: list[TokenRecord], now: float) -> list[Column[TokenRecord]]:
    short = short_ids(t.token_id for t in tokens)

    def state(t: TokenRecord) -> str:
        return "revoked" if t.revoked_at else "expired" if t.expires_at <= now else "valid"

    return [
        Column("token_id", lambda t: t.token_id, lambda t: short[t.token_id], header="ID"),
        Column("department", lambda t: t.department),
        Column("state", state),
        time_column("created_at", lambda t: t.created_at, table=False),
        time_column("expires_at", lambda t: t.expires_at, header="EXPIRES"),
        time_column("revoked_at", lambda t: t.revoked_at, table=False),
        Column("uses", lambda t: t.uses, lambda t: f"{t.uses}/{t.max_uses or '-'}", right=True),
        Column("max_uses", lambda t: t.max_uses, table=False),
        Column("note", lambda t: t.note, lambda t: t.note or ""),
    ]


def _api_token(args: argparse.Namespace, tokens: ApiTokens, now: float) -> int:
    if args.action == "create":
        secret, record = tokens.create(now=now, note=args.note)
        if args.format == "json":
            write_json(sys.stdout, created_document(secret, record, api_token_columns([record])))
            return 0
        print(f"api token {record.token_id}")
        print(f"  {secret}")
        print("shown once; send it as 'Authorization: Bearer TOKEN' to /api/v1/...")
    elif args.action == "list":
        listed = tokens.list()
        write_rows(
            sys.stdout,
            args.format,
            listed,
            api_token_columns(listed),
            name="api_tokens",
            empty="no api tokens; create one with `fleetsight-advisor api-token create`",
        )
    else:
        token_id = resolve(args.token_id, (t.token_id for t in tokens.list()), "api token")
        tokens.revoke(token_id, now=now)
        print(f"api token {token_id} revoked")
    return 0


def api_token_columns(tokens: list[ApiTokenRecord]) -> list[Column[ApiTokenRecord]]:
    short = short_ids(t.token_id for t in tokens)
    return [
        Column("token_id", lambda t: t.token_id, lambda t: short[t.token_id], header="ID"),
        Column("state", lambda t: "revoked" if t.revoked_at else "valid"),
        time_column("created_at", lambda t: t.created_at, header="CREATED"),
        time_column("revoked_at", lambda t: t.revoked_at, table=False),
        Column("note", lambda t: t.note, lambda t: t.note or ""),
    ]
