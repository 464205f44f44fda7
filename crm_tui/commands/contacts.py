"""`crm contacts ...`: list, show, add, edit."""

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
    group = sub.add_parser("contacts", help="list, show, add and edit contacts")
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

    edit = add_command(verbs, "edit", "crm_tui.commands.contacts:edit", "change fields of a contact")
    edit.add_argument("id", type=int)
    field_options(edit, [f for f in CONTACT_FIELDS if f != "status"], FIELD_HELP)
    edit.add_argument("--if-version", type=int, metavar="N",
                      help="refuse if the contact changed since version N")


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
    from crm_tui.commands.common import open_context, print_json
    from crm_tui.services.contacts import create_contact, get_contact

    values = given_fields(args, CONTACT_FIELDS)
    with open_context(args) as ctx:
        def work(session):
            contact = create_contact(session, ctx.actor, values, settings=ctx.settings,
                                     auto_plan=False if args.no_auto_plan else None)
            return get_contact(session, ctx.actor, contact.id)
        detail = ctx.workspace.write(work)
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
