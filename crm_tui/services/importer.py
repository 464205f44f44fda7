"""Importing contacts from a CSV file (`crm import contacts FILE.csv`, the app's import dialog).

- The header row is mapped onto contact fields by `exchange.map_headers` (English, German and
  Polish names); the delimiter (`,` `;` tab `|`) and the encoding (UTF-8, with or without BOM,
  else Windows-1252 as old Excel writes it) are recognised.
- Every row is validated exactly as a form is (`contacts.contact_values`); customer numbers are
  checked against the database and against the other rows of the file. Each assignee value is
  looked up once per file.
- All valid rows are inserted in one transaction, into status `inbox` (seed 002: contacts that come
  in by a mechanism wait there until somebody reviews them); each gets a `create` history row
  naming the file and line. Invalid rows are listed with line number, field and reason and are
  not written at all, never half. `dry_run` only reports; `strict` checks every row before it
  writes any, and writes nothing when one is invalid.

Speed (`benchmarks/run.py --only import`: 100,000 rows into databases of 10k to 1m contacts, at
least 20,000 rows/s). The file is parsed, checked and written in windows of a few thousand rows.
Most of the time is SQLite keeping the contact table's ~22 indexes and the full-text index, work
it does without holding Python's GIL: so on SQLite a worker thread writes windows while this
thread parses and checks the next ones, on two cores. A window goes in as multi-row INSERT
statements of stored values straight through the DBAPI (thousands of rows a statement: long
steps without the GIL, where an executemany would take it back for every row; a value every row
has is bound once), with ids numbered here under the write lock. The full-text index is filled
by one INSERT ... SELECT per 20,000 rows instead of its trigger per row. For the duration the
connection has a larger page cache, and FTS5 a larger buffer for new index entries (both
restored). PostgreSQL: Core executemany with RETURNING, in the calling thread.
"""

from __future__ import annotations

import csv
import gc
import io
import os
import sqlite3
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain, islice
from operator import itemgetter
from pathlib import Path
from typing import TextIO

from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from crm_tui import clock
from crm_tui.config import Settings, get_settings
from crm_tui.models import Contact, HistoryEntry
from crm_tui.services.contacts import AssigneeCache, contact_values, resolve_assignees
from crm_tui.services.errors import ValidationError
from crm_tui.services.exchange import ColumnMapping, map_headers, read_text, row_values
from crm_tui.services.identity import Actor
from crm_tui.services.lifecycle import bulk_statements

Progress = Callable[[int, int], None]
WINDOW_ROWS = 4000
"""Rows checked, then written, at a time (and the step of `progress`)."""
FIRST_WINDOW_ROWS = 500
"""A smaller first window: writing starts sooner."""
WINDOWS_AHEAD = 3
"""SQLite: windows checked and waiting to be written, at most. Writing a window takes about as
long as checking one, longer when the full-text index is filled: a few in hand keep the writer
busy."""
DELIMITERS = (",", ";", "\t", "|")
MAX_PROBLEMS_SHOWN = 1000
IMPORT_STATUS = "inbox"
FTS_EVERY_ROWS = 20_000
"""SQLite: rows added to the full-text index by one statement. FTS5 writes each statement's new
entries as a segment of its own, so rows per statement decide how many segments later merges
have to join."""
IMPORT_CACHE_KIB = 256 * 1024
"""SQLite page cache of the importing connection. New rows land all over the ~22 indexes of the
contact table; with the default 2 MB, pages are evicted and read back over and over (measured:
inserts 40 % faster with 256 MB, no faster with more)."""
FTS_IMPORT_HASHSIZE = 16 * 1024 * 1024
"""FTS5 buffer for new index entries during an import (default 1 MB, flushed as a new segment
whenever it fills): one segment per statement of `FTS_EVERY_ROWS` rows instead of ~50 small ones
per 100,000 rows, and no crisis merge of a whole level triggered by them."""
FTS_DEFAULT_HASHSIZE = 1024 * 1024


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


@dataclass
class _Source:
    """A CSV file or stream, decoded, its header read; its rows are parsed as they are taken."""

    headers: list[str]
    delimiter: str
    encoding: str
    expected_rows: int
    """Lines after the header: the data rows to expect (blank lines and line breaks inside
    quoted cells make the real count lower); for progress reports."""
    rows: Iterator[tuple[int, list[str]]]
    """(line number, cells) of each row that is not blank."""

    def batches(self, first: int, size: int) -> Iterator[list[tuple[int, list[str]]]]:
        """The rows in lists of `size`, the first one `first` long."""
        batch = list(islice(self.rows, first))
        while batch:
            yield batch
            batch = list(islice(self.rows, size))


def _delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _open_source(source: str | os.PathLike[str] | TextIO) -> _Source:
    """The file read and decoded and its header row parsed (errors as ValidationError)."""
    text, encoding = read_text(source, "a CSV file")
    if not text.strip():
        raise ValidationError("file", "is empty: expected a header row and contacts")
    delimiter = _delimiter(text.split("\n", 1)[0])
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        headers = next(reader)
    except csv.Error as error:
        raise _unreadable(reader, error) from None
    lines = text.count("\n") + (not text.endswith("\n"))
    return _Source(headers, delimiter, encoding, max(lines - reader.line_num, 0), _data_rows(reader))


def _data_rows(reader) -> Iterator[tuple[int, list[str]]]:
    last_line = reader.line_num
    try:
        for cells in reader:
            start = last_line + 1
            last_line = reader.line_num
            if cells and any(c.strip() for c in cells):
                yield start, cells
    except csv.Error as error:
        raise _unreadable(reader, error) from None


def _unreadable(reader, error: csv.Error) -> ValidationError:
    return ValidationError("file", f"line {reader.line_num}: not readable as CSV ({error})")


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

    `progress(done, total)` counts the file's rows as they are checked and written (the total
    is the line count until the last row is read); with `dry_run` or `strict`, rows checked,
    then rows written. Raises ValidationError (nothing written) when the file itself cannot be
    used: missing, empty, no name column, not readable as CSV.
    """
    settings = settings or get_settings()
    with _collector_paused():
        table = _open_source(source)
        mapping = map_headers(table.headers)
        name = str(source) if not hasattr(source, "read") else getattr(source, "name", "<stream>")
        checker = _RowChecker(actor, settings, mapping, len(table.headers))
        writer = _Writer.for_session(session, actor, Path(name).name, checker.now)
        batches = table.batches(FIRST_WINDOW_ROWS, WINDOW_ROWS)

        def checked(window: _Window) -> None:
            if progress:
                progress(window.checked, max(table.expected_rows, window.checked))

        if dry_run or strict:
            windows = []
            for window in checker.windows(batches, lambda: session):
                windows.append(window)
                checked(window)
            if progress:
                progress(checker.rows, checker.rows)
            ids = []
            if not dry_run and not (strict and checker.problems):
                done = 0

                def written(window: _Window) -> None:
                    nonlocal done
                    done += len(window.rows)
                    if progress:
                        progress(done, checker.valid)

                if progress:
                    progress(0, checker.valid)
                ids = writer.write(windows, checker.valid, written)
        else:
            # Each window is checked while the one before it is written; the checker reads the
            # database only once the writer is done with it.
            ids = writer.write(checker.windows(batches, writer.idle_session), table.expected_rows,
                               checked)
            if progress:
                progress(checker.rows, checker.rows)
    return ImportReport(
        source=name, rows=checker.rows, valid=checker.valid, imported=len(ids), dry_run=dry_run,
        strict=strict, columns=mapping.mapped, ignored_columns=mapping.ignored,
        problems=tuple(checker.problems[line] for line in sorted(checker.problems)),
        delimiter=table.delimiter, encoding=table.encoding, ids=tuple(ids),
    )


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while an import builds its rows: they are millions
    of new objects and no cycles, and every collection would walk all of them again (measured:
    an import of 100,000 rows 15 % faster)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


# -- checking --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Window:
    checked: int
    """Rows of the file checked up to and including this window."""
    rows: list[tuple[int, dict[str, object]]]
    """Its valid rows: (line, column values)."""


class _RowChecker:
    """Validates a file's rows window by window; keeps the problems and the counts.

    Checking a row never reads the database, so it can run while another thread writes: the
    assignees of a window are looked up before it is checked (each value once per file), the
    customer numbers after (only those new to the file), both through `database()`, which hands
    out the session once nothing else is using it.
    """

    def __init__(self, actor: Actor, settings: Settings, mapping: ColumnMapping, width: int):
        self.now = clock.now()
        self.problems: dict[int, RowProblem] = {}
        self.rows = 0
        self.valid = 0
        self._actor = actor
        self._settings = settings
        self._mapping = mapping
        self._width = width
        self._assignees: AssigneeCache = {}
        self._assignee_cells = [index for index, name in mapping.columns if name == "assigned_to"]
        self._numbers: dict[str, int] = {}
        """Customer number -> the first line that has it."""

    def windows(self, batches: Iterable[list[tuple[int, list[str]]]],
                database: Callable[[], Session]) -> Iterator[_Window]:
        for batch in batches:
            self._look_up_assignees(batch, database)
            valid = []
            for line, cells in batch:
                row = self._check(line, cells)
                if row is not None:
                    valid.append((line, row))
            valid = self._without_numbers_in_use(valid, database)
            self.rows += len(batch)
            self.valid += len(valid)
            yield _Window(self.rows, valid)

    def _look_up_assignees(self, batch: list[tuple[int, list[str]]],
                           database: Callable[[], Session]) -> None:
        new = {
            value
            for index in self._assignee_cells
            for _line, cells in batch
            if index < len(cells) and (value := cells[index].strip()) and value not in self._assignees
        }
        if new:
            resolve_assignees(database(), sorted(new), self._assignees)

    def _check(self, line: int, cells: list[str]) -> dict[str, object] | None:
        """The row's column values, or None when it has a problem (recorded)."""
        width = self._width
        if len(cells) > width and any(c.strip() for c in cells[width:]):
            return self._refuse(line, "columns", f"has {len(cells)} cells, the header has {width}")
        values = row_values(self._mapping, cells)
        values["status"] = IMPORT_STATUS
        try:
            # No session: every assignee is in the cache already (`_look_up_assignees`), and
            # the writer may be using the connection right now.
            row = contact_values(None, self._actor, values, settings=self._settings,
                                 check_unique=False, now=self.now, assignees=self._assignees)
        except ValidationError as error:
            return self._refuse(line, error.field, error.message)
        number = row.get("customer_number")
        if number:
            if number in self._numbers:
                return self._refuse(line, "customer_number",
                                    f"{number!r} is on line {self._numbers[number]} too")
            self._numbers[number] = line
        return row

    def _without_numbers_in_use(self, valid: list[tuple[int, dict[str, object]]],
                                database: Callable[[], Session]) -> list[tuple[int, dict[str, object]]]:
        """`valid` but the rows whose customer number belongs to a contact already. Numbers of
        earlier rows of the file were refused by `_check`, so the database only has to be asked
        about new ones."""
        numbers = sorted({str(row["customer_number"]) for _line, row in valid
                          if row.get("customer_number")})
        if not numbers:
            return valid
        taken = _numbers_in_use(database(), numbers)
        if not taken:
            return valid
        kept = []
        for line, row in valid:
            number = row.get("customer_number")
            if number in taken:
                self._refuse(line, "customer_number",
                             f"{number!r} already belongs to contact {taken[number]}")
            else:
                kept.append((line, row))
        return kept

    def _refuse(self, line: int, field_name: str, message: str) -> None:
        self.problems[line] = RowProblem(line, field_name, message)


def _numbers_in_use(session: Session, numbers: list[str]) -> dict[str, int]:
    t = Contact.__table__
    taken: dict[str, int] = {}
    for start in range(0, len(numbers), 500):
        chunk = numbers[start:start + 500]
        taken.update(session.execute(
            select(t.c.customer_number, t.c.id).where(t.c.customer_number.in_(chunk))
        ).all())
    return taken


# -- writing ---------------------------------------------------------------------------------


class _Writer:
    """Inserts the valid rows of the windows it is given, and their history rows: with Core
    statements in this thread (PostgreSQL); `_SqliteWriter` for SQLite."""

    @staticmethod
    def for_session(session: Session, actor: Actor, label: str, now: datetime) -> _Writer:
        kind = _SqliteWriter if session.get_bind().dialect.name == "sqlite" else _Writer
        return kind(session, actor, label, now)

    def __init__(self, session: Session, actor: Actor, label: str, now: datetime):
        self._session = session
        self._actor = actor
        self._label = label
        self._now = now

    def idle_session(self) -> Session:
        """The session, once nothing else is using it."""
        return self._session

    def write(self, windows: Iterable[_Window], expected_rows: int,
              written: Callable[[_Window], None]) -> list[int]:
        """The new ids. `written(window)` after each window is in; `expected_rows` (at most that
        many rows) decides whether row triggers run once for all (`bulk_statements`)."""
        windows = iter(windows)
        for window in windows:  # nothing is set up for a file without one valid row
            if window.rows:
                break
            written(window)
        else:
            return []
        with bulk_statements(self._session, expected_rows):
            return self._write(_chained(window, windows), written)

    def _write(self, windows: Iterable[_Window], written: Callable[[_Window], None]) -> list[int]:
        table = Contact.__table__
        defaults = {**_column_defaults(), "version": 1}
        statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        ids: list[int] = []
        for window in windows:
            if window.rows:
                records = [{**defaults, **row} for _line, row in window.rows]
                new_ids = list(self._session.execute(statement, records).scalars())
                self._session.execute(insert(HistoryEntry.__table__), [
                    self._history_row(contact_id, line, row)
                    for (line, row), contact_id in zip(window.rows, new_ids, strict=True)
                ])
                ids.extend(new_ids)
            written(window)
        return ids

    def _history_row(self, contact_id: int, line: int, row: dict[str, object]) -> dict[str, object]:
        return {
            "at": self._now, "user_id": self._actor.id, "user_login": self._actor.login,
            "contact_id": contact_id, "opportunity_id": None, "activity_id": None,
            "action": "create", "subject": _subject(contact_id, row), "field": "", "old_value": "",
            "new_value": IMPORT_STATUS, "note": self._note(line),
        }

    def _note(self, line: int) -> str:
        return f"imported from {self._label} line {line}"


def _chained(first: _Window, rest: Iterator[_Window]) -> Iterator[_Window]:
    yield first
    yield from rest


def _subject(contact_id: int, row: dict[str, object]) -> str:
    display = f"{row['name']}, {row['first_name']}" if row.get("first_name") else row["name"]
    return f"contact {contact_id} {display}"[:300]


def _column_defaults() -> dict[str, object]:
    template = Contact(name="")
    return {
        c.name: getattr(template, c.name)
        for c in Contact.__table__.columns
        if c.name not in ("id", "version", "created_at", "updated_at")
    }


class _SqliteWriter(_Writer):
    """SQLite: each window's rows go in while the caller checks the next window (module doc).

    The write transaction holds the database's write lock (BEGIN IMMEDIATE), so nobody else can
    insert: ids are numbered here, from the highest one in use, as SQLite itself would number
    them. Values are converted to what SQLAlchemy would store (its bind processors) and sent
    through the DBAPI connection. Only one thread uses the connection at any moment: the worker
    runs one window's statements, and this thread touches the connection again only after
    waiting for them (`idle_session`, `_settle`).
    """

    def __init__(self, session: Session, actor: Actor, label: str, now: datetime):
        super().__init__(session, actor, label, now)
        self._queued: deque[tuple[Future, _Window]] = deque()
        self._written: Callable[[_Window], None] = lambda _window: None
        self._sql: dict[tuple[str, int, tuple[int, ...]], str] = {}

    def idle_session(self) -> Session:
        self._settle(0)
        return self._session

    def _settle(self, most: int) -> None:
        """Wait until at most `most` windows are queued or being written (an error of theirs
        is raised here); report each one written."""
        while len(self._queued) > most:
            future, window = self._queued.popleft()
            future.result()
            self._written(window)

    def _write(self, windows: Iterable[_Window], written: Callable[[_Window], None]) -> list[int]:
        session = self._session
        self._prepare(session.connection())
        self._written = written
        table = Contact.__table__
        with ExitStack() as restore:
            fts_columns = restore.enter_context(_fts_trigger_suspended(session))
            restore.enter_context(_page_cache(session, IMPORT_CACHE_KIB))
            if fts_columns:
                restore.enter_context(_fts_buffer(session, FTS_IMPORT_HASHSIZE))
                fts = (f"INSERT INTO contacts_fts(rowid, {fts_columns}) "
                       f"SELECT id, {fts_columns} FROM contacts WHERE id BETWEEN ? AND ?")
            first_id = (session.execute(select(func.max(table.c.id))).scalar() or 0) + 1
            next_id = indexed_to = first_id
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="crm-import") as worker:
                try:
                    for window in windows:  # checked here, while the ones before are written
                        statements = self._statements(window.rows, next_id)
                        next_id += len(window.rows)
                        if fts_columns and next_id - indexed_to >= FTS_EVERY_ROWS:
                            statements.append((fts, [indexed_to, next_id - 1]))
                            indexed_to = next_id
                        self._settle(WINDOWS_AHEAD - 1)
                        self._queued.append((worker.submit(self._execute, statements), window))
                    self._settle(0)
                finally:
                    # After an error: the pool's exit waits for the worker; nothing is reported.
                    for future, _window in self._queued:
                        future.cancel()
                    self._queued.clear()
            if fts_columns and indexed_to < next_id:
                self._execute([(fts, [indexed_to, next_id - 1])])
        return list(range(first_id, next_id))

    def _prepare(self, connection) -> None:
        self._dbapi = connection.connection.driver_connection
        dialect = connection.dialect
        table = Contact.__table__
        self._columns = [c.name for c in table.columns]
        self._defaults = {**_column_defaults(), "version": 1}
        self._values_of = itemgetter(*self._columns)
        self._processors = _bind_processors(table, dialect, self._columns)
        self._variables = self._dbapi.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        at = [self._now]
        for processor in _bind_processors(HistoryEntry.__table__, dialect, ["at"]):
            processor(at)
        self._history_at = at[0]

    def _execute(self, statements: list[tuple[str, list[object]]]) -> None:
        cursor = self._dbapi.cursor()
        try:
            for sql, parameters in statements:
                try:
                    cursor.execute(sql, parameters)
                except sqlite3.Error as error:
                    # Raised as SQLAlchemy raises it: callers turn a DBAPIError into a message,
                    # and retry the transaction when the database was busy.
                    raise DBAPIError.instance(f"{sql[:120]} ...", None, error, sqlite3.Error) from error
        finally:
            cursor.close()

    def _statements(self, rows: Sequence[tuple[int, dict[str, object]]], first_id: int
                    ) -> list[tuple[str, list[object]]]:
        """The INSERTs of these rows (numbered from `first_id`) and of their history rows."""
        contacts = [self._stored(row, contact_id)
                    for contact_id, (_line, row) in enumerate(rows, start=first_id)]
        actor = self._actor
        history = [
            [self._history_at, actor.id, actor.login, contact_id, None, None, "create",
             _subject(contact_id, row), "", "", IMPORT_STATUS, self._note(line)]
            for contact_id, (line, row) in enumerate(rows, start=first_id)
        ]
        return [*self._inserts("contacts", self._columns, "id", contacts),
                *self._inserts("history", HISTORY_COLUMNS, "contact_id", history)]

    def _stored(self, row: dict[str, object], contact_id: int) -> list[object]:
        record = {**self._defaults, **row}
        record["id"] = contact_id
        values = list(self._values_of(record))
        for processor in self._processors:
            processor(values)
        return values

    def _inserts(self, table: str, columns: Sequence[str], key: str, rows: list[list[object]]
                 ) -> Iterator[tuple[str, list[object]]]:
        """INSERTs of `rows` (values in `columns` order), as many rows a statement as SQLite
        takes parameters.

        A value that every row of a statement has (the status, the creator, "now", the many
        empty fields) is bound once, the other values row by row: less than half the parameters
        to convert and copy, where binding is a good part of the writing. `key` (unique in every
        row) is never shared. Parameters are bound by position: the shared values come first in
        the SQL (the select list), then the rows (the VALUES list)."""
        keyed = columns.index(key)
        step = max(1, self._variables // len(columns))
        for start in range(0, len(rows), step):
            part = rows[start:start + step]
            values = list(zip(*part, strict=True))
            shared = tuple(i for i, column in enumerate(values) if i != keyed and _one_value(column))
            varying = [i for i in range(len(columns)) if i not in shared]
            parameters = [values[i][0] for i in shared]
            parameters.extend(chain.from_iterable(zip(*(values[i] for i in varying), strict=True)))
            yield self._insert_sql(table, columns, len(part), shared, varying), parameters

    def _insert_sql(self, table: str, columns: Sequence[str], rows: int, shared: tuple[int, ...],
                    varying: list[int]) -> str:
        cache_key = (table, rows, shared)
        sql = self._sql.get(cache_key)
        if sql is None:
            row = "(" + ", ".join("?" * len(varying)) + ")"
            values = ", ".join([row] * rows)
            if shared:
                # Shared values as parameters of the select list: the VALUES list stays a
                # co-routine (joined to a one-row CTE it would be copied to a table first).
                picked = {index: "?" for index in shared}
                picked.update({index: f"v.column{n}" for n, index in enumerate(varying, start=1)})
                sql = (f"INSERT INTO {table} ({', '.join(columns)}) "
                       f"SELECT {', '.join(picked[i] for i in range(len(columns)))} "
                       f"FROM (VALUES {values}) AS v")
            else:
                sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES {values}"
            self._sql[cache_key] = sql
        return sql


HISTORY_COLUMNS = (
    "at", "user_id", "user_login", "contact_id", "opportunity_id", "activity_id", "action",
    "subject", "field", "old_value", "new_value", "note",
)


def _one_value(values: tuple[object, ...]) -> bool:
    """Every value equal to the first and of its type (1 and 1.0 are stored differently)."""
    return values.count(values[0]) == len(values) and len(set(map(type, values))) == 1


class _BindProcessor:
    """Converts one column's value in a row of values to what SQLAlchemy stores; the very value
    the row before had (the import's `now` in every row) is converted once."""

    def __init__(self, index: int, convert: Callable[[object], object]):
        self._index = index
        self._convert = convert
        self._last: tuple[object, object] | None = None

    def __call__(self, values: list[object]) -> None:
        value = values[self._index]
        if value is None:
            return
        last = self._last
        if last is not None and last[0] is value:
            values[self._index] = last[1]
            return
        stored = self._convert(value)
        self._last = (value, stored)
        values[self._index] = stored


def _bind_processors(table: Table, dialect: Dialect, columns: Sequence[str]) -> list[_BindProcessor]:
    found = []
    for index, name in enumerate(columns):
        convert = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        if convert is not None:
            found.append(_BindProcessor(index, convert))
    return found


FTS_INSERT_TRIGGER = "contacts_fts_ai"


@contextmanager
def _fts_trigger_suspended(session: Session) -> Iterator[str]:
    """SQLite: the full-text insert trigger costs ~0.3 ms a row; INSERT ... SELECT statements
    into the index after the rows are in cost a twentieth of that. The trigger is dropped, the
    caller fills the index (yielded: its columns, "" when this database has no full-text index), and
    the trigger is created again, all inside this transaction (SQLite's DDL is transactional:
    nobody else ever sees the table without it, and a rollback brings it back)."""
    trigger = session.execute(
        text("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = :name"),
        {"name": FTS_INSERT_TRIGGER},
    ).scalar()
    if trigger is None:
        yield ""
        return
    columns = [row[1] for row in session.execute(text("PRAGMA table_info(contacts_fts)")).all()]
    session.execute(text(f"DROP TRIGGER {FTS_INSERT_TRIGGER}"))
    yield ", ".join(columns)
    session.execute(text(trigger))


@contextmanager
def _page_cache(session: Session, kib: int) -> Iterator[None]:
    """At least `kib` KiB of page cache on this connection for the block, then as before (a
    connection setting, not part of the transaction: restored whatever happens)."""
    before = int(session.execute(text("PRAGMA cache_size")).scalar())
    page_size = int(session.execute(text("PRAGMA page_size")).scalar())
    if (-before if before < 0 else before * page_size // 1024) >= kib:
        yield
        return
    session.execute(text(f"PRAGMA cache_size = -{int(kib)}"))
    try:
        yield
    finally:
        session.execute(text(f"PRAGMA cache_size = {before}"))


@contextmanager
def _fts_buffer(session: Session, size: int) -> Iterator[None]:
    """FTS5's buffer for new index entries at least `size` bytes for the block, then as before
    (a setting stored in the index's config table: a rollback restores it too)."""
    stored = session.execute(text("SELECT v FROM contacts_fts_config WHERE k = 'hashsize'")).scalar()
    before = FTS_DEFAULT_HASHSIZE if stored is None else int(stored)
    if before >= size:
        yield
        return
    setting = text("INSERT INTO contacts_fts(contacts_fts, rank) VALUES ('hashsize', :size)")
    session.execute(setting, {"size": size})
    yield
    session.execute(setting, {"size": before})
