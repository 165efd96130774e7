"""``/docs``: Swagger UI served from the advisor itself, never from a CDN.

FastAPI's default page loads Swagger UI from a CDN, and on an advisor without internet access
(a department's network, an air-gapped site) it stayed blank. The assets are vendored under
``static/swagger-ui`` (npm ``swagger-ui-dist``, version and update steps in its README.md) and
mounted at ``/docs/static``; the page references nothing outside the advisor.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

SWAGGER_UI_VERSION = "5.36.0"
ASSETS = Path(__file__).resolve().parent / "static" / "swagger-ui"
DOCS_PATH = "/docs"
STATIC_PATH = "/docs/static"


def add_docs_routes(app: FastAPI) -> None:
    """Serve Swagger UI at ``/docs`` for ``app``'s OpenAPI document (the app is made with
    ``docs_url=None`` so FastAPI adds no CDN page of its own)."""
    app.mount(STATIC_PATH, StaticFiles(directory=ASSETS), name="swagger-ui")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get(DOCS_PATH, include_in_schema=False)
    async def docs(request: Request) -> HTMLResponse:
        # Behind a proxy that mounts the advisor under a prefix, links must carry it.
        root = str(request.scope.get("root_path", "")).rstrip("/")
        static = root + STATIC_PATH
        return get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - API",
            swagger_js_url=f"{static}/swagger-ui-bundle.js",
            swagger_css_url=f"{static}/swagger-ui.css",
            swagger_favicon_url=f"{static}/favicon-32x32.png",
            # Swagger UI's default validator badge is an image from validator.swagger.io.
            swagger_ui_parameters={"validatorUrl": None},
        )
