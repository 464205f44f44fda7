"""The groups sidebar of the contact list: "All contacts", then every static and dynamic group.

Choosing one posts `GroupsSidebar.Chosen` with the group (None for all contacts); the screen
applies its `group:"NAME"` filter. The groups are loaded in a thread worker from
`services.groups.list_groups` (a few hundred at most: an OptionList is enough).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from crm_tui.widgets.format import number
from crm_tui.widgets.worker_errors import ReportsWorkerErrors

if TYPE_CHECKING:
    from crm_tui.services.groups import GroupRow
    from crm_tui.workspace import Workspace

ALL = "all"
LABEL_WIDTH = 24
"""Cells of a label line (the sidebar's width less its border and the list's padding)."""


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


class GroupsSidebar(ReportsWorkerErrors, Vertical):
    """A list of groups to filter the contact list by."""

    HELP_SECTION = "Groups"

    DEFAULT_CSS = """
    GroupsSidebar {
        dock: left;
        width: 28;
        height: 1fr;
        background: $panel;
        border-right: vkey $primary;
        display: none;
    }
    GroupsSidebar.-shown {
        display: block;
    }
    GroupsSidebar #groups-title {
        height: 1;
        padding: 0 1;
        text-style: bold;
    }
    GroupsSidebar OptionList {
        height: 1fr;
        background: $panel;
    }
    """

    BINDINGS = [
        Binding("escape", "close", "Close groups", id="groups.close"),
    ]

    class Chosen(Message):
        """A group was chosen (None: all contacts)."""

        def __init__(self, sidebar: GroupsSidebar, group: GroupRow | None) -> None:
            super().__init__()
            self.sidebar = sidebar
            self.group = group

        @property
        def control(self) -> GroupsSidebar:
            return self.sidebar

    class Closed(Message):
        def __init__(self, sidebar: GroupsSidebar) -> None:
            super().__init__()
            self.sidebar = sidebar

        @property
        def control(self) -> GroupsSidebar:
            return self.sidebar

    class _Loaded(Message, bubble=False):
        def __init__(self, groups: list[GroupRow]) -> None:
            super().__init__()
            self.groups = groups

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.groups: list[GroupRow] = []
        self.current: str | None = None
        """The name of the group whose filter is applied (None: no group's)."""
        self.everything = True
        """No filter at all is applied ("All contacts" is the current choice)."""

    def compose(self) -> ComposeResult:
        yield Static("Groups", id="groups-title")
        yield OptionList(Option(Text("All contacts"), id=ALL), id="groups-list", compact=True)

    @property
    def shown(self) -> bool:
        return self.has_class("-shown")

    def show(self, shown: bool = True) -> None:
        self.set_class(shown, "-shown")
        if shown:
            self.query_one(OptionList).focus()

    def action_close(self) -> None:
        self.show(False)
        self.post_message(self.Closed(self))

    @work(thread=True, exclusive=True, exit_on_error=False, name="load groups")
    def load(self, workspace: Workspace) -> None:
        from crm_tui.services.groups import list_groups

        groups = workspace.read(lambda s: list_groups(s, workspace.actor))
        self.post_message(self._Loaded(groups))

    @on(_Loaded)
    def _loaded(self, message: _Loaded) -> None:
        self.groups = message.groups
        self._fill()

    def _fill(self) -> None:
        options = self.query_one(OptionList)
        highlighted = options.highlighted
        options.clear_options()
        options.add_option(Option(self._label("All contacts", None, self.everything), id=ALL))
        for index, group in enumerate(self.groups):
            options.add_option(Option(self._group_label(group), id=str(index)))
        if highlighted is not None:
            options.highlighted = min(highlighted, options.option_count - 1)
        self.query_one("#groups-title", Static).update(f"Groups ({len(self.groups)})")

    def _group_label(self, group: GroupRow) -> Text:
        if group.kind == "dynamic":
            detail = "≈ " + (group.query or "")
        else:
            detail = f"▪ {number(group.members)} members" if group.members is not None else "▪ static"
        return self._label(group.name, detail, group.name == self.current)

    @staticmethod
    def _label(name: str, detail: str | None, current: bool) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append("▸ " if current else "  ", style="bold")
        text.append(_cut(name, LABEL_WIDTH - 2), style="bold" if current else "")
        if detail:
            text.append(f"\n    {_cut(detail, LABEL_WIDTH - 4)}", style="dim")
        return text

    def set_current(self, name: str | None, *, everything: bool = False) -> None:
        """Mark the group whose filter is applied (`everything`: no filter at all)."""
        if (name, everything) != (self.current, self.everything):
            self.current, self.everything = name, everything
            self._fill()

    @on(OptionList.OptionSelected, "#groups-list")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        option_id = event.option.id
        group = None if option_id in (None, ALL) else self.groups[int(option_id)]
        self.post_message(self.Chosen(self, group))
