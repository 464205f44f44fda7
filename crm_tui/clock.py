"""The one source of "now".

Every part of the program (app, commands, daemon) asks this module for the time. Setting
`CRM_NOW` to an ISO 8601 date-time with offset freezes it, for demos, previews and tests.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ENV_NOW = "CRM_NOW"


class ClockError(ValueError):
    """CRM_NOW or a time zone name could not be understood."""


@lru_cache(maxsize=8)
def _parse_frozen(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise ClockError(f"CRM_NOW: {text!r} is not an ISO 8601 date-time") from exc
    if moment.tzinfo is None:
        raise ClockError(f"CRM_NOW: {text!r} needs an offset, e.g. 2026-11-23T09:00:00+01:00")
    return moment.astimezone(UTC)


def now() -> datetime:
    """The current moment as an aware UTC datetime (frozen by CRM_NOW)."""
    frozen = os.environ.get(ENV_NOW)
    if frozen:
        return _parse_frozen(frozen)
    return datetime.now(UTC)


@lru_cache(maxsize=64)
def zone(name: str | None) -> tzinfo:
    """A time zone by IANA name; None or "" means UTC."""
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ClockError(f"timezone: unknown time zone {name!r}") from exc


def local_now(tz: str | tzinfo | None) -> datetime:
    """Now in the given zone."""
    return now().astimezone(tz if isinstance(tz, tzinfo) else zone(tz))


def today(tz: str | tzinfo | None) -> date:
    """Today's date in the given zone (the date that decides overdue/today/planned)."""
    return local_now(tz).date()


def utc_naive(moment: datetime) -> datetime:
    """An aware datetime as naive UTC (what the database stores)."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def start_of_day_utc(day: date, tz: str | tzinfo | None, hour: int = 0, minute: int = 0) -> datetime:
    """The UTC moment at which `day` reaches hour:minute in zone `tz`."""
    zone_info = tz if isinstance(tz, tzinfo) else zone(tz)
    local = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone_info)
    return local.astimezone(UTC)


__all__ = [
    "ClockError",
    "ENV_NOW",
    "local_now",
    "now",
    "start_of_day_utc",
    "timedelta",
    "today",
    "utc_naive",
    "zone",
]
