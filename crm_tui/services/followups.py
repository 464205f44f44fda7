"""Follow-up mails (seed 004): nudging the owner of an opportunity that sits too long in its stage.

Per pipeline: on/off, an interval and its unit. An open opportunity is overdue once it has been in
its stage longer than the stage's duration (`stage_entered_at + duration_days`). Mails go out at
the daily run (`[followup] run_time`, default 07:00, in `[followup] timezone`, default UTC):

- the first on the run of the day after the day it became overdue (overdue on a Monday -> the
  first mail on Tuesday at 07:00 UTC);
- then one every interval, counted from the day of the first mail (Tuesday, the next Tuesday, ...);
- until it changes stage (a new stay starts from nothing), gets a meeting planned for a moment in
  the future, or gets a new to-do (one created since it became overdue). While an open meeting
  lies ahead, no mail goes out either.

A daemon that was down over a run catches up at its next tick: the last run it made is kept in the
`meta` table, and a run covers every mail due by its moment. If several intervals passed, the owner
gets one mail, not a pile, and the count moves on to the latest one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import and_, or_, text, update
from sqlmodel import Session, col, select

from crm_tui import clock
from crm_tui.config import Settings
from crm_tui.models import Activity, ActivityType, Contact, Meta, Opportunity, Pipeline, Stage, User
from crm_tui.services.dates import shift
from crm_tui.services.errors import ValidationError
from crm_tui.services.outbox import NewMail, QueuedMail, enqueue

GATE_KEY = "followups_last_run"
_RUN_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")
_UNITS = {"days": "days", "weeks": "weeks", "months": "months"}


def run_time_of(settings: Settings) -> tuple[int, int]:
    match = _RUN_TIME.match(settings.followup.run_time.strip())
    if match:
        hour, minute = int(match.group(1)), int(match.group(2))
        if hour < 24 and minute < 60:
            return hour, minute
    raise ValidationError("followup.run_time", f"{settings.followup.run_time!r} is not a time of day (HH:MM)")


def run_on(day: date, settings: Settings) -> datetime:
    """The UTC moment of the daily run on `day` (a date in the follow-up time zone)."""
    hour, minute = run_time_of(settings)
    return clock.start_of_day_utc(day, settings.followup.timezone, hour, minute)


def latest_run(now: datetime, settings: Settings) -> datetime:
    """The most recent daily run moment at or before `now`."""
    today = now.astimezone(clock.zone(settings.followup.timezone)).date()
    moment = run_on(today, settings)
    return moment if moment <= now else run_on(today - timedelta(days=1), settings)


def next_run(now: datetime, settings: Settings) -> datetime:
    today = now.astimezone(clock.zone(settings.followup.timezone)).date()
    moment = run_on(today, settings)
    return moment if moment > now else run_on(today + timedelta(days=1), settings)


def _local_day(moment: datetime, settings: Settings) -> date:
    return moment.astimezone(clock.zone(settings.followup.timezone)).date()


@dataclass(frozen=True)
class FollowupDue:
    """One follow-up mail that the run at `run_at` sends."""

    opportunity_id: int
    title: str
    number: int
    """1 for the first mail of this stay in the stage, 2 for the next, ..."""
    run_at: datetime
    first_at: datetime
    """When the first mail of this stay went (or goes) out."""
    next_at: datetime
    """When the next one is due, if nothing changes."""
    seen_count: int
    stage_entered_at: datetime
    overdue_since: datetime
    stage: str
    pipeline: str
    duration_days: int
    interval: int
    unit: str
    expected_revenue: Decimal
    currency: str
    probability: int
    next_activity_due: date | None
    contact_id: int
    contact_name: str
    company: str
    owner_id: int | None
    owner_login: str
    owner_name: str
    owner_email: str
    owner_timezone: str

    @property
    def dedupe_key(self) -> str:
        return f"followup:{self.opportunity_id}:{self.stage_entered_at:%Y%m%dT%H%M%SZ}:{self.number}"


def _slot(first_day: date, k: int, interval: int, unit: str, settings: Settings) -> datetime:
    return run_on(shift(first_day, k * interval, _UNITS.get(unit, "weeks")), settings)


def _schedule(opp: Opportunity, overdue_since: datetime, interval: int, unit: str, run_at: datetime,
              settings: Settings) -> tuple[int, datetime, datetime] | None:
    """(number, first mail moment, next moment) if a mail is due at `run_at`, else None."""
    interval = max(interval, 1)
    first_at = opp.followup_first_at
    fresh = first_at is None or opp.followup_count <= 0 or first_at < opp.stage_entered_at
    if fresh:
        if run_on(_local_day(overdue_since, settings) + timedelta(days=1), settings) > run_at:
            return None
        first_day = _local_day(run_at, settings)
        return 1, run_at, _slot(first_day, 1, interval, unit, settings)
    first_day = _local_day(first_at, settings)
    k = opp.followup_count
    if _slot(first_day, k, interval, unit, settings) > run_at:
        return None
    while _slot(first_day, k + 1, interval, unit, settings) <= run_at:
        k += 1  # a long downtime: one mail for the latest interval, not one per missed interval
    return k + 1, first_at, _slot(first_day, k + 1, interval, unit, settings)


def _due_moment(day: date, at: time | None, zone: str) -> datetime:
    if at is None:
        return clock.start_of_day_utc(day + timedelta(days=1), zone) - timedelta(seconds=1)
    return clock.start_of_day_utc(day, zone, at.hour, at.minute)


def stop_reason(session: Session, opportunity_id: int, overdue_since: datetime, run_at: datetime,
                zone: str) -> str | None:
    """Why no follow-up goes out for this stay (or now), or None."""
    rows = session.exec(
        select(ActivityType.category, Activity.status, Activity.due_date, Activity.due_time,
               Activity.created_at)
        .join(ActivityType, col(ActivityType.id) == col(Activity.type_id))
        .where(
            col(Activity.opportunity_id) == opportunity_id,
            col(ActivityType.category).in_(("meeting", "todo")),
            col(Activity.status) != "cancelled",
        )
    ).all()
    for category, status, due, at, created in rows:
        if category == "todo" and created >= overdue_since:
            return "a new to-do"
        if category == "meeting":
            moment = _due_moment(due, at, zone)
            if created >= overdue_since and moment > created:
                return "a meeting was planned"
            if status == "planned" and moment >= run_at:
                return "a meeting is planned"
    return None


def followups_due(session: Session, run_at: datetime, settings: Settings) -> list[FollowupDue]:
    """Every follow-up mail the daily run at `run_at` sends (reads only)."""
    stages = session.exec(
        select(Stage, Pipeline)
        .join(Pipeline, col(Pipeline.id) == col(Stage.pipeline_id))
        .where(col(Pipeline.followup_enabled), col(Stage.duration_days) > 0, ~col(Stage.is_won),
               ~col(Stage.is_lost))
    ).all()
    if not stages:
        return []
    by_stage = {stage.id: (stage, pipeline) for stage, pipeline in stages}
    overdue = or_(*(
        and_(col(Opportunity.stage_id) == stage.id,
             col(Opportunity.stage_entered_at) < run_at - timedelta(days=stage.duration_days))
        for stage, _pipeline in stages
    ))
    rows = session.exec(
        select(Opportunity, Contact.name, Contact.first_name, Contact.company, User)
        .join(Contact, col(Contact.id) == col(Opportunity.contact_id))
        .outerjoin(User, col(User.id) == col(Opportunity.owner_id))
        .where(col(Opportunity.status) == "open", overdue)
        .order_by(col(Opportunity.id))
    ).all()
    found = []
    for opp, name, first_name, company, owner in rows:
        if owner is None or not owner.active:
            continue  # nobody to nudge
        stage, pipeline = by_stage[opp.stage_id]
        overdue_since = opp.stage_entered_at + timedelta(days=stage.duration_days)
        planned = _schedule(opp, overdue_since, pipeline.followup_interval, pipeline.followup_unit,
                            run_at, settings)
        if planned is None:
            continue
        zone = owner.timezone or settings.general.timezone
        if stop_reason(session, opp.id, overdue_since, run_at, zone):
            continue
        number, first_at, next_at = planned
        found.append(FollowupDue(
            opportunity_id=opp.id, title=opp.title, number=number, run_at=run_at, first_at=first_at,
            next_at=next_at, seen_count=opp.followup_count, stage_entered_at=opp.stage_entered_at,
            overdue_since=overdue_since, stage=stage.name, pipeline=pipeline.name,
            duration_days=stage.duration_days, interval=max(pipeline.followup_interval, 1),
            unit=pipeline.followup_unit, expected_revenue=opp.expected_revenue, currency=opp.currency,
            probability=opp.probability, next_activity_due=opp.next_activity_due,
            contact_id=opp.contact_id,
            contact_name=f"{first_name} {name}".strip() if first_name else name, company=company,
            owner_id=owner.id, owner_login=owner.login, owner_name=owner.name or owner.login,
            owner_email=owner.email, owner_timezone=zone,
        ))
    return found


def _unit_words(interval: int, unit: str) -> str:
    singular = unit[:-1] if unit.endswith("s") else unit
    return f"{interval} {singular if interval == 1 else unit}"


def followup_mail(due: FollowupDue, settings: Settings, *, command: str = "crm") -> NewMail:
    overdue_day = _local_day(due.overdue_since, settings)
    next_day = _local_day(due.next_at, settings)
    hour, minute = run_time_of(settings)
    about = due.company or due.contact_name
    lines = [
        f"Hello {due.owner_name},",
        "",
        f"the opportunity \"{due.title}\" has been in the stage \"{due.stage}\" (pipeline "
        f"\"{due.pipeline}\") since {due.stage_entered_at:%Y-%m-%d}, longer than the stage's "
        f"{due.duration_days} days: it is overdue since {overdue_day:%A} {overdue_day.isoformat()}.",
        "",
        f"  Opportunity:    {due.title} (#{due.opportunity_id})",
        f"  Contact:        {due.contact_name}"
        + (f" ({due.company})" if due.company and due.company != due.contact_name else ""),
        f"  Expected:       {due.expected_revenue:,.2f} {due.currency} ({due.probability} %)",
        "  Next activity:  "
        + (due.next_activity_due.isoformat() if due.next_activity_due else "none planned"),
        "",
        f"This is follow-up mail {due.number}. The next one comes on {next_day:%A} {next_day.isoformat()} "
        f"at {hour:02d}:{minute:02d} {settings.followup.timezone} (every "
        f"{_unit_words(due.interval, due.unit)}) unless the opportunity changes stage, gets a meeting "
        "in the future or a new to-do.",
        "",
        "Open it:",
        f"  {command} opps show {due.opportunity_id}",
        f"  {command} contacts show {due.contact_id}",
        "",
        "-- ",
        "crm-tui follow-up mail (crm remind)",
    ]
    status, error = "pending", ""
    if not due.owner_email:
        status, error = "failed", f"not sent: user {due.owner_login} has no e-mail address"
    return NewMail(
        dedupe_key=due.dedupe_key, kind="followup", to=(due.owner_email,) if due.owner_email else (),
        subject=f"Follow-up {due.number}: {due.title} ({about}) is overdue in {due.stage}",
        body="\n".join(lines) + "\n", user_id=due.owner_id, contact_id=due.contact_id,
        opportunity_id=due.opportunity_id, status=status, error=error,
    )


# -- the daily run ---------------------------------------------------------------------------


def last_run(session: Session) -> datetime | None:
    value = session.exec(select(Meta.value).where(Meta.key == GATE_KEY)).first()
    return datetime.fromisoformat(value) if value else None


def pending_run(session: Session, now: datetime, settings: Settings) -> datetime | None:
    """The daily run that is due and not yet made (read only), or None."""
    run_at = latest_run(now, settings)
    done = last_run(session)
    return run_at if done is None or done < run_at else None


def _lock_gate(session: Session) -> datetime | None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("INSERT INTO meta (key, value) VALUES (:key, '') ON CONFLICT (key) DO NOTHING"),
            {"key": GATE_KEY},
        )
        value = session.execute(
            text("SELECT value FROM meta WHERE key = :key FOR UPDATE"), {"key": GATE_KEY}
        ).scalar()
    else:  # SQLite: the whole transaction holds the write lock already (BEGIN IMMEDIATE)
        value = session.exec(select(Meta.value).where(Meta.key == GATE_KEY)).first()
    return datetime.fromisoformat(value) if value else None


def _set_gate(session: Session, run_at: datetime) -> None:
    row = session.get(Meta, GATE_KEY)
    if row is None:
        session.add(Meta(key=GATE_KEY, value=run_at.isoformat()))
    else:
        row.value = run_at.isoformat()
    session.flush()


def run_followups(
    session: Session, settings: Settings, sender: str, *, command: str = "crm", now: datetime | None = None,
) -> tuple[datetime, list[QueuedMail]] | None:
    """Make the due daily run, if any: queue its mails, move the opportunities' counts on.

    None when the latest run was made already (by this daemon or another one).
    """
    now = now or clock.now()
    run_at = latest_run(now, settings)
    done = _lock_gate(session)
    if done is not None and done >= run_at:
        return None
    mails = []
    table = Opportunity.__table__
    for due in followups_due(session, run_at, settings):
        moved = session.execute(
            update(table)
            .where(table.c.id == due.opportunity_id, table.c.stage_entered_at == due.stage_entered_at,
                   table.c.followup_count == due.seen_count)
            .values(followup_count=due.number, followup_first_at=due.first_at)
        )
        if moved.rowcount == 1:
            mails.append(followup_mail(due, settings, command=command))
    added = enqueue(session, mails, sender)
    _set_gate(session, run_at)
    return run_at, added


def preview_followups(
    session: Session, settings: Settings, *, command: str = "crm", now: datetime | None = None,
) -> list[NewMail]:
    """The mails `run_followups` would queue now (reads only)."""
    run_at = pending_run(session, now or clock.now(), settings)
    if run_at is None:
        return []
    return [followup_mail(due, settings, command=command) for due in followups_due(session, run_at, settings)]
