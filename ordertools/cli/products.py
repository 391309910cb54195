"""`ordertools products import|list|set`: the product catalog and its stock levels.

Added to the main group (`ordertools.cli`), so errors get its treatment: one line, non-zero exit.
A rejected catalog file is the exception that proves it: one line per bad row, then the
summary, each starting "Error:".
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import click

from ordertools import db
from ordertools.cli.context import CONTEXT, fail, order_book
from ordertools.domain import catalog, text
from ordertools.queries.stock import StockLevel, stock_levels

# A file with every row wrong would print every row; past this many, the rest are counted.
_SHOWN_PROBLEMS = 100
_NAME_WIDTH = 40
JSON_KEYS = (
    "sku",
    "name",
    "on_hand",
    "reserved",
    "available",
    "oversold",
    "manage_stock",
    "placeholder",
)


@click.group(context_settings=CONTEXT)
def products():
    """The product catalog: import it, list stock levels, set one product.

    \b
    Example:
      ordertools products import catalog.csv
      ordertools products list --low 5
      ordertools products set MUG-CER-350 --quantity 40
    """


@products.command("import", context_settings=CONTEXT)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def products_import(ctx, file: Path):
    """Add or update products from a CSV or XLSX file with the columns sku, name, quantity,
    manage_stock (headers in any case). A blank manage_stock means yes (yes/no, true/false,
    1/0); quantity, the units on hand, may be blank only when stock is not managed; a blank
    name keeps the product's name. Any bad row and nothing is imported.

    \b
    Example:
      ordertools products import catalog.xlsx
    """
    try:
        rows = catalog.read_catalog(file)  # checked before the order book is even opened
    except catalog.CatalogRejected as rejected:
        _reject(rejected)
    with db.session(order_book(ctx)) as session:
        summary = catalog.import_products(session, rows)
    click.echo(_summary_line(summary))


def _reject(rejected: catalog.CatalogRejected):
    for line in rejected.problems[:_SHOWN_PROBLEMS]:
        click.echo(f"Error: {line}", err=True)
    more = len(rejected.problems) - _SHOWN_PROBLEMS
    if more > 0:
        click.echo(f"Error: ... and {more} more bad rows", err=True)
    fail(str(rejected), rejected.exit_code)


def _summary_line(summary: catalog.ImportSummary) -> str:
    line = (
        f"Imported {_count(summary.total, 'product')}: {summary.added} added, "
        f"{summary.updated} updated"
    )
    if summary.placeholders_set_up:
        line += f" ({_count(summary.placeholders_set_up, 'placeholder')} set up)"
    return line


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


@products.command("list", context_settings=CONTEXT)
@click.option(
    "--low",
    type=int,
    metavar="N",
    help="Only managed products with N or fewer available, oversold first.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
)
@click.option("--limit", type=click.IntRange(min=1), help="At most this many products.")
@click.pass_context
def products_list(ctx, low, fmt, limit):
    """Products by SKU with their stock: on hand, reserved by open orders, available, and
    how far oversold. Placeholders (SKUs orders brought in that the catalog lacks) are marked.

    \b
    Example:
      ordertools products list --low 5 --format json
    """
    with db.session(order_book(ctx)) as session:
        levels = stock_levels(session, low=low, limit=limit)
    click.echo(render(levels, fmt, low=low).rstrip("\n"))


def render(levels: list[StockLevel], fmt: str, *, low: int | None = None) -> str:
    """The listing as `products list` prints it (also what bench/products_bench.py times)."""
    if fmt == "json":
        return json.dumps([_json(level) for level in levels], indent=2, ensure_ascii=False)
    if fmt == "csv":
        return _csv(levels)
    if not levels:
        if low is not None:
            return f"No managed product has {low} or fewer available."
        return "No products yet: add them with `ordertools products import FILE`."
    return _table(levels)


def _json(level: StockLevel) -> dict:
    return {key: getattr(level, key) for key in JSON_KEYS}


def _csv(levels: list[StockLevel]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(JSON_KEYS)
    for level in levels:
        writer.writerow([_csv_cell(value) for value in _json(level).values()])
    return out.getvalue()


def _csv_cell(value) -> object:
    """Blank for no value; yes/no for flags, the words `products import` reads."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value


_HEADINGS = ("SKU", "Name", "On hand", "Reserved", "Available", "Oversold", "")
_NUMERIC = (False, False, True, True, True, True, False)


def _table(levels: list[StockLevel]) -> str:
    """Text left-aligned, numbers right-aligned; unmanaged stock shows as "-"."""
    numeric = [i for i, is_number in enumerate(_NUMERIC) if is_number]
    return text.table(_HEADINGS, (_cells(level) for level in levels), numeric=numeric)


def _cells(level: StockLevel) -> tuple[str, ...]:
    managed = level.manage_stock
    return (
        level.sku,
        text.shorten(text.clean(level.name), _NAME_WIDTH),  # wide characters count two columns
        str(level.on_hand) if managed else "-",
        str(level.reserved),
        str(level.available) if managed else "-",
        str(level.oversold) if managed else "-",
        _note(level),
    )


def _note(level: StockLevel) -> str:
    if level.placeholder:
        return f"placeholder: set it up with `ordertools products set {level.sku} --quantity N`"
    if level.oversold:
        return f"oversold by {level.oversold}"
    if not level.manage_stock:
        return "stock not managed"
    return ""


@products.command("set", context_settings=CONTEXT)
@click.argument("sku")
@click.option("--quantity", type=click.IntRange(min=0), metavar="N", help="Units on hand.")
@click.option(
    "--manage-stock",
    type=click.Choice(["yes", "no"]),
    help="Whether open orders hold this product's stock (a placeholder set up: yes).",
)
@click.pass_context
def products_set(ctx, sku, quantity, manage_stock):
    """Set one product's units on hand and/or whether its stock is managed; a placeholder
    becomes a real product. Open orders' holds follow at once.

    \b
    Example:
      ordertools products set MUG-CER-350 --quantity 40 --manage-stock yes
    """
    managed = None if manage_stock is None else manage_stock == "yes"
    with db.session(order_book(ctx)) as session:
        catalog.set_product(session, sku, quantity=quantity, manage_stock=managed)
        [level] = stock_levels(session, skus=[sku])
    click.echo(_level_line(level))


def _level_line(level: StockLevel) -> str:
    if not level.manage_stock:
        return f"{level.sku}: stock not managed"
    line = (
        f"{level.sku}: on hand {level.on_hand}, reserved {level.reserved}, "
        f"available {level.available}"
    )
    return line + (f" (oversold by {level.oversold})" if level.oversold else "")


COMMANDS = (products,)
