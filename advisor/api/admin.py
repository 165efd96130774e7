"""The admin API token check shared by the read endpoints for people (catalog, findings).

Those endpoints show the fleet's inventory and findings, so they are never anonymous: each
request carries ``Authorization: Bearer <token>`` with a token from ``fleetsight-advisor
api-token create`` (stored hashed, see advisor.store.api_tokens), checked against the
:class:`~advisor.store.api_tokens.ApiTokens` the routes were given (:func:`admin_only`). Agents'
host credentials are a different kind and are refused here.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, HTTPException, Request
from pydantic import BaseModel

from advisor.api.auth import bearer_token
from advisor.store.api_tokens import ApiTokens

CHALLENGE = 'Bearer realm="fleetsight-admin"'


class AdminToken:
    """A route dependency (``dependencies=[Depends(AdminToken(api_tokens))]``) that answers
    401 unless the request carries a token ``api_tokens`` knows and has not revoked."""

    def __init__(self, api_tokens: ApiTokens) -> None:
        self._api_tokens = api_tokens

    def __call__(self, request: Request) -> None:
        header = request.headers.get("authorization")
        secret = bearer_token(header)
        if secret is None:
            detail = (
                "no admin API token: send 'Authorization: Bearer <token>' with a token from "
                "`fleetsight-advisor api-token create`"
                if header is None
                else "the Authorization header is not 'Bearer <token>'"
            )
            raise HTTPException(401, detail, {"WWW-Authenticate": CHALLENGE})
        if not self._api_tokens.check(secret):
            raise HTTPException(
                401,
                "the admin API token is unknown or revoked: create one with "
                "`fleetsight-advisor api-token create`",
                {"WWW-Authenticate": f'{CHALLENGE}, error="invalid_token"'},
            )


def admin_only(api_tokens: ApiTokens) -> list[Any]:
    """The ``dependencies`` of a route that needs an admin API token of ``api_tokens``."""
    return [Depends(AdminToken(api_tokens))]


def error_responses(
    error_model: type[BaseModel], described: dict[int, str]
) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` of an admin route: its own codes in ``described`` plus those
    every admin route shares."""
    base = {
        400: "A query parameter is not valid; the detail names it.",
        401: "No admin API token, or an unknown or revoked one.",
        **described,
    }
    return {code: {"model": error_model, "description": text} for code, text in base.items()}
