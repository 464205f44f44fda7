"""The one-line header: the app's name, a tab per main screen with its key, the acting user."""

from __future__ import annotations

from rich.cells import cell_len
from textual.content import Content
from textual.widget import Widget

SECTIONS = (
    # mode, label, binding id of the key that shows it
    ("contacts", "Contacts", "app.contacts"),
    ("board", "Board", "app.board"),
    ("activities", "Activities", "app.activities"),
    ("calendar", "Calendar", "app.calendar"),
    ("settings", "Settings", "app.settings"),
    ("reports", "Reports", "app.reports"),
)


class NavBar(Widget):
    """Tabs of the main screens, the current one highlighted; click one to go there."""

    DEFAULT_CSS = """
    NavBar {
        dock: top;
        height: 1;
        background: $panel;
        color: $foreground;
    }
    """

    def __init__(self, current: str) -> None:
        super().__init__()
        self.current = current

    def on_mount(self) -> None:
        self.watch(self.app, "workspace", lambda _ws: self.refresh(), init=False)
        if hasattr(type(self.app), "status_counts"):  # the `crm status` counts, kept fresh by the app
            self.watch(self.app, "status_counts", lambda _text: self.refresh(), init=False)

    def _keys(self) -> dict[str, str]:
        """Binding id -> the key shown (after any keymap), from the app's active bindings."""
        keys: dict[str, str] = {}
        # this bar's own screen: it may be redrawn while a form or the help is on top
        for active in self.screen.active_bindings.values():
            binding = active.binding
            if binding.id and binding.id not in keys:
                keys[binding.id] = self.app.get_key_display(binding)
        return keys

    def _tabs(self, keys: dict[str, str], tight: bool) -> list[Content]:
        """The name and a tab per section (`tight`: one space less after each other tab)."""
        parts: list[Content] = [Content.from_markup("[b] crm [/b]")]
        for mode, label, binding_id in SECTIONS:
            key = keys.get(binding_id, "")
            text = f" {key} {label} " if key else f" {label} "
            if tight and mode != self.current:
                text = text[:-1]
            style = "reverse bold" if mode == self.current else ""
            action = f"app.show('{mode}')"
            parts.append(Content.styled(text, f"{style} @click={action}".strip()))
        if tight or sum(part.cell_length for part in parts) > self.size.width:
            parts = parts[1:]  # six tabs fill 80 columns: the name goes first
        return parts

    def render(self) -> Content:
        keys = self._keys()
        counts = getattr(self.app, "status_counts", "")
        left = Content("").join(self._tabs(keys, tight=False))
        if counts and not _status_counts(counts, self.size.width - left.cell_length - 1):
            left = Content("").join(self._tabs(keys, tight=True))  # room for the counts
        workspace = getattr(self.app, "workspace", None)
        who = f"{workspace.actor.login} " if workspace is not None else ""
        room = self.size.width - left.cell_length
        # the counts before the login: the login goes first when there is no room for both
        right = _status_counts(counts, room - 1)
        if who and room > right.cell_length + cell_len(who) + 1:
            right = right + Content.styled(" " + who, "dim")
        else:
            right = right + Content(" ")
        if room > right.cell_length:
            return left + Content(" " * (room - right.cell_length)) + right
        return left


def _status_counts(text: str, room: int) -> Content:
    """"3 overdue · 2 today · 5 planned" in the states' colours; "3! 2" when that is too wide."""
    if not text:
        return Content("")
    colours = {"overdue": "red", "today": "yellow", "planned": "green"}
    parts = [part.split(" ", 1) for part in text.split(" · ")]
    if len(text) + 1 <= room:
        pieces = [Content.styled(f"{n} {word}", colours.get(word, "")) for n, word in parts]
        return Content(" ").join([Content(""), Content(" · ").join(pieces)])
    short = [Content.styled(f"{n}!", "bold red") for n, word in parts if word == "overdue" and n != "0"]
    short += [Content.styled(n, "yellow") for n, word in parts if word == "today" and n != "0"]
    joined = Content(" ").join([Content(""), *short]) if short else Content("")
    return joined if joined.cell_length <= room else Content("")
