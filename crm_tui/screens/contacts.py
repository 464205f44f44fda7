"""Contacts: a virtual list over `services.contacts.list_contacts`, search-as-you-type, the filter
language bar and its builder, the groups sidebar, sorting, marking contacts and the bulk actions,
the import, the contact card and the contact form.

One line above the list always says what is shown: how many contacts match, how many are marked,
the filter, the search and the sort. Archived and closed contacts are hidden unless the filter
names a status; `h` shows every status at once.

Marks are either explicit ids (space, invert) or "every contact matching the filter, except the
ones unmarked again" (`*`), which is what `services.bulk.Selection` takes, so an action on 100,000
contacts never lists them in the UI. Bulk actions run in a thread worker, in one transaction (all
or nothing), with a progress bar fed from the service's `progress(done, total)`.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.style import Style
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Input, ProgressBar, Static

from crm_tui.screens.base import MainScreen
from crm_tui.widgets.format import marker, plural
from crm_tui.widgets.groups_sidebar import GroupsSidebar
from crm_tui.widgets.virtual_table import Column, VirtualTable

if TYPE_CHECKING:
    from crm_tui.services.bulk import BulkResult, Selection
    from crm_tui.services.contacts import ContactRow
    from crm_tui.services.query import Filter
    from crm_tui.workspace import Workspace

SEARCH_DELAY = 0.15
"""Seconds of quiet typing before the list is searched again."""
SORTS = ("name", "company", "city", "status", "created", "number", "due")
"""The sort keys `o` cycles through (the keys of `services.contacts.SORTS`)."""
SORT_COLUMNS = {"name": "name", "company": "company", "city": "city", "status": "status",
                "number": "number", "due": "state"}
"""The column whose header shows the sort arrow, per sort key."""
PROGRESS_INTERVAL = 0.1
"""At most this often (seconds) a bulk action's progress is drawn."""
WIDE = 110
"""From this width on the groups sidebar stays open beside the list after a group is chosen."""
EXPORT_FORMATS = ("csv", "json", "vcf")
MARK = "✓"


def contact_columns(is_marked: Callable[[int], bool] | None = None, sort: str = "name",
                    descending: bool = False) -> list[Column]:
    marked = is_marked or (lambda _id: False)
    columns = [
        Column("mark", " ", 1, lambda r: Text(MARK, style="bold bright_cyan") if marked(r.id) else "",
               priority=0),
        Column("state", "●", 1, lambda r: marker(r.state), priority=0),
        Column("name", "Name", 16, lambda r: r.display_name, priority=0, grow=3),
        Column("company", "Company", 14, lambda r: r.company, priority=1, grow=2),
        Column("status", "Status", 8, lambda r: r.status, priority=3),
        Column("city", "City", 10, lambda r: r.city, priority=2, grow=1),
        Column("phone", "Phone", 14, lambda r: r.phone, priority=4),
        Column("email", "E-mail", 18, lambda r: r.email, priority=5, grow=2),
        Column("assigned", "Assignee", 12, lambda r: r.assigned_to or "", priority=6),
        Column("number", "Customer no.", 12, lambda r: r.customer_number or "", priority=7),
    ]
    arrow = "↓" if descending else "↑"
    key = SORT_COLUMNS.get(sort)
    out = []
    for column in columns:
        if column.key == key:
            label = column.label + arrow if column.key != "state" else arrow
            column = Column(column.key, label, column.width, column.cell, column.priority,
                            column.grow, column.justify)
        out.append(column)
    return out


def row_style(is_marked: Callable[[int], bool]) -> Callable[[Any], Style | None]:
    """Marked rows bold; inbox contacts (restricted until reviewed) italic; archived and closed
    ones dim."""
    bold = Style(bold=True)
    inbox = Style(italic=True)
    dim = Style(dim=True)

    def style(row: ContactRow) -> Style | None:
        base = inbox if row.status == "inbox" else dim if row.status in ("archived", "closed") else None
        if is_marked(row.id):
            return bold + base if base else bold
        return base

    return style


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


@dataclass
class Marks:
    """The marked contacts: explicit ids, or all matching `filter` except `excluded`."""

    ids: set[int] = field(default_factory=set)
    filter: Filter | None = None
    excluded: set[int] = field(default_factory=set)
    matching: int = 0
    """How many contacts the filter matched when they were all marked."""

    @property
    def all_matching(self) -> bool:
        return self.filter is not None

    def __contains__(self, contact_id: int) -> bool:
        if self.filter is not None:
            return contact_id not in self.excluded
        return contact_id in self.ids

    @property
    def count(self) -> int:
        if self.filter is not None:
            return max(self.matching - len(self.excluded), 0)
        return len(self.ids)

    def toggle(self, contact_id: int) -> None:
        target = self.excluded if self.filter is not None else self.ids
        target.symmetric_difference_update({contact_id})

    def mark_all(self, filt: Filter, matching: int) -> None:
        self.ids, self.filter, self.excluded, self.matching = set(), filt, set(), matching

    def invert(self, filt: Filter, matching: int) -> None:
        if self.filter is not None:
            self.ids, self.filter, self.excluded = set(self.excluded), None, set()
        else:
            self.ids, self.filter, self.excluded, self.matching = set(), filt, set(self.ids), matching

    def clear(self) -> None:
        self.ids, self.filter, self.excluded, self.matching = set(), None, set(), 0

    def selection(self) -> Selection:
        from crm_tui.services.bulk import Selection

        if self.filter is not None:
            return Selection.matching(self.filter, self.excluded)
        return Selection.of(self.ids)

    def describe(self) -> str:
        if self.filter is not None:
            text = f"all {plural(self.count, 'matching contact')}"
            return text + (f" ({len(self.excluded)} unmarked)" if self.excluded else "")
        return plural(self.count, "marked contact")


@dataclass(frozen=True)
class BulkJob:
    """One bulk action, ready to run: `run(session, actor, selection, progress)`."""

    action: str
    verb: str
    """"Archiving", "Deleting", ... for the progress line."""
    run: Callable[..., Any]
    writes: bool = True
    clears_marks: bool = True
    finish: Callable[[Any], None] | None = None
    """Runs in the worker after a successful `run` (an export moves its file into place)."""


class ContactsScreen(MainScreen):
    """The contact list."""

    MODE = "contacts"
    TITLE = "Contacts"

    BINDINGS = [
        Binding("slash", "search", "Search", id="contacts.search"),
        Binding("f", "filter", "Filter", id="contacts.filter"),
        Binding("F", "filter_builder", "Filter fields", show=False, id="contacts.filter_builder"),
        Binding("h", "all_statuses", "All statuses", show=False, id="contacts.all_statuses"),
        Binding("g", "groups", "Groups", id="contacts.groups"),
        Binding("S", "save_group", "Save filter as group", show=False, id="contacts.save_group"),
        Binding("space", "mark", "Mark", id="contacts.mark"),
        Binding("asterisk", "mark_all", "Mark all matching", show=False, id="contacts.mark_all"),
        Binding("i", "invert_marks", "Invert marks", show=False, id="contacts.invert_marks"),
        Binding("u", "clear_marks", "Clear marks", show=False, id="contacts.clear_marks"),
        Binding("b", "bulk", "Bulk", id="contacts.bulk"),
        Binding("m", "mass_mail", "Mass e-mail", show=False, id="contacts.mass_mail"),
        Binding("x", "export", "Export", show=False, id="contacts.export"),
        Binding("a", "add", "Add", id="contacts.add"),
        Binding("e", "edit", "Edit", show=False, id="contacts.edit"),
        Binding("I", "import", "Import CSV", show=False, id="contacts.import"),
        Binding("o", "sort", "Sort", show=False, id="contacts.sort"),
        Binding("O", "reverse", "Reverse sort", show=False, id="contacts.reverse"),
        Binding("escape", "leave_input", "Clear search / close filter", show=False,
                id="contacts.leave_input"),
    ]

    DEFAULT_CSS = """
    ContactsScreen #contacts-body {
        height: 1fr;
    }
    ContactsScreen #bulk-progress {
        height: 1;
        padding: 0 1;
        background: $boost;
        display: none;
    }
    ContactsScreen #bulk-progress.-running {
        display: block;
    }
    ContactsScreen #bulk-label {
        width: 1fr;
    }
    ContactsScreen #bulk-bar {
        width: auto;
    }
    ContactsScreen #bulk-bar Bar {
        width: 20;
    }
    """

    class Counted(Message):
        """The marked contacts were counted for an action (`count_selected`)."""

        def __init__(self, action: str, selection: Selection, count: int) -> None:
            super().__init__()
            self.action = action
            self.selection = selection
            self.count = count

    class BulkDone(Message):
        def __init__(self, job: BulkJob, result: object = None, error: str = "") -> None:
            super().__init__()
            self.job = job
            self.result = result
            self.error = error

    class BulkEditStep(Message):
        """The next step of a bulk edit: edit `edited` (no plan yet), or preview `plan`."""

        def __init__(self, original: str = "", edited: str = "", plan: object = None,
                     error: str = "") -> None:
            super().__init__()
            self.original = original
            self.edited = edited
            self.plan = plan
            self.error = error

    class GroupSaved(Message):
        def __init__(self, name: str = "", error: str = "") -> None:
            super().__init__()
            self.name = name
            self.error = error

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
        self.show_all = False
        """`h`: archived and closed contacts shown too (unless the filter names a status)."""
        self.count: int | None = None
        self.marks = Marks()
        self._search_timer: Timer | None = None
        self._bulk_running: BulkJob | None = None
        self._last_progress = 0.0

    def compose_body(self) -> ComposeResult:
        yield Static(id="contacts-status", classes="status-line")
        yield Input(placeholder="/ search: name, company, city, phone, e-mail, number",
                    id="search", compact=True)
        with Vertical(id="filter-bar"):
            yield Input(placeholder="filter: status:prospect city:Olpe state:overdue -assigned:@me"
                                    "  (F: fields)", id="filter", compact=True)
            yield Static(id="filter-error", markup=False)
        with Horizontal(id="contacts-body"):
            yield GroupsSidebar(id="groups")
            yield VirtualTable(self._columns(), id="contacts-table",
                               row_style=row_style(self._is_marked),
                               empty_text="No contacts match.", loading_text="loading contacts…")
        with Horizontal(id="bulk-progress"):
            yield Static(id="bulk-label", markup=False)
            yield ProgressBar(show_eta=False, id="bulk-bar")

    def on_mount(self) -> None:
        super().on_mount()
        self.table.focus()
        self._show_status()

    @property
    def table(self) -> VirtualTable:
        return self.query_one("#contacts-table", VirtualTable)

    def _is_marked(self, contact_id: int) -> bool:
        return contact_id in self.marks

    def _columns(self) -> list[Column]:
        return contact_columns(self._is_marked, self.sort, self.descending)

    # -- loading -----------------------------------------------------------------------------

    def show_first_rows(self, source) -> bool:
        """Show the list as it opens from `source` (`crm_tui.quick`, read before the workspace
        is open) unless the list has changed meanwhile; True when taken."""
        if (self.workspace is not None or self.filter_text or self.search_text or self.show_all
                or self.sort != "name" or self.descending):
            return False
        self._first_rows = True
        self.table.set_source(source)
        return True

    def workspace_ready(self, workspace: Workspace) -> None:
        # The same list from the workspace: keep the cursor where the quick rows left it.
        self._load(keep_cursor=getattr(self, "_first_rows", False))

    def reload(self) -> None:
        self._load(keep_cursor=True)
        sidebar = self.query_one(GroupsSidebar)
        if sidebar.shown and self.workspace is not None:
            sidebar.load(self.workspace)

    def _today(self) -> date:
        workspace = self.workspace
        return workspace.actor.today() if workspace is not None else date.today()

    def _current_filter(self) -> Filter:
        from crm_tui.services.query import Filter, Term, parse, tokenize_words

        base = parse(self.filter_text, self._today()) if self.filter_text else Filter()
        words = tuple(tokenize_words(self.search_text))
        terms = base.terms
        if self.show_all and not base.has_field("status"):
            terms = (*terms, Term("status", "all"))
        return Filter(terms, base.words + words, base.negated_words)

    def _load(self, keep_cursor: bool) -> None:
        workspace = self.workspace
        if workspace is None:
            return
        source = ContactSource(workspace, self._current_filter(), self.sort, self.descending)
        self.table.set_source(source, keep_cursor=keep_cursor)
        self._show_status()

    def _show_status(self) -> None:
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(plural(self.count, "contact") if self.count is not None else "counting…",
                    style="bold")
        if self.marks.count:
            line.append(f"  {MARK} {self.marks.count:,} marked", style="bold bright_cyan")
            if self.marks.all_matching:
                line.append(" (all)", style="bright_cyan")
        line.append("  Filter: ", style="bold")
        line.append(self.filter_text or "none", style="" if self.filter_text else "dim")
        if self.show_all:
            line.append(" +all statuses", style="italic")
        if self.search_text:
            line.append("  Search: ", style="bold")
            line.append(self.search_text)
        line.append(f"  sort {self.sort} {'↓' if self.descending else '↑'}", style="dim")
        # One line of fixed height: no layout pass (it would repaint the whole screen).
        self.query_one("#contacts-status", Static).update(line, layout=False)

    @on(VirtualTable.Counted, "#contacts-table")
    def _counted(self, message: VirtualTable.Counted) -> None:
        self._good_filter = self.filter_text
        self.count = message.count
        if self.marks.all_matching:
            self.marks.matching = message.count
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

    def _ready(self) -> Workspace | None:
        workspace = self.workspace
        if workspace is None:
            self.notify("The database is still opening.", severity="warning")
        return workspace

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
        self._filter_changed_marks()
        self.count = None
        self._load(keep_cursor=False)

    @on(Input.Submitted, "#search")
    def _search_submitted(self) -> None:
        if self._search_timer is not None:
            self._search_timer.stop()
            self._apply_search()
        self.table.focus()

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
        self.table.focus()

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
    def _filter_typed(self, event: Input.Changed) -> None:
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
        self._close_filter_bar()
        self.apply_filter(text)

    def apply_filter(self, text: str) -> None:
        """Show the contacts matching `text` (already parsed once: the syntax is good)."""
        if text != self.filter_text:
            self._filter_changed_marks()
        self.filter_text = text
        self.count = None
        self.query_one(GroupsSidebar).set_current(_group_of(text), everything=not text)
        self._load(keep_cursor=False)

    def _filter_changed_marks(self) -> None:
        """"All matching" marks belong to the filter they were made with: a new filter ends them
        (explicit marks stay: mark some, search for others, mark those too)."""
        if self.marks.all_matching:
            self.marks.clear()
            self.notify("Marks cleared: they were all contacts of the previous filter.")

    def action_filter_builder(self) -> None:
        from crm_tui.screens.modals.filter_builder import FilterBuilder

        workspace = self._ready()
        if workspace is None:
            return
        bar = self.query_one("#filter-bar")
        current = self.query_one("#filter", Input).value if bar.display else self.filter_text

        def built(text: str | None) -> None:
            if text is None:
                return
            self.query_one("#filter", Input).value = text
            self._close_filter_bar()
            self.apply_filter(text)

        self.app.push_screen(FilterBuilder(workspace, current), built)

    def action_all_statuses(self) -> None:
        self.show_all = not self.show_all
        self._filter_changed_marks()
        self.count = None
        self._load(keep_cursor=False)
        if self.show_all:
            self.notify("Showing every status (archived and closed too); h hides them again.")

    def action_leave_input(self) -> None:
        """Escape: close the filter bar; in the search field, clear it and go back to the list."""
        search = self.query_one("#search", Input)
        if self.query_one("#filter-bar").display:
            self._close_filter_bar()
        elif search.has_focus:
            search.value = ""
            self.table.focus()

    # -- groups ------------------------------------------------------------------------------

    def action_groups(self) -> None:
        sidebar = self.query_one(GroupsSidebar)
        if sidebar.shown:
            sidebar.show(False)
            self.table.focus()
            return
        workspace = self._ready()
        if workspace is None:
            return
        sidebar.show(True)
        sidebar.load(workspace)

    @on(GroupsSidebar.Chosen)
    def _group_chosen(self, message: GroupsSidebar.Chosen) -> None:
        text = message.group.filter_text if message.group is not None else ""
        self.query_one("#filter", Input).value = text
        self.apply_filter(text)
        if self.size.width < WIDE:
            message.sidebar.show(False)
        self.table.focus()

    @on(GroupsSidebar.Closed)
    def _groups_closed(self) -> None:
        self.table.focus()

    def action_save_group(self) -> None:
        from crm_tui.screens.modals.bulk_actions import NewGroup, NewGroupDialog

        workspace = self._ready()
        if workspace is None:
            return
        query = self._current_filter().text()
        if not query:
            self.notify("Nothing to save: filter or search first (f, F or /).", severity="warning")
            return

        def chosen(group: NewGroup | None) -> None:
            if group is not None:
                self.save_group(group.name, group.number, group.assigned_to, query)

        self.app.push_screen(NewGroupDialog(workspace, self.count or 0, query=query), chosen)

    @work(thread=True, exclusive=True, exit_on_error=False, group="groups", name="save dynamic group")
    def save_group(self, name: str, number: str, assigned_to: str, query: str) -> None:
        from crm_tui.services.errors import ServiceError
        from crm_tui.services.groups import create_group

        workspace = self.workspace
        assert workspace is not None
        try:
            row = workspace.write(lambda s: create_group(
                s, workspace.actor, name, number=number, assigned_to=assigned_to or None, query=query))
        except ServiceError as error:
            self.post_message(self.GroupSaved(error=str(error)))
            return
        self.post_message(self.GroupSaved(row.name))

    @on(GroupSaved)
    def _group_saved(self, message: GroupSaved) -> None:
        if message.error:
            self.notify(message.error, severity="error", title="Group not saved")
            return
        self.notify(f"Dynamic group {message.name!r} saved (g shows the groups).")
        sidebar = self.query_one(GroupsSidebar)
        if sidebar.shown and self.workspace is not None:
            sidebar.load(self.workspace)

    # -- sorting -----------------------------------------------------------------------------

    def action_sort(self) -> None:
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        self._sorted()

    def action_reverse(self) -> None:
        self.descending = not self.descending
        self._sorted()

    def _sorted(self) -> None:
        self.table.set_columns(self._columns())
        self._load(keep_cursor=False)

    # -- marks -------------------------------------------------------------------------------

    def _marks_changed(self) -> None:
        self.table.refresh()
        self._show_status()

    def action_mark(self) -> None:
        row = self.table.current_row
        if row is None:
            return
        self.marks.toggle(row.id)
        self.table.action_cursor_down()
        self._marks_changed()

    def action_mark_all(self) -> None:
        if self.count is None:
            self.notify("Still counting the list.", severity="warning")
            return
        self.marks.mark_all(self._current_filter(), self.count)
        self._marks_changed()

    def action_invert_marks(self) -> None:
        self.marks.invert(self._current_filter(), self.count or 0)
        self._marks_changed()

    def action_clear_marks(self) -> None:
        self.marks.clear()
        self._marks_changed()

    # -- bulk actions ------------------------------------------------------------------------

    def _bulk_available(self) -> tuple[str, ...]:
        from crm_tui.screens.modals.bulk_actions import ACTIONS

        keys = [key for key, _label, _hot in ACTIONS]
        if not _bulk_edit_available():
            keys.remove("bulk_edit")
        return tuple(keys)

    def action_bulk(self) -> None:
        from crm_tui.screens.modals.bulk_actions import BulkMenu

        if self._ready() is None:
            return
        if not self.marks.count:
            self.notify("Mark contacts first: space marks one, * all matching the filter.",
                        severity="warning")
            return
        if self._bulk_running is not None:
            self.notify("A bulk action is still running.", severity="warning")
            return

        def chosen(action: str | None) -> None:
            if action:
                self.count_marked(action, self.marks.selection())

        self.app.push_screen(BulkMenu(self.marks.describe(), available=self._bulk_available()),
                             chosen)

    def action_mass_mail(self) -> None:
        if self._ready() is None:
            return
        if not self.marks.count:
            self.notify("Mark contacts first: space marks one, * all matching the filter.",
                        severity="warning")
            return
        self.count_marked("mass_mail", self.marks.selection())

    def action_export(self) -> None:
        """Export the marked contacts, or every contact the list shows when none is marked."""
        from crm_tui.services.bulk import Selection

        if self._ready() is None:
            return
        selection = self.marks.selection() if self.marks.count else Selection.matching(self._current_filter())
        self.count_marked("export", selection)

    @work(thread=True, exclusive=True, exit_on_error=False, group="count", name="count marked")
    def count_marked(self, action: str, selection: Selection) -> None:
        from crm_tui.services.bulk import count_selected

        workspace = self.workspace
        assert workspace is not None
        count = workspace.read(lambda s: count_selected(s, workspace.actor, selection))
        self.post_message(self.Counted(action, selection, count))

    @on(Counted)
    def _marked_counted(self, message: Counted) -> None:
        if message.count == 0:
            self.notify("None of the marked contacts is in the database any more.", severity="warning")
            return
        asker = getattr(self, f"_ask_{message.action}", None)
        if asker is not None:
            asker(message.selection, message.count)

    def _ask(self, dialog, then: Callable[[Any], None]) -> None:
        def answered(result: Any) -> None:
            if result:
                then(result)

        self.app.push_screen(dialog, answered)

    def _ask_add_to_group(self, selection: Selection, count: int) -> None:
        from crm_tui.screens.modals.bulk_actions import GroupPicker
        from crm_tui.services import bulk

        preferred = self.query_one(GroupsSidebar).current
        self._ask(GroupPicker(self.workspace, count, preferred), lambda name: self.run_bulk(
            BulkJob("add_to_group", "Adding to the group",
                    lambda s, a, sel, p: bulk.add_to_group(s, a, sel, name, progress=p),
                    clears_marks=False), selection, count))

    def _ask_new_group(self, selection: Selection, count: int) -> None:
        from crm_tui.screens.modals.bulk_actions import NewGroupDialog
        from crm_tui.services import bulk

        self._ask(NewGroupDialog(self.workspace, count), lambda g: self.run_bulk(
            BulkJob("new_group", f"Making group {g.name}",
                    lambda s, a, sel, p: bulk.new_group(s, a, sel, g.name, number=g.number,
                                                        assigned_to=g.assigned_to or None, progress=p),
                    clears_marks=False), selection, count))

    def _ask_assign(self, selection: Selection, count: int) -> None:
        from crm_tui.screens.modals.bulk_actions import AssignDialog
        from crm_tui.services import bulk

        self._ask(AssignDialog(self.workspace, count), lambda who: self.run_bulk(
            BulkJob("assign", f"Assigning to {who}",
                    lambda s, a, sel, p: bulk.assign(s, a, sel, who, progress=p)), selection, count))

    def _ask_change_status(self, selection: Selection, count: int) -> None:
        from crm_tui.screens.modals.bulk_actions import StatusChange, StatusDialog
        from crm_tui.services import bulk

        workspace = self.workspace

        def run(change: StatusChange) -> None:
            self.run_bulk(BulkJob(
                "change_status", f"Changing to {change.status}",
                lambda s, a, sel, p: bulk.change_status(
                    s, a, sel, change.status, reason=change.reason or None, note=change.note or None,
                    transfer_notes=change.transfer_notes, settings=workspace.settings, progress=p),
            ), selection, count)

        self._ask(StatusDialog(workspace, count), run)

    def _confirm_then(self, selection: Selection, count: int, title: str, text: str, confirm: str,
                      job: BulkJob, danger: bool = False) -> None:
        from crm_tui.screens.modals.confirm import ConfirmDialog

        self._ask(ConfirmDialog(title, text, confirm=confirm, danger=danger),
                  lambda _yes: self.run_bulk(job, selection, count))

    def _ask_archive(self, selection: Selection, count: int) -> None:
        from crm_tui.services import bulk

        self._confirm_then(
            selection, count, f"Archive {plural(count, 'contact')}?",
            "They keep all their data and history and can be restored; their open activities "
            "are cancelled.", "Archive",
            BulkJob("archive", "Archiving", lambda s, a, sel, p: bulk.archive(s, a, sel, progress=p)))

    def _ask_restore(self, selection: Selection, count: int) -> None:
        from crm_tui.services import bulk

        self._confirm_then(
            selection, count, f"Restore {plural(count, 'contact')}?",
            "Archived and closed contacts go back to the status they had before.", "Restore",
            BulkJob("restore", "Restoring", lambda s, a, sel, p: bulk.restore(s, a, sel, progress=p)))

    def _ask_delete(self, selection: Selection, count: int) -> None:
        from crm_tui.services import bulk

        self._confirm_then(
            selection, count, f"Delete {plural(count, 'contact')} permanently?",
            "Their opportunities, activities, attachments and group memberships go with them. "
            "This cannot be undone (archive keeps them).", f"Delete {count:,}",
            BulkJob("delete", "Deleting", lambda s, a, sel, p: bulk.delete(s, a, sel, progress=p)),
            danger=True)

    def _ask_export(self, selection: Selection, count: int) -> None:
        from crm_tui.screens.modals.path_prompt import PathChoice, PathPrompt

        def run(choice: PathChoice) -> None:
            self.run_bulk(export_job(choice.path, choice.format or "csv"), selection, count)

        self._ask(PathPrompt(f"Export {plural(count, 'contact')}", default="~/contacts.csv",
                             formats=EXPORT_FORMATS, ok="Export",
                             hint="csv for spreadsheets, json for scripts, vcf for address books"),
                  run)

    def _ask_mass_mail(self, selection: Selection, count: int) -> None:
        from crm_tui.screens.modals.mass_mail import MassMailDialog

        description = self.marks.describe() if self.marks.count else plural(count, "contact")

        def queued(mails: int) -> None:
            self.notify(f"{plural(mails, 'mail')} queued; the reminder daemon sends them.")

        self._ask(MassMailDialog(self.workspace, selection, count, description), queued)

    # bulk edit: the marked contacts as a table in $EDITOR, a preview, then all or nothing

    def _ask_bulk_edit(self, selection: Selection, count: int) -> None:
        if not _bulk_edit_available():
            self.notify("Bulk edit is not available in this version.", severity="warning")
            return
        self.bulk_edit_table(selection)

    @work(thread=True, exclusive=True, exit_on_error=False, group="bulk-edit", name="bulk edit table")
    def bulk_edit_table(self, selection: Selection) -> None:
        from crm_tui.services.bulk_edit import selection_tsv
        from crm_tui.services.errors import ServiceError

        workspace = self.workspace
        assert workspace is not None
        try:
            table = workspace.read(lambda s: selection_tsv(s, workspace.actor, selection))
        except ServiceError as error:
            self.post_message(self.BulkEditStep(error=str(error)))
            return
        self.post_message(self.BulkEditStep(original=table, edited=table))

    @on(BulkEditStep)
    def _bulk_edit_step(self, message: BulkEditStep) -> None:
        if message.error:
            self.notify(message.error, severity="error", title="Bulk edit")
            return
        if message.plan is None:
            self._edit_table(message.original, message.edited)
            return
        self._preview_edit(message.original, message.edited, message.plan)

    def _edit_table(self, original: str, text: str) -> None:
        from crm_tui.widgets.editor import edit_text

        edited = edit_text(self.app, text, ".tsv")
        if edited is None:
            return
        if edited == original:
            self.notify("Nothing was changed.")
            return
        self.bulk_edit_plan(original, edited)

    @work(thread=True, exclusive=True, exit_on_error=False, group="bulk-edit", name="bulk edit plan")
    def bulk_edit_plan(self, original: str, edited: str) -> None:
        from crm_tui.services.bulk_edit import plan_edit
        from crm_tui.services.errors import ServiceError

        workspace = self.workspace
        assert workspace is not None
        try:
            plan = workspace.read(lambda s: plan_edit(s, workspace.actor, original, edited,
                                                      settings=workspace.settings))
        except ServiceError as error:
            self.post_message(self.BulkEditStep(error=str(error)))
            return
        self.post_message(self.BulkEditStep(original=original, edited=edited, plan=plan))

    def _preview_edit(self, original: str, edited: str, plan) -> None:
        from crm_tui.screens.modals.bulk_actions import BulkEditPreview
        from crm_tui.services import bulk_edit

        workspace = self.workspace
        if plan.ok and not plan.changes:
            self.notify("Nothing to save: no cell was changed.")
            return

        def chosen(choice: str | None) -> None:
            if choice == "edit":
                self._edit_table(original, edited)
            elif choice == "save":
                self.run_bulk(BulkJob(
                    "bulk_edit", "Saving the edit",
                    lambda s, a, _sel, _p: bulk_edit.apply_edit(s, a, plan, settings=workspace.settings),
                    clears_marks=False,
                ), self.marks.selection(), len(plan.changes))

        self.app.push_screen(BulkEditPreview(plan), chosen)

    def run_bulk(self, job: BulkJob, selection: Selection, count: int) -> None:
        if self._bulk_running is not None:
            self.notify("A bulk action is still running.", severity="warning")
            return
        self._bulk_running = job
        panel = self.query_one("#bulk-progress")
        panel.add_class("-running")
        self.query_one("#bulk-label", Static).update(f"{job.verb} {plural(count, 'contact')}…")
        self.query_one("#bulk-bar", ProgressBar).update(total=max(count, 1), progress=0)
        self._last_progress = 0.0
        self.bulk_worker(job, selection)

    @work(thread=True, exclusive=True, exit_on_error=False, group="bulk", name="bulk action")
    def bulk_worker(self, job: BulkJob, selection: Selection) -> None:
        from crm_tui.db.engine import DatabaseError
        from crm_tui.services.errors import ServiceError

        workspace = self.workspace
        assert workspace is not None

        def progress(done: int, total: int) -> None:
            now = time.monotonic()
            if 0 < done < total and now - self._last_progress < PROGRESS_INTERVAL:
                return
            self._last_progress = now
            try:
                self.app.call_from_thread(self._bulk_progress, done, total)
            except RuntimeError:  # the app is closing
                pass

        def work(session):
            return job.run(session, workspace.actor, selection, progress)

        try:
            result = workspace.write(work) if job.writes else workspace.read(work)
            if job.finish is not None:
                job.finish(result)
        except (ServiceError, DatabaseError) as error:
            self.post_message(self.BulkDone(job, error=str(error)))
            return
        except OSError as error:
            self.post_message(self.BulkDone(job, error=f"{error.filename or ''}: {error.strerror}"))
            return
        self.post_message(self.BulkDone(job, result))

    def _bulk_progress(self, done: int, total: int) -> None:
        bar = self.query_one("#bulk-bar", ProgressBar)
        bar.update(total=max(total, 1), progress=done)
        job = self._bulk_running
        if job is not None:
            self.query_one("#bulk-label", Static).update(f"{job.verb}… {done:,}/{total:,}")

    @on(BulkDone)
    def _bulk_done(self, message: BulkDone) -> None:
        self._bulk_running = None
        self.query_one("#bulk-progress").remove_class("-running")
        job = message.job
        if message.error:
            self.notify(f"{message.error} — nothing was changed.", severity="error",
                        title="Bulk action refused", timeout=10)
            return
        self.notify(bulk_summary(job.action, message.result), title="Done")
        if job.clears_marks:
            self.marks.clear()
        self.reload()
        self._show_status()

    # -- import ------------------------------------------------------------------------------

    def action_import(self) -> None:
        from crm_tui.screens.modals.import_contacts import ImportDialog

        workspace = self._ready()
        if workspace is None:
            return

        def imported(report) -> None:
            if report is None:
                return
            self.notify(f"Imported {plural(report.imported, 'contact')} into the inbox "
                        f"({report.invalid:,} invalid rows left out). Filter status:inbox to "
                        "review them.", timeout=8)
            self.reload()

        self.app.push_screen(ImportDialog(workspace), imported)

    # -- card and form -----------------------------------------------------------------------

    @on(VirtualTable.RowSelected, "#contacts-table")
    def _open_card(self, message: VirtualTable.RowSelected) -> None:
        from crm_tui.screens.contact_card import ContactCardScreen

        def back(changed: bool | None) -> None:
            if changed:
                self.reload()

        self.app.push_screen(ContactCardScreen(message.row.id), back)

    def action_add(self) -> None:
        from crm_tui.screens.modals.contact_form import ContactFormScreen

        workspace = self._ready()
        if workspace is None:
            return
        self.app.push_screen(ContactFormScreen(workspace), self._added)

    def _added(self, contact_id: int | None) -> None:
        if contact_id is None:
            return
        self.notify(f"Contact {contact_id} added.")
        self.reload()

    def action_edit(self) -> None:
        from crm_tui.screens.modals.contact_form import ContactFormScreen

        workspace = self._ready()
        row = self.table.current_row
        if workspace is None or row is None:
            return

        def edited(contact_id: int | None) -> None:
            if contact_id is not None:
                self.notify("Contact saved.")
                self.reload()

        self.app.push_screen(ContactFormScreen(workspace, contact_id=row.id), edited)


def _group_of(text: str) -> str | None:
    """The group name when the filter is exactly one group (what the sidebar highlights)."""
    from crm_tui.services.query import QuerySyntaxError, parse

    try:
        parsed = parse(text)
    except QuerySyntaxError:
        return None
    if len(parsed.terms) == 1 and not parsed.words and not parsed.negated_words:
        term = parsed.terms[0]
        if term.field == "group" and not term.negated:
            return term.value
    return None


def export_job(path: Path, fmt: str) -> BulkJob:
    """Write to a temporary file beside `path`, moved into place only when complete."""
    from crm_tui.services import bulk

    temporary: dict[str, str] = {}

    def run(session, actor, selection, progress) -> BulkResult:
        fd, name = tempfile.mkstemp(prefix=".crm-export-", dir=path.parent)
        temporary["name"] = name
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
                return bulk.export_contacts(session, actor, selection, fmt, out, progress=progress)
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise

    def finish(_result: object) -> None:
        # A new export is private to its owner (mkstemp's 0600: contact data is personal data);
        # one that replaces a file keeps that file's permissions.
        if path.exists():
            os.chmod(temporary["name"], path.stat().st_mode & 0o777)
        os.replace(temporary["name"], path)

    return BulkJob("export", f"Exporting to {path.name}", run, writes=False, clears_marks=False,
                   finish=finish)


def bulk_summary(action: str, result: object) -> str:
    """One sentence about what a bulk action did."""
    count = getattr(result, "count", 0)
    skipped = getattr(result, "skipped", 0)
    extra = []
    if skipped:
        extra.append(f"{skipped:,} needed no change")
    cancelled = getattr(result, "cancelled_activities", 0)
    if cancelled:
        extra.append(f"{plural(cancelled, 'open activity', 'open activities')} cancelled")
    transferred = getattr(result, "notes_transferred", 0)
    if transferred:
        extra.append(f"notes of {plural(transferred, 'contact')} transferred")
    group = getattr(result, "group", None)
    text = {
        "add_to_group": f"Added {plural(count, 'contact')} to {getattr(group, 'name', 'the group')}",
        "new_group": f"Group {getattr(group, 'name', '')} made with {plural(count, 'contact')}",
        "assign": f"Assigned {plural(count, 'contact')}",
        "change_status": f"Changed the status of {plural(count, 'contact')}",
        "archive": f"Archived {plural(count, 'contact')}",
        "restore": f"Restored {plural(count, 'contact')}",
        "delete": f"Deleted {plural(count, 'contact')}",
        "export": f"Exported {plural(count, 'contact')}",
        "bulk_edit": f"Saved {plural(getattr(result, 'fields', 0), 'change')} to "
                     f"{plural(getattr(result, 'contacts', 0), 'contact')}",
    }.get(action, f"{action}: {plural(count, 'contact')}")
    return text + (f" ({'; '.join(extra)})" if extra else "") + "."


def _bulk_edit_available() -> bool:
    """Bulk edit needs the reports/tools engineer's service and editor (present in this
    version; checked so the menu never offers what cannot run)."""
    try:
        import crm_tui.services.bulk_edit  # noqa: F401
        import crm_tui.widgets.editor  # noqa: F401
    except ImportError:
        return False
    return True
