"""Rendering: the Jinja2 templates shipped in ``advisor/ui/templates`` (autoescaped: what
agents send is shown as text), the security headers of every /ui answer, the navigation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import Environment, PackageLoader
from starlette.responses import HTMLResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from advisor.store.users import Role, UiSession, allows

PREFIX = "/ui"

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
)

NAVIGATION: tuple[tuple[str, str, Role], ...] = (
    ("Overview", f"{PREFIX}/", "viewer"),
    ("Recommendations", f"{PREFIX}/recommendations", "viewer"),
    ("Budget", f"{PREFIX}/budget", "viewer"),
    ("Departments", f"{PREFIX}/departments", "viewer"),
    ("Hosts", f"{PREFIX}/hosts", "viewer"),
    ("Apps", f"{PREFIX}/apps", "viewer"),
    ("Catalog", f"{PREFIX}/catalog", "viewer"),
    ("Findings", f"{PREFIX}/findings", "viewer"),
    ("Audit", f"{PREFIX}/audit", "viewer"),
    ("Settings", f"{PREFIX}/settings", "admin"),
)
"""(label, path, least role that sees it); the pages behind them come with issue 15."""


def visible_navigation(role: Role) -> list[tuple[str, str]]:
    """The navigation a ``role`` sees: (label, path)."""
    return [(label, path) for label, path, needed in NAVIGATION if allows(role, needed)]


class Pages:
    """Renders a template to an HTML answer; the base template gets the session (header,
    navigation, the logout form's CSRF token) when there is one."""

    def __init__(self) -> None:
        # autoescape on for every template, whatever its name: nothing is ever trusted HTML.
        self._env = Environment(
            loader=PackageLoader("advisor.ui", "templates"), autoescape=True, auto_reload=False
        )

    def render(
        self,
        name: str,
        context: Mapping[str, Any] | None = None,
        *,
        session: UiSession | None = None,
        status: int = 200,
    ) -> HTMLResponse:
        navigation = [] if session is None else visible_navigation(session.user.role)
        text = self._env.get_template(name).render(
            {"session": session, "navigation": navigation, "prefix": PREFIX, **(context or {})}
        )
        response = HTMLResponse(text, status_code=status)
        response.headers["Cache-Control"] = "no-store"
        return response


class SecurityHeaders:
    """ASGI middleware: :data:`SECURITY_HEADERS` on every answer of the app it wraps."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in SECURITY_HEADERS}
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message["headers"] = kept + list(SECURITY_HEADERS)
            await send(message)

        await self.app(scope, receive, with_headers)
