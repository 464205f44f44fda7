"""The safety nets under concurrent saves (SQLite and PostgreSQL):

- two saves of one opportunity made with the same loaded version: the second waits for the
  first (row lock on PostgreSQL, the write lock on SQLite) and then sees its version, so it is
  a `ConflictError` the rep can resolve, never SQLAlchemy's StaleDataError;
- a StaleDataError that slips through anyway leaves `Workspace.write` as a `ServiceError` with a
  clear sentence, and nothing is written.
"""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text
from sqlalchemy.orm.exc import StaleDataError

from crm_tui.config import get_settings
from crm_tui.models import Contact
from crm_tui.services import opportunities as svc
from crm_tui.services.contacts import get_contact
from crm_tui.services.defaults import install_defaults
from crm_tui.services.errors import ConflictError, ServiceError
from crm_tui.services.pipelines import create_pipeline
from crm_tui.workspace import ChangedMeanwhile, Workspace

NOW = "2026-11-23T10:00:00+01:00"


@pytest.fixture
def deal(db, people, frozen_now):
    """One open opportunity "Deal" (version loaded by both sessions) on a customer."""
    frozen_now(NOW)
    admin = people["tester"]
    with db.write() as s:
        install_defaults(s)
        create_pipeline(s, admin, {"name": "Sales"}, [
            {"name": "New", "probability": 10}, {"name": "Offer", "probability": 50},
        ])
        contact = Contact(name="Alpha", status="customer")
        s.add(contact)
        s.flush()
        opportunity = svc.create_opportunity(
            s, admin, {"title": "Deal", "contact": contact.id, "pipeline": "Sales"}
        )
        return opportunity.id, contact.id


def _loaded(db, actor, opportunity_id):
    with db.read() as s:
        detail = svc.get_opportunity(s, actor, opportunity_id)
    return detail.version, detail.form_values()


def test_two_saves_of_one_version_give_a_conflict_not_stale_data(db, people, deal):
    opportunity_id, _ = deal
    admin = people["tester"]
    version, base = _loaded(db, admin, opportunity_id)
    outcome: dict[str, BaseException | None] = {}
    waiting = threading.Event()

    def second_save() -> None:
        waiting.set()
        try:
            with db.write() as s:
                svc.update_opportunity(s, admin, opportunity_id, {"title": "Mia's deal"},
                                       expected_version=version, base=base)
        except BaseException as error:  # the assertion below names it
            outcome["second"] = error
        else:
            outcome["second"] = None

    with db.write() as s:
        svc.update_opportunity(s, admin, opportunity_id, {"title": "Tess's deal"},
                               expected_version=version, base=base)
        thread = threading.Thread(target=second_save)
        thread.start()
        waiting.wait(5)
        # The second save is now waiting: for the row lock (PostgreSQL) or the write lock
        # (SQLite). Without the row lock it would read the old version on PostgreSQL, pass
        # the check and fail late with StaleDataError.
        time.sleep(0.5)
    thread.join(30)
    assert not thread.is_alive()
    error = outcome["second"]
    assert not isinstance(error, StaleDataError), error
    assert isinstance(error, ConflictError), repr(error)
    assert [(c.field, c.mine, c.theirs) for c in error.fields] == [
        ("title", "Mia's deal", "Tess's deal")
    ]
    assert error.current_version == version + 1
    assert _loaded(db, admin, opportunity_id)[0] == version + 1


def test_two_moves_of_one_card_at_once_both_land(db, people, deal):
    """Moves carry no version: the second waits for the first and moves on from where it left."""
    opportunity_id, _ = deal
    admin = people["tester"]
    outcome: dict[str, BaseException | None] = {}

    def second_move() -> None:
        try:
            with db.write() as s:
                svc.move_opportunity(s, admin, opportunity_id, step=-1)
        except BaseException as error:
            outcome["second"] = error
        else:
            outcome["second"] = None

    with db.write() as s:
        svc.move_opportunity(s, admin, opportunity_id, step=1)
        thread = threading.Thread(target=second_move)
        thread.start()
        time.sleep(0.5)
    thread.join(30)
    assert outcome["second"] is None
    with db.read() as s:
        assert svc.get_opportunity(s, admin, opportunity_id).stage == "New"


def test_a_leftover_stale_data_error_reads_as_a_sentence(db, people, deal):
    _, contact_id = deal
    admin = people["tester"]
    workspace = Workspace(db=db, actor=admin, settings=get_settings())

    def lose_a_race(session) -> None:
        contact = session.get(Contact, contact_id)
        # Somebody else's save lands between our read and our write, behind the ORM's back.
        session.execute(text("UPDATE contacts SET version = version + 1 WHERE id = :id"),
                        {"id": contact_id})
        contact.city = "Siegen"
        session.add(contact)
        session.flush()

    with pytest.raises(ServiceError) as caught:
        workspace.write(lose_a_race)
    assert isinstance(caught.value, ChangedMeanwhile)
    assert not isinstance(caught.value, StaleDataError)
    assert str(caught.value) == (
        "this contact was changed by someone else meanwhile; reload and try again"
    )
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    with db.read() as s:
        contact = get_contact(s, admin, contact_id)
    assert contact.city == "" and contact.version == 1  # nothing written
