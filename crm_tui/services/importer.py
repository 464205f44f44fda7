"""Importing contacts from a CSV file (`crm import contacts FILE.csv`, the app's import dialog).

- The header row is mapped onto contact fields by `exchange.map_headers` (English, German and
  Polish names); the delimiter (`,` `;` tab `|`) and the encoding (UTF-8, with or without BOM,
  else Windows-1252 as old Excel writes it) are recognised.
- Every row is validated exactly as a form is (`contacts.contact_values`); customer numbers are
  checked against the database and against the other rows of the file.
- All valid rows are inserted in one transaction, into status `inbox` (seed 002: contacts that come
  in by a mechanism wait there until somebody reviews them); each gets a `create` history row
  naming the file and line. Invalid rows are listed with line number, field and reason and are
  not written at all, never half. `dry_run` only reports; `strict` writes nothing when any row is
  invalid.

Speed: validation is plain Python per row, the insert is an executemany in windows of rows
(the full-text triggers index them on the way): 100,000 rows in well under 30 s on SQLite
(`benchmarks/contacts_bulk.py`).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from sqlalchemy import func, insert, select, text
from sqlmodel import Session

from crm_tui import clock
from crm_tui.config import Settings, get_settings
from crm_tui.models import Contact, HistoryEntry
from crm_tui.services.contacts import contact_values
from crm_tui.services.errors import ValidationError
from crm_tui.services.exchange import map_headers, row_values
from crm_tui.services.identity import Actor
from crm_tui.services.lifecycle import bulk_statements

Progress = Callable[[int, int], None]
INSERT_WINDOW = 1000
DELIMITERS = (",", ";", "\t", "|")
MAX_PROBLEMS_SHOWN = 1000
IMPORT_STATUS = "inbox"


@dataclass(frozen=True)
class RowProblem:
    line: int
    """Line number in the file (the header is line 1)."""
    field: str
    message: str

    def text(self) -> str:
        return f"line {self.line}: {self.field}: {self.message}"


@dataclass(frozen=True)
class ImportReport:
    source: str
    rows: int
    """Data rows read (blank lines not counted)."""
    valid: int
    imported: int
    dry_run: bool
    strict: bool
    columns: dict[str, str]
    """Header -> contact field, for every column that was imported."""
    ignored_columns: tuple[str, ...]
    problems: tuple[RowProblem, ...]
    """One per invalid row, in line order."""
    delimiter: str
    encoding: str
    ids: tuple[int, ...] = field(default=(), repr=False)
    """The new contacts."""

    @property
    def invalid(self) -> int:
        return len(self.problems)

    @property
    def written(self) -> bool:
        return self.imported > 0


@dataclass(frozen=True)
class _Table:
    headers: list[str]
    rows: list[tuple[int, list[str]]]
    delimiter: str
    encoding: str


def _decode(data: bytes) -> tuple[str, str]:
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace"), "cp1252"


def _delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def read_table(source: str | os.PathLike[str] | TextIO) -> _Table:
    """Header and rows (with their line numbers) of a CSV file or text stream."""
    if hasattr(source, "read"):
        text, encoding = source.read(), "text"
    else:
        path = Path(source)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ValidationError("file", f"{path} does not exist") from None
        except IsADirectoryError:
            raise ValidationError("file", f"{path} is a folder, not a CSV file") from None
        except OSError as error:
            raise ValidationError("file", f"{path}: {error.strerror}") from None
        text, encoding = _decode(data)
    if not text.strip():
        raise ValidationError("file", "is empty: expected a header row and contacts")
    delimiter = _delimiter(text.split("\n", 1)[0])
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        headers = next(reader)
        rows = []
        last_line = reader.line_num
        for cells in reader:
            start = last_line + 1
            last_line = reader.line_num
            if cells and any(c.strip() for c in cells):
                rows.append((start, cells))
    except csv.Error as error:
        raise ValidationError("file", f"line {reader.line_num}: not readable as CSV ({error})") from None
    return _Table(headers, rows, delimiter, encoding)


def import_contacts(
    session: Session,
    actor: Actor,
    source: str | os.PathLike[str] | TextIO,
    *,
    dry_run: bool = False,
    strict: bool = False,
    settings: Settings | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Validate every row of a CSV file and import the valid ones into the inbox (see module doc).

    `progress(done, total)` counts rows validated, then rows written. Raises ValidationError
    (nothing written) when the file itself cannot be used: missing, empty, no name column.
    """
    settings = settings or get_settings()
    table = read_table(source)
    mapping = map_headers(table.headers)
    name = str(source) if not hasattr(source, "read") else getattr(source, "name", "<stream>")
    label = Path(name).name
    now = clock.now()
    assignees: dict[str, tuple[int | None, int | None]] = {}
    problems: dict[int, RowProblem] = {}
    valid: list[tuple[int, dict[str, object]]] = []
    numbers: dict[str, int] = {}
    width = len(table.headers)
    total = len(table.rows)
    for index, (line, cells) in enumerate(table.rows, start=1):
        if len(cells) > width and any(c.strip() for c in cells[width:]):
            problems[line] = RowProblem(line, "columns", f"has {len(cells)} cells, the header has {width}")
        else:
            values = row_values(mapping, cells)
            values["status"] = IMPORT_STATUS
            try:
                row = contact_values(session, actor, values, settings=settings, check_unique=False,
                                     now=now, assignees=assignees)
            except ValidationError as error:
                problems[line] = RowProblem(line, error.field, error.message)
            else:
                number = row.get("customer_number")
                if number and number in numbers:
                    problems[line] = RowProblem(
                        line, "customer_number", f"{number!r} is on line {numbers[number]} too"
                    )
                else:
                    if number:
                        numbers[number] = line
                    valid.append((line, row))
        if progress and (index % INSERT_WINDOW == 0 or index == total):
            progress(index, total)
    taken = _numbers_in_use(session, list(numbers))
    if taken:
        kept = []
        for line, row in valid:
            number = row.get("customer_number")
            if number in taken:
                problems[line] = RowProblem(
                    line, "customer_number", f"{number!r} already belongs to contact {taken[number]}"
                )
            else:
                kept.append((line, row))
        valid = kept
    ordered = tuple(problems[line] for line in sorted(problems))
    ids: list[int] = []
    if valid and not dry_run and not (strict and ordered):
        with bulk_statements(session, len(valid)):
            if session.get_bind().dialect.name == "sqlite":
                with _fts_indexed_at_once(session) as index:
                    ids = _insert(session, actor, valid, label, now, progress)
                    index(ids)
            else:
                ids = _insert(session, actor, valid, label, now, progress)
    return ImportReport(
        source=name, rows=total, valid=len(valid), imported=len(ids), dry_run=dry_run, strict=strict,
        columns=mapping.mapped, ignored_columns=mapping.ignored, problems=ordered,
        delimiter=table.delimiter, encoding=table.encoding, ids=tuple(ids),
    )


FTS_INSERT_TRIGGER = "contacts_fts_ai"


@contextmanager
def _fts_indexed_at_once(session: Session) -> Iterator[Callable[[list[int]], None]]:
    """SQLite: the full-text insert trigger costs ~0.3 ms a row; one INSERT ... SELECT into the
    index after the rows are in costs a twentieth of that. The trigger is dropped and created
    again inside this transaction (SQLite's DDL is transactional: nobody else ever sees the table
    without it, and a rollback brings it back)."""
    trigger = session.execute(
        text("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = :name"),
        {"name": FTS_INSERT_TRIGGER},
    ).scalar()
    pending: list[int] = []
    if trigger is None:  # no full-text index in this database: nothing to do
        yield pending.extend
        return
    columns = [row[1] for row in session.execute(text("PRAGMA table_info(contacts_fts)")).all()]
    session.execute(text(f"DROP TRIGGER {FTS_INSERT_TRIGGER}"))
    yield pending.extend
    listed = ", ".join(columns)
    for start in range(0, len(pending), 50_000):
        window = sorted(pending[start:start + 50_000])
        session.execute(
            text(f"INSERT INTO contacts_fts(rowid, {listed}) SELECT id, {listed} FROM contacts "
                 "WHERE id BETWEEN :low AND :high"),
            {"low": window[0], "high": window[-1]},
        )
    session.execute(text(trigger))


def _numbers_in_use(session: Session, numbers: list[str]) -> dict[str, int]:
    t = Contact.__table__
    taken: dict[str, int] = {}
    for start in range(0, len(numbers), 500):
        chunk = numbers[start:start + 500]
        taken.update(session.execute(
            select(t.c.customer_number, t.c.id).where(t.c.customer_number.in_(chunk))
        ).all())
    return taken


def _column_defaults() -> dict[str, object]:
    template = Contact(name="")
    return {
        c.name: getattr(template, c.name)
        for c in Contact.__table__.columns
        if c.name not in ("id", "version", "created_at", "updated_at")
    }


def _insert(
    session: Session,
    actor: Actor,
    valid: list[tuple[int, dict[str, object]]],
    label: str,
    now,
    progress: Progress | None,
) -> list[int]:
    table = Contact.__table__
    defaults = _column_defaults()
    sqlite = session.get_bind().dialect.name == "sqlite"
    if sqlite:
        # SQLite cannot return the ids of a multi-row INSERT in order (SQLAlchemy would insert
        # row by row). The write transaction holds the database's write lock (BEGIN IMMEDIATE),
        # so nobody else can insert: number the rows here and use a plain executemany.
        next_id = (session.execute(select(func.max(table.c.id))).scalar() or 0) + 1
        statement = insert(table)
    else:
        statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    history_rows = []
    ids: list[int] = []
    if progress:
        progress(0, len(valid))
    for start in range(0, len(valid), INSERT_WINDOW):
        window = valid[start:start + INSERT_WINDOW]
        records = [{**defaults, **row, "version": 1} for _line, row in window]
        if sqlite:
            new_ids = list(range(next_id, next_id + len(records)))
            next_id += len(records)
            for record, contact_id in zip(records, new_ids, strict=True):
                record["id"] = contact_id
            session.execute(statement, records)
        else:
            new_ids = list(session.execute(statement, records).scalars())
        for (line, row), contact_id in zip(window, new_ids, strict=True):
            display = f"{row['name']}, {row['first_name']}" if row.get("first_name") else row["name"]
            history_rows.append({
                "at": now, "user_id": actor.id, "user_login": actor.login, "contact_id": contact_id,
                "opportunity_id": None, "activity_id": None, "action": "create",
                "subject": f"contact {contact_id} {display}"[:300], "field": "", "old_value": "",
                "new_value": IMPORT_STATUS, "note": f"imported from {label} line {line}",
            })
        ids.extend(new_ids)
        if progress:
            progress(len(ids), len(valid))
    for start in range(0, len(history_rows), INSERT_WINDOW * 5):
        session.execute(insert(HistoryEntry.__table__), history_rows[start:start + INSERT_WINDOW * 5])
    return ids
