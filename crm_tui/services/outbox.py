"""The outbox: the only way mail leaves. Queue, claim, mark sent or retry, list and retry by hand.

Life of a row: `pending` -> (claimed) `sending` -> `sent`, or back to `pending` with a later
`next_attempt_at` (4xx, timeouts, connection errors: exponential backoff with jitter) until
MAX_ATTEMPTS, then `failed`; a 5xx answer is `failed` at once.

- Every row has a unique `dedupe_key` ("reminder:<activity>:<remind_at>:<user>", ...); queuing
  is `INSERT ... ON CONFLICT DO NOTHING`, so the same mail can never be queued twice.
- A daemon claims one row at a time with a conditional UPDATE in a short write transaction
  (`WHERE status='pending' AND due OR status='sending' AND lease expired`; on PostgreSQL the row is
  picked with `FOR UPDATE SKIP LOCKED`), sends it, and marks it sent only if it still holds the
  claim. A daemon that dies mid-send leaves a `sending` row whose lease runs out; the next daemon
  sends it again with the same Message-ID. That resend is the one duplicate delivery can make.

Every function here takes the caller's session and does not commit.
"""

from __future__ import annotations

import json
import random
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from crm_tui import clock
from crm_tui.models import OUTBOX_STATUSES, HistoryEntry, Meta, OutboxMail, User
from crm_tui.services.errors import NotFound, ValidationError
from crm_tui.services.identity import Actor
from crm_tui.services.mail import make_message_id, split_addresses

MAX_ATTEMPTS = 8
"""Delivery attempts before a mail that keeps meeting temporary errors is `failed`."""
BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_CAP = timedelta(hours=1)
JITTER = 0.25
"""Each wait is stretched or shrunk by up to this fraction, so daemons do not retry in step."""
INSTANCE_KEY = "mail_instance"
KINDS = ("reminder", "followup", "mass")
_INSERT_CHUNK = 200


@dataclass(frozen=True)
class NewMail:
    """A mail to queue. `status='failed'` with `error` records one that cannot go out (no address)."""

    dedupe_key: str
    kind: str
    to: tuple[str, ...]
    subject: str
    body: str
    user_id: int | None = None
    contact_id: int | None = None
    opportunity_id: int | None = None
    activity_id: int | None = None
    status: str = "pending"
    error: str = ""


@dataclass(frozen=True)
class QueuedMail:
    id: int
    dedupe_key: str
    kind: str
    to: tuple[str, ...]
    subject: str
    status: str
    error: str


@dataclass(frozen=True)
class ClaimedMail:
    """A row this daemon holds the claim on, with everything needed to send it."""

    id: int
    dedupe_key: str
    kind: str
    message_id: str
    to: tuple[str, ...]
    subject: str
    body: str
    attempts: int
    created_at: datetime
    user_id: int | None
    contact_id: int | None
    opportunity_id: int | None
    activity_id: int | None


@dataclass(frozen=True)
class Disposition:
    """What became of a mail that was not sent."""

    status: str
    """pending (to be retried) or failed."""
    attempts: int
    next_attempt_at: datetime | None


@dataclass(frozen=True)
class OutboxRow:
    id: int
    kind: str
    status: str
    to: list[str]
    subject: str
    attempts: int
    next_attempt_at: datetime | None
    created_at: datetime
    sent_at: datetime | None
    last_error: str
    dedupe_key: str


@dataclass(frozen=True)
class OutboxDetail:
    id: int
    kind: str
    status: str
    to: list[str]
    subject: str
    body: str
    message_id: str
    dedupe_key: str
    attempts: int
    next_attempt_at: datetime | None
    lease_owner: str
    lease_expires_at: datetime | None
    created_at: datetime
    sent_at: datetime | None
    last_error: str
    refused: dict[str, list] = field(default_factory=dict)
    """Recipients the server refused: address -> [code, answer]."""
    user: str | None = None
    contact_id: int | None = None
    opportunity_id: int | None = None
    activity_id: int | None = None


# -- queuing ---------------------------------------------------------------------------------


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _insert(session: Session, table):
    return (postgresql.insert if _dialect(session) == "postgresql" else sqlite.insert)(table)


def instance_id(session: Session) -> str:
    """A random id of this database, made once; it keeps Message-IDs apart between databases."""
    row = session.get(Meta, INSTANCE_KEY)
    if row is not None:
        return row.value
    session.execute(
        _insert(session, Meta).values(key=INSTANCE_KEY, value=secrets.token_hex(8))
        .on_conflict_do_nothing(index_elements=["key"])
    )
    return session.exec(select(Meta.value).where(Meta.key == INSTANCE_KEY)).one()


def peek_instance_id(session: Session) -> str:
    """The instance id without writing (dry runs): a placeholder when none was made yet."""
    value = session.exec(select(Meta.value).where(Meta.key == INSTANCE_KEY)).first()
    return value or "(new)"


def _one_line(text: str, limit: int) -> str:
    return " ".join((text or "").split())[:limit]


def enqueue(session: Session, mails: Sequence[NewMail], sender: str) -> list[QueuedMail]:
    """Queue mails; those whose dedupe key is already in the outbox are left out silently.

    Returns the rows actually added, in the given order.
    """
    if not mails:
        return []
    now = clock.now()
    instance = instance_id(session)
    added: dict[str, int] = {}
    for start in range(0, len(mails), _INSERT_CHUNK):
        chunk = mails[start:start + _INSERT_CHUNK]
        values = []
        for mail in chunk:
            if mail.kind not in KINDS:
                raise ValidationError("kind", f"{mail.kind!r} is not one of {', '.join(KINDS)}")
            failed = mail.status == "failed"
            values.append({
                "dedupe_key": mail.dedupe_key[:200],
                "kind": mail.kind,
                "message_id": make_message_id(mail.dedupe_key, instance, sender),
                "to_addrs": ", ".join(mail.to),
                "subject": _one_line(mail.subject, 300),
                "body": mail.body,
                "status": "failed" if failed else "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "lease_owner": "",
                "lease_expires_at": None,
                "last_error": mail.error,
                "refused": "",
                "user_id": mail.user_id,
                "contact_id": mail.contact_id,
                "opportunity_id": mail.opportunity_id,
                "activity_id": mail.activity_id,
                "created_at": now,
                "sent_at": None,
            })
        # One Core statement executed for many parameter sets (SQLAlchemy's "insertmanyvalues"):
        # compiled once and cached, sent as one multi-row INSERT. `.values(list)` compiled anew
        # every time (80 ms for 100 mails), and an ORM insert splits the rows by which values
        # are None. Rows left out by ON CONFLICT return nothing; the keys tell which.
        statement = (
            _insert(session, OutboxMail.__table__)
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
            .returning(OutboxMail.__table__.c.id, OutboxMail.__table__.c.dedupe_key)
        )
        for row_id, key in session.execute(statement, values).all():
            added[key] = row_id
    return [
        QueuedMail(added[m.dedupe_key[:200]], m.dedupe_key, m.kind, m.to, _one_line(m.subject, 300),
                   m.status, m.error)
        for m in mails if m.dedupe_key[:200] in added
    ]


def queued_keys(session: Session, keys: Iterable[str]) -> set[str]:
    """Which of these dedupe keys are in the outbox already."""
    keys = list(keys)
    found: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start:start + 500]
        found.update(session.exec(select(OutboxMail.dedupe_key).where(col(OutboxMail.dedupe_key).in_(chunk))).all())
    return found


# -- claiming and marking --------------------------------------------------------------------


_CLAIM_COLUMNS = (
    "id", "dedupe_key", "kind", "message_id", "to_addrs", "subject", "body", "attempts", "created_at",
    "user_id", "contact_id", "opportunity_id", "activity_id",
)


def _claimable(now: datetime):
    # The first term repeats the partial index's predicate word for word (literals, not bound
    # parameters: SQLite matches partial indexes at prepare time), so the planner walks
    # ix_outbox_due (the rows still to send) instead of every mail ever sent.
    return and_(
        text("outbox.status IN ('pending','sending')"),
        or_(
            and_(col(OutboxMail.status) == "pending", col(OutboxMail.next_attempt_at) <= now),
            and_(col(OutboxMail.status) == "sending", col(OutboxMail.lease_expires_at) < now),
        ),
    )


def claim_next(session: Session, owner: str, lease: timedelta) -> ClaimedMail | None:
    """Claim the most overdue mail for `owner` until now + lease, or None when none is due.

    One conditional UPDATE: the row must still be claimable when it is written, so two daemons
    can never both hold it. PostgreSQL picks the row with FOR UPDATE SKIP LOCKED (a row another
    daemon is claiming right now is passed over, not waited for); SQLite writers are serialised
    by BEGIN IMMEDIATE.
    """
    now = clock.now()
    pick = (
        select(OutboxMail.id)
        .where(_claimable(now))
        .order_by(col(OutboxMail.next_attempt_at), col(OutboxMail.id))
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    table = OutboxMail.__table__
    statement = (
        update(table)
        .where(table.c.id == pick, _claimable(now))
        .values(status="sending", lease_owner=owner, lease_expires_at=now + lease)
        .returning(*(table.c[name] for name in _CLAIM_COLUMNS))
    )
    row = session.execute(statement).first()
    if row is None:
        return None
    data = row._mapping
    return ClaimedMail(
        id=data["id"], dedupe_key=data["dedupe_key"], kind=data["kind"], message_id=data["message_id"],
        to=tuple(split_addresses(data["to_addrs"])), subject=data["subject"], body=data["body"],
        attempts=data["attempts"], created_at=data["created_at"], user_id=data["user_id"],
        contact_id=data["contact_id"], opportunity_id=data["opportunity_id"],
        activity_id=data["activity_id"],
    )


def _held_by(mail_id: int, owner: str):
    table = OutboxMail.__table__
    return and_(table.c.id == mail_id, table.c.status == "sending", table.c.lease_owner == owner)


def _refused_json(refused: dict[str, tuple[int, str]] | None) -> str:
    if not refused:
        return ""
    return json.dumps({addr: [code, text] for addr, (code, text) in refused.items()}, ensure_ascii=False)


def mark_sent(
    session: Session, mail: ClaimedMail, owner: str, refused: dict[str, tuple[int, str]] | None = None
) -> bool:
    """Record the server's 250, only if `owner` still holds the claim. False: the claim was lost.

    A mass mail also gets its line in the contact's history, in the same transaction.
    """
    now = clock.now()
    table = OutboxMail.__table__
    result = session.execute(
        update(table).where(_held_by(mail.id, owner)).values(
            status="sent", sent_at=now, attempts=table.c.attempts + 1, lease_expires_at=None,
            last_error="", refused=_refused_json(refused),
        )
    )
    if result.rowcount != 1:
        return False
    if mail.kind == "mass" and mail.contact_id is not None:
        login = ""
        if mail.user_id is not None:
            login = session.exec(select(User.login).where(User.id == mail.user_id)).first() or ""
        note = ""
        if refused:
            note = "refused: " + ", ".join(refused)
        session.add(HistoryEntry(
            at=now, user_id=mail.user_id, user_login=login or "system", contact_id=mail.contact_id,
            action="mail", subject=f"E-mail: {mail.subject}"[:300], field="email",
            new_value=", ".join(mail.to), note=note,
        ))
    return True


def backoff(attempt: int) -> timedelta:
    """Wait before attempt `attempt + 1`: 1, 2, 4, ... minutes up to an hour, with jitter."""
    base = min(BACKOFF_BASE * (2 ** max(attempt - 1, 0)), BACKOFF_CAP)
    return base * random.uniform(1 - JITTER, 1 + JITTER)


def mark_unsent(
    session: Session,
    mail: ClaimedMail,
    owner: str,
    error: str,
    *,
    permanent: bool,
    refused: dict[str, tuple[int, str]] | None = None,
) -> Disposition | None:
    """Record a failed attempt: `failed` if permanent or out of attempts, else due again later.

    None when `owner` no longer holds the claim (nothing written).
    """
    now = clock.now()
    attempts = mail.attempts + 1
    table = OutboxMail.__table__
    if permanent or attempts >= MAX_ATTEMPTS:
        values = {"status": "failed", "next_attempt_at": now}
        disposition = Disposition("failed", attempts, None)
    else:
        next_at = now + backoff(attempts)
        values = {"status": "pending", "next_attempt_at": next_at}
        disposition = Disposition("pending", attempts, next_at)
    result = session.execute(
        update(table).where(_held_by(mail.id, owner)).values(
            attempts=table.c.attempts + 1, lease_owner="", lease_expires_at=None,
            last_error=error[:2000], refused=_refused_json(refused), **values,
        )
    )
    return disposition if result.rowcount == 1 else None


def release(session: Session, mail_id: int, owner: str) -> bool:
    """Give a claimed, unsent mail back (shutdown): pending again, no attempt counted."""
    table = OutboxMail.__table__
    result = session.execute(
        update(table).where(_held_by(mail_id, owner)).values(
            status="pending", lease_owner="", lease_expires_at=None,
        )
    )
    return result.rowcount == 1


def release_all(session: Session, owner: str) -> int:
    """Give back every row `owner` still holds (a last sweep before exiting)."""
    table = OutboxMail.__table__
    result = session.execute(
        update(table).where(table.c.status == "sending", table.c.lease_owner == owner).values(
            status="pending", lease_owner="", lease_expires_at=None,
        )
    )
    return result.rowcount


# -- reading ---------------------------------------------------------------------------------


def _row(mail: OutboxMail) -> OutboxRow:
    return OutboxRow(
        id=mail.id, kind=mail.kind, status=mail.status, to=split_addresses(mail.to_addrs),
        subject=mail.subject, attempts=mail.attempts,
        next_attempt_at=mail.next_attempt_at if mail.status in ("pending", "sending") else None,
        created_at=mail.created_at, sent_at=mail.sent_at, last_error=mail.last_error,
        dedupe_key=mail.dedupe_key,
    )


def due_mails(session: Session, limit: int | None = None) -> list[OutboxRow]:
    """The rows a delivery pass would send now, in the order it would send them."""
    statement = (
        select(OutboxMail).where(_claimable(clock.now()))
        .order_by(col(OutboxMail.next_attempt_at), col(OutboxMail.id))
    )
    if limit is not None:
        statement = statement.limit(limit)
    return [_row(m) for m in session.exec(statement).all()]


def _visible(actor: Actor):
    """Managers see every mail; a rep sees the mails sent to or queued by them."""
    if actor.is_manager:
        return None
    return col(OutboxMail.user_id) == actor.id


def list_outbox(
    session: Session,
    actor: Actor,
    *,
    status: str | None = None,
    kind: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[OutboxRow]:
    """Newest first."""
    statement = select(OutboxMail)
    if status:
        for part in status.split(","):
            if part not in OUTBOX_STATUSES:
                raise ValidationError("status", f"{part!r} is not one of {', '.join(OUTBOX_STATUSES)}")
        statement = statement.where(col(OutboxMail.status).in_(status.split(",")))
    if kind:
        if kind not in KINDS:
            raise ValidationError("kind", f"{kind!r} is not one of {', '.join(KINDS)}")
        statement = statement.where(OutboxMail.kind == kind)
    visible = _visible(actor)
    if visible is not None:
        statement = statement.where(visible)
    if limit < 0:
        raise ValidationError("limit", "must not be negative")
    statement = statement.order_by(col(OutboxMail.id).desc()).offset(max(offset, 0)).limit(limit)
    return [_row(m) for m in session.exec(statement).all()]


def count_by_status(session: Session, actor: Actor) -> dict[str, int]:
    statement = select(OutboxMail.status, func.count()).group_by(OutboxMail.status)
    visible = _visible(actor)
    if visible is not None:
        statement = statement.where(visible)
    counts = dict.fromkeys(OUTBOX_STATUSES, 0)
    counts.update(dict(session.exec(statement).all()))
    return counts


def _load(session: Session, actor: Actor, mail_id: int) -> OutboxMail:
    mail = session.get(OutboxMail, mail_id)
    if mail is None or (not actor.is_manager and mail.user_id != actor.id):
        raise NotFound("outbox mail", mail_id)
    return mail


def get_outbox(session: Session, actor: Actor, mail_id: int) -> OutboxDetail:
    mail = _load(session, actor, mail_id)
    try:
        refused = json.loads(mail.refused) if mail.refused else {}
    except ValueError:
        refused = {"?": [0, mail.refused]}
    user = None
    if mail.user_id is not None:
        user = session.exec(select(User.login).where(User.id == mail.user_id)).first()
    return OutboxDetail(
        id=mail.id, kind=mail.kind, status=mail.status, to=split_addresses(mail.to_addrs),
        subject=mail.subject, body=mail.body, message_id=mail.message_id, dedupe_key=mail.dedupe_key,
        attempts=mail.attempts,
        next_attempt_at=mail.next_attempt_at if mail.status in ("pending", "sending") else None,
        lease_owner=mail.lease_owner, lease_expires_at=mail.lease_expires_at,
        created_at=mail.created_at, sent_at=mail.sent_at, last_error=mail.last_error,
        refused=refused, user=user, contact_id=mail.contact_id, opportunity_id=mail.opportunity_id,
        activity_id=mail.activity_id,
    )


def retry_mails(
    session: Session, actor: Actor, ids: Sequence[int] = (), *, all_failed: bool = False
) -> list[int]:
    """Put failed mails back in the queue, due now, with a fresh set of attempts.

    A pending mail is made due now; a sent or sending one is refused (ValidationError).
    """
    if not ids and not all_failed:
        raise ValidationError("id", "name the mails to retry, or ask for all failed ones")
    now = clock.now()
    targets: list[OutboxMail] = []
    if all_failed:
        statement = select(OutboxMail).where(OutboxMail.status == "failed")
        visible = _visible(actor)
        if visible is not None:
            statement = statement.where(visible)
        targets.extend(session.exec(statement.order_by(col(OutboxMail.id))).all())
    for mail_id in ids:
        mail = _load(session, actor, mail_id)
        if mail.status in ("sent", "sending"):
            raise ValidationError("id", f"outbox mail {mail_id} is {mail.status}; only failed or pending mails are retried")
        if mail.status == "failed" and not mail.to_addrs:
            raise ValidationError("id", f"outbox mail {mail_id} has no recipient: {mail.last_error}")
        targets.append(mail)
    done: list[int] = []
    table = OutboxMail.__table__
    for mail in targets:
        if not mail.to_addrs:
            continue  # nobody to send it to; `--all-failed` skips these
        result = session.execute(
            update(table)
            .where(table.c.id == mail.id, table.c.status.in_(("failed", "pending")))
            .values(status="pending", attempts=0, next_attempt_at=now, lease_owner="",
                    lease_expires_at=None)
        )
        if result.rowcount == 1 and mail.id not in done:
            done.append(mail.id)
    return done
