"""`crm contacts convert|close|review|archive|restore|assign|delete|merge|duplicates`: JSON shapes,
exit codes 0/1/2, bad input naming the field and writing nothing, delete's confirmation."""

from __future__ import annotations

import sqlite3

NOW = "2026-11-23T10:00:00+01:00"


def rows(path, sql: str, *params):
    with sqlite3.connect(path) as conn:
        return conn.execute(sql, params).fetchall()


def add(crm, *options) -> int:
    result = crm("contacts", "add", "--status", "customer", "--no-auto-plan", "--json", *options)
    assert result.code == 0, result.err
    return result.json["id"]


def test_convert_with_notes_and_the_next_number(crm, db_path, frozen_now):
    frozen_now(NOW)
    cid = add(crm, "--name", "Kowalski", "--status", "prospect", "--source", "Messe", "--company", "K",
              "--city", "Gdańsk", "--region", "pomorskie", "--country", "PL", "--postal-code", "80-001",
              "--contacted-on", "2026-11-20", "--description", "12.000 € Flatrate")
    result = crm("contacts", "convert", str(cid), "--transfer-notes", "--next-number", "--json")
    assert result.code == 0, result.err
    assert (result.json["status"], result.json["customer_number"]) == ("customer", "K-2026-00001")
    assert rows(db_path, "SELECT note FROM history WHERE action = 'note'") == [("12.000 € Flatrate",)]
    again = crm("contacts", "convert", str(cid))
    assert again.code == 0 and "is a customer" in again.out


def test_convert_an_inbox_contact_is_refused(crm, db_path):
    cid = add(crm, "--name", "Imported", "--status", "inbox")
    result = crm("contacts", "convert", str(cid))
    assert result.code == 1
    assert result.err.strip() == (f"crm: status: contact {cid} is in the inbox: it cannot be converted; "
                                  "review it first")
    reviewed = crm("contacts", "review", str(cid), "--as", "customer", "--json")
    assert reviewed.code == 0, reviewed.err
    assert reviewed.json["count"] == 1
    assert rows(db_path, "SELECT status FROM contacts") == [("customer",)]


def test_close_needs_reason_and_note(crm, db_path, frozen_now):
    frozen_now(NOW)
    cid = add(crm, "--name", "Schmidt")
    missing = crm("contacts", "close", str(cid), "--reason", "Preis zu hoch")
    assert missing.code == 2  # argparse: --note is required
    unknown = crm("contacts", "close", str(cid), "--reason", "Wetter", "--note", "regnet")
    assert unknown.code == 1 and unknown.err.startswith("crm: reason: 'Wetter' is not a lost reason")
    assert rows(db_path, "SELECT status FROM contacts") == [("customer",)]
    closed = crm("contacts", "close", str(cid), "--reason", "Preis zu hoch", "--note", "zu teuer", "--json")
    assert closed.code == 0, closed.err
    assert (closed.json["status"], closed.json["lost_reason"], closed.json["close_note"]) == (
        "closed", "Preis zu hoch", "zu teuer")


def test_archive_restore_by_ids_and_where(crm, db_path):
    a = add(crm, "--name", "A", "--city", "Olpe")
    b = add(crm, "--name", "B", "--city", "Olpe")
    add(crm, "--name", "C", "--city", "Siegen")
    archived = crm("contacts", "archive", "--where", "city:Olpe", "--json")
    assert archived.code == 0, archived.err
    assert (archived.json["action"], archived.json["count"], archived.json["total"]) == ("archive", 2, 2)
    text = crm("contacts", "archive", str(a))
    assert text.out.strip() == "archived 0 contacts (1 were archived already)"
    restored = crm("contacts", "restore", str(a), str(b))
    assert restored.code == 0 and restored.out.strip() == "restored 2 contacts"
    assert rows(db_path, "SELECT DISTINCT status FROM contacts") == [("customer",)]


def test_selection_usage_errors(crm):
    crm("contacts", "list")
    assert crm("contacts", "archive").code == 2
    assert crm("contacts", "archive", "1", "--where", "city:Olpe").code == 2
    malformed = crm("contacts", "archive", "--where", "city:\"Olpe")
    assert malformed.code == 1 and malformed.err.startswith("crm: where: at position 6")
    assert crm("contacts", "archive", "4242").code == 1


def test_assign_many(crm, db_path):
    crm("users", "add", "--login", "anna", "--role", "rep", "--teams", "Nord")
    a = add(crm, "--name", "A")
    b = add(crm, "--name", "B")
    result = crm("contacts", "assign", str(a), str(b), "--to", "team:Nord", "--json")
    assert result.code == 0, result.err
    assert result.json["count"] == 2
    bad = crm("contacts", "assign", str(a), "--to", "nobody-here")
    assert bad.code == 1 and bad.err.startswith("crm: assigned_to:")
    assert rows(db_path, "SELECT DISTINCT assigned_team_id IS NOT NULL FROM contacts") == [(1,)]


def test_delete_asks_and_refuses_without_a_terminal(crm, crm_process, db_path):
    keep = add(crm, "--name", "Keep")
    gone = [add(crm, "--name", "Gone"), add(crm, "--name", "Gone")]
    refused = crm("contacts", "delete", "--where", "name:Gone")
    assert refused.code == 1
    assert refused.err.strip() == ("crm: delete: 2 contacts would be deleted for good; there is no terminal "
                                   "to ask: confirm with --yes")
    assert len(rows(db_path, "SELECT id FROM contacts")) == 3
    real = crm_process("contacts", "delete", str(gone[0]))  # a real process with no terminal
    assert real.code == 1 and "confirm with --yes" in real.err
    deleted = crm("contacts", "delete", "--where", "name:Gone", "--yes", "--json")
    assert deleted.code == 0, deleted.err
    assert deleted.json["count"] == 2
    assert rows(db_path, "SELECT id FROM contacts") == [(keep,)]
    audit = rows(db_path, "SELECT contact_id, subject, user_login FROM history WHERE action = 'delete' ORDER BY contact_id")
    assert audit == [(gone[0], f"contact {gone[0]} Gone", "tester"), (gone[1], f"contact {gone[1]} Gone", "tester")]


def test_duplicates_clusters_check_and_merge(crm, db_path):
    a = add(crm, "--name", "Müller", "--first-name", "Jürgen", "--email", "jm@bau.de")
    b_added = crm("contacts", "add", "--status", "customer", "--no-auto-plan", "--name", "Mueller",
                  "--first-name", "Juergen", "--phone", "02761 12345")
    assert b_added.code == 0
    assert f"crm: possible duplicate: contact {a} Müller, Jürgen (customer; same name)" in b_added.err
    b = rows(db_path, "SELECT max(id) FROM contacts")[0][0]
    add(crm, "--name", "Other", "--email", "JM@bau.de")

    clusters = crm("contacts", "duplicates", "--json")
    assert clusters.code == 0, clusters.err
    found = sorted((c["reasons"], [m["id"] for m in c["contacts"]]) for c in clusters.json)
    assert found == [(["email"], [a, a + 2]), (["name"], [a, b])]

    check = crm("contacts", "duplicates", "--phone", "+49 2761 12345", "--json")
    assert [(m["id"], m["reasons"]) for m in check.json] == [(b, ["phone"])]

    merged = crm("contacts", "merge", str(a), str(b), "--json")
    assert merged.code == 0, merged.err
    assert merged.json["merged_ids"] == [b] and merged.json["filled"] == ["phone"]
    assert rows(db_path, "SELECT phone FROM contacts WHERE id = ?", a) == [("02761 12345",)]
    self_merge = crm("contacts", "merge", str(a), str(a))
    assert self_merge.code == 1 and self_merge.err.startswith("crm: other_ids:")
    bad_key = crm("contacts", "duplicates", "--by", "shoe")
    assert bad_key.code == 1 and bad_key.err.startswith("crm: reason:")
