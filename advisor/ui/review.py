"""Decisions on recommendations from the web interface: approve, reject (with a reason),
defer (to a date). Managers and admins only, and only on recommendations that concern
nothing but their departments (a user without departments reviews them all); the session's
user is the actor in the audit log (the store writes the entry with the decision).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, FastAPI, Form
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from advisor.errors import InvalidRecommendationInput, TransitionRefused, UnknownRecommendation
from advisor.store.recommendations import Recommendations, Verdict
from advisor.store.users import UiSession
from advisor.ui.auth import Authenticator, UiRefusal
from advisor.ui.pages_recommendations import detail_path

MAX_REASON = 2000


def parse_until(text: str, *, now: float) -> float:
    """The end of a deferral, ``YYYY-MM-DD`` (midnight UTC starting that day), after ``now``.

    >>> parse_until("2027-03-01", now=0.0)
    1803859200.0
    """
    try:
        day = dt.date.fromisoformat(text.strip())
    except ValueError:
        raise UiRefusal(400, "defer needs a date, as YYYY-MM-DD") from None
    until = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()
    if until <= now:
        raise UiRefusal(400, "defer needs a date in the future")
    return until


def add_review_routes(
    app: FastAPI,
    auth: Authenticator,
    recommendations: Recommendations,
    clock: Callable[[], float],
) -> None:
    """``POST /recommendations/{key}/approve|reject|defer`` on ``app``."""

    def decide(session: UiSession, key: str, verdict: Verdict, reason: str, until: str) -> Response:
        now = clock()
        found = recommendations.get(key)
        if found is None:
            raise UiRefusal(404, "no such recommendation")
        allowed = session.user.departments
        if allowed and not set(found.departments) <= set(allowed):
            raise UiRefusal(403, "this recommendation concerns departments you do not review")
        text = reason.strip() or None
        if text is not None and len(text) > MAX_REASON:
            raise UiRefusal(400, f"the reason is over {MAX_REASON} characters")
        if verdict == "reject" and text is None:
            raise UiRefusal(400, "reject needs a reason")
        deferred = parse_until(until, now=now) if verdict == "defer" else None
        try:
            recommendations.decide(
                key,
                verdict=verdict,
                actor=session.user.user_id,
                reason=text,
                until=deferred,
                now=now,
            )
        except UnknownRecommendation:
            raise UiRefusal(404, "no such recommendation") from None
        except TransitionRefused as refused:
            raise UiRefusal(409, str(refused)) from None
        except InvalidRecommendationInput as bad:
            raise UiRefusal(400, str(bad)) from None
        # Back to the recommendation, which says what was done (?done=approve, a fixed word).
        return RedirectResponse(f"{detail_path(key)}?done={verdict}", status_code=303)

    manager = Depends(auth.require("manager"))

    @app.post("/recommendations/{key:path}/approve")
    async def approve(
        key: str,
        session: UiSession = manager,
        reason: Annotated[str, Form()] = "",
    ) -> Response:
        return await run_in_threadpool(decide, session, key, "approve", reason, "")

    @app.post("/recommendations/{key:path}/reject")
    async def reject(
        key: str,
        session: UiSession = manager,
        reason: Annotated[str, Form()] = "",
    ) -> Response:
        return await run_in_threadpool(decide, session, key, "reject", reason, "")

    @app.post("/recommendations/{key:path}/defer")
    async def defer(
        key: str,
        session: UiSession = manager,
        until: Annotated[str, Form()] = "",
        reason: Annotated[str, Form()] = "",
    ) -> Response:
        return await run_in_threadpool(decide, session, key, "defer", reason, until)
