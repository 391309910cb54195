"""`import-order`: import one view-only order now, on request, under the import rules."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Engine

from ordertools.amazon.models import parse_order
from ordertools.db import (
    AmazonOrderRow,
    StatusEvent,
    Store,
)
from ordertools.db import session as db_session
from ordertools.db.locks import store_lock
from ordertools.domain import local_orders
from ordertools.domain.rules import (
    Action,
    LocalFacts,
    OrderFacts,
    StoreRules,
    decide,
)
from ordertools.domain.stores import get_store
from ordertools.errors import NotInOrderBook, OrdertoolsError


def import_order(engine: Engine, name: str, order_number: str, *, wait: float = 60) -> str:
    """`import-order`: import one view-only order now, whatever the toggle; returns its local
    number. The import rules still apply (integration, status, channel): a refusal says why."""
    with db_session(engine) as session:
        store_id = get_store(session, name).id
    with store_lock(engine, store_id, wait=wait), db_session(engine) as session:
        store = session.get(Store, store_id)
        row = session.scalar(
            select(AmazonOrderRow).where(
                AmazonOrderRow.store_id == store.id, AmazonOrderRow.amazon_order_id == order_number
            )
        )
        if row is None:
            raise NotInOrderBook(
                f"store {name} has never received Amazon order {order_number}: check the "
                "number, or run `ordertools sync` first"
            )
        if row.purchase_date is None:  # only ever received malformed: nothing to import from
            raise ImportRefused(
                f"order {order_number} was not imported: Amazon sent it malformed "
                f"({row.error or 'no purchase date'}); it imports once Amazon sends it whole"
            )
        local = local_orders.local_order_for(session, row)
        facts = OrderFacts(row.status, row.fulfilled_by, row.purchase_date, row.status)
        rules = StoreRules.of(store)
        decision = decide(
            facts, rules, LocalFacts(local.number, local.status) if local else None, requested=True
        )
        if decision.action != Action.IMPORT:
            raise ImportRefused(f"order {order_number} was not imported: {decision.note}")
        # The order as Amazon last sent it whole (a malformed update never replaces it).
        order = parse_order(row.raw)
        new = local_orders.new_local_order(order, row.id, decision.local_status)
        number = local_orders.create_local_orders(
            session, store, [new], comment=f"Imported on request from Amazon order {order_number}"
        )[row.id]
        row.note, row.error = decision.note_for(number), None
        session.add(
            StatusEvent(
                amazon_order_pk=row.id,
                status=row.status,
                amazon_updated_at=row.last_updated,
                action="import",
                note=row.note,
            )
        )
        return number


class ImportRefused(OrdertoolsError):
    """`import-order` refused by the import rules; the message says which rule."""
