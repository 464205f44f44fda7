"""The default configuration of a new database: pipelines, activity types, lost reasons, numbers."""

from __future__ import annotations

from sqlalchemy import event
from sqlmodel import col, delete, func, select

from crm_tui.models import (
    CATEGORIES,
    ActivityType,
    LostReason,
    NumberSequence,
    Pipeline,
    Stage,
)
from crm_tui.services.defaults import install_defaults, shipped_toml


def _install(db):
    with db.write() as session:
        return install_defaults(session)


def _stages(session, pipeline_name):
    pipeline = session.exec(select(Pipeline).where(Pipeline.name == pipeline_name)).one()
    stages = session.exec(
        select(Stage).where(Stage.pipeline_id == pipeline.id).order_by(Stage.position)
    ).all()
    return pipeline, stages


def test_fresh_database_gets_pipelines_types_reasons_and_a_number_sequence(sqlite_db):
    installed = _install(sqlite_db)

    assert installed.pipelines == 2 and installed.anything
    with sqlite_db.read() as session:
        pipeline, stages = _stages(session, "Immobilien")
        assert [s.name for s in stages] == ["NEU", "Besichtigungstermin", "Vertrag", "Erfolgreich"]
        assert [s.is_won for s in stages] == [False, False, False, True]
        assert not pipeline.followup_enabled

        b2b, b2b_stages = _stages(session, "B2B Vertrieb")
        assert (b2b.followup_enabled, b2b.followup_interval, b2b.followup_unit) == (True, 1, "weeks")
        open_stages = [s for s in b2b_stages if not (s.is_won or s.is_lost)]
        assert all(s.duration_days > 0 for s in open_stages)
        assert [s.probability for s in open_stages] == sorted(s.probability for s in open_stages)
        assert sum(s.is_won for s in b2b_stages) == 1 and sum(s.is_lost for s in b2b_stages) == 1

        categories = {t.category for t in session.exec(select(ActivityType)).all()}
        assert categories == set(CATEGORIES)
        assert session.exec(select(func.count()).select_from(LostReason)).one() >= 5
        sequence = session.exec(select(NumberSequence)).one()
        assert (sequence.name, sequence.prefix, sequence.padding, sequence.next_value) == (
            "Kunden", "K-{year}-", 5, 1,
        )
        versions = session.exec(select(ActivityType.version)).all()
        assert set(versions) == {1}


def test_call_suggests_a_meeting_three_days_later_and_a_meeting_triggers_a_follow_up_mail(sqlite_db):
    _install(sqlite_db)

    with sqlite_db.read() as session:
        types = {t.id: t for t in session.exec(select(ActivityType)).all()}
        call = next(t for t in types.values() if t.category == "call")
        assert call.chaining == "suggest"
        assert types[call.next_type_id].category == "meeting"
        assert (call.delay_count, call.delay_unit, call.delay_from) == (3, "days", "previous_deadline")

        meeting = types[call.next_type_id]
        assert meeting.chaining == "trigger"
        assert types[meeting.next_type_id].category == "email"
        assert (meeting.delay_count, meeting.delay_unit) == (1, "weeks")


def test_category_names_find_the_main_type_of_each_category(sqlite_db):
    from crm_tui.services.activities import find_type

    _install(sqlite_db)

    with sqlite_db.read() as session:
        assert find_type(session, "call").name == "Anruf"
        assert find_type(session, "email").name == "E-Mail"
        assert find_type(session, "Meeting").category == "meeting"


def test_installing_twice_adds_nothing_and_costs_one_query(sqlite_db):
    _install(sqlite_db)
    queries: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        queries.append(statement)

    event.listen(sqlite_db.write_engine, "before_cursor_execute", count)
    try:
        with sqlite_db.write() as session:
            again = install_defaults(session)
    finally:
        event.remove(sqlite_db.write_engine, "before_cursor_execute", count)

    assert not again.anything
    assert len([q for q in queries if q.lstrip().upper().startswith("SELECT")]) == 1
    with sqlite_db.read() as session:
        assert session.exec(select(func.count()).select_from(Pipeline)).one() == 2


def test_deleted_defaults_do_not_come_back(sqlite_db):
    _install(sqlite_db)
    with sqlite_db.write() as session:
        session.exec(delete(LostReason))

    assert not _install(sqlite_db).anything
    with sqlite_db.read() as session:
        assert session.exec(select(func.count()).select_from(LostReason)).one() == 0


def test_tables_set_up_by_hand_are_left_alone(sqlite_db):
    with sqlite_db.write() as session:
        session.add(Pipeline(name="Eigener Prozess"))

    installed = _install(sqlite_db)

    assert installed.pipelines == 0 and installed.activity_types > 0
    with sqlite_db.read() as session:
        assert session.exec(select(Pipeline.name)).all() == ["Eigener Prozess"]


def test_shipped_files_are_consistent():
    types = shipped_toml("activity_types.toml")["types"]
    names = [t["name"] for t in types]
    assert len(names) == len(set(names))
    assert all(t["category"] in CATEGORIES for t in types)
    assert all(t["next_type"] in names for t in types if t.get("next_type"))
    # The first type of each category is what a category name finds.
    first_of = {}
    for t in types:
        first_of.setdefault(t["category"], t["name"])
    assert first_of["call"] == "Anruf"

    for pipeline in shipped_toml("pipelines.toml")["pipelines"]:
        stages = pipeline["stages"]
        assert len({s["name"] for s in stages}) == len(stages)
        assert all(0 <= s.get("probability", 0) <= 100 for s in stages)
        assert sum(bool(s.get("is_won")) for s in stages) == 1

    reasons = shipped_toml("lost_reasons.toml")["reasons"]
    assert len(reasons) == len(set(reasons))


def test_defaults_are_active(sqlite_db):
    _install(sqlite_db)
    with sqlite_db.read() as session:
        assert all(session.exec(select(col(ActivityType.active))).all())
        assert all(session.exec(select(col(LostReason.active))).all())
