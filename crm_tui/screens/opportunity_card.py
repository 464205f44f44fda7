"""An opportunity's card: its fields, its contact, its planned and recent activities and its
history, with keys to edit it, win, lose or reopen it, plan an activity on it and open its
contact.

Pushed over the board (or any screen that opens an opportunity); escape goes back and dismisses
with True when something was changed here (the board then refreshes the columns concerned).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
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

from crm_tui.screens.base import DataChanged
from crm_tui.widgets.format import marker, money, state_colour
from crm_tui.widgets.worker_errors import ReportsWorkerErrors

if TYPE_CHECKING:
    from crm_tui.services.activities import ActivityRow
    from crm_tui.services.audit import HistoryRow
    from crm_tui.services.opportunities import OpportunityDetail

PLANNED_SHOWN = 20
RECENT_SHOWN = 10
HISTORY_SHOWN = 50


@dataclass(frozen=True)
class OpportunityCardData:
    detail: OpportunityDetail
    planned: list[ActivityRow]
    recent: list[ActivityRow]
    history: list[HistoryRow]
    history_total: int
    today: date


def relative(due: date, today: date) -> str:
    """As `services.states.relative_deadline` (kept here to stay free of service imports)."""
    days = (due - today).days
    if days == 0:
        return "today"
    if days == 1:
        return "tomorrow"
    if days == -1:
        return "yesterday"
    if abs(days) > 99:
        return due.isoformat()
    return f"in {days} days" if days > 0 else f"{-days} days ago"


class OpportunityCardScreen(ReportsWorkerErrors, Screen[bool]):
    """Fields, contact, activities and history of one opportunity."""

    TITLE = "Opportunity"
    BINDINGS = [
        Binding("escape", "close", "Back", id="opp_card.close"),
        Binding("e", "edit", "Edit", id="opp_card.edit"),
        Binding("w", "won", "Won", id="opp_card.won"),
        Binding("l", "lost", "Lost", id="opp_card.lost"),
        Binding("o", "reopen", "Reopen", id="opp_card.reopen"),
        Binding("a", "plan", "Plan", id="opp_card.plan"),
        Binding("c,enter", "contact", "Contact", id="opp_card.contact"),
        Binding("ctrl+r", "reload", "Reload", show=False, id="opp_card.reload"),
    ]
    DEFAULT_CSS = """
    OpportunityCardScreen #opp-title {
        height: 1;
        padding: 0 1;
        background: $panel;
        text-wrap: nowrap;
    }
    OpportunityCardScreen VerticalScroll {
        padding: 0 1;
    }
    OpportunityCardScreen .card-heading {
        margin-top: 1;
        text-style: bold underline;
    }
    """

    class Loaded(Message):
        def __init__(self, data: OpportunityCardData) -> None:
            super().__init__()
            self.data = data

    class Changed(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class Failed(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, opportunity_id: int) -> None:
        super().__init__()
        self.opportunity_id = opportunity_id
        self.data: OpportunityCardData | None = None
        self.changed = False
        """Something was saved from here (the caller refreshes)."""

    @property
    def workspace(self):
        return getattr(self.app, "workspace", None)

    def compose(self) -> ComposeResult:
        yield Static(f"Opportunity {self.opportunity_id}", id="opp-title", markup=False)
        with VerticalScroll(id="opp-body"):
            yield Static("loading…", id="opp-fields")
            yield Static("Planned activities", classes="card-heading", id="opp-planned-title")
            yield Static("", id="opp-planned")
            yield Static("Recent activities", classes="card-heading")
            yield Static("", id="opp-recent")
            yield Static("History", classes="card-heading", id="opp-history-title")
            yield Static("", id="opp-history")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#opp-body").focus()
        self.load()

    def action_reload(self) -> None:
        self.load()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Offer only what fits the status: won/lost while open, reopen once closed."""
        if self.data is None:
            return True
        status = self.data.detail.status
        if action == "won":
            return status != "won"
        if action == "lost":
            return status != "lost"
        if action == "reopen":
            return status != "open"
        return True

    def on_data_changed(self, message: DataChanged) -> None:
        """Somebody wrote to the database: show the card as it is now."""
        self.load()

    def action_close(self) -> None:
        self.dismiss(self.changed)

    # -- loading -----------------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="opp-card-load",
          name="load opportunity card")
    def load(self) -> None:
        from crm_tui.services.activities import list_activities
        from crm_tui.services.audit import count_history, list_history
        from crm_tui.services.opportunities import get_opportunity

        workspace = self.workspace
        if workspace is None:
            return
        actor = workspace.actor
        opportunity_id = self.opportunity_id

        def read(session) -> OpportunityCardData:
            detail = get_opportunity(session, actor, opportunity_id)
            planned = list_activities(session, actor, opportunity_id=opportunity_id,
                                      status="planned", limit=PLANNED_SHOWN)
            recent = list_activities(session, actor, opportunity_id=opportunity_id,
                                     status="done", limit=RECENT_SHOWN)
            history = list_history(session, actor, opportunity_id=opportunity_id,
                                   limit=HISTORY_SHOWN)
            total = count_history(session, opportunity_id=opportunity_id)
            return OpportunityCardData(detail, planned, recent, history, total, actor.today())

        self.post_message(self.Loaded(workspace.read(read)))

    def on_opportunity_card_screen_loaded(self, message: OpportunityCardScreen.Loaded) -> None:
        data = self.data = message.data
        d = data.detail
        title = Text(no_wrap=True, overflow="ellipsis")
        title.append_text(marker(d.state))
        if d.rotting:
            title.append(" !", style="bold red")
        title.append(f" {d.title}", style="bold")
        status = {"won": "won ✓", "lost": "lost ✗"}.get(d.status, d.stage)
        title.append(f" · {status} · {d.contact}", style="dim")
        self.query_one("#opp-title", Static).update(title)
        self.query_one("#opp-fields", Static).update(self._fields(d, data.today))
        self.query_one("#opp-planned-title", Static).update(
            f"Planned activities ({len(data.planned)}{'+' if len(data.planned) >= PLANNED_SHOWN else ''})"
        )
        self.query_one("#opp-planned", Static).update(self._activities(data.planned, data.today))
        self.query_one("#opp-recent", Static).update(
            self._activities(data.recent, data.today, done=True)
        )
        more = f", newest {len(data.history)} shown" if data.history_total > len(data.history) else ""
        self.query_one("#opp-history-title", Static).update(
            f"History ({data.history_total}{more})"
        )
        self.query_one("#opp-history", Static).update(self._history(data.history))
        self.refresh_bindings()

    @staticmethod
    def _fields(d: OpportunityDetail, today: date) -> Group:
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column()
        if d.status != "open":
            state = Text("closed: activities no longer count", style="dim")
        elif d.next_activity_due:
            state = Text(f"{d.state} · next activity due {relative(d.next_activity_due, today)}",
                         style=state_colour(d.state))
        else:
            state = Text("none planned", style=state_colour(d.state))
        in_stage = f"since {d.stage_entered_at:%Y-%m-%d}"
        if d.rotting:
            in_stage += " · rotting (longer than the stage's duration)"
        status = d.status
        if d.status == "lost" and d.lost_reason:
            status += f": {d.lost_reason}" + (f" ({d.lost_note})" if d.lost_note else "")
        if d.closed_at:
            status += f" · closed {d.closed_at:%Y-%m-%d}"
        probability = f"{d.probability}%" + (" (overridden)" if d.probability_overridden else "")
        weighted = (d.expected_revenue * d.probability / 100).quantize(Decimal("0.01"))
        rows = [
            ("Contact", Text(d.contact + (f" · {d.company}" if d.company and d.company != d.contact else "")
                             + "   (c opens)")),
            ("Pipeline", Text(f"{d.pipeline} › {d.stage}")),
            ("Status", Text(status)),
            ("Activity", state),
            ("In stage", Text(in_stage)),
            ("Revenue", Text(f"{money(d.expected_revenue, d.currency)} · weighted "
                             f"{money(weighted, d.currency)}")),
            ("Probability", Text(probability)),
            ("Owner", Text(d.owner or "nobody")),
            ("Close date", Text(d.expected_close.isoformat() if d.expected_close else "–")),
            ("Created", Text(f"{d.created_at:%Y-%m-%d} · changed {d.updated_at:%Y-%m-%d %H:%M}")),
        ]
        for label, value in rows:
            grid.add_row(label, value)
        parts: list = [grid]
        if d.description:
            parts.append(Text(f"\n{d.description}"))
        return Group(*parts)

    @staticmethod
    def _activities(rows: list[ActivityRow], today: date, done: bool = False) -> Text | Table:
        if not rows:
            return Text("none", style="dim")
        table = Table.grid(padding=(0, 1))
        table.add_column(no_wrap=True)
        table.add_column(no_wrap=True)
        table.add_column(no_wrap=True)
        table.add_column()
        for row in rows:
            when = relative(row.due, today)
            if row.time:
                when += f" {row.time:%H:%M}"
            style = "dim" if done else state_colour(row.state)
            what = row.summary or row.type
            if row.paused:
                what += " (paused)"
            if done and row.feedback:
                what += f" — {row.feedback}"
            table.add_row(Text(when, style=style), Text(row.type, style="dim"),
                          Text(row.assigned_to or "", style="dim"), Text(what))
        return table

    @staticmethod
    def _history(rows: list[HistoryRow]) -> Text | Table:
        if not rows:
            return Text("none", style="dim")
        table = Table.grid(padding=(0, 1))
        table.add_column(no_wrap=True, style="dim")
        table.add_column(no_wrap=True, style="dim")
        table.add_column()
        for row in rows:
            text = row.summary
            if row.action in ("stage", "won", "lost", "reopen") and row.field:
                text = f"{row.action}: {row.old_value or '—'} → {row.new_value or '—'}"
            if row.note:
                text += f" ({row.note})"
            table.add_row(f"{row.at:%Y-%m-%d %H:%M}", row.user, Text(text))
        return table

    # -- keys --------------------------------------------------------------------------------

    def _after_change(self, result: object) -> None:
        if result:
            self.changed = True
            self.load()

    def action_edit(self) -> None:
        if self.workspace is None:
            return
        from crm_tui.screens.modals.opportunity_form import OpportunityForm

        self.app.push_screen(OpportunityForm(self.workspace, opportunity_id=self.opportunity_id),
                             self._after_change)

    def action_lost(self) -> None:
        if self.workspace is None:
            return
        from crm_tui.screens.modals.lost_reason import LostReasonDialog

        title = self.data.detail.title if self.data else ""
        self.app.push_screen(LostReasonDialog(self.workspace, self.opportunity_id, title),
                             self._after_change)

    def action_won(self) -> None:
        self.change("won")

    def action_reopen(self) -> None:
        self.change("reopen")

    def action_plan(self) -> None:
        if self.workspace is None or self.data is None:
            return
        try:
            from crm_tui.screens.modals.activity_form import ActivityForm
        except ImportError:
            self.notify("The activity form is not available in this version.",
                        severity="warning")
            return
        self.app.push_screen(
            ActivityForm(self.workspace, contact_id=self.data.detail.contact_id,
                         opportunity_id=self.opportunity_id),
            self._after_change,
        )

    def action_contact(self) -> None:
        if self.data is None:
            return
        from crm_tui.screens.contact_card import ContactCardScreen

        self.app.push_screen(ContactCardScreen(self.data.detail.contact_id),
                             lambda _result: self.load())

    @work(thread=True, exclusive=True, exit_on_error=False, group="opp-card-write",
          name="change opportunity")
    def change(self, what: str) -> None:
        from crm_tui.services.errors import ServiceError
        from crm_tui.services.opportunities import mark_won, reopen_opportunity

        workspace = self.workspace
        if workspace is None:
            return
        action = mark_won if what == "won" else reopen_opportunity
        try:
            workspace.write(lambda s: action(s, workspace.actor, self.opportunity_id).id)
        except ServiceError as error:
            self.post_message(self.Failed(getattr(error, "message", None) or str(error)))
            return
        self.post_message(self.Changed("won" if what == "won" else "reopened"))

    def on_opportunity_card_screen_changed(self, message: OpportunityCardScreen.Changed) -> None:
        self.changed = True
        self.notify(message.text, timeout=2)
        self.load()

    def on_opportunity_card_screen_failed(self, message: OpportunityCardScreen.Failed) -> None:
        self.notify(message.text, severity="warning", title="Not done")
