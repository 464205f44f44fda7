"""Bulk edit: a selection of contacts as a TSV table to change in a text editor, a preview of
every changed field, then one transaction that saves them all or none.

1. `selection_tsv(session, actor, selection)`: one line per contact -- id, version, then the
   editable fields (`BULK_FIELDS`, exchange field names) -- under a header and a few `#` lines
   of help. Tabs, newlines and backslashes inside values are written `\\t`, `\\n`, `\\\\`.
2. The person edits it (`widgets.editor.edit_text` in the app, `edit_file` on the command line):
   changes cells, deletes lines (those contacts are left alone), never adds lines.
3. `plan_edit(session, actor, original, edited)`: compares the two texts cell by cell and
   validates every changed value with the contact form's rules; returns a `BulkEditPlan` with the
   changes (contact, field, old -> new: the preview) and the problems (line, field, message).
   A plan with problems is not applied.
4. `apply_edit(session, actor, plan)`: saves each contact with `update_contact`, its expected
   version the one the file was made from. Any conflict (somebody saved one of the contacts
   since) or refusal (permissions, required fields, a customer number in use) is collected, and
   then `BulkEditRefused` is raised: the caller's transaction rolls back, nothing is written, and
   every contact that stood in the way is named.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlmodel import Session

from crm_tui.config import Settings, get_settings
from crm_tui.models import Contact
from crm_tui.services.errors import ConflictError, PermissionDenied, ServiceError, ValidationError
from crm_tui.services.identity import Actor

BULK_FIELDS = (
    "kind", "name", "first_name", "company", "email", "phone", "mobile", "street", "postal_code",
    "city", "region", "country", "source", "expected_revenue", "currency", "contacted_on",
    "customer_number", "assigned_to", "description",
)
"""The contact fields a bulk edit changes (status has its own steps: convert, close, ...)."""
KEY_COLUMNS = ("id", "version")
HEADER = (*KEY_COLUMNS, *BULK_FIELDS)
MAX_CONTACTS = 10_000
HELP_LINES = (
    "# crm bulk edit: change the cells (columns are separated by tabs). Keep id and version.",
    "# Delete a line to leave that contact alone; lines starting with # are ignored.",
    "# In a cell, \\n is a new line, \\t a tab, \\\\ a backslash. Save and quit to see the changes.",
)


# -- the table ---------------------------------------------------------------------------------


def escape_cell(value: object) -> str:
    from crm_tui.services.exchange import text_value

    return (text_value(value).replace("\\", "\\\\").replace("\t", "\\t")
            .replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n"))


def unescape_cell(text: str) -> str:
    out = []
    chars = iter(text)
    for ch in chars:
        if ch == "\\":
            nxt = next(chars, "")
            out.append({"n": "\n", "t": "\t", "\\": "\\"}.get(nxt, "\\" + nxt))
        else:
            out.append(ch)
    return "".join(out)


def selection_tsv(session: Session, actor: Actor, selection) -> str:
    """The selected contacts (a `bulk.Selection`) as the table to edit."""
    from crm_tui.services.bulk import export_records, resolve
    from crm_tui.services.lifecycle import chunks

    ids = resolve(session, actor, selection)
    if not ids:
        raise ValidationError("selection", "bulk edit: no contacts are selected")
    if len(ids) > MAX_CONTACTS:
        raise ValidationError("selection", f"bulk edit: {len(ids):,} contacts; edit at most "
                                           f"{MAX_CONTACTS:,} at once (narrow the filter)")
    versions: dict[int, int] = {}
    t = Contact.__table__
    for chunk in chunks(ids):
        versions.update(session.execute(select(t.c.id, t.c.version).where(t.c.id.in_(chunk))).all())
    lines = [*HELP_LINES, "\t".join(HEADER)]
    from crm_tui.services.bulk import Selection

    for record in export_records(session, actor, Selection.of(ids)):
        cells = [str(record["id"]), str(versions.get(record["id"], 1))]
        cells += [escape_cell(record.get(name)) for name in BULK_FIELDS]
        lines.append("\t".join(cells))
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Row:
    line: int
    id: int
    version: int
    values: dict[str, str]


@dataclass(frozen=True)
class Problem:
    line: int
    field: str
    message: str
    contact_id: int | None = None

    def text(self) -> str:
        who = f" (contact {self.contact_id})" if self.contact_id else ""
        return f"line {self.line}{who}: {self.field}: {self.message}"


def read_tsv(text: str) -> tuple[list[Row], list[Problem]]:
    """The rows of a table (comment and blank lines skipped), and what is wrong with its shape."""
    rows: list[Row] = []
    problems: list[Problem] = []
    header_seen = False
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.startswith("#"):
            continue
        cells = raw.split("\t")
        if not header_seen:
            header_seen = True
            if tuple(c.strip() for c in cells) != HEADER:
                problems.append(Problem(number, "columns", "the header row was changed; keep it as it was"))
                return rows, problems
            continue
        if len(cells) != len(HEADER):
            problems.append(Problem(number, "columns",
                                    f"has {len(cells)} cells, expected {len(HEADER)} (tabs between them)"))
            continue
        try:
            contact_id, version = int(cells[0]), int(cells[1])
        except ValueError:
            problems.append(Problem(number, "id", "id and version must stay as they were"))
            continue
        values = {name: unescape_cell(cell) for name, cell in zip(BULK_FIELDS, cells[2:], strict=True)}
        rows.append(Row(number, contact_id, version, values))
    if not header_seen:
        problems.append(Problem(1, "columns", "the table is empty (no header row)"))
    return rows, problems


# -- the plan ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContactChange:
    line: int
    contact_id: int
    name: str
    version: int
    """The version the table was made from: saving expects it still."""
    fields: dict[str, tuple[str, str]]
    """field -> (old, new), as text."""

    def describe(self) -> str:
        parts = [f"{name}: {old!r} → {new!r}" for name, (old, new) in self.fields.items()]
        return f"contact {self.contact_id} {self.name}: " + "; ".join(parts)


@dataclass(frozen=True)
class BulkEditPlan:
    changes: tuple[ContactChange, ...] = ()
    problems: tuple[Problem, ...] = ()
    unchanged: int = 0
    left_out: int = 0
    """Contacts whose line was deleted."""

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def field_count(self) -> int:
        return sum(len(c.fields) for c in self.changes)

    def preview(self) -> list[str]:
        """One line per changed contact, naming each changed field with old and new value."""
        return [change.describe() for change in self.changes]


def plan_edit(
    session: Session,
    actor: Actor,
    original: str,
    edited: str,
    *,
    settings: Settings | None = None,
) -> BulkEditPlan:
    """What saving `edited` (made from `original`) would change, validated (nothing written)."""
    from crm_tui.services.contacts import clean_values

    settings = settings or get_settings()
    before, shape = read_tsv(original)
    if shape:
        raise ValidationError("table", "the original table is not a bulk-edit table")
    after, problems = read_tsv(edited)
    known = {row.id: row for row in before}
    seen: dict[int, int] = {}
    changes: list[ContactChange] = []
    unchanged = 0
    for row in after:
        base = known.get(row.id)
        if base is None:
            problems.append(Problem(row.line, "id", f"contact {row.id} was not in the table; add "
                                                    "contacts with `crm contacts add`", row.id))
            continue
        if row.id in seen:
            problems.append(Problem(row.line, "id", f"contact {row.id} is on line {seen[row.id]} too", row.id))
            continue
        seen[row.id] = row.line
        if row.version != base.version:
            problems.append(Problem(row.line, "version", "must stay as it was", row.id))
            continue
        changed = {name: (base.values[name], row.values[name]) for name in BULK_FIELDS
                   if row.values[name].strip() != base.values[name].strip()}
        if not changed:
            unchanged += 1
            continue
        for name, (_old, new) in changed.items():
            try:
                clean_values(session, actor, {name: new}, settings)
            except ValidationError as error:
                problems.append(Problem(row.line, error.field, error.message, row.id))
        name = base.values["name"] + (f", {base.values['first_name']}" if base.values["first_name"] else "")
        changes.append(ContactChange(row.line, row.id, name, row.version, changed))
    return BulkEditPlan(tuple(changes), tuple(sorted(problems, key=lambda p: p.line)), unchanged,
                        left_out=len(known) - len(seen))


# -- saving ------------------------------------------------------------------------------------


class BulkEditRefused(ServiceError):
    """Nothing was saved: the plan had problems, or contacts changed meanwhile or refused."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = tuple(problems)
        conflicts = sum(1 for p in self.problems if p.field == "version")
        what = f"{len(self.problems)} problem" + ("" if len(self.problems) == 1 else "s")
        if conflicts:
            what += f" ({conflicts} changed by someone else meanwhile)"
        super().__init__(f"bulk edit: nothing saved: {what}; first: {self.problems[0].text()}")


@dataclass(frozen=True)
class BulkEditResult:
    contacts: int
    fields: int
    ids: tuple[int, ...] = field(default=())


def apply_edit(session: Session, actor: Actor, plan: BulkEditPlan, *,
               settings: Settings | None = None) -> BulkEditResult:
    """Save every change of the plan in the caller's transaction, or raise BulkEditRefused
    (the caller's transaction then rolls back: all or nothing)."""
    from crm_tui.services.contacts import update_contact

    if plan.problems:
        raise BulkEditRefused(plan.problems)
    settings = settings or get_settings()
    problems: list[Problem] = []
    for change in plan.changes:
        values = {name: new for name, (_old, new) in change.fields.items()}
        base: Mapping[str, object] = {name: old for name, (old, _new) in change.fields.items()}
        try:
            # A refusal leaves nothing behind that is kept: the whole transaction rolls back.
            update_contact(session, actor, change.contact_id, values,
                           expected_version=change.version, base=base, settings=settings)
        except ConflictError as error:
            names = ", ".join(c.field for c in error.fields) or "its fields"
            problems.append(Problem(change.line, "version",
                                    f"changed by someone else since the table was made ({names}); "
                                    "edit again", change.contact_id))
        except ValidationError as error:
            problems.append(Problem(change.line, error.field, error.message, change.contact_id))
        except (PermissionDenied, ServiceError) as error:
            problems.append(Problem(change.line, "permission", str(error), change.contact_id))
    if problems:
        raise BulkEditRefused(problems)
    return BulkEditResult(len(plan.changes), plan.field_count, tuple(c.contact_id for c in plan.changes))
