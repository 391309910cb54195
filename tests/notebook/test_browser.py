"""The dashboard in a real browser: Voila serves the notebooks, Debian's Chromium shows them.

Playwright drives `/usr/bin/chromium` (it must never download a browser of its own here). The
order book is the deterministic demo one the notebooks' reference outputs come from. A missing
Chromium skips this test on a workstation and fails it in CI (`CI` set): `.ci/run` installs it.
Screenshots go under `test-artifacts/`: the dashboard and an order page of a US, a German and
a Japanese store (each in its marketplace's money and time zone), and the dashboard after a
Ship and a Cancel made from the page.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import select

from ordertools import db
from ordertools.db import Store
from ordertools.demo import REFERENCE_AT, REFERENCE_TZ, build_demo_order_book
from ordertools.fulfillment.actions import find_local_order
from ordertools.notebook.launch import dashboard_url, free_port, voila_command, wait_for_port
from ordertools.runs.notebooks import notebooks_dir

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("ORDERTOOLS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 60_000
# Recent Orders' table (Orders awaiting shipment, above it, is a table of the same style).
RECENT = "table.ordertools-orders:not(.ordertools-awaiting):not(.ordertools-stock)"


def _chromium_or_skip() -> str:
    if Path(CHROMIUM).is_file() or shutil.which(CHROMIUM):
        return CHROMIUM
    reason = f"Chromium not found at {CHROMIUM} (apt-get install chromium; .ci/run does)"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must run the browser test")
    pytest.skip(reason)


@contextmanager
def _voila(tmp_path_factory, **env_extra: str):
    """Voila on a free port over the demo order book; yields (base URL, engine)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('browser') / 'demo.db'}"
    engine = db.connect(url)
    build_demo_order_book(engine, REFERENCE_AT)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "ORDERTOOLS_DB": url, "ORDERTOOLS_VOILA_URL": base, **env_extra}
    for name in ("QUERY_STRING", *([] if "ORDERTOOLS_TZ" in env_extra else ["ORDERTOOLS_TZ"])):
        env.pop(name, None)
    log = (tmp_path_factory.mktemp("voila") / "voila.log").open("w")
    server = subprocess.Popen(
        voila_command(notebooks_dir(), port), env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        wait_for_port(port)
        yield base, engine
    finally:
        server.terminate()
        server.wait(timeout=20)
        engine.dispose()
        log.close()


@pytest.fixture(scope="module")
def voila(tmp_path_factory):
    """Dates in the reference zone, as in the notebooks' reference outputs."""
    with _voila(tmp_path_factory, ORDERTOOLS_TZ=REFERENCE_TZ) as served:
        yield served


@pytest.fixture(scope="module")
def voila_own_zones(tmp_path_factory):
    """No ORDERTOOLS_TZ: each store's dates in its marketplace's zone."""
    with _voila(tmp_path_factory) as served:
        yield served


@pytest.fixture(scope="module")
def browser():
    executable = _chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


def _import_enabled(engine) -> bool:
    with db.session(engine) as session:
        return session.scalar(select(Store.import_enabled).where(Store.name == "acme-us"))


def _open_dashboard(page, base: str) -> None:
    page.goto(dashboard_url(base, "acme-us"), timeout=WAIT_MS)
    page.locator(RECENT).first.wait_for(timeout=WAIT_MS)
    page.get_by_text("Orders 1–", exact=False).first.wait_for(timeout=WAIT_MS)


def _whole_page(page, path: Path) -> None:
    """Voila scrolls inside its own container: a viewport as tall as the page shows all of it."""
    height = page.evaluate(
        "Math.max(...[...document.querySelectorAll('*')].map(e => e.scrollHeight))"
    )
    page.set_viewport_size({"width": 1280, "height": min(max(height + 40, 900), 8000)})
    page.screenshot(path=str(path))
    page.set_viewport_size({"width": 1280, "height": 900})


# Each marketplace's money as its readers write it, in the store's own time zone.
MARKETPLACES = {
    "acme-us": (re.compile(r"\$\d+\.\d\d"), "America/Los_Angeles"),
    "acme-de": (re.compile(r"\d+,\d\d\s€"), "Europe/Berlin"),
    "acme-jp": (re.compile(r"￥\d"), "Asia/Tokyo"),
}


@pytest.mark.parametrize("store", sorted(MARKETPLACES))
def test_each_marketplace_reads_as_its_own(voila_own_zones, browser, store):
    base, _ = voila_own_zones
    money, zone = MARKETPLACES[store]
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(dashboard_url(base, store), timeout=WAIT_MS)
    recent = page.locator(RECENT).first
    recent.wait_for(timeout=WAIT_MS)
    assert money.search(recent.inner_text()), recent.inner_text()
    assert page.locator("th", has_text=zone).count() >= 1  # the date heading names the zone
    cut = page.evaluate(
        "[...document.querySelectorAll('.widget-label')]"
        ".filter(l => l.offsetParent && l.scrollWidth > l.clientWidth + 1).map(l => l.textContent)"
    )
    assert cut == [], f"labels cut short: {cut}"
    ARTIFACTS.mkdir(exist_ok=True)
    _whole_page(page, ARTIFACTS / f"dashboard-{store}.png")

    order = browser.new_page(viewport={"width": 1280, "height": 900})
    href = recent.locator('a[href*="order.ipynb"]').first.get_attribute("href")
    order.goto(href, timeout=WAIT_MS)
    order.get_by_text("Status history").wait_for(timeout=WAIT_MS)
    assert money.search(order.locator("body").inner_text())
    assert order.get_by_text(f"Back to the dashboard of {store}").count() == 1
    _whole_page(order, ARTIFACTS / f"order-{store}.png")
    order.close(run_before_unload=True)
    page.close(run_before_unload=True)


def test_dashboard_in_chromium(voila, browser):
    base, engine = voila
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    started = time.monotonic()
    _open_dashboard(page, base)

    # Recent Orders: real links, Seller Central for view-only orders, the local page otherwise.
    recent = page.locator(RECENT).first
    seller = recent.locator('a[href^="https://sellercentral.amazon.com/orders-v3/order/"]')
    local = recent.locator(f'a[href^="{base}/voila/render/order.ipynb?store=acme-us&order="]')
    assert seller.count() >= 1 and local.count() >= 1
    assert seller.first.get_attribute("target") == "_blank"
    assert page.get_by_text('<script>alert("x")</script> Smith').count() >= 1  # shown as text
    # Orders awaiting shipment: the queue and its Ship / Cancel picker.
    page.locator("th", has_text="To ship").first.wait_for(timeout=WAIT_MS)
    assert page.get_by_text("Choose an order to ship or cancel").count() >= 1
    ARTIFACTS.mkdir(exist_ok=True)
    _whole_page(page, ARTIFACTS / "store_dashboard.png")

    # A filter narrows All Orders.
    pager = page.get_by_text("Orders 1–", exact=False).first
    before = pager.inner_text()
    buyer = page.locator(".widget-text", has_text="Buyer's name").locator("input")
    buyer.fill("josé")
    page.get_by_role("button", name="Apply").click()
    page.get_by_text("Active filters:", exact=False).wait_for(timeout=WAIT_MS)
    page.wait_for_function(
        "before => [...document.querySelectorAll('.widget-html')].some("
        "e => e.innerText.includes('Orders 1–') && !e.innerText.includes(before))",
        arg=before.strip(),
        timeout=WAIT_MS,
    )
    assert int(pager.inner_text().split(" of ")[1].split()[0]) < int(
        before.split(" of ")[1].split()[0]
    )

    # The import toggle persists: flip it, the database changes, a reload shows it flipped.
    assert _import_enabled(engine) is True
    page.locator(".widget-toggle-buttons button", has_text="Disabled").click()
    deadline = time.monotonic() + 30
    while _import_enabled(engine) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _import_enabled(engine) is False
    page.reload()
    _open_dashboard(page, base)
    disabled = page.locator(".widget-toggle-buttons button", has_text="Disabled")
    assert "mod-active" in (disabled.get_attribute("class") or "")
    assert page.get_by_text("no local orders are created", exact=False).count() >= 1

    # An order page opens from its link.
    href = (
        page.locator(RECENT)
        .first.locator(f'a[href^="{base}/voila/render/order.ipynb"]')
        .first.get_attribute("href")
    )
    order_page = browser.new_page()
    order_page.goto(href, timeout=WAIT_MS)
    order_page.get_by_text("Status history").wait_for(timeout=WAIT_MS)
    assert order_page.get_by_text("Local order").count() >= 1
    assert order_page.get_by_role("button", name="Add comment").count() == 1
    order_page.screenshot(path=str(ARTIFACTS / "order_page.png"), full_page=True)
    assert time.monotonic() - started < 120


def _local_status(engine, order: str) -> str:
    with db.session(engine) as session:
        return find_local_order(session, order, "acme-de").status


def _select(page, offering: str):
    """The drop-down that offers `offering` (the queue's prompt, a carrier, a reason)."""
    return page.locator("select", has=page.locator("option", has_text=offering)).first


def _choices(picker) -> list[str]:
    """The queue picker's orders (ipywidgets writes its options' spaces as no-break spaces)."""
    options = [o.replace("\xa0", " ") for o in picker.locator("option").all_text_contents()]
    return [o.split(" · ")[0] for o in options[1:]]  # after "Choose an order to ship or cancel"


def _gone_from_the_queue(picker, numbers: list[str]) -> None:
    deadline = time.monotonic() + WAIT_MS / 1000
    while set(numbers) & set(_choices(picker)):
        assert time.monotonic() < deadline, (numbers, _choices(picker))
        time.sleep(0.2)


def test_ship_and_cancel_from_the_page(voila, browser):
    """Orders awaiting shipment, in Chromium: choose an order, ship it with its tracking
    number; choose another, cancel it with a reason. The order book changes, the page says so
    and the orders leave the queue."""
    base, engine = voila
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(dashboard_url(base, "acme-de"), timeout=WAIT_MS)
    page.locator(RECENT).first.wait_for(timeout=WAIT_MS)
    picker = _select(page, "Choose an order to ship or cancel")
    choices = _choices(picker)
    # Amazon cancels only what it still shows Unshipped: cancel one of those, ship another.
    rows = page.locator("table.ordertools-awaiting tbody tr").all_inner_texts()
    unshipped = [n for n in choices if any(n in r and "\tUnshipped" in r for r in rows)]
    assert unshipped and len(choices) >= 2, rows
    canceled = unshipped[0]
    shipped = next(n for n in choices if n != canceled)

    picker.select_option(index=1 + choices.index(shipped))
    page.get_by_text("Ship order ").wait_for(timeout=WAIT_MS)  # its local order's number
    _select(page, "UPS").select_option(value="UPS")
    page.locator('.widget-text:has(label:text-is("Tracking")) input').fill("1Z999AA10123456784")
    page.locator("button", has_text=re.compile(r"^\s*Ship\s*$")).click()
    page.get_by_text(re.compile(r"^Shipped: ")).first.wait_for(timeout=WAIT_MS)
    assert _local_status(engine, shipped) == "complete"  # every unit shipped
    _gone_from_the_queue(picker, [shipped])

    picker.select_option(index=1 + _choices(picker).index(canceled))
    page.get_by_text("Ship order ").wait_for(timeout=WAIT_MS)
    _select(page, "NoInventory").select_option(value="NoInventory")
    page.get_by_role("button", name="Cancel order").click()
    page.get_by_text(re.compile(r"^Canceled: ")).first.wait_for(timeout=WAIT_MS)
    assert _local_status(engine, canceled) == "canceled"

    _gone_from_the_queue(picker, [shipped, canceled])
    ARTIFACTS.mkdir(exist_ok=True)
    _whole_page(page, ARTIFACTS / "dashboard-after-ship-and-cancel.png")
    page.close(run_before_unload=True)
