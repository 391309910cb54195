"""`ordertools run`, `runs list` and `schedule`: thin click commands over `ordertools.runs`.

`run` maps one to one onto `run_notebook(...)` (papermill's CLI over `execute_notebook` is the
model); `schedule print` writes cron and systemd units that call `run`; `schedule run` is the
same job on a foreground APScheduler for machines without either.
"""

from __future__ import annotations

import json
import logging
import shlex
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import click

from ordertools import db
from ordertools.cli.context import CONTEXT, order_book
from ordertools.domain.instants import when
from ordertools.domain.text import table
from ordertools.errors import OrdertoolsError
from ordertools.runs.archive import (
    ARCHIVE_ENV,
    DEFAULT_KEEP_DAYS,
    DEFAULT_KEEP_RUNS,
    KEEP_DAYS_ENV,
    KEEP_RUNS_ENV,
    Retention,
    recent_runs,
)
from ordertools.runs.execute import interrupt_kernels, run_notebook
from ordertools.runs.parameters import check_parameters
from ordertools.runs.schedule import cron_and_calendar, default_every, parse_every


def _value(text: str):
    """papermill's `-p` typing: int, float, True/False/None, else the text itself."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"True": True, "False": False, "None": None}.get(text, text)


_parameter_option = click.option(
    "-p",
    "--parameter",
    "parameters",
    nargs=2,
    multiple=True,
    metavar="NAME VALUE",
    help="A notebook parameter (repeatable); never a secret.",
)


def _run_options(command):
    """The options `run` and `schedule run` share (`schedule print` takes the parameters)."""
    for option in reversed(
        [
            _parameter_option,
            click.option(
                "--archive",
                metavar="DIR|URL",
                envvar=ARCHIVE_ENV,
                help="Where executed notebooks go. Default: runs/ in the user data dir.",
            ),
            click.option(
                "--keep-runs",
                type=click.IntRange(min=1),
                envvar=KEEP_RUNS_ENV,
                default=DEFAULT_KEEP_RUNS,
                show_default=True,
                help="Archived runs kept (older ones and their records are deleted).",
            ),
            click.option(
                "--keep-days",
                type=click.FloatRange(min=0, min_open=True),
                envvar=KEEP_DAYS_ENV,
                default=DEFAULT_KEEP_DAYS,
                show_default=True,
                help="Days archived runs are kept.",
            ),
        ]
    ):
        command = option(command)
    return command


def _execute(ctx, notebook, parameters, archive, keep_runs, keep_days):
    return run_notebook(
        notebook,
        {name: _value(value) for name, value in parameters},
        engine=order_book(ctx),
        archive_root=archive,
        retention=Retention(keep_runs, keep_days),
    )


def _done(run) -> str:
    seconds = (run.finished_at - run.started_at).total_seconds()
    store = f" (store {run.store})" if run.store else ""
    return f"{run.notebook}{store} succeeded in {seconds:.1f} s: {run.output_path}"


@click.command("run", context_settings=CONTEXT)
@click.argument("notebook")
@_run_options
@click.pass_context
def run(ctx, notebook, parameters, archive, keep_runs, keep_days):
    """Run a notebook with papermill, archive the executed copy and record the run.

    NOTEBOOK is a path, or a name in notebooks/ (ORDERTOOLS_NOTEBOOKS): `sync`. Credentials
    come from the environment only; a parameter that looks like a secret is refused. A failed
    notebook exits non-zero (75 when the store is already syncing) with the output path.

    \b
    Example:
      ordertools run notebooks/sync.ipynb -p store acme-us
      ordertools run sync -p store all --archive s3://bucket/ordertools-runs
    """
    click.echo(_done(_execute(ctx, notebook, parameters, archive, keep_runs, keep_days)))


@click.group(context_settings=CONTEXT)
def runs():
    """The record of notebook runs.

    \b
    Example:
      ordertools runs list --store acme-us
    """


@runs.command("list", context_settings=CONTEXT)
@click.option("--store", help="Only runs whose store parameter is this.")
@click.option("--limit", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_context
def runs_list(ctx, store, limit, fmt):
    """The newest runs first: when, which notebook and store, outcome, output notebook.

    \b
    Example:
      ordertools runs list --store acme-us --format json
    """
    with db.session(order_book(ctx)) as session:
        found = recent_runs(session, store=store, limit=limit)
    if fmt == "json":
        rows = [
            {
                "id": r.id,
                "notebook": r.notebook,
                "store": r.store,
                "parameters": r.parameters,
                "started_at": r.started_at.isoformat(),
                "finished_at": r.finished_at.isoformat() if r.finished_at else None,
                "outcome": r.outcome,
                "output_path": r.output_path,
                "error": r.error,
            }
            for r in found
        ]
        click.echo(json.dumps(rows, indent=2))
    elif not found:
        click.echo("No runs yet: try `ordertools run sync -p store all`.")
    else:
        rows = [
            (
                r.id,
                when(r.started_at),
                r.notebook,
                r.store or "-",
                r.outcome,
                r.output_path or "",
                r.error or "",
            )
            for r in found
        ]
        headings = ("ID", "Started", "Notebook", "Store", "Outcome", "Output", "Error")
        click.echo(table(headings, rows, numeric=(0,)))


# -- schedules -----------------------------------------------------------------------------------


def _command_line(notebook: str, parameters) -> str:
    words = [sys.executable, "-m", "ordertools", "run", notebook]
    for name, value in parameters:
        words += ["-p", name, value]
    return shlex.join(words)


@click.group(context_settings=CONTEXT)
def schedule():
    """Run the sync notebook on a schedule: cron/systemd units, or a foreground scheduler.

    \b
    Example:
      ordertools schedule print --every 15m -p store all
      ordertools schedule run --every 15m -p store all
    """


@schedule.command("print", context_settings=CONTEXT)
@click.option(
    "--every", help="Interval: 5m, 15m, 1h, 1d (nightly), ... Default: sync 15m, reconcile 1d."
)
@click.option("--notebook", default="sync", show_default=True, help="sync or reconcile")
@_parameter_option
def schedule_print(every, notebook, parameters):
    """Print a crontab line and a systemd service/timer pair that run the notebook.

    Without -p, the units sync every store (-p store all).

    Credentials and ORDERTOOLS_DB go in an environment file (chmod 600), never on the
    command line: ~/.config/ordertools/env with lines like ORDERTOOLS_REFRESH_TOKEN=...

    \b
    Example:
      ordertools schedule print --every 15m -p store acme-us
    """
    parameters = parameters or (("store", "all"),)
    check_parameters({name: _value(value) for name, value in parameters})
    every = every or default_every(notebook)
    cron, calendar = cron_and_calendar(parse_every(every))
    command = _command_line(notebook, parameters)
    env = "$HOME/.config/ordertools/env"
    unit = f"ordertools-{Path(notebook).stem}"
    log = f"$HOME/.cache/{unit}.log"  # its folder made first: a new account has none
    click.echo(
        f"""# crontab -e  (the env file holds ORDERTOOLS_DB and the credentials, chmod 600)
{cron} set -a; . {env}; set +a; mkdir -p $HOME/.cache; {command} >> {log} 2>&1

# ~/.config/systemd/user/{unit}.service
[Unit]
Description=ordertools: run the {notebook} notebook

[Service]
Type=oneshot
EnvironmentFile=%h/.config/ordertools/env
ExecStart={command}

# ~/.config/systemd/user/{unit}.timer
[Unit]
Description=ordertools: {notebook} every {every}

[Timer]
OnCalendar={calendar}
Persistent=true

[Install]
WantedBy=timers.target

# then: systemctl --user daemon-reload && systemctl --user enable --now {unit}.timer"""
    )
    if Path(notebook).stem == "sync":
        click.echo(_listen_unit(env))


def _listen_unit(env: str) -> str:
    """The listener beside the scheduled sync: orders in seconds from Amazon's notifications,
    the sync still catching whatever a notification missed."""
    command = shlex.join([sys.executable, "-m", "ordertools", "listen", "--all"])
    return f"""
# With ORDER_CHANGE notifications (`ordertools notifications setup NAME --queue-arn ARN`), the
# listener imports orders within seconds; the timer above stays, as the safety net.
# ~/.config/systemd/user/ordertools-listen.service  (AWS_REGION and the AWS keys in the env file)
[Unit]
Description=ordertools: import orders from Amazon's ORDER_CHANGE notifications
After=network-online.target

[Service]
EnvironmentFile=%h/.config/ordertools/env
ExecStart={command}
Restart=on-failure
RestartSec=10

[Install]
WantedBy=default.target

# then: systemctl --user enable --now ordertools-listen.service"""


@schedule.command("run", context_settings=CONTEXT)
@click.option("--every", help="Interval: 5m, 15m, 1h, 1d, ... Default: sync 15m, reconcile 1d.")
@click.option("--notebook", default="sync", show_default=True, help="sync or reconcile")
@_run_options
@click.pass_context
def schedule_run(ctx, every, notebook, parameters, archive, keep_runs, keep_days):
    """Run the notebook now and then every interval, in the foreground, until Ctrl-C/SIGTERM.

    A run never overlaps the previous one (a late run is skipped, then runs once, not many
    times); each run logs one line. For servers, prefer the units of `schedule print`.

    \b
    Example:
      ordertools schedule run --every 15m -p store all
    """
    from apscheduler.schedulers.blocking import BlockingScheduler
    from apscheduler.triggers.interval import IntervalTrigger  # only for this command

    every = every or default_every(notebook)
    interval = parse_every(every)
    parameters = parameters or (("store", "all"),)
    check_parameters({name: _value(value) for name, value in parameters})  # fail before starting
    order_book(ctx)  # open (and migrate) the order book once, before the first run
    logging.getLogger("apscheduler").setLevel(logging.WARNING)

    def job():
        started = time.monotonic()
        try:
            outcome = _done(_execute(ctx, notebook, parameters, archive, keep_runs, keep_days))
        except OrdertoolsError as exc:
            outcome = f"failed after {time.monotonic() - started:.1f} s: {exc}"
        except Exception as exc:  # noqa: BLE001 - one bad run must not stop the schedule
            outcome = f"failed: unexpected {type(exc).__name__}: {exc}"
        _log(outcome)

    scheduler = BlockingScheduler(timezone=UTC)
    scheduler.add_job(
        job,
        IntervalTrigger(seconds=interval.total_seconds(), timezone=UTC),
        id=f"{notebook}-{'-'.join(v for _, v in parameters)}",
        next_run_time=datetime.now(UTC),
        max_instances=1,  # a run still going when the next is due: the next is skipped
        coalesce=True,  # after a pause (laptop asleep), one catch-up run, not a burst
        misfire_grace_time=max(1, int(interval.total_seconds() / 2)),
    )

    def stop(signum, _frame):
        # The running notebook's kernel gets Ctrl-C: its sync ends its wait for Amazon, the
        # notebook is archived with the interruption, and the scheduler stops.
        stopped = interrupt_kernels()
        _log(
            f"{signal.Signals(signum).name}: stopping"
            + (" (the current run interrupted)" if stopped else "")
        )
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    _log(f"running {notebook} every {every} ({' '.join(f'{n}={v}' for n, v in parameters)})")
    scheduler.start()  # returns once stop() shut it down; a running job finishes first
    _log("stopped")


def _log(line: str) -> None:
    click.echo(f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S}Z {line}")


COMMANDS = (run, runs, schedule)
