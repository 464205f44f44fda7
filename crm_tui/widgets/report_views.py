"""The reports drawn as Rich renderables: tables of numbers with text bars and sparklines.

Shared by `crm report NAME` (printed) and the Reports screen (shown in a Static), so both show
the same thing. Rich only, no Textual and no services: it takes the report dataclasses of
`crm_tui.services.reports` as they are. Readable without colour: every bar stands next to its
number, won and lost bars use different fills (█ and ░), rotting is spelled out.
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from crm_tui.widgets.charts import bar, sparkline
from crm_tui.widgets.format import money

BAR_WIDTH = 20
WON_STYLE = "green"
LOST_STYLE = "red"


def _table(title: str | None, columns: list[str], right: set[int]) -> Table:
    """Numbers keep their width; the last column, when its header is empty, holds the bars and
    takes whatever width is left (cropped on a narrow terminal, never the numbers)."""
    bars = columns[-1] == ""
    table = Table(title=title, title_justify="left", title_style="bold", box=None,
                  header_style="bold", pad_edge=False, padding=(0, 1, 0, 0), expand=bars)
    for index, column in enumerate(columns):
        if bars and index == len(columns) - 1:
            table.add_column(column, ratio=1, no_wrap=True, overflow="crop", min_width=1)
        else:
            table.add_column(column, justify="right" if index in right else "left", no_wrap=True,
                             min_width=len(column))
    return table


def _section(table: Table, name: str, columns: int) -> None:
    """A pipeline's name on a row of its own, above its stages."""
    table.add_row(Text(name, style="bold underline"), *([""] * (columns - 1)))


def _money(amount, currency: str = "") -> str:
    return money(amount, currency or None)


def _days(value) -> str:
    return "" if value is None else f"{value}"


def _filters(result) -> str:
    parts = []
    if getattr(result, "pipeline", None):
        parts.append(f"pipeline {result.pipeline}")
    if getattr(result, "owner", None):
        parts.append(f"owner {result.owner}")
    return " · ".join(parts)


def title_of(name: str, result, what: str = "") -> str:
    bits = [name, *(b for b in (_filters(result), f"{what}{result.period.text()}") if b)]
    return " · ".join(bits)


def _pair(won: Text, lost: Text, width: int) -> Text:
    """Two bars in one cell, each in its own lane of `width` cells: won (solid), lost (light
    shade), so the lost bars line up under each other too."""
    text = Text(no_wrap=True, end="")
    text.append_text(won)
    text.append(" " * (width - won.cell_len + 1))
    text.append_text(lost)
    return text


# -- one renderer per report ---------------------------------------------------------------


def forecast_view(result, currency: str = "", *, details: bool = True) -> RenderableType:
    top = max((s.weighted_revenue for s in result.stages), default=0)
    columns = ["stage", "prob", "open", "expected", "weighted", ""]
    what = "expected close " if result.period.bounded else ""
    table = _table(title_of("Forecast", result, what), columns, {1, 2, 3, 4})
    pipeline = None
    for s in result.stages:
        if s.pipeline != pipeline:
            pipeline = s.pipeline
            _section(table, pipeline, len(columns))
        table.add_row(f"  {s.key}", f"{s.probability}%", str(s.count), _money(s.expected_revenue),
                      _money(s.weighted_revenue), bar(s.weighted_revenue, top, BAR_WIDTH))
    table.add_row("total", "", str(result.total.count), _money(result.total.expected_revenue),
                  _money(result.total.weighted_revenue), currency, style="bold")
    parts: list[RenderableType] = [table]
    groups = (("by owner", result.owners), ("by expected close month", result.months))
    for title, lines in groups if details else groups[1:]:
        top = max((line.weighted_revenue for line in lines), default=0)
        table = _table(title, ["", "open", "expected", "weighted", ""], {1, 2, 3})
        for line in lines:
            table.add_row(line.key, str(line.count), _money(line.expected_revenue),
                          _money(line.weighted_revenue), bar(line.weighted_revenue, top, BAR_WIDTH))
        parts += [Text(""), table]
    return Group(*parts)


def won_lost_view(result, currency: str = "") -> RenderableType:
    top = max((max(m.won_revenue, m.lost_revenue) for m in result.months), default=0)
    table = _table(title_of("Won and lost", result),
                   ["month", "won", "revenue", "lost", "revenue", ""], {1, 2, 3, 4})
    for m in result.months:
        table.add_row(m.month, str(m.won), _money(m.won_revenue), str(m.lost), _money(m.lost_revenue),
                      _pair(bar(m.won_revenue, top, BAR_WIDTH // 2, style=WON_STYLE),
                            bar(m.lost_revenue, top, BAR_WIDTH // 2, style=LOST_STYLE, fill="light"),
                            BAR_WIDTH // 2))
    table.add_row("total", str(result.won), _money(result.won_revenue), str(result.lost),
                  _money(result.lost_revenue), currency, style="bold")
    rate = "—" if result.win_rate is None else f"{result.win_rate}%"
    line = Text.assemble(
        f"win rate {rate} (by count) · won per month ",
        sparkline([m.won_revenue for m in result.months], style=WON_STYLE),
        " · bars: █ won ░ lost",
    )
    return Group(table, line)


def _reasons_table(title: str, lines, count: int, revenue, currency: str, noun: str) -> Table:
    top = max((line.count for line in lines), default=0)
    table = _table(f"{title}: {count} {noun}, {_money(revenue, currency)}",
                   ["reason", "count", "share", "revenue", ""], {1, 2, 3})
    for line in lines:
        table.add_row(line.reason, str(line.count), f"{line.share}%", _money(line.revenue),
                      bar(line.count, top, BAR_WIDTH))
    if not lines:
        table.add_row("(none)", "", "", "", "")
    return table


def lost_reasons_view(result, currency: str = "") -> RenderableType:
    return Group(
        Text(title_of("Lost and close reasons", result), style="bold"),
        _reasons_table("opportunities lost", result.opportunities, result.opportunities_count,
                       result.opportunities_revenue, currency, "lost"),
        Text(""),
        _reasons_table("contacts closed", result.contacts, result.contacts_count,
                       result.contacts_revenue, currency, "closed"),
    )


def activities_view(result, currency: str = "") -> RenderableType:
    top = max((rep.overdue for rep in result.reps), default=0)
    title = title_of("Activities", result, "done ") + f" · overdue as of {result.today.isoformat()}"
    table = _table(title, ["rep / type", "done", "open", "overdue", "avg days overdue", ""],
                   {1, 2, 3, 4})
    for rep in result.reps:
        table.add_row(rep.key, str(rep.done), str(rep.open), str(rep.overdue),
                      _days(rep.average_days_overdue), bar(rep.overdue, top, BAR_WIDTH, style=LOST_STYLE),
                      style="bold")
        for line in rep.by_type:
            table.add_row(f"  {line.key}", str(line.done), str(line.open), str(line.overdue),
                          _days(line.average_days_overdue), "")
    total = result.total
    table.add_row("total", str(total.done), str(total.open), str(total.overdue),
                  _days(total.average_days_overdue), "", style="bold")
    return table


def stages_view(result, currency: str = "") -> RenderableType:
    top = max((s.average_days or 0 for s in result.stages), default=0)
    columns = ["stage", "limit", "open", "days", "left", "days", "avg", "rotting", "revenue", ""]
    table = _table(title_of("Stage durations", result, "stays ended "), columns, set(range(1, 9)))
    pipeline = None
    for s in result.stages:
        if s.pipeline != pipeline:
            pipeline = s.pipeline
            _section(table, pipeline, len(columns))
        table.add_row(f"  {s.stage}", str(s.duration_days or "—"), str(s.open),
                      _days(s.open_average_days), str(s.stays), _days(s.stay_average_days),
                      _days(s.average_days), f"! {s.rotting}" if s.rotting else "",
                      _money(s.rotting_revenue) if s.rotting else "",
                      bar(s.average_days or 0, top, BAR_WIDTH // 2))
    return Group(
        table,
        Text("open: in the stage now, days so far · left: stays that ended (history), their "
             "days · avg: both · limit: days before rotting", style="dim"),
        Text(f"rotting: {result.rotting} open opportunities, {_money(result.rotting_revenue, currency)}"),
    )


VIEWS = {
    "forecast": forecast_view,
    "won-lost": won_lost_view,
    "lost-reasons": lost_reasons_view,
    "activities": activities_view,
    "stages": stages_view,
}


def report_view(result, currency: str = "") -> RenderableType:
    """Any report, by its `report` name."""
    return VIEWS[result.report](result, currency)
