"""The board read from its indexes (issue 8) gives what the plain definitions give: per-stage
totals computed in Python from every opportunity, and card windows cut from the whole column
sorted in Python (open ones by due date, those without one after them, then the closed ones)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from sqlmodel import select

from crm_tui import clock, config
from crm_tui.db.engine import Database, open_database
from crm_tui.db.migrate import ensure_schema
from crm_tui.models import Opportunity
from crm_tui.services.board import board_summary, list_pipelines, stage_cards
from crm_tui.services.states import state_of_due

NOW = "2026-11-23T10:00:00+01:00"
CENT = Decimal("0.01")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    from crm_tui.services.demo import generate_demo

    folder = tmp_path_factory.mktemp("board")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CRM_NOW", NOW)
        patch.setenv("CRM_CONFIG", str(folder / "absent.toml"))
        patch.setenv("CRM_GENERAL_TIMEZONE", "Europe/Berlin")
        config.reset_settings()
        db = open_database(folder / "demo.sqlite3")
        ensure_schema(db, backup=False)
        generate_demo(db, 3000, seed=5, acting_login="tester")
        try:
            yield db
        finally:
            db.dispose()
            config.reset_settings()


@pytest.fixture
def setting(demo: Database, monkeypatch: pytest.MonkeyPatch):
    from crm_tui.services.identity import resolve_actor

    monkeypatch.setenv("CRM_NOW", NOW)
    monkeypatch.setenv("CRM_GENERAL_TIMEZONE", "Europe/Berlin")
    with demo.write() as session:
        actor = resolve_actor(session, "tester")
    with demo.read() as session:
        pipelines = list_pipelines(session)
    return demo, actor, pipelines


def shown(stage, opportunity) -> bool:
    return opportunity.status == "open" or (stage.is_won and opportunity.status == "won") \
        or (stage.is_lost and opportunity.status == "lost")


def column(session, stage) -> list[Opportunity]:
    rows = session.exec(select(Opportunity).where(Opportunity.stage_id == stage.id)).all()
    return [o for o in rows if shown(stage, o)]


def test_the_summary_is_the_sum_of_the_cards(setting):
    db, actor, pipelines = setting
    today = actor.today()
    now = clock.now()
    with db.read() as session:
        for pipeline in pipelines:
            summary = {s.id: s for s in board_summary(session, actor, pipeline.id)}
            for stage in pipeline.stages:
                cards = column(session, stage)
                opened = [o for o in cards if o.status == "open"]
                head = summary[stage.id]
                states = [state_of_due(o.next_activity_due, today).value for o in opened]
                assert head.counts == {s: states.count(s) for s in ("overdue", "today", "planned", "none")}
                assert head.closed == len(cards) - len(opened)
                cents = [int((o.expected_revenue * 100).to_integral_value(ROUND_HALF_UP)) for o in cards]
                assert head.expected_revenue == (Decimal(sum(cents)) / 100).quantize(CENT)
                weighted = sum(c * o.probability for c, o in zip(cents, cards, strict=True))
                assert head.weighted_revenue == (Decimal(weighted) / 10_000).quantize(CENT, ROUND_HALF_UP)
                limit = now - timedelta(days=stage.duration_days)
                assert head.rotting == (sum(1 for o in opened if o.stage_entered_at < limit)
                                        if stage.duration_days else 0)


@pytest.mark.parametrize("state", [None, "overdue", "today", "planned", "none"])
def test_card_windows_cut_the_sorted_column(setting, state):
    db, actor, pipelines = setting
    today = actor.today()
    with db.read() as session:
        for pipeline in pipelines:
            for stage in pipeline.stages:
                cards = column(session, stage)
                if state is not None:
                    cards = [o for o in cards if o.status == "open"
                             and state_of_due(o.next_activity_due, today).value == state]
                cards.sort(key=lambda o: (o.status != "open", o.next_activity_due is None,
                                          o.next_activity_due or today, o.id))
                expected = [o.id for o in cards]
                got = []
                for offset in range(0, len(expected) + 30, 25):
                    window = stage_cards(session, actor, stage.id, offset, 25, state=state)
                    assert [c.id for c in window] == expected[offset:offset + 25], (stage.name, offset)
                    got.extend(c.id for c in window)
                assert got == expected
