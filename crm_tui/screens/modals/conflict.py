"""The conflict dialog: somebody else saved the record while this form had it open.

The contract (other forms rely on it; keep it stable):

    ConflictDialog(error: ConflictError, labels: dict[str, str] | None = None)
        -> ModalScreen that dismisses with a `ConflictResolution` or None

- `error` is the `services.errors.ConflictError` the service raised for a save made with
  `expected_version` (and `base`, the values the form loaded). Its `fields` list, per field,
  the value loaded (base), theirs (saved meanwhile) and mine (in the form).
- `labels` maps field names to what the form calls them ("assigned_to" -> "Assignee");
  a field without a label is shown as its name, capitalised, with spaces.
- The rep chooses *keep mine* (every field mine), *take theirs* (every field theirs) or
  *merge* field by field (each row toggles between mine and theirs; a field only one side
  changed starts at that side's value, one both changed starts at mine).
- The dialog dismisses with `services.conflicts.resolve_conflict(...)`'s result, the
  `ConflictResolution`: `values` to save again (empty when nothing is left to save, e.g. after
  *take theirs*), `expected_version` (the version the other session left) and `base` (their
  values: the `base` of the next save, so a third session's save in between is caught again).
  None means cancel: nothing decided, the form stays as it was.

Forms do not usually push the dialog themselves: `save_with_conflicts.save_or_resolve` shows it,
saves the resolution in a thread worker and shows it again if the save conflicts once more.

Keys: space (or ←/→) chooses per field, m keeps mine, t takes theirs, enter or ctrl+s saves the
choices, escape cancels.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.reactive import reactive
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Footer, Static

from crm_tui.services.conflicts import (
    MINE,
    THEIRS,
    ConflictRow,
    classify,
    resolve_conflict,
)
from crm_tui.services.conflicts import Resolution as ConflictResolution
from crm_tui.services.errors import ConflictError

__all__ = ["ConflictDialog", "ConflictResolution", "field_label", "shown_value"]

EMPTY = "(empty)"


def field_label(name: str, labels: Mapping[str, str] | None = None) -> str:
    """What a field is called in the dialog: the form's label, else "first_name" -> "First name"."""
    if labels and name in labels:
        return labels[name]
    return name.replace("_", " ").capitalize()


def shown_value(value: object) -> str:
    """A field value as people read it: empty, yes/no, dates in ISO, lists joined."""
    if value is None or value == "":
        return EMPTY
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, (list, tuple, set, frozenset)):
        return ", ".join(str(v) for v in value) or EMPTY
    return str(value)


def _grid() -> Table:
    """The column layout shared by the header and every row (so they line up)."""
    grid = Table.grid(expand=True, padding=(0, 1))
    grid.add_column(width=14, no_wrap=True, overflow="ellipsis")
    for _ in range(3):
        grid.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
    grid.add_column(width=8, no_wrap=True)
    return grid


class ChoiceRow(Widget, can_focus=True):
    """One changed field: loaded, theirs and mine, and which of the two will be kept."""

    DEFAULT_CSS = """
    ChoiceRow {
        height: 1;
        width: 1fr;
    }
    ChoiceRow:focus {
        background: $block-cursor-background;
        color: $block-cursor-foreground;
    }
    """

    BINDINGS = [
        Binding("space", "toggle", "Mine/theirs", id="conflict.toggle"),
        Binding("left", "choose('theirs')", "Theirs", show=False, id="conflict.choose_theirs"),
        Binding("right", "choose('mine')", "Mine", show=False, id="conflict.choose_mine"),
    ]

    choice: reactive[str] = reactive(MINE)

    def __init__(self, row: ConflictRow, label: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.row = row
        self.label = label
        self.set_reactive(ChoiceRow.choice, row.default)

    def render(self) -> Table:
        row = self.row
        grid = _grid()
        chosen, other = "bold", "dim strike"
        marker = "● " if row.needs_choice else "  "
        grid.add_row(
            Text(marker + self.label, style="bold" if row.needs_choice else ""),
            Text(shown_value(row.base), style="dim"),
            Text(shown_value(row.theirs), style=chosen if self.choice == THEIRS else other),
            Text(shown_value(row.mine), style=chosen if self.choice == MINE else other),
            Text(f"✓ {self.choice}", style="bold"),
        )
        return grid

    def action_toggle(self) -> None:
        self.choice = THEIRS if self.choice == MINE else MINE

    def action_choose(self, choice: str) -> None:
        if choice in (MINE, THEIRS):
            self.choice = choice


class ConflictDialog(ModalScreen[ConflictResolution | None]):
    """Per changed field: loaded, theirs, mine; keep mine, take theirs, or merge."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="conflict.cancel"),
        Binding("m", "keep_mine", "Keep mine", id="conflict.keep_mine"),
        Binding("t", "take_theirs", "Take theirs", id="conflict.take_theirs"),
        Binding("enter,ctrl+s", "merge", "Save choices", id="conflict.save"),
        Binding("down", "move(1)", "Next field", show=False, id="conflict.next"),
        Binding("up", "move(-1)", "Previous field", show=False, id="conflict.previous"),
    ]

    DEFAULT_CSS = """
    ConflictDialog {
        align: center middle;
    }
    ConflictDialog > Vertical {
        width: 100;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        border: round $warning;
        background: $surface;
        padding: 0 1;
    }
    ConflictDialog #conflict-title {
        text-style: bold;
        color: $warning;
    }
    ConflictDialog #conflict-help {
        color: $text-muted;
        margin-bottom: 1;
    }
    ConflictDialog #conflict-header {
        height: 1;
        text-style: bold;
        background: $panel;
    }
    ConflictDialog #conflict-rows {
        height: auto;
        max-height: 12;
    }
    ConflictDialog #conflict-detail {
        margin-top: 1;
        height: auto;
        max-height: 6;
    }
    ConflictDialog #conflict-buttons {
        height: 1;
        margin-top: 1;
        align-horizontal: right;
    }
    ConflictDialog #conflict-buttons Button {
        margin-left: 2;
    }
    """

    def __init__(self, error: ConflictError, labels: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self.error = error
        self.labels = dict(labels or {})
        self.rows = classify(error)

    # -- layout ------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        error = self.error
        what = f"{error.what.capitalize()} {error.key}"
        with Vertical():
            yield Static(f"{what} was changed by someone else while you edited it",
                         id="conflict-title", markup=False)
            yield Static(self._help_text(), id="conflict-help", markup=False)
            header = _grid()
            header.add_row("Field", "When opened", "Saved meanwhile", "Yours", "Keep")
            yield Static(header, id="conflict-header")
            with VerticalScroll(id="conflict-rows", can_focus=False):
                for index, row in enumerate(self.rows):
                    yield ChoiceRow(row, field_label(row.field, self.labels), id=f"row-{index}")
            yield Static(id="conflict-detail")
            with Horizontal(id="conflict-buttons"):
                yield Button("Save choices", id="merge", variant="primary", compact=True)
                yield Button("Keep mine", id="keep-mine", compact=True)
                yield Button("Take theirs", id="take-theirs", compact=True)
                yield Button("Cancel", id="cancel", compact=True)
        yield Footer()

    def _help_text(self) -> str:
        both = sum(1 for r in self.rows if r.needs_choice)
        if not self.rows:
            return "Your values and theirs are the same: nothing to choose."
        if both:
            fields = "field" if both == 1 else "fields"
            lead = f"You both changed {both} {fields} (●): choose which value to keep."
        else:
            lead = "You changed different fields: both sets of changes can be kept."
        return f"{lead} space toggles a field, m keeps mine, t takes theirs, enter saves."

    def on_mount(self) -> None:
        rows = list(self.query(ChoiceRow))
        if rows:
            rows[0].focus()
            self._show_detail(rows[0])
        else:
            self.query_one("#merge", Button).focus()

    # -- the focused row's full values -------------------------------------------------------

    def _show_detail(self, row_widget: ChoiceRow) -> None:
        row = row_widget.row
        lines = [Text(row_widget.label, style="bold")]
        for name, value in (("when you opened it", row.base), ("saved meanwhile", row.theirs),
                            ("yours", row.mine)):
            lines.append(Text.assemble((f"  {name}: ", "dim"), shown_value(value)))
        if not row.needs_choice:
            side = "you" if row.default == MINE else "the other session"
            lines.append(Text(f"  only {side} changed it", style="dim italic"))
        text = Text("\n").join(lines)
        self.query_one("#conflict-detail", Static).update(text)

    def on_descendant_focus(self, event) -> None:
        if isinstance(event.widget, ChoiceRow):
            self._show_detail(event.widget)

    def action_move(self, delta: int) -> None:
        rows = list(self.query(ChoiceRow))
        if not rows:
            return
        focused = self.focused
        if focused in rows:
            index = rows.index(focused) + delta
        else:  # on a button: down goes to the first field, up to the last
            index = 0 if delta > 0 else len(rows) - 1
        target = rows[min(max(index, 0), len(rows) - 1)]
        target.focus()
        target.scroll_visible()

    # -- choosing ----------------------------------------------------------------------------

    def choices(self) -> dict[str, str]:
        """The current choice per field ("mine" or "theirs")."""
        return {w.row.field: w.choice for w in self.query(ChoiceRow)}

    def action_keep_mine(self) -> None:
        self.dismiss(resolve_conflict(self.error, all_=MINE))

    def action_take_theirs(self) -> None:
        self.dismiss(resolve_conflict(self.error, all_=THEIRS))

    def action_merge(self) -> None:
        self.dismiss(resolve_conflict(self.error, self.choices()))

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#merge")
    def _merge_pressed(self) -> None:
        self.action_merge()

    @on(Button.Pressed, "#keep-mine")
    def _mine_pressed(self) -> None:
        self.action_keep_mine()

    @on(Button.Pressed, "#take-theirs")
    def _theirs_pressed(self) -> None:
        self.action_take_theirs()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()
