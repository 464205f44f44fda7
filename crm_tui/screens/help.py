"""`?`: every key of the app and of the current screen, generated from the active bindings.

Generated, never hand-written: what it lists is what the keys do, keymap remappings included.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import Static


@dataclass(frozen=True)
class KeyHelp:
    section: str
    key: str
    description: str
    binding_id: str | None


def _section(node: DOMNode) -> str:
    if isinstance(node, App):
        return "Everywhere"
    if isinstance(node, Screen):
        return node.title or type(node).__name__.removesuffix("Screen")
    return getattr(node, "HELP_SECTION", None) or type(node).__name__


def collect_keys(app: App, screen: Screen) -> list[KeyHelp]:
    """The keys active on `screen` (its focused widget, the screen, the app) and every app key.

    Only the app's own bindings (those with an id, which a keymap can remap) are listed, not the
    generic ones Textual's containers bring; a key shared by two levels is listed where it acts.
    """
    seen: set[tuple[str, str]] = set()
    rows: list[KeyHelp] = []

    def add(node: DOMNode, key: str, binding: Binding) -> None:
        if not binding.description or binding.system or not binding.id:
            return
        if (key, binding.action) in seen:
            return
        seen.add((key, binding.action))
        display = app.get_key_display(binding.with_key(key))
        rows.append(KeyHelp(_section(node), display, binding.description, binding.id))

    active = screen.active_bindings
    for key, item in active.items():
        if not isinstance(item.node, App):
            add(item.node, key, item.binding)
    # the app's own keys, including those the footer hides (F2..F6, q)
    for key, item in active.items():
        if isinstance(item.node, App):
            add(item.node, key, item.binding)
    order = {"Everywhere": 1}
    return sorted(rows, key=lambda row: order.get(row.section, 0))


class HelpScreen(ModalScreen[None]):
    """A modal list of keys; any of escape, q, ? or enter closes it."""

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
    }
    HelpScreen > Vertical {
        width: 70;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        border: round $primary;
        background: $surface;
        padding: 0 1;
    }
    HelpScreen #help-title {
        text-style: bold;
        height: 1;
    }
    HelpScreen VerticalScroll {
        height: auto;
        max-height: 1fr;
    }
    HelpScreen #help-hint {
        color: $text-muted;
        height: 1;
    }
    """

    BINDINGS = [
        Binding("escape,q,question_mark,enter", "close", "Close", id="help.close"),
    ]

    def __init__(self, keys: list[KeyHelp]) -> None:
        super().__init__()
        self.keys = keys

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Keys", id="help-title")
            with VerticalScroll():
                yield Static(self._table(), id="help-keys")
            yield Static("escape closes · ctrl+p finds any command by name", id="help-hint")

    def _table(self) -> Table:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        section = None
        for row in self.keys:
            if row.section != section:
                if section is not None:
                    table.add_row("", "")
                table.add_row(Text(row.section, style="underline"), "")
                section = row.section
            table.add_row(row.key, row.description)
        return table

    def action_close(self) -> None:
        self.dismiss(None)
