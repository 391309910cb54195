"""What every command shares: click settings, the order book, and errors as one line.

The main group (`Group`) turns every error into one line on stderr and an exit code; the
commands open the order book with `order_book(ctx)` and fail with `fail(message, code)`.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime

import click
from sqlalchemy.exc import SQLAlchemyError

from ordertools import db, stops
from ordertools.db.engine import (
    is_beside_order_book,
    is_read_only,
    is_read_only_failure,
    read_only_message,
)
from ordertools.domain.instants import parse_instant
from ordertools.errors import OrdertoolsError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class Group(click.Group):
    """Turns every error into one line on stderr and an exit code, never a traceback.

    Scripts and schedulers read that line: the toolkit's own errors say what to do, a usage
    mistake points at the command's --help, and an unexpected exception (a bug) names itself;
    ORDERTOOLS_DEBUG=1 lets its traceback through for a bug report.
    """

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.exceptions.NoArgsIsHelpError:
            raise  # `ordertools` alone: click prints the help
        except click.UsageError as exc:
            usage_failure(exc)

    def invoke(self, ctx: click.Context):
        try:
            try:
                with stops.handling():
                    return super().invoke(ctx)
            except Exception as exc:
                stop = stops.as_stop(exc)
                if stop is None:
                    raise
                raise stop from None  # a stop is a stop, whatever error it surfaced as
        except OrdertoolsError as exc:
            fail(str(exc), exc.exit_code)
        except SQLAlchemyError as exc:
            if is_read_only_failure(exc):
                read_only_failure(ctx)
            reason = first_line(getattr(exc, "orig", None) or exc)
            fail(f"the order book failed: {reason}; check ORDERTOOLS_DB and try again", 1)
        except stops.Terminated:
            fail("terminated; nothing half-done was kept (the next run picks up)", 143)
        except KeyboardInterrupt:
            fail("interrupted; nothing half-done was kept (the next run picks up)", 130)
        except click.exceptions.NoArgsIsHelpError:
            raise  # `ordertools store` alone: click prints the group's help
        except click.UsageError as exc:
            usage_failure(exc)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except BrokenPipeError:
            # `ordertools orders X | head`: the reader has what it wanted. Exit as a shell's
            # command does (141, SIGPIPE), without Python's error when it flushes stdout.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise SystemExit(141) from None
        except Exception as exc:
            if isinstance(exc, OSError) and refused_beside_read_only_book(ctx, exc):
                # A sync's lock file goes beside the order book, into the folder that made it
                # read-only: the same cause as a refused write, so the same line.
                read_only_failure(ctx)
            if os.environ.get("ORDERTOOLS_DEBUG"):
                raise
            fail(
                f"unexpected {type(exc).__name__}: {first_line(exc)} (a bug in ordertools: "
                "please report it; ORDERTOOLS_DEBUG=1 shows the traceback)",
                1,
            )


def refused_beside_read_only_book(ctx: click.Context, exc: OSError) -> bool:
    engine = ctx.obj.get("engine") if isinstance(ctx.obj, dict) else None
    return (
        engine is not None and is_read_only(engine) and is_beside_order_book(engine, exc.filename)
    )


def read_only_failure(ctx: click.Context):
    """A write refused by a read-only order book: a setup to change, hence exit 2."""
    engine = ctx.obj.get("engine") if isinstance(ctx.obj, dict) else None
    fail(read_only_message(engine.url if engine is not None else None), 2)


def usage_failure(exc: click.UsageError):
    where = exc.ctx.command_path if exc.ctx else "ordertools"
    fail(f"{exc.format_message()} (see `{where} --help`)", exc.exit_code)


def first_line(exc: object) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else ""


def fail(message: str, code: int):
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


def order_book(ctx: click.Context):
    obj = ctx.ensure_object(dict)
    if "engine" not in obj:
        obj["engine"] = db.connect(obj.get("db_url"))
        # Hand the connections back when the command ends (a scheduler may call us in-process).
        ctx.call_on_close(obj["engine"].dispose)
    return obj["engine"]


def instant(value: str | None, option: str) -> datetime | None:
    return None if value is None else parse_instant(value, option)
