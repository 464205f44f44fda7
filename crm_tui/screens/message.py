"""A full-screen message for errors that stop the app from working (the database could not be
opened, the login is not a user, the config file is malformed): a clear sentence, no traceback."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static


class MessageScreen(ModalScreen[None]):
    """Shows a title and a message; the only way on is to quit."""

    DEFAULT_CSS = """
    MessageScreen {
        align: center middle;
        background: $background;
    }
    MessageScreen > Vertical {
        width: 72;
        max-width: 100%;
        height: auto;
        border: heavy $error;
        padding: 1 2;
        background: $surface;
    }
    MessageScreen #message-title {
        text-style: bold;
        color: $error;
        margin-bottom: 1;
    }
    MessageScreen #message-hint {
        color: $text-muted;
        margin-top: 1;
    }
    """

    BINDINGS = [
        Binding("q,escape,enter,ctrl+q", "quit", "Quit", id="message.quit"),
    ]

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.message_title = title
        self.message_text = text

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.message_title, id="message-title", markup=False)
            yield Static(self.message_text, id="message-text", markup=False)
            yield Static("Press q or enter to quit.", id="message-hint")

    def action_quit(self) -> None:
        self.app.exit(return_code=1)
