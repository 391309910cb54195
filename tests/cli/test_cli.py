"""The CLI as people and outside checks drive it: the fixed contract in ARCHITECTURE.md.

Most tests call `ordertools` through click's CliRunner with `--db` (or ORDERTOOLS_DB) against
the SP-API emulator's demo scenario; a few run the installed entry point as a real process, the
way a scheduler or an outside check does. Every failure must be exactly one line on stderr
starting "Error:", a non-zero exit, and no traceback.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
import requests
from click.testing import CliRunner, Result

from ordertools import __version__
from ordertools.amazon import connect
from ordertools.amazon.client import FAST_RETRIES
from ordertools.cli import main

ENV_VARS = (
    "ORDERTOOLS_DB",
    "ORDERTOOLS_LWA_CLIENT_ID",
    "ORDERTOOLS_LWA_CLIENT_SECRET",
    "ORDERTOOLS_REFRESH_TOKEN",
    "ORDERTOOLS_DEBUG",
)
CONTRACT_KEYS = {
    "purchase_date",
    "order_number",
    "status",
    "buyer_name",
    "grand_total",
    "currency",
    "local_order_number",
    "local_order_status",
    "link",
    "notes",
}
STATUS_WORDS = (
    "Pending",
    "Pending Availability",
    "Unshipped",
    "Partially Shipped",
    "Shipped",
    "Canceled",
    "Unfulfillable",
    "Completed",
)
EVERY_STATUS = [arg for word in STATUS_WORDS for arg in ("--status", word)]
AMAZON_ORDER_ID = re.compile(r"^\d{3}-\d{7}-\d{7}$")
US_ORDER_LINK = "https://sellercentral.amazon.com/orders-v3/order/"
SHOP_TEMPLATE = "https://shop.example/admin/orders/{number}"
ORDERTOOLS = Path(sys.executable).with_name("ordertools")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """No test reads the developer's order book or credentials."""
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)


def cli(url: str | None, *args, env: dict | None = None, input: str | None = None) -> Result:
    argv = (["--db", url] if url else []) + [str(a) for a in args]
    # catch_exceptions=False: an exception the CLI lets escape fails the test with its traceback.
    result = CliRunner().invoke(main, argv, env=env, input=input, catch_exceptions=False)
    assert "Traceback" not in result.output
    return result


def ok(url: str | None, *args, **kwargs) -> Result:
    result = cli(url, *args, **kwargs)
    assert result.exit_code == 0, result.output
    return result


def error(url: str | None, *args, **kwargs) -> str:
    """Run a command that must fail; returns its one error line."""
    result = cli(url, *args, **kwargs)
    assert result.exit_code != 0, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


def orders_json(url: str, name: str, *args) -> list[dict]:
    return json.loads(ok(url, "orders", name, "--format", "json", "--limit", 1000, *args).stdout)


def stores_json(url: str) -> dict[str, dict]:
    return {s["name"]: s for s in json.loads(ok(url, "store", "list", "--format", "json").stdout)}


def add_store(url: str, amazon, name: str = "acme-us", *extra) -> None:
    """Add one of the demo scenario's stores, pointed at this emulator."""
    suggested = next(s for s in amazon.stores if s.name == name)
    ok(
        url,
        "store",
        "add",
        name,
        "--marketplace",
        suggested.marketplace_id,
        "--endpoint",
        amazon.base_url,
        "--token-url",
        amazon.token_url,
        "--integrated-at",
        suggested.integrated_at,
        "--api-lag",
        0,
        *extra,
    )


@pytest.fixture
def amazon(emulator_factory):
    """The demo scenario's Amazon: acme-us has orders in every status, one buyer named
    `<script>...`, and orders placed before the store's integration."""
    return emulator_factory(scenario="demo")


@pytest.fixture
def synced(sqlite_url, amazon) -> str:
    """An order book with acme-us synced from the demo Amazon; links to the shop's admin."""
    add_store(sqlite_url, amazon, "acme-us", "--local-order-url", SHOP_TEMPLATE)
    ok(sqlite_url, "sync", "acme-us")
    return sqlite_url


# -- help, version, entry points -----------------------------------------------------------------


def _commands(group, path=()):
    for name, command in group.commands.items():
        yield (*path, name), command
        if hasattr(command, "commands"):
            yield from _commands(command, (*path, name))


def test_every_command_has_help_with_an_example():
    paths = {" ".join(path) for path, _ in _commands(main)}
    contract = {"store add", "store list", "store remove", "settings", "sync", "orders", "show"}
    assert contract | {"import-order", "emulator", "demo"} <= paths
    for path in [(), *(path for path, _ in _commands(main))]:
        result = ok(None, *path, "--help")
        assert "Example" in result.stdout, f"`ordertools {' '.join(path)} --help` has no example"


def test_version():
    assert ok(None, "--version").stdout.strip() == f"ordertools, version {__version__}"


def test_installed_entry_points_run(tmp_path):
    """`ordertools` and `python -m ordertools` both work, as outside checks call them."""
    for argv in ([str(ORDERTOOLS)], [sys.executable, "-m", "ordertools"]):
        done = subprocess.run(
            [*argv, "--version"], capture_output=True, text=True, timeout=30, check=False
        )
        assert done.returncode == 0, done.stderr
        assert __version__ in done.stdout
    url = f"sqlite:///{tmp_path / 'book.db'}"
    done = subprocess.run(
        [str(ORDERTOOLS), "show", "nowhere", "1"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={"PATH": "/usr/bin:/bin", "ORDERTOOLS_DB": url},
    )
    assert done.returncode != 0
    assert done.stderr.splitlines() == [done.stderr.strip()]
    assert done.stderr.startswith("Error: no store named 'nowhere'")
    assert "Traceback" not in done.stdout + done.stderr


# -- stores and settings -------------------------------------------------------------------------


def test_store_add_and_list(db_url):
    assert "No stores yet" in ok(db_url, "store", "list").stdout
    added = ok(
        db_url,
        "store",
        "add",
        "acme-de",
        "--marketplace",
        "A1PA6795UKMFR9",
        "--region",
        "eu",
        "--endpoint",
        "http://127.0.0.1:8765/",
        "--token-url",
        "http://127.0.0.1:8765/auth/o2/token",
        "--integrated-at",
        "2026-11-01T00:00:00+01:00",
        "--api-lag",
        300,
        "--refresh-token-env",
        "ACME_DE_REFRESH_TOKEN",
    )
    assert "Store acme-de added" in added.stdout
    ok(db_url, "store", "add", "acme-us", "--marketplace", "ATVPDKIKX0DER")
    listed = stores_json(db_url)
    assert list(listed) == ["acme-de", "acme-us"]
    de = listed["acme-de"]
    assert de["marketplace_id"] == "A1PA6795UKMFR9" and de["region"] == "eu"
    assert de["endpoint"] == "http://127.0.0.1:8765"
    assert de["token_url"] == "http://127.0.0.1:8765/auth/o2/token"
    assert datetime.fromisoformat(de["integrated_at"]) == datetime.fromisoformat(
        "2026-10-31T23:00:00+00:00"
    )
    assert de["api_lag_seconds"] == 300
    assert de["refresh_token_env"] == "ACME_DE_REFRESH_TOKEN"
    assert de["import_enabled"] is True and de["cursor"] is None
    us = listed["acme-us"]
    assert us["region"] == "na" and us["endpoint"] == "https://sellingpartnerapi-na.amazon.com"
    assert us["api_lag_seconds"] == 120
    table = ok(db_url, "store", "list").stdout
    assert "acme-de" in table and "acme-us" in table
    assert re.search(
        r"^acme-de +Amazon\.de \(A1PA6795UKMFR9\) +Enabled +not synced yet$", table, re.M
    )
    assert "Store acme-us removed" in ok(db_url, "store", "remove", "acme-us", "--yes").stdout
    assert list(stores_json(db_url)) == ["acme-de"]


US = "--marketplace ATVPDKIKX0DER"


@pytest.mark.parametrize(
    "args, says",
    [
        ("store add new --marketplace XXNOTAMARKET", "marketplace 'XXNOTAMARKET'"),
        (f"store add new {US} --integrated-at 'May 1'", "not an ISO 8601 time"),
        (f"store add new {US} --integrated-at 2026-11-01", "needs a time zone"),
        (f"store add acme {US}", "exists already"),
        (f"store add new {US} --region mars", "--region"),
        (f"store add new {US} --endpoint nope", "is not a URL"),
        (f"store add new {US} --api-lag -5", "--api-lag"),
        (f"store add 'bad name!' {US}", "not usable"),
        ("store add new", "--marketplace"),
        ("store remove ghost --yes", "no store named 'ghost'"),
        ("settings ghost --import disabled", "no store named 'ghost'"),
        ("settings acme --import maybe", "--import"),
        ("settings acme --order-status 'Awaiting Payment'", "not usable"),
    ],
)
def test_store_errors_are_one_line_and_change_nothing(sqlite_url, args, says):
    ok(sqlite_url, "store", "add", "acme", *US.split())
    before = stores_json(sqlite_url)
    assert says in error(sqlite_url, *shlex.split(args))
    assert stores_json(sqlite_url) == before


def test_refresh_token_env_refuses_a_token_without_echoing_it(sqlite_url):
    # Shaped like a refresh token, assembled here so no token-like string is committed.
    token = "Atzr|" + "IwEBI" + "L0ng" * 5
    line = error(
        sqlite_url, "store", "add", "acme", "--marketplace", "ATVPDKIKX0DER",
        "--refresh-token-env", token,
    )  # fmt: skip
    assert "never the token itself" in line
    assert "IwEBI" not in line and "Atzr" not in line
    assert stores_json(sqlite_url) == {}


def test_settings_change_the_database(db_url):
    ok(db_url, "store", "add", "acme", "--marketplace", "ATVPDKIKX0DER")
    shown = ok(db_url, "settings", "acme").stdout
    assert re.search(r"^  Import Amazon Orders: +Enabled$", shown, re.M)
    ok(
        db_url,
        "settings",
        "acme",
        "--import",
        "disabled",
        "--customer-creation",
        "create",
        "--order-number-source",
        "amazon",
        "--reserve-quantity",
        "no",
        "--order-status",
        "awaiting_review",
    )
    acme = stores_json(db_url)["acme"]
    assert acme["import_enabled"] is False
    assert acme["customer_creation"] == "create"
    assert acme["order_number_source"] == "amazon"
    assert acme["reserve_quantity"] is False
    assert acme["new_order_status"] == "awaiting_review"
    said = ok(db_url, "settings", "acme", "--import", "enabled", "--reserve-quantity", "yes")
    assert "Reserve Quantity applies to new orders only" in said.stdout
    assert "new orders only" not in ok(db_url, "settings", "acme", "--import", "enabled").stdout
    acme = stores_json(db_url)["acme"]
    assert acme["import_enabled"] is True and acme["reserve_quantity"] is True
    assert acme["customer_creation"] == "create"  # untouched settings stay


def test_order_book_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("ORDERTOOLS_DB", f"sqlite:///{tmp_path / 'env.db'}")
    ok(None, "store", "add", "acme", "--marketplace", "ATVPDKIKX0DER")
    assert (tmp_path / "env.db").exists()
    assert "acme" in ok(None, "store", "list").stdout


# -- an order book that cannot be opened, or only read -------------------------------------------


def config_error(url: str | None, *args, **kwargs) -> str:
    """Run a command that must fail as a configuration error (exit 2); returns its line."""
    result = cli(url, *args, **kwargs)
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


CANNOT_OPEN = (
    "is not a database URL this machine can open: use sqlite:///PATH or postgresql://USER@HOST/DB"
)


@pytest.mark.parametrize(
    "url, shown",
    [
        ("garbage://:::", "'garbage://...'"),  # unparsable: no more than the scheme
        ("postgresql://bob:s3cret@db.example:port/orders", "'postgresql://...'"),
        ("nosuchdb://x", "'nosuchdb://x'"),  # no such backend
        ("mysql://bob:s3cret@db.example/orders", "'mysql://bob:***@db.example/orders'"),
        ("sqlite+nosuchdriver:///orders.db", "'sqlite+nosuchdriver:///orders.db'"),
        ("s3cret", "(a value with no scheme://)"),
    ],
)
def test_a_url_this_machine_cannot_open_is_one_line(url, shown):
    for how in ({"env": {"ORDERTOOLS_DB": url}}, {}):  # ORDERTOOLS_DB, then --db
        line = config_error(None if how else url, "store", "list", **how)
        assert line == f"Error: ORDERTOOLS_DB (or --db) {shown} {CANNOT_OPEN}"
        assert "s3cret" not in line


def test_an_order_book_in_a_missing_folder_names_the_folder(tmp_path):
    folder = tmp_path / "no" / "such"
    line = config_error(f"sqlite:///{folder / 'orders.db'}", "store", "list")
    assert line == (
        f"Error: the order book's folder {folder} does not exist: create it, or point "
        "ORDERTOOLS_DB elsewhere"
    )
    assert not (tmp_path / "no").exists()  # nothing created where the user did not ask


def test_the_default_order_book_folder_is_created(tmp_path, monkeypatch):
    data = tmp_path / "home" / ".local" / "share"
    monkeypatch.setattr("platformdirs.user_data_dir", lambda app: str(data / app))
    ok(None, "store", "add", "acme", "--marketplace", "ATVPDKIKX0DER")
    assert (data / "ordertools" / "ordertools.db").is_file()
    assert "acme" in ok(None, "store", "list").stdout  # the folder already there is fine too

    blocked = tmp_path / "a-file"
    blocked.write_text("")
    monkeypatch.setattr("platformdirs.user_data_dir", lambda app: str(blocked / app))
    line = config_error(None, "store", "list")
    assert line.startswith(f"Error: cannot create the order book's folder {blocked / 'ordertools'}")
    assert line.endswith(": create it, or point ORDERTOOLS_DB elsewhere")


def _read_only_line(url: str) -> str:
    return (
        f"Error: the order book {url} is read-only and this command changes it: make its file "
        "and folder writable for this user, or point ORDERTOOLS_DB elsewhere"
    )


def test_a_read_only_order_book_reads_and_refuses_writes_in_one_line(synced, amazon):
    # SQLite's own read-only open: refused writes are SQLITE_READONLY, as for a file the user
    # may not write (which root, running these tests, always may; see the test below).
    path = synced.removeprefix("sqlite:///")
    read_only = f"sqlite:///file:{path}?mode=ro&uri=true"
    before = orders_json(synced, "acme-us", *EVERY_STATUS)
    assert before and orders_json(read_only, "acme-us", *EVERY_STATUS) == before
    assert "acme-us" in ok(read_only, "store", "list").stdout

    shown = "sqlite:///file%3A" + path + "?mode=ro&uri=true"  # as SQLAlchemy renders it
    local = next(r["local_order_number"] for r in before if r["local_order_number"])
    for command in (
        ["store", "add", "b", "--marketplace", "ATVPDKIKX0DER"],
        ["settings", "acme-us", "--import", "disabled"],
        ["comment", local, "a note", "--store", "acme-us"],
    ):
        assert config_error(read_only, *command) == _read_only_line(shown)
    assert orders_json(synced, "acme-us", *EVERY_STATUS) == before
    assert list(stores_json(synced)) == ["acme-us"]


def _as_unprivileged_user() -> list[str]:
    """The prefix that runs a command as a user file permissions apply to (root ignores them)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: no user that file permissions bind")
    import pwd

    nobody = pwd.getpwnam("nobody")
    prefix = [setpriv, f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups"]
    probe = subprocess.run(
        [*prefix, str(ORDERTOOLS), "--version"], capture_output=True, check=False
    )
    if probe.returncode != 0:
        pytest.skip(f"user nobody cannot run {ORDERTOOLS}")
    return prefix


def test_a_book_whose_file_and_folder_are_not_writable_reads_and_refuses_writes():
    """The real thing: a 0444 file in a 0555 folder, opened by a user those bits apply to."""
    prefix = _as_unprivileged_user()
    # Not pytest's tmp_path: its parent is private to root, and nobody must reach the book.
    top = Path(tempfile.mkdtemp(prefix="ordertools-read-only-"))
    folder, book = top / "books", top / "books" / "orders.db"
    try:
        top.chmod(0o755)
        folder.mkdir()
        url = f"sqlite:///{book}"
        ok(url, "store", "add", "acme", "--marketplace", "ATVPDKIKX0DER",
           "--integrated-at", "2026-01-01T00:00:00Z")  # fmt: skip
        book.chmod(0o444)
        folder.chmod(0o555)
        stored = hashlib.sha256(book.read_bytes()).hexdigest()

        def run(*args: str) -> subprocess.CompletedProcess:
            done = subprocess.run(
                [*prefix, str(ORDERTOOLS), *args],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
                env={"PATH": "/usr/bin:/bin", "HOME": str(top), "ORDERTOOLS_DB": url},
            )
            assert "Traceback" not in done.stdout + done.stderr
            return done

        listed = run("store", "list")
        assert listed.returncode == 0 and "acme" in listed.stdout, listed.stderr
        assert run("orders", "acme").returncode == 0
        for command in (["store", "add", "b", "--marketplace", "ATVPDKIKX0DER"], ["sync", "acme"]):
            refused = run(*command)
            assert refused.returncode == 2
            assert refused.stderr == _read_only_line(url) + "\n"
        # A file the command writes elsewhere is not the order book's problem.
        export = run("orders", "acme", "--format", "csv", "--output", str(folder / "x.csv"))
        assert export.returncode != 0 and "is read-only and" not in export.stderr
        # Nothing changed, and no -wal/-shm left behind to trouble the owner's next write.
        assert hashlib.sha256(book.read_bytes()).hexdigest() == stored
        assert [p.name for p in folder.iterdir()] == ["orders.db"]
    finally:
        folder.chmod(0o755)
        shutil.rmtree(top)


def test_a_read_only_postgresql_order_book_reads_and_refuses_writes(pg_url):
    ok(pg_url, "store", "add", "acme", "--marketplace", "ATVPDKIKX0DER")
    # A server that takes no writes (a standby, or this setting): SQLSTATE 25006 on a write.
    read_only = pg_url + "?options=-c%20default_transaction_read_only%3Don"
    assert "acme" in ok(read_only, "store", "list").stdout
    line = config_error(read_only, "store", "add", "b", "--marketplace", "ATVPDKIKX0DER")
    assert line.startswith("Error: the order book postgresql+psycopg://")
    assert line.endswith(
        "is read-only and this command changes it: connect to the primary server as a user "
        "that may write"
    )
    assert list(stores_json(pg_url)) == ["acme"]


# -- sync and orders -----------------------------------------------------------------------------


def test_sync_and_recent_orders_json(db_url, amazon):
    """The `orders --format json` contract on both backends."""
    add_store(db_url, amazon)
    result = ok(db_url, "sync", "acme-us")
    assert "Store acme-us: sync success" in result.stdout
    rows = orders_json(db_url, "acme-us")
    assert len(rows) >= 8
    dates = []
    for row in rows:
        assert CONTRACT_KEYS <= set(row)
        assert AMAZON_ORDER_ID.match(row["order_number"])
        assert row["status"] in STATUS_WORDS and not row["status"].startswith("Pending")
        moment = datetime.fromisoformat(row["purchase_date"])
        assert moment.tzinfo is not None
        dates.append(moment)
        assert re.fullmatch(r"\d+\.\d{2}", row["grand_total"])
        assert row["currency"] == "USD"
        if row["local_order_number"] is None:
            assert row["link"] == US_ORDER_LINK + row["order_number"]
            assert row["local_order_status"] is None
        else:
            assert row["local_order_status"]
            # The toolkit's own order page (no --local-order-url was given).
            assert row["link"].startswith("http://localhost:8866/")
            assert row["order_number"] in row["link"]
    assert dates == sorted(dates, reverse=True), "Recent Orders are newest first"
    assert {r["status"] for r in rows} >= {"Unshipped", "Completed", "Canceled"}
    # The table shows the same orders, in the same order.
    table = ok(db_url, "orders", "acme-us", "--limit", 1000).stdout
    assert re.findall(r"\d{3}-\d{7}-\d{7}", table) == [r["order_number"] for r in rows]
    assert "Purchase Date" in table and "Buyer's Name" in table and "Grand Total" in table


def test_status_filter_words_codes_any_case_repeatable(synced):
    every = orders_json(synced, "acme-us", *EVERY_STATUS)
    recent = orders_json(synced, "acme-us")
    pending = [r for r in every if r["status"] == "Pending"]
    assert pending, "the demo has orders waiting for payment"
    # Pending (and Pending Availability) are hidden from Recent Orders unless asked for.
    assert [r for r in every if not r["status"].startswith("Pending")] == recent
    assert orders_json(synced, "acme-us", "--status", "pending") == pending
    assert orders_json(synced, "acme-us", "--status", "PENDING") == pending
    unshipped = [r for r in every if r["status"] == "Unshipped"]
    for spelling in ("Unshipped", "unshipped", "UNSHIPPED"):
        assert orders_json(synced, "acme-us", "--status", spelling) == unshipped
    both = orders_json(synced, "acme-us", "--status", "Pending", "--status", "unshipped")
    assert both == [r for r in every if r["status"] in ("Pending", "Unshipped")]
    completed = [r for r in every if r["status"] == "Completed"]
    assert completed and orders_json(synced, "acme-us", "--status", "completed") == completed
    canceled = [r for r in every if r["status"] == "Canceled"]
    assert canceled and orders_json(synced, "acme-us", "--status", "CANCELLED") == canceled
    assert "unknown status 'shipd'" in error(synced, "orders", "acme-us", "--status", "shipd")


def test_filters_really_narrow(synced):
    rows = orders_json(synced, "acme-us")
    day = lambda r: datetime.fromisoformat(r["purchase_date"]).date()  # noqa: E731
    total = lambda r: Decimal(r["grand_total"])  # noqa: E731
    middle = sorted({day(r) for r in rows})[len({day(r) for r in rows}) // 2]
    some = rows[len(rows) // 2]
    median = sorted(total(r) for r in rows)[len(rows) // 2]
    cases = [
        (["--from", middle.isoformat()], lambda r: day(r) >= middle),
        (["--to", middle.isoformat()], lambda r: day(r) <= middle),
        (["--from", middle.isoformat(), "--to", middle.isoformat()], lambda r: day(r) == middle),
        (["--buyer", "sMiTh"], lambda r: "smith" in (r["buyer_name"] or "").lower()),
        (["--order-number", some["order_number"][-7:]], lambda r: r is some),
        (["--min-total", str(median)], lambda r: total(r) >= median),
        (["--max-total", str(median)], lambda r: total(r) <= median),
    ]
    for args, keep in cases:
        expected = [r for r in rows if keep(r)]
        assert 0 < len(expected) < len(rows), args
        assert orders_json(synced, "acme-us", *args) == expected, args
    limited = json.loads(ok(synced, "orders", "acme-us", "--format", "json", "--limit", 3).stdout)
    assert limited == rows[:3]
    assert orders_json(synced, "acme-us", "--buyer", "nobody-buys-here") == []
    assert "No orders match." in ok(synced, "orders", "acme-us", "--buyer", "zzz").stdout


@pytest.mark.parametrize(
    "args, says",
    [
        (["--min-total", "lots"], "--min-total 'lots' is not a number"),
        (["--max-total", "NaN"], "--max-total 'NaN' is not a number"),
        (["--from", "yesterday"], "--from 'yesterday'"),
        (["--to", "2026-11-01T10:00:00"], "time zone"),
        (["--limit", "0"], "--limit"),
        (["--format", "pdf"], "--format"),
        (["--columns", "purchase_date,secret_sauce"], "unknown column secret_sauce"),
        (["--format", "xlsx"], "--output"),
        (["--output", "/no/such/folder/orders.txt"], "cannot write /no/such/folder/orders.txt"),
    ],
)
def test_orders_option_errors(sqlite_url, args, says):
    ok(sqlite_url, "store", "add", "acme", "--marketplace", "ATVPDKIKX0DER")
    assert says in error(sqlite_url, "orders", "acme", *args)


def test_unknown_store_is_one_line(sqlite_url):
    for args in (["orders", "ghost"], ["show", "ghost", "1"], ["sync", "ghost"]):
        assert "no store named 'ghost'" in error(sqlite_url, *args)


def test_exports_carry_the_rows_shown(synced, tmp_path):
    shown = orders_json(synced, "acme-us", "--limit", 6)
    numbers = [r["order_number"] for r in shown]

    result = ok(synced, "orders", "acme-us", "--limit", 6, "--format", "csv", "--output",
                tmp_path / "o.csv")  # fmt: skip
    assert "Wrote 6 orders" in result.stderr and result.stdout == ""
    with open(tmp_path / "o.csv", newline="", encoding="utf-8") as f:
        csv_rows = list(csv.DictReader(f))
    assert [r["Order Number"] for r in csv_rows] == numbers
    assert [r["Buyer's Name"] for r in csv_rows] == [r["buyer_name"] for r in shown]
    assert [r["Grand Total"] for r in csv_rows] == [r["grand_total"] for r in shown]
    assert csv_rows[0]["Purchase Date"] == shown[0]["purchase_date"]
    # Without --output the CSV goes to stdout.
    stdout_csv = ok(synced, "orders", "acme-us", "--limit", 6, "--format", "csv").stdout
    assert list(csv.DictReader(io.StringIO(stdout_csv))) == csv_rows

    ok(synced, "orders", "acme-us", "--limit", 6, "--format", "xlsx", "--output",
       tmp_path / "o.xlsx")  # fmt: skip
    sheet = openpyxl.load_workbook(tmp_path / "o.xlsx").active
    header, *body = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert header[:5] == ["Purchase Date", "Order Number", "Status", "Buyer's Name", "Grand Total"]
    assert [row[1] for row in body] == numbers
    assert [row[3] for row in body] == [r["buyer_name"] for r in shown]

    ok(synced, "orders", "acme-us", "--format", "json", "--output", tmp_path / "o.json")
    assert json.loads((tmp_path / "o.json").read_text(encoding="utf-8"))[:6] == shown


def test_html_escapes_buyer_names_and_links_only_https(synced, tmp_path):
    every = orders_json(synced, "acme-us", *EVERY_STATUS)
    assert any("<script>" in (r["buyer_name"] or "") for r in every)
    page = ok(synced, "orders", "acme-us", *EVERY_STATUS, "--limit", 1000, "--format", "html")
    html = page.stdout
    assert "<script" not in html.lower()
    assert "&lt;script&gt;" in html
    hrefs = re.findall(r'href="([^"]*)"', html)
    assert len(hrefs) == len(every)
    for href in hrefs:
        assert href.startswith(US_ORDER_LINK) or href.startswith("https://shop.example/admin/")
    assert any(h.startswith("https://shop.example/admin/orders/") for h in hrefs)
    ok(synced, "orders", "acme-us", *EVERY_STATUS, "--format", "html", "--output",
       tmp_path / "o.html")  # fmt: skip
    assert "<script" not in (tmp_path / "o.html").read_text(encoding="utf-8").lower()


# -- show and import-order -----------------------------------------------------------------------


def test_show_any_order_with_history(sqlite_url, amazon):
    # Placed before the integration, changed since: received by the sync, never listed.
    early = amazon.world.add_order(
        created="-30d", status="UNSHIPPED", buyer_name="Early Bird", marketplace_id="ATVPDKIKX0DER"
    )
    amazon.world.set_status(early, "CANCELLED", at="-1m")
    add_store(sqlite_url, amazon)
    ok(sqlite_url, "sync", "acme-us")
    every = orders_json(sqlite_url, "acme-us", *EVERY_STATUS)
    assert early not in {r["order_number"] for r in every}

    detail = json.loads(ok(sqlite_url, "show", "acme-us", early, "--format", "json").stdout)
    assert CONTRACT_KEYS | {"history"} <= set(detail)
    assert detail["order_number"] == early and detail["status"] == "Canceled"
    assert detail["placed_before_integration"] is True
    assert detail["local_order_number"] is None and detail["notes"]
    assert detail["history"] and detail["history"][-1]["status"] == "CANCELLED"

    pending = next(r for r in every if r["status"] == "Pending")
    detail = json.loads(
        ok(sqlite_url, "show", "acme-us", pending["order_number"], "--format", "json").stdout
    )
    assert {k: detail[k] for k in CONTRACT_KEYS} == {k: pending[k] for k in CONTRACT_KEYS}
    assert [h["status_word"] for h in detail["history"]] == ["Pending"]

    local = next(r for r in every if r["local_order_number"])
    table = ok(sqlite_url, "show", "acme-us", local["order_number"]).stdout
    assert local["order_number"] in table and local["local_order_number"] in table
    assert "history" in table and local["link"] in table
    by_local = json.loads(
        ok(sqlite_url, "show", "acme-us", local["local_order_number"], "--format", "json").stdout
    )
    assert by_local["order_number"] == local["order_number"]

    line = error(sqlite_url, "show", "acme-us", "999-0000000-0000000")
    assert "never received order 999-0000000-0000000" in line


def test_import_order_while_import_disabled(sqlite_url, amazon):
    add_store(sqlite_url, amazon)
    ok(sqlite_url, "settings", "acme-us", "--import", "disabled")
    ok(sqlite_url, "sync", "acme-us")
    every = orders_json(sqlite_url, "acme-us", *EVERY_STATUS)
    assert every and all(r["local_order_number"] is None for r in every)
    assert all(r["link"] == US_ORDER_LINK + r["order_number"] for r in every)

    unshipped = next(r for r in every if r["status"] == "Unshipped")
    said = ok(sqlite_url, "import-order", "acme-us", unshipped["order_number"]).stdout
    number = re.search(r"imported as local order (\S+)\.", said).group(1)
    after = {r["order_number"]: r for r in orders_json(sqlite_url, "acme-us")}
    assert after[unshipped["order_number"]]["local_order_number"] == number
    assert after[unshipped["order_number"]]["local_order_status"] == "pending"

    pending = next(r for r in every if r["status"] == "Pending")
    assert "not imported" in error(sqlite_url, "import-order", "acme-us", pending["order_number"])
    assert "never received" in error(sqlite_url, "import-order", "acme-us", "999-0000000-0000000")
    again = error(sqlite_url, "import-order", "acme-us", unshipped["order_number"])
    assert unshipped["order_number"] in again


# -- sync failures and secrets -------------------------------------------------------------------


def test_sync_usage_errors(sqlite_url):
    assert "--all" in error(sqlite_url, "sync")
    ok(sqlite_url, "store", "add", "acme", "--marketplace", "ATVPDKIKX0DER")
    assert "--all" in error(sqlite_url, "sync", "acme", "--all")


def test_sync_without_credentials_names_the_variables(sqlite_url):
    ok(sqlite_url, "store", "add", "acme", "--marketplace", "ATVPDKIKX0DER",
       "--integrated-at", "2026-01-01T00:00:00Z")  # fmt: skip
    line = error(sqlite_url, "sync", "acme")
    assert "ORDERTOOLS_LWA_CLIENT_ID" in line and "ORDERTOOLS_REFRESH_TOKEN" in line
    assert stores_json(sqlite_url)["acme"]["cursor"] is None


@pytest.fixture
def fast_retries(monkeypatch):
    """A dead Amazon is given up on in milliseconds instead of Amazon's seconds of backoff."""
    made = connect.amazon_client
    monkeypatch.setattr(
        connect, "amazon_client", lambda store, **o: made(store, **{"retry": FAST_RETRIES, **o})
    )


def test_failed_sync_keeps_what_was_stored(synced, amazon, emulator_factory, fast_retries):
    before = orders_json(synced, "acme-us", *EVERY_STATUS)
    cursor = stores_json(synced)["acme-us"]["cursor"]
    amazon.stop()  # the port is closed now
    line = error(synced, "sync", "acme-us")
    assert "could not reach 127.0.0.1" in line and "is `ordertools emulator` running?" in line
    assert orders_json(synced, "acme-us", *EVERY_STATUS) == before
    assert stores_json(synced)["acme-us"]["cursor"] == cursor

    # --all syncs the stores it can, reports each, and still fails with one line.
    other = emulator_factory()
    ok(synced, "store", "add", "other", "--marketplace", "ATVPDKIKX0DER", "--endpoint",
       other.base_url, "--token-url", other.token_url, "--integrated-at", "2026-01-01T00:00:00Z",
       "--api-lag", 0)  # fmt: skip
    result = cli(synced, "sync", "--all")
    assert result.exit_code != 0
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("Error: 1 of 2 stores")
    assert "Store acme-us: sync failed" in result.stdout
    assert "Store other: sync success" in result.stdout
    assert orders_json(synced, "acme-us", *EVERY_STATUS) == before


@pytest.mark.parametrize(
    "base, advice",
    [
        ("http://127.0.0.1:8765", "is `ordertools emulator` running?"),
        ("http://localhost:8765", "is `ordertools emulator` running?"),
        ("http://[::1]:8765", "is `ordertools emulator` running?"),
        ("https://sellingpartnerapi-na.amazon.com", "check the network, or try again later"),
    ],
)
def test_an_unreachable_endpoint_says_what_to_check(
    sqlite_url, monkeypatch, fast_retries, base, advice
):
    monkeypatch.setenv("ORDERTOOLS_LWA_CLIENT_ID", "app-id")
    monkeypatch.setenv("ORDERTOOLS_LWA_CLIENT_SECRET", "app-secret")
    monkeypatch.setenv("ORDERTOOLS_REFRESH_TOKEN", "Atzr|refresh")
    ok(sqlite_url, "store", "add", "acme", "--marketplace", "ATVPDKIKX0DER", "--endpoint",
       base, "--token-url", f"{base}/auth/o2/token",
       "--integrated-at", "2026-01-01T00:00:00Z")  # fmt: skip

    def unreachable(*args, **kwargs):
        raise requests.ConnectionError("[Errno 111] Connection refused")

    monkeypatch.setattr(requests.Session, "request", unreachable)
    line = error(sqlite_url, "sync", "acme")
    host = base.split("://", 1)[1]
    assert line.startswith(f"Error: could not reach {host} for ")
    assert f"(connection failed or was reset): {advice}" in line


def test_no_output_ever_shows_a_secret(sqlite_url, emulator_factory, monkeypatch):
    secret, refresh = "cl1ent-S3CRET-value-9f8e7d", "Atzr|IwEBI-refresh-R3FRESH-4c3b2a"
    amazon = emulator_factory(
        scenario="demo", client_id="app-id", client_secret=secret, refresh_token=refresh
    )
    monkeypatch.setenv("ORDERTOOLS_LWA_CLIENT_ID", "app-id")
    monkeypatch.setenv("ORDERTOOLS_LWA_CLIENT_SECRET", secret)
    monkeypatch.setenv("ACME_TOKEN", "Atzr|IwEBI-wrong-W0RONG-token")
    add_store(sqlite_url, amazon, "acme-us", "--refresh-token-env", "ACME_TOKEN")
    outputs = []

    line = error(sqlite_url, "sync", "acme-us")
    assert "invalid_grant" in line and "ACME_TOKEN" in line
    outputs.append(line)

    monkeypatch.setenv("ORDERTOOLS_LWA_CLIENT_SECRET", "wrong-" + secret)
    outputs.append(error(sqlite_url, "sync", "acme-us"))
    assert "invalid_client" in outputs[-1]

    monkeypatch.setenv("ORDERTOOLS_LWA_CLIENT_SECRET", secret)
    monkeypatch.setenv("ACME_TOKEN", refresh)
    every = orders_json(sqlite_url, "acme-us", *EVERY_STATUS)
    assert every == []
    for args in (
        ["sync", "acme-us"],
        ["store", "list", "--format", "json"],
        ["settings", "acme-us"],
        ["orders", "acme-us", *EVERY_STATUS, "--format", "json"],
        ["orders", "acme-us", "--format", "html"],
    ):
        result = ok(sqlite_url, *args)
        outputs.append(result.output)
    some = json.loads(outputs[-2])[0]["order_number"]
    outputs.append(ok(sqlite_url, "show", "acme-us", some, "--format", "json").output)
    access_tokens = list(amazon.auth._expiry)
    assert access_tokens, "the successful sync logged in"
    text = "\n".join(outputs)
    for value in (secret, refresh, "W0RONG", "IwEBI", *access_tokens):
        assert value not in text


def test_unexpected_errors_are_one_line_unless_debugging(sqlite_url, monkeypatch):
    import ordertools.queries.orders

    ok(sqlite_url, "store", "add", "acme", "--marketplace", "ATVPDKIKX0DER")

    def broken(*args, **kwargs):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(ordertools.queries.orders, "query_orders", broken)
    line = error(sqlite_url, "orders", "acme")
    assert "unexpected RuntimeError: boom" in line and "ORDERTOOLS_DEBUG" in line
    monkeypatch.setenv("ORDERTOOLS_DEBUG", "1")
    with pytest.raises(RuntimeError):
        cli(sqlite_url, "orders", "acme")


# -- real processes: the emulator and the demo ---------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _run(*args, url: str, env: dict | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [str(ORDERTOOLS), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin", "ORDERTOOLS_DB": url, **(env or {})},
    )
    assert "Traceback" not in done.stdout + done.stderr
    return done


def test_emulator_command_serves_lwa_and_a_sync(tmp_path):
    port = _free_port()
    url = f"sqlite:///{tmp_path / 'book.db'}"
    server = subprocess.Popen(
        [str(ORDERTOOLS), "emulator", "--port", str(port), "--scenario", "demo"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        banner = server.stdout.readline()
        assert f"http://127.0.0.1:{port}" in banner
        base = f"http://127.0.0.1:{port}"
        answer = requests.post(
            f"{base}/auth/o2/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": "Atzr|demo-refresh-token",
                "client_id": "demo-client-id",
                "client_secret": "demo-client-secret",
            },
            timeout=10,
        )
        assert answer.status_code == 200 and answer.json()["access_token"]
        # A second emulator on the same port says so in one line.
        taken = _run("emulator", "--port", port, url=url)
        assert taken.returncode != 0 and taken.stderr.startswith("Error: cannot serve on")
        assert taken.stderr.count("\n") == 1
        # The whole flow as an outside check drives it, with the emulator's default delays.
        integrated = (datetime.now(UTC) - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
        added = _run("store", "add", "shop", "--marketplace", "ATVPDKIKX0DER", "--endpoint",
                     base, "--token-url", f"{base}/auth/o2/token",
                     "--integrated-at", integrated, url=url)  # fmt: skip
        assert added.returncode == 0, added.stderr
        synced = _run("sync", "shop", url=url)
        assert synced.returncode == 0, synced.stderr
        listed = _run("orders", "shop", "--format", "json", url=url)
        assert listed.returncode == 0 and CONTRACT_KEYS <= set(json.loads(listed.stdout)[0])
    finally:
        server.terminate()
        server.wait(timeout=10)
        server.stdout.close()


def test_demo_command(tmp_path):
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    started = time.monotonic()
    done = _run("demo", url=url)
    assert done.returncode == 0, done.stderr
    assert "Recent Orders of acme-us" in done.stdout
    assert "sync success" in done.stdout
    # Each store's totals as its marketplace reads them, as `orders` prints them.
    german = done.stdout.split("Recent Orders of acme-de")[1].split("Store ")[0]
    assert re.search(r"\d,\d\d\xa0€\n", german) and not re.search(r"€\d", german)
    assert time.monotonic() - started < 30
    assert (tmp_path / "demo.db").exists()


# -- show: stock ---------------------------------------------------------------------------------


def test_show_prints_what_each_item_holds_and_the_released_holds(shop, db_url):
    from fixtures_sync import MUG, TEA

    shop.add_product(MUG, 10)
    order = shop.world.add_order(
        status="PENDING",
        items=[
            {"sku": MUG, "title": "Mug", "quantity": 2, "price": "14.99"},
            {"sku": TEA, "title": "Tea", "quantity": 1, "price": "9.49"},
        ],
    )
    shop.later()
    shop.sync()
    table = ok(db_url, "show", shop.name, order).stdout
    stock = table.split("\n  Stock\n", 1)[1].split("\n  Status history\n", 1)[0].splitlines()
    assert stock == [
        f"    {MUG}  holds 2 (Held while Amazon verifies payment (Pending))",
        f"    {TEA}  nothing held: not in the catalog",
    ]
    detail = json.loads(ok(db_url, "show", shop.name, order, "--format", "json").stdout)
    assert CONTRACT_KEYS | {"history", "stock"} <= set(detail)
    assert [(h["sku"], h["quantity"], h["open"]) for h in detail["stock"]] == [(MUG, 2, True)]
    assert [(i["sku"], i["held"]) for i in detail["items"]] == [(MUG, 2), (TEA, 0)]

    shop.world.set_status(order, "UNSHIPPED")  # imported: the hold moves to its local order
    shop.later()
    shop.sync()
    shop.world.set_status(order, "CANCELLED")  # canceled: the hold is released
    shop.later()
    shop.sync()
    number = shop.local(order).number
    table = ok(db_url, "show", shop.name, number).stdout
    stock = table.split("\n  Stock\n", 1)[1].split("\n  Status history\n", 1)[0].splitlines()
    assert stock[:2] == [
        f"    {MUG}  nothing held: Local order {number} is canceled",
        f"    {TEA}  nothing held: Local order {number} is canceled",
    ]
    (released,) = stock[2:]
    instant = r"\d{4}-\d\d-\d\d \d\d:\d\d UTC"  # as `orders` shows dates
    assert re.fullmatch(
        rf"    released 2 x {MUG} at {instant}: Local order {number} is canceled "
        rf"\(held since {instant}: Held while Amazon verifies payment \(Pending\)\)",
        released,
    ), released
    detail = json.loads(ok(db_url, "show", shop.name, order, "--format", "json").stdout)
    (hold,) = detail["stock"]
    assert (hold["open"], hold["release_reason"]) == (False, f"Local order {number} is canceled")
    assert hold["released_at"] and hold["since"] <= hold["released_at"]
