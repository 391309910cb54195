"""Notebook runs: papermill executes a notebook, the executed copy is archived, and the order
book records the run. `ordertools run` and `ordertools schedule` are thin layers over this.

    from ordertools.runs import run_notebook
    run = run_notebook("sync", {"store": "acme-us"})     # a NotebookRun, outcome "success"
    run.output_path   # <data dir>/runs/2026/11/27/sync-20261127T101500.123Z-acme-us.ipynb

A failed notebook raises `RunFailed` (one line, with the output path); the archived notebook
then carries papermill's error banner. Parameters are written into the output notebook, so
anything that looks like a secret is refused before a kernel starts: credentials reach the
kernel only through its environment.
"""

from __future__ import annotations

import html
import logging
import os
import re
import socket
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import platformdirs
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from . import db
from .db import NotebookRun, utcnow
from .errors import ConfigurationError, OrdertoolsError
from .links import anchor
from .notebooks import notebook_path

log = logging.getLogger(__name__)

ARCHIVE_ENV = "ORDERTOOLS_RUNS_DIR"
KEEP_RUNS_ENV = "ORDERTOOLS_RUNS_KEEP"
KEEP_DAYS_ENV = "ORDERTOOLS_RUNS_KEEP_DAYS"
DEFAULT_KEEP_RUNS = 2000  # 15-minute runs of a few stores: about a week each
DEFAULT_KEEP_DAYS = 30.0
# The exit code a run gets when its notebook raised one of these (by exception name):
# StoreBusy is EX_TEMPFAIL, "another sync of this store is running, try again later".
EXIT_CODES = {"StoreBusy": 75}

# Names and values that must never become notebook parameters (papermill writes them into the
# output notebook). Values: Login with Amazon refresh tokens, access tokens, client secrets.
SECRET_NAME = re.compile(r"secret|token|passw|credential|api_?key|private_?key", re.IGNORECASE)
SECRET_VALUE_MARKERS = ("Atzr|", "Atza|", "amzn1.oa2-cs.v1.")
CREDENTIAL_ENV = ("ORDERTOOLS_LWA_CLIENT_SECRET", "ORDERTOOLS_REFRESH_TOKEN")


class SecretParameter(ConfigurationError):
    """A parameter that looks like a secret; the message names it, never its value."""


class RunFailed(OrdertoolsError):
    """The notebook failed (an exception in a cell, a dead kernel, a kernel that never
    started); the run is recorded as failed and its output notebook kept at `output_path`."""

    def __init__(self, message: str, run: NotebookRun, exit_code: int = 1):
        super().__init__(f"{message}; output: {run.output_path}")
        self.run = run
        self.output_path = run.output_path
        self.exit_code = exit_code


@dataclass(frozen=True)
class Retention:
    """Archived runs kept: the newest `runs`, and none older than `days` (None: no limit)."""

    runs: int | None = DEFAULT_KEEP_RUNS
    days: float | None = DEFAULT_KEEP_DAYS

    @classmethod
    def from_env(cls) -> Retention:
        def number(var: str, kind, default):
            raw = os.environ.get(var, "").strip()
            try:
                return kind(raw) if raw else default
            except ValueError:
                raise ConfigurationError(f"{var}={raw!r} is not a number") from None

        return cls(
            number(KEEP_RUNS_ENV, int, DEFAULT_KEEP_RUNS),
            number(KEEP_DAYS_ENV, float, DEFAULT_KEEP_DAYS),
        )


# -- parameters ----------------------------------------------------------------------------------


def check_parameters(parameters: Mapping[str, object]) -> None:
    """Refuse parameters that look like secrets: by name, by LWA token shape, or equal to a
    credential in this environment."""
    credentials = {os.environ[v] for v in CREDENTIAL_ENV if os.environ.get(v)}
    for name, value in parameters.items():
        if SECRET_NAME.search(name):
            why = "its name says it is a secret"
        elif any(marker in text for text in _texts(value) for marker in SECRET_VALUE_MARKERS):
            why = "its value looks like a Login with Amazon token or secret"
        elif any(text in credentials for text in _texts(value)):
            why = "its value is one of the credentials in this environment"
        else:
            continue
        raise SecretParameter(
            f"parameter {name!r} refused: {why}. Notebooks never take secrets (papermill writes "
            "every parameter into the output notebook); credentials come only from the "
            f"environment ({', '.join(CREDENTIAL_ENV)})"
        )


def _texts(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield str(key)
            yield from _texts(item)
    elif isinstance(value, list | tuple | set):
        for item in value:
            yield from _texts(item)


# -- the archive ---------------------------------------------------------------------------------


def default_archive_root() -> str:
    """`ORDERTOOLS_RUNS_DIR` (a directory or any URL papermill can write), else `runs/` in the
    user data directory, beside the default order book."""
    return os.environ.get(ARCHIVE_ENV, "").strip() or str(
        Path(platformdirs.user_data_dir("ordertools")) / "runs"
    )


def _is_url(location: str) -> bool:
    return "://" in location and not location.startswith("file://")


def archive_path(root: str, notebook: str, store: str | None, started: datetime) -> str:
    """`<root>/YYYY/MM/DD/<notebook>-<UTC time>-<store>.ipynb`; local directories are created.

    Milliseconds in the name keep two runs started in the same second apart."""
    started = started.astimezone(UTC)
    stamp = f"{started:%Y%m%dT%H%M%S}.{started.microsecond // 1000:03d}Z"
    label = re.sub(r"[^A-Za-z0-9._-]+", "_", store or "all")
    relative = f"{started:%Y/%m/%d}/{Path(notebook).stem}-{stamp}-{label}.ipynb"
    if _is_url(root):
        return f"{root.rstrip('/')}/{relative}"
    path = Path(root.removeprefix("file://")).expanduser() / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    return str(path)


def resolve_notebook(notebook: str | Path) -> Path:
    """A path to an existing notebook, or a name looked up by `notebook_path` ("sync")."""
    path = Path(notebook).expanduser()
    if path.is_file():
        return path.resolve()
    if path.suffix == ".ipynb" and len(path.parts) > 1:
        raise ConfigurationError(f"no notebook at {path}")
    return notebook_path(path.name)


# -- running -------------------------------------------------------------------------------------


def _skip_iri_grammar() -> None:
    """Keep jsonschema (imported by nbformat) from loading `rfc3987_syntax`.

    jsonschema probes for it to check IRI formats, which notebook validation never uses, and it
    compiles a parser grammar on import: a full second of every scheduled run. Marking it absent
    makes jsonschema skip that optional check, as it does when the package is not installed.
    """
    sys.modules.setdefault("rfc3987_syntax", None)


def run_notebook(
    notebook: str | Path,
    parameters: Mapping[str, object] | None = None,
    *,
    engine: Engine | None = None,
    archive_root: str | None = None,
    retention: Retention | None = None,
    kernel_name: str = "python3",
    execution_timeout: float | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> NotebookRun:
    """Execute `notebook` with papermill, archive the executed copy, record the run.

    The kernel is this environment's Python (jupyter_client starts a "python" kernelspec with
    `sys.executable`) and opens the same order book as `engine` (ORDERTOOLS_DB is set for it).
    Returns the finished `NotebookRun`; raises `RunFailed` when the notebook fails and
    `SecretParameter` before anything runs. Old runs beyond `retention` are pruned afterwards.
    """
    _skip_iri_grammar()
    import papermill  # half a second's import: only when a notebook actually runs

    parameters = dict(parameters or {})
    check_parameters(parameters)
    source = resolve_notebook(notebook)
    owns_engine = engine is None
    engine = engine or db.connect()
    try:
        started = clock()
        store = parameters.get("store")
        output = archive_path(
            archive_root or default_archive_root(), source.name, store and str(store), started
        )
        with db.session(engine) as session:
            run = NotebookRun(
                notebook=source.name,
                store=None if store is None else str(store),
                parameters=parameters,
                started_at=started,
                output_path=output,
                host=socket.gethostname(),
                pid=os.getpid(),
            )
            session.add(run)
        failure: tuple[str, int] | None = ("interrupted before the notebook finished", 130)
        try:
            with _kernel_env(engine):
                papermill.execute_notebook(
                    str(source),
                    output,
                    parameters=parameters,
                    kernel_name=kernel_name,
                    progress_bar=False,
                    cwd=str(source.parent),
                    execution_timeout=execution_timeout,
                    kernel_manager_class=_local_kernel_manager(),
                )
            failure = None
        except Exception as exc:
            failure = _describe_failure(exc, source.name)
        finally:
            _finish(engine, run, failure, clock())
        prune_runs(engine, retention or Retention.from_env(), now=clock())
        if failure is not None:
            raise RunFailed(failure[0], run, failure[1])
        return run
    finally:
        if owns_engine:
            engine.dispose()


def _local_kernel_manager() -> type:
    """nbclient's kernel manager, talking to the kernel over local sockets instead of TCP.

    The kernel runs on this machine, so Unix sockets (in Jupyter's runtime directory, readable
    by this user only) serve; over TCP any local user could reach the kernel's ports, and
    ipykernel says so on stderr in every scheduled run's log. TCP stays where Unix sockets
    can't: off POSIX, and when the runtime directory's path is too long for a socket's name.
    """
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.paths import jupyter_runtime_dir
    from traitlets import CaselessStrEnum

    # A socket is named <runtime dir>/kernel-<uuid>-ipc-<n>; Linux allows 107 bytes in all.
    if os.name != "posix" or len(os.fsencode(jupyter_runtime_dir())) > 107 - 56:
        return AsyncKernelManager

    class LocalKernelManager(AsyncKernelManager):
        transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)

    return LocalKernelManager


def _describe_failure(exc: Exception, notebook: str) -> tuple[str, int]:
    """One line (and an exit code) for why papermill failed."""
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        reason = (str(exc.evalue).strip().splitlines() or [""])[0]
        where = f"cell {exc.exec_count}" if exc.exec_count else f"cell #{exc.cell_index + 1}"
        return f"{notebook} failed at {where}: {exc.ename}: {reason}", EXIT_CODES.get(exc.ename, 1)
    if isinstance(exc, DeadKernelError):
        return f"{notebook}: the kernel died while running (out of memory or killed?)", 1
    if isinstance(exc, CellTimeoutError):
        return f"{notebook}: a cell ran past the execution timeout", 1
    reason = (str(exc).strip().splitlines() or [""])[0]
    return f"{notebook} could not run: {type(exc).__name__}: {reason}", 1


def _finish(engine: Engine, run: NotebookRun, failure, finished: datetime) -> None:
    run.finished_at = finished
    run.outcome = "success" if failure is None else "failed"
    run.error = None if failure is None else failure[0]
    with db.session(engine) as session:
        session.merge(run)


@contextmanager
def _kernel_env(engine: Engine) -> Iterator[None]:
    """The kernel inherits this process's environment: point its ORDERTOOLS_DB at our order
    book (given by --db, say), and never through a parameter, which could carry a password."""
    url = engine.url.render_as_string(hide_password=False)
    previous = os.environ.get(db.ENV_VAR)
    os.environ[db.ENV_VAR] = url
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(db.ENV_VAR, None)
        else:
            os.environ[db.ENV_VAR] = previous


# -- history and retention -----------------------------------------------------------------------


def recent_runs(
    session: Session, store: str | Sequence[str] | None = None, limit: int = 10
) -> list[NotebookRun]:
    """The newest runs first: of one store (its `store` parameter), of several, or of all."""
    query = select(NotebookRun).order_by(NotebookRun.started_at.desc(), NotebookRun.id.desc())
    if store is not None:
        stores = [store] if isinstance(store, str) else list(store)
        query = query.where(NotebookRun.store.in_(stores))
    return list(session.scalars(query.limit(limit)))


def prune_runs(engine: Engine, retention: Retention, *, now: datetime | None = None) -> int:
    """Delete finished runs beyond the retention limit, archived notebook first, then the
    record; returns how many went. A file that cannot be deleted keeps its record, so the
    next prune tries again. Remote archives (URLs): only the records go, the store's own
    lifecycle rules should expire the files."""
    now = now or utcnow()
    with db.session(engine) as session:
        finished = session.execute(
            select(NotebookRun.id, NotebookRun.started_at, NotebookRun.output_path)
            .where(NotebookRun.outcome != "running")
            .order_by(NotebookRun.started_at.desc(), NotebookRun.id.desc())
        ).all()
    cutoff = now - timedelta(days=retention.days) if retention.days is not None else None
    doomed = [
        (run_id, path)
        for position, (run_id, started, path) in enumerate(finished)
        if (retention.runs is not None and position >= retention.runs)
        or (cutoff is not None and started < cutoff)
    ]
    deleted = [run_id for run_id, path in doomed if _delete_archived(path)]
    if deleted:
        with db.session(engine) as session:
            for start in range(0, len(deleted), 500):
                chunk = deleted[start : start + 500]
                session.query(NotebookRun).filter(NotebookRun.id.in_(chunk)).delete()
    return len(deleted)


def _delete_archived(location: str) -> bool:
    if _is_url(location):
        return True
    path = Path(location.removeprefix("file://"))
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("could not delete archived run %s: %s", path, exc)
        return False
    # Drop the day's (month's, year's) directory once it is empty; rmdir refuses otherwise.
    for parent in list(path.parents)[:3]:
        try:
            parent.rmdir()
        except OSError:
            break
    return True


def run_history_html(
    runs: list[NotebookRun], link: Callable[[str], str | None] | None = None
) -> str:
    """The dashboard's Run history: a small escaped table, newest first as given.

    `link` turns an output path into an href (e.g. a JupyterLab URL); by default https URLs
    link as they are and local files as file:// URIs; anything else shows as text."""
    link = link or _default_link
    rows = []
    for run in runs:
        duration = (
            f"{(run.finished_at - run.started_at).total_seconds():.1f} s" if run.finished_at else ""
        )
        href = link(run.output_path)
        name = html.escape(Path(run.output_path).name)
        output = anchor(name, href) if href else name
        error = run.error or ""
        cells = [
            html.escape(f"{run.started_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"),
            html.escape(run.notebook),
            html.escape(run.store or ""),
            f'<span class="outcome-{html.escape(run.outcome)}">{html.escape(run.outcome)}</span>',
            html.escape(duration),
            output,
            html.escape(error if len(error) <= 160 else error[:159] + "…"),
        ]
        rows.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
    if not rows:
        return '<p class="ordertools-runs">No runs yet.</p>\n'
    head = "".join(
        f"<th>{h}</th>"
        for h in ("Started", "Notebook", "Store", "Outcome", "Duration", "Output", "Error")
    )
    return (
        '<table class="ordertools-runs ordertools-orders">\n'
        f"<thead><tr>{head}</tr></thead>\n<tbody>\n"
        + "\n".join(rows)
        + "\n</tbody>\n</table>\n"
    )


def _default_link(location: str) -> str | None:
    if location.startswith("https://"):
        return location
    if _is_url(location):
        return None
    path = Path(location.removeprefix("file://"))
    return path.as_uri() if path.is_absolute() else None
