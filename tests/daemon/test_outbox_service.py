"""The outbox: dedupe keys, claims (conditional UPDATE; SKIP LOCKED on PostgreSQL), leases, marking
only while claimed, backoff, retry by hand, who sees what. On SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlmodel import select

from crm_tui.models import OutboxMail
from crm_tui.services import outbox
from crm_tui.services.errors import NotFound, ValidationError
from crm_tui.services.outbox import NewMail

SENDER = "CRM <crm@firma.test>"
LEASE = timedelta(minutes=5)


def mail(key: str, to: str = "anna@firma.test", kind: str = "reminder", user_id: int | None = None) -> NewMail:
    return NewMail(dedupe_key=key, kind=kind, to=(to,), subject=f"about {key}", body="text\n", user_id=user_id)


def queue(db, *mails: NewMail) -> list[outbox.QueuedMail]:
    with db.write() as session:
        return outbox.enqueue(session, list(mails), SENDER)


def claim(db, owner: str):
    with db.write() as session:
        return outbox.claim_next(session, owner, LEASE)


def rows(db) -> list[OutboxMail]:
    with db.read() as session:
        return list(session.exec(select(OutboxMail).order_by(OutboxMail.id)).all())


def test_a_dedupe_key_is_queued_once_and_its_message_id_is_stable(any_world, frozen_now):
    db = any_world.db
    frozen_now("2026-11-24T08:00:00+00:00")
    first = queue(db, mail("reminder:1:20261124T0830Z:2"), mail("reminder:2:20261124T0830Z:2"))
    again = queue(db, mail("reminder:1:20261124T0830Z:2"), mail("reminder:3:20261124T0830Z:2"))
    assert [m.dedupe_key for m in first] == ["reminder:1:20261124T0830Z:2", "reminder:2:20261124T0830Z:2"]
    assert [m.dedupe_key for m in again] == ["reminder:3:20261124T0830Z:2"]
    stored = rows(db)
    assert len(stored) == 3
    ids = [r.message_id for r in stored]
    assert len(set(ids)) == 3
    assert all(i.startswith("<reminder.") and i.endswith("@firma.test>") for i in ids)
    with db.read() as session:
        instance = outbox.peek_instance_id(session)
    from crm_tui.services.mail import make_message_id

    assert stored[0].message_id == make_message_id("reminder:1:20261124T0830Z:2", instance, SENDER)


def test_a_claimed_mail_is_nobody_elses_until_its_lease_expires(any_world, frozen_now):
    db = any_world.db
    frozen_now("2026-11-24T08:00:00+00:00")
    queue(db, mail("k:1"))
    held = claim(db, "daemon-a")
    assert held is not None and held.dedupe_key == "k:1"
    assert claim(db, "daemon-b") is None
    frozen_now("2026-11-24T08:04:59+00:00")
    assert claim(db, "daemon-b") is None
    frozen_now("2026-11-24T08:05:01+00:00")  # a died; its lease ran out
    taken = claim(db, "daemon-b")
    assert taken is not None and taken.id == held.id
    with db.write() as session:
        assert outbox.mark_sent(session, held, "daemon-a") is False  # a lost the claim
        assert outbox.mark_sent(session, taken, "daemon-b") is True
    (row,) = rows(db)
    assert row.status == "sent" and row.attempts == 1 and row.lease_owner == "daemon-b"
    assert row.sent_at is not None and row.lease_expires_at is None


def test_mails_not_yet_due_are_not_claimed(any_world, frozen_now):
    db = any_world.db
    frozen_now("2026-11-24T08:00:00+00:00")
    queue(db, mail("k:1"))
    held = claim(db, "a")
    with db.write() as session:
        disposition = outbox.mark_unsent(session, held, "a", "451 later", permanent=False)
    assert disposition.status == "pending" and disposition.attempts == 1
    wait = disposition.next_attempt_at - held.created_at
    assert timedelta(seconds=45) <= wait <= timedelta(seconds=75)  # 1 min +- 25 % jitter
    assert claim(db, "a") is None
    frozen_now(disposition.next_attempt_at + timedelta(seconds=1))
    assert claim(db, "a").id == held.id


def test_backoff_grows_exponentially_with_jitter_up_to_a_cap():
    for attempt, minutes in [(1, 1), (2, 2), (3, 4), (4, 8), (6, 32), (7, 60), (12, 60)]:
        waits = [outbox.backoff(attempt) for _ in range(50)]
        assert all(timedelta(minutes=minutes) * 0.75 <= w <= timedelta(minutes=minutes) * 1.25 for w in waits)
        assert len(set(waits)) > 1


def test_temporary_errors_fail_after_the_last_attempt_and_5xx_at_once(any_world, frozen_now):
    db = any_world.db
    moment = frozen_now("2026-11-24T08:00:00+00:00")
    queue(db, mail("temp"), mail("perm"))
    for attempt in range(1, outbox.MAX_ATTEMPTS + 1):
        held = claim(db, "a")
        while held is not None and held.dedupe_key != "temp":
            with db.write() as session:
                outbox.mark_unsent(session, held, "a", "550 no", permanent=True)
            held = claim(db, "a")
        with db.write() as session:
            disposition = outbox.mark_unsent(session, held, "a", "451 busy", permanent=False)
        assert disposition.attempts == attempt
        moment += timedelta(hours=2)
        frozen_now(moment)
    assert disposition.status == "failed"
    statuses = {r.dedupe_key: (r.status, r.attempts, r.last_error) for r in rows(db)}
    assert statuses == {"temp": ("failed", outbox.MAX_ATTEMPTS, "451 busy"), "perm": ("failed", 1, "550 no")}


def test_release_gives_a_mail_back_without_counting_an_attempt(any_world, frozen_now):
    db = any_world.db
    frozen_now("2026-11-24T08:00:00+00:00")
    queue(db, mail("k:1"), mail("k:2"))
    first, second = claim(db, "a"), claim(db, "a")
    with db.write() as session:
        assert outbox.release(session, first.id, "b") is False
        assert outbox.release(session, first.id, "a") is True
        assert outbox.release_all(session, "a") == 1
    assert [(r.status, r.attempts, r.lease_owner) for r in rows(db)] == [("pending", 0, "")] * 2
    assert claim(db, "b").id == first.id and second.id != first.id


def test_concurrent_claimers_never_share_a_mail(any_world, frozen_now):
    """Three threads, each with its own connections, claim until the outbox is empty."""
    db = any_world.db
    frozen_now("2026-11-24T08:00:00+00:00")
    queue(db, *(mail(f"k:{i}") for i in range(150)))
    claimed: list[tuple[str, int]] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker(owner: str) -> None:
        try:
            while True:
                with db.write() as session:
                    held = outbox.claim_next(session, owner, LEASE)
                if held is None:
                    return
                with lock:
                    claimed.append((owner, held.id))
                with db.write() as session:
                    assert outbox.mark_sent(session, held, owner)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(f"d{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    counts = Counter(mail_id for _owner, mail_id in claimed)
    assert len(counts) == 150 and set(counts.values()) == {1}
    assert {r.status for r in rows(db)} == {"sent"}


def test_retry_by_hand_and_who_sees_what(any_world, frozen_now):
    db = any_world.db
    anna, ben, mia = any_world["anna"], any_world["ben"], any_world["mia"]
    frozen_now("2026-11-24T08:00:00+00:00")
    queue(db, mail("a:1", user_id=anna.id), mail("b:1", to="ben@firma.test", user_id=ben.id))
    for _ in range(2):
        held = claim(db, "x")
        with db.write() as session:
            outbox.mark_unsent(session, held, "x", "550 rejected", permanent=True)
    with db.read() as session:
        assert [r.dedupe_key for r in outbox.list_outbox(session, anna)] == ["a:1"]
        assert [r.dedupe_key for r in outbox.list_outbox(session, mia)] == ["b:1", "a:1"]
        assert outbox.count_by_status(session, mia) == {"pending": 0, "sending": 0, "sent": 0, "failed": 2}
        with pytest.raises(NotFound):
            outbox.get_outbox(session, anna, rows(db)[1].id)
        with pytest.raises(ValidationError) as bad:
            outbox.list_outbox(session, mia, status="lost")
        assert bad.value.field == "status"
    with db.write() as session:
        assert outbox.retry_mails(session, anna, all_failed=True) == [rows(db)[0].id]
    with db.write() as session:
        assert outbox.retry_mails(session, mia, [rows(db)[1].id]) == [rows(db)[1].id]
    assert [(r.status, r.attempts) for r in rows(db)] == [("pending", 0), ("pending", 0)]
    held = claim(db, "x")
    with db.write() as session:
        outbox.mark_sent(session, held, "x")
    with db.write() as session, pytest.raises(ValidationError, match="is sent"):
        outbox.retry_mails(session, mia, [held.id])
