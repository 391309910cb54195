"""Notebook runs: the record of each papermill run (`ordertools run`, schedules).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27

Types are spelled out here (as in 0001) so this migration builds the same table whatever the
model becomes.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)
JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "notebook_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notebook", sa.String(length=255), nullable=False),
        sa.Column("store", sa.String(length=255), nullable=True),
        sa.Column("parameters", JSON_DOCUMENT, nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
        sa.Column("outcome", sa.String(length=10), server_default="running", nullable=False),
        sa.Column("output_path", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "outcome IN ('running', 'success', 'failed')", name=op.f("ck_notebook_runs_outcome")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notebook_runs")),
    )
    op.create_index("ix_notebook_runs_started", "notebook_runs", ["started_at"], unique=False)
    op.create_index(
        "ix_notebook_runs_store_started", "notebook_runs", ["store", "started_at"], unique=False
    )


def downgrade() -> None:
    op.drop_table("notebook_runs")
