"""What a person reads in the terminal: tables whose columns line up, settings and stores in
words, the same money and dates everywhere, and Amazon's text unable to garble any of it.

Columns are measured the way a terminal draws them (East Asian wide characters take two cells),
by this file's own `cells`, not by the code under test. Machine-readable outputs (`--format
json`) are checked to stay exactly as scripts know them.
"""

from __future__ import annotations

import json
import re
import unicodedata

import pytest
from click.testing import CliRunner, Result

from ordertools.cli import main

DATE = r"\d{4}-\d\d-\d\d \d\d:\d\d UTC"
# Amazon's text, hostile: a newline and a tab that would break a row, an escape sequence that
# would clear the screen, a bidirectional override that would reverse the rest of the line.
HOSTILE = "Evil\nName\tTab\x1b[2J\u202eReversed"
HOSTILE_SHOWN = "Evil Name Tab?[2J?Reversed"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in ("ORDERTOOLS_DB", "ORDERTOOLS_DEBUG", "ORDERTOOLS_REFRESH_TOKEN"):
        monkeypatch.delenv(name, raising=False)


def ok(url: str, *args) -> str:
    result: Result = CliRunner().invoke(
        main, ["--db", url, *map(str, args)], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    return result.stdout


def cells(text: str) -> int:
    """Terminal cells `text` takes: wide and full-width characters two, combining marks none."""
    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
        for c in text
    )


def column_of(line: str, value: str) -> int:
    """The terminal column where `value` starts in `line`."""
    assert value in line, (value, line)
    return cells(line[: line.index(value)])


def end_of(line: str, value: str) -> int:
    return column_of(line, value) + cells(value)


def add_store(url: str, amazon, name: str) -> None:
    suggested = next(s for s in amazon.stores if s.name == name)
    ok(url, "store", "add", name, "--marketplace", suggested.marketplace_id,
       "--endpoint", amazon.base_url, "--token-url", amazon.token_url,
       "--integrated-at", suggested.integrated_at, "--api-lag", 0)  # fmt: skip


@pytest.fixture
def amazon(emulator_factory):
    """The demo scenario: US, DE, UK and JP stores, buyers named in many scripts."""
    return emulator_factory(scenario="demo")


@pytest.fixture
def book(sqlite_url, amazon) -> str:
    """acme-us and acme-jp synced from the demo Amazon; acme-us has a hostile buyer's name."""
    us = next(s for s in amazon.stores if s.name == "acme-us")
    amazon.world.add_order(
        status="UNSHIPPED", buyer_name=HOSTILE, marketplace_id=us.marketplace_id, created="-1m"
    )
    for name in ("acme-us", "acme-jp"):
        add_store(sqlite_url, amazon, name)
        ok(sqlite_url, "sync", name)
    return sqlite_url


def orders_table(url: str, store: str) -> tuple[list[str], list[dict]]:
    table = ok(url, "orders", store).rstrip("\n").split("\n")
    rows = json.loads(ok(url, "orders", store, "--format", "json"))
    assert len(table) == 1 + len(rows), "one line per order, under one heading line"
    return table, rows


def assert_lined_up(table: list[str], rows: list[dict]) -> None:
    """Text columns start under their heading; Grand Total ends under its heading's end."""
    head, lines = table[0], table[1:]
    for line, row in zip(lines, rows, strict=True):
        for heading, key in (
            ("Order Number", "order_number"),
            ("Status", "status"),
            ("Buyer's Name", "buyer_name"),
        ):
            assert column_of(line, row[key]) == column_of(head, heading), (heading, line)
        total = line.rsplit("  ", 1)[1].strip()
        assert end_of(line, total) == end_of(head, "Grand Total"), line
        assert re.match(DATE, line), line  # Purchase Date starts each line


def test_japanese_buyer_names_line_up(book):
    table, rows = orders_table(book, "acme-jp")
    assert {"山田 太郎", "佐藤 花子"} <= {r["buyer_name"] for r in rows}
    assert table[0].startswith("Purchase Date   ")  # a text heading is left-aligned
    assert_lined_up(table, rows)
    assert re.search(r" ￥\d,\d{3}$", table[1]), table[1]  # money as Japanese buyers read it


def test_text_left_numbers_right_and_control_characters_made_harmless(book):
    table, rows = orders_table(book, "acme-us")
    assert_lined_up([table[0], *(line for line in table[1:] if "Evil" not in line)],
                    [r for r in rows if r["buyer_name"] != HOSTILE])  # fmt: skip
    [evil] = [line for line in table if "Evil" in line]
    assert HOSTILE_SHOWN in evil
    assert not any(c in "".join(table) for c in "\t\x1b\u202e")
    assert column_of(evil, HOSTILE_SHOWN) == column_of(table[0], "Buyer's Name")
    # Scripts still get Amazon's text exactly as it came.
    assert HOSTILE in [r["buyer_name"] for r in rows]

    order = next(r for r in rows if r["buyer_name"] == HOSTILE)["order_number"]
    shown = ok(book, "show", "acme-us", order)
    assert f"  Buyer:          {HOSTILE_SHOWN}\n" in shown
    assert "\x1b" not in shown and "\t" not in shown
    assert json.loads(ok(book, "show", "acme-us", order, "--format", "json"))["buyer_name"] == (
        HOSTILE
    )


def test_show_reads_like_orders(book):
    table, rows = orders_table(book, "acme-us")
    for fulfilled_by, words in (
        ("MERCHANT", "Merchant (FBM: you ship)"),
        ("AMAZON", "Amazon (FBA)"),
    ):
        order = next(
            r
            for r in rows
            if r["buyer_name"] != HOSTILE
            and json.loads(ok(book, "show", "acme-us", r["order_number"], "--format", "json"))[
                "fulfilled_by"
            ]
            == fulfilled_by
        )
        line = next(line for line in table if order["order_number"] in line)
        shown = ok(book, "show", "acme-us", order["order_number"]).splitlines()
        facts = dict(re.fullmatch(r"  ([A-Z][\w ]+): +(.*)", s).groups() for s in shown[1:8])
        assert facts["Fulfilled by"] == words
        # The same date and money as the order's line in `orders`.
        assert facts["Purchase date"] == line[:20] and re.fullmatch(DATE, facts["Purchase date"])
        assert line.endswith(f"  {facts['Grand total']}"), (facts, line)
        assert facts["Buyer"] == order["buyer_name"]
        history = shown[shown.index("  Status history") + 1 :]
        assert history and all(re.match(rf"    {DATE}  ", h) for h in history), history


def test_store_list_reads_as_a_table(book, amazon):
    add_store(book, amazon, "acme-de")
    ok(book, "settings", "acme-de", "--import", "disabled")
    listed = ok(book, "store", "list").rstrip("\n").split("\n")
    head, *lines = listed
    assert head.split("  ")[0] == "Store"
    by_store = {line.split()[0]: line for line in lines}
    assert list(by_store) == ["acme-de", "acme-jp", "acme-us"]
    de, jp, us = by_store["acme-de"], by_store["acme-jp"], by_store["acme-us"]
    assert "Amazon.de (A1PA6795UKMFR9)" in de and "Amazon.co.jp (A1VC38T7YXB528)" in jp
    assert re.search(r"  Disabled +not synced yet$", de), de
    assert re.search(rf"  Enabled +{DATE}$", us), us
    for heading, line, value in (
        ("Marketplace", us, "Amazon.com (ATVPDKIKX0DER)"),
        ("Import Amazon Orders", de, "Disabled"),
        ("Import Amazon Orders", jp, "Enabled"),
        ("Last sync", de, "not synced yet"),
        ("Last sync", jp, "20"),
    ):
        assert column_of(line, value) == column_of(head, heading), (heading, line)
    assert "synced to" not in "\n".join(listed) and "+00:00" not in "\n".join(listed)
    # Scripts keep every raw value.
    raw = {s["name"]: s for s in json.loads(ok(book, "store", "list", "--format", "json"))}
    assert raw["acme-de"]["import_enabled"] is False and raw["acme-de"]["cursor"] is None
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+\+00:00", raw["acme-us"]["cursor"])


def test_settings_in_the_dashboards_words(sqlite_url):
    ok(sqlite_url, "store", "add", "acme", "--marketplace", "ATVPDKIKX0DER")
    assert ok(sqlite_url, "settings", "acme") == (
        "Order Settings of acme:\n"
        "  Import Amazon Orders:    Enabled\n"
        "  Customer creation:       Guest orders\n"
        "  Order number:            Local numbers\n"
        "  Reserve quantity:        Yes\n"
        "  Status for new imports:  pending\n"
        "  Money reads as:          en_US (the marketplace's)\n"
        "  Dates are in:            America/Los_Angeles (the marketplace's)\n"
    )
    changed = ok(sqlite_url, "settings", "acme", "--import", "disabled",
                 "--customer-creation", "create", "--order-number-source", "amazon",
                 "--reserve-quantity", "no", "--order-status", "awaiting_review")  # fmt: skip
    assert changed.splitlines()[0] == (
        "Saved: Import Amazon Orders is now Disabled; Customer creation is now Create customer "
        "accounts; Order number is now Amazon's order number; Reserve quantity is now No; "
        "Status for new imports is now awaiting_review."
    )
    assert changed.splitlines()[1:7] == [
        "Order Settings of acme:",
        "  Import Amazon Orders:    Disabled",
        "  Customer creation:       Create customer accounts",
        "  Order number:            Amazon's order number",
        "  Reserve quantity:        No",
        "  Status for new imports:  awaiting_review",
    ]
    raw = json.loads(ok(sqlite_url, "store", "list", "--format", "json"))[0]
    assert (raw["import_enabled"], raw["customer_creation"], raw["reserve_quantity"]) == (
        False,
        "create",
        False,
    )


def test_products_with_wide_names_line_up(sqlite_url, tmp_path):
    path = tmp_path / "p.csv"
    path.write_text(
        "sku,name,quantity,manage_stock\n"
        "TEA-MATCHA,抹茶 100g 宇治,7,yes\n"
        "MUG-1,Mug,120,yes\n"
        "BAG-1,Ｔｏｔｅ Ｂａｇ,3,no\n",
        encoding="utf-8",
    )
    ok(sqlite_url, "products", "import", path)
    head, *lines = ok(sqlite_url, "products", "list").rstrip("\n").split("\n")
    for line, name, on_hand in (
        (lines[0], "Ｔｏｔｅ Ｂａｇ", "-"),
        (lines[1], "Mug", "120"),
        (lines[2], "抹茶 100g 宇治", "7"),
    ):
        assert column_of(line, name) == column_of(head, "Name"), line
        assert end_of(line, f" {on_hand} ") - 1 == end_of(head, "On hand"), line


def test_outbox_and_runs_read_as_tables(book):
    from ordertools import db
    from ordertools.db import NotebookRun

    rows = json.loads(ok(book, "orders", "acme-us", "--status", "unshipped", "--format", "json"))
    number = next(r["local_order_number"] for r in rows if r["local_order_number"])
    ok(book, "ship", number, "--carrier", "ups", "--tracking", "1Z1")
    head, line = ok(book, "outbox", "list").rstrip("\n").split("\n")
    assert head.split() == ["ID", "Store", "Order", "Change", "State", "Attempts", "Last", "error"]
    assert column_of(line, "acme-us") == column_of(head, "Store")
    assert column_of(line, number) == column_of(head, "Order")
    assert column_of(line, "ship") == column_of(head, "Change")
    state = json.loads(ok(book, "outbox", "list", "--format", "json"))[0]["state"]
    assert state in ("sent", "confirmed")  # in words in the table: "sent, waiting ..."
    assert column_of(line, "sent" if state == "sent" else "confirmed") == column_of(head, "State")
    # No error yet: the line ends with the attempts, right-aligned under their heading.
    assert re.search(r"  \d+$", line) and cells(line) == end_of(head, "Attempts"), line

    with db.session(db.connect(book)) as session:
        session.add_all(
            [
                NotebookRun(notebook="sync", store="acme-us", parameters={}, outcome="success",
                            output_path="/runs/sync-1.ipynb"),
                NotebookRun(notebook="reconcile", store=None, parameters={}, outcome="failed",
                            output_path="/runs/reconcile-2.ipynb", error="Amazon said\nno"),
            ]
        )  # fmt: skip
    head, *lines = ok(book, "runs", "list").rstrip("\n").split("\n")
    assert len(lines) == 2, lines  # the error's newline stays inside its row
    assert head.split() == ["ID", "Started", "Notebook", "Store", "Outcome", "Output", "Error"]
    for line in lines:
        assert re.search(rf"^ *\d+  {DATE}  ", line), line
        for heading, value in (("Notebook", "sync"), ("Outcome", "success")):
            if value in line:
                assert column_of(line, value) == column_of(head, heading)
    assert lines[0].endswith("Amazon said no")
    assert column_of(lines[0], "failed") == column_of(head, "Outcome")
