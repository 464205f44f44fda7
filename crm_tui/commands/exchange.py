"""`crm import contacts FILE.csv|FILE.vcf`, `crm export contacts` and `crm export activities`
(the latter in `crm_tui.commands.ics`).

Import exit status: 0 when the file was processed (valid rows imported, invalid ones listed);
1 when nothing was written because of bad input: the file cannot be used, every row is invalid,
or `--strict` found an invalid row. `--dry-run` only reports (exit 0).
"""

from __future__ import annotations

import argparse

from crm_tui.commands.common import add_command

MAX_LISTED = 200


def register(sub) -> None:
    importing = sub.add_parser("import", help="import records from files")
    kinds = importing.add_subparsers(dest="verb", metavar="WHAT")
    contacts = add_command(kinds, "contacts", "crm_tui.commands.exchange:import_contacts",
                           "import contacts from a CSV or vCard file into the inbox")
    contacts.add_argument("file", help="a CSV file with a header row (English or German column names), "
                                       "or a .vcf file of one or many vCards")
    contacts.add_argument("--dry-run", action="store_true", help="validate and report, import nothing")
    contacts.add_argument("--strict", action="store_true", help="import nothing if any row is invalid")

    exporting = sub.add_parser("export", help="export records to files")
    kinds = exporting.add_subparsers(dest="verb", metavar="WHAT")
    contacts = add_command(kinds, "contacts", "crm_tui.commands.exchange:export_contacts",
                           "export contacts as CSV, JSON or vCard")
    contacts.add_argument("--format", choices=("csv", "json", "vcf"), help="default csv (json with --json)")
    contacts.add_argument("--where", metavar="QUERY", default="",
                          help='which contacts, e.g. "status:customer city:Olpe" (default: the active ones)')
    contacts.add_argument("-o", "--output", metavar="FILE", help="write here instead of to standard output")
    from crm_tui.commands.ics import register_export

    register_export(kinds)


def import_contacts(args: argparse.Namespace) -> int:
    import sys

    from crm_tui.commands.common import open_context, print_json
    from crm_tui.services.importer import import_contacts as run_import

    if str(args.file).lower().endswith((".vcf", ".vcard")):
        from crm_tui.services.vcard import import_vcards as run_import

    with open_context(args) as ctx:
        def progress(done: int, total: int) -> None:
            if not ctx.json and sys.stderr.isatty() and total >= 5000:
                print(f"\r  {done}/{total}", end="", file=sys.stderr, flush=True)

        report = ctx.workspace.write(lambda session: run_import(
            session, ctx.actor, args.file, dry_run=args.dry_run, strict=args.strict,
            settings=ctx.settings, progress=progress,
        ))
    refused = report.problems and not report.imported and not report.dry_run
    if ctx.json:
        print_json(report)
    else:
        _print_report(report)
    if refused:
        why = "--strict" if report.strict and report.valid else "no row is valid"
        print(f"crm: import: {_rows(report.invalid, 'invalid row')}; nothing imported ({why})", file=sys.stderr)
        return 1
    return 0


def _rows(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _print_report(report) -> None:
    mapped = ", ".join(f"{header} → {field}" for header, field in report.columns.items())
    print(f"columns: {mapped}")
    if report.ignored_columns:
        print(f"ignored columns: {', '.join(report.ignored_columns)}")
    for problem in report.problems[:MAX_LISTED]:
        print(f"  {problem.text()}")
    if report.invalid > MAX_LISTED:
        print(f"  ... and {report.invalid - MAX_LISTED} more invalid rows (--json lists them all)")
    if report.dry_run:
        print(f"dry run: {report.valid} of {report.rows} rows are valid and would be imported; "
              f"{report.invalid} invalid")
    elif report.imported:
        left = f"; {_rows(report.invalid, 'invalid row')} left out" if report.invalid else ""
        print(f"imported {report.imported} of {report.rows} rows into the inbox{left}")


def export_contacts(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from crm_tui.commands.common import UsageError, open_context, print_json, wants_json
    from crm_tui.services.bulk import Selection
    from crm_tui.services.bulk import export_contacts as run_export
    from crm_tui.services.query import parse

    fmt = args.format or ("json" if wants_json(args) else "csv")
    if wants_json(args) and not args.output and fmt != "json":
        raise UsageError(f"export contacts: --json prints JSON; write {fmt} with -o FILE")
    with open_context(args) as ctx, ctx.db.read() as session:
        selection = Selection.matching(parse(args.where or "", ctx.actor.today()))
        if args.output:
            path = Path(args.output).expanduser()
            try:
                handle = path.open("w", encoding="utf-8", newline="")
            except OSError as error:
                from crm_tui.services.errors import ValidationError

                raise ValidationError("output", f"cannot write {path}: {error.strerror}") from None
            with handle:
                result = run_export(session, ctx.actor, selection, fmt, handle)
        else:
            result = run_export(session, ctx.actor, selection, fmt, sys.stdout)
    if args.output:
        if ctx.json:
            print_json({"count": result.count, "format": fmt, "file": str(path)})
        else:
            print(f"exported {result.count} contacts to {path} ({fmt})", file=sys.stderr)
    return 0
