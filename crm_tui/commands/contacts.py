"""`crm contacts ...`: list, show, add, edit; convert, close, review, archive, restore, assign,
delete, merge, duplicates (the lifecycle and bulk verbs); mail."""

from __future__ import annotations

import argparse

from crm_tui.commands.common import add_command, field_options, given_fields

CONTACT_FIELDS = (
    "kind", "name", "first_name", "company", "email", "phone", "mobile", "street", "postal_code",
    "city", "region", "country", "source", "description", "expected_revenue", "currency",
    "contacted_on", "status", "customer_number", "assigned_to",
)
FIELD_HELP = {
    "kind": "person or company",
    "name": "last name of a person, or the company name",
    "status": "inbox, prospect, customer, archived, closed",
    "assigned_to": "a login, team:NAME, or everybody",
    "expected_revenue": "amount, e.g. 1000 or 1.000,50",
    "contacted_on": "date, e.g. 2026-12-01, 1.12.2026, today",
}


def register(sub) -> None:
    group = sub.add_parser("contacts", help="list, show, add, edit, convert, close, archive, merge contacts, ...")
    verbs = group.add_subparsers(dest="verb", metavar="VERB")

    listing = add_command(verbs, "list", "crm_tui.commands.contacts:list_", "list contacts")
    listing.add_argument("--where", metavar="QUERY", default="", help='filter, e.g. "status:prospect city:Olpe müller"')
    listing.add_argument("--search", metavar="TEXT", help="full-text search")
    listing.add_argument("--status", help="status (or all)")
    listing.add_argument("--assigned-to", metavar="LOGIN", help="assignee login or @me")
    listing.add_argument("--city")
    listing.add_argument("--group", metavar="NAME")
    listing.add_argument("--state", help="overdue, today, planned, none")
    listing.add_argument("--sort", default="name", help="name, company, city, status, created, number, due")
    listing.add_argument("--desc", action="store_true", help="sort descending")
    listing.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    listing.add_argument("--offset", type=int, default=0)

    show = add_command(verbs, "show", "crm_tui.commands.contacts:show", "show one contact")
    show.add_argument("id", type=int)

    add = add_command(verbs, "add", "crm_tui.commands.contacts:add", "add a contact")
    field_options(add, CONTACT_FIELDS, FIELD_HELP)
    add.add_argument("--no-auto-plan", action="store_true", help="do not plan the first call/e-mail")
    add.add_argument("--next-number", nargs="?", const="", metavar="SEQUENCE",
                     help="give it the next customer number of a sequence (default: the first one)")

    edit = add_command(verbs, "edit", "crm_tui.commands.contacts:edit", "change fields of a contact")
    edit.add_argument("id", type=int)
    field_options(edit, [f for f in CONTACT_FIELDS if f != "status"], FIELD_HELP)
    edit.add_argument("--if-version", type=int, metavar="N",
                      help="refuse if the contact changed since version N")
    register_mail(verbs)
    register_lifecycle(verbs)


def build_filter(args: argparse.Namespace, today):
    """--where plus the shorthand options, as one filter."""
    from crm_tui.services.query import parse

    parts = [args.where or ""]
    for option, field in (("status", "status"), ("assigned_to", "assigned"), ("city", "city"),
                          ("group", "group"), ("state", "state")):
        value = getattr(args, option, None)
        if value:
            parts.append(f'{field}:"{value}"')
    if args.search:
        parts.append(args.search)
    return parse(" ".join(p for p in parts if p), today)


def list_(args: argparse.Namespace) -> int:
    from crm_tui.commands.common import open_context, print_json, print_table
    from crm_tui.services.contacts import count_contacts, list_contacts

    with open_context(args) as ctx, ctx.db.read() as session:
        filt = build_filter(args, ctx.actor.today())
        rows = list_contacts(session, ctx.actor, filt, sort=args.sort, descending=args.desc,
                             offset=args.offset, limit=args.limit)
        if ctx.json:
            print_json(rows)
            return 0
        total = count_contacts(session, ctx.actor, filt)
    print_table(
        ["id", "name", "company", "status", "city", "phone", "email", "assigned", "state", "number"],
        [(r.id, r.display_name, r.company, r.status, r.city, r.phone, r.email, r.assigned_to or "everybody",
          r.state, r.customer_number) for r in rows],
    )
    print(f"{len(rows)} of {total} contacts")
    return 0


def show(args: argparse.Namespace) -> int:
    from crm_tui.commands.common import open_context, print_fields, print_json
    from crm_tui.services.contacts import get_contact
    from crm_tui.services.dto import as_dict

    with open_context(args) as ctx, ctx.db.read() as session:
        detail = get_contact(session, ctx.actor, args.id)
    if ctx.json:
        print_json(detail)
    else:
        print_fields([(k, v) for k, v in as_dict(detail).items() if v not in (None, "")])
    return 0


def add(args: argparse.Namespace) -> int:
    from crm_tui.commands.common import UsageError, open_context, print_json
    from crm_tui.services.contacts import create_contact, get_contact

    values = given_fields(args, CONTACT_FIELDS)
    with open_context(args) as ctx:
        def work(session):
            from crm_tui.services.duplicates import find_duplicates

            if args.next_number is not None:
                if values.get("customer_number"):
                    raise UsageError("contacts add: give --customer-number or --next-number, not both")
                from crm_tui.services.sequences import next_customer_number

                values["customer_number"] = next_customer_number(session, args.next_number or None)
            contact = create_contact(session, ctx.actor, values, settings=ctx.settings,
                                     auto_plan=False if args.no_auto_plan else None)
            return get_contact(session, ctx.actor, contact.id), find_duplicates(
                session, values, exclude_id=contact.id, limit=5)
        detail, duplicates = ctx.workspace.write(work)
    warn_duplicates(duplicates)
    if ctx.json:
        print_json(detail)
    else:
        print(f"added contact {detail.id}: {detail.display_name}")
    return 0


def edit(args: argparse.Namespace) -> int:
    from crm_tui.commands.common import UsageError, open_context, print_json
    from crm_tui.services.contacts import get_contact, update_contact

    values = given_fields(args, [f for f in CONTACT_FIELDS if f != "status"])
    if not values:
        raise UsageError("contacts edit: give at least one field to change, e.g. --city Olpe")
    with open_context(args) as ctx:
        def work(session):
            update_contact(session, ctx.actor, args.id, values, expected_version=args.if_version,
                           settings=ctx.settings)
            return get_contact(session, ctx.actor, args.id)
        detail = ctx.workspace.write(work)
    if ctx.json:
        print_json(detail)
    else:
        print(f"saved contact {detail.id}: {detail.display_name} (version {detail.version})")
    return 0


# -- mass e-mail (issue 6) -------------------------------------------------------------------


def register_mail(verbs) -> None:
    mail = add_command(verbs, "mail", "crm_tui.commands.contacts:mail",
                       "mass e-mail: one templated mail per matching contact, sent by `crm remind`")
    mail.add_argument("--where", metavar="QUERY", default="", help='which contacts, e.g. "status:customer city:Olpe"')
    mail.add_argument("--template", metavar="FILE", required=True,
                      help="the text, with {name}-style fields; a first line 'Subject: ...' gives the subject")
    mail.add_argument("--subject", metavar="S", help="the subject (may hold fields too)")
    mail.add_argument("--yes", action="store_true", help="queue without asking (after the preview)")


def mail(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from crm_tui.commands.common import open_context, print_json
    from crm_tui.services.errors import ValidationError
    from crm_tui.services.massmail import parse_template, queue_mass_mail, render_preview
    from crm_tui.services.query import parse

    try:
        text = Path(args.template).expanduser().read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ValidationError("template", f"cannot read {args.template}: {getattr(error, 'strerror', None) or error}") from None
    template = parse_template(text, args.subject)
    with open_context(args) as ctx:
        filt = parse(args.where or "", ctx.actor.today())
        with ctx.db.read() as session:
            preview = render_preview(session, ctx.actor, filt, None, template)
        if not ctx.json:
            print(f"{preview.count} mails to queue"
                  + (f" ({preview.without_email} contacts without an e-mail address skipped)" if preview.without_email else "")
                  + (f" ({preview.already_queued} got this mail before, skipped)" if preview.already_queued else ""))
            if preview.sample:
                print(f"\nTo: {preview.sample.to}\nSubject: {preview.sample.subject}\n\n{preview.sample.body}", end="")
                print("" if preview.sample.body.endswith("\n") else "\n", end="")
        confirmed = args.yes
        if not confirmed and preview.count and not ctx.json and sys.stdin.isatty():
            answer = input(f"Queue {preview.count} mails? [y/N] ").strip().lower()
            confirmed = answer in ("y", "yes", "j", "ja", "t", "tak")
        queued = 0
        if confirmed and preview.count:
            queued = ctx.workspace.write(
                lambda session: queue_mass_mail(session, ctx.actor, filt, None, template, settings=ctx.settings)
            )
    if ctx.json:
        print_json({"count": preview.count, "without_email": preview.without_email,
                    "already_queued": preview.already_queued, "queued": queued,
                    "sample": preview.sample, "recipients": preview.recipients})
    elif confirmed:
        print(f"queued {queued} mails; `crm remind` sends them (see `crm outbox list --kind mass`)")
    elif preview.count:
        print("nothing queued: run again with --yes to queue these mails", file=sys.stderr)
    return 0


# -- lifecycle, bulk and duplicates (issue 3) -------------------------------------------------


def _selection_options(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("ids", nargs="*", type=int, metavar="ID", help=f"contacts to {what}")
    parser.add_argument("--where", metavar="QUERY",
                        help=f'{what} every contact matching this filter instead, e.g. "status:inbox city:Olpe"')


def register_lifecycle(verbs) -> None:
    convert = add_command(verbs, "convert", "crm_tui.commands.contacts:convert",
                          "turn a prospect into a customer")
    convert.add_argument("id", type=int)
    convert.add_argument("--transfer-notes", action="store_true",
                         help="copy the prospect's description into the customer's history")
    numbers = convert.add_mutually_exclusive_group()
    numbers.add_argument("--customer-number", metavar="NUMBER", help="give it this customer number")
    numbers.add_argument("--next-number", nargs="?", const="", metavar="SEQUENCE",
                         help="give it the next number of a sequence (default: the first one)")

    close = add_command(verbs, "close", "crm_tui.commands.contacts:close",
                        "end the service of a contact, with a lost reason and a note")
    close.add_argument("id", type=int)
    close.add_argument("--reason", required=True, help="a lost reason (see `crm report lost-reasons`)")
    close.add_argument("--note", required=True, help="why, in a few words")

    review = add_command(verbs, "review", "crm_tui.commands.contacts:review",
                         "move imported (inbox) contacts to prospect, or customer")
    _selection_options(review, "review")
    review.add_argument("--as", dest="as_status", default="prospect", choices=("prospect", "customer"))

    for verb, what in (("archive", "archive (data and history are kept)"),
                       ("restore", "bring back archived or closed contacts to their status before")):
        parser = add_command(verbs, verb, f"crm_tui.commands.contacts:{verb}", what)
        _selection_options(parser, verb)

    assign = add_command(verbs, "assign", "crm_tui.commands.contacts:assign",
                         "assign contacts to a user, a team or everybody")
    _selection_options(assign, "assign")
    assign.add_argument("--to", required=True, metavar="LOGIN|team:NAME|everybody")

    delete = add_command(verbs, "delete", "crm_tui.commands.contacts:delete",
                         "delete contacts for good, with their opportunities and activities")
    _selection_options(delete, "delete")
    delete.add_argument("--yes", action="store_true", help="do not ask (needed without a terminal)")

    merge = add_command(verbs, "merge", "crm_tui.commands.contacts:merge",
                        "merge duplicates into one contact that survives")
    merge.add_argument("survivor", type=int, help="the contact that stays")
    merge.add_argument("others", nargs="+", type=int, metavar="OTHER", help="contacts merged into it")
    merge.add_argument("--no-fill", action="store_true",
                       help="do not fill the survivor's empty fields from the others")

    duplicates = add_command(
        verbs, "duplicates", "crm_tui.commands.contacts:duplicates",
        "likely duplicates: clusters over the database, or matches for the given fields",
    )
    duplicates.add_argument("--by", default="email,phone,name", metavar="KEYS",
                            help="cluster by these keys (email, phone, name; default all)")
    duplicates.add_argument("--limit", type=int, default=50, help="at most this many clusters (default 50)")
    field_options(duplicates, ("kind", "name", "first_name", "company", "email", "phone", "mobile"),
                  {"name": "check these fields instead: contacts matching them are listed"})


def warn_duplicates(matches) -> None:
    """Seed 001: a new contact that looks like existing ones is reported (it is saved anyway)."""
    import sys

    for match in matches:
        print(f"crm: possible duplicate: contact {match.id} {match.display_name} ({match.status}; "
              f"{match.why})" + (f", locked by {match.locked_by}" if match.locked_by else ""),
              file=sys.stderr)


def _selection(args: argparse.Namespace, today):
    from crm_tui.commands.common import UsageError
    from crm_tui.services.bulk import Selection
    from crm_tui.services.query import parse

    if args.ids and args.where is not None:
        raise UsageError(f"contacts {args.verb}: give contact ids or --where, not both")
    if args.ids:
        return Selection.of(args.ids)
    if args.where is None or not args.where.strip():
        raise UsageError(f"contacts {args.verb}: give contact ids or --where QUERY")
    return Selection.matching(parse(args.where, today))


def _print_result(ctx, result, done: str, skipped: str = "") -> int:
    from crm_tui.commands.common import print_json

    if ctx.json:
        print_json(result)
        return 0
    noun = "contact" if result.count == 1 else "contacts"
    text = f"{done} {result.count} {noun}"
    if result.skipped:
        text += f" ({result.skipped} {skipped or 'needed no change'})"
    if getattr(result, "cancelled_activities", 0):
        text += f"; {result.cancelled_activities} open activities cancelled"
    print(text)
    return 0


def _bulk(args: argparse.Namespace, run, done: str, skipped: str = "") -> int:
    from crm_tui.commands.common import open_context

    with open_context(args) as ctx:
        selection = _selection(args, ctx.actor.today())
        result = ctx.workspace.write(lambda session: run(session, ctx, selection))
    return _print_result(ctx, result, done, skipped)


def _show_detail(ctx, detail, message: str) -> int:
    from crm_tui.commands.common import print_json

    if ctx.json:
        print_json(detail)
    else:
        print(message)
    return 0


def convert(args: argparse.Namespace) -> int:
    from crm_tui.commands.common import open_context
    from crm_tui.services.lifecycle import convert_contact

    with open_context(args) as ctx:
        detail = ctx.workspace.write(lambda session: convert_contact(
            session, ctx.actor, args.id, transfer_notes=args.transfer_notes,
            customer_number=args.customer_number,
            number_sequence=args.next_number,  # "" is the default sequence, None none
            settings=ctx.settings,
        ))
    number = f", customer number {detail.customer_number}" if detail.customer_number else ""
    return _show_detail(ctx, detail, f"contact {detail.id} {detail.display_name} is a customer{number}")


def close(args: argparse.Namespace) -> int:
    from crm_tui.commands.common import open_context
    from crm_tui.services.lifecycle import close_contact

    with open_context(args) as ctx:
        detail = ctx.workspace.write(
            lambda session: close_contact(session, ctx.actor, args.id, args.reason, args.note)
        )
    return _show_detail(ctx, detail, f"contact {detail.id} {detail.display_name} is closed ({detail.lost_reason})")


def review(args: argparse.Namespace) -> int:
    from crm_tui.services import bulk

    def run(session, ctx, selection):
        return bulk.change_status(session, ctx.actor, selection, args.as_status, settings=ctx.settings)

    return _bulk(args, run, f"reviewed (now {args.as_status})", f"were {args.as_status} already")


def archive(args: argparse.Namespace) -> int:
    from crm_tui.services import bulk

    return _bulk(args, lambda s, ctx, sel: bulk.archive(s, ctx.actor, sel), "archived", "were archived already")


def restore(args: argparse.Namespace) -> int:
    from crm_tui.services import bulk

    return _bulk(args, lambda s, ctx, sel: bulk.restore(s, ctx.actor, sel), "restored", "were not archived or closed")


def assign(args: argparse.Namespace) -> int:
    from crm_tui.services import bulk

    return _bulk(args, lambda s, ctx, sel: bulk.assign(s, ctx.actor, sel, args.to),
                 f"assigned to {args.to}", "were assigned so already")


def delete(args: argparse.Namespace) -> int:
    import sys

    from crm_tui.commands.common import open_context
    from crm_tui.services import bulk
    from crm_tui.services.errors import ValidationError

    with open_context(args) as ctx:
        selection = _selection(args, ctx.actor.today())
        with ctx.db.read() as session:
            ids = bulk.resolve(session, ctx.actor, selection)
        if not ids:
            raise ValidationError("delete", "no contacts match: nothing to delete")
        noun = "contact" if len(ids) == 1 else "contacts"
        if not args.yes:
            if not sys.stdin.isatty():
                raise ValidationError(
                    "delete", f"{len(ids)} {noun} would be deleted for good; there is no terminal to "
                    "ask: confirm with --yes")
            answer = input(f"Delete {len(ids)} {noun} for good, with their opportunities, activities "
                           "and attachments? [y/N] ").strip().lower()
            if answer not in ("y", "yes", "j", "ja", "t", "tak"):
                print("nothing deleted", file=sys.stderr)
                return 1
        result = ctx.workspace.write(lambda session: bulk.delete(session, ctx.actor, bulk.Selection.of(ids)))
    return _print_result(ctx, result, "deleted")


def merge(args: argparse.Namespace) -> int:
    from crm_tui.commands.common import open_context, print_json
    from crm_tui.services.duplicates import merge_contacts

    with open_context(args) as ctx:
        result = ctx.workspace.write(lambda session: merge_contacts(
            session, ctx.actor, args.survivor, args.others, fill_empty=not args.no_fill))
    if ctx.json:
        print_json(result)
        return 0
    words = {"opportunities": "opportunities", "activities": "activities", "history": "history rows",
             "attachments": "attachments", "groups": "group memberships"}
    moved = ", ".join(f"{n} {words.get(k, k)}" for k, n in result.moved.items() if n) or "nothing else"
    filled = f"; filled in {', '.join(result.filled)}" if result.filled else ""
    print(f"merged {', '.join(map(str, result.merged_ids))} into contact {result.survivor_id} "
          f"(moved {moved}{filled})")
    return 0


def duplicates(args: argparse.Namespace) -> int:
    from crm_tui.commands.common import UsageError, open_context, print_json, print_table
    from crm_tui.services.duplicates import duplicate_clusters, find_duplicates

    values = given_fields(args, ("kind", "name", "first_name", "company", "email", "phone", "mobile"))
    if args.limit < 0:
        raise UsageError("contacts duplicates: --limit must not be negative")
    with open_context(args) as ctx, ctx.db.read() as session:
        if values:
            matches = find_duplicates(session, values, limit=args.limit)
            if ctx.json:
                print_json(matches)
                return 0
            print_table(["id", "name", "company", "status", "city", "email", "phone", "why"],
                        [(m.id, m.display_name, m.company, m.status, m.city, m.email, m.phone, m.why)
                         for m in matches])
            print(f"{len(matches)} possible duplicates")
            return 0
        reasons = [r.strip() for r in args.by.split(",") if r.strip()]
        clusters = duplicate_clusters(session, reasons=reasons, limit=args.limit)
    if ctx.json:
        print_json(clusters)
        return 0
    for cluster in clusters:
        print(f"{cluster.size} contacts share {', '.join(cluster.reasons)}: {cluster.key}")
        for match in cluster.contacts:
            print(f"  {match.id:>8}  {match.display_name}  ({match.status}"
                  + (f", {match.city}" if match.city else "") + ")")
    print(f"{len(clusters)} clusters; merge one with: crm contacts merge SURVIVOR OTHER...")
    return 0
