"""Notebook runs: `ordertools run` on papermill, the archive, the run record, secrets, retention,
schedules, and the sync notebook's reference outputs (nbval).

Kernel starts are slow on a busy machine, so the tests that execute a notebook are few and each
checks several things; everything else runs without a kernel.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
from datetime import timedelta
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from ordertools import db
from ordertools.cli import main
from ordertools.db import LocalOrder, NotebookRun, Store
from ordertools.db.locks import store_lock
from ordertools.domain.stores import add_store
from ordertools.runs.archive import Retention, prune_runs, recent_runs, run_history_html
from ordertools.runs.schedule import parse_every

REPO = Path(__file__).resolve().parents[2]
SYNC_NOTEBOOK = str(REPO / "notebooks" / "sync.ipynb")
# Credentials shaped like real ones, so a leak anywhere in an output file would be found.
CLIENT_SECRET = "amzn1.oa2-cs.v1.test-client-secret-4f2a9c"
REFRESH_TOKEN = "Atzr|test-refresh-token-7d1e3b"


@pytest.fixture
def amazon(emulator_factory, monkeypatch):
    """The emulator with its own credentials, which only the environment carries."""
    emu = emulator_factory(
        client_id="test-client", client_secret=CLIENT_SECRET, refresh_token=REFRESH_TOKEN
    )
    monkeypatch.setenv("ORDERTOOLS_LWA_CLIENT_ID", "test-client")
    monkeypatch.setenv("ORDERTOOLS_LWA_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("ORDERTOOLS_REFRESH_TOKEN", REFRESH_TOKEN)
    return emu


@pytest.fixture
def book(sqlite_url, amazon, emulator_clock):
    """An SQLite order book with store "acme" on the emulator, integrated a day ago."""
    engine = db.connect(sqlite_url)
    with db.session(engine) as s:
        add_store(
            s,
            "acme",
            marketplace_id="ATVPDKIKX0DER",
            endpoint=amazon.base_url,
            token_url=amazon.token_url,
            integrated_at=emulator_clock() - timedelta(days=1),
        )
    yield engine
    engine.dispose()


def cli(url: str, *args: str):
    return CliRunner().invoke(main, ["--db", url, *args])


def runs_in(engine) -> list[NotebookRun]:
    with db.session(engine) as s:
        return list(reversed(recent_runs(s, limit=100)))


def assert_no_secret(path: str, amazon) -> None:
    text = Path(path).read_text(encoding="utf-8")
    for secret in (CLIENT_SECRET, REFRESH_TOKEN, *amazon.auth._expiry):  # every access token
        assert secret not in text
    assert "Atza|" not in text and "Atzr|" not in text and "amzn1.oa2-cs" not in text


def test_outage_fails_the_run_and_the_next_run_catches_up(book, amazon, sqlite_url, tmp_path):
    url, archive = str(book.url), str(tmp_path / "archive")
    placed = [amazon.world.add_order(created=f"-{40 - i}m") for i in range(3)]
    amazon.stop()  # Amazon is down: the port is closed

    failed = cli(url, "run", SYNC_NOTEBOOK, "-p", "store", "acme", "--archive", archive)
    assert failed.exit_code == 1
    error = failed.stderr.strip()
    assert "\n" not in error and "Traceback" not in error
    assert error.startswith("Error: sync.ipynb failed at cell") and "ServerFailure" in error
    [run] = runs_in(book)
    assert run.outcome == "failed" and run.output_path in error and run.error in error
    banner = nbformat.read(run.output_path, as_version=4)
    assert banner.metadata.papermill.exception
    assert any(
        "papermill-error-cell" in c.source for c in banner.cells if c.cell_type == "markdown"
    )

    amazon.start()  # back on the same port, with the same orders
    done = cli(url, "run", SYNC_NOTEBOOK, "-p", "store", "acme", "--archive", archive)
    assert done.exit_code == 0, done.output
    first, second = runs_in(book)
    assert second.outcome == "success" and second.error is None
    assert second.parameters == {"store": "acme"} and second.store == "acme"
    assert second.finished_at > second.started_at
    relative = Path(second.output_path).relative_to(archive).as_posix()
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/sync-\d{8}T\d{6}\.\d{3}Z-acme\.ipynb", relative)
    assert second.output_path in done.output
    with db.session(book) as s:  # nothing lost, nothing doubled
        imported = s.scalars(select(LocalOrder.amazon_order_id)).all()
    assert sorted(imported) == sorted(placed)
    executed = nbformat.read(second.output_path, as_version=4)
    assert "1 of 1 stores synced." in json.dumps(executed.cells[-1].outputs)
    for run in (first, second):
        assert_no_secret(run.output_path, amazon)


def test_a_second_run_of_a_syncing_store_fails_cleanly(book, tmp_path):
    with db.session(book) as s:
        store_id = s.scalar(select(Store.id).where(Store.name == "acme"))
    with store_lock(book, store_id):  # a scheduled run of acme is still going
        busy = cli(
            str(book.url), "run", SYNC_NOTEBOOK, "-p", "store", "acme", "--archive", str(tmp_path)
        )
    assert busy.exit_code == 75  # EX_TEMPFAIL: the next scheduled run catches up
    assert "StoreBusy: store acme is already syncing" in busy.stderr
    [run] = runs_in(book)
    assert run.outcome == "failed" and Path(run.output_path).is_file()


def test_a_scheduled_run_logs_no_kernel_transport_warning(book, tmp_path):
    # What cron mails or journald keeps is the run's stderr: the kernel talks over local
    # sockets, so ipykernel has no unencrypted-TCP warning to print there. (A runtime directory
    # too long for a socket's name falls back to TCP: this test gives a short one, as most are.)
    runtime = tempfile.mkdtemp(prefix="ot-")
    done = subprocess.run(
        [sys.executable, "-m", "ordertools", "--db", str(book.url), "run", SYNC_NOTEBOOK]
        + ["-p", "store", "acme", "--archive", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "JUPYTER_RUNTIME_DIR": runtime},
    )
    shutil.rmtree(runtime, ignore_errors=True)
    assert done.returncode == 0, done.stderr
    assert "TCP" not in done.stderr and "WARNING" not in done.stderr, done.stderr
    [run] = runs_in(book)
    assert run.outcome == "success"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("client_secret", "s3cr3t-value"),
        ("refresh_token", "s3cr3t-value"),
        ("db_password", "s3cr3t-value"),
        ("note", "Atzr|IwEBIA-leaked"),
        ("note", "Atza|IwEBIA-leaked"),
        ("note", "amzn1.oa2-cs.v1.0123abcd"),
        ("note", CLIENT_SECRET.replace("amzn1.oa2-cs.v1.", "plain-")),  # equals the env's secret
    ],
)
def test_secret_looking_parameters_are_refused(sqlite_url, tmp_path, monkeypatch, name, value):
    monkeypatch.setenv(
        "ORDERTOOLS_LWA_CLIENT_SECRET", CLIENT_SECRET.replace("amzn1.oa2-cs.v1.", "plain-")
    )
    result = cli(
        sqlite_url,
        "run",
        SYNC_NOTEBOOK,
        "-p",
        "store",
        "acme",
        "-p",
        name,
        value,
        "--archive",
        str(tmp_path),
    )
    assert result.exit_code == 2
    assert f"parameter '{name}' refused" in result.stderr and value not in result.stderr
    assert not (tmp_path / "archive").exists()  # nothing ran, nothing archived
    assert runs_in(db.connect(sqlite_url)) == []


def test_retention_deletes_old_runs_with_their_files(engine, tmp_path):
    now, archive = db.utcnow(), tmp_path / "archive"
    ages = [0, 1, 2, 3, 40]  # days
    with db.session(engine) as s:
        for age in ages:
            path = archive / str(age) / "run.ipynb"
            path.parent.mkdir(parents=True)
            path.write_text("{}")
            s.add(
                NotebookRun(
                    notebook="sync.ipynb",
                    store="acme",
                    parameters={"store": "acme"},
                    started_at=now - timedelta(days=age, minutes=1),
                    finished_at=now - timedelta(days=age),
                    outcome="success",
                    output_path=str(path),
                )
            )
        s.add(
            NotebookRun(
                notebook="sync.ipynb",
                store="acme",
                parameters={},
                started_at=now - timedelta(days=99),
                output_path=str(tmp_path / "x"),
            )
        )

    assert prune_runs(engine, Retention(runs=3, days=30), now=now) == 2  # 4th newest, 40 days
    with db.session(engine) as s:
        kept = recent_runs(s, store="acme", limit=10)
    assert [r.outcome for r in kept] == ["success"] * 3 + ["running"]  # a running one stays
    assert sorted(p.name for p in archive.iterdir()) == ["0", "1", "2"]


def test_run_history_html_escapes_and_links(tmp_path):
    now = db.utcnow()
    run = NotebookRun(
        notebook="sync.ipynb",
        store="<b>acme</b>",
        parameters={},
        started_at=now - timedelta(seconds=5),
        finished_at=now,
        outcome="failed",
        output_path=str(tmp_path / "sync-<x>.ipynb"),
        error="boom <script>",
    )
    page = run_history_html([run])
    assert "<b>" not in page and "<script>" not in page and "&lt;script&gt;" in page
    assert 'href="file://' in page and "5.0 s" in page
    assert "No runs yet" in run_history_html([])


def test_schedule_print_gives_cron_and_systemd(sqlite_url):
    printed = cli(sqlite_url, "schedule", "print", "--every", "15m", "-p", "store", "acme")
    assert printed.exit_code == 0
    assert re.search(
        r"^\*/15 \* \* \* \* .* -m ordertools run sync -p store acme", printed.output, re.M
    )
    assert "OnCalendar=*-*-* *:00/15:00" in printed.output and "EnvironmentFile=" in printed.output
    assert parse_every("2h") == timedelta(hours=2)
    listen = printed.output.split("ordertools-listen.service", 1)[1]
    assert re.search(r"^ExecStart=.* -m ordertools listen --all$", listen, re.M)
    assert "Restart=on-failure" in listen and "EnvironmentFile=" in listen
    odd = cli(sqlite_url, "schedule", "print", "--every", "7m")
    assert odd.exit_code == 2 and "not a cron interval" in odd.stderr


def test_schedule_run_runs_at_once_and_stops_on_sigterm(book, tmp_path):
    env = {**os.environ, "ORDERTOOLS_DB": str(book.url), "ORDERTOOLS_RUNS_DIR": str(tmp_path)}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ordertools",
            "schedule",
            "run",
            "--every",
            "1h",
            "-p",
            "store",
            "acme",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines = []
    for line in process.stdout:
        lines.append(line)
        if "succeeded" in line or "failed" in line:
            process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0
    assert "succeeded in" in lines[1] and "stopping" in lines[2] and "stopped" in lines[-1]
    assert len(runs_in(book)) == 1


def test_the_sync_notebook_matches_its_reference_outputs():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--nbval",
            "-q",
            "-p",
            "no:cacheprovider",
            "notebooks/sync.ipynb",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout[-3000:]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """ordertools built as a wheel, the way `pip install .` builds it."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(REPO)],
        check=True,
        timeout=600,
    )
    return next(out.glob("ordertools-*.whl"))


def test_a_regular_install_runs_the_scheduled_recipe_from_home(wheel, book, tmp_path):
    """`pip install <wheel>`, then the command `schedule print` gives, from $HOME: the notebooks
    come from the installed package, not from a checkout."""
    venv, home = tmp_path / "venv", tmp_path / "home"
    home.mkdir()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    # The dependencies come from this environment's site-packages, on the path after the new
    # venv's own (a plain path: this environment's editable install is not loaded); ordertools
    # itself comes only from the wheel.
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    Path(site, "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [python, "-m", "pip", "install", "-q", "--no-deps", "--ignore-installed", str(wheel)],
        check=True,
    )
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("ORDERTOOLS_NOTEBOOKS", "PYTHONPATH")
    }
    env |= {"HOME": str(home), "ORDERTOOLS_DB": str(book.url), "ORDERTOOLS_RUNS_DIR": str(home)}

    def in_home(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            args, cwd=home, env=env, capture_output=True, text=True, timeout=300, check=False
        )

    where = in_home(str(python), "-c", "import ordertools; print(ordertools.__file__)")
    assert where.stdout.startswith(str(venv)), where.stdout + where.stderr
    units = in_home(str(python), "-m", "ordertools", "schedule", "print", "-p", "store", "acme")
    # The sync's service (the listener's follows it, for stores with notifications).
    command, _listen = [line.removeprefix("ExecStart=") for line in units.stdout.splitlines()
                        if line.startswith("ExecStart=")]  # fmt: skip
    assert _listen.endswith("-m ordertools listen --all")
    done = in_home("/bin/sh", "-c", command)
    assert done.returncode == 0, done.stderr
    assert "sync.ipynb (store acme) succeeded" in done.stdout

    # The crontab line as printed, its settings from the env file the README describes (cron
    # gives a job a bare environment: no ORDERTOOLS_DB of its own), in a home without ~/.cache.
    config = home / ".config" / "ordertools"
    config.mkdir(parents=True)
    (config / "env").write_text(f"ORDERTOOLS_DB={book.url}\nORDERTOOLS_RUNS_DIR={home}\n")
    del env["ORDERTOOLS_DB"], env["ORDERTOOLS_RUNS_DIR"]
    [cron_line] = [line for line in units.stdout.splitlines() if line.startswith("*/15 ")]
    cron = in_home("/bin/sh", "-c", cron_line.split(" ", 5)[5])
    assert cron.returncode == 0, cron.stderr
    assert "succeeded" in (home / ".cache" / "ordertools-sync.log").read_text()
    runs = runs_in(book)
    assert [r.outcome for r in runs] == ["success", "success"]
    assert all(r.output_path.startswith(str(home)) for r in runs)


# -- the nightly reconciliation ------------------------------------------------------------------


def test_the_reconcile_notebook_repairs_what_the_sync_missed(book, amazon, tmp_path):
    url, archive = str(book.url), str(tmp_path / "archive")
    amazon.faults.lose_updates(1.0)  # Amazon's index misses every update for now
    placed = [amazon.world.add_order(created=f"-{50 - i}m") for i in range(3)]
    assert cli(url, "run", "sync", "-p", "store", "acme", "--archive", archive).exit_code == 0
    with db.session(book) as s:
        assert s.scalars(select(LocalOrder.amazon_order_id)).all() == []

    done = cli(
        url, "run", "reconcile", "-p", "store", "acme", "-p", "days", "2", "--archive", archive
    )
    assert done.exit_code == 0, done.output
    with db.session(book) as s:
        imported = s.scalars(select(LocalOrder.amazon_order_id)).all()
    assert sorted(imported) == sorted(placed)
    run = runs_in(book)[-1]
    assert run.parameters == {"store": "acme", "days": 2} and run.outcome == "success"
    assert re.search(r"/reconcile-\d{8}T\d{6}\.\d{3}Z-acme\.ipynb$", run.output_path)
    executed = json.dumps(nbformat.read(run.output_path, as_version=4).cells[-1].outputs)
    assert "1 of 1 stores reconciled." in executed
    assert_no_secret(run.output_path, amazon)

    amazon.faults.fail_next_report("FATAL")
    failed = cli(url, "run", "reconcile", "-p", "store", "acme", "--archive", archive)
    assert failed.exit_code == 1
    error = failed.stderr.strip()
    assert "\n" not in error and error.startswith("Error: reconcile.ipynb failed at cell")


def test_schedule_print_runs_the_reconciliation_nightly(sqlite_url):
    printed = cli(sqlite_url, "schedule", "print", "--notebook", "reconcile")
    assert printed.exit_code == 0
    assert re.search(
        r"^30 3 \* \* \* .* -m ordertools run reconcile -p store all", printed.output, re.M
    )
    assert "OnCalendar=*-*-* 03:30:00" in printed.output
    assert "ordertools-reconcile.timer" in printed.output
    assert "ordertools-reconcile.log" in printed.output
    assert "ordertools listen" not in printed.output  # the listener goes with the sync
