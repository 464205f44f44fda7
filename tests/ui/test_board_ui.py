"""The pipeline board and the opportunity screens, driven by keyboard at 80x24 over the demo
database (CRM_NOW frozen): colour filters, moves, won/lost, search, the opportunity form, merge,
windows of big columns, the pipeline settings, and agreement with `crm board --json`.

Expectations come from the services and the command line on the same database.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from crm_tui.app import CrmApp
from crm_tui.screens.board import CARDS_PER_COLUMN, BoardScreen, Card, StageColumn
from crm_tui.screens.modals.lost_reason import LostReasonDialog
from crm_tui.screens.modals.merge import MergeDialog
from crm_tui.screens.modals.opportunity_form import OpportunityForm
from crm_tui.screens.opportunity_card import OpportunityCardScreen
from crm_tui.screens.settings_pipelines import (
    PipelineTable,
    RemoveStageDialog,
    StageForm,
)
from crm_tui.widgets.format import money

SIZE = (80, 24)
STATES = ("overdue", "today", "planned", "none")


@pytest.fixture(autouse=True)
def _no_typing_delays(monkeypatch):
    import crm_tui.screens.board
    import crm_tui.screens.modals.opportunity_form

    monkeypatch.setattr(crm_tui.screens.board, "SEARCH_DELAY", 0)
    monkeypatch.setattr(crm_tui.screens.modals.opportunity_form, "CONTACT_SEARCH_DELAY", 0)


def board_json(demo_db, capsys) -> list[dict]:
    """What `crm board --json` prints (in-process, same database, same frozen now and user)."""
    from crm_tui.cli import main

    capsys.readouterr()
    assert main(["--db", str(demo_db), "board", "--json"]) == 0
    return json.loads(capsys.readouterr().out)


async def open_board(app, pilot, ui) -> BoardScreen:
    await ui.settle(app, pilot)
    await pilot.press("f3")
    await ui.settle(app, pilot)
    board = app.screen
    assert isinstance(board, BoardScreen)
    return board


def columns(board: BoardScreen) -> list[StageColumn]:
    return board._columns()


def column_with_cards(board: BoardScreen, state: str | None = None) -> StageColumn:
    for column in columns(board):
        cards = column.card_widgets()
        if cards and (state is None or any(c.card.state == state for c in cards)) \
                and not (column.summary.is_won or column.summary.is_lost):
            return column
    raise AssertionError("no column with such cards")


async def focus_card(board: BoardScreen, pilot, card: Card) -> None:
    board._focus_card(card)
    await pilot.pause()
    assert board.focused is card


def opportunity(read_db, opportunity_id: int):
    from crm_tui.services.opportunities import get_opportunity

    return read_db(lambda s, a: get_opportunity(s, a, opportunity_id))


# -- the board and `crm board --json` ---------------------------------------------------------


async def test_board_and_the_command_line_agree(demo_db, ui, capsys):
    from crm_tui.services.validation import money_text

    expected = board_json(demo_db, capsys)
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        board = await open_board(app, pilot, ui)
        shown = [c.summary for c in columns(board)]
        assert [s.name for s in shown] == [e["name"] for e in expected]
        for summary, stage in zip(shown, expected, strict=True):
            assert {k: summary.counts[k] for k in STATES} == stage["counts"], stage["name"]
            assert money_text(summary.expected_revenue) == stage["expected_revenue"]
            assert money_text(summary.weighted_revenue) == stage["weighted_revenue"]
            assert summary.rotting == stage["rotting"]
            assert summary.probability == stage["probability"]
        # what is drawn: the first columns' counts (in the legend's order) and totals
        text = ui.text(app)
        assert "1 overdue" in text and "2 today" in text and "3 planned" in text and "4 none" in text
        for stage in expected[:2]:
            counts = " ".join(str(stage["counts"][k]) for k in STATES)
            assert counts in text, stage["name"]
            total = money(Decimal(stage["expected_revenue"]), "EUR", cents=False)
            assert f"Σ {total}" in text


# -- colour filters ---------------------------------------------------------------------------


async def test_yellow_shows_the_opportunities_due_today(demo_db, ui, capsys):
    expected = {s["name"]: s for s in board_json(demo_db, capsys)}
    assert sum(s["counts"]["today"] for s in expected.values()) > 0
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        board = await open_board(app, pilot, ui)
        full = {c.summary.name: dict(c.summary.counts) for c in columns(board)}
        await pilot.press("2")
        await ui.settle(app, pilot)
        assert board.state == "today"
        for column in columns(board):
            today = expected[column.summary.name]["counts"]["today"]
            cards = [w.card for w in column.card_widgets()]
            assert all(card.state == "today" and card.status == "open" for card in cards)
            assert len(cards) == min(today, CARDS_PER_COLUMN), column.summary.name
            assert column.summary.counts == full[column.summary.name]  # bars keep full counts
        text = ui.text(app)
        total = sum(s["counts"]["today"] for s in expected.values())
        assert "[2 today]" in text and f"only today: {total}" in text
        assert isinstance(board.focused, Card) and board.focused.card.state == "today"

        await pilot.press("2")  # the same colour again: all
        await ui.settle(app, pilot)
        assert board.state is None and "all shown" in ui.text(app)
        assert any(w.card.state != "today" for w in board.query(Card))

        await pilot.press("1", "0")  # red, then clear
        await ui.settle(app, pilot)
        assert board.state is None


# -- moves ------------------------------------------------------------------------------------


async def test_moving_a_card_changes_the_counts_of_both_columns(demo_db, read_db, ui):
    from crm_tui.services.audit import list_history

    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        board = await open_board(app, pilot, ui)
        source = columns(board)[0]
        target = columns(board)[1]
        card = source.card_widgets()[0].card
        before_source = dict(source.summary.counts)
        before_target = dict(target.summary.counts)
        target_widgets = target.card_widgets()
        await focus_card(board, pilot, source.card_widgets()[0])

        await pilot.press("shift+right")
        await ui.settle(app, pilot)

        assert source.summary.counts[card.state] == before_source[card.state] - 1
        assert target.summary.counts[card.state] == before_target[card.state] + 1
        assert card.id not in [w.card.id for w in source.card_widgets()]
        assert columns(board)[1] is target  # updated in place, not rebuilt
        assert set(target.card_widgets()) >= set(target_widgets)
        moved = opportunity(read_db, card.id)
        assert moved.stage == target.summary.name
        assert moved.probability == target.summary.probability
        stage_rows = read_db(lambda s, a: list_history(s, a, opportunity_id=card.id, limit=5))
        assert any(r.action == "stage" and r.new_value == target.summary.name for r in stage_rows)
        # the focus followed the card into its new column (most urgent first: it is in the window)
        assert isinstance(board.focused, Card) and board.focused.card.id == card.id
        text = ui.text(app)
        counts = " ".join(str(target.summary.counts[k]) for k in STATES)
        assert counts in text

        await pilot.press("H")  # and back
        await ui.settle(app, pilot)
        assert opportunity(read_db, card.id).stage == source.summary.name
        assert source.summary.counts == before_source and target.summary.counts == before_target


# -- won, lost, reopen ------------------------------------------------------------------------


async def test_won_and_lost_by_keys_lost_needs_a_reason(demo_db, read_db, ui):
    from crm_tui.services.opportunities import list_lost_reasons

    reasons = read_db(lambda s, a: list_lost_reasons(s))
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        board = await open_board(app, pilot, ui)
        column = column_with_cards(board)
        first, second = column.card_widgets()[:2]
        won_id, lost_id = first.card.id, second.card.id
        await focus_card(board, pilot, first)
        await pilot.press("w")
        await ui.settle(app, pilot)
        assert opportunity(read_db, won_id).status == "won"
        assert opportunity(read_db, won_id).probability == 100
        assert won_id not in [w.card.id for w in column.card_widgets()]

        card = next(w for w in column.card_widgets() if w.card.id == lost_id)
        await focus_card(board, pilot, card)
        await pilot.press("l")
        await ui.settle(app, pilot)
        dialog = app.screen
        assert isinstance(dialog, LostReasonDialog)
        await pilot.press("ctrl+s")  # no reason chosen: refused, next to the field
        await ui.settle(app, pilot)
        assert app.screen is dialog
        error = dialog.query_one("#error-reason")
        assert error.has_class("-shown") and "reason is required" in ui.static_text(error)
        assert opportunity(read_db, lost_id).status == "open"

        await pilot.press("enter", "down", "enter")  # open the list, first reason, choose it
        await pilot.pause()
        assert dialog.query_one("#field-reason").value == reasons[0]
        await pilot.press(*"zu teuer", "ctrl+s")
        await ui.settle(app, pilot)
        assert app.screen is board
        lost = opportunity(read_db, lost_id)
        assert (lost.status, lost.lost_reason, lost.lost_note, lost.probability) == (
            "lost", reasons[0], "zu teuer", 0)


async def test_the_opportunity_card_edits_wins_and_reopens(demo_db, read_db, ui):
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        board = await open_board(app, pilot, ui)
        column = column_with_cards(board)
        widget = column.card_widgets()[0]
        card = widget.card
        await focus_card(board, pilot, widget)
        await pilot.press("enter")
        await ui.settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, OpportunityCardScreen)
        text = ui.text(app)
        assert card.title[:30] in text and "Pipeline" in text and "History" in text

        await pilot.press("w")
        await ui.settle(app, pilot)
        assert opportunity(read_db, card.id).status == "won"
        assert "won" in ui.text(app)
        await pilot.press("o")
        await ui.settle(app, pilot)
        assert opportunity(read_db, card.id).status == "open"
        assert opportunity(read_db, card.id).stage == column.summary.name

        await pilot.press("e")
        await ui.settle(app, pilot)
        form = app.screen
        assert isinstance(form, OpportunityForm)
        assert form.query_one("#field-title").value == card.title
        form.query_one("#field-title").value = "Umbenannt"
        await pilot.press("ctrl+s")
        await ui.settle(app, pilot)
        assert app.screen is screen
        assert opportunity(read_db, card.id).title == "Umbenannt"

        await pilot.press("escape")
        await ui.settle(app, pilot)
        assert app.screen is board
        assert any(w.card.title == "Umbenannt" for w in column.card_widgets())


# -- search -----------------------------------------------------------------------------------


async def test_board_search_narrows_every_column(demo_db, ui):
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        board = await open_board(app, pilot, ui)
        before = len(board.query(Card))
        word = next(iter(board.query(Card))).card.contact_name.split(",")[0][:5]
        await pilot.press("slash", *word)
        await ui.settle(app, pilot)
        cards = [w.card for w in board.query(Card)]
        assert 0 < len(cards) < before
        for card in cards:
            assert word.lower() in f"{card.title} {card.contact_name} {card.company}".lower()
        assert f'search "{word}"' in ui.text(app)
        await pilot.press("enter")  # to the cards, the search stays
        await ui.settle(app, pilot)
        assert isinstance(board.focused, Card) and board.search == word
        await pilot.press("escape")  # clears it
        await ui.settle(app, pilot)
        assert board.search == "" and len(board.query(Card)) == before


# -- the opportunity form ---------------------------------------------------------------------


async def test_create_an_opportunity_through_the_form(demo_db, read_db, ui):
    from crm_tui.services.opportunities import (
        OpportunityFilter,
        count_opportunities,
        list_opportunities,
    )

    def count_titled(title: str) -> int:
        return read_db(lambda s, a: count_opportunities(
            s, a, OpportunityFilter(status="all", search=title)))

    total = read_db(lambda s, a: count_opportunities(s, a, OpportunityFilter(status="all")))
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        board = await open_board(app, pilot, ui)
        first_stage = columns(board)[0].summary
        await focus_card(board, pilot, columns(board)[0].card_widgets()[0])
        await pilot.press("n")
        await ui.settle(app, pilot)
        form = app.screen
        assert isinstance(form, OpportunityForm)
        await pilot.press(*"Lagerhalle Zyx", "tab")
        await pilot.press(*"Olpe")  # the contact, by search
        await ui.settle(app, pilot)
        assert form._matches
        chosen = form._matches[0]
        await pilot.press("enter")
        await pilot.pause()
        assert form.contact_id == chosen.id
        form.query_one("#field-expected_revenue").value = "12x3"
        await pilot.press("ctrl+s")
        await ui.settle(app, pilot)
        assert app.screen is form
        error = form.query_one("#error-expected_revenue")
        assert error.has_class("-shown") and "amount" in ui.static_text(error)
        assert count_titled("Zyx") == 0  # nothing written

        form.query_one("#field-expected_revenue").value = "12.500,50"
        await pilot.press("ctrl+s")
        await ui.settle(app, pilot)
        assert app.screen is board
        assert read_db(lambda s, a: count_opportunities(s, a, OpportunityFilter(status="all"))) == total + 1
        row = read_db(lambda s, a: list_opportunities(
            s, a, OpportunityFilter(status="all", search="Zyx")))[0]
        assert (row.title, row.contact_id, row.stage, str(row.expected_revenue), row.owner) == (
            "Lagerhalle Zyx", chosen.id, first_stage.name, "12500.50", "tester")
        assert columns(board)[0].summary.total == first_stage.total + 1


# -- merge ------------------------------------------------------------------------------------


async def test_merge_two_marked_cards(demo_db, read_db, ui):
    from crm_tui.services.errors import NotFound

    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        board = await open_board(app, pilot, ui)
        column = column_with_cards(board)
        first, second = (w.card for w in column.card_widgets()[:2])
        await focus_card(board, pilot, column.card_widgets()[0])
        await pilot.press("M")  # nothing marked: a hint, no dialog
        await pilot.pause()
        assert app.screen is board
        await pilot.press("space", "space")
        await pilot.pause()
        assert set(board.marked) == {first.id, second.id}
        assert "2 marked" in ui.text(app)
        assert "✔" in ui.text(app)
        await pilot.press("M")
        await ui.settle(app, pilot)
        dialog = app.screen
        assert isinstance(dialog, MergeDialog)
        differ = first.contact_id != second.contact_id
        assert dialog.query_one("#merge-warning").has_class("-shown") == differ
        assert "Moves to" in ui.static_text(dialog.query_one("#merge-preview"))
        await pilot.press("enter")  # the highlighted (first) survives
        await ui.settle(app, pilot)
        assert app.screen is board and not board.marked
        assert opportunity(read_db, first.id).id == first.id
        with pytest.raises(NotFound):
            opportunity(read_db, second.id)
        assert second.id not in [w.card.id for w in board.query(Card)]


# -- big columns ------------------------------------------------------------------------------


async def test_a_big_column_is_windowed_and_pages(demo_db, read_db, ui):
    from crm_tui.services.board import board_summary, list_pipelines, stage_cards
    from crm_tui.services.opportunities import create_opportunity
    from crm_tui.workspace import open_workspace

    pipeline = read_db(lambda s, a: list_pipelines(s))[0]
    stage = pipeline.stages[0]
    contact_id = read_db(lambda s, a: stage_cards(s, a, stage.id, 0, 1))[0].contact_id
    workspace = open_workspace(demo_db, "tester")
    try:
        workspace.write(lambda s: [
            create_opportunity(s, workspace.actor, {
                "title": f"Stapel {n:03}", "contact": contact_id, "pipeline": pipeline.name,
                "stage": stage.name, "expected_revenue": "100"})
            for n in range(2 * CARDS_PER_COLUMN)
        ])
    finally:
        workspace.close()
    total = read_db(lambda s, a: board_summary(s, a, pipeline.id))[0].total
    order = read_db(lambda s, a: stage_cards(s, a, stage.id, 0, total))

    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        board = await open_board(app, pilot, ui)
        column = columns(board)[0]
        assert len(column.card_widgets()) == CARDS_PER_COLUMN  # never one widget per card
        assert f"+ {total - CARDS_PER_COLUMN} more" in ui.static_text(
            column.query_one(".column-more"))
        await focus_card(board, pilot, column.card_widgets()[0])
        pages = CARDS_PER_COLUMN // 5 + 1  # pagedown: five cards on
        for _ in range(pages):
            await pilot.press("pagedown")
            await ui.settle(app, pilot)
        await pilot.press("down")
        await ui.settle(app, pilot)
        steps = pages * 5 + 1
        assert column.window_start > 0
        assert len(column.card_widgets()) <= CARDS_PER_COLUMN
        assert board.focused.card.id == order[steps].id
        assert "more" in ui.static_text(column.query_one(".column-above"))
        await pilot.press("up")
        for _ in range(pages):
            await pilot.press("pageup")
            await ui.settle(app, pilot)
        assert column.window_start == 0 and board.focused.card.id == order[0].id


# -- settings: pipelines ----------------------------------------------------------------------


async def test_pipeline_settings_add_and_remove_a_stage(demo_db, read_db, ui):
    from crm_tui.services.pipelines import list_pipeline_configs

    before = read_db(lambda s, a: list_pipeline_configs(s))[0]
    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        await ui.settle(app, pilot)
        await pilot.press("f6")
        await ui.settle(app, pilot)
        for _ in range(6):
            if isinstance(app.screen.focused, PipelineTable):
                break
            await pilot.press("tab")
            await pilot.pause()
        table = app.screen.focused
        assert isinstance(table, PipelineTable)
        assert "only an admin" not in ui.text(app)
        await pilot.press("a")  # the cursor is on the first pipeline
        await ui.settle(app, pilot)
        assert isinstance(app.screen, StageForm)
        await pilot.press(*"Finanzierung", "tab", *"60", "tab", *"14", "ctrl+s")
        await ui.settle(app, pilot)
        assert not isinstance(app.screen, StageForm)
        after = read_db(lambda s, a: list_pipeline_configs(s))[0]
        added = next(s for s in after.stages if s.name == "Finanzierung")
        assert (added.probability, added.duration_days, added.is_won) == (60, 14, False)
        assert len(after.stages) == len(before.stages) + 1
        assert table.get_row(f"s:{added.id}")  # shown in the table

        # remove the first stage: it holds opportunities, so the dialog asks where they go
        first = before.stages[0]
        assert first.opportunities > 0
        table.move_cursor(row=table.get_row_index(f"s:{first.id}"))
        await pilot.press("d")
        await ui.settle(app, pilot)
        dialog = app.screen
        assert isinstance(dialog, RemoveStageDialog)
        assert f"{first.opportunities} opportunities" in ui.text(app)
        target = dialog.query_one("#field-move_to").value
        await pilot.press("ctrl+s")
        await ui.settle(app, pilot)
        final = read_db(lambda s, a: list_pipeline_configs(s))[0]
        assert first.name not in [s.name for s in final.stages]
        moved_to = next(s for s in final.stages if s.name == target)
        previous = next(s for s in after.stages if s.name == target)
        assert moved_to.opportunities == previous.opportunities + first.opportunities


async def test_pipeline_settings_are_read_only_for_a_rep(demo_db, read_db, ui):
    from crm_tui.services.catalog import list_users

    rep = next(u.login for u in read_db(lambda s, a: list_users(s)) if u.role == "rep" and u.active)
    app = CrmApp(db_target=str(demo_db), login=rep)
    async with app.run_test(size=SIZE) as pilot:
        await ui.settle(app, pilot)
        await pilot.press("f6")
        await ui.settle(app, pilot)
        section = app.screen.query_one("#settings-pipelines")
        assert "Read-only" in ui.static_text(section.query_one("#pipelines-note"))
        section.query_one(PipelineTable).focus()
        await pilot.press("a")
        await pilot.pause()
        assert not isinstance(app.screen, StageForm)


async def test_editing_after_someone_else_saved_shows_the_conflict(demo_db, read_db, ui):
    from crm_tui.screens.modals.conflict import ConflictDialog
    from crm_tui.services.opportunities import update_opportunity
    from crm_tui.workspace import open_workspace

    app = CrmApp(db_target=str(demo_db), login="tester")
    async with app.run_test(size=SIZE) as pilot:
        board = await open_board(app, pilot, ui)
        widget = column_with_cards(board).card_widgets()[0]
        card = widget.card
        await focus_card(board, pilot, widget)
        await pilot.press("e")
        await ui.settle(app, pilot)
        form = app.screen
        assert isinstance(form, OpportunityForm)

        other = open_workspace(demo_db, "tester")  # another session saves meanwhile
        try:
            other.write(lambda s: update_opportunity(s, other.actor, card.id,
                                                     {"title": "Their title"}))
        finally:
            other.close()

        form.query_one("#field-title").value = "My title"
        await pilot.press("ctrl+s")
        await ui.settle(app, pilot)
        assert isinstance(app.screen, ConflictDialog)
        assert "Their title" in ui.text(app) and "My title" in ui.text(app)
        await pilot.press("m")  # keep mine
        await ui.settle(app, pilot)
        assert app.screen is board
        assert opportunity(read_db, card.id).title == "My title"
