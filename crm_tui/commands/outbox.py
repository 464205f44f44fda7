"""`crm outbox list|show|retry`: what was sent, what waits, what failed and why."""

from __future__ import annotations

import argparse

from crm_tui.commands.common import add_command


def register(sub) -> None:
    group = sub.add_parser("outbox", help="mails sent, pending and failed")
    verbs = group.add_subparsers(dest="verb", metavar="VERB")

    listing = add_command(verbs, "list", "crm_tui.commands.outbox:list_", "list outbox mails, newest first")
    listing.add_argument("--status", help="pending, sending, sent, failed (comma-separated)")
    listing.add_argument("--kind", help="reminder, followup or mass")
    listing.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    listing.add_argument("--offset", type=int, default=0)

    show = add_command(verbs, "show", "crm_tui.commands.outbox:show", "show one mail, with its text")
    show.add_argument("id", type=int)

    retry = add_command(verbs, "retry", "crm_tui.commands.outbox:retry",
                        "queue failed mails again (due now, with a fresh set of attempts)")
    retry.add_argument("ids", type=int, nargs="*", metavar="ID")
    retry.add_argument("--failed", action="store_true", help="every failed mail")


def list_(args: argparse.Namespace) -> int:
    from crm_tui.commands.common import open_context, print_json, print_table
    from crm_tui.services.outbox import count_by_status, list_outbox

    with open_context(args) as ctx, ctx.db.read() as session:
        rows = list_outbox(session, ctx.actor, status=args.status, kind=args.kind, limit=args.limit,
                           offset=args.offset)
        if ctx.json:
            print_json(rows)
            return 0
        counts = count_by_status(session, ctx.actor)
    print_table(
        ["id", "kind", "status", "to", "subject", "tries", "when", "error"],
        [(r.id, r.kind, r.status, ", ".join(r.to), r.subject, r.attempts,
          _when(r), r.last_error) for r in rows],
    )
    print(" · ".join(f"{n} {status}" for status, n in counts.items()))
    return 0


def _when(row) -> str:
    moment = row.sent_at if row.status == "sent" else row.next_attempt_at or row.created_at
    return moment.strftime("%Y-%m-%d %H:%M") if moment else ""


def show(args: argparse.Namespace) -> int:
    from crm_tui.commands.common import open_context, print_fields, print_json
    from crm_tui.services.dto import as_dict
    from crm_tui.services.outbox import get_outbox

    with open_context(args) as ctx, ctx.db.read() as session:
        detail = get_outbox(session, ctx.actor, args.id)
    if ctx.json:
        print_json(detail)
        return 0
    fields = as_dict(detail)
    body = fields.pop("body")
    fields["to"] = ", ".join(detail.to)
    fields["refused"] = "; ".join(f"{a}: {c} {t}" for a, (c, t) in detail.refused.items())
    print_fields([(k, v) for k, v in fields.items() if v not in (None, "")])
    print()
    print(body, end="" if body.endswith("\n") else "\n")
    return 0


def retry(args: argparse.Namespace) -> int:
    from crm_tui.commands.common import UsageError, open_context, print_json
    from crm_tui.services.outbox import retry_mails

    if not args.ids and not args.failed:
        raise UsageError("outbox retry: name the mails (IDs) or give --failed")
    with open_context(args) as ctx:
        done = ctx.workspace.write(lambda s: retry_mails(s, ctx.actor, args.ids, all_failed=args.failed))
    if ctx.json:
        print_json({"retried": done})
    else:
        print(f"queued again: {', '.join(map(str, done))}" if done else "nothing to retry")
    return 0
