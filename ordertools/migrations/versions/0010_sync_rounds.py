"""Sync rounds: `sync --all` runners (processes, hosts) sharing one round of the stores.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02

A round is one pass over every store; each run of a store in a round names the round and the
runner that made it. The run columns are added with ADD COLUMN (no table rebuild on SQLite);
`round_id` carries no foreign key for the same reason (SQLite cannot add one in place), and a
round is never deleted while its runs exist.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sync_rounds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_rounds")),
        sa.UniqueConstraint("key", name=op.f("uq_sync_rounds_key")),
    )
    op.add_column("sync_runs", sa.Column("round_id", sa.Integer(), nullable=True))
    op.add_column("sync_runs", sa.Column("runner", sa.String(length=255), nullable=True))
    op.create_index("ix_sync_runs_round_store", "sync_runs", ["round_id", "store_id"])


def downgrade() -> None:
    op.drop_index("ix_sync_runs_round_store", table_name="sync_runs")
    for name in ("runner", "round_id"):
        if op.get_bind().dialect.name == "sqlite":
            op.execute(f"ALTER TABLE sync_runs DROP COLUMN {name}")
        else:
            op.drop_column("sync_runs", name)
    op.drop_table("sync_rounds")
