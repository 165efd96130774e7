"""The admin API token check shared by the read endpoints for people (catalog, findings).

Those endpoints show the fleet's inventory and findings, so they are never anonymous: each
request carries ``Authorization: Bearer <token>`` with a token from ``fleetsight-advisor
api-token create`` (stored hashed, see advisor.store.api_tokens). Agents' host credentials
are a different kind and are refused here.
"""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, FastAPI, HTTPException, Request
from pydantic import BaseModel

from advisor.api.auth import bearer_token
from advisor.store.api_tokens import check_api_token

CHALLENGE = 'Bearer realm="fleetsight-admin"'
_ENGINE_STATE = "fleetsight_admin_engine"


def serve_admin_routes_from(app: FastAPI, store: object) -> None:
    """Let the admin routes of ``app`` use ``store``'s engine (None: they answer 503)."""
    setattr(app.state, _ENGINE_STATE, getattr(store, "engine", None))


def admin_engine(request: Request) -> sa.Engine:
    """The store's engine, once the request's admin API token is checked (else 401)."""
    engine = getattr(request.app.state, _ENGINE_STATE, None)
    if not isinstance(engine, sa.Engine):
        raise HTTPException(503, "this endpoint needs the SQL store; this advisor has none")
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
    if not check_api_token(engine, secret):
        raise HTTPException(
            401,
            "the admin API token is unknown or revoked: create one with "
            "`fleetsight-advisor api-token create`",
            {"WWW-Authenticate": f'{CHALLENGE}, error="invalid_token"'},
        )
    return engine


Admin = Annotated[sa.Engine, Depends(admin_engine)]
"""A route parameter of this type makes the route need an admin API token."""


def error_responses(
    error_model: type[BaseModel], what: str, described: dict[int, str]
) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` of an admin route: its own codes in ``described`` plus those
    every admin route shares (``what`` names the data, for the 503)."""
    base = {
        400: "A query parameter is not valid; the detail names it.",
        401: "No admin API token, or an unknown or revoked one.",
        503: f"{what} not available on this advisor's store.",
        **described,
    }
    return {code: {"model": error_model, "description": text} for code, text in base.items()}
