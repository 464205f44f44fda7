"""vCard 4.0 out and in: a round trip through a file keeps every field, cards from phones and
mail programs (vCard 2.1 and 3.0) import, bad cards are refused naming their line."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest

from crm_tui.config import RequiredSettings, Settings
from crm_tui.services import bulk
from crm_tui.services.bulk import Selection
from crm_tui.services.contacts import create_contact
from crm_tui.services.errors import ValidationError
from crm_tui.services.exchange import EXPORT_FIELDS, contact_record
from crm_tui.services.query import parse
from crm_tui.services.vcard import card_values, import_vcards, parse_vcards, vcard, write_vcf

LOOSE = Settings(required=RequiredSettings(prospect=("name",)))
KEPT = [f for f in EXPORT_FIELDS if f not in ("id", "status", "state", "created_at", "lost_reason")]
"""What a round trip keeps: an imported contact is new (id, created) and waits in the inbox."""


def add(db, actor, **values):
    values.setdefault("status", "customer")
    with db.write() as session:
        return create_contact(session, actor, values, settings=LOOSE, auto_plan=False).id


def records(db, actor, ids) -> list[dict]:
    with db.read() as session:
        return [contact_record(r) for r in bulk.export_records(session, actor, Selection.of(ids))]


def test_round_trip_keeps_every_field(db, people, frozen_now):
    frozen_now("2026-11-23T10:00:00+01:00")
    tester = people["tester"]
    ids = [
        add(db, tester, name="Müller", first_name="Jürgen", company="Bau; GmbH, Olpe",
            email="jm@bau.example", phone="02761 12345", mobile="+49 171 2345678",
            street="Kölner Str. 12", postal_code="57462", city="Olpe", region="NRW", country="DE",
            source="Messe", description="Zeile 1\nZeile 2; mit \\ Backslash, Komma " + "lang " * 30,
            expected_revenue="1.000,50", currency="EUR", contacted_on="2026-11-02",
            customer_number="K-2026-00042", assigned_to="anna"),
        add(db, tester, kind="company", name="Nowak Sp. z o.o.", city="Gdańsk", status="prospect",
            assigned_to="team:Nord"),
        add(db, tester, name="Solo"),
    ]
    before = records(db, tester, ids)
    out = io.StringIO(newline="")
    assert write_vcf(before, out) == 3
    text = out.getvalue()
    assert text.count("BEGIN:VCARD\r\nVERSION:4.0\r\n") == 3
    assert f"UID:urn:x-crm-tui:contact:{ids[0]}\r\n" in text
    assert "CATEGORIES:customer\r\n" in text and "CATEGORIES:prospect\r\n" in text
    assert "TEL;VALUE=text;TYPE=cell:+49 171 2345678\r\n" in text
    assert "ADR;TYPE=work:;;Kölner Str. 12;Olpe;NRW;57462;DE\r\n" in text
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))

    with db.write() as session:  # the customer number must be free again for the import
        bulk.delete(session, tester, Selection.of(ids))
    stream = io.StringIO(text)
    stream.name = "phone.vcf"
    with db.write() as session:
        report = import_vcards(session, tester, stream, settings=LOOSE)
    assert (report.imported, report.problems) == (3, ())
    after = records(db, tester, report.ids)
    assert [{f: r[f] for f in KEPT} for r in after] == [{f: r[f] for f in KEPT} for r in before]
    assert {r["status"] for r in after} == {"inbox"}
    assert after[0]["expected_revenue"] == Decimal("1000.50")


def test_cards_from_phones_and_mail_programs():
    text = (
        "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Nowak;Anna;;;\r\nFN:Anna Nowak\r\n"
        "ORG:Firma X;Vertrieb\r\nitem1.EMAIL;type=INTERNET;type=pref:anna@x.example\r\n"
        "TEL;TYPE=CELL:+48 600 100 200\r\nTEL;TYPE=WORK,VOICE:+48 58 1\r\n 23 45\r\n"
        "TEL;TYPE=FAX:+48 58 999\r\n"
        "ADR;TYPE=HOME:;;Długa 1;Gdańsk;pomorskie;80-001;Polska\r\nNOTE:Kundin seit 2020\\nVIP\r\nEND:VCARD\r\n"
        "BEGIN:VCARD\nVERSION:2.1\nN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:M=C3=BCller;J=C3=BCrgen\n"
        "TEL;CELL:0171 1\nEND:VCARD\n"
        "BEGIN:VCARD\nVERSION:4.0\nFN:Schmidt Bau GmbH\nX-ABShowAs:COMPANY\nEND:VCARD\n"
        "BEGIN:VCARD\nVERSION:4.0\nFN:Eva Maria Schulz\nEND:VCARD\n"
    )
    cards = parse_vcards(text)
    assert [c.line for c in cards] == [1, 14, 19, 24]
    assert card_values(cards[0]) == {
        "kind": "person", "name": "Nowak", "first_name": "Anna", "company": "Firma X",
        "email": "anna@x.example", "mobile": "+48 600 100 200", "phone": "+48 58 123 45",
        "street": "Długa 1", "city": "Gdańsk", "region": "pomorskie", "postal_code": "80-001",
        "country": "Polska", "description": "Kundin seit 2020\nVIP",
    }
    assert card_values(cards[1]) == {"kind": "person", "name": "Müller", "first_name": "Jürgen",
                                     "mobile": "0171 1"}
    assert card_values(cards[2]) == {"kind": "company", "name": "Schmidt Bau GmbH"}
    assert card_values(cards[3]) == {"kind": "person", "name": "Schulz", "first_name": "Eva Maria"}


def test_one_card_as_text():
    text = vcard({"id": 7, "kind": "company", "name": "Nowak; Sp.", "status": "customer"})
    assert text == ("BEGIN:VCARD\r\nVERSION:4.0\r\nUID:urn:x-crm-tui:contact:7\r\nKIND:org\r\n"
                    "FN:Nowak\\; Sp.\r\nN:;;;;\r\nORG:Nowak\\; Sp.\r\nCATEGORIES:customer\r\nEND:VCARD\r\n")


def test_bad_cards_are_named_by_line_and_nothing_else_breaks(db, people):
    text = (
        "BEGIN:VCARD\nVERSION:4.0\nFN:Gut\nEND:VCARD\n"
        "BEGIN:VCARD\nVERSION:4.0\nFN:Schlecht\nEMAIL:not-an-address\nEND:VCARD\n"
        "BEGIN:VCARD\nVERSION:4.0\nNOTE:no name at all\nEND:VCARD\n"
    )
    with db.write() as session:
        report = import_vcards(session, people["tester"], io.StringIO(text), settings=LOOSE)
    assert report.imported == 1
    assert [(p.line, p.field) for p in report.problems] == [(5, "email"), (10, "name")]
    with pytest.raises(ValidationError) as error, db.write() as session:
        import_vcards(session, people["tester"], io.StringIO("hello"), settings=LOOSE)
    assert error.value.field == "file"


def test_export_contacts_as_vcf_uses_this_writer(db, people):
    add(db, people["tester"], name="Solo", customer_number="K-1")
    out = io.StringIO()
    with db.read() as session:
        bulk.export_contacts(session, people["tester"], Selection.matching(parse("status:all")), "vcf", out)
    assert "X-CRM-CUSTOMER-NUMBER:K-1\r\n" in out.getvalue() and "CATEGORIES:customer" in out.getvalue()
