"""The pipeline board: one column per stage, each headed by its state bar, counts and revenue,
with the first cards of the column (a window, never one widget per opportunity of a big stage).

Data comes from `services.board` in one thread worker per load (one read session); columns are
updated in place when the pipeline stays the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import HorizontalScroll, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Static

from crm_tui.screens.base import MainScreen
from crm_tui.widgets.format import CLOCK, money, number, state_bar, state_colour, state_counts

if TYPE_CHECKING:
    from crm_tui.services.board import CardRow, PipelineInfo, StageSummary
    from crm_tui.workspace import Workspace

CARDS_PER_COLUMN = 30
COLUMN_WIDTH = 26


@dataclass(frozen=True)
class BoardData:
    pipelines: list[PipelineInfo]
    pipeline: PipelineInfo | None
    summaries: list[StageSummary]
    cards: dict[int, list[CardRow]]


class Card(Static, can_focus=True):
    """One opportunity: title with the clock marker, contact and revenue."""

    DEFAULT_CSS = """
    Card {
        height: 2;
        text-wrap: nowrap;
        margin-bottom: 1;
        padding: 0 1;
        background: $boost;
    }
    Card:focus {
        background: $block-cursor-background;
        color: $block-cursor-foreground;
    }
    """

    def __init__(self, card: CardRow) -> None:
        super().__init__(self._text(card), markup=False)
        self.card = card

    @staticmethod
    def _text(card: CardRow) -> Text:
        width = COLUMN_WIDTH - 2
        first = Text(no_wrap=True)
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


class CardList(VerticalScroll, can_focus=False, inherit_bindings=False):
    """A column's cards; scrolls to the focused card, leaves the arrow keys to the board."""


class BoardColumns(HorizontalScroll, can_focus=False, inherit_bindings=False):
    """The stage columns side by side; scrolls to the focused card's column."""


class StageColumn(Vertical):
    """A stage: header (name, state bar, counts, revenue) and its first cards."""

    DEFAULT_CSS = f"""
    StageColumn {{
        width: {COLUMN_WIDTH};
        height: 1fr;
        margin-right: 1;
    }}
    StageColumn .column-header {{
        height: 4;
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
    """

    def __init__(self, summary: StageSummary, cards: list[CardRow], currency: str | None = None) -> None:
        super().__init__()
        self.summary = summary
        self.cards = cards
        self.currency = currency

    @property
    def stage_id(self) -> int:
        return self.summary.id

    def compose(self) -> ComposeResult:
        yield Static(self._header(), classes="column-header", markup=False)
        with CardList():
            yield from (Card(card) for card in self.cards)
            yield Static(self._more(), classes="column-more", markup=False)

    def _header(self) -> Text:
        s = self.summary
        width = COLUMN_WIDTH - 2
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(s.name, style="bold")
        text.append(f" {s.probability}%", style="dim")
        text.append("\n")
        text.append_text(state_bar(s.counts, width))
        text.append("\n")
        text.append_text(state_counts(s.counts))
        if s.closed:
            text.append(f" ✓{number(s.closed)}" if not s.is_lost else f" ✗{number(s.closed)}",
                        style="dim")
        if s.rotting:
            text.append(f" !{number(s.rotting)}", style="bold red")
        text.append("\n")
        text.append("Σ " + money(s.expected_revenue, self.currency, cents=False))
        return text

    def _more(self) -> str:
        hidden = self.summary.total - len(self.cards)
        if not self.cards:
            return "no opportunities"
        return f"+ {number(hidden)} more" if hidden > 0 else ""

    async def update_stage(self, summary: StageSummary, cards: list[CardRow]) -> None:
        """Show new numbers and cards in place (the column itself stays)."""
        self.summary = summary
        self.cards = cards
        self.query_one(".column-header", Static).update(self._header())
        scroll = self.query_one(CardList)
        await scroll.remove_children()
        await scroll.mount_all([*(Card(card) for card in cards),
                                Static(self._more(), classes="column-more", markup=False)])


class BoardScreen(MainScreen):
    """The pipeline board."""

    MODE = "board"
    TITLE = "Board"

    BINDINGS = [
        Binding("p", "next_pipeline", "Pipeline", id="board.pipeline"),
        Binding("left", "column(-1)", "Previous stage", show=False, id="board.left"),
        Binding("right", "column(1)", "Next stage", show=False, id="board.right"),
        Binding("up", "card(-1)", "Previous card", show=False, id="board.up"),
        Binding("down", "card(1)", "Next card", show=False, id="board.down"),
        Binding("enter", "open", "Open contact", id="board.open"),
    ]

    class Loaded(Message):
        def __init__(self, data: BoardData) -> None:
            super().__init__()
            self.data = data

    def __init__(self) -> None:
        super().__init__()
        self.pipeline_id: int | None = None
        self.pipelines: list[PipelineInfo] = []
        self.data: BoardData | None = None

    def compose_body(self) -> ComposeResult:
        yield Static("loading the board…", id="board-status", classes="status-line")
        yield BoardColumns(id="board-columns")

    def workspace_ready(self, workspace: Workspace) -> None:
        self.load(workspace, self.pipeline_id)

    def reload(self) -> None:
        if self.workspace is not None:
            self.load(self.workspace, self.pipeline_id)

    @work(thread=True, exclusive=True, exit_on_error=False, name="load board")
    def load(self, workspace: Workspace, pipeline_id: int | None) -> None:
        from crm_tui.services.board import board_summary, list_pipelines, stage_cards

        def read(session) -> BoardData:
            pipelines = list_pipelines(session)
            pipeline = next((p for p in pipelines if p.id == pipeline_id), None)
            pipeline = pipeline or (pipelines[0] if pipelines else None)
            if pipeline is None:
                return BoardData(pipelines, None, [], {})
            summaries = board_summary(session, workspace.actor, pipeline.id)
            cards = {
                s.id: stage_cards(session, workspace.actor, s.id, 0, CARDS_PER_COLUMN)
                for s in summaries
            }
            return BoardData(pipelines, pipeline, summaries, cards)

        self.post_message(self.Loaded(workspace.read(read)))

    async def on_board_screen_loaded(self, message: BoardScreen.Loaded) -> None:
        data = message.data
        self.data = data
        self.pipelines = data.pipelines
        self.pipeline_id = data.pipeline.id if data.pipeline else None
        self._show_status()
        board = self.query_one("#board-columns", BoardColumns)
        columns = list(board.query_children(StageColumn))
        if [c.stage_id for c in columns] == [s.id for s in data.summaries]:
            for column, summary in zip(columns, data.summaries, strict=True):
                await column.update_stage(summary, data.cards.get(summary.id, []))
        else:
            await board.remove_children()
            currency = self.workspace.settings.general.currency if self.workspace else None
            await board.mount_all(
                [StageColumn(s, data.cards.get(s.id, []), currency) for s in data.summaries]
            )
        if self.focused is None or not self.focused.is_attached:
            first = next(iter(self.query(Card)), None)
            if first is not None:
                first.focus()

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
        currency = self.workspace.settings.general.currency if self.workspace else None
        line.append(f"  {number(open_count)} open")
        line.append(f"  Σ {money(total, currency, cents=False)}")
        line.append(f"  weighted {money(weighted, currency, cents=False)}", style="dim")
        self.query_one("#board-status", Static).update(line)

    # -- keys --------------------------------------------------------------------------------

    def action_next_pipeline(self) -> None:
        if not self.pipelines or self.workspace is None:
            return
        ids = [p.id for p in self.pipelines]
        index = ids.index(self.pipeline_id) if self.pipeline_id in ids else -1
        self.pipeline_id = ids[(index + 1) % len(ids)]
        self.query_one("#board-columns").remove_children()
        self.load(self.workspace, self.pipeline_id)

    def _focused_card(self) -> tuple[StageColumn, int] | None:
        focused = self.focused
        if not isinstance(focused, Card):
            return None
        column = next(a for a in focused.ancestors if isinstance(a, StageColumn))
        return column, list(column.query(Card)).index(focused)

    def action_column(self, step: int) -> None:
        columns = [c for c in self.query(StageColumn)]
        if not columns:
            return
        where = self._focused_card()
        start, row = (columns.index(where[0]), where[1]) if where else (-1 if step > 0 else len(columns), 0)
        index = start + step
        while 0 <= index < len(columns):
            cards = list(columns[index].query(Card))
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
        cards = list(column.query(Card))
        target = row + step
        if 0 <= target < len(cards):
            self._focus_card(cards[target])

    @staticmethod
    def _focus_card(card: Card) -> None:
        # scroll at once: the animated scroll of a focus change lags behind a held arrow key
        card.focus(scroll_visible=False)
        card.scroll_visible(animate=False)

    def action_open(self) -> None:
        focused = self.focused
        if isinstance(focused, Card):
            from crm_tui.screens.contact_card import ContactCardScreen

            self.app.push_screen(ContactCardScreen(focused.card.contact_id))

