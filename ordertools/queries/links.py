"""Links in the HTML we render: which URLs may be clicked, and the one way an anchor is written.

Amazon's text is untrusted, so a link's text arrives already escaped and its address is
attribute-escaped here; only https pages (Seller Central, a shop's admin) or pages on this machine
(the toolkit's own order page under Voila, JupyterLab) are ever made clickable.
"""

from __future__ import annotations

import html
import os
from urllib.parse import quote

from ordertools.db import Store
from ordertools.domain.stores import seller_central_url


def safe_href(url: str | None) -> str | None:
    """`url` when it may be clicked, else None: https, loopback, or the toolkit's own page
    server (`ordertools serve --host 0.0.0.0` is reached as http://its-host-name:8866/)."""
    if url and (
        url.startswith("https://")
        or url.startswith("http://localhost")
        or url.startswith("http://127.0.0.1")
        or _on_own_server(url)
    ):
        return url
    return None


def _on_own_server(url: str) -> bool:
    base = _voila_base()
    return base.startswith("http://") and url.startswith(base + "/")


def _voila_base() -> str:
    """ORDERTOOLS_VOILA_URL without its trailing slash; "" when unset."""
    return os.environ.get(VOILA_URL_ENV, "").strip().rstrip("/")


def anchor(text_html: str, href: str) -> str:
    """`text_html` (already escaped) as a link opening `href` in a new tab."""
    return (
        f'<a href="{html.escape(href, quote=True)}" target="_blank" '
        f'rel="noopener noreferrer">{text_html}</a>'
    )


def link(text_html: str, url: str | None) -> str:
    """An anchor when `url` may be clicked, else the text alone."""
    href = safe_href(url)
    return anchor(text_html, href) if href else text_html


# Where a local order opens when the store sets no template of its own: the toolkit's order
# page served by Voila (notebooks/order.ipynb; `voila notebooks/` serves it at this path on
# Voila's default port). {store}, {number} and {amazon_order_id} are filled in, URL-quoted.
# `ORDERTOOLS_VOILA_URL` moves it to another Voila server (`ordertools demo --open` sets it).
VOILA_URL_ENV = "ORDERTOOLS_VOILA_URL"
DEFAULT_VOILA_URL = "http://localhost:8866"
ORDER_PAGE_PATH = "/voila/render/order.ipynb?store={store}&order={amazon_order_id}"


def default_local_order_url() -> str:
    return (_voila_base() or DEFAULT_VOILA_URL) + ORDER_PAGE_PATH


def order_link(store: Store, amazon_order_id: str, local_number: str | None) -> str:
    """The local order's page when there is one, else the order in Seller Central."""
    if local_number is None:
        return seller_central_url(store, amazon_order_id)
    template = store.local_order_url_template or default_local_order_url()
    return template.format(
        store=quote(store.name, safe=""),
        number=quote(local_number, safe=""),
        amazon_order_id=quote(amazon_order_id, safe=""),
    )
