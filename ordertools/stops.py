"""Ctrl-C and SIGTERM, answered at a safe point where one is near, at once everywhere else.

A signal turned into an exception lands wherever the main thread happens to be: inside a
SQLite commit, a lock wait, a connection's reset. Code that can keep its safe points close
together (the sync: between pages, and in every wait for Amazon) runs `cooperatively()`: a
stop then only raises the flag, the waits end at once (`requested()`), and the code stops at its
next safe point with `raise_if_requested()`. Everywhere else a stop raises at once, as Python's
own Ctrl-C does. A second stop always raises at once.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Terminated(KeyboardInterrupt):
    """SIGTERM (a scheduler, `kill`, systemd stopping a unit), raised like Ctrl-C: every wait
    ends, every transaction rolls back, every lock is let go."""


_requested = threading.Event()
_received: list[int] = []  # the signals of this stop, first first
_cooperating = threading.local()


def requested() -> bool:
    """Whether Ctrl-C or SIGTERM came (waits check it, to end at once)."""
    return _requested.is_set()


def raise_if_requested() -> None:
    """At a safe point: stop here if a stop came."""
    if _requested.is_set():
        raise _stop_error()


def as_stop(exc: BaseException) -> KeyboardInterrupt | None:
    """The stop behind `exc`: a Ctrl-C or SIGTERM in its chain (a signal that lands while
    SQLite waits for a lock comes back as "database is locked", the interrupt as its context),
    or any error raised after a stop was requested (a wait that ended because of it)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return _stop_error() if _requested.is_set() else None


def _stop_error() -> KeyboardInterrupt:
    return Terminated() if _received and _received[0] == signal.SIGTERM else KeyboardInterrupt()


def _handle(signum, frame) -> None:
    _received.append(signum)
    again = _requested.is_set()
    _requested.set()
    if again or not getattr(_cooperating, "active", False):
        raise _stop_error()


@contextmanager
def handling() -> Iterator[None]:
    """Ctrl-C and SIGTERM handled as this module says, for the duration (a CLI command)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers belong to the main thread (click may run elsewhere in tests)
        return
    previous = {
        signum: signal.signal(signum, _handle) for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        _requested.clear()
        _received.clear()


@contextmanager
def cooperatively() -> Iterator[None]:
    """The main thread promises safe points (`raise_if_requested`) often enough: a stop waits
    for the next one instead of raising wherever the thread is."""
    was = getattr(_cooperating, "active", False)
    _cooperating.active = threading.current_thread() is threading.main_thread()
    try:
        yield
    finally:
        _cooperating.active = was
