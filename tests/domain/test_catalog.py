"""The product catalog: files checked whole before anything is written, upserts by SKU, and
the placeholders an order import made joining the catalog with their orders' stock.

Database tests run on SQLite and PostgreSQL (`engine`, `shop`); the stock stories end with the
invariant checked from raw rows (`fixtures_stock`).
"""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from fixtures_stock import stock_discrepancies
from fixtures_sync import MUG, TEA, Shop, imported
from sqlalchemy import select

from ordertools import db
from ordertools.db import LocalOrderItem, Product
from ordertools.domain import catalog
from ordertools.domain.catalog import CatalogRejected, CatalogRow
from ordertools.errors import ConfigurationError
from ordertools.queries.stock import stock_levels

HEADER = "sku,name,quantity,manage_stock"


def write_csv(path: Path, *lines: str, header: str = HEADER) -> Path:
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path


def write_xlsx(path: Path, rows: list[list]) -> Path:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    book.save(path)
    return path


def import_file(engine, path: Path) -> catalog.ImportSummary:
    with db.session(engine) as s:
        return catalog.import_catalog(s, path)


def products(engine) -> dict[str, tuple]:
    """SKU -> (name, quantity, manage_stock, enabled, placeholder)."""
    with db.session(engine) as s:
        rows = s.execute(
            select(
                Product.sku,
                Product.name,
                Product.quantity,
                Product.manage_stock,
                Product.enabled,
                Product.placeholder,
            )
        )
        return {sku: tuple(rest) for sku, *rest in rows}


def level(engine, sku: str):
    with db.session(engine) as s:
        [found] = stock_levels(s, skus=[sku])
    return found


def rejected(path: Path) -> list[str]:
    with pytest.raises(CatalogRejected) as raised:
        catalog.read_catalog(path)
    return raised.value.problems


# -- reading and checking ----------------------------------------------------------------------


def test_a_csv_reads_with_headers_in_any_case_and_blank_lines(tmp_path):
    path = write_csv(
        tmp_path / "c.csv",
        " MUG-1 ,Mug,5,",
        "",
        "TEA-1,,0,YES",
        "BOWL-1,Bowl,,no",
        "PLATE-1,Plate,3,False",
        header="SKU,Name, Quantity ,Manage_Stock",
    )
    assert catalog.read_catalog(path) == [
        CatalogRow("MUG-1", "Mug", 5, True),  # sku stripped; blank manage_stock: managed
        CatalogRow("TEA-1", None, 0, True),  # blank name: kept, or the SKU for a new one
        CatalogRow("BOWL-1", "Bowl", None, False),
        CatalogRow("PLATE-1", "Plate", 3, False),
    ]


@pytest.mark.parametrize(
    ("word", "managed"),
    [("yes", True), ("Yes", True), ("true", True), ("1", True), ("", True)]
    + [("no", False), ("NO", False), ("false", False), ("0", False)],
)
def test_manage_stock_words(tmp_path, word, managed):
    path = write_csv(tmp_path / "c.csv", f"MUG-1,Mug,4,{word}")
    assert catalog.read_catalog(path) == [CatalogRow("MUG-1", "Mug", 4, managed)]


def test_only_the_sku_column_is_required_and_semicolons_are_read(tmp_path):
    path = write_csv(tmp_path / "c.csv", "MUG-1;no", header="sku;manage_stock")
    assert catalog.read_catalog(path) == [CatalogRow("MUG-1", None, None, False)]


def test_every_bad_row_gets_one_line(tmp_path):
    path = write_csv(
        tmp_path / "c.csv",
        "MUG-1,Mug,5,yes",  # row 2: good
        "TEA-1,Tea,abc,",  # row 3
        ",No sku,1,",  # row 4
        "MUG-1,Again,-2,maybe",  # row 5: three problems, one line
        "BOWL-1,Bowl,,",  # row 6: managed without a quantity
        "CUP-1,Cup,2.5,yes",  # row 7
        f"{'X' * 101},Long,1,",  # row 8
        "PLATE-1,Plate,99999999999,",  # row 9
        "JUG-1,Jug,7.0,",  # row 10: good (spreadsheets write 7 as 7.0)
    )
    assert rejected(path) == [
        "row 3: quantity 'abc' is not a whole number ≥ 0",
        "row 4: sku is blank",
        "row 5: sku 'MUG-1' is repeated (first on row 2); quantity '-2' is not a whole number ≥ 0;"
        " manage_stock 'maybe' is not yes, no, true, false, 1 or 0",
        "row 6: quantity is blank: give the units on hand, or set manage_stock to no",
        "row 7: quantity '2.5' is not a whole number ≥ 0",
        f"row 8: sku {'X' * 20 + '…'!r} is longer than 100 characters",
        "row 9: quantity '99999999999' is too large (at most 2147483647)",
    ]


def test_the_summary_counts_bad_rows_of_all(tmp_path):
    path = write_csv(tmp_path / "c.csv", "A,a,1,", "B,b,x,", "C,c,1,")
    with pytest.raises(CatalogRejected) as raised:
        catalog.read_catalog(path)
    assert str(raised.value) == (
        "nothing imported from c.csv: 1 bad row of 3; fix it and import again"
    )
    assert raised.value.exit_code == 2


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("c.csv", "name,quantity\nMug,1\n", "c.csv has no sku column (found: name, quantity)"),
        ("c.csv", "", "c.csv has no sku column (found: none of them)"),
        ("c.xls", "whatever", "c.xls: a catalog is a .csv or .xlsx file"),
        ("c.xlsx", "not a zip file", "cannot read c.xlsx: "),
    ],
)
def test_a_file_that_is_no_catalog_is_one_line(tmp_path, name, content, says):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(ConfigurationError) as raised:
        catalog.read_catalog(path)
    assert str(raised.value).startswith(says)
    assert "\n" not in str(raised.value)


def test_an_xlsx_reads_like_the_csv(tmp_path):
    path = write_xlsx(
        tmp_path / "c.xlsx",
        [
            ["Sku", "NAME", "Quantity", "manage_stock"],
            ["MUG-1", "Mug", 5, None],  # numbers as numbers, blank cells as None
            [None, None, None, None],  # a blank row keeps row numbers honest
            [12345, "Numbered", 2, True],  # a numeric SKU, a TRUE cell
            ["BOWL-1", None, None, "no"],
        ],
    )
    assert catalog.read_catalog(path) == [
        CatalogRow("MUG-1", "Mug", 5, True),
        CatalogRow("12345", "Numbered", 2, True),
        CatalogRow("BOWL-1", None, None, False),
    ]
    bad = write_xlsx(tmp_path / "bad.xlsx", [["sku", "quantity"], ["A", 1], [None], ["B", -1]])
    assert rejected(bad) == ["row 4: quantity '-1' is not a whole number ≥ 0"]


# -- importing ---------------------------------------------------------------------------------


def test_import_adds_then_updates_by_sku(engine, tmp_path):
    first = write_csv(tmp_path / "a.csv", "MUG-1,Mug,5,", "TEA-1,,3,yes", "BOWL-1,Bowl,,no")
    assert import_file(engine, first) == catalog.ImportSummary(3, 0, 0)
    assert products(engine) == {
        "MUG-1": ("Mug", 5, True, True, False),
        "TEA-1": ("TEA-1", 3, True, True, False),  # no name: named after its SKU
        "BOWL-1": ("Bowl", None, False, True, False),
    }
    with db.session(engine) as s:
        ids = dict(s.execute(select(Product.sku, Product.id)).all())

    second = write_csv(tmp_path / "b.csv", "MUG-1,,8,", "TEA-1,Green tea,0,no", "CUP-1,Cup,1,")
    assert import_file(engine, second) == catalog.ImportSummary(1, 2, 0)
    assert products(engine) == {
        "MUG-1": ("Mug", 8, True, True, False),  # a blank name keeps the name
        "TEA-1": ("Green tea", 0, False, True, False),
        "BOWL-1": ("Bowl", None, False, True, False),  # not in the file: untouched
        "CUP-1": ("Cup", 1, True, True, False),
    }
    with db.session(engine) as s:
        after = dict(s.execute(select(Product.sku, Product.id)).all())
    assert {sku: after[sku] for sku in ids} == ids  # upserted in place


def test_a_file_with_one_bad_row_leaves_the_book_unchanged(engine, tmp_path):
    import_file(engine, write_csv(tmp_path / "a.csv", "MUG-1,Mug,5,"))
    before = products(engine)
    bad = write_csv(
        tmp_path / "b.csv",
        "MUG-1,Mug,50,",
        "TEA-1,Tea,3,",
        "BOWL-1,Bowl,three,",
        "CUP-1,Cup,1,",
        "JUG-1,Jug,2,",
    )
    with pytest.raises(CatalogRejected) as raised:
        import_file(engine, bad)
    assert raised.value.problems == ["row 4: quantity 'three' is not a whole number ≥ 0"]
    assert products(engine) == before


def test_a_big_file_imports_in_chunks(engine, tmp_path):
    count = catalog._CHUNK * 2 + 7  # more than one statement, and the whole-catalog read
    lines = [f"SKU-{i:05d},Product {i},{i % 9}," for i in range(count)]
    assert import_file(engine, write_csv(tmp_path / "a.csv", *lines)).added == count
    lines[3] = "SKU-00003,Renamed,1,no"
    summary = import_file(engine, write_csv(tmp_path / "b.csv", *lines))
    assert (summary.added, summary.updated) == (0, count)
    with db.session(engine) as s:
        assert len(stock_levels(s)) == count
        assert len(stock_levels(s, low=0)) == len(range(0, count, 9))
    assert products(engine)["SKU-00003"] == ("Renamed", 1, False, True, False)


def test_set_product(engine, tmp_path):
    import_file(engine, write_csv(tmp_path / "a.csv", "MUG-1,Mug,5,", "BOWL-1,Bowl,,no"))
    with db.session(engine) as s:
        catalog.set_product(s, "MUG-1", quantity=9)
        catalog.set_product(s, "BOWL-1", manage_stock=True)  # no quantity on record: 0
    assert products(engine)["MUG-1"] == ("Mug", 9, True, True, False)
    assert products(engine)["BOWL-1"] == ("Bowl", 0, True, True, False)
    with db.session(engine) as s:
        catalog.set_product(s, "BOWL-1", manage_stock=False, quantity=4)
    assert products(engine)["BOWL-1"] == ("Bowl", 4, False, True, False)

    with db.session(engine) as s, pytest.raises(ConfigurationError) as raised:
        catalog.set_product(s, "NOPE", quantity=1)
    assert "no product with SKU 'NOPE'" in str(raised.value)
    assert "`ordertools products import FILE`" in str(raised.value)
    with db.session(engine) as s, pytest.raises(ConfigurationError, match="nothing to set"):
        catalog.set_product(s, "MUG-1")
    with db.session(engine) as s, pytest.raises(ConfigurationError, match="whole number"):
        catalog.set_product(s, "MUG-1", quantity=-1)


# -- placeholders and the stock their orders hold ----------------------------------------------


def test_a_placeholder_joins_the_catalog_with_its_orders_and_their_stock(shop: Shop, tmp_path):
    shop.add_product(TEA, quantity=10)
    order = imported(shop, mugs=2, teas=1)  # the catalog has no MUG: a placeholder
    placeholder = shop.product(MUG)
    assert (placeholder.placeholder, placeholder.enabled, placeholder.manage_stock) == (
        True,
        False,
        False,
    )
    assert shop.reserved(MUG) == 0 and shop.reserved(TEA) == 1

    summary = import_file(shop.engine, write_csv(tmp_path / "c.csv", f"{MUG},Ceramic mug,10,"))
    assert summary == catalog.ImportSummary(added=0, updated=1, placeholders_set_up=1)
    product = shop.product(MUG)
    assert product.id == placeholder.id  # the same row: the order's line points at it still
    assert (product.placeholder, product.enabled, product.manage_stock) == (False, True, True)
    assert (product.name, product.quantity) == ("Ceramic mug", 10)
    with db.session(shop.engine) as s:
        lines = s.scalars(select(LocalOrderItem.product_id).where(LocalOrderItem.sku == MUG)).all()
    assert lines == [placeholder.id]
    found = level(shop.engine, MUG)
    assert (found.on_hand, found.reserved, found.available) == (10, 2, 8)  # held at once
    history = [h["comment"] for h in shop.detail(order)["local_order"]["history"]]
    assert f"Stock: reserved 2 × {MUG}" in history
    assert stock_discrepancies(shop.engine) == {}


def test_stock_that_stops_being_managed_releases_its_holds(shop: Shop, tmp_path):
    shop.add_product(MUG, quantity=10)
    imported(shop, mugs=2, teas=0)
    assert shop.reserved(MUG) == 2
    import_file(shop.engine, write_csv(tmp_path / "c.csv", f"{MUG},Mug,,no"))
    assert shop.reserved(MUG) == 0
    assert level(shop.engine, MUG).on_hand is None
    with db.session(shop.engine) as s:
        catalog.set_product(s, MUG, manage_stock=True, quantity=3)
    found = level(shop.engine, MUG)
    assert (found.on_hand, found.reserved, found.available) == (3, 2, 1)
    assert stock_discrepancies(shop.engine) == {}


def test_a_new_sku_a_pending_order_asks_for_is_held_once_imported(shop: Shop, tmp_path):
    items = [{"sku": MUG, "title": "Mug", "quantity": 3, "price": "14.99"}]
    shop.world.add_order(status="PENDING", items=items)
    shop.later()
    shop.sync()
    assert shop.product(MUG) is None  # a Pending order makes no placeholder
    summary = import_file(shop.engine, write_csv(tmp_path / "c.csv", f"{MUG},Mug,1,", "X,X,1,"))
    assert summary.added == 2
    found = level(shop.engine, MUG)
    assert (found.reserved, found.available, found.oversold) == (3, -2, 2)
    assert stock_discrepancies(shop.engine) == {}


def test_setting_up_a_placeholder_with_set(shop: Shop):
    imported(shop, mugs=2, teas=0)
    with db.session(shop.engine) as s:
        catalog.set_product(s, MUG, quantity=5)  # a placeholder set up: stock managed
    product = shop.product(MUG)
    assert (product.placeholder, product.enabled, product.manage_stock) == (False, True, True)
    assert shop.reserved(MUG) == 2
    assert stock_discrepancies(shop.engine) == {}
