"""Reports (F7): "what will I close this quarter and why did we lose last month", then each
report in full, as tables with bars and sparklines (`widgets.report_views`, the same the
command line prints).

Keys: 1 overview, 2 forecast, 3 won/lost, 4 lost reasons, 5 activities, 6 stages; `p` steps
through the periods, `m` toggles mine/everybody's, `i` steps through the pipelines, ctrl+r
computes again. Reports are SQL aggregates computed in a thread worker; the screen shows
"computing…" meanwhile and keeps the last result on screen.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from crm_tui.screens.base import MainScreen

if TYPE_CHECKING:
    from crm_tui.workspace import Workspace

VIEWS = (
    ("overview", "Overview"),
    ("forecast", "Forecast"),
    ("won-lost", "Won/lost"),
    ("lost-reasons", "Reasons"),
    ("activities", "Activities"),
    ("stages", "Stages"),
)
DEFAULT_PERIODS = {
    "forecast": "this-quarter",
    "won-lost": None,
    "lost-reasons": "last-month",
    "activities": "this-month",
    "stages": None,
}
"""Each report's period until `p` chooses another (None: the report's own default)."""
PERIOD_CYCLE = (None, "this-month", "last-month", "this-quarter", "last-quarter", "next-quarter",
                "this-year", "last-year")


@dataclass(frozen=True)
class ReportChoice:
    """What the screen shows: a view and its filters."""

    view: str = "overview"
    period: str | None = None
    """A named period (reports.PERIODS); None: the view's default."""
    period_chosen: bool = False
    mine: bool = False
    pipeline: str | None = None


class ReportsScreen(MainScreen):
    """The sixth main screen: reports with text charts."""

    MODE = "reports"
    TITLE = "Reports"

    BINDINGS = [
        Binding("1", "view('overview')", "Overview", show=False, id="reports.overview"),
        Binding("2", "view('forecast')", "Forecast", show=False, id="reports.forecast"),
        Binding("3", "view('won-lost')", "Won/lost", show=False, id="reports.won_lost"),
        Binding("4", "view('lost-reasons')", "Lost reasons", show=False, id="reports.lost_reasons"),
        Binding("5", "view('activities')", "Activity statistics", show=False, id="reports.activities"),
        Binding("6", "view('stages')", "Stage durations", show=False, id="reports.stages"),
        Binding("p", "period", "Period", id="reports.period"),
        Binding("m", "mine", "Mine/all", id="reports.mine"),
        Binding("i", "pipeline", "Pipeline", id="reports.pipeline"),
    ]

    DEFAULT_CSS = """
    ReportsScreen #reports-tabs {
        height: 1;
        padding: 0 1;
        background: $panel;
    }
    ReportsScreen #reports-filters {
        height: 1;
        padding: 0 1;
        color: $text-muted;
    }
    ReportsScreen #reports-scroll {
        height: 1fr;
        padding: 0 1;
    }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.choice = ReportChoice()
        self.pipelines: list[str] = []
        self.computing = False

    def compose_body(self) -> ComposeResult:
        yield Static(id="reports-tabs")
        yield Static(id="reports-filters")
        with VerticalScroll(id="reports-scroll"):
            yield Static("", id="reports-body")

    def on_mount(self) -> None:
        super().on_mount()
        self._show_heading()

    def workspace_ready(self, workspace: Workspace) -> None:
        self.compute(workspace, self.choice)

    def reload(self) -> None:
        self.compute(self.workspace, self.choice)

    # -- keys --------------------------------------------------------------------------------

    def action_view(self, view: str) -> None:
        if view == self.choice.view:
            return
        self._choose(replace(self.choice, view=view, period=None, period_chosen=False))

    def action_period(self) -> None:
        current = self._period()
        index = PERIOD_CYCLE.index(current) if current in PERIOD_CYCLE else 0
        self._choose(replace(self.choice, period=PERIOD_CYCLE[(index + 1) % len(PERIOD_CYCLE)],
                             period_chosen=True))

    def action_mine(self) -> None:
        self._choose(replace(self.choice, mine=not self.choice.mine))

    def action_pipeline(self) -> None:
        names = [None, *self.pipelines]
        index = names.index(self.choice.pipeline) if self.choice.pipeline in names else 0
        self._choose(replace(self.choice, pipeline=names[(index + 1) % len(names)]))

    def _choose(self, choice: ReportChoice) -> None:
        self.choice = choice
        self._show_heading()
        if self.workspace is not None:
            self.compute(self.workspace, choice)

    # -- what is shown -----------------------------------------------------------------------

    def _period(self) -> str | None:
        if self.choice.period_chosen:
            return self.choice.period
        return DEFAULT_PERIODS.get(self.choice.view)

    def _keys(self) -> dict[str, str]:
        keys: dict[str, str] = {}
        for active in self.active_bindings.values():
            binding = active.binding
            if binding.id and binding.id not in keys:
                keys[binding.id] = self.app.get_key_display(binding)
        return keys

    def _show_heading(self) -> None:
        keys = self._keys()
        tabs = Text(no_wrap=True, overflow="ellipsis")
        for view, label in VIEWS:
            key = keys.get(f"reports.{view.replace('-', '_')}", "")
            style = "reverse bold" if view == self.choice.view else ""
            tabs.append(f" {key} {label} " if key else f" {label} ", style=style)
        self.query_one("#reports-tabs", Static).update(tabs)
        if self.choice.view == "overview":
            filters = "this quarter's forecast and last month's losses"
        else:
            period = self._period() or ("last 12 months" if self.choice.view == "won-lost" else "all time")
            filters = f"period: {period} · {'mine' if self.choice.mine else 'everybody'}"
            if self.choice.view != "activities":
                filters += f" · pipeline: {self.choice.pipeline or 'all'}"
        if self.computing:
            filters += " · computing…"
        self.query_one("#reports-filters", Static).update(Text(filters, no_wrap=True, overflow="ellipsis"))

    # -- computing ---------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="reports", name="reports")
    def compute(self, workspace: Workspace, choice: ReportChoice) -> None:
        from crm_tui.services.board import list_pipelines
        from crm_tui.services.reports import ReportQuery, named_period, run_report

        self.app.call_from_thread(self._computing, True)
        actor = workspace.actor
        today = actor.today()
        currency = workspace.settings.general.currency

        def work_(session):
            pipelines = [p.name for p in list_pipelines(session)]
            if choice.view == "overview":
                quarter = named_period("this-quarter", today)
                last_month = named_period("last-month", today)
                mine = run_report(session, actor, ReportQuery("forecast", period=quarter, owner="@me"))
                everybody = run_report(session, actor, ReportQuery("forecast", period=quarter))
                reasons = run_report(session, actor, ReportQuery("lost-reasons", period=last_month))
                return pipelines, ("overview", mine, everybody, reasons)
            period = self._period_of(choice, today)
            owner = "@me" if choice.mine else None
            return pipelines, run_report(session, actor, ReportQuery(
                choice.view, pipeline=choice.pipeline, period=period, owner=owner))

        try:
            pipelines, result = workspace.read(work_)
        finally:
            self.app.call_from_thread(self._computing, False)
        self.app.call_from_thread(self._show, choice, pipelines, result, currency)

    @staticmethod
    def _period_of(choice: ReportChoice, today):
        from crm_tui.services.reports import Period, named_period

        name = choice.period if choice.period_chosen else DEFAULT_PERIODS.get(choice.view)
        return named_period(name, today) if name else Period()

    def _computing(self, busy: bool) -> None:
        self.computing = busy
        self._show_heading()

    def _show(self, choice: ReportChoice, pipelines: list[str], result, currency: str) -> None:
        if choice != self.choice:
            return  # another choice was made meanwhile; its worker shows it
        self.pipelines = pipelines
        self.query_one("#reports-body", Static).update(self.report_renderable(result, currency))
        self._show_heading()

    @staticmethod
    def report_renderable(result, currency: str) -> RenderableType:
        from crm_tui.widgets.report_views import forecast_view, lost_reasons_view, report_view

        if isinstance(result, tuple) and result[0] == "overview":
            _tag, mine, everybody, reasons = result
            quarter = mine.period
            headline = Text.assemble(
                ("What will I close this quarter? ", "bold"),
                f"{quarter.start:%d %b} – {quarter.end:%d %b %Y}: ",
                (f"{mine.total.count} open, weighted {_money(mine.total.weighted_revenue, currency)}",
                 "bold"),
                f" of {_money(mine.total.expected_revenue, currency)} expected",
                f" (everybody: {everybody.total.count} open, weighted "
                f"{_money(everybody.total.weighted_revenue, currency)})",
            )
            top = reasons.opportunities[0] if reasons.opportunities else None
            why = Text.assemble(
                ("Why did we lose last month? ", "bold"),
                (f"mostly {top.reason!r}: {top.count} of {reasons.opportunities_count} lost "
                 f"({top.share}%), {_money(top.revenue, currency)}") if top else "nothing was lost",
            )
            return Group(headline, Text(""), forecast_view(mine, currency, details=False), Text(""),
                         why, Text(""), lost_reasons_view(reasons, currency))
        return report_view(result, currency)


def _money(amount, currency: str) -> str:
    from crm_tui.widgets.format import money

    return money(amount, currency)
