"""All Orders' buyer and order-number searches, on SQLite (FTS5 trigram) and PostgreSQL (pg_trgm).

What a user notices: which orders a search finds, in which order, how many; whatever plan the
database takes (SQLite's is picked in ordertools.queries.search: each search runs with the plan that
drives by the index and with the one that walks the store's orders, and both must agree).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from fixtures_db import new_store
from sqlalchemy import column, create_engine, insert, table, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

import ordertools.queries.orders
from ordertools import db
from ordertools.queries.filters import OrderFilters
from ordertools.queries.orders import count_orders, query_orders

START = datetime(2026, 2, 1, 12, tzinfo=UTC)
BUYERS = [
    "John Smith",
    "Mary Smithson",
    "Zebulon Quackenbush",
    "Zoë Ångström",
    "José Núñez",
    "50% Off Outlet",
    "snake_case Ltd",
    "Back\\slash",
    'Quote "Q" Person',
    None,
]


def _order_id(i: int) -> str:
    return f"113-{i:07d}-{(i * 7919) % 10**7:07d}"


@pytest.fixture
def book(engine, store):
    """40 orders (buyers cycling through BUYERS), newest last; the 5th has local order 000000005."""
    rows = [
        {
            "store_id": store.id,
            "amazon_order_id": _order_id(i),
            "status": "UNSHIPPED",
            "purchase_date": START + timedelta(hours=i),
            "last_updated": START + timedelta(hours=i),
            "buyer_name": BUYERS[i % len(BUYERS)],
            "grand_total": Decimal(10 + i),
            "currency": "USD",
            "raw": {"orderId": _order_id(i)},
        }
        for i in range(1, 41)
    ]
    with db.session(engine) as s:
        s.execute(insert(db.AmazonOrderRow), rows)  # executemany, as the sync writes
        row = s.query(db.AmazonOrderRow).filter_by(amazon_order_id=_order_id(5)).one()
        s.add(
            db.LocalOrder(
                store_id=store.id,
                amazon_order=row,
                amazon_order_id=row.amazon_order_id,
                number="000000005",
                status="pending",
            )
        )
    return engine


@pytest.fixture(params=["default", "walk"])
def plan(request, monkeypatch):
    """SQLite: the default limits (small books drive by the index), or never drive (walk)."""
    if request.param == "walk":
        monkeypatch.setattr(ordertools.queries.orders, "PAGE_DRIVE_MAX", 0)
        monkeypatch.setattr(ordertools.queries.orders, "COUNT_DRIVE_MAX", 0)
    return request.param


def found(engine, store, **filters) -> list[str]:
    with db.session(engine) as s:
        return [r.order_number for r in query_orders(s, store, OrderFilters(**filters), limit=None)]


def counted(engine, store, **filters) -> int:
    with db.session(engine) as s:
        return count_orders(s, store, OrderFilters(**filters))


def expected(predicate) -> list[str]:
    """Newest first, like the listing: the orders whose buyer satisfies `predicate`."""
    return [_order_id(i) for i in range(40, 0, -1) if predicate(BUYERS[i % len(BUYERS)] or "")]


@pytest.mark.parametrize(
    "text",
    [
        "quackenbush",
        "QUACKEN",
        "smith",
        "Smith",
        "SMITHSON",
        "ångström",
        "ÅNGSTRÖM",
        "núñez",
        "n S",
        "öm",  # 1-2 letters: too short for the trigram index, a scan folds them too
        "ÖM",
        "å",  # stored as "Å"
        "ån",
        "Ñ",
        "h",
    ],
)
def test_buyer_search_finds_rare_and_common_names_in_any_case(book, store, plan, text):
    want = expected(lambda name: text.casefold() in name.casefold())
    assert want  # every text names someone
    assert found(book, store, buyer=text) == want
    assert counted(book, store, buyer=text) == len(want)


def test_buyer_search_pages_like_the_listing(book, store, plan):
    want = expected(lambda name: "smith" in name.lower())
    with db.session(book) as s:
        pages = [
            [
                r.order_number
                for r in query_orders(s, store, OrderFilters(buyer="smith"), limit=3, offset=offset)
            ]
            for offset in (0, 3, 6)
        ]
    assert pages == [want[0:3], want[3:6], want[6:9]]


@pytest.mark.parametrize("text", ["jo", "J", "z", "%", "_", "\\", '"', "% O", "e_c", 'e "q'])
def test_short_texts_and_wildcards_are_taken_literally(book, store, plan, text):
    want = expected(lambda name: text.lower() in name.lower())
    assert want
    assert found(book, store, buyer=text) == want


GLOB_SPECIALS = ["Ü[x", "Ü]x", "Ü*x", "Ü?x", "Ü^x", "Ü-x", "Üax"]


@pytest.mark.parametrize("name", GLOB_SPECIALS)
def test_short_non_ascii_texts_take_pattern_characters_literally(engine, store, name):
    # 1-2 letters with a non-ASCII one: SQLite looks for each letter in its cases, then folds.
    with db.session(engine) as s:
        s.execute(
            insert(db.AmazonOrderRow),
            [
                {
                    "store_id": store.id,
                    "amazon_order_id": _order_id(i),
                    "status": "UNSHIPPED",
                    "purchase_date": START + timedelta(hours=i),
                    "buyer_name": buyer,
                    "raw": {},
                }
                for i, buyer in enumerate(GLOB_SPECIALS)
            ],
        )
    text = name[:2].lower()  # "ü[", "ü]", ...
    assert found(engine, store, buyer=text) == [_order_id(GLOB_SPECIALS.index(name))]
    assert counted(engine, store, buyer=text) == 1


def test_a_name_nobody_has_finds_nothing(book, store, plan):
    assert found(book, store, buyer="Xyzzy") == []
    assert found(book, store, buyer="Zoe") == []  # the diaeresis is part of the name
    assert counted(book, store, buyer="Xyzzy") == 0


def test_order_number_exact_partial_and_local(book, store, plan):
    assert found(book, store, order_number=_order_id(7)) == [_order_id(7)]
    assert found(book, store, order_number=f"  {_order_id(7)} ") == [_order_id(7)]
    assert found(book, store, order_number="000000005") == [_order_id(5)]  # the local number
    part = _order_id(12)[3:12]  # "-0000012-"
    assert found(book, store, order_number=part) == [_order_id(12)]
    # A part many numbers share: newest first, all of them.
    assert found(book, store, order_number="-000001") == [_order_id(i) for i in range(19, 9, -1)]
    assert found(book, store, order_number="13") == [
        _order_id(i) for i in range(40, 0, -1) if "13" in _order_id(i)
    ]
    assert found(book, store, order_number="999-") == []
    assert counted(book, store, order_number=_order_id(7)) == 1


def test_filters_combine_with_search(book, store, plan):
    want = expected(lambda name: "smith" in name.lower())
    totals = {_order_id(i): Decimal(10 + i) for i in range(1, 41)}
    high = [o for o in want if totals[o] >= 30]
    assert found(book, store, buyer="smith", min_total=Decimal(30)) == high
    assert found(book, store, buyer="smith", max_total=Decimal(29)) == [
        o for o in want if totals[o] <= 29
    ]
    assert found(book, store, min_total=Decimal(48)) == [
        _order_id(40),
        _order_id(39),
        _order_id(38),
    ]
    assert counted(book, store, min_total=Decimal(20), max_total=Decimal(21)) == 2


def test_orders_written_after_the_migration_are_found(book, store, plan):
    dialect = book.dialect.name
    with db.session(book) as s:
        # A rename (the sync's bulk update), a delete, an insert and an upsert of a known order.
        s.execute(
            update(db.AmazonOrderRow)
            .where(db.AmazonOrderRow.amazon_order_id == _order_id(3))
            .values(buyer_name="Hildegard Ostrowski")
        )
        s.execute(
            text("DELETE FROM amazon_orders WHERE amazon_order_id = :id"), {"id": _order_id(13)}
        )
        upsert = (sqlite_insert if dialect == "sqlite" else pg_insert)(db.AmazonOrderRow)
        values = [
            {
                "store_id": store.id,
                "amazon_order_id": order_id,
                "status": "UNSHIPPED",
                "purchase_date": START + timedelta(days=10),
                "buyer_name": buyer,
                "raw": {},
            }
            for order_id, buyer in (
                (_order_id(23), "Wilhelmina Upsert"),
                ("113-9999999-0000001", "Neu Kunde"),
            )
        ]
        s.execute(
            upsert.on_conflict_do_update(
                index_elements=["store_id", "amazon_order_id"],
                set_={"buyer_name": upsert.excluded.buyer_name},
            ),
            values,
        )
    assert found(book, store, buyer="ostrowski") == [_order_id(3)]
    assert found(book, store, buyer="quackenbush") == [
        _order_id(i) for i in range(40, 0, -1) if i % 10 == 2 and i != 3
    ]
    assert found(book, store, buyer="wilhelmina") == [_order_id(23)]
    assert found(book, store, buyer="kunde") == ["113-9999999-0000001"]
    assert found(book, store, order_number="9999999") == ["113-9999999-0000001"]
    # The renamed, deleted and upserted orders are no longer found by their old names.
    assert _order_id(3) not in found(book, store, buyer="ångström")
    assert _order_id(13) not in found(book, store, buyer="ångström")
    assert _order_id(23) not in found(book, store, buyer="ångström")
    assert found(book, store, order_number=_order_id(13)[3:]) == []


def test_capped_count_says_more_than(book, store):
    with db.session(book) as s:
        assert count_orders(s, store, OrderFilters(), cap=10) == 11
        assert count_orders(s, store, OrderFilters(), cap=40) == 40
        assert count_orders(s, store, OrderFilters(buyer="smith"), cap=3) == 4
        assert count_orders(s, store, OrderFilters(buyer="quackenbush"), cap=10) == 4


def _search_objects(engine) -> set[str]:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            sql = "SELECT name FROM sqlite_master WHERE name LIKE 'amazon_orders_search%'"
        else:
            sql = "SELECT indexname FROM pg_indexes WHERE indexname LIKE '%trgm'"
        return set(conn.execute(text(sql)).scalars())


# The columns of stores and amazon_orders that 0005 has, each with the model's type but none
# of its Python-side defaults (which would write columns added later).
_COLUMNS_0005 = {
    "stores": (
        "id",
        "name",
        "marketplace_id",
        "region",
        "endpoint",
        "token_url",
        "seller_central_domain",
        "integrated_at",
        "created_at",
    ),
    "amazon_orders": (
        "store_id",
        "amazon_order_id",
        "status",
        "purchase_date",
        "buyer_name",
        "raw",
        "first_seen_at",
        "updated_at",
    ),
}


def _as_in_0005(name: str):
    model = db.Base.metadata.tables[name]
    return table(name, *(column(c, model.c[c].type) for c in _COLUMNS_0005[name]))


def test_migration_indexes_existing_orders_and_downgrades(db_url):
    engine = db.connect(db_url)
    db.downgrade(engine, "0005")
    assert _search_objects(engine) == set()
    # Rows as the 0005 schema has them: today's models have columns 0005 lacks.
    shop = new_store("old")
    stores, orders = (_as_in_0005(t) for t in ("stores", "amazon_orders"))
    with engine.begin() as conn:
        shop.id = conn.execute(
            stores.insert()
            .values(
                {
                    stores.c[c]: getattr(shop, c)
                    for c in ("name", "marketplace_id", "region", "endpoint", "token_url")
                }
                | {
                    stores.c.seller_central_domain: shop.seller_central_domain,
                    stores.c.integrated_at: shop.integrated_at,
                    stores.c.created_at: START,
                }
            )
            .returning(stores.c.id)
        ).scalar_one()
        for i in range(1, 21):
            conn.execute(
                orders.insert().values(
                    {
                        orders.c.store_id: shop.id,
                        orders.c.amazon_order_id: _order_id(i),
                        orders.c.status: "SHIPPED",
                        orders.c.purchase_date: START + timedelta(hours=i),
                        orders.c.buyer_name: BUYERS[i % len(BUYERS)],
                        orders.c.raw: {},
                        orders.c.first_seen_at: START,
                        orders.c.updated_at: START,
                    }
                )
            )
    db.upgrade(engine)
    assert _search_objects(engine)  # the FTS table / the trigram indexes
    want = [_order_id(i) for i in range(20, 0, -1) if i % 10 == 3]
    assert found(engine, shop, buyer="ÅNGSTRÖM") == want
    assert found(engine, shop, order_number=_order_id(13)[4:]) == [_order_id(13)]

    db.downgrade(engine, "0005")
    assert _search_objects(engine) == set()
    assert found(engine, shop, buyer="Ångström") == want  # unindexed, still found
    assert found(engine, shop, buyer="ÅNGSTRÖM") == want  # in any case
    with db.session(engine) as s:  # writes work without the triggers' table
        s.execute(
            update(db.AmazonOrderRow)
            .where(db.AmazonOrderRow.amazon_order_id == _order_id(3))
            .values(buyer_name="Renamed Meanwhile")
        )
    db.upgrade(engine)
    assert found(engine, shop, buyer="meanwhile") == [_order_id(3)]
    engine.dispose()


@pytest.mark.postgres
def test_postgresql_without_the_right_to_create_pg_trgm_still_migrates(pg_url):
    """A role that may not create extensions gets a working order book, searched unindexed."""
    url = make_url(pg_url)
    role = f"{url.database}_limited"
    admin = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE ROLE "{role}" LOGIN'))
        conn.execute(text(f'GRANT ALL ON SCHEMA public TO "{role}"'))
    try:
        limited = url.set(username=role).render_as_string(hide_password=False)
        engine = db.connect(limited)
        assert _search_objects(engine) == set()
        with db.session(engine) as s:
            shop = new_store("limited")
            s.add(shop)
            s.flush()
            s.add(
                db.AmazonOrderRow(
                    store_id=shop.id,
                    amazon_order_id=_order_id(1),
                    status="SHIPPED",
                    purchase_date=START,
                    buyer_name="Zebulon Quackenbush",
                    raw={},
                )
            )
        assert found(engine, shop, buyer="QUACK") == [_order_id(1)]
        engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP OWNED BY "{role}"'))
            conn.execute(text(f'DROP ROLE "{role}"'))
        admin.dispose()
