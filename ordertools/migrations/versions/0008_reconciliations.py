"""Reconciliations: each run of `ordertools reconcile` against Amazon's order report.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02

Types are spelled out here (as in 0001) so this migration builds the same table whatever the
models become.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)
JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
COUNTS = (
    "reports",
    "report_orders",
    "compared",
    "missing",
    "stale",
    "items",
    "totals",
    "not_in_report",
    "repaired",
    "left",
)


def upgrade() -> None:
    op.create_table(
        "reconciliations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
        sa.Column("window_start", TIMESTAMP, nullable=False),
        sa.Column("window_end", TIMESTAMP, nullable=False),
        sa.Column("repair", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("outcome", sa.String(length=10), server_default="running", nullable=False),
        *(
            sa.Column(name, sa.Integer(), server_default=sa.text("0"), nullable=False)
            for name in COUNTS
        ),
        sa.Column("differences", JSON_DOCUMENT, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "outcome IN ('running', 'success', 'failed')", name=op.f("ck_reconciliations_outcome")
        ),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["stores.id"],
            name=op.f("fk_reconciliations_store_id_stores"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliations")),
    )
    op.create_index(
        "ix_reconciliations_store_started", "reconciliations", ["store_id", "started_at"]
    )


def downgrade() -> None:
    op.drop_table("reconciliations")
