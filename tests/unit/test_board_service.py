"""The board service on a small hand-made pipeline at a frozen "now" (SQLite and PostgreSQL).

Now is 2026-11-23 10:00 in Berlin (09:00 UTC), so for tester (Europe/Berlin) today is 2026-11-23.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from crm_tui.models import Contact, Opportunity, Pipeline, Stage
from crm_tui.services.board import board_summary, list_pipelines, stage_cards
from crm_tui.services.errors import NotFound, ValidationError

NOW = "2026-11-23T10:00:00+01:00"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.fixture
def board(db, people, frozen_now):
    """Pipeline "Sales": A (10 %, 7 days), B (50 %, never rots), Won, Lost; and "Other": X."""
    frozen_now(NOW)
    with db.write() as s:
        sales = Pipeline(name="Sales", position=0)
        other = Pipeline(name="Other", position=1)
        s.add_all([sales, other])
        s.flush()
        stages = {
            "A": Stage(pipeline_id=sales.id, name="A", position=0, probability=10, duration_days=7),
            "B": Stage(pipeline_id=sales.id, name="B", position=1, probability=50, duration_days=0),
            "W": Stage(pipeline_id=sales.id, name="Won", position=2, probability=100, is_won=True),
            "L": Stage(pipeline_id=sales.id, name="Lost", position=3, probability=0, is_lost=True),
            "X": Stage(pipeline_id=other.id, name="X", position=0, probability=20, duration_days=1),
        }
        s.add_all(stages.values())
        alpha = Contact(name="Alpha", first_name="Ann", company="Alpha GmbH")
        beta = Contact(name="Beta", company="Beta AG")
        s.add_all([alpha, beta])
        s.flush()

        def opp(key, title, contact, revenue, probability, due, entered, status="open"):
            stage = stages[key]
            o = Opportunity(
                title=title, contact_id=contact.id, pipeline_id=stage.pipeline_id,
                stage_id=stage.id, expected_revenue=Decimal(revenue), probability=probability,
                next_activity_due=due, stage_entered_at=entered, status=status,
            )
            s.add(o)
            return o

        opps = {
            # A: one opportunity of each state; o1 and o4 sit longer than 7 days (rotting)
            "o1": opp("A", "Overdue deal", alpha, "1000.10", 10, date(2026, 11, 20), utc(2026, 11, 1)),
            "o2": opp("A", "Today deal", beta, "2000.20", 10, date(2026, 11, 23), utc(2026, 11, 20)),
            # entered exactly 7 days before now: not (yet) rotting
            "o3": opp("A", "Planned deal", alpha, "0.05", 15, date(2026, 11, 30), utc(2026, 11, 16, 9)),
            "o4": opp("A", "Idle deal", beta, "300.00", 10, None, utc(2026, 10, 1)),
            # lost but left in an ordinary stage: off the board
            "o5": opp("A", "Gone deal", alpha, "999.00", 0, None, utc(2026, 1, 1), status="lost"),
            "o6": opp("B", "Old deal", alpha, "500.00", 50, date(2026, 11, 22), utc(2025, 1, 1)),
            "o7": opp("W", "Won deal", beta, "700.00", 100, None, utc(2026, 11, 2), status="won"),
            "o9": opp("L", "Lost deal", beta, "50.00", 0, None, utc(2026, 11, 3), status="lost"),
            "o10": opp("X", "Elsewhere", alpha, "10000.00", 20, date(2026, 11, 1), utc(2026, 1, 1)),
        }
        s.flush()
        ids = {k: v.id for k, v in opps.items()}
        stage_ids = {k: v.id for k, v in stages.items()}
        pipeline_ids = {"Sales": sales.id, "Other": other.id}
    return {"db": db, "actor": people["tester"], "opps": ids, "stages": stage_ids,
            "pipelines": pipeline_ids}


def test_list_pipelines_in_order_with_stages(board):
    with board["db"].read() as s:
        pipelines = list_pipelines(s)
    assert [p.name for p in pipelines] == ["Sales", "Other"]
    sales = pipelines[0]
    assert [(st.name, st.probability, st.duration_days) for st in sales.stages] == [
        ("A", 10, 7), ("B", 50, 0), ("Won", 100, 0), ("Lost", 0, 0),
    ]
    assert sales.stages[2].is_won and sales.stages[3].is_lost


def test_summary_counts_by_state_and_totals(board):
    with board["db"].read() as s:
        summary = board_summary(s, board["actor"], board["pipelines"]["Sales"])
    assert [st.name for st in summary] == ["A", "B", "Won", "Lost"]
    a, b, won, lost = summary
    assert a.counts == {"overdue": 1, "today": 1, "planned": 1, "none": 1}
    assert a.closed == 0 and a.total == 4
    # 1000.10 + 2000.20 + 0.05 + 300.00 (the lost o5 is not counted)
    assert a.expected_revenue == Decimal("3300.35")
    # 100.010 + 200.020 + 0.0075 + 30.000 = 330.0375 -> 330.04
    assert a.weighted_revenue == Decimal("330.04")
    assert a.rotting == 2
    assert b.counts == {"overdue": 1, "today": 0, "planned": 0, "none": 0}
    assert (b.expected_revenue, b.weighted_revenue, b.rotting) == (
        Decimal("500.00"), Decimal("250.00"), 0,
    )
    assert won.counts == {"overdue": 0, "today": 0, "planned": 0, "none": 0}
    assert (won.closed, won.expected_revenue, won.weighted_revenue) == (1, Decimal("700.00"), Decimal("700.00"))
    assert (lost.closed, lost.expected_revenue, lost.weighted_revenue) == (1, Decimal("50.00"), Decimal("0.00"))
    assert all(isinstance(st.expected_revenue, Decimal) for st in summary)


def test_summary_of_an_empty_pipeline_and_an_unknown_one(board):
    with board["db"].read() as s:
        other = board_summary(s, board["actor"], board["pipelines"]["Other"])
        assert other[0].counts["overdue"] == 1 and other[0].rotting == 1
        with pytest.raises(NotFound):
            board_summary(s, board["actor"], 99_999)


def test_today_is_the_actors_today(board, frozen_now):
    # 23:30 UTC on the 23rd is already the 24th in Berlin: "today" o2 becomes overdue.
    frozen_now("2026-11-23T23:30:00+00:00")
    with board["db"].read() as s:
        a = board_summary(s, board["actor"], board["pipelines"]["Sales"])[0]
    assert a.counts == {"overdue": 2, "today": 0, "planned": 1, "none": 1}
    # ... and o3 (entered 16 Nov 09:00 UTC) has now been there longer than 7 days
    assert a.rotting == 3


def test_cards_most_urgent_first_with_state_and_rotting(board):
    ids = board["opps"]
    with board["db"].read() as s:
        cards = stage_cards(s, board["actor"], board["stages"]["A"])
    assert [c.id for c in cards] == [ids["o1"], ids["o2"], ids["o3"], ids["o4"]]
    assert [c.state for c in cards] == ["overdue", "today", "planned", "none"]
    assert [c.rotting for c in cards] == [True, False, False, True]
    first = cards[0]
    assert (first.title, first.contact_name, first.expected_revenue) == (
        "Overdue deal", "Alpha, Ann", Decimal("1000.10"),
    )


def test_cards_window_state_filter_and_search(board):
    ids = board["opps"]
    actor, stage = board["actor"], board["stages"]["A"]
    with board["db"].read() as s:
        assert [c.id for c in stage_cards(s, actor, stage, offset=1, limit=2)] == [ids["o2"], ids["o3"]]
        assert [c.id for c in stage_cards(s, actor, stage, state="overdue")] == [ids["o1"]]
        assert [c.id for c in stage_cards(s, actor, stage, state="none")] == [ids["o4"]]
        assert [c.id for c in stage_cards(s, actor, stage, search="beta")] == [ids["o2"], ids["o4"]]
        assert [c.id for c in stage_cards(s, actor, stage, search="planned")] == [ids["o3"]]
        won = stage_cards(s, actor, board["stages"]["W"])
        assert [(c.id, c.status, c.state) for c in won] == [(ids["o7"], "won", "none")]
        with pytest.raises(ValidationError):
            stage_cards(s, actor, stage, state="purple")
