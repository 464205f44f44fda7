"""The pipeline board: one column per stage, each headed by its state bar, counts and revenue
totals, with a window of its cards (never one widget per opportunity of a big stage).

What the keys do (every one a Binding with an id, listed by `?` and the command palette):
arrows move between cards and columns (reaching the end of a column's window fetches the next
one), shift+left/right (or H/L) move the focused opportunity to the previous/next stage, 1..4
filter the board to one activity state (overdue, today, planned, none; the same key again, or 0,
clears), `/` searches as you type, space marks cards and M merges the marked ones, Enter opens
the opportunity's card, c its contact, n/e create/edit, w/l/o win/lose/reopen, a plans an
activity.

Data comes from `services.board` in thread workers: a full load (aggregates + one window per
column) when the pipeline, the filter or the search changes; after a change to one opportunity
only the columns it left and entered are fetched again and updated in place.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import HorizontalScroll, Vertical, VerticalScroll
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Footer, Input, Static

from crm_tui.screens.base import MainScreen
from crm_tui.widgets.format import (
    CLOCK,
    STATE_ORDER,
    money,
    number,
    state_bar,
    state_colour,
)

if TYPE_CHECKING:
    from crm_tui.services.board import CardRow, PipelineInfo, StageSummary
    from crm_tui.workspace import Workspace

CARDS_PER_COLUMN = 30
"""The window of cards a column holds at most."""
PAGE_SHIFT = 20
"""How far the window moves when the cursor runs off its end."""
COLUMN_WIDTH = 25
"""Three columns fit an 80-column terminal."""
SEARCH_DELAY = 0.3
"""Seconds of quiet typing before the board searches (tests set 0)."""
STATE_KEYS = {"overdue": "1", "today": "2", "planned": "3", "none": "4"}
STATE_WORDS = {"overdue": "overdue", "today": "today", "planned": "planned", "none": "none"}

_FILTER = Binding.Group("Filter", compact=True)
_MOVE = Binding.Group("Move", compact=True)


def error_text(error: BaseException) -> str:
    """What a person reads of a service error (a ValidationError without its field prefix)."""
    message = getattr(error, "message", None)
    return str(message) if message else str(error)


@dataclass(frozen=True)
class BoardView:
    """What the board shows: pipeline, filter, search and each column's window start."""

    pipeline_id: int | None
    state: str | None = None
    search: str = ""
    offsets: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class BoardData:
    pipelines: list[PipelineInfo]
    pipeline: PipelineInfo | None
    summaries: list[StageSummary]
    cards: dict[int, list[CardRow]]
    offsets: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ColumnsUpdate:
    """Fresh numbers for the board and fresh windows for some of its columns."""

    summaries: list[StageSummary] | None
    """Every stage of the pipeline (one aggregate query); None: keep the headers."""
    cards: dict[int, list[CardRow]]
    """stage id -> its window of cards, for the columns to update."""
    offsets: dict[int, int]
    focus_id: int | None = None
    """Focus this opportunity's card if it is in a fetched window..."""
    focus_stage: int | None = None
    focus_row: int | None = None
    """...else this row of this column."""
    note: str = ""


def read_columns(session, actor, view: BoardView, stage_ids: Iterable[int],
                 *, summaries: bool = True):
    """Aggregates of the pipeline and the windows of `stage_ids` (in one read session)."""
    from crm_tui.services.board import board_summary, stage_cards

    heads = board_summary(session, actor, view.pipeline_id) if summaries else None
    known = {s.id for s in heads} if heads is not None else None
    cards = {}
    offsets = {}
    for stage_id in dict.fromkeys(stage_ids):
        if known is not None and stage_id not in known:
            continue
        offset = view.offsets.get(stage_id, 0)
        window = stage_cards(session, actor, stage_id, offset, CARDS_PER_COLUMN,
                             state=view.state, search=view.search or None)
        if not window and offset:
            offset = 0
            window = stage_cards(session, actor, stage_id, 0, CARDS_PER_COLUMN,
                                 state=view.state, search=view.search or None)
        cards[stage_id] = window
        offsets[stage_id] = offset
    return heads, cards, offsets


# -- widgets ---------------------------------------------------------------------------------


class Card(Static, can_focus=True):
    """One opportunity: state clock (✓/✗ once won/lost), rotting mark, title; contact, revenue."""

    DEFAULT_CSS = """
    Card {
        height: 2;
        text-wrap: nowrap;
        margin-bottom: 1;
        padding: 0 1;
        background: $boost;
    }
    Card.-marked {
        background: $accent 35%;
    }
    Card:focus {
        background: $block-cursor-background;
        color: $block-cursor-foreground;
    }
    """

    def __init__(self, card: CardRow, marked: bool = False) -> None:
        super().__init__(self._text(card, marked), markup=False)
        self.card = card
        self.marked = marked
        self.set_class(marked, "-marked")

    def show(self, card: CardRow, marked: bool) -> None:
        """Show another opportunity (or the same one, changed) in this widget."""
        if card != self.card or marked != self.marked:
            self.card = card
            self.marked = marked
            self.update(self._text(card, marked))
            self.set_class(marked, "-marked")

    @staticmethod
    def _text(card: CardRow, marked: bool = False) -> Text:
        width = COLUMN_WIDTH - 2
        first = Text(no_wrap=True)
        if marked:
            first.append("✔ ", style="bold")
        if card.status == "won":
            first.append("✓ ", style="green")
        elif card.status == "lost":
            first.append("✗ ", style="red")
        else:
            first.append(CLOCK + " ", style=state_colour(card.state))
        if card.rotting:
            first.append("! ", style="bold red")
        first.append(card.title, style="bold")
        first.truncate(width, overflow="ellipsis")
        revenue = money(card.expected_revenue, card.currency, cents=False)
        second = Text(card.contact_name, style="dim", no_wrap=True)
        second.truncate(max(width - len(revenue) - 1, 1), overflow="ellipsis", pad=True)
        second.append(" " + revenue)
        return Text("\n", no_wrap=True).join([first, second])


class StableFooter(Footer):
    """A footer that recomposes only when the keys it shows change.

    Every arrow key on the board moves the focus to another card, and Textual's footer rebuilds
    all its keys on every focus change (a few hundred milliseconds with this many bindings: a
    held arrow key lags). The board's keys do not change from card to card, so most of those
    rebuilds are skipped.
    """

    _shown: tuple | None = None

    def bindings_changed(self, screen) -> None:
        shown = tuple(
            (key, active.binding.description, active.enabled)
            for key, active in screen.active_bindings.items() if active.binding.show
        )
        if shown == self._shown and self._bindings_ready:
            return
        self._shown = shown
        super().bindings_changed(screen)


class CardList(VerticalScroll, can_focus=False, inherit_bindings=False):
    """A column's cards; scrolls to the focused card, leaves the arrow keys to the board."""


class BoardColumns(HorizontalScroll, can_focus=False, inherit_bindings=False):
    """The stage columns side by side; scrolls to the focused card's column."""


class StageColumn(Vertical):
    """A stage: header (name, state bar, counts, revenue totals) and a window of its cards."""

    DEFAULT_CSS = f"""
    StageColumn {{
        width: {COLUMN_WIDTH};
        height: 1fr;
        margin-right: 1;
    }}
    StageColumn .column-header {{
        height: 5;
        text-wrap: nowrap;
        padding: 0 1;
        background: $panel;
    }}
    StageColumn CardList {{
        height: 1fr;
        scrollbar-size-vertical: 0;
    }}
    StageColumn .column-more {{
        color: $text-muted;
        padding: 0 1;
        height: 1;
    }}
    StageColumn .column-above {{
        color: $text-muted;
        padding: 0 1;
        height: 1;
        display: none;
    }}
    StageColumn .column-above.-shown {{
        display: block;
    }}
    """

    def __init__(self, summary: StageSummary, cards: list[CardRow], currency: str | None = None,
                 *, state: str | None = None, search: str = "", offset: int = 0,
                 marked: set[int] | frozenset[int] = frozenset()) -> None:
        super().__init__()
        self.summary = summary
        self.cards = cards
        self.currency = currency
        self.state_filter = state
        self.search_text = search
        self.window_start = offset
        self._marked = marked

    @property
    def stage_id(self) -> int:
        return self.summary.id

    def compose(self) -> ComposeResult:
        yield Static(self._header(), classes="column-header", markup=False)
        with CardList():
            yield Static(self._above(), classes="column-above", markup=False)
            yield from (Card(card, card.id in self._marked) for card in self.cards)
            yield Static(self._more(), classes="column-more", markup=False)

    def on_mount(self) -> None:
        self.query_one(".column-above").set_class(self.window_start > 0, "-shown")

    # -- what the column knows about the cards it does not hold ------------------------------

    @property
    def total(self) -> int | None:
        """Cards the column would show under the filter (unknown while searching)."""
        if self.search_text:
            return None
        if self.state_filter:
            return self.summary.counts.get(self.state_filter, 0)
        return self.summary.total

    @property
    def below(self) -> int:
        """Cards after the window (1 when unknown but the window is full: "more…")."""
        total = self.total
        if total is None:
            return 1 if len(self.cards) >= CARDS_PER_COLUMN else 0
        return max(total - self.window_start - len(self.cards), 0)

    def _header(self) -> Text:
        s = self.summary
        width = COLUMN_WIDTH - 2
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(s.name, style="bold")
        text.append(f" {s.probability}%", style="dim")
        if s.is_won or s.is_lost:
            text.append(" won" if s.is_won else " lost", style="dim")
        text.append("\n")
        text.append_text(state_bar(s.counts, width))
        text.append("\n")
        for position, state in enumerate(STATE_ORDER):
            if position:
                text.append(" ")
            style = state_colour(state)
            if self.state_filter == state:
                style += " bold reverse"
            elif self.state_filter:
                style += " dim"
            text.append(str(s.counts.get(state, 0)), style=style)
        if s.closed:
            text.append(f" ✓{number(s.closed)}" if not s.is_lost else f" ✗{number(s.closed)}",
                        style="dim")
        if s.rotting:
            text.append(f" !{number(s.rotting)}", style="bold red")
        text.append("\n")
        text.append("Σ " + money(s.expected_revenue, self.currency, cents=False))
        text.append("\n")
        text.append("≈ " + money(s.weighted_revenue, self.currency, cents=False), style="dim")
        text.append(" weighted", style="dim")
        return text

    def _above(self) -> str:
        return f"↑ {number(self.window_start)} more" if self.window_start else ""

    def _more(self) -> str:
        if not self.cards:
            return "none" if (self.state_filter or self.search_text) else "no opportunities"
        below = self.below
        if not below:
            return ""
        return "more…" if self.total is None else f"+ {number(below)} more"

    def card_widgets(self) -> list[Card]:
        return list(self.query(Card))

    def set_summary(self, summary: StageSummary) -> None:
        self.summary = summary
        self.query_one(".column-header", Static).update(self._header())

    async def show(self, summary: StageSummary | None, cards: list[CardRow], *, offset: int,
                   state: str | None, search: str, marked: set[int]) -> None:
        """Show new numbers and cards in place: the column and its card widgets stay (as many
        as the window needs are added or removed)."""
        if summary is not None:
            self.summary = summary
        self.cards = cards
        self.window_start = offset
        self.state_filter = state
        self.search_text = search
        self._marked = marked
        self.query_one(".column-header", Static).update(self._header())
        scroll = self.query_one(CardList)
        existing = self.card_widgets()
        for widget, card in zip(existing, cards, strict=False):
            widget.show(card, card.id in marked)
        if len(existing) > len(cards):
            await scroll.remove_children(existing[len(cards):])
        elif len(cards) > len(existing):
            more = self.query_one(".column-more", Static)
            await scroll.mount_all(
                [Card(card, card.id in marked) for card in cards[len(existing):]], before=more
            )
        above = self.query_one(".column-above", Static)
        above.update(self._above())
        above.set_class(offset > 0, "-shown")
        self.query_one(".column-more", Static).update(self._more())

    def refresh_marks(self, marked: set[int]) -> None:
        self._marked = marked
        for widget in self.card_widgets():
            widget.show(widget.card, widget.card.id in marked)


# -- the screen ------------------------------------------------------------------------------


class BoardScreen(MainScreen):
    """The pipeline board."""

    MODE = "board"
    TITLE = "Board"
    AUTO_FOCUS = None
    """The cards take the focus once loaded (not the hidden search field)."""

    BINDINGS = [
        Binding("slash", "search", "Search", id="board.search"),
        Binding("1", "filter('overdue')", "Filter: overdue (red)", group=_FILTER,
                id="board.filter_overdue"),
        Binding("2", "filter('today')", "Filter: today (yellow)", group=_FILTER,
                id="board.filter_today"),
        Binding("3", "filter('planned')", "Filter: planned (green)", group=_FILTER,
                id="board.filter_planned"),
        Binding("4", "filter('none')", "Filter: no activity (grey)", group=_FILTER,
                id="board.filter_none"),
        Binding("0", "filter('')", "Clear the colour filter", show=False,
                id="board.filter_clear"),
        Binding("shift+left,H", "move(-1)", "Move to previous stage", group=_MOVE,
                key_display="⇧←", id="board.move_previous"),
        Binding("shift+right,L", "move(1)", "Move to next stage", group=_MOVE,
                key_display="⇧→", id="board.move_next"),
        Binding("enter", "open", "Open opportunity", show=False, id="board.open"),
        Binding("n", "new", "New opportunity", show=False, id="board.new"),
        Binding("e", "edit", "Edit opportunity", show=False, id="board.edit"),
        Binding("a", "plan", "Plan activity", show=False, id="board.plan"),
        Binding("w", "won", "Mark won", show=False, id="board.won"),
        Binding("l", "lost", "Mark lost", show=False, id="board.lost"),
        Binding("o", "reopen", "Reopen", show=False, id="board.reopen"),
        Binding("c", "contact", "Open contact", show=False, id="board.contact"),
        Binding("space", "mark", "Mark for merge", show=False, id="board.mark"),
        Binding("M", "merge", "Merge marked", show=False, id="board.merge"),
        Binding("p", "next_pipeline", "Pipeline", id="board.pipeline"),
        Binding("escape", "clear", "Clear filter, search and marks", show=False,
                id="board.clear"),
        Binding("left", "column(-1)", "Previous stage", show=False, id="board.left"),
        Binding("right", "column(1)", "Next stage", show=False, id="board.right"),
        Binding("up", "card(-1)", "Previous card", show=False, id="board.up"),
        Binding("down", "card(1)", "Next card", show=False, id="board.down"),
        Binding("pageup", "card(-5)", "Five cards up", show=False, id="board.page_up"),
        Binding("pagedown", "card(5)", "Five cards down", show=False, id="board.page_down"),
    ]

    DEFAULT_CSS = """
    BoardScreen #board-search {
        display: none;
        margin: 0 1;
    }
    BoardScreen.-searching #board-search {
        display: block;
    }
    BoardScreen #board-filter {
        height: 1;
        padding: 0 1;
        text-wrap: nowrap;
    }
    """

    class Loaded(Message):
        def __init__(self, data: BoardData, view: BoardView) -> None:
            super().__init__()
            self.data = data
            self.view = view

    class ColumnsChanged(Message):
        def __init__(self, update: ColumnsUpdate, view: BoardView) -> None:
            super().__init__()
            self.update = update
            self.view = view

    class ChangeFailed(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self) -> None:
        super().__init__()
        self.pipeline_id: int | None = None
        self.pipelines: list[PipelineInfo] = []
        self.data: BoardData | None = None
        self.state: str | None = None
        """The colour filter: overdue, today, planned, none, or None for all."""
        self.search: str = ""
        self.marked: dict[int, CardRow] = {}
        """Cards marked (space) for a merge, by opportunity id."""
        self._search_timer: Timer | None = None
        self._busy = False
        self._queued: list[Callable[[], None]] = []

    def compose(self) -> ComposeResult:
        for widget in super().compose():
            yield StableFooter() if type(widget) is Footer else widget

    def compose_body(self) -> ComposeResult:
        yield Static("loading the board…", id="board-status", classes="status-line")
        # disabled while hidden, so that it never takes the focus (and the keys) by default
        yield Input(placeholder="/ search: title, contact, company (escape clears)",
                    id="board-search", compact=True, disabled=True)
        yield Static(self._filter_line(), id="board-filter", markup=False)
        yield BoardColumns(id="board-columns")

    def workspace_ready(self, workspace: Workspace) -> None:
        self.load(workspace, self._view(reset_offsets=True))

    def reload(self, *, keep_windows: bool = False) -> None:
        if self.workspace is not None:
            self.load(self.workspace, self._view(reset_offsets=not keep_windows))

    def data_changed(self) -> None:
        """Others (or this session on another screen) wrote: fetch again, keeping each
        column's window, the filter, the search and the focused card."""
        if self.data is not None:
            self.reload(keep_windows=True)

    # -- loading -----------------------------------------------------------------------------

    def _columns(self) -> list[StageColumn]:
        return list(self.query_one("#board-columns", BoardColumns).query_children(StageColumn))

    def _view(self, *, reset_offsets: bool = False) -> BoardView:
        offsets = {} if reset_offsets else {c.stage_id: c.window_start for c in self._columns()}
        return BoardView(self.pipeline_id, self.state, self.search, offsets)

    @work(thread=True, exclusive=True, exit_on_error=False, group="board-load", name="load board")
    def load(self, workspace: Workspace, view: BoardView) -> None:
        from crm_tui.services.board import list_pipelines

        def read(session) -> BoardData:
            pipelines = list_pipelines(session)
            pipeline = next((p for p in pipelines if p.id == view.pipeline_id), None)
            pipeline = pipeline or (pipelines[0] if pipelines else None)
            if pipeline is None:
                return BoardData(pipelines, None, [], {})
            here = BoardView(pipeline.id, view.state, view.search,
                             view.offsets if pipeline.id == view.pipeline_id else {})
            summaries, cards, offsets = read_columns(
                session, workspace.actor, here, [s.id for s in pipeline.stages]
            )
            return BoardData(pipelines, pipeline, summaries or [], cards, offsets)

        self.post_message(self.Loaded(workspace.read(read), view))

    async def on_board_screen_loaded(self, message: BoardScreen.Loaded) -> None:
        data = message.data
        view = message.view
        if view.state != self.state or view.search != self.search:
            return  # a newer filter or search is on its way
        where = self._focus_place()
        self.data = data
        self.pipelines = data.pipelines
        self.pipeline_id = data.pipeline.id if data.pipeline else None
        self._show_status()
        board = self.query_one("#board-columns", BoardColumns)
        columns = self._columns()
        marked = set(self.marked)
        currency = self._currency()
        if [c.stage_id for c in columns] == [s.id for s in data.summaries]:
            for column, summary in zip(columns, data.summaries, strict=True):
                await column.show(summary, data.cards.get(summary.id, []),
                                  offset=data.offsets.get(summary.id, 0),
                                  state=self.state, search=self.search, marked=marked)
        else:
            await board.remove_children()
            await board.mount_all([
                StageColumn(s, data.cards.get(s.id, []), currency, state=self.state,
                            search=self.search, marked=marked)
                for s in data.summaries
            ])
            where = None
        self._restore_focus(where)

    def _currency(self) -> str | None:
        return self.workspace.settings.general.currency if self.workspace else None

    def _focus_place(self) -> tuple[int, int, int] | None:
        """(stage id, row, opportunity id) of the focused card."""
        where = self._focused_card()
        if where is None:
            return None
        column, row = where
        card = column.card_widgets()[row].card
        return column.stage_id, row, card.id

    def _restore_focus(self, where: tuple[int, int, int] | None, *,
                       focus_id: int | None = None) -> None:
        """Focus the card of `focus_id` (or the one focused before), else the same row of the
        same column, else the first card of the board, unless the search field has the focus."""
        if isinstance(self.focused, Input) and self.has_class("-searching"):
            return
        columns = self._columns()
        wanted = focus_id if focus_id is not None else (where[2] if where else None)
        if wanted is not None:
            for column in columns:
                for card in column.card_widgets():
                    if card.card.id == wanted:
                        self._focus_card(card)
                        return
        if where is not None:
            column = next((c for c in columns if c.stage_id == where[0]), None)
            if column is not None:
                cards = column.card_widgets()
                if cards:
                    self._focus_card(cards[min(where[1], len(cards) - 1)])
                    return
        if isinstance(self.focused, Card) and self.focused.is_attached:
            return
        first = next(iter(self.query(Card)), None)
        if first is not None:
            self._focus_card(first)

    def _show_status(self) -> None:
        data = self.data
        line = Text(no_wrap=True, overflow="ellipsis")
        if data is None or data.pipeline is None:
            line.append("No pipelines yet." if data is not None else "loading the board…")
            self.query_one("#board-status", Static).update(line)
            return
        index = next(i for i, p in enumerate(data.pipelines) if p.id == data.pipeline.id)
        line.append(data.pipeline.name, style="bold")
        if len(data.pipelines) > 1:
            line.append(f" ({index + 1}/{len(data.pipelines)})", style="dim")
        open_count = sum(s.open_count for s in data.summaries)
        total = sum((s.expected_revenue for s in data.summaries if not s.is_lost), start=0)
        weighted = sum((s.weighted_revenue for s in data.summaries), start=0)
        currency = self._currency()
        line.append(f"  {number(open_count)} open")
        line.append(f"  Σ {money(total, currency, cents=False)}")
        line.append(f"  weighted {money(weighted, currency, cents=False)}", style="dim")
        self.query_one("#board-status", Static).update(line)

    def _filter_line(self) -> Text:
        """The legend of the count order and the filter keys; the active filter, the search and
        the marks (readable without colour: the active filter is bracketed)."""
        line = Text(no_wrap=True, overflow="ellipsis")
        for position, state in enumerate(STATE_ORDER):
            if position:
                line.append(" ")
            word = f"{STATE_KEYS[state]} {STATE_WORDS[state]}"
            if self.state == state:
                line.append(f"[{word}]", style=f"bold reverse {state_colour(state)}")
            else:
                line.append(f" {word} ", style=state_colour(state))
        if self.state:
            shown = sum(s.counts.get(self.state, 0) for s in self.data.summaries) if self.data else 0
            line.append(f"  only {STATE_WORDS[self.state]}: {number(shown)}", style="bold")
            line.append(" · 0 all", style="dim")
        else:
            line.append("  all shown", style="dim")
        if self.search:
            line.append(f' · search "{self.search}"', style="bold")
        if self.marked:
            line.append(f" · {len(self.marked)} marked (M merges)", style="bold")
        return line

    def _update_filter_line(self) -> None:
        self.query_one("#board-filter", Static).update(self._filter_line())

    # -- column updates after a change ------------------------------------------------------

    async def on_board_screen_columns_changed(self, message: BoardScreen.ColumnsChanged) -> None:
        update = message.update
        view = message.view
        self._busy = False
        if view.pipeline_id == self.pipeline_id and view.state == self.state \
                and view.search == self.search:
            where = self._focus_place()
            if update.summaries is not None and self.data is not None:
                self.data = BoardData(self.data.pipelines, self.data.pipeline, update.summaries,
                                      self.data.cards)
                self._show_status()
                self._update_filter_line()
            heads = {s.id: s for s in update.summaries or []}
            marked = set(self.marked)
            for column in self._columns():
                if column.stage_id in update.cards:
                    await column.show(heads.get(column.stage_id), update.cards[column.stage_id],
                                      offset=update.offsets.get(column.stage_id, 0),
                                      state=self.state, search=self.search, marked=marked)
                elif column.stage_id in heads and heads[column.stage_id] != column.summary:
                    column.set_summary(heads[column.stage_id])
            if update.focus_stage is not None and update.focus_row is not None:
                where = (update.focus_stage, update.focus_row, -1)
            self._restore_focus(where, focus_id=update.focus_id)
        if update.note:
            self.notify(update.note, timeout=3)
        self._next_queued()

    def on_board_screen_change_failed(self, message: BoardScreen.ChangeFailed) -> None:
        self._busy = False
        self.notify(message.text, severity="warning", title="Not done")
        self._next_queued()

    def _next_queued(self) -> None:
        if self._queued and not self._busy:
            self._queued.pop(0)()

    def _when_free(self, action: Callable[[], None]) -> bool:
        """Run `action` after the change in flight (True: it was queued)."""
        if self._busy:
            if len(self._queued) < 10:
                self._queued.append(action)
            return True
        return False

    @work(thread=True, exclusive=True, exit_on_error=False, group="board-write",
          name="change opportunity")
    def change(self, workspace: Workspace, view: BoardView, card: CardRow, stage_id: int,
               row: int | None, what: str, step: int = 0) -> None:
        """Move (`step`), win or reopen one opportunity, then fetch the two columns it touched."""
        from crm_tui.models import Stage
        from crm_tui.services import opportunities
        from crm_tui.services.errors import ServiceError

        actor = workspace.actor

        def write(session) -> tuple[int, str, int]:
            if what == "move":
                opportunity = opportunities.move_opportunity(session, actor, card.id, step=step)
            elif what == "won":
                opportunity = opportunities.mark_won(session, actor, card.id)
            else:
                opportunity = opportunities.reopen_opportunity(session, actor, card.id)
            stage = session.get(Stage, opportunity.stage_id)
            return opportunity.stage_id, stage.name, opportunity.probability

        try:
            new_stage, stage_name, probability = workspace.write(write)
            heads, cards, offsets = workspace.read(
                lambda s: read_columns(s, actor, view, [stage_id, new_stage])
            )
        except ServiceError as error:
            self.post_message(self.ChangeFailed(error_text(error)))
            return
        verb = {"move": "moved to", "won": "won ·", "reopen": "reopened in"}[what]
        note = f"{card.title}: {verb} {stage_name} · {probability}%"
        self.post_message(self.ColumnsChanged(
            ColumnsUpdate(heads, cards, offsets, focus_id=card.id, focus_stage=stage_id,
                          focus_row=row, note=note),
            view,
        ))

    @work(thread=True, exclusive=True, exit_on_error=False, group="board-refresh",
          name="refresh board columns")
    def refresh_columns(self, workspace: Workspace, view: BoardView, stage_ids: list[int],
                        opportunity_ids: list[int], focus_id: int | None = None,
                        note: str = "") -> None:
        """Fetch the given columns again, and those the given opportunities are in now."""
        from crm_tui.services.errors import NotFound
        from crm_tui.services.opportunities import get_opportunity

        actor = workspace.actor

        def read(session):
            stages = list(stage_ids)
            for opportunity_id in opportunity_ids:
                try:
                    detail = get_opportunity(session, actor, opportunity_id)
                except NotFound:
                    continue
                if detail.pipeline_id == view.pipeline_id:
                    stages.append(detail.stage_id)
            return read_columns(session, actor, view, stages)

        heads, cards, offsets = workspace.read(read)
        self.post_message(self.ColumnsChanged(
            ColumnsUpdate(heads, cards, offsets, focus_id=focus_id, note=note), view
        ))

    def refresh_after(self, card: CardRow | None, stage_id: int | None, *,
                      opportunity_ids: Iterable[int] = (), focus_id: int | None = None,
                      note: str = "") -> None:
        """After a screen pushed from here changed an opportunity: its columns, in place."""
        if self.workspace is None:
            return
        ids = list(opportunity_ids) + ([card.id] if card else [])
        if focus_id is None and card is not None:
            focus_id = card.id
        self.refresh_columns(self.workspace, self._view(),
                             [stage_id] if stage_id is not None else [], ids,
                             focus_id=focus_id, note=note)

    @work(thread=True, exclusive=True, exit_on_error=False, group="board-page",
          name="page board column")
    def page(self, workspace: Workspace, view: BoardView, stage_id: int, offset: int,
             focus_row: int) -> None:
        """Another window of one column (the cursor ran off the end of the one it has)."""
        here = BoardView(view.pipeline_id, view.state, view.search, {stage_id: offset})
        _heads, cards, offsets = workspace.read(
            lambda s: read_columns(s, workspace.actor, here, [stage_id], summaries=False)
        )
        self.post_message(self.ColumnsChanged(
            ColumnsUpdate(None, cards, offsets, focus_stage=stage_id, focus_row=focus_row), view
        ))

    # -- keys: navigation -------------------------------------------------------------------

    def action_next_pipeline(self) -> None:
        if not self.pipelines or self.workspace is None:
            return
        ids = [p.id for p in self.pipelines]
        index = ids.index(self.pipeline_id) if self.pipeline_id in ids else -1
        self.pipeline_id = ids[(index + 1) % len(ids)]
        self.query_one("#board-columns").remove_children()
        self.load(self.workspace, self._view(reset_offsets=True))

    def _focused_card(self) -> tuple[StageColumn, int] | None:
        focused = self.focused
        if not isinstance(focused, Card) or not focused.is_attached:
            return None
        column = next((a for a in focused.ancestors if isinstance(a, StageColumn)), None)
        if column is None:
            return None
        return column, column.card_widgets().index(focused)

    def _card(self) -> tuple[CardRow, StageColumn] | None:
        where = self._focused_card()
        if where is None:
            return None
        column, row = where
        return column.card_widgets()[row].card, column

    def action_column(self, step: int) -> None:
        columns = self._columns()
        if not columns:
            return
        where = self._focused_card()
        start, row = (columns.index(where[0]), where[1]) if where else (-1 if step > 0 else len(columns), 0)
        index = start + step
        while 0 <= index < len(columns):
            cards = columns[index].card_widgets()
            if cards:
                self._focus_card(cards[min(row, len(cards) - 1)])
                return
            index += step

    def action_card(self, step: int) -> None:
        where = self._focused_card()
        if where is None:
            self.action_column(1)
            return
        column, row = where
        cards = column.card_widgets()
        target = row + step
        if 0 <= target < len(cards):
            self._focus_card(cards[target])
        elif target >= len(cards) and column.below and self.workspace is not None:
            offset = column.window_start + PAGE_SHIFT
            self.page(self.workspace, self._view(), column.stage_id, offset,
                      column.window_start + min(target, len(cards)) - offset)
        elif target < 0 and column.window_start > 0 and self.workspace is not None:
            offset = max(column.window_start - PAGE_SHIFT, 0)
            self.page(self.workspace, self._view(), column.stage_id, offset,
                      max(column.window_start + target - offset, 0))
        elif cards:
            self._focus_card(cards[max(0, min(target, len(cards) - 1))])

    @staticmethod
    def _focus_card(card: Card) -> None:
        # scroll at once: the animated scroll of a focus change lags behind a held arrow key
        card.focus(scroll_visible=False)
        card.scroll_visible(animate=False)

    # -- keys: filter and search -------------------------------------------------------------

    def action_filter(self, state: str) -> None:
        """Show only the opportunities in `state` ("" or the active one again: all)."""
        wanted = state or None
        self.state = None if wanted == self.state else wanted
        self._update_filter_line()
        self.reload()

    def action_search(self) -> None:
        self.add_class("-searching")
        search = self.query_one("#board-search", Input)
        search.disabled = False
        search.focus()

    def _hide_search(self) -> None:
        self.remove_class("-searching")
        self.query_one("#board-search", Input).disabled = True

    @on(Input.Changed, "#board-search")
    def _search_changed(self, event: Input.Changed) -> None:
        if self._search_timer is not None:
            self._search_timer.stop()
            self._search_timer = None
        if SEARCH_DELAY > 0:
            self._search_timer = self.set_timer(SEARCH_DELAY, self._apply_search)
        else:
            self._apply_search()

    def _apply_search(self) -> None:
        self._search_timer = None
        text = self.query_one("#board-search", Input).value.strip()
        if text != self.search:
            self.search = text
            self._update_filter_line()
            self.reload()

    @on(Input.Submitted, "#board-search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self._search_timer is not None:
            self._search_timer.stop()
        self._apply_search()
        if not self.search:
            self._hide_search()
        first = next(iter(self.query(Card)), None)
        if first is not None:
            self._focus_card(first)
        else:
            self.set_focus(None)

    def action_clear(self) -> None:
        """Escape: leave the search field; clear the search, the colour filter and the marks."""
        search = self.query_one("#board-search", Input)
        changed = bool(self.search or self.state)
        if self._search_timer is not None:
            self._search_timer.stop()
            self._search_timer = None
        self.search = ""
        self.state = None
        with search.prevent(Input.Changed):
            search.value = ""
        if isinstance(self.focused, Input):
            self.set_focus(None)
        self._hide_search()
        if self.marked:
            self.marked.clear()
            for column in self._columns():
                column.refresh_marks(set())
        self._update_filter_line()
        if changed:
            self.reload()
        elif not isinstance(self.focused, Card):
            self.action_column(1)

    # -- keys: one opportunity ---------------------------------------------------------------

    def _need_card(self) -> tuple[CardRow, StageColumn] | None:
        found = self._card()
        if found is None:
            self.notify("Choose a card first (arrow keys).", severity="warning", timeout=3)
        return found

    def _change_args(self, found: tuple[CardRow, StageColumn]) -> tuple[CardRow, int, int | None]:
        card, column = found
        where = self._focused_card()
        return card, column.stage_id, where[1] if where else None

    def action_move(self, step: int) -> None:
        if self._when_free(lambda: self.action_move(step)):
            return
        found = self._need_card()
        if found is None or self.workspace is None:
            return
        self._busy = True
        self.change(self.workspace, self._view(), *self._change_args(found), "move", step)

    def action_won(self) -> None:
        if self._when_free(self.action_won):
            return
        found = self._need_card()
        if found is None or self.workspace is None:
            return
        self._busy = True
        self.change(self.workspace, self._view(), *self._change_args(found), "won")

    def action_reopen(self) -> None:
        if self._when_free(self.action_reopen):
            return
        found = self._need_card()
        if found is None or self.workspace is None:
            return
        self._busy = True
        self.change(self.workspace, self._view(), *self._change_args(found), "reopen")

    def _push(self, screen, card: CardRow | None, stage_id: int | None,
              done: Callable[[object], None] | None = None) -> None:
        """Push a screen; when it returns, refresh the columns the opportunity may have left
        and entered (and call `done` with its result)."""
        def back(result: object) -> None:
            if done is not None:
                done(result)
            elif result:
                self.refresh_after(card, stage_id)

        self.app.push_screen(screen, back)

    def action_lost(self) -> None:
        found = self._need_card()
        if found is None or self.workspace is None:
            return
        from crm_tui.screens.modals.lost_reason import LostReasonDialog

        card, column = found
        self._push(LostReasonDialog(self.workspace, card.id, card.title), card, column.stage_id)

    def action_open(self) -> None:
        found = self._card()
        if found is None:
            return
        from crm_tui.screens.opportunity_card import OpportunityCardScreen

        card, column = found
        self._push(OpportunityCardScreen(card.id), card, column.stage_id)

    def action_contact(self) -> None:
        found = self._need_card()
        if found is None:
            return
        from crm_tui.screens.contact_card import ContactCardScreen

        card, column = found
        self._push(ContactCardScreen(card.contact_id), card, column.stage_id,
                   lambda _result: self.refresh_after(card, column.stage_id))

    def action_edit(self) -> None:
        found = self._need_card()
        if found is None or self.workspace is None:
            return
        from crm_tui.screens.modals.opportunity_form import OpportunityForm

        card, column = found
        self._push(OpportunityForm(self.workspace, opportunity_id=card.id), card, column.stage_id)

    def action_new(self) -> None:
        if self.workspace is None or self.data is None or self.data.pipeline is None:
            return
        from crm_tui.screens.modals.opportunity_form import OpportunityForm

        found = self._card()
        stage_id = found[1].stage_id if found else None
        summary = next((s for s in self.data.summaries if s.id == stage_id), None)
        if summary is not None and (summary.is_won or summary.is_lost):
            stage_id = None

        def created(result: object) -> None:
            if isinstance(result, int):
                self.refresh_after(None, None, opportunity_ids=[result], focus_id=result,
                                   note="opportunity created")

        self._push(
            OpportunityForm(self.workspace, pipeline_id=self.data.pipeline.id, stage_id=stage_id),
            None, None, created,
        )

    def action_plan(self) -> None:
        found = self._need_card()
        if found is None or self.workspace is None:
            return
        try:
            from crm_tui.screens.modals.activity_form import ActivityForm
        except ImportError:
            self.notify("The activity form is not available in this version.",
                        severity="warning")
            return
        card, column = found
        self._push(
            ActivityForm(self.workspace, contact_id=card.contact_id, opportunity_id=card.id),
            card, column.stage_id,
        )

    # -- keys: marks and merge ---------------------------------------------------------------

    def action_mark(self) -> None:
        found = self._need_card()
        if found is None:
            return
        card, column = found
        if card.id in self.marked:
            del self.marked[card.id]
        else:
            self.marked[card.id] = card
        focused = self.focused
        if isinstance(focused, Card):
            focused.show(card, card.id in self.marked)
        self._update_filter_line()
        self.action_card(1)

    def action_merge(self) -> None:
        if self.workspace is None:
            return
        if len(self.marked) < 2:
            self.notify("Mark two or more cards with space, then press M to merge them.",
                        severity="warning", timeout=4)
            return
        from crm_tui.screens.modals.merge import MergeDialog

        cards = list(self.marked.values())

        def merged(result: object) -> None:
            if result is None:
                return
            self.marked.clear()
            self._update_filter_line()
            self.notify(f"{len(cards) - 1} merged into one opportunity", timeout=3)
            self.reload()

        self._push(MergeDialog(self.workspace, cards), None, None, merged)
