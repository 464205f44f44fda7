"""Opportunities: create, edit, move through the stages, win, lose, reopen, merge; list and show.

Values come in as a dict of domain field names (the names of the command-line options, the form
fields and the JSON keys) and go out as plain dataclasses. Every change writes history.

The rules:
- `probability` is the effective one: the stage's unless overridden; won sets 100, lost 0, and
  both (and reopening) drop the override.
- A stage change (move, edit of stage or pipeline, won/lost into the pipeline's won/lost stage,
  reopen out of it) sets `stage_entered_at` to now and resets the follow-up counters; nothing
  else does, so rotting (open, the stage has a duration, and now - stage_entered_at is longer)
  resets only on a stage change.
- Moving into the pipeline's won stage wins the opportunity; moving into its lost stage is
  refused (losing needs a reason: `mark_lost`). A won or lost opportunity is reopened, not moved.
- `won` and `lost` move the opportunity to the pipeline's won/lost stage when it has one (so the
  board shows it in that column); `reopen` brings it back to the stage it came from.
- The owner, a manager of one of the owner's teams, or an admin changes an opportunity.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import ColumnElement, and_, case, func, or_, update
from sqlmodel import Session, col, select

from crm_tui import clock
from crm_tui.config import Settings, get_settings
from crm_tui.models import (
    Activity,
    Attachment,
    Contact,
    HistoryEntry,
    LostReason,
    Opportunity,
    Pipeline,
    Stage,
    User,
)
from crm_tui.services import history, validation
from crm_tui.services.dates import parse_optional_date
from crm_tui.services.errors import ConflictError, FieldConflict, NotFound, ValidationError
from crm_tui.services.identity import Actor
from crm_tui.services.permissions import check_can_plan, check_opportunity_edit
from crm_tui.services.pipelines import (
    default_pipeline,
    find_pipeline,
    find_stage,
    lost_stage,
    pipeline_stages,
    won_stage,
)
from crm_tui.services.states import STATES, State, state_of_due

OPPORTUNITY_FIELDS = (
    "title", "contact", "pipeline", "stage", "expected_revenue", "currency", "probability",
    "owner", "expected_close", "description",
)
_ALIASES = {"contact_id": "contact", "pipeline_id": "pipeline", "stage_id": "stage"}
LIST_STATUSES = ("open", "won", "lost", "all")
FROM_STAGE = ("", "stage", "auto", "default", "-")
"""Probability values that mean "take the stage's" (drop an override)."""


# -- plain data out --------------------------------------------------------------------------


@dataclass(frozen=True)
class OpportunityRow:
    """One opportunity in a list (and its JSON)."""

    id: int
    title: str
    contact_id: int
    contact: str
    pipeline: str
    stage: str
    expected_revenue: Decimal
    currency: str
    probability: int
    owner: str | None
    expected_close: date | None
    status: str
    lost_reason: str | None
    state: str
    """overdue/today/planned/none by next_activity_due for an open one; none once closed."""
    rotting: bool
    stage_entered_at: datetime
    next_activity_due: date | None


@dataclass(frozen=True)
class OpportunityDetail(OpportunityRow):
    """One opportunity with every field (the card, `opps show`)."""

    pipeline_id: int
    stage_id: int
    probability_overridden: bool
    company: str
    description: str
    lost_note: str
    closed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    version: int

    def form_values(self) -> dict[str, object]:
        """The editable fields as a form or `edit` starts from."""
        return {
            "title": self.title, "contact": self.contact_id, "pipeline": self.pipeline,
            "stage": self.stage, "expected_revenue": self.expected_revenue,
            "currency": self.currency,
            "probability": self.probability if self.probability_overridden else "",
            "owner": self.owner or "", "expected_close": self.expected_close,
            "description": self.description,
        }


@dataclass(frozen=True)
class MergeResult:
    survivor_id: int
    merged_ids: tuple[int, ...]
    contacts_differ: bool
    """Some merged opportunity belonged to another contact than the survivor (warn about it)."""
    activities: int
    history: int
    attachments: int


@dataclass(frozen=True)
class OpportunityFilter:
    """What `list_opportunities` shows; every part optional."""

    pipeline: object = None
    """Name or id."""
    stage: str | None = None
    """Name (in `pipeline` if given, else in any pipeline) or id."""
    state: str | None = None
    """overdue, today, planned, none, or several joined by commas; open opportunities only."""
    owner: str | None = None
    """A login, @me, or none (no owner)."""
    status: str = "open"
    """open, won, lost or all."""
    contact_id: int | None = None
    search: str | None = None
    """Words in the title, the contact's name or company."""
    rotting: bool = False


# -- small helpers ---------------------------------------------------------------------------


def _display(name: str, first_name: str) -> str:
    return f"{name}, {first_name}" if first_name else name


def _subject(opportunity: Opportunity) -> str:
    return f"opportunity {opportunity.id} {opportunity.title}"


def is_rotting(status: str, duration_days: int, stage_entered_at: datetime | None,
               now: datetime | None = None) -> bool:
    """Open, in a stage with a duration, and there longer than it."""
    if status != "open" or duration_days <= 0 or stage_entered_at is None:
        return False
    return (now or clock.now()) - stage_entered_at > timedelta(days=duration_days)


def _login(session: Session, user_id: int | None) -> str | None:
    if user_id is None:
        return None
    return session.exec(select(User.login).where(col(User.id) == user_id)).first()


def load_opportunity(session: Session, opportunity_id: int) -> Opportunity:
    opportunity = session.get(Opportunity, opportunity_id)
    if opportunity is None:
        raise NotFound("opportunity", opportunity_id)
    return opportunity


def _editable(session: Session, actor: Actor, opportunity_id: int) -> Opportunity:
    """The opportunity, row-locked for this transaction (PostgreSQL: two reps moving the same
    card at once take turns, the second sees the first's move), if `actor` may change it."""
    # populate_existing: an opportunity already in this session is read again under the lock,
    # so the version check sees what was committed last (as `contacts.load_contact`).
    opportunity = session.get(Opportunity, int(opportunity_id), with_for_update=True,
                              populate_existing=True)
    if opportunity is None:
        raise NotFound("opportunity", opportunity_id)
    check_opportunity_edit(session, actor, opportunity)
    return opportunity


def list_lost_reasons(session: Session) -> list[str]:
    """The lost reasons a rep may choose, by name."""
    return list(
        session.exec(select(LostReason.name).where(col(LostReason.active)).order_by(LostReason.name)).all()
    )


def find_lost_reason(session: Session, value: object, field: str = "reason") -> LostReason:
    text = ("" if value is None else str(value)).strip()
    if not text:
        raise ValidationError(field, "a lost reason is required")
    reasons = session.exec(select(LostReason).order_by(LostReason.name)).all()
    found = next((r for r in reasons if r.name.casefold() == text.casefold()), None)
    if found is None and text.isdigit():
        found = next((r for r in reasons if r.id == int(text)), None)
    if found is None or not found.active:
        names = ", ".join(r.name for r in reasons if r.active) or "none configured"
        raise ValidationError(field, f"{text!r} is not a lost reason (choose one of: {names})")
    return found


# -- reading ---------------------------------------------------------------------------------


def _row_statement():
    return (
        select(
            Opportunity, Contact.name, Contact.first_name, Contact.company, Pipeline.name,
            Stage.name, Stage.duration_days, User.login, LostReason.name,
        )
        .join(Contact, col(Contact.id) == col(Opportunity.contact_id))
        .join(Pipeline, col(Pipeline.id) == col(Opportunity.pipeline_id))
        .join(Stage, col(Stage.id) == col(Opportunity.stage_id))
        .outerjoin(User, col(User.id) == col(Opportunity.owner_id))
        .outerjoin(LostReason, col(LostReason.id) == col(Opportunity.lost_reason_id))
    )


def _row_values(row, today: date, now: datetime) -> dict[str, object]:
    o, name, first_name, _company, pipeline, stage, duration, owner, reason = row
    is_open = o.status == "open"
    return dict(
        id=o.id, title=o.title, contact_id=o.contact_id, contact=_display(name, first_name),
        pipeline=pipeline, stage=stage, expected_revenue=Decimal(o.expected_revenue or 0).quantize(validation.TWO_PLACES),
        currency=o.currency, probability=o.probability, owner=owner, expected_close=o.expected_close,
        status=o.status, lost_reason=reason,
        state=(state_of_due(o.next_activity_due, today) if is_open else State.NONE).value,
        rotting=is_rotting(o.status, duration, o.stage_entered_at, now),
        stage_entered_at=o.stage_entered_at, next_activity_due=o.next_activity_due,
    )


def get_opportunity(session: Session, actor: Actor, opportunity_id: int) -> OpportunityDetail:
    row = session.exec(_row_statement().where(col(Opportunity.id) == opportunity_id)).first()
    if row is None:
        raise NotFound("opportunity", opportunity_id)
    o = row[0]
    return OpportunityDetail(
        **_row_values(row, actor.today(), clock.now()),
        pipeline_id=o.pipeline_id, stage_id=o.stage_id,
        probability_overridden=o.probability_overridden, company=row[3],
        description=o.description, lost_note=o.lost_note, closed_at=o.closed_at,
        created_at=o.created_at, updated_at=o.updated_at, version=o.version or 1,
    )


def _state_conditions(value: str, today: date) -> ColumnElement:
    due = col(Opportunity.next_activity_due)
    by_state = {
        State.OVERDUE: due < today, State.TODAY: due == today,
        State.PLANNED: due > today, State.NONE: due.is_(None),
    }
    parts = []
    for word in value.lower().split(","):
        word = word.strip()
        try:
            parts.append(by_state[State(word)])
        except ValueError:
            raise ValidationError("state", f"{word!r} is not one of {', '.join(STATES)}") from None
    return and_(col(Opportunity.status) == "open", or_(*parts))


def _rotting_condition(session: Session, pipeline_id: int | None, now: datetime) -> ColumnElement:
    statement = select(Stage).where(col(Stage.duration_days) > 0)
    if pipeline_id is not None:
        statement = statement.where(Stage.pipeline_id == pipeline_id)
    per_stage = [
        and_(col(Opportunity.stage_id) == s.id,
             col(Opportunity.stage_entered_at) < now - timedelta(days=s.duration_days))
        for s in session.exec(statement).all()
    ]
    if not per_stage:
        return col(Opportunity.id).is_(None)  # nothing can rot
    return and_(col(Opportunity.status) == "open", or_(*per_stage))


def _owner_condition(session: Session, actor: Actor, value: str) -> ColumnElement:
    text = value.strip()
    if text.lower() in ("@me", "me"):
        return col(Opportunity.owner_id) == actor.id
    if text.lower() in ("none", "-", "nobody"):
        return col(Opportunity.owner_id).is_(None)
    user_id = session.exec(select(User.id).where(User.login == text)).first()
    if user_id is None:
        raise ValidationError("owner", f"no user with login {text!r}")
    return col(Opportunity.owner_id) == user_id


def opportunity_conditions(session: Session, actor: Actor, filt: OpportunityFilter) -> list[ColumnElement]:
    conditions: list[ColumnElement] = []
    pipeline_id = None
    if filt.pipeline not in (None, ""):
        pipeline_id = find_pipeline(session, filt.pipeline).id
        conditions.append(col(Opportunity.pipeline_id) == pipeline_id)
    if filt.stage:
        if pipeline_id is not None:
            conditions.append(col(Opportunity.stage_id) == find_stage(session, pipeline_id, filt.stage).id)
        else:
            text = filt.stage.strip()
            ids = [s.id for s in session.exec(select(Stage)).all()
                   if s.name.casefold() == text.casefold() or (text.isdigit() and s.id == int(text))]
            if not ids:
                raise ValidationError("stage", f"no pipeline has a stage {text!r}")
            conditions.append(col(Opportunity.stage_id).in_(ids))
    status = validation.choice(filt.status or "open", LIST_STATUSES, "status")
    if status != "all":
        conditions.append(col(Opportunity.status) == status)
    if filt.state:
        conditions.append(_state_conditions(filt.state, actor.today()))
    if filt.owner:
        conditions.append(_owner_condition(session, actor, filt.owner))
    if filt.contact_id is not None:
        conditions.append(col(Opportunity.contact_id) == filt.contact_id)
    if filt.rotting:
        conditions.append(_rotting_condition(session, pipeline_id, clock.now()))
    for word in (filt.search or "").split():
        pattern = f"%{word}%"
        conditions.append(or_(
            col(Opportunity.title).ilike(pattern), col(Contact.name).ilike(pattern),
            col(Contact.first_name).ilike(pattern), col(Contact.company).ilike(pattern),
        ))
    return conditions


def list_opportunities(
    session: Session,
    actor: Actor,
    filt: OpportunityFilter | None = None,
    *,
    offset: int = 0,
    limit: int = 50,
) -> list[OpportunityRow]:
    """One window of the filtered list, most urgent first (overdue ... none, then closed)."""
    filt = filt or OpportunityFilter()
    due = col(Opportunity.next_activity_due)
    statement = (
        _row_statement()
        .where(*opportunity_conditions(session, actor, filt))
        .order_by(
            case((col(Opportunity.status) == "open", 0), else_=1),
            case((due.is_(None), 1), else_=0),
            due,
            col(Opportunity.id),
        )
        .offset(max(offset, 0))
        .limit(max(limit, 0))
    )
    today, now = actor.today(), clock.now()
    return [OpportunityRow(**_row_values(row, today, now)) for row in session.exec(statement).all()]


def count_opportunities(session: Session, actor: Actor, filt: OpportunityFilter | None = None) -> int:
    statement = (
        select(func.count())
        .select_from(Opportunity)
        .join(Contact, col(Contact.id) == col(Opportunity.contact_id))
        .where(*opportunity_conditions(session, actor, filt or OpportunityFilter()))
    )
    return session.exec(statement).one()


def opportunities_of_contact(session: Session, actor: Actor, contact_id: int) -> list[OpportunityRow]:
    """Every opportunity of one contact (the contact card), open ones first."""
    return list_opportunities(session, actor, OpportunityFilter(status="all", contact_id=contact_id),
                              limit=500)


# -- validating ------------------------------------------------------------------------------


def _normalise(values: Mapping[str, object]) -> dict[str, object]:
    out: dict[str, object] = {}
    for name, value in values.items():
        name = _ALIASES.get(name, name)
        if name not in OPPORTUNITY_FIELDS:
            raise ValidationError(name, "is not an opportunity field")
        out[name] = value
    return out


def _contact(session: Session, value: object) -> Contact:
    text = ("" if value is None else str(value)).strip()
    if not text:
        raise ValidationError("contact", "an opportunity needs a contact")
    if not text.isdigit():
        raise ValidationError("contact", f"{text!r} is not a contact id")
    contact = session.get(Contact, int(text))
    if contact is None:
        raise ValidationError("contact", f"contact {text} does not exist")
    return contact


def _owner(session: Session, actor: Actor, value: object) -> int | None:
    text = ("" if value is None else str(value)).strip()
    if text.lower() in ("@me", "me"):
        return actor.id
    if text.lower() in ("", "none", "-", "nobody"):
        return None
    user = session.exec(select(User).where(User.login == text)).first()
    if user is None:
        raise ValidationError("owner", f"no user with login {text!r}")
    if not user.active:
        raise ValidationError("owner", f"user {text!r} is deactivated")
    return user.id


def _probability(value: object) -> int | None:
    """None: take the stage's; else an override 0..100 (a trailing % is fine)."""
    if value is None:
        return None
    text = str(value).strip().rstrip("%").strip()
    if text.lower() in FROM_STAGE:
        return None
    return validation.whole_number(text, "probability", 0, 100)


def _first_stage(session: Session, pipeline: Pipeline) -> Stage:
    stages = pipeline_stages(session, pipeline.id)
    if not stages:
        raise ValidationError("pipeline", f"pipeline {pipeline.name!r} has no stages")
    return next((s for s in stages if not (s.is_won or s.is_lost)), stages[0])


def _check_enterable(stage: Stage) -> None:
    if stage.is_lost:
        raise ValidationError(
            "stage", f"{stage.name!r} is the lost stage: mark the opportunity lost, with a reason"
        )


# -- stage changes ---------------------------------------------------------------------------


def _enter_stage(session: Session, actor: Actor, opportunity: Opportunity, stage: Stage,
                 note: str = "") -> None:
    """Put the opportunity in `stage` (any pipeline): stage date now, follow-ups reset, history."""
    old = session.get(Stage, opportunity.stage_id) if opportunity.stage_id else None
    now = clock.now()
    old_pipeline = opportunity.pipeline_id
    opportunity.stage_id = stage.id
    opportunity.pipeline_id = stage.pipeline_id
    opportunity.stage_entered_at = now
    opportunity.followup_first_at = None
    opportunity.followup_count = 0
    opportunity.updated_at = now
    where = dict(contact_id=opportunity.contact_id, opportunity_id=opportunity.id,
                 subject=_subject(opportunity))
    if old_pipeline != stage.pipeline_id:
        names = dict(session.exec(select(Pipeline.id, Pipeline.name).where(
            col(Pipeline.id).in_([old_pipeline, stage.pipeline_id]))).all())
        history.record(session, actor, "change", field="pipeline", old=names.get(old_pipeline),
                       new=names.get(stage.pipeline_id), **where)
    history.record(session, actor, "stage", field="stage", old=old.name if old else None,
                   new=stage.name, note=note, **where)
    if opportunity.status == "open" and not opportunity.probability_overridden:
        _set_probability(session, actor, opportunity, stage.probability)


def _set_probability(session: Session, actor: Actor, opportunity: Opportunity, value: int) -> None:
    if opportunity.probability != value:
        history.record(session, actor, "change", contact_id=opportunity.contact_id,
                       opportunity_id=opportunity.id, subject=_subject(opportunity),
                       field="probability", old=opportunity.probability, new=value)
        opportunity.probability = value


def _close(session: Session, actor: Actor, opportunity: Opportunity, status: str, note: str = "") -> None:
    old = opportunity.status
    opportunity.status = status
    opportunity.probability_overridden = False
    _set_probability(session, actor, opportunity, 100 if status == "won" else 0)
    opportunity.closed_at = clock.now()
    opportunity.updated_at = clock.now()
    history.record(session, actor, status, contact_id=opportunity.contact_id,
                   opportunity_id=opportunity.id, subject=_subject(opportunity), field="status",
                   old=old, new=status, note=note)


def _win(session: Session, actor: Actor, opportunity: Opportunity) -> None:
    opportunity.lost_reason_id = None
    opportunity.lost_note = ""
    _close(session, actor, opportunity, "won")


def move_opportunity(
    session: Session,
    actor: Actor,
    opportunity_id: int,
    *,
    stage: object = None,
    step: int = 0,
) -> Opportunity:
    """Move an open opportunity to a named stage of its pipeline (`stage`) or `step` stages on
    (+1 next, -1 previous). Into the won stage, it is won; into the lost stage, refused."""
    opportunity = _editable(session, actor, opportunity_id)
    if opportunity.status != "open":
        raise ValidationError(
            "status", f"opportunity {opportunity.id} is {opportunity.status}; reopen it to move it"
        )
    stages = pipeline_stages(session, opportunity.pipeline_id)
    index = next(i for i, s in enumerate(stages) if s.id == opportunity.stage_id)
    if stage not in (None, ""):
        target = find_stage(session, opportunity.pipeline_id, stage)
    elif step:
        wanted = index + step
        if wanted < 0:
            raise ValidationError("stage", f"opportunity {opportunity.id} is in the first stage already")
        if wanted >= len(stages):
            raise ValidationError("stage", f"opportunity {opportunity.id} is in the last stage already")
        target = stages[wanted]
    else:
        raise ValidationError("stage", "say where to: a stage, next or previous")
    if target.id == opportunity.stage_id:
        raise ValidationError("stage", f"opportunity {opportunity.id} is in {target.name!r} already")
    _check_enterable(target)
    _enter_stage(session, actor, opportunity, target)
    if target.is_won:
        _win(session, actor, opportunity)
    session.add(opportunity)
    session.flush()
    return opportunity


def move_next(session: Session, actor: Actor, opportunity_id: int) -> Opportunity:
    return move_opportunity(session, actor, opportunity_id, step=1)


def move_previous(session: Session, actor: Actor, opportunity_id: int) -> Opportunity:
    return move_opportunity(session, actor, opportunity_id, step=-1)


def mark_won(session: Session, actor: Actor, opportunity_id: int) -> Opportunity:
    """Won: probability 100, closed now; into the pipeline's won stage if it has one."""
    opportunity = _editable(session, actor, opportunity_id)
    if opportunity.status == "won":
        raise ValidationError("status", f"opportunity {opportunity.id} is won already")
    target = won_stage(session, opportunity.pipeline_id)
    if target is not None and target.id != opportunity.stage_id:
        _enter_stage(session, actor, opportunity, target)
    _win(session, actor, opportunity)
    session.add(opportunity)
    session.flush()
    return opportunity


def mark_lost(session: Session, actor: Actor, opportunity_id: int, reason: object,
              note: str | None = None) -> Opportunity:
    """Lost, for one of the configured reasons (and an optional note): probability 0, closed
    now; into the pipeline's lost stage if it has one."""
    opportunity = _editable(session, actor, opportunity_id)
    found = find_lost_reason(session, reason)
    text = validation.clean_text(note, "note", 20_000)
    if opportunity.status == "lost":
        raise ValidationError("status", f"opportunity {opportunity.id} is lost already")
    target = lost_stage(session, opportunity.pipeline_id)
    if target is not None and target.id != opportunity.stage_id:
        _enter_stage(session, actor, opportunity, target)
    opportunity.lost_reason_id = found.id
    opportunity.lost_note = text
    _close(session, actor, opportunity, "lost", note=f"{found.name}: {text}" if text else found.name)
    session.add(opportunity)
    session.flush()
    return opportunity


def _stage_before_closing(session: Session, opportunity: Opportunity, current: Stage) -> Stage:
    """The ordinary stage a won/lost opportunity came from (by its history), else the last
    ordinary stage before the closing one."""
    stages = pipeline_stages(session, opportunity.pipeline_id)
    ordinary = [s for s in stages if not (s.is_won or s.is_lost)]
    if not ordinary:
        return current
    came_from = session.exec(
        select(HistoryEntry.old_value)
        .where(col(HistoryEntry.opportunity_id) == opportunity.id, HistoryEntry.action == "stage",
               HistoryEntry.new_value == current.name)
        .order_by(col(HistoryEntry.id).desc())
    ).first()
    for stage in ordinary:
        if came_from is not None and stage.name == came_from:
            return stage
    before = [s for s in ordinary if s.position < current.position]
    return before[-1] if before else ordinary[0]


def reopen_opportunity(session: Session, actor: Actor, opportunity_id: int,
                       stage: object = None) -> Opportunity:
    """Back to open: the lost reason is cleared, the probability is the stage's again. Out of
    a won/lost stage it returns to the stage it came from (or to `stage`, if given)."""
    opportunity = _editable(session, actor, opportunity_id)
    if opportunity.status == "open":
        raise ValidationError("status", f"opportunity {opportunity.id} is open already")
    current = session.get(Stage, opportunity.stage_id)
    if stage not in (None, ""):
        target = find_stage(session, opportunity.pipeline_id, stage)
        if target.is_won or target.is_lost:
            raise ValidationError("stage", f"{target.name!r} closes opportunities; reopen into another stage")
    elif current.is_won or current.is_lost:
        target = _stage_before_closing(session, opportunity, current)
    else:
        target = current
    old = opportunity.status
    opportunity.status = "open"
    opportunity.closed_at = None
    opportunity.lost_reason_id = None
    opportunity.lost_note = ""
    opportunity.probability_overridden = False
    opportunity.updated_at = clock.now()
    history.record(session, actor, "reopen", contact_id=opportunity.contact_id,
                   opportunity_id=opportunity.id, subject=_subject(opportunity), field="status",
                   old=old, new="open")
    if target.id != opportunity.stage_id:
        _enter_stage(session, actor, opportunity, target)
    else:
        _set_probability(session, actor, opportunity, target.probability)
    session.add(opportunity)
    session.flush()
    return opportunity


# -- create and edit -------------------------------------------------------------------------


def create_opportunity(
    session: Session,
    actor: Actor,
    values: Mapping[str, object],
    *,
    settings: Settings | None = None,
) -> Opportunity:
    """Validate and insert an opportunity. The pipeline defaults to the first one, the stage to
    its first stage, the owner to the actor, the currency to the configured one."""
    settings = settings or get_settings()
    raw = _normalise(values)
    title = validation.clean_text(raw.get("title"), "title", 200, required=True)
    contact = _contact(session, raw.get("contact"))
    check_can_plan(session, actor, contact)
    if raw.get("pipeline") not in (None, ""):
        pipeline = find_pipeline(session, raw["pipeline"])
    else:
        pipeline = default_pipeline(session)
    if raw.get("stage") not in (None, ""):
        stage = find_stage(session, pipeline.id, raw["stage"])
    else:
        stage = _first_stage(session, pipeline)
    _check_enterable(stage)
    override = _probability(raw.get("probability"))
    revenue = validation.parse_money(raw.get("expected_revenue"), "expected_revenue")
    now = clock.now()
    opportunity = Opportunity(
        title=title,
        contact_id=contact.id,
        pipeline_id=pipeline.id,
        stage_id=stage.id,
        expected_revenue=revenue if revenue is not None else Decimal("0.00"),
        currency=validation.currency(_str(raw.get("currency")) or None, settings.general.currency),
        probability=stage.probability if override is None else override,
        probability_overridden=override is not None,
        owner_id=actor.id if raw.get("owner") in (None, "") else _owner(session, actor, raw["owner"]),
        expected_close=_close_date(raw.get("expected_close"), actor),
        description=validation.clean_text(raw.get("description"), "description", 20_000),
        stage_entered_at=now,
        created_at=now,
        updated_at=now,
    )
    session.add(opportunity)
    session.flush()
    history.record(session, actor, "create", contact_id=contact.id, opportunity_id=opportunity.id,
                   subject=_subject(opportunity), field="stage", new=stage.name)
    if stage.is_won:
        _win(session, actor, opportunity)
        session.add(opportunity)
        session.flush()
    return opportunity


def _str(value: object) -> str:
    return "" if value is None else str(value)


def _close_date(value: object, actor: Actor) -> date | None:
    if isinstance(value, date):
        return value
    return parse_optional_date(_str(value), actor.today(), "expected_close")


def update_opportunity(
    session: Session,
    actor: Actor,
    opportunity_id: int,
    values: Mapping[str, object],
    *,
    expected_version: int | None = None,
    base: Mapping[str, object] | None = None,
    settings: Settings | None = None,
) -> Opportunity:
    """Apply the given fields. A new pipeline or stage is a move (stage date, history; the
    pipeline's first stage when only the pipeline changes). `expected_version` is the version the
    form loaded: if somebody saved since, a ConflictError lists the fields that differ."""
    settings = settings or get_settings()
    raw = _normalise(values)
    opportunity = _editable(session, actor, opportunity_id)
    if expected_version is not None and (opportunity.version or 1) != expected_version:
        raise _conflict(session, actor, opportunity, raw, base or {})
    changes: dict[str, tuple[object, object]] = {}

    def change(field: str, column: str, new: object, old_label: object = None, new_label: object = None) -> None:
        old = getattr(opportunity, column)
        if old != new:
            changes[field] = (old if old_label is None else old_label, new if new_label is None else new_label)
            setattr(opportunity, column, new)

    if "title" in raw:
        change("title", "title", validation.clean_text(raw["title"], "title", 200, required=True))
    if "contact" in raw:
        contact = _contact(session, raw["contact"])
        if contact.id != opportunity.contact_id:
            check_can_plan(session, actor, contact)
        change("contact", "contact_id", contact.id)
    if "expected_revenue" in raw:
        revenue = validation.parse_money(raw["expected_revenue"], "expected_revenue")
        change("expected_revenue", "expected_revenue", revenue if revenue is not None else Decimal("0.00"))
    if "currency" in raw:
        change("currency", "currency", validation.currency(_str(raw["currency"]) or None, settings.general.currency))
    if "owner" in raw:
        owner_id = _owner(session, actor, raw["owner"])
        change("owner", "owner_id", owner_id, _login(session, opportunity.owner_id), _login(session, owner_id))
    if "expected_close" in raw:
        change("expected_close", "expected_close", _close_date(raw["expected_close"], actor))
    if "description" in raw:
        change("description", "description", validation.clean_text(raw["description"], "description", 20_000))

    target = _target_stage(session, opportunity, raw)
    override = _probability(raw["probability"]) if "probability" in raw else "keep"
    if override != "keep":
        _check_probability_edit(opportunity, override)
    if target is not None:
        if opportunity.status != "open":
            raise ValidationError("stage", f"opportunity {opportunity.id} is {opportunity.status}; reopen it to move it")
        _check_enterable(target)
    if override != "keep" and opportunity.status == "open":
        if override is None:
            opportunity.probability_overridden = False
        else:
            opportunity.probability_overridden = True
            _set_probability(session, actor, opportunity, override)
    if changes:
        opportunity.updated_at = clock.now()
        session.add(opportunity)
        session.flush()
        history.record_changes(session, actor, changes, contact_id=opportunity.contact_id,
                               opportunity_id=opportunity.id, subject=_subject(opportunity))
    if target is not None:
        _enter_stage(session, actor, opportunity, target)
        if target.is_won:
            _win(session, actor, opportunity)
    elif override is None and opportunity.status == "open":
        _set_probability(session, actor, opportunity, session.get(Stage, opportunity.stage_id).probability)
    session.add(opportunity)
    session.flush()
    return opportunity


def _target_stage(session: Session, opportunity: Opportunity, raw: Mapping[str, object]) -> Stage | None:
    """The stage an edit moves the opportunity to, or None if it stays."""
    pipeline_id = opportunity.pipeline_id
    if raw.get("pipeline") not in (None, ""):
        pipeline_id = find_pipeline(session, raw["pipeline"]).id
    if raw.get("stage") not in (None, ""):
        target = find_stage(session, pipeline_id, raw["stage"])
    elif pipeline_id != opportunity.pipeline_id:
        target = _first_stage(session, session.get(Pipeline, pipeline_id))
    else:
        return None
    return None if target.id == opportunity.stage_id else target


def _check_probability_edit(opportunity: Opportunity, override: int | None) -> None:
    if opportunity.status == "open":
        return
    if override is None or override == opportunity.probability:
        return  # what a form sends back unchanged
    raise ValidationError(
        "probability",
        f"a {opportunity.status} opportunity keeps {opportunity.probability} %; reopen it to change that",
    )


def _conflict(session: Session, actor: Actor, opportunity: Opportunity, raw: Mapping[str, object],
              base: Mapping[str, object]) -> ConflictError:
    theirs = get_opportunity(session, actor, opportunity.id).form_values()
    conflicts = []
    for name, mine in raw.items():
        their_value = theirs.get(name)
        if _same(mine, their_value):
            continue
        conflicts.append(FieldConflict(name, base.get(name, their_value), mine, their_value))
    return ConflictError("opportunity", opportunity.id, opportunity.version or 1, conflicts)


def _same(a: object, b: object) -> bool:
    return ("" if a is None else str(a)) == ("" if b is None else str(b))


# -- merge -----------------------------------------------------------------------------------


def _merge_parties(session: Session, actor: Actor, survivor_id: int,
                   other_ids: Iterable[int]) -> tuple[Opportunity, list[Opportunity]]:
    others_ids = list(dict.fromkeys(int(i) for i in other_ids))
    if not others_ids:
        raise ValidationError("other_ids", "give at least one opportunity to merge into the survivor")
    if survivor_id in others_ids:
        raise ValidationError("other_ids", f"opportunity {survivor_id} is the survivor; it cannot merge into itself")
    survivor = _editable(session, actor, survivor_id)
    others = [_editable(session, actor, i) for i in others_ids]
    return survivor, others


def _count(session: Session, model, ids: list[int]) -> int:
    return session.exec(
        select(func.count()).select_from(model).where(col(model.opportunity_id).in_(ids))
    ).one()


def preview_merge(session: Session, actor: Actor, survivor_id: int, other_ids: Iterable[int]) -> MergeResult:
    """What `merge_opportunities` would do (for the confirmation), writing nothing."""
    survivor, others = _merge_parties(session, actor, survivor_id, other_ids)
    ids = [o.id for o in others]
    return MergeResult(
        survivor_id=survivor.id, merged_ids=tuple(ids),
        contacts_differ=any(o.contact_id != survivor.contact_id for o in others),
        activities=_count(session, Activity, ids), history=_count(session, HistoryEntry, ids),
        attachments=_count(session, Attachment, ids),
    )


def merge_opportunities(session: Session, actor: Actor, survivor_id: int, other_ids: Iterable[int]) -> MergeResult:
    """The others' activities, history and attachments move to the survivor; the others are
    removed; the history records the merge. `contacts_differ` says whether to warn."""
    from crm_tui.services.activities import touch_records

    result = preview_merge(session, actor, survivor_id, other_ids)
    survivor = load_opportunity(session, survivor_id)
    others = [load_opportunity(session, i) for i in result.merged_ids]
    ids = list(result.merged_ids)
    for model in (Activity, HistoryEntry, Attachment):
        values = {"opportunity_id": survivor.id}
        if model is Activity:
            values["version"] = col(Activity.version) + 1
        session.exec(
            update(model).where(col(model.opportunity_id).in_(ids)).values(**values)
            .execution_options(synchronize_session=False)
        )
    for other in others:
        differs = other.contact_id != survivor.contact_id
        note = f"contact {other.contact_id} differs from the survivor's contact {survivor.contact_id}" if differs else ""
        for contact_id in {survivor.contact_id, other.contact_id}:
            history.record(session, actor, "merge", contact_id=contact_id, opportunity_id=survivor.id,
                           subject=_subject(survivor), field="opportunity",
                           old=f"{other.id} {other.title}", new=survivor.id, note=note)
        session.delete(other)
    survivor.updated_at = clock.now()
    session.add(survivor)
    session.flush()
    touch_records(session, None, survivor.id)
    session.expire_all()
    return result
