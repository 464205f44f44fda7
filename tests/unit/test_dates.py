"""Dates as people type them, and month arithmetic."""

from datetime import date, time

import pytest

from crm_tui.services.dates import add_months, parse_date, parse_time
from crm_tui.services.errors import ValidationError

TODAY = date(2026, 11, 23)  # a Monday


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-01", date(2026, 12, 1)),
        ("1.12.2026", date(2026, 12, 1)),
        ("1.12.", date(2026, 12, 1)),
        ("01.12.26", date(2026, 12, 1)),
        ("today", TODAY),
        ("tomorrow", date(2026, 11, 24)),
        ("+3d", date(2026, 11, 26)),
        ("+2w", date(2026, 12, 7)),
        ("+1m", date(2026, 12, 23)),
        ("-1d", date(2026, 11, 22)),
        ("+3", date(2026, 11, 26)),
        ("mon", date(2026, 11, 30)),  # next Monday, not today
        ("fri", date(2026, 11, 27)),
    ],
)
def test_parse_date(text, expected):
    assert parse_date(text, TODAY) == expected


@pytest.mark.parametrize("text", ["", "31.2.2026", "someday", "2026-13-01", "+3x"])
def test_bad_dates_name_the_field(text):
    with pytest.raises(ValidationError) as caught:
        parse_date(text, TODAY, field="due")
    assert caught.value.field == "due"


def test_add_months_clamps_month_ends():
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2028, 1, 31), 1) == date(2028, 2, 29)
    assert add_months(date(2026, 12, 15), 1) == date(2027, 1, 15)
    assert add_months(date(2026, 3, 31), -1) == date(2026, 2, 28)


def test_parse_time():
    assert parse_time("9") == time(9, 0)
    assert parse_time("14:30") == time(14, 30)
    assert parse_time("1430") == time(14, 30)
    assert parse_time("") is None
    with pytest.raises(ValidationError):
        parse_time("25:00")
