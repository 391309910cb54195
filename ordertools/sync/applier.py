"""The page applier: one page of Amazon's orders into the order book, in one transaction.

The one write path for Amazon's orders. It upserts the orders that changed, asks the import rules
what each change means, creates, cancels or completes local orders, and records every status seen
in the ledger. The caller (a sync) holds the store's lock and commits.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

import orjson
from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session, selectinload

from ordertools.amazon.errors import MalformedOrder
from ordertools.amazon.models import AmazonOrder, SearchPage
from ordertools.db import (
    AmazonOrderItem,
    AmazonOrderRow,
    LocalOrder,
    LocalOrderItem,
    StatusEvent,
    Store,
    utcnow,
)
from ordertools.db.bulk import bulk_insert, bulk_insert_ids, bulk_update
from ordertools.domain import local_orders, stock
from ordertools.domain.rules import (
    Action,
    ImportDecision,
    LocalFacts,
    OrderFacts,
    StoreRules,
    decide,
    import_failed_note,
)
from ordertools.domain.statuses import display_status
from ordertools.sync.report import OrderChange, SyncReport

log = logging.getLogger(__name__)

# The decisions whose orders' stock the page settles itself (follow-through settles its own).
_SETTLE_HERE = frozenset({Action.SKIP, Action.KEEP, Action.IMPORT})


def _row_values(store: Store, order: AmazonOrder, now: datetime) -> dict:
    total = order.grand_total
    return {
        "store_id": store.id,
        "amazon_order_id": order.order_id,
        "status": order.status,
        "fulfilled_by": order.fulfilled_by,
        "marketplace_id": order.marketplace_id,
        "purchase_date": order.created_time,
        "last_updated": order.last_updated_time,
        "ship_by": order.ship_by,
        "buyer_name": order.buyer_name,
        "buyer_email": order.buyer_email,
        "grand_total": total.amount if total else None,
        "currency": total.currency_code if total else None,
        "raw": orjson.Fragment(order.raw_json),  # stored as received, not re-encoded
        "error": None,
        "updated_at": now,
    }


def _item_rows(pk: int, order: AmazonOrder) -> Iterable[dict]:
    for item in order.order_items:
        price = item.unit_price
        yield {
            "amazon_order_pk": pk,
            "order_item_id": item.order_item_id,
            "sku": item.sku,
            "asin": item.product.asin,
            "title": item.title,
            "quantity_ordered": item.quantity_ordered,
            "quantity_shipped": item.quantity_shipped,
            "unit_price": price.amount if price else None,
            "currency": price.currency_code if price else None,
        }


# Built once: a page runs it every time, and building and keying a statement cost more than
# running it. It runs on the session's connection: plain rows, without the ORM's result layer.
_STORED_VERSIONS = select(
    AmazonOrderRow.id,
    AmazonOrderRow.amazon_order_id,
    AmazonOrderRow.last_updated,
    AmazonOrderRow.status,
    AmazonOrderRow.error,
    AmazonOrderRow.note,
).where(
    AmazonOrderRow.store_id == bindparam("store_id"),
    AmazonOrderRow.amazon_order_id.in_(bindparam("order_ids", expanding=True)),
)


class ImportRefused(Exception):
    """The page's imports, made in one go without a savepoint (`PageApplier(careful=False)`),
    were refused: the caller undoes the page and applies it again, carefully."""


class PageApplier:
    """Applies one page inside one transaction (the caller commits).

    `found_by` names what found the page's orders when it was not the sync's window, e.g.
    "reconciliation": the orders' notes and the ledger say so. `careful=False`: the page's
    imports are made without a savepoint of their own, and if the database refuses one,
    `ImportRefused` is raised for the caller to undo the page and apply it again carefully
    (a savepoint is two statements, a sixth of a page of 5 new orders; refusals are rare).
    """

    def __init__(
        self,
        session: Session,
        store: Store,
        report: SyncReport,
        *,
        found_by: str | None = None,
        careful: bool = True,
    ):
        self.session = session
        self.store = store
        self.report = report
        self.rules = StoreRules.of(store)
        self.found_by = found_by
        self.careful = careful

    def apply(self, page: SearchPage) -> list[str]:
        """Apply the page; returns the ids of the orders it stored or changed (the rest were
        as new as what the order book has)."""
        for bad in page.malformed:
            self._keep_malformed(bad)
        latest = self._latest_versions(page.orders)
        if not latest:
            return []
        stored = {
            row.amazon_order_id: row
            for row in self.session.connection().execute(
                _STORED_VERSIONS, {"store_id": self.store.id, "order_ids": list(latest)}
            )
        }
        changed = [o for o in latest.values() if self._is_news(o, stored.get(o.order_id))]
        self.report.unchanged += len(latest) - len(changed)
        if not changed:
            return []
        locals_ = self._local_orders(changed, stored)
        decisions = self._decide(changed, stored, locals_)
        # The notes are written with the orders: an import's note names its local number, so
        # the numbers are taken first. Only what goes wrong afterwards is written again.
        to_import = [o for o in changed if decisions[o.order_id].action == Action.IMPORT]
        numbers = dict(zip([o.order_id for o in to_import], self._numbers(to_import), strict=True))
        notes = {
            o.order_id: self._found(
                decisions[o.order_id].note_for(numbers[o.order_id])
                if o.order_id in numbers
                else decisions[o.order_id].note
            )
            for o in changed
        }
        pks = self._upsert(changed, stored, notes)
        errors = self._act(changed, pks, decisions, locals_, numbers, notes)
        # Follow-through settled its orders' stock; the rest's is settled here, in one go: a
        # Pending order holds, an import takes its hold over, an import that failed lets go
        # (no local order will ship it), and so does one canceled before import.
        stock.settle(
            self.session,
            [pks[o.order_id] for o in changed if decisions[o.order_id].action in _SETTLE_HERE],
        )
        self._record(changed, stored, pks, decisions, notes, numbers, errors)
        return [o.order_id for o in changed]

    def _found(self, note: str | None) -> str | None:
        if self.found_by is None or note is None:
            return note
        return f"{note} (found by {self.found_by})"

    def _local_orders(self, changed: list[AmazonOrder], stored: dict) -> dict[int, LocalOrder]:
        """The local orders of the changed orders, by Amazon order pk, items loaded.

        Only orders stored before can have one: a page of new orders (a first sync is all
        new) skips the lookup."""
        known = [stored[o.order_id].id for o in changed if o.order_id in stored]
        if not known:
            return {}
        return {
            local.amazon_order_pk: local
            for local in self.session.scalars(
                select(LocalOrder)
                .where(LocalOrder.amazon_order_pk.in_(known))
                .options(selectinload(LocalOrder.items).selectinload(LocalOrderItem.product))
            )
        }

    def _decide(self, changed, stored, locals_) -> dict[str, ImportDecision]:
        """The import rules' decision for each changed order, by Amazon order id."""
        decisions = {}
        for order in changed:
            row = stored.get(order.order_id)
            # An order whose last import failed counts as changed, so the import is retried.
            previous = row.status if row is not None and row.error is None else None
            local = locals_.get(row.id) if row is not None else None
            decisions[order.order_id] = decide(
                OrderFacts.from_amazon(order, previous),
                self.rules,
                LocalFacts(local.number, local.status) if local else None,
            )
        return decisions

    def _numbers(self, to_import: list[AmazonOrder]) -> list[str]:
        """The local numbers these imports will get (taken now; a failed import leaves a gap)."""
        return local_orders.take_numbers(self.session, self.store, [o.order_id for o in to_import])

    # -- reading the page ----------------------------------------------------------------------

    def _latest_versions(self, orders: list[AmazonOrder]) -> dict[str, AmazonOrder]:
        """One version per order id: Amazon can repeat an order across (or within) pages."""
        latest: dict[str, AmazonOrder] = {}
        for order in orders:
            seen = latest.get(order.order_id)
            if seen is None or order.last_updated_time > seen.last_updated_time:
                latest[order.order_id] = order
        return latest

    @staticmethod
    def _is_news(order: AmazonOrder, row) -> bool:
        # Amazon's lastUpdatedTime has whole seconds: two changes in one second carry the same
        # time, so the same time with another status is news too (Amazon shows only its
        # current version, so it is the later one).
        return (
            row is None
            or row.error is not None
            or row.last_updated is None
            or order.last_updated_time > row.last_updated
            or (order.last_updated_time == row.last_updated and order.status != row.status)
        )

    def _keep_malformed(self, bad: MalformedOrder) -> None:
        """Keep the raw order with the reason; what was stored before stays (nothing is lost)."""
        self.report.failed += 1
        self.report.failures.append((bad.order_id or "(no id)", bad.reason))
        if bad.order_id is None:
            log.warning("store %s: skipped an order with no id: %s", self.store.name, bad.reason)
            return
        note = import_failed_note(f"Amazon sent a malformed order ({bad.reason})")
        row = self.session.scalar(
            select(AmazonOrderRow).where(
                AmazonOrderRow.store_id == self.store.id,
                AmazonOrderRow.amazon_order_id == bad.order_id,
            )
        )
        if row is None:
            raw = bad.raw if isinstance(bad.raw, dict) else {"value": bad.raw}
            row = AmazonOrderRow(
                store_id=self.store.id,
                amazon_order_id=bad.order_id,
                raw=raw,
                reserve_quantity=self.store.reserve_quantity,
            )
            self.session.add(row)
        row.error, row.note = bad.reason, note
        self.report.note_change(
            OrderChange(bad.order_id, display_status(row.status), "failed", note)
        )

    # -- writing ---------------------------------------------------------------------------------

    def _upsert(self, changed: list[AmazonOrder], stored: dict, notes: dict) -> dict[str, int]:
        """Insert new orders, update changed ones, replace their items; returns id -> pk.

        Each order is written with its note (None: an update keeps the note it had)."""
        new = [o for o in changed if o.order_id not in stored]
        old = [o for o in changed if o.order_id in stored]
        pks = {o.order_id: stored[o.order_id].id for o in old}
        if new:
            now = utcnow()
            rows = [
                {
                    **_row_values(self.store, o, now),
                    "note": notes[o.order_id],
                    "first_seen_at": now,
                    # The setting it arrived under: toggling applies to new orders only.
                    "reserve_quantity": self.store.reserve_quantity,
                }
                for o in new
            ]
            table = AmazonOrderRow.__table__
            pks |= bulk_insert_ids(
                self.session, table, rows, "amazon_order_id", store_id=self.store.id
            )
        if old:
            now = utcnow()
            bulk_update(
                self.session,
                AmazonOrderRow.__table__,
                [
                    {
                        "id": pks[o.order_id],
                        **_row_values(self.store, o, now),
                        "note": notes[o.order_id] or stored[o.order_id].note,
                    }
                    for o in old
                ],
            )
            self.session.execute(
                delete(AmazonOrderItem).where(
                    AmazonOrderItem.amazon_order_pk.in_([pks[o.order_id] for o in old])
                )
            )
        items = [item for o in changed for item in _item_rows(pks[o.order_id], o)]
        bulk_insert(self.session, AmazonOrderItem.__table__, items)
        self.report.new += len(new)
        self.report.updated += len(old)
        return pks

    def _act(self, changed, pks, decisions, locals_, numbers, notes) -> dict[str, str]:
        """Carry out the decisions; returns the errors by order id, whose notes (in `notes`)
        now say the import or follow-through failed. `numbers` gains the existing locals'."""
        errors: dict[str, str] = {}
        for order in changed:
            if pks[order.order_id] in locals_:
                numbers[order.order_id] = locals_[pks[order.order_id]].number
        to_import = [o for o in changed if decisions[o.order_id].action == Action.IMPORT]
        for order, error in self._import(to_import, pks, decisions, numbers):
            errors[order.order_id] = notes[order.order_id] = import_failed_note(error)
            del numbers[order.order_id]
        for order in changed:
            decision = decisions[order.order_id]
            if decision.action in (Action.CANCEL, Action.COMPLETE, Action.PROCESS):
                error = self._follow(locals_[pks[order.order_id]], decision)
                if error is not None:
                    errors[order.order_id] = notes[order.order_id] = import_failed_note(error)
        return errors

    def _import(self, orders, pks, decisions, numbers):
        """Create local orders for a page in one go; if that fails, one by one, so one bad order
        costs only itself. Yields (order, error) for each order that failed."""
        if not orders:
            return
        new = [
            local_orders.new_local_order(o, pks[o.order_id], decisions[o.order_id].local_status)
            for o in orders
        ]
        taken = [numbers[o.order_id] for o in orders]
        if not self.careful:
            try:
                local_orders.create_local_orders(
                    self.session, self.store, new, numbers=taken, settle=False
                )
            except Exception as exc:
                raise ImportRefused from exc
            return
        try:
            with self.session.begin_nested():
                local_orders.create_local_orders(
                    self.session, self.store, new, numbers=taken, settle=False
                )
        except Exception:  # retried order by order below, where the culprit gets the error
            log.debug("bulk import failed; importing one by one", exc_info=True)
        else:
            return
        for order, one, number in zip(orders, new, taken, strict=True):
            try:
                with self.session.begin_nested():
                    local_orders.create_local_orders(
                        self.session, self.store, [one], numbers=[number], settle=False
                    )
            except Exception as exc:  # noqa: BLE001 - the order's note carries the reason
                yield order, exc

    def _follow(self, local: LocalOrder, decision: ImportDecision) -> Exception | None:
        apply = {
            Action.CANCEL: local_orders.cancel_local_order,
            Action.COMPLETE: local_orders.complete_local_order,
            Action.PROCESS: local_orders.process_local_order,
        }[decision.action]
        try:
            with self.session.begin_nested():
                apply(self.session, local, comment=decision.note, source="amazon")
        except Exception as exc:  # noqa: BLE001 - the order's note carries the reason
            return exc
        return None

    def _record(self, changed, stored, pks, decisions, notes, numbers, errors) -> None:
        """Notes on the orders, the ledger, and the report's counts."""
        # The orders were written with their notes; only failures changed them since.
        failed = [
            {"id": pks[oid], "note": notes[oid], "error": error} for oid, error in errors.items()
        ]
        bulk_update(self.session, AmazonOrderRow.__table__, failed)
        events, now = [], utcnow()
        for order in changed:
            oid = order.order_id
            decision = decisions[oid]
            action = "failed" if oid in errors else decision.action.value
            row = stored.get(oid)
            # A repair (found_by) is always on record, even when the status stayed.
            if row is None or row.status != order.status or action != "keep" or self.found_by:
                events.append(
                    {
                        "amazon_order_pk": pks[oid],
                        "status": order.status,
                        "amazon_updated_at": order.last_updated_time,
                        "observed_at": now,
                        "sync_run_id": self.report.run_id,
                        "action": action,
                        # A re-read that kept the note still says who found the change.
                        "note": notes[oid]
                        or (f"Found by {self.found_by}" if self.found_by else None),
                    }
                )
            self._count(oid, action, errors)
            if self.report.keeps_changes:
                shown = display_status(order.status, _local_status(decision, action))
                self.report.note_change(
                    OrderChange(oid, shown, action, notes[oid], numbers.get(oid))
                )
        bulk_insert(self.session, StatusEvent.__table__, events)

    def _count(self, oid: str, action: str, errors: dict[str, str]) -> None:
        report = self.report
        if action == "failed":
            report.failed += 1
            report.failures.append((oid, errors[oid]))
        elif action == Action.IMPORT:
            report.imported += 1
        elif action == Action.CANCEL:
            report.canceled += 1
        elif action == Action.COMPLETE:
            report.completed += 1
        elif action == Action.SKIP:
            report.skipped += 1


def _local_status(decision: ImportDecision, action: str) -> str | None:
    return decision.local_status if action in ("import", "complete", "cancel", "process") else None
