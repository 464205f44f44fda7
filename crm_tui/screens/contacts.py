"""Contacts: a virtual list over `services.contacts.list_contacts`, search-as-you-type, the filter
language bar, sorting, the contact card and the "add contact" form."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.timer import Timer
from textual.widgets import Input, Static

from crm_tui.screens.base import MainScreen
from crm_tui.widgets.format import marker, plural
from crm_tui.widgets.virtual_table import Column, VirtualTable

if TYPE_CHECKING:
    from crm_tui.services.contacts import ContactRow
    from crm_tui.services.query import Filter
    from crm_tui.workspace import Workspace

SEARCH_DELAY = 0.15
"""Seconds of quiet typing before the list is searched again."""
SORTS = ("name", "company", "city", "status", "created", "number", "due")
"""The sort keys `o` cycles through (the keys of `services.contacts.SORTS`)."""


def contact_columns() -> list[Column]:
    return [
        Column("state", "●", 1, lambda r: marker(r.state), priority=0),
        Column("name", "Name", 16, lambda r: r.display_name, priority=0, grow=3),
        Column("company", "Company", 14, lambda r: r.company, priority=1, grow=2),
        Column("status", "Status", 8, lambda r: r.status, priority=3),
        Column("city", "City", 10, lambda r: r.city, priority=2, grow=1),
        Column("phone", "Phone", 14, lambda r: r.phone, priority=4),
        Column("email", "E-mail", 18, lambda r: r.email, priority=5, grow=2),
        Column("assigned", "Assignee", 12, lambda r: r.assigned_to or "", priority=6),
        Column("number", "Number", 12, lambda r: r.customer_number or "", priority=7),
    ]


@dataclass(frozen=True)
class ContactSource:
    """Windows of the filtered, sorted contact list (runs in the table's worker threads)."""

    workspace: Workspace
    filter: Filter
    sort: str = "name"
    descending: bool = False

    def count(self) -> int:
        from crm_tui.services.contacts import count_contacts

        return self.workspace.read(lambda s: count_contacts(s, self.workspace.actor, self.filter))

    def fetch(self, offset: int, limit: int) -> Sequence[ContactRow]:
        from crm_tui.services.contacts import list_contacts

        return self.workspace.read(
            lambda s: list_contacts(
                s, self.workspace.actor, self.filter, sort=self.sort, descending=self.descending,
                offset=offset, limit=limit,
            )
        )


class ContactsScreen(MainScreen):
    """The contact list."""

    MODE = "contacts"
    TITLE = "Contacts"

    BINDINGS = [
        Binding("slash", "search", "Search", id="contacts.search"),
        Binding("f", "filter", "Filter", id="contacts.filter"),
        Binding("a", "add", "Add", id="contacts.add"),
        Binding("o", "sort", "Sort", id="contacts.sort"),
        Binding("O", "reverse", "Reverse sort", show=False, id="contacts.reverse"),
        Binding("escape", "leave_input", "Clear search / close filter", show=False,
                id="contacts.leave_input"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.filter_text = ""
        """The applied filter query, as typed."""
        self._good_filter = ""
        """The last filter the database accepted."""
        self._rejected: tuple[str, int, str] | None = None
        """The last filter the database rejected: (text, position, reason)."""
        self.search_text = ""
        self.sort = "name"
        self.descending = False
        self.count: int | None = None
        self._search_timer: Timer | None = None

    def compose_body(self) -> ComposeResult:
        yield Static(id="contacts-status", classes="status-line")
        yield Input(placeholder="/ search: name, company, city, phone, e-mail, number",
                    id="search", compact=True)
        with Vertical(id="filter-bar"):
            yield Input(placeholder="filter: status:prospect city:Olpe state:overdue -assigned:@me",
                        id="filter", compact=True)
            yield Static(id="filter-error", markup=False)
        yield VirtualTable(contact_columns(), id="contacts-table",
                           empty_text="No contacts match.", loading_text="loading contacts…")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one(VirtualTable).focus()
        self._show_status()

    # -- loading -----------------------------------------------------------------------------

    def workspace_ready(self, workspace: Workspace) -> None:
        self._load(keep_cursor=False)

    def reload(self) -> None:
        self._load(keep_cursor=True)

    def _today(self) -> date:
        workspace = self.workspace
        return workspace.actor.today() if workspace is not None else date.today()

    def _current_filter(self) -> Filter:
        from crm_tui.services.query import Filter, parse, tokenize_words

        base = parse(self.filter_text, self._today()) if self.filter_text else Filter()
        words = tuple(tokenize_words(self.search_text))
        return Filter(base.terms, base.words + words, base.negated_words)

    def _load(self, keep_cursor: bool) -> None:
        workspace = self.workspace
        if workspace is None:
            return
        source = ContactSource(workspace, self._current_filter(), self.sort, self.descending)
        self.query_one(VirtualTable).set_source(source, keep_cursor=keep_cursor)
        self._show_status()

    def _show_status(self) -> None:
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append("Filter: ", style="bold")
        line.append(self.filter_text or "none", style="" if self.filter_text else "dim")
        if self.search_text:
            line.append("  Search: ", style="bold")
            line.append(self.search_text)
        line.append("  ")
        line.append(plural(self.count, "contact") if self.count is not None else "counting…",
                    style="bold")
        line.append(f"  sort {self.sort} {'↓' if self.descending else '↑'}", style="dim")
        self.query_one("#contacts-status", Static).update(line)

    @on(VirtualTable.Counted, "#contacts-table")
    def _counted(self, message: VirtualTable.Counted) -> None:
        self._good_filter = self.filter_text
        self.count = message.count
        self._show_status()

    @on(VirtualTable.Failed, "#contacts-table")
    def _failed(self, message: VirtualTable.Failed) -> None:
        from crm_tui.services.query import QuerySyntaxError

        error = message.error
        if isinstance(error, QuerySyntaxError) and self.filter_text != self._good_filter:
            # Only the database could tell (an unknown user or group): keep showing the last
            # filter that worked, and put the failed one back in the bar to be corrected.
            failed = self.filter_text
            self.filter_text = self._good_filter
            self._load(keep_cursor=False)
            self._rejected = (failed, error.position, error.reason)
            self._open_filter_bar(failed)
            self._show_filter_error(error.position, error.reason)
        else:
            self.notify(str(error), severity="error")

    # -- search ------------------------------------------------------------------------------

    def action_search(self) -> None:
        self.query_one("#search", Input).focus()

    @on(Input.Changed, "#search")
    def _search_changed(self, event: Input.Changed) -> None:
        if self._search_timer is not None:
            self._search_timer.stop()
            self._search_timer = None
        if SEARCH_DELAY > 0:
            self._search_timer = self.set_timer(SEARCH_DELAY, self._apply_search)
        else:  # no debounce (tests set it to 0)
            self.call_later(self._apply_search)

    def _apply_search(self) -> None:
        self._search_timer = None
        text = self.query_one("#search", Input).value.strip()
        if text == self.search_text:
            return
        self.search_text = text
        self.count = None
        self._load(keep_cursor=False)

    @on(Input.Submitted, "#search")
    def _search_submitted(self) -> None:
        if self._search_timer is not None:
            self._search_timer.stop()
            self._apply_search()
        self.query_one(VirtualTable).focus()

    # -- filter ------------------------------------------------------------------------------

    def action_filter(self) -> None:
        self._open_filter_bar()

    def _open_filter_bar(self, text: str | None = None) -> None:
        bar = self.query_one("#filter-bar")
        bar.display = True
        field = self.query_one("#filter", Input)
        if text is not None:
            field.value = text
        elif not bar.has_focus_within:
            field.value = self.filter_text
        field.focus()

    def _close_filter_bar(self) -> None:
        self.query_one("#filter-bar").display = False
        self._show_filter_error(None, "")
        self.query_one(VirtualTable).focus()

    def _show_filter_error(self, position: int | None, reason: str) -> None:
        label = self.query_one("#filter-error", Static)
        if position is None:
            label.update("")
            label.display = False
            return
        label.update(f"✗ at position {position}: {reason}")
        label.display = True
        field = self.query_one("#filter", Input)
        field.cursor_position = max(position - 1, 0)

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        """Check the syntax as it is typed (parsing is cheap and never touches the database)."""
        from crm_tui.services.query import QuerySyntaxError, parse

        try:
            parse(event.value, self._today())
        except QuerySyntaxError as error:
            label = self.query_one("#filter-error", Static)
            label.update(f"✗ at position {error.position}: {error.reason}")
            label.display = True
        else:
            if self._rejected is not None and self._rejected[0] == event.value:
                return  # the database's objection to this very text stays visible
            self._show_filter_error(None, "")

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        from crm_tui.services.query import QuerySyntaxError, parse

        text = event.value.strip()
        try:
            parse(text, self._today())
        except QuerySyntaxError as error:
            self._show_filter_error(error.position, error.reason)
            return
        self.filter_text = text
        self.count = None
        self._close_filter_bar()
        self._load(keep_cursor=False)

    def action_leave_input(self) -> None:
        """Escape: close the filter bar; in the search field, clear it and go back to the list."""
        search = self.query_one("#search", Input)
        if self.query_one("#filter-bar").display:
            self._close_filter_bar()
        elif search.has_focus:
            search.value = ""
            self.query_one(VirtualTable).focus()

    # -- sorting -----------------------------------------------------------------------------

    def action_sort(self) -> None:
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        self._load(keep_cursor=False)

    def action_reverse(self) -> None:
        self.descending = not self.descending
        self._load(keep_cursor=False)

    # -- card and form -----------------------------------------------------------------------

    @on(VirtualTable.RowSelected, "#contacts-table")
    def _open_card(self, message: VirtualTable.RowSelected) -> None:
        from crm_tui.screens.contact_card import ContactCardScreen

        self.app.push_screen(ContactCardScreen(message.row.id))

    def action_add(self) -> None:
        from crm_tui.screens.modals.contact_form import ContactFormScreen

        workspace = self.workspace
        if workspace is None:
            self.notify("The database is still opening.", severity="warning")
            return
        self.app.push_screen(ContactFormScreen(workspace), self._added)

    def _added(self, contact_id: int | None) -> None:
        if contact_id is None:
            return
        self.notify(f"Contact {contact_id} added.")
        self.reload()
