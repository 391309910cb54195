"""The order book's schema, migrations and engine, on SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing
import os
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from fixtures_db import new_store
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError, OperationalError, StatementError

from ordertools import db
from ordertools.db.engine import is_read_only, is_read_only_failure
from ordertools.errors import ConfigurationError
from ordertools.migrations import include_name

# The newest migration, read from the scripts so a new migration needs no edit here; one head
# only, or users would meet two diverging schemas.
_HEADS = ScriptDirectory.from_config(db.alembic_config()).get_heads()
assert len(_HEADS) == 1, f"migrations have several heads: {_HEADS}"
HEAD = _HEADS[0]


def test_declared_head_is_the_newest_migration():
    """`connect()` trusts ordertools.migrations.HEAD to skip Alembic: it must not fall behind."""
    from ordertools.migrations import HEAD as declared

    assert declared == HEAD, "a migration was added: set HEAD in ordertools/migrations/__init__.py"


TABLES = {
    "stores",
    "amazon_orders",
    "amazon_order_items",
    "status_events",
    "local_orders",
    "local_order_items",
    "local_order_history",
    "customers",
    "products",
    "stock_reservations",
    "sync_runs",
}


def amazon_order(store: db.Store, order_id: str = "113-0000001-0000001", **fields):
    defaults = {
        "status": "UNSHIPPED",
        "purchase_date": datetime(2026, 2, 1, 12, tzinfo=UTC),
        "last_updated": datetime(2026, 2, 1, 13, tzinfo=UTC),
        "raw": {"orderId": order_id},
    }
    return db.AmazonOrderRow(store_id=store.id, amazon_order_id=order_id, **defaults | fields)


def local_order(store: db.Store, row: db.AmazonOrderRow, number: str, **fields):
    return db.LocalOrder(
        store_id=store.id,
        amazon_order=row,
        amazon_order_id=row.amazon_order_id,
        number=number,
        status="pending",
        **fields,
    )


# -- migrations -----------------------------------------------------------------------------


def test_connect_brings_an_empty_database_to_head(db_url):
    empty = db.connect(db_url, migrate=False)
    assert db.current_revision(empty) is None
    empty.dispose()

    engine = db.connect(db_url)
    assert db.current_revision(engine) == HEAD
    assert TABLES <= set(inspect(engine).get_table_names())
    engine.dispose()
    engine = db.connect(db_url)  # already at head: a version check, nothing else
    assert db.current_revision(engine) == HEAD
    engine.dispose()


def test_migrations_build_exactly_the_models(engine):
    with engine.connect() as conn:
        # The search index (FTS5 table, pg_trgm indexes) is no model: env.py's filter, here too.
        opts = {"compare_type": True, "include_name": include_name}
        context = MigrationContext.configure(conn, opts=opts)
        assert compare_metadata(context, db.Base.metadata) == []


def test_migrations_downgrade_to_base_and_back(engine, store):
    db.downgrade(engine, "base")
    assert db.current_revision(engine) is None
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}

    db.upgrade(engine)
    assert db.current_revision(engine) == HEAD
    with db.session(engine) as s:
        assert s.scalars(select(db.Store)).all() == []


def test_a_database_newer_than_the_code_is_a_configuration_error(engine):
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(ConfigurationError, match="schema revision 9999, newer than this"):
        db.connect(engine.url)


def _connect(url: str) -> None:
    db.connect(url).dispose()


def test_processes_opening_a_fresh_database_at_once_all_succeed(db_url):
    ctx = multiprocessing.get_context("fork")
    workers = [ctx.Process(target=_connect, args=(db_url,)) for _ in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(30)
    assert [w.exitcode for w in workers] == [0, 0, 0]


# -- constraints and types ------------------------------------------------------------------


def test_database_refuses_a_second_local_order_for_one_amazon_order(engine, store):
    with db.session(engine) as s:
        row = amazon_order(store)
        s.add(local_order(store, row, "000000001"))

    with pytest.raises(IntegrityError), db.session(engine) as s:
        row = s.scalars(select(db.AmazonOrderRow)).one()
        s.add(
            db.LocalOrder(
                store_id=store.id,
                amazon_order_pk=row.id,
                amazon_order_id=row.amazon_order_id,
                number="000000002",
                status="pending",
            )
        )


def test_database_refuses_a_local_number_twice_in_one_store(engine, store):
    with pytest.raises(IntegrityError), db.session(engine) as s:
        s.add(local_order(store, amazon_order(store, "113-0000001-0000001"), "000000001"))
        s.add(local_order(store, amazon_order(store, "113-0000002-0000002"), "000000001"))


def test_database_refuses_an_amazon_order_twice_in_one_store(engine, store):
    with pytest.raises(IntegrityError), db.session(engine) as s:
        s.add_all([amazon_order(store), amazon_order(store)])


def test_aware_datetimes_round_trip_as_utc(engine, store):
    berlin_noon = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=timezone(timedelta(hours=1)))
    with db.session(engine) as s:
        s.add(amazon_order(store, purchase_date=berlin_noon))

    with db.session(engine) as s:
        row = s.scalars(select(db.AmazonOrderRow)).one()
        fetched = s.get(db.Store, store.id)
    assert row.purchase_date == berlin_noon
    assert row.purchase_date.tzinfo == UTC
    assert row.purchase_date.hour == 11
    assert row.first_seen_at.tzinfo == UTC
    assert fetched.integrated_at == datetime(2026, 1, 1, tzinfo=UTC)


def test_naive_datetimes_are_refused(engine, store):
    with pytest.raises(StatementError, match="naive datetime"), db.session(engine) as s:
        s.add(amazon_order(store, purchase_date=datetime(2026, 3, 1, 12)))


def test_money_round_trips_as_decimal(engine, store):
    with db.session(engine) as s:
        row = amazon_order(store, grand_total=Decimal("1234567.8912"), currency="USD")
        row.items.append(
            db.AmazonOrderItem(order_item_id="1", quantity_ordered=3, unit_price=Decimal("0.10"))
        )
        s.add(row)

    with db.session(engine) as s:
        row = s.scalars(select(db.AmazonOrderRow)).one()
        assert row.grand_total == Decimal("1234567.8912")
        assert isinstance(row.grand_total, Decimal)
        assert row.items[0].unit_price == Decimal("0.1")
        assert s.scalar(select(db.AmazonOrderItem.unit_price * 3)) == Decimal("0.3")
        assert row.raw == {"orderId": "113-0000001-0000001"}


def test_deleting_a_store_removes_its_orders(engine, store):
    with db.session(engine) as s:
        row = amazon_order(store)
        row.items.append(db.AmazonOrderItem(order_item_id="1", quantity_ordered=1))
        row.events.append(db.StatusEvent(status="UNSHIPPED", action="import"))
        s.add(local_order(store, row, "000000001"))

    with db.session(engine) as s:
        s.delete(s.get(db.Store, store.id))

    with engine.connect() as conn:
        for table in ("amazon_orders", "amazon_order_items", "status_events", "local_orders"):
            assert conn.scalar(text(f"SELECT count(*) FROM {table}")) == 0


def test_store_settings_have_the_documented_defaults(engine, store):
    with db.session(engine) as s:
        fresh = s.get(db.Store, store.id)
    assert (fresh.api_lag_seconds, fresh.overlap_seconds) == (120, 600)
    assert fresh.refresh_token_env == "ORDERTOOLS_REFRESH_TOKEN"
    assert fresh.import_enabled and fresh.reserve_quantity
    assert (fresh.customer_creation, fresh.order_number_source) == ("guest", "local")
    assert (fresh.new_order_status, fresh.last_order_number, fresh.cursor) == ("pending", 0, None)


# -- numbering ------------------------------------------------------------------------------


def test_local_order_numbers_count_up_per_store(engine, store):
    with db.session(engine) as s:
        mine = s.get(db.Store, store.id)
        assert [db.next_local_order_number(s, mine) for _ in range(3)] == [
            "000000001",
            "000000002",
            "000000003",
        ]
        assert mine.last_order_number == 3

    with pytest.raises(RuntimeError), db.session(engine) as s:
        db.next_local_order_number(s, s.get(db.Store, store.id))
        raise RuntimeError("import failed")  # rolled back: the number is not used up
    with db.session(engine) as s:
        assert db.next_local_order_number(s, s.get(db.Store, store.id)) == "000000004"


def _take_numbers(url: str, store_id: int, count: int, out) -> None:
    engine = db.connect(url, migrate=False)
    taken = []
    for _ in range(count):  # one transaction each, so the processes interleave
        with db.session(engine) as s:
            taken.append(db.next_local_order_number(s, s.get(db.Store, store_id)))
    out.put(taken)
    engine.dispose()


def test_concurrent_processes_get_distinct_local_numbers(db_url, engine, store):
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    workers = [
        ctx.Process(target=_take_numbers, args=(db_url, store.id, 20, out)) for _ in range(4)
    ]
    for w in workers:
        w.start()
    numbers = [n for _ in workers for n in out.get(timeout=60)]
    for w in workers:
        w.join(10)
    assert sorted(numbers) == [f"{n:09d}" for n in range(1, 81)]


# -- engine ---------------------------------------------------------------------------------


def test_sqlite_runs_in_wal_mode_with_foreign_keys(sqlite_url):
    engine = db.connect(sqlite_url)
    with engine.connect() as conn:
        pragma = {
            p: conn.exec_driver_sql(f"PRAGMA {p}").scalar()
            for p in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
        }
    engine.dispose()
    assert pragma == {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "busy_timeout": 30000,
        "synchronous": 1,
    }


def test_in_memory_sqlite_is_one_database_for_every_session():
    engine = db.connect("sqlite://")
    with db.session(engine) as s:
        s.add(db.Product(sku="SKU-1", name="Mug", quantity=5))
    with db.session(engine) as s:
        assert s.scalars(select(db.Product.sku)).all() == ["SKU-1"]


def test_plain_postgresql_urls_use_psycopg_3(pg_url):
    engine = db.connect(pg_url.replace("postgresql+psycopg://", "postgresql://"))
    assert engine.url.drivername == "postgresql+psycopg"
    engine.dispose()


def test_default_url_is_the_environment_or_a_file_in_the_user_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("ORDERTOOLS_DB", "postgresql://u@h/orders")
    assert db.default_url() == "postgresql://u@h/orders"

    monkeypatch.delenv("ORDERTOOLS_DB")
    monkeypatch.setattr("platformdirs.user_data_dir", lambda app: str(tmp_path / "data" / app))
    assert db.default_url() == f"sqlite:///{tmp_path / 'data' / 'ordertools' / 'ordertools.db'}"
    assert (tmp_path / "data" / "ordertools").is_dir()


@pytest.mark.parametrize(
    "url, message",
    [
        ("not a url", "is not a database URL this machine can open"),
        ("garbage://bob:s3cret@:::", "'garbage://...' is not a database URL"),
        ("mysql://bob:s3cret@db.example/orders", "'mysql://bob:***@db.example/orders' is not a"),
        ("nosuchdb://x", "'nosuchdb://x' is not a database URL this machine can open"),
        (
            "postgresql://bob:s3cret@127.0.0.1:1/orders",
            "cannot open the order book at postgresql+psycopg://bob:***@127.0.0.1:1/orders: ",
        ),
        (
            "sqlite:////nonexistent-dir/x/orders.db",
            "the order book's folder /nonexistent-dir/x does not exist: create it",
        ),
        (
            "sqlite:///file:/nonexistent-dir/orders.db?mode=ro&uri=true",
            "the order book's folder /nonexistent-dir does not exist",
        ),
    ],
)
def test_bad_urls_are_one_line_configuration_errors(url, message):
    with pytest.raises(ConfigurationError) as caught:
        db.connect(url)
    assert message in str(caught.value)
    assert "s3cret" not in str(caught.value)
    assert "\n" not in str(caught.value)


def test_opening_a_book_at_head_writes_nothing(sqlite_url):
    """So a book that can only be read opens; schema work happens only below head."""
    db.connect(sqlite_url).dispose()
    path = sqlite_url.removeprefix("sqlite:///")
    engine = db.connect(f"sqlite:///file:{path}?mode=ro&uri=true")
    try:
        assert db.current_revision(engine) == HEAD
        assert is_read_only(engine)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        engine.dispose()
    writable = db.connect(sqlite_url)
    assert not is_read_only(writable)
    writable.dispose()


def test_a_read_only_book_without_a_schema_says_so(tmp_path):
    path = tmp_path / "empty.db"
    path.touch()
    with pytest.raises(ConfigurationError, match="is read-only, and its schema must be created"):
        db.connect(f"sqlite:///file:{path}?mode=ro&uri=true")


def test_a_file_this_process_cannot_write_opens_read_only(sqlite_url, monkeypatch):
    """Root may write anything, so the file's permission is simulated here; the CLI tests run
    the real thing as an unprivileged user."""
    db.connect(sqlite_url).dispose()
    path = sqlite_url.removeprefix("sqlite:///")
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: mode != os.W_OK and real_access(p, mode))
    engine = db.connect(sqlite_url)
    try:
        assert is_read_only(engine)
        assert engine.url.database == path  # messages and lock files keep the real path
        with pytest.raises(OperationalError) as refused:
            with db.session(engine) as s:
                s.add(new_store("b"))
        assert is_read_only_failure(refused.value)
    finally:
        engine.dispose()
    assert sorted(p.name for p in Path(path).parent.iterdir()) == ["orders.db"]
