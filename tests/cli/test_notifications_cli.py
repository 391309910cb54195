"""`ordertools notifications setup|status|remove` and `ordertools listen`, as a user runs them,
against the emulator and moto's SQS server; and the demo's live notifications."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from fixtures_sqs import wait_for
from test_cli import add_store, cli, ok

from ordertools import db
from ordertools.db import LocalOrder, Store

ORDERTOOLS = Path(sys.executable).with_name("ordertools")


@pytest.fixture
def amazon(emulator_factory, sqs_env):
    return emulator_factory(scenario="demo", notification_delay=0.05)


def stores(url: str) -> dict[str, Store]:
    engine = db.connect(url)
    with db.session(engine) as s:
        found = {st.name: st for st in s.query(Store)}
    engine.dispose()
    return found


def test_setup_status_and_remove_for_two_stores_of_one_seller(sqlite_url, amazon, queue):
    add_store(sqlite_url, amazon, "acme-us")
    add_store(sqlite_url, amazon, "acme-de")
    first = ok(sqlite_url, "notifications", "setup", "acme-us", "--queue-arn", queue.arn).stdout
    assert f"go to {queue.arn} (created: destination, subscription)" in first
    assert "arn:aws:iam::437568002678:root" in first  # what the queue's policy must allow
    second = ok(sqlite_url, "notifications", "setup", "acme-de", "--queue-arn", queue.arn).stdout
    assert "subscription (for more marketplaces)" in second
    both = stores(sqlite_url)
    assert (
        both["acme-us"].notification_subscription_id == both["acme-de"].notification_subscription_id
    )
    again = ok(sqlite_url, "notifications", "setup", "acme-de", "--queue-arn", queue.arn).stdout
    assert "(reused)" in again

    status = ok(sqlite_url, "notifications", "status", "acme-us").stdout
    assert "at Amazon: subscribed, for ATVPDKIKX0DER, A1PA6795UKMFR9" in status
    assert "listener: set up; no message received yet" in status

    removed = ok(sqlite_url, "notifications", "remove", "acme-us").stdout
    assert "made for the seller's other stores" in removed
    after = stores(sqlite_url)
    assert after["acme-us"].notification_subscription_id is None
    kept = ok(sqlite_url, "notifications", "status", "acme-de").stdout
    assert "at Amazon: subscribed, for A1PA6795UKMFR9" in kept


def test_setup_refuses_a_malformed_arn_in_one_line(sqlite_url, amazon):
    add_store(sqlite_url, amazon, "acme-us")
    result = cli(sqlite_url, "notifications", "setup", "acme-us", "--queue-arn", "my-queue")
    assert result.exit_code == 2
    [line] = result.stderr.strip().splitlines()
    assert "my-queue" in line


def test_listen_without_a_queue_says_what_to_do(sqlite_url, amazon):
    add_store(sqlite_url, amazon, "acme-us")
    result = cli(sqlite_url, "listen", "acme-us")
    assert result.exit_code == 2
    assert "notifications setup" in result.stderr and "--queue-url" in result.stderr
    usage = cli(sqlite_url, "listen")
    assert usage.exit_code == 2 and "--all" in usage.stderr


def test_the_listen_command_imports_and_stops_on_sigterm(sqlite_url, amazon, queue):
    add_store(sqlite_url, amazon, "acme-us")
    ok(sqlite_url, "notifications", "setup", "acme-us", "--queue-arn", queue.arn)
    env = {**os.environ, "ORDERTOOLS_DB": sqlite_url, "PYTHONUNBUFFERED": "1"}
    listener = subprocess.Popen(
        [str(ORDERTOOLS), "listen", "acme-us"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        order = amazon.world.add_order(status="UNSHIPPED", marketplace_id="ATVPDKIKX0DER")
        engine = db.connect(sqlite_url)

        def imported() -> bool:
            with db.session(engine) as s:
                return s.query(LocalOrder).filter_by(amazon_order_id=order).count() == 1

        assert wait_for(imported, 30), listener.stderr.read() if listener.poll() else ""
        engine.dispose()
    finally:
        time.sleep(0.2)
        listener.send_signal(signal.SIGTERM)
        out, err = listener.communicate(timeout=40)
    assert listener.returncode == 143, err
    assert f"Listening on {queue.url} for acme-us." in out
    assert "1 imported" in out and "Traceback" not in err


def test_the_demo_imports_an_order_added_to_its_amazon_within_seconds(sqlite_url, sqs_server):
    from ordertools.amazon.emulator import Emulator, EmulatorConfig
    from ordertools.demo import live_notifications, prepare_stores

    engine = db.connect(sqlite_url)
    config = EmulatorConfig(visibility_delay=0.0, notification_delay=0.1)
    said = []
    with Emulator(scenario="demo", config=config) as emulator:
        names = prepare_stores(engine, emulator)
        with live_notifications(engine, emulator, names, echo=said.append):
            added = requests.post(
                f"{emulator.base_url}/_emulator/orders", json={"status": "UNSHIPPED"}, timeout=10
            ).json()["orderId"]

            def imported() -> bool:
                with db.session(engine) as s:
                    return s.query(LocalOrder).filter_by(amazon_order_id=added).count() == 1

            assert wait_for(imported, 30)  # no sync runs: only the notification can bring it
    assert any("_emulator/orders" in line for line in said)  # the demo says how to try it
    engine.dispose()
