"""Times as the emulator reads them: ISO 8601 from requests, and relative offsets in scenarios.

Scenarios say `"created": "-3d4h"` or `"at": "+45s"` so a demo loaded today looks recent and its
timeline plays out after start. Amazon writes times to the second, so the world keeps them so.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_RELATIVE = re.compile(
    r"^(?P<sign>[+-])(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?$"
)


def parse_iso(text: str) -> datetime:
    """An ISO 8601 date-time (Z or offset; naive means UTC) in UTC, or ValueError."""
    moment = datetime.fromisoformat(text.strip().replace("z", "Z").replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def to_second(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(microsecond=0)


def resolve_time(value: datetime | str | None, now: datetime) -> datetime:
    """A datetime, "now", "-3d4h"/"+45s" relative to `now`, or an ISO string; to the second."""
    if value is None or value == "now":
        return to_second(now)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value}: pass an aware one (UTC)")
        return to_second(value)
    match = _RELATIVE.match(value.strip())
    if match and any(match.group(unit) for unit in "dhms"):
        parts = {unit: int(match.group(unit) or 0) for unit in "dhms"}
        delta = timedelta(days=parts["d"], hours=parts["h"], minutes=parts["m"], seconds=parts["s"])
        return to_second(now + delta if match.group("sign") == "+" else now - delta)
    return to_second(parse_iso(value))
