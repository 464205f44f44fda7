"""`crm report NAME`: JSON numbers, tables readable without colour, and wrong input refused."""

from __future__ import annotations

import pytest

NOW = "2026-11-23T10:00:00+01:00"


@pytest.fixture
def deals(crm, frozen_now):
    frozen_now(NOW)
    contact = crm("contacts", "add", "--name", "Pan", "--status", "customer", "--no-auto-plan",
                  "--json").json["id"]

    def add(title, revenue, close, stage="NEU"):
        result = crm("opps", "add", "--title", title, "--contact", str(contact), "--pipeline",
                     "Immobilien", "--stage", stage, "--expected-revenue", revenue,
                     "--expected-close", close, "--owner", "tester", "--json")
        assert result.code == 0, result.err
        return result.json["id"]

    ids = {
        "flat": add("Mietwohnung Olpe", "1000", "2026-12-01"),
        "house": add("MFH Olpe", "850.000,00", "2027-02-01"),
        "loft": add("Loft", "5000", "2026-11-30", stage="Besichtigungstermin"),
        "gone": add("Garage", "300", "2026-11-25"),
    }
    assert crm("opps", "lost", str(ids["gone"]), "--reason", "Preis zu hoch").code == 0
    return ids


def test_forecast_json_this_quarter(crm, deals):
    result = crm("report", "forecast", "--period", "this-quarter", "--owner", "@me", "--json")
    assert result.code == 0, result.err
    data = result.json
    assert data["report"] == "forecast"
    assert data["period"] == {"start": "2026-10-01", "end": "2026-12-31"}
    assert data["owner"] == "tester"
    assert data["total"] == {"key": "total", "count": 2, "expected_revenue": "6000.00",
                             "weighted_revenue": "2100.00"}
    stages = {s["key"]: (s["count"], s["weighted_revenue"]) for s in data["stages"]}
    assert stages["NEU"] == (1, "100.00") and stages["Besichtigungstermin"] == (1, "2000.00")
    assert [m["key"] for m in data["months"]] == ["2026-11", "2026-12"]


def test_lost_reasons_and_won_lost(crm, deals):
    result = crm("report", "lost-reasons", "--period", "this-month", "--json")
    assert result.code == 0, result.err
    assert result.json["opportunities"] == [
        {"reason": "Preis zu hoch", "count": 1, "revenue": "300.00", "share": 100},
    ]
    result = crm("report", "won-lost", "--json")
    november = next(m for m in result.json["months"] if m["month"] == "2026-11")
    assert (november["lost"], november["lost_revenue"]) == (1, "300.00")


@pytest.mark.parametrize("name", ["forecast", "won-lost", "lost-reasons", "activities", "stages"])
def test_every_report_prints_a_table(crm, deals, name):
    result = crm("report", name)
    assert result.code == 0, result.err
    assert "\x1b[" not in result.out  # not a terminal: no colour codes, numbers carry the meaning
    if name == "forecast":
        assert "NEU" in result.out and "851,000.00" in result.out
        assert "█" in result.out  # bars, each next to its number
    if name == "lost-reasons":
        assert "Preis zu hoch" in result.out and "100%" in result.out


def test_bad_input(crm, deals):
    result = crm("report", "forecast", "--from", "someday")
    assert result.code == 1 and "from:" in result.err
    result = crm("report", "forecast", "--pipeline", "Nope")
    assert result.code == 1 and "pipeline:" in result.err
    assert crm("report", "weather").code == 2
    assert crm("report", "forecast", "--period", "this-quarter", "--from", "2026-01-01").code == 1
