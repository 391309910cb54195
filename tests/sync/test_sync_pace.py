"""A sync at Amazon's pace (the emulator's Amazon plans, sped up): the progress line says what
the sync is waiting for, Ctrl-C ends it inside the wait, and the next sync converges."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from datetime import timedelta

import pytest
from sqlalchemy import func
from sqlalchemy import select as sql_select

from ordertools import db
from ordertools.amazon.emulator import EmulatorConfig
from ordertools.amazon.ratelimit import TokenBucket
from ordertools.db import AmazonOrderRow, LocalOrder, NotebookRun, SyncRun
from ordertools.domain.stores import add_store
from ordertools.sync.run import sync_store

# Amazon's plans 20 times faster: 20 searchOrders pages at once, then one every 9 seconds.
TIME_SCALE = 20
ORDERS = 3_500  # over 20 pages of 100 in the window: more than the burst
WAITING = re.compile(r"waiting for Amazon's rate limit \(searchOrders\): next page in (\d+):(\d\d)")


def _read_until(fd: int, pattern: re.Pattern, timeout: float) -> tuple[re.Match | None, str]:
    seen, deadline = "", time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                seen += os.read(fd, 4096).decode(errors="replace")
            except OSError:  # the child closed its end
                break
            if match := pattern.search(seen):
                return match, seen
    return None, seen


@pytest.mark.parametrize(
    ("stop", "code", "said"),
    [
        (signal.SIGINT, 130, "interrupted; nothing half-done was kept"),  # Ctrl-C
        (signal.SIGTERM, 143, "terminated; nothing half-done was kept"),  # kill, systemd
    ],
)
def test_a_stop_in_a_rate_limit_wait_ends_the_sync_there_and_the_next_sync_converges(
    emulator_factory, sqlite_url, monkeypatch, stop, code, said
):
    paced = EmulatorConfig.paced("amazon", TIME_SCALE)
    emu = emulator_factory(
        plans=paced.plans,
        visibility_delay=paced.visibility_delay,
        min_before_age=paced.min_before_age,
    )
    emu.world.generate(ORDERS, days=3)
    engine = db.connect(sqlite_url)
    with db.session(engine) as s:
        add_store(
            s,
            "acme",
            marketplace_id="ATVPDKIKX0DER",
            endpoint=emu.base_url,
            token_url=emu.token_url,
            integrated_at=emu.clock() - timedelta(days=5),
        )
    for name in ("ORDERTOOLS_LWA_CLIENT_ID", "ORDERTOOLS_LWA_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)  # the emulator's demo credentials, then

    # The progress bar draws on a terminal: give the sync one, as a person running it has.
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))  # 160 columns
    sync = subprocess.Popen(
        [sys.executable, "-m", "ordertools", "--db", sqlite_url, "sync", "acme"],
        stdout=subprocess.PIPE,
        stderr=terminal,
        text=True,
    )
    os.close(terminal)
    try:
        waiting, seen = _read_until(controller, WAITING, timeout=120)
        assert waiting is not None, (
            f"no wait was shown; the terminal showed: {seen[-500:]!r}; "
            f"exit {sync.poll()}, stdout {sync.stdout.read() if sync.poll() is not None else ''}"
        )
        left = int(waiting.group(1)) * 60 + int(waiting.group(2))
        assert left > 2  # the shown wait is still running when Ctrl-C comes
        interrupted = time.monotonic()
        sync.send_signal(stop)
        _, err_tail = _read_until(controller, re.compile("nothing half-done"), timeout=left + 30)
        exit_code = sync.wait(timeout=left + 30)
        took = time.monotonic() - interrupted
    finally:
        sync.kill()
        os.close(controller)
    assert exit_code == code and said in err_tail, err_tail[-800:]
    assert took < left  # answered inside the wait, not after Amazon's next page
    with db.session(engine) as s:
        stored_before = s.scalar(sql_select(func.count()).select_from(AmazonOrderRow))
    assert stored_before > 0  # the pages written before Ctrl-C were kept

    # Amazon's limits lifted for the rest of the test: the next sync reads the window again.
    emu.app.buckets["searchOrders"] = TokenBucket(1000.0, 1000)
    report = sync_store(engine, "acme", progress=False)
    assert report.outcome == "success"
    with db.session(engine) as s:
        ids = s.scalars(sql_select(AmazonOrderRow.amazon_order_id)).all()
        locals_ = s.scalars(sql_select(LocalOrder.amazon_order_id)).all()
        runs = s.scalars(sql_select(SyncRun.outcome).order_by(SyncRun.id)).all()
    assert len(ids) == len(set(ids)) > stored_before  # every order once, the rest read now
    assert len(locals_) == len(set(locals_)) > 0
    assert runs == ["failed", "success"]  # the interrupted run is recorded as such
    assert sync_store(engine, "acme", progress=False).new == 0  # nothing was left behind
    engine.dispose()


def test_a_stopped_scheduled_run_interrupts_its_kernel_and_archives_the_notebook(
    emulator_factory, sqlite_url, monkeypatch, tmp_path
):
    """SIGTERM to `ordertools run sync` while the sync waits for Amazon: the kernel is passed
    the stop, the executed notebook is archived with it, the run is recorded, exit 143, and
    no traceback reaches the log."""
    paced = EmulatorConfig.paced("amazon", TIME_SCALE)
    emu = emulator_factory(
        plans=paced.plans,
        visibility_delay=paced.visibility_delay,
        min_before_age=paced.min_before_age,
    )
    emu.world.generate(ORDERS, days=3)
    engine = db.connect(sqlite_url)
    with db.session(engine) as s:
        add_store(
            s,
            "acme",
            marketplace_id="ATVPDKIKX0DER",
            endpoint=emu.base_url,
            token_url=emu.token_url,
            integrated_at=emu.clock() - timedelta(days=5),
        )
    for name in ("ORDERTOOLS_LWA_CLIENT_ID", "ORDERTOOLS_LWA_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    archive = tmp_path / "runs"
    run = subprocess.Popen(
        [sys.executable, "-m", "ordertools", "--db", sqlite_url, "run", "sync"]
        + ["-p", "store", "acme", "--archive", str(archive)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while emu.stats["searchOrders"]["requests"] <= 20 and time.monotonic() < deadline:
            time.sleep(0.2)  # the burst is spent: the sync now waits for the next token
        assert run.poll() is None, run.communicate()
        run.send_signal(signal.SIGTERM)
        _, stderr = run.communicate(timeout=90)
    finally:
        run.kill()
    assert run.returncode == 143, stderr
    assert "Traceback" not in stderr and "terminated (SIGTERM)" in stderr, stderr
    [archived] = archive.rglob("sync-*.ipynb")
    assert "KeyboardInterrupt" in archived.read_text()  # the kernel got the stop
    with db.session(engine) as s:
        [outcome] = s.scalars(sql_select(NotebookRun.outcome)).all()
        sync_outcomes = s.scalars(sql_select(SyncRun.outcome)).all()
    assert outcome == "failed" and sync_outcomes == ["failed"]  # the sync said so in the kernel
    engine.dispose()


def test_a_stop_while_a_request_is_in_flight_does_not_wait_for_its_answer(
    emulator_factory, sqlite_url, monkeypatch
):
    """Amazon takes 30 s to answer a page; Ctrl-C two seconds in ends the sync then, not when
    the answer (or the read timeout) comes."""
    emu = emulator_factory()
    emu.world.generate(300, days=3)
    engine = db.connect(sqlite_url)
    with db.session(engine) as s:
        add_store(
            s,
            "acme",
            marketplace_id="ATVPDKIKX0DER",
            endpoint=emu.base_url,
            token_url=emu.token_url,
            integrated_at=emu.clock() - timedelta(days=5),
            api_lag_seconds=0,
        )
    for name in ("ORDERTOOLS_LWA_CLIENT_ID", "ORDERTOOLS_LWA_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    slow = 30.0
    emu.faults.delay_next(1, seconds=slow, operation="searchOrders")
    sync = subprocess.Popen(
        [sys.executable, "-m", "ordertools", "--db", sqlite_url, "sync", "acme"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while emu.stats["searchOrders"]["requests"] < 1 and time.monotonic() < deadline:
            time.sleep(0.1)  # the first page is asked for, and held
        time.sleep(2)
        asked = time.monotonic()
        sync.send_signal(signal.SIGINT)
        _, stderr = sync.communicate(timeout=slow + 30)
        took = time.monotonic() - asked
    finally:
        sync.kill()
    assert sync.returncode == 130 and "interrupted" in stderr, stderr
    assert took < slow - 2  # the answer never came: the stop didn't wait for it
    engine.dispose()
