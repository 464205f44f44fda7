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

    def _keys(self) -> dict[str, str]:
        """Binding id -> the key shown (after any keymap), from the app's active bindings."""
        keys: dict[str, str] = {}
        for active in self.app.screen.active_bindings.values():
            binding = active.binding
            if binding.id and binding.id not in keys:
                keys[binding.id] = self.app.get_key_display(binding)
        return keys

    def render(self) -> Content:
        keys = self._keys()
        parts: list[Content] = [Content.from_markup("[b] crm [/b]")]
        for mode, label, binding_id in SECTIONS:
            key = keys.get(binding_id, "")
            text = f" {key} {label} " if key else f" {label} "
            style = "reverse bold" if mode == self.current else ""
            action = f"app.show('{mode}')"
            parts.append(Content.styled(text, f"{style} @click={action}".strip()))
        left = Content("").join(parts)
        workspace = getattr(self.app, "workspace", None)
        who = f"{workspace.actor.login} " if workspace is not None else ""
        room = self.size.width - left.cell_length
        if who and room > cell_len(who):
            return left + Content(" " * (room - cell_len(who))) + Content.styled(who, "dim")
        return left
