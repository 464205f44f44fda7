"""Pipelines and stages configuration (SQLite and PostgreSQL): validation, order, probability
propagation, and removing a stage that holds opportunities."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlmodel import col, select

from crm_tui.models import Contact, HistoryEntry, Opportunity, Pipeline, Stage
from crm_tui.services import pipelines as svc
from crm_tui.services.errors import PermissionDenied, ValidationError

NOW = "2026-11-23T10:00:00+01:00"
STAGES = [
    {"name": "New", "probability": 10, "duration_days": 7},
    {"name": "Offer", "probability": 50, "duration_days": 14},
    {"name": "Won", "probability": 100, "is_won": True},
    {"name": "Lost", "probability": 0, "is_lost": True},
]


@pytest.fixture
def admin(people):
    return people["tester"]


@pytest.fixture
def sales(db, admin, frozen_now):
    frozen_now(NOW)
    with db.write() as s:
        pipeline = svc.create_pipeline(s, admin, {"name": "Sales"}, STAGES)
        return pipeline.id


def names(db, pipeline_id):
    with db.read() as s:
        return [(st.name, st.position) for st in svc.pipeline_stages(s, pipeline_id)]


def add_opportunities(db, pipeline_id, stage_name, count=2, **extra):
    with db.write() as s:
        stage = svc.find_stage(s, pipeline_id, stage_name)
        contact = Contact(name="Kunde", status="customer")
        s.add(contact)
        s.flush()
        opps = [
            Opportunity(title=f"Deal {i}", contact_id=contact.id, pipeline_id=pipeline_id,
                        stage_id=stage.id, probability=stage.probability,
                        stage_entered_at=datetime(2026, 1, 1, tzinfo=UTC),
                        expected_revenue=Decimal("100.00"), **extra)
            for i in range(count)
        ]
        s.add_all(opps)
        s.flush()
        return [o.id for o in opps]


# -- create and read -------------------------------------------------------------------------


def test_create_pipeline_with_stages_in_order(db, sales):
    with db.read() as s:
        config = svc.get_pipeline_config(s, "sales")  # any case
    assert config.name == "Sales"
    assert [(st.name, st.position, st.probability, st.duration_days, st.is_won, st.is_lost)
            for st in config.stages] == [
        ("New", 0, 10, 7, False, False), ("Offer", 1, 50, 14, False, False),
        ("Won", 2, 100, 0, True, False), ("Lost", 3, 0, 0, False, True),
    ]
    assert all(st.opportunities == 0 for st in config.stages)
    with db.read() as s:
        assert [p.name for p in svc.list_pipeline_configs(s)] == ["Sales"]
        assert svc.find_pipeline(s, str(sales)).name == "Sales"  # by id too
        rows = s.exec(select(HistoryEntry).where(HistoryEntry.action == "config")).all()
    assert rows[0].subject == "pipeline Sales" and "New 10% 7d" in rows[0].note


def test_a_won_stage_defaults_to_100_percent(db, admin):
    with db.write() as s:
        pipeline = svc.create_pipeline(s, admin, {"name": "P"}, [{"name": "A"}, {"name": "Done", "is_won": "yes"}])
        stages = svc.pipeline_stages(s, pipeline.id)
    assert [(st.probability, st.is_won) for st in stages] == [(0, False), (100, True)]


def test_only_an_admin_configures(db, people, sales):
    for login in ("anna", "mia"):
        with pytest.raises(PermissionDenied), db.write() as s:
            svc.create_pipeline(s, people[login], {"name": "Mine"}, [{"name": "A"}])
        with pytest.raises(PermissionDenied), db.write() as s:
            svc.add_stage(s, people[login], sales, {"name": "B"})
    with db.read() as s:
        assert len(svc.list_pipeline_configs(s)) == 1


@pytest.mark.parametrize(
    ("values", "stages", "field"),
    [
        ({"name": ""}, STAGES, "name"),
        ({"name": "Sales"}, STAGES, "name"),  # taken
        ({"name": "SALES"}, STAGES, "name"),  # taken, any case
        ({"name": "X"}, [], "stages"),
        ({"name": "X"}, [{"name": "A", "probability": 101}], "probability"),
        ({"name": "X"}, [{"name": "A", "probability": -1}], "probability"),
        ({"name": "X"}, [{"name": "A", "duration_days": -3}], "duration_days"),
        ({"name": "X"}, [{"name": "A", "duration_days": "soon"}], "duration_days"),
        ({"name": "X"}, [{"name": "A"}, {"name": "a"}], "name"),
        ({"name": "X"}, [{"name": "A:B"}], "name"),
        ({"name": "X"}, [{"name": "A", "is_won": True, "is_lost": True}], "is_won"),
        ({"name": "X"}, [{"name": "A", "is_won": True}, {"name": "B", "is_won": True}], "is_won"),
        ({"name": "X"}, [{"name": "A", "is_lost": True}, {"name": "B", "is_lost": True}], "is_lost"),
        ({"name": "X", "followup_enabled": "on"}, [{"name": "A"}], "followup_enabled"),
        ({"name": "X", "followup_unit": "years"}, [{"name": "A"}], "followup_unit"),
        ({"name": "X", "followup_interval": 0}, [{"name": "A"}], "followup_interval"),
        ({"name": "X", "colour": "red"}, [{"name": "A"}], "colour"),
    ],
)
def test_create_rejects_bad_input_and_writes_nothing(db, admin, sales, values, stages, field):
    with pytest.raises(ValidationError) as error, db.write() as s:
        svc.create_pipeline(s, admin, values, stages)
    assert error.value.field == field
    with db.read() as s:
        assert len(svc.list_pipeline_configs(s)) == 1


def test_followups_need_a_duration_somewhere(db, admin):
    with db.write() as s:
        pipeline = svc.create_pipeline(
            s, admin, {"name": "F", "followup_enabled": "on", "followup_interval": "2", "followup_unit": "week"},
            [{"name": "A", "duration_days": 5}, {"name": "B"}],
        )
        assert (pipeline.followup_enabled, pipeline.followup_interval, pipeline.followup_unit) == (True, 2, "weeks")
        stage_a = svc.find_stage(s, pipeline.id, "A")
    with pytest.raises(ValidationError) as error, db.write() as s:
        svc.update_stage(s, admin, stage_a.id, {"duration_days": 0})
    assert error.value.field == "followup_enabled"


# -- edit pipeline ---------------------------------------------------------------------------


def test_update_pipeline_renames_and_moves_in_the_switcher(db, admin, sales):
    with db.write() as s:
        svc.create_pipeline(s, admin, {"name": "Second"}, [{"name": "A"}])
        svc.update_pipeline(s, admin, "Second", {"position": 0, "name": "First now"})
        svc.update_pipeline(s, admin, sales, {"followup_enabled": "off", "followup_unit": "months"})
    with db.read() as s:
        configs = svc.list_pipeline_configs(s)
        assert [(p.name, p.position) for p in configs] == [("First now", 0), ("Sales", 1)]
        assert configs[1].followup_unit == "months"
        assert svc.default_pipeline(s).name == "First now"
        changes = s.exec(select(HistoryEntry.field).where(HistoryEntry.action == "config",
                                                          HistoryEntry.field != "")).all()
    assert {"name", "position", "followup_unit"} <= set(changes)
    with pytest.raises(ValidationError), db.write() as s:
        svc.update_pipeline(s, admin, "First now", {"name": "sales"})


def test_delete_pipeline_only_when_empty(db, admin, sales):
    with db.write() as s:
        other = svc.create_pipeline(s, admin, {"name": "Other"}, [{"name": "A"}]).id
    add_opportunities(db, other, "A", count=1)
    with pytest.raises(ValidationError) as error, db.write() as s:
        svc.delete_pipeline(s, admin, "Other")
    assert "1 opportunities" in error.value.message
    with db.write() as s:
        svc.delete_pipeline(s, admin, sales)
    with db.read() as s:
        assert [p.name for p in svc.list_pipeline_configs(s)] == ["Other"]
        assert s.exec(select(Stage).where(Stage.pipeline_id == sales)).all() == []


# -- stages ----------------------------------------------------------------------------------


def test_new_stage_goes_before_the_closing_stages(db, admin, sales):
    with db.write() as s:
        svc.add_stage(s, admin, sales, {"name": "Negotiation", "probability": "75", "duration_days": "21"})
        svc.add_stage(s, admin, "Sales", {"name": "Parked", "probability": 5}, position=0)
    assert names(db, sales) == [
        ("Parked", 0), ("New", 1), ("Offer", 2), ("Negotiation", 3), ("Won", 4), ("Lost", 5),
    ]
    with pytest.raises(ValidationError) as error, db.write() as s:
        svc.add_stage(s, admin, sales, {"name": "Also won", "is_won": True})
    assert error.value.field == "is_won"
    with pytest.raises(ValidationError) as error, db.write() as s:
        svc.add_stage(s, admin, sales, {"name": "offer"})
    assert error.value.field == "name"


def test_reorder_and_move_stages(db, admin, sales):
    with db.write() as s:
        svc.reorder_stages(s, admin, sales, ["Offer", "New", "Lost", "Won"])
    assert [n for n, _ in names(db, sales)] == ["Offer", "New", "Lost", "Won"]
    with db.write() as s:
        svc.move_stage(s, admin, svc.find_stage(s, sales, "Won").id, -1)
        svc.move_stage(s, admin, svc.find_stage(s, sales, "Offer").id, -5)  # clamps at the start
    assert names(db, sales) == [("Offer", 0), ("New", 1), ("Won", 2), ("Lost", 3)]
    for order in (["Offer", "New", "Won"], ["Offer", "New", "Won", "Lost", "New"], ["Offer", "New", "Won", "Nope"]):
        with pytest.raises(ValidationError) as error, db.write() as s:
            svc.reorder_stages(s, admin, sales, order)
        assert error.value.field == "order"


def test_rename_stage_and_duplicate_name_is_a_validation_error(db, admin, sales):
    with db.write() as s:
        svc.update_stage(s, admin, svc.find_stage(s, sales, "New").id, {"name": "Lead"})
    with pytest.raises(ValidationError) as error, db.write() as s:
        svc.update_stage(s, admin, svc.find_stage(s, sales, "Lead").id, {"name": "OFFER"})
    assert error.value.field == "name"
    assert [n for n, _ in names(db, sales)] == ["Lead", "Offer", "Won", "Lost"]


def test_stage_probability_reaches_open_opportunities_that_follow_it(db, admin, sales):
    follow = add_opportunities(db, sales, "Offer", count=2)
    overridden = add_opportunities(db, sales, "Offer", count=1, probability_overridden=True)
    won = add_opportunities(db, sales, "Offer", count=1, status="won")
    with db.write() as s:
        s.exec(select(Opportunity))  # nothing loaded that could go stale
        svc.update_stage(s, admin, svc.find_stage(s, sales, "Offer").id, {"probability": 60})
    with db.read() as s:
        probability = dict(s.exec(select(Opportunity.id, Opportunity.probability)).all())
    assert [probability[i] for i in follow] == [60, 60]
    assert probability[overridden[0]] == 50
    assert probability[won[0]] == 50


def test_removing_a_stage_with_opportunities_needs_a_target(db, admin, sales):
    ids = add_opportunities(db, sales, "New", count=3)
    with pytest.raises(ValidationError) as error, db.write() as s:
        svc.remove_stage(s, admin, svc.find_stage(s, sales, "New").id)
    assert error.value.field == "move_to" and "holds 3 opportunities" in error.value.message
    with pytest.raises(ValidationError) as error, db.write() as s:
        svc.remove_stage(s, admin, svc.find_stage(s, sales, "New").id, "New")
    assert error.value.field == "move_to"
    assert [n for n, _ in names(db, sales)] == ["New", "Offer", "Won", "Lost"]
    with db.read() as s:
        assert {o.stage_id for o in s.exec(select(Opportunity)).all()} == {svc.find_stage(s, sales, "New").id}
    assert len(ids) == 3


def test_removing_a_stage_moves_its_opportunities_with_history(db, admin, sales, frozen_now):
    ids = add_opportunities(db, sales, "New", count=3)
    with db.write() as s:
        overridden = s.get(Opportunity, ids[2])
        overridden.probability, overridden.probability_overridden = 33, True
        first = s.get(Opportunity, ids[0])
        first.followup_count = 2
        first.followup_first_at = datetime(2026, 11, 1, tzinfo=UTC)
        s.add_all([overridden, first])
    with db.read() as s:
        versions = dict(s.exec(select(Opportunity.id, Opportunity.version)).all())
    moved_at = frozen_now("2026-11-24T08:00:00+00:00")
    with db.write() as s:
        moved = svc.remove_stage(s, admin, svc.find_stage(s, sales, "New").id, "offer")
    assert moved == 3
    assert names(db, sales) == [("Offer", 0), ("Won", 1), ("Lost", 2)]
    with db.read() as s:
        offer = svc.find_stage(s, sales, "Offer")
        opps = {o.id: o for o in s.exec(select(Opportunity)).all()}
        rows = s.exec(
            select(HistoryEntry).where(col(HistoryEntry.opportunity_id).in_(ids)).order_by(HistoryEntry.opportunity_id)
        ).all()
        config = svc.get_pipeline_config(s, sales)
    for i in ids:
        assert opps[i].stage_id == offer.id
        assert opps[i].stage_entered_at == moved_at
        assert opps[i].followup_count == 0 and opps[i].followup_first_at is None
        assert opps[i].version == versions[i] + 1
    assert [opps[i].probability for i in ids] == [50, 50, 33]
    assert [(r.opportunity_id, r.action, r.old_value, r.new_value, r.user_login) for r in rows] == [
        (i, "stage", "New", "Offer", "tester") for i in ids
    ]
    assert rows[0].subject == f"opportunity {ids[0]} Deal 0"
    assert rows[0].at == moved_at
    assert config.stages[0].opportunities == 3


def test_an_empty_stage_goes_without_a_target_but_not_the_last_one(db, admin, sales):
    with db.write() as s:
        svc.remove_stage(s, admin, svc.find_stage(s, sales, "Lost").id)
        single = svc.create_pipeline(s, admin, {"name": "Single"}, [{"name": "Only"}])
    assert [n for n, _ in names(db, sales)] == ["New", "Offer", "Won"]
    with pytest.raises(ValidationError) as error, db.write() as s:
        svc.remove_stage(s, admin, svc.find_stage(s, single.id, "Only").id)
    assert error.value.field == "stages"


def test_find_stage_names_the_choices(db, sales):
    with db.read() as s, pytest.raises(ValidationError) as error:
        svc.find_stage(s, sales, "Nope")
    assert "New, Offer, Won, Lost" in error.value.message
    with db.read() as s, pytest.raises(ValidationError) as error:
        svc.find_pipeline(s, "Nope")
    assert "Sales" in error.value.message
    with db.read() as s:
        assert s.get(Pipeline, sales).name == "Sales"
