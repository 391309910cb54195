"""db.bulk writes what SQLAlchemy would write, on both backends.

The sync writes its rows through `bulk_insert` / `bulk_update` (compiled once, the driver's
executemany, COPY on PostgreSQL, multi-row INSERTs on SQLite). Everything else reads those rows
through SQLAlchemy, and on SQLite times are compared as text: so a row written in bulk must be
indistinguishable from one written by `session.execute(insert(...))`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import orjson
import pytest
from fixtures_db import new_store
from sqlalchemy import insert, select, text

from ordertools import db
from ordertools.db import AmazonOrderRow, StatusEvent, bulk

PLACED = datetime(2026, 3, 1, 9, 30, 15, 120000, tzinfo=UTC)
RAW = b'{"orderId":"X","buyer":{"buyerName":"Zo\xc3\xab <b>"},"total":{"amount":"12.50"}}'


def _order(store_id: int, order_id: str) -> dict:
    return {
        "store_id": store_id,
        "amazon_order_id": order_id,
        "status": "UNSHIPPED",
        "purchase_date": PLACED,
        # Not UTC: stored as UTC.
        "last_updated": PLACED.astimezone(timezone(timedelta(hours=-8))) + timedelta(hours=1),
        "buyer_name": "Zoë <b>",
        "grand_total": Decimal("12.50"),
        "currency": "USD",
        "first_seen_at": PLACED,
        "updated_at": PLACED,
    }


def _stored(engine, table: str, order_id: str) -> dict:
    """The row as the database holds it (SQLite: the very text), beside nothing else."""
    with engine.connect() as conn:
        row = conn.execute(
            text(f"SELECT * FROM {table} WHERE amazon_order_id = :id"), {"id": order_id}
        )
        return dict(row.mappings().one())


def test_a_bulk_inserted_order_is_stored_exactly_as_sqlalchemy_stores_it(engine, store):
    with db.session(engine) as s:
        s.execute(insert(AmazonOrderRow.__table__), [{**_order(store.id, "A"), "raw": {}}])
        bulk.bulk_insert(s, AmazonOrderRow.__table__, [{**_order(store.id, "B"), "raw": {}}])
    by_sqlalchemy, by_bulk = (
        _stored(engine, "amazon_orders", "A"),
        _stored(engine, "amazon_orders", "B"),
    )
    for row in (by_sqlalchemy, by_bulk):
        row.pop("id"), row.pop("amazon_order_id")
    assert by_bulk == by_sqlalchemy
    with db.session(engine) as s:
        order = s.scalar(select(AmazonOrderRow).where(AmazonOrderRow.amazon_order_id == "B"))
        assert order.purchase_date == PLACED and order.purchase_date.tzinfo is not None
        assert order.last_updated == PLACED + timedelta(hours=1)
        assert order.grand_total == Decimal("12.50") and order.buyer_name == "Zoë <b>"


def test_raw_json_is_stored_as_received_and_reads_back_as_a_document(engine, store):
    with db.session(engine) as s:
        row = {**_order(store.id, "A"), "raw": orjson.Fragment(RAW)}
        bulk.bulk_insert(s, AmazonOrderRow.__table__, [row])
    with db.session(engine) as s:
        raw = s.scalar(select(AmazonOrderRow.raw))
    assert raw == orjson.loads(RAW)
    assert raw["buyer"]["buyerName"] == "Zoë <b>"


def test_python_side_defaults_are_filled_like_sqlalchemy_fills_them(engine, store):
    with db.session(engine) as s:
        row = {**_order(store.id, "A"), "raw": {}}
        del row["first_seen_at"], row["updated_at"]  # default=utcnow on both
        bulk.bulk_insert(s, AmazonOrderRow.__table__, [row])
        pk = s.scalar(select(AmazonOrderRow.id))
        before = datetime.now(UTC)
        bulk.bulk_insert(
            s,
            StatusEvent.__table__,
            [{"amazon_order_pk": pk, "status": "UNSHIPPED", "action": "import", "note": None}],
        )
    with db.session(engine) as s:
        order = s.scalar(select(AmazonOrderRow))
        event = s.scalar(select(StatusEvent))
    assert order.first_seen_at is not None and order.updated_at is not None
    assert event.observed_at >= before - timedelta(seconds=1)


def test_bulk_update_sets_the_given_columns_and_the_onupdate_ones(engine, store):
    with db.session(engine) as s:
        bulk.bulk_insert(
            s,
            AmazonOrderRow.__table__,
            [{**_order(store.id, oid), "raw": {}} for oid in ("A", "B", "C")],
        )
        ids = dict(s.execute(select(AmazonOrderRow.amazon_order_id, AmazonOrderRow.id)).all())
        bulk.bulk_update(
            s,
            AmazonOrderRow.__table__,
            [
                {"id": ids["A"], "note": "Imported as local order 000000001", "error": None},
                {"id": ids["C"], "note": "Import failed: no stock", "error": "no stock"},
            ],
        )
    with db.session(engine) as s:
        rows = {r.amazon_order_id: r for r in s.scalars(select(AmazonOrderRow))}
    assert rows["A"].note == "Imported as local order 000000001" and rows["A"].error is None
    assert rows["B"].note is None  # untouched
    assert rows["C"].error == "no stock"
    assert rows["A"].updated_at > PLACED and rows["B"].updated_at == PLACED  # onupdate=utcnow


def test_many_rows_are_written_in_several_statements_without_losing_one(engine, store, monkeypatch):
    monkeypatch.setattr(bulk, "SQLITE_MAX_PARAMETERS", 40)  # 3 rows a statement on SQLite
    with db.session(engine) as s:
        bulk.bulk_insert(
            s,
            AmazonOrderRow.__table__,
            [{**_order(store.id, f"O{i:03d}"), "raw": {"n": i}} for i in range(250)],
        )
    with db.session(engine) as s:
        stored = s.execute(select(AmazonOrderRow.amazon_order_id, AmazonOrderRow.raw)).all()
    assert sorted(stored) == [(f"O{i:03d}", {"n": i}) for i in range(250)]


def test_a_naive_datetime_is_refused_not_guessed(engine, store):
    row = {**_order(store.id, "A"), "raw": {}, "purchase_date": datetime(2026, 3, 1, 9, 30)}
    with pytest.raises(ValueError, match="naive datetime"), db.session(engine) as s:
        bulk.bulk_insert(s, AmazonOrderRow.__table__, [row])
    with db.session(engine) as s:
        assert s.scalar(select(AmazonOrderRow)) is None


@pytest.mark.parametrize(
    "moment",
    [
        PLACED,
        datetime(2026, 11, 20, 12, 0, tzinfo=UTC),  # no fraction: still six digits
        datetime(2026, 1, 1, 1, 0, 0, 5, tzinfo=timezone(timedelta(hours=2))),
        datetime(999, 12, 31, 23, 59, 59, tzinfo=UTC),
    ],
)
def test_sqlite_times_are_the_text_sqlalchemys_own_sqlite_type_writes(moment):
    """Books written before (by SQLAlchemy's DATETIME) and after compare as one text order."""
    from sqlalchemy.dialects import sqlite

    from ordertools.db.types import UTCDateTime

    dialect = sqlite.dialect()
    native = sqlite.DATETIME().bind_processor(dialect)
    ours = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    utc_wall = moment.astimezone(UTC).replace(tzinfo=None)
    assert ours(moment) == native(utc_wall)


def test_bulk_insert_ids_gives_each_new_row_its_id_within_the_store(engine, store, monkeypatch):
    monkeypatch.setattr(bulk, "SQLITE_MAX_PARAMETERS", 40)  # on SQLite, ids from 2 statements
    with db.session(engine) as s:
        other = new_store("other")
        s.add(other)
        s.flush()
        # The same Amazon order id in another store must not be mistaken for this store's.
        bulk.bulk_insert(s, AmazonOrderRow.__table__, [{**_order(other.id, "A-2"), "raw": {}}])
        ids = bulk.bulk_insert_ids(
            s,
            AmazonOrderRow.__table__,
            [{**_order(store.id, oid), "raw": {}} for oid in ("A-1", "A-2", "A-3")],
            "amazon_order_id",
            store_id=store.id,
        )
    with db.session(engine) as s:
        stored = dict(
            s.execute(
                select(AmazonOrderRow.amazon_order_id, AmazonOrderRow.id).where(
                    AmazonOrderRow.store_id == store.id
                )
            ).all()
        )
    assert ids == stored
    assert sorted(ids) == ["A-1", "A-2", "A-3"]
