"""`crm import contacts FILE.csv [--dry-run] [--strict]` and `crm export contacts`."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

CSV = (
    "Nachname;Vorname;E-Mail;Ort;Lieblingsfarbe\n"
    "Müller;Jürgen;jm@bau.de;Olpe;blau\n"
    "Kaputt;;keine-adresse;Siegen;rot\n"
    "Nowak;Anna;;Gdańsk;grün\n"
)


def contact_rows(path) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT name, status FROM contacts ORDER BY id").fetchall()


def write(tmp_path: Path, text: str, name: str = "in.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_import_reports_invalid_rows_and_imports_the_rest(crm, db_path, tmp_path):
    path = write(tmp_path, CSV)
    dry = crm("import", "contacts", str(path), "--dry-run")
    assert dry.code == 0, dry.err
    assert "  line 3: email: 'keine-adresse' is not an e-mail address" in dry.out
    assert "dry run: 2 of 3 rows are valid and would be imported; 1 invalid" in dry.out
    assert "ignored columns: Lieblingsfarbe" in dry.out
    assert contact_rows(db_path) == []

    strict = crm("import", "contacts", str(path), "--strict")
    assert strict.code == 1
    assert strict.err.strip() == "crm: import: 1 invalid row; nothing imported (--strict)"
    assert contact_rows(db_path) == []

    real = crm("import", "contacts", str(path), "--json")
    assert real.code == 0, real.err
    report = real.json
    assert (report["rows"], report["valid"], report["imported"]) == (3, 2, 2)
    assert report["problems"] == [{"line": 3, "field": "email", "message": "'keine-adresse' is not an e-mail address"}]
    assert report["columns"] == {"Nachname": "name", "Vorname": "first_name", "E-Mail": "email", "Ort": "city"}
    assert contact_rows(db_path) == [("Müller", "inbox"), ("Nowak", "inbox")]
    listed = crm("contacts", "list", "--status", "inbox", "--json")
    assert [r["name"] for r in listed.json] == ["Müller", "Nowak"]


def test_unusable_files_exit_1(crm, db_path, tmp_path):
    crm("contacts", "list")
    missing = crm("import", "contacts", str(tmp_path / "nope.csv"))
    assert missing.code == 1 and missing.err.startswith("crm: file: ") and "does not exist" in missing.err
    no_name = crm("import", "contacts", str(write(tmp_path, "Vorname,Ort\nJan,Olpe\n")))
    assert no_name.code == 1 and no_name.err.startswith("crm: columns: no column for the name")
    all_bad = crm("import", "contacts", str(write(tmp_path, "Name,E-Mail\nA,x\nB,y\n", "bad.csv")))
    assert all_bad.code == 1 and "nothing imported (no row is valid)" in all_bad.err
    assert contact_rows(db_path) == []
    assert crm("import", "contacts").code == 2


def test_export_formats(crm, db_path, tmp_path):
    crm("import", "contacts", str(write(tmp_path, CSV)))
    crm("contacts", "review", "--where", "status:inbox", "--as", "customer")
    crm("contacts", "archive", "--where", "nowak")

    out = crm("export", "contacts")
    assert out.code == 0, out.err
    assert [r["name"] for r in csv.DictReader(io.StringIO(out.out))] == ["Müller"]  # archived hidden

    as_json = crm("export", "contacts", "--where", "status:all", "--json")
    assert [r["name"] for r in as_json.json] == ["Müller", "Nowak"]

    target = tmp_path / "out.vcf"
    written = crm("export", "contacts", "--format", "vcf", "--where", "status:all", "-o", str(target), "--json")
    assert written.code == 0, written.err
    assert written.json == {"count": 2, "format": "vcf", "file": str(target)}
    text = target.read_bytes().decode()
    assert text.count("BEGIN:VCARD\r\n") == 2 and "FN:Jürgen Müller\r\n" in text

    csv_file = tmp_path / "out.csv"
    crm("export", "contacts", "-o", str(csv_file))
    assert csv_file.read_text(encoding="utf-8").startswith("id,kind,name,first_name")
    assert crm("export", "contacts", "--format", "csv", "--json").code == 2
    assert crm("export", "contacts", "--format", "xlsx").code == 2
    bad = crm("export", "contacts", "--where", "status:vip")
    assert bad.code == 1 and bad.err.startswith("crm: where: at position 1")
    json.loads(crm("export", "contacts", "--format", "json").out)
