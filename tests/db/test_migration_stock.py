"""Migration 0007 on an order book that already has orders, local orders and reservations.

Before 0007 a reservation belonged to a local order, one row per order line; after, it belongs
to the Amazon order, one open hold per order and product. Upgrading must keep every unit held
(two lines of one SKU become one hold of both), give each order its store's Reserve Quantity,
mark the import's placeholders, and leave the search triggers working (SQLite).
"""

from __future__ import annotations

from sqlalchemy import text

from ordertools import db

NOW = "2026-11-30 10:00:00.000000"


def _rows(conn, sql: str) -> list[tuple]:
    return [tuple(r) for r in conn.execute(text(sql))]


def test_upgrading_to_0007_keeps_every_held_unit(engine):
    db.downgrade(engine, "0006")
    with engine.begin() as conn:
        sql = [
            "INSERT INTO stores (id, name, marketplace_id, region, endpoint, token_url, "
            "seller_central_domain, integrated_at, reserve_quantity, created_at) VALUES "
            "(1, 'acme', 'ATVPDKIKX0DER', 'na', 'http://x', 'http://x', 'sellercentral.amazon.com',"
            f" '{NOW}', false, '{NOW}')",
            "INSERT INTO amazon_orders (id, store_id, amazon_order_id, status, raw, first_seen_at,"
            f" updated_at, buyer_name) VALUES (10, 1, '111-0000000-0000001', 'UNSHIPPED', '{{}}',"
            f" '{NOW}', '{NOW}', 'Ann')",
            "INSERT INTO local_orders (id, store_id, amazon_order_pk, amazon_order_id, number, "
            "status, is_guest, created_at, updated_at) VALUES (20, 1, 10, '111-0000000-0000001',"
            f" '000000001', 'pending', true, '{NOW}', '{NOW}')",
            "INSERT INTO products (id, sku, name, enabled, manage_stock, quantity, created_at) "
            f"VALUES (30, 'MUG', 'Mug', true, true, 9, '{NOW}'),"
            f" (31, 'NEW', 'New', false, false, NULL, '{NOW}')",
            "INSERT INTO stock_reservations (product_id, local_order_id, quantity, created_at) "
            f"VALUES (30, 20, 2, '{NOW}'), (30, 20, 1, '{NOW}')",
        ]
        for statement in sql:
            conn.execute(text(statement))
    db.upgrade(engine)
    with engine.connect() as conn:
        open_holds = _rows(
            conn,
            "SELECT amazon_order_pk, local_order_id, product_id, quantity "
            "FROM stock_reservations WHERE released_at IS NULL",
        )
        assert open_holds == [(10, 20, 30, 3)]  # both lines' units, one hold
        assert _rows(conn, "SELECT reserve_quantity FROM amazon_orders") == [(False,)]
        assert _rows(conn, "SELECT sku, placeholder FROM products ORDER BY sku") == [
            ("MUG", False),
            ("NEW", True),
        ]
    if engine.dialect.name == "sqlite":  # 0006's buyer search still follows the table
        with engine.begin() as conn:
            conn.execute(text("UPDATE amazon_orders SET buyer_name = 'Zelda' WHERE id = 10"))
            found = _rows(
                conn, "SELECT rowid FROM amazon_orders_search WHERE buyer_name MATCH 'eld'"
            )
        assert found == [(10,)]
