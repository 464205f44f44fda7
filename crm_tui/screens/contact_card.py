"""A contact's card: master data, status and its actions, assignment, the prospect's lock, the
opportunities, planned and recent activities, the history timeline and the attachments.

Pushed over the Contacts screen (or any screen that opens a contact); escape goes back and
dismisses with True when something was changed here (the list then reloads). Four tabs (keys
1-4): the overview (master data beside the planned and recent activities), the opportunities
(enter opens one), the history (newest first, a virtual list fetched in windows) and the
attachments (enter saves one to a file).

The keys follow what the contact's status allows (`lifecycle.allowed_actions`: an inbox contact
is restricted until reviewed, an archived or closed one until restored) and what the acting user
may do (`permissions.allowed_actions`: a prospect locked to another rep); keys that do not apply
are shown dimmed in the footer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static, TabbedContent, TabPane

from crm_tui.widgets.format import marker, money, state_colour
from crm_tui.widgets.lock_banner import LockBanner
from crm_tui.widgets.virtual_table import Column, ListSource, VirtualTable
from crm_tui.widgets.worker_errors import ReportsWorkerErrors

if TYPE_CHECKING:
    from crm_tui.screens.base import DataChanged
    from crm_tui.services.activities import ActivityRow
    from crm_tui.services.agenda import AgendaRow
    from crm_tui.services.attachments import AttachmentRow
    from crm_tui.services.audit import HistoryRow
    from crm_tui.services.contacts import ContactDetail
    from crm_tui.services.opportunities import OpportunityRow
    from crm_tui.workspace import Workspace

RECENT_ACTIVITIES = 10
TABS = ("overview", "opportunities", "history", "attachments")

ACTION_NEEDS: dict[str, tuple[str | None, str | None]] = {
    # card action: (what the status must allow, what the user must be permitted)
    "edit": ("edit", "edit"),
    "convert": ("convert", "status"),
    "close_contact": ("close", "status"),
    "archive": ("archive", "status"),
    "restore": ("restore", "status"),
    "review": ("review", "status"),
    "assign": ("assign", "assign"),
    "release_lock": (None, "release_lock"),
    "add_opportunity": ("opportunity", "edit"),
    "plan": ("plan", "plan"),
    "log": ("plan", "plan"),
    "edit_description": ("edit", "edit"),
}
"""Which card keys need which status action and which permission."""
STATUS_STEPS = frozenset({"convert", "restore", "review"})
"""Keys that only exist in some statuses (hidden in the others rather than dimmed)."""


@dataclass(frozen=True)
class CardData:
    contact: ContactDetail
    planned: list[AgendaRow]
    recent: list[ActivityRow]
    opportunities: list[OpportunityRow]
    attachments: list[AttachmentRow]
    status_allows: frozenset[str]
    permitted: frozenset[str]


@dataclass(frozen=True)
class HistorySource:
    """The contact's history, newest first, in windows (`audit.list_history`)."""

    workspace: Workspace
    contact_id: int

    def count(self) -> int:
        from crm_tui.services.audit import count_history

        return self.workspace.read(lambda s: count_history(s, contact_id=self.contact_id))

    def fetch(self, offset: int, limit: int) -> Sequence[HistoryRow]:
        from crm_tui.services.audit import list_history

        return self.workspace.read(
            lambda s: list_history(s, self.workspace.actor, contact_id=self.contact_id,
                                   offset=offset, limit=limit)
        )


def _local(moment: datetime, zone: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")
    except (ZoneInfoNotFoundError, ValueError):
        return moment.strftime("%Y-%m-%d %H:%M")


def history_text(row: HistoryRow, contact_id: int) -> Text:
    """One history entry in words, without repeating the card's own contact ("contact 12
    Müller") in every line."""
    own = f"contact {contact_id} "
    if row.action == "change" and row.field:
        text = Text(f"{row.field}: {row.old_value or '—'} → {row.new_value or '—'}")
    else:
        subject = "" if row.subject.startswith(own) or row.subject == own.strip() else row.subject
        words = f"{row.action} {subject}".strip()
        if row.field and row.field != row.action and row.action != "create" and not subject:
            words += f" {row.field}"
        text = Text(words, style="bold" if row.action == "status" else "")
        if row.new_value and row.action != "create":
            text.append(f" → {row.new_value}")
    if row.note:
        text.append(f" — {row.note}", style="dim")
    return text


def history_columns(zone: str, contact_id: int) -> list[Column]:
    def what(row: HistoryRow) -> Text:
        return history_text(row, contact_id)

    return [
        Column("at", "When", 16, lambda r: _local(r.at, zone), priority=0),
        Column("user", "Who", 12, lambda r: r.user, priority=1),
        Column("what", "What", 20, what, priority=0, grow=1),
    ]


def opportunity_columns() -> list[Column]:
    def status(row: OpportunityRow) -> Text:
        style = {"won": "green", "lost": "red"}.get(row.status, "")
        return Text(row.status + (" ⚠" if row.rotting else ""), style=style)

    return [
        Column("state", "●", 1, lambda r: marker(r.state), priority=0),
        Column("title", "Opportunity", 18, lambda r: r.title, priority=0, grow=3),
        Column("stage", "Stage", 12, lambda r: r.stage, priority=1, grow=1),
        Column("revenue", "Revenue", 12, lambda r: money(r.expected_revenue, r.currency),
               priority=1, justify="right"),
        Column("status", "Status", 7, status, priority=2),
        Column("probability", "%", 4, lambda r: f"{r.probability}%", priority=3, justify="right"),
        Column("owner", "Owner", 12, lambda r: r.owner or "", priority=4),
    ]


def attachment_columns(zone: str) -> list[Column]:
    return [
        Column("name", "File", 20, lambda r: r.filename, priority=0, grow=2),
        Column("size", "Size", 9, lambda r: _size(r.size), priority=1, justify="right"),
        Column("at", "Added", 16, lambda r: _local(r.created_at, zone), priority=2),
        Column("by", "By", 12, lambda r: r.created_by or "", priority=3),
    ]


def _size(count: int) -> str:
    if count < 1024:
        return f"{count} B"
    if count < 1024 * 1024:
        return f"{count / 1024:.1f} KB"
    return f"{count / 1024 / 1024:.1f} MB"


class ContactCardScreen(ReportsWorkerErrors, Screen[bool]):
    """Everything about one contact, and the keys to work on it."""

    TITLE = "Contact"
    BINDINGS = [
        Binding("escape", "close", "Back", id="card.close"),
        Binding("e", "edit", "Edit", id="card.edit"),
        Binding("c", "convert", "Convert", id="card.convert"),
        Binding("x", "close_contact", "Close", id="card.close_contact"),
        Binding("a", "archive", "Archive", id="card.archive"),
        Binding("r", "restore", "Restore", id="card.restore"),
        Binding("v", "review", "Review", id="card.review"),
        Binding("s", "assign", "Assign", show=False, id="card.assign"),
        Binding("u", "release_lock", "Release lock", show=False, id="card.release_lock"),
        Binding("n", "add_opportunity", "Opportunity", id="card.add_opportunity"),
        Binding("p", "plan", "Plan", id="card.plan"),
        Binding("l", "log", "Log", id="card.log"),
        Binding("ctrl+o", "edit_description", "Notes in $EDITOR", show=False, id="card.editor"),
        Binding("1", "tab('overview')", "Overview", show=False, id="card.tab_overview"),
        Binding("2", "tab('opportunities')", "Opportunities", show=False, id="card.tab_opportunities"),
        Binding("3", "tab('history')", "History", show=False, id="card.tab_history"),
        Binding("4", "tab('attachments')", "Attachments", show=False, id="card.tab_attachments"),
        Binding("ctrl+r", "reload", "Reload", show=False, id="card.reload"),
    ]
    DEFAULT_CSS = """
    ContactCardScreen #card-title {
        height: 1;
        padding: 0 1;
        background: $panel;
        text-style: bold;
    }
    ContactCardScreen #card-banner {
        height: auto;
        padding: 0 1;
        background: $warning-muted;
        display: none;
    }
    ContactCardScreen #card-banner.-shown {
        display: block;
    }
    ContactCardScreen TabbedContent {
        height: 1fr;
    }
    ContactCardScreen TabPane {
        padding: 0;
    }
    ContactCardScreen #card-overview {
        height: 1fr;
    }
    ContactCardScreen #card-overview-columns {
        height: auto;
    }
    ContactCardScreen #card-master {
        width: 1fr;
        padding: 0 1;
    }
    ContactCardScreen #card-activities {
        width: 1fr;
        padding: 0 1;
    }
    ContactCardScreen #card-description {
        padding: 0 1;
        height: auto;
    }
    """

    class Loaded(Message):
        def __init__(self, data: CardData) -> None:
            super().__init__()
            self.data = data

    class Done(Message):
        """A change made from the card was saved (or refused: `error`)."""

        def __init__(self, text: str, error: str = "", *, changed: bool = True) -> None:
            super().__init__()
            self.text = text
            self.error = error
            self.changed = changed

    def __init__(self, contact_id: int) -> None:
        super().__init__()
        self.contact_id = contact_id
        self.data: CardData | None = None
        self.changed = False
        """Something was changed here (the list behind reloads when the card closes)."""

    @property
    def workspace(self) -> Workspace:
        return self.app.workspace  # type: ignore[attr-defined]

    # -- layout ------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(f"Contact {self.contact_id}", id="card-title", markup=False)
        yield LockBanner(self.contact_id, id="card-lock")
        yield Static(id="card-banner", markup=False)
        with TabbedContent(initial="overview", id="card-tabs"):
            with TabPane("Overview", id="overview"):
                with VerticalScroll(id="card-overview"):
                    with Horizontal(id="card-overview-columns"):
                        yield Static("loading…", id="card-master")
                        yield Static("Planned activities", id="card-activities")
                    yield Static(id="card-description", markup=False)
            with TabPane("Opportunities", id="opportunities"):
                yield VirtualTable(opportunity_columns(), id="card-opportunities",
                                   empty_text="No opportunities yet (n adds one).",
                                   loading_text="loading opportunities…")
            with TabPane("History", id="history"):
                yield VirtualTable([], id="card-history", empty_text="No history.",
                                   loading_text="loading the history…")
            with TabPane("Attachments", id="attachments"):
                yield VirtualTable([], id="card-attachments",
                                   empty_text="No attachments (an 'upload document' activity adds one).",
                                   loading_text="loading attachments…")
        yield Footer()

    def on_mount(self) -> None:
        zone = self.workspace.actor.timezone
        history = self.query_one("#card-history", VirtualTable)
        history.set_columns(history_columns(zone, self.contact_id))
        attachments = self.query_one("#card-attachments", VirtualTable)
        attachments.set_columns(attachment_columns(zone))
        self.load()
        history.set_source(HistorySource(self.workspace, self.contact_id))

    # -- loading -----------------------------------------------------------------------------

    def action_reload(self) -> None:
        self.load()
        self.query_one("#card-history", VirtualTable).reload()

    def on_data_changed(self, message: DataChanged) -> None:
        """Others changed data (the app's poll): show the card as it is now."""
        self.action_reload()

    @work(thread=True, exclusive=True, exit_on_error=False, group="load", name="load contact card")
    def load(self) -> None:
        from crm_tui.services.activities import list_activities
        from crm_tui.services.agenda import contact_agenda
        from crm_tui.services.attachments import list_attachments
        from crm_tui.services.contacts import detail_of, load_contact
        from crm_tui.services.lifecycle import allowed_actions as status_allows
        from crm_tui.services.opportunities import opportunities_of_contact
        from crm_tui.services.permissions import allowed_actions as permitted

        workspace = self.workspace
        actor = workspace.actor

        def read(session) -> CardData:
            row = load_contact(session, self.contact_id)
            contact = detail_of(session, actor, row)
            return CardData(
                contact=contact,
                planned=contact_agenda(session, actor, self.contact_id),
                recent=list_activities(session, actor, contact_id=self.contact_id, status="done",
                                       limit=RECENT_ACTIVITIES),
                opportunities=opportunities_of_contact(session, actor, self.contact_id),
                attachments=list_attachments(session, actor, self.contact_id),
                status_allows=status_allows(contact.status),
                permitted=permitted(session, actor, row),
            )

        self.post_message(self.Loaded(workspace.read(read)))

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        self.data = data = message.data
        contact = data.contact
        title = Text(no_wrap=True, overflow="ellipsis")
        title.append_text(marker(contact.state))
        title.append(f" {contact.display_name}")
        if contact.company and contact.company != contact.name:
            title.append(f" · {contact.company}", style="dim")
        title.append(f"  [{contact.status}]", style=_status_style(contact.status))
        if contact.customer_number:
            title.append(f"  {contact.customer_number}", style="dim")
        self.query_one("#card-title", Static).update(title)
        self._show_lock(contact)
        self._show_banner(contact)
        self.query_one("#card-master", Static).update(self._master(contact))
        self.query_one("#card-activities", Static).update(self._activities(data))
        description = self.query_one("#card-description", Static)
        description.update(self._description(contact))
        self.query_one("#card-opportunities", VirtualTable).set_source(
            ListSource(data.opportunities), keep_cursor=True)
        self.query_one("#card-attachments", VirtualTable).set_source(
            ListSource(data.attachments), keep_cursor=True)
        tabs = self.query_one(TabbedContent)
        tabs.get_tab("opportunities").label = f"Opportunities ({len(data.opportunities)})"
        tabs.get_tab("attachments").label = f"Attachments ({len(data.attachments)})"
        self.refresh_bindings()

    def _show_lock(self, contact: ContactDetail) -> None:
        self.query_one(LockBanner).show(contact, can_release=self._permitted("release_lock"))

    def _show_banner(self, contact: ContactDetail) -> None:
        banner = self.query_one("#card-banner", Static)
        text = {
            "inbox": "Inbox: imported, not yet reviewed — restricted until v reviews it.",
            "archived": "Archived: kept with all its data and history, restricted — r restores it.",
            "closed": f"Closed: {contact.lost_reason or 'no reason'}"
                      + (f" — {contact.close_note}" if contact.close_note else "")
                      + ". r restores it.",
        }.get(contact.status, "")
        banner.update(text)
        banner.set_class(bool(text), "-shown")

    @staticmethod
    def _master(c: ContactDetail) -> Table:
        grid = Table.grid(padding=(0, 1))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column()
        address = ", ".join(
            part for part in (c.street, f"{c.postal_code} {c.city}".strip(), c.region, c.country)
            if part
        )
        rows = [
            ("Kind", c.kind), ("Status", c.status), ("Name", c.display_name),
            ("Company", c.company), ("E-mail", c.email),
            ("Phone", c.phone), ("Mobile", c.mobile), ("Address", address),
            ("Customer no.", c.customer_number or ""), ("Assigned", c.assigned_to or "everybody"),
            ("Source", c.source),
            ("Exp. revenue", money(c.expected_revenue, c.currency)),
            ("Contacted", c.contacted_on.isoformat() if c.contacted_on else ""),
            ("Lost reason", c.lost_reason or ""),
            ("Created", f"{c.created_at:%Y-%m-%d} by {c.created_by or '?'}"),
        ]
        for label, value in rows:
            if value:
                grid.add_row(label, Text(str(value)))
        return grid

    @staticmethod
    def _description(c: ContactDetail) -> Text:
        if not c.description:
            return Text("")
        text = Text("Notes", style="bold underline")
        text.append("\n")
        text.append(c.description, style="")
        return text

    @staticmethod
    def _activities(data: CardData) -> Group:
        parts: list = [Text("Planned activities", style="bold underline")]
        if not data.planned:
            parts.append(Text("none", style="dim"))
        for row in data.planned:
            line = Text(no_wrap=True, overflow="ellipsis")
            line.append(f"{row.deadline:<11}", style=state_colour(row.state))
            line.append(("⏸ " if row.paused else "") + row.next_activity)
            if row.opportunity:
                line.append(f" · {row.opportunity}", style="dim")
            parts.append(line)
        parts.append(Text(""))
        parts.append(Text("Recent activities", style="bold underline"))
        if not data.recent:
            parts.append(Text("none", style="dim"))
        for row in data.recent:
            line = Text(no_wrap=True, overflow="ellipsis")
            line.append(f"{row.due.isoformat()} ", style="green")
            line.append(f"{row.type}: {row.summary}" if row.summary else row.type)
            if row.feedback:
                line.append(f" — {row.feedback}", style="dim")
            parts.append(line)
        return Group(*parts)

    # -- which keys apply --------------------------------------------------------------------

    def _permitted(self, permission: str) -> bool:
        return self.data is not None and permission in self.data.permitted

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        needs = ACTION_NEEDS.get(action)
        if needs is None:
            return True
        if self.data is None:
            return None
        status_action, permission = needs
        if status_action is not None and status_action not in self.data.status_allows:
            # a step of another status is hidden; what this status restricts is shown dimmed
            return False if action in STATUS_STEPS else None
        if permission is not None and permission not in self.data.permitted:
            return None
        if action == "release_lock" and self.data.contact.locked_by is None:
            return False
        return True

    # -- navigation --------------------------------------------------------------------------

    def action_close(self) -> None:
        self.dismiss(self.changed)

    def action_tab(self, tab: str) -> None:
        if tab not in TABS:
            return
        self.query_one(TabbedContent).active = tab
        tables = {"opportunities": "#card-opportunities", "history": "#card-history",
                  "attachments": "#card-attachments"}
        if tab in tables:
            self.query_one(tables[tab], VirtualTable).focus()
        else:
            self.query_one("#card-overview").focus()

    @on(VirtualTable.RowSelected, "#card-opportunities")
    def _open_opportunity(self, message: VirtualTable.RowSelected) -> None:
        try:
            from crm_tui.screens.opportunity_card import OpportunityCardScreen
        except ImportError:
            self.notify("The opportunity card is not available in this version.", severity="warning")
            return
        row: OpportunityRow = message.row  # type: ignore[assignment]

        def back(changed: bool | None) -> None:
            if changed:
                self._changed_here()

        self.app.push_screen(OpportunityCardScreen(row.id), back)

    @on(VirtualTable.RowSelected, "#card-attachments")
    def _save_attachment(self, message: VirtualTable.RowSelected) -> None:
        from pathlib import Path

        from crm_tui.screens.modals.path_prompt import PathChoice, PathPrompt

        row: AttachmentRow = message.row  # type: ignore[assignment]

        def chosen(choice: PathChoice | None) -> None:
            if choice is not None:
                self.save_attachment(row.id, choice.path)

        default = str(Path("~") / row.filename)
        self.app.push_screen(
            PathPrompt(f"Save {row.filename} as", default=default, ok="Save",
                       hint=f"{_size(row.size)}, {row.mime_type}"),
            chosen,
        )

    @work(thread=True, exclusive=True, exit_on_error=False, group="attachment", name="save attachment")
    def save_attachment(self, attachment_id: int, path) -> None:
        from crm_tui.services.attachments import save_attachment
        from crm_tui.services.errors import ServiceError

        workspace = self.workspace
        try:
            size = workspace.read(lambda s: save_attachment(s, workspace.actor, attachment_id, path))
        except ServiceError as error:
            self.post_message(self.Done("", str(error)))
            return
        self.post_message(self.Done(f"Saved {path} ({_size(size)}).", changed=False))

    # -- actions -----------------------------------------------------------------------------

    def _contact(self) -> ContactDetail | None:
        if self.data is None:
            self.notify("The contact is still loading.", severity="warning")
            return None
        return self.data.contact

    def _changed_here(self, text: str = "") -> None:
        self.changed = True
        if text:
            self.notify(text)
        self.action_reload()

    def action_edit(self) -> None:
        from crm_tui.screens.modals.contact_form import ContactFormScreen

        if self._contact() is None:
            return

        def edited(contact_id: int | None) -> None:
            if contact_id is not None:
                self._changed_here("Contact saved.")

        self.app.push_screen(ContactFormScreen(self.workspace, contact_id=self.contact_id), edited)

    def _lifecycle(self, dialog, done: str) -> None:
        def answered(saved: bool | None) -> None:
            if saved:
                self._changed_here(done)

        self.app.push_screen(dialog, answered)

    def action_convert(self) -> None:
        from crm_tui.screens.modals.contact_lifecycle import ConvertDialog

        contact = self._contact()
        if contact is None:
            return
        self._lifecycle(
            ConvertDialog(self.workspace, self.contact_id, contact.display_name,
                          has_notes=bool(contact.description.strip()),
                          has_number=bool(contact.customer_number)),
            f"{contact.display_name} is a customer now.",
        )

    def action_close_contact(self) -> None:
        from crm_tui.screens.modals.contact_lifecycle import CloseDialog

        contact = self._contact()
        if contact is not None:
            self._lifecycle(CloseDialog(self.workspace, self.contact_id, contact.display_name),
                            f"{contact.display_name} is closed.")

    def action_review(self) -> None:
        from crm_tui.screens.modals.contact_lifecycle import ReviewDialog

        contact = self._contact()
        if contact is not None:
            self._lifecycle(ReviewDialog(self.workspace, self.contact_id, contact.display_name),
                            f"{contact.display_name} is reviewed.")

    def action_archive(self) -> None:
        from crm_tui.screens.modals.confirm import ConfirmDialog

        contact = self._contact()
        if contact is None:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.change("archive", f"{contact.display_name} is archived.")

        self.app.push_screen(
            ConfirmDialog(f"Archive {contact.display_name}?",
                          "It keeps all its data and history and can be restored (r); its open "
                          "activities are cancelled.", confirm="Archive"),
            answered,
        )

    def action_restore(self) -> None:
        contact = self._contact()
        if contact is not None:
            self.change("restore", f"{contact.display_name} is restored.")

    def action_release_lock(self) -> None:
        from crm_tui.screens.modals.confirm import ConfirmDialog

        contact = self._contact()
        if contact is None or contact.locked_by is None:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.change("release_lock", "The lock is released.")

        self.app.push_screen(
            ConfirmDialog(f"Release the lock of {contact.locked_by}?",
                          f"{contact.display_name} is locked to {contact.locked_by}; released, "
                          "any rep may take it over.", confirm="Release"),
            answered,
        )

    def action_assign(self) -> None:
        from crm_tui.screens.modals.bulk_actions import AssignDialog

        contact = self._contact()
        if contact is None:
            return

        def chosen(assignee: str | None) -> None:
            if assignee:
                self.change("assign", f"Assigned to {assignee}.", assignee)

        self.app.push_screen(
            AssignDialog(self.workspace, 1, current=contact.assigned_to or "everybody"), chosen
        )

    @work(thread=True, exclusive=True, exit_on_error=False, group="change", name="change contact")
    def change(self, what: str, done: str, argument: str = "") -> None:
        from crm_tui.services import lifecycle, locks
        from crm_tui.services.bulk import Selection, assign
        from crm_tui.services.errors import ServiceError

        workspace = self.workspace
        actor = workspace.actor
        contact_id = self.contact_id
        steps = {
            "archive": lambda s: lifecycle.archive_contact(s, actor, contact_id),
            "restore": lambda s: lifecycle.restore_contact(s, actor, contact_id),
            "release_lock": lambda s: locks.release_lock(s, actor, contact_id),
            "assign": lambda s: assign(s, actor, Selection.of([contact_id]), argument),
        }
        try:
            workspace.write(steps[what])
        except ServiceError as error:
            self.post_message(self.Done("", str(error)))
            return
        self.post_message(self.Done(done))

    @on(Done)
    def _done(self, message: Done) -> None:
        if message.error:
            self.notify(message.error, severity="error", title="Not changed")
        elif not message.changed:
            self.notify(message.text)
        else:
            self._changed_here(message.text)

    def action_add_opportunity(self) -> None:
        if self._contact() is None:
            return
        try:
            from crm_tui.screens.modals.opportunity_form import OpportunityForm
        except ImportError:
            self.notify("The opportunity form is not available in this version.", severity="warning")
            return

        def added(opportunity_id: int | None) -> None:
            if opportunity_id is not None:
                self._changed_here(f"Opportunity {opportunity_id} added.")

        self.app.push_screen(OpportunityForm(self.workspace, contact_id=self.contact_id), added)

    def _activity_form(self, log: bool) -> None:
        if self._contact() is None:
            return
        try:
            from crm_tui.screens.modals.activity_form import ActivityForm
        except ImportError:
            self.notify("The activity form is not available in this version.", severity="warning")
            return

        def saved(activity_id: int | None) -> None:
            if activity_id is not None:
                self._changed_here("Activity logged." if log else "Activity planned.")

        self.app.push_screen(ActivityForm(self.workspace, contact_id=self.contact_id, log=log), saved)

    def action_plan(self) -> None:
        self._activity_form(log=False)

    def action_log(self) -> None:
        self._activity_form(log=True)

    async def action_edit_description(self) -> None:
        contact = self._contact()
        if contact is None:
            return
        try:
            from crm_tui.widgets.editor import edit_text
        except ImportError:
            self.notify("Editing in $EDITOR is not available in this version.", severity="warning")
            return
        result = edit_text(self.app, contact.description, ".txt")
        if hasattr(result, "__await__"):
            result = await result
        if not isinstance(result, str) or result.rstrip("\n") == contact.description:
            return
        self.save_description(result.rstrip("\n"), contact.version, contact.description)

    @work(thread=True, exclusive=True, exit_on_error=False, group="change", name="save notes")
    def save_description(self, text: str, version: int, loaded: str) -> None:
        from crm_tui.services.contacts import update_contact
        from crm_tui.services.errors import ConflictError, ServiceError

        workspace = self.workspace

        def save(values, expected_version, base):
            return workspace.write(lambda s: update_contact(
                s, workspace.actor, self.contact_id, values, expected_version=expected_version,
                base=base, settings=workspace.settings).id)

        try:
            save({"description": text}, version, {"description": loaded})
        except ConflictError as error:
            from crm_tui.screens.modals.save_with_conflicts import save_or_resolve

            save_or_resolve(self, save, error, lambda _id: self._changed_here("Notes saved."))
            return
        except ServiceError as error:
            self.post_message(self.Done("", str(error)))
            return
        self.post_message(self.Done("Notes saved."))


def _status_style(status: str) -> str:
    return {"prospect": "cyan", "customer": "green", "inbox": "yellow", "archived": "grey50",
            "closed": "red"}.get(status, "")
