"""Column types that behave the same on SQLite and PostgreSQL.

SQLite has no time zones and no decimals; these types make it hand back what PostgreSQL hands
back, so the rest of the toolkit never asks which backend it is on.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, DateTime, Numeric
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime in, an aware UTC datetime out, on every backend.

    PostgreSQL stores `timestamptz`; SQLite stores the UTC wall time as text. A naive datetime is
    refused at the boundary: guessing its zone is how order dates drift by hours.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        offset = value.utcoffset()
        if offset is None:
            raise ValueError(f"naive datetime {value.isoformat()} given; pass an aware datetime")
        if dialect.name != "sqlite":
            return value
        # Cheaper than astimezone(UTC): a sync binds a few hundred thousand of these.
        return (value - offset).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# Money as `Decimal`: 18 digits, 4 after the point. PostgreSQL keeps it exact; SQLite stores a
# REAL and SQLAlchemy hands back a Decimal rounded to 4 places, exact for amounts of up to
# 15 significant digits (any order total we will meet).
Money = Numeric(18, 4)

# JSONB on PostgreSQL (indexable, compact), plain JSON text elsewhere.
JSONDocument = JSON().with_variant(JSONB(), "postgresql")
