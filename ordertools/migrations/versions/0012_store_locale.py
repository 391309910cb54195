"""Each store's locale and time zone: how its money and dates read (NULL: the marketplace's).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02

Added with ADD COLUMN (no table rebuild); every store starts with its marketplace's own.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("stores", sa.Column("locale", sa.String(length=20), nullable=True))
    op.add_column("stores", sa.Column("time_zone", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column("stores", "time_zone")
    op.drop_column("stores", "locale")
