"""The stores the admin routes (catalog, findings, recommendations) need, on the engine of a
test's SQL store."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from advisor.store.open import stores_on


def admin_routes(engine: sa.Engine) -> dict[str, Any]:
    """``create_app`` keyword arguments that serve the catalog, findings and recommendations
    routes (the findings priced with the launch rates of ``frames``)."""
    stores = stores_on(engine)
    return {
        "findings": stores.findings,
        "catalog": stores.catalog,
        "api_tokens": stores.api_tokens,
        "frames": stores.frames,
        "recommendations": stores.recommendations,
        "audit": stores.audit,
    }
