"""The advisor's HTTP API: enrolment, ingest, health and metrics (FastAPI).

:func:`advisor.api.app.create_app` wires a :class:`~advisor.store.Store` (and, for the admin
routes, the findings, catalog and API-token interfaces of advisor.store) and
:class:`~advisor.api.settings.ApiSettings` into an ASGI app; the service runs it under uvicorn.
Request bodies are handled by :mod:`advisor.api.ingest` (pure: bytes in, a validated
:class:`agent.shared.wire.Batch` or a rejection out), credentials by
:mod:`advisor.api.auth`, and the Prometheus metrics live in :mod:`advisor.api.metrics`.
"""

from __future__ import annotations
