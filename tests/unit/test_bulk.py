"""Bulk actions over explicit ids or "all matching": one transaction, all or nothing, history in
bulk, triggers intact. A ~2,000-contact run checks correctness; speed is benchmarks/contacts_bulk.py."""

from __future__ import annotations

import csv
import io
import json

import pytest
from sqlalchemy import text
from sqlmodel import func, select

from crm_tui.config import RequiredSettings, Settings
from crm_tui.models import Activity, Contact, GroupMember, HistoryEntry, Opportunity, Stage
from crm_tui.services import bulk
from crm_tui.services.activities import plan_activity
from crm_tui.services.bulk import Selection
from crm_tui.services.contacts import count_contacts, create_contact, get_contact
from crm_tui.services.errors import NotFound, PermissionDenied, ValidationError
from crm_tui.services.importer import import_contacts
from crm_tui.services.query import parse

LOOSE = Settings(required=RequiredSettings(prospect=("name",)))
MANY = 2000


@pytest.fixture(autouse=True)
def _defaults(db):
    from crm_tui.services.defaults import install_defaults

    with db.write() as session:
        install_defaults(session)


def add(db, actor, **values):
    values.setdefault("status", "customer")
    with db.write() as session:
        return create_contact(session, actor, values, settings=LOOSE, auto_plan=False).id


def many_inbox_contacts(db, actor, count: int = MANY) -> list[int]:
    lines = ["name,first_name,city,email"]
    lines += [f"Kunde{i},Eva,{'Olpe' if i % 2 else 'Siegen'},k{i}@firma{i}.de" for i in range(count)]
    with db.write() as session:
        report = import_contacts(session, actor, io.StringIO("\n".join(lines)), settings=LOOSE)
    assert report.imported == count
    return list(report.ids)


def history_count(db, action: str) -> int:
    with db.read() as session:
        return session.exec(select(func.count()).select_from(HistoryEntry).where(HistoryEntry.action == action)).one()


def statuses(db) -> dict[str, int]:
    with db.read() as session:
        return dict(session.exec(select(Contact.status, func.count()).group_by(Contact.status)).all())


def test_archive_all_matching_in_one_go(db, people):
    t = people["tester"]
    ids = many_inbox_contacts(db, t)
    seen: list[tuple[int, int]] = []
    selection = Selection.matching(parse("city:Olpe"), excluded=[ids[1]])
    with db.read() as session:
        assert bulk.count_selected(session, t, selection) == MANY // 2 - 1
    with db.write() as session:
        result = bulk.archive(session, t, selection, progress=lambda d, n: seen.append((d, n)))
    assert (result.total, result.count, result.skipped) == (MANY // 2 - 1, MANY // 2 - 1, 0)
    assert seen[0] == (0, MANY // 2 - 1) and seen[-1] == (MANY // 2 - 1, MANY // 2 - 1)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert statuses(db) == {"inbox": MANY // 2 + 1, "archived": MANY // 2 - 1}
    assert history_count(db, "status") == MANY // 2 - 1
    with db.read() as session:
        # search still finds them (FTS untouched), and "all matching" is now the restore selection
        assert count_contacts(session, t, parse("status:archived kunde1999")) == 1
    with db.write() as session:
        back = bulk.restore(session, t, Selection.matching(parse("status:archived")))
    assert back.count == MANY // 2 - 1
    assert statuses(db) == {"inbox": MANY}


def test_triggers_survive_a_big_bulk_action(db, people):
    t = people["tester"]
    ids = many_inbox_contacts(db, t, 600)
    with db.read() as session:
        counter_before = session.exec(text("SELECT value FROM meta WHERE key = 'change_counter'")).scalar()
        triggers = _trigger_count(session)
    with db.write() as session:
        bulk.archive(session, t, Selection.of(ids))
    with pytest.raises(PermissionDenied):
        with db.write() as session:  # fails half-way: the rollback keeps the triggers too
            bulk.restore(session, t, Selection.of(ids))
            bulk.delete(session, people["anna"], Selection.of(ids))
    with db.read() as session:
        assert _trigger_count(session) == triggers
        assert int(session.exec(text("SELECT value FROM meta WHERE key = 'change_counter'")).scalar()) > int(counter_before)
    assert statuses(db) == {"archived": 600}
    with db.write() as session:  # the full-text trigger still indexes new contacts
        create_contact(session, t, {"name": "Zyxwvut", "status": "customer"}, settings=LOOSE, auto_plan=False)
    with db.read() as session:
        assert count_contacts(session, t, parse("zyxwv")) == 1


def _trigger_count(session) -> int:
    if session.get_bind().dialect.name == "sqlite":
        return session.exec(text("SELECT count(*) FROM sqlite_master WHERE type = 'trigger'")).scalar()
    return session.exec(text("SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal")).scalar()


def test_one_refused_contact_changes_nothing(db, people, frozen_now):
    frozen_now("2026-11-23T10:00:00+01:00")
    ben_own = [add(db, people["ben"], name=f"B{i}", assigned_to="ben") for i in range(3)]
    annas = add(db, people["anna"], name="Anna's", assigned_to="anna")
    with pytest.raises(PermissionDenied, match="1 of 4 selected contacts cannot be changed: contact"):
        with db.write() as session:
            bulk.assign(session, people["ben"], Selection.of([*ben_own, annas]), "team:Süd")
    with db.read() as session:
        assert {get_contact(session, people["ben"], i).assigned_to for i in ben_own} == {"ben"}
    assert history_count(db, "assign") == 0
    with pytest.raises(NotFound):
        with db.write() as session:
            bulk.archive(session, people["tester"], Selection.of([annas, 99999]))
    with pytest.raises(ValidationError, match="no contacts are selected"):
        with db.write() as session:
            bulk.archive(session, people["tester"], Selection.of([]))


def test_assign_to_user_team_and_everybody(db, people):
    t = people["tester"]
    a = add(db, t, name="A", assigned_to="anna")
    b = add(db, t, name="B")
    with db.write() as session:
        result = bulk.assign(session, t, Selection.of([a, b]), "anna")
    assert (result.count, result.skipped) == (1, 1)
    with db.write() as session:
        bulk.assign(session, t, Selection.of([a, b]), "team:Nord")
        bulk.assign(session, t, Selection.of([a]), "everybody")
    with db.read() as session:
        assert get_contact(session, t, a).assigned_to is None
        assert get_contact(session, t, b).assigned_to == "team:Nord"
        rows = session.exec(
            select(HistoryEntry.old_value, HistoryEntry.new_value)
            .where(HistoryEntry.contact_id == a, HistoryEntry.action == "assign").order_by(HistoryEntry.id)
        ).all()
    assert [tuple(r) for r in rows] == [("anna", "team:Nord"), ("team:Nord", "everybody")]
    with pytest.raises(ValidationError) as caught:
        with db.write() as session:
            bulk.assign(session, t, Selection.of([a]), "nobody-here")
    assert caught.value.field == "assigned_to"


def test_groups_from_a_selection(db, people):
    t = people["tester"]
    ids = [add(db, t, name=f"G{i}", city="Olpe" if i < 3 else "Attendorn") for i in range(5)]
    with db.write() as session:
        made = bulk.new_group(session, t, Selection.matching(parse("city:Olpe")), "Olpe-Kunden", number="7")
    assert (made.count, made.group.name, made.group.members) == (3, "Olpe-Kunden", 3)
    with db.write() as session:
        added = bulk.add_to_group(session, t, Selection.of(ids), "Olpe-Kunden")
    assert (added.count, added.skipped, added.group.members) == (2, 3, 5)
    with db.read() as session:
        assert session.exec(select(func.count()).select_from(GroupMember)).one() == 5


def test_change_status_follows_the_lifecycle(db, people):
    t = people["tester"]
    inbox = add(db, t, name="In", status="inbox")
    prospect = add(db, t, name="Pro", status="prospect", description="Jahresumsatz 5.000")
    customer = add(db, t, name="Cus")
    with db.write() as session:
        result = bulk.change_status(session, t, Selection.of([inbox, prospect, customer]), "customer",
                                    transfer_notes=True, settings=LOOSE)
    assert (result.count, result.skipped, result.notes_transferred) == (2, 1, 1)
    assert statuses(db) == {"customer": 3}
    archived = add(db, t, name="Arch", status="archived")
    with pytest.raises(ValidationError, match="restore it first"):
        with db.write() as session:
            bulk.change_status(session, t, Selection.of([archived, inbox]), "customer")
    with pytest.raises(ValidationError, match="choose one of"):
        with db.write() as session:
            bulk.change_status(session, t, Selection.of([inbox]), "inbox")
    with db.write() as session:
        closed = bulk.change_status(session, t, Selection.of([inbox, prospect]), "closed",
                                    reason="Kein Bedarf mehr", note="Projekt gestoppt")
    assert closed.count == 2


def test_delete_keeps_an_audit_row(db, people, frozen_now):
    frozen_now("2026-11-23T10:00:00+01:00")
    t = people["tester"]
    keep = add(db, t, name="Keep")
    gone = [add(db, t, name="Gone", first_name=str(i)) for i in range(3)]
    with db.write() as session:
        plan_activity(session, t, {"type": "call", "contact_id": gone[0], "due": "today"}, settings=LOOSE)
        stage = session.exec(select(Stage).order_by(Stage.id)).first()
        session.add(Opportunity(title="Dach", contact_id=gone[1], pipeline_id=stage.pipeline_id, stage_id=stage.id))
    with db.read() as session:
        assert bulk.count_selected(session, t, Selection.matching(parse("gone"))) == 3
    with db.write() as session:
        result = bulk.delete(session, t, Selection.matching(parse("gone")))
    assert result.count == 3
    with db.read() as session:
        assert session.exec(select(Contact.id)).all() == [keep]
        assert session.exec(select(func.count()).select_from(Activity)).one() == 0
        assert session.exec(select(func.count()).select_from(Opportunity)).one() == 0
        opportunity_row = session.exec(
            select(HistoryEntry).where(HistoryEntry.action == "delete", HistoryEntry.opportunity_id.is_not(None))
        ).one()
        audit = session.exec(
            select(HistoryEntry).where(HistoryEntry.action == "delete", HistoryEntry.opportunity_id.is_(None))
            .order_by(HistoryEntry.contact_id)
        ).all()
    assert (opportunity_row.contact_id, opportunity_row.note) == (gone[1], f"deleted with contact {gone[1]}")
    assert opportunity_row.subject.endswith(" Dach")
    assert [(h.contact_id, h.subject, h.user_login) for h in audit] == [
        (gone[0], f"contact {gone[0]} Gone, 0", "tester"),
        (gone[1], f"contact {gone[1]} Gone, 1", "tester"),
        (gone[2], f"contact {gone[2]} Gone, 2", "tester"),
    ]


def test_reps_delete_only_their_own(db, people):
    mine = add(db, people["anna"], name="Mine", assigned_to="anna")
    everybody = add(db, people["anna"], name="Everybody's")
    with pytest.raises(PermissionDenied, match="a rep may delete only contacts assigned to them"):
        with db.write() as session:
            bulk.delete(session, people["anna"], Selection.of([mine, everybody]))
    with db.write() as session:
        bulk.delete(session, people["anna"], Selection.of([mine]))


def test_export_formats(db, people, frozen_now):
    frozen_now("2026-11-23T10:00:00+01:00")
    t = people["tester"]
    a = add(db, t, name="Müller", first_name="Jürgen", company="Bau; GmbH", email="jm@bau.de",
            phone="02761 12345", city="Olpe", expected_revenue="1.000,5", assigned_to="anna",
            description="Zeile 1\nZeile 2")
    add(db, t, kind="company", name="Nowak Sp. z o.o.", city="Gdańsk", status="archived")

    def export(fmt: str, selection: Selection) -> str:
        out = io.StringIO()
        with db.read() as session:
            bulk.export_contacts(session, t, selection, fmt, out)
        return out.getvalue()

    rows = list(csv.DictReader(io.StringIO(export("csv", Selection.matching(parse("status:all"))))))
    assert [r["name"] for r in rows] == ["Müller", "Nowak Sp. z o.o."]
    assert rows[0]["expected_revenue"] == "1000.50" and rows[0]["assigned_to"] == "anna"
    assert rows[0]["description"] == "Zeile 1\nZeile 2" and rows[0]["company"] == "Bau; GmbH"
    assert rows[1]["status"] == "archived"

    [record] = json.loads(export("json", Selection.of([a])))
    assert (record["id"], record["expected_revenue"], record["state"]) == (a, "1000.50", "none")
    assert json.loads(export("json", Selection.matching(parse("nobody")))) == []

    card = export("vcf", Selection.matching(parse("status:all")))
    assert card.count("BEGIN:VCARD") == 2 and "\r\n" in card
    assert "N:Müller;Jürgen;;;" in card and "ORG:Bau\\; GmbH" in card
    assert "NOTE:Zeile 1\\nZeile 2" in card and "KIND:org" in card
    assert "TEL;VALUE=text;TYPE=work,voice:02761 12345" in card
    with pytest.raises(ValidationError) as caught:
        export("xlsx", Selection.of([a]))
    assert caught.value.field == "format"
