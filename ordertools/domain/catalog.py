"""The product catalog: a file of products in (`products import`), one product changed
(`products set`), and the open orders' stock holds following along.

A catalog file is CSV or XLSX with the columns sku, name, quantity, manage_stock (headers in
any case; only sku is required). The whole file is checked before anything is written: every
bad row gets one line saying what is wrong with it, and a file with any bad row imports
nothing (`CatalogRejected`), so a typo never leaves half a catalog behind. A good file is
upserted by SKU in the caller's transaction, with one bulk statement per few thousand rows.

A SKU that was a placeholder (made by an order import for a SKU the catalog lacked) becomes a
real product in place: same row id, so the order lines already pointing at it join it. When a
product's stock starts or stops being managed (a placeholder set up with stock, a product
switched to unmanaged), or a new managed SKU appears that Pending orders already ask for, those
orders are settled (`domain.stock`) in the same transaction, so what they hold follows at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Table, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ordertools.db import AmazonOrderItem, AmazonOrderRow, Product, utcnow
from ordertools.db.bulk import server_prepared
from ordertools.domain import stock
from ordertools.domain.rules import PENDING
from ordertools.errors import ConfigurationError

COLUMNS = ("sku", "name", "quantity", "manage_stock")
EXCEL_SUFFIXES = (".xlsx", ".xlsm")
CSV_SUFFIXES = (".csv", ".txt")
SKU_LENGTH = Product.__table__.c.sku.type.length
NAME_LENGTH = Product.__table__.c.name.type.length
MAX_QUANTITY = 2**31 - 1  # the column is a 32-bit INTEGER on PostgreSQL
_YES = {"", "yes", "true", "1"}  # blank: managed, the usual case for a catalog
_NO = {"no", "false", "0"}
# Spreadsheets sometimes write whole numbers as "5.0"; anything else must be plain digits.
_WHOLE = re.compile(r"^[0-9]+(\.0*)?$")
# Rows per statement. SQLite caps a statement's parameters (32,766) and an IN list counts
# each value; this stays well inside, for the reads below that put 3 lists in one statement.
_CHUNK = 5000


class CatalogRejected(ConfigurationError):
    """A catalog file with bad rows: nothing was imported.

    `problems` has one line per bad row ("row 7: quantity 'abc' is not a whole number ≥ 0");
    `str()` is the one-line summary.
    """

    def __init__(self, source: str, problems: Sequence[str], rows: int):
        self.problems = list(problems)
        bad = len(self.problems)
        super().__init__(
            f"nothing imported from {source}: {bad} bad row{'s' if bad != 1 else ''} "
            f"of {rows}; fix {'them' if bad != 1 else 'it'} and import again"
        )


@dataclass(frozen=True, slots=True)
class CatalogRow:
    sku: str
    name: str | None  # None: keep the product's name (a new one is named after its SKU)
    quantity: int | None  # None only when stock is not managed
    manage_stock: bool


@dataclass(frozen=True)
class ImportSummary:
    added: int
    updated: int
    placeholders_set_up: int  # of `updated`: placeholders that became real products

    @property
    def total(self) -> int:
        return self.added + self.updated


# -- reading and checking a file ---------------------------------------------------------------


def read_catalog(path: str | Path) -> list[CatalogRow]:
    """The file's products, checked; raises `CatalogRejected` listing every bad row."""
    path = Path(path)
    columns = _read_columns(path)
    if "sku" not in columns:
        found = ", ".join(columns) or "none of them"
        raise ConfigurationError(
            f"{path.name} has no sku column (found: {found}): its first row must name the "
            f"columns {', '.join(COLUMNS)}; nothing imported"
        )
    problems: list[str] = []
    blank = [""] * len(columns["sku"])  # a column the file leaves out is blank throughout
    rows: list[CatalogRow] = []
    first_row: dict[str, int] = {}  # sku -> the row it first appeared on
    cells = zip(*(columns.get(name, blank) for name in COLUMNS), strict=True)
    # Row numbers as a spreadsheet shows them: the headers are row 1.
    for number, (sku, name, quantity, manage) in enumerate(cells, start=2):
        sku, name, quantity, manage = sku.strip(), name.strip(), quantity.strip(), manage.strip()
        if not (sku or name or quantity or manage):
            continue  # a blank line between products is no product
        row, wrong = _check_row(sku, name, quantity, manage)
        if sku in first_row:
            wrong.insert(0, f"sku {sku!r} is repeated (first on row {first_row[sku]})")
        elif sku:
            first_row[sku] = number
        if wrong:
            problems.append(f"row {number}: " + "; ".join(wrong))
        else:
            rows.append(row)
    if problems:
        raise CatalogRejected(path.name, problems, len(rows) + len(problems))
    return rows


def _check_row(
    sku: str, name: str, quantity: str, manage: str
) -> tuple[CatalogRow | None, list[str]]:
    """The row as a product, or what is wrong with it (every problem, so one fix does)."""
    wrong = []
    if not sku:
        wrong.append("sku is blank")
    elif len(sku) > SKU_LENGTH:
        wrong.append(f"sku {sku[:20] + '…'!r} is longer than {SKU_LENGTH} characters")
    if len(name) > NAME_LENGTH:
        wrong.append(f"name is longer than {NAME_LENGTH} characters")
    managed = _yes_no(manage)
    units = None
    if quantity:
        if not _WHOLE.match(quantity):
            wrong.append(f"quantity {quantity!r} is not a whole number ≥ 0")
        else:
            units = int(quantity.split(".")[0])
            if units > MAX_QUANTITY:
                wrong.append(f"quantity {quantity!r} is too large (at most {MAX_QUANTITY})")
    elif managed:
        wrong.append("quantity is blank: give the units on hand, or set manage_stock to no")
    if managed is None:
        wrong.append(f"manage_stock {manage!r} is not yes, no, true, false, 1 or 0")
    if wrong:
        return None, wrong
    return CatalogRow(sku, name or None, units, bool(managed)), wrong


def _yes_no(text: str) -> bool | None:
    word = text.lower()
    return True if word in _YES else False if word in _NO else None


def _read_columns(path: Path) -> dict[str, list[str]]:
    """Header (lower case) -> that column's cells as text ("" when blank), every row kept so
    row numbers match the file's."""
    import pandas as pd  # here, not at the top: every command's start-up would pay for it

    suffix = path.suffix.lower()
    if suffix not in EXCEL_SUFFIXES + CSV_SUFFIXES:
        raise ConfigurationError(
            f"{path.name}: a catalog is a .csv or .xlsx file (columns {', '.join(COLUMNS)})"
        )
    try:
        if suffix in EXCEL_SUFFIXES:
            frame = pd.read_excel(path, dtype=str, keep_default_na=False, engine="openpyxl")
        else:
            frame = pd.read_csv(
                path,
                dtype=str,
                keep_default_na=False,
                skip_blank_lines=False,
                sep=_delimiter(path),
                encoding="utf-8-sig",  # Excel's "CSV UTF-8" starts with a byte-order mark
            )
    except pd.errors.EmptyDataError:
        return {}
    except Exception as exc:  # pandas, openpyxl and zipfile each raise their own kinds
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ConfigurationError(f"cannot read {path.name}: {reason}") from None
    columns: dict[str, list[str]] = {}
    for header in frame.columns:
        key = str(header).strip().lower()
        if key in COLUMNS and key not in columns:
            columns[key] = frame[header].astype(str).tolist()
    return columns


def _delimiter(path: Path) -> str:
    """`;` for the CSV files spreadsheets save in locales whose decimal point is a comma."""
    try:
        with path.open(encoding="utf-8-sig", errors="replace") as file:
            header = file.readline()
    except OSError as exc:
        raise ConfigurationError(f"cannot read {path.name}: {exc.strerror or exc}") from None
    return ";" if ";" in header and "," not in header else ","


# -- writing the catalog -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Known:
    id: int
    manage_stock: bool
    placeholder: bool


def import_catalog(session: Session, path: str | Path) -> ImportSummary:
    """`read_catalog` then `import_products`: the whole file, or nothing."""
    return import_products(session, read_catalog(path))


def import_products(session: Session, rows: Sequence[CatalogRow]) -> ImportSummary:
    """Upsert checked rows by SKU in the caller's transaction, then settle the orders whose
    holds change (see the module's docstring)."""
    known = _known(session, [row.sku for row in rows])
    _upsert(session, rows)
    switched = [
        known[row.sku].id
        for row in rows
        if row.sku in known and known[row.sku].manage_stock != row.manage_stock
    ]
    # A new SKU has no order lines yet (an imported order would have made it a placeholder),
    # but Pending orders may already ask for it: those are the only ones it can concern.
    new_managed = {row.sku for row in rows if row.sku not in known and row.manage_stock}
    if new_managed:
        new_managed &= _skus_pending_orders_ask_for(session)
    _settle_products(session, switched + _ids(session, sorted(new_managed)))
    return ImportSummary(
        added=sum(1 for row in rows if row.sku not in known),
        updated=sum(1 for row in rows if row.sku in known),
        placeholders_set_up=sum(1 for k in known.values() if k.placeholder),
    )


_KNOWN = select(Product.sku, Product.id, Product.manage_stock, Product.placeholder)


def _known(session: Session, skus: Sequence[str]) -> dict[str, _Known]:
    """The products already in the catalog among these SKUs, as they were before the import."""
    connection = session.connection()
    if len(skus) > _CHUNK:
        # A big file is most of a catalog: one pass over the products beats many IN lists
        # (each costs SQLAlchemy and the server per value).
        wanted = set(skus)
        rows = (row for row in connection.execute(_KNOWN) if row.sku in wanted)
    else:
        rows = connection.execute(_KNOWN.where(Product.sku.in_(skus)))
    return {
        sku: _Known(id_, bool(managed), bool(placeholder))
        for sku, id_, managed, placeholder in rows
    }


def _skus_pending_orders_ask_for(session: Session) -> set[str]:
    query = (
        select(AmazonOrderItem.sku)
        .join(AmazonOrderRow, AmazonOrderRow.id == AmazonOrderItem.amazon_order_pk)
        .where(AmazonOrderRow.status == PENDING, AmazonOrderItem.sku.is_not(None))
        .distinct()
    )
    return set(session.connection().scalars(query))


def _upsert(session: Session, rows: Sequence[CatalogRow]) -> None:
    """INSERT ... ON CONFLICT (sku) DO UPDATE, executemany per chunk and no ORM objects:
    100,000 products take a second or two (bench/products_bench.py). Rows without a name get
    a statement of their own that leaves an existing product's name be."""
    connection = session.connection()
    table = Product.__table__
    now = utcnow()
    for named in (True, False):
        statement = _upsert_statement(connection.dialect.name, table, update_name=named)
        group = [
            {
                "sku": row.sku,
                "name": row.name or row.sku,
                "quantity": row.quantity,
                "manage_stock": row.manage_stock,
                "now": now,
            }
            for row in rows
            if (row.name is not None) == named
        ]
        with server_prepared(connection):  # an upsert on the SKU: one plan for every row
            for part in _chunks(group):
                connection.execute(statement, part)


def _ids(session: Session, skus: Sequence[str]) -> list[int]:
    query = select(Product.id).where(Product.sku.in_(bindparam("skus", expanding=True)))
    connection = session.connection()
    return [id_ for part in _chunks(skus) for id_ in connection.scalars(query, {"skus": part})]


def _upsert_statement(dialect: str, table: Table, *, update_name: bool):
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table).values(
        sku=bindparam("sku"),
        name=bindparam("name"),
        quantity=bindparam("quantity"),
        manage_stock=bindparam("manage_stock"),
        enabled=True,
        placeholder=False,
        created_at=bindparam("now"),
    )
    incoming = statement.excluded
    changes: dict[str, Any] = {
        "quantity": incoming.quantity,
        "manage_stock": incoming.manage_stock,
        # A placeholder was disabled only for being one; a product someone disabled stays so.
        "enabled": table.c.enabled | table.c.placeholder,
        "placeholder": False,
    }
    if update_name:
        changes["name"] = incoming.name
    return statement.on_conflict_do_update(index_elements=[table.c.sku], set_=changes)


def _settle_products(session: Session, product_ids: Sequence[int]) -> None:
    """Bring the holds of every order that has, or may want, these products to what the rules
    say now that their stock is managed differently."""
    orders: set[int] = set()
    for part in _chunks(sorted(set(product_ids))):
        orders.update(stock.orders_holding(session, part))
    stock.settle(session, orders)


def _chunks(items: Sequence) -> Iterator[Sequence]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


# -- one product -------------------------------------------------------------------------------


def set_product(
    session: Session, sku: str, *, quantity: int | None = None, manage_stock: bool | None = None
) -> Product:
    """Change one product's on-hand quantity and/or whether its stock is managed.

    Setting up a placeholder makes it a real product, as importing its SKU would; its stock
    is then managed unless `manage_stock=False` says otherwise (as a catalog row's blank
    manage_stock means yes). Managing a product with no quantity on record starts it at 0.
    """
    if quantity is None and manage_stock is None:
        raise ConfigurationError(
            f"nothing to set for {sku}: give --quantity N and/or --manage-stock yes|no"
        )
    if quantity is not None and not 0 <= quantity <= MAX_QUANTITY:
        raise ConfigurationError(f"quantity {quantity} is not a whole number ≥ 0")
    product = session.scalar(select(Product).where(Product.sku == sku))
    if product is None:
        raise ConfigurationError(
            f"no product with SKU {sku!r}: add it with `ordertools products import FILE` "
            "(columns sku, name, quantity, manage_stock)"
        )
    was_managed = product.manage_stock
    if product.placeholder:
        product.placeholder, product.enabled = False, True
        if manage_stock is None:
            manage_stock = True
    if manage_stock is not None:
        product.manage_stock = manage_stock
    if quantity is not None:
        product.quantity = quantity
    elif product.manage_stock and product.quantity is None:
        product.quantity = 0
    session.flush()
    if product.manage_stock != was_managed:
        _settle_products(session, [product.id])
    return product
