"""`crm contacts list|add|show|edit`: exit codes, JSON shape, and bad input writing nothing."""

from __future__ import annotations

import sqlite3


def contact_rows(path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT count(*) FROM contacts").fetchone()[0]


def test_add_show_list_json(crm, db_path, frozen_now):
    frozen_now("2026-11-23T10:00:00+01:00")
    added = crm("contacts", "add", "--name", "Müller", "--first-name", "Jürgen", "--status", "customer",
                "--city", "Olpe", "--phone", "02761 12345", "--expected-revenue", "1.000,5", "--json")
    assert added.code == 0, added.err
    contact = added.json
    assert contact["name"] == "Müller"
    assert contact["expected_revenue"] == "1000.50"
    assert contact["assigned_to"] is None
    assert contact["status"] == "customer"

    shown = crm("contacts", "show", str(contact["id"]), "--json")
    assert shown.code == 0
    assert shown.json["city"] == "Olpe"
    assert shown.json["state"] == "today"  # the auto-planned first call is due today

    listed = crm("contacts", "list", "--json", "--where", "city:Olpe mueller")
    assert listed.code == 0
    [row] = listed.json
    assert set(row) >= {"id", "name", "status", "email", "phone", "city", "assigned_to", "state"}
    assert row["state"] == "today"


def test_empty_name_exits_1_and_writes_nothing(crm, db_path):
    crm("contacts", "list")  # create the schema and the first (admin) user
    before = contact_rows(db_path)
    result = crm("contacts", "add", "--name", "")
    assert result.code == 1
    assert result.err.strip().splitlines() == ["crm: name: is required"]
    assert contact_rows(db_path) == before


def test_bad_email_names_field(crm, db_path):
    result = crm("contacts", "add", "--name", "X", "--status", "customer", "--email", "nope")
    assert result.code == 1
    assert result.err.startswith("crm: email:")
    assert "Traceback" not in result.err


def test_malformed_where_reports_position(crm):
    result = crm("contacts", "list", "--where", 'city:"Olpe')
    assert result.code == 1
    assert result.err.strip() == "crm: where: at position 6: the quote opened here is never closed"


def test_unknown_contact_exits_1(crm):
    result = crm("contacts", "show", "999")
    assert result.code == 1
    assert "contact 999 does not exist" in result.err


def test_wrong_usage_exits_2(crm):
    assert crm("contacts", "show", "not-a-number").code == 2
    assert crm("contacts", "frobnicate").code == 2


def test_edit_with_stale_version_is_refused(crm, db_path):
    cid = crm("contacts", "add", "--name", "Weber", "--status", "customer", "--json").json["id"]
    assert crm("contacts", "edit", str(cid), "--city", "Siegen", "--if-version", "1").code == 0
    stale = crm("contacts", "edit", str(cid), "--city", "Köln", "--if-version", "1")
    assert stale.code == 1
    assert "changed by someone else" in stale.err
    assert crm("contacts", "show", str(cid), "--json").json["city"] == "Siegen"


def test_unknown_user_is_told_who_can_add_it(crm, monkeypatch):
    crm("contacts", "list")  # tester becomes the admin
    monkeypatch.setenv("CRM_USER", "stranger")
    result = crm("contacts", "list")
    assert result.code == 1
    assert "'stranger' is not a user of this database; ask tester" in result.err


def test_real_process_exit_codes_and_no_traceback(crm_process):
    ok = crm_process("contacts", "list", "--json")
    assert ok.code == 0, ok.err
    assert ok.out.strip() == "[]"
    bad = crm_process("contacts", "add", "--name", "")
    assert bad.code == 1
    assert bad.err.strip() == "crm: name: is required"
    usage = crm_process("contacts", "add", "--bogus")
    assert usage.code == 2
    assert "Traceback" not in ok.err + bad.err + usage.err
