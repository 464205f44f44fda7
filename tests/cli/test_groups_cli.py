"""`crm groups list|add|members`: static and dynamic groups from the command line."""

from __future__ import annotations

import sqlite3


def member_rows(path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT count(*) FROM group_members").fetchone()[0]


def add(crm, *options) -> int:
    result = crm("contacts", "add", "--status", "customer", "--no-auto-plan", "--json", *options)
    assert result.code == 0, result.err
    return result.json["id"]


def test_static_group_lifecycle(crm, db_path):
    a = add(crm, "--name", "Alpha")
    b = add(crm, "--name", "Bravo")
    made = crm("groups", "add", "--name", "Key accounts", "--number", "G-1", "--assigned-to", "tester", "--json")
    assert made.code == 0, made.err
    assert {k: made.json[k] for k in ("name", "number", "kind", "assigned_to", "members")} == {
        "name": "Key accounts", "number": "G-1", "kind": "static", "assigned_to": "tester", "members": 0}

    changed = crm("groups", "members", "Key accounts", "--add", str(a), str(b), "--json")
    assert changed.code == 0, changed.err
    assert (changed.json["added"], changed.json["group"]["members"]) == (2, 2)
    removed = crm("groups", "members", "G-1", "--remove", str(a))
    assert removed.out.strip() == "group Key accounts: 0 added, 1 removed, 1 members"

    listed = crm("groups", "members", "key accounts", "--json")
    assert [r["name"] for r in listed.json] == ["Bravo"]
    groups = crm("groups", "list", "--json")
    assert [(g["name"], g["members"]) for g in groups.json] == [("Key accounts", 1)]
    # the same group as a filter
    assert [r["id"] for r in crm("contacts", "list", "--group", "Key accounts", "--json").json] == [b]

    missing = crm("groups", "members", "Key accounts", "--add", "999")
    assert missing.code == 1 and "contact 999 does not exist" in missing.err
    assert member_rows(db_path) == 1


def test_dynamic_group(crm):
    add(crm, "--name", "Olper", "--city", "Olpe")
    add(crm, "--name", "Siegener", "--city", "Siegen")
    made = crm("groups", "add", "--name", "Olpe", "--query", "city:Olpe", "--json")
    assert made.code == 0, made.err
    assert (made.json["kind"], made.json["query"]) == ("dynamic", "city:Olpe")
    assert [r["name"] for r in crm("groups", "members", "Olpe", "--json").json] == ["Olper"]
    counted = crm("groups", "list", "--counts", "--json")
    assert counted.json[0]["members"] == 1
    refused = crm("groups", "members", "Olpe", "--add", "1")
    assert refused.code == 1 and refused.err.startswith("crm: group: group 'Olpe' is dynamic")


def test_bad_group_input(crm):
    crm("contacts", "list")
    broken = crm("groups", "add", "--name", "Broken", "--query", 'city:"Olpe')
    assert broken.code == 1
    assert broken.err.strip() == "crm: query: at position 6: the quote opened here is never closed"
    assert crm("groups", "add", "--name", "A").code == 0
    duplicate = crm("groups", "add", "--name", "a")
    assert duplicate.code == 1 and duplicate.err.startswith("crm: name: a group 'a' exists already")
    assert crm("groups", "add").code == 2
    unknown = crm("groups", "members", "Nope")
    assert unknown.code == 1 and unknown.err.strip() == "crm: group 'Nope' does not exist"
    assert [g["name"] for g in crm("groups", "list", "--json").json] == ["A"]
