"""Merge opportunities: pick the one that survives among the marked ones. The others' activities,
history and attachments move to it and they are removed (`opportunities.merge_opportunities`).

The dialog previews what moves for the highlighted survivor and warns when the opportunities
belong to different contacts. It saves itself and dismisses with the `MergeResult`, or None.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, OptionList, Static
from textual.widgets.option_list import Option

from crm_tui.widgets.format import money
from crm_tui.widgets.worker_errors import ReportsWorkerErrors

if TYPE_CHECKING:
    from crm_tui.services.board import CardRow
    from crm_tui.services.opportunities import MergeResult
    from crm_tui.workspace import Workspace


class MergeDialog(ReportsWorkerErrors, ModalScreen["MergeResult | None"]):
    """Choose the survivor of a merge; Enter or ctrl+s merges."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="merge.cancel"),
        Binding("ctrl+s", "merge", "Merge", id="merge.save"),
    ]

    DEFAULT_CSS = """
    MergeDialog {
        align: center middle;
    }
    MergeDialog > Vertical {
        width: 70;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        border: round $warning;
        background: $surface;
        padding: 0 1;
    }
    MergeDialog #merge-title {
        text-style: bold;
        height: auto;
    }
    MergeDialog OptionList {
        height: auto;
        max-height: 10;
        margin: 1 0;
    }
    MergeDialog #merge-warning {
        color: $warning;
        height: auto;
        display: none;
    }
    MergeDialog #merge-warning.-shown {
        display: block;
    }
    MergeDialog #merge-preview {
        height: auto;
        color: $text-muted;
    }
    MergeDialog #merge-error {
        color: $error;
        height: auto;
    }
    MergeDialog #merge-buttons {
        height: 1;
        margin-top: 1;
        align-horizontal: right;
    }
    MergeDialog #merge-buttons Button {
        margin-left: 2;
    }
    """

    class Preview(Message):
        def __init__(self, survivor_id: int, text: str) -> None:
            super().__init__()
            self.survivor_id = survivor_id
            self.text = text

    class Done(Message):
        def __init__(self, result: MergeResult) -> None:
            super().__init__()
            self.result = result

    class Failed(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, workspace: Workspace, cards: Sequence[CardRow]) -> None:
        super().__init__()
        self.workspace = workspace
        self.cards = list(cards)

    @property
    def contacts_differ(self) -> bool:
        return len({card.contact_id for card in self.cards}) > 1

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"Merge {len(self.cards)} opportunities: which one survives?",
                         id="merge-title", markup=False)
            yield OptionList(*(Option(self._label(c), id=str(c.id)) for c in self.cards),
                             id="merge-survivor", compact=True)
            yield Static(
                "Warning: they belong to different contacts. The survivor keeps its contact; "
                "the others' activities move to it anyway.",
                id="merge-warning", markup=False,
            )
            yield Static("", id="merge-preview", markup=False)
            yield Static("", id="merge-error", markup=False)
            with Horizontal(id="merge-buttons"):
                yield Button("Merge", id="merge", variant="warning", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    @staticmethod
    def _label(card: CardRow) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f"#{card.id} ", style="dim")
        text.append(card.title, style="bold")
        text.append(f" · {card.contact_name}")
        text.append(f" · {money(card.expected_revenue, card.currency, cents=False)}", style="dim")
        return text

    def on_mount(self) -> None:
        self.query_one("#merge-warning").set_class(self.contacts_differ, "-shown")
        options = self.query_one(OptionList)
        options.highlighted = 0
        options.focus()

    def _survivor(self) -> int | None:
        options = self.query_one(OptionList)
        if options.highlighted is None:
            return None
        return self.cards[options.highlighted].id

    def _others(self, survivor_id: int) -> list[int]:
        return [c.id for c in self.cards if c.id != survivor_id]

    @on(OptionList.OptionHighlighted)
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        survivor = self._survivor()
        if survivor is not None:
            self.preview(survivor)

    @work(thread=True, exclusive=True, exit_on_error=False, group="merge-preview",
          name="preview merge")
    def preview(self, survivor_id: int) -> None:
        from crm_tui.services.errors import ServiceError
        from crm_tui.services.opportunities import preview_merge

        workspace = self.workspace
        try:
            result = workspace.read(
                lambda s: preview_merge(s, workspace.actor, survivor_id, self._others(survivor_id))
            )
        except ServiceError as error:
            self.post_message(self.Failed(str(error)))
            return
        text = (f"Moves to #{survivor_id}: {result.activities} activities, {result.history} "
                f"history entries, {result.attachments} attachments; "
                f"{len(result.merged_ids)} opportunities are removed.")
        self.post_message(self.Preview(survivor_id, text))

    def on_merge_dialog_preview(self, message: MergeDialog.Preview) -> None:
        if message.survivor_id == self._survivor():
            self.query_one("#merge-preview", Static).update(message.text)
            self.query_one("#merge-error", Static).update("")

    def on_merge_dialog_failed(self, message: MergeDialog.Failed) -> None:
        self.query_one("#merge-error", Static).update(message.text)

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_merge()

    @on(Button.Pressed, "#merge")
    def _merge_pressed(self) -> None:
        self.action_merge()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_merge(self) -> None:
        survivor = self._survivor()
        if survivor is None:
            self.query_one("#merge-error", Static).update("Choose the opportunity that survives.")
            return
        self.merge(survivor)

    @work(thread=True, exclusive=True, exit_on_error=False, group="merge", name="merge")
    def merge(self, survivor_id: int) -> None:
        from crm_tui.services.errors import ServiceError
        from crm_tui.services.opportunities import merge_opportunities

        workspace = self.workspace
        try:
            result = workspace.write(
                lambda s: merge_opportunities(s, workspace.actor, survivor_id,
                                              self._others(survivor_id))
            )
        except ServiceError as error:
            self.post_message(self.Failed(str(error)))
            return
        self.post_message(self.Done(result))

    def on_merge_dialog_done(self, message: MergeDialog.Done) -> None:
        self.dismiss(message.result)
