"""`crm board`: per stage exactly name, probability, counts, expected_revenue, weighted_revenue,
rotting; a table readable without colour; the numbers follow activities and moves."""

from __future__ import annotations

import pytest

NOW = "2026-11-23T10:00:00+01:00"
STAGE_KEYS = ["name", "probability", "counts", "expected_revenue", "weighted_revenue", "rotting"]


@pytest.fixture
def deals(crm, frozen_now):
    frozen_now(NOW)
    contact = crm("contacts", "add", "--name", "Pan", "--status", "customer", "--no-auto-plan", "--json").json["id"]

    def add(title, revenue, stage="NEU"):
        result = crm("opps", "add", "--title", title, "--contact", str(contact), "--pipeline", "Immobilien",
                     "--stage", stage, "--expected-revenue", revenue, "--json")
        assert result.code == 0, result.err
        return result.json["id"]

    ids = {
        "overdue": add("Mietwohnung Olpe", "1000"),
        "today": add("MFH Olpe", "850.000,00"),
        "none": add("Loft", "5000", stage="Besichtigungstermin"),
    }
    for key, due in (("overdue", "yesterday"), ("today", "today")):
        assert crm("activities", "plan", "--opp", str(ids[key]), "--type", "E-Mail", "--due", due).code == 0
    # a future activity next to the overdue one: the opportunity stays overdue (red)
    assert crm("activities", "plan", "--opp", str(ids["overdue"]), "--type", "E-Mail", "--due", "+7d").code == 0
    return ids


def board(crm, *options):
    result = crm("board", "--json", *options)
    assert result.code == 0, result.err
    return result.json


def test_board_json_shape_and_numbers(crm, deals):
    stages = board(crm, "--pipeline", "Immobilien")
    assert [s["name"] for s in stages] == ["NEU", "Besichtigungstermin", "Vertrag", "Erfolgreich"]
    assert all(list(s) == STAGE_KEYS for s in stages)
    new, visit, contract, won = stages
    assert new == {
        "name": "NEU", "probability": 10,
        "counts": {"overdue": 1, "today": 1, "planned": 0, "none": 0},
        "expected_revenue": "851000.00", "weighted_revenue": "85100.00", "rotting": 0,
    }
    assert visit["counts"] == {"overdue": 0, "today": 0, "planned": 0, "none": 1}
    assert (visit["expected_revenue"], visit["weighted_revenue"]) == ("5000.00", "2000.00")
    assert contract["counts"] == won["counts"] == {"overdue": 0, "today": 0, "planned": 0, "none": 0}
    assert board(crm) == stages  # the first pipeline is the default


def test_moves_and_won_change_the_counts(crm, deals):
    assert crm("opps", "move", str(deals["today"]), "--next").code == 0
    new, visit, *_ = board(crm)
    assert new["counts"] == {"overdue": 1, "today": 0, "planned": 0, "none": 0}
    assert visit["counts"] == {"overdue": 0, "today": 1, "planned": 0, "none": 1}
    assert visit["expected_revenue"] == "855000.00"
    assert crm("opps", "won", str(deals["none"])).code == 0
    *_, won = board(crm)
    assert won["counts"] == {"overdue": 0, "today": 0, "planned": 0, "none": 0}  # closed: no state
    assert won["expected_revenue"] == "5000.00"


def test_rotting_counts_at_a_later_now(crm, deals, frozen_now):
    frozen_now("2026-12-01T10:00:00+01:00")  # 8 days later: NEU lasts 7 days
    new, visit, *_ = board(crm)
    assert new["rotting"] == 2 and visit["rotting"] == 0
    assert new["counts"]["overdue"] == 2  # the "today" activity is overdue now


def test_table_is_readable_without_colour(crm, deals):
    result = crm("board", "--pipeline", "immobilien")
    assert result.code == 0
    lines = result.out.splitlines()
    assert "Pipeline Immobilien · 2026-11-23" in lines[0]
    header = lines[1].split()
    assert header == ["stage", "prob", "overdue", "today", "planned", "none", "revenue", "weighted", "rotting"]
    neu = next(line for line in lines if line.startswith("NEU"))
    assert neu.split() == ["NEU", "10%", "1", "1", "0", "0", "851000.00", "85100.00"]
    assert "\x1b[" not in result.out
    assert lines[-1].split()[:5] == ["total", "1", "1", "0", "1"]


def test_unknown_pipeline_exits_1(crm, deals):
    result = crm("board", "--pipeline", "Nope")
    assert result.code == 1
    assert result.err.startswith("crm: pipeline: no pipeline 'Nope' (pipelines: Immobilien, B2B Vertrieb)")
