"""Order listings as text, JSON, CSV, HTML and Excel: what `ordertools orders --format` writes.

Exports carry exactly the rows and columns shown, with ISO 8601 dates. HTML escapes every piece
of Amazon's text (buyer names and notes are untrusted) and only ever links to `https://` pages or
the store's configured local-order template.
"""

from __future__ import annotations

import html
import io
import json
from collections.abc import Callable, Sequence
from datetime import datetime

import pandas as pd

from ordertools.domain.instants import when
from ordertools.domain.money import money
from ordertools.domain.text import table
from ordertools.queries.links import link
from ordertools.queries.orders import OrderRecord

# The Recent Orders columns (the seed's defaults), then the optional ones, as (key, heading).
DEFAULT_COLUMNS = (
    ("purchase_date", "Purchase Date"),
    ("order_number", "Order Number"),
    ("status", "Status"),
    ("buyer_name", "Buyer's Name"),
    ("grand_total", "Grand Total"),
)
OPTIONAL_COLUMNS = (
    ("notes", "Order Notes"),
    ("local_order_number", "Local Order Number"),
    ("fulfilled_by", "Fulfilled By"),
    ("marketplace_id", "Marketplace"),
)
HEADINGS = dict(DEFAULT_COLUMNS + OPTIONAL_COLUMNS)


def _frame(records: Sequence[OrderRecord], columns: Sequence[str]) -> pd.DataFrame:
    rows = [record.to_json() for record in records]
    frame = pd.DataFrame(rows, columns=list(dict.fromkeys([*columns, "currency"])))
    return frame


# Right-aligned in the text table, so amounts end at the same column; the rest is left-aligned.
NUMERIC_COLUMNS = frozenset({"grand_total"})


def _cell(record: OrderRecord, data: dict, column: str, locale: str = "en_US") -> str:
    if column == "grand_total":
        return money(record.grand_total, record.currency, locale)
    if column == "purchase_date":
        return when(record.purchase_date)
    value = data.get(column)
    return "" if value is None else str(value)


def render_table(
    records: Sequence[OrderRecord], columns: Sequence[str], locale: str = "en_US"
) -> str:
    """The terminal table: text columns left-aligned, Grand Total right-aligned (in `locale`),
    wide (CJK) characters counted as two columns, Amazon's control characters made harmless."""
    if not records:
        return "No orders match."
    rows = []
    for record in records:
        data = record.to_json()
        rows.append([_cell(record, data, column, locale) for column in columns])
    numeric = [i for i, column in enumerate(columns) if column in NUMERIC_COLUMNS]
    return table([HEADINGS.get(c, c) for c in columns], rows, numeric=numeric)


def render_json(records: Sequence[OrderRecord]) -> str:
    return json.dumps([r.to_json() for r in records], indent=2, ensure_ascii=False)


def render_csv(records: Sequence[OrderRecord], columns: Sequence[str]) -> str:
    frame = _frame(records, [*columns, "link"])
    return frame.rename(columns=HEADINGS).to_csv(index=False)


def render_xlsx(records: Sequence[OrderRecord], columns: Sequence[str]) -> bytes:
    buffer = io.BytesIO()
    frame = _frame(records, [*columns, "link"])
    frame.rename(columns=HEADINGS).to_excel(buffer, index=False, sheet_name="Orders")
    return buffer.getvalue()


def render_html(
    records: Sequence[OrderRecord],
    columns: Sequence[str],
    *,
    dates: Callable[[datetime | None], str] | None = None,
    locale: str = "en_US",
    zone: str | None = None,
) -> str:
    """A plain, escaped HTML table; the order number is a link that opens in a new tab.

    `dates` shows the purchase date (the dashboard passes one for the user's time zone, and
    its name as `zone` for the heading); without it the date is ISO 8601, as in exports. An
    order with no local order (view only) is marked so beside its number, and its row has the
    class `ordertools-view-only`.
    """

    def heading(column: str) -> str:
        label = HEADINGS.get(column, column)
        return f"{label} ({zone})" if column == "purchase_date" and zone else label

    head = "".join(f"<th>{html.escape(heading(c))}</th>" for c in columns)
    body = []
    for record in records:
        view_only = record.local_order_number is None
        data = record.to_json()
        cells = []
        for column in columns:
            if column == "grand_total":
                text = html.escape(money(record.grand_total, record.currency, locale))
            elif column == "purchase_date" and dates is not None:
                text = html.escape(dates(record.purchase_date))
            elif column == "order_number":
                text = link(html.escape(record.order_number), record.link)
                if view_only:  # it links to Seller Central: there is nothing of it here
                    text += ' <span class="ordertools-view-only-tag">view only</span>'
            else:
                value = data.get(column)
                text = html.escape("" if value is None else str(value))
            cells.append(f"<td>{text}</td>")
        row = '<tr class="ordertools-view-only">' if view_only else "<tr>"
        body.append(row + "".join(cells) + "</tr>")
    return (
        '<table class="ordertools-orders">\n<thead><tr>'
        + head
        + "</tr></thead>\n<tbody>\n"
        + "\n".join(body)
        + "\n</tbody>\n</table>\n"
    )
