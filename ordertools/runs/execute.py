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

import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import Engine

from ordertools import db
from ordertools.db import NotebookRun, utcnow
from ordertools.db.locks import StoreBusy
from ordertools.errors import ConfigurationError, OrdertoolsError
from ordertools.runs.archive import Retention, archive_path, default_archive_root, prune_runs
from ordertools.runs.notebooks import notebook_path
from ordertools.runs.parameters import check_parameters

log = logging.getLogger(__name__)

# The exit code a run gets when its notebook raised one of these. The kernel reports only the
# exception's name, so the codes are keyed by it; the code itself is the error's own
# (StoreBusy: EX_TEMPFAIL, "another sync of this store is running, try again later").
EXIT_CODES = {error.__name__: error.exit_code for error in (StoreBusy,)}


class RunFailed(OrdertoolsError):
    """The notebook failed (an exception in a cell, a dead kernel, a kernel that never
    started); the run is recorded as failed and its output notebook kept at `output_path`."""

    def __init__(self, message: str, run: NotebookRun, exit_code: int = 1):
        super().__init__(f"{message}; output: {run.output_path}")
        self.run = run
        self.output_path = run.output_path
        self.exit_code = exit_code


# -- parameters ----------------------------------------------------------------------------------


# -- the archive ---------------------------------------------------------------------------------


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
        stops = _Stops()
        try:
            with _kernel_env(engine), stops:
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
            failure = stops.failure
        except Exception as exc:
            failure = stops.failure or _describe_failure(exc, source.name)
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

    class TrackedKernelManager(AsyncKernelManager):
        """Remembers the kernels it starts, so a stop can be passed on to them (_Stops)."""

        async def start_kernel(self, **kwargs):
            await super().start_kernel(**kwargs)
            _KERNELS.add(self)

    # A socket is named <runtime dir>/kernel-<uuid>-ipc-<n>; Linux allows 107 bytes in all.
    if os.name != "posix" or len(os.fsencode(jupyter_runtime_dir())) > 107 - 56:
        return TrackedKernelManager

    class LocalKernelManager(TrackedKernelManager):
        transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)

    return LocalKernelManager


# The kernel managers of the runs going on in this process (a scheduler runs one at a time).
_KERNELS: set = set()


def interrupt_kernels() -> int:
    """Send SIGINT to the kernel of every run going on in this process: the running cell
    stops (a sync ends its wait for Amazon), and the kernel lives on to hand back its output.
    Returns how many kernels were interrupted."""
    interrupted = 0
    for manager in list(_KERNELS):
        process = getattr(manager.provisioner, "process", None)
        if process is None or process.poll() is not None:
            _KERNELS.discard(manager)
            continue
        process.send_signal(signal.SIGINT)
        interrupted += 1
    return interrupted


class _Stops:
    """Ctrl-C and SIGTERM during a run, passed on to the kernel.

    The kernel gets SIGINT: the cell running stops at once (a sync ends its wait for Amazon and
    records itself interrupted), the kernel stays alive to hand back its output, papermill
    archives the notebook with the interruption in it, and the run ends with 130 (143 for
    SIGTERM). A second stop doesn't wait for the kernel any longer.
    """

    def __init__(self):
        self.received: int | None = None

    def __enter__(self) -> _Stops:
        self._previous = {}
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._stop)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        _KERNELS.clear()  # this run's kernel is shut down by now

    def _stop(self, signum, frame) -> None:
        if self.received is not None:  # asked twice: stop now, kernel or not
            raise KeyboardInterrupt
        self.received = signum
        interrupt_kernels()

    @property
    def failure(self) -> tuple[str, int] | None:
        if self.received == signal.SIGTERM:
            return "terminated (SIGTERM) before the notebook finished", 143
        if self.received == signal.SIGINT:
            return "interrupted (Ctrl-C) before the notebook finished", 130
        return None


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
