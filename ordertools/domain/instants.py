"""Instants typed by people (`--integrated-at`, `--as-of`, a notebook's `as_of` parameter), and
instants read back from anywhere, in UTC."""

from __future__ import annotations

from datetime import UTC, datetime

from ordertools.errors import ConfigurationError


def parse_instant(value: str, what: str) -> datetime:
    """An ISO 8601 time with its zone (`Z` accepted), in UTC.

    A time without a zone is refused rather than guessed: a store integrated at the wrong
    instant imports the wrong orders. `what` names the option in the one-line error.
    """
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigurationError(
            f"{what} {value!r} is not an ISO 8601 time, e.g. 2026-11-01T00:00:00Z"
        ) from None
    if moment.tzinfo is None:
        raise ConfigurationError(f"{what} {value!r} needs a time zone, e.g. ...T00:00:00Z")
    return moment.astimezone(UTC)


def utc(moment: datetime) -> datetime:
    """An instant in UTC; a naive one (SQLite hands some back so) is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def when(moment: datetime | None) -> str:
    """An instant the way every listing shows it, in UTC to the minute: "2026-12-02 17:08 UTC"
    ("" for none)."""
    return utc(moment).strftime("%Y-%m-%d %H:%M UTC") if moment else ""
