"""`crm board`: the pipeline board's column heads, as a table or JSON (the same numbers the board
screen shows: counts by activity state, revenue totals, rotting)."""

from __future__ import annotations

import argparse

from crm_tui.commands.common import add_command

STATE_ORDER = ("overdue", "today", "planned", "none")


def register(sub) -> None:
    board = add_command(
        sub, "board", "crm_tui.commands.board:board",
        "per stage: counts by state, revenue total",
        epilog="Counts are of open opportunities by their next activity: overdue (red), today "
               "(yellow), planned (green), none (grey). Revenue totals include won/lost "
               "opportunities shown in a won/lost stage; weighted = revenue x probability.",
    )
    board.add_argument("--pipeline", metavar="NAME", help="pipeline name or id (default: the first)")


def stage_json(summary) -> dict[str, object]:
    """One stage as `crm board --json` prints it (exactly these keys)."""
    from crm_tui.services.validation import money_text

    return {
        "name": summary.name,
        "probability": summary.probability,
        "counts": {state: summary.counts.get(state, 0) for state in STATE_ORDER},
        "expected_revenue": money_text(summary.expected_revenue),
        "weighted_revenue": money_text(summary.weighted_revenue),
        "rotting": summary.rotting,
    }


def board(args: argparse.Namespace) -> int:
    from decimal import Decimal

    from crm_tui.commands.common import open_context, print_json
    from crm_tui.services.board import board_summary
    from crm_tui.services.pipelines import default_pipeline, find_pipeline
    from crm_tui.services.validation import money_text

    with open_context(args) as ctx, ctx.db.read() as session:
        pipeline = find_pipeline(session, args.pipeline) if args.pipeline else default_pipeline(session)
        name = pipeline.name
        summaries = board_summary(session, ctx.actor, pipeline.id)
    if ctx.json:
        print_json([stage_json(s) for s in summaries])
        return 0
    show_closed = any(s.closed for s in summaries)
    rows = []
    for s in summaries:
        mark = " (won)" if s.is_won else " (lost)" if s.is_lost else ""
        rows.append([
            f"{s.name}{mark}", f"{s.probability}%", *(str(s.counts.get(k, 0)) for k in STATE_ORDER),
            *([str(s.closed or "")] if show_closed else []),
            money_text(s.expected_revenue), money_text(s.weighted_revenue), str(s.rotting or ""),
        ])
    rows.append([
        "total", "", *(str(sum(s.counts.get(k, 0) for s in summaries)) for k in STATE_ORDER),
        *([str(sum(s.closed for s in summaries))] if show_closed else []),
        money_text(sum((s.expected_revenue for s in summaries), Decimal(0))),
        money_text(sum((s.weighted_revenue for s in summaries), Decimal(0))),
        str(sum(s.rotting for s in summaries) or ""),
    ])
    columns = ["stage", "prob", *STATE_ORDER, *(["closed"] if show_closed else []),
               "revenue", "weighted", "rotting"]
    print_compact_table(columns, rows, title=f"Pipeline {name} · {ctx.actor.today().isoformat()}",
                        shrink=(0,), right=range(1, len(columns)))
    return 0


def print_compact_table(columns, rows, *, title: str | None = None, wrap=(), shrink=(), right=()) -> None:
    """A table for a terminal of any width: columns in `wrap` wrap their words, those in
    `shrink` are cut with an ellipsis, the others keep their width; `right` ones (numbers) are
    right-aligned."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, box=None, header_style="bold", pad_edge=False, padding=(0, 1, 0, 0))
    for index, column in enumerate(columns):
        table.add_column(column, no_wrap=index not in wrap and index not in shrink,
                         overflow="fold" if index in wrap else "ellipsis",
                         justify="right" if index in right else "left",
                         min_width=6 if index in shrink or index in wrap else None)
    for row in rows:
        table.add_row(*("" if value is None else str(value) for value in row))
    Console(soft_wrap=False).print(table)
