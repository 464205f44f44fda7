"""Windows of the contact list at any offset (issue 8): the keyset seek of `services.windows`,
the search that walks the sort index for many hits, and the app's quick first rows
(`crm_tui.quick`) give exactly the rows of a plain ORDER BY ... LIMIT/OFFSET."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from sqlmodel import col, select

from crm_tui import config
from crm_tui.db.engine import Database, open_database
from crm_tui.db.migrate import ensure_schema
from crm_tui.models import Contact
from crm_tui.services import search, windows
from crm_tui.services.contacts import NULLABLE_SORTS, SORTS, count_contacts, list_contacts
from crm_tui.services.query import Filter, parse
from crm_tui.services.search import contact_conditions

NOW = "2026-11-23T10:00:00+01:00"
STEP = 97
"""Anchors this close together make a 1,500-contact list cross many of them."""


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    from crm_tui.services.demo import generate_demo

    folder = tmp_path_factory.mktemp("windows")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CRM_NOW", NOW)
        patch.setenv("CRM_CONFIG", str(folder / "absent.toml"))
        patch.setenv("CRM_GENERAL_TIMEZONE", "Europe/Berlin")
        config.reset_settings()
        db = open_database(folder / "demo.sqlite3")
        ensure_schema(db, backup=False)
        generate_demo(db, 1500, seed=3, acting_login="tester")
        try:
            yield db
        finally:
            db.dispose()
            config.reset_settings()


@pytest.fixture
def db(demo: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    monkeypatch.setenv("CRM_NOW", NOW)
    monkeypatch.setenv("CRM_GENERAL_TIMEZONE", "Europe/Berlin")
    monkeypatch.setattr(windows, "STEP", STEP)
    windows.forget_all()
    yield demo
    windows.forget_all()


@pytest.fixture
def actor(db: Database):
    from crm_tui.services.identity import resolve_actor

    with db.write() as session:
        return resolve_actor(session, "tester")


def plain_ids(db: Database, actor, filt: Filter, sort: str, descending: bool, offset: int,
              limit: int) -> list[int]:
    """The reference: one ORDER BY ... LIMIT/OFFSET statement."""
    spec = windows.SortSpec((*SORTS[sort], Contact.id), descending)
    with db.read() as session:
        return list(session.exec(
            select(col(Contact.id)).where(*contact_conditions(session, actor, filt))
            .order_by(*spec.order_by()).offset(offset).limit(limit)
        ).all())


def listed_ids(db: Database, actor, filt: Filter, sort: str, descending: bool, offset: int,
               limit: int = 60) -> list[int]:
    with db.read() as session:
        return [row.id for row in list_contacts(session, actor, filt, sort=sort,
                                                descending=descending, offset=offset, limit=limit)]


def offsets_for(total: int, rng: random.Random) -> list[int]:
    edges = [0, STEP - 1, STEP, STEP + 1, 2 * STEP, total - 60, total - 1, total, total + 5]
    return [o for o in edges if o >= 0] + [rng.randrange(max(total, 1)) for _ in range(6)]


@pytest.mark.parametrize("descending", [False, True], ids=["up", "down"])
@pytest.mark.parametrize("sort", list(SORTS))
@pytest.mark.parametrize("query", ["", "status:all", "status:prospect", "assigned:@me", "state:none"])
def test_every_window_equals_limit_offset(db, actor, query, sort, descending):
    filt = parse(query, actor.today())
    with db.read() as session:
        total = count_contacts(session, actor, filt)
    rng = random.Random(f"{query}{sort}{descending}")
    for offset in offsets_for(total, rng):
        assert listed_ids(db, actor, filt, sort, descending, offset) == \
            plain_ids(db, actor, filt, sort, descending, offset, 60), (query, sort, descending, offset)


def test_nullable_sorts_are_the_ones_with_nulls(db, actor):
    """`due` and `number` are the sorts whose column holds NULLs in the demo: both kinds of
    anchor (a NULL and a value) occur in the test above."""
    with db.read() as session:
        for sort, (column, *_rest) in SORTS.items():
            nulls = session.exec(select(col(Contact.id)).where(col(column).is_(None)).limit(1)).first()
            assert (nulls is not None) == (sort in NULLABLE_SORTS), sort


def test_anchors_are_forgotten_when_the_data_changes(db, actor):
    from crm_tui.models import Contact as Model

    filt = Filter()
    before = listed_ids(db, actor, filt, "name", False, 3 * STEP)
    with db.write() as session:
        # A new contact sorting first shifts every position by one.
        session.add(Model(name="AAAA Benchmark", first_name="First", status="prospect",
                          search_key="aaaa benchmark first"))
    try:
        after = listed_ids(db, actor, filt, "name", False, 3 * STEP)
        assert after == plain_ids(db, actor, filt, "name", False, 3 * STEP, 60)
        assert after[1:] == before[:-1]
    finally:
        with db.write() as session:
            for row in session.exec(select(Model).where(Model.name == "AAAA Benchmark")).all():
                session.delete(row)


@pytest.mark.parametrize("text", ["mü", "sc", "a", "olpe", "kowalsk", "zzzz"])
@pytest.mark.parametrize("descending", [False, True], ids=["up", "down"])
def test_search_with_many_hits_walks_the_index_to_the_same_rows(db, actor, monkeypatch, text,
                                                                descending):
    filt = Filter(words=(text,))
    with db.read() as session:
        total = count_contacts(session, actor, filt)
    rng = random.Random(text)
    for many in (10**9, 1):  # looked up by the hits' ids / walked in list order
        monkeypatch.setattr(search, "MANY_HITS", many)
        windows.forget_all()
        for offset in offsets_for(total, rng):
            assert listed_ids(db, actor, filt, "name", descending, offset) == \
                plain_ids(db, actor, filt, "name", descending, offset, 60), (text, many, offset)


def test_quick_first_rows_equal_the_service(db, actor):
    from crm_tui.quick import open_quick

    quick = open_quick(str(db.path), "tester")
    assert quick is not None
    with db.read() as session:
        total = count_contacts(session, actor, Filter())
        for offset in (0, 60, 700, total - 10):
            assert quick.fetch(offset, 60) == list_contacts(session, actor, Filter(),
                                                            offset=offset, limit=60)
    assert quick.count() == total
    quick.prefetch(60)
    assert quick.fetch(0, 60) == quick.fetch(0, 60)


def test_quick_first_rows_only_when_sure(db, tmp_path):
    from crm_tui.quick import open_quick

    assert open_quick(str(db.path), "nobody-here") is None  # unknown user: the workspace says so
    assert open_quick("postgresql+psycopg://crm@localhost/crm", "tester") is None
    assert open_quick(str(tmp_path / "missing.sqlite3"), "tester") is None
    other = tmp_path / "other.sqlite3"
    import sqlite3

    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE alembic_version (version_num TEXT)")
        conn.execute("INSERT INTO alembic_version VALUES ('0001_initial')")
    assert open_quick(str(other), "tester") is None  # an older schema: migrate first
    not_a_database = tmp_path / "notes.txt"
    not_a_database.write_text("hello")
    assert open_quick(str(not_a_database), "tester") is None


def test_windows_fetched_at_once_learn_the_anchors_once(db, actor):
    """The table fetches two windows at once after a jump: threads share the anchors."""
    from concurrent.futures import ThreadPoolExecutor

    filt = Filter()
    with db.read() as session:
        total = count_contacts(session, actor, filt)
    offsets = [total - 60, total - 120, total // 2, total // 3, 5 * STEP, 9 * STEP, total - 1]
    expected = {o: plain_ids(db, actor, filt, "company", False, o, 60) for o in offsets}
    for _ in range(3):
        windows.forget_all()
        with ThreadPoolExecutor(max_workers=len(offsets)) as pool:
            got = dict(zip(offsets, pool.map(
                lambda o: listed_ids(db, actor, filt, "company", False, o), offsets), strict=True))
        assert got == expected
