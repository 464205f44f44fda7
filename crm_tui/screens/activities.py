""""My activities": the acting user's open activities, most urgent first, coloured by state, with
the expected revenue total. The list is virtual (`services.agenda.my_activities` windows)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Static

from crm_tui.screens.base import MainScreen
from crm_tui.widgets.format import money, plural, state_colour
from crm_tui.widgets.virtual_table import Column, VirtualTable

if TYPE_CHECKING:
    from crm_tui.services.agenda import AgendaRow
    from crm_tui.workspace import Workspace

SCOPES = ("mine", "team", "all")
SCOPE_LABELS = {"mine": "My activities", "team": "My teams' activities", "all": "All activities"}
STATE_FILTERS = (None, "overdue", "today", "planned")


def agenda_columns() -> list[Column]:
    return [
        Column("deadline", "Deadline", 11, lambda r: r.deadline, priority=0),
        Column("contact", "Contact", 16, lambda r: r.contact, priority=0, grow=2),
        Column("opportunity", "Opportunity", 16, lambda r: r.opportunity or "", priority=1, grow=2),
        Column("activity", "Next activity", 18,
               lambda r: ("⏸ " if r.paused else "") + r.next_activity, priority=1, grow=3),
        Column("revenue", "Revenue", 12, lambda r: money(r.expected_revenue), priority=2,
               justify="right"),
        Column("stage", "Stage", 12, lambda r: r.stage or "", priority=3, grow=1),
        Column("phone", "Phone", 14, lambda r: r.phone, priority=4),
        Column("email", "E-mail", 18, lambda r: r.email, priority=5, grow=1),
    ]


@dataclass(frozen=True)
class AgendaSource:
    workspace: Workspace
    scope: str = "mine"
    state: str | None = None

    def count(self) -> int:
        from crm_tui.services.agenda import my_activities_total

        return self.workspace.read(
            lambda s: my_activities_total(s, self.workspace.actor, self.scope, self.state)[0]
        )

    def fetch(self, offset: int, limit: int) -> Sequence[AgendaRow]:
        from crm_tui.services.agenda import my_activities

        return self.workspace.read(
            lambda s: my_activities(s, self.workspace.actor, offset, limit, self.scope, self.state)
        )


class ActivitiesScreen(MainScreen):
    """The acting user's open activities."""

    MODE = "activities"
    TITLE = "My activities"

    BINDINGS = [
        Binding("m", "scope", "Mine/team/all", id="activities.scope"),
        Binding("s", "state", "State filter", id="activities.state"),
    ]

    class Totals(Message):
        def __init__(self, count: int, revenue: Decimal, currency: str) -> None:
            super().__init__()
            self.count = count
            self.revenue = revenue
            self.currency = currency

    def __init__(self) -> None:
        super().__init__()
        self.scope = "mine"
        self.state: str | None = None
        self.totals: tuple[int, Decimal, str] | None = None

    def compose_body(self) -> ComposeResult:
        yield Static(id="activities-status", classes="status-line")
        yield VirtualTable(
            agenda_columns(), id="activities-table", row_style=lambda r: state_colour(r.state),
            empty_text="No open activities.", loading_text="loading activities…",
        )
        yield Static(id="activities-total", classes="total-line")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one(VirtualTable).focus()
        self._show_status()

    def workspace_ready(self, workspace: Workspace) -> None:
        self._load(keep_cursor=False)

    def reload(self) -> None:
        self._load(keep_cursor=True)

    def _load(self, keep_cursor: bool) -> None:
        workspace = self.workspace
        if workspace is None:
            return
        self.totals = None
        self.query_one(VirtualTable).set_source(
            AgendaSource(workspace, self.scope, self.state), keep_cursor=keep_cursor
        )
        self.load_totals(workspace, self.scope, self.state)
        self._show_status()

    @work(thread=True, exclusive=True, exit_on_error=False, group="totals", name="activity totals")
    def load_totals(self, workspace: Workspace, scope: str, state: str | None) -> None:
        from crm_tui.services.agenda import my_activities_total

        count, revenue = workspace.read(
            lambda s: my_activities_total(s, workspace.actor, scope, state)
        )
        self.post_message(self.Totals(count, revenue, workspace.settings.general.currency))

    def on_activities_screen_totals(self, message: ActivitiesScreen.Totals) -> None:
        self.totals = (message.count, message.revenue, message.currency)
        self._show_status()

    def _show_status(self) -> None:
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(SCOPE_LABELS[self.scope], style="bold")
        if self.state:
            line.append("  state: ")
            line.append(self.state, style=state_colour(self.state))
        self.query_one("#activities-status", Static).update(line)
        total = Text(no_wrap=True, overflow="ellipsis", justify="right")
        if self.totals is None:
            total.append("counting…", style="dim")
        else:
            count, revenue, currency = self.totals
            total.append(plural(count, "open activity", "open activities"))
            total.append(" · expected revenue ")
            total.append(money(revenue, currency), style="bold")
        self.query_one("#activities-total", Static).update(total)

    def action_scope(self) -> None:
        self.scope = SCOPES[(SCOPES.index(self.scope) + 1) % len(SCOPES)]
        self._load(keep_cursor=False)

    def action_state(self) -> None:
        self.state = STATE_FILTERS[(STATE_FILTERS.index(self.state) + 1) % len(STATE_FILTERS)]
        self._load(keep_cursor=False)

    @on(VirtualTable.Failed, "#activities-table")
    def _failed(self, message: VirtualTable.Failed) -> None:
        self.notify(str(message.error), severity="error")

    @on(VirtualTable.RowSelected, "#activities-table")
    def _open(self, message: VirtualTable.RowSelected) -> None:
        from crm_tui.screens.contact_card import ContactCardScreen

        self.app.push_screen(ContactCardScreen(message.row.contact_id))
