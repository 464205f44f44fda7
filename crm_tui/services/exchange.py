"""Contacts in and out of files: the one field mapping shared by CSV import and export, and the
CSV, JSON and vCard writers.

Export columns are the domain's field names in snake_case (the JSON keys, the CLI options);
import accepts those and the headers people's spreadsheets have, in English, German and Polish
("Nachname", "Vorname", "Firma", "E-Mail", "PLZ", "Ort", "Imię", "Miasto", ...). Headers are
compared folded (case, accents, spaces and punctuation ignored), so "E-Mail", "e_mail" and
"EMAIL" are one. A later vCard/ICS import reuses `FIELDS` and `contact_record`.

Writers stream: they take an iterable of records and a text stream, so an export of a million
contacts never holds them all in memory (`bulk.export_contacts` feeds them in windows).
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TextIO

from crm_tui.services.errors import ValidationError
from crm_tui.services.folding import strip_accents

FORMATS = ("csv", "json", "vcf")


@dataclass(frozen=True)
class ExchangeField:
    name: str
    """The domain field (a contact form field, a JSON key)."""
    aliases: tuple[str, ...] = ()
    """Other headers meaning this field (any case, accents and punctuation)."""
    importable: bool = True


FIELDS: tuple[ExchangeField, ...] = (
    ExchangeField("id", ("kontakt id", "contact id", "nr"), importable=False),
    ExchangeField("kind", ("type", "typ", "art", "kontaktart", "contact type", "rodzaj")),
    ExchangeField("name", ("nachname", "last name", "lastname", "surname", "family name",
                           "familienname", "nazwisko", "name 1")),
    ExchangeField("first_name", ("vorname", "first name", "firstname", "given name", "imie", "imię")),
    ExchangeField("company", ("firma", "unternehmen", "organisation", "organization", "company name",
                              "firmenname", "nazwa firmy", "firma nazwa")),
    ExchangeField("email", ("e-mail", "mail", "email address", "e-mail address", "e-mail-adresse",
                            "emailadresse", "adres email", "adres e-mail")),
    ExchangeField("phone", ("telefon", "tel", "telephone", "phone number", "telefonnummer",
                            "business phone", "telefon geschäftlich", "numer telefonu")),
    ExchangeField("mobile", ("mobil", "handy", "mobiltelefon", "mobile phone", "cell", "cell phone",
                             "mobilnummer", "telefon komórkowy", "komórka", "komorka")),
    ExchangeField("street", ("straße", "strasse", "str", "address", "adresse", "anschrift",
                             "street address", "ulica", "adres")),
    ExchangeField("postal_code", ("plz", "postleitzahl", "postal code", "postcode", "zip", "zip code",
                                  "kod pocztowy")),
    ExchangeField("city", ("ort", "stadt", "town", "wohnort", "miasto", "miejscowość", "miejscowosc")),
    ExchangeField("region", ("bundesland", "province", "kanton", "województwo", "wojewodztwo")),
    ExchangeField("country", ("land", "kraj", "staat")),
    ExchangeField("source", ("quelle", "herkunft", "lead source", "źródło", "zrodlo")),
    ExchangeField("description", ("beschreibung", "notes", "notizen", "note", "bemerkung",
                                  "bemerkungen", "kommentar", "comment", "opis", "uwagi")),
    ExchangeField("expected_revenue", ("revenue", "umsatz", "erwarteter umsatz", "jahresumsatz",
                                       "expected annual revenue", "przychód", "przychod")),
    ExchangeField("currency", ("währung", "wahrung", "waehrung", "waluta")),
    ExchangeField("contacted_on", ("kontaktiert am", "kontaktiert zum datum", "kontaktiert",
                                   "contacted", "last contacted", "data kontaktu")),
    ExchangeField("customer_number", ("kundennummer", "kundennr", "kunden nr", "customer no",
                                      "customer id", "numer klienta", "nr klienta")),
    ExchangeField("assigned_to", ("zugewiesen", "assignee", "owner", "zuständig", "zustandig",
                                  "betreuer", "przypisany", "opiekun")),
    ExchangeField("status", ("kontaktstatus",), importable=False),
    ExchangeField("state", ("aktivitätsstatus",), importable=False),
    # "state" is the activity state (overdue/today/...), as in every JSON listing; a region is
    # "region" or "Bundesland", so an exported file imports back without surprises.
    ExchangeField("created_at", ("created", "erstellt", "erstellt am"), importable=False),
    ExchangeField("lost_reason", ("verlustgrund", "powód"), importable=False),
)
"""Every exchanged field, in export column order."""

EXPORT_FIELDS = tuple(f.name for f in FIELDS)
IMPORT_FIELDS = tuple(f.name for f in FIELDS if f.importable)

_KIND_WORDS = {
    "person": "person", "privat": "person", "privatperson": "person", "osoba": "person",
    "individual": "person", "people": "person", "mensch": "person",
    "company": "company", "firma": "company", "unternehmen": "company", "organisation": "company",
    "organization": "company", "org": "company", "business": "company", "gesellschaft": "company",
}


def header_key(header: str) -> str:
    """Headers compared without case, accents, spaces and punctuation ("E-Mail" -> "email")."""
    return re.sub(r"[^a-z0-9]", "", strip_accents(header or ""))


_BY_HEADER: dict[str, ExchangeField] = {}
for _field in FIELDS:
    for _alias in (_field.name, *_field.aliases):
        _BY_HEADER.setdefault(header_key(_alias), _field)


def field_for_header(header: str) -> ExchangeField | None:
    return _BY_HEADER.get(header_key(header))


@dataclass(frozen=True)
class ColumnMapping:
    """How a file's header maps onto contact fields."""

    columns: tuple[tuple[int, str], ...]
    """(column index, field) for every imported column."""
    mapped: dict[str, str]
    """Header -> field, for the report."""
    ignored: tuple[str, ...]
    """Headers that are not imported (unknown, or export-only like id and status)."""


def map_headers(headers: list[str]) -> ColumnMapping:
    """Map a header row; ValidationError (field `columns`) if it cannot make contacts."""
    columns: list[tuple[int, str]] = []
    mapped: dict[str, str] = {}
    ignored: list[str] = []
    seen: dict[str, str] = {}
    for index, header in enumerate(headers):
        found = field_for_header(header)
        if found is None or not found.importable:
            if header.strip():
                ignored.append(header)
            continue
        if found.name in seen:
            raise ValidationError(
                "columns", f"{seen[found.name]!r} and {header!r} both mean {found.name}; keep one"
            )
        seen[found.name] = header
        columns.append((index, found.name))
        mapped[header] = found.name
    if "name" not in seen:
        names = ", ".join(["name", *next(f.aliases for f in FIELDS if f.name == "name")[:3]])
        raise ValidationError("columns", f"no column for the name (a header such as {names})")
    return ColumnMapping(tuple(columns), mapped, tuple(ignored))


def normalise_kind(value: str) -> str:
    """"Firma" -> company, "Person" -> person; anything else is returned for validation to refuse."""
    text = header_key(value)
    return _KIND_WORDS.get(text, value.strip())


def row_values(mapping: ColumnMapping, cells: list[str]) -> dict[str, str]:
    """The contact values of one CSV row: empty cells are left out (the field's default)."""
    values: dict[str, str] = {}
    for index, name in mapping.columns:
        if index < len(cells):
            text = cells[index].strip()
            if text:
                values[name] = normalise_kind(text) if name == "kind" else text
    return values


# -- records out -------------------------------------------------------------------------------


def text_value(value: object) -> str:
    """A value as a file holds it: amounts with two decimals, dates ISO 8601, None empty."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        from crm_tui.services.validation import money_text

        return money_text(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)


def contact_record(contact: Mapping[str, object]) -> dict[str, object]:
    """The exchanged fields of one contact (a mapping with the field names), in column order."""
    return {name: contact.get(name) for name in EXPORT_FIELDS}


def write_csv(records: Iterable[Mapping[str, object]], out: TextIO) -> int:
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(EXPORT_FIELDS)
    count = 0
    for record in records:
        writer.writerow([text_value(record.get(name)) for name in EXPORT_FIELDS])
        count += 1
    return count


def write_json(records: Iterable[Mapping[str, object]], out: TextIO) -> int:
    """One JSON array, written as it goes; amounts are strings with two decimals."""
    from crm_tui.services.dto import plain

    count = 0
    out.write("[")
    for record in records:
        out.write(",\n  " if count else "\n  ")
        out.write(json.dumps(plain(dict(record)), ensure_ascii=False))
        count += 1
    out.write("\n]\n" if count else "]\n")
    return count


# -- vCard 4.0 (RFC 6350): written by crm_tui.services.vcard ----------------------------------


def vcard(record: Mapping[str, object]) -> str:
    """One contact as a vCard 4.0 (`vcard.vcard`)."""
    from crm_tui.services.vcard import vcard as one_card

    return one_card(record)


def write_vcf(records: Iterable[Mapping[str, object]], out: TextIO) -> int:
    from crm_tui.services.vcard import write_vcf as write_cards

    return write_cards(records, out)


WRITERS = {"csv": write_csv, "json": write_json, "vcf": write_vcf}


def writer_for(fmt: str):
    key = (fmt or "").strip().lower()
    if key not in WRITERS:
        raise ValidationError("format", f"{fmt!r} is not one of {', '.join(FORMATS)}")
    return WRITERS[key]


def read_text(source: str | os.PathLike[str] | TextIO, kind: str) -> tuple[str, str]:
    """The text of an import file (or stream) and its encoding: UTF-8, with or without BOM,
    else Windows-1252 as old Excel writes it. A missing or unreadable file is a
    ValidationError on `file` (`kind` names what was expected: "a CSV file")."""
    if hasattr(source, "read"):
        return source.read(), "text"
    path = Path(source)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ValidationError("file", f"{path} does not exist") from None
    except IsADirectoryError:
        raise ValidationError("file", f"{path} is a folder, not {kind}") from None
    except OSError as error:
        raise ValidationError("file", f"{path}: {error.strerror}") from None
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace"), "cp1252"
