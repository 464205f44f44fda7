"""Contacts as vCards (RFC 6350, version 4.0): writing for address books and phones, reading
one or many cards per file (`crm import contacts FILE.vcf`, `crm export contacts --format vcf`).

One field mapping with CSV: cards are written from, and read into, the records of
`exchange.FIELDS` (the domain's field names), and a read file goes through the CSV importer
(`importer.import_contacts`): the same validation, the inbox, the history rows, the report.

Written per contact:
  UID (urn:x-crm-tui:contact:ID) · KIND individual|org · FN · N family;given · ORG · EMAIL ·
  TEL work,voice (phone) and cell (mobile) · ADR street;city;region;postal code;country · NOTE
  (description) · CATEGORIES (the status) · and, for a lossless round trip, X-CRM-CUSTOMER-NUMBER,
  X-CRM-SOURCE, X-CRM-EXPECTED-REVENUE, X-CRM-CURRENCY, X-CRM-CONTACTED-ON, X-CRM-ASSIGNED-TO.
Read from vCard 2.1, 3.0 and 4.0 (what phones and mail programs export): folded lines, group
prefixes (item1.TEL), TYPE parameters in any spelling (TYPE=CELL, TYPE=work,voice, bare CELL),
QUOTED-PRINTABLE values, a person with only FN ("Anna Nowak"), Apple's X-ABSHOWAS:COMPANY.
The status (CATEGORIES) and UID are not imported: imported contacts wait in the inbox.
"""

from __future__ import annotations

import io
import os
import quopri
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TextIO

from crm_tui.services.errors import ValidationError
from crm_tui.services.exchange import IMPORT_FIELDS, normalise_kind, read_text, text_value

UID_PREFIX = "urn:x-crm-tui:contact:"
EXTRA_FIELDS = {
    "customer_number": "X-CRM-CUSTOMER-NUMBER",
    "source": "X-CRM-SOURCE",
    "expected_revenue": "X-CRM-EXPECTED-REVENUE",
    "currency": "X-CRM-CURRENCY",
    "contacted_on": "X-CRM-CONTACTED-ON",
    "assigned_to": "X-CRM-ASSIGNED-TO",
}
"""Contact fields vCard has no property for, as X- properties (RFC 6350 6.10)."""
_BY_EXTRA = {prop: name for name, prop in EXTRA_FIELDS.items()}


# -- writing -----------------------------------------------------------------------------------


def escape(value: object) -> str:
    """A text value as vCard writes it: backslash, comma, semicolon and newlines escaped."""
    text = text_value(value)
    return (text.replace("\\", "\\\\").replace(",", "\\,").replace(";", "\\;")
            .replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n"))


def fold(line: str) -> str:
    """Lines longer than 75 octets continue on the next line after a space (RFC 6350 3.2),
    never inside a UTF-8 character."""
    data = line.encode("utf-8")
    if len(data) <= 75:
        return line + "\r\n"
    parts = []
    current = ""
    size = 0
    limit = 75
    for ch in line:
        width = len(ch.encode("utf-8"))
        if size + width > limit:
            parts.append(current)
            current, size, limit = "", 0, 74  # continuation lines start with a space
        current += ch
        size += width
    parts.append(current)
    return "\r\n ".join(parts) + "\r\n"


def vcard(record: Mapping[str, object]) -> str:
    """One contact (an `exchange.contact_record`) as a vCard 4.0."""
    company = record.get("kind") == "company"
    name, first = text_value(record.get("name")), text_value(record.get("first_name"))
    display = name if company or not first else f"{first} {name}"
    lines = ["BEGIN:VCARD", "VERSION:4.0"]
    if record.get("id") is not None:
        lines.append(f"UID:{UID_PREFIX}{record['id']}")
    lines.append(f"KIND:{'org' if company else 'individual'}")
    lines.append(f"FN:{escape(display)}")
    if company:
        lines.append("N:;;;;")
        lines.append(f"ORG:{escape(name)}")
    else:
        lines.append(f"N:{escape(name)};{escape(first)};;;")
        if record.get("company"):
            lines.append(f"ORG:{escape(record['company'])}")
    if record.get("email"):
        lines.append(f"EMAIL;TYPE=work:{escape(record['email'])}")
    if record.get("phone"):
        lines.append(f"TEL;VALUE=text;TYPE=work,voice:{escape(record['phone'])}")
    if record.get("mobile"):
        lines.append(f"TEL;VALUE=text;TYPE=cell:{escape(record['mobile'])}")
    address = [record.get(k) for k in ("street", "city", "region", "postal_code", "country")]
    if any(address):
        street, city, region, postal, country = (escape(v) for v in address)
        lines.append(f"ADR;TYPE=work:;;{street};{city};{region};{postal};{country}")
    if record.get("description"):
        lines.append(f"NOTE:{escape(record['description'])}")
    if record.get("status"):
        lines.append(f"CATEGORIES:{escape(record['status'])}")
    for name_, prop in EXTRA_FIELDS.items():
        value = record.get(name_)
        if value not in (None, ""):
            lines.append(f"{prop}:{escape(value)}")
    lines.append("END:VCARD")
    return "".join(fold(line) for line in lines)


def write_vcf(records: Iterable[Mapping[str, object]], out: TextIO) -> int:
    """Every record as a vCard, one after the other; returns how many were written."""
    count = 0
    for record in records:
        out.write(vcard(record))
        count += 1
    return count


# -- reading -----------------------------------------------------------------------------------


@dataclass
class Property:
    name: str
    params: dict[str, list[str]]
    value: str
    """Raw (still escaped) value."""

    @property
    def types(self) -> set[str]:
        found = set()
        for key, values in self.params.items():
            if key == "TYPE":
                found.update(v.lower() for value in values for v in value.split(","))
            elif not values:  # vCard 2.1: TEL;CELL:...
                found.add(key.lower())
        return found


@dataclass
class Card:
    line: int
    """The line of its BEGIN:VCARD (the file's first line is 1)."""
    properties: list[Property] = field(default_factory=list)

    def all(self, name: str) -> list[Property]:
        return [p for p in self.properties if p.name == name]

    def first(self, name: str) -> Property | None:
        found = self.all(name)
        return found[0] if found else None


def unescape(value: str) -> str:
    out = []
    chars = iter(value)
    for ch in chars:
        if ch == "\\":
            nxt = next(chars, "")
            out.append("\n" if nxt in ("n", "N") else nxt)
        else:
            out.append(ch)
    return "".join(out)


def components(value: str) -> list[str]:
    """A structured value (N, ADR, ORG) split at unescaped semicolons, each part unescaped."""
    parts, current, chars = [], [], iter(value)
    for ch in chars:
        if ch == "\\":
            current.append(ch + next(chars, ""))
        elif ch == ";":
            parts.append(unescape("".join(current)))
            current = []
        else:
            current.append(ch)
    parts.append(unescape("".join(current)))
    return parts


_NAME = re.compile(r"^(?:[A-Za-z0-9-]+\.)?([A-Za-z0-9-]+)")


def _parse_line(text: str) -> Property | None:
    """NAME;PARAM=a,b;PARAM2="x:y":value (a colon inside quotes is not the separator)."""
    quoted = False
    colon = -1
    for index, ch in enumerate(text):
        if ch == '"':
            quoted = not quoted
        elif ch == ":" and not quoted:
            colon = index
            break
    if colon < 0:
        return None
    head, value = text[:colon], text[colon + 1:]
    pieces = re.split(r';(?=(?:[^"]*"[^"]*")*[^"]*$)', head)
    match = _NAME.match(pieces[0])
    if not match:
        return None
    params: dict[str, list[str]] = {}
    for piece in pieces[1:]:
        key, sep, raw = piece.partition("=")
        values = [v.strip('"') for v in re.split(r',(?=(?:[^"]*"[^"]*")*[^"]*$)', raw)] if sep else []
        params.setdefault(key.strip().upper(), []).extend(values)
    prop = Property(match.group(1).upper(), params, value)
    encoding = [v.upper() for v in params.get("ENCODING", [])]
    if "QUOTED-PRINTABLE" in encoding:
        charset = (params.get("CHARSET") or ["utf-8"])[0]
        raw = quopri.decodestring(value.encode("ascii", errors="replace"))
        prop.value = raw.decode(charset, errors="replace")
    return prop


def parse_vcards(text: str) -> list[Card]:
    """Every card in `text`. Lines are unfolded (a line starting with a space or tab continues
    the one before; a vCard 2.1 quoted-printable value ending in "=" continues too)."""
    physical = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    logical: list[tuple[int, str]] = []
    for number, line in enumerate(physical, start=1):
        if line[:1] in (" ", "\t") and logical:
            start, previous = logical[-1]
            logical[-1] = (start, previous + line[1:])
        elif logical and logical[-1][1].endswith("=") and "QUOTED-PRINTABLE" in logical[-1][1].upper():
            start, previous = logical[-1]
            logical[-1] = (start, previous + "\n" + line)
        elif line.strip():
            logical.append((number, line))
    cards: list[Card] = []
    current: Card | None = None
    for number, line in logical:
        upper = line.strip().upper()
        if upper == "BEGIN:VCARD":
            current = Card(number)
            continue
        if upper == "END:VCARD":
            if current is not None:
                cards.append(current)
            current = None
            continue
        if current is None:
            continue
        prop = _parse_line(line)
        if prop is not None:
            current.properties.append(prop)
    return cards


def _person_name(display: str) -> tuple[str, str]:
    """"Anna Nowak" -> ("Nowak", "Anna"); "Nowak, Anna" -> ("Nowak", "Anna")."""
    text = display.strip()
    if "," in text:
        last, _, first = text.partition(",")
        return last.strip(), first.strip()
    words = text.split()
    if len(words) < 2:
        return text, ""
    return words[-1], " ".join(words[:-1])


def card_values(card: Card) -> dict[str, str]:
    """The contact fields of one card (`exchange` field names; empty ones left out)."""
    values: dict[str, str] = {}
    kind_prop = card.first("KIND")
    shows_as = card.first("X-ABSHOWAS")
    is_company = bool(
        (kind_prop and unescape(kind_prop.value).strip().lower() in ("org", "organization", "group"))
        or (shows_as and unescape(shows_as.value).strip().upper() == "COMPANY")
    )
    org = card.first("ORG")
    org_name = next((part for part in components(org.value) if part.strip()), "").strip() if org else ""
    n = card.first("N")
    family, given = "", ""
    if n is not None:
        parts = components(n.value) + ["", ""]
        family, given = parts[0].strip(), parts[1].strip()
    fn = card.first("FN")
    display = unescape(fn.value).strip() if fn else ""
    if not family and not given and not is_company and display:
        if org_name and display == org_name:
            is_company = True
        else:
            family, given = _person_name(display)
    if not family and not given and org_name:
        is_company = True
    if is_company:
        values["kind"] = "company"
        values["name"] = org_name or display or family
    else:
        values["kind"] = "person"
        values["name"] = family or given
        if family and given:
            values["first_name"] = given
        if org_name:
            values["company"] = org_name
    emails = card.all("EMAIL")
    if emails:
        preferred = next((e for e in emails if "pref" in e.types or "PREF" in e.params), emails[0])
        values["email"] = unescape(preferred.value).strip().removeprefix("mailto:")
    for tel in card.all("TEL"):
        number = unescape(tel.value).strip().removeprefix("tel:")
        if not number:
            continue
        key = "mobile" if tel.types & {"cell", "mobile", "iphone"} else "phone"
        if key == "phone" and "fax" in tel.types:
            continue
        values.setdefault(key, number)
    addresses = card.all("ADR")
    if addresses:
        chosen = next((a for a in addresses if "work" in a.types), addresses[0])
        parts = components(chosen.value) + [""] * 7
        street = ", ".join(p.strip() for p in parts[1:3] if p.strip())
        for name, value in (("street", street), ("city", parts[3]), ("region", parts[4]),
                            ("postal_code", parts[5]), ("country", parts[6])):
            if value.strip():
                values[name] = value.strip()
    notes = [unescape(p.value).strip() for p in card.all("NOTE") if p.value.strip()]
    if notes:
        values["description"] = "\n\n".join(notes)
    for prop in card.properties:
        name = _BY_EXTRA.get(prop.name)
        if name and prop.value.strip():
            values[name] = unescape(prop.value).strip()
    return {k: (normalise_kind(v) if k == "kind" else v) for k, v in values.items() if v}


def read_cards(source: str | os.PathLike[str] | TextIO) -> list[Card]:
    text, _encoding = read_text(source, "a vCard file")
    cards = parse_vcards(text)
    if not cards:
        raise ValidationError("file", "holds no vCard (BEGIN:VCARD ... END:VCARD)")
    return cards


VCARD_COLUMNS = {
    "KIND": "kind", "N / FN / ORG": "name, first_name, company", "EMAIL": "email",
    "TEL": "phone, mobile", "ADR": "street, city, region, postal_code, country",
    "NOTE": "description", **{prop: name for name, prop in EXTRA_FIELDS.items()},
}


def _as_csv(cards: list[Card], name: str) -> tuple[io.StringIO, dict[int, int]]:
    """The cards as a CSV file the importer reads; each row starts at (or, after a multi-line
    note, just after) its card's line, so line numbers in problems and history point into the
    card. Returns the stream and the CSV line -> card line map."""
    import csv

    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(IMPORT_FIELDS)
    line = 2
    lines: dict[int, int] = {}
    for card in cards:
        values = card_values(card)
        while line < card.line:
            out.write("\r\n")
            line += 1
        lines[line] = card.line
        start = out.tell()
        writer.writerow([values.get(name_, "") for name_ in IMPORT_FIELDS])
        written = out.getvalue()[start:]
        line += written.count("\n")
    out.seek(0)
    out.name = name
    return out, lines


def import_vcards(session, actor, source: str | os.PathLike[str] | TextIO, *, dry_run: bool = False,
                  strict: bool = False, settings=None, progress=None):
    """Import the contacts of a vCard file into the inbox, exactly as `importer.import_contacts`
    imports a CSV file (same signature, same `ImportReport`; lines are the file's)."""
    from crm_tui.services.importer import RowProblem
    from crm_tui.services.importer import import_contacts as import_rows

    cards = read_cards(source)
    name = str(source) if not hasattr(source, "read") else getattr(source, "name", "<stream>")
    stream, lines = _as_csv(cards, name)
    report = import_rows(session, actor, stream, dry_run=dry_run, strict=strict, settings=settings,
                         progress=progress)
    problems = tuple(RowProblem(lines.get(p.line, p.line), p.field, p.message) for p in report.problems)
    return replace(report, source=name, columns=dict(VCARD_COLUMNS), ignored_columns=(),
                   problems=problems, delimiter="", encoding="vcard")
