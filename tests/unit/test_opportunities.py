"""Opportunities (SQLite and PostgreSQL): create/edit with history, the activity-state roll-up at a
frozen clock, rotting, moves, won/lost/reopen, permissions and merge.

Now is 2026-11-23 10:00 in Berlin (09:00 UTC): for tester (Europe/Berlin) today is 2026-11-23.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlmodel import col, select

from crm_tui.models import Activity, Attachment, Contact, HistoryEntry, Opportunity
from crm_tui.services import opportunities as svc
from crm_tui.services.activities import pause, plan_activity, resume
from crm_tui.services.board import board_summary
from crm_tui.services.chaining import mark_done
from crm_tui.services.defaults import install_defaults
from crm_tui.services.errors import ConflictError, NotFound, PermissionDenied, ValidationError
from crm_tui.services.pipelines import create_pipeline

NOW = "2026-11-23T10:00:00+01:00"
NOW_UTC = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
TODAY = date(2026, 11, 23)


@pytest.fixture
def world(db, people, frozen_now):
    """Pipeline "Sales": New (10 %, 7 days), Offer (50 %, 14 days), Won, Lost; and "Plain" with
    no won/lost stage. Contacts Alpha and Beta (customers), plus the default configuration."""
    frozen_now(NOW)
    admin = people["tester"]
    with db.write() as s:
        install_defaults(s)
        sales = create_pipeline(s, admin, {"name": "Sales"}, [
            {"name": "New", "probability": 10, "duration_days": 7},
            {"name": "Offer", "probability": 50, "duration_days": 14},
            {"name": "Won", "probability": 100, "is_won": True},
            {"name": "Lost", "probability": 0, "is_lost": True},
        ])
        plain = create_pipeline(s, admin, {"name": "Plain"}, [
            {"name": "One", "probability": 20}, {"name": "Two", "probability": 70},
        ])
        alpha = Contact(name="Alpha", first_name="Ann", company="Alpha GmbH", status="customer")
        beta = Contact(name="Beta", status="customer")
        s.add_all([alpha, beta])
        s.flush()
        ids = {"sales": sales.id, "plain": plain.id, "alpha": alpha.id, "beta": beta.id}
    return {"db": db, "people": people, "admin": admin, **ids}


def create(world, actor=None, **values):
    values.setdefault("title", "Deal")
    values.setdefault("contact", world["alpha"])
    values.setdefault("pipeline", "Sales")
    with world["db"].write() as s:
        return svc.create_opportunity(s, actor or world["admin"], values).id


def detail(world, opportunity_id, actor=None):
    with world["db"].read() as s:
        return svc.get_opportunity(s, actor or world["admin"], opportunity_id)


def do(world, fn, *args, actor=None, **kwargs):
    with world["db"].write() as s:
        return fn(s, actor or world["admin"], *args, **kwargs)


def history_of(world, opportunity_id):
    with world["db"].read() as s:
        rows = s.exec(
            select(HistoryEntry).where(HistoryEntry.opportunity_id == opportunity_id).order_by(HistoryEntry.id)
        ).all()
    return [(r.action, r.field, r.old_value, r.new_value) for r in rows]


def plan(world, opportunity_id, due, actor=None):
    with world["db"].write() as s:
        return plan_activity(s, actor or world["admin"],
                             {"type": "E-Mail", "opportunity_id": opportunity_id, "due": due}).id


# -- create ----------------------------------------------------------------------------------


def test_create_with_defaults(world):
    opp = create(world, title="Mietwohnung Olpe", pipeline=None, expected_revenue="1.000,50")
    d = detail(world, opp)
    assert (d.pipeline, d.stage, d.probability, d.probability_overridden) == ("Immobilien", "NEU", 10, False)
    assert (d.owner, d.currency, d.status, d.state, d.rotting) == ("tester", "EUR", "open", "none", False)
    assert d.expected_revenue == Decimal("1000.50") and isinstance(d.expected_revenue, Decimal)
    assert (d.contact, d.contact_id, d.company) == ("Alpha, Ann", world["alpha"], "Alpha GmbH")
    assert d.stage_entered_at == NOW_UTC
    assert history_of(world, opp) == [("create", "stage", "", "NEU")]


def test_create_with_every_field(world):
    opp = create(world, title="Loft", contact=str(world["beta"]), stage="offer", expected_revenue="850000",
                 currency="chf", probability="35%", owner="anna", expected_close="1.12.2026",
                 description="Kessenhammer")
    d = detail(world, opp)
    assert (d.stage, d.probability, d.probability_overridden, d.currency) == ("Offer", 35, True, "CHF")
    assert (d.owner, d.expected_close, d.description) == ("anna", date(2026, 12, 1), "Kessenhammer")
    assert d.expected_revenue == Decimal("850000.00")


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"title": ""}, "title"),
        ({"contact": None}, "contact"),
        ({"contact": "Alpha"}, "contact"),
        ({"contact": "99999"}, "contact"),
        ({"pipeline": "Nope"}, "pipeline"),
        ({"stage": "Nope"}, "stage"),
        ({"stage": "Lost"}, "stage"),
        ({"expected_revenue": "12.345,678"}, "expected_revenue"),
        ({"expected_revenue": "-5"}, "expected_revenue"),
        ({"currency": "Euro"}, "currency"),
        ({"probability": "150"}, "probability"),
        ({"owner": "nobody-here"}, "owner"),
        ({"expected_close": "someday"}, "expected_close"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_create_rejects_bad_input_and_writes_nothing(world, values, field):
    with pytest.raises(ValidationError) as error:
        create(world, **values)
    assert error.value.field == field
    with world["db"].read() as s:
        assert s.exec(select(Opportunity)).all() == []


def test_money_is_exact(world):
    ids = [create(world, expected_revenue=v) for v in ("0.10", "0.20", "999999999.99")]
    with world["db"].read() as s:
        rows = svc.list_opportunities(s, world["admin"], svc.OpportunityFilter(pipeline="Sales"))
    assert sorted(r.expected_revenue for r in rows if r.id in ids) == [
        Decimal("0.10"), Decimal("0.20"), Decimal("999999999.99"),
    ]


def test_creating_in_the_won_stage_wins_it(world):
    d = detail(world, create(world, stage="Won"))
    assert (d.status, d.probability, d.closed_at) == ("won", 100, NOW_UTC)


# -- the state roll-up -----------------------------------------------------------------------


def test_state_is_the_most_urgent_open_unpaused_activity(world):
    opp = create(world)
    assert detail(world, opp).state == "none"
    future = plan(world, opp, TODAY + timedelta(days=7))
    assert detail(world, opp).state == "planned"
    overdue = plan(world, opp, TODAY - timedelta(days=3))
    d = detail(world, opp)
    assert (d.state, d.next_activity_due) == ("overdue", TODAY - timedelta(days=3))

    do(world, pause, [overdue])  # a paused activity does not count
    assert detail(world, opp).state == "planned"
    do(world, resume, [overdue])
    assert detail(world, opp).state == "overdue"

    do(world, mark_done, overdue, "done")  # nor does a done one
    d = detail(world, opp)
    assert (d.state, d.next_activity_due) == ("planned", TODAY + timedelta(days=7))

    today = plan(world, opp, TODAY)
    assert detail(world, opp).state == "today"
    do(world, mark_done, today, "")
    do(world, mark_done, future, "")
    assert detail(world, opp).state == "none"


def test_state_follows_the_clock_and_the_actors_zone(world, frozen_now):
    opp = create(world)
    plan(world, opp, TODAY)
    assert detail(world, opp).state == "today"
    frozen_now("2026-11-23T23:30:00+00:00")  # already the 24th in Berlin, still the 23rd in UTC
    assert detail(world, opp).state == "overdue"


def test_list_filters_by_state_and_agrees_with_the_board(world):
    overdue, today, planned, none = (create(world, title=t) for t in ("o", "t", "p", "n"))
    plan(world, overdue, TODAY - timedelta(days=1))
    plan(world, overdue, TODAY + timedelta(days=9))
    plan(world, today, TODAY)
    plan(world, planned, TODAY + timedelta(days=2))
    admin = world["admin"]
    with world["db"].read() as s:
        def ids(**kw):
            return [r.id for r in svc.list_opportunities(s, admin, svc.OpportunityFilter(**kw))]
        assert ids(state="overdue") == [overdue]
        assert ids(state="today") == [today]
        assert ids(state="planned") == [planned]
        assert ids(state="none") == [none]
        assert ids(state="overdue,today") == [overdue, today]
        assert ids() == [overdue, today, planned, none]  # most urgent first
        new = board_summary(s, admin, world["sales"])[0]
        assert new.counts == {"overdue": 1, "today": 1, "planned": 1, "none": 1}
        with pytest.raises(ValidationError) as error:
            ids(state="red")
        assert error.value.field == "state"


# -- rotting ---------------------------------------------------------------------------------


def test_rotting_after_the_stage_duration_and_reset_only_by_a_stage_change(world, frozen_now):
    opp = create(world)
    frozen_now(NOW_UTC + timedelta(days=7))
    assert detail(world, opp).rotting is False  # exactly the duration: not yet
    frozen_now(NOW_UTC + timedelta(days=7, seconds=1))
    assert detail(world, opp).rotting is True
    do(world, svc.update_opportunity, opp, {"title": "Renamed", "expected_revenue": "5"})
    plan(world, opp, TODAY + timedelta(days=30))
    assert detail(world, opp).rotting is True  # edits and activities do not reset it
    with world["db"].read() as s:
        assert [r.id for r in svc.list_opportunities(s, world["admin"], svc.OpportunityFilter(rotting=True))] == [opp]
    do(world, svc.move_next, opp)
    d = detail(world, opp)
    assert (d.rotting, d.stage_entered_at) == (False, NOW_UTC + timedelta(days=7, seconds=1))
    with world["db"].read() as s:
        assert svc.list_opportunities(s, world["admin"], svc.OpportunityFilter(rotting=True)) == []


def test_a_stage_without_duration_never_rots_nor_does_a_closed_one(world, frozen_now):
    plain = create(world, pipeline="Plain")
    won = create(world)
    do(world, svc.mark_won, won)
    frozen_now(NOW_UTC + timedelta(days=400))
    assert detail(world, plain).rotting is False
    assert detail(world, won).rotting is False


# -- moves -----------------------------------------------------------------------------------


def test_move_next_previous_and_named(world, frozen_now):
    opp = create(world)
    with world["db"].write() as s:
        o = s.get(Opportunity, opp)
        o.followup_first_at, o.followup_count = NOW_UTC, 3
        s.add(o)
    later = frozen_now("2026-11-25T12:00:00+00:00")
    do(world, svc.move_next, opp)
    d = detail(world, opp)
    assert (d.stage, d.probability, d.stage_entered_at, d.status) == ("Offer", 50, later, "open")
    with world["db"].read() as s:
        o = s.get(Opportunity, opp)
        assert (o.followup_first_at, o.followup_count) == (None, 0)
    assert history_of(world, opp)[-2:] == [("stage", "stage", "New", "Offer"), ("change", "probability", "10", "50")]

    do(world, svc.move_previous, opp)
    assert (detail(world, opp).stage, detail(world, opp).probability) == ("New", 10)
    with pytest.raises(ValidationError, match="first stage"):
        do(world, svc.move_previous, opp)
    do(world, svc.move_opportunity, opp, stage="offer")
    assert detail(world, opp).stage == "Offer"
    with pytest.raises(ValidationError, match="already"):
        do(world, svc.move_opportunity, opp, stage="Offer")
    with pytest.raises(ValidationError, match="lost stage"):
        do(world, svc.move_opportunity, opp, stage="Lost")
    with pytest.raises(ValidationError):
        do(world, svc.move_opportunity, opp, stage="One")  # another pipeline's stage


def test_an_overridden_probability_survives_moves(world):
    opp = create(world, probability=33)
    do(world, svc.move_next, opp)
    assert (detail(world, opp).probability, detail(world, opp).probability_overridden) == (33, True)
    do(world, svc.update_opportunity, opp, {"probability": "stage"})
    assert (detail(world, opp).probability, detail(world, opp).probability_overridden) == (50, False)


def test_moving_into_the_won_stage_wins(world):
    opp = create(world, stage="Offer")
    do(world, svc.move_next, opp)
    d = detail(world, opp)
    assert (d.stage, d.status, d.probability, d.closed_at) == ("Won", "won", 100, NOW_UTC)
    with pytest.raises(ValidationError, match="reopen"):
        do(world, svc.move_previous, opp)


def test_move_last_stage_of_a_plain_pipeline(world):
    opp = create(world, pipeline="Plain", stage="Two")
    with pytest.raises(ValidationError, match="last stage"):
        do(world, svc.move_next, opp)


# -- won, lost, reopen -----------------------------------------------------------------------


def test_won_goes_to_the_won_stage_and_reopen_comes_back(world, frozen_now):
    opp = create(world, stage="Offer", probability=80)
    do(world, svc.mark_won, opp)
    d = detail(world, opp)
    assert (d.status, d.stage, d.probability, d.probability_overridden, d.closed_at) == (
        "won", "Won", 100, False, NOW_UTC)
    with pytest.raises(ValidationError, match="won already"):
        do(world, svc.mark_won, opp)
    with pytest.raises(ValidationError, match="keeps 100"):
        do(world, svc.update_opportunity, opp, {"probability": "40"})
    frozen_now("2026-11-24T09:00:00+00:00")
    do(world, svc.reopen_opportunity, opp)
    d = detail(world, opp)
    assert (d.status, d.stage, d.probability, d.closed_at, d.lost_reason) == ("open", "Offer", 50, None, None)
    actions = [a for a, *_ in history_of(world, opp)]
    assert actions == ["create", "stage", "change", "won", "reopen", "stage", "change"]


def test_won_without_a_won_stage_stays_in_its_stage(world):
    opp = create(world, pipeline="Plain")
    do(world, svc.mark_won, opp)
    d = detail(world, opp)
    assert (d.stage, d.status, d.probability, d.stage_entered_at) == ("One", "won", 100, NOW_UTC)
    do(world, svc.reopen_opportunity, opp)
    assert (detail(world, opp).status, detail(world, opp).probability) == ("open", 20)


def test_lost_needs_a_known_reason(world):
    opp = create(world)
    for reason, message in ((None, "required"), ("", "required"), ("Zu teuer", "Preis zu hoch")):
        with pytest.raises(ValidationError, match=message) as error:
            do(world, svc.mark_lost, opp, reason)
        assert error.value.field == "reason"
    assert detail(world, opp).status == "open"
    do(world, svc.mark_lost, opp, "preis zu hoch", "went with the cheaper offer")
    d = detail(world, opp)
    assert (d.status, d.stage, d.probability, d.lost_reason, d.lost_note) == (
        "lost", "Lost", 0, "Preis zu hoch", "went with the cheaper offer")
    assert d.state == "none"
    assert history_of(world, opp)[-1] == ("lost", "status", "open", "lost")
    with world["db"].read() as s:
        assert "Preis zu hoch" in svc.list_lost_reasons(s)
        assert [r.id for r in svc.list_opportunities(s, world["admin"], svc.OpportunityFilter(status="lost"))] == [opp]
        assert svc.list_opportunities(s, world["admin"], svc.OpportunityFilter()) == []


def test_reopen_clears_the_reason_and_may_name_a_stage(world):
    opp = create(world)
    do(world, svc.mark_lost, opp, "Sonstiges")
    with pytest.raises(ValidationError, match="closes"):
        do(world, svc.reopen_opportunity, opp, "Won")
    do(world, svc.reopen_opportunity, opp, "Offer")
    d = detail(world, opp)
    assert (d.status, d.stage, d.lost_reason, d.lost_note, d.probability) == ("open", "Offer", None, "", 50)
    with pytest.raises(ValidationError, match="open already"):
        do(world, svc.reopen_opportunity, opp)


def test_lost_then_won_directly(world):
    opp = create(world)
    do(world, svc.mark_lost, opp, "Sonstiges", "")
    do(world, svc.mark_won, opp)
    d = detail(world, opp)
    assert (d.status, d.stage, d.lost_reason, d.probability) == ("won", "Won", None, 100)


# -- edit ------------------------------------------------------------------------------------


def test_edit_records_every_change(world):
    opp = create(world, expected_revenue="100")
    do(world, svc.update_opportunity, opp, {
        "title": "Bigger deal", "expected_revenue": "1.500", "owner": "anna", "contact": world["beta"],
        "expected_close": "2026-12-31", "description": "x",
    })
    d = detail(world, opp)
    assert (d.title, d.expected_revenue, d.owner, d.contact_id) == ("Bigger deal", Decimal("1500.00"), "anna", world["beta"])
    changes = {f: (o, n) for a, f, o, n in history_of(world, opp) if a == "change"}
    assert changes["title"] == ("Deal", "Bigger deal")
    assert changes["expected_revenue"] == ("100.00", "1500.00")
    assert changes["owner"] == ("tester", "anna")
    assert changes["expected_close"] == ("", "2026-12-31")
    assert d.stage_entered_at == NOW_UTC


def test_edit_stage_or_pipeline_is_a_move(world, frozen_now):
    opp = create(world)
    later = frozen_now("2026-11-30T09:00:00+00:00")
    do(world, svc.update_opportunity, opp, {"stage": "Offer"})
    d = detail(world, opp)
    assert (d.stage, d.probability, d.stage_entered_at) == ("Offer", 50, later)
    do(world, svc.update_opportunity, opp, {"pipeline": "Plain"})
    d = detail(world, opp)
    assert (d.pipeline, d.stage, d.probability) == ("Plain", "One", 20)
    assert ("change", "pipeline", "Sales", "Plain") in history_of(world, opp)


def test_edit_with_a_stale_version_is_a_conflict(world):
    opp = create(world)
    loaded = detail(world, opp)
    do(world, svc.update_opportunity, opp, {"title": "Theirs"})
    with pytest.raises(ConflictError) as error:
        do(world, svc.update_opportunity, opp, {"title": "Mine"}, expected_version=loaded.version,
           base=loaded.form_values())
    [conflict] = error.value.fields
    assert (conflict.field, conflict.base, conflict.mine, conflict.theirs) == ("title", "Deal", "Mine", "Theirs")
    assert detail(world, opp).title == "Theirs"


def test_unknown_opportunity(world):
    with pytest.raises(NotFound):
        detail(world, 4242)
    with pytest.raises(NotFound):
        do(world, svc.move_next, 4242)


# -- permissions -----------------------------------------------------------------------------


def test_owner_their_teams_manager_and_admin_may_change(world):
    people = world["people"]
    annas = create(world, owner="anna")
    with pytest.raises(PermissionDenied, match="owned by someone else"):
        do(world, svc.move_next, annas, actor=people["ben"])  # another rep
    do(world, svc.move_next, annas, actor=people["anna"])  # the owner
    do(world, svc.move_previous, annas, actor=people["mia"])  # manager of Nord, anna's team
    do(world, svc.move_next, annas, actor=people["tester"])  # admin
    bens = create(world, owner="ben")
    with pytest.raises(PermissionDenied):
        do(world, svc.mark_won, bens, actor=people["mia"])  # ben is in Süd, not mia's team
    with pytest.raises(PermissionDenied):
        do(world, svc.update_opportunity, bens, {"title": "x"}, actor=people["anna"])
    # anybody sees everything
    assert detail(world, bens, actor=people["anna"]).owner == "ben"


def test_a_rep_creates_for_themselves_by_default(world):
    anna = world["people"]["anna"]
    opp = create(world, actor=anna)
    assert detail(world, opp).owner == "anna"
    do(world, svc.mark_lost, opp, "Sonstiges", actor=anna)


def test_filters_by_owner_pipeline_and_stage(world):
    a = create(world, owner="anna")
    b = create(world, owner="ben", stage="Offer")
    c = create(world, pipeline="Plain", owner="none")
    anna = world["people"]["anna"]
    with world["db"].read() as s:
        def ids(actor=anna, **kw):
            return sorted(r.id for r in svc.list_opportunities(s, actor, svc.OpportunityFilter(**kw)))
        assert ids(owner="@me") == [a]
        assert ids(owner="ben") == [b]
        assert ids(owner="none") == [c]
        assert ids(pipeline="Sales") == [a, b]
        assert ids(pipeline="Sales", stage="offer") == [b]
        assert ids(stage="One") == [c]
        assert ids(search="alpha") == [a, b, c]
        assert ids(contact_id=world["beta"]) == []
        assert svc.count_opportunities(s, anna, svc.OpportunityFilter(pipeline="Sales")) == 2
        with pytest.raises(ValidationError) as error:
            ids(owner="ghost")
        assert error.value.field == "owner"
        with pytest.raises(ValidationError) as error:
            ids(status="maybe")
        assert error.value.field == "status"


# -- merge -----------------------------------------------------------------------------------


def test_merge_moves_activities_history_and_attachments(world):
    survivor = create(world, title="Survivor")
    same_contact = create(world, title="Twin")
    other_contact = create(world, title="Beta deal", contact=world["beta"])
    plan(world, survivor, TODAY + timedelta(days=5))
    overdue = plan(world, same_contact, TODAY - timedelta(days=2))
    plan(world, other_contact, TODAY)
    with world["db"].write() as s:
        s.add(Attachment(contact_id=world["beta"], opportunity_id=other_contact, filename="offer.pdf", data=b"%PDF"))
    assert detail(world, survivor).state == "planned"

    with world["db"].read() as s:
        preview = svc.preview_merge(s, world["admin"], survivor, [same_contact, other_contact])
    assert (preview.contacts_differ, preview.activities, preview.attachments) == (True, 2, 1)
    with world["db"].read() as s:
        moved_history = s.exec(
            select(HistoryEntry.id).where(col(HistoryEntry.opportunity_id).in_([same_contact, other_contact]))
        ).all()
    assert preview.history == len(moved_history)

    result = do(world, svc.merge_opportunities, survivor, [same_contact, other_contact, same_contact])
    assert result.merged_ids == (same_contact, other_contact)
    assert result.contacts_differ is True
    with world["db"].read() as s:
        assert s.get(Opportunity, same_contact) is None and s.get(Opportunity, other_contact) is None
        assert {a.opportunity_id for a in s.exec(select(Activity)).all()} == {survivor}
        assert s.get(Activity, overdue).contact_id == world["alpha"]
        assert s.exec(select(Attachment.opportunity_id)).all() == [survivor]
        assert set(s.exec(select(HistoryEntry.id).where(HistoryEntry.opportunity_id == survivor)).all()) >= set(moved_history)
        merges = s.exec(select(HistoryEntry).where(HistoryEntry.action == "merge")).all()
    d = detail(world, survivor)
    assert (d.state, d.next_activity_due) == ("overdue", TODAY - timedelta(days=2))
    assert {(m.contact_id, m.old_value) for m in merges} == {
        (world["alpha"], f"{same_contact} Twin"), (world["alpha"], f"{other_contact} Beta deal"),
        (world["beta"], f"{other_contact} Beta deal"),
    }
    assert all(m.opportunity_id == survivor and m.new_value == str(survivor) for m in merges)
    assert any("differs" in m.note for m in merges)


def test_merge_same_contact_has_no_warning_and_bad_input_is_refused(world):
    survivor, other = create(world), create(world)
    with pytest.raises(ValidationError):
        do(world, svc.merge_opportunities, survivor, [])
    with pytest.raises(ValidationError, match="survivor"):
        do(world, svc.merge_opportunities, survivor, [survivor, other])
    with pytest.raises(NotFound):
        do(world, svc.merge_opportunities, survivor, [999])
    bens = create(world, owner="ben")
    with pytest.raises(PermissionDenied):
        do(world, svc.merge_opportunities, survivor, [bens], actor=world["people"]["mia"])
    result = do(world, svc.merge_opportunities, survivor, [other])
    assert result.contacts_differ is False
    with world["db"].read() as s:
        assert s.get(Opportunity, bens) is not None


def test_contact_card_lists_its_opportunities(world):
    a = create(world)
    b = create(world)
    do(world, svc.mark_won, b)
    create(world, contact=world["beta"])
    with world["db"].read() as s:
        rows = svc.opportunities_of_contact(s, world["admin"], world["alpha"])
    assert [r.id for r in rows] == [a, b]
