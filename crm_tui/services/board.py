"""The pipeline board: pipelines with their stages, per-stage aggregates and windows of cards.

Everything here is SQL aggregates or `LIMIT/OFFSET` windows, so a stage holding 20,000
opportunities costs the same as one holding twenty.

Which opportunities a column shows: the open ones in that stage, plus the won ones in a won stage
and the lost ones in a lost stage (a lost opportunity left in an ordinary stage is off the board,
as an archived one is in Odoo). Activity-state counts (overdue/today/planned/none) are over the
open ones only, by `opportunities.next_activity_due` against the acting user's today.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import BigInteger, ColumnElement, and_, case, cast, false, func, or_
from sqlmodel import Session, col, select

from crm_tui import clock
from crm_tui.models import Contact, Opportunity, Pipeline, Stage, User
from crm_tui.services.errors import NotFound, ValidationError
from crm_tui.services.identity import Actor
from crm_tui.services.states import STATES, State, state_of_due

CENT = Decimal("0.01")


@dataclass(frozen=True)
class StageInfo:
    id: int
    name: str
    position: int
    probability: int
    duration_days: int
    """Days before an opportunity sitting here is rotting; 0 means never."""
    is_won: bool
    is_lost: bool


@dataclass(frozen=True)
class PipelineInfo:
    id: int
    name: str
    position: int
    followup_enabled: bool
    followup_interval: int
    followup_unit: str
    stages: tuple[StageInfo, ...] = ()


@dataclass(frozen=True)
class StageSummary:
    """The head of one board column."""

    id: int
    name: str
    position: int
    probability: int
    duration_days: int
    is_won: bool
    is_lost: bool
    counts: dict[str, int] = field(default_factory=dict)
    """Open opportunities by state: keys overdue, today, planned, none (all present)."""
    closed: int = 0
    """Won (in a won stage) or lost (in a lost stage) opportunities shown in the column."""
    expected_revenue: Decimal = Decimal("0.00")
    """Sum over the opportunities the column shows."""
    weighted_revenue: Decimal = Decimal("0.00")
    """Sum of revenue x effective probability / 100, rounded to cents once, at the end."""
    rotting: int = 0
    """Open opportunities in the stage longer than its duration."""

    @property
    def open_count(self) -> int:
        return sum(self.counts.values())

    @property
    def total(self) -> int:
        """Cards in the column."""
        return self.open_count + self.closed


@dataclass(frozen=True)
class CardRow:
    """One card on the board."""

    id: int
    title: str
    contact_id: int
    contact_name: str
    company: str
    expected_revenue: Decimal
    currency: str
    probability: int
    status: str
    owner: str | None
    next_activity_due: date | None
    state: str
    """overdue/today/planned/none for an open opportunity; none once it is won or lost."""
    rotting: bool


# -- money in SQL ----------------------------------------------------------------------------


def cents_sum(amount) -> ColumnElement:
    """SUM of a money column as whole cents: exact on SQLite (which keeps REAL) and PostgreSQL."""
    return func.coalesce(func.sum(cast(func.round(amount * 100), BigInteger)), 0)


def from_cents(value: object) -> Decimal:
    return (Decimal(int(value or 0)) / 100).quantize(CENT)


# -- pipelines -------------------------------------------------------------------------------


def _stage_info(stage: Stage) -> StageInfo:
    return StageInfo(
        id=stage.id, name=stage.name, position=stage.position, probability=stage.probability,
        duration_days=stage.duration_days, is_won=stage.is_won, is_lost=stage.is_lost,
    )


def list_pipelines(session: Session) -> list[PipelineInfo]:
    """Every pipeline with its stages, in board order."""
    pipelines = session.exec(select(Pipeline).order_by(Pipeline.position, Pipeline.id)).all()
    stages = session.exec(select(Stage).order_by(Stage.pipeline_id, Stage.position, Stage.id)).all()
    by_pipeline: dict[int, list[StageInfo]] = {}
    for stage in stages:
        by_pipeline.setdefault(stage.pipeline_id, []).append(_stage_info(stage))
    return [
        PipelineInfo(
            id=p.id, name=p.name, position=p.position, followup_enabled=p.followup_enabled,
            followup_interval=p.followup_interval, followup_unit=p.followup_unit,
            stages=tuple(by_pipeline.get(p.id, ())),
        )
        for p in pipelines
    ]


def _stages(session: Session, pipeline_id: int) -> list[Stage]:
    if session.get(Pipeline, pipeline_id) is None:
        raise NotFound("pipeline", pipeline_id)
    return list(
        session.exec(
            select(Stage).where(Stage.pipeline_id == pipeline_id).order_by(Stage.position, Stage.id)
        ).all()
    )


# -- conditions ------------------------------------------------------------------------------


def _shown_condition(stage: Stage) -> ColumnElement:
    """The opportunities one column shows (see the module docstring)."""
    status = col(Opportunity.status)
    shown = [status == "open"]
    if stage.is_won:
        shown.append(status == "won")
    if stage.is_lost:
        shown.append(status == "lost")
    return or_(*shown)


def _rotting_threshold(stage: Stage, now: datetime) -> datetime | None:
    return now - timedelta(days=stage.duration_days) if stage.duration_days > 0 else None


def _state_condition(state: str, today: date) -> ColumnElement:
    due = col(Opportunity.next_activity_due)
    conditions = {
        State.OVERDUE: due < today,
        State.TODAY: due == today,
        State.PLANNED: due > today,
        State.NONE: due.is_(None),
    }
    try:
        return and_(col(Opportunity.status) == "open", conditions[State(state)])
    except ValueError:
        raise ValidationError("state", f"{state!r} is not one of {', '.join(STATES)}") from None


# -- the board -------------------------------------------------------------------------------


def _closed_shown(stage: Stage) -> tuple[str, ...]:
    """The closed statuses a column shows besides the open ones."""
    return tuple(status for status, flag in (("won", stage.is_won), ("lost", stage.is_lost)) if flag)


def board_summary(session: Session, actor: Actor, pipeline_id: int) -> list[StageSummary]:
    """Per stage of the pipeline: counts by state, revenue totals and rotting.

    Two statements whose cost follows the pipeline's opportunities but never reads their rows:
    one pass over the covering index `ix_opportunities_money` for the counts, money and rotting
    per (status, stage), and index range counts on `ix_opportunities_board` for the activity
    state of the open ones (planned = open - overdue - today - none).
    """
    stages = _stages(session, pipeline_id)
    if not stages:
        return []
    today = actor.today()
    now = clock.now()
    status = col(Opportunity.status)
    stage_id = col(Opportunity.stage_id)
    revenue = col(Opportunity.expected_revenue)
    cents = cast(func.round(revenue * 100), BigInteger)
    rotting_cases = [
        (and_(stage_id == s.id, col(Opportunity.stage_entered_at) < threshold), 1)
        for s in stages
        if (threshold := _rotting_threshold(s, now)) is not None
    ]
    rotting = func.count(case(*rotting_cases)) if rotting_cases else func.count(case((false(), 1)))
    statuses = sorted({"open", *(closed for s in stages for closed in _closed_shown(s))})
    totals = session.exec(
        select(
            status, stage_id, func.count(), func.coalesce(func.sum(cents), 0),
            func.coalesce(func.sum(cents * col(Opportunity.probability)), 0), rotting,
        )
        .where(col(Opportunity.pipeline_id) == pipeline_id, status.in_(statuses))
        .group_by(status, stage_id)
    ).all()
    by_stage: dict[int, dict[str, tuple]] = {}
    for row_status, row_stage, count, cents_total, weighted, rot in totals:
        by_stage.setdefault(row_stage, {})[row_status] = (count, cents_total, weighted, rot)

    due = col(Opportunity.next_activity_due)
    states = {State.OVERDUE: due < today, State.TODAY: due == today, State.NONE: due.is_(None)}
    counted = [s for s in stages if by_stage.get(s.id, {}).get("open")]
    ranges = [
        select(func.count()).where(
            col(Opportunity.pipeline_id) == pipeline_id, stage_id == s.id, status == "open",
            condition,
        ).scalar_subquery()
        for s in counted
        for condition in states.values()
    ]
    state_counts = list(session.exec(select(*ranges)).one()) if ranges else []

    summaries = []
    for stage in stages:
        groups = by_stage.get(stage.id, {})
        shown = [groups[st] for st in ("open", *_closed_shown(stage)) if st in groups]
        open_count, _cents, _weighted, rot = groups.get("open", (0, 0, 0, 0))
        overdue = due_today = none = 0
        if stage in counted:
            at = counted.index(stage) * len(states)
            overdue, due_today, none = state_counts[at:at + len(states)]
        cents_total = sum(int(group[1]) for group in shown)
        weighted = sum(int(group[2]) for group in shown)
        summaries.append(
            StageSummary(
                id=stage.id, name=stage.name, position=stage.position,
                probability=stage.probability, duration_days=stage.duration_days,
                is_won=stage.is_won, is_lost=stage.is_lost,
                counts={
                    State.OVERDUE.value: overdue, State.TODAY.value: due_today,
                    State.PLANNED.value: open_count - overdue - due_today - none,
                    State.NONE.value: none,
                },
                closed=sum(group[0] for group in shown) - open_count,
                expected_revenue=from_cents(cents_total),
                weighted_revenue=(Decimal(weighted) / 10_000).quantize(CENT, ROUND_HALF_UP),
                rotting=rot,
            )
        )
    return summaries


def stage_cards(
    session: Session,
    actor: Actor,
    stage_id: int,
    offset: int = 0,
    limit: int = 30,
    state: str | None = None,
    search: str | None = None,
) -> list[CardRow]:
    """One window of a column's cards, most urgent first (overdue ... none, then closed).

    The order is read from `ix_opportunities_board` (pipeline, stage, status, next activity due)
    in parts: the open ones with a due date by date, the open ones without by id, then the
    closed ones the column shows. A window costs what its cards cost, however long the column.
    """
    stage = session.get(Stage, stage_id)
    if stage is None:
        raise NotFound("stage", stage_id)
    today = actor.today()
    offset, limit = max(offset, 0), max(limit, 0)
    due = col(Opportunity.next_activity_due)
    ident = col(Opportunity.id)
    in_column = [
        col(Opportunity.pipeline_id) == stage.pipeline_id, col(Opportunity.stage_id) == stage_id,
    ]
    if search and search.strip():
        ids = _searched_card_ids(session, stage, in_column, today, offset, limit, state, search)
    else:
        is_open = col(Opportunity.status) == "open"
        parts: list[tuple[list[ColumnElement], list[ColumnElement]]] = []
        if state:
            dated = _state_condition(state, today)  # also raises for an unknown state
            if state != State.NONE.value:
                parts.append(([is_open, due.is_not(None), dated], [due, ident]))
            else:
                parts.append(([is_open, due.is_(None)], [ident]))
        else:
            parts.append(([is_open, due.is_not(None)], [due, ident]))
            parts.append(([is_open, due.is_(None)], [ident]))
            closed = _closed_shown(stage)
            if closed:
                parts.append((
                    [col(Opportunity.status).in_(closed)],
                    [case((due.is_(None), 1), else_=0), due, ident],
                ))
        ids = _window_of_parts(session, in_column, parts, offset, limit)
    if not ids:
        return []
    return _cards(session, stage, ids, today)


def _window_of_parts(session: Session, base: list[ColumnElement],
                     parts: list[tuple[list[ColumnElement], list[ColumnElement]]],
                     offset: int, limit: int) -> list[int]:
    """Ids at [offset, offset + limit) of the parts listed one after the other."""
    ids: list[int] = []
    for conditions, order in parts:
        if len(ids) >= limit:
            break
        found = session.exec(
            select(col(Opportunity.id)).where(*base, *conditions).order_by(*order)
            .offset(offset).limit(limit - len(ids))
        ).all()
        if found:
            ids.extend(found)
            offset = 0
        elif offset:
            # This part has no more than `offset` cards: skip all of them.
            offset -= session.exec(
                select(func.count()).select_from(Opportunity).where(*base, *conditions)
            ).one()
            offset = max(offset, 0)
    return ids


def _searched_card_ids(session, stage: Stage, in_column, today: date, offset: int, limit: int,
                       state: str | None, search: str) -> list[int]:
    """The window when the board searches: title, contact name or company contain the text
    (a scan of the column; there is no index for "contains")."""
    due = col(Opportunity.next_activity_due)
    conditions: list[ColumnElement] = [*in_column, _shown_condition(stage)]
    if state:
        conditions.append(_state_condition(state, today))
    pattern = f"%{search.strip()}%"
    conditions.append(
        or_(
            col(Opportunity.title).ilike(pattern),
            col(Contact.name).ilike(pattern),
            col(Contact.company).ilike(pattern),
        )
    )
    statement = (
        select(col(Opportunity.id))
        .join(Contact, col(Contact.id) == col(Opportunity.contact_id))
        .where(*conditions)
        .order_by(
            case((col(Opportunity.status) == "open", 0), else_=1),
            case((due.is_(None), 1), else_=0),
            due,
            col(Opportunity.id),
        )
        .offset(offset)
        .limit(limit)
    )
    return list(session.exec(statement).all())


def _cards(session: Session, stage: Stage, ids: list[int], today: date) -> list[CardRow]:
    """The cards of these opportunities, in the order of `ids`."""
    threshold = _rotting_threshold(stage, clock.now())
    statement = (
        select(
            Opportunity.id, Opportunity.title, Opportunity.contact_id, Contact.name,
            Contact.first_name, Contact.company, Opportunity.expected_revenue,
            Opportunity.currency, Opportunity.probability, Opportunity.status, User.login,
            Opportunity.next_activity_due, Opportunity.stage_entered_at,
        )
        .join(Contact, col(Contact.id) == col(Opportunity.contact_id))
        .outerjoin(User, col(User.id) == col(Opportunity.owner_id))
        .where(col(Opportunity.id).in_(ids))
    )
    rows = {r[0]: r for r in session.exec(statement).all()}
    cards = []
    for r in (rows[i] for i in ids if i in rows):
        is_open = r[9] == "open"
        entered = r[12]
        cards.append(
            CardRow(
                id=r[0], title=r[1], contact_id=r[2],
                contact_name=f"{r[3]}, {r[4]}" if r[4] else r[3], company=r[5],
                expected_revenue=Decimal(r[6] or 0).quantize(CENT), currency=r[7],
                probability=r[8], status=r[9], owner=r[10], next_activity_due=r[11],
                state=(state_of_due(r[11], today) if is_open else State.NONE).value,
                rotting=bool(is_open and threshold is not None and entered is not None
                             and entered < threshold),
            )
        )
    return cards
