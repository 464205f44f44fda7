"""`crm history --contact ID | --opp ID`: the audit trail of one record, newest first."""

from __future__ import annotations

import argparse

from crm_tui.commands.common import add_command


def register(sub) -> None:
    parser = add_command(sub, "history", "crm_tui.commands.history:show", "the audit trail of a contact or opportunity")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--contact", type=int, metavar="ID", help="a contact (its opportunities and activities included)")
    which.add_argument("--opp", type=int, metavar="ID", help="an opportunity")
    parser.add_argument("--limit", type=int, default=50, help="at most this many rows (default 50, newest first)")
    parser.add_argument("--offset", type=int, default=0, help="skip this many of the newest rows")


def show(args: argparse.Namespace) -> int:
    from crm_tui.commands.common import open_context, print_json, print_table
    from crm_tui.services.audit import count_history, list_history
    from crm_tui.services.errors import NotFound

    where = {"contact_id": args.contact} if args.contact is not None else {"opportunity_id": args.opp}
    with open_context(args) as ctx, ctx.db.read() as session:
        rows = list_history(session, ctx.actor, offset=args.offset, limit=args.limit, **where)
        total = count_history(session, **where)
        if total == 0 and not _exists(session, where):
            raise NotFound("contact" if args.contact is not None else "opportunity",
                           args.contact if args.contact is not None else args.opp)
    if ctx.json:
        print_json(rows)
        return 0
    zone = ctx.actor.timezone
    from crm_tui import clock

    tz = clock.zone(zone)
    print_table(
        ["when", "who", "action", "what"],
        [(r.at.astimezone(tz).strftime("%Y-%m-%d %H:%M"), r.user, r.action, _what(r)) for r in rows],
    )
    print(f"{len(rows)} of {total} entries")
    return 0


def _what(row) -> str:
    if row.action == "change" and row.field:
        return f"{row.field}: {row.old_value or '—'} → {row.new_value or '—'}"
    parts = [row.subject]
    if row.field and row.action != "change":
        parts.append(f"{row.field}:")
    if row.old_value and row.action in ("status", "assign", "unlock", "merge"):
        parts.append(f"{row.old_value} →")
    if row.new_value:
        parts.append(row.new_value)
    if row.note:
        parts.append(f"({row.note})")
    return " ".join(p for p in parts if p)


def _exists(session, where: dict[str, int]) -> bool:
    from crm_tui.models import Contact, Opportunity

    if "contact_id" in where:
        return session.get(Contact, where["contact_id"]) is not None
    return session.get(Opportunity, where["opportunity_id"]) is not None
