"""A partial index of the sync runs still marked running, for the check every run makes.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04

Each sync run first looks for a run of its store left "running" (its process died). Runs are
kept: a store on a 15-minute schedule has 35,000 after a year, and the store-and-start index
made that check read them all. This index holds only the running ones (a handful).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_RUNNING = sa.text("outcome = 'running'")


def upgrade() -> None:
    op.create_index(
        "ix_sync_runs_running",
        "sync_runs",
        ["store_id"],
        sqlite_where=_RUNNING,
        postgresql_where=_RUNNING,
    )


def downgrade() -> None:
    op.drop_index("ix_sync_runs_running", table_name="sync_runs")
