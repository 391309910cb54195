"""What every notebook section shares: the order book and store, messages, downloads.

`Section` is an ipywidgets box whose output also carries a static HTML snapshot
(`_repr_mimebundle_`): readers without a widget manager (GitHub, nbconvert) see the tables, and
nbval, which skips widget views, compares them. The pages (`dashboard`, `order_page`,
`all_orders`, ...) import this module; it imports none of them.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import parse_qs

import ipywidgets as widgets
from sqlalchemy.engine import Engine

from ordertools import db
from ordertools.amazon.client import AmazonClient
from ordertools.domain.stores import first_store_name, get_store
from ordertools.notebook import pages
from ordertools.notebook.pages import CSS, Display


def parameters(
    *, rehearse: Callable[[], object] | None = None, **defaults: str | None
) -> dict[str, str | None]:
    """The notebook's parameters: the cell's values, overridden by Voila's query string.

    Under Voila a notebook's parameters come from the page's query string (`?store=acme-us`),
    which Voila hands the kernel as `QUERY_STRING`; papermill and JupyterLab set them in the cell
    tagged `parameters`. This merges the two so a notebook needs one line for both.
    `rehearse`: how to build the page for any store, run by a preheated kernel while it waits.
    """
    wait_for_the_page(rehearse)
    query = parse_qs(os.environ.get("QUERY_STRING", ""))
    return {name: query[name][0] if query.get(name) else value for name, value in defaults.items()}


def wait_for_the_page(rehearse: Callable[[], object] | None = None) -> None:
    """In a kernel `ordertools serve --preheat` started ahead, wait here for the page's request.

    A preheated kernel runs its notebook's imports before anyone asks for a page; the page's
    address (`?store=...`) reaches it only once a page takes it (`page_request`, which blocks
    until then). Everything after this call sees the real request. Anywhere else (papermill,
    JupyterLab, a kernel Voila started for one request) `VOILA_PREHEAT` is unset or "False" and
    this returns at once. Nothing clears the variable after the wait but this function: a second
    call in the same kernel must not wait for a request that never comes.

    Before it waits, the kernel builds the page once for nothing (`rehearse`): a process's first
    dashboard compiles its queries and sets up its widget classes, 0.46 s against 0.1 s for the
    next one, and that is better spent before anyone is waiting.
    """
    if os.environ.get("VOILA_PREHEAT") != "True":
        return
    if rehearse is not None:
        rehearsed(rehearse)
    os.environ.update(page_request())
    os.environ["VOILA_PREHEAT"] = "False"


def page_request() -> dict[str, str]:
    """The page's request (QUERY_STRING and the rest), from the server that preheated us.

    What `voila.utils.wait_for_request` does, without importing `voila`: that package pulls in
    jupyter_server and its JSON-schema grammars, seconds of CPU and tens of MB in every kernel.
    The server answers on `voila/query/<this kernel's id>` once a page takes this kernel.
    """
    from websockets.sync.client import connect

    env = os.environ
    base = env.get("VOILA_WS_BASE_URL", env.get("VOILA_SERVER_URL", "/"))
    address = (
        f"{env.get('VOILA_WS_PROTOCOL', 'ws')}://{env.get('VOILA_APP_IP', '127.0.0.1')}:"
        f"{env.get('VOILA_APP_PORT', '8866')}{base}voila/query/{env['VOILA_KERNEL_ID']}"
    )
    with connect(address, open_timeout=10) as socket:
        return json.loads(socket.recv())


def rehearsed(build: Callable[[], object]) -> None:
    """Run `build` and close every widget it made, so that no browser ever loads them.

    Whatever goes wrong is left for the real page to say: a rehearsal has no one to tell.
    """
    from ipywidgets.widgets.widget import _instances  # the kernel's live widgets, by model id

    before = set(_instances)
    try:
        build()
    except Exception:  # noqa: BLE001, S110 (the page that follows reports its own errors)
        pass
    finally:
        for model_id in set(_instances) - before:
            _instances[model_id].close()


def first_store(engine: Engine) -> str | None:
    """The order book's first store, for a rehearsal (None: it has none yet)."""
    with db.session(engine) as session:
        return first_store_name(session)


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
