"""Saved views of All Orders: a named set of columns, filters and sort, per store.

The Sales Channel's "Default View" is not a row: it is the seed's columns with no filter, always
there, so it can never be renamed or deleted. Filters are stored as the JSON the dashboard's
filter form reads back (`dashboard.filters_to_json`), never as SQL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ordertools.db.schema import Base, utcnow


class SavedView(Base):
    __tablename__ = "saved_views"
    __table_args__ = (UniqueConstraint("store_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    columns: Mapped[dict[str, Any]]  # {"columns": [...], "sort": "...", "descending": true}
    filters: Mapped[dict[str, Any]]  # the filter form's values, JSON-safe
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
