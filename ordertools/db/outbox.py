"""Fulfillment tables: the shipments of local orders, and the outbox of changes for Amazon.

An `OutboxEntry` is written in the same transaction as the local change it reports (a shipment,
a cancellation), so a crash can't keep one without the other. Its `state` says how far Amazon
has got: `pending` (never sent), `sent` (a request may have reached Amazon; `accepted_at` says it
did), `confirmed` (Amazon's order shows the change), `failed` (Amazon refused it).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ordertools.db.schema import Base, LocalOrder, _one_of, utcnow

OUTBOX_KINDS = ("ship", "cancel")
OUTBOX_STATES = ("pending", "sent", "confirmed", "failed")


class Shipment(Base):
    """One package of a local order; its id is the package's `packageReferenceId` at Amazon."""

    __tablename__ = "shipments"

    id: Mapped[int] = mapped_column(primary_key=True)
    local_order_id: Mapped[int] = mapped_column(
        ForeignKey("local_orders.id", ondelete="CASCADE"), index=True
    )
    carrier_code: Mapped[str] = mapped_column(String(64))
    carrier_name: Mapped[str | None] = mapped_column(String(255))
    tracking_number: Mapped[str] = mapped_column(String(255))
    shipping_method: Mapped[str | None] = mapped_column(String(255))
    ship_date: Mapped[datetime]
    items: Mapped[dict[str, Any]]  # {"items": [{"order_item_id", "sku", "quantity"}, ...]}
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    order: Mapped[LocalOrder] = relationship()

    @property
    def package_reference_id(self) -> str:
        return str(self.id)


class OutboxEntry(Base):
    """One change for Amazon, from the local action until Amazon's order shows it."""

    __tablename__ = "outbox"
    __table_args__ = (
        _one_of("kind", OUTBOX_KINDS, "kind"),
        _one_of("state", OUTBOX_STATES, "state"),
        UniqueConstraint("idempotency_key"),
        Index("ix_outbox_state_next_attempt", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), index=True)
    local_order_id: Mapped[int] = mapped_column(
        ForeignKey("local_orders.id", ondelete="CASCADE"), index=True
    )
    amazon_order_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(10))
    payload: Mapped[dict[str, Any]]
    idempotency_key: Mapped[str] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(10), default="pending", server_default="pending")
    attempts: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    next_attempt_at: Mapped[datetime | None]
    last_attempt_at: Mapped[datetime | None]
    accepted_at: Mapped[datetime | None]  # Amazon answered the request with a success
    remote_id: Mapped[str | None] = mapped_column(String(64))  # e.g. the feed id of a cancel
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]

    order: Mapped[LocalOrder] = relationship()

    def __repr__(self) -> str:
        return f"<OutboxEntry {self.id} {self.kind} {self.amazon_order_id} {self.state}>"
