"""A contact's card (read-only for now): master data and the planned activities.

Pushed over the Contacts screen (or any screen that opens a contact); escape goes back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static

from crm_tui.widgets.format import marker, money, state_colour
from crm_tui.widgets.worker_errors import ReportsWorkerErrors

if TYPE_CHECKING:
    from crm_tui.services.agenda import AgendaRow
    from crm_tui.services.contacts import ContactDetail


@dataclass(frozen=True)
class CardData:
    contact: ContactDetail
    planned: list[AgendaRow]


class ContactCardScreen(ReportsWorkerErrors, Screen):
    """Master data and planned activities of one contact."""

    TITLE = "Contact"
    BINDINGS = [
        Binding("escape", "close", "Back", id="card.close"),
        Binding("ctrl+r", "reload", "Reload", show=False, id="card.reload"),
    ]
    DEFAULT_CSS = """
    ContactCardScreen #card-title {
        height: 1;
        padding: 0 1;
        background: $panel;
        text-style: bold;
    }
    ContactCardScreen VerticalScroll {
        padding: 0 1;
    }
    ContactCardScreen .card-heading {
        margin-top: 1;
        text-style: bold underline;
    }
    """

    class Loaded(Message):
        def __init__(self, data: CardData) -> None:
            super().__init__()
            self.data = data

    def __init__(self, contact_id: int) -> None:
        super().__init__()
        self.contact_id = contact_id

    def compose(self) -> ComposeResult:
        yield Static(f"Contact {self.contact_id}", id="card-title", markup=False)
        with VerticalScroll():
            yield Static("loading…", id="card-master")
            yield Static("Planned activities", classes="card-heading")
            yield Static("", id="card-planned")
        yield Footer()

    def on_mount(self) -> None:
        self.load()

    def action_reload(self) -> None:
        self.load()

    def action_close(self) -> None:
        self.dismiss()

    @work(thread=True, exclusive=True, exit_on_error=False, name="load contact card")
    def load(self) -> None:
        from crm_tui.services.agenda import contact_agenda
        from crm_tui.services.contacts import get_contact

        workspace = self.app.workspace

        def read(session):
            contact = get_contact(session, workspace.actor, self.contact_id)
            return CardData(contact, contact_agenda(session, workspace.actor, self.contact_id))

        self.post_message(self.Loaded(workspace.read(read)))

    def on_contact_card_screen_loaded(self, message: ContactCardScreen.Loaded) -> None:
        contact = message.data.contact
        title = Text(no_wrap=True, overflow="ellipsis")
        title.append_text(marker(contact.state))
        title.append(f" {contact.display_name}")
        if contact.company:
            title.append(f" · {contact.company}", style="dim")
        self.query_one("#card-title", Static).update(title)
        self.query_one("#card-master", Static).update(self._master(contact))
        self.query_one("#card-planned", Static).update(self._planned(message.data.planned))

    @staticmethod
    def _master(c: ContactDetail) -> Group:
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column()
        address = ", ".join(
            part for part in (c.street, f"{c.postal_code} {c.city}".strip(), c.region, c.country)
            if part
        )
        rows = [
            ("Kind", c.kind), ("Status", c.status), ("Company", c.company), ("E-mail", c.email),
            ("Phone", c.phone), ("Mobile", c.mobile), ("Address", address),
            ("Customer no.", c.customer_number or ""), ("Assigned to", c.assigned_to or "everybody"),
            ("Source", c.source),
            ("Expected revenue", money(c.expected_revenue, c.currency)),
            ("Contacted on", c.contacted_on.isoformat() if c.contacted_on else ""),
            ("Locked", f"by {c.locked_by} until {c.locked_until:%Y-%m-%d}" if c.locked_by else ""),
            ("Lost reason", c.lost_reason or ""),
            ("Created", f"{c.created_at:%Y-%m-%d} by {c.created_by or '?'}"),
        ]
        for label, value in rows:
            if value:
                grid.add_row(label, Text(str(value)))
        parts = [grid]
        if c.description:
            parts.append(Text(f"\n{c.description}"))
        return Group(*parts)

    @staticmethod
    def _planned(rows: list[AgendaRow]) -> Text | Table:
        if not rows:
            return Text("none", style="dim")
        table = Table.grid(padding=(0, 1))
        table.add_column(no_wrap=True)
        table.add_column(no_wrap=True)
        table.add_column()
        for row in rows:
            table.add_row(
                Text(row.deadline, style=state_colour(row.state)),
                row.due.isoformat(),
                Text(row.next_activity + (f" · {row.opportunity}" if row.opportunity else "")),
            )
        return table
