"""`crm report NAME`: forecast, won-lost, lost-reasons, activities, stages.

Tables with text bars (readable without colour: every bar has its number beside it), or one JSON
document with `--json` (the report's dataclass: amounts as strings with two decimals).
"""

from __future__ import annotations

import argparse

from crm_tui.commands.common import add_command

REPORT_NAMES = ("forecast", "won-lost", "lost-reasons", "activities", "stages")
PERIOD_NAMES = ("this-month", "last-month", "this-quarter", "last-quarter", "next-quarter",
                "this-year", "last-year")
BAR_WIDTH = 20


def register(sub) -> None:
    report = add_command(
        sub, "report", "crm_tui.commands.report:report",
        "forecast, won/lost, lost reasons, activity statistics, stage durations",
        epilog=(
            "reports:\n"
            "  forecast      open opportunities by stage, owner and expected-close month\n"
            "                (--from/--to filter the expected close date)\n"
            "  won-lost      won and lost per month (default: the last 12 months)\n"
            "  lost-reasons  lost opportunities and closed contacts by reason\n"
            "  activities    per rep and type: done (in the period), open, overdue\n"
            "  stages        time in each stage, rotting opportunities\n"
            "examples:\n"
            "  crm report forecast --period this-quarter --owner @me\n"
            "  crm report lost-reasons --period last-month"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    report.add_argument("name", choices=REPORT_NAMES, metavar="NAME",
                        help=f"one of {', '.join(REPORT_NAMES)}")
    report.add_argument("--pipeline", metavar="NAME", help="only this pipeline (name or id)")
    report.add_argument("--from", dest="start", metavar="DATE", help="first day (2026-10-01, -30d, ...)")
    report.add_argument("--to", dest="end", metavar="DATE", help="last day, included")
    report.add_argument("--period", choices=PERIOD_NAMES, metavar="NAME",
                        help=f"instead of --from/--to: {', '.join(PERIOD_NAMES)}")
    report.add_argument("--owner", metavar="LOGIN",
                        help="only this owner's opportunities or rep's activities (@me: yours)")


def report(args: argparse.Namespace) -> int:
    from crm_tui.commands.common import open_context, print_json
    from crm_tui.services.reports import ReportQuery, parse_period, run_report

    with open_context(args) as ctx, ctx.db.read() as session:
        period = parse_period(args.start, args.end, ctx.actor.today(), args.period)
        query = ReportQuery(args.name, pipeline=args.pipeline, period=period, owner=args.owner)
        result = run_report(session, ctx.actor, query)
        currency = ctx.settings.general.currency
    if ctx.json:
        print_json(result)
        return 0
    PRINTERS[result.report](result, currency)
    return 0


# -- printing --------------------------------------------------------------------------------


def _console():
    from rich.console import Console

    return Console(soft_wrap=False)


def _table(title: str, columns: list[str], right: set[int]):
    """Numbers keep their width; the last column, when its header is empty, holds the bars and
    takes whatever width is left (cropped on a narrow terminal, never the numbers)."""
    from rich.table import Table

    bars = columns[-1] == ""
    table = Table(title=title, title_justify="left", box=None, header_style="bold",
                  pad_edge=False, padding=(0, 1, 0, 0), expand=bars)
    for index, column in enumerate(columns):
        if bars and index == len(columns) - 1:
            table.add_column(column, ratio=1, no_wrap=True, overflow="crop", min_width=1)
        else:
            table.add_column(column, justify="right" if index in right else "left", no_wrap=True,
                             min_width=len(column))
    return table


def _section(table, name: str, columns: int) -> None:
    """A pipeline's name on a row of its own, above its stages."""
    from rich.text import Text

    table.add_row(Text(name, style="bold underline"), *([""] * (columns - 1)))


def _money(amount, currency: str = "") -> str:
    from crm_tui.widgets.format import money

    return money(amount, currency or None)


def _filters(result) -> str:
    parts = []
    if getattr(result, "pipeline", None):
        parts.append(f"pipeline {result.pipeline}")
    if getattr(result, "owner", None):
        parts.append(f"owner {result.owner}")
    return " · ".join(parts)


def _title(name: str, result, what: str = "") -> str:
    period = result.period.text()
    bits = [name, *(b for b in (_filters(result), f"{what}{period}") if b)]
    return " · ".join(bits)


def print_forecast(result, currency: str) -> None:
    from crm_tui.widgets.charts import bar

    console = _console()
    top = max((s.weighted_revenue for s in result.stages), default=0)
    columns = ["stage", "prob", "open", "expected", "weighted", ""]
    table = _table(_title("Forecast", result, "expected close " if result.period.bounded else ""),
                   columns, {1, 2, 3, 4})
    pipeline = None
    for s in result.stages:
        if s.pipeline != pipeline:
            pipeline = s.pipeline
            _section(table, pipeline, len(columns))
        table.add_row(f"  {s.key}", f"{s.probability}%", str(s.count), _money(s.expected_revenue),
                      _money(s.weighted_revenue), bar(s.weighted_revenue, top, BAR_WIDTH))
    table.add_row("total", "", str(result.total.count), _money(result.total.expected_revenue),
                  _money(result.total.weighted_revenue), currency, style="bold")
    console.print(table)
    for title, lines in (("by owner", result.owners), ("by expected close month", result.months)):
        console.print()
        top = max((line.weighted_revenue for line in lines), default=0)
        table = _table(title, ["", "open", "expected", "weighted", ""], {1, 2, 3})
        for line in lines:
            table.add_row(line.key, str(line.count), _money(line.expected_revenue),
                          _money(line.weighted_revenue), bar(line.weighted_revenue, top, BAR_WIDTH))
        console.print(table)


def print_won_lost(result, currency: str) -> None:
    from rich.text import Text

    from crm_tui.widgets.charts import bar, sparkline

    console = _console()
    top = max((max(m.won_revenue, m.lost_revenue) for m in result.months), default=0)
    table = _table(_title("Won and lost", result), ["month", "won", "revenue", "lost", "revenue", ""],
                   {1, 2, 3, 4})
    for m in result.months:
        table.add_row(m.month, str(m.won), _money(m.won_revenue), str(m.lost), _money(m.lost_revenue),
                      _pair(bar(m.won_revenue, top, BAR_WIDTH // 2, style="green"),
                            bar(m.lost_revenue, top, BAR_WIDTH // 2, style="red", fill="light")))
    table.add_row("total", str(result.won), _money(result.won_revenue), str(result.lost),
                  _money(result.lost_revenue), currency, style="bold")
    console.print(table)
    rate = "—" if result.win_rate is None else f"{result.win_rate}%"
    line = sparkline([m.won_revenue for m in result.months])
    console.print(Text.assemble(f"win rate {rate} (by count) · won revenue per month ", line,
                                " · bars: █ won ░ lost"))


def _pair(won, lost):
    """Two bars in one cell: won (solid) then lost (light shade), apart by a space."""
    from rich.text import Text

    text = Text(no_wrap=True, end="")
    text.append_text(won)
    if won.plain and lost.plain:
        text.append(" ")
    text.append_text(lost)
    return text


def _print_reasons(console, title: str, lines, count: int, revenue, currency: str, noun: str) -> None:
    from crm_tui.widgets.charts import bar

    top = max((line.count for line in lines), default=0)
    table = _table(f"{title}: {count} {noun}, {_money(revenue, currency)}",
                   ["reason", "count", "share", "revenue", ""], {1, 2, 3})
    for line in lines:
        table.add_row(line.reason, str(line.count), f"{line.share}%", _money(line.revenue),
                      bar(line.count, top, BAR_WIDTH))
    if not lines:
        table.add_row("(none)", "", "", "", "")
    console.print(table)


def print_lost_reasons(result, currency: str) -> None:
    console = _console()
    console.print(_title("Lost and close reasons", result), style="bold")
    _print_reasons(console, "opportunities lost", result.opportunities, result.opportunities_count,
                   result.opportunities_revenue, currency, "lost")
    console.print()
    _print_reasons(console, "contacts closed", result.contacts, result.contacts_count,
                   result.contacts_revenue, currency, "closed")


def _days(value) -> str:
    return "" if value is None else f"{value}"


def print_activities(result, currency: str) -> None:
    from crm_tui.widgets.charts import bar

    console = _console()
    top = max((rep.overdue for rep in result.reps), default=0)
    table = _table(_title("Activities", result, "done ") + f" · overdue as of {result.today.isoformat()}",
                   ["rep / type", "done", "open", "overdue", "avg days overdue", ""], {1, 2, 3, 4})
    for rep in result.reps:
        table.add_row(rep.key, str(rep.done), str(rep.open), str(rep.overdue),
                      _days(rep.average_days_overdue), bar(rep.overdue, top, BAR_WIDTH), style="bold")
        for line in rep.by_type:
            table.add_row(f"  {line.key}", str(line.done), str(line.open), str(line.overdue),
                          _days(line.average_days_overdue), "")
    total = result.total
    table.add_row("total", str(total.done), str(total.open), str(total.overdue),
                  _days(total.average_days_overdue), "", style="bold")
    console.print(table)


def print_stages(result, currency: str) -> None:
    from crm_tui.widgets.charts import bar

    console = _console()
    top = max((s.average_days or 0 for s in result.stages), default=0)
    columns = ["stage", "limit", "open", "days", "left", "days", "avg", "rotting", "revenue", ""]
    table = _table(_title("Stage durations", result, "stays ended "), columns, set(range(1, 9)))
    pipeline = None
    for s in result.stages:
        if s.pipeline != pipeline:
            pipeline = s.pipeline
            _section(table, pipeline, len(columns))
        table.add_row(f"  {s.stage}", str(s.duration_days or "—"), str(s.open),
                      _days(s.open_average_days), str(s.stays), _days(s.stay_average_days),
                      _days(s.average_days), str(s.rotting or ""),
                      _money(s.rotting_revenue) if s.rotting else "",
                      bar(s.average_days or 0, top, BAR_WIDTH // 2))
    console.print(table)
    console.print("open: in the stage now, days so far · left: stays that ended (history), "
                  "their days · avg: both · limit: days before rotting", style="dim")
    console.print(f"rotting: {result.rotting} open opportunities, {_money(result.rotting_revenue, currency)}")


PRINTERS = {
    "forecast": print_forecast,
    "won-lost": print_won_lost,
    "lost-reasons": print_lost_reasons,
    "activities": print_activities,
    "stages": print_stages,
}
