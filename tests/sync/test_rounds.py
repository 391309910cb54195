"""`sync --all` as a round: every store once, several at once, busy stores left to their holder,
one store's failure never stopping the others; runners joining one round.

These run in this process against one emulated seller with many stores (each store its own
client); tests/sync/test_round_runners.py has the many sellers and the runner processes.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from click.testing import CliRunner
from fixtures_emulator import FAST_PLANS
from sqlalchemy import func, select

from ordertools.amazon import connect
from ordertools.amazon.client import FAST_RETRIES
from ordertools.amazon.emulator import Emulator, EmulatorConfig
from ordertools.cli import main
from ordertools.db import AmazonOrderRow, LocalOrder, Store, SyncRound, SyncRun
from ordertools.db import session as db_session
from ordertools.db.locks import store_lock
from ordertools.domain.stores import add_store
from ordertools.sync import SyncFailed, sync_all
from ordertools.sync.rounds import sync_round

MARKET = "ATVPDKIKX0DER"


@pytest.fixture
def fast_retries(monkeypatch):
    """A refusing Amazon is given up on in milliseconds instead of seconds of backoff."""
    made = connect.amazon_client
    monkeypatch.setattr(
        connect, "amazon_client", lambda store, **o: made(store, **{"retry": FAST_RETRIES, **o})
    )


@pytest.fixture
def stores(engine, emulator, emulator_clock, monkeypatch):
    """Twelve stores of the emulator's seller, integrated an hour ago, with the demo's
    credentials in the environment."""
    for name, value in emulator.credentials.items():
        monkeypatch.setenv(f"ORDERTOOLS_LWA_{name.upper()}", value)
    monkeypatch.setenv("ORDERTOOLS_REFRESH_TOKEN", emulator.credentials["refresh_token"])
    names = [f"shop-{i:02d}" for i in range(12)]
    with db_session(engine) as s:
        for name in names:
            add_store(
                s,
                name,
                marketplace_id=MARKET,
                endpoint=emulator.base_url,
                token_url=emulator.token_url,
                integrated_at=emulator_clock() - timedelta(hours=1),
                api_lag_seconds=0,
            )
    return names


def runs_in(engine, key: str) -> list[tuple[str, str, str]]:
    """(store, runner, outcome) of every run in the round named `key`."""
    with db_session(engine) as s:
        rows = s.execute(
            select(Store.name, SyncRun.runner, SyncRun.outcome)
            .join(SyncRun, SyncRun.store_id == Store.id)
            .join(SyncRound, SyncRound.id == SyncRun.round_id)
            .where(SyncRound.key == key)
            .order_by(Store.name)
        )
        return [tuple(row) for row in rows]


def finished(engine, key: str) -> bool:
    with db_session(engine) as s:
        return s.scalar(select(SyncRound.finished_at).where(SyncRound.key == key)) is not None


def test_a_round_syncs_every_store_once_and_a_second_runner_finds_it_done(engine, stores):
    first = sync_round(engine, jobs=4, round_key="r1", runner="runner-a", progress=False)
    assert sorted(r.store for r in first.reports) == stores
    assert all(r.outcome == "success" for r in first.reports)
    assert runs_in(engine, "r1") == [(name, "runner-a", "success") for name in stores]
    assert finished(engine, "r1")

    second = sync_round(engine, jobs=4, round_key="r1", runner="runner-b", progress=False)
    assert second.reports == []
    assert sorted(r.store for r in second.skipped) == stores
    assert "synced in this round already by runner-a" in second.skipped[0].error
    assert len(runs_in(engine, "r1")) == len(stores)  # nothing synced twice

    # A new round syncs them all again.
    third = sync_round(engine, jobs=4, round_key="r2", runner="runner-b", progress=False)
    assert len(third.reports) == len(stores)


def test_a_store_syncing_elsewhere_is_skipped_and_the_next_runner_finishes_the_round(
    engine, stores
):
    with db_session(engine) as s:
        busy = s.scalar(select(Store.id).where(Store.name == "shop-03"))
    with store_lock(engine, busy):  # a `sync shop-03` (or another runner) holds it
        the_round = sync_round(engine, jobs=3, runner="runner-a", progress=False)
    assert [r.store for r in the_round.skipped] == ["shop-03"]
    assert "already syncing" in the_round.skipped[0].error
    assert len(the_round.reports) == len(stores) - 1
    assert not finished(engine, the_round.key)  # one store has no run in it yet

    # A runner started now (no key) joins the unfinished round and syncs just that store.
    late = sync_round(engine, jobs=3, runner="runner-b", progress=False)
    assert late.key == the_round.key
    assert [r.store for r in late.reports] == ["shop-03"]
    assert finished(engine, the_round.key)
    assert sorted(store for store, *_ in runs_in(engine, the_round.key)) == stores


def test_one_failing_store_never_stops_the_others(engine, stores, monkeypatch, fast_retries):
    monkeypatch.setenv("REVOKED_TOKEN", "Atzr|revoked")
    with db_session(engine) as s:
        s.execute(
            Store.__table__.update()
            .where(Store.name == "shop-05")
            .values(refresh_token_env="REVOKED_TOKEN")
        )
    with pytest.raises(SyncFailed) as failed:
        sync_all(engine, jobs=4, progress=False)
    message = str(failed.value)
    assert message.startswith("1 of 12 stores failed to sync: shop-05: Amazon refused")
    outcomes = {r.store: r.outcome for r in failed.value.reports}
    assert outcomes.pop("shop-05") == "failed"
    assert set(outcomes.values()) == {"success"} and len(outcomes) == 11


def database_refuses(engine, table: str, condition: str) -> None:
    """The database refuses rows of `table` meeting `condition` (on NEW, the same SQL on both
    backends), as a full disk or a constraint would."""
    if engine.dialect.name == "sqlite":
        statements = [
            f"CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} WHEN {condition}"
            " BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
        ]
    else:
        statements = [
            f"CREATE FUNCTION refuse_{table}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            f" IF {condition} THEN RAISE EXCEPTION 'refused by the test'; END IF;"
            " RETURN NEW; END $$",
            f"CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table}"
            f" FOR EACH ROW EXECUTE FUNCTION refuse_{table}()",
        ]
    with engine.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)


def refuse_orders_of(engine, store: str) -> None:
    """Every Amazon order of `store` is refused: its pages fail where the round writes them,
    beside the other stores' work."""
    with db_session(engine) as s:
        store_id = s.scalar(select(Store.id).where(Store.name == store))
    database_refuses(engine, "amazon_orders", f"NEW.store_id = {store_id}")


def test_a_store_whose_page_the_database_refuses_fails_alone(engine, stores, emulator):
    for _ in range(3):
        emulator.world.add_order(created="-10m")
    refuse_orders_of(engine, "shop-04")
    with pytest.raises(SyncFailed) as failed:
        sync_all(engine, jobs=4, progress=False)
    assert str(failed.value).startswith("1 of 12 stores failed to sync: shop-04: ")
    assert "refused by the test" in str(failed.value)
    with db_session(engine) as s:
        stored = dict(
            s.execute(
                select(Store.name, func.count(AmazonOrderRow.id))
                .outerjoin(AmazonOrderRow, AmazonOrderRow.store_id == Store.id)
                .group_by(Store.name)
            ).all()
        )
        cursors = dict(s.execute(select(Store.name, Store.cursor)).all())
    assert stored.pop("shop-04") == 0
    assert set(stored.values()) == {3}  # the other eleven stores' pages were written
    assert cursors.pop("shop-04") is None  # its window is read again next time
    assert None not in cursors.values()
    assert [o for *_, o in runs_in_every_round(engine, "shop-04")] == ["failed"]


def test_an_import_the_database_refuses_in_a_round_costs_only_its_order(engine, stores, emulator):
    refused, *fine = [emulator.world.add_order(created="-10m") for _ in range(3)]
    database_refuses(engine, "local_orders", f"NEW.amazon_order_id = '{refused}'")
    the_round = sync_round(engine, jobs=4, progress=False)
    assert len(the_round.reports) == len(stores)
    for report in the_round.reports:  # the store synced; its one order failed, with the reason
        assert (report.outcome, report.new, report.imported, report.failed) == ("success", 3, 2, 1)
        assert report.failures == [(refused, report.failures[0][1])]
        assert "refused by the test" in report.failures[0][1]
    with db_session(engine) as s:
        rows = s.execute(select(AmazonOrderRow.amazon_order_id, AmazonOrderRow.note)).all()
        locals_ = s.scalar(select(func.count(LocalOrder.id)))
    assert len(rows) == 3 * len(stores)
    assert locals_ == 2 * len(stores)  # the other two orders of every store were imported
    for order_id, note in rows:
        if order_id == refused:
            assert "refused by the test" in note
        else:
            assert order_id in fine and "Imported" in note


def runs_in_every_round(engine, store: str) -> list[tuple[str, str]]:
    with db_session(engine) as s:
        rows = s.execute(
            select(SyncRun.runner, SyncRun.outcome)
            .join(Store, SyncRun.store_id == Store.id)
            .where(Store.name == store)
        )
        return [tuple(row) for row in rows]


def test_sync_all_on_the_command_line_names_the_failed_store(
    engine, db_url, stores, monkeypatch, fast_retries
):
    monkeypatch.setenv("REVOKED_TOKEN", "Atzr|revoked")
    monkeypatch.setenv("ORDERTOOLS_DB", db_url)
    with db_session(engine) as s:
        s.execute(
            Store.__table__.update()
            .where(Store.name == "shop-07")
            .values(refresh_token_env="REVOKED_TOKEN")
        )
    result = CliRunner().invoke(main, ["sync", "--all", "--jobs", "5", "--quiet"])
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("Error: 1 of 12 stores failed to sync: shop-07: ")
    assert "re-authorize the app and set REVOKED_TOKEN" in result.stderr
    # Twelve stores: more than the summaries shown in full, so a line per store that failed or
    # changed, and the round's totals.
    assert "Store shop-07: sync failed (Amazon refused the refresh token" in result.stdout
    assert "12 stores synced (1 failed), 0 skipped" in result.stdout
    assert "Store shop-01" not in result.stdout  # nothing new there: no line


def test_jobs_out_of_range_and_round_options_without_all_are_refused(engine, db_url, stores):
    runner = CliRunner()
    env = {"ORDERTOOLS_DB": db_url}
    zero = runner.invoke(main, ["sync", "--all", "--jobs", "0"], env=env)
    assert zero.exit_code == 2 and "--jobs" in zero.stderr
    alone = runner.invoke(main, ["sync", "shop-01", "--jobs", "4"], env=env)
    assert alone.exit_code == 2 and "go with --all" in alone.stderr


@pytest.fixture
def fifty_sellers(engine, emulator_clock, monkeypatch):
    """50 emulated sellers with 3 orders each, a store for each in the order book."""
    config = EmulatorConfig(
        plans=FAST_PLANS, visibility_delay=0.0, min_before_age=0.0, clock=emulator_clock
    )
    emu = Emulator(config=config, sellers=50, orders_per_seller=3).start()
    monkeypatch.setenv("ORDERTOOLS_LWA_CLIENT_ID", emu.config.client_id)
    monkeypatch.setenv("ORDERTOOLS_LWA_CLIENT_SECRET", emu.config.client_secret)
    with db_session(engine) as s:
        for seller in emu.sellers:
            variable = f"REFRESH_TOKEN_{seller.index:02d}"
            monkeypatch.setenv(variable, seller.refresh_token)
            add_store(
                s,
                seller.store.name,
                marketplace_id=seller.marketplace_id,
                endpoint=emu.base_url,
                token_url=emu.token_url,
                integrated_at=datetime.fromisoformat(seller.store.integrated_at),
                api_lag_seconds=0,
                refresh_token_env=variable,
            )
    yield emu
    emu.stop()


def test_fifty_sellers_one_refused_one_throttled_one_malformed_the_rest_complete(
    engine, db_url, fifty_sellers, monkeypatch, fast_retries
):
    emu = fifty_sellers
    refused, throttled, malformed = emu.sellers[7], emu.sellers[23], emu.sellers[41]
    refused.refuse()
    throttled.throttle()
    malformed.malform()
    troubled = {refused.store.name, throttled.store.name, malformed.store.name}

    monkeypatch.setenv("ORDERTOOLS_DB", db_url)
    result = CliRunner().invoke(main, ["sync", "--all", "--jobs", "8", "--quiet"])
    assert result.exit_code == 1
    error = result.stderr.strip()
    assert error.startswith("Error: 3 of 50 stores failed to sync: ") and "\n" not in error
    for name in troubled:
        assert f"{name}: " in error
    out = result.stdout
    assert f"Store {refused.store.name}: sync failed (Amazon refused the refresh token" in out
    assert f"Store {throttled.store.name}: sync failed (Amazon throttled searchOrders" in out
    assert "so the store waits for the next round" in out  # no minutes of retries
    assert f"Store {malformed.store.name}: sync failed (Amazon answered searchOrders" in out
    assert "50 stores synced (3 failed), 0 skipped" in out

    # The other 47 read their sellers' orders, and only theirs.
    with db_session(engine) as s:
        stored = dict(
            s.execute(
                select(Store.name, func.count(AmazonOrderRow.id))
                .outerjoin(AmazonOrderRow, AmazonOrderRow.store_id == Store.id)
                .group_by(Store.name)
            ).all()
        )
        outcomes = dict(s.execute(select(Store.name, SyncRun.outcome).join(SyncRun.store)).all())
    assert {name for name, n in stored.items() if n == 3} == set(stored) - troubled
    assert all(stored[name] == 0 for name in troubled)
    assert {name for name, outcome in outcomes.items() if outcome == "failed"} == troubled
    for seller in emu.sellers:
        if seller.store.name not in troubled:
            assert f"Store {seller.store.name}: sync success; 3 new" in out
