"""Duplicate check: normalised keys, lookups while typing (any status, indexed), clusters over the
database, merging, and the migration that computes the keys of existing rows."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import event, text
from sqlmodel import col, select

from crm_tui.config import RequiredSettings, Settings
from crm_tui.db.engine import open_database
from crm_tui.db.migrate import ensure_schema, upgrade
from crm_tui.models import (
    Activity,
    Attachment,
    Contact,
    ContactGroup,
    GroupMember,
    HistoryEntry,
    Opportunity,
    Stage,
)
from crm_tui.services import lifecycle
from crm_tui.services.activities import plan_activity
from crm_tui.services.contacts import create_contact, get_contact, update_contact
from crm_tui.services.duplicates import (
    duplicate_clusters,
    duplicate_keys,
    email_domain,
    find_duplicates,
    merge_contacts,
    name_key,
    phone_key,
)
from crm_tui.services.errors import NotFound, PermissionDenied, ValidationError

LOOSE = Settings(required=RequiredSettings(prospect=("name",)))


@pytest.fixture(autouse=True)
def _defaults(db):
    from crm_tui.services.defaults import install_defaults

    with db.write() as session:
        install_defaults(session)


def add(db, actor, **values):
    values.setdefault("status", "customer")
    with db.write() as session:
        return create_contact(session, actor, values, settings=LOOSE, auto_plan=False).id


# -- keys ------------------------------------------------------------------------------------


def test_name_keys_meet_across_spellings():
    assert name_key("person", "Müller", "Jürgen") == name_key("person", "Mueller", "Juergen")
    assert name_key("person", "Müller", "Jürgen") == name_key("person", "muller", "JURGEN")
    assert name_key("person", "Jürgen Müller") == name_key("person", "Müller", "Jürgen")
    assert name_key("company", "Müller Bau GmbH") == name_key("company", "Mueller Bau")
    assert name_key("company", "Kowalski Sp. z o.o.") == name_key("company", "KOWALSKI")
    assert name_key("person", "Müller", "Anna") != name_key("person", "Müller", "Hans")


def test_phone_and_email_keys():
    assert phone_key("+49 (0)2761 123-45") == phone_key("02761/12345") == "0276112345"
    assert phone_key("0049 2761 12345") == "0276112345"
    assert phone_key("112") == ""  # too short to mean anything
    assert email_domain("Info@Mueller-Bau.DE") == "mueller-bau.de"
    assert email_domain("not an address") == ""
    keys = duplicate_keys({"kind": "company", "name": "Bau AG", "email": "X@Bau.de", "mobile": "0171 1234567"})
    assert keys == {"name_key": "bau", "company_key": "bau", "email_key": "x@bau.de",
                    "email_domain": "bau.de", "phone_key": "", "mobile_key": "01711234567"}


def test_keys_follow_every_edit(db, people):
    cid = add(db, people["tester"], name="Alt", email="a@alt.de")
    with db.write() as session:
        update_contact(session, people["tester"], cid, {"name": "Neu", "email": "n@neu.de", "mobile": "0171 7654321"},
                       settings=LOOSE)
    with db.read() as session:
        contact = session.get(Contact, cid)
    assert (contact.name_key, contact.email_key, contact.email_domain, contact.mobile_key) == (
        "neu", "n@neu.de", "neu.de", "01717654321")


# -- the check while typing ------------------------------------------------------------------


def test_matches_of_every_status_with_reasons(db, people, frozen_now):
    frozen_now("2026-11-23T10:00:00+01:00")
    t = people["tester"]
    same_mail = add(db, t, name="Schmidt", first_name="Eva", email="EVA@schmidt-bau.de")
    same_phone = add(db, t, name="Other", mobile="+49 2761 12345")
    same_name = add(db, t, name="Mueller", first_name="Juergen", status="archived")
    company = add(db, t, kind="company", name="Schmidt Bau GmbH", email="info@schmidt-bau.de")
    closed = add(db, t, name="Old", company="Schmidt Bau", status="customer")
    with db.write() as session:
        lifecycle.close(session, t, [closed], "Sonstiges", "gone")
    add(db, t, name="Freemail", email="someone@gmail.com")
    add(db, t, name="Unrelated", email="x@elsewhere.de", phone="0271 999999")

    with db.read() as session:
        matches = find_duplicates(session, {
            "name": "Müller", "first_name": "Jürgen", "company": "Schmidt Bau", "email": "eva@schmidt-bau.de",
            "phone": "02761 12345",
        })
    by_id = {m.id: m.reasons for m in matches}
    assert by_id == {
        same_mail: ("email",),
        same_phone: ("phone",),
        same_name: ("name",),
        company: ("company", "email_domain"),
        closed: ("company",),
    }
    assert matches[0].id == same_mail  # the strongest reason first
    statuses = {m.id: m.status for m in matches}
    assert statuses[same_name] == "archived" and statuses[closed] == "closed"
    assert next(m for m in matches if m.id == company).why == "same company, same e-mail domain"


def test_freemail_domains_and_half_typed_values_find_nothing(db, people):
    add(db, people["tester"], kind="company", name="Ein Laden", email="laden@gmail.com")
    with db.read() as session:
        assert find_duplicates(session, {"kind": "company", "name": "Anderer", "email": "x@gmail.com"}) == []
        assert find_duplicates(session, {"name": "", "email": "laden@", "phone": "02"}) == []


def test_a_person_matches_a_company_by_domain_but_not_a_colleague(db, people):
    t = people["tester"]
    firm = add(db, t, kind="company", name="Nowak Sp. z o.o.", email="biuro@nowak.pl")
    add(db, t, name="Colleague", email="anna@nowak.pl")
    with db.read() as session:
        matches = find_duplicates(session, {"name": "Nowy", "email": "piotr@nowak.pl"})
    assert [(m.id, m.reasons) for m in matches] == [(firm, ("email_domain",))]


def test_exclude_the_contact_being_edited(db, people):
    cid = add(db, people["tester"], name="Self", email="self@self.de")
    with db.read() as session:
        assert find_duplicates(session, {"name": "Self", "email": "self@self.de"}, exclude_id=cid) == []


def test_a_locked_prospect_says_who_holds_it(db, people, frozen_now):
    frozen_now("2026-11-23T10:00:00+01:00")
    add(db, people["anna"], name="Held", status="prospect", email="held@firma.de")
    with db.read() as session:
        [match] = find_duplicates(session, {"name": "X", "email": "held@firma.de"})
    assert (match.locked_by, match.locked_until.date().isoformat()) == ("anna", "2027-05-23")


def test_lookups_use_indexes(sqlite_db):
    """Every statement of a check is an index search: no scan of contacts (1M rows in production)."""
    from tests.unit.conftest import make_team

    people = make_team(sqlite_db)
    add(sqlite_db, people["tester"], name="Some", email="s@some.de")
    plans: list[str] = []

    @event.listens_for(sqlite_db.read_engine, "before_cursor_execute")
    def explain(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT") and "contacts" in statement:
            rows = cursor.connection.execute(f"EXPLAIN QUERY PLAN {statement}", parameters).fetchall()
            plans.append(" | ".join(r[-1] for r in rows))

    with sqlite_db.read() as session:
        find_duplicates(session, {"kind": "company", "name": "Some GmbH", "first_name": "", "company": "Some",
                                  "email": "info@some.de", "phone": "02761 12345", "mobile": "0171 1234567"})
    event.remove(sqlite_db.read_engine, "before_cursor_execute", explain)
    assert len(plans) >= 7
    for plan in plans:
        assert "SCAN contacts" not in plan, plan


# -- clusters --------------------------------------------------------------------------------


def test_clusters_over_the_database(db, people):
    t = people["tester"]
    a = add(db, t, name="Meier", first_name="Jan", email="jan@meier.de")
    b = add(db, t, name="Maier", first_name="Jan", email="JAN@meier.de", status="archived")
    c = add(db, t, name="Nowak", phone="+48 22 1234567")
    d = add(db, t, name="Nowak-Biuro", mobile="022 1234567")
    e = add(db, t, name="Schulz", first_name="Eva")
    f = add(db, t, name="Schulz", first_name="Eva", email="eva@schulz.de")
    add(db, t, name="Alone", email="alone@x.de")
    with db.read() as session:
        clusters = duplicate_clusters(session)
    found = {c_.ids: c_.reasons for c_ in clusters}
    assert found == {(a, b): ("email",), (c, d): ("phone",), (e, f): ("name",)}
    with db.read() as session:
        assert [x.ids for x in duplicate_clusters(session, reasons=["email"])] == [(a, b)]
        with pytest.raises(ValidationError):
            duplicate_clusters(session, reasons=["shoe"])


def test_clusters_found_by_two_keys_are_one(db, people):
    t = people["tester"]
    a = add(db, t, name="Twin", first_name="Tom", email="tom@twin.de")
    b = add(db, t, name="Twin", first_name="Tom", email="tom@twin.de")
    with db.read() as session:
        [cluster] = duplicate_clusters(session)
    assert (cluster.ids, cluster.reasons, cluster.size) == ((a, b), ("email", "name"), 2)


# -- merging ---------------------------------------------------------------------------------


def _pipeline(session) -> tuple[int, int]:
    stage = session.exec(select(Stage).order_by(Stage.id)).first()
    return stage.pipeline_id, stage.id


def test_merge_moves_everything_to_the_survivor(db, people, frozen_now):
    frozen_now("2026-11-23T10:00:00+01:00")
    t = people["tester"]
    survivor = add(db, t, name="Müller", first_name="Jürgen", email="jm@mueller.de")
    other = add(db, t, name="Mueller", first_name="Juergen", phone="02761 12345", city="Olpe",
                customer_number="K-7", status="archived")
    with db.write() as session:
        pipeline_id, stage_id = _pipeline(session)
        opp = Opportunity(title="Dach", contact_id=other, pipeline_id=pipeline_id, stage_id=stage_id)
        session.add(opp)
        session.flush()
        opp_id = opp.id
        plan_activity(session, t, {"type": "call", "contact_id": other, "opportunity_id": opp_id,
                                   "due": "2026-11-20"}, settings=LOOSE)
        session.add(Attachment(contact_id=other, filename="angebot.pdf", data=b"%PDF"))
        static = ContactGroup(name="Key accounts")
        both = ContactGroup(name="Olpe")
        session.add_all([static, both])
        session.flush()
        session.add_all([GroupMember(group_id=static.id, contact_id=other),
                         GroupMember(group_id=both.id, contact_id=other),
                         GroupMember(group_id=both.id, contact_id=survivor)])
    with db.write() as session:
        result = merge_contacts(session, t, survivor, [other])
    assert result.merged_ids == (other,)
    assert result.moved["opportunities"] == 1 and result.moved["activities"] == 1
    assert result.moved["attachments"] == 1 and result.moved["groups"] == 1
    assert set(result.filled) == {"phone", "city", "customer_number"}
    with db.read() as session:
        assert session.get(Contact, other) is None
        assert session.get(Opportunity, opp_id).contact_id == survivor
        assert session.exec(select(Activity.contact_id)).all() == [survivor]
        assert session.exec(select(Attachment.contact_id)).all() == [survivor]
        assert sorted(session.exec(select(GroupMember.group_id).where(GroupMember.contact_id == survivor)).all()) == [
            static.id, both.id]
        history = session.exec(select(HistoryEntry).where(HistoryEntry.contact_id == survivor)).all()
        assert any(h.action == "merge" for h in history)
        assert any(h.action == "activity_planned" for h in history)  # the other's history moved
        detail = get_contact(session, t, survivor)
    assert (detail.phone, detail.city, detail.customer_number, detail.status) == ("02761 12345", "Olpe", "K-7", "customer")
    assert detail.state == "overdue"  # the moved call is due before today
    assert detail.email == "jm@mueller.de"  # the survivor keeps its own values


def test_merge_refusals(db, people, frozen_now):
    frozen_now("2026-11-23T10:00:00+01:00")
    a = add(db, people["anna"], name="A", assigned_to="anna")
    b = add(db, people["anna"], name="B", assigned_to="anna")
    with db.write() as session:
        with pytest.raises(ValidationError, match="itself"):
            merge_contacts(session, people["tester"], a, [a])
        with pytest.raises(ValidationError):
            merge_contacts(session, people["tester"], a, [])
        with pytest.raises(NotFound):
            merge_contacts(session, people["tester"], a, [999])
    with pytest.raises(PermissionDenied):
        with db.write() as session:
            merge_contacts(session, people["ben"], a, [b])
    with db.read() as session:
        assert session.get(Contact, b) is not None


# -- migration -------------------------------------------------------------------------------


def test_the_migration_computes_keys_of_existing_rows(tmp_path: Path):
    db = open_database(tmp_path / "old.sqlite3")
    try:
        upgrade(db, "0003_change_counter")
        with db.write() as session:
            session.exec(text(
                "INSERT INTO contacts (kind, name, first_name, company, email, phone, mobile, phone_digits,"
                " street, postal_code, city, region, country, source, description, currency, status,"
                " close_note, search_key, created_at, updated_at, version) VALUES ('person', 'Müller',"
                " 'Jürgen', 'Bau GmbH', 'JM@Bau.de', '+49 2761 12345', '', '49276112345', '', '', '', '',"
                " '', '', '', 'EUR', 'customer', '', 'muller', '2026-01-01 00:00:00', '2026-01-01 00:00:00', 1)"
            ))
        ensure_schema(db, backup=False)
        with db.read() as session:
            contact = session.exec(select(Contact)).one()
            assert (contact.name_key, contact.company_key, contact.email_key, contact.email_domain,
                    contact.phone_key, contact.previous_status) == (
                "jurgen muller", "bau", "jm@bau.de", "bau.de", "0276112345", "")
            assert session.exec(select(col(Contact.id)).where(col(Contact.email_key) == "jm@bau.de")).one()
    finally:
        db.dispose()
