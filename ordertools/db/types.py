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
        if value is not None and value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} given; pass an aware datetime")
        return value  # PostgreSQL: timestamptz takes the aware value as it is

    def bind_processor(self, dialect):
        if dialect.name == "sqlite":  # straight to text, past process_bind_param and the impl's
            return _sqlite_utc_text
        return super().bind_processor(dialect)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _sqlite_utc_text(value: datetime | None) -> str | None:
    """The UTC wall time in SQLAlchemy's SQLite text format, `2026-11-20 12:00:00.000000`.

    The same text SQLAlchemy's own processor writes (stored times compare as text, so the
    format must never vary), made with one C call instead of a %-format of seven fields: a
    first sync binds a few hundred thousand of these.
    """
    if value is None:
        return None
    if value.tzinfo is UTC:  # nearly always (Amazon's "Z", utcnow): drop the "+00:00"
        return value.isoformat(" ", "microseconds")[:26]
    offset = value.utcoffset()
    if offset is None:
        raise ValueError(f"naive datetime {value.isoformat()} given; pass an aware datetime")
    return (value.replace(tzinfo=None) - offset).isoformat(" ", "microseconds")


# Money as `Decimal`: 18 digits, 4 after the point. PostgreSQL keeps it exact; SQLite stores a
# REAL and SQLAlchemy hands back a Decimal rounded to 4 places, exact for amounts of up to
# 15 significant digits (any order total we will meet).
Money = Numeric(18, 4)

# JSONB on PostgreSQL (indexable, compact), plain JSON text elsewhere.
JSONDocument = JSON().with_variant(JSONB(), "postgresql")
