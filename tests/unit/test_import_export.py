"""CSV import (header mapping, validation per row, all valid rows or nothing, dry run, strict) and
the shared field mapping with the exporters (a CSV export imports back)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlmodel import func, select, text

from crm_tui.config import RequiredSettings, Settings
from crm_tui.models import Contact, HistoryEntry
from crm_tui.services import bulk
from crm_tui.services.bulk import Selection
from crm_tui.services.contacts import create_contact, get_contact
from crm_tui.services.errors import ValidationError
from crm_tui.services.exchange import field_for_header, map_headers
from crm_tui.services.importer import import_contacts
from crm_tui.services.query import parse

LOOSE = Settings(required=RequiredSettings(prospect=("name",)))

GERMAN = """\
Nachname;Vorname;Firma;E-Mail;Telefon;Mobil;Straße;PLZ;Ort;Bundesland;Land;Quelle;Beschreibung;Kundennummer;Zugewiesen;Umsatz;Art
Müller;Jürgen;Müller Bau GmbH;jm@mueller-bau.de;02761 12345;;Hauptstraße 1;57462;Olpe;NRW;DE;Messe;"Zwei
Zeilen";K-1;anna;1.000,50;Person
Kowalski;Jan;;jan@@kowalski.pl;;;;;Gdańsk;;PL;;;;;;
Schröder & Söhne GmbH;;;info@schroeder.de;;0171 1234567;;;Köln;;DE;;;;team:Nord;;Firma
"""


def rows_in(db) -> int:
    with db.read() as session:
        return session.exec(select(func.count()).select_from(Contact)).one()


def run(db, actor, source, **options):
    options.setdefault("settings", LOOSE)
    with db.write() as session:
        return import_contacts(session, actor, source, **options)


def test_header_names_in_three_languages():
    for header, field in [("Nachname", "name"), ("E-Mail", "email"), ("e_mail", "email"), ("PLZ", "postal_code"),
                          ("Straße", "street"), ("Ort", "city"), ("Stadt", "city"), ("Bundesland", "region"),
                          ("Imię", "first_name"), ("Miasto", "city"), ("Kod pocztowy", "postal_code"),
                          ("Kundennummer", "customer_number"), ("first name", "first_name"), ("Zip", "postal_code")]:
        assert field_for_header(header).name == field, header
    assert field_for_header("Lieblingsfarbe") is None
    with pytest.raises(ValidationError) as caught:
        map_headers(["Vorname", "Ort"])
    assert caught.value.field == "columns" and "no column for the name" in caught.value.message
    with pytest.raises(ValidationError, match="both mean name"):
        map_headers(["Name", "Nachname"])


def test_valid_rows_go_to_the_inbox_invalid_ones_are_listed(db, people, frozen_now):
    frozen_now("2026-11-23T10:00:00+01:00")
    report = run(db, people["tester"], io.StringIO(GERMAN))
    assert (report.rows, report.valid, report.imported, report.delimiter) == (3, 2, 2, ";")
    [problem] = report.problems
    assert (problem.line, problem.field) == (4, "email")  # the quoted field spans lines 2-3
    assert problem.text() == "line 4: email: 'jan@@kowalski.pl' is not an e-mail address"
    assert report.columns["Zugewiesen"] == "assigned_to" and report.ignored_columns == ()
    with db.read() as session:
        first, second = (get_contact(session, people["tester"], i) for i in report.ids)
        history = session.exec(select(HistoryEntry).where(HistoryEntry.contact_id == first.id)).one()
    assert (first.status, first.kind, first.assigned_to, first.customer_number) == ("inbox", "person", "anna", "K-1")
    assert str(first.expected_revenue) == "1000.50" and first.description == "Zwei\nZeilen"
    assert first.locked_by is None  # imported contacts are nobody's find
    assert (second.kind, second.assigned_to, second.mobile) == ("company", "team:Nord", "0171 1234567")
    assert (history.action, history.new_value, history.note) == ("create", "inbox", "imported from <stream> line 2")
    with db.read() as session:  # derived columns are filled as a form would fill them
        contact = session.get(Contact, first.id)
        assert contact.search_key and contact.name_key == "jurgen muller" and contact.phone_key == "0276112345"
    with db.read() as session:
        from crm_tui.services.contacts import list_contacts

        assert [r.id for r in list_contacts(session, people["tester"], parse("schroeder"))] == [second.id]


def test_dry_run_and_strict_write_nothing(db, people):
    report = run(db, people["tester"], io.StringIO(GERMAN), dry_run=True)
    assert (report.valid, report.imported, report.invalid) == (2, 0, 1)
    report = run(db, people["tester"], io.StringIO(GERMAN), strict=True)
    assert (report.valid, report.imported, report.invalid) == (2, 0, 1)
    assert rows_in(db) == 0


def test_customer_numbers_are_unique_in_the_file_and_the_database(db, people):
    with db.write() as session:
        create_contact(session, people["tester"], {"name": "Old", "status": "customer", "customer_number": "K-9"},
                       settings=LOOSE, auto_plan=False)
    text = "name,customer_number\nA,K-1\nB,K-1\nC,K-9\nD,K-2\n"
    report = run(db, people["tester"], io.StringIO(text))
    assert [(p.line, p.field, p.message) for p in report.problems] == [
        (3, "customer_number", "'K-1' is on line 2 too"),
        (4, "customer_number", "'K-9' already belongs to contact 1"),
    ]
    assert report.imported == 2


def test_unusable_files_write_nothing(db, people, tmp_path: Path):
    with pytest.raises(ValidationError, match="does not exist"):
        run(db, people["tester"], tmp_path / "missing.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ValidationError, match="is empty"):
        run(db, people["tester"], empty)
    with pytest.raises(ValidationError) as caught:
        run(db, people["tester"], io.StringIO("Vorname,Ort\nJan,Olpe\n"))
    assert caught.value.field == "columns"
    assert rows_in(db) == 0


def test_rows_with_extra_cells_and_windows_encoding(db, people, tmp_path: Path):
    path = tmp_path / "excel.csv"
    path.write_bytes("Name\tOrt\nMüller\tKöln\nZu\tviele\tZellen\n\n".encode("cp1252"))
    report = run(db, people["tester"], path)
    assert (report.encoding, report.delimiter, report.imported) == ("cp1252", "\t", 1)
    assert [(p.line, p.field) for p in report.problems] == [(3, "columns")]
    with db.read() as session:
        assert get_contact(session, people["tester"], report.ids[0]).city == "Köln"
    bom = tmp_path / "bom.csv"
    bom.write_bytes("\ufeffName,E-Mail\nA,a@a.de\n".encode())
    assert run(db, people["tester"], bom).imported == 1


def test_an_export_imports_back(db, people, frozen_now):
    frozen_now("2026-11-23T10:00:00+01:00")
    t = people["tester"]
    with db.write() as session:
        create_contact(session, t, {
            "name": "Nowak", "first_name": "Łukasz", "company": "Nowak, Kowalski i S-ka", "email": "l@nowak.pl",
            "phone": "+48 22 123 45 67", "city": "Łódź", "postal_code": "90-001", "country": "PL",
            "expected_revenue": "12345.60", "contacted_on": "2026-11-02", "description": "a\nb",
            "customer_number": "K-77", "assigned_to": "anna", "status": "customer",
        }, settings=LOOSE, auto_plan=False)
    out = io.StringIO()
    with db.read() as session:
        bulk.export_contacts(session, t, Selection.matching(parse("")), "csv", out)
    exported = out.getvalue().replace("K-77", "K-78")  # a customer number is unique
    report = run(db, t, io.StringIO(exported))
    assert report.imported == 1 and report.problems == ()
    assert set(report.ignored_columns) == {"id", "status", "state", "created_at", "lost_reason"}
    with db.read() as session:
        original, copy = (get_contact(session, t, i).form_values() for i in (1, report.ids[0]))
    assert copy.pop("status") == "inbox" and original.pop("status") == "customer"
    assert copy.pop("customer_number") == "K-78" and original.pop("customer_number") == "K-77"
    assert copy == original


def test_two_thousand_rows_in_one_transaction(db, people):
    lines = ["name,email,phone"] + [f"N{i},n{i}@x{i}.de,0271 {100000 + i}" for i in range(2000)]
    lines.insert(1500, "Broken,not-an-address,")
    report = run(db, people["tester"], io.StringIO("\n".join(lines)))
    assert (report.imported, [p.line for p in report.problems]) == (2000, [1501])
    assert rows_in(db) == 2000
    with db.read() as session:
        assert session.exec(select(func.count()).select_from(HistoryEntry)).one() == 2000
    with pytest.raises(RuntimeError):
        with db.write() as session:  # the caller's transaction fails after the import: all gone
            import_contacts(session, people["tester"], io.StringIO("\n".join(lines)), settings=LOOSE)
            raise RuntimeError("disk full")
    assert rows_in(db) == 2000


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_TEXT = st.text(alphabet=st.sampled_from(list("aAzZ09 -.@+()/äöüÄÖÜßẞłŁøæœþıéèçñåÅ'ĳﬁ²İ\u0301\u00a0Жж漢")), max_size=25)


@settings(max_examples=300, deadline=None)
@given(parts=st.tuples(_TEXT, _TEXT, _TEXT, _TEXT, _TEXT, _TEXT), phones=st.tuples(_TEXT, _TEXT))
def test_the_fast_search_key_is_the_search_key(parts, phones):
    """Imports build the search key through a cache with an ASCII shortcut: it must be the very
    key `folding.search_key` builds, or full-text search would miss imported contacts."""
    from crm_tui.services.contacts import fast_search_key
    from crm_tui.services.folding import search_key

    assert fast_search_key(parts, phones) == search_key(*parts, phones=phones)


# -- many rows: windows written while the next ones are checked ---------------------------------


@pytest.fixture
def small_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Windows of a few rows, so that a small file crosses many of them (and the full-text
    index is filled by several statements)."""
    from crm_tui.services import importer

    monkeypatch.setattr(importer, "FIRST_WINDOW_ROWS", 3)
    monkeypatch.setattr(importer, "WINDOW_ROWS", 7)
    monkeypatch.setattr(importer, "WINDOWS_AHEAD", 2)
    monkeypatch.setattr(importer, "FTS_EVERY_ROWS", 10)


MANY = 60
BAD_EMAIL = {7, 23, 48}
"""Rows (0-based) with an address that is not one."""


def many_rows(taken_number: str) -> str:
    """A file of MANY rows (line = row + 2): assignees, amounts, dates and customer numbers, and
    problems spread over the windows."""
    lines = ["Nachname;Vorname;E-Mail;Telefon;Ort;Kundennummer;Zugewiesen;Umsatz;Kontaktiert"]
    for i in range(MANY):
        email = "kaputt" if i in BAD_EMAIL else f"p{i}@firma{i}.de"
        number = {25: "K-4", 40: taken_number}.get(i, f"K-{i}" if i % 4 == 0 else "")
        assignee = {33: "nobody"}.get(i, ("anna", "team:Nord", "")[i % 3])
        amount = "1.000,50" if i % 5 == 0 else ""
        contacted = "2026-11-02" if i % 6 == 0 else ""
        city = "Köln" if i == MANY - 1 else "Olpe"  # one value in all rows of a window but one
        lines.append(f"Importowski{i};Jürgen;{email};0271 {100000 + i};{city};{number};{assignee};"
                     f"{amount};{contacted}")
    return "\n".join(lines) + "\n"


def run_named(db, actor, text: str, name: str, **options):
    stream = io.StringIO(text)
    stream.name = name
    return run(db, actor, stream, **options)


def test_many_windows_import_every_valid_row_as_a_form_would(db, people, small_windows, frozen_now):
    from crm_tui.services.conflicts import data_version
    from crm_tui.services.contacts import DERIVED_SOURCES, derived_values, list_contacts

    frozen_now("2026-11-23T10:00:00+01:00")
    t = people["tester"]
    with db.write() as session:
        old = create_contact(session, t, {"name": "Old", "status": "customer", "customer_number": "K-900"},
                             settings=LOOSE, auto_plan=False)
    with db.read() as session:
        before = data_version(session)
    report = run_named(db, t, many_rows("K-900"), "many.csv")
    expected = {i + 2: "email" for i in BAD_EMAIL} | {35: "assigned_to", 27: "customer_number",
                                                       42: "customer_number"}
    assert {p.line: p.field for p in report.problems} == expected
    assert [p.message for p in report.problems if p.line in (27, 35, 42)] == [
        "'K-4' is on line 6 too",
        "no user with login 'nobody' (or team; write team:NAME)",
        f"'K-900' already belongs to contact {old.id}",
    ]
    assert (report.rows, report.valid, report.imported) == (MANY, MANY - 6, MANY - 6)
    assert list(report.ids) == sorted(report.ids)
    with db.read() as session:
        assert data_version(session) != before
    lines = [i + 2 for i in range(MANY) if i + 2 not in expected]
    with db.read() as session:
        contacts = [session.get(Contact, i) for i in report.ids]
        notes = {h.contact_id: (h.subject, h.note, h.new_value) for h in session.exec(
            select(HistoryEntry).where(HistoryEntry.action == "create")).all()}
        details = {c.id: get_contact(session, t, c.id) for c in contacts}
        found = list_contacts(session, t, parse("importowski59"))
    for contact, line in zip(contacts, lines, strict=True):
        i = line - 2
        assert (contact.name, contact.status, contact.version) == (f"Importowski{i}", "inbox", 1)
        assert contact.city == ("Köln" if i == MANY - 1 else "Olpe")
        assert contact.customer_number == (f"K-{i}" if i % 4 == 0 else None)
        assert details[contact.id].assigned_to == ("anna", "team:Nord", None)[i % 3]
        assert str(contact.expected_revenue) == ("1000.50" if i % 5 == 0 else "None")
        assert str(contact.contacted_on) == ("2026-11-02" if i % 6 == 0 else "None")
        assert contact.created_at == frozen_now("2026-11-23T10:00:00+01:00")
        # Every stored column in its place: the derived ones are what the fields give.
        derived = derived_values({f: getattr(contact, f) for f in DERIVED_SOURCES})
        assert {name: getattr(contact, name) for name in derived} == derived
        assert notes[contact.id] == (f"contact {contact.id} Importowski{i}, Jürgen",
                                     f"imported from many.csv line {line}", "inbox")
    assert [r.id for r in found] == [contacts[-1].id]


def test_strict_writes_nothing_for_a_bad_row_in_the_last_window(db, people, small_windows):
    lines = ["name,email"] + [f"N{i},n{i}@x.de" for i in range(40)] + ["Last,not-an-address"]
    seen: list[tuple[int, int]] = []
    report = run(db, people["tester"], io.StringIO("\n".join(lines)), strict=True,
                 progress=lambda done, total: seen.append((done, total)))
    assert (report.valid, report.imported, [p.line for p in report.problems]) == (40, 0, [42])
    assert rows_in(db) == 0
    assert seen[-1] == (41, 41) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    seen.clear()
    report = run(db, people["tester"], io.StringIO("\n".join(lines[:-1])), strict=True,
                 progress=lambda done, total: seen.append((done, total)))
    assert report.imported == 40 and rows_in(db) == 40
    start = seen.index((0, 40))  # rows checked, then rows written
    assert seen[start - 1] == (40, 40) and seen[-1] == (40, 40)
    assert [d for d, _ in seen[start:]] == sorted(d for d, _ in seen[start:])


def test_progress_counts_rows_checked_and_written_in_one_pass(db, people, small_windows):
    lines = ["name"] + [f"N{i}" for i in range(30)] + ["", ""]  # blank lines are no rows
    seen: list[tuple[int, int]] = []
    report = run(db, people["tester"], io.StringIO("\n".join(lines)),
                 progress=lambda done, total: seen.append((done, total)))
    assert report.rows == report.imported == 30
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert all(done <= total for done, total in seen) and seen[-1] == (30, 30)


def test_a_dry_run_reads_only(db, people, small_windows):
    """The app checks a file in a read-only transaction: assignees and customer numbers are
    looked up, nothing is written (SQLite's read engine refuses writes)."""
    with db.write() as session:
        create_contact(session, people["tester"], {"name": "Old", "status": "customer", "customer_number": "K-900"},
                       settings=LOOSE, auto_plan=False)
    with db.read() as session:
        report = import_contacts(session, people["tester"], io.StringIO(many_rows("K-900")), dry_run=True,
                                 settings=LOOSE)
    assert (report.valid, report.imported, report.invalid) == (MANY - 6, 0, 6)
    assert rows_in(db) == 1


def fts_hashsize(session) -> int | None:
    value = session.exec(text("SELECT v FROM contacts_fts_config WHERE k = 'hashsize'")).scalar()
    return None if value is None else int(value)


def test_sqlite_settings_and_triggers_are_as_before_after_an_import(sqlite_db, small_windows):
    """The import suspends the full-text and change-counter row triggers and enlarges the page
    cache and the FTS5 buffer: all of it as it was afterwards, the index complete."""
    from tests.unit.conftest import make_team

    people = make_team(sqlite_db)

    def state():
        with sqlite_db.write() as session:
            return (
                session.exec(text("PRAGMA cache_size")).scalar(),
                fts_hashsize(session) or 1024 * 1024,
                sorted(session.exec(text("SELECT sql FROM sqlite_master WHERE type = 'trigger'")).scalars()),
            )

    before = state()
    report = run(sqlite_db, people["tester"], io.StringIO(many_rows("K-900")))
    assert report.imported == MANY - 5
    assert state() == before
    with sqlite_db.write() as session:  # the full-text index holds exactly the contacts' rows
        session.exec(text("INSERT INTO contacts_fts(contacts_fts) VALUES ('integrity-check')"))


def test_a_database_error_while_writing_rolls_everything_back(sqlite_db, small_windows):
    """An error in the writing thread is raised as SQLAlchemy raises it (the fronts turn a
    DBAPIError into a message), after it has stopped; the transaction is rolled back whole."""
    from sqlalchemy.exc import IntegrityError

    from tests.unit.conftest import make_team

    people = make_team(sqlite_db)
    with sqlite_db.write() as session:
        session.exec(text("CREATE TRIGGER refuse_boom BEFORE INSERT ON contacts WHEN NEW.name = 'Boom' "
                          "BEGIN SELECT RAISE(ABORT, 'no Boom here'); END"))
    lines = ["name"] + [f"N{i}" for i in range(30)] + ["Boom"] + [f"M{i}" for i in range(30)]
    with pytest.raises(IntegrityError, match="no Boom here"):
        run(sqlite_db, people["tester"], io.StringIO("\n".join(lines)))
    assert rows_in(sqlite_db) == 0
    with sqlite_db.read() as session:
        assert session.exec(select(func.count()).select_from(HistoryEntry)).one() == 0
    with sqlite_db.write() as session:  # the connection's page cache is back to its size
        assert session.exec(text("PRAGMA cache_size")).scalar() == -2000
    report = run(sqlite_db, people["tester"], io.StringIO("\n".join(line for line in lines if line != "Boom")))
    assert report.imported == 60 and rows_in(sqlite_db) == 60
    with sqlite_db.write() as session:
        session.exec(text("INSERT INTO contacts_fts(contacts_fts) VALUES ('integrity-check')"))


def test_assignees_are_resolved_once_with_their_refusals(db, people):
    from crm_tui.services.contacts import clean_values, resolve_assignees

    with db.read() as session:
        cache = resolve_assignees(session, ["anna", " team:Nord ", "nobody", "anna"])
    assert set(cache) == {"anna", "team:Nord", "nobody"}
    # With the cache, no session is needed; a refusal is the message a form shows.
    cleaned = clean_values(None, people["tester"], {"assigned_to": "team:Nord"}, LOOSE, assignees=cache)
    assert cleaned["assigned_user_id"] is None and cleaned["assigned_team_id"] is not None
    for _ in range(2):
        with pytest.raises(ValidationError) as caught:
            clean_values(None, people["tester"], {"assigned_to": "nobody"}, LOOSE, assignees=cache)
        assert (caught.value.field, caught.value.message) == (
            "assigned_to", "no user with login 'nobody' (or team; write team:NAME)")


@settings(max_examples=300, deadline=None)
@given(phones=st.tuples(_TEXT, _TEXT), name=_TEXT)
def test_the_derived_phone_columns_are_the_phone_keys(phones, name):
    """`derived_values` works out each number's forms once for the search key, the digits and
    the duplicate keys: each column as its own function gives it."""
    from crm_tui.services.contacts import derived_values
    from crm_tui.services.duplicates import duplicate_keys, phone_key
    from crm_tui.services.folding import digits, search_key

    phone, mobile = phones
    row = {"name": name, "phone": phone, "mobile": mobile}
    derived = derived_values(row)
    assert derived["phone_digits"] == " ".join(d for d in (digits(phone), digits(mobile)) if d)
    assert (derived["phone_key"], derived["mobile_key"]) == (phone_key(phone), phone_key(mobile))
    assert derived["search_key"] == search_key(name, "", "", "", "", "", phones=(phone, mobile))
    assert {k: derived[k] for k in duplicate_keys(row)} == duplicate_keys(row)


def test_a_row_unreadable_as_csv_after_others_were_written_leaves_nothing(db, people, small_windows):
    """Rows are parsed as they are written: a row Python's csv module cannot read (a cell over
    its field limit) fails the whole import, with the rows before it rolled back."""
    lines = ["name,description"] + [f"N{i},ok" for i in range(30)] + ["Long," + "x" * 200_000]
    with pytest.raises(ValidationError) as caught:
        run(db, people["tester"], io.StringIO("\n".join(lines)))
    assert caught.value.field == "file" and "line 32: not readable as CSV" in caught.value.message
    assert rows_in(db) == 0
