"""Schedule intervals as people type them (15m, 1h, 1d) and as cron and systemd want them."""

from __future__ import annotations

import re
from datetime import timedelta

from ordertools.errors import ConfigurationError


def parse_every(text: str) -> timedelta:
    """`15m`, `1h`, `90s`, `1d` -> a timedelta of at least a minute."""
    match = re.fullmatch(r"\s*(\d+)\s*([smhd])\s*", text)
    if not match:
        raise ConfigurationError(f"--every {text!r}: use a number and s, m, h or d, e.g. 15m")
    amount, unit = int(match[1]), match[2]
    every = timedelta(**{{"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[unit]: amount})
    if every < timedelta(minutes=1):
        raise ConfigurationError(f"--every {text!r}: a sync runs at most once a minute")
    return every


# When a daily run starts: at night, off the hour (when everyone's cron fires). The
# reconciliation's report asks Amazon for the day just ended.
NIGHTLY = ("30 3 * * *", "*-*-* 03:30:00")

# How often each notebook runs when `schedule` is not told: the sync every 15 minutes (as
# Amazon's lag and searchOrders' pace allow), the reconciliation nightly.
DEFAULT_EVERY = {"sync": "15m", "reconcile": "1d"}


def default_every(notebook: str) -> str:
    return DEFAULT_EVERY.get(notebook.removesuffix(".ipynb"), "15m")


def cron_and_calendar(every: timedelta) -> tuple[str, str]:
    """The cron fields and systemd OnCalendar for `every`, when both calendars can say it."""
    if every == timedelta(days=1):
        return NIGHTLY
    minutes = int(every.total_seconds() // 60)
    if every.total_seconds() % 60 == 0:
        if minutes < 60 and 60 % minutes == 0:
            return f"*/{minutes} * * * *", f"*-*-* *:00/{minutes}:00"
        hours, rest = divmod(minutes, 60)
        if not rest and hours < 24 and 24 % hours == 0:
            return f"0 */{hours} * * *", f"*-*-* 00/{hours}:00:00"
    raise ConfigurationError(
        f"every {every} is not a cron interval: use minutes dividing an hour (5m, 15m, 30m), "
        "hours dividing a day (1h, 2h, 6h) or 1d"
    )
