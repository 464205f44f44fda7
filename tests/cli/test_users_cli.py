"""`crm users list|add|edit|teams` and `crm history`: output, JSON, exit codes, permissions."""

from __future__ import annotations


def test_users_add_list_edit_and_teams(crm):
    first = crm("users", "list", "--json")  # the first user (CRM_USER=tester) becomes admin
    assert first.code == 0
    assert [(u["login"], u["role"]) for u in first.json] == [("tester", "admin")]
    added = crm("users", "add", "--login", "anna", "--name", "Anna Nowak", "--email", "anna@example.test",
                "--timezone", "Europe/Warsaw", "--role", "rep", "--teams", "Nord,Süd", "--json")
    assert added.code == 0, added.err
    assert added.json == {
        "id": 2, "login": "anna", "name": "Anna Nowak", "email": "anna@example.test",
        "timezone": "Europe/Warsaw", "role": "rep", "teams": ["Nord", "Süd"], "active": True, "version": 1,
    }
    assert crm("users", "add", "--login", "mia", "--role", "manager", "--teams", "Nord").code == 0
    teams = crm("users", "teams", "--json").json
    assert teams == [{"id": 1, "name": "Nord", "members": ["anna", "mia"]},
                     {"id": 2, "name": "Süd", "members": ["anna"]}]
    edited = crm("users", "edit", "anna", "--teams", "Süd", "--role", "manager", "--if-version", "1", "--json")
    assert edited.code == 0 and edited.json["teams"] == ["Süd"] and edited.json["role"] == "manager"
    stale = crm("users", "edit", "anna", "--name", "Anka", "--if-version", "1")
    assert stale.code == 1 and "changed by someone else" in stale.err
    table = crm("users", "list")
    assert table.code == 0 and "Europe/Warsaw" in table.out and "(default)" in table.out


def test_deactivated_user_is_refused_and_can_come_back(crm):
    crm("users", "list")
    assert crm("users", "add", "--login", "ben").code == 0
    assert crm("users", "edit", "ben", "--inactive").code == 0
    refused = crm("--user", "ben", "users", "list")
    assert refused.code == 1 and "deactivated" in refused.err
    assert crm("users", "edit", "ben", "--active").code == 0
    assert crm("--user", "ben", "users", "list").code == 0


def test_rejected_input_names_the_field_and_writes_nothing(crm):
    crm("users", "list")
    for argv, field in [
        (("users", "add", "--login", "x", "--timezone", "Mars/Olympus"), "timezone"),
        (("users", "add", "--login", "x", "--role", "boss"), "role"),
        (("users", "add", "--login", "bad login"), "login"),
        (("users", "add", "--login", "tester"), "login"),
        (("users", "edit", "tester", "--role", "rep"), "role"),  # the last admin
    ]:
        result = crm(*argv)
        assert result.code == 1, argv
        assert result.err.startswith(f"crm: {field}: "), result.err
        assert result.err.count("\n") == 1 and "Traceback" not in result.err
    assert [u["login"] for u in crm("users", "list", "--json").json] == ["tester"]


def test_only_an_admin_manages_users(crm):
    crm("users", "list")
    crm("users", "add", "--login", "anna")
    refused = crm("--user", "anna", "users", "add", "--login", "eve")
    assert refused.code == 1 and "only an admin" in refused.err
    refused = crm("--user", "anna", "users", "edit", "anna", "--role", "admin")
    assert refused.code == 1 and "only an admin may change role" in refused.err
    own = crm("--user", "anna", "users", "edit", "anna", "--timezone", "Europe/Berlin", "--json")
    assert own.code == 0 and own.json["timezone"] == "Europe/Berlin"


def test_unknown_login_is_told_whom_to_ask(crm):
    crm("users", "list")
    result = crm("--user", "zed", "contacts", "list")
    assert result.code == 1
    assert "'zed' is not a user of this database; ask tester to run `crm users add --login zed`" in result.err


def test_usage_errors_exit_2(crm):
    assert crm("users", "add", "--name", "No Login").code == 2
    assert crm("users", "edit", "tester").code == 2
    assert crm("users", "edit", "tester", "--active", "--inactive").code == 2
    assert crm("history").code == 2
    assert crm("history", "--contact", "1", "--opp", "2").code == 2


def test_history_of_a_contact(crm, frozen_now):
    frozen_now("2026-11-23T10:00:00+01:00")
    cid = crm("contacts", "add", "--name", "Müller", "--status", "customer", "--no-auto-plan", "--json").json["id"]
    frozen_now("2026-11-23T11:00:00+01:00")
    assert crm("contacts", "edit", str(cid), "--city", "Olpe").code == 0
    result = crm("history", "--contact", str(cid), "--json")
    assert result.code == 0
    assert [(r["action"], r["field"], r["old_value"], r["new_value"], r["user"]) for r in result.json] == [
        ("change", "city", "", "Olpe", "tester"),
        ("create", "", "", "customer", "tester"),
    ]
    assert result.json[0]["at"] == "2026-11-23T10:00:00+00:00"
    window = crm("history", "--contact", str(cid), "--limit", "1", "--offset", "1", "--json").json
    assert [r["action"] for r in window] == ["create"]
    text = crm("history", "--contact", str(cid))
    assert "city: — → Olpe" in text.out and "2 of 2 entries" in text.out
    missing = crm("history", "--contact", "4242")
    assert missing.code == 1 and "contact 4242 does not exist" in missing.err
    assert crm("history", "--opp", "4242").code == 1
