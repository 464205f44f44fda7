"""CSV import (header mapping, validation per row, all valid rows or nothing, dry run, strict) and
the shared field mapping with the exporters (a CSV export imports back)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlmodel import func, select

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
