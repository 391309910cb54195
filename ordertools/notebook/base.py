"""What every notebook section shares: the order book and store, messages, downloads.

`Section` is an ipywidgets box whose output also carries a static HTML snapshot
(`_repr_mimebundle_`): readers without a widget manager (GitHub, nbconvert) see the tables, and
nbval, which skips widget views, compares them. The pages (`dashboard`, `order_page`,
`all_orders`, ...) import this module; it imports none of them.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import parse_qs

import ipywidgets as widgets
from sqlalchemy.engine import Engine

from ordertools import db
from ordertools.amazon.client import AmazonClient
from ordertools.domain.stores import get_store
from ordertools.notebook import pages
from ordertools.notebook.pages import CSS, Display


def parameters(**defaults: str | None) -> dict[str, str | None]:
    """The notebook's parameters: the cell's values, overridden by Voila's query string.

    Under Voila a notebook's parameters come from the page's query string (`?store=acme-us`),
    which Voila hands the kernel as `QUERY_STRING`; papermill and JupyterLab set them in the cell
    tagged `parameters`. This merges the two so a notebook needs one line for both.
    """
    query = parse_qs(os.environ.get("QUERY_STRING", ""))
    return {name: query[name][0] if query.get(name) else value for name, value in defaults.items()}


class Dashboard:
    """What every section shares: the order book, the store's name, how to show dates."""

    def __init__(
        self,
        engine: Engine,
        store: str,
        *,
        show: Display | None = None,
        time_zone: str | None = None,
        clock: Callable[[], datetime] | None = None,
        client: AmazonClient | None = None,
        progress: bool = True,
    ):
        """`show`: how dates and money read; default the store's own (`Display.for_store`),
        its dates in `time_zone` when given."""
        self.engine = engine
        self.store_name = store
        self.time_zone = time_zone  # chosen for this page (?time_zone=); links pass it on
        self.clock = clock or (lambda: datetime.now(UTC))
        self.client = client  # None: the store's own endpoint and credentials
        self.progress = progress
        with self.session() as session:
            found = get_store(session, store)  # fail now, with the list of stores, on a wrong name
            self.show = show or Display.for_store(found, time_zone)

    def session(self):
        return db.session(self.engine)

    def store(self, session):
        return get_store(session, self.store_name)


class Section(widgets.VBox):
    """A dashboard section whose output also holds a static HTML snapshot of it."""

    title = ""

    def snapshot(self) -> str:
        raise NotImplementedError

    def refresh(self) -> None:
        """Read the database again."""

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = f"{self.title} (interactive in JupyterLab or Voila)"
        bundle["text/html"] = CSS + self.snapshot()
        return bundle


def html_widget(value: str = "") -> widgets.HTML:
    return widgets.HTML(value)


def say(html: widgets.HTML, text: object, *, error: bool = False) -> None:
    """Show a one-line message (escaped) in a section's message area: red for an error."""
    style = "color:#b00" if error else "color:#060"
    html.value = f'<span style="{style}">{pages.e(text)}</span>'


_ENGINES: dict[str, Engine] = {}


def kernel_engine() -> Engine:
    """One engine per order book per kernel: every section and the order page share it."""
    url = db.default_url()
    if url not in _ENGINES:
        _ENGINES[url] = db.connect(url)
    return _ENGINES[url]


def download_link(label: str, filename: str, mime: str, content: bytes) -> str:
    """A link that saves `content` as `filename`: no server round trip, works under Voila."""
    data = base64.b64encode(content).decode()
    return (
        f'<a download="{pages.e(filename)}" href="data:{mime};base64,{data}" '
        f'class="ordertools-download">{pages.e(label)}</a>'
    )


# The served notebooks link to each other by these names, relative to the page.
STORES_PAGE = "stores.ipynb"  # the store cards
DASHBOARD_PAGE = "store_dashboard.ipynb"  # ?store=NAME[&time_zone=ZONE]


class Unavailable:
    """A page that cannot open its store (or order) shows this instead: the reason in one line,
    and the way to the store cards. Its first section says so; every other section is empty, so
    the notebook's later cells still run (under Voila a failing cell shows only Voila's own
    "There was an error when executing cell" page)."""

    first_section = "header"

    def __init__(
        self,
        reason: object,
        first_section: str | None = None,
        way: tuple[str, str] = ("Choose a store on the store cards", STORES_PAGE),
    ):
        self.reason = str(reason)
        self.first_section = first_section or self.first_section
        self.way = way  # (words, relative link)

    def html(self) -> str:
        words, href = self.way
        return (
            f'<div class="ordertools-unavailable"><p><b>{pages.e(self.reason)}</b></p>'
            f'<p><a href="{pages.e(href)}">{pages.e(words)}</a></p></div>'
        )

    def _repr_html_(self) -> str:
        return self.html()

    def __repr__(self) -> str:
        return self.reason

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return self if name == self.first_section else _Nothing()


class _Nothing:
    def _repr_html_(self) -> str:
        return ""

    def __repr__(self) -> str:
        return ""
