"""Dates as people type them: `2026-12-01`, `1.12.2026`, `today`, `tomorrow`, `+3d`, `+2w`, `mon`."""

from __future__ import annotations

import calendar
import re
from datetime import date, time, timedelta

from crm_tui.services.errors import ValidationError

WEEKDAYS = {
    "mon": 0, "monday": 0, "mo": 0, "tue": 1, "tuesday": 1, "di": 1, "wed": 2, "wednesday": 2,
    "mi": 2, "thu": 3, "thursday": 3, "do": 3, "fri": 4, "friday": 4, "fr": 4, "sat": 5,
    "saturday": 5, "sa": 5, "sun": 6, "sunday": 6, "so": 6,
}
_OFFSET = re.compile(r"^([+-])\s*(\d{1,4})\s*([dwm]?)$")
_GERMAN = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{2}|\d{4})?$")
_TIME = re.compile(r"^(\d{1,2})(?::?(\d{2}))?$")


def add_months(day: date, months: int) -> date:
    """Calendar months, clamped at month ends (Jan 31 + 1 month = Feb 28/29)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def shift(day: date, count: int, unit: str) -> date:
    if unit in ("d", "days", "day"):
        return day + timedelta(days=count)
    if unit in ("w", "weeks", "week"):
        return day + timedelta(weeks=count)
    if unit in ("m", "months", "month"):
        return add_months(day, count)
    raise ValueError(f"unknown unit {unit!r}")


def parse_date(text: str, today: date, field: str = "due") -> date:
    """A date as typed; relative forms count from `today` (the user's)."""
    raw = (text or "").strip().lower()
    if not raw:
        raise ValidationError(field, "a date is required")
    if raw in ("today", "heute", "t"):
        return today
    if raw in ("tomorrow", "morgen", "tm"):
        return today + timedelta(days=1)
    if raw in ("yesterday", "gestern"):
        return today - timedelta(days=1)
    if raw in WEEKDAYS:
        ahead = (WEEKDAYS[raw] - today.weekday()) % 7 or 7
        return today + timedelta(days=ahead)
    match = _OFFSET.match(raw)
    if match:
        sign, count, unit = match.groups()
        value = int(count) * (-1 if sign == "-" else 1)
        return shift(today, value, unit or "d")
    match = _GERMAN.match(raw)
    try:
        if match:
            day, month, year = match.groups()
            year_value = today.year if year is None else int(year)
            if year is not None and len(year) == 2:
                year_value += 2000
            return date(year_value, int(month), int(day))
        return date.fromisoformat(raw)
    except ValueError:
        pass
    raise ValidationError(
        field, f"{text!r} is not a date (try 2026-12-01, 1.12.2026, today, tomorrow, +3d, +2w, mon)"
    )


def parse_optional_date(text: str | None, today: date, field: str) -> date | None:
    if text is None or not str(text).strip():
        return None
    return parse_date(str(text), today, field)


def parse_time(text: str | None, field: str = "time") -> time | None:
    raw = (text or "").strip()
    if not raw:
        return None
    match = _TIME.match(raw.replace(".", ":"))
    if match:
        hour, minute = int(match.group(1)), int(match.group(2) or 0)
        if hour < 24 and minute < 60:
            return time(hour, minute)
    raise ValidationError(field, f"{text!r} is not a time of day (HH:MM)")
