"""Number sequences: formatting, atomic taking (threads on one database), skipping numbers in use."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest

from crm_tui.config import RequiredSettings, Settings
from crm_tui.services.contacts import create_contact
from crm_tui.services.errors import PermissionDenied, ValidationError
from crm_tui.services.sequences import (
    create_sequence,
    format_number,
    list_sequences,
    next_customer_number,
    peek_customer_number,
    update_sequence,
)

LOOSE = Settings(required=RequiredSettings(prospect=("name",)))


def test_format_number():
    day = date(2026, 3, 9)
    assert format_number("K-{year}-", 5, 42, day) == "K-2026-00042"
    assert format_number("{yy}{month}/", 3, 7, day) == "2603/007"
    assert format_number("", 0, 12, day) == "12"


def test_numbers_follow_each_other_and_skip_taken_ones(db, people, frozen_now):
    frozen_now("2026-11-23T10:00:00+01:00")
    with db.write() as session:
        create_sequence(session, people["tester"], "Kunden", prefix="K-{year}-", padding=5)
        create_contact(session, people["tester"], {"name": "X", "status": "customer",
                                                    "customer_number": "K-2026-00002"},
                       settings=LOOSE, auto_plan=False)
    with db.write() as session:
        assert peek_customer_number(session, "kunden") == "K-2026-00001"
        assert peek_customer_number(session, "kunden") == "K-2026-00001"  # peeking takes nothing
        taken = [next_customer_number(session, "Kunden") for _ in range(3)]
    assert taken == ["K-2026-00001", "K-2026-00003", "K-2026-00004"]
    with db.read() as session:
        [row] = list_sequences(session)
    assert (row.next_value, row.preview) == (5, "K-2026-00005")


def test_a_rolled_back_number_is_handed_out_again(db, people):
    with db.write() as session:
        create_sequence(session, people["tester"], "S", prefix="S", padding=2)
    with pytest.raises(RuntimeError):
        with db.write() as session:
            assert next_customer_number(session, "S") == "S01"
            raise RuntimeError("the form was cancelled")
    with db.write() as session:
        assert next_customer_number(session, "S") == "S01"


def test_concurrent_takers_never_share_a_number(db, people):
    with db.write() as session:
        create_sequence(session, people["tester"], "N", prefix="N-", padding=4)

    def take(_worker: int) -> list[str]:
        numbers = []
        for _ in range(8):
            numbers.append(db.transact(lambda session: next_customer_number(session, "N")))
        return numbers

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = [n for chunk in pool.map(take, range(4)) for n in chunk]
    assert len(results) == 32
    assert sorted(results) == [f"N-{i:04d}" for i in range(1, 33)]


def test_bad_sequences_are_refused(db, people):
    with db.write() as session:
        with pytest.raises(ValidationError) as caught:
            create_sequence(session, people["tester"], "X", prefix="K-{jahr}-")
        assert caught.value.field == "prefix" and "{jahr}" in caught.value.message
        with pytest.raises(ValidationError, match="padding"):
            create_sequence(session, people["tester"], "X", padding=-1)
        with pytest.raises(ValidationError, match="no number sequence 'Nope'"):
            next_customer_number(session, "Nope")
    with db.write() as session:
        with pytest.raises(PermissionDenied):
            create_sequence(session, people["anna"], "Mine")


def test_update_sequence(db, people):
    with db.write() as session:
        create_sequence(session, people["tester"], "Kunden", prefix="K", padding=3)
        row = update_sequence(session, people["tester"], "kunden", {"next_value": 100, "prefix": "C{yy}-"})
    assert row.next_value == 100
    assert row.preview.endswith("-100")
