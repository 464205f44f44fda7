"""Bulk edit in $EDITOR: a real editor process (a shell script running sed on the file), the
preview of changed fields, one transaction with expected versions, bad values named by line and
field, and `crm contacts bulk-edit` end to end (SQLite and PostgreSQL)."""

from __future__ import annotations

import stat

import pytest

from crm_tui.config import RequiredSettings, Settings
from crm_tui.services.bulk import Selection
from crm_tui.services.bulk_edit import (
    HEADER,
    BulkEditRefused,
    apply_edit,
    plan_edit,
    read_tsv,
    selection_tsv,
)
from crm_tui.services.contacts import create_contact, get_contact, update_contact
from crm_tui.services.query import parse
from crm_tui.widgets.editor import EditorError, edit_in_file, editor_command

LOOSE = Settings(required=RequiredSettings(prospect=("name",)))


@pytest.fixture
def editor(tmp_path, monkeypatch):
    """`editor("s/a/b/")` makes $EDITOR a shell script that runs `sed -i` with these commands."""

    def make(*commands: str, status: int = 0):
        script = tmp_path / f"fake-editor-{len(list(tmp_path.iterdir()))}.sh"
        lines = ["#!/bin/sh", *(f"sed -i '{c}' \"$1\"" for c in commands), f"exit {status}"]
        script.write_text("\n".join(lines) + "\n", encoding="utf-8")
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
        monkeypatch.setenv("EDITOR", str(script))
        monkeypatch.delenv("VISUAL", raising=False)
        return script

    return make


@pytest.fixture
def olpe(db, people):
    tester = people["tester"]
    ids = []
    with db.write() as session:
        for name, first, city, description in (
            ("Müller", "Jürgen", "Olpe", "Zeile 1\nZeile\t2"),
            ("Nowak", "Anna", "Olpe", ""),
            ("Weber", "Eva", "Siegen", ""),
        ):
            ids.append(create_contact(session, tester, {
                "name": name, "first_name": first, "city": city, "status": "customer",
                "description": description, "email": f"{name.lower()}@example.test",
            }, settings=LOOSE, auto_plan=False).id)
    return {"db": db, "actor": tester, "ids": ids}


def table(olpe, query: str = "city:Olpe") -> str:
    actor = olpe["actor"]
    with olpe["db"].read() as session:
        return selection_tsv(session, actor, Selection.matching(parse(query, actor.today())))


def plan(olpe, original: str, edited: str):
    with olpe["db"].read() as session:
        return plan_edit(session, olpe["actor"], original, edited, settings=LOOSE)


def test_the_table_escapes_tabs_and_newlines(olpe):
    text = table(olpe)
    rows, problems = read_tsv(text)
    assert problems == []
    assert text.splitlines()[3] == "\t".join(HEADER)
    assert [r.id for r in rows] == olpe["ids"][:2]
    assert "Zeile 1\\nZeile\\t2" in text
    assert rows[0].values["description"] == "Zeile 1\nZeile\t2" and rows[0].version == 1


def test_edit_preview_and_save_in_one_go(olpe, editor):
    editor("s/\\tOlpe\\t/\\tAttendorn\\t/", "s/nowak@example.test/anna@nowak.example/")
    original = table(olpe)
    edited = edit_in_file(original, ".tsv")
    result = plan(olpe, original, edited)
    assert result.ok and result.unchanged == 0
    m, n = olpe["ids"][:2]
    assert result.preview() == [
        f"contact {m} Müller, Jürgen: city: 'Olpe' → 'Attendorn'",
        f"contact {n} Nowak, Anna: email: 'nowak@example.test' → 'anna@nowak.example'; "
        "city: 'Olpe' → 'Attendorn'",
    ]
    with olpe["db"].write() as session:
        saved = apply_edit(session, olpe["actor"], result, settings=LOOSE)
    assert (saved.contacts, saved.fields) == (2, 3)
    with olpe["db"].read() as session:
        after = get_contact(session, olpe["actor"], n)
    assert (after.city, after.email, after.version) == ("Attendorn", "anna@nowak.example", 2)


def test_bad_values_are_named_by_line_and_field(olpe, editor):
    editor("s/ller@example.test/ not an address/",
           "/Nowak/s/\\tOlpe\\t/\\tOlpe\\tX\\t/")
    original = table(olpe)
    result = plan(olpe, original, edit_in_file(original, ".tsv"))
    assert not result.ok
    assert [(p.line, p.field) for p in result.problems] == [(5, "email"), (6, "columns")]
    with pytest.raises(BulkEditRefused), olpe["db"].write() as session:
        apply_edit(session, olpe["actor"], result)


def test_a_contact_saved_meanwhile_stops_everything(olpe, editor):
    editor("s/\\tOlpe\\t/\\tAttendorn\\t/")
    original = table(olpe)
    result = plan(olpe, original, edit_in_file(original, ".tsv"))
    m, n = olpe["ids"][:2]
    with olpe["db"].write() as session:  # somebody else edits Nowak after the table was made
        update_contact(session, olpe["actor"], n, {"phone": "02761 1"}, settings=LOOSE)
    with pytest.raises(BulkEditRefused) as refused, olpe["db"].write() as session:
        apply_edit(session, olpe["actor"], result, settings=LOOSE)
    [problem] = refused.value.problems
    assert (problem.contact_id, problem.field, problem.line) == (n, "version", 6)
    with olpe["db"].read() as session:  # all or nothing: Müller kept Olpe too
        assert get_contact(session, olpe["actor"], m).city == "Olpe"


def test_deleted_lines_are_left_alone_and_ids_cannot_be_invented(olpe, editor):
    editor("/Müller/d")
    original = table(olpe)
    result = plan(olpe, original, edit_in_file(original, ".tsv"))
    assert result.ok and result.changes == () and result.left_out == 1
    weber = olpe["ids"][2]
    forged = original + f"{weber}\t1" + "\tperson\tWeber" + "\t" * (len(HEADER) - 4) + "\n"
    assert [p.field for p in plan(olpe, original, forged).problems] == ["id"]


def test_editor_failures(olpe, editor, monkeypatch):
    editor("s/Olpe/Siegen/", status=3)
    with pytest.raises(EditorError, match="exited with status 3"):
        edit_in_file("x", ".txt")
    monkeypatch.setenv("VISUAL", "my-editor --wait")
    assert editor_command() == ["my-editor", "--wait"]


def test_the_command_line(olpe, editor, capsys, tmp_path):
    from crm_tui.cli import main

    db = olpe["db"]
    editor("s/\\tOlpe\\t/\\tWenden\\t/")
    assert main(["--db", db.url, "contacts", "bulk-edit", "--where", "city:Olpe", "--yes"]) == 0
    out = capsys.readouterr().out
    assert "city: 'Olpe' → 'Wenden'" in out and out.endswith("saved 2 fields of 2 contacts\n")
    editor("s/example.test/example/")  # "x@example" is not an e-mail address
    assert main(["--db", db.url, "contacts", "bulk-edit", "--where", "city:Wenden", "--yes"]) == 1
    err = capsys.readouterr().err
    assert "line 5 (contact" in err and ": email: " in err and "nothing saved" in err
    editor("s/Wenden/Olpe/")  # without --yes and without a terminal: not saved
    assert main(["--db", db.url, "contacts", "bulk-edit", "--where", "city:Wenden"]) == 1
    assert "confirm with --yes" in capsys.readouterr().err
