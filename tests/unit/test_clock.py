"""The project clock: CRM_NOW freezes now; today depends on the time zone."""

from datetime import UTC, date, datetime

import pytest

from crm_tui import clock


def test_now_is_frozen_by_env(monkeypatch):
    monkeypatch.setenv("CRM_NOW", "2026-11-23T23:30:00+01:00")
    assert clock.now() == datetime(2026, 11, 23, 22, 30, tzinfo=UTC)


def test_today_depends_on_zone(monkeypatch):
    # 23:30 in Berlin is still the 23rd there, already the 24th in Warsaw? No: same offset.
    # 22:30 UTC is the 24th in Tokyo and the 23rd in New York.
    monkeypatch.setenv("CRM_NOW", "2026-11-23T22:30:00+00:00")
    assert clock.today("Asia/Tokyo") == date(2026, 11, 24)
    assert clock.today("America/New_York") == date(2026, 11, 23)
    assert clock.today("Europe/Berlin") == date(2026, 11, 23)
    assert clock.today(None) == date(2026, 11, 23)


def test_now_without_offset_is_refused(monkeypatch):
    monkeypatch.setenv("CRM_NOW", "2026-11-23T10:00:00")
    with pytest.raises(clock.ClockError, match="offset"):
        clock.now()


def test_unknown_zone_is_refused():
    with pytest.raises(clock.ClockError, match="unknown time zone"):
        clock.zone("Mars/Olympus")


def test_start_of_day_utc_across_dst():
    # 9:00 in Berlin is 08:00 UTC in winter and 07:00 UTC in summer.
    assert clock.start_of_day_utc(date(2026, 12, 1), "Europe/Berlin", 9).hour == 8
    assert clock.start_of_day_utc(date(2026, 7, 1), "Europe/Berlin", 9).hour == 7
