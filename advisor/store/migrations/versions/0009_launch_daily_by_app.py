"""An index on ``launch_daily (app, day)``: the analysis loads one app's rows at a time.

Revision ID: 0009
Revises: 0008
Create Date: 2027-01-25

The analysis job runs in parts, one per app (advisor.jobs.analysis), and each part reads
its app's daily rows in the window; the key leads with ``(host, day)``, so without this
index every part would scan the whole window. It also answers which apps have rows in the
window with one probe per app (advisor.store.launch_daily.apps_of).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_launch_daily_app_day", "launch_daily", ["app", "day"])


def downgrade() -> None:
    op.drop_index("ix_launch_daily_app_day", table_name="launch_daily")
