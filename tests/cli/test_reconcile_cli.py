"""`ordertools reconcile` as a user runs it: the JSON contract, exit codes, one-line errors."""

from __future__ import annotations

import json

import pytest
from test_cli import add_store, cli, ok

CONTRACT = {"missing", "stale", "repaired", "left", "orders"}


@pytest.fixture
def lossy(emulator_factory):
    """The demo Amazon with quick reports, whose searchOrders loses every update for now."""
    emu = emulator_factory(scenario="demo", report_delay=0.05, report_lag=0.0)
    emu.faults.lose_updates(1.0)
    return emu


def test_reconcile_finds_what_the_sync_missed_and_repairs_it(db_url, lossy):
    add_store(db_url, lossy)
    ok(db_url, "sync", "acme-us")  # Amazon's index "lost" everything: the book stays empty
    lossy.faults.lose_updates(0.0)

    result = cli(db_url, "reconcile", "acme-us", "--no-repair", "--format", "json")
    assert result.exit_code == 3
    found = json.loads(result.stdout)
    assert CONTRACT <= set(found)
    assert found["missing"] > 0 and found["repaired"] == 0
    assert all({"order_number", "difference"} <= set(o) for o in found["orders"])
    assert {o["difference"] for o in found["orders"]} == {"missing"}
    assert result.stderr.strip().splitlines() == [
        f"Error: {found['missing']} differences remain: run again without --no-repair"
    ]

    repaired = ok(db_url, "reconcile", "acme-us")
    assert f"repaired   {found['missing']} of {found['missing']}" in repaired.stdout
    orders = json.loads(ok(db_url, "orders", "acme-us", "--format", "json").stdout)
    assert orders and all(o["notes"].endswith("(found by reconciliation)") for o in orders)
    again = json.loads(ok(db_url, "reconcile", "acme-us", "--format", "json").stdout)
    assert (again["missing"], again["stale"], again["repaired"]) == (0, 0, 0)


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--days", "3", "--from", "2026-11-01"], "give --days, or --from [--to], not both"),
        (["--to", "2026-11-01"], "--to needs --from"),
        (["--from", "yesterday"], "--from"),
    ],
)
def test_reconcile_usage_errors_are_one_line(sqlite_url, lossy, args, said):
    add_store(sqlite_url, lossy)
    result = cli(sqlite_url, "reconcile", "acme-us", *args)
    assert result.exit_code == 2
    [line] = result.stderr.strip().splitlines()
    assert said in line


def test_a_failed_report_is_one_line_and_a_non_zero_exit(sqlite_url, lossy):
    add_store(sqlite_url, lossy)
    lossy.faults.fail_next_report("FATAL")
    result = cli(sqlite_url, "reconcile", "acme-us")
    assert result.exit_code != 0 and result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert "could not make report" in line and "request it again later" in line


@pytest.mark.parametrize("fault", ["lost-updates=2", "lost-updates=some", "dropped=0.1"])
def test_an_unknown_or_out_of_range_emulator_fault_is_one_line(fault):
    result = cli(None, "emulator", "--port", "0", "--fault", fault)
    assert result.exit_code == 2
    [line] = result.stderr.strip().splitlines()
    assert f"--fault {fault!r}" in line and "lost-updates=0.05" in line
