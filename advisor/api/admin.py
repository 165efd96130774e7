"""The admin API token check shared by the endpoints for people (catalog, findings,
recommendations).

Those endpoints show the fleet's inventory, findings and recommendations, so they are never
anonymous: each request carries ``Authorization: Bearer <token>`` with a token from
``fleetsight-advisor api-token create`` (stored hashed, see advisor.store.api_tokens), checked
against the :class:`~advisor.store.api_tokens.ApiTokens` the routes were given
(:func:`admin_only`). Agents' host credentials are a different kind and are refused here.

A route that acts for someone (a decision on a recommendation) takes the caller's name from
:class:`AdminToken` as a route parameter: ``api-token:<token id>``, the id ``api-token list``
shows beside the token's note. It is never read from the request's body.
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
    401 unless the request carries a token ``api_tokens`` knows and has not revoked. As a
    parameter (``actor: Annotated[str, Depends(AdminToken(api_tokens))]``) it also says who
    is calling: :func:`principal_of` the token."""

    def __init__(self, api_tokens: ApiTokens) -> None:
        self._api_tokens = api_tokens

    def __call__(self, request: Request) -> str:
        record = self._api_tokens.identify(_secret(request))
        if record is None:
            raise HTTPException(
                401,
                "the admin API token is unknown or revoked: create one with "
                "`fleetsight-advisor api-token create`",
                {"WWW-Authenticate": f'{CHALLENGE}, error="invalid_token"'},
            )
        return principal_of(record.token_id)


def principal_of(token_id: str) -> str:
    """The actor the audit log names for a decision made with the admin token ``token_id``.

    >>> principal_of("9cbaa5d9d4edc5ab")
    'api-token:9cbaa5d9d4edc5ab'
    """
    return f"api-token:{token_id}"


def _secret(request: Request) -> str:
    """The bearer of ``request``, or 401 saying what is wrong with its header."""
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
    return secret


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
