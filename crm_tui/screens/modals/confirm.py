"""A yes/no question: "Delete 1,234 contacts permanently?". Dismisses with True or False.

`y` (or the confirm button) says yes, `n` or escape says no. A dangerous question (`danger=True`)
has a red frame and starts with the focus on "Cancel", so a stray enter does nothing harmful.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Button, Static

from crm_tui.screens.modals.dialog import Dialog


class ConfirmDialog(Dialog[bool]):
    """Ask one question; True means go ahead."""

    BINDINGS = [
        Binding("y", "confirm", "Yes", id="confirm.yes"),
        Binding("n", "cancel", "No", id="confirm.no"),
    ]

    def __init__(self, title: str, text: str = "", *, confirm: str = "OK", danger: bool = False) -> None:
        super().__init__(classes="-danger" if danger else None)
        self.question = title
        self.body_text = text
        self.confirm_label = confirm
        self.danger = danger

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield self.heading(self.question)
            if self.body_text:
                yield Static(self.body_text, classes="dialog-text", markup=False)
            yield Static("y yes · n or escape no", classes="hint")
            yield from self.buttons(
                ("confirm", self.confirm_label, "error" if self.danger else "primary"),
                ("cancel", "Cancel", "default"),
            )

    def on_mount(self) -> None:
        self.query_one("#cancel" if self.danger else "#confirm", Button).focus()

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
