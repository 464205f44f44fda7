"""`crm opps ...`: list, show, add, edit, move, won, lost, reopen, merge."""

from __future__ import annotations

import argparse
import sys

from crm_tui.commands.common import add_command, field_options, given_fields

OPP_FIELDS = (
    "title", "contact", "pipeline", "stage", "expected_revenue", "currency", "probability",
    "owner", "expected_close", "description",
)
FIELD_HELP = {
    "title": "what is being sold, e.g. 'Mietwohnung Olpe'",
    "contact": "the contact's id (see `crm contacts list`)",
    "pipeline": "pipeline name or id (default: the first pipeline)",
    "stage": "stage name or id in the pipeline (default: its first stage); on edit this moves it",
    "expected_revenue": "amount, e.g. 1000, 1.000,50 or 1,000.50",
    "currency": "three letters, e.g. EUR (default: the configured currency)",
    "probability": "percent 0..100 overriding the stage's, or 'stage' to follow the stage again",
    "owner": "login of the owner (default on add: you); 'none' for nobody",
    "expected_close": "date, e.g. 2026-12-01, 1.12.2026, +30d",
    "description": "free text",
}
STATE_HELP = "activity state: overdue, today, planned or none (several with commas); open ones only"


def register(sub) -> None:
    group = sub.add_parser("opps", help="opportunities: list, show, add, edit, move, won, lost, merge",
                           description="Opportunities (deals) in the pipelines.")
    verbs = group.add_subparsers(dest="verb", metavar="VERB")

    listing = add_command(verbs, "list", "crm_tui.commands.opps:list_", "list opportunities, most urgent first")
    listing.add_argument("--pipeline", metavar="NAME", help="only this pipeline")
    listing.add_argument("--stage", metavar="NAME", help="only this stage")
    listing.add_argument("--state", help=STATE_HELP)
    listing.add_argument("--owner", metavar="LOGIN", help="owner login, @me, or none")
    listing.add_argument("--status", default="open", help="open (default), won, lost or all")
    listing.add_argument("--contact", type=int, metavar="ID", help="only this contact's")
    listing.add_argument("--search", metavar="TEXT", help="words in the title, contact name or company")
    listing.add_argument("--rotting", action="store_true", help="only those in their stage longer than its duration")
    listing.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    listing.add_argument("--offset", type=int, default=0)

    show = add_command(verbs, "show", "crm_tui.commands.opps:show", "show one opportunity")
    show.add_argument("id", type=int)

    add = add_command(verbs, "add", "crm_tui.commands.opps:add", "add an opportunity")
    field_options(add, OPP_FIELDS, FIELD_HELP)

    edit = add_command(verbs, "edit", "crm_tui.commands.opps:edit", "change fields of an opportunity")
    edit.add_argument("id", type=int)
    field_options(edit, OPP_FIELDS, FIELD_HELP)
    edit.add_argument("--if-version", type=int, metavar="N",
                      help="refuse if the opportunity changed since version N")

    move = add_command(
        verbs, "move", "crm_tui.commands.opps:move",
        "move an open opportunity to another stage of its pipeline",
        epilog="The probability follows the new stage unless overridden; the stage date is reset. "
               "Moving into the won stage wins it; into the lost stage is refused (use `lost`).",
    )
    move.add_argument("id", type=int)
    where = move.add_mutually_exclusive_group(required=True)
    where.add_argument("--next", action="store_true", help="to the next stage")
    where.add_argument("--prev", "--previous", action="store_true", dest="prev", help="to the previous stage")
    where.add_argument("--stage", metavar="NAME", help="to this stage")

    won = add_command(verbs, "won", "crm_tui.commands.opps:won",
                      "mark won: probability 100, into the pipeline's won stage if it has one")
    won.add_argument("id", type=int)

    lost = add_command(verbs, "lost", "crm_tui.commands.opps:lost",
                       "mark lost with a reason: probability 0, into the pipeline's lost stage if any")
    lost.add_argument("id", type=int)
    lost.add_argument("--reason", required=True, metavar="REASON",
                      help="one of the configured lost reasons, e.g. 'Preis zu hoch'")
    lost.add_argument("--note", metavar="TEXT", default="", help="optional note")

    reopen = add_command(verbs, "reopen", "crm_tui.commands.opps:reopen",
                         "reopen a won or lost opportunity (clears the lost reason)")
    reopen.add_argument("id", type=int)
    reopen.add_argument("--stage", metavar="NAME",
                        help="reopen into this stage (default: the stage it was won/lost from)")

    merge = add_command(
        verbs, "merge", "crm_tui.commands.opps:merge",
        "merge opportunities into one survivor",
        epilog="The others' activities, history and attachments move to SURVIVOR and the others are "
               "removed. Merging opportunities of different contacts is allowed, with a warning.",
    )
    merge.add_argument("survivor", type=int, metavar="SURVIVOR")
    merge.add_argument("others", type=int, nargs="+", metavar="OTHER")


# -- handlers --------------------------------------------------------------------------------


def _filter(args: argparse.Namespace):
    from crm_tui.services.opportunities import OpportunityFilter

    return OpportunityFilter(
        pipeline=args.pipeline, stage=args.stage, state=args.state, owner=args.owner,
        status=args.status, contact_id=args.contact, search=args.search, rotting=args.rotting,
    )


def list_(args: argparse.Namespace) -> int:
    from crm_tui.commands.board import print_compact_table
    from crm_tui.commands.common import UsageError, open_context, print_json
    from crm_tui.services.opportunities import count_opportunities, list_opportunities
    from crm_tui.services.validation import money_text

    if args.limit < 0 or args.offset < 0:
        raise UsageError("opps list: --limit and --offset must not be negative")
    with open_context(args) as ctx, ctx.db.read() as session:
        filt = _filter(args)
        rows = list_opportunities(session, ctx.actor, filt, offset=args.offset, limit=args.limit)
        if ctx.json:
            print_json(rows)
            return 0
        total = count_opportunities(session, ctx.actor, filt)
    several_pipelines = len({r.pipeline for r in rows}) > 1
    several_currencies = len({r.currency for r in rows}) > 1
    show_status = args.status != "open"
    columns = ["id", "title", "contact", *(["pipeline"] if several_pipelines else []), "stage",
               "revenue", *(["cur"] if several_currencies else []), "prob", "owner",
               *(["status"] if show_status else []), "state", "next due"]
    table = []
    for r in rows:
        status = f"lost: {r.lost_reason}" if r.status == "lost" else r.status
        table.append([
            r.id, r.title, r.contact, *([r.pipeline] if several_pipelines else []),
            r.stage + ("*" if r.rotting else ""), money_text(r.expected_revenue),
            *([r.currency] if several_currencies else []), f"{r.probability}%", r.owner or "",
            *([status] if show_status else []), r.state, r.next_activity_due or "",
        ])
    revenue_at = columns.index("revenue")
    title = None if several_currencies or not rows else f"amounts in {rows[0].currency}"
    print_compact_table(columns, table, title=title, wrap=range(1, revenue_at),
                        right=(0, revenue_at, columns.index("prob")))
    if any(r.rotting for r in rows):
        print("* rotting: in the stage longer than its duration")
    print(f"{len(rows)} of {total} opportunities")
    return 0


def _print_detail(detail) -> None:
    from crm_tui.commands.common import print_fields
    from crm_tui.services.validation import money_text

    pairs = [
        ("id", detail.id), ("title", detail.title),
        ("contact", f"{detail.contact} (#{detail.contact_id})" + (f", {detail.company}" if detail.company else "")),
        ("pipeline", detail.pipeline),
        ("stage", f"{detail.stage} since {detail.stage_entered_at:%Y-%m-%d %H:%M} UTC"
                  + (" (rotting)" if detail.rotting else "")),
        ("expected_revenue", f"{money_text(detail.expected_revenue)} {detail.currency}"),
        ("probability", f"{detail.probability}%" + (" (overridden)" if detail.probability_overridden else "")),
        ("owner", detail.owner or "nobody"), ("expected_close", detail.expected_close),
        ("status", detail.status), ("lost_reason", detail.lost_reason), ("lost_note", detail.lost_note),
        ("state", detail.state), ("next_activity_due", detail.next_activity_due),
        ("description", detail.description), ("version", detail.version),
    ]
    print_fields([(k, v) for k, v in pairs if v not in (None, "")])


def _show_result(ctx, detail, message: str) -> None:
    from crm_tui.commands.common import print_json

    if ctx.json:
        print_json(detail)
    else:
        print(message)


def show(args: argparse.Namespace) -> int:
    from crm_tui.commands.common import open_context, print_json
    from crm_tui.services.opportunities import get_opportunity

    with open_context(args) as ctx, ctx.db.read() as session:
        detail = get_opportunity(session, ctx.actor, args.id)
    if ctx.json:
        print_json(detail)
    else:
        _print_detail(detail)
    return 0


def add(args: argparse.Namespace) -> int:
    from crm_tui.commands.common import open_context
    from crm_tui.services.opportunities import create_opportunity, get_opportunity

    values = given_fields(args, OPP_FIELDS)
    with open_context(args) as ctx:
        def work(session):
            opportunity = create_opportunity(session, ctx.actor, values, settings=ctx.settings)
            return get_opportunity(session, ctx.actor, opportunity.id)
        detail = ctx.workspace.write(work)
    _show_result(ctx, detail, f"added opportunity {detail.id}: {detail.title} ({detail.pipeline} / {detail.stage})")
    return 0


def edit(args: argparse.Namespace) -> int:
    from crm_tui.commands.common import UsageError, open_context
    from crm_tui.services.opportunities import get_opportunity, update_opportunity

    values = given_fields(args, OPP_FIELDS)
    if not values:
        raise UsageError("opps edit: give at least one field to change, e.g. --expected-revenue 5000")
    with open_context(args) as ctx:
        def work(session):
            update_opportunity(session, ctx.actor, args.id, values, expected_version=args.if_version,
                               settings=ctx.settings)
            return get_opportunity(session, ctx.actor, args.id)
        detail = ctx.workspace.write(work)
    _show_result(ctx, detail, f"saved opportunity {detail.id}: {detail.title} (version {detail.version})")
    return 0


def _act(args: argparse.Namespace, action, message) -> int:
    """Run one write `action(session, actor)` on opportunity `args.id`, then show it."""
    from crm_tui.commands.common import open_context
    from crm_tui.services.opportunities import get_opportunity

    with open_context(args) as ctx:
        def work(session):
            action(session, ctx.actor)
            return get_opportunity(session, ctx.actor, args.id)
        detail = ctx.workspace.write(work)
    _show_result(ctx, detail, message(detail))
    return 0


def move(args: argparse.Namespace) -> int:
    from crm_tui.services.opportunities import move_opportunity

    step = 1 if args.next else -1 if args.prev else 0
    return _act(
        args,
        lambda session, actor: move_opportunity(session, actor, args.id, stage=args.stage, step=step),
        lambda d: f"opportunity {d.id} is in {d.stage} now ({d.probability}%"
                  + (", won)" if d.status == "won" else ")"),
    )


def won(args: argparse.Namespace) -> int:
    from crm_tui.services.opportunities import mark_won

    return _act(args, lambda session, actor: mark_won(session, actor, args.id),
                lambda d: f"opportunity {d.id} won ({d.stage})")


def lost(args: argparse.Namespace) -> int:
    from crm_tui.services.opportunities import mark_lost

    return _act(args, lambda session, actor: mark_lost(session, actor, args.id, args.reason, args.note),
                lambda d: f"opportunity {d.id} lost: {d.lost_reason}")


def reopen(args: argparse.Namespace) -> int:
    from crm_tui.services.opportunities import reopen_opportunity

    return _act(args, lambda session, actor: reopen_opportunity(session, actor, args.id, args.stage),
                lambda d: f"opportunity {d.id} is open again in {d.stage} ({d.probability}%)")


def merge(args: argparse.Namespace) -> int:
    from crm_tui.commands.common import open_context, print_json
    from crm_tui.services.opportunities import merge_opportunities

    with open_context(args) as ctx:
        result = ctx.workspace.write(
            lambda session: merge_opportunities(session, ctx.actor, args.survivor, args.others)
        )
    if result.contacts_differ:
        print("crm: warning: the merged opportunities belonged to different contacts", file=sys.stderr)
    if ctx.json:
        print_json(result)
    else:
        merged = ", ".join(str(i) for i in result.merged_ids)
        print(f"merged {merged} into opportunity {result.survivor_id}: moved {result.activities} "
              f"activities, {result.history} history entries, {result.attachments} attachments")
    return 0
