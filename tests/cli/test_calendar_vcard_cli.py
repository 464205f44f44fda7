"""`crm export activities --format ics`, `crm import contacts FILE.vcf` and
`crm export contacts --format vcf` through the command line."""

from __future__ import annotations

from icalendar import Calendar

NOW = "2026-11-23T10:00:00+01:00"


def test_export_activities_as_ics(crm, frozen_now, tmp_path):
    frozen_now(NOW)
    contact = crm("contacts", "add", "--name", "Pan", "--phone", "02761 1", "--status", "customer",
                  "--json").json["id"]  # auto-plans a call for today
    plan = crm("activities", "plan", "--contact", str(contact), "--type", "E-Mail", "--due", "+2d",
               "--time", "10:30", "--json")
    assert plan.code == 0, plan.err
    target = tmp_path / "crm.ics"
    result = crm("export", "activities", "-o", str(target), "--json")
    assert result.code == 0, result.err
    assert result.json["count"] == 2 and result.json["events"] == 1 and result.json["todos"] == 1
    first = Calendar.from_ical(target.read_bytes())
    again = Calendar.from_ical(crm("export", "activities", "--format", "ics").out)
    uids = sorted(str(c["UID"]) for c in first.walk() if c.name in ("VEVENT", "VTODO"))
    assert uids == sorted(str(c["UID"]) for c in again.walk() if c.name in ("VEVENT", "VTODO"))
    assert len(set(uids)) == 2
    assert crm("export", "activities", "--mine", "--from", "+1d").code == 0
    assert crm("export", "activities", "--json").code == 2
    bad = crm("export", "activities", "--from", "soon")
    assert bad.code == 1 and "from:" in bad.err


def test_vcf_export_and_import(crm, frozen_now, tmp_path):
    frozen_now(NOW)
    assert crm("contacts", "add", "--name", "Müller", "--first-name", "Jürgen", "--status", "customer",
               "--mobile", "+49 171 1", "--city", "Olpe").code == 0
    target = tmp_path / "all.vcf"
    assert crm("export", "contacts", "--format", "vcf", "-o", str(target)).code == 0
    text = target.read_text(encoding="utf-8")
    assert "N:Müller;Jürgen;;;" in text and "CATEGORIES:customer" in text
    imported = crm("import", "contacts", str(target), "--json")
    assert imported.code == 0, imported.err
    assert imported.json["imported"] == 1 and imported.json["encoding"] == "vcard"
    listed = crm("contacts", "list", "--where", "status:inbox", "--json").json
    assert [(c["name"], c["city"]) for c in listed] == [("Müller", "Olpe")]

    bad = tmp_path / "bad.vcf"
    bad.write_text("BEGIN:VCARD\nVERSION:4.0\nFN:X\nEMAIL:nope\nEND:VCARD\n", encoding="utf-8")
    refused = crm("import", "contacts", str(bad))
    assert refused.code == 1 and "line 1: email:" in refused.out
