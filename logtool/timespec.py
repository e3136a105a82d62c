"""Times and days as users type them, read strictly; every error names the flag it came from.

``now`` is always passed in: nothing here reads the clock.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from logtool.errors import ConfigError

_SINCE = re.compile(r"(\d+)\s*([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_time(value: str, flag: str) -> datetime:
    """An ISO 8601 time (``2026-11-24T03:00:00Z``, ``2026-11-24 03:00+01:00``, ``2026-11-24``);
    naive times are UTC."""
    try:
        dt = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ConfigError(f"{flag}: not an ISO 8601 time: {value!r} (example: 2026-11-24T03:00:00Z)") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def parse_day(value: str, flag: str) -> str:
    """A calendar day ``YYYY-MM-DD`` (a time is accepted and cut to its day)."""
    try:
        return datetime.fromisoformat(value.strip()).date().isoformat()
    except ValueError:
        raise ConfigError(f"{flag}: not a date: {value!r} (example: 2026-11-01)") from None


def parse_month(value: str, flag: str) -> tuple[str, str]:
    """``YYYY-MM`` → its first and last day."""
    m = re.fullmatch(r"(\d{4})-(\d{2})", value.strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise ConfigError(f"{flag}: not a month: {value!r} (example: 2026-11)")
    first = date(int(m.group(1)), int(m.group(2)), 1)
    nxt = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return first.isoformat(), (nxt - timedelta(days=1)).isoformat()


def parse_since(value: str, now: datetime, flag: str = "--since") -> datetime:
    """A duration back from ``now`` (``90m``, ``24h``, ``2d``, ``1w``) or an ISO 8601 time."""
    m = _SINCE.fullmatch(value.strip())
    if m:
        return now - timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
    try:
        return parse_time(value, flag)
    except ConfigError:
        raise ConfigError(
            f"{flag}: not a duration or an ISO 8601 time: {value!r} (examples: 24h, 2d, 2026-11-24T03:00:00Z)"
        ) from None


def check_period(date_from: str | None, date_to: str | None) -> None:
    """``--from`` must not be after ``--to``."""
    if date_from and date_to and date_from > date_to:
        raise ConfigError(f"--from {date_from} is after --to {date_to}")


def day_expired(day: str, now: datetime, keep_days: int) -> bool:
    """True when the whole UTC ``day`` is older than ``keep_days`` at ``now``."""
    end_of_day = datetime.combine(date.fromisoformat(day) + timedelta(days=1), datetime.min.time(), now.tzinfo)
    return end_of_day <= now - timedelta(days=keep_days)
