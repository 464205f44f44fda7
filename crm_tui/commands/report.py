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
    print_report(result, currency)
    return 0


# -- printing --------------------------------------------------------------------------------


def print_report(result, currency: str) -> None:
    from rich.console import Console

    from crm_tui.widgets.report_views import report_view

    Console(soft_wrap=False).print(report_view(result, currency))
